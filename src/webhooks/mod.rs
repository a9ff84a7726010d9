//! Outgoing webhooks: other systems subscribe to ticket events and receive each one as a
//! signed HTTP POST.
//!
//! Rules:
//! - A delivery is owed from the moment its event is written: the store writes one delivery
//!   row per subscribed endpoint in the same transaction as the ticket change, so nothing is
//!   lost on a restart.
//! - A delivery is done when the receiver answers 2xx; it is never sent again after that.
//!   Anything else is retried with growing delays until `give_up_after`, then marked failed
//!   (visible in the API, and re-sendable).
//! - Bodies are signed the Standard Webhooks way (`webhook-id`, `webhook-timestamp`,
//!   `webhook-signature: v1,<base64 HMAC-SHA256>` over `id.timestamp.body`), so receivers
//!   can use any Standard Webhooks library. Secrets never reach logs.

pub mod repo;
pub mod sign;
pub mod worker;

use serde::Serialize;

use crate::secret::Secret;
use crate::tickets::TicketEvent;

/// A subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    pub id: i64,
    pub url: String,
    /// `whsec_` followed by base64 of the key; shown once, when the endpoint is created.
    #[serde(skip)]
    pub secret: Secret,
    /// Event types (`ticket.resolved`…), or `*` for all.
    pub events: Vec<String>,
    pub description: String,
    pub active: bool,
    pub created_at: i64,
}

/// A subscriber to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    pub url: String,
    pub secret: Secret,
    pub events: Vec<String>,
    pub description: String,
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// One event owed to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: i64,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: i64,
    /// HTTP status of the last attempt, if the receiver answered.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
    pub created_at: i64,
}

/// A claimed delivery with what is needed to send it.
#[derive(Debug, Clone)]
pub struct DeliveryJob {
    pub delivery: Delivery,
    pub url: String,
    pub secret: Secret,
    pub event: TicketEvent,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    pub delivery_id: i64,
    /// The state after this attempt.
    pub state: DeliveryState,
    pub status: Option<i32>,
    pub error: Option<String>,
    pub at: i64,
    /// When to try again (pending only).
    pub next_attempt_at: i64,
}
