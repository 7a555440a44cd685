//! The processes of a torture run: the simulator and two app instances, started from the
//! binaries cargo built, each logging to its own file; app instances can be killed with
//! SIGKILL and started again on the same port.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn log_file(dir: &Path, name: &str) -> std::io::Result<(Stdio, Stdio)> {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(name))?;
    Ok((Stdio::from(file.try_clone()?), Stdio::from(file)))
}

/// Waits until `url` answers at all (any status).
pub async fn wait_until_up(url: &str, within: Duration) -> Result<(), String> {
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if http.get(url).timeout(Duration::from_millis(500)).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("{url} did not come up within {within:?}"))
}

pub struct Simulator {
    pub url: String,
    /// its PortOne V2 listener, over the same ledger
    pub v2_url: String,
    /// the V2 API secret it takes, and the `whsec_…` secret it signs V2 webhooks with
    pub v2_secret: String,
    pub v2_webhook_secret: String,
    _child: Child,
}

/// The simulator, speaking V1 and V2, sending V1 webhooks to `app_url`'s `/portone/webhook`
/// and signed V2 webhooks to its `/portone/webhook/v2`.
pub async fn start_simulator(
    bin: &Path,
    logs: &Path,
    seed: u64,
    app_url: &str,
) -> Result<Simulator, String> {
    let (port, v2_port) = (free_port(), free_port());
    let v2_secret = format!("torture-v2-secret-{seed}");
    let v2_webhook_secret = {
        use base64::Engine;
        let key = format!("torture-webhook-secret-{seed}");
        format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key))
    };
    let (out, err) = log_file(logs, "simulator.log").map_err(|e| e.to_string())?;
    let child = Command::new(bin)
        .args([
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--v2-addr",
            &format!("127.0.0.1:{v2_port}"),
            "--webhook-url",
            &format!("{app_url}/portone/webhook"),
            "--v2-webhook-url",
            &format!("{app_url}/portone/webhook/v2"),
            "--v2-secret",
            &v2_secret,
            "--v2-webhook-secret",
            &v2_webhook_secret,
            "--seed",
            &seed.to_string(),
        ])
        .env("RUST_LOG", "warn")
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let url = format!("http://127.0.0.1:{port}");
    wait_until_up(&format!("{url}/__sim/stats"), Duration::from_secs(20)).await?;
    let v2_url = format!("http://127.0.0.1:{v2_port}");
    wait_until_up(&format!("{v2_url}/payments/none"), Duration::from_secs(20)).await?;
    Ok(Simulator { url, v2_url, v2_secret, v2_webhook_secret, _child: child })
}

/// One app instance; `restart` kills it with SIGKILL (no graceful anything) and starts it again.
pub struct AppInstance {
    pub name: String,
    pub port: u16,
    bin: PathBuf,
    logs: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl AppInstance {
    pub fn new(name: &str, bin: &Path, logs: &Path, env: Vec<(String, String)>) -> AppInstance {
        AppInstance {
            name: name.into(),
            port: free_port(),
            bin: bin.into(),
            logs: logs.into(),
            env,
            child: None,
        }
    }

    /// The environment it starts with (kept across restarts).
    pub fn set_env(&mut self, env: Vec<(String, String)>) {
        self.env = env;
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn start(&mut self) -> Result<(), String> {
        let (out, err) =
            log_file(&self.logs, &format!("{}.log", self.name)).map_err(|e| e.to_string())?;
        let child = Command::new(&self.bin)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{}", self.port))
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        wait_until_up(&format!("{}/healthz", self.url()), Duration::from_secs(30)).await
    }

    pub async fn kill_and_restart(&mut self) -> Result<(), String> {
        if let Some(mut child) = self.child.take() {
            child.start_kill().map_err(|e| e.to_string())?;
            let _ = child.wait().await;
        }
        self.start().await
    }
}
