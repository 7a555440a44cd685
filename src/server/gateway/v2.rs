//! PortOne V2 in the gateway's shape. V2 answers a cancel with the cancellation alone; the
//! gateway reads the payment after it, so both versions settle from one shape.

use super::payment::{Balance, CancelEntry, Payment, PaymentStatus, TaxSplit};
use super::{CancelOrder, GatewayError};
use crate::model::{ApiVersion, CancellationState};
use crate::server::banks::v2_bank;
use portone_v2::{
    CancelBody, CancelRequester, Cancellation, CancellationStatus, IdempotencyKey,
    PaymentMethodType, PortOneV2Client, RefundAccount,
};

fn unix(rfc3339: Option<&str>) -> i64 {
    rfc3339
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

fn state(status: CancellationStatus) -> CancellationState {
    match status {
        CancellationStatus::Succeeded => CancellationState::Succeeded,
        CancellationStatus::Failed => CancellationState::Failed,
        // accepted, or one PortOne adds later: no money is known to have moved
        CancellationStatus::Requested | CancellationStatus::Other => CancellationState::Requested,
    }
}

fn entry(c: &Cancellation) -> CancelEntry {
    CancelEntry {
        state: state(c.status),
        pg_tid: c.pg_cancellation_id.clone(),
        amount: c.total_amount,
        cancelled_at: unix(c.cancelled_at.as_deref().or(c.requested_at.as_deref())),
        reason: Some(c.reason.clone()),
        receipt_url: c.receipt_url.clone(),
        cancellation_id: Some(c.id.clone()),
    }
}

/// V1's names for V2's methods, so the refund rules (vbank accounts, phone months) read both.
fn pay_method(kind: Option<&PaymentMethodType>) -> &'static str {
    match kind {
        Some(PaymentMethodType::PaymentMethodCard) => "card",
        Some(PaymentMethodType::PaymentMethodVirtualAccount) => "vbank",
        Some(PaymentMethodType::PaymentMethodTransfer) => "trans",
        Some(PaymentMethodType::PaymentMethodMobile) => "phone",
        Some(PaymentMethodType::PaymentMethodEasyPay) => "easypay",
        Some(PaymentMethodType::PaymentMethodConvenienceStore) => "cvs",
        Some(PaymentMethodType::PaymentMethodGiftCertificate) => "giftcertificate",
        Some(PaymentMethodType::Other) | None => "other",
    }
}

pub fn from_v2(p: portone_v2::Payment) -> Payment {
    use portone_v2::PaymentStatus as V2;
    let raw = portone_v1::RawJson::of(&p).expect("a V2 payment serialises");
    let amount = p.amount.clone().unwrap_or_default();
    let status = match p.status {
        V2::Ready | V2::VirtualAccountIssued | V2::PayPending => PaymentStatus::Ready,
        // V1 keeps a partly refunded payment `paid`
        V2::Paid | V2::PartialCancelled => PaymentStatus::Paid,
        V2::Cancelled => PaymentStatus::Cancelled,
        V2::Failed => PaymentStatus::Failed,
        // one PortOne adds later: nothing a refund may take from until we know it
        V2::Other => PaymentStatus::Ready,
    };
    let history: Vec<CancelEntry> = p.cancellations.iter().map(entry).collect();
    let vat_returned: i64 = history
        .iter()
        .zip(&p.cancellations)
        .filter(|(e, _)| e.state == CancellationState::Succeeded)
        .map(|(_, c)| c.vat_amount)
        .sum();
    let vat = amount.vat.unwrap_or(0);
    let balance = Balance {
        original: TaxSplit { tax_free: amount.tax_free, vat, total: amount.total },
        remaining: TaxSplit {
            tax_free: amount.tax_free - amount.cancelled_tax_free,
            vat: vat - vat_returned,
            total: amount.total - amount.cancelled,
        },
    };
    let customer = p.customer.clone().unwrap_or_default();
    Payment {
        version: ApiVersion::V2,
        imp_uid: p.transaction_id.clone().unwrap_or_else(|| p.id.clone()),
        merchant_uid: p.id.clone(),
        pay_method: pay_method(p.method.as_ref().map(|m| &m.kind)).to_string(),
        pg_provider: p.channel.as_ref().and_then(|c| c.pg_provider.clone()).unwrap_or_default(),
        sandbox: p.channel.as_ref().and_then(|c| c.kind.as_deref()) == Some("TEST"),
        name: p.order_name.clone(),
        amount: amount.total,
        cancel_amount: amount.cancelled,
        currency: p.currency.clone().unwrap_or_else(|| "KRW".into()),
        buyer_name: customer.name,
        buyer_email: customer.email,
        status,
        paid_at: unix(p.paid_at.as_deref()),
        cancelled_at: unix(p.cancelled_at.as_deref()),
        receipt_url: p.receipt_url.clone(),
        cancel_history: Some(history),
        vbank_code: None,
        vbank_name: None,
        vbank_num: None,
        vbank_holder: None,
        balance: Some(balance),
        raw,
    }
}

fn body(o: &CancelOrder) -> CancelBody {
    CancelBody {
        amount: Some(o.amount),
        tax_free_amount: o.tax_free,
        vat_amount: o.vat,
        reason: o.reason.clone(),
        requester: Some(if o.by_customer {
            CancelRequester::Customer
        } else {
            CancelRequester::Admin
        }),
        current_cancellable_amount: Some(o.checksum),
        refund_account: o.account.as_ref().map(|a| RefundAccount {
            // a code without a V2 name cannot pass validation (`banks::refund_banks`)
            bank: v2_bank(&a.bank).unwrap_or_default().to_string(),
            number: a.number.0.clone(),
            holder_name: a.holder.clone(),
            holder_phone_number: a.tel.clone(),
        }),
        ..Default::default()
    }
}

/// The refund's cancel under its own key (its id: the same on every attempt, so PortOne
/// applies it at most once), then the payment as it stands after it.
pub async fn cancel(client: &PortOneV2Client, o: &CancelOrder) -> Result<Payment, GatewayError> {
    let key = IdempotencyKey::new(o.refund_id.simple().to_string())
        .expect("a UUID's 32 hex digits make a valid key");
    let cancellation = client.cancel(&o.payment.merchant_uid, &key, &body(o)).await?;
    let mut payment = match client.payment(&o.payment.merchant_uid).await {
        Ok(p) => from_v2(p),
        Err(e) => return Err(GatewayError::ReadAfterCancel(state(cancellation.status), e)),
    };
    // the answer is the proof; a read that lags behind it still shows it
    if let Some(history) = payment.cancel_history.as_mut() {
        if !history.iter().any(|e| e.cancellation_id.as_deref() == Some(&cancellation.id)) {
            history.push(entry(&cancellation));
        }
    }
    Ok(payment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v2_payment_reads_as_the_refund_side_needs_it() {
        let p: portone_v2::Payment = serde_json::from_value(serde_json::json!({
            "status": "PARTIAL_CANCELLED", "id": "order-1", "transactionId": "tx-1",
            "channel": {"pgProvider": "NICE_V2"}, "method": {"type": "PaymentMethodVirtualAccount"},
            "orderName": "키보드", "currency": "KRW",
            "amount": {"total": 10000, "taxFree": 2000, "vat": 727, "paid": 10000,
                       "cancelled": 1000, "cancelledTaxFree": 0},
            "customer": {"email": "minsu@example.com"},
            "paidAt": "2026-11-30T01:00:00Z",
            "cancellations": [
                {"status": "SUCCEEDED", "id": "c1", "totalAmount": 1000, "vatAmount": 91,
                 "reason": "[R-7F3A2C1D] 변심", "cancelledAt": "2026-11-30T01:30:01Z"},
                {"status": "REQUESTED", "id": "c2", "totalAmount": 2000, "vatAmount": 182,
                 "reason": "콘솔", "requestedAt": "2026-11-30T02:00:00Z"}
            ]
        }))
        .unwrap();
        let p = from_v2(p);
        assert_eq!((p.imp_uid.as_str(), p.merchant_uid.as_str()), ("tx-1", "order-1"));
        assert_eq!((p.pay_method.as_str(), p.status.clone()), ("vbank", PaymentStatus::Paid));
        // money returned counts the applied cancellation only
        assert_eq!((p.cancel_amount, p.cancellable()), (1000, 9000));
        let states: Vec<_> = p.history().iter().map(|e| e.state).collect();
        assert_eq!(states, [CancellationState::Succeeded, CancellationState::Requested]);
        assert_eq!(p.history()[1].cancelled_at, 1_796_004_000, "when it was requested");
        let b = p.balance.unwrap();
        assert_eq!((b.remaining.tax_free, b.remaining.vat, b.remaining.total), (2000, 636, 9000));
    }
}
