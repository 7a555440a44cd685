//! Fault injection: rules that make the simulator slow, failing or rude on purpose.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Which endpoint a rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultEndpoint {
    Token,
    Cancel,
    Payment,
    /// `GET /payments/{imp_uid}/balance`
    Balance,
    #[serde(rename = "*")]
    Any,
}

/// What the fault does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Wait this long before handling.
    Latency { ms: u64 },
    /// Answer this HTTP status without applying anything.
    ErrorBefore { status: u16 },
    /// Apply the request (a cancel goes through), then answer this HTTP status.
    ErrorAfter { status: u16 },
    /// Apply the request, then close the connection without answering.
    DropAfter,
    /// Expire the current access token just before checking it (the request gets 401).
    ExpireToken,
    /// Refuse as the PG would: HTTP 200, `code` 1, this message.
    PgReject { message: String },
    /// A cancel passes PortOne's checks, then waits this long before it is applied — the
    /// window in which a second cancel can pass the same checksum when PortOne does not
    /// serialise cancels of one payment (`POST /__sim/config`).
    DelayApply { ms: u64 },
    /// Answer with `null` in every Payment field the V1 spec does not require.
    NullOptionals,
    /// Answer a cancel with the oldest cancel_history entry's amount as a fraction of a won:
    /// a payment that cannot be read whole.
    UnreadableOldestEntry,
    /// A PG that cancels asynchronously: PortOne answers code 0 with the payment as it is (our
    /// entry not yet in its history), and the cancel is applied this long after.
    AcceptLater { ms: u64 },
    /// Answers code 0 as `accept_later` does, and the PG then fails it: nothing is applied.
    AcceptRevert,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    pub endpoint: FaultEndpoint,
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Fire this many times, then retire. With neither count nor probability: every time.
    #[serde(default)]
    pub count: Option<u32>,
    /// Fire with this probability (0..=1) on each matching request.
    #[serde(default)]
    pub probability: Option<f64>,
}

impl FaultRule {
    /// Fires once on `endpoint`, then retires.
    pub fn once(endpoint: FaultEndpoint, kind: FaultKind) -> FaultRule {
        FaultRule { endpoint, kind, count: Some(1), probability: None }
    }

    /// Fires on every matching request.
    pub fn always(endpoint: FaultEndpoint, kind: FaultKind) -> FaultRule {
        FaultRule { endpoint, kind, count: None, probability: None }
    }
}

/// The faults that fire for one request, in rule order.
#[derive(Debug, Default)]
pub struct Fired {
    pub latency_ms: u64,
    pub expire_token: bool,
    pub error_before: Option<u16>,
    pub error_after: Option<u16>,
    pub drop_after: bool,
    pub pg_reject: Option<String>,
    pub delay_apply_ms: u64,
    pub null_optionals: bool,
    pub unreadable_oldest_entry: bool,
    /// Accept a cancel now and apply it this many ms later.
    pub accept_later_ms: Option<u64>,
    /// Accept a cancel now and never apply it.
    pub accept_revert: bool,
    /// The kinds that fired, for the simulator's counters.
    pub kinds: Vec<&'static str>,
}

impl FaultKind {
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Latency { .. } => "latency",
            FaultKind::ErrorBefore { .. } => "error_before",
            FaultKind::ErrorAfter { .. } => "error_after",
            FaultKind::DropAfter => "drop_after",
            FaultKind::ExpireToken => "expire_token",
            FaultKind::PgReject { .. } => "pg_reject",
            FaultKind::DelayApply { .. } => "delay_apply",
            FaultKind::NullOptionals => "null_optionals",
            FaultKind::UnreadableOldestEntry => "unreadable_oldest_entry",
            FaultKind::AcceptLater { .. } => "accept_later",
            FaultKind::AcceptRevert => "accept_revert",
        }
    }
}

/// Picks the rules that fire for `endpoint`, consuming counts.
pub fn fire(rules: &mut Vec<FaultRule>, endpoint: FaultEndpoint, rng: &mut impl Rng) -> Fired {
    let mut fired = Fired::default();
    for rule in rules.iter_mut() {
        if rule.endpoint != endpoint && rule.endpoint != FaultEndpoint::Any {
            continue;
        }
        let fires = match (rule.count, rule.probability) {
            (Some(0), _) => false,
            (_, Some(p)) => rng.gen_bool(p.clamp(0.0, 1.0)),
            _ => true,
        };
        if !fires {
            continue;
        }
        if let Some(n) = rule.count.as_mut() {
            *n -= 1;
        }
        fired.kinds.push(rule.kind.name());
        match &rule.kind {
            FaultKind::Latency { ms } => fired.latency_ms += ms,
            FaultKind::ExpireToken => fired.expire_token = true,
            FaultKind::ErrorBefore { status } => {
                fired.error_before = fired.error_before.or(Some(*status))
            }
            FaultKind::ErrorAfter { status } => {
                fired.error_after = fired.error_after.or(Some(*status))
            }
            FaultKind::DropAfter => fired.drop_after = true,
            FaultKind::PgReject { message } => {
                fired.pg_reject = fired.pg_reject.clone().or(Some(message.clone()))
            }
            FaultKind::DelayApply { ms } => fired.delay_apply_ms += ms,
            FaultKind::NullOptionals => fired.null_optionals = true,
            FaultKind::UnreadableOldestEntry => fired.unreadable_oldest_entry = true,
            FaultKind::AcceptLater { ms } => fired.accept_later_ms = Some(*ms),
            FaultKind::AcceptRevert => fired.accept_revert = true,
        }
    }
    rules.retain(|r| r.count != Some(0));
    fired
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_rules_retire_and_endpoints_filter() {
        let mut rules: Vec<FaultRule> = serde_json::from_value(serde_json::json!([
            {"endpoint": "cancel", "kind": "error_before", "status": 500, "count": 1},
            {"endpoint": "*", "kind": "latency", "ms": 5, "count": 2},
        ]))
        .unwrap();
        let rng = &mut rand::thread_rng();
        let f = fire(&mut rules, FaultEndpoint::Payment, rng);
        assert_eq!((f.latency_ms, f.error_before), (5, None));
        let f = fire(&mut rules, FaultEndpoint::Cancel, rng);
        assert_eq!((f.latency_ms, f.error_before), (5, Some(500)));
        let f = fire(&mut rules, FaultEndpoint::Cancel, rng);
        assert_eq!((f.latency_ms, f.error_before), (0, None));
        assert!(rules.is_empty());
    }
}
