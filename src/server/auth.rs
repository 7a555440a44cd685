//! Sign-in: argon2id password hashes, the session's user, and sign-in rate limits kept in
//! Postgres so every app instance enforces the same limits.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use sqlx::PgPool;
use tower_sessions::Session;
use tracing::instrument;

use crate::model::{CurrentUser, Role};
use crate::server::error::ServerError;

const SESSION_USER: &str = "user";

/// Failed attempts allowed per account *from one client address*, and per address, within
/// the window. Keyed by account and address together, so nobody elsewhere can lock an account
/// (the admin's included) out by guessing its password.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
pub const MAX_FAILURES_PER_IP: i64 = 20;
pub const FAILURE_WINDOW_MINUTES: i32 = 15;
/// Failed attempts on one account from anywhere within the window before each further
/// attempt must wait: 1 s after the next, then 2, 4, … up to `MAX_ACCOUNT_BACKOFF_SECS` after
/// the account's previous attempt. Many addresses cannot guess faster than one address could;
/// the owner, signing in between the attacker's guesses, waits at most that long.
pub const FREE_FAILURES_PER_ACCOUNT: i64 = 10;
pub const MAX_ACCOUNT_BACKOFF_SECS: i64 = 300;
/// What a sign-in form may carry: an e-mail address is at most 254 characters (RFC 5321),
/// and no password needs more than this many bytes (argon2 would hash any length).
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// How long an account's next attempt waits after `previous` failed attempts on it within the
/// window (this one not counted).
pub fn account_backoff_secs(previous: i64) -> i64 {
    if previous < FREE_FAILURES_PER_ACCOUNT {
        return 0;
    }
    let doublings = (previous - FREE_FAILURES_PER_ACCOUNT).min(20) as u32;
    (1_i64 << doublings).min(MAX_ACCOUNT_BACKOFF_SECS)
}

/// Password checks (argon2id, ~19 MiB each) running at once in this process; a caller that
/// cannot get a slot within `CHECK_SLOT_WAIT` is told to try again.
const CONCURRENT_PASSWORD_CHECKS: usize = 4;
const CHECK_SLOT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
static PASSWORD_CHECKS: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(CONCURRENT_PASSWORD_CHECKS);

/// `hash_password` on a blocking thread: argon2id takes tens of milliseconds of CPU.
pub async fn hash_password_off_thread(password: &str) -> Result<String, tokio::task::JoinError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&password)).await
}

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 hashing").to_string()
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A real hash of nothing in particular, verified when the email is unknown so that unknown
/// accounts take as long as wrong passwords.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password for unknown accounts"))
}

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// An e-mail address as we store it (`normalize_email`), if it looks like one: something
/// before and after an `@`, at most 254 characters.
pub fn plausible_email(email: &str) -> Option<String> {
    let email = normalize_email(email);
    let (local, domain) = email.split_once('@')?;
    (!local.is_empty() && !domain.is_empty() && email.chars().count() <= 254).then_some(email)
}

/// Checks credentials and rate limits. Unknown email and wrong password fail alike.
///
/// Count first, then check: the attempt is recorded (as failed) before the limits are
/// counted, and the count includes it, so of any number of parallel attempts at most the
/// limit reach the password hash.
#[instrument(skip_all, fields(ip = %ip))]
pub async fn sign_in(
    pool: &PgPool,
    credentials: &Credentials<'_>,
    rules: SignInRules,
    ip: &str,
) -> Result<CurrentUser, ServerError> {
    let result = check_credentials(pool, credentials, rules, ip).await;
    let counted = match &result {
        Ok(_) => "success",
        Err(ServerError::InvalidCredentials) => "invalid",
        Err(ServerError::SecondFactor) => "second_factor",
        Err(ServerError::TooManyAttempts) => "limited",
        Err(_) => "error",
    };
    metrics::counter!("sign_in_total", "result" => counted).increment(1);
    result
}

/// What a sign-in form sends.
#[derive(Debug)]
pub struct Credentials<'a> {
    pub email: &'a str,
    pub password: &'a str,
    /// an admin's authenticator code or recovery code
    pub code: Option<&'a str>,
}

/// Who may sign in with a password.
#[derive(Clone, Copy, Debug)]
pub struct SignInRules {
    /// `DEV_MODE`: an admin without an authenticator may sign in (the demo's admin)
    pub development: bool,
    /// `CUSTOMER_PASSWORD_LOGIN`: customers may sign in with a password here at all
    pub customer_password_login: bool,
}

async fn check_credentials(
    pool: &PgPool,
    credentials: &Credentials<'_>,
    rules: SignInRules,
    ip: &str,
) -> Result<CurrentUser, ServerError> {
    let (email, password) = (normalize_email(credentials.email), credentials.password);
    if email.chars().count() > MAX_EMAIL_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(ServerError::InvalidCredentials);
    }
    let attempt = sqlx::query_scalar!(
        "insert into sign_in_attempts (email, ip, succeeded) values ($1, $2, false) returning id",
        email,
        ip
    )
    .fetch_one(pool)
    .await?;
    // Attempts still being checked count too, so parallel guesses cannot slip between.
    let failures = sqlx::query!(
        r#"select
             count(*) filter (where email = $1 and ip = $2) as "by_account!",
             count(*) filter (where ip = $2) as "by_ip!",
             count(*) filter (where email = $1 and id <> $4) as "account_elsewhere!",
             coalesce(extract(epoch from now() - max(attempted_at) filter (where email = $1 and id <> $4)), 1e9)::float8
                 as "since_previous!"
           from sign_in_attempts
           where not succeeded and attempted_at > now() - make_interval(mins => $3) and (ip = $2 or email = $1)"#,
        email,
        ip,
        FAILURE_WINDOW_MINUTES,
        attempt,
    )
    .fetch_one(pool)
    .await?;
    let backoff = account_backoff_secs(failures.account_elsewhere);
    if failures.by_account > MAX_FAILURES_PER_ACCOUNT
        || failures.by_ip > MAX_FAILURES_PER_IP
        || failures.since_previous < backoff as f64
    {
        tracing::warn!(
            by_account = failures.by_account,
            by_ip = failures.by_ip,
            account_anywhere = failures.account_elsewhere,
            backoff,
            "sign-in rate limited"
        );
        forget_attempt(pool, attempt).await?;
        return Err(ServerError::TooManyAttempts);
    }
    let Ok(Ok(slot)) = tokio::time::timeout(CHECK_SLOT_WAIT, PASSWORD_CHECKS.acquire()).await
    else {
        tracing::warn!("every password-check slot is busy");
        forget_attempt(pool, attempt).await?;
        return Err(ServerError::TooManyAttempts);
    };

    let user = sqlx::query!(
        r#"select id, email, display_name, password_hash as "password_hash!", role as "role: Role", totp_secret
           from users where email = $1 and password_hash is not null and revoked_at is null"#,
        email
    )
    .fetch_optional(pool)
    .await?;

    let hash =
        user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| decoy_hash().to_string());
    let password = password.to_string();
    let matches = tokio::task::spawn_blocking(move || verify_password(&hash, &password)).await?;
    drop(slot);
    let mut refusal = ServerError::InvalidCredentials;
    let signed_in = match user {
        Some(u) if matches => {
            let allowed = match (u.role, u.totp_secret.as_deref()) {
                (Role::Customer, _) => rules.customer_password_login,
                (Role::Admin, Some(secret)) => {
                    refusal = ServerError::SecondFactor;
                    let code = credentials.code.unwrap_or_default();
                    !code.trim().is_empty()
                        && crate::server::totp::second_factor(pool, u.id, secret, &u.email, code)
                            .await?
                }
                (Role::Admin, None) => {
                    refusal = ServerError::Rejected(
                        "인증 앱을 등록하지 않은 관리자 계정입니다. 새 초대 링크로 등록해 주세요."
                            .into(),
                    );
                    rules.development
                }
                (Role::Shop, _) => false,
            };
            allowed.then_some(CurrentUser {
                id: u.id,
                email: u.email,
                display_name: u.display_name,
                role: u.role,
            })
        }
        _ => None,
    };

    sqlx::query!(
        "update sign_in_attempts set succeeded = $2, checked = true where id = $1",
        attempt,
        signed_in.is_some()
    )
    .execute(pool)
    .await?;

    signed_in.ok_or(refusal)
}

/// A refused attempt checked nothing: it does not count against anyone later.
async fn forget_attempt(pool: &PgPool, attempt: i64) -> Result<(), ServerError> {
    sqlx::query!("delete from sign_in_attempts where id = $1", attempt).execute(pool).await?;
    Ok(())
}

/// Starts a fresh session for `user` (a new id, so a planted session id is useless).
pub async fn start_session(session: &Session, user: &CurrentUser) -> Result<(), ServerError> {
    session.cycle_id().await?;
    Ok(session.insert(SESSION_USER, user).await?)
}

pub async fn end_session(session: &Session) -> Result<(), ServerError> {
    Ok(session.flush().await?)
}

/// The signed-in user as the database knows them now: a demoted admin or a deleted account
/// loses access at the next request, not when the session expires.
pub async fn session_user(
    session: &Session,
    pool: &PgPool,
    users: &crate::server::sessions::Users,
) -> Result<Option<CurrentUser>, ServerError> {
    let Some(signed_in) = session.get::<CurrentUser>(SESSION_USER).await? else {
        return Ok(None);
    };
    users.get(pool, signed_in.id).await
}

/// Gives an account a password (the demo's shop customers, who also sign in with one).
pub async fn set_password(pool: &PgPool, user_id: i64, password: &str) -> Result<(), ServerError> {
    let hash = hash_password_off_thread(password).await?;
    sqlx::query!("update users set password_hash = $2 where id = $1", user_id, hash)
        .execute(pool)
        .await?;
    Ok(())
}

/// Creates an account (demo data and tests). Returns the user's id.
pub async fn create_user(
    pool: &PgPool,
    email: &str,
    display_name: &str,
    password: &str,
    role: Role,
) -> Result<i64, sqlx::Error> {
    let hash = hash_password_off_thread(password).await.expect("hashing task");
    sqlx::query_scalar!(
        "insert into users (email, display_name, password_hash, role) values ($1, $2, $3, $4) returning id",
        normalize_email(email),
        display_name,
        hash,
        role.as_str()
    )
    .fetch_one(pool)
    .await
}

/// Every `X-Forwarded-For` line as one list, in order: a proxy may add a line of its own
/// rather than extend the client's, and then the client's forged line must not be the last
/// word.
pub fn forwarded_for(headers: &axum::http::HeaderMap) -> String {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
}

/// What sign-in limits count by: an IPv4 address, or an IPv6 address's /64 (one household or
/// server holds a whole /64, and would otherwise have 2^64 addresses to rotate through).
pub fn limit_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().expect("mapped").to_string(),
        v4 => v4.to_string(),
    }
}

/// The client's address: the socket's peer, or — when the peer is a trusted proxy — the
/// nearest address in `X-Forwarded-For` that is not one of our proxies. An address a client
/// writes itself into the header is never believed past an untrusted hop.
pub fn client_address(
    peer: std::net::IpAddr,
    forwarded_for: Option<&str>,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut address = peer;
    for hop in forwarded_for.unwrap_or_default().rsplit(',') {
        match hop.trim().parse() {
            Ok(ip) => {
                address = ip;
                if !trusted.contains(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    address
}

#[cfg(test)]
mod tests {
    use super::{account_backoff_secs, client_address, forwarded_for, limit_key};

    #[test]
    fn a_forged_first_line_is_not_the_client_behind_a_proxy_that_adds_a_line() {
        let mut headers = axum::http::HeaderMap::new();
        headers.append("x-forwarded-for", "6.6.6.6".parse().unwrap());
        headers.append("x-forwarded-for", "198.51.100.7".parse().unwrap());
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let all = forwarded_for(&headers);
        assert_eq!(all, "6.6.6.6,198.51.100.7");
        assert_eq!(
            client_address(ip("10.0.0.2"), Some(&all), &[ip("10.0.0.2")]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(limit_key(ip("2001:db8:1:2::1")), "2001:db8:1:2::/64");
        assert_eq!(limit_key(ip("2001:db8:1:2:ffff:1:2:3")), "2001:db8:1:2::/64");
        assert_ne!(limit_key(ip("2001:db8:1:3::1")), limit_key(ip("2001:db8:1:2::1")));
        assert_eq!(limit_key(ip("::ffff:203.0.113.9")), "203.0.113.9");
        assert_eq!(limit_key(ip("203.0.113.9")), "203.0.113.9");
    }

    #[test]
    fn an_account_guessed_from_many_addresses_slows_down_exponentially() {
        let waits: Vec<i64> = (8..=22).map(account_backoff_secs).collect();
        assert_eq!(waits, [0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300]);
        assert_eq!(account_backoff_secs(i64::MAX), 300);
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let proxy = [ip("10.0.0.2")];
        // no trusted proxy: the socket, whatever the header says
        assert_eq!(client_address(ip("203.0.113.9"), Some("1.2.3.4"), &[]), ip("203.0.113.9"));
        assert_eq!(client_address(ip("203.0.113.9"), Some("1.2.3.4"), &proxy), ip("203.0.113.9"));
        // behind our proxy: the address it saw, not what the client prepended
        assert_eq!(
            client_address(ip("10.0.0.2"), Some("6.6.6.6, 198.51.100.7"), &proxy),
            ip("198.51.100.7")
        );
        assert_eq!(client_address(ip("10.0.0.2"), None, &proxy), ip("10.0.0.2"));
        assert_eq!(client_address(ip("10.0.0.2"), Some("junk"), &proxy), ip("10.0.0.2"));
    }
}
