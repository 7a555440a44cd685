//! tx2 of a refund's success in one statement (`record_own_success`,
//! migrations/20261202000006_own_success_in_one_statement.sql), for the answer nearly every
//! cancel gets: PortOne's V1 history continues from the mark the refund's look read and adds
//! one entry, the only one carrying the refund's reference, for the refund's amount. Any other
//! answer, and our entry stored before this (a sync was faster), is recorded the long way
//! (`settle.rs`: a sync, the links of what carries the reference, `decide::identify`,
//! `store::finish_succeeded`). Both ways write the same rows under the same payment lock.

use chrono::{DateTime, Utc};
use memchr::memmem;
use portone_v1::PaymentText;
use sqlx::PgPool;
use uuid::Uuid;

use super::decide::{self, Identified};
use super::store::{self, Finished, Reserved};
use crate::server::gateway::{v1_entry, CancelAnswer, CancelEntry};
use crate::server::outbox::{self, ShopEvent};
use crate::server::payments;

/// Our entry in PortOne's answer and the mark a sync of that answer leaves.
#[derive(Debug, PartialEq)]
pub(crate) struct OwnEntry {
    pub entry: CancelEntry,
    pub mark_len: i32,
    pub mark_tail: String,
}

/// Our entry, when PortOne's V1 answer is the usual one. It decides what
/// `payments::HistoryDelta` and `decide::identify` (without links) decide over the parsed
/// history, parsing two entries: the last one held, to see the history continues from the
/// mark, and the one after it. Its one new entry cannot be linked to any refund yet (the
/// statement checks it is not stored), so `identify` must find that entry, applied; and no
/// held entry may carry the refund's reference. One that did would show the reference in its
/// text, or a `\u` escape standing for part of it (the reference is ASCII with no other
/// escape): the text of the held entries is searched for both instead of parsing them.
pub(crate) fn own_entry(r: &Reserved, answer: &PaymentText) -> Option<OwnEntry> {
    let held = r.held.as_ref()?;
    let len = answer.history_len()?;
    let held_len = usize::try_from(held.len).ok()?;
    // the mark moves only with a history at least as long as the one held
    if len < held_len {
        return None;
    }
    let continues = held_len > 0 && {
        let tail = v1_entry(answer.entry(held_len - 1)?.ok()?);
        held.tail.as_deref() == Some(tail.entry_key().as_str())
    };
    let fresh_from = if continues { held_len } else { 0 };
    if len != fresh_from + 1 {
        return None;
    }
    let entry = v1_entry(answer.entry(len - 1)?.ok()?);
    let reference = decide::reference(r.id);
    let before = answer.entries_text(0..len - 1).as_bytes();
    if memmem::find(before, reference.as_bytes()).is_some()
        || memmem::find(before, b"\\u").is_some()
    {
        return None;
    }
    match decide::identify(r.amount, &reference, std::slice::from_ref(&entry), &[]) {
        Identified::One(_) => Some(OwnEntry {
            mark_len: i32::try_from(len).ok()?,
            mark_tail: entry.entry_key(),
            entry,
        }),
        _ => None,
    }
}

/// Records `r`'s success from PortOne's answer `p` in one statement; `None` when the answer
/// is not the usual one or our entry was stored before: the long way records it then.
pub(crate) async fn record(
    pool: &PgPool,
    r: &Reserved,
    answer: &CancelAnswer,
    actor: &str,
) -> Result<Option<Finished>, sqlx::Error> {
    // a V2 payment's held cancellations may change state: the long way reads and moves them
    let CancelAnswer::V1(answer) = answer else {
        return Ok(None);
    };
    let Some(OwnEntry { entry: e, mark_len, mark_tail }) = own_entry(r, answer) else {
        return Ok(None);
    };
    let p = &answer.head;
    let t = r.tax.unwrap_or_default();
    let event = Uuid::new_v4();
    let row = sqlx::query!(
        r#"select outcome as "outcome!", requested_at as "requested_at: DateTime<Utc>",
                  finished_at as "finished_at: DateTime<Utc>"
           from record_own_success($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                                   $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)"#,
        r.payment_id,
        p.status.as_str(),
        p.cancel_amount,
        payments::unix(p.cancelled_at) as _,
        p.receipt_url,
        mark_len,
        mark_tail,
        e.entry_key(),
        e.cancellation_id,
        e.pg_tid,
        e.amount,
        payments::unix(e.cancelled_at).unwrap_or_else(Utc::now) as _,
        e.reason,
        e.receipt_url,
        r.id,
        actor,
        store::success_detail(p.cancel_amount, e.cancellation_id.as_deref()),
        r.checksum,
        r.amount,
        t.tax_free,
        t.vat,
        event,
        ShopEvent::Succeeded.as_str(),
        outbox::message_id(event),
    )
    .fetch_one(pool)
    .await?;
    Ok(match (row.outcome.as_str(), row.requested_at, row.finished_at) {
        ("finished", Some(requested), Some(finished)) => Some(Finished::Succeeded(Some(
            store::succeeded_now(r, requested, finished, e.receipt_url.clone()),
        ))),
        ("not_pending", _, _) => Some(Finished::Succeeded(None)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ApiVersion, PayMethod, Role};
    use crate::server::gateway::PaymentRef;
    use crate::server::payments::HistoryMark;

    const ID: Uuid = Uuid::from_u128(0x7f3a2c1d_0000_4000_8000_000000000001);

    /// A V1 payment of 10,000원 whose history holds `(key, amount, reason)`, as PortOne's text.
    fn payment(history: &[(&str, i64, &str)]) -> PaymentText {
        let entries: Vec<_> = history
            .iter()
            .map(|(key, amount, reason)| serde_json::json!({"amount": amount, "cancelled_at": 1, "cancellation_id": key, "pg_tid": "t", "reason": reason}))
            .collect();
        let cancelled: i64 = history.iter().map(|e| e.1).sum();
        text(&serde_json::json!({
            "imp_uid": "i", "merchant_uid": "m", "amount": 10_000, "cancel_amount": cancelled,
            "currency": "KRW", "status": "cancelled", "sandbox": false, "cancel_history": entries
        })
        .to_string())
    }

    fn text(json: &str) -> PaymentText {
        PaymentText::parse(serde_json::value::RawValue::from_string(json.into()).unwrap()).unwrap()
    }

    fn reserved(held: Option<HistoryMark>) -> Reserved {
        Reserved {
            id: ID,
            payment_id: 1,
            at: PaymentRef {
                version: ApiVersion::V1,
                imp_uid: "i".into(),
                merchant_uid: "m".into(),
            },
            pay_method: PayMethod::Card,
            pg_provider: "kcp".into(),
            amount: 3_000,
            checksum: 9_000,
            reason: "단순 변심".into(),
            tax: None,
            account: None,
            account_given: false,
            requester: Role::Customer,
            attempts: 1,
            accepted_at: None,
            held,
        }
    }

    #[test]
    fn only_an_answer_adding_our_entry_alone_to_what_we_hold_is_recorded_at_once() {
        let ours = decide::reason_for_portone("단순 변심", ID);
        let other = decide::reason_for_portone("단순 변심", Uuid::from_u128(7));
        let held = |len: i32, tail: &str| Some(HistoryMark { len, tail: Some(tail.into()) });
        let usual = payment(&[("a", 1_000, &other), ("b", 3_000, &ours)]);
        let no_history =
            text(&usual.text().replace(r#""cancel_history":"#, r#""cancel_history":null,"was":"#));
        // an older entry whose reason spells our reference's `R` as an escape
        let twice = payment(&[("a", 3_000, &ours), ("b", 3_000, &ours)]);
        let escaped = text(&twice.text().replacen(r#""reason":"[R"#, r#""reason":"[\u0052"#, 1));
        assert_eq!(escaped.entry(0).unwrap().unwrap().reason.as_deref(), Some(ours.as_str()));
        let cases: [(&str, PaymentText, Option<HistoryMark>, Option<&str>); 11] = [
            ("our entry after the one held", usual.clone(), held(1, "a"), Some("b")),
            (
                "our entry, the payment's first",
                payment(&[("b", 3_000, &ours)]),
                Some(HistoryMark::default()),
                Some("b"),
            ),
            ("no mark read by the look", usual.clone(), None, None),
            ("a history that does not continue from the mark", usual.clone(), held(1, "z"), None),
            (
                "another new entry besides ours",
                payment(&[("a", 1_000, &other), ("c", 500, "콘솔 취소"), ("b", 3_000, &ours)]),
                held(1, "a"),
                None,
            ),
            (
                "an older entry carrying our reference too",
                payment(&[("a", 3_000, &ours), ("b", 3_000, &ours)]),
                held(1, "a"),
                None,
            ),
            (
                "our entry for another amount",
                payment(&[("a", 1_000, &other), ("b", 2_000, &ours)]),
                held(1, "a"),
                None,
            ),
            ("nothing new", usual.clone(), held(2, "b"), None),
            ("no history in the answer", no_history, held(1, "a"), None),
            ("an older entry carrying our reference in an escape", escaped, held(1, "a"), None),
            (
                "our entry alone, after a mark longer than the history",
                payment(&[("b", 3_000, &ours)]),
                held(2, "z"),
                None,
            ),
        ];
        for (case, p, mark, want) in cases {
            let r = reserved(mark);
            let got = own_entry(&r, &p);
            let key = got.as_ref().map(|o| o.entry.entry_key());
            assert_eq!(key.as_deref(), want, "{case}");
            if let Some(o) = got {
                let full = crate::server::gateway::from_v1(p.to_payment().unwrap());
                assert_eq!(o.mark_len as usize, full.history().len(), "{case}");
                assert_eq!(o.mark_tail, full.history().last().unwrap().entry_key(), "{case}");
                assert_eq!(&o.entry, full.history().last().unwrap(), "{case}");
            }
        }
    }
}
