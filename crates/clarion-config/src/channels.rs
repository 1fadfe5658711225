//! The `channels:` and `delivery:` sections: where notifications go and how hard Clarion tries.

use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer};

use crate::duration::ConfigDuration;
use crate::secret::{HttpUrl, Secret};

/// One destination: a name, whether it hears of resolved alerts, and its kind with that kind's settings.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "ChannelEntry", into = "ChannelEntry")]
pub struct ChannelConfig {
    pub name: String,
    /// Also notify when alerts resolve; default true.
    pub send_resolved: bool,
    pub kind: ChannelKind,
}

/// What a channel is, with its settings.
#[derive(Debug, Clone)]
pub enum ChannelKind {
    Webhook(WebhookConfig),
    /// A Slack incoming webhook (the same payload works for Mattermost).
    Slack(SlackConfig),
    Email(EmailConfig),
}

/// A channel as written: exactly one of `webhook`, `slack`, `email` is set.
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct ChannelEntry {
    name: String,
    #[serde(default = "yes")]
    send_resolved: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook: Option<WebhookConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    slack: Option<SlackConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<EmailConfig>,
}

/// A channel entry that does not say which kind it is.
#[derive(Debug, thiserror::Error)]
#[error("channel {0:?} needs exactly one of `webhook`, `slack` or `email`")]
pub struct AmbiguousChannel(String);

impl TryFrom<ChannelEntry> for ChannelConfig {
    type Error = AmbiguousChannel;

    fn try_from(e: ChannelEntry) -> Result<Self, Self::Error> {
        let kind = match (e.webhook, e.slack, e.email) {
            (Some(w), None, None) => ChannelKind::Webhook(w),
            (None, Some(s), None) => ChannelKind::Slack(s),
            (None, None, Some(m)) => ChannelKind::Email(m),
            _ => return Err(AmbiguousChannel(e.name)),
        };
        Ok(ChannelConfig { name: e.name, send_resolved: e.send_resolved, kind })
    }
}

impl From<ChannelConfig> for ChannelEntry {
    fn from(c: ChannelConfig) -> Self {
        let (mut webhook, mut slack, mut email) = (None, None, None);
        match c.kind {
            ChannelKind::Webhook(w) => webhook = Some(w),
            ChannelKind::Slack(s) => slack = Some(s),
            ChannelKind::Email(e) => email = Some(e),
        }
        ChannelEntry { name: c.name, send_resolved: c.send_resolved, webhook, slack, email }
    }
}

fn yes() -> bool {
    true
}

impl ChannelConfig {
    /// The longest a single attempt on this channel may take.
    pub fn timeout(&self) -> Duration {
        match &self.kind {
            ChannelKind::Webhook(w) => w.timeout.0,
            ChannelKind::Slack(s) => s.timeout.0,
            ChannelKind::Email(e) => e.timeout.0,
        }
    }
}

const DEFAULT_TIMEOUT: ConfigDuration = ConfigDuration(Duration::from_secs(10));

fn default_timeout() -> ConfigDuration {
    DEFAULT_TIMEOUT
}

fn default_connect_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(5))
}

/// Payload formats of a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WebhookFormat {
    /// Alertmanager's webhook payload, version 4: existing consumers work unchanged.
    #[default]
    AlertmanagerV4,
    /// Clarion's payload: the v4 fields plus the clarity fields of each alert and the idempotency key.
    Clarion,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: HttpUrl,
    #[serde(default)]
    pub format: WebhookFormat,
    /// Key for the `X-Clarion-Signature` HMAC-SHA256 header.
    pub hmac_secret: Option<Secret>,
    /// File holding the HMAC key (its content, trailing newline removed).
    pub hmac_secret_file: Option<PathBuf>,
    /// Longest time one attempt may take, answer included; default 10s.
    #[serde(default = "default_timeout")]
    pub timeout: ConfigDuration,
    /// Longest time to open the connection; default 5s.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: ConfigDuration,
    /// Most alerts listed in one payload (0 = all); the rest are counted in `truncatedAlerts`.
    #[serde(default)]
    pub max_alerts: usize,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The incoming-webhook URL.
    pub url: HttpUrl,
    /// Longest time one attempt may take, answer included; default 10s.
    #[serde(default = "default_timeout")]
    pub timeout: ConfigDuration,
    /// Longest time to open the connection; default 5s.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: ConfigDuration,
}

/// TLS on the SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (local relays only).
    None,
    /// Upgrade with STARTTLS; refuse servers that do not offer it.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// `host:port` of the SMTP server.
    pub smtp: String,
    #[serde(default)]
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub password_file: Option<PathBuf>,
    pub from: String,
    /// Recipients: usually a distribution list.
    pub to: Vec<String>,
    #[serde(default = "default_timeout")]
    pub timeout: ConfigDuration,
}

/// How deliveries are retried.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Attempts before a delivery is dead, at least 1; default 10.
    #[serde(default = "default_max_attempts", deserialize_with = "positive_u32")]
    pub max_attempts: u32,
    /// Age after which a failing delivery is dead; default 24h.
    #[serde(default = "default_max_age")]
    pub max_age: ConfigDuration,
    /// Wait after the first failure, doubled after each (with jitter); default 1s.
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff: ConfigDuration,
    /// Longest wait between attempts; default 5m.
    #[serde(default = "default_max_backoff")]
    pub max_backoff: ConfigDuration,
    /// Deliveries sent at the same time by one instance, at least 1; default 16.
    #[serde(default = "default_concurrency", deserialize_with = "positive_usize")]
    pub concurrency: usize,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            max_attempts: default_max_attempts(),
            max_age: default_max_age(),
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
            concurrency: default_concurrency(),
        }
    }
}

/// A count that must be positive: zero is refused rather than silently raised to one.
fn positive_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    match u32::deserialize(d)? {
        0 => Err(de::Error::custom("must be at least 1")),
        n => Ok(n),
    }
}

pub(crate) fn positive_usize<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    match usize::deserialize(d)? {
        0 => Err(de::Error::custom("must be at least 1")),
        n => Ok(n),
    }
}

fn default_max_attempts() -> u32 {
    10
}
fn default_max_age() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(24 * 3600))
}
fn default_initial_backoff() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(1))
}
fn default_max_backoff() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(300))
}
fn default_concurrency() -> usize {
    16
}
