//! Security headers on every response, in one place: no framing, no MIME sniffing, no
//! referrer beyond our own origin, HSTS when the public site is https, and `no-store` on
//! everything but the static assets (signed-in pages, server-function answers and CSV
//! exports must never sit in a shared or back-button cache). The outermost of our middlewares,
//! so the answers the others write themselves (403, 303, 503) carry them too; and the last
//! word on a redirect: a `Location` leaves this site never (`keep_local`).

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

/// A path on this site: `/orders/ORD-1?x=1`, never `//evil.example` or `/\\evil.example`
/// (browsers read `\\` as `/`), `https://…`, or anything with control characters.
pub fn is_local(location: &str) -> bool {
    location.starts_with('/')
        && !location.starts_with("//")
        && !location.contains('\\')
        && !location.chars().any(char::is_control)
}

/// The local path a request path names, whatever slashes it starts with: `//evil.example/`
/// is `/evil.example/` here, and must stay that when it is sent back as a `Location`.
pub fn collapse_leading_slashes(path: &str) -> String {
    format!("/{}", path.trim_start_matches(['/', '\\']))
}

/// `location` if it stays on this site (a local path, or an absolute URL of one of
/// `own_origins`), else the local path it would name, or `/`.
pub fn keep_local(location: &str, own_origins: &[String]) -> String {
    let own = |origin: &String| {
        location
            .strip_prefix(origin.as_str())
            .is_some_and(|rest| !origin.is_empty() && (rest.is_empty() || is_local(rest)))
    };
    if is_local(location) || own_origins.iter().any(own) {
        return location.to_string();
    }
    if location.starts_with(['/', '\\']) {
        let collapsed = collapse_leading_slashes(location);
        if is_local(&collapsed) {
            return collapsed;
        }
    }
    "/".to_string()
}

/// This site's origin as a browser sees it: `PUBLIC_URL`, or the scheme-less host the
/// request was sent to (compared against both schemes).
fn own_origins(public_url: Option<&str>, request: &Request) -> Vec<String> {
    match public_url {
        Some(public) => vec![public.trim_end_matches('/').to_string()],
        None => {
            let host = request
                .headers()
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if host.is_empty() {
                vec![]
            } else {
                vec![format!("http://{host}"), format!("https://{host}")]
            }
        }
    }
}

pub async fn security_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let cacheable = is_static_asset(&path);
    let origins = own_origins(state.settings.public_url.as_deref(), &request);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Some(location) = headers.get(header::LOCATION).and_then(|v| v.to_str().ok()) {
        let kept = keep_local(location, &origins);
        if kept != location {
            tracing::warn!(%location, %kept, "a redirect off this site was kept local");
            if let Ok(value) = HeaderValue::from_str(&kept) {
                headers.insert(header::LOCATION, value);
            }
        }
    } else if headers.contains_key(header::LOCATION) {
        headers.insert(header::LOCATION, HeaderValue::from_static("/"));
    }
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
    use super::{asset_cache_control, keep_local};

    #[test]
    fn a_location_never_leaves_the_site() {
        let own = ["https://shop.example".to_string()];
        for (sent, kept) in [
            ("/orders/A-1?x=1", "/orders/A-1?x=1"),
            ("https://shop.example/orders", "https://shop.example/orders"),
            ("https://shop.example", "https://shop.example"),
            ("//evil.example/", "/evil.example/"),
            ("///evil.example", "/evil.example"),
            ("/\\evil.example", "/evil.example"),
            ("\\\\evil.example", "/evil.example"),
            ("https://evil.example/x", "/"),
            ("https://shop.example.evil.example/", "/"),
            ("https://shop.example@evil.example/", "/"),
            ("javascript:alert(1)", "/"),
        ] {
            assert_eq!(keep_local(sent, &own), kept, "{sent}");
        }
    }

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
