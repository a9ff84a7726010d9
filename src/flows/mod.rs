//! The IVR as pure functions: a step takes the call's state, the caller's input and the facts
//! it asked for, and returns what to say and do, the next state and the side effects.
//!
//! Rules:
//! - No I/O here. When a step needs data (the caller's account, a bill, a PIN check) it
//!   returns `Err(Need)`; the step service fetches it into `Facts` and calls again.
//! - The state travels in the carrier's next request URL (signed by the carrier, so it cannot
//!   be forged) and is stored with every step; `seq` numbers the steps of a call, which is what
//!   makes a retried request recognisable.
//! - Every prompt that waits for input comes back on silence; every node counts its failed
//!   tries and gives up after `MAX_TRIES` with a way out (a person, the menu, or goodbye):
//!   never an endless loop.
//! - No bill detail is spoken unless the caller is identified (by calling number, or by account
//!   number and PIN) and the account's bill disclosure is not locked.

mod bill;
mod menu;

use crate::billing::Bill;
use crate::customers::Account;
use crate::prompts::{Catalog, Locale};
use crate::store::Effect;
use crate::telephony::{CallInput, Gather, NextStep, Verb};

/// Failed tries at one prompt before the caller is offered a way out.
pub const MAX_TRIES: u8 = 3;
/// Path of every step after the first.
pub const STEP_PATH: &str = "/twilio/step";
/// Longest account number or PIN accepted from the keypad.
const MAX_ENTRY_DIGITS: usize = 20;

/// Where a call is in the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// The call has just arrived.
    Start,
    /// Choosing Mandarin or English.
    Language,
    /// The main menu.
    Menu,
    /// The menu failed `MAX_TRIES` times: a person or goodbye.
    MenuGiveUp,
    /// Typing an account number for a bill enquiry.
    AccountNo,
    /// Typing the PIN of `FlowState::pending`.
    Pin,
    /// Hearing the bill; then repeat, charges, another account, menu or a person.
    Bill,
    /// Offered a person or the menu (locked account, failed identification, billing down).
    Offer,
    /// Back from a transfer to a person.
    AfterTransfer,
}

impl Node {
    /// Name in URLs and call history.
    pub fn name(self) -> &'static str {
        match self {
            Node::Start => "start",
            Node::Language => "language",
            Node::Menu => "menu",
            Node::MenuGiveUp => "menu.give_up",
            Node::AccountNo => "ident.account",
            Node::Pin => "ident.pin",
            Node::Bill => "bill",
            Node::Offer => "offer",
            Node::AfterTransfer => "transfer.done",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Node::Start,
            Node::Language,
            Node::Menu,
            Node::MenuGiveUp,
            Node::AccountNo,
            Node::Pin,
            Node::Bill,
            Node::Offer,
            Node::AfterTransfer,
        ]
        .into_iter()
        .find(|n| n.name() == s)
    }
}

/// How the caller was identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ident {
    /// By the calling number, which is one of the account's lines.
    Line,
    /// By account number and PIN during this call.
    Pin,
}

/// The state of one call, carried in the next step's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowState {
    /// Number of the step this state is the input of (the first request is 0).
    pub seq: i32,
    pub node: Node,
    /// Failed tries at `node`.
    pub tries: u8,
    pub locale: Locale,
    /// The identified account and how it was identified.
    pub account: Option<(i64, Ident)>,
    /// An account number typed and waiting for its PIN.
    pub pending: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid step state: {0}")]
pub struct StateError(pub &'static str);

impl FlowState {
    /// The state of a call that has just arrived.
    pub fn start(locale: Locale) -> Self {
        FlowState {
            seq: 0,
            node: Node::Start,
            tries: 0,
            locale,
            account: None,
            pending: None,
        }
    }

    /// The URL (path and query) that carries this state to the next request.
    pub fn next_step(&self) -> NextStep {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("s", &self.seq.to_string());
        q.append_pair("n", self.node.name());
        q.append_pair("t", &self.tries.to_string());
        q.append_pair("l", self.locale.code());
        if let Some((id, how)) = self.account {
            q.append_pair("a", &id.to_string());
            q.append_pair("i", if how == Ident::Line { "line" } else { "pin" });
        }
        if let Some(p) = &self.pending {
            q.append_pair("p", p);
        }
        NextStep(format!("{STEP_PATH}?{}", q.finish()))
    }

    /// Parses the state from a step URL's query; unknown keys are ignored (the adapter may
    /// add its own, such as a timeout marker).
    pub fn from_query(query: &str) -> Result<Self, StateError> {
        let (mut seq, mut node, mut tries, mut locale) = (None, None, None, None);
        let (mut account, mut ident, mut pending) = (None, None, None);
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "s" => seq = Some(v.parse::<i32>().map_err(|_| StateError("step number"))?),
                "n" => node = Some(Node::parse(&v).ok_or(StateError("node"))?),
                "t" => tries = Some(v.parse::<u8>().map_err(|_| StateError("tries"))?),
                "l" => {
                    locale = Some(match &*v {
                        "zh" => Locale::ZhCn,
                        "en" => Locale::EnUs,
                        _ => return Err(StateError("locale")),
                    })
                }
                "a" => account = Some(v.parse::<i64>().map_err(|_| StateError("account"))?),
                "i" => {
                    ident = Some(match &*v {
                        "line" => Ident::Line,
                        "pin" => Ident::Pin,
                        _ => return Err(StateError("identification")),
                    })
                }
                "p" => {
                    if v.is_empty() || v.len() > MAX_ENTRY_DIGITS {
                        return Err(StateError("pending account"));
                    }
                    pending = Some(v.into_owned())
                }
                _ => {}
            }
        }
        let seq = seq.ok_or(StateError("step number missing"))?;
        if !(1..=10_000).contains(&seq) {
            return Err(StateError("step number out of range"));
        }
        let account = match (account, ident) {
            (Some(a), Some(i)) => Some((a, i)),
            (None, None) => None,
            _ => return Err(StateError("account without identification")),
        };
        Ok(FlowState {
            seq,
            node: node.ok_or(StateError("node missing"))?,
            tries: tries.ok_or(StateError("tries missing"))?.min(MAX_TRIES),
            locale: locale.ok_or(StateError("locale missing"))?,
            account,
            pending,
        })
    }

    /// The next state at `node` with the try count reset.
    fn goto(&self, node: Node) -> FlowState {
        FlowState {
            seq: self.seq + 1,
            node,
            tries: 0,
            ..self.clone()
        }
    }

    /// The next state at the same node with one more failed try.
    fn retry(&self) -> FlowState {
        FlowState {
            seq: self.seq + 1,
            tries: self.tries + 1,
            ..self.clone()
        }
    }
}

/// Data a step asks for before it can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// The account owning the calling number.
    CallerAccount,
    /// An account by id (fresh, for its lock state).
    AccountById(i64),
    /// An account by the number the caller typed.
    AccountByNo(String),
    /// Whether `pin` is the PIN of the account in `Facts::account`.
    PinCheck { pin: String },
    /// The bill of the account in `Facts::account`.
    Bill,
}

/// Answers to `Need`s, accumulated across the retries of one step.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub caller_account: Option<Option<Account>>,
    pub account: Option<Option<Account>>,
    pub pin_ok: Option<bool>,
    /// `Err(())` when the billing source failed or timed out.
    pub bill: Option<Result<Option<Bill>, ()>>,
}

/// Settings and context a step reads.
pub struct Ctx<'a> {
    pub catalog: &'a Catalog,
    /// Where "a person" is: a number or SIP address; `None` until agents exist.
    pub agent: Option<&'a str>,
    pub default_locale: Locale,
    pub pin_max_failures: i32,
    pub pin_lock_minutes: i64,
    /// Epoch milliseconds.
    pub now: i64,
}

/// What a step answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub verbs: Vec<Verb>,
    pub effects: Vec<Effect>,
    /// The caller's input as recorded in the history (PINs masked).
    pub input_log: String,
}

impl Outcome {
    /// The texts spoken, in order, for the call history.
    pub fn said(&self) -> Vec<&str> {
        fn collect<'v>(verbs: &'v [Verb], out: &mut Vec<&'v str>) {
            for v in verbs {
                match v {
                    Verb::Say { text, .. } => out.push(text),
                    Verb::Gather(g) => collect(&g.prompts, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        collect(&self.verbs, &mut out);
        out
    }
}

/// Runs one step. `Err(Need)` asks for a fact; call again with it filled in.
pub fn step(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
) -> Result<Outcome, Need> {
    let mut out = Reply::new(ctx, state.locale);
    match state.node {
        Node::Start => menu::start(ctx, state, facts, &mut out)?,
        Node::Language => menu::language(ctx, state, input, &mut out),
        Node::Menu => menu::menu(ctx, state, input, facts, &mut out)?,
        Node::MenuGiveUp => menu::give_up(ctx, state, input, &mut out),
        Node::Offer => menu::offer(ctx, state, input, &mut out),
        Node::AfterTransfer => menu::after_transfer(state, input, &mut out),
        Node::AccountNo => bill::account_no(ctx, state, input, facts, &mut out)?,
        Node::Pin => bill::pin(ctx, state, input, facts, &mut out)?,
        Node::Bill => bill::bill_menu(ctx, state, input, facts, &mut out)?,
    }
    Ok(Outcome {
        verbs: out.verbs,
        effects: out.effects,
        input_log: input_log(state, input),
    })
}

/// The input as recorded: PIN digits never reach the history.
fn input_log(state: &FlowState, input: &CallInput) -> String {
    match input {
        CallInput::None => String::new(),
        CallInput::Digits(d) if state.node == Node::Pin => {
            format!("digits:{}", "*".repeat(d.len()))
        }
        CallInput::Digits(d) => format!("digits:{d}"),
        CallInput::Speech { text, confidence } => format!("speech:{text} ({confidence:.2})"),
        CallInput::Timeout => "timeout".to_string(),
        CallInput::TransferEnded { connected } => format!(
            "transfer:{}",
            if *connected { "answered" } else { "unanswered" }
        ),
    }
}

/// A choice the caller made at a menu, from a key or from speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Key(char),
    NoInput,
    Invalid,
}

/// Interprets a one-key menu input; speech is matched against the catalog's keywords
/// `speech.<menu>.<key>` (comma separated, case-insensitive, substring match).
fn choice(ctx: &Ctx<'_>, locale: Locale, menu: &str, keys: &[char], input: &CallInput) -> Choice {
    match input {
        CallInput::None | CallInput::Timeout | CallInput::TransferEnded { .. } => Choice::NoInput,
        CallInput::Digits(d) => {
            let mut chars = d.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if keys.contains(&c) => Choice::Key(c),
                (None, _) => Choice::NoInput,
                _ => Choice::Invalid,
            }
        }
        CallInput::Speech { text, .. } => {
            let said = text.to_lowercase();
            keys.iter()
                .copied()
                .find(|k| {
                    let name = if *k == '*' {
                        "star".to_string()
                    } else {
                        k.to_string()
                    };
                    let words = ctx
                        .catalog
                        .text(locale, &format!("speech.{menu}.{name}"), &[]);
                    words
                        .split(',')
                        .map(|w| w.trim().to_lowercase())
                        .any(|w| !w.is_empty() && said.contains(&w))
                })
                .map_or(Choice::Invalid, Choice::Key)
        }
    }
}

/// Keypad entry of digits (an account number or PIN), as typed before `#`.
fn entry(input: &CallInput) -> Option<String> {
    let d = match input {
        CallInput::Digits(d) => d.trim_end_matches('#').to_string(),
        // Speech may carry digits ("1 2 3 4"); keep only the digits.
        CallInput::Speech { text, .. } => text.chars().filter(char::is_ascii_digit).collect(),
        _ => return None,
    };
    (!d.is_empty() && d.len() <= MAX_ENTRY_DIGITS && d.chars().all(|c| c.is_ascii_digit()))
        .then_some(d)
}

/// Builds the verbs of one answer.
struct Reply<'c> {
    catalog: &'c Catalog,
    locale: Locale,
    verbs: Vec<Verb>,
    effects: Vec<Effect>,
}

impl<'c> Reply<'c> {
    fn new(ctx: &Ctx<'c>, locale: Locale) -> Self {
        Reply {
            catalog: ctx.catalog,
            locale,
            verbs: Vec::new(),
            effects: Vec::new(),
        }
    }

    fn text(&self, key: &str, vars: &[(&str, &str)]) -> Verb {
        Verb::Say {
            text: self.catalog.text(self.locale, key, vars),
            locale: self.locale,
        }
    }

    fn say(&mut self, key: &str, vars: &[(&str, &str)]) {
        let v = self.text(key, vars);
        self.verbs.push(v);
    }

    /// Waits for one key (or speech matching a key) while speaking `prompts`.
    fn ask(&mut self, prompts: Vec<Verb>, next: &FlowState, speech: &str) {
        let hints = if speech.is_empty() {
            Vec::new()
        } else {
            self.hints(speech)
        };
        self.verbs.push(Verb::Gather(Gather {
            prompts,
            speech: !speech.is_empty(),
            num_digits: Some(1),
            finish_on_key: None,
            timeout_secs: 6,
            locale: self.locale,
            hints,
            next: next.next_step(),
        }));
    }

    /// Waits for a keypad entry finished by `#`.
    fn ask_entry(&mut self, prompts: Vec<Verb>, next: &FlowState) {
        self.verbs.push(Verb::Gather(Gather {
            prompts,
            speech: false,
            num_digits: None,
            finish_on_key: Some('#'),
            timeout_secs: 10,
            locale: self.locale,
            hints: Vec::new(),
            next: next.next_step(),
        }));
    }

    /// The first keyword of each key of a speech menu, as recogniser hints.
    fn hints(&self, menu: &str) -> Vec<String> {
        ['1', '2', '3', '4', '5', '0', '*']
            .iter()
            .map(|k| {
                if *k == '*' {
                    "star".to_string()
                } else {
                    k.to_string()
                }
            })
            .map(|k| format!("speech.{menu}.{k}"))
            .filter(|key| self.catalog.has(key))
            .filter_map(|key| {
                let words = self.catalog.text(self.locale, &key, &[]);
                words.split(',').next().map(|w| w.trim().to_string())
            })
            .collect()
    }

    fn goodbye(&mut self) {
        self.say("goodbye", &[]);
        self.verbs.push(Verb::Hangup);
    }

    /// A failed try (`no_input` or an invalid entry): says why, then asks again, or after
    /// the last try takes the way out `last`.
    fn missed(
        &mut self,
        state: &FlowState,
        no_input: bool,
        ask: fn(&mut Reply<'_>, &FlowState),
        last: fn(&mut Reply<'_>, &FlowState),
    ) {
        self.say(
            if no_input {
                "menu.no_input"
            } else {
                "menu.invalid"
            },
            &[],
        );
        if state.tries + 1 >= MAX_TRIES {
            last(self, state);
        } else {
            ask(self, &state.retry());
        }
    }
}

/// The way out after the last failed try where nothing else is left: goodbye.
fn hang_up(out: &mut Reply<'_>, _: &FlowState) {
    out.goodbye();
}

#[cfg(test)]
mod tests;
