//! 환불 내역 at scale, as an admin loads it: the whole page (list, totals, daily chart)
//! through HTTP for every kind of filter the page offers, and the CSV export of every refund
//! with its time and the process' peak memory.
//!
//!     make bench-admin                  (1,000,000 refunds)
//!     make bench-admin REFUNDS=10000000
//!
//! `ONLY=<text>` keeps the filters whose name contains it, and the CSV only if it contains
//! `csv` (`ONLY=csv` measures the export alone).
//!
//! Seeds a separate database `portone_refund_bench` with `benches/admin/seed.sql` whenever it
//! holds another number of refunds. Needs DATABASE_URL pointing at any database of the cluster
//! and `psql`; serves the app in this process, signed in as an admin.

use std::time::{Duration, Instant};

use leptos::prelude::LeptosOptions;
use leptos::server_fn::ServerFn;
use portone_refund::model::admin::RefundQuery;
use portone_refund::model::Role;
use portone_refund::server::application::Application;
use portone_refund::server::config::Settings;
use portone_refund::server::{admin, auth, db};
use sqlx::PgPool;

const RUNS: usize = 200;
const ADMIN: (&str, &str) = ("bench-admin@example.com", "bench-admin-pass-1234");

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        })
        .unwrap_or(0)
        / 1024
}

async fn bench_db(url: &str, refunds: i64) -> (String, PgPool) {
    let cluster = PgPool::connect(url).await.unwrap();
    let exists: bool = sqlx::query_scalar(
        "select exists (select 1 from pg_database where datname = 'portone_refund_bench')",
    )
    .fetch_one(&cluster)
    .await
    .unwrap();
    if !exists {
        sqlx::query("create database portone_refund_bench").execute(&cluster).await.unwrap();
    }
    let bench_url = format!("{}/portone_refund_bench", url.rsplit_once('/').unwrap().0);
    let pool = db::connect(&bench_url).await.unwrap();
    db::MIGRATOR.run(&pool).await.unwrap();
    let have: i64 =
        sqlx::query_scalar("select count(*) from refunds").fetch_one(&pool).await.unwrap();
    if have != refunds {
        let t = Instant::now();
        let seed = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/admin/seed.sql");
        let status = std::process::Command::new("psql")
            .args(["-q", "-v", "ON_ERROR_STOP=1", "-v", &format!("refunds={refunds}"), "-f", seed])
            .arg(&bench_url)
            .status()
            .expect("psql");
        assert!(status.success(), "seeding failed");
        println!("seeded {refunds} refunds in {:.0} s", t.elapsed().as_secs_f64());
    }
    if sqlx::query_scalar!("select id from users where email = $1", ADMIN.0)
        .fetch_optional(&pool)
        .await
        .unwrap()
        .is_none()
    {
        auth::create_user(&pool, ADMIN.0, "벤치 관리자", ADMIN.1, Role::Admin).await.unwrap();
    }
    (bench_url, pool)
}

/// The app as `make run` serves it (development settings), in this process.
async fn serve(database_url: &str, pool: PgPool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let vars = [("DATABASE_URL", database_url), ("DEV_MODE", "true")];
    let settings = Settings::from_vars(
        |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()),
        &addr,
    )
    .unwrap();
    let options = LeptosOptions::builder().output_name("portone-refund").site_addr(addr).build();
    let app = Application::build(settings, options, pool).unwrap();
    tokio::spawn(async move { app.serve(listener, std::future::pending()).await.unwrap() });
    format!("http://{addr}")
}

async fn signed_in(base: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("origin", base.parse().unwrap());
    let client =
        reqwest::Client::builder().cookie_store(true).default_headers(headers).build().unwrap();
    let res = client
        .post(format!("{base}{}", portone_refund::api::Login::PATH))
        .header("accept", "application/json")
        .form(&[("email", ADMIN.0), ("password", ADMIN.1)])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "sign-in: {}", res.status());
    client
}

/// CPU seconds this process (server and client together) has used so far.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after_name = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = after_name.split_whitespace().collect();
            // utime and stime, fields 14 and 15 of proc(5), in clock ticks of 1/100 s
            Some(
                (fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?)
                    / 100.0,
            )
        })
        .unwrap_or(0.0)
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |p: f64| {
        samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)].as_secs_f64() * 1e3
    };
    (at(0.50), at(0.95))
}

fn query(pairs: &[(&str, &str)]) -> RefundQuery {
    let map: serde_json::Map<String, serde_json::Value> =
        pairs.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect();
    serde_json::from_value::<RefundQuery>(serde_json::Value::Object(map)).unwrap().normalized()
}

#[tokio::main]
async fn main() {
    portone_refund::server::telemetry::install_crypto_provider();
    let refunds: i64 = std::env::var("REFUNDS")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| v.replace('_', "").parse().expect("REFUNDS is a number"))
        .unwrap_or(1_000_000);
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let only = std::env::var("ONLY").ok().filter(|v| !v.is_empty());
    let (bench_url, pool) = bench_db(&url, refunds).await;
    let base = serve(&bench_url, pool.clone()).await;
    let client = signed_in(&base).await;

    let today = admin::kst_today();
    let days_ago = |n: i64| (today - chrono::Duration::days(n)).to_string();
    let (d90, d30, d1, now) = (days_ago(90), days_ago(30), days_ago(1), today.to_string());
    // 20 pages deep: the cursor an admin reaches after pressing 다음 twenty times
    let mut deep = query(&[]);
    for _ in 0..20 {
        deep.after = admin::list_refunds(&pool, &deep).await.unwrap().next;
    }
    let deep_after = deep.after.clone().expect("20 pages of refunds");
    let cases: Vec<(&str, RefundQuery)> = vec![
        ("no filter (환불 내역 as opened)", query(&[])),
        ("no filter, 21st page", query(&[("after", &deep_after)])),
        ("succeeded", query(&[("status", "succeeded")])),
        ("failed", query(&[("status", "failed")])),
        ("pending (1,000)", query(&[("status", "pending")])),
        ("requested (rare)", query(&[("status", "requested")])),
        ("needs_review (rare)", query(&[("status", "needs_review")])),
        ("withdrawn (rare)", query(&[("status", "withdrawn")])),
        ("rejected (rare)", query(&[("status", "rejected")])),
        ("last 90 days", query(&[("from", &d90), ("to", &now)])),
        ("one day", query(&[("from", &d1), ("to", &d1)])),
        ("an empty range (2030)", query(&[("from", "2030-01-01"), ("to", "2030-01-31")])),
        ("pay method: phone", query(&[("pay_method", "phone")])),
        (
            "failed + card + last 90 days",
            query(&[("status", "failed"), ("pay_method", "card"), ("from", &d90), ("to", &now)]),
        ),
        ("requester: admin", query(&[("requester", "admin")])),
        (
            "admin + succeeded + last 30 days",
            query(&[("requester", "admin"), ("status", "succeeded"), ("from", &d30), ("to", &now)]),
        ),
        (
            "rejected + phone + customer",
            query(&[("status", "rejected"), ("pay_method", "phone"), ("requester", "customer")]),
        ),
        ("PortOne V2", query(&[("version", "v2")])),
        ("search: a customer's e-mail (many)", query(&[("q", "user7@example.com")])),
        ("search: a customer's name", query(&[("q", "고객12")])),
        ("search: an order number (few)", query(&[("q", "ORD-B77")])),
        ("search: nothing matches", query(&[("q", "no-such-order")])),
        ("search + failed", query(&[("q", "user7@example.com"), ("status", "failed")])),
    ];
    println!(
        "환불 내역 at {refunds} refunds, whole page through HTTP as an admin ({RUNS} runs each):"
    );
    println!("| filter | p50 | p95 |");
    println!("|---|---|---|");
    let mut worst: f64 = 0.0;
    for (name, q) in
        cases.iter().filter(|(name, _)| only.as_ref().is_none_or(|o| name.contains(o.as_str())))
    {
        let url = format!("{base}/admin/refunds?{}", q.to_query_string());
        let load = || async {
            let res = client.get(&url).header("accept", "text/html").send().await.unwrap();
            assert_eq!(res.status(), 200, "{name}");
            let body = res.text().await.unwrap();
            assert!(body.contains("환불 내역"), "{name}: not the page");
        };
        for _ in 0..5 {
            load().await;
        }
        let mut samples = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let t = Instant::now();
            load().await;
            samples.push(t.elapsed());
        }
        let (p50, p95) = percentiles(samples);
        worst = worst.max(p95);
        println!("| {name} | {p50:.2} ms | {p95:.2} ms |");
    }
    println!("worst p95: {worst:.2} ms");
    if only.as_ref().is_some_and(|o| !o.contains("csv")) {
        return;
    }

    let before = peak_rss_mib();
    let cpu = cpu_seconds();
    let t = Instant::now();
    let mut res = client
        .get(format!("{base}/admin/refunds.csv"))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (mut bytes, mut lines) = (0usize, 0usize);
    while let Some(chunk) = res.chunk().await.unwrap() {
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    println!(
        "CSV of every refund through HTTP: {} rows, {:.1} MB in {:.1} s ({:.1} CPU s in this process); peak RSS {} MiB before, {} MiB after",
        lines - 1,
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        cpu_seconds() - cpu,
        before,
        peak_rss_mib()
    );
}
