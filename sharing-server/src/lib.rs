//! The Delta Sharing server: the protocol's HTTP surface over `share.yaml` ([`delta_bridge_shares`])
//! and the tables it names ([`delta_bridge_tables`]).
//!
//! [`serve`] takes a bound listener and a shutdown future, so tests bind port 0 and stop the server
//! when they are done. Handlers only parse a request, call one library function and shape the answer.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use delta_bridge_access::{Destination, Journal};
use delta_bridge_tables::{LocalSigner, Store, Tables};
use tokio::net::TcpListener;

mod access;
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
    /// The access log; `None` records nothing.
    pub access: Option<AccessOptions>,
}

/// Where the access log goes (`--access-log`, `--access-journal`, `--access-ship-seconds`).
#[derive(Debug, Clone)]
pub struct AccessOptions {
    /// Where closed segments are shipped.
    pub destination: Destination,
    /// The journal directory on this machine's disk.
    pub journal: PathBuf,
    /// How often the open segment is closed and shipped.
    pub ship_interval: Duration,
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
    let mut state = AppState::new(
        config,
        digest,
        tables,
        options.default_page_size,
        options.token_requests_per_second,
    );
    match &options.access {
        Some(access) => {
            let journal = Journal::open(
                &access.journal,
                access.destination.clone(),
                access.ship_interval,
            )
            .await
            .with_context(|| format!("opening the access journal {}", access.journal.display()))?;
            tracing::info!(
                "recording every read in the access log: journal {}, shipped every {:.1} s to {} as server {}",
                access.journal.display(),
                access.ship_interval.as_secs_f64(),
                access.destination,
                journal.server()
            );
            state = state.with_access(journal);
        }
        None => tracing::info!("no --access-log: reads are not recorded"),
    }
    let state = Arc::new(state);
    let _watch = reload::watch(state.clone(), options.config.clone())?;
    let app = routes::router(state.clone(), &endpoint);
    ready(address);
    tracing::info!("serving {} at {public_url}{endpoint}", options.config);
    let served = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("serving");
    // The requests are answered: close the open segment and ship it.
    if let Some(journal) = &state.access {
        journal.shutdown().await;
    }
    served
}
