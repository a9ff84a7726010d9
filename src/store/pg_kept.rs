//! PostgreSQL's connections, kept by hotline instead of sqlx's pool. sqlx (0.9) checks every
//! connection going back to its pool with a round trip of its own: under load that doubled
//! the round trips of a read and held each batch connection for one more round trip after its
//! commit, and through a network that swallows packets the check waits with no deadline,
//! holding its place in the pool.
//!
//! Rules:
//! - At most `size` connections, lent one at a time; getting one (waiting for a free one,
//!   connecting, checking an idle one) takes at most `ACQUIRE_TIMEOUT`.
//! - A connection goes back only when its last statement ended with an answer from the
//!   server (rows, or a database error outside a transaction) or its transaction committed:
//!   `Kept::settle`. One dropped in the middle of a statement (a webhook past its deadline),
//!   or of a transaction, or after a network error, is closed, never lent again; closing it
//!   ends its transaction on the server at once.
//! - One idle for `CHECK_IDLE_AFTER` is checked before it is lent (it may have died during
//!   an outage); one used moments ago is not.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Result;

/// How long getting a connection may take. Under load one is free within milliseconds;
/// when the server is down or unreachable every request fails after this, instead of each
/// waiting for its own connection to time out.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);
/// A connection idle this long is checked (a round trip) before it is lent.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

pub(super) struct KeptPool {
    options: PgConnectOptions,
    idle: Mutex<Vec<(PgConnection, Instant)>>,
    permits: Arc<Semaphore>,
}

/// A lent connection; back to its pool when dropped, if settled.
pub struct Kept {
    conn: Option<PgConnection>,
    pool: Arc<KeptPool>,
    settled: bool,
    _permit: OwnedSemaphorePermit,
}

impl KeptPool {
    /// A pool of at most `size` connections, opened when first needed.
    pub fn new(options: PgConnectOptions, size: u32) -> Arc<Self> {
        Arc::new(KeptPool {
            options,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size.max(1) as usize)),
        })
    }

    /// What its connections connect with.
    pub fn options(&self) -> &PgConnectOptions {
        &self.options
    }

    /// A connection, idle or new, within `ACQUIRE_TIMEOUT`.
    pub async fn get(self: &Arc<Self>) -> sqlx::Result<Kept> {
        tokio::time::timeout(ACQUIRE_TIMEOUT, self.lend())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
    }

    /// A connection in a transaction (`BEGIN` sent): see `Tx`.
    pub async fn begin(self: &Arc<Self>) -> Result<Kept> {
        let mut kept = self.get().await?;
        sqlx::raw_sql("BEGIN").execute(kept.conn()).await?;
        // Left unsettled: dropped before `commit`, the connection is closed.
        Ok(kept)
    }

    async fn lend(self: &Arc<Self>) -> sqlx::Result<Kept> {
        let permit =
            (self.permits.clone().acquire_owned().await).map_err(|_| sqlx::Error::PoolClosed)?;
        loop {
            let idle = lock(&self.idle).pop();
            let Some((mut conn, since)) = idle else { break };
            // A dead one is dropped and the next tried; connecting is the last resort.
            if since.elapsed() < CHECK_IDLE_AFTER || conn.ping().await.is_ok() {
                return Ok(self.lent(conn, permit));
            }
        }
        let conn = PgConnection::connect_with(&self.options).await?;
        Ok(self.lent(conn, permit))
    }

    fn lent(self: &Arc<Self>, conn: PgConnection, permit: OwnedSemaphorePermit) -> Kept {
        Kept {
            conn: Some(conn),
            pool: self.clone(),
            settled: true,
            _permit: permit,
        }
    }
}

impl Kept {
    /// The connection, for a statement: until `settle` says how it ended, the connection is
    /// taken to be in the middle of it.
    pub fn conn(&mut self) -> &mut PgConnection {
        self.settled = false;
        self.conn
            .as_mut()
            .expect("a lent connection is only taken when dropped")
    }

    /// Records how the last statement ended: the connection goes back to the pool only if
    /// the server answered it (see `answered`).
    pub fn settle(&mut self, answered: bool) {
        self.settled = answered;
    }

    /// Commits the transaction `KeptPool::begin` began.
    pub async fn commit(mut self) -> Result<()> {
        let done = sqlx::raw_sql("COMMIT").execute(self.conn()).await;
        self.settle(answered(&done));
        done?;
        Ok(())
    }
}

/// Whether the server answered a statement that ended so: its rows, or an error of its own
/// (a constraint, a failed expectation), after which the connection is ready for the next.
pub(super) fn answered<T>(result: &std::result::Result<T, sqlx::Error>) -> bool {
    matches!(
        result,
        Ok(_) | Err(sqlx::Error::Database(_) | sqlx::Error::RowNotFound)
    )
}

impl Drop for Kept {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.settled
        {
            lock(&self.pool.idle).push((conn, Instant::now()));
        }
    }
}

/// The idle connections stay valid whatever a panicking holder was doing, so a poisoned lock
/// is used as is.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
