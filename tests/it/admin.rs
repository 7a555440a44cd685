//! Admin: role checks on every admin function and route, the refund list's filters, keyset
//! pages, CSV, the timeline and re-sync.

use crate::common::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Asia::Seoul;
use leptos::server_fn::ServerFn;
use portone_refund::api::admin::{
    AdminRefunds, AdminReview, AdminSync, AdminTimeline, RefundPolicy,
};
use portone_refund::error::AppError;
use portone_refund::model::admin::{RefundPage, RefundQuery};
use portone_refund::model::RefundStatus;
use portone_refund::server::admin;
use portone_refund::server::refund::{insert_recorded, RecordedRefund};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

/// Inserts a refund row directly (the list reads what is stored, however it got there).
async fn stored_refund(
    app: &TestApp,
    imp_uid: &str,
    amount: i64,
    status: &str,
    role: &str,
    at: DateTime<Utc>,
    reason: &str,
) -> Uuid {
    let payment_id = sqlx::query_scalar!("select id from payments where imp_uid = $1", imp_uid)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let requester = if role == "admin" { &app.users.admin } else { &app.users.minsu };
    let r = RecordedRefund {
        reason: reason.into(),
        status: RefundStatus::parse(status).unwrap(),
        at,
        ..RecordedRefund::new(payment_id, amount, amount, requester)
    };
    insert_recorded(&app.pool, &r).await.unwrap();
    r.id
}

fn kst(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Seoul.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().with_timezone(&Utc)
}

fn q(pairs: &[(&str, &str)]) -> RefundQuery {
    let mut v = serde_json::Map::new();
    for (k, val) in pairs {
        v.insert(k.to_string(), json!(val));
    }
    serde_json::from_value::<RefundQuery>(serde_json::Value::Object(v)).unwrap().normalized()
}

async fn ids(app: &TestApp, query: RefundQuery) -> Vec<Uuid> {
    let rows = admin::list_refunds(&app.pool, &query).await.unwrap().rows;
    rows.into_iter().map(|r| r.id).collect()
}

#[sqlx::test]
async fn admin_functions_and_routes_are_for_admins_only(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    let anonymous = app.browser();
    let minsu = app.signed_in(MINSU).await;
    let admin = app.signed_in(ADMIN).await;
    let calls: [(&str, Vec<(&str, &str)>); 8] = [
        (AdminRefunds::PATH, vec![]),
        (portone_refund::api::shop::Integration::PATH, vec![]),
        (portone_refund::api::shop::Admins::PATH, vec![]),
        (portone_refund::api::shop::CreateApiKey::PATH, vec![("name", "k")]),
        (portone_refund::api::shop::InviteAdmin::PATH, vec![("email", "x@shop.example")]),
        (RefundPolicy::PATH, vec![]),
        (AdminTimeline::PATH, vec![("merchant_uid", p.merchant_uid.as_str())]),
        (AdminSync::PATH, vec![("merchant_uid", p.merchant_uid.as_str())]),
    ];
    for (path, form) in &calls {
        let e: AppError = app.server_fn(&anonymous, path, form).await.json().await.unwrap();
        assert_eq!(e, AppError::NotSignedIn, "{path}");
        let e: AppError = app.server_fn(&minsu, path, form).await.json().await.unwrap();
        assert_eq!(e, AppError::NotFound, "{path}");
        assert!(app.server_fn(&admin, path, form).await.status().is_success(), "{path}");
    }
    for route in [
        "/admin/refunds",
        "/admin/settings",
        "/admin/integration",
        "/admin/admins",
        &format!("/admin/payments/{}", p.merchant_uid),
        "/admin/refunds.csv",
        "/admin/find?q=x",
    ] {
        let url = format!("{}{route}", app.base_url);
        let res = minsu.get(&url).header("accept", "text/html").send().await.unwrap();
        assert_eq!(res.status(), 404, "customer on {route}");
        let res = anonymous.get(&url).header("accept", "text/html").send().await.unwrap();
        assert!(res.status().is_redirection(), "anonymous on {route}: {}", res.status());
        let res = admin.get(&url).header("accept", "text/html").send().await.unwrap();
        assert!(
            res.status().is_success() || res.status().is_redirection(),
            "admin on {route}: {}",
            res.status()
        );
    }
}

#[sqlx::test]
async fn each_filter_and_their_combination_select_the_right_refunds(pool: PgPool) {
    let app = spawn_app(pool).await;
    let card = app.paid_order(&app.users.minsu, 50_000, "card", "kcp").await;
    let trans = app.paid_order(&app.users.jiwoo, 50_000, "trans", "tosspayments").await;
    let a =
        stored_refund(&app, &card.imp_uid, 1000, "succeeded", "customer", kst(2026, 11, 1, 0), "a")
            .await; // KST midnight
    let b = stored_refund(&app, &card.imp_uid, 2000, "failed", "admin", kst(2026, 11, 2, 23), "b")
        .await;
    let c =
        stored_refund(&app, &trans.imp_uid, 3000, "succeeded", "admin", kst(2026, 11, 3, 12), "c")
            .await;
    let d = stored_refund(
        &app,
        &trans.imp_uid,
        4000,
        "pending",
        "customer",
        kst(2026, 10, 31, 23),
        "d",
    )
    .await;

    assert_eq!(ids(&app, q(&[])).await, vec![c, b, a, d], "newest first");
    assert_eq!(ids(&app, q(&[("status", "succeeded")])).await, vec![c, a]);
    assert_eq!(
        ids(&app, q(&[("from", "2026-11-01"), ("to", "2026-11-02")])).await,
        vec![b, a],
        "KST days, inclusive"
    );
    assert_eq!(ids(&app, q(&[("to", "2026-10-31")])).await, vec![d]);
    assert_eq!(ids(&app, q(&[("pay_method", "trans")])).await, vec![c, d]);
    assert_eq!(ids(&app, q(&[("requester", "admin")])).await, vec![c, b]);
    assert_eq!(ids(&app, q(&[("q", &card.merchant_uid)])).await, vec![b, a]);
    assert_eq!(ids(&app, q(&[("q", &trans.imp_uid)])).await, vec![c, d]);
    assert_eq!(ids(&app, q(&[("q", "JIWOO@example.com")])).await, vec![c, d]);
    assert_eq!(ids(&app, q(&[("q", "김민수")])).await, vec![b, a]);
    assert_eq!(
        ids(
            &app,
            q(&[
                ("status", "succeeded"),
                ("requester", "admin"),
                ("pay_method", "trans"),
                ("from", "2026-11-03")
            ])
        )
        .await,
        vec![c]
    );
    assert!(ids(&app, q(&[("status", "failed"), ("pay_method", "trans")])).await.is_empty());

    let totals = admin::totals(&app.pool, &q(&[("pay_method", "card")])).await.unwrap();
    let by: Vec<_> = totals.iter().map(|t| (t.status.as_str(), t.count, t.amount)).collect();
    assert_eq!(by, vec![("failed", 1, 2000), ("succeeded", 1, 1000)]);

    let chart =
        admin::daily_refunded(&app.pool, &q(&[("from", "2026-10-31"), ("to", "2026-11-03")]))
            .await
            .unwrap();
    let bars: Vec<i64> = chart.days.iter().map(|d| d.refunded).collect();
    assert_eq!(bars, vec![0, 1000, 0, 3000], "succeeded won per KST day, every day present");
}

#[sqlx::test]
async fn keyset_pages_cover_every_row_exactly_once_under_concurrent_inserts(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 1_000_000, "card", "kcp").await;
    let base = Utc::now() - Duration::days(1);
    let mut expected = Vec::new();
    for i in 0..95 {
        // several rows share a timestamp: the id breaks the tie
        expected.push(
            stored_refund(
                &app,
                &p.imp_uid,
                100,
                "succeeded",
                "customer",
                base + Duration::seconds(i / 3),
                "x",
            )
            .await,
        );
    }
    let writer = {
        let pool = app.pool.clone();
        let payment_id =
            sqlx::query_scalar!("select id from payments where imp_uid = $1", p.imp_uid)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        let requester = app.users.minsu.clone();
        tokio::spawn(async move {
            for _ in 0..40 {
                let r = RecordedRefund {
                    reason: "new".into(),
                    status: RefundStatus::Succeeded,
                    ..RecordedRefund::new(payment_id, 100, 100, &requester)
                };
                insert_recorded(&pool, &r).await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        })
    };
    let mut seen = Vec::new();
    let mut query = q(&[
        ("size", "20"),
        ("to", &(base + Duration::days(1)).with_timezone(&Seoul).date_naive().to_string()),
    ]);
    query.from = Some(base.with_timezone(&Seoul).date_naive().to_string());
    let mut pages = 0;
    let mut forward = Vec::new();
    loop {
        let admin::RefundList { rows, next, .. } =
            admin::list_refunds(&app.pool, &query).await.unwrap();
        pages += 1;
        forward.push(query.clone());
        seen.extend(rows.iter().filter(|r| r.reason == "x").map(|r| r.id));
        match next {
            Some(c) => query.after = Some(c),
            None => break,
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    writer.await.unwrap();
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "no row twice");
    let mut want = expected.clone();
    want.sort();
    assert_eq!(sorted, want, "every row once");
    assert!(pages >= 5);

    // and back: from the last page, `before` walks to the first again
    let admin::RefundList { rows, prev, .. } =
        admin::list_refunds(&app.pool, forward.last().unwrap()).await.unwrap();
    let mut back = rows.len();
    let mut cursor = prev;
    while let Some(c) = cursor {
        let admin::RefundList { rows, prev, .. } = admin::list_refunds(
            &app.pool,
            &RefundQuery { before: Some(c), after: None, ..query.clone() },
        )
        .await
        .unwrap();
        back += rows.iter().filter(|r| r.reason == "x").count();
        cursor = prev;
    }
    assert_eq!(back, 95);
}

#[sqlx::test]
async fn csv_exports_at_once_are_capped_so_refunds_keep_their_connections(pool: PgPool) {
    let app = spawn_app(pool).await;
    let admin = app.signed_in(ADMIN).await;
    let csv = || admin.get(format!("{}/admin/refunds.csv", app.base_url)).send();
    let under_way: Vec<_> = (0..admin::CSV_EXPORTS_AT_ONCE)
        .map(|_| admin::csv_stream(app.pool.clone(), RefundQuery::default()).unwrap())
        .collect();
    let refused = csv().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "10");
    assert!(refused.text().await.unwrap().contains("다른 CSV 내보내기가 진행 중입니다"));
    // an export given up makes room at once
    drop(under_way);
    let res = csv().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().starts_with('\u{feff}'));
}

#[sqlx::test]
async fn csv_has_a_bom_kst_times_escaping_and_defused_formulas(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 50_000, "card", "kcp").await;
    stored_refund(
        &app,
        &p.imp_uid,
        1234,
        "succeeded",
        "customer",
        kst(2026, 11, 2, 9),
        "=HYPERLINK(\"x\"), 그리고\n줄바꿈",
    )
    .await;
    stored_refund(&app, &p.imp_uid, 99, "failed", "admin", kst(2026, 11, 1, 8), "@멘션 -1 +2")
        .await;
    let admin = app.signed_in(ADMIN).await;
    let res = admin
        .get(format!("{}/admin/refunds.csv?pay_method=card", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 BOM for Excel");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(lines[0].starts_with("요청 일시(KST),주문번호,imp_uid,PortOne 버전,고객"));
    assert!(lines[1].starts_with(&format!("2026-11-02 09:00:00,{},{},PortOne V1,김민수,minsu@example.com,테스트 상품,신용카드,1234,,,,성공,고객,김민수,", p.merchant_uid, p.imp_uid)), "{}", lines[1]);
    assert!(lines[1].contains("\"'=HYPERLINK(\"\"x\"\"), 그리고\n줄바꿈\""), "{}", lines[1]);
    assert!(lines[2].contains(",'@멘션 -1 +2,"), "{}", lines[2]);
    assert_eq!(lines.len(), 4, "header, two rows, trailing newline");
    for cell in ["-1", "+1", "=1", "@a", "\tx"] {
        assert!(
            admin::csv_cell(cell).starts_with('\'') || admin::csv_cell(cell).starts_with("\"'"),
            "{cell}"
        );
    }
    assert_eq!(admin::csv_cell("평범한 값"), "평범한 값");
}

#[sqlx::test]
async fn the_timeline_orders_events_and_marks_cancels_made_outside(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 20_000, "card", "kcp").await;
    let admin_user = app.users.admin.clone();
    let cmd = portone_refund::server::refund::RefundCommand {
        merchant_uid: p.merchant_uid.clone(),
        form: portone_refund::server::refund::rules::RefundForm {
            amount: Some("3000".into()),
            reason: "고객 전화 요청".into(),
            ..Default::default()
        },
        idempotency_key: Uuid::new_v4(),
        keyless_within: None,
    };
    portone_refund::server::refund::request_refund(
        &app.pool,
        &app.portone,
        &Default::default(),
        &admin_user,
        cmd,
    )
    .await
    .unwrap();
    // a console cancel without a webhook: only a re-sync finds it
    app.console_cancel(
        &p.imp_uid,
        ConsoleCancel { amount: Some(2000), reason: Some("콘솔".into()) },
    )
    .await;
    let admin = app.signed_in(ADMIN).await;
    let report: serde_json::Value = app
        .server_fn(&admin, AdminSync::PATH, &[("merchant_uid", &p.merchant_uid)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["cancel_amount_after"], 5000);

    let t = admin::timeline(&app.pool, &p.merchant_uid, std::time::Duration::from_secs(600))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.cancel_amount, 5000);
    let sources: Vec<(i64, bool)> =
        t.cancellations.iter().map(|c| (c.amount, c.refund_id.is_some())).collect();
    assert_eq!(sources, vec![(3000, true), (2000, false)]);
    let r = &t.refunds[0];
    assert_eq!((r.requester_role.as_str(), r.status.as_str()), ("admin", "succeeded"));
    let kinds: Vec<&str> = r.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["reserved", "succeeded"]);
    assert!(r.events.windows(2).all(|w| w[0].at <= w[1].at));
    // admin refunds reach PortOne as requester admin; the page renders the timeline
    let page = app.page(&admin, &format!("/admin/payments/{}", p.merchant_uid)).await;
    assert!(page.contains("서비스 외부에서 취소됨"));
    let list: RefundPage = app
        .server_fn(&admin, AdminRefunds::PATH, &[("query[status]", "succeeded")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.rows.len(), 1);
}

#[sqlx::test]
async fn delayed_and_reviewed_refunds_are_shown_and_decided_by_an_admin(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    // a refund pending for 25 minutes (its lookups keep failing): 지연 25분
    let pending = stored_refund(
        &app,
        &p.imp_uid,
        1000,
        "pending",
        "customer",
        Utc::now() - Duration::minutes(25),
        "오래 걸림",
    )
    .await;
    let admin = app.signed_in(ADMIN).await;
    let list: RefundPage = app
        .server_fn(&admin, AdminRefunds::PATH, &[("query[status]", "pending")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.rows[0].id, pending);
    assert!(list.rows[0].delayed_secs.is_some_and(|s| s >= 25 * 60));
    let page = app.page(&admin, "/admin/refunds?status=pending").await;
    assert!(page.contains("지연 25분"), "the list shows the delay");
    let page = app.page(&admin, &format!("/admin/payments/{}", p.merchant_uid)).await;
    assert!(page.contains("지연 25분"), "the timeline shows the delay");

    // a refund that needs review, with a console cancel of its amount next to it
    sqlx::query!(
        "update refunds set status = 'failed', finished_at = now() where id = $1",
        pending
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let reviewed =
        stored_refund(&app, &p.imp_uid, 2000, "pending", "customer", Utc::now(), "확인 필요").await;
    sqlx::query!("update refunds set status = 'needs_review' where id = $1", reviewed)
        .execute(&app.pool)
        .await
        .unwrap();
    app.console_cancel(
        &p.imp_uid,
        ConsoleCancel { amount: Some(2000), reason: Some("콘솔 취소".into()) },
    )
    .await;
    let page = app.page(&admin, &format!("/admin/payments/{}", p.merchant_uid)).await;
    assert!(
        page.contains("검토 필요") && page.contains("선택한 내역으로 성공 처리"),
        "the review form is offered"
    );
    let entry_key =
        sqlx::query_scalar!("select entry_key from payment_cancellations where refund_id is null")
            .fetch_one(&app.pool)
            .await
            .unwrap();

    // customers cannot decide; an admin's decision is recorded as theirs
    let minsu = app.signed_in(MINSU).await;
    let form = [
        ("refund_id", reviewed.to_string()),
        ("decision", "succeeded".into()),
        ("entry_key", entry_key),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let e: AppError = app.server_fn(&minsu, AdminReview::PATH, &form).await.json().await.unwrap();
    assert_eq!(e, AppError::NotFound);
    assert!(app.server_fn(&admin, AdminReview::PATH, &form).await.status().is_success());
    let decided = sqlx::query!("select status, (select actor from refund_events e where e.refund_id = r.id and kind = 'review_succeeded') as actor from refunds r where id = $1", reviewed)
        .fetch_one(&app.pool).await.unwrap();
    assert_eq!(
        (decided.status.as_str(), decided.actor),
        ("succeeded", Some(format!("admin:{}", app.users.admin.id)))
    );
    let e: AppError = app.server_fn(&admin, AdminReview::PATH, &form).await.json().await.unwrap();
    assert!(matches!(e, AppError::Rejected(_)), "decided once");
}
