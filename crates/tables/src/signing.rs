//! Signed, expiring URLs for files on local disk.
//!
//! A URL names a file by an opaque id (base64url of the table location and the file's path inside it)
//! and carries its expiry, the recipient it was handed to (the token's name, so the server's access log
//! can say who downloaded it) and an HMAC-SHA256 over all three. The signature sits in an
//! `X-Amz-Signature` query key because the Delta Sharing Python client's delta-format reader downloads
//! only URLs that carry one.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;

/// Query key of the expiry (epoch seconds).
pub const EXPIRES_KEY: &str = "X-Amz-Expires";
/// Query key of the signature (hex).
pub const SIGNATURE_KEY: &str = "X-Amz-Signature";
/// Query key of the recipient a URL was signed for (the token's name in `share.yaml`, percent-encoded),
/// covered by the signature. URLs signed before it existed have none.
pub const RECIPIENT_KEY: &str = "recipient";

/// Everything but unreserved characters is percent-encoded in the recipient's name.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Signs and verifies local file URLs.
#[derive(Clone)]
pub struct LocalSigner {
    key: [u8; 32],
    files_url: String,
}

impl std::fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSigner")
            .field("key", &"***")
            .field("files_url", &self.files_url)
            .finish()
    }
}

/// Why a file URL was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    /// Signature missing or wrong, or the id is malformed.
    #[error("the file URL's signature is not valid")]
    Invalid,
    /// The URL's lifetime is over.
    #[error("the file URL has expired; query the table again for fresh URLs")]
    Expired,
}

/// What a verified URL points at.
#[derive(Debug, PartialEq, Eq)]
pub struct SignedFile {
    /// The table location URL as written in `share.yaml`.
    pub location: String,
    /// The file's path relative to the table root.
    pub relative: String,
    /// Who the URL was handed to (the token's name), when it names one.
    pub recipient: Option<String>,
}

impl LocalSigner {
    /// A signer with a 32-byte secret; `files_url` is the public URL of the file route, such as
    /// `http://127.0.0.1:8080/delta-sharing/files`.
    pub fn new(key: [u8; 32], files_url: impl Into<String>) -> Self {
        LocalSigner {
            key,
            files_url: files_url.into().trim_end_matches('/').to_string(),
        }
    }

    fn mac(&self, id: &str, expires: u64, recipient: Option<&str>) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length works");
        mac.update(id.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        // Absent, the message is what it was before recipients were signed (expires is digits only, so
        // the two forms never collide).
        if let Some(recipient) = recipient {
            mac.update(b"\n");
            mac.update(recipient.as_bytes());
        }
        mac
    }

    /// The URL of `relative` inside the table at `location` for `recipient` (the token's name), valid
    /// until `expires_at`.
    pub fn sign(
        &self,
        location: &str,
        relative: &str,
        recipient: Option<&str>,
        expires_at: SystemTime,
    ) -> String {
        let id = URL_SAFE_NO_PAD.encode(format!("{location}\n{relative}"));
        let expires = expires_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let signature = hex::encode(self.mac(&id, expires, recipient).finalize().into_bytes());
        let mut url = format!(
            "{}/{id}?{EXPIRES_KEY}={expires}&{SIGNATURE_KEY}={signature}",
            self.files_url
        );
        if let Some(recipient) = recipient {
            url.push_str(&format!(
                "&{RECIPIENT_KEY}={}",
                utf8_percent_encode(recipient, QUERY_VALUE)
            ));
        }
        url
    }

    /// Checks the id, expiry, recipient (already percent-decoded) and signature of a file request.
    pub fn verify(
        &self,
        id: &str,
        expires: Option<&str>,
        signature: Option<&str>,
        recipient: Option<&str>,
        now: SystemTime,
    ) -> Result<SignedFile, SignatureError> {
        let expires: u64 = expires
            .and_then(|e| e.parse().ok())
            .ok_or(SignatureError::Invalid)?;
        let signature = signature
            .and_then(|s| hex::decode(s).ok())
            .ok_or(SignatureError::Invalid)?;
        self.mac(id, expires, recipient)
            .verify_slice(&signature)
            .map_err(|_| SignatureError::Invalid)?;
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(u64::MAX);
        if now >= expires {
            return Err(SignatureError::Expired);
        }
        let decoded = URL_SAFE_NO_PAD
            .decode(id)
            .map_err(|_| SignatureError::Invalid)?;
        let text = String::from_utf8(decoded).map_err(|_| SignatureError::Invalid)?;
        let (location, relative) = text.split_once('\n').ok_or(SignatureError::Invalid)?;
        Ok(SignedFile {
            location: location.to_string(),
            relative: relative.to_string(),
            recipient: recipient.map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parts(url: &str) -> (String, String, String) {
        let (id, expires, signature, _) = parts_with_recipient(url);
        (id, expires, signature)
    }

    fn parts_with_recipient(url: &str) -> (String, String, String, Option<String>) {
        let (path, query) = url.split_once('?').unwrap();
        let id = path.rsplit('/').next().unwrap().to_string();
        let mut expires = String::new();
        let mut signature = String::new();
        let mut recipient = None;
        for pair in query.split('&') {
            let (k, v) = pair.split_once('=').unwrap();
            if k == EXPIRES_KEY {
                expires = v.into()
            } else if k == SIGNATURE_KEY {
                signature = v.into()
            } else if k == RECIPIENT_KEY {
                recipient = Some(
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8()
                        .unwrap()
                        .to_string(),
                )
            }
        }
        (id, expires, signature, recipient)
    }

    #[test]
    fn round_trip_and_tampering() {
        let signer = LocalSigner::new([7; 32], "http://h/delta-sharing/files/");
        let now = SystemTime::now();
        let url = signer.sign(
            "file:///t",
            "p=1/a.parquet",
            None,
            now + Duration::from_secs(60),
        );
        assert!(url.starts_with("http://h/delta-sharing/files/"));
        assert!(!url.contains("p=1"), "the layout stays opaque: {url}");
        let (id, expires, signature) = parts(&url);
        let file = signer
            .verify(&id, Some(&expires), Some(&signature), None, now)
            .unwrap();
        assert_eq!(
            file,
            SignedFile {
                location: "file:///t".into(),
                relative: "p=1/a.parquet".into(),
                recipient: None,
            }
        );

        let later = (expires.parse::<u64>().unwrap() + 1).to_string();
        assert_eq!(
            signer.verify(&id, Some(&later), Some(&signature), None, now),
            Err(SignatureError::Invalid)
        );
        let other_id = URL_SAFE_NO_PAD.encode("file:///t\n../../etc/passwd");
        assert_eq!(
            signer.verify(&other_id, Some(&expires), Some(&signature), None, now),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify(&id, Some(&expires), None, None, now),
            Err(SignatureError::Invalid)
        );
        let other_key = LocalSigner::new([8; 32], "http://h/delta-sharing/files");
        assert_eq!(
            other_key.verify(&id, Some(&expires), Some(&signature), None, now),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify(
                &id,
                Some(&expires),
                Some(&signature),
                None,
                now + Duration::from_secs(61)
            ),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn the_recipient_is_signed() {
        let signer = LocalSigner::new([7; 32], "http://h/delta-sharing/files");
        let now = SystemTime::now();
        let url = signer.sign(
            "file:///t",
            "a.parquet",
            Some("ana maría & co"),
            now + Duration::from_secs(60),
        );
        assert!(
            url.ends_with("&recipient=ana%20mar%C3%ADa%20%26%20co"),
            "{url}"
        );
        let (id, expires, signature, recipient) = parts_with_recipient(&url);
        let file = signer
            .verify(
                &id,
                Some(&expires),
                Some(&signature),
                recipient.as_deref(),
                now,
            )
            .unwrap();
        assert_eq!(file.recipient.as_deref(), Some("ana maría & co"));
        // Another name, or none, breaks the signature: a URL cannot be passed off as someone else's.
        for other in [Some("bob"), Some(""), None] {
            assert_eq!(
                signer.verify(&id, Some(&expires), Some(&signature), other, now),
                Err(SignatureError::Invalid),
                "{other:?}"
            );
        }
        // A URL without a recipient does not verify with one added.
        let plain = signer.sign(
            "file:///t",
            "a.parquet",
            None,
            now + Duration::from_secs(60),
        );
        let (id, expires, signature) = parts(&plain);
        assert_eq!(
            signer.verify(&id, Some(&expires), Some(&signature), Some("alice"), now),
            Err(SignatureError::Invalid)
        );
    }
}
