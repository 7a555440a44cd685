//! 면세/부가세 on refunds: the split read from PortOne's balance, taken in proportion by a
//! partial refund and exactly by the last, named by an admin, and refused by the PG when a
//! required part is missing.

use crate::common::*;
use portone_refund::model::CurrentUser;
use portone_refund::model::RefundOutcomeStatus;
use portone_refund::server::error::ServerError;
use portone_refund::server::refund::rules::RefundForm;
use portone_refund::server::refund::{self, PipelineSettings, RefundCommand};
use portone_v1::{CancelRequest, Payment, PortOneError};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

async fn refund_with(
    app: &TestApp,
    user: &CurrentUser,
    p: &Payment,
    form: RefundForm,
) -> Result<portone_refund::model::RefundOutcome, ServerError> {
    let cmd = RefundCommand {
        merchant_uid: p.merchant_uid.clone(),
        form,
        idempotency_key: Uuid::new_v4(),
        keyless_within: None,
    };
    refund::request_refund(&app.pool, &app.portone, &PipelineSettings::default(), user, cmd).await
}

fn amount(a: &str) -> RefundForm {
    RefundForm {
        amount: Some(a.into()), reason: "일부 상품 반품".into(), ..Default::default()
    }
}

/// The parts each of the payment's refunds sent, oldest first, and what remains of the
/// tax-free part and VAT in our copy.
async fn ours(
    app: &TestApp,
    p: &Payment,
) -> (Vec<(i64, Option<i64>, Option<i64>)>, Option<i64>, Option<i64>) {
    let refunds = sqlx::query!(
        "select r.amount, r.tax_free, r.vat_amount from refunds r join payments p on p.id = r.payment_id
         where p.imp_uid = $1 and r.status = 'succeeded' order by r.created_at",
        p.imp_uid
    )
    .fetch_all(&app.pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.amount, r.tax_free, r.vat_amount))
    .collect();
    let left = sqlx::query!(
        "select tax_free_remaining, vat_remaining from payments where imp_uid = $1",
        p.imp_uid
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    (refunds, left.tax_free_remaining, left.vat_remaining)
}

/// PortOne's balance of the payment, as the simulator answers it: (tax_free, vat) remaining.
async fn portone_left(app: &TestApp, p: &Payment) -> (i64, i64) {
    let b = app.v1.balance(&p.imp_uid).await.unwrap().remaining();
    (b.tax_free, b.vat)
}

#[sqlx::test]
async fn a_partial_refund_takes_the_tax_free_part_and_vat_in_proportion_and_the_last_takes_the_rest(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    // 16,000원 on KCP: 6,000 tax-free, 10,000 taxable (9,091 supply + 909 VAT)
    let p = app
        .paid_order_with(&app.users.minsu, 16_000, "card", "kcp", json!({"tax_free": 6_000}))
        .await;
    let first = refund_with(&app, &app.users.minsu, &p, amount("4000")).await.unwrap();
    assert_eq!(first.status, RefundOutcomeStatus::Succeeded);
    // a quarter of what remained: 1,500 tax-free and 227 VAT (909 / 4, rounded)
    assert_eq!(
        ours(&app, &p).await,
        (vec![(4_000, Some(1_500), Some(227))], Some(4_500), Some(682))
    );
    assert_eq!(portone_left(&app, &p).await, (4_500, 682));

    // the order page shows the split and what remains of it
    let minsu = app.signed_in(MINSU).await;
    let page = app.page(&minsu, &format!("/orders/{}", p.merchant_uid)).await;
    assert!(page.contains("과세 9,091원 · 면세 6,000원 · 부가세 909원"), "{page}");
    assert!(page.contains("과세 6,818원 · 면세 4,500원 · 부가세 682원"), "{page}");

    let rest = refund_with(&app, &app.users.minsu, &p, amount("")).await.unwrap();
    assert_eq!(rest.status, RefundOutcomeStatus::Succeeded);
    let (refunds, tax_free_left, vat_left) = ours(&app, &p).await;
    assert_eq!(refunds[1], (12_000, Some(4_500), Some(682)));
    assert_eq!((tax_free_left, vat_left), (Some(0), Some(0)));
    assert_eq!(portone_left(&app, &p).await, (0, 0));
}

#[sqlx::test]
async fn the_pg_refuses_a_tax_free_payments_cancel_without_its_tax_free_part(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app
        .paid_order_with(&app.users.minsu, 16_000, "card", "kcp", json!({"tax_free": 6_000}))
        .await;
    // straight to PortOne, as a client that ignores the split would send it
    let without = CancelRequest {
        imp_uid: Some(p.imp_uid.clone()),
        amount: Some(4_000),
        checksum: Some(16_000),
        ..Default::default()
    };
    match app.v1.cancel(&without).await {
        Err(PortOneError::Refused { message, .. }) => {
            assert!(message.contains("tax_free"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // a tax-free part above what remains is refused too
    let too_much = CancelRequest { tax_free: Some(4_001), ..without.clone() };
    assert!(matches!(app.v1.cancel(&too_much).await, Err(PortOneError::Refused { .. })));

    // when PortOne's balance cannot be read, we do not guess: the refund waits for the split
    // (nothing is sent) rather than going out without the part
    app.faults(&[FaultRule {
        endpoint: FaultEndpoint::Balance,
        kind: FaultKind::ErrorBefore { status: 500 },
        count: Some(5),
        probability: None,
    }])
    .await;
    let p2 = app
        .paid_order_with(&app.users.minsu, 16_000, "card", "kcp", json!({"tax_free": 6_000}))
        .await;
    let waits = refund_with(&app, &app.users.minsu, &p2, amount("4000")).await;
    assert!(matches!(waits, Err(ServerError::Rejected(m)) if m == refund::rules::TAX_SPLIT_UNREAD));
    assert_eq!(app.sim_payment(&p2.imp_uid).await.cancel_amount, 0);
}

#[sqlx::test]
async fn an_admin_names_the_parts_and_the_rules_refuse_more_than_remains(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app
        .paid_order_with(&app.users.minsu, 16_000, "card", "kcp", json!({"tax_free": 6_000}))
        .await;
    let admin = app.users.admin.clone();
    let named = |tax_free: &str, vat: &str| RefundForm {
        tax_free: Some(tax_free.into()),
        vat_amount: Some(vat.into()),
        ..amount("4000")
    };
    let refused = refund_with(&app, &admin, &p, named("6,001", "0")).await;
    assert!(
        matches!(&refused, Err(ServerError::Rejected(m)) if m == "면세 금액이 남은 면세 금액(6,000원)을 넘습니다."),
        "{refused:?}"
    );
    // the fruit alone was returned: all 4,000 tax-free
    let ok = refund_with(&app, &admin, &p, named("4,000", "0")).await.unwrap();
    assert_eq!(ok.status, RefundOutcomeStatus::Succeeded);
    assert_eq!(ours(&app, &p).await, (vec![(4_000, Some(4_000), Some(0))], Some(2_000), Some(909)));
    assert_eq!(portone_left(&app, &p).await, (2_000, 909));

    // a customer cannot name them: theirs are worked out (2,000 of 12,000 remaining → 1/6)
    let typed_by_customer = RefundForm { tax_free: Some("2000".into()), ..amount("2000") };
    refund_with(&app, &app.users.minsu, &p, typed_by_customer).await.unwrap();
    assert_eq!(ours(&app, &p).await.0[1], (2_000, Some(333), Some(152)));

    // the CSV carries 과세 / 면세 / 부가세 per refund
    let admin = app.signed_in(ADMIN).await;
    let csv = app.page(&admin, &format!("/admin/refunds.csv?q={}", p.merchant_uid)).await;
    assert!(csv.contains("요청 금액,과세 금액,면세 금액,부가세,"), "{csv}");
    assert!(csv.contains(",4000,0,4000,0,"), "{csv}");
    assert!(csv.contains(",2000,1515,333,152,"), "{csv}");
}

#[sqlx::test]
async fn a_console_cancel_is_read_back_from_portones_balance_before_the_next_split(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app
        .paid_order_with(&app.users.minsu, 16_000, "card", "kcp", json!({"tax_free": 6_000}))
        .await;
    refund_with(&app, &app.users.minsu, &p, amount("4000")).await.unwrap();
    // 8,000 cancelled in PortOne's console; PortOne splits it itself
    app.console_cancel(&p.imp_uid, ConsoleCancel { amount: Some(8_000), reason: None }).await;
    let (tax_free_left, vat_left) = portone_left(&app, &p).await;
    let next = refund_with(&app, &app.users.minsu, &p, amount("")).await.unwrap();
    assert_eq!(next.status, RefundOutcomeStatus::Succeeded, "{:?}", next.message);
    assert_eq!(ours(&app, &p).await.0[1], (4_000, Some(tax_free_left), Some(vat_left)));
    assert_eq!(portone_left(&app, &p).await, (0, 0));
}

#[sqlx::test]
async fn a_payment_portone_keeps_no_balance_for_is_asked_once(pool: PgPool) {
    let app = spawn_app(pool).await;
    // PortOne answers the balance of this payment with a refusal (it serves PAYCO's only)
    app.faults(&[FaultRule::once(
        FaultEndpoint::Balance,
        FaultKind::PgReject { message: "지원하지 않는 PG사입니다.".into() },
    )])
    .await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "tosspayments").await;
    for amount in ["1000", "2000"] {
        let o = refund_with(&app, &app.users.minsu, &p, self::amount(amount)).await.unwrap();
        assert_eq!(o.status, RefundOutcomeStatus::Succeeded);
    }
    // the refusal was taken as "no split": the second refund did not ask again (it would have
    // had an answer now), and both went without parts
    assert_eq!(ours(&app, &p).await, (vec![(1_000, None, None), (2_000, None, None)], None, None));
    assert_eq!(app.sim_stats().await.faults["pg_reject"], json!(1));
}

#[sqlx::test]
async fn a_tax_free_payment_whose_split_portone_did_not_answer_waits_rather_than_guessing(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let p = app
        .paid_order_with(&app.users.minsu, 16_000, "card", "kcp", json!({"tax_free": 6_000}))
        .await;
    // PortOne's balance endpoint is down (5xx, no answer): a payment whose split was never
    // read does not go out as if it had none …
    app.faults(&[FaultRule::always(
        FaultEndpoint::Balance,
        FaultKind::ErrorBefore { status: 500 },
    )])
    .await;
    let refused = refund_with(&app, &app.users.minsu, &p, amount("1000")).await;
    assert!(
        matches!(&refused, Err(ServerError::Rejected(m)) if m == refund::rules::TAX_SPLIT_UNREAD)
    );
    app.control.clear_faults().await.unwrap();
    let first = refund_with(&app, &app.users.minsu, &p, amount("2000")).await.unwrap();
    assert_eq!(first.status, RefundOutcomeStatus::Succeeded);
    // … nor one with a tax-free part after a console cancel moved its balance
    app.faults(&[FaultRule::always(
        FaultEndpoint::Balance,
        FaultKind::ErrorBefore { status: 500 },
    )])
    .await;
    app.console_cancel(&p.imp_uid, ConsoleCancel { amount: Some(2_000), reason: None }).await;
    let (_, tax_free_left, _) = ours(&app, &p).await;
    assert_eq!(tax_free_left, Some(5_250), "a 5xx is not \"this payment has no split\"");
    let sent_before = app.sim_stats().await.cancel_calls;
    let refused = refund_with(&app, &app.users.minsu, &p, amount("4000")).await;
    assert!(
        matches!(&refused, Err(ServerError::Rejected(m)) if m == refund::rules::TAX_SPLIT_UNREAD),
        "{refused:?}"
    );
    assert_eq!(app.sim_stats().await.cancel_calls, sent_before, "nothing sent");
    // PortOne answers again: the refund goes, with its parts
    app.control.clear_faults().await.unwrap();
    let (tax_free, vat) = portone_left(&app, &p).await;
    let o = refund_with(&app, &app.users.minsu, &p, amount("")).await.unwrap();
    assert_eq!(o.status, RefundOutcomeStatus::Succeeded, "{:?}", o.message);
    assert_eq!(ours(&app, &p).await.0[1], (12_000, Some(tax_free), Some(vat)));
}

#[sqlx::test]
async fn a_success_the_reconciler_rebuilds_books_its_tax_parts_like_any(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app
        .paid_order_with(&app.users.minsu, 16_000, "card", "kcp", json!({"tax_free": 6_000}))
        .await;
    // applied at PortOne, the answer lost
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::DropAfter)]).await;
    let o = refund_with(&app, &app.users.minsu, &p, amount("4000")).await.unwrap();
    assert_eq!(o.status, RefundOutcomeStatus::Pending);
    let report = app.reconcile().await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    let (refunds, tax_free_left, vat_left) = ours(&app, &p).await;
    assert_eq!(refunds, vec![(4_000, Some(1_500), Some(227))]);
    // what remains of the parts is what PortOne says remains
    assert_eq!((tax_free_left.unwrap(), vat_left.unwrap()), portone_left(&app, &p).await);
}
