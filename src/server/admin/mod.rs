//! The admin side: the refund list (filters, keyset pages, totals, daily chart, streamed CSV),
//! one order's timeline, and re-sync with PortOne. Callers check the admin role first.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Seoul;
use futures::TryStreamExt;
use sqlx::PgPool;
use uuid::Uuid;

use crate::model::admin::*;
use crate::model::{ApiVersion, PayMethod, RefundStatus, Role, TaxAmounts, TaxSplit};
use crate::server::error::ServerError;
use crate::server::gateway::Gateway;
use crate::server::refund::observe::{refresh, Refreshed};
use crate::server::refund_totals;

mod csv;
pub use csv::{
    csv_cell, csv_stream, csv_stream_in_slices, CsvExport, ExportsBusy, CSV_EXPORTS_AT_ONCE,
    CSV_HEADER,
};

/// The filter as SQL parameters.
#[derive(Debug, Default, Clone)]
struct Params {
    status: Option<String>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    pay_method: Option<String>,
    requester: Option<String>,
    q: Option<String>,
    version: Option<ApiVersion>,
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
            version: q.version.as_deref().and_then(ApiVersion::parse),
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
    pay_method: PayMethod,
    amount: i64,
    status: RefundStatus,
    requester_role: Role,
    requester_name: String,
    reason: String,
    portone_message: Option<String>,
    receipt_url: Option<String>,
    tax_free: Option<i64>,
    vat_amount: Option<i64>,
    amount_mismatch: bool,
    unassigned: bool,
    api_version: ApiVersion,
}

impl From<Row> for AdminRefundRow {
    fn from(r: Row) -> Self {
        AdminRefundRow {
            id: r.id,
            requested_at: r.created_at,
            merchant_uid: r.merchant_uid,
            imp_uid: r.imp_uid,
            customer_name: r.customer_name,
            customer_email: r.customer_email,
            order_name: r.order_name,
            pay_method: r.pay_method,
            amount: r.amount,
            status: r.status,
            requester_role: r.requester_role,
            requester_name: r.requester_name,
            reason: r.reason,
            portone_message: r.portone_message,
            receipt_url: r.receipt_url,
            tax: TaxAmounts::from_columns(r.tax_free, r.vat_amount),
            delayed_secs: None,
            amount_mismatch: r.amount_mismatch,
            api_version: r.api_version,
            unassigned: r.unassigned,
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

/// A keyset position in the filter's rows (`created_at`, `id`).
type Cursor = (DateTime<Utc>, Uuid);

/// A statement reading refunds as 환불 내역 lists them, `$from` the rest of it: the four
/// page statements below share the columns. Each is planned for its own values (a rare status
/// walks its index); one function inlined per statement keeps that planning short.
macro_rules! listed_refunds {
    ($from:literal, $($arg:expr),* $(,)?) => {
        sqlx::query_as!(
            Row,
            r#"select id as "id!", created_at as "created_at!: DateTime<Utc>", merchant_uid as "merchant_uid!",
                      imp_uid as "imp_uid!", customer_name, customer_email, order_name as "order_name!",
                      pay_method as "pay_method!: PayMethod", amount as "amount!", status as "status!: RefundStatus",
                      requester_role as "requester_role!: Role", requester_name as "requester_name!",
                      reason as "reason!", portone_message, receipt_url, tax_free, vat_amount,
                      amount_mismatch as "amount_mismatch!", unassigned as "unassigned!",
                      api_version as "api_version!: ApiVersion" "# + $from,
            $($arg),*
        )
    };
}

/// Which way a page goes from its cursor.
#[derive(Clone, Copy)]
enum Direction {
    /// rows newer than the cursor, oldest first (paging back)
    Newer(Cursor),
    /// rows older than the cursor, or from the newest without one, newest first
    Older(Option<Cursor>),
}

/// One page of the filter's rows (every row without `limit`). A search picks its page's keys
/// from the payments it names (`searched_refund_keys`, from an index alone) and reads only
/// those rows; anything else walks `filtered_refunds` in time order.
fn page_rows<'a>(
    pool: impl sqlx::PgExecutor<'a> + 'a,
    p: &'a Params,
    direction: Direction,
    limit: Option<i64>,
) -> futures::stream::BoxStream<'a, Result<Row, sqlx::Error>> {
    let version = p.version.map(ApiVersion::as_str);
    match (&p.q, direction) {
        (None, Direction::Newer((at, id))) => listed_refunds!(
            "from filtered_refunds($1, $2, $3, $4, $5, null, $6)
             where (created_at, id) > ($7, $8)
             order by created_at asc, id asc
             limit $9",
            p.status,
            p.from as _,
            p.until as _,
            p.pay_method,
            p.requester,
            version,
            at as _,
            id,
            limit
        )
        .fetch(pool),
        (None, Direction::Older(cursor)) => {
            let (at, id) = cursor.unzip();
            listed_refunds!(
                "from filtered_refunds($1, $2, $3, $4, $5, null, $6)
                 where ($7::timestamptz is null or (created_at, id) < ($7, $8))
                 order by created_at desc, id desc
                 limit $9",
                p.status,
                p.from as _,
                p.until as _,
                p.pay_method,
                p.requester,
                version,
                at as _,
                id,
                limit
            )
            .fetch(pool)
        }
        (Some(q), Direction::Newer((at, id))) => listed_refunds!(
            "from admin_refund_rows
             where id = any (array(
                 select id from searched_refund_keys($1, $2, $3, $4, $5, $6, $7)
                 where (created_at, id) > ($8, $9)
                 order by created_at asc, id asc
                 limit $10))
             order by created_at asc, id asc",
            q,
            p.status,
            p.from as _,
            p.until as _,
            p.pay_method,
            p.requester,
            version,
            at as _,
            id,
            limit
        )
        .fetch(pool),
        (Some(q), Direction::Older(cursor)) => {
            let (at, id) = cursor.unzip();
            listed_refunds!(
                "from admin_refund_rows
                 where id = any (array(
                     select id from searched_refund_keys($1, $2, $3, $4, $5, $6, $7)
                     where ($8::timestamptz is null or (created_at, id) < ($8, $9))
                     order by created_at desc, id desc
                     limit $10))
                 order by created_at desc, id desc",
                q,
                p.status,
                p.from as _,
                p.until as _,
                p.pay_method,
                p.requester,
                version,
                at as _,
                id,
                limit
            )
            .fetch(pool)
        }
    }
}

/// A page of 환불 내역 with the cursors of its neighbours.
#[derive(Debug)]
pub struct RefundList {
    pub rows: Vec<AdminRefundRow>,
    /// older rows exist: the cursor to them
    pub next: Option<String>,
    /// newer rows exist: the cursor to them
    pub prev: Option<String>,
}

/// Refunded won per KST day from `from` to `to`, every day present.
#[derive(Debug)]
pub struct DailyChart {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: Vec<DayTotal>,
}

/// One page of refunds, newest first, by keyset: `after` (older than) or `before` (newer than).
pub async fn list_refunds(pool: &PgPool, query: &RefundQuery) -> Result<RefundList, sqlx::Error> {
    let p = Params::from_query(query);
    let size = query.page_size();
    let before = query.before.as_deref().and_then(parse_cursor);
    let after = if before.is_some() { None } else { query.after.as_deref().and_then(parse_cursor) };
    // one extra row tells whether another page exists in that direction
    let limit = size + 1;
    let direction = match before {
        Some(cursor) => Direction::Newer(cursor),
        None => Direction::Older(after),
    };
    let mut rows: Vec<Row> = page_rows(pool, &p, direction, Some(limit)).try_collect().await?;
    let more = rows.len() as i64 > size;
    rows.truncate(size as usize);
    // paging back, the rows came oldest first
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
    Ok(RefundList { rows, next, prev })
}

/// Count and sum per status for the filter (ignoring the page position): from the kept sums,
/// or for a search from its rows.
pub async fn totals(pool: &PgPool, query: &RefundQuery) -> Result<Vec<StatusTotal>, sqlx::Error> {
    totals_from(pool, query, Source::Kept).await
}

/// Where totals and the chart are read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// the kept sums (`refund_totals`), or the rows where the sums cannot answer (a search)
    Kept,
    /// always the filter's rows: what the kept sums must equal
    Rows,
}

pub async fn totals_from(
    pool: &PgPool,
    query: &RefundQuery,
    source: Source,
) -> Result<Vec<StatusTotal>, sqlx::Error> {
    if source == Source::Kept {
        if let Some(totals) = refund_totals::status_totals(pool, query).await? {
            return Ok(totals);
        }
    }
    let p = Params::from_query(query);
    let rows = sqlx::query!(
        r#"select status as "status!: RefundStatus", count(*) as "count!", coalesce(sum(amount), 0)::bigint as "amount!"
           from matching_refunds($1, $2, $3, $4, $5, $6, $7)
           group by status
           order by status"#,
        p.status, p.from as _, p.until as _, p.pay_method, p.requester, p.q,
        p.version.map(ApiVersion::as_str)
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| StatusTotal { status: r.status, count: r.count, amount: r.amount })
        .collect())
}

/// Refunded won per KST day over the filter's range (default: the last 30 days), every day
/// present, zeros included.
pub async fn daily_refunded(pool: &PgPool, query: &RefundQuery) -> Result<DailyChart, sqlx::Error> {
    daily_refunded_from(pool, query, Source::Kept).await
}

pub async fn daily_refunded_from(
    pool: &PgPool,
    query: &RefundQuery,
    source: Source,
) -> Result<DailyChart, sqlx::Error> {
    let to = query.to_day().unwrap_or_else(kst_today);
    let from = query.from_day().filter(|f| *f <= to).unwrap_or(to - Duration::days(29));
    // at most a year of bars
    let from = from.max(to - Duration::days(365));
    let ranged = RefundQuery {
        from: Some(from.to_string()),
        to: Some(to.to_string()),
        ..query.without_cursor()
    };
    let kept = match source {
        Source::Kept => refund_totals::daily_refunded(pool, &ranged, from, to).await?,
        Source::Rows => None,
    };
    let rows = match kept {
        Some(rows) => rows,
        None => {
            let p = Params::from_query(&ranged);
            sqlx::query_as!(
                DayTotal,
                r#"select (created_at at time zone 'Asia/Seoul')::date as "day!: NaiveDate",
                          coalesce(sum(amount) filter (where status = 'succeeded'), 0)::bigint as "refunded!"
                   from matching_refunds($1, $2, $3, $4, $5, $6, $7)
                   group by 1
                   order by 1"#,
                p.status, p.from as _, p.until as _, p.pay_method, p.requester, p.q,
                p.version.map(ApiVersion::as_str)
            )
            .fetch_all(pool)
            .await?
        }
    };
    let by_day: std::collections::HashMap<NaiveDate, i64> =
        rows.into_iter().map(|r| (r.day, r.refunded)).collect();
    let mut days = Vec::new();
    let mut d = from;
    while d <= to {
        let refunded = by_day.get(&d).copied().unwrap_or(0);
        days.push(DayTotal { day: d, refunded });
        d += Duration::days(1);
    }
    Ok(DailyChart { from, to, days })
}

/// The whole 환불 내역 page. Its four reads are independent and go out together, each on a
/// connection of its own: the page waits for the slowest, not for their sum.
pub async fn refund_page(
    pool: &PgPool,
    query: &RefundQuery,
    alert_after: std::time::Duration,
) -> Result<RefundPage, sqlx::Error> {
    let waiting =
        sqlx::query_scalar!(r#"select count(*) as "n!" from refunds where status = 'requested'"#)
            .fetch_one(pool);
    let (RefundList { mut rows, next, prev }, totals, chart, waiting_requests) = futures::try_join!(
        list_refunds(pool, query),
        totals(pool, query),
        daily_refunded(pool, query),
        waiting
    )?;
    let now = Utc::now();
    for row in &mut rows {
        row.delayed_secs = delay(row.status, row.requested_at, now, alert_after);
    }
    let DailyChart { from: chart_from, to: chart_to, days: chart } = chart;
    Ok(RefundPage { rows, next, prev, totals, chart, chart_from, chart_to, waiting_requests })
}

/// One order: payment facts, PortOne's cancel history (ours or made outside), and every
/// refund attempt with its audit events in time order.
pub async fn timeline(
    pool: &PgPool,
    merchant_uid: &str,
    alert_after: std::time::Duration,
) -> Result<Option<PaymentTimeline>, sqlx::Error> {
    let Some(p) = sqlx::query!(
        r#"select p.id, p.merchant_uid, p.imp_uid, p.order_name, p.pay_method as "pay_method: PayMethod", p.pg_provider, p.status, p.amount,
                  p.cancel_amount, p.buyer_name, p.buyer_email, u.display_name as "customer_name?",
                  p.paid_at as "paid_at: DateTime<Utc>", p.synced_at as "synced_at: DateTime<Utc>",
                  p.tax_free_amount, p.vat_amount, p.tax_free_remaining, p.vat_remaining,
                  p.registered_amount, p.customer_id is null as "unassigned!",
                  p.api_version as "api_version: ApiVersion"
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
        r#"select r.id, r.amount, r.checksum, r.status as "status: RefundStatus", r.reason, r.requester_role as "requester_role: Role", u.display_name as requester_name,
                  r.attempts, r.portone_code, r.portone_message, r.created_at as "created_at: DateTime<Utc>",
                  r.tax_free, r.vat_amount, r.decision_note
           from refunds r join users u on u.id = r.requester_id
           where r.payment_id = $1 order by r.created_at, r.id"#,
        p.id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| TimelineRefund {
        delayed_secs: delay(r.status, r.created_at, Utc::now(), alert_after),
        events: events
            .iter()
            .filter(|e| e.refund_id == r.id)
            .map(|e| TimelineEvent { at: e.at, kind: e.kind.clone(), actor: e.actor.clone(), detail: e.detail.clone() })
            .collect(),
        id: r.id,
        amount: r.amount,
        checksum: r.checksum,
        status: r.status,
        reason: r.reason,
        requester_role: r.requester_role,
        requester_name: r.requester_name,
        attempts: r.attempts,
        portone_code: r.portone_code,
        portone_message: r.portone_message,
        created_at: r.created_at,
        tax: TaxAmounts::from_columns(r.tax_free, r.vat_amount),
        decision_note: r.decision_note,
    })
    .collect();
    Ok(Some(PaymentTimeline {
        merchant_uid: p.merchant_uid,
        imp_uid: p.imp_uid,
        api_version: p.api_version,
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
        tax: TaxSplit::from_columns(
            [p.tax_free_amount, p.vat_amount],
            [p.tax_free_remaining, p.vat_remaining],
        ),
        registered_amount: p.registered_amount,
        unassigned: p.unassigned,
    }))
}

/// PortOne과 동기화: re-reads the payment from PortOne and stores what changed.
pub async fn sync_now(
    pool: &PgPool,
    portone: &Gateway,
    merchant_uid: &str,
    actor: &str,
) -> Result<Option<SyncReport>, ServerError> {
    let Some(p) = sqlx::query!(
        "select id, cancel_amount from payments where merchant_uid = $1",
        merchant_uid
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(None);
    };
    let Refreshed { payment, new_entries: new_cancellations } =
        refresh(pool, portone, p.id, &crate::server::payments::payment_ref(pool, p.id).await?)
            .await?;
    let detail = serde_json::json!({"new_cancellations": new_cancellations, "cancel_amount": payment.cancel_amount});
    crate::server::refund::audit(pool, None, Some(p.id), AuditKind::Synced, actor, detail).await?;
    Ok(Some(SyncReport {
        cancel_amount_before: p.cancel_amount,
        cancel_amount_after: payment.cancel_amount,
        new_cancellations,
        status_after: payment.status.as_str().to_string(),
    }))
}
