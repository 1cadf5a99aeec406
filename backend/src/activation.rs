//! The activation page a recipient opens from a one-time link: plain HTML, no JavaScript, no external
//! resources. Viewing it (`GET`, which link previews and scanners also do) uses nothing up; the download
//! button posts the form back to the same URL and gets the profile file once. The credential is only ever
//! in that download's body: never in a URL, a page, a log line or a referrer.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use delta_bridge_datasets::{Activation, ActivationPage, Error};

use crate::AppState;
use crate::error::ApiError;

/// The activation page a recipient opens from a one-time link: what it reads, and the download button.
///
/// Viewing it uses nothing up. No ID token: the link's code is the credential.
#[utoipa::path(
    get,
    path = "/activate/{code}",
    operation_id = "activation_page",
    tag = "activation",
    params(("code" = String, Path, description = "The link's one-time code")),
    responses(
        (status = 200, description = "The page: tables, the download button, pandas and Spark code", body = String, content_type = "text/html"),
        (status = 404, description = "No such link (withdrawn, or not complete)", body = String, content_type = "text/html"),
        (status = 410, description = "The link was used or expired", body = String, content_type = "text/html"),
        (status = "5XX", description = "The page could not be shown; try again", body = String, content_type = "text/html"),
    )
)]
pub async fn page(State(state): State<Arc<AppState>>, Path(code): Path<String>) -> Response {
    match state.datasets.activation(&code).await {
        Ok(Activation::Ready(page)) => html(StatusCode::OK, &ready(&page)),
        Ok(Activation::Used(at)) => html(
            StatusCode::GONE,
            &notice(
                "This link was used",
                &format!(
                    "Its profile was downloaded on {}. A link works once; ask the person who sent it for a new one.",
                    escape(&at)
                ),
            ),
        ),
        Ok(Activation::Expired(at)) => html(
            StatusCode::GONE,
            &notice(
                "This link expired",
                &format!(
                    "It stopped working on {} without being used. Ask the person who sent it for a new one.",
                    escape(&at)
                ),
            ),
        ),
        Ok(Activation::Unknown) => html(
            StatusCode::NOT_FOUND,
            &notice(
                "This link does not work",
                "It was withdrawn, or it is not complete: check that you copied all of it, or ask for a new one.",
            ),
        ),
        Err(e) => {
            let status = ApiError::from(e).into_response().status();
            html(
                status,
                &notice(
                    "Something went wrong",
                    "The server could not show this page. Try again in a minute.",
                ),
            )
        }
    }
}

/// The profile file, once: the activation page's download button posts here.
///
/// A standard version 1 Delta Sharing profile (with `expirationTime` when the credential expires) as an
/// attachment; the link is used up.
#[utoipa::path(
    post,
    path = "/activate/{code}",
    operation_id = "activation_download",
    tag = "activation",
    params(("code" = String, Path, description = "The link's one-time code")),
    responses(
        (
            status = 200,
            description = "The profile file",
            content(("application/octet-stream")),
            headers(("Content-Disposition" = String, description = "attachment; filename=\"….share\""))
        ),
        (status = 404, description = "No such link", body = String, content_type = "text/html"),
        (status = 410, description = "The link was used, expired or withdrawn", body = String, content_type = "text/html"),
        (status = "5XX", description = "The profile could not be made; the link still works", body = String, content_type = "text/html"),
    )
)]
pub async fn download(State(state): State<Arc<AppState>>, Path(code): Path<String>) -> Response {
    match state.datasets.activate(&code).await {
        Ok(profile) => {
            let mut response = (StatusCode::OK, profile.json).into_response();
            let headers = response.headers_mut();
            protect(headers);
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            let disposition = format!(
                "attachment; filename=\"{}\"",
                profile.file_name.replace(['"', '\\'], "_")
            );
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                headers.insert(header::CONTENT_DISPOSITION, value);
            } else {
                headers.insert(
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=\"profile.share\""),
                );
            }
            response
        }
        Err(Error::Gone(message)) => html(
            StatusCode::GONE,
            &notice("This link was used", &escape(&message)),
        ),
        Err(e) => {
            let status = ApiError::from(e).into_response().status();
            html(
                status,
                &notice(
                    "Something went wrong",
                    "The profile could not be made. Try again in a minute; the link still works.",
                ),
            )
        }
    }
}

fn ready(page: &ActivationPage) -> String {
    let tables = if page.tables.is_empty() {
        "<p>Nothing is shared with you yet; once it is, the same profile reads it.</p>".to_string()
    } else {
        let items: String = page
            .tables
            .iter()
            .map(|t| format!("<li><code>{}</code></li>", escape(t)))
            .collect();
        format!("<p>This profile reads:</p><ul>{items}</ul>")
    };
    let expiry = match &page.expires_at {
        Some(at) => format!("<p>It works until {}.</p>", escape(at)),
        None => String::new(),
    };
    let code = match (&page.python, &page.spark) {
        (Some(python), Some(spark)) => format!(
            "<h2>pandas</h2><pre>pip install delta-sharing\n\n{}</pre><h2>Spark</h2><pre>{}</pre>",
            escape(python),
            escape(spark)
        ),
        _ => String::new(),
    };
    body(
        "Your Delta Sharing profile",
        &format!(
            "<p>Hello {name}. Download your profile file once and keep it private: it is your key to the data.</p>\
             {tables}{expiry}\
             <form method=\"post\"><button type=\"submit\">Download {file}</button></form>\
             <p class=\"small\">This link works for one download, until {link_expiry}.</p>{code}",
            name = escape(&page.recipient),
            file = escape(&page.profile_file),
            link_expiry = escape(&page.link_expires_at),
        ),
    )
}

fn notice(title: &str, text: &str) -> String {
    body(title, &format!("<p>{text}</p>"))
}

fn body(title: &str, content: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}}\
         pre{{background:#f4f4f4;padding:1rem;overflow-x:auto}}button{{font-size:1.1rem;padding:.5rem 1rem}}\
         .small{{color:#555;font-size:.9rem}}</style></head>\
         <body><h1>{title}</h1>{content}</body></html>",
        title = escape(title),
    )
}

fn html(status: StatusCode, text: &str) -> Response {
    let mut response = (status, text.to_string()).into_response();
    let headers = response.headers_mut();
    protect(headers);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// No cache keeps it, no page it links to learns its URL, nothing runs, nobody frames it.
fn protect(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex"));
}

/// Text as HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape("<b a=\"x\">&'"),
            "&lt;b a=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
