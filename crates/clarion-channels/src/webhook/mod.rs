//! The webhook channel: POSTs the notification as JSON (`alertmanager-v4` or `clarion` format), with the
//! idempotency key in the `Idempotency-Key` header and, when a secret is configured, an HMAC signature.

pub mod payload;
pub mod sign;

use std::sync::Arc;

use clarion_config::egress::EgressPolicy;
use clarion_config::{WebhookConfig, WebhookFormat};
use clarion_core::Timestamp;

use clarion_core::notification::Notification;

use crate::{http, Attempt, ChannelError, Outcome};

/// A configured webhook.
#[derive(Clone)]
pub struct Webhook {
    endpoint: http::Endpoint,
    format: WebhookFormat,
    secret: Option<Vec<u8>>,
    max_alerts: usize,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("format", &self.format).field("signed", &self.secret.is_some()).finish()
    }
}

impl Webhook {
    /// `secret` is the HMAC key already read from `hmac_secret` or `hmac_secret_file`.
    pub fn new(
        config: &WebhookConfig,
        secret: Option<Vec<u8>>,
        policy: Arc<EgressPolicy>,
    ) -> Result<Webhook, ChannelError> {
        let endpoint = http::Endpoint::new(config.url.clone(), policy, config.connect_timeout.0, config.timeout.0)?;
        Ok(Webhook { endpoint, format: config.format, secret, max_alerts: config.max_alerts })
    }

    /// The body this webhook sends for `n`.
    pub fn render(&self, n: &Notification, idempotency_key: &str) -> Result<Vec<u8>, serde_json::Error> {
        match self.format {
            WebhookFormat::AlertmanagerV4 => payload::alertmanager_v4(n, self.max_alerts),
            WebhookFormat::Clarion => payload::clarion(n, self.max_alerts, idempotency_key),
        }
    }

    pub async fn send(&self, n: &Notification, attempt: &Attempt<'_>, now: Timestamp) -> Outcome {
        let body = match self.render(n, attempt.idempotency_key) {
            Ok(body) => body,
            Err(e) => return Outcome::Permanent { error: format!("cannot render the payload: {e}") },
        };
        let mut headers = vec![
            ("idempotency-key", attempt.idempotency_key.to_string()),
            ("x-clarion-attempt", attempt.number.to_string()),
        ];
        if let Some(secret) = &self.secret {
            headers.push((sign::HEADER, sign::signature(secret, now.timestamp(), &body)));
        }
        self.endpoint.post(&headers, body, now).await
    }
}
