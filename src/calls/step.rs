//! What one step of a call writes: the step, the call it may start, its side effects, and
//! carrier status reports.
//!
//! Rules: a step is recorded with its effects in one transaction, once: a retried request
//! changes nothing and is answered with the stored body. Effects are data, applied by the
//! store, so the flows that decide them stay pure.

use crate::escalations::NewEscalation;
use crate::prompts::Locale;

/// One webhook step to record, with the side effects it has if (and only if) it is new.
#[derive(Debug, Clone)]
pub struct StepWrite {
    pub call_sid: String,
    pub seq: i32,
    /// Present on the first step of a call: creates the call row.
    pub new_call: Option<NewCall>,
    pub node: String,
    pub input: String,
    pub said: String,
    /// The exact body answered, replayed to a retried request.
    pub response: String,
    pub at: i64,
    pub effects: Vec<Effect>,
}

#[derive(Debug, Clone)]
pub struct NewCall {
    pub direction: String,
    pub from_number: String,
    pub to_number: String,
}

/// A side effect of a step, applied in the step's transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// The caller was identified as this account.
    IdentifyAccount { account_id: i64 },
    /// The caller chose (or was given) this language.
    SetLocale { locale: Locale },
    /// A survey question answered during an attempt (once per attempt and question).
    SurveyAnswer {
        callback_id: i64,
        attempt_id: i64,
        question: String,
        answer: String,
        /// On 0–100, when the answer scores.
        score: Option<f64>,
    },
    /// The customer asked not to be called again.
    OptOut { callback_id: i64, number: String },
    /// An answer people must follow up (dissatisfied, not fixed, appointment change); it is
    /// escalated in the same transaction.
    Followup {
        callback_id: i64,
        kind: String,
        detail: String,
    },
    /// A case for people (a caller who chose a callback over holding), once per source.
    Escalate(Box<NewEscalation>),
    /// The call reached a milestone the hotline report counts; the call keeps the first time
    /// of each (so retries and repeats change nothing).
    Milestone(Milestone),
}

/// What a call achieved, kept on its row (`calls.self_served_at`, `person_at`,
/// `callback_offered_at`) so the hotline report never reads call steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Milestone {
    /// The caller finished a self-service task: heard their bill, opened a fault or order
    /// ticket, heard a ticket's state, or heard service information.
    SelfServed,
    /// The caller asked for a person (whether they then queued, were put through, or were
    /// offered a callback).
    Person,
    /// The caller was offered a callback instead of holding for an agent.
    CallbackOffered,
}

/// What became of a `StepWrite`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// Recorded now, effects applied.
    Recorded,
    /// The same step was recorded before: nothing applied, answer with the stored body.
    Replayed { response: String },
    /// A step other than the first for a call that was never started.
    UnknownCall,
}

/// A carrier status report.
#[derive(Debug, Clone)]
pub struct StatusEvent {
    pub call_sid: String,
    /// Normalised status, e.g. `completed` (see `crate::telephony::CallStatus`).
    pub status: String,
    pub is_final: bool,
    /// Carrier's sequence number when it sends one; deduplicates retries.
    pub sequence: Option<i64>,
    pub duration_secs: Option<i64>,
    pub at: i64,
    /// Present when the report is for a call we never saw start (it is created).
    pub new_call: NewCall,
}
