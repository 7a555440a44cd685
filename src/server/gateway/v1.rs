//! PortOne V1 in the gateway's shape: its payment, balance and cancel request.

use super::payment::{Balance, CancelEntry, Payment, TaxSplit};
use super::CancelOrder;
use crate::model::{ApiVersion, CancellationState};
use portone_v1::{
    BalanceParts, CancelExtra, CancelHistoryEntry, CancelRequest, PaymentBalance, RawJson,
    Requester,
};

pub fn from_v1(mut p: portone_v1::Payment) -> Payment {
    // PortOne's own text where the client read it; a payment built here is written out
    let raw = match p.raw.take() {
        Some(raw) => raw,
        None => RawJson::of(&p).expect("a V1 payment serialises"),
    };
    let cancel_history =
        p.cancel_history.map(|history| history.into_iter().map(v1_entry).collect());
    Payment {
        version: ApiVersion::V1,
        imp_uid: p.imp_uid,
        merchant_uid: p.merchant_uid,
        pay_method: p.pay_method,
        pg_provider: p.pg_provider,
        sandbox: p.sandbox,
        name: p.name,
        amount: p.amount,
        cancel_amount: p.cancel_amount,
        currency: p.currency,
        buyer_name: p.buyer_name,
        buyer_email: p.buyer_email,
        status: p.status,
        paid_at: p.paid_at,
        cancelled_at: p.cancelled_at,
        receipt_url: p.receipt_url,
        cancel_history,
        vbank_code: p.vbank_code,
        vbank_name: p.vbank_name,
        vbank_num: p.vbank_num,
        vbank_holder: p.vbank_holder,
        balance: None,
        raw,
    }
}

/// A V1 cancel_history entry: always applied (V1 lists nothing else).
pub fn v1_entry(e: CancelHistoryEntry) -> CancelEntry {
    CancelEntry {
        state: CancellationState::Succeeded,
        pg_tid: e.pg_tid,
        amount: e.amount,
        cancelled_at: e.cancelled_at,
        reason: e.reason,
        receipt_url: e.receipt_url,
        cancellation_id: e.cancellation_id,
    }
}

fn split(parts: &BalanceParts) -> TaxSplit {
    TaxSplit { tax_free: parts.tax_free, vat: parts.vat, total: parts.total() }
}

pub fn balance(b: &PaymentBalance) -> Balance {
    Balance { original: split(&b.original()), remaining: split(&b.remaining()) }
}

/// V1's cancel: the checksum guards the balance, the reference in `reason` identifies it.
pub fn cancel_request(o: &CancelOrder) -> CancelRequest {
    CancelRequest {
        imp_uid: Some(o.payment.imp_uid.clone()),
        amount: Some(o.amount),
        checksum: Some(o.checksum),
        reason: Some(o.reason.clone()),
        refund_holder: o.account.as_ref().map(|a| a.holder.clone()),
        refund_bank: o.account.as_ref().map(|a| a.bank.clone()),
        refund_account: o.account.as_ref().map(|a| a.number.clone()),
        refund_tel: o.account.as_ref().and_then(|a| a.tel.clone()),
        tax_free: o.tax_free,
        vat_amount: o.vat,
        extra: Some(CancelExtra {
            requester: Some(if o.by_customer { Requester::Customer } else { Requester::Admin }),
        }),
        enable_webhook: Some(true),
        ..Default::default()
    }
}
