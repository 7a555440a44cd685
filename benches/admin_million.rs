//! The admin refund list at a million refunds: p95 of a filtered page query (first page and a
//! deep keyset page), and the CSV export's time and peak memory.
//!
//!     make bench-admin      (seeds a separate database `portone_refund_bench` once)
//!
//! Needs DATABASE_URL pointing at any database of the cluster (the bench makes its own).

use std::time::{Duration, Instant};

use portone_refund::model::admin::RefundQuery;
use portone_refund::server::{admin, db};
use sqlx::PgPool;

const REFUNDS: i64 = 1_000_000;
const RUNS: usize = 200;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

async fn bench_db() -> PgPool {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let admin_pool = PgPool::connect(&url).await.unwrap();
    let exists: bool = sqlx::query_scalar(
        "select exists (select 1 from pg_database where datname = 'portone_refund_bench')",
    )
    .fetch_one(&admin_pool)
    .await
    .unwrap();
    if !exists {
        sqlx::query("create database portone_refund_bench").execute(&admin_pool).await.unwrap();
    }
    let bench_url = format!("{}/portone_refund_bench", url.rsplit_once('/').unwrap().0);
    let pool = db::connect(&bench_url).await.unwrap();
    db::MIGRATOR.run(&pool).await.unwrap();
    let have: i64 =
        sqlx::query_scalar("select count(*) from refunds").fetch_one(&pool).await.unwrap();
    if have < REFUNDS {
        let t = Instant::now();
        seed(&pool).await;
        println!("seeded {REFUNDS} refunds in {:.1} s", t.elapsed().as_secs_f64());
    }
    pool
}

async fn seed(pool: &PgPool) {
    for statement in [
        "truncate refund_events, payment_cancellations, refunds, payments, users restart identity cascade",
        "insert into users (email, display_name, password_hash, role)
         select 'user' || i || '@example.com', '고객' || i, 'x', case when i <= 5 then 'admin' else 'customer' end
         from generate_series(1, 10000) i",
        "insert into payments (imp_uid, merchant_uid, customer_id, order_name, pay_method, pg_provider, amount, cancel_amount, status, paid_at)
         select 'imp_b' || i, 'ORD-B' || i, 6 + (i % 9995), '상품 ' || (i % 500),
                (array['card','trans','vbank','phone'])[1 + i % 4], 'html5_inicis', 1000000, 0, 'paid',
                now() - (i % 365) * interval '1 day'
         from generate_series(1, 100000) i",
        "insert into refunds (id, payment_id, idempotency_key, request_fingerprint, amount, checksum, reason, requester_role,
                              requester_id, status, portone_code, portone_message, created_at, updated_at, finished_at)
         select gen_random_uuid(), 1 + (i % 100000), gen_random_uuid(), 'bench', 1000 + (i % 50) * 100, 1000000,
                (array['단순 변심','상품 불량','배송 지연'])[1 + i % 3],
                case when i % 5 = 0 then 'admin' else 'customer' end,
                case when i % 5 = 0 then 1 else 6 + (i % 9995) end,
                s.status, case when s.status = 'failed' then 1 end,
                case when s.status = 'failed' then '[9029] 상점의 취소가능 금액이 부족합니다.' end,
                t.at, t.at, case when s.status = 'pending' then null else t.at end
         from generate_series(1, 1000000) i
         cross join lateral (select now() - ((i::bigint * 7919) % (365 * 86400)) * interval '1 second' as at) t
         cross join lateral (select case when i <= 1000 then 'pending' when (i / 7) % 10 = 0 then 'failed' else 'succeeded' end as status) s",
        "analyze",
    ] {
        sqlx::query(statement).execute(pool).await.unwrap();
    }
}

fn p95(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |p: f64| {
        samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)].as_secs_f64() * 1e3
    };
    (at(0.50), at(0.95))
}

#[tokio::main]
async fn main() {
    let pool = bench_db().await;
    let today = admin::kst_today();
    let filtered = RefundQuery {
        status: Some("failed".into()),
        pay_method: Some("card".into()),
        from: Some((today - chrono::Duration::days(90)).to_string()),
        to: Some(today.to_string()),
        size: Some("50".into()),
        ..Default::default()
    };
    let unfiltered = RefundQuery { size: Some("50".into()), ..Default::default() };
    for (name, query) in
        [("status+pay method+90 days", filtered.clone()), ("no filter", unfiltered)]
    {
        // a deep page: follow 20 cursors first
        let mut deep = query.clone();
        for _ in 0..20 {
            let next = admin::list_refunds(&pool, &deep).await.unwrap().next;
            deep.after = next;
        }
        for (page, q) in [("first page", query.clone()), ("21st page", deep)] {
            let mut samples = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                let t = Instant::now();
                admin::list_refunds(&pool, &q).await.unwrap();
                samples.push(t.elapsed());
            }
            let (p50, p95) = p95(samples);
            println!("page query [{name}, {page}]: p50 {p50:.2} ms, p95 {p95:.2} ms ({RUNS} runs)");
        }
    }
    let rows = admin::list_refunds(&pool, &filtered).await.unwrap().rows;
    assert!(!rows.is_empty());

    let before = peak_rss_kib();
    let t = Instant::now();
    let mut rx = admin::csv_stream(pool.clone(), RefundQuery::default());
    let (mut bytes, mut lines) = (0usize, 0usize);
    while let Some(chunk) = rx.recv().await {
        let chunk = chunk.unwrap();
        bytes += chunk.len();
        lines += 1;
    }
    println!(
        "CSV export of every refund: {} rows, {:.1} MB in {:.1} s; peak RSS {} MiB before, {} MiB after",
        lines - 1,
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64(),
        before / 1024,
        peak_rss_kib() / 1024
    );
}
