//! Throughput of the simulator's `POST /payments/cancel` over real HTTP on this machine, so
//! later benchmarks know the gateway stand-in is not their bottleneck.
//!
//!     make bench-sim        (cargo bench -p portone-sim --bench throughput)
//!
//! The simulator and the load generator share the machine (and its cores).

use std::sync::Arc;
use std::time::{Duration, Instant};

use portone_sim::control::SimControl;
use portone_sim::{self as sim, NewPayment, SimConfig};
use portone_v1::{CancelRequest, ImpSecret, PortOneClient, PortOneConfig};

const REQUESTS: usize = 20_000;
const CONCURRENCY: usize = 32;

#[tokio::main]
async fn main() {
    let (addr, _sim) =
        sim::spawn(SimConfig::default(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = format!("http://{addr}");
    // Ten payments per worker, so no payment's cancel_history (returned whole on every
    // cancel) grows past a realistic length.
    let control = SimControl::new(&url);
    let mut imp_uids = Vec::new();
    for i in 0..CONCURRENCY * 10 {
        let new = NewPayment {
            merchant_uid: format!("bench-{i}"),
            amount: 1_000_000_000,
            pay_method: "card".into(),
            pg_provider: "kcp".into(),
            name: "bench".into(),
            ..Default::default()
        };
        let created: portone_v1::Payment = control.create_payment(&new).await.unwrap();
        imp_uids.push(created.imp_uid);
    }
    let client = Arc::new(
        PortOneClient::new(PortOneConfig {
            base_url: url,
            imp_key: sim::DEMO_IMP_KEY.into(),
            imp_secret: ImpSecret::new(sim::DEMO_IMP_SECRET),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            deadline: Duration::from_secs(60),
        })
        .unwrap(),
    );
    client.access_token().await.unwrap();

    let started = Instant::now();
    let per_worker = REQUESTS / CONCURRENCY;
    let workers = (0..CONCURRENCY).map(|w| {
        let client = client.clone();
        let mine: Vec<String> = imp_uids[w * 10..(w + 1) * 10].to_vec();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_worker);
            for n in 0..per_worker {
                let req = CancelRequest {
                    imp_uid: Some(mine[n % mine.len()].clone()),
                    amount: Some(1),
                    reason: Some("bench".into()),
                    ..Default::default()
                };
                let t = Instant::now();
                client.cancel(&req).await.expect("cancel");
                latencies.push(t.elapsed());
            }
            latencies
        })
    });
    let mut latencies: Vec<Duration> = Vec::with_capacity(REQUESTS);
    for w in futures::future::join_all(workers).await {
        latencies.extend(w.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "simulator POST /payments/cancel: {} requests, {} concurrent: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        CONCURRENCY,
        latencies.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
}
