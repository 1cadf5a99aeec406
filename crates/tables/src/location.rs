//! Table locations: where a table's files live, parsed from the `location` of `share.yaml`.

use std::path::{Component, Path, PathBuf};

use percent_encoding::percent_decode_str;

use crate::{Error, Result};

/// Where a table lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// A directory on the server's disk (`file:///...`).
    Local(PathBuf),
    /// A prefix in an S3 bucket (`s3://bucket/prefix` or `s3a://...`); `prefix` has no trailing `/`.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Key prefix of the table root, without a trailing slash (may be empty).
        prefix: String,
    },
}

impl Location {
    /// Parses a `file://`, `s3://` or `s3a://` URL.
    pub fn parse(url: &str) -> Result<Self> {
        let unsupported = || Error::InvalidParameter(format!("unsupported table location '{url}'"));
        if let Some(rest) = strip_prefix_ignore_case(url, "file://") {
            let path = percent_decode_str(rest)
                .decode_utf8()
                .map_err(|_| unsupported())?;
            let path = PathBuf::from(path.as_ref());
            if !path.is_absolute() || path.components().any(|c| matches!(c, Component::ParentDir)) {
                return Err(unsupported());
            }
            return Ok(Location::Local(path));
        }
        let rest = strip_prefix_ignore_case(url, "s3://")
            .or_else(|| strip_prefix_ignore_case(url, "s3a://"))
            .ok_or_else(unsupported)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(unsupported());
        }
        Ok(Location::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    /// The key or path of a file given relative to the table root.
    pub(crate) fn s3_key(prefix: &str, relative: &str) -> String {
        if prefix.is_empty() {
            relative.to_string()
        } else {
            format!("{prefix}/{relative}")
        }
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    (text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &text[prefix.len()..])
}

/// Turns the `path` of a log action into a path relative to the table root, percent-decoded.
/// Returns `None` for paths that are absolute URLs or that would leave the table root.
pub fn relative_file_path(action_path: &str) -> Option<String> {
    if action_path.contains("://") || action_path.starts_with('/') {
        return None;
    }
    let decoded = percent_decode_str(action_path)
        .decode_utf8()
        .ok()?
        .into_owned();
    is_inside(&decoded).then_some(decoded)
}

/// Whether a relative path stays below the directory it is relative to.
pub fn is_inside(relative: &str) -> bool {
    let path = Path::new(relative);
    !relative.is_empty()
        && !relative.contains('\0')
        && path
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        assert_eq!(
            Location::parse("file:///data/my%20t").unwrap(),
            Location::Local("/data/my t".into())
        );
        assert_eq!(
            Location::parse("s3a://bkt/a/b/").unwrap(),
            Location::S3 {
                bucket: "bkt".into(),
                prefix: "a/b".into()
            }
        );
        assert!(Location::parse("gs://x/y").is_err());
        assert!(Location::parse("file:///data/../etc").is_err());
    }

    #[test]
    fn relative_paths_never_leave_the_root() {
        assert_eq!(
            relative_file_path("p%3Da/part-0.parquet").as_deref(),
            Some("p=a/part-0.parquet")
        );
        assert_eq!(relative_file_path("../x.parquet"), None);
        assert_eq!(relative_file_path("a/%2E%2E/%2E%2E/x"), None);
        assert_eq!(relative_file_path("/etc/passwd"), None);
        assert_eq!(relative_file_path("s3://other/x"), None);
    }
}
