//! Nothing acknowledged is lost: the built binary is killed with SIGKILL while clients are posting, then
//! restarted on the same store; every alert and silence that got a 2xx is there, with the same fingerprint
//! and state. Runs on SQLite and on PostgreSQL.

mod util;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clarion_core::Fingerprint;
use serde_json::{json, Value};
use util::{blocking_request, eventually, Server, TestResult};

type Labels = BTreeMap<String, String>;

#[derive(Default)]
struct Acknowledged {
    alerts: Vec<Labels>,
    silences: Vec<String>,
}

/// Posts batches of alerts (and now and then a silence) until the server stops answering; records what
/// was acknowledged with a 2xx.
fn writer(url: String, tag: &'static str, acked: Arc<Mutex<Acknowledged>>, stop: Arc<AtomicBool>) {
    let mut batch = 0;
    while !stop.load(Ordering::SeqCst) {
        let alerts: Vec<Labels> = (0..20)
            .map(|n| {
                [("alertname", "Crash"), ("writer", tag)]
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .chain([("batch".to_string(), batch.to_string()), ("n".to_string(), n.to_string())])
                    .collect()
            })
            .collect();
        let body: Vec<Value> =
            alerts.iter().map(|l| json!({"labels": l, "annotations": {"summary": "crash test"}})).collect();
        match blocking_request("POST", &format!("{url}/api/v2/alerts"), Some(&Value::from(body).to_string()), &[]) {
            Ok((200, _)) => acked.lock().map(|mut a| a.alerts.extend(alerts)).unwrap_or(()),
            _ => return,
        }
        if batch % 5 == 0 {
            let now = chrono::Utc::now();
            let silence = json!({
                "matchers": [{"name": "batch", "value": batch.to_string(), "isRegex": false},
                             {"name": "writer", "value": tag, "isRegex": false}],
                "startsAt": now.to_rfc3339(), "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
                "createdBy": "crash-test", "comment": "survives kill -9"});
            match blocking_request("POST", &format!("{url}/api/v2/silences"), Some(&silence.to_string()), &[]) {
                Ok((200, body)) => {
                    let id = serde_json::from_str::<Value>(&body)
                        .ok()
                        .and_then(|v| v["silenceID"].as_str().map(String::from));
                    if let Some(id) = id {
                        acked.lock().map(|mut a| a.silences.push(id)).unwrap_or(());
                    }
                }
                _ => return,
            }
        }
        batch += 1;
    }
}

fn kill_while_posting_and_check_everything_acknowledged_survives(mut server: Server) -> TestResult {
    let acked = Arc::new(Mutex::new(Acknowledged::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = ["w1", "w2", "w3"]
        .into_iter()
        .map(|tag| {
            let (url, acked, stop) = (server.url.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || writer(url, tag, acked, stop))
        })
        .collect();
    // Kill in the middle of the load, once a fair amount has been acknowledged.
    eventually(Duration::from_secs(30), "600 acknowledged alerts", || {
        Ok((acked.lock().map_err(|e| e.to_string())?.alerts.len() >= 600).then_some(()))
    })?;
    server.kill9()?;
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().map_err(|_| "writer panicked")?;
    }
    let acked = std::mem::take(&mut *acked.lock().map_err(|e| e.to_string())?);
    assert!(!acked.silences.is_empty());

    server.restart()?;
    let (status, body) =
        blocking_request("GET", &format!("{}/api/v2/alerts?filter=alertname%3DCrash", server.url), None, &[])?;
    assert_eq!(status, 200, "{body}");
    let listed: Vec<Value> = serde_json::from_str(&body)?;
    let by_fp: BTreeMap<String, &Value> =
        listed.iter().filter_map(|a| Some((a["fingerprint"].as_str()?.to_string(), a))).collect();
    let mut missing = Vec::new();
    for labels in &acked.alerts {
        let fp = Fingerprint::of(&labels.clone().into_iter().collect()).to_string();
        match by_fp.get(&fp) {
            Some(a) => {
                assert_eq!(a["labels"], json!(labels));
                assert_eq!(a["annotations"]["summary"], "crash test");
            }
            None => missing.push(labels.clone()),
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged alerts lost, e.g. {:?}",
        missing.len(),
        acked.alerts.len(),
        missing.first()
    );

    let (_, body) = blocking_request("GET", &format!("{}/api/v2/silences", server.url), None, &[])?;
    let silences: Vec<Value> = serde_json::from_str(&body)?;
    for id in &acked.silences {
        let s = silences.iter().find(|s| s["id"] == json!(id)).ok_or_else(|| format!("silence {id} lost"))?;
        assert_eq!(s["status"]["state"], "active");
        assert_eq!(s["comment"], "survives kill -9");
    }
    // Alerts covered by a surviving silence are still suppressed after the restart.
    let silenced = listed.iter().filter(|a| a["status"]["state"] == "suppressed").count();
    assert!(
        silenced >= acked.silences.len() * 20,
        "{silenced} suppressed alerts for {} silences",
        acked.silences.len()
    );
    Ok(())
}

#[test]
fn sqlite_keeps_every_acknowledged_alert_and_silence_across_kill_9() -> TestResult {
    kill_while_posting_and_check_everything_acknowledged_survives(Server::start(None)?)
}

#[test]
fn postgres_keeps_every_acknowledged_alert_and_silence_across_kill_9() -> TestResult {
    let schema = util::PgSchema::create("crash")?;
    let server = Server::builder(None)?.arg("--database-url").arg(&schema.url()).spawn()?;
    assert!(!server.dir.join("data/clarion.db").exists(), "PostgreSQL, not SQLite, must hold the data");
    kill_while_posting_and_check_everything_acknowledged_survives(server)
}

#[test]
fn sighup_reloads_the_configuration_and_a_bad_one_is_refused_and_logged() -> TestResult {
    let config = "teams: [{name: ops}]\nroute: {receiver: ops}\n";
    let server = Server::start(Some(config))?;
    let receivers =
        |s: &Server| -> TestResult<String> { Ok(util::blocking_get(&format!("{}/api/v2/receivers", s.url))?.1) };
    assert_eq!(receivers(&server)?, r#"[{"name":"ops"}]"#);

    std::fs::write(server.dir.join("clarion.yml"), "teams: [{name: ops}, {name: db}]\nroute: {receiver: ops}\n")?;
    server.signal("HUP")?;
    eventually(Duration::from_secs(10), "the new team after SIGHUP", || {
        Ok((receivers(&server)? == r#"[{"name":"ops"},{"name":"db"}]"#).then_some(()))
    })?;

    std::fs::write(server.dir.join("clarion.yml"), "teams: [{name: ops}]\nroute: {receiver: nobody}\n")?;
    server.signal("HUP")?;
    eventually(Duration::from_secs(10), "the reload error in the log", || {
        Ok(server.log().contains("configuration reload failed").then_some(()))
    })?;
    assert!(server.log().contains("unknown team \"nobody\""), "{}", server.log());
    assert_eq!(receivers(&server)?, r#"[{"name":"ops"},{"name":"db"}]"#, "the running configuration is kept");

    let (status, body) = blocking_request("POST", &format!("{}/-/reload", server.url), None, &[])?;
    assert_eq!(status, 400);
    assert!(body.contains("failed to reload config") && body.contains("clarion.yml:2"), "{body}");
    Ok(())
}

#[test]
fn sigterm_stops_the_server_cleanly() -> TestResult {
    let mut server = Server::start(None)?;
    server.signal("TERM")?;
    let status = server.wait_exit(Duration::from_secs(10))?;
    assert!(status.success(), "{status}: {}", server.log());
    assert!(server.log().contains("shutting down"));
    Ok(())
}
