use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use sqlx::PgPool;

use portone_v1::PortOneClient;

use crate::server::coalesce::ReadCoalescer;
use crate::server::config::Settings;
use crate::server::health::DbHealth;

/// What every handler and server function can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    pub portone: Arc<PortOneClient>,
    pub settings: Arc<Settings>,
    /// Whether Postgres answers (`health::spawn_probe` keeps it current).
    pub db_health: Arc<DbHealth>,
    /// Webhook hints for one payment share PortOne reads (`coalesce.rs`).
    pub webhook_reads: Arc<ReadCoalescer>,
}

impl AppState {
    pub fn new(
        leptos_options: LeptosOptions,
        pool: PgPool,
        portone: Arc<PortOneClient>,
        settings: Settings,
    ) -> AppState {
        AppState {
            leptos_options,
            pool,
            portone,
            settings: Arc::new(settings),
            db_health: Arc::default(),
            webhook_reads: Arc::new(ReadCoalescer::new(crate::server::webhook::MIN_READ_GAP)),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
