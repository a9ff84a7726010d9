//! Escalations: everything people must finish, in one queue, each with one owner.
//!
//! Rules (first-contact responsibility, ../shared/DOMAIN.md):
//! - An escalation follows open → claimed → replied → closed. The agent who claims it is its
//!   owner; only the owner, or a supervisor, may work it (notes, calls, reply, close), and only
//!   a supervisor may reassign it, with a reason.
//! - It cannot be closed before the reply given to the customer, and how it was given, are
//!   recorded.
//! - Every change is one event in its history, written with the change; a change is saved
//!   only if nobody changed the escalation since it was read (`version`), so of two agents
//!   claiming at once one wins and the other is told who owns it.
//! - Each has a cause (`source`) and is raised once per cause, in the transaction that records
//!   the cause: a complaint ticket opened, a ticket breached, a survey answer or an exhausted
//!   callback (the follow-up), a caller who chose a callback over holding.
//! - Priority (1 most urgent, 3 least) and the time a reply is due follow from the kind
//!   (`policy`). Unclaimed for `UNCLAIMED_AFTER_MS`, or not replied by the due time, an
//!   escalation is flagged.
//! - One customer matter, one case, one owner. A new cause about a ticket (or, without one,
//!   a callback) that already has an unclosed case joins that case instead of opening
//!   another: its history records the cause, its priority and due time become the more
//!   urgent of the two, and a case already replied goes back to its owner, since the new
//!   cause is owed a reply too. Whoever owns the case owns its ticket's work: a claim or a
//!   reassignment makes the owner the ticket's assignee, in the same transaction.
//! - A case and its ticket close together. Closing a complaint's case (which needs the
//!   reply) resolves the complaint with that reply, so a caller asking by phone hears it was
//!   answered. A case about any other ticket cannot be closed while the ticket is still
//!   worked; once the ticket is resolved, its replied cases close by themselves.

pub mod repo;
pub mod service;

use std::fmt;

use serde::Serialize;

use crate::agents::{Agent, Role};
use crate::tickets::{Ticket, TicketKind};

/// An open escalation nobody has claimed for this long is flagged.
pub const UNCLAIMED_AFTER_MS: i64 = 15 * 60_000;
/// Longest note or reply kept.
pub const MAX_TEXT: usize = 4000;
const HOUR: i64 = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationKind {
    /// A caller chose a callback instead of holding for an agent.
    TransferCallback,
    Complaint,
    /// "Dissatisfied" in a satisfaction callback.
    Dissatisfied,
    /// "Not fixed" in a satisfaction callback.
    NotFixed,
    /// The customer asked to change an installer's visit.
    Appointment,
    /// A survey answer the script flags, other than the above.
    SurveyAnswer,
    /// A callback that exhausted its attempts without reaching the customer.
    Unreached,
    /// A ticket past its promised deadline.
    Breached,
}

impl EscalationKind {
    pub const ALL: [EscalationKind; 8] = [
        EscalationKind::TransferCallback,
        EscalationKind::Complaint,
        EscalationKind::Dissatisfied,
        EscalationKind::NotFixed,
        EscalationKind::Appointment,
        EscalationKind::SurveyAnswer,
        EscalationKind::Unreached,
        EscalationKind::Breached,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EscalationKind::TransferCallback => "transfer_callback",
            EscalationKind::Complaint => "complaint",
            EscalationKind::Dissatisfied => "dissatisfied",
            EscalationKind::NotFixed => "not_fixed",
            EscalationKind::Appointment => "appointment",
            EscalationKind::SurveyAnswer => "survey_answer",
            EscalationKind::Unreached => "unreached",
            EscalationKind::Breached => "breached",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Priority (1 most urgent) and hours until a reply is due.
    pub fn policy(self) -> (i64, i64) {
        match self {
            EscalationKind::TransferCallback => (1, 1),
            EscalationKind::Breached => (1, 2),
            EscalationKind::NotFixed | EscalationKind::Appointment => (1, 4),
            EscalationKind::Complaint
            | EscalationKind::Dissatisfied
            | EscalationKind::SurveyAnswer => (2, 24),
            EscalationKind::Unreached => (3, 48),
        }
    }

    /// When a case of this kind raised at `at` must have its reply.
    pub fn reply_due(self, at: i64) -> i64 {
        at.saturating_add(self.policy().1 * HOUR)
    }

    /// The kind a survey follow-up (`<question>:<answer>` or `exhausted`) escalates as.
    pub fn of_followup(kind: &str) -> Self {
        match kind {
            "exhausted" => EscalationKind::Unreached,
            k if k.ends_with(":dissatisfied") => EscalationKind::Dissatisfied,
            "fixed:no" => EscalationKind::NotFixed,
            k if k.ends_with(":change") => EscalationKind::Appointment,
            _ => EscalationKind::SurveyAnswer,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationState {
    Open,
    Claimed,
    Replied,
    Closed,
}

impl EscalationState {
    pub const ALL: [EscalationState; 4] = [
        EscalationState::Open,
        EscalationState::Claimed,
        EscalationState::Replied,
        EscalationState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EscalationState::Open => "open",
            EscalationState::Claimed => "claimed",
            EscalationState::Replied => "replied",
            EscalationState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How the reply reached the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyVia {
    Phone,
    Sms,
    Email,
    Visit,
    Letter,
}

impl ReplyVia {
    pub const ALL: [ReplyVia; 5] = [
        ReplyVia::Phone,
        ReplyVia::Sms,
        ReplyVia::Email,
        ReplyVia::Visit,
        ReplyVia::Letter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReplyVia::Phone => "phone",
            ReplyVia::Sms => "sms",
            ReplyVia::Email => "email",
            ReplyVia::Visit => "visit",
            ReplyVia::Letter => "letter",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A case people must finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Escalation {
    pub id: i64,
    pub kind: EscalationKind,
    pub state: EscalationState,
    pub priority: i64,
    /// Its cause, unique: `ticket:<id>:complaint`, `followup:<callback>:<kind>`, `call:<sid>`…
    pub source: String,
    pub account_id: Option<i64>,
    pub ticket_id: Option<i64>,
    /// The ticket's number, for people.
    pub ticket_number: Option<String>,
    pub callback_id: Option<i64>,
    /// The call that caused it (its history is the transcript agents read).
    pub call_sid: Option<String>,
    /// The survey answer that caused it, `<question>:<answer>`.
    pub answer: Option<String>,
    /// The number to call the customer back on.
    pub callback_number: Option<String>,
    pub summary: String,
    /// Login of the agent who owns it.
    pub owner: Option<String>,
    pub due_at: i64,
    /// Its place in line.
    pub queued_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub claimed_at: Option<i64>,
    pub replied_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub reply: Option<String>,
    pub reply_via: Option<ReplyVia>,
    /// Counts changes; a change saves only over the version it was made from.
    pub version: i64,
}

impl Escalation {
    /// Nobody has claimed it for too long.
    pub fn unclaimed(&self, now: i64) -> bool {
        self.state == EscalationState::Open && now - self.created_at >= UNCLAIMED_AFTER_MS
    }

    /// Its reply is late.
    pub fn overdue(&self, now: i64) -> bool {
        matches!(self.state, EscalationState::Open | EscalationState::Claimed) && now > self.due_at
    }
}

/// An escalation to raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEscalation {
    pub kind: EscalationKind,
    pub priority: i64,
    pub source: String,
    pub account_id: Option<i64>,
    pub ticket_id: Option<i64>,
    pub callback_id: Option<i64>,
    pub call_sid: Option<String>,
    pub answer: Option<String>,
    pub callback_number: Option<String>,
    pub summary: String,
    pub due_at: i64,
    pub queued_at: i64,
    pub created_at: i64,
}

impl NewEscalation {
    /// An escalation of `kind` raised at `now`, due by the kind's policy; links are added by
    /// the caller.
    pub fn new(kind: EscalationKind, source: String, summary: String, now: i64) -> Self {
        let (priority, _) = kind.policy();
        NewEscalation {
            kind,
            priority,
            source,
            account_id: None,
            ticket_id: None,
            callback_id: None,
            call_sid: None,
            answer: None,
            callback_number: None,
            summary,
            due_at: kind.reply_due(now),
            queued_at: now,
            created_at: now,
        }
    }

    /// What a ticket event escalates, if anything: a complaint opened, a deadline breached.
    pub fn for_ticket_event(t: &crate::tickets::Ticket, event: &str, at: i64) -> Option<Self> {
        use crate::tickets::TicketKind;
        let (kind, summary) = match event {
            "opened" if t.kind == TicketKind::Complaint => (
                EscalationKind::Complaint,
                match &t.recording {
                    Some(r) => format!(
                        "complaint {} recorded by phone ({} s)",
                        t.number, r.duration_secs
                    ),
                    None => format!("complaint {}: {}", t.number, t.description),
                },
            ),
            "breached" => (
                EscalationKind::Breached,
                format!(
                    "{} ticket {} passed its promised deadline",
                    t.kind.as_str(),
                    t.number
                ),
            ),
            _ => return None,
        };
        let mut e = Self::new(
            kind,
            format!("ticket:{}:{}", t.id, kind.as_str()),
            summary,
            at,
        );
        e.account_id = t.account_id;
        e.ticket_id = Some(t.id);
        e.call_sid = t.origin_call_sid.clone();
        e.callback_number = t.callback_number.clone();
        Some(e)
    }

    /// What a callback's follow-up escalates as; the store adds the callback's links.
    pub fn for_followup(callback_id: i64, kind: &str, detail: &str, at: i64) -> Self {
        let k = EscalationKind::of_followup(kind);
        let mut e = Self::new(
            k,
            format!("followup:{callback_id}:{kind}"),
            format!("callback {callback_id}: {detail}"),
            at,
        );
        e.callback_id = Some(callback_id);
        e.answer = (kind != "exhausted").then(|| kind.to_string());
        e
    }
}

/// One entry of an escalation's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationEvent {
    pub id: i64,
    pub escalation_id: i64,
    /// `opened`, `claimed`, `note`, `reassigned`, `call`, `replied`, `closed`.
    pub kind: String,
    pub actor: String,
    pub detail: String,
    pub at: i64,
    /// A `joined` entry's cause (`ticket:…`, `followup:…`), as a case's `source`.
    pub source: Option<String>,
}

/// What the hotline itself writes into a case's history, as facts. The stored detail is its
/// `Display`, English, as the API returns it; `parse` reads it back (by the entry's kind), so
/// the console can word it in the agent's language. The words people typed (a reason, a
/// reply, a cause's summary) are kept as they were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemDetail {
    /// `reassigned`: from the owner before (`None`: nobody) to `to`, and why.
    Reassigned {
        from: Option<String>,
        to: String,
        reason: String,
    },
    /// `replied`: how the customer was answered, and what they were told.
    Replied { via: ReplyVia, text: String },
    /// `call`: an agent rang the customer (number masked) from their own phone.
    Called { agent: String, number: String },
    /// `closed` by the hotline: the ticket of a replied case was resolved.
    TicketResolved { number: String },
    /// `joined`: another cause about the same matter, of `kind`.
    Joined {
        kind: EscalationKind,
        summary: String,
    },
}

const NOBODY: &str = "nobody";
const CALLED: &str = " called the customer at ";
const FROM_PHONE: &str = " from their phone";

impl SystemDetail {
    /// The detail of a history entry of `kind`, when the hotline wrote it.
    pub fn parse(kind: &str, detail: &str) -> Option<Self> {
        match kind {
            "reassigned" => {
                let (from, rest) = detail.strip_prefix("from ")?.split_once(" to ")?;
                let (to, reason) = rest.split_once(": ")?;
                // Logins have no spaces: anything else is not this entry's shape.
                if from.contains(' ') || to.contains(' ') {
                    return None;
                }
                Some(Self::Reassigned {
                    from: (from != NOBODY).then(|| from.to_string()),
                    to: to.to_string(),
                    reason: reason.to_string(),
                })
            }
            "replied" => {
                let (via, text) = detail.strip_prefix("by ")?.split_once(": ")?;
                Some(Self::Replied {
                    via: ReplyVia::parse(via)?,
                    text: text.to_string(),
                })
            }
            "call" => {
                let (agent, rest) = detail.split_once(CALLED)?;
                Some(Self::Called {
                    agent: agent.to_string(),
                    number: rest.strip_suffix(FROM_PHONE)?.to_string(),
                })
            }
            "closed" => {
                let number = detail.strip_prefix("ticket ")?.strip_suffix(" resolved")?;
                let one_word = !number.is_empty() && !number.contains(char::is_whitespace);
                one_word.then(|| Self::TicketResolved {
                    number: number.to_string(),
                })
            }
            "joined" => {
                let (kind, summary) = detail.split_once(": ")?;
                Some(Self::Joined {
                    kind: EscalationKind::parse(kind)?,
                    summary: summary.to_string(),
                })
            }
            _ => None,
        }
    }
}

impl fmt::Display for SystemDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reassigned { from, to, reason } => write!(
                f,
                "from {} to {to}: {reason}",
                from.as_deref().unwrap_or(NOBODY)
            ),
            Self::Replied { via, text } => write!(f, "by {}: {text}", via.as_str()),
            Self::Called { agent, number } => write!(f, "{agent}{CALLED}{number}{FROM_PHONE}"),
            Self::TicketResolved { number } => write!(f, "ticket {number} resolved"),
            Self::Joined { kind, summary } => write!(f, "{}: {summary}", kind.as_str()),
        }
    }
}

/// Something a person does to an escalation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EscAction {
    Claim,
    Note {
        text: String,
    },
    /// Supervisors only; `to` is an active agent's login (checked by the service).
    Reassign {
        to: String,
        reason: String,
    },
    /// A call to the customer was placed (detail says to where and how it went).
    Call {
        detail: String,
    },
    Reply {
        text: String,
        via: ReplyVia,
    },
    Close {
        note: String,
    },
}

impl EscAction {
    fn event(&self) -> &'static str {
        match self {
            EscAction::Claim => "claimed",
            EscAction::Note { .. } => "note",
            EscAction::Reassign { .. } => "reassigned",
            EscAction::Call { .. } => "call",
            EscAction::Reply { .. } => "replied",
            EscAction::Close { .. } => "closed",
        }
    }
}

/// Why an action was refused; the message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EscError {
    #[error("escalation {id} is already claimed by {owner}")]
    AlreadyClaimed { id: i64, owner: String },
    #[error("escalation {id} is owned by {owner}: only they or a supervisor may work it")]
    NotOwner { id: i64, owner: String },
    #[error("escalation {id} is not claimed yet: claim it first")]
    Unclaimed { id: i64 },
    #[error("only a supervisor may reassign an escalation")]
    NotSupervisor,
    #[error("escalation {id} is closed")]
    Closed { id: i64 },
    #[error("escalation {id} cannot be closed before the reply given to the customer is recorded")]
    NoReply { id: i64 },
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("{0} is too long (at most {MAX_TEXT} characters)")]
    TooLong(&'static str),
    #[error("escalation {id} is already owned by {owner}")]
    SameOwner { id: i64, owner: String },
    #[error(
        "escalation {id} is about ticket {number}, which is still {state}: the case closes by itself once the ticket is resolved"
    )]
    TicketActive {
        id: i64,
        number: String,
        state: &'static str,
    },
}

/// What a change to a case does to the ticket it is about, in the same transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketFollow {
    /// The case's owner takes over the ticket's work.
    Assign { ticket_id: i64, to: String },
    /// The reply that closed the case resolves the complaint.
    ResolveComplaint { ticket_id: i64, reply: String },
}

/// The resolution code of a complaint resolved by its case's reply.
pub const REPLIED_CODE: &str = "replied";

/// The note on a ticket assigned to its case's owner by the case.
pub const OWNER_NOTE: &str = "owner of the customer's case";

/// A change to save: the escalation after it and its history entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscChange {
    pub escalation: Escalation,
    /// The version it was made from.
    pub from_version: i64,
    pub event: &'static str,
    pub actor: String,
    pub detail: String,
    pub ticket: Option<TicketFollow>,
}

fn text(s: &str, field: &'static str) -> Result<String, EscError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(EscError::Missing(field));
    }
    if t.chars().count() > MAX_TEXT {
        return Err(EscError::TooLong(field));
    }
    Ok(t.to_string())
}

/// Applies an action by `who` to `e`, whose ticket (if it has one) is `ticket`; pure: the
/// rules of the module, nothing stored.
pub fn apply(
    e: &Escalation,
    ticket: Option<&Ticket>,
    who: &Agent,
    action: &EscAction,
    now: i64,
) -> Result<EscChange, EscError> {
    let id = e.id;
    if e.state == EscalationState::Closed {
        return Err(EscError::Closed { id });
    }
    let supervisor = who.role == Role::Supervisor;
    let owns = e.owner.as_deref() == Some(who.login.as_str());
    let mut next = e.clone();
    next.updated_at = now;
    next.version = e.version + 1;
    // Working it needs ownership (or a supervisor) once it is claimed, and a claim first.
    let may_work = || match &e.owner {
        Some(_) if owns || supervisor => Ok(()),
        Some(owner) => Err(EscError::NotOwner {
            id,
            owner: owner.clone(),
        }),
        None if supervisor => Ok(()),
        None => Err(EscError::Unclaimed { id }),
    };
    let detail = match action {
        EscAction::Claim => {
            if let Some(owner) = &e.owner {
                return Err(EscError::AlreadyClaimed {
                    id,
                    owner: owner.clone(),
                });
            }
            next.owner = Some(who.login.clone());
            next.state = EscalationState::Claimed;
            next.claimed_at = Some(now);
            String::new()
        }
        EscAction::Note { text: t } => {
            may_work()?;
            text(t, "note")?
        }
        EscAction::Call { detail } => {
            may_work()?;
            text(detail, "call detail")?
        }
        EscAction::Reassign { to, reason } => {
            if !supervisor {
                return Err(EscError::NotSupervisor);
            }
            let reason = text(reason, "reason")?;
            if e.owner.as_deref() == Some(to.as_str()) {
                return Err(EscError::SameOwner {
                    id,
                    owner: to.clone(),
                });
            }
            let from = e.owner.clone();
            next.owner = Some(to.clone());
            if e.state == EscalationState::Open {
                next.state = EscalationState::Claimed;
                next.claimed_at = Some(now);
            }
            SystemDetail::Reassigned {
                from,
                to: to.clone(),
                reason,
            }
            .to_string()
        }
        EscAction::Reply { text: t, via } => {
            may_work()?;
            if e.owner.is_none() {
                // A supervisor replying to an unclaimed case takes it.
                next.owner = Some(who.login.clone());
                next.claimed_at = Some(now);
            }
            let t = text(t, "reply")?;
            next.state = EscalationState::Replied;
            next.replied_at = Some(now);
            next.reply = Some(t.clone());
            next.reply_via = Some(*via);
            SystemDetail::Replied { via: *via, text: t }.to_string()
        }
        EscAction::Close { note } => {
            may_work()?;
            if e.state != EscalationState::Replied {
                return Err(EscError::NoReply { id });
            }
            // A complaint is resolved by this close; any other ticket by its own work.
            let worked = |t: &&Ticket| t.state.is_active() && t.kind != TicketKind::Complaint;
            if let Some(t) = ticket.filter(worked) {
                return Err(EscError::TicketActive {
                    id,
                    number: t.number.clone(),
                    state: t.state.as_str(),
                });
            }
            next.state = EscalationState::Closed;
            next.closed_at = Some(now);
            note.trim().chars().take(MAX_TEXT).collect()
        }
    };
    let follow = ticket
        .filter(|t| t.state.is_active())
        .and_then(|t| match action {
            EscAction::Claim | EscAction::Reassign { .. } => {
                let to = next.owner.clone()?;
                (t.assignee.as_deref() != Some(to.as_str())).then_some(TicketFollow::Assign {
                    ticket_id: t.id,
                    to,
                })
            }
            EscAction::Close { .. } if t.kind == TicketKind::Complaint => {
                Some(TicketFollow::ResolveComplaint {
                    ticket_id: t.id,
                    reply: next.reply.clone().unwrap_or_default(),
                })
            }
            _ => None,
        });
    Ok(EscChange {
        escalation: next,
        from_version: e.version,
        event: action.event(),
        actor: who.login.clone(),
        detail,
        ticket: follow,
    })
}

/// Which escalations to list.
#[derive(Debug, Clone, Default)]
pub struct EscFilter {
    pub state: Option<EscalationState>,
    pub kind: Option<EscalationKind>,
    /// Login of the owner; `Some("")` for unowned.
    pub owner: Option<String>,
    /// Only those past their due time and not replied.
    pub overdue: bool,
    pub ticket_id: Option<i64>,
    pub account_id: Option<i64>,
    pub callback_id: Option<i64>,
    /// Now, for `overdue`.
    pub now: i64,
    pub limit: i64,
}

/// Counts for the queue's header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EscCounts {
    pub open: i64,
    pub claimed: i64,
    pub replied: i64,
    pub unclaimed: i64,
    pub overdue: i64,
    /// Claimed by, or replied by, the agent asking.
    pub mine: i64,
}

#[cfg(test)]
mod tests;
