//! What a stranger probing from outside must never get: a 500 for a body it broke on purpose,
//! a redirect to another site, an answer without the security headers.

use crate::common::*;
use leptos::server_fn::ServerFn;
use portone_refund::api::{Login, Logout, MyOrders};
use sqlx::PgPool;

#[sqlx::test]
async fn undecodable_bodies_to_server_functions_answer_400(pool: PgPool) {
    let app = spawn_app(pool).await;
    let minsu = app.signed_in(MINSU).await;
    let bodies: [(&str, Vec<u8>); 4] = [
        ("application/x-www-form-urlencoded", vec![b'e', b'm', 0xff, 0xfe, b'=', 0xc3]),
        ("application/json", b"{\"email\": ".to_vec()),
        ("text/plain", vec![0x80, 0x81, 0x82]),
        ("multipart/form-data; boundary=x", b"--x\r\nbroken".to_vec()),
    ];
    for path in [Login::PATH, Logout::PATH, MyOrders::PATH] {
        for (content_type, body) in &bodies {
            for client in [&app.browser(), &minsu] {
                let res = client
                    .post(format!("{}{path}", app.base_url))
                    .header("content-type", *content_type)
                    .header("accept", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                // a function without arguments has nothing to decode; one with them says 400
                let expected = if path == Login::PATH { status == 400 } else { status < 500 };
                assert!(expected, "{path} {content_type}: {status} {}", res.text().await.unwrap());
            }
        }
    }
}

#[sqlx::test]
async fn a_path_with_leading_slashes_is_never_a_redirect_off_the_site(pool: PgPool) {
    let app = spawn_app(pool).await;
    for (path, kept) in [
        ("//evil.example/?__err=1", "/evil.example/"),
        ("///evil.example/x?__err=1&a=b", "/evil.example/x?a=b"),
        ("/%5Cevil.example/?__err=1", "/%5Cevil.example/"),
    ] {
        let res = app.browser().get(format!("{}{path}", app.base_url)).send().await.unwrap();
        assert!(res.status().is_redirection(), "{path}: {}", res.status());
        let location = res.headers()["location"].to_str().unwrap();
        assert_eq!(location, kept, "{path}");
        assert!(portone_refund::server::headers::is_local(location));
    }
}

#[sqlx::test]
async fn answers_written_by_the_middlewares_carry_the_security_headers(pool: PgPool) {
    let app = spawn_app(pool).await;
    let minsu = app.signed_in(MINSU).await;
    // 403: a cross-site post
    let refused = minsu
        .post(format!("{}{}", app.base_url, MyOrders::PATH))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    // 303: an error link from elsewhere
    let dropped =
        app.browser().get(format!("{}/login?__err=x", app.base_url)).send().await.unwrap();
    assert!(dropped.status().is_redirection());
    for res in [&refused, &dropped] {
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{}", res.status());
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["cache-control"], "no-store");
    }
}

#[sqlx::test]
async fn many_addresses_cannot_guess_an_admins_password_faster_than_the_back_off(pool: PgPool) {
    use portone_refund::server::auth::{self, Credentials, SignInRules};
    use portone_refund::server::error::ServerError;
    let app = spawn_app(pool).await;
    let rules = SignInRules { development: true, customer_password_login: true };
    let guess = |password: &'static str, ip: String| {
        let pool = app.pool.clone();
        async move {
            let credentials = Credentials { email: ADMIN.0, password, code: None };
            auth::sign_in(&pool, &credentials, rules, &ip).await
        }
    };
    // 40 guesses from 40 addresses, as fast as they go
    for n in 0..40 {
        let r = guess("wrong", format!("203.0.113.{n}")).await;
        assert!(matches!(r, Err(ServerError::InvalidCredentials | ServerError::TooManyAttempts)));
    }
    let checked = sqlx::query_scalar!(
        r#"select count(*) as "n!" from sign_in_attempts where checked and not succeeded"#
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(checked, auth::FREE_FAILURES_PER_ACCOUNT, "then each guess waits its turn");
    // the owner, right then, is asked to wait too …
    assert!(matches!(
        guess(ADMIN.1, "198.51.100.2".into()).await,
        Err(ServerError::TooManyAttempts)
    ));
    // … a moment, not the window
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(guess(ADMIN.1, "198.51.100.2".into()).await.unwrap().email, ADMIN.0);
}

#[sqlx::test]
async fn an_overlong_email_or_password_is_refused_before_any_work(pool: PgPool) {
    let app = spawn_app(pool).await;
    let long_email = format!("{}@example.com", "a".repeat(250));
    let long_password = "p".repeat(100_000);
    for (email, password) in [(long_email.as_str(), "x"), (MINSU.0, long_password.as_str())] {
        let res = app
            .server_fn(&app.browser(), Login::PATH, &[("email", email), ("password", password)])
            .await;
        assert_eq!(res.status(), 401);
    }
    let attempts = sqlx::query_scalar!(r#"select count(*) as "n!" from sign_in_attempts"#)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(attempts, 0, "nothing recorded, nothing hashed");
}
