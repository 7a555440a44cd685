//! The reconciler: finishes refunds whose PortOne answer was lost (timeouts, dropped
//! connections, 5xx, crashed processes) by asking PortOne what actually happened.
//!
//! A refund is taken only once its attempt's lease has run out, and the lease is moved past
//! the next call's deadline before every PortOne call, in a short transaction that uses
//! `FOR UPDATE SKIP LOCKED` — several app instances never work on the same refund, no lock
//! spans a PortOne call, and nobody resends while an earlier cancel may still be applied.

use std::time::Duration;

use sqlx::PgPool;
use tracing::Instrument;
use uuid::Uuid;

use super::settle::{self, Settled};
use super::store::Reserved;
use super::PipelineSettings;
use crate::model::ApiVersion;
use crate::model::{PayMethod, RefundOutcomeStatus, Role};
use crate::server::actor::Actor;
use crate::server::gateway::{Gateway, PaymentRef};

#[derive(Debug, Default, PartialEq)]
pub struct ReconcileReport {
    pub succeeded: u32,
    pub failed: u32,
    pub resent: u32,
    pub needs_review: u32,
    pub still_pending: u32,
}

/// Takes one pending refund whose lease has run out and that was not yet seen in this pass,
/// and leases it for one PortOne call.
async fn claim(
    pool: &PgPool,
    settings: &PipelineSettings,
    seen: &[Uuid],
) -> Result<Option<Reserved>, sqlx::Error> {
    let lease = settings.lease;
    let row = sqlx::query!(
        r#"update refunds r set lease_until = now() + make_interval(secs => $1), updated_at = now()
           from payments p
           where r.payment_id = p.id and r.id = (
               select id from refunds
               where status = 'pending' and lease_until < now() and not (id = any($2))
               order by lease_until
               for update skip locked
               limit 1)
           returning r.id, r.payment_id, p.imp_uid, p.merchant_uid, p.api_version as "api_version: ApiVersion", p.pay_method as "pay_method: PayMethod", p.pg_provider, r.amount, r.checksum, r.reason,
                     r.tax_free, r.vat_amount,
                     r.attempts, r.requester_role as "requester_role: Role",
                     r.refund_account_masked is not null as "account_given!",
                     r.refund_account_sealed, r.refund_account_key_id,
                     r.accepted_at as "accepted_at: chrono::DateTime<chrono::Utc>""#,
        lease.as_secs_f64(),
        seen
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| Reserved {
        // the account the customer gave, when it was kept sealed: a resend can carry it
        account: super::sealed::open_stored(
            settings.account_keys.as_ref(),
            r.id,
            r.refund_account_sealed,
            r.refund_account_key_id,
        ),
        id: r.id,
        payment_id: r.payment_id,
        at: PaymentRef { version: r.api_version, imp_uid: r.imp_uid, merchant_uid: r.merchant_uid },
        pay_method: r.pay_method,
        pg_provider: r.pg_provider.into(),
        amount: r.amount,
        checksum: r.checksum,
        reason: r.reason,
        tax: r
            .tax_free
            .zip(r.vat_amount)
            .map(|(tax_free, vat)| super::tax::TaxParts { tax_free, vat }),
        account_given: r.account_given,
        requester: r.requester_role,
        attempts: r.attempts,
        accepted_at: r.accepted_at,
        held: None,
    }))
}

/// One pass: every pending refund whose lease ran out is decided, resent or left pending.
pub async fn reconcile_once(
    pool: &PgPool,
    portone: &Gateway,
    settings: &PipelineSettings,
) -> Result<ReconcileReport, sqlx::Error> {
    reconcile_pass(pool, portone, settings, || false).await
}

/// One pass that ends early, between claims, once `stopping()` says so.
async fn reconcile_pass(
    pool: &PgPool,
    portone: &Gateway,
    settings: &PipelineSettings,
    stopping: impl Fn() -> bool,
) -> Result<ReconcileReport, sqlx::Error> {
    let lease = settings.lease;
    let actor = Actor::Reconciler.to_string();
    let mut report = ReconcileReport::default();
    let mut seen: Vec<Uuid> = Vec::new();
    while !stopping() {
        let Some(r) = claim(pool, settings, &seen).await? else { break };
        seen.push(r.id);
        let step = async {
            match settle::settle_by_lookup(pool, portone, &r, &actor, None).await? {
                Settled::Resend => Ok::<_, super::ServerError>(
                    match settle::resend(pool, portone, &r, lease, &actor).await?.status {
                        RefundOutcomeStatus::Succeeded => Step::Resent(Some(Settled::Succeeded)),
                        RefundOutcomeStatus::Failed => Step::Resent(Some(Settled::Failed)),
                        // (the reconciler takes pending refunds only: never a request)
                        RefundOutcomeStatus::Pending
                        | RefundOutcomeStatus::Requested
                        | RefundOutcomeStatus::Withdrawn
                        | RefundOutcomeStatus::Rejected => Step::Resent(None),
                    },
                ),
                other => Ok(Step::Decided(other)),
            }
        };
        let step = step.instrument(tracing::info_span!("reconcile", refund_id = %r.id));
        // where the refund ended up: `None` still pending, `Err` a failed step (also pending)
        let ended = match step.await {
            Ok(Step::Resent(then)) => {
                report.resent += 1;
                metrics::counter!("reconciler_actions_total", "action" => "resent").increment(1);
                Ok(then)
            }
            Ok(Step::Decided(settled)) => Ok(Some(settled)),
            Err(e) => {
                tracing::error!(refund_id = %r.id, error = %e, "reconciling a refund failed");
                Err(())
            }
        };
        let action = match ended {
            Ok(Some(Settled::Succeeded)) => {
                report.succeeded += 1;
                "succeeded"
            }
            Ok(Some(Settled::Failed)) => {
                report.failed += 1;
                "failed"
            }
            Ok(Some(Settled::NeedsReview)) => {
                report.needs_review += 1;
                "review"
            }
            Ok(_) => {
                report.still_pending += 1;
                "still_pending"
            }
            Err(()) => {
                report.still_pending += 1;
                "error"
            }
        };
        metrics::counter!("reconciler_actions_total", "action" => action).increment(1);
    }
    Ok(report)
}

enum Step {
    Decided(Settled),
    Resent(Option<Settled>),
}

/// Runs a pass now and then every `interval` until `stop` turns true, each followed by a
/// sweep (`sweep.rs`); a refund being reconciled is finished first (the next claim is not
/// taken). Await the handle to know it has stopped.
pub fn spawn(
    pool: PgPool,
    portone: std::sync::Arc<Gateway>,
    interval: Duration,
    settings: PipelineSettings,
    sweep: crate::server::config::SweepSettings,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while !*stop.borrow() {
            let stopping = || *stop.borrow();
            match reconcile_pass(&pool, &portone, &settings, stopping).await {
                Ok(report) if report != ReconcileReport::default() => {
                    tracing::info!(?report, "reconciled refunds")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "reconciler pass failed"),
            }
            if !*stop.borrow() {
                match super::sweep::sweep_once(&pool, &portone, &sweep).await {
                    Ok(report) if report.new_entries > 0 || report.failed > 0 => {
                        tracing::info!(?report, "swept payments")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "sweep failed"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => {}
            }
        }
        tracing::info!("reconciler stopped");
    })
}
