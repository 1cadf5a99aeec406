use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use delta_bridge_shares::ConfigLocation;
use delta_bridge_sharing::reload::Source;
use delta_bridge_sharing::{AccessOptions, ServerOptions, serve_when_ready};
use delta_bridge_telemetry::LogFormat;

/// Delta Sharing server for the tables named in a share.yaml (reference-server format).
///
/// The file is watched: edits take effect within a second, with no restart and no dropped request
/// (SIGHUP forces a reload). Tables may live on local disk (file:///...) or S3 (s3://bucket/path).
#[derive(Debug, Parser)]
#[command(name = "delta-bridge-sharing", version)]
struct Args {
    /// The share.yaml to serve: a path (watched), or s3://bucket/key (polled; the backend on another
    /// machine writes it there).
    #[arg(long, env = "DELTA_BRIDGE_SHARE_CONFIG", value_parser = ConfigLocation::parse)]
    config: ConfigLocation,
    /// How often an s3:// share.yaml is asked for, in seconds (a revocation reaches this server within
    /// about that long).
    #[arg(long, env = "DELTA_BRIDGE_CONFIG_POLL_SECONDS", default_value_t = 2.0)]
    config_poll_seconds: f64,
    /// Address to listen on (default: host and port from share.yaml).
    #[arg(long, env = "DELTA_BRIDGE_SHARING_LISTEN")]
    listen: Option<SocketAddr>,
    /// URL recipients reach this server at, used in file URLs (default: http://<listen address>).
    #[arg(long, env = "DELTA_BRIDGE_SHARING_PUBLIC_URL")]
    public_url: Option<String>,
    /// Page size of list endpoints when the client sends no maxResults (1-500).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=500))]
    page_size: u32,
    /// File holding the secret that signs local file URLs (shared by replicas); random if absent.
    #[arg(long, env = "DELTA_BRIDGE_SIGNING_KEY_FILE")]
    signing_key_file: Option<PathBuf>,
    /// S3 endpoint for S3-compatible servers. Credentials come from the AWS SDK's default chain:
    /// environment, profile (AWS_PROFILE), SSO, web identity, container or instance role.
    #[arg(long, env = "DELTA_BRIDGE_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// S3 region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    s3_region: String,
    /// Use path-style S3 addressing (http://host/bucket/key), as most S3-compatible servers need.
    #[arg(long, env = "DELTA_BRIDGE_S3_PATH_STYLE")]
    s3_path_style: bool,
    /// Longest S3 call, retries included, in seconds.
    #[arg(long, default_value_t = 90)]
    s3_operation_timeout_seconds: u64,
    /// Longest single attempt of an S3 call, in seconds.
    #[arg(long, default_value_t = 30)]
    s3_attempt_timeout_seconds: u64,
    /// Requests per second one recipient token may make (twice that in a burst); then 429 with
    /// Retry-After, which the official client retries.
    #[arg(long, default_value_t = 100.0)]
    token_requests_per_second: f64,
    /// Records every request answered for a recipient (and every file download) in an access log
    /// shipped to this directory or s3://bucket/prefix, as <server>/<segment>.jsonl (the backend reads
    /// it there). Each record is on disk before its answer leaves; a read that cannot be recorded is
    /// answered 503. Without it, nothing is recorded.
    #[arg(long, env = "DELTA_BRIDGE_ACCESS_LOG", value_parser = delta_bridge_access::Location::parse)]
    access_log: Option<delta_bridge_access::Location>,
    /// The access log's journal on this machine's disk, where records wait until shipped (default:
    /// DEST/.journal for a directory --access-log; required for s3://). One per server process.
    #[arg(long, env = "DELTA_BRIDGE_ACCESS_JOURNAL")]
    access_journal: Option<PathBuf>,
    /// How often the access log's open segment is closed and shipped, in seconds.
    #[arg(long, env = "DELTA_BRIDGE_ACCESS_SHIP_SECONDS", default_value_t = 5.0)]
    access_ship_seconds: f64,
    /// Logs on standard error as text, or as one JSON object per line (filtered by DELTA_BRIDGE_LOG).
    #[arg(long, env = "DELTA_BRIDGE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    delta_bridge_telemetry::init_logs(args.log_format, "DELTA_BRIDGE_LOG");
    // Built for every server (a client is lazy: credentials are looked for when an s3:// table or
    // share.yaml is read).
    let s3 = delta_bridge_tables::s3_client(
        &delta_bridge_tables::S3Settings {
            endpoint: args.s3_endpoint.clone(),
            region: args.s3_region.clone(),
            path_style: args.s3_path_style,
            timeouts: delta_bridge_tables::S3Timeouts {
                attempt: std::time::Duration::from_secs(args.s3_attempt_timeout_seconds.max(1)),
                operation: std::time::Duration::from_secs(args.s3_operation_timeout_seconds.max(1)),
                ..Default::default()
            },
        },
        false,
    )
    .await
    .map_err(|e| anyhow::anyhow!(e))?;
    let source = match args.config.clone() {
        ConfigLocation::File(path) => Source::File(path),
        ConfigLocation::Object { bucket, key } => {
            anyhow::ensure!(
                args.config_poll_seconds.is_finite() && args.config_poll_seconds >= 0.1,
                "--config-poll-seconds must be at least 0.1"
            );
            Source::Object {
                client: s3.clone(),
                bucket,
                key,
                poll: std::time::Duration::from_secs_f64(args.config_poll_seconds),
            }
        }
    };
    let access = access_options(&args, &s3)?;
    let (config, _) = delta_bridge_sharing::reload::load(&source).await?;
    let listen = match args.listen {
        Some(address) => address,
        None => {
            let host = config.settings.host.clone();
            tokio::net::lookup_host((host.as_str(), config.settings.port))
                .await
                .with_context(|| format!("resolving host '{host}' from share.yaml"))?
                .next()
                .with_context(|| format!("host '{host}' has no address"))?
        }
    };
    // File URLs and profiles name this server: on another machine's address it must be told its public URL.
    anyhow::ensure!(
        args.public_url.is_some() || listen.ip().is_loopback(),
        "listening on {listen}, which other machines reach, without --public-url \
         (DELTA_BRIDGE_SHARING_PUBLIC_URL): give the URL recipients reach this server at, such as \
         https://sharing.example.com, or listen on 127.0.0.1 behind a proxy"
    );
    // Local-disk file URLs are signed by the replica that answers and fetched from any: a random key per
    // replica would break every download that lands on another one.
    anyhow::ensure!(
        args.signing_key_file.is_some()
            || listen.ip().is_loopback()
            || !config.locations().iter().any(|l| l.starts_with("file:")),
        "serving local-disk tables on {listen}, which other machines reach, without --signing-key-file \
         (DELTA_BRIDGE_SIGNING_KEY_FILE): replicas behind one address must sign file URLs with the same key; \
         give every replica the same file (16 bytes or more)"
    );
    let signing_key = match &args.signing_key_file {
        Some(path) => {
            let secret = std::fs::read(path)
                .with_context(|| format!("reading the signing key {}", path.display()))?;
            anyhow::ensure!(
                secret.len() >= 16,
                "the signing key in {} is too short (16 bytes at least)",
                path.display()
            );
            use sha2::Digest;
            sha2::Sha256::digest(&secret).into()
        }
        None => {
            let mut key = [0u8; 32];
            getrandom::fill(&mut key)
                .map_err(|e| anyhow::anyhow!("no randomness for the signing key: {e}"))?;
            key
        }
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let options = ServerOptions {
        config: source,
        public_url: args.public_url,
        default_page_size: args.page_size,
        signing_key,
        s3: Some(s3),
        token_requests_per_second: args.token_requests_per_second.max(0.1),
        access,
    };
    // The first stdout line tells scripts and tests where the server is (useful with port 0), once
    // share.yaml is loaded.
    serve_when_ready(listener, options, shutdown_signal(), |address| {
        println!("listening on http://{address}");
    })
    .await
}

/// The access log's settings, or a refusal saying what is missing.
fn access_options(args: &Args, s3: &aws_sdk_s3::Client) -> anyhow::Result<Option<AccessOptions>> {
    let Some(location) = args.access_log.clone() else {
        anyhow::ensure!(
            args.access_journal.is_none(),
            "--access-journal (DELTA_BRIDGE_ACCESS_JOURNAL) is given without --access-log \
             (DELTA_BRIDGE_ACCESS_LOG): say where the access log goes, or drop the journal"
        );
        return Ok(None);
    };
    anyhow::ensure!(
        args.access_ship_seconds.is_finite() && args.access_ship_seconds >= 0.05,
        "--access-ship-seconds must be at least 0.05"
    );
    let journal = match (&args.access_journal, &location) {
        (Some(journal), _) => journal.clone(),
        (None, delta_bridge_access::Location::Dir(dir)) => dir.join(".journal"),
        (None, delta_bridge_access::Location::S3 { .. }) => anyhow::bail!(
            "--access-log {location} needs --access-journal DIR (DELTA_BRIDGE_ACCESS_JOURNAL): a directory \
             on this machine's disk where each record is made durable before its answer leaves and waits \
             until it is shipped (such as /var/lib/delta-bridge/access-journal)"
        ),
    };
    Ok(Some(AccessOptions {
        destination: delta_bridge_access::Destination::new(location, || s3.clone()),
        journal,
        ship_interval: std::time::Duration::from_secs_f64(args.access_ship_seconds),
    }))
}

async fn shutdown_signal() {
    let terminate = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}
