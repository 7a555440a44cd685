//! The refund rules, as pure functions checked before anything is
//! reserved. Each refusal is a [`Refusal`], shown as a Korean sentence the customer can act on.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Asia::Seoul;

use super::tax::{self, TaxLeft, TaxParts};
use crate::model::PayMethod;
use crate::server::banks;
use crate::server::pg::PgProvider;
use portone_v1::AccountNumber;

pub use super::refusal::{
    Refusal, WonField, ALREADY_FULLY_REFUNDED, REFUND_IN_PROGRESS, REQUESTS_HOLD_THE_REST,
    TAX_SPLIT_UNREAD,
};

/// What the rules need to know about a payment (from our database, never from the browser).
#[derive(Clone, Debug)]
pub struct PaymentFacts {
    pub pay_method: PayMethod,
    pub pg_provider: PgProvider,
    pub status: String,
    pub amount: i64,
    pub cancel_amount: i64,
    pub paid_at: Option<DateTime<Utc>>,
    pub refund_pending: bool,
    /// what remains of the tax-free part and VAT, when PortOne's balance told us
    pub tax_left: Option<TaxLeft>,
    /// PortOne's balance never answered for this payment (whether it has a tax-free part is
    /// not known), or it has one and what remains of it was not read since the last cancel: a
    /// refund waits rather than going out without it, which a PG would book as wholly taxable.
    pub tax_split_unread: bool,
    /// what waiting refund requests (환불 요청) hold of the balance
    pub held: i64,
}

impl PaymentFacts {
    /// What PortOne would still cancel: the `checksum` a cancel carries.
    pub fn portone_balance(&self) -> i64 {
        self.amount - self.cancel_amount
    }

    /// What a new refund may take: PortOne's balance less what waiting requests hold.
    pub fn cancellable(&self) -> i64 {
        self.portone_balance() - self.held
    }
}

pub use crate::model::RefundForm;

impl RefundForm {
    /// A form carrying a kept account (an approved request's), as the customer typed it.
    pub fn with_account(account: Option<&RefundAccount>) -> RefundForm {
        RefundForm {
            refund_holder: account.map(|a| a.holder.clone()),
            refund_bank: account.map(|a| a.bank.clone()),
            refund_account: account.map(|a| a.number.0.clone()),
            refund_tel: account.and_then(|a| a.tel.as_ref()).map(|t| t.0.clone()),
            ..RefundForm::default()
        }
    }
}

/// The account a refund is paid to, validated. The full number and the phone exist only in
/// memory, and neither is ever logged (their `Debug` masks them).
#[derive(Clone, Debug, PartialEq)]
pub struct RefundAccount {
    pub holder: String,
    pub bank: String,
    pub number: AccountNumber,
    pub tel: Option<HolderPhone>,
}

/// An account holder's phone number, digits only.
#[derive(Clone, PartialEq)]
pub struct HolderPhone(pub String);

impl std::fmt::Debug for HolderPhone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tail = &self.0[self.0.len().saturating_sub(4)..];
        write!(f, "HolderPhone(***{tail})")
    }
}

/// Whether the refund is paid to an account the customer gives: virtual-account payments;
/// bank-transfer payments on smartro_v2; and phone payments of an earlier month on KCP, which
/// refunds those to a bank account ("휴대폰소액결제 익월 환불").
pub fn refund_account_needed(facts: &PaymentFacts, now: DateTime<Utc>) -> bool {
    facts.pg_provider.refunds_to_account(&facts.pay_method) || kcp_next_month(facts, now)
}

/// Whether the PG needs the account holder's phone (`refund_tel`): vbank refunds on smartro
/// (the old module), vbank and bank-transfer refunds on smartro_v2.
pub fn refund_tel_needed(facts: &PaymentFacts) -> bool {
    facts.pg_provider.needs_holder_phone(&facts.pay_method)
}

fn kcp_next_month(facts: &PaymentFacts, now: DateTime<Utc>) -> bool {
    facts.pay_method == PayMethod::Phone
        && facts.pg_provider.refunds_last_months_phone_to_account()
        && facts.paid_at.is_some_and(|paid| !same_kst_month(paid, now))
}

/// A refund request that passed every rule.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidRefund {
    pub amount: i64,
    pub reason: String,
    pub account: Option<RefundAccount>,
    /// the tax-free part and VAT, when the payment's are known
    pub tax: Option<TaxParts>,
}

fn same_kst_month(a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
    let (a, b) = (a.with_timezone(&Seoul), b.with_timezone(&Seoul));
    (a.year(), a.month()) == (b.year(), b.month())
}

/// Partial refunds of phone payments only where the PG allows it (KG Inicis; KCP only with a
/// merchant option this shop does not have).
pub fn partial_allowed(facts: &PaymentFacts) -> bool {
    facts.pay_method != PayMethod::Phone || facts.pg_provider.refunds_phone_in_part()
}

/// Why this payment cannot be refunded now, or `None` when a refund may be requested.
pub fn why_not_refundable(facts: &PaymentFacts, now: DateTime<Utc>) -> Option<Refusal> {
    if facts.status != "paid" && facts.status != "cancelled" {
        return Some(Refusal::NotPaid);
    }
    if facts.portone_balance() <= 0 {
        return Some(Refusal::AlreadyFullyRefunded);
    }
    if facts.cancellable() <= 0 {
        return Some(Refusal::RequestsHoldTheRest);
    }
    if facts.refund_pending {
        return Some(Refusal::RefundInProgress);
    }
    if facts.pay_method == PayMethod::Phone {
        let Some(paid_at) = facts.paid_at else {
            return Some(Refusal::PhonePaidAtUnknown);
        };
        if !same_kst_month(paid_at, now) && !kcp_next_month(facts, now) {
            let kst = paid_at.with_timezone(&Seoul);
            return Some(Refusal::PhoneOutsideItsMonth { year: kst.year(), month: kst.month() });
        }
    }
    None
}

/// Parses a won amount as people type it: `12000`, `12,000`, `12,000원`. Empty means "all".
pub fn parse_won(input: &str) -> Result<Option<i64>, Refusal> {
    parse_won_named(input, WonField::Amount)
}

fn parse_won_named(input: &str, field: WonField) -> Result<Option<i64>, Refusal> {
    let cleaned: String = input
        .trim()
        .trim_end_matches('원')
        .chars()
        .filter(|c| *c != ',' && !c.is_whitespace())
        .collect();
    if cleaned.is_empty() {
        return Ok(None);
    }
    if !cleaned.chars().all(|c| c.is_ascii_digit()) {
        return Err(Refusal::NotWholeWon(field));
    }
    cleaned.parse::<i64>().map(Some).map_err(|_| Refusal::WonTooLarge(field))
}

/// Applies every rule; a refusal says why, in the customer's words.
pub fn validate(
    facts: &PaymentFacts,
    form: &RefundForm,
    now: DateTime<Utc>,
) -> Result<ValidRefund, Refusal> {
    if let Some(reason) = why_not_refundable(facts, now) {
        return Err(reason);
    }
    let cancellable = facts.cancellable();
    let amount = match form.amount.as_deref().map(parse_won).transpose()?.flatten() {
        None => cancellable,
        Some(a) if a < 1 => return Err(Refusal::BelowOneWon),
        Some(a) if a > cancellable => {
            return Err(Refusal::OverRefundable { refundable: cancellable })
        }
        Some(a) => a,
    };
    if amount < facts.amount && !partial_allowed(facts) {
        return Err(Refusal::NoPartialRefund);
    }
    let reason = form.reason.trim();
    if reason.is_empty() {
        return Err(Refusal::NoReason);
    }
    if reason.chars().count() > 200 {
        return Err(Refusal::ReasonTooLong);
    }
    let typed =
        |v: &Option<String>, field| v.as_deref().map(|t| parse_won_named(t, field)).transpose();
    let typed_parts = (
        typed(&form.tax_free, WonField::TaxFree)?.flatten(),
        typed(&form.vat_amount, WonField::Vat)?.flatten(),
    );
    if facts.tax_split_unread {
        return Err(Refusal::TaxSplitUnread);
    }
    let tax = tax::explicit(facts.tax_left, amount, facts.portone_balance(), typed_parts)?;
    let account =
        if refund_account_needed(facts, now) { Some(validate_account(facts, form)?) } else { None };
    Ok(ValidRefund { amount, reason: reason.to_string(), account, tax })
}

fn validate_account(facts: &PaymentFacts, form: &RefundForm) -> Result<RefundAccount, Refusal> {
    let value = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or_default().to_string();
    // account and phone numbers as typed, without the hyphens and spaces people put in them
    let typed_number = |v: &Option<String>| {
        value(v).chars().filter(|c| *c != '-' && *c != ' ').collect::<String>()
    };
    let holder = value(&form.refund_holder);
    let bank = value(&form.refund_bank);
    let number = typed_number(&form.refund_account);
    if holder.is_empty() || bank.is_empty() || number.is_empty() {
        return Err(Refusal::AccountIncomplete);
    }
    if holder.chars().count() > 16 {
        return Err(Refusal::HolderTooLong);
    }
    if !banks::is_valid_refund_bank(&facts.pg_provider, &bank) {
        return Err(Refusal::BankNotForThisPg);
    }
    if !number.chars().all(|c| c.is_ascii_digit()) || !(6..=16).contains(&number.len()) {
        return Err(Refusal::AccountNumberMalformed);
    }
    let tel = if refund_tel_needed(facts) {
        let digits = typed_number(&form.refund_tel);
        if !digits.chars().all(|c| c.is_ascii_digit()) || !(9..=11).contains(&digits.len()) {
            return Err(Refusal::HolderPhoneMalformed);
        }
        Some(HolderPhone(digits))
    } else {
        None
    };
    Ok(RefundAccount { holder, bank, number: AccountNumber(number), tel })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn facts(pay_method: &str, pg: &str, amount: i64, cancel_amount: i64) -> PaymentFacts {
        PaymentFacts {
            pay_method: PayMethod::from(pay_method),
            pg_provider: pg.into(),
            status: if cancel_amount > 0 { "cancelled" } else { "paid" }.into(),
            amount,
            cancel_amount,
            paid_at: Some(Utc.with_ymd_and_hms(2026, 11, 3, 1, 0, 0).unwrap()),
            refund_pending: false,
            tax_left: None,
            tax_split_unread: false,
            held: 0,
        }
    }

    fn form(amount: &str, reason: &str) -> RefundForm {
        RefundForm { amount: Some(amount.into()), reason: reason.into(), ..Default::default() }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 3, 0, 0).unwrap()
    }

    #[test]
    fn amounts() {
        let f = facts("card", "html5_inicis", 10_000, 4_000);
        let cases: &[(&str, Result<i64, &str>)] = &[
            ("", Ok(6_000)),
            ("6000", Ok(6_000)),
            ("1", Ok(1)),
            ("2,500원", Ok(2_500)),
            ("0", Err("환불 금액은 1원 이상이어야 합니다.")),
            ("6001", Err("환불 금액이 환불 가능 금액(6,000원)을 넘습니다.")),
            ("12.5", Err("환불 금액은 원 단위의 숫자로 입력해 주세요.")),
            ("-1", Err("환불 금액은 원 단위의 숫자로 입력해 주세요.")),
            ("99999999999999999999", Err("환불 금액이 너무 큽니다.")),
        ];
        for (input, expected) in cases {
            let got = validate(&f, &form(input, "단순 변심"), now()).map(|v| v.amount);
            assert_eq!(
                got.map_err(|r| r.to_string()),
                expected.map_err(String::from),
                "amount {input:?}"
            );
        }
    }

    #[test]
    fn fully_refunded_pending_and_unpaid_are_refused() {
        assert_eq!(
            validate(&facts("card", "kcp", 5000, 5000), &form("", "x"), now()).unwrap_err(),
            Refusal::AlreadyFullyRefunded
        );
        let mut pending = facts("card", "kcp", 5000, 0);
        pending.refund_pending = true;
        assert_eq!(
            validate(&pending, &form("", "x"), now()).unwrap_err(),
            Refusal::RefundInProgress
        );
        let mut ready = facts("vbank", "kcp", 5000, 0);
        ready.status = "ready".into();
        assert!(validate(&ready, &form("", "x"), now()).is_err());
    }

    #[test]
    fn waiting_requests_hold_their_amounts() {
        let mut f = facts("card", "kcp", 10_000, 2_000);
        f.held = 5_000;
        let refused = validate(&f, &form("3001", "x"), now()).unwrap_err();
        assert_eq!(refused.to_string(), "환불 금액이 환불 가능 금액(3,000원)을 넘습니다.");
        assert_eq!(validate(&f, &form("", "x"), now()).unwrap().amount, 3_000);
        f.held = 8_000;
        assert_eq!(validate(&f, &form("", "x"), now()).unwrap_err(), Refusal::RequestsHoldTheRest);
    }

    #[test]
    fn reason_is_required_trimmed_and_at_most_200_characters() {
        let f = facts("card", "kcp", 5000, 0);
        assert!(validate(&f, &form("", "   "), now()).is_err());
        assert_eq!(validate(&f, &form("", "  변심  "), now()).unwrap().reason, "변심");
        assert!(validate(&f, &form("", &"가".repeat(200)), now()).is_ok());
        assert!(validate(&f, &form("", &"가".repeat(201)), now()).is_err());
    }

    #[test]
    fn vbank_needs_a_complete_account_with_a_bank_of_its_pg() {
        let f = facts("vbank", "html5_inicis", 30_000, 0);
        let mut input = form("", "사이즈 교환 불가");
        assert!(validate(&f, &input, now())
            .unwrap_err()
            .to_string()
            .contains("예금주, 은행, 계좌번호"));
        input.refund_holder = Some("김민수".into());
        input.refund_bank = Some("088".into()); // KFTC code: not Inicis's
        input.refund_account = Some("562-111-05948400".into());
        assert!(validate(&f, &input, now()).unwrap_err().to_string().contains("은행"));
        input.refund_bank = Some("88".into());
        let ok = validate(&f, &input, now()).unwrap();
        assert_eq!(ok.account.unwrap().number.0, "56211105948400");
        input.refund_account = Some("56211abc".into());
        assert!(validate(&f, &input, now()).unwrap_err().to_string().contains("계좌번호"));
    }

    #[test]
    fn phone_only_in_the_same_kst_month_and_whole_unless_inicis() {
        // paid 2026-10-31 23:30 KST = 14:30 UTC; refused on 2026-11-01 00:10 KST
        let mut f = facts("phone", "danal", 3000, 0);
        f.paid_at = Some(Utc.with_ymd_and_hms(2026, 10, 31, 14, 30, 0).unwrap());
        let next_month = Utc.with_ymd_and_hms(2026, 10, 31, 15, 10, 0).unwrap();
        let same_month = Utc.with_ymd_and_hms(2026, 10, 31, 14, 50, 0).unwrap();
        assert!(validate(&f, &form("", "x"), next_month)
            .unwrap_err()
            .to_string()
            .contains("결제한 달에만"));
        assert_eq!(validate(&f, &form("", "x"), same_month).unwrap().amount, 3000);
        assert!(validate(&f, &form("1000", "x"), same_month)
            .unwrap_err()
            .to_string()
            .contains("부분환불"));
        f.pg_provider = "html5_inicis".into();
        assert_eq!(validate(&f, &form("1000", "x"), same_month).unwrap().amount, 1000);
    }
}
