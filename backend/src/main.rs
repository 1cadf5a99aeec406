//! `delta-bridge-backend`: the authenticated API for presign, process, datasets, share, unshare and
//! snippet. Embedded defaults (SQLite, a local directory, share.yaml beside them) live under --data-dir;
//! S3 and Postgres are configuration.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use delta_bridge_backend::{AppState, RequestLimits, serve};
use delta_bridge_datasets::{
    Datasets, Limits, Secret, Secrets, Settings, ShareTarget, Storage, Store,
};
use delta_bridge_identity::{GOOGLE_CERTIFICATES_URL, Mode, Policy, Verifier};
use delta_bridge_shares::ConfigLocation;
use delta_bridge_telemetry::LogFormat;

#[derive(Parser, Debug)]
#[command(name = "delta-bridge-backend", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(
        long,
        env = "DELTA_BRIDGE_BACKEND_LISTEN",
        default_value = "127.0.0.1:8081"
    )]
    listen: SocketAddr,
    /// Base URL clients reach this backend at (local upload URLs point here); default http://<listen>.
    #[arg(long, env = "DELTA_BRIDGE_BACKEND_PUBLIC_URL")]
    public_url: Option<String>,
    #[command(flatten)]
    place: Place,
    /// Where datasets live: a directory, or s3://bucket/prefix (default: storage/ in the data directory).
    #[arg(long, env = "DELTA_BRIDGE_STORAGE")]
    storage: Option<String>,
    /// S3 endpoint for S3-compatible servers. Credentials come from the AWS SDK's default chain:
    /// environment, profile (AWS_PROFILE), SSO, web identity, container or instance role.
    #[arg(long, env = "DELTA_BRIDGE_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// S3 region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    s3_region: String,
    /// Use path-style S3 addressing, as most S3-compatible servers need.
    #[arg(long, env = "DELTA_BRIDGE_S3_PATH_STYLE")]
    s3_path_style: bool,
    /// Longest S3 call, retries included, in seconds.
    #[arg(long, default_value_t = 90)]
    s3_operation_timeout_seconds: u64,
    /// Longest single attempt of an S3 call, in seconds.
    #[arg(long, default_value_t = 30)]
    s3_attempt_timeout_seconds: u64,
    /// The share.yaml the sharing servers serve: a path (default: in the data directory), or
    /// s3://bucket/key for sharing servers on other machines (written with conditional PUTs).
    #[arg(long, env = "DELTA_BRIDGE_SHARE_CONFIG", value_parser = ConfigLocation::parse)]
    share_config: Option<ConfigLocation>,
    /// Where the sharing servers ship their access log (the same as their --access-log): a directory
    /// (default: access-log/ in the data directory), or s3://bucket/prefix. Reads there are collected
    /// into the store every maintenance pass and shown to each dataset's owner.
    #[arg(long, env = "DELTA_BRIDGE_ACCESS_LOG", value_parser = delta_bridge_datasets::access::Location::parse)]
    access_log: Option<delta_bridge_datasets::access::Location>,
    /// How long recipients' reads stay in the owners' activity: a number with s, m, h or d.
    #[arg(long, default_value = "90d", value_parser = delta_bridge_datasets::api::parse_duration)]
    activity_retention: Duration,
    /// How long an unused activation link works: a number with s, m, h or d.
    #[arg(long, default_value = "7d", value_parser = delta_bridge_datasets::api::parse_duration)]
    activation_expiry: Duration,
    /// The Delta Sharing endpoint recipients reach, written into their profiles.
    #[arg(
        long,
        env = "DELTA_BRIDGE_SHARING_URL",
        default_value = "http://127.0.0.1:8080/delta-sharing"
    )]
    sharing_url: String,
    /// Firebase project id (the tokens' audience). The Auth emulator's unsigned tokens are accepted only
    /// for a demo- project with FIREBASE_AUTH_EMULATOR_HOST set to the emulator's host:port.
    #[arg(long, env = "FIREBASE_PROJECT_ID")]
    firebase_project: String,
    /// Accept only accounts with an email address at this domain (repeatable).
    #[arg(long, value_name = "DOMAIN")]
    allow_email_domain: Vec<String>,
    /// Accept only accounts whose email address is verified.
    #[arg(long)]
    require_verified_email: bool,
    /// Where Google publishes the certificates that sign Firebase ID tokens.
    #[arg(long, env = "DELTA_BRIDGE_FIREBASE_CERTIFICATES_URL", default_value = GOOGLE_CERTIFICATES_URL)]
    firebase_certificates_url: String,
    /// Files larger than this many bytes are uploaded in parts (smaller ones in one PUT whose SHA-256
    /// storage checks as it arrives).
    #[arg(long, default_value_t = 256 << 20)]
    multipart_threshold: i64,
    /// Bytes per part (5 MiB at least).
    #[arg(long, default_value_t = 16 << 20)]
    part_size: i64,
    /// Lifetime of upload URLs, in seconds.
    #[arg(long, default_value_t = 3600)]
    upload_expiry_seconds: u64,
    /// How long files an overwrite replaced stay in storage for time travel, unless a share still
    /// reaches them: a number with s, m, h or d (`0s` deletes them at once).
    #[arg(long, env = "DELTA_BRIDGE_RETENTION", default_value = "7d", value_parser = delta_bridge_datasets::api::parse_duration)]
    retention: Duration,
    /// How often share.yaml is checked against the store (rewritten when it lags) and due deletions run,
    /// in seconds.
    #[arg(long, default_value_t = 2)]
    maintenance_interval_seconds: u64,
    /// How long a commit may take, in seconds, between writing its log entry and committing it in the
    /// store; an entry a failed commit left is removed once twice this has passed.
    #[arg(long, default_value_t = 60)]
    commit_lease_seconds: u64,
    /// Most files in one upload.
    #[arg(long, default_value_t = delta_bridge_datasets::MAX_FILES)]
    max_upload_files: usize,
    /// Most bytes in one upload: a number with KiB, MiB, GiB or TiB.
    #[arg(long, default_value = "1TiB", value_parser = parse_bytes)]
    max_upload_bytes: i64,
    /// Most datasets one user keeps.
    #[arg(long, default_value_t = 1000)]
    max_datasets_per_user: i64,
    /// Most bytes one user keeps (their datasets' current versions and unprocessed uploads).
    #[arg(long, default_value = "1TiB", value_parser = parse_bytes)]
    max_bytes_per_user: i64,
    /// Most upload URLs in one /presign answer (at most 10,000); clients fetch the rest in pages.
    #[arg(long, default_value_t = delta_bridge_datasets::PAGE_URLS)]
    presign_page_urls: usize,
    /// Longest request, in seconds (not /process, not uploads): then 503.
    #[arg(long, default_value_t = 30)]
    request_timeout_seconds: u64,
    /// Longest /process, in seconds (it reads uploaded objects back; asking again resumes).
    #[arg(long, default_value_t = 900)]
    process_timeout_seconds: u64,
    /// An upload through the backend's upload route is cut off after this many seconds without bytes.
    #[arg(long, default_value_t = 60)]
    upload_idle_timeout_seconds: u64,
    /// Requests served at once; more wait 5 s for a turn, then 503 with Retry-After.
    #[arg(long, default_value_t = 512)]
    max_concurrent_requests: usize,
    /// Requests per second one user may make (twice that in a burst); then 429 with Retry-After.
    #[arg(long, default_value_t = 20.0)]
    user_requests_per_second: f64,
    /// At shutdown, how long requests in flight may take to finish, in seconds.
    #[arg(long, default_value_t = 30)]
    shutdown_grace_seconds: u64,
    /// Logs on standard error as text, or as one JSON object per line (filtered by DELTA_BRIDGE_LOG).
    #[arg(long, env = "DELTA_BRIDGE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// `5368709120`, `512MiB`, `1TiB`.
fn parse_bytes(text: &str) -> Result<i64, String> {
    let invalid = || format!("{text:?} is not a size such as 512MiB, 20GiB or 1TiB");
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| invalid())?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        "TiB" => 40,
        _ => return Err(invalid()),
    };
    number.checked_mul(1 << shift).ok_or_else(invalid)
}

/// Where the backend keeps what it knows: the data directory, the metadata store and the secret file.
#[derive(clap::Args, Debug)]
struct Place {
    /// Directory of the embedded defaults: backend.db, storage/, share.yaml, secret.
    #[arg(
        long,
        env = "DELTA_BRIDGE_DATA_DIR",
        default_value = "delta-bridge-data"
    )]
    data_dir: PathBuf,
    /// Metadata store: sqlite://path or postgres://... (default: SQLite in the data directory).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// File holding the server secrets (they sign upload URLs and derive recipient tokens); every
    /// replica gets the same one. Created with a random secret if missing (not with Postgres).
    #[arg(long, env = "DELTA_BRIDGE_SECRET_FILE")]
    secret_file: Option<PathBuf>,
}

impl Place {
    fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("backend.db").display()
            ),
        }
    }

    fn secret_file(&self) -> PathBuf {
        self.secret_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secret"))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("rotate-secret") {
        delta_bridge_telemetry::init_logs(LogFormat::Text, "DELTA_BRIDGE_LOG");
        let args = RotateArgs::parse_from(
            std::iter::once("delta-bridge-backend rotate-secret".to_string())
                .chain(std::env::args().skip(2)),
        );
        return rotate_secret(args).await;
    }
    let args = Args::parse();
    delta_bridge_telemetry::init_logs(args.log_format, "DELTA_BRIDGE_LOG");
    // Everything the backend creates (data directory, backend.db, secret, share.yaml, storage, uploads
    // being received) is for this user alone: directories 0700, files 0600.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    if args.part_size < 5 << 20 {
        bail!("--part-size must be at least 5 MiB (5242880), as S3 requires");
    }
    std::fs::create_dir_all(&args.place.data_dir).with_context(|| {
        format!(
            "creating the data directory {}",
            args.place.data_dir.display()
        )
    })?;
    if args
        .place
        .database_url
        .as_deref()
        .is_some_and(|url| url.starts_with("postgres"))
        && args.place.secret_file.is_none()
    {
        bail!(
            "with a Postgres --database-url, give --secret-file: every replica on that database must hold the same secret file (a secret made in each data directory would differ)"
        );
    }
    if args
        .place
        .database_url
        .as_deref()
        .is_some_and(|url| url.starts_with("postgres"))
        && !args
            .storage
            .as_deref()
            .is_some_and(|s| s.starts_with("s3://"))
    {
        bail!(
            "with a Postgres --database-url, give --storage s3://bucket/prefix: every replica on that database must read and write the same storage (local storage is one machine's disk)"
        );
    }
    let database_url = args.place.database_url();
    let store = Store::connect(&database_url)
        .await
        .context("opening the metadata store (--database-url)")?;
    let storage = storage(&args).await?;
    let secret_file = args.place.secret_file();
    let secrets = read_or_create_secret(&secret_file)?;
    // Unsigned emulator tokens only on purpose: a host:port and a demo- project, nothing else.
    let mode = Mode::choose(
        std::env::var("FIREBASE_AUTH_EMULATOR_HOST").ok().as_deref(),
        &args.firebase_project,
        &args.firebase_certificates_url,
    )?;
    if mode == Mode::Emulator {
        tracing::warn!(
            "emulator mode (FIREBASE_AUTH_EMULATOR_HOST and the demo- project {}): accepting the Auth emulator's unsigned tokens",
            args.firebase_project
        );
    }
    let verifier = Verifier::new(delta_bridge_identity::Settings {
        project_id: args.firebase_project.clone(),
        mode,
        policy: Policy {
            allowed_email_domains: args.allow_email_domain.clone(),
            require_verified_email: args.require_verified_email,
        },
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let address = listener.local_addr()?;
    let settings = Settings {
        sharing_url: args.sharing_url.clone(),
        public_url: args
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{address}")),
        share_file: share_target(&args, &storage).await?,
        secrets,
        multipart_threshold: args.multipart_threshold,
        part_size: args.part_size,
        upload_expiry: Duration::from_secs(args.upload_expiry_seconds),
        retention: args.retention,
        maintenance_interval: Duration::from_secs(args.maintenance_interval_seconds.max(1)),
        commit_lease: Duration::from_secs(args.commit_lease_seconds.max(1)),
        access_log: Some(access_log(&args, &storage).await?),
        activation_expiry: args.activation_expiry,
        activity_retention: args.activity_retention,
        limits: Limits {
            files_per_upload: args.max_upload_files.min(delta_bridge_datasets::MAX_FILES),
            bytes_per_upload: args.max_upload_bytes,
            datasets_per_user: args.max_datasets_per_user,
            bytes_per_user: args.max_bytes_per_user,
            urls_per_answer: args
                .presign_page_urls
                .clamp(1, delta_bridge_datasets::PAGE_URLS),
        },
    };
    let share_file = settings.share_file.to_string();
    let datasets = Datasets::new(store, storage, settings)
        .await
        .map_err(|e| match e.detail() {
            Some(detail) => anyhow::anyhow!("{e}: {detail}"),
            None => anyhow::anyhow!("{e}"),
        })
        .with_context(|| format!("checking the secret file {}", secret_file.display()))?;
    // The first stdout line tells scripts and tests where the backend is (useful with port 0).
    println!("listening on http://{address}");
    tracing::info!("share.yaml at {share_file}");
    if let Some(access_log) = &datasets.settings().access_log {
        tracing::info!(
            "collecting the access log from {}",
            delta_bridge_datasets::describe_access_log(access_log)
        );
    }
    let limits = RequestLimits {
        request_timeout: Duration::from_secs(args.request_timeout_seconds.max(1)),
        process_timeout: Duration::from_secs(args.process_timeout_seconds.max(1)),
        upload_idle_timeout: Duration::from_secs(args.upload_idle_timeout_seconds.max(1)),
        concurrent_requests: args.max_concurrent_requests.max(1),
        queue_timeout: Duration::from_secs(5),
        user_requests_per_second: args.user_requests_per_second.max(0.1),
        shutdown_grace: Duration::from_secs(args.shutdown_grace_seconds),
    };
    serve(
        listener,
        AppState::new(datasets, verifier, limits),
        shutdown_signal(),
    )
    .await
}

/// Where share.yaml goes: the file named, else the data directory's; or an S3 object, through the storage's
/// client when storage is on S3 too (same endpoint and credentials), else a client of its own.
async fn share_target(args: &Args, storage: &Storage) -> anyhow::Result<ShareTarget> {
    match args.share_config.clone() {
        None => Ok(ShareTarget::File(args.place.data_dir.join("share.yaml"))),
        Some(ConfigLocation::File(path)) => Ok(ShareTarget::File(path)),
        Some(ConfigLocation::Object { bucket, key }) => {
            let client = match storage {
                Storage::S3 { client, .. } => client.clone(),
                Storage::Local { .. } => s3_client(args)
                    .await
                    .map_err(|e| anyhow::anyhow!("--share-config is on S3, but {e}"))?,
            };
            Ok(ShareTarget::Object {
                client,
                bucket,
                key,
            })
        }
    }
}

/// Where the access log is collected from: the flag's, else access-log/ in the data directory.
async fn access_log(
    args: &Args,
    storage: &Storage,
) -> anyhow::Result<delta_bridge_datasets::access::Destination> {
    use delta_bridge_datasets::access::{Destination, Location};
    let location = args
        .access_log
        .clone()
        .unwrap_or_else(|| Location::Dir(args.place.data_dir.join("access-log")));
    let client = match (&location, storage) {
        (Location::S3 { .. }, Storage::S3 { client, .. }) => Some(client.clone()),
        (Location::S3 { .. }, Storage::Local { .. }) => Some(
            s3_client(args)
                .await
                .map_err(|e| anyhow::anyhow!("--access-log is on S3, but {e}"))?,
        ),
        _ => None,
    };
    Ok(Destination::new(location, || {
        client.expect("an S3 location has a client")
    }))
}

async fn s3_client(args: &Args) -> Result<aws_sdk_s3::Client, String> {
    delta_bridge_tables::s3_client(
        &delta_bridge_tables::S3Settings {
            endpoint: args.s3_endpoint.clone(),
            region: args.s3_region.clone(),
            path_style: args.s3_path_style,
            timeouts: delta_bridge_tables::S3Timeouts {
                attempt: Duration::from_secs(args.s3_attempt_timeout_seconds.max(1)),
                operation: Duration::from_secs(args.s3_operation_timeout_seconds.max(1)),
                ..Default::default()
            },
        },
        true,
    )
    .await
    .map_err(|e| e.to_string())
}

async fn storage(args: &Args) -> anyhow::Result<Storage> {
    let spec = args.storage.clone();
    match spec.as_deref().and_then(|s| s.strip_prefix("s3://")) {
        Some(rest) => {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                bail!("--storage s3://bucket/prefix needs a bucket");
            }
            let client = s3_client(args)
                .await
                .map_err(|e| anyhow::anyhow!("--storage is on S3, but {e}"))?;
            Ok(Storage::S3 {
                client,
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            })
        }
        None => {
            let dir = match spec {
                Some(s) => PathBuf::from(s.strip_prefix("file://").unwrap_or(&s)),
                None => args.place.data_dir.join("storage"),
            };
            Storage::local(&dir).map_err(|e| anyhow::anyhow!("{e}: {:?}", e.detail()))
        }
    }
}

fn read_or_create_secret(path: &Path) -> anyhow::Result<Secrets> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::read(path) {
        Ok(bytes) => Secrets::parse(&bytes)
            .map_err(|e| anyhow::anyhow!("the secret file {}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secrets = Secrets::from(Secret::generate());
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("creating the secret {}", path.display()))?;
            file.write_all(secrets.to_file().as_bytes())?;
            tracing::info!("created a new server secret in {}", path.display());
            Ok(secrets)
        }
        Err(e) => Err(e).with_context(|| format!("reading the secret {}", path.display())),
    }
}

/// `delta-bridge-backend rotate-secret`: a new current secret in the secret file, the old ones kept
/// after it (their upload URLs stay valid until they expire, their shares' tokens keep working).
#[derive(Parser, Debug)]
#[command(name = "delta-bridge-backend rotate-secret")]
struct RotateArgs {
    #[command(flatten)]
    place: Place,
}

async fn rotate_secret(args: RotateArgs) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = args.place.secret_file();
    let bytes =
        std::fs::read(&path).with_context(|| format!("reading the secret {}", path.display()))?;
    let secrets = Secrets::parse(&bytes)
        .map_err(|e| anyhow::anyhow!("the secret file {}: {e}", path.display()))?;
    let store = Store::connect(&args.place.database_url())
        .await
        .context("opening the metadata store (--database-url)")?;
    // The store must know the file as it is now: rotating another deployment's file is refused.
    let fingerprints: Vec<String> = secrets.all().map(Secret::fingerprint).collect();
    store
        .adopt_secrets(&fingerprints)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let rotated = secrets.rotate();
    store
        .record_secret(&rotated.current().fingerprint())
        .await?;
    let temporary = path.with_extension("rotating");
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("writing {}", temporary.display()))?;
    file.write_all(rotated.to_file().as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path).with_context(|| format!("replacing {}", path.display()))?;
    println!(
        "rotated {}: new secret {}, {} older kept; give every replica this file and restart them",
        path.display(),
        rotated.current().fingerprint(),
        rotated.all().count() - 1
    );
    Ok(())
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
