//! A stateful PortOne V1 simulator with fault injection, like stripe-mock with memory.
//! Development, tests and the demo talk to it instead of the real gateway. The V1 endpoints
//! follow PortOne's V1 reference; the control API lives under `/__sim/` and is kept stable.

mod banks;
pub mod control;
mod faults;
mod ledger;
mod tax;
pub mod v2;
mod wire;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Mutex;

pub use faults::{FaultEndpoint, FaultKind, FaultRule};
pub use ledger::{same_kst_month, CancelPolicy};
pub use wire::{CancelEntry, SimPayment, Status};

use faults::Fired;
use ledger::random_hex;
use wire::{envelope, CancelBody, Fields};

/// rustls needs one process-wide crypto provider; ring builds without a C toolchain for cmake.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The demo merchant's API key and secret. Only the simulator accepts them.
pub const DEMO_IMP_KEY: &str = "imp_demo_key";
pub const DEMO_IMP_SECRET: &str = "demo-secret-for-the-simulator-only";

/// PortOne tokens live 30 minutes.
const TOKEN_LIFETIME_S: i64 = 30 * 60;

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub imp_key: String,
    pub imp_secret: String,
    /// Where console cancels, `enable_webhook` cancels and `notify` payments send the V1 webhook.
    pub webhook_url: Option<String>,
    pub policy: CancelPolicy,
    /// Payments present at start and after `POST /__sim/reset`.
    pub initial_payments: Vec<SimPayment>,
    /// Seeds every random choice (faults, ids), so a run can be replayed. `None`: from entropy.
    pub seed: Option<u64>,
    /// Whether cancels of one payment are checked and applied one at a time (`true`), or may
    /// interleave between check and apply. Changeable at run time through `/__sim/config`.
    pub serialize_cancels: bool,
    /// The V2 API secret the V2 listener accepts (`Authorization: PortOne <secret>`).
    pub v2_secret: String,
    /// The `whsec_…` secret V2 webhooks are signed with.
    pub v2_webhook_secret: String,
    /// Where V2 webhooks go (also settable through `/__sim/config`, `v2_webhook_url`).
    pub v2_webhook_url: Option<String>,
    /// How long a V2 virtual-account refund stays `REQUESTED` before the PG applies it; 0:
    /// applied at once. Changeable through `/__sim/config` (`v2_vbank_delay_ms`).
    pub v2_vbank_delay_ms: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            imp_key: DEMO_IMP_KEY.into(),
            imp_secret: DEMO_IMP_SECRET.into(),
            webhook_url: None,
            policy: CancelPolicy::default(),
            initial_payments: Vec::new(),
            seed: None,
            serialize_cancels: true,
            v2_secret: v2::DEMO_V2_SECRET.into(),
            v2_webhook_secret: v2::DEMO_V2_WEBHOOK_SECRET.into(),
            v2_webhook_url: None,
            v2_vbank_delay_ms: 0,
        }
    }
}

struct Token {
    value: String,
    expires_at: i64,
}

#[derive(Default)]
struct Ledger {
    by_imp_uid: HashMap<String, SimPayment>,
    /// imp_uids in creation order, for listings
    order: Vec<String>,
    by_merchant_uid: HashMap<String, String>,
    token: Option<Token>,
}

impl Ledger {
    /// A payment by V2's `paymentId` (V1's merchant_uid).
    fn by_payment_id(&self, payment_id: &str) -> Option<&SimPayment> {
        self.by_merchant_uid.get(payment_id).and_then(|id| self.by_imp_uid.get(id))
    }

    fn insert(&mut self, payment: SimPayment) {
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
    /// reads of payments (by imp_uid, by imp_uids, by merchant_uid)
    payment_reads: AtomicU64,
    cancel_calls: AtomicU64,
    cancels_applied: AtomicU64,
    /// faults fired, by kind
    faults: std::sync::Mutex<std::collections::BTreeMap<&'static str, u64>>,
    /// applied cancels by `extra.requester` (`none` when it was not sent)
    requesters: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

pub struct Simulator {
    config: SimConfig,
    // The ledger lock is held only for checks and writes, never across a delay.
    ledger: Mutex<Ledger>,
    /// One gate per payment: held from check to apply while cancels are serialised.
    gates: std::sync::Mutex<HashMap<String, Arc<Mutex<()>>>>,
    serialize_cancels: AtomicBool,
    /// The bytes of a cancel reason the PG keeps (0: all of it), as a PG whose field is
    /// narrower than PortOne's cuts it. Set through `/__sim/config`.
    reason_byte_limit: AtomicUsize,
    /// Webhooks are not delivered (PortOne sends each once; a network can lose it).
    drop_webhooks: AtomicBool,
    v2_vbank_delay_ms: AtomicU64,
    /// The PG fails the requested virtual-account refunds instead of applying them
    /// (`/__sim/config` `v2_vbank_fail`).
    pub(crate) v2_vbank_fail: AtomicBool,
    v2_webhook_url: std::sync::Mutex<Option<String>>,
    /// V2 idempotency keys, by payment and key (`v2.rs`).
    idempotency: std::sync::Mutex<HashMap<(String, String), v2::Idempotent>>,
    /// Seconds added to the real clock (`POST /__sim/clock`).
    clock_offset: AtomicI64,
    faults: Mutex<Vec<FaultRule>>,
    rng: std::sync::Mutex<StdRng>,
    stats: Stats,
    http: reqwest::Client,
}

pub(crate) type Sim = Arc<Simulator>;

impl Simulator {
    pub fn new(config: SimConfig) -> Sim {
        let mut ledger = Ledger::default();
        for p in &config.initial_payments {
            ledger.insert(p.clone());
        }
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("reqwest client");
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        Arc::new(Simulator {
            serialize_cancels: AtomicBool::new(config.serialize_cancels),
            reason_byte_limit: AtomicUsize::new(0),
            drop_webhooks: AtomicBool::new(false),
            v2_vbank_delay_ms: AtomicU64::new(config.v2_vbank_delay_ms),
            v2_vbank_fail: AtomicBool::new(false),
            v2_webhook_url: std::sync::Mutex::new(config.v2_webhook_url.clone()),
            idempotency: std::sync::Mutex::default(),
            config,
            ledger: Mutex::new(ledger),
            gates: std::sync::Mutex::new(HashMap::new()),
            clock_offset: AtomicI64::new(0),
            faults: Mutex::new(Vec::new()),
            rng: std::sync::Mutex::new(rng),
            stats: Stats::default(),
            http,
        })
    }

    /// PortOne's clock: the real one, moved by `POST /__sim/clock`.
    pub fn now(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.clock_offset.load(Ordering::Relaxed)
    }

    fn hex(&self, len: usize) -> String {
        random_hex(&mut *self.rng.lock().expect("rng"), len)
    }

    async fn fire(&self, endpoint: FaultEndpoint) -> Fired {
        let fired = {
            let mut rules = self.faults.lock().await;
            faults::fire(&mut rules, endpoint, &mut *self.rng.lock().expect("rng"))
        };
        if !fired.kinds.is_empty() {
            let mut counts = self.stats.faults.lock().expect("fault counters");
            for kind in &fired.kinds {
                *counts.entry(kind).or_default() += 1;
            }
        }
        if fired.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(fired.latency_ms)).await;
        }
        fired
    }

    /// While cancels are serialised, the payment's gate, held from check to apply.
    async fn serialise(&self, imp_uid: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        if !self.serialize_cancels.load(Ordering::Relaxed) {
            return None;
        }
        let gate =
            self.gates.lock().expect("gates").entry(imp_uid.to_string()).or_default().clone();
        Some(gate.lock_owned().await)
    }

    /// Applies `amount` to a payment unless PortOne's books would go below zero — the one
    /// check PortOne makes again at apply time, even when it does not serialise cancels.
    async fn apply(
        &self,
        imp_uid: &str,
        parts: ledger::CancelParts,
        reason: String,
    ) -> Result<(SimPayment, CancelEntry), String> {
        self.apply_as(imp_uid, parts, reason, "API", None).await
    }

    /// `apply`, saying what made the cancel (`API`, `CONSOLE`) and, for a V2 cancellation
    /// accepted earlier, its id.
    async fn apply_as(
        &self,
        imp_uid: &str,
        parts: ledger::CancelParts,
        reason: String,
        trigger: &str,
        accepted: Option<&str>,
    ) -> Result<(SimPayment, CancelEntry), String> {
        let amount = parts.amount;
        let mut ledger = self.ledger.lock().await;
        let payment = ledger
            .by_imp_uid
            .get_mut(imp_uid)
            .ok_or_else(|| ledger::NOT_FOUND_FOR_CANCEL.to_string())?;
        if amount > payment.cancellable() {
            return Err(format!(
                "취소요청금액({amount})이 취소가능금액({})을 초과하였습니다.",
                payment.cancellable()
            ));
        }
        let now = self.now();
        let reason = keep_bytes(reason, self.reason_byte_limit.load(Ordering::Relaxed));
        let entry = ledger::record_cancel_as(
            payment,
            parts,
            reason,
            now,
            &mut *self.rng.lock().expect("rng"),
            trigger,
            accepted,
        );
        self.stats.cancels_applied.fetch_add(1, Ordering::Relaxed);
        Ok((payment.clone(), entry))
    }
}

/// The first `limit` bytes of `text` (0: all), never half a character.
fn keep_bytes(mut text: String, limit: usize) -> String {
    if limit > 0 && text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

pub fn router(sim: Sim) -> Router {
    Router::new()
        .route("/users/getToken", post(get_token))
        .route("/payments/cancel", post(cancel))
        .route("/payments", get(payments_by_imp_uids))
        .route("/payments/{imp_uid}", get(payment_by_imp_uid))
        .route("/payments/{imp_uid}/balance", get(balance_by_imp_uid))
        .route("/payments/find/{merchant_uid}", get(payment_by_merchant_uid))
        .route("/payments/find/{merchant_uid}/{status}", get(payment_by_merchant_uid_and_status))
        .route("/__sim/payments", post(control_create_payment).get(control_list_payments))
        .route("/__sim/payments/{imp_uid}/cancel", post(control_console_cancel))
        .route(
            "/__sim/faults",
            post(control_set_faults).delete(control_clear_faults).get(control_list_faults),
        )
        .route("/__sim/clock", post(control_move_clock).get(control_clock))
        .route("/__sim/config", post(control_set_config).get(control_config))
        .route("/__sim/reset", post(control_reset))
        .route("/__sim/stats", get(control_stats))
        .with_state(sim)
}

/// Serves the V2 API of a running simulator on `addr` (port 0 for a random one).
pub async fn spawn_v2(sim: Sim, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = v2::router(sim);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "V2 simulator stopped");
        }
    });
    Ok(local)
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

fn answer(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// A payment in the `{code, message, response}` envelope, serialized straight from the
/// ledger's copy (only the faults that change what is sent go through a JSON value).
fn ok_payment(
    payment: &SimPayment,
    null_optionals: bool,
    unreadable_oldest_entry: bool,
) -> Response {
    #[derive(serde::Serialize)]
    struct Envelope<'a> {
        code: i64,
        message: Option<&'a str>,
        response: &'a SimPayment,
    }
    if null_optionals || unreadable_oldest_entry {
        let mut sent = payment.to_v1(null_optionals);
        if let Some(oldest) = sent["cancel_history"].get_mut(0).filter(|_| unreadable_oldest_entry)
        {
            oldest["amount"] = serde_json::json!(0.5);
        }
        return ok(sent);
    }
    // written once into a buffer of about its size: a long history is a quarter of a megabyte,
    // which a buffer grown from nothing copies over and over
    let mut body = Vec::with_capacity(1024 + 384 * payment.cancel_history.len());
    let envelope = Envelope { code: 0, message: None, response: payment };
    serde_json::to_writer(&mut body, &envelope).expect("a payment serializes");
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn ok(response: Value) -> Response {
    answer(StatusCode::OK, envelope(0, None, response))
}

fn refusal(message: impl AsRef<str>) -> Response {
    answer(StatusCode::OK, envelope(1, Some(message.as_ref()), Value::Null))
}

fn unauthorized() -> Response {
    answer(StatusCode::UNAUTHORIZED, envelope(-1, Some("Unauthorized"), Value::Null))
}

fn not_found() -> Response {
    answer(StatusCode::NOT_FOUND, envelope(1, Some(ledger::NOT_FOUND), Value::Null))
}

fn bad_request(message: impl AsRef<str>) -> Response {
    answer(StatusCode::BAD_REQUEST, envelope(-1, Some(message.as_ref()), Value::Null))
}

/// An error as a proxy or a crashed upstream sends it: no PortOne envelope.
fn bare_status(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, "text/html")],
        format!("<html><body><h1>{status}</h1></body></html>"),
    )
        .into_response()
}

/// Closes the connection without an answer, after the work was done. Unwinding the
/// connection task makes hyper drop the socket; `resume_unwind` skips the panic hook.
fn drop_connection() -> ! {
    std::panic::resume_unwind(Box::new("simulated connection drop"))
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

// ---- V1 endpoints ----

async fn get_token(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    sim.stats.get_token_calls.fetch_add(1, Ordering::Relaxed);
    let fired = sim.fire(FaultEndpoint::Token).await;
    if let Some(status) = fired.error_before {
        return bare_status(status);
    }
    let creds = match Fields::parse(is_form(&headers), &body)
        .and_then(|f| Ok((f.text("imp_key")?, f.text("imp_secret")?)))
    {
        Ok(c) => c,
        Err(e) => return bad_request(e),
    };
    if creds.0.as_deref() != Some(sim.config.imp_key.as_str())
        || creds.1.as_deref() != Some(sim.config.imp_secret.as_str())
    {
        return unauthorized();
    }
    let now = sim.now();
    let mut ledger = sim.ledger.lock().await;
    // PortOne's reuse rule: before expiry the same token comes back; in its last minute the
    // expiry is extended by 5 minutes; after expiry a new token is issued.
    let reusable = ledger.token.as_ref().is_some_and(|t| now < t.expires_at);
    if !reusable {
        sim.stats.tokens_issued.fetch_add(1, Ordering::Relaxed);
        ledger.token = Some(Token { value: sim.hex(40), expires_at: now + TOKEN_LIFETIME_S });
    }
    let token = ledger.token.as_mut().expect("just set");
    if reusable && token.expires_at - now <= 60 {
        token.expires_at += 5 * 60;
    }
    let response = json!({"access_token": token.value, "now": now, "expired_at": token.expires_at});
    drop(ledger);
    if let Some(status) = fired.error_after {
        return bare_status(status);
    }
    ok(response)
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

async fn authorised(sim: &Sim, headers: &HeaderMap, fired: &Fired) -> bool {
    let mut ledger = sim.ledger.lock().await;
    if fired.expire_token {
        ledger.token = None;
    }
    let Some(presented) = presented_token(headers) else { return false };
    let now = sim.now();
    matches!(&ledger.token, Some(t) if t.value == presented && now < t.expires_at)
}

/// PortOne finishes a cancel even when the caller has hung up (a client timeout), so the
/// work runs in its own task rather than in the connection's future; a simulated dropped
/// connection (a panic in the task) still drops this one.
async fn in_own_task(
    work: impl std::future::Future<Output = Response> + Send + 'static,
) -> Response {
    match tokio::spawn(work).await {
        Ok(response) => response,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => bare_status(500),
    }
}

async fn cancel(State(sim): State<Sim>, headers: HeaderMap, body: Bytes) -> Response {
    in_own_task(apply_cancel_request(sim, headers, body)).await
}

async fn apply_cancel_request(sim: Sim, headers: HeaderMap, body: Bytes) -> Response {
    sim.stats.cancel_calls.fetch_add(1, Ordering::Relaxed);
    let fired = sim.fire(FaultEndpoint::Cancel).await;
    if let Some(status) = fired.error_before {
        return bare_status(status);
    }
    if !authorised(&sim, &headers, &fired).await {
        return unauthorized();
    }
    let req = match Fields::parse(is_form(&headers), &body).and_then(|f| CancelBody::parse(&f)) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    if let Some(message) = fired.pg_reject {
        return refusal(message);
    }
    // imp_uid wins when present, even when it is wrong and merchant_uid is right.
    let imp_uid = match (&req.imp_uid, &req.merchant_uid) {
        (Some(imp_uid), _) => imp_uid.clone(),
        (None, Some(merchant_uid)) => {
            match sim.ledger.lock().await.by_merchant_uid.get(merchant_uid) {
                Some(id) => id.clone(),
                None => return refusal(ledger::NOT_FOUND_FOR_CANCEL),
            }
        }
        (None, None) => return refusal("imp_uid 또는 merchant_uid 중 하나는 필수입니다."),
    };
    let held = sim.serialise(&imp_uid).await;
    let parts = {
        let ledger = sim.ledger.lock().await;
        let Some(payment) = ledger.by_imp_uid.get(&imp_uid) else {
            return refusal(ledger::NOT_FOUND_FOR_CANCEL);
        };
        match ledger::check_cancel(payment, &req, sim.now(), &sim.config.policy) {
            Ok(parts) => parts,
            Err(message) => return refusal(message),
        }
    };
    // A PG that cancels asynchronously: accepted (code 0, the payment as it stands), applied
    // later — or never, when the PG then fails it.
    if fired.accept_revert || fired.accept_later_ms.is_some() {
        drop(held);
        let now = sim.ledger.lock().await.by_imp_uid.get(&imp_uid).cloned();
        if let (Some(ms), false) = (fired.accept_later_ms, fired.accept_revert) {
            let (sim, reason) = (sim.clone(), req.reason.clone().unwrap_or_default());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                if let Ok((payment, entry)) = sim.apply(&imp_uid, parts, reason).await {
                    if req.enable_webhook {
                        send_webhook(&sim, cancelled_notice(&payment, &entry)).await;
                    }
                }
            });
        }
        return match now {
            Some(p) => ok_payment(&p, fired.null_optionals, fired.unreadable_oldest_entry),
            None => refusal(ledger::NOT_FOUND_FOR_CANCEL),
        };
    }
    if fired.delay_apply_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fired.delay_apply_ms)).await;
    }
    let (payment, entry) =
        match sim.apply(&imp_uid, parts, req.reason.clone().unwrap_or_default()).await {
            Ok(applied) => applied,
            Err(message) => return refusal(message),
        };
    drop(held);
    *sim.stats
        .requesters
        .lock()
        .expect("requester counters")
        .entry(req.requester.clone().unwrap_or_else(|| "none".into()))
        .or_default() += 1;
    if req.enable_webhook {
        let sim = sim.clone();
        let notice = cancelled_notice(&payment, &entry);
        tokio::spawn(async move { send_webhook(&sim, notice).await });
    }
    if fired.drop_after {
        drop_connection();
    }
    if let Some(status) = fired.error_after {
        return bare_status(status);
    }
    ok_payment(&payment, fired.null_optionals, fired.unreadable_oldest_entry)
}

/// Shared by the lookups: faults, auth, then `find` under the ledger lock. `find` gets
/// whether optional fields are to be sent as `null`.
async fn lookup(
    sim: &Sim,
    headers: &HeaderMap,
    find: impl FnOnce(&Ledger, bool) -> Response,
) -> Response {
    lookup_at(sim, FaultEndpoint::Payment, headers, find).await
}

async fn lookup_at(
    sim: &Sim,
    endpoint: FaultEndpoint,
    headers: &HeaderMap,
    find: impl FnOnce(&Ledger, bool) -> Response,
) -> Response {
    if endpoint == FaultEndpoint::Payment {
        sim.stats.payment_reads.fetch_add(1, Ordering::Relaxed);
    }
    let fired = sim.fire(endpoint).await;
    if let Some(status) = fired.error_before {
        return bare_status(status);
    }
    if !authorised(sim, headers, &fired).await {
        return unauthorized();
    }
    if let Some(message) = fired.pg_reject {
        return refusal(message);
    }
    let response = find(&*sim.ledger.lock().await, fired.null_optionals);
    if fired.drop_after {
        drop_connection();
    }
    if let Some(status) = fired.error_after {
        return bare_status(status);
    }
    response
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
    lookup(&sim, &headers, |ledger, nulls| match ledger.by_imp_uid.get(&imp_uid) {
        Some(p) if !p.sandbox || include_sandbox => ok_payment(p, nulls, false),
        _ => not_found(),
    })
    .await
}

/// `GET /payments/{imp_uid}/balance`.
async fn balance_by_imp_uid(
    State(sim): State<Sim>,
    Path(imp_uid): Path<String>,
    headers: HeaderMap,
) -> Response {
    lookup_at(&sim, FaultEndpoint::Balance, &headers, |ledger, _| {
        match ledger.by_imp_uid.get(&imp_uid) {
            Some(p) => answer(
                StatusCode::OK,
                envelope(0, None, p.tax.balance(p.amount, p.cancellable(), p.paid_at)),
            ),
            None => not_found(),
        }
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

async fn find_by_merchant(
    sim: Sim,
    merchant_uid: String,
    status: Option<String>,
    headers: HeaderMap,
) -> Response {
    lookup(&sim, &headers, |ledger, nulls| {
        let found = ledger
            .by_merchant_uid
            .get(&merchant_uid)
            .and_then(|id| ledger.by_imp_uid.get(id))
            .filter(|p| status.as_deref().is_none_or(|s| json!(p.status) == json!(s)));
        match found {
            Some(p) => ok_payment(p, nulls, false),
            None => not_found(),
        }
    })
    .await
}

/// `GET /payments?imp_uid[]=…`: 200 when all are found, 207 when some, 404 when none.
async fn payments_by_imp_uids(
    State(sim): State<Sim>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let wanted: Vec<String> = pairs
        .into_iter()
        .filter(|(k, _)| k == "imp_uid[]" || k == "imp_uid")
        .map(|(_, v)| v)
        .take(100)
        .collect();
    lookup(&sim, &headers, |ledger, nulls| {
        let found: Vec<Value> = wanted
            .iter()
            .filter_map(|id| ledger.by_imp_uid.get(id))
            .map(|p| p.to_v1(nulls))
            .collect();
        let status = match (found.len(), wanted.len()) {
            (0, _) => return not_found(),
            (f, w) if f == w => StatusCode::OK,
            _ => StatusCode::MULTI_STATUS,
        };
        answer(status, envelope(0, None, Value::Array(found)))
    })
    .await
}

// ---- control API ----

/// `POST /__sim/payments`: a paid payment, as if a buyer had just paid.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NewPayment {
    pub merchant_uid: String,
    pub amount: i64,
    pub pay_method: String,
    pub pg_provider: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imp_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default)]
    pub sandbox: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vbank_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vbank_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vbank_num: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vbank_holder: Option<String>,
    /// The tax-free part of the amount (`tax_free` of the payment request).
    #[serde(default)]
    pub tax_free: i64,
    /// The VAT, when the merchant names it (`vat_amount`); otherwise 1/11 of the taxable part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vat_amount: Option<i64>,
    /// Also send the `paid` webhook, as PortOne does after a payment.
    #[serde(default)]
    pub notify: bool,
}

impl NewPayment {
    /// The paid payment, at `now` unless `paid_at` says otherwise.
    pub fn into_payment(self, now: i64) -> SimPayment {
        let paid_at = self.paid_at.unwrap_or(now);
        let mut rng = rand::thread_rng();
        let imp_uid = self.imp_uid.unwrap_or_else(|| format!("imp_{}", random_hex(&mut rng, 12)));
        SimPayment {
            receipt_url: Some(format!("https://sim.portone.invalid/receipts/{imp_uid}")),
            imp_uid,
            merchant_uid: self.merchant_uid,
            pay_method: self.pay_method,
            channel: Some("pc".into()),
            pg_provider: self.pg_provider,
            pg_tid: Some(format!("simpay_{}", random_hex(&mut rng, 16))),
            sandbox: self.sandbox,
            name: Some(self.name),
            amount: self.amount,
            cancel_amount: 0,
            currency: self.currency.unwrap_or_else(|| "KRW".into()),
            buyer_name: self.buyer_name,
            buyer_email: self.buyer_email,
            status: Status::Paid,
            started_at: paid_at,
            paid_at,
            failed_at: 0,
            cancelled_at: 0,
            cancel_reason: None,
            cancel_history: Default::default(),
            cancel_receipt_urls: Default::default(),
            vbank_code: self.vbank_code,
            vbank_name: self.vbank_name,
            vbank_num: self.vbank_num,
            vbank_holder: self.vbank_holder,
            vbank_date: 0,
            tax: crate::tax::TaxState {
                tax_free: self.tax_free,
                vat_amount: self.vat_amount,
                ..Default::default()
            },
            v2: false,
            v2_cancellations: Default::default(),
        }
    }
}

/// Answers with the new payment as a V1 Payment object. With `notify`, the `paid` webhook is
/// sent first and its outcome reported in the `x-sim-webhook` header.
async fn control_create_payment(State(sim): State<Sim>, Json(new): Json<NewPayment>) -> Response {
    if new.amount <= 0 {
        return bad_request("amount must be positive");
    }
    if new.tax_free < 0
        || new.tax_free > new.amount
        || new.vat_amount.is_some_and(|v| v < 0 || v + new.tax_free > new.amount)
    {
        return bad_request("tax_free and vat_amount must fit in the amount");
    }
    let notify = new.notify;
    let payment = new.into_payment(sim.now());
    {
        let mut ledger = sim.ledger.lock().await;
        if ledger.by_imp_uid.contains_key(&payment.imp_uid)
            || ledger.by_merchant_uid.contains_key(&payment.merchant_uid)
        {
            return (
                StatusCode::CONFLICT,
                Json(json!({"message": "duplicate imp_uid or merchant_uid"})),
            )
                .into_response();
        }
        ledger.insert(payment.clone());
    }
    let mut response = (StatusCode::CREATED, Json(payment.to_v1(false))).into_response();
    if notify {
        let delivery = send_webhook(&sim, json!({"imp_uid": payment.imp_uid, "merchant_uid": payment.merchant_uid, "status": "paid"})).await;
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

async fn control_list_payments(State(sim): State<Sim>) -> Json<Vec<Value>> {
    let ledger = sim.ledger.lock().await;
    Json(
        ledger
            .order
            .iter()
            .filter_map(|id| ledger.by_imp_uid.get(id))
            .map(|p| p.to_v1(false))
            .collect(),
    )
}

/// `POST /__sim/payments/{imp_uid}/cancel` (on the V2 listener `{paymentId}`): a cancel made
/// in PortOne's console.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ConsoleCancel {
    /// omitted or 0: the whole remaining amount (V1; V2 needs it)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A cancel made by hand in PortOne's console: no checksum or refund-account rules apply,
/// and the `cancelled` webhook goes out.
async fn control_console_cancel(
    State(sim): State<Sim>,
    Path(imp_uid): Path<String>,
    Json(body): Json<ConsoleCancel>,
) -> Response {
    let held = sim.serialise(&imp_uid).await;
    let parts = {
        let ledger = sim.ledger.lock().await;
        let Some(payment) = ledger.by_imp_uid.get(&imp_uid) else { return not_found() };
        let cancellable = payment.cancellable();
        let amount = match body.amount {
            None | Some(0) => cancellable,
            Some(a) => a,
        };
        if cancellable <= 0
            || amount <= 0
            || amount > cancellable
            || payment.status == Status::Ready
        {
            return refusal("취소할 수 없는 금액입니다.");
        }
        ledger::CancelParts::split_by_portone(payment, amount)
    };
    let (payment, entry) = match sim
        .apply_as(
            &imp_uid,
            parts,
            body.reason.unwrap_or_else(|| "관리자 콘솔 취소".into()),
            "CONSOLE",
            None,
        )
        .await
    {
        Ok(applied) => applied,
        Err(message) => return refusal(message),
    };
    drop(held);
    let webhook = send_webhook(&sim, cancelled_notice(&payment, &entry)).await;
    Json(json!({"payment": payment.to_v1(false), "cancellation": entry, "webhook": webhook}))
        .into_response()
}

/// The V1 `cancelled` webhook body for a cancel that was applied.
fn cancelled_notice(payment: &SimPayment, entry: &CancelEntry) -> Value {
    json!({"imp_uid": payment.imp_uid, "merchant_uid": payment.merchant_uid, "status": "cancelled",
           "cancellation_id": entry.cancellation_id})
}

/// Delivers a V1 webhook once (PortOne's default) and reports what happened.
async fn send_webhook(sim: &Sim, notice: Value) -> Value {
    let Some(url) = sim.config.webhook_url.as_deref() else {
        return json!({"sent": false, "reason": "no webhook URL configured"});
    };
    if sim.drop_webhooks.load(Ordering::Relaxed) {
        return json!({"sent": false, "reason": "dropped"});
    }
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

/// `POST /__sim/clock`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct MoveClock {
    /// move PortOne's clock forward (or back) by this many seconds
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advance_secs: Option<i64>,
    /// or set it to this unix time
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<i64>,
}

async fn control_move_clock(State(sim): State<Sim>, Json(body): Json<MoveClock>) -> Json<Value> {
    let real = chrono::Utc::now().timestamp();
    match (body.now, body.advance_secs) {
        (Some(now), _) => sim.clock_offset.store(now - real, Ordering::Relaxed),
        (None, Some(secs)) => {
            sim.clock_offset.fetch_add(secs, Ordering::Relaxed);
        }
        (None, None) => {}
    }
    Json(json!({"now": sim.now()}))
}

async fn control_clock(State(sim): State<Sim>) -> Json<Value> {
    Json(json!({"now": sim.now()}))
}

/// `POST /__sim/config`: what is named changes, the rest stays.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serialize_cancels: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_byte_limit: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drop_webhooks: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v2_vbank_delay_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v2_vbank_fail: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v2_webhook_url: Option<String>,
}

async fn control_set_config(
    State(sim): State<Sim>,
    Json(change): Json<ConfigChange>,
) -> Json<Value> {
    if let Some(serialize) = change.serialize_cancels {
        sim.serialize_cancels.store(serialize, Ordering::Relaxed);
    }
    if let Some(limit) = change.reason_byte_limit {
        sim.reason_byte_limit.store(limit, Ordering::Relaxed);
    }
    if let Some(drop) = change.drop_webhooks {
        sim.drop_webhooks.store(drop, Ordering::Relaxed);
    }
    if let Some(delay) = change.v2_vbank_delay_ms {
        sim.v2_vbank_delay_ms.store(delay, Ordering::Relaxed);
    }
    if let Some(fail) = change.v2_vbank_fail {
        sim.v2_vbank_fail.store(fail, Ordering::Relaxed);
    }
    if let Some(url) = change.v2_webhook_url {
        *sim.v2_webhook_url.lock().expect("v2 webhook url") = Some(url).filter(|u| !u.is_empty());
    }
    control_config(State(sim)).await
}

async fn control_config(State(sim): State<Sim>) -> Json<Value> {
    Json(json!({
        "serialize_cancels": sim.serialize_cancels.load(Ordering::Relaxed),
        "reason_byte_limit": sim.reason_byte_limit.load(Ordering::Relaxed),
        "drop_webhooks": sim.drop_webhooks.load(Ordering::Relaxed),
        "v2_vbank_delay_ms": sim.v2_vbank_delay_ms.load(Ordering::Relaxed),
        "v2_vbank_fail": sim.v2_vbank_fail.load(Ordering::Relaxed),
        "v2_webhook_url": *sim.v2_webhook_url.lock().expect("v2 webhook url"),
    }))
}

async fn control_reset(State(sim): State<Sim>) -> StatusCode {
    let mut ledger = sim.ledger.lock().await;
    *ledger = Ledger::default();
    for p in &sim.config.initial_payments {
        ledger.insert(p.clone());
    }
    sim.faults.lock().await.clear();
    sim.clock_offset.store(0, Ordering::Relaxed);
    sim.serialize_cancels.store(sim.config.serialize_cancels, Ordering::Relaxed);
    sim.reason_byte_limit.store(0, Ordering::Relaxed);
    sim.drop_webhooks.store(false, Ordering::Relaxed);
    sim.v2_vbank_delay_ms.store(sim.config.v2_vbank_delay_ms, Ordering::Relaxed);
    sim.v2_vbank_fail.store(false, Ordering::Relaxed);
    *sim.v2_webhook_url.lock().expect("v2 webhook url") = sim.config.v2_webhook_url.clone();
    sim.idempotency.lock().expect("idempotency").clear();
    StatusCode::NO_CONTENT
}

/// `GET /__sim/stats`: what reached the simulator so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsView {
    pub get_token_calls: u64,
    pub tokens_issued: u64,
    /// reads of payments (by imp_uid, by imp_uids, by merchant_uid)
    pub payment_reads: u64,
    pub cancel_calls: u64,
    pub cancels_applied: u64,
    /// faults fired, by kind
    pub faults: std::collections::BTreeMap<String, u64>,
    /// applied cancels by `extra.requester` (`none` when it was not sent)
    pub requesters: std::collections::BTreeMap<String, u64>,
}

async fn control_stats(State(sim): State<Sim>) -> Json<StatsView> {
    let s = &sim.stats;
    let faults = s.faults.lock().expect("fault counters");
    Json(StatsView {
        get_token_calls: s.get_token_calls.load(Ordering::Relaxed),
        tokens_issued: s.tokens_issued.load(Ordering::Relaxed),
        payment_reads: s.payment_reads.load(Ordering::Relaxed),
        cancel_calls: s.cancel_calls.load(Ordering::Relaxed),
        cancels_applied: s.cancels_applied.load(Ordering::Relaxed),
        faults: faults.iter().map(|(kind, n)| (kind.to_string(), *n)).collect(),
        requesters: s.requesters.lock().expect("requester counters").clone(),
    })
}

/// Adds a cancel to a payment as the console would (demo data with refund history).
pub fn record_console_cancel(
    payment: &mut SimPayment,
    amount: i64,
    reason: &str,
    at: i64,
) -> CancelEntry {
    let parts = ledger::CancelParts::split_by_portone(payment, amount);
    ledger::record_cancel(payment, parts, reason.to_string(), at, &mut rand::thread_rng())
}
