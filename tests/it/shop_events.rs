//! Events out to the shop, against a real HTTP receiver on a random port: written with the
//! change that causes them, signed so the maintained Standard Webhooks verifier accepts them,
//! retried under the same `webhook-id`, given up after the schedule without stalling others,
//! delivered once however many workers run, in order per refund, never to a disabled endpoint,
//! one after another over the connection already open, and never held up by another's slow
//! answer.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use portone_refund::model::RefundOutcomeStatus;
use portone_refund::server::outbox::deliver::{self, deliver_once, DeliverySettings, Senders};
use portone_refund::server::outbox::endpoints;
use portone_refund::server::refund::approval::{self, Policy};
use portone_refund::server::refund::review::{self, ReviewDecision};
use portone_refund::server::shop::keys;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::common::*;
use crate::exactly_once::refund;

/// One request the receiver took.
#[derive(Clone, Debug)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
    /// the connection it came on
    peer: SocketAddr,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_string()
    }
}

/// The shop's receiver: answers `fail_first` requests with 500 (or, with `hang`, never), then 200;
/// each after `slow`, and the first one after `slow_first` too.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    fail_first: Arc<Mutex<usize>>,
    hang: bool,
    slow: Duration,
    slow_first: Arc<Mutex<Option<Duration>>>,
}

impl Receiver {
    async fn serve(self) -> (String, Receiver) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/refunds", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/hooks/refunds", axum::routing::post(take))
            .with_state(self.clone());
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, self)
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    fn types(&self) -> Vec<String> {
        self.got().iter().map(|r| r.json()["type"].as_str().unwrap().to_string()).collect()
    }
}

async fn take(
    State(r): State<Receiver>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if r.hang {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    tokio::time::sleep(r.slow).await;
    let slow_first = r.slow_first.lock().unwrap().take();
    if let Some(wait) = slow_first {
        tokio::time::sleep(wait).await;
    }
    r.got.lock().unwrap().push(Received { headers, body, peer });
    let mut fail = r.fail_first.lock().unwrap();
    if *fail > 0 {
        *fail -= 1;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::OK
}

fn quick(schedule: &[f64]) -> DeliverySettings {
    DeliverySettings {
        retry_schedule: schedule.iter().map(|s| Duration::from_secs_f64(*s)).collect(),
        timeout: Duration::from_millis(500),
        in_flight: 20,
        poll: Duration::from_millis(50),
        development: true,
    }
}

/// Passes until nothing is due (waiting out short retry steps).
async fn drain(pool: &PgPool, settings: &DeliverySettings) {
    let senders = Senders::default();
    for _ in 0..40 {
        deliver_once(pool, settings, &senders).await.unwrap();
        let pending = sqlx::query_scalar!(
            r#"select count(*) as "n!" from webhook_deliveries where status = 'pending'"#
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if pending == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
}

/// Registers `url` through the shop's API; returns its secret.
async fn register(app: &TestApp, url: &str, events: Option<Value>) -> (i64, String) {
    let key = keys::create(&app.pool, "주문 서버", true, "test").await.unwrap().key;
    let mut body = json!({"url": url});
    if let Some(events) = events {
        body["events"] = events;
    }
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/webhook-endpoints", app.base_url))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let made: Value = res.json().await.unwrap();
    let secret = made["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    (made["id"].as_i64().unwrap(), secret)
}

fn verified(secret: &str, r: &Received) -> bool {
    standardwebhooks::Webhook::new(secret).unwrap().verify(&r.body, &r.headers).is_ok()
}

/// A policy under which customers' refunds above 1,000원 wait for an admin.
async fn hold_above_1000(app: &TestApp) {
    let policy = Policy { auto_max_amount: Some(1000), auto_within_days: None };
    approval::save(&app.pool, &app.users.admin, policy).await.unwrap();
}

#[sqlx::test]
async fn each_event_arrives_once_signed_with_what_the_shop_needs(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (url, receiver) = Receiver::default().serve().await;
    let (_, secret) = register(&app, &url, None).await;
    let settings = quick(&[0.0]);

    // succeeded, then a console cancel made outside this service
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    assert_eq!(refund(&app, &p, 3000).await.status, RefundOutcomeStatus::Succeeded);
    app.console_cancel(
        &p.imp_uid,
        ConsoleCancel { amount: Some(1000), reason: Some("콘솔 취소".into()) },
    )
    .await;
    // failed at the PG
    let q = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    app.faults(&[FaultRule::once(
        FaultEndpoint::Cancel,
        FaultKind::PgReject { message: "한도 초과".into() },
    )])
    .await;
    assert_eq!(refund(&app, &q, 2000).await.status, RefundOutcomeStatus::Failed);
    // requested (the policy holds it), approved (then succeeded), rejected, withdrawn
    hold_above_1000(&app).await;
    let held = |amount| {
        let app = &app;
        let q = q.clone();
        async move { refund(app, &q, amount).await }
    };
    let a = held(1500).await;
    assert_eq!(a.status, RefundOutcomeStatus::Requested);
    let a_id = a.refund_id;
    let approved =
        approval::approve(&app.pool, &app.portone, &test_pipeline(), &app.users.admin, a_id)
            .await
            .unwrap();
    assert_eq!(approved.outcome.status, RefundOutcomeStatus::Succeeded);
    let b = held(1200).await.refund_id;
    approval::reject(&app.pool, &app.users.admin, b, "사진이 필요합니다").await.unwrap();
    let c = held(1300).await.refund_id;
    approval::withdraw(&app.pool, &app.users.minsu, c).await.unwrap();
    // needs review, then decided
    let r = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    approval::save(&app.pool, &app.users.admin, Policy::default()).await.unwrap();
    app.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::ErrorBefore { status: 500 })])
        .await;
    app.sim_config(ConfigChange { drop_webhooks: Some(true), ..Default::default() }).await;
    let pending = refund(&app, &r, 1000).await;
    assert_eq!(pending.status, RefundOutcomeStatus::Pending);
    app.console_cancel(
        &r.imp_uid,
        ConsoleCancel { amount: Some(1000), reason: Some("콘솔 취소".into()) },
    )
    .await;
    app.reconcile().await;
    let reviewed = pending.refund_id;
    review::decide(&app.pool, &app.users.admin, reviewed, ReviewDecision::Failed).await.unwrap();

    drain(&app.pool, &settings).await;
    let got = receiver.got();
    let mut types = receiver.types();
    types.sort();
    types.dedup();
    assert_eq!(
        types,
        [
            "payment.cancelled_outside",
            "refund.approved",
            "refund.failed",
            "refund.needs_review",
            "refund.rejected",
            "refund.requested",
            "refund.review_decided",
            "refund.succeeded",
            "refund.withdrawn"
        ]
    );
    let mut ids: Vec<String> = got.iter().map(Received::id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), got.len(), "each event once");
    for r in &got {
        assert!(verified(&secret, r), "the maintained verifier accepts {}", r.id());
        let body = r.json();
        assert_eq!(body["id"], r.id());
        assert!(!r.body.is_empty() && !String::from_utf8_lossy(&r.body).contains("56211105948400"));
    }
    let succeeded =
        got.iter().map(Received::json).find(|b| b["type"] == "refund.succeeded").unwrap();
    let data = &succeeded["data"];
    assert_eq!(data["payment"]["merchant_uid"], p.merchant_uid.as_str());
    assert_eq!(data["payment"]["imp_uid"], p.imp_uid.as_str());
    assert_eq!(data["refund"]["amount"], 3000);
    assert_eq!(data["refund"]["status"], "succeeded");
    assert!(data["refund"]["reference"].as_str().unwrap().starts_with("R-"));
    let outside =
        got.iter().map(Received::json).find(|b| b["type"] == "payment.cancelled_outside").unwrap();
    assert_eq!(outside["data"]["cancellation"]["amount"], 1000);
    let decided =
        got.iter().map(Received::json).find(|b| b["type"] == "refund.review_decided").unwrap();
    assert_eq!(decided["data"]["refund"]["status"], "failed");
}

#[sqlx::test]
async fn a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt_under_one_id(
    pool: PgPool,
) {
    let app = spawn_app(pool).await;
    let (url, receiver) =
        Receiver { fail_first: Arc::new(Mutex::new(2)), ..Default::default() }.serve().await;
    register(&app, &url, Some(json!(["refund.succeeded"]))).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    refund(&app, &p, 1000).await;
    drain(&app.pool, &quick(&[0.0, 0.0, 0.0])).await;
    let got = receiver.got();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.id() == got[0].id()), "the same webhook-id on every retry");
    let d = sqlx::query!("select status, attempts, last_status from webhook_deliveries")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!((d.status.as_str(), d.attempts, d.last_status), ("delivered", 3, Some(200)));
}

#[sqlx::test]
async fn a_receiver_that_never_answers_ends_failed_and_stalls_no_one_else(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (dead, _dead) = Receiver { hang: true, ..Default::default() }.serve().await;
    let (live, receiver) = Receiver::default().serve().await;
    register(&app, &dead, None).await;
    register(&app, &live, None).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    refund(&app, &p, 1000).await;
    refund(&app, &p, 2000).await;
    let settings = quick(&[0.0]);
    drain(&app.pool, &settings).await;
    assert_eq!(receiver.types(), ["refund.succeeded", "refund.succeeded"]);
    let by_status = sqlx::query!(
        r#"select e.url, d.status, d.attempts, d.last_error from webhook_deliveries d
           join webhook_endpoints e on e.id = d.endpoint_id order by d.id"#
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    for d in by_status {
        if d.url == dead {
            assert_eq!((d.status.as_str(), d.attempts), ("failed", 2), "after the schedule");
            assert!(d.last_error.is_some());
        } else {
            assert_eq!(d.status, "delivered");
        }
    }
}

#[sqlx::test]
async fn events_survive_a_dead_worker_and_two_workers_never_send_one_twice(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (url, receiver) =
        Receiver { slow: Duration::from_millis(150), ..Default::default() }.serve().await;
    register(&app, &url, None).await;
    for amount in [1000, 2000, 3000] {
        let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
        refund(&app, &p, amount).await;
    }
    // a worker took one and died mid-attempt (kill -9): its lease runs out, then it is sent
    sqlx::query!(
        "update webhook_deliveries set attempts = 1, next_attempt_at = now() + interval '1 hour'
         where id = (select min(id) from webhook_deliveries)"
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let settings = quick(&[0.0]);
    let (one, other) = (Senders::default(), Senders::default());
    let (a, b) = tokio::join!(
        deliver_once(&app.pool, &settings, &one),
        deliver_once(&app.pool, &settings, &other)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 2, "two instances split the due ones, none twice");
    assert_eq!(receiver.got().len(), 2);
    sqlx::query!(
        "update webhook_deliveries set next_attempt_at = now() - interval '1 second' where status = 'pending'"
    )
    .execute(&app.pool)
    .await
    .unwrap();
    drain(&app.pool, &settings).await;
    let mut ids: Vec<String> = receiver.got().iter().map(Received::id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "every event delivered, each once");
}

#[sqlx::test]
async fn one_refunds_events_arrive_in_order_even_when_the_first_is_retried(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (url, receiver) =
        Receiver { fail_first: Arc::new(Mutex::new(1)), ..Default::default() }.serve().await;
    register(&app, &url, None).await;
    hold_above_1000(&app).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    let o = refund(&app, &p, 5000).await;
    let id = o.refund_id;
    approval::approve(&app.pool, &app.portone, &test_pipeline(), &app.users.admin, id)
        .await
        .unwrap();
    drain(&app.pool, &quick(&[0.0, 0.0])).await;
    // the first `refund.requested` failed once and was sent again before the rest
    assert_eq!(
        receiver.types(),
        ["refund.requested", "refund.requested", "refund.approved", "refund.succeeded"]
    );
}

#[sqlx::test]
async fn a_disabled_or_deleted_endpoint_gets_nothing_and_bad_urls_are_refused(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (url, receiver) = Receiver::default().serve().await;
    let (id, _) = register(&app, &url, None).await;
    endpoints::set_disabled(&app.pool, id, true, "test").await.unwrap();
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    refund(&app, &p, 1000).await;
    drain(&app.pool, &quick(&[0.0])).await;
    assert!(receiver.got().is_empty());
    let written = sqlx::query_scalar!(r#"select count(*) as "n!" from shop_events"#)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(written, 0, "nothing is written while no endpoint is enabled");

    let key = keys::create(&app.pool, "주문 서버", true, "test").await.unwrap().key;
    let client = reqwest::Client::new();
    for bad in
        [json!({"url": "ftp://shop.example/x"}), json!({"url": url, "events": ["refund.exploded"]})]
    {
        let res = client
            .post(format!("{}/api/v1/webhook-endpoints", app.base_url))
            .bearer_auth(&key)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{bad}");
    }
    let listed: Value = client
        .get(format!("{}/api/v1/webhook-endpoints", app.base_url))
        .bearer_auth(&key)
        .answer()
        .await;
    assert_eq!(listed["endpoints"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains("whsec_"), "secrets are never listed");
    let deleted = client
        .delete(format!("{}/api/v1/webhook-endpoints/{id}", app.base_url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(client
        .post(format!("{}/api/v1/webhook-endpoints", app.base_url))
        .json(&json!({"url": url}))
        .send()
        .await
        .unwrap()
        .status()
        .is_client_error());
}

#[sqlx::test]
async fn a_rotated_secret_signs_beside_the_old_one_for_a_day(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (url, receiver) = Receiver::default().serve().await;
    let (id, old) = register(&app, &url, None).await;
    let new = endpoints::rotate(&app.pool, id, "test").await.unwrap().unwrap();
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    refund(&app, &p, 1000).await;
    drain(&app.pool, &quick(&[0.0])).await;
    let got = receiver.got();
    assert!(verified(&old, &got[0]) && verified(&new, &got[0]), "both verify during the overlap");
}

#[sqlx::test]
async fn a_delivery_given_up_is_sent_again_by_resend_under_its_id(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (url, receiver) =
        Receiver { fail_first: Arc::new(Mutex::new(2)), ..Default::default() }.serve().await;
    register(&app, &url, None).await;
    let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
    refund(&app, &p, 1000).await;
    let settings = quick(&[0.0]);
    drain(&app.pool, &settings).await;
    let d = sqlx::query!("select id, status from webhook_deliveries")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(d.status, "failed", "two attempts, both refused: the schedule is spent");
    assert!(endpoints::resend(&app.pool, d.id, "admin:1").await.unwrap());
    drain(&app.pool, &settings).await;
    let got = receiver.got();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.id() == got[0].id()));
    let status: String = sqlx::query_scalar!("select status from webhook_deliveries")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "delivered");
}

#[sqlx::test]
async fn events_one_after_another_reach_the_shop_over_one_connection(pool: PgPool) {
    let app = spawn_app(pool).await;
    let (url, receiver) = Receiver::default().serve().await;
    register(&app, &url, None).await;
    let (settings, senders) = (quick(&[0.0]), Senders::default());
    for amount in [1000, 2000, 3000] {
        let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
        assert_eq!(refund(&app, &p, amount).await.status, RefundOutcomeStatus::Succeeded);
        assert_eq!(deliver_once(&app.pool, &settings, &senders).await.unwrap(), 1);
    }
    let got = receiver.got();
    assert_eq!(receiver.types(), ["refund.succeeded"; 3]);
    let peers: HashSet<SocketAddr> = got.iter().map(|r| r.peer).collect();
    // a connection (and, for https, a TLS handshake) per event kept deliveries far behind a
    // wave of refunds (docs/measurements.md)
    assert_eq!(peers.len(), 1, "each event came on a connection of its own: {peers:?}");
}

#[sqlx::test]
async fn one_slow_answer_holds_up_only_its_own_event(pool: PgPool) {
    let app = spawn_app(pool).await;
    let slow = Receiver {
        slow_first: Arc::new(Mutex::new(Some(Duration::from_millis(1500)))),
        ..Default::default()
    };
    let (url, receiver) = slow.serve().await;
    register(&app, &url, None).await;
    let settings = DeliverySettings { timeout: Duration::from_secs(5), ..quick(&[0.0]) };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = deliver::spawn(app.pool.clone(), settings, stopped);

    let order = |amount| {
        let app = &app;
        async move {
            let p = app.paid_order(&app.users.minsu, 10_000, "card", "kcp").await;
            let done = refund(app, &p, amount).await;
            assert_eq!(done.status, RefundOutcomeStatus::Succeeded);
            done.refund_id.to_string()
        }
    };
    let first = order(1000).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // its event is on its way, answered slowly
    for amount in [2000, 3000, 4000] {
        order(amount).await;
    }
    for _ in 0..100 {
        if receiver.got().len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refunds: Vec<String> = receiver
        .got()
        .iter()
        .map(|r| r.json()["data"]["refund"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(refunds.len(), 4, "{refunds:?}");
    assert_eq!(refunds[3], first, "the later events waited for the slow one: {refunds:?}");
    stop.send(true).unwrap();
    worker.await.unwrap();
}
