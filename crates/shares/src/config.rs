//! Parsing and validating `share.yaml`.
//!
//! Two layers: `Raw*` structs mirror the file (serde, unknown keys refused), and [`ShareConfig`] is the
//! validated, typed result. Everything a server needs to answer a request is decided here, once per load.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::{Grant, Secret, TokenEntry};
use crate::{LookupError, Page, PageRequest, Recipient};

/// The newest `version` of the file format this crate understands (the reference server's too).
pub const CURRENT_VERSION: u32 = 1;

/// Why a `share.yaml` could not be loaded. The message names the key or item at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not YAML, an unknown key, or a value of the wrong type.
    #[error("share.yaml: {0}")]
    Syntax(String),
    /// Well-formed YAML whose content is not acceptable.
    #[error("share.yaml: {field}: {reason}")]
    Invalid {
        /// Where: `shares[0].schemas[1].tables[2].location`, say.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Parser messages quote the values they stumble on (`invalid type: string "..."`); a token written in
/// the wrong place must not reach a log or `/healthz`, so quoted values are left out.
fn redact_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find("string \"") {
        out.push_str(&rest[..start]);
        out.push_str("a string");
        let after = &rest[start + "string \"".len()..];
        rest = after.find('"').map_or("", |end| &after[end + 1..]);
    }
    out.push_str(rest);
    out
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The file as written, reference keys first. Unknown keys are refused so a typo never turns into an
/// open server (the reference server ignores them).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawConfig {
    /// Format version; required, 1.
    pub version: Option<u32>,
    /// The writer's share generation (extension): the backend stamps the store's share generation here,
    /// so a reader can tell which of two files is newer and monitoring can see a server lag behind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// Shares.
    #[serde(default)]
    pub shares: Vec<RawShare>,
    /// Authorization; absent means no authentication, as in the reference server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<RawAuthorization>,
    /// TLS settings; refused by this server (terminate TLS in front of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl: Option<serde_yaml::Value>,
    /// Default listen host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Default listen port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// URL prefix of every API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Lifetime of signed file URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_signed_url_timeout_seconds: Option<u64>,
    /// Accepted for compatibility (temporary table credentials are not offered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_credential_validity_seconds: Option<u64>,
    /// How many tables keep their snapshots cached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_table_cache_size: Option<usize>,
    /// Skip looking for new table versions once a table is loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staleness_acceptable: Option<bool>,
    /// Accepted for compatibility; SQL `predicateHints` are never evaluated (they are optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_predicate_hints: Option<bool>,
    /// Use `jsonPredicateHints` to skip files by partition values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_json_predicate_hints: Option<bool>,
    /// Use `jsonPredicateHints` to skip files by file statistics too.
    #[serde(
        default,
        rename = "evaluateJsonPredicateHintsV2",
        skip_serializing_if = "Option::is_none"
    )]
    pub evaluate_json_predicate_hints_v2: Option<bool>,
    /// Request timeout; 0 for none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout_seconds: Option<u64>,
    /// Cap on `maxFiles` of a paged query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_table_page_size_limit: Option<u32>,
    /// Accepted for compatibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_table_page_token_ttl_ms: Option<u64>,
    /// Accepted for compatibility.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_ttl_ms: Option<u64>,
    /// How long a server keeps serving this config after refusing a newer file (extension; default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_config_grace_seconds: Option<u64>,
}

/// One `shares[]` item.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawShare {
    /// Share name.
    pub name: Option<String>,
    /// Schemas.
    #[serde(default)]
    pub schemas: Vec<RawSchema>,
}

/// One `schemas[]` item.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawSchema {
    /// Schema name.
    pub name: Option<String>,
    /// Tables.
    #[serde(default)]
    pub tables: Vec<RawTable>,
}

/// One `tables[]` item.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawTable {
    /// Table name.
    pub name: Option<String>,
    /// `file:///abs/path`, `s3://bucket/prefix` or `s3a://bucket/prefix`.
    pub location: Option<String>,
    /// Stable id returned to clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Allows time travel and the change data feed.
    #[serde(default, alias = "cdfEnabled", skip_serializing_if = "Option::is_none")]
    pub history_shared: Option<bool>,
    /// Earliest version recipients may query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_version: Option<i64>,
}

/// `authorization`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawAuthorization {
    /// One token for every share (the reference server's only kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<String>,
    /// Per-recipient tokens (extension).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<RawToken>,
}

/// One `authorization.tokens[]` item.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawToken {
    /// Who holds the token (for logs; never the token itself).
    pub name: Option<String>,
    /// `sha256:<64 hex digits>` of the token, as made by [`crate::hash_token`].
    pub token_hash: Option<String>,
    /// Shares this token may read.
    #[serde(default)]
    pub shares: Vec<String>,
    /// RFC 3339 instant after which the token is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// Server-wide settings from the file, with the reference server's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Listen host (reference default `localhost`).
    pub host: String,
    /// Listen port (reference default 80).
    pub port: u16,
    /// URL prefix, starting with `/` and without a trailing one (default `/delta-sharing`).
    pub endpoint: String,
    /// Lifetime of signed file URLs (default one hour).
    pub pre_signed_url_timeout: Duration,
    /// How many tables keep their snapshots cached (default 10).
    pub delta_table_cache_size: usize,
    /// Do not look for new versions of a loaded table (default false).
    pub staleness_acceptable: bool,
    /// Skip files by partition values (default true).
    pub evaluate_json_predicate_hints: bool,
    /// Skip files by statistics too (default true).
    pub evaluate_json_predicate_hints_v2: bool,
    /// Request timeout (default 30 s; `None` for none).
    pub request_timeout: Option<Duration>,
    /// How long this config keeps serving after a newer file was refused (default 10 s; 0 refuses at once).
    pub stale_config_grace: Duration,
}

/// Default of `staleConfigGraceSeconds`.
const DEFAULT_STALE_CONFIG_GRACE: Duration = Duration::from_secs(10);

/// A validated `share.yaml`.
#[derive(Debug)]
pub struct ShareConfig {
    /// Shares in file order.
    pub shares: Vec<Share>,
    /// Server-wide settings.
    pub settings: Settings,
    pub(crate) auth: Option<Authorization>,
    generation: Option<u64>,
}

/// A share.
#[derive(Debug)]
pub struct Share {
    /// Name as written.
    pub name: String,
    /// Schemas in file order.
    pub schemas: Vec<Schema>,
}

/// A schema of a share.
#[derive(Debug)]
pub struct Schema {
    /// Name as written.
    pub name: String,
    /// Share name as written.
    pub share: String,
    /// Tables in file order.
    pub tables: Vec<Table>,
}

/// A shared table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Name as written.
    pub name: String,
    /// Schema name as written.
    pub schema: String,
    /// Share name as written.
    pub share: String,
    /// Storage location (`file://`, `s3://`, `s3a://`).
    pub location: String,
    /// Id from the file, if any.
    pub id: Option<String>,
    /// Whether time travel and the change data feed are allowed.
    pub history_shared: bool,
    /// Earliest version recipients may query.
    pub start_version: i64,
}

#[derive(Debug)]
pub(crate) struct Authorization {
    pub(crate) bearer_token: Option<Secret>,
    pub(crate) tokens: HashMap<[u8; 32], TokenEntry>,
}

impl ShareConfig {
    /// Parses and validates the text of a `share.yaml`.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = serde_yaml::from_str(text)
            .map_err(|e| ConfigError::Syntax(redact_values(&e.to_string())))?;
        Self::try_from(raw)
    }

    /// Authenticates the bearer token of a request (`None` when the request had none).
    pub fn authenticate(
        &self,
        token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Recipient, crate::AuthError> {
        crate::auth::authenticate(self.auth.as_ref(), token, now)
    }

    /// The writer's share generation (`generation`), if the file carries one.
    pub fn generation(&self) -> Option<u64> {
        self.generation
    }

    /// Whether the file asks for no authentication at all (no `authorization` section).
    pub fn is_open(&self) -> bool {
        self.auth.is_none()
    }

    /// Every table location in the file, for deciding whether a signed file URL still points into a
    /// shared table.
    pub fn locations(&self) -> HashSet<&str> {
        self.tables().map(|t| t.location.as_str()).collect()
    }

    fn tables(&self) -> impl Iterator<Item = &Table> {
        self.shares
            .iter()
            .flat_map(|s| &s.schemas)
            .flat_map(|s| &s.tables)
    }

    /// The table at `location` that the token named `recipient` reads: the first such table in a share it
    /// may see, else the first at that location (a name no longer in the file, or a URL signed before
    /// URLs named one). For attributing a file download; `None` once no table is at `location`.
    pub fn table_at(&self, location: &str, recipient: &str) -> Option<&Table> {
        let grant = match &self.auth {
            None => Some(crate::auth::Grant::AllShares),
            Some(auth) if recipient == "bearerToken" && auth.bearer_token.is_some() => {
                Some(crate::auth::Grant::AllShares)
            }
            Some(auth) => auth
                .tokens
                .values()
                .find(|entry| entry.name == recipient)
                .map(|entry| entry.grant.clone()),
        };
        let mut at = self.tables().filter(|t| t.location == location).peekable();
        let first = at.peek().copied();
        let readable = grant.and_then(|grant| {
            let reader = Recipient {
                name: recipient.to_string(),
                grant,
            };
            at.find(|t| reader.can_read(&t.share))
        });
        readable.or(first)
    }

    /// The share, if the recipient may see it. Names match case-insensitively.
    pub fn share(&self, recipient: &Recipient, name: &str) -> Result<&Share, LookupError> {
        self.shares
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name) && recipient.can_read(&s.name))
            .ok_or_else(|| LookupError::Share(name.to_string()))
    }

    /// The schema of a share the recipient may see.
    pub fn schema(
        &self,
        recipient: &Recipient,
        share: &str,
        schema: &str,
    ) -> Result<&Schema, LookupError> {
        self.share(recipient, share)?
            .schemas
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(schema))
            .ok_or_else(|| LookupError::Schema {
                share: share.into(),
                schema: schema.into(),
            })
    }

    /// The table, if the recipient may see its share.
    pub fn table(
        &self,
        recipient: &Recipient,
        share: &str,
        schema: &str,
        table: &str,
    ) -> Result<&Table, LookupError> {
        self.schema(recipient, share, schema)?
            .tables
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(table))
            .ok_or_else(|| LookupError::Table {
                share: share.into(),
                schema: schema.into(),
                table: table.into(),
            })
    }

    /// One page of the shares the recipient may see.
    pub fn list_shares(
        &self,
        recipient: &Recipient,
        page: &PageRequest,
    ) -> Result<Page<&Share>, LookupError> {
        let visible: Vec<&Share> = self
            .shares
            .iter()
            .filter(|s| recipient.can_read(&s.name))
            .collect();
        Ok(page.slice(visible, "", "")?)
    }

    /// One page of the schemas of a share.
    pub fn list_schemas(
        &self,
        recipient: &Recipient,
        share: &str,
        page: &PageRequest,
    ) -> Result<Page<&Schema>, LookupError> {
        let share = self.share(recipient, share)?;
        Ok(page.slice(share.schemas.iter().collect(), &share.name, "")?)
    }

    /// One page of the tables of a schema.
    pub fn list_tables(
        &self,
        recipient: &Recipient,
        share: &str,
        schema: &str,
        page: &PageRequest,
    ) -> Result<Page<&Table>, LookupError> {
        let schema = self.schema(recipient, share, schema)?;
        Ok(page.slice(schema.tables.iter().collect(), &schema.share, &schema.name)?)
    }

    /// One page of every table of a share.
    pub fn list_all_tables(
        &self,
        recipient: &Recipient,
        share: &str,
        page: &PageRequest,
    ) -> Result<Page<&Table>, LookupError> {
        let share = self.share(recipient, share)?;
        let tables = share.schemas.iter().flat_map(|s| &s.tables).collect();
        Ok(page.slice(tables, &share.name, "*")?)
    }
}

impl TryFrom<RawConfig> for ShareConfig {
    type Error = ConfigError;

    fn try_from(raw: RawConfig) -> Result<Self, ConfigError> {
        match raw.version {
            None => return Err(invalid("version", "must be provided")),
            Some(0) => return Err(invalid("version", "must be greater than 0")),
            Some(v) if v > CURRENT_VERSION => {
                return Err(invalid(
                    "version",
                    format!("{v} is too new; this server supports {CURRENT_VERSION}"),
                ));
            }
            Some(_) => {}
        }
        if raw.ssl.is_some() {
            return Err(invalid(
                "ssl",
                "TLS is not served by this server; terminate TLS in a proxy in front of it and remove 'ssl'",
            ));
        }
        let shares = validate_shares(raw.shares)?;
        let auth = raw.authorization.map(validate_authorization).transpose()?;
        if let Some(auth) = &auth {
            for entry in auth.tokens.values() {
                if let Grant::Shares(names) = &entry.grant {
                    for name in names {
                        if !shares.iter().any(|s| s.name.eq_ignore_ascii_case(name)) {
                            // A grant to a share that does not exist is harmless, but almost always a typo.
                            return Err(invalid(
                                format!("authorization.tokens[{}].shares", entry.name),
                                format!("share '{name}' is not defined in 'shares'"),
                            ));
                        }
                    }
                }
            }
        }
        let endpoint = raw.endpoint.unwrap_or_else(|| "/delta-sharing".into());
        let endpoint = format!("/{}", endpoint.trim_matches('/'));
        if endpoint.contains(['?', '#', ' ']) {
            return Err(invalid(
                "endpoint",
                "must be a URL path such as /delta-sharing",
            ));
        }
        let settings = Settings {
            host: raw.host.unwrap_or_else(|| "localhost".into()),
            port: raw.port.unwrap_or(80),
            endpoint: if endpoint == "/" {
                String::new()
            } else {
                endpoint
            },
            pre_signed_url_timeout: Duration::from_secs(
                raw.pre_signed_url_timeout_seconds.unwrap_or(3600).max(1),
            ),
            delta_table_cache_size: raw.delta_table_cache_size.unwrap_or(10).max(1),
            staleness_acceptable: raw.staleness_acceptable.unwrap_or(false),
            evaluate_json_predicate_hints: raw.evaluate_json_predicate_hints.unwrap_or(true),
            evaluate_json_predicate_hints_v2: raw.evaluate_json_predicate_hints_v2.unwrap_or(true),
            request_timeout: match raw.request_timeout_seconds.unwrap_or(30) {
                0 => None,
                s => Some(Duration::from_secs(s)),
            },
            stale_config_grace: raw
                .stale_config_grace_seconds
                .map_or(DEFAULT_STALE_CONFIG_GRACE, Duration::from_secs),
        };
        Ok(ShareConfig {
            shares,
            settings,
            auth,
            generation: raw.generation,
        })
    }
}

fn required(value: Option<String>, field: &str) -> Result<String, ConfigError> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(invalid(field, "must be provided")),
    }
}

fn check_name(name: &str, field: &str, dots_allowed: bool) -> Result<(), ConfigError> {
    if name.contains(['/', ' ', '\t', '\n', '?', '#', '%']) || (!dots_allowed && name.contains('.'))
    {
        return Err(invalid(
            field,
            format!(
                "'{name}' is not a valid name (no spaces, '/', '?', '#', '%'{})",
                if dots_allowed { "" } else { " or '.'" }
            ),
        ));
    }
    Ok(())
}

fn check_unique<'a>(names: impl Iterator<Item = &'a str>, field: &str) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for name in names {
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(invalid(
                field,
                format!("name '{name}' appears more than once"),
            ));
        }
    }
    Ok(())
}

fn validate_shares(raw: Vec<RawShare>) -> Result<Vec<Share>, ConfigError> {
    let mut shares = Vec::with_capacity(raw.len());
    for (i, raw_share) in raw.into_iter().enumerate() {
        let at = format!("shares[{i}]");
        let share_name = required(raw_share.name, &format!("{at}.name"))?;
        check_name(&share_name, &format!("{at}.name"), true)?;
        let mut schemas = Vec::with_capacity(raw_share.schemas.len());
        for (j, raw_schema) in raw_share.schemas.into_iter().enumerate() {
            let at = format!("{at}.schemas[{j}]");
            let schema_name = required(raw_schema.name, &format!("{at}.name"))?;
            check_name(&schema_name, &format!("{at}.name"), false)?;
            let mut tables = Vec::with_capacity(raw_schema.tables.len());
            for (k, raw_table) in raw_schema.tables.into_iter().enumerate() {
                let at = format!("{at}.tables[{k}]");
                let name = required(raw_table.name, &format!("{at}.name"))?;
                check_name(&name, &format!("{at}.name"), false)?;
                let location = required(raw_table.location, &format!("{at}.location"))?;
                check_location(&location, &format!("{at}.location"))?;
                let start_version = raw_table.start_version.unwrap_or(0);
                if start_version < 0 {
                    return Err(invalid(
                        format!("{at}.startVersion"),
                        "must not be negative",
                    ));
                }
                tables.push(Table {
                    name,
                    schema: schema_name.clone(),
                    share: share_name.clone(),
                    location: location.trim_end_matches('/').to_string(),
                    id: raw_table.id.filter(|id| !id.is_empty()),
                    history_shared: raw_table.history_shared.unwrap_or(false),
                    start_version,
                });
            }
            check_unique(
                tables.iter().map(|t| t.name.as_str()),
                &format!("{at}.tables"),
            )?;
            schemas.push(Schema {
                name: schema_name,
                share: share_name.clone(),
                tables,
            });
        }
        check_unique(
            schemas.iter().map(|s| s.name.as_str()),
            &format!("{at}.schemas"),
        )?;
        shares.push(Share {
            name: share_name,
            schemas,
        });
    }
    check_unique(shares.iter().map(|s| s.name.as_str()), "shares")?;
    Ok(shares)
}

fn check_location(location: &str, field: &str) -> Result<(), ConfigError> {
    let lower = location.to_ascii_lowercase();
    if let Some(path) = lower.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(invalid(
                field,
                format!("'{location}' must be an absolute file:/// URL"),
            ));
        }
        if location.split('/').any(|part| part == "..") {
            return Err(invalid(
                field,
                format!("'{location}' must not contain '..'"),
            ));
        }
        return Ok(());
    }
    for scheme in ["s3://", "s3a://"] {
        if let Some(rest) = lower.strip_prefix(scheme) {
            if rest.split('/').next().unwrap_or("").is_empty() {
                return Err(invalid(field, format!("'{location}' has no bucket")));
            }
            return Ok(());
        }
    }
    Err(invalid(
        field,
        format!(
            "'{location}' is not supported; use file:///path, s3://bucket/path or s3a://bucket/path"
        ),
    ))
}

fn validate_authorization(raw: RawAuthorization) -> Result<Authorization, ConfigError> {
    let bearer_token = match raw.bearer_token {
        Some(t) if t.is_empty() => {
            return Err(invalid("authorization.bearerToken", "must not be empty"));
        }
        other => other.map(Secret),
    };
    if bearer_token.is_none() && raw.tokens.is_empty() {
        return Err(invalid(
            "authorization",
            "names no bearerToken and no tokens, so nobody could read anything; remove the section for an open server",
        ));
    }
    let mut tokens = HashMap::new();
    let mut names = HashSet::new();
    for (i, raw_token) in raw.tokens.into_iter().enumerate() {
        let at = format!("authorization.tokens[{i}]");
        let name = required(raw_token.name, &format!("{at}.name"))?;
        if !names.insert(name.clone()) {
            return Err(invalid(
                format!("{at}.name"),
                format!("'{name}' appears more than once"),
            ));
        }
        let hash_text = required(raw_token.token_hash, &format!("{at}.tokenHash"))?;
        let hash = parse_hash(&hash_text).ok_or_else(|| {
            invalid(
                format!("{at}.tokenHash"),
                "must be 'sha256:' followed by 64 hex digits",
            )
        })?;
        if raw_token.shares.is_empty() {
            return Err(invalid(
                format!("{at}.shares"),
                "must list at least one share",
            ));
        }
        let expires_at = raw_token
            .expires_at
            .map(|text| {
                DateTime::parse_from_rfc3339(&text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| {
                        invalid(
                            format!("{at}.expiresAt"),
                            format!("'{text}' is not an RFC 3339 time: {e}"),
                        )
                    })
            })
            .transpose()?;
        let entry = TokenEntry {
            name,
            grant: Grant::Shares(raw_token.shares),
            expires_at,
        };
        if tokens.insert(hash, entry).is_some() {
            return Err(invalid(
                format!("{at}.tokenHash"),
                "the same token appears twice",
            ));
        }
    }
    Ok(Authorization {
        bearer_token,
        tokens,
    })
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let hex_digits = text.strip_prefix("sha256:")?;
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_digits, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash_token;

    fn table_yaml(extra: &str) -> String {
        format!(
            "version: 1\nshares:\n- name: s1\n  schemas:\n  - name: default\n    tables:\n    - name: t\n      location: file:///data/t\n{extra}"
        )
    }

    #[test]
    fn a_file_is_attributed_to_the_table_its_recipient_reads() {
        let yaml = format!(
            "version: 1\nshares:\n- name: a\n  schemas:\n  - name: d\n    tables:\n    - name: t\n      location: file:///data/t\n- name: b\n  schemas:\n  - name: d\n    tables:\n    - name: u\n      location: file:///data/t\nauthorization:\n  bearerToken: global\n  tokens:\n  - name: bob\n    tokenHash: {}\n    shares: [b]\n",
            hash_token("bob-token")
        );
        let config = ShareConfig::from_yaml(&yaml).unwrap();
        let at = |recipient| {
            config
                .table_at("file:///data/t", recipient)
                .map(|t| t.share.as_str())
        };
        assert_eq!(at("bob"), Some("b"));
        assert_eq!(at("bearerToken"), Some("a"));
        assert_eq!(
            at("gone"),
            Some("a"),
            "a name no longer in the file: the first table there"
        );
        assert_eq!(config.table_at("file:///data/other", "bob"), None);
    }

    #[test]
    fn reference_defaults_apply() {
        let config = ShareConfig::from_yaml(&table_yaml("")).unwrap();
        let settings = &config.settings;
        assert_eq!(settings.endpoint, "/delta-sharing");
        assert_eq!(settings.port, 80);
        assert_eq!(settings.host, "localhost");
        assert_eq!(settings.pre_signed_url_timeout, Duration::from_secs(3600));
        assert_eq!(settings.request_timeout, Some(Duration::from_secs(30)));
        assert!(config.is_open());
        let t = &config.shares[0].schemas[0].tables[0];
        assert!(!t.history_shared);
        assert_eq!(t.start_version, 0);
    }

    #[test]
    fn generation_and_grace_are_read_with_their_defaults() {
        let config = ShareConfig::from_yaml(&table_yaml("")).unwrap();
        assert_eq!(config.generation(), None);
        assert_eq!(config.settings.stale_config_grace, Duration::from_secs(10));
        let config = ShareConfig::from_yaml(&table_yaml(
            "generation: 18446744073709551615\nstaleConfigGraceSeconds: 0\n",
        ))
        .unwrap();
        assert_eq!(config.generation(), Some(u64::MAX));
        assert_eq!(config.settings.stale_config_grace, Duration::ZERO);
        for (bad, key) in [
            ("generation: -1\n", "generation"),
            ("generation: many\n", "generation"),
            ("staleConfigGraceSeconds: -5\n", "staleConfigGraceSeconds"),
        ] {
            let err = ShareConfig::from_yaml(&table_yaml(bad))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{bad:?} gave {err}");
        }
    }

    #[test]
    fn cdf_enabled_is_an_alias_of_history_shared() {
        let yaml = table_yaml("").replace(
            "location: file:///data/t",
            "location: file:///data/t\n      cdfEnabled: true",
        );
        let config = ShareConfig::from_yaml(&yaml).unwrap();
        assert!(config.shares[0].schemas[0].tables[0].history_shared);
    }

    #[test]
    fn every_reference_key_is_accepted() {
        let yaml = table_yaml(
            "authorization:\n  bearerToken: abc\nhost: 0.0.0.0\nport: 8080\nendpoint: /ds/\npreSignedUrlTimeoutSeconds: 60\n\
             temporaryCredentialValiditySeconds: 60\ndeltaTableCacheSize: 3\nstalenessAcceptable: true\nevaluatePredicateHints: true\n\
             evaluateJsonPredicateHints: false\nevaluateJsonPredicateHintsV2: false\nrequestTimeoutSeconds: 0\nqueryTablePageSizeLimit: 5\n\
             queryTablePageTokenTtlMs: 5\nrefreshTokenTtlMs: 5\n",
        );
        let config = ShareConfig::from_yaml(&yaml).unwrap();
        assert_eq!(config.settings.endpoint, "/ds");
        assert_eq!(config.settings.port, 8080);
        assert_eq!(config.settings.request_timeout, None);
        assert!(config.settings.staleness_acceptable);
        assert!(!config.is_open());
    }

    #[test]
    fn unknown_keys_are_refused_with_their_path() {
        let yaml = table_yaml("").replace("location:", "locaton:");
        let err = ShareConfig::from_yaml(&yaml).unwrap_err().to_string();
        assert!(err.contains("locaton"), "{err}");
        assert!(err.contains("shares[0].schemas[0].tables[0]"), "{err}");
        let err = ShareConfig::from_yaml(&table_yaml("authorisation:\n  bearerToken: x\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("authorisation"), "{err}");
    }

    #[test]
    fn invalid_files_name_the_field() {
        let cases = [
            ("shares: []\n", "version"),
            ("version: 2\n", "version"),
            ("version: 1\nshares:\n- schemas: []\n", "shares[0].name"),
            ("version: 1\nshares:\n- name: a\n- name: A\n", "shares"),
            (
                "version: 1\nshares:\n- name: a\n  schemas:\n  - name: b\n    tables:\n    - name: t\n      location: gs://x/y\n",
                "shares[0].schemas[0].tables[0].location",
            ),
            (
                "version: 1\nshares:\n- name: a\n  schemas:\n  - name: b\n    tables:\n    - name: t\n      location: file://relative\n",
                "location",
            ),
            ("version: 1\nauthorization: {}\n", "authorization"),
            ("version: 1\nssl:\n  selfSigned: true\n", "ssl"),
        ];
        for (yaml, field) in cases {
            let err = ShareConfig::from_yaml(yaml).unwrap_err().to_string();
            assert!(err.contains(field), "{yaml:?} gave {err}");
        }
    }

    #[test]
    fn tokens_are_validated() {
        let good = hash_token("secret-token");
        let ok = table_yaml(&format!(
            "authorization:\n  tokens:\n  - name: alice\n    tokenHash: {good}\n    shares: [s1]\n    expiresAt: 2030-01-01T00:00:00Z\n"
        ));
        ShareConfig::from_yaml(&ok).unwrap();
        let bad_hash = ok.replace(&good, "sha256:1234");
        assert!(
            ShareConfig::from_yaml(&bad_hash)
                .unwrap_err()
                .to_string()
                .contains("tokenHash")
        );
        let bad_share = ok.replace("[s1]", "[nope]");
        assert!(
            ShareConfig::from_yaml(&bad_share)
                .unwrap_err()
                .to_string()
                .contains("nope")
        );
        let bad_time = ok.replace("2030-01-01T00:00:00Z", "tomorrow");
        assert!(
            ShareConfig::from_yaml(&bad_time)
                .unwrap_err()
                .to_string()
                .contains("expiresAt")
        );
    }

    #[test]
    fn syntax_errors_never_quote_values() {
        for yaml in [
            "version: 1\nauthorization: \"s3cret-token\"\n",
            "version: 1\nauthorization:\n  tokens: [\"s3cret-token\"]\n",
        ] {
            let err = ShareConfig::from_yaml(yaml).unwrap_err().to_string();
            assert!(!err.contains("s3cret"), "{err}");
            assert!(err.contains("authorization"), "{err}");
        }
    }

    #[test]
    fn debug_output_never_shows_the_bearer_token() {
        let config = ShareConfig::from_yaml(&table_yaml(
            "authorization:\n  bearerToken: very-secret-value\n",
        ))
        .unwrap();
        assert!(!format!("{config:?}").contains("very-secret-value"));
    }
}
