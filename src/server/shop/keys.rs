//! The shop's API keys: created by an admin (page 연동 or the CLI), shown once, kept only as a
//! hash, revoked at once. Each key acts as a `shop` principal (a user row that cannot sign
//! in), so what a key does is attributed to it like any user's act.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::model::admin::AuditKind;
use crate::model::shop::ApiKeyView;
use crate::model::{CurrentUser, Role};
use crate::server::error::ServerError;
use crate::server::tokens::{random_token, token_hash};

/// The characters after `rk_live_` / `rk_test_`: 32 of 62 letters and digits, about 190 bits.
const KEY_RANDOM_CHARS: usize = 32;
/// How much of a key admins see again: its kind and the first four random characters.
const SHOWN_PREFIX_CHARS: usize = 12;

/// A key just created: the only time its whole text exists outside the shop.
#[derive(Debug)]
pub struct NewKey {
    pub id: i64,
    pub key: String,
}

/// Creates a key named `name` (1–100 characters). `test` keys (`rk_test_…`) are what
/// `DEV_MODE` makes, so a development key is never mistaken for a live one.
pub async fn create(
    pool: &PgPool,
    name: &str,
    test: bool,
    created_by: &str,
) -> Result<NewKey, ServerError> {
    let name = name.trim();
    if !(1..=100).contains(&name.chars().count()) {
        return Err(ServerError::Rejected("키 이름은 1–100자로 입력해 주세요.".into()));
    }
    let key =
        format!("{}{}", if test { "rk_test_" } else { "rk_live_" }, random_token(KEY_RANDOM_CHARS));
    let prefix: String = key.chars().take(SHOWN_PREFIX_CHARS).collect();
    let mut tx = pool.begin().await?;
    // the principal's e-mail only satisfies the column; `.invalid` never delivers
    let principal = sqlx::query_scalar!(
        "insert into users (email, display_name, password_hash, role)
         values ('api-key-' || gen_random_uuid() || '@integration.invalid', $1, null, 'shop') returning id",
        format!("연동 키: {name}")
    )
    .fetch_one(&mut *tx)
    .await?;
    let id = sqlx::query_scalar!(
        "insert into api_keys (name, prefix, key_hash, principal_id, created_by) values ($1, $2, $3, $4, $5) returning id",
        name,
        prefix,
        token_hash(&key),
        principal,
        created_by
    )
    .fetch_one(&mut *tx)
    .await?;
    crate::server::refund::audit_event(
        &mut *tx,
        AuditKind::ApiKeyCreated,
        created_by,
        serde_json::json!({"api_key_id": id, "name": name, "prefix": prefix}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(api_key_id = id, %prefix, "API key created");
    Ok(NewKey { id, key })
}

/// Every key, live ones first, as 연동 lists them (never the key itself).
pub async fn list(pool: &PgPool) -> Result<Vec<ApiKeyView>, sqlx::Error> {
    sqlx::query_as!(
        ApiKeyView,
        r#"select id, name, prefix, created_at as "created_at: DateTime<Utc>", last_used_at as "last_used_at: DateTime<Utc>",
                  revoked_at as "revoked_at: DateTime<Utc>"
           from api_keys order by revoked_at is not null, created_at desc"#
    )
    .fetch_all(pool)
    .await
}

/// Revokes a key: its next request is refused. Returns whether a live key was revoked.
pub async fn revoke(pool: &PgPool, id: i64, by: &str) -> Result<bool, ServerError> {
    let mut tx = pool.begin().await?;
    let revoked = sqlx::query!(
        "update api_keys set revoked_at = now() where id = $1 and revoked_at is null",
        id
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if revoked {
        crate::server::refund::audit_event(
            &mut *tx,
            AuditKind::ApiKeyRevoked,
            by,
            serde_json::json!({"api_key_id": id}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(revoked)
}

/// The caller a valid key stands for.
#[derive(Clone, Debug)]
pub struct ShopCaller {
    pub api_key_id: i64,
    /// the key's principal, as the refund pipeline takes a requester
    pub principal: CurrentUser,
}

impl ShopCaller {
    /// How the audit trail names this key's acts.
    pub fn actor(&self) -> String {
        crate::server::actor::Actor::ApiKey(self.api_key_id).to_string()
    }
}

/// The live key `presented` is, if any; its last use moves on (at most once a minute, so a
/// busy shop does not write the key's row on every request).
pub async fn authenticate(
    pool: &PgPool,
    presented: &str,
) -> Result<Option<ShopCaller>, sqlx::Error> {
    if !(presented.starts_with("rk_live_") || presented.starts_with("rk_test_"))
        || presented.len() > 64
    {
        return Ok(None);
    }
    let found = sqlx::query!(
        r#"select k.id, u.id as principal_id, u.email, u.display_name
           from api_keys k join users u on u.id = k.principal_id
           where k.key_hash = $1 and k.revoked_at is null"#,
        token_hash(presented)
    )
    .fetch_optional(pool)
    .await?;
    let Some(found) = found else { return Ok(None) };
    sqlx::query!(
        "update api_keys set last_used_at = now()
         where id = $1 and (last_used_at is null or last_used_at < now() - interval '1 minute')",
        found.id
    )
    .execute(pool)
    .await?;
    Ok(Some(ShopCaller {
        api_key_id: found.id,
        principal: CurrentUser {
            id: found.principal_id,
            email: found.email,
            display_name: found.display_name,
            role: Role::Shop,
        },
    }))
}
