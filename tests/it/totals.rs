//! 환불 내역's kept sums (`refund_totals`): for every filter the page offers, the totals and
//! the chart read from the sums equal those counted from the rows, folded or not, through
//! refunds made by the pipeline, rows stored directly, status changes and concurrent refunds.

use std::collections::BTreeSet;

use crate::common::*;
use crate::exactly_once::refund;
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Asia::Seoul;
use portone_refund::model::admin::RefundQuery;
use portone_refund::model::{CurrentUser, RefundStatus};
use portone_refund::server::admin::{self, Source};
use portone_refund::server::refund::{insert_recorded, RecordedRefund};
use portone_refund::server::refund_totals;
use sqlx::PgPool;

fn kst(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Seoul.with_ymd_and_hms(y, m, d, h, min, 0).unwrap().with_timezone(&Utc)
}

async fn stored(
    app: &TestApp,
    payment_id: i64,
    amount: i64,
    status: RefundStatus,
    requester: &CurrentUser,
    at: DateTime<Utc>,
) {
    let r =
        RecordedRefund { status, at, ..RecordedRefund::new(payment_id, amount, amount, requester) };
    insert_recorded(&app.pool, &r).await.unwrap();
}

async fn csv_text(app: &TestApp, query: &RefundQuery, per_slice: i64) -> String {
    let mut chunks =
        admin::csv_stream_in_slices(app.pool.clone(), query.clone(), per_slice).unwrap();
    let mut text = String::new();
    while let Some(chunk) = chunks.recv().await {
        text.push_str(&chunk.unwrap());
    }
    text
}

fn opt(v: Option<&str>) -> Option<String> {
    v.map(str::to_string)
}

/// Asserts that the sums answer every combination of the page's filters as the rows do.
async fn sums_equal_rows(app: &TestApp, when: &str) {
    // the month sums answer whole months inside a window, the day sums its ragged edges
    let days: [(Option<&str>, Option<&str>); 10] = [
        (None, None),
        (Some("2026-11-01"), Some("2026-11-30")), // one whole month
        (Some("2026-10-01"), Some("2026-11-30")), // two whole months
        (Some("2026-10-15"), None),               // half a month, then whole ones
        (None, Some("2026-11-15")),               // whole months, then half of one
        (Some("2026-11-01"), Some("2026-11-01")), // one KST day, its midnights at both edges
        (Some("2026-10-31"), Some("2026-11-02")),
        (None, Some("2026-10-31")),
        (Some("2026-11-03"), None),
        (Some("2030-01-01"), Some("2030-01-31")), // nothing there
    ];
    let statuses = [None, Some("succeeded"), Some("failed"), Some("pending"), Some("requested")];
    let mut compared = 0;
    for status in statuses {
        for (from, to) in days {
            for pay_method in [None, Some("card"), Some("phone")] {
                for requester in [None, Some("admin"), Some("customer")] {
                    for version in [None, Some("v2")] {
                        let query = RefundQuery {
                            status: opt(status),
                            from: opt(from),
                            to: opt(to),
                            pay_method: opt(pay_method),
                            requester: opt(requester),
                            version: opt(version),
                            ..Default::default()
                        };
                        let kept =
                            admin::totals_from(&app.pool, &query, Source::Kept).await.unwrap();
                        let rows =
                            admin::totals_from(&app.pool, &query, Source::Rows).await.unwrap();
                        assert_eq!(kept, rows, "totals {when}: {query:?}");
                        let kept = admin::daily_refunded_from(&app.pool, &query, Source::Kept)
                            .await
                            .unwrap();
                        let rows = admin::daily_refunded_from(&app.pool, &query, Source::Rows)
                            .await
                            .unwrap();
                        assert_eq!(kept.days, rows.days, "chart {when}: {query:?}");
                        compared += 1;
                    }
                }
            }
        }
    }
    assert_eq!(compared, 5 * 10 * 3 * 3 * 2);
    assert_eq!(refund_totals::disagreements(&app.pool).await.unwrap(), vec![], "{when}");
}

#[sqlx::test]
async fn the_kept_totals_equal_the_rows_for_every_filter_folded_or_not(pool: PgPool) {
    let app = spawn_app(pool).await;
    let card = app.paid_order(&app.users.minsu, 900_000, "card", "kcp").await;
    let phone = app.paid_order(&app.users.jiwoo, 900_000, "phone", "danal").await;
    let v2 = app.paid_order(&app.users.minsu, 900_000, "card", "tosspayments").await;
    let id = |imp_uid: String| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar!("select id from payments where imp_uid = $1", imp_uid)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let (card_id, phone_id, v2_id) = (
        id(card.imp_uid.clone()).await,
        id(phone.imp_uid.clone()).await,
        id(v2.imp_uid.clone()).await,
    );
    sqlx::query!("update payments set api_version = 'v2' where id = $1", v2_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let (minsu, admin_user) = (app.users.minsu.clone(), app.users.admin.clone());
    // on both sides of KST midnights, and one on the UTC date before its KST date
    stored(&app, card_id, 1_000, RefundStatus::Succeeded, &minsu, kst(2026, 11, 1, 0, 0)).await;
    stored(&app, card_id, 2_000, RefundStatus::Failed, &admin_user, kst(2026, 10, 31, 23, 59))
        .await;
    stored(&app, phone_id, 3_000, RefundStatus::Succeeded, &admin_user, kst(2026, 11, 1, 8, 59))
        .await;
    stored(&app, phone_id, 4_000, RefundStatus::Failed, &minsu, kst(2026, 11, 2, 23, 59)).await;
    // waiting for an admin (stored rows are finished; this one goes back to asking)
    sqlx::query!("update refunds set status = 'requested', finished_at = null where amount = 4000")
        .execute(&app.pool)
        .await
        .unwrap();
    stored(&app, v2_id, 5_000, RefundStatus::Succeeded, &minsu, kst(2026, 11, 3, 0, 0)).await;
    stored(&app, v2_id, 6_000, RefundStatus::Failed, &minsu, kst(2026, 11, 3, 12, 0)).await;
    // waiting for PortOne's answer: not kept in the sums, read from the refunds themselves
    sqlx::query!("update refunds set status = 'pending', finished_at = null where amount = 6000")
        .execute(&app.pool)
        .await
        .unwrap();
    sums_equal_rows(&app, "stored, not folded").await;

    assert!(refund_totals::fold(&app.pool).await.unwrap() >= 6);
    assert_eq!(refund_totals::fold(&app.pool).await.unwrap(), 0, "nothing left to move");
    sums_equal_rows(&app, "folded").await;

    // The CSV cut into slices of one day each, read by two connections at once, is the CSV
    // read in one piece: every refund once, newest first.
    let whole = csv_text(&app, &RefundQuery::default(), i64::MAX).await;
    assert_eq!(whole.lines().count(), 1 + 6, "{whole}");
    for query in [
        RefundQuery::default(),
        RefundQuery { status: opt(Some("succeeded")), ..Default::default() },
        RefundQuery {
            from: opt(Some("2026-11-01")),
            to: opt(Some("2026-11-02")),
            ..Default::default()
        },
        RefundQuery { pay_method: opt(Some("phone")), ..Default::default() },
        RefundQuery { from: opt(Some("2030-01-01")), ..Default::default() },
    ] {
        let whole = csv_text(&app, &query, i64::MAX).await;
        assert_eq!(csv_text(&app, &query, 1).await, whole, "{query:?}");
    }

    // refunds through the pipeline today (pending, then succeeded), and status changes
    refund(&app, &card, 7_000).await;
    refund(&app, &card, 8_000).await;
    sqlx::query!(
        "update refunds set status = 'withdrawn', finished_at = now() where status = 'requested'"
    )
    .execute(&app.pool)
    .await
    .unwrap();
    // PortOne answered the pending one at last
    sqlx::query!(
        "update refunds set status = 'succeeded', finished_at = now() where status = 'pending'"
    )
    .execute(&app.pool)
    .await
    .unwrap();
    sums_equal_rows(&app, "after refunds, a withdrawal and a late answer, partly folded").await;
    refund_totals::fold(&app.pool).await.unwrap();
    sums_equal_rows(&app, "folded again").await;

    let today = admin::totals(
        &app.pool,
        &RefundQuery { status: opt(Some("succeeded")), ..Default::default() },
    )
    .await
    .unwrap();
    assert_eq!(
        today.iter().map(|t| (t.status, t.count, t.amount)).collect::<Vec<_>>(),
        vec![(RefundStatus::Succeeded, 6, 1_000 + 3_000 + 5_000 + 6_000 + 7_000 + 8_000)]
    );
    // a truncated table leaves no sums behind
    sqlx::query!(
        "truncate refund_events, payment_cancellations, webhook_deliveries, shop_events, refunds"
    )
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(admin::totals(&app.pool, &RefundQuery::default()).await.unwrap(), vec![]);
}

#[sqlx::test]
async fn concurrent_refunds_and_folds_leave_the_sums_equal_to_the_rows(pool: PgPool) {
    let app = spawn_app(pool).await;
    let mut payments = Vec::new();
    for method in ["card", "trans", "card", "trans"] {
        payments.push(app.paid_order(&app.users.minsu, 100_000, method, "kcp").await);
    }
    let folding = {
        let pool = app.pool.clone();
        tokio::spawn(async move {
            let mut moved = 0;
            for _ in 0..40 {
                moved += refund_totals::fold(&pool).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            moved
        })
    };
    let mut refunds = Vec::new();
    for round in 0..5 {
        for p in &payments {
            let (app, p) = (&app, p.clone());
            refunds.push(async move { refund(app, &p, 1_000 + round).await });
        }
    }
    let outcomes = futures::future::join_all(refunds).await;
    assert_eq!(outcomes.len(), 20);
    let moved = folding.await.unwrap();
    assert!(moved > 0, "the folds ran beside the refunds");
    let statuses: BTreeSet<_> = sqlx::query_scalar!("select distinct status from refunds")
        .fetch_all(&app.pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert!(statuses.contains("succeeded"), "{statuses:?}");
    assert_eq!(refund_totals::disagreements(&app.pool).await.unwrap(), vec![]);
    refund_totals::fold(&app.pool).await.unwrap();
    assert_eq!(refund_totals::disagreements(&app.pool).await.unwrap(), vec![]);
    let all = admin::totals(&app.pool, &RefundQuery::default()).await.unwrap();
    let counted =
        admin::totals_from(&app.pool, &RefundQuery::default(), Source::Rows).await.unwrap();
    assert_eq!(all, counted);
    assert_eq!(all.iter().map(|t| t.count).sum::<i64>(), 20);
}
