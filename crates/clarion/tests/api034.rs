//! The additions of Alertmanager's API up to 0.34, on the built binary: silence `annotations` and the
//! `active`/`pending`/`expired` silence filters, receivers with labels and the `receiver_matchers` filter,
//! `routeLabels` on groups, and `mutedBy` naming the time intervals that hold an alert's route back.

mod util;

use serde_json::{json, Value};
use util::{blocking_request, get_json, post_json, Server, TestResult};

const CONFIG: &str = "
teams:
  - name: ops
  - name: payments
    labels: {owner: payments-team, tier: '1'}
  - name: search
    labels: {owner: search-team}
time_intervals:
  - name: every-day
    time_intervals:
      - weekdays: ['sunday:saturday']
route:
  receiver: ops
  group_by: [alertname]
  labels: {environment: production, reason: default}
  routes:
    - matchers: ['team=\"payments\"']
      receiver: payments
      labels: {reason: payments}
    - matchers: ['team=\"search\"']
      receiver: search
      mute_time_intervals: [every-day]
";

/// The `alertname`s of a listing, sorted.
fn names(listing: &Value) -> Vec<String> {
    let mut names: Vec<String> = listing
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

fn post_alerts(server: &Server) -> TestResult {
    post_json(
        server,
        "/api/v2/alerts",
        &json!([
            {"labels": {"alertname": "CardDeclines", "team": "payments"}},
            {"labels": {"alertname": "IndexLag", "team": "search"}},
            {"labels": {"alertname": "DiskFull"}},
        ]),
    )?;
    Ok(())
}

#[test]
fn receivers_carry_labels_and_receiver_matchers_filter_alerts_and_groups() -> TestResult {
    let server = Server::start(Some(CONFIG))?;
    let receivers = get_json(&server, "/api/v2/receivers")?;
    assert_eq!(
        receivers,
        json!([
            {"name": "ops"},
            {"name": "payments", "labels": {"owner": "payments-team", "tier": "1"}},
            {"name": "search", "labels": {"owner": "search-team"}},
        ])
    );
    post_alerts(&server)?;
    let owner = "receiver_matchers=owner%3D%22payments-team%22";
    assert_eq!(names(&get_json(&server, &format!("/api/v2/alerts?{owner}"))?), ["CardDeclines"]);
    let any_owner = "receiver_matchers=owner%3D~%22.%2B-team%22";
    assert_eq!(names(&get_json(&server, &format!("/api/v2/alerts?{any_owner}"))?), ["CardDeclines", "IndexLag"]);
    // Repeated: every matcher must hold for one receiver.
    let both = format!("{owner}&receiver_matchers=tier%3D%221%22");
    assert_eq!(names(&get_json(&server, &format!("/api/v2/alerts?{both}"))?), ["CardDeclines"]);
    let none = "receiver_matchers=owner%3D%22nobody%22";
    assert_eq!(get_json(&server, &format!("/api/v2/alerts?{none}"))?, json!([]));

    let groups = get_json(&server, &format!("/api/v2/alerts/groups?{owner}"))?;
    assert_eq!(groups.as_array().map(Vec::len), Some(1), "{groups}");
    assert_eq!(groups[0]["receiver"]["name"], "payments");

    let (status, body) =
        blocking_request("GET", &format!("{}/api/v2/alerts?receiver_matchers=%7Bbroken", server.url), None, &[])?;
    assert_eq!(status, 400, "{body}");
    Ok(())
}

#[test]
fn groups_show_their_route_labels_inherited_and_overridden() -> TestResult {
    let server = Server::start(Some(CONFIG))?;
    post_alerts(&server)?;
    let groups = get_json(&server, "/api/v2/alerts/groups")?;
    let of = |receiver: &str| -> TestResult<Value> {
        let group = groups
            .as_array()
            .into_iter()
            .flatten()
            .find(|g| g["receiver"]["name"] == receiver)
            .ok_or(format!("no group for {receiver}: {groups}"))?;
        Ok(group["routeLabels"].clone())
    };
    assert_eq!(of("ops")?, json!({"environment": "production", "reason": "default"}));
    assert_eq!(of("payments")?, json!({"environment": "production", "reason": "payments"}));
    assert_eq!(of("search")?, json!({"environment": "production", "reason": "default"}));
    Ok(())
}

#[test]
fn an_alert_of_a_muted_route_names_the_time_interval_in_muted_by() -> TestResult {
    let server = Server::start(Some(CONFIG))?;
    post_alerts(&server)?;
    let alerts = get_json(&server, "/api/v2/alerts")?;
    for alert in alerts.as_array().ok_or("not an array")? {
        let muted = alert["labels"]["alertname"] == "IndexLag";
        let status = &alert["status"];
        assert_eq!(status["mutedBy"], if muted { json!(["every-day"]) } else { json!([]) }, "{alert}");
        assert_eq!(status["state"], if muted { "suppressed" } else { "active" }, "{alert}");
        assert_eq!((status["silencedBy"].clone(), status["inhibitedBy"].clone()), (json!([]), json!([])));
    }
    // `active=false` keeps only suppressed alerts, muted ones among them.
    assert_eq!(names(&get_json(&server, "/api/v2/alerts?active=false")?), ["IndexLag"]);
    let groups = get_json(&server, "/api/v2/alerts/groups")?;
    let search =
        groups.as_array().into_iter().flatten().find(|g| g["receiver"]["name"] == "search").ok_or("no search group")?;
    assert_eq!(search["alerts"][0]["status"]["mutedBy"], json!(["every-day"]));
    // `muted=false` leaves out the groups whose alerts are all muted.
    let unmuted = get_json(&server, "/api/v2/alerts/groups?muted=false")?;
    let mut receivers: Vec<&str> =
        unmuted.as_array().into_iter().flatten().filter_map(|g| g["receiver"]["name"].as_str()).collect();
    receivers.sort_unstable();
    assert_eq!(receivers, ["ops", "payments"], "{unmuted}");
    let (status, body) = blocking_request("GET", &format!("{}/api/v2/alerts?unprocessed=null", server.url), None, &[])?;
    assert_eq!(status, 400, "{body}");
    Ok(())
}

#[test]
fn silences_keep_annotations_and_filter_by_state() -> TestResult {
    let server = Server::start(Some(CONFIG))?;
    let now = chrono::Utc::now();
    let at = |minutes: i64| (now + chrono::Duration::minutes(minutes)).to_rfc3339();
    let silence = |name: &str, starts: i64, ends: i64, annotations: Option<Value>| {
        let mut s = json!({
            "matchers": [{"name": "alertname", "value": name, "isRegex": false, "isEqual": true}],
            "startsAt": at(starts), "endsAt": at(ends), "createdBy": "test", "comment": name,
        });
        if let Some(a) = annotations {
            s["annotations"] = a;
        }
        s
    };
    let active = post_json(&server, "/api/v2/silences", &silence("Active", 0, 60, Some(json!({"ticket": "OPS-1"}))))?;
    post_json(&server, "/api/v2/silences", &silence("Pending", 30, 60, None))?;
    let expiring = post_json(&server, "/api/v2/silences", &silence("Expired", 0, 60, None))?;
    let expiring = expiring["silenceID"].as_str().ok_or("no id")?;
    let (status, body) = blocking_request("DELETE", &format!("{}/api/v2/silence/{expiring}", server.url), None, &[])?;
    assert_eq!(status, 200, "{body}");

    let comments = |query: &str| -> TestResult<Vec<String>> {
        let listed = get_json(&server, &format!("/api/v2/silences{query}"))?;
        let mut c: Vec<String> =
            listed.as_array().into_iter().flatten().filter_map(|s| s["comment"].as_str().map(str::to_string)).collect();
        c.sort();
        Ok(c)
    };
    assert_eq!(comments("")?, ["Active", "Expired", "Pending"]);
    assert_eq!(comments("?active=false")?, ["Expired", "Pending"]);
    assert_eq!(comments("?pending=false&expired=false")?, ["Active"]);
    assert_eq!(comments("?active=false&pending=false&expired=false")?, Vec::<String>::new());
    assert_eq!(comments("?expired=true&active=false&pending=false")?, ["Expired"]);
    let (status, body) = blocking_request("GET", &format!("{}/api/v2/silences?active=perhaps", server.url), None, &[])?;
    assert_eq!(status, 400, "{body}");

    // Annotations come back as posted; a silence posted without them shows `{}`, never null.
    let id = active["silenceID"].as_str().ok_or("no id")?;
    assert_eq!(get_json(&server, &format!("/api/v2/silence/{id}"))?["annotations"], json!({"ticket": "OPS-1"}));
    for s in get_json(&server, "/api/v2/silences")?.as_array().ok_or("not an array")? {
        assert!(s["annotations"].is_object(), "{s}");
    }
    // An annotation with an empty name is refused.
    let (status, body) = blocking_request(
        "POST",
        &format!("{}/api/v2/silences", server.url),
        Some(&silence("Bad", 0, 60, Some(json!({"": "x"}))).to_string()),
        &[],
    )?;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("annotation"), "{body}");
    Ok(())
}

#[test]
fn time_intervals_mute_an_alert_only_in_the_groups_of_the_routes_they_hold_back() -> TestResult {
    let config = "
teams: [{name: ops}, {name: search}, {name: archive}]
time_intervals:
  - name: every-day
    time_intervals: [{weekdays: ['sunday:saturday']}]
  - name: in-2000
    time_intervals: [{years: ['2000']}]
route:
  receiver: ops
  group_by: [alertname]
  routes:
    - matchers: ['team=\"search\"']
      receiver: search
      mute_time_intervals: [every-day]
      continue: true
    - matchers: ['team=~\"search|index\"']
      receiver: ops
    - matchers: ['team=\"archive\"']
      receiver: archive
      active_time_intervals: [in-2000]
";
    let server = Server::start(Some(config))?;
    post_json(
        &server,
        "/api/v2/alerts",
        &json!([
            {"labels": {"alertname": "IndexLag", "team": "search"}},
            {"labels": {"alertname": "Backlog", "team": "archive"}},
        ]),
    )?;
    let groups = get_json(&server, "/api/v2/alerts/groups")?;
    let status_in = |receiver: &str, alertname: &str| -> TestResult<Value> {
        let group = groups
            .as_array()
            .into_iter()
            .flatten()
            .find(|g| g["receiver"]["name"] == receiver && g["labels"]["alertname"] == alertname)
            .ok_or(format!("no {receiver} group of {alertname}: {groups}"))?;
        Ok(group["alerts"][0]["status"].clone())
    };
    // One alert, two groups: muted where its route is held back, active in the other.
    assert_eq!(status_in("search", "IndexLag")?["mutedBy"], json!(["every-day"]));
    assert_eq!(status_in("ops", "IndexLag")?["mutedBy"], json!([]));
    assert_eq!(status_in("ops", "IndexLag")?["state"], "active");
    // Outside its active interval a route is held back too, and says by which interval.
    assert_eq!(status_in("archive", "Backlog")?["mutedBy"], json!(["in-2000"]));
    // `muted=false` drops the muted groups and keeps the unmuted one of the same alert.
    let unmuted = get_json(&server, "/api/v2/alerts/groups?muted=false")?;
    let listed: Vec<(String, String)> = unmuted
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| {
            (
                g["receiver"]["name"].as_str().unwrap_or("").into(),
                g["labels"]["alertname"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(listed, [("ops".to_string(), "IndexLag".to_string())], "{unmuted}");
    Ok(())
}
