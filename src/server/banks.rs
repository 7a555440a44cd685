//! Refund bank codes. PortOne's `refund_bank` code table depends on the payment's PG
//! (PortOne's "PG사별 은행코드" table): the same "11" is 농협 at KG Inicis and SC제일 at 키움페이.
//! Unknown PG/code combinations are refused rather than guessed.

use crate::server::pg::{BankCodes, PgProvider};

/// (bank name, KFTC 3-digit code) — the banks PortOne documents for refunds.
const KFTC: &[(&str, &str)] = &[
    ("KB국민은행", "004"),
    ("SC제일은행", "023"),
    ("경남은행", "039"),
    ("광주은행", "034"),
    ("IBK기업은행", "003"),
    ("NH농협은행", "011"),
    ("대구은행(iM뱅크)", "031"),
    ("부산은행", "032"),
    ("KDB산업은행", "002"),
    ("새마을금고", "045"),
    ("수협은행", "007"),
    ("신한은행", "088"),
    ("신협", "048"),
    ("하나은행", "081"),
    ("우리은행", "020"),
    ("우체국", "071"),
    ("전북은행", "037"),
    ("지역농축협", "012"),
    ("카카오뱅크", "090"),
    ("케이뱅크", "089"),
    ("한국씨티은행", "027"),
    ("토스뱅크", "092"),
];

pub(crate) const NICE_V2: &[&str] =
    &["004", "023", "034", "003", "011", "031", "032", "088", "081", "020", "071", "089"];
pub(crate) const WELCOME: &[&str] =
    &["004", "034", "039", "003", "031", "032", "007", "088", "081", "020", "037", "089"];

/// 키움페이 (daou) has its own numbering and fewer banks.
const DAOU: &[(&str, &str)] = &[
    ("KB국민은행", "04"),
    ("SC제일은행", "11"),
    ("IBK기업은행", "03"),
    ("NH농협은행", "08"),
    ("부산은행", "15"),
    ("신한은행", "10"),
    ("하나은행", "12"),
    ("우리은행", "09"),
    ("우체국", "31"),
];

/// PortOne V2's `Bank` names of the KFTC banks: V2 takes these whatever the PG.
const V2_NAMES: &[(&str, &str)] = &[
    ("004", "KOOKMIN"),
    ("023", "STANDARD_CHARTERED"),
    ("039", "KYONGNAM"),
    ("034", "KWANGJU"),
    ("003", "IBK"),
    ("011", "NONGHYUP"),
    ("031", "DAEGU"),
    ("032", "BUSAN"),
    ("002", "KDB"),
    ("045", "KFCC"),
    ("007", "SUHYUP"),
    ("088", "SHINHAN"),
    ("048", "SHINHYUP"),
    ("081", "HANA"),
    ("020", "WOORI"),
    ("071", "POST"),
    ("037", "JEONBUK"),
    ("012", "LOCAL_NONGHYUP"),
    ("090", "KAKAO"),
    ("089", "K_BANK"),
    ("027", "CITI"),
    ("092", "TOSS"),
];

/// The V2 `Bank` name of a KFTC code.
pub fn v2_bank(code: &str) -> Option<&'static str> {
    V2_NAMES.iter().find(|(c, _)| *c == code).map(|(_, name)| *name)
}

/// The banks a refund for a payment through `pg` may go to: (code, name). Empty when we do
/// not know the PG's table.
pub fn refund_banks(pg: &PgProvider) -> Vec<(String, String)> {
    let named = |code: String, name: &str| (code, name.to_string());
    match pg.bank_codes() {
        BankCodes::V2 => KFTC
            .iter()
            .filter(|(_, code)| v2_bank(code).is_some())
            .map(|(name, code)| named(code.to_string(), name))
            .collect(),
        BankCodes::Kftc(subset) => KFTC
            .iter()
            .filter(|(_, code)| subset.is_none_or(|allowed| allowed.contains(code)))
            .map(|(name, code)| named(code.to_string(), name))
            .collect(),
        BankCodes::InicisTwoDigit => {
            KFTC.iter().map(|(name, code)| named(code[1..].to_string(), name)).collect()
        }
        BankCodes::KcpBk => {
            KFTC.iter().map(|(name, code)| named(format!("BK{}", &code[1..]), name)).collect()
        }
        BankCodes::Daou => DAOU.iter().map(|(name, code)| named(code.to_string(), name)).collect(),
        BankCodes::Unknown => Vec::new(),
    }
}

/// Whether `code` is a refund bank code valid for `pg_provider`.
pub fn is_valid_refund_bank(pg: &PgProvider, code: &str) -> bool {
    refund_banks(pg).iter().any(|(c, _)| c == code)
}

/// The bank's name for display, if the code is valid for the PG.
pub fn bank_name(pg: &PgProvider, code: &str) -> Option<String> {
    refund_banks(pg).into_iter().find(|(c, _)| c == code).map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_differ_per_pg() {
        let cases = [
            ("html5_inicis", "88", true), // 신한 at KG Inicis (the seed guide's example)
            ("html5_inicis", "088", false), // the KFTC form is not Inicis's
            ("html5_inicis", "11", true), // 농협 at Inicis
            ("daou", "11", true),         // SC제일 at 키움페이
            ("daou", "088", false),
            ("kcp", "BK88", true),
            ("kcp", "88", false),
            ("tosspayments", "088", true),
            ("nice_v2", "090", false), // 카카오뱅크 is not in nice_v2's subset
            ("nice_v2", "089", true),
            ("welcome", "007", true),
            ("unknown_pg", "088", false),
            ("NICE_V2", "090", true), // V2 takes its own bank names whatever the PG
            ("KCP_V2", "BK88", false),
        ];
        for (pg, code, valid) in cases {
            assert_eq!(is_valid_refund_bank(&pg.into(), code), valid, "{pg} {code}");
        }
        assert_eq!(bank_name(&"daou".into(), "11").as_deref(), Some("SC제일은행"));
        assert_eq!(bank_name(&"html5_inicis".into(), "11").as_deref(), Some("NH농협은행"));
        assert!(KFTC.iter().all(|(_, code)| v2_bank(code).is_some()));
    }
}
