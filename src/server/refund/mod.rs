//! The refund pipeline: lookup → validate → reserve (tx1) → cancel at PortOne (no transaction
//! open) → record (tx2). Plain async Rust without Leptos types, so tests call it directly.
//!
//! Exactly once: an idempotency key per form, a row lock plus a one-pending-per-payment index
//! in tx1, and PortOne's `checksum` as an independent guard. When PortOne's answer is unknown
//! the refund stays `pending` under a lease, and the reconciler decides from evidence
//! (`decide.rs`) once the lease has run out.

pub mod approval;
pub mod decide;
pub mod observe;
mod own_success;
pub mod policy;
pub mod reconcile;
pub mod refusal;
mod reserve;
pub mod review;
pub mod rules;
pub mod sealed;
pub mod settle;
mod store;
pub mod sweep;
pub mod tax;
pub mod waiters;

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tracing::instrument;
use uuid::Uuid;

use crate::model::admin::AuditKind;
use crate::model::{CurrentUser, RefundOutcome, RefundOutcomeStatus, Role};
use crate::server::error::ServerError;
use crate::server::gateway::{CancelAnswer, Gateway};
pub(crate) use store::{audit, audit_event, count_request};
pub use store::{insert_recorded, latest_outcome, RecordedRefund};

/// A refund request as the pipeline receives it.
#[derive(Clone, Debug)]
pub struct RefundCommand {
    pub merchant_uid: String,
    pub form: rules::RefundForm,
    pub idempotency_key: Uuid,
    /// A caller that sent no key of its own (the seed guide's snippet): the same request by the
    /// same requester within this window is a retry, answered with the first refund.
    pub keyless_within: Option<Duration>,
}

/// How long a keyless retry of the seed endpoint is recognised as one (README, "What people can do").
pub const KEYLESS_RETRY_WINDOW: Duration = Duration::from_secs(60);

/// Tunables; tests shorten them.
#[derive(Clone, Debug)]
pub struct PipelineSettings {
    /// How long a request waits for another refund of the same payment to finish.
    pub pending_wait: Duration,
    /// Refund requests a customer may make per minute (admins are not limited).
    pub customer_requests_per_minute: i64,
    /// How long one attempt owns a pending refund: longer than the PortOne client's deadline
    /// plus the time PortOne may still take to apply a cancel we stopped waiting for.
    pub lease: Duration,
    /// `REFUND_ACCOUNT_KEY`: with it, a customer's typed refund account is kept sealed until
    /// its refund is final (`sealed.rs`); without it, never kept (such a refund cannot wait
    /// for approval nor be resent).
    pub account_keys: Option<sealed::AccountKeys>,
    /// Requests of this app waiting for another refund of a payment (`waiters.rs`).
    pub waiters: waiters::Waiters,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings {
            pending_wait: Duration::from_secs(10),
            customer_requests_per_minute: 60,
            lease: Duration::from_secs(120),
            account_keys: None,
            waiters: Default::default(),
        }
    }
}

/// What the request asked for, hashed: a replay must ask for exactly the same. Of the refund
/// account and the holder's phone only the last four digits enter — what the row keeps in the
/// open anyway — so the full number cannot be recovered from the hash by trying candidates.
fn fingerprint(user: &CurrentUser, cmd: &RefundCommand) -> String {
    let f = &cmd.form;
    let amount = f.amount.as_deref().map(|a| match rules::parse_won(a) {
        Ok(v) => format!("{v:?}"),
        Err(_) => a.trim().to_string(),
    });
    let last_four = |v: &Option<String>| {
        v.as_deref().map(|s| {
            let digits: Vec<char> = s.chars().filter(char::is_ascii_digit).collect();
            digits[digits.len().saturating_sub(4)..].iter().collect::<String>()
        })
    };
    let trimmed = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or_default().to_string();
    let canonical = serde_json::json!([
        user.id,
        cmd.merchant_uid,
        amount,
        f.reason.trim(),
        trimmed(&f.refund_holder),
        trimmed(&f.refund_bank),
        last_four(&f.refund_account),
        last_four(&f.refund_tel),
        trimmed(&f.tax_free),
        trimmed(&f.vat_amount),
    ]);
    format!("{:x}", Sha256::digest(canonical.to_string().as_bytes()))
}

/// A refund request's answer: the recorded outcome and, when this request's cancel succeeded,
/// PortOne's answer to it (the payment the seed guide's JSON endpoint returns).
#[derive(Debug)]
pub struct Answer {
    pub outcome: RefundOutcome,
    pub payment: Option<CancelAnswer>,
}

/// Requests a refund for `user`. Returns the recorded outcome (succeeded, failed at the
/// gateway, or pending when PortOne's answer is unknown); `Err` when nothing was reserved.
pub async fn request_refund(
    pool: &PgPool,
    portone: &Gateway,
    settings: &PipelineSettings,
    user: &CurrentUser,
    cmd: RefundCommand,
) -> Result<RefundOutcome, ServerError> {
    Ok(answer_refund(pool, portone, settings, user, cmd).await?.outcome)
}

/// `request_refund`, with PortOne's payment when the cancel succeeded.
#[instrument(skip_all, fields(merchant_uid = %cmd.merchant_uid, user_id = user.id, key = %cmd.idempotency_key, refund_id = tracing::field::Empty))]
pub async fn answer_refund(
    pool: &PgPool,
    portone: &Gateway,
    settings: &PipelineSettings,
    user: &CurrentUser,
    cmd: RefundCommand,
) -> Result<Answer, ServerError> {
    let result = refund_once(Request { pool, portone, settings, user }, cmd).await;
    let answer = match &result {
        Ok(_) => "answered",
        Err(ServerError::Rejected(_)) => "rejected",
        Err(ServerError::NotFound) => "not_found",
        Err(ServerError::RateLimited) => "rate_limited",
        Err(ServerError::KeyReused) => "key_reused",
        Err(e) if e.unavailable() => "unavailable",
        Err(_) => "error",
    };
    metrics::counter!("refund_requests_total", "role" => user.role.as_str(), "answer" => answer)
        .increment(1);
    result
}

/// What one refund request runs with.
struct Request<'a> {
    pool: &'a PgPool,
    portone: &'a Gateway,
    settings: &'a PipelineSettings,
    user: &'a CurrentUser,
}

async fn refund_once(request: Request<'_>, cmd: RefundCommand) -> Result<Answer, ServerError> {
    let Request { pool, portone, settings, user } = request;
    if !crate::model::valid_merchant_uid(&cmd.merchant_uid) {
        return Err(ServerError::NotFound);
    }
    let actor = store::actor(user);
    let mut cmd = cmd;
    if user.role != Role::Admin {
        // only an admin names the tax-free part and VAT; a customer's are worked out
        (cmd.form.tax_free, cmd.form.vat_amount) = (None, None);
    }
    let fingerprint = fingerprint(user, &cmd);
    // one statement: the rate limit's count, the payment with its facts, a replayed key
    let counted = user.role == Role::Customer;
    let look = reserve::look(pool, user, &cmd, &fingerprint, counted).await?;
    if look.requests.is_some_and(|n| n > settings.customer_requests_per_minute) {
        tracing::warn!(%actor, "refund requests rate limited");
        return Err(ServerError::RateLimited);
    }
    let Some(mut looked) = look.payment else {
        store::audit(
            pool,
            None,
            None,
            AuditKind::Rejected,
            &actor,
            serde_json::json!({"reason": "not found", "merchant_uid": cmd.merchant_uid}),
        )
        .await?;
        return Err(ServerError::NotFound);
    };
    // a payment of a version this shop has no credentials for: nothing can be sent
    if let Err(e) = portone.speaks(looked.seen.at.version) {
        let message = e.refusal().map(|r| r.message).unwrap_or_default();
        return Err(rejected(pool, looked.id, &actor, message).await?);
    }
    let payment_id = looked.id;
    // read again (not counted again): after a refresh, a change, or a wait
    let look_again = || async {
        let look = reserve::look(pool, user, &cmd, &fingerprint, false).await?;
        look.payment.ok_or(ServerError::NotFound)
    };
    if looked.balance_stale {
        observe::refresh_balance(pool, portone, payment_id, &looked.seen.at).await;
        looked = look_again().await?;
    }
    let deadline = tokio::time::Instant::now() + settings.pending_wait;
    let mut waiting: Option<waiters::Waiter> = None;
    let reserved = loop {
        match reserve::reserve(pool, &looked, user, &cmd, &fingerprint, settings).await? {
            reserve::Reservation::Reserved(r) => break *r,
            reserve::Reservation::Requested(outcome) | reserve::Reservation::Replay(outcome) => {
                return Ok(Answer { outcome, payment: None })
            }
            reserve::Reservation::KeyReused => return Err(ServerError::KeyReused),
            reserve::Reservation::Rejected(refusal) => {
                return Err(rejected(pool, payment_id, &actor, refusal.to_string()).await?);
            }
            // Another request changed the payment since it was read: read and validate again.
            reserve::Reservation::Stale => looked = look_again().await?,
            // Another refund of this payment is in flight: wait for it (it usually takes
            // milliseconds) outside any transaction, then validate again against the new
            // balance. Only a few requests per payment wait; the rest are told at once.
            reserve::Reservation::Busy => {
                if waiting.is_none() {
                    waiting = settings.waiters.join(payment_id);
                }
                if waiting.is_none() || tokio::time::Instant::now() >= deadline {
                    let refusal = rules::Refusal::RefundInProgress;
                    return Err(rejected(pool, payment_id, &actor, refusal.to_string()).await?);
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
                looked = look_again().await?;
            }
        }
    };

    send(pool, portone, settings, reserved, user).await
}

/// A reserved refund's cancel at PortOne (no transaction open) and tx2, on behalf of `by`:
/// the requester, or the admin who approved a request.
async fn send(
    pool: &PgPool,
    portone: &Gateway,
    settings: &PipelineSettings,
    reserved: store::Reserved,
    by: &CurrentUser,
) -> Result<Answer, ServerError> {
    tracing::Span::current().record("refund_id", tracing::field::display(reserved.id));
    let result = portone.cancel(&settle::cancel_order(&reserved)).await;
    let actor = store::actor(by);
    let outcome = settle::settle(pool, portone, &reserved, &result, &actor, settings.lease).await?;
    metrics::counter!(
        "refund_outcomes_total",
        "status" => outcome.status.as_str(),
        "role" => by.role.as_str(),
        "pay_method" => reserved.pay_method.as_str().to_string()
    )
    .increment(1);
    let payment = match outcome.status {
        RefundOutcomeStatus::Succeeded => result.ok(),
        _ => None,
    };
    Ok(Answer { outcome, payment })
}

/// A refusal (the rules' sentence, or the gateway's): audited (nothing else is written),
/// then told to the user.
async fn rejected(
    pool: &PgPool,
    payment_id: i64,
    actor: &str,
    message: String,
) -> Result<ServerError, ServerError> {
    let detail = serde_json::json!({"reason": message});
    store::audit(pool, None, Some(payment_id), AuditKind::Rejected, actor, detail).await?;
    Ok(ServerError::Rejected(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(account: &str) -> RefundCommand {
        RefundCommand {
            merchant_uid: "m".into(),
            form: rules::RefundForm {
                reason: "r".into(),
                refund_account: Some(account.into()),
                ..Default::default()
            },
            idempotency_key: Uuid::nil(),
            keyless_within: None,
        }
    }

    #[test]
    fn the_hidden_account_digits_do_not_enter_the_fingerprint() {
        let user = CurrentUser {
            id: 1,
            email: "a@b.c".into(),
            display_name: "a".into(),
            role: Role::Customer,
        };
        assert_eq!(
            fingerprint(&user, &cmd("562-111-0594-8400")),
            fingerprint(&user, &cmd("999999999998400"))
        );
        assert_ne!(
            fingerprint(&user, &cmd("56211105948400")),
            fingerprint(&user, &cmd("56211105948401"))
        );
    }
}
