//! The Delta Sharing server: the protocol's HTTP surface over `share.yaml` ([`delta_bridge_shares`])
//! and the tables it names ([`delta_bridge_tables`]).
//!
//! [`serve`] takes a bound listener and a shutdown future, so tests bind port 0 and stop the server
//! when they are done. Handlers only parse a request, call one library function and shape the answer.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use delta_bridge_tables::{LocalSigner, Store, Tables};
use tokio::net::TcpListener;

mod auth;
mod error;
pub mod reload;
mod routes;
mod state;

pub use state::{AppState, Generation, Refusal};

/// Settings from the command line.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// The `share.yaml` to serve: a file (watched) or an S3 object (polled).
    pub config: reload::Source,
    /// Base URL recipients reach this server at, for file URLs (default `http://<listen address>`).
    pub public_url: Option<String>,
    /// Page size of list endpoints when the client sends no `maxResults`.
    pub default_page_size: u32,
    /// Secret for signing local file URLs; replicas behind one address must share it.
    pub signing_key: [u8; 32],
    /// S3 client for `s3://` tables, if configured.
    pub s3: Option<aws_sdk_s3::Client>,
    /// Requests per second one recipient token may make (twice that in a burst); then 429.
    pub token_requests_per_second: f64,
}

/// Serves until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_when_ready(listener, options, shutdown, |_| {}).await
}

/// [`serve`], calling `ready` with the address once `share.yaml` is loaded and watched: from then on a
/// rewrite of the file is a reload (a refused one fails closed), never a failed start.
pub async fn serve_when_ready(
    listener: TcpListener,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(std::net::SocketAddr),
) -> anyhow::Result<()> {
    let address = listener
        .local_addr()
        .context("reading the listen address")?;
    let (config, digest) = reload::load(&options.config).await?;
    if config.is_open() {
        tracing::warn!(
            "share.yaml has no 'authorization' section: every share is readable without a token"
        );
    }
    let endpoint = config.settings.endpoint.clone();
    let public_url = options
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    let signer = LocalSigner::new(
        options.signing_key,
        format!("{}{endpoint}/files", public_url.trim_end_matches('/')),
    );
    let tables = Tables::new(
        Store::new(signer, options.s3.clone()),
        config.settings.delta_table_cache_size,
    );
    let state = Arc::new(AppState::new(
        config,
        digest,
        tables,
        options.default_page_size,
        options.token_requests_per_second,
    ));
    let _watch = reload::watch(state.clone(), options.config.clone())?;
    let app = routes::router(state, &endpoint);
    ready(address);
    tracing::info!("serving {} at {public_url}{endpoint}", options.config);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving")?;
    Ok(())
}
