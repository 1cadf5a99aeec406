//! Who is calling: the `Authorization: Bearer <Firebase ID token>` header, verified, and counted
//! against the user's requests per second.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::AppState;
use crate::error::ApiError;

/// The verified caller's user id (the token's `sub`).
#[derive(Debug, Clone)]
pub struct User(pub String);

impl FromRequestParts<Arc<AppState>> for User {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthenticated(
                "sign in: this request needs an Authorization: Bearer <Firebase ID token> header",
            )
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthenticated(
                    "the Authorization header must be 'Bearer <Firebase ID token>'",
                )
            })?;
        let caller = state.verifier.verify(token).await?;
        state.users.check(&caller.uid).map_err(|limited| {
            ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                format!(
                    "more than {} requests per second from one user; wait {} s",
                    state.limits.user_requests_per_second,
                    limited.retry_after_seconds()
                ),
            )
            .retry_after(limited.retry_after_seconds())
        })?;
        Ok(User(caller.uid))
    }
}
