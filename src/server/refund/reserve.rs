//! tx1: the reservation. Under the payment's row lock: the idempotency key, the refund in
//! flight, what waiting requests hold, every rule and the shop's approval policy, then the
//! refund row — `pending` (it goes to PortOne now) or `requested` (it waits for an admin).
//! An admin's approval turns a request into a reservation under the same lock and rules.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::decide::{self, RefundStatus};
use super::policy::Policy;
use super::store::{actor, audit, outcome_of, Reserved};
use super::tax::TaxLeft;
use super::{rules, PipelineSettings, RefundCommand};
use crate::model::admin::AuditKind;
use crate::model::{ApiVersion, CurrentUser, PayMethod, RefundOutcome, RefundOutcomeStatus, Role};
use crate::server::error::ServerError;
use crate::server::gateway::PaymentRef;
use crate::server::outbox::{self, ShopEvent};
use crate::server::payments::HistoryMark;

pub enum Reservation {
    Reserved(Box<Reserved>),
    /// beyond the approval policy: stored as a request for an admin
    Requested(RefundOutcome),
    Replay(RefundOutcome),
    KeyReused,
    Rejected(rules::Refusal),
    Busy,
    /// the payment changed between the look and the lock: look again
    Stale,
}

/// A payment's facts as the rules see them, where PortOne holds it, and the policy in force.
pub(super) struct Seen {
    pub facts: rules::PaymentFacts,
    pub at: PaymentRef,
    pub policy: Policy,
}

/// Builds `Seen` from a row of `refund_facts` (both statements that read it name its columns
/// alike); `None` when the row is absent.
macro_rules! seen_from {
    ($f:expr) => {{
        let f = $f;
        (|| {
            Some(Seen {
                facts: rules::PaymentFacts {
                    pay_method: f.pay_method?,
                    pg_provider: f.pg_provider?.into(),
                    status: f.status?,
                    amount: f.amount?,
                    cancel_amount: f.cancel_amount?,
                    paid_at: f.paid_at,
                    refund_pending: f.pending?,
                    tax_left: f
                        .tax_free_left
                        .zip(f.vat_left)
                        .map(|(tax_free, vat)| TaxLeft { tax_free, vat }),
                    tax_split_unread: f.tax_split_unread?,
                    held: f.held?,
                },
                at: PaymentRef {
                    version: f.api_version?,
                    imp_uid: f.imp_uid?,
                    merchant_uid: f.merchant_uid?,
                },
                policy: Policy {
                    auto_max_amount: f.auto_max_amount,
                    auto_within_days: f.auto_within_days,
                },
            })
        })()
    }};
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
) -> Result<Option<Seen>, ServerError> {
    if !crate::server::payments::lock_nowait(&mut *tx, payment_id).await? {
        return Ok(None);
    }
    // A statement of its own, after the lock: its snapshot then includes a refund that the
    // lock's previous holder committed (checked in the locking statement itself, it would not).
    let f = sqlx::query!(
        r#"select imp_uid, merchant_uid, api_version as "api_version: ApiVersion", pay_method as "pay_method: PayMethod",
                  pg_provider, status, amount, cancel_amount, paid_at as "paid_at: DateTime<Utc>",
                  tax_free_left, vat_left, tax_split_unread, auto_max_amount, auto_within_days, pending, held
           from refund_facts($1, $2)"#,
        payment_id,
        count_holds
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(seen_from!(f).filter(|seen| !seen.facts.refund_pending))
}

/// What a refund request reads before it reserves, in one statement and without a lock: its
/// count against the rate limit (customers), the payment (if `user` may refund it) with its
/// facts, and a refund this key — or, keyless, the same request a moment ago — already made.
pub(super) struct Look {
    /// this request's number in the requester's current minute, when counted
    pub requests: Option<i64>,
    pub payment: Option<Looked>,
}

pub(super) struct Looked {
    pub id: i64,
    /// PortOne's balance (the tax-free and VAT parts) was not read since the last cancel
    pub balance_stale: bool,
    pub seen: Seen,
    /// the refund this key made, and what it asked for
    pub by_key: Option<(Uuid, String)>,
    /// a keyless retry's first refund
    pub same_request: Option<Uuid>,
    /// how much of PortOne's history our copy held
    pub held: HistoryMark,
}

/// Statement A of a refund request (see `migrations/20261201000006_reserve_in_one_round_trip.sql`).
/// Counting commits without waiting for the disk: a count lost in a database crash only
/// loosens the limit for a minute.
pub(super) async fn look(
    pool: &PgPool,
    user: &CurrentUser,
    cmd: &RefundCommand,
    fingerprint: &str,
    count: bool,
) -> Result<Look, sqlx::Error> {
    let f = sqlx::query!(
        r#"with counted as (select count_refund_request($1) as requests where $2),
           p as (select id, balance_cancel_amount is distinct from cancel_amount as balance_stale, history_len, history_tail_key
                 from payments where merchant_uid = $3 and (customer_id = $4 or $5))
           select (select requests from counted) as requests, p.id as "payment_id?", p.balance_stale as "balance_stale?",
                  p.history_len as "history_len?", p.history_tail_key,
                  f.imp_uid, f.merchant_uid, f.api_version as "api_version: ApiVersion", f.pay_method as "pay_method: PayMethod",
                  f.pg_provider, f.status, f.amount, f.cancel_amount, f.paid_at as "paid_at: DateTime<Utc>",
                  f.tax_free_left, f.vat_left, f.tax_split_unread, f.auto_max_amount, f.auto_within_days, f.pending, f.held,
                  k.id as key_refund, k.request_fingerprint as key_fingerprint,
                  same_refund_request(p.id, $4, $7, $8) as same_request
           from (select 1) as one
           left join p on true
           left join lateral refund_facts(p.id, true) f on true
           left join lateral refund_by_key(p.id, $6) k on true"#,
        actor(user),
        count,
        cmd.merchant_uid,
        user.id,
        user.sees_every_order(),
        cmd.idempotency_key,
        fingerprint,
        cmd.keyless_within.map(|w| w.as_secs_f64()),
    )
    .fetch_one(pool)
    .await?;
    let requests = f.requests.map(i64::from);
    let (id, balance_stale) = (f.payment_id, f.balance_stale);
    let by_key = f.key_refund.zip(f.key_fingerprint.clone());
    let same_request = f.same_request;
    let held =
        HistoryMark { len: f.history_len.unwrap_or_default(), tail: f.history_tail_key.clone() };
    let payment = match (id, balance_stale, seen_from!(f)) {
        (Some(id), Some(balance_stale), Some(seen)) => {
            Some(Looked { id, balance_stale, seen, by_key, same_request, held })
        }
        _ => None,
    };
    Ok(Look { requests, payment })
}

/// tx1: check the key, the pending refund and every rule against the payment as `look` read
/// it, and reserve in one statement (`reserve_refund`) that takes the payment's lock and
/// inserts only if the facts are still those validated: `pending` with checksum = PortOne's
/// balance, or `requested` when the approval policy wants an admin to look first.
pub(super) async fn reserve(
    pool: &PgPool,
    looked: &Looked,
    user: &CurrentUser,
    cmd: &RefundCommand,
    fingerprint: &str,
    settings: &PipelineSettings,
) -> Result<Reservation, ServerError> {
    if let Some((id, asked)) = &looked.by_key {
        return Ok(if asked == fingerprint {
            Reservation::Replay(outcome_of(&mut *pool.acquire().await?, *id).await?)
        } else {
            Reservation::KeyReused
        });
    }
    let Seen { facts, policy, at } = &looked.seen;
    // a keyless retry is answered once its first request has finished
    if facts.refund_pending {
        return Ok(Reservation::Busy);
    }
    if let Some(id) = looked.same_request {
        return Ok(Reservation::Replay(outcome_of(&mut *pool.acquire().await?, id).await?));
    }
    let now = Utc::now();
    let valid = match rules::validate(facts, &cmd.form, now) {
        Ok(v) => v,
        Err(refusal) => return Ok(Reservation::Rejected(refusal)),
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
    let detail = serde_json::json!({"amount": valid.amount, "checksum": checksum, "reason": valid.reason,
                                    "reference": decide::reference(id),
                                    "tax_free": valid.tax.map(|t| t.tax_free), "vat_amount": valid.tax.map(|t| t.vat)});
    let reserve = sqlx::query!(
        r#"select result as "result!", refund_id from reserve_refund(
               $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
               $20, $21, $22, $23, $24, $25, $26, $27)"#,
        looked.id,
        cmd.idempotency_key,
        fingerprint,
        cmd.keyless_within.map(|w| w.as_secs_f64()),
        user.id,
        user.role.as_str(),
        facts.status,
        facts.cancel_amount,
        facts.tax_left.map(|t| t.tax_free),
        facts.tax_left.map(|t| t.vat),
        facts.tax_split_unread,
        facts.held,
        id,
        valid.amount,
        checksum,
        valid.reason,
        account.map(|a| a.holder.clone()),
        account.map(|a| a.bank.clone()),
        account.map(|a| a.number.masked()),
        status.as_str(),
        settings.lease.as_secs_f64(),
        valid.tax.map(|t| t.tax_free),
        valid.tax.map(|t| t.vat),
        sealed.as_ref().map(|s| s.bytes.clone()),
        sealed.as_ref().map(|s| s.key_id.clone()),
        actor(user),
        detail,
    );
    // a request is heard by the shop in the same transaction; a refund sent at once is one
    // statement, its own transaction
    let (answer, tx) = if requested {
        let mut tx = pool.begin().await?;
        (reserve.fetch_one(&mut *tx).await?, Some(tx))
    } else {
        (reserve.fetch_one(pool).await?, None)
    };
    match (answer.result.as_str(), answer.refund_id) {
        ("reserved", _) => {}
        ("replay", Some(existing)) => {
            drop(tx);
            return Ok(Reservation::Replay(
                outcome_of(&mut *pool.acquire().await?, existing).await?,
            ));
        }
        ("key_reused", _) => return Ok(Reservation::KeyReused),
        ("stale", _) => return Ok(Reservation::Stale),
        _ => return Ok(Reservation::Busy),
    }
    if let Some(mut tx) = tx {
        outbox::record_refund(&mut tx, ShopEvent::Requested, id).await?;
        tx.commit().await?;
        return Ok(Reservation::Requested(RefundOutcome {
            refund_id: id,
            status: RefundOutcomeStatus::Requested,
            amount: valid.amount,
            requested_at: now,
            finished_at: None,
            message: None,
            receipt_url: None,
            accepted: false,
        }));
    }
    let mut reserved =
        first_attempt(id, looked.id, at.clone(), facts.clone(), valid, checksum, user.role);
    // tx2 of its success starts from the history this look read (`payments::Held::AsLooked`)
    reserved.held = Some(looked.held.clone());
    Ok(Reservation::Reserved(Box::new(reserved)))
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
        held: None,
    }
}

/// What an admin's approval of a request came to.
pub enum Approval {
    Reserved(Box<Reserved>),
    /// the request is no longer waiting (withdrawn, decided, or approved by another click)
    NotWaiting,
    /// the rules refuse it now (PortOne's balance moved since): it stays a request
    Refused(rules::Refusal),
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
    let Some(Seen { facts, at, .. }) = lock(&mut tx, request.payment_id, false).await? else {
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
        Err(refusal) => return Ok(Approval::Refused(refusal)),
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
        AuditKind::Approved,
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
