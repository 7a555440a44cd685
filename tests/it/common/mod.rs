//! The test harness: the real app on a random port against a fresh database (one per test,
//! from `#[sqlx::test]`), with the PortOne simulator in-process on another random port.
#![allow(dead_code)]

mod proxy;
pub use proxy::PgProxy;

use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::LeptosOptions;
use portone_refund::model::{CurrentUser, Role};
use portone_refund::server::application::Application;
use portone_refund::server::config::Settings;
use portone_refund::server::gateway::{from_v1, Gateway};
use portone_refund::server::payments::import_payment;
use portone_refund::server::refund::reconcile::{self, ReconcileReport};
use portone_refund::server::refund::PipelineSettings;
use portone_refund::server::{auth, telemetry};
pub use portone_sim::control::SimControl;
pub use portone_sim::v2::{NewCustomer, NewV2Payment};
pub use portone_sim::NewPayment;
use portone_sim::{self as sim, SimConfig, Simulator, StatsView};
pub use portone_sim::{
    ConfigChange, ConsoleCancel, FaultEndpoint, FaultKind, FaultRule, MoveClock,
};
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

/// The pipeline as the tests' app runs it (`test_settings`): the test lease, accounts kept
/// sealed.
pub fn test_pipeline() -> PipelineSettings {
    test_settings("http://127.0.0.1:9", None).pipeline
}

pub struct TestApp {
    pub base_url: String,
    pub sim_url: String,
    pub sim: Arc<Simulator>,
    /// the simulator's V2 listener (one ledger with `sim_url`'s V1)
    pub v2_url: String,
    /// the simulator's control API on its V1 listener, and on its V2 one
    pub control: SimControl,
    pub control_v2: SimControl,
    pub pool: PgPool,
    /// V1 and V2, as the app reaches them
    pub portone: Arc<Gateway>,
    pub v1: Arc<PortOneClient>,
    pub users: Users,
    /// the settings the app was served with
    pub settings: Settings,
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

/// A paid V1 payment for the simulator to make (`notify`: it sends the `paid` webhook).
pub fn sim_payment(
    merchant_uid: &str,
    amount: i64,
    pay_method: &str,
    pg_provider: &str,
    name: &str,
    buyer_email: &str,
    notify: bool,
) -> NewPayment {
    NewPayment {
        merchant_uid: merchant_uid.into(),
        amount,
        pay_method: pay_method.into(),
        pg_provider: pg_provider.into(),
        name: name.into(),
        buyer_email: Some(buyer_email.into()),
        notify,
        ..Default::default()
    }
}

/// A paid V2 payment of 김민수 for the simulator's V2 listener to make.
pub fn minsus_v2_payment(
    payment_id: &str,
    amount: i64,
    order_name: &str,
    method: &str,
) -> NewV2Payment {
    NewV2Payment {
        payment_id: payment_id.into(),
        amount,
        order_name: order_name.into(),
        method: method.into(),
        pg_provider: "NICE_V2".into(),
        customer: Some(NewCustomer { email: Some(MINSU.0.into()), name: Some("김민수".into()) }),
        ..Default::default()
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
    let settings = test_settings(&sim_url, Some(&v2_url));
    // the test's own clients, configured as the app's
    let v1 = Arc::new(PortOneClient::new(settings.portone.clone().unwrap()).unwrap());
    let v2_config = settings.portone_v2.as_ref().unwrap().client.clone();
    let v2 = Arc::new(PortOneV2Client::new(v2_config).unwrap());
    serve_app(listener, pool.clone(), settings.clone());
    let users = create_users(&pool).await;
    let portone = Arc::new(Gateway::new(Some(v1.clone()), Some(v2)));
    let base_url = format!("http://{addr}");
    let (control, control_v2) = (SimControl::new(&sim_url), SimControl::new(&v2_url));
    TestApp {
        base_url,
        sim_url,
        v2_url,
        control,
        control_v2,
        sim,
        pool,
        portone,
        v1,
        users,
        settings,
    }
}

/// The app's settings in tests, read the way `main` reads them (`Settings::from_vars`): the
/// development setting against the simulator's V1 at `sim_url` (and its V2 at `v2_url`), a
/// 2 s PortOne timeout, the test lease, sealed accounts, the tests' shop-login key, no
/// `/metrics` listener and a reconciler that waits an hour.
pub fn test_settings(sim_url: &str, v2_url: Option<&str>) -> Settings {
    let mut vars = vec![
        ("DATABASE_URL", "postgres://unused-the-test-passes-its-pool"),
        ("DEV_MODE", "1"),
        ("PORTONE_API_URL", sim_url),
        ("PORTONE_IMP_KEY", sim::DEMO_IMP_KEY),
        ("PORTONE_IMP_SECRET", sim::DEMO_IMP_SECRET),
        ("PORTONE_CONNECT_TIMEOUT_SECS", "2"),
        ("PORTONE_TIMEOUT_SECS", "2"),
        ("PORTONE_DEADLINE_SECS", "3"),
        ("REFUND_LEASE_SECS", "5"),
        ("REFUND_ACCOUNT_KEY", TEST_ACCOUNT_KEY),
        ("SHOP_LOGIN_SECRET", TEST_SHOP_LOGIN_SECRET),
        ("METRICS_ADDR", "off"),
        ("RECONCILE_INTERVAL_SECS", "3600"),
    ];
    if let Some(v2_url) = v2_url {
        vars.extend([
            ("PORTONE_V2_API_URL", v2_url),
            ("PORTONE_V2_SECRET", sim::v2::DEMO_V2_SECRET),
            ("PORTONE_V2_WEBHOOK_SECRET", sim::v2::DEMO_V2_WEBHOOK_SECRET),
        ]);
    }
    let get = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string());
    let settings = Settings::from_vars(get, &"127.0.0.1:0".parse().unwrap()).unwrap();
    assert_eq!(settings.pipeline.lease, TEST_LEASE);
    settings
}

/// Serves the app on `listener` with `settings` (also used to "restart" it on a new port),
/// built the one way `main` builds it.
pub fn serve_app(listener: tokio::net::TcpListener, pool: PgPool, settings: Settings) {
    let addr = listener.local_addr().unwrap();
    let leptos_options =
        LeptosOptions::builder().output_name("portone-refund").site_addr(addr).build();
    let app = Application::build(settings, leptos_options, pool).unwrap();
    // never told to stop: the test's runtime ends it
    tokio::spawn(async move { app.serve(listener, std::future::pending()).await.unwrap() });
}

/// A request sent and its JSON answer read, for tests that only look at the answer.
pub trait SendForJson {
    fn answer<T: serde::de::DeserializeOwned>(self) -> impl std::future::Future<Output = T> + Send;
}

impl SendForJson for reqwest::RequestBuilder {
    async fn answer<T: serde::de::DeserializeOwned>(self) -> T {
        self.send().await.unwrap().json().await.unwrap()
    }
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
        let new: NewPayment = serde_json::from_value(fields.clone()).expect("a simulator payment");
        self.control.create_payment(&new).await.unwrap()
    }

    pub async fn sim_payment(&self, imp_uid: &str) -> Payment {
        let all: Vec<Payment> = self.control.payments().await.unwrap();
        all.into_iter().find(|p| p.imp_uid == imp_uid).expect("payment at the simulator")
    }

    pub async fn sim_stats(&self) -> StatsView {
        self.control.stats().await.unwrap()
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

    /// A cancel made in PortOne's console; answers the payment and what its webhook got.
    pub async fn console_cancel(&self, imp_uid: &str, cancel: ConsoleCancel) -> Value {
        self.control.console_cancel(imp_uid, &cancel).await.unwrap()
    }

    pub async fn sim_config(&self, change: ConfigChange) {
        self.control.set_config(&change).await.unwrap();
    }

    pub async fn faults(&self, rules: &[FaultRule]) {
        self.control.add_faults(rules).await.unwrap();
    }
}
