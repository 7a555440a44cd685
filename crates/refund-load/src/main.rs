//! Refund load over HTTP, as the shop's customers make it: each client is a signed-in
//! customer posting PortOne's refund-guide JSON (`POST /payments/cancel`) as fast as answers
//! come back. Shapes:
//! - `many`: each client refunds its own orders in turn, a few refunds per order;
//! - `hot`: each client refunds one order that already has `--history` cancels at PortOne, so
//!   every refund syncs a long cancel_history.
//!
//! With `--anonymous` it loads PortOne's own recipe (`scripts/express-recipe/`) the same way.
//!
//! Prints one JSON line: refunds/s, p50 and p99 latency.

use std::time::{Duration, Instant};

use clap::Parser;
use portone_sim::control::SimControl;
use portone_sim::{ConsoleCancel, NewPayment};
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    app: String,
    #[arg(long)]
    sim: String,
    #[arg(long, default_value_t = 10)]
    clients: usize,
    #[arg(long, default_value = "many")]
    shape: String,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// orders per client (`many`)
    #[arg(long, default_value_t = 20)]
    orders: usize,
    /// cancels each order has at PortOne before the run (`hot`)
    #[arg(long, default_value_t = 2000)]
    history: usize,
    #[arg(long, default_value = "minsu@example.com")]
    email: String,
    #[arg(long, default_value = "minsu-pass-1234")]
    password: String,
    /// post without signing in (the refund guide's own recipe has no sign-in)
    #[arg(long)]
    anonymous: bool,
    /// what is measured, echoed in the output line
    #[arg(long, default_value = "service")]
    label: String,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    let plain = reqwest::Client::new();
    let control = SimControl::new(&args.sim);
    let login_path =
        if args.anonymous { String::new() } else { login_action(&plain, &args.app).await? };

    // Orders at PortOne, imported by the app through the webhook the simulator sends.
    let per_client = if args.shape == "hot" { 1 } else { args.orders };
    let mut orders: Vec<Vec<String>> = Vec::new();
    let run = std::process::id();
    for c in 0..args.clients {
        let mut mine = Vec::new();
        for o in 0..per_client {
            let merchant_uid = format!("BENCH-{run}-{}-{c}-{o}", args.shape);
            let new = NewPayment {
                merchant_uid: merchant_uid.clone(),
                amount: 100_000_000,
                pay_method: "card".into(),
                pg_provider: "kcp".into(),
                name: "부하 시험 상품".into(),
                buyer_email: Some(args.email.clone()),
                ..Default::default()
            };
            let created: Value = control.create_payment(&new).await?;
            let imp_uid = created["imp_uid"].as_str().ok_or("no imp_uid")?.to_string();
            if args.shape == "hot" {
                prefill(&control, &imp_uid, args.history).await?;
            }
            // the paid webhook: the app imports the payment with its whole history
            let res = plain
                .post(format!("{}/portone/webhook", args.app))
                .json(&json!({"imp_uid": imp_uid, "merchant_uid": merchant_uid, "status": "paid"}))
                .send()
                .await?;
            if !res.status().is_success() {
                return Err(format!("webhook import: HTTP {}", res.status()).into());
            }
            mine.push(merchant_uid);
        }
        orders.push(mine);
    }

    let mut customers = Vec::new();
    for _ in 0..args.clients {
        customers.push(if args.anonymous {
            reqwest::Client::builder().pool_max_idle_per_host(4).build()?
        } else {
            sign_in(&args.app, &login_path, &args.email, &args.password).await?
        });
    }
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let applied = || async { Ok::<_, Error>(control.stats().await?.cancels_applied) };
    let applied_before = applied().await?;
    let started = Instant::now();
    let cpu_before = own_cpu();
    // set-up (orders, their prefilled histories, sign-ins) is done: what follows is measured
    eprintln!("measuring {} clients for {} s", args.clients, args.seconds);
    let tasks = customers.into_iter().zip(orders).map(|(client, mine)| {
        let app = args.app.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut refused = 0u64;
            let mut n = 0usize;
            while Instant::now() < deadline {
                let merchant_uid = &mine[n % mine.len()];
                n += 1;
                let t = Instant::now();
                let res = client
                    .post(format!("{app}/payments/cancel"))
                    // each request its own: the same words again within a minute would be a
                    // keyless retry of the first, answered without a refund
                    .json(&json!({"merchant_uid": merchant_uid, "cancel_request_amount": 100, "reason": format!("부하 시험 {n}")}))
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().as_u16() == 200 => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    Ok(r) => {
                        let _ = r.bytes().await;
                        refused += 1;
                    }
                    Err(_) => refused += 1,
                }
            }
            (latencies, refused)
        })
    });
    let mut latencies = Vec::new();
    let mut refused = 0;
    for (l, r) in futures::future::join_all(tasks).await.into_iter().flatten() {
        latencies.extend(l);
        refused += r;
    }
    let elapsed = started.elapsed().as_secs_f64();
    // the load generator shares the machine with what it measures: its own share is reported
    let load_cpu = own_cpu().saturating_sub(cpu_before);
    // every answered refund is a cancel PortOne applied, none a replay
    let cancels_applied = applied().await? - applied_before;
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    println!(
        "{}",
        json!({"label": args.label, "shape": args.shape, "clients": args.clients, "refunds": latencies.len(), "not_200": refused,
               "cancels_applied_at_portone": cancels_applied,
               "refunds_per_s": (latencies.len() as f64 / elapsed * 10.0).round() / 10.0,
               "p50_ms": (pct(0.50) * 100.0).round() / 100.0, "p99_ms": (pct(0.99) * 100.0).round() / 100.0,
               "load_cpu_ms": load_cpu.as_millis() as u64})
    );
    Ok(())
}

/// CPU time this process has used so far, user and system, every thread.
fn own_cpu() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes the struct it is given and nothing else; RUSAGE_SELF always exists
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// The sign-in form's action (the server function's path), read from the page.
async fn login_action(http: &reqwest::Client, app: &str) -> Result<String, Error> {
    let page = http.get(format!("{app}/login")).send().await?.text().await?;
    let at = page.find("action=\"/api/").ok_or("no sign-in form")? + "action=\"".len();
    let end = page[at..].find('"').ok_or("no sign-in form")?;
    Ok(page[at..at + end].to_string())
}

async fn sign_in(
    app: &str,
    path: &str,
    email: &str,
    password: &str,
) -> Result<reqwest::Client, Error> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("origin", app.parse()?);
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .pool_max_idle_per_host(4)
        .build()?;
    let res = client
        .post(format!("{app}{path}"))
        .header("accept", "application/json")
        .form(&[("email", email), ("password", password)])
        .send()
        .await?;
    if !res.status().is_success() {
        return Err(format!("sign-in: HTTP {}", res.status()).into());
    }
    Ok(client)
}

/// `count` console cancels of 10원 at PortOne, as a long-running shop's order collects them.
async fn prefill(control: &SimControl, imp_uid: &str, count: usize) -> Result<(), Error> {
    let cancel = ConsoleCancel { amount: Some(10), reason: Some("이전 부분 환불".into()) };
    for chunk in (0..count).collect::<Vec<_>>().chunks(32) {
        let sends = chunk.iter().map(|_| control.console_cancel(imp_uid, &cancel));
        for sent in futures::future::join_all(sends).await {
            sent?;
        }
    }
    Ok(())
}
