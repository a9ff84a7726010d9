//! Support shared by the integration tests' modules.
//!
//! Rules: every test gets its own database, so tests run in parallel and never see each
//! other's rows; nothing here cleans up a shared server (that would race parallel tests).
//! A helper two modules need lives here, once.

pub mod app;
pub mod blackhole;
pub mod callbacks;
pub mod cli;
pub mod console;
pub mod db;
pub mod demo;
pub mod fixtures;
pub mod openapi;
pub mod phone;
pub mod reports;
