//! The ledger never lies quietly: money PortOne moved twice for one refund is put in front of
//! an admin, the reference survives a PG that keeps few bytes of the reason, and a late
//! refusal of an earlier attempt cannot mark a refund failed.

use std::time::Duration;

use crate::common::*;
use crate::exactly_once::{entries_of, linked_to, refund, status};
use portone_refund::model::RefundOutcomeStatus;
use portone_refund::server::refund::decide;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

async fn events(app: &TestApp, refund_id: &Uuid) -> Vec<String> {
    sqlx::query_scalar!(
        "select kind from refund_events where refund_id = $1 order by id",
        *refund_id
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

pub(crate) async fn message(app: &TestApp, refund_id: &Uuid) -> String {
    sqlx::query_scalar!("select portone_message from refunds where id = $1", *refund_id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
        .unwrap_or_default()
}

#[sqlx::test]
async fn a_second_entry_carrying_a_succeeded_refunds_reference_is_a_suspected_double_refund(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    let o = refund(&app, &p, 3000).await;
    assert_eq!(o.status, RefundOutcomeStatus::Succeeded);
    assert_eq!(linked_to(&app, &o.refund_id).await, 1);
    // an earlier attempt PortOne applied late: the same reason, the same amount, once more;
    // its webhook syncs the payment
    let reason = decide::reason_for_portone("단순 변심", o.refund_id);
    let res = app
        .console_cancel(
            &p.imp_uid,
            ConsoleCancel { amount: Some(3000), reason: Some(reason.to_string()) },
        )
        .await;
    assert_eq!(res["webhook"]["status"], 200, "{res}");
    assert_eq!(entries_of(&app, &p, &o.refund_id).await, 2);
    assert_eq!(status(&app, &o.refund_id).await, "needs_review", "never a quiet 성공");
    let why = message(&app, &o.refund_id).await;
    assert!(why.starts_with("중복 환불 의심"), "{why}");
    assert!(why.contains("2건, 합계 6,000원") && why.contains("이 환불은 3,000원"), "{why}");
    assert!(events(&app, &o.refund_id).await.contains(&"duplicate_suspected".to_string()));
    // both entries are offered to the admin who reviews it, on the order's timeline
    assert_eq!(linked_to(&app, &o.refund_id).await, 0);
    let admin = app.signed_in(ADMIN).await;
    let page = app.page(&admin, &format!("/admin/payments/{}", p.merchant_uid)).await;
    assert!(page.contains("중복 환불 의심"), "the timeline says so");
    assert_eq!(page.matches("name=\"entry_key\"").count(), 2, "both entries to choose from");
}

#[sqlx::test]
async fn the_reconciler_finding_two_entries_for_a_pending_refund_suspects_a_double_refund(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    // applied, then the connection drops: pending
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::DropAfter)]).await;
    let o = refund(&app, &p, 2000).await;
    assert_eq!(o.status, RefundOutcomeStatus::Pending);
    let reason = decide::reason_for_portone("단순 변심", o.refund_id);
    app.console_cancel(
        &p.imp_uid,
        ConsoleCancel { amount: Some(2000), reason: Some(reason.to_string()) },
    )
    .await;
    let report = app.reconcile().await;
    assert_eq!((report.needs_review, report.succeeded), (1, 0), "{report:?}");
    assert!(message(&app, &o.refund_id).await.starts_with("중복 환불 의심"));
}

#[sqlx::test]
async fn a_long_korean_reason_cut_by_the_pg_still_links_its_refund(pool: PgPool) {
    let app = spawn_app(pool).await;
    // a PG that keeps 40 bytes of the reason: 13 for the reference, 9 Hangul of the words
    app.sim_config(ConfigChange { reason_byte_limit: Some(40), ..Default::default() }).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    let long = "상품을 받아 보니 설명과 색상이 너무 달라서 반품하고 환불을 요청합니다 [R-00000000]";
    let form = portone_refund::server::refund::rules::RefundForm {
        amount: Some("1000".into()),
        reason: long.into(),
        ..Default::default()
    };
    // the answer to the cancel is lost, so only the history can prove it
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::DropAfter)]).await;
    let cmd = portone_refund::server::refund::RefundCommand {
        merchant_uid: p.merchant_uid.clone(),
        form,
        idempotency_key: Uuid::new_v4(),
        keyless_within: None,
    };
    let settings = portone_refund::server::refund::PipelineSettings {
        lease: TEST_LEASE,
        ..Default::default()
    };
    let o = portone_refund::server::refund::request_refund(
        &app.pool,
        &app.portone,
        &settings,
        &app.users.minsu,
        cmd,
    )
    .await
    .unwrap();
    assert_eq!(o.status, RefundOutcomeStatus::Pending);
    let kept = app.sim_payment(&p.imp_uid).await.history()[0].reason.clone().unwrap();
    assert!(kept.len() <= 40 && kept.starts_with("[R-"), "{kept}");
    let report = app.reconcile().await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(status(&app, &o.refund_id).await, "succeeded");
    assert_eq!(linked_to(&app, &o.refund_id).await, 1);
    // the whole reason stays with us
    let stored: String =
        sqlx::query_scalar!("select reason from refunds where id = $1", o.refund_id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, long);
}

#[sqlx::test]
async fn a_late_refusal_of_attempt_one_cannot_fail_a_refund_whose_attempt_two_is_out(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    // attempt 1 is slow, then refused
    app.faults(&[
        FaultRule::once(FaultEndpoint::Cancel, FaultKind::Latency { ms: 1500 }),
        FaultRule::once(
            FaultEndpoint::Cancel,
            FaultKind::PgReject { message: "PG 통신 지연".into() },
        ),
    ])
    .await;
    let first = {
        let (pool, portone, minsu) =
            (app.pool.clone(), app.portone.clone(), app.users.minsu.clone());
        let merchant_uid = p.merchant_uid.clone();
        tokio::spawn(async move {
            let cmd = portone_refund::server::refund::RefundCommand {
                merchant_uid,
                form: portone_refund::server::refund::rules::RefundForm {
                    amount: Some("1000".into()),
                    reason: "단순 변심".into(),
                    ..Default::default()
                },
                idempotency_key: Uuid::new_v4(),
                keyless_within: None,
            };
            let settings = portone_refund::server::refund::PipelineSettings {
                lease: TEST_LEASE,
                ..Default::default()
            };
            portone_refund::server::refund::request_refund(&pool, &portone, &settings, &minsu, cmd)
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // attempt 2, sent by the reconciler once the lease ran out, is slower still
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::Latency { ms: 1800 })]).await;
    let second = {
        let (pool, portone) = (app.pool.clone(), app.portone.clone());
        app.expire_leases().await;
        tokio::spawn(async move {
            portone_refund::server::refund::reconcile::reconcile_once(
                &pool,
                &portone,
                &test_pipeline(),
            )
            .await
            .unwrap()
        })
    };
    let o = first.await.unwrap();
    assert_eq!(o.status, RefundOutcomeStatus::Pending, "attempt 1's refusal is not recorded");
    let report = second.await.unwrap();
    assert_eq!((report.resent, report.succeeded), (1, 1), "{report:?}");
    assert_eq!(status(&app, &o.refund_id).await, "succeeded");
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 1000);
}

#[sqlx::test]
async fn the_seed_endpoint_called_again_without_a_key_answers_the_first_refund(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    let minsu = app.signed_in(MINSU).await;
    let send = |amount: i64, reason: &'static str| {
        let (minsu, url, merchant_uid) =
            (minsu.clone(), format!("{}/payments/cancel", app.base_url), p.merchant_uid.clone());
        async move {
            minsu
                .post(url)
                .json(&json!({"merchant_uid": merchant_uid, "cancel_request_amount": amount, "reason": reason}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // the guide's snippet, clicked twice at once and once more a moment later
    let (a, b) = tokio::join!(send(1000, "단순 변심"), send(1000, "단순 변심"));
    let c = send(1000, "단순 변심").await;
    assert_eq!((a, b, c), (200, 200, 200));
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 1000, "one refund, not three");
    let refunds = || async {
        sqlx::query_scalar!(
            r#"select count(*) as "n!" from refunds r join payments p on p.id = r.payment_id where p.imp_uid = $1"#,
            p.imp_uid
        )
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    assert_eq!(refunds().await, 1);
    // another amount or another reason is another request
    assert_eq!(send(2000, "단순 변심").await, 200);
    assert_eq!(send(1000, "색상이 달라요").await, 200);
    assert_eq!(refunds().await, 3);
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 4000);
    // a minute later the same request is a new one
    sqlx::query!("update refunds set created_at = created_at - interval '61 seconds'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(send(1000, "단순 변심").await, 200);
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 5000);
}

async fn cancel_calls(app: &TestApp) -> u64 {
    app.sim_stats().await.cancel_calls
}

#[sqlx::test]
async fn a_cancel_the_pg_applies_later_is_accepted_then_succeeded_never_resent(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::AcceptLater { ms: 1500 })])
        .await;
    let o = refund(&app, &p, 3000).await;
    assert_eq!(o.status, RefundOutcomeStatus::Pending, "code 0 without our entry is not 성공");
    assert_eq!(o.message.as_deref(), Some(portone_refund::model::ACCEPTED_EXPLANATION));
    assert!(events(&app, &o.refund_id).await.contains(&"accepted".to_string()));
    // rechecked: not there yet, and never sent again
    let calls = cancel_calls(&app).await;
    let report = app.reconcile().await;
    assert_eq!((report.still_pending, report.resent), (1, 0), "{report:?}");
    assert_eq!(cancel_calls(&app).await, calls);
    // the PG applies it: the next check finds the entry
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let report = app.reconcile().await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(status(&app, &o.refund_id).await, "succeeded");
    assert_eq!(linked_to(&app, &o.refund_id).await, 1);
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 3000, "once");
}

#[sqlx::test]
async fn a_cancel_the_pg_accepted_then_dropped_goes_to_an_admin_never_resent(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::AcceptRevert)]).await;
    let o = refund(&app, &p, 3000).await;
    assert_eq!(o.status, RefundOutcomeStatus::Pending);
    let calls = cancel_calls(&app).await;
    for _ in 0..3 {
        let report = app.reconcile().await;
        assert_eq!((report.still_pending, report.resent), (1, 0), "{report:?}");
    }
    assert_eq!(cancel_calls(&app).await, calls, "never resent: the PG might still apply it");
    // days later, still nothing at PortOne: an admin decides
    sqlx::query!("update refunds set accepted_at = now() - interval '3 days 1 minute'")
        .execute(&app.pool)
        .await
        .unwrap();
    let report = app.reconcile().await;
    assert_eq!(report.needs_review, 1, "{report:?}");
    assert_eq!(status(&app, &o.refund_id).await, "needs_review");
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 0);
}
