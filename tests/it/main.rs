//! Every integration test in one binary: each test gets its own fresh Postgres database
//! (`#[sqlx::test]`) and the app and the simulator on random ports; one binary links the app
//! once instead of once per file.

mod common;

mod admin;
mod approval;
mod exactly_once;
mod foundation;
mod fuzz;
mod hardening;
mod ledger;
mod operations;
mod parsers;
mod portone;
mod portone_v2;
mod refund;
mod shop;
mod shop_events;
mod statements;
mod tax;
mod totals;
mod v2_refunds;
mod webhooks;
