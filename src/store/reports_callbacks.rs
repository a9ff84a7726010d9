//! The figures of the satisfaction, survey and callback reports, as `crate::reports::rollup`
//! adds them up from the rolled rows (`rollups`).
//!
//! Rules:
//! - An answer counts at the time it was given (`survey_answers.at`); a callback counts when
//!   it was queued (`callbacks.created_at`); an attempt counts when the dialer recorded it and
//!   asked the carrier (`requested_at`), and only once the carrier took the call
//!   (`placed_at` set): an attempt the carrier refused never rang anyone.
//! - An answer counts once: the first a callback gave to its question, so a retried survey
//!   step never counts twice; a callback counts with its first attempt the carrier took.

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
