//! Sign-in, sessions, authorization of the customer server functions, and the cross-site check.

use crate::common::*;
use leptos::server_fn::ServerFn;
use portone_refund::api::{GetCurrentUser, GetOrderDetail, Login, MyOrders};
use portone_refund::error::AppError;
use portone_refund::model::OrderSummary;
use serde_json::Value;
use sqlx::PgPool;

#[sqlx::test]
async fn wrong_password_and_unknown_email_get_the_same_message(pool: PgPool) {
    let app = spawn_app(pool).await;
    let client = app.browser();
    let wrong =
        app.server_fn(&client, Login::PATH, &[("email", MINSU.0), ("password", "nope")]).await;
    let unknown = app
        .server_fn(&client, Login::PATH, &[("email", "nobody@example.com"), ("password", "nope")])
        .await;
    let (wrong, unknown): (AppError, AppError) =
        (wrong.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(wrong.to_string(), "이메일 또는 비밀번호가 올바르지 않습니다.");
    assert_eq!(wrong, unknown);
}

#[sqlx::test]
async fn sign_in_is_rate_limited_per_account(pool: PgPool) {
    let app = spawn_app(pool).await;
    let client = app.browser();
    for _ in 0..5 {
        app.server_fn(&client, Login::PATH, &[("email", MINSU.0), ("password", "wrong")]).await;
    }
    // even the right password is refused now
    let res =
        app.server_fn(&client, Login::PATH, &[("email", MINSU.0), ("password", MINSU.1)]).await;
    let refused: AppError = res.json().await.unwrap();
    assert_eq!(refused, AppError::TooManyAttempts);
    assert!(refused.to_string().contains("로그인 시도가 너무 많습니다"));
    // another account from the same address is not locked out
    let res =
        app.server_fn(&client, Login::PATH, &[("email", JIWOO.0), ("password", JIWOO.1)]).await;
    assert!(res.status().is_success());
}

#[sqlx::test]
async fn customers_see_only_their_own_orders(pool: PgPool) {
    let app = spawn_app(pool).await;
    let mine = app.paid_order(&app.users.minsu, 12_000, "card", "html5_inicis").await;
    let theirs = app.paid_order(&app.users.jiwoo, 30_000, "trans", "tosspayments").await;

    let anonymous = app.server_fn(&app.browser(), MyOrders::PATH, &[]).await;
    assert!(anonymous.text().await.unwrap().contains("NotSignedIn"));

    let minsu = app.signed_in(MINSU).await;
    let orders: Vec<OrderSummary> =
        app.server_fn(&minsu, MyOrders::PATH, &[]).await.json().await.unwrap();
    assert_eq!(
        orders.iter().map(|o| o.merchant_uid.as_str()).collect::<Vec<_>>(),
        vec![mine.merchant_uid.as_str()]
    );

    // the detail server function: own order yes, another's order exactly like a missing one
    let own =
        app.server_fn(&minsu, GetOrderDetail::PATH, &[("merchant_uid", &mine.merchant_uid)]).await;
    assert!(own.status().is_success());
    let other = app
        .server_fn(&minsu, GetOrderDetail::PATH, &[("merchant_uid", &theirs.merchant_uid)])
        .await
        .text()
        .await
        .unwrap();
    let missing = app
        .server_fn(&minsu, GetOrderDetail::PATH, &[("merchant_uid", "ORD-NOPE")])
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(other, missing);
    assert!(other.contains("NotFound"));

    // admins may open any order
    let admin = app.signed_in(ADMIN).await;
    assert!(app
        .server_fn(&admin, GetOrderDetail::PATH, &[("merchant_uid", &theirs.merchant_uid)])
        .await
        .status()
        .is_success());
}

#[sqlx::test]
async fn another_customers_order_page_is_a_404_page(pool: PgPool) {
    let app = spawn_app(pool).await;
    let theirs = app.paid_order(&app.users.jiwoo, 30_000, "trans", "tosspayments").await;
    let minsu = app.signed_in(MINSU).await;
    let page =
        minsu.get(format!("{}/orders/{}", app.base_url, theirs.merchant_uid)).send().await.unwrap();
    assert_eq!(page.status(), 404);
    let missing = minsu.get(format!("{}/orders/ORD-NOPE", app.base_url)).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let jiwoo = app.signed_in(JIWOO).await;
    let own =
        jiwoo.get(format!("{}/orders/{}", app.base_url, theirs.merchant_uid)).send().await.unwrap();
    assert_eq!(own.status(), 200);
    assert!(own.text().await.unwrap().contains("30,000원"));
}

#[sqlx::test]
async fn orders_page_sends_visitors_to_sign_in(pool: PgPool) {
    let app = spawn_app(pool).await;
    let res = app
        .browser()
        .get(format!("{}/orders", app.base_url))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(res.headers()["location"], "/login");
}

#[sqlx::test]
async fn cross_site_posts_are_refused(pool: PgPool) {
    let app = spawn_app(pool).await;
    let evil = reqwest::Client::new();
    let res = evil
        .post(format!("{}{}", app.base_url, Login::PATH))
        .header("origin", "https://evil.example")
        .form(&[("email", MINSU.0), ("password", MINSU.1)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = evil
        .post(format!("{}/payments/cancel", app.base_url))
        .header("sec-fetch-site", "cross-site")
        .json(&serde_json::json!({"merchant_uid": "x", "reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[sqlx::test]
async fn the_session_survives_an_app_restart(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let minsu = app.signed_in(MINSU).await;
    // a second app process on another port, same database: the cookie is still good
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = format!("http://{}", listener.local_addr().unwrap());
    serve_app(listener, pool, app.settings.clone());
    let cookie_jar_client = minsu; // cookies are per host:port-insensitive for 127.0.0.1
    let res = cookie_jar_client
        .post(format!("{second}{}", GetCurrentUser::PATH))
        .header("origin", &second)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let user: Value = res.json().await.unwrap();
    assert_eq!(user["email"], MINSU.0);
}

#[sqlx::test]
async fn forty_parallel_wrong_passwords_reach_the_hash_at_most_five_times(pool: PgPool) {
    use portone_refund::server::auth;
    use portone_refund::server::error::ServerError;
    let app = spawn_app(pool).await;
    let attempts = (0..40).map(|_| {
        let pool = app.pool.clone();
        tokio::spawn(async move {
            auth::sign_in(&pool, &password(MINSU.0, "wrong"), DEV_RULES, "203.0.113.7").await
        })
    });
    for r in futures::future::join_all(attempts).await {
        assert!(matches!(
            r.unwrap(),
            Err(ServerError::InvalidCredentials | ServerError::TooManyAttempts)
        ));
    }
    let checked =
        sqlx::query_scalar!(r#"select count(*) as "n!" from sign_in_attempts where checked"#)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(checked <= auth::MAX_FAILURES_PER_ACCOUNT, "{checked} password checks");
    // refused attempts checked nothing and count for nothing; checked failures lock the
    // account for the window, from the attacker's address …
    for _ in 0..auth::MAX_FAILURES_PER_ACCOUNT {
        let _ =
            auth::sign_in(&app.pool, &password(MINSU.0, "wrong"), DEV_RULES, "203.0.113.7").await;
    }
    assert!(matches!(
        auth::sign_in(&app.pool, &password(MINSU.0, MINSU.1), DEV_RULES, "203.0.113.7").await,
        Err(ServerError::TooManyAttempts)
    ));
    // … but nobody can lock its owner out from elsewhere
    assert_eq!(
        auth::sign_in(&app.pool, &password(MINSU.0, MINSU.1), DEV_RULES, "198.51.100.2")
            .await
            .unwrap()
            .email,
        MINSU.0
    );
}

#[sqlx::test]
async fn a_cookie_post_without_origin_or_fetch_metadata_is_refused(pool: PgPool) {
    let app = spawn_app(pool).await;
    // a signed-in client whose next requests say nothing about where they come from
    let bare = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = bare
        .post(format!("{}{}", app.base_url, Login::PATH))
        .header("sec-fetch-site", "same-origin")
        .form(&[("email", MINSU.0), ("password", MINSU.1)])
        .send()
        .await
        .unwrap();
    assert!(login.status().is_success() || login.status().is_redirection());
    let res = bare
        .post(format!("{}{}", app.base_url, MyOrders::PATH))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "cookie, no Origin, no Sec-Fetch-Site");
    let res = bare
        .post(format!("{}{}", app.base_url, MyOrders::PATH))
        .header("sec-fetch-site", "none")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "Sec-Fetch-Site: none does not post our forms");
}

#[sqlx::test]
async fn server_function_errors_carry_their_http_status(pool: PgPool) {
    let app = spawn_app(pool).await;
    let anonymous = app.browser();
    assert_eq!(app.server_fn(&anonymous, MyOrders::PATH, &[]).await.status(), 401);
    let minsu = app.signed_in(MINSU).await;
    assert_eq!(
        app.server_fn(&minsu, GetOrderDetail::PATH, &[("merchant_uid", "ORD-NOPE")]).await.status(),
        404
    );
    let wrong =
        app.server_fn(&anonymous, Login::PATH, &[("email", JIWOO.0), ("password", "nope")]).await;
    assert_eq!(wrong.status(), 401);
    let bad_input = app.server_fn(&minsu, GetOrderDetail::PATH, &[]).await;
    assert_eq!(bad_input.status(), 400);
    let e: AppError = bad_input.json().await.unwrap();
    assert!(matches!(e, AppError::Rejected(_)));
    // a plain form post (no JavaScript) is still sent back to its page
    let form = anonymous
        .post(format!("{}{}", app.base_url, Login::PATH))
        .header("accept", "text/html")
        .header("referer", format!("{}/login", app.base_url))
        .form(&[("email", JIWOO.0), ("password", "nope")])
        .send()
        .await
        .unwrap();
    assert!(form.status().is_redirection(), "{}", form.status());
}

#[sqlx::test]
async fn a_demoted_admin_loses_admin_rights_at_the_next_request(pool: PgPool) {
    use portone_refund::api::admin::AdminRefunds;
    let app = spawn_app(pool).await;
    let admin = app.signed_in(ADMIN).await;
    assert!(app.server_fn(&admin, AdminRefunds::PATH, &[]).await.status().is_success());
    sqlx::query!("update users set role = 'customer' where id = $1", app.users.admin.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let e: AppError = app.server_fn(&admin, AdminRefunds::PATH, &[]).await.json().await.unwrap();
    assert_eq!(e, AppError::NotFound);
}

#[sqlx::test]
async fn every_response_carries_the_security_headers(pool: PgPool) {
    let app = spawn_app(pool).await;
    let minsu = app.signed_in(MINSU).await;
    let page = minsu.get(format!("{}/orders", app.base_url)).send().await.unwrap();
    let fun = app.server_fn(&minsu, MyOrders::PATH, &[]).await;
    let refused = app.server_fn(&app.browser(), MyOrders::PATH, &[]).await;
    for res in [&page, &fun, &refused] {
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(h["referrer-policy"], "same-origin");
        assert_eq!(h["cache-control"], "no-store", "signed-in pages and answers are never cached");
    }
    // no HSTS for a plain-http development site
    assert!(page.headers().get("strict-transport-security").is_none());
}

#[sqlx::test]
async fn pages_allow_only_scripts_with_this_responses_nonce(pool: PgPool) {
    let app = spawn_app(pool).await;
    // each page read whole before the next is asked for
    let fetch = || async {
        let res = app.browser().get(format!("{}/login", app.base_url)).send().await.unwrap();
        let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
        (csp, res.text().await.unwrap())
    };
    let nonce_of = |csp: &str| {
        assert!(
            csp.contains("'strict-dynamic'")
                && csp.contains("frame-ancestors 'none'")
                && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).unwrap().to_string()
    };
    let (first_csp, html) = fetch().await;
    let (second_csp, _) = fetch().await;
    let (a, b) = (nonce_of(&first_csp), nonce_of(&second_csp));
    assert_ne!(a, b, "a fresh nonce per response");
    assert!(html.contains(&format!("nonce=\"{a}\"")), "Leptos's scripts carry the nonce");
}

#[sqlx::test]
async fn an_error_message_in_a_link_from_elsewhere_is_not_shown(pool: PgPool) {
    let app = spawn_app(pool).await;
    let forged = format!("{}/login?__err=%7B%22Rejected%22%3A%22%EA%B3%84%EC%A2%8C%EB%A1%9C%20%EC%9E%85%EA%B8%88%ED%95%98%EC%84%B8%EC%9A%94%22%7D", app.base_url);
    // opened from an e-mail or another site: sent to the same page without the message
    let res = app.browser().get(&forged).send().await.unwrap();
    assert!(res.status().is_redirection());
    assert_eq!(res.headers()["location"], "/login");
    // after a no-JavaScript form post of ours, the page shows its own error
    let res = app
        .browser()
        .get(&forged)
        .header("referer", format!("{}/login", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// A sign-in with a password only.
fn password<'a>(
    email: &'a str,
    password: &'a str,
) -> portone_refund::server::auth::Credentials<'a> {
    portone_refund::server::auth::Credentials { email, password, code: None }
}

const DEV_RULES: portone_refund::server::auth::SignInRules =
    portone_refund::server::auth::SignInRules { development: true, customer_password_login: true };
