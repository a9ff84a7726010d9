//! Group commit for call steps: one writer task drains whatever steps are waiting and records
//! them in one transaction, then answers each. Under load this turns thousands of tiny
//! transactions a second into a few hundred larger ones; when idle a step is written alone
//! at once, so nobody waits for a batch to fill.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{Result, StepOutcome, StepWrite, Store, StoreError};

/// Steps drained into one transaction at most.
const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<StepOutcome, Arc<StoreError>>>;

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct StepWriter {
    tx: mpsc::Sender<(StepWrite, Reply)>,
}

impl StepWriter {
    /// Starts the writer task on the current runtime.
    pub fn spawn(store: Arc<dyn Store>) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(store, rx));
        StepWriter { tx }
    }

    /// Records one step; returns once it is committed (or found to be a replay).
    pub async fn commit(&self, step: StepWrite) -> Result<StepOutcome, Arc<StoreError>> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send((step, reply))
            .await
            .map_err(|_| Arc::new(StoreError::WriterGone))?;
        rx.await.map_err(|_| Arc::new(StoreError::WriterGone))?
    }
}

async fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<(StepWrite, Reply)>) {
    let mut steps = Vec::with_capacity(MAX_BATCH);
    let mut replies = Vec::with_capacity(MAX_BATCH);
    let mut buf = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut buf, MAX_BATCH).await > 0 {
        for (s, r) in buf.drain(..) {
            steps.push(s);
            replies.push(r);
        }
        match store.commit_steps(&steps).await {
            Ok(outcomes) if outcomes.len() == replies.len() => {
                for (r, o) in replies.drain(..).zip(outcomes) {
                    let _ = r.send(Ok(o));
                }
            }
            Ok(outcomes) => {
                let e = Arc::new(StoreError::Corrupt(format!(
                    "{} outcomes for {} steps",
                    outcomes.len(),
                    replies.len()
                )));
                for r in replies.drain(..) {
                    let _ = r.send(Err(e.clone()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, steps = steps.len(), "committing call steps failed");
                let e = Arc::new(e);
                for r in replies.drain(..) {
                    let _ = r.send(Err(e.clone()));
                }
            }
        }
        steps.clear();
    }
}
