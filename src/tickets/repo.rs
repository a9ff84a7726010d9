//! What tickets need stored: tickets, their history and the event feed.
//!
//! Rules: every change is recorded with the event that explains it, in one transaction; a
//! change that came from a call step carries its origin, so a retried step changes nothing
//! twice.

use async_trait::async_trait;

use super::{Action, NewTicket, Origin, Ticket, TicketEvent, TicketFilter, TicketKind, TicketPage};
use crate::repo::Result;

/// Tickets and their history.
#[async_trait]
pub trait TicketStore: Send + Sync + 'static {
    /// Opens a ticket with a fresh number and records `opened`. With an `origin` this is
    /// idempotent: a step that opened a ticket before gets that ticket back.
    async fn open_ticket(&self, ticket: &NewTicket, now: i64) -> Result<Ticket>;
    async fn ticket(&self, number: &str) -> Result<Option<Ticket>>;
    async fn ticket_by_id(&self, id: i64) -> Result<Option<Ticket>>;
    /// The complaint ticket holding this recording.
    async fn ticket_by_recording(&self, recording_sid: &str) -> Result<Option<Ticket>>;
    /// The newest still-running ticket of `kind` on a line.
    async fn active_ticket_on_line(&self, line: &str, kind: TicketKind) -> Result<Option<Ticket>>;
    /// A ticket's history, oldest first.
    async fn ticket_history(&self, ticket_id: i64) -> Result<Vec<TicketEvent>>;
    /// Events of all tickets after event id `after`, in order: the feed consumers follow.
    async fn ticket_events_after(&self, after: i64, limit: i64) -> Result<Vec<TicketEvent>>;
    async fn list_tickets(&self, filter: &TicketFilter) -> Result<TicketPage>;
    /// Applies `action` (refused with `StoreError::Transition` when the state does not allow
    /// it) and records it. With an `origin` a retried call step changes nothing twice.
    async fn change_ticket(
        &self,
        number: &str,
        action: &Action,
        actor: &str,
        origin: Option<&Origin>,
        now: i64,
    ) -> Result<Ticket>;
    /// Marks up to `limit` running tickets whose deadline passed before `now` as breached.
    async fn mark_breaches(&self, now: i64, limit: i64) -> Result<Vec<Ticket>>;
    /// The earliest deadline of a running ticket not yet marked breached.
    async fn next_deadline(&self) -> Result<Option<i64>>;
}
