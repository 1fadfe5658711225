//! Tests of configuration parsing: the example, inheritance, and every kind of error with its location.

use std::collections::BTreeSet;

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, "test.yml")
}

fn error(text: &str) -> ConfigError {
    match parse(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

/// Every error of a refused configuration, in the order reported.
fn errors(text: &str) -> Vec<ConfigError> {
    match Config::parse_all(text, "test.yml") {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e,
    }
}

const MINIMAL: &str = "teams: [{name: ops}]\nroute: {receiver: ops}\n";

#[test]
fn the_built_in_example_is_valid() {
    let c = Config::example();
    assert_eq!(c.route.opts.receiver, "ops");
    assert_eq!(c.route.routes.len(), 2);
    assert_eq!(c.inhibit_rules.len(), 1);
    assert_eq!(c.file.listen.map(|l| l.to_string()).as_deref(), Some(DEFAULT_LISTEN));
}

#[test]
fn children_inherit_options_from_their_parent() -> Result<(), ConfigError> {
    let c = parse(
        "teams: [{name: ops}, {name: db}]
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 10s
  routes:
    - matchers: ['service=\"db\"']
      receiver: db
      repeat_interval: 1h
      routes:
        - match: {severity: page}
",
    )?;
    let db = &c.route.routes[0];
    assert_eq!(db.opts.group_wait, std::time::Duration::from_secs(10));
    assert_eq!(db.opts.group_interval, DEFAULT_GROUP_INTERVAL.0);
    assert_eq!(db.opts.repeat_interval, std::time::Duration::from_secs(3600));
    let page = &db.routes[0];
    assert_eq!(page.opts.receiver, "db");
    assert_eq!(page.opts.repeat_interval, std::time::Duration::from_secs(3600));
    assert_eq!(page.key(), r#"{}/{service="db"}/{severity="page"}"#);
    Ok(())
}

#[test]
fn an_empty_file_is_a_valid_empty_configuration_except_for_the_root_receiver() {
    let e = error("");
    assert!(e.message.contains("root route needs a receiver"), "{e}");
}

#[test]
fn errors_name_the_file_line_and_field() {
    let cases: &[(&str, usize, &str, &str)] = &[
        // unknown key
        ("teams: [{name: ops}]\nroute:\n  receiver: ops\n  recevier: x\n", 4, "route.recevier", "unknown field `recevier`"),
        // bad duration
        ("teams: [{name: ops}]\nroute:\n  receiver: ops\n  group_wait: soon\n", 4, "route.group_wait", "invalid duration"),
        // bad matcher
        ("teams: [{name: ops}]\nroute:\n  receiver: ops\n  routes:\n    - matchers: ['a=~\"(\"']\n", 5, "route.routes[0].matchers", "invalid regular expression"),
        // unknown team
        ("teams: [{name: ops}]\nroute:\n  receiver: ops\n  routes:\n    - receiver: nobody\n", 5, "route.routes[0].receiver", "unknown team \"nobody\""),
        // wrong type
        ("listen: [1]\n", 1, "listen", "invalid type"),
        // bad token hash
        (
            "auth:\n  tokens:\n    - name: ci\n      sha256: nothex\n      scopes: [ingest]\n",
            4,
            "auth.tokens[0].sha256",
            "64 hex digits",
        ),
        // bad scope
        (
            "auth:\n  tokens:\n    - name: ci\n      sha256: 0000000000000000000000000000000000000000000000000000000000000000\n      scopes: [root]\n",
            5,
            "auth.tokens[0].scopes[0]",
            "unknown variant `root`",
        ),
        // group_by with an empty name (any other UTF-8 name is valid)
        ("teams: [{name: ops}]\nroute:\n  receiver: ops\n  group_by: ['']\n", 4, "route.group_by", "not a valid label name"),
        // duplicate team
        ("teams: [{name: ops}, {name: ops}]\nroute: {receiver: ops}\n", 1, "teams[1].name", "defined twice"),
        // root with matchers
        ("teams: [{name: ops}]\nroute:\n  receiver: ops\n  matchers: [a=b]\n", 2, "route.matchers", "must not have matchers"),
        // broken YAML
        ("teams: [{name: ops}\nroute: {receiver: ops}\n", 2, "teams", "a list in brackets is not closed"),
        // syntax errors in words, with the parser's own message kept
        ("teams:\n  - name: ops\nroute:\n receiver: ops\n  group_by: [a]\n", 5, "route", "indented deeper than the keys above"),
        ("teams: [{name: ops}]\n\troute: {receiver: ops}\n", 2, "", "a tab: YAML indents with spaces only"),
        // a key given twice: the second one is named
        ("teams: [{name: ops}]\nroute: {receiver: ops}\nroute: {receiver: ops}\n", 3, ".", "duplicate field `route`"),
        (
            "teams: [{name: ops}]\nroute:\n  receiver: ops\n  group_wait: 1s\n  group_wait: 2s\n",
            5,
            "route",
            "duplicate field `group_wait`",
        ),
        ("teams: [{name: \"o\\q\"}]\nroute: {receiver: ops}\n", 1, "teams", "unknown `\\` escape"),
    ];
    let mut failures = Vec::new();
    for (text, line, field, msg) in cases {
        let e = error(text);
        let ok = e.file == "test.yml"
            && e.line == Some(*line)
            && e.field == *field
            && e.message.contains(msg)
            && e.to_string().starts_with(&format!("test.yml:{line}"));
        if !ok {
            failures.push(format!("got {e:?}\n  want line {line}, field {field:?}, message containing {msg:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn secrets_are_redacted_in_debug_output() -> Result<(), ConfigError> {
    let c = parse(&format!(
        "{MINIMAL}storage: {{url: 'postgres://u:hunter2@db/x'}}\nauth:\n  tokens:\n    - name: ci\n      sha256: {}\n      scopes: [admin]\n",
        "ab".repeat(32)
    ))?;
    let debug = format!("{:?}", c.file);
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(!debug.contains("abababab"), "{debug}");
    Ok(())
}

#[test]
fn loading_a_missing_file_says_so() {
    let e = Config::load(Path::new("/nonexistent/clarion.yml")).expect_err("missing file");
    assert!(e.to_string().starts_with("/nonexistent/clarion.yml: cannot read the file"), "{e}");
}

/// Fields the fixture cannot set because another field excludes them there.
const EXCLUSIVE_UNSET: &[&str] = &[".auth.slack.signing_secret_file"];

/// Records the path of every field under `value`: `.key` for mapping keys, `[]` for list items.
fn walk(value: &serde_yaml::Value, path: String, set: &mut BTreeSet<String>, unset: &mut BTreeSet<String>) {
    match value {
        serde_yaml::Value::Null => {
            unset.insert(path);
        }
        serde_yaml::Value::Mapping(map) => {
            set.insert(path.clone());
            for (k, v) in map {
                walk(v, format!("{path}.{}", k.as_str().unwrap_or("?")), set, unset);
            }
        }
        serde_yaml::Value::Sequence(items) => {
            set.insert(path.clone());
            for v in items {
                walk(v, format!("{path}[]"), set, unset);
            }
        }
        _ => {
            set.insert(path);
        }
    }
}

#[test]
fn every_field_is_shown_and_no_secret_is() -> Result<(), ConfigError> {
    let text = include_str!("../testdata/every-field.yml");
    let c = Config::parse(text, "every-field.yml")?;
    assert_eq!(c.standard.extra_words.state, vec!["quarantined"]);
    assert_eq!(c.standard.extra_words.exporter_prefixes, vec!["snmp_"]);

    // The fixture sets every field of the schema, so what follows covers every secret-bearing one.
    let (mut set, mut unset) = (BTreeSet::new(), BTreeSet::new());
    walk(&c.to_value(), String::new(), &mut set, &mut unset);
    let missing: Vec<&String> = unset.difference(&set).filter(|p| !EXCLUSIVE_UNSET.contains(&p.as_str())).collect();
    assert!(missing.is_empty(), "set these fields in testdata/every-field.yml: {missing:?}");

    // Every secret is `<secret>` wherever the configuration is rendered.
    let secrets: BTreeSet<&str> = text
        .split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '-'))
        .filter(|w| w.contains("leak") && !w.starts_with('#'))
        .chain(["0101010101010101", "0202020202020202"])
        .collect();
    assert!(secrets.len() >= 10, "{secrets:?}");
    let shown = c.shown();
    let renderings =
        [("shown", shown.clone()), ("Debug", format!("{c:?}")), ("to_value", format!("{:?}", c.to_value()))];
    for (how, rendered) in &renderings {
        for secret in &secrets {
            assert!(!rendered.contains(secret), "{secret} shows in the {how} rendering:\n{rendered}");
        }
    }
    // What is not secret stays readable.
    for visible in [
        "postgres://clarion:<secret>@db.example.com:5432/clarion?<secret>",
        "smtp: smtp.example.com:587",
        "url: <secret>",
        "hmac_secret: <secret>",
        "sha256: <secret>",
        "signing_secret: <secret>",
        "name: hook-file",
        "- severity=\"critical\"",
        "group_by:\n    - '...'",
        "- person:alice",
        "- 10.0.0.0/8",
        "resolve_timeout: 5m",
    ] {
        assert!(shown.contains(visible), "{visible:?} missing from:\n{shown}");
    }
    // Fields left unset are left out; defaults are written.
    let minimal = parse(MINIMAL)?.shown();
    assert!(!minimal.contains("null") && minimal.contains("max_connections: 512"), "{minimal}");
    Ok(())
}

#[test]
fn channel_mistakes_are_located_and_explained() {
    let base = "route: {receiver: ops}\n";
    let cases: &[(&str, usize, &str, &str)] = &[
        ("teams: [{name: ops, channels: [nope]}]\n", 1, "teams[0].channels[0]", "unknown channel \"nope\""),
        (
            "teams: [{name: ops}]\nchannels:\n  - name: c\n    webhook: {url: 'http://x/'}\n    slack: {url: 'http://y/'}\n",
            3,
            "channels[0]",
            "exactly one of `webhook`, `slack`, `email`, `msteams`, `pagerduty`, `discord` or `telegram`",
        ),
        ("teams: [{name: ops}]\nchannels:\n  - name: c\n    webhook: {url: 'ftp://x/'}\n", 4, "channels[0].webhook.url", "expected an absolute http:// or https:// URL"),
        ("teams: [{name: ops}]\nchannels:\n  - name: c\n    pagerduty: {}\n", 3, "channels[0].pagerduty", "set one of `routing_key` or `routing_key_file`"),
        (
            "teams: [{name: ops}]\nchannels:\n  - name: c\n    telegram: {bot_token: t, bot_token_file: /f, chat_id: 1}\n",
            3,
            "channels[0].telegram",
            "set one of `bot_token` or `bot_token_file`",
        ),
        ("teams: [{name: ops}]\nchannels:\n  - name: c\n    telegram: {bot_token: t}\n", 4, "channels[0].telegram", "missing field `chat_id`"),
        ("teams: [{name: ops}]\nchannels:\n  - name: c\n    discord: {url: 'ftp://x/'}\n", 4, "channels[0].discord.url", "expected an absolute http:// or https:// URL"),
        ("teams: [{name: ops}]\nchannels:\n  - name: c\n    webhook: {url: 'http://x/', format: v9}\n", 4, "channels[0].webhook.format", "unknown variant `v9`"),
        (
            "teams: [{name: ops}]\nchannels:\n  - name: c\n    email: {smtp: 'mail', from: a@b.c, to: [x@y.z]}\n",
            4,
            "channels[0].email.smtp",
            "is not host:port",
        ),
        ("teams: [{name: ops}]\nchannels:\n  - name: c\n    email: {smtp: 'mail:25', from: a@b.c, to: []}\n", 3, "channels[0].email.to", "at least one recipient"),
        ("teams: [{name: ops}]\nchannels:\n  - {name: c, slack: {url: 'http://x/'}}\n  - {name: c, slack: {url: 'http://y/'}}\n", 4, "channels[1].name", "defined twice"),
        ("teams: [{name: ops}]\ndelivery: {max_attempts: -1}\n", 2, "delivery.max_attempts", "expected u32"),
        // Zero attempts or workers would never deliver anything: refused, not silently raised to one.
        ("teams: [{name: ops}]\ndelivery: {max_attempts: 0}\n", 2, "delivery.max_attempts", "must be at least 1"),
        ("teams: [{name: ops}]\ndelivery: {concurrency: 0}\n", 2, "delivery.concurrency", "must be at least 1"),
    ];
    let mut failures = Vec::new();
    for (text, line, field, msg) in cases {
        let e = error(&format!("{text}{base}"));
        if e.line != Some(*line) || e.field != *field || !e.message.contains(msg) {
            failures.push(format!("got {e:?}\n  want line {line}, field {field:?}, message containing {msg:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn channel_urls_are_not_printed_by_debug() -> Result<(), ConfigError> {
    let c = parse("teams: [{name: ops, channels: [s]}]\nchannels: [{name: s, slack: {url: 'https://hooks.slack.com/services/T0/B0/SECRET'}}]\nroute: {receiver: ops}\n")?;
    let debug = format!("{:?}", c.file.channels);
    assert!(!debug.contains("SECRET") && debug.contains("url: <secret>"), "{debug}");
    Ok(())
}

#[test]
fn a_standard_section_is_parsed_into_the_domain_standard() -> Result<(), Box<dyn std::error::Error>> {
    use clarion_core::standard::{ClarityField, MessageKind, Requirement};
    let c = parse(&format!(
        "{MINIMAL}standard:
  summary_max_chars: 80
  paging_severities: [critical, page, P1]
  require:
    alert:
      paging: [summary, impact|context, runbook, owner]
      severities:
        warning: [summary, owner]
    advisory:
      default: [summary, impact, action, deadline, owner]
  vague_phrases: [\"over to ops\"]
  disable: [summary-multiline]
"
    ))?;
    let s = c.file.standard.to_domain()?;
    assert_eq!(s.summary_max_chars, 80);
    assert!(s.is_paging("p1"));
    let runbook = Requirement::field(ClarityField::Runbook);
    assert_eq!(s.required(MessageKind::Alert, "P1").get(2), Some(&runbook));
    assert_eq!(s.required(MessageKind::Alert, "warning").len(), 2);
    assert_eq!(s.required(MessageKind::Advisory, "").len(), 5);
    assert!(s.is_vague("Over to ops!"));
    assert!(s.disabled_rules.contains("summary-multiline"));
    Ok(())
}

#[test]
fn an_absent_standard_section_is_the_built_in_standard() -> Result<(), Box<dyn std::error::Error>> {
    let c = parse(MINIMAL)?;
    assert_eq!(c.file.standard.to_domain()?, clarion_core::standard::Standard::default());
    Ok(())
}

#[test]
fn standard_errors_name_the_line_and_field() {
    let cases: &[(&str, usize, &str, &str)] = &[
        // a misspelt clarity field
        (
            "standard:\n  require:\n    alert:\n      paging: [summary, owner]\n      default: [sumary]\n",
            5,
            "standard.require.alert.default[0]",
            "unknown clarity field \"sumary\" (did you mean `summary`?)",
        ),
        // an empty alternative in a block list: serde_yaml locates it at the list's first entry, and the
        // field names the entry
        (
            "standard:\n  require:\n    announcement:\n      default:\n        - owner\n        - impact|\n",
            5,
            "standard.require.announcement.default[1]",
            "empty alternative",
        ),
        // an unknown kind
        (
            "standard:\n  require:\n    alerts: {default: [summary]}\n",
            3,
            "standard.require.alerts",
            "unknown field `alerts`",
        ),
        // an unknown key
        ("standard:\n  summary_max_char: 80\n", 2, "standard.summary_max_char", "unknown field `summary_max_char`"),
        // zero
        ("standard:\n  summary_max_chars: 0\n", 2, "standard.summary_max_chars", "at least 1"),
        // an unknown rule id
        ("standard:\n  disable: [vague-actions]\n", 2, "standard.disable[0]", "unknown rule \"vague-actions\""),
        // a phrase without words
        ("standard:\n  vague_phrases: [\"?!\"]\n", 2, "standard.vague_phrases[0]", "has no words"),
        // a word list entry without words, and an unknown list
        ("standard:\n  words:\n    state: [\"--\"]\n", 3, "standard.words.state[0]", "has no words"),
        ("standard:\n  words:\n    moods: [grumpy]\n", 3, "standard.words.moods", "unknown field `moods`"),
    ];
    let mut failures = Vec::new();
    for (section, line, field, msg) in cases {
        let text = format!("{MINIMAL}{section}");
        let line = line + MINIMAL.lines().count();
        let e = error(&text);
        let ok = e.line == Some(line)
            && e.field == *field
            && e.message.contains(msg)
            && e.to_string().starts_with(&format!("test.yml:{line}"));
        if !ok {
            failures.push(format!("got {e:?}\n  want line {line}, field {field:?}, message containing {msg:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_commented_standard_in_the_example_is_the_built_in_standard() -> Result<(), Box<dyn std::error::Error>> {
    let (_, commented) = EXAMPLE_CONFIG.split_once("\n# standard:\n").ok_or("the example documents `standard:`")?;
    let section: String = commented.lines().map(|l| format!("{}\n", l.strip_prefix("# ").unwrap_or(""))).collect();
    let c = parse(&format!("{EXAMPLE_CONFIG}\nstandard:\n{section}"))?;
    assert_eq!(c.file.standard.to_domain()?, clarion_core::standard::Standard::default());
    Ok(())
}

/// The escalation sections of the acknowledgement-and-escalation issue, as written there.
const ESCALATION: &str = "
channels:
  - name: ops-slack
    slack: {url: 'https://hooks.slack.com/services/T0/B0/X'}
  - name: alice-phone
    webhook: {url: 'https://push.example.com/alice', format: clarion}
  - name: cloud-support-mail
    email: {smtp: 'mail:25', tls: none, from: a@example.com, to: [support@example.com]}
people:
  - name: alice
    channels: [alice-phone]
services:
  - name: checkout
    team: payments
    depends_on: [postgres-main]
  - name: postgres-main
    team: dba
    providers: [cloud-support]
providers:
  - name: cloud-support
    channels: [cloud-support-mail]
escalation_policies:
  - name: ops-default
    ack_timeout: 1h
    repeat: 1
    tiers:
      - notify: [ 'team:ops' ]
        wait: 5m
      - notify: [ 'person:alice' ]
        wait: 10m
      - notify: [ 'provider:cloud-support' ]
        wait: 30m
teams:
  - name: ops
    channels: [ops-slack]
    escalation: ops-default
  - {name: payments}
  - {name: dba}
route:
  receiver: ops
  routes:
    - matchers: ['severity=\"critical\"']
      escalation: ops-default
";

#[test]
fn the_escalation_sections_parse_into_policies() -> Result<(), ConfigError> {
    let c = parse(ESCALATION)?;
    let policy = c.policy_for(None, "ops").ok_or_else(|| error("no policy"))?;
    assert_eq!((policy.tiers.len(), policy.repeat), (3, 1));
    assert_eq!(policy.ack_timeout, Some(std::time::Duration::from_secs(3600)));
    assert_eq!(c.policy_for(None, "payments"), None, "a team without a policy");
    assert_eq!(c.route.routes[0].opts.escalation.as_deref(), Some("ops-default"));
    assert_eq!(c.person_of_channel("alice-phone"), Some("alice"));
    let deps: Vec<&str> =
        crate::escalation::dependents(&c.file.services, "postgres-main").iter().map(|s| s.name.as_str()).collect();
    assert_eq!(deps, ["checkout"]);
    Ok(())
}

#[test]
fn escalation_mistakes_are_located_and_explained() {
    let swap = |from: &str, to: &str| ESCALATION.replacen(from, to, 1);
    let cases: Vec<(String, &str, &str)> = vec![
        (
            swap("'person:alice'", "'person:bob'"),
            "escalation_policies[0].tiers[1].notify[0]",
            "unknown target person:bob",
        ),
        (swap("'team:ops'", "'crew:ops'"), "escalation_policies[0].tiers[0].notify[0]", "is not a target"),
        (
            swap("    channels: [alice-phone]", "    channels: []"),
            "escalation_policies[0].tiers[1].notify",
            "reaches no channel",
        ),
        (
            swap("    escalation: ops-default\n  - {name: payments}", "    escalation: nope\n  - {name: payments}"),
            "teams[0].escalation",
            "unknown escalation policy \"nope\"",
        ),
        (
            swap("      escalation: ops-default\n", "      escalation: other\n"),
            "route.routes[0].escalation",
            "unknown escalation policy \"other\"",
        ),
        (
            swap("    team: dba\n", "    team: dba\n    depends_on: [checkout]\n"),
            "services[0].depends_on",
            "in a circle: checkout -> postgres-main -> checkout",
        ),
        (
            swap("    depends_on: [postgres-main]", "    depends_on: [mysql]"),
            "services[0].depends_on[0]",
            "unknown service \"mysql\"",
        ),
        (
            swap("    providers: [cloud-support]", "    providers: [aws]"),
            "services[1].providers[0]",
            "unknown provider \"aws\"",
        ),
        (swap("    tiers:\n", "    tiers: []\n    x:\n"), "escalation_policies[0].x", "unknown field"),
        (swap("        wait: 5m", "        wait: 0s"), "escalation_policies[0].tiers[0].wait", "longer than 0s"),
    ];
    let mut failures = Vec::new();
    for (text, field, msg) in &cases {
        let all = errors(text);
        if !all.iter().any(|e| e.field == *field && e.message.contains(msg) && e.line.is_some()) {
            failures.push(format!("got {all:?}\n  want field {field:?}, message containing {msg:?}, a line"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A link or a session that ends as it is made is a mistake, named with its line.
#[test]
fn zero_link_and_session_lifetimes_are_refused() {
    for key in ["ack_link_ttl", "session_ttl"] {
        let e = error(&format!("teams: [{{name: ops}}]\nroute: {{receiver: ops}}\nauth:\n  {key}: 0s\n"));
        assert_eq!((e.line, e.field.as_str()), (Some(4), format!("auth.{key}").as_str()), "{e}");
        assert!(e.message.contains("cannot be zero"), "{e}");
    }
}

/// Regression: with no `auth:` section the derived default made acknowledgement links expire at once.
#[test]
fn defaults_are_the_same_with_and_without_their_section() -> Result<(), ConfigError> {
    let without = parse("teams: [{name: ops}]\nroute: {receiver: ops}\n")?;
    let with = parse("teams: [{name: ops}]\nroute: {receiver: ops}\nauth: {}\n")?;
    assert_eq!(without.file.auth.ack_link_ttl, with.file.auth.ack_link_ttl);
    assert_eq!(without.file.auth.ack_link_ttl.0, std::time::Duration::from_secs(7 * 24 * 3600));
    assert_eq!(without.file.auth.session_ttl, with.file.auth.session_ttl);
    assert_eq!(without.file.auth.session_ttl.0, std::time::Duration::from_secs(12 * 3600));
    let delivery = parse("teams: [{name: ops}]\nroute: {receiver: ops}\ndelivery: {}\n")?;
    assert_eq!(without.file.delivery.max_attempts, delivery.file.delivery.max_attempts);
    assert_eq!(without.file.delivery.concurrency, delivery.file.delivery.concurrency);
    let (g1, g2) =
        (without.file.global, parse("teams: [{name: ops}]\nroute: {receiver: ops}\nglobal: {}\n")?.file.global);
    assert_eq!(g1.resolve_timeout, g2.resolve_timeout);
    Ok(())
}

/// The smallest configuration the calendar tests add to (two lines).
const HEAD: &str = "teams: [{name: ops}]\nroute: {receiver: ops}\n";

#[test]
fn calendars_are_checked_with_the_line_of_the_mistake() {
    let cases = [
        ("calendars:\n  - {name: 'prod freeze', type: DEFAULT_OPEN}\n", 2, "calendars[0].name", "not a calendar name"),
        (
            "calendars:\n  - {name: prod, type: DEFAULT_OPEN}\n  - {name: prod, type: DEFAULT_CLOSED}\n",
            3,
            "calendars[1].name",
            "defined twice",
        ),
        (
            "calendars:\n  - {name: prod, type: DEFAULT_OPEN, timezone: Mars/Base}\n",
            2,
            "calendars[0].timezone",
            "unknown time zone",
        ),
        ("calendars:\n  - {name: prod, type: SOMETIMES}\n", 2, "calendars[0].type", "DEFAULT_OPEN"),
        (
            "calendars:\n  - {name: prod, type: DEFAULT_OPEN, ics_file: testdata/missing.ics}\n",
            2,
            "calendars[0].ics_file",
            "cannot read",
        ),
        (
            "calendars:\n  - {name: prod, type: DEFAULT_OPEN, ics_file: testdata/every-field.yml}\n",
            2,
            "calendars[0].ics_file",
            "line 1: not an iCalendar document",
        ),
    ];
    for (text, line, field, message) in cases {
        match Config::parse(&(HEAD.to_string() + text), "clarion.yml") {
            Err(e) => {
                assert_eq!((e.line, e.field.as_str()), (Some(line + 2), field), "{text}: {e}");
                assert!(e.message.contains(message), "{text}: {e}");
            }
            Ok(_) => panic!("{text} was accepted"),
        }
    }
}

#[test]
fn a_calendars_file_is_read_in_its_zone() -> Result<(), ConfigError> {
    let text =
        "calendars:\n  - {name: prod, type: DEFAULT_OPEN, timezone: Europe/Berlin, ics_file: testdata/freeze.ics}\n";
    let c = Config::parse(&(HEAD.to_string() + text), "clarion.yml")?;
    let prod = c.calendar("prod").map(|p| (p.zone, p.from_file.as_ref().map(|f| f.events.len())));
    assert_eq!(prod, Some((chrono_tz::Europe::Berlin, Some(1))));
    Ok(())
}

#[test]
fn time_intervals_are_checked_with_the_line_of_the_mistake() {
    let head = "teams: [{name: ops}]\ncalendars: [{name: freeze, type: DEFAULT_OPEN}]\n";
    let cases = [
        (
            "route: {receiver: ops, mute_time_intervals: [weekend]}\n",
            3,
            "route.mute_time_intervals",
            "the root route cannot have mute_time_intervals",
        ),
        (
            "route:\n  receiver: ops\n  routes:\n    - active_time_intervals: [office]\n",
            6,
            "route.routes[0].active_time_intervals[0]",
            "unknown time interval \"office\"",
        ),
        (
            "route:\n  receiver: ops\n  routes:\n    - mute_time_intervals: ['calendar:thaw']\n",
            6,
            "route.routes[0].mute_time_intervals[0]",
            "unknown time interval \"calendar:thaw\"",
        ),
        (
            "route: {receiver: ops}\ntime_intervals:\n  - name: w\n    time_intervals:\n      - weekdays: ['friday:monday']\n",
            7,
            "time_intervals[0].time_intervals[0].weekdays[0]",
            "start day cannot be before end day",
        ),
        (
            "route: {receiver: ops}\ntime_intervals:\n  - name: w\n    time_intervals:\n      - {days_of_month: ['-3:5']}\n",
            7,
            "time_intervals[0].time_intervals[0].days_of_month[0]",
            "end day must be negative",
        ),
        (
            "route: {receiver: ops}\ntime_intervals:\n  - name: w\n    time_intervals:\n      - {times: [{start_time: '17:00', end_time: '09:00'}]}\n",
            7,
            "time_intervals[0].time_intervals[0].times[0]",
            "start time cannot be equal or greater",
        ),
        (
            "route: {receiver: ops}\ntime_intervals:\n  - name: w\n    time_intervals:\n      - {location: Mars/Base}\n",
            7,
            "time_intervals[0].time_intervals[0].location",
            "unknown time zone",
        ),
        (
            "route: {receiver: ops}\ntime_intervals: [{name: w, time_intervals: []}]\nmute_time_intervals: [{name: w, time_intervals: []}]\n",
            5,
            "mute_time_intervals[0].name",
            "defined twice",
        ),
    ];
    for (text, line, field, message) in cases {
        match Config::parse(&(head.to_string() + text), "clarion.yml") {
            Err(e) => {
                assert_eq!((e.line, e.field.as_str()), (Some(line), field), "{text}: {e}");
                assert!(e.message.contains(message), "{text}: {e}");
            }
            Ok(_) => panic!("{text} was accepted"),
        }
    }
    let fine = "route:\n  receiver: ops\n  routes:\n    - {mute_time_intervals: ['calendar:freeze', legacy], active_time_intervals: [w]}\n\
                time_intervals: [{name: w, time_intervals: [{weekdays: [monday]}]}]\n\
                mute_time_intervals: [{name: legacy, time_intervals: [{months: [may]}]}]\n";
    let config = Config::parse(&(head.to_string() + fine), "clarion.yml");
    assert!(
        config.as_ref().is_ok_and(|c| c.time_interval("w").is_some() && c.time_interval("legacy").is_some()),
        "{config:?}"
    );
}

/// `check-config` reports every mistake of a file in one run, sorted by line: shape errors (unknown keys,
/// bad values) found by setting the key aside and reading again, and the checks of meaning after them.
#[test]
fn every_error_is_reported_in_one_run_sorted_by_line() {
    let text = "\
teams:
  - name: ops
    colour: red
  - name: db
    channels: [pager]
route:
  receiver: ops
  group_wait: 5x
  routes:
    - receiver: nobody
    - receiver: ops
      escalation: nope
limits:
  bogus: 1
";
    let found: Vec<(Option<usize>, String)> = errors(text).into_iter().map(|e| (e.line, e.field)).collect();
    let want = [
        (3, "teams[0].colour"),
        (5, "teams[1].channels[0]"),
        (8, "route.group_wait"),
        (10, "route.routes[0].receiver"),
        (12, "route.routes[1].escalation"),
        (14, "limits.bogus"),
    ];
    let want: Vec<(Option<usize>, String)> = want.iter().map(|(l, f)| (Some(*l), f.to_string())).collect();
    assert_eq!(found, want);
    // `parse` gives the first of them.
    assert_eq!(error(text).field, "teams[0].colour");
}

/// An error that only follows from a key set aside is not reported: the author has one thing to fix.
#[test]
fn errors_caused_by_a_key_set_aside_are_not_reported() {
    // Without its receiver the root route would "need a receiver": that is the same mistake.
    let all = errors("teams: [{name: ops}]\nroute:\n  receiver: [ops]\n  group_wait: 1s\n");
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].field, "route.receiver");
    // A route left empty by setting its only key aside is still checked: its missing receiver is the
    // author's mistake too, and comes first by line.
    let all = errors("teams: [{name: ops}]\nroute:\n  group_wait: 5x\n");
    let fields: Vec<&str> = all.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["route.receiver", "route.group_wait"], "{all:?}");
    // A required key with a bad value leaves its item without the key: the reading stops there.
    let all = errors("teams:\n  - name: [ops]\n    description: x\nroute: {receiver: ops}\n");
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].field, "teams[0].name");
    // The first key of a list item is set aside with the dash kept, so the rest is still read.
    let all = errors("teams: [{name: ops}]\nroute: {receiver: ops}\ninhibit_rules:\n  - source_matchers: ['a=~\"(\"']\n    equal: [x]\nlimits: {bogus: 1}\n");
    let fields: Vec<&str> = all.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["inhibit_rules[0].source_matchers", "limits.bogus"], "{all:?}");
}

/// A YAML syntax error stops the reading: nothing after it can be read reliably.
#[test]
fn a_syntax_error_is_reported_alone() {
    let all = errors("route:\n  receiver: ops\n   group_wait: 5s\nteams: [{name: ops}]\nfoo: 1\n");
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].line, Some(3));
    assert!(all[0].message.contains("indented deeper"), "{all:?}");
}

/// `vulnerabilities:`: the built-in deadlines, and mistakes named with their field.
#[test]
fn vulnerability_deadlines_default_by_severity_and_mistakes_are_named() -> Result<(), ConfigError> {
    let c = parse(MINIMAL)?;
    let v = &c.file.vulnerabilities;
    let days = |s: Option<&str>| v.deadline_for(s).as_secs() / 86_400;
    assert_eq!(
        [days(Some("critical")), days(Some("high")), days(Some("medium")), days(Some("low")), days(None)],
        [2, 7, 30, 90, 30]
    );
    assert_eq!(days(Some("none")), 30, "a severity without a deadline takes unknown's");
    let all = errors(&format!(
        "{MINIMAL}vulnerabilities:\n  deadlines: {{urgent: 1d, high: 0s}}\n  reminders: [1d, 0s]\n  watch_interval: 0s\n"
    ));
    let fields: Vec<&str> = all.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "vulnerabilities.deadlines.high",
            "vulnerabilities.deadlines.urgent",
            "vulnerabilities.reminders[1]",
            "vulnerabilities.watch_interval"
        ],
        "{all:?}"
    );
    assert!(all[1].message.contains("unknown severity \"urgent\""), "{all:?}");
    Ok(())
}

/// Alertmanager writes sequences at their key's column (`receivers:` then `- name: x`): setting aside an
/// unknown key takes its items with it, so the rest of the file is still read.
#[test]
fn an_unknown_key_with_a_sequence_at_its_column_is_set_aside_whole() {
    let all = errors(
        "teams: [{name: ops}]\nreceivers:\n- name: x\n- name: y\nroute:\n  receiver: nobody\nlimits: {bogus: 1}\n",
    );
    let fields: Vec<&str> = all.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["receivers", "route.receiver", "limits.bogus"], "{all:?}");
}

/// A key's error line is where the key starts, not where a longer key ends with the same letters.
#[test]
fn a_key_is_found_at_its_own_line_not_inside_a_longer_key() {
    let text = "teams: [{name: ops}]\nroute:\n  receiver: ops\n  group_wait: 1s\nescalation_policies:\n  - name: p\n    tiers:\n      - wait: 0s\n        notify: ['team:ops']\n";
    let all = errors(text);
    let wait = all.iter().find(|e| e.field.ends_with(".wait")).ok_or("no wait error");
    assert_eq!(wait.map(|e| e.line), Ok(Some(8)), "{all:?}");
}

/// A route naming a time interval whose definition has a mistake gets no second error.
#[test]
fn a_mistaken_definition_is_reported_once_not_again_where_it_is_named() {
    let text = "teams: [{name: ops}]\nroute:\n  receiver: ops\n  routes:\n    - mute_time_intervals: [night]\ntime_intervals:\n  - name: night\n    time_intervals: [{weekdays: [someday]}]\n";
    let all = errors(text);
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(all[0].field.starts_with("time_intervals[0]"), "{all:?}");
}

/// `feedback:`: the detectors' defaults, a flap guard inherited by child routes, and mistakes named with
/// their field — zero durations and counts, percentages out of range, working hours naming no interval.
#[test]
fn feedback_defaults_the_flap_guard_inherits_and_mistakes_are_named() -> Result<(), ConfigError> {
    let c = parse(MINIMAL)?;
    let rules = c.file.feedback.rules();
    assert_eq!((rules.min_firings, rules.transient.as_secs(), rules.flap.cycles), (10, 300, 3));
    assert_eq!(c.file.feedback.retention.0.as_secs(), 90 * 86_400);
    let guarded = parse(
        "teams: [{name: ops}]\nroute:\n  receiver: ops\n  flap_guard: true\n  routes:\n    - {receiver: ops, matchers: ['a=\"1\"']}\n    - {receiver: ops, matchers: ['a=\"2\"'], flap_guard: false}\n",
    )?;
    let children: Vec<bool> = guarded.route.routes.iter().map(|r| r.opts.flap_guard).collect();
    assert_eq!((guarded.route.opts.flap_guard, children), (true, vec![true, false]));
    let all = errors(
        "teams: [{name: ops, working_hours: office}]\nroute: {receiver: ops}\nfeedback:\n  scan_interval: 10m\n  transient: 0s\n  transient_percent: 101\n  flap: {cycles: 0, window: 300000y}\n",
    );
    let fields: Vec<&str> = all.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "teams[0].working_hours",
            "feedback.scan_interval",
            "feedback.transient",
            "feedback.transient_percent",
            "feedback.flap.window",
            "feedback.flap.cycles"
        ],
        "{all:?}"
    );
    assert!(all[0].message.contains("unknown time interval \"office\""), "{all:?}");
    Ok(())
}
