//! PortOne's payment as the refund side reads it, whichever API it came through: V1's shape
//! (amounts in won, Unix seconds, a cancel history) with what V2 adds — a state per
//! cancellation and the tax split carried in the payment itself.

use crate::model::{ApiVersion, CancellationState};

/// A payment's status in the words our `payments.status` column keeps: V1's (a V2 payment's
/// is mapped onto them, `v2.rs`).
pub use portone_v1::PaymentStatus;

/// One cancellation of a payment.
#[derive(Clone, Debug, PartialEq)]
pub struct CancelEntry {
    pub state: CancellationState,
    pub pg_tid: Option<String>,
    pub amount: i64,
    /// Unix seconds; for a V2 cancellation not yet applied, when it was requested
    pub cancelled_at: i64,
    pub reason: Option<String>,
    pub receipt_url: Option<String>,
    pub cancellation_id: Option<String>,
}

impl CancelEntry {
    /// Identifies the entry across syncs: PortOne's cancellation id when present.
    pub fn entry_key(&self) -> String {
        match &self.cancellation_id {
            Some(id) if !id.is_empty() => id.clone(),
            _ => format!(
                "{}/{}/{}",
                self.pg_tid.as_deref().unwrap_or(""),
                self.cancelled_at,
                self.amount
            ),
        }
    }
}

/// A payment's tax-free part and VAT: what it had, and what remains to refund.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaxSplit {
    pub tax_free: i64,
    pub vat: i64,
    /// the whole amount these are parts of
    pub total: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Balance {
    pub original: TaxSplit,
    pub remaining: TaxSplit,
}

/// PortOne's payment.
#[derive(Clone, Debug, PartialEq)]
pub struct Payment {
    pub version: ApiVersion,
    /// PortOne's id of the payment: V1's imp_uid, V2's transactionId
    pub imp_uid: String,
    /// the shop's id of the order: V1's merchant_uid, V2's paymentId (how V2 addresses it)
    pub merchant_uid: String,
    pub pay_method: String,
    pub pg_provider: String,
    pub sandbox: bool,
    pub name: Option<String>,
    pub amount: i64,
    /// money returned: succeeded cancellations only
    pub cancel_amount: i64,
    pub currency: String,
    pub buyer_name: Option<String>,
    pub buyer_email: Option<String>,
    pub status: PaymentStatus,
    pub paid_at: i64,
    pub cancelled_at: i64,
    pub receipt_url: Option<String>,
    /// `None` when PortOne left it out: no evidence either way
    pub cancel_history: Option<Vec<CancelEntry>>,
    pub vbank_code: Option<String>,
    pub vbank_name: Option<String>,
    pub vbank_num: Option<String>,
    pub vbank_holder: Option<String>,
    /// V2 carries the tax split in the payment; V1 answers it at its own endpoint
    pub balance: Option<Balance>,
    /// PortOne's answer as it came, for our stored copy and the seed guide's endpoint
    pub raw: portone_v1::RawJson,
}

impl Payment {
    /// What PortOne would still cancel: the checksum (V1) or `currentCancellableAmount` (V2).
    pub fn cancellable(&self) -> i64 {
        self.amount - self.cancel_amount
    }

    pub fn history(&self) -> &[CancelEntry] {
        self.cancel_history.as_deref().unwrap_or_default()
    }
}
