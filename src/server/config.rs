//! Configuration as a typed struct, read once from the environment (and a `.env` file).
//!
//! It fails closed: only the explicit development setting (`DEV_MODE=1`, what `make run` and
//! the tests use) lets the app start without PortOne credentials, talk to the simulator over
//! plain HTTP, send cookies without `Secure`, or import test-mode payments.

use std::time::Duration;

use crate::server::refund::PipelineSettings;
use portone_v1::{ImpSecret, PortOneConfig};

#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    /// PortOne V1 (`PORTONE_IMP_KEY`, …); `None` for a shop on V2 alone.
    pub portone: Option<PortOneConfig>,
    /// `DEV_MODE=1`: the development setting.
    pub development: bool,
    /// The site's public origin (`https://shop.example`), as browsers see it behind any
    /// proxy: the origin every state-changing request must come from, and HSTS when https.
    pub public_url: Option<String>,
    /// Secure cookies (with the `__Host-` name): always, except under the development setting.
    pub cookie_secure: bool,
    /// Import and sync PortOne test-mode (sandbox) payments: the demo's setting only.
    pub allow_test_payments: bool,
    /// Proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES=10.0.0.2,10.0.0.3`);
    /// without them a client's address is the socket's.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// How often the reconciler looks for refunds whose outcome is unknown.
    pub reconcile_interval: Duration,
    /// Refund pipeline tunables, the attempt lease among them.
    pub pipeline: PipelineSettings,
    /// A refund pending longer than this shows as 지연 (delayed) to admins.
    pub pending_alert_after: Duration,
    /// Where `/metrics` listens (`METRICS_ADDR`, default loopback only, so never public by
    /// accident); `off` serves none.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// After SIGTERM, how long in-flight requests may take before the process exits anyway.
    pub shutdown_grace: Duration,
    /// `OWNER_FROM_BUYER_EMAIL=1`: a payment no order registration names goes to the account
    /// whose e-mail the payer typed (on under `DEV_MODE`, for the demo; off otherwise: what a
    /// payer types proves nothing).
    pub owner_from_buyer_email: bool,
    /// `SHOP_LOGIN_SECRET`: the HS256 key the shop signs `/shop-login` tokens with; without
    /// it, `/shop-login` refuses every token.
    pub shop_login_secret: Option<ShopLoginSecret>,
    /// `CUSTOMER_PASSWORD_LOGIN=off`: customers sign in only through the shop.
    pub customer_password_login: bool,
    /// Requests one API key may make per minute (`API_REQUESTS_PER_MINUTE`).
    pub api_requests_per_minute: i64,
    /// `PORTONE_WEBHOOK_ALLOW`: the addresses (or networks) the webhook is taken from; empty:
    /// any (what it says is only a hint, re-read from PortOne).
    pub webhook_allow: Vec<ipnet::IpNet>,
    /// The sweep that re-reads payments so nothing depends on one webhook.
    pub sweep: SweepSettings,
    /// Events out to the shop: the retry schedule, timeout and concurrency of deliveries
    /// (`SHOP_WEBHOOK_RETRY_SCHEDULE_SECS`, `SHOP_WEBHOOK_TIMEOUT_SECS`,
    /// `SHOP_WEBHOOK_CONCURRENCY`).
    pub shop_webhooks: crate::server::outbox::deliver::DeliverySettings,
    /// PortOne V2 (`PORTONE_V2_SECRET`, …), when the shop has V2 credentials: its client's
    /// settings and the `whsec_…` secret its webhooks are signed with.
    pub portone_v2: Option<PortOneV2Settings>,
}

#[derive(Clone, Debug)]
pub struct PortOneV2Settings {
    pub client: portone_v2::PortOneV2Config,
    /// `PORTONE_V2_WEBHOOK_SECRET`; never printed.
    pub webhook_secret: Option<WebhookSecret>,
}

/// PortOne V2's `whsec_…` webhook secret: never printed.
#[derive(Clone)]
pub struct WebhookSecret(pub String);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

/// The simulator's V2 address and demo secrets: development defaults only.
const SIMULATOR_V2_URL: &str = "http://127.0.0.1:3101";

/// How long a PortOne call may take, in either version (`PORTONE_*_SECS`).
struct Timeouts {
    connect: Duration,
    request: Duration,
    deadline: Duration,
}

/// V2 is on when `PORTONE_V2_SECRET` is set; its URL must be https outside `DEV_MODE`, its
/// timeouts are V1's, and a webhook secret must be one the verifier can use.
fn portone_v2_settings(
    var: impl Fn(&str) -> Option<String>,
    development: bool,
    timeouts: &Timeouts,
) -> Result<Option<PortOneV2Settings>, ConfigError> {
    let Some(secret) = var("PORTONE_V2_SECRET") else {
        if var("PORTONE_V2_WEBHOOK_SECRET").is_some() {
            return Err(ConfigError("PORTONE_V2_WEBHOOK_SECRET needs PORTONE_V2_SECRET".into()));
        }
        return Ok(None);
    };
    let default_url = if development { SIMULATOR_V2_URL } else { "https://api.portone.io" };
    let base_url = var("PORTONE_V2_API_URL").unwrap_or_else(|| default_url.into());
    if !development && !base_url.starts_with("https://") {
        return Err(ConfigError(
            "PORTONE_V2_API_URL must be an https:// URL outside DEV_MODE".into(),
        ));
    }
    let webhook_secret = match var("PORTONE_V2_WEBHOOK_SECRET") {
        None => None,
        Some(s) => {
            portone_v2::WebhookVerifier::new(&s).map_err(|_| {
                ConfigError("PORTONE_V2_WEBHOOK_SECRET must be PortOne's whsec_… secret".into())
            })?;
            Some(WebhookSecret(s))
        }
    };
    Ok(Some(PortOneV2Settings {
        client: portone_v2::PortOneV2Config {
            base_url,
            secret: portone_v2::ApiSecret::new(secret),
            store_id: var("PORTONE_V2_STORE_ID"),
            connect_timeout: timeouts.connect,
            request_timeout: timeouts.request,
            deadline: timeouts.deadline,
        },
        webhook_secret,
    }))
}

/// Which payments the sweep re-reads, and how many per pass (`src/server/refund/sweep.rs`).
#[derive(Clone, Debug)]
pub struct SweepSettings {
    /// A payment with activity (paid, cancelled, a refund asked for) this recently is re-read.
    pub recent: Duration,
    /// How long after its last read a payment is read again.
    pub every: Duration,
    /// Payments read per pass at most (each is one PortOne call).
    pub batch: i64,
}

impl Default for SweepSettings {
    fn default() -> Self {
        SweepSettings {
            recent: Duration::from_secs(7 * 24 * 3600),
            every: Duration::from_secs(15 * 60),
            batch: 50,
        }
    }
}

/// The shop-login key: never printed.
#[derive(Clone)]
pub struct ShopLoginSecret(pub String);

impl std::fmt::Debug for ShopLoginSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShopLoginSecret(…)")
    }
}

/// Never prints the database URL (it may hold a password) or the PortOne secret.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("portone", &self.portone)
            .field("development", &self.development)
            .field("public_url", &self.public_url)
            .field("cookie_secure", &self.cookie_secure)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

/// The simulator's address and demo key pair: development defaults only.
const SIMULATOR_URL: &str = "http://127.0.0.1:3100";
const DEMO_IMP_KEY: &str = "imp_demo_key";
const DEMO_IMP_SECRET: &str = "demo-secret-for-the-simulator-only";

impl Settings {
    pub fn from_env(site_addr: &std::net::SocketAddr) -> Result<Settings, ConfigError> {
        let _ = dotenvy::dotenv();
        Settings::from_vars(|name| std::env::var(name).ok(), site_addr)
    }

    /// Reads the settings through `get` (the environment, or a table in tests).
    pub fn from_vars(
        get: impl Fn(&str) -> Option<String>,
        site_addr: &std::net::SocketAddr,
    ) -> Result<Settings, ConfigError> {
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let flag = |name: &str| -> Result<Option<bool>, ConfigError> {
            match var(name).as_deref() {
                None => Ok(None),
                Some("true" | "1") => Ok(Some(true)),
                Some("false" | "0") => Ok(Some(false)),
                Some(_) => Err(ConfigError(format!("{name} must be true or false"))),
            }
        };
        let secs = |name: &str, default: f64| -> Result<Duration, ConfigError> {
            match var(name) {
                None => Ok(Duration::from_secs_f64(default)),
                Some(v) => v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1.0e9)
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| ConfigError(format!("{name} must be a number of seconds"))),
            }
        };
        let development = flag("DEV_MODE")?.unwrap_or(false);
        let database_url =
            var("DATABASE_URL").ok_or_else(|| ConfigError("DATABASE_URL is not set".into()))?;
        let required = |name: &str, dev_default: &str| -> Result<String, ConfigError> {
            match var(name) {
                Some(v) => Ok(v),
                None if development => Ok(dev_default.to_string()),
                None => Err(ConfigError(format!(
                    "{name} is not set (only DEV_MODE=1 falls back to the simulator)"
                ))),
            }
        };
        let timeouts = Timeouts {
            connect: secs("PORTONE_CONNECT_TIMEOUT_SECS", 5.0)?,
            request: secs("PORTONE_TIMEOUT_SECS", 30.0)?,
            deadline: secs("PORTONE_DEADLINE_SECS", 70.0)?,
        };
        // V1 is on under DEV_MODE (the simulator) and wherever one of its settings is given;
        // a shop on V2 alone sets none of them (and PORTONE_V2_SECRET).
        let v1_named = ["PORTONE_API_URL", "PORTONE_IMP_KEY", "PORTONE_IMP_SECRET"]
            .iter()
            .any(|name| var(name).is_some());
        let portone = if development || v1_named || var("PORTONE_V2_SECRET").is_none() {
            let base_url = required("PORTONE_API_URL", SIMULATOR_URL)?;
            if !development && !base_url.starts_with("https://") {
                return Err(ConfigError(
                    "PORTONE_API_URL must be an https:// URL outside DEV_MODE".into(),
                ));
            }
            Some(PortOneConfig {
                base_url,
                imp_key: required("PORTONE_IMP_KEY", DEMO_IMP_KEY)?,
                imp_secret: ImpSecret::new(required("PORTONE_IMP_SECRET", DEMO_IMP_SECRET)?),
                connect_timeout: timeouts.connect,
                request_timeout: timeouts.request,
                deadline: timeouts.deadline,
            })
        } else {
            None
        };
        // The lease must outlast an attempt's deadline plus the time PortOne may still take to
        // apply a cancel we stopped waiting for; otherwise the reconciler could resend while
        // the first cancel is still being applied, and both could go through. Against the
        // real PortOne that margin is at least LEASE_MARGIN; the simulator applies within the
        // delays its faults are given, so development may run tighter.
        let lease = secs("REFUND_LEASE_SECS", timeouts.deadline.as_secs_f64() + 50.0)?;
        let margin = if development { Duration::ZERO } else { LEASE_MARGIN };
        if lease <= timeouts.deadline || lease < timeouts.deadline + margin {
            return Err(ConfigError(format!(
                "REFUND_LEASE_SECS must be at least PORTONE_DEADLINE_SECS + {} s",
                margin.as_secs()
            )));
        }
        let customer_requests_per_minute = match var("REFUND_REQUESTS_PER_MINUTE") {
            None => PipelineSettings::default().customer_requests_per_minute,
            Some(v) => v.parse().map_err(|_| {
                ConfigError("REFUND_REQUESTS_PER_MINUTE must be a whole number".into())
            })?,
        };
        let public_url = var("PUBLIC_URL").map(|u| u.trim_end_matches('/').to_string());
        if let Some(url) = &public_url {
            let origin_only = url.split_once("://").is_some_and(|(scheme, rest)| {
                matches!(scheme, "http" | "https") && !rest.is_empty() && !rest.contains('/')
            });
            if !origin_only {
                return Err(ConfigError(
                    "PUBLIC_URL must be an origin such as https://shop.example".into(),
                ));
            }
        }
        let cookie_secure = match (development, flag("COOKIE_SECURE")?) {
            (true, Some(secure)) => secure,
            (true, None) => !site_addr.ip().is_loopback(),
            (false, Some(false)) => {
                return Err(ConfigError(
                    "COOKIE_SECURE=false is allowed only with DEV_MODE=1".into(),
                ))
            }
            (false, _) => true,
        };
        let allow_test_payments = match (development, flag("ALLOW_TEST_PAYMENTS")?) {
            (_, Some(allow)) => allow,
            (development, None) => development,
        };
        let trusted_proxies = match var("TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|ip| {
                    ip.trim().parse().map_err(|_| {
                        ConfigError(format!("TRUSTED_PROXIES: {ip:?} is not an IP address"))
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let metrics_addr = match var("METRICS_ADDR").as_deref() {
            Some("off") => None,
            Some(addr) => Some(addr.parse().map_err(|_| {
                ConfigError(format!(
                    "METRICS_ADDR: {addr:?} is not an address such as 127.0.0.1:9464"
                ))
            })?),
            None => Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9464))),
        };
        let shop_login_secret = match var("SHOP_LOGIN_SECRET") {
            None => None,
            // HS256's key should carry at least the hash's 256 bits
            Some(secret) if secret.len() < 32 => {
                return Err(ConfigError("SHOP_LOGIN_SECRET must be at least 32 characters".into()))
            }
            Some(secret) => Some(ShopLoginSecret(secret)),
        };
        let customer_password_login = match var("CUSTOMER_PASSWORD_LOGIN").as_deref() {
            None | Some("on" | "1" | "true") => true,
            Some("off" | "0" | "false") => false,
            Some(_) => return Err(ConfigError("CUSTOMER_PASSWORD_LOGIN must be on or off".into())),
        };
        let account_keys = var("REFUND_ACCOUNT_KEY")
            .map(|keys| crate::server::refund::sealed::AccountKeys::parse(&keys))
            .transpose()
            .map_err(ConfigError)?;
        let portone_v2 = portone_v2_settings(var, development, &timeouts)?;
        let webhook_allow = match var("PORTONE_WEBHOOK_ALLOW") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|net| !net.is_empty())
                .map(|net| {
                    net.parse::<ipnet::IpNet>()
                        .or_else(|_| net.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                        .map_err(|_| {
                            ConfigError(format!(
                                "PORTONE_WEBHOOK_ALLOW: {net:?} is not an address or network"
                            ))
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        let sweep_batch = match var("SWEEP_BATCH") {
            None => SweepSettings::default().batch,
            Some(v) => {
                v.parse().map_err(|_| ConfigError("SWEEP_BATCH must be a whole number".into()))?
            }
        };
        let sweep = SweepSettings {
            recent: secs("SWEEP_RECENT_SECS", SweepSettings::default().recent.as_secs_f64())?,
            every: secs("SWEEP_EVERY_SECS", SweepSettings::default().every.as_secs_f64())?,
            batch: sweep_batch,
        };
        let default_delivery = crate::server::outbox::deliver::DeliverySettings::default();
        let shop_webhooks = crate::server::outbox::deliver::DeliverySettings {
            retry_schedule: match var("SHOP_WEBHOOK_RETRY_SCHEDULE_SECS") {
                None => default_delivery.retry_schedule,
                Some(s) => {
                    crate::server::outbox::deliver::parse_schedule(&s).map_err(ConfigError)?
                }
            },
            timeout: secs("SHOP_WEBHOOK_TIMEOUT_SECS", default_delivery.timeout.as_secs_f64())?,
            in_flight: match var("SHOP_WEBHOOK_CONCURRENCY") {
                None => default_delivery.in_flight,
                Some(v) => v.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    ConfigError("SHOP_WEBHOOK_CONCURRENCY must be a positive whole number".into())
                })?,
            },
            poll: default_delivery.poll,
            development,
        };
        let api_requests_per_minute = match var("API_REQUESTS_PER_MINUTE") {
            None => 600,
            Some(v) => v.parse().map_err(|_| {
                ConfigError("API_REQUESTS_PER_MINUTE must be a whole number".into())
            })?,
        };
        Ok(Settings {
            owner_from_buyer_email: flag("OWNER_FROM_BUYER_EMAIL")?.unwrap_or(development),
            shop_login_secret,
            customer_password_login,
            api_requests_per_minute,
            webhook_allow,
            sweep,
            shop_webhooks,
            portone_v2,
            database_url,
            portone,
            development,
            public_url,
            cookie_secure,
            allow_test_payments,
            trusted_proxies,
            reconcile_interval: secs("RECONCILE_INTERVAL_SECS", 30.0)?,
            pipeline: PipelineSettings {
                lease,
                customer_requests_per_minute,
                account_keys,
                ..PipelineSettings::default()
            },
            pending_alert_after: secs("PENDING_ALERT_SECS", 600.0)?,
            metrics_addr,
            shutdown_grace: secs("SHUTDOWN_GRACE_SECS", 30.0)?,
        })
    }
}

/// How much longer than a PortOne call's deadline an attempt owns its refund, at least,
/// against the real PortOne: what PortOne and the PG may still take to apply a cancel after we
/// stopped waiting (`docs/operations.md`, "Sizing the lease").
pub const LEASE_MARGIN: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let table: std::collections::HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_vars(|name| table.get(name).cloned(), &"127.0.0.1:3000".parse().unwrap())
    }

    const DB: (&str, &str) = ("DATABASE_URL", "postgres://localhost/x");

    #[test]
    fn outside_development_missing_credentials_or_plain_http_stop_the_app() {
        let e = settings(&[DB]).unwrap_err().to_string();
        assert!(e.contains("PORTONE_API_URL"), "{e}");
        let e =
            settings(&[DB, ("PORTONE_API_URL", "https://api.iamport.kr")]).unwrap_err().to_string();
        assert!(e.contains("PORTONE_IMP_KEY"), "{e}");
        let real = [
            DB,
            ("PORTONE_API_URL", "http://api.iamport.kr"),
            ("PORTONE_IMP_KEY", "k"),
            ("PORTONE_IMP_SECRET", "s"),
        ];
        assert!(settings(&real).unwrap_err().to_string().contains("https"));
        let real = [
            DB,
            ("PORTONE_API_URL", "https://api.iamport.kr"),
            ("PORTONE_IMP_KEY", "k"),
            ("PORTONE_IMP_SECRET", "s"),
        ];
        let s = settings(&real).unwrap();
        // a loopback listener behind a TLS proxy still sends Secure cookies
        assert!(s.cookie_secure && !s.allow_test_payments && !s.development);
        let mut insecure = real.to_vec();
        insecure.push(("COOKIE_SECURE", "false"));
        assert!(settings(&insecure).is_err());
        assert!(!format!("{s:?}").contains("postgres://") && !format!("{s:?}").contains("\"s\""));
    }

    #[test]
    fn a_lease_shorter_than_the_deadline_plus_thirty_seconds_stops_the_app() {
        let real = [
            DB,
            ("PORTONE_API_URL", "https://api.iamport.kr"),
            ("PORTONE_IMP_KEY", "k"),
            ("PORTONE_IMP_SECRET", "s"),
            ("PORTONE_DEADLINE_SECS", "70"),
        ];
        let with = |lease: &str| {
            let mut vars = real.to_vec();
            vars.push(("REFUND_LEASE_SECS", lease));
            settings(&vars)
        };
        let e = with("99").unwrap_err().to_string();
        assert!(e.contains("PORTONE_DEADLINE_SECS + 30"), "{e}");
        assert_eq!(with("100").unwrap().pipeline.lease, Duration::from_secs(100));
        // the default: the deadline plus 50 s
        assert_eq!(settings(&real).unwrap().pipeline.lease, Duration::from_secs(120));
        // the simulator's own delays are the margin in development; never below the deadline
        let dev = [DB, ("DEV_MODE", "1"), ("PORTONE_DEADLINE_SECS", "3")];
        let mut tight = dev.to_vec();
        tight.push(("REFUND_LEASE_SECS", "5"));
        assert!(settings(&tight).is_ok());
        tight.push(("REFUND_LEASE_SECS", "3"));
        assert!(settings(&tight).is_err());
    }

    #[test]
    fn portone_v2_is_on_with_its_secret_and_fails_closed_like_v1() {
        let real = [
            DB,
            ("PORTONE_API_URL", "https://api.iamport.kr"),
            ("PORTONE_IMP_KEY", "k"),
            ("PORTONE_IMP_SECRET", "s"),
        ];
        assert!(settings(&real).unwrap().portone_v2.is_none());
        let with = |more: &[(&'static str, &'static str)]| {
            let mut vars = real.to_vec();
            vars.extend_from_slice(more);
            settings(&vars)
        };
        let v2 = with(&[("PORTONE_V2_SECRET", "v2s"), ("PORTONE_V2_STORE_ID", "store-1")])
            .unwrap()
            .portone_v2
            .unwrap();
        assert_eq!(v2.client.base_url, "https://api.portone.io");
        assert_eq!(v2.client.store_id.as_deref(), Some("store-1"));
        assert!(with(&[("PORTONE_V2_SECRET", "v2s"), ("PORTONE_V2_API_URL", "http://x")]).is_err());
        assert!(with(&[("PORTONE_V2_WEBHOOK_SECRET", "whsec_c2VjcmV0")]).is_err());
        assert!(with(&[
            ("PORTONE_V2_SECRET", "v2s"),
            ("PORTONE_V2_WEBHOOK_SECRET", "not base64!")
        ])
        .is_err());
        let s =
            with(&[("PORTONE_V2_SECRET", "v2s"), ("PORTONE_V2_WEBHOOK_SECRET", "whsec_c2VjcmV0")])
                .unwrap();
        assert!(!format!("{s:?}").contains("v2s") && !format!("{s:?}").contains("c2VjcmV0"));
        let dev = settings(&[DB, ("DEV_MODE", "1"), ("PORTONE_V2_SECRET", "v2s")]).unwrap();
        assert_eq!(dev.portone_v2.unwrap().client.base_url, SIMULATOR_V2_URL);
    }

    #[test]
    fn a_shop_on_v2_alone_needs_no_v1_keys_and_one_with_neither_does_not_start() {
        let v2_only = settings(&[DB, ("PORTONE_V2_SECRET", "v2s")]).unwrap();
        assert!(v2_only.portone.is_none() && v2_only.portone_v2.is_some());
        // one V1 setting given means V1 is wanted: all of it, then
        let e = settings(&[DB, ("PORTONE_V2_SECRET", "v2s"), ("PORTONE_IMP_KEY", "k")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("PORTONE_API_URL"), "{e}");
        assert!(settings(&[DB]).is_err(), "neither version: fail closed");
    }

    #[test]
    fn the_development_setting_falls_back_to_the_simulator() {
        let s = settings(&[DB, ("DEV_MODE", "1")]).unwrap();
        assert_eq!(
            (s.portone.unwrap().base_url.as_str(), s.cookie_secure, s.allow_test_payments),
            (SIMULATOR_URL, false, true)
        );
        assert!(settings(&[DB, ("DEV_MODE", "1"), ("PUBLIC_URL", "https://shop.example/path")])
            .is_err());
        let s =
            settings(&[DB, ("DEV_MODE", "1"), ("PUBLIC_URL", "https://shop.example/")]).unwrap();
        assert_eq!(s.public_url.as_deref(), Some("https://shop.example"));
    }

    #[test]
    fn deliveries_in_flight_are_a_positive_number_or_a_hundred() {
        let dev = ("DEV_MODE", "1");
        let in_flight = |v| settings(&[DB, dev, ("SHOP_WEBHOOK_CONCURRENCY", v)]);
        assert_eq!(settings(&[DB, dev]).unwrap().shop_webhooks.in_flight, 100);
        assert_eq!(in_flight(" 8 ").unwrap().shop_webhooks.in_flight, 8);
        for bad in ["0", "-1", "many"] {
            assert!(in_flight(bad).is_err(), "{bad}");
        }
    }
}
