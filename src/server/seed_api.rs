//! `POST /payments/cancel`: PortOne's refund guide's own endpoint, in the guide's request
//! shape, so its jQuery and React snippets work unchanged from a signed-in page.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use tower_sessions::Session;

use crate::error::AppError;
use crate::model::{RefundOutcome, RefundOutcomeStatus};
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
    let user = match auth::session_user(&session, &state.pool, &state.users).await {
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
        // the guide's snippet sends no key: a retry of the same request is recognised by what
        // it asks for
        keyless_within: req.idempotency_key.is_none().then_some(refund::KEYLESS_RETRY_WINDOW),
    };
    let answer =
        refund::answer_refund(&state.pool, &state.portone, &state.settings.pipeline, &user, cmd)
            .await;
    let refund::Answer { outcome: o, payment } = match answer {
        Ok(answer) => answer,
        Err(e) => return error_response(e),
    };
    let (status, said) = outcome_answer(&o);
    match o.status {
        // PortOne's payment as it answered our cancel; a replayed request has none at hand
        RefundOutcomeStatus::Succeeded => match payment {
            Some(payment) => {
                let json = [(header::CONTENT_TYPE, "application/json")];
                (status, json, payment.into_text()).into_response()
            }
            None => message(status, said),
        },
        RefundOutcomeStatus::Pending => {
            (status, Json(json!({"status": "pending", "message": said}))).into_response()
        }
        // beyond the shop's approval policy: accepted, and waiting for an admin
        RefundOutcomeStatus::Requested => (
            status,
            Json(json!({"status": "requested", "refund_id": o.refund_id, "message": said})),
        )
            .into_response(),
        // failed at PortOne, or a replayed request that has since been decided
        RefundOutcomeStatus::Failed
        | RefundOutcomeStatus::Withdrawn
        | RefundOutcomeStatus::Rejected => message(status, said),
    }
}

/// A recorded outcome as a JSON caller is answered (this endpoint and the shop's API): the
/// HTTP status and the Korean sentence.
pub fn outcome_answer(o: &RefundOutcome) -> (StatusCode, String) {
    let reason = || o.message.clone().unwrap_or_default();
    match o.status {
        RefundOutcomeStatus::Succeeded => (StatusCode::OK, "환불되었습니다.".to_string()),
        RefundOutcomeStatus::Pending => {
            (StatusCode::ACCEPTED, crate::model::PENDING_EXPLANATION.to_string())
        }
        RefundOutcomeStatus::Requested => {
            (StatusCode::ACCEPTED, crate::model::REQUESTED_EXPLANATION.to_string())
        }
        RefundOutcomeStatus::Failed => {
            (StatusCode::UNPROCESSABLE_ENTITY, AppError::Gateway(reason()).to_string())
        }
        RefundOutcomeStatus::Withdrawn => {
            (StatusCode::CONFLICT, "철회한 환불 요청입니다.".to_string())
        }
        RefundOutcomeStatus::Rejected => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("환불 요청이 거절되었습니다. 사유: {}", reason()),
        ),
    }
}
