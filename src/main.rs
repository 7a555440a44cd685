//! The refund service's server: `portone-refund` serves the app;
//! `portone-refund seed-demo <simulator-payments.json>` writes the demo data.

use std::net::SocketAddr;
use std::sync::Arc;

use leptos::prelude::get_configuration;
use portone_refund::server::{config::Settings, db, demo, refund, router, telemetry, AppState};
use portone_v1::PortOneClient;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    telemetry::init("info,portone_refund=debug");
    telemetry::install_crypto_provider();
    let conf = get_configuration(None)?;
    let addr = conf.leptos_options.site_addr;
    let settings = Settings::from_env(&addr)?;
    let pool = db::connect(&settings.database_url).await?;
    db::MIGRATOR.run(&pool).await?;

    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("seed-demo") {
        let written = demo::seed(&pool).await?;
        let payments = demo::simulator_payments(&pool).await?;
        if let Some(path) = args.get(1) {
            tokio::fs::write(path, serde_json::to_vec_pretty(&payments)?).await?;
        }
        tracing::info!(seeded = written, payments = payments.len(), "demo data ready");
        return Ok(());
    }

    // Expired sessions are deleted hourly.
    {
        use tower_sessions::session_store::ExpiredDeletion;
        let store = tower_sessions_sqlx_store::PostgresStore::new(pool.clone());
        tokio::spawn(store.continuously_delete_expired(std::time::Duration::from_secs(3600)));
    }
    let portone = Arc::new(PortOneClient::new(settings.portone.clone())?);
    refund::reconcile::spawn(
        pool.clone(),
        portone.clone(),
        settings.reconcile_interval,
        settings.pipeline.lease,
    );
    let state = AppState {
        leptos_options: conf.leptos_options,
        pool,
        portone,
        settings: Arc::new(settings),
    };
    let app = router::build(state);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
