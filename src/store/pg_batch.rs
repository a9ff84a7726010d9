//! PostgreSQL's step batch: a batch of steps and status reports from one instance, written
//! in one transaction with as few round trips as the outcomes allow.
//!
//! Rules: the outcome of every step and report is the one of writing them one by one
//! (`batch` plans it; `store::every_step_writer_stores_the_same` checks it). Each round trip
//! waits for the database's process and then for this one to be scheduled, which on a busy
//! machine costs more than the statement, so statements that do not need each other's
//! results go together as one statement (data-modifying `WITH`): a batch of new steps and
//! reports is six round trips, `BEGIN` and `COMMIT` included. A batch that holds a replayed
//! step, or that meets a call another instance is creating, takes a slower path with the
//! same outcome.

use std::collections::{HashMap, HashSet};

use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{Postgres, Row as _};

use super::{
    Effect, NewCall, Result, StatusEvent, StepOutcome, StepWrite, StoreError, batch, calls,
};
use crate::calls::step::Milestone;

type Tx = sqlx::Transaction<'static, Postgres>;

/// Begins a batch's transaction with its statements planned for their arguments.
///
/// sqlx prepares each statement once per connection, and after five runs PostgreSQL may keep
/// one generic plan for it for the life of the connection. A plan made while `calls` was
/// small (a new installation, or before its first `ANALYZE`) scans the whole table, and keeps
/// doing so as the table grows: on a fresh database under load, finding a batch's calls by
/// `CallSid` took 2 ms of a seq scan instead of 40 µs through the unique index, and every
/// batch statement joining `calls` likewise (docs/benchmark.md). Planning each run costs tens
/// of microseconds a statement, and follows the table as it is now. The setting goes with the
/// `BEGIN`, in the same round trip, and ends with the transaction; the reads, lookups by a
/// unique key, keep their cached plans.
const BEGIN_BATCH: &str = "BEGIN; SET LOCAL plan_cache_mode = force_custom_plan";

/// Creates the calls the batch's steps start (`$1..$5` sid, direction, from, to, started at;
/// a call that exists is left alone) and returns the batch's calls (`$7`) that existed
/// before: the statement's snapshot does not see the rows it inserts.
const CALLS_OF_BATCH: &str = "WITH created AS (INSERT INTO calls (call_sid, direction, \
     from_number, to_number, status, started_at, updated_at) \
     SELECT n.sid, n.direction, n.from_number, n.to_number, $6, n.at, n.at \
     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[]) \
     AS n(sid, direction, from_number, to_number, at) \
     ON CONFLICT (call_sid) DO NOTHING) \
     SELECT call_sid FROM calls WHERE call_sid = ANY($7)";

/// Inserts steps (distinct keys) of calls that exist, from the arrays it is given.
macro_rules! insert_steps_from {
    ($unnest:literal) => {
        concat!(
            "INSERT INTO call_steps (call_id, seq, node, input, said, response, at) \
             SELECT c.id, n.seq, n.node, n.input, n.said, n.response, n.at FROM ",
            $unnest,
            " AS n(call_sid, seq, node, input, said, response, at) \
             JOIN calls c ON c.call_sid = n.call_sid \
             ON CONFLICT (call_id, seq) DO NOTHING"
        )
    };
}

/// A batch's effects on each call it recorded steps of, one new row version per call:
/// `$1..$4` sid, account, locale, latest step time; `$5..$7` the milestones reached (self
/// served, person, callback offered), each at or null, the earliest kept (`LEAST` and
/// `GREATEST` ignore nulls).
macro_rules! update_calls {
    () => {
        "UPDATE calls AS c SET \
         account_id = COALESCE(u.account_id, c.account_id), \
         locale = COALESCE(u.locale, c.locale), \
         updated_at = GREATEST(c.updated_at, u.at), \
         self_served_at = LEAST(c.self_served_at, u.self_served), \
         person_at = LEAST(c.person_at, u.person), \
         callback_offered_at = LEAST(c.callback_offered_at, u.callback_offered) \
         FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::int8[], $5::int8[], $6::int8[], \
         $7::int8[]) AS u(call_sid, account_id, locale, at, self_served, person, \
         callback_offered) WHERE c.call_sid = u.call_sid"
    };
}

/// The steps (`$8..$14`) and their effects on the calls (`$1..$7`, see `update_calls`) in
/// one statement, for a batch whose steps are all expected to be new; returns how many steps
/// were inserted. Fewer than given means a step was recorded before, and its effects must not
/// be applied again: the transaction is then abandoned.
const STEPS_WITH_EFFECTS: &str = concat!(
    "WITH effects AS (",
    update_calls!(),
    "), inserted AS (",
    insert_steps_from!(
        "UNNEST($8::text[], $9::int4[], $10::text[], $11::text[], $12::text[], \
         $13::text[], $14::int8[])"
    ),
    " RETURNING 1) SELECT count(*) FROM inserted"
);

/// The steps alone; returns the keys inserted now.
const INSERT_STEPS: &str = concat!(
    insert_steps_from!(
        "UNNEST($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::int8[])"
    ),
    " RETURNING (SELECT call_sid FROM calls WHERE calls.id = call_steps.call_id), seq"
);

const UPDATE_CALLS: &str = update_calls!();

const STORED_RESPONSES: &str = "SELECT c.call_sid, s.seq, s.response FROM call_steps s \
     JOIN calls c ON c.id = s.call_id \
     JOIN UNNEST($1::text[], $2::int4[]) AS k(call_sid, seq) \
     ON c.call_sid = k.call_sid AND s.seq = k.seq";

/// A batch's reports in one statement: creates the calls they are the first news of
/// (`$1..$8` of each call's first report: sid, direction, from, to, status, time, whether
/// final, duration; a final report ends the call it creates), stores each report once per
/// `(call, status, sequence)` (`$9..$12` sid, status, sequence, time), and returns the
/// calls' statuses, locked in one order until commit so that concurrent batches (of several
/// instances) fold their reports one after the other.
///
/// The statement sees the calls as of its start, with the ones it creates. A call another
/// instance created meanwhile is in neither: its reports are then stored by
/// `INSERT_STATUS_EVENTS` and its status read by `LOCK_STATUSES`, whose snapshots are later.
const STATUS_REPORTS: &str = "WITH created AS (INSERT INTO calls (call_sid, direction, \
     from_number, to_number, status, started_at, ended_at, duration_secs, updated_at) \
     SELECT n.sid, n.direction, n.from_number, n.to_number, n.status, n.at, \
     CASE WHEN n.fin THEN n.at END, CASE WHEN n.fin THEN n.dur END, n.at \
     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], \
     $7::bool[], $8::int8[]) AS n(sid, direction, from_number, to_number, status, at, fin, dur) \
     ON CONFLICT (call_sid) DO NOTHING RETURNING id, call_sid, status), \
     events AS (INSERT INTO call_events (call_id, status, sequence, at) \
     SELECT COALESCE(cr.id, c.id), n.status, n.sequence, n.at \
     FROM UNNEST($9::text[], $10::text[], $11::int8[], $12::int8[]) \
     AS n(call_sid, status, sequence, at) \
     LEFT JOIN created cr ON cr.call_sid = n.call_sid \
     LEFT JOIN calls c ON c.call_sid = n.call_sid \
     WHERE cr.id IS NOT NULL OR c.id IS NOT NULL ON CONFLICT DO NOTHING), \
     locked AS (SELECT call_sid, status FROM calls WHERE call_sid = ANY($1) \
     ORDER BY call_sid FOR UPDATE) \
     SELECT call_sid, status FROM locked UNION ALL SELECT call_sid, status FROM created";

/// Each report once per `(call, status, sequence)` (see `calls::sql::INSERT_EVENT`).
const INSERT_STATUS_EVENTS: &str = "INSERT INTO call_events (call_id, status, sequence, at) \
     SELECT c.id, n.status, n.sequence, n.at \
     FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[]) \
     AS n(call_sid, status, sequence, at) \
     JOIN calls c ON c.call_sid = n.call_sid ON CONFLICT DO NOTHING";

/// The reported calls' statuses, locked in one order until commit.
const LOCK_STATUSES: &str = "SELECT call_sid, status FROM calls WHERE call_sid = ANY($1) \
     ORDER BY call_sid FOR UPDATE";

/// Applies `batch::StatusFold`s: `$1..$6` sid, status, latest time, whether ended, end time,
/// duration.
const UPDATE_STATUSES: &str = "UPDATE calls AS c SET status = u.status, \
     updated_at = GREATEST(c.updated_at, u.at), \
     ended_at = CASE WHEN u.fin THEN u.ended_at ELSE c.ended_at END, \
     duration_secs = CASE WHEN u.fin THEN COALESCE(u.dur, c.duration_secs) \
     ELSE c.duration_secs END \
     FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::bool[], $5::int8[], $6::int8[]) \
     AS u(call_sid, status, at, fin, ended_at, dur) \
     WHERE c.call_sid = u.call_sid";

/// Largest estimated size of one statement's array arguments: a bound on one message, far
/// above a usual batch (a step with its answer is one to two KiB), so a batch's steps are
/// one statement.
///
/// It was 8 KiB under sqlx 0.9.0, which left Nagle's algorithm on for TCP
/// (transact-rs/sqlx#4335): a message larger than the socket's initial send buffer waited
/// about 40 ms for the server's delayed ACK, and a 64-step batch took a dozen round trips
/// to avoid it. sqlx 0.9.1 sets TCP_NODELAY (#4336).
const MAX_ARGUMENT_BYTES: usize = 1024 * 1024;

/// Encoded size of an array element: a length word and the value.
fn text_bytes(s: &str) -> usize {
    4 + s.len()
}
const INT_BYTES: usize = 4 + 8;

fn step_bytes(s: &&StepWrite) -> usize {
    text_bytes(&s.call_sid)
        + text_bytes(&s.node)
        + text_bytes(&s.input)
        + text_bytes(&s.said)
        + text_bytes(&s.response)
        + 2 * INT_BYTES
}

fn update_bytes(c: &batch::CallUpdate<'_>) -> usize {
    text_bytes(c.call_sid) + text_bytes(c.locale.unwrap_or_default()) + 5 * INT_BYTES
}

/// `items` split into runs whose estimated argument size stays within `MAX_ARGUMENT_BYTES`
/// (a single larger item is a run of its own).
fn chunks<T>(items: &[T], size: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        let n = size(item);
        if i > start && bytes + n > MAX_ARGUMENT_BYTES {
            out.push(&items[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += n;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

/// One column of `items`, to bind as an array.
fn column<T, U>(items: &[T], f: impl Fn(&T) -> U) -> Vec<U> {
    items.iter().map(f).collect()
}

type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

/// Binds the steps' columns (see `insert_steps_from`).
fn bind_steps<'q>(q: PgQuery<'q>, steps: &[&'q StepWrite]) -> PgQuery<'q> {
    q.bind(column(steps, |s| s.call_sid.as_str()))
        .bind(column(steps, |s| s.seq))
        .bind(column(steps, |s| s.node.as_str()))
        .bind(column(steps, |s| s.input.as_str()))
        .bind(column(steps, |s| s.said.as_str()))
        .bind(column(steps, |s| s.response.as_str()))
        .bind(column(steps, |s| s.at))
}

/// Binds the calls' updates (see `update_calls`) with the milestones each reached.
fn bind_updates<'q>(
    q: PgQuery<'q>,
    calls: &[batch::CallUpdate<'q>],
    milestones: &[batch::MilestoneWrite<'_>],
) -> PgQuery<'q> {
    let reached = |c: &batch::CallUpdate<'_>, m: Milestone| {
        (milestones.iter())
            .find(|w| w.call_sid == c.call_sid && w.milestone == m)
            .map(|w| w.at)
    };
    q.bind(column(calls, |c| c.call_sid))
        .bind(column(calls, |c| c.account_id))
        .bind(column(calls, |c| c.locale))
        .bind(column(calls, |c| c.at))
        .bind(column(calls, |c| reached(c, Milestone::SelfServed)))
        .bind(column(calls, |c| reached(c, Milestone::Person)))
        .bind(column(calls, |c| reached(c, Milestone::CallbackOffered)))
}

/// Writes a batch, expecting its steps to be new; when one turns out to be a replay the
/// first transaction is abandoned and the batch written again, reading each step's outcome
/// before applying effects.
pub(super) async fn commit(
    pool: &sqlx::PgPool,
    steps: &[StepWrite],
    statuses: &[StatusEvent],
) -> Result<Vec<StepOutcome>> {
    if steps.is_empty() && statuses.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(outcomes) = write(pool, steps, statuses, true).await? {
        return Ok(outcomes);
    }
    tracing::debug!(
        steps = steps.len(),
        "a batch holds a step recorded before; writing it again step by step"
    );
    write(pool, steps, statuses, false)
        .await?
        .ok_or_else(|| StoreError::Corrupt("a careful batch gave no outcome".into()))
}

/// One try at a batch: `None` when `expect_new` and a step was recorded before (nothing is
/// committed then).
async fn write(
    pool: &sqlx::PgPool,
    steps: &[StepWrite],
    statuses: &[StatusEvent],
    expect_new: bool,
) -> Result<Option<Vec<StepOutcome>>> {
    let mut tx = pool.begin_with(BEGIN_BATCH).await?;
    let (outcomes, surveys) = if steps.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        match record_steps(&mut tx, steps, expect_new).await? {
            Some(recorded) => recorded,
            None => return Ok(None),
        }
    };
    for (e, at) in &surveys {
        super::callbacks::apply_survey_effect(&mut tx, e, *at).await?;
    }
    apply_statuses(&mut tx, statuses).await?;
    tx.commit().await?;
    Ok(Some(outcomes))
}

/// The outcome of each step, and the survey effects of those recorded now (applied one
/// statement each, after the calls' effects).
type Recorded<'a> = (Vec<StepOutcome>, Vec<(&'a Effect, i64)>);

/// Records the steps and applies the effects on the calls of those recorded now, or returns
/// `None` when `expect_new` and one was recorded before.
async fn record_steps<'a>(
    tx: &mut Tx,
    steps: &'a [StepWrite],
    expect_new: bool,
) -> Result<Option<Recorded<'a>>> {
    let existing = calls_of_batch(tx, steps).await?;
    let plan = batch::StepPlan::new(steps, &existing);
    let inserts: Vec<&StepWrite> = plan.inserts.iter().filter_map(|&i| steps.get(i)).collect();
    if !expect_new || chunks(&inserts, step_bytes).len() > 1 {
        return steps_then_effects(tx, steps, &plan, &inserts)
            .await
            .map(Some);
    }
    // As if every step were inserted now; checked below.
    let (outcomes, recorded) = plan.finish(steps, &vec![true; inserts.len()], &HashMap::new())?;
    let effects = sorted_effects(steps, &recorded);
    let q = bind_updates(
        sqlx::query(STEPS_WITH_EFFECTS),
        &effects.calls,
        &effects.milestones,
    );
    let n: i64 = bind_steps(q, &inserts)
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
    Ok((usize::try_from(n).ok() == Some(inserts.len())).then_some((outcomes, effects.surveys)))
}

/// The batch's effects, their calls sorted so that concurrent batches tend to lock shared
/// calls in the same order; a deadlock that happens anyway is detected by the server and
/// fails one batch.
fn sorted_effects<'a>(steps: &'a [StepWrite], recorded: &[usize]) -> batch::Effects<'a> {
    let mut effects = batch::effects(steps, recorded);
    effects.calls.sort_by(|a, b| a.call_sid.cmp(b.call_sid));
    effects
}

/// Creates the calls the steps start; returns those of the batch that existed before.
async fn calls_of_batch(tx: &mut Tx, steps: &[StepWrite]) -> Result<HashSet<String>> {
    // The first step that starts each call: the one `StepPlan` creates it with, when it is
    // absent (when it exists, the insert does nothing).
    let mut seen = HashSet::new();
    let starts: Vec<(&str, &NewCall, i64)> = (0..steps.len())
        .filter_map(|i| batch::new_call(steps, i))
        .filter(|(sid, _, _)| seen.insert(*sid))
        .collect();
    let found: Vec<String> = sqlx::query_scalar(CALLS_OF_BATCH)
        .bind(column(&starts, |c| c.0))
        .bind(column(&starts, |c| c.1.direction.as_str()))
        .bind(column(&starts, |c| c.1.from_number.as_str()))
        .bind(column(&starts, |c| c.1.to_number.as_str()))
        .bind(column(&starts, |c| c.2))
        .bind(calls::STARTED_STATUS)
        .bind(batch::call_sids(steps))
        .fetch_all(&mut **tx)
        .await?;
    Ok(found.into_iter().collect())
}

/// Inserts the steps, reads the stored answers of those recorded before, then applies the
/// effects on the calls of the ones recorded now.
async fn steps_then_effects<'a>(
    tx: &mut Tx,
    steps: &'a [StepWrite],
    plan: &batch::StepPlan,
    inserts: &[&StepWrite],
) -> Result<Recorded<'a>> {
    let mut keys: HashSet<(String, i32)> = HashSet::new();
    for part in chunks(inserts, step_bytes) {
        for row in bind_steps(sqlx::query(INSERT_STEPS), part)
            .fetch_all(&mut **tx)
            .await?
        {
            keys.insert((row.try_get(0)?, row.try_get(1)?));
        }
    }
    let inserted: Vec<bool> = (inserts.iter())
        .map(|s| keys.contains(&(s.call_sid.clone(), s.seq)))
        .collect();

    let replays = plan.not_inserted(steps, &inserted);
    let mut stored = HashMap::new();
    for part in chunks(&replays, |k| text_bytes(k.0) + INT_BYTES) {
        let found: Vec<(String, i32, String)> = sqlx::query_as(STORED_RESPONSES)
            .bind(column(part, |k| k.0))
            .bind(column(part, |k| k.1))
            .fetch_all(&mut **tx)
            .await?;
        stored.extend(found.into_iter().map(|(sid, seq, r)| ((sid, seq), r)));
    }

    let (outcomes, recorded) = plan.finish(steps, &inserted, &stored)?;
    let effects = sorted_effects(steps, &recorded);
    for part in chunks(&effects.calls, update_bytes) {
        bind_updates(sqlx::query(UPDATE_CALLS), part, &effects.milestones)
            .execute(&mut **tx)
            .await?;
    }
    Ok((outcomes, effects.surveys))
}

/// A batch's status reports in two statements whatever their number, with the outcome of
/// recording them one by one (`calls::apply_status`): see `batch::fold_statuses`.
async fn apply_statuses(tx: &mut Tx, statuses: &[StatusEvent]) -> Result<()> {
    if statuses.is_empty() {
        return Ok(());
    }
    let first = batch::first_reports(statuses);
    fn sid<'a>(e: &&'a StatusEvent) -> &'a str {
        e.call_sid.as_str()
    }
    // Closures cannot say that the text they return lives as long as the reports.
    let sids: Vec<&str> = statuses.iter().map(|e| e.call_sid.as_str()).collect();
    let reported: Vec<&str> = statuses.iter().map(|e| e.status.as_str()).collect();
    let mut current: HashMap<String, String> = sqlx::query_as(STATUS_REPORTS)
        .bind(column(&first, sid))
        .bind(column(&first, |e| e.new_call.direction.as_str()))
        .bind(column(&first, |e| e.new_call.from_number.as_str()))
        .bind(column(&first, |e| e.new_call.to_number.as_str()))
        .bind(column(&first, |e| e.status.as_str()))
        .bind(column(&first, |e| e.at))
        .bind(column(&first, |e| e.is_final))
        .bind(column(&first, |e| e.duration_secs))
        .bind(&sids)
        .bind(&reported)
        .bind(column(statuses, |e| e.sequence))
        .bind(column(statuses, |e| e.at))
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect();
    if first.iter().any(|e| !current.contains_key(&e.call_sid)) {
        // A call created by another transaction after the statement began: both statements
        // below are idempotent, and see it.
        sqlx::query(INSERT_STATUS_EVENTS)
            .bind(&sids)
            .bind(&reported)
            .bind(column(statuses, |e| e.sequence))
            .bind(column(statuses, |e| e.at))
            .execute(&mut **tx)
            .await?;
        current = sqlx::query_as(LOCK_STATUSES)
            .bind(column(&first, sid))
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
    }
    let folds = batch::fold_statuses(statuses, &current);
    if folds.is_empty() {
        return Ok(());
    }
    let ended = |f: &batch::StatusFold<'_>| f.ended.map(|(at, _)| at);
    sqlx::query(UPDATE_STATUSES)
        .bind(column(&folds, |f| f.call_sid))
        .bind(column(&folds, |f| f.status))
        .bind(column(&folds, |f| f.at))
        .bind(column(&folds, |f| f.ended.is_some()))
        .bind(column(&folds, ended))
        .bind(column(&folds, |f| f.ended.and_then(|(_, d)| d)))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_stay_within_the_argument_budget() {
        let u = MAX_ARGUMENT_BYTES / 8192;
        let sizes = [3000, 3000, 3000, 9000, 100, 8000, 200];
        let parts = chunks(&sizes, |n| *n * u);
        assert_eq!(
            parts,
            [&[3000, 3000][..], &[3000], &[9000], &[100, 8000], &[200]]
        );
        assert!(chunks(&[] as &[usize], |n| *n).is_empty());
    }
}
