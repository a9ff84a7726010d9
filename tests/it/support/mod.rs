//! Support shared by the integration tests' modules.
//!
//! Rules: every test gets its own database, so tests run in parallel and never see each
//! other's rows; nothing here cleans up a shared server (that would race parallel tests).

pub mod app;
pub mod blackhole;
pub mod console;
pub mod db;
