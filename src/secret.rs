//! Secrets: API tokens, auth tokens, signing keys.
//!
//! Rules: a secret is shown only where it is used (`expose`); its `Debug` says whether it is
//! set and nothing more, and it is never serialised, so no log line or API answer carries it.

use std::fmt;

use serde::Deserialize;

/// A secret string: redacted in `Debug` and never serialised.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Secret(<empty>)"
        } else {
            "Secret(****)"
        })
    }
}
