//! The V2 client against the simulator's V2 listener, over real HTTP: what a V2 refund will
//! rely on — `currentCancellableAmount`, one cancel per idempotency key however often it is
//! sent, 409 while a request is in flight, asynchronous virtual-account cancellations, and one
//! ledger read through V1 and V2.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use portone_sim::Simulator;
use portone_v2::{
    ApiSecret, CancelBody, CancellationStatus, ErrorType, IdempotencyKey, PaymentStatus,
    PortOneV2Client, PortOneV2Config, PortOneV2Error, PortOneVersion, RefundAccount,
};
use serde_json::Value;

struct V2 {
    url: String,
    v1_url: String,
    sim: Arc<Simulator>,
    client: PortOneV2Client,
}

async fn v2() -> V2 {
    let (v1_url, sim) = spawn_sim(None).await;
    let addr = portone_sim::spawn_v2(sim.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = format!("http://{addr}");
    let client = PortOneV2Client::new(PortOneV2Config {
        base_url: url.clone(),
        secret: ApiSecret::new(portone_sim::v2::DEMO_V2_SECRET),
        store_id: None,
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(2),
        deadline: Duration::from_secs(3),
    })
    .unwrap();
    V2 { url, v1_url, sim, client }
}

impl V2 {
    async fn pay(&self, payment_id: &str, amount: i64, method: &str) -> Value {
        let new = minsus_v2_payment(payment_id, amount, "키보드", method);
        SimControl::new(&self.url).create_v2_payment(&new).await.unwrap()
    }

    async fn faults(&self, rules: &[FaultRule]) {
        SimControl::new(&self.v1_url).add_faults(rules).await.unwrap();
    }

    async fn cancel_calls(&self) -> u64 {
        SimControl::new(&self.v1_url).stats().await.unwrap().cancel_calls
    }
}

fn key(n: u8) -> IdempotencyKey {
    IdempotencyKey::new(format!("7f3a2c1d-0000-4000-8000-0000000000{n:02}")).unwrap()
}

fn body(amount: i64, cancellable: i64) -> CancelBody {
    CancelBody {
        amount: Some(amount),
        reason: "[R-7F3A2C1D] 단순 변심".into(),
        current_cancellable_amount: Some(cancellable),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_v2_cancel_applies_once_per_key_and_reads_through_both_versions() {
    let g = v2().await;
    g.pay("order-v2-1", 10_000, "card").await;
    let c = g.client.cancel("order-v2-1", &key(1), &body(3000, 10_000)).await.unwrap();
    assert_eq!((c.status, c.total_amount), (CancellationStatus::Succeeded, 3000));
    // the same key again: the first answer, not a second cancel
    let again = g.client.cancel("order-v2-1", &key(1), &body(3000, 10_000)).await.unwrap();
    assert_eq!(again.id, c.id);
    let p = g.client.payment("order-v2-1").await.unwrap();
    assert_eq!(
        (p.cancellable(), p.status.clone(), p.version),
        (7000, PaymentStatus::PartialCancelled, Some(PortOneVersion::V2))
    );
    assert_eq!(p.cancellations.len(), 1);
    assert_eq!(p.cancellations[0].reason, "[R-7F3A2C1D] 단순 변심");
    // one ledger: V1 sees the same cancel
    let imp_uid = p.transaction_id.unwrap();
    let v1 =
        portone_v1::PortOneClient::new(portone_config(&g.v1_url, Duration::from_secs(2))).unwrap();
    assert_eq!(v1.payment(&imp_uid, false).await.unwrap().cancel_amount, 3000);
    // another body under a used key is refused; a wrong balance is refused by type
    let reused = g.client.cancel("order-v2-1", &key(1), &body(1000, 7000)).await.unwrap_err();
    assert_eq!(reused.error_type(), Some(ErrorType::InvalidRequest));
    let stale = g.client.cancel("order-v2-1", &key(2), &body(1000, 10_000)).await.unwrap_err();
    assert_eq!(stale.error_type(), Some(ErrorType::CancellableAmountConsistencyBroken));
    assert!(!stale.outcome_unknown());
    assert_eq!(g.client.payment("order-v2-1").await.unwrap().cancellable(), 7000);
}

#[tokio::test]
async fn a_lost_answer_then_a_resend_with_the_same_key_is_one_cancel() {
    let g = v2().await;
    g.pay("order-v2-2", 10_000, "card").await;
    // applied, then the connection drops: the outcome is unknown to us
    g.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::DropAfter)]).await;
    let lost = g.client.cancel("order-v2-2", &key(3), &body(4000, 10_000)).await.unwrap_err();
    assert!(lost.outcome_unknown(), "{lost:?}");
    // the resend carries the same key and the same checksum: PortOne answers the first cancel
    let resent = g.client.cancel("order-v2-2", &key(3), &body(4000, 10_000)).await.unwrap();
    assert_eq!(resent.status, CancellationStatus::Succeeded);
    let p = g.client.payment("order-v2-2").await.unwrap();
    assert_eq!((p.cancellable(), p.cancellations.len()), (6000, 1), "exactly one cancellation");
}

#[tokio::test]
async fn a_request_still_in_flight_answers_409_which_is_never_a_failure() {
    let g = v2().await;
    g.pay("order-v2-3", 10_000, "card").await;
    g.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::DelayApply { ms: 1200 })]).await;
    let first = {
        let client_url = g.url.clone();
        tokio::spawn(async move {
            let client = PortOneV2Client::new(PortOneV2Config {
                base_url: client_url,
                secret: ApiSecret::new(portone_sim::v2::DEMO_V2_SECRET),
                store_id: None,
                connect_timeout: Duration::from_secs(2),
                request_timeout: Duration::from_secs(3),
                deadline: Duration::from_secs(4),
            })
            .unwrap();
            client.cancel("order-v2-3", &key(4), &body(2000, 10_000)).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = g.client.cancel("order-v2-3", &key(4), &body(2000, 10_000)).await.unwrap_err();
    assert!(matches!(second, PortOneV2Error::InFlight), "{second:?}");
    assert!(second.outcome_unknown());
    assert_eq!(first.await.unwrap().unwrap().status, CancellationStatus::Succeeded);
    assert_eq!(g.client.payment("order-v2-3").await.unwrap().cancellable(), 8000);
    assert_eq!(g.cancel_calls().await, 2);
}

#[tokio::test]
async fn a_virtual_account_refund_is_requested_then_succeeds() {
    let g = v2().await;
    let change = ConfigChange { v2_vbank_delay_ms: Some(800), ..Default::default() };
    SimControl::new(&g.v1_url).set_config(&change).await.unwrap();
    g.pay("order-v2-4", 30_000, "virtualAccount").await;
    let without = g.client.cancel("order-v2-4", &key(5), &body(30_000, 30_000)).await.unwrap_err();
    assert_eq!(without.error_type(), Some(ErrorType::InvalidRequest), "an account is needed");
    let mut with_account = body(30_000, 30_000);
    with_account.refund_account = Some(RefundAccount {
        bank: "SHINHAN".into(),
        number: "56211105948400".into(),
        holder_name: "김민수".into(),
        holder_phone_number: None,
    });
    let c = g.client.cancel("order-v2-4", &key(6), &with_account).await.unwrap();
    assert_eq!(c.status, CancellationStatus::Requested);
    let p = g.client.payment("order-v2-4").await.unwrap();
    assert_eq!(p.status, PaymentStatus::Paid, "no money moved yet");
    assert_eq!(p.cancellations[0].status, CancellationStatus::Requested);
    // accepted and not applied: nothing more can be cancelled meanwhile
    let more = g.client.cancel("order-v2-4", &key(7), &body(1000, 30_000)).await.unwrap_err();
    assert!(
        matches!(
            more.error_type(),
            Some(
                ErrorType::PaymentAlreadyCancelled | ErrorType::CancellableAmountConsistencyBroken
            )
        ),
        "{more:?}"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let p = g.client.payment("order-v2-4").await.unwrap();
    assert_eq!(p.status, PaymentStatus::Cancelled);
    assert_eq!(p.cancellations.len(), 1);
    assert_eq!(
        (p.cancellations[0].status, &p.cancellations[0].id),
        (CancellationStatus::Succeeded, &c.id)
    );
    drop(g.sim);
}

#[sqlx::test]
async fn readiness_checks_portone_v2_when_it_is_configured(pool: sqlx::PgPool) {
    let g = v2().await;
    let ready = |secret: &'static str| {
        let (pool, v1_url, v2_url) = (pool.clone(), g.v1_url.clone(), g.url.clone());
        async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            let mut settings = test_settings(&v1_url, Some(&v2_url));
            let v2 = settings.portone_v2.as_mut().unwrap();
            (v2.client.secret, v2.webhook_secret) = (ApiSecret::new(secret), None);
            serve_app(listener, pool, settings);
            reqwest::get(format!("{base}/readyz")).await.unwrap().status().as_u16()
        }
    };
    assert_eq!(ready(portone_sim::v2::DEMO_V2_SECRET).await, 200);
    assert_eq!(ready("a-wrong-v2-secret").await, 503, "a V2 secret PortOne refuses is not ready");
}
