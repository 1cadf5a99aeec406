//! The one error body of this HTTP surface: `{"error": {"code": ..., "message": ...}}`. 4xx for the
//! caller's mistakes; server-side failures say only that they happened (the detail goes to the log).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use delta_bridge_datasets::Error;
use delta_bridge_datasets::api::{ErrorBody, ErrorDetail};

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Tells the caller to wait this many seconds (`Retry-After`).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (status, code) = match &e {
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            Error::Invalid(_) => (StatusCode::BAD_REQUEST, "INVALID_REQUEST"),
            Error::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
            Error::Gone(_) => (StatusCode::GONE, "GONE"),
            Error::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "TOO_LARGE"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            Error::Quota(_) => (StatusCode::FORBIDDEN, "QUOTA_EXCEEDED"),
            Error::Busy(_) => (StatusCode::CONFLICT, "BUSY"),
            Error::Storage(_) => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
            Error::Database(_)
            | Error::ShareFile(_)
            | Error::StorageRefused(_)
            | Error::SecretMismatch(_)
            | Error::SecretUnknown(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
        };
        if let Some(detail) = e.detail() {
            tracing::error!("{e}: {detail}");
        }
        ApiError::new(status, code, e.to_string())
    }
}

impl From<delta_bridge_identity::Error> for ApiError {
    fn from(e: delta_bridge_identity::Error) -> Self {
        match e {
            delta_bridge_identity::Error::KeysUnavailable(detail) => {
                tracing::error!("Firebase certificates unavailable: {detail}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "UNAVAILABLE",
                    "sign-in cannot be checked right now, try again",
                )
            }
            delta_bridge_identity::Error::NotAllowed(message) => {
                ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
            }
            other => ApiError::unauthenticated(other.to_string()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        let status = match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "TOO_LARGE",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
            _ => "INVALID_REQUEST",
        };
        ApiError::new(status, code, e.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", e.body_text())
    }
}
