//! What the domain needs stored, as one trait, and the error every repository answers with.
//!
//! Rules: each domain module owns the trait of what it needs stored (`tickets::repo`,
//! `callbacks::repo`, …) and the types those traits speak; `Store` is only their sum plus what
//! belongs to no domain (migrations, a ping). The adapters under `src/store/` implement the
//! traits; nothing here knows a database. A service takes the narrowest trait it uses, so it
//! can be tested with a fake repository; a `&dyn Store` coerces to any of them.

use async_trait::async_trait;

use crate::agents::repo::AgentStore;
use crate::billing::repo::BillStore;
use crate::callbacks::repo::CallbackStore;
use crate::calls::repo::CallStore;
use crate::customers::repo::CustomerStore;
use crate::escalations::repo::EscalationStore;
use crate::lockout::GuessStore;
use crate::reports::repo::{RollupStore, TicketReportStore};
use crate::tickets::repo::TicketStore;
use crate::webhooks::repo::WebhookStore;

/// Why a repository could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unsupported database URL (expected sqlite:... or postgres://...)")]
    UnsupportedUrl,
    /// The database failed. `outage` is the adapter's judgement: the database could not be
    /// used at all (unreachable, out of resources, locked, shutting down), as opposed to
    /// refusing what was written.
    #[error("database error: {source}")]
    Database {
        source: Box<dyn std::error::Error + Send + Sync>,
        outage: bool,
    },
    #[error("migration failed: {0}")]
    Migrate(Box<dyn std::error::Error + Send + Sync>),
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("the step writer has stopped")]
    WriterGone,
    /// The store did not answer in time (unreachable, or a network that swallows packets).
    #[error("the store did not answer in time")]
    TimedOut,
    /// A ticket change its state does not allow.
    #[error(transparent)]
    Transition(#[from] crate::tickets::TransitionError),
}

impl StoreError {
    /// Whether the database could not be used at all, as opposed to refusing what was
    /// written. Writing the same rows again one at a time can only help in the second case.
    pub fn is_outage(&self) -> bool {
        match self {
            StoreError::Database { outage, .. } => *outage,
            StoreError::NotFound
            | StoreError::Conflict(_)
            | StoreError::Corrupt(_)
            | StoreError::Transition(_) => false,
            StoreError::UnsupportedUrl
            | StoreError::Migrate(_)
            | StoreError::WriterGone
            | StoreError::TimedOut => true,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything the hotline stores: what the web layer and the long-running services hold.
#[async_trait]
pub trait Store:
    CustomerStore
    + BillStore
    + CallStore
    + TicketStore
    + WebhookStore
    + CallbackStore
    + AgentStore
    + EscalationStore
    + TicketReportStore
    + RollupStore
    + GuessStore
    + Send
    + Sync
    + 'static
{
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<()>;
    /// Cheap round trip, for `/readyz`.
    async fn ping(&self) -> Result<()>;
}
