//! 환불 내역 as CSV: every row of the filter, streamed from the database in one snapshot.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Asia::Seoul;
use futures::StreamExt;
use sqlx::PgPool;
use tokio::sync::{mpsc, Semaphore, SemaphorePermit};

use super::{kst_midnight, page_rows, Direction, Params};
use crate::model::admin::*;
use crate::model::ApiVersion;

/// One CSV cell: quoted when needed, and a leading `=`, `+`, `-`, `@` (or tab/CR) defused
/// with an apostrophe so spreadsheet programs do not run it as a formula.
pub fn csv_cell(value: &str) -> String {
    let mut cell = String::with_capacity(value.len() + 2);
    push_csv_cell(&mut cell, value);
    cell
}

fn push_csv_cell(out: &mut String, value: &str) {
    let quoted = value.contains([',', '"', '\n', '\r']);
    if quoted {
        out.push('"');
    }
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        out.push('\'');
    }
    if quoted {
        for (i, part) in value.split('"').enumerate() {
            if i > 0 {
                out.push_str("\"\"");
            }
            out.push_str(part);
        }
        out.push('"');
    } else {
        out.push_str(value);
    }
}

pub const CSV_HEADER: &str = "요청 일시(KST),주문번호,imp_uid,PortOne 버전,고객,고객 이메일,상품명,결제수단,요청 금액,과세 금액,면세 금액,부가세,상태,요청자,요청자 이름,사유,PortOne 메시지,영수증\r\n";

/// Appends one refund's CSV line, cell by cell, with no allocation of its own: the export
/// writes ten million of them.
fn push_csv_line(out: &mut String, r: &AdminRefundRow) {
    use std::fmt::Write;
    let kst = r.requested_at.with_timezone(&Seoul);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        kst.year(),
        kst.month(),
        kst.day(),
        kst.hour(),
        kst.minute(),
        kst.second()
    );
    let mut cell = |value: &str| {
        out.push(',');
        push_csv_cell(out, value);
    };
    cell(&r.merchant_uid);
    cell(&r.imp_uid);
    cell(r.api_version.label());
    cell(r.customer_name.as_deref().unwrap_or_default());
    cell(r.customer_email.as_deref().unwrap_or_default());
    cell(&r.order_name);
    cell(r.pay_method.label());
    let mut number = itoa::Buffer::new();
    cell(number.format(r.amount));
    // 과세 / 면세 / 부가세: empty when PortOne gave the payment no split
    match r.tax {
        Some(t) => {
            cell(number.format(t.supply_of(r.amount)));
            cell(number.format(t.tax_free));
            cell(number.format(t.vat));
        }
        None => {
            cell("");
            cell("");
            cell("");
        }
    }
    cell(r.status.label());
    cell(r.requester_role.label());
    cell(&r.requester_name);
    cell(&r.reason);
    cell(r.portone_message.as_deref().unwrap_or_default());
    cell(r.receipt_url.as_deref().unwrap_or_default());
    out.push_str("\r\n");
}

/// What the CSV export sends at a time: lines gathered to about this many bytes.
const CSV_CHUNK: usize = 64 * 1024;

/// Exports at once in one instance. Each reads with up to `CSV_READERS` connections for as
/// long as its download lasts (half a minute at ten million refunds), and every export
/// waiting for its second connection holds its first: a few at once would take the pool the
/// refunds need, enough of them would wait on each other until the pool's timeout.
pub const CSV_EXPORTS_AT_ONCE: usize = 2;

static EXPORTS: Semaphore = Semaphore::const_new(CSV_EXPORTS_AT_ONCE);

/// An export under way: its CSV in chunks, and its place among the exports at once, given
/// up when it is dropped (read to the end, or the download abandoned).
pub struct CsvExport {
    chunks: mpsc::Receiver<Result<String, std::io::Error>>,
    _place: SemaphorePermit<'static>,
}

impl CsvExport {
    /// The next chunk; `None` after the last.
    pub async fn recv(&mut self) -> Option<Result<String, std::io::Error>> {
        self.chunks.recv().await
    }
}

/// `CSV_EXPORTS_AT_ONCE` exports are under way already.
#[derive(Debug)]
pub struct ExportsBusy;

/// Streams the filter's rows as CSV (UTF-8 with a BOM first, so Excel reads Korean), row by
/// row from the database, in chunks of about 64 KB through a small bounded channel: memory
/// stays flat however many rows there are.
pub fn csv_stream(pool: PgPool, query: RefundQuery) -> Result<CsvExport, ExportsBusy> {
    csv_stream_in_slices(pool, query, CSV_SLICE_REFUNDS)
}

/// `csv_stream` with slices of about `per_slice` refunds: tests cut small ones.
pub fn csv_stream_in_slices(
    pool: PgPool,
    query: RefundQuery,
    per_slice: i64,
) -> Result<CsvExport, ExportsBusy> {
    let place = EXPORTS.try_acquire().map_err(|_| ExportsBusy)?;
    let (tx, chunks) = mpsc::channel(8);
    tokio::spawn(async move {
        if let Err(error) = write_csv(&pool, &query, per_slice, &tx).await {
            let _ = tx.send(Err(std::io::Error::other(error))).await;
        }
    });
    Ok(CsvExport { chunks, _place: place })
}

/// Refunds per slice of the CSV: each slice's rows are joined by hashing the payments and
/// users once and sorted in memory (`work_mem` below). One statement over ten million rows
/// spilled its sort to disk: 34 s in Postgres; slices of this size, 23 s.
const CSV_SLICE_REFUNDS: i64 = 200_000;

/// A slice of the CSV's time range: from (inclusive) until (exclusive), `None` open.
type TimeSlice = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The filter's time range in slices, from the kept counts per day of the refunds it
/// matches (`refund_total_rows`): an export of a rare status is one slice.
async fn csv_slices(
    db: &mut sqlx::PgConnection,
    p: &Params,
    per_slice: i64,
) -> Result<Vec<TimeSlice>, sqlx::Error> {
    let days = sqlx::query!(
        r#"select day as "day!: NaiveDate", sum(refunds)::bigint as "refunds!"
           from refund_total_rows
           where ($1::timestamptz is null or day >= ($1 at time zone 'Asia/Seoul')::date)
             and ($2::timestamptz is null or day < ($2 at time zone 'Asia/Seoul')::date)
             and ($3::text is null or status = $3)
             and ($4::text is null or pay_method = $4)
             and ($5::text is null or requester_role = $5)
             and ($6::text is null or api_version = $6)
           group by day
           order by day desc"#,
        p.from as _,
        p.until as _,
        p.status,
        p.pay_method,
        p.requester,
        p.version.map(ApiVersion::as_str)
    )
    .fetch_all(&mut *db)
    .await?;
    Ok(cut_slices(days.into_iter().map(|d| (d.day, d.refunds)), (p.from, p.until), per_slice))
}

/// `range` cut at KST midnights into slices of about `per_slice` refunds each (a day is never
/// split), newest first, from the refunds per day (newest first). Together the slices cover
/// the range exactly, each instant once.
fn cut_slices(
    days: impl Iterator<Item = (NaiveDate, i64)>,
    range: TimeSlice,
    per_slice: i64,
) -> Vec<TimeSlice> {
    let (from, mut until) = range;
    let mut slices = Vec::new();
    let mut refunds = 0;
    for (day, count) in days {
        refunds += count;
        if refunds >= per_slice {
            let cut = kst_midnight(day);
            if from.is_none_or(|f| cut > f) && until.is_none_or(|u| cut < u) {
                slices.push((Some(cut), until));
                until = Some(cut);
            }
            refunds = 0;
        }
    }
    slices.push((from, until));
    slices
}

/// Connections reading slices at once: while the export sends one slice, Postgres already
/// joins and sorts the next (a sort answers nothing until it is done).
const CSV_READERS: usize = 2;

/// What a reader hands on: a chunk of CSV lines, or the end of its current slice.
enum Piece {
    Lines(String),
    SliceEnd,
}

/// Sends the CSV to `tx` until the last row, or until nobody reads any more (not an error).
/// All of it is read in one snapshot, so a refund changing meanwhile is written once, as it
/// stood when the export began. Slices go round the readers; their chunks are sent in slice
/// order.
async fn write_csv(
    pool: &PgPool,
    query: &RefundQuery,
    per_slice: i64,
    tx: &mpsc::Sender<Result<String, std::io::Error>>,
) -> Result<(), sqlx::Error> {
    let p = Params::from_query(query);
    let mut first = reading_transaction(pool, &p, None).await?;
    // A search's few rows are read by key, as its page is: one slice.
    let slices = if p.q.is_some() {
        vec![(p.from, p.until)]
    } else {
        csv_slices(&mut first, &p, per_slice).await?
    };
    let readers = slices.len().min(CSV_READERS);
    let snapshot = if readers > 1 {
        Some(
            sqlx::query_scalar!(r#"select pg_export_snapshot() as "id!""#)
                .fetch_one(&mut *first)
                .await?,
        )
    } else {
        None
    };
    let mut transactions = vec![first];
    for _ in 1..readers {
        transactions.push(reading_transaction(pool, &p, snapshot.as_deref()).await?);
    }
    let mut pieces = Vec::with_capacity(readers);
    for (n, db) in transactions.into_iter().enumerate() {
        let (out, piece) = tokio::sync::mpsc::channel(4);
        let mine: Vec<TimeSlice> = slices.iter().skip(n).step_by(readers).copied().collect();
        tokio::spawn(read_slices(db, p.clone(), mine, out));
        pieces.push(piece);
    }

    let mut header = String::with_capacity(CSV_HEADER.len() + 3);
    header.push('\u{feff}');
    header.push_str(CSV_HEADER);
    if tx.send(Ok(header)).await.is_err() {
        return Ok(());
    }
    for slice in 0..slices.len() {
        let piece = &mut pieces[slice % readers];
        loop {
            match piece.recv().await {
                Some(Ok(Piece::Lines(lines))) => {
                    if tx.send(Ok(lines)).await.is_err() {
                        // dropping the receivers stops the readers
                        return Ok(());
                    }
                }
                Some(Ok(Piece::SliceEnd)) => break,
                Some(Err(error)) => return Err(error),
                None => return Err(sqlx::Error::WorkerCrashed),
            }
        }
    }
    Ok(())
}

/// A read-only transaction for the export, in `snapshot` when given (one exported by the
/// first reader's transaction).
async fn reading_transaction(
    pool: &PgPool,
    p: &Params,
    snapshot: Option<&str>,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let mut db = pool.begin().await?;
    sqlx::query!("set transaction isolation level repeatable read, read only")
        .execute(&mut *db)
        .await?;
    if let Some(id) = snapshot {
        // SET takes no parameters; the id is Postgres' own, from pg_export_snapshot()
        let id = id.replace('\'', "");
        sqlx::query(&format!("set transaction snapshot '{id}'")).execute(&mut *db).await?;
    }
    if p.q.is_none() {
        // Each slice is planned for its own range: after five, Postgres would reuse one plan
        // for any range (a scan of every refund per slice, 3.5 s instead of 0.8 s). The
        // statements are few and long: compiling them to machine code (JIT) saves nothing,
        // and a slice's sort fits in memory.
        sqlx::query!(
            "select set_config('plan_cache_mode', 'force_custom_plan', true) as plans,
                    set_config('enable_nestloop', 'off', true) as nestloop,
                    set_config('work_mem', '64MB', true) as work_mem,
                    set_config('jit', 'off', true) as jit"
        )
        .fetch_one(&mut *db)
        .await?;
    }
    Ok(db)
}

/// One reader: its slices' rows as CSV lines in chunks, each slice closed by `SliceEnd`.
/// Stops when nobody takes its pieces any more.
async fn read_slices(
    mut db: sqlx::Transaction<'static, sqlx::Postgres>,
    p: Params,
    slices: Vec<TimeSlice>,
    out: tokio::sync::mpsc::Sender<Result<Piece, sqlx::Error>>,
) {
    for (from, until) in slices {
        let slice = Params { from, until, ..p.clone() };
        let mut lines = String::with_capacity(CSV_CHUNK + 1024);
        let mut rows = page_rows(&mut *db, &slice, Direction::Older(None), None);
        while let Some(row) = rows.next().await {
            match row {
                Ok(row) => push_csv_line(&mut lines, &AdminRefundRow::from(row)),
                Err(error) => {
                    let _ = out.send(Err(error)).await;
                    return;
                }
            }
            if lines.len() >= CSV_CHUNK {
                let full = std::mem::replace(&mut lines, String::with_capacity(CSV_CHUNK + 1024));
                if out.send(Ok(Piece::Lines(full))).await.is_err() {
                    return;
                }
            }
        }
        drop(rows);
        if !lines.is_empty() && out.send(Ok(Piece::Lines(lines))).await.is_err() {
            return;
        }
        if out.send(Ok(Piece::SliceEnd)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: &str) -> NaiveDate {
        d.parse().unwrap()
    }

    #[test]
    fn slices_cover_the_range_once_newest_first_cut_at_kst_midnights() {
        let days = [
            ("2026-11-30", 5),
            ("2026-11-29", 3),
            ("2026-11-28", 4),
            ("2026-11-27", 9),
            ("2026-11-26", 1),
        ];
        let days = || days.iter().map(|(d, n)| (day(d), *n));
        let m = |d: &str| Some(kst_midnight(day(d)));
        // (range, refunds per slice, expected slices)
        let cases: Vec<(TimeSlice, i64, Vec<TimeSlice>)> = vec![
            // everything fits one slice
            ((None, None), 100, vec![(None, None)]),
            // 5+3 ≥ 8 cuts at the 29th, 4+9 at the 27th; the rest is the open end
            (
                (None, None),
                8,
                vec![
                    (m("2026-11-29"), None),
                    (m("2026-11-27"), m("2026-11-29")),
                    (None, m("2026-11-27")),
                ],
            ),
            // a day over the size is one slice of its own, never split
            (
                (None, None),
                1,
                vec![
                    (m("2026-11-30"), None),
                    (m("2026-11-29"), m("2026-11-30")),
                    (m("2026-11-28"), m("2026-11-29")),
                    (m("2026-11-27"), m("2026-11-28")),
                    (m("2026-11-26"), m("2026-11-27")),
                    (None, m("2026-11-26")),
                ],
            ),
            // a bounded range: no cut at or outside its ends
            (
                (m("2026-11-26"), m("2026-12-01")),
                1,
                vec![
                    (m("2026-11-30"), m("2026-12-01")),
                    (m("2026-11-29"), m("2026-11-30")),
                    (m("2026-11-28"), m("2026-11-29")),
                    (m("2026-11-27"), m("2026-11-28")),
                    (m("2026-11-26"), m("2026-11-27")),
                ],
            ),
            // no refunds at all
            ((m("2030-01-01"), m("2030-02-01")), 1, vec![(m("2030-01-01"), m("2030-02-01"))]),
        ];
        for (range, per_slice, expected) in cases {
            let days: Vec<_> = if range.0 == m("2030-01-01") { vec![] } else { days().collect() };
            let slices = cut_slices(days.into_iter(), range, per_slice);
            assert_eq!(slices, expected, "{range:?} by {per_slice}");
            // contiguous: each slice starts where the one before (newer) ends
            assert_eq!(slices.first().unwrap().1, range.1);
            assert_eq!(slices.last().unwrap().0, range.0);
            for pair in slices.windows(2) {
                assert_eq!(pair[0].0, pair[1].1);
            }
        }
    }
}
