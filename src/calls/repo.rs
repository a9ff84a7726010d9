//! What the step service needs stored: steps, status reports and calls.
//!
//! Rules: a batch of steps and status reports is one transaction (steps first), so an
//! answered step is durable; status reports are idempotent and monotonic.

use async_trait::async_trait;

use super::CallRecord;
use super::step::{StatusEvent, StepOutcome, StepWrite};
use crate::repo::Result;

/// Calls, their steps and status reports.
#[async_trait]
pub trait CallStore: Send + Sync + 'static {
    /// Records a batch of steps and status reports in one transaction (steps first); one
    /// outcome per step, in order. Status reports are idempotent and monotonic.
    async fn commit(
        &self,
        steps: Vec<StepWrite>,
        statuses: Vec<StatusEvent>,
    ) -> Result<Vec<StepOutcome>>;

    /// Records a batch of steps in one transaction; one outcome per step, in order.
    async fn commit_steps(&self, steps: &[StepWrite]) -> Result<Vec<StepOutcome>> {
        self.commit(steps.to_vec(), Vec::new()).await
    }

    /// Records one status report.
    async fn record_status(&self, event: &StatusEvent) -> Result<()> {
        self.commit(Vec::new(), vec![event.clone()]).await.map(drop)
    }
    /// Batches worth committing at the same moment: more than one where a commit waits on
    /// the network and the log flush of a server that commits other transactions meanwhile.
    fn concurrent_batches(&self) -> usize {
        1
    }

    async fn call(&self, call_sid: &str) -> Result<Option<CallRecord>>;
    /// The answer stored for a call's step, if it was recorded.
    async fn step_response(&self, call_sid: &str, seq: i32) -> Result<Option<String>>;
}
