//! Sign-in that is safe by configuration: the emulator's unsigned tokens only on purpose (a host:port and a
//! demo- project, else the backend refuses to start naming both), and an optional sign-in policy.

use std::process::{Command, Stdio};

use delta_bridge_identity::Policy;
use delta_bridge_identity::testing::{KID, claims, sign};

use super::*;

/// Starts the real binary with this emulator variable and project; answers (exit status, stderr) when it
/// refuses to start, or `None` when it started (then it is stopped).
fn start_binary(emulator_host: Option<&str>, project: &str) -> Option<(i32, String)> {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_delta-bridge-backend"));
    command
        .args(["--listen", "127.0.0.1:0", "--firebase-project", project])
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("FIREBASE_AUTH_EMULATOR_HOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(host) = emulator_host {
        command.env("FIREBASE_AUTH_EMULATOR_HOST", host);
    }
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.starts_with("listening on ") {
        let url = line.trim().trim_start_matches("listening on ").to_string();
        let health = get_json(&url, "/healthz");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            health["auth"],
            if emulator_host.is_some() {
                "emulator"
            } else {
                "google"
            }
        );
        return None;
    }
    let output = child.wait_with_output().unwrap();
    Some((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

/// A GET over a plain TCP connection (this test has no runtime).
fn get_json(url: &str, path: &str) -> Value {
    use std::io::{Read, Write};
    let address = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap()
}

#[test]
fn the_emulator_variable_alone_never_turns_verification_off() {
    for (host, project) in [
        ("false", "acme-prod-4711"),
        ("127.0.0.1:9099", "acme-prod-4711"),
        ("off", "demo-delta-bridge"),
    ] {
        let (code, stderr) = start_binary(Some(host), project)
            .unwrap_or_else(|| panic!("started with {host:?} and {project:?}"));
        assert_ne!(code, 0);
        assert!(
            stderr.contains(&format!("{host:?}")) && stderr.contains(&format!("{project:?}")),
            "{stderr}"
        );
    }
    assert!(start_binary(None, "demo-delta-bridge").is_some());
    // On purpose: the emulator's host:port and a demo- project; or neither (real tokens).
    assert_eq!(
        start_binary(Some("127.0.0.1:9099"), "demo-delta-bridge"),
        None
    );
    assert_eq!(start_binary(None, "acme-prod-4711"), None);
}

fn token_with(user: &str, email: &str, verified: bool) -> String {
    let mut claims = claims(user);
    claims["email"] = json!(email);
    claims["email_verified"] = json!(verified);
    sign(&claims, "google-key.pem", KID)
}

#[tokio::test]
async fn the_sign_in_policy_refuses_other_domains_and_unverified_emails_with_a_clear_403() {
    let backend = Backend::launch(Options {
        policy: Policy {
            allowed_email_domains: vec!["example.com".into()],
            require_verified_email: true,
        },
        ..Options::default()
    })
    .await;
    let list = |token: String| {
        let backend = &backend;
        async move {
            backend
                .call(reqwest::Method::GET, "/datasets", Some(&token), None)
                .await
        }
    };
    let (status, _) = list(token_with("ana", "ana@example.com", true)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = list(token_with("eve", "eve@elsewhere.example", true)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("example.com"),
        "{body}"
    );
    let (status, body) = list(token_with("bo", "bo@example.com", false)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("verify your email"),
        "{body}"
    );
    // No email at all (an anonymous account): refused too.
    let (status, _) = list(delta_bridge_identity::testing::token("anon")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
