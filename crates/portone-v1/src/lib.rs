//! PortOne V1 REST API: typed requests and responses, and a client with a token cache.
//! See `types` for the wire format and `client` for the error classes a caller must tell
//! apart (`PortOneError::outcome_unknown`).

mod client;
mod text;
mod types;

pub use client::{ImpSecret, PortOneClient, PortOneConfig, PortOneError};
pub use text::PaymentText;
pub use types::*;
