//! The PortOne client against the simulator over real HTTP: one test per behaviour.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use portone_v1::{
    AccountNumber, CancelExtra, CancelRequest, Payment, PortOneClient, PortOneError, Requester,
};
use serde_json::{json, Value};

struct Gateway {
    url: String,
    client: Arc<PortOneClient>,
    control: SimControl,
}

async fn gateway(timeout_ms: u64) -> Gateway {
    let (url, _sim) = spawn_sim(None).await;
    let client = Arc::new(
        PortOneClient::new(portone_config(&url, Duration::from_millis(timeout_ms))).unwrap(),
    );
    Gateway { control: SimControl::new(&url), url, client }
}

impl Gateway {
    async fn pay(&self, amount: i64, pay_method: &str, pg: &str, extra: Value) -> Payment {
        let mut body = json!({
            "merchant_uid": format!("m-{}", uuid::Uuid::new_v4().simple()), "amount": amount,
            "pay_method": pay_method, "pg_provider": pg, "name": "상품", "buyer_email": "b@example.com"
        });
        body.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
        let new: portone_sim::NewPayment = serde_json::from_value(body).unwrap();
        self.control.create_payment(&new).await.unwrap()
    }

    async fn faults(&self, rules: &[FaultRule]) {
        self.control.add_faults(rules).await.unwrap();
    }

    async fn stats(&self) -> portone_sim::StatsView {
        self.control.stats().await.unwrap()
    }

    async fn token(&self) -> String {
        let res: Value = reqwest::Client::new()
            .post(format!("{}/users/getToken", self.url))
            .json(&json!({"imp_key": portone_sim::DEMO_IMP_KEY, "imp_secret": portone_sim::DEMO_IMP_SECRET}))
            .answer().await;
        res["response"]["access_token"].as_str().unwrap().to_string()
    }
}

fn cancel(imp_uid: &str, amount: i64, checksum: i64) -> CancelRequest {
    CancelRequest {
        imp_uid: Some(imp_uid.into()),
        amount: Some(amount),
        checksum: Some(checksum),
        reason: Some("테스트".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn twenty_concurrent_callers_share_one_token() {
    let g = gateway(2000).await;
    let p = g.pay(1000, "card", "kcp", json!({})).await;
    let calls = (0..20).map(|_| {
        let c = g.client.clone();
        let id = p.imp_uid.clone();
        tokio::spawn(async move { c.payment(&id, false).await.unwrap() })
    });
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.unwrap().amount, 1000);
    }
    assert_eq!(g.stats().await.get_token_calls, 1);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_request_resent() {
    let g = gateway(2000).await;
    let p = g.pay(5000, "card", "kcp", json!({})).await;
    g.client.payment(&p.imp_uid, false).await.unwrap();
    g.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::ExpireToken)]).await;
    let after = g.client.cancel(&cancel(&p.imp_uid, 1000, 5000)).await.unwrap();
    assert_eq!(after.cancel_amount, 1000);
    let stats = g.stats().await;
    assert_eq!((stats.tokens_issued, stats.cancel_calls), (2, 2));
}

#[tokio::test]
async fn wrong_credentials_are_unauthorized() {
    let (url, _sim) = spawn_sim(None).await;
    let mut config = portone_config(&url, Duration::from_secs(2));
    config.imp_secret = portone_v1::ImpSecret::new("wrong");
    assert!(format!("{config:?}").contains("ImpSecret(***)"));
    let client = PortOneClient::new(config).unwrap();
    assert!(matches!(client.payment("imp_x", false).await, Err(PortOneError::Unauthorized)));
}

#[tokio::test]
async fn every_fault_kind_surfaces_as_its_error_class() {
    let g = gateway(500).await;
    let p = g.pay(10_000, "card", "html5_inicis", json!({})).await;
    g.client.payment(&p.imp_uid, false).await.unwrap(); // token in hand

    g.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::ErrorBefore { status: 500 })])
        .await;
    let e = g.client.cancel(&cancel(&p.imp_uid, 1000, 10_000)).await.unwrap_err();
    assert!(matches!(e, PortOneError::HttpStatus { status: 500 }) && e.outcome_unknown(), "{e:?}");
    assert_eq!(
        g.client.payment(&p.imp_uid, false).await.unwrap().cancel_amount,
        0,
        "error_before applies nothing"
    );

    g.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::ErrorAfter { status: 502 })])
        .await;
    let e = g.client.cancel(&cancel(&p.imp_uid, 1000, 10_000)).await.unwrap_err();
    assert!(matches!(e, PortOneError::HttpStatus { status: 502 }), "{e:?}");
    assert_eq!(
        g.client.payment(&p.imp_uid, false).await.unwrap().cancel_amount,
        1000,
        "error_after applies"
    );

    g.faults(&[FaultRule::once(
        FaultEndpoint::Cancel,
        FaultKind::PgReject {
            message: "[9029] 상점의 취소가능 금액이 부족합니다.".into()
        },
    )])
    .await;
    match g.client.cancel(&cancel(&p.imp_uid, 1000, 9000)).await {
        Err(PortOneError::Refused { status: 200, code: 1, message }) => {
            assert!(message.contains("9029"))
        }
        other => panic!("{other:?}"),
    }

    g.faults(&[FaultRule::once(FaultEndpoint::Payment, FaultKind::Latency { ms: 1500 })]).await;
    let e = g.client.payment(&p.imp_uid, false).await.unwrap_err();
    assert!(matches!(e, PortOneError::Timeout), "{e:?}");

    g.faults(&[FaultRule::once(FaultEndpoint::Cancel, FaultKind::DropAfter)]).await;
    let e = g.client.cancel(&cancel(&p.imp_uid, 2000, 9000)).await.unwrap_err();
    assert!(matches!(e, PortOneError::Connection(_)) && e.outcome_unknown(), "{e:?}");
    let at_sim = g.client.payment(&p.imp_uid, false).await.unwrap();
    assert_eq!(at_sim.cancel_amount, 3000, "drop_after applied the cancel");
    assert_eq!(at_sim.history().len(), 2);
}

#[tokio::test]
async fn checksum_mismatch_and_overdraw_are_refused_without_change() {
    let g = gateway(2000).await;
    let p = g.pay(10_000, "card", "kcp", json!({})).await;
    for req in [cancel(&p.imp_uid, 1000, 9000), cancel(&p.imp_uid, 10_001, 10_000)] {
        assert!(matches!(
            g.client.cancel(&req).await,
            Err(PortOneError::Refused { status: 200, code: 1, .. })
        ));
    }
    let after = g.client.payment(&p.imp_uid, false).await.unwrap();
    assert_eq!((after.cancel_amount, after.status.as_str()), (0, "paid"));
    // full cancel with amount omitted, then the "already cancelled" refusal
    let full = g
        .client
        .cancel(&CancelRequest {
            imp_uid: Some(p.imp_uid.clone()),
            checksum: Some(10_000),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((full.cancel_amount, full.status.as_str()), (10_000, "cancelled"));
    match g.client.cancel(&cancel(&p.imp_uid, 1, 0)).await {
        Err(PortOneError::Refused { message, .. }) => {
            assert_eq!(message, "이미 전액취소된 주문입니다.")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_hundred_parallel_partial_cancels_never_cancel_more_than_paid() {
    let g = gateway(10_000).await;
    let p = g.pay(10_000, "card", "kcp", json!({})).await;
    // no checksum: only the amount cap protects the balance here
    let calls = (0..100).map(|_| {
        let c = g.client.clone();
        let req = CancelRequest {
            imp_uid: Some(p.imp_uid.clone()),
            amount: Some(300),
            ..Default::default()
        };
        tokio::spawn(async move { c.cancel(&req).await.is_ok() })
    });
    let ok =
        futures::future::join_all(calls).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    let after = g.client.payment(&p.imp_uid, false).await.unwrap();
    assert_eq!(ok, 33);
    assert_eq!(after.cancel_amount, 9_900);
    assert_eq!(after.history().iter().map(|e| e.amount).sum::<i64>(), 9_900);
}

#[tokio::test]
async fn imp_uid_wins_over_merchant_uid_and_unknown_payments_are_named() {
    let g = gateway(2000).await;
    let p = g.pay(5000, "card", "kcp", json!({})).await;
    let req = CancelRequest {
        imp_uid: Some("imp_nothing".into()),
        merchant_uid: Some(p.merchant_uid.clone()),
        ..Default::default()
    };
    match g.client.cancel(&req).await {
        Err(PortOneError::Refused { code: 1, message, .. }) => {
            assert_eq!(message, "취소할 결제건이 존재하지 않습니다.")
        }
        other => panic!("{other:?}"),
    }
    let by_merchant = CancelRequest {
        merchant_uid: Some(p.merchant_uid.clone()),
        amount: Some(1000),
        ..Default::default()
    };
    assert_eq!(g.client.cancel(&by_merchant).await.unwrap().cancel_amount, 1000);
    assert_eq!(g.client.find_by_merchant_uid(&p.merchant_uid).await.unwrap().imp_uid, p.imp_uid);
    match g.client.payment("imp_nothing", false).await {
        Err(PortOneError::Refused { status: 404, message, .. }) => {
            assert_eq!(message, "존재하지 않는 결제정보입니다.")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn sandbox_payments_are_hidden_unless_asked_for() {
    let g = gateway(2000).await;
    let p = g.pay(1000, "card", "kcp", json!({"sandbox": true})).await;
    assert!(matches!(
        g.client.payment(&p.imp_uid, false).await,
        Err(PortOneError::Refused { status: 404, .. })
    ));
    assert!(g.client.payment(&p.imp_uid, true).await.unwrap().sandbox);
}

#[tokio::test]
async fn vbank_and_phone_rules_are_enforced_by_the_gateway() {
    let g = gateway(2000).await;
    let v = g.pay(30_000, "vbank", "html5_inicis", json!({})).await;
    assert!(g.client.cancel(&cancel(&v.imp_uid, 30_000, 30_000)).await.is_err());
    let with_account = CancelRequest {
        refund_holder: Some("홍길동".into()),
        refund_bank: Some("88".into()),
        refund_account: Some(AccountNumber("56211105948400".into())),
        extra: Some(CancelExtra { requester: Some(Requester::Customer) }),
        ..cancel(&v.imp_uid, 30_000, 30_000)
    };
    assert_eq!(g.client.cancel(&with_account).await.unwrap().cancel_amount, 30_000);

    let last_month = chrono::Utc::now().timestamp() - 40 * 24 * 3600;
    let phone = g.pay(9_900, "phone", "danal", json!({"paid_at": last_month})).await;
    assert!(g.client.cancel(&cancel(&phone.imp_uid, 9_900, 9_900)).await.is_err());
}

#[tokio::test]
async fn form_encoded_bodies_with_extra_requester_and_both_header_styles_work() {
    let g = gateway(2000).await;
    let p = g.pay(8000, "card", "kcp", json!({})).await;
    let token = g.token().await;
    let http = reqwest::Client::new();
    let res: Value = http
        .post(format!("{}/payments/cancel", g.url))
        .header("authorization", &token) // the legacy raw form
        .form(&[
            ("imp_uid", p.imp_uid.as_str()),
            ("amount", "2000"),
            ("checksum", "8000"),
            ("reason", "폼"),
            ("extra[requester]", "customer"),
        ])
        .answer()
        .await;
    assert_eq!(res["code"], 0, "{res}");
    assert_eq!(res["response"]["cancel_amount"], 2000);
    let res = http
        .get(format!("{}/payments?imp_uid[]={}&imp_uid[]=imp_missing", g.url, p.imp_uid))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 207);
    let none = http.get(format!("{}/payments/{}", g.url, p.imp_uid)).send().await.unwrap();
    assert_eq!(none.status(), 401);
}

#[tokio::test]
async fn token_reuse_follows_portones_rules() {
    let g = gateway(2000).await;
    let (a, b) = (g.token().await, g.token().await);
    assert_eq!(a, b, "before expiry getToken returns the same token");
    let stats = g.stats().await;
    assert_eq!(stats.tokens_issued, 1);
}

async fn move_clock(g: &Gateway, change: MoveClock) {
    g.control.move_clock(&change).await.unwrap();
}

#[tokio::test]
async fn a_token_expired_by_portones_clock_is_refreshed() {
    let g = gateway(2000).await;
    let p = g.pay(1000, "card", "kcp", json!({})).await;
    g.client.payment(&p.imp_uid, false).await.unwrap();
    // 31 minutes later at PortOne: the cached token has expired there, not here
    move_clock(&g, MoveClock { advance_secs: Some(31 * 60), now: None }).await;
    assert_eq!(g.client.payment(&p.imp_uid, false).await.unwrap().amount, 1000);
    let stats = g.stats().await;
    assert_eq!(stats.tokens_issued, 2, "{stats:?}");
}

#[tokio::test]
async fn the_phone_month_rule_follows_portones_kst_clock() {
    let g = gateway(2000).await;
    // paid 2026-11-30 23:50 KST: refundable at 23:55, not at 00:05 on 2026-12-01 (KST)
    let paid_at = 1_796_050_200; // 2026-11-30T14:50:00Z
    let p = g.pay(3000, "phone", "html5_inicis", json!({"paid_at": paid_at})).await;
    move_clock(&g, MoveClock { now: Some(paid_at + 5 * 60), advance_secs: None }).await;
    g.client.cancel(&cancel(&p.imp_uid, 1000, 3000)).await.unwrap();
    move_clock(&g, MoveClock { now: Some(paid_at + 15 * 60), advance_secs: None }).await;
    match g.client.cancel(&cancel(&p.imp_uid, 1000, 2000)).await {
        Err(PortOneError::Refused { message, .. }) => {
            assert!(message.contains("결제한 달에만"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn explicit_nulls_in_optional_payment_fields_are_read() {
    let g = gateway(2000).await;
    let p = g.pay(8000, "card", "kcp", json!({})).await;
    g.faults(&[FaultRule::always(FaultEndpoint::Any, FaultKind::NullOptionals)]).await;
    let looked_up = g.client.payment(&p.imp_uid, false).await.unwrap();
    assert_eq!(
        (looked_up.amount, looked_up.cancel_amount, looked_up.cancel_history.is_none()),
        (8000, 0, true)
    );
    let after = g.client.cancel(&cancel(&p.imp_uid, 3000, 8000)).await.unwrap();
    assert_eq!((after.cancel_amount, after.pay_method.as_str()), (3000, ""));
}

#[tokio::test]
async fn the_simulator_refuses_fields_portone_does_not_know() {
    let g = gateway(2000).await;
    let p = g.pay(5000, "card", "kcp", json!({})).await;
    let token = g.token().await;
    // the seed guide's own field name is not PortOne's: `cancel_request_amount` is refused
    let res: Value = reqwest::Client::new()
        .post(format!("{}/payments/cancel", g.url))
        .header("authorization", token)
        .json(&json!({"imp_uid": p.imp_uid, "cancel_request_amount": 1000}))
        .answer()
        .await;
    assert_ne!(res["code"], 0, "{res}");
    assert!(res["message"].as_str().unwrap().contains("cancel_request_amount"));
}
