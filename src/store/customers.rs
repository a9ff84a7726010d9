//! Accounts, their lines and their bills, for both backends (see `crate::customers` and
//! `crate::billing`).
//!
//! Rules: one SQL text for SQLite and PostgreSQL, functions written once over `db::Backend`;
//! only the JSON aggregates of the one-round-trip lookups differ (`Lookups`, named in
//! `db::Dialect`). Stored text that does not parse is `StoreError::Corrupt`, never a panic.
//! Dates are stored as `YYYY-MM-DD` text (chrono's ISO form, which round-trips every
//! `NaiveDate`). Lines are ordered by number here, in Rust, because database collations
//! disagree on how to sort `+86…` against `010…`.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::db::{AsConn, Backend, Row, query};
use super::{AccountPage, Result, StoreError};
use crate::billing::{Bill, Charge, Payment};
use crate::customers::{Account, AccountWrite, CustomerClass, Line, LineKind};
use crate::prompts::Locale;

/// The columns of an account, as `AccountFields` names them.
macro_rules! account_columns {
    () => {
        "a.id, a.account_no, a.name, a.language, a.customer_class, a.address, a.pin_hash, \
         a.pin_failures, a.pin_locked_until, a.created_at, a.updated_at"
    };
}

/// The statements, the same text on both backends.
mod sql {
    /// `$1` the last id of the previous page (or `i64::MIN`), `$2` the row limit.
    pub const ACCOUNTS_AFTER: &str = concat!(
        "SELECT ",
        account_columns!(),
        " FROM accounts a WHERE a.id > $1 ORDER BY a.id LIMIT $2"
    );

    /// Lines of the accounts with ids in `[$1, $2]`.
    pub const LINES_OF_RANGE: &str = "SELECT account_id, number, kind, label FROM lines \
         WHERE account_id >= $1 AND account_id <= $2";

    /// `$7`: whether to write `pin_hash` (`$5`) or keep the stored one; `$9` the same for
    /// `address` (`$8`). Returns the id.
    pub const UPSERT_ACCOUNT: &str = "INSERT INTO accounts \
         (account_no, name, language, customer_class, pin_hash, created_at, updated_at, \
         address) VALUES ($1, $2, $3, $4, $5, $6, $6, $8) \
         ON CONFLICT (account_no) DO UPDATE SET \
         name = excluded.name, language = excluded.language, \
         customer_class = excluded.customer_class, \
         address = CASE WHEN $9 THEN excluded.address ELSE accounts.address END, \
         pin_hash = CASE WHEN $7 THEN excluded.pin_hash ELSE accounts.pin_hash END, \
         updated_at = excluded.updated_at \
         RETURNING id";
    pub const DELETE_LINES: &str = "DELETE FROM lines WHERE account_id = $1";
    /// Affects no row when another account owns the number (the account's own lines are
    /// deleted first). ON CONFLICT rather than catching the unique violation: on PostgreSQL
    /// an error aborts the transaction before the owner could be looked up.
    pub const INSERT_LINE: &str = "INSERT INTO lines (account_id, number, kind, label) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (number) DO NOTHING";
    pub const LINE_OWNER: &str = "SELECT a.account_no FROM lines l \
         JOIN accounts a ON a.id = l.account_id WHERE l.number = $1";

    pub const UPSERT_BILL: &str = "INSERT INTO bills (account_id, currency, amount_due, \
         due_date, balance, last_payment_amount, last_payment_date, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (account_id) DO UPDATE SET \
         currency = excluded.currency, amount_due = excluded.amount_due, \
         due_date = excluded.due_date, balance = excluded.balance, \
         last_payment_amount = excluded.last_payment_amount, \
         last_payment_date = excluded.last_payment_date, updated_at = excluded.updated_at";
    pub const DELETE_CHARGES: &str = "DELETE FROM bill_charges WHERE account_id = $1";
    /// Followed by rows of `(account id, category, description, amount)`.
    pub const INSERT_CHARGES: &str =
        "INSERT INTO bill_charges (account_id, category, description, amount) VALUES ";
}

/// A backend's one-round-trip lookups: an account with its lines, and a bill with its
/// charges, each aggregated as a JSON array (`lines` of `[number, kind, label]`, `charges`
/// of `[category, description, amount]`). The aggregate functions differ between the
/// backends; the rest of the text is `lookups!`'s.
pub struct Lookups {
    pub account_by_id: &'static str,
    pub account_by_no: &'static str,
    pub account_by_line: &'static str,
    /// `$1` the account id.
    pub bill: &'static str,
    /// An account by id with its lines, and its bill's columns with its charges (all null
    /// but the charges when it has no bill).
    pub account_with_bill: &'static str,
}

macro_rules! lookups {
    ($lines:literal, $charges:literal) => {
        Lookups {
            account_by_id: concat!(lookups!(@account $lines), " WHERE a.id = $1"),
            account_by_no: concat!(lookups!(@account $lines), " WHERE a.account_no = $1"),
            account_by_line: concat!(
                lookups!(@account $lines),
                " JOIN lines l ON l.account_id = a.id WHERE l.number = $1"
            ),
            bill: concat!(
                "SELECT ",
                lookups!(@bill $charges),
                " FROM bills b WHERE b.account_id = $1"
            ),
            account_with_bill: concat!(
                "SELECT ",
                lookups!(@with_lines $lines),
                ", ",
                lookups!(@bill $charges),
                " FROM accounts a LEFT JOIN bills b ON b.account_id = a.id WHERE a.id = $1"
            ),
        }
    };
    (@bill $charges:literal) => {
        concat!(
            "b.currency, b.amount_due, b.due_date, b.balance, b.last_payment_amount, \
             b.last_payment_date, (SELECT ",
            $charges,
            " FROM bill_charges c WHERE c.account_id = b.account_id) AS charges"
        )
    };
    (@account $lines:literal) => {
        concat!("SELECT ", lookups!(@with_lines $lines), " FROM accounts a")
    };
    (@with_lines $lines:literal) => {
        concat!(
            account_columns!(),
            ", (SELECT ",
            $lines,
            " FROM lines l2 WHERE l2.account_id = a.id) AS lines"
        )
    };
}

pub const SQLITE: Lookups = lookups!(
    "json_group_array(json_array(l2.number, l2.kind, l2.label))",
    "json_group_array(json_array(c.category, c.description, c.amount))"
);

pub const POSTGRES: Lookups = lookups!(
    "coalesce(json_agg(json_build_array(l2.number, l2.kind, l2.label)), '[]')::text",
    "coalesce(json_agg(json_build_array(c.category, c.description, c.amount)), '[]')::text"
);

/// How an account is looked up.
#[derive(Debug, Clone, Copy)]
pub(super) enum By<'a> {
    Id(i64),
    No(&'a str),
    Line(&'a str),
}

impl By<'_> {
    /// The lookup of `l` that finds the account by this key, bound as `$1`.
    pub fn sql(self, l: &Lookups) -> &'static str {
        match self {
            By::Id(_) => l.account_by_id,
            By::No(_) => l.account_by_no,
            By::Line(_) => l.account_by_line,
        }
    }
}

/// A stored account, as its columns name it.
pub(super) struct AccountFields {
    pub id: i64,
    pub account_no: String,
    pub name: String,
    pub language: Option<String>,
    pub customer_class: String,
    pub address: Option<String>,
    pub pin_hash: Option<String>,
    pub pin_failures: i32,
    pub pin_locked_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A stored bill, with its charges as JSON.
pub(super) struct BillFields {
    pub currency: String,
    pub amount_due: i64,
    pub due_date: String,
    pub balance: i64,
    pub last_payment_amount: Option<i64>,
    pub last_payment_date: Option<String>,
    pub charges: String,
}

/// An account's columns, read by name from `row`.
macro_rules! account_fields {
    ($row:expr) => {{
        use $crate::store::customers::AccountFields;
        $crate::store::db::fields!(
            $row,
            AccountFields {
                id,
                account_no,
                name,
                language,
                customer_class,
                address,
                pin_hash,
                pin_failures,
                pin_locked_until,
                created_at,
                updated_at
            }
        )
    }};
}
pub(super) use account_fields;

/// A bill's columns, read by name from `row`.
macro_rules! bill_fields {
    ($row:expr) => {{
        use $crate::store::customers::BillFields;
        $crate::store::db::fields!(
            $row,
            BillFields {
                currency,
                amount_due,
                due_date,
                balance,
                last_payment_amount,
                last_payment_date,
                charges
            }
        )
    }};
}
pub(super) use bill_fields;

fn account_row(r: &Row) -> Result<AccountFields> {
    Ok(account_fields!(r))
}

fn line_row(r: &Row) -> Result<(i64, Line)> {
    let number: String = r.get("number")?;
    let kind: String = r.get("kind")?;
    Ok((r.get("account_id")?, line(number, &kind, r.get("label")?)?))
}

/// The account found by `by`, with its lines, in one round trip.
pub(super) async fn fetch_account<B: Backend>(
    on: &mut impl AsConn,
    by: By<'_>,
) -> Result<Option<Account>> {
    let q = query(by.sql(B::DIALECT.lookups));
    let q = match by {
        By::Id(id) => q.bind(id),
        By::No(key) | By::Line(key) => q.bind(key),
    };
    let Some(r) = q.fetch_optional(on).await? else {
        return Ok(None);
    };
    account_with_json_lines(account_row(&r)?, &r.get::<String>("lines")?).map(Some)
}

/// The account with its lines and its bill with its charges, in one round trip.
pub(super) async fn account_with_bill<B: Backend>(
    b: &B,
    account_id: i64,
) -> Result<Option<(Account, Option<Bill>)>> {
    let q = query(B::DIALECT.lookups.account_with_bill).bind(account_id);
    let Some(r) = q.fetch_optional(&mut b.read().await?).await? else {
        return Ok(None);
    };
    let account = account_with_json_lines(account_row(&r)?, &r.get::<String>("lines")?)?;
    let bill = match r.get::<Option<String>>("currency")? {
        Some(_) => Some(bill_from(bill_fields!(r))?),
        None => None,
    };
    Ok(Some((account, bill)))
}

/// The account's bill with its charges, in one round trip.
pub(super) async fn bill<B: Backend>(b: &B, account_id: i64) -> Result<Option<Bill>> {
    let r = query(B::DIALECT.lookups.bill)
        .bind(account_id)
        .fetch_optional(&mut b.read().await?)
        .await?;
    r.map(|r| bill_from(bill_fields!(r))).transpose()
}

pub(super) async fn list_accounts<B: Backend>(
    b: &B,
    after: Option<i64>,
    limit: i64,
) -> Result<AccountPage> {
    let limit = limit.max(0);
    let mut conn = b.read().await?;
    // One row beyond the limit tells whether a further page exists.
    let mut page = query(sql::ACCOUNTS_AFTER)
        .bind(after.unwrap_or(i64::MIN))
        .bind(limit.saturating_add(1))
        .fetch_all_as(&mut conn, account_row)
        .await?;
    let more = i64::try_from(page.len()).unwrap_or(i64::MAX) > limit;
    page.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let (Some(first), Some(last)) = (page.first().map(|a| a.id), page.last().map(|a| a.id)) else {
        return Ok(AccountPage {
            accounts: Vec::new(),
            next_after: None,
        });
    };
    // The page holds every account with an id in [first, last] (as of its snapshot), so
    // one range query finds their lines; lines of an account created in between are ignored.
    let lines = query(sql::LINES_OF_RANGE)
        .bind(first)
        .bind(last)
        .fetch_all_as(&mut conn, line_row)
        .await?;
    let mut by_account: HashMap<i64, Vec<Line>> = HashMap::new();
    for (id, l) in lines {
        by_account.entry(id).or_default().push(l);
    }
    let accounts = (page.into_iter())
        .map(|a| {
            let lines = by_account.remove(&a.id).unwrap_or_default();
            account(a, lines)
        })
        .collect::<Result<_>>()?;
    Ok(AccountPage {
        accounts,
        next_after: more.then_some(last),
    })
}

/// Charges per insert statement: SQLite takes at most 32,766 bound values in one.
const CHARGES_PER_INSERT: usize = 500;

/// Creates or replaces the account `write.account_no` with its lines (and bill, if given),
/// in one transaction: a line another account owns is a conflict and changes nothing.
pub(super) async fn put_account<B: Backend>(
    b: &B,
    write: &AccountWrite,
    now: i64,
) -> Result<Account> {
    if let Some(n) = duplicate_line(&write.lines) {
        return Err(StoreError::Conflict(format!("line {n} is listed twice")));
    }
    let mut tx = b.write().await?;
    let id: i64 = query(sql::UPSERT_ACCOUNT)
        .bind(&write.account_no)
        .bind(&write.name)
        .bind(write.language.map(|l| l.tag()))
        .bind(write.customer_class.as_str())
        .bind(write.pin_hash.clone().flatten())
        .bind(now)
        .bind(write.pin_hash.is_some())
        .bind(write.address.clone().flatten())
        .bind(write.address.is_some())
        .scalar(&mut tx)
        .await?;
    query(sql::DELETE_LINES).bind(id).execute(&mut tx).await?;
    for line in &write.lines {
        let inserted = query(sql::INSERT_LINE)
            .bind(id)
            .bind(&line.number)
            .bind(line.kind.as_str())
            .bind(&line.label)
            .execute(&mut tx)
            .await?;
        if inserted == 0 {
            // Returning drops `tx`, which rolls back: the account is left as it was.
            let owner: Option<String> = query(sql::LINE_OWNER)
                .bind(&line.number)
                .scalar_optional(&mut tx)
                .await?;
            return Err(match owner {
                Some(no) => {
                    StoreError::Conflict(format!("line {} belongs to account {no}", line.number))
                }
                // Only a concurrent delete gets here; the message still names the line.
                None => {
                    StoreError::Conflict(format!("line {} belongs to another account", line.number))
                }
            });
        }
    }
    if let Some(bill) = &write.bill {
        query(sql::UPSERT_BILL)
            .bind(id)
            .bind(&bill.currency)
            .bind(bill.amount_due)
            .bind(bill.due_date.to_string())
            .bind(bill.balance)
            .bind(bill.last_payment.as_ref().map(|p| p.amount))
            .bind(bill.last_payment.as_ref().map(|p| p.date.to_string()))
            .bind(now)
            .execute(&mut tx)
            .await?;
        query(sql::DELETE_CHARGES).bind(id).execute(&mut tx).await?;
        for part in bill.charges.chunks(CHARGES_PER_INSERT) {
            let mut q = query(sql::INSERT_CHARGES).tuples(1, part.len(), 4);
            for c in part {
                q = (q.bind(id).bind(&c.category))
                    .bind(&c.description)
                    .bind(c.amount);
            }
            q.execute(&mut tx).await?;
        }
    }
    let account = fetch_account::<B>(&mut tx, By::Id(id)).await?;
    tx.commit().await?;
    account.ok_or_else(|| StoreError::Corrupt(format!("account {id} vanished while written")))
}

fn parse_date(s: &str, what: &str) -> Result<NaiveDate> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("{what} is not a date: {s:?}")))
}

fn parse_locale(tag: &str) -> Result<Locale> {
    Locale::ALL
        .into_iter()
        .find(|l| l.tag() == tag)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown language {tag:?}")))
}

fn line(number: String, kind: &str, label: Option<String>) -> Result<Line> {
    let kind = LineKind::parse(kind)
        .ok_or_else(|| StoreError::Corrupt(format!("line {number} has unknown kind {kind:?}")))?;
    Ok(Line {
        number,
        kind,
        label,
    })
}

fn account(a: AccountFields, mut lines: Vec<Line>) -> Result<Account> {
    let language = a.language.as_deref().map(parse_locale).transpose()?;
    let customer_class = CustomerClass::parse(&a.customer_class).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "account {} has unknown customer class {:?}",
            a.account_no, a.customer_class
        ))
    })?;
    lines.sort_by(|a, b| a.number.cmp(&b.number));
    Ok(Account {
        id: a.id,
        account_no: a.account_no,
        name: a.name,
        language,
        customer_class,
        address: a.address,
        pin_hash: a.pin_hash,
        pin_failures: a.pin_failures,
        pin_locked_until: a.pin_locked_until,
        lines,
        created_at: a.created_at,
        updated_at: a.updated_at,
    })
}

/// An account from its columns and its lines as a lookup's JSON.
pub(super) fn account_with_json_lines(a: AccountFields, lines: &str) -> Result<Account> {
    let lines: Vec<(String, String, Option<String>)> = serde_json::from_str(lines)
        .map_err(|e| StoreError::Corrupt(format!("lines of account {}: {e}", a.account_no)))?;
    let lines = (lines.into_iter())
        .map(|(number, kind, label)| line(number, &kind, label))
        .collect::<Result<_>>()?;
    account(a, lines)
}

/// A bill from its columns, charges as a lookup's JSON.
pub(super) fn bill_from(b: BillFields) -> Result<Bill> {
    let charges: Vec<(String, String, i64)> = serde_json::from_str(&b.charges)
        .map_err(|e| StoreError::Corrupt(format!("bill charges: {e}")))?;
    let last_payment = match (b.last_payment_amount, b.last_payment_date) {
        (Some(amount), Some(date)) => Some(Payment {
            amount,
            date: parse_date(&date, "last payment date")?,
        }),
        _ => None,
    };
    Ok(Bill {
        currency: b.currency,
        amount_due: b.amount_due,
        due_date: parse_date(&b.due_date, "due date")?,
        balance: b.balance,
        last_payment,
        charges: (charges.into_iter())
            .map(|(category, description, amount)| Charge {
                category,
                description,
                amount,
            })
            .collect(),
    })
}

/// A line number listed twice in one write would otherwise look like a conflict with itself.
fn duplicate_line(lines: &[Line]) -> Option<&str> {
    let mut seen = HashSet::new();
    lines
        .iter()
        .find(|l| !seen.insert(l.number.as_str()))
        .map(|l| l.number.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_at_the_edges() {
        for d in [
            NaiveDate::MIN,
            NaiveDate::MAX,
            NaiveDate::from_ymd_opt(2024, 2, 29).expect("valid"),
            NaiveDate::from_ymd_opt(10000, 1, 1).expect("valid"),
            NaiveDate::from_ymd_opt(0, 1, 1).expect("valid"),
        ] {
            assert_eq!(parse_date(&d.to_string(), "d").ok(), Some(d));
        }
        assert_eq!(
            NaiveDate::from_ymd_opt(2025, 3, 7)
                .expect("valid")
                .to_string(),
            "2025-03-07"
        );
        assert!(parse_date("2025-02-30", "d").is_err());
    }
}
