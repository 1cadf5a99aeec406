//! Uploads that outlive the window: a tray icon shows the overall progress, and closing the window while
//! uploads run asks once whether to keep them running in the background (the answer is remembered in
//! `preferences.json` next to the settings). Quitting mid-upload loses nothing: the journal resumes it at the
//! next launch.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// What closing the window does while uploads run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CloseBehaviour {
    /// Hide the window; uploads go on, the tray icon brings it back or quits.
    Background,
    /// Quit: running uploads stop and resume at the next launch.
    Quit,
}

/// What to do when the user closes the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnClose {
    /// Close (and quit).
    Close,
    /// Keep running, window hidden.
    Hide,
    /// Ask the UI (the `close-requested` event), which answers with `set_close_behaviour`.
    Ask,
}

/// The decision: only running uploads make closing a question, and it is asked once.
pub fn on_close(uploads_running: bool, chosen: Option<CloseBehaviour>) -> OnClose {
    match (uploads_running, chosen) {
        (false, _) | (true, Some(CloseBehaviour::Quit)) => OnClose::Close,
        (true, Some(CloseBehaviour::Background)) => OnClose::Hide,
        (true, None) => OnClose::Ask,
    }
}

/// The user's remembered choices (nothing secret), `preferences.json` in the configuration directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preferences {
    /// What closing the window does while uploads run; none until asked.
    #[serde(default)]
    pub close_behaviour: Option<CloseBehaviour>,
}

impl Preferences {
    /// The file in `config_dir`.
    pub fn file(config_dir: &Path) -> PathBuf {
        config_dir.join("preferences.json")
    }

    /// Reads them; a missing or unreadable file means nothing was chosen yet.
    pub fn load(file: &Path) -> Preferences {
        std::fs::read(file)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes them atomically, for the user alone.
    pub fn save(&self, file: &Path) -> std::io::Result<()> {
        if let Some(parent) = file.parent() {
            delta_bridge_client::private::private_dir(parent)?;
        }
        delta_bridge_client::private::write(
            file,
            &serde_json::to_vec_pretty(self).expect("serializes"),
        )
    }
}

/// Running uploads and how far each is, for the tray and for closing.
#[derive(Debug, Default)]
pub struct Activity {
    jobs: Mutex<HashMap<u64, (u64, u64)>>,
}

impl Activity {
    /// Job `job` is running and has done `done` of `total` bytes of its current stage.
    pub fn progress(&self, job: u64, done: u64, total: u64) {
        self.jobs
            .lock()
            .expect("not poisoned")
            .insert(job, (done, total));
    }

    /// Job `job` ended (however).
    pub fn finished(&self, job: u64) {
        self.jobs.lock().expect("not poisoned").remove(&job);
    }

    /// Whether any upload runs.
    pub fn running(&self) -> bool {
        !self.jobs.lock().expect("not poisoned").is_empty()
    }

    /// One line for the tray: how many uploads run and the share of their bytes done.
    pub fn summary(&self) -> String {
        let jobs = self.jobs.lock().expect("not poisoned");
        if jobs.is_empty() {
            return "Delta-Bridge: nothing uploading".into();
        }
        let (done, total) = jobs
            .values()
            .fold((0u64, 0u64), |(d, t), (done, total)| (d + done, t + total));
        let percent = (done * 100).checked_div(total).unwrap_or(0);
        let uploads = if jobs.len() == 1 {
            "1 upload".to_string()
        } else {
            format!("{} uploads", jobs.len())
        };
        format!("Delta-Bridge: {uploads}, {percent}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_is_a_question_only_while_uploads_run_and_only_until_answered() {
        assert_eq!(on_close(false, None), OnClose::Close);
        assert_eq!(
            on_close(false, Some(CloseBehaviour::Background)),
            OnClose::Close
        );
        assert_eq!(on_close(true, None), OnClose::Ask);
        assert_eq!(
            on_close(true, Some(CloseBehaviour::Background)),
            OnClose::Hide
        );
        assert_eq!(on_close(true, Some(CloseBehaviour::Quit)), OnClose::Close);
    }

    #[test]
    fn the_tray_sums_every_running_upload() {
        let activity = Activity::default();
        assert!(!activity.running());
        assert_eq!(activity.summary(), "Delta-Bridge: nothing uploading");
        activity.progress(1, 25, 100);
        activity.progress(2, 0, 100);
        assert!(activity.running());
        assert_eq!(activity.summary(), "Delta-Bridge: 2 uploads, 12%");
        activity.finished(2);
        assert_eq!(activity.summary(), "Delta-Bridge: 1 upload, 25%");
        activity.finished(1);
        assert!(!activity.running());
    }

    #[test]
    fn the_choice_is_remembered_for_the_user_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = Preferences::file(&dir.path().join("config"));
        assert_eq!(Preferences::load(&file), Preferences::default());
        let chosen = Preferences {
            close_behaviour: Some(CloseBehaviour::Background),
        };
        chosen.save(&file).unwrap();
        assert_eq!(Preferences::load(&file), chosen);
        assert_eq!(
            std::fs::read_to_string(&file)
                .unwrap()
                .replace([' ', '\n'], ""),
            r#"{"closeBehaviour":"background"}"#
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
