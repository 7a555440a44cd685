//! 면세/부가세: the tax-free and VAT parts of a refund, as pure functions. A payment's parts
//! and what remains of them come from PortOne's balance (`payments::store_balance`); a
//! partial refund takes them in proportion to what remains, a full refund takes exactly what
//! remains, and an admin may name them.

use super::refusal::Refusal;

/// What remains of a payment's tax-free part and its VAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaxLeft {
    pub tax_free: i64,
    pub vat: i64,
}

/// A refund's tax-free part and VAT, as sent to PortOne.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaxParts {
    pub tax_free: i64,
    pub vat: i64,
}

/// The VAT included in a taxable amount: the amount less its supply value (amount / 1.1,
/// rounded), as the PGs work it out when the merchant names none.
pub fn vat_included(taxable: i64) -> i64 {
    taxable - (taxable * 10 + 5) / 11
}

/// `part × amount / cancellable`, rounded half up, in integers.
fn share(part: i64, amount: i64, cancellable: i64) -> i64 {
    let (part, amount, cancellable) = (part as i128, amount as i128, cancellable as i128);
    ((part * amount * 2 + cancellable) / (cancellable * 2)) as i64
}

/// The parts of refunding `amount` of `cancellable`: in proportion to what remains; all that
/// remains when the refund takes the whole balance.
pub fn proportional(left: TaxLeft, amount: i64, cancellable: i64) -> TaxParts {
    if amount >= cancellable || cancellable <= 0 {
        return TaxParts { tax_free: left.tax_free, vat: left.vat };
    }
    let mut tax_free = share(left.tax_free, amount, cancellable).min(left.tax_free);
    let mut vat = share(left.vat, amount, cancellable).min(left.vat).min(amount - tax_free);
    // rounding must not leave more tax-free money and VAT than money
    let over = (left.tax_free - tax_free) + (left.vat - vat) - (cancellable - amount);
    if over > 0 {
        let more = over.min(left.tax_free - tax_free).min(amount - tax_free - vat);
        tax_free += more;
        vat += (over - more).min(left.vat - vat).min(amount - tax_free - vat);
    }
    TaxParts { tax_free, vat }
}

/// Parts an admin typed, checked against what remains; `None` typed means "work it out".
pub fn explicit(
    left: Option<TaxLeft>,
    amount: i64,
    cancellable: i64,
    typed: (Option<i64>, Option<i64>),
) -> Result<Option<TaxParts>, Refusal> {
    let Some(left) = left else {
        if typed.0.is_some() || typed.1.is_some() {
            return Err(Refusal::NoTaxSplitToName);
        }
        return Ok(None);
    };
    let auto = proportional(left, amount, cancellable);
    let parts =
        TaxParts { tax_free: typed.0.unwrap_or(auto.tax_free), vat: typed.1.unwrap_or(auto.vat) };
    if parts.tax_free > left.tax_free {
        return Err(Refusal::TaxFreeOverLeft { left: left.tax_free });
    }
    if parts.vat > left.vat {
        return Err(Refusal::VatOverLeft { left: left.vat });
    }
    if parts.tax_free + parts.vat > amount {
        return Err(Refusal::TaxPartsOverAmount);
    }
    if amount == cancellable && parts != auto {
        return Err(Refusal::FullRefundTakesAllTax { tax_free: left.tax_free, vat: left.vat });
    }
    // what stays must still hold the tax-free part and VAT that stay
    if cancellable - amount < (left.tax_free - parts.tax_free) + (left.vat - parts.vat) {
        return Err(Refusal::TaxLeftOverRest);
    }
    Ok(Some(parts))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEFT: TaxLeft = TaxLeft { tax_free: 6_000, vat: 909 };

    #[test]
    fn proportional_parts_follow_what_remains_and_a_full_refund_takes_it_all() {
        assert_eq!(proportional(LEFT, 4_000, 16_000), TaxParts { tax_free: 1_500, vat: 227 });
        assert_eq!(proportional(LEFT, 16_000, 16_000), TaxParts { tax_free: 6_000, vat: 909 });
        assert_eq!(proportional(LEFT, 1, 16_000), TaxParts { tax_free: 0, vat: 0 });
        // every amount: the parts never exceed the amount or what remains
        for amount in (1..=16_000).step_by(7) {
            let p = proportional(LEFT, amount, 16_000);
            assert!(p.tax_free + p.vat <= amount && p.tax_free <= 6_000 && p.vat <= 909);
        }
    }

    #[test]
    fn explicit_parts_are_checked_against_what_remains() {
        type Typed = (Option<i64>, Option<i64>);
        let cases: &[(Typed, i64, Result<TaxParts, &str>)] = &[
            ((None, None), 4_000, Ok(TaxParts { tax_free: 1_500, vat: 227 })),
            ((Some(4_000), Some(0)), 4_000, Ok(TaxParts { tax_free: 4_000, vat: 0 })),
            ((Some(6_001), None), 8_000, Err("면세 금액이 남은 면세 금액(6,000원)을 넘습니다.")),
            ((None, Some(910)), 8_000, Err("부가세가 남은 부가세(909원)를 넘습니다.")),
            ((Some(3_900), Some(200)), 4_000, Err("면세 금액과 부가세의 합이 환불 금액을 넘습니다.")),
            ((Some(0), None), 16_000, Err("남은 금액 전부를 환불할 때는 면세 6,000원, 부가세 909원이어야 합니다.")),
            ((Some(0), Some(0)), 10_000, Err("남는 금액이 남는 면세 금액과 부가세보다 적어집니다. 면세 금액이나 부가세를 늘려 주세요.")),
        ];
        for (typed, amount, expected) in cases {
            let got = explicit(Some(LEFT), *amount, 16_000, *typed).map(Option::unwrap);
            let got = got.map_err(|refusal| refusal.to_string());
            assert_eq!(got, expected.map_err(String::from), "{typed:?} of {amount}");
        }
        assert_eq!(explicit(None, 100, 16_000, (None, None)), Ok(None));
        assert!(explicit(None, 100, 16_000, (Some(1), None)).is_err());
    }
}
