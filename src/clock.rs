//! The time, behind a trait so tests can move it (PIN locks expire, bills fall due).

use std::sync::atomic::{AtomicI64, Ordering};

/// Years a date from outside (a bill's due date, a payment, an appointment, a report's
/// period) may fall in: 2000-01-01 to 2100-12-31. Anything else is a typing or data error,
/// and would be read out to a caller as such.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// Whether a date from outside lies within `YEARS`.
pub fn date_in_range(d: chrono::NaiveDate) -> bool {
    use chrono::Datelike;
    YEARS.contains(&d.year())
}

/// How a date out of `YEARS` is refused.
pub fn date_range_message() -> String {
    format!(
        "must be a date from {}-01-01 to {}-12-31",
        YEARS.start(),
        YEARS.end()
    )
}

pub trait Clock: Send + Sync + 'static {
    /// Epoch milliseconds.
    fn now_ms(&self) -> i64;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that moves only when told to.
pub struct FakeClock(AtomicI64);

impl FakeClock {
    pub fn new(now_ms: i64) -> Self {
        FakeClock(AtomicI64::new(now_ms))
    }
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn set_ms(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Epoch milliseconds as RFC 3339 (UTC), as the API and webhooks show times.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}
