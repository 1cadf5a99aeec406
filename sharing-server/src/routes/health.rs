use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
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

/// `GET /readyz`: 200 while this replica serves shares, 503 once it fails closed (a refused share.yaml
/// past its grace) or cannot write its access log, for a load balancer to send requests elsewhere.
pub async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Value>) {
    if state.fails_closed(std::time::Instant::now()) || !state.access_log_writable() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "refusing"})),
        )
    } else {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    }
}

/// `GET /metrics`: requests by route and status with their latency, the config in force (its
/// `generation`, its age, whether a newer one is refused, how many were refused), and the access log's
/// records and segments waiting to be shipped.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let current = state.current.load();
    let age = chrono::Utc::now() - current.loaded_at;
    metrics::gauge!("delta_bridge_sharing_config_loads").set(current.number as f64);
    metrics::gauge!("delta_bridge_sharing_config_generation")
        .set(current.config.generation().map_or(-1.0, |g| g as f64));
    metrics::gauge!("delta_bridge_sharing_config_age_seconds")
        .set(age.num_milliseconds() as f64 / 1000.0);
    metrics::gauge!("delta_bridge_sharing_config_refused").set(
        if state.refusal.lock().expect("refusal lock").is_some() {
            1.0
        } else {
            0.0
        },
    );
    metrics::gauge!("delta_bridge_sharing_failing_closed").set(
        if state.fails_closed(std::time::Instant::now()) {
            1.0
        } else {
            0.0
        },
    );
    if let Some(journal) = &state.access {
        // Also set by the shipper, but maybe before the recorder existed (it is made at the first request).
        metrics::gauge!("delta_bridge_access_segments_pending").set(journal.stats().pending as f64);
    }
    delta_bridge_telemetry::render()
}
