//! Server-function errors with the HTTP status they mean. Leptos answers every error of a
//! server function with 500; a 500 must mean a server fault, so monitoring can alert on it.
//! A plain form post (no JavaScript) is redirected back by leptos_axum and left alone.

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::AppError;

/// Where leptos_axum mounts server functions.
const SERVER_FN_PREFIX: &str = "/api/";
/// An error body is a short JSON value; anything longer is not one of ours.
const MAX_ERROR_BODY: usize = 16 * 1024;

pub fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::NotSignedIn | AppError::InvalidCredentials | AppError::SecondFactor => {
            StatusCode::UNAUTHORIZED
        }
        AppError::NotFound => StatusCode::NOT_FOUND,
        AppError::TooManyAttempts | AppError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        AppError::Rejected(_) => StatusCode::BAD_REQUEST,
        AppError::Gateway(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        AppError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub async fn with_error_status(request: Request, next: Next) -> Response {
    let is_server_fn = request.uri().path().starts_with(SERVER_FN_PREFIX);
    let response = next.run(request).await;
    if !is_server_fn || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
        parts.status = StatusCode::INTERNAL_SERVER_ERROR;
        return Response::from_parts(parts, Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = status_of(&error);
        if error == AppError::Unavailable {
            parts.headers.insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(crate::server::health::RETRY_AFTER_SECS),
            );
        }
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}
