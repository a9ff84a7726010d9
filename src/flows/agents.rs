//! A person: the agent queue (or a straight transfer), the callback offered instead of holding,
//! what callers hear while they wait, and what agents hear about a caller before they take them.
//!
//! Rules:
//! - In queue mode a caller is queued only while agents take calls (their hours, on the
//!   operator's calendar) and the expected wait is at most `max_wait_secs`; otherwise, and
//!   whenever the queue fails, they are offered a callback (and, while agents are open, to hold
//!   anyway). Dial mode transfers to the configured number, with a whisper.
//! - A callback request is one escalation per call (source `call:<CallSid>`), however often the
//!   step is retried or the caller asks again. A caller who waited keeps their place: the
//!   escalation's place in line is when they entered the queue. It is due an hour after agents
//!   next open (an hour from now when they are open).
//! - Agents hear a whisper before a caller is connected: who it is (name and account when
//!   identified, else only the last digits of the number), what they did in the menu, and the
//!   account's open tickets. Whispers are spoken in the agent's own language when the agent is
//!   known (the locale of their console account), else in the hotline's default language;
//!   callers always hear their own language.
//! - Pure like every flow: the step service and the adapter fetch the data and play the verbs.

use chrono::{DateTime, TimeZone, Utc};

use super::menu::ask_menu;
use super::tickets::{ask_callback_no, typed_callback};
use super::{Choice, Ctx, Facts, FlowState, Need, Node, Reply, choice};
use crate::agents::TransferMode;
use crate::calls::CallStep;
use crate::calls::step::{Effect, Milestone};
use crate::customers::Account;
use crate::escalations::{Escalation, EscalationKind, NewEscalation};
use crate::prompts::{Catalog, Locale, speak};
use crate::telephony::{CallInput, Gather, Hook, NextStep, Verb};
use crate::tickets::Ticket;

const HOUR_MS: i64 = 3_600_000;
/// Open tickets an agent hears about, at most.
const MAX_WHISPERED_TICKETS: usize = 3;

/// The agent queue as a caller asking for a person finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFacts {
    /// Agents take calls now.
    pub open: bool,
    /// When they next take calls (now when open); `None` when not within the search horizon.
    pub next_open: Option<i64>,
    /// Callers waiting now, this one excluded.
    pub waiting: i64,
    /// The wait a caller joining now can expect, seconds.
    pub expected_secs: i64,
    /// When this call entered the queue, if it did.
    pub entered_at: Option<i64>,
}

/// What an agent is told about a caller.
#[derive(Debug, Clone, Copy)]
pub struct CallerInfo<'a> {
    pub account: Option<&'a Account>,
    pub from_number: &'a str,
    /// The caller's steps so far, oldest first.
    pub steps: &'a [CallStep],
    /// The account's tickets; only the running ones are mentioned.
    pub tickets: &'a [Ticket],
}

/// The wait URL for a caller speaking `locale`.
fn wait_url(locale: Locale) -> NextStep {
    NextStep::new(Hook::QueueWait, format!("l={}", locale.code()))
}

/// Hands the caller to a person: the agent queue (or a callback offered instead), or in dial
/// mode a transfer with a whisper.
pub(super) fn person(
    ctx: &Ctx<'_>,
    state: &FlowState,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    // Asking is what counts (the call is not contained), whatever the queue then offers.
    out.effects.push(Effect::Milestone(Milestone::Person));
    if ctx.transfer == TransferMode::Dial {
        match ctx.agent {
            Some(to) => {
                out.say("person.connecting", &[]);
                let mut q = form_urlencoded::Serializer::new(String::new());
                q.append_pair("call", ctx.call_sid);
                out.verbs.push(Verb::Transfer {
                    to: to.to_string(),
                    next: Some(state.goto(Node::AfterTransfer).next_step()),
                    whisper: Some(NextStep::new(Hook::Whisper, q.finish())),
                });
            }
            None => {
                out.say("person.unavailable", &[]);
                ask_menu(out, &state.goto(Node::Menu));
            }
        }
        return Ok(());
    }
    let q = facts.queue.as_ref().ok_or(Need::AgentQueue)?;
    if q.open && q.expected_secs <= ctx.max_wait_secs {
        enqueue(ctx, state, out);
    } else {
        ask_offer(ctx, out, q, &state.goto(Node::QueueOffer));
    }
    Ok(())
}

/// Into the queue. The place and the expected wait are not said here: the carrier asks for
/// the wait document at once, which says them (`wait`), and a caller should hear them once.
fn enqueue(ctx: &Ctx<'_>, state: &FlowState, out: &mut Reply<'_>) {
    out.say("agents.queue_connecting", &[]);
    out.verbs.push(Verb::Enqueue {
        queue: ctx.queue.to_string(),
        wait: wait_url(state.locale),
        next: state.goto(Node::AfterQueue).next_step(),
    });
}

/// "about 3 minutes", rounded up, at least one.
fn wait_words(catalog: &Catalog, locale: Locale, secs: i64) -> String {
    let minutes = (secs.max(0) + 59) / 60;
    if minutes <= 1 {
        catalog.text(locale, "agents.wait.one", &[])
    } else {
        let n = speak::count(minutes, locale);
        catalog.text(locale, "agents.wait.many", &[("minutes", &n)])
    }
}

fn local(ctx: &Ctx<'_>, ms: i64) -> Option<DateTime<chrono_tz::Tz>> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|d| ctx.tz.from_utc_datetime(&d.naive_utc()))
}

/// When agents are back: "today at 8 AM", "tomorrow at 8 AM", "on June 3rd at 8 AM".
fn at_words(ctx: &Ctx<'_>, locale: Locale, at_ms: i64) -> Option<String> {
    let (at, now) = (local(ctx, at_ms)?, local(ctx, ctx.now)?);
    let time = speak::time_of_day(at.time(), locale);
    let (day, today) = (at.date_naive(), now.date_naive());
    Some(if day == today {
        ctx.catalog
            .text(locale, "agents.at.today", &[("time", &time)])
    } else if today.succ_opt() == Some(day) {
        ctx.catalog
            .text(locale, "agents.at.tomorrow", &[("time", &time)])
    } else {
        let date = speak::date(day, locale);
        ctx.catalog.text(
            locale,
            "agents.at.date",
            &[("date", &date), ("time", &time)],
        )
    })
}

/// Why there is no queue (closed, or a long wait), then the choices: a callback, holding
/// anyway while agents are open, the menu.
fn ask_offer(ctx: &Ctx<'_>, out: &mut Reply<'_>, q: &QueueFacts, next: &FlowState) {
    out.effects
        .push(Effect::Milestone(Milestone::CallbackOffered));
    let l = next.locale;
    let mut prompts = Vec::new();
    if !q.open {
        match q.next_open.and_then(|at| at_words(ctx, l, at)) {
            Some(when) => prompts.push(out.text("agents.closed", &[("when", &when)])),
            None => prompts.push(out.text("agents.closed_long", &[])),
        }
    } else {
        let wait = wait_words(ctx.catalog, l, q.expected_secs);
        prompts.push(out.text("agents.busy", &[("wait", &wait)]));
    }
    match ctx.caller_number {
        Some(n) => {
            let number = speak::phone(n, l);
            // Only a caller who was in the queue has a place to keep; after hours or before
            // joining a long queue, a callback is promised, not a place.
            let key = if q.entered_at.is_some() {
                "agents.offer_callback_keep"
            } else {
                "agents.offer_callback"
            };
            prompts.push(out.text(key, &[("number", &number)]));
        }
        None => prompts.push(out.text("agents.offer_callback_enter", &[])),
    }
    if q.open {
        prompts.push(out.text("agents.offer_hold", &[]));
    }
    prompts.push(out.text("agents.offer_menu", &[]));
    out.ask(prompts, next, "");
}

fn back_to_menu(out: &mut Reply<'_>, state: &FlowState) {
    ask_menu(out, &state.goto(Node::Menu));
}

/// The callback offer: 1 a callback, 2 hold anyway (only while agents are open), * the menu.
pub(super) fn offer(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    let q = facts.queue.as_ref().ok_or(Need::AgentQueue)?;
    let keys: &[char] = if q.open {
        &['1', '2', '*']
    } else {
        &['1', '*']
    };
    match choice(ctx, state.locale, "", keys, input) {
        Choice::Key('1') => match ctx.caller_number {
            Some(n) => return confirm(ctx, state, facts, n, out),
            None => ask_callback_no(out, &state.goto(Node::QueueCallbackNo)),
        },
        Choice::Key('2') => enqueue(ctx, state, out),
        Choice::Key(_) => back_to_menu(out, state),
        c @ (Choice::NoInput | Choice::Invalid) => out.missed(
            state,
            c == Choice::NoInput,
            |out, next| ask_offer(ctx, out, q, next),
            |out, _| out.goodbye(),
        ),
    }
    Ok(())
}

/// A number typed for the callback (the caller's own is withheld), checked like a ticket's
/// callback number; `*` returns to the menu.
pub(super) fn callback_no(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    if input.digits().is_some_and(|d| d.starts_with('*')) {
        back_to_menu(out, state);
        return Ok(());
    }
    match typed_callback(input) {
        Some(number) => confirm(ctx, state, facts, &number, out),
        None => {
            let no_input = matches!(input, CallInput::Timeout | CallInput::None);
            out.missed(state, no_input, ask_callback_no, back_to_menu);
            Ok(())
        }
    }
}

/// The caller left the queue: for a callback (keeping their place), because the call was
/// taken or hung up, or because the queue failed (then a callback is offered).
pub(super) fn after_queue(
    ctx: &Ctx<'_>,
    state: &FlowState,
    input: &CallInput,
    facts: &Facts,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    // A request without a result is no carrier's: treat it as a failed queue.
    let result = match input {
        CallInput::QueueLeft { result } => result.as_str(),
        _ => "error",
    };
    if !facts.left_queue {
        return Err(Need::LeaveQueue(result.to_string()));
    }
    match result {
        "leave" => match ctx.caller_number {
            Some(n) => return confirm(ctx, state, facts, n, out),
            None => ask_callback_no(out, &state.goto(Node::QueueCallbackNo)),
        },
        // Talked to an agent, or gone: nothing more to say. A call redirected out of the
        // queue runs other instructions already.
        "bridged" | "bridging-in-process" | "redirected-from-bridged" | "redirected" | "hangup" => {
            out.verbs.push(Verb::Hangup)
        }
        _ => {
            let q = facts.queue.as_ref().ok_or(Need::AgentQueue)?;
            out.say("agents.queue_failed", &[]);
            ask_offer(ctx, out, q, &state.goto(Node::QueueOffer));
        }
    }
    Ok(())
}

/// Raises the callback request (once per call) and tells the caller when to expect it.
fn confirm(
    ctx: &Ctx<'_>,
    state: &FlowState,
    facts: &Facts,
    number: &str,
    out: &mut Reply<'_>,
) -> Result<(), Need> {
    let q = facts.queue.as_ref().ok_or(Need::AgentQueue)?;
    let path = facts.path.as_ref().ok_or(Need::CallPath)?;
    let opens = if q.open {
        ctx.now
    } else {
        q.next_open.unwrap_or(ctx.now)
    };
    let due_at = opens.max(ctx.now) + HOUR_MS;
    let mut e = NewEscalation::new(
        EscalationKind::TransferCallback,
        format!("call:{}", ctx.call_sid),
        summary(ctx, q, path),
        ctx.now,
    );
    e.account_id = state.account.map(|(id, _)| id);
    e.call_sid = Some(ctx.call_sid.to_string());
    e.callback_number = Some(number.to_string());
    e.queued_at = q.entered_at.unwrap_or(ctx.now);
    e.due_at = due_at;
    out.effects.push(Effect::Escalate(Box::new(e)));
    let l = state.locale;
    let spoken = speak::phone(number, l);
    let deadline = match (local(ctx, due_at), local(ctx, ctx.now)) {
        (Some(due), Some(now)) => speak::deadline(due, now, l),
        _ => String::new(),
    };
    out.say(
        "agents.callback_confirmed",
        &[("number", &spoken), ("deadline", &deadline)],
    );
    out.goodbye();
    Ok(())
}

/// The escalation's summary, for the console (in English, like every other summary).
fn summary(ctx: &Ctx<'_>, q: &QueueFacts, path: &[CallStep]) -> String {
    let minutes = |ms: i64| (ms.max(0) + 59_999) / 60_000;
    let why = match q.entered_at {
        Some(at) => format!("left the agent queue after {} min", minutes(ctx.now - at)),
        None if !q.open => "agents were closed".to_string(),
        None => format!(
            "expected wait about {} min",
            minutes(q.expected_secs * 1000)
        ),
    };
    let did = describe_path(ctx.catalog, Locale::EnUs, path);
    format!("Callback instead of holding ({why}). In the menu: {did}.")
}

// ---- what callers hear while they wait --------------------------------------------------------

/// A wait document: the caller's place and expected wait, the offer of a callback (keeping
/// their place) on 1, and hold music; the carrier comes back with `g=1` on a key, and asks for
/// the document again when it ends. Only what a wait document may contain (Say, Play, Gather,
/// Redirect, Leave).
pub fn wait(
    catalog: &Catalog,
    locale: Locale,
    position: i64,
    expected_secs: i64,
    hold_music: &str,
) -> Vec<Verb> {
    let pos = speak::count(position.max(1), locale);
    let wait = wait_words(catalog, locale, expected_secs);
    let say = |text: String| Verb::Say { text, locale };
    let mut prompts = vec![
        say(catalog.text(
            locale,
            "agents.wait_position",
            &[("position", &pos), ("wait", &wait)],
        )),
        say(catalog.text(locale, "agents.wait_offer", &[])),
    ];
    let music = hold_music.trim();
    if music.is_empty() {
        prompts.push(Verb::Pause { seconds: 20 });
    } else {
        prompts.push(Verb::Play {
            url: music.to_string(),
        });
    }
    vec![Verb::Gather(Gather {
        prompts,
        speech: false,
        num_digits: Some(1),
        finish_on_key: None,
        timeout_secs: 5,
        locale,
        hints: Vec::new(),
        next: NextStep::new(Hook::QueueWait, format!("l={}&g=1", locale.code())),
    })]
}

/// The answer to a key pressed while waiting: 1 leaves the queue for a callback (the queue's
/// next step confirms it), anything else is `None`: the wait document again.
pub fn wait_key(pressed: Option<&str>) -> Option<Vec<Verb>> {
    (pressed == Some("1")).then(|| vec![Verb::Leave])
}

/// What a waiting caller hears as an agent takes them.
pub fn bridge(catalog: &Catalog, locale: Locale) -> Vec<Verb> {
    vec![Verb::Say {
        text: catalog.text(locale, "agents.bridge", &[]),
        locale,
    }]
}

// ---- what agents hear -------------------------------------------------------------------------

/// A caller on the agent line who is not an active agent.
pub fn agent_refused(catalog: &Catalog, locale: Locale) -> Vec<Verb> {
    vec![
        Verb::Say {
            text: catalog.text(locale, "agents.line_refused", &[]),
            locale,
        },
        Verb::Hangup,
    ]
}

/// The agent takes the first waiting caller, after hearing about them.
pub fn agent_take(
    whisper: String,
    agent_locale: Locale,
    queue: &str,
    caller_locale: Locale,
) -> Vec<Verb> {
    vec![
        Verb::Say {
            text: whisper,
            locale: agent_locale,
        },
        Verb::DialQueue {
            queue: queue.to_string(),
            bridge: NextStep::new(Hook::QueueBridge, format!("l={}", caller_locale.code())),
        },
    ]
}

/// Nobody waits: 1 checks again; silence ends the agent's call.
pub fn agent_idle(catalog: &Catalog, locale: Locale) -> Vec<Verb> {
    vec![Verb::Gather(Gather {
        prompts: vec![Verb::Say {
            text: catalog.text(locale, "agents.line_empty", &[]),
            locale,
        }],
        speech: false,
        num_digits: Some(1),
        finish_on_key: None,
        timeout_secs: 8,
        locale,
        hints: Vec::new(),
        next: NextStep::new(Hook::AgentLine, ""),
    })]
}

/// The agent said nothing when nobody was waiting.
pub fn agent_bye(catalog: &Catalog, locale: Locale) -> Vec<Verb> {
    vec![
        Verb::Say {
            text: catalog.text(locale, "agents.line_bye", &[]),
            locale,
        },
        Verb::Hangup,
    ]
}

/// What an agent hears about a caller before taking them: who, what they did, open tickets.
pub fn whisper(
    catalog: &Catalog,
    locale: Locale,
    tz: chrono_tz::Tz,
    now: i64,
    c: &CallerInfo<'_>,
) -> String {
    let mut parts = vec![who(catalog, locale, c.account, c.from_number)];
    let keys = path_keys(c.steps);
    parts.push(if keys.is_empty() {
        catalog.text(locale, "whisper.path_none", &[])
    } else {
        let path = describe_path(catalog, locale, c.steps);
        catalog.text(locale, "whisper.path", &[("path", &path)])
    });
    let to_local = |ms: i64| {
        DateTime::<Utc>::from_timestamp_millis(ms).map(|d| tz.from_utc_datetime(&d.naive_utc()))
    };
    for t in c
        .tickets
        .iter()
        .filter(|t| t.state.is_active())
        .take(MAX_WHISPERED_TICKETS)
    {
        let number = speak::digits(&t.number, locale);
        let kind = catalog.text(locale, &format!("ticket.kind.{}", t.kind.as_str()), &[]);
        let state = catalog.text(locale, &super::tickets::state_words(t), &[]);
        let vars = [("kind", &*kind), ("number", &*number), ("state", &*state)];
        match (t.deadline_at.and_then(to_local), to_local(now)) {
            (Some(d), Some(n)) => {
                let deadline = speak::deadline(d, n, locale);
                let mut v = vars.to_vec();
                v.push(("deadline", &deadline));
                let key = if t.is_breached(now) {
                    "whisper.ticket_late"
                } else {
                    "whisper.ticket"
                };
                parts.push(catalog.text(locale, key, &v));
            }
            _ => parts.push(catalog.text(locale, "whisper.ticket_open", &vars)),
        }
    }
    parts.join(" ")
}

/// Who is calling: the account, else the end of the number.
fn who(catalog: &Catalog, locale: Locale, account: Option<&Account>, from: &str) -> String {
    if let Some(a) = account {
        let no = speak::digits(&a.account_no, locale);
        return catalog.text(
            locale,
            "whisper.identified",
            &[("name", &a.name), ("account", &no)],
        );
    }
    match last_digits(from) {
        Some(last) => catalog.text(locale, "whisper.unidentified", &[("last", &last)]),
        None => catalog.text(locale, "whisper.anonymous", &[]),
    }
}

/// The last four digits of a number, spoken; `None` when it has too few to say anything.
fn last_digits(number: &str) -> Option<String> {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 5 {
        return None;
    }
    let last: String = digits[digits.len() - 4..].iter().collect();
    Some(speak::digits(&last, Locale::EnUs))
}

/// What the caller did, as catalog keys under `whisper.step`, in order, without repeats.
fn path_keys(steps: &[CallStep]) -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = Vec::new();
    let push = |k: &'static str, keys: &mut Vec<&'static str>| {
        if keys.last() != Some(&k) {
            keys.push(k);
        }
    };
    let mut prev: Option<&str> = None;
    for s in steps {
        let digits = s.input.strip_prefix("digits:");
        let key = match (s.node.as_str(), digits) {
            ("menu", Some("1")) => Some("bill"),
            ("menu", Some("2")) => Some("fault"),
            ("menu", Some("3")) => Some("info"),
            ("menu", Some("4")) => Some("order"),
            ("menu", Some("5")) => Some("complaint"),
            ("menu.give_up", d) => {
                push("menu_failed", &mut keys);
                (d == Some("0")).then_some("person")
            }
            ("fault", Some("2")) => Some("ticket"),
            ("offer", Some("0")) if prev == Some("ident.pin") => Some("person_after_pin"),
            ("offer", Some("0")) => Some("person_offer"),
            (_, Some("0")) => Some("person"),
            _ => None,
        };
        if let Some(k) = key {
            push(k, &mut keys);
        }
        prev = Some(s.node.as_str());
    }
    keys
}

/// "bill enquiry, then asked for a person after a locked PIN"; "asked for a person straight
/// away" when nothing else was done.
fn describe_path(catalog: &Catalog, locale: Locale, steps: &[CallStep]) -> String {
    let keys = path_keys(steps);
    if keys.is_empty() {
        return catalog.text(locale, "whisper.step.nothing", &[]);
    }
    let then = catalog.text(locale, "whisper.step.then", &[]);
    keys.iter()
        .map(|k| catalog.text(locale, &format!("whisper.step.{k}"), &[]))
        .collect::<Vec<_>>()
        .join(&then)
}

/// A whisper alone, for the answering leg of a transfer: the carrier bridges when it ends.
pub fn whisper_only(text: String, locale: Locale) -> Vec<Verb> {
    vec![Verb::Say { text, locale }]
}

// ---- click-to-call ----------------------------------------------------------------------------

/// The agent answered a click-to-call: one sentence about the case, then the customer is
/// dialed from the hotline's number; a case without a number to call ends there.
pub fn connect(
    catalog: &Catalog,
    locale: Locale,
    e: &Escalation,
    customer_name: Option<&str>,
    caller_id: Option<&str>,
) -> Vec<Verb> {
    let say = |text: String| Verb::Say { text, locale };
    let Some(number) = e.callback_number.as_deref() else {
        return vec![
            say(catalog.text(locale, "whisper.connect_no_number", &[])),
            Verb::Hangup,
        ];
    };
    let customer = match (customer_name, last_digits(number)) {
        (Some(name), _) => name.to_string(),
        (None, Some(last)) => catalog.text(locale, "whisper.customer_number", &[("last", &last)]),
        (None, None) => catalog.text(locale, "whisper.anonymous", &[]),
    };
    let kind = catalog.text(locale, &format!("escalation.kind.{}", e.kind.as_str()), &[]);
    vec![
        say(catalog.text(
            locale,
            "whisper.connect",
            &[
                ("kind", &kind),
                ("customer", &customer),
                ("summary", &e.summary),
            ],
        )),
        Verb::Connect {
            to: number.to_string(),
            caller_id: caller_id.map(str::to_string),
        },
        Verb::Hangup,
    ]
}

/// A click-to-call for a case that does not exist (any more).
pub fn connect_unknown(catalog: &Catalog, locale: Locale) -> Vec<Verb> {
    vec![
        Verb::Say {
            text: catalog.text(locale, "whisper.connect_unknown", &[]),
            locale,
        },
        Verb::Hangup,
    ]
}
