//! Recipients over the backend's HTTP API, checked against the `share.yaml` it writes with the sharing
//! server's own parser: one credential per colleague reading every dataset granted to it, revoked alone,
//! rotated with an overlap, expiring; one-time activation links; the access log collected into each
//! owner's activity; and nothing of one user's recipients reachable by another. (The official client
//! reading through the sharing server is in tests/stack/test_recipients.py.)

use super::*;

use delta_bridge_shares::{AuthError, PageRequest, ShareConfig};

fn config(backend: &Backend) -> ShareConfig {
    ShareConfig::from_yaml(&std::fs::read_to_string(backend.dir.path().join("share.yaml")).unwrap())
        .unwrap()
}

fn credential(share: &Value) -> String {
    share["snippet"]["profile"]["bearerToken"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `share.schema.table` of every table the credential lists, as `list_all_tables` would.
fn tables(
    config: &ShareConfig,
    token: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>, AuthError> {
    let recipient = config.authenticate(Some(token), at)?;
    let page = PageRequest {
        max_results: None,
        page_token: None,
        default_size: 100,
    };
    let mut out = Vec::new();
    for share in config.list_shares(&recipient, &page).unwrap().items {
        for table in config
            .list_all_tables(&recipient, &share.name, &page)
            .unwrap()
            .items
        {
            out.push(format!("{}.{}.{}", table.share, table.schema, table.name));
        }
    }
    out.sort();
    Ok(out)
}

async fn two_datasets(backend: &Backend, user: &str) -> (String, String) {
    let work = backend.dir.path().join(format!("work-{user}"));
    std::fs::create_dir_all(&work).unwrap();
    let files = parquet_files(&work, CSV);
    let mut ids = Vec::new();
    for name in ["Sales", "Stock"] {
        let (status, body) = backend.upload(user, name, &files, "create").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }
    (ids[0].clone(), ids[1].clone())
}

#[tokio::test]
async fn one_credential_per_colleague_reads_every_dataset_granted_and_is_revoked_alone() {
    let backend = Backend::start().await;
    let (sales, stock) = two_datasets(&backend, "ana").await;
    let (status, body) = backend
        .post(
            "/grants",
            "ana",
            json!({"datasetId": sales, "recipients": ["bo", "cy"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let grants = body["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 2);
    assert_eq!(grants[0]["recipient"], "bo");
    let (bo, cy) = (credential(&grants[0]), credential(&grants[1]));
    assert_ne!(bo, cy);
    let (status, body) = backend
        .post(
            "/grants",
            "ana",
            json!({"datasetId": stock, "recipients": ["bo"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        credential(&body["grants"][0]),
        bo,
        "one credential per recipient"
    );
    let now = chrono_now();
    let text = std::fs::read_to_string(backend.dir.path().join("share.yaml")).unwrap();
    assert!(!text.contains(&bo) && !text.contains(&cy), "only hashes");
    let config = config(&backend);
    let bo_tables = tables(&config, &bo, now).unwrap();
    assert_eq!(bo_tables.len(), 2, "{bo_tables:?}");
    assert!(
        bo_tables.iter().any(|t| t.ends_with(".default.Sales")),
        "{bo_tables:?}"
    );
    assert!(
        bo_tables.iter().any(|t| t.ends_with(".default.Stock")),
        "{bo_tables:?}"
    );
    assert_eq!(tables(&config, &cy, now).unwrap().len(), 1);
    // The snippet of a grant names the table in the recipient's share.
    assert!(bo_tables.contains(&grants[0]["snippet"]["table"].as_str().unwrap().to_string()));

    let (status, listed) = backend.get("/recipients", "ana").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let names: Vec<&str> = listed["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bo", "cy"]);
    assert_eq!(
        listed["recipients"][0]["datasets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Revoking cy leaves bo reading; cy's credential is refused.
    let (status, body) = backend.delete("/recipients/cy", "ana").await;
    assert_eq!(
        (status, &body["revocation"]),
        (StatusCode::OK, &json!("inForce")),
        "{body}"
    );
    let config = super::recipients::config(&backend);
    assert_eq!(tables(&config, &bo, now).unwrap().len(), 2);
    assert_eq!(tables(&config, &cy, now), Err(AuthError::Invalid));

    // Unsharing one dataset from bo leaves the other.
    let (status, body) = backend
        .post(
            "/unshare",
            "ana",
            json!({"datasetId": stock, "recipients": ["bo"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["wasShared"].as_bool(), body["shared"].as_bool()),
        (Some(true), Some(false))
    );
    let config = super::recipients::config(&backend);
    let left = tables(&config, &bo, now).unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].ends_with(".default.Sales"));

    // The link share stays separate: sharing by link and unsharing from everyone.
    let (status, link) = backend
        .post("/share", "ana", json!({"datasetId": sales}))
        .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    assert_eq!(link["recipient"], "link");
    let (status, body) = backend
        .post("/unshare", "ana", json!({"datasetId": sales}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let config = super::recipients::config(&backend);
    assert_eq!(tables(&config, &bo, now).unwrap(), Vec::<String>::new());
    assert_eq!(
        tables(&config, &credential(&link), now),
        Err(AuthError::Invalid)
    );
}

#[tokio::test]
async fn rotation_overlaps_then_only_the_new_credential_works_and_expiry_is_in_share_yaml() {
    let backend = Backend::start().await;
    let (sales, _) = two_datasets(&backend, "ana").await;
    let expires = (chrono_now() + chrono::Duration::days(30)).to_rfc3339();
    let (status, body) = backend
        .post(
            "/recipients",
            "ana",
            json!({"name": "bo", "email": "bo@example.com", "expiresAt": expires}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = backend
        .post("/recipients", "ana", json!({"name": "bo"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, body) = backend
        .post(
            "/grants",
            "ana",
            json!({"datasetId": sales, "recipients": ["bo"]}),
        )
        .await;
    let old = credential(&body["grants"][0]);
    assert!(
        body["grants"][0]["snippet"]["profile"]["expirationTime"].is_string(),
        "{body}"
    );

    let (status, body) = backend
        .post(
            "/recipients/bo/rotate",
            "ana",
            json!({"overlapSeconds": 3600}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["recipient"]["previousUntil"].is_string(), "{body}");
    let (_, snippet) = backend
        .get(&format!("/snippet?datasetId={sales}&recipient=bo"), "ana")
        .await;
    let new = credential(&snippet);
    assert_ne!(new, old);
    let now = chrono_now();
    let config = config(&backend);
    assert_eq!(
        tables(&config, &old, now).unwrap().len(),
        1,
        "the old one works in the overlap"
    );
    assert_eq!(tables(&config, &new, now).unwrap().len(), 1);
    let after_overlap = now + chrono::Duration::hours(2);
    assert!(matches!(
        tables(&config, &old, after_overlap),
        Err(AuthError::Expired(_))
    ));
    assert_eq!(tables(&config, &new, after_overlap).unwrap().len(), 1);
    // Expiry: the credential is refused after its time.
    let after_expiry = now + chrono::Duration::days(31);
    assert!(matches!(
        tables(&config, &new, after_expiry),
        Err(AuthError::Expired(_))
    ));

    // Zero overlap: the replaced credential stops at once.
    let (status, _) = backend
        .post("/recipients/bo/rotate", "ana", json!({"overlapSeconds": 0}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let config = super::recipients::config(&backend);
    assert_eq!(tables(&config, &new, now), Err(AuthError::Invalid));
    assert_eq!(tables(&config, &old, now), Err(AuthError::Invalid));

    let (status, body) = backend
        .post(
            "/recipients",
            "ana",
            json!({"name": "past", "expiresAt": "2001-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = backend
        .post("/recipients", "ana", json!({"name": "link"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

async fn page(
    backend: &Backend,
    url: &str,
    method: reqwest::Method,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let response = backend.http.request(method, url).send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

#[tokio::test]
async fn an_activation_link_gives_the_profile_once_and_a_revoked_recipients_link_is_dead() {
    let backend = Backend::start().await;
    let (sales, stock) = two_datasets(&backend, "ana").await;
    let (_, body) = backend
        .post(
            "/grants",
            "ana",
            json!({"datasetId": sales, "recipients": ["bo <b>"]}),
        )
        .await;
    let token = credential(&body["grants"][0]);
    backend
        .post(
            "/grants",
            "ana",
            json!({"datasetId": stock, "recipients": ["bo <b>"]}),
        )
        .await;
    let (status, link) = backend
        .post("/recipients/bo%20%3Cb%3E/link", "ana", json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let url = link["url"].as_str().unwrap().to_string();
    assert!(!url.contains(&token));

    // Viewing uses nothing up (link previews fetch pages too).
    for _ in 0..2 {
        let (status, headers, html) = page(&backend, &url, reqwest::Method::GET).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["cache-control"], "no-store");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        assert!(
            html.contains(".default.Sales") && html.contains(".default.Stock"),
            "{html}"
        );
        assert!(html.contains("bo &lt;b&gt;"), "escaped: {html}");
        assert!(!html.contains("<script") && !html.contains(&token));
        assert!(html.contains("load_as_pandas") && html.contains("deltaSharing"));
    }
    let (status, headers, profile) = page(&backend, &url, reqwest::Method::POST).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    let profile: Value = serde_json::from_str(&profile).unwrap();
    assert_eq!(profile["shareCredentialsVersion"], 1);
    assert_eq!(profile["bearerToken"].as_str().unwrap(), token);
    assert_eq!(profile["endpoint"], "http://sharing.example/delta-sharing");

    // Used: both the page and a second download say so.
    let (status, _, html) = page(&backend, &url, reqwest::Method::GET).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(html.contains("was used"), "{html}");
    let (status, _, html) = page(&backend, &url, reqwest::Method::POST).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(!html.contains(&token));
    // A code that was never issued.
    let forged = format!("{}/activate/{}", backend.url, "0".repeat(64));
    assert_eq!(
        page(&backend, &forged, reqwest::Method::POST).await.0,
        StatusCode::GONE
    );
    assert_eq!(
        page(&backend, &forged, reqwest::Method::GET).await.0,
        StatusCode::NOT_FOUND
    );

    // A revoked recipient's unused link is dead.
    let (_, link) = backend
        .post("/recipients/bo%20%3Cb%3E/link", "ana", json!({}))
        .await;
    let url = link["url"].as_str().unwrap().to_string();
    backend.delete("/recipients/bo%20%3Cb%3E", "ana").await;
    assert_eq!(
        page(&backend, &url, reqwest::Method::GET).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        page(&backend, &url, reqwest::Method::POST).await.0,
        StatusCode::GONE
    );
}

#[tokio::test]
async fn another_user_never_reaches_someone_elses_recipients_or_activity() {
    let backend = Backend::start().await;
    let (sales, _) = two_datasets(&backend, "ana").await;
    backend
        .post(
            "/grants",
            "ana",
            json!({"datasetId": sales, "recipients": ["bo"]}),
        )
        .await;
    let (status, body) = backend.get("/recipients", "eve").await;
    assert_eq!(
        (status, body["recipients"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
    for (status, body) in [
        backend.delete("/recipients/bo", "eve").await,
        backend
            .post("/recipients/bo/rotate", "eve", json!({}))
            .await,
        backend.post("/recipients/bo/link", "eve", json!({})).await,
        backend
            .get(&format!("/snippet?datasetId={sales}&recipient=bo"), "eve")
            .await,
        backend
            .post(
                "/grants",
                "eve",
                json!({"datasetId": sales, "recipients": ["bo"]}),
            )
            .await,
        backend
            .post(
                "/unshare",
                "eve",
                json!({"datasetId": sales, "recipients": ["bo"]}),
            )
            .await,
    ] {
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    // Eve's recipient of the same name is her own.
    let (status, _) = backend
        .post("/recipients", "eve", json!({"name": "bo"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, body) = backend.get("/recipients", "ana").await;
    assert_eq!(
        body["recipients"][0]["datasets"].as_array().unwrap().len(),
        1
    );
    let (status, body) = backend
        .get(&format!("/activity?dataset={sales}"), "eve")
        .await;
    assert_eq!(
        (status, body["reads"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
}

/// A shipped segment, as a sharing server writes it.
fn ship(backend: &Backend, server: &str, segment: &str, records: &[Value]) {
    let dir = backend.dir.path().join("access-log").join(server);
    std::fs::create_dir_all(&dir).unwrap();
    let text: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(dir.join(format!("{segment}.jsonl")), text).unwrap();
}

#[tokio::test]
async fn reads_shipped_to_the_access_log_reach_their_owners_activity_only() {
    let backend = Backend::start().await;
    let (sales, stock) = two_datasets(&backend, "ana").await;
    let (eve_sales, _) = two_datasets(&backend, "eve").await;
    let (_, granted) = backend
        .post(
            "/grants",
            "ana",
            json!({"datasetId": sales, "recipients": ["bo"]}),
        )
        .await;
    backend
        .post("/share", "ana", json!({"datasetId": stock}))
        .await;
    let (_, listed) = backend.get("/recipients", "ana").await;
    let bo_share = granted["grants"][0]["snippet"]["table"]
        .as_str()
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_string();
    assert!(listed["recipients"][0]["lastReadAt"].is_null());
    let record = |id: &str, recipient: &str, table_id: &str, operation: &str, files: i64| {
        json!({"id": id, "at": "2026-12-02T10:00:00.000Z", "recipient": recipient, "operation": operation,
               "share": recipient, "schema": "default", "table": "Sales", "tableId": table_id,
               "version": 0, "files": files, "status": 200, "userAgent": "delta-sharing/1.3", "address": "10.0.0.9"})
    };
    ship(
        &backend,
        "s1",
        "00000001",
        &[
            record("s1-1-1", &bo_share, &sales, "query", 1),
            record("s1-1-2", &stock, &stock, "metadata", 0),
            record("s1-1-3", &eve_sales, &eve_sales, "query", 1),
            record("s1-1-4", "bearerToken", &sales, "query", 1),
        ],
    );
    // The same record shipped twice (a server that crashed after shipping) is stored once.
    ship(
        &backend,
        "s1",
        "00000002",
        &[record("s1-1-1", &bo_share, &sales, "query", 1)],
    );
    let mut reads = Value::Null;
    for _ in 0..100 {
        let (status, body) = backend.get("/activity", "ana").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        reads = body["reads"].clone();
        if reads.as_array().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let reads = reads.as_array().unwrap();
    assert_eq!(reads.len(), 2, "{reads:?}");
    let by = |name: &str| {
        reads
            .iter()
            .find(|r| r["recipient"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(by("bo")["datasetId"], json!(sales));
    assert_eq!(by("bo")["files"], 1);
    assert_eq!(by("bo")["userAgent"], "delta-sharing/1.3");
    assert_eq!(by("link")["datasetId"], json!(stock));
    assert_eq!(by("link")["operation"], "metadata");
    let (_, filtered) = backend.get("/activity?recipient=bo", "ana").await;
    assert_eq!(filtered["reads"].as_array().unwrap().len(), 1);
    let (_, filtered) = backend
        .get(&format!("/activity?dataset={stock}"), "ana")
        .await;
    assert_eq!(filtered["reads"].as_array().unwrap().len(), 1);
    let (_, filtered) = backend
        .get("/activity?since=2026-12-03T00:00:00Z", "ana")
        .await;
    assert_eq!(filtered["reads"].as_array().unwrap().len(), 0);
    let (_, eve) = backend.get("/activity", "eve").await;
    assert_eq!(eve["reads"].as_array().unwrap().len(), 1);
    let (_, listed) = backend.get("/recipients", "ana").await;
    assert_eq!(
        listed["recipients"][0]["lastReadAt"],
        "2026-12-02T10:00:00.000Z"
    );
    // Collected segments are removed.
    let left = std::fs::read_dir(backend.dir.path().join("access-log/s1"))
        .unwrap()
        .count();
    assert_eq!(left, 0);
}
