//! Signed updates, through `tauri-plugin-updater`.
//!
//! A package built with a release key carries the key's public half in the `updater` plugin configuration
//! (`scripts/setup.sh`'s `build_packages` writes it there, and the update URL when one is given); a build
//! without one (a development build) never looks for updates. The manifest is looked for at the settings'
//! `updateUrl` (usually from an organisation's provisioning file), else at the URL the package was built
//! with: `https://`, or `http://` to this machine only.
//!
//! The manifest travels unsigned; the package does not. The downloaded bytes are checked against the
//! built-in key before anything is installed, and the signature must name the version the manifest
//! announces (`requireSignedVersion`), so a tampered manifest can neither install other bytes nor pass an
//! older, genuinely signed release off as new. On Linux the plugin installs a `.deb` with `dpkg -i` (an
//! `.rpm` with `rpm -U`) through `pkexec`, which asks for the administrator's password; then the app
//! restarts into the new version.

use std::sync::Mutex;

use serde::Serialize;
use tauri::{AppHandle, Runtime};
use tauri_plugin_updater::{Update, UpdaterExt};
use url::Url;

/// The plugin configuration's name, in `tauri.conf.json`'s `plugins`.
const PLUGIN: &str = "updater";

/// An update the user may install.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct UpdateOffer {
    /// The version offered.
    pub version: String,
    /// The version running.
    pub current_version: String,
    /// The release notes, if the manifest has any.
    pub notes: Option<String>,
}

/// How much of the update is downloaded.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "camelCase")]
pub struct UpdateProgress {
    #[cfg_attr(test, ts(type = "number"))]
    pub bytes_done: u64,
    #[cfg_attr(test, ts(type = "number | null"))]
    pub bytes_total: Option<u64>,
}

/// Why no update was checked for or installed, in words for the user.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("The update URL {url:?} {why}")]
    Location { url: String, why: &'static str },
    #[error("Could not look for updates: {0}")]
    Check(String),
    #[error(
        "The update to {version} was refused and nothing was installed: it is not signed with \
         Delta-Bridge's release key as announced, so it may have been tampered with ({why})"
    )]
    Signature { version: String, why: String },
    #[error("The update to {version} could not be downloaded: {why}")]
    Download { version: String, why: String },
    #[error("The update to {version} was verified but not installed: {why}")]
    Install { version: String, why: String },
    #[error("No update is on offer: look for updates first")]
    NothingOffered,
}

/// Updates for this build: whether it can update at all, and the update last offered.
pub struct Updates {
    enabled: bool,
    offered: Mutex<Option<Update>>,
}

impl Updates {
    /// Updates for a build whose configuration is `config` (see [`prepare`]).
    pub fn new(config: &tauri::Config) -> Updates {
        Updates {
            enabled: enabled(config),
            offered: Mutex::new(None),
        }
    }

    /// Looks for an update at `url` (else the URL the package was built with). None when there is
    /// none, or when this build does not update (no release key, or no URL anywhere).
    pub async fn check<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        url: Option<&str>,
    ) -> Result<Option<UpdateOffer>, UpdateError> {
        if !self.enabled {
            return Ok(None);
        }
        let mut builder = app.updater_builder();
        if let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) {
            builder = builder
                .endpoints(vec![location(url)?])
                .map_err(|e| UpdateError::Check(e.to_string()))?;
        }
        let updater = match builder.build() {
            Ok(updater) => updater,
            Err(tauri_plugin_updater::Error::EmptyEndpoints) => return Ok(None),
            Err(e) => return Err(UpdateError::Check(e.to_string())),
        };
        let found = updater
            .check()
            .await
            .map_err(|e| UpdateError::Check(e.to_string()))?;
        let offer = found.as_ref().map(|update| UpdateOffer {
            version: update.version.clone(),
            current_version: update.current_version.clone(),
            notes: update.body.clone(),
        });
        *self.offered.lock().expect("not poisoned") = found;
        Ok(offer)
    }

    /// Downloads the update on offer, verifies its signature, and installs it (the caller restarts).
    /// `progress` hears about every chunk.
    pub async fn install(
        &self,
        mut progress: impl FnMut(UpdateProgress) + Send,
    ) -> Result<(), UpdateError> {
        let update = self
            .offered
            .lock()
            .expect("not poisoned")
            .take()
            .ok_or(UpdateError::NothingOffered)?;
        let version = update.version.clone();
        let mut done = 0u64;
        let bytes = update
            .download(
                |chunk, total| {
                    done += chunk as u64;
                    progress(UpdateProgress {
                        bytes_done: done,
                        bytes_total: total,
                    });
                },
                || {},
            )
            .await
            .map_err(|e| refused(&version, e))?;
        // dpkg (through pkexec, which waits for the password) runs off the async workers.
        tauri::async_runtime::spawn_blocking(move || update.install(bytes))
            .await
            .map_err(|e| UpdateError::Install {
                version: version.clone(),
                why: e.to_string(),
            })?
            .map_err(|e| UpdateError::Install {
                version,
                why: e.to_string(),
            })
    }
}

/// What the download's failure means: a signature that does not verify is a refusal, anything else a
/// failed download.
fn refused(version: &str, e: tauri_plugin_updater::Error) -> UpdateError {
    use tauri_plugin_updater::Error as E;
    let version = version.to_string();
    match e {
        E::Minisign(_)
        | E::SignatureUtf8(_)
        | E::Base64(_)
        | E::SignedVersionMismatch { .. }
        | E::MissingSignedVersion => UpdateError::Signature {
            version,
            why: e.to_string(),
        },
        e => UpdateError::Download {
            version,
            why: e.to_string(),
        },
    }
}

/// Whether the build carries a release key (its `updater` plugin configuration).
pub fn enabled(config: &tauri::Config) -> bool {
    config.plugins.0.contains_key(PLUGIN)
}

/// The app's configuration made ready for the plugin: signed versions required, and plain `http://`
/// left to [`location`] (the plugin refuses it in release builds, loopback included).
pub fn prepare(config: &mut tauri::Config) {
    if let Some(serde_json::Value::Object(updater)) = config.plugins.0.get_mut(PLUGIN) {
        updater.insert("requireSignedVersion".into(), true.into());
        updater.insert("dangerousInsecureTransportProtocol".into(), true.into());
    }
}

/// An update URL, if updates may come from it: `https://` anywhere, `http://` to this machine.
pub fn location(url: &str) -> Result<Url, UpdateError> {
    let refuse = |why| UpdateError::Location {
        url: url.to_string(),
        why,
    };
    let parsed = Url::parse(url).map_err(|_| refuse("is not a URL"))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if delta_bridge_client::transport::is_loopback(&parsed) => Ok(parsed),
        "http" => Err(refuse(
            "must use https:// (plain http:// is only for this machine)",
        )),
        _ => Err(refuse("must start with https://")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_come_over_https_or_from_this_machine() {
        for good in [
            "https://updates.example.com/latest.json",
            "http://127.0.0.1:8080/latest.json",
            "http://localhost:1/x",
        ] {
            assert!(location(good).is_ok(), "{good}");
        }
        for bad in [
            "http://updates.example.com/latest.json",
            "ftp://x/latest.json",
            "latest.json",
        ] {
            let e = location(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn a_build_without_a_release_key_never_updates_and_one_with_it_requires_signed_versions() {
        let mut config = tauri::Config::default();
        prepare(&mut config);
        assert!(!enabled(&config));

        config.plugins.0.insert(
            PLUGIN.into(),
            serde_json::json!({ "pubkey": "a key", "requireSignedVersion": false }),
        );
        prepare(&mut config);
        assert!(enabled(&config));
        assert_eq!(
            config.plugins.0[PLUGIN]["requireSignedVersion"],
            serde_json::json!(true)
        );
    }
}
