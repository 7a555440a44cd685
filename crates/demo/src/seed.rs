//! Demo data for `make run` (never applied by migrations): three accounts and a dozen paid
//! orders, written through the same import path a PortOne webhook uses, plus the file the
//! simulator loads so both sides agree on every payment.

use chrono::{Datelike, Duration, TimeZone, Utc};
use chrono_tz::Asia::Seoul;
use sqlx::PgPool;

use portone_refund::model::{PayMethod, RefundStatus, Role};
use portone_refund::server::auth;
use portone_refund::server::gateway::{from_v1, Balance, TaxSplit};
use portone_refund::server::payments::import_payment;
use portone_refund::server::refund::{insert_recorded, RecordedRefund};
use portone_refund::server::shop::orders::{self, OrderRegistration, ShopCustomer};
use portone_v1::CancelHistoryEntry;
use portone_v1::Payment;

pub struct DemoAccount {
    /// the demo shop's own id for a customer (admins have none)
    pub shop_id: Option<&'static str>,
    pub email: &'static str,
    pub password: &'static str,
    pub name: &'static str,
    pub role: Role,
}

pub const ACCOUNTS: &[DemoAccount] = &[
    DemoAccount {
        shop_id: Some("C-1001"),
        email: "minsu@example.com",
        password: "minsu-pass-1234",
        name: "김민수",
        role: Role::Customer,
    },
    DemoAccount {
        shop_id: Some("C-1002"),
        email: "jiwoo@example.com",
        password: "jiwoo-pass-1234",
        name: "이지우",
        role: Role::Customer,
    },
    DemoAccount {
        shop_id: None,
        email: "admin@example.com",
        password: "admin-pass-1234",
        name: "관리자",
        role: Role::Admin,
    },
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
    /// the tax-free part (면세) of the amount; 0 for none
    tax_free: i64,
}

const ORDERS: &[DemoOrder] = &[
    DemoOrder {
        buyer: 0,
        name: "무선 블루투스 이어폰",
        pay_method: "card",
        pg_provider: "html5_inicis",
        amount: 39_000,
        hours_ago: Some(50),
        refunded: None,
        tax_free: 0,
    },
    DemoOrder {
        buyer: 0,
        name: "겨울 패딩 점퍼",
        pay_method: "card",
        pg_provider: "kcp",
        amount: 128_000,
        hours_ago: Some(120),
        refunded: Some((28_000, "사이즈 교환 차액 환불")),
        tax_free: 0,
    },
    DemoOrder {
        buyer: 0,
        name: "유기농 현미 5kg",
        pay_method: "trans",
        pg_provider: "tosspayments",
        amount: 15_900,
        hours_ago: Some(190),
        refunded: None,
        tax_free: 0,
    },
    DemoOrder {
        buyer: 0,
        name: "원목 책상 정리함",
        pay_method: "vbank",
        pg_provider: "html5_inicis",
        amount: 54_000,
        hours_ago: Some(70),
        refunded: None,
        tax_free: 0,
    },
    DemoOrder {
        buyer: 0,
        name: "모바일 게임 아이템 패키지",
        pay_method: "phone",
        pg_provider: "danal",
        amount: 9_900,
        hours_ago: None,
        refunded: None,
        tax_free: 0,
    },
    DemoOrder {
        buyer: 0,
        name: "핸드드립 원두 세트",
        pay_method: "card",
        pg_provider: "html5_inicis",
        amount: 22_000,
        hours_ago: Some(290),
        refunded: Some((22_000, "단순 변심")),
        tax_free: 0,
    },
    DemoOrder {
        buyer: 0,
        name: "웹툰 이용권 30일",
        pay_method: "phone",
        pg_provider: "html5_inicis",
        amount: 4_500,
        hours_ago: Some(1),
        refunded: None,
        tax_free: 0,
    },
    DemoOrder {
        buyer: 1,
        name: "러닝화 에어 쿠션",
        pay_method: "card",
        pg_provider: "kcp",
        amount: 67_000,
        hours_ago: Some(30),
        refunded: None,
        tax_free: 0,
    },
    DemoOrder {
        buyer: 1,
        name: "캠핑 텐트 4인용",
        pay_method: "vbank",
        pg_provider: "kcp",
        amount: 210_000,
        hours_ago: Some(100),
        refunded: None,
        tax_free: 0,
    },
    DemoOrder {
        buyer: 1,
        name: "기프트카드 3만원권",
        pay_method: "trans",
        pg_provider: "tosspayments",
        amount: 30_000,
        hours_ago: Some(150),
        refunded: None,
        tax_free: 0,
    },
    DemoOrder {
        buyer: 1,
        name: "고양이 간식 세트",
        pay_method: "card",
        pg_provider: "html5_inicis",
        amount: 8_900,
        hours_ago: Some(20),
        refunded: None,
        tax_free: 0,
    },
    DemoOrder {
        buyer: 1,
        name: "독서 모임 참가비",
        pay_method: "card",
        pg_provider: "html5_inicis",
        amount: 10_000,
        hours_ago: Some(5),
        refunded: None,
        tax_free: 0,
    },
    // appended last: the demo's imp_uids are numbered by position
    DemoOrder {
        buyer: 1,
        name: "수제 쿠키 선물세트",
        pay_method: "vbank",
        pg_provider: "smartro",
        amount: 32_000,
        hours_ago: Some(8),
        refunded: None,
        tax_free: 0,
    },
    DemoOrder {
        buyer: 1,
        name: "전자책 정기구독",
        pay_method: "phone",
        pg_provider: "kcp",
        amount: 12_900,
        hours_ago: None,
        refunded: None,
        tax_free: 0,
    },
    // 면세 (fresh fruit) and 과세 (the gift box) in one payment
    DemoOrder {
        buyer: 1,
        name: "제철 과일 선물세트",
        pay_method: "card",
        pg_provider: "kcp",
        amount: 48_000,
        hours_ago: Some(26),
        refunded: None,
        tax_free: 30_000,
    },
    // larger orders of 민수's, for refunds an approval policy holds for review
    DemoOrder {
        buyer: 0,
        name: "기계식 블루투스 키보드",
        pay_method: "card",
        pg_provider: "html5_inicis",
        amount: 89_000,
        hours_ago: Some(60),
        refunded: None,
        tax_free: 0,
    },
    DemoOrder {
        buyer: 0,
        name: "LED 스탠드 조명",
        pay_method: "card",
        pg_provider: "kcp",
        amount: 45_000,
        hours_ago: Some(40),
        refunded: None,
        tax_free: 0,
    },
    // paid through PortOne V2 (a V2 PG name, upper case): the shop holds both versions
    DemoOrder {
        buyer: 0,
        name: "접이식 캠핑 의자",
        pay_method: "card",
        pg_provider: "TOSSPAYMENTS",
        amount: 27_000,
        hours_ago: Some(12),
        refunded: None,
        tax_free: 0,
    },
    // a V2 virtual-account order: its refund is accepted (환불 접수됨) and applied later
    DemoOrder {
        buyer: 0,
        name: "원목 캠핑 테이블",
        pay_method: "vbank",
        pg_provider: "NICE_V2",
        amount: 64_000,
        hours_ago: Some(16),
        refunded: None,
        tax_free: 0,
    },
    DemoOrder {
        buyer: 0,
        name: "캠핑 랜턴",
        pay_method: "trans",
        pg_provider: "NICE_V2",
        amount: 19_000,
        hours_ago: Some(22),
        refunded: None,
        tax_free: 0,
    },
];

/// A demo order made through PortOne V2 names its PG as V2 does (`NICE_V2`).
fn through_v2(o: &DemoOrder) -> bool {
    use portone_refund::server::pg::PgProvider;
    matches!(PgProvider::parse(o.pg_provider), PgProvider::V2(_))
}

/// Seeds accounts and orders unless they exist. Returns whether anything was written.
pub async fn seed(pool: &PgPool) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
    let exists =
        sqlx::query_scalar!("select count(*) from users where email = $1", ACCOUNTS[0].email)
            .fetch_one(pool)
            .await?;
    if exists.unwrap_or(0) > 0 {
        return Ok(false);
    }
    // The admin is created here; the customers come from the demo shop's order registrations
    // below (the API's own code path) and get their demo passwords afterwards.
    for a in ACCOUNTS.iter().filter(|a| a.shop_id.is_none()) {
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
    // our user id of each demo account the orders named
    let mut customers = std::collections::BTreeMap::new();
    for (i, o) in ORDERS.iter().enumerate() {
        let mut paid_at = o.hours_ago.map(|h| now - Duration::hours(h)).unwrap_or(last_month);
        // keep "this month" orders in this KST month, whatever day the demo runs
        if o.hours_ago.is_some() && paid_at.with_timezone(&Seoul).month() != kst_now.month() {
            paid_at = now - Duration::minutes(30);
        }
        let buyer = &ACCOUNTS[o.buyer];
        let date = paid_at.with_timezone(&Seoul).format("%Y%m%d");
        let vbank = PayMethod::from(o.pay_method) == PayMethod::Vbank;
        let v2 = through_v2(o);
        let mut payment = paid_payment(serde_json::json!({
            // V2's transaction id; the simulator keeps a V2 payment's PG in lower case
            "imp_uid": format!("{}{:04}", if v2 { "tx_demo" } else { "imp_demo" }, i + 1),
            "merchant_uid": format!("ORD{date}-{:04}", i + 1),
            "sim_v2": v2,
            "amount": o.amount, "pay_method": o.pay_method, "pg_provider": o.pg_provider.to_lowercase(), "name": o.name,
            "buyer_name": buyer.name, "buyer_email": buyer.email, "paid_at": paid_at.timestamp(),
            "vbank_code": vbank.then_some("088"), "vbank_name": vbank.then_some("신한은행"),
            "vbank_num": vbank.then(|| format!("5620{:08}", i * 7919)), "vbank_holder": vbank.then_some("(주)데모상점"),
        }))?;
        if let Some((amount, reason)) = o.refunded {
            console_cancel(
                &mut payment,
                amount,
                reason,
                (paid_at + Duration::hours(6)).timestamp(),
            );
        }
        let customer =
            register(pool, &payment, buyer.shop_id.unwrap_or_default(), buyer.email, buyer.name)
                .await?;
        customers.insert(o.buyer, customer);
        import_payment(pool, &demo_payment(&payment, o), false).await?;
        store_demo_balance(pool, &payment, o.tax_free).await?;
    }
    for (buyer, customer) in customers {
        auth::set_password(pool, customer, ACCOUNTS[buyer].password).await?;
    }
    seed_refund_history(pool, now).await?;
    Ok(true)
}

/// The payment as the app reads it: a V2 one as V2 presents it (its version, its PG's V2
/// name); its stored copy stays the object the simulator loads.
fn demo_payment(payment: &Payment, o: &DemoOrder) -> portone_refund::server::gateway::Payment {
    let mut read = from_v1(payment.clone());
    if through_v2(o) {
        read.version = portone_refund::model::ApiVersion::V2;
        read.pg_provider = o.pg_provider.to_string();
    }
    read
}

/// Registers a demo payment's order as the demo shop would through `PUT /api/v1/orders/…`;
/// returns the customer's user id.
async fn register(
    pool: &PgPool,
    payment: &Payment,
    shop_id: &str,
    email: &str,
    name: &str,
) -> Result<i64, portone_refund::server::error::ServerError> {
    let registration = OrderRegistration {
        customer: ShopCustomer { id: shop_id.into(), email: email.into(), name: name.into() },
        amount: payment.amount,
        name: payment.name.clone().unwrap_or_else(|| payment.merchant_uid.clone()),
    };
    let registered =
        orders::register(pool, &payment.merchant_uid, &registration, None, "system:demo").await?;
    Ok(registered.customer_id)
}

/// A `/shop-login` link for 김민수 (the demo shop's `C-1001`) valid for ten minutes, signed
/// with `secret`.
pub fn minsu_login_link(base_url: &str, secret: &[u8]) -> String {
    let now = Utc::now().timestamp();
    let minsu = &ACCOUNTS[0];
    let claims = portone_refund::server::shop::login::ShopLoginClaims {
        sub: minsu.shop_id.unwrap_or_default().into(),
        email: minsu.email.into(),
        name: minsu.name.into(),
        iat: now,
        exp: now + portone_refund::server::shop::login::MAX_LIFETIME_SECS,
        jti: uuid::Uuid::new_v4().to_string(),
        next: None,
    };
    let token = portone_refund::server::shop::login::sign(secret, &claims);
    format!("{base_url}/shop-login?token={token}")
}

/// The balance PortOne keeps for a demo payment (nothing cancelled yet, or the demo's console
/// cancel taken from the taxable part): its tax-free part and the VAT in the rest.
async fn store_demo_balance(
    pool: &PgPool,
    payment: &Payment,
    tax_free: i64,
) -> Result<(), sqlx::Error> {
    let vat = portone_refund::server::refund::tax::vat_included(payment.amount - tax_free);
    let split = TaxSplit { tax_free, vat, total: payment.amount };
    let balance = Balance { original: split, remaining: split };
    let id = sqlx::query_scalar!("select id from payments where imp_uid = $1", payment.imp_uid)
        .fetch_one(pool)
        .await?;
    if payment.cancel_amount == 0 {
        portone_refund::server::payments::store_balance(pool, id, Some(&balance)).await?;
    }
    Ok(())
}

/// Shoppers who own the refund history (they have no password: they could sign in only from
/// the shop).
const HISTORY_CUSTOMERS: &[(&str, &str)] = &[
    ("seojun.park@example.com", "박서준"),
    ("yerin.choi@example.com", "최예린"),
    ("haneul.jung@example.com", "정하늘"),
    ("doyun.kang@example.com", "강도윤"),
    ("sua.yoon@example.com", "윤수아"),
    ("jiho.lim@example.com", "임지호"),
];

const HISTORY_PRODUCTS: &[(&str, i64)] = &[
    ("무선 충전기", 29_000),
    ("캐시미어 머플러", 89_000),
    ("에어프라이어 5L", 119_000),
    ("요가 매트", 35_000),
    ("스마트 워치 스트랩", 19_900),
    ("원두 1kg", 32_000),
    ("아동 운동화", 54_000),
    ("전기 주전자", 45_900),
    ("가죽 카드지갑", 39_000),
    ("블루투스 스피커", 79_000),
    ("겨울 이불 세트", 159_000),
    ("텀블러 2개입", 24_800),
];
const HISTORY_METHODS: &[(&str, &str)] = &[
    ("card", "html5_inicis"),
    ("card", "kcp"),
    ("trans", "tosspayments"),
    ("vbank", "html5_inicis"),
];
const HISTORY_REASONS: &[&str] =
    &["단순 변심", "상품 불량", "배송 지연", "사이즈 교환 불가", "주문 실수", "고객센터 요청"];
const HISTORY_FAILURES: &[&str] = &[
    "[9029] 상점의 취소가능 금액이 부족합니다.",
    "결제취소에 실패하였습니다.(requested cancel amount is bigger than cancelable amount)",
    "PG사 통신 장애로 취소하지 못했습니다.",
];

/// A few hundred refunds over the last 30 days (succeeded and failed, by customers and the
/// admin), so the admin list, filters and chart show something real. PortOne's side of each
/// succeeded refund is in the payment's cancel_history, so the simulator agrees.
async fn seed_refund_history(
    pool: &PgPool,
    now: chrono::DateTime<Utc>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let admin =
        sqlx::query_scalar!("select id from users where role = 'admin' order by id limit 1")
            .fetch_one(pool)
            .await?;
    for i in 0..120usize {
        let (product, price) = HISTORY_PRODUCTS[i % HISTORY_PRODUCTS.len()];
        let (pay_method, pg) = HISTORY_METHODS[(i / 3) % HISTORY_METHODS.len()];
        let buyer_n = i % HISTORY_CUSTOMERS.len();
        let (buyer_email, buyer_name) = HISTORY_CUSTOMERS[buyer_n];
        let buyer_shop_id = format!("C-{}", 2001 + buyer_n);
        let paid_at = now - Duration::hours(12 + ((i * 37) % (29 * 24)) as i64);
        let mut payment = paid_payment(serde_json::json!({
            "imp_uid": format!("imp_hist{:04}", i + 1),
            "merchant_uid": format!("ORD{}-H{:03}", paid_at.with_timezone(&Seoul).format("%Y%m%d"), i + 1),
            "amount": price, "pay_method": pay_method, "pg_provider": pg, "name": product,
            "buyer_name": buyer_name, "buyer_email": buyer_email, "paid_at": paid_at.timestamp(),
        }))?;
        let buyer = register(pool, &payment, &buyer_shop_id, buyer_email, buyer_name).await?;
        // 1–4 refunds per order, a third of the price each at most
        let mut planned = Vec::new();
        for j in 0..(1 + i % 4) {
            let amount = (price / 4 / 100).max(1) * 100;
            // never in the future: recent orders get their refunds squeezed into the time since
            let at = (paid_at + Duration::hours(2 + (j as i64) * 5 + (i % 7) as i64))
                .min(now - Duration::minutes(10 * (4 - j as i64)));
            let failed = (i + j) % 6 == 0;
            let by_admin = (i + j) % 5 == 0;
            let reason = HISTORY_REASONS[(i + j) % HISTORY_REASONS.len()];
            let entry =
                (!failed).then(|| console_cancel(&mut payment, amount, reason, at.timestamp()));
            planned.push((amount, at, failed, by_admin, reason, entry));
        }
        import_payment(pool, &from_v1(payment.clone()), false).await?;
        let payment_id =
            sqlx::query_scalar!("select id from payments where imp_uid = $1", payment.imp_uid)
                .fetch_one(pool)
                .await?;
        let mut cancelled = 0;
        for (n, (amount, at, failed, by_admin, reason, entry)) in planned.into_iter().enumerate() {
            let refund_id = uuid::Uuid::new_v4();
            let requester = if by_admin { admin } else { buyer };
            let message = failed.then(|| HISTORY_FAILURES[(i + n) % HISTORY_FAILURES.len()]);
            let recorded = RecordedRefund {
                id: refund_id,
                payment_id,
                amount,
                checksum: price - cancelled,
                reason: reason.to_string(),
                requester: if by_admin { Role::Admin } else { Role::Customer },
                requester_id: requester,
                status: if failed { RefundStatus::Failed } else { RefundStatus::Succeeded },
                portone_code: Some(if failed { 1 } else { 0 }),
                portone_message: message.map(str::to_string),
                pg_tid: entry.as_ref().and_then(|e| e.pg_tid.clone()),
                receipt_url: entry.as_ref().and_then(|e| e.receipt_url.clone()),
                at,
            };
            insert_recorded(pool, &recorded).await?;
            if let Some(entry) = &entry {
                cancelled += amount;
                sqlx::query!(
                    "update payment_cancellations set refund_id = $1 where payment_id = $2 and entry_key = $3",
                    refund_id,
                    payment_id,
                    // a demo entry carries its cancellation id: the key it is stored under
                    entry.cancellation_id
                )
                .execute(pool)
                .await?;
            }
            let actor = format!("{}:{}", recorded.requester.as_str(), requester);
            sqlx::query!(
                r#"insert into refund_events (refund_id, payment_id, kind, actor, detail, created_at)
                   values ($1, $2, 'reserved', $3, $4, $5), ($1, $2, $6, $3, $7, $5)"#,
                refund_id,
                payment_id,
                actor,
                serde_json::json!({"amount": amount, "reason": reason}),
                at as _,
                recorded.status.as_str(),
                serde_json::json!({"message": message})
            )
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

/// A paid V1 Payment object from the given fields (the simulator loads the same objects).
fn paid_payment(fields: serde_json::Value) -> Result<Payment, serde_json::Error> {
    let mut payment = serde_json::json!({
        "channel": "pc", "currency": "KRW", "status": "paid", "sandbox": false, "cancel_amount": 0,
        "cancelled_at": 0, "failed_at": 0, "cancel_history": [], "pg_tid": format!("demopay_{}", short_id()),
    });
    if let (Some(base), serde_json::Value::Object(given)) = (payment.as_object_mut(), fields) {
        base.extend(given);
        let imp_uid = base["imp_uid"].as_str().unwrap_or_default().to_string();
        base.insert("started_at".into(), base["paid_at"].clone());
        base.insert(
            "receipt_url".into(),
            format!("https://sim.portone.invalid/receipts/{imp_uid}").into(),
        );
    }
    serde_json::from_value(payment)
}

/// Records a cancel made in PortOne's console on a demo payment.
fn console_cancel(payment: &mut Payment, amount: i64, reason: &str, at: i64) -> CancelHistoryEntry {
    let id = short_id();
    let entry = CancelHistoryEntry {
        pg_tid: Some(format!("democancel_{id}")),
        amount,
        cancelled_at: at,
        reason: Some(reason.to_string()),
        receipt_url: Some(format!("https://sim.portone.invalid/receipts/{id}")),
        cancellation_id: Some(format!("cancel_{id}")),
    };
    payment.cancel_amount += amount;
    payment.status = portone_v1::PaymentStatus::Cancelled;
    payment.cancelled_at = at;
    payment.cancel_reason = Some(reason.to_string());
    payment.cancel_history.get_or_insert_with(Vec::new).push(entry.clone());
    entry
}

fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..20].to_string()
}

/// Every payment we hold, as V1 Payment objects for the simulator to load, with the tax
/// parts it was made of (`sim_tax`, the simulator's own field) where we know them.
pub async fn simulator_payments(pool: &PgPool) -> Result<Vec<serde_json::Value>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"select portone_raw as "raw!", tax_free_amount, vat_amount
           from payments where portone_raw is not null order by id"#
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|r| serde_json::from_value::<Payment>(r.raw.clone()).is_ok())
        .map(|r| {
            let mut raw = r.raw;
            if let (Some(object), Some(tax_free), Some(vat)) =
                (raw.as_object_mut(), r.tax_free_amount, r.vat_amount)
            {
                object.insert(
                    "sim_tax".into(),
                    serde_json::json!({"tax_free": tax_free, "vat_amount": vat}),
                );
            }
            raw
        })
        .collect())
}
