//! Where secrets may travel. Passwords, refresh tokens and ID tokens go only over `https://`, or over plain
//! `http://` to this machine (loopback: `127.0.0.0/8`, `::1`, `localhost`), unless the user allowed plain
//! http explicitly (`insecure_http`: the CLI's `--insecure-http`, the app's setting). This is the one
//! place the rule lives; [`crate::Client`] applies it to every URL before it sends anything, and
//! [`crate::Backend`] and [`crate::Firebase`] again before each request.

use url::{Host, Url};

/// A URL that must not receive secrets, with a sentence saying why and what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(String);

/// Whether `url` (the `what` URL, such as "backend") may receive passwords and tokens: `https://`
/// anywhere, `http://` only to loopback unless `insecure_http`.
pub fn check(what: &str, url: &str, insecure_http: bool) -> Result<(), Refusal> {
    let parsed = Url::parse(url).map_err(|_| {
        Refusal(format!(
            "the {what} URL {url:?} is not a URL (it looks like https://delta-bridge.example.com)"
        ))
    })?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if insecure_http || is_loopback(&parsed) => Ok(()),
        "http" => Err(Refusal(format!(
            "refusing to send passwords or tokens over plain http:// to {host} (the {what}), which is not this \
             machine: anyone on the network could read them. Use an https:// URL, or allow plain http \
             explicitly with --insecure-http (DELTA_BRIDGE_INSECURE_HTTP=1, insecure_http = true in the CLI's \
             config file, or \"Allow plain http://\" in the app's settings)",
            host = parsed.host_str().unwrap_or_default(),
        ))),
        other => Err(Refusal(format!(
            "the {what} URL must start with https:// (or http:// for this machine), not {other}:"
        ))),
    }
}

/// `127.0.0.0/8`, `::1` or `localhost`: the request never leaves this machine.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_goes_anywhere_and_plain_http_only_to_this_machine() {
        for url in [
            "https://backend.example.com",
            "https://10.0.0.5:8443/api",
            "http://127.0.0.1:8081",
            "http://127.3.4.5:9099/identitytoolkit.googleapis.com",
            "http://[::1]:8081",
            "http://localhost:8081",
            "http://LOCALHOST:8081/",
        ] {
            assert_eq!(check("backend", url, false), Ok(()), "{url}");
        }
        for (url, host) in [
            ("http://backend.example.com", "backend.example.com"),
            ("http://10.0.0.5:8081", "10.0.0.5"),
            ("http://0.0.0.0:8081", "0.0.0.0"),
            ("http://[2001:db8::1]:8081", "[2001:db8::1]"),
            ("http://localhost.example.com", "localhost.example.com"),
            ("http://128.0.0.1", "128.0.0.1"),
        ] {
            let refusal = check("backend", url, false).unwrap_err().to_string();
            assert!(refusal.contains(host), "{refusal}");
            assert!(refusal.contains("--insecure-http"), "{refusal}");
            assert!(refusal.contains("backend"), "{refusal}");
            assert_eq!(
                check("backend", url, true),
                Ok(()),
                "{url} is allowed when asked"
            );
        }
    }

    #[test]
    fn what_is_not_an_http_url_is_refused_with_what_it_is() {
        let refusal = check("backend", "backend.example.com", false)
            .unwrap_err()
            .to_string();
        assert!(
            refusal.contains("\"backend.example.com\" is not a URL"),
            "{refusal}"
        );
        let refusal = check("backend", "ftp://backend.example.com", true)
            .unwrap_err()
            .to_string();
        assert!(refusal.contains("not ftp:"), "{refusal}");
    }
}
