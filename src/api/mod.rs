//! Server functions: the browser's API. Each is thin: read the session, check who may do
//! this, call one plain function in `server`, and map its error to `AppError`.

// A server function takes one argument per form field (the refund form has eight), and the
// `#[server]` macro does not carry a function's own `allow` to the code it generates.
#![allow(clippy::too_many_arguments)]

pub mod admin;
pub mod shop;

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::{CurrentUser, OrderDetail, OrderSummary, RefundForm, RefundOutcome};
#[cfg(feature = "ssr")]
use crate::server::error::ServerError;

#[cfg(feature = "ssr")]
pub(crate) mod ctx {
    use std::net::SocketAddr;

    use axum::extract::ConnectInfo;
    use leptos::prelude::use_context;
    use tower_sessions::Session;

    use crate::model::CurrentUser;
    use crate::server::error::ServerError;
    use crate::server::{auth, AppState};

    pub fn state() -> Result<AppState, ServerError> {
        use_context::<AppState>().ok_or(ServerError::Broken("AppState missing from context"))
    }

    pub async fn session() -> Result<Session, ServerError> {
        leptos_axum::extract::<Session>().await.map_err(|error| {
            tracing::error!(%error, "no session for this request");
            ServerError::Broken("session layer missing")
        })
    }

    pub async fn user() -> Result<Option<CurrentUser>, ServerError> {
        let state = state()?;
        auth::session_user(&session().await?, &state.pool, &state.users).await
    }

    pub async fn require_user() -> Result<CurrentUser, ServerError> {
        user().await?.ok_or(ServerError::NotSignedIn)
    }

    /// Admins only; anyone else is told the thing does not exist.
    pub async fn require_admin() -> Result<CurrentUser, ServerError> {
        let user = require_user().await?;
        if user.is_admin() {
            Ok(user)
        } else {
            Err(ServerError::NotFound)
        }
    }

    /// The client's address as sign-in limits count it (see `auth::client_address` for
    /// proxies, `auth::limit_key` for IPv6).
    pub async fn client_ip() -> String {
        let Ok(ConnectInfo(peer)) = leptos_axum::extract::<ConnectInfo<SocketAddr>>().await else {
            return "unknown".into();
        };
        let headers = leptos_axum::extract::<axum::http::HeaderMap>().await.unwrap_or_default();
        let forwarded = auth::forwarded_for(&headers);
        let trusted = state().map(|s| s.settings.trusted_proxies.clone()).unwrap_or_default();
        auth::limit_key(auth::client_address(peer.ip(), Some(&forwarded), &trusted))
    }
}

/// Who is signed in, if anyone.
#[server]
pub async fn get_current_user() -> Result<Option<CurrentUser>, AppError> {
    Ok(ctx::user().await?)
}

/// Signs in with e-mail and password, then goes to 내 주문 (admins: 환불 내역).
#[server]
pub async fn login(email: String, password: String, code: Option<String>) -> Result<(), AppError> {
    use crate::server::auth::{Credentials, SignInRules};
    let state = ctx::state()?;
    let ip = ctx::client_ip().await;
    let credentials = Credentials { email: &email, password: &password, code: code.as_deref() };
    let rules = SignInRules {
        development: state.settings.development,
        customer_password_login: state.settings.customer_password_login,
    };
    let user = crate::server::auth::sign_in(&state.pool, &credentials, rules, &ip).await?;
    crate::server::auth::start_session(&ctx::session().await?, &user).await?;
    leptos_axum::redirect(if user.is_admin() { "/admin/refunds" } else { "/orders" });
    Ok(())
}

#[server]
pub async fn logout() -> Result<(), AppError> {
    crate::server::auth::end_session(&ctx::session().await?).await?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// 내 주문: the signed-in customer's orders.
#[server]
pub async fn my_orders() -> Result<Vec<OrderSummary>, AppError> {
    let user = ctx::require_user().await?;
    let state = ctx::state()?;
    Ok(crate::server::orders::list_orders(&state.pool, user.id).await.map_err(ServerError::from)?)
}

/// One order, if it is the signed-in customer's (or the user is an admin).
#[server]
pub async fn get_order_detail(merchant_uid: String) -> Result<OrderDetail, AppError> {
    let user = ctx::require_user().await?;
    if !crate::model::valid_merchant_uid(&merchant_uid) {
        return Err(AppError::NotFound);
    }
    let state = ctx::state()?;
    crate::server::orders::find_order(&state.pool, &user, &merchant_uid)
        .await
        .map_err(ServerError::from)?
        .ok_or(AppError::NotFound)
}

/// 요청 철회: the customer takes back their refund request while it waits for review.
#[server]
pub async fn withdraw_refund_request(refund_id: String) -> Result<(), AppError> {
    let user = ctx::require_user().await?;
    let state = ctx::state()?;
    let refund_id = uuid::Uuid::parse_str(refund_id.trim()).map_err(|_| AppError::NotFound)?;
    Ok(crate::server::refund::approval::withdraw(&state.pool, &user, refund_id).await?)
}

/// 환불하기. The form's fields arrive as one [`RefundForm`] (the names are the HTML form's, so
/// it also works as a plain form).
#[server]
pub async fn request_refund(
    merchant_uid: String,
    idempotency_key: String,
    #[server(flatten)] form: RefundForm,
) -> Result<RefundOutcome, AppError> {
    use crate::server::refund::{self, RefundCommand};
    let user = ctx::require_user().await?;
    let state = ctx::state()?;
    let idempotency_key = uuid::Uuid::parse_str(idempotency_key.trim())
        .map_err(|_| AppError::Rejected("잘못된 요청입니다. 페이지를 새로고침해 주세요.".into()))?;
    let cmd = RefundCommand { merchant_uid, form, idempotency_key, keyless_within: None };
    let pipeline = &state.settings.pipeline;
    Ok(refund::request_refund(&state.pool, &state.portone, pipeline, &user, cmd).await?)
}
