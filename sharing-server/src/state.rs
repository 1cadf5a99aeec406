//! What every request shares: the config currently in force, the table cache and server settings.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use delta_bridge_access::Journal;
use delta_bridge_limits::RateLimiter;
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

/// A `share.yaml` that differs from the one in force and could not be loaded (unreadable, not YAML, an
/// unknown key from a newer writer, ...): the config in force may be missing a revocation it holds.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// When the first refused file was seen; later refused files keep this time, so rewriting bad files
    /// never extends the grace.
    pub since: Instant,
    /// Why the latest one was refused, for the log only (never shown to clients or `/healthz`).
    pub reason: String,
    /// Whether the log already said that requests are now refused.
    pub announced: bool,
}

/// Shared state of the server.
#[derive(Debug)]
pub struct AppState {
    /// The config in force.
    pub current: ArcSwap<Generation>,
    /// The refused newer file, if there is one (cleared when a valid file, or the one in force, is back).
    pub refusal: Mutex<Option<Refusal>>,
    /// Snapshot cache and storage.
    pub tables: Tables,
    /// Page size of list endpoints when `maxResults` is absent.
    pub default_page_size: u32,
    /// Requests per second one recipient token may make.
    pub token_requests_per_second: f64,
    /// Each token's requests (keyed by the token's hash).
    pub recipients: RateLimiter,
    /// The access log's journal (`--access-log`); without it nothing is recorded.
    pub access: Option<Journal>,
}

impl AppState {
    /// A server's state with `config` (read from bytes whose SHA-256 is `digest`) in force.
    pub fn new(
        config: ShareConfig,
        digest: [u8; 32],
        tables: Tables,
        default_page_size: u32,
        token_requests_per_second: f64,
    ) -> Self {
        AppState {
            current: ArcSwap::from_pointee(Generation {
                config,
                number: 1,
                loaded_at: Utc::now(),
                digest,
            }),
            refusal: Mutex::new(None),
            tables,
            default_page_size,
            token_requests_per_second,
            recipients: RateLimiter::new(
                token_requests_per_second,
                2.0 * token_requests_per_second,
            ),
            access: None,
        }
    }

    /// Records every answer given to a recipient in `journal` ([`crate::access`]).
    pub fn with_access(mut self, journal: Journal) -> Self {
        self.access = Some(journal);
        self
    }

    /// Whether reads can be recorded (always, without an access log).
    pub fn access_log_writable(&self) -> bool {
        self.access.as_ref().is_none_or(Journal::is_healthy)
    }

    /// Whether share requests are refused at `now`: a newer file was refused longer ago than the
    /// `staleConfigGraceSeconds` of the config in force.
    pub fn fails_closed(&self, now: Instant) -> bool {
        let refusal = self.refusal.lock().expect("refusal lock");
        refusal.as_ref().is_some_and(|r| {
            now.saturating_duration_since(r.since)
                >= self.current.load().config.settings.stale_config_grace
        })
    }

    /// Options for a session's table requests, under the config it loaded: local file URLs are signed
    /// for its recipient (the token's name), so downloads are attributed in the access log.
    pub fn serve_options(session: &Session) -> ServeOptions {
        let settings = &session.generation.config.settings;
        ServeOptions {
            url_ttl: settings.pre_signed_url_timeout,
            partition_pruning: settings.evaluate_json_predicate_hints,
            stats_pruning: settings.evaluate_json_predicate_hints_v2,
            refresh: !settings.staleness_acceptable,
            recipient: Some(session.recipient.name.clone()),
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
