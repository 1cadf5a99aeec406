//! Data files of tables on local disk, behind signed, expiring URLs. Answers `GET`, `HEAD` (axum
//! answers `HEAD` from the `GET` handler without a body) and single `Range` requests with `206`.

use std::collections::HashMap;
use std::io::SeekFrom;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use delta_bridge_tables::{Location, RECIPIENT_KEY, SIGNATURE_KEY, SignedFile, is_inside};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::access::{Answered, FileRead};
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /files/{id}`. Once the signature verifies, the answer (whatever its status) carries who the URL
/// was signed for, the file's table and the bytes of the body, for the access log.
pub async fn get_file(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let signer = state.tables.store().local_signer();
    let signed = match signer.verify(
        &id,
        params
            .get(delta_bridge_tables::EXPIRES_KEY)
            .map(String::as_str),
        params.get(SIGNATURE_KEY).map(String::as_str),
        params.get(RECIPIENT_KEY).map(String::as_str),
        SystemTime::now(),
    ) {
        Ok(signed) => signed,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let recipient = signed.recipient.clone().unwrap_or_default();
    let table = state
        .current
        .load()
        .config
        .table_at(&signed.location, &recipient)
        .cloned();
    let shared = table.is_some();
    let read = FileRead { recipient, table };
    let (response, bytes) = match serve(&signed, shared, &headers).await {
        Ok((response, length)) => (response, if method == Method::HEAD { 0 } else { length }),
        Err(e) => (e.into_response(), 0),
    };
    Answered {
        bytes: Some(bytes as i64),
        file: Some(read),
        ..Answered::default()
    }
    .attach(response)
}

/// The answer and the bytes of its body.
async fn serve(
    signed: &SignedFile,
    shared: bool,
    headers: &HeaderMap,
) -> Result<(Response, u64), ApiError> {
    // A URL outlives nothing: once its table leaves share.yaml, its files are no longer served.
    if !shared {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            "the table of this file is no longer shared",
        ));
    }
    let not_found = || ApiError::not_found("the file does not exist");
    let Ok(Location::Local(root)) = Location::parse(&signed.location) else {
        return Err(not_found());
    };
    if !is_inside(&signed.relative) {
        return Err(not_found());
    }
    let root = tokio::fs::canonicalize(&root)
        .await
        .map_err(|_| not_found())?;
    let path = tokio::fs::canonicalize(root.join(&signed.relative))
        .await
        .map_err(|_| not_found())?;
    if !path.starts_with(&root) {
        // A symlink pointing out of the table.
        return Err(not_found());
    }
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| not_found())?;
    let size = file.metadata().await.map_err(|_| not_found())?.len();
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(text) => match parse_range(text, size) {
            RangeAnswer::Whole => None,
            RangeAnswer::Part(start, end) => Some((start, end)),
            RangeAnswer::Unsatisfiable => {
                let response = (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(
                        header::CONTENT_RANGE,
                        HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"),
                    )],
                )
                    .into_response();
                return Ok((response, 0));
            }
        },
    };
    let (status, start, length) = match range {
        Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        None => (StatusCode::OK, 0, size),
    };
    if start > 0 {
        file.seek(SeekFrom::Start(start))
            .await
            .map_err(|_| not_found())?;
    }
    let mut response = Response::new(Body::from_stream(ReaderStream::with_capacity(
        file.take(length),
        256 * 1024,
    )));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {start}-{}/{size}", start + length - 1);
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&value).expect("ascii"),
        );
    }
    Ok((response, length))
}

#[derive(Debug, PartialEq, Eq)]
enum RangeAnswer {
    Whole,
    Part(u64, u64),
    Unsatisfiable,
}

/// Parses a `Range` header for a file of `size` bytes. Multiple ranges are answered with the whole file.
fn parse_range(text: &str, size: u64) -> RangeAnswer {
    let Some(spec) = text.trim().strip_prefix("bytes=") else {
        return RangeAnswer::Whole;
    };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let (start, end) = if first.is_empty() {
        let Ok(suffix) = last.parse::<u64>() else {
            return RangeAnswer::Whole;
        };
        if suffix == 0 || size == 0 {
            return RangeAnswer::Unsatisfiable;
        }
        (size.saturating_sub(suffix), size - 1)
    } else {
        let Ok(start) = first.parse::<u64>() else {
            return RangeAnswer::Whole;
        };
        let end = if last.is_empty() {
            size.saturating_sub(1)
        } else {
            match last.parse::<u64>() {
                Ok(end) => end.min(size.saturating_sub(1)),
                Err(_) => return RangeAnswer::Whole,
            }
        };
        if start >= size || end < start {
            return RangeAnswer::Unsatisfiable;
        }
        (start, end)
    };
    RangeAnswer::Part(start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), RangeAnswer::Part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), RangeAnswer::Part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), RangeAnswer::Part(90, 99));
        assert_eq!(parse_range("bytes=50-500", 100), RangeAnswer::Part(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeAnswer::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeAnswer::Whole);
        assert_eq!(parse_range("items=0-1", 100), RangeAnswer::Whole);
    }
}
