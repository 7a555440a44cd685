//! The end of a torture run: our ledger against PortOne's (the simulator's), payment by
//! payment. Every rule here is a promise `docs/refund-rules.md` makes.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use portone_refund::server::gateway::Payment;
use portone_refund::server::refund::decide::{reference, reference_in};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Default)]
pub struct Verdict {
    pub refunds_by_status: BTreeMap<String, u64>,
    pub console_entries: u64,
    /// needs-review refunds whose payment's balance a console cancel had moved away from
    /// their checksum: the ambiguity the rules send to a person
    pub review_console_ambiguity: u64,
    pub violations: Vec<String>,
}

struct OurRefund {
    id: Uuid,
    amount: i64,
    checksum: i64,
    status: String,
    updated_at: DateTime<Utc>,
}

pub async fn ledgers(pool: &PgPool, at_portone: &[Payment]) -> Result<Verdict, sqlx::Error> {
    let mut verdict = Verdict::default();
    let refunds = sqlx::query!(
        r#"select r.id, p.imp_uid, r.amount, r.checksum, r.status, r.updated_at as "updated_at: DateTime<Utc>"
           from refunds r join payments p on p.id = r.payment_id"#
    )
    .fetch_all(pool)
    .await?;
    let mut ours: HashMap<String, Vec<OurRefund>> = HashMap::new();
    for r in refunds {
        *verdict.refunds_by_status.entry(r.status.clone()).or_default() += 1;
        ours.entry(r.imp_uid).or_default().push(OurRefund {
            id: r.id,
            amount: r.amount,
            checksum: r.checksum,
            status: r.status,
            updated_at: r.updated_at,
        });
    }
    let links: HashMap<(String, String), Option<Uuid>> = sqlx::query!(
        "select p.imp_uid, c.entry_key, c.refund_id from payment_cancellations c join payments p on p.id = c.payment_id"
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|l| ((l.imp_uid, l.entry_key), l.refund_id))
    .collect();
    let linked_twice = sqlx::query_scalar!(
        r#"select count(*) as "n!" from (select refund_id from payment_cancellations where refund_id is not null
                                       group by refund_id having count(*) > 1) twice"#
    )
    .fetch_one(pool)
    .await?;
    if linked_twice > 0 {
        verdict
            .violations
            .push(format!("{linked_twice} refunds are linked to more than one entry"));
    }
    // 환불 내역's kept sums (appended by triggers, folded by both instances as they ran and
    // were killed) must equal the rows they sum.
    for d in portone_refund::server::refund_totals::disagreements(pool).await? {
        verdict.violations.push(format!("환불 내역's sums disagree with the rows: {d:?}"));
    }
    let no_refunds = Vec::new();
    for payment in at_portone {
        let mine = ours.get(&payment.imp_uid).unwrap_or(&no_refunds);
        check_payment(payment, mine, &links, &mut verdict);
    }
    Ok(verdict)
}

fn check_payment(
    p: &Payment,
    mine: &[OurRefund],
    links: &HashMap<(String, String), Option<Uuid>>,
    verdict: &mut Verdict,
) {
    let mut problems = Vec::new();
    let (mut console_entries, mut ambiguous) = (0, 0);
    let mut violation = |what: String| problems.push(format!("{}: {what}", p.imp_uid));
    if p.cancel_amount > p.amount {
        violation(format!("PortOne refunded {} of {} paid", p.cancel_amount, p.amount));
    }
    let by_reference: HashMap<String, &OurRefund> =
        mine.iter().map(|r| (reference(r.id), r)).collect();
    let mut console_sum = 0;
    let mut console_at = Vec::new();
    let mut explained_sum = 0;
    let mut entries_of: HashMap<Uuid, Vec<String>> = HashMap::new();
    for e in p.history() {
        let key = e.entry_key();
        let linked = links.get(&(p.imp_uid.clone(), key.clone())).copied().flatten();
        let Some(reference) = e.reason.as_deref().and_then(reference_in) else {
            console_sum += e.amount;
            console_at.push(e.cancelled_at);
            console_entries += 1;
            if linked.is_some() {
                violation(format!(
                    "console entry {key} is linked to refund {}",
                    linked.unwrap_or_default()
                ));
            }
            continue;
        };
        let Some(r) = by_reference.get(reference) else {
            violation(format!(
                "entry {key} carries {reference}, which no refund of this payment has"
            ));
            continue;
        };
        entries_of.entry(r.id).or_default().push(key.clone());
        if e.amount != r.amount {
            violation(format!(
                "entry {key} of refund {} is {} won, the refund {}",
                r.id, e.amount, r.amount
            ));
        }
        match r.status.as_str() {
            "succeeded" => explained_sum += e.amount,
            "needs_review" => {
                explained_sum += e.amount;
                violation(format!(
                    "refund {} is under review although its own entry {key} is at PortOne",
                    r.id
                ));
            }
            other => violation(format!(
                "money moved ({} won, entry {key}) for refund {} that is {other}",
                e.amount, r.id
            )),
        }
        if linked.is_some_and(|l| l != r.id) {
            violation(format!(
                "entry {key} of refund {} is linked to refund {}",
                r.id,
                linked.unwrap_or_default()
            ));
        }
    }
    for r in mine {
        let entries = entries_of.get(&r.id).map(Vec::as_slice).unwrap_or_default();
        match r.status.as_str() {
            "pending" => violation(format!("refund {} is still pending", r.id)),
            "requested" => {
                violation(format!("refund request {} still waits after the drain", r.id))
            }
            "succeeded" => match entries {
                [key]
                    if links.get(&(p.imp_uid.clone(), key.clone())).copied().flatten()
                        == Some(r.id) => {}
                [key] => {
                    violation(format!("succeeded refund {} is not linked to its entry {key}", r.id))
                }
                _ => violation(format!(
                    "succeeded refund {} has {} entries carrying its reference",
                    r.id,
                    entries.len()
                )),
            },
            // The rules send a refund to review when PortOne's balance moved away from its
            // checksum without an entry of its own. In this run only a console cancel can do
            // that (one the refund's reservation did not know of, or one made while it was
            // pending); anything else is a violation.
            "needs_review" => {
                let decided = r.updated_at.timestamp() + 1;
                let cancelled_by_then: i64 = p
                    .history()
                    .iter()
                    .filter(|e| e.cancelled_at <= decided)
                    .map(|e| e.amount)
                    .sum();
                let moved = p.amount - cancelled_by_then != r.checksum;
                if moved && console_at.iter().any(|at| *at <= decided) {
                    ambiguous += 1;
                } else {
                    violation(format!(
                        "refund {} needs review without a console cancel to explain it",
                        r.id
                    ));
                }
            }
            _ => {}
        }
    }
    if explained_sum + console_sum != p.cancel_amount {
        violation(format!(
            "our succeeded refunds ({explained_sum}) + console cancels ({console_sum}) != PortOne's cancel_amount ({})",
            p.cancel_amount
        ));
    }
    verdict.violations.extend(problems);
    verdict.console_entries += console_entries;
    verdict.review_console_ambiguity += ambiguous;
}
