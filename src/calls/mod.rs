//! Calls and their history: every call, every step of it (what the caller heard, what they
//! pressed or said, when), and the carrier's status reports.
//!
//! Rules: a step is identified by (call id, step number) and has its effects once, however
//! often the carrier retries it; a retried step gets the very answer it got the first time.
//! Status reports may arrive twice or out of order: a final status is never overwritten by an
//! earlier one.

pub mod repo;
pub mod service;
pub mod step;
pub mod writer;

use serde::Serialize;

/// A stored call with its steps, oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct CallRecord {
    pub call_sid: String,
    pub direction: String,
    pub from_number: String,
    pub to_number: String,
    pub account_id: Option<i64>,
    pub locale: Option<String>,
    pub status: String,
    /// Epoch milliseconds.
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub duration_secs: Option<i64>,
    pub steps: Vec<CallStep>,
}

/// One request of the carrier and our answer to it.
#[derive(Debug, Clone, Serialize)]
pub struct CallStep {
    pub seq: i32,
    /// The flow node that handled the step, e.g. `menu`, `bill.pin`.
    pub node: String,
    /// What the caller did: `digits:12`, `speech:账单 (0.91)`, `timeout`, or empty at a node
    /// reached without input. PIN digits are never stored: they are recorded as `digits:****`.
    pub input: String,
    /// The text spoken to the caller in answer, prompts joined by newlines.
    pub said: String,
    /// Epoch milliseconds.
    pub at: i64,
}
