//! Signing in: password checks with a lock after repeated failures, and session tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::{Agent, LOGIN_LOCK_MINUTES, MAX_FAILED_LOGINS};
use crate::customers::pin;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    Ok,
    /// Wrong login or password; the failure is counted. `lock_until` is set when this
    /// failure locks the login.
    Wrong {
        lock_until: Option<i64>,
    },
    /// Locked after too many failures, until then; the password was not checked.
    Locked {
        until: i64,
    },
    /// The account is deactivated.
    Inactive,
}

/// Checks a password against an agent (or against nothing, taking the same time, so the
/// answer's timing does not tell whether the login exists).
pub async fn check(agent: Option<&Agent>, password: &str, now: i64) -> SignIn {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let Some(a) = agent else {
        let dummy = DUMMY
            .get_or_init(|| pin::hash_secret(&new_token()).unwrap_or_default())
            .clone();
        pin::verify_secret_async(password.to_string(), dummy).await;
        return SignIn::Wrong { lock_until: None };
    };
    if let Some(until) = a.locked_until.filter(|u| *u > now) {
        return SignIn::Locked { until };
    }
    let ok = pin::verify_secret_async(password.to_string(), a.password_hash.clone()).await;
    if !ok {
        // A lock that has passed starts the count afresh.
        let failed = if a.locked_until.is_some() {
            1
        } else {
            a.failed_logins + 1
        };
        let lock_until = (failed >= MAX_FAILED_LOGINS).then(|| now + LOGIN_LOCK_MINUTES * 60_000);
        return SignIn::Wrong { lock_until };
    }
    if !a.active {
        return SignIn::Inactive;
    }
    SignIn::Ok
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
