//! Rejects cross-site state-changing requests. Server functions are plain POST endpoints, so
//! SameSite cookies alone are not the whole defence: every non-GET request must come from our
//! own pages (Sec-Fetch-Site, or Origin matching Host). The PortOne webhook is the one
//! cross-site POST allowed; it trusts nothing in its body.

use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub const WEBHOOK_PATH: &str = "/portone/webhook";

pub async fn reject_cross_site(request: Request, next: Next) -> Response {
    if is_safe_method(request.method()) || request.uri().path() == WEBHOOK_PATH || same_site(&request) {
        return next.run(request).await;
    }
    tracing::warn!(path = %request.uri().path(), "cross-site request refused");
    (StatusCode::FORBIDDEN, "다른 사이트에서 보낸 요청은 처리할 수 없습니다.").into_response()
}

fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn same_site(request: &Request) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        // "none": typed into the address bar or a bookmark, not another site's page
        return matches!(site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
            origin_host(origin).is_some_and(|o| o.eq_ignore_ascii_case(host))
        }
        // Browsers send Origin on every cross-site POST; a request with neither header did
        // not come from another site's page (and carries no victim's cookies).
        None => true,
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
        assert!(same_site(&request(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_site(&request(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_site(&request(&[("sec-fetch-site", "same-site")])));
        assert!(same_site(&request(&[("host", "127.0.0.1:3000"), ("origin", "http://127.0.0.1:3000")])));
        assert!(!same_site(&request(&[("host", "127.0.0.1:3000"), ("origin", "https://evil.example")])));
        assert!(!same_site(&request(&[("host", "127.0.0.1:3000"), ("origin", "null")])));
        assert!(same_site(&request(&[])));
    }
}
