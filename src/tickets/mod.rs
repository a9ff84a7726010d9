//! Tickets: fault reports, service orders and complaints, their life cycle and their history.
//!
//! Rules:
//! - A ticket moves only along `TicketState::allows`: open → assigned → in progress →
//!   resolved → closed, plus cancelled (from any unresolved state) and reopened (from
//!   resolved). Anything else is refused with the state it is in and the states it may go to.
//! - Every change is one `TicketEvent` in the ticket's history, written in the same transaction
//!   as the change; the history is also the outbox of outgoing webhooks.
//! - Ticket numbers are 8 digits, the last a Luhn check digit, so they are short to read out
//!   and a mistyped number is caught before any lookup.
//! - The deadline is set once, when the ticket opens, by the service-level policy (`sla`); a
//!   ticket not resolved by its deadline is breached from that instant, whether or not the
//!   sweeper has marked it yet.

pub mod desk;
pub mod repo;
pub mod sla;

use serde::{Deserialize, Serialize};

/// What a ticket is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketKind {
    Fault,
    Installation,
    Move,
    Change,
    Complaint,
}

impl TicketKind {
    pub const ALL: [TicketKind; 5] = [
        TicketKind::Fault,
        TicketKind::Installation,
        TicketKind::Move,
        TicketKind::Change,
        TicketKind::Complaint,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketKind::Fault => "fault",
            TicketKind::Installation => "installation",
            TicketKind::Move => "move",
            TicketKind::Change => "change",
            TicketKind::Complaint => "complaint",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a ticket is in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    Open,
    Assigned,
    InProgress,
    Resolved,
    Closed,
    Cancelled,
    Reopened,
}

impl TicketState {
    pub const ALL: [TicketState; 7] = [
        TicketState::Open,
        TicketState::Assigned,
        TicketState::InProgress,
        TicketState::Resolved,
        TicketState::Closed,
        TicketState::Cancelled,
        TicketState::Reopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::Open => "open",
            TicketState::Assigned => "assigned",
            TicketState::InProgress => "in_progress",
            TicketState::Resolved => "resolved",
            TicketState::Closed => "closed",
            TicketState::Cancelled => "cancelled",
            TicketState::Reopened => "reopened",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Still to be worked: the deadline runs and a new report on the same line is a duplicate.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            TicketState::Open
                | TicketState::Assigned
                | TicketState::InProgress
                | TicketState::Reopened
        )
    }
}

/// How a ticket came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Phone,
    Api,
    Console,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Phone => "phone",
            Channel::Api => "api",
            Channel::Console => "console",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Channel::Phone, Channel::Api, Channel::Console]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// A recorded message: a complaint, or the address of an installation or move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recording {
    /// The carrier's URL of the audio.
    pub url: String,
    /// The carrier's id of the recording; a transcript arrives with it.
    pub sid: Option<String>,
    pub duration_secs: i64,
}

/// A ticket as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub id: i64,
    pub number: String,
    pub kind: TicketKind,
    pub state: TicketState,
    /// `None` only for a complaint from a caller who was not identified.
    pub account_id: Option<i64>,
    pub line_number: Option<String>,
    /// The kind of the line concerned (for an installation, the kind ordered).
    pub line_kind: Option<crate::customers::LineKind>,
    /// The customer's class when the ticket opened (it set the deadline).
    pub customer_class: Option<crate::customers::CustomerClass>,
    pub channel: Channel,
    /// Fault type or order detail, e.g. `no_dial_tone`, `broadband_speed`.
    pub category: Option<String>,
    pub description: String,
    pub callback_number: Option<String>,
    pub assignee: Option<String>,
    pub opened_at: i64,
    pub deadline_at: Option<i64>,
    /// Whether the deadline was computed past the end of the working-day calendar, from its
    /// fallback (see `crate::calendar`): the promise stands, but the days counted may differ
    /// from the official schedule once it is published.
    pub deadline_estimated: bool,
    pub appointment_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub resolution_code: Option<String>,
    pub resolution_note: Option<String>,
    pub closed_at: Option<i64>,
    /// When the deadline passed unresolved (the deadline itself), once marked.
    pub breached_at: Option<i64>,
    pub recording: Option<Recording>,
    pub transcript: Option<String>,
    /// The call that opened it, if any.
    pub origin_call_sid: Option<String>,
    /// Where an installation or move is done, as confirmed by the caller or entered by an
    /// agent; an address the caller spoke is the `recording` instead.
    pub address: Option<String>,
    pub updated_at: i64,
}

impl Ticket {
    /// Whether the ticket missed its deadline by `now`: marked, or still unresolved past it
    /// (the sweeper may not have run yet), or resolved after it.
    pub fn is_breached(&self, now: i64) -> bool {
        self.breach_time(now).is_some()
    }

    /// The instant the ticket breached, if it has by `now`.
    pub fn breach_time(&self, now: i64) -> Option<i64> {
        if self.breached_at.is_some() {
            return self.breached_at;
        }
        let deadline = self.deadline_at?;
        let late = match self.resolved_at {
            Some(r) if !self.state.is_active() => r > deadline,
            _ => self.state.is_active() && now > deadline,
        };
        (late && self.state != TicketState::Cancelled).then_some(deadline)
    }
}

/// A ticket to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicket {
    pub kind: TicketKind,
    pub account_id: Option<i64>,
    pub line_number: Option<String>,
    pub line_kind: Option<crate::customers::LineKind>,
    pub customer_class: Option<crate::customers::CustomerClass>,
    pub channel: Channel,
    pub category: Option<String>,
    pub description: String,
    pub callback_number: Option<String>,
    pub deadline_at: Option<i64>,
    /// See `Ticket::deadline_estimated`; set with `deadline_at` by the desk.
    pub deadline_estimated: bool,
    pub recording: Option<Recording>,
    /// See `Ticket::address`.
    pub address: Option<String>,
    /// Who opened it (`caller`, or the API's actor).
    pub actor: String,
    /// The call step that opened it: a retried step finds this ticket instead of opening
    /// another.
    pub origin: Option<Origin>,
}

/// A call step, the idempotency key of what a call does to tickets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub call_sid: String,
    pub seq: i32,
}

/// One entry of a ticket's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketEvent {
    /// Global order of all ticket events: consumers and webhooks follow it.
    pub id: i64,
    pub ticket_id: i64,
    pub ticket_number: String,
    /// e.g. `opened`, `assigned`, `resolved`, `breached`; the webhook type is `ticket.<kind>`.
    pub kind: String,
    pub actor: String,
    pub from_state: Option<TicketState>,
    pub to_state: Option<TicketState>,
    /// What the change carried (assignee, note, resolution code…).
    pub detail: serde_json::Value,
    pub at: i64,
}

/// A change someone asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Assign {
        assignee: String,
        note: Option<String>,
    },
    Start {
        note: Option<String>,
    },
    Note {
        note: String,
    },
    Appointment {
        at: i64,
    },
    Resolve {
        code: String,
        note: String,
    },
    Close {
        note: Option<String>,
    },
    Cancel {
        reason: String,
    },
    Reopen {
        reason: String,
    },
    /// The caller rang again to say the fault is still there.
    Persists,
    /// The carrier's transcript of the complaint recording.
    Transcript {
        text: String,
    },
    /// The deadline passed unresolved (the system's own change).
    Breach,
}

impl Action {
    /// The history entry's kind (and the webhook type after `ticket.`).
    pub fn event_kind(&self) -> &'static str {
        match self {
            Action::Assign { .. } => "assigned",
            Action::Start { .. } => "started",
            Action::Note { .. } => "noted",
            Action::Appointment { .. } => "appointment_set",
            Action::Resolve { .. } => "resolved",
            Action::Close { .. } => "closed",
            Action::Cancel { .. } => "cancelled",
            Action::Reopen { .. } => "reopened",
            Action::Persists => "persists",
            Action::Transcript { .. } => "transcribed",
            Action::Breach => "breached",
        }
    }

    /// The state the action moves to, if it moves the ticket.
    fn target(&self) -> Option<TicketState> {
        Some(match self {
            Action::Assign { .. } => TicketState::Assigned,
            Action::Start { .. } => TicketState::InProgress,
            Action::Resolve { .. } => TicketState::Resolved,
            Action::Close { .. } => TicketState::Closed,
            Action::Cancel { .. } => TicketState::Cancelled,
            Action::Reopen { .. } => TicketState::Reopened,
            _ => return None,
        })
    }
}

/// Event kinds a subscriber may ask for (each is sent as `ticket.<kind>`).
pub const EVENT_KINDS: [&str; 12] = [
    "opened",
    "assigned",
    "started",
    "noted",
    "appointment_set",
    "resolved",
    "closed",
    "cancelled",
    "reopened",
    "persists",
    "transcribed",
    "breached",
];

impl TicketState {
    /// Whether a ticket in this state may move to `to`.
    pub fn allows(self, to: TicketState) -> bool {
        use TicketState::*;
        match to {
            Assigned | Resolved | Cancelled => self.is_active(),
            // Reassigning work that started sends it back to "assigned"; starting is once.
            InProgress => matches!(self, Open | Assigned | Reopened),
            Closed => self == Resolved,
            Reopened => self == Resolved,
            Open => false,
        }
    }

    /// The states this one may move to, for error messages.
    pub fn next_states(self) -> Vec<TicketState> {
        Self::ALL
            .into_iter()
            .filter(|to| self.allows(*to))
            .collect()
    }
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("ticket {number} is {state}; it cannot be {action} (it may go to: {allowed})", state = from.as_str(), allowed = allowed_list(*from))]
    NotAllowed {
        number: String,
        from: TicketState,
        action: &'static str,
    },
    #[error("{0}")]
    Invalid(String),
}

fn allowed_list(from: TicketState) -> String {
    let next = from.next_states();
    if next.is_empty() {
        "nothing: it is final".to_string()
    } else {
        next.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What an accepted action writes: the ticket after it and the history entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub ticket: Ticket,
    pub kind: &'static str,
    pub from_state: Option<TicketState>,
    pub to_state: Option<TicketState>,
    pub detail: serde_json::Value,
}

/// Applies `action` to `t` at `now`, or says why it cannot be.
pub fn apply(t: &Ticket, action: &Action, now: i64) -> Result<Change, TransitionError> {
    use serde_json::json;
    let refuse = || TransitionError::NotAllowed {
        number: t.number.clone(),
        from: t.state,
        action: action.event_kind(),
    };
    let mut next = t.clone();
    next.updated_at = now;
    if let Some(to) = action.target() {
        if !t.state.allows(to) {
            return Err(refuse());
        }
        next.state = to;
    }
    let detail = match action {
        Action::Assign { assignee, note } => {
            next.assignee = Some(assignee.clone());
            json!({ "assignee": assignee, "note": note })
        }
        Action::Start { note } | Action::Close { note } => {
            if matches!(action, Action::Close { .. }) {
                next.closed_at = Some(now);
            }
            json!({ "note": note })
        }
        Action::Note { note } => json!({ "note": note }),
        Action::Appointment { at } => {
            if !t.state.is_active() {
                return Err(refuse());
            }
            next.appointment_at = Some(*at);
            json!({ "appointment_at": at })
        }
        Action::Resolve { code, note } => {
            next.resolved_at = Some(now);
            next.resolution_code = Some(code.clone());
            next.resolution_note = Some(note.clone());
            next.breached_at = next.breached_at.or(next.breach_time(now));
            json!({ "code": code, "note": note })
        }
        Action::Cancel { reason } | Action::Reopen { reason } => {
            if matches!(action, Action::Reopen { .. }) {
                next.resolved_at = None;
                next.resolution_code = None;
                next.resolution_note = None;
                next.closed_at = None;
            }
            json!({ "reason": reason })
        }
        Action::Persists => {
            if !t.state.is_active() {
                return Err(refuse());
            }
            json!({})
        }
        Action::Transcript { text } => {
            next.transcript = Some(text.clone());
            json!({ "text": text })
        }
        Action::Breach => {
            let at = t
                .breach_time(now)
                .filter(|_| t.breached_at.is_none() && t.state.is_active())
                .ok_or_else(refuse)?;
            next.breached_at = Some(at);
            json!({ "deadline_at": t.deadline_at })
        }
    };
    Ok(Change {
        kind: action.event_kind(),
        from_state: action.target().map(|_| t.state),
        to_state: action.target(),
        ticket: next,
        detail,
    })
}

/// A fresh ticket number: seven random digits (no leading zero, so it reads the same as a
/// number) and a Luhn check digit.
pub fn new_number(rng: &mut impl rand::Rng) -> String {
    let body: u32 = rng.random_range(1_000_000..10_000_000);
    let body = body.to_string();
    let check = luhn_check_digit(&body);
    format!("{body}{check}")
}

/// Whether `s` has the form of a ticket number (8 digits with a right check digit).
pub fn is_valid_number(s: &str) -> bool {
    s.len() == 8
        && s.bytes().all(|b| b.is_ascii_digit())
        && !s.starts_with('0')
        && luhn_check_digit(&s[..7]) == s.as_bytes()[7] - b'0'
}

fn luhn_check_digit(body: &str) -> u8 {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Which tickets to list; newest first.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub state: Option<TicketState>,
    pub kind: Option<TicketKind>,
    pub account_no: Option<String>,
    pub line_number: Option<String>,
    pub assignee: Option<String>,
    /// Only breached (or only not breached) tickets, as of `now`.
    pub breached: Option<bool>,
    pub now: i64,
    /// Tickets with ids below this (the previous page's `next_before`).
    pub before: Option<i64>,
    pub limit: i64,
}

/// One page of tickets.
#[derive(Debug, Clone)]
pub struct TicketPage {
    pub tickets: Vec<Ticket>,
    /// Pass as `before` for the next page; `None` on the last.
    pub next_before: Option<i64>,
}

#[cfg(test)]
pub(crate) mod tests;
