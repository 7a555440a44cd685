//! Property tests for every parser of user input: amounts, identifiers, filter days and
//! cursors, links, PortOne amounts, and the refund rules as a whole. None may panic, and each
//! keeps its promise for any input.

use chrono::{TimeZone, Utc};
use portone_refund::model::admin::{parse_cursor, RefundQuery};
use portone_refund::model::{format_won, safe_link, valid_imp_uid, valid_merchant_uid};
use portone_refund::server::refund::rules::{self, parse_won, PaymentFacts, RefundForm};
use portone_refund::server::refund::tax::TaxLeft;
use portone_v1::won_from_value;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn amounts_as_people_type_them(n in 0i64..=9_000_000_000_000_000, any in ".{0,40}") {
        // every way we print an amount reads back as the same amount
        prop_assert_eq!(parse_won(&format_won(n)), Ok(Some(n)));
        prop_assert_eq!(parse_won(&n.to_string()), Ok(Some(n)));
        // anything at all: a number, "all", or a Korean sentence — never a panic, never negative
        match parse_won(&any) {
            Ok(Some(v)) => prop_assert!(v >= 0),
            Ok(None) => prop_assert!(any.trim().trim_end_matches('원').chars().all(|c| c == ',' || c.is_whitespace())),
            Err(refusal) => prop_assert!(refusal.to_string().contains("환불 금액")),
        }
    }

    #[test]
    fn identifiers_are_bounded(s in "\\PC{0,60}", bytes in proptest::collection::vec(any::<u8>(), 0..50)) {
        let raw = String::from_utf8_lossy(&bytes).to_string();
        for candidate in [s.as_str(), raw.as_str()] {
            if valid_merchant_uid(candidate) {
                prop_assert!(candidate.chars().count() <= 40 && !candidate.chars().any(char::is_control));
            }
            if valid_imp_uid(candidate) {
                prop_assert!(candidate.len() <= 32 && candidate.is_ascii());
            }
        }
    }

    #[test]
    fn filter_query_fields_never_panic(from in ".{0,30}", to in ".{0,30}", size in ".{0,8}", cursor in ".{0,60}") {
        let q = RefundQuery { from: Some(from), to: Some(to), size: Some(size), after: Some(cursor.clone()), ..Default::default() }.normalized();
        let _ = (q.from_day(), q.to_day(), q.to_query_string(), parse_cursor(&cursor));
        prop_assert!([20, 50, 100, 200].contains(&q.page_size()));
        if let Some(day) = q.from_day() {
            use chrono::Datelike;
            prop_assert!((2000..=2100).contains(&day.year()));
        }
    }

    #[test]
    fn only_web_links_survive(url in ".{0,80}") {
        if let Some(link) = safe_link(&url) {
            let lower = link.to_ascii_lowercase();
            prop_assert!(lower.starts_with("https://") || lower.starts_with("http://"));
        }
    }

    #[test]
    fn portone_amounts_are_whole_won_or_refused(f in any::<f64>(), i in any::<i64>(), s in ".{0,20}") {
        let _ = won_from_value(&serde_json::json!(f));
        prop_assert_eq!(won_from_value(&serde_json::json!(i)), Ok(i));
        if let Ok(v) = won_from_value(&serde_json::json!(s)) {
            prop_assert!(s.trim().parse::<f64>().is_ok_and(|x| x == v as f64));
        }
    }

    #[test]
    fn the_rules_never_allow_more_than_is_refundable(
        amount in 1i64..10_000_000, cancelled_share in 0u8..=100, typed in ".{0,20}", reason in ".{0,250}",
        method in prop::sample::select(vec!["card", "trans", "vbank", "phone", "kakaopay"]),
        holder in proptest::option::of(".{0,20}"), bank in proptest::option::of("[0-9A-Z]{0,5}"), account in proptest::option::of(".{0,30}"),
        tax_free_share in 0u8..=100, typed_tax_free in proptest::option::of("[0-9]{0,7}"),
        held_share in 0u8..=100,
    ) {
        let cancel_amount = amount * i64::from(cancelled_share) / 100;
        let left = amount - cancel_amount;
        let tax_free = left * i64::from(tax_free_share) / 100;
        let tax_left = TaxLeft { tax_free, vat: portone_refund::server::refund::tax::vat_included(left - tax_free) };
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 3, 0, 0).unwrap();
        let facts = PaymentFacts {
            pay_method: method.into(), pg_provider: "html5_inicis".into(), status: "paid".into(),
            amount, cancel_amount, paid_at: Some(now - chrono::Duration::hours(1)), refund_pending: false,
            tax_left: Some(tax_left),
            tax_split_unread: false,
            // what waiting requests hold
            held: left * i64::from(held_share) / 100,
        };
        let form = RefundForm {
            amount: Some(typed), reason, refund_holder: holder, refund_bank: bank, refund_account: account,
            tax_free: typed_tax_free, ..Default::default()
        };
        if let Ok(valid) = rules::validate(&facts, &form, now) {
            prop_assert!(valid.amount >= 1 && valid.amount <= left - facts.held);
            prop_assert!((1..=200).contains(&valid.reason.chars().count()));
            // the tax-free part and VAT fit in the refund and in what remains of them, and
            // what stays still holds what stays of them
            let t = valid.tax.expect("the payment's split is known");
            prop_assert!(t.tax_free <= tax_left.tax_free && t.vat <= tax_left.vat);
            prop_assert!(t.tax_free + t.vat <= valid.amount);
            prop_assert!(left - valid.amount >= (tax_left.tax_free - t.tax_free) + (tax_left.vat - t.vat));
        }
    }
}
