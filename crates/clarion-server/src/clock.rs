//! The server's only source of time: "now" for domain decisions ([`Clock`]), elapsed time for metrics
//! ([`Stopwatch`]) and monotonic instants for connection timeouts and rate limits ([`monotonic`]). Domain functions take `now` as a parameter; the server asks this module, and the tidy
//! test refuses a clock read anywhere else.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clarion_core::Timestamp;

/// Wall-clock time, optionally shifted (tests move time forward instead of sleeping).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    pub fn now(&self) -> Timestamp {
        chrono::Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// The monotonic "now" of timeouts and rate limits: connection deadlines follow real time, whatever
/// [`Clock::advance`] did.
pub fn monotonic() -> Instant {
    Instant::now()
}

/// Measures how long something took, for latency metrics (monotonic, unaffected by [`Clock::advance`]).
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch(Instant);

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch(Instant::now())
    }

    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}
