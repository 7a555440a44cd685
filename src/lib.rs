//! 환불 — a merchant-side PortOne refund service, over PortOne's V1 and V2 APIs.
//!
//! Layout: `app` and `pages` are the UI, rendered on the server; `islands` the few parts that
//! run in the browser; `api` holds the server functions (the browser's API surface); `model`
//! the types both halves share; `server` everything that only runs on the server: database,
//! sessions, the refund pipeline, and the gateway over the PortOne clients
//! (`crates/portone-v1`, `crates/portone-v2`). The PortOne simulator is `crates/portone-sim`.

pub mod api;
pub mod app;
pub mod error;
pub mod islands;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod server;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
