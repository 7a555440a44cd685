//! Demo data for `make run` (never applied by migrations): three accounts and a dozen paid
//! orders, written through the same import path a PortOne webhook uses, plus the file the
//! simulator loads so both sides agree on every payment.

use chrono::{Datelike, Duration, TimeZone, Utc};
use chrono_tz::Asia::Seoul;
use sqlx::PgPool;

use crate::model::Role;
use crate::server::auth;
use crate::server::portone::Payment;
use crate::server::refund::store_api::import_payment;
use crate::server::sim;

pub struct DemoAccount {
    pub email: &'static str,
    pub password: &'static str,
    pub name: &'static str,
    pub role: Role,
}

pub const ACCOUNTS: &[DemoAccount] = &[
    DemoAccount { email: "minsu@example.com", password: "minsu-pass-1234", name: "김민수", role: Role::Customer },
    DemoAccount { email: "jiwoo@example.com", password: "jiwoo-pass-1234", name: "이지우", role: Role::Customer },
    DemoAccount { email: "admin@example.com", password: "admin-pass-1234", name: "관리자", role: Role::Admin },
];

struct DemoOrder {
    buyer: usize,
    name: &'static str,
    pay_method: &'static str,
    pg_provider: &'static str,
    amount: i64,
    /// hours before now; `None` = last month (KST)
    hours_ago: Option<i64>,
    /// already refunded: (amount, reason)
    refunded: Option<(i64, &'static str)>,
}

const ORDERS: &[DemoOrder] = &[
    DemoOrder { buyer: 0, name: "무선 블루투스 이어폰", pay_method: "card", pg_provider: "html5_inicis", amount: 39_000, hours_ago: Some(50), refunded: None },
    DemoOrder { buyer: 0, name: "겨울 패딩 점퍼", pay_method: "card", pg_provider: "kcp", amount: 128_000, hours_ago: Some(120), refunded: Some((28_000, "사이즈 교환 차액 환불")) },
    DemoOrder { buyer: 0, name: "유기농 현미 5kg", pay_method: "trans", pg_provider: "tosspayments", amount: 15_900, hours_ago: Some(190), refunded: None },
    DemoOrder { buyer: 0, name: "원목 책상 정리함", pay_method: "vbank", pg_provider: "html5_inicis", amount: 54_000, hours_ago: Some(70), refunded: None },
    DemoOrder { buyer: 0, name: "모바일 게임 아이템 패키지", pay_method: "phone", pg_provider: "danal", amount: 9_900, hours_ago: None, refunded: None },
    DemoOrder { buyer: 0, name: "핸드드립 원두 세트", pay_method: "card", pg_provider: "html5_inicis", amount: 22_000, hours_ago: Some(290), refunded: Some((22_000, "단순 변심")) },
    DemoOrder { buyer: 0, name: "웹툰 이용권 30일", pay_method: "phone", pg_provider: "html5_inicis", amount: 4_500, hours_ago: Some(1), refunded: None },
    DemoOrder { buyer: 1, name: "러닝화 에어 쿠션", pay_method: "card", pg_provider: "kcp", amount: 67_000, hours_ago: Some(30), refunded: None },
    DemoOrder { buyer: 1, name: "캠핑 텐트 4인용", pay_method: "vbank", pg_provider: "kcp", amount: 210_000, hours_ago: Some(100), refunded: None },
    DemoOrder { buyer: 1, name: "기프트카드 3만원권", pay_method: "trans", pg_provider: "tosspayments", amount: 30_000, hours_ago: Some(150), refunded: None },
    DemoOrder { buyer: 1, name: "고양이 간식 세트", pay_method: "card", pg_provider: "html5_inicis", amount: 8_900, hours_ago: Some(20), refunded: None },
    DemoOrder { buyer: 1, name: "독서 모임 참가비", pay_method: "card", pg_provider: "html5_inicis", amount: 10_000, hours_ago: Some(5), refunded: None },
];

/// Seeds accounts and orders unless they exist. Returns whether anything was written.
pub async fn seed(pool: &PgPool) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let exists = sqlx::query_scalar!("select count(*) from users where email = $1", ACCOUNTS[0].email).fetch_one(pool).await?;
    if exists.unwrap_or(0) > 0 {
        return Ok(false);
    }
    for a in ACCOUNTS {
        auth::create_user(pool, a.email, a.name, a.password, a.role).await?;
    }
    let now = Utc::now();
    let kst_now = now.with_timezone(&Seoul);
    let last_month = Seoul
        .with_ymd_and_hms(kst_now.year(), kst_now.month(), 1, 12, 0, 0)
        .single()
        .expect("noon exists")
        .with_timezone(&Utc)
        - Duration::days(4);
    for (i, o) in ORDERS.iter().enumerate() {
        let mut paid_at = o.hours_ago.map(|h| now - Duration::hours(h)).unwrap_or(last_month);
        // keep "this month" orders in this KST month, whatever day the demo runs
        if o.hours_ago.is_some() && paid_at.with_timezone(&Seoul).month() != kst_now.month() {
            paid_at = now - Duration::minutes(30);
        }
        let buyer = &ACCOUNTS[o.buyer];
        let date = paid_at.with_timezone(&Seoul).format("%Y%m%d");
        let mut payment = sim::NewPayment {
            merchant_uid: format!("ORD{date}-{:04}", i + 1),
            amount: o.amount,
            pay_method: o.pay_method.into(),
            pg_provider: o.pg_provider.into(),
            name: o.name.into(),
            buyer_name: Some(buyer.name.into()),
            buyer_email: Some(buyer.email.into()),
            imp_uid: Some(format!("imp_demo{:04}", i + 1)),
            paid_at: Some(paid_at.timestamp()),
            currency: None,
            sandbox: false,
            vbank_code: (o.pay_method == "vbank").then(|| "088".into()),
            vbank_name: (o.pay_method == "vbank").then(|| "신한은행".into()),
            vbank_num: (o.pay_method == "vbank").then(|| format!("5620{:08}", i * 7919)),
            vbank_holder: (o.pay_method == "vbank").then(|| "(주)데모상점".into()),
            notify: false,
        }
        .into_payment();
        if let Some((amount, reason)) = o.refunded {
            sim::record_console_cancel(&mut payment, amount, reason, (paid_at + Duration::hours(6)).timestamp());
        }
        import_payment(pool, &payment).await?;
    }
    Ok(true)
}

/// Every payment we hold, as V1 Payment objects for the simulator to load.
pub async fn simulator_payments(pool: &PgPool) -> Result<Vec<Payment>, sqlx::Error> {
    let raws = sqlx::query_scalar!(r#"select portone_raw as "raw!" from payments where portone_raw is not null order by id"#)
        .fetch_all(pool)
        .await?;
    Ok(raws.into_iter().filter_map(|raw| serde_json::from_value(raw).ok()).collect())
}
