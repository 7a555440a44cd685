//! `portone-demo`: the demo's own commands, for `make run`, the browser tests and the benches.
//! `portone-demo seed [<simulator-payments.json>]` writes the demo accounts and orders and the
//! file the simulator loads; `portone-demo shop` (development only) prints a demo API key
//! (`SHOP_API_KEY=…`), the shop-login secret (`SHOP_LOGIN_SECRET=…`) and a sign-in link for
//! 김민수. Settings come from the same environment as the app's (`DATABASE_URL`, `DEV_MODE`,
//! `LEPTOS_SITE_ADDR`, …).

mod seed;

use std::net::SocketAddr;

use portone_refund::server::{config::Settings, db, shop, telemetry};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init("info,portone_refund=debug,portone_demo=debug");
    telemetry::install_crypto_provider();
    let addr: SocketAddr = std::env::var("LEPTOS_SITE_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".to_string())
        .parse()?;
    let settings = Settings::from_env(&addr)?;
    let pool = db::connect(&settings.database_url).await?;
    db::MIGRATOR.run(&pool).await?;

    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["seed", rest @ ..] => {
            let written = seed::seed(&pool).await?;
            let payments = seed::simulator_payments(&pool).await?;
            if let Some(path) = rest.first() {
                tokio::fs::write(path, serde_json::to_vec_pretty(&payments)?).await?;
            }
            tracing::info!(seeded = written, payments = payments.len(), "demo data ready");
        }
        ["shop"] if settings.development => {
            let base_url = settings.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
            let key = shop::keys::create(&pool, "데모 쇼핑몰", true, "system:demo").await?;
            println!("SHOP_API_KEY={}", key.key);
            if let Some(secret) = &settings.shop_login_secret {
                println!("SHOP_LOGIN_SECRET={}", secret.0);
                println!("{}", seed::minsu_login_link(&base_url, secret.0.as_bytes()));
            }
        }
        ["shop"] => {
            eprintln!("portone-demo shop: only with DEV_MODE=1");
            std::process::exit(2);
        }
        _ => {
            eprintln!("usage: portone-demo [seed [<simulator-payments.json>] | shop]");
            std::process::exit(2);
        }
    }
    Ok(())
}
