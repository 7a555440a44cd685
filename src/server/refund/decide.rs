//! What PortOne's payment proves about one of our refunds — pure functions, no I/O.
//!
//! A refund is identified by evidence of its own, never by a coincidence of amounts: every
//! cancel we send carries a short reference at the start of its `reason`
//! (`[R-7F3A2C1D] 단순 변심`), and PortOne keeps that reason in `cancel_history`. First, so a
//! PG that keeps fewer bytes than PortOne cuts the customer's words, never the reference. The reference is drawn from the refund's
//! fresh id at reservation, so an entry carrying it can only have been made after that —
//! "new since the reservation" needs no stored list of the entries known then.

use std::sync::LazyLock;

use memchr::memmem::FinderRev;
use uuid::Uuid;

use crate::model::CancellationState;
use crate::server::gateway::{CancelEntry, Payment};

/// Resends with the same checksum before a refund that PortOne never applied is failed.
pub const MAX_ATTEMPTS: i32 = 3;

/// How references were written before they went first (`단순 변심 (환불번호 R-…)`): still read
/// in cancels sent then, never written.
const LEGACY_LABEL: &str = "환불번호 ";

/// The bytes of `reason` we send: the narrowest cancel-reason field we design for, so the PG
/// keeps all of it (PortOne itself takes 256 characters). The reference takes 13 of them.
pub const REASON_BYTES: usize = 100;

pub use crate::model::RefundStatus;

/// The refund's short reference: `R-` and the first eight hex digits of its id, upper-cased.
pub fn reference(refund_id: Uuid) -> String {
    format!("R-{}", &refund_id.simple().to_string()[..8].to_uppercase())
}

/// The `reason` sent to PortOne: the refund's reference, then the customer's reason with
/// anything that reads as a reference neutralised, cut to `REASON_BYTES` (on a character
/// boundary; the whole reason stays with us).
pub fn reason_for_portone(reason: &str, refund_id: Uuid) -> String {
    let mut sent = format!("[{}] {}", reference(refund_id), neutralised(reason.trim()));
    if sent.len() > REASON_BYTES {
        let mut end = REASON_BYTES;
        while !sent.is_char_boundary(end) {
            end -= 1;
        }
        sent.truncate(end);
    }
    sent
}

/// A customer's words cannot name a refund: `[R-` and the old label lose the shape
/// `reference_in` reads, wherever they stand.
fn neutralised(reason: &str) -> String {
    reason.replace('[', "(").replace(']', ")").replace(LEGACY_LABEL.trim_end(), "환불 번호")
}

fn is_reference(candidate: &str) -> bool {
    candidate.len() == 10
        && candidate.strip_prefix("R-").is_some_and(|hex| {
            hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase())
        })
}

/// The reference a cancel reason carries, if any: at its start (`[R-…] `), or, in a cancel
/// sent before references went first, after the old label at its end.
pub fn reference_in(reason: &str) -> Option<&str> {
    if let Some(rest) = reason.strip_prefix('[') {
        let candidate = rest.get(..10)?;
        return (is_reference(candidate) && rest[10..].starts_with(']')).then_some(candidate);
    }
    // the label's searcher is built once, not once per entry of a long history
    static LABEL: LazyLock<FinderRev<'static>> = LazyLock::new(|| FinderRev::new(LEGACY_LABEL));
    let start = LABEL.rfind(reason)? + LEGACY_LABEL.len();
    let candidate = reason.get(start..start + 10)?;
    is_reference(candidate).then_some(candidate)
}

/// The `id::text like …` pattern that finds the refund a reference names.
pub fn id_prefix_pattern(reference: &str) -> Option<String> {
    reference.strip_prefix("R-").map(|hex| format!("{}%", hex.to_lowercase()))
}

/// Whether a cancel reason carries `reference` (read as `reference_in` reads it, never by a
/// substring a customer's words could contain).
pub fn reason_carries(reason: Option<&str>, reference: &str) -> bool {
    reason.and_then(reference_in) == Some(reference)
}

fn carries(entry: &CancelEntry, reference: &str) -> bool {
    reason_carries(entry.reason.as_deref(), reference)
}

/// The entries that carry `reference`: the only ones whose links matter to `identify`
/// (usually one, however long the history).
pub fn carrying<'a>(
    reference: &'a str,
    history: &'a [CancelEntry],
) -> impl Iterator<Item = &'a CancelEntry> + 'a {
    history.iter().filter(move |e| carries(e, reference))
}

/// Which cancel_history entry a refund caused, judged by its reference.
#[derive(Debug, PartialEq)]
pub enum Identified<'a> {
    /// applied (or, V2, requested and not yet applied: see its `state`)
    One(&'a CancelEntry),
    /// V2: PortOne's cancellation for this refund failed; no money moved
    Failed(&'a CancelEntry),
    None,
    /// Several entries carry the reference, or one does with another amount: money may have
    /// moved twice.
    Duplicate(Vec<Carrying>),
}

/// An entry carrying a refund's reference, as the admin who reviews a suspected duplicate
/// sees it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Carrying {
    pub entry_key: String,
    pub amount: i64,
}

impl From<&CancelEntry> for Carrying {
    fn from(e: &CancelEntry) -> Self {
        Carrying { entry_key: e.entry_key(), amount: e.amount }
    }
}

/// The sentence a suspected duplicate is shown with (검토 필요).
pub fn duplicate_why(reference: &str, amount: i64, entries: &[Carrying]) -> String {
    let total: i64 = entries.iter().map(|e| e.amount).sum();
    format!(
        "중복 환불 의심: 환불번호 {reference}가 붙은 PortOne 취소가 {}건, 합계 {}입니다. 이 환불은 {}입니다.",
        entries.len(),
        crate::model::format_won(total),
        crate::model::format_won(amount)
    )
}

/// The entry carrying `reference`, skipping entries already explained by other refunds. A
/// failed V2 cancellation moved nothing: it counts only when nothing else carries the reference.
pub fn identify<'a>(
    amount: i64,
    reference: &str,
    history: &'a [CancelEntry],
    linked_elsewhere: &[String],
) -> Identified<'a> {
    let carrying = history
        .iter()
        .filter(|e| carries(e, reference) && !linked_elsewhere.contains(&e.entry_key()));
    let (failed, found): (Vec<&CancelEntry>, Vec<&CancelEntry>) =
        carrying.partition(|e| e.state == CancellationState::Failed);
    match found.as_slice() {
        [] => failed.last().map_or(Identified::None, |e| Identified::Failed(e)),
        [e] if e.amount == amount => Identified::One(e),
        _ => Identified::Duplicate(found.into_iter().map(Carrying::from).collect()),
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
    /// Seconds since PortOne accepted the cancel (code 0) without our entry in its history:
    /// a PG that cancels asynchronously. Such a refund is never resent.
    pub accepted_secs: Option<i64>,
}

/// How long an accepted cancel may take to appear before an admin is asked to look.
pub const ACCEPTED_WAIT_SECS: i64 = 3 * 24 * 3600;

/// What to do with a pending refund, given PortOne's payment.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// The entry carrying our reference: ours went through.
    Succeeded { entry_key: String },
    /// V2: PortOne holds our cancellation as requested (the PG applies it later): 환불 접수됨,
    /// never resent.
    Accepted,
    /// PortOne's balance still equals our checksum, so nothing of ours was applied (the
    /// balance only goes down): send the same cancel again.
    Resend,
    /// Nothing of ours was applied and every resend is spent.
    Fail { message: String },
    /// The evidence neither proves nor rules out our cancel: an admin decides.
    NeedsReview { why: String },
    /// More than one entry carries our reference, or one with another amount: an admin
    /// decides, told it is a suspected double refund.
    Duplicate { entries: Vec<Carrying> },
    /// PortOne left out the history this time (an optional field may be null): ask again later.
    LookAgain,
}

pub fn decide(r: &PendingRefund, payment: &Payment, linked_elsewhere: &[String]) -> Decision {
    if let Some(secs) = r.accepted_secs {
        return decide_accepted(r, secs, payment, linked_elsewhere);
    }
    let cancellable = payment.cancellable();
    let Some(history) = payment.cancel_history.as_deref() else {
        // Without a history, only an unmoved balance is evidence.
        return if cancellable == r.checksum { resend_or_fail(r) } else { Decision::LookAgain };
    };
    match identify(r.amount, &reference(r.id), history, linked_elsewhere) {
        Identified::One(e) => found(r, e),
        Identified::Failed(_) => failed_at_pg(),
        Identified::Duplicate(entries) => Decision::Duplicate { entries },
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

/// A cancel PortOne accepted: it succeeds when its entry appears, and is never sent again
/// (the PG may still apply it); an admin looks when it does not appear in time.
fn decide_accepted(
    r: &PendingRefund,
    accepted_secs: i64,
    payment: &Payment,
    linked_elsewhere: &[String],
) -> Decision {
    let history = payment.cancel_history.as_deref().unwrap_or_default();
    match identify(r.amount, &reference(r.id), history, linked_elsewhere) {
        Identified::One(e) => found(r, e),
        Identified::Failed(_) => failed_at_pg(),
        Identified::Duplicate(entries) => Decision::Duplicate { entries },
        Identified::None if accepted_secs >= ACCEPTED_WAIT_SECS => not_applied_in_time(),
        Identified::None => Decision::LookAgain,
    }
}

/// Our entry, by its state: applied, or accepted and waiting for its PG.
fn found(r: &PendingRefund, e: &CancelEntry) -> Decision {
    match e.state {
        CancellationState::Succeeded => Decision::Succeeded { entry_key: e.entry_key() },
        CancellationState::Failed => failed_at_pg(),
        CancellationState::Requested
            if r.accepted_secs.is_some_and(|secs| secs >= ACCEPTED_WAIT_SECS) =>
        {
            not_applied_in_time()
        }
        CancellationState::Requested => Decision::Accepted,
    }
}

fn not_applied_in_time() -> Decision {
    Decision::NeedsReview {
        why: format!(
            "PortOne이 접수한 취소가 {}일이 지나도록 반영되지 않았습니다. PG사에 확인해 주세요.",
            ACCEPTED_WAIT_SECS / 86_400
        ),
    }
}

/// The sentence a refund whose V2 cancellation failed at the PG ends with.
pub const FAILED_AT_PG: &str = "PG사가 환불을 처리하지 못했습니다. 다시 요청해 주세요.";

fn failed_at_pg() -> Decision {
    Decision::Fail { message: FAILED_AT_PG.into() }
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
        crate::server::gateway::from_v1(
            serde_json::from_value(serde_json::json!({
                "imp_uid": "i", "merchant_uid": "m", "amount": amount, "cancel_amount": cancelled, "currency": "KRW",
                "status": if cancelled > 0 { "cancelled" } else { "paid" }, "sandbox": false, "cancel_history": entries
            }))
            .unwrap(),
        )
    }

    /// A V2 payment whose history holds our cancellation in `state`.
    fn with_state(p: Payment, state: CancellationState) -> Payment {
        let mut p = p;
        for e in p.cancel_history.iter_mut().flatten() {
            e.state = state;
        }
        if state != CancellationState::Succeeded {
            p.cancel_amount = 0;
        }
        p
    }

    #[test]
    fn references_round_trip_through_a_reason() {
        assert_eq!(reference(ID), "R-7F3A2C1D");
        let sent = reason_for_portone("단순 변심", ID);
        assert_eq!(sent, "[R-7F3A2C1D] 단순 변심");
        assert_eq!(reference_in(&sent), Some("R-7F3A2C1D"));
        assert_eq!(reference_in("관리자 콘솔 취소"), None);
        assert_eq!(reference_in("환불번호 R-7f3a2c1d"), None);
        assert_eq!(reference_in("[R-7f3a2c1d] x"), None);
        assert_eq!(reference_in("[R-7F3A2C1D x"), None);
        // a cancel sent before references went first
        assert_eq!(reference_in("단순 변심 (환불번호 R-7F3A2C1D)"), Some("R-7F3A2C1D"));
        assert_eq!(id_prefix_pattern("R-7F3A2C1D").as_deref(), Some("7f3a2c1d%"));
    }

    #[test]
    fn the_reference_survives_any_cut_and_no_customer_text_can_imitate_it() {
        let long = "배송이 너무 늦어서 환불을 요청합니다. ".repeat(10);
        let sent = reason_for_portone(&long, ID);
        assert!(sent.len() <= REASON_BYTES, "{}", sent.len());
        assert!(sent.starts_with("[R-7F3A2C1D] 배송이"));
        assert!(std::str::from_utf8(sent.as_bytes()).is_ok());
        // whatever a PG keeps of it, down to the reference itself
        for keep in 12..=sent.len() {
            let kept = String::from_utf8_lossy(&sent.as_bytes()[..keep]);
            assert_eq!(reference_in(&kept), Some("R-7F3A2C1D"), "{keep} bytes");
        }
        for forged in [
            "[R-ABCDEF12] 환불",
            "환불 (환불번호 R-ABCDEF12)",
            "]] [R-ABCDEF12]",
            "환불번호 R-ABCDEF12",
        ] {
            let sent = reason_for_portone(forged, ID);
            assert_eq!(reference_in(&sent), Some("R-7F3A2C1D"), "{forged}");
            assert!(!sent[12..].contains("[R-") && !sent.contains("환불번호"), "{sent}");
            // nor on its own, as a console cancel would carry it
            assert_eq!(reference_in(&sent[13..]), None, "{sent}");
        }
    }

    /// Every row of the reconciliation rules, the two console-cancel cases included.
    #[test]
    fn decision_table() {
        let ours = reason_for_portone("단순 변심", ID);
        let other = reason_for_portone(
            "다른 환불",
            Uuid::from_u128(0xabcdef01_0000_4000_8000_000000000002),
        );
        let r = |amount, checksum, attempts| PendingRefund {
            id: ID,
            amount,
            checksum,
            attempts,
            accepted_secs: None,
        };
        let accepted = |secs| PendingRefund { accepted_secs: Some(secs), ..r(1000, 10_000, 1) };
        let linked = vec!["c_other".to_string()];
        let review = |why: &str| Decision::NeedsReview { why: why.into() };
        let carrying = |key: &str, amount| Carrying { entry_key: key.into(), amount };
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
                "our reference on an entry of another amount: a suspected duplicate",
                r(1000, 10_000, 1),
                payment(10_000, Some(&[(2000, &ours, "c4")])),
                Decision::Duplicate { entries: vec![carrying("c4", 2000)] },
            ),
            (
                "our reference on two entries: a suspected duplicate",
                r(1000, 10_000, 2),
                payment(10_000, Some(&[(1000, &ours, "c5"), (1000, &ours, "c6")])),
                Decision::Duplicate { entries: vec![carrying("c5", 1000), carrying("c6", 1000)] },
            ),
            (
                "accepted by PortOne, our entry there now: succeeded",
                accepted(60),
                payment(10_000, Some(&[(1000, &ours, "c9")])),
                Decision::Succeeded { entry_key: "c9".into() },
            ),
            (
                "accepted, not applied yet, balance unmoved: never resent, look again",
                accepted(60),
                payment(10_000, Some(&[])),
                Decision::LookAgain,
            ),
            (
                "accepted, history left out: look again",
                accepted(60),
                payment(10_000, None),
                Decision::LookAgain,
            ),
            (
                "accepted and never applied in days: an admin looks",
                accepted(ACCEPTED_WAIT_SECS),
                payment(10_000, Some(&[])),
                review("PortOne이 접수한 취소가 3일이 지나도록 반영되지 않았습니다. PG사에 확인해 주세요."),
            ),
            (
                "V2: our cancellation requested at PortOne: accepted, never resent",
                r(1000, 10_000, 1),
                with_state(payment(10_000, Some(&[(1000, &ours, "c10")])), CancellationState::Requested),
                Decision::Accepted,
            ),
            (
                "V2: still requested after days: an admin looks",
                accepted(ACCEPTED_WAIT_SECS),
                with_state(payment(10_000, Some(&[(1000, &ours, "c11")])), CancellationState::Requested),
                review("PortOne이 접수한 취소가 3일이 지나도록 반영되지 않았습니다. PG사에 확인해 주세요."),
            ),
            (
                "V2: our cancellation failed at the PG: failed, nothing moved",
                accepted(60),
                with_state(payment(10_000, Some(&[(1000, &ours, "c12")])), CancellationState::Failed),
                Decision::Fail { message: FAILED_AT_PG.into() },
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
