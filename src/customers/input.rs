//! Account data as it arrives from outside (the JSON API, CSV import), validated field by
//! field: every rejection names the field at fault.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::Deserialize;

use super::{AccountWrite, CustomerClass, Line, LineKind, pin};
use crate::billing::{Bill, CHARGE_CATEGORIES};
use crate::prompts::Locale;

/// A rejected field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An account as the API takes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountInput {
    pub name: String,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub customer_class: Option<String>,
    /// Sets the PIN; absent keeps the stored one; `""` removes it.
    #[serde(default)]
    pub pin: Option<String>,
    /// Sets the service address; absent keeps the stored one; `""` removes it.
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub lines: Vec<LineInput>,
    /// Replaces the bill; absent keeps the stored one.
    #[serde(default)]
    pub bill: Option<Bill>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    pub number: String,
    pub kind: String,
    #[serde(default)]
    pub label: Option<String>,
}

/// Account numbers are typed on a keypad: digits only.
pub fn validate_account_no(no: &str) -> Result<(), FieldError> {
    if !(4..=20).contains(&no.len()) || !no.chars().all(|c| c.is_ascii_digit()) {
        return Err(FieldError::new(
            "account_no",
            "must be 4 to 20 digits (it is typed on a keypad)",
        ));
    }
    Ok(())
}

impl AccountInput {
    /// Checks every field and hashes the PIN.
    pub async fn into_write(self, account_no: &str) -> Result<AccountWrite, FieldError> {
        validate_account_no(account_no)?;
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(FieldError::new("name", "must be 1 to 200 characters"));
        }
        let language = match self.language.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(l) => Some(Locale::parse(l).ok_or_else(|| {
                FieldError::new(
                    "language",
                    format!("unknown language {l:?}; use zh-CN or en-US"),
                )
            })?),
        };
        let customer_class = match self.customer_class.as_deref().map(str::trim) {
            None | Some("") => CustomerClass::default(),
            Some(c) => CustomerClass::parse(c).ok_or_else(|| {
                FieldError::new(
                    "customer_class",
                    format!("unknown class {c:?}; use residential or business"),
                )
            })?,
        };
        let address = self.address.as_deref().map(validate_address).transpose()?;
        let lines = validate_lines(self.lines)?;
        if let Some(bill) = &self.bill {
            validate_bill(bill, "bill.")?;
        }
        let pin_hash = match self.pin.as_deref() {
            None => None,
            Some("") => Some(None),
            Some(p) => {
                pin::validate(p).map_err(|e| FieldError::new("pin", e.to_string()))?;
                Some(Some(
                    pin::hash_async(p.to_string())
                        .await
                        .map_err(|e| FieldError::new("pin", e.to_string()))?,
                ))
            }
        };
        Ok(AccountWrite {
            account_no: account_no.to_string(),
            name,
            language,
            customer_class,
            pin_hash,
            address,
            lines,
            bill: self.bill,
        })
    }
}

/// Longest service address kept, in characters: a full Chinese postal address is well under it.
pub const MAX_ADDRESS_CHARS: usize = 300;

/// An address is read aloud to the caller: one line of text, `""` for none.
fn validate_address(a: &str) -> Result<Option<String>, FieldError> {
    let a = a.trim();
    if a.chars().count() > MAX_ADDRESS_CHARS {
        return Err(FieldError::new(
            "address",
            format!("must be at most {MAX_ADDRESS_CHARS} characters"),
        ));
    }
    if a.chars().any(char::is_control) {
        return Err(FieldError::new(
            "address",
            "must be one line of text, without control characters",
        ));
    }
    Ok((!a.is_empty()).then(|| a.to_string()))
}

fn validate_lines(input: Vec<LineInput>) -> Result<Vec<Line>, FieldError> {
    if input.len() > 50 {
        return Err(FieldError::new("lines", "at most 50 lines per account"));
    }
    let mut seen = BTreeSet::new();
    let mut lines = Vec::with_capacity(input.len());
    for (i, l) in input.into_iter().enumerate() {
        let field = |f: &str| format!("lines[{i}].{f}");
        let kind = LineKind::parse(l.kind.trim()).ok_or_else(|| {
            FieldError::new(
                field("kind"),
                format!("unknown kind {:?}; use phone, broadband or leased", l.kind),
            )
        })?;
        let number = match kind {
            // Phone lines are matched against the calling number, so store them as Twilio
            // sends them: E.164.
            LineKind::Phone => crate::calls::service::normalize_number(&l.number)
                .filter(|n| n.starts_with('+') && n.len() >= 8)
                .ok_or_else(|| {
                    FieldError::new(
                        field("number"),
                        "a phone line needs an E.164 number such as +8613800000001",
                    )
                })?,
            _ => {
                let n = l.number.trim().to_string();
                if n.is_empty() || n.len() > 64 || n.chars().any(char::is_control) {
                    return Err(FieldError::new(
                        field("number"),
                        "must be 1 to 64 characters",
                    ));
                }
                n
            }
        };
        if !seen.insert(number.clone()) {
            return Err(FieldError::new(
                field("number"),
                format!("{number} is listed twice"),
            ));
        }
        let label = l
            .label
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        if label.as_ref().is_some_and(|s| s.chars().count() > 100) {
            return Err(FieldError::new(field("label"), "at most 100 characters"));
        }
        lines.push(Line {
            number,
            kind,
            label,
        });
    }
    Ok(lines)
}

/// Largest amount accepted either way, minor units (a billion yuan): anything beyond is a
/// data error, and keeps every sum of amounts far from `i64`'s limits.
pub const MAX_AMOUNT: i64 = 100_000_000_000;

/// Checks a bill; fields are named with `prefix` (`"bill."` inside an account, `""` for the
/// bill on its own).
pub fn validate_bill(bill: &Bill, prefix: &str) -> Result<(), FieldError> {
    let field = |f: &str| format!("{prefix}{f}");
    if bill.currency.len() != 3 || !bill.currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(FieldError::new(
            field("currency"),
            "must be an ISO 4217 code such as CNY",
        ));
    }
    let amount = |name: String, v: i64, allow_negative: bool| {
        let min = if allow_negative { -MAX_AMOUNT } else { 0 };
        if (min..=MAX_AMOUNT).contains(&v) {
            Ok(())
        } else {
            Err(FieldError::new(
                name,
                format!("must be between {min} and {MAX_AMOUNT} (minor units, e.g. fen)"),
            ))
        }
    };
    let date = |name: String, d: NaiveDate| {
        if crate::clock::date_in_range(d) {
            Ok(())
        } else {
            Err(FieldError::new(name, crate::clock::date_range_message()))
        }
    };
    amount(field("amount_due"), bill.amount_due, false)?;
    date(field("due_date"), bill.due_date)?;
    amount(field("balance"), bill.balance, true)?;
    if let Some(p) = &bill.last_payment {
        amount(field("last_payment.amount"), p.amount, false)?;
        date(field("last_payment.date"), p.date)?;
    }
    if bill.charges.len() > 500 {
        return Err(FieldError::new(field("charges"), "at most 500 charges"));
    }
    let mut total: i64 = 0;
    for (i, c) in bill.charges.iter().enumerate() {
        let charge = |f: &str| field(&format!("charges[{i}].{f}"));
        if !CHARGE_CATEGORIES.contains(&c.category.as_str()) {
            return Err(FieldError::new(
                charge("category"),
                format!(
                    "unknown category {:?}; use one of {}",
                    c.category,
                    CHARGE_CATEGORIES.join(", ")
                ),
            ));
        }
        amount(charge("amount"), c.amount, true)?;
        if c.description.chars().count() > 200 {
            return Err(FieldError::new(
                charge("description"),
                "at most 200 characters",
            ));
        }
        // Each charge is in range, so the sum cannot overflow; checked all the same.
        total = total.checked_add(c.amount).unwrap_or(i64::MAX);
    }
    amount(field("charges"), total, true)
        .map_err(|e| FieldError::new(e.field, format!("add up to {total}, which {}", e.message)))?;
    Ok(())
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn date() -> impl Strategy<Value = NaiveDate> {
        (-300_000i32..300_000).prop_filter_map("a date", |d| {
            NaiveDate::from_ymd_opt(2000, 1, 1)?
                .checked_add_signed(chrono::Duration::days(d.into()))
        })
    }

    fn bill() -> impl Strategy<Value = Bill> {
        let amount = prop_oneof![any::<i64>(), -MAX_AMOUNT - 2..=MAX_AMOUNT + 2];
        (
            "[A-Z]{3}|.{0,4}",
            amount.clone(),
            date(),
            amount.clone(),
            prop::option::of((amount.clone(), date())),
            prop::collection::vec(
                (
                    prop::sample::select(CHARGE_CATEGORIES.to_vec()),
                    ".{0,10}",
                    amount,
                ),
                0..4,
            ),
        )
            .prop_map(
                |(currency, amount_due, due_date, balance, paid, charges)| Bill {
                    currency,
                    amount_due,
                    due_date,
                    balance,
                    last_payment: paid
                        .map(|(amount, date)| crate::billing::Payment { amount, date }),
                    charges: charges
                        .into_iter()
                        .map(|(category, description, amount)| crate::billing::Charge {
                            category: category.to_string(),
                            description,
                            amount,
                        })
                        .collect(),
                },
            )
    }

    proptest! {
        /// Any bytes sent as a bill are refused or checked, never a panic; a bill that
        /// passes the check reads back the same from its JSON.
        #[test]
        fn any_bill_body_is_refused_or_checked(body in any::<Vec<u8>>()) {
            if let Ok(bill) = serde_json::from_slice::<Bill>(&body) {
                let _ = validate_bill(&bill, "");
            }
        }

        #[test]
        fn accepted_bills_round_trip(bill in bill()) {
            if validate_bill(&bill, "bill.").is_ok() {
                let json = serde_json::to_vec(&bill).map_err(|e| TestCaseError::fail(e.to_string()))?;
                let back: Bill = serde_json::from_slice(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(back, bill);
            } else {
                // A refusal names a field of the bill.
                let e = validate_bill(&bill, "bill.").err().unwrap_or_else(|| FieldError::new("", ""));
                prop_assert!(e.field.starts_with("bill."), "{}", e);
            }
        }

        /// Accounts as the API takes them: refused with a field named, or accepted as sent.
        #[test]
        fn any_account_is_refused_naming_a_field_or_kept(
            name in any::<String>(),
            language in prop::option::of(any::<String>()),
            lines in prop::collection::vec((any::<String>(), "phone|broadband|leased|.{0,6}", prop::option::of(any::<String>())), 0..4),
        ) {
            let input = AccountInput {
                name: name.clone(),
                language,
                customer_class: None,
                pin: None,
                address: None,
                lines: lines
                    .into_iter()
                    .map(|(number, kind, label)| LineInput { number, kind, label })
                    .collect(),
                bill: None,
            };
            let line_count = input.lines.len();
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            match rt.block_on(input.into_write("10000001")) {
                Ok(w) => {
                    prop_assert_eq!(w.name, name.trim());
                    prop_assert_eq!(w.lines.len(), line_count);
                }
                Err(e) => prop_assert!(!e.field.is_empty(), "{}", e),
            }
        }
    }
}
