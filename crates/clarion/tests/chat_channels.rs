//! The channels people have after Slack and e-mail — Microsoft Teams, PagerDuty, Discord, Telegram — end
//! to end: the built binary delivers one group to each, over HTTP to a real server on 127.0.0.1 standing
//! in for the service, in the service's documented shape; PagerDuty's incident is resolved with the same
//! dedup key when the alert resolves.

mod util;

use std::time::Duration;

use serde_json::json;
use util::sink::{Reply, Sink};
use util::{blocking_request, Server, TestResult};

const WAIT: Duration = Duration::from_secs(20);

fn config(sink: &Sink, token_file: &std::path::Path) -> String {
    format!(
        "teams:
  - name: ops
  - name: storage
    channels: [teams-chat, pd, discord, telegram]
channels:
  - name: teams-chat
    msteams: {{url: '{sink}/teams', timeout: 2s}}
  - name: pd
    pagerduty: {{routing_key: R0UT1NG, url: '{sink}/pd', timeout: 2s}}
  - name: discord
    discord: {{url: '{sink}/discord', timeout: 2s}}
  - name: telegram
    telegram: {{bot_token_file: '{token}', chat_id: -100200, api_url: '{sink}/tg', timeout: 2s}}
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['team=\"storage\"']
      receiver: storage
",
        sink = sink.url,
        token = token_file.display(),
    )
}

fn post(server: &Server, body: &serde_json::Value) -> TestResult {
    let (status, text) =
        blocking_request("POST", &format!("{}/api/v2/alerts", server.url), Some(&body.to_string()), &[])?;
    if status != 200 {
        return Err(format!("POST alerts: {status} {text}").into());
    }
    Ok(())
}

#[test]
fn one_group_reaches_teams_pagerduty_discord_and_telegram_and_pagerduty_follows_ack_and_resolve() -> TestResult {
    let sink = Sink::start()?;
    let dir = tempfile::tempdir()?;
    let token_file = dir.path().join("telegram.token");
    std::fs::write(&token_file, "123:secret-token\n")?;
    let server = Server::start(Some(&config(&sink, &token_file)))?;
    // Telegram's first answer is an error: the failure is logged, and must not show the token.
    let telegram_path = "/tg/bot123:secret-token/sendMessage";
    sink.then(telegram_path, Reply::Status(500));
    let start = chrono::Utc::now();
    let alert = |ends: chrono::DateTime<chrono::Utc>| {
        json!([{
            "labels": {"alertname": "DiskFull", "team": "storage", "severity": "critical", "instance": "db1"},
            "annotations": {"summary": "Disk full on db1", "impact": "orders cannot be written",
                            "action": "grow the volume", "runbook_url": "https://runbooks.example.org/disk"},
            "startsAt": start.to_rfc3339(), "endsAt": ends.to_rfc3339(),
        }])
    };
    post(&server, &alert(start + chrono::Duration::minutes(10)))?;

    let teams = sink.wait_for("/teams", 1, WAIT)?[0].json()?;
    let card = &teams["attachments"][0]["content"];
    assert_eq!(card["type"], "AdaptiveCard", "{teams}");
    assert_eq!(card["body"][0]["text"], "CRITICAL · Disk full on db1 · storage");

    let discord = sink.wait_for("/discord", 1, WAIT)?[0].json()?;
    let content = discord["content"].as_str().unwrap_or("");
    assert!(content.starts_with("CRITICAL · Disk full on db1 · storage\n"), "{discord}");
    // A critical alert opens a page: its signed link is offered with the message.
    assert!(content.contains("Acknowledge page 1: <http://127.0.0.1:"), "{discord}");
    assert!(discord["embeds"][0]["description"].as_str().is_some_and(|d| d.contains("Action: grow the volume")));

    // The token comes from its file and sits in the path, as the Bot API wants it; the retry delivers.
    let telegram = sink.wait_for(telegram_path, 2, WAIT)?[1].json()?;
    assert_eq!(telegram["chat_id"], -100_200);
    assert!(telegram["text"].as_str().is_some_and(|t| t.starts_with("<b>CRITICAL · Disk full on db1 · storage</b>")));

    let trigger = sink.wait_for("/pd/v2/enqueue", 1, WAIT)?[0].json()?;
    assert_eq!((trigger["event_action"].as_str(), trigger["routing_key"].as_str()), (Some("trigger"), Some("R0UT1NG")));
    assert_eq!(trigger["payload"]["severity"], "critical");
    let key = trigger["dedup_key"].as_str().ok_or("no dedup_key")?.to_string();

    // Acknowledged in Clarion: the incident in PagerDuty is acknowledged at once, with the same key.
    let ack = std::process::Command::new(env!("CARGO_BIN_EXE_clarion"))
        .args(["ack", "1", "--by", "alice"])
        .env("CLARION_SERVER", &server.url)
        .output()?;
    assert!(ack.status.success(), "{}", String::from_utf8_lossy(&ack.stderr));
    let acknowledge = sink.wait_for("/pd/v2/enqueue", 2, WAIT)?[1].json()?;
    assert_eq!(
        (acknowledge["event_action"].as_str(), acknowledge["dedup_key"].as_str()),
        (Some("acknowledge"), Some(key.as_str())),
        "{acknowledge}"
    );
    // Chat channels are not told of the acknowledgement: nothing more reaches Teams in the next seconds.
    let quiet_until = std::time::Instant::now() + Duration::from_secs(2);
    util::eventually(Duration::from_secs(5), "two quiet seconds", || {
        Ok((std::time::Instant::now() > quiet_until).then_some(()))
    })?;
    assert_eq!(sink.received_on("/teams").len(), 1, "chat channels are not told of the acknowledgement");

    post(&server, &alert(chrono::Utc::now()))?;
    let events = sink.wait_for("/pd/v2/enqueue", 3, WAIT)?;
    let resolve = events[2].json()?;
    assert_eq!(
        (resolve["event_action"].as_str(), resolve["dedup_key"].as_str()),
        (Some("resolve"), Some(key.as_str()))
    );
    // Each kind sends resolved notifications by default, as Alertmanager's integrations do.
    for (path, n) in [("/teams", 2), ("/discord", 2), (telegram_path, 3)] {
        sink.wait_for(path, n, WAIT)?;
    }
    // The failed attempt was logged, and the bot token never reaches the log.
    let log = server.log();
    assert!(log.contains("HTTP 500"), "the failure is logged:\n{log}");
    assert!(!log.contains("secret-token"), "{log}");
    Ok(())
}
