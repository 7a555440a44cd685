//! `torture`: a reproducible chaos run against the whole product (`make torture`).
//!
//! Two app instances on one Postgres, the PortOne simulator with random faults of every kind,
//! shoppers and an admin refunding through every door, console cancels, and `kill -9` of a
//! random app instance every few seconds. Then: drain until nothing is pending and check our
//! ledger against PortOne's. One summary line; a non-zero exit on any violation. Every
//! random choice comes from `--seed`, printed first, so a failing run can be replayed.

mod check;
mod load;
mod procs;
mod receiver;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use portone_refund::model::{CurrentUser, Role};
use portone_refund::server::gateway;
use portone_refund::server::payments::import_payment;
use portone_refund::server::refund::approval::{self, Policy};
use portone_refund::server::{auth, db};
use portone_sim::control::SimControl;
use portone_sim::v2::{NewCustomer, NewV2Payment};
use portone_sim::{ConfigChange, FaultEndpoint, FaultKind, FaultRule, NewPayment};
use portone_v1::Payment;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "Chaos run: refunds under faults, console cancels and killed app instances")]
struct Args {
    /// Seed for every random choice; a random one when omitted (it is printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Refund requests to send (at least).
    #[arg(long, default_value_t = 10_000)]
    requests: u64,
    /// App instance kills (at least).
    #[arg(long, default_value_t = 20)]
    kills: u64,
    #[arg(long, default_value_t = 3000)]
    kill_every_ms: u64,
    #[arg(long, default_value_t = 30)]
    shoppers: usize,
    #[arg(long, default_value_t = 300)]
    payments: usize,
    /// The share of payments made through PortOne V2 (the rest through V1).
    #[arg(long, default_value_t = 0.4)]
    v2_share: f64,
    /// Parallel workers per shopper (the admin has one).
    #[arg(long, default_value_t = 1)]
    workers_per_shopper: usize,
    #[arg(long, default_value_t = 80)]
    console_every_ms: u64,
    /// 환불 정책: customers' refunds above this many won wait as 환불 요청 for the admin,
    /// who decides a few every `review_every_ms`.
    #[arg(long, default_value_t = 3000)]
    auto_max_amount: i64,
    #[arg(long, default_value_t = 500)]
    review_every_ms: u64,
    /// How long to wait for pending refunds to be finished at the end.
    #[arg(long, default_value_t = 120)]
    drain_secs: u64,
    /// Where `portone-refund` and `portone-sim` were built.
    #[arg(long, default_value = "target/debug")]
    bin_dir: PathBuf,
    #[arg(long, default_value = "target/torture")]
    logs: PathBuf,
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
}

/// Faults of every kind, fired at random. Delays stay inside the lease the apps run with.
fn faults() -> Vec<FaultRule> {
    use FaultEndpoint::{Cancel, Payment, Token};
    use FaultKind::*;
    let sometimes = |endpoint, kind, probability| FaultRule {
        endpoint,
        kind,
        count: None,
        probability: Some(probability),
    };
    vec![
        sometimes(Cancel, Latency { ms: 1300 }, 0.02),
        sometimes(Cancel, ErrorBefore { status: 500 }, 0.03),
        sometimes(Cancel, ErrorAfter { status: 502 }, 0.03),
        sometimes(Cancel, DropAfter, 0.02),
        sometimes(Cancel, ExpireToken, 0.02),
        sometimes(Cancel, PgReject { message: "[9999] PG사 통신 장애".into() }, 0.02),
        sometimes(Cancel, DelayApply { ms: 700 }, 0.05),
        sometimes(Cancel, NullOptionals, 0.03),
        sometimes(Payment, ErrorBefore { status: 503 }, 0.04),
        sometimes(Payment, Latency { ms: 1300 }, 0.02),
        sometimes(Payment, DropAfter, 0.02),
        sometimes(Payment, NullOptionals, 0.05),
        sometimes(Token, ErrorBefore { status: 503 }, 0.05),
    ]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let seed = args.seed.unwrap_or_else(rand::random);
    println!("torture: seed={seed} (replay with --seed {seed})");
    match run(&args, seed).await {
        Ok(0) => {}
        Ok(_) => std::process::exit(1),
        Err(e) => {
            eprintln!("torture: could not run: {e}");
            std::process::exit(2);
        }
    }
}

async fn run(args: &Args, seed: u64) -> Result<usize, String> {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    std::fs::create_dir_all(&args.logs).map_err(|e| e.to_string())?;
    portone_refund::server::telemetry::install_crypto_provider();
    let pool = db::connect(&args.database_url).await.map_err(|e| e.to_string())?;
    db::MIGRATOR.run(&pool).await.map_err(|e| e.to_string())?;

    // Two app instances (not started yet: the simulator needs the first one's webhook URL).
    let env = |sim: &procs::Simulator| {
        [
            ("DATABASE_URL", args.database_url.as_str()),
            ("DEV_MODE", "1"),
            ("LEPTOS_OUTPUT_NAME", "portone-refund"),
            ("LEPTOS_SITE_ROOT", "target/site"),
            ("PORTONE_API_URL", sim.url.as_str()),
            ("PORTONE_V2_API_URL", sim.v2_url.as_str()),
            ("PORTONE_V2_SECRET", sim.v2_secret.as_str()),
            ("PORTONE_V2_WEBHOOK_SECRET", sim.v2_webhook_secret.as_str()),
            ("PORTONE_CONNECT_TIMEOUT_SECS", "1"),
            ("PORTONE_TIMEOUT_SECS", "1"),
            ("PORTONE_DEADLINE_SECS", "1.5"),
            // the deadline plus the slowest apply the faults allow (latency 1.3 s + delay 0.7 s)
            ("REFUND_LEASE_SECS", "4"),
            ("RECONCILE_INTERVAL_SECS", "0.5"),
            ("REFUND_REQUESTS_PER_MINUTE", "1000000"),
            // events to the shop's receiver: quick retries, so the drain sees them through
            ("SHOP_WEBHOOK_RETRY_SCHEDULE_SECS", "0.2,0.5,1,2,4,8"),
            ("SHOP_WEBHOOK_TIMEOUT_SECS", "2"),
            ("RUST_LOG", "warn"),
            // two instances on one machine: each its own metrics port
            ("METRICS_ADDR", "127.0.0.1:0"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .to_vec()
    };
    let app_bin = args.bin_dir.join("portone-refund");
    let mut apps = vec![
        procs::AppInstance::new("app-a", &app_bin, &args.logs, Vec::new()),
        procs::AppInstance::new("app-b", &app_bin, &args.logs, Vec::new()),
    ];
    let sim =
        procs::start_simulator(&args.bin_dir.join("portone-sim"), &args.logs, seed, &apps[0].url())
            .await?;
    for app in &mut apps {
        app.set_env(env(&sim));
    }
    let (control, control_v2) = (SimControl::new(&sim.url), SimControl::new(&sim.v2_url));

    // The shop's receiver of our events (it refuses about one request in seven, each event at
    // most once: retries happen, and each one ends)
    let (hook_url, shop) = receiver::Receiver::start(7).await?;
    let (_, hook_secret) =
        portone_refund::server::outbox::endpoints::create(&pool, &hook_url, None, true, "torture")
            .await
            .map_err(|e| e.to_string())??;
    shop.set_secret(hook_secret);

    // Shoppers, an admin, and paid orders at PortOne, imported as a webhook would.
    let http = reqwest::Client::new();
    let mut shoppers = Vec::new();
    for i in 0..args.shoppers {
        let email = format!("shopper{i}@torture.example");
        let password = format!("torture-pass-{i}");
        auth::create_user(&pool, &email, &format!("구매자{i}"), &password, Role::Customer)
            .await
            .map_err(|e| e.to_string())?;
        shoppers.push(load::Shopper { email, password, merchant_uids: Vec::new() });
    }
    let admin = load::Shopper {
        email: "admin@torture.example".into(),
        password: "torture-admin-pass".into(),
        merchant_uids: Vec::new(),
    };
    let admin_id = auth::create_user(&pool, &admin.email, "관리자", &admin.password, Role::Admin)
        .await
        .map_err(|e| e.to_string())?;
    let policy = Policy { auto_max_amount: Some(args.auto_max_amount), auto_within_days: None };
    let admin_user = CurrentUser {
        id: admin_id,
        email: admin.email.clone(),
        display_name: "관리자".into(),
        role: Role::Admin,
    };
    approval::save(&pool, &admin_user, policy).await.map_err(|e| e.to_string())?;
    let methods =
        [("card", "html5_inicis"), ("card", "kcp"), ("trans", "tosspayments"), ("card", "nice_v2")];
    let mut imp_uids = Vec::new();
    let mut all_orders = Vec::new();
    // V2 payments (the share `--v2-share`) are made through the simulator's V2 listener
    let v2_methods = [("card", "NICE_V2"), ("transfer", "TOSSPAYMENTS")];
    for i in 0..args.payments {
        let owner = i % args.shoppers;
        let merchant_uid = format!("TORTURE-{seed}-{i}");
        let amount = rng.gen_range(500..=3000) * 100;
        let payment = if rng.gen_bool(args.v2_share) {
            let (method, pg) = v2_methods[rng.gen_range(0..v2_methods.len())];
            let new = NewV2Payment {
                payment_id: merchant_uid,
                amount,
                order_name: "고문 시험 상품".into(),
                method: method.into(),
                pg_provider: pg.into(),
                customer: Some(NewCustomer {
                    email: Some(shoppers[owner].email.clone()),
                    name: None,
                }),
                ..Default::default()
            };
            let v2: portone_v2::Payment =
                control_v2.create_v2_payment(&new).await.map_err(|e| e.to_string())?;
            gateway::from_v2(v2)
        } else {
            let (pay_method, pg) = methods[rng.gen_range(0..methods.len())];
            let new = NewPayment {
                merchant_uid,
                amount,
                pay_method: pay_method.into(),
                pg_provider: pg.into(),
                name: "고문 시험 상품".into(),
                buyer_email: Some(shoppers[owner].email.clone()),
                imp_uid: Some(format!("imp_torture_{i}")),
                ..Default::default()
            };
            let v1: Payment = control.create_payment(&new).await.map_err(|e| e.to_string())?;
            gateway::from_v1(v1)
        };
        import_payment(&pool, &payment, true).await.map_err(|e| e.to_string())?;
        shoppers[owner].merchant_uids.push(payment.merchant_uid.clone());
        all_orders.push(payment.merchant_uid.clone());
        imp_uids.push(payment.imp_uid);
    }

    for app in &mut apps {
        app.start().await?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let load = Arc::new(load::Load {
        apps: apps.iter().map(|a| a.url()).collect(),
        counters: Default::default(),
        stop: stop.clone(),
    });
    control.add_faults(&faults()).await.map_err(|e| e.to_string())?;
    let mut serialized = rng.gen_bool(0.5);
    let serialize = |on| ConfigChange { serialize_cancels: Some(on), ..Default::default() };
    control.set_config(&serialize(serialized)).await.map_err(|e| e.to_string())?;

    let mut tasks = Vec::new();
    for shopper in &shoppers {
        let client = load.sign_in(shopper).await?;
        for _ in 0..args.workers_per_shopper {
            tasks.push(tokio::spawn(load.clone().worker(
                rng.gen(),
                client.clone(),
                shopper.merchant_uids.clone(),
                false,
            )));
        }
    }
    let admin_client = load.sign_in(&admin).await?;
    // the admin reviews 환불 요청 in a browser tab of their own (a session of its own)
    let reviewer_client = load.sign_in(&admin).await?;
    tasks.push(tokio::spawn(load.clone().reviewer(
        rng.gen(),
        reviewer_client.clone(),
        pool.clone(),
        Duration::from_millis(args.review_every_ms),
    )));
    tasks.push(tokio::spawn(load.clone().worker(
        rng.gen(),
        admin_client.clone(),
        all_orders,
        true,
    )));
    tasks.push(tokio::spawn(load.clone().console(
        rng.gen(),
        control.clone(),
        imp_uids.clone(),
        Duration::from_millis(args.console_every_ms),
    )));

    // kill -9 a random instance every few seconds, start it again at once; switch PortOne
    // between serialising cancels of a payment and not, every few kills
    let (mut kills, mut mode_switches) = (0u64, 0u64);
    while kills < args.kills || load.counters.requests.load(Ordering::Relaxed) < args.requests {
        tokio::time::sleep(Duration::from_millis(args.kill_every_ms)).await;
        let victim = rng.gen_range(0..apps.len());
        apps[victim].kill_and_restart().await?;
        kills += 1;
        if kills % 4 == 0 {
            serialized = !serialized;
            mode_switches += 1;
            control.set_config(&serialize(serialized)).await.map_err(|e| e.to_string())?;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let load_secs = started.elapsed().as_secs();

    // Drain: PortOne behaves again; the admin closes what still waits for review (a decision
    // lost with a killed instance is sent again); the reconcilers finish whatever is pending.
    control.clear_faults().await.map_err(|e| e.to_string())?;
    let drain_started = Instant::now();
    for _ in 0..20 {
        let waiting = load::waiting_requests(&pool, 1000).await;
        if waiting.is_empty() {
            break;
        }
        for id in waiting {
            load.decide(&reviewer_client, &id, false, &mut rng).await;
        }
    }
    loop {
        let pending =
            sqlx::query_scalar!(r#"select count(*) as "n!" from refunds where status = 'pending'"#)
                .fetch_one(&pool)
                .await
                .map_err(|e| e.to_string())?;
        if pending == 0 || drain_started.elapsed() > Duration::from_secs(args.drain_secs) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // PortOne's `cancelled` webhooks may have hit a killed instance: deliver one per payment
    // again (PortOne's own resend), so every entry has been synced once.
    for imp_uid in &imp_uids {
        let _ = http
            .post(format!("{}/portone/webhook", apps[0].url()))
            .json(&json!({"imp_uid": imp_uid, "status": "cancelled"}))
            .send()
            .await;
    }

    // PortOne's ledger (one for both versions), as the app reads a payment
    let at_portone: Vec<Payment> = control.payments().await.map_err(|e| e.to_string())?;
    let at_portone: Vec<gateway::Payment> = at_portone.into_iter().map(gateway::from_v1).collect();
    let stats = control.stats().await.map_err(|e| e.to_string())?;
    let verdict = check::ledgers(&pool, &at_portone).await.map_err(|e| e.to_string())?;
    // the shop's receiver: every event delivered (a killed instance's lease runs out first)
    let events_started = Instant::now();
    while events_started.elapsed() < Duration::from_secs(90) {
        let undelivered = sqlx::query_scalar!(
            r#"select count(*) as "n!" from webhook_deliveries where status = 'pending'"#
        )
        .fetch_one(&pool)
        .await
        .map_err(|e| e.to_string())?;
        if undelivered == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let given_up = sqlx::query_scalar!(
        r#"select count(*) as "n!" from webhook_deliveries where status <> 'delivered'"#
    )
    .fetch_one(&pool)
    .await
    .map_err(|e| e.to_string())?;
    let mut events = receiver::check(&shop, &pool).await.map_err(|e| e.to_string())?;
    if given_up > 0 {
        events.violations.push(format!("{given_up} event deliveries did not reach the shop"));
    }
    for v in events.violations.iter().take(30) {
        println!("torture: VIOLATION (events) {v}");
    }
    for v in verdict.violations.iter().take(30) {
        println!("torture: VIOLATION {v}");
    }
    let c = &load.counters;
    let faults: Vec<String> = stats.faults.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let statuses: Vec<String> =
        verdict.refunds_by_status.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!(
        "torture: seed={seed} requests={} (double_submits={} replays={} by_admin={} resent_after_kill={} gave_up={} http_5xx={}) \
         refunds: {} console_cancels={} faults: {} kills={kills} portone_mode_switches={mode_switches} \
         requests_approved={} requests_rejected={} needs_review_console_ambiguity={} violations={} load={load_secs}s drain={}s",
        c.requests.load(Ordering::Relaxed),
        c.double_submits.load(Ordering::Relaxed),
        c.replays.load(Ordering::Relaxed),
        c.by_admin.load(Ordering::Relaxed),
        c.retried.load(Ordering::Relaxed),
        c.gave_up.load(Ordering::Relaxed),
        c.server_errors.load(Ordering::Relaxed),
        statuses.join(" "),
        verdict.console_entries,
        faults.join(" "),
        c.approvals.load(Ordering::Relaxed),
        c.rejections.load(Ordering::Relaxed),
        verdict.review_console_ambiguity,
        verdict.violations.len(),
        drain_started.elapsed().as_secs(),
    );
    // the same figures per PortOne version (the checks above hold for every payment of both)
    let by_version = sqlx::query!(
        r#"select p.api_version, count(distinct p.id) as "payments!", count(r.id) as "refunds!",
                  count(r.id) filter (where r.status = 'succeeded') as "succeeded!",
                  coalesce(sum(r.amount) filter (where r.status = 'succeeded'), 0)::bigint as "won!"
           from payments p left join refunds r on r.payment_id = p.id
           group by p.api_version order by p.api_version"#
    )
    .fetch_all(&pool)
    .await
    .map_err(|e| e.to_string())?;
    for v in by_version {
        println!(
            "torture: {} payments={} refunds={} succeeded={} refunded_won={}",
            v.api_version, v.payments, v.refunds, v.succeeded, v.won
        );
    }
    println!(
        "torture: events to the shop: delivered={} repeats={} refused_by_the_shop={} violations={} wait={}s",
        events.events,
        events.repeats,
        events.refused,
        events.violations.len(),
        events_started.elapsed().as_secs()
    );
    Ok(verdict.violations.len() + events.violations.len())
}
