//! What the admin pages show. The filter lives in the URL query, so it is a plain struct of
//! optional strings that both the page links and the CSV export read and write.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use super::RefundStatus;

/// The 환불 내역 filter, exactly as it appears in the URL query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundQuery {
    /// a `RefundStatus` in its stored form: requested | pending | succeeded | failed |
    /// needs_review | withdrawn | rejected
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// first KST day, YYYY-MM-DD
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// last KST day, inclusive
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_method: Option<String>,
    /// customer | admin | shop
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<String>,
    /// merchant_uid, imp_uid, customer e-mail or name
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// v1 | v2: the PortOne API of the refund's payment
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// keyset cursor: the last row of the previous page (`<unix micros>_<uuid>`)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// keyset cursor: the first row of the next page, for going back
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
}

pub const PAGE_SIZES: [i64; 4] = [20, 50, 100, 200];

impl RefundQuery {
    /// Empty strings (a form's untouched fields) mean "no filter".
    pub fn normalized(mut self) -> Self {
        for field in [
            &mut self.status,
            &mut self.from,
            &mut self.to,
            &mut self.pay_method,
            &mut self.requester,
            &mut self.q,
            &mut self.version,
            &mut self.size,
            &mut self.after,
            &mut self.before,
        ] {
            if field.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *field = None;
            } else if let Some(v) = field.as_mut() {
                *v = v.trim().to_string();
            }
        }
        self
    }

    pub fn page_size(&self) -> i64 {
        self.size
            .as_deref()
            .and_then(|s| s.parse().ok())
            .filter(|s| PAGE_SIZES.contains(s))
            .unwrap_or(50)
    }

    pub fn from_day(&self) -> Option<NaiveDate> {
        self.from.as_deref().and_then(filter_day)
    }

    pub fn to_day(&self) -> Option<NaiveDate> {
        self.to.as_deref().and_then(filter_day)
    }

    /// The same filter without a page position (for totals, the chart, the CSV, page 1).
    pub fn without_cursor(&self) -> Self {
        RefundQuery { after: None, before: None, ..self.clone() }
    }

    /// The URL query string for this filter.
    pub fn to_query_string(&self) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("status", &self.status),
            ("from", &self.from),
            ("to", &self.to),
            ("pay_method", &self.pay_method),
            ("requester", &self.requester),
            ("q", &self.q),
            ("version", &self.version),
            ("size", &self.size),
            ("after", &self.after),
            ("before", &self.before),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect();
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", super::percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// A filter day, `YYYY-MM-DD`, within years any refund can have (2000–2100); anything else
/// (typos, or a year like +262143 whose next midnight does not exist) is no filter at all.
fn filter_day(s: &str) -> Option<NaiveDate> {
    use chrono::Datelike;
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2100).contains(&d.year()))
}

/// A keyset position: (requested at, refund id), the list's order.
pub fn cursor(at: DateTime<Utc>, id: &uuid::Uuid) -> String {
    format!("{}_{}", at.timestamp_micros(), id)
}

pub fn parse_cursor(s: &str) -> Option<(DateTime<Utc>, uuid::Uuid)> {
    let (micros, id) = s.split_once('_')?;
    Some((DateTime::from_timestamp_micros(micros.parse().ok()?)?, uuid::Uuid::parse_str(id).ok()?))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminRefundRow {
    pub id: uuid::Uuid,
    pub requested_at: DateTime<Utc>,
    pub merchant_uid: String,
    pub imp_uid: String,
    pub customer_name: Option<String>,
    pub customer_email: Option<String>,
    pub order_name: String,
    pub pay_method: crate::model::PayMethod,
    pub amount: i64,
    pub status: RefundStatus,
    pub requester_role: crate::model::Role,
    pub requester_name: String,
    pub reason: String,
    pub portone_message: Option<String>,
    pub receipt_url: Option<String>,
    /// the tax-free part and VAT the refund sent
    pub tax: Option<super::TaxAmounts>,
    /// Seconds pending, when longer than the alert age (shown as 지연).
    pub delayed_secs: Option<i64>,
    /// the paid amount is not what the shop registered (금액 불일치)
    pub amount_mismatch: bool,
    /// the PortOne API of the refund's payment
    pub api_version: crate::model::ApiVersion,
    /// no order registration names the payment (주문 미등록)
    pub unassigned: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusTotal {
    pub status: RefundStatus,
    pub count: i64,
    pub amount: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayTotal {
    pub day: NaiveDate,
    /// refunded won (succeeded refunds) that KST day
    pub refunded: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefundPage {
    pub rows: Vec<AdminRefundRow>,
    pub next: Option<String>,
    pub prev: Option<String>,
    pub totals: Vec<StatusTotal>,
    pub chart: Vec<DayTotal>,
    pub chart_from: NaiveDate,
    pub chart_to: NaiveDate,
    /// 승인 대기: refund requests waiting for an admin, whatever the filter
    pub waiting_requests: i64,
}

/// How long something has waited, the Korean way: `45초`, `12분`, `3시간 5분`, `2일 4시간`.
pub fn format_age(secs: i64) -> String {
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs}초"),
        (0, 0, m) => format!("{m}분"),
        (0, h, 0) => format!("{h}시간"),
        (0, h, m) => format!("{h}시간 {m}분"),
        (d, 0, _) => format!("{d}일"),
        (d, h, _) => format!("{d}일 {h}시간"),
    }
}

/// One order's whole story, for the admin timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaymentTimeline {
    pub merchant_uid: String,
    pub imp_uid: String,
    pub api_version: crate::model::ApiVersion,
    pub order_name: String,
    pub pay_method: crate::model::PayMethod,
    pub pg_provider: String,
    pub status: String,
    pub amount: i64,
    pub cancel_amount: i64,
    pub buyer_name: Option<String>,
    pub buyer_email: Option<String>,
    pub customer_name: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub synced_at: Option<DateTime<Utc>>,
    pub cancellations: Vec<TimelineCancellation>,
    pub refunds: Vec<TimelineRefund>,
    /// 과세 / 면세 / 부가세 at payment and what remains, when PortOne's balance gave them
    pub tax: Option<super::TaxSplit>,
    /// the amount the shop registered for the order; `None` when it did not register it
    pub registered_amount: Option<i64>,
    /// no customer owns the payment (주문 미등록): an admin may assign it
    pub unassigned: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineCancellation {
    pub amount: i64,
    pub cancelled_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub pg_tid: Option<String>,
    pub cancellation_id: Option<String>,
    pub receipt_url: Option<String>,
    /// Our refund that caused it; `None` = made outside this service (PortOne console).
    pub refund_id: Option<uuid::Uuid>,
    /// How the entry is named when an admin links it to a refund under review.
    pub entry_key: String,
    /// the tax-free part and VAT our refund sent
    pub tax: Option<super::TaxAmounts>,
    /// V2: requested (no money moved yet), succeeded or failed; V1's are all succeeded
    pub state: crate::model::CancellationState,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineRefund {
    pub id: uuid::Uuid,
    pub amount: i64,
    pub checksum: i64,
    pub status: RefundStatus,
    pub reason: String,
    pub requester_role: crate::model::Role,
    pub requester_name: String,
    pub attempts: i32,
    pub portone_code: Option<i32>,
    pub portone_message: Option<String>,
    pub created_at: DateTime<Utc>,
    /// the tax-free part and VAT the refund sent
    pub tax: Option<super::TaxAmounts>,
    /// why an admin rejected the request
    pub decision_note: Option<String>,
    /// Seconds pending, when longer than the alert age (shown as 지연).
    pub delayed_secs: Option<i64>,
    pub events: Vec<TimelineEvent>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub actor: String,
    pub detail: String,
}

impl TimelineEvent {
    /// What the timeline calls the event; a kind it does not know is shown as stored.
    pub fn label(&self) -> &str {
        AuditKind::parse(&self.kind).and_then(AuditKind::label).unwrap_or(&self.kind)
    }
}

/// Declares `AuditKind` from one list of variants and their stored names.
macro_rules! audit_kinds {
    ($($variant:ident => $name:literal,)*) => {
        /// What an audit event records (`refund_events.kind`): each kind written once, by name.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum AuditKind {
            $($variant,)*
        }

        impl AuditKind {
            pub const ALL: &'static [AuditKind] = &[$(AuditKind::$variant,)*];

            /// The stored name. `requested`, `reserved` and `succeeded` are also written by the
            /// database's own functions
            /// (`migrations/20261201000006_reserve_in_one_round_trip.sql`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(AuditKind::$variant => $name,)*
                }
            }
        }
    };
}

audit_kinds! {
    Requested => "requested",
    Reserved => "reserved",
    Accepted => "accepted",
    Approved => "approved",
    ApprovalRefused => "approval_refused",
    Rejected => "rejected",
    Withdrawn => "withdrawn",
    Resent => "resent",
    OutcomeUnknown => "outcome_unknown",
    Succeeded => "succeeded",
    Failed => "failed",
    NeedsReview => "needs_review",
    DuplicateSuspected => "duplicate_suspected",
    ReviewSucceeded => "review_succeeded",
    ReviewFailed => "review_failed",
    Synced => "synced",
    PolicyChanged => "policy_changed",
    AdminInvited => "admin_invited",
    AdminEnrolled => "admin_enrolled",
    AdminRevoked => "admin_revoked",
    ApiKeyCreated => "api_key_created",
    ApiKeyRevoked => "api_key_revoked",
    ApiRefundsRead => "api_refunds_read",
    OrderRegistered => "order_registered",
    OrderAssigned => "order_assigned",
}

impl AuditKind {
    pub fn parse(name: &str) -> Option<AuditKind> {
        AuditKind::ALL.iter().copied().find(|kind| kind.as_str() == name)
    }

    /// What a refund's timeline calls it; `None` for the kinds it shows by their name.
    pub fn label(self) -> Option<&'static str> {
        use AuditKind::*;
        Some(match self {
            Requested => "환불 요청",
            Reserved => "환불 접수",
            Approved => "승인",
            Rejected => "거절",
            Withdrawn => "요청 철회",
            Resent => "재전송",
            OutcomeUnknown => "응답 없음",
            Succeeded => "환불 완료",
            Failed => "환불 실패",
            NeedsReview => "검토 필요",
            DuplicateSuspected => "중복 환불 의심",
            ReviewSucceeded => "검토: 환불됨",
            ReviewFailed => "검토: 환불 안 됨",
            _ => return None,
        })
    }
}

/// What a re-sync with PortOne changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncReport {
    pub cancel_amount_before: i64,
    pub cancel_amount_after: i64,
    pub new_cancellations: u64,
    pub status_after: String,
}

impl SyncReport {
    /// What the timeline's address carries after a re-sync from a plain form.
    pub fn to_query(&self) -> String {
        format!(
            "synced={}.{}.{}",
            self.new_cancellations, self.cancel_amount_before, self.cancel_amount_after
        )
    }

    /// The sentence 환불 내역 shows for `synced=…` (`None` for anything else).
    pub fn sentence_from_query(synced: &str) -> Option<String> {
        let mut parts = synced.split('.').map(str::parse::<i64>);
        let (Some(Ok(new)), Some(Ok(before)), Some(Ok(after)), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        Some(if new == 0 && before == after {
            "동기화했습니다. 변경 사항이 없습니다.".to_string()
        } else {
            format!(
                "동기화했습니다. 새 취소 {new}건, 환불된 금액 {} → {}.",
                super::format_won(before),
                super::format_won(after)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{format_age, AuditKind, TimelineEvent};

    #[test]
    fn audit_kinds_read_back_by_name_and_unknown_ones_show_as_stored() {
        for kind in AuditKind::ALL {
            assert_eq!(AuditKind::parse(kind.as_str()), Some(*kind));
        }
        let event = |kind: &str| TimelineEvent {
            at: chrono::Utc::now(),
            kind: kind.into(),
            actor: "system".into(),
            detail: String::new(),
        };
        assert_eq!(event("duplicate_suspected").label(), "중복 환불 의심");
        assert_eq!(event("synced").label(), "synced");
        assert_eq!(event("from_a_later_version").label(), "from_a_later_version");
    }

    #[test]
    fn extreme_or_malformed_filter_days_are_no_filter() {
        let q = |from: &str| {
            super::RefundQuery { from: Some(from.into()), ..Default::default() }.from_day()
        };
        assert!(q("2026-11-26").is_some());
        for bad in [
            "+262143-12-31",
            "262142-12-31",
            "-0001-01-01",
            "1999-12-31",
            "2026-13-01",
            "2026-11-26T00:00",
            "",
        ] {
            assert_eq!(q(bad), None, "{bad}");
        }
    }

    #[test]
    fn ages_read_naturally() {
        for (secs, text) in [
            (45, "45초"),
            (720, "12분"),
            (3600, "1시간"),
            (11_100, "3시간 5분"),
            (86_400, "1일"),
            (187_200, "2일 4시간"),
        ] {
            assert_eq!(format_age(secs), text);
        }
    }
}
