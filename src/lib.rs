//! `hotline`: a telecom operator's customer hotline on a public telephony API.
//!
//! Modules in dependency order; each domain module opens with the rules it keeps.

pub mod config; // settings from file and environment, secrets redacted
pub mod prompts; // what callers hear: catalogs per locale, spoken formatting
pub mod telephony; // provider-neutral call model; the Twilio adapter
pub mod customers; // accounts, lines, PINs
pub mod billing; // bills and where they come from
pub mod calls; // call history and the step service that drives the flows
pub mod store; // all SQL: SQLite and PostgreSQL
pub mod flows; // the IVR as pure functions: state and input in, verbs and state out
pub mod api; // JSON API under /api/v1
pub mod app; // state, router, server
pub mod demo; // demo customers for `serve --demo`
