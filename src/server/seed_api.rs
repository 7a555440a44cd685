//! `POST /payments/cancel`: PortOne's refund guide's own endpoint, in the guide's request
//! shape, so its jQuery and React snippets work unchanged from a signed-in page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tower_sessions::Session;

use crate::error::AppError;
use crate::model::RefundOutcomeStatus;
use crate::server::error::ServerError;
use crate::server::refund::{self, rules::RefundForm, RefundCommand};
use crate::server::{auth, AppState};

/// The request shape of PortOne's refund guide, so its jQuery/React snippets work unchanged.
#[derive(Debug, Deserialize)]
pub struct SeedRefundRequest {
    merchant_uid: String,
    #[serde(default)]
    cancel_request_amount: Option<Value>,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    refund_holder: Option<String>,
    #[serde(default)]
    refund_bank: Option<String>,
    #[serde(default)]
    refund_account: Option<String>,
    #[serde(default)]
    refund_tel: Option<String>,
    /// Optional: lets a client make retries safe. The guide's snippet sends none.
    #[serde(default)]
    idempotency_key: Option<uuid::Uuid>,
}

fn message(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(json!({"message": text.into()}))).into_response()
}

/// An error as the JSON caller sees it: its status, a Korean sentence without internals (the
/// cause is logged by the conversion), and `Retry-After` when the database is away.
fn error_response(e: ServerError) -> Response {
    let status = e.status();
    let mut response = message(status, AppError::from(e).to_string());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(crate::server::health::RETRY_AFTER_SECS),
        );
    }
    response
}

/// `POST /payments/cancel` from a signed-in page: 200 with the synced payment, 202 while the
/// outcome is unknown, 4xx with `{message}` when refused.
pub async fn refund(
    State(state): State<AppState>,
    session: Session,
    body: Json<SeedRefundRequest>,
) -> Response {
    let Json(req) = body;
    let user = match auth::session_user(&session, &state.pool).await {
        Ok(Some(user)) => user,
        Ok(None) => return message(StatusCode::UNAUTHORIZED, AppError::NotSignedIn.to_string()),
        Err(e) => return error_response(e),
    };
    let amount = match req.cancel_request_amount {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(v) => Some(v.to_string()),
    };
    let cmd = RefundCommand {
        merchant_uid: req.merchant_uid.clone(),
        form: RefundForm {
            amount,
            reason: req.reason,
            refund_holder: req.refund_holder,
            refund_bank: req.refund_bank,
            refund_account: req.refund_account,
            refund_tel: req.refund_tel,
            ..Default::default()
        },
        idempotency_key: req.idempotency_key.unwrap_or_else(uuid::Uuid::new_v4),
    };
    let answer =
        refund::answer_refund(&state.pool, &state.portone, &state.settings.pipeline, &user, cmd)
            .await;
    match answer {
        Ok(refund::Answer { outcome: o, payment }) => match o.status {
            // PortOne's payment as it answered our cancel; a replayed request has none at hand
            RefundOutcomeStatus::Succeeded => match payment {
                Some(payment) => (StatusCode::OK, Json(payment)).into_response(),
                None => message(StatusCode::OK, "환불되었습니다."),
            },
            RefundOutcomeStatus::Pending => (
                StatusCode::ACCEPTED,
                Json(json!({"status": "pending", "message": crate::model::PENDING_EXPLANATION})),
            )
                .into_response(),
            RefundOutcomeStatus::Failed => message(
                StatusCode::UNPROCESSABLE_ENTITY,
                AppError::Gateway(o.message.unwrap_or_default()).to_string(),
            ),
            // beyond the shop's approval policy: accepted, and waiting for an admin
            RefundOutcomeStatus::Requested => (
                StatusCode::ACCEPTED,
                Json(json!({"status": "requested", "refund_id": o.refund_id,
                            "message": crate::model::REQUESTED_EXPLANATION})),
            )
                .into_response(),
            // a replayed request that has since been decided
            RefundOutcomeStatus::Withdrawn => {
                message(StatusCode::CONFLICT, "철회한 환불 요청입니다.")
            }
            RefundOutcomeStatus::Rejected => message(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("환불 요청이 거절되었습니다. 사유: {}", o.message.unwrap_or_default()),
            ),
        },
        Err(e) => error_response(e),
    }
}
