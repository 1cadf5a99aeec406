//! The commands that talk to the backend: sign-in, upload, datasets, share, unshare, snippet, delete,
//! recipients (`recipients.rs`) and activity.
//! Each parses its arguments, calls one `delta_bridge_client` function and prints the result.
//!
//! Settings come from flags, then the environment, then the config file
//! (`~/.config/delta-bridge/config.toml`), then a provisioning file, in that order
//! (`delta_bridge_client::settings`).

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use delta_bridge_api::{
    DatasetInfo, DatasetRef, Mode, RecipientName, Revocation, ShareResponse, Snippet,
};
use delta_bridge_client::{
    Client, Error, Jobs, Kind, Progress, Settings, Stage, UploadOptions, UploadRequest, settings,
};
use serde_json::json;

use crate::{ProgressBar, emit};

/// Where the backend and Firebase are.
#[derive(Debug, Args)]
pub struct Connection {
    /// The backend's URL [env: DELTA_BRIDGE_BACKEND_URL; config: backend_url; default http://127.0.0.1:8081].
    #[arg(long, global = true)]
    backend: Option<String>,
    /// The Firebase project's Web API key [env: DELTA_BRIDGE_FIREBASE_API_KEY; config: firebase_api_key].
    #[arg(long, global = true)]
    firebase_api_key: Option<String>,
    /// Use the Firebase Auth emulator at HOST:PORT [env: FIREBASE_AUTH_EMULATOR_HOST; config: firebase_emulator_host].
    #[arg(long, global = true)]
    firebase_emulator_host: Option<String>,
    /// The config file [env: DELTA_BRIDGE_CONFIG; default ~/.config/delta-bridge/config.toml].
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Where upload journals and converted tables are kept [env: DELTA_BRIDGE_STATE_DIR; default ~/.local/state/delta-bridge].
    #[arg(long, global = true)]
    state_dir: Option<PathBuf>,
    /// Send the password and tokens over plain http:// to a backend or emulator that is not this machine
    /// (anyone on the network can read them) [env: DELTA_BRIDGE_INSECURE_HTTP=1; config: insecure_http = true].
    #[arg(long, global = true)]
    insecure_http: bool,
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

impl Connection {
    fn settings(&self) -> anyhow::Result<Settings> {
        self.settings_from(settings::process_var)
    }

    /// The settings from the flags, then `env` (the environment, or a test's), then the config file,
    /// then a provisioning file, by the client library's one rule.
    fn settings_from(&self, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Settings> {
        let flags = settings::Layer {
            backend_url: self.backend.clone(),
            firebase_api_key: self.firebase_api_key.clone(),
            firebase_emulator_host: self.firebase_emulator_host.clone(),
            state_dir: self.state_dir.clone(),
            insecure_http: self.insecure_http.then_some(true),
        };
        let config_home = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home().join(".config"));
        let state_dir = std::env::var_os("XDG_STATE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home().join(".local/state"))
            .join("delta-bridge");
        Settings::resolve(flags, self.config.clone(), env, &config_home, state_dir)
            .map_err(anyhow::Error::msg)
    }
}

#[derive(Debug, Subcommand)]
pub enum Remote {
    /// Sign in with email and password (the password from a prompt, or from standard input when it is not
    /// a terminal). The sign-in is kept in the OS keyring.
    Login {
        /// Email (asked for when missing).
        #[arg(long)]
        email: Option<String>,
        /// Create the account first.
        #[arg(long)]
        sign_up: bool,
        #[arg(long)]
        json: bool,
    },
    /// Sign out: delete the sign-in from the OS keyring.
    Logout {
        #[arg(long)]
        json: bool,
    },
    /// Show who is signed in.
    Whoami {
        #[arg(long)]
        json: bool,
    },
    /// Convert CSV files locally and upload them as a new version of a dataset (resumable: run the same
    /// command again after an interruption).
    Upload {
        /// CSV files; several become one version and must have the same columns.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Dataset name (default: the first file's name).
        #[arg(long)]
        name: Option<String>,
        /// Create a new dataset, append to one, or overwrite one.
        #[arg(long, value_parser = crate::mode_parser(), default_value_t = Mode::Create)]
        mode: Mode,
        /// Share it once uploaded and print the notebook snippet.
        #[arg(long)]
        share: bool,
        /// Files or parts in flight at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Data files are closed at about this many MiB, and each goes up while the rest is converted.
        #[arg(long, value_name = "MIB", default_value_t = (delta_bridge_client::FILE_BYTES >> 20) as u64,
              value_parser = clap::value_parser!(u64).range(1..=1024))]
        file_size: u64,
        #[command(flatten)]
        read: crate::ReadArgs,
        #[arg(long)]
        json: bool,
    },
    /// List your datasets.
    Datasets {
        #[arg(long)]
        json: bool,
    },
    /// Share a dataset (by id or name) and print the notebook snippet: by link (anyone holding the
    /// snippet), or with named recipients, each with their own credential. Recipients see the current
    /// version and later ones, not what earlier versions held.
    Share {
        /// The dataset: its id, or its name.
        dataset: DatasetRef,
        /// Share with this recipient (repeatable; made when it does not exist yet). Without it, the
        /// dataset is shared by link.
        #[arg(long = "with", value_name = "NAME")]
        with: Vec<RecipientName>,
        /// Also share the versions before the current one (time travel and the change feed reach
        /// them, including rows an overwrite replaced).
        #[arg(long)]
        with_history: bool,
        #[arg(long)]
        json: bool,
    },
    /// Stop sharing a dataset: with the named recipients, or with everyone (its link included).
    Unshare {
        /// The dataset: its id, or its name.
        dataset: DatasetRef,
        /// Stop sharing with this recipient only (repeatable; `link` for the dataset's snippet).
        #[arg(long = "from", value_name = "NAME")]
        from: Vec<RecipientName>,
        #[arg(long)]
        json: bool,
    },
    /// Print a shared dataset's notebook snippet (the link's, or a recipient's).
    Snippet {
        /// The dataset: its id, or its name.
        dataset: DatasetRef,
        /// The recipient whose snippet to print.
        #[arg(long = "for", value_name = "NAME")]
        recipient: Option<RecipientName>,
        #[arg(long)]
        json: bool,
    },
    /// Your recipients (list them without a subcommand): one credential per colleague.
    Recipients {
        #[command(subcommand)]
        action: Option<crate::recipients::Action>,
        #[arg(long, global = true)]
        json: bool,
    },
    /// Reads of your datasets, newest first: who read what, when, from where.
    Activity {
        /// Only this dataset's (id or name).
        dataset: Option<DatasetRef>,
        /// Only this recipient's (`link` for reads through a dataset's snippet).
        #[arg(long, value_name = "NAME")]
        recipient: Option<RecipientName>,
        /// Only since then: a duration back from now (30m, 12h, 7d) or a date (2026-12-01).
        #[arg(long, value_parser = crate::recipients::since)]
        since: Option<String>,
        /// At most this many reads (1 to 1000; default 200).
        #[arg(long)]
        limit: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a dataset (unshared first).
    Delete {
        /// The dataset: its id, or its name.
        dataset: DatasetRef,
        #[arg(long)]
        json: bool,
    },
}

/// Exit codes: 2 settings (as for usage), 3 input, 4 sign-in, 5 network, 130 cancelled, 1 anything else.
pub fn exit_code(err: &Error) -> u8 {
    match err.kind() {
        Kind::Settings => 2,
        Kind::Input => 3,
        Kind::Auth => 4,
        Kind::Network => 5,
        Kind::Cancelled | Kind::Paused => 130,
        Kind::Other => 1,
    }
}

pub fn run(connection: &Connection, command: Remote) -> anyhow::Result<()> {
    let settings = connection.settings()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let client = Client::new(settings);
        execute(&client, command).await.map_err(anyhow::Error::from)
    })
}

/// What `login` says on standard error when there is no keyring to keep the sign-in.
const NOT_REMEMBERED: &str = "delta-bridge: warning: no OS keyring is available (on Linux a Secret Service such as gnome-keyring must run in the session), so this sign-in will not be remembered: the next command is not signed in";

pub(crate) fn print_json(value: &impl serde::Serialize) {
    emit(&(serde_json::to_string_pretty(value).expect("serializes") + "\n"));
}

fn snippet_text(snippet: &Snippet) -> String {
    format!(
        "# {}\n{}\n# Spark:\n{}",
        snippet.install,
        snippet.python,
        snippet
            .spark
            .lines()
            .map(|l| format!("# {l}\n"))
            .collect::<String>()
    )
}

async fn execute(client: &Client, command: Remote) -> Result<(), Error> {
    match command {
        Remote::Login {
            email,
            sign_up,
            json,
        } => {
            let email = match email {
                Some(e) => e,
                None => prompt("Email: ").map_err(Error::Input)?,
            };
            let password = read_password().map_err(Error::Input)?;
            let account = client.login(&email, &password, sign_up).await?;
            if !account.remembered {
                eprintln!("{}", NOT_REMEMBERED);
            }
            if json {
                print_json(&account);
            } else {
                emit(&format!(
                    "signed in as {}{}\n",
                    account.email.as_deref().unwrap_or(&account.uid),
                    if account.remembered {
                        " (the sign-in is kept in the OS keyring)"
                    } else {
                        ""
                    }
                ));
            }
        }
        Remote::Logout { json } => {
            let was = client.logout().await?;
            if json {
                print_json(&json!({"signedOut": was}));
            } else if was {
                emit("signed out\n");
            } else {
                emit("nobody was signed in\n");
            }
        }
        Remote::Whoami { json } => {
            let account = client.whoami().await?;
            if json {
                print_json(&account);
            } else {
                emit(&format!(
                    "{} (user id {})\n",
                    account.email.as_deref().unwrap_or("-"),
                    account.uid
                ));
            }
        }
        Remote::Upload {
            files,
            name,
            mode,
            share,
            concurrency,
            file_size,
            read,
            json,
        } => {
            let read = read.text().map_err(|e| Error::Input(format!("{e:#}")))?;
            let bar = Arc::new(ProgressBar::new(!json && std::io::stderr().is_terminal()));
            let progress = {
                let bar = bar.clone();
                Arc::new(move |p: Progress| {
                    let label = match p.stage {
                        Stage::Converting => "converting",
                        Stage::Uploading => "uploading",
                        Stage::Committing => "committing",
                        Stage::Sharing => "sharing",
                    };
                    bar.show(label, p.bytes_done, p.bytes_total);
                })
            };
            // Ctrl-C cancels, through the same registry as the app's Cancel button.
            let jobs = Arc::new(Jobs::default());
            let running = jobs.start(jobs.new_id());
            let on_interrupt = jobs.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    on_interrupt.cancel_all();
                }
            });
            let options = UploadOptions {
                request: UploadRequest {
                    files,
                    name,
                    mode,
                    share,
                    read,
                },
                concurrency,
                file_bytes: (file_size as usize) << 20,
            };
            let result = client.upload(&options, progress, running.job()).await;
            bar.finish();
            let uploaded = result?;
            if json {
                print_json(&uploaded);
            } else {
                let d = &uploaded.dataset.dataset;
                let mut text = format!(
                    "{} ({}): version {}, {} rows, {} bytes{}\n",
                    d.name,
                    d.id,
                    d.version,
                    d.rows,
                    d.bytes,
                    if uploaded.resumed { " (resumed)" } else { "" }
                );
                for note in &uploaded.notes {
                    text += &format!("note: {note}\n");
                }
                if let Some(snippet) = &uploaded.snippet {
                    text += &format!(
                        "\nshared; the notebook snippet:\n\n{}",
                        snippet_text(snippet)
                    );
                }
                emit(&text);
            }
        }
        Remote::Datasets { json } => {
            let all = client.datasets().await?;
            if json {
                print_json(&all);
            } else {
                emit(&render_datasets(&all));
            }
        }
        Remote::Share {
            dataset,
            with,
            with_history,
            json,
        } => {
            if with.is_empty() {
                let shared = client.share(&dataset, with_history).await?;
                if !json {
                    eprintln!("{}", exposure(&shared));
                }
                show_snippet(&shared, json);
            } else {
                let granted = client.grant(&dataset, &with, with_history).await?;
                if json {
                    print_json(&granted);
                } else {
                    for shared in &granted.grants {
                        eprintln!("{}: {}", shared.recipient, exposure(shared));
                        emit(&format!(
                            "# for {}\n{}\n",
                            shared.recipient,
                            snippet_text(&shared.snippet)
                        ));
                    }
                }
            }
        }
        Remote::Snippet {
            dataset,
            recipient,
            json,
        } => {
            let shared = match &recipient {
                Some(name) => client.snippet_for(&dataset, name).await?,
                None => client.snippet(&dataset).await?,
            };
            show_snippet(&shared, json);
        }
        Remote::Unshare {
            dataset,
            from,
            json,
        } => {
            let answer = client.unshare(&dataset, &from).await?;
            let id = &answer.dataset_id;
            let whom = if from.is_empty() {
                "anyone".to_string()
            } else {
                from.iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if json {
                print_json(&answer);
            } else if answer.revocation == Revocation::Pending {
                emit(&format!(
                    "{id} is no longer shared with {whom}, but the sharing server's configuration could not be written yet; \
                     the backend keeps trying, and the credentials stop reading it once it is (run unshare again to check)\n"
                ));
            } else if answer.was_shared {
                emit(&format!(
                    "{id} is no longer shared with {whom}; their credentials stop reading it{}\n",
                    if answer.shared {
                        " (others still read it)"
                    } else {
                        ""
                    }
                ));
            } else {
                emit(&format!("{id} was not shared with {whom}\n"));
            }
        }
        Remote::Recipients { action, json } => {
            crate::recipients::run(client, action, json).await?;
        }
        Remote::Activity {
            dataset,
            recipient,
            since,
            limit,
            json,
        } => {
            let filter = delta_bridge_client::ActivityFilter {
                dataset,
                recipient,
                since,
                limit,
            };
            let activity = client.activity(&filter).await?;
            if json {
                print_json(&activity.reads);
            } else {
                emit(&crate::recipients::render_activity(&activity.reads));
            }
        }
        Remote::Delete { dataset, json } => {
            let id = client.delete(&dataset).await?;
            if json {
                print_json(&json!({"deleted": id}));
            } else {
                emit(&format!("deleted {id}\n"));
            }
        }
    }
    Ok(())
}

/// What recipients can reach, in words.
fn exposure(shared: &ShareResponse) -> String {
    if shared.history {
        format!(
            "shared with its history: recipients can read every version from {} on, including rows later versions replaced",
            shared.start_version
        )
    } else {
        format!(
            "shared from version {}: recipients see it and later versions, never what earlier versions held",
            shared.start_version
        )
    }
}

fn show_snippet(shared: &ShareResponse, json: bool) {
    if json {
        print_json(shared);
    } else {
        emit(&snippet_text(&shared.snippet));
    }
}

fn render_datasets(all: &[DatasetInfo]) -> String {
    let mut out = format!(
        "{:<24} {:<28} {:>7} {:>12} {:>12}  shared\n",
        "id", "name", "version", "rows", "bytes"
    );
    for d in all {
        out += &format!(
            "{:<24} {:<28} {:>7} {:>12} {:>12}  {}\n",
            d.id,
            d.name,
            d.version,
            d.rows,
            d.bytes,
            if d.shared { "yes" } else { "no" }
        );
    }
    out
}

fn prompt(question: &str) -> Result<String, String> {
    eprint!("{question}");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("reading standard input: {e}"))?;
    let line = line.trim().to_string();
    if line.is_empty() {
        return Err("no email given".into());
    }
    Ok(line)
}

/// The password: a hidden prompt on a terminal, else the first line of standard input.
fn read_password() -> Result<String, String> {
    let password = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password: ")
            .map_err(|e| format!("reading the password: {e}"))?
    } else {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("reading the password from standard input: {e}"))?;
        text.lines().next().unwrap_or_default().to_string()
    };
    if password.is_empty() {
        return Err("no password given".into());
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        connection: Connection,
    }

    fn settings(args: &[&str], vars: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let flags =
            Flags::try_parse_from(std::iter::once("delta-bridge").chain(args.iter().copied()))?;
        flags.connection.settings_from(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn plain_http_to_another_machine_is_allowed_by_the_flag_the_environment_or_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            "backend_url = \"http://backend.lan:8081\"\nfirebase_emulator_host = \"10.0.0.7:9099\"\n",
        )
        .unwrap();
        let config = config.to_str().unwrap();
        let refused = settings(&["--config", config], &[]).unwrap();
        assert!(!refused.insecure_http);
        let message = refused.check().unwrap_err().to_string();
        assert!(
            message.contains("backend.lan") && message.contains("--insecure-http"),
            "{message}"
        );
        let by_flag = settings(&["--config", config, "--insecure-http"], &[]).unwrap();
        assert!(by_flag.insecure_http && by_flag.check().is_ok());
        let by_env = settings(
            &["--config", config],
            &[("DELTA_BRIDGE_INSECURE_HTTP", "1")],
        )
        .unwrap();
        assert!(by_env.insecure_http);
        let bad = settings(
            &["--config", config],
            &[("DELTA_BRIDGE_INSECURE_HTTP", "maybe")],
        )
        .unwrap_err()
        .to_string();
        assert!(bad.contains("DELTA_BRIDGE_INSECURE_HTTP"), "{bad}");

        std::fs::write(
            dir.path().join("config.toml"),
            "backend_url = \"http://backend.lan:8081\"\nfirebase_emulator_host = \"10.0.0.7:9099\"\ninsecure_http = true\n",
        )
        .unwrap();
        assert!(settings(&["--config", config], &[]).unwrap().insecure_http);
        // The environment says no over the file.
        let env_no = settings(
            &["--config", config],
            &[("DELTA_BRIDGE_INSECURE_HTTP", "0")],
        )
        .unwrap();
        assert!(!env_no.insecure_http);
    }

    #[test]
    fn refused_settings_exit_as_a_usage_error() {
        let refusal = delta_bridge_client::transport::check("backend", "http://backend.lan", false)
            .unwrap_err();
        assert_eq!(exit_code(&Error::from(refusal)), 2);
    }
}
