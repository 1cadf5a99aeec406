//! Discovery: shares, schemas and tables.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use delta_bridge_shares::{Page, PageRequest, Table};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::state::{AppState, Session};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageParams {
    max_results: Option<String>,
    page_token: Option<String>,
}

impl PageParams {
    fn request(self, state: &AppState) -> Result<PageRequest, ApiError> {
        let max_results = self
            .max_results
            .map(|text| {
                text.parse::<u32>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "maxResults must be a non-negative integer, got '{text}'"
                    ))
                })
            })
            .transpose()?;
        Ok(PageRequest {
            max_results,
            page_token: self.page_token,
            default_size: state.default_page_size,
        })
    }
}

fn page_json<T>(page: Page<T>, item: impl Fn(T) -> Value) -> Json<Value> {
    let mut body = json!({"items": page.items.into_iter().map(item).collect::<Vec<_>>()});
    if let Some(token) = page.next_page_token {
        body["nextPageToken"] = Value::String(token);
    }
    Json(body)
}

fn table_json(table: &Table) -> Value {
    let mut item = json!({"name": table.name, "schema": table.schema, "share": table.share});
    if let Some(id) = &table.id {
        item["id"] = Value::String(id.clone());
    }
    item
}

pub async fn list_shares(
    State(state): State<Arc<AppState>>,
    Extension(session): Extension<Session>,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, ApiError> {
    let page = session
        .generation
        .config
        .list_shares(&session.recipient, &params.request(&state)?)?;
    Ok(page_json(page, |share| json!({"name": share.name})))
}

pub async fn get_share(
    Extension(session): Extension<Session>,
    Path(share): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let share = session
        .generation
        .config
        .share(&session.recipient, &share)?;
    Ok(Json(json!({"share": {"name": share.name}})))
}

pub async fn list_schemas(
    State(state): State<Arc<AppState>>,
    Extension(session): Extension<Session>,
    Path(share): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, ApiError> {
    let page = session.generation.config.list_schemas(
        &session.recipient,
        &share,
        &params.request(&state)?,
    )?;
    Ok(page_json(
        page,
        |schema| json!({"name": schema.name, "share": schema.share}),
    ))
}

pub async fn list_tables(
    State(state): State<Arc<AppState>>,
    Extension(session): Extension<Session>,
    Path((share, schema)): Path<(String, String)>,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, ApiError> {
    let page = session.generation.config.list_tables(
        &session.recipient,
        &share,
        &schema,
        &params.request(&state)?,
    )?;
    Ok(page_json(page, table_json))
}

pub async fn list_all_tables(
    State(state): State<Arc<AppState>>,
    Extension(session): Extension<Session>,
    Path(share): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, ApiError> {
    let page = session.generation.config.list_all_tables(
        &session.recipient,
        &share,
        &params.request(&state)?,
    )?;
    Ok(page_json(page, table_json))
}
