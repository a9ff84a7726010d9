//! Agents, sessions, escalations and the agent queue, for both backends.
//!
//! Rules: the statements are one text for SQLite and PostgreSQL and the functions are written
//! once, over `db::Backend`; rows are read by column name. An escalation is raised with its
//! "opened" event, and changed only over the version it was read at, with its history entry,
//! in one transaction; `raise` and `raise_followup` also run inside other transactions (a
//! ticket's, a survey step's, an attempt's: anything `db::AsConn`), so a cause and its
//! escalation commit together.

use super::db::{AsConn, Backend, Row, query};
use super::{AgentStore, EscalationStore, Result, StoreError};
use crate::agents::auth::Session;
use crate::agents::queue::{QueueCall, QueueSeen};
use crate::agents::{Agent, AgentUpdate, NewAgent, Role};
use crate::escalations::{
    EscChange, EscCounts, EscFilter, Escalation, EscalationEvent, EscalationKind, EscalationState,
    NewEscalation, ReplyVia, TicketFollow,
};
use crate::prompts::Locale;
use crate::tickets::{Action, TicketKind, TicketState};

macro_rules! agent_columns {
    () => {
        "id, login, name, role, phone, locale, password_hash, active, failed_logins, \
         locked_until, created_at"
    };
}
macro_rules! esc_columns {
    () => {
        "id, kind, state, priority, source, account_id, ticket_id, callback_id, call_sid, \
         answer, callback_number, summary, owner, due_at, queued_at, created_at, updated_at, \
         claimed_at, replied_at, closed_at, reply, reply_via, version, \
         (SELECT t.number FROM tickets t WHERE t.id = escalations.ticket_id) AS ticket_number"
    };
}
macro_rules! queue_columns {
    () => {
        "call_sid, account_id, from_number, locale, entered_at, last_seen_at, position, \
         expected_secs, offered_to, left_at, result"
    };
}

mod sql {
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
        " FROM escalations WHERE source = $1 OR id = \
         (SELECT escalation_id FROM escalation_events WHERE source = $1)"
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
    /// Whether a cause was escalated before, as a case or joined to one.
    pub const CAUSE_SEEN: &str = "SELECT id FROM escalations WHERE source = $1 \
         UNION ALL SELECT escalation_id FROM escalation_events WHERE source = $1";
    /// Row locks (on PostgreSQL; SQLite's writer holds the whole database) that make
    /// concurrent causes of one matter find each other's case: the second waits for the
    /// first to commit. A write, not `FOR UPDATE`, so the text is the same on both.
    pub const LOCK_TICKET: &str = "UPDATE tickets SET updated_at = updated_at WHERE id = $1";
    pub const LOCK_CALLBACK: &str = "UPDATE callbacks SET updated_at = updated_at WHERE id = $1";
    /// The unclosed case of a ticket, or of a callback without a ticket.
    pub const OPEN_CASE_OF_TICKET: &str = "SELECT id FROM escalations \
         WHERE ticket_id = $1 AND state <> 'closed' ORDER BY id LIMIT 1";
    pub const OPEN_CASE_OF_CALLBACK: &str = "SELECT id FROM escalations \
         WHERE callback_id = $1 AND ticket_id IS NULL AND state <> 'closed' ORDER BY id LIMIT 1";
    /// `$1` the case, `$2` the cause's source, `$3` its detail, `$4` when.
    pub const JOIN_EVENT: &str = "INSERT INTO escalation_events \
         (escalation_id, kind, actor, detail, at, source) \
         VALUES ($1, 'joined', 'system', $3, $4, $2) ON CONFLICT DO NOTHING";
    /// The more urgent priority and due time of the two; a case already replied is owed
    /// a reply again, by the new cause's due time.
    pub const JOIN_CASE: &str = "UPDATE escalations SET \
         priority = CASE WHEN priority < $2 THEN priority ELSE $2 END, \
         due_at = CASE WHEN state = 'replied' OR due_at > $3 THEN $3 ELSE due_at END, \
         state = CASE WHEN state = 'replied' THEN 'claimed' ELSE state END, \
         updated_at = $4, version = version + 1 WHERE id = $1";
    /// The replied cases of a ticket just resolved: the customer was told, the matter is done.
    pub const REPLIED_CASES_OF_TICKET: &str =
        "SELECT id FROM escalations WHERE ticket_id = $1 AND state = 'replied'";
    pub const CLOSE_CASE: &str = "UPDATE escalations SET state = 'closed', closed_at = $2, \
         updated_at = $2, version = version + 1 WHERE id = $1 AND state = 'replied'";
    pub const TICKET_TO_FOLLOW: &str =
        "SELECT number, state, kind, assignee FROM tickets WHERE id = $1";
    pub const ESC_EVENTS: &str = "SELECT id, escalation_id, kind, actor, detail, at, source \
         FROM escalation_events WHERE escalation_id = $1 ORDER BY id";
    /// The callback a follow-up is about: its links, and the call of its latest attempt.
    pub const FOLLOWUP_LINKS: &str = "SELECT b.ticket_id AS ticket_id, \
         b.account_id AS account_id, b.to_number AS to_number, \
         (SELECT a.provider_call_id FROM callback_attempts a WHERE a.callback_id = b.id \
          AND a.provider_call_id IS NOT NULL ORDER BY a.id DESC LIMIT 1) AS call_sid \
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
         AND (CAST($9 AS BIGINT) IS NULL OR callback_id = $9) \
         ORDER BY CASE state WHEN 'open' THEN 0 WHEN 'claimed' THEN 1 WHEN 'replied' THEN 2 \
         ELSE 3 END, CASE WHEN state = 'closed' THEN 0 ELSE priority END, \
         CASE WHEN state = 'closed' THEN -closed_at ELSE queued_at END, id LIMIT $8"
    );
    pub const ESC_COUNTS: &str = "SELECT \
         COALESCE(SUM(CASE WHEN state = 'open' THEN 1 ELSE 0 END), 0) AS open, \
         COALESCE(SUM(CASE WHEN state = 'claimed' THEN 1 ELSE 0 END), 0) AS claimed, \
         COALESCE(SUM(CASE WHEN state = 'replied' THEN 1 ELSE 0 END), 0) AS replied, \
         COALESCE(SUM(CASE WHEN state = 'open' AND created_at <= $2 THEN 1 ELSE 0 END), 0) \
         AS unclaimed, \
         COALESCE(SUM(CASE WHEN state IN ('open', 'claimed') AND due_at < $1 THEN 1 ELSE 0 END), 0) \
         AS overdue, \
         COALESCE(SUM(CASE WHEN owner = $3 AND state IN ('claimed', 'replied') THEN 1 ELSE 0 END), 0) \
         AS mine \
         FROM escalations WHERE state <> 'closed'";

    /// The first caller waiting since `$1` not yet described to an agent (the dialect's
    /// lock is appended).
    pub const QUEUE_NEXT: &str = concat!(
        "SELECT ",
        queue_columns!(),
        " FROM queue_calls WHERE left_at IS NULL AND last_seen_at >= $1 \
         AND offered_to IS NULL ORDER BY entered_at, call_sid LIMIT 1"
    );

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

fn agent(r: &Row) -> Result<Agent> {
    let id: i64 = r.get("id")?;
    let role: String = r.get("role")?;
    let locale: String = r.get("locale")?;
    Ok(Agent {
        id,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("agent {id}: role {role:?}")))?,
        locale: Locale::parse(&locale)
            .ok_or_else(|| StoreError::Corrupt(format!("agent {id}: locale {locale:?}")))?,
        login: r.get("login")?,
        name: r.get("name")?,
        phone: r.get("phone")?,
        password_hash: r.get("password_hash")?,
        active: r.get("active")?,
        failed_logins: r.get("failed_logins")?,
        locked_until: r.get("locked_until")?,
        created_at: r.get("created_at")?,
    })
}

fn escalation(r: &Row) -> Result<Escalation> {
    let id: i64 = r.get("id")?;
    let corrupt =
        |what: &str, v: &str| StoreError::Corrupt(format!("escalation {id}: {what} {v:?}"));
    let kind: String = r.get("kind")?;
    let state: String = r.get("state")?;
    let reply_via: Option<String> = r.get("reply_via")?;
    Ok(Escalation {
        id,
        kind: EscalationKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        state: EscalationState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
        reply_via: match reply_via.as_deref() {
            Some(v) => Some(ReplyVia::parse(v).ok_or_else(|| corrupt("reply_via", v))?),
            None => None,
        },
        priority: r.get("priority")?,
        source: r.get("source")?,
        account_id: r.get("account_id")?,
        ticket_id: r.get("ticket_id")?,
        ticket_number: r.get("ticket_number")?,
        callback_id: r.get("callback_id")?,
        call_sid: r.get("call_sid")?,
        answer: r.get("answer")?,
        callback_number: r.get("callback_number")?,
        summary: r.get("summary")?,
        owner: r.get("owner")?,
        due_at: r.get("due_at")?,
        queued_at: r.get("queued_at")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
        claimed_at: r.get("claimed_at")?,
        replied_at: r.get("replied_at")?,
        closed_at: r.get("closed_at")?,
        reply: r.get("reply")?,
        version: r.get("version")?,
    })
}

fn event(r: &Row) -> Result<EscalationEvent> {
    Ok(EscalationEvent {
        id: r.get("id")?,
        escalation_id: r.get("escalation_id")?,
        kind: r.get("kind")?,
        actor: r.get("actor")?,
        detail: r.get("detail")?,
        at: r.get("at")?,
        source: r.get("source")?,
    })
}

fn queue_call(r: &Row) -> Result<QueueCall> {
    Ok(QueueCall {
        call_sid: r.get("call_sid")?,
        account_id: r.get("account_id")?,
        from_number: r.get("from_number")?,
        locale: r.get("locale")?,
        entered_at: r.get("entered_at")?,
        last_seen_at: r.get("last_seen_at")?,
        position: r.get("position")?,
        expected_secs: r.get("expected_secs")?,
        offered_to: r.get("offered_to")?,
        left_at: r.get("left_at")?,
        result: r.get("result")?,
    })
}

async fn esc_by_id(on: &mut impl AsConn, id: i64) -> Result<Option<Escalation>> {
    (query(sql::ESC_BY_ID).bind(id))
        .fetch_optional_as(on, escalation)
        .await
}

/// The agent that `statement` finds by `value`.
async fn agent_where(
    on: &mut impl AsConn,
    statement: &'static str,
    value: impl Into<super::db::Value<'_>>,
) -> Result<Option<Agent>> {
    (query(statement).bind(value))
        .fetch_optional_as(on, agent)
        .await
}

/// Runs a statement that writes, alone in its transaction.
pub(super) async fn write_one(store: &impl Backend, q: super::db::Query<'_>) -> Result<u64> {
    let mut tx = store.write().await?;
    let n = q.execute(&mut tx).await?;
    tx.commit().await?;
    Ok(n)
}

/// Raises an escalation with its "opened" event, once per cause, or joins the cause to its
/// matter's unclosed case (see `crate::escalations`); the case's id, or `None` when the
/// cause was escalated before.
pub(super) async fn raise(on: &mut impl AsConn, e: &NewEscalation) -> Result<Option<i64>> {
    let seen = query(sql::CAUSE_SEEN).bind(&e.source).fetch_optional(on);
    if seen.await?.is_some() {
        return Ok(None);
    }
    let open = match (e.ticket_id, e.callback_id) {
        (Some(t), _) => {
            query(sql::LOCK_TICKET).bind(t).execute(on).await?;
            query(sql::OPEN_CASE_OF_TICKET)
                .bind(t)
                .scalar_optional(on)
                .await?
        }
        (None, Some(b)) => {
            query(sql::LOCK_CALLBACK).bind(b).execute(on).await?;
            (query(sql::OPEN_CASE_OF_CALLBACK).bind(b))
                .scalar_optional(on)
                .await?
        }
        (None, None) => None,
    };
    if let Some(case) = open {
        let detail = crate::escalations::SystemDetail::Joined {
            kind: e.kind,
            summary: e.summary.clone(),
        }
        .to_string();
        let joined = query(sql::JOIN_EVENT)
            .bind(case)
            .bind(&e.source)
            .bind(detail)
            .bind(e.created_at)
            .execute(on)
            .await?;
        if joined == 0 {
            return Ok(None);
        }
        query(sql::JOIN_CASE)
            .bind(case)
            .bind(e.priority)
            .bind(e.due_at)
            .bind(e.created_at)
            .execute(on)
            .await?;
        return Ok(Some(case));
    }
    let id: Option<i64> = query(sql::RAISE)
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
        .scalar_optional(on)
        .await?;
    if let Some(id) = id {
        query(sql::INSERT_ESC_EVENT)
            .bind(id)
            .bind("opened")
            .bind("system")
            .bind(&e.summary)
            .bind(e.created_at)
            .execute(on)
            .await?;
    }
    Ok(id)
}

/// Closes the replied cases of a ticket just resolved (see `crate::escalations`).
pub(super) async fn close_replied_cases(
    on: &mut impl AsConn,
    ticket: &crate::tickets::Ticket,
    at: i64,
) -> Result<()> {
    let ids: Vec<i64> = (query(sql::REPLIED_CASES_OF_TICKET).bind(ticket.id))
        .fetch_all_as(on, |r| r.get("id"))
        .await?;
    for id in ids {
        if query(sql::CLOSE_CASE).bind(id).bind(at).execute(on).await? == 1 {
            query(sql::INSERT_ESC_EVENT)
                .bind(id)
                .bind("closed")
                .bind("system")
                .bind(
                    crate::escalations::SystemDetail::TicketResolved {
                        number: ticket.number.clone(),
                    }
                    .to_string(),
                )
                .bind(at)
                .execute(on)
                .await?;
        }
    }
    Ok(())
}

/// Does to a case's ticket what a change to the case asks (see `TicketFollow`), unless the
/// ticket moved on meanwhile: a ticket no longer worked is left alone, and a ticket someone
/// else works keeps its assignee unless it is a complaint (worked by the case's owner).
async fn follow_ticket(
    on: &mut impl AsConn,
    dialect: &super::db::Dialect,
    follow: &TicketFollow,
    actor: &str,
    at: i64,
) -> Result<()> {
    let (ticket_id, action) = match follow {
        TicketFollow::Assign { ticket_id, to } => (
            *ticket_id,
            Action::Assign {
                assignee: to.clone(),
                note: Some(crate::escalations::OWNER_NOTE.into()),
            },
        ),
        TicketFollow::ResolveComplaint { ticket_id, reply } => (
            *ticket_id,
            Action::Resolve {
                code: crate::escalations::REPLIED_CODE.into(),
                note: reply.clone(),
            },
        ),
    };
    let Some(r) = (query(sql::TICKET_TO_FOLLOW).append(dialect.lock_rows))
        .bind(ticket_id)
        .fetch_optional(on)
        .await?
    else {
        return Ok(());
    };
    let number: String = r.get("number")?;
    let state: String = r.get("state")?;
    let kind: String = r.get("kind")?;
    let assignee: Option<String> = r.get("assignee")?;
    let active = TicketState::parse(&state).is_some_and(TicketState::is_active);
    let complaint = kind == TicketKind::Complaint.as_str();
    let wanted = match follow {
        TicketFollow::Assign { to, .. } => {
            assignee.as_deref() != Some(to.as_str()) && (assignee.is_none() || complaint)
        }
        TicketFollow::ResolveComplaint { .. } => true,
    };
    if active && wanted {
        super::tickets::change(on, dialect, &number, &action, actor, None, at).await?;
    }
    Ok(())
}

/// Raises the escalation a callback's follow-up owes, linked to the callback's ticket,
/// customer, number and latest call.
pub(super) async fn raise_followup(
    on: &mut impl AsConn,
    callback_id: i64,
    kind: &str,
    detail: &str,
    at: i64,
) -> Result<()> {
    let mut e = NewEscalation::for_followup(callback_id, kind, detail, at);
    let links = (query(sql::FOLLOWUP_LINKS).bind(callback_id))
        .fetch_optional(on)
        .await?;
    if let Some(r) = links {
        e.ticket_id = r.get("ticket_id")?;
        e.account_id = r.get("account_id")?;
        e.callback_number = Some(r.get("to_number")?);
        e.call_sid = r.get("call_sid")?;
    }
    raise(on, &e).await?;
    Ok(())
}

#[async_trait::async_trait]
impl<B: Backend> AgentStore for B {
    async fn create_agent(&self, n: &NewAgent, now: i64) -> Result<Agent> {
        let mut tx = self.write().await?;
        let id: Option<i64> = query(sql::INSERT_AGENT)
            .bind(&n.login)
            .bind(&n.name)
            .bind(n.role.as_str())
            .bind(&n.phone)
            .bind(n.locale.tag())
            .bind(&n.password_hash)
            .bind(now)
            .scalar_optional(&mut tx)
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
        agent_where(&mut self.read().await?, sql::AGENT_BY_ID, id).await
    }

    async fn agent_by_login(&self, login: &str) -> Result<Option<Agent>> {
        agent_where(&mut self.read().await?, sql::AGENT_BY_LOGIN, login).await
    }

    async fn agent_by_phone(&self, phone: &str) -> Result<Option<Agent>> {
        agent_where(&mut self.read().await?, sql::AGENT_BY_PHONE, phone).await
    }

    async fn agents(&self) -> Result<Vec<Agent>> {
        (query(sql::AGENTS))
            .fetch_all_as(&mut self.read().await?, agent)
            .await
    }

    async fn update_agent(&self, id: i64, u: &AgentUpdate, now: i64) -> Result<Agent> {
        let mut tx = self.write().await?;
        let cur = (query(sql::AGENT_BY_ID).append(B::DIALECT.lock_rows))
            .bind(id)
            .fetch_optional_as(&mut tx, agent)
            .await?
            .ok_or(StoreError::NotFound)?;
        let active = u.active.unwrap_or(cur.active);
        let new_password = u.password_hash.is_some();
        query(sql::UPDATE_AGENT)
            .bind(id)
            .bind(u.name.as_ref().unwrap_or(&cur.name))
            .bind(u.role.unwrap_or(cur.role).as_str())
            .bind(u.phone.clone().unwrap_or(cur.phone.clone()))
            .bind(u.locale.unwrap_or(cur.locale).tag())
            .bind(active)
            .bind(u.password_hash.as_ref().unwrap_or(&cur.password_hash))
            .bind(now)
            .bind(new_password)
            .execute(&mut tx)
            .await?;
        // Deactivation and a new password end every session of the agent.
        if !active || new_password {
            query(sql::END_AGENT_SESSIONS)
                .bind(id)
                .execute(&mut tx)
                .await?;
        }
        let saved = query(sql::AGENT_BY_ID).bind(id).fetch_one(&mut tx).await?;
        tx.commit().await?;
        agent(&saved)
    }

    async fn create_session(&self, s: &Session) -> Result<()> {
        let mut tx = self.write().await?;
        query(sql::PURGE_SESSIONS)
            .bind(s.created_at)
            .execute(&mut tx)
            .await?;
        query(sql::INSERT_SESSION)
            .bind(&s.token_hash)
            .bind(s.agent_id)
            .bind(&s.csrf)
            .bind(s.created_at)
            .bind(s.expires_at)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session(&self, token_hash: &str, now: i64) -> Result<Option<(Session, Agent)>> {
        let row = (query(sql::SESSION).bind(token_hash).bind(now))
            .fetch_optional(&mut self.read().await?)
            .await?;
        let Some(r) = row else {
            return Ok(None);
        };
        let agent_id: i64 = r.get("agent_id")?;
        let Some(agent) = self.agent(agent_id).await?.filter(|a| a.active) else {
            return Ok(None);
        };
        let s = Session {
            token_hash: r.get("token_hash")?,
            agent_id,
            csrf: r.get("csrf")?,
            created_at: r.get("created_at")?,
            expires_at: r.get("expires_at")?,
        };
        Ok(Some((s, agent)))
    }

    async fn touch_session(&self, token_hash: &str, expires_at: i64, now: i64) -> Result<()> {
        let q = query(sql::TOUCH_SESSION)
            .bind(token_hash)
            .bind(expires_at)
            .bind(now);
        write_one(self, q).await?;
        Ok(())
    }

    async fn end_session(&self, token_hash: &str) -> Result<()> {
        write_one(self, query(sql::END_SESSION).bind(token_hash)).await?;
        Ok(())
    }

    async fn queue_seen(&self, q: &QueueSeen) -> Result<()> {
        let seen = query(sql::QUEUE_SEEN)
            .bind(&q.call_sid)
            .bind(q.account_id)
            .bind(&q.from_number)
            .bind(&q.locale)
            .bind(q.at)
            .bind(q.position)
            .bind(q.expected_secs);
        write_one(self, seen).await?;
        Ok(())
    }

    async fn queue_left(&self, call_sid: &str, result: &str, at: i64) -> Result<()> {
        let left = query(sql::QUEUE_LEFT).bind(call_sid).bind(at).bind(result);
        write_one(self, left).await?;
        Ok(())
    }

    async fn queue_call(&self, call_sid: &str) -> Result<Option<QueueCall>> {
        (query(sql::QUEUE_CALL).bind(call_sid))
            .fetch_optional_as(&mut self.read().await?, queue_call)
            .await
    }

    async fn queue_waiting(&self, seen_since: i64) -> Result<Vec<QueueCall>> {
        (query(sql::QUEUE_WAITING).bind(seen_since))
            .fetch_all_as(&mut self.read().await?, queue_call)
            .await
    }

    async fn queue_offer(&self, agent_call: &str, seen_since: i64) -> Result<Option<QueueCall>> {
        let mut tx = self.write().await?;
        let next = (query(sql::QUEUE_NEXT).append(B::DIALECT.skip_locked))
            .bind(seen_since)
            .fetch_optional_as(&mut tx, queue_call)
            .await?;
        if let Some(c) = &next {
            query(sql::QUEUE_OFFER)
                .bind(agent_call)
                .bind(&c.call_sid)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        Ok(next)
    }
}

#[async_trait::async_trait]
impl<B: Backend> EscalationStore for B {
    async fn raise_escalation(&self, e: &NewEscalation) -> Result<Option<Escalation>> {
        let mut tx = self.write().await?;
        let esc = match raise(&mut tx, e).await? {
            Some(id) => esc_by_id(&mut tx, id).await?,
            None => None,
        };
        tx.commit().await?;
        Ok(esc)
    }

    async fn escalation(&self, id: i64) -> Result<Option<Escalation>> {
        esc_by_id(&mut self.read().await?, id).await
    }

    async fn escalation_by_source(&self, source: &str) -> Result<Option<Escalation>> {
        (query(sql::ESC_BY_SOURCE).bind(source))
            .fetch_optional_as(&mut self.read().await?, escalation)
            .await
    }

    async fn escalations(&self, f: &EscFilter) -> Result<Vec<Escalation>> {
        query(sql::LIST_ESC)
            .bind(f.state.map(|s| s.as_str()))
            .bind(f.kind.map(|k| k.as_str()))
            .bind(&f.owner)
            .bind(i64::from(f.overdue))
            .bind(f.now)
            .bind(f.ticket_id)
            .bind(f.account_id)
            .bind(f.limit.clamp(1, 1000))
            .bind(f.callback_id)
            .fetch_all_as(&mut self.read().await?, escalation)
            .await
    }

    async fn escalation_counts(&self, now: i64, me: &str) -> Result<EscCounts> {
        let r = query(sql::ESC_COUNTS)
            .bind(now)
            .bind(now - crate::escalations::UNCLAIMED_AFTER_MS)
            .bind(me)
            .fetch_one(&mut self.read().await?)
            .await?;
        Ok(EscCounts {
            open: r.get("open")?,
            claimed: r.get("claimed")?,
            replied: r.get("replied")?,
            unclaimed: r.get("unclaimed")?,
            overdue: r.get("overdue")?,
            mine: r.get("mine")?,
        })
    }

    async fn save_escalation(&self, c: &EscChange) -> Result<Escalation> {
        let e = &c.escalation;
        let mut tx = self.write().await?;
        let n = query(sql::SAVE_ESC)
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
            .execute(&mut tx)
            .await?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "escalation {} was changed by someone else meanwhile",
                e.id
            )));
        }
        query(sql::INSERT_ESC_EVENT)
            .bind(e.id)
            .bind(c.event)
            .bind(&c.actor)
            .bind(&c.detail)
            .bind(e.updated_at)
            .execute(&mut tx)
            .await?;
        if let Some(f) = &c.ticket {
            follow_ticket(&mut tx, B::DIALECT, f, &c.actor, e.updated_at).await?;
        }
        let saved = esc_by_id(&mut tx, e.id).await?;
        tx.commit().await?;
        saved.ok_or(StoreError::NotFound)
    }

    async fn log_escalation_event(
        &self,
        id: i64,
        kind: &str,
        actor: &str,
        detail: &str,
        at: i64,
    ) -> Result<()> {
        let q = query(sql::INSERT_ESC_EVENT)
            .bind(id)
            .bind(kind)
            .bind(actor)
            .bind(detail)
            .bind(at);
        write_one(self, q).await.map(|_| ())
    }

    async fn escalation_history(&self, id: i64) -> Result<Vec<EscalationEvent>> {
        (query(sql::ESC_EVENTS).bind(id))
            .fetch_all_as(&mut self.read().await?, event)
            .await
    }
}
