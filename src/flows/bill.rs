//! Bill enquiry: identification by account number and PIN when the calling number did not
//! identify the caller, the PIN lock, and the bill read-out.
//!
//! A bill is read by where it stands on the caller's day (in the operator's zone): *due*
//! (something is owed and the due date has not passed: the amount and the date to pay by,
//! never "overdue" or 欠费), *overdue* (the due date has passed), or *in credit* (nothing is
//! owed: the credit, or that nothing is due). See `standing` for what counts as owed.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::menu::{ask_menu, ask_offer, person};
use super::{
    Choice, Ctx, Facts, FlowState, Goal, Ident, MAX_TRIES, Need, Node, Reply, choice, entry,
    hang_up,
};
use crate::billing::Bill;
use crate::calls::step::{Effect, Milestone};
use crate::customers::Account;
use crate::lockout::Verdict;
use crate::prompts::speak;
use crate::telephony::CallInput;

/// Charges read out on request.
const LARGEST_CHARGES: usize = 3;
const BILL_KEYS: [char; 5] = ['1', '2', '3', '*', '0'];

/// Main menu option 1.
pub(super) fn begin(
    ctx: &Ctx<'_>,
    state: &FlowState,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    let Some((id, how)) = state.account else {
        ask_account_no(out, &state.goto(Node::AccountNo));
        return Ok(());
    };
    match facts.account.as_ref().ok_or(Need::AccountWithBill(id))? {
        Some(acc) => read_bill(ctx, state, acc, how, facts, out),
        // The account was removed since the caller was identified: identify again.
        None => {
            let next = FlowState {
                account: None,
                ..state.goto(Node::AccountNo)
            };
            ask_account_no(out, &next);
            Ok(())
        }
    }
}

pub(super) fn ask_account_no(out: &mut Reply<'_>, next: &FlowState) {
    let prompt = out.text("ident.account_prompt", &[]);
    out.ask_entry(vec![prompt], next);
}

fn ask_pin(out: &mut Reply<'_>, next: &FlowState) {
    let prompt = out.text("ident.pin_prompt", &[]);
    out.ask_entry(vec![prompt], next);
}

/// Identification failed for good: a person or the menu.
fn give_up(out: &mut Reply<'_>, state: &FlowState) {
    out.say("ident.failed", &[]);
    ask_offer(
        out,
        &FlowState {
            pending: None,
            ..state.goto(Node::Offer)
        },
    );
}

/// No usable entry at an account-number or PIN prompt: `*` returns to the menu, anything
/// else is a failed try.
fn bad_entry(
    state: &FlowState,
    input: &CallInput,
    out: &mut Reply<'_>,
    ask: fn(&mut Reply<'_>, &FlowState),
) {
    if input.digits().is_some_and(|d| d.starts_with('*')) {
        ask_menu(
            out,
            &FlowState {
                pending: None,
                ..state.goto(Node::Menu)
            },
        );
        return;
    }
    let no_input = matches!(input, CallInput::Timeout | CallInput::None);
    out.missed(state, no_input, ask, give_up);
}

/// An account number typed: the PIN is asked for whatever the number is, so the answer does
/// not tell whether the account exists. The tries at identifying carry over to the PIN.
pub(super) fn account_no(
    state: &FlowState,
    input: &CallInput,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    let Some(no) = entry(input) else {
        bad_entry(state, input, out, ask_account_no);
        return Ok(());
    };
    ask_pin(
        out,
        &FlowState {
            seq: state.seq + 1,
            node: Node::Pin,
            pending: Some(no),
            ..state.clone()
        },
    );
    Ok(())
}

pub(super) fn pin(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    let Some(no) = state.pending.clone() else {
        // A PIN step without an account number cannot happen through our own URLs.
        ask_account_no(out, &state.goto(Node::AccountNo));
        return Ok(());
    };
    // Keypad digits only: a PIN spoken aloud is neither taken nor kept.
    let Some(pin) = pin_entry(input) else {
        bad_entry(state, input, out, ask_pin);
        return Ok(());
    };
    let account = facts.account.as_ref().ok_or(Need::AccountByNo(no))?;
    // Asked even for an unknown account: the check takes the same time either way.
    let verdict = facts.pin.ok_or(Need::PinCheck { pin })?;
    match account {
        Some(acc) if verdict == Verdict::Right => {
            out.effects
                .push(Effect::IdentifyAccount { account_id: acc.id });
            let next = FlowState {
                account: Some((acc.id, Ident::Pin)),
                pending: None,
                ..state.clone()
            };
            if next.goal == Goal::Bill {
                return read_bill(ctx, &next, acc, Ident::Pin, facts, out);
            }
            super::tickets::after_ident(ctx, &next, acc, facts, out)
        }
        // An unknown number, a wrong PIN and a lock all sound the same.
        _ => {
            out.say("ident.no_match", &[]);
            if state.tries + 1 >= MAX_TRIES {
                give_up(out, state);
            } else {
                let next = FlowState {
                    node: Node::AccountNo,
                    pending: None,
                    ..state.retry()
                };
                ask_account_no(out, &next);
            }
            Ok(())
        }
    }
}

/// A PIN typed on the keypad, before `#`.
fn pin_entry(input: &CallInput) -> Option<String> {
    match input {
        CallInput::Digits(_) => entry(input),
        _ => None,
    }
}

/// Reads the bill of an identified account, then the bill menu. The PIN lock guards only
/// the PIN: it never keeps a caller identified by their line, or by a PIN already accepted
/// in this call, from their bill.
fn read_bill(
    ctx: &Ctx<'_>,
    state: &FlowState,
    acc: &Account,
    how: Ident,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    let bill = match facts.bill.as_ref().ok_or(Need::Bill)? {
        Ok(Some(bill)) => bill,
        Ok(None) => {
            out.say("bill.none", &[]);
            ask_offer(out, &state.goto(Node::Offer));
            return Ok(());
        }
        Err(()) => {
            out.say("bill.unavailable", &[]);
            ask_offer(out, &state.goto(Node::Offer));
            return Ok(());
        }
    };
    match how {
        Ident::Line => out.say("bill.intro_line", &[]),
        Ident::Pin => {
            let spoken = speak::digits(&acc.account_no, state.locale);
            out.say("bill.intro_account", &[("account", &spoken)]);
        }
    }
    say_bill(state, bill, today(ctx), out);
    // Hearing the bill is the task done: the hotline report counts the call as self-served.
    out.effects.push(Effect::Milestone(Milestone::SelfServed));
    ask_bill_menu(out, &state.goto(Node::Bill));
    Ok(())
}

/// The caller's day in the operator's zone: a bill is payable until its due date ends.
fn today(ctx: &Ctx<'_>) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_millis(ctx.now).map_or(NaiveDate::MIN, |d| {
        ctx.tz.from_utc_datetime(&d.naive_utc()).date_naive()
    })
}

/// Where a bill stands on `today`, which decides the words the caller hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Something is owed and the due date has not passed: not yet "overdue", not "欠费".
    Due { owed: i64 },
    /// Something is owed and the due date has passed.
    Overdue { owed: i64 },
    /// Nothing is owed; the balance (zero or more) is the account's credit.
    InCredit { credit: i64 },
}

/// What is owed is this period's amount due; when nothing is due this period, an
/// account that is still negative owes its balance (earlier charges, due on the same due
/// date as far as the caller is told). An account owing nothing is in credit, by its
/// balance when that is positive.
fn standing(bill: &Bill, today: NaiveDate) -> Standing {
    let owed = if bill.amount_due > 0 {
        bill.amount_due
    } else {
        bill.balance.saturating_neg().max(0)
    };
    match owed {
        0 => Standing::InCredit {
            credit: bill.balance.max(0),
        },
        owed if today <= bill.due_date => Standing::Due { owed },
        owed => Standing::Overdue { owed },
    }
}

fn say_bill(state: &FlowState, bill: &Bill, today: NaiveDate, out: &mut Reply<'_>) {
    let l = state.locale;
    let money = |minor: i64| speak::amount(minor, &bill.currency, l);
    let date = speak::date(bill.due_date, l);
    match standing(bill, today) {
        Standing::Due { owed } => {
            out.say("bill.due", &[("amount", &money(owed)), ("date", &date)]);
        }
        Standing::Overdue { owed } => {
            out.say("bill.overdue", &[("amount", &money(owed)), ("date", &date)]);
        }
        Standing::InCredit { credit: 0 } => out.say("bill.nothing_due", &[]),
        Standing::InCredit { credit } => {
            out.say("bill.in_credit", &[("amount", &money(credit))]);
        }
    }
    // Earlier charges still unpaid on top of this period's: the whole debt, in neutral words
    // (whether those are late is the billing system's to say, not ours).
    let total = bill.balance.saturating_neg();
    if bill.amount_due > 0 && total > bill.amount_due {
        out.say("bill.total_owed", &[("amount", &money(total))]);
    }
    match &bill.last_payment {
        Some(p) => {
            let (amount, date) = (money(p.amount), speak::date(p.date, l));
            out.say("bill.last_payment", &[("amount", &amount), ("date", &date)]);
        }
        None => out.say("bill.no_payment", &[]),
    }
}

fn say_charges(state: &FlowState, bill: &Bill, out: &mut Reply<'_>) {
    let l = state.locale;
    let largest = bill.largest_charges(LARGEST_CHARGES);
    if largest.is_empty() {
        out.say("bill.no_charges", &[]);
        return;
    }
    let count = speak::count(largest.len() as i64, l);
    out.say("bill.charges_intro", &[("count", &count)]);
    for c in largest {
        let key = format!("charge.{}", c.category);
        let key = if out.catalog.has(&key) {
            key
        } else {
            "charge.other".to_string()
        };
        let name = out.catalog.text(l, &key, &[]);
        let amount = speak::amount(c.amount, &bill.currency, l);
        out.say("bill.charge_item", &[("name", &name), ("amount", &amount)]);
    }
}

fn ask_bill_menu(out: &mut Reply<'_>, next: &FlowState) {
    let prompt = out.text("bill.menu", &[]);
    out.ask(vec![prompt], next, "bill");
}

/// After the read-out: 1 repeat, 2 largest charges, 3 another account, * menu, 0 a person.
pub(super) fn bill_menu(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    match choice(ctx, state.locale, "bill", &BILL_KEYS, input) {
        Choice::Key('1') => return begin(ctx, state, facts, out),
        Choice::Key('2') => {
            let Some((id, _)) = state.account else {
                return begin(ctx, state, facts, out);
            };
            if facts
                .account
                .as_ref()
                .ok_or(Need::AccountWithBill(id))?
                .is_none()
            {
                return begin(ctx, state, facts, out);
            }
            match facts.bill.as_ref().ok_or(Need::Bill)? {
                Ok(Some(bill)) => say_charges(state, bill, out),
                Ok(None) => out.say("bill.none", &[]),
                Err(()) => out.say("bill.unavailable", &[]),
            }
            ask_bill_menu(out, &state.goto(Node::Bill));
        }
        Choice::Key('3') => {
            ask_account_no(
                out,
                &FlowState {
                    account: None,
                    goal: Goal::Bill,
                    ..state.goto(Node::AccountNo)
                },
            );
        }
        Choice::Key('*') => ask_menu(out, &state.goto(Node::Menu)),
        Choice::Key(_) => person(ctx, state, facts, out)?,
        Choice::NoInput => out.missed(state, true, ask_bill_menu, hang_up),
        Choice::Invalid => out.missed(state, false, ask_bill_menu, hang_up),
    }
    Ok(())
}
