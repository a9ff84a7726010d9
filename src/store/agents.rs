//! Agents, sessions, escalations and the agent queue, for both backends.
//!
//! Rules: as for tickets, the statements are one text for SQLite and PostgreSQL and the
//! functions are written once (`agent_store!`). An escalation is raised with its "opened"
//! event, and changed only over the version it was read at, with its history entry, in one
//! transaction; `raise` and `raise_followup` are also called inside other transactions (a
//! ticket's, a survey step's, an attempt's), so a cause and its escalation commit together.

use super::{Result, StoreError};
use crate::agents::queue::QueueCall;
use crate::agents::{Agent, Role};
use crate::escalations::{Escalation, EscalationEvent, EscalationKind, EscalationState, ReplyVia};
use crate::prompts::Locale;

macro_rules! agent_columns {
    () => {
        "id, login, name, role, phone, locale, password_hash, active, failed_logins, \
         locked_until, created_at"
    };
}
pub(super) use agent_columns;
macro_rules! esc_columns {
    () => {
        "id, kind, state, priority, source, account_id, ticket_id, callback_id, call_sid, \
         answer, callback_number, summary, owner, due_at, queued_at, created_at, updated_at, \
         claimed_at, replied_at, closed_at, reply, reply_via, version"
    };
}
macro_rules! queue_columns {
    () => {
        "call_sid, account_id, from_number, locale, entered_at, last_seen_at, position, \
         expected_secs, offered_to, left_at, result"
    };
}
pub(super) use queue_columns;

pub(super) mod sql {

    pub const AGENT_BY_ID: &str =
        concat!("SELECT ", agent_columns!(), " FROM agents WHERE id = $1");
    pub const AGENT_BY_LOGIN: &str =
        concat!("SELECT ", agent_columns!(), " FROM agents WHERE login = $1");
    pub const AGENT_BY_PHONE: &str = concat!(
        "SELECT ",
        agent_columns!(),
        " FROM agents WHERE phone = $1 AND active ORDER BY id LIMIT 1"
    );
    pub const AGENTS: &str = concat!("SELECT ", agent_columns!(), " FROM agents ORDER BY login");
    pub const ESC_BY_ID: &str =
        concat!("SELECT ", esc_columns!(), " FROM escalations WHERE id = $1");
    pub const ESC_BY_SOURCE: &str = concat!(
        "SELECT ",
        esc_columns!(),
        " FROM escalations WHERE source = $1"
    );
    pub const QUEUE_CALL: &str = concat!(
        "SELECT ",
        queue_columns!(),
        " FROM queue_calls WHERE call_sid = $1"
    );
    pub const QUEUE_WAITING: &str = concat!(
        "SELECT ",
        queue_columns!(),
        " FROM queue_calls WHERE left_at IS NULL AND last_seen_at >= $1 \
         ORDER BY entered_at, call_sid"
    );
    pub const INSERT_AGENT: &str = "INSERT INTO agents (login, name, role, phone, locale, \
         password_hash, active, failed_logins, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, true, 0, $7, $7) ON CONFLICT (login) DO NOTHING \
         RETURNING id";
    pub const UPDATE_AGENT: &str = "UPDATE agents SET name = $2, role = $3, phone = $4, \
         locale = $5, active = $6, password_hash = $7, updated_at = $8, \
         failed_logins = CASE WHEN $9 THEN 0 ELSE failed_logins END, \
         locked_until = CASE WHEN $9 THEN NULL ELSE locked_until END WHERE id = $1";
    pub const END_AGENT_SESSIONS: &str = "DELETE FROM agent_sessions WHERE agent_id = $1";

    pub const INSERT_SESSION: &str = "INSERT INTO agent_sessions (token_hash, agent_id, csrf, \
         created_at, expires_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $4)";
    pub const SESSION: &str = "SELECT token_hash, agent_id, csrf, created_at, expires_at \
         FROM agent_sessions WHERE token_hash = $1 AND expires_at > $2";
    pub const TOUCH_SESSION: &str = "UPDATE agent_sessions SET expires_at = $2, \
         last_seen_at = $3 WHERE token_hash = $1";
    pub const END_SESSION: &str = "DELETE FROM agent_sessions WHERE token_hash = $1";
    pub const PURGE_SESSIONS: &str = "DELETE FROM agent_sessions WHERE expires_at <= $1";

    pub const RAISE: &str = "INSERT INTO escalations (kind, state, priority, source, \
         account_id, ticket_id, callback_id, call_sid, answer, callback_number, summary, \
         due_at, queued_at, created_at, updated_at, version) \
         VALUES ($1, 'open', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, 1) \
         ON CONFLICT (source) DO NOTHING RETURNING id";
    pub const INSERT_ESC_EVENT: &str = "INSERT INTO escalation_events (escalation_id, kind, \
         actor, detail, at) VALUES ($1, $2, $3, $4, $5)";
    pub const SAVE_ESC: &str = "UPDATE escalations SET state = $3, owner = $4, \
         updated_at = $5, claimed_at = $6, replied_at = $7, closed_at = $8, reply = $9, \
         reply_via = $10, version = $11 WHERE id = $1 AND version = $2";
    pub const ESC_EVENTS: &str = "SELECT id, escalation_id, kind, actor, detail, at \
         FROM escalation_events WHERE escalation_id = $1 ORDER BY id";
    /// The callback a follow-up is about: its links, and the call of its latest attempt.
    pub const FOLLOWUP_LINKS: &str = "SELECT b.ticket_id, b.account_id, b.to_number, \
         (SELECT a.provider_call_id FROM callback_attempts a WHERE a.callback_id = b.id \
          AND a.provider_call_id IS NOT NULL ORDER BY a.id DESC LIMIT 1) \
         FROM callbacks b WHERE b.id = $1";
    /// Open ones first by priority and place in line; then the rest, newest first.
    pub const LIST_ESC: &str = concat!(
        "SELECT ",
        esc_columns!(),
        " FROM escalations WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) \
         AND (CAST($2 AS TEXT) IS NULL OR kind = $2) \
         AND (CAST($3 AS TEXT) IS NULL OR ($3 = '' AND owner IS NULL) OR owner = $3) \
         AND ($4 = 0 OR (state IN ('open', 'claimed') AND due_at < $5)) \
         AND (CAST($6 AS BIGINT) IS NULL OR ticket_id = $6) \
         AND (CAST($7 AS BIGINT) IS NULL OR account_id = $7) \
         ORDER BY CASE state WHEN 'open' THEN 0 WHEN 'claimed' THEN 1 WHEN 'replied' THEN 2 \
         ELSE 3 END, CASE WHEN state = 'closed' THEN 0 ELSE priority END, \
         CASE WHEN state = 'closed' THEN -closed_at ELSE queued_at END, id LIMIT $8"
    );
    pub const ESC_COUNTS: &str = "SELECT \
         COALESCE(SUM(CASE WHEN state = 'open' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN state = 'claimed' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN state = 'replied' THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN state = 'open' AND created_at <= $2 THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN state IN ('open', 'claimed') AND due_at < $1 THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN owner = $3 AND state IN ('claimed', 'replied') THEN 1 ELSE 0 END), 0) \
         FROM escalations WHERE state <> 'closed'";

    pub const QUEUE_SEEN: &str = "INSERT INTO queue_calls (call_sid, account_id, from_number, \
         locale, entered_at, last_seen_at, position, expected_secs) \
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7) ON CONFLICT (call_sid) DO UPDATE SET \
         last_seen_at = excluded.last_seen_at, position = excluded.position, \
         expected_secs = excluded.expected_secs, left_at = NULL, result = NULL";
    pub const QUEUE_LEFT: &str = "UPDATE queue_calls SET left_at = $2, result = $3 \
         WHERE call_sid = $1 AND left_at IS NULL";
    pub const QUEUE_OFFER: &str = "UPDATE queue_calls SET offered_to = $1 WHERE call_sid = $2 \
         AND offered_to IS NULL";
}

pub(super) type AgentRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    bool,
    i64,
    Option<i64>,
    i64,
);

pub(super) fn agent(r: AgentRow) -> Result<Agent> {
    let (id, login, name, role, phone, locale, password_hash, active, failed, locked, created) = r;
    Ok(Agent {
        id,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("agent {id}: role {role:?}")))?,
        locale: Locale::parse(&locale)
            .ok_or_else(|| StoreError::Corrupt(format!("agent {id}: locale {locale:?}")))?,
        login,
        name,
        phone,
        password_hash,
        active,
        failed_logins: failed,
        locked_until: locked,
        created_at: created,
    })
}

pub(super) struct EscRow {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub priority: i64,
    pub source: String,
    pub account_id: Option<i64>,
    pub ticket_id: Option<i64>,
    pub callback_id: Option<i64>,
    pub call_sid: Option<String>,
    pub answer: Option<String>,
    pub callback_number: Option<String>,
    pub summary: String,
    pub owner: Option<String>,
    pub due_at: i64,
    pub queued_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub claimed_at: Option<i64>,
    pub replied_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub reply: Option<String>,
    pub reply_via: Option<String>,
    pub version: i64,
}

pub(super) fn escalation(r: EscRow) -> Result<Escalation> {
    let id = r.id;
    let corrupt =
        |what: &str, v: &str| StoreError::Corrupt(format!("escalation {id}: {what} {v:?}"));
    Ok(Escalation {
        id,
        kind: EscalationKind::parse(&r.kind).ok_or_else(|| corrupt("kind", &r.kind))?,
        state: EscalationState::parse(&r.state).ok_or_else(|| corrupt("state", &r.state))?,
        reply_via: match r.reply_via.as_deref() {
            Some(v) => Some(ReplyVia::parse(v).ok_or_else(|| corrupt("reply_via", v))?),
            None => None,
        },
        priority: r.priority,
        source: r.source,
        account_id: r.account_id,
        ticket_id: r.ticket_id,
        callback_id: r.callback_id,
        call_sid: r.call_sid,
        answer: r.answer,
        callback_number: r.callback_number,
        summary: r.summary,
        owner: r.owner,
        due_at: r.due_at,
        queued_at: r.queued_at,
        created_at: r.created_at,
        updated_at: r.updated_at,
        claimed_at: r.claimed_at,
        replied_at: r.replied_at,
        closed_at: r.closed_at,
        reply: r.reply,
        version: r.version,
    })
}

pub(super) type EventRow = (i64, i64, String, String, String, i64);

pub(super) fn event(r: EventRow) -> EscalationEvent {
    let (id, escalation_id, kind, actor, detail, at) = r;
    EscalationEvent {
        id,
        escalation_id,
        kind,
        actor,
        detail,
        at,
    }
}

pub(super) type QueueRow = (
    String,
    Option<i64>,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    Option<String>,
    Option<i64>,
    Option<String>,
);

pub(super) fn queue_call(r: QueueRow) -> QueueCall {
    let (call_sid, account_id, from_number, locale, entered_at, last_seen_at, position) =
        (r.0, r.1, r.2, r.3, r.4, r.5, r.6);
    QueueCall {
        call_sid,
        account_id,
        from_number,
        locale,
        entered_at,
        last_seen_at,
        position,
        expected_secs: r.7,
        offered_to: r.8,
        left_at: r.9,
        result: r.10,
    }
}

/// Implements `AgentStore` for a backend: `$store` has a pool `$read` and `begin_write()`;
/// `$lock` is appended to the select of the waiting caller an agent is offered.
macro_rules! agent_store {
    ($store:ident, $db:ty, $read:ident, $lock:literal) => {
        pub(super) mod agent_impl {
            use sqlx::Row as _;

            use super::super::agents::{self as a, agent_columns, queue_columns, sql};
            use super::super::{AgentStore, EscalationStore, Result, StoreError};
            use crate::agents::auth::Session;
            use crate::agents::queue::{QueueCall, QueueSeen};
            use crate::agents::{Agent, AgentUpdate, NewAgent};
            use crate::escalations::{
                EscChange, EscCounts, EscFilter, Escalation, EscalationEvent, NewEscalation,
            };

            type Conn = <$db as sqlx::Database>::Connection;
            type Row = <$db as sqlx::Database>::Row;

            fn decode_esc(r: &Row) -> Result<Escalation> {
                a::escalation(a::EscRow {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    state: r.try_get(2)?,
                    priority: r.try_get(3)?,
                    source: r.try_get(4)?,
                    account_id: r.try_get(5)?,
                    ticket_id: r.try_get(6)?,
                    callback_id: r.try_get(7)?,
                    call_sid: r.try_get(8)?,
                    answer: r.try_get(9)?,
                    callback_number: r.try_get(10)?,
                    summary: r.try_get(11)?,
                    owner: r.try_get(12)?,
                    due_at: r.try_get(13)?,
                    queued_at: r.try_get(14)?,
                    created_at: r.try_get(15)?,
                    updated_at: r.try_get(16)?,
                    claimed_at: r.try_get(17)?,
                    replied_at: r.try_get(18)?,
                    closed_at: r.try_get(19)?,
                    reply: r.try_get(20)?,
                    reply_via: r.try_get(21)?,
                    version: r.try_get(22)?,
                })
            }

            async fn esc_by_id(conn: &mut Conn, id: i64) -> Result<Option<Escalation>> {
                sqlx::query(sql::ESC_BY_ID)
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?
                    .map(|r| decode_esc(&r))
                    .transpose()
            }

            async fn agent_where(
                conn: &mut Conn,
                query: &'static str,
                value: &str,
            ) -> Result<Option<Agent>> {
                sqlx::query_as::<_, a::AgentRow>(query)
                    .bind(value)
                    .fetch_optional(&mut *conn)
                    .await?
                    .map(a::agent)
                    .transpose()
            }

            /// Raises an escalation with its "opened" event, once per cause; `None` when its
            /// cause was escalated before.
            pub(crate) async fn raise(conn: &mut Conn, e: &NewEscalation) -> Result<Option<i64>> {
                let id: Option<i64> = sqlx::query_scalar(sql::RAISE)
                    .bind(e.kind.as_str())
                    .bind(e.priority)
                    .bind(&e.source)
                    .bind(e.account_id)
                    .bind(e.ticket_id)
                    .bind(e.callback_id)
                    .bind(&e.call_sid)
                    .bind(&e.answer)
                    .bind(&e.callback_number)
                    .bind(&e.summary)
                    .bind(e.due_at)
                    .bind(e.queued_at)
                    .bind(e.created_at)
                    .fetch_optional(&mut *conn)
                    .await?;
                if let Some(id) = id {
                    sqlx::query(sql::INSERT_ESC_EVENT)
                        .bind(id)
                        .bind("opened")
                        .bind("system")
                        .bind(&e.summary)
                        .bind(e.created_at)
                        .execute(&mut *conn)
                        .await?;
                }
                Ok(id)
            }

            /// Raises the escalation a callback's follow-up owes, linked to the callback's
            /// ticket, customer, number and latest call.
            pub(crate) async fn raise_followup(
                conn: &mut Conn,
                callback_id: i64,
                kind: &str,
                detail: &str,
                at: i64,
            ) -> Result<()> {
                let mut e = NewEscalation::for_followup(callback_id, kind, detail, at);
                let links: Option<(Option<i64>, Option<i64>, String, Option<String>)> =
                    sqlx::query_as(sql::FOLLOWUP_LINKS)
                        .bind(callback_id)
                        .fetch_optional(&mut *conn)
                        .await?;
                if let Some((ticket_id, account_id, number, call_sid)) = links {
                    e.ticket_id = ticket_id;
                    e.account_id = account_id;
                    e.callback_number = Some(number);
                    e.call_sid = call_sid;
                }
                raise(conn, &e).await?;
                Ok(())
            }

            #[async_trait::async_trait]
            impl AgentStore for super::$store {
                async fn create_agent(&self, n: &NewAgent, now: i64) -> Result<Agent> {
                    let mut tx = self.begin_write().await?;
                    let id: Option<i64> = sqlx::query_scalar(sql::INSERT_AGENT)
                        .bind(&n.login)
                        .bind(&n.name)
                        .bind(n.role.as_str())
                        .bind(&n.phone)
                        .bind(n.locale.tag())
                        .bind(&n.password_hash)
                        .bind(now)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if id.is_none() {
                        return Err(StoreError::Conflict(format!(
                            "an agent with login {:?} already exists",
                            n.login
                        )));
                    }
                    let agent = agent_where(&mut tx, sql::AGENT_BY_LOGIN, &n.login).await?;
                    tx.commit().await?;
                    agent.ok_or(StoreError::NotFound)
                }

                async fn agent(&self, id: i64) -> Result<Option<Agent>> {
                    sqlx::query_as::<_, a::AgentRow>(sql::AGENT_BY_ID)
                        .bind(id)
                        .fetch_optional(&self.$read)
                        .await?
                        .map(a::agent)
                        .transpose()
                }

                async fn agent_by_login(&self, login: &str) -> Result<Option<Agent>> {
                    agent_where(
                        &mut *self.$read.acquire().await?,
                        sql::AGENT_BY_LOGIN,
                        login,
                    )
                    .await
                }

                async fn agent_by_phone(&self, phone: &str) -> Result<Option<Agent>> {
                    agent_where(
                        &mut *self.$read.acquire().await?,
                        sql::AGENT_BY_PHONE,
                        phone,
                    )
                    .await
                }

                async fn agents(&self) -> Result<Vec<Agent>> {
                    sqlx::query_as::<_, a::AgentRow>(sql::AGENTS)
                        .fetch_all(&self.$read)
                        .await?
                        .into_iter()
                        .map(a::agent)
                        .collect()
                }

                async fn update_agent(&self, id: i64, u: &AgentUpdate, now: i64) -> Result<Agent> {
                    let mut tx = self.begin_write().await?;
                    const LOCKED: &str = concat!(
                        "SELECT ",
                        agent_columns!(),
                        " FROM agents WHERE id = $1",
                        $lock
                    );
                    let cur = sqlx::query_as::<_, a::AgentRow>(LOCKED)
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(a::agent)
                        .transpose()?
                        .ok_or(StoreError::NotFound)?;
                    let active = u.active.unwrap_or(cur.active);
                    let new_password = u.password_hash.is_some();
                    sqlx::query(sql::UPDATE_AGENT)
                        .bind(id)
                        .bind(u.name.as_ref().unwrap_or(&cur.name))
                        .bind(u.role.unwrap_or(cur.role).as_str())
                        .bind(u.phone.clone().unwrap_or(cur.phone.clone()))
                        .bind(u.locale.unwrap_or(cur.locale).tag())
                        .bind(active)
                        .bind(u.password_hash.as_ref().unwrap_or(&cur.password_hash))
                        .bind(now)
                        .bind(new_password)
                        .execute(&mut *tx)
                        .await?;
                    // Deactivation and a new password end every session of the agent.
                    if !active || new_password {
                        sqlx::query(sql::END_AGENT_SESSIONS)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    let agent = sqlx::query_as::<_, a::AgentRow>(sql::AGENT_BY_ID)
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    a::agent(agent)
                }

                async fn create_session(&self, s: &Session) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(sql::PURGE_SESSIONS)
                        .bind(s.created_at)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(sql::INSERT_SESSION)
                        .bind(&s.token_hash)
                        .bind(s.agent_id)
                        .bind(&s.csrf)
                        .bind(s.created_at)
                        .bind(s.expires_at)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn session(
                    &self,
                    token_hash: &str,
                    now: i64,
                ) -> Result<Option<(Session, Agent)>> {
                    let row: Option<(String, i64, String, i64, i64)> = sqlx::query_as(sql::SESSION)
                        .bind(token_hash)
                        .bind(now)
                        .fetch_optional(&self.$read)
                        .await?;
                    let Some((token_hash, agent_id, csrf, created_at, expires_at)) = row else {
                        return Ok(None);
                    };
                    let Some(agent) = self.agent(agent_id).await?.filter(|a| a.active) else {
                        return Ok(None);
                    };
                    let s = Session {
                        token_hash,
                        agent_id,
                        csrf,
                        created_at,
                        expires_at,
                    };
                    Ok(Some((s, agent)))
                }

                async fn touch_session(
                    &self,
                    token_hash: &str,
                    expires_at: i64,
                    now: i64,
                ) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(sql::TOUCH_SESSION)
                        .bind(token_hash)
                        .bind(expires_at)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn end_session(&self, token_hash: &str) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(sql::END_SESSION)
                        .bind(token_hash)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn queue_seen(&self, q: &QueueSeen) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(sql::QUEUE_SEEN)
                        .bind(&q.call_sid)
                        .bind(q.account_id)
                        .bind(&q.from_number)
                        .bind(&q.locale)
                        .bind(q.at)
                        .bind(q.position)
                        .bind(q.expected_secs)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn queue_left(&self, call_sid: &str, result: &str, at: i64) -> Result<()> {
                    let mut tx = self.begin_write().await?;
                    sqlx::query(sql::QUEUE_LEFT)
                        .bind(call_sid)
                        .bind(at)
                        .bind(result)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn queue_call(&self, call_sid: &str) -> Result<Option<QueueCall>> {
                    Ok(sqlx::query_as::<_, a::QueueRow>(sql::QUEUE_CALL)
                        .bind(call_sid)
                        .fetch_optional(&self.$read)
                        .await?
                        .map(a::queue_call))
                }

                async fn queue_waiting(&self, seen_since: i64) -> Result<Vec<QueueCall>> {
                    Ok(sqlx::query_as::<_, a::QueueRow>(sql::QUEUE_WAITING)
                        .bind(seen_since)
                        .fetch_all(&self.$read)
                        .await?
                        .into_iter()
                        .map(a::queue_call)
                        .collect())
                }

                async fn queue_offer(
                    &self,
                    agent_call: &str,
                    seen_since: i64,
                ) -> Result<Option<QueueCall>> {
                    let mut tx = self.begin_write().await?;
                    const NEXT: &str = concat!(
                        "SELECT ",
                        queue_columns!(),
                        " FROM queue_calls WHERE left_at IS NULL AND last_seen_at >= $1 \
                         AND offered_to IS NULL ORDER BY entered_at, call_sid LIMIT 1",
                        $lock
                    );
                    let next = sqlx::query_as::<_, a::QueueRow>(NEXT)
                        .bind(seen_since)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(a::queue_call);
                    if let Some(c) = &next {
                        sqlx::query(sql::QUEUE_OFFER)
                            .bind(agent_call)
                            .bind(&c.call_sid)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(next)
                }
            }

            #[async_trait::async_trait]
            impl EscalationStore for super::$store {
                async fn raise_escalation(&self, e: &NewEscalation) -> Result<Option<Escalation>> {
                    let mut tx = self.begin_write().await?;
                    let id = raise(&mut tx, e).await?;
                    let esc = match id {
                        Some(id) => esc_by_id(&mut tx, id).await?,
                        None => None,
                    };
                    tx.commit().await?;
                    Ok(esc)
                }

                async fn escalation(&self, id: i64) -> Result<Option<Escalation>> {
                    esc_by_id(&mut *self.$read.acquire().await?, id).await
                }

                async fn escalation_by_source(&self, source: &str) -> Result<Option<Escalation>> {
                    sqlx::query(sql::ESC_BY_SOURCE)
                        .bind(source)
                        .fetch_optional(&self.$read)
                        .await?
                        .map(|r| decode_esc(&r))
                        .transpose()
                }

                async fn escalations(&self, f: &EscFilter) -> Result<Vec<Escalation>> {
                    sqlx::query(sql::LIST_ESC)
                        .bind(f.state.map(|s| s.as_str()))
                        .bind(f.kind.map(|k| k.as_str()))
                        .bind(&f.owner)
                        .bind(i64::from(f.overdue))
                        .bind(f.now)
                        .bind(f.ticket_id)
                        .bind(f.account_id)
                        .bind(f.limit.clamp(1, 1000))
                        .fetch_all(&self.$read)
                        .await?
                        .iter()
                        .map(decode_esc)
                        .collect()
                }

                async fn escalation_counts(&self, now: i64, me: &str) -> Result<EscCounts> {
                    let (open, claimed, replied, unclaimed, overdue, mine): (
                        i64,
                        i64,
                        i64,
                        i64,
                        i64,
                        i64,
                    ) = sqlx::query_as(sql::ESC_COUNTS)
                        .bind(now)
                        .bind(now - crate::escalations::UNCLAIMED_AFTER_MS)
                        .bind(me)
                        .fetch_one(&self.$read)
                        .await?;
                    Ok(EscCounts {
                        open,
                        claimed,
                        replied,
                        unclaimed,
                        overdue,
                        mine,
                    })
                }

                async fn save_escalation(&self, c: &EscChange) -> Result<Escalation> {
                    let e = &c.escalation;
                    let mut tx = self.begin_write().await?;
                    let n = sqlx::query(sql::SAVE_ESC)
                        .bind(e.id)
                        .bind(c.from_version)
                        .bind(e.state.as_str())
                        .bind(&e.owner)
                        .bind(e.updated_at)
                        .bind(e.claimed_at)
                        .bind(e.replied_at)
                        .bind(e.closed_at)
                        .bind(&e.reply)
                        .bind(e.reply_via.map(|v| v.as_str()))
                        .bind(e.version)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if n == 0 {
                        return Err(StoreError::Conflict(format!(
                            "escalation {} was changed by someone else meanwhile",
                            e.id
                        )));
                    }
                    sqlx::query(sql::INSERT_ESC_EVENT)
                        .bind(e.id)
                        .bind(c.event)
                        .bind(&c.actor)
                        .bind(&c.detail)
                        .bind(e.updated_at)
                        .execute(&mut *tx)
                        .await?;
                    let saved = esc_by_id(&mut tx, e.id).await?;
                    tx.commit().await?;
                    saved.ok_or(StoreError::NotFound)
                }

                async fn escalation_history(&self, id: i64) -> Result<Vec<EscalationEvent>> {
                    Ok(sqlx::query_as::<_, a::EventRow>(sql::ESC_EVENTS)
                        .bind(id)
                        .fetch_all(&self.$read)
                        .await?
                        .into_iter()
                        .map(a::event)
                        .collect())
                }
            }
        }
    };
}
pub(super) use agent_store;
