//! Our copy of PortOne's payments: importing a payment we learn about, overwriting it with
//! what PortOne says now, and reading it back. It knows nothing of refunds; what a new
//! cancel_history entry means for a refund is `refund::observe`'s business.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::model::ApiVersion;
use crate::server::gateway::{Balance, CancelEntry, Payment, PaymentRef};

/// PortOne's Unix seconds, where 0 means "not yet".
pub fn unix(seconds: i64) -> Option<DateTime<Utc>> {
    (seconds > 0).then(|| DateTime::from_timestamp(seconds, 0)).flatten()
}

/// Where a payment we hold is found at PortOne, by our id.
pub async fn payment_ref(
    conn: impl sqlx::PgExecutor<'_>,
    payment_id: i64,
) -> Result<PaymentRef, sqlx::Error> {
    let r = sqlx::query!(
        r#"select imp_uid, merchant_uid, api_version as "api_version: ApiVersion" from payments where id = $1"#,
        payment_id
    )
    .fetch_one(conn)
    .await?;
    Ok(PaymentRef { version: r.api_version, imp_uid: r.imp_uid, merchant_uid: r.merchant_uid })
}

/// Locks the payment row for the rest of the transaction, if no one else holds it: a sync
/// never queues behind a refund's transaction (or behind a thousand other syncs). False when
/// it is held.
pub async fn lock_nowait(conn: &mut PgConnection, payment_id: i64) -> Result<bool, sqlx::Error> {
    let locked =
        sqlx::query!("select id from payments where id = $1 for update nowait", payment_id)
            .fetch_one(conn)
            .await;
    match locked {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(LOCK_NOT_AVAILABLE) => {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Postgres's SQLSTATE for `for update nowait` finding the row locked.
pub const LOCK_NOT_AVAILABLE: &str = "55P03";

/// Overwrites our copy of a payment with PortOne's and adds new cancel_history entries (and,
/// for V2, moves a stored cancellation to the state PortOne gives it now).
/// An older snapshot never moves `cancel_amount` backwards: it loses. Returns the entries
/// that were new, and whether our copy of PortOne's balance is now out of date.
///
/// PortOne's history only grows. When it starts with what we already hold (the same number of
/// entries up to the same last one), only the entries after that are written, in one
/// statement: the work per sync follows what changed, not the order's whole history. Any
/// other history (reordered, or a `null` one followed by a full one) is written whole; the
/// unique key makes that idempotent.
///
/// With `quick`, the transaction's commit will not wait for the disk (said in the writing
/// statement, so it costs no round trip of its own): only for writes PortOne's own record
/// rebuilds.
pub async fn sync(
    conn: &mut PgConnection,
    payment_id: i64,
    p: &Payment,
    quick: bool,
    held: Held<'_>,
) -> Result<Synced, sqlx::Error> {
    let read;
    let held = match held {
        // A V2 cancellation held since the look may have changed state, and a move is looked
        // for only among the entries held (`move_states`): V2 reads what it holds.
        Held::AsLooked(mark) if p.version == ApiVersion::V1 => mark,
        _ => {
            read = history_mark(&mut *conn, payment_id).await?;
            &read
        }
    };
    let history = p.history();
    let HistoryDelta { fresh, mark_len, mark_tail } = HistoryDelta::of(p, held);
    // a V2 cancellation requested earlier may have succeeded or failed since
    let moved = match p.version {
        ApiVersion::V2 => {
            move_states(&mut *conn, payment_id, &history[..history.len() - fresh.len()]).await?
        }
        ApiVersion::V1 => Vec::new(),
    };
    // one statement: the payment and the new entries (none when `fresh` is empty)
    let keys: Vec<String> = fresh.iter().map(CancelEntry::entry_key).collect();
    let column = |f: fn(&CancelEntry) -> Option<String>| fresh.iter().map(f).collect::<Vec<_>>();
    let at: Vec<DateTime<Utc>> =
        fresh.iter().map(|e| unix(e.cancelled_at).unwrap_or_else(Utc::now)).collect();
    let written = sqlx::query!(
        r#"with payment as (
               update payments set status = $2, cancel_amount = $3, cancelled_at = $4, receipt_url = coalesce($5, receipt_url),
                      -- a mark read before this transaction may be behind ours, never the other way
                      history_tail_key = case when $6 >= history_len then $7 else history_tail_key end,
                      history_len = greatest(history_len, $6), synced_at = now()
               where id = $1 and cancel_amount <= $3
               returning balance_cancel_amount is distinct from cancel_amount as stale),
           entries as (
               insert into payment_cancellations (payment_id, entry_key, cancellation_id, pg_tid, amount, cancelled_at, reason, receipt_url, state)
               select $1, * from unnest($8::text[], $9::text[], $10::text[], $11::bigint[], $12::timestamptz[], $13::text[], $14::text[], $15::text[])
               on conflict (payment_id, entry_key) do nothing
               returning entry_key)
           select coalesce((select stale from payment), false) as "stale!",
                  array(select entry_key from entries) as "inserted!",
                  case when $16 then set_config('synchronous_commit', 'off', true) end as quick"#,
        payment_id,
        p.status.as_str(),
        p.cancel_amount,
        unix(p.cancelled_at) as _,
        p.receipt_url,
        mark_len,
        mark_tail,
        &keys,
        &column(|e| e.cancellation_id.clone()) as &[Option<String>],
        &column(|e| e.pg_tid.clone()) as &[Option<String>],
        &fresh.iter().map(|e| e.amount).collect::<Vec<_>>(),
        at.as_slice() as _,
        &column(|e| e.reason.clone()) as &[Option<String>],
        &column(|e| e.receipt_url.clone()) as &[Option<String>],
        &fresh.iter().map(|e| e.state.as_str().to_string()).collect::<Vec<_>>(),
        quick,
    )
    .fetch_one(&mut *conn)
    .await?;
    let balance_stale = written.stale;
    let inserted: HashSet<String> = written.inserted.into_iter().collect();
    let mut added = moved;
    added.extend(
        fresh.iter().zip(&keys).filter(|(_, k)| inserted.contains(*k)).map(|(e, _)| e.clone()),
    );
    Ok(Synced { added, inserted, balance_stale })
}

/// What a sync writes of PortOne's history, given how much of it we hold.
#[derive(Debug, PartialEq)]
pub struct HistoryDelta<'a> {
    /// the entries after those held; the whole history when it does not continue from them
    pub fresh: &'a [CancelEntry],
    /// the mark the sync leaves: `None` when PortOne sent no history (or a shorter one)
    pub mark_len: Option<i32>,
    pub mark_tail: Option<String>,
}

impl<'a> HistoryDelta<'a> {
    pub fn of(p: &'a Payment, held: &HistoryMark) -> HistoryDelta<'a> {
        let history = p.history();
        let held_len = held.len as usize;
        let continues = held_len > 0
            && history.len() >= held_len
            && held.tail.as_deref() == Some(history[held_len - 1].entry_key().as_str());
        let fresh = if continues { &history[held_len..] } else { history };
        // the mark moves only with a history PortOne actually sent
        let (mark_len, mark_tail) = match (&p.cancel_history, history.last()) {
            (Some(_), Some(last)) if history.len() >= held_len => {
                (Some(history.len() as i32), Some(last.entry_key()))
            }
            _ => (None, None),
        };
        HistoryDelta { fresh, mark_len, mark_tail }
    }
}

/// Stores the state PortOne now gives cancellations we hold; returns those whose state moved.
/// Only a requested cancellation moves (one statement, for a V2 payment with held entries).
async fn move_states(
    conn: &mut PgConnection,
    payment_id: i64,
    held: &[CancelEntry],
) -> Result<Vec<CancelEntry>, sqlx::Error> {
    if held.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<String> = held.iter().map(CancelEntry::entry_key).collect();
    let states: Vec<String> = held.iter().map(|e| e.state.as_str().to_string()).collect();
    let moved = sqlx::query_scalar!(
        r#"update payment_cancellations c set state = u.state
           from unnest($2::text[], $3::text[]) as u(entry_key, state)
           where c.payment_id = $1 and c.entry_key = u.entry_key and c.state = 'requested' and c.state <> u.state
           returning c.entry_key"#,
        payment_id,
        &keys,
        &states
    )
    .fetch_all(conn)
    .await?;
    Ok(held.iter().zip(&keys).filter(|(_, k)| moved.contains(k)).map(|(e, _)| e.clone()).collect())
}

/// How far PortOne's history is written into our copy: how many entries, and the last one's
/// key (`payments.history_len`, `history_tail_key`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HistoryMark {
    pub len: i32,
    pub tail: Option<String>,
}

/// How far the history of `payment_id` is written into our copy, as this connection sees it.
pub async fn history_mark(
    conn: &mut PgConnection,
    payment_id: i64,
) -> Result<HistoryMark, sqlx::Error> {
    sqlx::query_as!(
        HistoryMark,
        r#"select history_len as len, history_tail_key as tail from payments where id = $1"#,
        payment_id
    )
    .fetch_one(conn)
    .await
}

/// Where a sync learns how much of the history we hold.
#[derive(Clone, Copy, Debug)]
pub enum Held<'a> {
    /// read first, in the sync's own transaction
    Read,
    /// as a refund request's look read it, before its reservation: tx2 of that refund's
    /// success saves the read (V1; a V2 payment's is read all the same, see `sync`). That
    /// reservation committed durably after the look, so what the look saw is on disk (a commit
    /// that skipped its own wait is flushed by the next one that waits). Syncs since may have
    /// moved the mark on: their entries are written again and skipped by the unique key, and
    /// the mark never moves back.
    AsLooked(&'a HistoryMark),
}

/// What a sync changed.
#[derive(Debug, Default)]
pub struct Synced {
    /// the cancel_history entries that were new to us, or whose state moved
    pub added: Vec<CancelEntry>,
    /// the keys of the entries this sync inserted: no other transaction sees them before this
    /// one commits, so none is linked to a refund but by this transaction
    pub inserted: HashSet<String>,
    /// a cancel moved `cancel_amount` past the balance we hold (`store_balance` is due)
    pub balance_stale: bool,
}

/// Stores PortOne's balance of a payment: its tax-free part and VAT and what remains of them;
/// `None` when PortOne keeps no breakdown for the payment. A balance that does not add up to
/// the cancellable amount we hold belongs to another moment and is not stored. Returns
/// whether it was.
pub async fn store_balance(
    conn: impl sqlx::PgExecutor<'_>,
    payment_id: i64,
    balance: Option<&Balance>,
) -> Result<bool, sqlx::Error> {
    let (original, left) = (balance.map(|b| b.original), balance.map(|b| b.remaining));
    let stored = sqlx::query!(
        r#"update payments set tax_free_amount = $2, vat_amount = $3, tax_free_remaining = $4, vat_remaining = $5,
                  balance_cancel_amount = cancel_amount
           where id = $1 and ($6::bigint is null or amount - cancel_amount = $6)"#,
        payment_id,
        original.map(|p| p.tax_free),
        original.map(|p| p.vat),
        left.map(|p| p.tax_free),
        left.map(|p| p.vat),
        left.map(|p| p.total),
    )
    .execute(conn)
    .await?;
    Ok(stored.rows_affected() == 1)
}

/// Stores a payment we learn about from PortOne (webhook import, demo data). Its owner is
/// decided by `owner_of`. Idempotent on imp_uid. Returns the owner.
pub async fn import_payment(
    pool: &PgPool,
    p: &Payment,
    owner_from_buyer_email: bool,
) -> Result<Option<i64>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (owner, registered_amount) =
        owner_of(&mut tx, &p.merchant_uid, p.buyer_email.as_deref(), owner_from_buyer_email)
            .await?;
    let id = sqlx::query_scalar!(
        r#"insert into payments (imp_uid, merchant_uid, customer_id, order_name, pay_method, pg_provider, currency,
                                 amount, cancel_amount, status, buyer_name, buyer_email, paid_at, cancelled_at,
                                 receipt_url, vbank_code, vbank_name, vbank_num, vbank_holder, portone_raw, synced_at,
                                 registered_amount, api_version)
           values ($1, $2, $3, $4, $5, $6, $7, $8, 0, 'paid', $9, $10, $11, null, $12, $13, $14, $15, $16, $17, now(), $18, $19)
           on conflict (imp_uid) do nothing
           returning id"#,
        p.imp_uid,
        p.merchant_uid,
        owner,
        p.name.clone().unwrap_or_else(|| p.merchant_uid.clone()),
        p.pay_method,
        p.pg_provider,
        p.currency,
        p.amount,
        p.buyer_name,
        p.buyer_email,
        unix(p.paid_at) as _,
        p.receipt_url,
        p.vbank_code,
        p.vbank_name,
        p.vbank_num,
        p.vbank_holder,
        sqlx::types::Json(&p.raw) as _,
        registered_amount,
        p.version as ApiVersion
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = id {
        sync(&mut tx, id, p, false, Held::Read).await?;
        // V2's payment carries its tax split (V1's is read at its own endpoint)
        if let Some(balance) = &p.balance {
            store_balance(&mut *tx, id, Some(balance)).await?;
        }
    }
    tx.commit().await?;
    if id.is_some() && registered_amount.is_some_and(|registered| registered != p.amount) {
        tracing::warn!(merchant_uid = %p.merchant_uid, paid = p.amount, registered = ?registered_amount,
                       "paid amount differs from the registered order");
        count_mismatch();
    }
    Ok(owner)
}

/// Who owns a payment arriving from PortOne, and the amount the shop registered for it: the
/// order's registration (`shop::orders`); without one, the account whose e-mail the payer
/// typed, only where the shop asked for that (`OWNER_FROM_BUYER_EMAIL`); otherwise nobody
/// (unassigned: admins only).
async fn owner_of(
    conn: &mut PgConnection,
    merchant_uid: &str,
    buyer_email: Option<&str>,
    owner_from_buyer_email: bool,
) -> Result<(Option<i64>, Option<i64>), sqlx::Error> {
    if let Some(order) = sqlx::query!(
        "select customer_id, amount from shop_orders where merchant_uid = $1",
        merchant_uid
    )
    .fetch_optional(&mut *conn)
    .await?
    {
        return Ok((Some(order.customer_id), Some(order.amount)));
    }
    let Some(email) = buyer_email.filter(|_| owner_from_buyer_email) else {
        return Ok((None, None));
    };
    let owner = sqlx::query_scalar!(
        "select id from users where email = $1 and role = 'customer' and revoked_at is null
         order by password_hash is not null desc, id limit 1",
        email.trim().to_lowercase()
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok((owner, None))
}

/// `payment_amount_mismatch_total`: a payment whose paid amount is not what the shop
/// registered (PortOne's guide tells every shop to check exactly this).
pub fn count_mismatch() {
    metrics::counter!("payment_amount_mismatch_total").increment(1);
}
