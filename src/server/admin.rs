//! The admin side: the refund list (filters, keyset pages, totals, daily chart, streamed CSV),
//! one order's timeline, and re-sync with PortOne. Callers check the admin role first.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Seoul;
use futures::StreamExt;
use sqlx::PgPool;
use uuid::Uuid;

use crate::model::admin::*;
use crate::server::portone::PortOneClient;
use crate::server::refund::store_api::refresh;

/// The filter as SQL parameters.
#[derive(Debug, Default)]
struct Params {
    status: Option<String>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    pay_method: Option<String>,
    requester: Option<String>,
    q: Option<String>,
}

/// KST midnight at the start of `day`, in UTC.
pub fn kst_midnight(day: NaiveDate) -> DateTime<Utc> {
    Seoul
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .single()
        .expect("KST has no DST")
        .with_timezone(&Utc)
}

pub fn kst_today() -> NaiveDate {
    Utc::now().with_timezone(&Seoul).date_naive()
}

impl Params {
    fn from_query(q: &RefundQuery) -> Params {
        Params {
            status: q.status.clone(),
            from: q.from_day().map(kst_midnight),
            until: q.to_day().map(|d| kst_midnight(d + Duration::days(1))),
            pay_method: q.pay_method.clone(),
            requester: q.requester.clone(),
            q: q.q.clone(),
        }
    }
}

struct Row {
    id: Uuid,
    created_at: DateTime<Utc>,
    merchant_uid: String,
    imp_uid: String,
    customer_name: Option<String>,
    customer_email: Option<String>,
    order_name: String,
    pay_method: String,
    amount: i64,
    status: String,
    requester_role: String,
    requester_name: String,
    reason: String,
    portone_message: Option<String>,
    receipt_url: Option<String>,
}

impl From<Row> for AdminRefundRow {
    fn from(r: Row) -> Self {
        AdminRefundRow {
            id: r.id.to_string(),
            requested_at: r.created_at,
            merchant_uid: r.merchant_uid,
            imp_uid: r.imp_uid,
            customer_name: r.customer_name,
            customer_email: r.customer_email,
            order_name: r.order_name,
            pay_method: r.pay_method,
            amount: r.amount,
            status: stored_status(&r.status),
            requester_role: r.requester_role,
            requester_name: r.requester_name,
            reason: r.reason,
            portone_message: r.portone_message,
            receipt_url: r.receipt_url,
            delayed_secs: None,
        }
    }
}

/// Seconds a refund has been pending, when that is longer than `alert_after`: 지연.
pub fn delay(
    status: RefundStatus,
    requested_at: DateTime<Utc>,
    now: DateTime<Utc>,
    alert_after: std::time::Duration,
) -> Option<i64> {
    let age = (now - requested_at).num_seconds();
    (status == RefundStatus::Pending && age > alert_after.as_secs() as i64).then_some(age)
}

/// A status as stored; the schema's check constraint allows only `RefundStatus`'s values.
fn stored_status(s: &str) -> RefundStatus {
    RefundStatus::parse(s).unwrap_or_else(|| {
        tracing::error!(status = s, "a refund status the schema does not allow");
        RefundStatus::Pending
    })
}

/// One page of refunds, newest first, by keyset: `after` (older than) or `before` (newer than).
pub async fn list_refunds(
    pool: &PgPool,
    query: &RefundQuery,
) -> Result<(Vec<AdminRefundRow>, Option<String>, Option<String>), sqlx::Error> {
    let p = Params::from_query(query);
    let size = query.page_size();
    let before = query.before.as_deref().and_then(parse_cursor);
    let after = if before.is_some() { None } else { query.after.as_deref().and_then(parse_cursor) };
    // one extra row tells whether another page exists in that direction
    let limit = size + 1;
    let mut rows: Vec<Row> = if let Some((at, id)) = before {
        sqlx::query_as!(
            Row,
            r#"select r.id, r.created_at as "created_at: DateTime<Utc>", p.merchant_uid, p.imp_uid,
                      u.display_name as "customer_name?", u.email as "customer_email?", p.order_name, p.pay_method,
                      r.amount, r.status, r.requester_role, ru.display_name as requester_name, r.reason,
                      r.portone_message, r.receipt_url
               from refunds r
               join payments p on p.id = r.payment_id
               left join users u on u.id = p.customer_id
               join users ru on ru.id = r.requester_id
               where ($1::text is null or r.status = $1)
                 and ($2::timestamptz is null or r.created_at >= $2)
                 and ($3::timestamptz is null or r.created_at < $3)
                 and ($4::text is null or p.pay_method = $4)
                 and ($5::text is null or r.requester_role = $5)
                 and ($6::text is null or r.payment_id in (
                        select id from payments where merchant_uid = $6 or imp_uid = $6
                        union
                        select pp.id from payments pp join users uu on uu.id = pp.customer_id
                        where uu.email = lower($6) or uu.display_name = $6))
                 and (r.created_at, r.id) > ($7, $8)
               order by r.created_at asc, r.id asc
               limit $9"#,
            p.status, p.from as _, p.until as _, p.pay_method, p.requester, p.q, at as _, id, limit
        )
        .fetch_all(pool)
        .await?
    } else {
        let (at, id) = after.map(|(a, i)| (Some(a), Some(i))).unwrap_or((None, None));
        sqlx::query_as!(
            Row,
            r#"select r.id, r.created_at as "created_at: DateTime<Utc>", p.merchant_uid, p.imp_uid,
                      u.display_name as "customer_name?", u.email as "customer_email?", p.order_name, p.pay_method,
                      r.amount, r.status, r.requester_role, ru.display_name as requester_name, r.reason,
                      r.portone_message, r.receipt_url
               from refunds r
               join payments p on p.id = r.payment_id
               left join users u on u.id = p.customer_id
               join users ru on ru.id = r.requester_id
               where ($1::text is null or r.status = $1)
                 and ($2::timestamptz is null or r.created_at >= $2)
                 and ($3::timestamptz is null or r.created_at < $3)
                 and ($4::text is null or p.pay_method = $4)
                 and ($5::text is null or r.requester_role = $5)
                 and ($6::text is null or r.payment_id in (
                        select id from payments where merchant_uid = $6 or imp_uid = $6
                        union
                        select pp.id from payments pp join users uu on uu.id = pp.customer_id
                        where uu.email = lower($6) or uu.display_name = $6))
                 and ($7::timestamptz is null or (r.created_at, r.id) < ($7, $8::uuid))
               order by r.created_at desc, r.id desc
               limit $9"#,
            p.status, p.from as _, p.until as _, p.pay_method, p.requester, p.q, at as _, id as _, limit
        )
        .fetch_all(pool)
        .await?
    };
    let more = rows.len() as i64 > size;
    rows.truncate(size as usize);
    if before.is_some() {
        rows.reverse();
    }
    let rows: Vec<AdminRefundRow> = rows.into_iter().map(AdminRefundRow::from).collect();
    let first = rows.first().map(|r| cursor(r.requested_at, &r.id));
    let last = rows.last().map(|r| cursor(r.requested_at, &r.id));
    // going back: a newer page exists if we came from one or there were more rows before
    let (next, prev) = if before.is_some() {
        (last, if more { first } else { None })
    } else {
        (if more { last } else { None }, if after.is_some() { first } else { None })
    };
    Ok((rows, next, prev))
}

/// Count and sum per status for the filter (ignoring the page position).
pub async fn totals(pool: &PgPool, query: &RefundQuery) -> Result<Vec<StatusTotal>, sqlx::Error> {
    let p = Params::from_query(query);
    let rows = sqlx::query!(
        r#"select r.status, count(*) as "count!", coalesce(sum(r.amount), 0)::bigint as "amount!"
           from refunds r
           join payments p on p.id = r.payment_id
               where ($1::text is null or r.status = $1)
                 and ($2::timestamptz is null or r.created_at >= $2)
                 and ($3::timestamptz is null or r.created_at < $3)
                 and ($4::text is null or p.pay_method = $4)
                 and ($5::text is null or r.requester_role = $5)
                 and ($6::text is null or r.payment_id in (
                        select id from payments where merchant_uid = $6 or imp_uid = $6
                        union
                        select pp.id from payments pp join users uu on uu.id = pp.customer_id
                        where uu.email = lower($6) or uu.display_name = $6))
           group by r.status
           order by r.status"#,
        p.status,
        p.from as _,
        p.until as _,
        p.pay_method,
        p.requester,
        p.q
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| StatusTotal { status: stored_status(&r.status), count: r.count, amount: r.amount })
        .collect())
}

/// Refunded won per KST day over the filter's range (default: the last 30 days), every day
/// present, zeros included.
pub async fn daily_refunded(
    pool: &PgPool,
    query: &RefundQuery,
) -> Result<(NaiveDate, NaiveDate, Vec<DayTotal>), sqlx::Error> {
    let to = query.to_day().unwrap_or_else(kst_today);
    let from = query.from_day().filter(|f| *f <= to).unwrap_or(to - Duration::days(29));
    // at most a year of bars
    let from = from.max(to - Duration::days(365));
    let ranged = RefundQuery {
        from: Some(from.to_string()),
        to: Some(to.to_string()),
        ..query.without_cursor()
    };
    let p = Params::from_query(&ranged);
    let rows = sqlx::query!(
        r#"select (r.created_at at time zone 'Asia/Seoul')::date as "day!: NaiveDate",
                  coalesce(sum(r.amount) filter (where r.status = 'succeeded'), 0)::bigint as "refunded!"
           from refunds r
           join payments p on p.id = r.payment_id
               where ($1::text is null or r.status = $1)
                 and ($2::timestamptz is null or r.created_at >= $2)
                 and ($3::timestamptz is null or r.created_at < $3)
                 and ($4::text is null or p.pay_method = $4)
                 and ($5::text is null or r.requester_role = $5)
                 and ($6::text is null or r.payment_id in (
                        select id from payments where merchant_uid = $6 or imp_uid = $6
                        union
                        select pp.id from payments pp join users uu on uu.id = pp.customer_id
                        where uu.email = lower($6) or uu.display_name = $6))
           group by 1
           order by 1"#,
        p.status, p.from as _, p.until as _, p.pay_method, p.requester, p.q
    )
    .fetch_all(pool)
    .await?;
    let mut days = Vec::new();
    let mut d = from;
    while d <= to {
        let refunded = rows.iter().find(|r| r.day == d).map(|r| r.refunded).unwrap_or(0);
        days.push(DayTotal { day: d, refunded });
        d += Duration::days(1);
    }
    Ok((from, to, days))
}

pub async fn refund_page(
    pool: &PgPool,
    query: &RefundQuery,
    alert_after: std::time::Duration,
) -> Result<RefundPage, sqlx::Error> {
    let (mut rows, next, prev) = list_refunds(pool, query).await?;
    let now = Utc::now();
    for row in &mut rows {
        row.delayed_secs = delay(row.status, row.requested_at, now, alert_after);
    }
    let totals = totals(pool, query).await?;
    let (chart_from, chart_to, chart) = daily_refunded(pool, query).await?;
    Ok(RefundPage { rows, next, prev, totals, chart, chart_from, chart_to })
}

/// One CSV cell: quoted when needed, and a leading `=`, `+`, `-`, `@` (or tab/CR) defused
/// with an apostrophe so spreadsheet programs do not run it as a formula.
pub fn csv_cell(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

pub const CSV_HEADER: &str = "요청 일시(KST),주문번호,imp_uid,고객,고객 이메일,상품명,결제수단,요청 금액,상태,요청자,요청자 이름,사유,PortOne 메시지,영수증\r\n";

pub fn csv_line(r: &AdminRefundRow) -> String {
    let cells = [
        crate::model::format_kst_seconds(r.requested_at),
        r.merchant_uid.clone(),
        r.imp_uid.clone(),
        r.customer_name.clone().unwrap_or_default(),
        r.customer_email.clone().unwrap_or_default(),
        r.order_name.clone(),
        crate::model::pay_method_label(&r.pay_method).to_string(),
        r.amount.to_string(),
        r.status.label().to_string(),
        requester_label(&r.requester_role).to_string(),
        r.requester_name.clone(),
        r.reason.clone(),
        r.portone_message.clone().unwrap_or_default(),
        r.receipt_url.clone().unwrap_or_default(),
    ];
    let mut line = cells.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(",");
    line.push_str("\r\n");
    line
}

/// Streams the filter's rows as CSV lines (UTF-8 with a BOM first, so Excel reads Korean),
/// row by row from the database through a small bounded channel: memory stays flat however
/// many rows there are.
pub fn csv_stream(
    pool: PgPool,
    query: RefundQuery,
) -> tokio::sync::mpsc::Receiver<Result<String, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        if tx.send(Ok(format!("\u{feff}{CSV_HEADER}"))).await.is_err() {
            return;
        }
        let p = Params::from_query(&query);
        let mut rows = sqlx::query_as!(
            Row,
            r#"select r.id, r.created_at as "created_at: DateTime<Utc>", p.merchant_uid, p.imp_uid,
                      u.display_name as "customer_name?", u.email as "customer_email?", p.order_name, p.pay_method,
                      r.amount, r.status, r.requester_role, ru.display_name as requester_name, r.reason,
                      r.portone_message, r.receipt_url
               from refunds r
               join payments p on p.id = r.payment_id
               left join users u on u.id = p.customer_id
               join users ru on ru.id = r.requester_id
               where ($1::text is null or r.status = $1)
                 and ($2::timestamptz is null or r.created_at >= $2)
                 and ($3::timestamptz is null or r.created_at < $3)
                 and ($4::text is null or p.pay_method = $4)
                 and ($5::text is null or r.requester_role = $5)
                 and ($6::text is null or r.payment_id in (
                        select id from payments where merchant_uid = $6 or imp_uid = $6
                        union
                        select pp.id from payments pp join users uu on uu.id = pp.customer_id
                        where uu.email = lower($6) or uu.display_name = $6))
               order by r.created_at desc, r.id desc"#,
            p.status, p.from as _, p.until as _, p.pay_method, p.requester, p.q
        )
        .fetch(&pool);
        while let Some(row) = rows.next().await {
            let item =
                row.map(|r| csv_line(&AdminRefundRow::from(r))).map_err(std::io::Error::other);
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    });
    rx
}

/// One order: payment facts, PortOne's cancel history (ours or made outside), and every
/// refund attempt with its audit events in time order.
pub async fn timeline(
    pool: &PgPool,
    merchant_uid: &str,
    alert_after: std::time::Duration,
) -> Result<Option<PaymentTimeline>, sqlx::Error> {
    let Some(p) = sqlx::query!(
        r#"select p.id, p.merchant_uid, p.imp_uid, p.order_name, p.pay_method, p.pg_provider, p.status, p.amount,
                  p.cancel_amount, p.buyer_name, p.buyer_email, u.display_name as "customer_name?",
                  p.paid_at as "paid_at: DateTime<Utc>", p.synced_at as "synced_at: DateTime<Utc>"
           from payments p left join users u on u.id = p.customer_id
           where p.merchant_uid = $1"#,
        merchant_uid
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let cancellations = crate::server::orders::cancellations(pool, p.id).await?;
    let events = sqlx::query!(
        r#"select refund_id as "refund_id!", created_at as "at: DateTime<Utc>", kind, actor, detail::text as "detail!"
           from refund_events where payment_id = $1 and refund_id is not null order by created_at, id"#,
        p.id
    )
    .fetch_all(pool)
    .await?;
    let refunds = sqlx::query!(
        r#"select r.id, r.amount, r.checksum, r.status, r.reason, r.requester_role, u.display_name as requester_name,
                  r.attempts, r.portone_code, r.portone_message, r.created_at as "created_at: DateTime<Utc>"
           from refunds r join users u on u.id = r.requester_id
           where r.payment_id = $1 order by r.created_at, r.id"#,
        p.id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| TimelineRefund {
        delayed_secs: delay(stored_status(&r.status), r.created_at, Utc::now(), alert_after),
        events: events
            .iter()
            .filter(|e| e.refund_id == r.id)
            .map(|e| TimelineEvent { at: e.at, kind: e.kind.clone(), actor: e.actor.clone(), detail: e.detail.clone() })
            .collect(),
        id: r.id.to_string(),
        amount: r.amount,
        checksum: r.checksum,
        status: stored_status(&r.status),
        reason: r.reason,
        requester_role: r.requester_role,
        requester_name: r.requester_name,
        attempts: r.attempts,
        portone_code: r.portone_code,
        portone_message: r.portone_message,
        created_at: r.created_at,
    })
    .collect();
    Ok(Some(PaymentTimeline {
        merchant_uid: p.merchant_uid,
        imp_uid: p.imp_uid,
        order_name: p.order_name,
        pay_method: p.pay_method,
        pg_provider: p.pg_provider,
        status: p.status,
        amount: p.amount,
        cancel_amount: p.cancel_amount,
        buyer_name: p.buyer_name,
        buyer_email: p.buyer_email,
        customer_name: p.customer_name,
        paid_at: p.paid_at,
        synced_at: p.synced_at,
        cancellations,
        refunds,
    }))
}

/// PortOne과 동기화: re-reads the payment from PortOne and stores what changed.
pub async fn sync_now(
    pool: &PgPool,
    portone: &PortOneClient,
    merchant_uid: &str,
    actor: &str,
) -> Result<Option<SyncReport>, String> {
    let Some(p) = sqlx::query!(
        "select id, imp_uid, cancel_amount from payments where merchant_uid = $1",
        merchant_uid
    )
    .fetch_optional(pool)
    .await
    .map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    let (payment, new_cancellations) =
        refresh(pool, portone, p.id, &p.imp_uid).await.map_err(|e| e.to_string())?;
    sqlx::query!(
        "insert into refund_events (payment_id, kind, actor, detail) values ($1, 'synced', $2, $3)",
        p.id,
        actor,
        serde_json::json!({"new_cancellations": new_cancellations, "cancel_amount": payment.cancel_amount})
    )
    .execute(pool)
    .await
    .map_err(|e| e.to_string())?;
    Ok(Some(SyncReport {
        cancel_amount_before: p.cancel_amount,
        cancel_amount_after: payment.cancel_amount,
        new_cancellations,
        status_after: payment.status.as_str().to_string(),
    }))
}
