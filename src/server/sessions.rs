//! Sessions and signed-in customers, kept in process for a few seconds: a customer's page or
//! refund then costs no database read for who is asking. Staleness is bounded and said in
//! SECURITY.md: on this instance a sign-out takes effect at once (the cache entry goes with
//! it), on another instance within `CACHE_TTL`. Admins are read afresh on every request: a
//! demoted or revoked admin loses access at the next request, whatever changed the row.

use std::time::Duration;

use async_trait::async_trait;
// the synchronous cache: its upkeep runs inline and briefly, never awaiting inside a request
use moka::sync::Cache;
use sqlx::PgPool;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions_sqlx_store::PostgresStore;

use crate::model::{CurrentUser, Role};
use crate::server::error::ServerError;

/// How long another instance may go on honouring a session ended, or an account revoked, here.
pub const CACHE_TTL: Duration = Duration::from_secs(10);
/// Entries kept at most (a session is well under a kilobyte).
const CAPACITY: u64 = 100_000;

/// The Postgres session store with a short-lived copy in front of it.
#[derive(Clone, Debug)]
pub struct CachedStore {
    db: PostgresStore,
    cache: Cache<Id, Record>,
}

impl CachedStore {
    pub fn new(pool: PgPool) -> CachedStore {
        CachedStore {
            db: PostgresStore::new(pool),
            cache: Cache::builder().max_capacity(CAPACITY).time_to_live(CACHE_TTL).build(),
        }
    }
}

#[async_trait]
impl SessionStore for CachedStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.db.create(record).await?;
        self.cache.insert(record.id, record.clone());
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.db.save(record).await?;
        self.cache.insert(record.id, record.clone());
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(record) = self.cache.get(id) {
            // an expired session is never honoured, cached or not
            if record.expiry_date > tower_sessions::cookie::time::OffsetDateTime::now_utc() {
                return Ok(Some(record));
            }
            self.cache.invalidate(id);
        }
        let record = self.db.load(id).await?;
        if let Some(record) = &record {
            self.cache.insert(*id, record.clone());
        }
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.cache.invalidate(id);
        self.db.delete(id).await
    }
}

/// Customers' accounts as the database last said, by id.
#[derive(Clone)]
pub struct Users {
    cache: Cache<i64, CurrentUser>,
}

impl Default for Users {
    fn default() -> Self {
        Users { cache: Cache::builder().max_capacity(CAPACITY).time_to_live(CACHE_TTL).build() }
    }
}

impl Users {
    /// The account `id` as it stands (a customer's within `CACHE_TTL`): `None` when revoked
    /// or gone.
    pub async fn get(&self, pool: &PgPool, id: i64) -> Result<Option<CurrentUser>, ServerError> {
        if let Some(known) = self.cache.get(&id) {
            return Ok(Some(known));
        }
        let now = sqlx::query!(
            r#"select id, email, display_name, role as "role: Role" from users where id = $1 and revoked_at is null"#,
            id
        )
        .fetch_optional(pool)
        .await?
        .map(|u| CurrentUser { id: u.id, email: u.email, display_name: u.display_name, role: u.role });
        if let Some(customer) = now.as_ref().filter(|u| u.role == Role::Customer) {
            self.cache.insert(id, customer.clone());
        }
        Ok(now)
    }
}
