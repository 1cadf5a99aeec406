//! Tokens signed by a test key whose certificate a loopback server publishes in Google's format.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use delta_bridge_identity::{Error, Mode, Settings, Verifier};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const PROJECT: &str = "demo-delta-bridge";
const KID: &str = "key-1";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Serves `{"key-1": <certificate>}` with a one-hour max-age, counting requests.
fn certificate_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/certs", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let body = json!({ KID: fixture("google-cert.pem") }).to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            counter.fetch_add(1, Ordering::SeqCst);
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nCache-Control: public, max-age=3600\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (url, hits)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims() -> Value {
    let now = now();
    json!({
        "iss": format!("https://securetoken.google.com/{PROJECT}"),
        "aud": PROJECT,
        "sub": "user-123",
        "email": "ana@example.com",
        "iat": now - 10,
        "auth_time": now - 20,
        "exp": now + 3600,
    })
}

fn sign(claims: &Value, key: &str, kid: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(fixture(key).as_bytes()).unwrap(),
    )
    .unwrap()
}

fn unsigned(claims: &Value) -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.",
        engine.encode(br#"{"alg":"none","typ":"JWT"}"#),
        engine.encode(claims.to_string())
    )
}

fn google(url: &str) -> Verifier {
    Verifier::new(Settings {
        project_id: PROJECT.into(),
        mode: Mode::Google {
            certificates_url: url.into(),
        },
    })
}

#[tokio::test]
async fn only_a_valid_token_passes() {
    let (url, _) = certificate_server();
    let verifier = google(&url);
    let caller = verifier
        .verify(&sign(&claims(), "google-key.pem", KID))
        .await
        .unwrap();
    assert_eq!(
        (caller.uid.as_str(), caller.email.as_deref()),
        ("user-123", Some("ana@example.com"))
    );

    let with = |key: &str, value: Value| {
        let mut c = claims();
        c[key] = value;
        sign(&c, "google-key.pem", KID)
    };
    let cases = [
        (
            sign(&claims(), "attacker-key.pem", KID),
            Error::BadSignature,
        ),
        (with("exp", json!(now() - 60)), Error::Expired),
        (with("aud", json!("another-project")), Error::WrongAudience),
        (
            with(
                "iss",
                json!("https://securetoken.google.com/another-project"),
            ),
            Error::WrongIssuer,
        ),
        (with("iat", json!(now() + 600)), Error::IssuedInFuture),
        (with("auth_time", json!(now() + 600)), Error::IssuedInFuture),
        (with("sub", json!("")), Error::NoSubject),
        (unsigned(&claims()), Error::Unsigned),
        ("not.a-token".to_string(), Error::Malformed),
    ];
    for (token, expected) in cases {
        assert_eq!(
            verifier.verify(&token).await,
            Err(expected.clone()),
            "{expected}"
        );
    }
}

#[tokio::test]
async fn certificates_are_cached_and_refetched_for_an_unknown_key() {
    let (url, hits) = certificate_server();
    let verifier = google(&url);
    for _ in 0..3 {
        verifier
            .verify(&sign(&claims(), "google-key.pem", KID))
            .await
            .unwrap();
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "one fetch for three tokens");
    assert_eq!(
        verifier
            .verify(&sign(&claims(), "google-key.pem", "rotated"))
            .await,
        Err(Error::UnknownKey)
    );
    assert_eq!(
        verifier
            .verify(&sign(&claims(), "google-key.pem", "rotated"))
            .await,
        Err(Error::UnknownKey)
    );
    assert!(
        hits.load(Ordering::SeqCst) <= 2,
        "an unknown key fetches again, but not on every request"
    );
}

#[tokio::test]
async fn emulator_tokens_pass_only_in_emulator_mode() {
    let emulator = Verifier::new(Settings {
        project_id: PROJECT.into(),
        mode: Mode::Emulator,
    });
    assert_eq!(
        emulator.verify(&unsigned(&claims())).await.unwrap().uid,
        "user-123"
    );
    let mut expired = claims();
    expired["exp"] = json!(now() - 60);
    assert_eq!(
        emulator.verify(&unsigned(&expired)).await,
        Err(Error::Expired)
    );
    assert!(matches!(
        emulator
            .verify(&sign(&claims(), "google-key.pem", KID))
            .await,
        Err(Error::Algorithm(_))
    ));
}

#[tokio::test]
async fn unreachable_certificates_are_a_retryable_error_without_the_token() {
    let verifier = google("http://127.0.0.1:9/certs");
    let token = sign(&claims(), "google-key.pem", KID);
    let err = verifier.verify(&token).await.unwrap_err();
    assert!(matches!(err, Error::KeysUnavailable(_)), "{err}");
    assert!(!err.to_string().contains(&token));
}
