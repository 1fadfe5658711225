//! Differential test of recurrence: the start instants Clarion expands an iCalendar file to, against
//! Python's `icalendar` + `recurring_ical_events` (`tests/reference.py`), on the 95 real calendars in
//! `../shared/data/calendars/` (daylight-saving changes, EXDATEs, edited and cancelled occurrences, RDATE
//! periods, several time zones) read in two zones, and on seeded generated rules.
//!
//! Compared: the set of start instants. The reference adds a duration across a DST change in wall-clock
//! time, where RFC 5545 counts hours exactly, so end times are tested against the RFC in the crate's unit
//! tests. A set, because the reference lists an instant twice where the RFC counts it once (a rule
//! instance in a DST gap read onto the next hour's instance: "where duplicate instances are generated
//! ..., only one recurrence is considered"), and two events at one instant are one start for a calendar's
//! state.
//!
//! The reference runs from the virtual environment `scripts/test` installs (`target/pyenv`), or the
//! interpreter named by `CLARION_PYTHON`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn python() -> TestResult<PathBuf> {
    if let Some(p) = std::env::var_os("CLARION_PYTHON") {
        return Ok(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/pyenv/bin/python");
    if venv.is_file() {
        return Ok(venv);
    }
    Err("the Python reference is not installed: run scripts/test (it creates target/pyenv with icalendar and \
         recurring-ical-events), or set CLARION_PYTHON to an interpreter that has both"
        .into())
}

/// The real calendars (see their README for the credit): `CLARION_SHARED_DATA`, next to the repository,
/// or `/work/shared/data`.
fn corpus() -> PathBuf {
    let below = "calendars/recurring-ical-events";
    [
        std::env::var_os("CLARION_SHARED_DATA").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")),
        Some(PathBuf::from("/work/shared/data")),
    ]
    .into_iter()
    .flatten()
    .map(|d| d.join(below))
    .find(|p| p.is_dir())
    .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(below))
}

/// What the reference said of each file: its sorted starts (Unix seconds), or why it refused it.
fn reference(
    zone: &str,
    from: i64,
    to: i64,
    files: &[PathBuf],
) -> TestResult<BTreeMap<PathBuf, Result<Vec<i64>, String>>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference.py");
    let out =
        Command::new(python()?).arg(script).arg(zone).arg(from.to_string()).arg(to.to_string()).args(files).output()?;
    if !out.status.success() {
        return Err(format!("reference.py failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let mut answers = BTreeMap::new();
    for line in String::from_utf8(out.stdout)?.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let file = PathBuf::from(v["file"].as_str().ok_or("no file")?);
        let answer = match v.get("starts") {
            Some(starts) => {
                let mut starts: Vec<i64> = serde_json::from_value(starts.clone())?;
                starts.dedup();
                Ok(starts)
            }
            None => Err(v["error"].as_str().unwrap_or("?").to_string()),
        };
        answers.insert(file, answer);
    }
    Ok(answers)
}

/// Clarion's sorted starts of `text` in `[from, to)`, or why it refused it.
fn clarion(text: &str, zone: Tz, from: i64, to: i64) -> Result<Vec<i64>, String> {
    let at = |s: i64| Utc.timestamp_opt(s, 0).single().unwrap_or_default();
    let calendar = clarion_calendar::read(text, zone).map_err(|e| e.to_string())?;
    let occurrences = clarion_calendar::expand(&calendar, zone, at(from), at(to)).map_err(|e| e.to_string())?;
    let mut starts: Vec<i64> = occurrences.iter().map(|o| o.window.start.timestamp()).collect();
    starts.sort_unstable();
    starts.dedup();
    Ok(starts)
}

/// Files Clarion refuses on purpose, and the reason it must give: broken input gets a clear error.
const REFUSED: &[(&str, &str)] = &[
    ("bad_rrule_missing_until_event.ics", "UNTL"),
    ("end_before_start_event.ics", "before DTSTART"),
    ("issue_132_swapped_start_and_end.ics", "before DTSTART"),
    // `END:VTOOD` closes a `BEGIN:VTODO`: the reference reads past it.
    ("issue_201_test_matrix.ics", "line 11: not valid iCalendar"),
];

/// Files whose recurrence Clarion reads differently from the reference on purpose, and why.
const DIFFERENT: &[(&str, &str)] = &[
    (
        "issue_117_until_before_dtstart.ics",
        "UNTIL before DTSTART: RFC 5545 counts DTSTART as the first instance; the reference lists none",
    ),
    (
        "issue_18_cancel_status.ics",
        "a cancelled occurrence does not run (does not close a calendar); the reference lists it",
    ),
    (
        "issue_86_x_wr_timezone_without_time_zone_in_dt.ics",
        "floating times are read in the calendar's configured zone, not X-WR-TIMEZONE (the issue's rule)",
    ),
    (
        "issue_201_mixed_datetime_and_date.ics",
        "a date-only DTSTART is midnight in the calendar's zone whatever DTEND's form; the reference reads it in UTC",
    ),
];

fn compare(zone_name: &str, from: i64, to: i64, files: &[PathBuf]) -> TestResult<Vec<String>> {
    let zone: Tz = zone_name.parse().map_err(|_| "zone")?;
    let answers = reference(zone_name, from, to, files)?;
    let mut problems = Vec::new();
    for file in files {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let text = std::fs::read_to_string(file)?;
        let ours = clarion(&text, zone, from, to);
        let theirs = answers.get(file).cloned().unwrap_or_else(|| Err("no answer".into()));
        if DIFFERENT.iter().any(|(n, _)| *n == name) {
            continue;
        }
        match (&ours, &theirs, REFUSED.iter().find(|(n, _)| *n == name)) {
            (Err(why), _, Some((_, reason))) if why.contains(reason) => {}
            (_, _, Some((_, reason))) => problems.push(format!("{name}: must be refused ({reason}); got {ours:?}")),
            (Ok(a), Ok(b), None) if a == b => {}
            (Ok(a), Ok(b), None) => {
                let only_ours: Vec<_> = a.iter().filter(|s| !b.contains(s)).take(3).collect();
                let only_theirs: Vec<_> = b.iter().filter(|s| !a.contains(s)).take(3).collect();
                problems.push(format!(
                    "{name} ({zone_name}): {} starts against the reference's {}; only ours {only_ours:?}, only theirs {only_theirs:?}",
                    a.len(),
                    b.len()
                ));
            }
            (Err(why), Ok(b), None) => {
                problems.push(format!("{name}: refused ({why}); the reference has {} starts", b.len()))
            }
            (Ok(a), Err(why), None) => {
                problems.push(format!("{name}: the reference refused ({why}); ours has {} starts", a.len()))
            }
            (Err(a), Err(b), None) => problems.push(format!("{name}: both refused: ours {a}; theirs {b}")),
        }
    }
    Ok(problems)
}

fn real_files() -> TestResult<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "ics"))
        .collect();
    files.sort();
    Ok(files)
}

const FROM_2000: i64 = 946_684_800;
const TO_2030: i64 = 1_893_456_000;

#[test]
fn real_calendars_expand_to_the_reference_starts() -> TestResult {
    let files = real_files()?;
    assert!(files.len() >= 90, "the corpus of real calendars is missing: {}", corpus().display());
    let mut problems = compare("UTC", FROM_2000, TO_2030, &files)?;
    problems.extend(compare("America/New_York", FROM_2000, TO_2030, &files)?);
    assert!(problems.is_empty(), "{} differences:\n{}", problems.len(), problems.join("\n"));
    Ok(())
}

/// A small deterministic generator (xorshift64*), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len() as u64) as usize]
    }
}

/// One generated recurring event: a random rule in a random zone, starting near a DST change, with
/// EXDATEs taken from its own occurrences.
fn generated(rng: &mut Rng) -> String {
    let zone = rng.pick(&["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]);
    let month = rng.pick(&["03", "04", "10", "11"]);
    let day = 1 + rng.below(28);
    let hour = rng.pick(&["00", "01", "02", "03", "09", "23"]);
    let freq = rng.pick(&["DAILY", "WEEKLY", "MONTHLY", "YEARLY", "HOURLY"]);
    let mut rule = format!("FREQ={freq};INTERVAL={}", 1 + rng.below(3));
    match rng.below(4) {
        0 => rule.push_str(&format!(";COUNT={}", 1 + rng.below(30))),
        1 => rule.push_str(&format!(";UNTIL=2027{month}{:02}T000000Z", 1 + rng.below(28))),
        _ => rule.push_str(";COUNT=40"),
    }
    if freq == "WEEKLY" && rng.below(2) == 0 {
        rule.push_str(&format!(";BYDAY={}", rng.pick(&["MO,WE,FR", "SA,SU", "TU", "TH,FR"])));
    }
    if freq == "MONTHLY" && rng.below(2) == 0 {
        rule.push_str(&format!(";BYMONTHDAY={}", rng.pick(&["1", "15", "-1", "31"])));
    }
    let start = format!("2026{month}{day:02}T{hour}30{}", if rng.below(2) == 0 { "00" } else { "15" });
    // The reference also excludes an EXDATE's wall-clock time read as UTC, an instant an hourly rule can
    // hit: EXDATEs only for daily and longer rules.
    let exdate = match rng.below(3) {
        0 if freq != "HOURLY" => format!("EXDATE;TZID={zone}:{start}\r\n"),
        _ => String::new(),
    };
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Clarion//differential//EN\r\nBEGIN:VEVENT\r\nUID:g\r\nDTSTAMP:20261201T000000Z\r\n\
         DTSTART;TZID={zone}:{start}\r\nDURATION:PT45M\r\nRRULE:{rule}\r\n{exdate}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

#[test]
fn generated_rules_expand_to_the_reference_starts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut files = Vec::new();
    for seed in 1..=120u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let path = dir.path().join(format!("generated-{seed}.ics"));
        std::fs::File::create(&path)?.write_all(generated(&mut rng).as_bytes())?;
        files.push(path);
    }
    let problems = compare("UTC", FROM_2000, TO_2030, &files)?;
    let mut report = problems.clone();
    for p in &problems {
        if let Some(name) = p.split(':').next() {
            if let Ok(text) = std::fs::read_to_string(dir.path().join(name)) {
                report.push(text);
            }
        }
    }
    assert!(problems.is_empty(), "{} differences:\n{}", problems.len(), report.join("\n"));
    Ok(())
}
