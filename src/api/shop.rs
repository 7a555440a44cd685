//! Server functions of 연동 (API keys, unassigned payments), 관리자 (admins and invitations)
//! and the invitation page. Anything shown only once (a new key, an invitation link, recovery
//! codes) passes through the session and is removed as it is shown, so it works the same
//! with and without JavaScript and never sits in a URL.

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::shop::{AdminsView, IntegrationView, InvitationView};

#[cfg(feature = "ssr")]
use super::ctx;
#[cfg(feature = "ssr")]
use crate::server::error::ServerError;

#[cfg(feature = "ssr")]
const FLASH_KEY: &str = "flash_new_api_key";
#[cfg(feature = "ssr")]
const FLASH_INVITE: &str = "flash_invite_link";
#[cfg(feature = "ssr")]
const FLASH_CODES: &str = "flash_recovery_codes";

/// A value this session was given once, taken out as it is read.
#[cfg(feature = "ssr")]
async fn take_flash<T: serde::de::DeserializeOwned>(key: &str) -> Result<Option<T>, ServerError> {
    Ok(ctx::session().await?.remove::<T>(key).await?)
}

/// 연동: the keys, a key just created, and the newest unassigned payments.
#[server]
pub async fn integration() -> Result<IntegrationView, AppError> {
    use crate::model::shop::{ApiKeyView, UnassignedView};
    use crate::server::shop::{keys, orders};
    ctx::require_admin().await?;
    let state = ctx::state()?;
    let keys = keys::list(&state.pool).await.map_err(ServerError::from)?;
    let unassigned = orders::unassigned(&state.pool, 50).await.map_err(ServerError::from)?;
    Ok(IntegrationView {
        keys: keys
            .into_iter()
            .map(|k| ApiKeyView {
                id: k.id,
                name: k.name,
                prefix: k.prefix,
                created_at: k.created_at,
                last_used_at: k.last_used_at,
                revoked_at: k.revoked_at,
            })
            .collect(),
        new_key: take_flash(FLASH_KEY).await?,
        unassigned: unassigned
            .into_iter()
            .map(|u| UnassignedView {
                merchant_uid: u.merchant_uid,
                order_name: u.order_name,
                amount: u.amount,
                buyer_name: u.buyer_name,
                paid_at: u.paid_at,
            })
            .collect(),
        shop_login: state.settings.shop_login_secret.is_some(),
    })
}

/// 키 만들기: the key is shown once, on the page this returns to.
#[server]
pub async fn create_api_key(name: String) -> Result<(), AppError> {
    let admin = ctx::require_admin().await?;
    let state = ctx::state()?;
    let actor = format!("admin:{}", admin.id);
    let key =
        crate::server::shop::keys::create(&state.pool, &name, state.settings.development, &actor)
            .await?;
    ctx::session().await?.insert(FLASH_KEY, key.key).await.map_err(ServerError::from)?;
    Ok(())
}

/// 폐기: the key's next request is refused.
#[server]
pub async fn revoke_api_key(id: i64) -> Result<(), AppError> {
    let admin = ctx::require_admin().await?;
    let state = ctx::state()?;
    let actor = format!("admin:{}", admin.id);
    if crate::server::shop::keys::revoke(&state.pool, id, &actor).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// 고객 지정: an admin gives an unregistered payment to a customer (by the shop's customer id
/// or e-mail); the timeline then shows the owner.
#[server]
pub async fn assign_payment(merchant_uid: String, customer: String) -> Result<String, AppError> {
    let admin = ctx::require_admin().await?;
    if !crate::model::valid_merchant_uid(&merchant_uid) {
        return Err(AppError::NotFound);
    }
    let state = ctx::state()?;
    let actor = format!("admin:{}", admin.id);
    Ok(crate::server::shop::orders::assign(&state.pool, &merchant_uid, &customer, &actor).await?)
}

/// 관리자: admins, pending invitations, and what this session was just given once.
#[server]
pub async fn admins() -> Result<AdminsView, AppError> {
    use crate::model::shop::{AdminView, InviteView};
    let me = ctx::require_admin().await?;
    let state = ctx::state()?;
    let (admins, invites) =
        crate::server::admins::list(&state.pool).await.map_err(ServerError::from)?;
    Ok(AdminsView {
        me: me.id,
        admins: admins
            .into_iter()
            .map(|a| AdminView {
                id: a.id,
                email: a.email,
                display_name: a.display_name,
                totp: a.totp,
                created_at: a.created_at,
                revoked_at: a.revoked_at,
            })
            .collect(),
        invites: invites
            .into_iter()
            .map(|i| InviteView { email: i.email, expires_at: i.expires_at })
            .collect(),
        new_invite_link: take_flash(FLASH_INVITE).await?,
        recovery_codes: take_flash(FLASH_CODES).await?.unwrap_or_default(),
    })
}

/// 초대: a one-time link (24 h), shown once on 관리자.
#[server]
pub async fn invite_admin(email: String) -> Result<(), AppError> {
    let admin = ctx::require_admin().await?;
    let state = ctx::state()?;
    let actor = format!("admin:{}", admin.id);
    let invite = crate::server::admins::invite(&state.pool, &email, &actor).await?;
    let base = match &state.settings.public_url {
        Some(url) => url.clone(),
        None => format!("http://{}", state.leptos_options.site_addr),
    };
    let link = format!("{base}{}", invite.path());
    ctx::session().await?.insert(FLASH_INVITE, link).await.map_err(ServerError::from)?;
    Ok(())
}

/// 해제: the admin's sessions end at their next request. Never the last admin.
#[server]
pub async fn revoke_admin(id: i64) -> Result<(), AppError> {
    let admin = ctx::require_admin().await?;
    let state = ctx::state()?;
    let actor = format!("admin:{}", admin.id);
    Ok(crate::server::admins::revoke(&state.pool, id, &actor).await?)
}

/// The invitation page's data: a fresh authenticator secret for the invited e-mail.
#[server]
pub async fn invitation(token: String) -> Result<InvitationView, AppError> {
    let state = ctx::state()?;
    let email = crate::server::admins::invited_email(&state.pool, &token)
        .await
        .map_err(ServerError::from)?
        .ok_or_else(|| {
            AppError::Rejected("초대 링크가 만료되었거나 이미 사용되었습니다.".into())
        })?;
    let (totp_secret, url) = crate::server::totp::new_totp_secret(&email);
    Ok(InvitationView { email, totp_secret, qr_svg: crate::server::totp::qr_svg(&url) })
}

/// 등록: password and authenticator set, the new admin is signed in and sees their recovery
/// codes once on 관리자.
#[server]
pub async fn accept_invitation(
    token: String,
    name: String,
    password: String,
    totp_secret: String,
    code: String,
) -> Result<(), AppError> {
    use crate::server::admins::{accept, Enrollment};
    let state = ctx::state()?;
    let enrollment = Enrollment {
        token: &token,
        name: &name,
        password: &password,
        totp_secret: &totp_secret,
        code: &code,
    };
    let enrolled = accept(&state.pool, &enrollment).await?;
    let session = ctx::session().await?;
    crate::server::auth::start_session(&session, &enrolled.admin).await?;
    session.insert(FLASH_CODES, enrolled.recovery_codes).await.map_err(ServerError::from)?;
    leptos_axum::redirect("/admin/admins");
    Ok(())
}
