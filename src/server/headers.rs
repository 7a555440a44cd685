//! Security headers on every response, in one place: no framing, no MIME sniffing, no
//! referrer beyond our own origin, HSTS when the public site is https, and `no-store` on
//! everything but the static assets (signed-in pages, server-function answers and CSV
//! exports must never sit in a shared or back-button cache).

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::server::AppState;

/// Static files that cargo-leptos builds and `public/` holds: cacheable, carry no user data.
fn is_static_asset(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/favicon.ico"
}

/// How long a browser may keep a static file. A file named by its content's hash
/// (`portone-refund.3f9a….wasm`, cargo-leptos `hash-files`) never changes: a year, without
/// asking again. Any other must be revalidated, so a deploy is seen at once.
pub fn asset_cache_control(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or_default();
    let hashed = name.split('.').count() >= 3
        && name.split('.').nth(1).is_some_and(|h| {
            h.len() >= 8 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

pub async fn security_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let cacheable = is_static_asset(&path);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        );
    }
    let cache = if cacheable { asset_cache_control(&path) } else { "no-store" };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // a static file may be sent brotli- or gzip-compressed (precompressed files), so caches
    // must key it by what the browser accepts
    if cacheable && !headers.contains_key(header::VARY) {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if state.settings.public_url.as_deref().is_some_and(|u| u.starts_with("https://")) {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::asset_cache_control;

    #[test]
    fn only_files_named_by_their_hash_are_cached_for_good() {
        let year = "public, max-age=31536000, immutable";
        assert_eq!(asset_cache_control("/pkg/portone-refund.Xq3vK9aB0c1d2E3f.wasm"), year);
        assert_eq!(asset_cache_control("/pkg/portone-refund.Xq3vK9aB0c1d2E3f.js.br"), year);
        assert_eq!(asset_cache_control("/pkg/portone-refund.wasm"), "no-cache");
        assert_eq!(asset_cache_control("/pkg/portone-refund_bg.wasm"), "no-cache");
        assert_eq!(asset_cache_control("/favicon.ico"), "no-cache");
    }
}
