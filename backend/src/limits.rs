//! Layers that bound what callers can hold: requests at once (a wait for a turn, then 503), time per
//! request (503), and the idle time of an upload's body. Requests per user are counted where the user
//! is known, in [`crate::auth::User`].

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use futures::Stream;

use crate::AppState;
use crate::error::ApiError;

/// A turn among [`crate::RequestLimits::concurrent_requests`]: waits up to the queue timeout, else 503
/// with `Retry-After`.
pub async fn turns(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let turn = tokio::time::timeout(
        state.limits.queue_timeout,
        state.turns.clone().acquire_owned(),
    )
    .await;
    let Ok(Ok(_turn)) = turn else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "BUSY",
            "the backend is serving as many requests as it can; try again in a moment",
        )
        .retry_after(1));
    };
    Ok(next.run(request).await)
}

/// Ends a request that takes longer than `limit` with 503 (the work it started is dropped; every
/// operation is safe to repeat).
pub async fn time_limit(
    limit: Duration,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    tokio::time::timeout(limit, next.run(request))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "TIMEOUT",
                format!(
                    "the request took longer than {} s; try again (work already done is kept)",
                    limit.as_secs()
                ),
            )
        })
}

/// The body of an upload, cut off when no bytes arrive for `idle`.
pub fn idle_limited<S, E>(
    body: S,
    idle: Duration,
) -> impl Stream<Item = Result<Bytes, String>> + Send
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
    E: std::fmt::Display,
{
    futures::stream::unfold(Some(body), move |body| async move {
        let mut body = body?;
        match tokio::time::timeout(idle, futures::StreamExt::next(&mut body)).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(body))),
            Ok(Some(Err(e))) => Some((Err(e.to_string()), None)),
            Ok(None) => None,
            Err(_) => Some((
                Err(format!("no bytes arrived for {} s", idle.as_secs())),
                None,
            )),
        }
    })
}
