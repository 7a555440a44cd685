//! What the pages 연동 and 관리자 and the invitation page show.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An API key as 연동 lists it (never the key itself).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyView {
    pub id: i64,
    pub name: String,
    /// `rk_live_3fK9`: enough to tell keys apart
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A payment no order registration names (주문 미등록).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnassignedView {
    pub merchant_uid: String,
    pub order_name: String,
    pub amount: i64,
    pub buyer_name: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
}

/// 연동: the keys, the key just created (shown once), unassigned payments, and the shop's
/// event endpoints with their recent deliveries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntegrationView {
    pub keys: Vec<ApiKeyView>,
    /// the key created by this session's last request, shown this once
    pub new_key: Option<String>,
    pub unassigned: Vec<UnassignedView>,
    /// whether `/shop-login` is configured (`SHOP_LOGIN_SECRET`)
    pub shop_login: bool,
    pub endpoints: Vec<EndpointView>,
    /// an endpoint's secret made by this session's last request, shown this once
    pub new_endpoint_secret: Option<String>,
}

/// An event endpoint of the shop (never its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndpointView {
    pub id: i64,
    pub url: String,
    /// `None`: every event type
    pub events: Option<Vec<String>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// the newest deliveries to it
    pub deliveries: Vec<DeliveryView>,
}

/// One event's delivery to one endpoint, as 연동's log shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    pub id: i64,
    pub event_type: String,
    /// the refund's reference (`R-7F3A2C1D`), or the order's number for a payment's event
    pub subject: String,
    /// pending | delivered | failed
    pub status: String,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_duration_ms: Option<i32>,
    pub created_at: DateTime<Utc>,
}

/// What happened, as the shop reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShopEvent {
    /// a refund beyond the approval policy waits for an admin
    Requested,
    /// an admin approved a waiting request: it goes to PortOne now
    Approved,
    Rejected,
    Withdrawn,
    Succeeded,
    Failed,
    /// PortOne's record neither proves nor rules out the refund: an admin decides
    NeedsReview,
    /// an admin decided a refund that needed review (its `status` says how)
    ReviewDecided,
    /// a cancel made outside this service (PortOne's console): no refund of ours
    CancelledOutside,
}

impl ShopEvent {
    pub const ALL: [ShopEvent; 9] = [
        ShopEvent::Requested,
        ShopEvent::Approved,
        ShopEvent::Rejected,
        ShopEvent::Withdrawn,
        ShopEvent::Succeeded,
        ShopEvent::Failed,
        ShopEvent::NeedsReview,
        ShopEvent::ReviewDecided,
        ShopEvent::CancelledOutside,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ShopEvent::Requested => "refund.requested",
            ShopEvent::Approved => "refund.approved",
            ShopEvent::Rejected => "refund.rejected",
            ShopEvent::Withdrawn => "refund.withdrawn",
            ShopEvent::Succeeded => "refund.succeeded",
            ShopEvent::Failed => "refund.failed",
            ShopEvent::NeedsReview => "refund.needs_review",
            ShopEvent::ReviewDecided => "refund.review_decided",
            ShopEvent::CancelledOutside => "payment.cancelled_outside",
        }
    }

    /// 연동's word for it.
    pub fn label(self) -> &'static str {
        match self {
            ShopEvent::Requested => "환불 요청",
            ShopEvent::Approved => "승인",
            ShopEvent::Rejected => "요청 거절",
            ShopEvent::Withdrawn => "요청 철회",
            ShopEvent::Succeeded => "환불 성공",
            ShopEvent::Failed => "환불 실패",
            ShopEvent::NeedsReview => "검토 필요",
            ShopEvent::ReviewDecided => "검토 결정",
            ShopEvent::CancelledOutside => "외부 취소",
        }
    }

    pub fn parse(s: &str) -> Option<ShopEvent> {
        ShopEvent::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminView {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub totp: bool,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InviteView {
    pub email: String,
    pub expires_at: DateTime<Utc>,
}

/// 관리자: every admin, pending invitations, and what this session was just given once (an
/// invitation link, or its own recovery codes after enrolling).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminsView {
    pub me: i64,
    pub admins: Vec<AdminView>,
    pub invites: Vec<InviteView>,
    pub new_invite_link: Option<String>,
    pub recovery_codes: Vec<String>,
}

/// The invitation page: who is invited and the authenticator to enroll.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InvitationView {
    pub email: String,
    /// base32, also typed by hand into an authenticator
    pub totp_secret: String,
    /// the `otpauth://` URL as an SVG QR code
    pub qr_svg: String,
}
