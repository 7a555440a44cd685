//! Events out to the shop (README "Events to your shop"): each is written by `record` in the
//! same transaction as the change that causes it — a transactional outbox, so no event is
//! lost and none is sent for a change that rolled back — with one delivery per endpoint that
//! takes it. `deliver.rs` posts them, signed per Standard Webhooks, until each is delivered or
//! given up; `endpoints.rs` keeps the shop's endpoints.
//!
//! It knows refunds and payments only as rows: the refund pipeline calls it, never the reverse.

pub mod deliver;
pub mod endpoints;

use sqlx::PgConnection;
use uuid::Uuid;

pub use crate::model::shop::ShopEvent;

/// The event's id, also its `webhook-id` on every attempt (the shop deduplicates by it).
pub fn message_id(event_id: Uuid) -> String {
    format!("evt_{}", event_id.simple())
}

/// Writes a refund's event, as the refund stands in this transaction, and its deliveries.
/// Nothing is written while no endpoint is enabled (an endpoint added later hears of what
/// happens from then on).
pub async fn record_refund(
    conn: &mut PgConnection,
    kind: ShopEvent,
    refund_id: Uuid,
) -> Result<(), sqlx::Error> {
    let id = Uuid::new_v4();
    // the statement is `record_refund_event` (migrations/20261201000006_reserve_in_one_round_trip.sql),
    // which a refund's success also runs inside its one statement
    sqlx::query!(
        "select record_refund_event($1, $2, $3, $4)",
        id,
        kind.as_str(),
        message_id(id),
        refund_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A cancel PortOne holds that no refund of ours made, as it was synced.
pub struct OutsideCancel<'a> {
    pub cancellation_id: Option<&'a str>,
    pub amount: i64,
    pub reason: Option<&'a str>,
    pub cancelled_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Writes `payment.cancelled_outside` for a payment we hold, and its deliveries.
pub async fn record_outside_cancel(
    conn: &mut PgConnection,
    payment_id: i64,
    cancel: &OutsideCancel<'_>,
) -> Result<(), sqlx::Error> {
    let id = Uuid::new_v4();
    let kind = ShopEvent::CancelledOutside;
    sqlx::query!(
        r#"with event as (
               insert into shop_events (id, kind, payment_id, body)
               select $1, $2, p.id, jsonb_build_object(
                   'type', $2::text, 'id', $3::text, 'created_at', now(),
                   'data', jsonb_build_object(
                       'cancellation', jsonb_build_object(
                           'id', $5::text, 'amount', $6::bigint, 'reason', $7::text,
                           'cancelled_at', $8::timestamptz),
                       'payment', jsonb_build_object(
                           'merchant_uid', p.merchant_uid, 'imp_uid', p.imp_uid,
                           'api_version', p.api_version, 'amount', p.amount,
                           'cancel_amount', p.cancel_amount, 'customer_id', u.shop_customer_id)))
               from payments p left join users u on u.id = p.customer_id
               where p.id = $4
                 and exists (select 1 from webhook_endpoints where disabled_at is null)
               returning id, seq, kind)
           insert into webhook_deliveries (event_id, endpoint_id, event_seq)
           select event.id, e.id, event.seq
           from event join webhook_endpoints e
             on e.disabled_at is null and (e.events is null or event.kind = any(e.events))"#,
        id,
        kind.as_str(),
        message_id(id),
        payment_id,
        cancel.cancellation_id,
        cancel.amount,
        cancel.reason,
        cancel.cancelled_at as _
    )
    .execute(conn)
    .await?;
    Ok(())
}
