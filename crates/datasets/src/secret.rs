//! The server secret: it signs local upload URLs and derives recipient tokens, each under its own label.
//! Replicas share it through configuration; it never appears in `Debug` output or logs.

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

/// Compares two strings in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
