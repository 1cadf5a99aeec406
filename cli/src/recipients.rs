//! `delta-bridge recipients` (list, add, revoke, rotate, link) and how reads are shown. Each parses its
//! arguments, calls one `delta_bridge_client` function and prints the result.

use std::time::Duration;

use chrono::{NaiveDate, SecondsFormat, Utc};
use clap::Subcommand;
use delta_bridge_api::{NewRecipient, ReadInfo, RecipientInfo, RecipientName, Revocation};
use delta_bridge_client::{Client, Error};

use crate::emit;
use crate::remote::print_json;

/// What to do with recipients.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Add a recipient: a colleague with their own credential (it reads what you share with them).
    Add {
        /// Your name for them, unique among your recipients.
        name: RecipientName,
        /// Their email (for you; nothing is sent to it).
        #[arg(long)]
        email: Option<String>,
        /// When their credential stops working: a duration from now (30d, 12h) or a date (2027-01-31).
        #[arg(long, value_parser = expires)]
        expires: Option<String>,
    },
    /// Revoke a recipient: everything shared with them ends and their credential stops working.
    Revoke {
        /// The recipient.
        name: RecipientName,
    },
    /// Give a recipient a new credential (send them the new snippet or an activation link).
    Rotate {
        /// The recipient.
        name: RecipientName,
        /// How long the old credential keeps working (0s: it stops at once), such as 1h or 2d.
        #[arg(long, default_value = "0s", value_parser = duration)]
        overlap: Duration,
    },
    /// Print a new one-time activation link: the page gives the recipient their profile file once.
    Link {
        /// The recipient.
        name: RecipientName,
    },
}

pub use delta_bridge_api::parse_duration as duration;

/// A time as RFC 3339: a duration from now (`sign` 1) or back from now (-1), a date (midnight UTC) or
/// an RFC 3339 time.
fn instant(text: &str, sign: i64) -> Result<String, String> {
    if let Ok(d) = duration(text) {
        let d = chrono::Duration::from_std(d).map_err(|e| e.to_string())?;
        let at = if sign > 0 {
            Utc::now() + d
        } else {
            Utc::now() - d
        };
        return Ok(at.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(format!("{date}T00:00:00Z"));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_rfc3339())
        .map_err(|_| {
            format!("{text:?} is not a duration (7d), a date (2027-01-31) or an RFC 3339 time")
        })
}

/// `--expires`: from now.
pub fn expires(text: &str) -> Result<String, String> {
    instant(text, 1)
}

/// `--since`: back from now.
pub fn since(text: &str) -> Result<String, String> {
    instant(text, -1)
}

pub async fn run(client: &Client, action: Option<Action>, json: bool) -> Result<(), Error> {
    match action {
        None => {
            let all = client.recipients().await?;
            if json {
                print_json(&all);
            } else {
                emit(&render_recipients(&all));
            }
        }
        Some(Action::Add {
            name,
            email,
            expires,
        }) => {
            let added = client
                .add_recipient(&NewRecipient {
                    name,
                    email,
                    expires_at: expires,
                })
                .await?;
            if json {
                print_json(&added);
            } else {
                emit(&format!(
                    "added {}; share datasets with them with `delta-bridge share DATASET --with {:?}`\n",
                    added.name,
                    added.name.as_str()
                ));
            }
        }
        Some(Action::Revoke { name }) => {
            let change = client.revoke_recipient(&name).await?;
            if json {
                print_json(&change);
            } else {
                emit(&format!(
                    "{name} is revoked; {}\n",
                    in_force(change.revocation)
                ));
            }
        }
        Some(Action::Rotate { name, overlap }) => {
            let change = client.rotate_recipient(&name, overlap).await?;
            if json {
                print_json(&change);
            } else {
                let old = match change
                    .recipient
                    .as_ref()
                    .and_then(|r| r.previous_until.clone())
                {
                    Some(until) => format!("the old one works until {until}"),
                    None => format!("the old one {}", in_force(change.revocation)),
                };
                emit(&format!(
                    "{name} has a new credential ({old}); send them `delta-bridge snippet DATASET --for {:?}` or `delta-bridge recipients link {:?}`\n",
                    name.as_str(),
                    name.as_str()
                ));
            }
        }
        Some(Action::Link { name }) => {
            let link = client.activation_link(&name).await?;
            if json {
                print_json(&link);
            } else {
                emit(&format!(
                    "{}\n(works once, until {}; the page gives {name} their profile file)\n",
                    link.url, link.expires_at
                ));
            }
        }
    }
    Ok(())
}

fn in_force(revocation: Revocation) -> &'static str {
    match revocation {
        Revocation::InForce => "its credential stops working within seconds",
        Revocation::Pending => {
            "the sharing server's configuration could not be written yet; the backend keeps trying"
        }
    }
}

fn render_recipients(all: &[RecipientInfo]) -> String {
    let mut out = format!(
        "{:<20} {:<28} {:<32} {:<20} {}\n",
        "name", "email", "datasets", "expires", "last read"
    );
    for r in all {
        let datasets = r
            .datasets
            .iter()
            .map(|d| d.dataset_name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        out += &format!(
            "{:<20} {:<28} {:<32} {:<20} {}\n",
            r.name.as_str(),
            r.email.as_deref().unwrap_or("-"),
            if datasets.is_empty() { "-" } else { &datasets },
            r.expires_at.as_deref().unwrap_or("never"),
            r.last_read_at.as_deref().unwrap_or("never"),
        );
    }
    out
}

pub fn render_activity(reads: &[ReadInfo]) -> String {
    let mut out = format!(
        "{:<24} {:<16} {:<24} {:<10} {:>7} {:>6} {:>12} {:>6}  {}\n",
        "at", "recipient", "dataset", "operation", "version", "files", "bytes", "status", "client"
    );
    let number = |n: Option<i64>| n.map_or("-".to_string(), |n| n.to_string());
    for r in reads {
        out += &format!(
            "{:<24} {:<16} {:<24} {:<10} {:>7} {:>6} {:>12} {:>6}  {} {}\n",
            r.at,
            r.recipient.as_str(),
            r.dataset_name
                .as_deref()
                .or(r.dataset_id.as_deref())
                .unwrap_or("-"),
            r.operation,
            number(r.version),
            number(r.files),
            number(r.bytes),
            r.status,
            r.address.as_deref().unwrap_or("-"),
            r.user_agent.as_deref().unwrap_or(""),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_dates_and_times() {
        assert_eq!(expires("2027-01-31").unwrap(), "2027-01-31T00:00:00Z");
        assert!(expires("30d").unwrap() > Utc::now().to_rfc3339());
        assert!(since("7d").unwrap() < Utc::now().to_rfc3339());
        assert!(expires("tomorrow").is_err());
    }
}
