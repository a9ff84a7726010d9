//! Tickets, their history and webhook deliveries, for both backends.
//!
//! Rules: the statements are the same text on SQLite and PostgreSQL (`$N` placeholders,
//! `CAST` on parameters that may be NULL so PostgreSQL can type them); the functions are
//! written once, over `db::Backend`, and rows are read by column name. A ticket read to be
//! changed is locked with the dialect's `lock_rows`, a delivery claimed with `skip_locked`.
//! Every ticket change writes its history entry and its webhook deliveries in the same
//! transaction.

use super::agents::write_one;
use super::db::{AsConn, Backend, Dialect, Row, query};
use super::{Result, StoreError, TicketStore, WebhookStore};
use crate::customers::{CustomerClass, LineKind};
use crate::tickets::{
    Action, Channel, NewTicket, Origin, Recording, Ticket, TicketEvent, TicketFilter, TicketKind,
    TicketPage, TicketState,
};
use crate::webhooks::{AttemptResult, Delivery, DeliveryJob, DeliveryState, Endpoint, NewEndpoint};

/// The columns `ticket` reads.
macro_rules! ticket_columns {
    () => {
        "t.id, t.number, t.kind, t.state, t.account_id, \
     t.line_number, t.line_kind, t.customer_class, t.channel, t.category, t.description, \
     t.callback_number, t.assignee, t.opened_at, t.deadline_at, t.deadline_estimated, \
     t.appointment_at, t.resolved_at, t.resolution_code, t.resolution_note, t.closed_at, t.breached_at, \
     t.recording_url, t.recording_sid, t.recording_secs, t.transcript, t.origin_call_sid, \
     t.address, t.updated_at"
    };
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} {value:?}"))
}

/// A select of `ticket_columns!()` from `tickets t`, with what follows `WHERE`.
macro_rules! select_tickets {
    ($($tail:tt)*) => {
        concat!("SELECT ", ticket_columns!(), " FROM tickets t WHERE ", $($tail)*)
    };
}

/// A row of `ticket_columns!()`.
fn ticket(r: &Row) -> Result<Ticket> {
    let kind: String = r.get("kind")?;
    let state: String = r.get("state")?;
    let channel: String = r.get("channel")?;
    let line_kind: Option<String> = r.get("line_kind")?;
    let class: Option<String> = r.get("customer_class")?;
    let line_kind = line_kind
        .map(|s| LineKind::parse(&s).ok_or_else(|| corrupt("line kind", &s)))
        .transpose()?;
    let customer_class = class
        .map(|s| CustomerClass::parse(&s).ok_or_else(|| corrupt("customer class", &s)))
        .transpose()?;
    let url: Option<String> = r.get("recording_url")?;
    let sid: Option<String> = r.get("recording_sid")?;
    let secs: Option<i64> = r.get("recording_secs")?;
    let recording = url.map(|url| Recording {
        url,
        sid,
        duration_secs: secs.unwrap_or(0),
    });
    Ok(Ticket {
        id: r.get("id")?,
        kind: TicketKind::parse(&kind).ok_or_else(|| corrupt("ticket kind", &kind))?,
        state: TicketState::parse(&state).ok_or_else(|| corrupt("ticket state", &state))?,
        number: r.get("number")?,
        account_id: r.get("account_id")?,
        line_number: r.get("line_number")?,
        line_kind,
        customer_class,
        channel: Channel::parse(&channel).ok_or_else(|| corrupt("channel", &channel))?,
        category: r.get("category")?,
        description: r.get("description")?,
        callback_number: r.get("callback_number")?,
        assignee: r.get("assignee")?,
        opened_at: r.get("opened_at")?,
        deadline_at: r.get("deadline_at")?,
        deadline_estimated: r.get("deadline_estimated")?,
        appointment_at: r.get("appointment_at")?,
        resolved_at: r.get("resolved_at")?,
        resolution_code: r.get("resolution_code")?,
        resolution_note: r.get("resolution_note")?,
        closed_at: r.get("closed_at")?,
        breached_at: r.get("breached_at")?,
        recording,
        transcript: r.get("transcript")?,
        origin_call_sid: r.get("origin_call_sid")?,
        address: r.get("address")?,
        updated_at: r.get("updated_at")?,
    })
}

/// A row of `select_events!`.
fn event(r: &Row) -> Result<TicketEvent> {
    let id: i64 = r.get("id")?;
    let state = |column: &str| -> Result<Option<TicketState>> {
        let s: Option<String> = r.get(column)?;
        s.map(|s| TicketState::parse(&s).ok_or_else(|| corrupt("ticket state", &s)))
            .transpose()
    };
    let detail: String = r.get("detail")?;
    Ok(TicketEvent {
        id,
        ticket_id: r.get("ticket_id")?,
        ticket_number: r.get("number")?,
        kind: r.get("kind")?,
        actor: r.get("actor")?,
        from_state: state("from_state")?,
        to_state: state("to_state")?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::Corrupt(format!("event {id} detail: {e}")))?,
        at: r.get("at")?,
    })
}

/// A row of `sql::ENDPOINTS`.
fn endpoint(r: &Row) -> Result<Endpoint> {
    let events: String = r.get("events")?;
    Ok(Endpoint {
        id: r.get("id")?,
        url: r.get("url")?,
        secret: crate::secret::Secret::new(r.get::<String>("secret")?),
        events: events
            .split(',')
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect(),
        description: r.get("description")?,
        active: r.get("active")?,
        created_at: r.get("created_at")?,
    })
}

/// How endpoint event lists are stored: each between commas, so one `LIKE` matches.
fn stored_events(events: &[String]) -> String {
    format!(",{},", events.join(","))
}

/// A row of `delivery_columns!()`.
fn delivery(r: &Row) -> Result<Delivery> {
    let state: String = r.get("state")?;
    Ok(Delivery {
        id: r.get("id")?,
        endpoint_id: r.get("endpoint_id")?,
        event_id: r.get("event_id")?,
        state: DeliveryState::parse(&state).ok_or_else(|| corrupt("delivery state", &state))?,
        attempts: r.get("attempts")?,
        next_attempt_at: r.get("next_attempt_at")?,
        last_status: r.get("last_status")?,
        last_error: r.get("last_error")?,
        delivered_at: r.get("delivered_at")?,
        created_at: r.get("created_at")?,
    })
}

/// A select of the columns `event` reads, with what follows `WHERE`.
macro_rules! select_events {
    ($($tail:tt)*) => {
        concat!(
            "SELECT e.id, e.ticket_id, t.number, e.kind, e.actor, e.from_state, e.to_state, \
             e.detail, e.at FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE ",
            $($tail)*
        )
    };
}

/// The columns `delivery` reads.
macro_rules! delivery_columns {
    () => {
        "d.id, d.endpoint_id, d.event_id, d.state, d.attempts, d.next_attempt_at, \
         d.last_status, d.last_error, d.delivered_at, d.created_at"
    };
}

pub(super) mod sql {
    /// States in which a ticket is still worked (`TicketState::is_active`).
    macro_rules! active {
        () => {
            "('open', 'assigned', 'in_progress', 'reopened')"
        };
    }
    pub(crate) use active;

    pub const INSERT_TICKET: &str = "INSERT INTO tickets (number, kind, state, account_id, \
         line_number, line_kind, customer_class, channel, category, description, \
         callback_number, opened_at, deadline_at, recording_url, recording_sid, \
         recording_secs, origin_call_sid, origin_seq, deadline_estimated, address, updated_at) \
         VALUES ($1, $2, 'open', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
         $16, $17, $18, $19, $11) ON CONFLICT DO NOTHING RETURNING id";
    pub const TICKET_BY_ORIGIN: &str =
        "SELECT t.number FROM tickets t WHERE t.origin_call_sid = $1 AND t.origin_seq = $2";
    pub const EVENT_BY_ORIGIN: &str =
        "SELECT e.id FROM ticket_events e WHERE e.origin_call_sid = $1 AND e.origin_seq = $2";
    /// Writes every column an action may change.
    pub const UPDATE_TICKET: &str = "UPDATE tickets SET state = $2, assignee = $3, \
         appointment_at = $4, resolved_at = $5, resolution_code = $6, resolution_note = $7, \
         closed_at = $8, breached_at = $9, transcript = $10, updated_at = $11 WHERE id = $1";
    pub const INSERT_EVENT: &str = "INSERT INTO ticket_events (ticket_id, kind, actor, \
         from_state, to_state, detail, at, origin_call_sid, origin_seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
    /// `$1` event, `$2` time, `$3` the event type: one pending delivery per subscriber.
    pub const FAN_OUT: &str = "INSERT INTO webhook_deliveries (endpoint_id, event_id, state, \
         attempts, next_attempt_at, created_at) \
         SELECT w.id, $1, 'pending', 0, $2, $2 FROM webhook_endpoints w \
         WHERE w.active AND (w.events LIKE '%,*,%' \
             OR w.events LIKE '%,' || CAST($3 AS TEXT) || ',%')";
    pub const EVENTS_OF_TICKET: &str = select_events!("e.ticket_id = $1 ORDER BY e.id");
    pub const EVENTS_AFTER: &str = select_events!("e.id > $1 ORDER BY e.id LIMIT $2");
    pub const EVENT_BY_ID: &str = select_events!("e.id = $1");
    pub const DUE_FOR_BREACH: &str = concat!(
        "SELECT t.number FROM tickets t WHERE t.breached_at IS NULL \
         AND t.deadline_at IS NOT NULL AND t.deadline_at < $1 AND t.state IN ",
        active!(),
        " ORDER BY t.deadline_at LIMIT $2"
    );
    pub const NEXT_DEADLINE: &str = concat!(
        "SELECT MIN(t.deadline_at) FROM tickets t WHERE t.breached_at IS NULL \
         AND t.deadline_at IS NOT NULL AND t.state IN ",
        active!()
    );

    /// A ticket by number; `lock_rows` is appended where it is read to be changed.
    pub const BY_NUMBER: &str = select_tickets!("t.number = $1");
    pub const BY_ID: &str = select_tickets!("t.id = $1");
    pub const ACTIVE_ON_LINE: &str = select_tickets!(
        "t.line_number = $1 AND t.kind = $2 AND t.state IN ",
        active!(),
        " ORDER BY t.id DESC LIMIT 1"
    );
    pub const BY_RECORDING: &str = select_tickets!("t.recording_sid = $1");
    /// `$1` before id, `$2` state, `$3` kind, `$4` account number, `$5` line, `$6` assignee,
    /// `$7` breached (-1 any, 0 no, 1 yes), `$8` now, `$9` limit.
    pub const LIST_TICKETS: &str = select_tickets!(
        "t.id < $1 \
         AND (CAST($2 AS TEXT) IS NULL OR t.state = $2) \
         AND (CAST($3 AS TEXT) IS NULL OR t.kind = $3) \
         AND (CAST($4 AS TEXT) IS NULL OR t.account_id = \
             (SELECT a.id FROM accounts a WHERE a.account_no = $4)) \
         AND (CAST($5 AS TEXT) IS NULL OR t.line_number = $5) \
         AND (CAST($6 AS TEXT) IS NULL OR t.assignee = $6) \
         AND ($7 < 0 OR (CASE WHEN t.breached_at IS NOT NULL OR (t.deadline_at < $8 \
         AND t.state IN ",
        active!(),
        ") THEN 1 ELSE 0 END) = $7) \
         ORDER BY t.id DESC LIMIT $9"
    );

    pub const INSERT_ENDPOINT: &str = "INSERT INTO webhook_endpoints (url, secret, events, \
         description, active, created_at) VALUES ($1, $2, $3, $4, true, $5) RETURNING id";
    pub const ENDPOINTS: &str = "SELECT id, url, secret, events, description, active, \
         created_at FROM webhook_endpoints ORDER BY id";
    pub const DELETE_ENDPOINT: &str = "DELETE FROM webhook_endpoints WHERE id = $1";
    /// The next pending deliveries due; `skip_locked` is appended, so that workers claim
    /// different ones.
    pub const CLAIM: &str = "SELECT d.id FROM webhook_deliveries d \
         WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
         ORDER BY d.next_attempt_at, d.id LIMIT $2";
    pub const LEASE_DELIVERY: &str =
        "UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id = $1";
    pub const DELIVERY_JOB: &str = concat!(
        "SELECT ",
        delivery_columns!(),
        ", w.url, w.secret FROM webhook_deliveries d \
         JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE d.id = $1"
    );
    /// Only a pending delivery moves: a late answer cannot undo a delivered one.
    pub const FINISH_DELIVERY: &str = "UPDATE webhook_deliveries SET state = $2, \
         attempts = attempts + 1, last_status = $3, last_error = $4, \
         delivered_at = CASE WHEN $2 = 'delivered' THEN $5 ELSE delivered_at END, \
         next_attempt_at = $6 WHERE id = $1 AND state = 'pending'";
    pub const DELIVERIES_OF_ENDPOINT: &str = concat!(
        "SELECT ",
        delivery_columns!(),
        " FROM webhook_deliveries d \
         WHERE d.endpoint_id = $1 AND d.id > $2 ORDER BY d.id LIMIT $3"
    );
    pub const RETRY_DELIVERY: &str = "UPDATE webhook_deliveries SET state = 'pending', \
         next_attempt_at = $2 WHERE id = $1 AND state = 'failed'";
}

/// Writes a history entry and the webhook deliveries it owes.
#[allow(clippy::too_many_arguments)]
async fn record(
    on: &mut impl AsConn,
    ticket_id: i64,
    kind: &str,
    actor: &str,
    from: Option<&str>,
    to: Option<&str>,
    detail: &serde_json::Value,
    at: i64,
    origin: Option<&Origin>,
) -> Result<i64> {
    let id: i64 = query(sql::INSERT_EVENT)
        .bind(ticket_id)
        .bind(kind)
        .bind(actor)
        .bind(from)
        .bind(to)
        .bind(detail.to_string())
        .bind(at)
        .bind(origin.map(|o| o.call_sid.as_str()))
        .bind(origin.map(|o| o.seq))
        .scalar(on)
        .await?;
    query(sql::FAN_OUT)
        .bind(id)
        .bind(at)
        .bind(format!("ticket.{kind}"))
        .execute(on)
        .await?;
    Ok(id)
}

/// Raises the escalation a ticket event owes, if any (a complaint, a breach).
async fn escalate(on: &mut impl AsConn, t: &Ticket, event: &str, at: i64) -> Result<()> {
    if let Some(e) = crate::escalations::NewEscalation::for_ticket_event(t, event, at) {
        super::agents::raise(on, &e).await?;
    }
    if event == "resolved" {
        super::agents::close_replied_cases(on, t, at).await?;
    }
    Ok(())
}

/// The ticket numbered `number`; `lock` is the dialect's `lock_rows` where it is read to be
/// changed, or nothing.
async fn by_number(on: &mut impl AsConn, number: &str, lock: &'static str) -> Result<Ticket> {
    (query(sql::BY_NUMBER).append(lock))
        .bind(number)
        .fetch_optional_as(on, ticket)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Applies an action to a locked ticket and records it.
pub(super) async fn change(
    on: &mut impl AsConn,
    dialect: &Dialect,
    number: &str,
    action: &Action,
    actor: &str,
    origin: Option<&Origin>,
    now: i64,
) -> Result<Ticket> {
    if let Some(o) = origin {
        let done: Option<i64> = query(sql::EVENT_BY_ORIGIN)
            .bind(&o.call_sid)
            .bind(o.seq)
            .scalar_optional(on)
            .await?;
        if done.is_some() {
            // A retried call step: its change is already recorded.
            return by_number(on, number, "").await;
        }
    }
    let current = by_number(on, number, dialect.lock_rows).await?;
    let c = crate::tickets::apply(&current, action, now)?;
    let n = &c.ticket;
    query(sql::UPDATE_TICKET)
        .bind(n.id)
        .bind(n.state.as_str())
        .bind(&n.assignee)
        .bind(n.appointment_at)
        .bind(n.resolved_at)
        .bind(&n.resolution_code)
        .bind(&n.resolution_note)
        .bind(n.closed_at)
        .bind(n.breached_at)
        .bind(&n.transcript)
        .bind(n.updated_at)
        .execute(on)
        .await?;
    record(
        on,
        n.id,
        c.kind,
        actor,
        c.from_state.map(|s| s.as_str()),
        c.to_state.map(|s| s.as_str()),
        &c.detail,
        now,
        origin,
    )
    .await?;
    escalate(on, &c.ticket, c.kind, now).await?;
    Ok(c.ticket)
}

/// Ticket numbers drawn before giving up: a clash is one in millions.
const NUMBER_TRIES: usize = 8;

#[async_trait::async_trait]
impl<B: Backend> TicketStore for B {
    async fn open_ticket(&self, nt: &NewTicket, now: i64) -> Result<Ticket> {
        let mut tx = self.write().await?;
        for _ in 0..NUMBER_TRIES {
            let number = crate::tickets::new_number(&mut rand::rng());
            let id: Option<i64> = query(sql::INSERT_TICKET)
                .bind(&number)
                .bind(nt.kind.as_str())
                .bind(nt.account_id)
                .bind(&nt.line_number)
                .bind(nt.line_kind.map(|k| k.as_str()))
                .bind(nt.customer_class.map(|c| c.as_str()))
                .bind(nt.channel.as_str())
                .bind(&nt.category)
                .bind(&nt.description)
                .bind(&nt.callback_number)
                .bind(now)
                .bind(nt.deadline_at)
                .bind(nt.recording.as_ref().map(|r| r.url.as_str()))
                .bind(nt.recording.as_ref().and_then(|r| r.sid.as_deref()))
                .bind(nt.recording.as_ref().map(|r| r.duration_secs))
                .bind(nt.origin.as_ref().map(|o| o.call_sid.as_str()))
                .bind(nt.origin.as_ref().map(|o| o.seq))
                .bind(nt.deadline_estimated)
                .bind(&nt.address)
                .scalar_optional(&mut tx)
                .await?;
            let number = match (id, &nt.origin) {
                (Some(id), _) => {
                    let detail = serde_json::json!({
                        "kind": nt.kind.as_str(),
                        "channel": nt.channel.as_str(),
                        "deadline_at": nt.deadline_at,
                        "deadline_estimated": nt.deadline_estimated,
                    });
                    record(
                        &mut tx,
                        id,
                        "opened",
                        &nt.actor,
                        None,
                        Some("open"),
                        &detail,
                        now,
                        nt.origin.as_ref(),
                    )
                    .await?;
                    number
                }
                (None, Some(o)) => {
                    // Either this step opened it before, or the number clashed.
                    let found: Option<String> = query(sql::TICKET_BY_ORIGIN)
                        .bind(&o.call_sid)
                        .bind(o.seq)
                        .scalar_optional(&mut tx)
                        .await?;
                    match found {
                        Some(n) => n,
                        None => continue,
                    }
                }
                (None, None) => continue,
            };
            let ticket = by_number(&mut tx, &number, "").await?;
            if id.is_some() {
                escalate(&mut tx, &ticket, "opened", now).await?;
            }
            tx.commit().await?;
            return Ok(ticket);
        }
        Err(StoreError::Conflict(
            "no free ticket number found; try again".into(),
        ))
    }

    async fn ticket(&self, number: &str) -> Result<Option<Ticket>> {
        ticket_where(self, sql::BY_NUMBER, number).await
    }

    async fn ticket_by_id(&self, id: i64) -> Result<Option<Ticket>> {
        (query(sql::BY_ID).bind(id))
            .fetch_optional_as(&mut self.read().await?, ticket)
            .await
    }

    async fn ticket_by_recording(&self, sid: &str) -> Result<Option<Ticket>> {
        ticket_where(self, sql::BY_RECORDING, sid).await
    }

    async fn active_ticket_on_line(&self, line: &str, kind: TicketKind) -> Result<Option<Ticket>> {
        (query(sql::ACTIVE_ON_LINE).bind(line).bind(kind.as_str()))
            .fetch_optional_as(&mut self.read().await?, ticket)
            .await
    }

    async fn ticket_history(&self, ticket_id: i64) -> Result<Vec<TicketEvent>> {
        (query(sql::EVENTS_OF_TICKET).bind(ticket_id))
            .fetch_all_as(&mut self.read().await?, event)
            .await
    }

    async fn ticket_events_after(&self, after: i64, limit: i64) -> Result<Vec<TicketEvent>> {
        (query(sql::EVENTS_AFTER).bind(after).bind(limit))
            .fetch_all_as(&mut self.read().await?, event)
            .await
    }

    async fn list_tickets(&self, f: &TicketFilter) -> Result<TicketPage> {
        let limit = f.limit.clamp(0, 1000);
        let mut tickets = query(sql::LIST_TICKETS)
            .bind(f.before.unwrap_or(i64::MAX))
            .bind(f.state.map(|s| s.as_str()))
            .bind(f.kind.map(|k| k.as_str()))
            .bind(&f.account_no)
            .bind(&f.line_number)
            .bind(&f.assignee)
            .bind(f.breached.map_or(-1_i64, i64::from))
            .bind(f.now)
            .bind(limit + 1)
            .fetch_all_as(&mut self.read().await?, ticket)
            .await?;
        let more = tickets.len() as i64 > limit;
        tickets.truncate(usize::try_from(limit).unwrap_or(0));
        let next_before = if more {
            tickets.last().map(|t| t.id)
        } else {
            None
        };
        Ok(TicketPage {
            tickets,
            next_before,
        })
    }

    async fn change_ticket(
        &self,
        number: &str,
        action: &Action,
        actor: &str,
        origin: Option<&Origin>,
        now: i64,
    ) -> Result<Ticket> {
        let mut tx = self.write().await?;
        let ticket = change(&mut tx, B::DIALECT, number, action, actor, origin, now).await?;
        tx.commit().await?;
        Ok(ticket)
    }

    async fn mark_breaches(&self, now: i64, limit: i64) -> Result<Vec<Ticket>> {
        let mut tx = self.write().await?;
        let due: Vec<String> = (query(sql::DUE_FOR_BREACH).bind(now).bind(limit))
            .fetch_all_as(&mut tx, |r| r.get("number"))
            .await?;
        let mut marked = Vec::with_capacity(due.len());
        for number in due {
            let breach = change(
                &mut tx,
                B::DIALECT,
                &number,
                &Action::Breach,
                "system",
                None,
                now,
            );
            match breach.await {
                Ok(t) => marked.push(t),
                // Changed by someone else since it was selected.
                Err(StoreError::Transition(_)) => {}
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        Ok(marked)
    }

    async fn next_deadline(&self) -> Result<Option<i64>> {
        query(sql::NEXT_DEADLINE)
            .scalar(&mut self.read().await?)
            .await
    }
}

/// The ticket `statement` finds by its one key, on a reader.
async fn ticket_where(
    store: &impl Backend,
    statement: &'static str,
    key: &str,
) -> Result<Option<Ticket>> {
    (query(statement).bind(key))
        .fetch_optional_as(&mut store.read().await?, ticket)
        .await
}

#[async_trait::async_trait]
impl<B: Backend> WebhookStore for B {
    async fn add_endpoint(&self, e: &NewEndpoint, now: i64) -> Result<Endpoint> {
        let events = stored_events(&e.events);
        let mut tx = self.write().await?;
        let id: i64 = query(sql::INSERT_ENDPOINT)
            .bind(&e.url)
            .bind(e.secret.expose())
            .bind(&events)
            .bind(&e.description)
            .bind(now)
            .scalar(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(Endpoint {
            id,
            url: e.url.clone(),
            secret: e.secret.clone(),
            events: e.events.clone(),
            description: e.description.clone(),
            active: true,
            created_at: now,
        })
    }

    async fn endpoints(&self) -> Result<Vec<Endpoint>> {
        query(sql::ENDPOINTS)
            .fetch_all_as(&mut self.read().await?, endpoint)
            .await
    }

    async fn delete_endpoint(&self, id: i64) -> Result<bool> {
        Ok(write_one(self, query(sql::DELETE_ENDPOINT).bind(id)).await? > 0)
    }

    async fn claim_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryJob>> {
        let mut tx = self.write().await?;
        let ids: Vec<i64> = (query(sql::CLAIM).append(B::DIALECT.skip_locked))
            .bind(now)
            .bind(limit)
            .fetch_all_as(&mut tx, |r| r.get("id"))
            .await?;
        let mut jobs = Vec::with_capacity(ids.len());
        for id in ids {
            query(sql::LEASE_DELIVERY)
                .bind(id)
                .bind(lease_until)
                .execute(&mut tx)
                .await?;
            let row = query(sql::DELIVERY_JOB).bind(id).fetch_one(&mut tx).await?;
            let delivery = delivery(&row)?;
            let url = row.get("url")?;
            let secret = crate::secret::Secret::new(row.get::<String>("secret")?);
            let happened = (query(sql::EVENT_BY_ID).bind(delivery.event_id))
                .fetch_one(&mut tx)
                .await?;
            jobs.push(DeliveryJob {
                url,
                secret,
                event: event(&happened)?,
                delivery,
            });
        }
        tx.commit().await?;
        Ok(jobs)
    }

    async fn finish_delivery(&self, r: &AttemptResult) -> Result<()> {
        let q = query(sql::FINISH_DELIVERY)
            .bind(r.delivery_id)
            .bind(r.state.as_str())
            .bind(r.status)
            .bind(&r.error)
            .bind(r.at)
            .bind(r.next_attempt_at);
        write_one(self, q).await?;
        Ok(())
    }

    async fn deliveries(&self, endpoint_id: i64, after: i64, limit: i64) -> Result<Vec<Delivery>> {
        (query(sql::DELIVERIES_OF_ENDPOINT)
            .bind(endpoint_id)
            .bind(after)
            .bind(limit))
        .fetch_all_as(&mut self.read().await?, delivery)
        .await
    }

    async fn retry_delivery(&self, id: i64, now: i64) -> Result<bool> {
        Ok(write_one(self, query(sql::RETRY_DELIVERY).bind(id).bind(now)).await? > 0)
    }
}
