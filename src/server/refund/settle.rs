//! Recording what PortOne did with a refund's cancel: from its direct answer (`settle`), or,
//! when that answer is unknown or may be explained by our own earlier attempt, from the
//! payment's history (`settle_by_lookup`, the rules in `decide.rs`).

use std::collections::HashSet;
use std::time::Duration;

use sqlx::PgPool;

use super::decide::{self, Decision};
use super::observe;
use super::own_success;
use super::store::{self, Reserved};
use crate::model::admin::AuditKind;
use crate::model::RefundOutcome;
use crate::model::{ApiVersion, Role};
use crate::server::error::ServerError;
use crate::server::gateway::{
    AccountTo, Balance, CancelAnswer, CancelOrder, Gateway, GatewayError, Payment, Refused,
};

/// The PortOne cancel for a reserved refund; identical on every resend (same checksum, same
/// reference in the reason, and for V2 the same idempotency key: the refund's id).
pub fn cancel_order(r: &Reserved) -> CancelOrder {
    CancelOrder {
        payment: r.at.clone(),
        refund_id: r.id,
        amount: r.amount,
        checksum: r.checksum,
        reason: decide::reason_for_portone(&r.reason, r.id),
        account: r.account.as_ref().map(|a| AccountTo {
            holder: a.holder.clone(),
            bank: a.bank.clone(),
            number: a.number.clone(),
            tel: a.tel.as_ref().map(|t| t.0.clone()),
        }),
        // the tax-free part wherever the payment's is known (kcp, kcp_quick, kicc, nice and
        // payco refuse or mis-book a cancel without it); the VAT where the PG takes it (V2
        // takes it from every PG)
        tax_free: r.tax.map(|t| t.tax_free),
        vat: r
            .tax
            .filter(|_| r.at.version == ApiVersion::V2 || r.pg_provider.cancel_names_vat())
            .map(|t| t.vat),
        // the shop's own back office is the merchant's side, as an admin is
        by_customer: r.requester == Role::Customer,
    }
}

/// How one PortOne answer to a cancel is classified.
#[derive(Debug, PartialEq)]
pub enum CancelOutcome {
    Succeeded,
    Failed { code: Option<i64>, message: String },
    Unknown,
}

pub fn classify(result: &Result<CancelAnswer, GatewayError>) -> CancelOutcome {
    match result {
        Ok(_) => CancelOutcome::Succeeded,
        Err(e) => match e.refusal() {
            Some(Refused { code, message }) => CancelOutcome::Failed { code, message },
            None => CancelOutcome::Unknown,
        },
    }
}

/// tx2: records PortOne's answer to a cancel of `r`. A refund someone else already finished
/// is left as it is.
pub async fn settle(
    pool: &PgPool,
    portone: &Gateway,
    r: &Reserved,
    result: &Result<CancelAnswer, GatewayError>,
    actor: &str,
    lease: Duration,
) -> Result<RefundOutcome, ServerError> {
    match classify(result) {
        CancelOutcome::Succeeded => {
            let answer = result.as_ref().expect("classified as success");
            // PortOne's code 0 is the proof, and it stays at PortOne: should this commit be lost
            // in a database crash, the refund is pending again (tx1 was durable) and the
            // reconciler finds the entry carrying its reference. So it need not wait for its
            // own fsync (`payments::sync` says so in its writing statement); a refusal, which
            // PortOne keeps no trace of, does.
            let finished = match own_success::record(pool, r, answer, actor).await? {
                Some(finished) => Some(finished),
                None => match answer.payment() {
                    Ok(payment) => {
                        Some(record_success_the_long_way(pool, r, &payment, actor).await?)
                    }
                    // part of the answer cannot be read: as with an answer not read at all
                    Err(e) => {
                        outcome_unknown(pool, r, actor, &e).await?;
                        None
                    }
                },
            };
            // an accepted cancel has moved nothing yet: nothing to read back
            if let Some(store::Finished::Succeeded(outcome)) = finished {
                reread_split(pool, portone, r, answer.balance()).await;
                if let Some(outcome) = outcome {
                    return Ok(outcome);
                }
            }
        }
        // A resend refused (checksum mismatch, already cancelled) may be explained by our own
        // earlier attempt having gone through: look, then decide.
        // The lookup is another PortOne call: the lease moves past its deadline first.
        CancelOutcome::Failed { code, message } if r.attempts > 1 => {
            if store::renew_lease(pool, r.id, lease).await? {
                settle_by_lookup(pool, portone, r, actor, Some(Refused { code, message })).await?;
            }
        }
        CancelOutcome::Failed { code, message } => {
            let mut tx = pool.begin().await?;
            store::finish_failed(&mut tx, r, code, &message, actor).await?;
            tx.commit().await?;
            // A refusal may mean our balance is stale (checksum mismatch): resync so the next
            // request computes the checksum PortOne expects.
            observe::resync(pool, portone, r.payment_id, &r.at).await;
        }
        CancelOutcome::Unknown => {
            let error = result.as_ref().expect_err("classified as unknown");
            outcome_unknown(pool, r, actor, error).await?;
        }
    }
    let mut conn = pool.acquire().await?;
    Ok(store::outcome_of(&mut conn, r.id).await?)
}

/// What a look at PortOne's payment led to.
#[derive(Debug, PartialEq)]
pub enum Settled {
    Succeeded,
    Failed,
    NeedsReview,
    /// PortOne could not be asked, or left the evidence out: still pending.
    Pending,
    /// Nothing of ours was applied: the caller may resend the same cancel.
    Resend,
}

/// tx2 of a success `own_success` does not record: PortOne's payment synced, then the entry
/// carrying the refund's reference identified and linked (`store::finish_succeeded`).
async fn record_success_the_long_way(
    pool: &PgPool,
    r: &Reserved,
    payment: &Payment,
    actor: &str,
) -> Result<store::Finished, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let synced =
        observe::record_success(&mut tx, r.payment_id, payment, r.id, r.held.as_ref()).await?;
    let finished = store::finish_succeeded(&mut tx, r, payment, &synced.inserted, actor).await?;
    tx.commit().await?;
    Ok(finished)
}

/// Looks the payment up and applies `decide`. The caller holds the refund's lease, long
/// enough for this call. With `refusal` (PortOne's answer to a resend), an unmoved balance
/// means PortOne refused for its own reason: the refund fails with it.
pub async fn settle_by_lookup(
    pool: &PgPool,
    portone: &Gateway,
    r: &Reserved,
    actor: &str,
    refusal: Option<Refused>,
) -> Result<Settled, ServerError> {
    let payment = match portone.payment(&r.at).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(refund_id = %r.id, error = %e, "PortOne lookup failed; the refund stays pending");
            return Ok(Settled::Pending);
        }
    };
    let linked = {
        let mut conn = pool.acquire().await?;
        store::linked_elsewhere(&mut conn, r, &payment, &HashSet::new()).await?
    };
    let decision = decide::decide(&r.facts(), &payment, &linked);
    tracing::info!(refund_id = %r.id, ?decision, "decided from PortOne's history");
    let mut tx = pool.begin().await?;
    let settled = match decision {
        Decision::Succeeded { .. } => {
            observe::record(&mut tx, r.payment_id, &payment).await?;
            // `observe::record` explains every new entry, ours too: every link is read
            match store::finish_succeeded(&mut tx, r, &payment, &HashSet::new(), actor).await? {
                store::Finished::Succeeded(_) => Settled::Succeeded,
                store::Finished::Not => Settled::Pending,
            }
        }
        Decision::Duplicate { entries } => {
            observe::record(&mut tx, r.payment_id, &payment).await?;
            store::suspect_duplicate(&mut tx, r.payment_id, r.id, r.amount, &entries, actor)
                .await?;
            Settled::NeedsReview
        }
        Decision::NeedsReview { why } => {
            observe::record(&mut tx, r.payment_id, &payment).await?;
            store::finish_needs_review(&mut tx, r, &why, actor).await?;
            Settled::NeedsReview
        }
        Decision::LookAgain => Settled::Pending,
        Decision::Accepted => {
            observe::record(&mut tx, r.payment_id, &payment).await?;
            store::mark_accepted(&mut tx, r, actor).await?;
            Settled::Pending
        }
        Decision::Resend if refusal.is_none() && r.account.is_none() && r.account_given => {
            let message = "계좌로 받는 환불은 계좌정보를 보관하지 않아 자동 재시도할 수 없습니다. 다시 요청해 주세요.";
            observe::record(&mut tx, r.payment_id, &payment).await?;
            store::finish_failed(&mut tx, r, None, message, actor).await?;
            Settled::Failed
        }
        Decision::Resend => match refusal {
            Some(Refused { code, message }) => {
                observe::record(&mut tx, r.payment_id, &payment).await?;
                store::finish_failed(&mut tx, r, code, &message, actor).await?;
                Settled::Failed
            }
            None => Settled::Resend,
        },
        Decision::Fail { message } => {
            observe::record(&mut tx, r.payment_id, &payment).await?;
            store::finish_failed(&mut tx, r, None, &message, actor).await?;
            Settled::Failed
        }
    };
    tx.commit().await?;
    if settled == Settled::Succeeded {
        reread_split(pool, portone, r, payment.balance).await;
    }
    Ok(settled)
}

/// A tax-free payment's parts as PortOne booked them (the PG may round the VAT otherwise than
/// we did), for the next refund's split: `balance`, the parts PortOne's answer after the
/// cancel carries (V2), else read.
async fn reread_split(pool: &PgPool, portone: &Gateway, r: &Reserved, balance: Option<Balance>) {
    if r.tax.is_some_and(|t| t.tax_free > 0) {
        observe::split_of(pool, portone, r.payment_id, &r.at, balance).await;
    }
}

/// PortOne's answer to a cancel of `r` is not known: audited, and the refund stays pending.
/// The lease taken at reservation (or renewed before a resend) still covers this attempt;
/// the reconciler looks once it runs out.
async fn outcome_unknown(
    pool: &PgPool,
    r: &Reserved,
    actor: &str,
    error: &GatewayError,
) -> Result<(), ServerError> {
    tracing::warn!(refund_id = %r.id, %error, "PortOne's answer is unknown; the refund stays pending");
    let detail = serde_json::json!({"error": error.to_string()});
    store::audit(pool, Some(r.id), Some(r.payment_id), AuditKind::OutcomeUnknown, actor, detail)
        .await?;
    Ok(())
}

/// Sends the same cancel again, under a fresh lease, and records the answer.
pub async fn resend(
    pool: &PgPool,
    portone: &Gateway,
    r: &Reserved,
    lease: Duration,
    actor: &str,
) -> Result<RefundOutcome, ServerError> {
    let mut next = r.clone();
    next.attempts += 1;
    if !store::start_resend(pool, &next, lease, actor).await? {
        let mut conn = pool.acquire().await?;
        return Ok(store::outcome_of(&mut conn, r.id).await?);
    }
    let result = portone.cancel(&cancel_order(&next)).await;
    settle(pool, portone, &next, &result, actor, lease).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_never_guesses_an_unknown_outcome() {
        use portone_v1::PortOneError::*;
        let classify = |r: Result<CancelAnswer, portone_v1::PortOneError>| {
            super::classify(&r.map_err(GatewayError::from))
        };
        let refused =
            Err(Refused {
                status: 200, code: 1, message: "이미 전액취소된 주문입니다.".into()
            });
        assert!(matches!(classify(refused), CancelOutcome::Failed { code: Some(1), .. }));
        assert!(matches!(
            classify(Err(Refused { status: 400, code: -1, message: "bad".into() })),
            CancelOutcome::Failed { .. }
        ));
        assert_eq!(
            classify(Err(Refused { status: 500, code: -1, message: "x".into() })),
            CancelOutcome::Unknown
        );
        assert_eq!(classify(Err(HttpStatus { status: 502 })), CancelOutcome::Unknown);
        assert_eq!(classify(Err(Timeout)), CancelOutcome::Unknown);
        assert_eq!(classify(Err(Decode("eof".into()))), CancelOutcome::Unknown);
        assert!(matches!(classify(Err(Unauthorized)), CancelOutcome::Failed { code: None, .. }));
        // V2: its refusals fail, a request still in flight under the key is unknown
        use portone_v2::PortOneV2Error as V2;
        let v2 = |e: V2| super::classify(&Err(GatewayError::from(e)));
        let refused = |kind: &str, status| V2::Refused {
            status,
            kind: kind.into(),
            message: "취소 가능 금액이 일치하지 않습니다.".into(),
        };
        assert!(matches!(
            v2(refused("CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN", 409)),
            CancelOutcome::Failed { code: None, .. }
        ));
        assert!(matches!(v2(refused("PG_PROVIDER", 502)), CancelOutcome::Failed { .. }));
        assert_eq!(v2(refused("INTERNAL", 500)), CancelOutcome::Unknown);
        assert_eq!(v2(V2::InFlight), CancelOutcome::Unknown);
        assert_eq!(v2(V2::Timeout), CancelOutcome::Unknown);
        // a V2 payment where V2 is not configured: refused, never sent
        assert!(matches!(
            super::classify(&Err(GatewayError::NotConfigured(ApiVersion::V2))),
            CancelOutcome::Failed { .. }
        ));
    }
}
