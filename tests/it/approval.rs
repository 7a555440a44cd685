//! 환불 요청: refunds beyond the shop's approval policy wait for an admin, hold their amount,
//! and are approved (the pipeline runs, the customer still the requester), rejected (with a
//! reason the customer sees) or withdrawn; each step is audited.

use crate::common::*;
use portone_refund::model::{CurrentUser, RefundOutcome, RefundOutcomeStatus};
use portone_refund::server::error::ServerError;
use portone_refund::server::refund::approval::{self, Policy};
use portone_refund::server::refund::rules::RefundForm;
use portone_refund::server::refund::{self, PipelineSettings, RefundCommand};
use portone_v1::Payment;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

async fn refund_as(
    app: &TestApp,
    user: &CurrentUser,
    p: &Payment,
    amount: &str,
) -> Result<RefundOutcome, ServerError> {
    let cmd = RefundCommand {
        merchant_uid: p.merchant_uid.clone(),
        form: RefundForm {
            amount: Some(amount.into()),
            reason: "상품 불량".into(),
            ..Default::default()
        },
        idempotency_key: Uuid::new_v4(),
        keyless_within: None,
    };
    refund::request_refund(&app.pool, &app.portone, &PipelineSettings::default(), user, cmd).await
}

/// Refunds up to 10,000원 within 7 days go straight; the rest wait.
async fn strict_policy(app: &TestApp) {
    let policy = Policy { auto_max_amount: Some(10_000), auto_within_days: Some(7) };
    approval::save(&app.pool, &app.users.admin, policy).await.unwrap();
}

async fn events(app: &TestApp, refund_id: &Uuid) -> Vec<(String, String)> {
    sqlx::query!(
        "select kind, actor from refund_events where refund_id = $1::text::uuid order by id",
        refund_id.to_string()
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|e| (e.kind, e.actor))
    .collect()
}

fn id(o: &RefundOutcome) -> Uuid {
    o.refund_id
}

#[sqlx::test]
async fn a_large_refund_waits_and_runs_when_an_admin_approves_it(pool: PgPool) {
    let app = spawn_app(pool).await;
    strict_policy(&app).await;
    let p = app.paid_order(&app.users.minsu, 30_000, "card", "kcp").await;
    // within the policy: straight to PortOne
    let small = refund_as(&app, &app.users.minsu, &p, "10000").await.unwrap();
    assert_eq!(small.status, RefundOutcomeStatus::Succeeded);
    // beyond it: a request, nothing sent
    let calls = app.sim_stats().await.cancel_calls;
    let request = refund_as(&app, &app.users.minsu, &p, "15000").await.unwrap();
    assert_eq!(request.status, RefundOutcomeStatus::Requested);
    assert_eq!(app.sim_stats().await.cancel_calls, calls);
    // it holds its amount: 5,000 is all another refund may take now
    let more = refund_as(&app, &app.users.minsu, &p, "5001").await;
    assert!(matches!(&more, Err(ServerError::Rejected(m)) if m.contains("5,000원")), "{more:?}");
    // the hold binds admins too
    let by_admin = refund_as(&app, &app.users.admin, &p, "5001").await;
    assert!(
        matches!(&by_admin, Err(ServerError::Rejected(m)) if m == "환불 금액이 환불 가능 금액(5,000원)을 넘습니다."),
        "{by_admin:?}"
    );

    let approved = approval::approve(
        &app.pool,
        &app.portone,
        &PipelineSettings::default(),
        &app.users.admin,
        id(&request),
    )
    .await
    .unwrap();
    assert_eq!(
        (approved.outcome.status, approved.outcome.amount),
        (RefundOutcomeStatus::Succeeded, 15_000)
    );
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 25_000);
    // PortOne was told the customer asked for it (the small one too); the admin approved it
    assert_eq!(app.sim_stats().await.requesters, [("customer".to_string(), 2)].into());
    let admin = format!("admin:{}", app.users.admin.id);
    let customer = format!("customer:{}", app.users.minsu.id);
    assert_eq!(
        events(&app, &request.refund_id).await,
        vec![
            ("requested".into(), customer.clone()),
            ("approved".into(), admin.clone()),
            ("succeeded".into(), admin)
        ]
    );
    // approving twice does nothing more
    let again = approval::approve(
        &app.pool,
        &app.portone,
        &PipelineSettings::default(),
        &app.users.admin,
        id(&request),
    )
    .await;
    assert!(matches!(again, Err(ServerError::Rejected(m)) if m == approval::NOT_WAITING));
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 25_000);
}

#[sqlx::test]
async fn a_rejected_request_tells_the_customer_why_and_a_withdrawn_one_frees_its_hold(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    strict_policy(&app).await;
    let p = app.paid_order(&app.users.minsu, 30_000, "card", "kcp").await;
    let first = refund_as(&app, &app.users.minsu, &p, "").await.unwrap();
    assert_eq!(first.status, RefundOutcomeStatus::Requested);
    // the whole balance is held: nothing else may be requested
    let held = refund_as(&app, &app.users.minsu, &p, "1000").await;
    assert!(matches!(held, Err(ServerError::Rejected(m)) if m.contains("검토 중인 환불 요청")));
    // 지우 cannot withdraw 민수's request; an empty reason is refused
    assert!(approval::withdraw(&app.pool, &app.users.jiwoo, id(&first)).await.is_err());
    assert!(approval::reject(&app.pool, &app.users.admin, id(&first), "  ").await.is_err());
    approval::reject(
        &app.pool,
        &app.users.admin,
        id(&first),
        "사용 흔적이 있어 환불할 수 없습니다",
    )
    .await
    .unwrap();
    let seen = refund::latest_outcome(&app.pool, payment_id(&app, &p).await, app.users.minsu.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.status, RefundOutcomeStatus::Rejected);
    assert_eq!(seen.message.as_deref(), Some("사용 흔적이 있어 환불할 수 없습니다"));
    // a rejected request cannot be approved after all
    assert!(approval::approve(
        &app.pool,
        &app.portone,
        &PipelineSettings::default(),
        &app.users.admin,
        id(&first)
    )
    .await
    .is_err());

    let second = refund_as(&app, &app.users.minsu, &p, "20000").await.unwrap();
    approval::withdraw(&app.pool, &app.users.minsu, id(&second)).await.unwrap();
    assert!(approval::withdraw(&app.pool, &app.users.minsu, id(&second)).await.is_err());
    let kinds: Vec<String> =
        events(&app, &second.refund_id).await.into_iter().map(|e| e.0).collect();
    assert_eq!(kinds, ["requested", "withdrawn"]);
    // nothing was ever sent to PortOne, and the balance is free again
    assert_eq!(app.sim_stats().await.cancel_calls, json!(0));
    assert_eq!(
        refund_as(&app, &app.users.minsu, &p, "9000").await.unwrap().status,
        RefundOutcomeStatus::Succeeded
    );
}

#[sqlx::test]
async fn two_requests_cannot_together_exceed_the_balance_and_approval_rechecks_portone(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    strict_policy(&app).await;
    let p = app.paid_order(&app.users.minsu, 40_000, "card", "kcp").await;
    let a = refund_as(&app, &app.users.minsu, &p, "25000").await.unwrap();
    let refused = refund_as(&app, &app.users.minsu, &p, "15001").await;
    assert!(
        matches!(&refused, Err(ServerError::Rejected(m)) if m.contains("15,000원")),
        "{refused:?}"
    );
    let b = refund_as(&app, &app.users.minsu, &p, "15000").await.unwrap();
    assert_eq!(
        (a.status.clone(), b.status.clone()),
        (RefundOutcomeStatus::Requested, RefundOutcomeStatus::Requested)
    );

    // meanwhile 20,000 is cancelled in PortOne's console: the approval sees it
    app.console_cancel(&p.imp_uid, ConsoleCancel { amount: Some(20_000), reason: None }).await;
    let settings = PipelineSettings::default();
    let refused =
        approval::approve(&app.pool, &app.portone, &settings, &app.users.admin, id(&a)).await;
    assert!(
        matches!(&refused, Err(ServerError::Rejected(m)) if m == "지금은 승인할 수 없습니다: 환불 금액이 환불 가능 금액(20,000원)을 넘습니다."),
        "{refused:?}"
    );
    // the refused one still waits; the other fits in PortOne's balance and goes through (at
    // approval the admin chooses which waiting request gets what is left)
    let ok = approval::approve(&app.pool, &app.portone, &settings, &app.users.admin, id(&b))
        .await
        .unwrap();
    assert_eq!(ok.outcome.status, RefundOutcomeStatus::Succeeded);
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 35_000);
    let waiting: Option<String> =
        sqlx::query_scalar!("select status from refunds where id = $1", id(&a))
            .fetch_one(&app.pool)
            .await
            .ok();
    assert_eq!(waiting.as_deref(), Some("requested"));
}

#[sqlx::test]
async fn the_json_endpoint_answers_202_requested_and_old_payments_wait_too(pool: PgPool) {
    let app = spawn_app(pool).await;
    strict_policy(&app).await;
    let p = app.paid_order(&app.users.minsu, 5_000, "card", "kcp").await;
    let minsu = app.signed_in(MINSU).await;
    let res = minsu
        .post(format!("{}/payments/cancel", app.base_url))
        .json(
            &json!({"merchant_uid": p.merchant_uid, "cancel_request_amount": 5_000, "reason": "x"}),
        )
        .send()
        .await
        .unwrap();
    // small and recent: straight
    assert_eq!(res.status(), 200);

    let eight_days_ago = chrono::Utc::now().timestamp() - 8 * 86_400;
    let old = app.paid_order_at(&app.users.minsu, 5_000, "card", "kcp", Some(eight_days_ago)).await;
    let res = minsu
        .post(format!("{}/payments/cancel", app.base_url))
        .json(&json!({"merchant_uid": old.merchant_uid, "reason": "늦은 반품"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "requested");
    assert_eq!(body["message"], "환불 요청이 접수되었습니다 — 검토 후 처리됩니다");
    assert_eq!(app.sim_payment(&old.imp_uid).await.cancel_amount, 0);
}

#[sqlx::test]
async fn policy_changes_are_admin_only_and_audited(pool: PgPool) {
    let app = spawn_app(pool).await;
    use leptos::server_fn::ServerFn;
    let path = portone_refund::api::admin::SaveRefundPolicy::PATH;
    let minsu = app.signed_in(MINSU).await;
    // not an admin: as if there were no such thing
    let res =
        app.server_fn(&minsu, path, &[("auto_max_amount", "0"), ("auto_within_days", "")]).await;
    assert_eq!(res.status(), 404);
    let request = Uuid::new_v4().to_string();
    for decide in [
        portone_refund::api::admin::AdminApproveRequest::PATH,
        portone_refund::api::admin::AdminRejectRequest::PATH,
    ] {
        let res = app.server_fn(&minsu, decide, &[("refund_id", &request), ("reason", "x")]).await;
        assert_eq!(res.status(), 404, "{decide}");
    }
    let admin = app.signed_in(ADMIN).await;
    let res = app
        .server_fn(&admin, path, &[("auto_max_amount", "50,000"), ("auto_within_days", "7")])
        .await;
    assert!(res.status().is_success(), "{}", res.status());
    let res = app
        .server_fn(&admin, path, &[("auto_max_amount", "오만 원"), ("auto_within_days", "")])
        .await;
    assert_eq!(res.status(), 400);
    let view = approval::view(&app.pool).await.unwrap();
    assert_eq!((view.auto_max_amount, view.auto_within_days), (Some(50_000), Some(7)));
    assert_eq!(view.changes.len(), 1);
    assert_eq!(view.changes[0].after, "50,000원 이하 · 결제 후 7일 이내");
    assert_eq!(view.changes[0].actor, app.users.admin.display_name);
    let page = app.page(&admin, "/admin/settings").await;
    assert!(page.contains("50,000원 이하 · 결제 후 7일 이내"), "{page}");
}

async fn payment_id(app: &TestApp, p: &Payment) -> i64 {
    sqlx::query_scalar!("select id from payments where imp_uid = $1", p.imp_uid)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// What the refund row keeps of its account: (masked number, sealed bytes).
async fn kept_account(app: &TestApp, refund_id: Uuid) -> (Option<String>, Option<Vec<u8>>) {
    let r = sqlx::query!(
        "select refund_account_masked, refund_account_sealed from refunds where id = $1",
        refund_id
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    (r.refund_account_masked, r.refund_account_sealed)
}

fn vbank_form(amount: &str) -> RefundForm {
    RefundForm {
        amount: Some(amount.into()),
        reason: "배송 지연".into(),
        refund_holder: Some("김민수".into()),
        refund_bank: Some("88".into()),
        refund_account: Some("562-111-05948400".into()),
        ..Default::default()
    }
}

#[sqlx::test]
async fn a_large_refund_to_a_typed_account_waits_for_approval_too(pool: PgPool) {
    let app = spawn_app(pool).await;
    strict_policy(&app).await;
    let p = app.paid_order(&app.users.minsu, 54_000, "vbank", "html5_inicis").await;
    let cmd = RefundCommand {
        merchant_uid: p.merchant_uid.clone(),
        form: vbank_form("30000"),
        idempotency_key: Uuid::new_v4(),
        keyless_within: None,
    };
    let calls = app.sim_stats().await.cancel_calls;
    let request =
        refund::request_refund(&app.pool, &app.portone, &test_pipeline(), &app.users.minsu, cmd)
            .await
            .unwrap();
    assert_eq!(request.status, RefundOutcomeStatus::Requested, "the riskiest refunds wait too");
    assert_eq!(app.sim_stats().await.cancel_calls, calls, "nothing sent");
    // kept sealed: the number is nowhere in the row
    let (masked, sealed) = kept_account(&app, id(&request)).await;
    assert_eq!(masked.as_deref(), Some("**********8400"));
    let sealed = sealed.expect("kept while the request waits");
    assert!(!String::from_utf8_lossy(&sealed).contains("05948400"));
    let dump: String = sqlx::query_scalar!(r#"select row_to_json(r)::text as "j!" from refunds r"#)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!dump.contains("05948400") && !dump.contains("562-111"), "{dump}");
    // approved: the refund goes to PortOne with the account the customer typed
    let approved = approval::approve(
        &app.pool,
        &app.portone,
        &test_pipeline(),
        &app.users.admin,
        id(&request),
    )
    .await
    .unwrap();
    let approved = approved.outcome;
    assert_eq!(approved.status, RefundOutcomeStatus::Succeeded, "{:?}", approved.message);
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 30_000);
    // final: erased by the database itself
    assert_eq!(kept_account(&app, id(&request)).await.1, None);
}

#[sqlx::test]
async fn the_reconciler_resends_a_typed_account_refund_and_then_forgets_the_account(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 54_000, "vbank", "html5_inicis").await;
    // PortOne fails before applying the first attempt
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::ErrorBefore { status: 500 })])
        .await;
    let cmd = RefundCommand {
        merchant_uid: p.merchant_uid.clone(),
        form: vbank_form("10000"),
        idempotency_key: Uuid::new_v4(),
        keyless_within: None,
    };
    let o =
        refund::request_refund(&app.pool, &app.portone, &test_pipeline(), &app.users.minsu, cmd)
            .await
            .unwrap();
    assert_eq!(o.status, RefundOutcomeStatus::Pending);
    assert!(kept_account(&app, id(&o)).await.1.is_some());
    let report = app.reconcile().await;
    assert_eq!((report.resent, report.succeeded), (1, 1), "{report:?}");
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 10_000);
    assert_eq!(kept_account(&app, id(&o)).await.1, None, "erased once final");
    // a sealed account cannot outlive its refund, whatever writes the row
    let refused = sqlx::query!(
        "update refunds set refund_account_sealed = '\\x00', refund_account_key_id = 'test' where id = $1",
        id(&o)
    )
    .execute(&app.pool)
    .await;
    assert!(refused.is_err(), "the schema forbids it");
}
