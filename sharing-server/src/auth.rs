//! Bearer-token authentication: a layer that turns the `Authorization` header into a [`Session`].

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::ApiError;
use crate::state::{AppState, Session};

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
    request.extensions_mut().insert(Session {
        generation,
        recipient,
    });
    Ok(next.run(request).await)
}
