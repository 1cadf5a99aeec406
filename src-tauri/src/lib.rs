//! The desktop app's Rust side: Tauri commands, each parsing its input, calling one function of the
//! uploader core (`delta_bridge_uploader`) or the ingest library, and shaping the answer. Progress of an
//! upload streams over a `Channel`; a job id lets the UI cancel it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use delta_bridge_api::{DatasetDetail, DatasetInfo, ShareResponse, UnshareResponse};
use delta_bridge_uploader::{
    Account, AuthError, Client, Error, FirebaseSettings, Kind, Progress, Settings, UploadOptions,
    Uploaded,
};
use serde::{Deserialize, Serialize};
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, Runtime, State};
use tauri_plugin_notification::NotificationExt;
use tokio_util::sync::CancellationToken;

/// Jobs at least this long end with a desktop notification (the user has likely looked away).
const LONG_JOB: std::time::Duration = std::time::Duration::from_secs(10);

/// What the Settings screen edits (nothing secret: the sign-in lives in the OS keyring).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesktopSettings {
    /// The backend's URL.
    pub backend_url: String,
    /// The Firebase project's Web API key (real Firebase).
    #[serde(default)]
    pub firebase_api_key: Option<String>,
    /// The Firebase Auth emulator (`127.0.0.1:9099`) for local use.
    #[serde(default)]
    pub firebase_emulator_host: Option<String>,
}

impl Default for DesktopSettings {
    fn default() -> Self {
        DesktopSettings {
            backend_url: std::env::var("DELTA_BRIDGE_BACKEND_URL")
                .unwrap_or_else(|_| "http://127.0.0.1:8081".into()),
            firebase_api_key: std::env::var("DELTA_BRIDGE_FIREBASE_API_KEY").ok(),
            firebase_emulator_host: std::env::var("FIREBASE_AUTH_EMULATOR_HOST")
                .ok()
                .or_else(|| Some("127.0.0.1:9099".into())),
        }
    }
}

/// An error as the UI shows it: a kind to choose the tone and a sentence saying what to do.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandError {
    /// `auth`, `input`, `network`, `cancelled` or `other`.
    pub kind: &'static str,
    /// For people.
    pub message: String,
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        let kind = match e.kind() {
            Kind::Auth => "auth",
            Kind::Input => "input",
            Kind::Network => "network",
            Kind::Cancelled => "cancelled",
            Kind::Settings => "settings",
            Kind::Other => "other",
        };
        CommandError {
            kind,
            message: e.to_string(),
        }
    }
}

impl From<delta_bridge_ingest::Error> for CommandError {
    fn from(e: delta_bridge_ingest::Error) -> Self {
        CommandError {
            kind: "input",
            message: e.to_string(),
        }
    }
}

fn other(message: impl Into<String>) -> CommandError {
    CommandError {
        kind: "other",
        message: message.into(),
    }
}

type Answer<T> = Result<T, CommandError>;

/// What every command shares.
pub struct AppState {
    settings_file: PathBuf,
    state_dir: PathBuf,
    settings: Mutex<DesktopSettings>,
    client: Mutex<Arc<Client>>,
    jobs: Mutex<HashMap<u64, CancellationToken>>,
    next_job: AtomicU64,
}

impl AppState {
    /// State whose settings live in `config_dir` and upload journals in `state_dir`.
    pub fn new(config_dir: PathBuf, state_dir: PathBuf) -> AppState {
        let settings_file = config_dir.join("settings.json");
        let settings = std::fs::read(&settings_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let client = Arc::new(Client::new(client_settings(&settings, &state_dir)));
        AppState {
            settings_file,
            state_dir,
            settings: Mutex::new(settings),
            client: Mutex::new(client),
            jobs: Mutex::new(HashMap::new()),
            next_job: AtomicU64::new(1),
        }
    }

    fn client(&self) -> Arc<Client> {
        self.client.lock().expect("not poisoned").clone()
    }
}

fn client_settings(settings: &DesktopSettings, state_dir: &std::path::Path) -> Settings {
    let firebase = match (&settings.firebase_emulator_host, &settings.firebase_api_key) {
        (Some(host), key) if !host.is_empty() => {
            FirebaseSettings::emulator(host, key.as_deref().unwrap_or("emulator"))
        }
        (_, Some(key)) => FirebaseSettings::google(key),
        _ => FirebaseSettings::emulator("127.0.0.1:9099", "emulator"),
    };
    Settings {
        backend_url: settings.backend_url.clone(),
        firebase,
        state_dir: state_dir.to_path_buf(),
        insecure_http: false,
    }
}

#[tauri::command]
fn get_settings(state: State<'_, AppState>) -> DesktopSettings {
    state.settings.lock().expect("not poisoned").clone()
}

#[tauri::command]
fn save_settings(state: State<'_, AppState>, settings: DesktopSettings) -> Answer<()> {
    if let Some(parent) = state.settings_file.parent() {
        std::fs::create_dir_all(parent).map_err(|e| other(e.to_string()))?;
    }
    let text = serde_json::to_vec_pretty(&settings).expect("serializes");
    std::fs::write(&state.settings_file, text).map_err(|e| other(e.to_string()))?;
    *state.client.lock().expect("not poisoned") =
        Arc::new(Client::new(client_settings(&settings, &state.state_dir)));
    *state.settings.lock().expect("not poisoned") = settings;
    Ok(())
}

/// The session kept in the OS keyring, if any (no prompt).
#[tauri::command]
async fn restore_session(state: State<'_, AppState>) -> Answer<Option<Account>> {
    match state.client().whoami().await {
        Ok(account) => Ok(Some(account)),
        Err(Error::Auth(AuthError::NotSignedIn | AuthError::SessionExpired)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[tauri::command]
async fn sign_in(
    state: State<'_, AppState>,
    email: String,
    password: String,
    sign_up: bool,
) -> Answer<Account> {
    Ok(state.client().login(&email, &password, sign_up).await?)
}

#[tauri::command]
async fn sign_out(state: State<'_, AppState>) -> Answer<()> {
    state.client().logout().await?;
    Ok(())
}

/// The native file picker (the fallback to dropping files on the window).
#[tauri::command]
async fn pick_files() -> Vec<String> {
    rfd::AsyncFileDialog::new()
        .add_filter("CSV", &["csv", "tsv", "txt"])
        .pick_files()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|f| f.path().to_string_lossy().into_owned())
        .collect()
}

/// What the user changed in the preview: dialect, and column names and types by 0-based position.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadOverrides {
    #[serde(default)]
    names: Vec<(usize, String)>,
    #[serde(default)]
    types: Vec<(usize, String)>,
    #[serde(default)]
    delimiter: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
    #[serde(default)]
    has_header: Option<bool>,
}

impl ReadOverrides {
    fn options(&self, rows: Option<usize>) -> Answer<delta_bridge_ingest::Options> {
        let input = |message: String| CommandError {
            kind: "input",
            message,
        };
        let types = self
            .types
            .iter()
            .map(|(i, name)| {
                delta_bridge_ingest::ColumnType::from_name(name)
                    .map(|t| (*i, t))
                    .ok_or_else(|| input(format!("column {}: unknown type {name:?}", i + 1)))
            })
            .collect::<Answer<_>>()?;
        let delimiter = match self.delimiter.as_deref() {
            None | Some("") => None,
            Some("tab") | Some("\t") => Some(b'\t'),
            Some(d) if d.len() == 1 => Some(d.as_bytes()[0]),
            Some(d) => {
                return Err(input(format!(
                    "the delimiter must be one character, not {d:?}"
                )));
            }
        };
        let encoding = match self.encoding.as_deref() {
            None | Some("") => None,
            Some(e) => Some(
                delta_bridge_ingest::Encoding::from_name(e)
                    .ok_or_else(|| input(format!("unknown encoding {e:?}")))?,
            ),
        };
        Ok(delta_bridge_ingest::Options {
            rows,
            encoding,
            delimiter,
            quote: None,
            has_header: self.has_header,
            names: self.names.clone(),
            types,
        })
    }
}

/// The head of a CSV: dialect, columns with inferred (or chosen) types and names, first rows.
#[tauri::command]
async fn preview(
    path: String,
    rows: Option<usize>,
    read: Option<ReadOverrides>,
) -> Answer<delta_bridge_ingest::Preview> {
    let options = read.unwrap_or_default().options(rows)?;
    tokio::task::spawn_blocking(move || {
        delta_bridge_ingest::preview(std::path::Path::new(&path), &options)
    })
    .await
    .map_err(|e| other(e.to_string()))?
    .map_err(CommandError::from)
}

/// What the UI asks to upload.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadRequest {
    files: Vec<String>,
    name: Option<String>,
    mode: String,
    #[serde(default)]
    share: bool,
    #[serde(default)]
    read: ReadOverrides,
}

/// A new job id, to pass to `upload` and, to stop it, `cancel`.
#[tauri::command]
fn new_job(state: State<'_, AppState>) -> u64 {
    state.next_job.fetch_add(1, Ordering::Relaxed)
}

/// Converts and uploads; progress events stream over `on_progress`.
#[tauri::command]
async fn upload<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    job: u64,
    request: UploadRequest,
    on_progress: Channel<Progress>,
) -> Answer<Uploaded> {
    let started = std::time::Instant::now();
    let cancel = CancellationToken::new();
    state
        .jobs
        .lock()
        .expect("not poisoned")
        .insert(job, cancel.clone());
    let options = UploadOptions {
        files: request.files.into_iter().map(PathBuf::from).collect(),
        name: request.name,
        mode: request.mode,
        share: request.share,
        concurrency: 4,
        read: request.read.options(None)?,
    };
    let progress = Arc::new(move |p: Progress| {
        let _ = on_progress.send(p);
    });
    let result = state.client().upload(&options, progress, cancel).await;
    state.jobs.lock().expect("not poisoned").remove(&job);
    let result = result.map_err(CommandError::from);
    if let Some((title, body)) =
        finished_notice(&options.dataset_name(), &result, started.elapsed())
    {
        // A notification that cannot be shown (no notification service) changes nothing else.
        let _ = app.notification().builder().title(title).body(body).show();
    }
    result
}

/// What a desktop notification says when a job ends: only for long jobs, and not when the user
/// cancelled it themselves.
fn finished_notice(
    name: &str,
    result: &Answer<Uploaded>,
    elapsed: std::time::Duration,
) -> Option<(String, String)> {
    if elapsed < LONG_JOB {
        return None;
    }
    match result {
        Ok(done) => Some((
            format!("{name} is uploaded"),
            format!(
                "Version {} with {} rows{}.",
                done.dataset.dataset.version,
                done.dataset.dataset.rows,
                if done.snippet.is_some() {
                    ", shared: the snippet is ready to copy"
                } else {
                    ""
                }
            ),
        )),
        Err(e) if e.kind == "cancelled" => None,
        Err(e) => Some((format!("{name} was not uploaded"), e.message.clone())),
    }
}

#[tauri::command]
fn cancel(state: State<'_, AppState>, job: u64) -> bool {
    match state.jobs.lock().expect("not poisoned").get(&job) {
        Some(token) => {
            token.cancel();
            true
        }
        None => false,
    }
}

#[tauri::command]
async fn datasets(state: State<'_, AppState>) -> Answer<Vec<DatasetInfo>> {
    let client = state.client();
    let token = client.id_token().await?;
    Ok(client.backend().all_datasets(&token).await?)
}

/// One dataset with its version history: what the app refreshes after an action on it.
#[tauri::command]
async fn dataset(state: State<'_, AppState>, id: String) -> Answer<DatasetDetail> {
    let client = state.client();
    let token = client.id_token().await?;
    Ok(client.backend().dataset(&token, &id).await?)
}

#[tauri::command]
async fn share(
    state: State<'_, AppState>,
    id: String,
    with_history: bool,
) -> Answer<ShareResponse> {
    let client = state.client();
    let token = client.id_token().await?;
    Ok(client.backend().share(&token, &id, with_history).await?)
}

#[tauri::command]
async fn snippet(state: State<'_, AppState>, id: String) -> Answer<ShareResponse> {
    let client = state.client();
    let token = client.id_token().await?;
    Ok(client.backend().snippet(&token, &id).await?)
}

#[tauri::command]
async fn unshare(state: State<'_, AppState>, id: String) -> Answer<UnshareResponse> {
    let client = state.client();
    let token = client.id_token().await?;
    Ok(client.backend().unshare(&token, &id).await?)
}

#[tauri::command]
async fn delete(state: State<'_, AppState>, id: String) -> Answer<()> {
    let client = state.client();
    let token = client.id_token().await?;
    Ok(client.backend().delete(&token, &id).await?)
}

/// Starts the app.
pub fn run() {
    with_commands(tauri::Builder::default())
        .setup(|app| {
            let config = app.path().app_config_dir()?;
            let state_dir = app.path().app_local_data_dir()?;
            app.manage(AppState::new(config, state_dir));
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("the app starts");
}

/// The plugins and commands, on any runtime (the real one, or the mock one in tests).
fn with_commands<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_notification::init())
        .invoke_handler(tauri::generate_handler![
            get_settings,
            save_settings,
            restore_session,
            sign_in,
            sign_out,
            pick_files,
            preview,
            new_job,
            upload,
            cancel,
            datasets,
            dataset,
            share,
            snippet,
            unshare,
            delete
        ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emulator_is_used_when_a_host_is_set_and_real_firebase_with_a_key() {
        let dir = std::path::Path::new("/tmp/state");
        let emulator = DesktopSettings {
            backend_url: "http://b".into(),
            firebase_api_key: None,
            firebase_emulator_host: Some("127.0.0.1:9099".into()),
        };
        let settings = client_settings(&emulator, dir);
        assert_eq!(
            settings.firebase.identity_url,
            "http://127.0.0.1:9099/identitytoolkit.googleapis.com"
        );
        let google = DesktopSettings {
            firebase_api_key: Some("key".into()),
            firebase_emulator_host: None,
            ..emulator
        };
        let settings = client_settings(&google, dir);
        assert_eq!(settings.firebase, FirebaseSettings::google("key"));
        assert_eq!(settings.backend_url, "http://b");
    }

    #[test]
    fn long_jobs_end_with_a_notification_and_cancelled_ones_do_not() {
        let long = LONG_JOB + std::time::Duration::from_secs(1);
        let done: Answer<Uploaded> = Ok(Uploaded {
            dataset: DatasetDetail {
                dataset: DatasetInfo {
                    id: "ds_1".into(),
                    name: "sales".into(),
                    version: 2,
                    rows: 1200,
                    bytes: 4096,
                    schema: vec![],
                    shared: true,
                    created_at: String::new(),
                    updated_at: String::new(),
                },
                versions: vec![],
            },
            snippet: None,
            resumed: false,
            bytes_sent: 4096,
        });
        assert_eq!(
            finished_notice("sales", &done, long),
            Some((
                "sales is uploaded".into(),
                "Version 2 with 1200 rows.".into()
            ))
        );
        assert_eq!(
            finished_notice("sales", &done, std::time::Duration::from_secs(2)),
            None,
            "a short job needs no notification: the user is watching"
        );
        let failed: Answer<Uploaded> =
            Err(Error::Network("the backend is unreachable".into()).into());
        let (title, body) = finished_notice("sales", &failed, long).unwrap();
        assert_eq!(title, "sales was not uploaded");
        assert!(body.contains("unreachable"), "{body}");
        let cancelled: Answer<Uploaded> = Err(Error::Cancelled.into());
        assert_eq!(finished_notice("sales", &cancelled, long), None);
    }

    #[test]
    fn errors_reach_the_ui_as_a_kind_and_a_sentence() {
        let e: CommandError = Error::Auth(AuthError::WrongPassword).into();
        assert_eq!(
            (e.kind, e.message.as_str()),
            ("auth", "wrong email or password")
        );
        let e: CommandError = Error::Network("cannot reach the backend".into()).into();
        assert_eq!(e.kind, "network");
        let json = serde_json::to_value(CommandError::from(Error::Cancelled)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "cancelled", "message": "cancelled"})
        );
    }

    #[test]
    fn overrides_from_the_preview_become_read_options() {
        let overrides: ReadOverrides = serde_json::from_value(serde_json::json!({
            "names": [[0, "postcode"]], "types": [[0, "string"], [2, "date:dmy"]],
            "delimiter": ";", "encoding": "windows-1252", "hasHeader": true
        }))
        .unwrap();
        let options = overrides.options(Some(10)).unwrap();
        assert_eq!(options.delimiter, Some(b';'));
        assert_eq!(options.names, vec![(0, "postcode".to_string())]);
        assert_eq!(
            options.types[0],
            (0, delta_bridge_ingest::ColumnType::String)
        );
        assert_eq!(options.has_header, Some(true));
        let bad: ReadOverrides =
            serde_json::from_value(serde_json::json!({"types": [[1, "uuid"]]})).unwrap();
        let e = bad.options(None).unwrap_err();
        assert_eq!(e.kind, "input");
        assert!(e.message.contains("column 2"), "{}", e.message);
    }

    #[test]
    fn settings_persist_across_restarts() {
        let dir = std::env::temp_dir().join(format!("delta-bridge-desktop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let saved = DesktopSettings {
            backend_url: "http://saved".into(),
            firebase_api_key: None,
            firebase_emulator_host: Some("127.0.0.1:1".into()),
        };
        std::fs::write(
            dir.join("settings.json"),
            serde_json::to_vec(&saved).unwrap(),
        )
        .unwrap();
        let state = AppState::new(dir.clone(), dir.join("state"));
        assert_eq!(*state.settings.lock().unwrap(), saved);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The real commands, invoked over IPC as the UI invokes them, on Tauri's mock runtime.
    mod through_ipc {
        use super::*;
        use serde_json::{Value, json};
        use tauri::ipc::{CallbackFn, InvokeBody};
        use tauri::test::{
            INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
        };
        use tauri::webview::InvokeRequest;

        struct Running {
            _app: tauri::App<MockRuntime>,
            window: tauri::WebviewWindow<MockRuntime>,
        }

        fn start(dir: &std::path::Path) -> Running {
            let app = with_commands(mock_builder())
                .build(mock_context(noop_assets()))
                .expect("the app builds");
            app.manage(AppState::new(dir.join("config"), dir.join("state")));
            let window = tauri::WebviewWindowBuilder::new(&app, "main", Default::default())
                .build()
                .expect("a window");
            Running { _app: app, window }
        }

        fn invoke(running: &Running, command: &str, args: Value) -> Result<Value, Value> {
            get_ipc_response(
                &running.window,
                InvokeRequest {
                    cmd: command.into(),
                    callback: CallbackFn(0),
                    error: CallbackFn(1),
                    url: "tauri://localhost".parse().unwrap(),
                    body: InvokeBody::Json(args),
                    headers: Default::default(),
                    invoke_key: INVOKE_KEY.to_string(),
                },
            )
            .map(|body| body.deserialize::<Value>().unwrap())
        }

        #[test]
        fn settings_saved_from_the_ui_come_back_after_a_restart() {
            let dir = tempfile::tempdir().unwrap();
            let app = start(dir.path());
            let first = invoke(&app, "get_settings", json!({})).unwrap();
            assert_eq!(
                first["backendUrl"],
                json!(DesktopSettings::default().backend_url)
            );
            let chosen = json!({"backendUrl": "http://backend.test:8081", "firebaseApiKey": null, "firebaseEmulatorHost": "127.0.0.1:9099"});
            invoke(&app, "save_settings", json!({"settings": chosen})).unwrap();
            assert_eq!(invoke(&app, "get_settings", json!({})).unwrap(), chosen);
            drop(app);
            let again = start(dir.path());
            assert_eq!(invoke(&again, "get_settings", json!({})).unwrap(), chosen);
        }

        #[test]
        fn the_preview_reads_the_file_with_the_users_changes_and_bad_input_is_a_sentence() {
            let dir = tempfile::tempdir().unwrap();
            let app = start(dir.path());
            let csv = dir.path().join("sales.csv");
            std::fs::write(
                &csv,
                "zip;amount;day\n01234;1,5;2024-01-31\n98765;2,25;2024-02-01\n",
            )
            .unwrap();
            let path = csv.to_str().unwrap();
            let preview = invoke(
                &app,
                "preview",
                json!({"path": path, "rows": 10, "read": null}),
            )
            .unwrap();
            assert_eq!(preview["dialect"]["delimiter"], json!(";"));
            let types: Vec<&str> = preview["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["type"].as_str().unwrap())
                .collect();
            assert_eq!(types, ["string", "float64", "date"], "{preview}");
            assert_eq!(preview["rows"][0][0], json!("01234"));

            let read = json!({"names": [[0, "postcode"]], "types": [[2, "string"]]});
            let changed = invoke(
                &app,
                "preview",
                json!({"path": path, "rows": 10, "read": read}),
            )
            .unwrap();
            assert_eq!(changed["columns"][0]["name"], json!("postcode"));
            assert_eq!(changed["columns"][2]["type"], json!("string"));

            let unknown = json!({"names": [], "types": [[1, "money"]]});
            let error = invoke(
                &app,
                "preview",
                json!({"path": path, "rows": 10, "read": unknown}),
            )
            .unwrap_err();
            assert_eq!(error["kind"], json!("input"), "{error}");
            assert!(
                error["message"].as_str().unwrap().contains("money"),
                "{error}"
            );

            let missing = dir.path().join("missing.csv");
            let error = invoke(
                &app,
                "preview",
                json!({"path": missing, "rows": 10, "read": null}),
            )
            .unwrap_err();
            assert_eq!(error["kind"], json!("input"), "{error}");
            assert!(
                error["message"].as_str().unwrap().contains("missing.csv"),
                "{error}"
            );
        }

        #[test]
        fn jobs_have_their_own_ids_and_cancelling_an_unknown_one_does_nothing() {
            let dir = tempfile::tempdir().unwrap();
            let app = start(dir.path());
            let first = invoke(&app, "new_job", json!({})).unwrap();
            let second = invoke(&app, "new_job", json!({})).unwrap();
            assert_ne!(first, second);
            assert_eq!(
                invoke(&app, "cancel", json!({"job": 12345})).unwrap(),
                json!(false)
            );
        }
    }
}
