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
const FLASH_ENDPOINT_SECRET: &str = "flash_new_endpoint_secret";
#[cfg(feature = "ssr")]
const FLASH_INVITE: &str = "flash_invite_link";
#[cfg(feature = "ssr")]
const FLASH_CODES: &str = "flash_recovery_codes";
/// The authenticator secret the invitation page showed this session: enrollment proves a
/// code of this one, never of a secret the form would name.
#[cfg(feature = "ssr")]
const ENROLLING_SECRET: &str = "enrolling_totp_secret";

/// A value this session was given once, taken out as it is read.
#[cfg(feature = "ssr")]
async fn take_flash<T: serde::de::DeserializeOwned>(key: &str) -> Result<Option<T>, ServerError> {
    Ok(ctx::session().await?.remove::<T>(key).await?)
}

/// 연동: the keys, a key just created, and the newest unassigned payments.
#[server]
pub async fn integration() -> Result<IntegrationView, AppError> {
    use crate::server::shop::{keys, orders};
    ctx::require_admin().await?;
    let state = ctx::state()?;
    let keys = keys::list(&state.pool).await.map_err(ServerError::from)?;
    let unassigned = orders::unassigned(&state.pool, 50).await.map_err(ServerError::from)?;
    let endpoints =
        crate::server::outbox::endpoints::list(&state.pool, 10).await.map_err(ServerError::from)?;
    Ok(IntegrationView {
        keys,
        new_key: take_flash(FLASH_KEY).await?,
        unassigned,
        shop_login: state.settings.shop_login_secret.is_some(),
        endpoints,
        new_endpoint_secret: take_flash(FLASH_ENDPOINT_SECRET).await?,
    })
}

/// 수신 주소 추가: `events` comma-separated (blank: every type); the secret is shown once.
#[server]
pub async fn add_webhook_endpoint(url: String, events: String) -> Result<(), AppError> {
    let admin = ctx::require_admin().await?;
    let state = ctx::state()?;
    let actor = crate::server::actor::actor(&admin);
    let events: Vec<String> =
        events.split(',').map(str::trim).filter(|e| !e.is_empty()).map(String::from).collect();
    let created = crate::server::outbox::endpoints::create(
        &state.pool,
        &url,
        Some(&events),
        state.settings.development,
        &actor,
    )
    .await
    .map_err(ServerError::from)?;
    let (_, secret) = created.map_err(ServerError::Rejected)?;
    ctx::session().await?.insert(FLASH_ENDPOINT_SECRET, secret).await.map_err(ServerError::from)?;
    Ok(())
}

/// 수신 주소 관리: `action` is one of `disable`, `enable`, `delete`, `rotate` (a new secret,
/// shown once; the old one signs too for 24 hours).
#[server]
pub async fn manage_webhook_endpoint(id: i64, action: String) -> Result<(), AppError> {
    use crate::server::outbox::endpoints;
    let admin = ctx::require_admin().await?;
    let state = ctx::state()?;
    let actor = crate::server::actor::actor(&admin);
    let done = match action.as_str() {
        "disable" | "enable" => {
            endpoints::set_disabled(&state.pool, id, action == "disable", &actor).await
        }
        "delete" => endpoints::delete(&state.pool, id, &actor).await,
        "rotate" => match endpoints::rotate(&state.pool, id, &actor).await {
            Ok(Some(secret)) => {
                ctx::session()
                    .await?
                    .insert(FLASH_ENDPOINT_SECRET, secret)
                    .await
                    .map_err(ServerError::from)?;
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(e),
        },
        _ => return Err(AppError::NotFound),
    };
    if done.map_err(ServerError::from)? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// 재전송: one event sent again to one endpoint, under the same `webhook-id`.
#[server]
pub async fn resend_delivery(id: i64) -> Result<(), AppError> {
    let admin = ctx::require_admin().await?;
    let state = ctx::state()?;
    let actor = crate::server::actor::actor(&admin);
    if crate::server::outbox::endpoints::resend(&state.pool, id, &actor)
        .await
        .map_err(ServerError::from)?
    {
        Ok(())
    } else {
        Err(ServerError::Rejected(
            "지금 보내고 있거나 다시 보낼 차례를 기다리는 전송입니다.".into(),
        )
        .into())
    }
}

/// 키 만들기: the key is shown once, on the page this returns to.
#[server]
pub async fn create_api_key(name: String) -> Result<(), AppError> {
    let admin = ctx::require_admin().await?;
    let state = ctx::state()?;
    let actor = crate::server::actor::actor(&admin);
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
    let actor = crate::server::actor::actor(&admin);
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
    let actor = crate::server::actor::actor(&admin);
    Ok(crate::server::shop::orders::assign(&state.pool, &merchant_uid, &customer, &actor).await?)
}

/// 관리자: admins, pending invitations, and what this session was just given once.
#[server]
pub async fn admins() -> Result<AdminsView, AppError> {
    let me = ctx::require_admin().await?;
    let state = ctx::state()?;
    let (admins, invites) =
        crate::server::admins::list(&state.pool).await.map_err(ServerError::from)?;
    Ok(AdminsView {
        me: me.id,
        admins,
        invites,
        new_invite_link: take_flash(FLASH_INVITE).await?,
        recovery_codes: take_flash(FLASH_CODES).await?.unwrap_or_default(),
    })
}

/// 초대: a one-time link (24 h), shown once on 관리자.
#[server]
pub async fn invite_admin(email: String) -> Result<(), AppError> {
    let admin = ctx::require_admin().await?;
    let state = ctx::state()?;
    let actor = crate::server::actor::actor(&admin);
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
    let actor = crate::server::actor::actor(&admin);
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
    // the same secret on every showing of this invitation in this session (a reload after a
    // mistyped code must not replace what the authenticator already holds)
    let session = ctx::session().await?;
    let link = crate::server::tokens::token_hash(&token);
    let held: Option<(String, String)> =
        session.get(ENROLLING_SECRET).await.map_err(ServerError::from)?;
    let totp_secret = match held {
        Some((for_link, secret)) if for_link == link => secret,
        _ => {
            let secret = crate::server::totp::new_totp_secret();
            session.insert(ENROLLING_SECRET, (link, &secret)).await.map_err(ServerError::from)?;
            secret
        }
    };
    let url = crate::server::totp::otpauth_url(&totp_secret, &email);
    Ok(InvitationView { email, totp_secret, qr_svg: crate::server::totp::qr_svg(&url) })
}

/// 등록: password and authenticator set, the new admin is signed in and sees their recovery
/// codes once on 관리자.
#[server]
pub async fn accept_invitation(
    token: String,
    name: String,
    password: String,
    code: String,
) -> Result<(), AppError> {
    use crate::server::admins::{accept, Enrollment};
    let state = ctx::state()?;
    let session = ctx::session().await?;
    let held: Option<(String, String)> =
        session.get(ENROLLING_SECRET).await.map_err(ServerError::from)?;
    let totp_secret = held
        .filter(|(for_link, _)| *for_link == crate::server::tokens::token_hash(&token))
        .map(|(_, secret)| secret)
        .ok_or_else(|| {
            AppError::Rejected("인증 앱 등록 정보가 없습니다. 초대 링크를 다시 열어 주세요.".into())
        })?;
    let enrollment = Enrollment {
        token: &token,
        name: &name,
        password: &password,
        totp_secret: &totp_secret,
        code: &code,
    };
    let enrolled = accept(&state.pool, &enrollment).await?;
    crate::server::auth::start_session(&session, &enrolled.admin).await?;
    session.remove::<(String, String)>(ENROLLING_SECRET).await.map_err(ServerError::from)?;
    session.insert(FLASH_CODES, enrolled.recovery_codes).await.map_err(ServerError::from)?;
    leptos_axum::redirect("/admin/admins");
    Ok(())
}
