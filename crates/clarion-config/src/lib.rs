//! Clarion's configuration file, `clarion.yml`.
//!
//! [`ConfigFile`] is the file's schema: every field documented, unknown keys rejected, defaults explicit.
//! [`Config::parse`] turns text into a validated [`Config`] whose route tree and inhibit rules are domain
//! types; every error names the file, the line and the field. Nothing here reads the environment or the clock.
#![forbid(unsafe_code)]

pub mod calendars;
mod channels;
mod duration;
pub mod egress;
pub mod escalation;
pub mod feedback;
mod schema;
pub mod secret;
mod standard;
pub mod time_intervals;
pub mod vulnerabilities;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use channels::*;
pub use duration::{parse_duration, ConfigDuration, DurationError};
pub use schema::*;
pub use secret::{HttpUrl, Secret, StorageUrl};
pub use standard::{StandardConfig, StandardError};

use clarion_core::inhibit::InhibitRule;
use clarion_core::page::Policy;
use clarion_core::route::{GroupBy, Route, RouteOpts};
use clarion_core::Matchers;

/// The built-in example configuration `clarion serve` uses when no file is given.
pub const EXAMPLE_CONFIG: &str = include_str!("../../../clarion.example.yml");

/// A configuration error, located in its file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Dotted path of the offending field, such as `route.routes[0].receiver`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if !self.field.is_empty() && self.field != "." {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A parsed and validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: ConfigFile,
    /// The routing tree with inherited options filled in.
    pub route: Route,
    pub inhibit_rules: Vec<InhibitRule>,
    /// The communication standard (the built-in one, adjusted by the `standard:` section).
    pub standard: clarion_core::standard::Standard,
    /// Where it came from: a path, or `<built-in example>`.
    pub source: String,
    /// Escalation policies by name.
    pub policies: HashMap<String, Policy>,
    /// Where channels may connect (`egress:`).
    pub egress: egress::EgressPolicy,
    /// Index of `file.teams` by name (names are unique).
    teams: HashMap<String, usize>,
    /// Index of `file.channels` by name (names are unique).
    channels: HashMap<String, usize>,
    /// `calendars:`, checked, with the events of their `ics_file`s.
    calendars: Vec<calendars::Calendar>,
    /// `time_intervals:` and `mute_time_intervals:` by name.
    time_intervals: HashMap<String, clarion_core::time_interval::NamedInterval>,
}

impl Config {
    /// The built-in example configuration.
    pub fn example() -> Config {
        Config::parse(EXAMPLE_CONFIG, "<built-in example>")
            .expect("the built-in example configuration is valid (tested)")
    }

    /// Reads and validates a configuration file; the first of its errors by line.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_all(path).map_err(first)
    }

    /// Reads and validates a configuration file; every error found, sorted by line (see [`Config::parse_all`]).
    pub fn load_all(path: &Path) -> Result<Config, Vec<ConfigError>> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            vec![ConfigError {
                file: name.clone(),
                line: None,
                column: None,
                field: String::new(),
                message: format!("cannot read the file: {e}"),
            }]
        })?;
        Config::parse_all(&text, &name)
    }

    /// Parses and validates configuration text; `source` names it in errors. The first error by line.
    pub fn parse(text: &str, source: &str) -> Result<Config, ConfigError> {
        Config::parse_all(text, source).map_err(first)
    }

    /// Parses and validates configuration text; on failure every error found, sorted by line, never empty.
    ///
    /// A YAML syntax error stops the reading (the parser cannot go on). A shape error (an unknown key, a
    /// wrong type, a bad duration) is recorded, the lines of the key or list item holding it are set aside,
    /// and the rest is read again, so each shape error is found in one run. The checks of meaning
    /// (unknown teams, names defined twice, …) then run on what is left; one that concerns a field set
    /// aside (the field itself, one inside it, or the mapping holding it) is not reported, as a consequence
    /// of the shape error.
    pub fn parse_all(text: &str, source: &str) -> Result<Config, Vec<ConfigError>> {
        let (file, shape) = read_shape(text, source).map_err(by_line)?;
        let mut found = Found { text, source, errors: Vec::new() };
        let config = check(file, source, &mut found);
        let mut errors = shape.errors;
        errors.extend(found.errors.into_iter().filter(|e| !shape.set_aside.explains(e)));
        let errors = by_line(errors);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    /// The declared calendar named `name`.
    pub fn calendar(&self, name: &str) -> Option<&calendars::Calendar> {
        self.calendars.iter().find(|c| c.name == name)
    }

    /// The time interval named `name` (not a `calendar:` one).
    pub fn time_interval(&self, name: &str) -> Option<&clarion_core::time_interval::NamedInterval> {
        self.time_intervals.get(name)
    }

    /// Every declared calendar, in the order declared.
    pub fn calendars(&self) -> &[calendars::Calendar] {
        &self.calendars
    }

    /// The configuration as Clarion understood it, in YAML, every secret shown as `<secret>` by its type
    /// (see [`secret`]); fields left unset are left out, defaults are written. This is what
    /// `/api/v2/status` serves as `config.original`, as Alertmanager serves its own configuration.
    pub fn shown(&self) -> String {
        let mut value = self.to_value();
        strip_nulls(&mut value);
        serde_yaml::to_string(&value).unwrap_or_else(|e| format!("# the configuration cannot be shown: {e}\n"))
    }

    /// The whole configuration as a tree, unset fields as nulls.
    pub fn to_value(&self) -> serde_yaml::Value {
        // The schema's types serialize infallibly (strings, numbers, lists, maps with string keys).
        serde_yaml::to_value(&self.file).unwrap_or(serde_yaml::Value::Null)
    }

    /// The team named `name`.
    pub fn team(&self, name: &str) -> Option<&TeamConfig> {
        self.teams.get(name).map(|&i| &self.file.teams[i])
    }

    /// The channel named `name`.
    pub fn channel(&self, name: &str) -> Option<&ChannelConfig> {
        self.channels.get(name).map(|&i| &self.file.channels[i])
    }

    /// The escalation policy of a page of `team` from a route naming `route_policy`: the route's, else
    /// the team's, else none.
    pub fn policy_for(&self, route_policy: Option<&str>, team: &str) -> Option<&Policy> {
        let name = route_policy.or_else(|| self.team(team).and_then(|t| t.escalation.as_deref()))?;
        self.policies.get(name)
    }

    /// The person a channel belongs to, when exactly one person lists it.
    pub fn person_of_channel(&self, channel: &str) -> Option<&str> {
        let mut owners = self.file.people.iter().filter(|p| p.channels.iter().any(|c| c == channel));
        match (owners.next(), owners.next()) {
            (Some(p), None) => Some(p.name.as_str()),
            _ => None,
        }
    }

    /// The names of every team, in configuration order.
    pub fn team_names(&self) -> Vec<&str> {
        self.file.teams.iter().map(|t| t.name.as_str()).collect()
    }

    /// Where SQLite keeps its file when no storage URL is configured.
    pub fn data_dir(&self) -> PathBuf {
        self.file.data_dir.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }
}

/// Errors found by the checks of meaning, each located at a text on its line.
struct Found<'a> {
    text: &'a str,
    source: &'a str,
    errors: Vec<ConfigError>,
}

impl Found<'_> {
    /// An error at the first line holding `needle`.
    fn at(&mut self, field: String, needle: &str, message: String) {
        let line = find_line(self.text, needle);
        self.push(field, line, message);
    }

    /// An error at the last line holding `needle`: for something defined twice, the second definition.
    fn at_last(&mut self, field: String, needle: &str, message: String) {
        let line = self.text.lines().enumerate().filter(|(_, l)| holds(l, needle)).last().map(|(i, _)| i + 1);
        self.push(field, line, message);
    }

    /// A mistake from a section's own check: (field, a text on its line, message, whether the line is the
    /// text's last occurrence).
    fn mistake(&mut self, (field, needle, message, last): (String, String, String, bool)) {
        if last {
            self.at_last(field, &needle, message)
        } else {
            self.at(field, &needle, message)
        }
    }

    fn push(&mut self, field: String, line: Option<usize>, message: String) {
        self.errors.push(ConfigError { file: self.source.to_string(), line, column: None, field, message });
    }
}

/// The checks of meaning across sections; every error goes to `found`. The configuration is built even
/// when some fail (with what could be checked), so that one run finds them all.
fn check(file: ConfigFile, source: &str, found: &mut Found<'_>) -> Config {
    let named = |name: &str| format!("name: {name}");
    let team_names: Vec<&str> = file.teams.iter().map(|t| t.name.as_str()).collect();
    for (i, team) in file.teams.iter().enumerate() {
        if team_names[..i].contains(&team.name.as_str()) {
            found.at_last(
                format!("teams[{i}].name"),
                &named(&team.name),
                format!("team {:?} is defined twice", team.name),
            );
        }
    }
    let egress = egress::EgressPolicy::new(&file.egress);
    for (i, channel) in file.channels.iter().enumerate() {
        // Where the channel connects, checked before anything is sent (and again on every resolved
        // address when it connects). The URL is a credential: errors name the channel, not the URL.
        let destination = match &channel.kind {
            ChannelKind::Webhook(w) => Some(("webhook.url", egress.check_url(w.url.expose()))),
            ChannelKind::Slack(s) => Some(("slack.url", egress.check_url(s.url.expose()))),
            ChannelKind::MsTeams(t) => Some(("msteams.url", egress.check_url(t.url.expose()))),
            ChannelKind::PagerDuty(p) => Some(("pagerduty.url", egress.check_url(p.url.expose()))),
            ChannelKind::Discord(d) => Some(("discord.url", egress.check_url(d.url.expose()))),
            ChannelKind::Telegram(t) => Some(("telegram.api_url", egress.check_url(t.api_url.expose()))),
            ChannelKind::Email(e) => e
                .smtp
                .rsplit_once(':')
                .and_then(|(h, p)| p.parse::<u16>().ok().map(|p| ("email.smtp", egress.check_host(h, p)))),
        };
        if let Some((field, Err(e))) = destination {
            found.at(format!("channels[{i}].{field}"), &named(&channel.name), e.to_string());
        }
        if file.channels[..i].iter().any(|c| c.name == channel.name) {
            found.at_last(
                format!("channels[{i}].name"),
                &named(&channel.name),
                format!("channel {:?} is defined twice", channel.name),
            );
        }
        // A credential is given inline or in a file: exactly one of the two.
        let credential = match &channel.kind {
            ChannelKind::PagerDuty(p) => {
                Some(("pagerduty", "routing_key", p.routing_key.is_some(), p.routing_key_file.is_some()))
            }
            ChannelKind::Telegram(t) => {
                Some(("telegram", "bot_token", t.bot_token.is_some(), t.bot_token_file.is_some()))
            }
            _ => None,
        };
        if let Some((kind, key, inline, file)) = credential {
            if inline == file {
                found.at(
                    format!("channels[{i}].{kind}"),
                    &named(&channel.name),
                    format!("set one of `{key}` or `{key}_file`"),
                );
            }
        }
        if let ChannelKind::Webhook(w) = &channel.kind {
            if w.hmac_secret.is_some() && w.hmac_secret_file.is_some() {
                found.at(
                    format!("channels[{i}].webhook"),
                    "hmac_secret",
                    "set `hmac_secret` or `hmac_secret_file`, not both".into(),
                );
            }
        }
        if let ChannelKind::Email(e) = &channel.kind {
            if e.to.is_empty() {
                found.at(
                    format!("channels[{i}].email.to"),
                    &named(&channel.name),
                    "an e-mail channel needs at least one recipient in `to`".into(),
                );
            }
            if !e.smtp.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok()) {
                found.at(format!("channels[{i}].email.smtp"), &e.smtp, format!("{:?} is not host:port", e.smtp));
            }
            if e.password.is_some() && e.password_file.is_some() {
                found.at(
                    format!("channels[{i}].email"),
                    "password",
                    "set `password` or `password_file`, not both".into(),
                );
            }
        }
    }
    for (i, team) in file.teams.iter().enumerate() {
        for (j, name) in team.channels.iter().enumerate() {
            if !file.channels.iter().any(|c| &c.name == name) {
                found.at(
                    format!("teams[{i}].channels[{j}]"),
                    name,
                    format!("unknown channel {name:?}; define it under `channels:`"),
                );
            }
        }
    }
    for (i, token) in file.auth.tokens.iter().enumerate() {
        if file.auth.tokens[..i].iter().any(|t| t.name == token.name) {
            found.at_last(
                format!("auth.tokens[{i}].name"),
                &named(&token.name),
                format!("token {:?} is defined twice", token.name),
            );
        }
        if let Some(p) = &token.provider {
            if !file.providers.iter().any(|q| &q.name == p) {
                found.at(
                    format!("auth.tokens[{i}].provider"),
                    &format!("provider: {p}"),
                    format!("unknown provider {p:?}; add it under `providers:`"),
                );
            }
        } else if token.scopes.is_empty() {
            found.at(
                format!("auth.tokens[{i}].scopes"),
                &named(&token.name),
                format!(
                    "token {:?} has no scopes (ingest, read, respond, announce, admin) and no provider",
                    token.name
                ),
            );
        }
    }
    if let Some(slack) = &file.auth.slack {
        if slack.signing_secret.is_some() == slack.signing_secret_file.is_some() {
            found.at(
                "auth.slack".into(),
                "slack:",
                "set exactly one of `signing_secret` and `signing_secret_file`".into(),
            );
        }
    }
    // People and providers: unique names, known channels.
    let channel_names: std::collections::BTreeSet<&str> = file.channels.iter().map(|c| c.name.as_str()).collect();
    let groups: [(&str, Vec<(&String, &Vec<String>)>); 2] = [
        ("people", file.people.iter().map(|p| (&p.name, &p.channels)).collect()),
        ("providers", file.providers.iter().map(|p| (&p.name, &p.channels)).collect()),
    ];
    for (section, entries) in &groups {
        for (i, (name, channels)) in entries.iter().enumerate() {
            if entries[..i].iter().any(|(n, _)| n == name) {
                found.at_last(
                    format!("{section}[{i}].name"),
                    &named(name),
                    format!("{name:?} is defined twice under `{section}:`"),
                );
            }
            for (j, c) in channels.iter().enumerate() {
                if !channel_names.contains(c.as_str()) {
                    found.at(
                        format!("{section}[{i}].channels[{j}]"),
                        c,
                        format!("unknown channel {c:?}; define it under `channels:`"),
                    );
                }
            }
        }
    }
    let directory = escalation::Directory {
        teams: file.teams.iter().map(|t| (t.name.as_str(), t.channels.as_slice())).collect(),
        people: file.people.iter().map(|p| (p.name.as_str(), p.channels.as_slice())).collect(),
        providers: file.providers.iter().map(|p| (p.name.as_str(), p.channels.as_slice())).collect(),
    };
    for (field, needle, message) in escalation::check_policies(&file.escalation_policies, &directory) {
        found.at(field, &needle, message);
    }
    let policy_names: Vec<&str> = file.escalation_policies.iter().map(|p| p.name.as_str()).collect();
    for (i, team) in file.teams.iter().enumerate() {
        if let Some(p) = team.escalation.as_deref().filter(|p| !policy_names.contains(p)) {
            found.at(
                format!("teams[{i}].escalation"),
                &format!("escalation: {p}"),
                format!("unknown escalation policy {p:?}; define it under `escalation_policies:`"),
            );
        }
    }
    let services = escalation::check_services(
        &file.services,
        &file.teams.iter().map(|t| t.name.as_str()).collect(),
        &file.providers.iter().map(|p| p.name.as_str()).collect(),
    );
    for (field, needle, message) in services {
        found.at(field, &needle, message);
    }
    // `ics_file` paths are relative to the configuration file (or the working directory for text that
    // did not come from a file).
    let base =
        if source.starts_with('<') { Path::new(".") } else { Path::new(source).parent().unwrap_or(Path::new(".")) };
    let (calendars, mistakes) = calendars::check(&file.calendars, base);
    mistakes.into_iter().for_each(|m| found.mistake(m));
    let (time_intervals, mistakes) = time_intervals::check(&file.time_intervals, &file.mute_time_intervals);
    mistakes.into_iter().for_each(|m| found.mistake(m));
    // Declared names count even when their definition has a mistake (reported there), so a route naming
    // one gets no second error.
    let known_interval = |name: &str| match name.strip_prefix("calendar:") {
        Some(calendar) => file.calendars.iter().any(|c| c.name == calendar),
        None => file.time_intervals.iter().chain(&file.mute_time_intervals).any(|t| t.name == name),
    };
    let names = Names { teams: &team_names, policies: &policy_names, intervals: &known_interval };
    for (field, needle, message) in vulnerabilities::check(&file.vulnerabilities) {
        found.at(field, &needle, message);
    }
    for (field, needle, message) in feedback::check(&file.feedback) {
        found.at(field, &needle, message);
    }
    for (field, ttl) in [("ack_link_ttl", file.auth.ack_link_ttl), ("session_ttl", file.auth.session_ttl)] {
        if ttl.0.is_zero() {
            found.at(format!("auth.{field}"), &format!("{field}:"), format!("{field} cannot be zero"));
        }
    }
    for (i, team) in file.teams.iter().enumerate() {
        if let Some(name) = team.working_hours.as_deref().filter(|n| !file.time_intervals.iter().any(|t| t.name == *n))
        {
            found.at(
                format!("teams[{i}].working_hours"),
                &format!("working_hours: {name}"),
                format!("unknown time interval {name:?}; define it under `time_intervals:`"),
            );
        }
    }
    let mut route_errors = Vec::new();
    let route = build_route(&file.route, None, "route", &names, &mut route_errors);
    for (field, needle, message) in route_errors {
        found.at(field, &needle, message);
    }
    let policies = file.escalation_policies.iter().map(|p| (p.name.clone(), p.to_domain())).collect();
    let inhibit_rules = file
        .inhibit_rules
        .iter()
        .map(|r| InhibitRule {
            source_matchers: r.source_matchers.merged_with(&r.source_match, &r.source_match_re),
            target_matchers: r.target_matchers.merged_with(&r.target_match, &r.target_match_re),
            equal: r.equal.clone(),
        })
        .collect();
    let standard = file.standard.to_domain().unwrap_or_else(|e| {
        found.at("standard".into(), "standard:", e.to_string());
        clarion_core::standard::Standard::default()
    });
    let teams = file.teams.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
    let channels = file.channels.iter().enumerate().map(|(i, c)| (c.name.clone(), i)).collect();
    Config {
        file,
        route,
        inhibit_rules,
        standard,
        source: source.to_string(),
        policies,
        egress,
        teams,
        channels,
        calendars,
        time_intervals,
    }
}

/// The shape errors found, and the keys set aside to find them.
#[derive(Default)]
struct Shape {
    errors: Vec<ConfigError>,
    /// The fields of the keys set aside, such as `route.group_wait`.
    set_aside: SetAside,
}

#[derive(Default)]
struct SetAside {
    fields: Vec<String>,
}

impl SetAside {
    /// Whether a check of meaning could have failed because of a key set aside: it concerns that field,
    /// a field inside it, or the mapping holding it.
    fn explains(&self, e: &ConfigError) -> bool {
        let within = |inner: &str, outer: &str| {
            inner.strip_prefix(outer).is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        };
        self.fields.iter().any(|f| within(&e.field, f) || within(f, &e.field))
    }
}

/// Reads the text into the schema, finding every shape error it can: after one, the key holding it
/// (that line and the lines indented under it) is set aside and the text read again. The reading stops
/// at a YAML syntax error, at an error no single key can be set aside for (a list item, a flow mapping),
/// and at an error that only follows from a key set aside; the errors found so far are returned then.
fn read_shape(text: &str, source: &str) -> Result<(ConfigFile, Shape), Vec<ConfigError>> {
    if text.trim().is_empty() {
        return Ok((ConfigFile::default(), Shape::default()));
    }
    let original: Vec<&str> = text.lines().collect();
    let mut lines = original.clone();
    let mut blanked = vec![false; lines.len()];
    let mut blanked_keys: Vec<String> = Vec::new();
    let mut shape = Shape::default();
    // Each round sets aside at least one more line, so the rounds end.
    loop {
        let current = lines.join("\n");
        let de = serde_yaml::Deserializer::from_str(&current);
        let e = match serde_path_to_error::deserialize::<_, ConfigFile>(de) {
            Ok(file) => return Ok((file, shape)),
            Err(e) => e,
        };
        let (error, syntax) = shape_error(&current, source, e);
        let stop = |mut shape: Shape, error: Option<ConfigError>| Err(shape.errors.drain(..).chain(error).collect());
        if syntax {
            // A syntax error made by setting a key aside is not the author's.
            return stop(shape, if blanked_keys.is_empty() { Some(error) } else { None });
        }
        let index = error.line.map(|l| l.saturating_sub(1)).filter(|&i| i < lines.len());
        let follows_from_set_aside = error
            .message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
            .is_some_and(|k| blanked_keys.iter().any(|b| b == k))
            // A list item or mapping emptied by setting aside what was in it.
            || index.is_some_and(|i| blanked[i])
            || index.is_some_and(|i| {
                (i + 1..lines.len()).find(|&j| blanked[j] || !original[j].trim().is_empty()).is_some_and(|j| blanked[j])
            });
        // The same error again (its line was found wrongly, and a good key set aside): stop here.
        let again = shape.errors.iter().any(|e| e.field == error.field && e.message == error.message);
        if follows_from_set_aside || again {
            return stop(shape, None);
        }
        // The key to set aside: the error's line must hold the field's own key, alone (`key: value`) or as
        // the first key of a list item (`- key: value`, where the dash stays and the item keeps its other
        // keys).
        // A key inside a flow mapping (`limits: {bogus: 1}`) sets aside the mapping's key, whole.
        let mut segments = error.field.rsplit('.').map(|s| s.split('[').next().unwrap_or(""));
        let (last_key, parent_key) = (segments.next().unwrap_or(""), segments.next());
        let indent = |l: &str| l.len() - l.trim_start().len();
        let key_at = index.filter(|&i| !blanked[i] && !last_key.is_empty()).and_then(|i| {
            let line = lines[i];
            let content = line.trim_start().strip_prefix('-').map_or(line.trim_start(), str::trim_start);
            let column = line.len() - content.len();
            let key = content.split(':').next();
            if key == Some(last_key) {
                Some((i, column, last_key, error.field.clone()))
            } else if key.is_some() && key == parent_key && content.contains('{') {
                let parent = error.field.rsplit_once('.').map_or(String::new(), |(p, _)| p.to_string());
                Some((i, column, parent_key.unwrap_or(""), parent))
            } else {
                None
            }
        });
        let Some((i, column, last_key, set_aside)) = key_at else { return stop(shape, Some(error)) };
        let dash = lines[i].trim_start().starts_with('-').then(|| &original[i][..indent(original[i]) + 1]);
        // What belongs to the key: lines indented deeper, and — when the key's value starts on the next
        // line — a sequence written at the key's own column (`receivers:` then `- name: x`).
        let value_below = lines[i].trim_end().ends_with(':');
        let mut end = i + 1;
        while end < lines.len() && {
            let l = lines[end].trim_start();
            let at_column = indent(lines[end]) == column;
            l.is_empty()
                || l.starts_with('#')
                || indent(lines[end]) > column
                || (value_below && at_column && l.starts_with('-'))
        } {
            end += 1;
        }
        for j in i..end {
            lines[j] = "";
            blanked[j] = true;
        }
        if let Some(dash) = dash {
            lines[i] = dash;
        }
        blanked_keys.push(last_key.to_string());
        shape.set_aside.fields.push(set_aside);
        shape.errors.push(error);
    }
}

/// A serde error as a located configuration error, and whether it is a YAML syntax error.
fn shape_error(text: &str, source: &str, e: serde_path_to_error::Error<serde_yaml::Error>) -> (ConfigError, bool) {
    let field = e.path().to_string();
    let inner = e.into_inner();
    let loc = inner.location();
    let mut line = loc.as_ref().map(|l| refine_line(text, l.line(), &field));
    let message = strip_location(&inner.to_string(), &field);
    // The parser places a key given twice at the start of its mapping: point at the second.
    if let Some(key) = message.strip_prefix("duplicate field `").and_then(|m| m.split('`').next()) {
        line = duplicate_line(text, line.unwrap_or(1), key).or(line);
    }
    let source_line = line.and_then(|n| text.lines().nth(n.saturating_sub(1)));
    let syntax = message.contains("while scanning") || message.contains("while parsing");
    // A syntax error in words; its field is only where the parser had got to (`route.?`).
    let (message, field, syntax) = match explain_syntax(&message, source_line) {
        Some(words) => (
            format!("{words} (YAML: {message})"),
            field.trim_end_matches('?').trim_end_matches('.').trim_end_matches('?').to_string(),
            true,
        ),
        None => (message, field, syntax),
    };
    let error = ConfigError {
        file: source.to_string(),
        column: loc.as_ref().filter(|l| Some(l.line()) == line).map(|l| l.column()),
        line,
        message,
        field,
    };
    (error, syntax)
}

/// Errors sorted by line (those without one last).
fn by_line(mut errors: Vec<ConfigError>) -> Vec<ConfigError> {
    errors.sort_by_key(|e| (e.line.is_none(), e.line, e.column));
    errors
}

/// The first error by line of a refused configuration.
fn first(errors: Vec<ConfigError>) -> ConfigError {
    errors.into_iter().next().unwrap_or_else(|| ConfigError {
        file: String::new(),
        line: None,
        column: None,
        field: String::new(),
        message: "the configuration was refused".into(),
    })
}

type RouteError = (String, String, String);

/// What a route may name: teams, escalation policies, and time intervals or `calendar:NAME`s.
struct Names<'a> {
    teams: &'a [&'a str],
    policies: &'a [&'a str],
    intervals: &'a dyn Fn(&str) -> bool,
}

fn build_route(
    cfg: &RouteConfig,
    parent: Option<&RouteOpts>,
    field: &str,
    names: &Names<'_>,
    errors: &mut Vec<RouteError>,
) -> Route {
    let (teams, policies) = (names.teams, names.policies);
    for (key, list) in
        [("mute_time_intervals", &cfg.mute_time_intervals), ("active_time_intervals", &cfg.active_time_intervals)]
    {
        if parent.is_none() && !list.is_empty() {
            errors.push((
                format!("{field}.{key}"),
                key.into(),
                format!("the root route cannot have {key} (as in Alertmanager); set them on a child route"),
            ));
        }
        for (i, name) in list.iter().enumerate().filter(|(_, n)| !(names.intervals)(n)) {
            errors.push((
                format!("{field}.{key}[{i}]"),
                name.clone(),
                format!("unknown time interval {name:?}; define it under `time_intervals:`, or name a calendar as calendar:NAME"),
            ));
        }
    }
    if let Some(p) = cfg.escalation.as_deref().filter(|p| !policies.contains(p)) {
        errors.push((
            format!("{field}.escalation"),
            format!("escalation: {p}"),
            format!("unknown escalation policy {p:?}; define it under `escalation_policies:`"),
        ));
    }
    let receiver = match (&cfg.receiver, parent) {
        (Some(r), _) => r.clone(),
        (None, Some(p)) => p.receiver.clone(),
        (None, None) => {
            errors.push((
                format!("{field}.receiver"),
                "route:".into(),
                "the root route needs a receiver (a team name)".into(),
            ));
            String::new()
        }
    };
    if !receiver.is_empty() && !teams.contains(&receiver.as_str()) {
        let known = if teams.is_empty() {
            "no teams are defined".to_string()
        } else {
            format!("known teams: {}", teams.join(", "))
        };
        errors.push((
            format!("{field}.receiver"),
            receiver.clone(),
            format!("unknown team {receiver:?} ({known}); add it under `teams:`"),
        ));
    }
    let matchers = cfg.matchers.merged_with(&cfg.match_, &cfg.match_re);
    if parent.is_none() && !matchers.is_empty() {
        errors.push((
            format!("{field}.matchers"),
            "route:".into(),
            "the root route must not have matchers: it receives every alert".into(),
        ));
    }
    let inherit =
        |own: Option<ConfigDuration>, from: fn(&RouteOpts) -> std::time::Duration, default: ConfigDuration| {
            own.map(|d| d.0).or(parent.map(from)).unwrap_or(default.0)
        };
    let opts = RouteOpts {
        receiver,
        group_by: match (&cfg.group_by, parent) {
            (Some(g), _) => g.to_domain(),
            (None, Some(p)) => p.group_by.clone(),
            (None, None) => GroupBy::Labels(Vec::new()),
        },
        group_wait: inherit(cfg.group_wait, |p| p.group_wait, DEFAULT_GROUP_WAIT),
        group_interval: inherit(cfg.group_interval, |p| p.group_interval, DEFAULT_GROUP_INTERVAL),
        repeat_interval: inherit(cfg.repeat_interval, |p| p.repeat_interval, DEFAULT_REPEAT_INTERVAL),
        escalation: cfg.escalation.clone().or_else(|| parent.and_then(|p| p.escalation.clone())),
        flap_guard: cfg.flap_guard.or(parent.map(|p| p.flap_guard)).unwrap_or(false),
        mute_time_intervals: cfg.mute_time_intervals.clone(),
        active_time_intervals: cfg.active_time_intervals.clone(),
        labels: {
            let mut labels = parent.map(|p| p.labels.clone()).unwrap_or_default();
            for (name, value) in &cfg.labels {
                labels.insert(name.as_str(), value.as_str());
            }
            labels
        },
    };
    if opts.group_interval.is_zero() {
        errors.push((
            format!("{field}.group_interval"),
            "group_interval".into(),
            "group_interval cannot be zero".into(),
        ));
    }
    if opts.repeat_interval.is_zero() {
        errors.push((
            format!("{field}.repeat_interval"),
            "repeat_interval".into(),
            "repeat_interval cannot be zero".into(),
        ));
    }
    let children = cfg
        .routes
        .iter()
        .enumerate()
        .map(|(i, c)| build_route(c, Some(&opts), &format!("{field}.routes[{i}]"), names, errors))
        .collect();
    match parent {
        None => Route::root(opts, children),
        Some(_) => Route::child(matchers, cfg.continue_, opts, children),
    }
}

impl MatchersConfig {
    /// These matchers plus the legacy `match` (equality) and `match_re` (regex) maps.
    fn merged_with<const A: bool, const B: bool>(&self, eq: &MatchMap<A>, re: &MatchMap<B>) -> Matchers {
        let mut all = self.0.clone();
        all.0.extend(eq.0.iter().cloned());
        all.0.extend(re.0.iter().cloned());
        all
    }
}

/// Removes null members (unset optional fields), for a readable rendering.
fn strip_nulls(value: &mut serde_yaml::Value) {
    match value {
        serde_yaml::Value::Mapping(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        serde_yaml::Value::Sequence(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// serde_yaml prefixes its own path (`route: …`) and appends " at line L column C"; both are printed
/// separately.
fn strip_location(msg: &str, field: &str) -> String {
    let msg = match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    match msg.split_once(": ") {
        Some((prefix, rest)) if !prefix.contains(' ') && field.starts_with(prefix) => rest.to_string(),
        _ => msg.to_string(),
    }
}

/// serde_yaml locates errors raised while converting a value at the start of the enclosing mapping; the
/// field's own line is the first line from there that starts with the field's key.
fn refine_line(text: &str, line: usize, field: &str) -> usize {
    let key = field.rsplit('.').next().unwrap_or("");
    let key = key.split('[').next().unwrap_or("");
    if key.is_empty() {
        return line;
    }
    let wanted = format!("{key}:");
    text.lines()
        .enumerate()
        .skip(line.saturating_sub(1))
        .find(|(_, l)| {
            let t = l.trim_start().trim_start_matches("- ").trim_start_matches('{').trim_start();
            t.starts_with(&wanted)
        })
        .map_or(line, |(i, _)| i + 1)
}

/// 1-based line of the second `key:` at the indentation of the first, from line `from` on: where a key
/// given twice in one mapping is given again.
fn duplicate_line(text: &str, from: usize, key: &str) -> Option<usize> {
    let wanted = format!("{key}:");
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut keys = text
        .lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .filter(|(_, l)| l.trim_start().trim_start_matches("- ").starts_with(&wanted));
    let (_, first) = keys.next()?;
    keys.find(|(_, l)| indent(l) == indent(first)).map(|(i, _)| i + 1)
}

/// 1-based line of the first occurrence of `needle`, for errors found after parsing.
fn find_line(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| holds(l, needle)).map(|i| i + 1)
}

/// Whether `line` holds `needle`; a needle that starts with a key (`wait:`, `name: x`) only where a key
/// starts, so `wait:` does not find `group_wait:`.
fn holds(line: &str, needle: &str) -> bool {
    let is_key = needle.split(':').next().is_some_and(|k| !k.is_empty() && !k.contains(' ')) && needle.contains(':');
    if !is_key {
        return line.contains(needle);
    }
    line.match_indices(needle).any(|(i, _)| {
        line[..i]
            .chars()
            .next_back()
            .is_none_or(|c| c.is_whitespace() || matches!(c, '{' | ',' | '-' | '[' | '\'' | '"'))
    })
}

#[cfg(test)]
mod tests;

/// What a YAML syntax error means, in words, with what to check; `line` is the line it points at. `None`
/// for messages that are not syntax errors (those already say what is wrong with a field).
fn explain_syntax(message: &str, line: Option<&str>) -> Option<&'static str> {
    let has = |needle: &str| message.contains(needle);
    Some(if line.is_some_and(|l| l.contains('\t')) && has("cannot start any token") {
        "a tab: YAML indents with spaces only"
    } else if has("mapping values are not allowed") {
        "a `key: value` where none can be: this line is indented deeper than the keys above it, or a value \
         holding `: ` needs quotes"
    } else if has("did not find expected key") || has("did not find expected node content") {
        "this line does not line up with the keys around it: the keys of one mapping start in the same column"
    } else if has("did not find expected ',' or ']'") {
        "a list in brackets is not closed: a `]` (or a `,` between items) is missing"
    } else if has("did not find expected ',' or '}'") {
        "a mapping in braces is not closed: a `}` (or a `,` between entries) is missing"
    } else if has("could not find expected ':'") {
        "a key without `:` after it"
    } else if has("found unexpected end of stream") {
        "the file ends inside a quoted text or a bracket: a closing quote or bracket is missing"
    } else if has("found unknown escape character") {
        "an unknown `\\` escape in a double-quoted text: use single quotes, or `\\\\` for a backslash"
    } else if has("cannot start any token") {
        "a character no YAML value can start with (`@` or a backtick): put the value in quotes"
    } else {
        return None;
    })
}
