//! Prometheus metrics through the `metrics` facade: code records where things happen
//! (`metrics::counter!` …), this module installs the exporter and serves `/metrics` on its own
//! listener (`METRICS_ADDR`), never on the public one.
//!
//! Series (all names in `docs/operations.md`):
//! - `refund_requests_total{role}`, `refund_outcomes_total{status, role, pay_method}`,
//!   `refund_duplicates_suspected_total`, `payment_amount_mismatch_total`
//! - `portone_request_duration_seconds{endpoint, outcome}` (recorded by `portone-v1` and
//!   `portone-v2`)
//! - `refunds_pending`, `refunds_needs_review`, `refund_oldest_pending_age_seconds`,
//!   `refund_requests_waiting`, `refund_oldest_request_age_seconds`,
//!   `shop_webhook_deliveries_pending`, `shop_webhook_oldest_undelivered_age_seconds` (read
//!   from Postgres at each scrape)
//! - `reconciler_actions_total{action}`, `sweep_payments_read_total`, `sweep_new_entries_total`
//! - `sign_in_total{result}`, `shop_logins_total{result}`, `api_requests_total{answer}`,
//!   `webhooks_total{result}`, `shop_webhook_deliveries_total{result}`
//! - `http_request_duration_seconds{route, method, status}`

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;

/// Latency buckets in seconds: a page in milliseconds up to PortOne's slowest answers.
const SECONDS_BUCKETS: &[f64] =
    &[0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 70.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once (tests start many apps in one process).
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .expect("buckets are not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            // Histograms are drained by upkeep; without the exporter's own runtime we run it.
            let upkeep = handle.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    upkeep.run_upkeep();
                }
            });
            handle
        })
        .clone()
}

#[derive(Clone)]
struct Scrape {
    handle: PrometheusHandle,
    pool: PgPool,
}

/// The `/metrics` router for the metrics listener.
pub fn router(pool: PgPool) -> axum::Router {
    let scrape = Scrape { handle: install(), pool };
    axum::Router::new().route("/metrics", axum::routing::get(render)).with_state(scrape)
}

async fn render(State(scrape): State<Scrape>) -> String {
    record_backlog(&scrape.pool).await;
    scrape.handle.render()
}

/// The refunds waiting for PortOne or for an admin, read at scrape time (partial indexes).
async fn record_backlog(pool: &PgPool) {
    let backlog = sqlx::query!(
        r#"select count(*) filter (where status = 'pending') as "pending!",
                  count(*) filter (where status = 'needs_review') as "needs_review!",
                  coalesce(extract(epoch from now() - min(created_at) filter (where status = 'pending')), 0)::float8
                      as "oldest_pending_secs!",
                  count(*) filter (where status = 'requested') as "requested!",
                  coalesce(extract(epoch from now() - min(created_at) filter (where status = 'requested')), 0)::float8
                      as "oldest_request_secs!"
           from refunds where status in ('pending', 'needs_review', 'requested')"#
    )
    .fetch_one(pool)
    .await;
    match backlog {
        Ok(b) => {
            metrics::gauge!("refunds_pending").set(b.pending as f64);
            metrics::gauge!("refunds_needs_review").set(b.needs_review as f64);
            metrics::gauge!("refund_oldest_pending_age_seconds").set(b.oldest_pending_secs);
            metrics::gauge!("refund_requests_waiting").set(b.requested as f64);
            metrics::gauge!("refund_oldest_request_age_seconds").set(b.oldest_request_secs);
        }
        Err(error) => tracing::warn!(%error, "could not read the refund backlog for /metrics"),
    }
    // events not yet delivered to the shop (the partial index of pending deliveries)
    let undelivered = sqlx::query!(
        r#"select count(*) as "pending!",
                  coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as "oldest_secs!"
           from webhook_deliveries where status = 'pending'"#
    )
    .fetch_one(pool)
    .await;
    match undelivered {
        Ok(u) => {
            metrics::gauge!("shop_webhook_deliveries_pending").set(u.pending as f64);
            metrics::gauge!("shop_webhook_oldest_undelivered_age_seconds").set(u.oldest_secs);
        }
        Err(error) => tracing::warn!(%error, "could not read undelivered events for /metrics"),
    }
}

/// Middleware: `http_request_duration_seconds` by route pattern (never the raw path, which
/// holds order numbers), method and status.
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| route_group(request.uri().path()).to_string());
    let method = request.method().as_str().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::histogram!(
        "http_request_duration_seconds",
        "route" => route,
        "method" => method,
        "status" => response.status().as_u16().to_string()
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// Paths no route matched (static files, server functions), grouped so labels stay few.
fn route_group(path: &str) -> &'static str {
    if path.starts_with("/pkg/") {
        "/pkg/*"
    } else if path.starts_with("/api/") {
        "/api/*"
    } else {
        "other"
    }
}
