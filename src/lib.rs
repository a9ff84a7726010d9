//! `hotline`: a telecom operator's customer hotline on a public telephony API.
//!
//! Modules in dependency order; each domain module opens with the rules it keeps.

pub mod agents; // agents and supervisors: sign-in, sessions, the agent queue
pub mod billing; // bills and where they come from
pub mod calendar; // working days: weekends, holidays, adjusted working days
pub mod callbacks; // outbound calls owed to customers: campaigns, ledger, dialer
pub mod calls; // call history and the step service that drives the flows
pub mod clock; // the time, fakeable in tests
pub mod config; // settings from file and environment, secrets redacted
pub mod customers; // accounts, lines, PINs
pub mod demo; // demo customers for `serve --demo`
pub mod escalations; // what people must finish: one queue, one owner each
pub mod flows; // the IVR as pure functions: state and input in, verbs and state out
pub mod http; // the web layer: router, state, Twilio webhooks, API under /api/v1, console, server
#[cfg(test)]
mod layer_guard; // the layer order, checked against every `crate::` path
pub mod lockout; // locks against guessing PINs and passwords, checked atomically in the store
pub mod prompts; // what callers hear: catalogs per locale, spoken formatting
pub mod repo; // what the domain needs stored: the sum of each module's repository trait
pub mod reports; // figures for managers, each with its definition and denominator
pub mod secret; // tokens and keys: used, never shown
pub mod store; // all SQL: SQLite and PostgreSQL
pub mod surveys; // survey scripts, scoring and satisfaction figures
pub mod telephony; // provider-neutral call model; the Twilio adapter
pub mod text; // text from outside the hotline cannot keep: cleaned or refused
pub mod tickets; // fault reports, orders, complaints: life cycle, deadlines, history
pub mod webhooks; // ticket events sent to subscribers, signed, retried, never lost
