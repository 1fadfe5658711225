//! When to try a failed delivery again, and when to give up.
//!
//! Exponential backoff with "equal jitter": the n-th retry waits between half and all of
//! `min(max_backoff, initial_backoff * 2^(n-1))`, the jitter spreading retries of many deliveries apart. A
//! receiver's `Retry-After` replaces the computed wait. A delivery is dead once it has had `max_attempts`
//! attempts or its next attempt would come later than `max_age` after it was created.

use std::time::Duration;

use crate::Timestamp;

/// The retry settings of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub max_age: Duration,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(Timestamp),
    /// Give up; the reason says which bound was reached.
    GiveUp(GiveUpReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUpReason {
    TooManyAttempts(u32),
    TooOld(Duration),
}

impl std::fmt::Display for GiveUpReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GiveUpReason::TooManyAttempts(n) => write!(f, "gave up after {n} attempts"),
            GiveUpReason::TooOld(age) => write!(
                f,
                "gave up: the next attempt would be more than {}s after the message was created",
                age.as_secs()
            ),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry); `jitter` in `[0, 1)`.
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let exp = retry.saturating_sub(1).min(32);
        let full = self.initial_backoff.saturating_mul(1u32 << exp.min(31)).min(self.max_backoff);
        let jitter = jitter.clamp(0.0, 1.0);
        full / 2 + full.mul_f64(jitter / 2.0)
    }

    /// Decides after a failed attempt. `attempts` counts attempts made including this one.
    pub fn after_failure(
        &self,
        attempts: u32,
        created_at: Timestamp,
        now: Timestamp,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> AfterFailure {
        if attempts >= self.max_attempts {
            return AfterFailure::GiveUp(GiveUpReason::TooManyAttempts(attempts));
        }
        let wait = retry_after.unwrap_or_else(|| self.backoff(attempts, jitter));
        let at = crate::later(now, wait);
        let deadline = crate::later(created_at, self.max_age);
        if at > deadline {
            return AfterFailure::GiveUp(GiveUpReason::TooOld(self.max_age));
        }
        AfterFailure::RetryAt(at)
    }
}

/// A number in `[0, 1)` derived from `seed`, for jitter that needs no random source and differs between
/// deliveries and attempts.
pub fn jitter_from(seed: &str, attempt: u32) -> f64 {
    // FNV-1a, then the top 53 bits as a fraction.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.as_bytes().iter().chain(&attempt.to_le_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(secs: i64) -> Timestamp {
        chrono::Utc.timestamp_opt(1_700_000_000 + secs, 0).single().unwrap_or_default()
    }

    const POLICY: RetryPolicy = RetryPolicy {
        max_attempts: 5,
        max_age: Duration::from_secs(3600),
        initial_backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(60),
    };

    #[test]
    fn backoff_doubles_within_half_to_full_and_is_capped() {
        let cases = [
            (1, 0.0, 500),
            (1, 0.999_999, 999),
            (2, 0.0, 1000),
            (3, 0.5, 3000),
            (7, 0.0, 30_000),
            (30, 0.0, 30_000),
            (30, 1.0, 60_000),
        ];
        for (retry, jitter, ms) in cases {
            let got = POLICY.backoff(retry, jitter).as_millis();
            assert!(got.abs_diff(ms) <= 1, "retry {retry} jitter {jitter}: {got} ms, want {ms}");
        }
    }

    #[test]
    fn failures_retry_until_the_attempt_limit() {
        assert_eq!(
            POLICY.after_failure(1, t(0), t(0), None, 0.0),
            AfterFailure::RetryAt(t(0) + chrono::Duration::milliseconds(500))
        );
        assert_eq!(
            POLICY.after_failure(5, t(0), t(10), None, 0.0),
            AfterFailure::GiveUp(GiveUpReason::TooManyAttempts(5))
        );
    }

    #[test]
    fn retry_after_replaces_the_backoff_but_not_the_age_limit() {
        assert_eq!(
            POLICY.after_failure(1, t(0), t(0), Some(Duration::from_secs(120)), 0.0),
            AfterFailure::RetryAt(t(120))
        );
        assert_eq!(
            POLICY.after_failure(1, t(0), t(3000), Some(Duration::from_secs(1200)), 0.0),
            AfterFailure::GiveUp(GiveUpReason::TooOld(Duration::from_secs(3600)))
        );
    }

    #[test]
    fn jitter_is_in_range_and_varies() {
        let a = jitter_from("key-a", 1);
        let b = jitter_from("key-b", 1);
        let c = jitter_from("key-a", 2);
        assert!((0.0..1.0).contains(&a) && (0.0..1.0).contains(&b));
        assert!(a != b && a != c);
        assert_eq!(a, jitter_from("key-a", 1));
    }
}
