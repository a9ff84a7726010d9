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
//! - No bill detail is spoken unless the caller is identified: by calling number, or by
//!   account number and PIN. The PIN is checked under the lock of `crate::lockout`, and an
//!   unknown account number, a wrong PIN and a locked account sound alike.

pub mod agents;
mod bill;
mod complaints;
mod menu;
pub mod survey;
mod tickets;

use crate::billing::Bill;
use crate::calls::step::Effect;
use crate::customers::Account;
use crate::customers::{CustomerClass, LineKind};
use crate::prompts::{Catalog, Locale};
use crate::telephony::{CallInput, Gather, Hook, NextStep, Verb};
use crate::tickets::{Recording, Ticket, TicketKind};

/// Failed tries at one prompt before the caller is offered a way out.
pub const MAX_TRIES: u8 = 3;
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
    /// The caller left the agent queue (`CallInput::QueueLeft`).
    AfterQueue,
    /// Offered a callback instead of holding (agents closed, a long wait, a failed queue).
    QueueOffer,
    /// Typing the number to call back for a callback instead of holding.
    QueueCallbackNo,
    /// Faults: report one, or hear a ticket's state by its number.
    FaultMenu,
    /// Typing a ticket number.
    TicketNo,
    /// Heard a ticket's state.
    TicketStatus,
    /// Choosing the line a fault or order is about.
    Line,
    /// Choosing the fault type.
    FaultType,
    /// The line already has a running fault ticket (`FlowState::ticket`).
    Duplicate,
    /// Confirming the number to call back.
    Callback,
    /// Typing another number to call back.
    CallbackNo,
    /// Heard the number of the ticket just opened.
    Opened,
    /// Service orders: installation, move or change.
    OrderMenu,
    /// The kind of line to install.
    OrderInstall,
    /// The kind of change.
    OrderChange,
    /// Confirming the address on file for an installation.
    OrderAddress,
    /// Recording the address of an installation or move.
    OrderAddressRecord,
    /// Service information topics.
    Info,
    /// Recording a complaint.
    Complaint,
}

impl Node {
    /// Every node.
    pub const ALL: [Node; 28] = [
        Node::Start,
        Node::Language,
        Node::Menu,
        Node::MenuGiveUp,
        Node::AccountNo,
        Node::Pin,
        Node::Bill,
        Node::Offer,
        Node::AfterTransfer,
        Node::AfterQueue,
        Node::QueueOffer,
        Node::QueueCallbackNo,
        Node::FaultMenu,
        Node::TicketNo,
        Node::TicketStatus,
        Node::Line,
        Node::FaultType,
        Node::Duplicate,
        Node::Callback,
        Node::CallbackNo,
        Node::Opened,
        Node::OrderMenu,
        Node::OrderInstall,
        Node::OrderChange,
        Node::OrderAddress,
        Node::OrderAddressRecord,
        Node::Info,
        Node::Complaint,
    ];

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
            Node::AfterQueue => "queue.done",
            Node::QueueOffer => "queue.offer",
            Node::QueueCallbackNo => "queue.callback_number",
            Node::FaultMenu => "fault",
            Node::TicketNo => "ticket.number",
            Node::TicketStatus => "ticket.status",
            Node::Line => "line",
            Node::FaultType => "fault.type",
            Node::Duplicate => "fault.duplicate",
            Node::Callback => "callback",
            Node::CallbackNo => "callback.number",
            Node::Opened => "ticket.opened",
            Node::OrderMenu => "order",
            Node::OrderInstall => "order.install",
            Node::OrderChange => "order.change",
            Node::OrderAddress => "order.address",
            Node::OrderAddressRecord => "order.address_record",
            Node::Info => "info",
            Node::Complaint => "complaint",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Node::ALL.into_iter().find(|n| n.name() == s)
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

/// What identification by account number and PIN leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Goal {
    #[default]
    Bill,
    Fault,
    Order,
}

impl Goal {
    fn code(self) -> &'static str {
        match self {
            Goal::Bill => "bill",
            Goal::Fault => "fault",
            Goal::Order => "order",
        }
    }
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
    pub goal: Goal,
    /// The line a fault or order is about.
    pub line: Option<String>,
    /// What was picked for the ticket: a fault type, or `<order kind>.<detail>`.
    pub pick: Option<String>,
    /// A callback number the caller typed.
    pub callback: Option<String>,
    /// The ticket being talked about.
    pub ticket: Option<String>,
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
            goal: Goal::Bill,
            line: None,
            pick: None,
            callback: None,
            ticket: None,
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
        if self.goal != Goal::Bill {
            q.append_pair("g", self.goal.code());
        }
        for (k, v) in [
            ("ln", &self.line),
            ("k", &self.pick),
            ("cb", &self.callback),
            ("tk", &self.ticket),
        ] {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        NextStep::new(Hook::Step, q.finish())
    }

    /// Parses the state from a step URL's query; unknown keys are ignored (the adapter may
    /// add its own, such as a timeout marker).
    pub fn from_query(query: &str) -> Result<Self, StateError> {
        let (mut seq, mut node, mut tries, mut locale) = (None, None, None, None);
        let (mut account, mut ident, mut pending) = (None, None, None);
        let mut goal = Goal::Bill;
        let (mut line, mut pick, mut callback, mut ticket) = (None, None, None, None);
        // Values we put there ourselves are short and plain; anything else is not ours.
        let short = |v: &str, what: &'static str| {
            if v.is_empty() || v.len() > 40 || !v.chars().all(|c| c.is_ascii_graphic()) {
                Err(StateError(what))
            } else {
                Ok(Some(v.to_string()))
            }
        };
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
                "g" => {
                    goal = [Goal::Bill, Goal::Fault, Goal::Order]
                        .into_iter()
                        .find(|g| g.code() == v)
                        .ok_or(StateError("goal"))?
                }
                "ln" => line = short(&v, "line")?,
                "k" => pick = short(&v, "pick")?,
                "cb" => callback = short(&v, "callback number")?,
                "tk" => ticket = short(&v, "ticket")?,
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
            goal,
            line,
            pick,
            callback,
            ticket,
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
    /// An account by id, as `AccountById`, for a step that reads its bill out: where the
    /// bills are kept with the accounts, the bill (`Facts::bill`) comes in the same read;
    /// otherwise `Bill` is asked next.
    AccountWithBill(i64),
    /// An account by the number the caller typed.
    AccountByNo(String),
    /// Whether `pin` is the PIN of the account in `Facts::account` (or of none), checked
    /// under the PIN lock.
    PinCheck { pin: String },
    /// The bill of the account in `Facts::account`.
    Bill,
    /// The running fault ticket of a line, if any.
    ActiveFault(String),
    /// A ticket by its number.
    TicketByNumber(String),
    /// Open a ticket (once per step, however often the step is retried).
    OpenTicket(Box<TicketRequest>),
    /// Record on a ticket that the caller says the fault persists (once per step).
    Persists(String),
    /// Whether agents take calls now, how many callers wait, and this call's place in the
    /// agent queue if it had one.
    AgentQueue,
    /// Record that this call left the agent queue with this result (once, however often the
    /// step is retried).
    LeaveQueue(String),
    /// The steps of this call so far, for a short account of what the caller did.
    CallPath,
}

/// A ticket the caller asked for; the step service adds the deadline, channel and origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketRequest {
    pub kind: TicketKind,
    pub account_id: Option<i64>,
    pub line_number: Option<String>,
    pub line_kind: Option<LineKind>,
    pub customer_class: Option<CustomerClass>,
    pub category: Option<String>,
    pub callback_number: Option<String>,
    pub recording: Option<Recording>,
    /// Where an installation is done, as confirmed by the caller.
    pub address: Option<String>,
}

/// Answers to `Need`s, accumulated across the retries of one step.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub caller_account: Option<Option<Account>>,
    pub account: Option<Option<Account>>,
    pub pin: Option<crate::lockout::Verdict>,
    /// `Err(())` when the billing source failed or timed out.
    pub bill: Option<Result<Option<Bill>, ()>>,
    pub active_fault: Option<Option<Ticket>>,
    pub ticket: Option<Option<Ticket>>,
    /// The ticket opened (or, for a retried step, opened before).
    pub opened: Option<Ticket>,
    /// The ticket after the persisting fault was recorded; `None` inside when it could not
    /// be (the ticket was resolved meanwhile).
    pub persisted: Option<Option<Ticket>>,
    pub queue: Option<agents::QueueFacts>,
    /// The leaving of the agent queue was recorded.
    pub left_queue: bool,
    /// The steps of this call so far, oldest first.
    pub path: Option<Vec<crate::calls::CallStep>>,
}

/// Settings and context a step reads.
pub struct Ctx<'a> {
    pub catalog: &'a Catalog,
    /// The carrier's id of this call: what a callback request is raised once for.
    pub call_sid: &'a str,
    /// How a caller reaches a person: the agent queue, or a transfer to `agent`.
    pub transfer: crate::agents::TransferMode,
    /// Where "a person" is for `TransferMode::Dial`: a number or SIP address.
    pub agent: Option<&'a str>,
    /// The carrier's agent queue.
    pub queue: &'a str,
    /// Above this expected wait, a callback is offered instead of holding.
    pub max_wait_secs: i64,
    pub default_locale: Locale,
    /// Epoch milliseconds.
    pub now: i64,
    /// The operator's time zone: deadlines are spoken in it.
    pub tz: chrono_tz::Tz,
    /// Longest complaint message, seconds.
    pub complaint_max_secs: u32,
    /// Ask the carrier for a transcript of complaint messages.
    pub transcribe: bool,
    /// The number the caller is calling from, if it is one (for "call me back here").
    pub caller_number: Option<&'a str>,
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
        Node::MenuGiveUp => menu::give_up(ctx, state, input, facts, &mut out)?,
        Node::Offer => menu::offer(ctx, state, input, facts, &mut out)?,
        Node::AfterTransfer => menu::after_transfer(state, input, &mut out),
        Node::AfterQueue => agents::after_queue(ctx, state, input, facts, &mut out)?,
        Node::QueueOffer => agents::offer(ctx, state, input, facts, &mut out)?,
        Node::QueueCallbackNo => agents::callback_no(ctx, state, input, facts, &mut out)?,
        Node::AccountNo => bill::account_no(state, input, &mut out)?,
        Node::Pin => bill::pin(ctx, state, input, facts, &mut out)?,
        Node::Bill => bill::bill_menu(ctx, state, input, facts, &mut out)?,
        Node::FaultMenu => tickets::fault_menu(ctx, state, input, facts, &mut out)?,
        Node::TicketNo => tickets::ticket_no(ctx, state, input, facts, &mut out)?,
        Node::TicketStatus => tickets::status_menu(ctx, state, input, facts, &mut out)?,
        Node::Line => tickets::line(ctx, state, input, facts, &mut out)?,
        Node::FaultType => tickets::fault_type(ctx, state, input, facts, &mut out)?,
        Node::Duplicate => tickets::duplicate(ctx, state, input, facts, &mut out)?,
        Node::Callback => tickets::callback(ctx, state, input, facts, &mut out)?,
        Node::CallbackNo => tickets::callback_no(ctx, state, input, facts, &mut out)?,
        Node::Opened => tickets::opened(ctx, state, input, facts, &mut out)?,
        Node::OrderMenu => tickets::order_menu(ctx, state, input, facts, &mut out)?,
        Node::OrderInstall => tickets::order_install(ctx, state, input, facts, &mut out)?,
        Node::OrderChange => tickets::order_change(ctx, state, input, facts, &mut out)?,
        Node::OrderAddress => tickets::order_address(ctx, state, input, facts, &mut out)?,
        Node::OrderAddressRecord => tickets::address_record(ctx, state, input, facts, &mut out)?,
        Node::Info => complaints::info(ctx, state, input, facts, &mut out)?,
        Node::Complaint => complaints::complaint(ctx, state, input, facts, &mut out)?,
    }
    let mut input_log = log_input(input, state.node == Node::Pin);
    if let (Node::Pin, Some(verdict)) = (state.node, facts.pin) {
        // For the people who read the history: why the caller was not let in.
        input_log = format!("{input_log} (PIN {})", verdict.as_str());
    }
    Ok(Outcome {
        verbs: out.verbs,
        effects: out.effects,
        input_log,
    })
}

/// The input as recorded; whatever arrives at a secret prompt (a PIN) never reaches the
/// history, typed or spoken.
fn log_input(input: &CallInput, secret: bool) -> String {
    match input {
        CallInput::None => String::new(),
        CallInput::Digits(d) if secret => format!("digits:{}", "*".repeat(d.len())),
        CallInput::Speech { .. } if secret => "speech:(masked)".to_string(),
        CallInput::Digits(d) => format!("digits:{d}"),
        CallInput::Speech { text, confidence } => format!("speech:{text} ({confidence:.2})"),
        CallInput::Timeout => "timeout".to_string(),
        CallInput::TransferEnded { connected } => format!(
            "transfer:{}",
            if *connected { "answered" } else { "unanswered" }
        ),
        CallInput::Recording { duration_secs, .. } => format!("recording:{duration_secs}s"),
        CallInput::QueueLeft { result } => format!("queue:{result}"),
    }
}

/// A choice the caller made at a menu, from a key or from speech.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Key(char),
    NoInput,
    Invalid,
}

/// Interprets a one-key menu input; speech goes to the key whose keywords
/// (`speech.<menu>.<key>`, comma separated, case-insensitive) match it best, see `best_key`.
fn choice(ctx: &Ctx<'_>, locale: Locale, menu: &str, keys: &[char], input: &CallInput) -> Choice {
    match input {
        CallInput::None
        | CallInput::Timeout
        | CallInput::TransferEnded { .. }
        | CallInput::QueueLeft { .. }
        | CallInput::Recording { .. } => Choice::NoInput,
        CallInput::Digits(d) => {
            let mut chars = d.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if keys.contains(&c) => Choice::Key(c),
                (None, _) => Choice::NoInput,
                _ => Choice::Invalid,
            }
        }
        CallInput::Speech { text, .. } => {
            let keywords: Vec<(char, String)> = keys
                .iter()
                .map(|&k| {
                    let name = if k == '*' {
                        "star".to_string()
                    } else {
                        k.to_string()
                    };
                    let words = ctx
                        .catalog
                        .text(locale, &format!("speech.{menu}.{name}"), &[]);
                    (k, words)
                })
                .collect();
            best_key(text, &keywords).map_or(Choice::Invalid, Choice::Key)
        }
    }
}

/// The key a transcript asks for, scoring every key rather than taking the first with any
/// keyword in it ("complaint about the bill" / "投诉账单" is a complaint, not a bill enquiry).
///
/// The rule:
/// 1. A keyword matches case-insensitively where it occurs in the transcript. A keyword of
///    ASCII letters matches whole words only ("one" is not in "phone"), and a keyword of one
///    other character (the spoken digits 一, 二…) only as the whole transcript, since such a
///    character is part of many words (一下, 一个).
/// 2. A match inside a longer match of another key does not count: the longer words say more.
/// 3. A key scores the characters of the transcript its matches cover; the highest score
///    wins, so the more specific and the more of what was said, the better.
/// 4. A tie goes to the key matched first in the transcript: callers name what they want
///    before what it is about ("投诉账单", "complaint about the bill").
/// 5. No match at all is no key.
fn best_key(transcript: &str, keywords: &[(char, String)]) -> Option<char> {
    let said = transcript.to_lowercase();
    let whole = said.trim_matches(|c: char| !c.is_alphanumeric());
    // (key, start, end) in bytes of `said`.
    let mut matches: Vec<(char, usize, usize)> = Vec::new();
    for (key, words) in keywords {
        for word in words.split(',').map(|w| w.trim().to_lowercase()) {
            if word.is_empty() {
                continue;
            }
            let single = word.chars().count() == 1 && !word.is_ascii();
            if single {
                if whole == word {
                    let start = said.len()
                        - said
                            .trim_start_matches(|c: char| !c.is_alphanumeric())
                            .len();
                    matches.push((*key, start, start + word.len()));
                }
                continue;
            }
            let ascii_word = word.is_ascii();
            for (start, _) in said.match_indices(&word) {
                let end = start + word.len();
                let bounded = !ascii_word
                    || (!said[..start]
                        .chars()
                        .next_back()
                        .is_some_and(char::is_alphanumeric)
                        && !said[end..]
                            .chars()
                            .next()
                            .is_some_and(char::is_alphanumeric));
                if bounded {
                    matches.push((*key, start, end));
                }
            }
        }
    }
    let inside_longer = |&(key, start, end): &(char, usize, usize)| {
        matches
            .iter()
            .any(|&(k, s, e)| k != key && s <= start && end <= e && e - s > end - start)
    };
    let kept: Vec<(char, usize, usize)> = matches
        .iter()
        .copied()
        .filter(|m| !inside_longer(m))
        .collect();
    let mut best: Option<(usize, usize, char)> = None;
    for &(key, _, _) in &kept {
        let mut spans: Vec<(usize, usize)> = kept
            .iter()
            .filter(|m| m.0 == key)
            .map(|&(_, s, e)| (s, e))
            .collect();
        spans.sort_unstable();
        let first = spans.first().map_or(0, |s| s.0);
        // Characters covered, overlaps counted once.
        let (mut covered, mut upto) = (0, 0);
        for (s, e) in spans {
            let from = s.max(upto);
            if e > from {
                covered += said[from..e].chars().count();
                upto = e;
            }
        }
        let better = match best {
            None => true,
            Some((score, at, _)) => covered > score || (covered == score && first < at),
        };
        if better {
            best = Some((covered, first, key));
        }
    }
    best.map(|(_, _, key)| key)
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

    /// A message without variables, to put inside another.
    fn words(&self, key: &str) -> String {
        self.catalog.text(self.locale, key, &[])
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
            self.catalog.hints(self.locale, speech).to_vec()
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
        ask: impl FnOnce(&mut Reply<'_>, &FlowState),
        last: impl FnOnce(&mut Reply<'_>, &FlowState),
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
