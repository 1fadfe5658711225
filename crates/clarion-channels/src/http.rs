//! One HTTP POST and what its answer means for the delivery: delivered, retry (maybe at a time the
//! receiver asked for with `Retry-After`), or give up.

use std::time::Duration;

use clarion_core::Timestamp;
use reqwest::StatusCode;

use crate::Outcome;

/// Posts `body` and classifies the answer. `now` dates a `Retry-After` given as an HTTP date.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
    timeout: Duration,
    now: Timestamp,
) -> Outcome {
    let mut req = client.post(url).timeout(timeout).header("content-type", "application/json").body(body);
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
        Err(e) => Outcome::Retry { after: None, error: format!("request failed: {}", error_chain(&e)) },
    }
}

/// Maps a status to an outcome: 2xx delivered; 408, 425, 429 and 5xx retried (honouring `Retry-After`);
/// any other 4xx is the request's fault and will not get better, so it is permanent.
pub fn classify(status: StatusCode, retry_after: Option<&str>, now: Timestamp, body: String) -> Outcome {
    if status.is_success() {
        return Outcome::Delivered;
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
        assert!(matches!(c(408, None), Outcome::Retry { .. }));
    }

    #[test]
    fn unparseable_retry_after_is_ignored() {
        assert_eq!(parse_retry_after("soon", now()), None);
        assert_eq!(parse_retry_after("Fri, 27 Nov 2026 11:00:00 GMT", now()), Some(Duration::ZERO));
    }
}
