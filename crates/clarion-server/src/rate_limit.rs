//! Request rate limits per client address and per token: token buckets that refill at the configured
//! rate and hold a burst of two seconds' worth.
//!
//! Invariant: a request over either limit is answered 429 with `Retry-After` (whole seconds until the
//! bucket holds a request again) before any handler runs; health checks are never limited; the limits
//! are read from the current configuration on every request, so a reload changes them. Buckets are
//! forgotten once full (a full bucket is the same as none), so the table holds only recent clients.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;

use crate::listener::{is_health_check, Peer};
use crate::metrics::ReasonLabel;
use crate::state::AppState;

/// Buckets kept before full ones are forgotten.
const PRUNE_ABOVE: usize = 10_000;

/// The buckets of both limits.
#[derive(Debug, Default)]
pub struct RateLimits {
    addresses: Buckets<IpAddr>,
    tokens: Buckets<String>,
}

/// Middleware: refuses requests over their address's or token's rate.
pub async fn limit(State((state, limits)): State<(AppState, Arc<RateLimits>)>, req: Request, next: Next) -> Response {
    if is_health_check(req.uri().path()) {
        return next.run(req).await;
    }
    let (per_address, per_token, token) = {
        let config = state.config();
        let l = &config.file.limits;
        let tokens = &config.file.auth.tokens;
        let token = match l.requests_per_second_per_token {
            0 => None,
            _ if tokens.is_empty() => None,
            _ => crate::auth::presented_token(req.headers())
                .and_then(|t| crate::auth::find_token(&t, tokens).map(|e| e.name.clone())),
        };
        (l.requests_per_second_per_address, l.requests_per_second_per_token, token)
    };
    let now = crate::clock::monotonic();
    if let Some(Peer(addr)) = req.extensions().get::<Peer>() {
        if let Err(wait) = limits.addresses.take(addr.ip(), per_address, now) {
            state.metrics().requests_limited.get_or_create(&ReasonLabel { reason: "address" }).inc();
            return too_many(wait, "this address", "limits.requests_per_second_per_address");
        }
    }
    if let Some(name) = token {
        if let Err(wait) = limits.tokens.take(name, per_token, now) {
            state.metrics().requests_limited.get_or_create(&ReasonLabel { reason: "token" }).inc();
            return too_many(wait, "this token", "limits.requests_per_second_per_token");
        }
    }
    next.run(req).await
}

fn too_many(wait: Duration, who: &str, setting: &str) -> Response {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    let body = serde_json::to_string(&format!("too many requests from {who} ({setting}); retry in {seconds}s"))
        .unwrap_or_default();
    let mut r = (StatusCode::TOO_MANY_REQUESTS, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    r
}

#[derive(Debug)]
struct Buckets<K>(Mutex<HashMap<K, Bucket>>);

impl<K> Default for Buckets<K> {
    fn default() -> Self {
        Buckets(Mutex::new(HashMap::new()))
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl<K: Hash + Eq> Buckets<K> {
    /// Takes one request from `key`'s bucket at `rate` per second (0: unlimited); how long to wait when
    /// it is empty.
    fn take(&self, key: K, rate: u32, now: Instant) -> Result<(), Duration> {
        if rate == 0 {
            return Ok(());
        }
        let rate = f64::from(rate);
        let capacity = 2.0 * rate;
        let mut map = self.0.lock();
        if map.len() > PRUNE_ABOVE {
            map.retain(|_, b| b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < capacity);
        }
        let bucket = map.entry(key).or_insert(Bucket { tokens: capacity, at: now });
        let refilled = bucket.tokens + now.saturating_duration_since(bucket.at).as_secs_f64() * rate;
        bucket.tokens = refilled.min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_a_burst_then_the_rate() {
        let b = Buckets::default();
        let t0 = Instant::now();
        for i in 0..20 {
            assert_eq!(b.take("a", 10, t0), Ok(()), "request {i} of the burst");
        }
        let wait = b.take("a", 10, t0).expect_err("the burst is spent");
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(100), "{wait:?}");
        assert_eq!(b.take("b", 10, t0), Ok(()), "another key has its own bucket");
        assert_eq!(b.take("a", 10, t0 + Duration::from_millis(100)), Ok(()), "refilled one");
        assert!(b.take("a", 10, t0 + Duration::from_millis(100)).is_err());
        assert_eq!(b.take("a", 0, t0), Ok(()), "0 is unlimited");
    }

    #[test]
    fn full_buckets_are_forgotten_when_the_table_grows() {
        let b = Buckets::default();
        let t0 = Instant::now();
        for k in 0..=PRUNE_ABOVE as u32 {
            b.take(k, 1, t0).ok();
        }
        b.take(u32::MAX, 1, t0 + Duration::from_secs(5)).ok();
        assert!(b.0.lock().len() <= 2, "refilled buckets were dropped");
    }
}
