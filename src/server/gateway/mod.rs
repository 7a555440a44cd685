//! The one door to PortOne. A payment is refunded through the API it was made through
//! (`payments.api_version`): V1 (`portone-v1`, addressed by imp_uid, a checksum) or V2
//! (`portone-v2`, addressed by paymentId, `currentCancellableAmount` and the refund's own
//! `Idempotency-Key`). Both answer in one shape (`payment.rs`) and fail in one error type, so
//! the pipeline, the reconciler, the sweep and the pages have a single copy.

mod answer;
mod payment;
mod v1;
mod v2;

use std::sync::Arc;

use uuid::Uuid;

use crate::model::{ApiVersion, CancellationState};
pub use answer::CancelAnswer;
pub use payment::{Balance, CancelEntry, Payment, PaymentStatus, TaxSplit};
use portone_v1::{AccountNumber, PortOneClient, PortOneError};
use portone_v2::{PortOneV2Client, PortOneV2Error};
pub use v1::{from_v1, v1_entry};
pub use v2::from_v2;

/// Where a payment is found at PortOne.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentRef {
    pub version: ApiVersion,
    pub imp_uid: String,
    pub merchant_uid: String,
}

impl From<&Payment> for PaymentRef {
    fn from(p: &Payment) -> PaymentRef {
        PaymentRef {
            version: p.version,
            imp_uid: p.imp_uid.clone(),
            merchant_uid: p.merchant_uid.clone(),
        }
    }
}

/// Where a refund to a bank account goes (vbank payments).
#[derive(Clone, Debug)]
pub struct AccountTo {
    pub holder: String,
    /// KFTC code (V1 takes the PG's own code, `banks.rs`; V2 its `Bank` name)
    pub bank: String,
    pub number: AccountNumber,
    pub tel: Option<String>,
}

/// One refund's cancel, identical on every attempt.
#[derive(Clone, Debug)]
pub struct CancelOrder {
    pub payment: PaymentRef,
    /// the refund's id: V2's `Idempotency-Key`
    pub refund_id: Uuid,
    pub amount: i64,
    /// the cancellable balance the refund was computed from
    pub checksum: i64,
    /// as sent: reference first (`decide::reason_for_portone`)
    pub reason: String,
    pub tax_free: Option<i64>,
    pub vat: Option<i64>,
    pub account: Option<AccountTo>,
    /// the customer asked (otherwise the shop's side: an admin, a shop key, the reconciler)
    pub by_customer: bool,
}

/// What went wrong talking to PortOne.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    V1(#[from] PortOneError),
    #[error(transparent)]
    V2(#[from] PortOneV2Error),
    /// The payment's API has no credentials here.
    #[error("PortOne {} is not configured", .0.label())]
    NotConfigured(ApiVersion),
    /// V2 answered the cancel, and the payment could not be read after it.
    #[error("PortOne answered the cancel ({0:?}); reading the payment after it failed: {1}")]
    ReadAfterCancel(CancellationState, PortOneV2Error),
}

/// PortOne said no: its code (V1) and its message.
#[derive(Debug, PartialEq)]
pub struct Refused {
    pub code: Option<i64>,
    pub message: String,
}

impl GatewayError {
    /// The request may have been applied although we did not hear so.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            GatewayError::V1(e) => e.outcome_unknown(),
            GatewayError::V2(e) => e.outcome_unknown(),
            GatewayError::NotConfigured(_) => false,
            GatewayError::ReadAfterCancel(..) => true,
        }
    }

    /// PortOne's (or our configuration's) plain no, with what to record; `None` when the
    /// outcome is unknown.
    pub fn refusal(&self) -> Option<Refused> {
        if self.outcome_unknown() {
            return None;
        }
        let unauthorized = || Refused {
            code: None,
            message: "PortOne 인증에 실패했습니다. 관리자에게 문의해 주세요.".into(),
        };
        match self {
            GatewayError::V1(PortOneError::Refused { code, message, .. }) => {
                Some(Refused { code: Some(*code), message: message.clone() })
            }
            GatewayError::V1(PortOneError::Unauthorized)
            | GatewayError::V2(PortOneV2Error::Unauthorized) => Some(unauthorized()),
            GatewayError::V2(PortOneV2Error::Refused { kind, message, .. }) => {
                tracing::info!(kind, "PortOne V2 refused");
                Some(Refused { code: None, message: message.clone() })
            }
            GatewayError::NotConfigured(version) => Some(Refused {
                code: None,
                message: format!(
                    "이 결제의 {} 연동이 설정되어 있지 않습니다. 관리자에게 문의해 주세요.",
                    version.label()
                ),
            }),
            _ => None,
        }
    }

    /// PortOne does not know the payment.
    pub fn not_found(&self) -> bool {
        match self {
            GatewayError::V1(PortOneError::Refused { status, .. }) => *status == 404,
            GatewayError::V1(PortOneError::HttpStatus { status }) => *status == 404,
            GatewayError::V2(e) => e.error_type() == Some(portone_v2::ErrorType::PaymentNotFound),
            _ => false,
        }
    }
}

/// Both APIs' clients; either may be absent (a shop on one version only).
#[derive(Clone, Default)]
pub struct Gateway {
    v1: Option<Arc<PortOneClient>>,
    v2: Option<Arc<PortOneV2Client>>,
}

impl Gateway {
    pub fn new(v1: Option<Arc<PortOneClient>>, v2: Option<Arc<PortOneV2Client>>) -> Gateway {
        Gateway { v1, v2 }
    }

    pub fn v1(&self) -> Result<&PortOneClient, GatewayError> {
        self.v1.as_deref().ok_or(GatewayError::NotConfigured(ApiVersion::V1))
    }

    pub fn v2(&self) -> Result<&PortOneV2Client, GatewayError> {
        self.v2.as_deref().ok_or(GatewayError::NotConfigured(ApiVersion::V2))
    }

    /// `NotConfigured` when the version has no credentials here.
    pub fn speaks(&self, version: ApiVersion) -> Result<(), GatewayError> {
        match version {
            ApiVersion::V1 => self.v1().map(drop),
            ApiVersion::V2 => self.v2().map(drop),
        }
    }

    /// The payment as PortOne holds it now (test-mode payments included: we hold it already).
    pub async fn payment(&self, at: &PaymentRef) -> Result<Payment, GatewayError> {
        match at.version {
            ApiVersion::V1 => Ok(from_v1(self.v1()?.payment(&at.imp_uid, true).await?)),
            ApiVersion::V2 => Ok(from_v2(self.v2()?.payment(&at.merchant_uid).await?)),
        }
    }

    /// The payment's tax split; `None` when PortOne keeps none for it (its own refusal or a
    /// 404 says so; anything else says nothing and is an error).
    pub async fn balance(&self, at: &PaymentRef) -> Result<Option<Balance>, GatewayError> {
        match at.version {
            ApiVersion::V1 => match self.v1()?.balance(&at.imp_uid).await {
                Ok(b) => Ok(Some(v1::balance(&b))),
                Err(PortOneError::Refused { status, .. }) if status < 500 => Ok(None),
                Err(PortOneError::HttpStatus { status: 404 }) => Ok(None),
                Err(e) => Err(e.into()),
            },
            ApiVersion::V2 => Ok(from_v2(self.v2()?.payment(&at.merchant_uid).await?).balance),
        }
    }

    /// Sends a refund's cancel; answers the payment after it (our cancellation in its
    /// history: applied, or — V2 — requested or failed).
    pub async fn cancel(&self, order: &CancelOrder) -> Result<CancelAnswer, GatewayError> {
        match order.payment.version {
            ApiVersion::V1 => {
                Ok(CancelAnswer::V1(self.v1()?.cancel_text(&v1::cancel_request(order)).await?))
            }
            ApiVersion::V2 => v2::cancel(self.v2()?, order).await.map(CancelAnswer::Read),
        }
    }
}
