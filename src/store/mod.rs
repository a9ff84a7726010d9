//! The store: every table, every SQL statement, both backends.
//!
//! Rules: SQL lives only under this folder. SQLite (the embedded default, created and
//! migrated on first start) and PostgreSQL (several instances) implement the domain's
//! repository traits (`crate::repo::Store` and the traits it sums) and pass the same
//! conformance tests. A trait's functions are written once, over `db::Backend` (one SQL text,
//! binds of typed values, rows read by column name, the dialects' differences in
//! `db::Dialect`); only the step batch's writers are written per backend, for speed (sharing
//! their plan, `batch`), and SQLite reads accounts and bills on its direct path. Times are epoch milliseconds in `BIGINT` columns on both backends, so comparisons
//! sort correctly and tests can fake the clock.
//! A batch of call steps and status reports (from `crate::calls::writer`) is one
//! transaction.

mod agents;
mod batch;
mod callbacks;
mod calls;
mod customers;
mod db;
mod guesses;
mod pg_batch;
mod pg_kept;
mod postgres;
mod reports_tickets;
mod rollups;
mod sqlite;
mod sqlite_direct;
#[cfg(feature = "testing")]
pub use db::probe;
#[cfg(feature = "testing")]
pub mod synthetic;
mod tickets;

use std::sync::Arc;

// The domain's traits and types the backends implement and speak, named once for the
// submodules (`super::…`).
use crate::agents::repo::AgentStore;
use crate::billing::repo::BillStore;
use crate::callbacks::repo::{AttemptEnd, CallbackNext, CallbackStore};
use crate::calls::repo::CallStore;
use crate::calls::step::{Effect, Milestone, NewCall, StatusEvent, StepOutcome, StepWrite};
use crate::config::{SqliteSynchronous, SqliteWriter, StoreOptions};
use crate::customers::repo::{AccountPage, CustomerStore};
use crate::escalations::repo::EscalationStore;
use crate::lockout::GuessStore;
use crate::repo::{Result, Store, StoreError};
use crate::reports::repo::{
    AnswerRoll, AtRisk, AttemptFact, CallRoll, CallbackDims, DueRoll, ResolvedRoll, RollupMark,
    RollupStore, SampleRoll, TicketReportStore, TicketScope,
};
use crate::tickets::repo::TicketStore;
use crate::webhooks::repo::WebhookStore;

/// A database error, judged: whether the database could not be used at all (unreachable,
/// out of connections or resources, shutting down, locked), or refused what was written.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let outage = match &e {
            sqlx::Error::Database(e) => {
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
            sqlx::Error::Encode(_) => false,
            _ => true,
        };
        StoreError::Database {
            source: Box::new(e),
            outage,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        let outage = match &e {
            rusqlite::Error::SqliteFailure(e, _) => matches!(
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
            ),
            _ => false,
        };
        StoreError::Database {
            source: Box::new(e),
            outage,
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(Box::new(e))
    }
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

/// Opens the store with the default options (see `connect_with`).
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    connect_with(url, &StoreOptions::default()).await
}

/// Opens the store at `url` (`sqlite:path`, `sqlite://path`, `postgres://…`) and migrates
/// it. A SQLite file is created when missing.
pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = if url.starts_with("sqlite:") {
        Arc::new(sqlite::SqliteStore::open(url, options).await?)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Arc::new(postgres::PgStore::open(url, options.pg_max_connections).await?)
    } else {
        return Err(StoreError::UnsupportedUrl);
    };
    store.migrate().await?;
    Ok(store)
}
