//! Signing in: password checks with a lock after repeated failures, and session tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use std::future::Future;

use super::{Agent, LOGIN_LOCK_MINUTES};
use crate::lockout::{self, Verdict};

/// A session as stored: the token itself is only in the browser's cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    pub agent_id: i64,
    /// The token every form of this session must carry.
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A random 32-byte token, URL-safe base64 (43 characters).
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::Rng::fill(&mut rand::rng(), &mut b[..]);
    URL_SAFE_NO_PAD.encode(b)
}

/// How a token is kept in the store.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new session for `agent_id`; returns the token for the cookie and the stored session.
pub fn new_session(agent_id: i64, now: i64, ttl_ms: i64) -> (String, Session) {
    let token = new_token();
    let session = Session {
        token_hash: token_hash(&token),
        agent_id,
        csrf: new_token(),
        created_at: now,
        expires_at: now.saturating_add(ttl_ms),
    };
    (token, session)
}

/// Compares two strings in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// What a sign-in attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    Ok,
    /// Not signed in, and the answer must not say why: an unknown login, a wrong password
    /// and a locked login look the same to the person signing in.
    Refused(Verdict),
    /// The right password of a deactivated agent.
    Inactive,
}

/// When a lock set by a guess at `now` ends.
pub fn lock_until(now: i64) -> i64 {
    now.saturating_add(LOGIN_LOCK_MINUTES * 60_000)
}

/// Checks a password under the login lock (see `crate::lockout`): `guess` counts the guess
/// at the agent's login (`MAX_FAILED_LOGINS`, until `lock_until`), `right` clears it.
pub async fn sign_in<E, G, R>(
    agent: Option<&Agent>,
    password: &str,
    guess: impl FnOnce() -> G,
    right: impl FnOnce(i64) -> R,
) -> Result<SignIn, E>
where
    G: Future<Output = Result<Option<i64>, E>>,
    R: Future<Output = Result<bool, E>>,
{
    let hash = agent.map(|a| a.password_hash.as_str());
    Ok(match lockout::check(hash, password, guess, right).await? {
        Verdict::Right if agent.is_some_and(|a| !a.active) => SignIn::Inactive,
        Verdict::Right => SignIn::Ok,
        refused => SignIn::Refused(refused),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let (t1, s1) = new_session(1, 0, 1000);
        let (t2, _) = new_session(1, 0, 1000);
        assert_ne!(t1, t2);
        assert_eq!(t1.len(), 43);
        assert_eq!(s1.token_hash, token_hash(&t1));
        assert_ne!(s1.token_hash, t1);
        assert_eq!(s1.expires_at, 1000);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
