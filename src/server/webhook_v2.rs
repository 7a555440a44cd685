//! `POST /portone/webhook/v2`: PortOne V2's webhook, signed per Standard Webhooks with the
//! shop's `PORTONE_V2_WEBHOOK_SECRET`. A body that does not verify — a wrong signature, or a
//! timestamp more than five minutes off — is answered 401 and does nothing. A verified one is,
//! as in V1, only a hint of which payment changed: the payment is read back from PortOne
//! (`webhook::answer`) before anything is stored.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use crate::model::ApiVersion;
use crate::server::webhook::{answer, counted, Hint, ImportRules};
use crate::server::AppState;
use portone_v2::WebhookType;

pub const PATH: &str = "/portone/webhook/v2";

pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let Some(verifier) = state.v2_webhooks.as_deref() else {
        tracing::warn!("a V2 webhook arrived, and PORTONE_V2_WEBHOOK_SECRET is not set");
        counted("unauthorized");
        return StatusCode::UNAUTHORIZED;
    };
    let event = match verifier.verify(&headers, &body) {
        Ok(event) => event,
        Err(refusal) => {
            tracing::warn!(%refusal, "V2 webhook refused");
            counted("unauthorized");
            return StatusCode::UNAUTHORIZED;
        }
    };
    match event.kind {
        WebhookType::TransactionPaid
        | WebhookType::TransactionPartialCancelled
        | WebhookType::TransactionCancelled
        | WebhookType::TransactionCancelPending => {}
        // PortOne adds types; only these concern refunds
        WebhookType::Other => {
            counted("ignored");
            return StatusCode::OK;
        }
    }
    let Some(payment_id) = event.data.payment_id.as_deref() else {
        tracing::warn!(kind = ?event.kind, "a verified V2 webhook without a paymentId");
        counted("bad_request");
        return StatusCode::BAD_REQUEST;
    };
    // Only an id of our merchant_uid's shape reaches a query or a log line.
    if !crate::model::valid_merchant_uid(payment_id) {
        tracing::warn!("V2 webhook with a malformed paymentId");
        counted("bad_request");
        return StatusCode::BAD_REQUEST;
    }
    let rules = ImportRules::of(&state.settings);
    let hint = Hint {
        version: ApiVersion::V2,
        id: payment_id,
        cancellation_id: event.data.cancellation_id.as_deref(),
    };
    answer(&state, hint, &rules).await
}
