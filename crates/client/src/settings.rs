//! Settings resolved once, for the CLI and the app alike: where the backend is, how to sign in, where
//! state lives, whether plain `http://` may leave this machine.
//!
//! One precedence: what the person chose explicitly (the CLI's flags; the settings saved from the app),
//! then the environment ([`env`]), then the CLI's config file (`config.toml`), then an organisation's
//! provisioning file ([`Provisioning`]: `DELTA_BRIDGE_PROVISIONING`, else `<config dir>/provisioning.json`,
//! else `/etc/delta-bridge/provisioning.json`, in the app's settings format). One set of defaults
//! ([`DEFAULT_BACKEND_URL`] for the CLI, insecure http off) and never a Firebase default: without a Web
//! API key or an emulator host named by some source, nobody signs in.
//!
//! The CLI merges the sources field by field ([`Settings::resolve`]); the app takes the first whole
//! source that is usable and shows which ([`resolve`], [`Configuration`]), listing those it skipped.
//! Both read the environment with [`Layer::from_environment`] and provisioning files with
//! [`Provisioning::read`], and build the client's settings through [`SettingsFile::settings`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{FirebaseSettings, Settings};

/// The environment variables, in one place.
pub mod env {
    /// The backend's URL.
    pub const BACKEND_URL: &str = "DELTA_BRIDGE_BACKEND_URL";
    /// The Firebase project's Web API key.
    pub const FIREBASE_API_KEY: &str = "DELTA_BRIDGE_FIREBASE_API_KEY";
    /// The Firebase Auth emulator's `host:port`.
    pub const FIREBASE_EMULATOR_HOST: &str = "FIREBASE_AUTH_EMULATOR_HOST";
    /// `1`/`0`: send passwords and tokens over plain `http://` to other machines.
    pub const INSECURE_HTTP: &str = "DELTA_BRIDGE_INSECURE_HTTP";
    /// Where the CLI keeps journals and converted tables.
    pub const STATE_DIR: &str = "DELTA_BRIDGE_STATE_DIR";
    /// The CLI's config file.
    pub const CONFIG: &str = "DELTA_BRIDGE_CONFIG";
    /// An organisation's provisioning file.
    pub const PROVISIONING: &str = "DELTA_BRIDGE_PROVISIONING";
    /// Where the app looks for signed updates.
    pub const UPDATE_URL: &str = "DELTA_BRIDGE_UPDATE_URL";
}

/// The CLI's backend when no source names one: the one `scripts/run.sh` starts on this machine.
pub const DEFAULT_BACKEND_URL: &str = "http://127.0.0.1:8081";

/// A process environment variable, set and not blank.
pub fn process_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A yes or no as written in the environment: 1, true, yes, on; 0, false, no, off.
pub fn yes_or_no(name: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{name}={value:?}: expected 1 or 0 (true or false)")),
    }
}

/// What one source says, any of it missing. Also the CLI's config file (`config.toml`, snake_case keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// The backend's URL.
    pub backend_url: Option<String>,
    /// The Firebase project's Web API key.
    pub firebase_api_key: Option<String>,
    /// The Firebase Auth emulator's `host:port`.
    pub firebase_emulator_host: Option<String>,
    /// Where journals and converted tables are kept.
    pub state_dir: Option<PathBuf>,
    /// Plain `http://` to other machines.
    pub insecure_http: Option<bool>,
}

impl Layer {
    /// The environment's settings, read by `var` (set and not empty), or why they cannot be read.
    pub fn from_environment(var: impl Fn(&str) -> Option<String>) -> Result<Layer, String> {
        Ok(Layer {
            backend_url: var(env::BACKEND_URL),
            firebase_api_key: var(env::FIREBASE_API_KEY),
            firebase_emulator_host: var(env::FIREBASE_EMULATOR_HOST),
            state_dir: var(env::STATE_DIR).map(PathBuf::from),
            insecure_http: var(env::INSECURE_HTTP)
                .map(|v| yes_or_no(env::INSECURE_HTTP, &v))
                .transpose()?,
        })
    }

    /// The CLI's config file: none when absent, else its settings or why they cannot be read.
    pub fn from_config_file(path: &Path) -> Result<Layer, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))
            }
            Err(_) => Ok(Layer::default()),
        }
    }

    /// Each field from the first layer that has it.
    fn over(self, below: Layer) -> Layer {
        Layer {
            backend_url: self.backend_url.or(below.backend_url),
            firebase_api_key: self.firebase_api_key.or(below.firebase_api_key),
            firebase_emulator_host: self.firebase_emulator_host.or(below.firebase_emulator_host),
            state_dir: self.state_dir.or(below.state_dir),
            insecure_http: self.insecure_http.or(below.insecure_http),
        }
    }
}

impl From<SettingsFile> for Layer {
    fn from(file: SettingsFile) -> Layer {
        Layer {
            backend_url: Some(file.backend_url).filter(|u| !u.trim().is_empty()),
            firebase_api_key: file.firebase_api_key,
            firebase_emulator_host: file.firebase_emulator_host,
            state_dir: None,
            insecure_http: file.insecure_http.then_some(true),
        }
    }
}

impl Settings {
    /// The CLI's settings: field by field, the flags, then the environment (read by `var`), then the
    /// config file (`config`, or `DELTA_BRIDGE_CONFIG`, else `<config home>/delta-bridge/config.toml`),
    /// then the provisioning file (read only when the backend or Firebase is still missing); then the
    /// defaults ([`DEFAULT_BACKEND_URL`], `state_dir`, insecure
    /// http off). No Firebase default: a sentence says how to name one.
    pub fn resolve(
        flags: Layer,
        config: Option<PathBuf>,
        var: impl Fn(&str) -> Option<String>,
        config_home: &Path,
        state_dir: PathBuf,
    ) -> Result<Settings, String> {
        let environment = Layer::from_environment(&var)?;
        let config_path = config
            .or_else(|| var(env::CONFIG).map(PathBuf::from))
            .unwrap_or_else(|| config_home.join("delta-bridge/config.toml"));
        let file = Layer::from_config_file(&config_path)?;
        let mut layer = flags.over(environment).over(file);
        // An organisation's file fills in what nothing else gave (and is not read when nothing is
        // missing, so a broken one stops only those who need it).
        let complete = layer.backend_url.is_some()
            && (layer.firebase_api_key.is_some() || layer.firebase_emulator_host.is_some());
        if !complete
            && let Some((_, found)) = Provisioning::from_vars(
                &var,
                &config_home.join("delta-bridge"),
                Path::new(SYSTEM_PROVISIONING),
            )
            .read()
        {
            layer = layer.over(found?.into());
        }
        let firebase = match (layer.firebase_emulator_host, layer.firebase_api_key) {
            (Some(host), key) => {
                FirebaseSettings::emulator(&host, key.as_deref().unwrap_or("emulator"))
            }
            (None, Some(key)) => FirebaseSettings::google(&key),
            (None, None) => {
                return Err(format!(
                    "no Firebase settings: give --firebase-api-key (or --firebase-emulator-host for the local emulator), set {}, or write firebase_api_key in {}",
                    env::FIREBASE_API_KEY,
                    config_path.display()
                ));
            }
        };
        Ok(Settings {
            backend_url: layer
                .backend_url
                .unwrap_or_else(|| DEFAULT_BACKEND_URL.into()),
            firebase,
            state_dir: layer.state_dir.unwrap_or(state_dir),
            insecure_http: layer.insecure_http.unwrap_or(false),
        })
    }
}

/// What the Settings screen edits, and the format of the settings file and of a provisioning file
/// (nothing secret: the sign-in lives in the OS keyring).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SettingsFile {
    /// The backend's URL.
    pub backend_url: String,
    /// The Firebase project's Web API key (real Firebase).
    #[serde(default)]
    pub firebase_api_key: Option<String>,
    /// The Firebase Auth emulator (`127.0.0.1:9099`), chosen explicitly for local use.
    #[serde(default)]
    pub firebase_emulator_host: Option<String>,
    /// Send the password and tokens over plain `http://` to hosts other than this machine too.
    #[serde(default)]
    pub insecure_http: bool,
    /// Where the app looks for signed updates (an update manifest's URL, `https://`, or `http://` to this
    /// machine), instead of the one its package was built with. Usually set by a provisioning file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub update_url: Option<String>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl SettingsFile {
    /// The client's settings, or a sentence saying what is missing. Never a default: without a
    /// Firebase Web API key or an emulator host, nobody can sign in.
    pub fn settings(&self, state_dir: &Path) -> Result<Settings, String> {
        let backend_url = self.backend_url.trim();
        if backend_url.is_empty() {
            return Err("the backend URL is missing".into());
        }
        let firebase = match (
            given(&self.firebase_emulator_host),
            given(&self.firebase_api_key),
        ) {
            (Some(host), key) => FirebaseSettings::emulator(host, key.unwrap_or("emulator")),
            (None, Some(key)) => FirebaseSettings::google(key),
            (None, None) => {
                return Err(
                    "choose how to sign in: a Firebase Web API key, or the Firebase Auth emulator's host"
                        .into(),
                );
            }
        };
        Ok(Settings {
            backend_url: backend_url.to_string(),
            firebase,
            state_dir: state_dir.to_path_buf(),
            insecure_http: self.insecure_http,
        })
    }
}

/// Where the settings in force come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Source {
    /// Saved from the app (the settings file in the app's configuration directory).
    Saved,
    /// `DELTA_BRIDGE_BACKEND_URL`, `DELTA_BRIDGE_FIREBASE_API_KEY`, `FIREBASE_AUTH_EMULATOR_HOST`.
    Environment,
    /// An organisation's provisioning file.
    Provisioning,
}

/// What the app runs with, as the UI shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Configuration {
    /// The settings in force; none: the app is unconfigured and signs nobody in until settings are saved.
    pub settings: Option<SettingsFile>,
    /// Where they come from.
    pub source: Option<Source>,
    /// The file they come from (saved or provisioning).
    pub file: Option<PathBuf>,
    /// Settings found but not used, and why (a provisioning file that cannot be read, an environment that
    /// names a backend but no way to sign in).
    pub problems: Vec<String>,
}

/// Where to look for a provisioning file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provisioning {
    /// The file `DELTA_BRIDGE_PROVISIONING` names: it must be there.
    Named(PathBuf),
    /// The first of these that exists (`<config dir>/provisioning.json`, then
    /// `/etc/delta-bridge/provisioning.json`).
    Search(Vec<PathBuf>),
}

impl Provisioning {
    /// Where the variables read by `var` say (`DELTA_BRIDGE_PROVISIONING`), else `config_dir` then
    /// `system`.
    pub fn from_vars(
        var: impl Fn(&str) -> Option<String>,
        config_dir: &Path,
        system: &Path,
    ) -> Provisioning {
        match var(env::PROVISIONING) {
            Some(path) => Provisioning::Named(PathBuf::from(path)),
            None => Provisioning::Search(vec![
                config_dir.join("provisioning.json"),
                system.to_path_buf(),
            ]),
        }
    }

    /// The provisioning file in force: none, or its path and its settings (or why they cannot be read).
    pub fn read(&self) -> Option<(PathBuf, Result<SettingsFile, String>)> {
        match self {
            Provisioning::Named(path) => {
                let found = read_settings(path).unwrap_or_else(|| {
                    Err(format!(
                        "{}: no such file (named by DELTA_BRIDGE_PROVISIONING)",
                        path.display()
                    ))
                });
                Some((path.clone(), found))
            }
            Provisioning::Search(paths) => paths
                .iter()
                .find_map(|path| read_settings(path).map(|found| (path.clone(), found))),
        }
    }
}

/// What the app is given when it starts, besides its saved settings: the environment's settings and
/// where a provisioning file may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// Settings from the environment, when it sets any (maybe incomplete), or why it cannot be read.
    pub environment: Option<Result<SettingsFile, String>>,
    /// Where an organisation's provisioning file may be.
    pub provisioning: Provisioning,
}

/// The system-wide provisioning file (Linux and macOS).
pub const SYSTEM_PROVISIONING: &str = "/etc/delta-bridge/provisioning.json";

impl Launch {
    /// Nothing but the saved settings (tests).
    pub fn nothing() -> Launch {
        Launch {
            environment: None,
            provisioning: Provisioning::Search(Vec::new()),
        }
    }

    /// From the process environment, for an app whose configuration directory is `config_dir`.
    pub fn from_environment(config_dir: &Path) -> Launch {
        Launch::from_vars(process_var, config_dir, Path::new(SYSTEM_PROVISIONING))
    }

    /// From variables read by `var` (set and not empty), looking for provisioning files in `config_dir`
    /// then at `system`.
    pub fn from_vars(
        var: impl Fn(&str) -> Option<String>,
        config_dir: &Path,
        system: &Path,
    ) -> Launch {
        let named = [
            env::BACKEND_URL,
            env::FIREBASE_API_KEY,
            env::FIREBASE_EMULATOR_HOST,
        ]
        .iter()
        .any(|name| var(name).is_some());
        let environment = named.then(|| {
            Layer::from_environment(&var).map(|e| SettingsFile {
                backend_url: e.backend_url.unwrap_or_default(),
                firebase_api_key: e.firebase_api_key,
                firebase_emulator_host: e.firebase_emulator_host,
                insecure_http: e.insecure_http.unwrap_or(false),
                update_url: var(env::UPDATE_URL),
            })
        });
        Launch {
            environment,
            provisioning: Provisioning::from_vars(&var, config_dir, system),
        }
    }
}

/// Reads a settings or provisioning file: none when absent, else the settings or why they cannot be read.
fn read_settings(path: &Path) -> Option<Result<SettingsFile, String>> {
    match std::fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(Err(format!("{}: {e}", path.display()))),
        Ok(bytes) => {
            Some(serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display())))
        }
    }
}

/// The settings in force: saved settings, else the environment's, else a provisioning file's, else none
/// (unconfigured). A source that is there but unusable is skipped and reported in `problems`.
pub fn resolve(saved_file: &Path, launch: &Launch) -> Configuration {
    let mut candidates: Vec<(Source, Option<PathBuf>, Result<SettingsFile, String>)> = Vec::new();
    if let Some(saved) = read_settings(saved_file) {
        candidates.push((Source::Saved, Some(saved_file.to_path_buf()), saved));
    }
    if let Some(environment) = &launch.environment {
        let named = environment
            .clone()
            .map_err(|e| format!("the environment: {e}"));
        candidates.push((Source::Environment, None, named));
    }
    if let Some((path, found)) = launch.provisioning.read() {
        candidates.push((Source::Provisioning, Some(path), found));
    }
    let mut configuration = Configuration::default();
    for (source, file, found) in candidates {
        let usable = found.and_then(|settings| {
            settings
                .settings(Path::new("."))
                .map(|_| settings)
                .map_err(|why| match &file {
                    Some(file) => format!("{}: {why}", file.display()),
                    None => format!(
                        "the environment (DELTA_BRIDGE_BACKEND_URL, DELTA_BRIDGE_FIREBASE_API_KEY, FIREBASE_AUTH_EMULATOR_HOST): {why}"
                    ),
                })
        });
        match usable {
            Ok(settings) => {
                configuration.settings = Some(settings);
                configuration.source = Some(source);
                configuration.file = file;
                return configuration;
            }
            Err(problem) => configuration.problems.push(problem),
        }
    }
    configuration
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_emulator_is_used_when_a_host_is_set_and_real_firebase_with_a_key() {
        let dir = std::path::Path::new("/tmp/state");
        let emulator = SettingsFile {
            backend_url: "http://b".into(),
            firebase_api_key: None,
            firebase_emulator_host: Some("127.0.0.1:9099".into()),
            insecure_http: true,
            update_url: None,
        };
        let settings = emulator.settings(dir).unwrap();
        assert_eq!(
            settings.firebase.identity_url,
            "http://127.0.0.1:9099/identitytoolkit.googleapis.com"
        );
        assert!(settings.insecure_http);
        let google = SettingsFile {
            firebase_api_key: Some("key".into()),
            firebase_emulator_host: None,
            ..emulator
        };
        let settings = google.settings(dir).unwrap();
        assert_eq!(settings.firebase, FirebaseSettings::google("key"));
        assert_eq!(settings.backend_url, "http://b");
    }

    #[test]
    fn without_a_key_or_an_emulator_host_nobody_signs_in_and_there_is_no_default() {
        let dir = std::path::Path::new("/tmp/state");
        let e = SettingsFile::default().settings(dir).unwrap_err();
        assert!(e.contains("backend URL"), "{e}");
        let no_firebase = SettingsFile {
            backend_url: "https://backend.example.com".into(),
            firebase_api_key: Some("  ".into()),
            ..Default::default()
        };
        let e = no_firebase.settings(dir).unwrap_err();
        assert!(e.contains("Firebase Web API key"), "{e}");
    }

    fn settings(backend: &str) -> SettingsFile {
        SettingsFile {
            backend_url: backend.into(),
            firebase_api_key: Some("web-api-key".into()),
            firebase_emulator_host: None,
            insecure_http: false,
            update_url: None,
        }
    }

    fn write_json(path: &Path, value: &impl Serialize) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_vec(value).unwrap()).unwrap();
    }

    #[test]
    fn saved_settings_come_before_the_environment_which_comes_before_provisioning() {
        let dir = tempfile::tempdir().unwrap();
        let saved_file = dir.path().join("config/settings.json");
        let provisioning_file = dir.path().join("etc/provisioning.json");
        let launch = Launch {
            environment: Some(Ok(settings("https://from-env.example.com"))),
            provisioning: Provisioning::Search(vec![provisioning_file.clone()]),
        };
        write_json(&saved_file, &settings("https://saved.example.com"));
        write_json(
            &provisioning_file,
            &settings("https://provisioned.example.com"),
        );

        let in_force = resolve(&saved_file, &launch);
        assert_eq!(in_force.source, Some(Source::Saved));
        assert_eq!(
            in_force.settings,
            Some(settings("https://saved.example.com"))
        );
        assert_eq!(in_force.file.as_deref(), Some(saved_file.as_path()));

        std::fs::remove_file(&saved_file).unwrap();
        let in_force = resolve(&saved_file, &launch);
        assert_eq!(in_force.source, Some(Source::Environment));
        assert_eq!(
            in_force.settings,
            Some(settings("https://from-env.example.com"))
        );

        let no_environment = Launch {
            environment: None,
            ..launch.clone()
        };
        let in_force = resolve(&saved_file, &no_environment);
        assert_eq!(in_force.source, Some(Source::Provisioning));
        assert_eq!(
            in_force.settings,
            Some(settings("https://provisioned.example.com"))
        );
        assert_eq!(in_force.file.as_deref(), Some(provisioning_file.as_path()));

        std::fs::remove_file(&provisioning_file).unwrap();
        assert_eq!(
            resolve(&saved_file, &no_environment),
            Configuration::default()
        );
    }

    #[test]
    fn with_nothing_given_the_app_is_unconfigured() {
        let dir = tempfile::tempdir().unwrap();
        let launch = Launch::from_vars(
            |_| None,
            &dir.path().join("config"),
            &dir.path().join("etc/provisioning.json"),
        );
        assert_eq!(launch.environment, None);
        let configuration = resolve(&dir.path().join("config/settings.json"), &launch);
        assert_eq!(configuration, Configuration::default());
    }

    #[test]
    fn the_environment_configures_the_app_explicitly() {
        let dir = tempfile::tempdir().unwrap();
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let config = dir.path().join("config");
        let system = dir.path().join("etc/provisioning.json");
        let launch = Launch::from_vars(
            vars(&[
                ("DELTA_BRIDGE_BACKEND_URL", "http://127.0.0.1:8081"),
                ("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099"),
            ]),
            &config,
            &system,
        );
        assert_eq!(
            launch.environment,
            Some(Ok(SettingsFile {
                backend_url: "http://127.0.0.1:8081".into(),
                firebase_api_key: None,
                firebase_emulator_host: Some("127.0.0.1:9099".into()),
                insecure_http: false,
                update_url: None,
            }))
        );
        assert_eq!(
            launch.provisioning,
            Provisioning::Search(vec![config.join("provisioning.json"), system.clone()])
        );
        let configuration = resolve(&config.join("settings.json"), &launch);
        assert_eq!(configuration.source, Some(Source::Environment));

        // A backend but no way to sign in: reported, and the next source applies (here none).
        let partial = Launch::from_vars(
            vars(&[("DELTA_BRIDGE_BACKEND_URL", "https://backend.example.com")]),
            &config,
            &system,
        );
        let configuration = resolve(&config.join("settings.json"), &partial);
        assert_eq!(configuration.settings, None);
        assert!(
            configuration.problems[0].contains("FIREBASE_AUTH_EMULATOR_HOST"),
            "{:?}",
            configuration.problems
        );
        // The insecure toggle too, and a value that means neither yes nor no is reported.
        let insecure = Launch::from_vars(
            vars(&[
                ("DELTA_BRIDGE_BACKEND_URL", "http://backend.lan"),
                ("DELTA_BRIDGE_FIREBASE_API_KEY", "k"),
                ("DELTA_BRIDGE_INSECURE_HTTP", "1"),
            ]),
            &config,
            &system,
        );
        assert!(insecure.environment.unwrap().unwrap().insecure_http);
        let unclear = Launch::from_vars(
            vars(&[
                ("DELTA_BRIDGE_BACKEND_URL", "http://backend.lan"),
                ("DELTA_BRIDGE_FIREBASE_API_KEY", "k"),
                ("DELTA_BRIDGE_INSECURE_HTTP", "perhaps"),
            ]),
            &config,
            &system,
        );
        let configuration = resolve(&config.join("settings.json"), &unclear);
        assert_eq!(configuration.settings, None);
        assert!(
            configuration.problems[0].contains("perhaps"),
            "{:?}",
            configuration.problems
        );
    }

    #[test]
    fn a_provisioning_file_is_found_where_documented_and_a_bad_one_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        let system = dir.path().join("etc/provisioning.json");
        let named = dir.path().join("org/provisioning.json");
        let none = |_: &str| None;
        write_json(&system, &settings("https://system.example.com"));
        let launch = Launch::from_vars(none, &config, &system);
        let configuration = resolve(&config.join("settings.json"), &launch);
        assert_eq!(
            configuration.settings,
            Some(settings("https://system.example.com"))
        );
        // The one in the configuration directory comes first.
        write_json(
            &config.join("provisioning.json"),
            &settings("https://user.example.com"),
        );
        let configuration = resolve(&config.join("settings.json"), &launch);
        assert_eq!(
            configuration.settings,
            Some(settings("https://user.example.com"))
        );
        // DELTA_BRIDGE_PROVISIONING names the only one looked at: missing, it is a problem.
        let by_name = |name: &str| {
            (name == "DELTA_BRIDGE_PROVISIONING").then(|| named.to_string_lossy().into_owned())
        };
        let launch = Launch::from_vars(by_name, &config, &system);
        assert_eq!(launch.provisioning, Provisioning::Named(named.clone()));
        let configuration = resolve(&config.join("settings.json"), &launch);
        assert_eq!(configuration.settings, None);
        assert!(
            configuration.problems[0].contains("DELTA_BRIDGE_PROVISIONING"),
            "{:?}",
            configuration.problems
        );
        // A misspelt key is refused, naming the file and the key.
        std::fs::create_dir_all(named.parent().unwrap()).unwrap();
        std::fs::write(
            &named,
            r#"{"backendUrl": "https://b.example.com", "firebaseApiKy": "k"}"#,
        )
        .unwrap();
        let configuration = resolve(&config.join("settings.json"), &launch);
        assert_eq!(configuration.settings, None);
        let problem = &configuration.problems[0];
        assert!(
            problem.contains("org/provisioning.json") && problem.contains("firebaseApiKy"),
            "{problem}"
        );
        // The same fields as the settings, insecure_http included.
        std::fs::write(
            &named,
            r#"{"backendUrl": "http://backend.lan:8081", "firebaseEmulatorHost": "10.0.0.2:9099", "insecureHttp": true}"#,
        )
        .unwrap();
        let configuration = resolve(&config.join("settings.json"), &launch);
        assert_eq!(configuration.source, Some(Source::Provisioning));
        assert!(configuration.settings.unwrap().insecure_http);
    }

    #[test]
    fn the_clis_settings_come_from_flags_then_the_environment_then_the_file_then_provisioning() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("config");
        let file = home.join("delta-bridge/config.toml");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(
            &file,
            "backend_url = \"https://file.example.com\"\nfirebase_api_key = \"file-key\"\n",
        )
        .unwrap();
        let provisioning = home.join("delta-bridge/provisioning.json");
        write_json(&provisioning, &settings("https://provisioned.example.com"));
        let state = dir.path().join("state");
        let resolve = |flags: Layer, vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            Settings::resolve(
                flags,
                None,
                move |name| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()),
                &home,
                state.clone(),
            )
        };
        let from_file = resolve(Layer::default(), &[]).unwrap();
        // The file is complete: a provisioning file that cannot be read is not even looked at.
        let broken = dir.path().join("broken.json");
        std::fs::write(&broken, "{").unwrap();
        let broken = broken.to_str().unwrap().to_string();
        assert!(resolve(Layer::default(), &[(env::PROVISIONING, &broken)]).is_ok());
        assert_eq!(from_file.backend_url, "https://file.example.com");
        assert_eq!(from_file.firebase, FirebaseSettings::google("file-key"));
        assert_eq!(from_file.state_dir, state);
        let from_env = resolve(
            Layer::default(),
            &[
                (env::BACKEND_URL, "https://env.example.com"),
                (env::STATE_DIR, "/tmp/s"),
            ],
        )
        .unwrap();
        assert_eq!(from_env.backend_url, "https://env.example.com");
        assert_eq!(from_env.state_dir, PathBuf::from("/tmp/s"));
        let from_flags = resolve(
            Layer {
                backend_url: Some("https://flag.example.com".into()),
                ..Default::default()
            },
            &[(env::BACKEND_URL, "https://env.example.com")],
        )
        .unwrap();
        assert_eq!(from_flags.backend_url, "https://flag.example.com");

        // Without the file, the provisioning file fills in; without either, the default backend but
        // never a default Firebase.
        std::fs::remove_file(&file).unwrap();
        let provisioned = resolve(Layer::default(), &[]).unwrap();
        assert_eq!(provisioned.backend_url, "https://provisioned.example.com");
        assert_eq!(
            provisioned.firebase,
            FirebaseSettings::google("web-api-key")
        );
        std::fs::remove_file(&provisioning).unwrap();
        let e = resolve(Layer::default(), &[]).unwrap_err();
        assert!(e.contains("no Firebase settings"), "{e}");
        let local = resolve(
            Layer::default(),
            &[(env::FIREBASE_EMULATOR_HOST, "127.0.0.1:9099")],
        )
        .unwrap();
        assert_eq!(local.backend_url, DEFAULT_BACKEND_URL);
        assert!(!local.insecure_http);
        let e = resolve(Layer::default(), &[(env::INSECURE_HTTP, "maybe")]).unwrap_err();
        assert!(e.contains(env::INSECURE_HTTP), "{e}");
    }
}
