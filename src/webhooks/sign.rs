//! Standard Webhooks signatures (<https://www.standardwebhooks.com>).
//!
//! Rules:
//! - A secret is `whsec_` followed by base64 of 32 random bytes; the HMAC key is those bytes.
//! - Every request carries `webhook-id` (`evt_<event id>`, the same on every retry, so a
//!   receiver can drop repeats), `webhook-timestamp` (unix seconds of this attempt) and
//!   `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
//! - Receivers verify over the raw body bytes, in constant time, and refuse timestamps
//!   outside a tolerance (replays). `verify` does exactly that and is what tests use; any
//!   Standard Webhooks library does the same.
//!
//! Receiver sketch (Rust, with this crate):
//!
//! ```
//! use hotline::webhooks::sign;
//! let secret = sign::new_secret();
//! let body = br#"{"id":"evt_1"}"#;
//! let signature = sign::sign(&secret, "evt_1", 1_780_272_000, body);
//! assert!(sign::verify_parts(
//!     &secret, "evt_1", "1780272000", &signature, body, 1_780_272_010, sign::DEFAULT_TOLERANCE_SECS
//! ));
//! ```

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of every secret.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret.
pub const SECRET_BYTES: usize = 32;
/// Header names.
pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// How far a timestamp may be from the receiver's clock (the Standard Webhooks default).
pub const DEFAULT_TOLERANCE_SECS: i64 = 5 * 60;

/// A fresh secret: `whsec_` + base64 of 32 random bytes.
pub fn new_secret() -> String {
    let mut key = [0u8; SECRET_BYTES];
    rand::Rng::fill(&mut rand::rng(), &mut key[..]);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The HMAC key of a secret: the base64-decoded part after `whsec_`. A secret that is not
/// valid base64 (never one made by `new_secret`) is used as raw bytes, as several Standard
/// Webhooks libraries do.
fn key(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    STANDARD
        .decode(encoded)
        .unwrap_or_else(|_| encoded.as_bytes().to_vec())
}

fn mac(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC hashes over-long keys and pads short ones, so every length is accepted.
    let mut mac = HmacSha256::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value for `body` sent as message `id` at `timestamp` (unix
/// seconds): `v1,<base64 HMAC-SHA256>`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = mac(&key(secret), id, &timestamp.to_string(), body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Whether a request's headers sign `body` under `secret`, with a timestamp within
/// `tolerance_secs` of `now_secs` (unix seconds).
pub fn verify(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match (get(HEADER_ID), get(HEADER_TIMESTAMP), get(HEADER_SIGNATURE)) {
        (Some(id), Some(ts), Some(sig)) => {
            verify_parts(secret, id, ts, sig, body, now_secs, tolerance_secs)
        }
        _ => false,
    }
}

/// `verify` on the three header values. `signature` may hold several space-separated
/// signatures (during a secret rotation); one valid `v1` signature is enough. Comparisons
/// are constant-time.
pub fn verify_parts(
    secret: &str,
    id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> bool {
    let Ok(ts) = timestamp.trim().parse::<i64>() else {
        return false;
    };
    if now_secs.abs_diff(ts) > tolerance_secs.unsigned_abs() {
        return false;
    }
    let key = key(secret);
    // Every candidate is checked, so the time taken does not reveal which one matched.
    signature
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| STANDARD.decode(s).ok())
        .fold(false, |ok, expected| {
            mac(&key, id, timestamp.trim(), body)
                .verify_slice(&expected)
                .is_ok()
                | ok
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// The Standard Webhooks specification's own example, checked independently with
    /// python3: `base64.b64encode(hmac.new(base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    /// b'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}', hashlib.sha256)
    /// .digest())` → `g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=`.
    #[test]
    fn matches_the_standard_webhooks_vector() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let sig = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify_parts(
            secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            &sig,
            body,
            1_614_265_330,
            DEFAULT_TOLERANCE_SECS
        ));
    }

    /// Key bytes 0..24; computed with python3:
    /// `k = bytes(range(24))`, `"whsec_" + base64.b64encode(k)` →
    /// `whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX`, and
    /// `base64.b64encode(hmac.new(k, b'evt_42.1780272000.{"id":"evt_42"}', hashlib.sha256)
    /// .digest())` → `NzRdQfZEW4MWwyR5yQtUN87u3CNNCiZmWCp4BcaD8d4=`.
    #[test]
    fn matches_a_python_computed_vector() {
        let secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";
        assert_eq!(
            sign(secret, "evt_42", 1_780_272_000, br#"{"id":"evt_42"}"#),
            "v1,NzRdQfZEW4MWwyR5yQtUN87u3CNNCiZmWCp4BcaD8d4="
        );
    }

    #[test]
    fn new_secrets_are_prefixed_random_and_long_enough() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        let key = STANDARD
            .decode(a.strip_prefix(SECRET_PREFIX).expect("prefix"))
            .expect("base64");
        assert_eq!(key.len(), SECRET_BYTES);
        assert!(key.len() >= 24);
    }

    fn headers(id: &str, ts: i64, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = |s: &str| HeaderValue::from_str(s).expect("header");
        h.insert(HEADER_ID, v(id));
        h.insert(HEADER_TIMESTAMP, v(&ts.to_string()));
        h.insert(HEADER_SIGNATURE, v(sig));
        h
    }

    #[test]
    fn verify_refuses_tampering_wrong_secrets_and_stale_timestamps() {
        let secret = new_secret();
        let body = br#"{"id":"evt_7","type":"ticket.opened"}"#;
        let ts = 1_780_272_000;
        let sig = sign(&secret, "evt_7", ts, body);
        let tol = DEFAULT_TOLERANCE_SECS;
        assert!(verify(&secret, &headers("evt_7", ts, &sig), body, ts, tol));
        assert!(verify(
            &secret,
            &headers("evt_7", ts, &sig),
            body,
            ts + tol,
            tol
        ));
        // Another body, id, timestamp or secret does not verify.
        assert!(!verify(
            &secret,
            &headers("evt_7", ts, &sig),
            b"{}",
            ts,
            tol
        ));
        assert!(!verify(&secret, &headers("evt_8", ts, &sig), body, ts, tol));
        assert!(!verify(
            &secret,
            &headers("evt_7", ts + 1, &sig),
            body,
            ts,
            tol
        ));
        assert!(!verify(
            &new_secret(),
            &headers("evt_7", ts, &sig),
            body,
            ts,
            tol
        ));
        // Too old or too far ahead.
        assert!(!verify(
            &secret,
            &headers("evt_7", ts, &sig),
            body,
            ts + tol + 1,
            tol
        ));
        assert!(!verify(
            &secret,
            &headers("evt_7", ts, &sig),
            body,
            ts - tol - 1,
            tol
        ));
        // Missing or malformed headers.
        assert!(!verify(&secret, &HeaderMap::new(), body, ts, tol));
        let bare = sig.trim_start_matches("v1,");
        assert!(!verify(&secret, &headers("evt_7", ts, bare), body, ts, tol));
        assert!(!verify(
            &secret,
            &headers("evt_7", ts, "v1,!!"),
            body,
            ts,
            tol
        ));
        // One valid signature among several (a rotation) is enough.
        let several = format!("v1,AAAA {sig}");
        assert!(verify(
            &secret,
            &headers("evt_7", ts, &several),
            body,
            ts,
            tol
        ));
    }

    #[test]
    fn a_secret_without_prefix_or_base64_still_signs_consistently() {
        let body = b"x";
        let raw = sign("not base64 !", "evt_1", 1, body);
        assert!(verify_parts("not base64 !", "evt_1", "1", &raw, body, 1, 0));
        // The prefix is optional for the same key.
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";
        assert_eq!(
            sign(key, "evt_1", 1, body),
            sign(&format!("whsec_{key}"), "evt_1", 1, body)
        );
    }
}
