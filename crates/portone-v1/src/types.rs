//! The V1 wire format. Lenient by design: fields it does not name are ignored here and kept in
//! the JSON the client read (`Payment::raw`, stored with the payment), unknown enum strings are
//! kept, and amounts are parsed into integer won, refusing fractions.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// `{code, message, response}`: every V1 answer. `code != 0` means the API said no.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Envelope<T> {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default = "none")]
    pub response: Option<T>,
}

fn none<T>() -> Option<T> {
    None
}

impl<T> Envelope<T> {
    pub fn ok(response: T) -> Self {
        Envelope { code: 0, message: None, response: Some(response) }
    }

    pub fn refusal(code: i64, message: impl Into<String>) -> Self {
        Envelope { code, message: Some(message.into()), response: None }
    }
}

/// Debug (below) never shows the secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenRequest {
    pub imp_key: String,
    pub imp_secret: String,
}

/// Debug (below) never shows the token.
#[derive(Clone, Serialize, Deserialize)]
pub struct AccessToken {
    pub access_token: String,
    /// the server's clock, unix seconds
    pub now: i64,
    pub expired_at: i64,
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("imp_key", &self.imp_key)
            .field("imp_secret", &"***")
            .finish()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("access_token", &"***")
            .field("now", &self.now)
            .field("expired_at", &self.expired_at)
            .finish()
    }
}

/// A PortOne `status`. Unknown values are kept, never rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentStatus {
    Ready,
    Paid,
    Cancelled,
    Failed,
    Other(String),
}

impl PaymentStatus {
    pub fn as_str(&self) -> &str {
        match self {
            PaymentStatus::Ready => "ready",
            PaymentStatus::Paid => "paid",
            PaymentStatus::Cancelled => "cancelled",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "ready" => PaymentStatus::Ready,
            "paid" => PaymentStatus::Paid,
            "cancelled" => PaymentStatus::Cancelled,
            "failed" => PaymentStatus::Failed,
            other => PaymentStatus::Other(other.to_string()),
        }
    }
}

impl Serialize for PaymentStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PaymentStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(PaymentStatus::parse(&String::deserialize(d)?))
    }
}

/// Parses a JSON number (or numeric string, as form bodies carry) into whole won.
pub fn won_from_value(v: &Value) -> Result<i64, String> {
    let n = match v {
        Value::Number(n) => n.clone(),
        Value::String(s) => serde_json::from_str::<serde_json::Number>(s.trim())
            .map_err(|_| format!("not a number: {s:?}"))?,
        Value::Null => return Ok(0),
        other => return Err(format!("not a number: {other}")),
    };
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        _ => Err(format!("not a whole number of won: {n}")),
    }
}

fn de_won<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    won_from_value(&Value::deserialize(d)?).map_err(serde::de::Error::custom)
}

fn de_opt_won<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => won_from_value(&v).map(Some).map_err(serde::de::Error::custom),
    }
}

/// An optional field PortOne may send as explicit `null`: the type's default then. Only the
/// spec's required fields (imp_uid, merchant_uid, amount, cancel_amount, currency, status,
/// sandbox) may be relied on.
fn de_null_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Unix seconds, where PortOne sends 0 (or nothing) for "not applicable".
fn de_unix<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(v) => won_from_value(&v).map_err(serde::de::Error::custom)?,
        None => 0,
    })
}

/// One `cancel_history` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CancelHistoryEntry {
    #[serde(default)]
    pub pg_tid: Option<String>,
    #[serde(deserialize_with = "de_won")]
    pub amount: i64,
    #[serde(default, deserialize_with = "de_unix")]
    pub cancelled_at: i64,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub receipt_url: Option<String>,
    #[serde(default)]
    pub cancellation_id: Option<String>,
}

/// PortOne's Payment object (the same shape from every lookup and from cancel). `H` is how its
/// cancel history is held: its entries, parsed (the default), or where each lies in the text
/// PortOne sent (`PaymentText`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Payment<H = Vec<CancelHistoryEntry>> {
    pub imp_uid: String,
    pub merchant_uid: String,
    #[serde(default, deserialize_with = "de_null_default")]
    pub pay_method: String,
    #[serde(default, deserialize_with = "de_null_default")]
    pub pg_provider: String,
    #[serde(default)]
    pub pg_tid: Option<String>,
    #[serde(default, deserialize_with = "de_null_default")]
    pub sandbox: bool,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(deserialize_with = "de_won")]
    pub amount: i64,
    #[serde(default, deserialize_with = "de_won")]
    pub cancel_amount: i64,
    #[serde(default = "krw", deserialize_with = "de_currency")]
    pub currency: String,
    #[serde(default)]
    pub buyer_name: Option<String>,
    #[serde(default)]
    pub buyer_email: Option<String>,
    pub status: PaymentStatus,
    #[serde(default, deserialize_with = "de_unix")]
    pub paid_at: i64,
    #[serde(default, deserialize_with = "de_unix")]
    pub cancelled_at: i64,
    #[serde(default)]
    pub cancel_reason: Option<String>,
    #[serde(default)]
    pub receipt_url: Option<String>,
    /// `None` when PortOne left it out or sent `null`: no evidence either way.
    #[serde(default)]
    pub cancel_history: Option<H>,
    #[serde(default)]
    pub vbank_code: Option<String>,
    #[serde(default)]
    pub vbank_name: Option<String>,
    #[serde(default)]
    pub vbank_num: Option<String>,
    #[serde(default)]
    pub vbank_holder: Option<String>,
    #[serde(default, deserialize_with = "de_unix")]
    pub vbank_date: i64,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default, deserialize_with = "de_unix")]
    pub started_at: i64,
    #[serde(default, deserialize_with = "de_unix")]
    pub failed_at: i64,
    #[serde(default, deserialize_with = "de_null_default")]
    pub cancel_receipt_urls: Vec<String>,
    /// PortOne's answer exactly as it came, every field included, where the client read this
    /// payment from PortOne (`None` for one built here). Kept rather than collected field by
    /// field: a payment with a long cancel_history is a quarter of a megabyte, and buffering
    /// it for unnamed fields cost more than the rest of a refund's parsing (docs/measurements.md).
    #[serde(skip)]
    pub raw: Option<RawJson>,
}

/// A JSON value as the text it was sent in.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawJson(pub Box<RawValue>);

impl RawJson {
    /// `value` written as JSON.
    pub fn of<T: Serialize>(value: &T) -> serde_json::Result<RawJson> {
        serde_json::value::to_raw_value(value).map(RawJson)
    }

    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The text, without copying it.
    pub fn into_string(self) -> String {
        Box::<str>::from(self.0).into_string()
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Payment {
    /// A payment from PortOne's JSON for it, keeping that JSON.
    pub fn from_raw(raw: Box<RawValue>) -> serde_json::Result<Payment> {
        let mut payment: Payment = serde_json::from_str(raw.get())?;
        payment.raw = Some(RawJson(raw));
        Ok(payment)
    }
}

fn krw() -> String {
    "KRW".into()
}

fn de_currency<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_else(krw))
}

impl<H> Payment<H> {
    pub fn cancellable(&self) -> i64 {
        self.amount - self.cancel_amount
    }

    /// The same payment with its history held as `history`.
    pub fn with_history<G>(self, history: Option<G>) -> Payment<G> {
        Payment {
            imp_uid: self.imp_uid,
            merchant_uid: self.merchant_uid,
            pay_method: self.pay_method,
            pg_provider: self.pg_provider,
            pg_tid: self.pg_tid,
            sandbox: self.sandbox,
            name: self.name,
            amount: self.amount,
            cancel_amount: self.cancel_amount,
            currency: self.currency,
            buyer_name: self.buyer_name,
            buyer_email: self.buyer_email,
            status: self.status,
            paid_at: self.paid_at,
            cancelled_at: self.cancelled_at,
            cancel_reason: self.cancel_reason,
            receipt_url: self.receipt_url,
            cancel_history: history,
            vbank_code: self.vbank_code,
            vbank_name: self.vbank_name,
            vbank_num: self.vbank_num,
            vbank_holder: self.vbank_holder,
            vbank_date: self.vbank_date,
            channel: self.channel,
            started_at: self.started_at,
            failed_at: self.failed_at,
            cancel_receipt_urls: self.cancel_receipt_urls,
            raw: self.raw,
        }
    }
}

impl Payment {
    /// The cancel history PortOne sent, or nothing when it left it out.
    pub fn history(&self) -> &[CancelHistoryEntry] {
        self.cancel_history.as_deref().unwrap_or_default()
    }
}

/// Who asked for a cancel: PortOne's `extra.requester`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Requester {
    Customer,
    Admin,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CancelExtra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<Requester>,
}

/// A refund account number: shown masked in Debug so it never reaches the logs whole.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountNumber(pub String);

impl AccountNumber {
    /// Keeps the last four digits: `******1234`.
    pub fn masked(&self) -> String {
        let digits: Vec<char> = self.0.chars().collect();
        let keep = digits.len().min(4);
        let hidden = digits.len() - keep;
        "*".repeat(hidden) + &digits[hidden..].iter().collect::<String>()
    }
}

impl fmt::Debug for AccountNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountNumber({})", self.masked())
    }
}

/// `POST /payments/cancel`. Absent fields are not sent at all (an empty `imp_uid` would fail).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CancelRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imp_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de_opt_won")]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de_opt_won")]
    pub tax_free: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de_opt_won")]
    pub vat_amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "de_opt_won")]
    pub checksum: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_holder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_bank: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_account: Option<AccountNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_tel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<CancelExtra>,
    /// Ask PortOne for the `cancelled` webhook, so a cancel that lands late still reaches us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_webhook: Option<bool>,
}

/// The V1 webhook body (JSON or form): a hint to re-query, never a fact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookNotice {
    pub imp_uid: String,
    #[serde(default)]
    pub merchant_uid: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_parses_amounts_as_whole_won_and_ignores_unknown_fields() {
        let p: Payment = serde_json::from_value(serde_json::json!({
            "imp_uid": "imp_1", "merchant_uid": "m1", "pay_method": "card", "pg_provider": "html5_inicis",
            "amount": 12000.0, "cancel_amount": 2000, "currency": "KRW", "status": "cancelled",
            "paid_at": 1700000000, "cancelled_at": 0, "sandbox": false,
            "cancel_history": [{"pg_tid": "t", "amount": 2000, "cancelled_at": 1700000100, "reason": "r", "cancellation_id": "c1"}],
            "card_quota": 0, "emb_pg_provider": null
        }))
        .unwrap();
        assert_eq!(p.amount, 12000);
        assert_eq!(p.cancellable(), 10000);
        assert_eq!(p.status, PaymentStatus::Cancelled);
        assert!(p.raw.is_none());
    }

    #[test]
    fn a_payment_read_from_json_keeps_that_json_whole() {
        let text = r#"{"imp_uid": "imp_1", "merchant_uid": "m1", "amount": 1000, "status": "paid",
                       "card_quota": 0, "emb_pg_provider": null, "cancel_history": []}"#;
        let p = Payment::from_raw(RawValue::from_string(text.into()).unwrap()).unwrap();
        assert_eq!((p.amount, p.history().len()), (1000, 0));
        assert_eq!(p.raw.as_ref().map(RawJson::get), Some(text));
    }

    #[test]
    fn secrets_and_tokens_never_show_in_debug() {
        let request = TokenRequest { imp_key: "key".into(), imp_secret: "top-secret".into() };
        let token = AccessToken { access_token: "tok-123".into(), now: 1, expired_at: 2 };
        let shown = format!("{request:?} {token:?}");
        assert!(!shown.contains("top-secret") && !shown.contains("tok-123"), "{shown}");
    }

    #[test]
    fn explicit_nulls_in_optional_fields_are_accepted() {
        let p: Payment = serde_json::from_value(serde_json::json!({
            "imp_uid": "i", "merchant_uid": "m", "amount": 1000, "cancel_amount": 0, "currency": "KRW",
            "status": "paid", "sandbox": false, "pay_method": null, "pg_provider": null, "paid_at": null,
            "cancel_history": null, "name": null, "vbank_date": null, "cancelled_at": null
        }))
        .unwrap();
        assert_eq!((p.pay_method.as_str(), p.paid_at, p.cancel_history.is_none()), ("", 0, true));
        assert!(p.history().is_empty());
    }

    #[test]
    fn fractional_won_and_unknown_status_are_handled() {
        let bad = serde_json::from_value::<Payment>(serde_json::json!({
            "imp_uid": "i", "merchant_uid": "m", "amount": 10.5, "status": "paid"
        }));
        assert!(bad.is_err());
        let p: Payment = serde_json::from_value(serde_json::json!({
            "imp_uid": "i", "merchant_uid": "m", "amount": 10, "status": "partial_cancelled"
        }))
        .unwrap();
        assert_eq!(p.status, PaymentStatus::Other("partial_cancelled".into()));
        assert_eq!(p.status.as_str(), "partial_cancelled");
    }

    #[test]
    fn cancel_request_omits_absent_fields_and_masks_account_in_debug() {
        let req = CancelRequest {
            imp_uid: Some("imp_1".into()),
            amount: Some(1000),
            checksum: Some(5000),
            refund_account: Some(AccountNumber("56211105948400".into())),
            ..Default::default()
        };
        let json = serde_json::to_value(&req).unwrap();
        assert!(json.get("merchant_uid").is_none());
        assert_eq!(json["refund_account"], "56211105948400");
        let debug = format!("{req:?}");
        assert!(!debug.contains("56211105948400"));
        assert!(debug.contains("**********8400"));
    }
}

/// One breakdown of `GET /payments/{imp_uid}/balance`: what remains of each part after the
/// payment's cancels (PortOne: "환불시 마이너스 차감된 최종 금액").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceParts {
    #[serde(default, deserialize_with = "de_unix")]
    pub tax_free: i64,
    #[serde(default, deserialize_with = "de_unix")]
    pub supply: i64,
    #[serde(default, deserialize_with = "de_unix")]
    pub vat: i64,
    #[serde(default, deserialize_with = "de_unix")]
    pub service: i64,
}

impl BalanceParts {
    pub fn total(&self) -> i64 {
        self.tax_free + self.supply + self.vat + self.service
    }

    fn plus(self, o: BalanceParts) -> BalanceParts {
        BalanceParts {
            tax_free: self.tax_free + o.tax_free,
            supply: self.supply + o.supply,
            vat: self.vat + o.vat,
            service: self.service + o.service,
        }
    }
}

/// One step of a balance's history (the payment, then each cancel).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceStep {
    #[serde(default, deserialize_with = "de_null_default")]
    pub primary: BalanceParts,
    #[serde(default, deserialize_with = "de_null_default")]
    pub secondary: BalanceParts,
    #[serde(default, deserialize_with = "de_unix")]
    pub created: i64,
}

/// `GET /payments/{imp_uid}/balance`: the payment's tax-free, supply, VAT and service parts
/// and what remains of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentBalance {
    #[serde(deserialize_with = "de_won")]
    pub amount: i64,
    #[serde(default, deserialize_with = "de_null_default")]
    pub primary: BalanceParts,
    #[serde(default, deserialize_with = "de_null_default")]
    pub secondary: BalanceParts,
    #[serde(default, deserialize_with = "de_null_default")]
    pub histories: Vec<BalanceStep>,
}

impl PaymentBalance {
    /// What remains, over both means of payment (the card or account, and points).
    pub fn remaining(&self) -> BalanceParts {
        self.primary.plus(self.secondary)
    }

    /// The split at payment time: the history's first step, or what remains when there is
    /// no history (nothing was cancelled yet).
    pub fn original(&self) -> BalanceParts {
        match self.histories.first() {
            Some(step) => step.primary.plus(step.secondary),
            None => self.remaining(),
        }
    }
}
