//! An admin's decision on a refund that needs review: link it to one of PortOne's
//! cancel_history entries as succeeded, or mark it failed. Each decision is an audit event.

use sqlx::PgPool;
use uuid::Uuid;

use super::store;
use crate::model::admin::AuditKind;
use crate::model::{CancellationState, CurrentUser};
use crate::server::error::ServerError;
use crate::server::outbox::{self, ShopEvent};

/// What an admin decided.
#[derive(Clone, Debug, PartialEq)]
pub enum ReviewDecision {
    /// This PortOne entry is the refund's cancel.
    Succeeded { entry_key: String },
    /// No money moved for this refund.
    Failed,
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no refund needing review with this id")]
    NotFound,
    #[error("{0}")]
    Rejected(&'static str),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub const FAILED_BY_REVIEW: &str =
    "관리자가 PortOne 내역을 검토하고 환불되지 않은 것으로 처리했습니다.";

pub async fn decide(
    pool: &PgPool,
    admin: &CurrentUser,
    refund_id: Uuid,
    decision: ReviewDecision,
) -> Result<(), ServerError> {
    let actor = store::actor(admin);
    let mut tx = pool.begin().await?;
    let r = sqlx::query!("select payment_id, amount from refunds where id = $1 and status = 'needs_review' for update", refund_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ServerError::Rejected("검토할 환불이 아니거나 이미 처리되었습니다.".into()))?;
    match decision {
        ReviewDecision::Succeeded { entry_key } => {
            let entry = sqlx::query!(
                r#"select amount, refund_id, pg_tid, receipt_url, cancellation_id, state as "state: CancellationState"
                   from payment_cancellations where payment_id = $1 and entry_key = $2 for update"#,
                r.payment_id,
                entry_key
            )
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(ServerError::Rejected("이 주문의 PortOne 취소 내역에 없는 항목입니다.".into()))?;
            // a V2 cancellation its PG has yet to apply, or failed, returned no money
            if entry.state != CancellationState::Succeeded {
                return Err(ServerError::Rejected(
                    "아직 반영되지 않았거나 실패한 취소 내역입니다.".into(),
                ));
            }
            if entry.refund_id.is_some() {
                return Err(ServerError::Rejected(
                    "이미 다른 환불과 연결된 취소 내역입니다.".into(),
                ));
            }
            if entry.amount != r.amount {
                return Err(ServerError::Rejected(
                    "취소 내역의 금액이 환불 요청 금액과 다릅니다.".into(),
                ));
            }
            let proof = store::ProvingEntry {
                key: entry_key.clone(),
                pg_tid: entry.pg_tid,
                receipt_url: entry.receipt_url,
                cancellation_id: entry.cancellation_id,
            };
            store::mark_succeeded(&mut tx, refund_id, r.payment_id, &proof).await?;
            store::audit(
                &mut *tx,
                Some(refund_id),
                Some(r.payment_id),
                AuditKind::ReviewSucceeded,
                &actor,
                serde_json::json!({"entry_key": entry_key}),
            )
            .await?;
        }
        ReviewDecision::Failed => {
            sqlx::query!(
                "update refunds set status = 'failed', portone_message = $2, updated_at = now(), finished_at = now() where id = $1",
                refund_id,
                FAILED_BY_REVIEW
            )
            .execute(&mut *tx)
            .await?;
            store::audit(
                &mut *tx,
                Some(refund_id),
                Some(r.payment_id),
                AuditKind::ReviewFailed,
                &actor,
                serde_json::json!({}),
            )
            .await?;
        }
    }
    outbox::record_refund(&mut tx, ShopEvent::ReviewDecided, refund_id).await?;
    tx.commit().await?;
    Ok(())
}
