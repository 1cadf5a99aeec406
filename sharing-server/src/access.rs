//! The access log at the HTTP edge: [`record`], the layer of every protocol route and of `/files`, turns
//! each answer given to a recipient into an [`Access`] and waits until the journal has it on disk before
//! the answer leaves. A read that cannot be recorded is not served: 503 `ACCESS_LOG_UNAVAILABLE`.
//!
//! The layer takes who asked from the [`Session`] (the token's name, never the token), the share, schema
//! and table from the path, the table's id from the config in force, and what was answered from the
//! [`Answered`] extension the handler put into its response (version, files, bytes; for `/files`, the
//! recipient named in the signed URL and the table of the file).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{ConnectInfo, MatchedPath, RawPathParams, Request, State};
use axum::http::Method;
use axum::http::header::USER_AGENT;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use delta_bridge_access::{Access, timestamp};
use delta_bridge_shares::Table;

use crate::error::ApiError;
use crate::state::{AppState, Session};

/// Longest `User-Agent` kept in a record (the rest is cut).
const MAX_USER_AGENT: usize = 256;

/// What a handler answered, for the access log: put into the response's extensions.
#[derive(Debug, Clone, Default)]
pub struct Answered {
    /// The table version answered.
    pub version: Option<i64>,
    /// Data files in the answer.
    pub files: Option<i64>,
    /// Bytes of file data in the body.
    pub bytes: Option<i64>,
    /// For `/files`: whose URL it was and the file's table (there is no session there).
    pub file: Option<FileRead>,
}

/// A `/files` request whose signature verified.
#[derive(Debug, Clone)]
pub struct FileRead {
    /// The token's name the URL was signed for (empty for a URL signed before URLs named one).
    pub recipient: String,
    /// The table of `share.yaml` at the file's location, if it is still shared.
    pub table: Option<Table>,
}

impl Answered {
    /// `response` carrying this.
    pub fn attach(self, mut response: Response) -> Response {
        response.extensions_mut().insert(self);
        response
    }
}

/// The operation of a route, from its pattern (as [`MatchedPath`] gives it, prefix included).
fn operation(method: &Method, pattern: &str) -> &'static str {
    const TABLE: &str = "/tables/{table}";
    let suffixes: [(&str, &str); 10] = [
        ("/files/{id}", "file"),
        ("/shares", "listShares"),
        ("/shares/{share}", "getShare"),
        ("/schemas", "listSchemas"),
        ("/tables", "listTables"),
        ("/all-tables", "listAllTables"),
        ("/tables/{table}/version", "version"),
        ("/tables/{table}/metadata", "metadata"),
        ("/tables/{table}/query", "query"),
        ("/tables/{table}/changes", "changes"),
    ];
    if pattern.ends_with(TABLE) && method == Method::HEAD {
        return "head";
    }
    suffixes
        .iter()
        .find(|(suffix, _)| pattern.ends_with(suffix))
        .map_or("other", |(_, operation)| operation)
}

/// Data files in an NDJSON answer: `file` lines of a snapshot, `add`, `cdf`, `remove` or `file` lines of
/// changes (every other line is `protocol` or `metaData`).
pub fn count_files(body: &[u8]) -> i64 {
    let is_file = |line: &[u8]| {
        [
            &b"{\"file\":"[..],
            b"{\"add\":",
            b"{\"cdf\":",
            b"{\"remove\":",
        ]
        .iter()
        .any(|prefix| line.starts_with(prefix))
    };
    let mut count = 0;
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', body) {
        count += i64::from(is_file(&body[start..end]));
        start = end + 1;
    }
    count + i64::from(is_file(&body[start..]))
}

/// The layer: records the answer, durably, before returning it.
pub async fn record(
    State(state): State<Arc<AppState>>,
    params: RawPathParams,
    request: Request,
    next: Next,
) -> Response {
    let Some(journal) = state.access.as_ref() else {
        return next.run(request).await;
    };
    let operation = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("other", |p| operation(request.method(), p.as_str()));
    let session = request.extensions().get::<Session>().cloned();
    let user_agent = request
        .headers()
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let mut end = v.len().min(MAX_USER_AGENT);
            while !v.is_char_boundary(end) {
                end -= 1;
            }
            v[..end].to_string()
        });
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.to_string());
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    };
    let (share, schema, table) = (param("share"), param("schema"), param("table"));

    let response = next.run(request).await;

    let answered = response
        .extensions()
        .get::<Answered>()
        .cloned()
        .unwrap_or_default();
    let (recipient, share, schema, table, table_id) = match (answered.file, session) {
        (Some(file), _) => match file.table {
            Some(t) => (
                file.recipient,
                Some(t.share),
                Some(t.schema),
                Some(t.name),
                t.id,
            ),
            None => (file.recipient, None, None, None, None),
        },
        (None, Some(session)) => {
            let table_id = match (&share, &schema, &table) {
                (Some(share), Some(schema), Some(table)) => session
                    .generation
                    .config
                    .table(&session.recipient, share, schema, table)
                    .ok()
                    .and_then(|t| t.id.clone()),
                _ => None,
            };
            (session.recipient.name, share, schema, table, table_id)
        }
        // Nobody to attribute it to (a file URL that did not verify): not a read by a recipient.
        (None, None) => return response,
    };
    let access = Access {
        at: timestamp(SystemTime::now()),
        recipient,
        operation: operation.to_string(),
        share,
        schema,
        table,
        table_id,
        version: answered.version,
        files: answered.files,
        bytes: answered.bytes,
        status: response.status().as_u16(),
        user_agent,
        address,
    };
    match journal.record(access).await {
        Ok(()) => response,
        // The reason is logged once by the journal; the client learns only that it may pass.
        Err(_) => ApiError::access_log_unavailable().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_by_route() {
        let table = "/delta-sharing/shares/{share}/schemas/{schema}/tables/{table}";
        let cases = [
            (
                Method::GET,
                "/delta-sharing/shares".to_string(),
                "listShares",
            ),
            (Method::GET, "/shares/{share}".to_string(), "getShare"),
            (
                Method::GET,
                "/shares/{share}/schemas".to_string(),
                "listSchemas",
            ),
            (
                Method::GET,
                "/shares/{share}/schemas/{schema}/tables".to_string(),
                "listTables",
            ),
            (
                Method::GET,
                "/shares/{share}/all-tables".to_string(),
                "listAllTables",
            ),
            (Method::HEAD, table.to_string(), "head"),
            (Method::GET, format!("{table}/version"), "version"),
            (Method::GET, format!("{table}/metadata"), "metadata"),
            (Method::POST, format!("{table}/query"), "query"),
            (Method::GET, format!("{table}/changes"), "changes"),
            (Method::GET, "/delta-sharing/files/{id}".to_string(), "file"),
            (
                Method::HEAD,
                "/delta-sharing/files/{id}".to_string(),
                "file",
            ),
        ];
        for (method, pattern, expected) in cases {
            assert_eq!(operation(&method, &pattern), expected, "{method} {pattern}");
        }
    }

    #[test]
    fn files_are_counted_by_their_lines() {
        let snapshot =
            b"{\"protocol\":{}}\n{\"metaData\":{}}\n{\"file\":{\"url\":\"u\"}}\n{\"file\":{}}\n";
        assert_eq!(count_files(snapshot), 2);
        let changes = b"{\"protocol\":{}}\n{\"metaData\":{}}\n{\"add\":{}}\n{\"cdf\":{}}\n{\"remove\":{}}\n{\"metaData\":{}}\n{\"file\":{}}";
        assert_eq!(count_files(changes), 4);
        assert_eq!(count_files(b""), 0);
    }
}
