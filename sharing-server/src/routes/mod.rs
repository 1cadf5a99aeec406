//! One line per protocol endpoint.

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{get, head, post};

use crate::state::AppState;

mod files;
mod health;
mod shares;
mod tables;

/// The routes of the API under its prefix, plus `/healthz`, `/readyz` and `/metrics`.
pub fn router(state: Arc<AppState>, prefix: &str) -> Router {
    let table = "/shares/{share}/schemas/{schema}/tables/{table}";
    let api = Router::new()
        .route("/shares", get(shares::list_shares))
        .route("/shares/{share}", get(shares::get_share))
        .route("/shares/{share}/schemas", get(shares::list_schemas))
        .route(
            "/shares/{share}/schemas/{schema}/tables",
            get(shares::list_tables),
        )
        .route("/shares/{share}/all-tables", get(shares::list_all_tables))
        .route(table, head(tables::head_table))
        .route(&format!("{table}/version"), get(tables::table_version))
        .route(&format!("{table}/metadata"), get(tables::table_metadata))
        .route(&format!("{table}/query"), post(tables::query_table))
        .route(&format!("{table}/changes"), get(tables::table_changes))
        // Inside authentication: every answer given to a recipient is recorded before it leaves.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::access::record,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::authenticate,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::time_limit,
        ))
        // Files carry their own credential (a signature in the URL, naming the recipient), never a
        // bearer token.
        .route(
            "/files/{id}",
            get(files::get_file).layer(middleware::from_fn_with_state(
                state.clone(),
                crate::access::record,
            )),
        )
        // Outermost, for every route above: a refused share.yaml stops all of them after the grace.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::fail_closed,
        ));
    let api = if prefix.is_empty() {
        api
    } else {
        Router::new().nest(prefix, api)
    };
    api.route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        // Outermost: every request is counted, by its route's pattern.
        .layer(middleware::from_fn(delta_bridge_telemetry::track))
        .with_state(state)
}
