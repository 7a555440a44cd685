//! The PG behind a payment, as PortOne names it (`pg_provider`), and everything that differs
//! by PG: which bank codes a refund account takes, whether a cancel names its VAT, which
//! refunds go to an account or need the holder's phone, and where phone payments refund in
//! part. The rules (`refund/rules.rs`, `refund/tax.rs`, `banks.rs`) ask it; none of them
//! compares a PG's name.

use crate::model::PayMethod;

/// A V1 PG by its `pg_provider` name; a V2 payment's PG (named in upper case, `NICE_V2`);
/// or one this service has no table for (`Other`: it refunds, without refund accounts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PgProvider {
    HtmlInicis,
    Inicis,
    InicisUnified,
    Kcp,
    KcpQuick,
    KcpBilling,
    Daou,
    NiceV2,
    Welcome,
    TossPayments,
    Uplus,
    Danal,
    DanalTpay,
    Nice,
    Kicc,
    Smartro,
    SmartroV2,
    Settle,
    SettleAcc,
    /// PortOne V2's `PgProvider` (`NICE_V2`, `TOSSPAYMENTS`, …)
    V2(String),
    Other(String),
}

/// The V1 names, each with its variant: one table for reading and writing them.
const V1_NAMES: [(&str, PgProvider); 19] = [
    ("html5_inicis", PgProvider::HtmlInicis),
    ("inicis", PgProvider::Inicis),
    ("inicis_unified", PgProvider::InicisUnified),
    ("kcp", PgProvider::Kcp),
    ("kcp_quick", PgProvider::KcpQuick),
    ("kcp_billing", PgProvider::KcpBilling),
    ("daou", PgProvider::Daou),
    ("nice_v2", PgProvider::NiceV2),
    ("welcome", PgProvider::Welcome),
    ("tosspayments", PgProvider::TossPayments),
    ("uplus", PgProvider::Uplus),
    ("danal", PgProvider::Danal),
    ("danal_tpay", PgProvider::DanalTpay),
    ("nice", PgProvider::Nice),
    ("kicc", PgProvider::Kicc),
    ("smartro", PgProvider::Smartro),
    ("smartro_v2", PgProvider::SmartroV2),
    ("settle", PgProvider::Settle),
    ("settle_acc", PgProvider::SettleAcc),
];

/// How a PG writes the bank of a refund account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BankCodes {
    /// KFTC's three-digit codes (`088`), all of them or the PG's subset
    Kftc(Option<&'static [&'static str]>),
    /// KG Inicis: KFTC's codes without the leading zero (`88`)
    InicisTwoDigit,
    /// KCP: `BK` and KFTC's last two digits (`BK88`)
    KcpBk,
    /// Daou's own table
    Daou,
    /// PortOne V2's `Bank` names, sent for KFTC's codes
    V2,
    /// no table known: no refund account can be taken
    Unknown,
}

impl PgProvider {
    pub fn parse(name: &str) -> PgProvider {
        if let Some((_, pg)) = V1_NAMES.iter().find(|(n, _)| *n == name) {
            return pg.clone();
        }
        // V1 names its PGs in lower case, V2 in upper case
        if name.starts_with(|c: char| c.is_ascii_uppercase()) {
            PgProvider::V2(name.to_string())
        } else {
            PgProvider::Other(name.to_string())
        }
    }

    /// PortOne's name for it.
    pub fn as_str(&self) -> &str {
        match self {
            PgProvider::V2(name) | PgProvider::Other(name) => name,
            known => V1_NAMES.iter().find(|(_, pg)| pg == known).map_or("", |(n, _)| n),
        }
    }

    pub fn bank_codes(&self) -> BankCodes {
        use PgProvider::*;
        match self {
            HtmlInicis | Inicis | InicisUnified => BankCodes::InicisTwoDigit,
            Kcp | KcpQuick | KcpBilling => BankCodes::KcpBk,
            Daou => BankCodes::Daou,
            NiceV2 => BankCodes::Kftc(Some(crate::server::banks::NICE_V2)),
            Welcome => BankCodes::Kftc(Some(crate::server::banks::WELCOME)),
            TossPayments | Uplus | Danal | DanalTpay | Nice | Kicc | Smartro | SmartroV2
            | Settle | SettleAcc => BankCodes::Kftc(None),
            V2(_) => BankCodes::V2,
            Other(_) => BankCodes::Unknown,
        }
    }

    /// Whether a cancel names its VAT (`vat_amount`) when the payment named one (PortOne's
    /// reference, `POST /payments/cancel`); other PGs work the VAT out themselves.
    pub fn cancel_names_vat(&self) -> bool {
        matches!(
            self,
            PgProvider::Nice | PgProvider::HtmlInicis | PgProvider::Welcome | PgProvider::NiceV2
        )
    }

    /// Partial refunds of phone payments: KG Inicis only (KCP only with a merchant option
    /// this shop does not have).
    pub fn refunds_phone_in_part(&self) -> bool {
        *self == PgProvider::HtmlInicis
    }

    /// KCP refunds a phone payment of an earlier month to a bank account
    /// ("휴대폰소액결제 익월 환불").
    pub fn refunds_last_months_phone_to_account(&self) -> bool {
        matches!(self, PgProvider::Kcp | PgProvider::KcpQuick)
    }

    /// Whether a refund of `method` goes to an account the customer gives: every virtual
    /// account; bank transfers on smartro_v2.
    pub fn refunds_to_account(&self, method: &PayMethod) -> bool {
        match method {
            PayMethod::Vbank => true,
            PayMethod::Trans => *self == PgProvider::SmartroV2,
            _ => false,
        }
    }

    /// Whether the PG needs the account holder's phone (`refund_tel`): vbank refunds on
    /// smartro (the old module), vbank and bank-transfer refunds on smartro_v2.
    pub fn needs_holder_phone(&self, method: &PayMethod) -> bool {
        match self {
            PgProvider::Smartro => *method == PayMethod::Vbank,
            PgProvider::SmartroV2 => matches!(method, PayMethod::Vbank | PayMethod::Trans),
            _ => false,
        }
    }
}

impl From<&str> for PgProvider {
    fn from(name: &str) -> PgProvider {
        PgProvider::parse(name)
    }
}

impl From<String> for PgProvider {
    fn from(name: String) -> PgProvider {
        PgProvider::parse(&name)
    }
}

impl std::fmt::Display for PgProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_as_written_and_v2_is_told_by_its_case() {
        for (name, pg) in &V1_NAMES {
            assert_eq!((PgProvider::parse(name), pg.as_str()), (pg.clone(), *name));
        }
        assert_eq!(PgProvider::parse("NICE_V2"), PgProvider::V2("NICE_V2".into()));
        assert_eq!(PgProvider::parse("NICE_V2").as_str(), "NICE_V2");
        assert_eq!(PgProvider::parse("paypal"), PgProvider::Other("paypal".into()));
        assert_eq!(PgProvider::parse("paypal").bank_codes(), BankCodes::Unknown);
    }

    #[test]
    fn per_pg_rules() {
        use PayMethod::*;
        let pg = PgProvider::parse;
        let cases = [
            // (pg, transfer to account, holder phone for vbank, for trans, phone in part)
            ("smartro_v2", true, true, true, false),
            ("smartro", false, true, false, false),
            ("html5_inicis", false, false, false, true),
            ("kcp", false, false, false, false),
        ];
        for (name, transfer, tel_vbank, tel_trans, part) in cases {
            let p = pg(name);
            assert_eq!(
                (
                    p.refunds_to_account(&Trans),
                    p.needs_holder_phone(&Vbank),
                    p.needs_holder_phone(&Trans),
                    p.refunds_phone_in_part()
                ),
                (transfer, tel_vbank, tel_trans, part),
                "{name}"
            );
            assert!(p.refunds_to_account(&Vbank) && !p.refunds_to_account(&Card));
        }
        assert!(pg("kcp_quick").refunds_last_months_phone_to_account());
        assert!(!pg("html5_inicis").refunds_last_months_phone_to_account());
        assert!(pg("nice_v2").cancel_names_vat() && !pg("kcp").cancel_names_vat());
    }
}
