//! Faults (menu option 2) and service orders (option 4): identify the caller, pick the line,
//! say what is wrong or what is wanted, confirm the callback number, open the ticket and say
//! its number and promised time. Also a ticket's state by its number, for any caller.
//!
//! A line with a running fault ticket gets no second one: the caller hears the first and may
//! add that the fault persists.

use chrono::{DateTime, TimeZone, Utc};

use super::bill::ask_account_no;
use super::menu::{ask_menu, ask_offer, person};
use super::{
    Choice, Ctx, Facts, FlowState, Goal, MAX_TRIES, Need, Node, Reply, TicketRequest, choice, entry,
};
use crate::calls::step::{Effect, Milestone};
use crate::customers::{Account, LineKind};
use crate::prompts::speak;
use crate::telephony::{CallInput, Verb};
use crate::tickets::{self, Recording, Ticket, TicketKind};

/// Lines offered by key; an account with more is asked for the line's number.
const MAX_LISTED_LINES: usize = 9;
const FAULT_TYPES: [&str; 4] = ["no_dial_tone", "noise", "broadband", "other"];
const INSTALL_KINDS: [LineKind; 3] = [LineKind::Phone, LineKind::Broadband, LineKind::Leased];
const CHANGE_TYPES: [&str; 3] = ["plan", "features", "other"];
/// Shortest and longest callback number accepted from the keypad.
const CALLBACK_DIGITS: std::ops::RangeInclusive<usize> = 5..=20;

/// The state with nothing left over from an earlier ticket.
fn cleared(state: &FlowState, goal: Goal) -> FlowState {
    FlowState {
        goal,
        line: None,
        pick: None,
        callback: None,
        ticket: None,
        pending: None,
        ..state.clone()
    }
}

/// A fresh start at `node`.
fn fresh(state: &FlowState, node: Node, goal: Goal) -> FlowState {
    cleared(state, goal).goto(node)
}

/// Back to the main menu after the last failed try.
fn to_menu(out: &mut Reply<'_>, state: &FlowState) {
    ask_menu(out, &fresh(state, Node::Menu, Goal::Bill));
}

// ---- faults -------------------------------------------------------------------------------

/// Main menu option 2.
pub(super) fn begin_faults(out: &mut Reply<'_>, state: &FlowState) {
    ask_fault_menu(out, &fresh(state, Node::FaultMenu, Goal::Fault));
}

fn ask_fault_menu(out: &mut Reply<'_>, next: &FlowState) {
    let prompt = out.text("fault.menu", &[]);
    out.ask(vec![prompt], next, "fault");
}

pub(super) fn fault_menu(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    match choice(ctx, state.locale, "fault", &['1', '2', '*', '0'], input) {
        Choice::Key('1') => return identified(ctx, state, Goal::Fault, facts, out),
        Choice::Key('2') => ask_ticket_no(out, &state.goto(Node::TicketNo)),
        Choice::Key('*') => to_menu(out, state),
        Choice::Key(_) => person(ctx, state, facts, out)?,
        Choice::NoInput => out.missed(state, true, ask_fault_menu, to_menu),
        Choice::Invalid => out.missed(state, false, ask_fault_menu, to_menu),
    }
    Ok(())
}

/// Goes on with `goal` once the caller is identified, identifying them first if needed.
fn identified(
    ctx: &Ctx<'_>,
    state: &FlowState,
    goal: Goal,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    let state = FlowState {
        goal,
        ..state.clone()
    };
    let Some((id, _)) = state.account else {
        ask_account_no(out, &state.goto(Node::AccountNo));
        return Ok(());
    };
    match facts.account.as_ref().ok_or(Need::AccountById(id))? {
        Some(acc) => after_ident(ctx, &state, acc, facts, out),
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

/// The caller is identified as `acc`: on to what they came for.
pub(super) fn after_ident(
    ctx: &Ctx<'_>,
    state: &FlowState,
    acc: &Account,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    match state.goal {
        Goal::Fault => ask_line(ctx, state, acc, facts, out),
        _ => {
            ask_order_menu(out, &state.goto(Node::OrderMenu));
            Ok(())
        }
    }
}

/// Asks which line, or goes straight on when the account has one.
fn ask_line(
    ctx: &Ctx<'_>,
    state: &FlowState,
    acc: &Account,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    match acc.lines.as_slice() {
        [] => {
            out.say("line.none", &[]);
            ask_offer(out, &state.goto(Node::Offer));
            Ok(())
        }
        [only] => {
            let next = FlowState {
                line: Some(only.number.clone()),
                ..state.clone()
            };
            line_chosen(ctx, &next, facts, out)
        }
        lines => {
            say_lines(out, &state.goto(Node::Line), lines);
            Ok(())
        }
    }
}

/// The account the caller was identified as, while it still exists.
fn identified_account<'f>(
    state: &FlowState,
    facts: &'f Facts,
) -> Result<Option<&'f Account>, Need> {
    let Some((id, _)) = state.account else {
        return Ok(None);
    };
    Ok(facts
        .account
        .as_ref()
        .ok_or(Need::AccountById(id))?
        .as_ref())
}

/// Asks for the line, waiting at `next`.
fn say_lines(out: &mut Reply<'_>, next: &FlowState, lines: &[crate::customers::Line]) {
    let mut prompts = vec![out.text("line.intro", &[])];
    if lines.len() > MAX_LISTED_LINES {
        prompts.push(out.text("line.type_number", &[]));
        prompts.push(out.text("entry.person", &[]));
        out.ask_entry(prompts, next);
        return;
    }
    for (i, l) in lines.iter().enumerate() {
        let kind = out.words(&format!("line.kind.{}", l.kind.as_str()));
        let start = l.number.char_indices().rev().nth(3).map_or(0, |(i, _)| i);
        let tail = speak::digits(&l.number[start..], next.locale);
        let key = (i + 1).to_string();
        prompts.push(out.text(
            "line.item",
            &[("kind", &kind), ("last4", &tail), ("key", &key)],
        ));
    }
    prompts.push(out.text("line.person", &[]));
    out.ask(prompts, next, "");
}

pub(super) fn line(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    let Some(acc) = identified_account(state, facts)? else {
        to_menu(out, state);
        return Ok(());
    };
    let lines = &acc.lines;
    let picked = match input {
        // Typed alone, or before `#` when the number is typed.
        CallInput::Digits(d) if d.trim_end_matches('#') == "*" => {
            to_menu(out, state);
            return Ok(());
        }
        CallInput::Digits(d) if d.trim_end_matches('#') == "0" => {
            return person(ctx, state, facts, out);
        }
        _ if lines.len() > MAX_LISTED_LINES => entry(input).and_then(|typed| {
            // The whole number, or its last digits when they are unique.
            let ends: Vec<_> = lines
                .iter()
                .filter(|l| l.number.ends_with(&typed))
                .collect();
            match ends.as_slice() {
                [one] => Some(one.number.clone()),
                _ => lines
                    .iter()
                    .find(|l| l.number == typed)
                    .map(|l| l.number.clone()),
            }
        }),
        CallInput::Digits(d) => d
            .parse::<usize>()
            .ok()
            .filter(|k| (1..=lines.len()).contains(k))
            .map(|k| lines[k - 1].number.clone()),
        _ => None,
    };
    match picked {
        Some(number) => {
            let next = FlowState {
                line: Some(number),
                ..state.clone()
            };
            line_chosen(ctx, &next, facts, out)
        }
        None if state.tries + 1 >= MAX_TRIES => {
            out.say("menu.invalid", &[]);
            to_menu(out, state);
            Ok(())
        }
        None => {
            let no_input = matches!(input, CallInput::Timeout | CallInput::None);
            out.say(
                if no_input {
                    "menu.no_input"
                } else {
                    "menu.invalid"
                },
                &[],
            );
            say_lines(out, &state.retry(), lines);
            Ok(())
        }
    }
}

/// The line is known: a fault checks for a running ticket first; an order goes on.
fn line_chosen(
    ctx: &Ctx<'_>,
    state: &FlowState,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    let Some(line) = state.line.clone() else {
        to_menu(out, state);
        return Ok(());
    };
    if state.goal == Goal::Fault {
        match facts.active_fault.as_ref().ok_or(Need::ActiveFault(line))? {
            Some(t) => {
                say_status(ctx, state, t, out);
                let next = FlowState {
                    ticket: Some(t.number.clone()),
                    ..state.goto(Node::Duplicate)
                };
                ask_duplicate(out, &next);
            }
            None => ask_fault_type(out, &state.goto(Node::FaultType)),
        }
        return Ok(());
    }
    match state.pick.as_deref() {
        Some("change") => ask_order_change(out, &state.goto(Node::OrderChange)),
        _ => ask_callback(ctx, out, &state.goto(Node::Callback)),
    }
    Ok(())
}

fn ask_duplicate(out: &mut Reply<'_>, next: &FlowState) {
    let prompt = out.text("fault.duplicate_menu", &[]);
    out.ask(vec![prompt], next, "");
}

pub(super) fn duplicate(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    match choice(ctx, state.locale, "", &['1', '*', '0'], input) {
        Choice::Key('1') => {
            let Some(number) = state.ticket.clone() else {
                to_menu(out, state);
                return Ok(());
            };
            match facts.persisted.as_ref().ok_or(Need::Persists(number))? {
                Some(t) => {
                    let spoken = speak::digits(&t.number, state.locale);
                    out.say("fault.persists_noted", &[("number", &spoken)]);
                }
                // Resolved since it was read out: it is no longer running.
                None => out.say("fault.persists_resolved", &[]),
            }
            ask_opened(out, &state.goto(Node::Opened));
        }
        Choice::Key('*') => to_menu(out, state),
        Choice::Key(_) => person(ctx, state, facts, out)?,
        Choice::NoInput => out.missed(state, true, ask_duplicate, to_menu),
        Choice::Invalid => out.missed(state, false, ask_duplicate, to_menu),
    }
    Ok(())
}

fn ask_fault_type(out: &mut Reply<'_>, next: &FlowState) {
    let prompt = out.text("fault.type_prompt", &[]);
    out.ask(vec![prompt], next, "");
}

pub(super) fn fault_type(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    let picks = FAULT_TYPES.map(str::to_string);
    pick_detail(ctx, state, input, facts, out, &picks, ask_fault_type)
}

/// A menu of details (fault types, lines to install, changes): key `n` picks `picks[n - 1]`,
/// then the callback number is confirmed.
fn pick_detail(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
    picks: &[String],
    ask: fn(&mut Reply<'_>, &FlowState),
) -> Result<(), Need> {
    let keys: Vec<char> = ('1'..='9').take(picks.len()).chain(['*', '0']).collect();
    match choice(ctx, state.locale, "", &keys, input) {
        Choice::Key('*') => to_menu(out, state),
        Choice::Key('0') => person(ctx, state, facts, out)?,
        Choice::Key(k) => {
            let i = k.to_digit(10).map_or(0, |d| d as usize).saturating_sub(1);
            let next = FlowState {
                pick: picks.get(i).cloned(),
                ..state.goto(Node::Callback)
            };
            ask_callback(ctx, out, &next);
        }
        Choice::NoInput => out.missed(state, true, ask, to_menu),
        Choice::Invalid => out.missed(state, false, ask, to_menu),
    }
    Ok(())
}

// ---- callback number and opening the ticket -------------------------------------------------

/// Confirms the calling number for the callback, or asks for one when it is withheld.
fn ask_callback(ctx: &Ctx<'_>, out: &mut Reply<'_>, next: &FlowState) {
    match ctx.caller_number {
        Some(n) => {
            let spoken = speak::phone(n, next.locale);
            let prompt = out.text("callback.confirm", &[("number", &spoken)]);
            out.ask(vec![prompt], next, "");
        }
        None => ask_ticket_callback_no(out, &next.goto(Node::CallbackNo)),
    }
}

/// Asks for a number to call back, typed and finished by `#`, waiting at `next`.
pub(super) fn ask_callback_no(out: &mut Reply<'_>, next: &FlowState) {
    let prompt = out.text("callback.enter", &[]);
    out.ask_entry(vec![prompt], next);
}

/// The same for a ticket's callback, where 0 reaches a person (a caller asking for a
/// callback instead of holding has asked for a person already).
fn ask_ticket_callback_no(out: &mut Reply<'_>, next: &FlowState) {
    let prompts = vec![
        out.text("callback.enter", &[]),
        out.text("entry.person", &[]),
    ];
    out.ask_entry(prompts, next);
}

/// A lone 0 typed at a keypad entry (with or without `#`): the way to a person, since no
/// number or ticket number is 0.
fn typed_zero(input: &CallInput) -> bool {
    input
        .digits()
        .is_some_and(|d| d.trim_end_matches('#') == "0")
}

pub(super) fn callback(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    match choice(ctx, state.locale, "", &['1', '2', '*', '0'], input) {
        Choice::Key('1') => return open(ctx, state, facts, out),
        Choice::Key('2') => ask_ticket_callback_no(out, &state.goto(Node::CallbackNo)),
        Choice::Key('*') => to_menu(out, state),
        Choice::Key(_) => person(ctx, state, facts, out)?,
        Choice::NoInput | Choice::Invalid if state.tries + 1 >= MAX_TRIES => {
            out.say("menu.invalid", &[]);
            to_menu(out, state);
        }
        Choice::NoInput | Choice::Invalid => {
            out.say("menu.invalid", &[]);
            ask_callback(ctx, out, &state.retry());
        }
    }
    Ok(())
}

pub(super) fn callback_no(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    if input.digits().is_some_and(|d| d.starts_with('*')) {
        to_menu(out, state);
        return Ok(());
    }
    if typed_zero(input) {
        return person(ctx, state, facts, out);
    }
    match typed_callback(input) {
        Some(number) => {
            let next = FlowState {
                callback: Some(number),
                ..state.clone()
            };
            open(ctx, &next, facts, out)
        }
        None => {
            let no_input = matches!(input, CallInput::Timeout | CallInput::None);
            out.missed(state, no_input, ask_ticket_callback_no, to_menu);
            Ok(())
        }
    }
}

/// A callback number typed on the keypad, if it is one (5 to 20 digits).
pub(super) fn typed_callback(input: &CallInput) -> Option<String> {
    entry(input).filter(|d| CALLBACK_DIGITS.contains(&d.len()))
}

/// What the state says to open.
fn request(ctx: &Ctx<'_>, state: &FlowState, acc: &Account) -> Option<TicketRequest> {
    let line = state
        .line
        .as_ref()
        .and_then(|n| acc.lines.iter().find(|l| &l.number == n));
    let pick = state.pick.as_deref()?;
    let (kind, category, line_kind) = match state.goal {
        Goal::Fault => (TicketKind::Fault, pick, line.map(|l| l.kind)),
        _ => match pick.split_once('.') {
            Some(("installation", what)) => (TicketKind::Installation, what, LineKind::parse(what)),
            Some(("change", what)) => (TicketKind::Change, what, line.map(|l| l.kind)),
            _ if pick == "move" => (TicketKind::Move, "move", line.map(|l| l.kind)),
            _ => return None,
        },
    };
    // A fault, move or change is about one of the caller's own lines.
    if kind != TicketKind::Installation && line.is_none() {
        return None;
    }
    Some(TicketRequest {
        kind,
        account_id: Some(acc.id),
        line_number: line.map(|l| l.number.clone()),
        line_kind,
        customer_class: Some(acc.customer_class),
        category: Some(category.to_string()),
        callback_number: state
            .callback
            .clone()
            .or_else(|| ctx.caller_number.map(str::to_string)),
        recording: None,
        address: None,
    })
}

/// Where an installation or move is done, as far as the caller has said.
enum Site {
    /// Not asked yet.
    Unasked,
    /// The account's address on file, confirmed.
    OnFile,
    /// Spoken after the tone.
    Spoken(Recording),
    /// Not given (silence on every try): an agent calls to take it.
    Unknown,
}

/// Opens the ticket the state describes and says its number and promised time; an
/// installation or move asks where first.
fn open(ctx: &Ctx<'_>, state: &FlowState, facts: &Facts, out: &mut Reply<'_>) -> Result<(), Need> {
    open_at(ctx, state, facts, out, Site::Unasked)
}

fn open_at(
    ctx: &Ctx<'_>,
    state: &FlowState,
    facts: &Facts,
    out: &mut Reply<'_>,
    site: Site,
) -> Result<(), Need> {
    let Some((id, _)) = state.account else {
        to_menu(out, state);
        return Ok(());
    };
    let acc = facts.account.as_ref().ok_or(Need::AccountById(id))?;
    let Some((acc, req)) = acc
        .as_ref()
        .and_then(|a| Some((a, request(ctx, state, a)?)))
    else {
        // The account or its line went away mid-call: start the task again.
        out.say("line.none", &[]);
        to_menu(out, state);
        return Ok(());
    };
    let req = match site {
        Site::Unasked if matches!(req.kind, TicketKind::Installation | TicketKind::Move) => {
            ask_site(ctx, out, state, acc);
            return Ok(());
        }
        Site::OnFile => TicketRequest {
            address: acc.address.clone(),
            ..req
        },
        Site::Spoken(recording) => TicketRequest {
            recording: Some(recording),
            ..req
        },
        Site::Unasked | Site::Unknown => req,
    };
    let t = facts
        .opened
        .as_ref()
        .ok_or_else(|| Need::OpenTicket(Box::new(req)))?;
    say_opened(ctx, state, t, out);
    // The fault or order is in and its number said: a task finished without a person.
    out.effects.push(Effect::Milestone(Milestone::SelfServed));
    let next = FlowState {
        ticket: Some(t.number.clone()),
        ..state.goto(Node::Opened)
    };
    ask_opened(out, &next);
    Ok(())
}

/// A complaint is answered, not repaired: its resolution is the reply the customer got.
pub(super) fn state_words(t: &Ticket) -> String {
    let answered = t.kind == TicketKind::Complaint
        && matches!(
            t.state,
            tickets::TicketState::Resolved | tickets::TicketState::Closed
        );
    let state = if answered {
        "answered"
    } else {
        t.state.as_str()
    };
    format!("ticket.state.{state}")
}

pub(super) fn when(ctx: &Ctx<'_>, locale: crate::prompts::Locale, at_ms: i64) -> String {
    let tz = ctx.tz;
    let to_local = |ms: i64| {
        DateTime::<Utc>::from_timestamp_millis(ms).map(|d| tz.from_utc_datetime(&d.naive_utc()))
    };
    match (to_local(at_ms), to_local(ctx.now)) {
        (Some(at), Some(now)) => speak::deadline(at, now, locale),
        _ => String::new(),
    }
}

pub(super) fn say_opened(ctx: &Ctx<'_>, state: &FlowState, t: &Ticket, out: &mut Reply<'_>) {
    let number = speak::digits(&t.number, state.locale);
    let Some(deadline) = t.deadline_at else {
        out.say("ticket.opened", &[("number", &number)]);
        return;
    };
    let deadline = when(ctx, state.locale, deadline);
    let key = match t.kind {
        TicketKind::Fault => "ticket.opened_fault",
        _ => "ticket.opened_order",
    };
    out.say(key, &[("number", &number), ("deadline", &deadline)]);
    if matches!(t.kind, TicketKind::Installation | TicketKind::Move) {
        match (&t.address, &t.recording) {
            (Some(_), _) => {}
            (None, Some(_)) => out.say("order.address_kept", &[]),
            (None, None) => out.say("order.address_later", &[]),
        }
    }
}

fn ask_opened(out: &mut Reply<'_>, next: &FlowState) {
    let prompt = out.text("ticket.opened_menu", &[]);
    out.ask(vec![prompt], next, "");
}

/// After a ticket was opened (or noted): 1 hear it again, * menu, 0 a person; silence ends
/// the call politely, since the task is done.
pub(super) fn opened(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    match choice(ctx, state.locale, "", &['1', '*', '0'], input) {
        Choice::Key('1') => {
            let Some(number) = state.ticket.clone() else {
                to_menu(out, state);
                return Ok(());
            };
            match facts.ticket.as_ref().ok_or(Need::TicketByNumber(number))? {
                Some(t) => say_opened(ctx, state, t, out),
                None => to_menu(out, state),
            }
            ask_opened(out, &state.goto(Node::Opened));
        }
        Choice::Key('*') => to_menu(out, state),
        Choice::Key('0') => person(ctx, state, facts, out)?,
        _ => out.goodbye(),
    }
    Ok(())
}

// ---- ticket state by number -----------------------------------------------------------------

fn ask_ticket_no(out: &mut Reply<'_>, next: &FlowState) {
    let prompts = vec![
        out.text("ticket.number_prompt", &[]),
        out.text("entry.person", &[]),
    ];
    out.ask_entry(prompts, next);
}

pub(super) fn ticket_no(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    if input.digits().is_some_and(|d| d.starts_with('*')) {
        to_menu(out, state);
        return Ok(());
    }
    if typed_zero(input) {
        return person(ctx, state, facts, out);
    }
    let Some(number) = entry(input) else {
        let no_input = matches!(input, CallInput::Timeout | CallInput::None);
        out.missed(state, no_input, ask_ticket_no, to_menu);
        return Ok(());
    };
    let spoken = speak::digits(&number, state.locale);
    let found = if tickets::is_valid_number(&number) {
        facts
            .ticket
            .as_ref()
            .ok_or_else(|| Need::TicketByNumber(number.clone()))?
            .as_ref()
    } else {
        None
    };
    match found {
        Some(t) => {
            say_status(ctx, state, t, out);
            let next = FlowState {
                ticket: Some(t.number.clone()),
                ..state.goto(Node::TicketStatus)
            };
            ask_status_menu(out, &next);
        }
        None => {
            out.say("ticket.unknown", &[("number", &spoken)]);
            if state.tries + 1 >= MAX_TRIES {
                to_menu(out, state);
            } else {
                ask_ticket_no(out, &state.retry());
            }
        }
    }
    Ok(())
}

/// A ticket's number, kind, state and promised time, as said to any caller: nothing about
/// the customer.
fn say_status(ctx: &Ctx<'_>, state: &FlowState, t: &Ticket, out: &mut Reply<'_>) {
    let l = state.locale;
    let number = speak::digits(&t.number, l);
    let kind = out.words(&format!("ticket.kind.{}", t.kind.as_str()));
    let st = out.words(&state_words(t));
    out.say(
        "ticket.status",
        &[("number", &number), ("kind", &kind), ("state", &st)],
    );
    if let Some(at) = t.resolved_at.filter(|_| !t.state.is_active()) {
        let date = when(ctx, l, at);
        out.say("ticket.status_resolved", &[("when", &date)]);
    } else if let (Some(deadline), true) = (t.deadline_at, t.state.is_active()) {
        let d = when(ctx, l, deadline);
        if t.is_breached(ctx.now) {
            out.say("ticket.status_late", &[("deadline", &d)]);
        } else {
            out.say("ticket.status_due", &[("deadline", &d)]);
        }
    }
    // Hearing a ticket's state (by its number, or a line's running fault) is a task done.
    out.effects.push(Effect::Milestone(Milestone::SelfServed));
}

fn ask_status_menu(out: &mut Reply<'_>, next: &FlowState) {
    let prompt = out.text("ticket.status_menu", &[]);
    out.ask(vec![prompt], next, "");
}

pub(super) fn status_menu(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    match choice(ctx, state.locale, "", &['1', '2', '*', '0'], input) {
        Choice::Key('1') => {
            let Some(number) = state.ticket.clone() else {
                to_menu(out, state);
                return Ok(());
            };
            match facts.ticket.as_ref().ok_or(Need::TicketByNumber(number))? {
                Some(t) => say_status(ctx, state, t, out),
                None => to_menu(out, state),
            }
            ask_status_menu(out, &state.goto(Node::TicketStatus));
        }
        Choice::Key('2') => ask_ticket_no(out, &state.goto(Node::TicketNo)),
        Choice::Key('*') => to_menu(out, state),
        Choice::Key('0') => person(ctx, state, facts, out)?,
        _ => out.goodbye(),
    }
    Ok(())
}

// ---- service orders -------------------------------------------------------------------------

/// Main menu option 4.
pub(super) fn begin_orders(
    ctx: &Ctx<'_>,
    state: &FlowState,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    identified(ctx, &cleared(state, Goal::Order), Goal::Order, facts, out)
}

fn ask_order_menu(out: &mut Reply<'_>, next: &FlowState) {
    let prompt = out.text("order.menu", &[]);
    out.ask(vec![prompt], next, "order");
}

pub(super) fn order_menu(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    match choice(
        ctx,
        state.locale,
        "order",
        &['1', '2', '3', '*', '0'],
        input,
    ) {
        Choice::Key('1') => ask_order_install(out, &state.goto(Node::OrderInstall)),
        Choice::Key(k @ ('2' | '3')) => {
            let Some((id, _)) = state.account else {
                to_menu(out, state);
                return Ok(());
            };
            let next = FlowState {
                pick: Some(if k == '2' { "move" } else { "change" }.to_string()),
                ..state.clone()
            };
            match facts.account.as_ref().ok_or(Need::AccountById(id))? {
                Some(acc) => return ask_line(ctx, &next, acc, facts, out),
                None => to_menu(out, state),
            }
        }
        Choice::Key('*') => to_menu(out, state),
        Choice::Key(_) => person(ctx, state, facts, out)?,
        Choice::NoInput => out.missed(state, true, ask_order_menu, to_menu),
        Choice::Invalid => out.missed(state, false, ask_order_menu, to_menu),
    }
    Ok(())
}

fn ask_order_install(out: &mut Reply<'_>, next: &FlowState) {
    let prompt = out.text("order.install_prompt", &[]);
    out.ask(vec![prompt], next, "");
}

pub(super) fn order_install(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    let picks = INSTALL_KINDS.map(|k| format!("installation.{}", k.as_str()));
    // A new line is about no existing one.
    let state = FlowState {
        line: None,
        ..state.clone()
    };
    pick_detail(ctx, &state, input, facts, out, &picks, ask_order_install)
}

fn ask_order_change(out: &mut Reply<'_>, next: &FlowState) {
    let prompt = out.text("order.change_prompt", &[]);
    out.ask(vec![prompt], next, "");
}

pub(super) fn order_change(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    let picks = CHANGE_TYPES.map(|what| format!("change.{what}"));
    pick_detail(ctx, state, input, facts, out, &picks, ask_order_change)
}

// ---- where an installation or move is done --------------------------------------------------

/// Longest spoken address, in seconds.
const ADDRESS_MAX_SECS: u32 = 60;

/// A move goes to a new address; anything else ordered here is an installation.
fn is_move(state: &FlowState) -> bool {
    state.pick.as_deref() == Some("move")
}

/// Reads an installation's address on file back for confirmation; otherwise asks for the
/// address after the tone (a move's, after saying where it leaves from).
fn ask_site(ctx: &Ctx<'_>, out: &mut Reply<'_>, state: &FlowState, acc: &Account) {
    match (&acc.address, is_move(state)) {
        (Some(address), false) => {
            ask_address_confirm(out, &state.goto(Node::OrderAddress), address)
        }
        (from, moving) => {
            if let (Some(address), true) = (from, moving) {
                out.say("order.move_from", &[("address", address)]);
            }
            ask_address_record(ctx, out, &state.goto(Node::OrderAddressRecord));
        }
    }
}

fn ask_address_confirm(out: &mut Reply<'_>, next: &FlowState, address: &str) {
    let prompt = out.text("order.address_confirm", &[("address", address)]);
    out.ask(vec![prompt], next, "");
}

fn ask_address_record(ctx: &Ctx<'_>, out: &mut Reply<'_>, next: &FlowState) {
    let key = if is_move(next) {
        "order.address_move"
    } else {
        "order.address_install"
    };
    out.say(key, &[]);
    out.verbs.push(Verb::Record {
        max_secs: ADDRESS_MAX_SECS,
        transcribe: ctx.transcribe,
        next: next.next_step(),
    });
}

/// The address on file was read back: 1 it is right, 2 say another.
pub(super) fn order_address(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    let Some(acc) = identified_account(state, facts)? else {
        to_menu(out, state);
        return Ok(());
    };
    let Some(address) = acc.address.as_deref() else {
        // The address was removed mid-call: ask for it instead.
        ask_address_record(ctx, out, &state.goto(Node::OrderAddressRecord));
        return Ok(());
    };
    let again = |out: &mut Reply<'_>, next: &FlowState| ask_address_confirm(out, next, address);
    match choice(ctx, state.locale, "", &['1', '2', '*', '0'], input) {
        Choice::Key('1') => return open_at(ctx, state, facts, out, Site::OnFile),
        Choice::Key('2') => ask_address_record(ctx, out, &state.goto(Node::OrderAddressRecord)),
        Choice::Key('*') => to_menu(out, state),
        Choice::Key(_) => person(ctx, state, facts, out)?,
        Choice::NoInput => out.missed(state, true, again, to_menu),
        Choice::Invalid => out.missed(state, false, again, to_menu),
    }
    Ok(())
}

/// The address after the tone. Silence on every try still opens the order (what was asked
/// for is known); an agent then calls to take the address.
pub(super) fn address_record(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    match input {
        CallInput::Recording {
            url,
            sid,
            duration_secs,
        } if *duration_secs > 0 => {
            let spoken = Recording {
                url: url.clone(),
                sid: sid.clone(),
                duration_secs: *duration_secs,
            };
            open_at(ctx, state, facts, out, Site::Spoken(spoken))
        }
        _ if state.tries + 1 >= MAX_TRIES => {
            out.say("order.address_empty", &[]);
            open_at(ctx, state, facts, out, Site::Unknown)
        }
        _ => {
            out.say("order.address_empty", &[]);
            ask_address_record(ctx, out, &state.retry());
            Ok(())
        }
    }
}
