//! The one error type the browser may see. Every variant reads as a Korean sentence and
//! carries no internals; the real cause is logged with `tracing` where it is converted.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("로그인이 필요합니다.")]
    NotSignedIn,
    #[error("요청하신 주문을 찾을 수 없습니다.")]
    NotFound,
    #[error("이메일 또는 비밀번호가 올바르지 않습니다.")]
    InvalidCredentials,
    #[error(
        "관리자 인증 코드가 올바르지 않습니다. 인증 앱의 6자리 코드나 복구 코드를 입력해 주세요."
    )]
    SecondFactor,
    #[error("로그인 시도가 너무 많습니다. 잠시 후 다시 시도해 주세요.")]
    TooManyAttempts,
    #[error("요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.")]
    RateLimited,
    /// A refund or input rule said no; the sentence says which.
    #[error("{0}")]
    Rejected(String),
    /// The gateway refused; its message (already Korean) is shown as sent.
    #[error("환불에 실패했습니다: {0}")]
    Gateway(String),
    /// The database is away for a moment: 503 with `Retry-After`.
    #[error("잠시 서비스를 이용할 수 없습니다. 잠시 후 다시 시도해 주세요.")]
    Unavailable,
    #[error("일시적인 오류가 발생했습니다. 잠시 후 다시 시도해 주세요.")]
    Internal,
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                AppError::Rejected("입력값을 확인해 주세요.".into())
            }
            // On the server this is a request body that could not be read as text (invalid
            // UTF-8, a broken upload): the sender's fault, a 400. In the browser it is an
            // answer the page could not read, which is no fault of what was typed.
            ServerFnErrorErr::Deserialization(_) if cfg!(feature = "ssr") => {
                AppError::Rejected("입력값을 확인해 주세요.".into())
            }
            _ => AppError::Internal,
        }
    }
}
