//! V2 webhooks (version 2024-04-25): signed per Standard Webhooks (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature`: HMAC-SHA256 of `id.timestamp.body` under the
//! `whsec_…` secret), checked with the `standardwebhooks` crate, which also refuses a timestamp
//! more than five minutes off. Only a verified body is read; its type says which payment may
//! have changed — a hint, to be read back from PortOne before anything is stored.

use serde::{Deserialize, Serialize};

/// Why a webhook was not taken: the caller answers 401 and does nothing.
#[derive(Debug, thiserror::Error)]
pub enum WebhookRefusal {
    #[error("the webhook's signature, headers or timestamp did not verify: {0}")]
    Unverified(#[from] standardwebhooks::WebhookError),
    #[error("the verified body is not a V2 webhook: {0}")]
    Unreadable(String),
}

/// The webhook types the refund side acts on; every other one (and any PortOne adds) is
/// `Other`, answered 200 and ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookType {
    #[serde(rename = "Transaction.Paid")]
    TransactionPaid,
    #[serde(rename = "Transaction.PartialCancelled")]
    TransactionPartialCancelled,
    #[serde(rename = "Transaction.Cancelled")]
    TransactionCancelled,
    /// an asynchronous cancel was requested (its cancellation is `REQUESTED`)
    #[serde(rename = "Transaction.CancelPending")]
    TransactionCancelPending,
    #[serde(other)]
    Other,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookData {
    #[serde(default)]
    pub store_id: Option<String>,
    #[serde(default)]
    pub payment_id: Option<String>,
    #[serde(default)]
    pub transaction_id: Option<String>,
    #[serde(default)]
    pub cancellation_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    #[serde(rename = "type")]
    pub kind: WebhookType,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub data: WebhookData,
}

/// Verifies V2 webhooks with the shop's `whsec_…` secret.
pub struct WebhookVerifier(standardwebhooks::Webhook);

impl std::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookVerifier(***)")
    }
}

impl WebhookVerifier {
    pub fn new(secret: &str) -> Result<WebhookVerifier, WebhookRefusal> {
        Ok(WebhookVerifier(standardwebhooks::Webhook::new(secret)?))
    }

    /// The event, if the headers sign this very body within five minutes of now.
    pub fn verify(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookRefusal> {
        self.0.verify(body, headers)?;
        serde_json::from_slice(body).map_err(|e| WebhookRefusal::Unreadable(e.to_string()))
    }

    /// The `webhook-signature` value for a body (what PortOne, or the simulator, sends).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Result<String, WebhookRefusal> {
        Ok(self.0.sign(id, timestamp, body)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn signed(verifier: &WebhookVerifier, body: &str, at: i64) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert("webhook-id", "msg_1".parse().unwrap());
        headers.insert("webhook-timestamp", at.to_string().parse().unwrap());
        let signature = verifier.sign("msg_1", at, body.as_bytes()).unwrap();
        headers.insert("webhook-signature", signature.parse().unwrap());
        headers
    }

    fn now() -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
    }

    const BODY: &str = r#"{"type": "Transaction.CancelPending", "timestamp": "2026-12-01T00:00:00Z",
        "data": {"storeId": "store-1", "paymentId": "order-1", "transactionId": "tx-1", "cancellationId": "c1", "new": 1}}"#;

    #[test]
    fn a_signed_fresh_body_verifies_and_reads() {
        let verifier = WebhookVerifier::new(SECRET).unwrap();
        let event = verifier.verify(&signed(&verifier, BODY, now()), BODY.as_bytes()).unwrap();
        assert_eq!(event.kind, WebhookType::TransactionCancelPending);
        assert_eq!(event.data.payment_id.as_deref(), Some("order-1"));
        assert_eq!(event.data.cancellation_id.as_deref(), Some("c1"));
        let other = r#"{"type": "Transaction.DisputeCreated", "data": {"paymentId": "o"}}"#;
        let event = verifier.verify(&signed(&verifier, other, now()), other.as_bytes()).unwrap();
        assert_eq!(event.kind, WebhookType::Other);
    }

    #[test]
    fn a_forged_altered_stale_or_unsigned_body_is_refused() {
        let verifier = WebhookVerifier::new(SECRET).unwrap();
        let forger = WebhookVerifier::new("whsec_c2VjcmV0LW9mLXNvbWVvbmUtZWxzZQ==").unwrap();
        let forged = signed(&forger, BODY, now());
        assert!(verifier.verify(&forged, BODY.as_bytes()).is_err(), "another secret");
        let headers = signed(&verifier, BODY, now());
        let altered = BODY.replace("order-1", "order-2");
        assert!(verifier.verify(&headers, altered.as_bytes()).is_err(), "another body");
        let stale = signed(&verifier, BODY, now() - 301);
        assert!(verifier.verify(&stale, BODY.as_bytes()).is_err(), "more than 5 minutes old");
        let future = signed(&verifier, BODY, now() + 301);
        assert!(verifier.verify(&future, BODY.as_bytes()).is_err(), "from the future");
        assert!(verifier.verify(&http::HeaderMap::new(), BODY.as_bytes()).is_err(), "unsigned");
        assert!(!format!("{verifier:?}").contains("MfKQ"));
    }
}
