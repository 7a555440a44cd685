//! `GET /shop-login?token=<JWT>`: a customer arriving from the shop's own order page. The
//! shop's server signs a short token (HS256 with `SHOP_LOGIN_SECRET`) naming its customer;
//! we create or update that customer by the shop's id, start a fresh session and send them
//! on. Everything else is refused with a Korean page and no session.

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::orders::{upsert_customer, validate_customer, ShopCustomer};
use crate::model::CurrentUser;
use crate::server::error::ServerError;

/// A token lives at most this long (`exp − iat`).
pub const MAX_LIFETIME_SECS: i64 = 600;
/// Clocks of the shop and ours may differ by this much.
const CLOCK_SKEW_SECS: i64 = 30;

/// What the shop's token says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopLoginClaims {
    /// the shop's customer id
    pub sub: String,
    pub email: String,
    pub name: String,
    pub iat: i64,
    pub exp: i64,
    /// the token's own id: a token works once
    pub jti: String,
    /// where to go after signing in: a path on this site
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Why a token was refused; each is one Korean sentence for the page.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("쇼핑몰 로그인이 설정되지 않았습니다.")]
    NotConfigured,
    #[error("로그인 링크가 올바르지 않습니다. 쇼핑몰에서 다시 시도해 주세요.")]
    Invalid,
    #[error("로그인 링크의 유효 시간이 지났습니다. 쇼핑몰에서 다시 시도해 주세요.")]
    Expired,
    #[error("로그인 링크의 발급 시각이 올바르지 않습니다. 쇼핑몰에서 다시 시도해 주세요.")]
    NotYetValid,
    #[error("이미 사용된 로그인 링크입니다. 쇼핑몰에서 다시 시도해 주세요.")]
    Reused,
    #[error("이동할 주소가 이 사이트의 주소가 아닙니다.")]
    ForeignNext,
}

/// Checks a token's signature (HS256 only: `none` and every other algorithm are refused by
/// the JWT crate), its times against `now` (Unix seconds) and its claims. Does not look at
/// whether its `jti` was used (`sign_in` does, in the database).
pub fn verify(secret: &[u8], token: &str, now: i64) -> Result<ShopLoginClaims, Refusal> {
    use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
    let mut validation = Validation::new(Algorithm::HS256);
    // times are checked below against `now`, with our own skew and lifetime rules
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["exp", "iat", "sub", "jti"]);
    let claims = decode::<ShopLoginClaims>(token, &DecodingKey::from_secret(secret), &validation)
        .map_err(|error| {
            tracing::warn!(%error, "shop-login token refused");
            Refusal::Invalid
        })?
        .claims;
    if claims.exp <= claims.iat || claims.exp - claims.iat > MAX_LIFETIME_SECS {
        return Err(Refusal::Invalid);
    }
    if claims.iat > now + CLOCK_SKEW_SECS {
        return Err(Refusal::NotYetValid);
    }
    if claims.exp + CLOCK_SKEW_SECS <= now {
        return Err(Refusal::Expired);
    }
    if claims.jti.is_empty() || claims.jti.len() > 200 {
        return Err(Refusal::Invalid);
    }
    if claims.next.as_deref().is_some_and(|next| !local_path(next)) {
        return Err(Refusal::ForeignNext);
    }
    validate_customer(&claims.customer()).map_err(|_| Refusal::Invalid)?;
    Ok(claims)
}

impl ShopLoginClaims {
    pub fn customer(&self) -> ShopCustomer {
        ShopCustomer { id: self.sub.clone(), email: self.email.clone(), name: self.name.clone() }
    }
}

/// A path on this site, and only that: `/orders/ORD-1?x=1`, never `//evil.example`,
/// `/\evil.example` (browsers read `\` as `/`), `https://…` or anything with control
/// characters.
pub fn local_path(next: &str) -> bool {
    crate::server::headers::is_local(next)
        && next.len() <= 500
        && !next.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Signs a token (the demo's link, tests, and the README's example in Rust).
pub fn sign(secret: &[u8], claims: &ShopLoginClaims) -> String {
    use jsonwebtoken::{encode, EncodingKey, Header};
    encode(&Header::default(), claims, &EncodingKey::from_secret(secret)).expect("HS256 signing")
}

/// Uses a verified token: its `jti` is spent (a second use is refused), the customer is
/// created or updated by the shop's id. Returns the customer to start a session for.
pub async fn sign_in(
    pool: &PgPool,
    claims: &ShopLoginClaims,
) -> Result<Result<CurrentUser, Refusal>, ServerError> {
    let mut tx = pool.begin().await?;
    sqlx::query!("delete from shop_login_tokens where expires_at < now() - interval '1 minute'")
        .execute(&mut *tx)
        .await?;
    let expires_at = chrono::DateTime::from_timestamp(claims.exp + CLOCK_SKEW_SECS, 0)
        .ok_or(ServerError::Broken("a verified token's exp is a time"))?;
    let fresh = sqlx::query!(
        "insert into shop_login_tokens (jti, expires_at) values ($1, $2) on conflict (jti) do nothing",
        claims.jti,
        expires_at as _
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(Err(Refusal::Reused));
    }
    let customer = upsert_customer(&mut tx, &claims.customer()).await?;
    tx.commit().await?;
    Ok(Ok(customer))
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// `GET /shop-login?token=…`: signs the shop's customer in and sends them on (303), or
/// says why not on a Korean page (401) without touching the session.
pub async fn handle(
    axum::extract::State(state): axum::extract::State<crate::server::AppState>,
    session: tower_sessions::Session,
    axum::extract::Query(query): axum::extract::Query<TokenQuery>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let refused = |refusal: Refusal| {
        metrics::counter!("shop_logins_total", "result" => "refused").increment(1);
        tracing::warn!(?refusal, "shop-login refused");
        refusal_page(&refusal.to_string())
    };
    let Some(secret) = state.settings.shop_login_secret.as_ref() else {
        return refused(Refusal::NotConfigured);
    };
    let now = chrono::Utc::now().timestamp();
    let claims = match verify(secret.0.as_bytes(), query.token.trim(), now) {
        Ok(claims) => claims,
        Err(refusal) => return refused(refusal),
    };
    let user = match sign_in(&state.pool, &claims).await {
        Ok(Ok(user)) => user,
        Ok(Err(refusal)) => return refused(refusal),
        Err(e) => return error_page(e),
    };
    if let Err(e) = crate::server::auth::start_session(&session, &user).await {
        return error_page(e);
    }
    metrics::counter!("shop_logins_total", "result" => "signed_in").increment(1);
    tracing::info!(user_id = user.id, "customer signed in from the shop");
    let to = claims.next.unwrap_or_else(|| "/orders".to_string());
    axum::response::Redirect::to(&to).into_response()
}

fn error_page(e: ServerError) -> axum::response::Response {
    let status = e.status();
    let said = crate::error::AppError::from(e).to_string();
    let mut page = refusal_page(&said);
    *page.status_mut() = status;
    page
}

/// A plain Korean page saying why, with a link to the sign-in page.
fn refusal_page(said: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    let escaped = said.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let body = format!(
        "<!DOCTYPE html><html lang=\"ko\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>로그인할 수 없습니다 — 환불 서비스</title></head>\
         <body><main><h1>로그인할 수 없습니다</h1><p role=\"alert\">{escaped}</p>\
         <p><a href=\"/login\">로그인 페이지로</a></p></main></body></html>"
    );
    (axum::http::StatusCode::UNAUTHORIZED, axum::response::Html(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a-secret-of-thirty-two-bytes-or-more";

    fn claims(iat: i64, exp: i64, next: Option<&str>) -> ShopLoginClaims {
        ShopLoginClaims {
            sub: "C-1".into(),
            email: "a@shop.example".into(),
            name: "고객".into(),
            iat,
            exp,
            jti: "j-1".into(),
            next: next.map(str::to_string),
        }
    }

    #[test]
    fn only_a_fresh_hs256_token_for_a_local_path_passes() {
        let now = 1_800_000_000;
        let ok = sign(SECRET, &claims(now, now + 600, Some("/orders/ORD-1")));
        assert_eq!(verify(SECRET, &ok, now).unwrap().sub, "C-1");
        // signed with another key
        assert_eq!(
            verify(b"another-secret-of-thirty-two-bytes!!", &ok, now),
            Err(Refusal::Invalid)
        );
        // expired, from the future, living too long
        let t = |iat, exp| sign(SECRET, &claims(iat, exp, None));
        assert_eq!(verify(SECRET, &t(now - 700, now - 100), now), Err(Refusal::Expired));
        assert_eq!(verify(SECRET, &t(now + 300, now + 600), now), Err(Refusal::NotYetValid));
        assert_eq!(verify(SECRET, &t(now, now + 601), now), Err(Refusal::Invalid));
        // next must stay on this site
        for next in
            ["//evil.example/x", "https://evil.example", "/\\evil.example", "orders", "/a b"]
        {
            let token = sign(SECRET, &claims(now, now + 60, Some(next)));
            assert_eq!(verify(SECRET, &token, now), Err(Refusal::ForeignNext), "{next}");
        }
    }

    #[test]
    fn alg_none_and_other_algorithms_are_refused() {
        use base64::Engine;
        let now = 1_800_000_000;
        let b64 = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let body = b64(&serde_json::to_value(claims(now, now + 60, None)).unwrap());
        let none = format!("{}.{body}.", b64(&serde_json::json!({"alg": "none", "typ": "JWT"})));
        assert_eq!(verify(SECRET, &none, now), Err(Refusal::Invalid));
        let hs512 = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
            &claims(now, now + 60, None),
            &jsonwebtoken::EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(verify(SECRET, &hs512, now), Err(Refusal::Invalid));
    }
}
