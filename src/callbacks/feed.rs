//! Satisfaction callbacks from resolved tickets: follows the ticket event feed and queues one
//! callback per resolution in the standing campaign; a reopened ticket cancels it.
//!
//! Rules: the feed position is stored after each batch, and queuing is idempotent (a callback
//! is keyed by the event that owed it), so a crash re-reads at most one batch and queues
//! nothing twice. Only faults and orders are called back; complaints go to people.

use std::sync::Arc;
use std::time::Duration;

use super::NewCallback;
use crate::calls::service::normalize_number;
use crate::clock::Clock;
use crate::customers::LineKind;
use crate::prompts::Locale;
use crate::repo::{Store, StoreError};
use crate::tickets::{TicketEvent, TicketKind, TicketState};

/// The feed position's name in the store.
const CURSOR: &str = "satisfaction-callbacks";
const BATCH: i64 = 200;
const POLL: Duration = Duration::from_millis(500);

/// Creates the standing satisfaction campaign, running, when there is none and the
/// configuration names the number to call from; returns the standing campaign, if any.
pub async fn ensure_standing(
    store: &dyn Store,
    cfg: &crate::config::CallbackConfig,
    now: i64,
) -> Result<Option<super::Campaign>, StoreError> {
    if let Some(c) = store.standing_campaign().await? {
        return Ok(Some(c));
    }
    let Some(from) = cfg.from_number.clone() else {
        tracing::warn!(
            "no standing satisfaction campaign: resolved tickets are not called back \
             (set HOTLINE_CALLBACK_FROM, or create one through the API)"
        );
        return Ok(None);
    };
    let campaign = store
        .create_campaign(
            &super::NewCampaign {
                name: "satisfaction after resolution".into(),
                purpose: crate::surveys::script::Purpose::Satisfaction,
                script: crate::surveys::script::Script::satisfaction(),
                window: super::window::CallingWindow::default(),
                retry: super::policy::RetryPolicy::default(),
                pace_ms: super::pace_ms(cfg.calls_per_sec).unwrap_or(1000),
                from_number: from,
                starts_at: now,
                ends_at: None,
                standing: true,
                delay_minutes: 120,
                quiet_days: 30,
            },
            now,
        )
        .await?;
    let running = store
        .set_campaign_state(campaign.id, super::CampaignState::Running, now)
        .await?;
    tracing::info!(
        campaign = running.id,
        "created the standing satisfaction campaign"
    );
    Ok(Some(running))
}

/// Follows ticket events; cheap to clone.
#[derive(Clone)]
pub struct TicketFeed {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// The operator's zone: customers' zones are not known yet.
    pub tz: chrono_tz::Tz,
    pub default_locale: Locale,
}

impl TicketFeed {
    /// Handles every event not handled yet; returns how many callbacks it queued or cancelled.
    pub async fn catch_up(&self) -> Result<usize, StoreError> {
        let mut cursor = self.store.feed_cursor(CURSOR).await?;
        let mut changed = 0;
        loop {
            let events = self.store.ticket_events_after(cursor, BATCH).await?;
            let Some(last) = events.last().map(|e| e.id) else {
                return Ok(changed);
            };
            for e in &events {
                changed += self.handle(e).await?;
            }
            cursor = last;
            self.store.set_feed_cursor(CURSOR, cursor).await?;
        }
    }

    /// Runs until the task is dropped.
    pub async fn run(self) {
        loop {
            if let Err(e) = self.catch_up().await {
                tracing::warn!(error = %e, "following ticket events failed; will retry");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn handle(&self, e: &TicketEvent) -> Result<usize, StoreError> {
        match e.kind.as_str() {
            "resolved" => self.resolved(e).await,
            "appointment_set" => self.appointment(e).await,
            "reopened" => {
                let n = self
                    .store
                    .cancel_ticket_callbacks(
                        e.ticket_id,
                        e.id,
                        &format!(
                            "not called: ticket {} was reopened before the call",
                            e.ticket_number
                        ),
                        self.clock.now_ms(),
                    )
                    .await?;
                Ok(usize::try_from(n).unwrap_or(0))
            }
            _ => Ok(0),
        }
    }

    async fn resolved(&self, e: &TicketEvent) -> Result<usize, StoreError> {
        let Some(campaign) = self.store.standing_campaign().await? else {
            return Ok(0);
        };
        let Some(t) = self.store.ticket_by_id(e.ticket_id).await? else {
            return Ok(0);
        };
        // A resolution undone (reopened) or superseded (resolved again) since: a reader late
        // on the feed must not queue for it.
        let still = matches!(t.state, TicketState::Resolved | TicketState::Closed)
            && t.resolved_at == Some(e.at);
        if t.kind == TicketKind::Complaint || !still {
            return Ok(0);
        }
        let delay = campaign.delay_minutes;
        let why = format!(
            "ticket {} ({}) was resolved; its satisfaction callback is due {delay} minutes later",
            t.number,
            t.kind.as_str()
        );
        self.queue(e, &campaign, &t, e.at + delay * 60_000, why)
            .await
    }

    /// An agreed visit is confirmed by phone the day before (at once when it is sooner), in
    /// the first running appointment campaign.
    async fn appointment(&self, e: &TicketEvent) -> Result<usize, StoreError> {
        let campaigns = self.store.campaigns().await?;
        let Some(campaign) = campaigns.into_iter().find(|c| {
            c.purpose == crate::surveys::script::Purpose::Appointment
                && c.state == super::CampaignState::Running
        }) else {
            return Ok(0);
        };
        let Some(t) = self.store.ticket_by_id(e.ticket_id).await? else {
            return Ok(0);
        };
        // Only the visit still agreed, on a ticket still worked.
        let agreed = e
            .detail
            .get("appointment_at")
            .and_then(serde_json::Value::as_i64);
        let Some(at) = t.appointment_at.filter(|at| Some(*at) == agreed) else {
            return Ok(0);
        };
        if !t.state.is_active() {
            return Ok(0);
        }
        let now = self.clock.now_ms();
        if at <= now {
            return Ok(0);
        }
        let why = format!(
            "a visit was agreed for ticket {}; it is confirmed by phone the day before",
            t.number
        );
        self.queue(e, &campaign, &t, (at - 86_400_000).max(now), why)
            .await
    }

    /// Queues the callback `e` owes about ticket `t`.
    async fn queue(
        &self,
        e: &TicketEvent,
        campaign: &super::Campaign,
        t: &crate::tickets::Ticket,
        due_at: i64,
        why: String,
    ) -> Result<usize, StoreError> {
        let account = match t.account_id {
            Some(id) => self.store.account(id).await?,
            None => None,
        };
        // The number the caller gave, else the ticket's own phone line, else the account's.
        let number = t
            .callback_number
            .clone()
            .or_else(|| {
                (t.line_kind == Some(LineKind::Phone))
                    .then(|| t.line_number.clone())
                    .flatten()
            })
            .or_else(|| {
                account.as_ref().and_then(|a| {
                    a.lines
                        .iter()
                        .find(|l| l.kind == LineKind::Phone)
                        .map(|l| l.number.clone())
                })
            })
            .and_then(|n| normalize_number(&n));
        let Some(number) = number else {
            tracing::warn!(ticket = %t.number, "a resolved ticket with no number to call back");
            return Ok(0);
        };
        let cb = NewCallback {
            campaign_id: campaign.id,
            account_id: t.account_id,
            ticket_id: Some(t.id),
            source: format!("ticket-event:{}", e.id),
            to_number: number,
            timezone: self.tz.name().to_string(),
            locale: account
                .and_then(|a| a.language)
                .unwrap_or(self.default_locale),
            due_at,
            why,
        };
        let queued = self
            .store
            .queue_callbacks(&[cb], self.clock.now_ms())
            .await?;
        Ok(queued.iter().flatten().count())
    }
}
