//! The shop's server API under `/api/v1`, authenticated by `Authorization: Bearer <key>`:
//! register orders with their owners, list an order's refunds, and refund through the same
//! pipeline as every refund (requester `shop`). Errors are `{"message"}` in Korean; a missing,
//! unknown or revoked key is 401 and nothing more.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::keys::{self, ShopCaller};
use super::orders::{self, OrderRegistration};
use crate::error::AppError;
use crate::model::admin::AuditKind;
use crate::model::{RefundOutcome, Role};
use crate::server::error::ServerError;
use crate::server::outbox;
use crate::server::refund::{self, rules::RefundForm, RefundCommand};
use crate::server::AppState;

/// The largest body the API reads (an order or a refund is a few hundred bytes).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orders/{merchant_uid}", put(register_order))
        .route("/api/v1/orders/{merchant_uid}/refunds", get(list_refunds).post(refund_order))
        .route("/api/v1/webhook-endpoints", get(list_endpoints).post(add_endpoint))
        .route("/api/v1/webhook-endpoints/{id}", axum::routing::delete(delete_endpoint))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The API's one error: a status and a Korean sentence, answered as `{"message"}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"message": self.message}))).into_response()
    }
}

/// The cause is logged by the conversion to `AppError`; the shop gets its sentence.
impl From<ServerError> for ApiError {
    fn from(e: ServerError) -> ApiError {
        let status = match &e {
            ServerError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            other => other.status(),
        };
        ApiError::new(status, AppError::from(e).to_string())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        ServerError::from(e).into()
    }
}

/// The key's caller, or the answer to give: 401 for a missing, unknown or revoked key (the
/// same words for each), 429 past the key's per-minute budget.
async fn caller(state: &AppState, headers: &HeaderMap) -> Result<ShopCaller, ApiError> {
    let unauthorized = || ApiError::new(StatusCode::UNAUTHORIZED, "API 키가 올바르지 않습니다.");
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(presented) = presented else { return Err(unauthorized()) };
    let Some(caller) = keys::authenticate(&state.pool, presented).await? else {
        metrics::counter!("api_requests_total", "answer" => "unauthorized").increment(1);
        return Err(unauthorized());
    };
    if refund::count_request(&state.pool, &caller.actor()).await?
        > state.settings.api_requests_per_minute
    {
        tracing::warn!(api_key_id = caller.api_key_id, "API key rate limited");
        metrics::counter!("api_requests_total", "answer" => "rate_limited").increment(1);
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            AppError::RateLimited.to_string(),
        ));
    }
    metrics::counter!("api_requests_total", "answer" => "accepted").increment(1);
    tracing::info!(api_key_id = caller.api_key_id, "API request");
    Ok(caller)
}

/// A JSON body of type `T`: 413 past the limit, 422 naming the field that is wrong, unknown
/// or missing.
fn body<T: DeserializeOwned>(bytes: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = bytes.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, format!("요청 본문은 {MAX_BODY_BYTES}바이트를 넘을 수 없습니다."))
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "요청 본문을 읽지 못했습니다.")
        }
    })?;
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let text = inner.to_string();
        // a field named in serde's message, with where it sits (`customer.` or nothing)
        let named = |prefix: &str| {
            let field = text.strip_prefix(prefix)?.split('`').next().unwrap_or_default();
            let at =
                if path == "." || path.is_empty() { String::new() } else { format!("{path}.") };
            Some(format!("{at}{field}"))
        };
        let said = if let Some(field) = named("unknown field `") {
            format!("알 수 없는 필드입니다: {field}")
        } else if let Some(field) = named("missing field `") {
            format!("{field} 필드가 필요합니다.")
        } else if inner.is_syntax() || inner.is_eof() {
            "JSON 형식이 올바르지 않습니다.".to_string()
        } else {
            format!("{path} 값이 올바르지 않습니다.")
        };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, said)
    })
}

/// `PUT /api/v1/orders/{merchant_uid}`: 201 when the order is new, 200 when updated.
async fn register_order(
    State(state): State<AppState>,
    Path(merchant_uid): Path<String>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers).await?;
    let registration: OrderRegistration = body(bytes)?;
    let r = orders::register(
        &state.pool,
        &merchant_uid,
        &registration,
        Some(caller.api_key_id),
        &caller.actor(),
    )
    .await?;
    Ok((
        if r.created { StatusCode::CREATED } else { StatusCode::OK },
        Json(json!({
            "merchant_uid": merchant_uid,
            "customer_id": registration.customer.id.trim(),
            "amount": registration.amount,
            "paid": r.payment_assigned,
            "amount_mismatch": r.amount_mismatch,
        })),
    )
        .into_response())
}

/// One refund of an order, as the shop's server reads it.
#[derive(Debug, Serialize)]
pub struct ApiRefund {
    pub refund_id: uuid::Uuid,
    pub status: crate::model::RefundStatus,
    pub amount: i64,
    pub tax_free: Option<i64>,
    pub vat_amount: Option<i64>,
    pub reason: String,
    /// what PortOne's cancel reason carries, e.g. `R-7F3A2C1D`
    pub reference: String,
    pub requester: Role,
    pub message: Option<String>,
    pub receipt_url: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/orders/{merchant_uid}/refunds`: every refund of the order, oldest first. The
/// read is in the audit trail too: every use of a key is attributable.
async fn list_refunds(
    State(state): State<AppState>,
    Path(merchant_uid): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers).await?;
    if !crate::model::valid_merchant_uid(&merchant_uid) {
        return Err(ServerError::NotFound.into());
    }
    let refunds = order_refunds(&state.pool, &merchant_uid).await?.ok_or(ServerError::NotFound)?;
    let detail = json!({"merchant_uid": merchant_uid, "refunds": refunds.len()});
    refund::audit_event(&state.pool, AuditKind::ApiRefundsRead, &caller.actor(), detail).await?;
    Ok(Json(json!({"merchant_uid": merchant_uid, "refunds": refunds})).into_response())
}

/// The order's refunds; `None` when neither a registration nor a payment has that number.
pub async fn order_refunds(
    pool: &sqlx::PgPool,
    merchant_uid: &str,
) -> Result<Option<Vec<ApiRefund>>, sqlx::Error> {
    let known = sqlx::query_scalar!(
        r#"select exists (select 1 from payments where merchant_uid = $1)
               or exists (select 1 from shop_orders where merchant_uid = $1) as "known!""#,
        merchant_uid
    )
    .fetch_one(pool)
    .await?;
    if !known {
        return Ok(None);
    }
    let rows = sqlx::query!(
        r#"select r.id, r.status as "status: crate::model::RefundStatus", r.amount, r.tax_free, r.vat_amount,
                  r.reason, r.requester_role as "requester: Role", coalesce(r.decision_note, r.portone_message) as message,
                  r.receipt_url, r.created_at as "created_at: DateTime<Utc>", r.finished_at as "finished_at: DateTime<Utc>"
           from refunds r join payments p on p.id = r.payment_id
           where p.merchant_uid = $1 order by r.created_at, r.id"#,
        merchant_uid
    )
    .fetch_all(pool)
    .await?;
    Ok(Some(
        rows.into_iter()
            .map(|r| ApiRefund {
                refund_id: r.id,
                status: r.status,
                amount: r.amount,
                tax_free: r.tax_free,
                vat_amount: r.vat_amount,
                reason: r.reason,
                reference: crate::server::refund::decide::reference(r.id),
                requester: r.requester,
                message: r.message,
                receipt_url: r.receipt_url,
                requested_at: r.created_at,
                finished_at: r.finished_at,
            })
            .collect(),
    ))
}

/// What the shop asks to refund.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiRefundRequest {
    /// omitted: everything still refundable
    #[serde(default)]
    pub amount: Option<i64>,
    pub reason: String,
}

/// The `Idempotency-Key` the shop sends, as the pipeline's key: one per key and API key, so
/// two shops' keys never meet.
fn pipeline_key(api_key_id: i64, key: &str) -> uuid::Uuid {
    let digest = Sha256::digest(format!("{api_key_id}:{key}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// `POST /api/v1/orders/{merchant_uid}/refunds`: answered like the seed endpoint — 200 when
/// PortOne refunded, 202 while its answer is unknown, 422 when refused; the same
/// `Idempotency-Key` again gets the same refund's answer and never a second refund.
async fn refund_order(
    State(state): State<AppState>,
    Path(merchant_uid): Path<String>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers).await?;
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::trim);
    let Some(key) = key.filter(|k| (1..=255).contains(&k.len())) else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Idempotency-Key 헤더(1–255자)가 필요합니다.",
        ));
    };
    let request: ApiRefundRequest = body(bytes)?;
    let cmd = RefundCommand {
        merchant_uid,
        form: RefundForm {
            amount: request.amount.map(|a| a.to_string()),
            reason: request.reason,
            ..Default::default()
        },
        idempotency_key: pipeline_key(caller.api_key_id, key),
        keyless_within: None,
    };
    let answer = refund::answer_refund(
        &state.pool,
        &state.portone,
        &state.settings.pipeline,
        &caller.principal,
        cmd,
    )
    .await;
    match answer {
        Ok(refund::Answer { outcome, .. }) => Ok(outcome_response(outcome)),
        Err(ServerError::KeyReused) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "이 Idempotency-Key는 다른 내용의 환불 요청에 이미 쓰였습니다.",
        )),
        Err(e) => Err(e.into()),
    }
}

fn outcome_response(o: RefundOutcome) -> Response {
    let (status, said) = crate::server::seed_api::outcome_answer(&o);
    (
        status,
        Json(json!({
            "refund_id": o.refund_id,
            "status": o.status.as_str(),
            "amount": o.amount,
            "requested_at": o.requested_at,
            "finished_at": o.finished_at,
            "receipt_url": o.receipt_url,
            "message": said,
        })),
    )
        .into_response()
}

/// `POST /api/v1/webhook-endpoints`'s body.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEndpoint {
    url: String,
    #[serde(default)]
    events: Option<Vec<String>>,
}

/// `POST /api/v1/webhook-endpoints`: 201 `{"id", "secret"}` (the secret shown once), 422 with
/// the reason for a URL or event type refused.
async fn add_endpoint(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers).await?;
    let new: NewEndpoint = body(bytes)?;
    let created = outbox::endpoints::create(
        &state.pool,
        &new.url,
        new.events.as_deref(),
        state.settings.development,
        &caller.actor(),
    )
    .await?;
    match created {
        Ok((id, secret)) => {
            Ok((StatusCode::CREATED, Json(json!({"id": id, "secret": secret}))).into_response())
        }
        Err(why) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, why)),
    }
}

/// `GET /api/v1/webhook-endpoints`: every endpoint, never a secret.
async fn list_endpoints(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    caller(&state, &headers).await?;
    let endpoints = outbox::endpoints::list(&state.pool, 20).await?;
    Ok(Json(json!({"endpoints": endpoints})).into_response())
}

/// `DELETE /api/v1/webhook-endpoints/{id}`: 204, or 404.
async fn delete_endpoint(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = caller(&state, &headers).await?;
    if outbox::endpoints::delete(&state.pool, id, &caller.actor()).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(StatusCode::NOT_FOUND, "없는 수신 주소입니다."))
    }
}
