//! One HTTP POST and what its answer means for the delivery: delivered, retry (maybe at a time the
//! receiver asked for with `Retry-After`), or give up. Errors never carry the URL, which is a credential.

use std::sync::Arc;
use std::time::Duration;

use clarion_config::egress::{EgressError, EgressPolicy};
use clarion_config::HttpUrl;
use clarion_core::Timestamp;
use reqwest::StatusCode;

use crate::{ChannelError, Outcome};

/// Where a webhook or Slack channel posts: its URL (a credential, never shown), the attempt timeout, and a
/// client of its own that connects under the egress policy with the channel's connect timeout.
#[derive(Clone)]
pub struct Endpoint {
    url: HttpUrl,
    client: reqwest::Client,
    policy: Arc<EgressPolicy>,
    timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("url", &self.url).field("timeout", &self.timeout).finish()
    }
}

impl Endpoint {
    pub fn new(
        url: HttpUrl,
        policy: Arc<EgressPolicy>,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Endpoint, ChannelError> {
        let client = crate::egress::http_client(policy.clone(), connect_timeout)?;
        Ok(Endpoint { url, client, policy, timeout })
    }

    /// Posts `body` and classifies the answer. `now` dates a `Retry-After` given as an HTTP date.
    pub async fn post(&self, headers: &[(&str, String)], body: Vec<u8>, now: Timestamp) -> Outcome {
        // An address written in the URL is not resolved, so the resolver never sees it: check it here.
        if let Err(e) = self.policy.check_url(self.url.expose()) {
            return Outcome::Permanent { error: format!("egress policy: {e}") };
        }
        let timeout = self.timeout;
        let mut req =
            self.client.post(self.url.expose()).timeout(timeout).header("content-type", "application/json").body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                let retry_after = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
                let text = resp.text().await.unwrap_or_default();
                classify(status, retry_after.as_deref(), now, text.chars().take(200).collect())
            }
            Err(e) if e.is_timeout() => Outcome::Retry { after: None, error: format!("no answer within {timeout:?}") },
            // The URL is a credential: the error must not carry it into `last_error` or the logs.
            Err(e) => {
                let e = e.without_url();
                let error = format!("request failed: {}", error_chain(&e));
                if refused_by_policy(&e) {
                    Outcome::Permanent { error }
                } else {
                    Outcome::Retry { after: None, error }
                }
            }
        }
    }
}

/// Did the egress policy refuse every address of the destination?
fn refused_by_policy(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(s) = source {
        if s.is::<EgressError>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// Maps a status to an outcome: 2xx delivered; 408, 425, 429 and 5xx retried (honouring `Retry-After`);
/// a redirect is a failure (following it would send the body, the signature and the idempotency key
/// somewhere nobody configured); any other 4xx is the request's fault and will not get better, so it is
/// permanent.
pub fn classify(status: StatusCode, retry_after: Option<&str>, now: Timestamp, body: String) -> Outcome {
    if status.is_success() {
        return Outcome::Delivered;
    }
    if status.is_redirection() {
        return Outcome::Permanent {
            error: format!(
                "HTTP {status}: the receiver redirects, and Clarion does not follow redirects; configure the URL it redirects to"
            ),
        };
    }
    let error =
        if body.trim().is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {}", body.trim()) };
    let retryable = status.is_server_error() || matches!(status.as_u16(), 408 | 425 | 429);
    if retryable {
        Outcome::Retry { after: retry_after.and_then(|v| parse_retry_after(v, now)), error }
    } else {
        Outcome::Permanent { error }
    }
}

/// `Retry-After` as seconds or as an HTTP date.
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&chrono::Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// An error with its causes, for logs and `last_error`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> Timestamp {
        chrono::Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).single().unwrap_or_default()
    }

    #[test]
    fn answers_map_to_outcomes() {
        let c = |code: u16, ra: Option<&str>| {
            classify(StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT), ra, now(), String::new())
        };
        assert_eq!(c(200, None), Outcome::Delivered);
        assert_eq!(c(204, None), Outcome::Delivered);
        assert_eq!(c(500, None), Outcome::Retry { after: None, error: "HTTP 500 Internal Server Error".into() });
        assert_eq!(
            c(429, Some("7")),
            Outcome::Retry { after: Some(Duration::from_secs(7)), error: "HTTP 429 Too Many Requests".into() }
        );
        assert_eq!(
            c(503, Some("Fri, 27 Nov 2026 12:00:30 GMT")),
            Outcome::Retry { after: Some(Duration::from_secs(30)), error: "HTTP 503 Service Unavailable".into() }
        );
        assert_eq!(c(404, None), Outcome::Permanent { error: "HTTP 404 Not Found".into() });
        assert!(matches!(c(302, None), Outcome::Permanent { error } if error.contains("does not follow redirects")));
        assert!(matches!(c(307, Some("1")), Outcome::Permanent { .. }));
        assert!(matches!(c(408, None), Outcome::Retry { .. }));
    }

    #[test]
    fn unparseable_retry_after_is_ignored() {
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(parse_retry_after("Fri, 27 Nov 2026 11:00:00 GMT", now()), Some(Duration::ZERO));
    }
}
