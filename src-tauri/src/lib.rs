//! The desktop app's Rust side: Tauri commands, each parsing its input, calling one function of the
//! client library (`delta_bridge_client`) or the ingest library, and shaping the answer. Progress of an
//! upload streams over a `Channel`; a job id lets the UI pause or cancel it (`delta_bridge_client::Jobs`).

mod background;
mod pace;
mod tray;
pub mod update;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use delta_bridge_api::{
    ActivationLink, Activity as Reads, DatasetDetail, DatasetId, DatasetInfo, DatasetRef,
    GrantResponse, NewRecipient, RecipientChange, RecipientInfo, RecipientName, ShareResponse,
    UnshareResponse,
};
use delta_bridge_client::settings::{Configuration, Launch, SettingsFile, Source, resolve};
use delta_bridge_client::{
    Account, ActivityFilter, AuthError, Client, Error, Interrupted, Jobs, Kind, Progress,
    UploadOptions, UploadRequest, Uploaded, private,
};
use delta_bridge_ingest::ReadText;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};
use tauri_plugin_dialog::DialogExt;
use tauri_plugin_notification::NotificationExt;

pub use background::{Activity, CloseBehaviour, OnClose, Preferences};
pub use update::{UpdateError, UpdateOffer, UpdateProgress, Updates};

/// Jobs at least this long end with a desktop notification (the user has likely looked away).
const LONG_JOB: std::time::Duration = std::time::Duration::from_secs(10);

/// An error as the UI shows it: a kind to choose the tone, a sentence saying what to do, and, for an
/// input file's error, the file, row (1-based, the header included) and column it is about.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct CommandError {
    /// `auth`, `input`, `network`, `cancelled`, `paused`, `settings`, `update` or `other`.
    #[cfg_attr(
        test,
        ts(
            type = r#""auth" | "input" | "network" | "cancelled" | "paused" | "settings" | "update" | "other""#
        )
    )]
    pub kind: &'static str,
    /// For people.
    pub message: String,
    /// The input file the error is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub file: Option<String>,
    /// The row, 1-based with the header.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional, as = "Option<u32>"))]
    pub row: Option<u64>,
    /// The column's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub column: Option<String>,
}

impl CommandError {
    fn new(kind: &'static str, message: impl Into<String>) -> CommandError {
        CommandError {
            kind,
            message: message.into(),
            file: None,
            row: None,
            column: None,
        }
    }
}

impl From<Error> for CommandError {
    fn from(e: Error) -> Self {
        let kind = match e.kind() {
            Kind::Auth => "auth",
            Kind::Input => "input",
            Kind::Network => "network",
            Kind::Cancelled => "cancelled",
            Kind::Paused => "paused",
            Kind::Settings => "settings",
            Kind::Other => "other",
        };
        CommandError {
            kind,
            message: e.to_string(),
            file: e.file().map(|f| f.to_string_lossy().into_owned()),
            row: e.row(),
            column: e.column().map(str::to_string),
        }
    }
}

impl From<delta_bridge_ingest::Error> for CommandError {
    fn from(e: delta_bridge_ingest::Error) -> Self {
        Error::from(e).into()
    }
}

/// What every command that needs a backend answers while the app is unconfigured.
fn not_configured() -> CommandError {
    CommandError::new(
        "settings",
        "Delta-Bridge is not set up yet: choose the backend and how to sign in first",
    )
}

fn other(message: impl Into<String>) -> CommandError {
    CommandError::new("other", message.into())
}

type Answer<T> = Result<T, CommandError>;

/// What every command shares.
pub struct AppState {
    settings_file: PathBuf,
    state_dir: PathBuf,
    configuration: Mutex<Configuration>,
    /// None while unconfigured: nothing signs in.
    client: Mutex<Option<Arc<Client>>>,
    jobs: Arc<Jobs>,
    /// Running uploads' progress, for the tray and for closing the window.
    activity: Arc<Activity>,
    preferences_file: PathBuf,
    /// CSV files the app was opened with (a file manager's "Open with"), handed to the UI once.
    opened: Mutex<Vec<String>>,
}

impl AppState {
    /// State whose settings are saved in `config_dir` and upload journals kept in `state_dir`; what the
    /// app was given at launch (`launch`) applies when nothing is saved.
    pub fn new(config_dir: PathBuf, state_dir: PathBuf, launch: &Launch) -> AppState {
        let settings_file = config_dir.join("settings.json");
        let preferences_file = Preferences::file(&config_dir);
        let configuration = resolve(&settings_file, launch);
        let client = configuration
            .settings
            .as_ref()
            .and_then(|s| s.settings(&state_dir).ok())
            .map(|s| Arc::new(Client::new(s)));
        AppState {
            settings_file,
            state_dir,
            configuration: Mutex::new(configuration),
            client: Mutex::new(client),
            jobs: Arc::new(Jobs::default()),
            activity: Arc::new(Activity::default()),
            preferences_file,
            opened: Mutex::new(Vec::new()),
        }
    }

    fn client(&self) -> Answer<Arc<Client>> {
        self.client
            .lock()
            .expect("not poisoned")
            .clone()
            .ok_or_else(not_configured)
    }
}

/// The settings in force and where they come from (no settings: show the first-launch screen).
#[tauri::command]
fn configuration(state: State<'_, AppState>) -> Configuration {
    state.configuration.lock().expect("not poisoned").clone()
}

/// Saves settings chosen in the app (they take precedence over the environment and provisioning from
/// then on), for the user alone. Incomplete settings, or settings the client would refuse (plain
/// http to another machine without the toggle), are not saved.
#[tauri::command]
fn save_settings(state: State<'_, AppState>, settings: SettingsFile) -> Answer<Configuration> {
    let client_settings = settings
        .settings(&state.state_dir)
        .map_err(|why| CommandError::new("input", format!("Settings not saved: {why}.")))?;
    client_settings.check().map_err(CommandError::from)?;
    let write = || -> std::io::Result<()> {
        if let Some(parent) = state.settings_file.parent() {
            private::private_dir(parent)?;
        }
        private::write(
            &state.settings_file,
            &serde_json::to_vec_pretty(&settings).expect("serializes"),
        )
    };
    write().map_err(|e| other(format!("{}: {e}", state.settings_file.display())))?;
    *state.client.lock().expect("not poisoned") = Some(Arc::new(Client::new(client_settings)));
    let configuration = Configuration {
        settings: Some(settings),
        source: Some(Source::Saved),
        file: Some(state.settings_file.clone()),
        problems: Vec::new(),
    };
    *state.configuration.lock().expect("not poisoned") = configuration.clone();
    Ok(configuration)
}

/// The session kept in the OS keyring, if any (no prompt).
#[tauri::command]
async fn restore_session(state: State<'_, AppState>) -> Answer<Option<Account>> {
    match state.client()?.whoami().await {
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
    Ok(state.client()?.login(&email, &password, sign_up).await?)
}

#[tauri::command]
async fn sign_out(state: State<'_, AppState>) -> Answer<()> {
    state.client()?.logout().await?;
    Ok(())
}

/// The native file picker (the fallback to dropping files on the window): rfd through Tauri's dialog
/// plugin, which uses GTK's own file chooser on Linux, so it works on desktops without xdg-desktop-portal.
#[tauri::command]
async fn pick_files<R: Runtime>(app: AppHandle<R>) -> Vec<String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Choose files to share")
        .add_filter("CSV, Excel, JSON, Parquet", delta_bridge_ingest::EXTENSIONS)
        .pick_files(move |files| {
            let _ = tx.send(files);
        });
    rx.await
        .ok()
        .flatten()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|f| f.into_path().ok())
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

/// Looks for a signed update (at the settings' update URL, else the package's); none when this build does
/// not update. A failed look is reported, for the UI to stay quiet about.
#[tauri::command]
async fn check_update<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    updates: State<'_, Updates>,
) -> Answer<Option<UpdateOffer>> {
    let url = state
        .configuration
        .lock()
        .expect("not poisoned")
        .settings
        .as_ref()
        .and_then(|s| s.update_url.clone());
    updates
        .check(&app, url.as_deref())
        .await
        .map_err(|e| CommandError::new("update", e.to_string()))
}

/// Downloads the update on offer, verifies its signature against the built-in key, installs it, and
/// restarts into it. A refused update installs nothing and says why.
#[tauri::command]
async fn install_update<R: Runtime>(
    app: AppHandle<R>,
    updates: State<'_, Updates>,
    on_progress: Channel<UpdateProgress>,
) -> Answer<()> {
    updates
        .install(|p| {
            let _ = on_progress.send(p);
        })
        .await
        .map_err(|e| CommandError::new("update", e.to_string()))?;
    // The new version must not find this one still holding the single-instance name, and hand itself over.
    tauri_plugin_single_instance::destroy(&app);
    app.restart()
}

/// The CSV files the app was opened with, once (then none).
#[tauri::command]
fn opened_files(state: State<'_, AppState>) -> Vec<String> {
    std::mem::take(&mut *state.opened.lock().expect("not poisoned"))
}

/// Remembers what closing the window does while uploads run, and does it now (the question is asked when
/// the user closes the window).
#[tauri::command]
fn set_close_behaviour<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    behaviour: CloseBehaviour,
) -> Answer<()> {
    let mut preferences = Preferences::load(&state.preferences_file);
    preferences.close_behaviour = Some(behaviour);
    preferences
        .save(&state.preferences_file)
        .map_err(|e| other(format!("{}: {e}", state.preferences_file.display())))?;
    match behaviour {
        CloseBehaviour::Background => {
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.hide();
            }
        }
        CloseBehaviour::Quit => app.exit(0),
    }
    Ok(())
}

/// What the user changed in the preview (dialect, and column names and types by 0-based position) as
/// read options; the ingest library parses them by the same rules as the CLI's flags.
fn read_options(read: &ReadText, rows: Option<usize>) -> Answer<delta_bridge_ingest::Options> {
    read.options(rows)
        .map_err(|e| CommandError::new("input", e.to_string()))
}

/// The head of a CSV: dialect, columns with inferred (or chosen) types and names, first rows.
#[tauri::command]
async fn preview(
    path: String,
    rows: Option<usize>,
    read: Option<ReadText>,
) -> Answer<delta_bridge_ingest::Preview> {
    let options = read_options(&read.unwrap_or_default(), rows)?;
    tokio::task::spawn_blocking(move || {
        delta_bridge_ingest::preview(std::path::Path::new(&path), &options)
    })
    .await
    .map_err(|e| other(e.to_string()))?
    .map_err(CommandError::from)
}

/// A new job id, to pass to `upload` and, to stop it, `pause` or `cancel`.
#[tauri::command]
fn new_job(state: State<'_, AppState>) -> u64 {
    state.jobs.new_id()
}

/// Converts and uploads; progress events stream over `on_progress`. The same request as an interrupted
/// upload resumes it.
#[tauri::command]
async fn upload<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    job: u64,
    request: UploadRequest,
    on_progress: Channel<Progress>,
) -> Answer<Uploaded> {
    let client = state.client()?;
    let started = std::time::Instant::now();
    let running = state.jobs.start(job);
    let name = request.dataset_name();
    let options = UploadOptions {
        request,
        concurrency: 4,
        file_bytes: delta_bridge_client::FILE_BYTES,
    };
    let activity = state.activity.clone();
    activity.progress(job, 0, 0);
    let pace = pace::Pace::default();
    let progress = Arc::new(move |p: Progress| {
        activity.progress(job, p.bytes_done, p.bytes_total);
        if pace.due(&p, std::time::Instant::now()) {
            let _ = on_progress.send(p);
        }
    });
    let result = client
        .upload(&options, progress, running.job())
        .await
        .map_err(CommandError::from);
    drop(running);
    state.activity.finished(job);
    if let Some((title, body)) = finished_notice(&name, &result, started.elapsed()) {
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
        Err(e) if e.kind == "cancelled" || e.kind == "paused" => None,
        Err(e) => Some((format!("{name} was not uploaded"), e.message.clone())),
    }
}

/// Stops a running upload and forgets what it sent: true if it was running.
#[tauri::command]
fn cancel(state: State<'_, AppState>, job: u64) -> bool {
    state.jobs.cancel(job)
}

/// Stops a running upload and keeps its journal (the upload then fails with kind `paused`, and
/// `interrupted` lists it): true if it was running.
#[tauri::command]
fn pause(state: State<'_, AppState>, job: u64) -> bool {
    state.jobs.pause(job)
}

/// The uploads that started and did not finish (paused, or stopped by a crash, a kill or quitting),
/// newest first: the same request again resumes one.
#[tauri::command]
fn interrupted(state: State<'_, AppState>) -> Answer<Vec<Interrupted>> {
    Ok(state.client()?.interrupted()?)
}

/// Forgets an interrupted upload (its journal, its local copy, what the backend received): true if
/// there was one with that key.
#[tauri::command]
async fn discard(state: State<'_, AppState>, key: String) -> Answer<bool> {
    Ok(state.client()?.discard(&key).await?)
}

#[tauri::command]
async fn datasets(state: State<'_, AppState>) -> Answer<Vec<DatasetInfo>> {
    Ok(state.client()?.datasets().await?)
}

/// One dataset with its version history: what the app refreshes after an action on it.
#[tauri::command]
async fn dataset(state: State<'_, AppState>, id: String) -> Answer<DatasetDetail> {
    Ok(state.client()?.dataset(&dataset_id(&id)?).await?)
}

#[tauri::command]
async fn share(
    state: State<'_, AppState>,
    id: String,
    with_history: bool,
) -> Answer<ShareResponse> {
    Ok(state
        .client()?
        .share(&dataset_id(&id)?, with_history)
        .await?)
}

#[tauri::command]
async fn snippet(state: State<'_, AppState>, id: String) -> Answer<ShareResponse> {
    Ok(state.client()?.snippet(&dataset_id(&id)?).await?)
}

/// Stops sharing a dataset with the named recipients (`link`: its snippet), or with everyone when none
/// (or no list) is given.
#[tauri::command]
async fn unshare(
    state: State<'_, AppState>,
    id: String,
    recipients: Option<Vec<String>>,
) -> Answer<UnshareResponse> {
    let names = recipient_names(&recipients.unwrap_or_default())?;
    Ok(state.client()?.unshare(&dataset_id(&id)?, &names).await?)
}

/// The user's recipients, by name, with their datasets, expiry and last read.
#[tauri::command]
async fn recipients(state: State<'_, AppState>) -> Answer<Vec<RecipientInfo>> {
    Ok(state.client()?.recipients().await?)
}

/// Adds a recipient: a name, and optionally an email and when its credential expires (RFC 3339).
/// Blank email or expiry means none.
#[tauri::command]
async fn add_recipient(
    state: State<'_, AppState>,
    name: String,
    email: Option<String>,
    expires_at: Option<String>,
) -> Answer<RecipientInfo> {
    let given = |text: Option<String>| text.filter(|t| !t.trim().is_empty());
    let new = NewRecipient {
        name: recipient_name(&name)?,
        email: given(email),
        expires_at: given(expires_at),
    };
    Ok(state.client()?.add_recipient(&new).await?)
}

/// Revokes a recipient: every grant ends and its credential stops working.
#[tauri::command]
async fn revoke_recipient(state: State<'_, AppState>, name: String) -> Answer<RecipientChange> {
    Ok(state
        .client()?
        .revoke_recipient(&recipient_name(&name)?)
        .await?)
}

/// Gives a recipient a new credential; the old one keeps working `overlap_seconds` (0: stops at once).
#[tauri::command]
async fn rotate_recipient(
    state: State<'_, AppState>,
    name: String,
    overlap_seconds: u64,
) -> Answer<RecipientChange> {
    Ok(state
        .client()?
        .rotate_recipient(
            &recipient_name(&name)?,
            Duration::from_secs(overlap_seconds),
        )
        .await?)
}

/// A new one-time activation link for a recipient.
#[tauri::command]
async fn activation_link(state: State<'_, AppState>, name: String) -> Answer<ActivationLink> {
    Ok(state
        .client()?
        .activation_link(&recipient_name(&name)?)
        .await?)
}

/// Shares a dataset with recipients (made when they do not exist yet), each answer with its snippet.
#[tauri::command]
async fn grant(
    state: State<'_, AppState>,
    id: String,
    recipients: Vec<String>,
    with_history: bool,
) -> Answer<GrantResponse> {
    let names = recipient_names(&recipients)?;
    Ok(state
        .client()?
        .grant(&dataset_id(&id)?, &names, with_history)
        .await?)
}

/// A recipient's snippet of a dataset shared with them (`link`: the dataset's link snippet).
#[tauri::command]
async fn snippet_for(
    state: State<'_, AppState>,
    id: String,
    recipient: String,
) -> Answer<ShareResponse> {
    Ok(state
        .client()?
        .snippet_for(&dataset_id(&id)?, &recipient_name(&recipient)?)
        .await?)
}

/// Reads of the user's datasets, newest first: only one dataset's (by id), one recipient's, since a time
/// (RFC 3339), at most `limit`.
#[tauri::command]
async fn activity(
    state: State<'_, AppState>,
    dataset: Option<String>,
    recipient: Option<String>,
    since: Option<String>,
    limit: Option<i64>,
) -> Answer<Reads> {
    let filter = ActivityFilter {
        dataset: dataset.as_deref().map(dataset_id).transpose()?,
        recipient: recipient.as_deref().map(recipient_name).transpose()?,
        since,
        limit,
    };
    Ok(state.client()?.activity(&filter).await?)
}

#[tauri::command]
async fn delete(state: State<'_, AppState>, id: String) -> Answer<()> {
    state.client()?.delete(&dataset_id(&id)?).await?;
    Ok(())
}

/// The UI names datasets by id only (it has the list).
fn dataset_id(id: &str) -> Answer<DatasetRef> {
    id.parse::<DatasetId>()
        .map(DatasetRef::Id)
        .map_err(|e| CommandError::new("input", e.to_string()))
}

fn recipient_name(name: &str) -> Answer<RecipientName> {
    name.parse()
        .map_err(|e: delta_bridge_api::ParseError| CommandError::new("input", e.to_string()))
}

fn recipient_names(names: &[String]) -> Answer<Vec<RecipientName>> {
    names.iter().map(|n| recipient_name(n)).collect()
}

/// Starts the app.
pub fn run() {
    let mut context = tauri::generate_context!();
    update::prepare(context.config_mut());
    let updates = Updates::new(context.config());
    // First: a second launch (a file manager's "Open with" while the app runs) hands its files to this
    // one, which shows its window, and exits.
    let mut builder =
        tauri::Builder::default().plugin(tauri_plugin_single_instance::init(|app, args, cwd| {
            let files = opened_files_in(args.into_iter().skip(1).map(Into::into), Path::new(&cwd));
            if let Some(state) = app.try_state::<AppState>() {
                state.opened.lock().expect("not poisoned").extend(files);
            }
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.show();
                let _ = window.unminimize();
                let _ = window.set_focus();
            }
            let _ = app.emit("opened-files", ());
        }));
    if update::enabled(context.config()) {
        builder = builder.plugin(tauri_plugin_updater::Builder::new().build());
    }
    with_commands(builder)
        .manage(updates)
        .setup(|app| {
            let config = app.path().app_config_dir()?;
            let state_dir = app.path().app_local_data_dir()?;
            // The app's own directories are for the user alone, whoever created them.
            for dir in [&config, &state_dir] {
                if let Err(e) = private::private_dir(dir) {
                    eprintln!("delta-bridge: {}: {e}", dir.display());
                }
            }
            let launch = Launch::from_environment(&config);
            let state = AppState::new(config, state_dir, &launch);
            *state.opened.lock().expect("not poisoned") = opened_files_in(
                std::env::args_os().skip(1),
                &std::env::current_dir().unwrap_or_default(),
            );
            let activity = state.activity.clone();
            app.manage(state);
            tray::install(app.handle(), activity);
            Ok(())
        })
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                let state = window.state::<AppState>();
                let chosen = Preferences::load(&state.preferences_file).close_behaviour;
                match background::on_close(state.activity.running(), chosen) {
                    OnClose::Close => {}
                    OnClose::Hide => {
                        api.prevent_close();
                        let _ = window.hide();
                    }
                    OnClose::Ask => {
                        api.prevent_close();
                        let _ = window.emit("close-requested", ());
                    }
                }
            }
        })
        .run(context)
        .expect("the app starts");
}

/// The files among `args` that exist, relative ones taken from `cwd` (how a file manager opens a CSV with
/// the app), as absolute paths.
fn opened_files_in(args: impl IntoIterator<Item = std::ffi::OsString>, cwd: &Path) -> Vec<String> {
    args.into_iter()
        .map(|arg| cwd.join(arg))
        .filter(|p| p.is_file())
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

/// The plugins and commands, on any runtime (the real one, or the mock one in tests).
fn with_commands<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(tauri::generate_handler![
            configuration,
            save_settings,
            restore_session,
            sign_in,
            sign_out,
            pick_files,
            opened_files,
            check_update,
            install_update,
            set_close_behaviour,
            preview,
            new_job,
            upload,
            cancel,
            pause,
            interrupted,
            discard,
            datasets,
            dataset,
            share,
            snippet,
            unshare,
            delete,
            recipients,
            add_recipient,
            revoke_recipient,
            rotate_recipient,
            activation_link,
            grant,
            snippet_for,
            activity
        ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
            notes: vec![],
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
    fn input_errors_reach_the_ui_with_their_file_row_and_column() {
        let e = CommandError::from(delta_bridge_ingest::Error::ValueDoesNotFit {
            file: "/data/sales.csv".into(),
            row: 12,
            column: "amount".into(),
            expected: "int64",
            value: "n/a".into(),
        });
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["kind"], "input");
        assert_eq!(json["file"], "/data/sales.csv");
        assert_eq!(json["row"], 12);
        assert_eq!(json["column"], "amount");
        assert!(
            json["message"].as_str().unwrap().contains("row 12"),
            "{json}"
        );
        let paused = serde_json::to_value(CommandError::from(Error::Paused)).unwrap();
        assert_eq!(paused["kind"], "paused");
        assert!(paused.get("row").is_none(), "{paused}");
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
        let overrides: ReadText = serde_json::from_value(serde_json::json!({
            "names": [[0, "postcode"]], "types": [[0, "string"], [2, "date:dmy"]],
            "delimiter": ";", "encoding": "windows-1252", "hasHeader": true
        }))
        .unwrap();
        let options = read_options(&overrides, Some(10)).unwrap();
        assert_eq!(options.delimiter, Some(b';'));
        assert_eq!(options.names, vec![(0, "postcode".to_string())]);
        assert_eq!(
            options.types[0],
            (0, delta_bridge_ingest::ColumnType::String)
        );
        assert_eq!(options.has_header, Some(true));
        let bad: ReadText =
            serde_json::from_value(serde_json::json!({"types": [[1, "uuid"]]})).unwrap();
        let e = read_options(&bad, None).unwrap_err();
        assert_eq!(e.kind, "input");
        assert!(e.message.contains("column 2"), "{}", e.message);
    }

    #[test]
    fn settings_persist_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let saved = SettingsFile {
            backend_url: "http://saved".into(),
            firebase_api_key: None,
            firebase_emulator_host: Some("127.0.0.1:1".into()),
            insecure_http: false,
            update_url: None,
        };
        // A file saved before insecureHttp existed reads as it.
        std::fs::write(
            dir.path().join("settings.json"),
            r#"{"backendUrl": "http://saved", "firebaseApiKey": null, "firebaseEmulatorHost": "127.0.0.1:1"}"#,
        )
        .unwrap();
        let state = AppState::new(
            dir.path().into(),
            dir.path().join("state"),
            &Launch::nothing(),
        );
        let configuration = state.configuration.lock().unwrap().clone();
        assert_eq!(configuration.settings, Some(saved));
        assert_eq!(configuration.source, Some(Source::Saved));
    }

    /// The TypeScript declarations of every type the UI sends or receives, made from the Rust types.
    fn typescript() -> String {
        use delta_bridge_api as api;
        use delta_bridge_client as client;
        use delta_bridge_ingest as ingest;
        use ts_rs::TS;
        let declarations = [
            api::Mode::decl(),
            api::DatasetId::decl(),
            api::ColumnInfo::decl(),
            api::DatasetInfo::decl(),
            api::VersionInfo::decl(),
            api::DatasetDetail::decl(),
            api::Snippet::decl(),
            api::ShareResponse::decl(),
            api::Revocation::decl(),
            api::UnshareResponse::decl(),
            api::RecipientName::decl(),
            api::GrantInfo::decl(),
            api::RecipientInfo::decl(),
            api::RecipientChange::decl(),
            api::ActivationLink::decl(),
            api::GrantResponse::decl(),
            api::ReadInfo::decl(),
            api::Activity::decl(),
            ingest::Encoding::decl(),
            ingest::LineEnding::decl(),
            ingest::Dialect::decl(),
            ingest::DateOrder::decl(),
            ingest::ColumnType::decl(),
            ingest::Column::decl(),
            ingest::Format::decl(),
            ingest::Sheet::decl(),
            ingest::Preview::decl(),
            ingest::ReadText::decl(),
            client::Account::decl(),
            client::Stage::decl(),
            client::Progress::decl(),
            client::Uploaded::decl(),
            client::UploadRequest::decl(),
            client::Interrupted::decl(),
            client::settings::SettingsFile::decl(),
            client::settings::Source::decl(),
            client::settings::Configuration::decl(),
            CommandError::decl(),
            crate::UpdateOffer::decl(),
            crate::UpdateProgress::decl(),
        ];
        let mut text = String::from(
            "// The types of the desktop app's commands, generated from the Rust types: do not edit.\n\
             // `DELTA_BRIDGE_WRITE_TYPES=1 cargo test -p delta-bridge-desktop typescript` writes it again;\n\
             // that test fails while this file differs from what the Rust types make.\n",
        );
        for declaration in declarations {
            text.push_str("\nexport ");
            text.push_str(&declaration);
            text.push('\n');
        }
        text
    }

    #[test]
    fn the_typescript_types_in_the_ui_are_the_rust_ones() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/generated/ipc.ts");
        let made = typescript();
        if std::env::var_os("DELTA_BRIDGE_WRITE_TYPES").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &made).unwrap();
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == made,
            "ui/src/generated/ipc.ts is stale: run DELTA_BRIDGE_WRITE_TYPES=1 cargo test -p delta-bridge-desktop typescript and commit it"
        );
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
            app.manage(AppState::new(
                dir.join("config"),
                dir.join("state"),
                &Launch::nothing(),
            ));
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
        fn a_fresh_app_signs_nobody_in_until_settings_are_saved_and_they_come_back_after_a_restart()
        {
            let dir = tempfile::tempdir().unwrap();
            let app = start(dir.path());
            let first = invoke(&app, "configuration", json!({})).unwrap();
            assert_eq!(
                first,
                json!({"settings": null, "source": null, "file": null, "problems": []})
            );
            for (command, args) in [
                (
                    "sign_in",
                    json!({"email": "ana@example.com", "password": "p", "signUp": false}),
                ),
                ("restore_session", json!({})),
                ("datasets", json!({})),
            ] {
                let error = invoke(&app, command, args).unwrap_err();
                assert_eq!(error["kind"], json!("settings"), "{command}: {error}");
            }
            let chosen = json!({"backendUrl": "https://backend.test", "firebaseApiKey": null, "firebaseEmulatorHost": "127.0.0.1:9099", "insecureHttp": false});
            let saved = invoke(&app, "save_settings", json!({"settings": chosen})).unwrap();
            assert_eq!(saved["settings"], chosen);
            assert_eq!(saved["source"], json!("saved"));
            assert_eq!(invoke(&app, "configuration", json!({})).unwrap(), saved);
            drop(app);
            let again = start(dir.path());
            assert_eq!(invoke(&again, "configuration", json!({})).unwrap(), saved);
        }

        #[test]
        fn settings_that_would_leak_secrets_or_cannot_sign_in_are_not_saved() {
            let dir = tempfile::tempdir().unwrap();
            let app = start(dir.path());
            let remote = json!({"backendUrl": "http://backend.lan:8081", "firebaseApiKey": "k", "firebaseEmulatorHost": null, "insecureHttp": false});
            let error = invoke(&app, "save_settings", json!({"settings": remote})).unwrap_err();
            assert_eq!(error["kind"], json!("settings"), "{error}");
            let message = error["message"].as_str().unwrap();
            assert!(
                message.contains("backend.lan") && message.contains("insecure"),
                "{message}"
            );
            let incomplete = json!({"backendUrl": "https://backend.example.com", "firebaseApiKey": null, "firebaseEmulatorHost": null, "insecureHttp": false});
            let error = invoke(&app, "save_settings", json!({"settings": incomplete})).unwrap_err();
            assert_eq!(error["kind"], json!("input"), "{error}");
            assert!(!dir.path().join("config/settings.json").exists());
            assert_eq!(
                invoke(&app, "configuration", json!({})).unwrap()["settings"],
                json!(null)
            );
            // Told explicitly, plain http to another machine is saved.
            let allowed = json!({"backendUrl": "http://backend.lan:8081", "firebaseApiKey": "k", "firebaseEmulatorHost": null, "insecureHttp": true});
            invoke(&app, "save_settings", json!({"settings": allowed})).unwrap();
        }

        #[cfg(unix)]
        #[test]
        fn the_settings_file_is_for_the_user_alone() {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            let dir = tempfile::tempdir().unwrap();
            let app = start(dir.path());
            let before = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
            let chosen = json!({"backendUrl": "http://127.0.0.1:8081", "firebaseApiKey": null, "firebaseEmulatorHost": "127.0.0.1:9099", "insecureHttp": false});
            let saved = invoke(&app, "save_settings", json!({"settings": chosen}));
            rustix::process::umask(before);
            saved.unwrap();
            assert_eq!(mode(&dir.path().join("config")), 0o700);
            assert_eq!(mode(&dir.path().join("config/settings.json")), 0o600);
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
        fn interrupted_uploads_are_listed_in_the_uis_casing_and_discarded_by_key() {
            let dir = tempfile::tempdir().unwrap();
            let app = start(dir.path());
            let error = invoke(&app, "interrupted", json!({})).unwrap_err();
            assert_eq!(error["kind"], json!("settings"), "{error}");
            let chosen = json!({"backendUrl": "https://backend.test", "firebaseApiKey": null, "firebaseEmulatorHost": "127.0.0.1:9099", "insecureHttp": false});
            invoke(&app, "save_settings", json!({"settings": chosen})).unwrap();
            assert_eq!(invoke(&app, "interrupted", json!({})).unwrap(), json!([]));

            // A journal as an upload paused while sending leaves it.
            let csv = dir.path().join("sales.csv");
            std::fs::write(&csv, "a,b\n1,2\n").unwrap();
            let key = "0123456789abcdef01234567";
            let journal = dir.path().join(format!("state/uploads/{key}.json"));
            std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
            let staging = dir.path().join("state/staging").join(key);
            std::fs::create_dir_all(&staging).unwrap();
            let request = json!({"files": [csv], "name": "sales", "mode": "append", "share": true,
                                 "read": {"names": [], "types": [[1, "string"]], "delimiter": "\\t", "encoding": null, "hasHeader": null}});
            std::fs::write(
                &journal,
                json!({
                    "request": request, "backend": "https://backend.test", "name": "sales",
                    "mode": "append", "staging": staging, "converted": true, "keep_staging": false,
                    "files": [{"name": "part-0.parquet", "path": staging.join("part-0.parquet"), "size": 1000, "sha256": "00"}],
                    "upload_id": null, "dataset_id": null,
                    "sent": {"part-0.parquet": {"part_size": 400, "whole": false, "parts": {"1": "e1", "3": "e3"}}}
                })
                .to_string(),
            )
            .unwrap();
            let listed = invoke(&app, "interrupted", json!({})).unwrap();
            assert_eq!(
                listed,
                json!([{"key": key, "request": request, "bytesSent": 600, "bytesTotal": 1000, "converted": true}])
            );
            assert_eq!(
                invoke(&app, "discard", json!({"key": "not-a-key"})).unwrap(),
                json!(false)
            );
            assert_eq!(
                invoke(&app, "discard", json!({"key": key})).unwrap(),
                json!(true)
            );
            assert!(!journal.exists() && !staging.exists());
            assert_eq!(invoke(&app, "interrupted", json!({})).unwrap(), json!([]));
        }

        /// A loopback Firebase Auth emulator that signs everyone in.
        fn signing_in_emulator() -> String {
            use std::io::{Read, Write};
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let host = listener.local_addr().unwrap().to_string();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(mut stream) = stream else { return };
                    let _ = stream.set_read_timeout(Some(std::time::Duration::from_millis(500)));
                    let mut buffer = [0u8; 8192];
                    let mut seen = Vec::new();
                    while let Ok(n) = stream.read(&mut buffer) {
                        seen.extend_from_slice(&buffer[..n]);
                        if n == 0 || String::from_utf8_lossy(&seen).contains("returnSecureToken") {
                            break;
                        }
                    }
                    let body = r#"{"localId":"u1","email":"ana@example.com","idToken":"i","refreshToken":"r","expiresIn":"3600"}"#;
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                }
            });
            host
        }

        /// Without a Secret Service (no D-Bus session, as the unit tests run), the sign-in works and
        /// says it will not be remembered.
        #[test]
        fn without_a_keyring_the_sign_in_is_for_the_session_and_says_so() {
            if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
                eprintln!("skipped: this session has a D-Bus session bus");
                return;
            }
            let dir = tempfile::tempdir().unwrap();
            let app = start(dir.path());
            let emulator = signing_in_emulator();
            let chosen = json!({"backendUrl": "http://127.0.0.1:9", "firebaseApiKey": null, "firebaseEmulatorHost": emulator, "insecureHttp": false});
            invoke(&app, "save_settings", json!({"settings": chosen})).unwrap();
            let account = invoke(
                &app,
                "sign_in",
                json!({"email": "ana@example.com", "password": "p", "signUp": false}),
            )
            .unwrap();
            assert_eq!(
                account,
                json!({"uid": "u1", "email": "ana@example.com", "remembered": false})
            );
            let restored = invoke(&app, "restore_session", json!({})).unwrap();
            assert_eq!(restored["remembered"], json!(false), "{restored}");
            assert_eq!(invoke(&app, "sign_out", json!({})).unwrap(), json!(null));
            assert_eq!(
                invoke(&app, "restore_session", json!({})).unwrap(),
                json!(null)
            );
        }

        #[test]
        fn recipient_commands_need_settings_and_refuse_bad_names_before_any_request() {
            let dir = tempfile::tempdir().unwrap();
            let app = start(dir.path());
            let calls = [
                ("recipients", json!({})),
                (
                    "add_recipient",
                    json!({"name": "bo", "email": null, "expiresAt": null}),
                ),
                ("revoke_recipient", json!({"name": "bo"})),
                (
                    "rotate_recipient",
                    json!({"name": "bo", "overlapSeconds": 3600}),
                ),
                ("activation_link", json!({"name": "bo"})),
                (
                    "grant",
                    json!({"id": "ds0123456789abcdef0123", "recipients": ["bo"], "withHistory": false}),
                ),
                (
                    "snippet_for",
                    json!({"id": "ds0123456789abcdef0123", "recipient": "bo"}),
                ),
                (
                    "unshare",
                    json!({"id": "ds0123456789abcdef0123", "recipients": ["bo"]}),
                ),
                ("activity", json!({})),
            ];
            for (command, args) in calls {
                let error = invoke(&app, command, args).unwrap_err();
                assert_eq!(error["kind"], json!("settings"), "{command}: {error}");
            }
            // A backend nothing listens on: every refusal below comes before any request.
            let chosen = json!({"backendUrl": "http://127.0.0.1:9", "firebaseApiKey": null, "firebaseEmulatorHost": "127.0.0.1:9", "insecureHttp": false});
            invoke(&app, "save_settings", json!({"settings": chosen})).unwrap();
            for (command, args, named) in [
                ("revoke_recipient", json!({"name": "a/b"}), "recipient name"),
                (
                    "rotate_recipient",
                    json!({"name": "  ", "overlapSeconds": 0}),
                    "recipient name",
                ),
                ("activation_link", json!({"name": "x\ty"}), "recipient name"),
                (
                    "add_recipient",
                    json!({"name": "", "email": "bo@example.com"}),
                    "recipient name",
                ),
                (
                    "grant",
                    json!({"id": "ds0123456789abcdef0123", "recipients": ["bo", "a/b"], "withHistory": true}),
                    "recipient name",
                ),
                (
                    "grant",
                    json!({"id": "sales", "recipients": ["bo"], "withHistory": true}),
                    "sales",
                ),
                (
                    "snippet_for",
                    json!({"id": "ds0123456789abcdef0123", "recipient": "a/b"}),
                    "recipient name",
                ),
                (
                    "unshare",
                    json!({"id": "ds0123456789abcdef0123", "recipients": ["link", ""]}),
                    "recipient name",
                ),
                ("activity", json!({"dataset": "sales"}), "sales"),
                ("activity", json!({"recipient": "a/b"}), "recipient name"),
            ] {
                let error = invoke(&app, command, args).unwrap_err();
                assert_eq!(error["kind"], json!("input"), "{command}: {error}");
                let message = error["message"].as_str().unwrap();
                assert!(message.contains(named), "{command}: {message}");
            }
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
            assert_eq!(
                invoke(&app, "pause", json!({"job": 12345})).unwrap(),
                json!(false)
            );
        }
    }
}
