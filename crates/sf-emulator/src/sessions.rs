//! Issued OAuth artefacts: access tokens, refresh tokens, authorization codes and device codes.
//! Times are passed in; nothing here reads a clock.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use rand::RngCore;

/// How long an authorization code can be exchanged (Salesforce: 15 minutes).
pub const CODE_TTL: Duration = Duration::from_secs(15 * 60);
/// How long a device code stays valid.
pub const DEVICE_CODE_TTL: Duration = Duration::from_secs(10 * 60);
/// The polling interval announced for the device flow, in seconds.
pub const DEVICE_INTERVAL_SECS: u64 = 5;

/// A random URL-safe string with `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// One access token.
#[derive(Clone, Debug)]
pub struct Access {
    /// When it was issued.
    pub issued: Instant,
    /// Set by `expire_access_tokens` or revocation.
    pub expired: bool,
    /// The refresh token it was issued from, if any.
    pub refresh: Option<String>,
    /// Granted scope.
    pub scope: String,
}

/// One refresh token.
#[derive(Clone, Debug)]
pub struct Refresh {
    /// Granted scope.
    pub scope: String,
    /// Revoked tokens answer `invalid_grant`.
    pub revoked: bool,
}

/// An authorization code waiting to be exchanged.
#[derive(Clone, Debug)]
pub struct Code {
    /// The PKCE S256 challenge.
    pub challenge: String,
    /// The redirect URI it was issued for.
    pub redirect_uri: String,
    /// Requested scope.
    pub scope: String,
    /// When it was issued.
    pub issued: Instant,
}

/// A pending device authorization.
#[derive(Clone, Debug)]
pub struct Device {
    /// The code the user types on the verification page.
    pub user_code: String,
    /// Requested scope.
    pub scope: String,
    /// When it was issued.
    pub issued: Instant,
    /// When the client last polled.
    pub last_poll: Option<Instant>,
    /// Whether the user approved it.
    pub approved: bool,
}

/// Everything issued so far. Survives `reset` (tokens stay valid).
#[derive(Debug, Default)]
pub struct Sessions {
    /// Access token → session.
    pub access: HashMap<String, Access>,
    /// Refresh token → grant.
    pub refresh: HashMap<String, Refresh>,
    /// Authorization code → pending exchange.
    pub codes: HashMap<String, Code>,
    /// Device code → pending device authorization.
    pub devices: HashMap<String, Device>,
}

/// The outcome of issuing tokens.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The new access token.
    pub access_token: String,
    /// A refresh token, when the scope asked for one (or the one refreshed from).
    pub refresh_token: Option<String>,
}

/// Whether a scope string grants a refresh token.
pub fn wants_refresh(scope: &str) -> bool {
    scope
        .split_whitespace()
        .any(|s| s == "refresh_token" || s == "offline_access" || s == "full")
}

impl Sessions {
    /// Issues an access token (and a refresh token if `with_refresh`).
    pub fn issue(
        &mut self,
        org_id15: &str,
        scope: &str,
        with_refresh: bool,
        now: Instant,
    ) -> Issued {
        let refresh_token = with_refresh.then(|| {
            let rt = format!("5Aep861{}", random_token(48));
            self.refresh.insert(
                rt.clone(),
                Refresh {
                    scope: scope.to_owned(),
                    revoked: false,
                },
            );
            rt
        });
        let access_token = self.issue_access(org_id15, scope, refresh_token.clone(), now);
        Issued {
            access_token,
            refresh_token,
        }
    }

    fn issue_access(
        &mut self,
        org_id15: &str,
        scope: &str,
        refresh: Option<String>,
        now: Instant,
    ) -> String {
        let at = format!("{org_id15}!{}", random_token(72));
        self.access.insert(
            at.clone(),
            Access {
                issued: now,
                expired: false,
                refresh,
                scope: scope.to_owned(),
            },
        );
        at
    }

    /// A new access token for a live refresh token; `None` if it is unknown or revoked.
    pub fn refresh(
        &mut self,
        org_id15: &str,
        refresh_token: &str,
        now: Instant,
    ) -> Option<(String, String)> {
        let grant = self
            .refresh
            .get(refresh_token)
            .filter(|g| !g.revoked)?
            .clone();
        let at = self.issue_access(org_id15, &grant.scope, Some(refresh_token.to_owned()), now);
        Some((at, grant.scope))
    }

    /// Whether `token` is a live access token at `now`.
    pub fn access_valid(&self, token: &str, ttl: Duration, now: Instant) -> bool {
        self.access
            .get(token)
            .is_some_and(|a| !a.expired && now.saturating_duration_since(a.issued) < ttl)
    }

    /// Revokes an access or refresh token; revoking a refresh token also ends its access tokens.
    /// Returns whether the token was known.
    pub fn revoke(&mut self, token: &str) -> bool {
        if let Some(a) = self.access.get_mut(token) {
            a.expired = true;
            return true;
        }
        if let Some(r) = self.refresh.get_mut(token) {
            r.revoked = true;
            for a in self.access.values_mut() {
                if a.refresh.as_deref() == Some(token) {
                    a.expired = true;
                }
            }
            return true;
        }
        false
    }

    /// Marks every current access token expired.
    pub fn expire_all_access(&mut self) {
        self.access.values_mut().for_each(|a| a.expired = true);
    }

    /// Revokes every refresh token (their access tokens keep working until they expire).
    pub fn revoke_all_refresh(&mut self) {
        self.refresh.values_mut().for_each(|r| r.revoked = true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_expire_by_ttl_and_by_flag() {
        let mut s = Sessions::default();
        let t0 = Instant::now();
        let issued = s.issue("00D000000000001", "api refresh_token", true, t0);
        let ttl = Duration::from_secs(60);
        assert!(
            issued.access_token.starts_with("00D000000000001!"),
            "access tokens start with the org id"
        );
        assert!(
            s.access_valid(&issued.access_token, ttl, t0),
            "fresh token is valid"
        );
        assert!(
            !s.access_valid(&issued.access_token, ttl, t0 + ttl),
            "valid strictly less than ttl"
        );
        s.expire_all_access();
        assert!(
            !s.access_valid(&issued.access_token, ttl, t0),
            "expired by flag"
        );
        let rt = issued.refresh_token.expect("scope asked for refresh_token");
        let (at2, _) = s
            .refresh("00D000000000001", &rt, t0)
            .expect("refresh token still valid");
        assert!(s.access_valid(&at2, ttl, t0), "refreshed token is valid");
    }

    #[test]
    fn revoking_refresh_token_ends_its_access_tokens() {
        let mut s = Sessions::default();
        let t0 = Instant::now();
        let issued = s.issue("00D000000000001", "api refresh_token", true, t0);
        let rt = issued.refresh_token.unwrap();
        assert!(s.revoke(&rt), "known token");
        assert!(
            !s.access_valid(&issued.access_token, Duration::from_secs(60), t0),
            "access token revoked with it"
        );
        assert!(
            s.refresh("00D000000000001", &rt, t0).is_none(),
            "refresh token is dead"
        );
        assert!(!s.revoke("unknown"), "unknown tokens are reported");
    }

    #[test]
    fn refresh_only_when_scope_asks() {
        assert!(wants_refresh("api refresh_token id"), "refresh_token scope");
        assert!(
            wants_refresh("offline_access"),
            "offline_access is the OIDC spelling"
        );
        assert!(!wants_refresh("api id"), "no refresh scope");
    }
}
