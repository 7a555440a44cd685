//! Nothing depends on one webhook, and the webhook cannot be turned against PortOne: a lost
//! webhook is made good by the sweep, a flood of hints for one payment costs a read or two,
//! and a sync never queues behind a payment's lock.

use std::time::{Duration, Instant};

use crate::common::*;
use portone_refund::server::config::SweepSettings;
use portone_refund::server::refund::sweep::sweep_once;
use portone_refund::server::webhook::MIN_READ_GAP;
use serde_json::json;
use sqlx::PgPool;

async fn stored_cancel_amount(app: &TestApp, imp_uid: &str) -> i64 {
    sqlx::query_scalar!("select cancel_amount from payments where imp_uid = $1", imp_uid)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn payment_reads(app: &TestApp) -> u64 {
    app.sim_stats().await.payment_reads
}

fn due_now() -> SweepSettings {
    SweepSettings { every: Duration::ZERO, ..SweepSettings::default() }
}

#[sqlx::test]
async fn a_console_cancel_whose_webhook_was_lost_appears_without_anyone_pressing_sync(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 20_000, "card", "kcp").await;
    app.sim_config(ConfigChange { drop_webhooks: Some(true), ..Default::default() }).await;
    let res = app
        .console_cancel(
            &p.imp_uid,
            ConsoleCancel { amount: Some(5000), reason: Some("콘솔 취소".into()) },
        )
        .await;
    assert_eq!(res["webhook"]["sent"], false, "{res}");
    assert_eq!(stored_cancel_amount(&app, &p.imp_uid).await, 0, "no webhook, nothing known");
    let report = sweep_once(&app.pool, &app.portone, &due_now()).await.unwrap();
    assert_eq!((report.read, report.new_entries, report.failed), (1, 1, 0), "{report:?}");
    assert_eq!(stored_cancel_amount(&app, &p.imp_uid).await, 5000);
    // the customer sees it on the order, the admin on the timeline
    let minsu = app.signed_in(MINSU).await;
    let page = app.page(&minsu, &format!("/orders/{}", p.merchant_uid)).await;
    assert!(page.contains("5,000원"), "the order shows the cancel");
    // read again only once it is due
    let report = sweep_once(&app.pool, &app.portone, &SweepSettings::default()).await.unwrap();
    assert_eq!(report.read, 0, "{report:?}");
}

#[sqlx::test]
async fn the_sweep_reads_payments_with_open_refunds_or_recent_activity_in_bounded_batches(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let mut orders = Vec::new();
    for _ in 0..5 {
        orders.push(app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await);
    }
    // all read a day ago; one paid long ago and quiet since
    sqlx::query!("update payments set synced_at = now() - interval '1 day'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query!(
        "update payments set paid_at = now() - interval '30 days', cancelled_at = null where imp_uid = $1",
        orders[0].imp_uid
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let before = payment_reads(&app).await;
    let batch = SweepSettings { batch: 3, every: Duration::from_secs(3600), ..Default::default() };
    let first = sweep_once(&app.pool, &app.portone, &batch).await.unwrap();
    let second = sweep_once(&app.pool, &app.portone, &batch).await.unwrap();
    let third = sweep_once(&app.pool, &app.portone, &batch).await.unwrap();
    assert_eq!(
        (first.read, second.read, third.read),
        (3, 1, 0),
        "at most a batch per pass, each due payment once"
    );
    assert_eq!(payment_reads(&app).await - before, 4);
    let quiet: bool = sqlx::query_scalar!(
        r#"select synced_at < now() - interval '1 hour' as "quiet!" from payments where imp_uid = $1"#,
        orders[0].imp_uid
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(quiet, "an old, quiet payment is left alone");
    // a refund not yet final makes it due again, however old
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::ErrorBefore { status: 500 })])
        .await;
    let o = crate::exactly_once::refund(&app, &orders[0], 1000).await;
    assert_eq!(o.status, portone_refund::model::RefundOutcomeStatus::Pending);
    sqlx::query!("update payments set synced_at = now() - interval '1 day'")
        .execute(&app.pool)
        .await
        .unwrap();
    let fourth = sweep_once(&app.pool, &app.portone, &batch).await.unwrap();
    let fifth = sweep_once(&app.pool, &app.portone, &batch).await.unwrap();
    assert_eq!((fourth.read, fifth.read), (3, 2), "the old payment too, while its refund is open");
}

#[sqlx::test]
async fn a_flood_of_hints_for_one_payment_costs_a_read_or_two(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    let before = payment_reads(&app).await;
    let client = reqwest::Client::new();
    let hints = (0..300).map(|_| {
        let (client, url, imp_uid) =
            (client.clone(), format!("{}/portone/webhook", app.base_url), p.imp_uid.clone());
        tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"imp_uid": imp_uid, "merchant_uid": "x", "status": "cancelled"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    });
    let started = Instant::now();
    let statuses: Vec<u16> =
        futures::future::join_all(hints).await.into_iter().map(Result::unwrap).collect();
    let took = started.elapsed();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    // one read per gap while hints keep coming, and one for those that came during the last
    let reads = payment_reads(&app).await - before;
    let bound = 2 + (took.as_secs_f64() / MIN_READ_GAP.as_secs_f64()) as u64;
    assert!(reads <= bound && reads < 30, "{reads} PortOne reads for 300 hints in {took:?}");
}

#[sqlx::test]
async fn a_sync_never_waits_on_a_payment_lock(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    // something holds the payment's row (a refund's transaction, say) for a long while
    let mut holder = app.pool.begin().await.unwrap();
    sqlx::query!("select id from payments where imp_uid = $1 for update", p.imp_uid)
        .fetch_one(&mut *holder)
        .await
        .unwrap();
    let started = Instant::now();
    let res = reqwest::Client::new()
        .post(format!("{}/portone/webhook", app.base_url))
        .json(&json!({"imp_uid": p.imp_uid, "merchant_uid": p.merchant_uid, "status": "paid"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503, "told to come again, not kept waiting");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    holder.rollback().await.unwrap();
}

#[sqlx::test]
async fn our_own_cancels_webhook_costs_no_portone_read_and_writes_nothing(pool: PgPool) {
    use portone_refund::server::webhook::{self, ImportRules, WebhookEffect};
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    app.sim_config(ConfigChange { drop_webhooks: Some(true), ..Default::default() }).await;
    let o = crate::exactly_once::refund(&app, &p, 3000).await;
    assert_eq!(o.status, portone_refund::model::RefundOutcomeStatus::Succeeded);
    let ours: String = sqlx::query_scalar!(
        "select cancellation_id as \"id!\" from payment_cancellations where refund_id = $1",
        o.refund_id
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let rules = ImportRules { allow_test_payments: true, owner_from_buyer_email: true };
    let notice = |cancellation_id: &str| portone_v1::WebhookNotice {
        imp_uid: p.imp_uid.clone(),
        merchant_uid: Some(p.merchant_uid.clone()),
        status: Some("cancelled".into()),
        cancellation_id: Some(cancellation_id.into()),
    };
    let before = payment_reads(&app).await;
    let effect = webhook::process(&app.pool, &app.portone, &notice(&ours), &rules).await.unwrap();
    assert_eq!(effect, WebhookEffect::Known);
    assert_eq!(
        payment_reads(&app).await,
        before,
        "the cancel's tx2 already holds what PortOne said"
    );
    // a cancellation we do not hold (a console cancel's) is read from PortOne as before
    app.console_cancel(
        &p.imp_uid,
        ConsoleCancel { amount: Some(1000), reason: Some("콘솔 취소".into()) },
    )
    .await;
    let effect =
        webhook::process(&app.pool, &app.portone, &notice("cancel_console"), &rules).await.unwrap();
    assert_eq!(effect, WebhookEffect::Synced { new_cancellations: 1 });
    assert_eq!(payment_reads(&app).await, before + 1);
    assert_eq!(stored_cancel_amount(&app, &p.imp_uid).await, 4000);
}
