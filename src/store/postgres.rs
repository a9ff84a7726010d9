//! The PostgreSQL backend, for several service instances sharing one database.
//!
//! Rules: plain READ COMMITTED transactions; anything that counts or moves forward is one
//! conditional `UPDATE` (or a `SELECT … FOR UPDATE` first), so concurrent instances cannot
//! lose an update. Every statement is a network round trip, so a step batch is written with
//! a handful of set-based statements (`UNNEST` of arrays) rather than one per step; only PIN
//! effects, rare and order-dependent, go one statement each.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::customers::{self, By};
use super::db::{self, Backend, Dialect, Pooled, Tx};
use super::{
    AccountPage, BillStore, CallStore, CustomerStore, NewCall, Result, StatusEvent, StepOutcome,
    StepWrite, Store, batch, calls,
};
use crate::billing::Bill;
use crate::calls::CallRecord;
use crate::calls::step::Milestone;
use crate::customers::{Account, AccountWrite};

/// How long a request waits for a connection, connecting (and checking an idle one)
/// included. Under load a connection is free within milliseconds; when the server is down or
/// unreachable every request fails after this, instead of each waiting for its own
/// connection to time out. Webhooks answer within 2 s whatever happens (see
/// `telephony::twilio::webhook::DEADLINE`); this is for everything else.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);
/// A pooled connection idle this long is checked before use (see `PgStore::open`).
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);
/// How long start-up waits for a server that refuses or does not answer (one still
/// starting, say).
const START_PATIENCE: Duration = Duration::from_secs(10);

pub struct PgStore {
    pool: PgPool,
}

fn migrator() -> Migrator {
    super::embedded_migrations(&[
        (
            1,
            "init",
            include_str!("../../migrations/postgres/0001_init.sql"),
        ),
        (
            2,
            "tickets",
            include_str!("../../migrations/postgres/0002_tickets.sql"),
        ),
        (
            3,
            "callbacks",
            include_str!("../../migrations/postgres/0003_callbacks.sql"),
        ),
        (
            4,
            "agents",
            include_str!("../../migrations/postgres/0004_agents.sql"),
        ),
        (
            5,
            "call_outcomes",
            include_str!("../../migrations/postgres/0005_call_outcomes.sql"),
        ),
        (
            6,
            "callback_reports",
            include_str!("../../migrations/postgres/0006_callback_reports.sql"),
        ),
        (
            7,
            "report_rollups",
            include_str!("../../migrations/postgres/0007_report_rollups.sql"),
        ),
        (
            8,
            "call_keys",
            include_str!("../../migrations/postgres/0008_call_keys.sql"),
        ),
        (
            9,
            "deadline_estimated",
            include_str!("../../migrations/postgres/0009_deadline_estimated.sql"),
        ),
        (
            10,
            "one_case_per_matter",
            include_str!("../../migrations/postgres/0010_one_case_per_matter.sql"),
        ),
        (
            11,
            "addresses",
            include_str!("../../migrations/postgres/0011_addresses.sql"),
        ),
        (
            12,
            "hotline_numbers",
            include_str!("../../migrations/postgres/0012_hotline_numbers.sql"),
        ),
        (
            13,
            "calls_fillfactor",
            include_str!("../../migrations/postgres/0013_calls_fillfactor.sql"),
        ),
        (
            14,
            "call_rows_unchecked",
            include_str!("../../migrations/postgres/0014_call_rows_unchecked.sql"),
        ),
    ])
}

impl PgStore {
    /// Connects to `postgres://…`; fails when the server cannot be reached within
    /// `START_PATIENCE`, and at once when it refuses the login or the database.
    ///
    /// A connection idle for `CHECK_IDLE_AFTER` is checked (a round trip) before use: one
    /// that went dead during an outage is then replaced, and one whose check hangs (the
    /// network swallows packets) is dropped when the acquire times out. One used moments ago
    /// is not: under load that check was a round trip per query, for nothing. A connection dropped in the
    /// middle of a query (a webhook past its deadline) is checked by sqlx before it returns to
    /// the pool; through a black hole that check waits for the network, so such connections
    /// come back when it does, without a restart.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= CHECK_IDLE_AFTER {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy(url)?;
        let started = std::time::Instant::now();
        loop {
            match pool.acquire().await {
                Ok(_) => break,
                Err(sqlx::Error::PoolTimedOut) if started.elapsed() < START_PATIENCE => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(PgStore { pool })
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        Ok(self.pool.begin().await?)
    }
}

impl Backend for PgStore {
    const DIALECT: &'static Dialect = &db::POSTGRES;

    async fn read(&self) -> Result<Pooled> {
        Ok(Pooled::Pg(self.pool.acquire().await?))
    }

    async fn write(&self) -> Result<Tx> {
        Ok(Tx::Pg(self.begin_write().await?))
    }
}

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

/// Creates the calls absent so far: `$1..$5` sid, direction, from, to, started at.
const INSERT_CALLS: &str = "INSERT INTO calls (call_sid, direction, from_number, to_number, \
     status, started_at, updated_at) \
     SELECT n.sid, n.direction, n.from_number, n.to_number, $6, n.at, n.at \
     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[]) \
     AS n(sid, direction, from_number, to_number, at) \
     ON CONFLICT (call_sid) DO NOTHING";

/// Inserts steps (distinct keys) of calls that exist; returns the keys inserted now.
const INSERT_STEPS: &str = "INSERT INTO call_steps \
     (call_id, seq, node, input, said, response, at) \
     SELECT c.id, n.seq, n.node, n.input, n.said, n.response, n.at \
     FROM UNNEST($1::text[], $2::int4[], $3::text[], $4::text[], $5::text[], \
     $6::text[], $7::int8[]) AS n(call_sid, seq, node, input, said, response, at) \
     JOIN calls c ON c.call_sid = n.call_sid \
     ON CONFLICT (call_id, seq) DO NOTHING \
     RETURNING (SELECT call_sid FROM calls WHERE calls.id = call_steps.call_id), seq";

const STORED_RESPONSES: &str = "SELECT c.call_sid, s.seq, s.response FROM call_steps s \
     JOIN calls c ON c.id = s.call_id \
     JOIN UNNEST($1::text[], $2::int4[]) AS k(call_sid, seq) \
     ON c.call_sid = k.call_sid AND s.seq = k.seq";

/// A batch's effects on each call it recorded steps of, one new row version per call:
/// `$1..$4` sid, account, locale, latest step time; `$5..$7` the milestones reached (self
/// served, person, callback offered), each at or null, the earliest kept (`LEAST` and
/// `GREATEST` ignore nulls).
const UPDATE_CALLS: &str = "UPDATE calls AS c SET \
     account_id = COALESCE(u.account_id, c.account_id), \
     locale = COALESCE(u.locale, c.locale), \
     updated_at = GREATEST(c.updated_at, u.at), \
     self_served_at = LEAST(c.self_served_at, u.self_served), \
     person_at = LEAST(c.person_at, u.person), \
     callback_offered_at = LEAST(c.callback_offered_at, u.callback_offered) \
     FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::int8[], $5::int8[], $6::int8[], \
     $7::int8[]) AS u(call_sid, account_id, locale, at, self_served, person, callback_offered) \
     WHERE c.call_sid = u.call_sid";

/// Creates the calls status reports are the first news of: `$1..$8` sid, direction, from,
/// to, status, time, whether final, duration (a final report ends the call it creates).
const INSERT_STATUS_CALLS: &str = "INSERT INTO calls (call_sid, direction, from_number, \
     to_number, status, started_at, ended_at, duration_secs, updated_at) \
     SELECT n.sid, n.direction, n.from_number, n.to_number, n.status, n.at, \
     CASE WHEN n.fin THEN n.at END, CASE WHEN n.fin THEN n.dur END, n.at \
     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[], \
     $7::bool[], $8::int8[]) AS n(sid, direction, from_number, to_number, status, at, fin, dur) \
     ON CONFLICT (call_sid) DO NOTHING";

/// Each report once per `(call, status, sequence)` (see `calls::sql::INSERT_EVENT`).
const INSERT_STATUS_EVENTS: &str = "INSERT INTO call_events (call_id, status, sequence, at) \
     SELECT c.id, n.status, n.sequence, n.at \
     FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[]) \
     AS n(call_sid, status, sequence, at) \
     JOIN calls c ON c.call_sid = n.call_sid ON CONFLICT DO NOTHING";

/// The reported calls' statuses, locked in one order until commit, so that concurrent
/// batches (of several instances) fold their reports one after the other.
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

/// A batch's status reports in four statements whatever their number, with the outcome of
/// recording them one by one (`calls::apply_status`): see `batch::fold_statuses`.
async fn apply_statuses(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    statuses: &[StatusEvent],
) -> Result<()> {
    if statuses.is_empty() {
        return Ok(());
    }
    let first = batch::first_reports(statuses);
    sqlx::query(INSERT_STATUS_CALLS)
        .bind(column(&first, |e| e.call_sid.as_str()))
        .bind(column(&first, |e| e.new_call.direction.as_str()))
        .bind(column(&first, |e| e.new_call.from_number.as_str()))
        .bind(column(&first, |e| e.new_call.to_number.as_str()))
        .bind(column(&first, |e| e.status.as_str()))
        .bind(column(&first, |e| e.at))
        .bind(column(&first, |e| e.is_final))
        .bind(column(&first, |e| e.duration_secs))
        .execute(&mut **tx)
        .await?;
    sqlx::query(INSERT_STATUS_EVENTS)
        .bind(
            statuses
                .iter()
                .map(|e| e.call_sid.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            statuses
                .iter()
                .map(|e| e.status.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(column(statuses, |e| e.sequence))
        .bind(column(statuses, |e| e.at))
        .execute(&mut **tx)
        .await?;
    let current: HashMap<String, String> = sqlx::query_as(LOCK_STATUSES)
        .bind(column(&first, |e| e.call_sid.as_str()))
        .fetch_all(&mut **tx)
        .await?
        .into_iter()
        .collect();
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

/// Largest estimated size of one statement's array arguments: a bound on one message, far
/// above a usual batch (a step with its answer is one to two KiB), so a batch is one
/// statement per table.
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

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> Result<()> {
        // sqlx's migrator holds a session advisory lock (`pg_advisory_lock`, keyed by the
        // database's name) from its first look at `_sqlx_migrations` to its last migration:
        // instances starting together migrate once, the others wait and then find nothing to do.
        let mut migrator = migrator();
        // In a rolling deploy, or a rollback, an instance of the previous release may start
        // after a newer one migrated. Migrations are additive (docs/deploy.md), so it runs on
        // the newer schema instead of refusing to start; the checksums of the migrations both
        // releases know are still compared.
        migrator.set_ignore_missing(true);
        migrator.run(&self.pool).await?;
        let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        let newest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        if let Some(newest) = newest.filter(|&n| n > known) {
            tracing::warn!(
                database = newest,
                this_release = known,
                "the database has migrations of a newer release; running on its schema (migrations are additive)"
            );
        }
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

#[async_trait]
impl CustomerStore for PgStore {
    async fn account_by_line(&self, number: &str) -> Result<Option<Account>> {
        customers::fetch_account::<Self>(&mut self.read().await?, By::Line(number)).await
    }

    async fn account_by_no(&self, account_no: &str) -> Result<Option<Account>> {
        customers::fetch_account::<Self>(&mut self.read().await?, By::No(account_no)).await
    }

    async fn account(&self, id: i64) -> Result<Option<Account>> {
        customers::fetch_account::<Self>(&mut self.read().await?, By::Id(id)).await
    }

    async fn list_accounts(&self, after: Option<i64>, limit: i64) -> Result<AccountPage> {
        customers::list_accounts(self, after, limit).await
    }

    async fn put_account(&self, write: &AccountWrite, now: i64) -> Result<Account> {
        customers::put_account(self, write, now).await
    }
}

#[async_trait]
impl BillStore for PgStore {
    async fn bill(&self, account_id: i64) -> Result<Option<Bill>> {
        customers::bill(self, account_id).await
    }
}

#[async_trait]
impl CallStore for PgStore {
    async fn commit(
        &self,
        steps: Vec<StepWrite>,
        statuses: Vec<StatusEvent>,
    ) -> Result<Vec<StepOutcome>> {
        let (steps, statuses) = (steps.as_slice(), statuses.as_slice());
        if steps.is_empty() && statuses.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin_with(BEGIN_BATCH).await?;

        let sids = batch::call_sids(steps);
        let mut existing = HashSet::new();
        for part in chunks(&sids, |sid| text_bytes(sid)) {
            let found: Vec<String> =
                sqlx::query_scalar("SELECT call_sid FROM calls WHERE call_sid = ANY($1)")
                    .bind(part)
                    .fetch_all(&mut *tx)
                    .await?;
            existing.extend(found);
        }
        let plan = batch::StepPlan::new(steps, &existing);

        let created: Vec<_> = (plan.new_calls.iter())
            .filter_map(|&i| batch::new_call(steps, i))
            .collect();
        let call_bytes = |(sid, call, _): &(&str, &NewCall, i64)| {
            text_bytes(sid)
                + text_bytes(&call.direction)
                + text_bytes(&call.from_number)
                + text_bytes(&call.to_number)
                + INT_BYTES
        };
        for part in chunks(&created, call_bytes) {
            sqlx::query(INSERT_CALLS)
                .bind(column(part, |c| c.0))
                .bind(column(part, |c| c.1.direction.as_str()))
                .bind(column(part, |c| c.1.from_number.as_str()))
                .bind(column(part, |c| c.1.to_number.as_str()))
                .bind(column(part, |c| c.2))
                .bind(calls::STARTED_STATUS)
                .execute(&mut *tx)
                .await?;
        }

        let inserts: Vec<&StepWrite> = plan.inserts.iter().filter_map(|&i| steps.get(i)).collect();
        let step_bytes = |s: &&StepWrite| {
            text_bytes(&s.call_sid)
                + text_bytes(&s.node)
                + text_bytes(&s.input)
                + text_bytes(&s.said)
                + text_bytes(&s.response)
                + 2 * INT_BYTES
        };
        let mut keys: HashSet<(String, i32)> = HashSet::new();
        for part in chunks(&inserts, step_bytes) {
            let done: Vec<(String, i32)> = sqlx::query_as(INSERT_STEPS)
                .bind(column(part, |s| s.call_sid.as_str()))
                .bind(column(part, |s| s.seq))
                .bind(column(part, |s| s.node.as_str()))
                .bind(column(part, |s| s.input.as_str()))
                .bind(column(part, |s| s.said.as_str()))
                .bind(column(part, |s| s.response.as_str()))
                .bind(column(part, |s| s.at))
                .fetch_all(&mut *tx)
                .await?;
            keys.extend(done);
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
                .fetch_all(&mut *tx)
                .await?;
            stored.extend(found.into_iter().map(|(sid, seq, r)| ((sid, seq), r)));
        }

        let (outcomes, recorded) = plan.finish(steps, &inserted, &stored)?;
        let mut effects = batch::effects(steps, &recorded);
        // Sorted, so that concurrent batches tend to lock shared calls in the same order;
        // a deadlock that happens anyway is detected by the server and fails one batch.
        effects.calls.sort_by(|a, b| a.call_sid.cmp(b.call_sid));
        let update_bytes = |c: &batch::CallUpdate<'_>| {
            text_bytes(c.call_sid) + text_bytes(c.locale.unwrap_or_default()) + 5 * INT_BYTES
        };
        // Every call with a milestone has an update (`batch::effects`).
        let reached = |c: &batch::CallUpdate<'_>, m: Milestone| {
            (effects.milestones.iter())
                .find(|w| w.call_sid == c.call_sid && w.milestone == m)
                .map(|w| w.at)
        };
        for part in chunks(&effects.calls, update_bytes) {
            sqlx::query(UPDATE_CALLS)
                .bind(column(part, |c| c.call_sid))
                .bind(column(part, |c| c.account_id))
                .bind(column(part, |c| c.locale))
                .bind(column(part, |c| c.at))
                .bind(column(part, |c| reached(c, Milestone::SelfServed)))
                .bind(column(part, |c| reached(c, Milestone::Person)))
                .bind(column(part, |c| reached(c, Milestone::CallbackOffered)))
                .execute(&mut *tx)
                .await?;
        }
        for (e, at) in &effects.surveys {
            super::callbacks::apply_survey_effect(&mut tx, e, *at).await?;
        }
        apply_statuses(&mut tx, statuses).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn step_response(&self, call_sid: &str, seq: i32) -> Result<Option<String>> {
        calls::step_response(self, call_sid, seq).await
    }

    /// Two: while one batch waits for its commit (round trips and the log flush, which
    /// PostgreSQL shares among the transactions committing together), the next is written.
    /// Measured (docs/benchmark.md): 22% more requests a second than one at a time; three or
    /// four gain nothing more.
    fn concurrent_batches(&self) -> usize {
        2
    }

    async fn call(&self, call_sid: &str) -> Result<Option<CallRecord>> {
        calls::call(self, call_sid).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file in `migrations/postgres` is embedded, unchanged: a new file that is not added
    /// to `migrator()` would otherwise never run.
    #[tokio::test]
    async fn embeds_every_migration_file() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
        let on_disk = Migrator::new(dir).await.expect("read migrations");
        let embedded = migrator();
        let key = |m: &sqlx::migrate::Migration| (m.version, m.checksum.to_vec());
        assert_eq!(
            on_disk.iter().map(key).collect::<Vec<_>>(),
            embedded.iter().map(key).collect::<Vec<_>>()
        );
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
