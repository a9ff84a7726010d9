//! The dialer: claims due callbacks, checks each against the opt-outs, the quiet period, the
//! campaign's end, the calling window and the pace, records the attempt, asks the carrier to
//! place it, and settles attempts from the carrier's status reports or, when those do not
//! come, by asking the carrier.
//!
//! Rules:
//! - The attempt is written before the request: a crash after it leaves a `requesting`
//!   attempt, which blocks the callback until it is reconciled. So does a request that got no
//!   clear answer (`unclear`). Reconciling asks the carrier for calls to the number since the
//!   attempt: one found is the attempt's; none after a grace period means it was never placed,
//!   and only then is the customer dialed again.
//! - Every status report is applied at most once per attempt: the first final report ends the
//!   attempt (a conditional update) and later or repeated ones change nothing.
//! - Claims carry a lease: a dialer that dies after claiming leaves its claims to another after
//!   the lease. The pace is a slot in the campaign's row, taken with a conditional update, so
//!   it holds for every instance together.
//! - Every decision writes a ledger line in plain words: the ledger alone answers why a
//!   customer was, or was not yet, called.

use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;

use super::policy::{self, Decision, DoneReason, Outcome};
use super::{Attempt, AttemptState, Callback, Campaign};
use crate::calendar::Calendar;
use crate::callbacks::repo::{AttemptEnd, CallbackNext};
use crate::clock::Clock;
use crate::flows::survey::SurveyState;
use crate::repo::{Store, StoreError};
use crate::telephony::{
    AnsweredBy, CallStatus, DialError, Dialer, Hook, NextStep, OutboundCall, RemoteCall,
    mask_number,
};

/// Settings of the dialer.
#[derive(Debug, Clone)]
pub struct DialerConfig {
    /// Callbacks claimed at once.
    pub batch: i64,
    /// How long a claim lasts before another dialer may take it.
    pub lease_ms: i64,
    /// An attempt still `requesting` or `unclear` this long after its request is reconciled.
    pub reconcile_after_ms: i64,
    /// A placed attempt without a final report this long after its request is looked up at
    /// the carrier (`[callbacks] status_lookup_minutes`).
    pub stale_call_ms: i64,
    /// Calls the carrier created up to this long before the attempt was recorded still count
    /// as the attempt's (clock skew between us and the carrier).
    pub clock_skew_ms: i64,
    /// Seconds to let the phone ring.
    pub ring_secs: u32,
    /// The operator's zone, for callbacks whose own zone is not known.
    pub default_tz: Tz,
    /// How long the loop sleeps between rounds.
    pub idle: Duration,
}

impl Default for DialerConfig {
    fn default() -> Self {
        DialerConfig {
            batch: 32,
            lease_ms: 60_000,
            reconcile_after_ms: 60_000,
            stale_call_ms: 15 * 60_000,
            clock_skew_ms: 5_000,
            ring_secs: 30,
            default_tz: chrono_tz::Asia::Shanghai,
            idle: Duration::from_millis(50),
        }
    }
}

/// A carrier's report on an outbound call, as the adapter parsed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// Our attempt, from the report's URL.
    pub attempt_id: i64,
    pub provider_call_id: String,
    pub status: CallStatus,
    pub answered_by: Option<AnsweredBy>,
    pub at: i64,
}

/// What one round did, for tests and logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Round {
    pub claimed: usize,
    pub placed: usize,
    pub deferred: usize,
    pub finished: usize,
    pub reconciled: usize,
}

/// The dialer; cheap to clone.
#[derive(Clone)]
pub struct CallbackDialer {
    pub store: Arc<dyn Store>,
    pub dialer: Arc<dyn Dialer>,
    pub clock: Arc<dyn Clock>,
    pub calendar: Arc<Calendar>,
    pub cfg: DialerConfig,
}

fn answered_by_str(a: AnsweredBy) -> &'static str {
    match a {
        AnsweredBy::Human => "human",
        AnsweredBy::Machine => "machine",
        AnsweredBy::Unknown => "unknown",
    }
}

/// How a final carrier status ends an attempt.
pub fn outcome_of(status: CallStatus, answered_by: Option<AnsweredBy>) -> Outcome {
    match (status, answered_by) {
        (CallStatus::Completed, Some(AnsweredBy::Machine)) => Outcome::Machine,
        (CallStatus::Completed, _) => Outcome::Answered,
        (CallStatus::Busy, _) => Outcome::Busy,
        (CallStatus::Failed, _) => Outcome::Failed,
        _ => Outcome::NoAnswer,
    }
}

impl CallbackDialer {
    fn tz(&self, cb: &Callback) -> Tz {
        cb.timezone.parse().unwrap_or(self.cfg.default_tz)
    }

    /// Runs until the task is dropped.
    pub async fn run(self) {
        loop {
            match self.round().await {
                Ok(r) if r.claimed > 0 || r.reconciled > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "a dialer round failed; will retry"),
            }
            tokio::time::sleep(self.cfg.idle).await;
        }
    }

    /// One round: reconcile what is unclear, then dial what is due.
    pub async fn round(&self) -> Result<Round, StoreError> {
        let mut round = Round {
            reconciled: self.reconcile().await?,
            ..Round::default()
        };
        let now = self.clock.now_ms();
        let claimed = self
            .store
            .claim_callbacks(now, now + self.cfg.lease_ms, self.cfg.batch)
            .await?;
        round.claimed = claimed.len();
        // Callbacks waiting for the pace are spread over the coming slots, not all retried at
        // the next one.
        let mut waiting: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
        let mut tasks = tokio::task::JoinSet::new();
        for cb in claimed {
            let Some(campaign) = self.store.campaign(cb.campaign_id).await? else {
                continue;
            };
            match self.check(&cb, &campaign, now).await? {
                Check::Go => {}
                Check::Defer { due_at, note } => {
                    self.store
                        .defer_callback(cb.id, due_at, note.as_deref(), now)
                        .await?;
                    round.deferred += 1;
                    continue;
                }
                Check::Finish { outcome, why } => {
                    self.store
                        .finish_callback(cb.id, outcome, &why, now)
                        .await?;
                    round.finished += 1;
                    continue;
                }
            }
            // The slot is taken, and the attempt recorded, at the moment of dialing: the pace
            // is the least time between two attempts of the campaign.
            let now = self.clock.now_ms();
            let detail = format!(
                "dialing {} (attempt {} of at most {})",
                mask_number(&cb.to_number),
                cb.attempts + 1,
                campaign.retry.max_attempts_overall()
            );
            let attempt = match self
                .store
                .begin_paced_attempt(cb.id, campaign.id, campaign.pace_ms, &detail, now)
                .await?
            {
                Ok(attempt) => attempt,
                Err(next) => {
                    let k = waiting.entry(campaign.id).or_insert(0);
                    let due = next.max(now) + *k * campaign.pace_ms;
                    *k += 1;
                    self.store.defer_callback(cb.id, due, None, now).await?;
                    round.deferred += 1;
                    continue;
                }
            };
            let me = self.clone();
            tasks.spawn(async move { me.dial(cb, campaign, attempt).await });
            round.placed += 1;
        }
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "recording a dial failed"),
                Err(e) => tracing::error!(error = %e, "a dial task failed"),
            }
        }
        Ok(round)
    }

    /// Whether a claimed callback may be dialed now.
    async fn check(&self, cb: &Callback, c: &Campaign, now: i64) -> Result<Check, StoreError> {
        match c.state {
            super::CampaignState::Running => {}
            // A claim taken back from a dialer that died while the campaign was paused.
            super::CampaignState::Draft | super::CampaignState::Paused => {
                return Ok(Check::Defer {
                    due_at: cb.due_at.max(now),
                    note: None,
                });
            }
            super::CampaignState::Finished => {
                return Ok(Check::Finish {
                    outcome: "stopped",
                    why: "not called: the campaign was stopped".into(),
                });
            }
        }
        if c.ends_at.is_some_and(|end| now >= end) {
            return Ok(Check::Finish {
                outcome: "past_end",
                why: "not called: the campaign ended before it could be".into(),
            });
        }
        if self.store.is_opted_out(&cb.to_number).await? {
            return Ok(Check::Finish {
                outcome: "opted_out",
                why: "not called: the number asked not to be called again".into(),
            });
        }
        if c.quiet_days > 0 {
            let since = now - c.quiet_days * 86_400_000;
            if self
                .store
                .reached_since(&cb.to_number, since, cb.id)
                .await?
            {
                return Ok(Check::Finish {
                    outcome: "recently_surveyed",
                    why: format!(
                        "not called: the customer was reached by another survey in the last {} days",
                        c.quiet_days
                    ),
                });
            }
        }
        let tz = self.tz(cb);
        match c.window.next_open(now, tz, &self.calendar) {
            Some(at) if at <= now => Ok(Check::Go),
            Some(at) => Ok(Check::Defer {
                due_at: at,
                note: Some(format!(
                    "outside the calling window ({}, {tz}); due again at {}",
                    c.window,
                    local(at, tz)
                )),
            }),
            None => Ok(Check::Finish {
                outcome: "never_open",
                why: format!("not called: the calling window ({}) never opens", c.window),
            }),
        }
    }

    /// Asks the carrier to place a recorded attempt, and records its answer.
    async fn dial(&self, cb: Callback, c: Campaign, attempt: Attempt) -> Result<(), StoreError> {
        let call = OutboundCall {
            to: cb.to_number.clone(),
            from: c.from_number.clone(),
            answer: SurveyState {
                seq: 0,
                callback_id: cb.id,
                attempt_id: attempt.id,
                locale: cb.locale,
                question: 0,
                tries: 0,
            }
            .next_step(),
            status: NextStep::new(Hook::CallbackStatus, format!("at={}", attempt.id)),
            ring_secs: self.cfg.ring_secs,
            detect_machine: true,
        };
        let result = self.dialer.place(&call).await;
        let now = self.clock.now_ms();
        match result {
            Ok(remote) => {
                tracing::info!(callback = cb.id, attempt = attempt.attempt_no, call = %remote.id, "callback placed");
                self.store
                    .attempt_placed(&attempt, &remote.id, "the carrier placed the call", now)
                    .await?;
            }
            Err(DialError::Permanent { code, message }) => {
                let why = format!(
                    "the carrier refused the number for good ({}): {message}",
                    code_text(code)
                );
                let end = Ending::new(Outcome::Rejected, why);
                self.end(&attempt, &cb, &c, end, now).await?;
            }
            Err(DialError::Transient {
                code,
                message,
                retry_after_secs,
            }) => {
                let why = format!(
                    "the carrier refused for now ({}): {message}",
                    code_text(code)
                );
                let end = Ending {
                    not_before: retry_after_secs
                        .map(|s| now.saturating_add(i64::try_from(s).unwrap_or(0) * 1000)),
                    ..Ending::new(Outcome::CarrierBusy, why)
                };
                self.end(&attempt, &cb, &c, end, now).await?;
            }
            Err(DialError::Ambiguous(e)) => {
                tracing::warn!(callback = cb.id, attempt = attempt.attempt_no, error = %e, "placing a callback got no clear answer");
                self.store
                    .attempt_unclear(
                        &attempt,
                        &format!("no clear answer from the carrier ({e}); the call is checked with the carrier before anyone is dialed again"),
                        now,
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// Ends an attempt as `end` says and decides what becomes of the callback; `false` when
    /// the attempt had ended already.
    async fn end(
        &self,
        attempt: &Attempt,
        cb: &Callback,
        c: &Campaign,
        end: Ending,
        now: i64,
    ) -> Result<bool, StoreError> {
        let Ending {
            outcome,
            why,
            status,
            answered_by,
            provider_call_id,
            not_before,
        } = end;
        // A call the carrier never placed is not an attempt the customer saw.
        let counts = outcome != Outcome::CarrierBusy;
        let made = u32::try_from(cb.attempts).unwrap_or(0) + u32::from(counts);
        let tz = self.tz(cb);
        let decision = policy::decide(
            &c.retry,
            outcome,
            made,
            now,
            &c.window,
            tz,
            &self.calendar,
            c.ends_at,
        );
        let mut ledger = vec![("ended".to_string(), why)];
        let (next, followup) = match decision {
            Decision::Retry { at_ms, why } => {
                let due_at = not_before.map_or(at_ms, |t| t.max(at_ms));
                ledger.push(("retry".into(), why));
                (CallbackNext::Pending { due_at }, None)
            }
            Decision::Done { reason, why } => {
                let followup = (reason == DoneReason::Exhausted).then(|| {
                    (
                        "exhausted".to_string(),
                        format!("could not reach the customer: {why}"),
                    )
                });
                ledger.push(("done".into(), why));
                (
                    CallbackNext::Done {
                        outcome: reason.as_str().to_string(),
                    },
                    followup,
                )
            }
        };
        self.store
            .end_attempt(&AttemptEnd {
                attempt_id: attempt.id,
                callback_id: cb.id,
                attempt_no: attempt.attempt_no,
                at: now,
                call_status: status.map(|s| s.as_str().to_string()),
                answered_by: answered_by.map(|a| answered_by_str(a).to_string()),
                outcome: outcome.as_str().to_string(),
                counts,
                provider_call_id,
                next,
                ledger,
                followup,
            })
            .await
    }

    /// Applies a carrier status report: a final one ends the attempt, once.
    pub async fn status(&self, r: &StatusReport) -> Result<(), StoreError> {
        let Some(attempt) = self.store.attempt(r.attempt_id).await? else {
            tracing::warn!(
                attempt = r.attempt_id,
                "a status report for an unknown attempt"
            );
            return Ok(());
        };
        if attempt.state == AttemptState::Ended {
            return Ok(());
        }
        if attempt
            .provider_call_id
            .as_ref()
            .is_some_and(|known| known != &r.provider_call_id)
        {
            tracing::warn!(
                attempt = r.attempt_id,
                "a status report for another call of this attempt"
            );
            return Ok(());
        }
        if attempt.state != AttemptState::Placed {
            // The request's answer was lost, but the carrier placed the call: this is it.
            self.store
                .attempt_placed(
                    &attempt,
                    &r.provider_call_id,
                    "reconciled: the carrier's status report names the call",
                    r.at,
                )
                .await?;
        }
        if r.status.is_final() {
            self.settle(
                &attempt,
                r.status,
                r.answered_by,
                Some(r.provider_call_id.clone()),
                r.at,
            )
            .await?;
        }
        Ok(())
    }

    /// Ends an attempt from the call's final status.
    async fn settle(
        &self,
        attempt: &Attempt,
        status: CallStatus,
        answered_by: Option<AnsweredBy>,
        provider: Option<String>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let Some(cb) = self.store.callback(attempt.callback_id).await? else {
            return Ok(false);
        };
        let Some(c) = self.store.campaign(cb.campaign_id).await? else {
            return Ok(false);
        };
        let outcome = outcome_of(status, answered_by);
        let why = match outcome {
            Outcome::Answered => "the customer answered".to_string(),
            Outcome::Machine => "an answering machine answered".to_string(),
            Outcome::Busy => "the line was busy".to_string(),
            Outcome::NoAnswer => "nobody answered".to_string(),
            _ => format!("the call failed ({})", status.as_str()),
        };
        let end = Ending {
            status: Some(status),
            answered_by,
            provider_call_id: provider,
            ..Ending::new(outcome, why)
        };
        self.end(attempt, &cb, &c, end, now).await
    }

    /// Settles attempts whose request or report never came; returns how many it settled.
    pub async fn reconcile(&self) -> Result<usize, StoreError> {
        let now = self.clock.now_ms();
        let open = self
            .store
            .open_attempts(
                now - self.cfg.reconcile_after_ms,
                now - self.cfg.stale_call_ms,
                self.cfg.batch,
            )
            .await?;
        let mut settled = 0;
        for a in open {
            // One attempt that cannot be settled must not hold up the others, nor the dialing.
            match self.reconcile_attempt(&a, now).await {
                Ok(true) => settled += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(attempt = a.id, error = %e, "could not reconcile an attempt yet")
                }
            }
        }
        Ok(settled)
    }

    async fn reconcile_attempt(&self, a: &Attempt, now: i64) -> Result<bool, StoreError> {
        let Some(cb) = self.store.callback(a.callback_id).await? else {
            return Ok(false);
        };
        let found = match (&a.state, &a.provider_call_id) {
            (AttemptState::Placed, Some(id)) => self
                .dialer
                .fetch(id)
                .await
                .map(|c| c.into_iter().collect::<Vec<_>>()),
            _ => {
                self.dialer
                    .calls_to_since(&cb.to_number, a.requested_at - self.cfg.clock_skew_ms)
                    .await
            }
        };
        let calls = match found {
            Ok(calls) => calls,
            Err(e) => {
                tracing::warn!(attempt = a.id, error = %e, "could not reconcile an attempt yet");
                return Ok(false);
            }
        };
        let mut unclaimed = Vec::with_capacity(calls.len());
        for call in calls {
            // A call another attempt placed (an earlier callback to the same number) is
            // not this attempt's.
            match self.store.attempt_by_call(&call.id).await? {
                Some(other) if other.id != a.id => {}
                _ => unclaimed.push(call),
            }
        }
        self.reconcile_one(a, &cb, unclaimed, now).await
    }

    async fn reconcile_one(
        &self,
        a: &Attempt,
        cb: &Callback,
        calls: Vec<RemoteCall>,
        now: i64,
    ) -> Result<bool, StoreError> {
        // The attempt's call is the first the carrier created after it was recorded.
        let Some(call) = calls.into_iter().min_by_key(|c| c.created_at) else {
            if a.state == AttemptState::Placed {
                return Ok(false);
            }
            let Some(c) = self.store.campaign(cb.campaign_id).await? else {
                return Ok(false);
            };
            let why =
                "reconciled: the carrier has no call for this attempt, so it was never placed";
            return self
                .end(
                    a,
                    cb,
                    &c,
                    Ending::new(Outcome::CarrierBusy, why.into()),
                    now,
                )
                .await;
        };
        if a.state != AttemptState::Placed {
            self.store
                .attempt_placed(
                    a,
                    &call.id,
                    "reconciled: the carrier did place this call",
                    now,
                )
                .await?;
        }
        if call.status.is_final() {
            return self
                .settle(a, call.status, call.answered_by, Some(call.id), now)
                .await;
        }
        Ok(a.state != AttemptState::Placed)
    }
}

/// How an attempt ends.
struct Ending {
    outcome: Outcome,
    /// The ledger's words for it.
    why: String,
    status: Option<CallStatus>,
    answered_by: Option<AnsweredBy>,
    provider_call_id: Option<String>,
    /// The carrier asked us to wait until then.
    not_before: Option<i64>,
}

impl Ending {
    fn new(outcome: Outcome, why: String) -> Self {
        Ending {
            outcome,
            why,
            status: None,
            answered_by: None,
            provider_call_id: None,
            not_before: None,
        }
    }
}

enum Check {
    Go,
    Defer { due_at: i64, note: Option<String> },
    Finish { outcome: &'static str, why: String },
}

fn code_text(code: Option<i64>) -> String {
    code.map_or_else(|| "no code".to_string(), |c| format!("code {c}"))
}

/// A time in a zone, for ledger lines.
fn local(at_ms: i64, tz: Tz) -> String {
    chrono::DateTime::from_timestamp_millis(at_ms)
        .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}
