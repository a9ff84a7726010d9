//! The step service: runs one step of a call through the flows, fetching the facts they ask
//! for, and records it (with its effects) before the answer leaves.
//!
//! Provider-neutral: the adapter hands in the parsed request and a renderer for its markup;
//! the rendered body is what is stored, so a retried request gets the same bytes back.

use std::sync::Arc;

use crate::billing::source::BillingSource;
use crate::clock::Clock;
use crate::config::Config;
use crate::customers::pin;
use crate::flows::survey::{SurveyInfo, SurveyState};
use crate::flows::{self, Ctx, Facts, FlowState, Need, Outcome};
use crate::prompts::{Catalog, Locale};
use crate::store::{NewCall, StepOutcome, StepWrite, StepWriter, Store, StoreError};
use crate::telephony::{CallInput, Verb, mask_number};
use crate::tickets::desk::Desk;
use crate::tickets::{Action, Channel, NewTicket, Origin};

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
                let ctx = self.ctx(now, caller.as_deref());
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

    fn ctx<'a>(&'a self, now: i64, caller_number: Option<&'a str>) -> Ctx<'a> {
        Ctx {
            catalog: &self.catalog,
            agent: self.cfg.agent_number.as_deref(),
            default_locale: self.cfg.default_locale,
            pin_max_failures: self.cfg.pin.max_failures,
            pin_lock_minutes: self.cfg.pin.lock_minutes,
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
        let ctx = self.ctx(now, caller.as_deref());
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
            Need::AccountByNo(no) => facts.account = Some(self.store.account_by_no(no).await?),
            Need::PinCheck { pin } => {
                let hash = facts
                    .account
                    .as_ref()
                    .and_then(|a| a.as_ref()?.pin_hash.clone());
                facts.pin_ok = Some(match hash {
                    Some(h) => pin::verify_async(pin.clone(), h).await,
                    None => false,
                });
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
                    recording: r.recording.clone(),
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
                        crate::store::StoreError::Transition(_)
                        | crate::store::StoreError::NotFound,
                    ) => None,
                    Err(e) => return Err(e.into()),
                };
                facts.persisted = Some(t);
            }
        }
        Ok(())
    }

    /// The locale to apologise in when a step fails.
    pub fn locale_of(&self, req: &StepRequest) -> Locale {
        match &req.state {
            StepState::Inbound(s) => s.as_ref().map_or(self.cfg.default_locale, |s| s.locale),
            StepState::Survey { state, .. } => state.locale,
        }
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
