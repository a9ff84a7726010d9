//! Working escalations: load, apply the rules, save over the version read; what the console
//! and the API both use.

use std::sync::Arc;

use super::{EscAction, EscError, Escalation, apply};
use crate::agents::Agent;
use crate::clock::Clock;
use crate::repo::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ActError {
    #[error("escalation {0} not found")]
    NotFound(i64),
    #[error("no active agent with login {0:?}")]
    NoSuchAgent(String),
    #[error(transparent)]
    Refused(#[from] EscError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Cheap to clone.
#[derive(Clone)]
pub struct Escalations {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
}

impl Escalations {
    /// Does `action` as `who`. A change that lost a race is tried once more over what won,
    /// so the loser of two claims is told who owns the escalation now.
    pub async fn act(
        &self,
        id: i64,
        who: &Agent,
        action: &EscAction,
    ) -> Result<Escalation, ActError> {
        if let EscAction::Reassign { to, .. } = action {
            let active = self
                .store
                .agent_by_login(to)
                .await?
                .is_some_and(|a| a.active);
            if !active {
                return Err(ActError::NoSuchAgent(to.clone()));
            }
        }
        let mut tries = 0;
        loop {
            let current = self
                .store
                .escalation(id)
                .await?
                .ok_or(ActError::NotFound(id))?;
            let ticket = match current.ticket_id {
                Some(t) => self.store.ticket_by_id(t).await?,
                None => None,
            };
            let change = apply(&current, ticket.as_ref(), who, action, self.clock.now_ms())?;
            match self.store.save_escalation(&change).await {
                Ok(saved) => {
                    tracing::info!(
                        escalation = id,
                        by = %who.login,
                        event = change.event,
                        "escalation changed"
                    );
                    return Ok(saved);
                }
                Err(StoreError::Conflict(_)) if tries == 0 => tries += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }
}
