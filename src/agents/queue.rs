//! The agent queue as the carrier reports it: who waits, since when, and what they expect.
//!
//! Rules: the carrier's queue is the truth about order; we keep what its wait requests tell
//! us, so a whisper can describe the caller an agent is about to get and reports can count
//! waits and abandons. A caller not reported for `STALE_MS` has left, whatever we missed.

use serde::Serialize;

/// A waiting caller unheard of for this long is no longer counted.
pub const STALE_MS: i64 = 120_000;

/// A caller in (or once in) the agent queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueCall {
    pub call_sid: String,
    pub account_id: Option<i64>,
    pub from_number: String,
    pub locale: String,
    pub entered_at: i64,
    pub last_seen_at: i64,
    pub position: i64,
    pub expected_secs: i64,
    pub offered_to: Option<String>,
    pub left_at: Option<i64>,
    pub result: Option<String>,
}

/// A wait request: the caller is in the queue at `position`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSeen {
    pub call_sid: String,
    pub account_id: Option<i64>,
    pub from_number: String,
    pub locale: String,
    pub at: i64,
    pub position: i64,
    pub expected_secs: i64,
}

/// The wait a caller at `position` can expect: what callers have waited on average, less
/// what this one has waited, but never less than the handling time of those ahead spread
/// over the agents on duty.
pub fn expected_wait_secs(
    position: i64,
    avg_queue_secs: i64,
    waited_secs: i64,
    handle_secs: i64,
    agents: i64,
) -> i64 {
    let ahead = position.max(1) * handle_secs.max(0) / agents.max(1);
    (avg_queue_secs - waited_secs).max(ahead).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_wait() {
        // Third in line, 2 agents, 3 minutes each: at least 4.5 minutes.
        assert_eq!(expected_wait_secs(3, 0, 0, 180, 2), 270);
        // Callers have waited 10 minutes on average, this one 2 already.
        assert_eq!(expected_wait_secs(1, 600, 120, 180, 2), 480);
        assert_eq!(expected_wait_secs(0, 0, 0, 180, 0), 180);
    }
}
