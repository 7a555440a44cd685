//! Logs: set up once per process. `RUST_LOG` overrides the default filter; `LOG_FORMAT=json`
//! writes one JSON object per line with the fields of every enclosing span, so each line of a
//! request carries its `request_id` and each line of the refund pipeline its `refund_id`.
//! Secrets never reach a log: the PortOne secrets (`ImpSecret`, `ApiSecret`) print as `***`,
//! the webhook and shop-login secrets have a redacting Debug; refund accounts are logged masked.

use axum::http::Request;

pub fn init(default_filter: &str) {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    if std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json") {
        let _ = fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(false)
            .with_span_list(true)
            .try_init();
    } else {
        let _ = fmt().with_env_filter(filter).with_target(true).try_init();
    }
}

/// rustls needs one process-wide crypto provider; ring builds without a C toolchain for cmake.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The span around everything a request logs, named by the request id that
/// `SetRequestIdLayer` took from the proxy's `X-Request-Id` or made fresh.
pub fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
    tracing::info_span!("request", request_id = %id, method = %request.method())
}
