//! The integration tests, in one binary: a module per area, `support` shared by all.
//!
//! One binary links the library once instead of once per file, and lets the slow tests of
//! one area overlap those of another.
//!
//! Rules: all tests share one process and run in parallel, so none may change what is
//! process-wide: no `std::env::set_var` (configuration goes into the `Config` a test
//! builds), no change of the current directory, no fixed port (bind `127.0.0.1:0`), and
//! every test gets its own database (`support::db`).

mod support;

mod agents_phone;
mod browser;
mod calendar;
mod callbacks;
mod campaigns_api;
mod cli_pipe;
mod cluster;
mod console;
mod deploy;
mod dial;
mod dialer_crash;
mod e2e;
mod escalations;
mod http_limits;
mod reports;
mod reports_callbacks;
mod reports_rollup;
mod reports_tickets;
mod store;
mod tickets_api;
mod tickets_phone;
mod twilio_rest;
mod webhooks;
