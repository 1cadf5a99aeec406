//! Recipients and their bearer tokens.
//!
//! Per-recipient tokens are stored as SHA-256 hashes: the file never holds a usable token, and a token
//! is looked up by the hash of what a request presents. Tokens are 256-bit random values, so a fast
//! hash is enough (there is nothing to brute-force).

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::config::Authorization;

/// The form of a token hash in `share.yaml`: `sha256:` and 64 lowercase hex digits.
pub fn hash_token(token: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(token.as_bytes())))
}

/// A string that never shows itself in `Debug` output.
pub(crate) struct Secret(pub(crate) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Grant {
    AllShares,
    Shares(Vec<String>),
}

#[derive(Debug)]
pub(crate) struct TokenEntry {
    pub(crate) name: String,
    pub(crate) grant: Grant,
    pub(crate) expires_at: Option<DateTime<Utc>>,
}

/// Who is asking, once their token was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The token's name in `share.yaml` (`bearerToken` for the global token, `anonymous` on an open server).
    pub name: String,
    pub(crate) grant: Grant,
}

impl Recipient {
    /// Whether this recipient may read the named share.
    pub fn can_read(&self, share: &str) -> bool {
        match &self.grant {
            Grant::AllShares => true,
            Grant::Shares(names) => names.iter().any(|n| n.eq_ignore_ascii_case(share)),
        }
    }
}

/// Why a request's token was refused. Messages never include the token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// The request had no `Authorization: Bearer` header.
    #[error("a bearer token is required")]
    Missing,
    /// No token matches.
    #[error("the bearer token is not valid")]
    Invalid,
    /// The token matched but has expired.
    #[error("the bearer token expired at {0}; ask the data provider for a new profile")]
    Expired(DateTime<Utc>),
}

pub(crate) fn authenticate(
    auth: Option<&Authorization>,
    token: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Recipient, AuthError> {
    let Some(auth) = auth else {
        return Ok(Recipient {
            name: "anonymous".into(),
            grant: Grant::AllShares,
        });
    };
    let token = token.ok_or(AuthError::Missing)?;
    if let Some(global) = &auth.bearer_token
        && constant_time_eq(global.0.as_bytes(), token.as_bytes())
    {
        return Ok(Recipient {
            name: "bearerToken".into(),
            grant: Grant::AllShares,
        });
    }
    let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let entry = lookup(&auth.tokens, &hash).ok_or(AuthError::Invalid)?;
    if let Some(expires_at) = entry.expires_at
        && expires_at <= now
    {
        return Err(AuthError::Expired(expires_at));
    }
    Ok(Recipient {
        name: entry.name.clone(),
        grant: entry.grant.clone(),
    })
}

fn lookup<'a>(
    tokens: &'a HashMap<[u8; 32], TokenEntry>,
    hash: &[u8; 32],
) -> Option<&'a TokenEntry> {
    // The key is already a cryptographic hash of the secret, so the map lookup leaks nothing useful.
    tokens.get(hash)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ShareConfig;

    fn config(now_plus_hours: i64) -> (ShareConfig, DateTime<Utc>) {
        let now = Utc::now();
        let expiry = (now + chrono::Duration::hours(now_plus_hours)).to_rfc3339();
        let yaml = format!(
            "version: 1\nshares:\n- name: s1\n- name: s2\nauthorization:\n  bearerToken: global\n  tokens:\n  - name: alice\n    tokenHash: {}\n    shares: [S1]\n    expiresAt: {expiry}\n",
            hash_token("alice-token")
        );
        (ShareConfig::from_yaml(&yaml).unwrap(), now)
    }

    #[test]
    fn tokens_grant_only_their_shares() {
        let (config, now) = config(1);
        let alice = config.authenticate(Some("alice-token"), now).unwrap();
        assert_eq!(alice.name, "alice");
        assert!(alice.can_read("s1"));
        assert!(!alice.can_read("s2"));
        let global = config.authenticate(Some("global"), now).unwrap();
        assert!(global.can_read("s2"));
    }

    #[test]
    fn missing_wrong_and_expired_tokens_are_refused() {
        let (config, now) = config(-1);
        assert_eq!(config.authenticate(None, now), Err(AuthError::Missing));
        assert_eq!(
            config.authenticate(Some("nope"), now),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            config.authenticate(Some("globa"), now),
            Err(AuthError::Invalid)
        );
        assert!(matches!(
            config.authenticate(Some("alice-token"), now),
            Err(AuthError::Expired(_))
        ));
    }

    #[test]
    fn hash_has_the_documented_form() {
        let h = hash_token("x");
        assert!(h.starts_with("sha256:"));
        assert_eq!(h.len(), 7 + 64);
    }
}
