//! Click-to-call: an agent calls a customer back from the console.
//!
//! Rules: the carrier first rings the agent's own phone; when they answer they hear which case
//! it is, and the customer is dialed from the hotline's number (`callbacks.from_number`), so
//! the customer sees the number they know. Only someone who may work the escalation may call,
//! and the call is recorded in its history, with the number masked.

use super::Agent;
use crate::config::Config;
use crate::escalations::service::{ActError, Escalations};
use crate::escalations::{EscAction, Escalation, apply};
use crate::telephony::{DialError, Dialer, Hook, NextStep, OutboundCall, mask_number};

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("set your phone number first: the call rings your phone, then the customer's")]
    NoAgentPhone,
    #[error("this case has no number to call back")]
    NoCustomerNumber,
    #[error("no hotline number to call from is configured (callbacks.from_number)")]
    NoFromNumber,
    #[error("no telephony account is configured, so calls cannot be placed")]
    NoCarrier,
    #[error("{0}")]
    Refused(#[from] ActError),
    #[error("the carrier did not place the call: {0}")]
    Carrier(#[from] DialError),
}

/// Rings `agent`'s phone and, once answered, the customer of escalation `id`; records the call.
pub async fn call_customer(
    escalations: &Escalations,
    dialer: &dyn Dialer,
    cfg: &Config,
    id: i64,
    agent: &Agent,
) -> Result<Escalation, CallError> {
    let store = &escalations.store;
    let e = store
        .escalation(id)
        .await
        .map_err(ActError::from)?
        .ok_or(ActError::NotFound(id))?;
    let customer = e
        .callback_number
        .clone()
        .ok_or(CallError::NoCustomerNumber)?;
    let agent_phone = agent.phone.clone().ok_or(CallError::NoAgentPhone)?;
    let from = cfg
        .callbacks
        .from_number
        .clone()
        .ok_or(CallError::NoFromNumber)?;
    if cfg.twilio.account_sid.is_empty() {
        return Err(CallError::NoCarrier);
    }
    // Refuse before ringing anyone when the agent may not work this case.
    let detail = crate::escalations::SystemDetail::Called {
        agent: agent.login.clone(),
        number: mask_number(&customer),
    }
    .to_string();
    let action = EscAction::Call { detail };
    // A call changes nothing about the ticket, so the rules need not see it.
    apply(&e, None, agent, &action, escalations.clock.now_ms()).map_err(ActError::from)?;
    let call = OutboundCall {
        to: agent_phone,
        from,
        answer: NextStep::new(Hook::Connect, format!("e={id}")),
        status: NextStep::new(Hook::Status, ""),
        ring_secs: cfg.callbacks.ring_secs,
        detect_machine: false,
    };
    let placed = dialer.place(&call).await?;
    tracing::info!(escalation = id, by = %agent.login, call = %placed.id, "click-to-call placed");
    Ok(escalations.act(id, agent, &action).await?)
}
