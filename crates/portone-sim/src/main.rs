//! `portone-sim`: the PortOne V1 simulator as its own process (used by `make run`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use portone_sim::{self as sim, CancelPolicy, SimConfig, SimPayment};

#[derive(Parser, Debug)]
#[command(about = "A stateful PortOne V1 simulator with fault injection")]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SIM_ADDR", default_value = "127.0.0.1:3100")]
    addr: SocketAddr,
    /// REST API key the simulator accepts.
    #[arg(long, env = "SIM_IMP_KEY", default_value = sim::DEMO_IMP_KEY)]
    imp_key: String,
    /// REST API secret the simulator accepts.
    #[arg(long, env = "SIM_IMP_SECRET", default_value = sim::DEMO_IMP_SECRET, hide_default_value = true)]
    imp_secret: String,
    /// Where to send V1 webhooks (console cancels, `notify` payments).
    #[arg(long, env = "SIM_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// A JSON array of V1 Payment objects to load at start.
    #[arg(long, env = "SIM_PAYMENTS_FILE")]
    payments: Option<PathBuf>,
    /// Allow partial cancels of KCP phone payments (a merchant option at KCP).
    #[arg(long)]
    kcp_phone_partial: bool,
    /// Seed for every random choice (faults, ids), so a run can be replayed.
    #[arg(long, env = "SIM_SEED")]
    seed: Option<u64>,
    /// Let cancels of one payment interleave between PortOne's check and its apply.
    #[arg(long)]
    concurrent_cancels: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let args = Args::parse();
    let initial_payments: Vec<SimPayment> = match &args.payments {
        Some(path) => serde_json::from_slice(&tokio::fs::read(path).await?)?,
        None => Vec::new(),
    };
    let count = initial_payments.len();
    let config = SimConfig {
        imp_key: args.imp_key,
        imp_secret: args.imp_secret,
        webhook_url: args.webhook_url,
        policy: CancelPolicy { kcp_phone_partial: args.kcp_phone_partial },
        initial_payments,
        seed: args.seed,
        serialize_cancels: !args.concurrent_cancels,
    };
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, payments = count, "PortOne simulator listening");
    axum::serve(listener, sim::router(sim::Simulator::new(config)))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
