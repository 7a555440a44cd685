//! The reconciler: finishes refunds whose PortOne answer was lost (timeouts, dropped
//! connections, 5xx, crashed processes) by asking PortOne what actually happened.
//! Claims use `FOR UPDATE SKIP LOCKED` in a short transaction that only moves a lease, so
//! several app instances never work on the same refund and no lock spans a PortOne call.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::store::{self, Reserved};
use super::cancel_request;
use crate::model::Role;
use crate::server::portone::{CancelHistoryEntry, Payment, PortOneClient};

/// PortOne's and our clocks may disagree by this much.
const CLOCK_SLACK_S: i64 = 120;
/// Resends with the same checksum before giving up.
pub const MAX_ATTEMPTS: i32 = 3;

/// The cancel_history entry that a refund of `amount` reserved at `reserved_at` caused:
/// not explained by another refund, the same amount, made after the reservation.
pub fn matching_entry<'a>(
    amount: i64,
    reserved_at: DateTime<Utc>,
    history: &'a [CancelHistoryEntry],
    linked_keys: &[String],
) -> Option<&'a CancelHistoryEntry> {
    history.iter().find(|e| {
        e.amount == amount
            && e.cancelled_at >= reserved_at.timestamp() - CLOCK_SLACK_S
            && !linked_keys.contains(&e.entry_key())
    })
}

/// What to do with a pending refund, given PortOne's payment.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// PortOne did it: this entry is ours.
    Succeeded { entry_key: String },
    /// Nothing happened at PortOne: send the same cancel (same checksum) again.
    Resend,
    /// Give up and tell an admin why.
    Fail { message: String },
}

pub struct PendingFacts {
    pub amount: i64,
    pub checksum: i64,
    pub reserved_at: DateTime<Utc>,
    pub attempts: i32,
}

pub fn decide(r: &PendingFacts, payment: &Payment, linked_keys: &[String]) -> Decision {
    if let Some(e) = matching_entry(r.amount, r.reserved_at, &payment.cancel_history, linked_keys) {
        return Decision::Succeeded { entry_key: e.entry_key() };
    }
    if payment.cancellable() == r.checksum {
        return if r.attempts < MAX_ATTEMPTS {
            Decision::Resend
        } else {
            Decision::Fail { message: format!("PortOne에 환불이 반영되지 않았습니다. ({}회 시도)", r.attempts) }
        };
    }
    Decision::Fail {
        message: format!(
            "PortOne의 환불 가능 금액({})이 예상({})과 다릅니다. 결제 내역을 동기화했으니 확인해 주세요.",
            payment.cancellable(),
            r.checksum
        ),
    }
}

#[derive(Debug, Default, PartialEq)]
pub struct ReconcileReport {
    pub succeeded: u32,
    pub failed: u32,
    pub resent: u32,
    pub still_pending: u32,
}

/// Takes one pending refund older than `grace` (the lease) and not yet seen in this pass,
/// moving its lease forward.
async fn claim(pool: &PgPool, grace: Duration, seen: &[Uuid]) -> Result<Option<(Reserved, i32, String)>, sqlx::Error> {
    let grace_s = grace.as_secs_f64();
    let row = sqlx::query!(
        r#"update refunds r set updated_at = now()
           from payments p
           where r.payment_id = p.id and r.id = (
               select id from refunds
               where status = 'pending' and updated_at < now() - make_interval(secs => $1) and not (id = any($2))
               order by created_at
               for update skip locked
               limit 1)
           returning r.id, r.payment_id, p.imp_uid, r.amount, r.checksum, r.reason, r.created_at as "created_at: DateTime<Utc>",
                     r.attempts, r.requester_role, r.refund_holder, r.refund_bank"#,
        grace_s,
        seen
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| {
        (
            Reserved {
                id: r.id,
                payment_id: r.payment_id,
                imp_uid: r.imp_uid,
                amount: r.amount,
                checksum: r.checksum,
                reason: r.reason,
                // the full account number is never stored; a vbank resend cannot be rebuilt
                account: None,
                reserved_at: r.created_at,
            },
            r.attempts,
            r.requester_role,
        )
    }))
}

/// One pass: every pending refund older than `grace` is decided or re-leased.
pub async fn reconcile_once(pool: &PgPool, portone: &PortOneClient, grace: Duration) -> Result<ReconcileReport, sqlx::Error> {
    let mut report = ReconcileReport::default();
    let mut seen: Vec<Uuid> = Vec::new();
    while let Some((r, attempts, role)) = claim(pool, grace, &seen).await? {
        seen.push(r.id);
        match reconcile_refund(pool, portone, &r, attempts, &role).await {
            Ok(ReconcileStep::Succeeded) => report.succeeded += 1,
            Ok(ReconcileStep::Failed) => report.failed += 1,
            Ok(ReconcileStep::Resent) => report.resent += 1,
            Ok(ReconcileStep::Pending) => report.still_pending += 1,
            Err(e) => {
                tracing::error!(refund_id = %r.id, error = %e, "reconciling a refund failed");
                report.still_pending += 1;
            }
        }
    }
    Ok(report)
}

enum ReconcileStep {
    Succeeded,
    Failed,
    Resent,
    Pending,
}

const ACTOR: &str = "reconciler";

async fn reconcile_refund(
    pool: &PgPool,
    portone: &PortOneClient,
    r: &Reserved,
    attempts: i32,
    role: &str,
) -> Result<ReconcileStep, sqlx::Error> {
    let payment = match portone.payment(&r.imp_uid, true).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(refund_id = %r.id, error = %e, "PortOne lookup failed; will retry");
            return Ok(ReconcileStep::Pending);
        }
    };
    let mut conn = pool.acquire().await?;
    let linked = store::linked_entry_keys(&mut conn, r.payment_id, r.id).await?;
    drop(conn);
    let facts = PendingFacts { amount: r.amount, checksum: r.checksum, reserved_at: r.reserved_at, attempts };
    match decide(&facts, &payment, &linked) {
        Decision::Succeeded { .. } => {
            let mut tx = pool.begin().await?;
            store::finish_succeeded(&mut tx, r, &payment, ACTOR).await?;
            tx.commit().await?;
            Ok(ReconcileStep::Succeeded)
        }
        Decision::Resend if r.account.is_none() && payment.pay_method == "vbank" => {
            fail(pool, r, &payment, "가상계좌 환불은 계좌정보를 보관하지 않아 자동 재시도할 수 없습니다. 다시 요청해 주세요.").await
        }
        Decision::Resend => {
            sqlx::query!("update refunds set attempts = attempts + 1, updated_at = now() where id = $1 and status = 'pending'", r.id)
                .execute(pool)
                .await?;
            store::audit(pool, Some(r.id), Some(r.payment_id), "resent", ACTOR, serde_json::json!({"attempt": attempts + 1, "checksum": r.checksum}))
                .await?;
            let role = Role::parse(role).unwrap_or(Role::Admin);
            let result = portone.cancel(&cancel_request(&r.imp_uid, r, role)).await;
            store::settle(pool, portone, r, result, ACTOR).await.map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            Ok(ReconcileStep::Resent)
        }
        Decision::Fail { message } => fail(pool, r, &payment, &message).await,
    }
}

async fn fail(pool: &PgPool, r: &Reserved, payment: &Payment, message: &str) -> Result<ReconcileStep, sqlx::Error> {
    let mut tx = pool.begin().await?;
    store::sync_payment(&mut tx, r.payment_id, payment).await?;
    store::finish_failed(&mut tx, r.id, r.payment_id, None, message, ACTOR).await?;
    tx.commit().await?;
    Ok(ReconcileStep::Failed)
}

/// Runs `reconcile_once` now and then every `interval`, forever.
pub fn spawn(pool: PgPool, portone: std::sync::Arc<PortOneClient>, interval: Duration, grace: Duration) {
    tokio::spawn(async move {
        loop {
            match reconcile_once(&pool, &portone, grace).await {
                Ok(report) if report != ReconcileReport::default() => tracing::info!(?report, "reconciled refunds"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "reconciler pass failed"),
            }
            tokio::time::sleep(interval).await;
        }
    });
}


#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn payment(amount: i64, history: &[(i64, i64, &str)]) -> Payment {
        let history: Vec<_> = history
            .iter()
            .map(|(a, at, id)| serde_json::json!({"amount": a, "cancelled_at": at, "cancellation_id": id, "pg_tid": "t"}))
            .collect();
        let cancelled: i64 = history.iter().map(|h| h["amount"].as_i64().unwrap()).sum();
        serde_json::from_value(serde_json::json!({
            "imp_uid": "i", "merchant_uid": "m", "amount": amount, "cancel_amount": cancelled,
            "status": if cancelled > 0 { "cancelled" } else { "paid" }, "cancel_history": history
        }))
        .unwrap()
    }

    #[test]
    fn decision_table() {
        let reserved = Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0).unwrap();
        let t = reserved.timestamp();
        let r = |amount, checksum, attempts| PendingFacts { amount, checksum, reserved_at: reserved, attempts };
        let linked = vec!["c_old".to_string()];
        let cases: Vec<(&str, PendingFacts, Payment, Decision)> = vec![
            ("our cancel went through", r(1000, 10_000, 1), payment(10_000, &[(1000, t + 1, "c1")]),
             Decision::Succeeded { entry_key: "c1".into() }),
            ("nothing happened: resend", r(1000, 10_000, 1), payment(10_000, &[]), Decision::Resend),
            ("nothing happened after max attempts: fail", r(1000, 10_000, MAX_ATTEMPTS), payment(10_000, &[]),
             Decision::Fail { message: format!("PortOne에 환불이 반영되지 않았습니다. ({MAX_ATTEMPTS}회 시도)") }),
            ("an entry of the same amount before the reservation is not ours", r(1000, 9_000, 1),
             payment(10_000, &[(1000, t - 3600, "c0"), (500, t + 5, "c2")]),
             Decision::Fail { message: "PortOne의 환불 가능 금액(8500)이 예상(9000)과 다릅니다. 결제 내역을 동기화했으니 확인해 주세요.".into() }),
            ("an entry linked to another refund is not ours", r(1000, 9_000, 1),
             payment(10_000, &[(1000, t + 2, "c_old")]),
             Decision::Resend),
            ("a different amount moved the balance: fail", r(1000, 10_000, 1), payment(10_000, &[(2000, t + 3, "c3")]),
             Decision::Fail { message: "PortOne의 환불 가능 금액(8000)이 예상(10000)과 다릅니다. 결제 내역을 동기화했으니 확인해 주세요.".into() }),
        ];
        for (name, facts, p, expected) in cases {
            assert_eq!(decide(&facts, &p, &linked), expected, "{name}");
        }
    }
}
