//! Complaints (menu option 5): a recorded message becomes a complaint ticket, its number said
//! back. Service information (option 3): texts from the prompt catalogs, which the operator
//! edits without a rebuild.

use super::menu::{ask_menu, ask_offer};
use super::{
    Choice, Ctx, Facts, FlowState, Goal, MAX_TRIES, Need, Node, Reply, TicketRequest, choice,
};
use crate::calls::step::{Effect, Milestone};
use crate::prompts::speak;
use crate::telephony::{CallInput, Verb};
use crate::tickets::{Recording, TicketKind};

/// Information topics: `info.<n>` in the catalogs.
const INFO_TOPICS: [char; 3] = ['1', '2', '3'];

/// Main menu option 3.
pub(super) fn begin_info(out: &mut Reply<'_>, state: &FlowState) {
    ask_info(out, &state.goto(Node::Info));
}

fn ask_info(out: &mut Reply<'_>, next: &FlowState) {
    let prompt = out.text("info.menu", &[]);
    out.ask(vec![prompt], next, "info");
}

fn back_to_menu(out: &mut Reply<'_>, state: &FlowState) {
    ask_menu(out, &state.goto(Node::Menu));
}

pub(super) fn info(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    match choice(ctx, state.locale, "info", &['1', '2', '3', '*', '0'], input) {
        Choice::Key(k) if INFO_TOPICS.contains(&k) => {
            out.say(&format!("info.{k}"), &[]);
            // Service information heard: the caller got what they came for.
            out.effects.push(Effect::Milestone(Milestone::SelfServed));
            ask_info(out, &state.goto(Node::Info));
        }
        Choice::Key('0') => super::menu::person(ctx, state, facts, out)?,
        Choice::Key(_) => back_to_menu(out, state),
        Choice::NoInput => out.missed(state, true, ask_info, back_to_menu),
        Choice::Invalid => out.missed(state, false, ask_info, back_to_menu),
    }
    Ok(())
}

/// Main menu option 5: the beep.
pub(super) fn begin_complaint(ctx: &Ctx<'_>, out: &mut Reply<'_>, state: &FlowState) {
    let next = FlowState {
        goal: Goal::Bill,
        ..state.goto(Node::Complaint)
    };
    ask_complaint(ctx, out, &next);
}

fn ask_complaint(ctx: &Ctx<'_>, out: &mut Reply<'_>, next: &FlowState) {
    let minutes = speak::count(i64::from(ctx.complaint_max_secs.div_ceil(60)), next.locale);
    out.say("complaint.prompt", &[("minutes", &minutes)]);
    out.verbs.push(Verb::Record {
        max_secs: ctx.complaint_max_secs,
        transcribe: ctx.transcribe,
        next: next.next_step(),
    });
}

pub(super) fn complaint(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    let (url, sid, duration_secs) = match input {
        CallInput::Recording {
            url,
            sid,
            duration_secs,
        } if *duration_secs > 0 => (url, sid, *duration_secs),
        // Silence, an empty recording, or keys instead of words.
        _ => {
            out.say("complaint.empty", &[]);
            if state.tries + 1 >= MAX_TRIES {
                ask_offer(out, &state.goto(Node::Offer));
            } else {
                ask_complaint(ctx, out, &state.retry());
            }
            return Ok(());
        }
    };
    let req = TicketRequest {
        kind: TicketKind::Complaint,
        account_id: state.account.map(|(id, _)| id),
        line_number: None,
        line_kind: None,
        customer_class: None,
        category: None,
        callback_number: ctx.caller_number.map(str::to_string),
        recording: Some(Recording {
            url: url.clone(),
            sid: sid.clone(),
            duration_secs,
        }),
        address: None,
    };
    let t = facts
        .opened
        .as_ref()
        .ok_or_else(|| Need::OpenTicket(Box::new(req)))?;
    if duration_secs >= i64::from(ctx.complaint_max_secs) {
        let minutes = speak::count(i64::from(ctx.complaint_max_secs.div_ceil(60)), state.locale);
        out.say("complaint.cut", &[("minutes", &minutes)]);
    }
    let number = speak::digits(&t.number, state.locale);
    // The reply the complaint's case owes, by the same policy that sets the case's due time.
    let due = crate::escalations::EscalationKind::Complaint.reply_due(t.opened_at);
    let deadline = super::tickets::when(ctx, state.locale, due);
    out.say(
        "complaint.opened",
        &[("number", &number), ("deadline", &deadline)],
    );
    let next = FlowState {
        ticket: Some(t.number.clone()),
        ..state.goto(Node::Opened)
    };
    let prompt = out.text("ticket.opened_menu", &[]);
    out.ask(vec![prompt], &next, "");
    Ok(())
}
