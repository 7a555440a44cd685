//! Admin server functions. Each checks the admin role itself; hiding links is not security.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::admin::{PaymentTimeline, RefundPage, RefundQuery, SyncReport};

#[cfg(feature = "ssr")]
use super::ctx;

/// 환불 내역: one page of refunds for the filter, with totals and the daily chart.
#[server]
pub async fn admin_refunds(#[server(default)] query: RefundQuery) -> Result<RefundPage, AppError> {
    ctx::require_admin().await?;
    let state = ctx::state()?;
    crate::server::admin::refund_page(&state.pool, &query.normalized()).await.map_err(crate::server::auth::internal)
}

/// One order's timeline.
#[server]
pub async fn admin_timeline(merchant_uid: String) -> Result<PaymentTimeline, AppError> {
    ctx::require_admin().await?;
    let state = ctx::state()?;
    crate::server::admin::timeline(&state.pool, &merchant_uid)
        .await
        .map_err(crate::server::auth::internal)?
        .ok_or(AppError::NotFound)
}

/// PortOne과 동기화.
#[server]
pub async fn admin_sync(merchant_uid: String) -> Result<SyncReport, AppError> {
    let admin = ctx::require_admin().await?;
    let state = ctx::state()?;
    let actor = format!("admin:{}", admin.id);
    crate::server::admin::sync_now(&state.pool, &state.portone, &merchant_uid, &actor)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, merchant_uid, "sync with PortOne failed");
            AppError::Rejected("PortOne에서 결제 정보를 가져오지 못했습니다. 잠시 후 다시 시도해 주세요.".into())
        })?
        .ok_or(AppError::NotFound)
}
