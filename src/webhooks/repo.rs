//! What webhooks need stored: endpoints and the deliveries owed to them.
//!
//! Rules: a delivery is claimed with a lease, so several instances never send it at once,
//! and one that dies mid-send is sent again after the lease.

use async_trait::async_trait;

use super::{AttemptResult, Delivery, DeliveryJob, Endpoint, NewEndpoint};
use crate::repo::Result;

/// Webhook endpoints and the deliveries ticket events owe them.
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    async fn add_endpoint(&self, endpoint: &NewEndpoint, now: i64) -> Result<Endpoint>;
    async fn endpoints(&self) -> Result<Vec<Endpoint>>;
    /// Removes an endpoint and what it was still owed; `false` when there was none.
    async fn delete_endpoint(&self, id: i64) -> Result<bool>;
    /// Claims up to `limit` deliveries due at `now` until `lease_until`: another claim (by
    /// this or another instance) sees them again only after the lease.
    async fn claim_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryJob>>;
    /// Records an attempt; a delivery that is no longer pending is left as it is.
    async fn finish_delivery(&self, result: &AttemptResult) -> Result<()>;
    /// An endpoint's deliveries with ids after `after`, oldest first.
    async fn deliveries(&self, endpoint_id: i64, after: i64, limit: i64) -> Result<Vec<Delivery>>;
    /// Sends a failed delivery again from `now`; `false` when it is not failed.
    async fn retry_delivery(&self, id: i64, now: i64) -> Result<bool>;
}
