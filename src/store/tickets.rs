//! Tickets, their history and webhook deliveries, for both backends.
//!
//! Rules: the statements are the same text on SQLite and PostgreSQL (`$N` placeholders,
//! `CAST` on parameters that may be NULL so PostgreSQL can type them); the functions are
//! written once, in `ticket_fns!`, and expanded for each backend's connection type, with
//! PostgreSQL's `FOR UPDATE` where a ticket is read to be changed. Every ticket change writes
//! its history entry and its webhook deliveries in the same transaction.

use super::{Result, StoreError};
use crate::customers::{CustomerClass, LineKind};
use crate::tickets::{Channel, Recording, Ticket, TicketEvent, TicketKind, TicketState};
use crate::webhooks::{Delivery, DeliveryState, Endpoint};

/// The columns decoded into a `TicketRow`, in order.
macro_rules! ticket_columns {
    () => {
        "t.id, t.number, t.kind, t.state, t.account_id, \
     t.line_number, t.line_kind, t.customer_class, t.channel, t.category, t.description, \
     t.callback_number, t.assignee, t.opened_at, t.deadline_at, t.appointment_at, \
     t.resolved_at, t.resolution_code, t.resolution_note, t.closed_at, t.breached_at, \
     t.recording_url, t.recording_sid, t.recording_secs, t.transcript, t.origin_call_sid, \
     t.updated_at"
    };
}
pub(super) use ticket_columns;

/// The columns of `ticket_columns!()`, decoded by position.
pub(super) struct TicketRow {
    pub id: i64,
    pub number: String,
    pub kind: String,
    pub state: String,
    pub account_id: Option<i64>,
    pub line_number: Option<String>,
    pub line_kind: Option<String>,
    pub customer_class: Option<String>,
    pub channel: String,
    pub category: Option<String>,
    pub description: String,
    pub callback_number: Option<String>,
    pub assignee: Option<String>,
    pub opened_at: i64,
    pub deadline_at: Option<i64>,
    pub appointment_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub resolution_code: Option<String>,
    pub resolution_note: Option<String>,
    pub closed_at: Option<i64>,
    pub breached_at: Option<i64>,
    pub recording_url: Option<String>,
    pub recording_sid: Option<String>,
    pub recording_secs: Option<i64>,
    pub transcript: Option<String>,
    pub origin_call_sid: Option<String>,
    pub updated_at: i64,
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unknown {what} {value:?}"))
}

impl TryFrom<TicketRow> for Ticket {
    type Error = StoreError;

    fn try_from(r: TicketRow) -> Result<Ticket> {
        let opt = |v: Option<String>, what: &str, parse: &dyn Fn(&str) -> bool| match v {
            Some(s) if !parse(&s) => Err(corrupt(what, &s)),
            other => Ok(other),
        };
        let line_kind = opt(r.line_kind, "line kind", &|s| LineKind::parse(s).is_some())?;
        let class = opt(r.customer_class, "customer class", &|s| {
            CustomerClass::parse(s).is_some()
        })?;
        Ok(Ticket {
            id: r.id,
            kind: TicketKind::parse(&r.kind).ok_or_else(|| corrupt("ticket kind", &r.kind))?,
            state: TicketState::parse(&r.state).ok_or_else(|| corrupt("ticket state", &r.state))?,
            number: r.number,
            account_id: r.account_id,
            line_number: r.line_number,
            line_kind: line_kind.as_deref().and_then(LineKind::parse),
            customer_class: class.as_deref().and_then(CustomerClass::parse),
            channel: Channel::parse(&r.channel).ok_or_else(|| corrupt("channel", &r.channel))?,
            category: r.category,
            description: r.description,
            callback_number: r.callback_number,
            assignee: r.assignee,
            opened_at: r.opened_at,
            deadline_at: r.deadline_at,
            appointment_at: r.appointment_at,
            resolved_at: r.resolved_at,
            resolution_code: r.resolution_code,
            resolution_note: r.resolution_note,
            closed_at: r.closed_at,
            breached_at: r.breached_at,
            recording: r.recording_url.map(|url| Recording {
                url,
                sid: r.recording_sid,
                duration_secs: r.recording_secs.unwrap_or(0),
            }),
            transcript: r.transcript,
            origin_call_sid: r.origin_call_sid,
            updated_at: r.updated_at,
        })
    }
}

/// `e.id, e.ticket_id, t.number, e.kind, e.actor, e.from_state, e.to_state, e.detail, e.at`
pub(super) type EventRow = (
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
);

pub(super) fn event(r: EventRow) -> Result<TicketEvent> {
    let (id, ticket_id, ticket_number, kind, actor, from, to, detail, at) = r;
    let state = |s: Option<String>| -> Result<Option<TicketState>> {
        s.map(|s| TicketState::parse(&s).ok_or_else(|| corrupt("ticket state", &s)))
            .transpose()
    };
    Ok(TicketEvent {
        id,
        ticket_id,
        ticket_number,
        kind,
        actor,
        from_state: state(from)?,
        to_state: state(to)?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::Corrupt(format!("event {id} detail: {e}")))?,
        at,
    })
}

/// `id, url, secret, events, description, active, created_at`
pub(super) type EndpointRow = (i64, String, String, String, String, bool, i64);

pub(super) fn endpoint(r: EndpointRow) -> Endpoint {
    let (id, url, secret, events, description, active, created_at) = r;
    Endpoint {
        id,
        url,
        secret: crate::secret::Secret::new(secret),
        events: events
            .split(',')
            .filter(|e| !e.is_empty())
            .map(str::to_string)
            .collect(),
        description,
        active,
        created_at,
    }
}

/// How endpoint event lists are stored: each between commas, so one `LIKE` matches.
pub(super) fn stored_events(events: &[String]) -> String {
    format!(",{},", events.join(","))
}

/// `d.id, d.endpoint_id, d.event_id, d.state, d.attempts, d.next_attempt_at, d.last_status,
/// d.last_error, d.delivered_at, d.created_at`
pub(super) type DeliveryRow = (
    i64,
    i64,
    i64,
    String,
    i32,
    i64,
    Option<i32>,
    Option<String>,
    Option<i64>,
    i64,
);

pub(super) fn delivery(r: DeliveryRow) -> Result<Delivery> {
    let (id, endpoint_id, event_id, state, attempts, next, status, error, delivered, created) = r;
    Ok(Delivery {
        id,
        endpoint_id,
        event_id,
        state: DeliveryState::parse(&state).ok_or_else(|| corrupt("delivery state", &state))?,
        attempts,
        next_attempt_at: next,
        last_status: status,
        last_error: error,
        delivered_at: delivered,
        created_at: created,
    })
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
         recording_secs, origin_call_sid, origin_seq, updated_at) \
         VALUES ($1, $2, 'open', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
         $16, $17, $11) ON CONFLICT DO NOTHING RETURNING id";
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
    pub const EVENTS_OF_TICKET: &str = "SELECT e.id, e.ticket_id, t.number, e.kind, e.actor, \
         e.from_state, e.to_state, e.detail, e.at FROM ticket_events e \
         JOIN tickets t ON t.id = e.ticket_id WHERE e.ticket_id = $1 ORDER BY e.id";
    pub const EVENTS_AFTER: &str = "SELECT e.id, e.ticket_id, t.number, e.kind, e.actor, \
         e.from_state, e.to_state, e.detail, e.at FROM ticket_events e \
         JOIN tickets t ON t.id = e.ticket_id WHERE e.id > $1 ORDER BY e.id LIMIT $2";
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

    pub const INSERT_ENDPOINT: &str = "INSERT INTO webhook_endpoints (url, secret, events, \
         description, active, created_at) VALUES ($1, $2, $3, $4, true, $5) RETURNING id";
    pub const ENDPOINTS: &str = "SELECT id, url, secret, events, description, active, \
         created_at FROM webhook_endpoints ORDER BY id";
    pub const DELETE_ENDPOINT: &str = "DELETE FROM webhook_endpoints WHERE id = $1";
    pub const LEASE_DELIVERY: &str =
        "UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE id = $1";
    pub const DELIVERY_JOB: &str = "SELECT d.id, d.endpoint_id, d.event_id, d.state, \
         d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.delivered_at, \
         d.created_at, w.url, w.secret FROM webhook_deliveries d \
         JOIN webhook_endpoints w ON w.id = d.endpoint_id WHERE d.id = $1";
    pub const EVENT_BY_ID: &str = "SELECT e.id, e.ticket_id, t.number, e.kind, e.actor, \
         e.from_state, e.to_state, e.detail, e.at FROM ticket_events e \
         JOIN tickets t ON t.id = e.ticket_id WHERE e.id = $1";
    /// Only a pending delivery moves: a late answer cannot undo a delivered one.
    pub const FINISH_DELIVERY: &str = "UPDATE webhook_deliveries SET state = $2, \
         attempts = attempts + 1, last_status = $3, last_error = $4, \
         delivered_at = CASE WHEN $2 = 'delivered' THEN $5 ELSE delivered_at END, \
         next_attempt_at = $6 WHERE id = $1 AND state = 'pending'";
    pub const DELIVERIES_OF_ENDPOINT: &str = "SELECT d.id, d.endpoint_id, d.event_id, \
         d.state, d.attempts, d.next_attempt_at, d.last_status, d.last_error, \
         d.delivered_at, d.created_at FROM webhook_deliveries d \
         WHERE d.endpoint_id = $1 AND d.id > $2 ORDER BY d.id LIMIT $3";
    pub const RETRY_DELIVERY: &str = "UPDATE webhook_deliveries SET state = 'pending', \
         next_attempt_at = $2 WHERE id = $1 AND state = 'failed'";
}

/// `$1` before id, `$2` state, `$3` kind, `$4` account number, `$5` line, `$6` assignee,
/// `$7` breached (-1 any, 0 no, 1 yes), `$8` now, `$9` limit.
pub(super) const LIST_TICKETS: &str = concat!(
    "SELECT ",
    ticket_columns!(),
    " FROM tickets t WHERE t.id < $1 \
     AND (CAST($2 AS TEXT) IS NULL OR t.state = $2) \
     AND (CAST($3 AS TEXT) IS NULL OR t.kind = $3) \
     AND (CAST($4 AS TEXT) IS NULL OR t.account_id = \
         (SELECT a.id FROM accounts a WHERE a.account_no = $4)) \
     AND (CAST($5 AS TEXT) IS NULL OR t.line_number = $5) \
     AND (CAST($6 AS TEXT) IS NULL OR t.assignee = $6) \
     AND ($7 < 0 OR (CASE WHEN t.breached_at IS NOT NULL OR (t.deadline_at < $8 AND t.state IN ",
    sql::active!(),
    ") THEN 1 ELSE 0 END) = $7) \
     ORDER BY t.id DESC LIMIT $9"
);

/// Implements `TicketStore` for a backend: `$store` has a pool `$read` and `begin_write()`;
/// `$lock` is appended to selects of rows about to change, `$skip` to claims of deliveries.
macro_rules! ticket_store {
    ($store:ident, $db:ty, $read:ident, $lock:literal, $skip:literal) => {
        mod ticket_impl {
            use sqlx::Row as _;

            use super::super::tickets::{self as t, sql, ticket_columns};
            use super::super::{Result, StoreError, TicketStore, WebhookStore};
            use crate::tickets::{
                Action, NewTicket, Origin, Ticket, TicketEvent, TicketFilter, TicketKind,
                TicketPage,
            };
            use crate::webhooks::{AttemptResult, Delivery, DeliveryJob, Endpoint, NewEndpoint};

            type Conn = <$db as sqlx::Database>::Connection;
            type Row = <$db as sqlx::Database>::Row;

            fn decode(r: &Row) -> Result<Ticket> {
                Ticket::try_from(t::TicketRow {
                    id: r.try_get(0)?,
                    number: r.try_get(1)?,
                    kind: r.try_get(2)?,
                    state: r.try_get(3)?,
                    account_id: r.try_get(4)?,
                    line_number: r.try_get(5)?,
                    line_kind: r.try_get(6)?,
                    customer_class: r.try_get(7)?,
                    channel: r.try_get(8)?,
                    category: r.try_get(9)?,
                    description: r.try_get(10)?,
                    callback_number: r.try_get(11)?,
                    assignee: r.try_get(12)?,
                    opened_at: r.try_get(13)?,
                    deadline_at: r.try_get(14)?,
                    appointment_at: r.try_get(15)?,
                    resolved_at: r.try_get(16)?,
                    resolution_code: r.try_get(17)?,
                    resolution_note: r.try_get(18)?,
                    closed_at: r.try_get(19)?,
                    breached_at: r.try_get(20)?,
                    recording_url: r.try_get(21)?,
                    recording_sid: r.try_get(22)?,
                    recording_secs: r.try_get(23)?,
                    transcript: r.try_get(24)?,
                    origin_call_sid: r.try_get(25)?,
                    updated_at: r.try_get(26)?,
                })
            }

            const BY_NUMBER: &str = concat!(
                "SELECT ",
                ticket_columns!(),
                " FROM tickets t WHERE t.number = $1"
            );
            const BY_ID: &str = concat!(
                "SELECT ",
                ticket_columns!(),
                " FROM tickets t WHERE t.id = $1"
            );
            const BY_NUMBER_LOCKED: &str = concat!(
                "SELECT ",
                ticket_columns!(),
                " FROM tickets t WHERE t.number = $1",
                $lock
            );
            const ACTIVE_ON_LINE: &str = concat!(
                "SELECT ",
                ticket_columns!(),
                " FROM tickets t WHERE t.line_number = $1 AND t.kind = $2 AND t.state IN ",
                sql::active!(),
                " ORDER BY t.id DESC LIMIT 1"
            );
            const BY_RECORDING: &str = concat!(
                "SELECT ",
                ticket_columns!(),
                " FROM tickets t WHERE t.recording_sid = $1"
            );
            const CLAIM: &str = concat!(
                "SELECT d.id FROM webhook_deliveries d \
                 WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
                 ORDER BY d.next_attempt_at, d.id LIMIT $2",
                $skip
            );

            async fn fetch(conn: &mut Conn, q: &'static str, key: &str) -> Result<Option<Ticket>> {
                sqlx::query(q)
                    .bind(key)
                    .fetch_optional(&mut *conn)
                    .await?
                    .map(|r| decode(&r))
                    .transpose()
            }

            /// Writes a history entry and the webhook deliveries it owes.
            #[allow(clippy::too_many_arguments)]
            async fn record(
                conn: &mut Conn,
                ticket_id: i64,
                kind: &str,
                actor: &str,
                from: Option<&str>,
                to: Option<&str>,
                detail: &serde_json::Value,
                at: i64,
                origin: Option<&Origin>,
            ) -> Result<i64> {
                let id: i64 = sqlx::query_scalar(sql::INSERT_EVENT)
                    .bind(ticket_id)
                    .bind(kind)
                    .bind(actor)
                    .bind(from)
                    .bind(to)
                    .bind(detail.to_string())
                    .bind(at)
                    .bind(origin.map(|o| o.call_sid.as_str()))
                    .bind(origin.map(|o| o.seq))
                    .fetch_one(&mut *conn)
                    .await?;
                sqlx::query(sql::FAN_OUT)
                    .bind(id)
                    .bind(at)
                    .bind(format!("ticket.{kind}"))
                    .execute(&mut *conn)
                    .await?;
                Ok(id)
            }

            /// Raises the escalation a ticket event owes, if any (a complaint, a breach).
            async fn escalate(conn: &mut Conn, t: &Ticket, event: &str, at: i64) -> Result<()> {
                if let Some(e) = crate::escalations::NewEscalation::for_ticket_event(t, event, at) {
                    super::super::agents::raise(conn, &e).await?;
                }
                Ok(())
            }

            /// Applies an action to a locked ticket and records it.
            async fn change(
                conn: &mut Conn,
                number: &str,
                action: &Action,
                actor: &str,
                origin: Option<&Origin>,
                now: i64,
            ) -> Result<Ticket> {
                if let Some(o) = origin {
                    let done: Option<i64> = sqlx::query_scalar(sql::EVENT_BY_ORIGIN)
                        .bind(&o.call_sid)
                        .bind(o.seq)
                        .fetch_optional(&mut *conn)
                        .await?;
                    if done.is_some() {
                        // A retried call step: its change is already recorded.
                        return fetch(conn, BY_NUMBER, number)
                            .await?
                            .ok_or(StoreError::NotFound);
                    }
                }
                let current = fetch(conn, BY_NUMBER_LOCKED, number)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let c = crate::tickets::apply(&current, action, now)?;
                let n = &c.ticket;
                sqlx::query(sql::UPDATE_TICKET)
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
                    .execute(&mut *conn)
                    .await?;
                record(
                    conn,
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
                escalate(conn, &c.ticket, c.kind, now).await?;
                Ok(c.ticket)
            }

            /// Ticket numbers drawn before giving up: a clash is one in millions.
            const NUMBER_TRIES: usize = 8;

            #[async_trait::async_trait]
            impl TicketStore for super::$store {
                async fn open_ticket(&self, nt: &NewTicket, now: i64) -> Result<Ticket> {
                    let mut tx = self.begin_write().await?;
                    for _ in 0..NUMBER_TRIES {
                        let number = crate::tickets::new_number(&mut rand::rng());
                        let id: Option<i64> = sqlx::query_scalar(sql::INSERT_TICKET)
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
                            .fetch_optional(&mut *tx)
                            .await?;
                        let number = match (id, &nt.origin) {
                            (Some(id), _) => {
                                let detail = serde_json::json!({
                                    "kind": nt.kind.as_str(),
                                    "channel": nt.channel.as_str(),
                                    "deadline_at": nt.deadline_at,
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
                                let found: Option<String> =
                                    sqlx::query_scalar(sql::TICKET_BY_ORIGIN)
                                        .bind(&o.call_sid)
                                        .bind(o.seq)
                                        .fetch_optional(&mut *tx)
                                        .await?;
                                match found {
                                    Some(n) => n,
                                    None => continue,
                                }
                            }
                            (None, None) => continue,
                        };
                        let ticket = fetch(&mut tx, BY_NUMBER, &number)
                            .await?
                            .ok_or(StoreError::NotFound)?;
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
                    fetch(&mut *self.$read.acquire().await?, BY_NUMBER, number).await
                }

                async fn ticket_by_id(&self, id: i64) -> Result<Option<Ticket>> {
                    sqlx::query(BY_ID)
                        .bind(id)
                        .fetch_optional(&self.$read)
                        .await?
                        .map(|r| decode(&r))
                        .transpose()
                }

                async fn ticket_by_recording(&self, sid: &str) -> Result<Option<Ticket>> {
                    fetch(&mut *self.$read.acquire().await?, BY_RECORDING, sid).await
                }

                async fn active_ticket_on_line(
                    &self,
                    line: &str,
                    kind: TicketKind,
                ) -> Result<Option<Ticket>> {
                    sqlx::query(ACTIVE_ON_LINE)
                        .bind(line)
                        .bind(kind.as_str())
                        .fetch_optional(&self.$read)
                        .await?
                        .map(|r| decode(&r))
                        .transpose()
                }

                async fn ticket_history(&self, ticket_id: i64) -> Result<Vec<TicketEvent>> {
                    sqlx::query_as::<_, t::EventRow>(sql::EVENTS_OF_TICKET)
                        .bind(ticket_id)
                        .fetch_all(&self.$read)
                        .await?
                        .into_iter()
                        .map(t::event)
                        .collect()
                }

                async fn ticket_events_after(
                    &self,
                    after: i64,
                    limit: i64,
                ) -> Result<Vec<TicketEvent>> {
                    sqlx::query_as::<_, t::EventRow>(sql::EVENTS_AFTER)
                        .bind(after)
                        .bind(limit)
                        .fetch_all(&self.$read)
                        .await?
                        .into_iter()
                        .map(t::event)
                        .collect()
                }

                async fn list_tickets(&self, f: &TicketFilter) -> Result<TicketPage> {
                    let limit = f.limit.clamp(0, 1000);
                    let rows = sqlx::query(t::LIST_TICKETS)
                        .bind(f.before.unwrap_or(i64::MAX))
                        .bind(f.state.map(|s| s.as_str()))
                        .bind(f.kind.map(|k| k.as_str()))
                        .bind(&f.account_no)
                        .bind(&f.line_number)
                        .bind(&f.assignee)
                        .bind(f.breached.map_or(-1_i64, i64::from))
                        .bind(f.now)
                        .bind(limit + 1)
                        .fetch_all(&self.$read)
                        .await?;
                    let mut tickets = rows.iter().map(decode).collect::<Result<Vec<_>>>()?;
                    let more = tickets.len() as i64 > limit;
                    tickets.truncate(usize::try_from(limit).unwrap_or(0));
                    let next_before = if more { tickets.last().map(|t| t.id) } else { None };
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
                    let mut tx = self.begin_write().await?;
                    let ticket = change(&mut tx, number, action, actor, origin, now).await?;
                    tx.commit().await?;
                    Ok(ticket)
                }

                async fn mark_breaches(&self, now: i64, limit: i64) -> Result<Vec<Ticket>> {
                    let mut tx = self.begin_write().await?;
                    let due: Vec<String> = sqlx::query_scalar(sql::DUE_FOR_BREACH)
                        .bind(now)
                        .bind(limit)
                        .fetch_all(&mut *tx)
                        .await?;
                    let mut marked = Vec::with_capacity(due.len());
                    for number in due {
                        match change(&mut tx, &number, &Action::Breach, "system", None, now).await {
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
                    Ok(sqlx::query_scalar(sql::NEXT_DEADLINE)
                        .fetch_one(&self.$read)
                        .await?)
                }

            }

            #[async_trait::async_trait]
            impl WebhookStore for super::$store {
                async fn add_endpoint(&self, e: &NewEndpoint, now: i64) -> Result<Endpoint> {
                    let events = t::stored_events(&e.events);
                    let mut tx = self.begin_write().await?;
                    let id: i64 = sqlx::query_scalar(sql::INSERT_ENDPOINT)
                        .bind(&e.url)
                        .bind(e.secret.expose())
                        .bind(&events)
                        .bind(&e.description)
                        .bind(now)
                        .fetch_one(&mut *tx)
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
                    Ok(sqlx::query_as::<_, t::EndpointRow>(sql::ENDPOINTS)
                        .fetch_all(&self.$read)
                        .await?
                        .into_iter()
                        .map(t::endpoint)
                        .collect())
                }

                async fn delete_endpoint(&self, id: i64) -> Result<bool> {
                    let mut tx = self.begin_write().await?;
                    let n = sqlx::query(sql::DELETE_ENDPOINT)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    tx.commit().await?;
                    Ok(n > 0)
                }

                async fn claim_deliveries(
                    &self,
                    now: i64,
                    lease_until: i64,
                    limit: i64,
                ) -> Result<Vec<DeliveryJob>> {
                    let mut tx = self.begin_write().await?;
                    let ids: Vec<i64> = sqlx::query_scalar(CLAIM)
                        .bind(now)
                        .bind(limit)
                        .fetch_all(&mut *tx)
                        .await?;
                    let mut jobs = Vec::with_capacity(ids.len());
                    for id in ids {
                        sqlx::query(sql::LEASE_DELIVERY)
                            .bind(id)
                            .bind(lease_until)
                            .execute(&mut *tx)
                            .await?;
                        let row = sqlx::query(sql::DELIVERY_JOB)
                            .bind(id)
                            .fetch_one(&mut *tx)
                            .await?;
                        let delivery = t::delivery((
                            row.try_get(0)?,
                            row.try_get(1)?,
                            row.try_get(2)?,
                            row.try_get(3)?,
                            row.try_get(4)?,
                            row.try_get(5)?,
                            row.try_get(6)?,
                            row.try_get(7)?,
                            row.try_get(8)?,
                            row.try_get(9)?,
                        ))?;
                        let event = sqlx::query_as::<_, t::EventRow>(sql::EVENT_BY_ID)
                            .bind(delivery.event_id)
                            .fetch_one(&mut *tx)
                            .await?;
                        jobs.push(DeliveryJob {
                            url: row.try_get(10)?,
                            secret: crate::secret::Secret::new(
                                row.try_get::<String, _>(11)?,
                            ),
                            event: t::event(event)?,
                            delivery,
                        });
                    }
                    tx.commit().await?;
                    Ok(jobs)
                }

                async fn finish_delivery(&self, r: &AttemptResult) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(sql::FINISH_DELIVERY)
                        .bind(r.delivery_id)
                        .bind(r.state.as_str())
                        .bind(r.status)
                        .bind(&r.error)
                        .bind(r.at)
                        .bind(r.next_attempt_at)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn deliveries(
                    &self,
                    endpoint_id: i64,
                    after: i64,
                    limit: i64,
                ) -> Result<Vec<Delivery>> {
                    sqlx::query_as::<_, t::DeliveryRow>(sql::DELIVERIES_OF_ENDPOINT)
                        .bind(endpoint_id)
                        .bind(after)
                        .bind(limit)
                        .fetch_all(&self.$read)
                        .await?
                        .into_iter()
                        .map(t::delivery)
                        .collect()
                }

                async fn retry_delivery(&self, id: i64, now: i64) -> Result<bool> {
                    let mut tx = self.begin_write().await?;
                    let n = sqlx::query(sql::RETRY_DELIVERY)
                        .bind(id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    tx.commit().await?;
                    Ok(n > 0)
                }
            }
        }
    };
}
pub(super) use ticket_store;
