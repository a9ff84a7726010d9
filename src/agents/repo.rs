//! What agents need stored: agents, sessions and the agent queue.
//!
//! Rules: a deactivated agent has no sessions; a caller leaves the queue once.

use async_trait::async_trait;

use super::auth::Session;
use super::queue::{QueueCall, QueueSeen};
use super::{Agent, AgentUpdate, NewAgent};
use crate::repo::Result;

/// Agents, their sessions and the agent queue.
#[async_trait]
pub trait AgentStore: Send + Sync + 'static {
    /// Conflict when the login is taken.
    async fn create_agent(&self, agent: &NewAgent, now: i64) -> Result<Agent>;
    async fn agent(&self, id: i64) -> Result<Option<Agent>>;
    async fn agent_by_login(&self, login: &str) -> Result<Option<Agent>>;
    async fn agent_by_phone(&self, phone: &str) -> Result<Option<Agent>>;
    async fn agents(&self) -> Result<Vec<Agent>>;
    /// Deactivating an agent or setting a password ends their sessions; a new password also
    /// clears a login lock.
    async fn update_agent(&self, id: i64, update: &AgentUpdate, now: i64) -> Result<Agent>;
    /// Stores a session (and forgets expired ones).
    async fn create_session(&self, session: &Session) -> Result<()>;
    /// An unexpired session of an active agent.
    async fn session(&self, token_hash: &str, now: i64) -> Result<Option<(Session, Agent)>>;
    async fn touch_session(&self, token_hash: &str, expires_at: i64, now: i64) -> Result<()>;
    async fn end_session(&self, token_hash: &str) -> Result<()>;

    /// A caller reported waiting in the agent queue (entered, or still there).
    async fn queue_seen(&self, seen: &QueueSeen) -> Result<()>;
    /// A caller left the queue (bridged, hung up, left for a callback…); once.
    async fn queue_left(&self, call_sid: &str, result: &str, at: i64) -> Result<()>;
    async fn queue_call(&self, call_sid: &str) -> Result<Option<QueueCall>>;
    /// Callers waiting now, reported since `seen_since`, first in line first.
    async fn queue_waiting(&self, seen_since: i64) -> Result<Vec<QueueCall>>;
    /// The first waiting caller not yet described to an agent, marked as described to
    /// `agent_call`.
    async fn queue_offer(&self, agent_call: &str, seen_since: i64) -> Result<Option<QueueCall>>;
}
