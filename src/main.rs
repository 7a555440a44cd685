//! The refund service's server: `portone-refund` serves the app. Commands for operators:
//! `portone-refund api-key create <name>` prints a new shop API key (once);
//! `portone-refund admin create <email>` prints a one-time link (24 h) to become an admin.
//! The demo's data and demo shop key come from `portone-demo` (`crates/demo`), never from here.

use leptos::prelude::get_configuration;
use portone_refund::server::actor::Actor;
use portone_refund::server::application::{stopped, Application};
use portone_refund::server::{admins, config::Settings, db, shop, telemetry};

// Many small, short-lived allocations per request (PortOne's answer read into strings, the
// page's HTML): 5–9 % less of the server's CPU per refund than the system allocator
// (docs/measurements.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let base_url = settings.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let cli = Actor::Cli.to_string();
    match args.as_slice() {
        [] => {}
        ["api-key", "create", name] => {
            let key = shop::keys::create(&pool, name, settings.development, &cli).await?;
            println!("{}", key.key);
            eprintln!("API 키가 만들어졌습니다 (#{}). 이 키는 다시 보여 드리지 않습니다.", key.id);
            return Ok(());
        }
        ["admin", "create", email] => {
            let invite = admins::invite(&pool, email, &cli).await?;
            println!("{base_url}{}", invite.path());
            eprintln!(
                "{email} 님의 관리자 초대 링크입니다. {}시간 동안 한 번 쓸 수 있습니다.",
                admins::INVITE_HOURS
            );
            return Ok(());
        }
        _ => {
            eprintln!("usage: portone-refund [api-key create <name> | admin create <email>]");
            std::process::exit(2);
        }
    }

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let grace = settings.shutdown_grace;
    let app = Application::build(settings, conf.leptos_options, pool)?;
    let workers = app.spawn_workers(&stop_rx).await;
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
    tokio::select! {
        served = app.serve(listener, stopped(stop_rx.clone())) => served?,
        _ = async { stopped(stop_rx).await; tokio::time::sleep(grace).await } => {
            tracing::warn!("the shutdown grace period ran out with requests in flight; the reconciler finishes them");
        }
    }
    // The reconciler stops between claims; one PortOne call may still be finishing.
    if tokio::time::timeout(grace, workers.reconciler).await.is_err() {
        tracing::warn!("the reconciler did not stop within the grace period");
    }
    if tokio::time::timeout(grace, workers.deliveries).await.is_err() {
        tracing::warn!("event deliveries did not stop within the grace period");
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
