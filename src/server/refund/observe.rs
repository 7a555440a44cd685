//! What the refund side makes of PortOne's view of a payment: every sync goes through
//! `record`, which stores the payment (`payments::sync`) and explains each new
//! cancel_history entry that carries one of our references, in the same transaction.

use sqlx::{PgConnection, PgPool};

use super::decide::{self, RefundStatus};
use super::store::{self, ProvingEntry};
use crate::model::CancellationState;
use crate::server::actor::Actor;
use crate::server::error::ServerError;
use crate::server::gateway::{Balance, CancelEntry, Gateway, Payment, PaymentRef};
use crate::server::outbox;
use crate::server::payments;

/// Stores PortOne's payment and explains its new entries.
pub async fn record(
    conn: &mut PgConnection,
    payment_id: i64,
    p: &Payment,
) -> Result<payments::Synced, sqlx::Error> {
    record_with(conn, payment_id, p, None, payments::Held::Read).await
}

/// `record` in tx2 of our own cancel's success (`settle.rs`): the transaction commits without
/// waiting for the disk (PortOne's record rebuilds it, see there), the history we hold is the
/// mark the refund's look read, when it has one (`payments::Held::AsLooked`), and the entry
/// carrying the refund's own reference is left to `store::finish_succeeded`, which links it.
pub async fn record_success(
    conn: &mut PgConnection,
    payment_id: i64,
    p: &Payment,
    refund_id: uuid::Uuid,
    looked: Option<&payments::HistoryMark>,
) -> Result<payments::Synced, sqlx::Error> {
    let held = looked.map_or(payments::Held::Read, payments::Held::AsLooked);
    record_with(conn, payment_id, p, Some(refund_id), held).await
}

async fn record_with(
    conn: &mut PgConnection,
    payment_id: i64,
    p: &Payment,
    ours: Option<uuid::Uuid>,
    held: payments::Held<'_>,
) -> Result<payments::Synced, sqlx::Error> {
    let quick = ours.is_some();
    let synced = payments::sync(&mut *conn, payment_id, p, quick, held).await?;
    let ours = ours.map(decide::reference);
    for e in &synced.added {
        let reference = e.reason.as_deref().and_then(decide::reference_in);
        if reference.is_some() && reference == ours.as_deref() {
            continue;
        }
        explain_new_entry(&mut *conn, payment_id, e).await?;
        // money returned by a cancel no refund of ours made: the shop hears of it
        if e.state == CancellationState::Succeeded && reference.is_none() {
            let cancel = outbox::OutsideCancel {
                cancellation_id: e.cancellation_id.as_deref(),
                amount: e.amount,
                reason: e.reason.as_deref(),
                cancelled_at: payments::unix(e.cancelled_at),
            };
            outbox::record_outside_cancel(&mut *conn, payment_id, &cancel).await?;
        }
    }
    Ok(synced)
}

/// Tries to take a payment's lock: a few times, moments apart (whoever holds it — a refund's
/// tx1 or tx2, another sync — holds it for milliseconds), never by waiting in Postgres.
const LOCK_TRIES: u32 = 8;
const LOCK_PAUSE: std::time::Duration = std::time::Duration::from_millis(25);

/// `record` in its own transaction, under the payment's row lock; `ServerError::Busy` when
/// the lock stays held (what this sync would have stored, the holder or the next sync will).
pub async fn record_by_id(
    pool: &PgPool,
    payment_id: i64,
    p: &Payment,
) -> Result<payments::Synced, ServerError> {
    for _ in 0..LOCK_TRIES {
        let mut tx = pool.begin().await?;
        if payments::lock_nowait(&mut tx, payment_id).await? {
            let synced = record(&mut tx, payment_id, p).await?;
            tx.commit().await?;
            return Ok(synced);
        }
        drop(tx);
        tokio::time::sleep(LOCK_PAUSE).await;
    }
    tracing::warn!(payment_id, "the payment stayed locked; this sync is left to the next");
    Err(ServerError::Busy)
}

/// PortOne's payment as just read, and how many of its cancel_history entries were new to us.
#[derive(Debug)]
pub struct Refreshed {
    pub payment: Payment,
    pub new_entries: u64,
}

/// Re-reads a payment we hold from PortOne and syncs our copy: the one way every caller
/// (webhook, admin re-sync, after a refusal) refreshes a payment. Returns PortOne's payment
/// and how many cancel_history entries were new.
pub async fn refresh(
    pool: &PgPool,
    portone: &Gateway,
    payment_id: i64,
    at: &PaymentRef,
) -> Result<Refreshed, ServerError> {
    let payment = portone.payment(at).await?;
    let synced = record_by_id(pool, payment_id, &payment).await?;
    // A cancel we did not make moved the balance: read PortOne's split again. Entries that
    // all carry our references are our refunds, whose parts their tx2 books (this sync can
    // run just before it does).
    let ours_only = !synced.added.is_empty()
        && synced
            .added
            .iter()
            .all(|e| e.reason.as_deref().and_then(decide::reference_in).is_some());
    if synced.balance_stale && !ours_only {
        split_of(pool, portone, payment_id, &PaymentRef::from(&payment), payment.balance).await;
    }
    Ok(Refreshed { payment, new_entries: synced.added.len() as u64 })
}

/// Best effort: stores the split of a payment just read from PortOne — carried in the payment
/// itself by V2, read at V1's own balance endpoint otherwise.
pub async fn split_of(
    pool: &PgPool,
    portone: &Gateway,
    payment_id: i64,
    at: &PaymentRef,
    balance: Option<Balance>,
) {
    match balance {
        Some(balance) => store_balance(pool, payment_id, Some(balance), at).await,
        None => refresh_balance(pool, portone, payment_id, at).await,
    }
}

/// Best effort: reads PortOne's balance of a payment (its tax-free part and VAT and what
/// remains of them) and stores it. Only PortOne's own refusal (a 4xx with its envelope) or a
/// 404 is stored as "none"; a 5xx or no answer says nothing of the split, is logged, and
/// leaves what we hold (a payment with a tax-free part then waits for the next read).
pub async fn refresh_balance(pool: &PgPool, portone: &Gateway, payment_id: i64, at: &PaymentRef) {
    match portone.balance(at).await {
        Ok(balance) => store_balance(pool, payment_id, balance, at).await,
        Err(error) => {
            let imp_uid = &at.imp_uid;
            tracing::warn!(%error, imp_uid, "could not read the payment's balance from PortOne");
        }
    }
}

async fn store_balance(
    pool: &PgPool,
    payment_id: i64,
    balance: Option<crate::server::gateway::Balance>,
    at: &PaymentRef,
) {
    let imp_uid = &at.imp_uid;
    match payments::store_balance(pool, payment_id, balance.as_ref()).await {
        Ok(true) => {}
        Ok(false) => tracing::info!(
            imp_uid,
            "PortOne's balance belongs to another cancel_amount; not stored"
        ),
        Err(error) => tracing::warn!(%error, imp_uid, "could not store the payment's balance"),
    }
}

/// Best effort: `refresh`, logging a failure.
pub async fn resync(pool: &PgPool, portone: &Gateway, payment_id: i64, at: &PaymentRef) {
    if let Err(error) = refresh(pool, portone, payment_id, at).await {
        let imp_uid = &at.imp_uid;
        tracing::warn!(%error, imp_uid, "could not resync the payment from PortOne");
    }
}

/// A new applied entry that carries one of our references: link it to a succeeded refund that
/// has none yet, and flag a *failed* refund whose money moved after all. (A V2 cancellation
/// requested or failed moved no money; a pending refund's is the reconciler's to settle.)
async fn explain_new_entry(
    conn: &mut PgConnection,
    payment_id: i64,
    e: &CancelEntry,
) -> Result<(), sqlx::Error> {
    if e.state != CancellationState::Succeeded {
        return Ok(());
    }
    let Some(pattern) =
        e.reason.as_deref().and_then(decide::reference_in).and_then(decide::id_prefix_pattern)
    else {
        return Ok(());
    };
    let Some(r) = store::referenced_refund(&mut *conn, payment_id, &pattern).await? else {
        return Ok(());
    };
    match r.status {
        RefundStatus::Succeeded if !r.has_entry && r.amount == e.amount => {
            store::link_late_entry(conn, payment_id, r.id, &ProvingEntry::from(e)).await?;
        }
        // a second entry carrying a succeeded refund's reference, or one of another amount:
        // an earlier attempt applied late next to a resend, say
        RefundStatus::Succeeded => {
            let reference = decide::reference(r.id);
            let entries = store::stored_carrying(&mut *conn, payment_id, &reference).await?;
            let system = Actor::System.to_string();
            store::suspect_duplicate(conn, payment_id, r.id, r.amount, &entries, &system).await?;
        }
        RefundStatus::Failed => {
            tracing::error!(refund_id = %r.id, entry_key = %e.entry_key(), "money moved for a refund recorded as failed");
            store::reopen_failed(conn, payment_id, r.id, &e.entry_key()).await?;
        }
        _ => {}
    }
    Ok(())
}
