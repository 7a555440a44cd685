//! Our copy of PortOne's payments: importing a payment we learn about, overwriting it with
//! what PortOne says now, and reading it back. It knows nothing of refunds; what a new
//! cancel_history entry means for a refund is `refund::observe`'s business.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::model::CurrentUser;
use portone_v1::{CancelHistoryEntry, Payment};

/// PortOne's Unix seconds, where 0 means "not yet".
pub fn unix(seconds: i64) -> Option<DateTime<Utc>> {
    (seconds > 0).then(|| DateTime::from_timestamp(seconds, 0)).flatten()
}

/// A payment a user may refund: their own, or any for an admin.
#[derive(Clone, Debug)]
pub struct PaymentRow {
    pub id: i64,
    pub imp_uid: String,
}

pub async fn payment_for(
    pool: &PgPool,
    user: &CurrentUser,
    merchant_uid: &str,
) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as!(
        PaymentRow,
        "select id, imp_uid from payments where merchant_uid = $1 and (customer_id = $2 or $3)",
        merchant_uid,
        user.id,
        user.is_admin()
    )
    .fetch_optional(pool)
    .await
}

/// Locks the payment row for the rest of the transaction.
pub async fn lock(conn: &mut PgConnection, payment_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!("select id from payments where id = $1 for update", payment_id)
        .fetch_one(conn)
        .await?;
    Ok(())
}

/// Overwrites our copy of a payment with PortOne's and adds new cancel_history entries.
/// An older snapshot never moves `cancel_amount` backwards: it loses. Returns the entries
/// that were new.
pub async fn sync(
    conn: &mut PgConnection,
    payment_id: i64,
    p: &Payment,
) -> Result<Vec<CancelHistoryEntry>, sqlx::Error> {
    let raw = serde_json::to_value(p).unwrap_or_default();
    sqlx::query!(
        r#"update payments set status = $2, cancel_amount = $3, cancelled_at = $4, receipt_url = coalesce($5, receipt_url),
                  portone_raw = $6, synced_at = now()
           where id = $1 and cancel_amount <= $3"#,
        payment_id,
        p.status.as_str(),
        p.cancel_amount,
        unix(p.cancelled_at) as _,
        p.receipt_url,
        raw
    )
    .execute(&mut *conn)
    .await?;
    let mut added = Vec::new();
    for e in p.history() {
        let inserted = sqlx::query!(
            r#"insert into payment_cancellations (payment_id, entry_key, cancellation_id, pg_tid, amount, cancelled_at, reason, receipt_url)
               values ($1, $2, $3, $4, $5, $6, $7, $8)
               on conflict (payment_id, entry_key) do nothing"#,
            payment_id,
            e.entry_key(),
            e.cancellation_id,
            e.pg_tid,
            e.amount,
            unix(e.cancelled_at).unwrap_or_else(Utc::now) as _,
            e.reason,
            e.receipt_url
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if inserted == 1 {
            added.push(e.clone());
        }
    }
    Ok(added)
}

/// Stores a payment we learn about from PortOne (webhook import, demo data). The owner is
/// the user whose e-mail equals the buyer's. Idempotent on imp_uid. Returns the owner.
pub async fn import_payment(pool: &PgPool, p: &Payment) -> Result<Option<i64>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let owner = match p.buyer_email.as_deref() {
        Some(email) => {
            sqlx::query_scalar!(
                "select id from users where email = $1",
                email.trim().to_lowercase()
            )
            .fetch_optional(&mut *tx)
            .await?
        }
        None => None,
    };
    let raw = serde_json::to_value(p).unwrap_or_default();
    let id = sqlx::query_scalar!(
        r#"insert into payments (imp_uid, merchant_uid, customer_id, order_name, pay_method, pg_provider, currency,
                                 amount, cancel_amount, status, buyer_name, buyer_email, paid_at, cancelled_at,
                                 receipt_url, vbank_code, vbank_name, vbank_num, vbank_holder, portone_raw, synced_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, 0, 'paid', $9, $10, $11, null, $12, $13, $14, $15, $16, $17, now())
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
        raw
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = id {
        sync(&mut tx, id, p).await?;
    }
    tx.commit().await?;
    Ok(owner)
}

/// Our stored copy of PortOne's payment, as PortOne sent it last.
pub async fn stored_payment(
    pool: &PgPool,
    merchant_uid: &str,
) -> Result<Option<serde_json::Value>, sqlx::Error> {
    let raw = sqlx::query_scalar!(
        "select portone_raw from payments where merchant_uid = $1",
        merchant_uid
    )
    .fetch_optional(pool)
    .await?;
    Ok(raw.flatten())
}
