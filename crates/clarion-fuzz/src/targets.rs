//! The fuzz targets: what each parses, the properties its result must keep, its dictionary and grammar.

use std::time::Duration;

use chrono::TimeZone;
use clarion_core::Matchers;

use crate::generate::{json_string, string};
use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The body of `POST /api/v2/alerts`.
    Alerts,
    /// Matcher lists, as routes, inhibit rules, silences and `filter=` take them.
    Matchers,
    /// `clarion.yml`.
    Config,
    /// Prometheus rule files, as `clarion lint` reads them.
    Rules,
    /// iCalendar documents, as `PUT /api/v1/calendars/{name}` and `clarion calendar import` read them.
    Calendar,
}

impl Target {
    pub const ALL: [Target; 5] = [Target::Alerts, Target::Matchers, Target::Config, Target::Rules, Target::Calendar];

    pub fn name(self) -> &'static str {
        match self {
            Target::Alerts => "alerts",
            Target::Matchers => "matchers",
            Target::Config => "config",
            Target::Rules => "rules",
            Target::Calendar => "calendar",
        }
    }

    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn is_yaml(self) -> bool {
        matches!(self, Target::Config | Target::Rules)
    }

    /// Runs the parser on `input` and checks the properties of what it returned; whether the parser
    /// accepted the input (a run reports the share, to show inputs reach past the first error).
    pub fn check(self, input: &[u8]) -> Result<bool, String> {
        match self {
            Target::Alerts => check_alerts(input),
            Target::Matchers => check_matchers(&String::from_utf8_lossy(input)),
            Target::Config => check_config(&String::from_utf8_lossy(input)),
            Target::Rules => check_rules(&String::from_utf8_lossy(input)),
            Target::Calendar => check_calendar(&String::from_utf8_lossy(input)),
        }
    }

    pub fn dictionary(self) -> &'static [&'static str] {
        match self {
            Target::Alerts => &[
                "{\"labels\":{}}",
                "\"labels\"",
                "\"annotations\"",
                "\"startsAt\"",
                "\"endsAt\"",
                "\"generatorURL\"",
                "\"0001-01-01T00:00:00Z\"",
                "\"2262-04-11T23:47:16.854775808Z\"",
                "\"1677-09-21T00:12:43Z\"",
                "null",
                "true",
                "1e308",
                "-0",
                "[",
                "]",
                "{",
                "}",
                ",",
                ":",
                "\"\\ud800\"",
                "\"\\u0000\"",
            ],
            Target::Matchers => {
                &["=", "!=", "=~", "!~", "\"", "\\", ",", "{", "}", "(", ")", "[", "|", ".*", "\\\"", "é", "🔥"]
            }
            Target::Config => &[
                "route:",
                "receiver:",
                "routes:",
                "matchers:",
                "teams:",
                "channels:",
                "webhook:",
                "url:",
                "group_by:",
                "escalation_policies:",
                "tiers:",
                "notify:",
                "egress:",
                "allow:",
                "limits:",
                "tls:",
                "standard:",
                "require:",
                "- ",
                "  ",
                "\n",
                "{",
                "}",
                "[",
                "]",
                "'...'",
                "&a ",
                "*a",
                "<<: ",
            ],
            Target::Rules => &[
                "groups:",
                "rules:",
                "alert:",
                "expr:",
                "for:",
                "labels:",
                "annotations:",
                "record:",
                "spec:",
                "- ",
                "  ",
                "\n",
                "{{ $labels.x }}",
                "{",
                "}",
                "[",
                "]",
                "&a ",
                "*a",
                "<<: ",
                "---\n",
            ],
            Target::Calendar => &[
                "BEGIN:VCALENDAR\r\n",
                "END:VCALENDAR\r\n",
                "BEGIN:VEVENT\r\n",
                "END:VEVENT\r\n",
                "DTSTART:",
                "DTSTART;TZID=Europe/Berlin:",
                "DTSTART;VALUE=DATE:",
                "DTEND:",
                "DURATION:",
                "RRULE:FREQ=",
                "DAILY",
                "SECONDLY",
                ";COUNT=",
                ";UNTIL=",
                ";BYDAY=-1SU",
                "EXDATE:",
                "RDATE;VALUE=PERIOD:",
                "RECURRENCE-ID;RANGE=THISANDFUTURE:",
                "STATUS:CANCELLED",
                "X-CALENDAR-TYPE:",
                "20261201T090000Z",
                "20260329T023000",
                "20261201",
                "P1W",
                "-PT1H",
                "\r\n ",
                "\\,",
                ":",
                ";",
            ],
        }
    }

    /// An input from the target's grammar.
    pub fn generate(self, rng: &mut Rng) -> Vec<u8> {
        match self {
            Target::Alerts => alert_batch(rng).into_bytes(),
            Target::Matchers => matcher_list(rng).into_bytes(),
            Target::Config => config(rng).into_bytes(),
            Target::Rules => rule_file(rng).into_bytes(),
            Target::Calendar => calendar(rng).into_bytes(),
        }
    }
}

fn now() -> clarion_core::Timestamp {
    chrono::Utc.with_ymd_and_hms(2026, 12, 2, 12, 0, 0).single().unwrap_or_default()
}

/// Every element of a posted array is either accepted or named in an error; never both, never neither.
fn check_alerts(input: &[u8]) -> Result<bool, String> {
    match clarion_server::decode_alert_batch(input, now(), Duration::from_secs(300)) {
        Err(_) => Ok(false),
        Ok((valid, errors)) => {
            let elements = count_array_elements(input);
            match elements {
                Some(n) if n != valid.len() + errors.len() => {
                    Err(format!("{n} elements but {} accepted and {} refused", valid.len(), errors.len()))
                }
                _ => Ok(!valid.is_empty()),
            }
        }
    }
}

/// The number of elements of a JSON array, counted by the standard parser.
fn count_array_elements(input: &[u8]) -> Option<usize> {
    serde_json::from_slice::<Vec<&serde_json::value::RawValue>>(input).ok().map(|v| v.len())
}

/// A parsed matcher list prints as text that parses back to the same list.
fn check_matchers(text: &str) -> Result<bool, String> {
    let Ok(parsed) = Matchers::parse(text) else { return Ok(false) };
    let printed = parsed.to_string();
    match Matchers::parse(&printed) {
        Ok(again) if again == parsed => Ok(true),
        Ok(again) => Err(format!("{text:?} printed as {printed:?} parses to {again:?}, not {parsed:?}")),
        Err(e) => Err(format!("{text:?} printed as {printed:?} does not parse: {e}")),
    }
}

/// A configuration that parses can be shown.
fn check_config(text: &str) -> Result<bool, String> {
    let Ok(config) = clarion_config::Config::parse(text, "fuzz.yml") else { return Ok(false) };
    let shown = config.shown();
    if shown.starts_with("# the configuration cannot be shown") {
        return Err(format!("a parsed configuration cannot be shown: {shown}"));
    }
    Ok(true)
}

/// A rule file that parses has every rule's line inside the file.
fn check_rules(text: &str) -> Result<bool, String> {
    let Ok(file) = clarion_lint::rule_file::parse(text, "fuzz.yml") else { return Ok(false) };
    // Lines as YAML counts them: `\r\n`, `\n` and a lone `\r` each end one.
    let lines = text.replace("\r\n", "\n").replace('\r', "\n").split('\n').count();
    if let Some(rule) = file.alerting.iter().find(|r| r.line == 0 || r.line > lines) {
        return Err(format!("rule {:?} at line {} of a {lines}-line file", rule.name, rule.line));
    }
    // What lint does with each rule — its expression parsed, its words read, a summary suggested — must
    // not panic whatever the text.
    let standard = clarion_core::standard::Standard::default();
    for rule in &file.alerting {
        let mut message = clarion_core::standard::Message::from_alert(&rule.labels, &rule.annotations, None);
        message.query = clarion_lint::query::facts(&rule.expr);
        let findings = standard.check(&message);
        let refs: Vec<_> = findings.iter().collect();
        let _ = clarion_lint::suggest::suggest("fuzz.yml", rule, &refs);
    }
    Ok(true)
}

/// A document that reads writes back to one that reads to the same events, and expands (or is refused
/// for a reason) without a panic.
fn check_calendar(text: &str) -> Result<bool, String> {
    let Ok(calendar) = clarion_calendar::read(text, chrono_tz::Europe::Berlin) else { return Ok(false) };
    let written = clarion_calendar::write(&calendar, clarion_core::calendar::CalendarType::DefaultOpen, "fuzz", now());
    match clarion_calendar::read(&written, chrono_tz::Europe::Berlin) {
        Ok(again) if again.events == calendar.events => {}
        Ok(again) => return Err(format!("{text:?} wrote {written:?}, which reads to {:?}", again.events)),
        Err(e) => return Err(format!("{text:?} wrote {written:?}, which does not read: {e}")),
    }
    let _ = clarion_calendar::expand(&calendar, chrono_tz::Europe::Berlin, now(), now() + chrono::Duration::days(400));
    Ok(true)
}

// --- grammars --------------------------------------------------------------------------------------------

const TIMES: &[&str] = &[
    "2026-12-01T10:00:00Z",
    "2026-12-01T10:00:00.123456789+01:00",
    "2026-12-01t10:00:00z",
    "2026-12-01T23:59:60Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "1677-09-21T00:12:43Z",
    "2262-04-11T23:47:17Z",
    "2026-02-30T00:00:00Z",
    "2026-12-01T10:00:00+25:00",
    "2026-12-01",
    "",
    "yesterday",
    "2026-12-01T10:00:00.0000000000001Z",
];

fn label_map(rng: &mut Rng) -> String {
    let pairs: Vec<String> = (0..rng.below(6))
        .map(|_| {
            // Mostly valid label names, so inputs reach past the first check.
            let key = if rng.below(10) < 7 {
                format!("\"{}{}\"", rng.pick(&["alertname", "severity", "instance", "job", "team"]), rng.below(3))
            } else {
                json_string(&string(rng), rng)
            };
            let value = match rng.below(10) {
                0 => "null".to_string(),
                1 => rng.next_u64().to_string(),
                2 => "[\"a\"]".to_string(),
                _ => json_string(&string(rng), rng),
            };
            format!("{key}:{value}")
        })
        .collect();
    format!("{{{}}}", pairs.join(","))
}

fn alert_batch(rng: &mut Rng) -> String {
    let alerts: Vec<String> = (0..rng.below(6))
        .map(|_| {
            let mut fields = Vec::new();
            if !rng.one_in(8) {
                fields.push(format!("\"labels\":{}", label_map(rng)));
            }
            if rng.one_in(2) {
                fields.push(format!("\"annotations\":{}", label_map(rng)));
            }
            for key in ["startsAt", "endsAt"] {
                if rng.one_in(2) {
                    let time = *rng.pick(TIMES);
                    fields.push(format!("\"{key}\":{}", json_string(time, rng)));
                }
            }
            if rng.one_in(4) {
                fields.push(format!("\"generatorURL\":{}", json_string(&string(rng), rng)));
            }
            if rng.one_in(6) {
                fields.push("\"unknown\":{\"nested\":[1,2,{}]}".into());
            }
            format!("{{{}}}", fields.join(","))
        })
        .collect();
    format!("[{}]", alerts.join(","))
}

fn matcher_list(rng: &mut Rng) -> String {
    const OPS: &[&str] = &["=", "!=", "=~", "!~", "==", "~", "!", ""];
    const REGEXES: &[&str] = &["(", "[", "a{1000}{1000}", ".*", "a|b", "\\", "(?i)X", "\\p{Greek}+", "[[:alpha:]]"];
    let matchers: Vec<String> = (0..1 + rng.below(4))
        .map(|_| {
            let name = if rng.one_in(5) { format!("\"{}\"", string(rng)) } else { string(rng) };
            let op = rng.pick(OPS);
            let value = match rng.below(4) {
                0 => rng.pick(REGEXES).to_string(),
                1 => string(rng),
                _ => format!("\"{}\"", string(rng).replace('"', "\\\"")),
            };
            format!(
                "{}{name}{}{op}{}{value}",
                " ".repeat(rng.below(2)),
                " ".repeat(rng.below(2)),
                " ".repeat(rng.below(2))
            )
        })
        .collect();
    let list = matchers.join(if rng.one_in(4) { ", " } else { "," });
    if rng.one_in(2) {
        format!("{{{list}}}")
    } else {
        list
    }
}

fn yaml_scalar(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => format!("'{}'", string(rng).replace('\'', "''")),
        1 => rng.next_u64().to_string(),
        2 => ["0s", "5m", "1h30m", "-1s", "0", "99999999y", "7d"][rng.below(7)].into(),
        3 => ["true", "false", "~", "[]", "{}"][rng.below(5)].into(),
        _ => string(rng).chars().filter(|c| c.is_alphanumeric() || *c == '-').collect(),
    }
}

fn config(rng: &mut Rng) -> String {
    let team = yaml_scalar(rng);
    let mut out = format!("teams: [{{name: {team}, channels: [c]}}]\n");
    out.push_str(&format!(
        "channels: [{{name: c, {}: {{url: {}, timeout: {}}}}}]\n",
        ["webhook", "slack", "email"][rng.below(3)],
        yaml_scalar(rng),
        yaml_scalar(rng)
    ));
    out.push_str(&format!(
        "route: {{receiver: {team}, group_by: [{}], group_wait: {}, routes: [{{matchers: ['{}'], receiver: {}}}]}}\n",
        yaml_scalar(rng),
        yaml_scalar(rng),
        matcher_list(rng).replace('\'', "''"),
        yaml_scalar(rng)
    ));
    if rng.one_in(2) {
        out.push_str(&format!(
            "escalation_policies: [{{name: p, tiers: [{{notify: ['{}'], wait: {}}}]}}]\n",
            ["team:", "person:", "provider:", ""][rng.below(4)].to_string() + &yaml_scalar(rng),
            yaml_scalar(rng)
        ));
    }
    if rng.one_in(2) {
        out.push_str(&format!("egress: {{allow: [{}], deny: [{}]}}\n", yaml_scalar(rng), yaml_scalar(rng)));
    }
    if rng.one_in(2) {
        out.push_str(&format!(
            "limits: {{max_connections: {}, idle_timeout: {}}}\n",
            yaml_scalar(rng),
            yaml_scalar(rng)
        ));
    }
    out
}

fn rule_file(rng: &mut Rng) -> String {
    let mut out = String::from("groups:\n");
    for g in 0..1 + rng.below(3) {
        out.push_str(&format!("  - name: g{g}\n    rules:\n"));
        for _ in 0..rng.below(4) {
            if rng.one_in(4) {
                out.push_str(&format!("      - record: {}\n        expr: {}\n", yaml_scalar(rng), yaml_scalar(rng)));
                continue;
            }
            out.push_str(&format!("      - alert: {}\n        expr: {}\n", yaml_scalar(rng), yaml_scalar(rng)));
            if rng.one_in(2) {
                out.push_str(&format!("        labels: {{severity: {}}}\n", yaml_scalar(rng)));
            }
            if rng.one_in(2) {
                out.push_str(&format!(
                    "        annotations: {{summary: {}, runbook_url: {}}}\n",
                    yaml_scalar(rng),
                    yaml_scalar(rng)
                ));
            }
        }
    }
    out
}

fn ics_time(rng: &mut Rng) -> String {
    let day = ["20261201", "20260329", "20261025", "20270101", "19700101", "22620411", "20260230"][rng.below(7)];
    match rng.below(4) {
        0 => day.to_string(),
        1 => format!("{day}T{:02}{:02}00Z", rng.below(25), rng.below(60)),
        _ => format!("{day}T{:02}3000", rng.below(25)),
    }
}

fn calendar(rng: &mut Rng) -> String {
    let mut out = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n");
    if rng.one_in(2) {
        out.push_str(
            ["X-CALENDAR-TYPE:DEFAULT_OPEN\r\n", "X-CALENDAR-TYPE:DEFAULT_CLOSED\r\n", "X-CALENDAR-TYPE:x\r\n"]
                [rng.below(3)],
        );
    }
    for e in 0..rng.below(4) {
        out.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:{}\r\n",
            if rng.one_in(3) { "same".to_string() } else { format!("e{e}") }
        ));
        let zone = ["", ";TZID=Europe/Berlin", ";TZID=America/New_York", ";VALUE=DATE", ";TZID=Nowhere"][rng.below(5)];
        out.push_str(&format!("DTSTART{zone}:{}\r\n", ics_time(rng)));
        match rng.below(3) {
            0 => out.push_str(&format!("DTEND{zone}:{}\r\n", ics_time(rng))),
            1 => out.push_str(&format!(
                "DURATION:{}\r\n",
                ["PT1H", "P1D", "P1W", "-PT1H", "PT0S", "P1DT2H3M4S"][rng.below(6)]
            )),
            _ => {}
        }
        if rng.one_in(2) {
            let freq = ["DAILY", "WEEKLY", "MONTHLY", "YEARLY", "HOURLY", "MINUTELY", "SECONDLY"][rng.below(7)];
            let extra = [";COUNT=5", ";COUNT=-1", "", ";BYDAY=MO,FR", ";BYMONTHDAY=-1", ";INTERVAL=0"][rng.below(6)];
            let until = if rng.one_in(3) { format!(";UNTIL={}", ics_time(rng)) } else { String::new() };
            out.push_str(&format!("RRULE:FREQ={freq}{extra}{until}\r\n"));
        }
        if rng.one_in(3) {
            out.push_str(&format!("EXDATE{zone}:{}\r\n", ics_time(rng)));
        }
        if rng.one_in(4) {
            out.push_str(&format!("RECURRENCE-ID{zone}:{}\r\n", ics_time(rng)));
        }
        if rng.one_in(4) {
            out.push_str("STATUS:CANCELLED\r\n");
        }
        if rng.one_in(2) {
            out.push_str(&format!("SUMMARY:{}\r\n", string(rng).replace(['\r', '\n'], " ")));
        }
        out.push_str("END:VEVENT\r\n");
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}
