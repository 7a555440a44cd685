//! Admin accounts: invited by a one-time link (the CLI's `admin create` or page 관리자), where
//! the new admin sets a password and enrolls a TOTP authenticator (RFC 6238) and gets ten
//! single-use recovery codes; listed and revoked on 관리자. The last admin can never be
//! revoked. Sign-in's second factor is checked here too.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use crate::model::admin::AuditKind;
use crate::model::shop::{AdminView, InviteView};
use crate::model::{CurrentUser, Role};
use crate::server::actor::Actor;
use crate::server::error::ServerError;
use crate::server::tokens::{random_token, token_hash};
use crate::server::totp::totp;

/// How long an invitation link works.
pub const INVITE_HOURS: i64 = 24;
const RECOVERY_CODES: usize = 10;

/// An invitation just made: the link's token exists only here and in the link.
#[derive(Debug)]
pub struct Invite {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl Invite {
    /// The link's path on this site.
    pub fn path(&self) -> String {
        format!("/admin/invite?token={}", self.token)
    }
}

/// Invites `email` to become an admin (a new link each time; earlier links keep working
/// until used or expired).
pub async fn invite(pool: &PgPool, email: &str, created_by: &str) -> Result<Invite, ServerError> {
    let Some(email) = crate::server::auth::plausible_email(email) else {
        return Err(ServerError::Rejected("올바른 이메일 주소를 입력해 주세요.".into()));
    };
    let token = random_token(40);
    let expires_at = Utc::now() + Duration::hours(INVITE_HOURS);
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "insert into admin_invites (email, token_hash, created_by, expires_at) values ($1, $2, $3, $4)",
        email,
        token_hash(&token),
        created_by,
        expires_at as _
    )
    .execute(&mut *tx)
    .await?;
    crate::server::refund::audit_event(
        &mut *tx,
        AuditKind::AdminInvited,
        created_by,
        serde_json::json!({"email": email}),
    )
    .await?;
    tx.commit().await?;
    Ok(Invite { token, expires_at })
}

/// The e-mail a live invitation is for.
pub async fn invited_email(pool: &PgPool, token: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "select email from admin_invites where token_hash = $1 and used_at is null and expires_at > now()",
        token_hash(token)
    )
    .fetch_optional(pool)
    .await
}

/// What accepting an invitation needs.
#[derive(Debug)]
pub struct Enrollment<'a> {
    pub token: &'a str,
    pub name: &'a str,
    pub password: &'a str,
    pub totp_secret: &'a str,
    pub code: &'a str,
}

/// A new admin and their recovery codes (shown once).
#[derive(Debug)]
pub struct Enrolled {
    pub admin: CurrentUser,
    pub recovery_codes: Vec<String>,
}

/// Accepts an invitation: checks the code the new authenticator shows, creates the admin,
/// spends the link, and returns the ten recovery codes.
pub async fn accept(pool: &PgPool, e: &Enrollment<'_>) -> Result<Enrolled, ServerError> {
    let rejected = |m: &str| ServerError::Rejected(m.to_string());
    if !(1..=100).contains(&e.name.trim().chars().count()) {
        return Err(rejected("이름을 1–100자로 입력해 주세요."));
    }
    if e.password.chars().count() < 12 || e.password.len() > 200 {
        return Err(rejected("비밀번호는 12자 이상이어야 합니다."));
    }
    let Some(email) = invited_email(pool, e.token).await? else {
        return Err(rejected("초대 링크가 만료되었거나 이미 사용되었습니다."));
    };
    let Some(totp) = totp(e.totp_secret, &email) else {
        return Err(rejected("인증 앱 등록 정보가 올바르지 않습니다. 페이지를 새로고침해 주세요."));
    };
    let Some(step) = totp.check_current(e.code.trim()) else {
        return Err(rejected(
            "인증 코드가 맞지 않습니다. 인증 앱에 지금 보이는 6자리를 입력해 주세요.",
        ));
    };
    let hash = crate::server::auth::hash_password_off_thread(e.password).await?;
    let mut tx = pool.begin().await?;
    let invite = sqlx::query_scalar!(
        "select id from admin_invites where token_hash = $1 and used_at is null and expires_at > now() for update",
        token_hash(e.token)
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(invite) = invite else {
        return Err(rejected("초대 링크가 만료되었거나 이미 사용되었습니다."));
    };
    let taken = sqlx::query_scalar!(
        r#"select exists (select 1 from users where email = $1 and password_hash is not null) as "taken!""#,
        email
    )
    .fetch_one(&mut *tx)
    .await?;
    if taken {
        return Err(rejected("이 이메일로 이미 로그인할 수 있는 계정이 있습니다."));
    }
    let user_id = sqlx::query_scalar!(
        "insert into users (email, display_name, password_hash, role, totp_secret, totp_last_step)
         values ($1, $2, $3, 'admin', $4, $5) returning id",
        email,
        e.name.trim(),
        hash,
        e.totp_secret,
        step as i64
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "update admin_invites set used_at = now(), user_id = $2 where id = $1",
        invite,
        user_id
    )
    .execute(&mut *tx)
    .await?;
    let codes = recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| token_hash(c)).collect();
    sqlx::query!(
        "insert into admin_recovery_codes (user_id, code_hash) select $1, unnest($2::text[])",
        user_id,
        &hashes
    )
    .execute(&mut *tx)
    .await?;
    crate::server::refund::audit_event(
        &mut *tx,
        AuditKind::AdminEnrolled,
        &Actor::User { role: crate::model::Role::Admin, id: user_id }.to_string(),
        serde_json::json!({"email": email}),
    )
    .await?;
    tx.commit().await?;
    let admin = CurrentUser {
        id: user_id,
        email,
        display_name: e.name.trim().to_string(),
        role: Role::Admin,
    };
    Ok(Enrolled { admin, recovery_codes: codes })
}

/// Ten codes like `k3v9q-7xw2m`: lowercase letters and digits, about 51 bits each.
fn recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let raw = random_token(10).to_lowercase();
            format!("{}-{}", &raw[..5], &raw[5..])
        })
        .collect()
}

/// Every admin (live ones first) and the invitations still waiting.
pub async fn list(pool: &PgPool) -> Result<(Vec<AdminView>, Vec<InviteView>), sqlx::Error> {
    let admins = sqlx::query_as!(
        AdminView,
        r#"select id, email, display_name, totp_secret is not null as "totp!", created_at as "created_at: DateTime<Utc>",
                  revoked_at as "revoked_at: DateTime<Utc>"
           from users where role = 'admin' order by revoked_at is not null, created_at"#
    )
    .fetch_all(pool)
    .await?;
    let invites = sqlx::query_as!(
        InviteView,
        r#"select email, expires_at as "expires_at: DateTime<Utc>" from admin_invites
           where used_at is null and expires_at > now() order by created_at desc"#
    )
    .fetch_all(pool)
    .await?;
    Ok((admins, invites))
}

/// Revokes an admin: every session of theirs ends at its next request (the session re-reads
/// the account) and they can no longer sign in. The last admin cannot be revoked: the live
/// admins are locked first, so two admins revoking each other at once leave one.
pub async fn revoke(pool: &PgPool, admin_id: i64, by: &str) -> Result<(), ServerError> {
    let mut tx = pool.begin().await?;
    let live = sqlx::query_scalar!(
        "select id from users where role = 'admin' and revoked_at is null order by id for update"
    )
    .fetch_all(&mut *tx)
    .await?;
    if !live.contains(&admin_id) {
        return Err(ServerError::NotFound);
    }
    if live.len() <= 1 {
        return Err(ServerError::Rejected("마지막 관리자는 해제할 수 없습니다.".into()));
    }
    sqlx::query!("update users set revoked_at = now() where id = $1", admin_id)
        .execute(&mut *tx)
        .await?;
    crate::server::refund::audit_event(
        &mut *tx,
        AuditKind::AdminRevoked,
        by,
        serde_json::json!({"admin_id": admin_id}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
