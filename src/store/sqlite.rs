//! The SQLite backend: the embedded default, one file next to the service.
//!
//! Rules: SQLite has one writer at a time, so every write transaction starts with `BEGIN
//! IMMEDIATE` (a deferred transaction that later upgrades to a write fails with SQLITE_BUSY
//! without waiting) and waits its turn through the busy timeout. There are two writer
//! connections: sqlx's pool of exactly one, for everything but the calls' own records, and
//! the direct writer (`sqlite_direct`) for step batches and status reports, the hot path.
//! Reads use separate connections and, thanks to WAL, never wait for a writer.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::customers::{self, By};
use super::db::{self, Backend, Dialect, Pooled, Tx};
use super::sqlite_direct::Direct;
use super::{
    AccountPage, BillStore, CallStore, CustomerStore, Result, StatusEvent, StepOutcome, StepWrite,
    Store, StoreError, batch, calls,
};
use crate::billing::Bill;
use crate::calls::CallRecord;
use crate::customers::{Account, AccountWrite};

/// Readers beside the one writer; WAL lets them all run at once.
const READ_CONNECTIONS: u32 = 8;

pub struct SqliteStore {
    read: SqlitePool,
    write: SqlitePool,
    /// The hot path: account and bill lookups, and step batches.
    direct: Direct,
    /// Whether plain batches go to `direct`.
    writer: super::SqliteWriter,
    checkpointer: tokio::task::AbortHandle,
}

fn migrator() -> Migrator {
    super::embedded_migrations(&[
        (
            1,
            "init",
            include_str!("../../migrations/sqlite/0001_init.sql"),
        ),
        (
            2,
            "tickets",
            include_str!("../../migrations/sqlite/0002_tickets.sql"),
        ),
        (
            3,
            "callbacks",
            include_str!("../../migrations/sqlite/0003_callbacks.sql"),
        ),
        (
            4,
            "agents",
            include_str!("../../migrations/sqlite/0004_agents.sql"),
        ),
        (
            5,
            "call_outcomes",
            include_str!("../../migrations/sqlite/0005_call_outcomes.sql"),
        ),
        (
            6,
            "callback_reports",
            include_str!("../../migrations/sqlite/0006_callback_reports.sql"),
        ),
        (
            7,
            "report_rollups",
            include_str!("../../migrations/sqlite/0007_report_rollups.sql"),
        ),
        (
            8,
            "call_keys",
            include_str!("../../migrations/sqlite/0008_call_keys.sql"),
        ),
        (
            9,
            "deadline_estimated",
            include_str!("../../migrations/sqlite/0009_deadline_estimated.sql"),
        ),
        (
            10,
            "one_case_per_matter",
            include_str!("../../migrations/sqlite/0010_one_case_per_matter.sql"),
        ),
        (
            11,
            "addresses",
            include_str!("../../migrations/sqlite/0011_addresses.sql"),
        ),
        (
            12,
            "hotline_numbers",
            include_str!("../../migrations/sqlite/0012_hotline_numbers.sql"),
        ),
    ])
}

impl SqliteStore {
    /// Opens (creating when missing) the database at `sqlite://path` or `sqlite:path`; every
    /// connection runs with `synchronous` (see `store::SqliteSynchronous`).
    pub async fn open(url: &str, opts: &super::StoreOptions) -> Result<Self> {
        let synchronous = opts.sqlite_synchronous;
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match synchronous {
                super::SqliteSynchronous::Full => SqliteSynchronous::Full,
                super::SqliteSynchronous::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // The writer connects first: it creates the file and switches it to WAL. It does not
        // checkpoint after its commits: a checkpoint syncs the disk, and every step waiting
        // for the writer would wait for that too. `checkpoint_regularly` does it beside.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await?;
        let read = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(options.clone())
            .await?;
        let direct = Direct::open(options.get_filename(), synchronous)?;
        let checkpointer =
            tokio::spawn(checkpoint_regularly(read.clone(), direct.restart_wanted()))
                .abort_handle();
        Ok(SqliteStore {
            read,
            write,
            direct,
            writer: opts.sqlite_writer,
            checkpointer,
        })
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.write.begin_with("BEGIN IMMEDIATE").await?)
    }
}

impl Backend for SqliteStore {
    const DIALECT: &'static Dialect = &db::SQLITE;

    async fn read(&self) -> Result<Pooled> {
        Ok(Pooled::Sqlite(self.read.acquire().await?))
    }

    async fn write(&self) -> Result<Tx> {
        Ok(Tx::Sqlite(self.begin_write().await?))
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.checkpointer.abort();
    }
}

/// How often the write-ahead log is copied into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// Log pages (4 KiB) after which the log is restarted, which briefly holds up the writer.
const RESTART_AFTER_PAGES: i64 = 8192;

/// Keeps the write-ahead log short without stalling the writer: passive checkpoints from a
/// reader copy pages while the writer goes on. They can never catch up with a busy writer, so
/// the log only grows; once it passes `RESTART_AFTER_PAGES`, the direct writer restarts it on
/// its own connection between two batches (from another connection, the restart and the
/// writer would wait for each other through SQLite's busy handler, which sleeps in steps of
/// up to 100 ms).
async fn checkpoint_regularly(read: SqlitePool, restart: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let passive: std::result::Result<(i64, i64, i64), sqlx::Error> =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&read)
                .await;
        match passive {
            Ok((_, log, _)) if log > RESTART_AFTER_PAGES => restart.store(true, Ordering::Relaxed),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "SQLite checkpoint failed; will retry"),
        }
    }
}

/// Batch statements: `$1` is a JSON array of rows, each a JSON array of the columns.
/// The calls among `$1` (call ids) that exist.
const EXISTING_CALLS: &str =
    "SELECT call_sid FROM calls WHERE call_sid IN (SELECT value FROM json_each($1))";
/// Creates the calls absent so far: rows of sid, direction, from, to, started at.
const INSERT_CALLS: &str = "INSERT INTO calls (call_sid, direction, from_number, to_number, \
     status, started_at, updated_at) \
     SELECT value->>0, value->>1, value->>2, value->>3, $2, value->>4, value->>4 \
     FROM json_each($1) WHERE true ON CONFLICT (call_sid) DO NOTHING";
/// Inserts steps (distinct keys) of calls that exist; returns the keys inserted now.
const INSERT_STEPS: &str = "INSERT INTO call_steps \
     (call_id, seq, node, input, said, response, at) \
     SELECT c.id, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6 \
     FROM json_each($1) JOIN calls c ON c.call_sid = value->>0 \
     WHERE true ON CONFLICT (call_id, seq) DO NOTHING \
     RETURNING (SELECT call_sid FROM calls WHERE calls.id = call_steps.call_id), seq";
/// The stored answers of rows of sid and step number.
const STORED_RESPONSES: &str = "SELECT c.call_sid, s.seq, s.response FROM call_steps s \
     JOIN calls c ON c.id = s.call_id \
     JOIN json_each($1) k ON c.call_sid = k.value->>0 AND s.seq = k.value->>1";
/// Rows of sid, account id, locale, time (one row per call).
const UPDATE_CALLS: &str = "UPDATE calls SET \
     account_id = COALESCE(u.value->>1, calls.account_id), \
     locale = COALESCE(u.value->>2, calls.locale), \
     updated_at = MAX(calls.updated_at, u.value->>3) \
     FROM json_each($1) AS u WHERE calls.call_sid = u.value->>0";

fn json(rows: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string(rows).map_err(|e| StoreError::Corrupt(format!("batch to JSON: {e}")))
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        migrator().run(&self.write).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }
}

#[async_trait]
impl CustomerStore for SqliteStore {
    async fn account_by_line(&self, number: &str) -> Result<Option<Account>> {
        self.direct.account(By::Line(number))
    }

    async fn account_by_no(&self, account_no: &str) -> Result<Option<Account>> {
        self.direct.account(By::No(account_no))
    }

    async fn account(&self, id: i64) -> Result<Option<Account>> {
        self.direct.account(By::Id(id))
    }

    async fn list_accounts(&self, after: Option<i64>, limit: i64) -> Result<AccountPage> {
        customers::list_accounts(self, after, limit).await
    }

    async fn put_account(&self, write: &AccountWrite, now: i64) -> Result<Account> {
        customers::put_account(self, write, now).await
    }
}

#[async_trait]
impl BillStore for SqliteStore {
    async fn bill(&self, account_id: i64) -> Result<Option<Bill>> {
        self.direct.bill(account_id)
    }

    async fn account_with_bill(&self, account_id: i64) -> Result<Option<(Account, Option<Bill>)>> {
        self.direct.account_with_bill(account_id)
    }
}

#[async_trait]
impl CallStore for SqliteStore {
    async fn commit(
        &self,
        steps: Vec<StepWrite>,
        statuses: Vec<StatusEvent>,
    ) -> Result<Vec<StepOutcome>> {
        if steps.is_empty() && statuses.is_empty() {
            return Ok(Vec::new());
        }
        // Batches touching callbacks and escalations (survey calls: a few a minute at most)
        // stay on sqlx, whose statements for those are shared with PostgreSQL; the rest, the
        // calls' own records, go to the direct writer.
        let survey = (steps.iter()).any(|s| s.effects.iter().any(batch::is_survey_effect));
        if !survey && self.writer == super::SqliteWriter::Direct {
            return self.direct.commit(steps, statuses).await;
        }
        let (steps, statuses) = (steps.as_slice(), statuses.as_slice());
        // Each statement below handles the whole batch (rows passed as one JSON array), so a
        // batch costs a handful of statements however many steps it carries.
        let mut tx = self.begin_write().await?;
        let sids = batch::call_sids(steps);
        let existing: HashSet<String> = if sids.is_empty() {
            HashSet::new()
        } else {
            sqlx::query_scalar(EXISTING_CALLS)
                .bind(json(&sids)?)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect()
        };
        let plan = batch::StepPlan::new(steps, &existing);

        let created: Vec<_> = (plan.new_calls.iter())
            .filter_map(|&i| batch::new_call(steps, i))
            .map(|(sid, c, at)| (sid, &c.direction, &c.from_number, &c.to_number, at))
            .collect();
        if !created.is_empty() {
            sqlx::query(INSERT_CALLS)
                .bind(json(&created)?)
                .bind(calls::STARTED_STATUS)
                .execute(&mut *tx)
                .await?;
        }

        let inserts: Vec<&StepWrite> = plan.inserts.iter().filter_map(|&i| steps.get(i)).collect();
        let keys: HashSet<(String, i32)> = if inserts.is_empty() {
            HashSet::new()
        } else {
            let rows: Vec<_> = (inserts.iter())
                .map(|s| {
                    (
                        &s.call_sid,
                        s.seq,
                        &s.node,
                        &s.input,
                        &s.said,
                        &s.response,
                        s.at,
                    )
                })
                .collect();
            sqlx::query_as(INSERT_STEPS)
                .bind(json(&rows)?)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect()
        };
        let inserted: Vec<bool> = (inserts.iter())
            .map(|s| keys.contains(&(s.call_sid.clone(), s.seq)))
            .collect();

        let replays = plan.not_inserted(steps, &inserted);
        let stored: HashMap<(String, i32), String> = if replays.is_empty() {
            HashMap::new()
        } else {
            sqlx::query_as::<_, (String, i32, String)>(STORED_RESPONSES)
                .bind(json(&replays)?)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|(sid, seq, r)| ((sid, seq), r))
                .collect()
        };

        let (outcomes, recorded) = plan.finish(steps, &inserted, &stored)?;
        let effects = batch::effects(steps, &recorded);
        if !effects.calls.is_empty() {
            let updates: Vec<_> = (effects.calls.iter())
                .map(|c| (c.call_sid, c.account_id, c.locale, c.at))
                .collect();
            sqlx::query(UPDATE_CALLS)
                .bind(json(&updates)?)
                .execute(&mut *tx)
                .await?;
        }
        super::reports_tickets::apply_milestones(&mut tx, &effects.milestones).await?;
        for (e, at) in &effects.surveys {
            super::callbacks::apply_survey_effect(&mut tx, e, *at).await?;
        }
        for ev in statuses {
            calls::apply_status(&mut tx, Self::DIALECT, ev).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn step_response(&self, call_sid: &str, seq: i32) -> Result<Option<String>> {
        calls::step_response(self, call_sid, seq).await
    }

    async fn call(&self, call_sid: &str) -> Result<Option<CallRecord>> {
        calls::call(self, call_sid).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file in `migrations/sqlite` is embedded, unchanged: a new file that is not added
    /// to `migrator()` would otherwise never run.
    #[tokio::test]
    async fn embeds_every_migration_file() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
        let on_disk = Migrator::new(dir).await.expect("read migrations");
        let embedded = migrator();
        let key = |m: &sqlx::migrate::Migration| (m.version, m.checksum.to_vec());
        assert_eq!(
            on_disk.iter().map(key).collect::<Vec<_>>(),
            embedded.iter().map(key).collect::<Vec<_>>()
        );
    }

    /// Every connection that writes (sqlx's writer and the direct step writer) flushes each
    /// commit to disk by default, so an answered step survives a power loss; `normal` is the
    /// configured exception. Readers follow the same setting.
    #[tokio::test]
    async fn commits_are_flushed_to_disk_unless_configured_otherwise() {
        use crate::config::SqliteSynchronous as Sync;
        for (setting, expected) in [(Sync::default(), 2), (Sync::Full, 2), (Sync::Normal, 1)] {
            let dir = tempfile::tempdir().expect("tmp");
            let url = format!("sqlite://{}/hotline.db", dir.path().display());
            let options = crate::config::StoreOptions {
                sqlite_synchronous: setting,
                ..Default::default()
            };
            let store = SqliteStore::open(&url, &options).await.expect("open");
            let pragma = "PRAGMA synchronous";
            let write: i64 = sqlx::query_scalar(pragma)
                .fetch_one(&store.write)
                .await
                .expect("writer");
            let read: i64 = sqlx::query_scalar(pragma)
                .fetch_one(&store.read)
                .await
                .expect("reader");
            let direct = store
                .direct
                .writer_synchronous()
                .await
                .expect("direct writer");
            let direct_read = store.direct.reader_synchronous().expect("direct reader");
            assert_eq!(
                (write, direct, read, direct_read),
                (expected, expected, expected, expected),
                "{setting:?}: sqlx writer, direct writer, sqlx reader, direct reader"
            );
        }
    }
}
