//! Types and formatting shared by the server and the browser.

pub mod admin;
pub mod shop;
#[cfg(feature = "ssr")]
mod sql;

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Seoul;
use serde::{Deserialize, Serialize};

/// Formats won the Korean way: `12,000원`.
pub fn format_won(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 2);
    if amount < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out.push('원');
    out
}

/// Percent-encodes everything but RFC 3986's unreserved characters (URL paths and queries).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A `merchant_uid` as PortOne accepts it (at most 40 characters, no control characters, no
/// surrounding spaces). Anything else is refused before it reaches a query, a log or the audit.
pub fn valid_merchant_uid(s: &str) -> bool {
    (1..=40).contains(&s.chars().count()) && s.trim() == s && !s.chars().any(char::is_control)
}

/// An `imp_uid` as PortOne issues it: at most 32 ASCII letters, digits, `_` or `-`.
pub fn valid_imp_uid(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A link we may render from data that came from PortOne or a database: only `https://` and
/// `http://` URLs, never `javascript:` or `data:`.
pub fn safe_link(url: &str) -> Option<String> {
    let url = url.trim();
    let scheme_ok = ["https://", "http://"]
        .iter()
        .any(|s| url.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s)));
    scheme_ok.then(|| url.to_string())
}

/// Formats an instant in Korea Standard Time: `2026-11-25 14:03`.
pub fn format_kst(at: DateTime<Utc>) -> String {
    at.with_timezone(&Seoul).format("%Y-%m-%d %H:%M").to_string()
}

/// Formats an instant in KST with seconds, for audit trails and results.
pub fn format_kst_seconds(at: DateTime<Utc>) -> String {
    at.with_timezone(&Seoul).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The PortOne API a payment was made through, and so the one its refunds go through.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiVersion {
    /// the legacy API (`imp_uid`, `checksum`; no idempotency)
    #[default]
    V1,
    /// the current API (`paymentId`, `Idempotency-Key`, asynchronous cancellations)
    V2,
}

impl ApiVersion {
    pub const ALL: [ApiVersion; 2] = [ApiVersion::V1, ApiVersion::V2];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V2 => "v2",
        }
    }

    pub fn parse(s: &str) -> Option<ApiVersion> {
        ApiVersion::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// How the pages name it.
    pub fn label(self) -> &'static str {
        match self {
            ApiVersion::V1 => "PortOne V1",
            ApiVersion::V2 => "PortOne V2",
        }
    }
}

/// Where one of PortOne's cancellations of a payment stands. V1 records only applied ones;
/// V2 also tells of one its PG accepted and has yet to apply, and of one that failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancellationState {
    /// accepted, no money moved yet (환불 접수됨)
    Requested,
    #[default]
    Succeeded,
    Failed,
}

impl CancellationState {
    pub const ALL: [CancellationState; 3] =
        [CancellationState::Requested, CancellationState::Succeeded, CancellationState::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            CancellationState::Requested => "requested",
            CancellationState::Succeeded => "succeeded",
            CancellationState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<CancellationState> {
        CancellationState::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            CancellationState::Requested => "환불 접수됨",
            CancellationState::Succeeded => "환불 완료",
            CancellationState::Failed => "환불 실패",
        }
    }
}

/// A PortOne `pay_method`. The refund rules treat the first four differently; PortOne has
/// more methods than these and adds new ones, so any other is kept as sent.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum PayMethod {
    Card,
    /// 실시간 계좌이체
    Trans,
    /// 가상계좌: refunded to a bank account the customer gives.
    Vbank,
    /// 휴대폰 소액결제: only within the month, partial only on some PGs.
    Phone,
    Other(String),
}

impl PayMethod {
    /// The methods 환불 내역 filters by.
    pub const FILTERABLE: [PayMethod; 4] =
        [PayMethod::Card, PayMethod::Trans, PayMethod::Vbank, PayMethod::Phone];

    pub fn as_str(&self) -> &str {
        match self {
            PayMethod::Card => "card",
            PayMethod::Trans => "trans",
            PayMethod::Vbank => "vbank",
            PayMethod::Phone => "phone",
            PayMethod::Other(other) => other,
        }
    }

    /// The Korean name; a method we have no name for is shown as PortOne sent it.
    pub fn label(&self) -> &str {
        match self.as_str() {
            "card" => "신용카드",
            "trans" => "실시간 계좌이체",
            "vbank" => "가상계좌",
            "phone" => "휴대폰 소액결제",
            "kakaopay" => "카카오페이",
            "naverpay" => "네이버페이",
            "tosspay" => "토스페이",
            "payco" => "페이코",
            other => other,
        }
    }
}

impl From<&str> for PayMethod {
    fn from(s: &str) -> Self {
        match s {
            "card" => PayMethod::Card,
            "trans" => PayMethod::Trans,
            "vbank" => PayMethod::Vbank,
            "phone" => PayMethod::Phone,
            other => PayMethod::Other(other.to_string()),
        }
    }
}

impl From<String> for PayMethod {
    fn from(s: String) -> Self {
        PayMethod::from(s.as_str())
    }
}

impl From<PayMethod> for String {
    fn from(m: PayMethod) -> Self {
        m.as_str().to_string()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Admin,
    /// The shop's server, through an API key (it never signs in).
    Shop,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Admin => "admin",
            Role::Shop => "shop",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "customer" => Some(Role::Customer),
            "admin" => Some(Role::Admin),
            "shop" => Some(Role::Shop),
            _ => None,
        }
    }

    /// The admin pages' word for who asked for a refund.
    pub fn label(self) -> &'static str {
        match self {
            Role::Customer => "고객",
            Role::Admin => "관리자",
            Role::Shop => "쇼핑몰",
        }
    }
}

/// The signed-in user, as the session knows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Admins and the shop's server act on every order; a customer only on their own.
    pub fn sees_every_order(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Shop)
    }
}

/// Where an order stands, as a customer would say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderState {
    Paid,
    PartlyRefunded,
    FullyRefunded,
    RefundInProgress,
    /// a 환불 요청 waits for the shop's review
    RefundRequested,
    Other,
}

impl OrderState {
    /// `waiting`: a refund in flight at PortOne, and a request waiting for review.
    pub fn derive(status: &str, amount: i64, cancel_amount: i64, waiting: (bool, bool)) -> Self {
        let (refund_pending, request_waiting) = waiting;
        if refund_pending {
            OrderState::RefundInProgress
        } else if request_waiting {
            OrderState::RefundRequested
        } else if status != "paid" && status != "cancelled" {
            OrderState::Other
        } else if cancel_amount <= 0 {
            OrderState::Paid
        } else if cancel_amount < amount {
            OrderState::PartlyRefunded
        } else {
            OrderState::FullyRefunded
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OrderState::Paid => "결제완료",
            OrderState::PartlyRefunded => "부분환불",
            OrderState::FullyRefunded => "환불완료",
            OrderState::RefundInProgress => "환불 처리 중",
            OrderState::RefundRequested => "환불 검토 중",
            OrderState::Other => "결제 미완료",
        }
    }

    pub fn css_class(self) -> &'static str {
        match self {
            OrderState::Paid => "badge badge-paid",
            OrderState::PartlyRefunded => "badge badge-partial",
            OrderState::FullyRefunded => "badge badge-refunded",
            OrderState::RefundInProgress | OrderState::RefundRequested => "badge badge-pending",
            OrderState::Other => "badge",
        }
    }
}

/// One row of 내 주문.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub merchant_uid: String,
    pub order_name: String,
    pub pay_method: PayMethod,
    pub paid_at: Option<DateTime<Utc>>,
    pub amount: i64,
    pub cancel_amount: i64,
    pub state: OrderState,
}

impl OrderSummary {
    pub fn refundable(&self) -> i64 {
        (self.amount - self.cancel_amount).max(0)
    }
}

/// One entry of an order's refund history, as the customer sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefundLine {
    pub amount: i64,
    pub at: DateTime<Utc>,
    pub reason: Option<String>,
    pub receipt_url: Option<String>,
    /// "made outside this service" (PortOne console) vs. one of our refunds
    pub via_console: bool,
    /// the tax-free part and VAT our refund sent, when the payment's were known
    pub tax: Option<TaxAmounts>,
    /// a V2 cancellation may be accepted and not yet applied (환불 접수됨), or have failed
    pub state: CancellationState,
}

/// A tax-free part (면세) and a VAT (부가세) amount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxAmounts {
    pub tax_free: i64,
    pub vat: i64,
}

impl TaxAmounts {
    /// From two nullable columns: known only when both are.
    pub fn from_columns(tax_free: Option<i64>, vat: Option<i64>) -> Option<TaxAmounts> {
        tax_free.zip(vat).map(|(tax_free, vat)| TaxAmounts { tax_free, vat })
    }

    /// The taxable supply value (과세 공급가액) of `total`: what is neither tax-free nor VAT.
    pub fn supply_of(&self, total: i64) -> i64 {
        total - self.tax_free - self.vat
    }

    /// `과세 9,091원 · 면세 6,000원 · 부가세 909원` for `total` won.
    pub fn describe(&self, total: i64) -> String {
        format!(
            "과세 {} · 면세 {} · 부가세 {}",
            format_won(self.supply_of(total)),
            format_won(self.tax_free),
            format_won(self.vat)
        )
    }
}

/// A payment's split as PortOne keeps it: at payment time and what remains now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxSplit {
    pub paid: TaxAmounts,
    pub left: TaxAmounts,
}

impl TaxSplit {
    /// From a payment's four nullable columns (`tax_free_amount`, `vat_amount`,
    /// `tax_free_remaining`, `vat_remaining`).
    pub fn from_columns(paid: [Option<i64>; 2], left: [Option<i64>; 2]) -> Option<TaxSplit> {
        TaxAmounts::from_columns(paid[0], paid[1])
            .zip(TaxAmounts::from_columns(left[0], left[1]))
            .map(|(paid, left)| TaxSplit { paid, left })
    }
}

/// The order detail page's data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderDetail {
    pub summary: OrderSummary,
    pub imp_uid: String,
    /// the PortOne API the payment was made through (and is refunded through)
    pub api_version: ApiVersion,
    pub pg_provider: String,
    pub buyer_name: Option<String>,
    pub receipt_url: Option<String>,
    pub refunds: Vec<RefundLine>,
    /// Why no refund can be requested now; `None` when the form is offered.
    pub not_refundable_reason: Option<String>,
    /// Banks the refund may be sent to, for this payment's PG: (code, name); empty when the
    /// refund goes back the way it was paid (no account asked for).
    pub refund_banks: Vec<(String, String)>,
    /// The PG needs the account holder's phone (예금주 연락처) with the account.
    pub refund_tel_required: bool,
    /// Whether a partial amount may be requested (phone payments allow it only on some PGs).
    pub partial_allowed: bool,
    /// A fresh idempotency key for the refund form, rendered on the server.
    pub idempotency_key: uuid::Uuid,
    /// The latest refund request's outcome, shown after a refund without JavaScript.
    pub last_refund: Option<RefundOutcome>,
    /// What waiting refund requests (환불 요청) hold of the refundable amount.
    pub held: i64,
    /// 과세 / 면세 / 부가세, when PortOne's balance gave them.
    pub tax: Option<TaxSplit>,
    /// The viewer may name a refund's tax-free part and VAT (an admin, on a payment with a split).
    pub tax_fields: bool,
}

/// Where a refund stands in our ledger (the database's check constraint allows exactly these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// 환불 요청: beyond the shop's approval policy, waiting for an admin; nothing sent yet.
    Requested,
    Pending,
    Succeeded,
    Failed,
    /// PortOne's history neither proves nor rules out the cancel: an admin decides.
    NeedsReview,
    /// The customer took the request back before an admin decided.
    Withdrawn,
    /// An admin turned the request down (with a reason the customer sees).
    Rejected,
}

impl RefundStatus {
    pub const ALL: [RefundStatus; 7] = [
        RefundStatus::Requested,
        RefundStatus::Pending,
        RefundStatus::NeedsReview,
        RefundStatus::Succeeded,
        RefundStatus::Failed,
        RefundStatus::Rejected,
        RefundStatus::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Requested => "requested",
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
            RefundStatus::NeedsReview => "needs_review",
            RefundStatus::Withdrawn => "withdrawn",
            RefundStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<RefundStatus> {
        RefundStatus::ALL.into_iter().find(|status| status.as_str() == s)
    }

    /// The admin pages' word for it.
    pub fn label(self) -> &'static str {
        match self {
            RefundStatus::Requested => "승인 대기",
            RefundStatus::Pending => "대기",
            RefundStatus::Succeeded => "성공",
            RefundStatus::Failed => "실패",
            RefundStatus::NeedsReview => "검토 필요",
            RefundStatus::Withdrawn => "요청 철회",
            RefundStatus::Rejected => "요청 거절",
        }
    }
}

/// 환불 정책 as the settings page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefundPolicyView {
    /// refunds up to this many won go straight to PortOne; `None`: any amount
    pub auto_max_amount: Option<i64>,
    /// ... when requested within this many days of payment; `None`: any time
    pub auto_within_days: Option<i32>,
    /// the policy in one line (`50,000원 이하 · 결제 후 7일 이내`)
    pub summary: String,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<String>,
    /// recent changes, newest first
    pub changes: Vec<PolicyChange>,
}

/// One change of 환불 정책, from the audit trail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyChange {
    pub at: DateTime<Utc>,
    pub actor: String,
    /// the policy it set, in one line
    pub after: String,
}

/// What a customer is told when a refund waits for the shop's review (page and JSON alike).
pub const REQUESTED_EXPLANATION: &str = "환불 요청이 접수되었습니다 — 검토 후 처리됩니다";

/// What a customer is told while PortOne's answer is unknown (page and JSON endpoint alike).
/// What a refund PortOne accepted and its PG has yet to apply says (환불 접수됨).
pub const ACCEPTED_EXPLANATION: &str = "환불 접수됨: 결제대행사가 환불을 접수해 처리하고 있습니다. 반영되면 환불 완료로 바뀝니다. 다시 신청하지 않으셔도 됩니다.";

pub const PENDING_EXPLANATION: &str = "환불 처리 중입니다. 결제대행사(PortOne)의 응답을 확인하고 있으며, 결과가 확정되면 이 주문에 표시됩니다. 같은 환불이 두 번 처리되지는 않으니 다시 신청하지 않으셔도 됩니다.";

/// What happened to a refund request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum RefundOutcomeStatus {
    Succeeded,
    Failed,
    Pending,
    /// 환불 요청: waiting for the shop's review
    Requested,
    Withdrawn,
    Rejected,
}

impl RefundOutcomeStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            RefundOutcomeStatus::Succeeded => "succeeded",
            RefundOutcomeStatus::Failed => "failed",
            RefundOutcomeStatus::Pending => "pending",
            RefundOutcomeStatus::Requested => "requested",
            RefundOutcomeStatus::Withdrawn => "withdrawn",
            RefundOutcomeStatus::Rejected => "rejected",
        }
    }
}

/// How the customer sees a stored status: a refund an admin must look at is still 처리 중.
impl From<RefundStatus> for RefundOutcomeStatus {
    fn from(status: RefundStatus) -> Self {
        match status {
            RefundStatus::Succeeded => RefundOutcomeStatus::Succeeded,
            RefundStatus::Failed => RefundOutcomeStatus::Failed,
            RefundStatus::Pending | RefundStatus::NeedsReview => RefundOutcomeStatus::Pending,
            RefundStatus::Requested => RefundOutcomeStatus::Requested,
            RefundStatus::Withdrawn => RefundOutcomeStatus::Withdrawn,
            RefundStatus::Rejected => RefundOutcomeStatus::Rejected,
        }
    }
}

/// What 환불하기's form sends, before validation (`server::refund::rules`). Its field names
/// are the form's, so one struct serves the HTML form, the island and the JSON endpoints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RefundForm {
    pub amount: Option<String>,
    pub reason: String,
    pub refund_holder: Option<String>,
    pub refund_bank: Option<String>,
    pub refund_account: Option<String>,
    /// the account holder's phone (예금주 연락처), where the PG needs it
    pub refund_tel: Option<String>,
    /// the tax-free part (면세 금액) and VAT (부가세) an admin names; empty: proportional
    pub tax_free: Option<String>,
    pub vat_amount: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefundOutcome {
    pub refund_id: uuid::Uuid,
    pub status: RefundOutcomeStatus,
    pub amount: i64,
    pub requested_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub message: Option<String>,
    pub receipt_url: Option<String>,
    /// Pending and accepted by PortOne, its PG yet to apply it: 환불 접수됨.
    #[serde(default)]
    pub accepted: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn won_is_grouped_by_thousands() {
        assert_eq!(format_won(0), "0원");
        assert_eq!(format_won(999), "999원");
        assert_eq!(format_won(1000), "1,000원");
        assert_eq!(format_won(12000), "12,000원");
        assert_eq!(format_won(1234567), "1,234,567원");
        assert_eq!(format_won(-5000), "-5,000원");
    }

    #[test]
    fn identifiers_have_portones_shape() {
        assert!(valid_merchant_uid("ORD20261126-0001") && valid_merchant_uid("주문-1"));
        assert!(
            !valid_merchant_uid("")
                && !valid_merchant_uid(&"x".repeat(41))
                && !valid_merchant_uid(" a")
                && !valid_merchant_uid("a\nb")
        );
        assert!(
            valid_imp_uid("imp_123456789012")
                && !valid_imp_uid("imp 1")
                && !valid_imp_uid(&"i".repeat(33))
                && !valid_imp_uid("")
        );
    }

    #[test]
    fn only_web_links_are_rendered() {
        assert_eq!(
            safe_link(" https://sim.portone.invalid/r/1").as_deref(),
            Some("https://sim.portone.invalid/r/1")
        );
        assert!(safe_link("HTTP://x.example").is_some());
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,x",
            "//evil.example",
            "/relative",
        ] {
            assert_eq!(safe_link(bad), None, "{bad}");
        }
    }

    #[test]
    fn kst_is_nine_hours_ahead_of_utc() {
        let at = Utc.with_ymd_and_hms(2026, 1, 31, 15, 30, 0).unwrap();
        assert_eq!(format_kst(at), "2026-02-01 00:30");
    }

    #[test]
    fn order_state_follows_amounts_not_status() {
        let idle = (false, false);
        assert_eq!(OrderState::derive("paid", 100, 0, idle), OrderState::Paid);
        assert_eq!(OrderState::derive("cancelled", 100, 40, idle), OrderState::PartlyRefunded);
        assert_eq!(OrderState::derive("cancelled", 100, 100, idle), OrderState::FullyRefunded);
        assert_eq!(OrderState::derive("paid", 100, 0, (true, true)), OrderState::RefundInProgress);
        assert_eq!(
            OrderState::derive("cancelled", 100, 40, (false, true)),
            OrderState::RefundRequested
        );
    }
}
