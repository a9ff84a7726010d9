//! Customers: billing accounts, the lines they own, and how a caller proves who they are.
//!
//! Rules: a line number belongs to at most one account; PINs are stored only as argon2 hashes
//! and never logged; three wrong PINs (configurable) lock identification by PIN for the
//! account for 30 minutes (configurable), across calls (see `crate::lockout`). The lock guards
//! the PIN only: a caller on one of the account's own lines is never refused by it.

pub mod import;
pub mod input;
pub mod pin;
pub mod repo;

use serde::{Deserialize, Serialize};

use crate::billing::Bill;
use crate::prompts::Locale;

/// A billing customer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub account_no: String,
    pub name: String,
    pub language: Option<Locale>,
    pub customer_class: CustomerClass,
    /// Where the customer is served, as the operator's records write it; read back to a
    /// caller who orders an installation.
    pub address: Option<String>,
    /// argon2 PHC string; `None` when no PIN was ever set (identification by PIN impossible).
    pub pin_hash: Option<String>,
    /// Wrong PINs since the last success or the last lock.
    pub pin_failures: i32,
    /// Epoch milliseconds until which PINs for this account are refused unchecked.
    pub pin_locked_until: Option<i64>,
    pub lines: Vec<Line>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Account {
    /// Whether PINs for this account are refused at `now_ms`.
    pub fn is_locked(&self, now_ms: i64) -> bool {
        self.pin_locked_until.is_some_and(|t| t > now_ms)
    }
}

/// The kind of service a line carries; faults and deadlines depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Phone,
    Broadband,
    Leased,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Phone => "phone",
            LineKind::Broadband => "broadband",
            LineKind::Leased => "leased",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "phone" => LineKind::Phone,
            "broadband" => LineKind::Broadband,
            "leased" => LineKind::Leased,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CustomerClass {
    #[default]
    Residential,
    Business,
}

impl CustomerClass {
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerClass::Residential => "residential",
            CustomerClass::Business => "business",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "residential" => CustomerClass::Residential,
            "business" => CustomerClass::Business,
            _ => return None,
        })
    }
}

/// A service instance with its own number (or circuit id for leased lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// E.164 number for phone lines; any identifier for others. Unique across accounts.
    pub number: String,
    pub kind: LineKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Everything needed to create or replace an account (API, CSV import, demo data).
#[derive(Debug, Clone)]
pub struct AccountWrite {
    pub account_no: String,
    pub name: String,
    pub language: Option<Locale>,
    pub customer_class: CustomerClass,
    /// `Some(Some(hash))` sets the PIN, `Some(None)` clears it, `None` keeps the stored one.
    pub pin_hash: Option<Option<String>>,
    /// `Some(Some(text))` sets the address, `Some(None)` clears it, `None` keeps the stored one
    /// (an import without the column leaves addresses alone).
    pub address: Option<Option<String>>,
    pub lines: Vec<Line>,
    /// `None` keeps the stored bill.
    pub bill: Option<Bill>,
}
