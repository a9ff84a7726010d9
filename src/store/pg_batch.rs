//! PostgreSQL's step batch: a batch of steps and status reports from one instance, written
//! in one transaction with as few round trips as the outcomes allow.
//!
//! Rules: the outcome of every step and report is the one of writing them one by one
//! (`batch` plans it; `store::every_step_writer_stores_the_same` checks it). Each round trip
//! waits for the database's process and then for this one to be scheduled, which on a busy
//! machine costs more than the statement. So the usual batch, where every call appears once
//! and each step and report is new, is one statement in a transaction of its own: one round
//! trip, commit included. It checks its assumptions at its end and fails as a whole when one
//! does not hold (a retried webhook, a call another instance is creating); that batch, and
//! any other, is then written step by step in a transaction, reading what the outcomes need.
//! Batches run on connections of their own (`PgStore::open`), whose statements keep one
//! plan of index lookups, whatever the size of the tables when it was made.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use sqlx::Connection as _;
use sqlx::postgres::{PgArguments, PgConnection};
use sqlx::query::Query;
use sqlx::{Postgres, Row as _};

use super::pg_kept::{self, KeptPool};
use super::{Effect, NewCall, Result, StatusEvent, StepOutcome, StepWrite, batch, calls};
use crate::calls::step::Milestone;

type Tx<'c> = sqlx::Transaction<'c, Postgres>;

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

/// Inserts steps (distinct keys) from the arrays it is given, of the calls found in `$calls`
/// (rows of `id, call_sid`).
macro_rules! insert_steps_from {
    ($unnest:literal, $calls:literal) => {
        concat!(
            "INSERT INTO call_steps (call_id, seq, node, input, said, response, at) \
             SELECT c.id, n.seq, n.node, n.input, n.said, n.response, n.at FROM ",
            $unnest,
            " AS n(call_sid, seq, node, input, said, response, at) JOIN ",
            $calls,
            " c ON c.call_sid = n.call_sid ON CONFLICT (call_id, seq) DO NOTHING"
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

/// The steps alone; returns the keys inserted now.
const INSERT_STEPS: &str = concat!(
    insert_steps_from!(
        "UNNEST($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[], \
         $6::text[], $7::int8[])",
        "calls"
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

/// A whole batch in one statement (see the module's rules), for a batch where every call
/// appears once and no step has survey effects:
///
/// - `$1..$7`: the steps' effects on their calls (see `update_calls`), applied to those that
///   exist at the statement's start;
/// - `$8..$14`: the steps (see `insert_steps_from`), which must be new;
/// - `$15` the status of a started call, `$16..$25` the calls its steps start (sid,
///   direction, from, to, time, and the effects: account, locale, and the three milestones'
///   times or null), each created with its effects when it does not exist yet. Every step's
///   call must exist or be created so;
/// - `$26..$34`: the reports, one per call (sid, direction, from, to, status, time, whether
///   final, duration, sequence): each creates its call, or moves an existing one forward as
///   `calls::status_advances` says. Its call must be one that exists at the statement's start
///   or that it creates.
///
/// The last line fails the statement (SQLSTATE `EXPECTATION_FAILED`) when an expectation
/// does not hold: a step's or report's call is neither in its snapshot nor created by it
/// (unknown, or created meanwhile by another transaction), or a step was recorded before.
static ONE_STATEMENT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH continued AS ({update} RETURNING c.id, c.call_sid), \
         started AS (INSERT INTO calls (call_sid, direction, from_number, to_number, status, \
         started_at, updated_at, account_id, locale, self_served_at, person_at, \
         callback_offered_at) \
         SELECT n.sid, n.direction, n.from_number, n.to_number, $15, n.at, n.at, n.account_id, \
         n.locale, n.self_served, n.person, n.callback_offered \
         FROM UNNEST($16::text[], $17::text[], $18::text[], $19::text[], $20::int8[], \
         $21::int8[], $22::text[], $23::int8[], $24::int8[], $25::int8[]) \
         AS n(sid, direction, from_number, to_number, at, account_id, locale, self_served, \
         person, callback_offered) \
         ON CONFLICT (call_sid) DO NOTHING RETURNING id, call_sid), \
         inserted AS ({steps} RETURNING 1), \
         reported AS (INSERT INTO calls (call_sid, direction, from_number, to_number, status, \
         started_at, ended_at, duration_secs, updated_at) \
         SELECT n.sid, n.direction, n.from_number, n.to_number, n.status, n.at, \
         CASE WHEN n.fin THEN n.at END, CASE WHEN n.fin THEN n.dur END, n.at \
         FROM UNNEST($26::text[], $27::text[], $28::text[], $29::text[], $30::text[], \
         $31::int8[], $32::bool[], $33::int8[]) \
         AS n(sid, direction, from_number, to_number, status, at, fin, dur) \
         ON CONFLICT (call_sid) DO NOTHING RETURNING id, call_sid), \
         known AS (SELECT id, call_sid FROM calls WHERE call_sid = ANY($26)), \
         events AS (INSERT INTO call_events (call_id, status, sequence, at) \
         SELECT c.id, n.status, n.sequence, n.at \
         FROM UNNEST($26::text[], $30::text[], $34::int8[], $31::int8[]) \
         AS n(call_sid, status, sequence, at) \
         JOIN (SELECT id, call_sid FROM reported UNION ALL SELECT id, call_sid FROM known) c \
         ON c.call_sid = n.call_sid ON CONFLICT DO NOTHING), \
         advanced AS (UPDATE calls AS c SET status = u.status, \
         updated_at = GREATEST(c.updated_at, u.at), \
         ended_at = CASE WHEN u.fin THEN u.at ELSE c.ended_at END, \
         duration_secs = CASE WHEN u.fin THEN COALESCE(u.dur, c.duration_secs) \
         ELSE c.duration_secs END \
         FROM UNNEST($26::text[], $30::text[], $31::int8[], $32::bool[], $33::int8[]) \
         AS u(call_sid, status, at, fin, dur) \
         WHERE c.call_sid = u.call_sid AND {advances}) \
         SELECT hotline_batch_as_expected(\
         (SELECT count(*) FROM continued) + (SELECT count(*) FROM started) \
         = cardinality($1::text[]) \
         AND (SELECT count(*) FROM inserted) = cardinality($8::text[]) \
         AND (SELECT count(*) FROM reported) + (SELECT count(*) FROM known) \
         = cardinality($26::text[]))",
        update = update_calls!(),
        steps = insert_steps_from!(
            "UNNEST($8::text[], $9::int4[], $10::text[], $11::text[], $12::text[], \
             $13::text[], $14::int8[])",
            "(SELECT id, call_sid FROM continued UNION ALL SELECT id, call_sid FROM started)"
        ),
        advances = calls::status_advances_sql("c.status", "u.status", "u.fin"),
    )
});

/// The SQLSTATE of `hotline_batch_as_expected` (migration 0015) when an expectation of
/// `ONE_STATEMENT` does not hold.
const EXPECTATION_FAILED: &str = "HLB01";

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

/// Binds the columns of reports that may create their calls: sid, direction, from, to,
/// status, time, whether final, duration. (A slice of references: closures cannot say that
/// the text they return lives as long as the reports.)
fn bind_reports<'q>(q: PgQuery<'q>, reports: &[&'q StatusEvent]) -> PgQuery<'q> {
    q.bind(column(reports, |e| e.call_sid.as_str()))
        .bind(column(reports, |e| e.new_call.direction.as_str()))
        .bind(column(reports, |e| e.new_call.from_number.as_str()))
        .bind(column(reports, |e| e.new_call.to_number.as_str()))
        .bind(column(reports, |e| e.status.as_str()))
        .bind(column(reports, |e| e.at))
        .bind(column(reports, |e| e.is_final))
        .bind(column(reports, |e| e.duration_secs))
}

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
    let at = |m| column(calls, |c| batch::reached(milestones, c.call_sid, m));
    q.bind(column(calls, |c| c.call_sid))
        .bind(column(calls, |c| c.account_id))
        .bind(column(calls, |c| c.locale))
        .bind(column(calls, |c| c.at))
        .bind(at(Milestone::SelfServed))
        .bind(at(Milestone::Person))
        .bind(at(Milestone::CallbackOffered))
}

/// Writes a batch: as one statement when it can (see the module's rules), otherwise, or when
/// that statement finds an expectation broken, step by step in a transaction.
pub(super) async fn commit(
    pool: &Arc<KeptPool>,
    steps: &[StepWrite],
    statuses: &[StatusEvent],
) -> Result<Vec<StepOutcome>> {
    if steps.is_empty() && statuses.is_empty() {
        return Ok(Vec::new());
    }
    let mut conn = pool.get().await?;
    if fits_one_statement(steps, statuses) {
        let done = one_statement(conn.conn(), steps, statuses).await;
        conn.settle(pg_kept::answered(&done));
        match done {
            Ok(()) => return Ok(vec![StepOutcome::Recorded; steps.len()]),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(EXPECTATION_FAILED) => {
                tracing::debug!(
                    steps = steps.len(),
                    reports = statuses.len(),
                    "a batch met a step or call written before; writing it step by step"
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    let outcomes = step_by_step(conn.conn(), steps, statuses).await?;
    // Only a committed transaction leaves the connection ready: after a failure it is closed,
    // which rolls the transaction back at once rather than when the connection is next used.
    conn.settle(true);
    Ok(outcomes)
}

/// Whether `ONE_STATEMENT` can write the batch: every call in it once (a step or a report,
/// so that no row is changed twice in one statement), no survey effects (one statement
/// each), and its steps within one message.
fn fits_one_statement(steps: &[StepWrite], statuses: &[StatusEvent]) -> bool {
    let mut seen = HashSet::new();
    (steps.iter().map(|s| s.call_sid.as_str()))
        .chain(statuses.iter().map(|e| e.call_sid.as_str()))
        .all(|sid| seen.insert(sid))
        && !(steps.iter()).any(|s| s.effects.iter().any(batch::is_survey_effect))
        && steps.iter().map(|s| step_bytes(&s)).sum::<usize>() <= MAX_ARGUMENT_BYTES
}

/// A call a step of the batch starts, with that step's effects.
struct Start<'a> {
    call: &'a NewCall,
    update: batch::CallUpdate<'a>,
}

/// Runs `ONE_STATEMENT` for a batch that `fits_one_statement`: every step recorded now.
async fn one_statement(
    conn: &mut PgConnection,
    steps: &[StepWrite],
    statuses: &[StatusEvent],
) -> std::result::Result<(), sqlx::Error> {
    let all: Vec<usize> = (0..steps.len()).collect();
    let effects = sorted_effects(steps, &all);
    let new_calls: HashMap<&str, &NewCall> = (steps.iter())
        .filter_map(|s| Some((s.call_sid.as_str(), s.new_call.as_ref()?)))
        .collect();
    let started: Vec<Start> = (effects.calls.iter())
        .filter_map(|&update| {
            let call = new_calls.get(update.call_sid)?;
            Some(Start { call, update })
        })
        .collect();
    let ms = &effects.milestones;
    let at = |m| column(&started, |s| batch::reached(ms, s.update.call_sid, m));
    let q = bind_updates(sqlx::query(ONE_STATEMENT.as_str()), &effects.calls, ms);
    let q = bind_steps(q, &steps.iter().collect::<Vec<_>>())
        .bind(calls::STARTED_STATUS)
        .bind(column(&started, |s| s.update.call_sid))
        .bind(column(&started, |s| s.call.direction.as_str()))
        .bind(column(&started, |s| s.call.from_number.as_str()))
        .bind(column(&started, |s| s.call.to_number.as_str()))
        .bind(column(&started, |s| s.update.at))
        .bind(column(&started, |s| s.update.account_id))
        .bind(column(&started, |s| s.update.locale))
        .bind(at(Milestone::SelfServed))
        .bind(at(Milestone::Person))
        .bind(at(Milestone::CallbackOffered));
    let reports: Vec<&StatusEvent> = statuses.iter().collect();
    bind_reports(q, &reports)
        .bind(column(&reports, |e| e.sequence))
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes a batch in a transaction: creates the calls, inserts the steps, reads the stored
/// answers of those recorded before, applies the effects of those recorded now, then the
/// reports.
async fn step_by_step(
    conn: &mut PgConnection,
    steps: &[StepWrite],
    statuses: &[StatusEvent],
) -> Result<Vec<StepOutcome>> {
    let mut tx = conn.begin().await?;
    let (outcomes, surveys) = if steps.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let existing = calls_of_batch(&mut tx, steps).await?;
        let plan = batch::StepPlan::new(steps, &existing);
        record_steps(&mut tx, steps, &plan).await?
    };
    for (e, at) in &surveys {
        super::callbacks::apply_survey_effect(&mut tx, e, *at).await?;
    }
    apply_statuses(&mut tx, statuses).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// The outcome of each step, and the survey effects of those recorded now (applied one
/// statement each, after the calls' effects).
type Recorded<'a> = (Vec<StepOutcome>, Vec<(&'a Effect, i64)>);

/// The batch's effects, their calls sorted so that concurrent batches tend to lock shared
/// calls in the same order; a deadlock that happens anyway is detected by the server and
/// fails one batch.
fn sorted_effects<'a>(steps: &'a [StepWrite], recorded: &[usize]) -> batch::Effects<'a> {
    let mut effects = batch::effects(steps, recorded);
    effects.calls.sort_by(|a, b| a.call_sid.cmp(b.call_sid));
    effects
}

/// Creates the calls the steps start; returns those of the batch that existed before.
async fn calls_of_batch(tx: &mut Tx<'_>, steps: &[StepWrite]) -> Result<HashSet<String>> {
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
async fn record_steps<'a>(
    tx: &mut Tx<'_>,
    steps: &'a [StepWrite],
    plan: &batch::StepPlan,
) -> Result<Recorded<'a>> {
    let inserts: Vec<&StepWrite> = plan.inserts.iter().filter_map(|&i| steps.get(i)).collect();
    let mut keys: HashSet<(String, i32)> = HashSet::new();
    for part in chunks(&inserts, step_bytes) {
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
async fn apply_statuses(tx: &mut Tx<'_>, statuses: &[StatusEvent]) -> Result<()> {
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
    let mut current = HashMap::new();
    for row in bind_reports(sqlx::query(STATUS_REPORTS), &first)
        .bind(&sids)
        .bind(&reported)
        .bind(column(statuses, |e| e.sequence))
        .bind(column(statuses, |e| e.at))
        .fetch_all(&mut **tx)
        .await?
    {
        current.insert(row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?);
    }
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

    fn step(sid: &str, seq: i32, effects: Vec<Effect>) -> StepWrite {
        StepWrite {
            call_sid: sid.into(),
            seq,
            new_call: None,
            node: "menu".into(),
            input: String::new(),
            said: String::new(),
            response: "x".repeat(1000),
            at: 1,
            effects,
        }
    }

    fn report(sid: &str) -> StatusEvent {
        StatusEvent {
            call_sid: sid.into(),
            status: "completed".into(),
            is_final: true,
            sequence: None,
            duration_secs: None,
            at: 1,
            new_call: NewCall {
                direction: "inbound".into(),
                from_number: "a".into(),
                to_number: "b".into(),
            },
        }
    }

    #[test]
    fn a_batch_is_one_statement_when_each_call_appears_once_without_survey_effects() {
        let steps = [step("A", 1, vec![]), step("B", 2, vec![])];
        assert!(fits_one_statement(&steps, &[report("C")]));
        assert!(fits_one_statement(&[], &[report("C"), report("D")]));
        // A call twice: its row would change twice in one statement.
        assert!(!fits_one_statement(&steps, &[report("A")]));
        assert!(!fits_one_statement(&[], &[report("C"), report("C")]));
        assert!(!fits_one_statement(
            &[step("A", 1, vec![]), step("A", 2, vec![])],
            &[]
        ));
        let answer = Effect::OptOut {
            callback_id: 1,
            number: "+8613800000001".into(),
        };
        assert!(!fits_one_statement(&[step("A", 1, vec![answer])], &[]));
        // Larger than one message.
        let many: Vec<StepWrite> = (0..2000)
            .map(|i| step(&format!("CA{i}"), 1, vec![]))
            .collect();
        assert!(!fits_one_statement(&many, &[]));
        assert!(fits_one_statement(&many[..500], &[]));
    }

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
