//! The HTTP surface: Leptos pages and server functions, the seed-compatible JSON refund
//! endpoint, the PortOne webhook; wrapped in sessions and the cross-site check.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use leptos_axum::{generate_route_list, LeptosRoutes};
use serde::Deserialize;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use crate::app::{shell, App};
use crate::server::{
    auth, csrf, fn_status, headers, health, metrics, seed_api, sessions, telemetry, webhook,
    webhook_v2, AppState,
};

pub fn build(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let options = state.leptos_options.clone();
    let session_layer = SessionManagerLayer::new(sessions::CachedStore::new(state.pool.clone()))
        // `__Host-`: only over https, only for this host and path — never set by a subdomain
        .with_name(if state.settings.cookie_secure {
            "__Host-refund_session"
        } else {
            "refund_session"
        })
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(state.settings.cookie_secure)
        .with_expiry(Expiry::OnInactivity(tower_sessions::cookie::time::Duration::hours(12)));
    Router::new()
        .route("/payments/cancel", post(seed_api::refund))
        .route(csrf::WEBHOOK_PATH, post(webhook::handle))
        .route(webhook_v2::PATH, post(webhook_v2::handle))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/admin/refunds.csv", get(refunds_csv))
        .route("/admin/find", get(find_order))
        .route("/shop-login", get(crate::server::shop::login::handle))
        .merge(crate::server::shop::api::routes())
        .leptos_routes(&state, routes, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(fn_status::with_error_status))
        .layer(axum::middleware::from_fn_with_state(state.clone(), csrf::reject_cross_site))
        .layer(axum::middleware::from_fn_with_state(state.clone(), csrf::drop_foreign_errors))
        .layer(session_layer)
        .layer(axum::middleware::from_fn_with_state(state.clone(), health::gate))
        .layer(axum::middleware::from_fn(metrics::track_http))
        // around every answer, those the middlewares above write themselves included
        .layer(axum::middleware::from_fn_with_state(state.clone(), headers::security_headers))
        // HTML and JSON compressed for whoever accepts it (brotli or gzip); the static files
        // are served already compressed (cargo leptos build --release --precompress). The CSV
        // export is left alone: it streams row by row to a download, which Chromium cancels
        // when it arrives compressed.
        .layer(
            CompressionLayer::new().compress_when(
                DefaultPredicate::new().and(NotForContentType::const_new("text/csv")),
            ),
        )
        // outermost last: a request id is set, echoed in the answer, and spans the request
        .layer(TraceLayer::new_for_http().make_span_with(telemetry::request_span).on_failure(()))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

async fn admin_or_404(
    session: &Session,
    state: &AppState,
) -> Result<crate::model::CurrentUser, Response> {
    match auth::session_user(session, &state.pool, &state.users).await {
        Ok(Some(user)) if user.is_admin() => Ok(user),
        Ok(Some(_)) => Err((StatusCode::NOT_FOUND, "페이지를 찾을 수 없습니다.").into_response()),
        Ok(None) => Err(axum::response::Redirect::to("/login").into_response()),
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
    }
}

/// `GET /admin/refunds.csv?…`: the current filter as CSV, streamed row by row.
async fn refunds_csv(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<crate::model::admin::RefundQuery>,
) -> Response {
    if let Err(response) = admin_or_404(&session, &state).await {
        return response;
    }
    let query = query.normalized().without_cursor();
    let Ok(export) = crate::server::admin::csv_stream(state.pool.clone(), query) else {
        tracing::warn!("a CSV export was refused: as many as allowed are under way");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "10")],
            "다른 CSV 내보내기가 진행 중입니다. 잠시 후 다시 시도해 주세요.",
        )
            .into_response();
    };
    let stream = futures::stream::unfold(export, |mut export| async move {
        export.recv().await.map(|item| (item, export))
    });
    let filename = format!("refunds-{}.csv", crate::server::admin::kst_today());
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

#[derive(Deserialize)]
struct FindQuery {
    #[serde(default)]
    q: String,
}

/// The admin search box: an exact merchant_uid or imp_uid opens that order's timeline;
/// anything else searches the refund list.
async fn find_order(
    State(state): State<AppState>,
    session: Session,
    Query(find): Query<FindQuery>,
) -> Response {
    if let Err(response) = admin_or_404(&session, &state).await {
        return response;
    }
    let q = find.q.trim();
    let found = sqlx::query_scalar!(
        "select merchant_uid from payments where merchant_uid = $1 or imp_uid = $1 limit 1",
        q
    )
    .fetch_optional(&state.pool)
    .await;
    let to = match found {
        Ok(Some(merchant_uid)) => {
            format!("/admin/payments/{}", crate::model::percent_encode(&merchant_uid))
        }
        _ => format!(
            "/admin/refunds?{}",
            crate::model::admin::RefundQuery { q: Some(q.to_string()), ..Default::default() }
                .to_query_string()
        ),
    };
    axum::response::Redirect::to(&to).into_response()
}
