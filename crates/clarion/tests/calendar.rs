//! Change calendars end to end: the built binary imports an AWS Change Calendar export by CLI, answers
//! "may I change now?" by API and by a CLI gate whose exit code a pipeline can test, keeps imports across
//! a restart, serves the calendar back as iCalendar that Python's `icalendar` reads, and refuses what it
//! must with the right status.

mod util;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};
use util::sink::Sink;
use util::{blocking_request, Server, TestResult};

/// An AWS Change Calendar export (the shape its console downloads) with a year-end freeze: 18 December
/// 18:00 to 4 January 08:00 in Berlin, every year.
const FREEZE: &str = "BEGIN:VCALENDAR\r\nPRODID:-//AWS//Change Calendar 1.0//EN\r\nVERSION:2.0\r\nX-CALENDAR-TYPE:DEFAULT_OPEN\r\n\
X-WR-CALDESC:\r\nBEGIN:VTODO\r\nDTSTAMP:20261101T000000Z\r\nUID:aws-placeholder\r\nSUMMARY:Add events to this calendar.\r\nEND:VTODO\r\n\
BEGIN:VEVENT\r\nDTSTAMP:20261101T000000Z\r\nUID:year-end\r\nSUMMARY:Year-end freeze\r\n\
DTSTART;TZID=Europe/Berlin:20261218T180000\r\nDTEND;TZID=Europe/Berlin:20270104T080000\r\nRRULE:FREQ=YEARLY\r\n\
X-CLARION-SERVICES:checkout,payments\r\nX-CLARION-ACTION:Ship before the freeze\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

/// Change windows: Tuesdays 09:00-12:00 UTC.
const WINDOWS: &str =
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//example//windows//EN\r\nBEGIN:VEVENT\r\nUID:tuesday\r\n\
DTSTART:20261201T090000Z\r\nDURATION:PT3H\r\nRRULE:FREQ=WEEKLY;BYDAY=TU\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

fn config() -> String {
    "teams:
  - name: ops
route:
  receiver: ops
calendars:
  - {name: prod, type: DEFAULT_OPEN, timezone: Europe/Berlin}
  - {name: windows, type: DEFAULT_CLOSED}
  - {name: holidays, type: DEFAULT_OPEN, ics_file: holidays.ics}
"
    .into()
}

fn clarion(server: &Server, args: &[&str]) -> TestResult<Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_clarion")).args(args).env("CLARION_SERVER", &server.url).output()?)
}

/// Runs `command` with `input` on its standard input.
fn with_stdin(command: &mut Command, input: &str) -> TestResult<Output> {
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {command:?} (the Python reference is installed by scripts/test): {e}"))?;
    std::io::Write::write_all(child.stdin.as_mut().ok_or("stdin")?, input.as_bytes())?;
    Ok(child.wait_with_output()?)
}

fn state(server: &Server, query: &str) -> TestResult<Value> {
    let (status, body) = blocking_request("GET", &format!("{}/api/v1/calendars/state?{query}", server.url), None, &[])?;
    assert_eq!(status, 200, "{body}");
    Ok(serde_json::from_str(&body)?)
}

fn python() -> std::path::PathBuf {
    std::env::var_os("CLARION_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/python"))
}

#[test]
fn a_freeze_closes_prod_and_the_gate_says_so() -> TestResult {
    let server = Server::builder(Some(&config()))?;
    std::fs::write(server.dir.join("holidays.ics"), WINDOWS.replace("tuesday", "holiday"))?;
    let mut server = server.spawn()?;
    let file = server.dir.join("freeze.ics");
    std::fs::write(&file, FREEZE)?;

    let out = clarion(&server, &["calendar", "import", "prod", &file.display().to_string()])?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "calendar prod: 1 events imported");

    // Outside the freeze: OPEN, and the next transition is its start (17:00 UTC).
    let open = state(&server, "calendars=prod&at=2026-12-10T12:00:00Z")?;
    assert_eq!(open["state"], "OPEN");
    assert_eq!(open["atTime"], "2026-12-10T12:00:00.000Z");
    assert_eq!(open["nextTransitionTime"], "2026-12-18T17:00:00.000Z");
    // Inside: CLOSED until 07:00 UTC on 4 January.
    let closed = state(&server, "calendars=prod&at=2026-12-24T12:00:00Z")?;
    assert_eq!(
        (closed["state"].as_str(), closed["nextTransitionTime"].as_str()),
        (Some("CLOSED"), Some("2027-01-04T07:00:00.000Z"))
    );
    // A year later the rule closes it again.
    assert_eq!(state(&server, "calendars=prod&at=2027-12-20T00:00:00Z")?["state"], "CLOSED");

    // The gate: exit 3 inside the freeze, 0 outside.
    let gate = |at: &str| clarion(&server, &["calendar", "state", "prod", "--at", at]);
    let inside = gate("2026-12-24T12:00:00Z")?;
    assert_eq!(inside.status.code(), Some(3), "{}", String::from_utf8_lossy(&inside.stderr));
    assert!(String::from_utf8_lossy(&inside.stdout).starts_with("CLOSED at 2026-12-24T12:00:00.000Z"));
    assert_eq!(gate("2026-12-10T12:00:00Z")?.status.code(), Some(0));

    // The change windows, from standard input.
    let imported = with_stdin(
        Command::new(env!("CARGO_BIN_EXE_clarion"))
            .args(["calendar", "import", "windows", "-"])
            .env("CLARION_SERVER", &server.url),
        WINDOWS,
    )?;
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));

    // Several calendars: OPEN only if all are. Tuesday 1 December 10:00 UTC is in a change window and
    // outside the freeze; Wednesday is outside the windows.
    let both = state(&server, "calendars=prod,windows&at=2026-12-01T10:00:00Z")?;
    assert_eq!(both["state"], "OPEN");
    assert_eq!(both["nextTransitionTime"], "2026-12-01T12:00:00.000Z", "the window closes first");
    let wednesday = state(&server, "calendars=prod,windows&at=2026-12-02T10:00:00Z")?;
    assert_eq!(wednesday["state"], "CLOSED");
    assert_eq!(wednesday["calendars"][0]["state"], "OPEN");
    assert_eq!(wednesday["calendars"][1]["state"], "CLOSED");

    // Imports survive a restart; the export is iCalendar Python's `icalendar` reads, typed as configured.
    server.restart()?;
    let (status, exported) = blocking_request("GET", &format!("{}/calendars/prod.ics", server.url), None, &[])?;
    assert_eq!(status, 200, "{exported}");
    let script = "import sys, icalendar\ncal = icalendar.Calendar.from_ical(sys.stdin.read())\n\
                  events = [e for e in cal.walk('VEVENT')]\n\
                  print(cal['X-CALENDAR-TYPE'], len(events), events[0]['SUMMARY'], events[0]['RRULE'].to_ical().decode())";
    let read = with_stdin(Command::new(python()).args(["-c", script]), &exported)?;
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    assert_eq!(String::from_utf8_lossy(&read.stdout).trim(), "DEFAULT_OPEN 1 Year-end freeze FREQ=YEARLY");

    // The Atom feed of the next 90 days, read by Python's XML parser: this year's freeze, whatever today is
    // (the feed starts now), is at most one entry per occurrence.
    let (status, feed) = blocking_request("GET", &format!("{}/calendars/prod.atom", server.url), None, &[])?;
    assert_eq!(status, 200, "{feed}");
    let script = "import sys, xml.etree.ElementTree as ET\nns = {'a': 'http://www.w3.org/2005/Atom'}\n\
                  root = ET.fromstring(sys.stdin.read())\n\
                  print(root.find('a:title', ns).text, [e.find('a:title', ns).text for e in root.findall('a:entry', ns)])";
    let parsed = with_stdin(Command::new("python3").args(["-c", script]), &feed)?;
    assert!(parsed.status.success(), "{}: {feed}", String::from_utf8_lossy(&parsed.stderr));
    let line = String::from_utf8_lossy(&parsed.stdout).trim().to_string();
    assert!(line.starts_with("prod: upcoming events ["), "{line}");
    assert!(line.ends_with("['Year-end freeze']") || line.ends_with("[]"), "{line}");
    // Weekly windows: one entry per Tuesday of the next 90 days, whatever today is.
    let (status, weekly) = blocking_request("GET", &format!("{}/calendars/windows.atom", server.url), None, &[])?;
    assert_eq!(status, 200);
    let entries = weekly.matches("<entry>").count();
    assert!((12..=14).contains(&entries), "{entries} entries: {weekly}");
    Ok(())
}

#[test]
fn bad_imports_are_refused_with_the_reason_and_change_nothing() -> TestResult {
    let server = Server::builder(Some(&config()))?;
    std::fs::write(server.dir.join("holidays.ics"), WINDOWS)?;
    let server = server.spawn()?;
    let put = |name: &str, body: &str, kind: &str| {
        blocking_request(
            "PUT",
            &format!("{}/api/v1/calendars/{name}", server.url),
            Some(body),
            &[("Content-Type", kind)],
        )
    };
    let (status, _) = put("prod", FREEZE, "text/calendar")?;
    assert_eq!(status, 200);
    let broken = FREEZE.replace("DTEND;TZID=Europe/Berlin:20270104T080000", "DTEND;TZID=Europe/Berlin:2027-01-04");
    let (status, body) = put("prod", &broken, "text/calendar; charset=utf-8")?;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("line 16: DTEND"), "{body}");
    // An export of the other type would turn freezes into change windows: refused.
    let (status, body) = put("prod", &FREEZE.replace("DEFAULT_OPEN", "DEFAULT_CLOSED"), "text/calendar")?;
    assert_eq!((status, body.contains("X-CALENDAR-TYPE")), (400, true), "{body}");
    // A rule that cannot be expanded (a secondly rule running for years) is refused at import.
    let flood =
        WINDOWS.replace("FREQ=WEEKLY;BYDAY=TU", "FREQ=SECONDLY").replace("20261201T090000Z", "20200101T000000Z");
    let (status, body) = put("prod", &flood, "text/calendar")?;
    assert_eq!((status, body.contains("occurrences")), (400, true), "{body}");
    let (status, body) = put("prod", FREEZE, "application/json")?;
    assert_eq!(status, 415, "{body}");
    let (status, body) = put("staging", FREEZE, "text/calendar")?;
    assert_eq!((status, body.contains("unknown calendar")), (404, true), "{body}");
    let (status, body) = put("holidays", FREEZE, "text/calendar")?;
    assert_eq!((status, body.contains("ics_file")), (409, true), "{body}");
    let (status, body) = blocking_request(
        "GET",
        &format!("{}/api/v1/calendars/state?calendars=prod&at=yesterday", server.url),
        None,
        &[],
    )?;
    assert_eq!(status, 400, "{body}");
    let (status, _) = blocking_request("GET", &format!("{}/api/v1/calendars/state", server.url), None, &[])?;
    assert_eq!(status, 400);
    // The refused imports left the first one in place.
    assert_eq!(state(&server, "calendars=prod&at=2026-12-24T12:00:00Z")?["state"], "CLOSED");
    let (status, list) = blocking_request("GET", &format!("{}/api/v1/calendars", server.url), None, &[])?;
    assert_eq!(status, 200);
    let list: Vec<Value> = serde_json::from_str(&list)?;
    let summary: Vec<(String, String, u64)> = list
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["source"].as_str().unwrap_or_default().to_string(),
                c["events"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("prod".into(), "api".into(), 1), ("windows".into(), "api".into(), 0), ("holidays".into(), "file".into(), 1)]
    );
    Ok(())
}

const WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// The first line each team's hook heard, in arrival order.
fn summaries(sink: &Sink, path: &str, n: usize) -> TestResult<Vec<String>> {
    sink.wait_for(path, n, WAIT)?
        .iter()
        .map(|r| Ok(r.json()?["alerts"][0]["annotations"]["summary"].as_str().unwrap_or_default().to_string()))
        .collect()
}

/// Planned events by CLI and from AWS Health reach the owner and the teams of dependent services through
/// their channels; too little notice is refused; a cancellation is told.
#[test]
fn planned_events_are_announced_to_the_teams_they_concern_and_cancelled_the_same_way() -> TestResult {
    let sink = Sink::start()?;
    let config = format!(
        "teams:
  - {{name: ops, channels: [ops-hook]}}
  - {{name: db, channels: [db-hook]}}
  - {{name: payments, channels: [pay-hook]}}
channels:
  - {{name: ops-hook, webhook: {{url: '{0}/ops'}}}}
  - {{name: db-hook, webhook: {{url: '{0}/db'}}}}
  - {{name: pay-hook, webhook: {{url: '{0}/pay'}}}}
services:
  - {{name: postgres, team: db}}
  - {{name: checkout, team: payments, depends_on: [postgres]}}
route:
  receiver: ops
calendars:
  - {{name: changes, type: DEFAULT_OPEN, notice: {{minimum: 1d, lead_times: [1h]}}}}
",
        sink.url
    );
    let server = Server::start(Some(&config))?;
    let at = |hours: i64| (chrono::Utc::now() + chrono::Duration::hours(hours)).to_rfc3339();
    let add = |start: &str, extra: &[&str]| {
        let mut args = vec![
            "event",
            "add",
            "--calendar",
            "changes",
            "--summary",
            "PostgreSQL 17 upgrade",
            "--why",
            "Version 16 leaves support",
            "--start",
            start,
            "--duration",
            "2h",
            "--service",
            "postgres",
            "--owner",
            "db",
            "--action",
            "Hold schema changes",
            "--uid",
            "pg-upgrade",
        ];
        args.extend_from_slice(extra);
        clarion(&server, &args)
    };
    let soon = add(&at(2), &[])?;
    assert_eq!(soon.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&soon.stderr).contains("less than the 1d notice"),
        "{}",
        String::from_utf8_lossy(&soon.stderr)
    );
    let urgent = add(&at(2), &["--emergency", "CVE-2026-0001 is exploited"])?;
    assert!(urgent.status.success(), "{}", String::from_utf8_lossy(&urgent.stderr));
    assert_eq!(summaries(&sink, "/db", 1)?, ["Planned: PostgreSQL 17 upgrade"]);
    assert_eq!(summaries(&sink, "/pay", 1)?, ["Planned: PostgreSQL 17 upgrade"], "checkout depends on postgres");
    let first = sink.wait_for("/db", 1, WAIT)?;
    let details = first[0].json()?["alerts"][0]["annotations"].to_string();
    assert!(details.contains("CVE-2026-0001 is exploited"), "the emergency is said: {details}");

    // Moved to next week: rescheduled. Then cancelled.
    assert!(add(&at(24 * 7), &[])?.status.success());
    assert_eq!(summaries(&sink, "/db", 2)?[1], "Rescheduled: PostgreSQL 17 upgrade");
    let cancel = clarion(&server, &["event", "cancel", "--calendar", "changes", "pg-upgrade"])?;
    assert!(cancel.status.success(), "{}", String::from_utf8_lossy(&cancel.stderr));
    // Notices are separate deliveries: their order of arrival is not promised, their set is.
    assert!(summaries(&sink, "/pay", 3)?.contains(&"Cancelled: PostgreSQL 17 upgrade".to_string()));

    // AWS Health's scheduled change, in EventBridge's shape: the entity's service tag names checkout.
    let health = json!({
        "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": "AWS Health Event",
        "source": "aws.health", "account": "123456789012", "time": "2026-12-02T06:00:00Z", "region": "eu-west-1",
        "resources": ["i-0abc"],
        "detail": {
            "eventArn": "arn:aws:health:eu-west-1::event/EC2/AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED/abc",
            "service": "EC2", "eventScopeCode": "ACCOUNT_SPECIFIC",
            "eventTypeCode": "AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED", "eventTypeCategory": "scheduledChange",
            "startTime": (chrono::Utc::now() + chrono::Duration::days(10)).format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
            "endTime": (chrono::Utc::now() + chrono::Duration::days(10) + chrono::Duration::hours(1)).format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
            "eventDescription": [{"language": "en_US", "latestDescription": "The instance will be rebooted."}],
            "affectedEntities": [{"entityValue": "i-0abc", "tags": {"service": "checkout"}}]
        }
    });
    let (status, body) = blocking_request(
        "POST",
        &format!("{}/api/v1/calendars/changes/aws-health", server.url),
        Some(&health.to_string()),
        &[("Content-Type", "application/json")],
    )?;
    assert_eq!(status, 201, "{body}");
    let heard = summaries(&sink, "/pay", 4)?;
    assert!(
        heard.contains(&"Planned: AWS EC2: AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED".to_string()),
        "{heard:?}"
    );
    let mut other = health.clone();
    other["detail"]["eventTypeCategory"] = json!("issue");
    let (status, body) = blocking_request(
        "POST",
        &format!("{}/api/v1/calendars/changes/aws-health", server.url),
        Some(&other.to_string()),
        &[("Content-Type", "application/json")],
    )?;
    assert_eq!((status, body.contains("scheduledChange")), (400, true), "{body}");
    let mut undated = health.clone();
    undated["detail"]["startTime"] = json!("next Tuesday");
    let (status, body) = blocking_request(
        "POST",
        &format!("{}/api/v1/calendars/changes/aws-health", server.url),
        Some(&undated.to_string()),
        &[("Content-Type", "application/json")],
    )?;
    assert_eq!((status, body.contains("detail.startTime")), (400, true), "{body}");
    // Events posted with bad times are refused with what is wrong, and change nothing.
    for (event, says) in [
        (json!({"summary": "x", "start": "soon"}), "start"),
        (json!({"summary": "x", "start": at(48), "end": at(47)}), "end is before start"),
        (json!({"summary": "x", "start": at(48), "end": at(49), "duration": "1h"}), "not both"),
        (json!({"summary": "x", "start": at(48), "duration": "a while"}), "duration"),
        (json!({"start": at(48)}), "summary"),
    ] {
        let (status, body) = blocking_request(
            "POST",
            &format!("{}/api/v1/calendars/changes/events", server.url),
            Some(&event.to_string()),
            &[("Content-Type", "application/json")],
        )?;
        assert_eq!((status, body.contains(says)), (400, true), "{event}: {body}");
    }
    assert!(sink.wait_for("/ops", 1, std::time::Duration::from_millis(300)).is_err(), "ops is not concerned");

    // Work running now on postgres: its alerts are listed as muted by the event, and not notified.
    let now = clarion(
        &server,
        &[
            "event",
            "add",
            "--calendar",
            "changes",
            "--summary",
            "Disk swap on db1",
            "--why",
            "A disk is failing",
            "--start",
            &at(0),
            "--duration",
            "1h",
            "--service",
            "postgres",
            "--owner",
            "db",
            "--action",
            "Expect a failover",
            "--uid",
            "disk-swap",
            "--emergency",
            "the disk is failing now",
        ],
    )?;
    assert!(now.status.success(), "{}", String::from_utf8_lossy(&now.stderr));
    let alert = json!([{"labels": {"alertname": "PostgresDown", "service": "postgres"}}]);
    let (status, _) = blocking_request(
        "POST",
        &format!("{}/api/v2/alerts", server.url),
        Some(&alert.to_string()),
        &[("Content-Type", "application/json")],
    )?;
    assert_eq!(status, 200);
    let (status, body) = blocking_request("GET", &format!("{}/api/v2/alerts", server.url), None, &[])?;
    assert_eq!(status, 200);
    let listed: Vec<Value> = serde_json::from_str(&body)?;
    assert_eq!(listed[0]["status"]["mutedBy"], json!(["changes/disk-swap"]), "{body}");
    assert_eq!(listed[0]["status"]["state"], "suppressed");
    assert!(sink.wait_for("/ops", 1, std::time::Duration::from_millis(500)).is_err(), "held back while the work runs");
    Ok(())
}

/// A calendar kept in a file: a planned event added to the file is announced at the next reload.
#[test]
fn a_planned_event_added_to_an_ics_file_is_announced_at_reload() -> TestResult {
    let sink = Sink::start()?;
    let config = format!(
        "teams:
  - {{name: db, channels: [db-hook]}}
channels:
  - {{name: db-hook, webhook: {{url: '{}/db'}}}}
services:
  - {{name: postgres, team: db}}
route:
  receiver: db
calendars:
  - {{name: changes, type: DEFAULT_OPEN, ics_file: changes.ics}}
",
        sink.url
    );
    let empty = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n";
    let server = Server::builder(Some(&config))?;
    std::fs::write(server.dir.join("changes.ics"), empty)?;
    let server = server.spawn()?;
    let start = (chrono::Utc::now() + chrono::Duration::days(5)).format("%Y%m%dT%H%M%SZ");
    let planned = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:vacuum\r\nSUMMARY:Full vacuum of the orders table\r\n\
         DESCRIPTION:Table bloat slows checkout\r\nDTSTART:{start}\r\nDURATION:PT1H\r\nX-CLARION-SERVICES:postgres\r\n\
         X-CLARION-ACTION:Expect slow writes\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    std::fs::write(server.dir.join("changes.ics"), planned)?;
    let (status, body) = blocking_request("POST", &format!("{}/-/reload", server.url), None, &[])?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(summaries(&sink, "/db", 1)?, ["Planned: Full vacuum of the orders table"]);
    Ok(())
}
