//! Login hosts: where OAuth happens. REST goes to the `instance_url` of the token response.

use std::net::IpAddr;

use url::Url;

use crate::error::{Error, Result};

/// Where the user signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginHost {
    /// `https://login.salesforce.com`.
    Production,
    /// `https://test.salesforce.com`.
    Sandbox,
    /// The org's My Domain: `https://<name>.my.salesforce.com` or
    /// `https://<name>--<sandbox>.sandbox.my.salesforce.com`.
    MyDomain(Url),
    /// Any URL (tests, the emulator): https, or http on a loopback host only.
    Custom(Url),
}

impl LoginHost {
    /// The validated base URL of this host (origin only, ends with `/`).
    pub fn url(&self) -> Result<Url> {
        match self {
            LoginHost::Production => {
                Ok(Url::parse("https://login.salesforce.com/").expect("static URL"))
            }
            LoginHost::Sandbox => {
                Ok(Url::parse("https://test.salesforce.com/").expect("static URL"))
            }
            LoginHost::MyDomain(url) => {
                validate_my_domain(url)?;
                Ok(origin(url))
            }
            LoginHost::Custom(url) => {
                validate_secure_or_loopback(url)?;
                Ok(origin(url))
            }
        }
    }
}

fn invalid(url: &Url, reason: &'static str) -> Error {
    Error::InvalidHost {
        url: url.to_string(),
        reason,
    }
}

fn origin(url: &Url) -> Url {
    let mut u = url.clone();
    u.set_path("/");
    u.set_query(None);
    u.set_fragment(None);
    u
}

/// Check a My Domain URL: https, `<name>.my.salesforce.com` or
/// `<name>--<sandbox>.sandbox.my.salesforce.com`, nothing but an origin.
pub fn validate_my_domain(url: &Url) -> Result<()> {
    if url.scheme() != "https" {
        return Err(invalid(url, "My Domain must use https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(url, "My Domain URL must not carry credentials"));
    }
    if url.port().is_some() {
        return Err(invalid(url, "My Domain URL must not name a port"));
    }
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let name = if let Some(name) = host.strip_suffix(".sandbox.my.salesforce.com") {
        let Some((org, sandbox)) = name.split_once("--") else {
            return Err(invalid(
                url,
                "sandbox My Domain must be <name>--<sandbox>.sandbox.my.salesforce.com",
            ));
        };
        if !is_label(org) || !is_label(sandbox) {
            return Err(invalid(url, "sandbox My Domain name is malformed"));
        }
        return Ok(());
    } else if let Some(name) = host.strip_suffix(".my.salesforce.com") {
        name
    } else {
        return Err(invalid(
            url,
            "My Domain host must end with .my.salesforce.com",
        ));
    };
    if !is_label(name) {
        return Err(invalid(url, "My Domain name is malformed"));
    }
    Ok(())
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Accept https anywhere, http only on loopback (127.0.0.0/8, ::1, localhost). Used for custom
/// login hosts and for the `instance_url` a token response names (a bearer token never travels
/// over plain http to a remote host).
pub fn validate_secure_or_loopback(url: &Url) -> Result<()> {
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(url) => {}
        "http" => return Err(invalid(url, "http is allowed only for loopback hosts")),
        _ => return Err(invalid(url, "scheme must be https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(url, "URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(url, "URL must not carry credentials"));
    }
    Ok(())
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test URL parses")
    }

    #[test]
    fn fixed_hosts() {
        assert_eq!(
            LoginHost::Production.url().expect("static").as_str(),
            "https://login.salesforce.com/",
            "production login host"
        );
        assert_eq!(
            LoginHost::Sandbox.url().expect("static").as_str(),
            "https://test.salesforce.com/",
            "sandbox login host"
        );
    }

    #[test]
    fn my_domain_forms() {
        for ok in [
            "https://acme.my.salesforce.com",
            "https://acme.my.salesforce.com/some/path?x=1",
            "https://acme--uat.sandbox.my.salesforce.com/",
        ] {
            let host = LoginHost::MyDomain(url(ok));
            let base = host
                .url()
                .unwrap_or_else(|e| panic!("{ok} should be accepted: {e}"));
            assert_eq!(base.path(), "/", "the base is the origin only for {ok}");
        }
        for bad in [
            "http://acme.my.salesforce.com",
            "https://acme.salesforce.com",
            "https://acme.my.salesforce.com.evil.example",
            "https://uat.sandbox.my.salesforce.com",
            "https://-x.my.salesforce.com",
            "https://user:pw@acme.my.salesforce.com",
            "https://acme.my.salesforce.com:8443",
        ] {
            assert!(
                matches!(
                    LoginHost::MyDomain(url(bad)).url(),
                    Err(Error::InvalidHost { .. })
                ),
                "{bad} is not a My Domain URL and must be rejected"
            );
        }
    }

    #[test]
    fn custom_hosts_allow_http_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1234",
            "http://[::1]:99",
            "https://example.com",
        ] {
            assert!(
                LoginHost::Custom(url(ok)).url().is_ok(),
                "{ok} is https or loopback and must be accepted"
            );
        }
        for bad in ["http://example.com", "http://10.0.0.1", "ftp://127.0.0.1"] {
            assert!(
                LoginHost::Custom(url(bad)).url().is_err(),
                "{bad} would send tokens in clear text and must be rejected"
            );
        }
    }
}
