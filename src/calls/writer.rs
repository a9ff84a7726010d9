//! Group commit for call steps and status reports: one writer task drains whatever writes are
//! waiting and records them in one transaction, then answers each. Under load this turns
//! thousands of tiny transactions a second into a few hundred larger ones; when idle a write
//! goes alone at once, so nobody waits for a batch to fill. When the database refuses a batch
//! for something in it (not because it is down), its writes go again one at a time, so one
//! caller's bad write never fails the others'. Where the store gains from it
//! (`CallStore::concurrent_batches`), several batches commit at once: one gathers while
//! another waits for its commit.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::repo::CallStore;
use super::step::{StatusEvent, StepOutcome, StepWrite};
use crate::repo::{Result, StoreError};

/// Writes drained into one transaction at most.
const MAX_BATCH: usize = 256;
/// Scheduler passes a batch waits at most for more writes (see `run`).
const MAX_GATHER_PASSES: usize = 8;
/// A batch the store has not committed by then fails. A store that stops answering (a
/// network black hole: nothing refused, nothing answered) would otherwise hold the one
/// writer, and every write after it, until the network came back. Busy waits on SQLite
/// (five seconds) fit inside it.
const BATCH_DEADLINE: Duration = Duration::from_secs(6);
/// How long a status report is tried again while the store fails (see
/// `record_status_in_background`); Twilio does not send it again.
const STATUS_PATIENCE: Duration = Duration::from_secs(15 * 60);
/// The longest pause between two tries of a status report.
const STATUS_RETRY_MAX: Duration = Duration::from_secs(30);
/// Status reports waiting for the store at most (a few hundred bytes each); past this a
/// report is refused rather than kept.
const MAX_PENDING_STATUSES: usize = 10_000;

type Reply<T> = oneshot::Sender<Result<T, Arc<StoreError>>>;

enum Write {
    Step(StepWrite, Reply<StepOutcome>),
    Status(StatusEvent, Reply<()>),
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct StepWriter {
    tx: mpsc::Sender<Write>,
    /// Room for status reports still being written in the background.
    pending_statuses: Arc<Semaphore>,
}

impl StepWriter {
    /// Starts the writer task on the current runtime.
    pub fn spawn(store: Arc<dyn CallStore>) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..store.concurrent_batches().max(1) {
            tokio::spawn(run(store.clone(), rx.clone()));
        }
        StepWriter {
            tx,
            pending_statuses: Arc::new(Semaphore::new(MAX_PENDING_STATUSES)),
        }
    }

    /// Records one step; returns once it is committed (or found to be a replay).
    pub async fn commit(&self, step: StepWrite) -> Result<StepOutcome, Arc<StoreError>> {
        let (reply, rx) = oneshot::channel();
        self.send(Write::Step(step, reply), rx).await
    }

    /// Records one status report; returns once it is committed.
    pub async fn record_status(&self, event: StatusEvent) -> Result<(), Arc<StoreError>> {
        let (reply, rx) = oneshot::channel();
        self.send(Write::Status(event, reply), rx).await
    }

    /// Records a status report from a task of its own, which tries again while the store
    /// fails (for up to `STATUS_PATIENCE`), so that a report that arrives during an outage is
    /// stored when the store is back. The handle tells when it is stored or given up; `None`
    /// when too many reports are already waiting (this one is not kept).
    pub fn record_status_in_background(
        &self,
        event: StatusEvent,
    ) -> Option<JoinHandle<Result<(), Arc<StoreError>>>> {
        let permit = self.pending_statuses.clone().try_acquire_owned().ok()?;
        let writer = self.clone();
        Some(tokio::spawn(async move {
            let _permit = permit;
            let give_up = tokio::time::Instant::now() + STATUS_PATIENCE;
            let mut pause = Duration::from_secs(1);
            loop {
                match writer.record_status(event.clone()).await {
                    Ok(()) => return Ok(()),
                    Err(e) if matches!(*e, StoreError::WriterGone) => return Err(e),
                    Err(e) if tokio::time::Instant::now() + pause < give_up => {
                        tracing::warn!(call_sid = %event.call_sid, error = %e, retry_in_secs = pause.as_secs(), "a status report waits for the store");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(STATUS_RETRY_MAX);
                    }
                    Err(e) => {
                        tracing::error!(call_sid = %event.call_sid, status = %event.status, error = %e, "a status report is lost: the store failed for too long");
                        return Err(e);
                    }
                }
            }
        }))
    }

    async fn send<T>(
        &self,
        write: Write,
        rx: oneshot::Receiver<Result<T, Arc<StoreError>>>,
    ) -> Result<T, Arc<StoreError>> {
        let gone = || Arc::new(StoreError::WriterGone);
        self.tx.send(write).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }
}

/// Gathers a batch from `rx` into `buf`: what is waiting, and what arrives within a few
/// scheduler passes. Zero when every writer handle is gone.
///
/// Before the batch goes, every request already received may run up to its write: on a busy
/// core the first write would otherwise wake the writer and go alone, and a transaction per
/// request or two is what group commit is there to avoid. Each pass of the scheduler also
/// lets the I/O driver hand over requests that arrived during the last one; the batch goes
/// when a pass brings nothing more. When idle this costs one pass.
async fn gather(rx: &mut mpsc::Receiver<Write>, buf: &mut Vec<Write>) -> usize {
    if rx.recv_many(buf, MAX_BATCH).await == 0 {
        return 0;
    }
    for _ in 0..MAX_GATHER_PASSES {
        tokio::task::yield_now().await;
        let before = buf.len();
        while buf.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(w) => buf.push(w),
                Err(_) => break,
            }
        }
        if buf.len() == before || buf.len() == MAX_BATCH {
            break;
        }
    }
    buf.len()
}

async fn run(store: Arc<dyn CallStore>, rx: Arc<Mutex<mpsc::Receiver<Write>>>) {
    let mut buf = Vec::with_capacity(MAX_BATCH);
    let (mut steps, mut step_replies) = (Vec::new(), Vec::new());
    let (mut statuses, mut status_replies) = (Vec::new(), Vec::new());
    // The receiver is held while gathering only: another writer gathers the next batch
    // while this one commits.
    loop {
        if gather(&mut *rx.lock().await, &mut buf).await == 0 {
            return;
        }
        for w in buf.drain(..) {
            match w {
                // Its request gave up waiting (the webhook's deadline passed) and the caller
                // heard an apology: recording the step would store an answer nobody heard,
                // and apply its effects (a PIN failure) behind the caller's back.
                Write::Step(_, r) if r.is_closed() => {}
                Write::Step(s, r) => {
                    steps.push(s);
                    step_replies.push(r);
                }
                Write::Status(e, r) => {
                    statuses.push(e);
                    status_replies.push(r);
                }
            }
        }
        if steps.is_empty() && statuses.is_empty() {
            continue;
        }
        let batch = (std::mem::take(&mut steps), std::mem::take(&mut statuses));
        // Kept only for a batch of several writes, which is what a fallback could split.
        let retry = (batch.0.len() + batch.1.len() > 1).then(|| batch.clone());
        let result =
            match tokio::time::timeout(BATCH_DEADLINE, store.commit(batch.0, batch.1)).await {
                Ok(Ok(outcomes)) if outcomes.len() == step_replies.len() => Ok(outcomes),
                Ok(Ok(outcomes)) => Err(StoreError::Corrupt(format!(
                    "{} outcomes for {} steps",
                    outcomes.len(),
                    step_replies.len()
                ))),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(StoreError::TimedOut),
            };
        match (result, retry) {
            (Ok(outcomes), _) => {
                for (r, o) in step_replies.drain(..).zip(outcomes) {
                    let _ = r.send(Ok(o));
                }
                for r in status_replies.drain(..) {
                    let _ = r.send(Ok(()));
                }
            }
            (Err(e), Some((steps, statuses))) if !e.is_outage() => {
                // The database refused something in the batch (text it cannot hold, a
                // constraint, a deadlock): the transaction is rolled back, so each write goes
                // again alone and only the one at fault fails its caller.
                tracing::warn!(error = %e, steps = steps.len(), statuses = statuses.len(), "a write batch failed; writing its writes one at a time");
                one_by_one(
                    store.as_ref(),
                    steps,
                    statuses,
                    &mut step_replies,
                    &mut status_replies,
                )
                .await;
            }
            (Err(e), _) => {
                tracing::error!(error = %e, steps = step_replies.len(), statuses = status_replies.len(), "committing a write batch failed");
                let e = Arc::new(e);
                for r in step_replies.drain(..) {
                    let _ = r.send(Err(e.clone()));
                }
                for r in status_replies.drain(..) {
                    let _ = r.send(Err(e.clone()));
                }
            }
        }
        steps.clear();
        statuses.clear();
    }
}

/// Commits each write of a failed batch in a transaction of its own and answers it.
async fn one_by_one(
    store: &dyn CallStore,
    steps: Vec<StepWrite>,
    statuses: Vec<StatusEvent>,
    step_replies: &mut Vec<Reply<StepOutcome>>,
    status_replies: &mut Vec<Reply<()>>,
) {
    for (step, reply) in steps.into_iter().zip(step_replies.drain(..)) {
        let (call_sid, seq) = (step.call_sid.clone(), step.seq);
        let result = match store
            .commit(vec![step], Vec::new())
            .await
            .map(<[_; 1]>::try_from)
        {
            Ok(Ok([outcome])) => Ok(outcome),
            Ok(Err(outcomes)) => Err(StoreError::Corrupt(format!(
                "{} outcomes for 1 step",
                outcomes.len()
            ))),
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            tracing::error!(call_sid, seq, error = %e, "recording a step failed");
        }
        let _ = reply.send(result.map_err(Arc::new));
    }
    for (event, reply) in statuses.into_iter().zip(status_replies.drain(..)) {
        let call_sid = event.call_sid.clone();
        let result = store.commit(Vec::new(), vec![event]).await.map(drop);
        if let Err(e) = &result {
            tracing::error!(call_sid, error = %e, "recording a status report failed");
        }
        let _ = reply.send(result.map_err(Arc::new));
    }
}

#[cfg(test)]
mod tests {
    //! The writer against a fake repository: what reaches the store is what the test needs to
    //! see (which writes went together), and a store fault is whatever the test says.

    use std::sync::Mutex;

    use async_trait::async_trait;
    use tokio::sync::Semaphore;

    use super::*;
    use crate::calls::CallRecord;

    /// Refuses any batch holding a step whose input is `poison`, or fails everything as an
    /// outage; holds its first commit until `gate` opens, so the writes sent meanwhile queue
    /// up and go in one batch.
    struct Fake {
        outage: bool,
        gate: Semaphore,
        /// The steps of every commit, by input.
        commits: Mutex<Vec<Vec<String>>>,
        /// `CallStore::concurrent_batches`.
        writers: usize,
    }

    #[async_trait]
    impl CallStore for Fake {
        async fn commit(
            &self,
            steps: Vec<StepWrite>,
            _statuses: Vec<StatusEvent>,
        ) -> Result<Vec<StepOutcome>> {
            let first = self.commits.lock().map(|c| c.is_empty()).unwrap_or(false);
            let inputs: Vec<String> = steps.iter().map(|s| s.input.clone()).collect();
            self.commits.lock().expect("lock").push(inputs.clone());
            if first {
                drop(self.gate.acquire().await.expect("gate"));
            }
            if self.outage {
                Err(StoreError::TimedOut)
            } else if inputs.iter().any(|i| i == "poison") {
                Err(StoreError::Conflict("the database refused a row".into()))
            } else {
                Ok(vec![StepOutcome::Recorded; steps.len()])
            }
        }

        fn concurrent_batches(&self) -> usize {
            self.writers
        }

        async fn call(&self, _call_sid: &str) -> Result<Option<CallRecord>> {
            Ok(None)
        }

        async fn step_response(&self, _call_sid: &str, _seq: i32) -> Result<Option<String>> {
            Ok(None)
        }
    }

    fn step(n: i32, input: &str) -> StepWrite {
        StepWrite {
            call_sid: format!("CA{n}"),
            seq: 1,
            new_call: None,
            node: "menu".into(),
            input: input.into(),
            said: String::new(),
            response: "<Response/>".into(),
            at: 0,
            effects: Vec::new(),
        }
    }

    /// Sends `inputs` as concurrent steps (the first alone, the rest queued behind it) and
    /// returns each caller's result, in order, with the store's commits.
    async fn write(
        outage: bool,
        inputs: &[&str],
    ) -> (Vec<Result<StepOutcome, Arc<StoreError>>>, Vec<Vec<String>>) {
        let fake = Arc::new(Fake {
            outage,
            gate: Semaphore::new(0),
            commits: Mutex::default(),
            writers: 1,
        });
        let writer = StepWriter::spawn(fake.clone());
        let mut calls = Vec::new();
        for (n, input) in inputs.iter().enumerate() {
            let (w, s) = (writer.clone(), step(n as i32, input));
            calls.push(tokio::spawn(async move { w.commit(s).await }));
            if n == 0 {
                // In the store, held at the gate, before the others are sent.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        fake.gate.add_permits(1);
        let mut results = Vec::new();
        for c in calls {
            results.push(c.await.expect("joined"));
        }
        let commits = fake.commits.lock().expect("lock").clone();
        (results, commits)
    }

    /// With a store that takes two batches at once, a write sent while the first batch waits
    /// for its commit goes at once; with one, it waits behind it.
    #[tokio::test]
    async fn a_batch_commits_while_another_waits_where_the_store_takes_two() {
        for writers in [2, 1] {
            let fake = Arc::new(Fake {
                outage: false,
                gate: Semaphore::new(0),
                commits: Mutex::default(),
                writers,
            });
            let writer = StepWriter::spawn(fake.clone());
            let w = writer.clone();
            let first = tokio::spawn(async move { w.commit(step(0, "1")).await });
            // In the store, held at the gate.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let second =
                tokio::time::timeout(Duration::from_millis(300), writer.commit(step(1, "2"))).await;
            match writers {
                2 => assert_eq!(
                    second.expect("not held behind the first").ok(),
                    Some(StepOutcome::Recorded)
                ),
                _ => assert!(second.is_err(), "one writer: the second waits"),
            }
            assert!(!first.is_finished(), "the first is still at the gate");
            fake.gate.add_permits(1);
            let done = first.await.expect("joined");
            assert_eq!(done.ok(), Some(StepOutcome::Recorded));
        }
    }

    #[tokio::test]
    async fn a_write_the_database_refuses_fails_only_its_own_caller() {
        let (results, commits) = write(false, &["1", "2", "poison", "4", "5"]).await;
        assert_eq!(
            commits[1],
            ["2", "poison", "4", "5"],
            "the writes that waited went in one batch"
        );
        assert!(commits[2..].iter().all(|c| c.len() == 1), "{commits:?}");
        assert_eq!(commits.len(), 6, "then one at a time: {commits:?}");
        for (n, r) in results.iter().enumerate() {
            match n {
                2 => assert!(
                    matches!(r.as_ref().map_err(|e| &**e), Err(StoreError::Conflict(_))),
                    "{r:?}"
                ),
                _ => assert_eq!(r.as_ref().ok(), Some(&StepOutcome::Recorded), "{n}: {r:?}"),
            }
        }
    }

    #[tokio::test]
    async fn an_outage_fails_the_batch_without_writing_it_again_one_at_a_time() {
        let (results, commits) = write(true, &["1", "2", "3", "4"]).await;
        assert_eq!(commits, [vec!["1"], vec!["2", "3", "4"]]);
        assert!(
            results
                .iter()
                .all(|r| matches!(r.as_ref().map_err(|e| &**e), Err(StoreError::TimedOut))),
            "{results:?}"
        );
    }
}
