//! `/healthz`, `/readyz`, and what the app does while Postgres is away.
//!
//! A probe asks Postgres `select 1` every second. While it fails, every request but the
//! static files and the health endpoints is answered at once with 503 and `Retry-After` (a
//! Korean page for browsers, `{"message": …}` otherwise) instead of waiting for a connection
//! and failing with a 500; the pool reconnects by itself, and the first good probe lets
//! requests through again. A request that meets the outage before the probe notices gets the
//! same answer through `ServerError::unavailable` (`src/server/error.rs`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sqlx::PgPool;

use crate::server::db::MIGRATOR;
use crate::server::AppState;

/// Seconds a client is told to wait before trying again.
pub const RETRY_AFTER_SECS: u64 = 5;
pub const UNAVAILABLE_MESSAGE: &str =
    "잠시 서비스를 이용할 수 없습니다. 잠시 후 다시 시도해 주세요.";

const PROBE_EVERY: Duration = Duration::from_secs(1);
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long readiness may wait for a PortOne token.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(3);

/// Whether Postgres answered the last probe.
#[derive(Debug)]
pub struct DbHealth {
    up: AtomicBool,
}

impl Default for DbHealth {
    fn default() -> Self {
        DbHealth { up: AtomicBool::new(true) }
    }
}

impl DbHealth {
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    fn set(&self, up: bool) {
        if self.up.swap(up, Ordering::Relaxed) != up {
            if up {
                tracing::info!("Postgres is reachable again");
            } else {
                tracing::error!("Postgres is unreachable; answering 503 until it is back");
            }
        }
    }
}

async fn db_answers(pool: &PgPool) -> bool {
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, sqlx::query("select 1").execute(pool)).await,
        Ok(Ok(_))
    )
}

/// Probes Postgres every second until the pool is closed (the process ends).
pub fn spawn_probe(pool: PgPool, health: Arc<DbHealth>) {
    tokio::spawn(async move {
        while !pool.is_closed() {
            let up = db_answers(&pool).await;
            if pool.is_closed() {
                break;
            }
            health.set(up);
            tokio::time::sleep(PROBE_EVERY).await;
        }
    });
}

/// 503 with `Retry-After`: a Korean page for browsers, `{"message": …}` for anyone else.
pub fn unavailable(wants_html: bool) -> Response {
    let mut response = if wants_html {
        let page = format!(
            "<!DOCTYPE html><html lang=\"ko\"><head><meta charset=\"utf-8\"><title>잠시 후 다시 \
             시도해 주세요</title></head><body><main><h1>잠시 후 다시 시도해 주세요</h1><p>{UNAVAILABLE_MESSAGE}</p>\
             <p>환불 요청은 안전하게 보관되며 두 번 처리되지 않습니다.</p></main></body></html>"
        );
        (StatusCode::SERVICE_UNAVAILABLE, axum::response::Html(page)).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "message": UNAVAILABLE_MESSAGE })),
        )
            .into_response()
    };
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}

fn wants_html(request: &Request) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// Middleware: while the probe says Postgres is away, answer 503 without touching it.
pub async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let exempt = path.starts_with("/pkg/") || path == "/healthz" || path == "/readyz";
    if exempt {
        return next.run(request).await;
    }
    let html = wants_html(&request);
    if !state.db_health.is_up() {
        return unavailable(html);
    }
    let response = next.run(request).await;
    // The outage began before the probe saw it (the session store, for one, answers 500 when
    // Postgres is gone): look now, and say so.
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR && !db_answers(&state.pool).await {
        state.db_health.set(false);
        return unavailable(html);
    }
    // A page whose render met the outage (`src/server/error.rs` marks it 503): the same page
    // as any other request gets, not the render with an error inside. A server function's
    // 503 already says when to retry and keeps its own body.
    if response.status() == StatusCode::SERVICE_UNAVAILABLE
        && !response.headers().contains_key(header::RETRY_AFTER)
    {
        return unavailable(html);
    }
    response
}

/// `GET /healthz`: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: Postgres answers, every migration this build knows is applied, and each
/// configured PortOne version takes our credentials (a V1 token is held or can be had; V2
/// takes our secret). Says only "ready" or "not ready".
pub async fn readyz(State(state): State<AppState>) -> Response {
    let ready = state.db_health.is_up()
        && migrations_applied(&state.pool).await
        && v1_ready(state.portone.v1().ok()).await
        && v2_ready(state.portone.v2().ok()).await;
    if ready {
        (StatusCode::OK, "ready").into_response()
    } else {
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        response
    }
}

async fn v1_ready(v1: Option<&portone_v1::PortOneClient>) -> bool {
    let Some(v1) = v1 else { return true };
    matches!(tokio::time::timeout(TOKEN_TIMEOUT, v1.access_token()).await, Ok(Ok(_)))
}

/// V2 has no token to fetch: a lookup of a payment that cannot exist answers "not found" when
/// the secret is good, and "unauthorized" when it is not.
async fn v2_ready(v2: Option<&portone_v2::PortOneV2Client>) -> bool {
    let Some(v2) = v2 else { return true };
    let probe = tokio::time::timeout(TOKEN_TIMEOUT, v2.payment("readyz-probe-not-a-payment")).await;
    match probe {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => e.error_type() == Some(portone_v2::ErrorType::PaymentNotFound),
        Err(_) => false,
    }
}

async fn migrations_applied(pool: &PgPool) -> bool {
    let known = MIGRATOR.iter().filter(|m| m.migration_type.is_up_migration()).count() as i64;
    let applied = tokio::time::timeout(
        PROBE_TIMEOUT,
        sqlx::query_scalar!(r#"select count(*) as "n!" from _sqlx_migrations where success"#)
            .fetch_one(pool),
    )
    .await;
    matches!(applied, Ok(Ok(n)) if n >= known)
}
