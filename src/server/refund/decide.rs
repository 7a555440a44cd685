//! What PortOne's payment proves about one of our refunds — pure functions, no I/O.
//!
//! A refund is identified by evidence of its own, never by a coincidence of amounts: every
//! cancel we send carries a short reference (`환불번호 R-7F3A2C1D`) inside `reason`, and
//! PortOne keeps that reason in `cancel_history`. The reference is drawn from the refund's
//! fresh id at reservation, so an entry carrying it can only have been made after that —
//! "new since the reservation" needs no stored list of the entries known then.

use uuid::Uuid;

use portone_v1::{CancelHistoryEntry, Payment};

/// Resends with the same checksum before a refund that PortOne never applied is failed.
pub const MAX_ATTEMPTS: i32 = 3;

/// The word before the reference in a cancel reason, shown on receipts and in PortOne's console.
const REFERENCE_LABEL: &str = "환불번호 ";

pub use crate::model::RefundStatus;

/// The refund's short reference: `R-` and the first eight hex digits of its id, upper-cased.
pub fn reference(refund_id: Uuid) -> String {
    format!("R-{}", &refund_id.simple().to_string()[..8].to_uppercase())
}

/// The `reason` sent to PortOne: the customer's reason and the refund's reference.
pub fn reason_for_portone(reason: &str, refund_id: Uuid) -> String {
    format!("{reason} ({REFERENCE_LABEL}{})", reference(refund_id))
}

/// The reference a cancel reason carries, if any (the last one, as we append ours).
pub fn reference_in(reason: &str) -> Option<&str> {
    let start = reason.rfind(REFERENCE_LABEL)? + REFERENCE_LABEL.len();
    let candidate = reason.get(start..start + 10)?;
    let hex = candidate.strip_prefix("R-")?;
    hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()).then_some(candidate)
}

/// The `id::text like …` pattern that finds the refund a reference names.
pub fn id_prefix_pattern(reference: &str) -> Option<String> {
    reference.strip_prefix("R-").map(|hex| format!("{}%", hex.to_lowercase()))
}

fn carries(entry: &CancelHistoryEntry, reference: &str) -> bool {
    entry.reason.as_deref().and_then(reference_in) == Some(reference)
}

/// The keys of the entries that carry `reference`: the only ones whose links matter to
/// `identify` (usually one, however long the history).
pub fn carrying(reference: &str, history: &[CancelHistoryEntry]) -> Vec<String> {
    history.iter().filter(|e| carries(e, reference)).map(CancelHistoryEntry::entry_key).collect()
}

/// Which cancel_history entry a refund caused, judged by its reference.
#[derive(Debug, PartialEq)]
pub enum Identified<'a> {
    One(&'a CancelHistoryEntry),
    None,
    /// Several entries carry the reference, or one does with another amount.
    Ambiguous {
        entries: usize,
    },
}

/// The entry carrying `reference`, skipping entries already explained by other refunds.
pub fn identify<'a>(
    amount: i64,
    reference: &str,
    history: &'a [CancelHistoryEntry],
    linked_elsewhere: &[String],
) -> Identified<'a> {
    let mut found = history
        .iter()
        .filter(|e| carries(e, reference) && !linked_elsewhere.contains(&e.entry_key()));
    match (found.next(), found.next()) {
        (None, _) => Identified::None,
        (Some(e), None) if e.amount == amount => Identified::One(e),
        (Some(_), second) => {
            Identified::Ambiguous { entries: 1 + usize::from(second.is_some()) + found.count() }
        }
    }
}

/// What we know of a refund whose cancel did not answer clearly.
#[derive(Clone, Debug)]
pub struct PendingRefund {
    pub id: Uuid,
    pub amount: i64,
    /// the cancellable balance we saw at reservation and sent as `checksum`
    pub checksum: i64,
    /// cancels sent so far
    pub attempts: i32,
}

/// What to do with a pending refund, given PortOne's payment.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// The entry carrying our reference: ours went through.
    Succeeded { entry_key: String },
    /// PortOne's balance still equals our checksum, so nothing of ours was applied (the
    /// balance only goes down): send the same cancel again.
    Resend,
    /// Nothing of ours was applied and every resend is spent.
    Fail { message: String },
    /// The evidence neither proves nor rules out our cancel: an admin decides.
    NeedsReview { why: String },
    /// PortOne left out the history this time (an optional field may be null): ask again later.
    LookAgain,
}

pub fn decide(r: &PendingRefund, payment: &Payment, linked_elsewhere: &[String]) -> Decision {
    let cancellable = payment.cancellable();
    let Some(history) = payment.cancel_history.as_deref() else {
        // Without a history, only an unmoved balance is evidence.
        return if cancellable == r.checksum { resend_or_fail(r) } else { Decision::LookAgain };
    };
    match identify(r.amount, &reference(r.id), history, linked_elsewhere) {
        Identified::One(e) => Decision::Succeeded { entry_key: e.entry_key() },
        Identified::Ambiguous { entries } => Decision::NeedsReview {
            why: format!("이 환불의 환불번호가 붙은 취소가 {entries}건이거나 금액이 다릅니다."),
        },
        Identified::None if cancellable == r.checksum => resend_or_fail(r),
        Identified::None => Decision::NeedsReview {
            why: format!(
                "PortOne의 환불 가능 금액이 {}에서 {}(으)로 바뀌었지만, 이 환불의 환불번호가 붙은 취소가 없습니다.",
                crate::model::format_won(r.checksum),
                crate::model::format_won(cancellable)
            ),
        },
    }
}

fn resend_or_fail(r: &PendingRefund) -> Decision {
    if r.attempts < MAX_ATTEMPTS {
        Decision::Resend
    } else {
        Decision::Fail {
            message: format!("PortOne에 환불이 반영되지 않았습니다. ({}회 시도)", r.attempts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: Uuid = Uuid::from_u128(0x7f3a2c1d_0000_4000_8000_000000000001);

    fn payment(amount: i64, history: Option<&[(i64, &str, &str)]>) -> Payment {
        let entries: Option<Vec<_>> = history.map(|h| {
            h.iter()
                .map(|(a, reason, id)| serde_json::json!({"amount": a, "cancelled_at": 1, "cancellation_id": id, "pg_tid": "t", "reason": reason}))
                .collect()
        });
        let cancelled: i64 = history.map(|h| h.iter().map(|e| e.0).sum()).unwrap_or(0);
        serde_json::from_value(serde_json::json!({
            "imp_uid": "i", "merchant_uid": "m", "amount": amount, "cancel_amount": cancelled, "currency": "KRW",
            "status": if cancelled > 0 { "cancelled" } else { "paid" }, "sandbox": false, "cancel_history": entries
        }))
        .unwrap()
    }

    #[test]
    fn references_round_trip_through_a_reason() {
        assert_eq!(reference(ID), "R-7F3A2C1D");
        let sent = reason_for_portone("단순 변심", ID);
        assert_eq!(sent, "단순 변심 (환불번호 R-7F3A2C1D)");
        assert_eq!(reference_in(&sent), Some("R-7F3A2C1D"));
        assert_eq!(reference_in("관리자 콘솔 취소"), None);
        assert_eq!(reference_in("환불번호 R-7f3a2c1d"), None);
        assert_eq!(id_prefix_pattern("R-7F3A2C1D").as_deref(), Some("7f3a2c1d%"));
    }

    /// Every row of the reconciliation rules, the two console-cancel cases included.
    #[test]
    fn decision_table() {
        let ours = reason_for_portone("단순 변심", ID);
        let other = reason_for_portone(
            "다른 환불",
            Uuid::from_u128(0xabcdef01_0000_4000_8000_000000000002),
        );
        let r = |amount, checksum, attempts| PendingRefund { id: ID, amount, checksum, attempts };
        let linked = vec!["c_other".to_string()];
        let review = |why: &str| Decision::NeedsReview { why: why.into() };
        let moved = |from: &str, to: &str| {
            review(&format!("PortOne의 환불 가능 금액이 {from}에서 {to}(으)로 바뀌었지만, 이 환불의 환불번호가 붙은 취소가 없습니다."))
        };
        let cases: Vec<(&str, PendingRefund, Payment, Decision)> = vec![
            (
                "the entry with our reference: succeeded",
                r(1000, 10_000, 1),
                payment(10_000, Some(&[(1000, &ours, "c1")])),
                Decision::Succeeded { entry_key: "c1".into() },
            ),
            (
                "balance equals the checksum: nothing applied, resend",
                r(1000, 10_000, 1),
                payment(10_000, Some(&[])),
                Decision::Resend,
            ),
            (
                "balance equals the checksum after every resend: fail",
                r(1000, 10_000, MAX_ATTEMPTS),
                payment(10_000, Some(&[])),
                Decision::Fail {
                    message: format!(
                        "PortOne에 환불이 반영되지 않았습니다. ({MAX_ATTEMPTS}회 시도)"
                    ),
                },
            ),
            (
                "console cancel synced before we reserved, ours failed before apply: resend",
                r(1000, 9_000, 1),
                payment(10_000, Some(&[(1000, "관리자 콘솔 취소", "c0")])),
                Decision::Resend,
            ),
            (
                "console cancel of the same amount while ours was pending: review, not success",
                r(1000, 10_000, 1),
                payment(10_000, Some(&[(1000, "관리자 콘솔 취소", "c0")])),
                moved("10,000원", "9,000원"),
            ),
            (
                "another refund's entry of the same amount is not ours",
                r(1000, 9_000, 1),
                payment(10_000, Some(&[(1000, &other, "c_other")])),
                Decision::Resend,
            ),
            (
                "a different amount moved the balance: review",
                r(1000, 10_000, 1),
                payment(10_000, Some(&[(2000, "콘솔", "c3")])),
                moved("10,000원", "8,000원"),
            ),
            (
                "our reference on an entry of another amount: review",
                r(1000, 10_000, 1),
                payment(10_000, Some(&[(2000, &ours, "c4")])),
                review("이 환불의 환불번호가 붙은 취소가 1건이거나 금액이 다릅니다."),
            ),
            (
                "our reference on two entries: review",
                r(1000, 10_000, 2),
                payment(10_000, Some(&[(1000, &ours, "c5"), (1000, &ours, "c6")])),
                review("이 환불의 환불번호가 붙은 취소가 2건이거나 금액이 다릅니다."),
            ),
            (
                "history left out, balance unmoved: resend",
                r(1000, 10_000, 1),
                payment(10_000, None),
                Decision::Resend,
            ),
            (
                "history left out, balance moved: look again",
                r(1000, 10_000, 1),
                {
                    let mut p = payment(10_000, None);
                    p.cancel_amount = 1000;
                    p
                },
                Decision::LookAgain,
            ),
        ];
        for (name, facts, p, expected) in cases {
            assert_eq!(decide(&facts, &p, &linked), expected, "{name}");
        }
    }
}
