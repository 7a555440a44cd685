//! The pipeline's database side: reservation (tx1), recording (tx2), payment sync and audit.
//! No network calls here; `settle.rs` decides, this module writes.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::decide::{self, Identified, RefundStatus};
use super::rules;
use crate::model::admin::AuditKind;
use crate::model::CancellationState;
use crate::model::{CurrentUser, PayMethod, RefundOutcome, Role};
use crate::server::actor::Actor;
use crate::server::gateway::{CancelEntry, Payment, PaymentRef};
use crate::server::outbox::{self, ShopEvent};

pub(crate) use crate::server::actor::actor;

/// An audit event of no one refund or payment: accounts, keys, registrations.
pub async fn audit_event(
    conn: impl sqlx::PgExecutor<'_>,
    kind: AuditKind,
    actor: &str,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    audit(conn, None, None, kind, actor, detail).await
}

pub async fn audit(
    conn: impl sqlx::PgExecutor<'_>,
    refund_id: Option<Uuid>,
    payment_id: Option<i64>,
    kind: AuditKind,
    actor: &str,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into refund_events (refund_id, payment_id, kind, actor, detail) values ($1, $2, $3, $4, $5)",
        refund_id,
        payment_id,
        kind.as_str(),
        actor,
        detail
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An audit event of a reserved refund: its id and payment's.
async fn audit_refund(
    conn: &mut PgConnection,
    r: &Reserved,
    kind: AuditKind,
    actor: &str,
    detail: serde_json::Value,
) -> Result<(), sqlx::Error> {
    audit(conn, Some(r.id), Some(r.payment_id), kind, actor, detail).await
}

/// Counts a refund request when it starts, before any waiting: returns the requests by
/// `actor` in the current one-minute window, this one included. Counting first keeps the
/// limit under concurrency (the counter row serialises one customer's requests for the
/// moment of the increment). One statement, whatever the request rate; its commit does not
/// wait for the disk: a count lost in a database crash only loosens the limit for a minute.
pub async fn count_request(pool: &PgPool, actor: &str) -> Result<i64, sqlx::Error> {
    // the statement is `count_refund_request` (migrations/20261201000006_reserve_in_one_round_trip.sql),
    // which a refund request also runs inside its first statement
    let n = sqlx::query_scalar!(r#"select count_refund_request($1) as "requests!""#, actor)
        .fetch_one(pool)
        .await?;
    Ok(i64::from(n))
}

/// A refund reserved in tx1 and not yet settled.
#[derive(Clone, Debug)]
pub struct Reserved {
    pub id: Uuid,
    pub payment_id: i64,
    /// where PortOne holds the payment, and through which API
    pub at: PaymentRef,
    pub pay_method: PayMethod,
    pub pg_provider: crate::server::pg::PgProvider,
    pub amount: i64,
    pub checksum: i64,
    pub reason: String,
    /// the tax-free part and VAT sent with the cancel, when the payment's are known
    pub tax: Option<super::tax::TaxParts>,
    /// Only while the request that reserved it runs: the full account number is never stored.
    pub account: Option<rules::RefundAccount>,
    /// The refund goes to an account the customer gave (its full number is gone once the
    /// request that reserved it ends, so such a refund cannot be resent by the reconciler).
    pub account_given: bool,
    pub requester: Role,
    /// Cancels sent for this refund, counting the one about to be sent.
    pub attempts: i32,
    /// When PortOne accepted the cancel without applying it yet (an asynchronous PG).
    pub accepted_at: Option<DateTime<Utc>>,
    /// How much of PortOne's history we held when the request that reserved this refund looked
    /// (`payments::Held::AsLooked`); `None` when it was reserved otherwise (an approval, the
    /// reconciler): tx2 reads it then.
    pub held: Option<crate::server::payments::HistoryMark>,
}

impl Reserved {
    pub fn facts(&self) -> decide::PendingRefund {
        decide::PendingRefund {
            id: self.id,
            amount: self.amount,
            checksum: self.checksum,
            attempts: self.attempts,
            accepted_secs: self.accepted_at.map(|at| (Utc::now() - at).num_seconds().max(0)),
        }
    }
}

/// tx2 of a success: sync PortOne's payment, link the entry that carries the refund's
/// reference, and mark the refund succeeded. PortOne's code 0 for our own request is the
/// proof; an entry that cannot be identified (PortOne left the history out) is linked by a
/// later sync instead. A history without our entry means PortOne accepted the cancel and its
/// PG has yet to apply it: the refund is 환불 접수됨 (still pending) until the entry appears;
/// so is one whose V2 cancellation PortOne holds as requested. A V2 cancellation that failed
/// at the PG fails the refund. A success is one statement (`finish_refund_succeeded`): the
/// refund, its entry's link, its audit event, its tax parts and its event to the shop. The
/// tax parts come off what remains only when the balance we hold was the one the refund was
/// computed from (`checksum`); a payment PortOne keeps no balance for stays without one.
///
/// `inserted`: the keys of the entries the sync in this transaction inserted
/// (`payments::Synced`), when that sync left the entries carrying this refund's reference to
/// it (`observe::record_success`); empty otherwise. Nobody else has seen those entries yet,
/// so none is linked elsewhere and their links are not read: our own entry, new in PortOne's
/// answer, is usually the only one carrying the reference.
pub(crate) async fn finish_succeeded(
    tx: &mut PgConnection,
    r: &Reserved,
    payment: &Payment,
    inserted: &HashSet<String>,
    actor: &str,
) -> Result<Finished, sqlx::Error> {
    let reference = decide::reference(r.id);
    let linked = linked_elsewhere(&mut *tx, r, payment, inserted).await?;
    let entry = match decide::identify(r.amount, &reference, payment.history(), &linked) {
        Identified::One(e) if e.state == CancellationState::Requested => {
            tracing::info!(refund_id = %r.id, "PortOne holds the cancellation as requested; its PG applies it later");
            mark_accepted(&mut *tx, r, actor).await?;
            return Ok(Finished::Not);
        }
        Identified::One(e) => Some(ProvingEntry::from(e)),
        Identified::Failed(_) => {
            finish_failed(&mut *tx, r, None, decide::FAILED_AT_PG, actor).await?;
            return Ok(Finished::Not);
        }
        // PortOne left the history out of its answer; the entry may have reached us already
        // (the `cancelled` webhook can be faster than this transaction).
        Identified::None if payment.cancel_history.is_none() => {
            stored_entry(&mut *tx, r, &reference).await?
        }
        // PortOne's code 0 proves our cancel, not that it was the only one: an earlier
        // attempt may have been applied late. Never a quiet success over money moved twice.
        Identified::Duplicate(entries) => {
            suspect_duplicate(&mut *tx, r.payment_id, r.id, r.amount, &entries, actor).await?;
            return Ok(Finished::Not);
        }
        Identified::None => {
            tracing::info!(refund_id = %r.id, "PortOne accepted the cancel; its PG has yet to apply it");
            mark_accepted(&mut *tx, r, actor).await?;
            return Ok(Finished::Not);
        }
    };
    let t = r.tax.unwrap_or_default();
    let event = Uuid::new_v4();
    let entry = entry.as_ref();
    let finished = sqlx::query!(
        r#"select requested_at as "requested_at!: DateTime<Utc>", finished_at as "finished_at!: DateTime<Utc>"
           from finish_refund_succeeded($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"#,
        r.id,
        r.payment_id,
        entry.map(|e| e.key.clone()),
        entry.and_then(|e| e.pg_tid.clone()),
        entry.and_then(|e| e.receipt_url.clone()),
        actor,
        success_detail(payment.cancel_amount, entry.and_then(|e| e.cancellation_id.as_deref())),
        r.checksum,
        r.amount,
        t.tax_free,
        t.vat,
        event,
        ShopEvent::Succeeded.as_str(),
        outbox::message_id(event),
    )
    .fetch_optional(&mut *tx)
    .await?;
    let receipt_url = entry.and_then(|e| e.receipt_url.clone());
    Ok(Finished::Succeeded(
        finished.map(|f| succeeded_now(r, f.requested_at, f.finished_at, receipt_url)),
    ))
}

/// The audit detail of a success PortOne's code 0 proved.
pub(crate) fn success_detail(
    cancel_amount: i64,
    cancellation_id: Option<&str>,
) -> serde_json::Value {
    serde_json::json!({"portone_code": 0, "cancel_amount": cancel_amount,
                       "cancellation_id": cancellation_id})
}

/// The outcome of a refund that succeeded by this request, as recorded.
pub(crate) fn succeeded_now(
    r: &Reserved,
    requested_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    receipt_url: Option<String>,
) -> RefundOutcome {
    RefundOutcome {
        refund_id: r.id,
        status: crate::model::RefundOutcomeStatus::Succeeded,
        amount: r.amount,
        requested_at,
        finished_at: Some(finished_at),
        message: None,
        receipt_url,
        accepted: false,
    }
}

/// What tx2 made of PortOne's code 0.
pub(crate) enum Finished {
    /// succeeded: by this call (its outcome as recorded), or already by someone else (`None`)
    Succeeded(Option<RefundOutcome>),
    /// accepted and not yet applied, failed at the PG, or a suspected double refund
    Not,
}

/// PortOne said code 0 and its history lacks our entry (or, V2, holds it as requested):
/// accepted, not applied. The refund stays pending (never resent: the PG may still apply it)
/// and says 환불 접수됨.
pub(crate) async fn mark_accepted(
    tx: &mut PgConnection,
    r: &Reserved,
    actor: &str,
) -> Result<(), sqlx::Error> {
    let updated = sqlx::query!(
        r#"update refunds set accepted_at = coalesce(accepted_at, now()), portone_code = 0, portone_message = $2, updated_at = now()
           where id = $1 and status = 'pending'"#,
        r.id,
        crate::model::ACCEPTED_EXPLANATION
    )
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 1 {
        audit_refund(
            &mut *tx,
            r,
            AuditKind::Accepted,
            actor,
            serde_json::json!({"attempt": r.attempts}),
        )
        .await?;
    }
    Ok(())
}

/// What a succeeded refund keeps of the cancel_history entry that proves it.
pub(crate) struct ProvingEntry {
    pub key: String,
    pub pg_tid: Option<String>,
    pub receipt_url: Option<String>,
    pub cancellation_id: Option<String>,
}

impl From<&CancelEntry> for ProvingEntry {
    fn from(e: &CancelEntry) -> Self {
        ProvingEntry {
            key: e.entry_key(),
            pg_tid: e.pg_tid.clone(),
            receipt_url: e.receipt_url.clone(),
            cancellation_id: e.cancellation_id.clone(),
        }
    }
}

/// An admin's decision (`review.rs`): marks a refund in review succeeded and links the entry
/// that proves it. PortOne's code, if any, stays as it was. Returns whether the
/// refund changed (someone else may have finished it). A success learnt from PortOne is
/// `finish_succeeded`'s one statement instead.
pub(crate) async fn mark_succeeded(
    tx: &mut PgConnection,
    refund_id: Uuid,
    payment_id: i64,
    entry: &ProvingEntry,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query!(
        r#"update refunds set status = 'succeeded', portone_message = null,
                  pg_tid = $2, receipt_url = $3, updated_at = now(), finished_at = now()
           where id = $1 and status in ('pending', 'needs_review')"#,
        refund_id,
        entry.pg_tid,
        entry.receipt_url,
    )
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Ok(false);
    }
    link_entry(&mut *tx, payment_id, &entry.key, refund_id).await?;
    Ok(true)
}

/// An entry of a payment we hold that carries a refund's reference.
struct StoredEntry {
    amount: i64,
    linked: bool,
    proof: ProvingEntry,
}

/// The entries of a payment we hold that carry `reference`, oldest first: the one query both
/// the search for a refund's proof and the count of suspected duplicates read.
async fn stored_entries_carrying(
    conn: &mut PgConnection,
    payment_id: i64,
    reference: &str,
) -> Result<Vec<StoredEntry>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select entry_key, amount, refund_id is not null as "linked!", pg_tid, receipt_url, cancellation_id, reason
           from payment_cancellations
           where payment_id = $1 and reason like '%' || $2 || '%' and state = 'succeeded'
           order by cancelled_at, entry_key"#,
        payment_id,
        reference
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|e| decide::reason_carries(e.reason.as_deref(), reference))
        .map(|e| StoredEntry {
            amount: e.amount,
            linked: e.linked,
            proof: ProvingEntry {
                key: e.entry_key,
                pg_tid: e.pg_tid,
                receipt_url: e.receipt_url,
                cancellation_id: e.cancellation_id,
            },
        })
        .collect())
}

/// The one stored, unlinked entry of this payment that carries the refund's reference, of its
/// amount, by the key it was stored under.
async fn stored_entry(
    conn: &mut PgConnection,
    r: &Reserved,
    reference: &str,
) -> Result<Option<ProvingEntry>, sqlx::Error> {
    let mut entries = stored_entries_carrying(conn, r.payment_id, reference)
        .await?
        .into_iter()
        .filter(|e| !e.linked && e.amount == r.amount);
    let found = entries.next();
    Ok(if entries.next().is_none() { found.map(|e| e.proof) } else { None })
}

async fn link_entry(
    conn: &mut PgConnection,
    payment_id: i64,
    entry_key: &str,
    refund_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let linked = sqlx::query!(
        "update payment_cancellations set refund_id = $1 where payment_id = $2 and entry_key = $3 and refund_id is null",
        refund_id,
        payment_id,
        entry_key
    )
    .execute(conn)
    .await?;
    Ok(linked.rows_affected() == 1)
}

/// A refund whose id starts as an entry's reference does, and whether an entry proves it yet.
pub(crate) struct ReferencedRefund {
    pub id: Uuid,
    pub status: RefundStatus,
    pub amount: i64,
    pub has_entry: bool,
}

pub(crate) async fn referenced_refund(
    conn: &mut PgConnection,
    payment_id: i64,
    id_pattern: &str,
) -> Result<Option<ReferencedRefund>, sqlx::Error> {
    sqlx::query_as!(
        ReferencedRefund,
        r#"select id, status as "status: RefundStatus", amount,
                  exists (select 1 from payment_cancellations c where c.refund_id = r.id) as "has_entry!"
           from refunds r where payment_id = $1 and id::text like $2"#,
        payment_id,
        id_pattern
    )
    .fetch_optional(conn)
    .await
}

/// Links the entry that proves an already succeeded refund, arrived after it was recorded.
pub(crate) async fn link_late_entry(
    conn: &mut PgConnection,
    payment_id: i64,
    refund_id: Uuid,
    e: &ProvingEntry,
) -> Result<(), sqlx::Error> {
    link_entry(&mut *conn, payment_id, &e.key, refund_id).await?;
    sqlx::query!(
        "update refunds set pg_tid = coalesce(pg_tid, $2), receipt_url = coalesce(receipt_url, $3) where id = $1",
        refund_id,
        e.pg_tid,
        e.receipt_url
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An entry carrying a failed refund's reference appeared: the money moved after all, so an
/// admin must look.
pub(crate) async fn reopen_failed(
    conn: &mut PgConnection,
    payment_id: i64,
    refund_id: Uuid,
    entry_key: &str,
) -> Result<(), sqlx::Error> {
    let why = "실패로 기록된 환불의 환불번호가 붙은 취소가 PortOne에 있습니다.";
    let detail = serde_json::json!({"why": why, "entry_key": entry_key});
    to_review(conn, payment_id, refund_id, why, detail, &Actor::System.to_string()).await
}

/// Puts a refund in front of an admin (검토 필요) whatever it was: evidence found after the
/// fact outranks what was recorded.
async fn to_review(
    conn: &mut PgConnection,
    payment_id: i64,
    refund_id: Uuid,
    why: &str,
    detail: serde_json::Value,
    actor: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update refunds set status = 'needs_review', finished_at = null, portone_message = $2, updated_at = now() where id = $1",
        refund_id,
        why
    )
    .execute(&mut *conn)
    .await?;
    audit(&mut *conn, Some(refund_id), Some(payment_id), AuditKind::NeedsReview, actor, detail)
        .await?;
    outbox::record_refund(conn, ShopEvent::NeedsReview, refund_id).await
}

/// More than one PortOne entry carries this refund's reference, or one with another amount:
/// PortOne may have moved its money twice. Whatever the refund was, it goes to review with
/// every such entry unlinked, so the review form offers each; the timeline, the metrics
/// (`refund_duplicates_suspected_total`) and the log say so.
pub(crate) async fn suspect_duplicate(
    conn: &mut PgConnection,
    payment_id: i64,
    refund_id: Uuid,
    amount: i64,
    entries: &[decide::Carrying],
    actor: &str,
) -> Result<(), sqlx::Error> {
    let why = decide::duplicate_why(&decide::reference(refund_id), amount, entries);
    tracing::error!(%refund_id, ?entries, "suspected double refund: more than our amount carries this refund's reference");
    metrics::counter!("refund_duplicates_suspected_total").increment(1);
    sqlx::query!(
        "update payment_cancellations set refund_id = null where payment_id = $1 and refund_id = $2",
        payment_id,
        refund_id
    )
    .execute(&mut *conn)
    .await?;
    let detail = serde_json::json!({"why": why, "entries": entries});
    to_review(&mut *conn, payment_id, refund_id, &why, detail.clone(), actor).await?;
    audit(conn, Some(refund_id), Some(payment_id), AuditKind::DuplicateSuspected, actor, detail)
        .await
}

/// The entries of a payment we hold that carry `reference`.
pub(crate) async fn stored_carrying(
    conn: &mut PgConnection,
    payment_id: i64,
    reference: &str,
) -> Result<Vec<decide::Carrying>, sqlx::Error> {
    Ok(stored_entries_carrying(conn, payment_id, reference)
        .await?
        .into_iter()
        .map(|e| decide::Carrying { entry_key: e.proof.key, amount: e.amount })
        .collect())
}

/// The evidence neither proves nor rules out the refund's cancel: leave it to an admin.
pub(crate) async fn finish_needs_review(
    tx: &mut PgConnection,
    r: &Reserved,
    why: &str,
    actor: &str,
) -> Result<(), sqlx::Error> {
    let updated = sqlx::query!(
        "update refunds set status = 'needs_review', portone_message = $2, updated_at = now() where id = $1 and status = 'pending'",
        r.id,
        why
    )
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 1 {
        audit_refund(&mut *tx, r, AuditKind::NeedsReview, actor, serde_json::json!({"why": why}))
            .await?;
        outbox::record_refund(&mut *tx, ShopEvent::NeedsReview, r.id).await?;
    }
    Ok(())
}

/// Before a PortOne call about a pending refund: move its lease past the call's deadline.
/// False when the refund is no longer pending.
pub(crate) async fn renew_lease(
    pool: &PgPool,
    refund_id: Uuid,
    lease: Duration,
) -> Result<bool, sqlx::Error> {
    let renewed = sqlx::query!(
        "update refunds set lease_until = now() + make_interval(secs => $2) where id = $1 and status = 'pending'",
        refund_id,
        lease.as_secs_f64()
    )
    .execute(pool)
    .await?;
    Ok(renewed.rows_affected() == 1)
}

/// Before a resend: count the attempt and move the lease past its deadline.
pub(crate) async fn start_resend(
    pool: &PgPool,
    r: &Reserved,
    lease: Duration,
    actor: &str,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let updated = sqlx::query!(
        r#"update refunds set attempts = attempts + 1, lease_until = now() + make_interval(secs => $2), updated_at = now()
           where id = $1 and status = 'pending'"#,
        r.id,
        lease.as_secs_f64()
    )
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 1 {
        audit_refund(
            &mut tx,
            r,
            AuditKind::Resent,
            actor,
            serde_json::json!({"attempt": r.attempts, "checksum": r.checksum}),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(updated.rows_affected() == 1)
}

/// Records PortOne's refusal of attempt `r.attempts`. Only the current attempt's: a refusal
/// of attempt 1 arriving after attempt 2 was sent says nothing of attempt 2, which may yet
/// go through.
pub(crate) async fn finish_failed(
    tx: &mut PgConnection,
    r: &Reserved,
    code: Option<i64>,
    message: &str,
    actor: &str,
) -> Result<(), sqlx::Error> {
    let (refund_id, payment_id) = (r.id, r.payment_id);
    let updated = sqlx::query!(
        r#"update refunds set status = 'failed', portone_code = $2, portone_message = $3, updated_at = now(), finished_at = now()
           where id = $1 and status in ('pending', 'needs_review') and attempts = $4"#,
        refund_id,
        code.map(|c| c as i32),
        message,
        r.attempts
    )
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        tracing::info!(%refund_id, attempt = r.attempts, "a refusal of an earlier attempt, or of a finished refund: not recorded");
    }
    if updated.rows_affected() == 1 {
        audit(
            &mut *tx,
            Some(refund_id),
            Some(payment_id),
            AuditKind::Failed,
            actor,
            serde_json::json!({"portone_code": code, "message": message}),
        )
        .await?;
        outbox::record_refund(&mut *tx, ShopEvent::Failed, refund_id).await?;
    }
    Ok(())
}

/// The keys of the entries in PortOne's history of `r`'s payment that carry `r`'s reference
/// and that another refund already explains: the links `decide::identify` needs. The entries
/// in `inserted` (see `finish_succeeded`) are linked to nothing yet and not read.
pub(crate) async fn linked_elsewhere(
    conn: &mut PgConnection,
    r: &Reserved,
    payment: &Payment,
    inserted: &HashSet<String>,
) -> Result<Vec<String>, sqlx::Error> {
    let candidates: Vec<String> = decide::carrying(&decide::reference(r.id), payment.history())
        .map(CancelEntry::entry_key)
        .filter(|key| !inserted.contains(key))
        .collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_scalar!(
        "select entry_key from payment_cancellations
         where payment_id = $1 and entry_key = any($3) and refund_id is not null and refund_id <> $2",
        r.payment_id,
        r.id,
        &candidates
    )
    .fetch_all(conn)
    .await
}

pub async fn outcome_of(
    conn: &mut PgConnection,
    refund_id: Uuid,
) -> Result<RefundOutcome, sqlx::Error> {
    let r = sqlx::query!(
        r#"select id, status as "status: RefundStatus", amount, created_at as "created_at: DateTime<Utc>", finished_at as "finished_at: DateTime<Utc>",
                  coalesce(decision_note, portone_message) as message, receipt_url,
                  status = 'pending' and accepted_at is not null as "accepted!"
           from refunds where id = $1"#,
        refund_id
    )
    .fetch_one(conn)
    .await?;
    Ok(RefundOutcome {
        refund_id: r.id,
        status: r.status.into(),
        amount: r.amount,
        requested_at: r.created_at,
        finished_at: r.finished_at,
        // a rejected request's reason, or PortOne's message
        message: r.message,
        receipt_url: r.receipt_url,
        accepted: r.accepted,
    })
}

/// The newest refund `user` requested on a payment, for the order page.
pub async fn latest_outcome(
    pool: &PgPool,
    payment_id: i64,
    user_id: i64,
) -> Result<Option<RefundOutcome>, sqlx::Error> {
    let id = sqlx::query_scalar!(
        "select id from refunds where payment_id = $1 and requester_id = $2 order by created_at desc limit 1",
        payment_id,
        user_id
    )
    .fetch_optional(pool)
    .await?;
    match id {
        Some(id) => Ok(Some(outcome_of(&mut *pool.acquire().await?, id).await?)),
        None => Ok(None),
    }
}

/// A refund as stored after the fact — demo history and test fixtures — rather than reserved
/// by the pipeline. `at` is when it was requested (and finished, unless pending).
#[derive(Clone, Debug)]
pub struct RecordedRefund {
    pub id: Uuid,
    pub payment_id: i64,
    pub amount: i64,
    pub checksum: i64,
    pub reason: String,
    pub requester: Role,
    pub requester_id: i64,
    pub status: RefundStatus,
    pub portone_code: Option<i32>,
    pub portone_message: Option<String>,
    pub pg_tid: Option<String>,
    pub receipt_url: Option<String>,
    pub at: DateTime<Utc>,
}

impl RecordedRefund {
    /// A refund of `amount` won with nothing from PortOne yet, requested now.
    pub fn new(payment_id: i64, amount: i64, checksum: i64, requester: &CurrentUser) -> Self {
        RecordedRefund {
            id: Uuid::new_v4(),
            payment_id,
            amount,
            checksum,
            reason: "단순 변심".into(),
            requester: requester.role,
            requester_id: requester.id,
            status: RefundStatus::Pending,
            portone_code: None,
            portone_message: None,
            pg_tid: None,
            receipt_url: None,
            at: Utc::now(),
        }
    }
}

pub async fn insert_recorded(
    conn: impl sqlx::PgExecutor<'_>,
    r: &RecordedRefund,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"insert into refunds (id, payment_id, idempotency_key, request_fingerprint, amount, checksum, reason,
                                requester_role, requester_id, status, portone_code, portone_message, pg_tid, receipt_url,
                                created_at, updated_at, finished_at)
           values ($1, $2, $3, 'recorded', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::timestamptz, $14::timestamptz,
                   case when $9 = 'pending' then null else $14::timestamptz end)"#,
        r.id,
        r.payment_id,
        Uuid::new_v4(),
        r.amount,
        r.checksum,
        r.reason,
        r.requester.as_str(),
        r.requester_id,
        r.status.as_str(),
        r.portone_code,
        r.portone_message,
        r.pg_tid,
        r.receipt_url,
        r.at as _,
    )
    .execute(conn)
    .await?;
    Ok(())
}
