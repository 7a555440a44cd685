//! tx1: the reservation. Under the payment's row lock: the idempotency key, the refund in
//! flight, what waiting requests hold, every rule and the shop's approval policy, then the
//! refund row — `pending` (it goes to PortOne now) or `requested` (it waits for an admin).
//! An admin's approval turns a request into a reservation under the same lock and rules.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::decide::{self, RefundStatus};
use super::policy::Policy;
use super::store::{actor, audit, outcome_of, Reserved};
use super::tax::TaxLeft;
use super::{rules, PipelineSettings, RefundCommand};
use crate::model::{ApiVersion, CurrentUser, PayMethod, RefundOutcome, RefundOutcomeStatus, Role};
use crate::server::error::ServerError;
use crate::server::gateway::PaymentRef;
use crate::server::outbox::{self, ShopEvent};
use crate::server::payments::{PaymentRow, LOCK_NOT_AVAILABLE};

pub enum Reservation {
    Reserved(Reserved),
    /// beyond the approval policy: stored as a request for an admin
    Requested(RefundOutcome),
    Replay(RefundOutcome),
    KeyReused,
    Rejected(String),
    Busy,
}

/// A payment under its row lock, as the rules see it, and the policy in force.
struct Locked {
    facts: rules::PaymentFacts,
    at: PaymentRef,
    policy: Policy,
}

/// Locks the payment row (`nowait`: a request never holds a connection while another refund
/// of the payment runs) and reads its facts. `None`: busy — locked, or a refund in flight.
/// With `count_holds`, waiting requests hold their amounts (a new refund or request fits in
/// what they leave); an approval passes `false`: PortOne's balance is what counts then, and
/// the admin chooses which waiting request gets it (the others are checked at their own).
async fn lock(
    tx: &mut PgConnection,
    payment_id: i64,
    count_holds: bool,
) -> Result<Option<Locked>, ServerError> {
    let locked = sqlx::query!(
        r#"select imp_uid, merchant_uid, api_version as "api_version: ApiVersion", pay_method as "pay_method: PayMethod", pg_provider, status, amount, cancel_amount,
                  paid_at as "paid_at: DateTime<Utc>",
                  case when balance_cancel_amount = cancel_amount then tax_free_remaining end as tax_free_left,
                  case when balance_cancel_amount = cancel_amount then vat_remaining end as vat_left,
                  balance_cancel_amount is null
                      or (coalesce(tax_free_amount, 0) > 0 and balance_cancel_amount <> cancel_amount)
                      as "tax_split_unread!",
                  (select auto_max_amount from refund_policy) as auto_max_amount,
                  (select auto_within_days from refund_policy) as auto_within_days
           from payments where id = $1 for update nowait"#,
        payment_id
    )
    .fetch_one(&mut *tx)
    .await;
    let p = match locked {
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(LOCK_NOT_AVAILABLE) => {
            return Ok(None)
        }
        other => other?,
    };
    // A statement of its own, after the lock: its snapshot then includes a refund that the
    // lock's previous holder committed (checked in the locking statement itself, it would not).
    // Two lookups by payment on the partial indexes of pending and of requested refunds.
    let waiting = sqlx::query!(
        r#"select exists (select 1 from refunds where payment_id = $1 and status = 'pending') as "pending!",
                  coalesce((select sum(amount) from refunds where payment_id = $1 and status = 'requested' and $2), 0)::bigint
                      as "held!""#,
        payment_id,
        count_holds
    )
    .fetch_one(&mut *tx)
    .await?;
    if waiting.pending {
        return Ok(None);
    }
    Ok(Some(Locked {
        facts: rules::PaymentFacts {
            pay_method: p.pay_method,
            pg_provider: p.pg_provider,
            status: p.status,
            amount: p.amount,
            cancel_amount: p.cancel_amount,
            paid_at: p.paid_at,
            refund_pending: false,
            tax_left: p
                .tax_free_left
                .zip(p.vat_left)
                .map(|(tax_free, vat)| TaxLeft { tax_free, vat }),
            tax_split_unread: p.tax_split_unread,
            held: waiting.held,
        },
        at: PaymentRef { version: p.api_version, imp_uid: p.imp_uid, merchant_uid: p.merchant_uid },
        policy: Policy { auto_max_amount: p.auto_max_amount, auto_within_days: p.auto_within_days },
    }))
}

/// tx1: lock the payment row, check the key, the pending refund and every rule against the
/// locked balance, and insert the refund: `pending` with checksum = PortOne's balance, or
/// `requested` when the approval policy wants an admin to look first.
pub async fn reserve(
    pool: &PgPool,
    payment: &PaymentRow,
    user: &CurrentUser,
    cmd: &RefundCommand,
    fingerprint: &str,
    settings: &PipelineSettings,
) -> Result<Reservation, ServerError> {
    let lease = settings.lease;
    // A replayed key is answered without waiting for the payment's lock.
    if let Some(known) =
        replay(&mut *pool.acquire().await?, payment.id, cmd.idempotency_key, fingerprint).await?
    {
        return Ok(known);
    }
    let mut tx = pool.begin().await?;
    let Some(Locked { facts, policy, .. }) = lock(&mut tx, payment.id, true).await? else {
        return Ok(Reservation::Busy);
    };
    if let Some(known) = replay(&mut tx, payment.id, cmd.idempotency_key, fingerprint).await? {
        return Ok(known);
    }
    // Under the lock, so two keyless copies sent at once are one refund and one replay.
    if let Some(window) = cmd.keyless_within {
        if let Some(known) = same_request(&mut tx, payment.id, user, fingerprint, window).await? {
            return Ok(known);
        }
    }
    let now = Utc::now();
    let valid = match rules::validate(&facts, &cmd.form, now) {
        Ok(v) => v,
        Err(message) => return Ok(Reservation::Rejected(message)),
    };
    // A refund paid to an account the customer types waits like any other when the account
    // can be kept sealed; without a key it cannot wait (its number would be gone).
    let keys = settings.account_keys.as_ref();
    let requested = user.role == Role::Customer
        && (valid.account.is_none() || keys.is_some())
        && !policy.goes_straight(valid.amount, facts.paid_at, now);
    let id = Uuid::new_v4();
    let checksum = facts.portone_balance();
    let account = valid.account.as_ref();
    let sealed = account.zip(keys).map(|(a, keys)| keys.seal(id, a));
    let status = if requested { RefundStatus::Requested } else { RefundStatus::Pending };
    sqlx::query!(
        r#"insert into refunds (id, payment_id, idempotency_key, request_fingerprint, amount, checksum, reason,
                                requester_role, requester_id, refund_holder, refund_bank, refund_account_masked,
                                status, attempts, lease_until, tax_free, vat_amount, refund_account_sealed, refund_account_key_id)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,
                   case when $13 = 'pending' then 1 else 0 end, now() + make_interval(secs => $14), $15, $16, $17, $18)"#,
        id,
        payment.id,
        cmd.idempotency_key,
        fingerprint,
        valid.amount,
        checksum,
        valid.reason,
        user.role.as_str(),
        user.id,
        account.map(|a| a.holder.clone()),
        account.map(|a| a.bank.clone()),
        account.map(|a| a.number.masked()),
        status.as_str(),
        lease.as_secs_f64(),
        valid.tax.map(|t| t.tax_free),
        valid.tax.map(|t| t.vat),
        sealed.as_ref().map(|s| s.bytes.clone()),
        sealed.as_ref().map(|s| s.key_id.clone()),
    )
    .execute(&mut *tx)
    .await?;
    audit(
        &mut *tx,
        Some(id),
        Some(payment.id),
        if requested { "requested" } else { "reserved" },
        &actor(user),
        serde_json::json!({"amount": valid.amount, "checksum": checksum, "reason": valid.reason,
                           "reference": decide::reference(id),
                           "tax_free": valid.tax.map(|t| t.tax_free), "vat_amount": valid.tax.map(|t| t.vat)}),
    )
    .await?;
    if requested {
        outbox::record_refund(&mut tx, ShopEvent::Requested, id).await?;
    }
    tx.commit().await?;
    if requested {
        return Ok(Reservation::Requested(RefundOutcome {
            refund_id: id.to_string(),
            status: RefundOutcomeStatus::Requested,
            amount: valid.amount,
            requested_at: now,
            finished_at: None,
            message: None,
            receipt_url: None,
            accepted: false,
        }));
    }
    Ok(Reservation::Reserved(first_attempt(
        id,
        payment.id,
        payment.at.clone(),
        facts,
        valid,
        checksum,
        user.role,
    )))
}

/// A refund tx1 has just made `pending`, as its first cancel is sent. The account (when the
/// refund needs one) lives only as long as this request; an approved request has none.
fn first_attempt(
    id: Uuid,
    payment_id: i64,
    at: PaymentRef,
    facts: rules::PaymentFacts,
    valid: rules::ValidRefund,
    checksum: i64,
    requester: Role,
) -> Reserved {
    Reserved {
        id,
        payment_id,
        at,
        pay_method: facts.pay_method,
        pg_provider: facts.pg_provider,
        amount: valid.amount,
        checksum,
        reason: valid.reason,
        tax: valid.tax,
        account_given: valid.account.is_some(),
        account: valid.account,
        requester,
        attempts: 1,
        accepted_at: None,
    }
}

/// What an admin's approval of a request came to.
pub enum Approval {
    Reserved(Box<Reserved>),
    /// the request is no longer waiting (withdrawn, decided, or approved by another click)
    NotWaiting,
    /// the rules refuse it now (PortOne's balance moved since): it stays a request
    Refused(String),
    Busy,
}

/// tx1 of an approval: under the payment's lock, the request is checked against every rule
/// and PortOne's balance as it is now, and becomes `pending` with a new checksum and tax
/// split. The customer stays its requester (PortOne's `extra.requester`).
pub async fn approve_request(
    pool: &PgPool,
    refund_id: Uuid,
    admin: &CurrentUser,
    settings: &PipelineSettings,
) -> Result<Approval, ServerError> {
    let lease = settings.lease;
    let mut tx = pool.begin().await?;
    let Some(request) = sqlx::query!(
        r#"select payment_id, amount, reason, status as "status: RefundStatus", requester_role as "requester_role: Role",
                  refund_account_sealed, refund_account_key_id
           from refunds where id = $1"#,
        refund_id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Approval::NotWaiting);
    };
    if request.status != RefundStatus::Requested {
        return Ok(Approval::NotWaiting);
    }
    let Some(Locked { facts, at, .. }) = lock(&mut tx, request.payment_id, false).await? else {
        return Ok(Approval::Busy);
    };
    // the account the customer gave, sealed while the request waited (none: the rules say
    // whether the refund needs one)
    let account = super::sealed::open_stored(
        settings.account_keys.as_ref(),
        refund_id,
        request.refund_account_sealed,
        request.refund_account_key_id,
    );
    let form = rules::RefundForm {
        amount: Some(request.amount.to_string()),
        reason: request.reason,
        ..rules::RefundForm::with_account(account.as_ref())
    };
    let valid = match rules::validate(&facts, &form, Utc::now()) {
        Ok(v) => v,
        Err(message) => return Ok(Approval::Refused(message)),
    };
    let checksum = facts.portone_balance();
    let approved = sqlx::query!(
        r#"update refunds set status = 'pending', checksum = $2, attempts = 1, lease_until = now() + make_interval(secs => $3),
                  tax_free = $4, vat_amount = $5, updated_at = now()
           where id = $1 and status = 'requested'"#,
        refund_id,
        checksum,
        lease.as_secs_f64(),
        valid.tax.map(|t| t.tax_free),
        valid.tax.map(|t| t.vat),
    )
    .execute(&mut *tx)
    .await?;
    if approved.rows_affected() != 1 {
        return Ok(Approval::NotWaiting);
    }
    audit(
        &mut *tx,
        Some(refund_id),
        Some(request.payment_id),
        "approved",
        &actor(admin),
        serde_json::json!({"amount": valid.amount, "checksum": checksum, "reference": decide::reference(refund_id),
                           "tax_free": valid.tax.map(|t| t.tax_free), "vat_amount": valid.tax.map(|t| t.vat)}),
    )
    .await?;
    outbox::record_refund(&mut tx, ShopEvent::Approved, refund_id).await?;
    tx.commit().await?;
    Ok(Approval::Reserved(Box::new(first_attempt(
        refund_id,
        request.payment_id,
        at,
        facts,
        valid,
        checksum,
        request.requester_role,
    ))))
}

/// The stored answer for an idempotency key used before: its outcome for the same input,
/// `KeyReused` for other input.
async fn replay(
    conn: &mut PgConnection,
    payment_id: i64,
    key: Uuid,
    fingerprint: &str,
) -> Result<Option<Reservation>, sqlx::Error> {
    let Some(existing) = sqlx::query!(
        "select id, request_fingerprint from refunds where payment_id = $1 and idempotency_key = $2",
        payment_id,
        key
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    Ok(Some(if existing.request_fingerprint == fingerprint {
        Reservation::Replay(outcome_of(conn, existing.id).await?)
    } else {
        Reservation::KeyReused
    }))
}

/// The newest refund of this payment that `user` asked for with the same fingerprint within
/// `window`: a keyless retry is answered with it.
async fn same_request(
    conn: &mut PgConnection,
    payment_id: i64,
    user: &CurrentUser,
    fingerprint: &str,
    window: Duration,
) -> Result<Option<Reservation>, sqlx::Error> {
    let found = sqlx::query_scalar!(
        r#"select id from refunds
           where payment_id = $1 and requester_id = $2 and request_fingerprint = $3
             and created_at > now() - make_interval(secs => $4)
           order by created_at desc limit 1"#,
        payment_id,
        user.id,
        fingerprint,
        window.as_secs_f64()
    )
    .fetch_optional(&mut *conn)
    .await?;
    match found {
        Some(id) => Ok(Some(Reservation::Replay(outcome_of(conn, id).await?))),
        None => Ok(None),
    }
}
