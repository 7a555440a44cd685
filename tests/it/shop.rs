//! Into a real shop: API keys, orders registered by the shop deciding the owner, the shop's
//! refunds through the API, customers signed in by the shop's token, admins by invitation
//! with TOTP.

use crate::common::*;
use leptos::server_fn::ServerFn;
use portone_refund::api::{Login, MyOrders};
use portone_refund::error::AppError;
use portone_refund::server::admins;
use portone_refund::server::shop::keys;
use portone_refund::server::shop::login::{sign, ShopLoginClaims};
use portone_refund::server::webhook;
use portone_v1::Payment;
use serde_json::{json, Value};
use sqlx::PgPool;

async fn api_key(app: &TestApp) -> String {
    keys::create(&app.pool, "주문 서버", true, "test").await.unwrap().key
}

fn order(customer_id: &str, email: &str, amount: i64) -> Value {
    json!({"customer": {"id": customer_id, "email": email, "name": "박고객"}, "amount": amount, "name": "테스트 주문"})
}

async fn put_order(
    app: &TestApp,
    key: &str,
    merchant_uid: &str,
    body: &Value,
) -> reqwest::Response {
    reqwest::Client::new()
        .put(format!("{}/api/v1/orders/{merchant_uid}", app.base_url))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A paid payment at the simulator whose webhook reaches the app (which imports it).
async fn paid_at_sim(app: &TestApp, merchant_uid: &str, amount: i64, buyer_email: &str) -> Payment {
    let new = sim_payment(merchant_uid, amount, "card", "kcp", "테스트 주문", buyer_email, true);
    let (payment, webhook) = app.control.create_payment_notified(&new).await.unwrap();
    assert_eq!(webhook, "200");
    serde_json::from_value(payment).unwrap()
}

async fn owner_of(app: &TestApp, merchant_uid: &str) -> Option<i64> {
    sqlx::query_scalar!("select customer_id from payments where merchant_uid = $1", merchant_uid)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn missing_unknown_and_revoked_keys_are_refused_alike(pool: PgPool) {
    let app = spawn_app(pool).await;
    let key = api_key(&app).await;
    assert!(key.starts_with("rk_test_") && key.len() == 40, "{key}");
    let body = order("C-1", "c1@shop.example", 1000);
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/orders/ORD-K-1", app.base_url);
    let missing = http.put(&url).json(&body).send().await.unwrap();
    let unknown =
        put_order(&app, "rk_test_0000000000000000000000000000000a", "ORD-K-1", &body).await;
    let (ms, us) = (missing.status(), unknown.status());
    let (mb, ub): (Value, Value) = (missing.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!((ms.as_u16(), us.as_u16()), (401, 401));
    assert_eq!(mb, ub, "nothing tells the two apart");
    assert_eq!(mb.as_object().unwrap().keys().collect::<Vec<_>>(), vec!["message"]);

    assert_eq!(put_order(&app, &key, "ORD-K-1", &body).await.status(), 201);
    assert_eq!(put_order(&app, &key, "ORD-K-1", &body).await.status(), 200, "idempotent update");
    // only the hash is stored, and the use is attributed to the key
    let stored = sqlx::query!("select key_hash, last_used_at from api_keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!stored.key_hash.contains(&key[8..]) && stored.last_used_at.is_some());
    let actors =
        sqlx::query_scalar!("select actor from refund_events where kind = 'order_registered'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(actors.len(), 2);
    assert!(actors.iter().all(|a| a.starts_with("api_key:")));

    let id = sqlx::query_scalar!("select id from api_keys").fetch_one(&app.pool).await.unwrap();
    // the key's budget for this minute spent (600 by default): told to wait, nothing done
    sqlx::query!(
        "update refund_request_windows set requests = 600 where actor = $1",
        format!("api_key:{id}")
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let limited = put_order(&app, &key, "ORD-K-2", &body).await;
    assert_eq!(limited.status(), 429);
    let registered =
        sqlx::query_scalar!("select count(*) from shop_orders where merchant_uid = 'ORD-K-2'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(registered, Some(0));
    assert!(keys::revoke(&app.pool, id, "test").await.unwrap());
    let revoked = put_order(&app, &key, "ORD-K-1", &body).await;
    assert_eq!(revoked.status(), 401);
    assert_eq!(revoked.json::<Value>().await.unwrap(), mb);
}

#[sqlx::test]
async fn the_registration_decides_the_owner_whatever_the_payer_typed(pool: PgPool) {
    let app = spawn_app(pool).await;
    let key = api_key(&app).await;
    // before payment: the shop says the order is its customer C-77's
    assert_eq!(
        put_order(&app, &key, "ORD-R-1", &order("C-77", "real@shop.example", 100)).await.status(),
        201
    );
    // a stranger pays typing minsu's e-mail: the registration wins
    paid_at_sim(&app, "ORD-R-1", 100, app.users.minsu.email.as_str()).await;
    let c77 = sqlx::query_scalar!("select id from users where shop_customer_id = 'C-77'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(owner_of(&app, "ORD-R-1").await, Some(c77));
    let minsu = app.signed_in(MINSU).await;
    let orders = app.server_fn(&minsu, MyOrders::PATH, &[]).await.text().await.unwrap();
    assert!(!orders.contains("ORD-R-1"), "not in the victim's 내 주문");

    // after payment: a registration moves an already imported payment to its customer
    let p = app.paid_order(&app.users.jiwoo, 5000, "card", "kcp").await;
    assert_eq!(owner_of(&app, &p.merchant_uid).await, Some(app.users.jiwoo.id));
    let res =
        put_order(&app, &key, &p.merchant_uid, &order("C-77", "real@shop.example", 5000)).await;
    assert_eq!(res.json::<Value>().await.unwrap()["paid"], true);
    assert_eq!(owner_of(&app, &p.merchant_uid).await, Some(c77));
}

#[sqlx::test]
async fn an_unregistered_payment_is_for_admins_only_until_assigned(pool: PgPool) {
    let app = spawn_app(pool).await;
    let created = app
        .sim_create_payment(&json!({"merchant_uid": "ORD-U-1", "amount": 3000, "pay_method": "card",
                                    "pg_provider": "kcp", "name": "미등록 주문", "buyer_email": app.users.minsu.email}))
        .await;
    let notice = portone_v1::WebhookNotice {
        imp_uid: created.imp_uid.clone(),
        merchant_uid: None,
        status: Some("paid".into()),
        cancellation_id: None,
    };
    // outside DEV_MODE the payer's e-mail decides nothing
    let rules = webhook::ImportRules { allow_test_payments: true, owner_from_buyer_email: false };
    let effect = webhook::process(&app.pool, &app.portone, &notice, &rules).await.unwrap();
    assert_eq!(effect, webhook::WebhookEffect::Imported { owner_found: false });
    assert_eq!(owner_of(&app, "ORD-U-1").await, None);

    let minsu = app.signed_in(MINSU).await;
    let orders = app.server_fn(&minsu, MyOrders::PATH, &[]).await.text().await.unwrap();
    assert!(!orders.contains("ORD-U-1"));
    assert!(!app.page(&minsu, "/orders/ORD-U-1").await.contains("미등록 주문"));
    let admin = app.signed_in(ADMIN).await;
    assert!(app.page(&admin, "/admin/integration").await.contains("ORD-U-1"));
    assert!(app.page(&admin, "/admin/payments/ORD-U-1").await.contains("주문 미등록"));

    // the admin assigns it by e-mail; then it is minsu's
    let assign = portone_refund::api::shop::AssignPayment::PATH;
    let res = app
        .server_fn(&admin, assign, &[("merchant_uid", "ORD-U-1"), ("customer", "nobody@x.y")])
        .await;
    assert!(matches!(res.json::<AppError>().await.unwrap(), AppError::Rejected(_)));
    let res =
        app.server_fn(&minsu, assign, &[("merchant_uid", "ORD-U-1"), ("customer", MINSU.0)]).await;
    assert_eq!(
        res.json::<AppError>().await.unwrap(),
        AppError::NotFound,
        "customers cannot assign"
    );
    let res =
        app.server_fn(&admin, assign, &[("merchant_uid", "ORD-U-1"), ("customer", MINSU.0)]).await;
    assert!(res.status().is_success());
    assert_eq!(owner_of(&app, "ORD-U-1").await, Some(app.users.minsu.id));
    assert!(app.page(&minsu, "/orders/ORD-U-1").await.contains("미등록 주문"));
}

#[sqlx::test]
async fn a_paid_amount_other_than_the_registered_one_is_flagged(pool: PgPool) {
    let app = spawn_app(pool).await;
    let recorder = portone_refund::server::metrics::install();
    let key = api_key(&app).await;
    put_order(&app, &key, "ORD-M-1", &order("C-5", "c5@shop.example", 59_000)).await;
    paid_at_sim(&app, "ORD-M-1", 100, "c5@shop.example").await;
    let admin = app.signed_in(ADMIN).await;
    let page = app.page(&admin, "/admin/payments/ORD-M-1").await;
    assert!(page.contains("금액 불일치") && page.contains("59,000원"), "timeline flags it");
    // a refund of it shows the flag on 환불 내역
    let shop = reqwest::Client::new();
    let res = shop
        .post(format!("{}/api/v1/orders/ORD-M-1/refunds", app.base_url))
        .bearer_auth(&key)
        .header("idempotency-key", "m-1")
        .json(&json!({"amount": 100, "reason": "금액 확인 후 취소"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(app.page(&admin, "/admin/refunds").await.contains("금액 불일치"));
    let metrics = recorder.render();
    assert!(metrics.contains("payment_amount_mismatch_total"), "{metrics}");
}

#[sqlx::test]
async fn the_shops_refund_goes_through_the_pipeline_once_per_idempotency_key(pool: PgPool) {
    let app = spawn_app(pool).await;
    let key = api_key(&app).await;
    put_order(&app, &key, "ORD-S-1", &order("C-8", "c8@shop.example", 30_000)).await;
    paid_at_sim(&app, "ORD-S-1", 30_000, "c8@shop.example").await;
    let url = format!("{}/api/v1/orders/ORD-S-1/refunds", app.base_url);
    let shop = reqwest::Client::new();
    let send = |idem: Option<&'static str>, body: Value| {
        let mut req = shop.post(&url).bearer_auth(&key).json(&body);
        if let Some(idem) = idem {
            req = req.header("idempotency-key", idem);
        }
        req.send()
    };
    let body = json!({"amount": 10_000, "reason": "쇼핑몰 고객센터 취소"});
    // the same key three times at once: one refund, one answer
    let answers =
        futures::future::join_all((0..3).map(|_| send(Some("order-s-1-a"), body.clone()))).await;
    let mut ids = Vec::new();
    for res in answers {
        let res = res.unwrap();
        let status = res.status().as_u16();
        let v: Value = res.json().await.unwrap();
        // the first answers 200; one racing it gets the same refund (202 while it is in flight)
        // or is told a refund is in progress
        let in_progress = status == 422 && v["message"].as_str().unwrap().contains("처리 중");
        assert!(status == 200 || status == 202 || in_progress, "{status} {v}");
        if !in_progress {
            ids.push(v["refund_id"].as_str().unwrap().to_string());
        }
    }
    // and again afterwards: the stored answer
    let again: Value = send(Some("order-s-1-a"), body.clone()).await.unwrap().json().await.unwrap();
    ids.push(again["refund_id"].as_str().unwrap().to_string());
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let sim = app.sim_stats().await;
    assert_eq!(sim.cancels_applied, 1, "{sim:?}");
    // the same key with other input, no key, an unknown field, a bad type, too big
    let reused = send(Some("order-s-1-a"), json!({"amount": 20_000, "reason": "x"})).await.unwrap();
    assert_eq!(reused.status(), 422);
    assert_eq!(send(None, body.clone()).await.unwrap().status(), 422);
    let unknown = send(Some("k2"), json!({"amount": 1, "reason": "x", "extra": 1})).await.unwrap();
    assert_eq!(unknown.status(), 422);
    assert!(unknown.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("extra"));
    let bad = put_order(&app, &key, "ORD-S-1", &json!({"customer": {"id": "C-8", "email": "c8@shop.example", "name": "x"}, "amount": "많이", "name": "n"})).await;
    assert_eq!(bad.status(), 422);
    assert!(bad.json::<Value>().await.unwrap()["message"].as_str().unwrap().contains("amount"));
    let huge = send(Some("k3"), json!({"amount": 1, "reason": "가".repeat(20_000)})).await.unwrap();
    assert_eq!(huge.status(), 413);
    // the order's refunds, with who asked
    let listed: Value = shop.get(&url).bearer_auth(&key).answer().await;
    let refunds = listed["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1, "{listed}");
    assert_eq!(refunds[0]["status"], "succeeded");
    assert_eq!(refunds[0]["requester"], "shop");
    assert_eq!(refunds[0]["amount"], 10_000);
    assert!(refunds[0]["reference"].as_str().unwrap().starts_with("R-"));
    let admin = app.signed_in(ADMIN).await;
    assert!(app.page(&admin, "/admin/payments/ORD-S-1").await.contains("쇼핑몰"));
    let reads = sqlx::query_scalar!(
        "select count(*) from refund_events where kind = 'api_refunds_read' and actor like 'api_key:%'"
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(reads, Some(1), "the read is attributed to the key");
    let unknown_order = shop
        .get(format!("{}/api/v1/orders/ORD-NONE/refunds", app.base_url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_order.status(), 404);
}

fn claims(sub: &str, lifetime: i64, next: Option<&str>) -> ShopLoginClaims {
    let now = chrono::Utc::now().timestamp();
    ShopLoginClaims {
        sub: sub.into(),
        email: format!("{}@shop.example", sub.to_lowercase()),
        name: "쇼핑몰 고객".into(),
        iat: now,
        exp: now + lifetime,
        jti: uuid::Uuid::new_v4().to_string(),
        next: next.map(str::to_string),
    }
}

async fn shop_login(app: &TestApp, client: &reqwest::Client, token: &str) -> reqwest::Response {
    client.get(format!("{}/shop-login?token={token}", app.base_url)).send().await.unwrap()
}

#[sqlx::test]
async fn the_shops_token_signs_its_customer_in_once_and_nothing_else_does(pool: PgPool) {
    use base64::Engine;
    let app = spawn_app(pool).await;
    let secret = TEST_SHOP_LOGIN_SECRET.as_bytes();
    let key = api_key(&app).await;
    put_order(&app, &key, "ORD-L-1", &order("C-42", "c-42@shop.example", 8000)).await;
    paid_at_sim(&app, "ORD-L-1", 8000, "c-42@shop.example").await;

    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let body = b64(&serde_json::to_value(claims("C-42", 600, None)).unwrap());
    let expired = {
        let mut c = claims("C-42", 600, None);
        (c.iat, c.exp) = (c.iat - 1200, c.exp - 1200);
        c
    };
    let future = {
        let mut c = claims("C-42", 600, None);
        (c.iat, c.exp) = (c.iat + 900, c.exp + 900);
        c
    };
    let refused = [
        (
            "another key",
            sign(b"not-the-shops-secret-but-32-bytes-long", &claims("C-42", 600, None)),
        ),
        ("alg none", format!("{}.{body}.", b64(&json!({"alg": "none", "typ": "JWT"})))),
        (
            "HS384",
            jsonwebtoken::encode(
                &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384),
                &claims("C-42", 600, None),
                &jsonwebtoken::EncodingKey::from_secret(secret),
            )
            .unwrap(),
        ),
        ("expired", sign(secret, &expired)),
        ("future", sign(secret, &future)),
        ("living too long", sign(secret, &claims("C-42", 3600, None))),
        ("next elsewhere", sign(secret, &claims("C-42", 600, Some("https://evil.example/")))),
        ("next protocol-relative", sign(secret, &claims("C-42", 600, Some("//evil.example/")))),
    ];
    for (what, token) in refused {
        let client = app.browser();
        let res = shop_login(&app, &client, &token).await;
        assert_eq!(res.status(), 401, "{what}");
        assert!(res.headers().get("set-cookie").is_none(), "{what}: no session");
        let text = res.text().await.unwrap();
        assert!(text.contains("로그인할 수 없습니다"), "{what}: {text}");
        let e: AppError = app.server_fn(&client, MyOrders::PATH, &[]).await.json().await.unwrap();
        assert_eq!(e, AppError::NotSignedIn, "{what}");
    }

    let good = sign(secret, &claims("C-42", 600, Some("/orders/ORD-L-1")));
    let client = app.browser();
    let res = shop_login(&app, &client, &good).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/orders/ORD-L-1");
    let orders = app.server_fn(&client, MyOrders::PATH, &[]).await.text().await.unwrap();
    assert!(orders.contains("ORD-L-1"), "{orders}");
    // the same token again: refused, however fresh
    let replay = shop_login(&app, &app.browser(), &good).await;
    assert_eq!(replay.status(), 401);
    assert!(replay.text().await.unwrap().contains("이미 사용된"));
}

#[sqlx::test]
async fn an_invited_admin_enrolls_signs_in_with_totp_and_loses_access_when_revoked(pool: PgPool) {
    use portone_refund::api::shop::{AcceptInvitation, Admins, Invitation, RevokeAdmin};
    let app = spawn_app(pool).await;
    let invite = admins::invite(&app.pool, "New.Admin@Shop.Example", "test").await.unwrap();
    let newcomer = app.browser();
    // the invitation page shows this session its authenticator's secret
    let shown: Value = app
        .server_fn(&newcomer, Invitation::PATH, &[("token", &invite.token)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(shown["email"], "new.admin@shop.example");
    assert!(
        shown["qr_svg"].as_str().unwrap().starts_with("<?xml")
            || shown["qr_svg"].as_str().unwrap().contains("<svg")
    );
    let secret = shown["totp_secret"].as_str().unwrap().to_string();
    let again: Value = app
        .server_fn(&newcomer, Invitation::PATH, &[("token", &invite.token)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["totp_secret"], secret.as_str(), "a reload keeps the secret being enrolled");
    let totp = portone_refund::server::totp::totp(&secret, "new.admin@shop.example").unwrap();
    let now = chrono::Utc::now().timestamp() as u64;
    let accept = |code: String| {
        let form = [
            ("token", invite.token.clone()),
            ("name", "새 관리자".to_string()),
            ("password", "a-long-admin-password".to_string()),
            ("code", code),
        ];
        newcomer
            .post(format!("{}{}", app.base_url, AcceptInvitation::PATH))
            .header("accept", "application/json")
            .form(&form)
            .send()
    };
    let wrong = accept("000000".into()).await.unwrap();
    assert!(matches!(wrong.json::<AppError>().await.unwrap(), AppError::Rejected(_)));
    assert!(accept(totp.generate(now).to_string()).await.unwrap().status().is_success());
    // signed in, shown ten recovery codes once
    let v: Value = app.server_fn(&newcomer, Admins::PATH, &[]).await.json().await.unwrap();
    let codes: Vec<String> = serde_json::from_value(v["recovery_codes"].clone()).unwrap();
    assert_eq!(codes.len(), 10);
    let v: Value = app.server_fn(&newcomer, Admins::PATH, &[]).await.json().await.unwrap();
    assert_eq!(v["recovery_codes"], json!([]));
    // the link works once
    assert!(!accept(totp.generate(now).to_string()).await.unwrap().status().is_success());

    // sign-in needs the authenticator: none, an old code, the next one, a recovery code
    let base_url = app.base_url.clone();
    let login = |code: Option<String>| {
        let client = app.browser();
        let base_url = base_url.clone();
        async move {
            let mut form = vec![
                ("email", "new.admin@shop.example".to_string()),
                ("password", "a-long-admin-password".to_string()),
            ];
            if let Some(code) = code {
                form.push(("code", code));
            }
            let res = client
                .post(format!("{base_url}{}", Login::PATH))
                .header("accept", "application/json")
                .form(&form)
                .send()
                .await
                .unwrap();
            (res.status().is_success(), client)
        }
    };
    assert!(!login(None).await.0);
    assert!(!login(Some(totp.generate(now).to_string())).await.0, "the enrollment's code is spent");
    let (ok, second) = login(Some(totp.generate(now + 30).to_string())).await;
    assert!(ok, "the next code signs in");
    assert!(!login(Some(totp.generate(now + 30).to_string())).await.0, "once");
    assert!(login(Some(codes[0].clone())).await.0);
    assert!(!login(Some(codes[0].clone())).await.0, "a recovery code works once");

    // the first admin revokes the new one: the new one's session ends at once
    let first = app.signed_in(ADMIN).await;
    let id = sqlx::query_scalar!(
        "select id from users where email = 'new.admin@shop.example' and role = 'admin'"
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(app.server_fn(&second, Admins::PATH, &[]).await.status().is_success());
    let res = app.server_fn(&first, RevokeAdmin::PATH, &[("id", &id.to_string())]).await;
    assert!(res.status().is_success());
    let e: AppError = app.server_fn(&second, Admins::PATH, &[]).await.json().await.unwrap();
    assert_eq!(e, AppError::NotSignedIn);
    assert!(!login(Some(codes[1].clone())).await.0, "a revoked admin cannot sign in");
    // and the last admin cannot be revoked
    let res =
        app.server_fn(&first, RevokeAdmin::PATH, &[("id", &app.users.admin.id.to_string())]).await;
    assert!(
        matches!(res.json::<AppError>().await.unwrap(), AppError::Rejected(m) if m.contains("마지막"))
    );
}

#[sqlx::test]
async fn outside_development_an_admin_without_an_authenticator_cannot_sign_in(pool: PgPool) {
    use portone_refund::server::auth::{sign_in, Credentials, SignInRules};
    let app = spawn_app(pool).await;
    let credentials = Credentials { email: ADMIN.0, password: ADMIN.1, code: None };
    let production = SignInRules { development: false, customer_password_login: false };
    let e = sign_in(&app.pool, &credentials, production, "192.0.2.1").await.unwrap_err();
    assert!(e.to_string().contains("rejected"), "{e}");
    // customers too, when the shop turned password sign-in off
    let minsu = Credentials { email: MINSU.0, password: MINSU.1, code: None };
    assert!(sign_in(&app.pool, &minsu, production, "192.0.2.1").await.is_err());
    let open = SignInRules { development: false, customer_password_login: true };
    assert!(sign_in(&app.pool, &minsu, open, "192.0.2.1").await.is_ok());
}
