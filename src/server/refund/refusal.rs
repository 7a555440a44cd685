//! Why the refund rules refuse (`rules.rs`, `tax.rs`): one enum whose Display is the Korean
//! sentence the customer reads, and can act on. The sentences are the product's words; tests
//! compare them.

use crate::model::format_won;

pub const ALREADY_FULLY_REFUNDED: &str = "이미 전액환불된 주문입니다.";
pub const REFUND_IN_PROGRESS: &str = "처리 중인 환불이 있습니다. 잠시 후 다시 확인해 주세요.";
pub const REQUESTS_HOLD_THE_REST: &str =
    "남은 금액은 모두 검토 중인 환불 요청에 묶여 있습니다. 요청이 처리된 뒤 다시 확인해 주세요.";
pub const TAX_SPLIT_UNREAD: &str =
    "면세 금액을 PortOne에서 아직 확인하지 못했습니다. 잠시 후 다시 시도해 주세요.";

/// A won amount the form names, in the sentence's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WonField {
    /// 환불 금액
    Amount,
    /// 면세 금액
    TaxFree,
    /// 부가세 금액
    Vat,
}

impl WonField {
    fn name(self) -> &'static str {
        match self {
            WonField::Amount => "환불 금액",
            WonField::TaxFree => "면세 금액",
            WonField::Vat => "부가세 금액",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("결제가 완료되지 않은 주문은 환불할 수 없습니다.")]
    NotPaid,
    #[error("{ALREADY_FULLY_REFUNDED}")]
    AlreadyFullyRefunded,
    #[error("{REQUESTS_HOLD_THE_REST}")]
    RequestsHoldTheRest,
    #[error("{REFUND_IN_PROGRESS}")]
    RefundInProgress,
    #[error("결제일을 알 수 없는 휴대폰 결제는 환불할 수 없습니다.")]
    PhonePaidAtUnknown,
    #[error("휴대폰 소액결제는 결제한 달에만 환불할 수 있습니다. ({year}년 {month}월 결제)")]
    PhoneOutsideItsMonth { year: i32, month: u32 },
    #[error("{}은 원 단위의 숫자로 입력해 주세요.", .0.name())]
    NotWholeWon(WonField),
    #[error("{}이 너무 큽니다.", .0.name())]
    WonTooLarge(WonField),
    #[error("환불 금액은 1원 이상이어야 합니다.")]
    BelowOneWon,
    #[error("환불 금액이 환불 가능 금액({})을 넘습니다.", format_won(*refundable))]
    OverRefundable { refundable: i64 },
    #[error("이 결제수단은 부분환불이 되지 않습니다. 전액만 환불할 수 있습니다.")]
    NoPartialRefund,
    #[error("환불 사유를 입력해 주세요.")]
    NoReason,
    #[error("환불 사유는 200자 이내로 입력해 주세요.")]
    ReasonTooLong,
    #[error("{TAX_SPLIT_UNREAD}")]
    TaxSplitUnread,
    #[error("이 결제는 PortOne에 면세·부가세 내역이 없어 직접 지정할 수 없습니다.")]
    NoTaxSplitToName,
    #[error("면세 금액이 남은 면세 금액({})을 넘습니다.", format_won(*left))]
    TaxFreeOverLeft { left: i64 },
    #[error("부가세가 남은 부가세({})를 넘습니다.", format_won(*left))]
    VatOverLeft { left: i64 },
    #[error("면세 금액과 부가세의 합이 환불 금액을 넘습니다.")]
    TaxPartsOverAmount,
    #[error(
        "남은 금액 전부를 환불할 때는 면세 {}, 부가세 {}이어야 합니다.",
        format_won(*tax_free),
        format_won(*vat)
    )]
    FullRefundTakesAllTax { tax_free: i64, vat: i64 },
    #[error(
        "남는 금액이 남는 면세 금액과 부가세보다 적어집니다. 면세 금액이나 부가세를 늘려 주세요."
    )]
    TaxLeftOverRest,
    #[error("이 결제는 환불받을 계좌의 예금주, 은행, 계좌번호를 모두 입력해 주세요.")]
    AccountIncomplete,
    #[error("예금주는 16자 이내로 입력해 주세요.")]
    HolderTooLong,
    #[error("선택한 은행으로는 환불할 수 없습니다. 목록에서 은행을 선택해 주세요.")]
    BankNotForThisPg,
    #[error("계좌번호는 6~16자리 숫자로 입력해 주세요.")]
    AccountNumberMalformed,
    #[error("예금주 연락처를 9~11자리 전화번호로 입력해 주세요.")]
    HolderPhoneMalformed,
}
