//! A payment whose cancel history stays the text PortOne sent until an entry is asked for.
//!
//! The usual answer to a cancel is judged by two entries of a history that may hold thousands:
//! the last one we held and the one the cancel added. Parsing every entry into its fields (four
//! strings each) cost more than the rest of reading the answer (docs/measurements.md), so the
//! answer to a cancel is read this way, and parsed whole only when the usual judgement does not
//! apply.

use std::ops::Range;

use serde_json::value::RawValue;

use crate::types::{CancelHistoryEntry, Payment, RawJson};

/// PortOne's payment with each cancel_history entry kept as where it lies in the JSON text.
/// Every entry is checked to be JSON when the payment is read; its fields are read, and
/// checked, when it is parsed.
#[derive(Clone, Debug)]
pub struct PaymentText {
    /// every field but the entries; `cancel_history` says only whether PortOne sent one
    pub head: Payment<()>,
    raw: RawJson,
    /// where each entry lies in `raw`, in PortOne's order
    entries: Vec<Range<usize>>,
}

impl PaymentText {
    /// Reads PortOne's JSON for a payment, keeping that JSON.
    pub fn parse(raw: Box<RawValue>) -> serde_json::Result<PaymentText> {
        let text = raw.get();
        let read: Payment<Vec<&RawValue>> = serde_json::from_str(text)?;
        let base = text.as_ptr() as usize;
        let entries = read
            .cancel_history
            .iter()
            .flatten()
            .map(|entry| {
                let start = entry.get().as_ptr() as usize - base;
                start..start + entry.get().len()
            })
            .collect();
        let sent = read.cancel_history.is_some();
        let head = read.with_history(sent.then_some(()));
        Ok(PaymentText { head, raw: RawJson(raw), entries })
    }

    /// PortOne's JSON for the payment, as it came.
    pub fn raw(&self) -> &RawJson {
        &self.raw
    }

    pub fn into_raw(self) -> RawJson {
        self.raw
    }

    /// How many entries PortOne sent; `None` when it left the history out or sent `null`.
    pub fn history_len(&self) -> Option<usize> {
        self.head.cancel_history.map(|()| self.entries.len())
    }

    /// Entry `i` (from 0, in PortOne's order), parsed; `None` past the end.
    pub fn entry(&self, i: usize) -> Option<serde_json::Result<CancelHistoryEntry>> {
        self.entries.get(i).map(|at| self.parse_at(at))
    }

    fn parse_at(&self, at: &Range<usize>) -> serde_json::Result<CancelHistoryEntry> {
        serde_json::from_str(&self.raw.get()[at.clone()])
    }

    /// The JSON text of entries `range`, from the first one's start to the last one's end
    /// (empty for an empty range).
    pub fn entries_text(&self, range: Range<usize>) -> &str {
        if range.is_empty() {
            return "";
        }
        match (self.entries.get(range.start), self.entries.get(range.end - 1)) {
            (Some(first), Some(last)) => &self.raw.get()[first.start..last.end],
            _ => "",
        }
    }

    /// The whole payment, every entry parsed.
    pub fn to_payment(&self) -> serde_json::Result<Payment> {
        let history = match self.head.cancel_history {
            Some(()) => Some(
                self.entries
                    .iter()
                    .map(|at| self.parse_at(at))
                    .collect::<serde_json::Result<_>>()?,
            ),
            None => None,
        };
        let mut payment = self.head.clone().with_history(history);
        payment.raw = Some(self.raw.clone());
        Ok(payment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(history: &str) -> String {
        format!(
            r#"{{"imp_uid": "imp_1", "merchant_uid": "m1", "amount": 10000, "cancel_amount": 3000,
                "status": "cancelled", "cancel_reason": "[R-00000002] b", {history}
                "card_quota": 0}}"#
        )
    }

    fn read(history: &str) -> PaymentText {
        PaymentText::parse(RawValue::from_string(text(history)).unwrap()).unwrap()
    }

    const ENTRIES: &str = r#""cancel_history": [
        {"pg_tid": "t1", "amount": 1000, "cancelled_at": 1700000100, "reason": "[R-00000001] a", "cancellation_id": "c1"},
        {"pg_tid": "t2", "amount": "2000", "cancelled_at": 1700000200, "reason": "[R-00000002] b \"q\"", "receipt_url": null}
    ],"#;

    #[test]
    fn parsed_whole_it_is_the_payment_a_full_read_gives() {
        let t = read(ENTRIES);
        let full = Payment::from_raw(RawValue::from_string(text(ENTRIES)).unwrap()).unwrap();
        assert_eq!(t.to_payment().unwrap(), full);
        assert_eq!(t.history_len(), Some(2));
        assert_eq!(t.entry(1).unwrap().unwrap(), full.history()[1]);
        assert!(t.entry(2).is_none());
        assert_eq!(t.raw().get(), text(ENTRIES));
    }

    #[test]
    fn the_text_of_entries_runs_from_the_first_to_the_last() {
        let t = read(ENTRIES);
        let both = t.entries_text(0..2);
        assert!(
            both.starts_with(r#"{"pg_tid": "t1""#) && both.ends_with(r#""receipt_url": null}"#)
        );
        assert!(t.entries_text(0..1).ends_with(r#""cancellation_id": "c1"}"#));
        assert_eq!(
            (t.entries_text(1..1), t.entries_text(0..0), t.entries_text(2..3)),
            ("", "", "")
        );
    }

    #[test]
    fn a_history_left_out_is_told_from_an_empty_one() {
        assert_eq!(read("").history_len(), None);
        assert_eq!(read(r#""cancel_history": null,"#).history_len(), None);
        let empty = read(r#""cancel_history": [],"#);
        assert_eq!(empty.history_len(), Some(0));
        assert_eq!(empty.to_payment().unwrap().cancel_history, Some(vec![]));
        assert_eq!(read("").to_payment().unwrap().cancel_history, None);
    }

    #[test]
    fn an_entry_is_checked_when_it_is_parsed() {
        let t = read(
            r#""cancel_history": [{"amount": 10.5, "reason": "x"}, {"amount": 1000, "reason": "y"}],"#,
        );
        assert_eq!(t.history_len(), Some(2));
        assert!(t.entry(1).unwrap().is_ok());
        assert!(t.entry(0).unwrap().is_err());
        assert!(t.to_payment().is_err());
    }
}
