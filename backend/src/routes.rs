//! The routes. Each handler parses its input, calls one [`Datasets`](delta_bridge_datasets::Datasets)
//! method and shapes the answer. Every route is added through [`OpenApiRouter`] with its
//! `#[utoipa::path]`, so none is served without its entry in the OpenAPI document at `/openapi.json`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use delta_bridge_datasets::ActivityQuery;
use delta_bridge_datasets::UploadTarget;
use delta_bridge_datasets::api::{
    ActivationLink, Activity, DatasetDetail, DatasetPage, ErrorBody, GrantRequest, GrantResponse,
    NewRecipient, PresignRequest, PresignResponse, ProcessRequest, RecipientChange, RecipientInfo,
    RecipientList, RecipientName, Removal, Revocation, RotateRequest, ShareRequest, ShareResponse,
    UnshareResponse,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::activation;
use crate::auth::User;
use crate::error::ApiError;

/// Largest JSON body (a presign of 10,000 files fits).
const JSON_LIMIT: usize = 4 << 20;

/// The name of the security scheme of the routes behind [`User`].
const BEARER: &str = "bearer";

type Answer = Result<axum::response::Response, ApiError>;

/// The routes, and their OpenAPI document rendered into `state` for `/openapi.json`.
pub fn router(state: Arc<AppState>) -> Router {
    let limits = state.limits.clone();
    let timed = move |limit: std::time::Duration| {
        middleware::from_fn(move |request, next| crate::limits::time_limit(limit, request, next))
    };
    let api = OpenApiRouter::default()
        .routes(routes!(presign))
        .routes(routes!(abort))
        .routes(routes!(list))
        .routes(routes!(detail, delete))
        .routes(routes!(share))
        .routes(routes!(unshare))
        .routes(routes!(snippet))
        .routes(routes!(grant))
        .routes(routes!(recipients, add_recipient))
        .routes(routes!(revoke_recipient))
        .routes(routes!(rotate_recipient))
        .routes(routes!(activation_link))
        .routes(routes!(activity))
        .layer(timed(limits.request_timeout))
        .merge(
            OpenApiRouter::default()
                .routes(routes!(process))
                .layer(timed(limits.process_timeout)),
        )
        .layer(DefaultBodyLimit::max(JSON_LIMIT));
    // Uploads run as long as bytes keep arriving (an idle limit, in the handler).
    let uploads = OpenApiRouter::default()
        .routes(routes!(upload))
        .layer(DefaultBodyLimit::disable());
    let (router, document) = OpenApiRouter::with_openapi(document())
        .merge(api)
        .merge(uploads)
        // Opened in a browser by recipients, who hold no sign-in: the one-time code is the credential.
        .routes(routes!(activation::page, activation::download))
        .fallback(|| async { ApiError::not_found("no such route; see /openapi.json") })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::limits::turns,
        ))
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics))
        .routes(routes!(openapi))
        .split_for_parts();
    let rendered = document
        .to_pretty_json()
        .expect("the OpenAPI document is JSON");
    // Rendered once; a second router on the same state serves the same document.
    let _ = state.openapi.set(Bytes::from(rendered));
    router
        // Outermost: every request is counted, by its route's pattern.
        .layer(middleware::from_fn(delta_bridge_telemetry::track))
        .with_state(state)
}

/// The document before its routes: what the API is, and how a caller signs in.
fn document() -> utoipa::openapi::OpenApi {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApiBuilder};
    let bearer = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .bearer_format("Firebase ID token")
        .description(Some(
            "A Firebase ID token of the signed-in user (`Authorization: Bearer <token>`).",
        ))
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Delta-Bridge backend")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Upload Parquet files of a Delta table through presigned URLs, commit them as \
                     versions, and share datasets with Delta Sharing recipients: a dataset's link \
                     (whoever holds its snippet) or named recipients, each with one credential, an \
                     optional expiry and one-time activation links; see who read what. Routes with \
                     the `bearer` security requirement need `Authorization: Bearer <Firebase ID \
                     token>`; a user sees only their own datasets and recipients (another user's is \
                     a 404). Errors are `{\"error\": {\"code\", \"message\"}}` (`ErrorBody`).",
                )),
        )
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme(BEARER, SecurityScheme::Http(bearer))
                .build(),
        ))
        .build()
}

/// `GET /healthz`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Health {
    /// `degraded` while `share.yaml` lags the store or the store does not answer.
    status: HealthStatus,
    /// How ID tokens are checked: `google`, or `emulator` (the Firebase Auth emulator's unsigned tokens).
    auth: &'static str,
    /// `share.yaml` against the store.
    share_file: ShareFileHealth,
    /// Storage deletions not done yet (null when the store does not answer).
    pending_deletions: Option<i64>,
}

/// Whether everything is as it should be.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum HealthStatus {
    /// Nothing lags and the store answers.
    Ok,
    /// `share.yaml` lags the store (a revocation not yet in force), or the store does not answer.
    Degraded,
}

/// The generation `share.yaml` is stamped with against the store's.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct ShareFileHealth {
    /// The file's (null if missing or unreadable).
    generation: Option<i64>,
    /// The store's (null if the store does not answer).
    store_generation: Option<i64>,
    /// Whether the file is behind the store.
    lagging: bool,
}

/// `GET /readyz`.
#[derive(Serialize, ToSchema)]
struct Readiness {
    /// `ready` while the metadata store answers.
    status: ReadyStatus,
}

/// Whether the backend can serve.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
enum ReadyStatus {
    /// The metadata store answers.
    Ready,
    /// It does not.
    Unavailable,
}

/// The answer of the upload route.
#[derive(Serialize, ToSchema)]
struct Etag {
    /// The object's ETag as storage keeps it (also the `ETag` header); for a part, keep it for
    /// `POST /process`.
    etag: String,
}

/// Whether `share.yaml` is as new as the store, and how much storage is left to delete.
///
/// A lagging `share.yaml` means a revocation is not yet in force. Numbers only, no names; 200 either
/// way: a lagging file is for monitoring to see, not a reason to stop serving.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "`ok` or `degraded`", body = Health))
)]
async fn health(State(state): State<Arc<AppState>>) -> Json<Health> {
    let health = state.datasets.health().await;
    Json(Health {
        status: if health.ok {
            HealthStatus::Ok
        } else {
            HealthStatus::Degraded
        },
        auth: state.verifier.settings().mode.name(),
        share_file: ShareFileHealth {
            generation: health.file_generation,
            store_generation: health.store_generation,
            lagging: health.share_file_lagging,
        },
        pending_deletions: health.pending_deletions,
    })
}

/// 200 while the metadata store answers, else 503: for a load balancer to send requests elsewhere.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "The metadata store answers", body = Readiness),
        (status = 503, description = "The metadata store does not answer", body = Readiness),
    )
)]
async fn ready(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    if state.datasets.ready().await {
        (
            StatusCode::OK,
            Json(Readiness {
                status: ReadyStatus::Ready,
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Readiness {
                status: ReadyStatus::Unavailable,
            }),
        )
    }
}

/// Prometheus metrics.
///
/// Requests by route and status with their latency, versions committed and bytes, uploads swept,
/// revocation time, and the share file against the store.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((
        status = 200,
        description = "Prometheus' text exposition format",
        body = String,
        content_type = "text/plain; version=0.0.4"
    ))
)]
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

/// This document: every route of the backend, generated from its handlers and body types.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi_document",
    tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1", body = Object, content_type = "application/json"))
)]
async fn openapi(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let document = state.openapi.get().cloned().unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], document)
}

/// Upload URLs for the Parquet files of a new version, or fresh URLs for an unprocessed upload.
///
/// Of an existing dataset (by `name` or `datasetId`) or a new one (`name`); with `uploadId`, fresh URLs
/// for an unprocessed upload, or with `page` its next page of URLs. Files above the multipart
/// threshold get one URL per part; an answer holds at most 10,000 URLs.
#[utoipa::path(
    post,
    path = "/presign",
    tag = "uploads",
    security(("bearer" = [])),
    request_body = PresignRequest,
    responses(
        (status = 200, description = "Upload URLs", body = PresignResponse),
        (status = 400, description = "Not a valid request", body = ErrorBody),
        (status = 401, description = "No valid ID token", body = ErrorBody),
        (status = 403, description = "Not allowed to sign in, or over a quota", body = ErrorBody),
        (status = 404, description = "No such dataset or upload of the caller's", body = ErrorBody),
        (status = 409, description = "The upload is processed already", body = ErrorBody),
        (status = 413, description = "A file, the upload or the body is too large", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 429, description = "Too many requests from this user", body = ErrorBody),
        (status = "5XX", description = "Busy, too slow or failed; try again", body = ErrorBody),
    )
)]
async fn presign(
    State(state): State<Arc<AppState>>,
    User(user): User,
    body: Result<Json<PresignRequest>, JsonRejection>,
) -> Answer {
    let Json(request) = body?;
    Ok(Json(state.datasets.presign(&user, request).await?).into_response())
}

/// Where a local upload URL points (signed by the backend).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadQuery {
    /// The part's number (0 or absent: the whole file).
    #[serde(default)]
    part: i64,
    /// When the URL stops working (Unix seconds).
    expires: i64,
    /// The URL's signature.
    signature: String,
}

/// Local storage only: a file (or part) to the signed URL `/presign` returned.
///
/// The body is exactly the presigned size, and for a whole file its bytes have the presigned
/// SHA-256. No ID token: the URL's signature is the credential.
#[utoipa::path(
    put,
    path = "/upload/{upload_id}/{index}",
    operation_id = "upload_file",
    tag = "uploads",
    params(
        ("upload_id" = String, Path, description = "The upload"),
        ("index" = i64, Path, description = "The file's index in the upload"),
        UploadQuery,
    ),
    request_body(content(("application/octet-stream")), description = "The file's (or part's) bytes"),
    responses(
        (
            status = 200,
            description = "Stored",
            body = Etag,
            headers(("ETag" = String, description = "The object's ETag"))
        ),
        (status = 400, description = "Not the bytes presigned (size or SHA-256)", body = ErrorBody),
        (status = 403, description = "Not a valid upload URL, or expired", body = ErrorBody),
        (status = 409, description = "The upload is processed or abandoned", body = ErrorBody),
        (status = 413, description = "More bytes than presigned", body = ErrorBody),
        (status = "5XX", description = "Busy, idle too long or failed; try again", body = ErrorBody),
    )
)]
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
    let header_value = HeaderValue::from_str(&etag).ok();
    let mut response = Json(Etag { etag }).into_response();
    if let Some(value) = header_value {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

/// Verify every uploaded object and commit them as a new Delta version.
///
/// Each object must be there with its exact size and SHA-256, and a Parquet footer whose columns match
/// the dataset; then the version is committed: `create`, `append` or `overwrite`. One at a time per
/// user; the same upload again waits for the one under way.
#[utoipa::path(
    post,
    path = "/process",
    tag = "uploads",
    security(("bearer" = [])),
    request_body = ProcessRequest,
    responses(
        (status = 200, description = "The dataset with its new version", body = DatasetDetail),
        (status = 400, description = "Not a valid request, or a file that is not what it should be", body = ErrorBody),
        (status = 401, description = "No valid ID token", body = ErrorBody),
        (status = 403, description = "Not allowed to sign in", body = ErrorBody),
        (status = 404, description = "No such upload of the caller's", body = ErrorBody),
        (status = 409, description = "Another upload of the caller's is being processed (`BUSY`), or the dataset changed", body = ErrorBody),
        (status = 413, description = "A footer or the body is too large", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 429, description = "Too many requests from this user", body = ErrorBody),
        (status = "5XX", description = "Busy, too slow or failed; try again (work done is kept)", body = ErrorBody),
    )
)]
async fn process(
    State(state): State<Arc<AppState>>,
    User(user): User,
    body: Result<Json<ProcessRequest>, JsonRejection>,
) -> Answer {
    let Json(request) = body?;
    Ok(Json(state.datasets.process(&user, request).await?).into_response())
}

/// A page of the caller's datasets.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// The previous page's `nextCursor`.
    cursor: Option<String>,
    /// Datasets per page.
    limit: Option<i64>,
}

/// The caller's datasets, newest first.
#[utoipa::path(
    get,
    path = "/datasets",
    operation_id = "list_datasets",
    tag = "datasets",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of datasets", body = DatasetPage),
        (status = 400, description = "Not a valid query", body = ErrorBody),
        (status = 401, description = "No valid ID token", body = ErrorBody),
        (status = 403, description = "Not allowed to sign in", body = ErrorBody),
        (status = 429, description = "Too many requests from this user", body = ErrorBody),
        (status = "5XX", description = "Busy, too slow or failed; try again", body = ErrorBody),
    )
)]
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

/// A dataset with its version history.
#[utoipa::path(
    get,
    path = "/datasets/{id}",
    operation_id = "dataset",
    tag = "datasets",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The dataset")),
    responses(
        (status = 200, description = "The dataset", body = DatasetDetail),
        (status = 401, description = "No valid ID token", body = ErrorBody),
        (status = 403, description = "Not allowed to sign in", body = ErrorBody),
        (status = 404, description = "No such dataset of the caller's", body = ErrorBody),
        (status = 429, description = "Too many requests from this user", body = ErrorBody),
        (status = "5XX", description = "Busy, too slow or failed; try again", body = ErrorBody),
    )
)]
async fn detail(
    State(state): State<Arc<AppState>>,
    User(user): User,
    Path(id): Path<String>,
) -> Answer {
    Ok(Json(state.datasets.dataset(&user, &id).await?).into_response())
}

/// Unshare, forget and delete a dataset's files.
///
/// Forgotten at once; then removed from `share.yaml`, then its storage deleted. 202 says what is left
/// when that could not be done yet: the backend finishes it by itself.
#[utoipa::path(
    delete,
    path = "/datasets/{id}",
    operation_id = "delete_dataset",
    tag = "datasets",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The dataset")),
    responses(
        (status = 204, description = "Unshared, forgotten and deleted"),
        (status = 202, description = "Forgotten; the rest is finished in the background", body = Removal),
        (status = 401, description = "No valid ID token", body = ErrorBody),
        (status = 403, description = "Not allowed to sign in", body = ErrorBody),
        (status = 404, description = "No such dataset of the caller's", body = ErrorBody),
        (status = 429, description = "Too many requests from this user", body = ErrorBody),
        (status = "5XX", description = "Busy, too slow or failed; try again", body = ErrorBody),
    )
)]
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

/// Abandon an unprocessed upload: its URLs and a later `/process` are refused, what storage received
/// is deleted.
#[utoipa::path(
    delete,
    path = "/uploads/{upload_id}",
    operation_id = "abort_upload",
    tag = "uploads",
    security(("bearer" = [])),
    params(("upload_id" = String, Path, description = "The upload")),
    responses(
        (status = 204, description = "Abandoned"),
        (status = 401, description = "No valid ID token", body = ErrorBody),
        (status = 403, description = "Not allowed to sign in", body = ErrorBody),
        (status = 404, description = "No such upload of the caller's", body = ErrorBody),
        (status = 409, description = "The upload is processed already", body = ErrorBody),
        (status = 429, description = "Too many requests from this user", body = ErrorBody),
        (status = "5XX", description = "Busy, too slow or failed; try again", body = ErrorBody),
    )
)]
async fn abort(
    State(state): State<Arc<AppState>>,
    User(user): User,
    Path(upload_id): Path<String>,
) -> Answer {
    state.datasets.abort(&user, &upload_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Share a dataset through its link: the snippet anyone holding it can use.
///
/// From the version current when shared, or with `withHistory` from the first version still whole;
/// `share.yaml` is rewritten. Sharing again answers the same snippet.
#[utoipa::path(
    post,
    path = "/share",
    tag = "sharing",
    security(("bearer" = [])),
    request_body = ShareRequest,
    responses(
        (status = 200, description = "Shared", body = ShareResponse),
        (status = 400, description = "Not a valid request", body = ErrorBody),
        (status = 401, description = "No valid ID token", body = ErrorBody),
        (status = 403, description = "Not allowed to sign in", body = ErrorBody),
        (status = 404, description = "No such dataset of the caller's", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 429, description = "Too many requests from this user", body = ErrorBody),
        (status = "5XX", description = "Busy, too slow or failed; try again", body = ErrorBody),
    )
)]
async fn share(
    State(state): State<Arc<AppState>>,
    User(user): User,
    body: Result<Json<ShareRequest>, JsonRejection>,
) -> Answer {
    let Json(request) = body?;
    Ok(Json(state.datasets.share(&user, &request).await?).into_response())
}

/// Stop sharing a dataset with the recipients named, or with everyone.
///
/// 200 once the `share.yaml` that refuses their credentials is written (the sharing server picks it up
/// within a second), 202 while it cannot be written yet (it lands by itself).
#[utoipa::path(
    post,
    path = "/unshare",
    tag = "sharing",
    security(("bearer" = [])),
    request_body = ShareRequest,
    responses(
        (status = 200, description = "Unshared, in force", body = UnshareResponse),
        (status = 202, description = "Unshared, not yet in force", body = UnshareResponse),
        (status = 400, description = "Not a valid request", body = ErrorBody),
        (status = 401, description = "No valid ID token", body = ErrorBody),
        (status = 403, description = "Not allowed to sign in", body = ErrorBody),
        (status = 404, description = "No such dataset or recipient of the caller's", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 429, description = "Too many requests from this user", body = ErrorBody),
        (status = "5XX", description = "Busy, too slow or failed; try again", body = ErrorBody),
    )
)]
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

/// Whose snippet of which dataset.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SnippetQuery {
    /// The dataset (`datasetId` is accepted too).
    #[serde(alias = "datasetId")]
    table_id: String,
    /// A named recipient's snippet (default: the dataset's link).
    recipient: Option<RecipientName>,
}

/// The notebook snippet of a shared dataset, for its link or a named recipient.
#[utoipa::path(
    get,
    path = "/snippet",
    tag = "sharing",
    security(("bearer" = [])),
    params(SnippetQuery),
    responses(
        (status = 200, description = "The snippet", body = ShareResponse),
        (status = 400, description = "Not a valid query", body = ErrorBody),
        (status = 401, description = "No valid ID token", body = ErrorBody),
        (status = 403, description = "Not allowed to sign in", body = ErrorBody),
        (status = 404, description = "No such dataset or recipient of the caller's", body = ErrorBody),
        (status = 409, description = "Not shared with that recipient", body = ErrorBody),
        (status = 429, description = "Too many requests from this user", body = ErrorBody),
        (status = "5XX", description = "Busy, too slow or failed; try again", body = ErrorBody),
    )
)]
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

/// Grant a dataset to named recipients, creating those that do not exist yet.
#[utoipa::path(
    post,
    path = "/grants",
    tag = "recipients",
    security(("bearer" = [])),
    request_body = GrantRequest,
    responses(
        (status = 200, description = "One share per recipient, each with its snippet", body = GrantResponse),
        (status = 400, description = "Not a valid request", body = ErrorBody),
        (status = 401, description = "No valid ID token", body = ErrorBody),
        (status = 403, description = "Not allowed to sign in, or too many recipients", body = ErrorBody),
        (status = 404, description = "No such dataset of the caller's", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 429, description = "Too many requests from this user", body = ErrorBody),
        (status = "5XX", description = "Busy, too slow or failed; try again", body = ErrorBody),
    )
)]
async fn grant(
    State(state): State<Arc<AppState>>,
    User(user): User,
    body: Result<Json<GrantRequest>, JsonRejection>,
) -> Answer {
    let Json(request) = body?;
    Ok(Json(state.datasets.grant(&user, &request).await?).into_response())
}

/// The caller's recipients with their datasets, expiry and last read.
#[utoipa::path(
    get,
    path = "/recipients",
    operation_id = "list_recipients",
    tag = "recipients",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "By name", body = RecipientList),
        (status = 401, description = "No valid ID token", body = ErrorBody),
        (status = 403, description = "Not allowed to sign in", body = ErrorBody),
        (status = 429, description = "Too many requests from this user", body = ErrorBody),
        (status = "5XX", description = "Busy, too slow or failed; try again", body = ErrorBody),
    )
)]
async fn recipients(State(state): State<Arc<AppState>>, User(user): User) -> Answer {
    Ok(Json(state.datasets.recipients(&user).await?).into_response())
}

/// Add a recipient: a name, an optional email and expiry.
#[utoipa::path(
    post,
    path = "/recipients",
    tag = "recipients",
    security(("bearer" = [])),
    request_body = NewRecipient,
    responses(
        (status = 201, description = "Added", body = RecipientInfo),
        (status = 400, description = "Not a valid request", body = ErrorBody),
        (status = 401, description = "No valid ID token", body = ErrorBody),
        (status = 403, description = "Not allowed to sign in, or too many recipients", body = ErrorBody),
        (status = 409, description = "The caller has a recipient of that name", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 429, description = "Too many requests from this user", body = ErrorBody),
        (status = "5XX", description = "Busy, too slow or failed; try again", body = ErrorBody),
    )
)]
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
fn changed(change: RecipientChange) -> Response {
    let status = match change.revocation {
        Revocation::InForce => StatusCode::OK,
        Revocation::Pending => StatusCode::ACCEPTED,
    };
    (status, Json(change)).into_response()
}

/// Revoke a recipient: every grant ends and its credential stops working.
#[utoipa::path(
    delete,
    path = "/recipients/{name}",
    tag = "recipients",
    security(("bearer" = [])),
    params(("name" = RecipientName, Path, description = "The recipient")),
    responses(
        (status = 200, description = "Revoked, in force", body = RecipientChange),
        (status = 202, description = "Revoked, not yet in force", body = RecipientChange),
        (status = 400, description = "Not a recipient's name", body = ErrorBody),
        (status = 401, description = "No valid ID token", body = ErrorBody),
        (status = 403, description = "Not allowed to sign in", body = ErrorBody),
        (status = 404, description = "No such recipient of the caller's", body = ErrorBody),
        (status = 429, description = "Too many requests from this user", body = ErrorBody),
        (status = "5XX", description = "Busy, too slow or failed; try again", body = ErrorBody),
    )
)]
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

/// Rotate a recipient's credential; the old one keeps working for the overlap asked (none by default).
#[utoipa::path(
    post,
    path = "/recipients/{name}/rotate",
    tag = "recipients",
    security(("bearer" = [])),
    params(("name" = RecipientName, Path, description = "The recipient")),
    request_body(content = Option<RotateRequest>, description = "Optional: the overlap"),
    responses(
        (status = 200, description = "Rotated, in force", body = RecipientChange),
        (status = 202, description = "Rotated, not yet in force", body = RecipientChange),
        (status = 400, description = "Not a recipient's name, or an overlap too long", body = ErrorBody),
        (status = 401, description = "No valid ID token", body = ErrorBody),
        (status = 403, description = "Not allowed to sign in", body = ErrorBody),
        (status = 404, description = "No such recipient of the caller's", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 429, description = "Too many requests from this user", body = ErrorBody),
        (status = "5XX", description = "Busy, too slow or failed; try again", body = ErrorBody),
    )
)]
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

/// A fresh one-time activation link for a recipient (a page, never the credential, in its URL).
#[utoipa::path(
    post,
    path = "/recipients/{name}/link",
    tag = "recipients",
    security(("bearer" = [])),
    params(("name" = RecipientName, Path, description = "The recipient")),
    responses(
        (status = 201, description = "The link", body = ActivationLink),
        (status = 400, description = "Not a recipient's name", body = ErrorBody),
        (status = 401, description = "No valid ID token", body = ErrorBody),
        (status = 403, description = "Not allowed to sign in", body = ErrorBody),
        (status = 404, description = "No such recipient of the caller's", body = ErrorBody),
        (status = 429, description = "Too many requests from this user", body = ErrorBody),
        (status = "5XX", description = "Busy, too slow or failed; try again", body = ErrorBody),
    )
)]
async fn activation_link(
    State(state): State<Arc<AppState>>,
    User(user): User,
    Path(name): Path<String>,
) -> Answer {
    let name = recipient_name(&name)?;
    let link = state.datasets.activation_link(&user, &name).await?;
    Ok((StatusCode::CREATED, Json(link)).into_response())
}

/// Which reads.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ActivityParams {
    /// Reads of this dataset only (`datasetId` is accepted too).
    #[serde(alias = "datasetId")]
    dataset: Option<String>,
    /// Reads by this recipient only (`link` for a dataset's snippet).
    recipient: Option<RecipientName>,
    /// Reads from this time on (RFC 3339).
    since: Option<String>,
    /// At most this many (default 200, at most 1,000).
    limit: Option<i64>,
}

/// Reads of the caller's datasets by their recipients, newest first.
#[utoipa::path(
    get,
    path = "/activity",
    tag = "recipients",
    security(("bearer" = [])),
    params(ActivityParams),
    responses(
        (status = 200, description = "The reads", body = Activity),
        (status = 400, description = "Not a valid query", body = ErrorBody),
        (status = 401, description = "No valid ID token", body = ErrorBody),
        (status = 403, description = "Not allowed to sign in", body = ErrorBody),
        (status = 429, description = "Too many requests from this user", body = ErrorBody),
        (status = "5XX", description = "Busy, too slow or failed; try again", body = ErrorBody),
    )
)]
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
