//! The refund pipeline: lookup → validate → reserve (tx1) → cancel at PortOne (no transaction
//! open) → record (tx2). Plain async Rust without Leptos types, so tests call it directly.
//!
//! Exactly once: an idempotency key per form, a row lock plus a one-pending-per-payment index
//! in tx1, and PortOne's `checksum` as an independent guard. When PortOne's answer is unknown
//! the refund stays `pending` and the reconciler finishes it.

pub mod reconcile;
pub mod rules;
mod store;

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tracing::instrument;
use uuid::Uuid;

use crate::model::{CurrentUser, RefundOutcome, RefundOutcomeStatus, Role};
use crate::server::portone::{CancelExtra, CancelRequest, PortOneClient, PortOneError, Requester};
pub use store::{latest_outcome, sync_payment};

/// The payment-writing functions other modules (webhook, demo data) share with the pipeline.
pub mod store_api {
    pub use super::store::{import_payment, sync_payment_by_id};
}

/// A refund request as the pipeline receives it.
#[derive(Clone, Debug)]
pub struct RefundCommand {
    pub merchant_uid: String,
    pub form: rules::RefundForm,
    pub idempotency_key: Uuid,
}

/// Why a refund request ended without a recorded outcome.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    /// No such order, or not this user's: indistinguishable on purpose.
    #[error("order not found")]
    NotFound,
    /// A rule said no; the sentence is for the user.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The idempotency key was used before with other input.
    #[error("idempotency key reused with different input")]
    KeyReused,
    /// Too many refund requests from this customer in a short time.
    #[error("rate limited")]
    RateLimited,
    #[error("internal: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for RefundError {
    fn from(e: sqlx::Error) -> Self {
        RefundError::Internal(e.to_string())
    }
}

impl From<RefundError> for crate::error::AppError {
    fn from(e: RefundError) -> Self {
        use crate::error::AppError;
        match e {
            RefundError::NotFound => AppError::NotFound,
            RefundError::Rejected(m) => AppError::Rejected(m),
            RefundError::KeyReused => {
                AppError::Rejected("이미 사용된 환불 요청입니다. 페이지를 새로고침한 뒤 다시 시도해 주세요.".into())
            }
            RefundError::RateLimited => AppError::RateLimited,
            RefundError::Internal(m) => crate::server::auth::internal(m),
        }
    }
}

/// Tunables; tests shorten them.
#[derive(Clone, Debug)]
pub struct PipelineSettings {
    /// How long a request waits for another refund of the same payment to finish.
    pub pending_wait: Duration,
    /// Refund requests a customer may make per minute (admins are not limited).
    pub customer_requests_per_minute: i64,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings { pending_wait: Duration::from_secs(10), customer_requests_per_minute: 60 }
    }
}

/// What the request asked for, hashed: a replay must ask for exactly the same.
fn fingerprint(user: &CurrentUser, cmd: &RefundCommand) -> String {
    let f = &cmd.form;
    let amount = f.amount.as_deref().map(|a| match rules::parse_won(a) {
        Ok(v) => format!("{v:?}"),
        Err(_) => a.trim().to_string(),
    });
    let digits = f.refund_account.as_deref().map(|a| a.chars().filter(char::is_ascii_digit).collect::<String>());
    let trimmed = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or_default().to_string();
    let canonical = serde_json::json!([
        user.id,
        cmd.merchant_uid,
        amount,
        f.reason.trim(),
        trimmed(&f.refund_holder),
        trimmed(&f.refund_bank),
        digits,
    ]);
    format!("{:x}", Sha256::digest(canonical.to_string().as_bytes()))
}

/// Requests a refund for `user`. Returns the recorded outcome (succeeded, failed at the
/// gateway, or pending when PortOne's answer is unknown); `Err` when nothing was reserved.
#[instrument(skip_all, fields(merchant_uid = %cmd.merchant_uid, user_id = user.id, key = %cmd.idempotency_key))]
pub async fn request_refund(
    pool: &PgPool,
    portone: &PortOneClient,
    settings: &PipelineSettings,
    user: &CurrentUser,
    cmd: RefundCommand,
) -> Result<RefundOutcome, RefundError> {
    let actor = store::actor(user);
    if user.role == Role::Customer && store::recent_requests(pool, &actor).await? >= settings.customer_requests_per_minute {
        tracing::warn!(%actor, "refund requests rate limited");
        return Err(RefundError::RateLimited);
    }
    let Some(payment) = store::payment_for(pool, user, &cmd.merchant_uid).await? else {
        store::audit(pool, None, None, "rejected", &actor, serde_json::json!({"reason": "not found", "merchant_uid": cmd.merchant_uid})).await?;
        return Err(RefundError::NotFound);
    };
    let fingerprint = fingerprint(user, &cmd);
    let deadline = tokio::time::Instant::now() + settings.pending_wait;
    let reserved = loop {
        match store::reserve(pool, &payment, user, &cmd, &fingerprint).await? {
            store::Reservation::Reserved(r) => break r,
            store::Reservation::Replay(outcome) => return Ok(outcome),
            store::Reservation::KeyReused => return Err(RefundError::KeyReused),
            store::Reservation::Rejected(message) => {
                store::audit(pool, None, Some(payment.id), "rejected", &actor, serde_json::json!({"reason": message})).await?;
                return Err(RefundError::Rejected(message));
            }
            // Another refund of this payment is in flight: wait for it (it usually takes
            // milliseconds), then validate again against the new balance.
            store::Reservation::Busy if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            store::Reservation::Busy => {
                let message = rules::REFUND_IN_PROGRESS.to_string();
                store::audit(pool, None, Some(payment.id), "rejected", &actor, serde_json::json!({"reason": message})).await?;
                return Err(RefundError::Rejected(message));
            }
        }
    };

    let request = cancel_request(&payment.imp_uid, &reserved, user.role);
    let result = portone.cancel(&request).await;
    store::settle(pool, portone, &reserved, result, &actor).await
}

/// The PortOne cancel for a reserved refund; identical on every resend (same checksum).
pub(crate) fn cancel_request(imp_uid: &str, r: &store::Reserved, role: Role) -> CancelRequest {
    CancelRequest {
        imp_uid: Some(imp_uid.to_string()),
        amount: Some(r.amount),
        checksum: Some(r.checksum),
        reason: Some(r.reason.clone()),
        refund_holder: r.account.as_ref().map(|a| a.holder.clone()),
        refund_bank: r.account.as_ref().map(|a| a.bank.clone()),
        refund_account: r.account.as_ref().map(|a| a.number.clone()),
        extra: Some(CancelExtra {
            requester: Some(if role == Role::Admin { Requester::Admin } else { Requester::Customer }),
        }),
        ..Default::default()
    }
}

/// How one PortOne answer to a cancel is classified.
#[derive(Debug, PartialEq)]
pub enum CancelOutcome {
    Succeeded,
    Failed { code: Option<i64>, message: String },
    Unknown,
}

pub fn classify(result: &Result<crate::server::portone::Payment, PortOneError>) -> CancelOutcome {
    match result {
        Ok(_) => CancelOutcome::Succeeded,
        Err(e) if e.outcome_unknown() => CancelOutcome::Unknown,
        Err(PortOneError::Refused { code, message, .. }) => CancelOutcome::Failed { code: Some(*code), message: message.clone() },
        Err(PortOneError::Unauthorized) => {
            CancelOutcome::Failed { code: None, message: "PortOne 인증에 실패했습니다. 관리자에게 문의해 주세요.".into() }
        }
        Err(_) => CancelOutcome::Unknown,
    }
}

pub(crate) fn outcome_status(status: &str) -> RefundOutcomeStatus {
    match status {
        "succeeded" => RefundOutcomeStatus::Succeeded,
        "failed" => RefundOutcomeStatus::Failed,
        _ => RefundOutcomeStatus::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_never_guesses_an_unknown_outcome() {
        use PortOneError::*;
        let refused = Err(Refused { status: 200, code: 1, message: "이미 전액취소된 주문입니다.".into() });
        assert!(matches!(classify(&refused), CancelOutcome::Failed { code: Some(1), .. }));
        assert!(matches!(classify(&Err(Refused { status: 400, code: -1, message: "bad".into() })), CancelOutcome::Failed { .. }));
        assert_eq!(classify(&Err(Refused { status: 500, code: -1, message: "x".into() })), CancelOutcome::Unknown);
        assert_eq!(classify(&Err(HttpStatus { status: 502 })), CancelOutcome::Unknown);
        assert_eq!(classify(&Err(Timeout)), CancelOutcome::Unknown);
        assert_eq!(classify(&Err(Connection("reset".into()))), CancelOutcome::Unknown);
        assert_eq!(classify(&Err(Decode("eof".into()))), CancelOutcome::Unknown);
        assert!(matches!(classify(&Err(Unauthorized)), CancelOutcome::Failed { code: None, .. }));
    }
}
