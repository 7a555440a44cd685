//! The connection pool and the embedded migrations.

use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

pub async fn connect(database_url: &str) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(20)
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
