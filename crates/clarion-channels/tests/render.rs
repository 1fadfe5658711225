//! Rendering tests for every channel kind: the fixed order of clarity fields, missing fields shown as
//! missing, long groups bounded with "and N more", hostile text escaped, payload truncation.

use chrono::TimeZone;
use clarion_channels::{email, slack, webhook};
use clarion_core::labels::LabelSet;
use clarion_core::notification::{AlertGroup, Announcement, FindingNote, Notification, NotifiedAlert, Status};

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn alert(i: usize, annotations: &[(&str, &str)]) -> NotifiedAlert {
    NotifiedAlert {
        status: Status::Firing,
        labels: labels(&[("alertname", "DiskFull"), ("instance", &format!("db{i:02}")), ("severity", "critical")]),
        annotations: labels(annotations),
        starts_at: chrono::Utc.with_ymd_and_hms(2026, 11, 27, 6, 0, 0).single().unwrap_or_default(),
        ends_at: None,
        generator_url: "http://prometheus/graph".into(),
        fingerprint: format!("{i:016x}"),
        findings: Vec::new(),
        is_new: false,
    }
}

fn notification(alerts: Vec<NotifiedAlert>) -> Notification {
    Notification::AlertGroup(AlertGroup::new(
        "payments".into(),
        "{}:{alertname=\"DiskFull\"}".into(),
        labels(&[("alertname", "DiskFull")]),
        alerts,
        "http://clarion".into(),
    ))
}

#[test]
fn slack_lists_at_most_ten_alerts_then_says_how_many_more() -> Result<(), Box<dyn std::error::Error>> {
    let n = notification((0..12).map(|i| alert(i, &[("summary", "full")])).collect());
    let v = slack::Slack::render(&n, "key");
    let texts: Vec<String> = v["blocks"]
        .as_array()
        .ok_or("blocks")?
        .iter()
        .filter_map(|b| b["text"]["text"].as_str().map(String::from))
        .collect();
    assert_eq!(texts.iter().filter(|t| t.contains("*Summary:* full")).count(), 10);
    assert!(texts.iter().any(|t| t == "_and 2 more_"), "{texts:?}");
    assert_eq!(v["text"], "CRITICAL · full (+11 more) · payments");
    Ok(())
}

#[test]
fn slack_escapes_markup_in_alert_text() -> Result<(), Box<dyn std::error::Error>> {
    let n = notification(vec![alert(1, &[("summary", "<!channel> & <https://evil|click>")])]);
    let v = slack::Slack::render(&n, "key");
    let body = v.to_string();
    assert!(!body.contains("<!channel>"), "{body}");
    assert!(body.contains("&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"), "{body}");
    Ok(())
}

#[test]
fn email_shows_every_field_in_order_with_missing_ones_marked_and_escapes_html() {
    let n = notification(vec![alert(1, &[("summary", "Disk <b>full</b>"), ("runbook_url", "https://rb/disk")])]);
    let (subject, text, html) = email::render(&n, "abc123");
    assert_eq!(subject, "CRITICAL · Disk <b>full</b> · payments");
    let labels = ["Summary:", "Severity:", "Affected:", "Action:", "Runbook:", "Owner:", "Since:"];
    let positions: Vec<usize> = labels.iter().map(|l| text.find(l).unwrap_or(usize::MAX)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(text.contains("Affected: — missing —") && text.contains("Action:   — missing —"), "{text}");
    assert!(text.contains("Owner:    payments") && text.contains("Since:    2026-11-27 06:00:00 UTC"), "{text}");
    assert!(html.contains("Disk &lt;b&gt;full&lt;/b&gt;") && !html.contains("<b>full</b>"), "{html}");
    assert!(html.contains("<a href=\"https://rb/disk\">"), "{html}");
    assert!(text.contains("Clarion delivery abc123"), "{text}");
}

#[test]
fn email_bounds_long_groups() {
    let n = notification((0..15).map(|i| alert(i, &[])).collect());
    let (_, text, html) = email::render(&n, "k");
    assert_eq!(text.matches("== DiskFull").count(), 10);
    assert!(text.contains("and 5 more") && html.contains("and 5 more"));
}

#[test]
fn a_runbook_that_is_not_a_url_is_shown_as_text_not_as_a_link() {
    let n = notification(vec![alert(1, &[("runbook_url", "javascript:alert(1)")])]);
    let (_, _, html) = email::render(&n, "k");
    assert!(!html.contains("href=\"javascript"), "{html}");
    let v = slack::Slack::render(&n, "k").to_string();
    assert!(!v.contains("<javascript:"), "{v}");
}

#[test]
fn webhook_payloads_truncate_to_max_alerts_and_count_the_rest() -> Result<(), Box<dyn std::error::Error>> {
    let n = notification((0..5).map(|i| alert(i, &[])).collect());
    let v4: serde_json::Value = serde_json::from_slice(&webhook::payload::alertmanager_v4(&n, 2)?)?;
    assert_eq!(v4["alerts"].as_array().map(Vec::len), Some(2));
    assert_eq!(v4["truncatedAlerts"], 3);
    assert_eq!(v4["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(v4["alerts"][0]["startsAt"], "2026-11-27T06:00:00Z");
    assert!(v4.get("idempotencyKey").is_none(), "v4 stays exactly Alertmanager's shape");
    let all: serde_json::Value = serde_json::from_slice(&webhook::payload::alertmanager_v4(&n, 0)?)?;
    assert_eq!((all["alerts"].as_array().map(Vec::len), &all["truncatedAlerts"]), (Some(5), &serde_json::json!(0)));
    let keys: Vec<&String> = all.as_object().ok_or("object")?.keys().collect();
    let mut want = vec![
        "alerts",
        "commonAnnotations",
        "commonLabels",
        "externalURL",
        "groupKey",
        "groupLabels",
        "receiver",
        "status",
        "truncatedAlerts",
        "version",
    ];
    want.sort();
    assert_eq!(keys, want);
    Ok(())
}

#[test]
fn findings_and_deadlines_are_shown_with_the_alert() -> Result<(), Box<dyn std::error::Error>> {
    let mut a = alert(1, &[("summary", "Disk full"), ("deadline", "2026-12-01")]);
    a.findings = vec![FindingNote {
        rule: "missing-field".into(),
        message: "runbook is missing".into(),
        fix: "add a runbook_url annotation".into(),
    }];
    let n = notification(vec![a]);
    let slack = slack::Slack::render(&n, "k").to_string();
    assert!(
        slack.contains("Falls short of the communication standard")
            && slack.contains("missing-field: runbook is missing — fix: add a runbook_url annotation"),
        "{slack}"
    );
    assert!(slack.contains("*Deadline:* 2026-12-01"), "{slack}");
    let (_, text, html) = email::render(&n, "k");
    assert!(text.contains("  - missing-field: runbook is missing — fix: add a runbook_url annotation"), "{text}");
    assert!(text.find("Action:") < text.find("Deadline:") && text.find("Deadline:") < text.find("Runbook:"), "{text}");
    assert!(html.contains("<li>missing-field: runbook is missing"), "{html}");
    let clarion: serde_json::Value = serde_json::from_slice(&webhook::payload::clarion(&n, 0, "k")?)?;
    assert_eq!(clarion["alerts"][0]["clarity"]["findings"][0]["rule"], "missing-field");
    assert_eq!(clarion["alerts"][0]["clarity"]["deadline"], "2026-12-01");
    let v4: serde_json::Value = serde_json::from_slice(&webhook::payload::alertmanager_v4(&n, 0)?)?;
    assert!(v4["alerts"][0].get("findings").is_none(), "v4 keeps Alertmanager's shape");
    Ok(())
}

#[test]
fn announcements_are_titled_as_announcements_and_carried_alert_shaped_by_webhooks(
) -> Result<(), Box<dyn std::error::Error>> {
    let n = Notification::Announcement(Announcement {
        id: "a1".into(),
        team: "payments".into(),
        external_url: "http://clarion".into(),
        severity: "info".into(),
        title: "Checkout moves to the new cluster".into(),
        what_changes: Some("pg-17".into()),
        context: Some("old hardware".into()),
        impact: Some("writes pause".into()),
        action: Some("retry writes".into()),
        deadline: Some("2026-12-01".into()),
        owner: Some("platform".into()),
        sent_at: chrono::Utc.with_ymd_and_hms(2026, 11, 27, 6, 0, 0).single().unwrap_or_default(),
        page: None,
        label: None,
        source: None,
    });
    assert_eq!(n.title(), "ANNOUNCEMENT · Checkout moves to the new cluster · payments");
    let v4: serde_json::Value = serde_json::from_slice(&webhook::payload::alertmanager_v4(&n, 0)?)?;
    assert_eq!(v4["groupKey"], "announcement/a1");
    assert_eq!(v4["alerts"][0]["labels"]["alertname"], "Announcement");
    assert_eq!(v4["alerts"][0]["labels"]["owner"], "platform");
    assert_eq!(v4["alerts"][0]["annotations"]["description"], "old hardware");
    assert_eq!(v4["alerts"][0]["annotations"]["details"], "pg-17");
    let slack = slack::Slack::render(&n, "k").to_string();
    assert!(slack.contains(":mega: *Announcement*") && slack.contains("*Context:* old hardware"), "{slack}");
    assert!(slack.contains("*Details:* pg-17") && slack.contains("*Owner:* platform"), "{slack}");
    Ok(())
}

#[test]
fn slack_and_discord_colour_an_alert_by_its_severity() -> Result<(), Box<dyn std::error::Error>> {
    let with_severity = |severity: &str| {
        let mut a = alert(1, &[("summary", "x")]);
        a.labels.insert("severity", severity);
        notification(vec![a])
    };
    for (severity, icon, colour) in [
        ("critical", ":red_circle:", 0xd0_3030),
        ("warning", ":large_orange_circle:", 0xe8_8a1a),
        ("info", ":large_blue_circle:", 0x3b_82f6),
        ("", ":large_orange_circle:", 0xe8_8a1a),
    ] {
        let n = with_severity(severity);
        let slack = slack::Slack::render(&n, "k").to_string();
        assert!(slack.contains(icon), "{severity}: {slack}");
        let discord = clarion_channels::discord::Discord::render(&n, "k");
        assert_eq!(discord["embeds"][0]["color"], colour, "{severity}");
    }
    Ok(())
}
