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

/// 연동: the keys, the key just created (shown once), and unassigned payments.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntegrationView {
    pub keys: Vec<ApiKeyView>,
    /// the key created by this session's last request, shown this once
    pub new_key: Option<String>,
    pub unassigned: Vec<UnassignedView>,
    /// whether `/shop-login` is configured (`SHOP_LOGIN_SECRET`)
    pub shop_login: bool,
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
