//! Where `share.yaml` lives: a file on this machine, or one object in S3 (so the backend and the sharing
//! servers need not share a file system). Both servers parse their `--share-config`/`--config` here.

use std::fmt;
use std::path::PathBuf;

/// A `share.yaml` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigLocation {
    /// A path on this machine.
    File(PathBuf),
    /// `s3://bucket/key`: one object.
    Object {
        /// The bucket.
        bucket: String,
        /// The object's key.
        key: String,
    },
}

impl ConfigLocation {
    /// `s3://bucket/key`, else a path (`file://` accepted); an `s3://` URL without a bucket or a key is
    /// refused with a sentence saying what it needs.
    pub fn parse(text: &str) -> Result<ConfigLocation, String> {
        if let Some(rest) = text.strip_prefix("s3://") {
            return match rest.split_once('/') {
                Some((bucket, key)) if !bucket.is_empty() && !key.trim_matches('/').is_empty() => {
                    Ok(ConfigLocation::Object {
                        bucket: bucket.to_string(),
                        key: key.trim_start_matches('/').to_string(),
                    })
                }
                _ => Err(format!(
                    "{text:?} names no object: write s3://bucket/key (such as s3://my-bucket/config/share.yaml)"
                )),
            };
        }
        if text.trim().is_empty() {
            return Err("the share.yaml location is empty".into());
        }
        Ok(ConfigLocation::File(PathBuf::from(
            text.strip_prefix("file://").unwrap_or(text),
        )))
    }
}

impl fmt::Display for ConfigLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigLocation::File(path) => write!(f, "{}", path.display()),
            ConfigLocation::Object { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

impl std::str::FromStr for ConfigLocation {
    type Err = String;

    fn from_str(text: &str) -> Result<ConfigLocation, String> {
        ConfigLocation::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_objects() {
        assert_eq!(
            ConfigLocation::parse("/etc/delta-bridge/share.yaml").unwrap(),
            ConfigLocation::File("/etc/delta-bridge/share.yaml".into())
        );
        assert_eq!(
            ConfigLocation::parse("file:///srv/share.yaml").unwrap(),
            ConfigLocation::File("/srv/share.yaml".into())
        );
        let object = ConfigLocation::parse("s3://bucket/config/share.yaml").unwrap();
        assert_eq!(
            object,
            ConfigLocation::Object {
                bucket: "bucket".into(),
                key: "config/share.yaml".into()
            }
        );
        assert_eq!(object.to_string(), "s3://bucket/config/share.yaml");
        for bad in ["s3://bucket", "s3://bucket/", "s3:///key", ""] {
            assert!(ConfigLocation::parse(bad).is_err(), "{bad}");
        }
    }
}
