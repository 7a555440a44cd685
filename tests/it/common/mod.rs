//! The test harness: the real app on a random port against a fresh database (one per test,
//! from `#[sqlx::test]`), with the PortOne simulator in-process on another random port.
#![allow(dead_code)]

mod proxy;
pub use proxy::PgProxy;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::LeptosOptions;
use portone_refund::model::{CurrentUser, Role};
use portone_refund::server::config::{PortOneV2Settings, Settings, ShopLoginSecret, WebhookSecret};
use portone_refund::server::gateway::{from_v1, Gateway};
use portone_refund::server::payments::import_payment;
use portone_refund::server::refund::reconcile::{self, ReconcileReport};
use portone_refund::server::refund::PipelineSettings;
use portone_refund::server::{auth, router, telemetry, AppState};
use portone_sim::{self as sim, SimConfig, Simulator};
use portone_v1::{ImpSecret, Payment, PortOneClient, PortOneConfig};
use portone_v2::{ApiSecret, PortOneV2Client, PortOneV2Config};
use serde_json::{json, Value};
use sqlx::PgPool;

pub const MINSU: (&str, &str) = ("minsu@example.com", "minsu-pass-1234");
pub const JIWOO: (&str, &str) = ("jiwoo@example.com", "jiwoo-pass-1234");
pub const ADMIN: (&str, &str) = ("admin@example.com", "admin-pass-1234");

/// The key the tests' shop signs its sign-in tokens with.
pub const TEST_SHOP_LOGIN_SECRET: &str = "test-shop-login-secret-of-32-bytes-or-more";

/// The attempt lease in tests: longer than the test client's deadline (3 s).
pub const TEST_LEASE: Duration = Duration::from_secs(5);

/// The key the tests' customers' refund accounts are sealed with.
pub const TEST_ACCOUNT_KEY: &str = "test:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The pipeline as the tests' app runs it: the test lease, accounts kept sealed.
pub fn test_pipeline() -> PipelineSettings {
    PipelineSettings {
        lease: TEST_LEASE,
        account_keys: Some(
            portone_refund::server::refund::sealed::AccountKeys::parse(TEST_ACCOUNT_KEY).unwrap(),
        ),
        ..PipelineSettings::default()
    }
}

pub struct TestApp {
    pub base_url: String,
    pub sim_url: String,
    pub sim: Arc<Simulator>,
    /// the simulator's V2 listener (one ledger with `sim_url`'s V1)
    pub v2_url: String,
    pub pool: PgPool,
    /// V1 and V2, as the app reaches them
    pub portone: Arc<Gateway>,
    pub v1: Arc<PortOneClient>,
    pub users: Users,
}

#[derive(Clone)]
pub struct Users {
    pub minsu: CurrentUser,
    pub jiwoo: CurrentUser,
    pub admin: CurrentUser,
}

pub fn portone_config(sim_url: &str, timeout: Duration) -> PortOneConfig {
    PortOneConfig {
        base_url: sim_url.to_string(),
        imp_key: sim::DEMO_IMP_KEY.into(),
        imp_secret: ImpSecret::new(sim::DEMO_IMP_SECRET),
        connect_timeout: Duration::from_secs(2),
        request_timeout: timeout,
        deadline: timeout + timeout / 2,
    }
}

/// The simulator alone, on a random port.
pub async fn spawn_sim(webhook_url: Option<String>) -> (String, Arc<Simulator>) {
    spawn_sim_with(SimConfig { webhook_url, ..Default::default() }).await
}

pub async fn spawn_sim_with(config: SimConfig) -> (String, Arc<Simulator>) {
    telemetry::install_crypto_provider();
    telemetry::init("warn");
    let (addr, sim) = sim::spawn(config, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    (format!("http://{addr}"), sim)
}

pub fn v2_config(v2_url: &str, timeout: Duration) -> PortOneV2Config {
    PortOneV2Config {
        base_url: v2_url.to_string(),
        secret: ApiSecret::new(sim::v2::DEMO_V2_SECRET),
        store_id: None,
        connect_timeout: Duration::from_secs(2),
        request_timeout: timeout,
        deadline: timeout + timeout / 2,
    }
}

/// The app's V2 settings against the simulator's V2 listener, with its webhook secret.
pub fn v2_settings(v2_url: &str, timeout: Duration) -> PortOneV2Settings {
    PortOneV2Settings {
        client: v2_config(v2_url, timeout),
        webhook_secret: Some(WebhookSecret(sim::v2::DEMO_V2_WEBHOOK_SECRET.into())),
    }
}

async fn create_users(pool: &PgPool) -> Users {
    let mut made = Vec::new();
    for ((email, password), (name, role)) in [MINSU, JIWOO, ADMIN].into_iter().zip([
        ("김민수", Role::Customer),
        ("이지우", Role::Customer),
        ("관리자", Role::Admin),
    ]) {
        let id = match sqlx::query_scalar!("select id from users where email = $1", email)
            .fetch_optional(pool)
            .await
            .unwrap()
        {
            Some(id) => id,
            None => auth::create_user(pool, email, name, password, role).await.unwrap(),
        };
        made.push(CurrentUser { id, email: email.into(), display_name: name.into(), role });
    }
    Users { minsu: made[0].clone(), jiwoo: made[1].clone(), admin: made[2].clone() }
}

/// Starts the app and the simulator for one test. The PortOne timeout is short so that
/// latency faults become timeouts quickly.
pub async fn spawn_app(pool: PgPool) -> TestApp {
    spawn_app_with_timeout(pool, Duration::from_secs(2)).await
}

pub async fn spawn_app_with_timeout(pool: PgPool, timeout: Duration) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (sim_url, sim) = spawn_sim_with(SimConfig {
        webhook_url: Some(format!("http://{addr}/portone/webhook")),
        v2_webhook_url: Some(format!("http://{addr}/portone/webhook/v2")),
        ..Default::default()
    })
    .await;
    let v2_addr = sim::spawn_v2(sim.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let v2_url = format!("http://{v2_addr}");
    let v1 = Arc::new(PortOneClient::new(portone_config(&sim_url, timeout)).unwrap());
    let v2 = Arc::new(PortOneV2Client::new(v2_config(&v2_url, timeout)).unwrap());
    let settings = v2_settings(&v2_url, timeout);
    serve_app_with(listener, pool.clone(), v1.clone(), move |s| s.portone_v2 = Some(settings));
    let users = create_users(&pool).await;
    let portone = Arc::new(Gateway::new(Some(v1.clone()), Some(v2)));
    TestApp { base_url: format!("http://{addr}"), sim_url, v2_url, sim, pool, portone, v1, users }
}

/// Serves the app on `listener` (also used to "restart" it on a new port).
pub fn serve_app(listener: tokio::net::TcpListener, pool: PgPool, portone: Arc<PortOneClient>) {
    serve_app_with(listener, pool, portone, |_| {})
}

/// `serve_app` with settings of the test's own.
pub fn serve_app_with(
    listener: tokio::net::TcpListener,
    pool: PgPool,
    portone: Arc<PortOneClient>,
    adjust: impl FnOnce(&mut Settings),
) {
    let addr = listener.local_addr().unwrap();
    let leptos_options =
        LeptosOptions::builder().output_name("portone-refund").site_addr(addr).build();
    let settings = Settings {
        database_url: String::new(),
        portone: Some(portone_config("", Duration::from_secs(2))),
        development: true,
        public_url: None,
        cookie_secure: false,
        allow_test_payments: true,
        trusted_proxies: Vec::new(),
        reconcile_interval: Duration::from_secs(3600),
        pipeline: test_pipeline(),
        pending_alert_after: Duration::from_secs(600),
        metrics_addr: None,
        shutdown_grace: Duration::from_secs(30),
        owner_from_buyer_email: true,
        shop_login_secret: Some(ShopLoginSecret(TEST_SHOP_LOGIN_SECRET.into())),
        customer_password_login: true,
        api_requests_per_minute: 600,
        webhook_allow: Vec::new(),
        sweep: Default::default(),
        shop_webhooks: Default::default(),
        portone_v2: None,
    };
    let mut settings = settings;
    adjust(&mut settings);
    let state = AppState::new(leptos_options, pool, Some(portone), settings);
    portone_refund::server::health::spawn_probe(state.pool.clone(), state.db_health.clone());
    let app = router::build(state);
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .await
            .unwrap();
    });
}

/// A browser-like client for the app at `base_url`: keeps cookies, sends its Origin.
pub fn browser_for(base_url: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("origin", base_url.parse().unwrap());
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .unwrap()
}

impl TestApp {
    /// A browser-like client: keeps cookies, sends our Origin.
    pub fn browser(&self) -> reqwest::Client {
        browser_for(&self.base_url)
    }

    /// Signs in at another instance of the app (same database).
    pub async fn signed_in_at(
        &self,
        base_url: &str,
        (email, password): (&str, &str),
    ) -> reqwest::Client {
        use leptos::server_fn::ServerFn;
        let client = browser_for(base_url);
        let res = client
            .post(format!("{base_url}{}", portone_refund::api::Login::PATH))
            .header("accept", "application/json")
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "sign-in failed: {}", res.status());
        client
    }

    /// Calls a server function by its type's path, with a form body, asking for JSON.
    pub async fn server_fn(
        &self,
        client: &reqwest::Client,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        client
            .post(format!("{}{}", self.base_url, path))
            .header("accept", "application/json")
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// A page of the app (`path` from the root) as `client` sees it.
    pub async fn page(&self, client: &reqwest::Client, path: &str) -> String {
        let res = client.get(format!("{}{path}", self.base_url)).send().await.unwrap();
        res.text().await.unwrap()
    }

    pub async fn signed_in(&self, user: (&str, &str)) -> reqwest::Client {
        self.signed_in_at(&self.base_url, user).await
    }

    /// Creates a paid payment at the simulator and imports it, owned by the buyer's account.
    pub async fn paid_order(
        &self,
        buyer: &CurrentUser,
        amount: i64,
        pay_method: &str,
        pg: &str,
    ) -> Payment {
        self.paid_order_at(buyer, amount, pay_method, pg, None).await
    }

    pub async fn paid_order_at(
        &self,
        buyer: &CurrentUser,
        amount: i64,
        pay_method: &str,
        pg: &str,
        paid_at: Option<i64>,
    ) -> Payment {
        self.paid_order_with(buyer, amount, pay_method, pg, json!({"paid_at": paid_at})).await
    }

    /// `paid_order` with more of the simulator's payment fields (`paid_at`, `tax_free`,
    /// `vat_amount`).
    pub async fn paid_order_with(
        &self,
        buyer: &CurrentUser,
        amount: i64,
        pay_method: &str,
        pg: &str,
        more: Value,
    ) -> Payment {
        let merchant_uid = format!("ORD-T-{}", &uuid::Uuid::new_v4().simple().to_string()[..24]);
        let mut fields = json!({
            "merchant_uid": merchant_uid, "amount": amount, "pay_method": pay_method, "pg_provider": pg,
            "name": "테스트 상품", "buyer_name": buyer.display_name, "buyer_email": buyer.email,
        });
        if let (Some(fields), Value::Object(more)) = (fields.as_object_mut(), more) {
            fields.extend(more);
        }
        let payment = self.sim_create_payment(&fields).await;
        import_payment(&self.pool, &from_v1(payment.clone()), true).await.unwrap();
        payment
    }

    /// A payment made at the simulator (imported here only if `fields` asks it to `notify`).
    pub async fn sim_create_payment(&self, fields: &Value) -> Payment {
        reqwest::Client::new()
            .post(format!("{}/__sim/payments", self.sim_url))
            .json(fields)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn sim_payment(&self, imp_uid: &str) -> Payment {
        let all: Vec<Payment> = reqwest::get(format!("{}/__sim/payments", self.sim_url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all.into_iter().find(|p| p.imp_uid == imp_uid).expect("payment at the simulator")
    }

    pub async fn sim_stats(&self) -> Value {
        reqwest::get(format!("{}/__sim/stats", self.sim_url)).await.unwrap().json().await.unwrap()
    }

    /// Lets every pending refund's lease run out, as if its attempt's time had passed.
    pub async fn expire_leases(&self) {
        sqlx::query!(
            "update refunds set lease_until = now() - interval '1 second' where status = 'pending'"
        )
        .execute(&self.pool)
        .await
        .unwrap();
    }

    /// One reconciler pass once every lease has run out.
    pub async fn reconcile(&self) -> ReconcileReport {
        self.expire_leases().await;
        reconcile::reconcile_once(&self.pool, &self.portone, &test_pipeline()).await.unwrap()
    }

    /// Sends a control request to the simulator and returns its JSON answer.
    pub async fn sim_control(&self, path: &str, body: Value) -> Value {
        let res = reqwest::Client::new()
            .post(format!("{}{path}", self.sim_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().await.unwrap_or(Value::Null)
    }

    pub async fn faults(&self, rules: Value) {
        let res = reqwest::Client::new()
            .post(format!("{}/__sim/faults", self.sim_url))
            .json(&rules)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success());
    }
}
