//! The refund pipeline end to end: real Postgres, the simulator over HTTP.

use std::time::Duration;

use crate::common::*;
use portone_refund::model::{CurrentUser, RefundOutcome, RefundOutcomeStatus};
use portone_refund::server::error::ServerError;
use portone_refund::server::refund::{
    self, reconcile, rules::RefundForm, PipelineSettings, RefundCommand,
};
use portone_refund::server::webhook;
use portone_v1::{CancelRequest, Payment};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

fn form(amount: &str, reason: &str) -> RefundForm {
    RefundForm {
        amount: (!amount.is_empty()).then(|| amount.to_string()),
        reason: reason.into(),
        ..Default::default()
    }
}

async fn refund_as(
    app: &TestApp,
    user: &CurrentUser,
    p: &Payment,
    form: RefundForm,
    key: Uuid,
) -> Result<RefundOutcome, ServerError> {
    let cmd = RefundCommand {
        merchant_uid: p.merchant_uid.clone(),
        form,
        idempotency_key: key,
        keyless_within: None,
    };
    refund::request_refund(&app.pool, &app.portone, &PipelineSettings::default(), user, cmd).await
}

async fn refund(app: &TestApp, p: &Payment, amount: &str) -> Result<RefundOutcome, ServerError> {
    refund_as(app, &app.users.minsu, p, form(amount, "단순 변심"), Uuid::new_v4()).await
}

async fn ours(app: &TestApp, p: &Payment) -> (i64, String, i64) {
    let r = sqlx::query!(
        r#"select cancel_amount, status,
                  (select count(*) from refunds r where r.payment_id = p.id and r.status = 'pending') as "pending!"
           from payments p where imp_uid = $1"#,
        p.imp_uid
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    (r.cancel_amount, r.status, r.pending)
}

fn rejected(r: Result<RefundOutcome, ServerError>) -> String {
    match r {
        Err(ServerError::Rejected(m)) => m,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[sqlx::test]
async fn full_refund_then_already_fully_refunded(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 12_000, "card", "html5_inicis").await;
    let o = refund(&app, &p, "").await.unwrap();
    assert_eq!((o.status, o.amount), (RefundOutcomeStatus::Succeeded, 12_000));
    assert!(o.receipt_url.is_some());
    assert_eq!(ours(&app, &p).await, (12_000, "cancelled".into(), 0));
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 12_000);
    assert_eq!(rejected(refund(&app, &p, "").await), "이미 전액환불된 주문입니다.");
    // the cancel_history entry is linked to our refund
    let linked = sqlx::query_scalar!(
        "select count(*) from payment_cancellations where refund_id is not null"
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(linked, Some(1));
}

#[sqlx::test]
async fn two_partial_refunds_then_the_rest(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 50_000, "card", "kcp").await;
    assert_eq!(refund(&app, &p, "10,000").await.unwrap().amount, 10_000);
    assert_eq!(refund(&app, &p, "5000").await.unwrap().amount, 5_000);
    assert!(rejected(refund(&app, &p, "35001").await).contains("35,000원"));
    assert_eq!(refund(&app, &p, "").await.unwrap().amount, 35_000);
    assert_eq!(ours(&app, &p).await, (50_000, "cancelled".into(), 0));
    assert_eq!(app.sim_payment(&p.imp_uid).await.history().len(), 3);
}

#[sqlx::test]
async fn validation_rules_refuse_before_anything_is_reserved(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 20_000, "card", "kcp").await;
    for (amount, reason, expected) in [
        ("0", "x", "1원 이상"),
        ("20001", "x", "환불 가능 금액"),
        ("1.5", "x", "숫자"),
        ("", "  ", "사유"),
        ("", &"가".repeat(201), "200자"),
    ] {
        let m = rejected(
            refund_as(&app, &app.users.minsu, &p, form(amount, reason), Uuid::new_v4()).await,
        );
        assert!(m.contains(expected), "{amount:?}: {m}");
    }
    let refunds =
        sqlx::query_scalar!("select count(*) from refunds").fetch_one(&app.pool).await.unwrap();
    assert_eq!(refunds, Some(0));
    assert_eq!(app.sim_stats().await.cancel_calls, 0);
    let audits = sqlx::query_scalar!("select count(*) from refund_events where kind = 'rejected'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(audits, Some(5));
}

#[sqlx::test]
async fn vbank_needs_an_account_and_never_stores_it_whole(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 54_000, "vbank", "html5_inicis").await;
    assert!(rejected(refund(&app, &p, "").await).contains("계좌"));
    let mut f = form("", "배송 지연");
    f.refund_holder = Some("김민수".into());
    f.refund_bank = Some("88".into());
    f.refund_account = Some("562-111-05948400".into());
    let o = refund_as(&app, &app.users.minsu, &p, f, Uuid::new_v4()).await.unwrap();
    assert_eq!(o.status, RefundOutcomeStatus::Succeeded);
    let masked = sqlx::query_scalar!("select refund_account_masked from refunds")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(masked.as_deref(), Some("**********8400"));
    let everywhere = sqlx::query_scalar!(
        "select count(*) from refund_events where detail::text like '%05948400%'"
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(everywhere, Some(0));
}

#[sqlx::test]
async fn phone_from_last_month_is_refused_before_any_gateway_call(pool: PgPool) {
    let app = spawn_app(pool).await;
    let last_month = chrono::Utc::now().timestamp() - 40 * 24 * 3600;
    let p = app.paid_order_at(&app.users.minsu, 9_900, "phone", "danal", Some(last_month)).await;
    assert!(rejected(refund(&app, &p, "").await).contains("결제한 달에만"));
    assert_eq!(app.sim_stats().await.cancel_calls, 0);
}

fn with_account(mut f: RefundForm, bank: &str, tel: Option<&str>) -> RefundForm {
    f.refund_holder = Some("김민수".into());
    f.refund_bank = Some(bank.into());
    f.refund_account = Some("562-111-05948400".into());
    f.refund_tel = tel.map(str::to_string);
    f
}

#[sqlx::test]
async fn kcp_refunds_last_months_phone_payment_to_an_account(pool: PgPool) {
    use portone_refund::server::orders::find_order;
    let app = spawn_app(pool).await;
    let last_month = chrono::Utc::now().timestamp() - 40 * 24 * 3600;
    let p = app.paid_order_at(&app.users.minsu, 9_900, "phone", "kcp", Some(last_month)).await;
    // the order page offers the account form instead of the refusal
    let detail = find_order(&app.pool, &app.users.minsu, &p.merchant_uid).await.unwrap().unwrap();
    assert_eq!(detail.not_refundable_reason, None);
    assert!(detail.refund_banks.iter().any(|(code, _)| code == "BK88"), "KCP's bank codes");
    assert!(!detail.refund_tel_required);
    // without an account the rules refuse before PortOne is asked
    assert!(rejected(refund(&app, &p, "").await).contains("계좌"));
    assert_eq!(app.sim_stats().await.cancel_calls, 0);
    let f = with_account(form("", "단순 변심"), "BK88", None);
    let o = refund_as(&app, &app.users.minsu, &p, f, Uuid::new_v4()).await.unwrap();
    assert_eq!(o.status, RefundOutcomeStatus::Succeeded, "{o:?}");
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 9_900);
}

#[sqlx::test]
async fn smartro_virtual_account_refunds_carry_the_holders_phone(pool: PgPool) {
    use portone_refund::server::orders::find_order;
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 30_000, "vbank", "smartro").await;
    let detail = find_order(&app.pool, &app.users.minsu, &p.merchant_uid).await.unwrap().unwrap();
    assert!(detail.refund_tel_required && !detail.refund_banks.is_empty());
    // PortOne (the simulator) refuses a smartro vbank cancel without refund_tel …
    let bare = CancelRequest {
        imp_uid: Some(p.imp_uid.clone()),
        amount: Some(1000),
        refund_holder: Some("김민수".into()),
        refund_bank: Some("088".into()),
        refund_account: Some(portone_v1::AccountNumber("56211105948400".into())),
        ..Default::default()
    };
    let refused = app.v1.cancel(&bare).await.unwrap_err();
    assert!(refused.to_string().contains("refund_tel"), "{refused}");
    // … so the form asks for it, and the rules want a phone number
    let f = with_account(form("10000", "단순 변심"), "088", None);
    assert!(
        rejected(refund_as(&app, &app.users.minsu, &p, f, Uuid::new_v4()).await).contains("연락처")
    );
    let f = with_account(form("10000", "단순 변심"), "088", Some("010-1234-5678"));
    let o = refund_as(&app, &app.users.minsu, &p, f, Uuid::new_v4()).await.unwrap();
    assert_eq!(o.status, RefundOutcomeStatus::Succeeded, "{o:?}");
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 10_000);
}

#[sqlx::test]
async fn another_customers_order_is_refused_like_a_missing_one(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.jiwoo, 10_000, "card", "kcp").await;
    assert!(matches!(refund(&app, &p, "").await, Err(ServerError::NotFound)));
    // an admin may refund on the customer's behalf
    let o = refund_as(&app, &app.users.admin, &p, form("1000", "고객 요청"), Uuid::new_v4())
        .await
        .unwrap();
    assert_eq!(o.status, RefundOutcomeStatus::Succeeded);
}

#[sqlx::test]
async fn the_same_key_refunds_once_sequentially_and_in_parallel(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    let key = Uuid::new_v4();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            refund_as(&app, &app.users.minsu, &p, form("1000", "x"), key).await.unwrap().refund_id,
        );
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
    // the same key with other input is refused
    assert!(matches!(
        refund_as(&app, &app.users.minsu, &p, form("2000", "x"), key).await,
        Err(ServerError::KeyReused)
    ));

    let key = Uuid::new_v4();
    let app = std::sync::Arc::new(app);
    let tasks = (0..20).map(|_| {
        let app = app.clone();
        let p = p.clone();
        tokio::spawn(
            async move { refund_as(&app, &app.users.minsu, &p, form("1000", "y"), key).await },
        )
    });
    let results: Vec<_> =
        futures::future::join_all(tasks).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert!(results.iter().all(|r| r.refund_id == results[0].refund_id));
    assert_eq!(app.sim_stats().await.cancels_applied, 2);
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 2000);
}

#[sqlx::test]
async fn fifty_parallel_refunds_never_exceed_the_payment(pool: PgPool) {
    let app = std::sync::Arc::new(spawn_app(pool).await);
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    let tasks = (0..50).map(|_| {
        let app = app.clone();
        let p = p.clone();
        tokio::spawn(async move { refund(&app, &p, "1000").await })
    });
    let results: Vec<_> =
        futures::future::join_all(tasks).await.into_iter().map(|r| r.unwrap()).collect();
    let succeeded = results
        .iter()
        .filter(|r| matches!(r, Ok(o) if o.status == RefundOutcomeStatus::Succeeded))
        .count();
    // the rest wait their turn and are refused by the rules (fully refunded), or, beyond the
    // waiters a payment may have, are told at once that a refund is in progress
    let refused = results.iter().filter(|r| matches!(r, Err(ServerError::Rejected(_)))).count();
    assert!((1..=10).contains(&succeeded) && succeeded + refused == 50, "{results:?}");
    let ours_sum = sqlx::query_scalar!(
        "select coalesce(sum(amount), 0)::bigint from refunds where status = 'succeeded'"
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(ours_sum, Some(succeeded as i64 * 1000));
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, succeeded as i64 * 1000);
    assert_eq!(ours(&app, &p).await.2, 0, "nothing left pending");
    println!("concurrency: 50 requests, {succeeded} refunds made, 0 violations");
}

async fn reconcile(app: &TestApp) -> reconcile::ReconcileReport {
    app.reconcile().await
}

#[sqlx::test]
async fn unknown_outcomes_stay_pending_until_the_reconciler_settles_them(pool: PgPool) {
    let app = spawn_app(pool).await;
    for (fault, expect_resend) in [
        (FaultKind::DropAfter, false),
        (FaultKind::ErrorAfter { status: 502 }, false),
        (FaultKind::Latency { ms: 2500 }, false),
        (FaultKind::ErrorBefore { status: 500 }, true),
    ] {
        let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
        app.faults(&[FaultRule::once(FaultEndpoint::Cancel, fault.clone())]).await;
        let o = refund(&app, &p, "3000").await.unwrap();
        assert_eq!(o.status, RefundOutcomeStatus::Pending, "{fault:?}");
        assert_eq!(ours(&app, &p).await.2, 1);
        tokio::time::sleep(Duration::from_millis(800)).await; // let a slow cancel land
        let report = reconcile(&app).await;
        assert_eq!(report.resent, expect_resend as u32, "{fault:?}: {report:?}");
        assert_eq!(ours(&app, &p).await, (3_000, "cancelled".into(), 0), "{fault:?}");
        let at_sim = app.sim_payment(&p.imp_uid).await;
        assert_eq!(at_sim.cancel_amount, 3_000, "{fault:?}: nothing doubled");
        let status = sqlx::query_scalar!("select r.status from refunds r join payments p on p.id = r.payment_id where p.imp_uid = $1", p.imp_uid)
            .fetch_one(&app.pool).await.unwrap();
        assert_eq!(status, "succeeded", "{fault:?}");
        let linked = sqlx::query_scalar!(
            "select c.refund_id is not null from payment_cancellations c join payments p on p.id = c.payment_id where p.imp_uid = $1",
            p.imp_uid
        ).fetch_one(&app.pool).await.unwrap();
        assert_eq!(linked, Some(true), "{fault:?}: the simulator's entry is linked");
    }
}

#[sqlx::test]
async fn expired_tokens_are_refreshed_and_pg_refusals_fail_with_their_message(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    refund(&app, &p, "1000").await.unwrap();
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::ExpireToken)]).await;
    assert_eq!(refund(&app, &p, "1000").await.unwrap().status, RefundOutcomeStatus::Succeeded);
    app.faults(&[FaultRule::once(
        FaultEndpoint::Cancel,
        FaultKind::PgReject {
            message: "[9029] 상점의 취소가능 금액이 부족합니다.".into()
        },
    )])
    .await;
    let o = refund(&app, &p, "1000").await.unwrap();
    assert_eq!(o.status, RefundOutcomeStatus::Failed);
    assert!(o.message.unwrap().contains("9029"));
    assert_eq!(ours(&app, &p).await, (2_000, "cancelled".into(), 0));
}

#[sqlx::test]
async fn a_refund_whose_process_died_is_finished_by_the_reconciler(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    // the process reserves, PortOne cancels, and the process dies before recording
    let payment_id = sqlx::query_scalar!("select id from payments where imp_uid = $1", p.imp_uid)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let crashed = refund::RecordedRefund {
        reason: "변심".into(),
        ..refund::RecordedRefund::new(payment_id, 4000, 10_000, &app.users.minsu)
    };
    refund::insert_recorded(&app.pool, &crashed).await.unwrap();
    let refund_id = crashed.id;
    // what the pipeline sends: the reason carries the refund's reference
    let reason = refund::decide::reason_for_portone("변심", refund_id);
    let req = CancelRequest {
        imp_uid: Some(p.imp_uid.clone()),
        amount: Some(4000),
        checksum: Some(10_000),
        reason: Some(reason),
        ..Default::default()
    };
    app.v1.cancel(&req).await.unwrap();

    let report = reconcile(&app).await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(ours(&app, &p).await, (4_000, "cancelled".into(), 0));
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 4_000, "nothing doubled");
    // a crash before PortOne was called: the reconciler resends with the same checksum
    let second = refund::RecordedRefund {
        reason: "변심".into(),
        ..refund::RecordedRefund::new(payment_id, 1000, 6000, &app.users.minsu)
    };
    refund::insert_recorded(&app.pool, &second).await.unwrap();
    let report = reconcile(&app).await;
    assert_eq!(report.resent, 1, "{report:?}");
    assert_eq!(ours(&app, &p).await, (5_000, "cancelled".into(), 0));
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 5_000);
}

#[sqlx::test]
async fn webhooks_import_payments_and_sync_console_cancels_idempotently(pool: PgPool) {
    let app = spawn_app(pool).await;
    let http = reqwest::Client::new();
    // a paid webhook for a payment we do not know: imported, owned by the buyer's account
    let new =
        sim_payment("ORD-WEBHOOK-1", 25_000, "card", "kcp", "웹훅 상품", "JIWOO@example.com", true);
    let (created, webhook) = app.control.create_payment_notified(&new).await.unwrap();
    assert_eq!(webhook, "200", "the paid webhook reached the app");
    let created: Payment = serde_json::from_value(created).unwrap();
    let owner = sqlx::query_scalar!(
        "select customer_id from payments where merchant_uid = 'ORD-WEBHOOK-1'"
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(owner, Some(app.users.jiwoo.id));

    // a cancel made in PortOne's console arrives by webhook and is synced, marked as outside
    let imp_uid = created.imp_uid.clone();
    let console = app
        .console_cancel(
            &imp_uid,
            ConsoleCancel { amount: Some(5000), reason: Some("콘솔 취소".into()) },
        )
        .await;
    assert_eq!(console["webhook"]["status"], 200);
    let synced = sqlx::query!("select cancel_amount, (select count(*) from payment_cancellations c where c.payment_id = p.id and c.refund_id is null) as \"outside!\" from payments p where imp_uid = $1", imp_uid)
        .fetch_one(&app.pool).await.unwrap();
    assert_eq!((synced.cancel_amount, synced.outside), (5000, 1));

    // duplicates change nothing
    let notice = portone_v1::WebhookNotice {
        imp_uid: imp_uid.clone(),
        merchant_uid: None,
        status: Some("cancelled".into()),
        cancellation_id: None,
    };
    for _ in 0..3 {
        webhook::process(&app.pool, &app.portone, &notice, &rules(false)).await.unwrap();
    }
    let rows = sqlx::query_scalar!("select count(*) from payment_cancellations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, Some(1));

    // a forged webhook for a payment PortOne does not know: ignored, nothing written
    let res = http
        .post(format!("{}/portone/webhook", app.base_url))
        .header("origin", "https://somewhere.example")
        .form(&[("imp_uid", "imp_forged"), ("merchant_uid", "ORD-FORGED"), ("status", "paid")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let forged =
        sqlx::query_scalar!("select count(*) from payments where merchant_uid = 'ORD-FORGED'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(forged, Some(0));
}

#[sqlx::test]
async fn the_seed_guides_json_endpoint_answers_in_its_shape(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    let minsu = app.signed_in(MINSU).await;
    let res = minsu.post(format!("{}/payments/cancel", app.base_url))
        .json(&json!({"merchant_uid": p.merchant_uid, "cancel_request_amount": 2000, "reason": "테스트 결제 환불"}))
        .send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (body["merchant_uid"].as_str(), body["cancel_amount"].as_i64()),
        (Some(p.merchant_uid.as_str()), Some(2000))
    );
    // PortOne's answer as it came, every field of it (the guide's client may read any)
    let at_portone: Vec<serde_json::Value> = app.control.payments().await.unwrap();
    let at_portone = at_portone.iter().find(|q| q["imp_uid"] == p.imp_uid.as_str()).unwrap();
    assert_eq!(&body, at_portone);
    let res = minsu
        .post(format!("{}/payments/cancel", app.base_url))
        .json(
            &json!({"merchant_uid": p.merchant_uid, "cancel_request_amount": 9000, "reason": "x"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("8,000원"));
    let anonymous = reqwest::Client::new()
        .post(format!("{}/payments/cancel", app.base_url))
        .json(&json!({"merchant_uid": p.merchant_uid, "reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[sqlx::test]
async fn customers_are_rate_limited_but_admins_are_not(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 100_000, "card", "kcp").await;
    let settings = PipelineSettings { customer_requests_per_minute: 3, ..Default::default() };
    let attempt = |user: CurrentUser| {
        let cmd = RefundCommand {
            merchant_uid: p.merchant_uid.clone(),
            form: form("100", "x"),
            idempotency_key: Uuid::new_v4(),
            keyless_within: None,
        };
        let (pool, portone, settings) = (app.pool.clone(), app.portone.clone(), settings.clone());
        async move { refund::request_refund(&pool, &portone, &settings, &user, cmd).await }
    };
    for _ in 0..3 {
        attempt(app.users.minsu.clone()).await.unwrap();
    }
    assert!(matches!(attempt(app.users.minsu.clone()).await, Err(ServerError::RateLimited)));
    for _ in 0..4 {
        attempt(app.users.admin.clone()).await.unwrap();
    }
}

#[sqlx::test]
async fn the_webhook_imports_only_real_krw_payments(pool: PgPool) {
    let app = spawn_app(pool).await;
    let mut notices = Vec::new();
    for (merchant_uid, sandbox, currency) in
        [("ORD-SANDBOX", true, None), ("ORD-USD", false, Some("USD")), ("ORD-REAL", false, None)]
    {
        let new = NewPayment {
            sandbox,
            currency: currency.map(Into::into),
            ..sim_payment(
                merchant_uid,
                10_000,
                "card",
                "kcp",
                "상품",
                &app.users.minsu.email,
                false,
            )
        };
        let created: Payment = app.control.create_payment(&new).await.unwrap();
        notices.push(portone_v1::WebhookNotice {
            imp_uid: created.imp_uid,
            merchant_uid: None,
            status: Some("paid".into()),
            cancellation_id: None,
        });
    }
    let effects: Vec<_> = futures::future::join_all(
        notices.iter().map(|n| webhook::process(&app.pool, &app.portone, n, &NO_TEST_PAYMENTS)),
    )
    .await;
    assert_eq!(
        effects.into_iter().map(Result::unwrap).collect::<Vec<_>>(),
        vec![
            webhook::WebhookEffect::Ignored,
            webhook::WebhookEffect::Ignored,
            webhook::WebhookEffect::Imported { owner_found: true },
        ]
    );
    // the demo's setting imports test-mode payments, still never another currency
    assert_eq!(
        webhook::process(&app.pool, &app.portone, &notices[0], &rules(true)).await.unwrap(),
        webhook::WebhookEffect::Imported { owner_found: true }
    );
    assert_eq!(
        webhook::process(&app.pool, &app.portone, &notices[1], &rules(true)).await.unwrap(),
        webhook::WebhookEffect::Ignored
    );
}

#[sqlx::test]
async fn one_customers_burst_never_starves_everyone_else(pool: PgPool) {
    use leptos::server_fn::ServerFn;
    use portone_refund::api::{MyOrders, RequestRefund};
    let app = std::sync::Arc::new(spawn_app(pool).await);
    let p = app.paid_order(&app.users.minsu, 1_000_000, "card", "kcp").await;
    // PortOne is slow for every cancel: the first refund holds the payment for a while
    app.faults(&[FaultRule::always(FaultEndpoint::Cancel, FaultKind::Latency { ms: 1500 })]).await;
    let minsu = app.signed_in(MINSU).await;
    let jiwoo = app.signed_in(JIWOO).await;
    let burst: Vec<_> = (0..200)
        .map(|_| {
            let (app, minsu, merchant_uid) = (app.clone(), minsu.clone(), p.merchant_uid.clone());
            tokio::spawn(async move {
                let key = Uuid::new_v4().to_string();
                let form = [
                    ("merchant_uid", merchant_uid.as_str()),
                    ("idempotency_key", &key),
                    ("amount", "1000"),
                    ("reason", "연타"),
                ];
                app.server_fn(&minsu, RequestRefund::PATH, &form).await.status()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // while the burst waits, another customer's session and pages work
    let answer =
        tokio::time::timeout(Duration::from_secs(5), app.server_fn(&jiwoo, MyOrders::PATH, &[]))
            .await;
    assert!(answer.expect("answered while the burst waits").status().is_success());
    let statuses: Vec<u16> =
        futures::future::join_all(burst).await.into_iter().map(|s| s.unwrap().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s < 500), "no server fault: {statuses:?}");
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        200 - limited <= 60,
        "counted when they start, the per-minute limit holds under a burst: {limited} limited"
    );
    let ours = sqlx::query_scalar!(
        "select coalesce(sum(amount), 0)::bigint from refunds where status = 'succeeded'"
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, ours.unwrap());
}

const NO_TEST_PAYMENTS: webhook::ImportRules =
    webhook::ImportRules { allow_test_payments: false, owner_from_buyer_email: true };

/// The webhook's import rules with the demo's owner matching by the payer's e-mail.
fn rules(allow_test_payments: bool) -> webhook::ImportRules {
    webhook::ImportRules { allow_test_payments, owner_from_buyer_email: true }
}
