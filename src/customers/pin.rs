//! Customer PINs: validation, hashing and verification.
//!
//! Rules:
//!
//! - A PIN is 4 to 8 ASCII digits (`0`–`9`), nothing else: no spaces, signs or full-width
//!   digits. Callers strip DTMF terminators (`#`) before validating.
//! - PINs are stored only as argon2id PHC strings (`$argon2id$v=19$m=8192,t=2,p=1$…`) with a
//!   fresh 16-byte random salt from the operating system's RNG, so two hashes of one PIN
//!   differ. The PIN itself is never stored, logged or returned in an error.
//! - Parameters are modest, for a phone hotline on a small machine: 8 MiB of memory, 2
//!   passes, 1 lane (about 20 ms of one core in a release build). The whole service must
//!   stay under 64 MiB resident, so the async wrappers also let at most [`MAX_CONCURRENT`]
//!   hashes or verifications run at once (8 MiB each).
//! - Verification recomputes the hash with the parameters recorded in the PHC string and
//!   compares in constant time (argon2's `Output` comparison). It returns `false`, never
//!   panics, for a malformed PIN or a malformed, non-argon2id or too-costly hash: a stored
//!   string asking for more than [`MAX_M_COST_KIB`] KiB, [`MAX_T_COST`] passes or
//!   [`MAX_P_COST`] lanes is refused rather than allowed to exhaust memory or CPU.
//! - Hashing and verifying are CPU-heavy: async code must use [`hash_async`] and
//!   [`verify_async`], which run on `tokio::task::spawn_blocking`. A failed blocking task is
//!   an error for hashing and a failed verification.

use argon2::password_hash::phc::PasswordHash;
use argon2::{
    ARGON2ID_IDENT, Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version,
};
use tokio::sync::Semaphore;

/// Shortest accepted PIN, in digits.
pub const MIN_LEN: usize = 4;
/// Longest accepted PIN, in digits.
pub const MAX_LEN: usize = 8;

/// Memory cost of new hashes, in KiB (8 MiB).
pub const M_COST_KIB: u32 = 8 * 1024;
/// Passes over memory for new hashes.
pub const T_COST: u32 = 2;
/// Lanes for new hashes.
pub const P_COST: u32 = 1;

/// The largest memory cost a stored hash may ask for when verifying, in KiB (16 MiB).
pub const MAX_M_COST_KIB: u32 = 16 * 1024;
/// The most passes a stored hash may ask for when verifying.
pub const MAX_T_COST: u32 = 8;
/// The most lanes a stored hash may ask for when verifying.
pub const MAX_P_COST: u32 = 4;

/// How many hashes or verifications the async wrappers run at the same time.
pub const MAX_CONCURRENT: usize = 2;

static SLOTS: Semaphore = Semaphore::const_new(MAX_CONCURRENT);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("PIN must be 4 to 8 digits")]
    Length,
    #[error("PIN must contain only the digits 0 to 9")]
    NotDigits,
    #[error("PIN hashing failed: {0}")]
    Hash(String),
    #[error("PIN hashing task failed: {0}")]
    Task(String),
}

/// Checks that `pin` is 4 to 8 ASCII digits.
pub fn validate(pin: &str) -> Result<(), PinError> {
    if !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PinError::NotDigits);
    }
    if !(MIN_LEN..=MAX_LEN).contains(&pin.len()) {
        return Err(PinError::Length);
    }
    Ok(())
}

fn hasher() -> Result<Argon2<'static>, PinError> {
    let params =
        Params::new(M_COST_KIB, T_COST, P_COST, None).map_err(|e| PinError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Validates `pin` and hashes it to an argon2id PHC string with a random salt.
pub fn hash(pin: &str) -> Result<String, PinError> {
    validate(pin)?;
    hash_secret(pin)
}

/// Hashes any secret (an agent's password) as PINs are hashed, without the PIN rules.
pub fn hash_secret(secret: &str) -> Result<String, PinError> {
    let phc = hasher()?
        .hash_password(secret.as_bytes())
        .map_err(|e| PinError::Hash(e.to_string()))?;
    Ok(phc.to_string())
}

/// Whether `pin` matches the PHC string `phc`. `false` for anything malformed.
pub fn verify(pin: &str, phc: &str) -> bool {
    validate(pin).is_ok() && verify_secret(pin, phc)
}

/// Whether `secret` matches the PHC string `phc`, with the same limits as [`verify`].
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    if parsed.algorithm != ARGON2ID_IDENT {
        return false;
    }
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.m_cost() > MAX_M_COST_KIB
        || params.t_cost() > MAX_T_COST
        || params.p_cost() > MAX_P_COST
    {
        return false;
    }
    Argon2::default()
        .verify_password(secret.as_bytes(), &parsed)
        .is_ok()
}

/// [`hash`] on a blocking thread, at most [`MAX_CONCURRENT`] at a time.
pub async fn hash_async(pin: String) -> Result<String, PinError> {
    blocking_hash(move || hash(&pin)).await
}

/// [`hash_secret`] on a blocking thread, sharing [`hash_async`]'s slots.
pub async fn hash_secret_async(secret: String) -> Result<String, PinError> {
    blocking_hash(move || hash_secret(&secret)).await
}

async fn blocking_hash(
    f: impl FnOnce() -> Result<String, PinError> + Send + 'static,
) -> Result<String, PinError> {
    let _slot = SLOTS
        .acquire()
        .await
        .map_err(|e| PinError::Task(e.to_string()))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PinError::Task(e.to_string()))?
}

/// [`verify`] on a blocking thread, at most [`MAX_CONCURRENT`] at a time; `false` if the task
/// fails.
pub async fn verify_async(pin: String, phc: String) -> bool {
    blocking_verify(move || verify(&pin, &phc)).await
}

/// [`verify_secret`] on a blocking thread, sharing [`verify_async`]'s slots.
pub async fn verify_secret_async(secret: String, phc: String) -> bool {
    blocking_verify(move || verify_secret(&secret, &phc)).await
}

async fn blocking_verify(f: impl FnOnce() -> bool + Send + 'static) -> bool {
    let Ok(_slot) = SLOTS.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(f).await.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        for ok in ["0000", "1234", "12345678", "00000000", "9876543"] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
        for short_or_long in ["", "1", "123", "123456789", "0000000000000"] {
            let err = validate(short_or_long).expect_err(short_or_long);
            assert_eq!(err, PinError::Length);
            assert_eq!(err.to_string(), "PIN must be 4 to 8 digits");
        }
        for bad in [
            "12a4",
            "12 34",
            " 1234",
            "1234#",
            "-123",
            "+1234",
            "１２３４",
            "12.4",
            "ab",
        ] {
            let err = validate(bad).expect_err(bad);
            assert_eq!(err, PinError::NotDigits, "{bad}");
            assert_eq!(err.to_string(), "PIN must contain only the digits 0 to 9");
        }
    }

    #[test]
    fn round_trip() {
        let phc = hash("1234").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=8192,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("1234$"), "{phc}");
        assert!(verify("1234", &phc));
        assert!(!verify("1235", &phc));
        assert!(!verify("12345", &phc));
        assert!(!verify("", &phc));
        assert!(!verify("12a4", &phc));
    }

    #[test]
    fn eight_digits_round_trip() {
        let phc = hash("00000000").expect("hash");
        assert!(verify("00000000", &phc));
        assert!(!verify("0000000", &phc));
        assert!(!verify("0000", &phc));
    }

    #[test]
    fn hash_refuses_invalid_pins() {
        assert_eq!(hash("123"), Err(PinError::Length));
        assert_eq!(hash("12x4"), Err(PinError::NotDigits));
    }

    #[test]
    fn salts_differ() {
        let a = hash("4321").expect("hash");
        let b = hash("4321").expect("hash");
        assert_ne!(a, b);
        assert!(verify("4321", &a));
        assert!(verify("4321", &b));
    }

    #[test]
    fn malformed_hashes_are_false() {
        let good = hash("1234").expect("hash");
        let truncated = &good[..good.len() - 5];
        let cases = [
            "",
            "$",
            "$$$$",
            "1234",
            "not a hash",
            "$argon2id$",
            "$argon2id$v=19$",
            "$argon2id$v=19$m=8192,t=2,p=1$",
            "$argon2id$v=19$m=8192,t=2,p=1$c2FsdHNhbHQ",
            "$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=99$m=8192,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=x,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=8192,t=2,p=1$!!!!$aGFzaGhhc2hoYXNoaGFzaA",
            "$bcrypt$v=19$m=8192,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
            "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=8192,t=4294967295,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=8192,t=2,p=16777215$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=8192,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
            "\u{0}\u{ffff}€",
            truncated,
        ];
        for phc in cases {
            assert!(!verify("1234", phc), "{phc:?}");
        }
        // The same hash under another argon2 variant is refused.
        let argon2i = good.replacen("$argon2id$", "$argon2i$", 1);
        assert!(!verify("1234", &argon2i));
    }

    #[test]
    fn hashes_from_other_parameters_within_bounds_still_verify() {
        let params = Params::new(1024, 1, 1, None).expect("params");
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"2468")
            .expect("hash")
            .to_string();
        assert!(verify("2468", &phc));
        assert!(!verify("2469", &phc));
    }

    #[tokio::test]
    async fn async_wrappers() {
        let phc = hash_async("5678".to_string()).await.expect("hash");
        assert!(verify_async("5678".to_string(), phc.clone()).await);
        assert!(!verify_async("8765".to_string(), phc).await);
        assert!(!verify_async("5678".to_string(), "garbage".to_string()).await);
        assert_eq!(hash_async("56".to_string()).await, Err(PinError::Length));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_concurrent_verifications() {
        let phc = hash_async("1357".to_string()).await.expect("hash");
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let phc = phc.clone();
                let pin = if i % 2 == 0 { "1357" } else { "7531" }.to_string();
                tokio::spawn(async move { (i, verify_async(pin, phc).await) })
            })
            .collect();
        for t in tasks {
            let (i, ok) = t.await.expect("task");
            assert_eq!(ok, i % 2 == 0, "{i}");
        }
    }
}
