//! The ticket desk: what every channel (calls, the API, later the console) uses to open and
//! change tickets, so each gets the same deadline policy and the same history; and the
//! sweeper that marks breaches when they happen.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::sla::Policy;
use super::{Action, NewTicket, Origin, Ticket};
use crate::calendar::{Calendar, CoverageGap};
use crate::clock::Clock;
use crate::repo::Result;
use crate::tickets::repo::TicketStore;

/// Longest the sweeper sleeps: also how late a breach may be marked when the clock jumps.
const SWEEP_AT_MOST_EVERY: Duration = Duration::from_secs(1);
/// Tickets marked in one transaction.
const SWEEP_BATCH: i64 = 500;

/// Cheap to clone.
#[derive(Clone)]
pub struct Desk {
    pub store: Arc<dyn TicketStore>,
    pub policy: Arc<Policy>,
    pub tz: chrono_tz::Tz,
    pub calendar: Arc<Calendar>,
    pub clock: Arc<dyn Clock>,
    /// Wakes the sweeper when a ticket with a deadline opens.
    wake: Arc<Notify>,
}

impl Desk {
    pub fn new(
        store: Arc<dyn TicketStore>,
        policy: Policy,
        tz: chrono_tz::Tz,
        calendar: Calendar,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Desk {
            store,
            policy: Arc::new(policy),
            tz,
            calendar: Arc::new(calendar),
            clock,
            wake: Arc::new(Notify::new()),
        }
    }

    /// The deadline the policy promises for a ticket reported at `now`.
    pub fn deadline(&self, t: &NewTicket, now: i64) -> Option<i64> {
        self.policy.deadline_ms(
            t.kind,
            t.line_kind,
            t.customer_class.unwrap_or_default(),
            now,
            self.tz,
            &self.calendar,
        )
    }

    /// Whether the calendar misses any of the coming days it should cover (see
    /// `Calendar::coverage_gap`), today being the operator's local date.
    pub fn calendar_gap(&self) -> Option<CoverageGap> {
        let now = chrono::DateTime::from_timestamp_millis(self.clock.now_ms())?;
        self.calendar
            .coverage_gap(now.with_timezone(&self.tz).date_naive())
    }

    /// Whether a deadline was found from the calendar's fallback rather than its data.
    pub fn is_estimated(&self, deadline_at: i64) -> bool {
        chrono::DateTime::from_timestamp_millis(deadline_at)
            .is_some_and(|d| !self.calendar.covers(d.with_timezone(&self.tz).date_naive()))
    }

    /// Opens a ticket at `now` with the policy's deadline (`t.deadline_at` and
    /// `t.deadline_estimated` are ignored).
    pub async fn open(&self, t: NewTicket, now: i64) -> Result<Ticket> {
        let deadline_at = self.deadline(&t, now);
        let t = NewTicket {
            deadline_at,
            deadline_estimated: deadline_at.is_some_and(|d| self.is_estimated(d)),
            ..t
        };
        let ticket = self.store.open_ticket(&t, now).await?;
        if ticket.deadline_at.is_some() {
            self.wake.notify_one();
        }
        Ok(ticket)
    }

    pub async fn change(
        &self,
        number: &str,
        action: &Action,
        actor: &str,
        origin: Option<&Origin>,
    ) -> Result<Ticket> {
        let now = self.clock.now_ms();
        self.store
            .change_ticket(number, action, actor, origin, now)
            .await
    }

    /// Marks every ticket whose deadline has passed; returns how many.
    pub async fn sweep(&self) -> Result<usize> {
        let now = self.clock.now_ms();
        let mut total = 0;
        loop {
            let marked = self.store.mark_breaches(now, SWEEP_BATCH).await?;
            for t in &marked {
                tracing::info!(ticket = %t.number, kind = t.kind.as_str(), "ticket breached its deadline");
            }
            total += marked.len();
            if (marked.len() as i64) < SWEEP_BATCH {
                return Ok(total);
            }
        }
    }

    /// Runs the sweeper until the task is dropped: it sleeps until the next deadline (at most
    /// a second, so a moved clock is noticed), or until a new ticket wakes it.
    pub async fn run_sweeper(self) {
        loop {
            if let Err(e) = self.sweep().await {
                tracing::warn!(error = %e, "marking breached tickets failed; will retry");
            }
            let wait = match self.store.next_deadline().await {
                Ok(Some(at)) => {
                    let ms = (at - self.clock.now_ms()).max(1);
                    Duration::from_millis(u64::try_from(ms).unwrap_or(1)).min(SWEEP_AT_MOST_EVERY)
                }
                _ => SWEEP_AT_MOST_EVERY,
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
            }
        }
    }
}
