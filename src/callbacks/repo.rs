//! What callbacks need stored: campaigns, callbacks, attempts, ledgers, answers, opt-outs.
//!
//! Rules: a callback is claimed with a lease, so two dialers never call it at once; an
//! attempt is recorded before the carrier is asked and ended once, deciding the callback's
//! future in the same transaction; pacing is taken in the store, for the whole cluster.

use async_trait::async_trait;

use super::{
    Attempt, Callback, CallbackState, Campaign, CampaignState, CampaignTally, Followup,
    LedgerEntry, NewCallback, NewCampaign, SampleAccount, Services, StoredAnswer,
};
use crate::repo::Result;

/// What ending an attempt writes, in one transaction, if (and only if) the attempt was not
/// ended before.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptEnd {
    pub attempt_id: i64,
    pub callback_id: i64,
    pub attempt_no: i32,
    pub at: i64,
    pub call_status: Option<String>,
    pub answered_by: Option<String>,
    /// `crate::callbacks::policy::Outcome` as text.
    pub outcome: String,
    /// Whether it counts against the retry policy.
    pub counts: bool,
    /// Learnt from a status report when the request itself got no answer.
    pub provider_call_id: Option<String>,
    pub next: CallbackNext,
    /// Ledger lines, in order.
    pub ledger: Vec<(String, String)>,
    /// A follow-up for people: kind and detail.
    pub followup: Option<(String, String)>,
}

/// What becomes of the callback after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackNext {
    /// Try again from `due_at`.
    Pending { due_at: i64 },
    /// No more attempts; why.
    Done { outcome: String },
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
