//! The backend: the authenticated API between the desktop app (or CLI) and storage.
//!
//! [`serve`] takes a bound listener and a shutdown future, so tests bind port 0. Every route but
//! `/healthz`, `/openapi.json` and the signed upload route needs a Firebase ID token; the logic lives in
//! [`delta_bridge_datasets`], and handlers only parse, call and shape.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use delta_bridge_datasets::Datasets;
use delta_bridge_identity::Verifier;
use tokio::net::TcpListener;

mod auth;
mod error;
mod routes;

pub use routes::OPENAPI;

/// What every handler shares.
pub struct AppState {
    /// The datasets service.
    pub datasets: Datasets,
    /// Checks Firebase ID tokens.
    pub verifier: Verifier,
}

/// Serves until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = Arc::new(state);
    // Keeps share.yaml and storage agreeing with the store (revocations, deletions, vacuum).
    let maintenance = {
        let datasets = state.datasets.clone();
        tokio::spawn(async move { datasets.maintain().await })
    };
    let app = routes::router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving")?;
    maintenance.abort();
    Ok(())
}
