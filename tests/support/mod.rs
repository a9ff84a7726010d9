//! Support shared by the integration test binaries (`mod support;` in each).
//!
//! Rules: every test gets its own database, so tests run in parallel and never see each
//! other's rows; nothing here cleans up a shared server (that would race parallel tests).

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod app;
pub mod blackhole;
pub mod console;
pub mod db;
