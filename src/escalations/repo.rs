//! What escalations need stored: cases and their history.
//!
//! Rules: a source is escalated once; a change is saved only over the version it was made
//! from.

use async_trait::async_trait;

use super::{EscChange, EscCounts, EscFilter, Escalation, EscalationEvent, NewEscalation};
use crate::repo::Result;

/// Escalations and their history.
#[async_trait]
pub trait EscalationStore: Send + Sync + 'static {
    /// Raises an escalation; `None` when its source was escalated before.
    async fn raise_escalation(&self, e: &NewEscalation) -> Result<Option<Escalation>>;
    async fn escalation(&self, id: i64) -> Result<Option<Escalation>>;
    /// The case a cause opened, or joined.
    async fn escalation_by_source(&self, source: &str) -> Result<Option<Escalation>>;
    /// Open first (by priority, then place in line), then claimed, replied, closed.
    async fn escalations(&self, filter: &EscFilter) -> Result<Vec<Escalation>>;
    /// Counts of the unclosed ones; `me` is the login whose own are counted.
    async fn escalation_counts(&self, now: i64, me: &str) -> Result<EscCounts>;
    /// Saves a change with its history entry; Conflict when the escalation changed since
    /// the change was made from it.
    async fn save_escalation(&self, change: &EscChange) -> Result<Escalation>;
    async fn escalation_history(&self, id: i64) -> Result<Vec<EscalationEvent>>;
    /// Adds an entry to a case's history that changes nothing else (a recording listened to).
    async fn log_escalation_event(
        &self,
        id: i64,
        kind: &str,
        actor: &str,
        detail: &str,
        at: i64,
    ) -> Result<()>;
}
