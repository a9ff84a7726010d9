//! Callbacks: calls the operator owes customers (after a repair, for a sample survey, to confirm
//! an appointment), grouped in campaigns, each with an append-only ledger of what happened.
//!
//! Rules:
//! - A callback is one call owed to one customer; every attempt, every carrier answer and
//!   every decision about it is a ledger entry, so "why was this customer not called (yet)?"
//!   is answered from the ledger alone.
//! - An attempt is recorded before the carrier is asked to place it. An attempt whose request
//!   got no clear answer is reconciled (status callbacks, or asking the carrier) before the
//!   customer is dialed again: nobody is called twice for one attempt.
//! - Calls happen only inside the campaign's calling window in the customer's time zone, never
//!   on the calendar's holidays, never to an opted-out number, never above the campaign's pace.

pub mod dialer;
pub mod feed;
pub mod lists;
pub mod policy;
pub mod repo;
pub mod report;
pub mod window;

use std::fmt;

use serde::Serialize;

use crate::prompts::Locale;
use crate::surveys::script::{Purpose, Script};
use policy::RetryPolicy;
use window::CallingWindow;

/// Where a campaign is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    Draft,
    Running,
    Paused,
    Finished,
}

impl CampaignState {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Draft => "draft",
            CampaignState::Running => "running",
            CampaignState::Paused => "paused",
            CampaignState::Finished => "finished",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Draft, Self::Running, Self::Paused, Self::Finished]
            .into_iter()
            .find(|c| c.as_str() == s)
    }

    /// Whether a campaign in this state may move to `to` (start, pause, resume, stop).
    pub fn allows(self, to: CampaignState) -> bool {
        use CampaignState::*;
        matches!(
            (self, to),
            (Draft, Running)
                | (Running, Paused)
                | (Paused, Running)
                | (Draft | Running | Paused, Finished)
        )
    }
}

/// What people do to a campaign, from the API or the console: the same rules for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignAction {
    Start,
    Pause,
    Resume,
    /// Finishes it; its pending callbacks are cancelled, each saying why.
    Stop,
}

impl CampaignAction {
    pub const ALL: [CampaignAction; 4] = [Self::Start, Self::Pause, Self::Resume, Self::Stop];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Stop => "stop",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The state it moves a campaign to, and the states it may move one from.
    pub fn moves(self) -> (CampaignState, &'static [CampaignState]) {
        use CampaignState::{Draft, Finished, Paused, Running};
        match self {
            Self::Start => (Running, &[Draft]),
            Self::Pause => (Paused, &[Running]),
            Self::Resume => (Running, &[Paused]),
            Self::Stop => (Finished, &[Draft, Running, Paused]),
        }
    }

    /// Why `c` cannot take this action now, if it cannot.
    pub fn refusal(self, c: &Campaign) -> Option<CampaignRefusal> {
        let (_, from) = self.moves();
        (!from.contains(&c.state)).then_some(CampaignRefusal::Action {
            id: c.id,
            state: c.state,
            action: self,
        })
    }
}

/// Why a campaign refuses what was asked of it. The facts are kept, not a sentence, so the
/// console can say it in the agent's language; `Display` is the English the API and the
/// command line give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignRefusal {
    /// The action cannot move a campaign in `state`.
    Action {
        id: i64,
        state: CampaignState,
        action: CampaignAction,
    },
    /// A finished campaign takes no more callbacks.
    Finished { id: i64 },
}

impl CampaignRefusal {
    /// The action that would do what was asked instead, if one would.
    pub fn instead(self) -> Option<CampaignAction> {
        match self {
            Self::Action {
                state: CampaignState::Paused,
                action: CampaignAction::Start,
                ..
            } => Some(CampaignAction::Resume),
            Self::Action {
                state: CampaignState::Draft,
                action: CampaignAction::Resume,
                ..
            } => Some(CampaignAction::Start),
            _ => None,
        }
    }
}

impl fmt::Display for CampaignRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Action { id, state, action } => {
                let done = match action {
                    CampaignAction::Start => "started",
                    CampaignAction::Pause => "paused",
                    CampaignAction::Resume => "resumed",
                    CampaignAction::Stop => "stopped",
                };
                write!(
                    f,
                    "campaign {id} is {}; it cannot be {done}",
                    state.as_str()
                )?;
                match self.instead() {
                    Some(a) => write!(f, " ({} it instead)", a.as_str()),
                    None => Ok(()),
                }
            }
            Self::Finished { id } => {
                write!(f, "campaign {id} is finished; it takes no more callbacks")
            }
        }
    }
}

impl std::error::Error for CampaignRefusal {}

/// A campaign: a purpose, a script, when and how often to call.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub purpose: Purpose,
    pub script: Script,
    pub window: CallingWindow,
    pub retry: RetryPolicy,
    /// Least time between two calls placed by the whole cluster, ms (1000 / calls per second,
    /// rounded up, so no second ever holds more than the limit).
    pub pace_ms: i64,
    /// The number calls come from.
    pub from_number: String,
    pub starts_at: i64,
    pub ends_at: Option<i64>,
    pub state: CampaignState,
    /// The campaign resolved tickets queue their satisfaction callback into.
    pub standing: bool,
    /// How long after a resolution its callback is due.
    pub delay_minutes: i64,
    /// A customer surveyed within this many days is not called again.
    pub quiet_days: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A campaign to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCampaign {
    pub name: String,
    pub purpose: Purpose,
    pub script: Script,
    pub window: CallingWindow,
    pub retry: RetryPolicy,
    pub pace_ms: i64,
    pub from_number: String,
    pub starts_at: i64,
    pub ends_at: Option<i64>,
    pub standing: bool,
    pub delay_minutes: i64,
    pub quiet_days: i64,
}

/// The pace for a limit in calls per second.
pub fn pace_ms(calls_per_sec: f64) -> Option<i64> {
    (calls_per_sec.is_finite() && calls_per_sec > 0.0 && calls_per_sec <= 1000.0)
        .then(|| (1000.0 / calls_per_sec).ceil() as i64)
}

/// Where a callback is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackState {
    /// Waiting for `due_at`.
    Pending,
    /// Claimed by a dialer, or with an attempt under way.
    Dialing,
    Done,
    Cancelled,
}

impl CallbackState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallbackState::Pending => "pending",
            CallbackState::Dialing => "dialing",
            CallbackState::Done => "done",
            CallbackState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Dialing, Self::Done, Self::Cancelled]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// One call owed to one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Callback {
    pub id: i64,
    pub campaign_id: i64,
    pub account_id: Option<i64>,
    pub ticket_id: Option<i64>,
    /// What owed it (`ticket-event:42`, `list:7`…); unique in its campaign.
    pub source: String,
    pub to_number: String,
    /// The customer's time zone: the calling window is theirs.
    pub timezone: String,
    #[serde(serialize_with = "locale_tag")]
    pub locale: Locale,
    pub state: CallbackState,
    pub due_at: i64,
    /// Attempts that count against the retry policy.
    pub attempts: i32,
    pub lease_until: Option<i64>,
    /// Why it is done or cancelled.
    pub outcome: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

fn locale_tag<S: serde::Serializer>(l: &Locale, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(l.tag())
}

/// A callback to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCallback {
    pub campaign_id: i64,
    pub account_id: Option<i64>,
    pub ticket_id: Option<i64>,
    pub source: String,
    pub to_number: String,
    pub timezone: String,
    pub locale: Locale,
    pub due_at: i64,
    /// The ledger's first line: why it is owed.
    pub why: String,
}

/// One line of a callback's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    pub id: i64,
    pub callback_id: i64,
    pub attempt_no: Option<i32>,
    /// `queued`, `deferred`, `dialing`, `placed`, `refused`, `unclear`, `reconciled`, `status`,
    /// `ended`, `retry`, `done`, `cancelled`…
    pub kind: String,
    /// Plain words: what happened and why.
    pub detail: String,
    pub provider_call_id: Option<String>,
    pub at: i64,
}

/// Where an attempt is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    /// Recorded; the carrier is being asked.
    Requesting,
    /// The carrier has it.
    Placed,
    /// The request got no clear answer: reconcile before dialing again.
    Unclear,
    Ended,
}

impl AttemptState {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::Requesting => "requesting",
            AttemptState::Placed => "placed",
            AttemptState::Unclear => "unclear",
            AttemptState::Ended => "ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Requesting, Self::Placed, Self::Unclear, Self::Ended]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// One attempt to reach the customer of a callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    pub id: i64,
    pub callback_id: i64,
    pub attempt_no: i32,
    pub state: AttemptState,
    pub provider_call_id: Option<String>,
    pub requested_at: i64,
    pub placed_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub call_status: Option<String>,
    pub answered_by: Option<String>,
    pub outcome: Option<String>,
    pub counts: bool,
}

/// An answer given in a survey.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredAnswer {
    pub callback_id: i64,
    pub attempt_id: i64,
    /// The question's key in the script.
    pub question: String,
    /// The answer's value (`very`, `yes`, `4`, a recording's URL).
    pub answer: String,
    /// On 0–100, when it scores.
    pub score: Option<f64>,
    pub at: i64,
}

/// Something a person must follow up: a dissatisfied answer, a fault not fixed, an
/// appointment to change, a callback that could not reach the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Followup {
    pub id: i64,
    /// `<question>:<answer>` (`satisfaction:dissatisfied`, `fixed:no`…) or `exhausted`.
    pub kind: String,
    pub callback_id: i64,
    pub ticket_id: Option<i64>,
    pub account_id: Option<i64>,
    pub detail: String,
    pub state: String,
    pub created_at: i64,
}

/// The services an account has besides the phone line it is called on: the strata of a
/// sample stratified by line kind ("phone", "phone+broadband", "phone+leased",
/// "phone+broadband+leased"). Every account sampled has a phone line, so the strata do not
/// overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Services {
    pub broadband: bool,
    pub leased: bool,
}

impl Services {
    /// Every stratum, in report order.
    pub const ALL: [Services; 4] = [
        Services {
            broadband: false,
            leased: false,
        },
        Services {
            broadband: true,
            leased: false,
        },
        Services {
            broadband: false,
            leased: true,
        },
        Services {
            broadband: true,
            leased: true,
        },
    ];

    /// As the store computes it: 1 for broadband plus 2 for leased lines.
    pub fn code(self) -> i64 {
        i64::from(self.broadband) + 2 * i64::from(self.leased)
    }

    pub fn from_code(code: i64) -> Option<Services> {
        Services::ALL.into_iter().find(|s| s.code() == code)
    }

    /// `phone`, `phone+broadband`, `phone+leased`, `phone+broadband+leased`.
    pub fn label(self) -> String {
        let mut s = String::from("phone");
        if self.broadband {
            s.push_str("+broadband");
        }
        if self.leased {
            s.push_str("+leased");
        }
        s
    }
}

/// An account a sample may draw: one of its phone lines (the first by number) and its
/// language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleAccount {
    pub account_id: i64,
    pub account_no: String,
    pub number: String,
    pub language: Option<Locale>,
    pub services: Services,
}

/// How many callbacks of a campaign answered one question with one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerTally {
    pub question: String,
    pub answer: String,
    pub callbacks: i64,
}

/// One question of a campaign over all its callbacks.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionTally {
    pub question: String,
    /// Callbacks that answered it.
    pub callbacks: i64,
    /// Answers that gave points.
    pub scored: i64,
    /// Their mean, on 0–100.
    pub mean_score: Option<f64>,
}

/// A campaign's figures as the store aggregates them (GROUP BY, never row by row).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignTally {
    /// Callbacks per state (`pending`, `dialing`, `done`, `cancelled`).
    pub states: Vec<(String, i64)>,
    /// Done and cancelled callbacks per outcome (`reached`, `exhausted`, `opted_out`…).
    pub outcomes: Vec<(String, i64)>,
    /// Callbacks with at least one attempt that counts and reached the carrier.
    pub called: i64,
    /// Callbacks with an answered attempt.
    pub reached: i64,
    /// Callbacks with at least one survey answer.
    pub answered: i64,
    /// Callbacks that answered every question asked for (the required ones).
    pub complete: i64,
    /// Callbacks whose number opted out, before or during the call.
    pub opted_out: i64,
    /// Per question and value, for the questions asked for (comments are not counted by
    /// value: each is a recording).
    pub answers: Vec<AnswerTally>,
    /// Per question.
    pub questions: Vec<QuestionTally>,
}
