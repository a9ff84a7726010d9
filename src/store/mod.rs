//! The store: every table, every SQL statement, both backends.
//!
//! Rules: SQL lives only under this folder. SQLite (the embedded default, created and
//! migrated on first start) and PostgreSQL (several instances) implement the same `Store`
//! trait and pass the same conformance tests. Times are epoch milliseconds in `BIGINT`
//! columns on both backends, so comparisons sort correctly and tests can fake the clock.
//! Call steps and status reports are written by one batching writer (`StepWriter`): many
//! concurrent writes share one transaction, and each is answered only after it commits.

mod agents;
mod callbacks;
mod guesses;
mod postgres;
mod reports_callbacks;
mod reports_tickets;
mod rollups;
mod rows;
mod sqlite;
mod sqlite_direct;
#[cfg(feature = "testing")]
pub mod synthetic;
mod tickets;
mod writer;

use std::sync::Arc;

use async_trait::async_trait;

use crate::agents::auth::Session;
use crate::agents::queue::{QueueCall, QueueSeen};
use crate::agents::{Agent, AgentUpdate, NewAgent};
use crate::billing::Bill;
use crate::callbacks::{
    Attempt, Callback, CallbackState, Campaign, CampaignState, CampaignTally, Followup,
    LedgerEntry, NewCallback, NewCampaign, SampleAccount, Services, StoredAnswer,
};
use crate::calls::CallRecord;
use crate::customers::{Account, AccountWrite};
use crate::escalations::{
    EscChange, EscCounts, EscFilter, Escalation, EscalationEvent, NewEscalation,
};
use crate::prompts::Locale;
use crate::tickets::{
    Action, NewTicket, Origin, Ticket, TicketEvent, TicketFilter, TicketKind, TicketPage,
};
use crate::webhooks::{AttemptResult, Delivery, DeliveryJob, Endpoint, NewEndpoint};

pub use callbacks::{AttemptEnd, CallbackNext};
pub use writer::StepWriter;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unsupported database URL (expected sqlite:... or postgres://...)")]
    UnsupportedUrl,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("the step writer has stopped")]
    WriterGone,
    /// The store did not answer in time (unreachable, or a network that swallows packets).
    #[error("the store did not answer in time")]
    TimedOut,
    /// A ticket change its state does not allow.
    #[error(transparent)]
    Transition(#[from] crate::tickets::TransitionError),
}

impl StoreError {
    /// Whether the database could not be used at all (unreachable, out of connections or
    /// resources, shutting down, locked), as opposed to refusing what was written. Writing
    /// the same rows again one at a time can only help in the second case.
    pub fn is_outage(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => {
                let code = e.code().unwrap_or_default();
                if e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some()
                {
                    // SQLSTATE classes: connection exception, insufficient resources, operator
                    // intervention, system error, internal error.
                    ["08", "53", "57", "58", "XX"]
                        .iter()
                        .any(|c| code.starts_with(c))
                } else {
                    // SQLite's result codes (the primary code is the low byte): busy, locked,
                    // out of memory, read-only, I/O error, corrupt, full, cannot open.
                    code.parse::<i64>()
                        .is_ok_and(|n| matches!(n & 0xff, 5..=8 | 10 | 11 | 13 | 14))
                }
            }
            StoreError::Database(sqlx::Error::Encode(_)) => false,
            StoreError::Database(_) => true,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                use rusqlite::ErrorCode as C;
                matches!(
                    e.code,
                    C::DatabaseBusy
                        | C::DatabaseLocked
                        | C::OutOfMemory
                        | C::ReadOnly
                        | C::SystemIoFailure
                        | C::DatabaseCorrupt
                        | C::DiskFull
                        | C::CannotOpen
                        | C::PermissionDenied
                )
            }
            StoreError::Sqlite(_) => false,
            StoreError::NotFound
            | StoreError::Conflict(_)
            | StoreError::Corrupt(_)
            | StoreError::Transition(_) => false,
            StoreError::UnsupportedUrl
            | StoreError::Migrate(_)
            | StoreError::WriterGone
            | StoreError::TimedOut => true,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

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
    /// Normalised status, e.g. `completed` (see `telephony::CallStatus`).
    pub status: String,
    pub is_final: bool,
    /// Carrier's sequence number when it sends one; deduplicates retries.
    pub sequence: Option<i64>,
    pub duration_secs: Option<i64>,
    pub at: i64,
    /// Present when the report is for a call we never saw start (it is created).
    pub new_call: NewCall,
}

/// One page of accounts.
#[derive(Debug, Clone)]
pub struct AccountPage {
    pub accounts: Vec<Account>,
    pub next_after: Option<i64>,
}

/// Tickets, their history, and the webhook deliveries their events owe.
#[async_trait]
pub trait TicketStore: Send + Sync + 'static {
    /// Opens a ticket with a fresh number and records `opened`. With an `origin` this is
    /// idempotent: a step that opened a ticket before gets that ticket back.
    async fn open_ticket(&self, ticket: &NewTicket, now: i64) -> Result<Ticket>;
    async fn ticket(&self, number: &str) -> Result<Option<Ticket>>;
    async fn ticket_by_id(&self, id: i64) -> Result<Option<Ticket>>;
    /// The complaint ticket holding this recording.
    async fn ticket_by_recording(&self, recording_sid: &str) -> Result<Option<Ticket>>;
    /// The newest still-running ticket of `kind` on a line.
    async fn active_ticket_on_line(&self, line: &str, kind: TicketKind) -> Result<Option<Ticket>>;
    /// A ticket's history, oldest first.
    async fn ticket_history(&self, ticket_id: i64) -> Result<Vec<TicketEvent>>;
    /// Events of all tickets after event id `after`, in order: the feed consumers follow.
    async fn ticket_events_after(&self, after: i64, limit: i64) -> Result<Vec<TicketEvent>>;
    async fn list_tickets(&self, filter: &TicketFilter) -> Result<TicketPage>;
    /// Applies `action` (refused with `StoreError::Transition` when the state does not allow
    /// it) and records it. With an `origin` a retried call step changes nothing twice.
    async fn change_ticket(
        &self,
        number: &str,
        action: &Action,
        actor: &str,
        origin: Option<&Origin>,
        now: i64,
    ) -> Result<Ticket>;
    /// Marks up to `limit` running tickets whose deadline passed before `now` as breached.
    async fn mark_breaches(&self, now: i64, limit: i64) -> Result<Vec<Ticket>>;
    /// The earliest deadline of a running ticket not yet marked breached.
    async fn next_deadline(&self) -> Result<Option<i64>>;

    async fn add_endpoint(&self, endpoint: &NewEndpoint, now: i64) -> Result<Endpoint>;
    async fn endpoints(&self) -> Result<Vec<Endpoint>>;
    /// Removes an endpoint and what it was still owed; `false` when there was none.
    async fn delete_endpoint(&self, id: i64) -> Result<bool>;
    /// Claims up to `limit` deliveries due at `now` until `lease_until`: another claim (by
    /// this or another instance) sees them again only after the lease.
    async fn claim_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryJob>>;
    /// Records an attempt; a delivery that is no longer pending is left as it is.
    async fn finish_delivery(&self, result: &AttemptResult) -> Result<()>;
    /// An endpoint's deliveries with ids after `after`, oldest first.
    async fn deliveries(&self, endpoint_id: i64, after: i64, limit: i64) -> Result<Vec<Delivery>>;
    /// Sends a failed delivery again from `now`; `false` when it is not failed.
    async fn retry_delivery(&self, id: i64, now: i64) -> Result<bool>;
}

/// Campaigns and the callbacks they owe, with their attempts and ledgers.
#[async_trait]
pub trait CallbackStore: Send + Sync + 'static {
    /// A new campaign, in draft. Names are unique; there is at most one standing campaign.
    async fn create_campaign(&self, campaign: &NewCampaign, now: i64) -> Result<Campaign>;
    async fn campaign(&self, id: i64) -> Result<Option<Campaign>>;
    async fn campaigns(&self) -> Result<Vec<Campaign>>;
    /// The campaign resolved tickets queue into, if there is one.
    async fn standing_campaign(&self) -> Result<Option<Campaign>>;
    /// Starts, pauses, resumes or stops a campaign (`Conflict` when its state does not allow).
    async fn set_campaign_state(&self, id: i64, to: CampaignState, now: i64) -> Result<Campaign>;

    /// Queues callbacks, each with its first ledger line; `None` for one whose source the
    /// campaign already owes.
    async fn queue_callbacks(
        &self,
        callbacks: &[NewCallback],
        now: i64,
    ) -> Result<Vec<Option<i64>>>;
    /// Cancels the pending callbacks about a ticket that events before `before_event` owed;
    /// how many.
    async fn cancel_ticket_callbacks(
        &self,
        ticket_id: i64,
        before_event: i64,
        why: &str,
        now: i64,
    ) -> Result<u64>;
    async fn callback(&self, id: i64) -> Result<Option<Callback>>;
    async fn campaign_callbacks(
        &self,
        campaign_id: i64,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Callback>>;
    /// A callback's ledger, oldest first.
    async fn ledger(&self, callback_id: i64) -> Result<Vec<LedgerEntry>>;
    async fn attempts(&self, callback_id: i64) -> Result<Vec<Attempt>>;
    async fn attempt(&self, id: i64) -> Result<Option<Attempt>>;

    /// Claims up to `limit` callbacks due at `now` (of running campaigns), and claims whose
    /// dialer died before asking the carrier, until `lease_until`.
    async fn claim_callbacks(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<Callback>>;
    /// Gives a claimed callback back, due at `due_at`, with a ledger note if there is one.
    async fn defer_callback(
        &self,
        id: i64,
        due_at: i64,
        note: Option<&str>,
        now: i64,
    ) -> Result<()>;
    /// Ends a callback without (another) attempt.
    async fn finish_callback(&self, id: i64, outcome: &str, detail: &str, now: i64) -> Result<()>;
    /// Takes the campaign's pacing slot at `now` and records the callback's attempt at that
    /// instant, in one transaction (so the attempts of the cluster are never closer than the
    /// pace); `Err(next)` when the slot is not free yet, with when it will be.
    async fn begin_paced_attempt(
        &self,
        callback_id: i64,
        campaign_id: i64,
        pace_ms: i64,
        detail: &str,
        now: i64,
    ) -> Result<std::result::Result<Attempt, i64>>;
    /// Records an attempt before the carrier is asked (without pacing).
    async fn begin_attempt(&self, callback_id: i64, detail: &str, now: i64) -> Result<Attempt>;
    /// The carrier has the call; `false` when the attempt had moved on already.
    async fn attempt_placed(
        &self,
        attempt: &Attempt,
        provider_call_id: &str,
        detail: &str,
        now: i64,
    ) -> Result<bool>;
    /// The request got no clear answer: reconcile before dialing again.
    async fn attempt_unclear(&self, attempt: &Attempt, detail: &str, now: i64) -> Result<()>;
    /// Ends an attempt and decides the callback's future, once; `false` when it had ended.
    async fn end_attempt(&self, end: &AttemptEnd) -> Result<bool>;
    /// Attempts to reconcile, oldest first: unclear or still requesting ones requested before
    /// `unclear_before`, placed ones without an end requested before `placed_before`.
    async fn open_attempts(
        &self,
        unclear_before: i64,
        placed_before: i64,
        limit: i64,
    ) -> Result<Vec<Attempt>>;
    /// The attempt that placed the carrier's call `provider_call_id`, if any.
    async fn attempt_by_call(&self, provider_call_id: &str) -> Result<Option<Attempt>>;

    async fn opt_out(&self, number: &str, source: &str, now: i64) -> Result<()>;
    async fn is_opted_out(&self, number: &str) -> Result<bool>;
    /// Whether another callback to `number` reached the customer since `since`.
    async fn reached_since(&self, number: &str, since: i64, except_callback: i64) -> Result<bool>;
    /// The answers given to a callback's surveys, in order.
    async fn answers(&self, callback_id: i64) -> Result<Vec<StoredAnswer>>;
    /// Open follow-ups, oldest first.
    async fn followups(&self, limit: i64) -> Result<Vec<Followup>>;
    /// How far the consumer `name` has read the ticket event feed.
    async fn feed_cursor(&self, name: &str) -> Result<i64>;
    async fn set_feed_cursor(&self, name: &str, last_id: i64) -> Result<()>;

    /// A campaign's callbacks with ids after `after`, in id order, optionally in one state.
    async fn list_callbacks(
        &self,
        campaign_id: i64,
        state: Option<CallbackState>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Callback>>;
    /// Cancels every pending callback of a stopped campaign (outcome `stopped`), each with a
    /// ledger line saying `why`; how many.
    async fn cancel_campaign_callbacks(&self, campaign_id: i64, why: &str, now: i64)
    -> Result<u64>;
    /// A campaign's figures, aggregated in SQL. `required` are the questions a complete
    /// survey answers; `counted` those whose answers are counted by value.
    async fn campaign_tally(
        &self,
        campaign_id: i64,
        required: &[String],
        counted: &[String],
    ) -> Result<CampaignTally>;
    /// The accounts a sample for the campaign may draw, per stratum: those with a phone line
    /// whose number has not opted out and that the campaign does not owe a call yet.
    async fn sample_strata(&self, campaign_id: i64) -> Result<Vec<(Services, i64)>>;
    /// Draws up to `limit` of those accounts at random, without repeats, from one stratum or
    /// from all.
    async fn draw_sample(
        &self,
        campaign_id: i64,
        stratum: Option<Services>,
        limit: i64,
    ) -> Result<Vec<SampleAccount>>;
}

/// Agents, their sessions, escalations and the agent queue.
#[async_trait]
pub trait AgentStore: Send + Sync + 'static {
    /// Conflict when the login is taken.
    async fn create_agent(&self, agent: &NewAgent, now: i64) -> Result<Agent>;
    async fn agent(&self, id: i64) -> Result<Option<Agent>>;
    async fn agent_by_login(&self, login: &str) -> Result<Option<Agent>>;
    async fn agent_by_phone(&self, phone: &str) -> Result<Option<Agent>>;
    async fn agents(&self) -> Result<Vec<Agent>>;
    /// Deactivating an agent or setting a password ends their sessions; a new password also
    /// clears a login lock.
    async fn update_agent(&self, id: i64, update: &AgentUpdate, now: i64) -> Result<Agent>;
    /// Stores a session (and forgets expired ones).
    async fn create_session(&self, session: &Session) -> Result<()>;
    /// An unexpired session of an active agent.
    async fn session(&self, token_hash: &str, now: i64) -> Result<Option<(Session, Agent)>>;
    async fn touch_session(&self, token_hash: &str, expires_at: i64, now: i64) -> Result<()>;
    async fn end_session(&self, token_hash: &str) -> Result<()>;

    /// Raises an escalation; `None` when its source was escalated before.
    async fn raise_escalation(&self, e: &NewEscalation) -> Result<Option<Escalation>>;
    async fn escalation(&self, id: i64) -> Result<Option<Escalation>>;
    async fn escalation_by_source(&self, source: &str) -> Result<Option<Escalation>>;
    /// Open first (by priority, then place in line), then claimed, replied, closed.
    async fn escalations(&self, filter: &EscFilter) -> Result<Vec<Escalation>>;
    /// Counts of the unclosed ones; `me` is the login whose own are counted.
    async fn escalation_counts(&self, now: i64, me: &str) -> Result<EscCounts>;
    /// Saves a change with its history entry; Conflict when the escalation changed since
    /// the change was made from it.
    async fn save_escalation(&self, change: &EscChange) -> Result<Escalation>;
    async fn escalation_history(&self, id: i64) -> Result<Vec<EscalationEvent>>;

    /// A caller reported waiting in the agent queue (entered, or still there).
    async fn queue_seen(&self, seen: &QueueSeen) -> Result<()>;
    /// A caller left the queue (bridged, hung up, left for a callback…); once.
    async fn queue_left(&self, call_sid: &str, result: &str, at: i64) -> Result<()>;
    async fn queue_call(&self, call_sid: &str) -> Result<Option<QueueCall>>;
    /// Callers waiting now, reported since `seen_since`, first in line first.
    async fn queue_waiting(&self, seen_since: i64) -> Result<Vec<QueueCall>>;
    /// The first waiting caller not yet described to an agent, marked as described to
    /// `agent_call`.
    async fn queue_offer(&self, agent_call: &str, seen_since: i64) -> Result<Option<QueueCall>>;
}

pub use reports_tickets::{AtRisk, CallTally, DueTally, QueueTally, ResolveTime, TicketScope};

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

pub use reports_callbacks::{
    AnswerCount, AttemptNoCount, CallbackScope, CampaignAttempts, FirstAttemptWait, QuestionScore,
    SampleCount,
};
pub use rollups::{
    AnswerRoll, AttemptFact, AttemptRoll, CallRoll, CallbackDims, DueRoll, ResolvedRoll,
    RollupMark, SampleRoll,
};

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

/// Guesses at customers' PINs and agents' passwords, each counted before it is checked (see
/// `crate::lockout`).
#[async_trait]
pub trait GuessStore: Send + Sync + 'static {
    /// Counts one PIN guess at the account unless its lock is on: the guess's number in the
    /// lock window, or `None` while locked (or for no such account).
    async fn pin_guess(
        &self,
        account_id: i64,
        max_failures: i64,
        lock_until: i64,
        now: i64,
    ) -> Result<Option<i64>>;
    /// Guess `n` was right: clears the count and the lock, unless another guess was counted
    /// since; whether it stood.
    async fn pin_right(&self, account_id: i64, n: i64) -> Result<bool>;
    /// Counts one password guess at the agent's login, as `pin_guess` counts PINs.
    async fn login_guess(
        &self,
        id: i64,
        max_failures: i64,
        lock_until: i64,
        now: i64,
    ) -> Result<Option<i64>>;
    /// As `pin_right`, for a login.
    async fn login_right(&self, id: i64, n: i64) -> Result<bool>;
}

#[async_trait]
pub trait Store:
    TicketStore
    + CallbackStore
    + AgentStore
    + TicketReportStore
    + RollupStore
    + GuessStore
    + Send
    + Sync
    + 'static
{
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;
    /// Cheap round trip, for `/readyz`.
    async fn ping(&self) -> Result<()>;

    /// The account owning a line number, with its lines.
    async fn account_by_line(&self, number: &str) -> Result<Option<Account>>;
    async fn account_by_no(&self, account_no: &str) -> Result<Option<Account>>;
    async fn account(&self, id: i64) -> Result<Option<Account>>;
    /// Accounts ordered by id, after `after`, at most `limit`.
    async fn list_accounts(&self, after: Option<i64>, limit: i64) -> Result<AccountPage>;
    /// Creates or replaces (by account number) an account, its lines and, when given, its
    /// bill, in one transaction. A line number owned by another account is a `Conflict`.
    async fn put_account(&self, write: &AccountWrite, now: i64) -> Result<Account>;
    /// The account's current bill.
    async fn bill(&self, account_id: i64) -> Result<Option<Bill>>;

    /// Records a batch of steps and status reports in one transaction (steps first); one
    /// outcome per step, in order. Status reports are idempotent and monotonic.
    async fn commit(
        &self,
        steps: Vec<StepWrite>,
        statuses: Vec<StatusEvent>,
    ) -> Result<Vec<StepOutcome>>;

    /// Records a batch of steps in one transaction; one outcome per step, in order.
    async fn commit_steps(&self, steps: &[StepWrite]) -> Result<Vec<StepOutcome>> {
        self.commit(steps.to_vec(), Vec::new()).await
    }

    /// Records one status report.
    async fn record_status(&self, event: &StatusEvent) -> Result<()> {
        self.commit(Vec::new(), vec![event.clone()]).await.map(drop)
    }
    async fn call(&self, call_sid: &str) -> Result<Option<CallRecord>>;
    /// The answer stored for a call's step, if it was recorded.
    async fn step_response(&self, call_sid: &str, seq: i32) -> Result<Option<String>>;
}

/// A migrator over migrations embedded in the binary: what `sqlx::migrate!` builds (same
/// versions, SQL and checksums), without sqlx's `macros` feature. Every file in a backend's
/// `migrations/` folder must be listed (a unit test in each backend checks).
fn embedded_migrations(files: &[(i64, &str, &'static str)]) -> sqlx::migrate::Migrator {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    use sqlx::{AssertSqlSafe, SqlSafeStr};
    Migrator::with_migrations(
        files
            .iter()
            .map(|(version, name, sql)| {
                Migration::new(
                    *version,
                    name.to_string().into(),
                    MigrationType::Simple,
                    AssertSqlSafe(*sql).into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// Opens the store named by `url` (`sqlite:path`, `sqlite://path`, `postgres://…`) and
/// migrates it. A SQLite file is created when missing.
/// When a commit SQLite has answered is safe (README, "Durability"). PostgreSQL's is the
/// server's own (`synchronous_commit`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// `synchronous = FULL`: the log is flushed to disk at every commit, so what a caller was
    /// told (a PIN failure counted, a ticket promised) survives a power loss. Group commit
    /// makes it one flush per batch of steps.
    #[default]
    Full,
    /// `synchronous = NORMAL`: the log is flushed only at checkpoints; a commit survives the
    /// process crashing, but the last ones can be lost with the machine.
    Normal,
}

impl SqliteSynchronous {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "full" => Some(SqliteSynchronous::Full),
            "normal" => Some(SqliteSynchronous::Normal),
            _ => None,
        }
    }

    /// The value of SQLite's `PRAGMA synchronous`.
    pub fn pragma(self) -> &'static str {
        match self {
            SqliteSynchronous::Full => "FULL",
            SqliteSynchronous::Normal => "NORMAL",
        }
    }
}

/// How a store is opened, beyond its URL.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    pub sqlite_synchronous: SqliteSynchronous,
}

/// Opens the store with the default options (see `connect_with`).
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    connect_with(url, &StoreOptions::default()).await
}

/// Opens the store at `url` (`sqlite:…` or `postgres://…`) and migrates it.
pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        Arc::new(sqlite::SqliteStore::open(url, options.sqlite_synchronous).await?)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Arc::new(postgres::PgStore::open(url).await?)
    } else {
        return Err(StoreError::UnsupportedUrl);
    };
    store.migrate().await?;
    Ok(store)
}

/// Redacts the password of a database URL for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s + 3 => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:****{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact_url("postgres://app:s3cret@db:5432/hotline"),
            "postgres://app:****@db:5432/hotline"
        );
        assert_eq!(
            super::redact_url("sqlite://hotline.db"),
            "sqlite://hotline.db"
        );
    }
}
