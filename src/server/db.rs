//! The connection pool and the embedded migrations.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Connections per instance unless `DATABASE_MAX_CONNECTIONS` says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 20;

/// The pool's size from `DATABASE_MAX_CONNECTIONS`: a positive whole number, else the default.
fn max_connections(setting: Option<&str>) -> u32 {
    setting
        .and_then(|n| n.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_MAX_CONNECTIONS)
}

pub async fn connect(database_url: &str) -> Result<PgPool, sqlx::Error> {
    let setting = std::env::var("DATABASE_MAX_CONNECTIONS").ok();
    PgPoolOptions::new()
        .max_connections(max_connections(setting.as_deref()))
        // A request waits at most this long for a connection, then is told 503 (Postgres away
        // or overloaded) rather than hanging.
        .acquire_timeout(Duration::from_secs(5))
        // no ping before handing a connection out: a round trip per checkout, on every
        // statement of a request; a broken connection fails its statement instead, which
        // every caller already handles (503 and `Retry-After`), and is then dropped
        .test_before_acquire(false)
        .connect(database_url)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_size_is_a_positive_number_or_the_default() {
        for (setting, size) in
            [(None, 20), (Some("8"), 8), (Some(" 12 "), 12), (Some("0"), 20), (Some("many"), 20)]
        {
            assert_eq!(max_connections(setting), size, "{setting:?}");
        }
    }
}
