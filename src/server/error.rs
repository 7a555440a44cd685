//! The server side's one error type. Plain functions return it with the cause kept as its
//! source (and shown in its message, so a log line names the cause); it becomes the browser's `AppError` in one place (`From<ServerError> for AppError`
//! below), which logs the cause, and an HTTP status in one place (`status`).

use axum::http::StatusCode;

use crate::error::AppError;
use crate::server::gateway::GatewayError;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// No such thing, or not this user's: indistinguishable on purpose.
    #[error("not found")]
    NotFound,
    /// A rule said no; the Korean sentence is for the user.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The idempotency key was used before with other input.
    #[error("idempotency key reused with different input")]
    KeyReused,
    /// Too many refund requests from this customer in a short time.
    #[error("rate limited")]
    RateLimited,
    #[error("not signed in")]
    NotSignedIn,
    #[error("wrong e-mail or password")]
    InvalidCredentials,
    /// An admin's password was right but the authenticator or recovery code was not.
    #[error("second factor missing or wrong")]
    SecondFactor,
    #[error("too many sign-in attempts")]
    TooManyAttempts,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("PortOne: {0}")]
    PortOne(#[from] GatewayError),
    #[error("session store: {0}")]
    Session(#[from] tower_sessions::session::Error),
    #[error("background task: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// Another writer holds the row for a moment longer than we wait (the payment's lock).
    #[error("busy")]
    Busy,
    /// Something this code assumes was not so (a missing context, a row the schema forbids).
    #[error("broken assumption: {0}")]
    Broken(&'static str),
}

impl ServerError {
    /// True when Postgres could not be reached (down, restarting, or every connection busy
    /// past the pool's timeout): the request may be retried as it is.
    pub fn unavailable(&self) -> bool {
        let ServerError::Database(e) = self else { return false };
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
            sqlx::Error::Tls(_) => true,
            // 08: connection exception; 57P01–57P03: the server is shutting down or starting
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
            _ => false,
        }
    }

    /// The HTTP status for a JSON caller.
    pub fn status(&self) -> StatusCode {
        if self.unavailable() {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        match self {
            ServerError::NotFound => StatusCode::NOT_FOUND,
            ServerError::Rejected(_) | ServerError::KeyReused => StatusCode::BAD_REQUEST,
            ServerError::RateLimited | ServerError::TooManyAttempts => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ServerError::NotSignedIn
            | ServerError::InvalidCredentials
            | ServerError::SecondFactor => StatusCode::UNAUTHORIZED,
            ServerError::PortOne(_) => StatusCode::BAD_GATEWAY,
            ServerError::Busy => StatusCode::CONFLICT,
            ServerError::Database(_)
            | ServerError::Session(_)
            | ServerError::Task(_)
            | ServerError::Broken(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<ServerError> for AppError {
    fn from(e: ServerError) -> Self {
        match e {
            ServerError::NotFound => AppError::NotFound,
            ServerError::Rejected(m) => AppError::Rejected(m),
            ServerError::KeyReused => AppError::Rejected(
                "이미 사용된 환불 요청입니다. 페이지를 새로고침한 뒤 다시 시도해 주세요.".into(),
            ),
            ServerError::RateLimited => AppError::RateLimited,
            ServerError::NotSignedIn => AppError::NotSignedIn,
            ServerError::InvalidCredentials => AppError::InvalidCredentials,
            ServerError::SecondFactor => AppError::SecondFactor,
            ServerError::TooManyAttempts => AppError::TooManyAttempts,
            ServerError::Busy => {
                AppError::Rejected("다른 처리가 진행 중입니다. 잠시 후 다시 시도해 주세요.".into())
            }
            ServerError::PortOne(source) => {
                tracing::warn!(error = %source, "PortOne could not be asked");
                AppError::Rejected(
                    "PortOne에서 결제 정보를 가져오지 못했습니다. 잠시 후 다시 시도해 주세요."
                        .into(),
                )
            }
            unavailable if unavailable.unavailable() => {
                tracing::warn!(error = %unavailable, "database unavailable");
                mark_the_answer(StatusCode::SERVICE_UNAVAILABLE);
                AppError::Unavailable
            }
            internal => {
                tracing::error!(error = %internal, "internal error");
                mark_the_answer(StatusCode::INTERNAL_SERVER_ERROR);
                AppError::Internal
            }
        }
    }
}

/// A page rendered around a failed read would otherwise go out as a 200 with the sentence
/// inside: its status says what happened, and the outage gate (`src/server/health.rs`) turns
/// it into the one 503 page. Outside a render or a server function there is nothing to mark.
fn mark_the_answer(status: StatusCode) {
    if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leptos::prelude::{provide_context, Owner};

    #[test]
    fn a_render_that_meets_an_outage_answers_503_not_200() {
        let owner = Owner::new();
        owner.with(|| {
            let response = leptos_axum::ResponseOptions::default();
            provide_context(response.clone());
            let e = AppError::from(ServerError::Database(sqlx::Error::PoolTimedOut));
            assert_eq!(e, AppError::Unavailable);
            assert_eq!(response.0.read().unwrap().status, Some(StatusCode::SERVICE_UNAVAILABLE));
            let e = AppError::from(ServerError::Broken("x"));
            assert_eq!(e, AppError::Internal);
            assert_eq!(response.0.read().unwrap().status, Some(StatusCode::INTERNAL_SERVER_ERROR));
            // what a user did wrong leaves the answer alone
            let response = leptos_axum::ResponseOptions::default();
            provide_context(response.clone());
            let _ = AppError::from(ServerError::NotFound);
            assert_eq!(response.0.read().unwrap().status, None);
        });
    }
}
