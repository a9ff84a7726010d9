//! The step service: runs one step of a call through the flows, fetching the facts they ask
//! for, and records it (with its effects) before the answer leaves.
//!
//! Provider-neutral: the adapter hands in the parsed request and a renderer for its markup;
//! the rendered body is what is stored, so a retried request gets the same bytes back.

use std::sync::Arc;

use crate::agents::queue::{QueueSeen, STALE_MS, expected_wait_secs};
use crate::billing::source::BillingSource;
use crate::calls::step::{NewCall, StepOutcome, StepWrite};
use crate::calls::writer::StepWriter;
use crate::clock::Clock;
use crate::config::Config;
use crate::customers::pin;
use crate::flows::agents::{self as agent_flows, CallerInfo, QueueFacts};
use crate::flows::survey::{SurveyInfo, SurveyState};
use crate::flows::{self, Ctx, Facts, FlowState, Need, Node, Outcome};
use crate::lockout;
use crate::prompts::{Catalog, Locale};
use crate::repo::{Store, StoreError};
use crate::telephony::{CallInput, Verb, mask_number};
use crate::tickets::desk::Desk;
use crate::tickets::{Action, Channel, NewTicket, Origin, TicketFilter};

/// One request of the carrier, parsed by the adapter.
#[derive(Debug, Clone)]
pub struct StepRequest {
    pub call_sid: String,
    /// Who called whom; recorded when the call is new.
    pub call: NewCall,
    pub state: StepState,
    pub input: CallInput,
}

/// Which flow a request belongs to, and where in it the call is.
#[derive(Debug, Clone)]
pub enum StepState {
    /// The inbound menu; `None` for the first request of a call.
    Inbound(Option<FlowState>),
    /// A callback's survey; `machine` when the carrier detected an answering machine.
    Survey { state: SurveyState, machine: bool },
}

#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("store: {0}")]
    Store(#[from] Arc<StoreError>),
    /// A step other than the first for a call that never started here.
    #[error("unknown call")]
    UnknownCall,
    #[error("the flow asked for {0:?} more than once")]
    FlowLoop(Need),
    /// A survey step for a callback that does not exist.
    #[error("unknown callback {0}")]
    UnknownCallback(i64),
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        StepError::Store(Arc::new(e))
    }
}

/// Everything a step needs; cheap to clone.
#[derive(Clone)]
pub struct StepService {
    pub store: Arc<dyn Store>,
    pub writer: StepWriter,
    pub billing: Arc<dyn BillingSource>,
    pub catalog: Arc<Catalog>,
    pub cfg: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub desk: Desk,
}

impl StepService {
    /// Runs and records one step; returns the body to answer (freshly rendered, or the
    /// stored one when this exact step was answered before).
    pub async fn handle(
        &self,
        req: &StepRequest,
        render: impl Fn(&[Verb]) -> String,
    ) -> Result<String, StepError> {
        // A PIN step counts a guess before it is recorded: a retried one is answered as it
        // was, without guessing again.
        if let StepState::Inbound(Some(s)) = &req.state
            && s.node == Node::Pin
            && let Some(stored) = self.store.step_response(&req.call_sid, s.seq).await?
        {
            tracing::info!(call_sid = %req.call_sid, seq = s.seq, "replayed a retried PIN step");
            return Ok(stored);
        }
        let now = self.clock.now_ms();
        let (seq, node, outcome) = match &req.state {
            StepState::Inbound(state) => {
                let state = state
                    .clone()
                    .unwrap_or_else(|| FlowState::start(self.cfg.default_locale));
                let outcome = self.run(req, &state, now).await?;
                (state.seq, state.node.name().to_string(), outcome)
            }
            StepState::Survey { state, machine } => {
                let caller = normalize_number(&req.call.to_number);
                let ctx = self.ctx(now, caller.as_deref(), &req.call_sid);
                let info = self.survey_info(state.callback_id).await?;
                let outcome = flows::survey::step(&ctx, state, &req.input, *machine, &info);
                (state.seq, state.node(), outcome)
            }
        };
        let body = render(&outcome.verbs);
        let write = StepWrite {
            call_sid: req.call_sid.clone(),
            seq,
            new_call: (seq == 0).then(|| req.call.clone()),
            node,
            input: outcome.input_log.clone(),
            said: outcome.said().join("\n"),
            response: body.clone(),
            at: now,
            effects: outcome.effects,
        };
        match self.writer.commit(write).await? {
            StepOutcome::Recorded => Ok(body),
            StepOutcome::Replayed { response } => {
                tracing::info!(call_sid = %req.call_sid, seq, "replayed a retried step");
                Ok(response)
            }
            StepOutcome::UnknownCall => Err(StepError::UnknownCall),
        }
    }

    fn ctx<'a>(&'a self, now: i64, caller_number: Option<&'a str>, call_sid: &'a str) -> Ctx<'a> {
        Ctx {
            catalog: &self.catalog,
            call_sid,
            transfer: self.cfg.agents.transfer,
            agent: self.cfg.agent_number.as_deref(),
            queue: &self.cfg.agents.queue,
            max_wait_secs: self.cfg.agents.max_wait_secs,
            default_locale: self.cfg.default_locale,
            now,
            tz: self.desk.tz,
            complaint_max_secs: self.cfg.complaints.max_secs,
            transcribe: self.cfg.complaints.transcribe,
            caller_number,
        }
    }

    /// The script and dates a callback's survey needs.
    async fn survey_info(&self, callback_id: i64) -> Result<SurveyInfo, StepError> {
        let cb = self
            .store
            .callback(callback_id)
            .await?
            .ok_or(StepError::UnknownCallback(callback_id))?;
        let campaign = self
            .store
            .campaign(cb.campaign_id)
            .await?
            .ok_or(StepError::UnknownCallback(callback_id))?;
        let ticket = match cb.ticket_id {
            Some(id) => self.store.ticket_by_id(id).await?,
            None => None,
        };
        Ok(SurveyInfo {
            script: campaign.script,
            number: cb.to_number,
            resolved_at: ticket.as_ref().and_then(|t| t.resolved_at),
            appointment_at: ticket.as_ref().and_then(|t| t.appointment_at),
        })
    }

    /// Runs the flow, answering its needs until it answers.
    async fn run(
        &self,
        req: &StepRequest,
        state: &FlowState,
        now: i64,
    ) -> Result<Outcome, StepError> {
        let caller = normalize_number(&req.call.from_number);
        let ctx = self.ctx(now, caller.as_deref(), &req.call_sid);
        let mut facts = Facts::default();
        let mut asked: Vec<Need> = Vec::new();
        loop {
            match flows::step(&ctx, state, &req.input, &facts) {
                Ok(outcome) => return Ok(outcome),
                Err(need) if asked.contains(&need) => return Err(StepError::FlowLoop(need)),
                Err(need) => {
                    self.fetch(&need, req, state, &mut facts).await?;
                    asked.push(need);
                }
            }
        }
    }

    async fn fetch(
        &self,
        need: &Need,
        req: &StepRequest,
        state: &FlowState,
        facts: &mut Facts,
    ) -> Result<(), StepError> {
        // What a step does to tickets is keyed by the step, so a retried request finds it
        // done instead of doing it again.
        let origin = || Origin {
            call_sid: req.call_sid.clone(),
            seq: state.seq,
        };
        match need {
            Need::CallerAccount => {
                let number = normalize_number(&req.call.from_number);
                let acc = match number {
                    Some(n) => self.store.account_by_line(&n).await?,
                    None => None,
                };
                tracing::debug!(
                    call_sid = %req.call_sid,
                    from = %mask_number(&req.call.from_number),
                    identified = acc.is_some(),
                    "caller lookup"
                );
                facts.caller_account = Some(acc);
            }
            Need::AccountById(id) => facts.account = Some(self.store.account(*id).await?),
            Need::AccountWithBill(id) => match self.billing.kept_with_accounts() {
                Some(bills) => {
                    let (account, bill) = match bills.account_with_bill(*id).await? {
                        Some((account, bill)) => (Some(account), bill),
                        None => (None, None),
                    };
                    facts.account = Some(account);
                    facts.bill = Some(Ok(bill));
                }
                None => facts.account = Some(self.store.account(*id).await?),
            },
            Need::AccountByNo(no) => facts.account = Some(self.store.account_by_no(no).await?),
            Need::PinCheck { pin } => {
                let acc = facts.account.as_ref().and_then(Option::as_ref);
                let id = acc.map_or(0, |a| a.id);
                // A PIN that breaks the rules is checked against nothing, at the same cost.
                let hash = acc
                    .and_then(|a| a.pin_hash.as_deref())
                    .filter(|_| pin::validate(pin).is_ok());
                let now = self.clock.now_ms();
                let p = &self.cfg.pin;
                let lock_until = now.saturating_add(p.lock_minutes.saturating_mul(60_000));
                let verdict = lockout::check(
                    hash,
                    pin,
                    || {
                        self.store
                            .pin_guess(id, p.max_failures.into(), lock_until, now)
                    },
                    |n| self.store.pin_right(id, n),
                )
                .await?;
                tracing::info!(call_sid = %req.call_sid, verdict = verdict.as_str(), "PIN checked");
                facts.pin = Some(verdict);
            }
            Need::Bill => {
                let bill = match facts.account.as_ref().and_then(|a| a.as_ref()) {
                    Some(acc) => self.billing.bill(acc).await.map_err(|e| {
                        tracing::warn!(call_sid = %req.call_sid, error = %e, "billing source failed");
                    }),
                    None => Ok(None),
                };
                facts.bill = Some(bill);
            }
            Need::ActiveFault(line) => {
                let t = self
                    .store
                    .active_ticket_on_line(line, crate::tickets::TicketKind::Fault)
                    .await?;
                facts.active_fault = Some(t);
            }
            Need::TicketByNumber(number) => facts.ticket = Some(self.store.ticket(number).await?),
            Need::OpenTicket(r) => {
                let t = NewTicket {
                    kind: r.kind,
                    account_id: r.account_id,
                    line_number: r.line_number.clone(),
                    line_kind: r.line_kind,
                    customer_class: r.customer_class,
                    channel: Channel::Phone,
                    category: r.category.clone(),
                    description: String::new(),
                    callback_number: r.callback_number.clone(),
                    deadline_at: None,
                    deadline_estimated: false,
                    recording: r.recording.clone(),
                    address: r.address.clone(),
                    actor: "caller".into(),
                    origin: Some(origin()),
                };
                let opened = self.desk.open(t, self.clock.now_ms()).await?;
                tracing::info!(call_sid = %req.call_sid, ticket = %opened.number, kind = opened.kind.as_str(), "ticket opened by phone");
                facts.opened = Some(opened);
            }
            Need::Persists(number) => {
                let o = origin();
                let t = match self
                    .desk
                    .change(number, &Action::Persists, "caller", Some(&o))
                    .await
                {
                    Ok(t) => Some(t),
                    Err(
                        crate::repo::StoreError::Transition(_) | crate::repo::StoreError::NotFound,
                    ) => None,
                    Err(e) => return Err(e.into()),
                };
                facts.persisted = Some(t);
            }
            Need::AgentQueue => facts.queue = Some(self.queue_facts(&req.call_sid).await?),
            Need::LeaveQueue(result) => {
                let now = self.clock.now_ms();
                self.store.queue_left(&req.call_sid, result, now).await?;
                tracing::info!(call_sid = %req.call_sid, result = %result, "left the agent queue");
                facts.left_queue = true;
            }
            Need::CallPath => {
                let steps = self.store.call(&req.call_sid).await?.map(|c| c.steps);
                facts.path = Some(steps.unwrap_or_default());
            }
        }
        Ok(())
    }

    /// The agent queue as a caller asking for a person finds it now.
    async fn queue_facts(&self, call_sid: &str) -> Result<QueueFacts, StepError> {
        let now = self.clock.now_ms();
        let a = &self.cfg.agents;
        let (tz, cal) = (self.desk.tz, self.desk.calendar.as_ref());
        let waiting = self
            .store
            .queue_waiting(now - STALE_MS)
            .await?
            .iter()
            .filter(|c| c.call_sid != call_sid)
            .count();
        let waiting = i64::try_from(waiting).unwrap_or(i64::MAX);
        let entered_at = self.store.queue_call(call_sid).await?.map(|c| c.entered_at);
        Ok(QueueFacts {
            open: a.hours.contains(now, tz, cal),
            next_open: a.hours.next_open(now, tz, cal),
            waiting,
            expected_secs: expected_wait_secs(
                waiting.saturating_add(1),
                0,
                0,
                a.handle_secs,
                a.on_duty,
            ),
            entered_at,
        })
    }

    /// The locale to apologise in when a step fails.
    pub fn locale_of(&self, req: &StepRequest) -> Locale {
        match &req.state {
            StepState::Inbound(s) => s.as_ref().map_or(self.cfg.default_locale, |s| s.locale),
            StepState::Survey { state, .. } => state.locale,
        }
    }
}

/// A wait request of the agent queue, parsed by the adapter.
#[derive(Debug, Clone)]
pub struct QueueWait {
    pub call_sid: String,
    pub from_number: String,
    /// The caller's language, carried in the wait URL.
    pub locale: Locale,
    /// The caller's place in line, when the carrier said (it does on its own wait requests,
    /// not on the answer to the wait document's gather).
    pub position: Option<i64>,
    /// What callers of this queue have waited on average, seconds.
    pub avg_queue_secs: i64,
    /// What this caller has waited so far, seconds.
    pub waited_secs: i64,
    /// The key pressed at the wait document's gather, when this request answers it.
    pub pressed: Option<String>,
}

/// Agents and the agent queue: what the adapter's queue, agent-line, whisper and click-to-call
/// webhooks answer. The flows say what is heard; these fetch what they need and record the
/// queue.
impl StepService {
    /// What a waiting caller hears. Records where they are in line; failing to record never
    /// takes the caller out of the queue, so errors are logged and the wait goes on.
    pub async fn queue_wait(&self, w: &QueueWait) -> Vec<Verb> {
        if let Some(verbs) = agent_flows::wait_key(w.pressed.as_deref()) {
            tracing::info!(call_sid = %w.call_sid, "a waiting caller chose a callback");
            return verbs;
        }
        let a = &self.cfg.agents;
        let known = self
            .store
            .queue_call(&w.call_sid)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(call_sid = %w.call_sid, error = %e, "reading the queue failed");
                None
            });
        let (position, expected_secs) = match w.position {
            Some(position) => {
                let expected = expected_wait_secs(
                    position,
                    w.avg_queue_secs,
                    w.waited_secs,
                    a.handle_secs,
                    a.on_duty,
                );
                self.record_waiting(w, known.as_ref(), position, expected)
                    .await;
                (position, expected)
            }
            // The answer to the gather: the place last reported.
            None => match &known {
                Some(k) => (k.position, k.expected_secs),
                None => (1, expected_wait_secs(1, 0, 0, a.handle_secs, a.on_duty)),
            },
        };
        agent_flows::wait(
            &self.catalog,
            w.locale,
            position,
            expected_secs,
            &a.hold_music,
        )
    }

    async fn record_waiting(
        &self,
        w: &QueueWait,
        known: Option<&crate::agents::queue::QueueCall>,
        position: i64,
        expected_secs: i64,
    ) {
        // The account is the call's; read once, when the caller first shows up.
        let account_id = match known {
            Some(k) => k.account_id,
            None => match self.store.call(&w.call_sid).await {
                Ok(c) => c.and_then(|c| c.account_id),
                Err(e) => {
                    tracing::warn!(call_sid = %w.call_sid, error = %e, "reading the call failed");
                    None
                }
            },
        };
        let seen = QueueSeen {
            call_sid: w.call_sid.clone(),
            account_id,
            from_number: w.from_number.clone(),
            locale: w.locale.tag().to_string(),
            at: self.clock.now_ms(),
            position,
            expected_secs,
        };
        if let Err(e) = self.store.queue_seen(&seen).await {
            tracing::error!(call_sid = %w.call_sid, error = %e, "recording a waiting caller failed");
        }
    }

    /// What a waiting caller hears as an agent takes them.
    pub fn queue_bridge(&self, locale: Locale) -> Vec<Verb> {
        agent_flows::bridge(&self.catalog, locale)
    }

    /// The agent line: an active agent calling from their phone hears about the first waiting
    /// caller and is connected to them; anyone else is refused.
    pub async fn agent_line(
        &self,
        call_sid: &str,
        from: &str,
        input: &CallInput,
    ) -> Result<Vec<Verb>, StepError> {
        let Some(agent) = self.agent_by_number(from).await? else {
            tracing::warn!(from = %mask_number(from), "refused a caller on the agent line");
            return Ok(agent_flows::agent_refused(
                &self.catalog,
                self.cfg.default_locale,
            ));
        };
        let l = agent.locale;
        if *input == CallInput::Timeout {
            return Ok(agent_flows::agent_bye(&self.catalog, l));
        }
        let now = self.clock.now_ms();
        let Some(caller) = self.store.queue_offer(call_sid, now - STALE_MS).await? else {
            return Ok(agent_flows::agent_idle(&self.catalog, l));
        };
        let text = self
            .whisper_text(&caller.call_sid, caller.account_id, &caller.from_number, l)
            .await?;
        tracing::info!(agent = %agent.login, caller = %caller.call_sid, "an agent takes a waiting caller");
        let caller_locale = Locale::parse(&caller.locale).unwrap_or(self.cfg.default_locale);
        Ok(agent_flows::agent_take(
            text,
            l,
            &self.cfg.agents.queue,
            caller_locale,
        ))
    }

    /// The whisper of a transfer in dial mode, for the agent answering at `agent_number`.
    pub async fn transfer_whisper(
        &self,
        caller_sid: &str,
        agent_number: &str,
    ) -> Result<Vec<Verb>, StepError> {
        let l = self.agent_locale(agent_number).await?;
        let text = self.whisper_text(caller_sid, None, "", l).await?;
        Ok(agent_flows::whisper_only(text, l))
    }

    /// The agent's leg of a click-to-call answered: the case in a sentence, then the customer.
    pub async fn connect(
        &self,
        escalation_id: i64,
        agent_number: &str,
    ) -> Result<Vec<Verb>, StepError> {
        let l = self.agent_locale(agent_number).await?;
        let Some(e) = self.store.escalation(escalation_id).await? else {
            tracing::warn!(
                escalation = escalation_id,
                "click-to-call for an unknown case"
            );
            return Ok(agent_flows::connect_unknown(&self.catalog, l));
        };
        let name = match e.account_id {
            Some(id) => self.store.account(id).await?.map(|a| a.name),
            None => None,
        };
        Ok(agent_flows::connect(
            &self.catalog,
            l,
            &e,
            name.as_deref(),
            self.cfg.callbacks.from_number.as_deref(),
        ))
    }

    /// The active agent whose phone `number` is.
    async fn agent_by_number(
        &self,
        number: &str,
    ) -> Result<Option<crate::agents::Agent>, StepError> {
        let Some(n) = normalize_number(number) else {
            return Ok(None);
        };
        Ok(self.store.agent_by_phone(&n).await?.filter(|a| a.active))
    }

    /// The language of the agent at `number`, or the hotline's default for an unknown one.
    async fn agent_locale(&self, number: &str) -> Result<Locale, StepError> {
        Ok(self
            .agent_by_number(number)
            .await?
            .map_or(self.cfg.default_locale, |a| a.locale))
    }

    /// What an agent is told about the caller of `caller_sid`, in `locale`.
    async fn whisper_text(
        &self,
        caller_sid: &str,
        account_id: Option<i64>,
        from: &str,
        locale: Locale,
    ) -> Result<String, StepError> {
        let now = self.clock.now_ms();
        let call = self.store.call(caller_sid).await?;
        let account = match account_id.or_else(|| call.as_ref().and_then(|c| c.account_id)) {
            Some(id) => self.store.account(id).await?,
            None => None,
        };
        let tickets = match &account {
            Some(a) => {
                let filter = TicketFilter {
                    account_no: Some(a.account_no.clone()),
                    now,
                    limit: 20,
                    ..TicketFilter::default()
                };
                self.store.list_tickets(&filter).await?.tickets
            }
            None => Vec::new(),
        };
        let from = match (&call, from.is_empty()) {
            (Some(c), true) => c.from_number.clone(),
            _ => from.to_string(),
        };
        let steps = call.map(|c| c.steps).unwrap_or_default();
        let info = CallerInfo {
            account: account.as_ref(),
            from_number: &from,
            steps: &steps,
            tickets: &tickets,
        };
        Ok(agent_flows::whisper(
            &self.catalog,
            locale,
            self.desk.tz,
            now,
            &info,
        ))
    }
}

/// A calling number as lines are stored: digits with an optional leading `+`. Anonymous,
/// client and SIP callers have no number to look up.
pub fn normalize_number(raw: &str) -> Option<String> {
    let t = raw.trim();
    let (plus, rest) = match t.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let digits: String = rest
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    if digits.is_empty() || digits.len() > 20 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(if plus { format!("+{digits}") } else { digits })
}

#[cfg(test)]
mod tests {
    use super::normalize_number;

    #[test]
    fn normalizes_calling_numbers() {
        assert_eq!(
            normalize_number("+86 138-0000-0001").as_deref(),
            Some("+8613800000001")
        );
        assert_eq!(normalize_number("anonymous"), None);
        assert_eq!(normalize_number("client:alice"), None);
        assert_eq!(normalize_number("sip:a@b"), None);
        assert_eq!(normalize_number(""), None);
    }
}
