//! What this crate's tests share: a loopback HTTP server answering from a function, and a client that
//! is signed in without Firebase (an ID token in memory, the account record written).

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{Account, Client, FirebaseSettings, Secret, Settings};

/// A request the fake server received: method, path (with query), its whole text (headers included) and
/// body.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub text: String,
    pub body: String,
}

/// A loopback server; every request is answered by the handler with a status and a JSON body.
pub struct FakeServer {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeServer {
    /// The whole text of every request received so far.
    pub fn texts(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.text.clone())
            .collect()
    }
}

pub fn fake_server(
    handler: impl Fn(&Request) -> (u16, String) + Send + Sync + 'static,
) -> FakeServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut received = Vec::new();
            let mut buffer = [0u8; 4096];
            let mut head_end = None;
            while let Ok(n) = stream.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                received.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&received);
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if received.len() >= end + 4 + length {
                        head_end = Some(end);
                        break;
                    }
                }
            }
            let Some(end) = head_end else { continue };
            let text = String::from_utf8_lossy(&received).into_owned();
            let mut first = text.lines().next().unwrap_or_default().split(' ');
            let request = Request {
                method: first.next().unwrap_or_default().to_string(),
                path: first.next().unwrap_or_default().to_string(),
                body: text[end + 4..].to_string(),
                text: text.clone(),
            };
            let (status, body) = handler(&request);
            seen.lock().unwrap().push(request);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    FakeServer { url, requests }
}

/// Settings for a backend at `backend_url`, Firebase nowhere reachable, state in `state_dir`.
pub fn settings(backend_url: &str, state_dir: &Path) -> Settings {
    Settings {
        backend_url: backend_url.into(),
        firebase: FirebaseSettings::emulator("127.0.0.1:1", "emulator"),
        state_dir: state_dir.to_path_buf(),
        insecure_http: false,
    }
}

impl Client {
    /// A client in a session with no keyring service (as without a D-Bus session on Linux).
    pub(crate) fn without_keyring(settings: Settings) -> Client {
        let mut client = Client::new(settings);
        client.keychain.unavailable = true;
        client
    }

    /// A client signed in as `uid` for the next hour, without Firebase or the keyring.
    pub(crate) async fn signed_in_for_tests(settings: Settings, uid: &str) -> Client {
        let client = Client::new(settings);
        client
            .save_account(&Account {
                uid: uid.into(),
                email: None,
                remembered: true,
            })
            .unwrap();
        *client.current.lock().await = Some((
            Secret::new("an-id-token"),
            Instant::now() + Duration::from_secs(3600),
        ));
        client
    }
}
