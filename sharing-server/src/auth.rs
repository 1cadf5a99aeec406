//! Layers of the API routes: failing closed while `share.yaml` is refused, bearer-token authentication,
//! which turns the `Authorization` header into a [`Session`] and counts the token's requests per second,
//! and the request time limit
//! (`requestTimeoutSeconds`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;
use crate::state::{AppState, Session};

/// Answers 503 `CONFIG_REFUSED` to every share request (files included) once a newer `share.yaml` has
/// been refused for longer than the grace: the config in force may still accept a revoked token.
pub async fn fail_closed(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if state.fails_closed(std::time::Instant::now()) {
        return Err(ApiError::config_refused());
    }
    Ok(next.run(request).await)
}

pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let generation = state.current.load_full();
    let token = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let recipient = generation.config.authenticate(token, chrono::Utc::now())?;
    // Counted per token (by its hash, never the token itself), once it is known to be one.
    if let Some(token) = token {
        state
            .recipients
            .check(&delta_bridge_shares::hash_token(token))
            .map_err(|limited| {
                ApiError::rate_limited(
                    state.token_requests_per_second,
                    limited.retry_after_seconds(),
                )
            })?;
    }
    request.extensions_mut().insert(Session {
        generation,
        recipient,
    });
    Ok(next.run(request).await)
}

/// Answers 503 when a request takes longer than `requestTimeoutSeconds` (the Python client retries it).
pub async fn time_limit(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(limit) = state.current.load().config.settings.request_timeout else {
        return Ok(next.run(request).await);
    };
    tokio::time::timeout(limit, next.run(request))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "TEMPORARILY_UNAVAILABLE",
                format!(
                    "the request took longer than {} s (requestTimeoutSeconds)",
                    limit.as_secs()
                ),
            )
        })
}
