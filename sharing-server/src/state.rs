//! What every request shares: the config currently in force, the table cache and server settings.

use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use delta_bridge_shares::{Recipient, ShareConfig};
use delta_bridge_tables::{ServeOptions, Tables};

/// One loaded `share.yaml`. Requests hold the `Arc` they started with, so a reload never changes the
/// config under a request in flight.
#[derive(Debug)]
pub struct Generation {
    /// The parsed file.
    pub config: ShareConfig,
    /// 1 for the file read at start, +1 for each successful reload.
    pub number: u64,
    /// When it was loaded.
    pub loaded_at: DateTime<Utc>,
    /// SHA-256 of the file's bytes, to skip reloading an unchanged file.
    pub digest: [u8; 32],
}

/// Shared state of the server.
#[derive(Debug)]
pub struct AppState {
    /// The config in force.
    pub current: ArcSwap<Generation>,
    /// Why the last reload attempt failed, if it did (cleared by a successful one).
    pub last_error: std::sync::Mutex<Option<String>>,
    /// Snapshot cache and storage.
    pub tables: Tables,
    /// Page size of list endpoints when `maxResults` is absent.
    pub default_page_size: u32,
}

impl AppState {
    /// Options for table requests under a given config.
    pub fn serve_options(config: &ShareConfig) -> ServeOptions {
        let settings = &config.settings;
        ServeOptions {
            url_ttl: settings.pre_signed_url_timeout,
            partition_pruning: settings.evaluate_json_predicate_hints,
            stats_pruning: settings.evaluate_json_predicate_hints_v2,
            refresh: !settings.staleness_acceptable,
        }
    }
}

/// The authenticated caller of one request and the config generation it is answered from.
#[derive(Debug, Clone)]
pub struct Session {
    /// Config in force when the request arrived.
    pub generation: Arc<Generation>,
    /// Who is asking.
    pub recipient: Recipient,
}
