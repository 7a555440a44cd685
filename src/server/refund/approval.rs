//! The shop's refund approval policy (환불 요청): refunds up to N원 requested within D days of
//! payment go straight to PortOne; a customer's other refunds wait as requests, which an
//! admin approves (the pipeline then runs as for an admin's refund, the customer still its
//! requester) or rejects with a reason, and which the customer may withdraw. Every step is an
//! audit event; a request holds its amount of the balance while it waits (`reserve.rs`).

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

pub use super::policy::{parse_policy, Policy};
use super::reserve::{self, Approval};
use super::store::{actor, audit};
use super::{observe, rules, send, Answer, PipelineSettings};
use crate::model::admin::AuditKind;
use crate::model::{CurrentUser, RefundPolicyView, RefundStatus};
use crate::server::error::ServerError;
use crate::server::gateway::Gateway;
use crate::server::outbox::{self, ShopEvent};

pub const NOT_WAITING: &str = "이미 처리되었거나 철회된 환불 요청입니다.";

/// 환불 정책 as the settings page shows it, with its recent changes.
pub async fn view(pool: &PgPool) -> Result<RefundPolicyView, sqlx::Error> {
    let p = sqlx::query!(
        r#"select auto_max_amount, auto_within_days, updated_at as "updated_at: DateTime<Utc>", u.display_name as "updated_by?"
           from refund_policy left join users u on u.id = updated_by"#
    )
    .fetch_one(pool)
    .await?;
    let changes = sqlx::query!(
        r#"select e.created_at as "at: DateTime<Utc>", coalesce(u.display_name, e.actor) as "actor!", e.detail->>'after' as after
           from refund_events e left join users u on e.actor = 'admin:' || u.id
           where e.kind = 'policy_changed' order by e.id desc limit 20"#
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|c| crate::model::PolicyChange { at: c.at, actor: c.actor, after: c.after.unwrap_or_default() })
    .collect();
    let policy =
        Policy { auto_max_amount: p.auto_max_amount, auto_within_days: p.auto_within_days };
    Ok(RefundPolicyView {
        auto_max_amount: p.auto_max_amount,
        auto_within_days: p.auto_within_days,
        summary: policy.describe(),
        updated_at: p.updated_at,
        updated_by: p.updated_by,
        changes,
    })
}

/// Stores a new policy and audits the change (before and after).
pub async fn save(pool: &PgPool, admin: &CurrentUser, policy: Policy) -> Result<(), ServerError> {
    let mut tx = pool.begin().await?;
    let before =
        sqlx::query!("select auto_max_amount, auto_within_days from refund_policy for update")
            .fetch_one(&mut *tx)
            .await?;
    let before = Policy {
        auto_max_amount: before.auto_max_amount,
        auto_within_days: before.auto_within_days,
    };
    sqlx::query!(
        "update refund_policy set auto_max_amount = $1, auto_within_days = $2, updated_at = now(), updated_by = $3",
        policy.auto_max_amount,
        policy.auto_within_days,
        admin.id
    )
    .execute(&mut *tx)
    .await?;
    audit(
        &mut *tx,
        None,
        None,
        AuditKind::PolicyChanged,
        &actor(admin),
        serde_json::json!({"before": before.describe(), "after": policy.describe(),
                           "auto_max_amount": policy.auto_max_amount, "auto_within_days": policy.auto_within_days}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(admin = admin.id, policy = %policy.describe(), "refund approval policy changed");
    Ok(())
}

/// 승인: PortOne's payment is read again (its balance may have moved since the request), the
/// request is checked against it, and the refund runs as an admin's would.
#[tracing::instrument(skip_all, fields(refund_id = %refund_id, admin = admin.id))]
pub async fn approve(
    pool: &PgPool,
    portone: &Gateway,
    settings: &PipelineSettings,
    admin: &CurrentUser,
    refund_id: Uuid,
) -> Result<Answer, ServerError> {
    let Some(payment_id) = sqlx::query_scalar!(
        "select r.payment_id from refunds r where r.id = $1 and r.status = 'requested'",
        refund_id
    )
    .fetch_optional(pool)
    .await?
    else {
        return Err(ServerError::Rejected(NOT_WAITING.into()));
    };
    let at = crate::server::payments::payment_ref(pool, payment_id).await?;
    observe::refresh(pool, portone, payment_id, &at).await?;
    match reserve::approve_request(pool, refund_id, admin, settings).await? {
        Approval::Reserved(r) => send(pool, portone, settings, *r, admin).await,
        Approval::NotWaiting => Err(ServerError::Rejected(NOT_WAITING.into())),
        Approval::Busy => Err(ServerError::Rejected(rules::REFUND_IN_PROGRESS.into())),
        Approval::Refused(why) => {
            audit(
                pool,
                Some(refund_id),
                Some(payment_id),
                AuditKind::ApprovalRefused,
                &actor(admin),
                serde_json::json!({"reason": why.to_string()}),
            )
            .await?;
            Err(ServerError::Rejected(format!("지금은 승인할 수 없습니다: {why}")))
        }
    }
}

/// 거절: the request ends with a reason the customer sees; its hold on the balance goes.
pub async fn reject(
    pool: &PgPool,
    admin: &CurrentUser,
    refund_id: Uuid,
    reason: &str,
) -> Result<(), ServerError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(ServerError::Rejected("거절 사유를 200자 이내로 입력해 주세요.".into()));
    }
    end_request(pool, refund_id, None, RefundStatus::Rejected, reason, &actor(admin)).await
}

/// 요청 철회: the customer takes back their own request while it waits.
pub async fn withdraw(
    pool: &PgPool,
    customer: &CurrentUser,
    refund_id: Uuid,
) -> Result<(), ServerError> {
    end_request(pool, refund_id, Some(customer.id), RefundStatus::Withdrawn, "", &actor(customer))
        .await
}

/// Ends a waiting request as `withdrawn` (by its requester) or `rejected` (with a note).
async fn end_request(
    pool: &PgPool,
    refund_id: Uuid,
    requester: Option<i64>,
    status: RefundStatus,
    note: &str,
    actor: &str,
) -> Result<(), ServerError> {
    let mut tx = pool.begin().await?;
    let ended = sqlx::query_scalar!(
        r#"update refunds set status = $2, decision_note = nullif($3, ''), finished_at = now(), updated_at = now()
           where id = $1 and status = 'requested' and ($4::bigint is null or requester_id = $4)
           returning payment_id"#,
        refund_id,
        status.as_str(),
        note,
        requester
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(payment_id) = ended else {
        return Err(ServerError::Rejected(NOT_WAITING.into()));
    };
    let detail = serde_json::json!({"reason": (!note.is_empty()).then_some(note)});
    let (kind, event) = if status == RefundStatus::Withdrawn {
        (AuditKind::Withdrawn, ShopEvent::Withdrawn)
    } else {
        (AuditKind::Rejected, ShopEvent::Rejected)
    };
    audit(&mut *tx, Some(refund_id), Some(payment_id), kind, actor, detail).await?;
    outbox::record_refund(&mut tx, event, refund_id).await?;
    tx.commit().await?;
    Ok(())
}
