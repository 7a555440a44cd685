//! PortOne V2 REST API: typed payments and cancellations (`types`), and a client (`client`)
//! whose error classes say whether a cancel may have been applied
//! (`PortOneV2Error::outcome_unknown`) and which sends the refund's own `Idempotency-Key`, so
//! a resend can never apply twice.

mod client;
mod types;
mod webhook;

pub use client::{ApiSecret, IdempotencyKey, PortOneV2Client, PortOneV2Config, PortOneV2Error};
pub use types::*;
pub use webhook::{WebhookData, WebhookEvent, WebhookRefusal, WebhookType, WebhookVerifier};
