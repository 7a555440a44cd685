//! The refund service's server: `portone-refund` serves the app;
//! `portone-refund seed-demo <simulator-payments.json>` writes the demo data.

use std::net::SocketAddr;
use std::sync::Arc;

use leptos::prelude::get_configuration;
use portone_refund::server::{
    config::Settings, db, demo, health, metrics, refund, router, telemetry, AppState,
};
use portone_v1::PortOneClient;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    telemetry::init("info,portone_refund=debug");
    telemetry::install_crypto_provider();
    let mut conf = get_configuration(None)?;
    // cargo-leptos writes `hash.txt` beside the binary when it names assets by their hash.
    conf.leptos_options.hash_files |= std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(conf.leptos_options.hash_file.as_ref())))
        .is_some_and(|hashes| hashes.exists());
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
    if let Some(metrics_addr) = settings.metrics_addr {
        // A busy metrics port must not stop refunds: said loudly, and served without.
        match tokio::net::TcpListener::bind(metrics_addr).await {
            Ok(listener) => {
                tracing::info!("metrics on http://{}/metrics", listener.local_addr()?);
                let metrics = metrics::router(pool.clone());
                tokio::spawn(async move { axum::serve(listener, metrics).await });
            }
            Err(error) => tracing::error!(%error, %metrics_addr, "cannot serve /metrics"),
        }
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let reconciler = refund::reconcile::spawn(
        pool.clone(),
        portone.clone(),
        settings.reconcile_interval,
        settings.pipeline.lease,
        stop_rx.clone(),
    );
    let grace = settings.shutdown_grace;
    let state = AppState::new(conf.leptos_options, pool, portone, settings);
    health::spawn_probe(state.pool.clone(), state.db_health.clone());
    let app = router::build(state);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!(
            grace_secs = grace.as_secs(),
            "shutting down: no new connections; finishing requests in flight"
        );
        let _ = stop_tx.send(true);
    });
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(stopped(stop_rx.clone()));
    tokio::select! {
        served = server => served?,
        _ = async { stopped(stop_rx).await; tokio::time::sleep(grace).await } => {
            tracing::warn!("the shutdown grace period ran out with requests in flight; the reconciler finishes them");
        }
    }
    // The reconciler stops between claims; one PortOne call may still be finishing.
    if tokio::time::timeout(grace, reconciler).await.is_err() {
        tracing::warn!("the reconciler did not stop within the grace period");
    }
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM (what a deploy sends) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Resolves once shutdown has begun.
async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}
