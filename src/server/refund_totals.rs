//! 환불 내역's totals and daily chart from sums kept beside the refunds (migration
//! `20261202000001_refund_totals.sql`): triggers append each change in the refund's own
//! transaction; `fold` moves the appended changes into the day sums every few seconds. A
//! search's totals come from its rows instead (they are few: it drives from the payments it
//! names), as does anything the sums do not split by.

use std::time::Duration;

use chrono::NaiveDate;
use sqlx::PgPool;

use crate::model::admin::{DayTotal, RefundQuery, StatusTotal};
use crate::model::{ApiVersion, RefundStatus};

/// Moves every committed change into the day sums; returns how many changes it moved.
pub async fn fold(pool: &PgPool) -> Result<i64, sqlx::Error> {
    let moved = sqlx::query_scalar!(r#"select fold_refund_total_changes() as "moved!""#)
        .fetch_one(pool)
        .await?;
    Ok(moved)
}

/// Folds every `every` until `stop`, on every instance (two folds at once are harmless).
pub fn spawn_fold(
    pool: PgPool,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !*stop.borrow() {
            if let Err(error) = fold(&pool).await {
                tracing::warn!(%error, "folding refund total changes failed; readers still add them");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => {}
            }
        }
    })
}

/// A group whose kept sums differ from what they sum.
#[derive(Debug, PartialEq, Eq)]
pub struct Disagreement {
    /// `day`: a day's sums against its rows; `month`: a month's sums against its days' sums
    pub level: String,
    /// the day, or the month's first day
    pub day: NaiveDate,
    pub status: String,
    pub pay_method: String,
    pub requester_role: String,
    pub api_version: String,
    pub kept: (i64, i64),
    pub summed: (i64, i64),
}

/// Every group whose kept sums differ from the rows (or a month's from its days'): empty when
/// all is well. Reads every refund: for tests and the torture run's final check, not pages.
pub async fn disagreements(pool: &PgPool) -> Result<Vec<Disagreement>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select level as "level!", day as "day!: NaiveDate", status as "status!", pay_method as "pay_method!",
                  requester_role as "requester_role!", api_version as "api_version!",
                  kept_refunds as "kept_refunds!", kept_amount as "kept_amount!",
                  summed_refunds as "summed_refunds!", summed_amount as "summed_amount!"
           from refund_totals_disagreements()"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Disagreement {
            level: r.level,
            day: r.day,
            status: r.status,
            pay_method: r.pay_method,
            requester_role: r.requester_role,
            api_version: r.api_version,
            kept: (r.kept_refunds, r.kept_amount),
            summed: (r.summed_refunds, r.summed_amount),
        })
        .collect())
}

/// The filter in the sums' terms: `None` when the sums cannot answer it (a search).
struct Grouped<'a> {
    status: Option<&'a str>,
    pay_method: Option<&'a str>,
    requester: Option<&'a str>,
    version: Option<&'static str>,
}

impl<'a> Grouped<'a> {
    fn of(query: &'a RefundQuery) -> Option<Grouped<'a>> {
        if query.q.is_some() {
            return None;
        }
        Some(Grouped {
            status: query.status.as_deref(),
            pay_method: query.pay_method.as_deref(),
            requester: query.requester.as_deref(),
            version: query.version.as_deref().and_then(ApiVersion::parse).map(ApiVersion::as_str),
        })
    }
}

/// Count and sum per status for the filter, from the sums; `None` for a search.
pub async fn status_totals(
    pool: &PgPool,
    query: &RefundQuery,
) -> Result<Option<Vec<StatusTotal>>, sqlx::Error> {
    let Some(g) = Grouped::of(query) else { return Ok(None) };
    let rows = sqlx::query!(
        r#"select status as "status!: RefundStatus", refunds as "refunds!", amount as "amount!"
           from refund_status_totals($1, $2, $3, $4, $5, $6)
           order by status"#,
        g.status,
        query.from_day() as _,
        query.to_day() as _,
        g.pay_method,
        g.requester,
        g.version
    )
    .fetch_all(pool)
    .await?;
    Ok(Some(
        rows.into_iter()
            .map(|r| StatusTotal { status: r.status, count: r.refunds, amount: r.amount })
            .collect(),
    ))
}

/// Refunded won per KST day from `from` to `to` for the filter, from the sums (days without
/// refunds left out); `None` for a search.
pub async fn daily_refunded(
    pool: &PgPool,
    query: &RefundQuery,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Option<Vec<DayTotal>>, sqlx::Error> {
    let Some(g) = Grouped::of(query) else { return Ok(None) };
    let rows = sqlx::query!(
        r#"select day as "day!: NaiveDate", refunded as "refunded!"
           from refund_daily_refunded($1, $2, $3, $4, $5, $6)
           order by day"#,
        g.status,
        from as _,
        to as _,
        g.pay_method,
        g.requester,
        g.version
    )
    .fetch_all(pool)
    .await?;
    Ok(Some(rows.into_iter().map(|r| DayTotal { day: r.day, refunded: r.refunded }).collect()))
}
