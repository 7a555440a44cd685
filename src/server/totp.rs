//! Admins' second factor: TOTP (RFC 6238, through `totp-rs`) and single-use recovery codes.
//! Used by sign-in (`auth`) and by enrollment (`admins`).

use sqlx::PgPool;
use totp_rs::{Builder, Secret, Totp};

use crate::server::tokens::token_hash;

/// The issuer authenticator apps show beside the account.
const ISSUER: &str = "PortOne 환불";

/// A TOTP for `secret` (base32) and `account`; `None` if the secret is not one we made.
pub fn totp(secret: &str, account: &str) -> Option<Totp> {
    Builder::new()
        .with_secret(Secret::try_from_base32(secret).ok()?)
        .with_account_name(account.to_string())
        .with_issuer(Some(ISSUER.to_string()))
        .build()
        .ok()
}

/// A new authenticator secret: 160 random bits, base32.
pub fn new_totp_secret() -> String {
    Secret::generate().to_base32()
}

/// The `otpauth://` URL authenticator apps take (as a QR code).
pub fn otpauth_url(secret: &str, account: &str) -> String {
    totp(secret, account).and_then(|t| t.to_url().ok()).unwrap_or_default()
}

/// The `otpauth://` URL as a QR code in SVG, for authenticator apps to scan.
pub fn qr_svg(url: &str) -> String {
    qrcode::QrCode::new(url.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default()
}

/// Checks an admin's second factor: a TOTP code not used before (each time step is accepted
/// once), or an unused recovery code (then spent). The check and the spending are one
/// statement each, so two sign-ins cannot both use one code.
pub async fn second_factor(
    pool: &PgPool,
    user_id: i64,
    secret: &str,
    email: &str,
    code: &str,
) -> Result<bool, sqlx::Error> {
    let code = code.trim();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let Some(step) = totp(secret, email).and_then(|t| t.check_current(code)) else {
            return Ok(false);
        };
        let used = sqlx::query!(
            "update users set totp_last_step = $2 where id = $1 and coalesce(totp_last_step, -1) < $2",
            user_id,
            step as i64
        )
        .execute(pool)
        .await?;
        return Ok(used.rows_affected() == 1);
    }
    let spent = sqlx::query!(
        "update admin_recovery_codes set used_at = now() where user_id = $1 and code_hash = $2 and used_at is null",
        user_id,
        token_hash(&code.to_lowercase())
    )
    .execute(pool)
    .await?;
    if spent.rows_affected() == 1 {
        tracing::warn!(user_id, "an admin signed in with a recovery code");
    }
    Ok(spent.rows_affected() == 1)
}
