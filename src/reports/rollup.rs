//! Daily roll-ups: what makes a year's report read a few hundred stored days instead of
//! every call, ticket, answer and attempt of the year.
//!
//! Rules:
//! - A report's figures come from six families of rows (calls, tickets due, tickets resolved,
//!   survey answers, satisfaction callbacks, attempts), each computed by the store one local
//!   day at a time, grouped by everything a report filters on; the report filters and adds
//!   up the rows. A day is read from its roll-up when it has one, and computed from the
//!   stored outcomes otherwise: both give the same rows, so a report never depends on
//!   whether the job has run.
//! - A day is rolled up once it is settled: two days after its end (a call's "called again
//!   within 24 hours" is decided by then, and a ticket due that day is met or breached), and,
//!   for the callback families, once every callback queued by its end has finished (a
//!   callback's reach grows with its later attempts), or at most 30 days on.
//! - What changes a settled day later (a ticket reopened, an account's class changed, a
//!   stuck callback finishing) is caught by rolling the last 30 days again each time a new
//!   day is rolled; older corrections need `hotline rollup --rebuild`. Days are in the
//!   operator's zone: a roll-up made in another zone is discarded and made again.
//! - The calling-window check of an attempt is made when its day is rolled, against its
//!   campaign's window then.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Period, ReportCtx};
use crate::calendar::Calendar;
use crate::callbacks::Campaign;
use crate::repo::{Store, StoreError};
use crate::reports::repo::RollupStore;
use crate::reports::repo::{
    AnswerCount, AnswerRoll, AttemptNoCount, AttemptRoll, CallRoll, CallTally, CallbackDims,
    CallbackScope, CampaignAttempts, DueRoll, DueTally, FirstAttemptWait, QuestionScore,
    QueueTally, ResolveTime, ResolvedRoll, SampleCount, SampleRoll, TicketScope,
};

/// How long after its end a day is settled.
const SETTLE_MS: i64 = 2 * DAY_MS;
/// How far back each new roll-up rolls again, and the longest a callback that has not
/// finished holds its day back.
const REROLL_DAYS: i64 = 30;
const DAY_MS: i64 = 86_400_000;
/// Days rolled per transaction during a long backfill.
const CHUNK_DAYS: usize = 31;

/// What computing a day reads.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    pub store: &'a dyn Store,
    pub tz: Tz,
    pub calendar: &'a Calendar,
    pub now: i64,
}

/// One family of rolled rows.
#[async_trait]
trait Family: Serialize + DeserializeOwned + Send + Sync + Sized + 'static {
    const NAME: &'static str;
    /// Whether its days wait for their callbacks to finish.
    const WITH_CALLBACKS: bool;
    /// The rows of `[from, to)`, from the stored outcomes.
    async fn compute(src: &Source<'_>, from: i64, to: i64) -> Result<Vec<Self>, StoreError>;
}

#[async_trait]
impl Family for CallRoll {
    const NAME: &'static str = "calls";
    const WITH_CALLBACKS: bool = false;
    async fn compute(src: &Source<'_>, from: i64, to: i64) -> Result<Vec<Self>, StoreError> {
        src.store
            .roll_calls(from, to, super::hotline::REPEAT_MS)
            .await
    }
}

#[async_trait]
impl Family for DueRoll {
    const NAME: &'static str = "tickets_due";
    const WITH_CALLBACKS: bool = false;
    async fn compute(src: &Source<'_>, from: i64, to: i64) -> Result<Vec<Self>, StoreError> {
        src.store.roll_due(from, to, src.now).await
    }
}

#[async_trait]
impl Family for ResolvedRoll {
    const NAME: &'static str = "tickets_resolved";
    const WITH_CALLBACKS: bool = false;
    async fn compute(src: &Source<'_>, from: i64, to: i64) -> Result<Vec<Self>, StoreError> {
        src.store.roll_resolved(from, to).await
    }
}

#[async_trait]
impl Family for AnswerRoll {
    const NAME: &'static str = "answers";
    const WITH_CALLBACKS: bool = false;
    async fn compute(src: &Source<'_>, from: i64, to: i64) -> Result<Vec<Self>, StoreError> {
        src.store.roll_answers(from, to).await
    }
}

#[async_trait]
impl Family for SampleRoll {
    const NAME: &'static str = "satisfaction_sample";
    const WITH_CALLBACKS: bool = true;
    async fn compute(src: &Source<'_>, from: i64, to: i64) -> Result<Vec<Self>, StoreError> {
        src.store.roll_sample(from, to).await
    }
}

#[async_trait]
impl Family for AttemptRoll {
    const NAME: &'static str = "attempts";
    const WITH_CALLBACKS: bool = true;
    async fn compute(src: &Source<'_>, from: i64, to: i64) -> Result<Vec<Self>, StoreError> {
        let facts = src.store.roll_attempts(from, to).await?;
        if facts.is_empty() {
            return Ok(Vec::new());
        }
        let campaigns: HashMap<i64, Campaign> = src
            .store
            .campaigns()
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let mut rolls: BTreeMap<(CallbackDims, i32), AttemptRoll> = BTreeMap::new();
        for f in facts {
            // A zone the store holds but chrono does not know is read as the operator's, as
            // the dialer reads it when it checks the window.
            let tz: Tz = f.timezone.parse().unwrap_or(src.tz);
            let inside = campaigns.get(&f.dims.campaign_id).is_none_or(|c| {
                chrono::DateTime::from_timestamp_millis(f.at)
                    .is_some_and(|at| c.window.contains_at(at, tz, src.calendar))
            });
            let r = rolls
                .entry((f.dims.clone(), f.attempt_no))
                .or_insert_with(|| AttemptRoll {
                    dims: f.dims.clone(),
                    attempt_no: f.attempt_no,
                    placed: 0,
                    person: 0,
                    machine: 0,
                    responded: 0,
                    first: 0,
                    first_reached: 0,
                    outside_window: 0,
                    first_waits_ms: Vec::new(),
                });
            r.placed += 1;
            r.person += i64::from(f.person);
            r.machine += i64::from(f.machine);
            r.responded += i64::from(f.responded);
            r.outside_window += i64::from(!inside);
            if f.first {
                r.first += 1;
                r.first_reached += i64::from(f.reached);
                r.first_waits_ms.extend(f.since_resolved_ms);
            }
        }
        let mut out: Vec<AttemptRoll> = rolls.into_values().collect();
        for r in &mut out {
            r.first_waits_ms.sort_unstable();
        }
        Ok(out)
    }
}

/// The start of the local day `d`.
fn day_start(tz: Tz, d: NaiveDate) -> Option<i64> {
    crate::tickets::sla::local_to_utc(tz, d.and_time(chrono::NaiveTime::MIN))
        .map(|t| t.timestamp_millis())
}

/// The local date of an instant.
fn date_of(tz: Tz, ms: i64) -> Option<NaiveDate> {
    tz.timestamp_millis_opt(ms).single().map(|t| t.date_naive())
}

/// The local days `[start, end)` that `period` touches, in order.
fn days_of(period: Period, tz: Tz) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let Some(mut day) = date_of(tz, period.from) else {
        return out;
    };
    while let (Some(start), Some(next)) = (day_start(tz, day), day.succ_opt()) {
        if start >= period.to {
            break;
        }
        let Some(end) = day_start(tz, next) else {
            break;
        };
        out.push((start, end));
        day = next;
    }
    out
}

/// Each local day of the period (clipped to it; its start) with its rows: rolled days are
/// read, the others computed.
async fn rows_by_day<F: Family>(
    src: &Source<'_>,
    period: Period,
) -> Result<Vec<(i64, Vec<F>)>, StoreError> {
    let mut rolled: HashMap<i64, String> = HashMap::new();
    if let Some(mark) = src.store.rollup_mark(F::NAME).await?
        && mark.tz == src.tz.name()
    {
        let from = period.from.max(mark.start);
        let to = period.to.min(mark.through);
        if from < to {
            rolled = src
                .store
                .rolled_days(F::NAME, from, to)
                .await?
                .into_iter()
                .collect();
        }
    }
    let mut out = Vec::new();
    for (start, end) in days_of(period, src.tz) {
        let day = Period {
            from: start.max(period.from),
            to: end.min(period.to),
        };
        let whole = day.from == start && day.to == end;
        if whole && let Some(body) = rolled.get(&start) {
            match serde_json::from_str::<Vec<F>>(body) {
                Ok(rows) => {
                    out.push((day.from, rows));
                    continue;
                }
                // Derived data: a day that cannot be read is computed again, not lost.
                Err(e) => tracing::warn!(family = F::NAME, day = start, error = %e,
                    "a rolled-up day could not be read; computing it from the outcomes"),
            }
        }
        out.push((day.from, F::compute(src, day.from, day.to).await?));
    }
    Ok(out)
}

/// The rows of every local day of the period.
async fn rows<F: Family>(src: &Source<'_>, period: Period) -> Result<Vec<F>, StoreError> {
    Ok(rows_by_day(src, period)
        .await?
        .into_iter()
        .flat_map(|(_, rows)| rows)
        .collect())
}

/// How many days of each family one roll-up run rolled.
pub type Rolled = Vec<(&'static str, usize)>;

/// Rolls up every settled day not rolled yet (and the 30 before it again); with `rebuild`,
/// forgets every roll-up first. Safe to run at any time, by several instances at once: a
/// day rolled twice is replaced by the same rows.
pub async fn roll_up(src: &Source<'_>, rebuild: bool) -> Result<Rolled, StoreError> {
    Ok(vec![
        (CallRoll::NAME, roll_family::<CallRoll>(src, rebuild).await?),
        (DueRoll::NAME, roll_family::<DueRoll>(src, rebuild).await?),
        (
            ResolvedRoll::NAME,
            roll_family::<ResolvedRoll>(src, rebuild).await?,
        ),
        (
            AnswerRoll::NAME,
            roll_family::<AnswerRoll>(src, rebuild).await?,
        ),
        (
            SampleRoll::NAME,
            roll_family::<SampleRoll>(src, rebuild).await?,
        ),
        (
            AttemptRoll::NAME,
            roll_family::<AttemptRoll>(src, rebuild).await?,
        ),
    ])
}

/// Forgets every roll-up: reports compute every day from the outcomes until the next
/// `roll_up`.
pub async fn forget(store: &dyn RollupStore) -> Result<(), StoreError> {
    for family in [
        CallRoll::NAME,
        DueRoll::NAME,
        ResolvedRoll::NAME,
        AnswerRoll::NAME,
        SampleRoll::NAME,
        AttemptRoll::NAME,
    ] {
        store.clear_rollup(family).await?;
    }
    Ok(())
}

/// The start of the first day of `F` that is not settled at `src.now`.
async fn settled_through<F: Family>(src: &Source<'_>) -> Result<Option<i64>, StoreError> {
    let mut limit = src.now - SETTLE_MS;
    if F::WITH_CALLBACKS
        && let Some(oldest) = src.store.oldest_unfinished_callback().await?
    {
        limit = limit.min(oldest.max(src.now - REROLL_DAYS * DAY_MS));
    }
    // Days before the one `limit` falls in ended by `limit`.
    Ok(date_of(src.tz, limit).and_then(|d| day_start(src.tz, d)))
}

async fn roll_family<F: Family>(src: &Source<'_>, rebuild: bool) -> Result<usize, StoreError> {
    let tz = src.tz.name();
    let mut mark = src.store.rollup_mark(F::NAME).await?;
    if rebuild || mark.as_ref().is_some_and(|m| m.tz != tz) {
        src.store.clear_rollup(F::NAME).await?;
        mark = None;
    }
    let Some(settled) = settled_through::<F>(src).await? else {
        return Ok(0);
    };
    let (start, through) = match &mark {
        Some(m) => (m.start, m.through),
        None => match src.store.earliest_outcome().await? {
            Some(t) => match date_of(src.tz, t).and_then(|d| day_start(src.tz, d)) {
                Some(s) => (s, s),
                None => return Ok(0),
            },
            None => return Ok(0),
        },
    };
    if settled <= through {
        return Ok(0);
    }
    let again = date_of(src.tz, through - REROLL_DAYS * DAY_MS)
        .and_then(|d| day_start(src.tz, d))
        .map_or(start, |s| s.max(start));
    let days = days_of(
        Period {
            from: again,
            to: settled,
        },
        src.tz,
    );
    for chunk in days.chunks(CHUNK_DAYS) {
        let mut bodies = Vec::with_capacity(chunk.len());
        for &(from, to) in chunk {
            let rows = F::compute(src, from, to).await?;
            let body = serde_json::to_string(&rows)
                .map_err(|e| StoreError::Corrupt(format!("a report roll-up: {e}")))?;
            bodies.push((from, body));
        }
        let end = chunk.last().map_or(through, |&(_, to)| to);
        let next = crate::reports::repo::RollupMark {
            tz: tz.to_string(),
            start,
            through: end.max(through),
        };
        src.store.save_rollup(F::NAME, &next, &bodies).await?;
    }
    Ok(days.len())
}

// What the report builders read.

fn source<'a>(ctx: &ReportCtx<'a>) -> Source<'a> {
    Source {
        store: ctx.store,
        tz: ctx.tz,
        calendar: ctx.calendar,
        now: ctx.now,
    }
}

fn is(want: Option<&str>, have: Option<&str>) -> bool {
    want.is_none_or(|w| have == Some(w))
}

fn in_callback_scope(d: &CallbackDims, s: &CallbackScope<'_>) -> bool {
    s.campaign_id.is_none_or(|c| c == d.campaign_id)
        && s.hotline.is_none_or(|h| h == d.hotline)
        && is(s.ticket_kind, d.ticket_kind.as_deref())
        && is(s.line_kind, d.line_kind.as_deref())
        && is(s.customer_class, d.customer_class.as_deref())
}

fn in_ticket_scope(
    s: &TicketScope<'_>,
    kind: &str,
    class: Option<&str>,
    line: Option<&str>,
) -> bool {
    is(s.kind, Some(kind)) && is(s.line_kind, line) && is(s.customer_class, class)
}

/// Inbound calls per bucket (adjacent `[bounds[i], bounds[i + 1])`, each whole local days),
/// to `hotline` when given, and the queue over all of them.
pub(super) async fn calls(
    ctx: &ReportCtx<'_>,
    bounds: &[i64],
    hotline: Option<&str>,
) -> Result<(Vec<CallTally>, QueueTally), StoreError> {
    let mut tallies = vec![CallTally::default(); bounds.len().saturating_sub(1)];
    let mut queue = QueueTally::default();
    let (Some(&from), Some(&to)) = (bounds.first(), bounds.last()) else {
        return Ok((tallies, queue));
    };
    for (day, rolls) in rows_by_day::<CallRoll>(&source(ctx), Period { from, to }).await? {
        let Some(i) = bounds.windows(2).position(|w| w[0] <= day && day < w[1]) else {
            continue;
        };
        for r in rolls
            .iter()
            .filter(|r| hotline.is_none_or(|h| h == r.hotline))
        {
            tallies[i].add(&r.tally);
            queue.queued += r.queued;
            queue.abandoned += r.abandoned;
            queue.waits_ms.extend_from_slice(&r.waits_ms);
        }
    }
    queue.waits_ms.sort_unstable();
    Ok((tallies, queue))
}

/// Tickets due in the period per kind and class, and times to resolve of those resolved in
/// it, ascending per kind and class.
pub(super) async fn tickets(
    ctx: &ReportCtx<'_>,
    scope: &TicketScope<'_>,
) -> Result<(Vec<DueTally>, Vec<ResolveTime>), StoreError> {
    let src = source(ctx);
    let mut due: BTreeMap<(String, Option<String>), DueTally> = BTreeMap::new();
    for r in rows::<DueRoll>(&src, ctx.period).await? {
        let t = r.tally;
        if !in_ticket_scope(
            scope,
            &t.kind,
            t.customer_class.as_deref(),
            r.line_kind.as_deref(),
        ) {
            continue;
        }
        let sum = due
            .entry((t.kind.clone(), t.customer_class.clone()))
            .or_insert_with(|| DueTally {
                due: 0,
                met: 0,
                breached: 0,
                pending: 0,
                cancelled: 0,
                ..t.clone()
            });
        sum.due += t.due;
        sum.met += t.met;
        sum.breached += t.breached;
        sum.pending += t.pending;
        sum.cancelled += t.cancelled;
    }
    let mut times: BTreeMap<(String, Option<String>), Vec<i64>> = BTreeMap::new();
    for r in rows::<ResolvedRoll>(&src, ctx.period).await? {
        if in_ticket_scope(
            scope,
            &r.kind,
            r.customer_class.as_deref(),
            r.line_kind.as_deref(),
        ) {
            times
                .entry((r.kind, r.customer_class))
                .or_default()
                .extend(r.times_ms);
        }
    }
    let mut resolved = Vec::new();
    for ((kind, customer_class), mut ms) in times {
        ms.sort_unstable();
        resolved.extend(ms.into_iter().map(|ms| ResolveTime {
            kind: kind.clone(),
            customer_class: customer_class.clone(),
            ms,
        }));
    }
    Ok((due.into_values().collect(), resolved))
}

/// Answers of satisfaction campaigns with a satisfaction or "fixed" value, per campaign,
/// ticket kind, line kind, question and value; and the satisfaction callbacks queued.
pub(super) async fn satisfaction(
    ctx: &ReportCtx<'_>,
    scope: &CallbackScope<'_>,
) -> Result<(Vec<AnswerCount>, Vec<SampleCount>), StoreError> {
    let src = source(ctx);
    type AnswerKey = (i64, Option<String>, Option<String>, String, String);
    let mut answers: BTreeMap<AnswerKey, i64> = BTreeMap::new();
    for r in rows::<AnswerRoll>(&src, ctx.period).await? {
        let Some(answer) = r.answer else { continue };
        if r.dims.purpose != "satisfaction" || !in_callback_scope(&r.dims, scope) {
            continue;
        }
        let d = r.dims;
        *answers
            .entry((
                d.campaign_id,
                d.ticket_kind,
                d.line_kind,
                r.question,
                answer,
            ))
            .or_default() += r.callbacks;
    }
    let mut sample: BTreeMap<(Option<String>, Option<String>), SampleCount> = BTreeMap::new();
    for r in rows::<SampleRoll>(&src, ctx.period).await? {
        if !in_callback_scope(&r.dims, scope) {
            continue;
        }
        let d = r.dims;
        let s = sample
            .entry((d.ticket_kind.clone(), d.line_kind.clone()))
            .or_insert_with(|| SampleCount {
                ticket_kind: d.ticket_kind,
                line_kind: d.line_kind,
                sampled: 0,
                reached: 0,
                answered: 0,
            });
        s.sampled += r.sampled;
        s.reached += r.reached;
        s.answered += r.answered;
    }
    let answers = answers
        .into_iter()
        .map(
            |((campaign_id, ticket_kind, line_kind, question, answer), callbacks)| AnswerCount {
                campaign_id,
                ticket_kind,
                line_kind,
                question,
                answer,
                callbacks,
            },
        )
        .collect();
    Ok((answers, sample.into_values().collect()))
}

/// Sample-survey answers per campaign and question, and sample-survey attempts per attempt
/// number.
pub(super) async fn surveys(
    ctx: &ReportCtx<'_>,
    scope: &CallbackScope<'_>,
) -> Result<(Vec<QuestionScore>, Vec<AttemptNoCount>), StoreError> {
    let src = source(ctx);
    let mut scores: BTreeMap<(i64, String), QuestionScore> = BTreeMap::new();
    for r in rows::<AnswerRoll>(&src, ctx.period).await? {
        if r.dims.purpose != "sample_survey" || !in_callback_scope(&r.dims, scope) {
            continue;
        }
        let q = scores
            .entry((r.dims.campaign_id, r.question.clone()))
            .or_insert_with(|| QuestionScore {
                campaign_id: r.dims.campaign_id,
                question: r.question,
                answered: 0,
                scored: 0,
                score_sum: None,
            });
        q.answered += r.callbacks;
        q.scored += r.scored;
        if let Some(s) = r.score_sum {
            q.score_sum = Some(q.score_sum.unwrap_or(0.0) + s);
        }
    }
    let mut attempts: BTreeMap<i32, AttemptNoCount> = BTreeMap::new();
    for r in rows::<AttemptRoll>(&src, ctx.period).await? {
        if r.dims.purpose != "sample_survey" || !in_callback_scope(&r.dims, scope) {
            continue;
        }
        let a = attempts.entry(r.attempt_no).or_insert(AttemptNoCount {
            attempt_no: r.attempt_no,
            placed: 0,
            person: 0,
            responded: 0,
        });
        a.placed += r.placed;
        a.person += r.person;
        a.responded += r.responded;
    }
    Ok((
        scores.into_values().collect(),
        attempts.into_values().collect(),
    ))
}

/// Attempts per campaign (with those outside the calling window), and the waits from
/// resolution to first attempt, ascending per campaign.
pub(super) async fn attempts(
    ctx: &ReportCtx<'_>,
    scope: &CallbackScope<'_>,
) -> Result<(Vec<CampaignAttempts>, Vec<FirstAttemptWait>), StoreError> {
    let mut per: BTreeMap<i64, (CampaignAttempts, Vec<i64>)> = BTreeMap::new();
    for r in rows::<AttemptRoll>(&source(ctx), ctx.period).await? {
        if !in_callback_scope(&r.dims, scope) {
            continue;
        }
        let id = r.dims.campaign_id;
        let (a, waits) = per.entry(id).or_insert_with(|| {
            (
                CampaignAttempts {
                    campaign_id: id,
                    ..CampaignAttempts::default()
                },
                Vec::new(),
            )
        });
        a.callbacks += r.first;
        a.reached += r.first_reached;
        a.attempts += r.placed;
        a.person += r.person;
        a.machine += r.machine;
        a.outside_window += r.outside_window;
        waits.extend(r.first_waits_ms);
    }
    let mut attempts = Vec::new();
    let mut waits = Vec::new();
    for (id, (a, mut ms)) in per {
        attempts.push(a);
        ms.sort_unstable();
        waits.extend(ms.into_iter().map(|ms| FirstAttemptWait {
            campaign_id: id,
            ms,
        }));
    }
    Ok((attempts, waits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_local_and_whole() {
        let tz = chrono_tz::Asia::Shanghai;
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let p = Period::days(d("2026-01-30"), d("2026-02-01"), tz).unwrap();
        let days = days_of(p, tz);
        assert_eq!(days.len(), 3);
        assert_eq!(days[0].0, p.from);
        assert_eq!(days[2].1, p.to);
        assert!(days.windows(2).all(|w| w[0].1 == w[1].0));
        // A period starting mid-day still names the day it starts in.
        let mid = Period {
            from: p.from + 3_600_000,
            to: p.from + 7_200_000,
        };
        assert_eq!(days_of(mid, tz), vec![(p.from, days[0].1)]);
    }
}
