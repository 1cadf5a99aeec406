//! Table endpoints: version, metadata, query, changes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use delta_bridge_shares::Table;
use delta_bridge_tables::{Capabilities, ChangesRequest, QueryRequest, TableResponse};

use crate::access::{Answered, count_files};
use crate::error::ApiError;
use crate::state::{AppState, Session};

const TABLE_VERSION: &str = "delta-table-version";
const CAPABILITIES: &str = "delta-sharing-capabilities";

type TablePath = Path<(String, String, String)>;

fn table<'a>(
    session: &'a Session,
    (share, schema, table): &(String, String, String),
) -> Result<&'a Table, ApiError> {
    Ok(session
        .generation
        .config
        .table(&session.recipient, share, schema, table)?)
}

fn capabilities(headers: &HeaderMap) -> Capabilities {
    Capabilities::parse(headers.get(CAPABILITIES).and_then(|v| v.to_str().ok()))
}

fn version_only(version: i64) -> Response {
    Answered {
        version: Some(version),
        ..Answered::default()
    }
    .attach(
        (
            StatusCode::OK,
            [(TABLE_VERSION, HeaderValue::from(version))],
        )
            .into_response(),
    )
}

/// An NDJSON answer; `files` says whether its data files are counted for the access log (query,
/// changes).
struct Ndjson {
    answer: TableResponse,
    files: bool,
}

impl Ndjson {
    fn metadata(answer: TableResponse) -> Self {
        Ndjson {
            answer,
            files: false,
        }
    }

    fn files(answer: TableResponse) -> Self {
        Ndjson {
            answer,
            files: true,
        }
    }
}

impl IntoResponse for Ndjson {
    fn into_response(self) -> Response {
        let answered = Answered {
            version: Some(self.answer.version),
            files: self.files.then(|| count_files(&self.answer.body)),
            ..Answered::default()
        };
        let answer = self.answer;
        let headers = [
            (
                header::CONTENT_TYPE.as_str(),
                HeaderValue::from_static("application/x-ndjson; charset=utf-8"),
            ),
            (TABLE_VERSION, HeaderValue::from(answer.version)),
            (
                CAPABILITIES,
                HeaderValue::from_static(answer.format.header_value()),
            ),
        ];
        answered.attach((StatusCode::OK, headers, answer.body).into_response())
    }
}

/// `HEAD .../tables/{table}`: the deprecated form of `version`.
pub async fn head_table(
    State(state): State<Arc<AppState>>,
    Extension(session): Extension<Session>,
    Path(path): TablePath,
) -> Result<Response, ApiError> {
    let table = table(&session, &path)?;
    let options = AppState::serve_options(&session);
    Ok(version_only(
        state.tables.version(table, None, &options).await?,
    ))
}

/// `GET .../version[?startingTimestamp=]`.
pub async fn table_version(
    State(state): State<Arc<AppState>>,
    Extension(session): Extension<Session>,
    Path(path): TablePath,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let table = table(&session, &path)?;
    let options = AppState::serve_options(&session);
    let version = state
        .tables
        .version(
            table,
            params.get("startingTimestamp").map(String::as_str),
            &options,
        )
        .await?;
    Ok(version_only(version))
}

/// `GET .../metadata`.
pub async fn table_metadata(
    State(state): State<Arc<AppState>>,
    Extension(session): Extension<Session>,
    Path(path): TablePath,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let table = table(&session, &path)?;
    let options = AppState::serve_options(&session);
    Ok(Ndjson::metadata(
        state
            .tables
            .metadata(table, &capabilities(&headers), &options)
            .await?,
    )
    .into_response())
}

/// `POST .../query`.
pub async fn query_table(
    State(state): State<Arc<AppState>>,
    Extension(session): Extension<Session>,
    Path(path): TablePath,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let table = table(&session, &path)?;
    let request: QueryRequest = if body.iter().all(u8::is_ascii_whitespace) {
        QueryRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "MALFORMED_REQUEST",
                format!("the query body is not valid: {e}"),
            )
        })?
    };
    let options = AppState::serve_options(&session);
    Ok(Ndjson::files(
        state
            .tables
            .query(table, &capabilities(&headers), &request, &options)
            .await?,
    )
    .into_response())
}

/// `GET .../changes`.
pub async fn table_changes(
    State(state): State<Arc<AppState>>,
    Extension(session): Extension<Session>,
    Path(path): TablePath,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let table = table(&session, &path)?;
    let request = changes_request(&params)?;
    let options = AppState::serve_options(&session);
    Ok(Ndjson::files(
        state
            .tables
            .changes(table, &capabilities(&headers), &request, &options)
            .await?,
    )
    .into_response())
}

fn changes_request(params: &HashMap<String, String>) -> Result<ChangesRequest, ApiError> {
    let version = |key: &str| -> Result<Option<i64>, ApiError> {
        params
            .get(key)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse().map_err(|_| {
                    ApiError::bad_request(format!("{key} must be an integer, got '{v}'"))
                })
            })
            .transpose()
    };
    let text = |key: &str| params.get(key).filter(|v| !v.is_empty()).cloned();
    let include_historical_metadata = match params
        .get("includeHistoricalMetadata")
        .map(|v| v.to_ascii_lowercase())
    {
        None => false,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" || v.is_empty() => false,
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "includeHistoricalMetadata must be true or false, got '{v}'"
            )));
        }
    };
    Ok(ChangesRequest {
        starting_version: version("startingVersion")?,
        starting_timestamp: text("startingTimestamp"),
        ending_version: version("endingVersion")?,
        ending_timestamp: text("endingTimestamp"),
        include_historical_metadata,
    })
}
