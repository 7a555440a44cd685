//! HTTP fuzzing: random and malformed bodies (raw bytes too), headers and query strings against
//! every server function, route and the webhook, as a visitor, a customer and an admin.
//! Nothing may panic, nothing may answer 5xx (a 5xx means a server fault), every answer carries
//! the security headers, no redirect leaves the site, and nothing may be written.

use crate::common::*;
use leptos::server_fn::ServerFn;
use portone_refund::api::admin::{
    AdminApproveRequest, AdminRefunds, AdminRejectRequest, AdminReview, AdminSync, AdminTimeline,
    RefundPolicy, SaveRefundPolicy,
};
use portone_refund::api::{
    shop, GetCurrentUser, GetOrderDetail, Login, MyOrders, RequestRefund, WithdrawRefundRequest,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use sqlx::PgPool;

const CASES: usize = 3_000;

fn server_fns() -> Vec<&'static str> {
    vec![
        Login::PATH,
        GetCurrentUser::PATH,
        MyOrders::PATH,
        GetOrderDetail::PATH,
        RequestRefund::PATH,
        AdminRefunds::PATH,
        AdminTimeline::PATH,
        AdminSync::PATH,
        AdminReview::PATH,
        WithdrawRefundRequest::PATH,
        AdminApproveRequest::PATH,
        AdminRejectRequest::PATH,
        RefundPolicy::PATH,
        SaveRefundPolicy::PATH,
        shop::Integration::PATH,
        shop::CreateApiKey::PATH,
        shop::RevokeApiKey::PATH,
        shop::AssignPayment::PATH,
        shop::Admins::PATH,
        shop::InviteAdmin::PATH,
        shop::RevokeAdmin::PATH,
        shop::Invitation::PATH,
        shop::AcceptInvitation::PATH,
    ]
}

const FIELDS: &[&str] = &[
    "email",
    "password",
    "merchant_uid",
    "idempotency_key",
    "amount",
    "reason",
    "refund_holder",
    "refund_bank",
    "refund_account",
    "refund_tel",
    "tax_free",
    "vat_amount",
    "auto_max_amount",
    "auto_within_days",
    "refund_id",
    "decision",
    "entry_key",
    "query[status]",
    "query[from]",
    "query[to]",
    "query[q]",
    "query[size]",
    "query[after]",
    "query[before]",
    "imp_uid",
    "status",
    "cancel_request_amount",
    "__err",
    "name",
    "code",
    "token",
    "totp_secret",
    "customer",
    "id",
];

fn nasty(rng: &mut StdRng) -> String {
    match rng.gen_range(0..12) {
        0 => String::new(),
        1 => "x".repeat(rng.gen_range(1..20_000)),
        2 => "<script>alert(1)</script>".into(),
        3 => "' or 1=1 --".into(),
        4 => "-1".into(),
        5 => "99999999999999999999999".into(),
        6 => "1.5".into(),
        7 => "+262143-12-31".into(),
        8 => "\u{0}\u{1}\u{7f}".into(),
        9 => "환불 🙂 \u{202e}".into(),
        10 => uuid::Uuid::new_v4().to_string(),
        _ => (0..rng.gen_range(0..40)).map(|_| rng.gen_range(' '..='~')).collect(),
    }
}

fn random_json(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..if depth > 2 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.gen::<bool>()),
        2 => json!(rng.gen::<i64>()),
        3 => json!(rng.gen::<f64>()),
        4 => json!(nasty(rng)),
        5 => Value::Array((0..rng.gen_range(0..4)).map(|_| random_json(rng, depth + 1)).collect()),
        _ => Value::Object(
            (0..rng.gen_range(0..6))
                .map(|_| {
                    (
                        FIELDS[rng.gen_range(0..FIELDS.len())].to_string(),
                        random_json(rng, depth + 1),
                    )
                })
                .collect(),
        ),
    }
}

fn random_form(rng: &mut StdRng) -> String {
    let pairs: Vec<(String, String)> = (0..rng.gen_range(0..8))
        .map(|_| (FIELDS[rng.gen_range(0..FIELDS.len())].to_string(), nasty(rng)))
        .collect();
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

async fn counts(pool: &PgPool) -> (i64, i64, i64) {
    let r = sqlx::query!(
        r#"select (select count(*) from refunds) as "refunds!", (select count(*) from payments) as "payments!",
                  (select count(*) from payment_cancellations) as "cancellations!""#
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (r.refunds, r.payments, r.cancellations)
}

#[sqlx::test]
async fn random_and_malformed_requests_never_fault_and_write_nothing(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.paid_order(&app.users.minsu, 50_000, "card", "kcp").await;
    let before = counts(&app.pool).await;
    let clients = [app.browser(), app.signed_in(MINSU).await, app.signed_in(ADMIN).await];
    let routes = [
        "/",
        "/login",
        "/orders",
        "/orders/",
        "/admin/refunds",
        "/admin/payments/",
        "/admin/refunds.csv",
        "/admin/find",
        "/admin/settings",
        "/admin/integration",
        "/admin/admins",
        "/admin/invite",
        "/shop-login",
        "//",
        "/api/v1/orders/",
    ];
    let key = portone_refund::server::shop::keys::create(&app.pool, "fuzz", true, "test")
        .await
        .unwrap()
        .key;
    let mut rng = StdRng::seed_from_u64(20_261_126);
    let (mut by_status, mut faults) = (std::collections::BTreeMap::<u16, usize>::new(), Vec::new());
    for case in 0..CASES {
        let client = &clients[rng.gen_range(0..clients.len())];
        let request = match rng.gen_range(0..6) {
            // a server function, form-encoded or JSON, with or without asking for JSON back
            0 | 1 => {
                let path = server_fns()[rng.gen_range(0..server_fns().len())];
                let r = client.post(format!("{}{path}", app.base_url));
                let r = match rng.gen_range(0..3) {
                    0 => r
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(random_form(&mut rng)),
                    1 => r.json(&random_json(&mut rng, 0)),
                    // raw bytes (invalid UTF-8 as often as not) under any content type
                    _ => r
                        .header(
                            "content-type",
                            [
                                "application/x-www-form-urlencoded",
                                "application/json",
                                "text/plain",
                                "multipart/form-data; boundary=b",
                            ][rng.gen_range(0..4)],
                        )
                        .body((0..rng.gen_range(0..300)).map(|_| rng.gen()).collect::<Vec<u8>>()),
                };
                if rng.gen() {
                    r.header("accept", "application/json")
                } else {
                    r.header("accept", "text/html")
                        .header("referer", format!("{}/login", app.base_url))
                }
            }
            // the seed guide's JSON endpoint, with any body and content type
            2 => {
                let body = if rng.gen() {
                    random_json(&mut rng, 0).to_string().into_bytes()
                } else {
                    (0..rng.gen_range(0..200)).map(|_| rng.gen()).collect()
                };
                let content_type = [
                    "application/json",
                    "text/plain",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data",
                ][rng.gen_range(0..4)];
                client
                    .post(format!("{}/payments/cancel", app.base_url))
                    .header("content-type", content_type)
                    .body(body)
            }
            // the webhook, from anywhere
            3 => {
                let r = reqwest::Client::new().post(format!("{}/portone/webhook", app.base_url));
                if rng.gen() {
                    r.json(&random_json(&mut rng, 0))
                } else {
                    r.header("content-type", "application/x-www-form-urlencoded")
                        .body(random_form(&mut rng))
                }
            }
            // the shop's API, with its key or anything else as the bearer, any body
            4 => {
                let path = format!(
                    "{}/api/v1/orders/{}{}",
                    app.base_url,
                    portone_refund::model::percent_encode(&nasty(&mut rng)),
                    if rng.gen() { "/refunds" } else { "" }
                );
                // what a header can carry of it
                let header_text = |rng: &mut StdRng| {
                    nasty(rng).chars().filter(|c| (' '..='~').contains(c)).collect::<String>()
                };
                let bearer = if rng.gen() { key.clone() } else { header_text(&mut rng) };
                let r = match rng.gen_range(0..3) {
                    0 => reqwest::Client::new().put(path),
                    1 => reqwest::Client::new()
                        .post(path)
                        .header("idempotency-key", header_text(&mut rng)),
                    _ => reqwest::Client::new().get(path),
                };
                r.header("authorization", format!("Bearer {bearer}"))
                    .json(&random_json(&mut rng, 0))
            }
            // pages and exports with random paths and query strings
            _ => {
                let route = routes[rng.gen_range(0..routes.len())];
                let tail = if route.ends_with('/') {
                    portone_refund::model::percent_encode(&nasty(&mut rng))
                } else {
                    String::new()
                };
                client
                    .get(format!("{}{route}{tail}?{}", app.base_url, random_form(&mut rng)))
                    .header("accept", "text/html")
            }
        };
        let request = request.build().unwrap();
        let described = format!("{} {}", request.method(), request.url());
        let Ok(sent) =
            tokio::time::timeout(std::time::Duration::from_secs(20), client.execute(request)).await
        else {
            faults.push(format!("case {case}: no answer within 20 s to {described}"));
            continue;
        };
        let response = sent.unwrap();
        let status = response.status().as_u16();
        *by_status.entry(status).or_default() += 1;
        if response.headers().get("x-content-type-options").is_none() {
            faults.push(format!("case {case}: {status} without the security headers"));
        }
        if let Some(location) = response.headers().get("location") {
            let location = location.to_str().unwrap_or_default();
            let own = location.strip_prefix(app.base_url.as_str()).unwrap_or(location);
            if !portone_refund::server::headers::is_local(own) {
                faults.push(format!("case {case}: {described} sent to {location}"));
            }
        }
        if status >= 500 {
            faults.push(format!(
                "case {case}: {status} {}",
                response.text().await.unwrap_or_default().chars().take(200).collect::<String>()
            ));
        }
    }
    println!("fuzz: {CASES} requests, statuses {by_status:?}");
    assert!(faults.is_empty(), "{} server faults: {faults:?}", faults.len());
    assert_eq!(counts(&app.pool).await, before, "nothing written");
    // and the app still serves a real customer
    assert!(app.server_fn(&clients[1], MyOrders::PATH, &[]).await.status().is_success());
}
