//! A typed client of the simulator's control API (`/__sim/…`), for the integration tests, the
//! torture run and the benches: one place that knows its paths and bodies.
//!
//! One client talks to one listener: the V1 one (everything), or the V2 one, which answers
//! only `create_v2_payment` and `console_cancel` (its `{paymentId}` in place of `imp_uid`).

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::v2::NewV2Payment;
use crate::{ConfigChange, ConsoleCancel, FaultRule, MoveClock, NewPayment, StatsView};

#[derive(Clone, Debug)]
pub struct SimControl {
    http: reqwest::Client,
    url: String,
}

/// What went wrong talking to the simulator: unreachable, or it refused (status and body).
#[derive(Debug)]
pub struct ControlError(pub String);

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "simulator control: {}", self.0)
    }
}

impl std::error::Error for ControlError {}

type Result<T> = std::result::Result<T, ControlError>;

impl SimControl {
    /// The listener at `url` (`http://127.0.0.1:3100`).
    pub fn new(url: impl Into<String>) -> SimControl {
        let _ = rustls::crypto::ring::default_provider().install_default();
        SimControl { http: reqwest::Client::new(), url: url.into().trim_end_matches('/').into() }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A paid V1 payment; answers it as PortOne's V1 `Payment` object.
    pub async fn create_payment<P: DeserializeOwned>(&self, new: &NewPayment) -> Result<P> {
        self.post("/__sim/payments", new).await
    }

    /// `create_payment`, also telling what the `paid` webhook got (`notify`): the
    /// `x-sim-webhook` header, e.g. `200`.
    pub async fn create_payment_notified(&self, new: &NewPayment) -> Result<(Value, String)> {
        let res = self.send(self.http.post(self.at("/__sim/payments")).json(new)).await?;
        let webhook = res
            .headers()
            .get("x-sim-webhook")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Ok((read(res).await?, webhook))
    }

    /// A paid V2 payment (on the V2 listener); answers V2's `Payment` object.
    pub async fn create_v2_payment<P: DeserializeOwned>(&self, new: &NewV2Payment) -> Result<P> {
        self.post("/__sim/payments", new).await
    }

    /// Every payment, as V1 `Payment` objects, oldest first.
    pub async fn payments<P: DeserializeOwned>(&self) -> Result<Vec<P>> {
        self.get("/__sim/payments").await
    }

    /// A cancel made in PortOne's console (`id`: imp_uid on V1, paymentId on V2); the
    /// `cancelled` webhook goes out. Answers the payment and what the webhook got.
    pub async fn console_cancel(&self, id: &str, cancel: &ConsoleCancel) -> Result<Value> {
        self.post(&format!("/__sim/payments/{id}/cancel"), cancel).await
    }

    /// Adds fault rules (they fire in order, each as its count or probability says).
    pub async fn add_faults(&self, rules: &[FaultRule]) -> Result<()> {
        self.post::<Value>("/__sim/faults", rules).await.map(drop)
    }

    pub async fn clear_faults(&self) -> Result<()> {
        self.send(self.http.delete(self.at("/__sim/faults"))).await.map(drop)
    }

    /// Moves PortOne's clock; answers its unix time now.
    pub async fn move_clock(&self, change: &MoveClock) -> Result<i64> {
        let now: Value = self.post("/__sim/clock", change).await?;
        now["now"].as_i64().ok_or_else(|| ControlError(format!("clock answered {now}")))
    }

    /// Changes what `change` names; answers the whole configuration.
    pub async fn set_config(&self, change: &ConfigChange) -> Result<Value> {
        self.post("/__sim/config", change).await
    }

    /// Back to the payments present at start, no faults, the real clock, default settings.
    pub async fn reset(&self) -> Result<()> {
        self.send(self.http.post(self.at("/__sim/reset"))).await.map(drop)
    }

    pub async fn stats(&self) -> Result<StatsView> {
        self.get("/__sim/stats").await
    }

    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<T> {
        read(self.send(self.http.post(self.at(path)).json(body)).await?).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        read(self.send(self.http.get(self.at(path))).await?).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let res = request.send().await.map_err(|e| ControlError(e.to_string()))?;
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        Err(ControlError(format!("{status}: {body}")))
    }
}

async fn read<T: DeserializeOwned>(res: reqwest::Response) -> Result<T> {
    let text = res.text().await.map_err(|e| ControlError(e.to_string()))?;
    // an empty answer reads as JSON null (for `()`-like answers)
    serde_json::from_str(if text.is_empty() { "null" } else { &text })
        .map_err(|e| ControlError(format!("{e}: {text}")))
}
