//! Unit tests of the migration on small files written for one point each.

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn value(yaml: &str) -> Result<serde_yaml::Value, serde_yaml::Error> {
    serde_yaml::from_str(yaml)
}

const FILE: &str = "\
global:
  resolve_timeout: 10m
  smtp_smarthost: 'mail.example.org:587'
  smtp_from: alertmanager@example.org
  smtp_auth_username: am
  smtp_auth_password: s3cret-password
  slack_api_url: https://hooks.slack.com/services/T0/B0/XYZ
  http_config:
    proxy_url: http://proxy:3128
templates: ['/etc/alertmanager/*.tmpl']
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 10s
  routes:
    - matchers: ['{\"service.name\"=\"checkout\"}', severity=~\"critical|page\"]
      receiver: checkout
      continue: true
      labels: {reason: '{{ .GroupLabels.alertname }}', team: checkout}
    - match_re: {team: 'db|storage'}
      receiver: db
      mute_time_intervals: [nights]
receivers:
  - name: ops
    email_configs:
      - to: 'ops@example.org, oncall@example.org'
        headers: {Subject: x}
  - name: checkout
    slack_configs:
      - channel: '#checkout'
        title: '{{ .CommonAnnotations.summary }}'
    webhook_configs:
      - url: http://127.0.0.1:5001/
        send_resolved: false
        max_alerts: 10
      - url: http://127.0.0.1:5002/
    pagerduty_configs:
      - routing_key: pd-secret-key
        url: https://events.eu.pagerduty.com/v2/enqueue
        severity: '{{ .CommonLabels.severity }}'
  - name: db
    msteamsv2_configs: [{webhook_url: 'https://flows.example.com/workflows/abc'}]
    discord_configs: [{webhook_url: 'https://discord.example.com/api/webhooks/1/x', title: t}]
    telegram_configs: [{bot_token: tg-secret-token, chat_id: -1001, message_thread_id: 4, parse_mode: HTML}]
    victorops_configs: [{api_key: vo-secret}]
inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=warning]
    equal: [alertname]
time_intervals:
  - name: nights
    time_intervals:
      - times: [{start_time: '22:00', end_time: '24:00'}]
";

#[test]
fn receivers_become_teams_with_channels_and_the_tree_is_kept() -> TestResult {
    let m = alertmanager(FILE)?;
    let out = value(&m.yaml)?;
    assert_eq!(out["global"], value("resolve_timeout: 10m")?);
    assert_eq!(
        out["teams"],
        value(
            "- {name: ops, channels: [ops-email]}
- {name: checkout, channels: [checkout-slack, checkout-webhook, checkout-webhook-2, checkout-pagerduty]}
- {name: db, channels: [db-msteams, db-discord, db-telegram]}"
        )?
    );
    let channels = &out["channels"];
    assert_eq!(
        channels[0],
        value(
            "{name: ops-email, send_resolved: false, email: {smtp: 'mail.example.org:587', tls: starttls, username: am,
              password: s3cret-password, from: alertmanager@example.org, to: [ops@example.org, oncall@example.org]}}"
        )?
    );
    assert_eq!(
        channels[1],
        value(
            "{name: checkout-slack, send_resolved: false, slack: {url: 'https://hooks.slack.com/services/T0/B0/XYZ'}}"
        )?
    );
    assert_eq!(
        channels[2],
        value(
            "{name: checkout-webhook, send_resolved: false,
              webhook: {url: 'http://127.0.0.1:5001/', max_alerts: 10, format: alertmanager-v4}}"
        )?
    );
    assert_eq!(channels[3]["send_resolved"], serde_yaml::Value::Bool(true), "webhooks send resolved by default");
    assert_eq!(
        channels[4],
        value("{name: checkout-pagerduty, send_resolved: true, pagerduty: {routing_key: pd-secret-key, url: 'https://events.eu.pagerduty.com'}}")?
    );
    assert_eq!(
        channels[5],
        value("{name: db-msteams, send_resolved: true, msteams: {url: 'https://flows.example.com/workflows/abc'}}")?
    );
    assert_eq!(channels[6]["discord"]["url"], "https://discord.example.com/api/webhooks/1/x");
    assert_eq!(
        channels[7],
        value("{name: db-telegram, send_resolved: true, telegram: {bot_token: tg-secret-token, chat_id: -1001, message_thread_id: 4}}")?
    );
    let route = &out["route"];
    assert_eq!(
        route["routes"][0]["matchers"],
        value(r#"['{"service.name"="checkout"}', 'severity=~"critical|page"']"#)?
    );
    assert_eq!(route["routes"][0]["continue"], serde_yaml::Value::Bool(true));
    assert_eq!(route["routes"][1]["match_re"], value("{team: 'db|storage'}")?);
    assert_eq!(route["routes"][1]["mute_time_intervals"], value("[nights]")?);
    assert_eq!(out["inhibit_rules"][0]["equal"], value("[alertname]")?);
    assert_eq!(out["time_intervals"][0]["name"], "nights");
    Ok(())
}

#[test]
fn every_setting_not_carried_over_is_named_with_its_line_and_no_value() -> TestResult {
    let m = alertmanager(FILE)?;
    let got: Vec<(usize, &str)> = m.notes.iter().map(|n| (n.line, n.path.as_str())).collect();
    assert_eq!(
        got,
        [
            (8, "global.http_config"),
            (10, "templates"),
            (19, "route.routes[0].labels.reason"),
            (27, "receivers[0].email_configs[0].headers"),
            (30, "receivers[1].slack_configs[0].channel"),
            (31, "receivers[1].slack_configs[0].title"),
            (40, "receivers[1].pagerduty_configs[0].severity"),
            (43, "receivers[2].discord_configs[0].title"),
            (44, "receivers[2].telegram_configs[0].parse_mode"),
            (45, "receivers[2].victorops_configs"),
        ]
    );
    for note in &m.notes {
        for secret in ["s3cret-password", "pd-secret-key", "XYZ", "proxy:3128", "tg-secret-token", "vo-secret"] {
            assert!(!note.to_string().contains(secret), "{note}");
        }
    }
    assert!(m.yaml.starts_with("# clarion.yml converted"), "{}", m.yaml);
    assert!(m.yaml.contains("Settings not carried over: 10"), "{}", m.yaml);
    Ok(())
}

#[test]
fn smtps_and_plain_smtp_follow_alertmanagers_rules_and_a_config_without_what_it_needs_is_noted() -> TestResult {
    let file = "route: {receiver: a}
receivers:
  - name: a
    email_configs:
      - {to: a@example.org, from: am@example.org, smarthost: 'smtp.example.org:465'}
      - {to: a@example.org, from: am@example.org, smarthost: 'relay:25', require_tls: false}
      - {to: a@example.org}
    slack_configs:
      - {channel: '#x'}
    webhook_configs:
      - {url_file: /etc/am/url}
";
    let m = alertmanager(file)?;
    let out = value(&m.yaml)?;
    assert_eq!(out["channels"][0]["email"]["tls"], "tls");
    assert_eq!(out["channels"][1]["email"]["tls"], "none");
    assert_eq!(out["channels"].as_sequence().map(Vec::len), Some(2), "{}", m.yaml);
    let paths: Vec<&str> = m.notes.iter().map(|n| n.path.as_str()).collect();
    for want in [
        "receivers[0].email_configs[2]",
        "receivers[0].slack_configs[0]",
        "receivers[0].webhook_configs[0]",
        "receivers[0].webhook_configs[0].url_file",
    ] {
        assert!(paths.contains(&want), "{want} not in {paths:?}");
    }
    Ok(())
}

#[test]
fn broken_or_foreign_files_are_refused_with_the_line() {
    let cases = [
        ("route: [unclosed\n", "line 2"),
        ("- just\n- a list\n", "expected a mapping"),
        ("receivers: []\n", "no `route:`"),
        ("route: {receiver: nobody}\nreceivers: [{name: ops}]\n", "does not pass check-config"),
    ];
    for (file, want) in cases {
        let err = alertmanager(file).expect_err(file).to_string();
        assert!(err.contains(want), "{file}: {err}");
    }
}

#[test]
fn booleans_are_read_as_alertmanager_reads_them_and_a_receivers_own_login_wins() -> TestResult {
    let file = "global:
  smtp_smarthost: 'mail.example.org:587'
  smtp_from: am@example.org
  smtp_auth_username: global-user
  smtp_auth_password: global-password
  slack_api_url: https://hooks.slack.com/services/GLOBAL
route:
  receiver: a
  routes:
    - {matchers: [x=\"1\"], receiver: a, continue: yes}
receivers:
  - name: a
    email_configs:
      - {to: a@example.org, require_tls: True, send_resolved: yes, auth_password_file: /etc/am/pw}
      - {to: a@example.org, require_tls: no, auth_username: own}
    slack_configs:
      - {api_url_file: /etc/am/slack-url, channel: '#x'}
    pagerduty_configs:
      - {routing_key: k, url: 'https://pd-proxy.example.org/events'}
";
    let m = alertmanager(file)?;
    let out = value(&m.yaml)?;
    assert_eq!(out["route"]["routes"][0]["continue"], serde_yaml::Value::Bool(true));
    let first = &out["channels"][0];
    assert_eq!(first["send_resolved"], serde_yaml::Value::Bool(true), "`yes` is true");
    assert_eq!(first["email"]["tls"], "starttls", "`True` requires TLS");
    assert_eq!(first["email"]["password_file"], "/etc/am/pw");
    assert!(first["email"].get("password").is_none(), "the global password does not override the receiver's file");
    assert_eq!(first["email"]["username"], "global-user");
    let second = &out["channels"][1];
    assert_eq!(second["email"]["tls"], "none", "`no` turns TLS off");
    assert_eq!(
        (second["email"]["username"].as_str(), second["email"]["password"].as_str()),
        (Some("own"), Some("global-password"))
    );
    let names: Vec<&str> =
        out["channels"].as_sequence().into_iter().flatten().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["a-email", "a-email-2", "a-pagerduty"], "a Slack config with a URL file gets no global URL");
    assert!(out["channels"][2]["pagerduty"].get("url").is_none());
    let paths: Vec<&str> = m.notes.iter().map(|n| n.path.as_str()).collect();
    assert!(paths.contains(&"receivers[0].slack_configs[0]"), "{paths:?}");
    assert!(paths.contains(&"receivers[0].pagerduty_configs[0].url"), "{paths:?}");
    Ok(())
}
