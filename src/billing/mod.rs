//! Bills: what a customer owes, and where the hotline reads it from.
//!
//! Rules: amounts are integers in the currency's minor unit (fen for CNY), never floats;
//! a bill is only ever read out to an identified caller; an external billing system is
//! asked with a short timeout so the caller never waits on it past the carrier's limit.

pub mod repo;
pub mod source;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The current bill of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bill {
    /// ISO 4217 code; the hotline speaks CNY natively.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Amount due this period, minor units.
    pub amount_due: i64,
    pub due_date: NaiveDate,
    /// Account balance, minor units: positive is credit, negative is owed.
    pub balance: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_payment: Option<Payment>,
    /// Charges of the current period, any order.
    #[serde(default)]
    pub charges: Vec<Charge>,
}

fn default_currency() -> String {
    "CNY".to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub amount: i64,
    pub date: NaiveDate,
}

/// One charge of the period. `category` picks the spoken name from the prompt catalog
/// (`charge.<category>`), so a charge is read in the caller's language; `description` is
/// the billing system's own text, shown to people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub category: String,
    #[serde(default)]
    pub description: String,
    pub amount: i64,
}

/// Charge categories with a spoken name in every catalog.
pub const CHARGE_CATEGORIES: &[&str] = &[
    "monthly_fee",
    "local_calls",
    "long_distance",
    "international",
    "broadband",
    "data",
    "value_added",
    "leased_line",
    "other",
];

impl Bill {
    /// The largest charges first, at most `n`.
    pub fn largest_charges(&self, n: usize) -> Vec<&Charge> {
        let mut c: Vec<&Charge> = self.charges.iter().collect();
        c.sort_by(|a, b| {
            b.amount
                .cmp(&a.amount)
                .then_with(|| a.category.cmp(&b.category))
        });
        c.truncate(n);
        c
    }
}
