//! The domain's records with defaults, to be completed with struct update syntax:
//! `NewTicket { description: "no dial tone".into(), ..fixtures::ticket(TicketKind::Fault) }`.
//! A test names the fields it is about; the rest are here, once.

use hotline::agents::{NewAgent, Role};
use hotline::callbacks::policy::RetryPolicy;
use hotline::callbacks::window::CallingWindow;
use hotline::callbacks::{NewCallback, NewCampaign};
use hotline::calls::step::{Effect, NewCall, StepWrite};
use hotline::customers::{Account, AccountWrite, CustomerClass, Line, LineKind};
use hotline::prompts::Locale;
use hotline::surveys::script::{Purpose, Script};
use hotline::tickets::{Channel, NewTicket, TicketKind};

use super::app::START_MS;
use super::demo::HOTLINE;

/// A ticket of `kind` opened through the API by "crm": no account, no line, no callback
/// number, and the deadline the service levels give it.
pub fn ticket(kind: TicketKind) -> NewTicket {
    NewTicket {
        kind,
        account_id: None,
        line_number: None,
        line_kind: None,
        customer_class: None,
        channel: Channel::Api,
        category: None,
        description: String::new(),
        callback_number: None,
        deadline_at: None,
        deadline_estimated: false,
        recording: None,
        address: None,
        actor: "crm".into(),
        origin: None,
    }
}

/// A ticket of `kind` that the customer of `account` reports by phone about `line`, to be
/// called back on it.
pub fn reported(kind: TicketKind, account: &Account, line: &Line) -> NewTicket {
    NewTicket {
        account_id: Some(account.id),
        line_number: Some(line.number.clone()),
        line_kind: Some(line.kind),
        customer_class: Some(account.customer_class),
        channel: Channel::Phone,
        callback_number: Some(line.number.clone()),
        actor: "caller".into(),
        ..ticket(kind)
    }
}

pub fn line(number: &str, kind: LineKind) -> Line {
    Line {
        number: number.into(),
        kind,
        label: None,
    }
}

/// A residential account `no` with a phone line for each of `phones`, no language, PIN or
/// bill.
pub fn account(no: &str, phones: &[&str]) -> AccountWrite {
    AccountWrite {
        account_no: no.into(),
        name: format!("Customer {no}"),
        language: None,
        customer_class: CustomerClass::Residential,
        pin_hash: None,
        address: None,
        lines: phones.iter().map(|n| line(n, LineKind::Phone)).collect(),
        bill: None,
    }
}

/// An agent named by their login, with no phone, in English, whose password hash is a
/// placeholder no password matches (hashing a real one is slow: `console::add_agent` does).
pub fn agent(login: &str, role: Role) -> NewAgent {
    NewAgent {
        login: login.into(),
        name: login.into(),
        role,
        phone: None,
        locale: Locale::EnUs,
        password_hash: "x".into(),
    }
}

/// A campaign for `purpose` with its built-in script, the default calling window and retries,
/// from the hotline's number, one call a second, from the test's start.
pub fn campaign(name: &str, purpose: Purpose) -> NewCampaign {
    NewCampaign {
        name: name.into(),
        purpose,
        script: Script::builtin(purpose),
        window: CallingWindow::default(),
        retry: RetryPolicy::default(),
        pace_ms: 1000,
        from_number: HOTLINE.into(),
        starts_at: START_MS,
        ends_at: None,
        standing: false,
        delay_minutes: 0,
        quiet_days: 0,
    }
}

/// A callback from a list (no account, no ticket) to `number` in Shanghai, in English.
pub fn callback(
    campaign_id: i64,
    source: impl Into<String>,
    number: impl Into<String>,
    due_at: i64,
) -> NewCallback {
    NewCallback {
        campaign_id,
        account_id: None,
        ticket_id: None,
        source: source.into(),
        to_number: number.into(),
        timezone: "Asia/Shanghai".into(),
        locale: Locale::EnUs,
        due_at,
        why: "on a test list".into(),
    }
}

/// The step of survey call `sid` that records `effects` (its answers), the call's first.
pub fn survey_step(sid: &str, at: i64, effects: Vec<Effect>) -> StepWrite {
    StepWrite {
        call_sid: sid.into(),
        seq: 0,
        new_call: Some(NewCall {
            direction: "outbound-api".into(),
            from_number: HOTLINE.into(),
            to_number: "+8613900000000".into(),
        }),
        node: "survey".into(),
        input: String::new(),
        said: String::new(),
        response: "<Response/>".into(),
        at,
        effects,
    }
}
