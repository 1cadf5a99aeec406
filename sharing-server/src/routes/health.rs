use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::state::AppState;

/// `GET /healthz`, without authentication: `ok`, or `degraded` while a newer share.yaml is refused; the
/// config generation in force (reload count and the file's `generation`). Never why a file was refused:
/// the reason names shares, tables and locations, and goes to the log instead.
pub async fn healthz(State(state): State<Arc<AppState>>) -> Json<Value> {
    let current = state.current.load();
    let refused = state.refusal.lock().expect("refusal lock").is_some();
    Json(json!({
        "status": if refused { "degraded" } else { "ok" },
        "generation": current.number,
        "shareGeneration": current.config.generation(),
        "loadedAt": current.loaded_at.to_rfc3339(),
    }))
}
