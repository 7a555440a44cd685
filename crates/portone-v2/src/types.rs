//! The V2 wire format (`reference/portone-v2.openapi.json` in PortOne's developer docs):
//! camelCase JSON, amounts in integer won, enums as SCREAMING_CASE strings. Lenient: unknown
//! fields are ignored and unknown enum values kept as `Other`, since PortOne adds both.

use serde::{Deserialize, Serialize};

/// A payment's status (`Payment` is discriminated by it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    Ready,
    Paid,
    VirtualAccountIssued,
    PayPending,
    Failed,
    PartialCancelled,
    Cancelled,
    #[serde(other)]
    Other,
}

/// Which API a payment was made through: a V1 payment read through V2 says `V1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PortOneVersion {
    V1,
    V2,
    #[serde(other)]
    Other,
}

/// `amount`: the parts of a payment, in won.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentAmount {
    pub total: i64,
    #[serde(default)]
    pub tax_free: i64,
    #[serde(default)]
    pub vat: Option<i64>,
    #[serde(default)]
    pub supply: Option<i64>,
    #[serde(default)]
    pub discount: i64,
    #[serde(default)]
    pub paid: i64,
    #[serde(default)]
    pub cancelled: i64,
    #[serde(default)]
    pub cancelled_tax_free: i64,
}

/// `method`: how the customer paid, by its `type` (the other fields are not needed here).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethod {
    #[serde(rename = "type")]
    pub kind: PaymentMethodType,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentMethodType {
    PaymentMethodCard,
    PaymentMethodVirtualAccount,
    PaymentMethodTransfer,
    PaymentMethodMobile,
    PaymentMethodEasyPay,
    PaymentMethodConvenienceStore,
    PaymentMethodGiftCertificate,
    #[serde(other)]
    Other,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SelectedChannel {
    /// `LIVE` or `TEST`
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// PortOne's PG name (`NICE_V2`, `KCP_V2`, `TOSSPAYMENTS`, …), kept as sent
    #[serde(default)]
    pub pg_provider: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// A payment as `GET /payments/{paymentId}` answers it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub status: PaymentStatus,
    /// the shop's own order id (V1's merchant_uid)
    pub id: String,
    /// PortOne's id of the transaction (a V1 payment's imp_uid)
    #[serde(default)]
    pub transaction_id: Option<String>,
    #[serde(default)]
    pub store_id: Option<String>,
    #[serde(default)]
    pub version: Option<PortOneVersion>,
    #[serde(default)]
    pub order_name: Option<String>,
    #[serde(default)]
    pub amount: Option<PaymentAmount>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub method: Option<PaymentMethod>,
    #[serde(default)]
    pub channel: Option<SelectedChannel>,
    #[serde(default)]
    pub customer: Option<Customer>,
    /// RFC 3339
    #[serde(default)]
    pub paid_at: Option<String>,
    #[serde(default)]
    pub cancelled_at: Option<String>,
    #[serde(default)]
    pub receipt_url: Option<String>,
    #[serde(default)]
    pub cancellations: Vec<Cancellation>,
}

impl Payment {
    /// What PortOne would still cancel: the `currentCancellableAmount` a cancel carries.
    pub fn cancellable(&self) -> i64 {
        self.amount.as_ref().map(|a| a.total - a.cancelled).unwrap_or(0)
    }

    /// The cancellations PortOne holds that carry `reason_prefix` at the start of their reason.
    pub fn cancellations_with_reason_prefix<'a>(
        &'a self,
        reason_prefix: &'a str,
    ) -> impl Iterator<Item = &'a Cancellation> + 'a {
        self.cancellations.iter().filter(move |c| c.reason.starts_with(reason_prefix))
    }
}

/// A cancellation's status: accepted and pending at the PG, done, or failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CancellationStatus {
    /// accepted; completes asynchronously (vbank refunds take 1–2 business days on some PGs)
    Requested,
    Succeeded,
    Failed,
    #[serde(other)]
    Other,
}

/// What made a cancellation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Trigger {
    Console,
    Api,
    PortoneAdmin,
    Chargeback,
    #[serde(other)]
    Other,
}

/// A `PaymentCancellation` (discriminated by `status`; every status has these fields).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cancellation {
    pub status: CancellationStatus,
    pub id: String,
    #[serde(default)]
    pub pg_cancellation_id: Option<String>,
    pub total_amount: i64,
    #[serde(default)]
    pub tax_free_amount: i64,
    #[serde(default)]
    pub vat_amount: i64,
    #[serde(default)]
    pub easy_pay_discount_amount: Option<i64>,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub requested_at: Option<String>,
    #[serde(default)]
    pub cancelled_at: Option<String>,
    #[serde(default)]
    pub receipt_url: Option<String>,
    #[serde(default)]
    pub trigger: Option<Trigger>,
}

/// `CancelPaymentResponse`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CancelResponse {
    pub cancellation: Cancellation,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CancelRequester {
    Customer,
    Admin,
}

/// `refundAccount`: where a vbank (or next-month phone) refund is paid. `bank` is PortOne's
/// `Bank` enum value (`KOOKMIN`, `SHINHAN`, …). Debug hides the number and the phone.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundAccount {
    pub bank: String,
    pub number: String,
    pub holder_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_phone_number: Option<String>,
}

impl std::fmt::Debug for RefundAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tail = &self.number[self.number.len().saturating_sub(4)..];
        f.debug_struct("RefundAccount")
            .field("bank", &self.bank)
            .field("number", &format!("***{tail}"))
            .field("holder_name", &self.holder_name)
            .finish_non_exhaustive()
    }
}

/// `CancelPaymentBody`. `current_cancellable_amount` is the balance we believe PortOne holds
/// (V1's checksum): the cancel goes ahead only if it matches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax_free_amount: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vat_amount: Option<i64>,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requester: Option<CancelRequester>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_cancellable_amount: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_account: Option<RefundAccount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_webhook: Option<bool>,
}

/// The error types a cancel or a lookup can answer (the spec's `CancelPaymentError` and
/// `GetPaymentError`), by their `type`; one PortOne adds later is `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorType {
    /// `currentCancellableAmount` is not PortOne's balance (V1's checksum mismatch)
    CancellableAmountConsistencyBroken,
    CancelAmountExceedsCancellableAmount,
    CancelTaxAmountExceedsCancellableTaxAmount,
    CancelTaxFreeAmountExceedsCancellableTaxFreeAmount,
    SumOfPartsExceedsCancelAmount,
    NegativePromotionAdjustedCancelAmount,
    PromotionDiscountRetainOptionShouldNotBeChanged,
    MaxCancelCountReached,
    PaymentAlreadyCancelled,
    PaymentNotPaid,
    PaymentNotFound,
    InvalidRequest,
    Forbidden,
    Unauthorized,
    /// the PG refused or failed (`pgCode`, `pgMessage`)
    PgProvider,
    /// a request with this idempotency key is still being handled
    IdempotencyOutstandingRequest,
    #[serde(other)]
    Other,
}

impl ErrorType {
    pub fn of(kind: &str) -> ErrorType {
        serde_json::from_value(serde_json::Value::String(kind.to_string()))
            .unwrap_or(ErrorType::Other)
    }
}

/// Every V2 error body: `{type, message}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partially_cancelled_payment_reads_with_its_cancellations_and_unknown_values() {
        let json = serde_json::json!({
            "status": "PARTIAL_CANCELLED", "id": "order-1", "transactionId": "tx-1",
            "merchantId": "m", "storeId": "store-1", "version": "V2",
            "channel": {"type": "LIVE", "pgProvider": "NICE_V2", "pgMerchantId": "x", "newField": 1},
            "method": {"type": "PaymentMethodVirtualAccount", "bank": "SHINHAN"},
            "orderName": "키보드", "currency": "KRW",
            "amount": {"total": 10000, "taxFree": 2000, "vat": 727, "supply": 7273, "discount": 0,
                       "paid": 10000, "cancelled": 3000, "cancelledTaxFree": 0},
            "customer": {"email": "minsu@example.com", "name": "김민수"},
            "paidAt": "2026-11-30T01:00:00Z", "cancelledAt": "2026-11-30T02:00:00Z",
            "cancellations": [
                {"status": "SUCCEEDED", "id": "c1", "totalAmount": 1000, "taxFreeAmount": 0,
                 "vatAmount": 91, "reason": "[R-7F3A2C1D] 변심", "requestedAt": "2026-11-30T01:30:00Z",
                 "cancelledAt": "2026-11-30T01:30:01Z", "trigger": "API"},
                {"status": "REQUESTED", "id": "c2", "totalAmount": 2000, "taxFreeAmount": 0,
                 "vatAmount": 182, "reason": "콘솔", "requestedAt": "2026-11-30T02:00:00Z",
                 "trigger": "SOMETHING_NEW"}
            ],
            "aFieldPortOneAddsLater": {"x": 1}
        });
        let p: Payment = serde_json::from_value(json).unwrap();
        assert_eq!(p.status, PaymentStatus::PartialCancelled);
        assert_eq!(p.version, Some(PortOneVersion::V2));
        assert_eq!(p.cancellable(), 7000);
        assert_eq!(p.method.unwrap().kind, PaymentMethodType::PaymentMethodVirtualAccount);
        assert_eq!(p.cancellations[1].status, CancellationStatus::Requested);
        assert_eq!(p.cancellations[1].trigger, Some(Trigger::Other));
        let p: Payment =
            serde_json::from_value(serde_json::json!({"status": "BRAND_NEW", "id": "x"})).unwrap();
        assert_eq!((p.cancellable(), p.status), (0, PaymentStatus::Other));
    }

    #[test]
    fn error_types_read_by_name_and_new_ones_are_other() {
        assert_eq!(
            ErrorType::of("CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN"),
            ErrorType::CancellableAmountConsistencyBroken
        );
        assert_eq!(ErrorType::of("PG_PROVIDER"), ErrorType::PgProvider);
        assert_eq!(ErrorType::of("SOMETHING_NEW"), ErrorType::Other);
    }

    #[test]
    fn a_cancel_body_is_sent_in_the_specs_names_with_nothing_unset() {
        let body = CancelBody {
            amount: Some(3000),
            tax_free_amount: Some(0),
            reason: "[R-7F3A2C1D] 변심".into(),
            requester: Some(CancelRequester::Customer),
            current_cancellable_amount: Some(10_000),
            refund_account: Some(RefundAccount {
                bank: "SHINHAN".into(),
                number: "56211105948400".into(),
                holder_name: "김민수".into(),
                holder_phone_number: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"amount": 3000, "taxFreeAmount": 0, "reason": "[R-7F3A2C1D] 변심",
                               "requester": "CUSTOMER", "currentCancellableAmount": 10000,
                               "refundAccount": {"bank": "SHINHAN", "number": "56211105948400", "holderName": "김민수"}})
        );
        assert!(!format!("{body:?}").contains("56211105948400"));
    }
}
