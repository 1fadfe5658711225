//! HTTP handlers and their wire types. Alertmanager API v2 lives in `alerts`, `silences` and `status`.
//!
//! Wire conventions shared by the handlers: timestamps are RFC 3339 with milliseconds in UTC (what
//! Alertmanager prints), Go's zero time means "unset", booleans in query strings are read as
//! Alertmanager reads them, and bodies are read up to the configured size limit.

pub mod advisories;
pub mod alerts;
pub mod announcements;
pub mod calendars;
pub mod deliveries;
pub mod metrics;
pub mod notifications;
pub mod pages;
pub mod provider_events;
pub mod reports;
pub mod silences;
pub mod slack;
pub mod standard;
pub mod status;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Uri};
use clarion_core::Timestamp;

use crate::error::AppError;
use crate::state::AppState;

/// Alertmanager's timestamp format: `2006-01-02T15:04:05.000Z`.
pub fn format_time(t: Timestamp) -> String {
    match TimeText::of(t) {
        Some(text) => text.as_str().to_string(),
        None => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    }
}

/// [`format_time`]'s text on the stack, for the years 0 to 9999 (every storable time): a listing writes
/// three times per alert, and chrono's `format` parsed its pattern every time (a tenth of a million-alert
/// GET). The same text as the pattern (a leap second's milliseconds are taken modulo a second, as chrono
/// does); a property test compares the two.
pub struct TimeText([u8; 24]);

impl TimeText {
    pub fn of(t: Timestamp) -> Option<TimeText> {
        use chrono::{Datelike, Timelike};
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        let millis = (t.nanosecond() % 1_000_000_000) / 1_000_000;
        let mut out = *b"0000-00-00T00:00:00.000Z";
        let mut digits = |at: usize, width: usize, value: u32| {
            for i in 0..width {
                out[at + width - 1 - i] = b'0' + (value / 10u32.pow(i as u32) % 10) as u8;
            }
        };
        digits(0, 4, year);
        digits(5, 2, t.month());
        digits(8, 2, t.day());
        digits(11, 2, t.hour());
        digits(14, 2, t.minute());
        digits(17, 2, t.second());
        digits(20, 3, millis);
        Some(TimeText(out))
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// A timestamp a client sent that Clarion cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("{field}: {text:?} is not an RFC 3339 timestamp ({reason})")]
    NotRfc3339 { field: String, text: String, reason: String },
    #[error("{field}: {time} is out of range (years 1678 to 2262)")]
    OutOfRange { field: String, time: String },
}

/// Parses an RFC 3339 timestamp; Go's zero time (`0001-01-01T00:00:00Z`), which amtool sends for "unset",
/// is `None`. Times outside the storable range (years 1678 to 2262) are refused.
pub fn parse_time(field: &str, text: &str) -> Result<Option<Timestamp>, TimeError> {
    let t = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|e| TimeError::NotRfc3339 { field: field.into(), text: text.into(), reason: e.to_string() })?
        .with_timezone(&chrono::Utc);
    // 0001-01-01T00:00:00Z, Go's `time.Time{}`.
    if t.timestamp() == -62_135_596_800 && t.timestamp_subsec_nanos() == 0 {
        return Ok(None);
    }
    check_storable(field, t)?;
    Ok(Some(t))
}

/// Refuses times the store cannot hold (nanoseconds since 1970 in 64 bits).
pub fn check_storable(field: &str, t: Timestamp) -> Result<(), TimeError> {
    match t.timestamp_nanos_opt() {
        Some(_) => Ok(()),
        None => Err(TimeError::OutOfRange { field: field.into(), time: format_time(t) }),
    }
}

/// A query-string boolean: the words go-openapi reads as true (`true`, `1`, `yes`, `on`, …) or as false
/// (`false`, `0`, `no`, `off`, …); an empty value means the default. Anything else is the client's
/// mistake and gets 400 rather than a guess.
pub fn parse_bool(name: &str, value: &str, default: bool) -> Result<bool, AppError> {
    if value.is_empty() {
        return Ok(default);
    }
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "ok" | "y" | "on" | "selected" | "checked" | "t" | "enabled" => Ok(true),
        "false" | "0" | "no" | "n" | "off" | "f" | "disabled" | "unselected" | "unchecked" => Ok(false),
        _ => Err(AppError::BadRequest(format!("{name} must be true or false, not {value:?}"))),
    }
}

/// Query parameters in order, repeated keys kept (`filter=a&filter=b`).
pub fn query_pairs(uri: &Uri) -> Result<Vec<(String, String)>, AppError> {
    let raw = uri.query().unwrap_or("");
    serde_urlencoded::from_str(raw).map_err(|e| AppError::BadRequest(format!("malformed query string: {e}")))
}

/// JSON that does not decode into what an endpoint expects; prints as `path: what is wrong`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(String);

/// Decodes JSON into `T`, describing a failure with the path of the field it is about
/// (`labels.severity: invalid type: …`). `whole_body` says whether `json` is the request body, whose line
/// and column serde_json's message gives; for a part of the body that position would mislead, so it is
/// left out.
pub fn decode_json<T: serde::de::DeserializeOwned>(json: &str, whole_body: bool) -> Result<T, DecodeError> {
    if has_nul(json) {
        return Err(DecodeError(
            "a text holds the NUL character (\\u0000), which cannot be stored (PostgreSQL refuses it in text)".into(),
        ));
    }
    // The plain decoder first: tracking the path costs time on every field and is only needed to
    // describe a failure, so a failure is decoded again with it.
    if let Ok(value) = serde_json::from_str(json) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let inner =
            if whole_body { inner.as_str() } else { inner.rsplit_once(" at line ").map_or(inner.as_str(), |(m, _)| m) };
        DecodeError(if path == "." { inner.to_string() } else { format!("{path}: {inner}") })
    })
}

/// Whether a JSON text has a string holding the NUL character. JSON can only write it as the escape
/// `\u0000` (a raw NUL is invalid JSON), and a backslash occurs only inside strings, where it always
/// starts an escape: so each backslash and the character after it are one unit.
fn has_nul(json: &str) -> bool {
    if !json.contains("u0000") {
        return false;
    }
    let bytes = json.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1..i + 6) == Some(b"u0000".as_slice()) {
                return true;
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

/// How many items a listing returns when the client does not say.
pub const DEFAULT_LIMIT: usize = 100;
/// The most items one listing returns.
pub const MAX_LIMIT: usize = 10_000;

/// A listing's `limit` parameter: a number from 1 to [`MAX_LIMIT`].
pub fn parse_limit(value: &str) -> Result<usize, AppError> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| AppError::BadRequest(format!("limit must be a number from 1 to {MAX_LIMIT}")))
}

/// Reads a request body (see [`read_body`]) and decodes it as one JSON document; every error is a 400
/// starting with `invalid {what}:`.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    what: &str,
) -> Result<T, AppError> {
    let bytes = read_body(state, headers, body).await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| AppError::BadRequest(format!("invalid {what}: the body is not UTF-8 ({e})")))?;
    decode_json(text, true).map_err(|e| AppError::BadRequest(format!("invalid {what}: {e}")))
}

/// Reads a request body: refuses an encoded body (415: Clarion reads `identity` only, and a gzip body is
/// not JSON), more than `limits.max_body_bytes` (413), and a body that takes longer than
/// `limits.body_read_timeout` to arrive (408: a client dripping a body holds a connection).
pub async fn read_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Bytes, AppError> {
    let limits = state.config().file.limits.clone();
    let limit = limits.max_body_bytes;
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING) {
        let encoding = encoding.to_str().unwrap_or("?").trim();
        if !encoding.eq_ignore_ascii_case("identity") {
            return Err(AppError::UnsupportedMediaType(format!(
                "Content-Encoding {encoding:?} is not supported: send the body uncompressed"
            )));
        }
    }
    let too_large = || {
        AppError::PayloadTooLarge(format!(
            "request body exceeds the limit of {limit} bytes (limits.max_body_bytes); send smaller batches"
        ))
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    // The listener gives every body a deadline (`limits.body_read_timeout`); reading past it fails.
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if s.is::<crate::listener::BodyDeadline>() {
                return AppError::RequestTimeout(format!(
                    "the request body did not arrive within {} (limits.body_read_timeout)",
                    limits.body_read_timeout
                ));
            }
            source = s.source();
        }
        too_large()
    })
}

/// Bytes a streamed answer gathers before sending them on.
const STREAM_CHUNK: usize = 64 * 1024;

/// Writes the items of a JSON array to a streamed answer in chunks (see [`json_array_stream`]).
#[derive(Debug)]
pub struct ArrayWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    buf: Vec<u8>,
    first: bool,
}

impl ArrayWriter {
    /// Appends one item; false once the client has gone (stop producing).
    pub fn push(&mut self, item: &impl serde::Serialize) -> bool {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        if let Err(e) = serde_json::to_writer(&mut self.buf, item) {
            tracing::error!(error = %e, "encoding an item of a streamed answer failed");
            return false;
        }
        if self.buf.len() >= STREAM_CHUNK {
            return self.flush();
        }
        true
    }

    /// Appends items already encoded, comma-separated (`{..},{..}`); false once the client has gone.
    pub fn push_encoded(&mut self, items: &[u8]) -> bool {
        if items.is_empty() {
            return true;
        }
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf.extend_from_slice(items);
        if self.buf.len() >= STREAM_CHUNK {
            return self.flush();
        }
        true
    }

    fn flush(&mut self) -> bool {
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx.blocking_send(Ok(chunk)).is_ok()
    }
}

/// A JSON array answer whose items `produce` writes on a blocking thread while the answer is being sent:
/// the memory it takes does not grow with the answer, and `produce` runs on data it owns (a snapshot), so
/// no lock is held while the client reads.
pub fn json_array_stream(produce: impl FnOnce(&mut ArrayWriter) + Send + 'static) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut w = ArrayWriter { tx, buf: Vec::with_capacity(STREAM_CHUNK + 4096), first: true };
        w.buf.push(b'[');
        produce(&mut w);
        w.buf.push(b']');
        w.flush();
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    ([(header::CONTENT_TYPE, "application/json")], Body::from_stream(stream)).into_response()
}

/// Any path Clarion does not serve.
pub async fn not_found(uri: Uri) -> AppError {
    AppError::NotFound(format!("no such endpoint: {}", uri.path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_is_found_only_where_json_writes_one() {
        for (json, nul) in [
            (r#"{"a":"x\u0000y"}"#, true),
            (r#"["\u0000"]"#, true),
            (r#"{"a":"\\u0000"}"#, false),
            (r#"{"a":"\\\u0000"}"#, true),
            (r#"{"u0000":"\u00001"}"#, true),
            (r#"{"a":"u0000"}"#, false),
            (r#"{"a":"\u0001"}"#, false),
            ("", false),
        ] {
            assert_eq!(has_nul(json), nul, "{json}");
        }
    }

    #[test]
    fn go_zero_time_means_unset_and_other_times_parse() {
        assert_eq!(parse_time("startsAt", "0001-01-01T00:00:00Z"), Ok(None));
        let t = parse_time("startsAt", "2026-11-27T10:00:00.123456789+02:00").ok().flatten();
        assert_eq!(t.map(format_time).as_deref(), Some("2026-11-27T08:00:00.123Z"));
    }

    #[test]
    fn times_are_formatted_as_the_strftime_pattern_would() {
        use chrono::TimeZone;
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..10_000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            // Every instant from year 1 to 9999 (the storable range is a part of it).
            let secs = (seed >> 11) as i64 % 315_537_897_600 - 62_135_596_800;
            let nanos = (seed % 1_000_000_000) as u32;
            let t = chrono::Utc.timestamp_opt(secs, nanos).single().expect("in range");
            assert_eq!(format_time(t), t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), "{secs} {nanos}");
        }
        let t = chrono::Utc.timestamp_opt(-62_135_596_800 - 86_400, 0).single().expect("year 0");
        assert_eq!(format_time(t), t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
    }

    #[test]
    fn bad_and_unstorable_times_are_refused_with_the_field_name() {
        let err = parse_time("endsAt", "yesterday").expect_err("not a time").to_string();
        assert!(err.starts_with("endsAt: \"yesterday\" is not an RFC 3339 timestamp"), "{err}");
        let err = parse_time("endsAt", "9999-01-01T00:00:00Z").expect_err("out of range").to_string();
        assert!(err.contains("out of range"), "{err}");
    }

    #[test]
    fn booleans_read_like_alertmanager() {
        let b = |v: &str, default: bool| parse_bool("active", v, default).ok();
        assert_eq!(b("true", false), Some(true));
        assert_eq!(b("On", false), Some(true));
        assert_eq!(b("false", true), Some(false));
        assert_eq!(b("0", true), Some(false));
        assert_eq!(b("", true), Some(true));
        assert_eq!(b("maybe", true), None, "neither true nor false is refused");
    }
}
