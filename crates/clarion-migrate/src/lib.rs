//! `clarion migrate alertmanager`: an Alertmanager configuration (`alertmanager.yml`) turned into Clarion's
//! (`clarion.yml`).
//!
//! What is carried over: the route tree (matchers in every spelling, grouping, timing, `continue`, time
//! intervals, route labels), inhibit rules, time intervals under either name, the global resolve timeout,
//! and each receiver as a team of the same name with one channel per webhook, Slack, e-mail, Teams
//! (`msteamsv2`), PagerDuty, Discord and Telegram config (global defaults applied, each integration's own
//! `send_resolved` default kept). Routing is
//! unchanged: the same label set reaches the same receivers, in the same order (a differential test with
//! amtool holds this).
//!
//! What is not: every other setting — templates, integrations Clarion has no channel for, `http_config`,
//! message fields Clarion writes itself — becomes a [`Note`] with the line it was written on. **Nothing
//! is dropped without a note, a note never quotes a value (secrets stay out of it), and the result passes
//! `Config::parse`, the check `clarion check-config` runs, or the migration fails.** Pure: text in, text
//! and notes out.

#![forbid(unsafe_code)]

pub mod doc;

use std::fmt;

use doc::{Doc, Entry};
use serde_yaml::{Mapping, Value};

/// The converted configuration and what it does not carry over.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    /// `clarion.yml`, with a comment header.
    pub yaml: String,
    /// Every setting not carried over, in file order.
    pub notes: Vec<Note>,
}

/// A setting of the Alertmanager file that the converted one does not carry, and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Note {
    /// 1-based line of the setting's key.
    pub line: usize,
    /// Where it sits, such as `receivers[2].pagerduty_configs`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.path, self.message)
    }
}

/// Why a file could not be migrated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigrateError {
    #[error("line {line}, column {column}: {message}")]
    Yaml { line: usize, column: usize, message: String },
    #[error("line {line}: {message}")]
    NotAlertmanager { line: usize, message: String },
    #[error("the converted configuration does not pass check-config: {0}")]
    Invalid(String),
}

/// Converts the Alertmanager configuration `text`.
pub fn alertmanager(text: &str) -> Result<Migration, MigrateError> {
    let doc = doc::read(text).map_err(|p| MigrateError::Yaml { line: p.line, column: p.column, message: p.message })?;
    if !matches!(doc, Doc::Map(_)) {
        return Err(MigrateError::NotAlertmanager {
            line: 1,
            message: "expected a mapping with `route:` and `receivers:`".into(),
        });
    }
    let route = doc.get("route").ok_or(MigrateError::NotAlertmanager {
        line: 1,
        message: "no `route:`: an Alertmanager configuration needs a root route".into(),
    })?;
    let mut m = Migrator::default();
    let globals = Globals::read(doc.get("global"), &mut m);
    let mut out = Mapping::new();
    if let Some(timeout) = &globals.resolve_timeout {
        let mut global = Mapping::new();
        global.insert("resolve_timeout".into(), timeout.clone());
        out.insert("global".into(), Value::Mapping(global));
    }
    let (teams, channels) = m.receivers(doc.get("receivers"), &globals);
    out.insert("teams".into(), Value::Sequence(teams));
    if !channels.is_empty() {
        out.insert("channels".into(), Value::Sequence(channels));
    }
    out.insert("route".into(), m.route(&route.value, "route", route.line));
    for entry in doc.entries() {
        match entry.key.as_str() {
            "global" | "route" | "receivers" => {}
            "inhibit_rules" => {
                let rules = m.inhibit_rules(entry);
                out.insert("inhibit_rules".into(), rules);
            }
            "time_intervals" | "mute_time_intervals" => {
                out.insert(entry.key.as_str().into(), entry.value.to_value());
            }
            "templates" => m.note(
                entry.line,
                "templates",
                "notification templates are not carried over: Clarion writes its own messages (what, why, \
                 impact, action, owner) from the alerts' labels and annotations",
            ),
            other => m.note(entry.line, other, "not carried over: Clarion has no such setting"),
        }
    }
    let body = serde_yaml::to_string(&Value::Mapping(out)).map_err(|e| MigrateError::Invalid(e.to_string()))?;
    m.notes.sort();
    let yaml = format!(
        "# clarion.yml converted from an Alertmanager configuration by `clarion migrate alertmanager`.\n\
         # Each receiver is a team of the same name, with one channel per integration config it could carry.\n\
         # Settings not carried over: {} (listed on stderr with their lines).\n{body}",
        m.notes.len()
    );
    clarion_config::Config::parse(&yaml, "clarion.yml").map_err(|e| MigrateError::Invalid(e.to_string()))?;
    Ok(Migration { yaml, notes: m.notes })
}

#[derive(Default)]
struct Migrator {
    notes: Vec<Note>,
}

/// The `global:` settings receivers fall back to.
#[derive(Default)]
struct Globals {
    resolve_timeout: Option<Value>,
    smtp_smarthost: Option<String>,
    smtp_from: Option<String>,
    smtp_username: Option<String>,
    smtp_password: Option<String>,
    smtp_password_file: Option<String>,
    smtp_require_tls: Option<bool>,
    slack_api_url: Option<String>,
    pagerduty_url: Option<String>,
    telegram_api_url: Option<String>,
}

impl Globals {
    fn read(global: Option<&Entry>, m: &mut Migrator) -> Globals {
        let mut g = Globals::default();
        for e in global.map(|g| g.value.entries()).unwrap_or_default() {
            let text = e.value.text().map(str::to_string);
            match e.key.as_str() {
                "resolve_timeout" => g.resolve_timeout = Some(e.value.to_value()),
                "smtp_smarthost" => g.smtp_smarthost = text,
                "smtp_from" => g.smtp_from = text,
                "smtp_auth_username" => g.smtp_username = text,
                "smtp_auth_password" => g.smtp_password = text,
                "smtp_auth_password_file" => g.smtp_password_file = text,
                "smtp_require_tls" => g.smtp_require_tls = text.as_deref().and_then(yaml_bool),
                "slack_api_url" => g.slack_api_url = text,
                "pagerduty_url" => g.pagerduty_url = text,
                "telegram_api_url" => g.telegram_api_url = text,
                other => m.note(e.line, &format!("global.{other}"), &not_carried(other)),
            }
        }
        g
    }
}

/// A YAML 1.1 boolean as Alertmanager's YAML reader takes it: `true`, `True`, `yes`, `on`, `y` and
/// their opposites, in any of the spellings it accepts.
fn yaml_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => Some(true),
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n" | "N" => Some(false),
        _ => None,
    }
}

/// Why a setting is not carried over, by its key.
fn not_carried(key: &str) -> String {
    match key {
        "http_config" => "HTTP client settings (proxy, TLS, authentication) are not carried over; Clarion's \
                          channels use `egress:` and their own timeouts"
            .into(),
        "smtp_hello" | "hello" => "the SMTP HELO name is not carried over (Clarion sends its host name)".into(),
        "smtp_auth_identity" | "auth_identity" | "smtp_auth_secret" | "auth_secret" => {
            "CRAM-MD5 and PLAIN identities are not carried over (Clarion logs in with username and password)".into()
        }
        k if k.ends_with("_file") => {
            format!(
                "`{k}` is not carried over: put the value in the channel, or use a setting Clarion reads from a file"
            )
        }
        k if k.ends_with("_url") || k.ends_with("_api_url") => {
            format!("`{k}` is for an integration Clarion has no channel for; not carried over")
        }
        _ => "not carried over".into(),
    }
}

/// A receiver integration Clarion has a channel kind for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Webhook,
    Slack,
    Email,
    MsTeams,
    PagerDuty,
    Discord,
    Telegram,
}

impl Kind {
    /// The channel kind's key in clarion.yml, also the suffix of the channel's name.
    fn name(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Slack => "slack",
            Kind::Email => "email",
            Kind::MsTeams => "msteams",
            Kind::PagerDuty => "pagerduty",
            Kind::Discord => "discord",
            Kind::Telegram => "telegram",
        }
    }
}

impl Migrator {
    fn note(&mut self, line: usize, path: &str, message: &str) {
        self.notes.push(Note { line, path: path.to_string(), message: message.to_string() });
    }

    /// Each receiver as a team with its channels; the channels of all teams.
    fn receivers(&mut self, receivers: Option<&Entry>, g: &Globals) -> (Vec<Value>, Vec<Value>) {
        let (mut teams, mut channels) = (Vec::new(), Vec::new());
        for (i, item) in receivers.map(|r| r.value.items()).unwrap_or_default().iter().enumerate() {
            let path = format!("receivers[{i}]");
            let Some(name) = item.doc.get("name").and_then(|e| e.value.text()) else {
                self.note(item.line, &path, "a receiver without a name is not carried over");
                continue;
            };
            let mut own = Vec::new();
            for e in item.doc.entries() {
                let kind = match e.key.as_str() {
                    "name" => continue,
                    "webhook_configs" => Kind::Webhook,
                    "slack_configs" => Kind::Slack,
                    "email_configs" => Kind::Email,
                    "msteamsv2_configs" => Kind::MsTeams,
                    "pagerduty_configs" => Kind::PagerDuty,
                    "discord_configs" => Kind::Discord,
                    "telegram_configs" => Kind::Telegram,
                    "msteams_configs" => {
                        self.note(
                            e.line,
                            &format!("{path}.msteams_configs"),
                            "Office 365 connectors are retired: make a Teams Workflows webhook and use it in an \
                             `msteams` channel; not carried over",
                        );
                        continue;
                    }
                    other if other.ends_with("_configs") => {
                        let integration = other.trim_end_matches("_configs");
                        self.note(
                            e.line,
                            &format!("{path}.{other}"),
                            &format!(
                                "Clarion has no {integration} channel; this receiver's {integration} \
                                 notifications are not carried over"
                            ),
                        );
                        continue;
                    }
                    other => {
                        self.note(e.line, &format!("{path}.{other}"), "not carried over");
                        continue;
                    }
                };
                let configs = e.value.items();
                for (j, config) in configs.iter().enumerate() {
                    let at = format!("{path}.{}[{j}]", e.key);
                    let same_kind = own.iter().filter(|(k, _)| *k == kind).count();
                    let channel_name = match same_kind {
                        0 => format!("{name}-{}", kind.name()),
                        n => format!("{name}-{}-{}", kind.name(), n + 1),
                    };
                    let settings = match kind {
                        Kind::Webhook => self.webhook(&config.doc, &at, config.line),
                        Kind::Slack => self.slack(&config.doc, &at, config.line, g),
                        Kind::Email => self.email(&config.doc, &at, config.line, g),
                        Kind::MsTeams | Kind::Discord => self.chat_webhook(kind, &config.doc, &at, config.line),
                        Kind::PagerDuty => self.pagerduty(&config.doc, &at, config.line, g),
                        Kind::Telegram => self.telegram(&config.doc, &at, config.line, g),
                    };
                    if let Some((send_resolved, settings)) = settings {
                        let mut channel = Mapping::new();
                        channel.insert("name".into(), channel_name.clone().into());
                        channel.insert("send_resolved".into(), send_resolved.into());
                        channel.insert(kind.name().into(), Value::Mapping(settings));
                        channels.push(Value::Mapping(channel));
                        own.push((kind, channel_name));
                    }
                }
            }
            let mut team = Mapping::new();
            team.insert("name".into(), name.into());
            if !own.is_empty() {
                team.insert("channels".into(), own.into_iter().map(|(_, n)| Value::String(n)).collect());
            }
            teams.push(Value::Mapping(team));
        }
        (teams, channels)
    }

    /// `send_resolved` as written, else the integration's default.
    fn send_resolved(config: &Doc, default: bool) -> bool {
        config.get("send_resolved").and_then(|e| e.value.text()).and_then(yaml_bool).unwrap_or(default)
    }

    fn webhook(&mut self, c: &Doc, at: &str, line: usize) -> Option<(bool, Mapping)> {
        let mut out = Mapping::new();
        for e in c.entries() {
            match e.key.as_str() {
                "url" => {
                    out.insert("url".into(), e.value.to_value());
                }
                "max_alerts" | "timeout" => {
                    out.insert(e.key.as_str().into(), e.value.to_value());
                }
                "send_resolved" => {}
                other => self.note(e.line, &format!("{at}.{other}"), &not_carried(other)),
            }
        }
        if !out.contains_key("url") {
            self.note(line, at, "a webhook without an inline `url` is not carried over (Clarion has no `url_file`)");
            return None;
        }
        out.insert("format".into(), "alertmanager-v4".into());
        Some((Self::send_resolved(c, true), out))
    }

    fn slack(&mut self, c: &Doc, at: &str, line: usize, g: &Globals) -> Option<(bool, Mapping)> {
        // A config's own `api_url_file` wins over the global URL in Alertmanager: it is noted, and the
        // global URL is not put in its place (the messages would go to another webhook).
        if c.get("api_url_file").is_some() && c.get("api_url").is_none() {
            self.note(
                line,
                at,
                "a Slack config whose URL is in `api_url_file` is not carried over (none of its settings): put \
                 the URL in a `slack` channel",
            );
            return None;
        }
        let mut url = g.slack_api_url.clone();
        for e in c.entries() {
            match e.key.as_str() {
                "api_url" => url = e.value.text().map(str::to_string),
                "send_resolved" => {}
                "channel" => self.note(
                    e.line,
                    &format!("{at}.channel"),
                    "not carried over: a Slack incoming webhook posts to the channel it was made for",
                ),
                "http_config" | "api_url_file" => self.note(e.line, &format!("{at}.{}", e.key), &not_carried(&e.key)),
                other => self.note(
                    e.line,
                    &format!("{at}.{other}"),
                    "message fields are not carried over: Clarion writes its own Slack message with the \
                     clarity fields",
                ),
            }
        }
        let Some(url) = url else {
            self.note(line, at, "a Slack config without `api_url` (here or in `global:`) is not carried over");
            return None;
        };
        let mut out = Mapping::new();
        out.insert("url".into(), url.into());
        Some((Self::send_resolved(c, false), out))
    }

    fn email(&mut self, c: &Doc, at: &str, line: usize, g: &Globals) -> Option<(bool, Mapping)> {
        let (mut to, mut from, mut smarthost) = (None, g.smtp_from.clone(), g.smtp_smarthost.clone());
        let (mut username, mut password, mut password_file) = (None, None, None);
        let mut require_tls = g.smtp_require_tls.unwrap_or(true);
        for e in c.entries() {
            let text = e.value.text().map(str::to_string);
            match e.key.as_str() {
                "to" => to = text,
                "from" => from = text,
                "smarthost" => smarthost = text,
                "auth_username" => username = text,
                "auth_password" => password = text,
                "auth_password_file" => password_file = text,
                "require_tls" => require_tls = text.as_deref().and_then(yaml_bool).unwrap_or(true),
                "send_resolved" => {}
                "html" | "text" | "headers" => self.note(
                    e.line,
                    &format!("{at}.{}", e.key),
                    "not carried over: Clarion writes its own e-mail with the clarity fields",
                ),
                other => self.note(e.line, &format!("{at}.{other}"), &not_carried(other)),
            }
        }
        // As Alertmanager: the global login applies only to a config that sets none of its own.
        if username.is_none() {
            username = g.smtp_username.clone();
        }
        if password.is_none() && password_file.is_none() {
            (password, password_file) = (g.smtp_password.clone(), g.smtp_password_file.clone());
        }
        let (Some(to), Some(from), Some(smarthost)) = (to, from, smarthost) else {
            self.note(
                line,
                at,
                "an e-mail config needs `to`, `from` and `smarthost` (here or in `global:`); not carried over",
            );
            return None;
        };
        let mut out = Mapping::new();
        out.insert("smtp".into(), smarthost.clone().into());
        // Alertmanager speaks TLS from the first byte on port 465 and STARTTLS elsewhere when TLS is required.
        let tls = match (require_tls, smarthost.ends_with(":465")) {
            (_, true) => "tls",
            (true, false) => "starttls",
            (false, false) => "none",
        };
        out.insert("tls".into(), tls.into());
        if let Some(u) = username {
            out.insert("username".into(), u.into());
        }
        if let Some(p) = password {
            out.insert("password".into(), p.into());
        } else if let Some(p) = password_file {
            out.insert("password_file".into(), p.into());
        }
        out.insert("from".into(), from.into());
        let to: Vec<Value> =
            to.split(',').map(str::trim).filter(|a| !a.is_empty()).map(|a| Value::String(a.to_string())).collect();
        out.insert("to".into(), Value::Sequence(to));
        Some((Self::send_resolved(c, false), out))
    }

    /// A Teams (`msteamsv2_configs`) or Discord config: its `webhook_url`.
    fn chat_webhook(&mut self, kind: Kind, c: &Doc, at: &str, line: usize) -> Option<(bool, Mapping)> {
        let mut url = None;
        for e in c.entries() {
            match e.key.as_str() {
                "webhook_url" => url = e.value.text().map(str::to_string),
                "send_resolved" => {}
                "http_config" | "webhook_url_file" => {
                    self.note(e.line, &format!("{at}.{}", e.key), &not_carried(&e.key))
                }
                other => self.note(
                    e.line,
                    &format!("{at}.{other}"),
                    "message fields are not carried over: Clarion writes its own message with the clarity fields",
                ),
            }
        }
        let Some(url) = url else {
            self.note(
                line,
                at,
                &format!("a {} config without an inline `webhook_url` is not carried over", kind.name()),
            );
            return None;
        };
        let mut out = Mapping::new();
        out.insert("url".into(), url.into());
        Some((Self::send_resolved(c, true), out))
    }

    fn pagerduty(&mut self, c: &Doc, at: &str, line: usize, g: &Globals) -> Option<(bool, Mapping)> {
        let mut out = Mapping::new();
        let mut url = g.pagerduty_url.clone();
        let mut v1 = false;
        for e in c.entries() {
            let text = e.value.text().map(str::to_string);
            match e.key.as_str() {
                "routing_key" | "routing_key_file" => {
                    out.insert(e.key.as_str().into(), text.unwrap_or_default().into());
                }
                "url" => url = text,
                "send_resolved" => {}
                "service_key" | "service_key_file" => {
                    v1 = true;
                    self.note(
                        e.line,
                        &format!("{at}.{}", e.key),
                        "the Events API v1 `service_key` is not carried over: add an Events API v2 integration to \
                     the service and set its `routing_key`",
                    )
                }
                "http_config" => self.note(e.line, &format!("{at}.http_config"), &not_carried("http_config")),
                other => self.note(
                    e.line,
                    &format!("{at}.{other}"),
                    "event fields are not carried over: Clarion fills summary, severity, details and links itself",
                ),
            }
        }
        if !out.contains_key("routing_key") && !out.contains_key("routing_key_file") {
            if !v1 {
                self.note(line, at, "a PagerDuty config without `routing_key` is not carried over");
            }
            return None;
        }
        if let Some(url) = url {
            // Alertmanager's `url` is the enqueue endpoint; Clarion's is the API's address.
            match url.trim_end_matches('/').strip_suffix("/v2/enqueue") {
                Some(base) => {
                    out.insert("url".into(), base.into());
                }
                None => {
                    let at_url = c.get("url").map_or(line, |e| e.line);
                    self.note(
                        at_url,
                        &format!("{at}.url"),
                        "not carried over: Clarion posts to `<url>/v2/enqueue`, and this URL does not end in \
                         `/v2/enqueue`; set the channel's `url` to the API's address",
                    );
                }
            }
        }
        Some((Self::send_resolved(c, true), out))
    }

    fn telegram(&mut self, c: &Doc, at: &str, line: usize, g: &Globals) -> Option<(bool, Mapping)> {
        let mut out = Mapping::new();
        let mut api_url = g.telegram_api_url.clone();
        for e in c.entries() {
            match e.key.as_str() {
                "bot_token" | "bot_token_file" => {
                    out.insert(e.key.as_str().into(), e.value.text().unwrap_or_default().into());
                }
                "chat_id" | "message_thread_id" => {
                    out.insert(e.key.as_str().into(), e.value.to_value());
                }
                "api_url" => api_url = e.value.text().map(str::to_string),
                "send_resolved" => {}
                "http_config" => self.note(e.line, &format!("{at}.http_config"), &not_carried("http_config")),
                other => self.note(
                    e.line,
                    &format!("{at}.{other}"),
                    "message settings are not carried over: Clarion writes its own message (HTML) with the \
                     clarity fields",
                ),
            }
        }
        let has_token = out.contains_key("bot_token") || out.contains_key("bot_token_file");
        if !has_token || !out.contains_key("chat_id") {
            self.note(
                line,
                at,
                "a Telegram config needs `bot_token` (or `bot_token_file`) and `chat_id`; not carried over",
            );
            return None;
        }
        if let Some(url) = api_url {
            out.insert("api_url".into(), url.into());
        }
        Some((Self::send_resolved(c, true), out))
    }

    /// A node of the route tree, its children converted the same way.
    fn route(&mut self, route: &Doc, path: &str, line: usize) -> Value {
        let mut out = Mapping::new();
        if !matches!(route, Doc::Map(_)) {
            self.note(line, path, "a route that is not a mapping is not carried over");
            return Value::Mapping(out);
        }
        for e in route.entries() {
            match e.key.as_str() {
                "continue" => {
                    let value = match e.value.text().and_then(yaml_bool) {
                        Some(b) => Value::Bool(b),
                        None => e.value.to_value(),
                    };
                    out.insert("continue".into(), value);
                }
                "receiver"
                | "group_by"
                | "matchers"
                | "match"
                | "match_re"
                | "group_wait"
                | "group_interval"
                | "repeat_interval"
                | "mute_time_intervals"
                | "active_time_intervals" => {
                    out.insert(e.key.as_str().into(), e.value.to_value());
                }
                "labels" => {
                    for l in e.value.entries() {
                        if l.value.text().is_some_and(|t| t.contains("{{")) {
                            self.note(
                                l.line,
                                &format!("{path}.labels.{}", l.key),
                                "a templated route label is kept as written: Clarion does not render templates",
                            );
                        }
                    }
                    out.insert("labels".into(), e.value.to_value());
                }
                "routes" => {
                    let children: Vec<Value> = e
                        .value
                        .items()
                        .iter()
                        .enumerate()
                        .map(|(i, child)| self.route(&child.doc, &format!("{path}.routes[{i}]"), child.line))
                        .collect();
                    out.insert("routes".into(), Value::Sequence(children));
                }
                other => {
                    self.note(e.line, &format!("{path}.{other}"), "not a route setting Clarion has; not carried over")
                }
            }
        }
        Value::Mapping(out)
    }

    fn inhibit_rules(&mut self, rules: &Entry) -> Value {
        let mut out = Vec::new();
        for (i, rule) in rules.value.items().iter().enumerate() {
            let mut kept = Mapping::new();
            for e in rule.doc.entries() {
                match e.key.as_str() {
                    "source_matchers" | "source_match" | "source_match_re" | "target_matchers" | "target_match"
                    | "target_match_re" | "equal" => {
                        kept.insert(e.key.as_str().into(), e.value.to_value());
                    }
                    other => self.note(e.line, &format!("inhibit_rules[{i}].{other}"), "not carried over"),
                }
            }
            out.push(Value::Mapping(kept));
        }
        Value::Sequence(out)
    }
}

#[cfg(test)]
mod tests;
