//! What reports need stored: live aggregates and daily roll-ups, and the rows they return.
//!
//! Rules: figures that are "as of now" and read few rows (tickets at risk, opened) are read
//! live; everything else is rolled up per local day (see `rollup`). A report filters rolled
//! rows; a `roll_*` statement never filters. An answer counts once (the first a callback gave
//! to its question), a callback with its first attempt the carrier took.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::repo::Result;

/// What a ticket report is narrowed to; `None` is everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TicketScope<'a> {
    /// A ticket kind (`TicketKind::as_str`).
    pub kind: Option<&'a str>,
    /// The ticket's line kind (`LineKind::as_str`).
    pub line_kind: Option<&'a str>,
    /// `CustomerClass::as_str`.
    pub customer_class: Option<&'a str>,
}

/// Tickets due in a period, of one kind and customer class. `due` is the sum of the others.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DueTally {
    pub kind: String,
    pub customer_class: Option<String>,
    pub due: i64,
    /// Resolved at or before the deadline.
    pub met: i64,
    /// Marked breached, resolved after the deadline, or running and past it.
    pub breached: i64,
    /// Running, with the deadline still ahead (`>= now`).
    pub pending: i64,
    /// Cancelled before the deadline passed.
    pub cancelled: i64,
}

/// How long one resolved ticket took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveTime {
    pub kind: String,
    pub customer_class: Option<String>,
    /// `resolved_at - opened_at`, milliseconds.
    pub ms: i64,
}

/// Running tickets of one kind near or past their deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtRisk {
    pub kind: String,
    /// Past the deadline (marked or not) and still running.
    pub late: i64,
    /// Deadline in `[now, until)`, not yet late.
    pub due_soon: i64,
}

/// Inbound calls of one interval and what they achieved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallTally {
    pub calls: i64,
    /// Finished a self-service task.
    pub self_served: i64,
    /// Self-served, never asked for a person, and no call again from the number in time.
    pub contained: i64,
    /// Self-served and did not ask for a person, but the number called again in time.
    pub called_again: i64,
    /// Asked for a person.
    pub person: i64,
    /// Offered a callback instead of holding.
    pub callback_offered: i64,
    /// Took a callback instead of holding (an escalation `transfer_callback` of the call).
    pub callback_taken: i64,
}

impl CallTally {
    /// Adds another interval's calls.
    pub fn add(&mut self, o: &CallTally) {
        self.calls += o.calls;
        self.self_served += o.self_served;
        self.contained += o.contained;
        self.called_again += o.called_again;
        self.person += o.person;
        self.callback_offered += o.callback_offered;
        self.callback_taken += o.callback_taken;
    }
}

/// The agent queue as a period's calls found it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueTally {
    /// Calls that entered the queue.
    pub queued: i64,
    /// Of those, hung up while waiting (the carrier's queue result `hangup`).
    pub abandoned: i64,
    /// Time in the queue (`left_at - entered_at`, ms) of those who left it, ascending.
    pub waits_ms: Vec<i64>,
}

/// What a callback report is narrowed to; `None` is everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallbackScope<'a> {
    pub campaign_id: Option<i64>,
    /// The number calls come from: the campaign's `from_number`.
    pub hotline: Option<&'a str>,
    /// The kind of the callback's ticket (`TicketKind::as_str`).
    pub ticket_kind: Option<&'a str>,
    /// The line kind of the callback's ticket (`LineKind::as_str`).
    pub line_kind: Option<&'a str>,
    /// `CustomerClass::as_str`: the ticket's, else the account's.
    pub customer_class: Option<&'a str>,
}

/// Callbacks of one campaign and service that gave one answer value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerCount {
    pub campaign_id: i64,
    /// The kind of the callback's ticket; `None` for a callback without one.
    pub ticket_kind: Option<String>,
    pub line_kind: Option<String>,
    pub question: String,
    pub answer: String,
    pub callbacks: i64,
}

/// Satisfaction callbacks queued in the period, per service: how far they got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleCount {
    pub ticket_kind: Option<String>,
    pub line_kind: Option<String>,
    /// Queued, whatever became of them.
    pub sampled: i64,
    /// With an attempt a person answered.
    pub reached: i64,
    /// With at least one survey answer.
    pub answered: i64,
}

/// One question of one campaign: its answers given in the period.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionScore {
    pub campaign_id: i64,
    pub question: String,
    /// Callbacks that answered it.
    pub answered: i64,
    /// Answers that gave points, and their sum on 0–100 (a sum, so groups add up exactly).
    pub scored: i64,
    pub score_sum: Option<f64>,
}

/// Attempts with one attempt number that the carrier took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptNoCount {
    pub attempt_no: i32,
    pub placed: i64,
    /// A person answered.
    pub person: i64,
    /// At least one survey answer was given during it.
    pub responded: i64,
}

/// One campaign's attempts the carrier took in the period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CampaignAttempts {
    pub campaign_id: i64,
    /// Callbacks whose first attempt is in the period.
    pub callbacks: i64,
    /// Of those, callbacks a person answered (at any attempt).
    pub reached: i64,
    pub attempts: i64,
    /// Attempts a person answered.
    pub person: i64,
    /// Attempts an answering machine answered.
    pub machine: i64,
    /// Attempts placed outside the campaign's calling window.
    pub outside_window: i64,
}

/// The wait from a ticket's resolution to the first attempt of its callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstAttemptWait {
    pub campaign_id: i64,
    pub ms: i64,
}
/// What the callback figures are filtered on: the callback's campaign (its purpose and the
/// number it calls from) and its ticket (kind, line kind, the customer class: the ticket's,
/// else the account's).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CallbackDims {
    pub campaign_id: i64,
    pub purpose: String,
    pub hotline: String,
    pub ticket_kind: Option<String>,
    pub line_kind: Option<String>,
    pub customer_class: Option<String>,
}

/// Inbound calls to one hotline number, and the agent queue they met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRoll {
    pub hotline: String,
    #[serde(flatten)]
    pub tally: CallTally,
    /// Calls that entered the agent queue, and of those, hung up while waiting.
    pub queued: i64,
    pub abandoned: i64,
    /// Time in the queue of those who left it, ms, ascending.
    pub waits_ms: Vec<i64>,
}

/// Tickets due, per kind, class and line kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueRoll {
    pub line_kind: Option<String>,
    #[serde(flatten)]
    pub tally: DueTally,
}

/// Tickets resolved, per kind, class and line kind: their times to resolve, ms, ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedRoll {
    pub kind: String,
    pub customer_class: Option<String>,
    pub line_kind: Option<String>,
    pub times_ms: Vec<i64>,
}

/// First answers to one question. `answer` is the value for the satisfaction and "fixed"
/// values (`very`, `basic`, `dissatisfied`, `yes`, `no`), else `None` (a score, a comment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerRoll {
    #[serde(flatten)]
    pub dims: CallbackDims,
    pub question: String,
    pub answer: Option<String>,
    /// Callbacks that answered (one answer each).
    pub callbacks: i64,
    /// Of those answers, the ones that gave points, and their sum on 0–100.
    pub scored: i64,
    pub score_sum: Option<f64>,
}

/// Satisfaction callbacks queued, and how far they got (at any time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleRoll {
    #[serde(flatten)]
    pub dims: CallbackDims,
    pub sampled: i64,
    /// With an attempt a person answered.
    pub reached: i64,
    /// With at least one survey answer.
    pub answered: i64,
}

/// One attempt the carrier took, as the roll-up reads it (the calling window is checked in
/// Rust: it is a campaign's JSON and the calendar a file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptFact {
    pub dims: CallbackDims,
    pub attempt_no: i32,
    /// When the dialer recorded it and asked the carrier.
    pub at: i64,
    /// The callback's zone (IANA).
    pub timezone: String,
    pub person: bool,
    pub machine: bool,
    /// A survey answer was given during it.
    pub responded: bool,
    /// The callback's first attempt the carrier took.
    pub first: bool,
    /// A person answered one of the callback's attempts (at any time).
    pub reached: bool,
    /// From the ticket's resolution to this attempt, when the callback is about a resolved
    /// ticket.
    pub since_resolved_ms: Option<i64>,
}

/// Attempts with one attempt number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRoll {
    #[serde(flatten)]
    pub dims: CallbackDims,
    pub attempt_no: i32,
    pub placed: i64,
    pub person: i64,
    pub machine: i64,
    pub responded: i64,
    /// First attempts of their callback, and of those, callbacks a person answered.
    pub first: i64,
    pub first_reached: i64,
    /// Placed outside the campaign's calling window.
    pub outside_window: i64,
    /// Resolution to first attempt, ms, ascending.
    pub first_waits_ms: Vec<i64>,
}

/// Which days of a family are rolled up, and in which zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupMark {
    pub tz: String,
    /// `[start, through)`: the first rolled day's start, the day after the last.
    pub start: i64,
    pub through: i64,
}

/// Live aggregates for the service-level and complaint reports (see `crate::reports`):
/// figures that are "as of now" and read few rows, so they are never rolled up.
#[async_trait]
pub trait TicketReportStore: Send + Sync + 'static {
    /// Running tickets, by kind, already late at `now` or due before `until`.
    async fn tickets_at_risk(
        &self,
        now: i64,
        until: i64,
        scope: &TicketScope<'_>,
    ) -> Result<Vec<AtRisk>>;
    /// Tickets of `kind` opened in each `[bounds[i], bounds[i + 1])`, one count per interval
    /// (`scope.kind` is not read: the kind is required here).
    async fn tickets_opened(
        &self,
        kind: &str,
        bounds: &[i64],
        scope: &TicketScope<'_>,
    ) -> Result<Vec<i64>>;
}

/// The report figures of a period, grouped by everything a report filters on, and the days
/// already rolled up (see `rollups` and `crate::reports::rollup`).
#[async_trait]
pub trait RollupStore: Send + Sync + 'static {
    /// Inbound calls started in `[from, to)`, per number dialed; a call from a number that
    /// called again within `repeat_ms` of its start is not contained.
    async fn roll_calls(&self, from: i64, to: i64, repeat_ms: i64) -> Result<Vec<CallRoll>>;
    /// Tickets whose deadline falls in `[from, to)`: met, breached, pending and cancelled as
    /// of `now`.
    async fn roll_due(&self, from: i64, to: i64, now: i64) -> Result<Vec<DueRoll>>;
    /// Tickets resolved in `[from, to)` and how long each took.
    async fn roll_resolved(&self, from: i64, to: i64) -> Result<Vec<ResolvedRoll>>;
    /// First answers given in `[from, to)`.
    async fn roll_answers(&self, from: i64, to: i64) -> Result<Vec<AnswerRoll>>;
    /// Satisfaction callbacks queued in `[from, to)`.
    async fn roll_sample(&self, from: i64, to: i64) -> Result<Vec<SampleRoll>>;
    /// Attempts the carrier took, recorded in `[from, to)`.
    async fn roll_attempts(&self, from: i64, to: i64) -> Result<Vec<AttemptFact>>;
    /// The numbers inbound calls dialed, in order, at most `limit` of them.
    async fn hotline_numbers(&self, limit: i64) -> Result<Vec<String>>;
    /// The earliest call start, ticket opening or callback queued.
    async fn earliest_outcome(&self) -> Result<Option<i64>>;
    /// When the oldest callback still to be called was queued.
    async fn oldest_unfinished_callback(&self) -> Result<Option<i64>>;
    async fn rollup_mark(&self, family: &str) -> Result<Option<RollupMark>>;
    /// The rolled days of `family` starting in `[from, to)`: day start and JSON rows.
    async fn rolled_days(&self, family: &str, from: i64, to: i64) -> Result<Vec<(i64, String)>>;
    /// Stores the given days (replacing any stored before) and sets the mark, in one
    /// transaction.
    async fn save_rollup(
        &self,
        family: &str,
        mark: &RollupMark,
        days: &[(i64, String)],
    ) -> Result<()>;
    /// Forgets every rolled day of `family` and its mark.
    async fn clear_rollup(&self, family: &str) -> Result<()>;
}
