//! The one error type of HTTP handlers: a precise 4xx for the client's mistakes, a generic 5xx for ours
//! with the detail logged.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// An error answered to an HTTP client. Bodies are JSON strings, as Alertmanager's v2 API answers errors.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// Something failed on our side; the detail is logged, the client gets a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<clarion_store::StoreError> for AppError {
    fn from(e: clarion_store::StoreError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<crate::outbox::OutboxError> for AppError {
    fn from(e: crate::outbox::OutboxError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl From<crate::intake::IntakeError> for AppError {
    fn from(e: crate::intake::IntakeError) -> Self {
        AppError::Internal(e.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            AppError::Internal(detail) => {
                tracing::error!(error = %detail, "request failed");
                "internal error; see the server log".to_string()
            }
            other => other.to_string(),
        };
        let body = serde_json::to_string(&message).unwrap_or_else(|_| "\"error\"".into());
        let mut resp =
            (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"clarion\""));
        }
        resp
    }
}
