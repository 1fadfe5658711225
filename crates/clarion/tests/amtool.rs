//! amtool, Alertmanager's own command-line client, driven against a running Clarion: every command an
//! operator uses (alerts, silences, config, cluster, authentication), and side by side with a real
//! Alertmanager 0.25 to show that both answer the same.

mod util;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{json, Value};
use util::{amtool, amtool_ok, eventually, Alertmanager, Server, TestResult};

/// Clarion's side of the comparison: one team, Alertmanager's grouping and the example's inhibit rule.
const CLARION_CONFIG: &str = r#"teams:
  - name: ops
route:
  receiver: ops
  group_by: [alertname, instance]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [alertname, instance]
"#;

/// The same routing and inhibition for Alertmanager, with a receiver that has no integrations.
const ALERTMANAGER_CONFIG: &str = r#"route:
  receiver: ops
  group_by: [alertname, instance]
receivers:
  - name: ops
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [alertname, instance]
"#;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Both streams and the exit status of a run, for failure messages.
fn describe(out: &Output) -> String {
    format!("{}\nstdout: {}\nstderr: {}", out.status, stdout(out), stderr(out))
}

fn args_with<'a>(prefix: &[&'a str], rest: &[&'a str]) -> Vec<&'a str> {
    prefix.iter().chain(rest).copied().collect()
}

fn parse_json(text: &str) -> TestResult<Value> {
    serde_json::from_str(text).map_err(|e| format!("amtool printed invalid JSON ({e}):\n{text}").into())
}

/// `amtool -o json alert query ARGS`, as the array it prints.
fn alerts_json(url: &str, args: &[&str]) -> TestResult<Vec<Value>> {
    let text = amtool_ok(url, &args_with(&["-o", "json", "alert", "query"], args))?;
    match parse_json(&text)? {
        Value::Array(items) => Ok(items),
        other => Err(format!("expected a JSON array of alerts, amtool printed {other}").into()),
    }
}

/// `amtool -o json silence query ARGS`, as the array it prints.
fn silences_json(url: &str, args: &[&str]) -> TestResult<Vec<Value>> {
    let text = amtool_ok(url, &args_with(&["-o", "json", "silence", "query"], args))?;
    match parse_json(&text)? {
        Value::Array(items) => Ok(items),
        other => Err(format!("expected a JSON array of silences, amtool printed {other}").into()),
    }
}

fn label<'a>(alert: &'a Value, name: &str) -> &'a str {
    alert["labels"][name].as_str().unwrap_or("")
}

/// The (alertname, instance) of each alert amtool printed as JSON, sorted.
fn names_and_instances(alerts: &[Value]) -> Vec<(String, String)> {
    let mut out: Vec<_> =
        alerts.iter().map(|a| (label(a, "alertname").to_string(), label(a, "instance").to_string())).collect();
    out.sort();
    out
}

/// Parses one of amtool's tables (`simple` and `extended` output) into rows keyed by column header.
/// Columns are found from the header line: a column starts where text follows two spaces or more.
fn parse_table(text: &str) -> TestResult<Vec<BTreeMap<String, String>>> {
    let mut lines = text.lines();
    let header: Vec<char> =
        lines.next().ok_or_else(|| format!("amtool printed no table header:\n{text}"))?.chars().collect();
    let starts: Vec<usize> = (0..header.len())
        .filter(|&i| header[i] != ' ' && (i == 0 || (i >= 2 && header[i - 1] == ' ' && header[i - 2] == ' ')))
        .collect();
    let cell = |row: &[char], i: usize| -> String {
        let from = starts[i].min(row.len());
        let to = starts.get(i + 1).copied().unwrap_or(row.len()).min(row.len());
        row[from..to].iter().collect::<String>().trim().to_string()
    };
    let names: Vec<String> = (0..starts.len()).map(|i| cell(&header, i)).collect();
    Ok(lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let row: Vec<char> = line.chars().collect();
            names.iter().enumerate().map(|(i, name)| (name.clone(), cell(&row, i))).collect()
        })
        .collect())
}

/// `amtool alert query ARGS` in the simple table format, as sorted (Alertname, Summary, State) rows.
fn alert_rows(url: &str, args: &[&str]) -> TestResult<Vec<(String, String, String)>> {
    let text = amtool_ok(url, &args_with(&["alert", "query"], args))?;
    let rows = parse_table(&text)?;
    let mut out: Vec<_> = rows
        .iter()
        .map(|r| {
            let get = |k: &str| r.get(k).cloned().unwrap_or_default();
            (get("Alertname"), get("Summary"), get("State"))
        })
        .collect();
    out.sort();
    Ok(out)
}

fn row(name: &str, summary: &str, state: &str) -> (String, String, String) {
    (name.to_string(), summary.to_string(), state.to_string())
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// `amtool silence add ARGS`; returns the id it prints after checking it is the only thing printed.
fn add_silence(url: &str, args: &[&str]) -> TestResult<String> {
    let out = amtool_ok(url, &args_with(&["silence", "add"], args))?;
    let id = out.trim().to_string();
    if !is_uuid(&id) {
        return Err(format!("`amtool silence add` should print just the new silence's id, printed {out:?}").into());
    }
    Ok(id)
}

/// `amtool silence query -q ARGS`: the ids printed, one a line, in order.
fn silence_ids(url: &str, args: &[&str]) -> TestResult<Vec<String>> {
    let out = amtool_ok(url, &args_with(&["silence", "query", "-q"], args))?;
    Ok(out.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
}

/// The ids in the `ID` column of the table `amtool silence update` prints.
fn updated_ids(text: &str) -> TestResult<Vec<String>> {
    Ok(parse_table(text)?.iter().filter_map(|r| r.get("ID").cloned()).collect())
}

/// Reads a time as amtool's tables print it (`2006-01-02 15:04:05 UTC`).
fn table_time(text: &str) -> TestResult<DateTime<Utc>> {
    Ok(NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S UTC")
        .map_err(|e| format!("{text:?} is not amtool's date format: {e}"))?
        .and_utc())
}

fn assert_about(t: DateTime<Utc>, expected: DateTime<Utc>, what: &str) {
    let off = (t - expected).num_seconds().abs();
    assert!(off <= 60, "{what}: expected about {expected}, amtool printed {t}");
}

/// RFC 3339 to the second, what amtool's `--start` and `--end` take.
fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Writes an amtool `--http.config.file` that sends `token` as a bearer token; returns the flag.
fn bearer_config(dir: &Path, name: &str, token: &str) -> TestResult<String> {
    let path = dir.join(format!("{name}.http.yml"));
    std::fs::write(&path, format!("authorization:\n  type: Bearer\n  credentials: {token}\n"))?;
    Ok(format!("--http.config.file={}", path.display()))
}

fn new_token() -> String {
    format!("amtool-test-{}", uuid::Uuid::new_v4().simple())
}

/// Posts Foo/a critical and warning (the warning is inhibited by the built-in rule), Bar/b (to be silenced)
/// and Baz/c, each with a summary except Baz.
fn post_example_alerts(url: &str) -> TestResult {
    amtool_ok(url, &["alert", "add", "Foo", "instance=a", "severity=critical", "--annotation=summary=crit"])?;
    amtool_ok(url, &["alert", "add", "Foo", "instance=a", "severity=warning", "--annotation=summary=warn"])?;
    amtool_ok(url, &["alert", "add", "Bar", "instance=b", "severity=info", "--annotation=summary=bar thing"])?;
    amtool_ok(url, &["alert", "add", "Baz", "instance=c", "severity=critical"])?;
    Ok(())
}

#[test]
fn alert_add_then_query_lists_the_alert_in_the_table_and_as_json() -> TestResult {
    let server = Server::start(None)?;
    let out = amtool(
        &server.url,
        &["alert", "add", "DiskFull", "instance=db1", "severity=critical", "--annotation=summary=Disk is full"],
    )?;
    assert!(out.status.success(), "alert add failed: {}", describe(&out));
    assert_eq!(stdout(&out), "", "alert add prints nothing on success");

    let text = amtool_ok(&server.url, &["alert", "query"])?;
    let rows = parse_table(&text)?;
    assert_eq!(rows.len(), 1, "{text}");
    assert_eq!(rows[0].get("Alertname").map(String::as_str), Some("DiskFull"), "{text}");
    assert_eq!(rows[0].get("Summary").map(String::as_str), Some("Disk is full"), "{text}");
    assert_eq!(rows[0].get("State").map(String::as_str), Some("active"), "{text}");
    assert_about(table_time(rows[0].get("Starts At").map_or("", String::as_str))?, Utc::now(), "Starts At");

    let alerts = alerts_json(&server.url, &[])?;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert["labels"], json!({"alertname": "DiskFull", "instance": "db1", "severity": "critical"}));
    assert_eq!(alert["annotations"], json!({"summary": "Disk is full"}));
    // What Alertmanager 0.25 computes for this label set.
    assert_eq!(alert["fingerprint"], "e94c744ae3d44df8");
    assert_eq!(alert["status"], json!({"inhibitedBy": [], "silencedBy": [], "state": "active"}));
    assert_eq!(alert["receivers"], json!([{"name": "ops"}]));
    Ok(())
}

#[test]
fn alert_query_matchers_select_by_equality_regex_and_negation() -> TestResult {
    let server = Server::start(None)?;
    let url = &server.url;
    amtool_ok(url, &["alert", "add", "Foo", "instance=a", "severity=critical"])?;
    amtool_ok(url, &["alert", "add", "Foo", "instance=b", "severity=warning"])?;
    amtool_ok(url, &["alert", "add", "Bar", "instance=c", "severity=critical-ish"])?;
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    };

    // (amtool arguments, the (alertname, instance) pairs listed)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);
    let cases: &[Case] = &[
        (&["alertname=Foo"], &[("Foo", "a"), ("Foo", "b")]),
        (&["Foo"], &[("Foo", "a"), ("Foo", "b")]),
        (&[r#"severity=~"crit.*""#], &[("Bar", "c"), ("Foo", "a")]),
        (&["instance!=a"], &[("Bar", "c"), ("Foo", "b")]),
        (&["alertname=Foo", "instance!=a"], &[("Foo", "b")]),
        (&[r#"severity!~"crit.*""#], &[("Foo", "b")]),
        (&["alertname=Nope"], &[]),
    ];
    for (args, expected) in cases {
        let got = names_and_instances(&alerts_json(url, args)?);
        assert_eq!(got, pairs(expected), "amtool alert query {args:?}");
    }

    // An empty result is still a table with its header.
    let text = amtool_ok(url, &["alert", "query", "alertname=Nope"])?;
    assert_eq!(parse_table(&text)?.len(), 0, "{text}");
    assert!(text.starts_with("Alertname"), "{text}");
    Ok(())
}

#[test]
fn alert_query_shows_unsuppressed_alerts_by_default_and_silenced_or_inhibited_ones_on_request() -> TestResult {
    // The built-in example's inhibit rule mutes Foo/a's warning while Foo/a is critical.
    let server = Server::start(None)?;
    let url = &server.url;
    post_example_alerts(url)?;
    let silence = add_silence(url, &["alertname=Bar", "-c", "Bar is known", "-d", "1h"])?;

    let foo_crit = row("Foo", "crit", "active");
    let baz = row("Baz", "", "active");
    let foo_warn = row("Foo", "warn", "suppressed");
    let bar = row("Bar", "bar thing", "suppressed");
    let sorted = |mut v: Vec<(String, String, String)>| {
        v.sort();
        v
    };
    assert_eq!(alert_rows(url, &[])?, sorted(vec![foo_crit.clone(), baz.clone()]), "alert query");
    assert_eq!(alert_rows(url, &["--active"])?, sorted(vec![foo_crit.clone(), baz.clone()]), "alert query -a");
    assert_eq!(alert_rows(url, &["-s"])?, vec![bar.clone()], "alert query -s");
    assert_eq!(alert_rows(url, &["--silenced"])?, vec![bar.clone()], "alert query --silenced");
    assert_eq!(alert_rows(url, &["-i"])?, vec![foo_warn.clone()], "alert query -i");
    assert_eq!(alert_rows(url, &["--inhibited"])?, vec![foo_warn.clone()], "alert query --inhibited");
    assert_eq!(alert_rows(url, &["-s", "-i"])?, sorted(vec![bar.clone(), foo_warn.clone()]), "alert query -s -i");
    assert_eq!(
        alert_rows(url, &["-a", "-s", "-i"])?,
        sorted(vec![foo_crit, baz, foo_warn, bar]),
        "alert query -a -s -i"
    );
    assert_eq!(alert_rows(url, &["-s", "-i", "instance!=a"])?, vec![row("Bar", "bar thing", "suppressed")]);

    let alerts = alerts_json(url, &["-a", "-s", "-i"])?;
    let by_summary = |s: &str| alerts.iter().find(|a| a["annotations"]["summary"] == s);
    let crit = by_summary("crit").ok_or("Foo critical is listed")?;
    let warn = by_summary("warn").ok_or("Foo warning is listed")?;
    let silenced = by_summary("bar thing").ok_or("Bar is listed")?;
    assert_eq!(warn["status"], json!({"inhibitedBy": [crit["fingerprint"]], "silencedBy": [], "state": "suppressed"}));
    assert_eq!(silenced["status"], json!({"inhibitedBy": [], "silencedBy": [silence], "state": "suppressed"}));
    assert_eq!(crit["status"]["state"], "active");
    Ok(())
}

#[test]
fn silence_add_prints_an_id_that_query_lists_and_quiet_query_prints_alone() -> TestResult {
    let server = Server::start(None)?;
    let url = &server.url;
    let foo =
        add_silence(url, &["alertname=Foo", r#"instance=~"a|b""#, "-c", "maintenance", "-d", "1h", "-a", "alice"])?;

    let text = amtool_ok(url, &["silence", "query"])?;
    let rows = parse_table(&text)?;
    assert_eq!(rows.len(), 1, "{text}");
    let get = |k: &str| rows[0].get(k).map(String::as_str).unwrap_or("");
    assert_eq!(get("ID"), foo, "{text}");
    assert_eq!(get("Matchers"), r#"alertname="Foo" instance=~"a|b""#, "{text}");
    assert_eq!(get("Created By"), "alice", "{text}");
    assert_eq!(get("Comment"), "maintenance", "{text}");
    assert_about(table_time(get("Ends At"))?, Utc::now() + chrono::Duration::hours(1), "Ends At of a 1h silence");

    let bar = add_silence(url, &["alertname=Bar", "-c", "known", "-d", "2h", "-a", "bob"])?;
    assert_ne!(foo, bar);
    // Active silences list soonest end first.
    assert_eq!(silence_ids(url, &[])?, vec![foo.clone(), bar.clone()]);
    assert_eq!(silence_ids(url, &["alertname=Bar"])?, vec![bar.clone()]);
    assert_eq!(silence_ids(url, &["alertname=Nope"])?, Vec::<String>::new());
    assert_eq!(silence_ids(url, &["--within=90m"])?, vec![foo.clone()], "silence query --within=90m");

    let silences = silences_json(url, &["alertname=Foo"])?;
    assert_eq!(silences.len(), 1, "{silences:?}");
    let s = &silences[0];
    assert_eq!(s["id"], foo.as_str());
    assert_eq!(s["status"], json!({"state": "active"}));
    assert_eq!(s["comment"], "maintenance");
    assert_eq!(s["createdBy"], "alice");
    assert_eq!(
        s["matchers"],
        json!([
            {"isEqual": true, "isRegex": false, "name": "alertname", "value": "Foo"},
            {"isEqual": true, "isRegex": true, "name": "instance", "value": "a|b"},
        ])
    );
    Ok(())
}

#[test]
fn silence_expire_moves_the_silence_to_the_expired_listing_and_unmutes_its_alerts() -> TestResult {
    let server = Server::start(None)?;
    let url = &server.url;
    amtool_ok(url, &["alert", "add", "Foo", "instance=a"])?;
    let id = add_silence(url, &["alertname=Foo", "-c", "brief", "-d", "1h"])?;
    assert_eq!(alert_rows(url, &["-s"])?, vec![row("Foo", "", "suppressed")]);

    let out = amtool(url, &["silence", "expire", &id])?;
    assert!(out.status.success(), "silence expire failed: {}", describe(&out));
    assert_eq!(stdout(&out), "", "silence expire prints nothing on success");
    assert_eq!(silence_ids(url, &[])?, Vec::<String>::new(), "silence query no longer lists it");
    assert_eq!(silence_ids(url, &["--expired"])?, vec![id.clone()], "silence query --expired lists it");
    let expired = silences_json(url, &["--expired"])?;
    assert_eq!(expired[0]["status"]["state"], "expired");
    assert_eq!(alert_rows(url, &[])?, vec![row("Foo", "", "active")], "the alert is no longer silenced");

    // Expiring it again is not an error (Alertmanager 0.25 agrees); an unknown id is.
    let again = amtool(url, &["silence", "expire", &id])?;
    assert!(again.status.success(), "expiring an expired silence: {}", describe(&again));
    let unknown = amtool(url, &["silence", "expire", "00000000-0000-0000-0000-000000000000"])?;
    assert!(!unknown.status.success(), "expiring an unknown silence should fail: {}", describe(&unknown));
    assert!(stderr(&unknown).contains("404"), "Clarion answers 404 for an unknown silence: {}", describe(&unknown));
    Ok(())
}

/// Regression: Clarion replaced the silence (new id, old one expired) because it compared the stored start,
/// with nanoseconds, to the millisecond start amtool reads and sends back.
#[test]
fn silence_update_of_the_end_or_comment_keeps_the_id_of_an_active_silence() -> TestResult {
    let server = Server::start(None)?;
    let url = &server.url;
    let id = add_silence(url, &["alertname=Foo", "-c", "first", "-d", "1h", "-a", "alice"])?;

    let text = amtool_ok(url, &["silence", "update", &id, "--duration=2h"])?;
    assert_eq!(
        updated_ids(&text)?,
        vec![id.clone()],
        "Alertmanager keeps the id when only the end of an active silence changes:\n{text}"
    );
    let text = amtool_ok(url, &["silence", "update", &id, "--comment=second"])?;
    assert_eq!(updated_ids(&text)?, vec![id.clone()], "and when only its comment changes:\n{text}");

    let rows = parse_table(&amtool_ok(url, &["silence", "query"])?)?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].get("ID"), Some(&id));
    assert_eq!(rows[0].get("Comment").map(String::as_str), Some("second"));
    assert_about(
        table_time(rows[0].get("Ends At").map_or("", String::as_str))?,
        Utc::now() + chrono::Duration::hours(2),
        "Ends At after --duration=2h",
    );
    assert_eq!(silence_ids(url, &["--expired"])?, Vec::<String>::new(), "nothing was expired");
    Ok(())
}

/// Alertmanager 0.25 compares an active silence's start to the second when deciding to update in place, so
/// the start as amtool's tables print it (`2026-11-27 06:00:32 UTC`) counts as unchanged.
#[test]
fn silence_update_with_the_start_as_printed_to_the_second_keeps_the_id_of_an_active_silence() -> TestResult {
    let server = Server::start(None)?;
    let url = &server.url;
    let id = add_silence(url, &["alertname=Foo", "-c", "first", "-d", "1h"])?;
    let rows = parse_table(&amtool_ok(url, &["silence", "query", "-o", "extended"])?)?;
    let printed = table_time(rows.first().and_then(|r| r.get("Starts At")).map_or("", String::as_str))?;
    let end = printed + chrono::Duration::hours(3);

    let start_flag = format!("--start={}", rfc3339(printed));
    let text = amtool_ok(url, &["silence", "update", &id, &start_flag, &format!("--end={}", rfc3339(end))])?;
    assert_eq!(
        updated_ids(&text)?,
        vec![id.clone()],
        "Alertmanager keeps the id when the start equals the silence's start to the second ({start_flag}):\n{text}"
    );
    assert_eq!(silence_ids(url, &["--expired"])?, Vec::<String>::new(), "nothing was expired");
    Ok(())
}

#[test]
fn silence_update_of_the_start_replaces_an_active_silence_and_a_pending_one_keeps_its_id() -> TestResult {
    let server = Server::start(None)?;
    let url = &server.url;
    let id = add_silence(url, &["alertname=Foo", "-c", "now", "-d", "1h"])?;
    let start = Utc::now() + chrono::Duration::days(1);
    let (start_flag, end_flag) =
        (format!("--start={}", rfc3339(start)), format!("--end={}", rfc3339(start + chrono::Duration::hours(1))));

    let text = amtool_ok(url, &["silence", "update", &id, &start_flag, &end_flag])?;
    let new_ids = updated_ids(&text)?;
    assert_eq!(new_ids.len(), 1, "{text}");
    let moved = new_ids[0].clone();
    assert!(is_uuid(&moved) && moved != id, "moving the start of an active silence makes a new one:\n{text}");
    assert_eq!(silence_ids(url, &["--expired"])?, vec![id], "the old one is expired, keeping history");
    let pending = silences_json(url, &[])?;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["id"], moved.as_str());
    assert_eq!(pending[0]["status"]["state"], "pending");
    assert_eq!(pending[0]["startsAt"], start.format("%Y-%m-%dT%H:%M:%S.000Z").to_string());

    let text = amtool_ok(url, &["silence", "update", &moved, "--comment=later still"])?;
    assert_eq!(updated_ids(&text)?, vec![moved.clone()], "a pending silence is updated in place:\n{text}");
    assert_eq!(silences_json(url, &[])?[0]["comment"], "later still");
    Ok(())
}

/// The fields of a silence that survive an export and import: everything but id, times of change and start.
fn portable(s: &Value) -> Value {
    json!({
        "matchers": s["matchers"],
        "comment": s["comment"],
        "createdBy": s["createdBy"],
        "endsAt": s["endsAt"],
        "status": s["status"],
    })
}

#[test]
fn silence_import_recreates_exported_silences_on_another_server_and_refuses_expired_ones() -> TestResult {
    let source = Server::start(None)?;
    let a = add_silence(&source.url, &["alertname=Foo", r#"instance=~"a|b""#, "-c", "one", "-d", "1h", "-a", "alice"])?;
    let b = add_silence(&source.url, &["alertname=Bar", "severity!=info", "-c", "two", "-d", "2h", "-a", "bob"])?;
    let gone = add_silence(&source.url, &["alertname=Gone", "-c", "three", "-d", "1h"])?;
    amtool_ok(&source.url, &["silence", "expire", &gone])?;
    let active_file = source.dir.join("active.json");
    let expired_file = source.dir.join("expired.json");
    std::fs::write(&active_file, amtool_ok(&source.url, &["-o", "json", "silence", "query"])?)?;
    std::fs::write(&expired_file, amtool_ok(&source.url, &["-o", "json", "silence", "query", "--expired"])?)?;

    let target = Server::start(None)?;
    let out = amtool_ok(&target.url, &["silence", "import", &active_file.display().to_string()])?;
    let imported: BTreeSet<String> = out.lines().map(|l| l.trim().to_string()).collect();
    assert_eq!(imported.len(), 2, "import prints one id per silence:\n{out}");
    assert!(imported.iter().all(|id| is_uuid(id) && *id != a && *id != b), "unknown ids become new ones:\n{out}");
    assert_eq!(imported, silence_ids(&target.url, &[])?.into_iter().collect());
    let exported: Vec<Value> = silences_json(&source.url, &[])?.iter().map(portable).collect();
    let recreated: Vec<Value> = silences_json(&target.url, &[])?.iter().map(portable).collect();
    assert_eq!(recreated, exported, "the imported silences have the exported matchers, comment, author and end");

    let out = amtool(&target.url, &["silence", "import", &expired_file.display().to_string()])?;
    assert_eq!(stdout(&out), "", "nothing imported: {}", describe(&out));
    assert!(
        stderr(&out).contains(&format!("Error adding silence id='{gone}'"))
            && stderr(&out).contains("end time can't be in the past"),
        "an expired silence cannot be imported: {}",
        describe(&out)
    );
    assert_eq!(silence_ids(&target.url, &["--expired"])?, Vec::<String>::new());

    // --force imports copies even where the ids exist.
    let out = amtool_ok(&source.url, &["silence", "import", "--force", &active_file.display().to_string()])?;
    let copies: BTreeSet<String> = out.lines().map(|l| l.trim().to_string()).collect();
    assert_eq!(copies.len(), 2, "{out}");
    assert!(!copies.contains(&a) && !copies.contains(&b), "{out}");
    assert_eq!(silence_ids(&source.url, &[])?.len(), 4, "originals and copies are all active");
    Ok(())
}

/// Regression: the nanosecond start comparison (see `silence_update_of_the_end_or_comment_keeps_the_id_…`)
/// made re-importing a backup into the same server expire every silence and create a duplicate.
#[test]
fn silence_import_into_the_same_server_leaves_unchanged_silences_as_they_are() -> TestResult {
    let server = Server::start(None)?;
    let url = &server.url;
    let a = add_silence(url, &["alertname=Foo", "-c", "one", "-d", "1h"])?;
    let b = add_silence(url, &["alertname=Bar", "-c", "two", "-d", "2h"])?;
    let file = server.dir.join("backup.json");
    std::fs::write(&file, amtool_ok(url, &["-o", "json", "silence", "query"])?)?;

    let out = amtool_ok(url, &["silence", "import", &file.display().to_string()])?;
    let ids: BTreeSet<String> = out.lines().map(|l| l.trim().to_string()).collect();
    assert_eq!(ids, BTreeSet::from([a.clone(), b.clone()]), "Alertmanager keeps the ids of unchanged silences");
    assert_eq!(silence_ids(url, &[])?, vec![a, b]);
    assert_eq!(silence_ids(url, &["--expired"])?, Vec::<String>::new(), "nothing was expired");
    Ok(())
}

#[test]
fn config_show_prints_clarions_configuration_and_cluster_show_reports_clustering_disabled() -> TestResult {
    let server = Server::start(Some(CLARION_CONFIG))?;
    let url = &server.url;
    let shown = amtool_ok(url, &["config", "show"])?;
    // As Alertmanager prints its configuration as it understood it (secrets as `<secret>`), so does
    // Clarion: the parsed clarion.yml, defaults written out, unset optional fields left out.
    let expected = clarion_config::Config::parse(CLARION_CONFIG, "clarion.yml")?.shown();
    assert_eq!(shown.trim_end(), expected.trim_end(), "config show prints clarion.yml as understood");
    assert!(shown.contains("receiver: ops") && shown.contains("max_body_bytes: 8388608"), "{shown}");
    assert_eq!(amtool_ok(url, &["config"])?, shown, "`config` alone means `config show`");

    let text = amtool_ok(url, &["cluster", "show"])?;
    let status = text.lines().find_map(|l| l.strip_prefix("Cluster Status:")).map(str::trim);
    assert_eq!(status, Some("disabled"), "{text}");
    assert_eq!(
        parse_json(&amtool_ok(url, &["-o", "json", "cluster", "show"])?)?,
        json!({"peers": [], "status": "disabled"})
    );
    Ok(())
}

/// The shape of `auth.tokens` entries written on one line, as people paste them.
fn token_entry(name: &str, token: &str, scopes: &str) -> String {
    format!("    - {{name: {name}, sha256: {}, scopes: [{scopes}]}}\n", clarion_server::hash_token(token))
}

#[test]
fn config_show_never_reveals_token_hashes_whatever_the_yaml_style() -> TestResult {
    let (block, flow) = (new_token(), new_token());
    let config = format!(
        concat!(
            "teams: [{{name: ops}}]\nroute: {{receiver: ops}}\nauth:\n  tokens:\n",
            "    - name: block\n      sha256: {}\n      scopes: [admin]\n{}",
        ),
        clarion_server::hash_token(&block),
        token_entry("flow", &flow, "read"),
    );
    let server = Server::start(Some(&config))?;
    let auth = bearer_config(&server.dir, "admin", &block)?;
    let shown = amtool_ok(&server.url, &[&auth, "config", "show"])?;
    assert!(shown.contains("name: block") && shown.contains("name: flow"), "{shown}");
    assert!(!shown.contains(&clarion_server::hash_token(&block)), "the block-style hash is shown:\n{shown}");
    assert!(!shown.contains(&clarion_server::hash_token(&flow)), "the flow-style hash is shown:\n{shown}");
    Ok(())
}

#[test]
fn amtool_without_a_token_is_refused_with_401_and_with_a_bearer_token_file_gets_in() -> TestResult {
    let admin = new_token();
    let config = format!(
        "teams: [{{name: ops}}]\nroute: {{receiver: ops}}\nauth:\n  tokens:\n{}",
        token_entry("root", &admin, "admin")
    );
    let server = Server::start(Some(&config))?;
    let url = &server.url;

    for args in [
        &["alert", "query"][..],
        &["alert", "add", "Foo"],
        &["silence", "query"],
        &["silence", "add", "a=b", "-c", "x"],
    ] {
        let out = amtool(url, args)?;
        assert!(!out.status.success(), "amtool {args:?} without a token should fail: {}", describe(&out));
        assert!(stderr(&out).contains("status 401"), "amtool {args:?}: {}", describe(&out));
    }
    let wrong = bearer_config(&server.dir, "wrong", "not-a-token")?;
    let out = amtool(url, &[&wrong, "alert", "query"])?;
    assert!(!out.status.success() && stderr(&out).contains("status 401"), "unknown token: {}", describe(&out));

    let auth = bearer_config(&server.dir, "admin", &admin)?;
    amtool_ok(url, &[&auth, "alert", "add", "Foo", "instance=a"])?;
    assert_eq!(alert_rows(url, &[&auth])?, vec![row("Foo", "", "active")]);
    let id = add_silence(url, &[&auth, "alertname=Foo", "-c", "with a token", "-d", "1h"])?;
    assert_eq!(silence_ids(url, &[&auth])?, vec![id.clone()]);
    amtool_ok(url, &[&auth, "silence", "expire", &id])?;
    assert_eq!(silence_ids(url, &[&auth])?, Vec::<String>::new());
    Ok(())
}

#[test]
fn a_read_token_can_query_but_not_change_and_an_ingest_token_can_only_add_alerts() -> TestResult {
    let (admin, read, ingest) = (new_token(), new_token(), new_token());
    let config = format!(
        "teams: [{{name: ops}}]\nroute: {{receiver: ops}}\nauth:\n  tokens:\n{}{}{}",
        token_entry("root", &admin, "admin"),
        token_entry("dashboard", &read, "read"),
        token_entry("prometheus", &ingest, "ingest"),
    );
    let server = Server::start(Some(&config))?;
    let url = &server.url;
    let (admin, read, ingest) = (
        bearer_config(&server.dir, "admin", &admin)?,
        bearer_config(&server.dir, "read", &read)?,
        bearer_config(&server.dir, "ingest", &ingest)?,
    );
    let (admin, read, ingest) = (admin.as_str(), read.as_str(), ingest.as_str());

    amtool_ok(url, &[ingest, "alert", "add", "Foo", "instance=a"])?;
    let id = add_silence(url, &[admin, "alertname=Bar", "-c", "by admin", "-d", "1h"])?;

    assert_eq!(alert_rows(url, &[read])?, vec![row("Foo", "", "active")], "read may query alerts");
    assert_eq!(silence_ids(url, &[read])?, vec![id.clone()], "read may query silences");
    assert!(amtool_ok(url, &[read, "config", "show"])?.contains("dashboard"), "read may see the configuration");

    let forbidden: [(&str, Vec<&str>); 5] = [
        ("read", vec![read, "silence", "add", "alertname=Foo", "-c", "x"]),
        ("read", vec![read, "silence", "expire", &id]),
        ("read", vec![read, "alert", "add", "Bar"]),
        ("ingest", vec![ingest, "alert", "query"]),
        ("ingest", vec![ingest, "silence", "add", "alertname=Foo", "-c", "x"]),
    ];
    for (who, args) in forbidden {
        let out = amtool(url, &args)?;
        assert!(!out.status.success(), "{who} token: amtool {:?} should fail: {}", &args[1..], describe(&out));
        assert!(stderr(&out).contains("status 403"), "{who} token: amtool {:?}: {}", &args[1..], describe(&out));
    }
    assert_eq!(silence_ids(url, &[admin])?, vec![id], "nothing changed");
    Ok(())
}

// --- Side by side with Alertmanager 0.25 ---

/// Replaces every timestamp (`2026-11-27 05:51:45 UTC`, `2026-11-27T05:51:45.313Z`) by `<time>`.
fn mask_times(text: &str) -> String {
    const SHAPE: &str = "dddd-dd-dd?dd:dd:dd";
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let is_time = chars.len() - i >= SHAPE.len()
            && SHAPE.chars().zip(&chars[i..]).all(|(s, &c)| match s {
                'd' => c.is_ascii_digit(),
                '?' => c == ' ' || c == 'T',
                s => c == s,
            });
        if is_time {
            i += SHAPE.len();
            if chars.get(i) == Some(&'.') {
                i += 1;
                while chars.get(i).is_some_and(char::is_ascii_digit) {
                    i += 1;
                }
            }
            out.push_str("<time>");
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Gives silence ids stable names so that two servers' outputs compare: ids named when created, others
/// `<new N>` in the order first seen.
#[derive(Default)]
struct IdNames(Vec<(String, String)>);

impl IdNames {
    fn name(&mut self, id: &str, name: &str) {
        self.0.push((id.to_string(), name.to_string()));
    }

    fn of(&mut self, id: &str) -> String {
        if let Some((_, name)) = self.0.iter().find(|(known, _)| known == id) {
            return name.clone();
        }
        let name = format!("<new {}>", self.0.len() + 1);
        self.name(id, &name);
        name
    }

    fn replace_in(&self, text: &str) -> String {
        self.0.iter().fold(text.to_string(), |t, (id, name)| t.replace(id, name))
    }

    /// A silence with its id named and its times masked.
    fn silence(&mut self, s: &Value) -> Value {
        let mut s = s.clone();
        let id = s["id"].as_str().unwrap_or("").to_string();
        s["id"] = json!(self.of(&id));
        for field in ["startsAt", "endsAt", "updatedAt"] {
            s[field] = json!("<time>");
        }
        s
    }
}

/// What one server answered, command by command.
type Transcript = Vec<(String, String)>;

/// Lists every difference between Alertmanager's and Clarion's transcripts, with both outputs.
fn differences(am: &Transcript, clarion: &Transcript) -> Vec<String> {
    let mut diffs = Vec::new();
    for ((command, expected), (_, got)) in am.iter().zip(clarion) {
        if expected != got {
            diffs.push(format!("`{command}`:\n--- Alertmanager:\n{expected}\n--- Clarion:\n{got}\n"));
        }
    }
    if am.len() != clarion.len() {
        diffs.push(format!("{} commands on Alertmanager, {} on Clarion", am.len(), clarion.len()));
    }
    diffs
}

/// Waits until the server lists `count` alerts and has worked out silences and inhibitions (Alertmanager's
/// inhibitor learns of new alerts asynchronously). Gives up quietly after 5 s, so that a server that never
/// settles shows up as a difference in the comparison rather than as a timeout.
fn settle(url: &str, count: usize) -> TestResult {
    let settled = eventually(Duration::from_secs(5), "alerts to settle", || {
        let alerts = alerts_json(url, &["-a", "-s", "-i"])?;
        let some = |field: &str| alerts.iter().any(|a| a["status"][field].as_array().is_some_and(|v| !v.is_empty()));
        Ok((alerts.len() == count && some("inhibitedBy") && some("silencedBy")).then_some(()))
    });
    if let Err(e) = settled {
        eprintln!("{url}: {e}; comparing what it shows");
    }
    Ok(())
}

fn alert_scenario(url: &str, start: &str, end: &str) -> TestResult<Transcript> {
    let times = [format!("--start={start}"), format!("--end={end}")];
    let alerts: [&[&str]; 5] = [
        &["Foo", "instance=a", "severity=critical", "--annotation=summary=crit"],
        &["Foo", "instance=a", "severity=warning", "--annotation=summary=warn"],
        &[
            "Bar",
            "instance=b",
            "severity=info",
            "--annotation=summary=bar thing",
            "--generator-url=http://example.com/bar",
        ],
        &["Baz", "instance=c", "severity=critical"],
        &["Qux", "instance=d", "severity=warning", "team=payments", "--annotation=runbook=https://example.com/qux"],
    ];
    for alert in alerts {
        let mut args = vec!["alert", "add"];
        args.extend_from_slice(alert);
        args.extend(times.iter().map(String::as_str));
        amtool_ok(url, &args)?;
    }
    let mut ids = IdNames::default();
    let silence = add_silence(url, &["alertname=Bar", "-c", "silence bar", "-d", "1h", "-a", "tester"])?;
    ids.name(&silence, "<silence>");
    settle(url, alerts.len())?;

    let mut transcript = Transcript::new();
    let queries: [&[&str]; 16] = [
        &[],
        &["-a"],
        &["-s"],
        &["-i"],
        &["-s", "-i"],
        &["-a", "-s", "-i"],
        &["Foo"],
        &["alertname=Foo"],
        &[r#"severity=~"crit.*""#],
        &["instance!=a"],
        &["-s", "-i", "instance!=a"],
        &["-a", "-s", "-i", r#"alertname=~"B.*""#, "severity!=critical"],
        &["-r", "ops"],
        &["-r", "nope"],
        &["-o", "extended"],
        &["-o", "extended", "-a", "-s", "-i"],
    ];
    for query in queries {
        let out = amtool_ok(url, &args_with(&["alert", "query"], query))?;
        transcript.push((format!("amtool alert query {}", query.join(" ")), ids.replace_in(&out)));
    }
    let mut alerts = alerts_json(url, &["-a", "-s", "-i"])?;
    for alert in &mut alerts {
        alert["updatedAt"] = json!("<time>");
    }
    transcript
        .push(("amtool -o json alert query -a -s -i".into(), ids.replace_in(&serde_json::to_string_pretty(&alerts)?)));
    let silences: Vec<Value> = silences_json(url, &[])?.iter().map(|s| ids.silence(s)).collect();
    transcript.push(("amtool -o json silence query".into(), serde_json::to_string_pretty(&silences)?));
    let table = amtool_ok(url, &["silence", "query"])?;
    transcript.push(("amtool silence query".into(), mask_times(&ids.replace_in(&table))));
    Ok(transcript)
}

#[test]
fn amtool_shows_the_same_alerts_and_states_on_clarion_as_on_alertmanager() -> TestResult {
    let alertmanager = Alertmanager::start(ALERTMANAGER_CONFIG)?;
    let clarion = Server::start(Some(CLARION_CONFIG))?;
    // Fixed times, so that amtool's tables print the same on both.
    let start = Utc::now() - chrono::Duration::minutes(10);
    let (start, end) = (rfc3339(start), rfc3339(start + chrono::Duration::hours(2)));

    let expected = alert_scenario(&alertmanager.url, &start, &end)?;
    let got = alert_scenario(&clarion.url, &start, &end)?;
    let diffs = differences(&expected, &got);
    assert!(
        diffs.is_empty(),
        "amtool output differs:\n{}\nAlertmanager log:\n{}",
        diffs.join("\n"),
        alertmanager.log()
    );
    // The scenario really exercised silencing and inhibition.
    let all = &expected[5].1;
    assert!(all.contains("suppressed") && all.contains("active"), "{all}");
    Ok(())
}

/// Whether an amtool run succeeded, and what it printed on success.
fn outcome(out: &Output, ids: &IdNames) -> String {
    if out.status.success() {
        format!("ok: {}", ids.replace_in(&stdout(out)))
    } else {
        "failed".into()
    }
}

fn silence_scenario(url: &str, later_start: &str, later_end: &str) -> TestResult<Transcript> {
    let mut ids = IdNames::default();
    let mut transcript = Transcript::new();
    let one = add_silence(
        url,
        &["alertname=Foo", r#"instance=~"a|b""#, "severity!=info", "-c", "one", "-d", "1h", "-a", "tester"],
    )?;
    ids.name(&one, "<one>");
    let two = add_silence(url, &["alertname=Bar", "-c", "two", "-d", "2h", "-a", "tester"])?;
    ids.name(&two, "<two>");
    let later = add_silence(
        url,
        &[
            "alertname=Later",
            "-c",
            "later",
            "-a",
            "tester",
            &format!("--start={later_start}"),
            &format!("--end={later_end}"),
        ],
    )?;
    ids.name(&later, "<later>");

    let out = amtool(url, &["silence", "expire", &two])?;
    transcript.push(("amtool silence expire <two>".into(), outcome(&out, &ids)));
    let out = amtool(url, &["silence", "expire", &two])?;
    transcript.push(("amtool silence expire <two> (again)".into(), outcome(&out, &ids)));
    // Alertmanager answers 500 and Clarion 404 (a deliberate difference); both make amtool fail.
    let out = amtool(url, &["silence", "expire", "00000000-0000-0000-0000-000000000000"])?;
    transcript.push(("amtool silence expire <unknown>".into(), outcome(&out, &ids)));

    for (id, flag) in [(&one, "--comment=one updated"), (&later, "--comment=later updated"), (&one, "--duration=3h")] {
        let text = amtool_ok(url, &["silence", "update", id, flag])?;
        let updated: Vec<String> = updated_ids(&text)?.iter().map(|i| ids.of(i)).collect();
        transcript.push((format!("amtool silence update {} {flag} (ids printed)", ids.of(id)), updated.join(" ")));
    }

    for args in [&[][..], &["--expired"], &["alertname=Foo"]] {
        let silences: Vec<Value> = silences_json(url, args)?.iter().map(|s| ids.silence(s)).collect();
        transcript.push((
            format!("amtool -o json silence query {}", args.join(" ")),
            serde_json::to_string_pretty(&silences)?,
        ));
    }
    for args in [&["-q"][..], &["-q", "--expired"], &["--within=90m", "-q"]] {
        let out = amtool_ok(url, &args_with(&["silence", "query"], args))?;
        transcript.push((format!("amtool silence query {}", args.join(" ")), ids.replace_in(&out)));
    }
    for args in [&[][..], &["--expired"], &["-o", "extended"]] {
        let out = amtool_ok(url, &args_with(&["silence", "query"], args))?;
        transcript.push((format!("amtool silence query {}", args.join(" ")), mask_times(&ids.replace_in(&out))));
    }
    Ok(transcript)
}

#[test]
fn amtool_silence_commands_behave_the_same_on_clarion_as_on_alertmanager() -> TestResult {
    let alertmanager = Alertmanager::start(ALERTMANAGER_CONFIG)?;
    let clarion = Server::start(Some(CLARION_CONFIG))?;
    let later = Utc::now() + chrono::Duration::days(1);
    let (start, end) = (rfc3339(later), rfc3339(later + chrono::Duration::hours(1)));

    let expected = silence_scenario(&alertmanager.url, &start, &end)?;
    let got = silence_scenario(&clarion.url, &start, &end)?;
    let diffs = differences(&expected, &got);
    assert!(diffs.is_empty(), "amtool output differs:\n{}", diffs.join("\n"));
    Ok(())
}
