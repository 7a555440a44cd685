//! 환불 정책, as pure functions: which customers' refunds go straight to PortOne and which
//! wait for an admin as 환불 요청 (`approval.rs`), and how an admin types the policy.

use chrono::{DateTime, Duration, Utc};

use super::rules;

/// The policy in force. `None` is "no limit": the default sends every refund straight on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub auto_max_amount: Option<i64>,
    pub auto_within_days: Option<i32>,
}

impl Policy {
    /// Whether a customer's refund of `amount` on a payment made at `paid_at` goes straight
    /// to PortOne at `now`.
    pub fn goes_straight(
        &self,
        amount: i64,
        paid_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> bool {
        let small = self.auto_max_amount.is_none_or(|max| amount <= max);
        let recent = self.auto_within_days.is_none_or(|days| {
            paid_at.is_some_and(|paid| now - paid <= Duration::days(i64::from(days)))
        });
        small && recent
    }

    /// `50,000원 이하 · 결제 후 7일 이내` — how 환불 정책 and its audit trail say it.
    pub fn describe(&self) -> String {
        let amount = self
            .auto_max_amount
            .map(|m| format!("{} 이하", crate::model::format_won(m)))
            .unwrap_or_else(|| "금액 제한 없음".into());
        let days = self
            .auto_within_days
            .map(|d| format!("결제 후 {d}일 이내"))
            .unwrap_or_else(|| "기간 제한 없음".into());
        format!("{amount} · {days}")
    }
}

/// What an admin typed on 환불 정책: blank is "no limit".
pub fn parse_policy(max_amount: &str, within_days: &str) -> Result<Policy, String> {
    let auto_max_amount = rules::parse_won(max_amount)
        .map_err(|_| "자동 환불 한도는 원 단위의 숫자로 입력해 주세요.".to_string())?;
    let days = within_days.trim().trim_end_matches('일').trim();
    let auto_within_days = if days.is_empty() {
        None
    } else {
        match days.parse::<i32>() {
            Ok(d) if (0..=3650).contains(&d) => Some(d),
            _ => return Err("기간은 0~3650 사이의 일 수로 입력해 주세요.".into()),
        }
    };
    Ok(Policy { auto_max_amount, auto_within_days })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn small_recent_refunds_go_straight_and_the_default_sends_all() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 3, 0, 0).unwrap();
        let paid = |days: i64| Some(now - Duration::days(days) - Duration::minutes(1));
        assert!(Policy::default().goes_straight(10_000_000, paid(400), now));
        let p = Policy { auto_max_amount: Some(50_000), auto_within_days: Some(7) };
        assert!(p.goes_straight(50_000, paid(6), now));
        assert!(!p.goes_straight(50_001, paid(6), now));
        assert!(!p.goes_straight(1_000, paid(7), now));
        assert!(!p.goes_straight(1_000, None, now));
        assert_eq!(p.describe(), "50,000원 이하 · 결제 후 7일 이내");
    }

    #[test]
    fn the_policy_form_takes_blank_as_no_limit() {
        assert_eq!(parse_policy(" ", ""), Ok(Policy::default()));
        assert_eq!(
            parse_policy("50,000원", "7일"),
            Ok(Policy { auto_max_amount: Some(50_000), auto_within_days: Some(7) })
        );
        assert!(parse_policy("5만", "").is_err());
        assert!(parse_policy("", "-1").is_err());
    }
}
