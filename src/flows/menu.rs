//! Arrival, language choice, the main menu and the ways out (a person, goodbye); the way to a
//! person itself is in `agents`.

pub(super) use super::agents::person;
use super::{
    Choice, Ctx, Facts, FlowState, Goal, Ident, MAX_TRIES, Need, Node, Reply, bill, choice,
    complaints, hang_up, tickets,
};
use crate::calls::step::Effect;
use crate::prompts::Locale;
use crate::telephony::{CallInput, Verb};

const MENU_KEYS: [char; 8] = ['1', '2', '3', '4', '5', '0', '*', SWITCH_KEY];
/// Switches the call to the other language, from the main menu. A caller whose account has
/// a saved language goes straight to the menu without the language choice; this is their way
/// to the other one (for this call: the saved preference is the account's, not the call's).
const SWITCH_KEY: char = '9';

/// A call arrives: identify by calling number, then the language choice unless the account
/// has a preferred language.
pub(super) fn start(
    ctx: &Ctx<'_>,
    state: &FlowState,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    let caller = facts.caller_account.as_ref().ok_or(Need::CallerAccount)?;
    let mut next = state.clone();
    if let Some(acc) = caller {
        next.account = Some((acc.id, Ident::Line));
        out.effects
            .push(Effect::IdentifyAccount { account_id: acc.id });
    }
    match caller.as_ref().and_then(|a| a.language) {
        Some(locale) => {
            next.locale = locale;
            out.locale = locale;
            out.effects.push(Effect::SetLocale { locale });
            out.say("welcome", &[]);
            ask_menu(out, &next.goto(Node::Menu));
        }
        None => {
            out.say("welcome", &[]);
            ask_language(ctx, out, &next.goto(Node::Language));
        }
    }
    Ok(())
}

/// Each language's option is spoken in its own voice.
fn ask_language(ctx: &Ctx<'_>, out: &mut Reply<'_>, next: &FlowState) {
    let prompts = [(Locale::ZhCn, "language.zh"), (Locale::EnUs, "language.en")]
        .into_iter()
        .map(|(l, key)| Verb::Say {
            text: ctx.catalog.text(l, key, &[]),
            locale: l,
        })
        .collect();
    out.ask(prompts, next, "language");
}

pub(super) fn language(ctx: &Ctx<'_>, state: &FlowState, input: &CallInput, out: &mut Reply<'_>) {
    let locale = match choice(ctx, state.locale, "language", &['1', '2'], input) {
        Choice::Key('2') => Locale::EnUs,
        Choice::Key(_) => Locale::ZhCn,
        // Mandarin (the default) unless the caller asks otherwise.
        Choice::NoInput => ctx.default_locale,
        Choice::Invalid if state.tries + 1 >= MAX_TRIES => ctx.default_locale,
        Choice::Invalid => {
            out.say("menu.invalid", &[]);
            ask_language(ctx, out, &state.retry());
            return;
        }
    };
    out.locale = locale;
    out.effects.push(Effect::SetLocale { locale });
    let next = FlowState {
        locale,
        ..state.goto(Node::Menu)
    };
    ask_menu(out, &next);
}

pub(super) fn ask_menu(out: &mut Reply<'_>, next: &FlowState) {
    let prompt = out.text("menu.prompt", &[]);
    // The way to the other language is said in that language, in its own voice: it is for a
    // caller who may not understand this one.
    let other = other_locale(next.locale);
    let switch = Verb::Say {
        text: out.catalog.text(other, switch_key(other), &[]),
        locale: other,
    };
    out.ask(vec![prompt, switch], next, "menu");
}

fn other_locale(locale: Locale) -> Locale {
    match locale {
        Locale::ZhCn => Locale::EnUs,
        Locale::EnUs => Locale::ZhCn,
    }
}

fn switch_key(to: Locale) -> &'static str {
    match to {
        Locale::ZhCn => "language.switch_zh",
        Locale::EnUs => "language.switch_en",
    }
}

pub(super) fn menu(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    match choice(ctx, state.locale, "menu", &MENU_KEYS, input) {
        Choice::Key('1') => {
            let state = FlowState {
                goal: Goal::Bill,
                ..state.clone()
            };
            return bill::begin(ctx, &state, facts, out);
        }
        Choice::Key('2') => tickets::begin_faults(out, state),
        Choice::Key('3') => complaints::begin_info(out, state),
        Choice::Key('4') => return tickets::begin_orders(ctx, state, facts, out),
        Choice::Key('5') => complaints::begin_complaint(ctx, out, state),
        Choice::Key('0') => person(ctx, state, facts, out)?,
        Choice::Key(SWITCH_KEY) => switch_language(out, state),
        Choice::Key(_) => ask_menu(
            out,
            &FlowState {
                seq: state.seq + 1,
                ..state.clone()
            },
        ),
        Choice::NoInput => out.missed(state, true, ask_menu, menu_give_up),
        Choice::Invalid => out.missed(state, false, ask_menu, menu_give_up),
    }
    Ok(())
}

/// The other language for the rest of this call (the account's saved one is left alone),
/// and the menu in it.
fn switch_language(out: &mut Reply<'_>, state: &FlowState) {
    let locale = other_locale(state.locale);
    out.locale = locale;
    out.effects.push(Effect::SetLocale { locale });
    ask_menu(
        out,
        &FlowState {
            locale,
            ..state.goto(Node::Menu)
        },
    );
}

/// After the last failed try at the menu: a person, or goodbye.
fn menu_give_up(out: &mut Reply<'_>, state: &FlowState) {
    let prompt = out.text("menu.final_offer", &[]);
    out.ask(vec![prompt], &state.goto(Node::MenuGiveUp), "offer");
}

pub(super) fn give_up(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    match choice(ctx, state.locale, "offer", &['0'], input) {
        Choice::Key(_) => person(ctx, state, facts, out)?,
        _ => out.goodbye(),
    }
    Ok(())
}

/// Asks whether the caller wants a person or the menu (after a lock, a failed
/// identification, or an unavailable billing system).
pub(super) fn ask_offer(out: &mut Reply<'_>, next: &FlowState) {
    let prompt = out.text("offer.person_or_menu", &[]);
    out.ask(vec![prompt], next, "offer");
}

pub(super) fn offer(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    match choice(ctx, state.locale, "offer", &['0', '*'], input) {
        Choice::Key('0') => person(ctx, state, facts, out)?,
        Choice::Key(SWITCH_KEY) => switch_language(out, state),
        Choice::Key(_) => ask_menu(out, &state.goto(Node::Menu)),
        Choice::NoInput => out.missed(state, true, ask_offer, hang_up),
        Choice::Invalid => out.missed(state, false, ask_offer, hang_up),
    }
    Ok(())
}

pub(super) fn after_transfer(state: &FlowState, input: &CallInput, out: &mut Reply<'_>) {
    match input {
        CallInput::TransferEnded { connected: false } => {
            out.say("person.failed", &[]);
            ask_menu(out, &state.goto(Node::Menu));
        }
        _ => out.goodbye(),
    }
}
