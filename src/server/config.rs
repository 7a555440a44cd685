//! Configuration as a typed struct, read once from the environment (and a `.env` file).

use std::time::Duration;

use crate::server::portone::{ImpSecret, PortOneConfig};
use crate::server::refund::PipelineSettings;

#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: String,
    pub portone: PortOneConfig,
    /// Secure cookies: on unless the site is served from loopback.
    pub cookie_secure: bool,
    /// How often the reconciler looks for refunds whose outcome is unknown.
    pub reconcile_interval: Duration,
    /// Refund pipeline tunables, the attempt lease among them.
    pub pipeline: PipelineSettings,
    /// A refund pending longer than this shows as 지연 (delayed) to admins.
    pub pending_alert_after: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn secs(name: &str, default: f64) -> Result<Duration, ConfigError> {
    match var(name) {
        None => Ok(Duration::from_secs_f64(default)),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|s| *s >= 0.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| ConfigError(format!("{name} must be a number of seconds"))),
    }
}

impl Settings {
    pub fn from_env(site_addr: &std::net::SocketAddr) -> Result<Settings, ConfigError> {
        let _ = dotenvy::dotenv();
        let database_url = var("DATABASE_URL").ok_or_else(|| ConfigError("DATABASE_URL is not set".into()))?;
        let portone = PortOneConfig {
            base_url: var("PORTONE_API_URL").unwrap_or_else(|| "http://127.0.0.1:3100".into()),
            imp_key: var("PORTONE_IMP_KEY").unwrap_or_else(|| crate::server::sim::DEMO_IMP_KEY.into()),
            imp_secret: ImpSecret::new(
                var("PORTONE_IMP_SECRET").unwrap_or_else(|| crate::server::sim::DEMO_IMP_SECRET.into()),
            ),
            connect_timeout: secs("PORTONE_CONNECT_TIMEOUT_SECS", 5.0)?,
            request_timeout: secs("PORTONE_TIMEOUT_SECS", 30.0)?,
            deadline: secs("PORTONE_DEADLINE_SECS", 70.0)?,
        };
        // The lease must outlast an attempt's deadline plus the time PortOne may still take to
        // apply a cancel we stopped waiting for; otherwise the reconciler could resend while
        // the first cancel is still being applied.
        let lease = secs("REFUND_LEASE_SECS", portone.deadline.as_secs_f64() + 50.0)?;
        if lease <= portone.deadline {
            return Err(ConfigError("REFUND_LEASE_SECS must be longer than PORTONE_DEADLINE_SECS".into()));
        }
        let customer_requests_per_minute = match var("REFUND_REQUESTS_PER_MINUTE") {
            None => PipelineSettings::default().customer_requests_per_minute,
            Some(v) => v.parse().map_err(|_| ConfigError("REFUND_REQUESTS_PER_MINUTE must be a whole number".into()))?,
        };
        let cookie_secure = match var("COOKIE_SECURE").as_deref() {
            Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(_) => return Err(ConfigError("COOKIE_SECURE must be true or false".into())),
            None => !site_addr.ip().is_loopback(),
        };
        Ok(Settings {
            database_url,
            portone,
            cookie_secure,
            reconcile_interval: secs("RECONCILE_INTERVAL_SECS", 30.0)?,
            pipeline: PipelineSettings { lease, customer_requests_per_minute, ..PipelineSettings::default() },
            pending_alert_after: secs("PENDING_ALERT_SECS", 600.0)?,
        })
    }
}
