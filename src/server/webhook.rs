//! `POST /portone/webhook`: PortOne's V1 notification. The body is only a hint of which
//! payment changed; everything stored is re-derived from PortOne's own answer, so a forged
//! or repeated webhook changes nothing wrong.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use sqlx::PgPool;
use tracing::instrument;

use crate::server::error::ServerError;
use crate::server::payments::import_payment;
use crate::server::refund::observe::refresh;
use crate::server::AppState;
use portone_v1::{PortOneClient, PortOneError, WebhookNotice};

#[derive(Debug, PartialEq)]
pub enum WebhookEffect {
    /// A payment we did not know, now stored (owner found by buyer e-mail, if any).
    Imported { owner_found: bool },
    /// A known payment, synced; how many cancel_history entries were new.
    Synced { new_cancellations: u64 },
    /// PortOne does not know the payment (or it is not paid): nothing to do.
    Ignored,
}

pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let notice: Result<WebhookNotice, String> = if is_form {
        serde_urlencoded::from_bytes(&body).map_err(|e| e.to_string())
    } else {
        serde_json::from_slice(&body).map_err(|e| e.to_string())
    };
    let counted = |result: &'static str| {
        metrics::counter!("webhooks_total", "result" => result).increment(1);
    };
    let Ok(notice) = notice.map_err(|e| tracing::warn!(error = %e, "unreadable webhook")) else {
        counted("bad_request");
        return StatusCode::BAD_REQUEST;
    };
    // Only PortOne's shape of id reaches a query or a log line.
    if !crate::model::valid_imp_uid(&notice.imp_uid) {
        tracing::warn!("webhook with a malformed imp_uid");
        counted("bad_request");
        return StatusCode::BAD_REQUEST;
    }
    match process(&state.pool, &state.portone, &notice, &ImportRules::of(&state.settings)).await {
        Ok(effect) => {
            tracing::info!(imp_uid = %notice.imp_uid, ?effect, "webhook processed");
            counted(match effect {
                WebhookEffect::Imported { .. } => "imported",
                WebhookEffect::Synced { .. } => "synced",
                WebhookEffect::Ignored => "ignored",
            });
            StatusCode::OK
        }
        Err(e) => {
            tracing::error!(imp_uid = %notice.imp_uid, error = %e, "webhook processing failed");
            counted("error");
            // a 5xx lets PortOne's retry (when enabled) try again
            if e.unavailable() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

/// What a payment PortOne tells us of may become here.
#[derive(Clone, Copy, Debug)]
pub struct ImportRules {
    /// import PortOne's test-mode payments (the demo's setting)
    pub allow_test_payments: bool,
    /// without an order registration, the owner is the account with the payer's e-mail
    pub owner_from_buyer_email: bool,
}

impl ImportRules {
    pub fn of(settings: &crate::server::config::Settings) -> ImportRules {
        ImportRules {
            allow_test_payments: settings.allow_test_payments,
            owner_from_buyer_email: settings.owner_from_buyer_email,
        }
    }
}

/// Test-mode payments are imported only with `allow_test_payments` (the demo's setting), and
/// only KRW payments at all: amounts here are whole won.
#[instrument(skip_all, fields(imp_uid = %notice.imp_uid))]
pub async fn process(
    pool: &PgPool,
    portone: &PortOneClient,
    notice: &WebhookNotice,
    rules: &ImportRules,
) -> Result<WebhookEffect, ServerError> {
    let allow_test_payments = rules.allow_test_payments;
    let known = sqlx::query_scalar!("select id from payments where imp_uid = $1", notice.imp_uid)
        .fetch_optional(pool)
        .await?;
    if let Some(id) = known {
        let new_cancellations = refresh(pool, portone, id, &notice.imp_uid).await?.new_entries;
        return Ok(WebhookEffect::Synced { new_cancellations });
    }
    let payment = match portone.payment(&notice.imp_uid, allow_test_payments).await {
        Ok(p) => p,
        Err(PortOneError::Refused { status: 404, .. }) => return Ok(WebhookEffect::Ignored),
        Err(e) => return Err(e.into()),
    };
    if payment.currency != "KRW" || (payment.sandbox && !allow_test_payments) {
        return Ok(WebhookEffect::Ignored);
    }
    if !matches!(payment.status.as_str(), "paid" | "cancelled") {
        return Ok(WebhookEffect::Ignored);
    }
    let owner = import_payment(pool, &payment, rules.owner_from_buyer_email).await?;
    if let Some(id) =
        sqlx::query_scalar!("select id from payments where imp_uid = $1", payment.imp_uid)
            .fetch_optional(pool)
            .await?
    {
        crate::server::refund::observe::refresh_balance(pool, portone, id, &payment.imp_uid).await;
    }
    Ok(WebhookEffect::Imported { owner_found: owner.is_some() })
}
