//! The simulator's PortOne V2 API, on a listener of its own over the same ledger as V1 (a
//! payment reads through both, as PortOne allows): `GET /payments/{paymentId}` and
//! `POST /payments/{paymentId}/cancel` in the spec's shapes, `Authorization: PortOne
//! <secret>`, `currentCancellableAmount`, the spec's error types, and idempotency as PortOne
//! documents it — a key is kept 3 hours; a finished request's replay gets its first answer
//! (even when that answer was lost on the way: the cancel is not made again); one in flight
//! gets 409 `IDEMPOTENCY_OUTSTANDING_REQUEST`; another body under a used key is refused.
//! Virtual-account refunds are `REQUESTED` and applied after `v2_vbank_delay_ms`. The V1
//! fault rules apply here too (`cancel` and `payment` endpoints).
//!
//! Control: `POST /__sim/payments` (a paid V2 payment) and
//! `POST /__sim/payments/{paymentId}/cancel` (a console cancel).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::faults::FaultEndpoint;
use crate::ledger::random_hex;
use crate::ledger::CancelParts;
use crate::wire::{rfc3339, Status, V2Cancellation};
use crate::{NewPayment, Sim, SimPayment};

/// The demo store's V2 API secret. Only the simulator accepts it.
pub const DEMO_V2_SECRET: &str = "demo-v2-secret-for-the-simulator-only";
/// The demo store's V2 webhook secret (`whsec_` and the base64 of 24 bytes).
pub const DEMO_V2_WEBHOOK_SECRET: &str = "whsec_ZGVtby13ZWJob29rLXNlY3JldC1zaW0h";

/// Sends a V2 webhook (version 2024-04-25) once, signed per Standard Webhooks, and reports
/// what happened. `kind`: `Transaction.Paid`, `.PartialCancelled`, `.Cancelled`, `.CancelPending`.
pub async fn send_webhook(
    sim: &Sim,
    kind: &str,
    p: &SimPayment,
    cancellation_id: Option<&str>,
) -> Value {
    let Some(url) = sim.v2_webhook_url.lock().expect("v2 webhook url").clone() else {
        return json!({"sent": false, "reason": "no V2 webhook URL configured"});
    };
    if sim.drop_webhooks.load(Ordering::Relaxed) {
        return json!({"sent": false, "reason": "dropped"});
    }
    let body = json!({
        "type": kind,
        "timestamp": rfc3339(sim.now()),
        "data": {"storeId": "store-sim", "paymentId": p.merchant_uid, "transactionId": p.imp_uid,
                 "cancellationId": cancellation_id},
    })
    .to_string();
    let id = format!("msg_{}", sim.hex(24));
    // the signature's time is the real clock: receivers check it against theirs
    let at = chrono::Utc::now().timestamp();
    let signature = match standardwebhooks::Webhook::new(&sim.config.v2_webhook_secret)
        .and_then(|w| w.sign(&id, at, body.as_bytes()))
    {
        Ok(signature) => signature,
        Err(e) => return json!({"sent": false, "reason": e.to_string()}),
    };
    let sent = sim
        .http
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", at.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) => json!({"sent": true, "status": r.status().as_u16()}),
        Err(e) => json!({"sent": true, "error": e.to_string()}),
    }
}

/// The webhook type after a cancel was applied to `p`.
fn cancelled_kind(p: &SimPayment) -> &'static str {
    if p.cancel_amount < p.amount {
        "Transaction.PartialCancelled"
    } else {
        "Transaction.Cancelled"
    }
}

/// How long PortOne keeps an idempotency key.
const KEY_LIFETIME_S: i64 = 3 * 3600;

/// One idempotency key's request: its body, and its answer once finished.
pub struct Idempotent {
    body: Bytes,
    answer: Option<(u16, Value)>,
    at: i64,
}

pub fn router(sim: Sim) -> Router {
    Router::new()
        .route("/payments/{payment_id}", get(payment))
        .route("/payments/{payment_id}/cancel", post(cancel))
        .route("/__sim/payments", post(control_create_payment))
        .route("/__sim/payments/{payment_id}/cancel", post(control_console_cancel))
        .with_state(sim)
}

fn error(status: u16, kind: &str, message: &str) -> (u16, Value) {
    (status, json!({"type": kind, "message": message}))
}

fn respond((status, body): (u16, Value)) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(body)).into_response()
}

fn authorised(sim: &Sim, headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("PortOne "))
        .is_some_and(|secret| secret == sim.config.v2_secret)
}

/// A payment as V2 answers it.
pub fn to_v2(p: &SimPayment) -> Value {
    let status = match p.status {
        Status::Paid if p.cancel_amount == 0 => "PAID",
        Status::Paid | Status::Cancelled if p.cancel_amount < p.amount => "PARTIAL_CANCELLED",
        Status::Paid | Status::Cancelled => "CANCELLED",
        Status::Ready => "READY",
        Status::Failed => "FAILED",
    };
    let method = match p.pay_method.as_str() {
        "vbank" => "PaymentMethodVirtualAccount",
        "trans" => "PaymentMethodTransfer",
        "phone" => "PaymentMethodMobile",
        _ => "PaymentMethodCard",
    };
    let tax_free = p.tax.tax_free;
    let vat = p.tax.vat_amount.unwrap_or_else(|| {
        let taxable = p.amount - tax_free;
        taxable - (taxable * 10 + 5) / 11
    });
    json!({
        "status": status,
        "id": p.merchant_uid,
        "transactionId": p.imp_uid,
        "merchantId": "merchant-sim",
        "storeId": "store-sim",
        "version": if p.v2 { "V2" } else { "V1" },
        "channel": {"type": if p.sandbox { "TEST" } else { "LIVE" }, "pgProvider": p.pg_provider.to_uppercase(), "pgMerchantId": "sim"},
        "method": {"type": method},
        "orderName": p.name,
        "amount": {"total": p.amount, "taxFree": tax_free, "vat": vat, "supply": p.amount - tax_free - vat,
                   "discount": 0, "paid": p.amount, "cancelled": p.cancel_amount,
                   "cancelledTaxFree": p.tax.tax_free_cancelled},
        "currency": p.currency,
        "customer": {"name": p.buyer_name, "email": p.buyer_email},
        "requestedAt": rfc3339(p.started_at),
        "updatedAt": rfc3339(p.cancelled_at.max(p.paid_at)),
        "statusChangedAt": rfc3339(p.cancelled_at.max(p.paid_at)),
        "paidAt": rfc3339(p.paid_at),
        "cancelledAt": (p.cancelled_at > 0).then(|| rfc3339(p.cancelled_at)),
        "receiptUrl": p.receipt_url,
        "disputes": [],
        "cancellations": p.v2_cancellations,
    })
}

async fn payment(
    State(sim): State<Sim>,
    Path(payment_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    sim.stats.payment_reads.fetch_add(1, Ordering::Relaxed);
    let fired = sim.fire(FaultEndpoint::Payment).await;
    if let Some(status) = fired.error_before {
        return crate::bare_status(status);
    }
    if !authorised(&sim, &headers) {
        return respond(error(401, "UNAUTHORIZED", "인증 정보가 올바르지 않습니다."));
    }
    let ledger = sim.ledger.lock().await;
    match ledger.by_payment_id(&payment_id) {
        Some(p) => (StatusCode::OK, Json(to_v2(p))).into_response(),
        None => respond(error(404, "PAYMENT_NOT_FOUND", "결제 건이 존재하지 않습니다.")),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelBody {
    reason: String,
    #[serde(default)]
    amount: Option<i64>,
    #[serde(default)]
    tax_free_amount: Option<i64>,
    #[serde(default)]
    vat_amount: Option<i64>,
    #[serde(default)]
    current_cancellable_amount: Option<i64>,
    #[serde(default)]
    refund_account: Option<Value>,
}

async fn cancel(
    State(sim): State<Sim>,
    Path(payment_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    crate::in_own_task(cancel_request(sim, payment_id, headers, body)).await
}

async fn cancel_request(sim: Sim, payment_id: String, headers: HeaderMap, body: Bytes) -> Response {
    sim.stats.cancel_calls.fetch_add(1, Ordering::Relaxed);
    let fired = sim.fire(FaultEndpoint::Cancel).await;
    if let Some(status) = fired.error_before {
        return crate::bare_status(status);
    }
    if !authorised(&sim, &headers) {
        return respond(error(401, "UNAUTHORIZED", "인증 정보가 올바르지 않습니다."));
    }
    // The key, as an RFC 8941 string.
    let key = match headers.get("idempotency-key").map(|v| v.to_str().unwrap_or_default()) {
        None => None,
        Some(quoted) => match quoted.strip_prefix('"').and_then(|k| k.strip_suffix('"')) {
            Some(k) if (16..=256).contains(&k.len()) => Some(k.to_string()),
            _ => {
                return respond(error(
                    400,
                    "INVALID_REQUEST",
                    "Idempotency-Key가 올바르지 않습니다.",
                ))
            }
        },
    };
    let now = sim.now();
    if let Some(key) = &key {
        let mut keys = sim.idempotency.lock().expect("idempotency");
        keys.retain(|_, k| now - k.at < KEY_LIFETIME_S);
        match keys.get(&(payment_id.clone(), key.clone())) {
            Some(k) if k.body != body => {
                return respond(error(
                    400,
                    "INVALID_REQUEST",
                    "이 Idempotency-Key는 다른 요청에 사용되었습니다.",
                ))
            }
            Some(Idempotent { answer: Some(first), .. }) => return respond(first.clone()),
            Some(_) => {
                return respond(error(
                    409,
                    "IDEMPOTENCY_OUTSTANDING_REQUEST",
                    "같은 Idempotency-Key의 요청이 처리 중입니다.",
                ))
            }
            None => {
                keys.insert(
                    (payment_id.clone(), key.clone()),
                    Idempotent { body: body.clone(), answer: None, at: now },
                );
            }
        }
    }
    let answer = decide_cancel(&sim, &payment_id, &body, &fired).await;
    if let Some(key) = &key {
        if let Some(k) =
            sim.idempotency.lock().expect("idempotency").get_mut(&(payment_id, key.clone()))
        {
            k.answer = Some(answer.clone());
        }
    }
    if fired.drop_after {
        crate::drop_connection();
    }
    if let Some(status) = fired.error_after {
        return crate::bare_status(status);
    }
    respond(answer)
}

/// Checks a cancel against the payment and applies it (or accepts it, for a virtual account
/// with a delay): the answer a replay of the same key gets too.
async fn decide_cancel(
    sim: &Sim,
    payment_id: &str,
    body: &Bytes,
    fired: &crate::faults::Fired,
) -> (u16, Value) {
    let req: CancelBody = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => return error(400, "INVALID_REQUEST", &e.to_string()),
    };
    let Some(imp_uid) = sim.ledger.lock().await.by_merchant_uid.get(payment_id).cloned() else {
        return error(404, "PAYMENT_NOT_FOUND", "결제 건이 존재하지 않습니다.");
    };
    let held = sim.serialise(&imp_uid).await;
    let (parts, vbank) = {
        let ledger = sim.ledger.lock().await;
        let Some(p) = ledger.by_imp_uid.get(&imp_uid) else {
            return error(404, "PAYMENT_NOT_FOUND", "결제 건이 존재하지 않습니다.");
        };
        // what V2 still cancels: less what is accepted and not yet applied
        let requested: i64 = p
            .v2_cancellations
            .iter()
            .filter(|c| c.status == "REQUESTED")
            .map(|c| c.total_amount)
            .sum();
        let cancellable = p.cancellable() - requested;
        if !matches!(p.status, Status::Paid | Status::Cancelled) {
            return error(409, "PAYMENT_NOT_PAID", "결제가 완료되지 않았습니다.");
        }
        if cancellable <= 0 {
            return error(409, "PAYMENT_ALREADY_CANCELLED", "결제가 이미 취소되었습니다.");
        }
        if req.current_cancellable_amount.is_some_and(|c| c != cancellable) {
            return error(
                409,
                "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN",
                "취소 가능 잔액 검증에 실패했습니다.",
            );
        }
        let amount = req.amount.unwrap_or(cancellable);
        if amount <= 0 || amount > cancellable {
            return error(
                409,
                "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT",
                "결제 취소 금액이 취소 가능 금액을 초과했습니다.",
            );
        }
        let auto = CancelParts::split_by_portone(p, amount);
        let parts = CancelParts {
            amount,
            tax_free: req.tax_free_amount.unwrap_or(auto.tax_free),
            vat: req.vat_amount.unwrap_or(auto.vat),
        };
        let left = p.tax.remaining(p.amount, p.cancellable());
        if parts.tax_free > left.tax_free || parts.tax_free + parts.vat > amount {
            return error(
                409,
                "CANCEL_TAX_FREE_AMOUNT_EXCEEDS_CANCELLABLE_TAX_FREE_AMOUNT",
                "면세 취소 금액이 취소 가능한 면세 금액을 초과했습니다.",
            );
        }
        let vbank = p.pay_method == "vbank";
        if vbank && req.refund_account.is_none() {
            return error(400, "INVALID_REQUEST", "가상계좌 환불에는 refundAccount가 필요합니다.");
        }
        (parts, vbank)
    };
    if let Some(message) = &fired.pg_reject {
        return error(502, "PG_PROVIDER", message);
    }
    if fired.delay_apply_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fired.delay_apply_ms)).await;
    }
    let delay = sim.v2_vbank_delay_ms.load(Ordering::Relaxed);
    if vbank && delay > 0 {
        let (accepted, payment) = accept(sim, &imp_uid, &parts, &req.reason).await;
        drop(held);
        let (sim, reason, id) = (sim.clone(), req.reason.clone(), accepted.id.clone());
        tokio::spawn(async move {
            if let Some(p) = &payment {
                send_webhook(&sim, "Transaction.CancelPending", p, Some(&id)).await;
            }
            tokio::time::sleep(Duration::from_millis(delay)).await;
            if sim.v2_vbank_fail.load(Ordering::Relaxed) {
                // the PG gave up: no money moved (PortOne sends no webhook type for this)
                let mut ledger = sim.ledger.lock().await;
                if let Some(p) = ledger.by_imp_uid.get_mut(&imp_uid) {
                    for c in
                        Arc::make_mut(&mut p.v2_cancellations).iter_mut().filter(|c| c.id == id)
                    {
                        c.status = "FAILED".into();
                    }
                }
            } else if let Ok((p, _)) = sim.apply_as(&imp_uid, parts, reason, "API", Some(&id)).await
            {
                send_webhook(&sim, cancelled_kind(&p), &p, Some(&id)).await;
            }
        });
        return (200, json!({"cancellation": accepted}));
    }
    let applied = sim.apply(&imp_uid, parts, req.reason.clone()).await;
    drop(held);
    match applied {
        Ok((p, entry)) => {
            let c = p.v2_cancellations.iter().find(|c| c.id == entry.cancellation_id).cloned();
            let sim = sim.clone();
            tokio::spawn(async move {
                send_webhook(&sim, cancelled_kind(&p), &p, Some(&entry.cancellation_id)).await;
            });
            (200, json!({"cancellation": c}))
        }
        Err(message) => error(409, "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT", &message),
    }
}

/// Records an accepted cancellation (`REQUESTED`): no money moves until the PG applies it.
async fn accept(
    sim: &Sim,
    imp_uid: &str,
    parts: &CancelParts,
    reason: &str,
) -> (V2Cancellation, Option<SimPayment>) {
    let now = sim.now();
    let accepted = V2Cancellation {
        status: "REQUESTED".into(),
        id: format!("cancel_{}", sim.hex(20)),
        pg_cancellation_id: None,
        total_amount: parts.amount,
        tax_free_amount: parts.tax_free,
        vat_amount: parts.vat,
        reason: reason.to_string(),
        requested_at: rfc3339(now),
        cancelled_at: None,
        receipt_url: None,
        trigger: "API".into(),
    };
    let mut ledger = sim.ledger.lock().await;
    let payment = ledger.by_imp_uid.get_mut(imp_uid).map(|p| {
        Arc::make_mut(&mut p.v2_cancellations).push(accepted.clone());
        p.clone()
    });
    (accepted, payment)
}

/// `POST /__sim/payments` on the V2 listener: a paid V2 payment.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewV2Payment {
    pub payment_id: String,
    pub amount: i64,
    pub order_name: String,
    /// `card`, `virtualAccount`, `transfer` or `mobile`
    pub method: String,
    pub pg_provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<NewCustomer>,
    #[serde(default)]
    pub tax_free: i64,
    /// send the signed `Transaction.Paid` webhook before answering
    #[serde(default)]
    pub notify: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NewCustomer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

async fn control_create_payment(State(sim): State<Sim>, Json(new): Json<NewV2Payment>) -> Response {
    if new.amount <= 0 || new.tax_free < 0 || new.tax_free > new.amount {
        return respond(error(400, "INVALID_REQUEST", "amount and taxFree must be sensible"));
    }
    let pay_method = match new.method.as_str() {
        "card" => "card",
        "virtualAccount" => "vbank",
        "transfer" => "trans",
        "mobile" => "phone",
        _ => {
            return respond(error(
                400,
                "INVALID_REQUEST",
                "method: card, virtualAccount, transfer or mobile",
            ))
        }
    };
    let customer = new.customer.unwrap_or_default();
    let mut payment = NewPayment {
        merchant_uid: new.payment_id,
        amount: new.amount,
        pay_method: pay_method.into(),
        pg_provider: new.pg_provider.to_lowercase(),
        name: new.order_name,
        buyer_name: customer.name,
        buyer_email: customer.email,
        imp_uid: Some(format!("tx_{}", random_hex(&mut rand::thread_rng(), 16))),
        tax_free: new.tax_free,
        ..Default::default()
    }
    .into_payment(sim.now());
    payment.v2 = true;
    let mut ledger = sim.ledger.lock().await;
    if ledger.by_merchant_uid.contains_key(&payment.merchant_uid) {
        return respond(error(409, "INVALID_REQUEST", "duplicate paymentId"));
    }
    let answer = to_v2(&payment);
    let paid = new.notify.then(|| payment.clone());
    ledger.insert(payment);
    drop(ledger);
    if let Some(paid) = paid {
        send_webhook(&sim, "Transaction.Paid", &paid, None).await;
    }
    (StatusCode::CREATED, Json(answer)).into_response()
}

#[derive(Debug, Deserialize)]
struct ConsoleCancel {
    amount: i64,
    #[serde(default)]
    reason: Option<String>,
}

async fn control_console_cancel(
    State(sim): State<Sim>,
    Path(payment_id): Path<String>,
    Json(body): Json<ConsoleCancel>,
) -> Response {
    let found = {
        let ledger = sim.ledger.lock().await;
        ledger
            .by_payment_id(&payment_id)
            .map(|p| (p.imp_uid.clone(), CancelParts::split_by_portone(p, body.amount)))
    };
    let Some((imp_uid, parts)) = found else {
        return respond(error(404, "PAYMENT_NOT_FOUND", "결제 건이 존재하지 않습니다."));
    };
    let reason = body.reason.unwrap_or_else(|| "관리자 콘솔 취소".into());
    match sim.apply_as(&imp_uid, parts, reason, "CONSOLE", None).await {
        Ok((p, entry)) => {
            let webhook =
                send_webhook(&sim, cancelled_kind(&p), &p, Some(&entry.cancellation_id)).await;
            (StatusCode::OK, Json(json!({"payment": to_v2(&p), "webhook": webhook})))
                .into_response()
        }
        Err(message) => respond(error(409, "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT", &message)),
    }
}
