//! Pages, one module each. They render on the server and hydrate in the browser.

pub mod admin;
pub mod login;
pub mod not_found;
pub mod order;
pub mod orders;
