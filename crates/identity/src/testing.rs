//! Test support (feature `testing`): Firebase-style ID tokens signed with the test-only keys in
//! `tests/fixtures`, and loopback servers that publish the test certificate the way Google publishes
//! Firebase's (one of them can be made slow or failing). Never compiled into a product binary.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// The Firebase project the helpers sign for.
pub const PROJECT: &str = "demo-delta-bridge";
/// The key id the certificate server publishes.
pub const KID: &str = "key-1";

/// A fixture file's text (`google-key.pem`, `google-cert.pem`, `attacker-key.pem`,
/// `attacker-cert.pem`), built in: a compiled test helper never depends on where the source was.
pub fn fixture(name: &str) -> String {
    match name {
        "google-key.pem" => include_str!("../tests/fixtures/google-key.pem"),
        "google-cert.pem" => include_str!("../tests/fixtures/google-cert.pem"),
        "attacker-key.pem" => include_str!("../tests/fixtures/attacker-key.pem"),
        "attacker-cert.pem" => include_str!("../tests/fixtures/attacker-cert.pem"),
        other => panic!("no fixture {other:?}"),
    }
    .to_string()
}

/// Serves `{"key-1": <google-cert.pem>}` with a one-hour max-age on a loopback port. Answers its URL
/// and a count of the requests it served.
pub fn certificate_server() -> (String, Arc<AtomicUsize>) {
    let server = CertificateServer::start(3600);
    (server.url.clone(), server.hits.clone())
}

/// A loopback certificate server like [`certificate_server`] that a test can make slow or failing, and
/// whose max-age it chooses. Each request is answered on its own thread, so a stall delays only it.
#[derive(Debug, Clone)]
pub struct CertificateServer {
    /// Where the certificates are published.
    pub url: String,
    /// How many requests arrived (counted on arrival, before any delay).
    pub hits: Arc<AtomicUsize>,
    /// How many responses were sent.
    pub answered: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicU64>,
    status: Arc<AtomicU16>,
}

impl CertificateServer {
    /// Publishes the test certificate with `Cache-Control: public, max-age=<max_age_seconds>`, at once,
    /// with status 200.
    pub fn start(max_age_seconds: u64) -> CertificateServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let server = CertificateServer {
            url: format!("http://{}/certs", listener.local_addr().expect("bound")),
            hits: Arc::new(AtomicUsize::new(0)),
            answered: Arc::new(AtomicUsize::new(0)),
            delay_ms: Arc::new(AtomicU64::new(0)),
            status: Arc::new(AtomicU16::new(200)),
        };
        let switches = server.clone();
        let body = json!({ KID: fixture("google-cert.pem") }).to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let switches = switches.clone();
                let body = body.clone();
                std::thread::spawn(move || {
                    let mut request = [0u8; 4096];
                    let _ = stream.read(&mut request);
                    switches.hits.fetch_add(1, Ordering::SeqCst);
                    let delay = switches.delay_ms.load(Ordering::SeqCst);
                    if delay > 0 {
                        std::thread::sleep(Duration::from_millis(delay));
                    }
                    let response = match switches.status.load(Ordering::SeqCst) {
                        200 => format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: public, max-age={max_age_seconds}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        ),
                        status => format!(
                            "HTTP/1.1 {status} Failing\r\nContent-Type: text/plain\r\nContent-Length: 7\r\nConnection: close\r\n\r\nfailing"
                        ),
                    };
                    let _ = stream.write_all(response.as_bytes());
                    switches.answered.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        server
    }

    /// Each response from now on waits this long before it is sent.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Responses from now on have this status (anything but 200: no certificates).
    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// How many requests arrived so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// How many responses were sent so far.
    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// Valid claims for `user` of [`PROJECT`], issued just now, valid for an hour.
pub fn claims(user: &str) -> Value {
    let now = now();
    json!({
        "iss": format!("https://securetoken.google.com/{PROJECT}"),
        "aud": PROJECT,
        "sub": user,
        "iat": now - 10,
        "auth_time": now - 20,
        "exp": now + 3600,
    })
}

/// `claims` signed RS256 with the fixture key `key` under key id `kid`.
pub fn sign(claims: &Value, key: &str, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    let key = EncodingKey::from_rsa_pem(fixture(key).as_bytes()).expect("a PEM key");
    jsonwebtoken::encode(&header, claims, &key).expect("signs")
}

/// A valid token for `user`, signed with the key the certificate server publishes.
pub fn token(user: &str) -> String {
    sign(&claims(user), "google-key.pem", KID)
}

/// `claims` as the Auth emulator issues them: `alg: none`, no signature.
pub fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}
