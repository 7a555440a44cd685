//! Tracing set up once per process. `RUST_LOG` overrides the default filter.

pub fn init(default_filter: &str) {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = fmt().with_env_filter(filter).with_target(true).try_init();
}

/// rustls needs one process-wide crypto provider; ring builds without a C toolchain for cmake.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
