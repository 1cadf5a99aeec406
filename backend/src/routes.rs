//! The routes. Each handler parses its input, calls one [`Datasets`](delta_bridge_datasets::Datasets)
//! method and shapes the answer.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use delta_bridge_datasets::ActivityQuery;
use delta_bridge_datasets::UploadTarget;
use delta_bridge_datasets::api::{
    GrantRequest, NewRecipient, PresignRequest, ProcessRequest, RecipientName, Revocation,
    RotateRequest, ShareRequest,
};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::User;
use crate::error::ApiError;

/// Largest JSON body (a presign of 10,000 files fits).
const JSON_LIMIT: usize = 4 << 20;

/// The OpenAPI document of these routes.
pub const OPENAPI: &str = include_str!("openapi.json");

type Answer = Result<axum::response::Response, ApiError>;

pub fn router(state: Arc<AppState>) -> Router {
    let limits = state.limits.clone();
    let timed = move |limit: std::time::Duration| {
        middleware::from_fn(move |request, next| crate::limits::time_limit(limit, request, next))
    };
    let api = Router::new()
        .route("/presign", post(presign))
        .route("/uploads/{upload_id}", axum::routing::delete(abort))
        .route("/datasets", get(list))
        .route("/datasets/{id}", get(detail).delete(delete))
        .route("/share", post(share))
        .route("/unshare", post(unshare))
        .route("/snippet", get(snippet))
        .route("/grants", post(grant))
        .route("/recipients", get(recipients).post(add_recipient))
        .route(
            "/recipients/{name}",
            axum::routing::delete(revoke_recipient),
        )
        .route("/recipients/{name}/rotate", post(rotate_recipient))
        .route("/recipients/{name}/link", post(activation_link))
        .route("/activity", get(activity))
        .layer(timed(limits.request_timeout))
        .merge(
            Router::new()
                .route("/process", post(process))
                .layer(timed(limits.process_timeout)),
        )
        .layer(DefaultBodyLimit::max(JSON_LIMIT));
    // Uploads run as long as bytes keep arriving (an idle limit, in the handler).
    let upload = Router::new()
        .route("/upload/{upload_id}/{index}", put(upload))
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .merge(api)
        .merge(upload)
        // Opened in a browser by recipients, who hold no sign-in: the one-time code is the credential.
        .route(
            "/activate/{code}",
            get(crate::activation::page).post(crate::activation::download),
        )
        .fallback(|| async { ApiError::not_found("no such route; see /openapi.json") })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::limits::turns,
        ))
        .route("/healthz", get(health))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        // Outermost: every request is counted, by its route's pattern.
        .layer(middleware::from_fn(delta_bridge_telemetry::track))
        .with_state(state)
}

/// Whether `share.yaml` is as new as the store (a lagging file means a revocation not yet in force) and
/// how much storage is left to delete; numbers only, no names.
async fn health(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let health = state.datasets.health().await;
    // 200 either way: a lagging share.yaml is for monitoring to see, not a reason to stop serving.
    (
        StatusCode::OK,
        Json(json!({
            "status": if health.ok { "ok" } else { "degraded" },
            "auth": state.verifier.settings().mode.name(),
            "shareFile": {
                "generation": health.file_generation,
                "storeGeneration": health.store_generation,
                "lagging": health.share_file_lagging,
            },
            "pendingDeletions": health.pending_deletions,
        })),
    )
}

/// 200 while the metadata store answers, else 503: for a load balancer to send requests elsewhere.
async fn ready(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    if state.datasets.ready().await {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable"})),
        )
    }
}

/// Requests by route and status with their latency, versions committed and bytes, uploads swept,
/// revocation time, and the share file against the store.
async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let health = state.datasets.health().await;
    let number = |n: Option<i64>| n.map_or(-1.0, |n| n as f64);
    metrics::gauge!("delta_bridge_store_share_generation").set(number(health.store_generation));
    metrics::gauge!("delta_bridge_share_file_generation").set(number(health.file_generation));
    metrics::gauge!("delta_bridge_share_file_lagging").set(if health.share_file_lagging {
        1.0
    } else {
        0.0
    });
    metrics::gauge!("delta_bridge_pending_deletions").set(number(health.pending_deletions));
    delta_bridge_telemetry::render()
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn presign(
    State(state): State<Arc<AppState>>,
    User(user): User,
    body: Result<Json<PresignRequest>, JsonRejection>,
) -> Answer {
    let Json(request) = body?;
    Ok(Json(state.datasets.presign(&user, request).await?).into_response())
}

#[derive(Deserialize)]
struct UploadQuery {
    #[serde(default)]
    part: i64,
    expires: i64,
    signature: String,
}

async fn upload(
    State(state): State<Arc<AppState>>,
    Path((upload_id, index)): Path<(String, i64)>,
    query: Result<Query<UploadQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Answer {
    let Query(query) = query.map_err(|_| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "this upload URL is not valid",
        )
    })?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let target = UploadTarget {
        upload_id,
        index,
        part: query.part,
        expires: query.expires,
        signature: query.signature,
    };
    let etag = state
        .datasets
        .receive(
            &target,
            declared,
            crate::limits::idle_limited(body.into_data_stream(), state.limits.upload_idle_timeout),
        )
        .await?;
    let mut response = Json(json!({"etag": etag})).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

async fn process(
    State(state): State<Arc<AppState>>,
    User(user): User,
    body: Result<Json<ProcessRequest>, JsonRejection>,
) -> Answer {
    let Json(request) = body?;
    Ok(Json(state.datasets.process(&user, request).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    cursor: Option<String>,
    limit: Option<i64>,
}

async fn list(
    State(state): State<Arc<AppState>>,
    User(user): User,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Answer {
    let Query(query) = query?;
    let page = state
        .datasets
        .datasets(&user, query.cursor.as_deref(), query.limit)
        .await?;
    Ok(Json(page).into_response())
}

async fn detail(
    State(state): State<Arc<AppState>>,
    User(user): User,
    Path(id): Path<String>,
) -> Answer {
    Ok(Json(state.datasets.dataset(&user, &id).await?).into_response())
}

async fn delete(
    State(state): State<Arc<AppState>>,
    User(user): User,
    Path(id): Path<String>,
) -> Answer {
    let removal = state.datasets.delete(&user, &id).await?;
    if removal.revocation == Revocation::InForce && removal.storage_deleted {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        // Forgotten, and finished in the background: say what is left.
        Ok((StatusCode::ACCEPTED, Json(removal)).into_response())
    }
}

async fn abort(
    State(state): State<Arc<AppState>>,
    User(user): User,
    Path(upload_id): Path<String>,
) -> Answer {
    state.datasets.abort(&user, &upload_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn share(
    State(state): State<Arc<AppState>>,
    User(user): User,
    body: Result<Json<ShareRequest>, JsonRejection>,
) -> Answer {
    let Json(request) = body?;
    Ok(Json(state.datasets.share(&user, &request).await?).into_response())
}

async fn unshare(
    State(state): State<Arc<AppState>>,
    User(user): User,
    body: Result<Json<ShareRequest>, JsonRejection>,
) -> Answer {
    let Json(request) = body?;
    let answer = state
        .datasets
        .unshare(&user, &request.dataset_id, &request.recipients)
        .await?;
    let status = match answer.revocation {
        Revocation::InForce => StatusCode::OK,
        Revocation::Pending => StatusCode::ACCEPTED,
    };
    Ok((status, Json(answer)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SnippetQuery {
    #[serde(alias = "datasetId")]
    table_id: String,
    /// A named recipient's snippet (default: the dataset's link).
    recipient: Option<RecipientName>,
}

async fn snippet(
    State(state): State<Arc<AppState>>,
    User(user): User,
    query: Result<Query<SnippetQuery>, QueryRejection>,
) -> Answer {
    let Query(query) = query?;
    let answer = match &query.recipient {
        Some(name) => {
            state
                .datasets
                .snippet_for(&user, &query.table_id, name)
                .await?
        }
        None => state.datasets.snippet(&user, &query.table_id).await?,
    };
    Ok(Json(answer).into_response())
}

async fn grant(
    State(state): State<Arc<AppState>>,
    User(user): User,
    body: Result<Json<GrantRequest>, JsonRejection>,
) -> Answer {
    let Json(request) = body?;
    Ok(Json(state.datasets.grant(&user, &request).await?).into_response())
}

async fn recipients(State(state): State<Arc<AppState>>, User(user): User) -> Answer {
    Ok(Json(state.datasets.recipients(&user).await?).into_response())
}

async fn add_recipient(
    State(state): State<Arc<AppState>>,
    User(user): User,
    body: Result<Json<NewRecipient>, JsonRejection>,
) -> Answer {
    let Json(request) = body?;
    let added = state.datasets.add_recipient(&user, &request).await?;
    Ok((StatusCode::CREATED, Json(added)).into_response())
}

/// A recipient's name from the path, refused as the body would be.
fn recipient_name(name: &str) -> Result<RecipientName, ApiError> {
    name.parse()
        .map_err(|e: delta_bridge_datasets::api::ParseError| {
            ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", e.to_string())
        })
}

/// 200 once the sharing configuration holds the change, 202 while it is pending.
fn changed(change: delta_bridge_datasets::api::RecipientChange) -> Response {
    let status = match change.revocation {
        Revocation::InForce => StatusCode::OK,
        Revocation::Pending => StatusCode::ACCEPTED,
    };
    (status, Json(change)).into_response()
}

async fn revoke_recipient(
    State(state): State<Arc<AppState>>,
    User(user): User,
    Path(name): Path<String>,
) -> Answer {
    let name = recipient_name(&name)?;
    Ok(changed(
        state.datasets.revoke_recipient(&user, &name).await?,
    ))
}

async fn rotate_recipient(
    State(state): State<Arc<AppState>>,
    User(user): User,
    Path(name): Path<String>,
    body: Option<Json<RotateRequest>>,
) -> Answer {
    let name = recipient_name(&name)?;
    let request = body.map(|Json(b)| b).unwrap_or_default();
    let overlap = std::time::Duration::from_secs(request.overlap_seconds);
    Ok(changed(
        state
            .datasets
            .rotate_recipient(&user, &name, overlap)
            .await?,
    ))
}

async fn activation_link(
    State(state): State<Arc<AppState>>,
    User(user): User,
    Path(name): Path<String>,
) -> Answer {
    let name = recipient_name(&name)?;
    let link = state.datasets.activation_link(&user, &name).await?;
    Ok((StatusCode::CREATED, Json(link)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ActivityParams {
    #[serde(alias = "datasetId")]
    dataset: Option<String>,
    recipient: Option<RecipientName>,
    since: Option<String>,
    limit: Option<i64>,
}

async fn activity(
    State(state): State<Arc<AppState>>,
    User(user): User,
    query: Result<Query<ActivityParams>, QueryRejection>,
) -> Answer {
    let Query(params) = query?;
    let query = ActivityQuery {
        dataset_id: params.dataset,
        recipient: params.recipient,
        since: params.since,
        limit: params.limit,
    };
    Ok(Json(state.datasets.activity(&user, &query).await?).into_response())
}
