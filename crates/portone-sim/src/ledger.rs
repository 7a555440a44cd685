//! PortOne's cancel rules over the simulator's own payments, as plain functions.

use std::sync::Arc;

use chrono::{DateTime, Datelike};
use chrono_tz::Asia::Seoul;
use rand::Rng;

use super::banks;
use super::wire::{CancelBody, CancelEntry, SimPayment, Status};

pub const NOT_FOUND_FOR_CANCEL: &str = "취소할 결제건이 존재하지 않습니다.";
pub const NOT_FOUND: &str = "존재하지 않는 결제정보입니다.";
pub const ALREADY_CANCELLED: &str = "이미 전액취소된 주문입니다.";

pub fn random_hex(rng: &mut impl Rng, len: usize) -> String {
    (0..len).map(|_| format!("{:x}", rng.gen_range(0..16u8))).collect()
}

/// Same calendar month in Korea (carriers bill in KST).
pub fn same_kst_month(a: i64, b: i64) -> bool {
    let (Some(a), Some(b)) = (DateTime::from_timestamp(a, 0), DateTime::from_timestamp(b, 0))
    else {
        return false;
    };
    let (a, b) = (a.with_timezone(&Seoul), b.with_timezone(&Seoul));
    (a.year(), a.month()) == (b.year(), b.month())
}

/// Options that differ per merchant contract.
#[derive(Clone, Debug, Default)]
pub struct CancelPolicy {
    /// KCP allows partial phone cancels only when the merchant asked for it.
    pub kcp_phone_partial: bool,
}

/// What one cancel takes from a payment: the amount and its tax-free and VAT parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelParts {
    pub amount: i64,
    pub tax_free: i64,
    pub vat: i64,
}

impl CancelParts {
    /// A cancel PortOne splits itself, in proportion to what remains (console cancels).
    pub fn split_by_portone(payment: &SimPayment, amount: i64) -> CancelParts {
        let (tax_free, vat) =
            payment.tax.proportional(payment.amount, amount, payment.cancellable());
        CancelParts { amount, tax_free, vat }
    }
}

/// PGs that do not take a missing `tax_free` as 0 (PortOne's reference, `tax_free`).
const TAX_FREE_REQUIRED: &[&str] = &["kcp", "kcp_quick", "kicc", "nice", "payco"];
/// PGs that need `vat_amount` on a cancel when the payment named its VAT (`vat_amount`).
const VAT_REQUIRED: &[&str] = &["nice", "html5_inicis", "welcome", "nice_v2"];

/// Checks a cancel against PortOne's rules. `Ok` carries what would be cancelled; `Err` the
/// refusal message. Nothing changes here: applying is `record_cancel`.
pub fn check_cancel(
    payment: &SimPayment,
    req: &CancelBody,
    now: i64,
    policy: &CancelPolicy,
) -> Result<CancelParts, String> {
    if !matches!(payment.status, Status::Paid | Status::Cancelled) {
        return Err("결제완료 상태가 아닌 결제건은 취소할 수 없습니다.".into());
    }
    let cancellable = payment.cancellable();
    if cancellable <= 0 {
        return Err(ALREADY_CANCELLED.into());
    }
    if let Some(checksum) = req.checksum {
        if checksum != cancellable {
            return Err(format!(
                "취소가능 잔액 검증에 실패하였습니다. (요청 checksum {checksum}, 취소가능 잔액 {cancellable})"
            ));
        }
    }
    let amount = match req.amount {
        None | Some(0) => cancellable,
        Some(a) if a < 0 => return Err("취소요청금액이 올바르지 않습니다.".into()),
        Some(a) if a > cancellable => {
            return Err(format!(
                "취소요청금액({a})이 취소가능금액({cancellable})을 초과하였습니다."
            ))
        }
        Some(a) => a,
    };
    let pg = payment.pg_provider.as_str();
    let method = payment.pay_method.as_str();
    // PortOne's reference, `POST /payments/cancel`: `refund_tel` is required for vbank refunds on
    // smartro (the old module) and for vbank and trans refunds on smartro_v2, which also needs
    // the refund account for trans.
    let needs_tel = (pg == "smartro" && method == "vbank")
        || (pg == "smartro_v2" && matches!(method, "vbank" | "trans"));
    if needs_tel && req.refund_tel.as_deref().is_none_or(|t| t.trim().is_empty()) {
        return Err(format!("[{pg}] 환불계좌 예금주 연락처(refund_tel)가 필요합니다."));
    }
    // KCP refunds an earlier month's phone payment to a bank account ("휴대폰소액결제 익월 환불").
    let kcp_next_month = method == "phone"
        && matches!(pg, "kcp" | "kcp_quick")
        && !same_kst_month(payment.paid_at, now);
    if method == "vbank" || (pg == "smartro_v2" && method == "trans") || kcp_next_month {
        let (Some(_holder), Some(bank), Some(_account)) =
            (&req.refund_holder, &req.refund_bank, &req.refund_account)
        else {
            return Err("환불계좌 예금주, 은행코드, 계좌번호가 필요합니다.".into());
        };
        if !banks::accepts(pg, bank) {
            return Err(format!("[{pg}] 유효하지 않은 환불 은행코드입니다: {bank}"));
        }
    }
    if method == "phone" {
        if !same_kst_month(payment.paid_at, now) && !kcp_next_month {
            return Err("휴대폰 소액결제는 결제한 달에만 취소할 수 있습니다.".into());
        }
        let partial = amount < payment.amount;
        let pg_allows_partial = payment.pg_provider == "html5_inicis"
            || (payment.pg_provider == "kcp" && policy.kcp_phone_partial);
        if partial && !pg_allows_partial {
            return Err("휴대폰 소액결제는 부분취소가 불가능합니다.".into());
        }
    }
    check_tax_parts(payment, req, amount)
}

/// The tax-free and VAT parts of a cancel: required where the PG needs them, never above
/// what remains of them, and all that remains on a full cancel.
fn check_tax_parts(
    payment: &SimPayment,
    req: &CancelBody,
    amount: i64,
) -> Result<CancelParts, String> {
    let pg = payment.pg_provider.as_str();
    let cancellable = payment.cancellable();
    let left = payment.tax.remaining(payment.amount, cancellable);
    if TAX_FREE_REQUIRED.contains(&pg) && payment.tax.tax_free > 0 && req.tax_free.is_none() {
        return Err(format!("[{pg}] 면세 결제의 취소에는 면세금액(tax_free)이 필요합니다."));
    }
    if VAT_REQUIRED.contains(&pg) && payment.tax.vat_amount.is_some() && req.vat_amount.is_none() {
        return Err(format!(
            "[{pg}] 부가세를 지정한 결제의 취소에는 부가세(vat_amount)가 필요합니다."
        ));
    }
    let full = amount == cancellable;
    let tax_free = match req.tax_free {
        Some(t) if t < 0 || t > amount => return Err("면세금액이 올바르지 않습니다.".into()),
        Some(t) if t > left.tax_free => {
            return Err(format!(
                "취소 면세금액({t})이 취소가능 면세금액({})을 초과하였습니다.",
                left.tax_free
            ))
        }
        Some(t) if full && t != left.tax_free => {
            return Err(format!(
                "전액 취소의 면세금액({t})은 남은 면세금액({})과 같아야 합니다.",
                left.tax_free
            ))
        }
        Some(t) => t,
        None if full => left.tax_free,
        None => 0,
    };
    let vat = match req.vat_amount {
        Some(v) if v < 0 || v + tax_free > amount => {
            return Err("부가세가 올바르지 않습니다.".into())
        }
        Some(v) if v > left.vat => {
            return Err(format!(
                "취소 부가세({v})가 취소가능 부가세({})를 초과하였습니다.",
                left.vat
            ))
        }
        Some(v) => v,
        None if full => left.vat,
        None => crate::tax::vat_of_taxable(amount - tax_free).min(left.vat),
    };
    // what stays taxable must still cover what stays of the supply value
    if (cancellable - amount) < (left.tax_free - tax_free) + (left.vat - vat) {
        return Err("취소 과세금액이 취소가능 과세금액을 초과하였습니다.".into());
    }
    Ok(CancelParts { amount, tax_free, vat })
}

/// Adds a cancel to the payment: cancel_amount, status, the tax parts, a cancel_history
/// entry, and V2's view of it (`trigger`: `API` or `CONSOLE`; an accepted V2 cancellation
/// being applied keeps its id and turns `SUCCEEDED`).
pub fn record_cancel(
    payment: &mut SimPayment,
    parts: CancelParts,
    reason: String,
    now: i64,
    rng: &mut impl Rng,
) -> CancelEntry {
    record_cancel_as(payment, parts, reason, now, rng, "API", None)
}

pub fn record_cancel_as(
    payment: &mut SimPayment,
    parts: CancelParts,
    reason: String,
    now: i64,
    rng: &mut impl Rng,
    trigger: &str,
    accepted: Option<&str>,
) -> CancelEntry {
    let amount = parts.amount;
    let entry = CancelEntry {
        pg_tid: format!("simcancel_{}", random_hex(rng, 16)),
        amount,
        cancelled_at: now,
        reason: reason.clone(),
        receipt_url: format!("https://sim.portone.invalid/receipts/{}", random_hex(rng, 12)),
        cancellation_id: accepted
            .map(str::to_string)
            .unwrap_or_else(|| format!("cancel_{}", random_hex(rng, 20))),
    };
    payment.cancel_amount += amount;
    let cancellable = payment.cancellable();
    payment.tax.record(payment.amount, cancellable, parts.tax_free, parts.vat, now);
    payment.status = Status::Cancelled;
    payment.cancelled_at = now;
    payment.cancel_reason = Some(reason);
    Arc::make_mut(&mut payment.cancel_receipt_urls).push(entry.receipt_url.clone());
    Arc::make_mut(&mut payment.cancel_history).push(entry.clone());
    let applied = crate::wire::V2Cancellation {
        status: "SUCCEEDED".into(),
        id: entry.cancellation_id.clone(),
        pg_cancellation_id: Some(entry.pg_tid.clone()),
        total_amount: amount,
        tax_free_amount: parts.tax_free,
        vat_amount: parts.vat,
        reason: entry.reason.clone(),
        requested_at: crate::wire::rfc3339(now),
        cancelled_at: Some(crate::wire::rfc3339(now)),
        receipt_url: Some(entry.receipt_url.clone()),
        trigger: trigger.into(),
    };
    let cancellations = Arc::make_mut(&mut payment.v2_cancellations);
    match cancellations.iter_mut().find(|c| c.id == applied.id) {
        Some(requested) => {
            let requested_at = requested.requested_at.clone();
            *requested = crate::wire::V2Cancellation { requested_at, ..applied };
        }
        None => cancellations.push(applied),
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(pay_method: &str, pg: &str, amount: i64, paid_at: i64) -> SimPayment {
        serde_json::from_value(serde_json::json!({
            "imp_uid": "imp_t", "merchant_uid": "m_t", "pay_method": pay_method, "pg_provider": pg,
            "amount": amount, "status": "paid", "paid_at": paid_at
        }))
        .unwrap()
    }

    fn cancel(
        p: &mut SimPayment,
        req: &CancelBody,
        now: i64,
        policy: &CancelPolicy,
    ) -> Result<CancelEntry, String> {
        let parts = check_cancel(p, req, now, policy)?;
        Ok(record_cancel(
            p,
            parts,
            req.reason.clone().unwrap_or_default(),
            now,
            &mut rand::thread_rng(),
        ))
    }

    const NOW: i64 = 1_790_000_000;

    #[test]
    fn checksum_must_equal_the_cancellable_balance() {
        let mut p = payment("card", "html5_inicis", 10_000, NOW);
        let wrong = CancelBody { amount: Some(1000), checksum: Some(9000), ..Default::default() };
        assert!(cancel(&mut p, &wrong, NOW, &CancelPolicy::default()).is_err());
        assert_eq!(p.cancel_amount, 0);
        let right = CancelBody { amount: Some(1000), checksum: Some(10_000), ..Default::default() };
        cancel(&mut p, &right, NOW, &CancelPolicy::default()).unwrap();
        assert_eq!((p.cancel_amount, p.status), (1000, Status::Cancelled));
        // the same request again fails: the balance moved
        assert!(cancel(&mut p, &right, NOW, &CancelPolicy::default()).is_err());
    }

    #[test]
    fn missing_or_zero_amount_cancels_the_rest_then_nothing_is_left() {
        let mut p = payment("card", "kcp", 5000, NOW);
        cancel(
            &mut p,
            &CancelBody { amount: Some(2000), ..Default::default() },
            NOW,
            &Default::default(),
        )
        .unwrap();
        let e = cancel(
            &mut p,
            &CancelBody { amount: Some(0), ..Default::default() },
            NOW,
            &Default::default(),
        )
        .unwrap();
        assert_eq!(e.amount, 3000);
        let again = cancel(&mut p, &CancelBody::default(), NOW, &Default::default());
        assert_eq!(again.unwrap_err(), ALREADY_CANCELLED);
    }

    #[test]
    fn vbank_needs_an_account_with_a_bank_code_of_its_pg() {
        let mut p = payment("vbank", "html5_inicis", 5000, NOW);
        let mut req = CancelBody::default();
        assert!(cancel(&mut p, &req, NOW, &Default::default()).is_err());
        req.refund_holder = Some("홍길동".into());
        req.refund_bank = Some("088".into());
        req.refund_account = Some("56211105948400".into());
        assert!(cancel(&mut p, &req, NOW, &Default::default()).is_err());
        req.refund_bank = Some("88".into());
        assert!(cancel(&mut p, &req, NOW, &Default::default()).is_ok());
    }

    #[test]
    fn phone_only_in_the_same_kst_month_and_partial_only_where_the_pg_allows() {
        // 2026-01-31 23:30 KST is 14:30 UTC; 2026-02-01 00:10 KST is 2026-01-31 15:10 UTC.
        let paid = 1_769_869_800; // 2026-01-31T14:30:00Z
        let next_kst_day = paid + 40 * 60;
        let mut p = payment("phone", "html5_inicis", 3000, paid);
        assert!(cancel(&mut p, &CancelBody::default(), next_kst_day, &Default::default()).is_err());
        let mut p = payment("phone", "danal", 3000, paid);
        let partial = CancelBody { amount: Some(1000), ..Default::default() };
        assert!(cancel(&mut p, &partial, paid + 60, &Default::default()).is_err());
        let mut p = payment("phone", "kcp", 3000, paid);
        assert!(cancel(&mut p, &partial, paid + 60, &Default::default()).is_err());
        assert!(
            cancel(&mut p, &partial, paid + 60, &CancelPolicy { kcp_phone_partial: true }).is_ok()
        );
    }

    #[test]
    fn smartro_needs_the_holders_phone_and_kcp_refunds_an_earlier_months_phone_payment_to_an_account(
    ) {
        let account = |req: &mut CancelBody, bank: &str| {
            req.refund_holder = Some("홍길동".into());
            req.refund_bank = Some(bank.into());
            req.refund_account = Some("56211105948400".into());
        };
        // smartro vbank: the account is not enough without refund_tel
        let mut p = payment("vbank", "smartro", 5000, NOW);
        let mut req = CancelBody::default();
        account(&mut req, "088");
        assert!(cancel(&mut p, &req, NOW, &Default::default()).unwrap_err().contains("refund_tel"));
        req.refund_tel = Some("01012345678".into());
        assert!(cancel(&mut p, &req, NOW, &Default::default()).is_ok());
        // smartro_v2 trans: account and phone
        let mut p = payment("trans", "smartro_v2", 5000, NOW);
        let mut req = CancelBody { refund_tel: Some("01012345678".into()), ..Default::default() };
        assert!(cancel(&mut p, &req, NOW, &Default::default()).is_err());
        account(&mut req, "088");
        assert!(cancel(&mut p, &req, NOW, &Default::default()).is_ok());
        // KCP phone, paid last month: to an account only; other PGs refuse
        let paid = 1_769_869_800; // 2026-01-31T14:30:00Z, the next KST day is in February
        let next_month = paid + 40 * 60;
        let mut p = payment("phone", "kcp", 3000, paid);
        let mut req = CancelBody::default();
        assert!(cancel(&mut p, &req, next_month, &Default::default()).is_err());
        account(&mut req, "BK88");
        assert!(cancel(&mut p, &req, next_month, &Default::default()).is_ok());
        let mut p = payment("phone", "danal", 3000, paid);
        account(&mut req, "088");
        assert!(cancel(&mut p, &req, next_month, &Default::default()).is_err());
    }

    #[test]
    fn tax_free_payments_need_their_parts_where_the_pg_does_not_default_them() {
        let mut p = payment("card", "kcp", 16_000, NOW);
        p.tax.tax_free = 6_000;
        let partial = CancelBody { amount: Some(4_000), ..Default::default() };
        let refused = cancel(&mut p, &partial, NOW, &Default::default()).unwrap_err();
        assert!(refused.contains("tax_free"), "{refused}");
        let too_much = CancelBody { tax_free: Some(4_001), ..partial.clone() };
        assert!(cancel(&mut p, &too_much, NOW, &Default::default()).is_err());
        let with_parts = CancelBody { tax_free: Some(1_500), vat_amount: Some(227), ..partial };
        cancel(&mut p, &with_parts, NOW, &Default::default()).unwrap();
        assert_eq!(p.tax.remaining(p.amount, p.cancellable()).tax_free, 4_500);
        // a full cancel must name exactly what remains
        let full = CancelBody { tax_free: Some(4_000), ..Default::default() };
        assert!(cancel(&mut p, &full, NOW, &Default::default()).unwrap_err().contains("4500"));
        let full = CancelBody { tax_free: Some(4_500), ..Default::default() };
        cancel(&mut p, &full, NOW, &Default::default()).unwrap();
        assert_eq!(p.tax.remaining(p.amount, p.cancellable()), crate::tax::Parts::default());
        // inicis defaults a missing tax_free to 0, but needs the VAT the payment named
        let mut p = payment("card", "html5_inicis", 11_000, NOW);
        p.tax.vat_amount = Some(1_000);
        let partial = CancelBody { amount: Some(5_500), ..Default::default() };
        assert!(cancel(&mut p, &partial, NOW, &Default::default())
            .unwrap_err()
            .contains("vat_amount"));
        let with_vat = CancelBody { vat_amount: Some(500), ..partial };
        cancel(&mut p, &with_vat, NOW, &Default::default()).unwrap();
    }
}
