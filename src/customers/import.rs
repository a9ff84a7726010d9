//! CSV import of accounts (`hotline import accounts FILE`).
//!
//! Rules: each row is validated and stored on its own, so a bad row is reported (with its
//! line number and the field at fault) and every good row is still imported. Amounts are
//! decimal yuan (`128.50`), parsed exactly, never through floating point.
//!
//! Columns (header required, order free; only `account_no` and `name` are mandatory):
//! `account_no, name, language, customer_class, pin, address, lines, amount_due, due_date,
//! balance, last_payment_amount, last_payment_date, charges`, where `lines` is
//! `kind:number;kind:number` and `charges` is `category:amount;category:amount`.

use std::collections::HashMap;
use std::io::Read;

use chrono::NaiveDate;

use super::input::{AccountInput, FieldError, LineInput};
use crate::billing::{Bill, Charge, Payment};
use crate::customers::repo::CustomerStore;

/// One rejected row.
#[derive(Debug, Clone)]
pub struct RowError {
    /// Line number in the file (the header is line 1).
    pub line: u64,
    pub account_no: String,
    pub error: String,
}

#[derive(Debug, Default)]
pub struct ImportReport {
    pub imported: u64,
    pub rejected: Vec<RowError>,
}

/// Parses `128.50`, `-3`, `0.5` as minor units (two decimals at most).
pub fn parse_amount(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole
            .chars()
            .chain(frac.chars())
            .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let frac = format!("{frac:0<2}");
    let v = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(frac.parse::<i64>().ok()?)?;
    Some(if neg { -v } else { v })
}

fn row_input(row: &HashMap<String, String>) -> Result<(String, AccountInput), FieldError> {
    // As the API does (see `crate::text`): refused, so the row fails alike on both backends.
    if let Some((column, message)) =
        (row.iter()).find_map(|(k, v)| crate::text::refusal(v).map(|m| (k, m)))
    {
        return Err(FieldError::new(column.clone(), message));
    }
    let get = |k: &str| row.get(k).map(|s| s.trim()).filter(|s| !s.is_empty());
    let account_no = get("account_no")
        .ok_or_else(|| FieldError::new("account_no", "is required"))?
        .to_string();
    let name = get("name")
        .ok_or_else(|| FieldError::new("name", "is required"))?
        .to_string();
    let amount = |k: &str| -> Result<Option<i64>, FieldError> {
        get(k)
            .map(|v| {
                parse_amount(v).ok_or_else(|| {
                    FieldError::new(k, format!("{v:?} is not an amount like 128.50"))
                })
            })
            .transpose()
    };
    let date = |k: &str| -> Result<Option<NaiveDate>, FieldError> {
        get(k)
            .map(|v| {
                NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .map_err(|_| FieldError::new(k, format!("{v:?} is not a date like 2026-12-15")))
            })
            .transpose()
    };
    let mut lines = Vec::new();
    for part in get("lines")
        .unwrap_or("")
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (kind, number) = part
            .split_once(':')
            .ok_or_else(|| FieldError::new("lines", format!("{part:?} is not kind:number")))?;
        lines.push(LineInput {
            number: number.trim().into(),
            kind: kind.trim().into(),
            label: None,
        });
    }
    let bill = match amount("amount_due")? {
        None => None,
        Some(amount_due) => {
            let due_date = date("due_date")?
                .ok_or_else(|| FieldError::new("due_date", "is required with amount_due"))?;
            let last_payment = match (amount("last_payment_amount")?, date("last_payment_date")?) {
                (Some(amount), Some(date)) => Some(Payment { amount, date }),
                (None, None) => None,
                _ => {
                    return Err(FieldError::new(
                        "last_payment_date",
                        "last_payment_amount and last_payment_date go together",
                    ));
                }
            };
            let mut charges = Vec::new();
            for part in get("charges")
                .unwrap_or("")
                .split(';')
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                let (category, value) = part.split_once(':').ok_or_else(|| {
                    FieldError::new("charges", format!("{part:?} is not category:amount"))
                })?;
                let amount = parse_amount(value).ok_or_else(|| {
                    FieldError::new("charges", format!("{value:?} is not an amount"))
                })?;
                charges.push(Charge {
                    category: category.trim().into(),
                    description: String::new(),
                    amount,
                });
            }
            Some(Bill {
                currency: "CNY".into(),
                amount_due,
                due_date,
                balance: amount("balance")?.unwrap_or(amount_due.saturating_neg()),
                last_payment,
                charges,
            })
        }
    };
    let input = AccountInput {
        name,
        language: get("language").map(Into::into),
        customer_class: get("customer_class").map(Into::into),
        pin: get("pin").map(Into::into),
        address: get("address").map(Into::into),
        lines,
        bill,
    };
    Ok((account_no, input))
}

/// Imports every row of `reader`; `progress` is told the byte offset after each row.
pub async fn import_csv(
    store: &dyn CustomerStore,
    reader: impl Read,
    now_ms: i64,
    mut progress: impl FnMut(u64),
) -> Result<ImportReport, csv::Error> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(reader);
    let headers: Vec<String> = rdr
        .headers()?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let mut report = ImportReport::default();
    let mut record = csv::StringRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // A malformed row (wrong field count, bad UTF-8) is reported, the rest go on.
                report.rejected.push(RowError {
                    line,
                    account_no: String::new(),
                    error: e.to_string(),
                });
                continue;
            }
        }
        let row: HashMap<String, String> = headers
            .iter()
            .cloned()
            .zip(record.iter().map(str::to_string))
            .collect();
        let account_no = row.get("account_no").cloned().unwrap_or_default();
        let result = async {
            let (no, input) = row_input(&row).map_err(|e| e.to_string())?;
            let write = input.into_write(&no).await.map_err(|e| e.to_string())?;
            store
                .put_account(&write, now_ms)
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        match result {
            Ok(_) => report.imported += 1,
            Err(error) => report.rejected.push(RowError {
                line,
                account_no,
                error,
            }),
        }
        progress(rdr.position().byte());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::parse_amount;

    #[test]
    fn parses_amounts_exactly() {
        assert_eq!(parse_amount("128.50"), Some(12850));
        assert_eq!(parse_amount("128.5"), Some(12850));
        assert_eq!(parse_amount("0.05"), Some(5));
        assert_eq!(parse_amount("-3"), Some(-300));
        assert_eq!(parse_amount("1.234"), None);
        assert_eq!(parse_amount("abc"), None);
        assert_eq!(parse_amount(".5"), None);
        assert_eq!(parse_amount("99999999999999999999"), None);
    }

    #[tokio::test]
    async fn out_of_range_numbers_are_refused_naming_the_column() {
        let row = |pairs: &[(&str, &str)]| {
            let mut r: std::collections::HashMap<String, String> = [
                ("account_no", "10000009"),
                ("name", "Li"),
                ("amount_due", "128.50"),
                ("due_date", "2026-06-15"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            for (k, v) in pairs {
                r.insert(k.to_string(), v.to_string());
            }
            r
        };
        let refused = async |pairs: &[(&str, &str)]| {
            let (no, input) = super::row_input(&row(pairs)).map_err(|e| e.field)?;
            input.into_write(&no).await.map(drop).map_err(|e| e.field)
        };
        // The most negative amount a row can hold, with no balance (which defaults to the
        // amount due negated): refused, never negated into a wrap or a panic.
        let min = "-92233720368547758.07";
        assert!(parse_amount(min).is_some());
        assert_eq!(
            refused(&[("amount_due", min)]).await,
            Err("bill.amount_due".into())
        );
        assert_eq!(
            refused(&[("balance", min)]).await,
            Err("bill.balance".into())
        );
        assert_eq!(
            refused(&[("due_date", "2101-01-01")]).await,
            Err("bill.due_date".into())
        );
        assert_eq!(
            refused(&[("charges", "data:1000000000.01")]).await,
            Err("bill.charges[0].amount".into())
        );
        assert_eq!(refused(&[("name", "Li\0")]).await, Err("name".into()));
        assert_eq!(
            refused(&[("balance", "-1000000000.00"), ("due_date", "2100-12-31")]).await,
            Ok(())
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #[test]
            fn any_amount_text_parses_or_is_refused(s in any::<String>()) {
                let _ = parse_amount(&s);
            }

            #[test]
            fn amounts_round_trip(v in -1_000_000_000_000i64..1_000_000_000_000) {
                let text = format!("{}{}.{:02}", if v < 0 { "-" } else { "" }, v.unsigned_abs() / 100, v.unsigned_abs() % 100);
                prop_assert_eq!(parse_amount(&text), Some(v));
            }

            /// A row of anything is imported or refused naming a column, never a panic.
            #[test]
            fn any_row_is_refused_naming_a_column_or_taken(values in prop::collection::vec(any::<String>(), 13)) {
                let columns = ["account_no", "name", "language", "customer_class", "pin", "address", "lines",
                    "amount_due", "due_date", "balance", "last_payment_amount", "last_payment_date", "charges"];
                let row: HashMap<String, String> = columns.iter().map(|c| c.to_string()).zip(values).collect();
                if let Err(e) = row_input(&row) {
                    prop_assert!(columns.iter().any(|c| e.field.starts_with(c)), "{}", e);
                }
            }
        }
    }
}
