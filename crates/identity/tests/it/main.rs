//! Tokens signed by a test key whose certificate a loopback server publishes in Google's format.

mod certificates;

use std::sync::atomic::Ordering;

use delta_bridge_identity::testing::{KID, PROJECT, certificate_server, now, sign, unsigned};
use delta_bridge_identity::{Error, Mode, Settings, Verifier};
use serde_json::{Value, json};

/// The shared test claims, with an email.
fn claims() -> Value {
    let mut claims = delta_bridge_identity::testing::claims("user-123");
    claims["email"] = json!("ana@example.com");
    claims
}

fn google(url: &str) -> Verifier {
    Verifier::new(Settings {
        project_id: PROJECT.into(),
        mode: Mode::Google {
            certificates_url: url.into(),
        },
        policy: Default::default(),
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
        policy: Default::default(),
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
