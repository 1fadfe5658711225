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
    /// A Microsoft Teams Workflows webhook, sent an Adaptive Card.
    MsTeams(MsTeamsConfig),
    /// PagerDuty's Events API v2: trigger, acknowledge and resolve with one dedup key per group.
    PagerDuty(PagerDutyConfig),
    /// A Discord webhook.
    Discord(DiscordConfig),
    /// A Telegram chat, through a bot.
    Telegram(TelegramConfig),
}

/// A channel as written: exactly one kind (`webhook`, `slack`, `email`, `msteams`, `pagerduty`,
/// `discord`, `telegram`) is set.
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
    #[serde(skip_serializing_if = "Option::is_none")]
    msteams: Option<MsTeamsConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagerduty: Option<PagerDutyConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    discord: Option<DiscordConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    telegram: Option<TelegramConfig>,
}

/// A channel entry that does not say which kind it is.
#[derive(Debug, thiserror::Error)]
#[error(
    "channel {0:?} needs exactly one of `webhook`, `slack`, `email`, `msteams`, `pagerduty`, `discord` or `telegram`"
)]
pub struct AmbiguousChannel(String);

impl TryFrom<ChannelEntry> for ChannelConfig {
    type Error = AmbiguousChannel;

    fn try_from(e: ChannelEntry) -> Result<Self, Self::Error> {
        let mut kinds: Vec<ChannelKind> = Vec::new();
        kinds.extend(e.webhook.map(ChannelKind::Webhook));
        kinds.extend(e.slack.map(ChannelKind::Slack));
        kinds.extend(e.email.map(ChannelKind::Email));
        kinds.extend(e.msteams.map(ChannelKind::MsTeams));
        kinds.extend(e.pagerduty.map(ChannelKind::PagerDuty));
        kinds.extend(e.discord.map(ChannelKind::Discord));
        kinds.extend(e.telegram.map(ChannelKind::Telegram));
        match (kinds.pop(), kinds.is_empty()) {
            (Some(kind), true) => Ok(ChannelConfig { name: e.name, send_resolved: e.send_resolved, kind }),
            _ => Err(AmbiguousChannel(e.name)),
        }
    }
}

impl From<ChannelConfig> for ChannelEntry {
    fn from(c: ChannelConfig) -> Self {
        let mut entry = ChannelEntry {
            name: c.name,
            send_resolved: c.send_resolved,
            webhook: None,
            slack: None,
            email: None,
            msteams: None,
            pagerduty: None,
            discord: None,
            telegram: None,
        };
        match c.kind {
            ChannelKind::Webhook(w) => entry.webhook = Some(w),
            ChannelKind::Slack(s) => entry.slack = Some(s),
            ChannelKind::Email(e) => entry.email = Some(e),
            ChannelKind::MsTeams(t) => entry.msteams = Some(t),
            ChannelKind::PagerDuty(p) => entry.pagerduty = Some(p),
            ChannelKind::Discord(d) => entry.discord = Some(d),
            ChannelKind::Telegram(t) => entry.telegram = Some(t),
        }
        entry
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
            ChannelKind::MsTeams(t) => t.timeout.0,
            ChannelKind::PagerDuty(p) => p.timeout.0,
            ChannelKind::Discord(d) => d.timeout.0,
            ChannelKind::Telegram(t) => t.timeout.0,
        }
    }
}

/// A Microsoft Teams channel: the URL of a Workflows flow "when a Teams webhook request is received"
/// (the successor of Office 365 connectors).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct MsTeamsConfig {
    /// The flow's URL (it carries the credential).
    pub url: HttpUrl,
    /// Longest time one attempt may take, answer included; default 10s.
    #[serde(default = "default_timeout")]
    pub timeout: ConfigDuration,
    /// Longest time to open the connection; default 5s.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: ConfigDuration,
}

/// A Discord channel: a channel webhook's URL.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// The webhook URL (it carries the credential).
    pub url: HttpUrl,
    /// Longest time one attempt may take, answer included; default 10s.
    #[serde(default = "default_timeout")]
    pub timeout: ConfigDuration,
    /// Longest time to open the connection; default 5s.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: ConfigDuration,
}

/// A PagerDuty service, through its Events API v2 integration.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    /// The integration's routing key.
    pub routing_key: Option<Secret>,
    /// A file holding the routing key (its content, trailing newline removed).
    pub routing_key_file: Option<PathBuf>,
    /// Where the Events API lives; default `https://events.pagerduty.com` (events go to `/v2/enqueue`,
    /// announcements to `/v2/change/enqueue`).
    #[serde(default = "default_pagerduty_url")]
    pub url: HttpUrl,
    /// Longest time one attempt may take, answer included; default 10s.
    #[serde(default = "default_timeout")]
    pub timeout: ConfigDuration,
    /// Longest time to open the connection; default 5s.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: ConfigDuration,
}

fn default_pagerduty_url() -> HttpUrl {
    HttpUrl::known("https://events.pagerduty.com")
}

/// A Telegram chat, written to by a bot (`sendMessage`).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    /// The bot's token, from BotFather.
    pub bot_token: Option<Secret>,
    /// A file holding the token (its content, trailing newline removed).
    pub bot_token_file: Option<PathBuf>,
    /// The chat (a group's id is negative).
    pub chat_id: i64,
    /// The topic of a forum group to post in.
    pub message_thread_id: Option<i64>,
    /// The Bot API's address; default `https://api.telegram.org`.
    #[serde(default = "default_telegram_url")]
    pub api_url: HttpUrl,
    /// Longest time one attempt may take, answer included; default 10s.
    #[serde(default = "default_timeout")]
    pub timeout: ConfigDuration,
    /// Longest time to open the connection; default 5s.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: ConfigDuration,
}

fn default_telegram_url() -> HttpUrl {
    HttpUrl::known("https://api.telegram.org")
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
