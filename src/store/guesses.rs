//! Guesses at customers' PINs and agents' passwords, for both backends.
//!
//! Rules: a guess is counted by one conditional `UPDATE` that also refuses it while the lock
//! is on, so the count and the lock are decided atomically in the database however many
//! guesses arrive at once (see `crate::lockout`). The statements are one text for SQLite and
//! PostgreSQL and the functions are written once, over `db::Backend`.

use super::db::{Backend, query};
use super::{GuessStore, Result};

mod sql {
    /// One PIN guess: `$1` account, `$2` now, `$3` max failures, `$4` lock until. Refused (no
    /// row) while a lock is on; a lock that has passed starts the count afresh; the guess that
    /// reaches `$3` sets the lock. (Every expression of a SET sees the row as it was, hence
    /// the repetition.)
    pub const PIN_GUESS: &str = "UPDATE accounts SET \
         pin_failures = CASE WHEN pin_locked_until IS NULL THEN pin_failures + 1 ELSE 1 END, \
         pin_locked_until = CASE \
             WHEN (CASE WHEN pin_locked_until IS NULL THEN pin_failures + 1 ELSE 1 END) >= $3 \
             THEN $4 ELSE NULL END \
         WHERE id = $1 AND (pin_locked_until IS NULL OR pin_locked_until <= $2) \
         RETURNING CAST(pin_failures AS BIGINT)";
    /// Guess `$2` was right: clears the count and the lock, unless another guess was counted
    /// since (no row).
    pub const PIN_RIGHT: &str = "UPDATE accounts SET pin_failures = 0, \
         pin_locked_until = NULL WHERE id = $1 AND pin_failures = $2";
    /// One password guess at an agent's login, as `PIN_GUESS`.
    pub const LOGIN_GUESS: &str = "UPDATE agents SET \
         failed_logins = CASE WHEN locked_until IS NULL THEN failed_logins + 1 ELSE 1 END, \
         locked_until = CASE \
             WHEN (CASE WHEN locked_until IS NULL THEN failed_logins + 1 ELSE 1 END) >= $3 \
             THEN $4 ELSE NULL END, \
         updated_at = $2 \
         WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $2) \
         RETURNING CAST(failed_logins AS BIGINT)";
    pub const LOGIN_RIGHT: &str = "UPDATE agents SET failed_logins = 0, locked_until = NULL \
         WHERE id = $1 AND failed_logins = $2";
}

/// Counts one guess with `statement` (`PIN_GUESS` or `LOGIN_GUESS`).
async fn guess(
    store: &impl Backend,
    statement: &'static str,
    id: i64,
    max_failures: i64,
    lock_until: i64,
    now: i64,
) -> Result<Option<i64>> {
    let mut tx = store.write().await?;
    let n = query(statement)
        .bind(id)
        .bind(now)
        .bind(max_failures)
        .bind(lock_until)
        .scalar_optional(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(n)
}

/// Clears a count with `statement` (`PIN_RIGHT` or `LOGIN_RIGHT`).
async fn right(store: &impl Backend, statement: &'static str, id: i64, n: i64) -> Result<bool> {
    let mut tx = store.write().await?;
    let done = query(statement).bind(id).bind(n).execute(&mut tx).await?;
    tx.commit().await?;
    Ok(done == 1)
}

#[async_trait::async_trait]
impl<B: Backend> GuessStore for B {
    async fn pin_guess(
        &self,
        account_id: i64,
        max_failures: i64,
        lock_until: i64,
        now: i64,
    ) -> Result<Option<i64>> {
        guess(
            self,
            sql::PIN_GUESS,
            account_id,
            max_failures,
            lock_until,
            now,
        )
        .await
    }

    async fn pin_right(&self, account_id: i64, n: i64) -> Result<bool> {
        right(self, sql::PIN_RIGHT, account_id, n).await
    }

    async fn login_guess(
        &self,
        id: i64,
        max_failures: i64,
        lock_until: i64,
        now: i64,
    ) -> Result<Option<i64>> {
        guess(self, sql::LOGIN_GUESS, id, max_failures, lock_until, now).await
    }

    async fn login_right(&self, id: i64, n: i64) -> Result<bool> {
        right(self, sql::LOGIN_RIGHT, id, n).await
    }
}
