//! The PostgreSQL backend, for several service instances sharing one database.
//!
//! Rules: plain READ COMMITTED transactions; anything that counts or moves forward is one
//! conditional `UPDATE` (or a `SELECT … FOR UPDATE` first), so concurrent instances cannot
//! lose an update. Every statement is a network round trip, so a step batch is written as
//! one set-based statement (`UNNEST` of arrays, see `pg_batch`), or a handful when it needs
//! the step-by-step path, rather than one per step; only survey effects, rare and
//! order-dependent, go one statement each.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::customers::{self, By};
use super::db::{self, Backend, Dialect, Pooled, Tx};
use super::pg_kept::KeptPool;
use super::{
    AccountPage, BillStore, CallStore, CustomerStore, Result, StatusEvent, StepOutcome, StepWrite,
    Store, calls, pg_batch,
};
use crate::billing::Bill;
use crate::calls::CallRecord;
use crate::customers::{Account, AccountWrite};

/// How long start-up waits for a server that refuses or does not answer (one still
/// starting, say), trying again this often.
const START_PATIENCE: Duration = Duration::from_secs(10);
const RETRY_CONNECT_AFTER: Duration = Duration::from_millis(100);

/// Step batches written at once (see `CallStore::concurrent_batches`), each on its own
/// connection.
const BATCH_CONNECTIONS: u32 = 2;

pub struct PgStore {
    /// Reads and write transactions.
    conns: Arc<KeptPool>,
    /// The step writer's connections.
    batches: Arc<KeptPool>,
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
        (
            15,
            "batch_expectations",
            include_str!("../../migrations/postgres/0015_batch_expectations.sql"),
        ),
    ])
}

impl PgStore {
    /// Connects to `postgres://…`; fails when the server cannot be reached within
    /// `START_PATIENCE`, and at once when it refuses the login or the database.
    ///
    /// Reads and write transactions share up to `max_connections` connections (`pg_kept`),
    /// opened when needed; step batches have `BATCH_CONNECTIONS` more of their own, planned as
    /// below; everything else is planned as PostgreSQL chooses.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self> {
        let options: PgConnectOptions = url.parse()?;
        let conns = KeptPool::new(options.clone(), max_connections);
        let started = std::time::Instant::now();
        loop {
            match conns.get().await {
                Ok(_) => break,
                // Refused or unanswered: a server still starting, say.
                Err(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut)
                    if started.elapsed() < START_PATIENCE =>
                {
                    tokio::time::sleep(RETRY_CONNECT_AFTER).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        // A batch statement finds each call, step and report by a unique key, so the right
        // plan is always an index lookup per row in a nested loop. PostgreSQL plans a
        // prepared statement for its arguments five times, and may then keep a generic plan
        // for the life of the connection: one made while `calls` was small (a new
        // installation, or before its first `ANALYZE`) scans the whole table, and keeps doing
        // so as the table grows (2 ms a batch instead of 40 µs, docs/benchmark.md). Planning
        // every batch for its arguments avoids that but costs half a millisecond of the
        // database's CPU a batch. These connections therefore keep one plan per statement,
        // made without table scans or hash and merge joins, which is right at any size.
        let batches = KeptPool::new(
            options.options([
                ("plan_cache_mode", "force_generic_plan"),
                ("enable_seqscan", "off"),
                ("enable_hashjoin", "off"),
                ("enable_mergejoin", "off"),
            ]),
            BATCH_CONNECTIONS,
        );
        Ok(PgStore { conns, batches })
    }
}

impl Backend for PgStore {
    const DIALECT: &'static Dialect = &db::POSTGRES;

    async fn read(&self) -> Result<Pooled> {
        Ok(Pooled::Pg(self.conns.get().await?))
    }

    async fn write(&self) -> Result<Tx> {
        Ok(Tx::Pg(self.conns.begin().await?))
    }
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
        // A pool of its own, closed afterwards: the migrator takes a pool, not a connection,
        // in a `Send` future.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(self.conns.options().clone())
            .await?;
        migrator.run(&pool).await?;
        let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        let newest: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&pool)
                .await?;
        pool.close().await;
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
        db::query("SELECT 1")
            .execute(&mut Pooled::Pg(self.conns.get().await?))
            .await?;
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

    async fn account_with_bill(&self, account_id: i64) -> Result<Option<(Account, Option<Bill>)>> {
        customers::account_with_bill(self, account_id).await
    }
}

#[async_trait]
impl CallStore for PgStore {
    async fn commit(
        &self,
        steps: Vec<StepWrite>,
        statuses: Vec<StatusEvent>,
    ) -> Result<Vec<StepOutcome>> {
        pg_batch::commit(&self.batches, &steps, &statuses).await
    }

    async fn step_response(&self, call_sid: &str, seq: i32) -> Result<Option<String>> {
        calls::step_response(self, call_sid, seq).await
    }

    /// Two: while one batch waits for its commit (round trips and the log flush, which
    /// PostgreSQL shares among the transactions committing together), the next is written.
    /// Measured (docs/benchmark.md): 22% more requests a second than one at a time; three or
    /// four gain nothing more.
    fn concurrent_batches(&self) -> usize {
        BATCH_CONNECTIONS as usize
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
}
