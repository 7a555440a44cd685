//! Orders and customers from the shop. The shop's server registers each order with its owner
//! (`PUT /api/v1/orders/{merchant_uid}`), before or after PortOne's payment arrives; the
//! registration decides who owns the payment. A payment nobody registered is imported
//! unassigned: admins see it (주문 미등록) and may assign it; no customer sees it.

use sqlx::{PgConnection, PgPool};

use crate::model::admin::AuditKind;
use crate::model::shop::UnassignedView;
use crate::model::{CurrentUser, Role};
use crate::server::error::ServerError;

/// A customer as the shop knows them: its own id, e-mail and name.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShopCustomer {
    pub id: String,
    pub email: String,
    pub name: String,
}

/// An order as the shop registers it.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRegistration {
    pub customer: ShopCustomer,
    pub amount: i64,
    pub name: String,
}

/// Checks what the shop sent; the Korean sentence names the field.
pub fn validate(merchant_uid: &str, r: &OrderRegistration) -> Result<(), String> {
    if !crate::model::valid_merchant_uid(merchant_uid) {
        return Err("merchant_uid는 1–40자여야 합니다.".into());
    }
    validate_customer(&r.customer)?;
    if r.amount < 0 {
        return Err("amount는 0 이상의 원 단위 정수여야 합니다.".into());
    }
    if !(1..=200).contains(&r.name.trim().chars().count()) {
        return Err("name(주문명)은 1–200자여야 합니다.".into());
    }
    Ok(())
}

/// Checks a customer the shop names (an order's owner, or the subject of a sign-in token).
pub fn validate_customer(c: &ShopCustomer) -> Result<(), String> {
    let id = c.id.trim();
    if id.is_empty() || id.chars().count() > 100 || id.chars().any(char::is_control) {
        return Err("customer.id는 1–100자여야 합니다.".into());
    }
    if crate::server::auth::plausible_email(&c.email).is_none() {
        return Err("customer.email이 올바른 이메일 주소가 아닙니다.".into());
    }
    if !(1..=100).contains(&c.name.trim().chars().count()) {
        return Err("customer.name은 1–100자여야 합니다.".into());
    }
    Ok(())
}

/// Creates or updates the customer the shop calls `customer.id`; returns them as a session
/// knows them. Shop customers sign in only through the shop (they have no password here).
pub async fn upsert_customer(
    conn: &mut PgConnection,
    c: &ShopCustomer,
) -> Result<CurrentUser, sqlx::Error> {
    sqlx::query_as!(
        CurrentUser,
        r#"insert into users (email, display_name, password_hash, role, shop_customer_id)
           values ($1, $2, null, 'customer', $3)
           on conflict (shop_customer_id) do update set email = excluded.email, display_name = excluded.display_name
           returning id, email, display_name, role as "role: Role""#,
        crate::server::auth::normalize_email(&c.email),
        c.name.trim(),
        c.id.trim()
    )
    .fetch_one(conn)
    .await
}

/// What a registration changed.
#[derive(Debug, PartialEq, Eq)]
pub struct Registered {
    /// our user id for the order's customer
    pub customer_id: i64,
    /// the order was new (201) or updated (200)
    pub created: bool,
    /// PortOne's payment for it had already arrived, and now belongs to the customer
    pub payment_assigned: bool,
    /// that payment's paid amount differs from the registered amount
    pub amount_mismatch: bool,
}

/// Registers (or updates, idempotently) an order and its owner. If the payment is already
/// here, it now belongs to the registered customer.
pub async fn register(
    pool: &PgPool,
    merchant_uid: &str,
    r: &OrderRegistration,
    api_key_id: Option<i64>,
    actor: &str,
) -> Result<Registered, ServerError> {
    validate(merchant_uid, r).map_err(ServerError::Rejected)?;
    let mut tx = pool.begin().await?;
    let customer_id = upsert_customer(&mut tx, &r.customer).await?.id;
    let created = sqlx::query_scalar!(
        r#"insert into shop_orders (merchant_uid, customer_id, amount, name, api_key_id) values ($1, $2, $3, $4, $5)
           on conflict (merchant_uid) do update set customer_id = excluded.customer_id, amount = excluded.amount,
                  name = excluded.name, api_key_id = excluded.api_key_id, updated_at = now()
           returning (xmax = 0) as "created!""#,
        merchant_uid,
        customer_id,
        r.amount,
        r.name.trim(),
        api_key_id
    )
    .fetch_one(&mut *tx)
    .await?;
    let payment = sqlx::query!(
        r#"update payments set customer_id = $2, registered_amount = $3 where merchant_uid = $1
           returning id, amount <> $3 as "mismatch!""#,
        merchant_uid,
        customer_id,
        r.amount
    )
    .fetch_optional(&mut *tx)
    .await?;
    crate::server::refund::audit(
        &mut *tx,
        None,
        payment.as_ref().map(|p| p.id),
        AuditKind::OrderRegistered,
        actor,
        serde_json::json!({"merchant_uid": merchant_uid, "customer": r.customer.id.trim(),
                           "amount": r.amount, "created": created}),
    )
    .await?;
    tx.commit().await?;
    let mismatch = payment.as_ref().is_some_and(|p| p.mismatch);
    if mismatch {
        crate::server::payments::count_mismatch();
    }
    Ok(Registered {
        customer_id,
        created,
        payment_assigned: payment.is_some(),
        amount_mismatch: mismatch,
    })
}

/// An admin assigns an unregistered payment to a customer named by the shop's id or by
/// e-mail (the customer must be known here). Returns the customer's name.
pub async fn assign(
    pool: &PgPool,
    merchant_uid: &str,
    customer: &str,
    actor: &str,
) -> Result<String, ServerError> {
    let customer = customer.trim();
    let mut tx = pool.begin().await?;
    let found = sqlx::query!(
        "select id, display_name from users
         where role = 'customer' and (shop_customer_id = $1 or email = lower($1))
         order by shop_customer_id = $1 desc nulls last limit 1",
        customer
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(found) = found else {
        return Err(ServerError::Rejected(
            "그런 고객을 찾을 수 없습니다. 쇼핑몰의 고객 ID나 이메일을 입력해 주세요.".into(),
        ));
    };
    let payment = sqlx::query_scalar!(
        "update payments set customer_id = $2 where merchant_uid = $1 and customer_id is null returning id",
        merchant_uid,
        found.id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(payment) = payment else {
        return Err(ServerError::Rejected("이미 주인이 있는 주문입니다.".into()));
    };
    crate::server::refund::audit(
        &mut *tx,
        None,
        Some(payment),
        AuditKind::OrderAssigned,
        actor,
        serde_json::json!({"customer_id": found.id}),
    )
    .await?;
    tx.commit().await?;
    Ok(found.display_name)
}

/// The newest unassigned payments (at most `limit`).
pub async fn unassigned(pool: &PgPool, limit: i64) -> Result<Vec<UnassignedView>, sqlx::Error> {
    sqlx::query_as!(
        UnassignedView,
        r#"select merchant_uid, order_name, amount, buyer_name, paid_at as "paid_at: chrono::DateTime<chrono::Utc>" from payments
           where customer_id is null order by created_at desc limit $1"#,
        limit
    )
    .fetch_all(pool)
    .await
}
