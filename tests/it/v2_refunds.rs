//! V2 payments through the one pipeline: imported from a signed webhook, refunded under the
//! refund's own idempotency key, `currentCancellableAmount` as the checksum, a late first
//! attempt and its resend ending as one cancellation, and asynchronous (`REQUESTED`)
//! virtual-account refunds that settle only when PortOne says how they ended.

use std::time::Duration;

use crate::common::*;
use crate::exactly_once::{linked_to, status};
use crate::ledger::message;
use portone_refund::model::{RefundOutcome, RefundOutcomeStatus};
use portone_refund::server::refund::rules::RefundForm;
use portone_refund::server::refund::{self, decide, RefundCommand};
use portone_v2::{CancellationStatus, WebhookVerifier};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

fn new_id() -> String {
    format!("v2-{}", &Uuid::new_v4().simple().to_string()[..20])
}

/// A paid V2 payment of 김민수 at the simulator; with `notify`, its `Transaction.Paid`
/// webhook reaches the app before this returns.
async fn pay(app: &TestApp, payment_id: &str, amount: i64, method: &str, notify: bool) -> Value {
    let new = NewV2Payment {
        notify,
        ..minsus_v2_payment(payment_id, amount, "무선 키보드", method)
    };
    app.control_v2.create_v2_payment(&new).await.unwrap()
}

async fn at_portone(app: &TestApp, payment_id: &str) -> portone_v2::Payment {
    app.portone.v2().unwrap().payment(payment_id).await.unwrap()
}

async fn refund_with(app: &TestApp, payment_id: &str, amount: i64, account: bool) -> RefundOutcome {
    let mut form = RefundForm {
        amount: Some(amount.to_string()),
        reason: "단순 변심".into(),
        ..Default::default()
    };
    if account {
        form.refund_holder = Some("김민수".into());
        form.refund_bank = Some("088".into());
        form.refund_account = Some("56211105948400".into());
    }
    let cmd = RefundCommand {
        merchant_uid: payment_id.into(),
        form,
        idempotency_key: Uuid::new_v4(),
        keyless_within: None,
    };
    refund::request_refund(&app.pool, &app.portone, &test_pipeline(), &app.users.minsu, cmd)
        .await
        .unwrap()
}

async fn stored_version(app: &TestApp, payment_id: &str) -> Option<String> {
    sqlx::query_scalar!("select api_version from payments where merchant_uid = $1", payment_id)
        .fetch_optional(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_v2_payment_arrives_by_its_signed_webhook_and_is_refunded_through_v2(pool: PgPool) {
    let app = spawn_app(pool).await;
    let id = new_id();
    pay(&app, &id, 10_000, "card", true).await;
    assert_eq!(stored_version(&app, &id).await.as_deref(), Some("v2"), "imported by the webhook");
    let owner: Option<i64> =
        sqlx::query_scalar!("select customer_id from payments where merchant_uid = $1", id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(owner, Some(app.users.minsu.id));

    let o = refund_with(&app, &id, 3000, false).await;
    assert_eq!(o.status, RefundOutcomeStatus::Succeeded, "{o:?}");
    let p = at_portone(&app, &id).await;
    assert_eq!((p.cancellable(), p.cancellations.len()), (7000, 1));
    let c = &p.cancellations[0];
    assert_eq!(c.status, CancellationStatus::Succeeded);
    let reference = decide::reference(o.refund_id);
    assert!(c.reason.starts_with(&format!("[{reference}]")), "{}", c.reason);
    assert_eq!(linked_to(&app, &o.refund_id).await, 1, "PortOne's cancellation proves it");
    // the next refund is computed from the balance PortOne now holds
    let rest = refund_with(&app, &id, 7000, false).await;
    assert_eq!(rest.status, RefundOutcomeStatus::Succeeded, "{rest:?}");
    assert_eq!(at_portone(&app, &id).await.cancellable(), 0);
    let more = refund::request_refund(
        &app.pool,
        &app.portone,
        &test_pipeline(),
        &app.users.minsu,
        RefundCommand {
            merchant_uid: id.clone(),
            form: RefundForm { amount: Some("1".into()), reason: "x".into(), ..Default::default() },
            idempotency_key: Uuid::new_v4(),
            keyless_within: None,
        },
    )
    .await;
    assert!(more.is_err(), "nothing is left to refund");
    assert_eq!(at_portone(&app, &id).await.cancellations.len(), 2);
}

#[sqlx::test]
async fn a_current_cancellable_amount_portone_does_not_hold_is_refused_and_moves_nothing(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let id = new_id();
    pay(&app, &id, 10_000, "card", true).await;
    // a console cancel whose webhook is lost: our balance is 2,000원 too high
    app.sim_config(ConfigChange { drop_webhooks: Some(true), ..Default::default() }).await;
    let console = ConsoleCancel { amount: Some(2000), reason: Some("콘솔 취소".into()) };
    app.control_v2.console_cancel(&id, &console).await.unwrap();
    let o = refund_with(&app, &id, 1000, false).await;
    assert_eq!(o.status, RefundOutcomeStatus::Failed, "{o:?}");
    let p = at_portone(&app, &id).await;
    assert_eq!((p.cancellable(), p.cancellations.len()), (8000, 1), "only the console's");
    // the refusal re-read the payment: the next request is computed from PortOne's balance
    let o = refund_with(&app, &id, 1000, false).await;
    assert_eq!(o.status, RefundOutcomeStatus::Succeeded, "{o:?}");
    assert_eq!(at_portone(&app, &id).await.cancellable(), 7000);
}

#[sqlx::test]
async fn a_first_attempt_applied_late_and_its_resend_are_one_cancellation(pool: PgPool) {
    let app = spawn_app(pool).await;
    // cancels may interleave: V1's checksum alone could not stop a second application here
    app.sim_config(ConfigChange { serialize_cancels: Some(false), ..Default::default() }).await;
    let id = new_id();
    pay(&app, &id, 10_000, "card", true).await;
    // PortOne checks the first cancel at once and applies it after our client gave up
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::DelayApply { ms: 2600 })]).await;
    let o = refund_with(&app, &id, 1000, false).await;
    assert_eq!(o.status, RefundOutcomeStatus::Pending, "{o:?}");
    // the lease ran out while PortOne still works on the first attempt: the resend carries
    // the same key, and PortOne answers 409 (in flight) — never a failure
    let report = app.reconcile().await;
    assert_eq!((report.resent, report.succeeded, report.failed), (1, 0, 0), "{report:?}");
    assert_eq!(status(&app, &o.refund_id).await, "pending");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let report = app.reconcile().await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(status(&app, &o.refund_id).await, "succeeded");
    let p = at_portone(&app, &id).await;
    assert_eq!((p.cancellable(), p.cancellations.len()), (9000, 1), "exactly one cancellation");
    assert_eq!(app.sim_stats().await.cancel_calls, 2, "two attempts, one key");
    assert_eq!(linked_to(&app, &o.refund_id).await, 1);
}

#[sqlx::test]
async fn a_requested_vbank_refund_is_accepted_until_portone_says_it_succeeded(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sim_config(ConfigChange { v2_vbank_delay_ms: Some(800), ..Default::default() }).await;
    let id = new_id();
    pay(&app, &id, 30_000, "virtualAccount", true).await;
    let o = refund_with(&app, &id, 30_000, true).await;
    assert_eq!(o.status, RefundOutcomeStatus::Pending, "no money is reported returned yet");
    assert_eq!(message(&app, &o.refund_id).await, portone_refund::model::ACCEPTED_EXPLANATION);
    let state: String = sqlx::query_scalar!(
        "select c.state from payment_cancellations c join payments p on p.id = c.payment_id where p.merchant_uid = $1",
        id
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(state, "requested");
    // the customer sees it accepted, and no money reported returned
    let minsu = app.signed_in(MINSU).await;
    let page = app.page(&minsu, &format!("/orders/{id}")).await;
    assert!(page.contains(r#"data-state="requested""#) && page.contains("환불 접수됨"), "{page}");
    assert!(page.contains(r#"data-testid="cancel-amount">0원<"#), "{page}");
    // accepted: never resent while PortOne holds it
    let report = app.reconcile().await;
    assert_eq!((report.resent, report.still_pending), (0, 1), "{report:?}");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let report = app.reconcile().await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(status(&app, &o.refund_id).await, "succeeded");
    let page = app.page(&minsu, &format!("/orders/{id}")).await;
    assert!(page.contains(r#"data-testid="cancel-amount">30,000원<"#), "{page}");
    assert!(page.contains(r#"data-state="succeeded""#), "{page}");
    let p = at_portone(&app, &id).await;
    assert_eq!((p.cancellable(), p.cancellations.len()), (0, 1));
    assert_eq!(app.sim_stats().await.cancel_calls, 1);
}

#[sqlx::test]
async fn a_requested_vbank_refund_the_pg_fails_ends_failed_with_nothing_moved(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sim_config(ConfigChange {
        v2_vbank_delay_ms: Some(500),
        v2_vbank_fail: Some(true),
        ..Default::default()
    })
    .await;
    let id = new_id();
    pay(&app, &id, 30_000, "virtualAccount", true).await;
    let o = refund_with(&app, &id, 10_000, true).await;
    assert_eq!(o.status, RefundOutcomeStatus::Pending);
    tokio::time::sleep(Duration::from_millis(900)).await;
    let report = app.reconcile().await;
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(status(&app, &o.refund_id).await, "failed");
    assert_eq!(message(&app, &o.refund_id).await, decide::FAILED_AT_PG);
    let p = at_portone(&app, &id).await;
    assert_eq!(p.cancellable(), 30_000, "nothing moved");
    let stored: i64 =
        sqlx::query_scalar!("select cancel_amount from payments where merchant_uid = $1", id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 0);
}

#[sqlx::test]
async fn a_forged_or_stale_v2_webhook_does_nothing(pool: PgPool) {
    let app = spawn_app(pool).await;
    let id = new_id();
    pay(&app, &id, 10_000, "card", false).await;
    let body = json!({"type": "Transaction.Paid", "timestamp": "2026-12-01T00:00:00Z",
                      "data": {"paymentId": id, "storeId": "store-sim"}})
    .to_string();
    let send = |id: &str, at: i64, signature: String| {
        reqwest::Client::new()
            .post(format!("{}/portone/webhook/v2", app.base_url))
            .header("content-type", "application/json")
            .header("webhook-id", id.to_string())
            .header("webhook-timestamp", at.to_string())
            .header("webhook-signature", signature)
            .body(body.clone())
            .send()
    };
    let now = chrono::Utc::now().timestamp();
    let ours = WebhookVerifier::new(portone_sim::v2::DEMO_V2_WEBHOOK_SECRET).unwrap();
    let forger = WebhookVerifier::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let forged = send("msg_1", now, forger.sign("msg_1", now, body.as_bytes()).unwrap()).await;
    assert_eq!(forged.unwrap().status(), 401);
    let stale = send("msg_2", now - 600, ours.sign("msg_2", now - 600, body.as_bytes()).unwrap());
    assert_eq!(stale.await.unwrap().status(), 401);
    assert_eq!(stored_version(&app, &id).await, None, "nothing imported");
    // the same body, signed now with the shop's secret, is taken; unknown types are ignored
    let good = send("msg_3", now, ours.sign("msg_3", now, body.as_bytes()).unwrap()).await;
    assert_eq!(good.unwrap().status(), 200);
    assert_eq!(stored_version(&app, &id).await.as_deref(), Some("v2"));
    let other =
        json!({"type": "Transaction.DisputeCreated", "data": {"paymentId": id}}).to_string();
    let res = reqwest::Client::new()
        .post(format!("{}/portone/webhook/v2", app.base_url))
        .header("webhook-id", "msg_4")
        .header("webhook-timestamp", now.to_string())
        .header("webhook-signature", ours.sign("msg_4", now, other.as_bytes()).unwrap())
        .body(other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[sqlx::test]
async fn v1_and_v2_refunds_side_by_side_on_the_refund_list(pool: PgPool) {
    let app = spawn_app(pool).await;
    let v1 = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    let o1 = crate::exactly_once::refund(&app, &v1, 1000).await;
    assert_eq!(o1.status, RefundOutcomeStatus::Succeeded);
    let id = new_id();
    pay(&app, &id, 20_000, "card", true).await;
    let o2 = refund_with(&app, &id, 2000, false).await;
    assert_eq!(o2.status, RefundOutcomeStatus::Succeeded);

    let admin = app.signed_in(ADMIN).await;
    let all = app.page(&admin, "/admin/refunds").await;
    assert!(all.contains(&v1.merchant_uid) && all.contains(&id), "both listed");
    assert!(all.contains("PortOne V1") && all.contains("PortOne V2"));
    let only_v2 = app.page(&admin, "/admin/refunds?version=v2").await;
    assert!(only_v2.contains(&id) && !only_v2.contains(&v1.merchant_uid));
    assert!(only_v2.contains(r#"<option value="v2" selected"#), "the filter is kept");
    let csv = app.page(&admin, "/admin/refunds.csv?version=v1").await;
    assert!(csv.contains(&format!("{},{},PortOne V1,", v1.merchant_uid, v1.imp_uid)), "{csv}");
    assert!(!csv.contains(&id), "{csv}");
    let timeline = app.page(&admin, &format!("/admin/payments/{id}")).await;
    assert!(timeline.contains(r#"data-testid="admin-version">PortOne V2<"#), "{timeline}");
    assert!(timeline.contains(r#"data-state="succeeded""#), "{timeline}");
}

#[sqlx::test]
async fn a_shop_on_v2_alone_refunds_v2_payments_and_refuses_v1_ones_without_sending(pool: PgPool) {
    let app = spawn_app(pool).await;
    let v2_only = portone_refund::server::gateway::Gateway::new(
        None,
        Some(std::sync::Arc::new(
            portone_v2::PortOneV2Client::new(v2_config(&app.v2_url, Duration::from_secs(2)))
                .unwrap(),
        )),
    );
    let id = new_id();
    pay(&app, &id, 10_000, "card", true).await;
    let v1 = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    let ask = |merchant_uid: &str| RefundCommand {
        merchant_uid: merchant_uid.into(),
        form: RefundForm {
            amount: Some("1000".into()),
            reason: "변심".into(),
            ..Default::default()
        },
        idempotency_key: Uuid::new_v4(),
        keyless_within: None,
    };
    let settings = test_pipeline();
    let o = refund::request_refund(&app.pool, &v2_only, &settings, &app.users.minsu, ask(&id))
        .await
        .unwrap();
    assert_eq!(o.status, RefundOutcomeStatus::Succeeded, "{o:?}");
    let calls = app.sim_stats().await.cancel_calls;
    let refused = refund::request_refund(
        &app.pool,
        &v2_only,
        &settings,
        &app.users.minsu,
        ask(&v1.merchant_uid),
    )
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("PortOne V1 연동이 설정되어 있지 않습니다"), "{refused}");
    assert_eq!(app.sim_stats().await.cancel_calls, calls, "nothing was sent");
}

#[sqlx::test]
async fn an_accepted_refund_not_applied_in_days_goes_to_review_and_its_requested_cancellation_proves_nothing(
    pool: PgPool,
) {
    use portone_refund::server::refund::review::{self, ReviewDecision};
    let app = spawn_app(pool).await;
    app.sim_config(ConfigChange { v2_vbank_delay_ms: Some(600_000), ..Default::default() }).await;
    let id = new_id();
    pay(&app, &id, 30_000, "virtualAccount", true).await;
    let o = refund_with(&app, &id, 30_000, true).await;
    assert_eq!(o.status, RefundOutcomeStatus::Pending);
    let refund_id = o.refund_id;
    // PortOne still holds it REQUESTED four days on
    sqlx::query!(
        "update refunds set accepted_at = now() - interval '4 days' where id = $1",
        refund_id
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let report = app.reconcile().await;
    assert_eq!((report.needs_review, report.resent), (1, 0), "{report:?}");
    assert!(message(&app, &o.refund_id).await.contains("3일이 지나도록"));
    let requested: String = sqlx::query_scalar!(
        "select c.entry_key from payment_cancellations c join payments p on p.id = c.payment_id where p.merchant_uid = $1",
        id
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let refused = review::decide(
        &app.pool,
        &app.users.admin,
        refund_id,
        ReviewDecision::Succeeded { entry_key: requested },
    )
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("아직 반영되지 않았거나"), "{refused}");
    assert_eq!(status(&app, &o.refund_id).await, "needs_review");
}

#[sqlx::test]
async fn a_v2_refunds_tax_split_is_read_back_from_the_answer_not_once_more(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.sim_config(ConfigChange { drop_webhooks: Some(true), ..Default::default() }).await;
    let id = new_id();
    let new = NewV2Payment {
        tax_free: 10_000,
        ..minsus_v2_payment(&id, 20_000, "제철 과일", "card")
    };
    let v2: portone_v2::Payment = app.control_v2.create_v2_payment(&new).await.unwrap();
    portone_refund::server::payments::import_payment(
        &app.pool,
        &portone_refund::server::gateway::from_v2(v2),
        true,
    )
    .await
    .unwrap();
    let reads = |app: &TestApp| {
        let control = app.control.clone();
        async move { control.stats().await.unwrap().payment_reads }
    };
    let before = reads(&app).await;
    let o = refund_with(&app, &id, 4000, false).await;
    assert_eq!(o.status, RefundOutcomeStatus::Succeeded, "{o:?}");
    assert_eq!(reads(&app).await - before, 1, "the payment after the cancel carries the split");
    let left = sqlx::query!(
        "select tax_free_remaining, balance_cancel_amount from payments where merchant_uid = $1",
        id
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((left.tax_free_remaining, left.balance_cancel_amount), (Some(8000), Some(4000)));
}
