//! Reading orders for the customer pages. Ownership is part of every query: another
//! customer's order is indistinguishable from a missing one.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::model::admin::TimelineCancellation;
use crate::model::{
    ApiVersion, CancellationState, CurrentUser, OrderDetail, OrderState, OrderSummary, PayMethod,
    RefundLine, RefundOutcome, TaxAmounts, TaxSplit,
};
use crate::server::banks;
use crate::server::refund::{self, rules};

/// The signed-in customer's orders, newest payment first.
pub async fn list_orders(
    pool: &PgPool,
    customer_id: i64,
) -> Result<Vec<OrderSummary>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select p.merchant_uid, p.order_name, p.pay_method as "pay_method: PayMethod", p.paid_at as "paid_at: DateTime<Utc>", p.amount, p.cancel_amount, p.status,
                  exists (select 1 from refunds r where r.payment_id = p.id and r.status = 'pending') as "refund_pending!",
                  exists (select 1 from refunds r where r.payment_id = p.id and r.status = 'requested') as "request_waiting!"
           from payments p
           where p.customer_id = $1
           order by p.paid_at desc nulls last, p.id desc"#,
        customer_id
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| OrderSummary {
            state: OrderState::derive(
                &r.status,
                r.amount,
                r.cancel_amount,
                (r.refund_pending, r.request_waiting),
            ),
            merchant_uid: r.merchant_uid,
            order_name: r.order_name,
            pay_method: r.pay_method,
            paid_at: r.paid_at,
            amount: r.amount,
            cancel_amount: r.cancel_amount,
        })
        .collect())
}

/// One order, if `user` may see it: its owner, or an admin.
pub async fn find_order(
    pool: &PgPool,
    user: &CurrentUser,
    merchant_uid: &str,
) -> Result<Option<OrderDetail>, sqlx::Error> {
    let Some(p) = sqlx::query!(
        r#"select p.id, p.imp_uid, p.merchant_uid, p.order_name, p.pay_method as "pay_method: PayMethod", p.pg_provider, p.paid_at as "paid_at: DateTime<Utc>", p.amount,
                  p.cancel_amount, p.status, p.buyer_name, p.receipt_url, p.api_version as "api_version: ApiVersion",
                  p.tax_free_amount, p.vat_amount, p.tax_free_remaining, p.vat_remaining,
                  p.balance_cancel_amount is not distinct from p.cancel_amount as "balance_current!",
                  p.balance_cancel_amount is not null as "balance_read!",
                  exists (select 1 from refunds r where r.payment_id = p.id and r.status = 'pending') as "refund_pending!",
                  (select coalesce(sum(r.amount), 0) from refunds r where r.payment_id = p.id and r.status = 'requested')::bigint as "held!"
           from payments p
           where p.merchant_uid = $1 and (p.customer_id = $2 or $3)"#,
        merchant_uid,
        user.id,
        user.is_admin()
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };

    let refunds = cancellations(pool, p.id)
        .await?
        .into_iter()
        .map(|c| RefundLine {
            amount: c.amount,
            at: c.cancelled_at,
            reason: c.reason,
            receipt_url: c.receipt_url,
            via_console: c.refund_id.is_none(),
            tax: c.tax,
            state: c.state,
        })
        .collect();
    let tax = TaxSplit::from_columns(
        [p.tax_free_amount, p.vat_amount],
        [p.tax_free_remaining, p.vat_remaining],
    );
    let tax_left = tax
        .filter(|_| p.balance_current)
        .map(|t| refund::tax::TaxLeft { tax_free: t.left.tax_free, vat: t.left.vat });

    let facts = rules::PaymentFacts {
        pay_method: p.pay_method.clone(),
        pg_provider: p.pg_provider.as_str().into(),
        status: p.status.clone(),
        amount: p.amount,
        cancel_amount: p.cancel_amount,
        paid_at: p.paid_at,
        refund_pending: p.refund_pending,
        tax_left,
        tax_split_unread: !p.balance_read
            || (p.tax_free_amount.is_some_and(|t| t > 0) && !p.balance_current),
        held: p.held,
    };
    let last_refund: Option<RefundOutcome> = refund::latest_outcome(pool, p.id, user.id).await?;
    Ok(Some(OrderDetail {
        summary: OrderSummary {
            state: OrderState::derive(
                &p.status,
                p.amount,
                p.cancel_amount,
                (p.refund_pending, p.held > 0),
            ),
            merchant_uid: p.merchant_uid,
            order_name: p.order_name,
            pay_method: p.pay_method.clone(),
            paid_at: p.paid_at,
            amount: p.amount,
            cancel_amount: p.cancel_amount,
        },
        imp_uid: p.imp_uid,
        api_version: p.api_version,
        refund_banks: if rules::refund_account_needed(&facts, Utc::now()) {
            banks::refund_banks(&facts.pg_provider)
        } else {
            Vec::new()
        },
        refund_tel_required: rules::refund_tel_needed(&facts),
        pg_provider: p.pg_provider,
        buyer_name: p.buyer_name,
        receipt_url: p.receipt_url,
        refunds,
        not_refundable_reason: rules::why_not_refundable(&facts, Utc::now()).map(|r| r.to_string()),
        partial_allowed: rules::partial_allowed(&facts),
        idempotency_key: uuid::Uuid::new_v4(),
        last_refund,
        tax_fields: user.is_admin() && tax_left.is_some(),
        held: p.held,
        tax,
    }))
}

/// PortOne's cancel history of a payment as we hold it, oldest first, with the refund (if any)
/// that caused each entry.
pub async fn cancellations(
    pool: &PgPool,
    payment_id: i64,
) -> Result<Vec<TimelineCancellation>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select c.amount, c.cancelled_at as "cancelled_at: DateTime<Utc>", c.reason, c.pg_tid, c.cancellation_id, c.receipt_url,
                  c.refund_id, c.entry_key, r.tax_free as "tax_free?", r.vat_amount as "vat_amount?",
                  c.state as "state: CancellationState"
           from payment_cancellations c left join refunds r on r.id = c.refund_id
           where c.payment_id = $1 order by c.cancelled_at, c.id"#,
        payment_id
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|c| TimelineCancellation {
            amount: c.amount,
            cancelled_at: c.cancelled_at,
            reason: c.reason,
            pg_tid: c.pg_tid,
            cancellation_id: c.cancellation_id,
            receipt_url: c.receipt_url,
            refund_id: c.refund_id,
            entry_key: c.entry_key,
            tax: TaxAmounts::from_columns(c.tax_free, c.vat_amount),
            state: c.state,
        })
        .collect())
}
