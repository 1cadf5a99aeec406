//! The one error body of this HTTP surface: `{"errorCode": ..., "message": ...}`, as the Delta Sharing
//! protocol defines it. Anything a retry cannot fix is a 4xx (the Python client retries 5xx ten times).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use delta_bridge_shares::{AuthError, LookupError};
use delta_bridge_tables::{Error as TableError, Failure, SignatureError};
use serde_json::json;

const ACCESS_LOG_UNAVAILABLE: &str = "ACCESS_LOG_UNAVAILABLE";

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

    /// A recipient over their requests per second: 429 with `Retry-After` (the Python client retries).
    pub fn rate_limited(per_second: f64, retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RESOURCE_EXHAUSTED",
                format!(
                    "more than {per_second} requests per second with this token; retry in {retry_after} s"
                ),
            )
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", message)
    }

    /// A read that cannot be recorded in the access log is not served (503: the journal may recover,
    /// and the Python client retries).
    pub fn access_log_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ACCESS_LOG_UNAVAILABLE,
            "this server cannot record reads in its access log right now, so it serves none; try again later",
        )
    }

    /// The server refuses to answer from a config that may be missing a revocation.
    pub fn config_refused() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "CONFIG_REFUSED",
            "the server's configuration was refused: a newer share.yaml could not be loaded, so no share is \
             served until an operator fixes share.yaml",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The journal logs why it cannot be written once, not once per refused request.
        if self.status.is_server_error() && self.code != ACCESS_LOG_UNAVAILABLE {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        } else {
            tracing::debug!(status = %self.status, code = self.code, message = %self.message, "request refused");
        }
        let message = if self.status == StatusCode::INTERNAL_SERVER_ERROR {
            "internal error".to_string()
        } else {
            self.message
        };
        let mut response = (
            self.status,
            Json(json!({"errorCode": self.code, "message": message})),
        )
            .into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", err.to_string())
    }
}

impl From<LookupError> for ApiError {
    fn from(err: LookupError) -> Self {
        match err {
            LookupError::Page(page) => ApiError::bad_request(page.to_string()),
            other => ApiError::not_found(other.to_string()),
        }
    }
}

impl From<TableError> for ApiError {
    fn from(err: TableError) -> Self {
        let message = err.to_string();
        match err {
            TableError::InvalidParameter(_) => ApiError::bad_request(message),
            TableError::Unsupported(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "UNSUPPORTED_OPERATION", message)
            }
            TableError::TableNotFound { .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "RESOURCE_DOES_NOT_EXIST", message)
            }
            TableError::CorruptLog { .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "MALFORMED_REQUEST", message)
            }
            TableError::Storage {
                failure: Failure::Missing,
                ..
            } => ApiError::new(StatusCode::BAD_REQUEST, "RESOURCE_DOES_NOT_EXIST", message),
            // The server's own configuration (credentials, permissions, bucket): the log line says what
            // to fix; the client is told only that the server failed.
            TableError::Storage {
                failure: Failure::Refused,
                ..
            } => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", message),
            TableError::Storage {
                failure: Failure::Transient,
                ..
            } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "TEMPORARILY_UNAVAILABLE",
                message,
            ),
        }
    }
}

impl From<SignatureError> for ApiError {
    fn from(err: SignatureError) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "PERMISSION_DENIED", err.to_string())
    }
}
