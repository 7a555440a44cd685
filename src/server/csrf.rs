//! Rejects cross-site state-changing requests. Server functions are plain POST endpoints, so
//! SameSite cookies alone are not the whole defence: every non-GET request that carries a
//! cookie must prove it comes from our own pages — `Sec-Fetch-Site: same-origin`, or an
//! `Origin` equal to the site's public origin (`PUBLIC_URL`; without it, the `Host` the
//! request was sent to). The PortOne webhook is the one cross-site POST allowed; it trusts
//! nothing in its body.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::server::AppState;

pub const WEBHOOK_PATH: &str = "/portone/webhook";
/// The shop's server API: authenticated by its `Authorization` header alone, never by a
/// cookie, so a request from another site carries nothing that would let it act.
pub const SHOP_API_PREFIX: &str = "/api/v1/";

pub async fn reject_cross_site(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let public_origin = state.settings.public_url.as_deref();
    if is_safe_method(request.method())
        || request.uri().path() == WEBHOOK_PATH
        || request.uri().path() == crate::server::webhook_v2::PATH
        || request.uri().path().starts_with(SHOP_API_PREFIX)
        || same_site(&request, public_origin)
    {
        return next.run(request).await;
    }
    tracing::warn!(path = %request.uri().path(), "cross-site request refused");
    (StatusCode::FORBIDDEN, "다른 사이트에서 보낸 요청은 처리할 수 없습니다.").into_response()
}

/// Without JavaScript, a server function's error comes back to its page in the URL
/// (`?__err=…`), and the page shows it. A link from anywhere else could carry any text there,
/// so a page opened with `__err` from outside our own pages is sent to the same address
/// without it.
pub async fn drop_foreign_errors(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let query = request.uri().query().unwrap_or_default();
    let carries_error = query.split('&').any(|pair| pair.split('=').next() == Some("__err"));
    if !carries_error
        || request.method() != Method::GET
        || from_our_page(&request, state.settings.public_url.as_deref())
    {
        return next.run(request).await;
    }
    let kept: Vec<&str> =
        query.split('&').filter(|pair| pair.split('=').next() != Some("__err")).collect();
    // `//evil.example/` is a path here; sent back as it is, a browser would leave the site
    let path = crate::server::headers::collapse_leading_slashes(request.uri().path());
    let target = if kept.is_empty() { path } else { format!("{path}?{}", kept.join("&")) };
    axum::response::Redirect::to(&target).into_response()
}

/// Whether the Referer is a page of this site.
fn from_our_page(request: &Request, public_origin: Option<&str>) -> bool {
    let headers = request.headers();
    let Some(referer) = headers.get(header::REFERER).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    match public_origin {
        Some(public) => referer
            .strip_prefix(public)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
        None => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
            origin_host(referer)
                .and_then(|rest| rest.split('/').next())
                .is_some_and(|h| !host.is_empty() && h.eq_ignore_ascii_case(host))
        }
    }
}

fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn same_site(request: &Request, public_origin: Option<&str>) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        // "none" (typed into the address bar) never posts a form of ours
        return site == "same-origin";
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => match public_origin {
            Some(public) => {
                origin.trim_end_matches('/').eq_ignore_ascii_case(public.trim_end_matches('/'))
            }
            None => {
                let host =
                    headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
                origin_host(origin).is_some_and(|o| o.eq_ignore_ascii_case(host))
            }
        },
        // Neither header: not a browser page. Without a cookie there is nothing to forge
        // (the request acts as nobody); with one, it is refused.
        None => !headers.contains_key(header::COOKIE),
    }
}

fn origin_host(origin: &str) -> Option<&str> {
    origin.split_once("://").map(|(_, rest)| rest.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().method("POST").uri("/api/login");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn only_our_own_pages_may_post() {
        let ok = |h: &[(&str, &str)]| same_site(&request(h), None);
        assert!(ok(&[("sec-fetch-site", "same-origin")]));
        assert!(!ok(&[("sec-fetch-site", "cross-site")]));
        assert!(!ok(&[("sec-fetch-site", "same-site")]));
        assert!(!ok(&[("sec-fetch-site", "none"), ("cookie", "refund_session=x")]));
        assert!(ok(&[("host", "127.0.0.1:3000"), ("origin", "http://127.0.0.1:3000")]));
        assert!(!ok(&[("host", "127.0.0.1:3000"), ("origin", "https://evil.example")]));
        assert!(!ok(&[("host", "127.0.0.1:3000"), ("origin", "null")]));
        // no header at all: fine without a cookie, refused with one
        assert!(ok(&[]));
        assert!(!ok(&[("cookie", "refund_session=x")]));
    }

    #[test]
    fn a_configured_public_origin_wins_over_the_host_header() {
        let public = Some("https://shop.example");
        assert!(same_site(
            &request(&[("host", "10.0.0.5:3000"), ("origin", "https://shop.example")]),
            public
        ));
        // behind a proxy the Host can be anything the client says: it is not compared
        assert!(!same_site(
            &request(&[("host", "evil.example"), ("origin", "https://evil.example")]),
            public
        ));
    }
}
