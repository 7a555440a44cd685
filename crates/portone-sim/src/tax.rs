//! What a payment's amount is made of — tax-free (면세), supply (공급가액) and VAT (부가세) —
//! and what remains of each after cancels: PortOne's `GET /payments/{imp_uid}/balance`.
//! Set when the payment is made (`tax_free`, and `vat_amount` when the merchant named it);
//! never part of the V1 Payment object.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A payment's tax parts as the simulator keeps them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaxState {
    /// the tax-free part of the payment
    #[serde(default)]
    pub tax_free: i64,
    /// the VAT the merchant named at payment time; `None`: the PG worked it out (1/11 of
    /// the taxable part)
    #[serde(default)]
    pub vat_amount: Option<i64>,
    #[serde(default)]
    pub tax_free_cancelled: i64,
    #[serde(default)]
    pub vat_cancelled: i64,
    /// what remained after each cancel, with its time (the balance's `histories`)
    #[serde(default)]
    pub steps: Vec<Parts>,
}

/// Tax-free, supply and VAT amounts (remaining, or cancelled by one cancel).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parts {
    pub tax_free: i64,
    pub supply: i64,
    pub vat: i64,
    #[serde(default)]
    pub created: i64,
}

/// VAT included in a taxable amount: the amount less its supply value (amount / 1.1, rounded).
pub fn vat_of_taxable(taxable: i64) -> i64 {
    taxable - (taxable * 10 + 5) / 11
}

impl TaxState {
    pub fn vat_total(&self, amount: i64) -> i64 {
        self.vat_amount.unwrap_or_else(|| vat_of_taxable(amount - self.tax_free))
    }

    /// What remains of each part when `cancellable` won of the payment remain.
    pub fn remaining(&self, amount: i64, cancellable: i64) -> Parts {
        let tax_free = self.tax_free - self.tax_free_cancelled;
        let vat = self.vat_total(amount) - self.vat_cancelled;
        Parts { tax_free, vat, supply: cancellable - tax_free - vat, created: 0 }
    }

    /// The parts of a cancel PortOne splits itself (a console cancel): in proportion to
    /// what remains, everything that remains for a full cancel.
    pub fn proportional(&self, amount: i64, cancel: i64, cancellable: i64) -> (i64, i64) {
        let left = self.remaining(amount, cancellable);
        if cancel >= cancellable || cancellable <= 0 {
            return (left.tax_free, left.vat);
        }
        let share = |part: i64| {
            ((part as i128 * cancel as i128 * 2 + cancellable as i128) / (cancellable as i128 * 2))
                as i64
        };
        let tax_free = share(left.tax_free).min(left.tax_free);
        let vat = share(left.vat).min(left.vat).min(cancel - tax_free);
        (tax_free, vat)
    }

    /// What the payment was made of, before any cancel.
    fn original(&self, amount: i64, at: i64) -> Parts {
        let vat = self.vat_total(amount);
        Parts { tax_free: self.tax_free, vat, supply: amount - self.tax_free - vat, created: at }
    }

    /// Books a cancel's parts and remembers what remains after it.
    pub fn record(
        &mut self,
        amount: i64,
        cancellable_after: i64,
        tax_free: i64,
        vat: i64,
        at: i64,
    ) {
        if self.steps.is_empty() {
            self.steps.push(self.original(amount, 0));
        }
        self.tax_free_cancelled += tax_free;
        self.vat_cancelled += vat;
        let mut after = self.remaining(amount, cancellable_after);
        after.created = at;
        self.steps.push(after);
    }

    /// The `response` of `GET /payments/{imp_uid}/balance`.
    pub fn balance(&self, amount: i64, cancellable: i64, paid_at: i64) -> Value {
        let zero = json!({"tax_free": 0, "supply": 0, "vat": 0, "service": 0});
        let parts = |p: &Parts| json!({"tax_free": p.tax_free, "supply": p.supply, "vat": p.vat, "service": 0});
        let original = self.original(amount, paid_at);
        let steps: Vec<Parts> =
            if self.steps.is_empty() { vec![original] } else { self.steps.clone() };
        let histories: Vec<Value> = steps
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({"cash_receipt": zero, "primary": parts(p), "secondary": zero, "discount": zero,
                       "created": if i == 0 { paid_at } else { p.created }})
            })
            .collect();
        json!({
            "amount": amount,
            "cash_receipt": zero,
            "primary": parts(&self.remaining(amount, cancellable)),
            "secondary": zero,
            "discount": zero,
            "histories": histories,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportional_parts_add_up_and_a_full_cancel_takes_what_remains() {
        let mut t = TaxState { tax_free: 6_000, ..Default::default() };
        // 16,000 paid: 6,000 tax-free, 10,000 taxable = 9,091 supply + 909 VAT
        assert_eq!(
            t.remaining(16_000, 16_000),
            Parts { tax_free: 6_000, supply: 9_091, vat: 909, created: 0 }
        );
        let (tf, vat) = t.proportional(16_000, 4_000, 16_000);
        assert_eq!((tf, vat), (1_500, 227));
        t.record(16_000, 12_000, tf, vat, 1);
        assert_eq!(t.proportional(16_000, 12_000, 12_000), (4_500, 682));
    }
}
