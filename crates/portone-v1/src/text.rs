//! A payment whose cancel history stays the text PortOne sent until an entry is asked for.
//!
//! The usual answer to a cancel is judged by two entries of a history that may hold thousands:
//! the last one we held and the one the cancel added. Parsing every entry into its fields (four
//! strings each) cost more than the rest of reading the answer (docs/measurements.md), so the
//! answer to a cancel is read this way, and parsed whole only when the usual judgement does not
//! apply. The answer is read in one pass over its text (`PaymentText::from_envelope`): the
//! envelope, the payment and where each entry lies at once.

use std::ops::Range;

use serde_json::value::RawValue;

use crate::types::{CancelHistoryEntry, Envelope, Payment, RawJson};

/// PortOne's payment with each cancel_history entry kept as where it lies in the JSON text.
/// Every entry is checked to be JSON when the payment is read; its fields are read, and
/// checked, when it is parsed.
#[derive(Clone, Debug)]
pub struct PaymentText {
    /// every field but the entries; `cancel_history` says only whether PortOne sent one
    pub head: Payment<()>,
    /// the payment's JSON as PortOne sent it, checked to be JSON when it was read
    text: String,
    /// where each entry lies in `text`, in PortOne's order
    entries: Vec<Range<usize>>,
}

/// A payment read with each entry left as the text it came in.
type Read<'a> = Payment<Vec<&'a RawValue>>;

impl PaymentText {
    /// Reads PortOne's JSON for a payment, keeping that JSON.
    pub fn parse(raw: Box<RawValue>) -> serde_json::Result<PaymentText> {
        let text = raw.get();
        let read: Read = serde_json::from_str(text)?;
        let (head, entries) = split(read, text);
        Ok(PaymentText { head, text: Box::<str>::from(raw).into_string(), entries })
    }

    /// Reads PortOne's whole answer, `{code, message, response}`, in one pass over `body`:
    /// the payment when the answer is `code` 0 with a payment in it; `None` for any other
    /// answer, and for one whose payment this reading cannot place (its `response` key
    /// written with escapes): the caller reads those the general way, which tells why.
    pub fn from_envelope(body: &[u8]) -> Option<PaymentText> {
        let body = std::str::from_utf8(body).ok()?;
        let read: Envelope<Read> = serde_json::from_str(body).ok()?;
        let payment = read.response.filter(|_| read.code == 0)?;
        let (head, spans) = split(payment, body);
        let at = response_at(body, spans.first().zip(spans.last()).map(|(f, l)| f.start..l.end))?;
        let entries = spans.into_iter().map(|e| e.start - at.start..e.end - at.start).collect();
        Some(PaymentText { head, text: body[at].to_owned(), entries })
    }

    /// PortOne's JSON for the payment, as it came.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn into_text(self) -> String {
        self.text
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
        serde_json::from_str(&self.text[at.clone()])
    }

    /// The JSON text of entries `range`, from the first one's start to the last one's end
    /// (empty for an empty range).
    pub fn entries_text(&self, range: Range<usize>) -> &str {
        if range.is_empty() {
            return "";
        }
        match (self.entries.get(range.start), self.entries.get(range.end - 1)) {
            (Some(first), Some(last)) => &self.text[first.start..last.end],
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
        // checked as JSON again here, on the long way only, so that the usual answer is not
        payment.raw = Some(RawJson(RawValue::from_string(self.text.clone())?));
        Ok(payment)
    }
}

/// `read`'s fields but its entries, and where each entry lies in `text`, which `read` was
/// read from.
fn split(read: Read, text: &str) -> (Payment<()>, Vec<Range<usize>>) {
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
    (read.with_history(sent.then_some(())), entries)
}

/// Where the object under the top-level key `response` lies in `body`, a JSON object already
/// read whole (so only brackets, strings and keys need telling apart here). `skip` is a
/// stretch of that object known to be balanced, the history's entries, stepped over rather
/// than scanned: what is left is a few hundred bytes however long the history. `None` when
/// the key is not written plainly or its value is not an object.
fn response_at(body: &str, skip: Option<Range<usize>>) -> Option<Range<usize>> {
    let b = body.as_bytes();
    let (mut i, mut depth) = (0, 0usize);
    let mut expect_key = false;
    let mut key: &[u8] = b"";
    let mut start = None;
    while i < b.len() {
        if let Some(entries) = skip.as_ref().filter(|s| s.start == i) {
            i = entries.end;
            continue;
        }
        match b[i] {
            b'"' => {
                let from = i + 1;
                i = from;
                // to the closing quote; a backslash takes the byte after it along
                loop {
                    match b.get(i)? {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                if expect_key {
                    key = &b[from..i];
                    expect_key = false;
                }
            }
            b':' if depth == 1 && key == b"response" => {
                let at = i + 1 + b[i + 1..].iter().position(|c| !c.is_ascii_whitespace())?;
                if b[at] != b'{' {
                    return None;
                }
                start = Some(at);
            }
            b',' if depth == 1 => expect_key = true,
            b'{' | b'[' => {
                depth += 1;
                expect_key = depth == 1;
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 1 {
                    if let Some(start) = start {
                        return Some(start..i + 1);
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
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
        assert_eq!(t.text(), text(ENTRIES));
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

    /// What the general way reads from PortOne's answer `body`: the envelope, then the payment.
    fn read_in_two(body: &str) -> PaymentText {
        let envelope: Envelope<Box<RawValue>> = serde_json::from_str(body).unwrap();
        PaymentText::parse(envelope.response.unwrap()).unwrap()
    }

    fn same(one: &PaymentText, two: &PaymentText) {
        assert_eq!(one.head, two.head);
        assert_eq!(one.text(), two.text());
        assert_eq!(one.history_len(), two.history_len());
        let n = two.history_len().unwrap_or(0);
        for i in 0..n {
            assert_eq!(one.entry(i).unwrap().unwrap(), two.entry(i).unwrap().unwrap());
        }
        assert_eq!(one.entries_text(0..n), two.entries_text(0..n));
    }

    #[test]
    fn the_answer_read_in_one_pass_is_the_answer_read_in_two() {
        let tricky = r#""cancel_history": [
            {"pg_tid": "t}]1", "amount": 1000, "reason": "[R-00000001] \"},{\"response\": {", "extra": {"response": [1]}},
            {"pg_tid": "t\\2", "amount": 2000, "reason": "\u005B\\\" ]", "receipt_url": null}
        ],"#;
        let histories =
            [ENTRIES, tricky, "", r#""cancel_history": null,"#, r#""cancel_history":[],"#];
        for history in histories {
            let payment = text(history);
            let compact = serde_json::to_string(
                &serde_json::from_str::<serde_json::Value>(&payment).unwrap(),
            )
            .unwrap();
            let bodies = [
                format!(r#"{{"code":0,"message":null,"response":{payment}}}"#),
                format!("{{\n  \"response\" :\t{payment} ,\n  \"code\": 0\n}}\n"),
                format!(
                    r#"{{"message": "\"response\": {{\"a\": [\"", "meta": {{"response": {{}}, "b": ["response"]}}, "response": {compact}, "code": 0}}"#
                ),
            ];
            for body in &bodies {
                let one = PaymentText::from_envelope(body.as_bytes())
                    .unwrap_or_else(|| panic!("not read in one pass: {body}"));
                same(&one, &read_in_two(body));
            }
        }
    }

    #[test]
    fn an_answer_the_one_pass_cannot_place_is_left_to_the_general_way() {
        let payment = text(ENTRIES);
        let left = [
            format!(r#"{{"code":1,"message":"이미 취소된 거래","response":{payment}}}"#),
            r#"{"code":0,"message":null,"response":null}"#.to_string(),
            r#"{"code":0,"message":null}"#.to_string(),
            format!(r#"{{"code":0,"respons\u0065":{payment}}}"#),
            format!(r#"{{"code":0,"response":{payment}"#),
            "<html>502</html>".to_string(),
        ];
        for body in &left {
            assert!(PaymentText::from_envelope(body.as_bytes()).is_none(), "{body}");
        }
        assert!(PaymentText::from_envelope(b"{\"code\":0,\"response\":{\"imp_uid\":\"\xff\"}}")
            .is_none());
        // the escaped key is still read the general way
        same(&read_in_two(&left[3].replace(r"respons\u0065", "response")), &read_in_two(&left[3]));
    }
}
