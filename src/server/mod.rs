//! Everything that only runs on the server. Nothing in here reaches the WASM bundle.

pub mod actor;
pub mod admin;
pub mod admins;
pub mod application;
pub mod auth;
pub mod banks;
pub mod coalesce;
pub mod config;
pub mod csrf;
pub mod db;
pub mod error;
pub mod fn_status;
pub mod gateway;
pub mod headers;
pub mod health;
pub mod metrics;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod pg;
pub mod refund;
pub mod refund_totals;
pub mod router;
pub mod seed_api;
pub mod sessions;
pub mod shop;
pub mod state;
pub mod telemetry;
pub mod tokens;
pub mod totp;
pub mod webhook;
pub mod webhook_v2;

pub use state::AppState;
