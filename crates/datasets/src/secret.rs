//! The server secret: it signs local upload URLs and derives recipient tokens, each under its own label.
//! Replicas share it through configuration; it never appears in `Debug` output or logs.
//!
//! [`Secrets`] is what a secret file holds: the current secret, which signs and derives everything new,
//! and the secrets it replaced ([`Secrets::rotate`]), which keep verifying the upload URLs they signed
//! and deriving the recipient tokens of the shares made with them. Each is known by its fingerprint, an
//! HMAC of a fixed label that says nothing about the secret; the store records them, so a replica with
//! another secret refuses to start.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// 32 secret bytes.
#[derive(Clone)]
pub struct Secret([u8; 32]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    /// A secret from its bytes.
    pub fn new(bytes: [u8; 32]) -> Secret {
        Secret(bytes)
    }

    /// A secret from the contents of a secret file: its 32 bytes, or the SHA-256 of longer contents.
    pub fn from_material(material: &[u8]) -> Secret {
        match <[u8; 32]>::try_from(material) {
            Ok(bytes) => Secret(bytes),
            Err(_) => {
                use sha2::Digest;
                Secret(Sha256::digest(material).into())
            }
        }
    }

    /// A new random secret.
    pub fn generate() -> Secret {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the operating system's random source works");
        Secret(bytes)
    }

    /// The secret's bytes, to store it.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The secret's fingerprint: 16 hex digits that name it without revealing it.
    pub fn fingerprint(&self) -> String {
        hex::encode(&self.mac("fingerprint", &[])[..8])
    }

    /// HMAC-SHA256 of `parts` (joined by newlines) under `label`.
    pub fn mac(&self, label: &str, parts: &[&str]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(label.as_bytes());
        for part in parts {
            mac.update(b"\n");
            mac.update(part.as_bytes());
        }
        mac.finalize().into_bytes().into()
    }

    /// The recipient token of a share: 256 bits derived from the secret and the share's random salt.
    pub fn recipient_token(&self, dataset_id: &str, salt: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac("recipient-token", &[dataset_id, salt]))
    }

    /// The signature of a local upload URL.
    pub fn upload_signature(&self, upload_id: &str, index: i64, part: i64, expires: i64) -> String {
        hex::encode(self.mac(
            "upload",
            &[
                upload_id,
                &index.to_string(),
                &part.to_string(),
                &expires.to_string(),
            ],
        ))
    }
}

/// The first line of a secret file holding a current secret and those it replaced.
const KEYRING_HEADER: &str = "delta-bridge-secrets 1";

/// The secrets of a secret file: the current one, then those it replaced, newest first.
#[derive(Clone)]
pub struct Secrets {
    current: Secret,
    previous: Vec<Secret>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("current", &self.current.fingerprint())
            .field("previous", &self.previous.len())
            .finish()
    }
}

impl From<Secret> for Secrets {
    fn from(current: Secret) -> Self {
        Secrets {
            current,
            previous: Vec::new(),
        }
    }
}

impl Secrets {
    /// The secrets in a secret file's contents: a keyring (`delta-bridge-secrets 1`, then one secret per
    /// line, 64 hex digits, the current one first), or any other contents of 32 bytes or more as one
    /// secret (see [`Secret::from_material`]).
    pub fn parse(contents: &[u8]) -> std::result::Result<Secrets, String> {
        let text = std::str::from_utf8(contents).unwrap_or_default();
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some(KEYRING_HEADER) {
            if contents.len() < 32 {
                return Err("the secret is shorter than 32 bytes".into());
            }
            return Ok(Secret::from_material(contents).into());
        }
        let mut secrets = Vec::new();
        for (n, line) in lines.enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let bytes = hex::decode(line)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| format!("line {} is not a secret of 64 hex digits", n + 2))?;
            secrets.push(Secret::new(bytes));
        }
        let mut secrets = secrets.into_iter();
        let current = secrets
            .next()
            .ok_or_else(|| "the keyring holds no secret".to_string())?;
        Ok(Secrets {
            current,
            previous: secrets.collect(),
        })
    }

    /// The contents of a secret file holding these secrets.
    pub fn to_file(&self) -> String {
        let mut text = format!("{KEYRING_HEADER}\n");
        for secret in self.all() {
            text.push_str(&hex::encode(secret.bytes()));
            text.push('\n');
        }
        text
    }

    /// A new current secret; the one it replaces (and those before) keep verifying what they signed.
    pub fn rotate(&self) -> Secrets {
        Secrets {
            current: Secret::generate(),
            previous: self.all().cloned().collect(),
        }
    }

    /// The secret that signs and derives everything new.
    pub fn current(&self) -> &Secret {
        &self.current
    }

    /// Every secret, the current one first.
    pub fn all(&self) -> impl Iterator<Item = &Secret> {
        std::iter::once(&self.current).chain(&self.previous)
    }

    /// The secret with this fingerprint.
    pub fn find(&self, fingerprint: &str) -> Option<&Secret> {
        self.all().find(|s| s.fingerprint() == fingerprint)
    }

    /// Whether `signature` is a local upload URL's signature under any of the secrets.
    pub fn signed_upload(
        &self,
        signature: &str,
        upload_id: &str,
        index: i64,
        part: i64,
        expires: i64,
    ) -> bool {
        self.all().any(|secret| {
            same(
                &secret.upload_signature(upload_id, index, part, expires),
                signature,
            )
        })
    }
}

/// Compares two strings in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keyring_round_trips_and_a_legacy_file_is_one_secret() {
        let legacy = Secrets::parse(&[7u8; 32]).unwrap();
        assert_eq!(legacy.all().count(), 1);
        assert_eq!(legacy.current().bytes(), &[7u8; 32]);
        let rotated = legacy.rotate();
        let text = rotated.to_file();
        assert!(text.starts_with("delta-bridge-secrets 1\n"));
        let read = Secrets::parse(text.as_bytes()).unwrap();
        let fingerprints: Vec<String> = read.all().map(Secret::fingerprint).collect();
        assert_eq!(fingerprints.len(), 2);
        assert_eq!(fingerprints[1], legacy.current().fingerprint());
        assert_ne!(fingerprints[0], fingerprints[1]);
        assert!(read.find(&fingerprints[1]).is_some());
        assert!(Secrets::parse(b"short").is_err());
        assert!(Secrets::parse(b"delta-bridge-secrets 1\nzz\n").is_err());
        // Neither the secret nor its bytes reach Debug output.
        let shown = format!("{read:?}");
        assert!(!shown.contains(&hex::encode(read.current().bytes())));
    }

    #[test]
    fn urls_signed_by_a_replaced_secret_still_verify() {
        let old = Secrets::from(Secret::generate());
        let signature = old.current().upload_signature("up-1", 0, 1, 99);
        let new = old.rotate();
        assert!(new.signed_upload(&signature, "up-1", 0, 1, 99));
        assert!(!new.signed_upload(&signature, "up-1", 0, 2, 99));
        assert!(!Secrets::from(Secret::generate()).signed_upload(&signature, "up-1", 0, 1, 99));
    }
}
