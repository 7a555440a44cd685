use std::sync::Arc;

use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use sqlx::PgPool;

use portone_v1::PortOneClient;

use crate::server::gateway::Gateway;

use crate::server::coalesce::ReadCoalescer;
use crate::server::config::Settings;
use crate::server::health::DbHealth;

/// What every handler and server function can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub pool: PgPool,
    /// PortOne, V1 and V2 behind one door (`gateway`).
    pub portone: Arc<Gateway>,
    pub settings: Arc<Settings>,
    /// Whether Postgres answers (`health::spawn_probe` keeps it current).
    pub db_health: Arc<DbHealth>,
    /// Verifies V2 webhooks (`PORTONE_V2_WEBHOOK_SECRET`), when set.
    pub v2_webhooks: Option<Arc<portone_v2::WebhookVerifier>>,
    /// Webhook hints for one payment share PortOne reads (`coalesce.rs`).
    pub webhook_reads: Arc<ReadCoalescer>,
    /// Signed-in accounts as last read, for a few seconds (`sessions.rs`).
    pub users: crate::server::sessions::Users,
}

impl AppState {
    pub fn new(
        leptos_options: LeptosOptions,
        pool: PgPool,
        v1: Option<Arc<PortOneClient>>,
        settings: Settings,
    ) -> AppState {
        let portone_v2 = settings.portone_v2.as_ref().and_then(|v2| {
            portone_v2::PortOneV2Client::new(v2.client.clone())
                .map_err(|error| tracing::error!(%error, "cannot build the PortOne V2 client"))
                .ok()
                .map(Arc::new)
        });
        let v2_webhooks = settings
            .portone_v2
            .as_ref()
            .and_then(|v2| v2.webhook_secret.as_ref())
            .and_then(|secret| portone_v2::WebhookVerifier::new(&secret.0).ok())
            .map(Arc::new);
        AppState {
            v2_webhooks,
            leptos_options,
            pool,
            portone: Arc::new(Gateway::new(v1, portone_v2)),
            settings: Arc::new(settings),
            db_health: Arc::default(),
            webhook_reads: Arc::new(ReadCoalescer::new(crate::server::webhook::MIN_READ_GAP)),
            users: Default::default(),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
