//! The backend over real HTTP, real SQLite and local storage, with Firebase tokens signed by a test key
//! whose certificate a loopback server publishes in Google's format. (The official Python client, S3 and
//! the Firebase Auth emulator are exercised by tests/python.)

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use delta_bridge_backend::{AppState, serve};
use delta_bridge_datasets::{Datasets, Secret, Settings, Storage, Store};
use delta_bridge_identity::{Mode, Verifier};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

use delta_bridge_identity::testing::{
    KID, PROJECT, certificate_server, claims, now, sign, token, unsigned,
};

mod bounds;
mod footers;
mod limits;
mod pipelined;
mod recipients;
mod secrets;
mod signin;
mod trust;

struct Backend {
    url: String,
    dir: Arc<tempfile::TempDir>,
    database: String,
    http: reqwest::Client,
}

/// How a test backend is set up.
#[derive(Clone)]
struct Options {
    multipart_threshold: i64,
    part_size: i64,
    /// How long overwritten files stay (0: vacuumed at once).
    retention: Duration,
    /// Who may sign in.
    policy: delta_bridge_identity::Policy,
    /// What one upload and one user may take.
    limits: delta_bridge_datasets::Limits,
    /// Lifetime of upload URLs.
    upload_expiry: Duration,
    /// Time, concurrency and rate limits of requests.
    requests: delta_bridge_backend::RequestLimits,
    /// The secret file's secrets.
    secrets: delta_bridge_datasets::Secrets,
    /// Notified: the backend shuts down. It notifies `stopped` once `serve` returned.
    shutdown: Option<(Arc<tokio::sync::Notify>, Arc<tokio::sync::Notify>)>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            multipart_threshold: 1 << 30,
            part_size: 5 << 20,
            retention: Duration::from_secs(0),
            policy: Default::default(),
            limits: Default::default(),
            upload_expiry: Duration::from_secs(600),
            requests: delta_bridge_backend::RequestLimits {
                // Tests call fast from one user; the rate limit has its own test.
                user_requests_per_second: 10_000.0,
                ..Default::default()
            },
            shutdown: None,
            secrets: Secret::from_material(&[7u8; 32]).into(),
        }
    }
}

impl Backend {
    async fn start() -> Backend {
        Self::launch(Options::default()).await
    }

    async fn start_with(multipart_threshold: i64, part_size: i64) -> Backend {
        Self::launch(Options {
            multipart_threshold,
            part_size,
            ..Options::default()
        })
        .await
    }

    async fn launch(options: Options) -> Backend {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let database = database_url(dir.path()).await;
        Self::serve_on(dir, database, options).await
    }

    /// A second backend process's worth (its own service, share.yaml writer and maintenance) on the
    /// same store, storage and share.yaml, as a replica would be.
    async fn replica(&self) -> Backend {
        self.replica_with(Options::default()).await
    }

    /// [`Backend::replica`] set up otherwise.
    async fn replica_with(&self, options: Options) -> Backend {
        Self::serve_on(self.dir.clone(), self.database.clone(), options).await
    }

    async fn serve_on(dir: Arc<tempfile::TempDir>, database: String, options: Options) -> Backend {
        let store = Store::connect(&database).await.unwrap();
        let storage = Storage::local(&dir.path().join("storage")).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let settings = Settings {
            sharing_url: "http://sharing.example/delta-sharing".into(),
            public_url: url.clone(),
            share_file: delta_bridge_datasets::ShareTarget::File(dir.path().join("share.yaml")),
            secrets: options.secrets.clone(),
            multipart_threshold: options.multipart_threshold,
            part_size: options.part_size,
            upload_expiry: options.upload_expiry,
            retention: options.retention,
            maintenance_interval: Duration::from_secs(1),
            commit_lease: Duration::from_secs(60),
            access_log: Some(delta_bridge_datasets::access::Destination::Dir(
                dir.path().join("access-log"),
            )),
            activation_expiry: delta_bridge_datasets::ACTIVATION_EXPIRY,
            activity_retention: delta_bridge_datasets::ACTIVITY_RETENTION,
            limits: options.limits.clone(),
        };
        let datasets = Datasets::new(store, storage, settings).await.unwrap();
        let verifier = Verifier::new(delta_bridge_identity::Settings {
            project_id: PROJECT.into(),
            mode: Mode::Google {
                certificates_url: certificate_server().0,
            },
            policy: options.policy.clone(),
        });
        let state = AppState::new(datasets, verifier, options.requests.clone());
        match options.shutdown.clone() {
            None => {
                tokio::spawn(serve(listener, state, std::future::pending()));
            }
            Some((shutdown, stopped)) => {
                tokio::spawn(async move {
                    let shutdown = async move { shutdown.notified().await };
                    serve(listener, state, shutdown).await.unwrap();
                    stopped.notify_one();
                });
            }
        }
        Backend {
            url,
            dir,
            database,
            http: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str, user: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, Some(&token(user)), None)
            .await
    }

    async fn post(&self, path: &str, user: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(&token(user)), Some(body))
            .await
    }

    async fn delete(&self, path: &str, user: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::DELETE, path, Some(&token(user)), None)
            .await
    }

    /// PUTs every part of one presigned file; answers their ETags.
    async fn put_parts(&self, upload: &Value, bytes: &[u8]) -> Vec<Value> {
        let part_size = upload["partSize"].as_u64().unwrap() as usize;
        let mut etags = Vec::new();
        for (i, part) in upload["parts"].as_array().unwrap().iter().enumerate() {
            let chunk = bytes[i * part_size..((i + 1) * part_size).min(bytes.len())].to_vec();
            let response = self
                .http
                .put(part["url"].as_str().unwrap())
                .body(chunk)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            etags.push(json!(response.headers()["etag"].to_str().unwrap()));
        }
        etags
    }

    /// Presigns, uploads and processes a table's data files; returns the process answer.
    async fn upload(
        &self,
        user: &str,
        name: &str,
        files: &[PathBuf],
        mode: &str,
    ) -> (StatusCode, Value) {
        let specs: Vec<Value> = files.iter().map(|f| spec(f)).collect();
        let (status, presigned) = self
            .post("/presign", user, json!({"name": name, "files": specs}))
            .await;
        assert_eq!(status, StatusCode::OK, "{presigned}");
        let mut parts = serde_json::Map::new();
        for (file, upload) in files.iter().zip(presigned["files"].as_array().unwrap()) {
            let bytes = std::fs::read(file).unwrap();
            if let Some(url) = upload["url"].as_str() {
                let response = self.http.put(url).body(bytes).send().await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
            } else {
                let etags = self.put_parts(upload, &bytes).await;
                parts.insert(upload["name"].as_str().unwrap().into(), Value::Array(etags));
            }
        }
        self.post(
            "/process",
            user,
            json!({"uploadId": presigned["uploadId"], "mode": mode, "parts": parts}),
        )
        .await
    }
}

/// SQLite in the test's directory; or, when `DELTA_BRIDGE_TEST_POSTGRES` names a server (scripts/test.sh
/// starts one), a new database of its own there, so the same tests prove the Postgres path.
async fn database_url(dir: &Path) -> String {
    let Ok(server) = std::env::var("DELTA_BRIDGE_TEST_POSTGRES") else {
        return format!("sqlite://{}?mode=rwc", dir.join("backend.db").display());
    };
    use sqlx::Connection;
    let name = format!(
        "t{}",
        dir.file_name()
            .unwrap()
            .to_string_lossy()
            .to_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "")
    );
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    format!("{server}/{name}")
}

fn spec(file: &Path) -> Value {
    let bytes = std::fs::read(file).unwrap();
    json!({
        "name": file.file_name().unwrap().to_str().unwrap(),
        "size": bytes.len(),
        "sha256": hex::encode(sha2::Sha256::digest(&bytes)),
    })
}

/// Converts CSV text with the ingest library and returns the Parquet files it wrote.
fn parquet_files(dir: &Path, csv: &str) -> Vec<PathBuf> {
    let (_, source) = tempfile::Builder::new()
        .suffix(".csv")
        .tempfile_in(dir)
        .unwrap()
        .keep()
        .unwrap();
    std::fs::write(&source, csv).unwrap();
    let table = tempfile::tempdir_in(dir).unwrap().keep();
    // Conversion blocks (it runs its own threads), so it runs outside the test's runtime.
    let (from, to) = (source.clone(), table.clone());
    std::thread::spawn(move || {
        delta_bridge_ingest::convert(
            &from,
            &to,
            &delta_bridge_ingest::ConvertOptions::default(),
            &|_| {},
            &AtomicBool::new(false),
        )
        .unwrap()
    })
    .join()
    .unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&table)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    files
}

const CSV: &str = "zip,amount,day\n01234,1.5,2024-01-31\n98765,2,2024-02-01\n";

#[tokio::test]
async fn only_tokens_signed_with_googles_published_keys_pass() {
    let backend = Backend::start().await;
    let now = now();
    let mut expired = claims("ana");
    expired["exp"] = json!(now - 60);
    expired["iat"] = json!(now - 3700);
    let mut audience = claims("ana");
    audience["aud"] = json!("another-project");
    let mut issuer = claims("ana");
    issuer["iss"] = json!("https://securetoken.google.com/another-project");
    let cases = [
        ("valid", token("ana"), StatusCode::OK),
        (
            "forged signature",
            sign(&claims("ana"), "attacker-key.pem", KID),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "expired",
            sign(&expired, "google-key.pem", KID),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong audience",
            sign(&audience, "google-key.pem", KID),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong issuer",
            sign(&issuer, "google-key.pem", KID),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "alg none without emulator mode",
            unsigned(&claims("ana")),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (what, token, expected) in cases {
        let (status, body) = backend
            .call(reqwest::Method::GET, "/datasets", Some(&token), None)
            .await;
        assert_eq!(status, expected, "{what}: {body}");
        if expected != StatusCode::OK {
            assert_eq!(body["error"]["code"], "UNAUTHENTICATED", "{what}");
            assert!(!body["error"]["message"].as_str().unwrap().contains(&token));
        }
    }
    let (status, body) = backend
        .call(reqwest::Method::GET, "/datasets", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Bearer")
    );
}

/// Every route the backend serves, by path (as routed) and method. A route added to the router without
/// its line here fails the test below, as does one here the document lacks.
const ROUTES: [(&str, &str); 23] = [
    ("/healthz", "get"),
    ("/readyz", "get"),
    ("/metrics", "get"),
    ("/openapi.json", "get"),
    ("/presign", "post"),
    ("/upload/{upload_id}/{index}", "put"),
    ("/process", "post"),
    ("/uploads/{upload_id}", "delete"),
    ("/datasets", "get"),
    ("/datasets/{id}", "get"),
    ("/datasets/{id}", "delete"),
    ("/share", "post"),
    ("/unshare", "post"),
    ("/snippet", "get"),
    ("/grants", "post"),
    ("/recipients", "get"),
    ("/recipients", "post"),
    ("/recipients/{name}", "delete"),
    ("/recipients/{name}/rotate", "post"),
    ("/recipients/{name}/link", "post"),
    ("/activity", "get"),
    ("/activate/{code}", "get"),
    ("/activate/{code}", "post"),
];

#[tokio::test]
async fn health_and_the_openapi_document_need_no_token_and_the_document_names_every_route() {
    use std::collections::BTreeSet;
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let backend = Backend::start().await;
    let (status, _) = backend
        .call(reqwest::Method::GET, "/healthz", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, document) = backend
        .call(reqwest::Method::GET, "/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(document["info"]["title"].is_string());

    // The document names exactly the routes served.
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(path, method)| (path.to_string(), method.to_string()))
        .collect();
    let paths = document["paths"].as_object().unwrap();
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(move |method| (path.clone(), method.to_string()))
        })
        .collect();
    assert_eq!(documented, routes);

    let schemes = &document["components"]["securitySchemes"];
    let mut operation_ids = BTreeSet::new();
    for (path, method) in &routes {
        let operation = &paths[path][method];
        let what = format!("{method} {path}");
        assert!(
            operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{what}"
        );
        assert!(
            operation_ids.insert(operation["operationId"].as_str().unwrap()),
            "{what}"
        );
        let responses = operation["responses"].as_object().unwrap();
        assert!(responses.keys().any(|s| s.starts_with('2')), "{what}");
        // Every parameter of the path template is a required path parameter, and only those.
        let mut declared: Vec<&str> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .inspect(|p| assert_eq!(p["required"], true, "{what}"))
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        let mut template: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        declared.sort();
        template.sort();
        assert_eq!(declared, template, "{what}");
        // The bearer requirement is documented exactly where a request without a token is refused.
        let secured = operation["security"]
            .as_array()
            .is_some_and(|requirements| !requirements.is_empty());
        for requirement in operation["security"].as_array().into_iter().flatten() {
            for scheme in requirement.as_object().unwrap().keys() {
                assert!(schemes[scheme].is_object(), "{what}: {scheme}");
            }
        }
        // Served: the route's own answer, not the fallback's 404 or a 405.
        let concrete = path
            .replace("{upload_id}", "up0")
            .replace("{index}", "0")
            .replace("{id}", "ds00000000000000000000")
            .replace("{name}", "nobody")
            .replace("{code}", "nocode");
        let response = backend
            .http
            .request(
                method.to_uppercase().parse().unwrap(),
                format!("{}{concrete}", backend.url),
            )
            .send()
            .await
            .unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
        assert!(!text.contains("no such route"), "{what}: {status} {text}");
        assert_eq!(
            status == StatusCode::UNAUTHORIZED,
            secured,
            "{what}: {status}"
        );
        // No other method is served on a documented path.
        for other in ["get", "put", "post", "delete", "patch"] {
            if !routes.contains(&(path.clone(), other.to_string())) {
                let response = backend
                    .http
                    .request(
                        other.to_uppercase().parse().unwrap(),
                        format!("{}{concrete}", backend.url),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    response.status(),
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{other} {path}"
                );
            }
        }
    }

    // Every reference resolves to a component schema.
    fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    found.push(target);
                }
                map.values().for_each(|v| references(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| references(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(found.contains(&"#/components/schemas/ErrorBody"));
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{target} is not a component schema"));
        assert!(
            document["components"]["schemas"][name].is_object(),
            "{target} does not resolve"
        );
    }
}

#[tokio::test]
async fn create_append_overwrite_and_history() {
    let backend = Backend::start().await;
    let work = backend.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let files = parquet_files(&work, CSV);
    let (status, created) = backend.upload("ana", "Sales 2024", &files, "create").await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["version"], 0);
    assert_eq!(created["rows"], 2);
    assert_eq!(
        created["schema"],
        json!([{"name": "zip", "type": "string"}, {"name": "amount", "type": "double"}, {"name": "day", "type": "date"}])
    );
    let id = created["id"].as_str().unwrap().to_string();

    let (status, body) = backend.upload("ana", "Sales 2024", &files, "create").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let more = parquet_files(&work, "zip,amount,day\n05555,3.5,2024-03-01\n");
    let (status, appended) = backend.upload("ana", "Sales 2024", &more, "append").await;
    assert_eq!(status, StatusCode::OK, "{appended}");
    assert_eq!(
        (
            appended["id"].as_str().unwrap(),
            appended["version"].as_i64(),
            appended["rows"].as_i64()
        ),
        (id.as_str(), Some(1), Some(3))
    );

    let (status, overwritten) = backend
        .upload("ana", "Sales 2024", &more, "overwrite")
        .await;
    assert_eq!(status, StatusCode::OK, "{overwritten}");
    assert_eq!(
        (
            overwritten["version"].as_i64(),
            overwritten["rows"].as_i64()
        ),
        (Some(2), Some(1))
    );
    let operations: Vec<&str> = overwritten["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["operation"].as_str().unwrap())
        .collect();
    assert_eq!(operations, ["create", "append", "overwrite"]);

    let other = parquet_files(&work, "name,amount\nx,1\n");
    let (status, body) = backend.upload("ana", "Sales 2024", &other, "append").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("differ"),
        "{body}"
    );

    let log = backend
        .dir
        .path()
        .join(format!("storage/datasets/{id}/_delta_log"));
    let mut entries: Vec<String> = std::fs::read_dir(log)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(entries.len(), 3, "{entries:?}");
}

#[tokio::test]
async fn a_user_never_sees_or_changes_another_users_datasets() {
    let backend = Backend::start().await;
    let work = backend.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let files = parquet_files(&work, CSV);
    let (_, created) = backend.upload("ana", "private", &files, "create").await;
    let id = created["id"].as_str().unwrap();

    let (status, page) = backend.get("/datasets", "bob").await;
    assert_eq!(
        (status, page["datasets"].as_array().unwrap().len()),
        (StatusCode::OK, 0)
    );
    let (_, page) = backend.get("/datasets", "ana").await;
    assert_eq!(page["datasets"].as_array().unwrap().len(), 1);

    let not_found = [
        backend.get(&format!("/datasets/{id}"), "bob").await,
        backend.get(&format!("/snippet?tableId={id}"), "bob").await,
        backend
            .post("/share", "bob", json!({"datasetId": id}))
            .await,
        backend
            .post("/unshare", "bob", json!({"datasetId": id}))
            .await,
        backend.delete(&format!("/datasets/{id}"), "bob").await,
        backend
            .post(
                "/presign",
                "bob",
                json!({"datasetId": id, "files": [spec(&files[0])]}),
            )
            .await,
    ];
    for (status, body) in not_found {
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(body["error"]["code"], "NOT_FOUND");
    }
    // Bob's upload under the same name makes his own dataset, not a version of Ana's.
    let (status, bobs) = backend.upload("bob", "private", &files, "create").await;
    assert_eq!(status, StatusCode::OK, "{bobs}");
    assert_ne!(bobs["id"].as_str().unwrap(), id);
    // Ana's upload cannot be processed by Bob.
    let (_, presigned) = backend
        .post(
            "/presign",
            "ana",
            json!({"name": "private", "files": [spec(&files[0])]}),
        )
        .await;
    let (status, _) = backend
        .post(
            "/process",
            "bob",
            json!({"uploadId": presigned["uploadId"], "mode": "append"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = backend.delete(&format!("/datasets/{id}"), "ana").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        !backend
            .dir
            .path()
            .join(format!("storage/datasets/{id}"))
            .exists()
    );
}

#[tokio::test]
async fn uploads_that_differ_from_what_was_presigned_are_refused() {
    let backend = Backend::start().await;
    let work = backend.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let files = parquet_files(&work, CSV);
    let bytes = std::fs::read(&files[0]).unwrap();
    let (_, presigned) = backend
        .post(
            "/presign",
            "ana",
            json!({"name": "t", "files": [spec(&files[0])]}),
        )
        .await;
    let url = presigned["files"][0]["url"].as_str().unwrap().to_string();

    let mut larger = bytes.clone();
    larger.extend_from_slice(b"more");
    let response = backend.http.put(&url).body(larger).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let mut different = bytes.clone();
    different[10] ^= 1;
    let response = backend.http.put(&url).body(different).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SHA-256"),
        "{body}"
    );

    let tampered = url.replace("part=0", "part=1");
    let response = backend
        .http
        .put(&tampered)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Nothing arrived, so nothing can be committed, and no dataset appears.
    let (status, body) = backend
        .post(
            "/process",
            "ana",
            json!({"uploadId": presigned["uploadId"], "mode": "create"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not uploaded"),
        "{body}"
    );
    let (_, page) = backend.get("/datasets", "ana").await;
    assert_eq!(page["datasets"].as_array().unwrap().len(), 0);

    // A file that is not Parquet is refused at processing, naming it.
    let csv = work.join("data.csv");
    std::fs::write(&csv, CSV).unwrap();
    let (status, body) = backend.upload("ana", "t", &[csv], "create").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("data.csv"),
        "{body}"
    );

    // The right bytes go through.
    let response = backend.http.put(&url).body(bytes).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, body) = backend
        .post(
            "/process",
            "ana",
            json!({"uploadId": presigned["uploadId"], "mode": "create"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Processing it again answers the same version.
    let (status, again) = backend
        .post(
            "/process",
            "ana",
            json!({"uploadId": presigned["uploadId"], "mode": "create"}),
        )
        .await;
    assert_eq!(
        (status, again["version"].as_i64()),
        (StatusCode::OK, Some(0))
    );
}

#[tokio::test]
async fn large_files_go_up_in_parts() {
    let backend = Backend::start_with(1000, 700).await;
    let work = backend.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let csv: String = std::iter::once("n,text\n".to_string())
        // A hash per row: data that compresses little, so that the file is larger than a part.
        .chain(
            (0..400u64)
                .map(|i| format!("{i},row {:016x}\n", i.wrapping_mul(0x9E37_79B9_7F4A_7C15))),
        )
        .collect();
    let files = parquet_files(&work, &csv);
    assert!(std::fs::metadata(&files[0]).unwrap().len() > 1400);
    let (status, body) = backend.upload("ana", "big", &files, "create").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], 400);
}

#[tokio::test]
async fn a_cancelled_upload_is_forgotten_and_what_it_sent_deleted() {
    let backend = Backend::start_with(1000, 700).await;
    let work = backend.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let csv: String = std::iter::once("n,text\n".to_string())
        .chain((0..400).map(|i| format!("{i},row number {i} of many\n")))
        .collect();
    let big = parquet_files(&work, &csv);
    let small_dir = work.join("small");
    std::fs::create_dir_all(&small_dir).unwrap();
    let small = parquet_files(&small_dir, CSV);
    let specs = vec![spec(&small[0]), spec(&big[0])];
    let (_, presigned) = backend
        .post("/presign", "ana", json!({"name": "t", "files": specs}))
        .await;
    let upload_id = presigned["uploadId"].as_str().unwrap().to_string();
    // One whole file and one part of the other arrive.
    let url = presigned["files"][0]["url"].as_str().unwrap().to_string();
    let bytes = std::fs::read(&small[0]).unwrap();
    let response = backend
        .http
        .put(&url)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let part = &presigned["files"][1]["parts"][0];
    let part_size = presigned["files"][1]["partSize"].as_u64().unwrap() as usize;
    let big_bytes = std::fs::read(&big[0]).unwrap();
    let response = backend
        .http
        .put(part["url"].as_str().unwrap())
        .body(big_bytes[..part_size].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let storage = backend.dir.path().join("storage");
    let stored = |root: &Path| files_under(root).len();
    assert_eq!(stored(&storage), 2);

    // Someone else cannot abandon it; its owner can, once.
    let path = format!("/uploads/{upload_id}");
    let (status, _) = backend.delete(&path, "bo").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = backend.delete(&path, "ana").await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(stored(&storage), 0, "nothing it sent is left in storage");
    let (status, _) = backend.delete(&path, "ana").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Its URLs and processing are refused, and no dataset appears.
    let response = backend.http.put(&url).body(bytes).send().await.unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    let (status, _) = backend
        .post(
            "/process",
            "ana",
            json!({"uploadId": upload_id, "mode": "create"}),
        )
        .await;
    assert!(status.is_client_error(), "{status}");
    assert_eq!(stored(&storage), 0);
    let (_, page) = backend.get("/datasets", "ana").await;
    assert_eq!(page["datasets"].as_array().unwrap().len(), 0);

    // The name is free again; and a processed upload is a version: abandoning it is refused.
    let (status, _) = backend.upload("ana", "t", &small, "create").await;
    assert_eq!(status, StatusCode::OK);
    let (_, presigned) = backend
        .post(
            "/presign",
            "ana",
            json!({"name": "t2", "files": [spec(&small[0])]}),
        )
        .await;
    let id = presigned["uploadId"].as_str().unwrap();
    let body = std::fs::read(&small[0]).unwrap();
    let put = presigned["files"][0]["url"].as_str().unwrap();
    assert!(
        backend
            .http
            .put(put)
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let (status, _) = backend
        .post("/process", "ana", json!({"uploadId": id, "mode": "create"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = backend.delete(&format!("/uploads/{id}"), "ana").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

/// Every file below `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn fifty_concurrent_shares_all_end_up_in_share_yaml() {
    let backend = Arc::new(Backend::start().await);
    let work = backend.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let files = parquet_files(&work, CSV);
    let mut ids = Vec::new();
    for i in 0..50 {
        let (status, body) = backend
            .upload("ana", &format!("t{i}"), &files, "create")
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    let shares = ids.iter().map(|id| {
        let backend = backend.clone();
        let id = id.clone();
        tokio::spawn(async move {
            backend
                .post("/share", "ana", json!({"datasetId": id}))
                .await
        })
    });
    let mut tokens = Vec::new();
    for share in shares {
        let (status, body) = share.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        tokens.push((
            body["snippet"]["datasetId"].as_str().unwrap().to_string(),
            body["snippet"]["profile"]["bearerToken"]
                .as_str()
                .unwrap()
                .to_string(),
        ));
    }
    let text = std::fs::read_to_string(backend.dir.path().join("share.yaml")).unwrap();
    let config = delta_bridge_shares::ShareConfig::from_yaml(&text).unwrap();
    assert_eq!(config.shares.len(), 50);
    for (id, token) in &tokens {
        assert!(
            !text.contains(token.as_str()),
            "share.yaml holds only token hashes"
        );
        let recipient = config.authenticate(Some(token), chrono_now()).unwrap();
        assert!(recipient.can_read(id));
        assert!(!recipient.can_read(if id == &ids[0] { &ids[1] } else { &ids[0] }));
    }
    // Sharing again gives the same token; unsharing removes it.
    let (_, again) = backend
        .post("/share", "ana", json!({"datasetId": ids[0]}))
        .await;
    assert_eq!(
        again["snippet"]["profile"]["bearerToken"].as_str().unwrap(),
        tokens.iter().find(|(i, _)| i == &ids[0]).unwrap().1
    );
    let (status, body) = backend
        .post("/unshare", "ana", json!({"datasetId": ids[0]}))
        .await;
    assert_eq!(
        (status, body["wasShared"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let config = delta_bridge_shares::ShareConfig::from_yaml(
        &std::fs::read_to_string(backend.dir.path().join("share.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(config.shares.len(), 49);
    let (status, body) = backend
        .get(&format!("/snippet?tableId={}", ids[0]), "ana")
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
