//! The backend: the authenticated API between the desktop app (or CLI) and storage.
//!
//! [`serve`] takes a bound listener and a shutdown future, so tests bind port 0. Every route but
//! `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, the signed upload route and the activation page
//! needs a Firebase ID token; the logic lives in [`delta_bridge_datasets`], and handlers only parse,
//! call and shape. [`RequestLimits`] bound what any caller can hold: time per request, requests at
//! once, requests per user, and the drain at shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use delta_bridge_datasets::Datasets;
use delta_bridge_identity::Verifier;
use delta_bridge_limits::RateLimiter;
use tokio::net::TcpListener;

mod activation;
mod auth;
mod error;
mod limits;
mod routes;

/// How long requests may take, how many run at once, how often one user may call, and how long
/// shutdown waits for requests in flight.
#[derive(Debug, Clone)]
pub struct RequestLimits {
    /// Longest request (except `/process` and the upload route); then 503.
    pub request_timeout: Duration,
    /// Longest `/process` (it reads uploaded objects back; a retry resumes where it stopped).
    pub process_timeout: Duration,
    /// Longest wait for the next bytes of an upload through the upload route; then it is cut off.
    pub upload_idle_timeout: Duration,
    /// Requests served at once; more wait up to `queue_timeout`, then 503 with `Retry-After`.
    pub concurrent_requests: usize,
    /// How long a request waits for a turn when `concurrent_requests` are under way.
    pub queue_timeout: Duration,
    /// Requests per second one user may make (twice that at once); then 429 with `Retry-After`.
    pub user_requests_per_second: f64,
    /// How long shutdown waits for requests in flight before it stops anyway.
    pub shutdown_grace: Duration,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            request_timeout: Duration::from_secs(30),
            process_timeout: Duration::from_secs(15 * 60),
            upload_idle_timeout: Duration::from_secs(60),
            concurrent_requests: 512,
            queue_timeout: Duration::from_secs(5),
            user_requests_per_second: 20.0,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// What every handler shares.
pub struct AppState {
    /// The datasets service.
    pub datasets: Datasets,
    /// Checks Firebase ID tokens.
    pub verifier: Verifier,
    /// The limits in force.
    pub limits: RequestLimits,
    users: RateLimiter,
    turns: Arc<tokio::sync::Semaphore>,
    /// The OpenAPI document of the routes, rendered once when they are made.
    openapi: std::sync::OnceLock<axum::body::Bytes>,
}

impl AppState {
    /// The state of a backend with these limits.
    pub fn new(datasets: Datasets, verifier: Verifier, limits: RequestLimits) -> AppState {
        let rate = limits.user_requests_per_second;
        AppState {
            datasets,
            verifier,
            users: RateLimiter::new(rate, 2.0 * rate),
            turns: Arc::new(tokio::sync::Semaphore::new(
                limits.concurrent_requests.max(1),
            )),
            limits,
            openapi: Default::default(),
        }
    }
}

/// Serves until `shutdown` completes, then lets the requests in flight finish (for at most
/// [`RequestLimits::shutdown_grace`]) while refusing new connections.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = Arc::new(state);
    let grace = state.limits.shutdown_grace;
    // Keeps share.yaml and storage agreeing with the store (revocations, deletions, vacuum, sweeps).
    let maintenance = {
        let datasets = state.datasets.clone();
        tokio::spawn(async move { datasets.maintain().await })
    };
    let app = routes::router(state);
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    let mut server = server;
    tokio::select! {
        finished = &mut server => {
            maintenance.abort();
            return finished.context("serving")?.context("serving");
        }
        _ = shutdown => {}
    }
    let _ = stopping.send(());
    let drained = tokio::time::timeout(grace, &mut server).await;
    maintenance.abort();
    match drained {
        Ok(finished) => finished.context("serving")?.context("serving"),
        Err(_) => {
            server.abort();
            tracing::warn!(
                "requests still in flight after {} s; stopping anyway",
                grace.as_secs_f64()
            );
            Ok(())
        }
    }
}
