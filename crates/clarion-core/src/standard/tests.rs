//! Tests of the communication standard: every rule both ways, table-driven.

use super::*;
use crate::labels::LabelSet;
use ClarityField::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A paging alert that meets the built-in standard.
fn good_alert() -> Message {
    Message::new(MessageKind::Alert, "critical")
        .with(Summary, "Disk full on db1")
        .with(Context, "Writes fail once the disk is full")
        .with(Impact, "Checkout cannot take orders")
        .with(Action, "Delete old WAL segments with `make prune-wal`")
        .with(Runbook, "https://runbooks.example.com/disk-full")
        .with(Owner, "payments")
}

/// An announcement that meets the built-in standard.
fn good_announcement() -> Message {
    Message::new(MessageKind::Announcement, "")
        .with(Summary, "The VPN moves to WireGuard on 3 March")
        .with(Context, "The old VPN concentrator is out of support")
        .with(Impact, "Everyone who works remotely must install the new client")
        .with(Action, "Install the WireGuard client from the self-service portal")
        .with(Deadline, "2025-03-03")
        .with(Owner, "it-network")
}

fn rules_of(findings: &[Finding]) -> Vec<(&'static str, Option<ClarityField>)> {
    findings.iter().map(|f| (f.rule, f.field)).collect()
}

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn a_message_that_meets_the_standard_has_no_findings() {
    let standard = Standard::default();
    for m in [good_alert(), good_announcement()] {
        assert_eq!(standard.check(&m), vec![], "{m:?}");
    }
    let advisory = Message::new(MessageKind::Advisory, "high")
        .with(Summary, "openssl 3.0.7 in checkout is vulnerable to CVE-2022-3602")
        .with(Impact, "checkout's TLS endpoints")
        .with(Action, "Upgrade openssl to 3.0.8")
        .with(Deadline, "2022-11-08")
        .with(Owner, "payments");
    assert_eq!(standard.check(&advisory), vec![]);
    let planned = Message::new(MessageKind::PlannedEvent, "")
        .with(Summary, "PostgreSQL 16 upgrade of postgres-main")
        .with(Context, "PostgreSQL 12 is end of life")
        .with(Impact, "checkout is read-only for 10 minutes")
        .with(Action, "none")
        .with(Owner, "dba");
    assert_eq!(standard.check(&planned), vec![]);
}

#[test]
fn missing_field_reports_each_unmet_requirement_of_the_kind_and_severity() {
    let standard = Standard::default();
    let warning = |pairs: &[(ClarityField, &str)]| {
        pairs.iter().fold(Message::new(MessageKind::Alert, "warning"), |m, (f, v)| m.with(*f, v))
    };
    let cases: Vec<(&str, Message, Vec<Option<ClarityField>>)> = vec![
        ("complete paging alert", good_alert(), vec![]),
        (
            "paging alert with summary and description only: a page says who is affected in `impact`",
            Message::new(MessageKind::Alert, "critical").with(Summary, "s").with(Context, "d"),
            vec![Some(Impact), Some(Action), Some(Owner)],
        ),
        (
            "empty paging alert",
            Message::new(MessageKind::Alert, "page"),
            vec![Some(Summary), Some(Impact), Some(Action), Some(Owner)],
        ),
        (
            "severity compares case-insensitively",
            Message::new(MessageKind::Alert, "CRITICAL"),
            vec![Some(Summary), Some(Impact), Some(Action), Some(Owner)],
        ),
        (
            "warning with a runbook",
            warning(&[(Summary, "s"), (Impact, "Checkout slows down"), (Runbook, "https://r.example/x")]),
            vec![],
        ),
        (
            "warning with an action instead",
            warning(&[(Summary, "s"), (Impact, "Checkout slows down"), (Action, "restart the exporter")]),
            vec![],
        ),
        ("warning with neither", warning(&[(Summary, "s"), (Impact, "i")]), vec![Some(Runbook)]),
        (
            "a warning's description is not its impact",
            warning(&[(Summary, "s"), (Context, "Writes fail"), (Runbook, "https://r.example/x")]),
            vec![Some(Impact)],
        ),
        (
            "alert without severity",
            Message::new(MessageKind::Alert, ""),
            vec![Some(Summary), Some(Impact), Some(Runbook)],
        ),
        (
            "blank text is absent",
            warning(&[(Summary, "  "), (Impact, "Checkout slows down"), (Runbook, "https://r.example/x")]),
            vec![Some(Summary)],
        ),
        (
            "no action needed satisfies the action",
            Message::new(MessageKind::Alert, "critical")
                .with(Summary, "s")
                .with(Impact, "i")
                .with(Action, "No action needed.")
                .with(Owner, "o"),
            vec![],
        ),
        (
            "advisory without impact and owner",
            Message::new(MessageKind::Advisory, "").with(Summary, "s").with(Action, "none"),
            vec![Some(Impact), Some(Owner)],
        ),
    ];
    let mut failures = Vec::new();
    for (name, message, want) in cases {
        let got: Vec<_> = standard.check(&message).into_iter().filter(|f| f.rule == rule::MISSING_FIELD).collect();
        let fields: Vec<_> = got.iter().map(|f| f.field).collect();
        if fields != want {
            failures.push(format!("{name}: got {got:#?}, want fields {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn missing_field_messages_name_the_alternatives_and_say_how_to_add_them() {
    let m = Message::new(MessageKind::Alert, "critical")
        .with(Summary, "Disk full on db1")
        .with(Impact, "Checkout cannot take orders")
        .with(Owner, "o");
    let findings = Standard::default().check(&m);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let f = &findings[0];
    assert_eq!((f.rule, f.field), (rule::MISSING_FIELD, Some(Action)));
    assert!(f.message.starts_with("Alerts of severity critical must carry one of `action`"), "{}", f.message);
    assert!(f.message.contains("`runbook`"), "{}", f.message);
    assert!(f.fix.contains("`action` annotation") && f.fix.contains("`runbook_url` annotation"), "{}", f.fix);
}

#[test]
fn a_named_severity_list_wins_over_paging_and_paging_over_default() -> TestResult {
    let mut standard = Standard::default();
    standard.alert.severities.insert("warning".into(), vec!["owner".parse()?]);
    standard.paging_severities.push("major".into());
    let fields_of = |m: &Message| rules_of(&standard.check(m)).into_iter().map(|(_, f)| f).collect::<Vec<_>>();
    assert_eq!(fields_of(&Message::new(MessageKind::Alert, "Warning")), vec![Some(Owner)]);
    assert_eq!(fields_of(&Message::new(MessageKind::Alert, "major")).len(), 4);
    assert_eq!(fields_of(&Message::new(MessageKind::Alert, "info")), vec![Some(Summary), Some(Impact), Some(Runbook)]);
    Ok(())
}

#[test]
fn announcement_incomplete_change_asks_what_why_and_impact() {
    let standard = Standard::default();
    let cases: Vec<(&str, Message, Vec<ClarityField>)> = vec![
        ("complete announcement", good_announcement(), vec![]),
        ("no why", Message { context: None, ..good_announcement() }, vec![Context]),
        (
            "no what and no impact",
            Message { summary: None, impact: None, ..good_announcement() },
            vec![Summary, Impact],
        ),
        (
            "planned event without anything",
            Message::new(MessageKind::PlannedEvent, "").with(Action, "none").with(Owner, "dba"),
            vec![Summary, Context, Impact],
        ),
        (
            "advisories are not changes",
            Message::new(MessageKind::Advisory, "")
                .with(Summary, "s")
                .with(Impact, "i")
                .with(Action, "none")
                .with(Owner, "o"),
            vec![],
        ),
        ("alerts are not changes", Message { context: None, ..good_alert() }, vec![]),
    ];
    let mut failures = Vec::new();
    for (name, message, want) in cases {
        let got: Vec<_> =
            standard.check(&message).into_iter().filter(|f| f.rule == rule::ANNOUNCEMENT_INCOMPLETE_CHANGE).collect();
        if got.iter().map(|f| f.field).collect::<Vec<_>>() != want.iter().map(|f| Some(*f)).collect::<Vec<_>>() {
            failures.push(format!("{name}: got {got:#?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_field_the_required_list_already_reported_is_not_reported_again() -> TestResult {
    let mut standard = Standard::default();
    standard.announcement.default.push("context".parse()?);
    let m = Message { context: None, deadline: None, ..good_announcement() };
    assert_eq!(
        rules_of(&standard.check(&m)),
        vec![(rule::MISSING_FIELD, Some(Context)), (rule::ACTION_NEEDS_DEADLINE, Some(Deadline)),]
    );
    let paging_without_owner = Message { owner: None, ..good_alert() };
    assert_eq!(rules_of(&Standard::default().check(&paging_without_owner)), vec![(rule::MISSING_FIELD, Some(Owner))]);
    Ok(())
}

#[test]
fn action_needs_deadline_applies_to_every_kind_but_alerts() {
    let standard = Standard::default();
    let cases: Vec<(&str, Message, bool)> = vec![
        ("announcement with action and deadline", good_announcement(), false),
        ("announcement without deadline", Message { deadline: None, ..good_announcement() }, true),
        (
            "announcement saying no action is needed",
            Message { deadline: None, ..good_announcement() }.with(Action, "N/A"),
            false,
        ),
        (
            "advisory without deadline",
            Message::new(MessageKind::Advisory, "")
                .with(Summary, "s")
                .with(Impact, "i")
                .with(Action, "upgrade")
                .with(Owner, "o"),
            true,
        ),
        (
            "planned event without deadline",
            Message::new(MessageKind::PlannedEvent, "").with(Action, "drain traffic first"),
            true,
        ),
        ("alert without deadline", good_alert(), false),
    ];
    let mut failures = Vec::new();
    for (name, message, want) in cases {
        let got = standard.check(&message).iter().any(|f| f.rule == rule::ACTION_NEEDS_DEADLINE);
        if got != want {
            failures.push(format!("{name}: got {got}, want {want}: {:#?}", standard.check(&message)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn action_needs_owner_applies_whenever_an_action_is_asked_for() {
    let standard = Standard::default();
    let warning = Message::new(MessageKind::Alert, "warning").with(Summary, "s");
    let cases: Vec<(&str, Message, bool)> = vec![
        ("warning with an action and no owner", warning.clone().with(Action, "restart the exporter"), true),
        (
            "warning with an action and an owner",
            warning.clone().with(Action, "restart the exporter").with(Owner, "ops"),
            false,
        ),
        ("warning with no action needed", warning.clone().with(Action, "none"), false),
        ("warning with only a runbook", warning.with(Runbook, "https://r.example/x"), false),
        ("announcement with an action and no owner", Message { owner: None, ..good_announcement() }, false),
    ];
    // The last case is reported by `missing-field` (announcements require an owner), not twice.
    let mut failures = Vec::new();
    for (name, message, want) in cases {
        let got = standard.check(&message).iter().any(|f| f.rule == rule::ACTION_NEEDS_OWNER);
        if got != want {
            failures.push(format!("{name}: got {got}, want {want}: {:#?}", standard.check(&message)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn summary_multiline_flags_a_summary_of_several_lines() {
    let cases: &[(&str, bool)] = &[
        ("Disk full on db1", false),
        ("Disk full on db1\n", false),
        ("  Disk full on db1  ", false),
        ("Disk full on db1\nVALUE = {{ $value }}", true),
        ("Disk full\r\non db1", true),
    ];
    let standard = Standard::default();
    for (summary, want) in cases {
        let got =
            standard.check(&good_alert().with(Summary, summary)).iter().any(|f| f.rule == rule::SUMMARY_MULTILINE);
        assert_eq!(got, *want, "{summary:?}");
    }
}

#[test]
fn summary_too_long_counts_characters_against_the_configured_limit() {
    let mut standard = Standard::default();
    let cases: &[(usize, String, bool)] = &[
        (120, "a".repeat(120), false),
        (120, "a".repeat(121), true),
        (120, "é".repeat(120), false),
        (10, "Disk full!".into(), false),
        (10, "Disk full!!".into(), true),
        (10, "  padded  ".into(), false),
    ];
    for (max, summary, want) in cases {
        standard.summary_max_chars = *max;
        let findings = standard.check(&good_alert().with(Summary, summary));
        let got = findings.iter().find(|f| f.rule == rule::SUMMARY_TOO_LONG);
        assert_eq!(got.is_some(), *want, "max {max}, {summary:?}");
        if let Some(f) = got {
            assert!(f.message.contains(&format!("at most {max}")), "{}", f.message);
        }
    }
}

#[test]
fn vague_action_flags_forwards_whatever_their_case_and_punctuation() {
    let cases: &[(&str, bool)] = &[
        ("Please handle.", true),
        ("Make this happen!", true),
        ("FYI", true),
        ("fyi - see above", true),
        ("As discussed", true),
        ("pls fix asap, thx", true),
        ("Can someone look into this?", true),
        ("...", true),
        ("Restart the exporter", false),
        ("Fix the certificate with `certbot renew`", false),
        ("Check disk usage with `df -h` and delete old logs", false),
        ("See the runbook section 'Replication lag'", false),
        ("Escalate to the DBA on-call", false),
    ];
    let standard = Standard::default();
    let mut failures = Vec::new();
    for (action, want) in cases {
        let got = standard.check(&good_alert().with(Action, action)).iter().any(|f| f.rule == rule::VAGUE_ACTION);
        if got != *want {
            failures.push(format!("{action:?}: got {got}, want {want}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn vague_action_uses_configured_phrases_too() {
    let mut standard = Standard::default();
    assert!(!standard.is_vague("over the wall"));
    standard.vague_phrases.push("Over the wall!".into());
    assert!(standard.is_vague("over the wall, please"));
}

#[test]
fn runbook_not_absolute_url_accepts_http_urls_and_templates() {
    let cases: &[(&str, bool)] = &[
        ("https://runbooks.example.com/disk-full", true),
        ("HTTP://wiki.internal/x", true),
        ("https://runbooks/{{ $labels.job }}", true),
        ("https://{{ $externalURL }}/runbooks/x", true),
        ("{{ $labels.runbook }}", true),
        ("{{ $externalURL }}/runbooks/{{ $labels.alertname }}", true),
        ("  https://runbooks.example.com/x  ", true),
        ("/wiki/disk-full", false),
        ("./runbooks/disk-full.md", false),
        ("runbooks/disk-full.md", false),
        ("wiki.example.com/disk-full", false),
        ("file:///etc/runbook.txt", false),
        ("ftp://example.com/runbook", false),
        ("https://", false),
        ("https:///path-only", false),
        ("https://wiki/disk full", false),
        ("see https://wiki/x", false),
        ("https://wiki/{{ unclosed template", false),
    ];
    let standard = Standard::default();
    let mut failures = Vec::new();
    for (runbook, ok) in cases {
        let flagged = standard
            .check(&good_alert().with(Runbook, runbook))
            .iter()
            .any(|f| f.rule == rule::RUNBOOK_NOT_ABSOLUTE_URL);
        if flagged == *ok {
            failures.push(format!("{runbook:?}: flagged {flagged}, want accepted {ok}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn disabled_rules_are_not_applied() -> TestResult {
    let mut standard = Standard::default();
    let m = Message::new(MessageKind::Alert, "warning").with(Summary, &"x".repeat(200));
    assert_eq!(
        rules_of(&standard.check(&m)),
        vec![
            (rule::MISSING_FIELD, Some(Impact)),
            (rule::MISSING_FIELD, Some(Runbook)),
            (rule::SUMMARY_TOO_LONG, Some(Summary)),
            (rule::SUMMARY_NO_STATE, Some(Summary))
        ]
    );
    standard.disabled_rules.insert(rule_id("summary-too-long").ok_or("known rule")?);
    standard.disabled_rules.insert(rule_id("missing-field").ok_or("known rule")?);
    standard.disabled_rules.insert(rule_id("summary-no-state").ok_or("known rule")?);
    assert_eq!(standard.check(&m), vec![]);
    Ok(())
}

#[test]
fn findings_come_in_rule_order_then_field_order() {
    let m = Message::new(MessageKind::Announcement, "")
        .with(Summary, &format!("{}\nsecond line", "x".repeat(130)))
        .with(Action, "FYI")
        .with(Runbook, "/wiki/x");
    let got: Vec<&str> = Standard::default().check(&m).iter().map(|f| f.rule).collect();
    assert_eq!(
        got,
        vec![
            rule::MISSING_FIELD,
            rule::ANNOUNCEMENT_INCOMPLETE_CHANGE,
            rule::ANNOUNCEMENT_INCOMPLETE_CHANGE,
            rule::ACTION_NEEDS_DEADLINE,
            rule::SUMMARY_MULTILINE,
            rule::SUMMARY_TOO_LONG,
            rule::VAGUE_ACTION,
            rule::RUNBOOK_NOT_ABSOLUTE_URL,
        ]
    );
    let order: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    let mut sorted = got.clone();
    sorted.sort_by_key(|r| order.iter().position(|o| o == r));
    assert_eq!(got, sorted, "findings follow RULES order");
}

#[test]
fn every_finding_says_how_to_fix_it() {
    let m = Message::new(MessageKind::PlannedEvent, "critical")
        .with(Summary, "a\nb")
        .with(Action, "please handle")
        .with(Runbook, "wiki/x");
    for f in Standard::default().check(&m) {
        assert!(!f.message.is_empty() && !f.fix.is_empty(), "{f:?}");
        assert!(rule_id(f.rule).is_some(), "{f:?}");
    }
}

#[test]
fn from_alert_maps_prometheus_annotations_and_labels_to_clarity_fields() {
    let m = Message::from_alert(
        &labels(&[("alertname", "DiskFull"), ("severity", "critical"), ("team", "storage")]),
        &labels(&[
            ("summary", "Disk full on {{ $labels.instance }}"),
            ("description", "Writes fail"),
            ("impact", "checkout"),
            ("action", "prune WAL"),
            ("deadline", "within 1h"),
            ("runbook", "https://r.example/old"),
            ("runbook_url", "https://r.example/new"),
        ]),
        Some("ops"),
    );
    assert_eq!(
        m,
        Message {
            kind: MessageKind::Alert,
            severity: "critical".into(),
            summary: Some("Disk full on {{ $labels.instance }}".into()),
            context: Some("Writes fail".into()),
            impact: Some("checkout".into()),
            action: Some("prune WAL".into()),
            deadline: Some("within 1h".into()),
            owner: Some("storage".into()),
            runbook: Some("https://r.example/new".into()),
            no_action_needed: false,
            query: None,
        }
    );
}

#[test]
fn from_alert_takes_the_owner_from_owner_then_team_then_the_route() {
    let cases: &[(&[(&str, &str)], Option<&str>, Option<&str>)] = &[
        (&[("owner", "alice"), ("team", "db")], Some("ops"), Some("alice")),
        (&[("team", "db")], Some("ops"), Some("db")),
        (&[("team", " ")], Some("ops"), Some("ops")),
        (&[], Some("ops"), Some("ops")),
        (&[], None, None),
    ];
    for (pairs, route, want) in cases {
        let m = Message::from_alert(&labels(pairs), &LabelSet::new(), *route);
        assert_eq!(m.owner.as_deref(), *want, "{pairs:?} {route:?}");
    }
    let m = Message::from_alert(&LabelSet::new(), &labels(&[("runbook", "https://r.example/x")]), None);
    assert_eq!(m.runbook.as_deref(), Some("https://r.example/x"), "`runbook` is the fallback of `runbook_url`");
}

#[test]
fn from_alert_reads_no_action_phrases_as_no_action_needed() {
    let cases: &[(&str, bool)] = &[
        ("none", true),
        ("None.", true),
        ("No action needed", true),
        ("no action required!", true),
        ("N/A", true),
        ("n/a", true),
        ("Not applicable", true),
        ("Informational only", true),
        ("Restart the pod", false),
        ("None of the replicas answer: fail over", false),
        ("FYI", false),
    ];
    for (text, want) in cases {
        let m = Message::from_alert(&LabelSet::new(), &labels(&[("action", text)]), None);
        assert_eq!(m.no_action_needed, *want, "{text:?}");
        assert_eq!(m.action.is_none(), *want, "{text:?}");
    }
}

#[test]
fn requirements_parse_single_fields_and_alternatives() {
    let ok: &[(&str, &[ClarityField])] = &[
        ("summary", &[Summary]),
        ("impact|context", &[Impact, Context]),
        (" action | runbook ", &[Action, Runbook]),
        ("owner|owner", &[Owner]),
    ];
    for (text, want) in ok {
        match text.parse::<Requirement>() {
            Ok(r) => assert_eq!(r.fields(), *want, "{text}"),
            Err(e) => panic!("{text}: {e}"),
        }
    }
    let bad: &[(&str, &str)] = &[
        ("sumary", "did you mean `summary`"),
        ("description", "is the `context` field"),
        ("runbook_url", "is the `runbook` field"),
        ("impact|", "empty alternative"),
        ("", "empty alternative"),
        ("colour", "expected one of summary, context"),
    ];
    for (text, want) in bad {
        match text.parse::<Requirement>() {
            Ok(r) => panic!("{text:?} parsed as {r}"),
            Err(e) => assert!(e.to_string().contains(want), "{text:?}: {e}"),
        }
    }
    assert_eq!(Requirement::any_of(&[Impact, Context]).map(|r| r.to_string()).as_deref(), Some("impact|context"));
}

#[test]
fn every_rule_id_is_kebab_case_and_unique() {
    let ids: BTreeSet<&str> = RULES.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), RULES.len());
    for id in ids {
        assert!(id.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !id.starts_with('-'), "{id}");
    }
    assert_eq!(rule_id("no-such-rule"), None);
}

// --- rules that read the words -------------------------------------------------------------------
//
// Texts marked "(apa)" are from the awesome-prometheus-alerts collection (Samuel Berthe and contributors,
// CC BY 4.0); the others are written for the test.

/// A warning alert with `summary`, `description` and `impact` as given (any may be empty: absent).
fn alert_text(summary: &str, description: &str, impact: &str) -> Message {
    let mut m = Message::new(MessageKind::Alert, "warning");
    for (field, text) in [(Summary, summary), (Context, description), (Impact, impact)] {
        if !text.is_empty() {
            m = m.with(field, text);
        }
    }
    m.with(Runbook, "https://runbooks.example.com/x")
}

/// Runs `cases` (name, message, whether `rule` reports) and lists every case that disagrees.
fn reports(rule: &str, cases: Vec<(&str, Message, bool)>) {
    let standard = Standard::default();
    let failures: Vec<String> = cases
        .into_iter()
        .filter_map(|(name, m, want)| {
            let findings = standard.check(&m);
            let got = findings.iter().any(|f| f.rule == rule);
            (got != want).then(|| format!("{name}: {rule} reported {got}, want {want}: {findings:#?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn placeholder_text_counts_as_missing() {
    reports(
        rule::PLACEHOLDER_TEXT,
        vec![
            ("impact: unknown", alert_text("Disk full on db1", "", "unknown"), true),
            ("impact: TBD", alert_text("Disk full on db1", "", "TBD."), true),
            ("impact: n/a", alert_text("Disk full on db1", "", "n/a"), true),
            ("summary: summary", alert_text("Summary", "", "Checkout stops"), true),
            ("example.com runbook", good_alert().with(Runbook, "https://example.com"), true),
            ("example.com runbook with a path", good_alert().with(Runbook, "https://example.com/disk"), true),
            ("a real impact", alert_text("Disk full on db1", "", "Checkout cannot take orders"), false),
            ("an impact naming unknown users", alert_text("Disk full", "", "unknown users lose carts"), false),
            ("a runbook on a subdomain of example.com (our docs' stand-in)", good_alert(), false),
            ("action n/a is 'no action needed'", good_alert().with(Action, "n/a"), false),
        ],
    );
    // The placeholder is not also reported as missing.
    let findings = Standard::default().check(&alert_text("Disk full on db1", "", "unknown"));
    assert_eq!(rules_of(&findings), vec![(rule::PLACEHOLDER_TEXT, Some(Impact))]);
}

#[test]
fn a_description_that_restates_the_metric_is_neither_context_nor_impact() {
    reports(
        rule::CONTEXT_RESTATES_METRIC,
        vec![
            (
                "the VALUE/LABELS dump (apa: SqlServerDown)",
                alert_text(
                    "SQL Server down (instance {{ $labels.instance }})",
                    "SQL server instance is down\n  VALUE = {{ $value }}\n  LABELS = {{ $labels }}",
                    "",
                ),
                true,
            ),
            (
                "the threshold in words (apa: HostOutOfDiskSpace)",
                alert_text(
                    "Host out of disk space (instance {{ $labels.instance }})",
                    "Disk is almost full (< 10% left)\n  VALUE = {{ $value }}\n  LABELS = {{ $labels }}",
                    "",
                ),
                true,
            ),
            (
                "a consequence",
                alert_text("Disk full on db1", "Writes fail once the disk is full", "Checkout stops"),
                false,
            ),
            (
                "a cause and its effect",
                alert_text(
                    "Replication lag above 30 s on db2",
                    "The replica serves reads; reports show data up to half a minute old and the nightly export \
                     waits for it",
                    "",
                ),
                false,
            ),
        ],
    );
}

#[test]
fn a_step_in_the_description_belongs_in_the_action() {
    let no_runbook = |m: Message| Message { runbook: None, ..m };
    reports(
        rule::INSTRUCTION_IN_DESCRIPTION,
        vec![
            (
                "apa: HostClockSkew",
                no_runbook(alert_text(
                    "Host clock skew (instance {{ $labels.instance }})",
                    "Clock skew detected. Clock is out of sync. Ensure NTP is configured correctly on this host.",
                    "Certificates fail",
                )),
                true,
            ),
            (
                "apa: TempoBlockListRisingQuickly",
                no_runbook(alert_text("Tempo block list rising quickly", "Consider scaling compactors.", "")),
                true,
            ),
            (
                "a generic goal is vague, not a step (apa: CephPgDown)",
                no_runbook(alert_text(
                    "Ceph PG down",
                    "Some Ceph placement groups are down. Please ensure that all the data are available.",
                    "",
                )),
                false,
            ),
            (
                "an action is there already",
                alert_text("Disk full on db1", "Restart the exporter when it hangs.", "Checkout stops")
                    .with(Action, "Delete old WAL segments"),
                false,
            ),
        ],
    );
}

#[test]
fn vague_text_is_reported_where_it_is() {
    reports(
        rule::VAGUE_TEXT,
        vec![
            (
                "a guess (apa: KubernetesPodCrashLooping)",
                alert_text("Pod restarting", "It might be crashlooping.", "x"),
                true,
            ),
            ("a likely cause", alert_text("Go stack memory high", "Likely excessive goroutines.", "x"), true),
            (
                "a generic goal (apa: CephPgDown)",
                alert_text("Ceph PG down", "Please ensure that all the data are available", "x"),
                true,
            ),
            ("investigate, nothing more", good_alert().with(Action, "Investigate the cluster."), true),
            ("investigate and fix", good_alert().with(Action, "Investigate and fix."), true),
            ("something is wrong", alert_text("Something is wrong", "", "x"), true),
            (
                "a concrete step",
                good_alert().with(Action, "Check replication with `SHOW REPLICA STATUS` on db2"),
                false,
            ),
            ("a concrete goal", good_alert().with(Action, "Make sure your service retries writes"), false),
            ("stated facts", good_alert(), false),
            (
                "an announcement that guesses (refused: announcements must not fall short)",
                good_announcement().with(Impact, "Remote workers might lose the VPN for a while"),
                true,
            ),
            ("a clear announcement", good_announcement(), false),
        ],
    );
}

#[test]
fn a_summary_says_what_is_wrong_not_only_what_is_measured() {
    reports(
        rule::SUMMARY_NO_STATE,
        vec![
            (
                "apa: MinioDiskSpaceUsage",
                alert_text("Minio disk space usage (instance {{ $labels.instance }})", "", "x"),
                true,
            ),
            ("apa: ThanosBucketReplicateRunLatency", alert_text("Thanos Bucket Replicate Run Latency", "", "x"), true),
            ("apa: HostUnusualNetworkThroughputIn", alert_text("Host unusual network throughput in", "", "x"), true),
            ("a severity is not a state", alert_text("Juniper warning bandwidth usage 1GiB", "", "x"), true),
            ("down", alert_text("SQL Server down (instance {{ $labels.instance }})", "", "x"), false),
            ("a comparison", alert_text("Disk usage > 90% on {{ $labels.instance }}", "", "x"), false),
            ("filling up", alert_text("Host swap is filling up", "", "x"), false),
            ("died", alert_text("CouchDB Replicator queue process died", "", "x"), false),
            ("announcements are not held to it", good_announcement().with(Summary, "Minio disk space usage"), false),
        ],
    );
}

#[test]
fn labels_the_query_drops_and_exporters_instances_are_reported_from_the_query() {
    let with_query = |m: Message, kept: Option<&[&str]>, metrics: &[&str]| Message {
        query: Some(QueryFacts {
            kept_labels: kept.map(|k| k.iter().map(|s| s.to_string()).collect()),
            dropped_labels: Default::default(),
            metrics: metrics.iter().map(|s| s.to_string()).collect(),
            condition: None,
        }),
        ..m
    };
    let summary = |s: &str| alert_text(s, "", "x");
    reports(
        rule::TEMPLATE_LABEL_DROPPED,
        vec![
            (
                "apa: ThanosStoreGrpcErrorRate, sum by (job)",
                with_query(summary("Thanos Store gRPC errors (instance {{ $labels.instance }})"), Some(&["job"]), &[]),
                true,
            ),
            ("sum() keeps nothing", with_query(summary("Errors high on {{ $labels.job }}"), Some(&[]), &[]), true),
            (
                "by (instance)",
                with_query(summary("Errors high on {{ $labels.instance }}"), Some(&["instance"]), &[]),
                false,
            ),
            ("no aggregation", with_query(summary("Errors high on {{ $labels.instance }}"), None, &[]), false),
            ("no query known (a received alert)", summary("Errors high on {{ $labels.instance }}"), false),
        ],
    );
    reports(
        rule::SUMMARY_NAMES_EXPORTER,
        vec![
            (
                "apa: KubernetesCronjobFailing",
                with_query(
                    summary("Kubernetes CronJob failing (instance {{ $labels.instance }})"),
                    None,
                    &["kube_job_status_failed"],
                ),
                true,
            ),
            (
                "the pod is named",
                with_query(
                    summary("Pod {{ $labels.pod }} crash looping"),
                    None,
                    &["kube_pod_container_status_restarts_total"],
                ),
                false,
            ),
            (
                "the exporter's own scrapes",
                with_query(
                    summary("Scrape errors (instance {{ $labels.instance }})"),
                    None,
                    &["stackdriver_monitoring_scrape_errors_total"],
                ),
                false,
            ),
            (
                "node exporter's instance is the host",
                with_query(
                    summary("Host out of memory (instance {{ $labels.instance }})"),
                    None,
                    &["node_memory_MemAvailable_bytes"],
                ),
                false,
            ),
        ],
    );
}

#[test]
fn a_label_rendered_blank_is_named() {
    reports(
        rule::BLANK_LABEL,
        vec![
            ("(instance )", alert_text("Thanos Store gRPC errors (instance )", "", "x"), true),
            ("(instance=)", alert_text("Errors high (instance=)", "", "x"), true),
            ("rendered with a value", alert_text("Errors high (instance web-1:9100)", "", "x"), false),
            ("as written, a template", alert_text("Errors high (instance {{ $labels.instance }})", "", "x"), false),
            ("parentheses of prose", alert_text("Disk almost full (< 10% left)", "", "x"), false),
        ],
    );
    let findings = Standard::default().check(&alert_text("Thanos Store gRPC errors (instance )", "", "x"));
    let blank = findings.iter().find(|f| f.rule == rule::BLANK_LABEL).map(|f| f.message.as_str());
    assert_eq!(blank, Some("`summary` rendered `instance` blank: the alert has no such label"));
}

#[test]
fn template_labels_are_read_from_dotted_and_index_forms() {
    assert_eq!(
        words::template_labels("{{ $labels.instance }} / {{ index $labels \"service.name\" }} {{ $labels.instance }}"),
        vec!["instance", "service.name"]
    );
    assert_eq!(words::template_labels("{{ $value }} {{ $labels }}"), Vec::<String>::new());
}

#[test]
fn words_a_configuration_adds_are_read_with_the_built_in_ones() {
    let mut standard = Standard::default();
    let quarantined = alert_text("Queue quarantined on {{ $labels.instance }}", "", "Orders wait");
    let supposedly = alert_text("Disk full on db1", "Supposedly the backup filled it.", "Orders wait");
    let fixme = alert_text("Disk full on db1", "", "FIXME");
    let snmp = Message {
        query: Some(QueryFacts { metrics: vec!["snmp_if_oper_status".into()], ..QueryFacts::default() }),
        ..alert_text("Interface down (instance {{ $labels.instance }})", "", "Orders wait")
    };
    let has = |s: &Standard, m: &Message, rule: &str| s.check(m).iter().any(|f| f.rule == rule);
    assert!(has(&standard, &quarantined, rule::SUMMARY_NO_STATE));
    assert!(!has(&standard, &supposedly, rule::VAGUE_TEXT));
    assert!(!has(&standard, &fixme, rule::PLACEHOLDER_TEXT));
    assert!(!has(&standard, &snmp, rule::SUMMARY_NAMES_EXPORTER));
    standard.extra_words = words::ExtraWords {
        state: vec!["quarantined".into()],
        guesses: vec!["supposedly".into()],
        placeholders: vec!["FIXME".into()],
        exporter_prefixes: vec!["snmp_".into()],
    };
    assert!(!has(&standard, &quarantined, rule::SUMMARY_NO_STATE));
    assert!(has(&standard, &supposedly, rule::VAGUE_TEXT));
    assert!(has(&standard, &fixme, rule::PLACEHOLDER_TEXT));
    assert!(has(&standard, &snmp, rule::SUMMARY_NAMES_EXPORTER));
}

#[test]
fn a_summary_that_states_the_end_while_the_query_fires_before_it_is_reported() {
    let with_condition = |summary: &str, op: &str, threshold: f64| Message {
        query: Some(QueryFacts { condition: Some((op.into(), OrderedThreshold(threshold))), ..QueryFacts::default() }),
        ..alert_text(summary, "", "x")
    };
    reports(
        rule::SUMMARY_MISSTATES_CONDITION,
        vec![
            (
                "apa: HostOutOfMemory, < 10% available",
                with_condition("Host out of memory (instance {{ $labels.instance }})", "<", 10.0),
                true,
            ),
            ("apa: RedisOutOfSystemMemory, > 90%", with_condition("Redis out of system memory", ">", 90.0), true),
            ("exhausted at 95%", with_condition("Process file descriptors exhausted", ">", 95.0), true),
            ("a ratio", with_condition("Disk full on {{ $labels.instance }}", ">", 0.9), true),
            ("says what it measures", with_condition("Host memory almost exhausted (< 10% left)", "<", 10.0), false),
            ("down at 0", with_condition("Host out of service", "==", 0.0), false),
            ("no end state", with_condition("Memory usage above 90%", ">", 90.0), false),
            ("no query known (a received alert)", alert_text("Host out of memory", "", "x"), false),
        ],
    );
}
