//! Locks against guessing a secret: a customer's PIN, an agent's password.
//!
//! Rules:
//! - A guess is counted before it is checked, in one atomic store step that also refuses it
//!   while the lock is on. However many guesses arrive at once, at most `max_failures` are
//!   checked in one lock window; the guess that uses up the budget sets the lock at once.
//! - A right guess clears the count and the lock only if no other guess was counted after
//!   it. A right guess racing wrong ones therefore cannot wipe their count or lift the lock
//!   they set; the one guess that used up the budget may still be right (as it would be, one
//!   at a time).
//! - Every answer but `Right` costs the same one argon2 verification, against a dummy hash
//!   when there is nothing real to check, so the time taken does not tell an unknown
//!   account or login from a wrong secret or a lock. The caller is told the same words for
//!   each; only the stored history says which it was.

use std::future::Future;

use async_trait::async_trait;

use crate::customers::pin;
use crate::repo::Result;

/// What a guess came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The secret was right and the guess stood: the caller is who they said.
    Right,
    /// The secret was wrong; the guess is counted.
    Wrong,
    /// Refused: the lock was on, or was set by other guesses while this one was checked.
    Locked,
    /// Nothing to check against: no such account or login, or no secret set.
    Unknown,
}

impl Verdict {
    /// How the verdict is recorded in a call's history (never what was typed).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Right => "right",
            Verdict::Wrong => "wrong",
            Verdict::Locked => "locked",
            Verdict::Unknown => "unknown",
        }
    }
}

/// An argon2id PHC string with the parameters of new hashes (`pin::M_COST_KIB`, `T_COST`,
/// `P_COST`) and a made-up output: checking against it costs what a real check costs, and
/// no known secret matches it.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=8192,t=2,p=1$\
    cmFuZG9tLWR1bW15LXNhbHQ$0iX6wJ8qXfX9s3ZlQ0m0x3m6N9tT0b4Cq9mD7eR1P2Y";

/// Checks `secret` against `hash` under the lock. `guess` counts the guess and returns its
/// number in the lock window, or `None` when the lock is on; `right(n)` clears the count for
/// guess `n` and says whether it still stood.
pub async fn check<E, G, R>(
    hash: Option<&str>,
    secret: &str,
    guess: impl FnOnce() -> G,
    right: impl FnOnce(i64) -> R,
) -> Result<Verdict, E>
where
    G: Future<Output = Result<Option<i64>, E>>,
    R: Future<Output = Result<bool, E>>,
{
    let Some(hash) = hash else {
        waste(secret).await;
        return Ok(Verdict::Unknown);
    };
    let Some(n) = guess().await? else {
        waste(secret).await;
        return Ok(Verdict::Locked);
    };
    if !pin::verify_secret_async(secret.to_string(), hash.to_string()).await {
        return Ok(Verdict::Wrong);
    }
    Ok(if right(n).await? {
        Verdict::Right
    } else {
        Verdict::Locked
    })
}

/// A verification that cannot succeed, for its time.
async fn waste(secret: &str) {
    pin::verify_secret_async(secret.to_string(), DUMMY_HASH.to_string()).await;
}

/// What the locks need stored: guesses at customers' PINs and agents' passwords, each
/// counted before it is checked.
#[async_trait]
pub trait GuessStore: Send + Sync + 'static {
    /// Counts one PIN guess at the account unless its lock is on: the guess's number in the
    /// lock window, or `None` while locked (or for no such account).
    async fn pin_guess(
        &self,
        account_id: i64,
        max_failures: i64,
        lock_until: i64,
        now: i64,
    ) -> Result<Option<i64>>;
    /// Guess `n` was right: clears the count and the lock, unless another guess was counted
    /// since; whether it stood.
    async fn pin_right(&self, account_id: i64, n: i64) -> Result<bool>;
    /// Counts one password guess at the agent's login, as `pin_guess` counts PINs.
    async fn login_guess(
        &self,
        id: i64,
        max_failures: i64,
        lock_until: i64,
        now: i64,
    ) -> Result<Option<i64>>;
    /// As `pin_right`, for a login.
    async fn login_right(&self, id: i64, n: i64) -> Result<bool>;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};

    use super::*;

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let real = pin::hash("1234").expect("hash");
        let params = |phc: &str| phc.split('$').nth(3).map(str::to_string);
        assert_eq!(params(DUMMY_HASH), params(&real));
        let parsed = argon2::password_hash::phc::PasswordHash::new(DUMMY_HASH).expect("parses");
        assert_eq!(parsed.algorithm, argon2::ARGON2ID_IDENT);
        assert!(!pin::verify("1234", DUMMY_HASH));
    }

    /// A lock kept in memory the way the store keeps it.
    #[derive(Default)]
    struct Counter {
        count: AtomicI64,
    }

    impl Counter {
        async fn guess(&self, max: i64) -> Result<Option<i64>, ()> {
            let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
            Ok((n <= max).then_some(n))
        }
        async fn right(&self, n: i64) -> Result<bool, ()> {
            Ok(self
                .count
                .compare_exchange(n, 0, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok())
        }
    }

    #[tokio::test]
    async fn verdicts() {
        let hash = pin::hash("2468").expect("hash");
        let c = Counter::default();
        let check = |secret: &'static str, hash: Option<String>| {
            let c = &c;
            async move {
                check(hash.as_deref(), secret, || c.guess(3), |n| c.right(n))
                    .await
                    .expect("no store error")
            }
        };
        assert_eq!(check("2468", None).await, Verdict::Unknown);
        assert_eq!(c.count.load(Ordering::SeqCst), 0, "nothing to count");
        assert_eq!(check("1111", Some(hash.clone())).await, Verdict::Wrong);
        assert_eq!(check("2222", Some(hash.clone())).await, Verdict::Wrong);
        // The third guess uses up the budget and is right: it stands, and clears the count.
        assert_eq!(check("2468", Some(hash.clone())).await, Verdict::Right);
        assert_eq!(c.count.load(Ordering::SeqCst), 0);
        for _ in 0..3 {
            assert_eq!(check("9999", Some(hash.clone())).await, Verdict::Wrong);
        }
        // Locked: even the right PIN is refused.
        assert_eq!(check("2468", Some(hash.clone())).await, Verdict::Locked);
    }

    #[tokio::test]
    async fn a_right_guess_overtaken_by_another_is_refused() {
        let hash = pin::hash("2468").expect("hash");
        let counter = Counter::default();
        let c = &counter;
        let v = check(
            Some(&hash),
            "2468",
            || c.guess(3),
            |n| async move {
                // Another guess is counted while this one is checked.
                c.guess(3).await?;
                c.right(n).await
            },
        )
        .await;
        assert_eq!(v, Ok(Verdict::Locked));
        assert_eq!(
            counter.count.load(Ordering::SeqCst),
            2,
            "both guesses still count"
        );
    }
}
