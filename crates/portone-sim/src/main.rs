//! `portone-sim`: the PortOne simulator as its own process (used by `make run`): V1 on
//! `--addr`, V2 on `--v2-addr` when given, one ledger behind both.

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
    /// Where the V2 API listens (none: V1 only).
    #[arg(long, env = "SIM_V2_ADDR")]
    v2_addr: Option<SocketAddr>,
    /// The V2 API secret the simulator accepts.
    #[arg(long, env = "SIM_V2_SECRET", default_value = sim::v2::DEMO_V2_SECRET, hide_default_value = true)]
    v2_secret: String,
    /// How long a V2 virtual-account refund stays REQUESTED before it is applied (ms).
    #[arg(long, default_value_t = 0)]
    v2_vbank_delay_ms: u64,
    /// Where to send V2 webhooks (signed per Standard Webhooks).
    #[arg(long, env = "SIM_V2_WEBHOOK_URL")]
    v2_webhook_url: Option<String>,
    /// The `whsec_…` secret V2 webhooks are signed with.
    #[arg(long, env = "SIM_V2_WEBHOOK_SECRET", default_value = sim::v2::DEMO_V2_WEBHOOK_SECRET, hide_default_value = true)]
    v2_webhook_secret: String,
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
        v2_secret: args.v2_secret,
        v2_vbank_delay_ms: args.v2_vbank_delay_ms,
        v2_webhook_secret: args.v2_webhook_secret,
        v2_webhook_url: args.v2_webhook_url,
    };
    let listener = tokio::net::TcpListener::bind(args.addr).await?;
    tracing::info!(addr = %listener.local_addr()?, payments = count, "PortOne simulator listening");
    let simulator = sim::Simulator::new(config);
    if let Some(v2_addr) = args.v2_addr {
        let v2 = tokio::net::TcpListener::bind(v2_addr).await?;
        tracing::info!(addr = %v2.local_addr()?, "PortOne V2 simulator listening");
        let router = sim::v2::router(simulator.clone());
        tokio::spawn(async move { axum::serve(v2, router).await });
    }
    axum::serve(listener, sim::router(simulator))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
