//! Admin server functions. Each checks the admin role itself; hiding links is not security.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::admin::{PaymentTimeline, RefundPage, RefundQuery, SyncReport};
use crate::model::{RefundOutcome, RefundPolicyView};

#[cfg(feature = "ssr")]
use super::ctx;
#[cfg(feature = "ssr")]
use crate::server::error::ServerError;

/// 환불 내역: one page of refunds for the filter, with totals and the daily chart.
#[server]
pub async fn admin_refunds(#[server(default)] query: RefundQuery) -> Result<RefundPage, AppError> {
    ctx::require_admin().await?;
    let state = ctx::state()?;
    crate::server::admin::refund_page(
        &state.pool,
        &query.normalized(),
        state.settings.pending_alert_after,
    )
    .await
    .map_err(|e| ServerError::from(e).into())
}

/// One order's timeline.
#[server]
pub async fn admin_timeline(merchant_uid: String) -> Result<PaymentTimeline, AppError> {
    ctx::require_admin().await?;
    if !crate::model::valid_merchant_uid(&merchant_uid) {
        return Err(AppError::NotFound);
    }
    let state = ctx::state()?;
    crate::server::admin::timeline(&state.pool, &merchant_uid, state.settings.pending_alert_after)
        .await
        .map_err(ServerError::from)?
        .ok_or(AppError::NotFound)
}

/// PortOne과 동기화.
#[server]
pub async fn admin_sync(merchant_uid: String) -> Result<SyncReport, AppError> {
    let admin = ctx::require_admin().await?;
    if !crate::model::valid_merchant_uid(&merchant_uid) {
        return Err(AppError::NotFound);
    }
    let state = ctx::state()?;
    let actor = crate::server::actor::actor(&admin);
    let report = crate::server::admin::sync_now(&state.pool, &state.portone, &merchant_uid, &actor)
        .await?
        .ok_or(AppError::NotFound)?;
    // A plain form (no JavaScript needed) comes back to the timeline, which says what changed.
    leptos_axum::redirect(&format!(
        "/admin/payments/{}?{}",
        crate::model::percent_encode(&merchant_uid),
        report.to_query()
    ));
    Ok(report)
}

/// An admin's decision on a refund that needs review: `succeeded` with the PortOne entry that
/// is its cancel, or `failed` (no money moved). Field names match the review form.
#[server]
pub async fn admin_review(
    refund_id: String,
    decision: String,
    entry_key: Option<String>,
) -> Result<(), AppError> {
    use crate::server::refund::review::{self, ReviewDecision};
    let admin = ctx::require_admin().await?;
    let state = ctx::state()?;
    let refund_id = uuid::Uuid::parse_str(refund_id.trim()).map_err(|_| AppError::NotFound)?;
    let decision = match (decision.as_str(), entry_key.filter(|k| !k.trim().is_empty())) {
        ("succeeded", Some(entry_key)) => ReviewDecision::Succeeded { entry_key },
        ("succeeded", None) => {
            return Err(AppError::Rejected(
                "성공으로 처리하려면 PortOne 취소 내역을 하나 고르세요.".into(),
            ))
        }
        ("failed", _) => ReviewDecision::Failed,
        _ => return Err(AppError::Rejected("알 수 없는 처리입니다.".into())),
    };
    Ok(review::decide(&state.pool, &admin, refund_id, decision).await?)
}

/// 승인 of a waiting refund request: the refund runs now, as an admin's would.
#[server]
pub async fn admin_approve_request(refund_id: String) -> Result<RefundOutcome, AppError> {
    let admin = ctx::require_admin().await?;
    let state = ctx::state()?;
    let refund_id = uuid::Uuid::parse_str(refund_id.trim()).map_err(|_| AppError::NotFound)?;
    let answer = crate::server::refund::approval::approve(
        &state.pool,
        &state.portone,
        &state.settings.pipeline,
        &admin,
        refund_id,
    )
    .await?;
    Ok(answer.outcome)
}

/// 거절 of a waiting refund request, with the reason the customer will see.
#[server]
pub async fn admin_reject_request(refund_id: String, reason: String) -> Result<(), AppError> {
    let admin = ctx::require_admin().await?;
    let state = ctx::state()?;
    let refund_id = uuid::Uuid::parse_str(refund_id.trim()).map_err(|_| AppError::NotFound)?;
    Ok(crate::server::refund::approval::reject(&state.pool, &admin, refund_id, &reason).await?)
}

/// 환불 정책: the approval policy in force and its recent changes.
#[server]
pub async fn refund_policy() -> Result<RefundPolicyView, AppError> {
    ctx::require_admin().await?;
    let state = ctx::state()?;
    crate::server::refund::approval::view(&state.pool)
        .await
        .map_err(|e| ServerError::from(e).into())
}

/// Saves 환불 정책. Blank fields are "no limit". Field names match the settings form.
#[server]
pub async fn save_refund_policy(
    auto_max_amount: String,
    auto_within_days: String,
) -> Result<(), AppError> {
    use crate::server::refund::approval;
    let admin = ctx::require_admin().await?;
    let state = ctx::state()?;
    let policy =
        approval::parse_policy(&auto_max_amount, &auto_within_days).map_err(AppError::Rejected)?;
    Ok(approval::save(&state.pool, &admin, policy).await?)
}
