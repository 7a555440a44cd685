//! The load of a torture run: customers and an admin asking for refunds through every door
//! the product has (the form without JavaScript, the same server function called for JSON,
//! the seed guide's JSON endpoint), with double submits and replayed keys,
//! while an operator cancels in PortOne's console.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use leptos::server_fn::ServerFn;
use portone_refund::api::admin::{AdminApproveRequest, AdminRejectRequest};
use portone_refund::api::{Login, RequestRefund};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

/// How a request reaches the app.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Door {
    /// the refund form posted by the browser without JavaScript (answered with a redirect)
    Form,
    /// the same server function, answered with JSON
    ServerFn,
    /// `POST /payments/cancel`, the seed guide's endpoint
    SeedJson,
}

#[derive(Clone, Debug)]
struct Ask {
    door: Door,
    merchant_uid: String,
    amount: Option<i64>,
    reason: String,
    key: Uuid,
}

#[derive(Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub double_submits: AtomicU64,
    pub replays: AtomicU64,
    pub by_admin: AtomicU64,
    /// requests resent to the other instance after a connection error (a killed instance)
    pub retried: AtomicU64,
    pub gave_up: AtomicU64,
    pub server_errors: AtomicU64,
    pub console_cancels: AtomicU64,
    /// 환불 요청 decisions the admin sent
    pub approvals: AtomicU64,
    pub rejections: AtomicU64,
}

pub struct Shopper {
    pub email: String,
    pub password: String,
    pub merchant_uids: Vec<String>,
}

pub struct Load {
    pub apps: Vec<String>,
    pub counters: Arc<Counters>,
    pub stop: Arc<AtomicBool>,
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

impl Load {
    pub async fn sign_in(&self, who: &Shopper) -> Result<reqwest::Client, String> {
        let client = browser();
        let base = &self.apps[0];
        let res = client
            .post(format!("{base}{}", Login::PATH))
            .header("origin", base)
            .header("accept", "application/json")
            .form(&[("email", who.email.as_str()), ("password", who.password.as_str())])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("sign-in of {} answered {}", who.email, res.status()));
        }
        Ok(client)
    }

    /// One request, resent with the same idempotency key to the other instance while the
    /// connection fails (an instance being killed), as a browser retry or a load balancer would.
    async fn send(&self, client: &reqwest::Client, ask: &Ask, rng: &mut StdRng) {
        self.with_failover(rng, |base| {
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            match ask.door {
                Door::Form | Door::ServerFn => {
                    let amount = ask.amount.map(|a| a.to_string()).unwrap_or_default();
                    let key = ask.key.to_string();
                    let form = [("merchant_uid", ask.merchant_uid.as_str()), ("idempotency_key", &key), ("amount", &amount), ("reason", &ask.reason)];
                    let r = client
                        .post(format!("{base}{}", RequestRefund::PATH))
                        .header("origin", base)
                        .header("sec-fetch-site", "same-origin")
                        .header("referer", format!("{base}/orders/{}", ask.merchant_uid))
                        .form(&form);
                    if ask.door == Door::ServerFn { r.header("accept", "application/json") } else { r }
                }
                Door::SeedJson => client
                    .post(format!("{base}/payments/cancel"))
                    .header("origin", base)
                    .json(&json!({"merchant_uid": ask.merchant_uid, "cancel_request_amount": ask.amount,
                                  "reason": ask.reason, "idempotency_key": ask.key})),
            }
        })
        .await;
    }

    /// Sends the request `build` makes for an instance's base URL, to the other instance while
    /// the connection fails; counts 5xx answers and requests given up.
    async fn with_failover(
        &self,
        rng: &mut StdRng,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) {
        let mut app = rng.gen_range(0..self.apps.len());
        for attempt in 0..20 {
            match build(&self.apps[app]).send().await {
                Ok(res) => {
                    if res.status().is_server_error() {
                        self.counters.server_errors.fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = res.bytes().await;
                    return;
                }
                Err(_) => {
                    if attempt > 0 {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    self.counters.retried.fetch_add(1, Ordering::Relaxed);
                    app = (app + 1) % self.apps.len();
                }
            }
        }
        self.counters.gave_up.fetch_add(1, Ordering::Relaxed);
    }

    /// The admin's 승인 or 거절 of a waiting 환불 요청. A decision resent after a kill is told
    /// the request is no longer waiting.
    pub async fn decide(
        &self,
        client: &reqwest::Client,
        refund_id: &str,
        approve: bool,
        rng: &mut StdRng,
    ) {
        let (path, counter) = if approve {
            (AdminApproveRequest::PATH, &self.counters.approvals)
        } else {
            (AdminRejectRequest::PATH, &self.counters.rejections)
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let form = [("refund_id", refund_id), ("reason", "고문 시험: 검토 후 거절")];
        self.with_failover(rng, |base| {
            client
                .post(format!("{base}{path}"))
                .header("origin", base)
                .header("accept", "application/json")
                .form(&form)
        })
        .await;
    }

    /// The admin looking at 승인 대기 now and then: mostly 승인, sometimes 거절.
    pub async fn reviewer(
        self: Arc<Self>,
        seed: u64,
        client: reqwest::Client,
        pool: sqlx::PgPool,
        every: Duration,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        while !self.stop.load(Ordering::Relaxed) {
            tokio::time::sleep(every).await;
            for id in waiting_requests(&pool, 3).await {
                let approve = rng.gen_bool(0.8);
                self.decide(&client, &id, approve, &mut rng).await;
            }
        }
    }

    /// One shopper (or the admin) asking again and again until told to stop.
    pub async fn worker(
        self: Arc<Self>,
        seed: u64,
        client: reqwest::Client,
        merchant_uids: Vec<String>,
        is_admin: bool,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut asked: Vec<Ask> = Vec::new();
        let reasons = ["단순 변심", "상품 불량", "배송 지연", "사이즈 교환 불가", "주문 실수"];
        while !self.stop.load(Ordering::Relaxed) {
            let roll = rng.gen_range(0..100);
            if roll < 6 && !asked.is_empty() {
                // a replayed key with the same input (a reloaded result page, a retried fetch)
                let ask = asked[rng.gen_range(0..asked.len())].clone();
                self.counters.replays.fetch_add(1, Ordering::Relaxed);
                self.send(&client, &ask, &mut rng).await;
                continue;
            }
            let door = match rng.gen_range(0..3) {
                0 => Door::Form,
                1 => Door::ServerFn,
                _ if is_admin => Door::ServerFn,
                _ => Door::SeedJson,
            };
            let ask = Ask {
                door,
                merchant_uid: merchant_uids[rng.gen_range(0..merchant_uids.len())].clone(),
                amount: (rng.gen_range(0..100) >= 2).then(|| rng.gen_range(1..=40) * 100),
                reason: reasons[rng.gen_range(0..reasons.len())].to_string(),
                key: Uuid::from_u128(rng.gen()),
            };
            if is_admin {
                self.counters.by_admin.fetch_add(1, Ordering::Relaxed);
            }
            if roll < 12 {
                // a double click: the same form sent twice at once
                self.counters.double_submits.fetch_add(1, Ordering::Relaxed);
                let (mut a, mut b) =
                    (StdRng::seed_from_u64(rng.gen()), StdRng::seed_from_u64(rng.gen()));
                tokio::join!(self.send(&client, &ask, &mut a), self.send(&client, &ask, &mut b));
            } else {
                self.send(&client, &ask, &mut rng).await;
            }
            if asked.len() < 20 {
                asked.push(ask);
            } else {
                let slot = rng.gen_range(0..asked.len());
                asked[slot] = ask;
            }
        }
    }

    /// The operator cancelling small amounts in PortOne's console, now and then.
    pub async fn console(
        self: Arc<Self>,
        seed: u64,
        control: portone_sim::control::SimControl,
        imp_uids: Vec<String>,
        every: Duration,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut n = 0u64;
        while !self.stop.load(Ordering::Relaxed) {
            tokio::time::sleep(every).await;
            n += 1;
            let imp_uid = &imp_uids[rng.gen_range(0..imp_uids.len())];
            let cancel = portone_sim::ConsoleCancel {
                amount: Some(rng.gen_range(1..=30) * 100),
                reason: Some(format!("콘솔 취소 C-{n}")),
            };
            // a cancel the balance no longer allows is refused, and not counted
            if let Ok(answer) = control.console_cancel(imp_uid, &cancel).await {
                if answer.get("cancellation").is_some() {
                    self.counters.console_cancels.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// The oldest 환불 요청 still waiting, at most `limit`.
pub async fn waiting_requests(pool: &sqlx::PgPool, limit: i64) -> Vec<String> {
    sqlx::query_scalar!(
        r#"select id::text as "id!" from refunds where status = 'requested' order by created_at limit $1"#,
        limit
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default()
}
