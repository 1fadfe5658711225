//! Clarion's channels: one folder per kind (`webhook`, `slack`, `email`, `msteams`, `pagerduty`, `discord`,
//! `telegram`), each rendering a
//! [`Notification`] (the notification model of `clarion-core`) for its destination and sending it. What
//! people read — the clarity fields in their one order — is decided once, in [`view`]. A send returns an [`Outcome`] — delivered, retry
//! (perhaps at a time the receiver asked for), or permanent failure — and never panics or retries by
//! itself: retry policy belongs to the caller. This crate knows nothing of the store.
#![forbid(unsafe_code)]

pub mod discord;
pub mod egress;
pub mod email;
pub mod http;
pub mod msteams;
pub mod pagerduty;
pub mod slack;
pub mod telegram;
pub mod view;
pub mod webhook;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clarion_config::egress::EgressPolicy;
use clarion_config::{ChannelConfig, ChannelKind};
use clarion_core::notification::Notification;
use clarion_core::Timestamp;

/// Why a channel cannot be built or a message cannot be put together.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// A secret file named in the configuration cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    SecretFile { path: PathBuf, source: std::io::Error },
    /// `smtp` is not `host:port`.
    #[error("{0:?} is not host:port")]
    NotHostPort(String),
    /// An e-mail address that does not parse.
    #[error("{address:?} is not an e-mail address: {reason}")]
    Address { address: String, reason: String },
    /// The SMTP client refused the settings or the message.
    #[error("{0}")]
    Smtp(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}

/// What one attempt achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again; `after` is what the receiver asked for (`Retry-After`), if anything.
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// Will not succeed by retrying (the receiver refused the request itself).
    Permanent {
        error: String,
    },
}

/// Which attempt this is and the key that identifies the delivery across attempts.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub idempotency_key: &'a str,
    /// 1 for the first attempt.
    pub number: u32,
}

/// A configured channel, ready to send.
#[derive(Debug, Clone)]
pub enum Channel {
    Webhook(webhook::Webhook),
    Slack(slack::Slack),
    Email(email::Email),
    MsTeams(msteams::MsTeams),
    PagerDuty(pagerduty::PagerDuty),
    Discord(discord::Discord),
    Telegram(telegram::Telegram),
}

impl Channel {
    /// Builds a channel from its configuration, reading secret files it names; it connects only where
    /// `policy` allows.
    pub fn from_config(config: &ChannelConfig, policy: Arc<EgressPolicy>) -> Result<Channel, ChannelError> {
        let read_secret =
            |inline: Option<&clarion_config::Secret>, file: Option<&PathBuf>| -> Result<Option<String>, ChannelError> {
                match (inline, file) {
                    (Some(s), _) => Ok(Some(s.expose().to_string())),
                    (None, Some(path)) => std::fs::read_to_string(path)
                        .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_string()))
                        .map_err(|source| ChannelError::SecretFile { path: path.clone(), source }),
                    (None, None) => Ok(None),
                }
            };
        Ok(match &config.kind {
            ChannelKind::Webhook(w) => {
                let secret = read_secret(w.hmac_secret.as_ref(), w.hmac_secret_file.as_ref())?;
                Channel::Webhook(webhook::Webhook::new(w, secret.map(String::into_bytes), policy)?)
            }
            ChannelKind::Slack(s) => Channel::Slack(slack::Slack::new(s, policy)?),
            ChannelKind::Email(e) => {
                let password = read_secret(e.password.as_ref(), e.password_file.as_ref())?;
                Channel::Email(email::Email::new(e, password, policy)?)
            }
            ChannelKind::MsTeams(t) => Channel::MsTeams(msteams::MsTeams::new(t, policy)?),
            ChannelKind::Discord(d) => Channel::Discord(discord::Discord::new(d, policy)?),
            ChannelKind::PagerDuty(p) => {
                // Config::parse makes sure exactly one of the two is set.
                let key = read_secret(p.routing_key.as_ref(), p.routing_key_file.as_ref())?.unwrap_or_default();
                Channel::PagerDuty(pagerduty::PagerDuty::new(p, key, policy)?)
            }
            ChannelKind::Telegram(t) => {
                let token = read_secret(t.bot_token.as_ref(), t.bot_token_file.as_ref())?.unwrap_or_default();
                Channel::Telegram(telegram::Telegram::new(t, &token, policy)?)
            }
        })
    }

    /// One attempt to deliver `n`.
    pub async fn send(&self, n: &Notification, attempt: &Attempt<'_>, now: Timestamp) -> Outcome {
        match self {
            Channel::Webhook(w) => w.send(n, attempt, now).await,
            Channel::Slack(s) => s.send(n, attempt, now).await,
            Channel::Email(e) => e.send(n, attempt).await,
            Channel::MsTeams(t) => t.send(n, attempt, now).await,
            Channel::PagerDuty(p) => p.send(n, attempt, now).await,
            Channel::Discord(d) => d.send(n, attempt, now).await,
            Channel::Telegram(t) => t.send(n, attempt, now).await,
        }
    }
}
