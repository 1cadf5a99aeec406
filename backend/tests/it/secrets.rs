//! One secret for all replicas, rotatable (issue 13): the store records the secrets' fingerprints, a
//! replica with another secret is refused, and after a rotation every recipient token and every upload
//! URL signed before keep working.

use delta_bridge_datasets::{Error, Secrets};

use super::*;

#[tokio::test]
async fn a_replica_with_another_secret_is_refused_before_it_serves() {
    let backend = Backend::start().await;
    let store = Store::connect(&backend.database).await.unwrap();
    let storage = Storage::local(&backend.dir.path().join("storage")).unwrap();
    let settings = Settings {
        sharing_url: "http://sharing.example/delta-sharing".into(),
        public_url: "http://127.0.0.1:9".into(),
        share_file: delta_bridge_datasets::ShareTarget::File(backend.dir.path().join("share.yaml")),
        secrets: Secret::from_material(&[8u8; 32]).into(),
        multipart_threshold: 1 << 30,
        part_size: 5 << 20,
        upload_expiry: Duration::from_secs(600),
        retention: Duration::from_secs(0),
        maintenance_interval: Duration::from_secs(1),
        commit_lease: Duration::from_secs(60),
        access_log: None,
        activation_expiry: delta_bridge_datasets::ACTIVATION_EXPIRY,
        activity_retention: delta_bridge_datasets::ACTIVITY_RETENTION,
        limits: Default::default(),
    };
    let refused = Datasets::new(store, storage, settings).await.unwrap_err();
    assert!(matches!(refused, Error::SecretMismatch(_)), "{refused:?}");
    let message = refused.to_string();
    let ours = Secret::from_material(&[7u8; 32]).fingerprint();
    let theirs = Secret::from_material(&[8u8; 32]).fingerprint();
    assert!(
        message.contains(&ours) && message.contains(&theirs),
        "{message}"
    );
    assert!(message.contains("rotate-secret"), "{message}");
}

#[tokio::test]
async fn after_a_rotation_recipient_tokens_and_upload_urls_signed_before_keep_working() {
    let backend = Backend::start().await;
    let work = backend.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let files = parquet_files(&work, CSV);
    let (_, created) = backend.upload("ana", "t", &files, "create").await;
    let id = created["id"].as_str().unwrap().to_string();
    let (status, shared) = backend
        .post("/share", "ana", json!({"datasetId": id}))
        .await;
    assert_eq!(status, StatusCode::OK, "{shared}");
    let token = shared["snippet"]["profile"]["bearerToken"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, presigned) = backend
        .post(
            "/presign",
            "ana",
            json!({"datasetId": id, "files": [spec(&files[0])]}),
        )
        .await;

    // Rotate as the command does: record the new secret, then replicas start with the new file.
    let old: Secrets = Secret::from_material(&[7u8; 32]).into();
    let rotated = old.rotate();
    let store = Store::connect(&backend.database).await.unwrap();
    store
        .record_secret(&rotated.current().fingerprint())
        .await
        .unwrap();
    let replica = backend
        .replica_with(Options {
            secrets: rotated.clone(),
            ..Options::default()
        })
        .await;

    // The recipient's token is the same, and share.yaml still serves it.
    let (status, again) = replica.get(&format!("/snippet?tableId={id}"), "ana").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["snippet"]["profile"]["bearerToken"], token.as_str());
    let yaml = std::fs::read_to_string(backend.dir.path().join("share.yaml")).unwrap();
    assert!(yaml.contains(&delta_bridge_shares::hash_token(&token)));
    // An upload URL the old secret signed is accepted by the rotated replica until it expires.
    let url = presigned["files"][0]["url"].as_str().unwrap();
    let replica_url = url.replace(&backend.url, &replica.url);
    let response = replica
        .http
        .put(&replica_url)
        .body(std::fs::read(&files[0]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, body) = replica
        .post(
            "/process",
            "ana",
            json!({"uploadId": presigned["uploadId"], "mode": "append"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // New shares use the new secret; a replica still on the old file cannot show their snippet (it
    // says so), but starts and serves the rest.
    let (_, second) = replica.upload("ana", "u", &files, "create").await;
    let second_id = second["id"].as_str().unwrap().to_string();
    let (status, _) = replica
        .post("/share", "ana", json!({"datasetId": second_id}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = backend
        .get(&format!("/snippet?tableId={second_id}"), "ana")
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("secret"),
        "{body}"
    );
    let (status, _) = backend.get(&format!("/snippet?tableId={id}"), "ana").await;
    assert_eq!(status, StatusCode::OK);
}
