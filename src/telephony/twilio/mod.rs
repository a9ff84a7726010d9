//! The Twilio adapter: TwiML out, signed form webhooks in.
//!
//! Rules: only this module knows Twilio's wire format. `twiml` renders the neutral `Verb`s,
//! `signature` checks `X-Twilio-Signature` over the exact public URL (the web layer's
//! `http::twilio` serves the endpoints Twilio calls with them), `validate` is the strict TwiML checker every rendered document
//! must pass, and `simulator` plays Twilio's part over real HTTP for the end-to-end tests and
//! the `hotline dial` softphone. `fake_api`, a fake of Twilio's REST API for the tests, is
//! built only with the `testing` feature (the tests and examples turn it on).

#[cfg(feature = "testing")]
pub mod fake_api;
pub mod paths;
pub mod rest;
pub mod signature;
pub mod simulator;
pub mod twiml;
pub mod validate;
