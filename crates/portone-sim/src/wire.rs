//! The simulator's own model of PortOne's V1 wire format. It shares no types with the app's
//! PortOne client on purpose: a field-name or type mistake in the client must fail a test
//! against the simulator, not be mirrored by it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

/// PortOne's payment status values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ready,
    Paid,
    Cancelled,
    Failed,
}

/// One `cancel_history` entry as PortOne sends it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CancelEntry {
    #[serde(default, deserialize_with = "null_as_default")]
    pub pg_tid: String,
    pub amount: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cancelled_at: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub reason: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub receipt_url: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cancellation_id: String,
}

/// A list each of whose items is written as JSON once, when it is added: a payment's
/// `cancel_history` and `cancel_receipt_urls`. Every answer about a payment carries both
/// whole (a quarter of a megabyte at a thousand cancels), and the simulator shares the machine
/// with the service it is measured against: an answer copies the items' text instead of
/// writing them again.
#[derive(Clone, Debug)]
pub struct Written<T> {
    items: Vec<T>,
    written: Vec<Box<RawValue>>,
}

/// A payment's `cancel_history`.
pub type History = Written<CancelEntry>;

impl<T> Default for Written<T> {
    fn default() -> Self {
        Written { items: Vec::new(), written: Vec::new() }
    }
}

impl<T: Serialize> Written<T> {
    pub fn push(&mut self, item: T) {
        self.written.push(serde_json::value::to_raw_value(&item).expect("an item serializes"));
        self.items.push(item);
    }
}

impl<T> std::ops::Deref for Written<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items
    }
}

impl<T: PartialEq> PartialEq for Written<T> {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

impl<T> Serialize for Written<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(&self.written)
    }
}

impl<'de, T: Serialize + Deserialize<'de>> Deserialize<'de> for Written<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut list = Written::default();
        for item in Vec::<T>::deserialize(d)? {
            list.push(item);
        }
        Ok(list)
    }
}

/// A payment as the simulator keeps it and as V1 lookups send it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimPayment {
    pub imp_uid: String,
    pub merchant_uid: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub pay_method: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub pg_provider: String,
    #[serde(default)]
    pub pg_tid: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub sandbox: bool,
    #[serde(default)]
    pub name: Option<String>,
    pub amount: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cancel_amount: i64,
    #[serde(default = "krw", deserialize_with = "null_as_krw")]
    pub currency: String,
    #[serde(default)]
    pub buyer_name: Option<String>,
    #[serde(default)]
    pub buyer_email: Option<String>,
    pub status: Status,
    #[serde(default, deserialize_with = "null_as_default")]
    pub started_at: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub paid_at: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub failed_at: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cancelled_at: i64,
    #[serde(default)]
    pub cancel_reason: Option<String>,
    #[serde(default)]
    pub receipt_url: Option<String>,
    /// Shared with the answers in flight (`Sim::apply` hands out a copy of the payment): a
    /// cancel copies a history only while an earlier answer still holds it, not every time.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cancel_history: Arc<History>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub cancel_receipt_urls: Arc<Written<String>>,
    #[serde(default)]
    pub vbank_code: Option<String>,
    #[serde(default)]
    pub vbank_name: Option<String>,
    #[serde(default)]
    pub vbank_num: Option<String>,
    #[serde(default)]
    pub vbank_holder: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub vbank_date: i64,
    /// The simulator's own: the payment's tax parts. Read from a payments file; never sent
    /// (not a V1 Payment field, and a long history of them would weigh on every answer).
    #[serde(default, rename = "sim_tax", skip_serializing)]
    pub tax: crate::tax::TaxState,
    /// The simulator's own: made through the V2 API (V2 shows `version: V2`).
    #[serde(default, rename = "sim_v2", skip_serializing)]
    pub v2: bool,
    /// The simulator's own: every cancellation as V2 shows it, applied (`SUCCEEDED`) or
    /// accepted and waiting for the PG (`REQUESTED`), beside V1's history of applied ones.
    #[serde(default, rename = "sim_v2_cancellations", skip_serializing)]
    pub v2_cancellations: Arc<Vec<V2Cancellation>>,
}

/// A cancellation as PortOne V2 shows it (`PaymentCancellation`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct V2Cancellation {
    /// `REQUESTED`, `SUCCEEDED` or `FAILED`
    pub status: String,
    pub id: String,
    pub pg_cancellation_id: Option<String>,
    pub total_amount: i64,
    pub tax_free_amount: i64,
    pub vat_amount: i64,
    pub reason: String,
    pub requested_at: String,
    pub cancelled_at: Option<String>,
    pub receipt_url: Option<String>,
    /// `API` or `CONSOLE`
    pub trigger: String,
}

/// RFC 3339 in UTC, as V2 writes times.
pub fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn krw() -> String {
    "KRW".into()
}

/// A stored payment file may hold `null` where the simulator keeps a default.
fn null_as_default<'de, D: serde::Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn null_as_krw<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_else(krw))
}

/// The Payment fields the V1 spec marks required (`PaymentAnnotation.required`).
const REQUIRED: [&str; 7] =
    ["imp_uid", "merchant_uid", "amount", "cancel_amount", "currency", "status", "sandbox"];

impl SimPayment {
    pub fn cancellable(&self) -> i64 {
        self.amount - self.cancel_amount
    }

    /// The V1 JSON; with `null_optionals`, every field the spec does not require is `null`,
    /// as PortOne may send them.
    pub fn to_v1(&self, null_optionals: bool) -> Value {
        let mut value = serde_json::to_value(self).expect("a payment serializes");
        if null_optionals {
            if let Value::Object(map) = &mut value {
                for (key, field) in map.iter_mut() {
                    if !REQUIRED.contains(&key.as_str()) {
                        *field = Value::Null;
                    }
                }
            }
        }
        value
    }
}

/// `{code, message, response}`.
pub fn envelope(code: i64, message: Option<&str>, response: Value) -> Value {
    json!({"code": code, "message": message, "response": response})
}

/// A request body's fields, from JSON or a form (`a[b]=c` nests as `{"a": {"b": "c"}}`).
pub struct Fields(Map<String, Value>);

impl Fields {
    pub fn parse(is_form: bool, bytes: &[u8]) -> Result<Fields, String> {
        if is_form {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(bytes).map_err(|e| e.to_string())?;
            let mut root = Map::new();
            for (key, value) in pairs {
                match key.split_once('[') {
                    Some((outer, rest)) if rest.ends_with(']') => {
                        let slot = root
                            .entry(outer.to_string())
                            .or_insert_with(|| Value::Object(Map::new()));
                        if let Value::Object(m) = slot {
                            m.insert(rest.trim_end_matches(']').to_string(), Value::String(value));
                        }
                    }
                    _ => {
                        root.insert(key, Value::String(value));
                    }
                }
            }
            return Ok(Fields(root));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Fields(Map::new()));
        }
        match serde_json::from_slice(bytes).map_err(|e| e.to_string())? {
            Value::Object(map) => Ok(Fields(map)),
            _ => Err("the body must be a JSON object".into()),
        }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    /// A string field; empty strings count as absent, as PortOne treats them.
    pub fn text(&self, name: &str) -> Result<Option<String>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(format!("{name}: expected a string, got {other}")),
        }
    }

    /// A number field (JSON number or numeric string); fractions of won are refused.
    pub fn won(&self, name: &str) -> Result<Option<i64>, String> {
        let number = match self.get(name) {
            None => return Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
            Some(Value::String(s)) => {
                s.trim().parse::<f64>().map_err(|_| format!("{name}: not a number"))?
            }
            Some(Value::Number(n)) => n.as_f64().ok_or_else(|| format!("{name}: not a number"))?,
            Some(other) => return Err(format!("{name}: expected a number, got {other}")),
        };
        if number.fract() != 0.0 || number.abs() > 9.0e15 {
            return Err(format!("{name}: not a whole number of won"));
        }
        Ok(Some(number as i64))
    }

    pub fn flag(&self, name: &str) -> Result<bool, String> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) => Ok(matches!(s.as_str(), "true" | "1")),
            Some(other) => Err(format!("{name}: expected a boolean, got {other}")),
        }
    }

    /// `extra.requester`, which PortOne accepts as `customer` or `admin`.
    pub fn requester(&self) -> Result<Option<String>, String> {
        match self.get("extra") {
            None => Ok(None),
            Some(Value::Object(extra)) => match extra.get("requester") {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(r)) if r == "customer" || r == "admin" => Ok(Some(r.clone())),
                Some(other) => {
                    Err(format!("extra.requester: expected customer or admin, got {other}"))
                }
            },
            Some(other) => Err(format!("extra: expected an object, got {other}")),
        }
    }

    /// Field names this model does not know: a client sending one has a typo or a wrong idea.
    pub fn unknown(&self, known: &[&str]) -> Vec<String> {
        self.0.keys().filter(|k| !known.contains(&k.as_str())).cloned().collect()
    }
}

/// A `POST /payments/cancel` body, as PortOne reads it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CancelBody {
    pub imp_uid: Option<String>,
    pub merchant_uid: Option<String>,
    pub amount: Option<i64>,
    pub tax_free: Option<i64>,
    pub vat_amount: Option<i64>,
    pub checksum: Option<i64>,
    pub reason: Option<String>,
    pub refund_holder: Option<String>,
    pub refund_bank: Option<String>,
    pub refund_account: Option<String>,
    pub refund_tel: Option<String>,
    pub requester: Option<String>,
    pub enable_webhook: bool,
}

/// Every request field of `POST /payments/cancel` in the V1 reference.
const CANCEL_FIELDS: &[&str] = &[
    "imp_uid",
    "merchant_uid",
    "amount",
    "tax_free",
    "vat_amount",
    "checksum",
    "reason",
    "refund_holder",
    "refund_bank",
    "refund_account",
    "refund_tel",
    "retain_promotion",
    "enable_webhook",
    "extra",
];

impl CancelBody {
    pub fn parse(fields: &Fields) -> Result<CancelBody, String> {
        let unknown = fields.unknown(CANCEL_FIELDS);
        if !unknown.is_empty() {
            return Err(format!("알 수 없는 요청 필드입니다: {}", unknown.join(", ")));
        }
        Ok(CancelBody {
            imp_uid: fields.text("imp_uid")?,
            merchant_uid: fields.text("merchant_uid")?,
            amount: fields.won("amount")?,
            tax_free: fields.won("tax_free")?,
            vat_amount: fields.won("vat_amount")?,
            checksum: fields.won("checksum")?,
            reason: fields.text("reason")?,
            refund_holder: fields.text("refund_holder")?,
            refund_bank: fields.text("refund_bank")?,
            refund_account: fields.text("refund_account")?,
            refund_tel: fields.text("refund_tel")?,
            requester: fields.requester()?,
            enable_webhook: fields.flag("enable_webhook")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_bodies_parse_from_json_and_forms_and_refuse_unknown_fields() {
        let json = br#"{"imp_uid": "imp_1", "amount": 1000.0, "checksum": "5000", "extra": {"requester": "customer"}, "enable_webhook": true}"#;
        let body = CancelBody::parse(&Fields::parse(false, json).unwrap()).unwrap();
        assert_eq!(
            (body.amount, body.checksum, body.requester.as_deref(), body.enable_webhook),
            (Some(1000), Some(5000), Some("customer"), true)
        );
        let form = b"merchant_uid=m1&amount=2000&extra%5Brequester%5D=admin";
        let body = CancelBody::parse(&Fields::parse(true, form).unwrap()).unwrap();
        assert_eq!(
            (body.merchant_uid.as_deref(), body.amount, body.requester.as_deref()),
            (Some("m1"), Some(2000), Some("admin"))
        );
        assert!(CancelBody::parse(
            &Fields::parse(false, br#"{"imp_uid": "i", "cancel_amount": 5}"#).unwrap()
        )
        .is_err());
        assert!(CancelBody::parse(
            &Fields::parse(false, br#"{"imp_uid": "i", "amount": 10.5}"#).unwrap()
        )
        .is_err());
    }

    #[test]
    fn a_history_and_its_receipts_are_sent_as_their_items_whatever_way_they_were_built() {
        let entry = |n: i64| CancelEntry {
            pg_tid: format!("t{n}"),
            amount: n,
            cancelled_at: 1_700_000_000 + n,
            reason: format!("[R-0000000{n}] \"따옴표\"\n"),
            receipt_url: String::new(),
            cancellation_id: format!("c{n}"),
        };
        let mut p: SimPayment = serde_json::from_value(json!({
            "imp_uid": "i", "merchant_uid": "m", "amount": 10, "status": "paid",
            "cancel_history": [serde_json::to_value(entry(1)).unwrap()],
            "cancel_receipt_urls": ["https://r/1"]
        }))
        .unwrap();
        Arc::make_mut(&mut p.cancel_history).push(entry(2));
        Arc::make_mut(&mut p.cancel_receipt_urls).push("https://r/\"2\"".to_string());
        let sent = serde_json::to_value(&p).unwrap();
        assert_eq!(sent["cancel_history"], json!([entry(1), entry(2)]));
        assert_eq!(sent["cancel_receipt_urls"], json!(["https://r/1", "https://r/\"2\""]));
        assert_eq!(p.cancel_history.len(), 2);
        assert_eq!(p.to_v1(false)["cancel_history"][1]["pg_tid"], "t2");
        let again: SimPayment = serde_json::from_value(sent).unwrap();
        assert_eq!(again.cancel_history, p.cancel_history);
        assert_eq!(again.cancel_receipt_urls, p.cancel_receipt_urls);
    }

    #[test]
    fn null_optionals_keep_only_the_required_fields() {
        let p: SimPayment = serde_json::from_value(json!({
            "imp_uid": "i", "merchant_uid": "m", "amount": 10, "status": "paid", "pay_method": "card"
        }))
        .unwrap();
        let v = p.to_v1(true);
        assert_eq!(v["pay_method"], Value::Null);
        assert_eq!(v["cancel_history"], Value::Null);
        assert_eq!((v["amount"].as_i64(), v["sandbox"].as_bool()), (Some(10), Some(false)));
    }
}
