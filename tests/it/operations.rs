//! Running it in production: metrics, health, graceful shutdown, a database outage, logs.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;
use leptos::server_fn::ServerFn;
use portone_refund::api::RequestRefund;
use portone_refund::model::{RefundOutcome, RefundOutcomeStatus};
use sqlx::PgPool;
use uuid::Uuid;

/// A full refund account number the tests type; no log may ever hold it.
const FULL_ACCOUNT: &str = "56211105948400";
/// The simulator's demo secret; no log may ever hold it.
const SIM_SECRET: &str = "demo-secret-for-the-simulator-only";

fn refund_form<'a>(
    merchant_uid: &'a str,
    key: &'a str,
    amount: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("merchant_uid", merchant_uid),
        ("idempotency_key", key),
        ("amount", amount),
        ("reason", "단순 변심"),
    ]
}

async fn scrape(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

/// The value of the first series whose line starts with `prefix` (name and labels).
fn series(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[sqlx::test]
async fn metrics_move_as_refunds_happen(pool: PgPool) {
    let app = spawn_app(pool).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let metrics = portone_refund::server::metrics::router(app.pool.clone());
    tokio::spawn(async move { axum::serve(listener, metrics).await });

    let before = scrape(&url).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    let minsu = app.signed_in(MINSU).await;
    let key = Uuid::new_v4().to_string();
    let res = app
        .server_fn(&minsu, RequestRefund::PATH, &refund_form(&p.merchant_uid, &key, "3000"))
        .await;
    assert!(res.status().is_success());
    // a refund PortOne does not answer in time stays pending: the backlog gauge shows it
    let q = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::Latency { ms: 4000 })]).await;
    let key = Uuid::new_v4().to_string();
    let res = app
        .server_fn(&minsu, RequestRefund::PATH, &refund_form(&q.merchant_uid, &key, "1000"))
        .await;
    let outcome: RefundOutcome = res.json().await.unwrap();
    assert_eq!(outcome.status, RefundOutcomeStatus::Pending);
    let after = scrape(&url).await;

    let grew =
        |name: &str, labels: &[&str]| series(&after, name, labels) - series(&before, name, labels);
    assert_eq!(grew("refund_requests_total", &["role=\"customer\"", "answer=\"answered\""]), 2.0);
    assert_eq!(
        grew(
            "refund_outcomes_total",
            &["status=\"succeeded\"", "role=\"customer\"", "pay_method=\"card\""]
        ),
        1.0
    );
    assert_eq!(grew("refund_outcomes_total", &["status=\"pending\""]), 1.0);
    assert_eq!(
        grew(
            "portone_request_duration_seconds_count",
            &["endpoint=\"cancel\"", "outcome=\"success\""]
        ),
        1.0
    );
    assert_eq!(
        grew(
            "portone_request_duration_seconds_count",
            &["endpoint=\"cancel\"", "outcome=\"unknown\""]
        ),
        1.0
    );
    assert!(grew("sign_in_total", &["result=\"success\""]) >= 1.0);
    assert!(grew("http_request_duration_seconds_count", &["method=\"POST\""]) >= 3.0);
    assert_eq!(series(&after, "refunds_pending ", &[]), 1.0, "{after}");
    assert!(series(&after, "refund_oldest_pending_age_seconds", &[]) >= 0.0);

    // the reconciler's actions are counted too, once the slow cancel has landed
    tokio::time::sleep(Duration::from_secs(3)).await;
    app.expire_leases().await;
    app.reconcile().await;
    let later = scrape(&url).await;
    assert!(series(&later, "reconciler_actions_total", &[]) >= 1.0, "{later}");
    assert_eq!(series(&later, "refunds_pending ", &[]), 0.0);

    // a refund beyond the approval policy waits: 승인 대기 shows in the backlog
    let policy = portone_refund::server::refund::approval::Policy {
        auto_max_amount: Some(0),
        auto_within_days: None,
    };
    portone_refund::server::refund::approval::save(&app.pool, &app.users.admin, policy)
        .await
        .unwrap();
    let key = Uuid::new_v4().to_string();
    let res = app
        .server_fn(&minsu, RequestRefund::PATH, &refund_form(&q.merchant_uid, &key, "1000"))
        .await;
    let outcome: RefundOutcome = res.json().await.unwrap();
    assert_eq!(outcome.status, RefundOutcomeStatus::Requested);
    let waiting = scrape(&url).await;
    assert_eq!(series(&waiting, "refund_requests_waiting", &[]), 1.0, "{waiting}");
}

#[sqlx::test]
async fn health_and_readiness_say_little_and_mean_it(pool: PgPool) {
    let app = spawn_app(pool).await;
    let get = |path: &str| reqwest::get(format!("{}{path}", app.base_url));
    let healthz = get("/healthz").await.unwrap();
    assert_eq!((healthz.status().as_u16(), healthz.text().await.unwrap()), (200, "ok".to_string()));
    let readyz = get("/readyz").await.unwrap();
    assert_eq!(
        (readyz.status().as_u16(), readyz.text().await.unwrap()),
        (200, "ready".to_string())
    );
    // PortOne refusing our credentials: not ready, and nothing said about why
    let mut broken = app.settings.clone();
    broken.portone.as_mut().unwrap().imp_key = "wrong".into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = format!("http://{}", listener.local_addr().unwrap());
    serve_app(listener, app.pool.clone(), broken);
    let readyz = reqwest::get(format!("{other}/readyz")).await.unwrap();
    assert_eq!(readyz.status().as_u16(), 503);
    assert_eq!(readyz.text().await.unwrap(), "not ready");
    assert_eq!(reqwest::get(format!("{other}/healthz")).await.unwrap().status().as_u16(), 200);
}

#[sqlx::test]
async fn a_database_outage_answers_503_and_loses_nothing(pool: PgPool) {
    let proxy = PgProxy::start(&pool).await;
    let app = spawn_app(pool).await;
    // a second app instance whose every connection to Postgres passes through the proxy
    let through_proxy = proxy.pool().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    serve_app(listener, through_proxy.clone(), app.settings.clone());
    let minsu = app.signed_in_at(&base, MINSU).await;
    // the load comes from an admin (not rate limited); the customer opens pages
    let admin = app.signed_in_at(&base, ADMIN).await;
    let orders: Vec<_> = futures::future::join_all(
        (0..4).map(|_| app.paid_order(&app.users.minsu, 20_000, "card", "kcp")),
    )
    .await;

    // refunds keep coming while Postgres goes away for three seconds and comes back
    let refunds = {
        let (base, admin) = (base.clone(), admin.clone());
        let merchant_uids: Vec<String> = orders.iter().map(|o| o.merchant_uid.clone()).collect();
        tokio::spawn(async move {
            let mut answers = Vec::new();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(8) {
                for m in &merchant_uids {
                    let key = Uuid::new_v4().to_string();
                    let res = admin
                        .post(format!("{base}{}", RequestRefund::PATH))
                        .header("accept", "application/json")
                        .form(&refund_form(m, &key, "500"))
                        .send()
                        .await
                        .unwrap();
                    let retry_after = res.headers().get("retry-after").is_some();
                    answers.push((res.status().as_u16(), retry_after));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            answers
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.outage(true);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // during the outage: a browser gets a Korean page, readiness fails, liveness holds
    let page =
        minsu.get(format!("{base}/orders")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status().as_u16(), 503);
    assert!(page.headers().get("retry-after").is_some());
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert!(page.text().await.unwrap().contains("잠시 후 다시 시도해 주세요"));
    assert_eq!(reqwest::get(format!("{base}/readyz")).await.unwrap().status().as_u16(), 503);
    assert_eq!(reqwest::get(format!("{base}/healthz")).await.unwrap().status().as_u16(), 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    proxy.outage(false);

    let answers = refunds.await.unwrap();
    let unavailable = answers.iter().filter(|(s, _)| *s == 503).count();
    assert!(unavailable > 0, "the outage was seen: {answers:?}");
    assert!(answers.iter().all(|(s, _)| *s != 500), "never a 500: {answers:?}");
    assert!(
        answers.iter().filter(|(s, _)| *s == 503).all(|(_, retry)| *retry),
        "503 says when to retry"
    );
    // recovered without a restart
    let deadline = Instant::now() + Duration::from_secs(10);
    while reqwest::get(format!("{base}/readyz")).await.unwrap().status().as_u16() != 200 {
        assert!(Instant::now() < deadline, "not ready again after the outage");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // whatever the outage cut off after PortOne's answer is settled by the reconciler …
    app.expire_leases().await;
    app.reconcile().await;
    // … and refunds work again
    let key = Uuid::new_v4().to_string();
    let res = admin
        .post(format!("{base}{}", RequestRefund::PATH))
        .header("accept", "application/json")
        .form(&refund_form(&orders[0].merchant_uid, &key, "500"))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    assert_eq!(status, 200, "refunds work again: {}", res.text().await.unwrap());
    // the ledger: nothing lost, nothing doubled
    for o in &orders {
        let ours = sqlx::query!(
            r#"select coalesce(sum(r.amount) filter (where r.status = 'succeeded'), 0)::bigint as "succeeded!",
                      count(*) filter (where r.status = 'pending') as "pending!"
               from refunds r join payments p on p.id = r.payment_id where p.imp_uid = $1"#,
            o.imp_uid
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(ours.pending, 0);
        assert_eq!(
            app.sim_payment(&o.imp_uid).await.cancel_amount,
            ours.succeeded,
            "{}",
            o.imp_uid
        );
    }
}

/// The real binary: SIGTERM while PortOne is slow lets the refund finish, and its JSON logs
/// carry request and refund ids but never the secret or a full account number.
#[sqlx::test]
async fn sigterm_lets_a_slow_refund_finish(pool: PgPool) {
    let app = spawn_app(pool).await;
    let p = app.paid_order(&app.users.minsu, 30_000, "vbank", "html5_inicis").await;
    let port =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let options = app.pool.connect_options();
    let database_url = format!(
        "postgres://{}@{}:{}/{}",
        options.get_username(),
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap()
    );
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_portone-refund"))
        .env("DATABASE_URL", database_url)
        .env("DEV_MODE", "1")
        .env("LEPTOS_OUTPUT_NAME", "portone-refund")
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("PORTONE_API_URL", &app.sim_url)
        .env("PORTONE_TIMEOUT_SECS", "10")
        .env("PORTONE_DEADLINE_SECS", "12")
        .env("REFUND_LEASE_SECS", "30")
        .env("METRICS_ADDR", "off")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(reqwest::get(format!("{base}/healthz")).await, Ok(r) if r.status().is_success())
    {
        assert!(Instant::now() < deadline, "the app did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let minsu = app.signed_in_at(&base, MINSU).await;
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::Latency { ms: 2000 })]).await;
    let key = Uuid::new_v4().to_string();
    let mut form = refund_form(&p.merchant_uid, &key, "12000");
    form.extend([
        ("refund_holder", "김민수"),
        ("refund_bank", "88"),
        ("refund_account", FULL_ACCOUNT),
    ]);
    let request = minsu
        .post(format!("{base}{}", RequestRefund::PATH))
        .header("accept", "application/json")
        .form(&form)
        .send();
    let pid = child.id().unwrap().to_string();
    let terminate = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let killed =
            tokio::process::Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
        assert!(killed.success());
    };
    let (res, ()) = tokio::join!(request, terminate);
    let outcome: RefundOutcome = res.unwrap().json().await.unwrap();
    assert_eq!(outcome.status, RefundOutcomeStatus::Succeeded, "finished, not left pending");
    let exit =
        tokio::time::timeout(Duration::from_secs(15), child.wait()).await.expect("exited").unwrap();
    assert!(exit.success(), "a clean exit: {exit:?}");
    let status = sqlx::query_scalar!(
        "select status from refunds where id = $1::text::uuid",
        outcome.refund_id.to_string()
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(status, "succeeded");
    assert_eq!(app.sim_payment(&p.imp_uid).await.cancel_amount, 12_000);

    let mut logs = String::new();
    use tokio::io::AsyncReadExt;
    child.stdout.take().unwrap().read_to_string(&mut logs).await.unwrap();
    child.stderr.take().unwrap().read_to_string(&mut logs).await.unwrap();
    let lines: Vec<serde_json::Value> =
        logs.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    assert!(lines.len() > 10, "JSON lines: {logs}");
    let in_refund = lines.iter().filter(|l| {
        let spans = l["spans"].as_array().cloned().unwrap_or_default();
        spans.iter().any(|s| s["request_id"].as_str().is_some_and(|id| !id.is_empty()))
            && spans
                .iter()
                .any(|s| s["refund_id"].as_str() == Some(outcome.refund_id.to_string().as_str()))
    });
    assert!(in_refund.count() >= 2, "pipeline lines carry request and refund ids");
    assert!(logs.contains("shutting down"), "{logs}");
    assert!(!logs.contains(SIM_SECRET), "the PortOne secret reached the logs");
    assert!(!logs.contains(FULL_ACCOUNT), "a full account number reached the logs");
}
