//! Clarion's channels: one folder per kind (`webhook`, `slack`, `email`), each rendering a
//! [`Notification`] for its destination and sending it. A send returns an [`Outcome`] — delivered, retry
//! (perhaps at a time the receiver asked for), or permanent failure — and never panics or retries by
//! itself: retry policy belongs to the caller. This crate knows nothing of the store.
#![forbid(unsafe_code)]

pub mod clarity;
pub mod email;
pub mod http;
pub mod message;
pub mod slack;
pub mod webhook;

use std::time::Duration;

use clarion_config::ChannelConfig;
use clarion_core::Timestamp;

pub use message::{FindingNote, Notification, NotificationKind, NotifiedAlert, Status};

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
}

impl Channel {
    /// Builds a channel from its configuration, reading secret files it names.
    pub fn from_config(config: &ChannelConfig) -> Result<Channel, String> {
        let read_secret = |inline: Option<&clarion_config::Secret>,
                           file: Option<&std::path::PathBuf>|
         -> Result<Option<String>, String> {
            match (inline, file) {
                (Some(s), _) => Ok(Some(s.0.clone())),
                (None, Some(path)) => std::fs::read_to_string(path)
                    .map(|s| Some(s.trim_end_matches(['\n', '\r']).to_string()))
                    .map_err(|e| format!("cannot read {}: {e}", path.display())),
                (None, None) => Ok(None),
            }
        };
        if let Some(w) = &config.webhook {
            let secret = read_secret(w.hmac_secret.as_ref(), w.hmac_secret_file.as_ref())?;
            return Ok(Channel::Webhook(webhook::Webhook::new(w, secret.map(String::into_bytes))));
        }
        if let Some(s) = &config.slack {
            return Ok(Channel::Slack(slack::Slack::new(s)));
        }
        if let Some(e) = &config.email {
            let password = read_secret(e.password.as_ref(), e.password_file.as_ref())?;
            return Ok(Channel::Email(email::Email::new(e, password)?));
        }
        Err(format!("channel {:?} has no kind (webhook, slack or email)", config.name))
    }

    /// One attempt to deliver `n`.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        n: &Notification,
        attempt: &Attempt<'_>,
        now: Timestamp,
    ) -> Outcome {
        match self {
            Channel::Webhook(w) => w.send(client, n, attempt, now).await,
            Channel::Slack(s) => s.send(client, n, attempt, now).await,
            Channel::Email(e) => e.send(n, attempt).await,
        }
    }
}
