//! The shop's side of the service: its server's API keys and API (`/api/v1`), the orders and
//! customers it registers, and its customers' sign-in from the shop's own pages.

pub mod api;
pub mod keys;
pub mod login;
pub mod orders;
