//! What both backends share: the statements whose text is the same on both, stored rows
//! turned into domain values, and the order-dependent bookkeeping of a step batch.
//!
//! Rules: SQL here must run unchanged on SQLite and PostgreSQL (`$N` placeholders, no
//! backend-only functions). Rows are plain tuples (columns in `SELECT` order, listed on each
//! alias) so one conversion serves both. Stored text that does not parse is
//! `StoreError::Corrupt`, never a panic. Dates are stored as `YYYY-MM-DD` text (chrono's ISO
//! form, which round-trips every `NaiveDate`). Lines are ordered by number here, in Rust,
//! because database collations disagree on how to sort `+86…` against `010…`.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::{Effect, Milestone, NewCall, Result, StepOutcome, StepWrite, StoreError};
use crate::billing::{Bill, Charge, Payment};
use crate::calls::{CallRecord, CallStep};
use crate::customers::{Account, CustomerClass, Line, LineKind};
use crate::prompts::Locale;

/// `id, account_no, name, language, customer_class, pin_hash, pin_failures,
/// pin_locked_until, created_at, updated_at`
pub(super) type AccountRow = (
    i64,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    i32,
    Option<i64>,
    i64,
    i64,
);

/// `account_id, number, kind, label`
pub(super) type LineRow = (i64, String, String, Option<String>);

/// `currency, amount_due, due_date, balance, last_payment_amount, last_payment_date`
pub(super) type BillRow = (String, i64, String, i64, Option<i64>, Option<String>);

/// `category, description, amount`
pub(super) type ChargeRow = (String, String, i64);

/// `call_sid, direction, from_number, to_number, account_id, locale, status, started_at,
/// ended_at, duration_secs`
pub(super) type CallRow = (
    String,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
    String,
    i64,
    Option<i64>,
    Option<i64>,
);

/// `seq, node, input, said, at`
pub(super) type StepRow = (i32, String, String, String, i64);

/// How an account is looked up.
#[derive(Debug, Clone, Copy)]
pub(super) enum By<'a> {
    Id(i64),
    No(&'a str),
    Line(&'a str),
}

impl By<'_> {
    /// The query selecting an `AccountRow` with its lines as JSON (one round trip), binding
    /// the key as `$1`.
    pub fn sql(self, q: &AccountSql) -> &'static str {
        match self {
            By::Id(_) => q.by_id,
            By::No(_) => q.by_no,
            By::Line(_) => q.by_line,
        }
    }
}

/// A backend's account lookups, each returning an `AccountRow` followed by the account's
/// lines as a JSON array of `[number, kind, label]`.
pub(super) struct AccountSql {
    pub by_id: &'static str,
    pub by_no: &'static str,
    pub by_line: &'static str,
}

/// The account lookups with `$lines`, the backend's JSON aggregate over `lines l2`.
macro_rules! account_sql {
    ($lines:literal) => {
        $crate::store::rows::AccountSql {
            by_id: concat!($crate::store::rows::account_sql!(@select $lines), " WHERE a.id = $1"),
            by_no: concat!($crate::store::rows::account_sql!(@select $lines), " WHERE a.account_no = $1"),
            by_line: concat!(
                $crate::store::rows::account_sql!(@select $lines),
                " JOIN lines l ON l.account_id = a.id WHERE l.number = $1"
            ),
        }
    };
    (@select $lines:literal) => {
        concat!(
            "SELECT a.id, a.account_no, a.name, a.language, a.customer_class, a.pin_hash, \
             a.pin_failures, a.pin_locked_until, a.created_at, a.updated_at, (SELECT ",
            $lines,
            " FROM lines l2 WHERE l2.account_id = a.id) FROM accounts a"
        )
    };
}
pub(super) use account_sql;

/// An `AccountRow` and its lines as JSON.
pub(super) type AccountJsonRow = (
    i64,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    i32,
    Option<i64>,
    i64,
    i64,
    String,
);

/// A `BillRow` and its charges as a JSON array of `[category, description, amount]`.
pub(super) type BillJsonRow = (
    String,
    i64,
    String,
    i64,
    Option<i64>,
    Option<String>,
    String,
);

/// An account from a row with its lines as JSON.
pub(super) fn account_json(row: AccountJsonRow) -> Result<Account> {
    let (id, no, name, language, class, pin_hash, failures, locked, created, updated, lines) = row;
    let lines: Vec<(String, String, Option<String>)> = serde_json::from_str(&lines)
        .map_err(|e| StoreError::Corrupt(format!("lines of account {no}: {e}")))?;
    let lines = lines.into_iter().map(|(n, k, l)| (id, n, k, l)).collect();
    account(
        (
            id, no, name, language, class, pin_hash, failures, locked, created, updated,
        ),
        lines,
    )
}

/// A bill from a row with its charges as JSON.
pub(super) fn bill_json(row: BillJsonRow) -> Result<Bill> {
    let (currency, due, date, balance, last_amount, last_date, charges) = row;
    let charges: Vec<ChargeRow> = serde_json::from_str(&charges)
        .map_err(|e| StoreError::Corrupt(format!("bill charges: {e}")))?;
    bill(
        (currency, due, date, balance, last_amount, last_date),
        charges,
    )
}

/// Statements that run unchanged on both backends. (Step batches are written with each
/// backend's own set-based statements.)
pub(super) mod sql {
    macro_rules! select_account {
        () => {
            "SELECT a.id, a.account_no, a.name, a.language, a.customer_class, a.pin_hash, \
             a.pin_failures, a.pin_locked_until, a.created_at, a.updated_at FROM accounts a"
        };
    }

    /// `$1` the last id of the previous page (or `i64::MIN`), `$2` the row limit.
    pub const ACCOUNTS_AFTER: &str =
        concat!(select_account!(), " WHERE a.id > $1 ORDER BY a.id LIMIT $2");

    /// Lines of the accounts with ids in `[$1, $2]`.
    pub const LINES_OF_RANGE: &str = "SELECT account_id, number, kind, label FROM lines \
         WHERE account_id >= $1 AND account_id <= $2";

    /// `$7`: whether to write `pin_hash` (`$5`) or keep the stored one. Returns the id.
    pub const UPSERT_ACCOUNT: &str = "INSERT INTO accounts \
         (account_no, name, language, customer_class, pin_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) \
         ON CONFLICT (account_no) DO UPDATE SET \
         name = excluded.name, language = excluded.language, \
         customer_class = excluded.customer_class, \
         pin_hash = CASE WHEN $7 THEN excluded.pin_hash ELSE accounts.pin_hash END, \
         updated_at = excluded.updated_at \
         RETURNING id";
    pub const DELETE_LINES: &str = "DELETE FROM lines WHERE account_id = $1";
    /// Affects no row when another account owns the number (the account's own lines are
    /// deleted first).
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
    pub const INSERT_CHARGE: &str = "INSERT INTO bill_charges \
         (account_id, category, description, amount) VALUES ($1, $2, $3, $4)";

    /// `$1` sid, `$2..$4` direction, from, to, `$5` status, `$6` started (and updated) at,
    /// `$7` ended at, `$8` duration. Does nothing for a call that exists.
    pub const INSERT_CALL: &str = "INSERT INTO calls (call_sid, direction, from_number, \
         to_number, status, started_at, ended_at, duration_secs, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6) ON CONFLICT (call_sid) DO NOTHING";
    pub const CALL_STATUS: &str = "SELECT status FROM calls WHERE call_sid = $1";
    pub const CALL: &str = "SELECT call_sid, direction, from_number, to_number, account_id, \
         locale, status, started_at, ended_at, duration_secs FROM calls WHERE call_sid = $1";
    pub const STEP_RESPONSE: &str = "SELECT s.response FROM call_steps s \
         JOIN calls c ON c.id = s.call_id WHERE c.call_sid = $1 AND s.seq = $2";
    pub const STEPS_OF_CALL: &str = "SELECT s.seq, s.node, s.input, s.said, s.at \
         FROM call_steps s JOIN calls c ON c.id = s.call_id WHERE c.call_sid = $1 ORDER BY s.seq";

    /// Stored once per `(call, status, sequence)`: retries hit the unique index. The call
    /// must exist (the status report creates it first).
    pub const INSERT_EVENT: &str = "INSERT INTO call_events (call_id, status, sequence, at) \
         SELECT id, $2, $3, $4 FROM calls WHERE call_sid = $1 ON CONFLICT DO NOTHING";
    /// `$3` the report time, `$4` whether it is final, `$5` the duration if given.
    pub const UPDATE_STATUS: &str = "UPDATE calls SET status = $2, \
         updated_at = CASE WHEN updated_at > $3 THEN updated_at ELSE $3 END, \
         ended_at = CASE WHEN $4 THEN $3 ELSE ended_at END, \
         duration_secs = CASE WHEN $4 THEN COALESCE($5, duration_secs) ELSE duration_secs END \
         WHERE call_sid = $1";
}

/// The status of a call created by its first step.
pub(super) const STARTED_STATUS: &str = "in-progress";

pub(super) fn line_conflict(number: &str, owner: Option<String>) -> StoreError {
    match owner {
        Some(no) => StoreError::Conflict(format!("line {number} belongs to account {no}")),
        // Only a concurrent delete gets here; the message still names the line.
        None => StoreError::Conflict(format!("line {number} belongs to another account")),
    }
}

/// Statuses after which a call is over; none of them is ever replaced.
const FINAL_STATUSES: [&str; 5] = ["completed", "busy", "no-answer", "failed", "canceled"];

pub(super) fn format_date(d: NaiveDate) -> String {
    d.to_string()
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

pub(super) fn line(row: LineRow) -> Result<Line> {
    let (_, number, kind, label) = row;
    let kind = LineKind::parse(&kind)
        .ok_or_else(|| StoreError::Corrupt(format!("line {number} has unknown kind {kind:?}")))?;
    Ok(Line {
        number,
        kind,
        label,
    })
}

pub(super) fn account(row: AccountRow, lines: Vec<LineRow>) -> Result<Account> {
    let (
        id,
        account_no,
        name,
        language,
        customer_class,
        pin_hash,
        pin_failures,
        pin_locked_until,
        created_at,
        updated_at,
    ) = row;
    let language = language.as_deref().map(parse_locale).transpose()?;
    let customer_class = CustomerClass::parse(&customer_class).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "account {account_no} has unknown customer class {customer_class:?}"
        ))
    })?;
    let mut lines = lines.into_iter().map(line).collect::<Result<Vec<_>>>()?;
    lines.sort_by(|a, b| a.number.cmp(&b.number));
    Ok(Account {
        id,
        account_no,
        name,
        language,
        customer_class,
        pin_hash,
        pin_failures,
        pin_locked_until,
        lines,
        created_at,
        updated_at,
    })
}

/// Accounts with their lines, given the lines of all of them in any order.
pub(super) fn accounts(rows: Vec<AccountRow>, lines: Vec<LineRow>) -> Result<Vec<Account>> {
    let mut by_account: HashMap<i64, Vec<LineRow>> = HashMap::new();
    for l in lines {
        by_account.entry(l.0).or_default().push(l);
    }
    rows.into_iter()
        .map(|r| {
            let lines = by_account.remove(&r.0).unwrap_or_default();
            account(r, lines)
        })
        .collect()
}

pub(super) fn bill(row: BillRow, charges: Vec<ChargeRow>) -> Result<Bill> {
    let (currency, amount_due, due_date, balance, last_amount, last_date) = row;
    let last_payment = match (last_amount, last_date) {
        (Some(amount), Some(date)) => Some(Payment {
            amount,
            date: parse_date(&date, "last payment date")?,
        }),
        _ => None,
    };
    Ok(Bill {
        currency,
        amount_due,
        due_date: parse_date(&due_date, "due date")?,
        balance,
        last_payment,
        charges: charges
            .into_iter()
            .map(|(category, description, amount)| Charge {
                category,
                description,
                amount,
            })
            .collect(),
    })
}

pub(super) fn call(row: CallRow, steps: Vec<StepRow>) -> CallRecord {
    let (
        call_sid,
        direction,
        from_number,
        to_number,
        account_id,
        locale,
        status,
        started_at,
        ended_at,
        duration_secs,
    ) = row;
    let mut steps: Vec<CallStep> = steps
        .into_iter()
        .map(|(seq, node, input, said, at)| CallStep {
            seq,
            node,
            input,
            said,
            at,
        })
        .collect();
    steps.sort_by_key(|s| s.seq);
    CallRecord {
        call_sid,
        direction,
        from_number,
        to_number,
        account_id,
        locale,
        status,
        started_at,
        ended_at,
        duration_secs,
        steps,
    }
}

/// Whether a status report may replace the stored status of a call.
///
/// Reports arrive late and twice; the stored status only moves forward: a final status is
/// never replaced (so of two final reports the first stays), and a known earlier stage
/// (`ringing`) does not replace a later one (`in-progress`, which the first step sets).
pub(super) fn status_advances(current: &str, new_status: &str, new_is_final: bool) -> bool {
    fn stage(s: &str) -> u8 {
        match s {
            "queued" => 1,
            "initiated" => 2,
            "ringing" => 3,
            "in-progress" => 4,
            _ => 0,
        }
    }
    if FINAL_STATUSES.contains(&current) {
        return false;
    }
    new_is_final || stage(new_status) >= stage(current)
}

/// A line number listed twice in one write would otherwise look like a conflict with itself.
pub(super) fn duplicate_line(lines: &[Line]) -> Option<&str> {
    let mut seen = HashSet::new();
    lines
        .iter()
        .find(|l| !seen.insert(l.number.as_str()))
        .map(|l| l.number.as_str())
}

/// What a batch of steps needs written, worked out in step order before any step is written,
/// and how the results of those writes become one outcome per step.
///
/// Each step is one of: for a call that does not exist (yet, at its place in the batch)
/// → `UnknownCall`; the first occurrence of its `(call_sid, seq)` → inserted (or found
/// stored: a replay); a later occurrence → a replay of the first.
pub(super) struct StepPlan {
    slots: Vec<Slot>,
    /// Steps whose `new_call` creates a call absent so far, in order.
    pub new_calls: Vec<usize>,
    /// Steps to insert, in order; keys are distinct.
    pub inserts: Vec<usize>,
}

enum Slot {
    Unknown,
    /// Index into `inserts`.
    Insert(usize),
    /// Same key as this earlier step (an `Insert`).
    SameAs(usize),
}

/// The effects of the recorded steps, ready to apply.
pub(super) struct Effects<'a> {
    /// One update per call, in first-touched order.
    pub calls: Vec<CallUpdate<'a>>,
    /// Survey effects (answers, opt-outs, follow-ups) with their step's time.
    pub surveys: Vec<(&'a Effect, i64)>,
    /// Each call's milestones, once each with the earliest step time of the batch (the
    /// stored time only ever moves earlier, so the order of batches does not matter).
    pub milestones: Vec<MilestoneWrite<'a>>,
}

/// A milestone a call reached at a step (see `Effect::Milestone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MilestoneWrite<'a> {
    pub call_sid: &'a str,
    pub milestone: Milestone,
    pub at: i64,
}

pub(super) struct CallUpdate<'a> {
    pub call_sid: &'a str,
    /// The last identification in the batch, if any.
    pub account_id: Option<i64>,
    /// The last locale chosen in the batch, if any.
    pub locale: Option<&'static str>,
    /// The latest step time: the call's new `updated_at` unless it is already later.
    pub at: i64,
}

/// Distinct call ids of a batch, for the one lookup of which calls exist.
pub(super) fn call_sids(steps: &[StepWrite]) -> Vec<&str> {
    let mut seen = HashSet::new();
    steps
        .iter()
        .map(|s| s.call_sid.as_str())
        .filter(|sid| seen.insert(*sid))
        .collect()
}

impl StepPlan {
    /// `existing`: the calls of the batch that exist before it.
    pub fn new(steps: &[StepWrite], existing: &HashSet<String>) -> Self {
        let mut known: HashSet<&str> = existing.iter().map(String::as_str).collect();
        let mut first: HashMap<(&str, i32), usize> = HashMap::new();
        let mut plan = StepPlan {
            slots: Vec::with_capacity(steps.len()),
            new_calls: Vec::new(),
            inserts: Vec::with_capacity(steps.len()),
        };
        for (i, s) in steps.iter().enumerate() {
            let sid = s.call_sid.as_str();
            if s.new_call.is_some() && known.insert(sid) {
                plan.new_calls.push(i);
            }
            let slot = if !known.contains(sid) {
                Slot::Unknown
            } else if let Some(&j) = first.get(&(sid, s.seq)) {
                Slot::SameAs(j)
            } else {
                first.insert((sid, s.seq), i);
                plan.inserts.push(i);
                Slot::Insert(plan.inserts.len() - 1)
            };
            plan.slots.push(slot);
        }
        plan
    }

    /// `inserted[k]`: whether `inserts[k]` was inserted now; `stored`: the stored response
    /// of every insert that was not. Returns the outcomes and the indices of the steps
    /// recorded now (whose effects must be applied).
    pub fn finish(
        &self,
        steps: &[StepWrite],
        inserted: &[bool],
        stored: &HashMap<(String, i32), String>,
    ) -> Result<(Vec<StepOutcome>, Vec<usize>)> {
        if inserted.len() != self.inserts.len() {
            return Err(StoreError::Corrupt(format!(
                "{} insert results for {} steps",
                inserted.len(),
                self.inserts.len()
            )));
        }
        let response_of = |k: usize| -> Result<StepOutcome> {
            let i = self.inserts[k];
            if inserted[k] {
                return Ok(StepOutcome::Recorded);
            }
            let s = &steps[i];
            stored
                .get(&(s.call_sid.clone(), s.seq))
                .map(|r| StepOutcome::Replayed {
                    response: r.clone(),
                })
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "step {} of call {} neither inserted nor stored",
                        s.seq, s.call_sid
                    ))
                })
        };
        let mut outcomes = Vec::with_capacity(steps.len());
        let mut recorded = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            let outcome = match *slot {
                Slot::Unknown => StepOutcome::UnknownCall,
                Slot::Insert(k) => {
                    let o = response_of(k)?;
                    if o == StepOutcome::Recorded {
                        recorded.push(i);
                    }
                    o
                }
                Slot::SameAs(j) => match self.slots.get(j) {
                    Some(&Slot::Insert(k)) => match response_of(k)? {
                        StepOutcome::Recorded => StepOutcome::Replayed {
                            response: steps[j].response.clone(),
                        },
                        replayed => replayed,
                    },
                    _ => {
                        return Err(StoreError::Corrupt(format!(
                            "step {i} refers to step {j}, which is not written"
                        )));
                    }
                },
            };
            outcomes.push(outcome);
        }
        Ok((outcomes, recorded))
    }

    /// The keys of the inserts that were not inserted: their stored responses are needed.
    pub fn not_inserted<'a>(
        &self,
        steps: &'a [StepWrite],
        inserted: &[bool],
    ) -> Vec<(&'a str, i32)> {
        self.inserts
            .iter()
            .zip(inserted)
            .filter(|(_, ins)| !**ins)
            .map(|(&i, _)| (steps[i].call_sid.as_str(), steps[i].seq))
            .collect()
    }
}

/// The call a step creates: `(call_sid, new_call, at)`.
pub(super) fn new_call(steps: &[StepWrite], i: usize) -> Option<(&str, &NewCall, i64)> {
    let s = steps.get(i)?;
    Some((s.call_sid.as_str(), s.new_call.as_ref()?, s.at))
}

/// Whether `e` touches callbacks, surveys or escalations (rather than the call, the account
/// or a milestone).
pub(super) fn is_survey_effect(e: &Effect) -> bool {
    matches!(
        e,
        Effect::SurveyAnswer { .. }
            | Effect::OptOut { .. }
            | Effect::Followup { .. }
            | Effect::Escalate(_)
    )
}

/// Gathers the effects of the recorded steps, in step order.
pub(super) fn effects<'a>(steps: &'a [StepWrite], recorded: &[usize]) -> Effects<'a> {
    let mut calls: Vec<CallUpdate<'a>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut surveys = Vec::new();
    let mut milestones: Vec<MilestoneWrite<'a>> = Vec::new();
    for s in recorded.iter().filter_map(|&i| steps.get(i)) {
        let k = *index.entry(s.call_sid.as_str()).or_insert_with(|| {
            calls.push(CallUpdate {
                call_sid: s.call_sid.as_str(),
                account_id: None,
                locale: None,
                at: s.at,
            });
            calls.len() - 1
        });
        let update = &mut calls[k];
        update.at = update.at.max(s.at);
        for e in &s.effects {
            match *e {
                Effect::IdentifyAccount { account_id } => update.account_id = Some(account_id),
                Effect::SetLocale { locale } => update.locale = Some(locale.tag()),
                Effect::SurveyAnswer { .. }
                | Effect::OptOut { .. }
                | Effect::Followup { .. }
                | Effect::Escalate(_) => surveys.push((e, s.at)),
                Effect::Milestone(milestone) => {
                    let sid = s.call_sid.as_str();
                    match milestones
                        .iter_mut()
                        .find(|m| m.call_sid == sid && m.milestone == milestone)
                    {
                        Some(m) => m.at = m.at.min(s.at),
                        None => milestones.push(MilestoneWrite {
                            call_sid: sid,
                            milestone,
                            at: s.at,
                        }),
                    }
                }
            }
        }
    }
    Effects {
        calls,
        surveys,
        milestones,
    }
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
            assert_eq!(parse_date(&format_date(d), "d").ok(), Some(d));
        }
        assert_eq!(
            format_date(NaiveDate::from_ymd_opt(2025, 3, 7).expect("valid")),
            "2025-03-07"
        );
        assert!(parse_date("2025-02-30", "d").is_err());
    }

    #[test]
    fn statuses_only_move_forward() {
        assert!(status_advances("ringing", "in-progress", false));
        assert!(!status_advances("in-progress", "ringing", false));
        assert!(status_advances("in-progress", "completed", true));
        assert!(!status_advances("completed", "ringing", false));
        assert!(!status_advances("completed", "failed", true));
        assert!(status_advances("ringing", "something-new", true));
    }

    fn step(sid: &str, seq: i32, new: bool) -> StepWrite {
        StepWrite {
            call_sid: sid.into(),
            seq,
            new_call: new.then(|| NewCall {
                direction: "inbound".into(),
                from_number: "a".into(),
                to_number: "b".into(),
            }),
            node: "n".into(),
            input: String::new(),
            said: String::new(),
            response: format!("{sid}/{seq}"),
            at: seq.into(),
            effects: vec![],
        }
    }

    #[test]
    fn milestones_are_kept_once_per_call_with_the_earliest_time() {
        let mut a1 = step("A", 1, true);
        a1.effects = vec![Effect::Milestone(Milestone::SelfServed)];
        let mut a2 = step("A", 2, false);
        a2.effects = vec![
            Effect::Milestone(Milestone::SelfServed),
            Effect::Milestone(Milestone::Person),
        ];
        let mut b3 = step("B", 3, true);
        b3.effects = vec![Effect::Milestone(Milestone::SelfServed)];
        // Recorded out of order: the earlier step still sets the time.
        let steps = [a2, a1, b3];
        let e = effects(&steps, &[0, 1, 2]);
        let got: Vec<(&str, Milestone, i64)> = (e.milestones.iter())
            .map(|m| (m.call_sid, m.milestone, m.at))
            .collect();
        assert_eq!(
            got,
            [
                ("A", Milestone::SelfServed, 1),
                ("A", Milestone::Person, 2),
                ("B", Milestone::SelfServed, 3),
            ]
        );
        // A replayed step (not recorded now) adds nothing.
        assert!(effects(&steps, &[]).milestones.is_empty());
    }

    #[test]
    fn a_call_is_unknown_until_the_step_that_creates_it() {
        let steps = [
            step("A", 2, false),
            step("A", 1, true),
            step("A", 2, false),
            step("A", 1, true),
        ];
        let plan = StepPlan::new(&steps, &HashSet::new());
        assert_eq!(plan.new_calls, vec![1]);
        assert_eq!(plan.inserts, vec![1, 2]);
        let (outcomes, recorded) = plan
            .finish(&steps, &[true, true], &HashMap::new())
            .expect("consistent results");
        assert_eq!(
            outcomes,
            vec![
                StepOutcome::UnknownCall,
                StepOutcome::Recorded,
                StepOutcome::Recorded,
                StepOutcome::Replayed {
                    response: "A/1".into()
                },
            ]
        );
        assert_eq!(recorded, vec![1, 2]);
    }
}
