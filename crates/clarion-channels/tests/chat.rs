//! Rendering tests of the chat and incident channels — Microsoft Teams, PagerDuty, Discord, Telegram — on
//! their documented payloads: the clarity fields in their one order, missing ones marked, each service's
//! size limits kept, hostile text escaped or made harmless, and PagerDuty's event actions and dedup keys.

use std::sync::Arc;

use chrono::TimeZone;
use clarion_channels::{discord, msteams, pagerduty, telegram};
use clarion_config::egress::EgressPolicy;
use clarion_core::labels::LabelSet;
use clarion_core::notification::{AlertGroup, Announcement, Notification, NotifiedAlert, PageRef, Status};
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

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

fn group(alerts: Vec<NotifiedAlert>) -> AlertGroup {
    AlertGroup::new(
        "payments".into(),
        "{}:{alertname=\"DiskFull\"}".into(),
        labels(&[("alertname", "DiskFull")]),
        alerts,
        "http://clarion".into(),
    )
}

fn with_page(mut g: AlertGroup, acknowledged_by: Option<&str>) -> AlertGroup {
    g.page = Some(PageRef {
        id: "17".into(),
        url: Some("http://clarion/p/17?sig=abc".into()),
        opened_at: chrono::Utc.with_ymd_and_hms(2026, 11, 27, 6, 0, 0).single().unwrap_or_default(),
        acknowledged_by: acknowledged_by.map(str::to_string),
    });
    g
}

fn announcement() -> Notification {
    Notification::Announcement(Announcement {
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
    })
}

fn policy() -> Arc<EgressPolicy> {
    Arc::new(EgressPolicy::new(&Default::default()))
}

fn full() -> [(&'static str, &'static str); 4] {
    [
        ("summary", "Disk full on db01"),
        ("impact", "orders cannot be written"),
        ("action", "grow the volume"),
        ("runbook_url", "https://runbooks.example.org/disk"),
    ]
}

#[test]
fn teams_sends_one_adaptive_card_with_the_fields_in_order_and_the_page_as_a_button() -> TestResult {
    let n = Notification::AlertGroup(with_page(group(vec![alert(1, &full()), alert(2, &[])]), None));
    let v = msteams::MsTeams::render(&n, "key-1");
    assert_eq!(v["type"], "message");
    let attachment = &v["attachments"][0];
    assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
    let card = &attachment["content"];
    assert_eq!((card["type"].as_str(), card["version"].as_str()), (Some("AdaptiveCard"), Some("1.4")));
    let body = card["body"].as_array().ok_or("body")?;
    assert_eq!(body[0]["text"], "CRITICAL · Disk full on db01 (+1 more) · payments");
    let facts = |i: usize| -> Vec<(String, String)> {
        body.iter()
            .filter(|b| b["type"] == "FactSet")
            .nth(i)
            .and_then(|b| b["facts"].as_array())
            .into_iter()
            .flatten()
            .map(|f| (f["title"].as_str().unwrap_or("").to_string(), f["value"].as_str().unwrap_or("").to_string()))
            .collect()
    };
    let titles: Vec<String> = facts(0).into_iter().map(|(t, _)| t).collect();
    assert_eq!(titles, ["Summary", "Severity", "Affected", "Action", "Runbook", "Owner", "Since"]);
    assert_eq!(facts(0)[3].1, "grow the volume");
    assert_eq!(facts(1)[0].1, "— missing —", "a missing field is shown as missing");
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(card["actions"][0]["title"], "Acknowledge page 17");
    assert_eq!(card["actions"][0]["url"], "http://clarion/p/17?sig=abc");

    let many = Notification::AlertGroup(group((0..12).map(|i| alert(i, &[("summary", "full")])).collect()));
    let card = &msteams::MsTeams::render(&many, "k")["attachments"][0]["content"];
    let body = card["body"].as_array().ok_or("body")?;
    assert_eq!(body.iter().filter(|b| b["type"] == "FactSet").count(), 10);
    assert!(body.iter().any(|b| b["text"] == "and 2 more"));
    Ok(())
}

#[test]
fn discord_keeps_its_limits_and_pings_nobody() -> TestResult {
    let long = "x".repeat(10_000);
    let n = Notification::AlertGroup(group(
        (0..12).map(|i| alert(i, &[("summary", "@everyone disk full"), ("description", long.as_str())])).collect(),
    ));
    let v = discord::Discord::render(&n, "key-1");
    assert_eq!(v["allowed_mentions"]["parse"], serde_json::json!([]), "mentions are off");
    let embeds = v["embeds"].as_array().ok_or("embeds")?;
    assert_eq!(embeds.len(), 10);
    let text = |e: &Value, k: &str| e[k].as_str().map_or(0, |s| s.chars().count());
    let total: usize =
        embeds.iter().map(|e| text(e, "title") + text(e, "description") + text(&e["footer"], "text")).sum();
    assert!(total <= 6_000, "all embeds together hold {total} characters");
    assert!(embeds.iter().all(|e| text(e, "description") <= 4_096 && text(e, "title") <= 256));
    assert!(text(&v, "content") <= 2_000);
    assert!(v["content"].as_str().is_some_and(|c| c.contains("and 2 more")), "{}", v["content"]);
    assert_eq!(embeds[0]["color"], 0xd0_3030);

    let mut resolved = group(vec![alert(1, &full())]);
    resolved.status = Status::Resolved;
    resolved.alerts[0].status = Status::Resolved;
    let v = discord::Discord::render(&Notification::AlertGroup(resolved), "k");
    assert_eq!(v["embeds"][0]["color"], 0x2e_a043);
    assert!(v["embeds"][0]["description"].as_str().is_some_and(|d| d.starts_with("Summary: Disk full on db01\n")));
    Ok(())
}

#[test]
fn telegram_escapes_html_stays_under_its_limit_and_offers_the_page() -> TestResult {
    let config: clarion_config::TelegramConfig =
        serde_yaml::from_str("{bot_token: '123:abc', chat_id: -100200, message_thread_id: 9}")?;
    let channel = telegram::Telegram::new(&config, "123:abc", policy())?;
    assert!(!format!("{channel:?}").contains("123:abc"), "the token stays out of Debug");
    let n = Notification::AlertGroup(with_page(
        group(vec![alert(1, &[("summary", "<b>bold</b> & <script>")]), alert(2, &full())]),
        None,
    ));
    let v = channel.render(&n);
    assert_eq!((v["chat_id"].as_i64(), v["message_thread_id"].as_i64()), (Some(-100_200), Some(9)));
    assert_eq!(v["parse_mode"], "HTML");
    let text = v["text"].as_str().ok_or("text")?;
    assert!(text.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;"), "{text}");
    assert!(!text.contains("<script>"), "{text}");
    assert_eq!(v["reply_markup"]["inline_keyboard"][0][0]["url"], "http://clarion/p/17?sig=abc");

    let long = "<&>".repeat(5_000);
    let n = Notification::AlertGroup(group((0..12).map(|i| alert(i, &[("summary", long.as_str())])).collect()));
    let text = channel.render(&n)["text"].as_str().ok_or("text")?.to_string();
    // Telegram counts the text as shown: entities count one character, tags none.
    let shown = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("<b>", "")
        .replace("</b>", "")
        .replace("<i>", "")
        .replace("</i>", "");
    assert!(shown.chars().count() <= 4_096, "{} characters shown", shown.chars().count());
    assert!(text.contains("and 2 more"));
    assert_eq!(text.matches("<b>").count(), text.matches("</b>").count(), "every tag is closed");
    Ok(())
}

#[test]
fn pagerduty_triggers_acknowledges_and_resolves_one_incident_per_group() -> TestResult {
    let config: clarion_config::PagerDutyConfig = serde_yaml::from_str("{routing_key: rk}")?;
    let pd = pagerduty::PagerDuty::new(&config, "R0UT1NG".into(), policy())?;
    assert!(!format!("{pd:?}").contains("R0UT1NG"));

    let firing = with_page(group(vec![alert(1, &full())]), None);
    let key = pagerduty::dedup_key(&firing.group_key);
    let (event, change) = pd.render(&Notification::AlertGroup(firing.clone()));
    assert!(!change);
    assert_eq!(event["routing_key"], "R0UT1NG");
    assert_eq!(event["event_action"], "trigger");
    assert_eq!(event["dedup_key"], key.as_str());
    assert!(key.len() <= 255 && key.starts_with("clarion-"));
    assert_eq!(event["payload"]["severity"], "critical");
    assert_eq!(event["payload"]["summary"], "CRITICAL · Disk full on db01 · payments");
    assert_eq!(event["payload"]["custom_details"]["items"][0]["Action"], "grow the volume");
    assert_eq!(event["links"][0]["href"], "http://clarion/p/17?sig=abc");

    let acked = with_page(group(vec![alert(1, &full())]), Some("alice"));
    let (event, _) = pd.render(&Notification::AlertGroup(acked));
    assert_eq!(
        (event["event_action"].as_str(), event["dedup_key"].as_str()),
        (Some("acknowledge"), Some(key.as_str()))
    );
    assert!(event.get("payload").is_none());

    let mut resolved = firing;
    resolved.status = Status::Resolved;
    let (event, _) = pd.render(&Notification::AlertGroup(resolved));
    assert_eq!((event["event_action"].as_str(), event["dedup_key"].as_str()), (Some("resolve"), Some(key.as_str())));

    let page = with_page(group(vec![]), Some("alice")).page.ok_or("page")?;
    let acknowledged = Notification::Acknowledged(clarion_core::notification::Acknowledged {
        page,
        team: "payments".into(),
        by: "alice".into(),
        severity: "CRITICAL".into(),
        summary: "Disk full on db01".into(),
        group_key: "{}:{alertname=\"DiskFull\"}".into(),
        external_url: "http://clarion".into(),
        sent_at: chrono::Utc.with_ymd_and_hms(2026, 11, 27, 6, 5, 0).single().unwrap_or_default(),
    });
    let (event, _) = pd.render(&acknowledged);
    assert_eq!(
        (event["event_action"].as_str(), event["dedup_key"].as_str()),
        (Some("acknowledge"), Some(key.as_str()))
    );
    assert_eq!(acknowledged.title(), "ACKNOWLEDGED · CRITICAL · Disk full on db01 · payments · by alice");
    let v4: Value = serde_json::from_slice(&clarion_channels::webhook::payload::alertmanager_v4(&acknowledged, 0)?)?;
    assert_eq!(v4["alerts"][0]["labels"]["alertname"], "PageAcknowledged");
    assert_eq!(v4["alerts"][0]["annotations"]["acknowledged_by"], "alice");

    let (event, change) = pd.render(&announcement());
    assert!(change, "announcements are change events");
    assert_eq!(event["payload"]["summary"], "ANNOUNCEMENT · Checkout moves to the new cluster · payments");
    assert!(event.get("event_action").is_none());

    for (label, want) in [
        ("critical", "critical"),
        ("page", "critical"),
        ("warning", "warning"),
        ("info", "info"),
        ("", "error"),
        ("weird", "error"),
    ] {
        assert_eq!(pagerduty::severity(label), want, "{label}");
    }
    Ok(())
}
