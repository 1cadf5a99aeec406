use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::state::AppState;

/// `GET /healthz`: the config generation in force and the last reload error, if any.
pub async fn healthz(State(state): State<Arc<AppState>>) -> Json<Value> {
    let current = state.current.load();
    let last_error = state.last_error.lock().expect("error lock").clone();
    Json(json!({
        "status": "ok",
        "generation": current.number,
        "loadedAt": current.loaded_at.to_rfc3339(),
        "lastReloadError": last_error,
    }))
}
