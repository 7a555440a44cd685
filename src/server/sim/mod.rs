//! A stateful PortOne V1 simulator with fault injection, like stripe-mock with memory.
//! Development, tests and the demo talk to it instead of the real gateway. The V1 endpoints
//! follow portone-v1.md; the control API lives under `/__sim/` and is kept stable.

mod faults;
mod ledger;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::sync::Mutex;

pub use faults::{FaultEndpoint, FaultKind, FaultRule};
pub use ledger::now_unix;
pub use ledger::{same_kst_month, CancelPolicy};

use crate::server::portone::{CancelRequest, Envelope, Payment, PaymentStatus, WebhookNotice};
use faults::Fired;
use ledger::random_hex;

/// The demo merchant's API key and secret. Only the simulator accepts them.
pub const DEMO_IMP_KEY: &str = "imp_demo_key";
pub const DEMO_IMP_SECRET: &str = "demo-secret-for-the-simulator-only";

/// PortOne tokens live 30 minutes.
const TOKEN_LIFETIME_S: i64 = 30 * 60;

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub imp_key: String,
    pub imp_secret: String,
    /// Where console cancels (and `notify` payments) send the V1 webhook.
    pub webhook_url: Option<String>,
    pub policy: CancelPolicy,
    /// Payments present at start and after `POST /__sim/reset`.
    pub initial_payments: Vec<Payment>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            imp_key: DEMO_IMP_KEY.into(),
            imp_secret: DEMO_IMP_SECRET.into(),
            webhook_url: None,
            policy: CancelPolicy::default(),
            initial_payments: Vec::new(),
        }
    }
}

struct Token {
    value: String,
    expires_at: i64,
}

#[derive(Default)]
struct Ledger {
    by_imp_uid: HashMap<String, Payment>,
    /// imp_uids in creation order, for listings
    order: Vec<String>,
    by_merchant_uid: HashMap<String, String>,
    token: Option<Token>,
}

impl Ledger {
    fn insert(&mut self, payment: Payment) {
        if !self.by_imp_uid.contains_key(&payment.imp_uid) {
            self.order.push(payment.imp_uid.clone());
        }
        self.by_merchant_uid.insert(payment.merchant_uid.clone(), payment.imp_uid.clone());
        self.by_imp_uid.insert(payment.imp_uid.clone(), payment);
    }
}

/// Counters tests use to prove what reached the gateway.
#[derive(Default)]
struct Stats {
    get_token_calls: AtomicU64,
    tokens_issued: AtomicU64,
    cancel_calls: AtomicU64,
    cancels_applied: AtomicU64,
}

pub struct Simulator {
    config: SimConfig,
    // One lock for the ledger: cancels on a payment serialize, so the checksum rule holds
    // under any number of parallel requests.
    ledger: Mutex<Ledger>,
    faults: Mutex<Vec<FaultRule>>,
    stats: Stats,
    http: reqwest::Client,
}

type Sim = Arc<Simulator>;

impl Simulator {
    pub fn new(config: SimConfig) -> Sim {
        let mut ledger = Ledger::default();
        for p in &config.initial_payments {
            ledger.insert(p.clone());
        }
        crate::server::telemetry::install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
        Arc::new(Simulator {
            config,
            ledger: Mutex::new(ledger),
            faults: Mutex::new(Vec::new()),
            stats: Stats::default(),
            http,
        })
    }

    async fn fire(&self, endpoint: FaultEndpoint) -> Fired {
        let fired = faults::fire(&mut *self.faults.lock().await, endpoint);
        if fired.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(fired.latency_ms)).await;
        }
        fired
    }
}

pub fn router(sim: Sim) -> Router {
    Router::new()
        .route("/users/getToken", post(get_token))
        .route("/payments/cancel", post(cancel))
        .route("/payments", get(payments_by_imp_uids))
        .route("/payments/{imp_uid}", get(payment_by_imp_uid))
        .route("/payments/find/{merchant_uid}", get(payment_by_merchant_uid))
        .route("/payments/find/{merchant_uid}/{status}", get(payment_by_merchant_uid_and_status))
        .route("/__sim/payments", post(control_create_payment).get(control_list_payments))
        .route("/__sim/payments/{imp_uid}/cancel", post(control_console_cancel))
        .route("/__sim/faults", post(control_set_faults).delete(control_clear_faults).get(control_list_faults))
        .route("/__sim/reset", post(control_reset))
        .route("/__sim/stats", get(control_stats))
        .with_state(sim)
}

/// Starts the simulator on `addr` (port 0 for a random one) in this process.
pub async fn spawn(config: SimConfig, addr: SocketAddr) -> std::io::Result<(SocketAddr, Sim)> {
    let sim = Simulator::new(config);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(sim.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "simulator stopped");
        }
    });
    Ok((local, sim))
}

// ---- responses ----

fn envelope<T: Serialize>(status: StatusCode, body: Envelope<T>) -> Response {
    (status, Json(body)).into_response()
}

fn refusal(message: impl Into<String>) -> Response {
    envelope::<Value>(StatusCode::OK, Envelope::refusal(1, message))
}

fn unauthorized() -> Response {
    envelope::<Value>(StatusCode::UNAUTHORIZED, Envelope::refusal(-1, "Unauthorized"))
}

fn not_found() -> Response {
    envelope::<Value>(StatusCode::NOT_FOUND, Envelope::refusal(1, ledger::NOT_FOUND))
}

/// An error as a proxy or a crashed upstream sends it: no PortOne envelope.
fn bare_status(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "text/html")], format!("<html><body><h1>{status}</h1></body></html>"))
        .into_response()
}

/// Closes the connection without an answer, after the work was done. Unwinding the
/// connection task makes hyper drop the socket; `resume_unwind` skips the panic hook.
fn drop_connection() -> ! {
    std::panic::resume_unwind(Box::new("simulated connection drop"))
}

// ---- request bodies: JSON or form-encoded, as PortOne accepts both ----

/// Turns a form body into a JSON object, nesting `a[b]=c` as `{"a": {"b": "c"}}`.
fn form_to_json(bytes: &[u8]) -> Value {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(bytes).unwrap_or_default();
    let mut root = Map::new();
    for (key, value) in pairs {
        match key.split_once('[') {
            Some((outer, rest)) if rest.ends_with(']') => {
                let inner = rest.trim_end_matches(']').to_string();
                let slot = root.entry(outer.to_string()).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = slot {
                    m.insert(inner, Value::String(value));
                }
            }
            _ => {
                root.insert(key, Value::String(value));
            }
        }
    }
    Value::Object(root)
}

fn parse_body<T: for<'de> Deserialize<'de>>(headers: &HeaderMap, bytes: &Bytes) -> Result<T, String> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let value = if is_form {
        form_to_json(bytes)
    } else if bytes.is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())?
    };
    serde_json::from_value(value).map_err(|e| e.to_string())
}

fn bad_request(message: impl Into<String>) -> Response {
    envelope::<Value>(StatusCode::BAD_REQUEST, Envelope::refusal(-1, message))
}

// ---- V1 endpoints ----

async fn get_token(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    sim.stats.get_token_calls.fetch_add(1, Ordering::Relaxed);
    let fired = sim.fire(FaultEndpoint::Token).await;
    if let Some(status) = fired.error_before {
        return bare_status(status);
    }
    #[derive(Deserialize)]
    struct Creds {
        #[serde(default)]
        imp_key: String,
        #[serde(default)]
        imp_secret: String,
    }
    let creds: Creds = match parse_body(&headers, &body) {
        Ok(c) => c,
        Err(e) => return bad_request(e),
    };
    if creds.imp_key != sim.config.imp_key || creds.imp_secret != sim.config.imp_secret {
        return unauthorized();
    }
    let now = now_unix();
    let mut ledger = sim.ledger.lock().await;
    // PortOne's reuse rule: before expiry the same token comes back; in its last minute the
    // expiry is extended by 5 minutes; after expiry a new token is issued.
    let token = match ledger.token.as_mut() {
        Some(t) if now < t.expires_at => {
            if t.expires_at - now <= 60 {
                t.expires_at += 5 * 60;
            }
            t
        }
        _ => {
            sim.stats.tokens_issued.fetch_add(1, Ordering::Relaxed);
            ledger.token.insert(Token { value: random_hex(40), expires_at: now + TOKEN_LIFETIME_S })
        }
    };
    let answer = json!({"access_token": token.value, "now": now, "expired_at": token.expires_at});
    drop(ledger);
    if let Some(status) = fired.error_after {
        return bare_status(status);
    }
    envelope(StatusCode::OK, Envelope::ok(answer))
}

/// Accepts `Authorization: <token>`, `Authorization: Bearer <token>` and the legacy
/// `X-ImpTokenHeader`; `Authorization` wins when both are sent.
fn presented_token(headers: &HeaderMap) -> Option<String> {
    let raw = headers
        .get(header::AUTHORIZATION)
        .or_else(|| headers.get("x-imptokenheader"))
        .and_then(|v| v.to_str().ok())?
        .trim();
    Some(raw.strip_prefix("Bearer ").unwrap_or(raw).trim().to_string())
}

fn authorised(ledger: &mut Ledger, headers: &HeaderMap, fired: &Fired) -> bool {
    if fired.expire_token {
        ledger.token = None;
    }
    let Some(presented) = presented_token(headers) else { return false };
    matches!(&ledger.token, Some(t) if t.value == presented && now_unix() < t.expires_at)
}

/// PortOne finishes a cancel even when the caller has hung up (a client timeout), so the
/// work runs in its own task rather than in the connection's future.
async fn cancel(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    match tokio::spawn(apply_cancel_request(sim, headers, body)).await {
        Ok(response) => response,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => bare_status(500),
    }
}

async fn apply_cancel_request(sim: Sim, headers: HeaderMap, body: Bytes) -> Response {
    sim.stats.cancel_calls.fetch_add(1, Ordering::Relaxed);
    let fired = sim.fire(FaultEndpoint::Cancel).await;
    if let Some(status) = fired.error_before {
        return bare_status(status);
    }
    let mut ledger = sim.ledger.lock().await;
    if !authorised(&mut ledger, &headers, &fired) {
        return unauthorized();
    }
    let req: CancelRequest = match parse_body(&headers, &body) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    if let Some(message) = fired.pg_reject {
        return refusal(message);
    }
    // imp_uid wins when present, even when it is wrong and merchant_uid is right.
    let imp_uid = match (&req.imp_uid, &req.merchant_uid) {
        (Some(imp_uid), _) => Some(imp_uid.clone()),
        (None, Some(merchant_uid)) => ledger.by_merchant_uid.get(merchant_uid).cloned(),
        (None, None) => return refusal("imp_uid 또는 merchant_uid 중 하나는 필수입니다."),
    };
    let Some(payment) = imp_uid.and_then(|id| ledger.by_imp_uid.get_mut(&id)) else {
        return refusal(ledger::NOT_FOUND_FOR_CANCEL);
    };
    if let Err(message) = ledger::apply_cancel(payment, &req, now_unix(), &sim.config.policy) {
        return refusal(message);
    }
    sim.stats.cancels_applied.fetch_add(1, Ordering::Relaxed);
    let answer = payment.clone();
    drop(ledger);
    if fired.drop_after {
        drop_connection();
    }
    if let Some(status) = fired.error_after {
        return bare_status(status);
    }
    envelope(StatusCode::OK, Envelope::ok(answer))
}

/// Shared by the lookups: faults, auth, then `find` under the ledger lock.
async fn lookup(
    sim: &Sim,
    headers: &HeaderMap,
    find: impl FnOnce(&Ledger) -> Response,
) -> Response {
    let fired = sim.fire(FaultEndpoint::Payment).await;
    if let Some(status) = fired.error_before {
        return bare_status(status);
    }
    let mut ledger = sim.ledger.lock().await;
    if !authorised(&mut ledger, headers, &fired) {
        return unauthorized();
    }
    if let Some(message) = fired.pg_reject {
        return refusal(message);
    }
    let answer = find(&ledger);
    drop(ledger);
    if fired.drop_after {
        drop_connection();
    }
    if let Some(status) = fired.error_after {
        return bare_status(status);
    }
    answer
}

#[derive(Deserialize)]
struct SandboxQuery {
    #[serde(default)]
    include_sandbox: Option<String>,
}

async fn payment_by_imp_uid(
    State(sim): State<Sim>,
    Path(imp_uid): Path<String>,
    Query(q): Query<SandboxQuery>,
    headers: HeaderMap,
) -> Response {
    let include_sandbox = matches!(q.include_sandbox.as_deref(), Some("true" | "1"));
    lookup(&sim, &headers, |ledger| match ledger.by_imp_uid.get(&imp_uid) {
        Some(p) if !p.sandbox || include_sandbox => envelope(StatusCode::OK, Envelope::ok(p.clone())),
        _ => not_found(),
    })
    .await
}

async fn payment_by_merchant_uid(
    State(sim): State<Sim>,
    Path(merchant_uid): Path<String>,
    headers: HeaderMap,
) -> Response {
    find_by_merchant(sim, merchant_uid, None, headers).await
}

async fn payment_by_merchant_uid_and_status(
    State(sim): State<Sim>,
    Path((merchant_uid, status)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    find_by_merchant(sim, merchant_uid, Some(status), headers).await
}

async fn find_by_merchant(sim: Sim, merchant_uid: String, status: Option<String>, headers: HeaderMap) -> Response {
    lookup(&sim, &headers, |ledger| {
        let found = ledger
            .by_merchant_uid
            .get(&merchant_uid)
            .and_then(|id| ledger.by_imp_uid.get(id))
            .filter(|p| status.as_deref().is_none_or(|s| p.status.as_str() == s));
        match found {
            Some(p) => envelope(StatusCode::OK, Envelope::ok(p.clone())),
            None => not_found(),
        }
    })
    .await
}

/// `GET /payments?imp_uid[]=…`: 200 when all are found, 207 when some, 404 when none.
async fn payments_by_imp_uids(State(sim): State<Sim>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let wanted: Vec<String> = pairs
        .into_iter()
        .filter(|(k, _)| k == "imp_uid[]" || k == "imp_uid")
        .map(|(_, v)| v)
        .take(100)
        .collect();
    lookup(&sim, &headers, |ledger| {
        let found: Vec<Payment> = wanted.iter().filter_map(|id| ledger.by_imp_uid.get(id).cloned()).collect();
        let status = match (found.len(), wanted.len()) {
            (0, _) => return not_found(),
            (f, w) if f == w => StatusCode::OK,
            _ => StatusCode::MULTI_STATUS,
        };
        envelope(status, Envelope::ok(found))
    })
    .await
}

// ---- control API ----

/// `POST /__sim/payments`: a paid payment, as if a buyer had just paid.
#[derive(Debug, Default, Deserialize)]
pub struct NewPayment {
    pub merchant_uid: String,
    pub amount: i64,
    pub pay_method: String,
    pub pg_provider: String,
    pub name: String,
    #[serde(default)]
    pub buyer_name: Option<String>,
    #[serde(default)]
    pub buyer_email: Option<String>,
    #[serde(default)]
    pub imp_uid: Option<String>,
    #[serde(default)]
    pub paid_at: Option<i64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub sandbox: bool,
    #[serde(default)]
    pub vbank_code: Option<String>,
    #[serde(default)]
    pub vbank_name: Option<String>,
    #[serde(default)]
    pub vbank_num: Option<String>,
    #[serde(default)]
    pub vbank_holder: Option<String>,
    /// Also send the `paid` webhook, as PortOne does after a payment.
    #[serde(default)]
    pub notify: bool,
}

impl NewPayment {
    pub fn into_payment(self) -> Payment {
        let paid_at = self.paid_at.unwrap_or_else(now_unix);
        let imp_uid = self.imp_uid.unwrap_or_else(|| format!("imp_{}", random_hex(12)));
        serde_json::from_value(json!({
            "imp_uid": imp_uid,
            "merchant_uid": self.merchant_uid,
            "pay_method": self.pay_method,
            "channel": "pc",
            "pg_provider": self.pg_provider,
            "pg_tid": format!("simpay_{}", random_hex(16)),
            "sandbox": self.sandbox,
            "name": self.name,
            "amount": self.amount,
            "cancel_amount": 0,
            "currency": self.currency.unwrap_or_else(|| "KRW".into()),
            "buyer_name": self.buyer_name,
            "buyer_email": self.buyer_email,
            "status": "paid",
            "started_at": paid_at,
            "paid_at": paid_at,
            "cancelled_at": 0,
            "failed_at": 0,
            "receipt_url": format!("https://sim.portone.invalid/receipts/{imp_uid}"),
            "cancel_history": [],
            "vbank_code": self.vbank_code,
            "vbank_name": self.vbank_name,
            "vbank_num": self.vbank_num,
            "vbank_holder": self.vbank_holder,
        }))
        .expect("a well-formed payment")
    }
}

/// Answers with the new payment as a V1 Payment object. With `notify`, the `paid` webhook is
/// sent first and its outcome reported in the `x-sim-webhook` header.
async fn control_create_payment(State(sim): State<Sim>, Json(new): Json<NewPayment>) -> Response {
    if new.amount <= 0 {
        return bad_request("amount must be positive");
    }
    let notify = new.notify;
    let payment = new.into_payment();
    {
        let mut ledger = sim.ledger.lock().await;
        if ledger.by_imp_uid.contains_key(&payment.imp_uid) || ledger.by_merchant_uid.contains_key(&payment.merchant_uid) {
            return (StatusCode::CONFLICT, Json(json!({"message": "duplicate imp_uid or merchant_uid"}))).into_response();
        }
        ledger.insert(payment.clone());
    }
    let mut response = (StatusCode::CREATED, Json(&payment)).into_response();
    if notify {
        let delivery = send_webhook(&sim, WebhookNotice {
            imp_uid: payment.imp_uid.clone(),
            merchant_uid: Some(payment.merchant_uid.clone()),
            status: Some("paid".into()),
            cancellation_id: None,
        })
        .await;
        let summary = match (delivery.get("status"), delivery.get("error")) {
            (Some(status), _) => status.to_string(),
            (_, Some(error)) => format!("error: {}", error.as_str().unwrap_or_default()),
            _ => "not configured".into(),
        };
        if let Ok(value) = axum::http::HeaderValue::from_str(&summary) {
            response.headers_mut().insert("x-sim-webhook", value);
        }
    }
    response
}

async fn control_list_payments(State(sim): State<Sim>) -> Json<Vec<Payment>> {
    let ledger = sim.ledger.lock().await;
    Json(ledger.order.iter().filter_map(|id| ledger.by_imp_uid.get(id).cloned()).collect())
}

#[derive(Deserialize)]
struct ConsoleCancel {
    /// omitted or 0: the whole remaining amount
    #[serde(default)]
    amount: Option<i64>,
    #[serde(default)]
    reason: Option<String>,
}

/// A cancel made by hand in PortOne's console: no checksum or refund-account rules apply,
/// and the `cancelled` webhook goes out.
async fn control_console_cancel(
    State(sim): State<Sim>,
    Path(imp_uid): Path<String>,
    Json(body): Json<ConsoleCancel>,
) -> Response {
    let (payment, entry) = {
        let mut ledger = sim.ledger.lock().await;
        let Some(payment) = ledger.by_imp_uid.get_mut(&imp_uid) else { return not_found() };
        let cancellable = payment.cancellable();
        let amount = match body.amount {
            None | Some(0) => cancellable,
            Some(a) => a,
        };
        if cancellable <= 0 || amount <= 0 || amount > cancellable || payment.status == PaymentStatus::Ready {
            return refusal("취소할 수 없는 금액입니다.");
        }
        let entry = ledger::record_cancel(payment, amount, body.reason.or(Some("관리자 콘솔 취소".into())), now_unix());
        (payment.clone(), entry)
    };
    let webhook = send_webhook(&sim, WebhookNotice {
        imp_uid: payment.imp_uid.clone(),
        merchant_uid: Some(payment.merchant_uid.clone()),
        status: Some("cancelled".into()),
        cancellation_id: entry.cancellation_id.clone(),
    })
    .await;
    Json(json!({"payment": payment, "cancellation": entry, "webhook": webhook})).into_response()
}

/// Delivers a V1 webhook once (PortOne's default) and reports what happened.
async fn send_webhook(sim: &Sim, notice: WebhookNotice) -> Value {
    let Some(url) = sim.config.webhook_url.as_deref() else {
        return json!({"sent": false, "reason": "no webhook URL configured"});
    };
    match sim.http.post(url).json(&notice).send().await {
        Ok(r) => json!({"sent": true, "status": r.status().as_u16()}),
        Err(e) => {
            tracing::warn!(error = %e, "webhook delivery failed");
            json!({"sent": true, "error": e.to_string()})
        }
    }
}

async fn control_set_faults(State(sim): State<Sim>, Json(rules): Json<Vec<FaultRule>>) -> Response {
    let mut faults = sim.faults.lock().await;
    faults.extend(rules);
    Json(json!({"active": faults.len()})).into_response()
}

async fn control_list_faults(State(sim): State<Sim>) -> Json<Vec<FaultRule>> {
    Json(sim.faults.lock().await.clone())
}

async fn control_clear_faults(State(sim): State<Sim>) -> StatusCode {
    sim.faults.lock().await.clear();
    StatusCode::NO_CONTENT
}

async fn control_reset(State(sim): State<Sim>) -> StatusCode {
    let mut ledger = sim.ledger.lock().await;
    *ledger = Ledger::default();
    for p in &sim.config.initial_payments {
        ledger.insert(p.clone());
    }
    sim.faults.lock().await.clear();
    StatusCode::NO_CONTENT
}

async fn control_stats(State(sim): State<Sim>) -> Json<Value> {
    let s = &sim.stats;
    Json(json!({
        "get_token_calls": s.get_token_calls.load(Ordering::Relaxed),
        "tokens_issued": s.tokens_issued.load(Ordering::Relaxed),
        "cancel_calls": s.cancel_calls.load(Ordering::Relaxed),
        "cancels_applied": s.cancels_applied.load(Ordering::Relaxed),
    }))
}

/// Adds a cancel to a payment as the console would (demo data with refund history).
pub fn record_console_cancel(payment: &mut Payment, amount: i64, reason: &str, at: i64) -> crate::server::portone::CancelHistoryEntry {
    ledger::record_cancel(payment, amount, Some(reason.to_string()), at)
}
