//! The PortOne V2 client. Like V1's, its error classes tell a refusal (nothing happened) from
//! an unknown outcome (something may have happened); unlike V1, a cancel carries the refund's
//! `Idempotency-Key`, so resending it after an unknown outcome can never apply twice: PortOne
//! answers a finished request's replay with its first answer, and one still in flight with
//! 409 `IDEMPOTENCY_OUTSTANDING_REQUEST` (`InFlight`: unknown, never a failure).

use std::fmt;
use std::time::{Duration, Instant};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use tracing::instrument;

use crate::types::*;

/// The V2 API secret. Debug and Display never show it.
#[derive(Clone)]
pub struct ApiSecret(String);

impl ApiSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        ApiSecret(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiSecret(***)")
    }
}

impl fmt::Display for ApiSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Clone, Debug)]
pub struct PortOneV2Config {
    /// `https://api.portone.io` in production; the simulator elsewhere.
    pub base_url: String,
    pub secret: ApiSecret,
    /// Needed only where the secret serves several stores.
    pub store_id: Option<String>,
    pub connect_timeout: Duration,
    /// One HTTP request, body included (PortOne recommends at least 60 s: PGs are slow).
    pub request_timeout: Duration,
    /// One call in all, after which the caller hears `Timeout`.
    pub deadline: Duration,
}

/// The key that makes one refund one cancel at PortOne, however often it is sent: 16–256
/// visible ASCII characters, sent as an RFC 8941 string (in double quotes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn new(key: impl Into<String>) -> Option<IdempotencyKey> {
        let key = key.into();
        let visible = key.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
        ((16..=256).contains(&key.len()) && visible).then_some(IdempotencyKey(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn header_value(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

/// What went wrong, in the classes a caller must tell apart.
#[derive(Debug, thiserror::Error)]
pub enum PortOneV2Error {
    /// PortOne answered with its error body: it said no (`kind` is the spec's error type,
    /// `CancellableAmountConsistencyBrokenError` and the like) and did nothing.
    #[error("PortOne refused (HTTP {status}, {kind}): {message}")]
    Refused { status: u16, kind: String, message: String },
    /// 409 `IDEMPOTENCY_OUTSTANDING_REQUEST`: a request with this key is still being handled.
    #[error("a request with this idempotency key is still in flight at PortOne")]
    InFlight,
    /// The secret was refused.
    #[error("PortOne rejected our API secret")]
    Unauthorized,
    /// An HTTP error status without PortOne's error body (a proxy or an outage).
    #[error("PortOne answered HTTP {status} without a PortOne body")]
    HttpStatus { status: u16 },
    #[error("PortOne did not answer in time")]
    Timeout,
    #[error("could not talk to PortOne: {0}")]
    Connection(#[source] reqwest::Error),
    #[error("PortOne's answer could not be read: {0}")]
    Decode(String),
}

impl PortOneV2Error {
    /// True when the request may have been applied although we did not hear so: the caller
    /// must not assume success or failure (with the same idempotency key it may ask again).
    pub fn outcome_unknown(&self) -> bool {
        match self {
            // a PG's own error (502 `PG_PROVIDER`) is a refusal; any other 5xx may have applied
            PortOneV2Error::Refused { status, kind, .. } => {
                *status >= 500 && ErrorType::of(kind) != ErrorType::PgProvider
            }
            PortOneV2Error::InFlight => true,
            PortOneV2Error::Unauthorized => false,
            PortOneV2Error::HttpStatus { status } => {
                *status >= 500 || *status == 408 || *status == 429
            }
            PortOneV2Error::Timeout | PortOneV2Error::Connection(_) | PortOneV2Error::Decode(_) => {
                true
            }
        }
    }

    /// The spec's error type of a refusal.
    pub fn error_type(&self) -> Option<ErrorType> {
        match self {
            PortOneV2Error::Refused { kind, .. } => Some(ErrorType::of(kind)),
            _ => None,
        }
    }

    /// The class a dashboard counts: `refused`, `unknown` or `unauthorized`.
    pub fn class(&self) -> &'static str {
        match self {
            PortOneV2Error::Unauthorized => "unauthorized",
            e if e.outcome_unknown() => "unknown",
            _ => "refused",
        }
    }
}

/// Records one call in `portone_request_duration_seconds{endpoint, outcome}` (the V2 calls are
/// named `v2_payment`, `v2_cancel`).
fn observe<T>(endpoint: &'static str, started: Instant, result: &Result<T, PortOneV2Error>) {
    let outcome = match result {
        Ok(_) => "success",
        Err(e) => e.class(),
    };
    metrics::histogram!("portone_request_duration_seconds", "endpoint" => endpoint, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
}

pub struct PortOneV2Client {
    http: reqwest::Client,
    config: PortOneV2Config,
}

impl fmt::Debug for PortOneV2Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortOneV2Client").field("base_url", &self.config.base_url).finish()
    }
}

/// Everything but RFC 3986's unreserved characters is escaped in a path segment.
const PATH_SEGMENT: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn path_segment(s: &str) -> String {
    utf8_percent_encode(s, PATH_SEGMENT).to_string()
}

impl PortOneV2Client {
    pub fn new(config: PortOneV2Config) -> Result<Self, PortOneV2Error> {
        // reqwest is built without a default TLS provider; the first client installs ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("portone-refund/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(PortOneV2Error::Connection)?;
        Ok(PortOneV2Client { http, config })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.base_url.trim_end_matches('/'), path)
    }

    /// `GET /payments/{paymentId}`.
    #[instrument(skip_all, fields(payment_id))]
    pub async fn payment(&self, payment_id: &str) -> Result<Payment, PortOneV2Error> {
        let mut request = self
            .http
            .get(self.url(&format!("/payments/{}", path_segment(payment_id))))
            .header(reqwest::header::AUTHORIZATION, self.authorization());
        if let Some(store_id) = &self.config.store_id {
            request = request.query(&[("storeId", store_id)]);
        }
        self.send("v2_payment", request).await
    }

    /// `POST /payments/{paymentId}/cancel` with `key` (the same on every attempt of one
    /// refund). Answers PortOne's cancellation: `REQUESTED` (the PG completes it later),
    /// `SUCCEEDED` or `FAILED`.
    #[instrument(skip_all, fields(payment_id, amount = body.amount, current_cancellable_amount = body.current_cancellable_amount))]
    pub async fn cancel(
        &self,
        payment_id: &str,
        key: &IdempotencyKey,
        body: &CancelBody,
    ) -> Result<Cancellation, PortOneV2Error> {
        let mut body = body.clone();
        if body.store_id.is_none() {
            body.store_id = self.config.store_id.clone();
        }
        let request = self
            .http
            .post(self.url(&format!("/payments/{}/cancel", path_segment(payment_id))))
            .header(reqwest::header::AUTHORIZATION, self.authorization())
            .header("idempotency-key", key.header_value())
            .json(&body);
        let answer: CancelResponse = self.send("v2_cancel", request).await?;
        Ok(answer.cancellation)
    }

    fn authorization(&self) -> String {
        format!("PortOne {}", self.config.secret.expose())
    }

    async fn send<T: DeserializeOwned>(
        &self,
        endpoint: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<T, PortOneV2Error> {
        let started = Instant::now();
        let result = tokio::time::timeout(self.config.deadline, read(request.send().await))
            .await
            .unwrap_or(Err(PortOneV2Error::Timeout));
        observe(endpoint, started, &result);
        result
    }
}

fn transport_error(e: reqwest::Error) -> PortOneV2Error {
    if e.is_timeout() {
        PortOneV2Error::Timeout
    } else if e.is_decode() || e.is_body() {
        PortOneV2Error::Decode(e.to_string())
    } else {
        PortOneV2Error::Connection(e)
    }
}

/// A 2xx body as `T`; any other status as PortOne's error body when it sent one.
async fn read<T: DeserializeOwned>(
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, PortOneV2Error> {
    let response = response.map_err(transport_error)?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(transport_error)?;
    if (200..300).contains(&status) {
        return serde_json::from_slice(&bytes).map_err(|e| PortOneV2Error::Decode(e.to_string()));
    }
    let error = serde_json::from_slice::<ErrorBody>(&bytes).ok().filter(|e| !e.kind.is_empty());
    match (status, error) {
        (401, _) => Err(PortOneV2Error::Unauthorized),
        (409, Some(e)) if e.kind == "IDEMPOTENCY_OUTSTANDING_REQUEST" => {
            Err(PortOneV2Error::InFlight)
        }
        (_, Some(e)) => Err(PortOneV2Error::Refused {
            status,
            message: e.message.unwrap_or_default(),
            kind: e.kind,
        }),
        (_, None) => Err(PortOneV2Error::HttpStatus { status }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot HTTP server: answers `status` with `body` and hands back the request it got.
    async fn answer_once(
        status: u16,
        body: &'static str,
    ) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let served = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = socket.read(&mut buf).await.unwrap();
                seen.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&seen).to_string();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let length = text[..head_end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if seen.len() >= head_end + 4 + length {
                        break;
                    }
                }
            }
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(reply.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&seen).to_string()
        });
        (url, served)
    }

    fn client(url: &str) -> PortOneV2Client {
        PortOneV2Client::new(PortOneV2Config {
            base_url: url.into(),
            secret: ApiSecret::new("v2-secret"),
            store_id: Some("store-1".into()),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(2),
            deadline: Duration::from_secs(3),
        })
        .unwrap()
    }

    fn key() -> IdempotencyKey {
        IdempotencyKey::new("7f3a2c1d-0000-4000-8000-000000000001").unwrap()
    }

    #[tokio::test]
    async fn a_cancel_carries_the_secret_the_quoted_key_and_the_store() {
        let (url, served) = answer_once(
            200,
            r#"{"cancellation": {"status": "REQUESTED", "id": "c1", "totalAmount": 3000, "taxFreeAmount": 0, "vatAmount": 273, "reason": "r", "requestedAt": "2026-11-30T01:00:00Z"}}"#,
        )
        .await;
        let body = CancelBody { amount: Some(3000), reason: "r".into(), ..Default::default() };
        let c = client(&url).cancel("order 1/가", &key(), &body).await.unwrap();
        assert_eq!((c.status, c.total_amount), (CancellationStatus::Requested, 3000));
        let request = served.await.unwrap();
        assert!(request.starts_with("POST /payments/order%201%2F%EA%B0%80/cancel "), "{request}");
        let lower = request.to_ascii_lowercase();
        assert!(lower.contains("authorization: portone v2-secret"), "{request}");
        assert!(lower.contains("idempotency-key: \"7f3a2c1d-0000-4000-8000-000000000001\""));
        assert!(request.contains(r#""storeId":"store-1""#));
    }

    #[tokio::test]
    async fn portones_answers_fall_into_the_classes_a_refund_must_tell_apart() {
        let cases: [(u16, &str, &str, bool); 6] = [
            (409, r#"{"type": "IDEMPOTENCY_OUTSTANDING_REQUEST"}"#, "InFlight", true),
            (
                409,
                r#"{"type": "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN", "message": "m"}"#,
                "Refused",
                false,
            ),
            (502, r#"{"type": "PG_PROVIDER", "message": "PG 거절"}"#, "Refused", false),
            (401, r#"{"type": "UNAUTHORIZED"}"#, "Unauthorized", false),
            (503, "upstream down", "HttpStatus", true),
            (200, "not json", "Decode", true),
        ];
        for (status, body, class, unknown) in cases {
            let (url, _served) = answer_once(status, body).await;
            let body_sent = CancelBody { reason: "r".into(), ..Default::default() };
            let e = client(&url).cancel("o", &key(), &body_sent).await.unwrap_err();
            assert!(format!("{e:?}").starts_with(class), "{status}: {e:?}");
            assert_eq!(e.outcome_unknown(), unknown, "{status}: {e:?}");
        }
    }

    #[test]
    fn keys_are_16_to_256_visible_characters_and_the_secret_never_shows() {
        assert!(IdempotencyKey::new("short").is_none());
        assert!(IdempotencyKey::new("x".repeat(257)).is_none());
        assert!(IdempotencyKey::new("has \"quote\" inside!").is_none());
        assert!(IdempotencyKey::new("환불-환불-환불-환불-환불").is_none());
        assert!(IdempotencyKey::new("x".repeat(16)).is_some());
        let c = client("http://127.0.0.1:1");
        assert!(!format!("{:?} {}", c.config, c.config.secret).contains("v2-secret"));
    }
}
