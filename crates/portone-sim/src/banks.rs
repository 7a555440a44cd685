//! The simulator's own refund-bank table (PortOne's "PG사별 은행코드"), written apart from the
//! refund service's `src/server/banks.rs` so a wrong code there fails against the simulator.

/// KFTC three-digit codes of the banks PortOne lists for refunds.
const KFTC_CODES: &[&str] = &[
    "002", "003", "004", "007", "011", "012", "020", "023", "027", "031", "032", "034", "037",
    "039", "045", "048", "071", "081", "088", "089", "090", "092",
];
/// 키움페이 (daou) numbers banks its own way.
const DAOU_CODES: &[&str] = &["03", "04", "08", "09", "10", "11", "12", "15", "31"];
const NICE_V2_CODES: &[&str] =
    &["003", "004", "011", "020", "023", "031", "032", "034", "071", "081", "088", "089"];
const WELCOME_CODES: &[&str] =
    &["003", "004", "007", "020", "031", "032", "034", "037", "039", "081", "088", "089"];

/// Whether a PG takes `code` as `refund_bank`.
pub fn accepts(pg_provider: &str, code: &str) -> bool {
    let kftc_as = |strip: usize, prefix: &str| {
        KFTC_CODES.iter().any(|k| code.strip_prefix(prefix).is_some_and(|rest| rest == &k[strip..]))
    };
    match pg_provider {
        // KG Inicis: two digits; KCP: "BK" and two digits
        "html5_inicis" | "inicis" | "inicis_unified" => kftc_as(1, ""),
        "kcp" | "kcp_quick" | "kcp_billing" => kftc_as(1, "BK"),
        "daou" => DAOU_CODES.contains(&code),
        "nice_v2" => NICE_V2_CODES.contains(&code),
        "welcome" => WELCOME_CODES.contains(&code),
        "tosspayments" | "uplus" | "danal" | "danal_tpay" | "nice" | "kicc" | "smartro"
        | "smartro_v2" | "settle" | "settle_acc" => kftc_as(0, ""),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_pg_has_its_own_codes() {
        for (pg, code, ok) in [
            ("html5_inicis", "88", true),
            ("html5_inicis", "088", false),
            ("kcp", "BK88", true),
            ("kcp", "88", false),
            ("daou", "11", true),
            ("tosspayments", "088", true),
            ("nice_v2", "090", false),
            ("unknown", "088", false),
        ] {
            assert_eq!(super::accepts(pg, code), ok, "{pg} {code}");
        }
    }
}
