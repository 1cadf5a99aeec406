//! The certificate cache when Google is slow or failing: one fetch at a time, outside the lock, and the
//! keys held keep verifying through a grace period.

use std::sync::Arc;
use std::time::{Duration, Instant};

use delta_bridge_identity::testing::{CertificateServer, KID, PROJECT, sign, token};
use delta_bridge_identity::{DEFAULT_CERTIFICATE_GRACE, Error, Mode, Settings, Verifier};

fn google(url: &str) -> Verifier {
    Verifier::new(Settings {
        project_id: PROJECT.into(),
        mode: Mode::Google {
            certificates_url: url.into(),
        },
        policy: Default::default(),
    })
}

/// Verifies `n` valid tokens at once; answers each result and how long all took.
async fn concurrently(
    verifier: &Arc<Verifier>,
    n: usize,
) -> (Vec<Result<String, Error>>, Duration) {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let verifier = verifier.clone();
        tasks.spawn(async move {
            verifier
                .verify(&token(&format!("user-{i}")))
                .await
                .map(|c| c.uid)
        });
    }
    let mut results = Vec::new();
    while let Some(result) = tasks.join_next().await {
        results.push(result.expect("the task ran"));
    }
    (results, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_keys_keep_serving_while_the_endpoint_stalls() {
    let server = CertificateServer::start(1);
    let verifier = Arc::new(google(&server.url));
    assert_eq!(verifier.certificate_grace(), DEFAULT_CERTIFICATE_GRACE);
    verifier.verify(&token("first")).await.unwrap();
    assert_eq!(server.hits(), 1);

    // The keys' max-age has passed; Google now takes 3 s to answer.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    server.set_delay(Duration::from_secs(3));
    let (results, took) = concurrently(&verifier, 4).await;
    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    assert_eq!(
        server.answered(),
        1,
        "the verifications waited for the stalled fetch instead of using the keys held"
    );
    assert!(
        server.hits() <= 2,
        "{} fetches: the requests did not share one refresh in the background",
        server.hits()
    );
    eprintln!("4 verifications during a 3 s stall took {took:?}");

    // The refresh in the background lands; the verifier goes on with the keys it fetched.
    server.set_delay(Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(3500)).await;
    verifier.verify(&token("after")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_keys_verify_through_the_grace_when_the_endpoint_fails() {
    let server = CertificateServer::start(1);
    let verifier = Arc::new(google(&server.url).with_certificate_grace(Duration::from_secs(3)));
    verifier.verify(&token("first")).await.unwrap();

    // Expired, within the grace, Google answers 500: valid tokens still verify.
    server.set_status(500);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (results, _) = concurrently(&verifier, 4).await;
    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.hits(),
        2,
        "one refresh, in the background, which failed"
    );
    verifier.verify(&token("again")).await.unwrap();
    assert_eq!(
        server.hits(),
        2,
        "a failed refresh is not retried on every request"
    );
    // A key id that is not held, while the last fetch failed: unavailable, not unknown.
    let rotated = sign(
        &delta_bridge_identity::testing::claims("user"),
        "google-key.pem",
        "rotated",
    );
    assert!(matches!(
        verifier.verify(&rotated).await,
        Err(Error::KeysUnavailable(_))
    ));
    // Tokens that fail their checks still fail them with held keys.
    assert_eq!(
        verifier
            .verify(&sign(
                &delta_bridge_identity::testing::claims("user"),
                "attacker-key.pem",
                KID
            ))
            .await,
        Err(Error::BadSignature)
    );

    // Past the grace: unavailable, and a retry may pass once Google answers again.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert!(matches!(
        verifier.verify(&token("late")).await,
        Err(Error::KeysUnavailable(_))
    ));
    server.set_status(200);
    verifier.verify(&token("recovered")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_share_one_fetch() {
    let server = CertificateServer::start(3600);
    server.set_delay(Duration::from_millis(500));
    let verifier = Arc::new(google(&server.url));
    let (results, _) = concurrently(&verifier, 8).await;
    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    assert_eq!(server.hits(), 1, "one fetch for eight first requests");

    // The same when that fetch fails: every waiter gets its error, and no fetch of its own.
    let failing = CertificateServer::start(3600);
    failing.set_delay(Duration::from_millis(500));
    failing.set_status(500);
    let verifier = Arc::new(google(&failing.url));
    let (results, _) = concurrently(&verifier, 8).await;
    for result in &results {
        assert!(
            matches!(result, Err(Error::KeysUnavailable(_))),
            "{result:?}"
        );
    }
    assert_eq!(
        failing.hits(),
        1,
        "one failed fetch for eight first requests"
    );
}

#[test]
fn verification_can_run_on_any_worker() {
    fn send<T: Send>(_: &T) {}
    let verifier = google("http://127.0.0.1:9/certs");
    send(&verifier.verify("a.b.c"));
}
