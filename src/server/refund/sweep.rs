//! The sweep: nothing depends on one webhook. PortOne sends each V1 webhook once by default,
//! and a network can lose it; a cancel made in PortOne's console would then never reach us
//! until someone pressed 동기화. So, on the reconciler's schedule, a bounded batch of payments
//! is re-read from PortOne: every payment with a refund not yet final, and every payment with
//! activity in the last days, each at most once per `every`, the longest unread first.

use sqlx::PgPool;

use super::observe;
use crate::model::ApiVersion;
use crate::server::config::SweepSettings;
use crate::server::gateway::{Gateway, PaymentRef};

#[derive(Debug, Default, PartialEq)]
pub struct SweepReport {
    /// payments re-read
    pub read: u32,
    /// cancel_history entries that were new to us
    pub new_entries: u64,
    /// payments PortOne could not be asked about this time (read again next pass)
    pub failed: u32,
}

/// One pass over at most `settings.batch` payments that are due.
pub async fn sweep_once(
    pool: &PgPool,
    portone: &Gateway,
    settings: &SweepSettings,
) -> Result<SweepReport, sqlx::Error> {
    let due = sqlx::query!(
        r#"select p.id, p.imp_uid, p.merchant_uid, p.api_version as "api_version: ApiVersion" from payments p
           where (p.synced_at is null or p.synced_at < now() - make_interval(secs => $1))
             and (p.paid_at > now() - make_interval(secs => $2)
                  or p.cancelled_at > now() - make_interval(secs => $2)
                  or exists (select 1 from refunds r where r.payment_id = p.id
                             and (r.status in ('requested', 'pending', 'needs_review')
                                  or r.created_at > now() - make_interval(secs => $2))))
           order by p.synced_at nulls first
           limit $3"#,
        settings.every.as_secs_f64(),
        settings.recent.as_secs_f64(),
        settings.batch
    )
    .fetch_all(pool)
    .await?;
    let mut report = SweepReport::default();
    for p in due {
        let at =
            PaymentRef { version: p.api_version, imp_uid: p.imp_uid, merchant_uid: p.merchant_uid };
        match observe::refresh(pool, portone, p.id, &at).await {
            Ok(refreshed) => {
                report.read += 1;
                report.new_entries += refreshed.new_entries;
                if refreshed.new_entries > 0 {
                    tracing::info!(imp_uid = %at.imp_uid, new = refreshed.new_entries, "the sweep found cancels no webhook brought");
                }
            }
            Err(error) => {
                report.failed += 1;
                tracing::warn!(imp_uid = %at.imp_uid, %error, "the sweep could not re-read a payment");
            }
        }
    }
    metrics::counter!("sweep_payments_read_total").increment(u64::from(report.read));
    metrics::counter!("sweep_new_entries_total").increment(report.new_entries);
    Ok(report)
}
