//! Pagination of the list endpoints (`maxResults`, `pageToken`).
//!
//! A page token is opaque to clients: base64url of a small JSON object holding the offset and the share
//! and schema it was issued for, so a token from one listing is refused by another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The largest page the server returns, whatever `maxResults` asks (the reference server's limit).
pub const MAX_PAGE_SIZE: u32 = 500;

/// Paging parameters of one list request.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// `maxResults`, if given.
    pub max_results: Option<u32>,
    /// `pageToken`, if given.
    pub page_token: Option<String>,
    /// Page size when `maxResults` is absent (the server's setting; at most [`MAX_PAGE_SIZE`]).
    pub default_size: u32,
}

/// One page of items and the token of the next, if any.
#[derive(Debug)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Token for the next page; `None` on the last page.
    pub next_page_token: Option<String>,
}

/// A page request that cannot be served.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PageError {
    /// `maxResults` out of range.
    #[error("maxResults must be between 0 and {MAX_PAGE_SIZE}, got {0}")]
    MaxResults(u32),
    /// The token is malformed or belongs to another listing.
    #[error("invalid 'pageToken'")]
    Token,
}

#[derive(Serialize, Deserialize)]
struct Token {
    o: usize,
    s: String,
    c: String,
}

impl PageRequest {
    /// Cuts one page out of `items`, the whole listing of `share`/`schema`.
    pub fn slice<T>(&self, items: Vec<T>, share: &str, schema: &str) -> Result<Page<T>, PageError> {
        let size = match self.max_results {
            Some(n) if n > MAX_PAGE_SIZE => return Err(PageError::MaxResults(n)),
            Some(n) => n as usize,
            None => self.default_size.clamp(1, MAX_PAGE_SIZE) as usize,
        };
        let offset = match self.page_token.as_deref() {
            None | Some("") => 0,
            Some(text) => {
                let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| PageError::Token)?;
                let token: Token = serde_json::from_slice(&bytes).map_err(|_| PageError::Token)?;
                if !token.s.eq_ignore_ascii_case(share) || !token.c.eq_ignore_ascii_case(schema) {
                    return Err(PageError::Token);
                }
                token.o
            }
        };
        let total = items.len();
        let end = offset.saturating_add(size).min(total);
        let items: Vec<T> = items
            .into_iter()
            .skip(offset)
            .take(end.saturating_sub(offset))
            .collect();
        let next_page_token = (end < total && size > 0).then(|| {
            let token = Token {
                o: end,
                s: share.to_string(),
                c: schema.to_string(),
            };
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).expect("token serializes"))
        });
        Ok(Page {
            items,
            next_page_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(max: Option<u32>, token: Option<String>) -> PageRequest {
        PageRequest {
            max_results: max,
            page_token: token,
            default_size: 500,
        }
    }

    #[test]
    fn pages_of_one_cover_everything_once() {
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let page = request(Some(1), token)
                .slice(vec![1, 2, 3], "s", "")
                .unwrap();
            seen.extend(page.items);
            token = page.next_page_token;
            if token.is_none() {
                break;
            }
        }
        assert_eq!(seen, vec![1, 2, 3]);
    }

    #[test]
    fn bad_tokens_and_sizes_are_refused() {
        assert_eq!(
            request(Some(501), None)
                .slice(vec![1], "s", "")
                .unwrap_err(),
            PageError::MaxResults(501)
        );
        assert_eq!(
            request(None, Some("!!".into()))
                .slice(vec![1], "s", "")
                .unwrap_err(),
            PageError::Token
        );
        let other = request(Some(1), None)
            .slice(vec![1, 2], "other", "")
            .unwrap()
            .next_page_token;
        assert_eq!(
            request(None, other).slice(vec![1, 2], "s", "").unwrap_err(),
            PageError::Token
        );
    }
}
