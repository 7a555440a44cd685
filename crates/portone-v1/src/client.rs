//! The PortOne V1 client. The refund pipeline depends on its error classes: an API refusal
//! (nothing happened) is not a timeout (something may have happened).

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tokio::sync::Mutex;
use tracing::instrument;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::text::PaymentText;
use crate::types::*;

/// The REST API secret. Debug and Display never show it.
#[derive(Clone)]
pub struct ImpSecret(String);

impl ImpSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        ImpSecret(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ImpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ImpSecret(***)")
    }
}

impl fmt::Display for ImpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Clone, Debug)]
pub struct PortOneConfig {
    /// `https://api.iamport.kr` in production; the simulator elsewhere.
    pub base_url: String,
    pub imp_key: String,
    pub imp_secret: ImpSecret,
    pub connect_timeout: Duration,
    /// Total time for one HTTP request, including reading the body.
    pub request_timeout: Duration,
    /// Total time for one call — token, request, and the one resend after a 401 — after
    /// which the caller hears `Timeout`. A refund's lease must outlast it (config.rs checks).
    pub deadline: Duration,
}

/// What went wrong, in the classes a caller must tell apart.
#[derive(Debug, thiserror::Error)]
pub enum PortOneError {
    /// The API answered with its envelope and `code != 0`: it said no, and did nothing.
    #[error("PortOne refused (HTTP {status}, code {code}): {message}")]
    Refused { status: u16, code: i64, message: String },
    /// Still 401 after one token refresh: wrong key/secret.
    #[error("PortOne rejected our credentials")]
    Unauthorized,
    /// An HTTP error status without a PortOne envelope (a proxy or an outage).
    #[error("PortOne answered HTTP {status} without a PortOne body")]
    HttpStatus { status: u16 },
    #[error("PortOne did not answer in time")]
    Timeout,
    #[error("could not talk to PortOne: {0}")]
    Connection(#[source] reqwest::Error),
    #[error("PortOne's answer could not be read: {0}")]
    Decode(String),
}

impl PortOneError {
    /// True when the request may have been applied although we did not hear so:
    /// the caller must not assume success or failure.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            PortOneError::Refused { status, .. } => *status >= 500,
            PortOneError::Unauthorized => false,
            PortOneError::HttpStatus { status } => {
                *status >= 500 || *status == 408 || *status == 429
            }
            PortOneError::Timeout | PortOneError::Connection(_) | PortOneError::Decode(_) => true,
        }
    }

    /// The class a dashboard counts: `refused`, `unknown` or `unauthorized`.
    pub fn class(&self) -> &'static str {
        match self {
            PortOneError::Unauthorized => "unauthorized",
            e if e.outcome_unknown() => "unknown",
            _ => "refused",
        }
    }
}

/// Records one call in `portone_request_duration_seconds{endpoint, outcome}`.
fn observe<T>(endpoint: &'static str, started: Instant, result: &Result<T, PortOneError>) {
    let outcome = match result {
        Ok(_) => "success",
        Err(e) => e.class(),
    };
    metrics::histogram!("portone_request_duration_seconds", "endpoint" => endpoint, "outcome" => outcome)
        .record(started.elapsed().as_secs_f64());
}

struct CachedToken {
    token: String,
    /// local deadline: local now + (expired_at − server now) − safety margin
    refresh_at: Instant,
}

/// Refresh this long before PortOne's expiry, so a request never leaves with a dying token.
const TOKEN_SAFETY_MARGIN: Duration = Duration::from_secs(60);

pub struct PortOneClient {
    http: reqwest::Client,
    config: PortOneConfig,
    // One refresh at a time: callers wait on the lock instead of each fetching a token.
    token: Mutex<Option<CachedToken>>,
}

impl fmt::Debug for PortOneClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortOneClient").field("base_url", &self.config.base_url).finish()
    }
}

impl PortOneClient {
    pub fn new(config: PortOneConfig) -> Result<Self, PortOneError> {
        // reqwest is built without a default TLS provider; the first client installs ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("portone-refund/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(PortOneError::Connection)?;
        Ok(PortOneClient { http, config, token: Mutex::new(None) })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.base_url.trim_end_matches('/'), path)
    }

    /// A valid access token, from the cache when it has life left.
    pub async fn access_token(&self) -> Result<String, PortOneError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref() {
            if Instant::now() < t.refresh_at {
                return Ok(t.token.clone());
            }
        }
        let fresh = self.fetch_token().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// After a 401 with `rejected`: fetch a new token unless another caller already did.
    async fn token_after_rejection(&self, rejected: &str) -> Result<String, PortOneError> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref() {
            if t.token != rejected && Instant::now() < t.refresh_at {
                return Ok(t.token.clone());
            }
        }
        *cached = None;
        let fresh = self.fetch_token().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    #[instrument(skip_all, fields(base_url = %self.config.base_url))]
    async fn fetch_token(&self) -> Result<CachedToken, PortOneError> {
        let asked_at = Instant::now();
        let body = TokenRequest {
            imp_key: self.config.imp_key.clone(),
            imp_secret: self.config.imp_secret.expose().to_string(),
        };
        let response = self.http.post(self.url("/users/getToken")).json(&body).send().await;
        let read =
            read_body(response).await.and_then(|(s, b)| decode::<AccessToken>(&envelope(s, &b)?));
        observe("getToken", asked_at, &read);
        let token: AccessToken = match read {
            Err(PortOneError::HttpStatus { status: 401 })
            | Err(PortOneError::Refused { status: 401, .. }) => {
                return Err(PortOneError::Unauthorized)
            }
            other => other?,
        };
        // Lifetime from PortOne's own clock difference, so our clock's skew does not matter.
        let lifetime =
            Duration::from_secs(token.expired_at.saturating_sub(token.now).max(0) as u64);
        let refresh_at = asked_at + lifetime.saturating_sub(TOKEN_SAFETY_MARGIN);
        tracing::debug!(lifetime_s = lifetime.as_secs(), "PortOne token issued");
        Ok(CachedToken { token: token.access_token, refresh_at })
    }

    /// Sends an authorised request; on 401 refreshes the token once and resends the same
    /// request (safe for cancels: the checksum is unchanged, so a repeat cannot refund twice).
    /// `endpoint` names the call in metrics (the path holds ids); `read` reads the answer.
    async fn authorised<T>(
        &self,
        endpoint: &'static str,
        call: Call<'_>,
        read: ReadAnswer<T>,
    ) -> Result<T, PortOneError> {
        let started = Instant::now();
        let result = tokio::time::timeout(self.config.deadline, self.authorised_once(call, read))
            .await
            .unwrap_or(Err(PortOneError::Timeout));
        observe(endpoint, started, &result);
        result
    }

    async fn authorised_once<T>(
        &self,
        Call { method, path, query, json_body }: Call<'_>,
        read: ReadAnswer<T>,
    ) -> Result<T, PortOneError> {
        let mut token = self.access_token().await?;
        for attempt in 0..2 {
            let mut request = self
                .http
                .request(method.clone(), self.url(path))
                .header(reqwest::header::AUTHORIZATION, format!("Bearer {token}"))
                .query(query);
            if let Some(bytes) = &json_body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(bytes.clone());
            }
            match read_body(request.send().await).await.and_then(|(s, b)| read(s, &b)) {
                Err(PortOneError::HttpStatus { status: 401 })
                | Err(PortOneError::Refused { status: 401, .. }) => {
                    if attempt == 0 {
                        tracing::info!(path, "PortOne answered 401; refreshing the token once");
                        token = self.token_after_rejection(&token).await?;
                        continue;
                    }
                    return Err(PortOneError::Unauthorized);
                }
                other => return other,
            }
        }
        Err(PortOneError::Unauthorized)
    }

    /// `POST /payments/cancel`, every entry of the answer's history parsed.
    pub async fn cancel(&self, request: &CancelRequest) -> Result<Payment, PortOneError> {
        self.cancel_text(request).await?.to_payment().map_err(undecodable)
    }

    /// `POST /payments/cancel`, its answer's history entries left as text until asked for.
    #[instrument(skip_all, fields(imp_uid = request.imp_uid.as_deref(), amount = request.amount, checksum = request.checksum))]
    pub async fn cancel_text(&self, request: &CancelRequest) -> Result<PaymentText, PortOneError> {
        let body = serde_json::to_vec(request).map_err(undecodable)?;
        let call = Call::post("/payments/cancel", body);
        self.authorised("cancel", call, |status, body| {
            // the usual answer in one pass; any other the general way, which tells why
            match status.is_success().then(|| PaymentText::from_envelope(body)).flatten() {
                Some(payment) => Ok(payment),
                None => PaymentText::parse(envelope(status, body)?).map_err(undecodable),
            }
        })
        .await
    }

    /// `GET /payments/{imp_uid}`; sandbox payments are found only with `include_sandbox`.
    #[instrument(skip_all, fields(imp_uid))]
    pub async fn payment(
        &self,
        imp_uid: &str,
        include_sandbox: bool,
    ) -> Result<Payment, PortOneError> {
        let path = format!("/payments/{}", path_segment(imp_uid));
        let query = [("include_sandbox", include_sandbox.to_string())];
        let call = Call { query: &query, ..Call::get(&path) };
        self.authorised("payment", call, |s, b| payment_from(envelope(s, b)?)).await
    }

    /// `GET /payments/{imp_uid}/balance`: the tax-free, supply and VAT parts and what remains.
    #[instrument(skip_all, fields(imp_uid))]
    pub async fn balance(&self, imp_uid: &str) -> Result<PaymentBalance, PortOneError> {
        let path = format!("/payments/{}/balance", path_segment(imp_uid));
        self.authorised("balance", Call::get(&path), |s, b| decode(&envelope(s, b)?)).await
    }

    /// `GET /payments/find/{merchant_uid}`.
    #[instrument(skip_all, fields(merchant_uid))]
    pub async fn find_by_merchant_uid(&self, merchant_uid: &str) -> Result<Payment, PortOneError> {
        let path = format!("/payments/find/{}", path_segment(merchant_uid));
        self.authorised("find", Call::get(&path), |s, b| payment_from(envelope(s, b)?)).await
    }
}

/// Everything but RFC 3986's unreserved characters is escaped in a path segment.
const PATH_SEGMENT: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn path_segment(s: &str) -> String {
    utf8_percent_encode(s, PATH_SEGMENT).to_string()
}

fn transport_error(e: reqwest::Error) -> PortOneError {
    if e.is_timeout() {
        PortOneError::Timeout
    } else if e.is_decode() || e.is_body() {
        PortOneError::Decode(e.to_string())
    } else {
        PortOneError::Connection(e)
    }
}

/// JSON that could not be read (or written) as the type at hand.
fn undecodable(e: serde_json::Error) -> PortOneError {
    PortOneError::Decode(e.to_string())
}

fn decode<T: DeserializeOwned>(raw: &RawValue) -> Result<T, PortOneError> {
    serde_json::from_str(raw.get()).map_err(undecodable)
}

fn payment_from(raw: Box<RawValue>) -> Result<Payment, PortOneError> {
    Payment::from_raw(raw).map_err(undecodable)
}

/// An authorised call: what `authorised` sends.
struct Call<'a> {
    method: reqwest::Method,
    path: &'a str,
    query: &'a [(&'a str, String)],
    json_body: Option<Vec<u8>>,
}

impl<'a> Call<'a> {
    fn get(path: &'a str) -> Self {
        Call { method: reqwest::Method::GET, path, query: &[], json_body: None }
    }

    fn post(path: &'a str, json_body: Vec<u8>) -> Self {
        Call { method: reqwest::Method::POST, path, query: &[], json_body: Some(json_body) }
    }
}

/// How a call reads PortOne's answer from its status and body.
type ReadAnswer<T> = fn(StatusCode, &[u8]) -> Result<T, PortOneError>;

async fn read_body(
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<(StatusCode, bytes::Bytes), PortOneError> {
    let response = response.map_err(transport_error)?;
    let status = response.status();
    Ok((status, response.bytes().await.map_err(transport_error)?))
}

/// Reads the `{code, message, response}` envelope from any status (4xx bodies carry the
/// reason, which PortOne's own Python client used to drop). The response is answered as the
/// JSON text it came in (checked, not parsed into values): the caller reads it once, into
/// its type.
fn envelope(status: StatusCode, bytes: &[u8]) -> Result<Box<RawValue>, PortOneError> {
    match serde_json::from_slice::<Envelope<Box<RawValue>>>(bytes) {
        Ok(env) if env.code != 0 || !status.is_success() => Err(PortOneError::Refused {
            status: status.as_u16(),
            code: env.code,
            message: env.message.unwrap_or_default(),
        }),
        Ok(Envelope { response: Some(raw), .. }) => Ok(raw),
        Ok(_) => Err(PortOneError::Decode("code 0 without a response".into())),
        Err(_) if status == StatusCode::UNAUTHORIZED || !status.is_success() => {
            Err(PortOneError::HttpStatus { status: status.as_u16() })
        }
        Err(e) => Err(undecodable(e)),
    }
}
