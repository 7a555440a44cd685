//! The app as one piece, built one way: `main` and the integration tests both call
//! [`Application::build`] with a [`Settings`] (read by `Settings::from_vars`, from the
//! environment or a test's table), Leptos' options and a pool. The PortOne clients, the state
//! every handler reaches and the routes all come from those three.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::LeptosOptions;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::server::config::Settings;
use crate::server::{health, metrics, outbox, refund, refund_totals, router, AppState};

/// How often 환불 내역's kept sums fold their appended changes (readers add unfolded ones).
const FOLD_EVERY: Duration = Duration::from_secs(5);
/// How often expired sessions are deleted.
const SESSION_CLEANUP_EVERY: Duration = Duration::from_secs(3600);

pub struct Application {
    state: AppState,
}

/// The background work of a running instance; each stops between steps once told to.
pub struct Workers {
    pub reconciler: JoinHandle<()>,
    pub deliveries: JoinHandle<()>,
}

impl Application {
    /// The state and routes for `settings`. Fails when the V1 client cannot be built (its TLS
    /// setup); V2's, built inside `AppState::new`, is logged and left out instead.
    pub fn build(
        settings: Settings,
        leptos_options: LeptosOptions,
        pool: PgPool,
    ) -> Result<Application, portone_v1::PortOneError> {
        let v1 = match settings.portone.clone() {
            Some(config) => Some(Arc::new(portone_v1::PortOneClient::new(config)?)),
            None => None,
        };
        Ok(Application { state: AppState::new(leptos_options, pool, v1, settings) })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves the app on `listener` until `shutdown` resolves (`main`: `stopped(…)`; tests:
    /// never); new connections stop then, and requests in flight are finished. Postgres'
    /// health is probed meanwhile (`health.rs`).
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        health::spawn_probe(self.state.pool.clone(), self.state.db_health.clone());
        let app = router::build(self.state);
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// What a running instance does besides answering: the reconciler and its sweep, event
    /// deliveries to the shop, the kept sums' fold, expired-session cleanup and `/metrics`.
    pub async fn spawn_workers(&self, stop: &watch::Receiver<bool>) -> Workers {
        let (state, settings) = (&self.state, &self.state.settings);
        {
            use tower_sessions::session_store::ExpiredDeletion;
            let store = tower_sessions_sqlx_store::PostgresStore::new(state.pool.clone());
            tokio::spawn(store.continuously_delete_expired(SESSION_CLEANUP_EVERY));
        }
        if let Some(metrics_addr) = settings.metrics_addr {
            // A busy metrics port must not stop refunds: said loudly, and served without.
            match tokio::net::TcpListener::bind(metrics_addr).await {
                Ok(listener) => {
                    if let Ok(addr) = listener.local_addr() {
                        tracing::info!("metrics on http://{addr}/metrics");
                    }
                    let metrics = metrics::router(state.pool.clone());
                    tokio::spawn(async move { axum::serve(listener, metrics).await });
                }
                Err(error) => tracing::error!(%error, %metrics_addr, "cannot serve /metrics"),
            }
        }
        let _folds = refund_totals::spawn_fold(state.pool.clone(), FOLD_EVERY, stop.clone());
        Workers {
            reconciler: refund::reconcile::spawn(
                state.pool.clone(),
                state.portone.clone(),
                settings.reconcile_interval,
                settings.pipeline.clone(),
                settings.sweep.clone(),
                stop.clone(),
            ),
            deliveries: outbox::deliver::spawn(
                state.pool.clone(),
                settings.shop_webhooks.clone(),
                stop.clone(),
            ),
        }
    }
}

/// Resolves once shutdown has begun.
pub async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}
