//! OAuth tokens and where they are kept. Only a [`TokenStore`] ever persists a token.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, Result};
use crate::host::validate_secure_or_loopback;

/// A signed-in session. `Debug` never shows the tokens.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// Bearer token for REST calls.
    pub access_token: SecretString,
    /// Refresh token (present when the `refresh_token` scope was granted).
    pub refresh_token: Option<SecretString>,
    /// Where every REST call goes.
    pub instance_url: Url,
    /// Identity URL `…/id/<orgId>/<userId>`.
    pub id_url: Url,
    /// When Salesforce issued the access token.
    pub issued_at: SystemTime,
}

impl Tokens {
    /// The org id and user id, the last two path segments of the identity URL.
    pub fn org_and_user_id(&self) -> Option<(String, String)> {
        let mut segs: Vec<&str> = self
            .id_url
            .path_segments()?
            .filter(|s| !s.is_empty())
            .collect();
        let user = segs.pop()?.to_string();
        let org = segs.pop()?.to_string();
        Some((org, user))
    }
}

/// The Salesforce token response (code, refresh and device grants). Unknown fields are ignored;
/// there is no `expires_in`.
#[derive(Deserialize)]
struct RawTokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    instance_url: String,
    id: String,
    #[serde(default)]
    issued_at: Option<String>,
}

/// Build [`Tokens`] from the response fields. `now` stands in when `issued_at` is absent or
/// malformed; `previous_refresh` is kept when the response carries no new refresh token.
pub(crate) fn tokens_from_parts(
    access_token: String,
    refresh_token: Option<String>,
    instance_url: &str,
    id: &str,
    issued_at: Option<&str>,
    previous_refresh: Option<SecretString>,
    now: SystemTime,
) -> Result<Tokens> {
    let instance_url = Url::parse(instance_url).map_err(|e| Error::Decode {
        what: "token response instance_url",
        message: e.to_string(),
        body: String::new(),
    })?;
    validate_secure_or_loopback(&instance_url)?;
    let id_url = Url::parse(id).map_err(|e| Error::Decode {
        what: "token response id",
        message: e.to_string(),
        body: String::new(),
    })?;
    if access_token.is_empty() {
        return Err(Error::Decode {
            what: "token response",
            message: "empty access_token".into(),
            body: String::new(),
        });
    }
    let issued_at = issued_at
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
        .unwrap_or(now);
    Ok(Tokens {
        access_token: access_token.into(),
        refresh_token: refresh_token
            .filter(|r| !r.is_empty())
            .map(Into::into)
            .or(previous_refresh),
        instance_url,
        id_url,
        issued_at,
    })
}

/// Parse a Salesforce token response body (used by the device flow; the code and refresh grants
/// go through the `oauth2` crate). `previous_refresh` is kept when no new refresh token comes;
/// `now` stands in for a missing `issued_at`. The body is never copied into an error.
pub fn parse_token_body(
    body: &[u8],
    previous_refresh: Option<SecretString>,
    now: SystemTime,
) -> Result<Tokens> {
    let raw: RawTokenResponse = serde_json::from_slice(body).map_err(|e| Error::Decode {
        what: "token response",
        message: e.to_string(),
        body: String::new(),
    })?;
    tokens_from_parts(
        raw.access_token,
        raw.refresh_token,
        &raw.instance_url,
        &raw.id,
        raw.issued_at.as_deref(),
        previous_refresh,
        now,
    )
}

/// Where tokens live between runs, for one profile (account) name.
pub trait TokenStore: Send + Sync {
    /// The saved tokens, if any.
    fn load(&self) -> Result<Option<Tokens>>;
    /// Save (replace) the tokens.
    fn save(&self, tokens: &Tokens) -> Result<()>;
    /// Forget the tokens.
    fn clear(&self) -> Result<()>;
}

/// Keeps tokens in memory only: tests and the demo.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tokens: Mutex<Option<Tokens>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl TokenStore for MemoryStore {
    fn load(&self) -> Result<Option<Tokens>> {
        Ok(self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone())
    }
    fn save(&self, tokens: &Tokens) -> Result<()> {
        *self.tokens.lock().unwrap_or_else(|p| p.into_inner()) = Some(tokens.clone());
        Ok(())
    }
    fn clear(&self) -> Result<()> {
        *self.tokens.lock().unwrap_or_else(|p| p.into_inner()) = None;
        Ok(())
    }
}

/// The OS keychain (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows),
/// one entry per profile under a service name.
pub struct KeyringStore {
    service: String,
    profile: String,
    entry: keyring::Entry,
}

impl std::fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyringStore")
            .field("service", &self.service)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// What goes into the keychain entry (JSON).
#[derive(Serialize, Deserialize)]
struct StoredTokens {
    access_token: String,
    refresh_token: Option<String>,
    instance_url: String,
    id_url: String,
    issued_at_ms: u64,
}

impl KeyringStore {
    /// The default keychain service name.
    pub const SERVICE: &'static str = "callpop-salesforce";

    /// A store for `profile` under [`Self::SERVICE`].
    pub fn new(profile: impl Into<String>) -> Result<Self> {
        Self::with_service(Self::SERVICE, profile)
    }

    /// A store for `profile` under another service name (tests use their own).
    pub fn with_service(service: impl Into<String>, profile: impl Into<String>) -> Result<Self> {
        let service = service.into();
        let profile = profile.into();
        let entry = keyring::Entry::new(&service, &profile).map_err(store_err)?;
        Ok(Self {
            service,
            profile,
            entry,
        })
    }
}

fn store_err(e: keyring::Error) -> Error {
    Error::Store {
        message: e.to_string(),
    }
}

impl TokenStore for KeyringStore {
    fn load(&self) -> Result<Option<Tokens>> {
        let text = match self.entry.get_password() {
            Ok(t) => t,
            Err(keyring::Error::NoEntry) => return Ok(None),
            Err(e) => return Err(store_err(e)),
        };
        let stored: StoredTokens = serde_json::from_str(&text).map_err(|e| Error::Store {
            message: format!("keychain entry does not decode: {e}"),
        })?;
        let issued = stored.issued_at_ms.to_string();
        tokens_from_parts(
            stored.access_token,
            stored.refresh_token,
            &stored.instance_url,
            &stored.id_url,
            Some(&issued),
            None,
            UNIX_EPOCH,
        )
        .map(Some)
    }

    fn save(&self, tokens: &Tokens) -> Result<()> {
        let stored = StoredTokens {
            access_token: tokens.access_token.expose_secret().to_string(),
            refresh_token: tokens
                .refresh_token
                .as_ref()
                .map(|r| r.expose_secret().to_string()),
            instance_url: tokens.instance_url.to_string(),
            id_url: tokens.id_url.to_string(),
            issued_at_ms: tokens
                .issued_at
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        };
        let text = serde_json::to_string(&stored).map_err(|e| Error::Store {
            message: e.to_string(),
        })?;
        self.entry.set_password(&text).map_err(store_err)
    }

    fn clear(&self) -> Result<()> {
        match self.entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(store_err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token-like value made at run time (never a literal in the source).
    pub(crate) fn runtime_secret(tag: &str) -> String {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(7);
        format!("00D{tag}!{:x}{:x}", nanos, std::process::id())
    }

    fn body(access: &str, refresh: Option<&str>) -> Vec<u8> {
        let mut v = serde_json::json!({
            "access_token": access,
            "instance_url": "https://acme.my.salesforce.com",
            "id": "https://login.salesforce.com/id/00D5g000004XXXXEAA/0055g00000AbCdEAAZ",
            "token_type": "Bearer",
            "issued_at": "1767225600000",
            "signature": "sig",
            "scope": "refresh_token api id"
        });
        if let Some(r) = refresh {
            v["refresh_token"] = r.into();
        }
        serde_json::to_vec(&v).expect("json")
    }

    #[test]
    fn token_body_parses_and_keeps_previous_refresh() {
        let access = runtime_secret("a");
        let t = parse_token_body(
            &body(&access, None),
            Some(SecretString::from("prev-r")),
            UNIX_EPOCH,
        )
        .expect("valid token response parses");
        assert_eq!(
            t.access_token.expose_secret(),
            access,
            "access token is taken as sent"
        );
        assert_eq!(
            t.refresh_token
                .as_ref()
                .map(|r| r.expose_secret().to_string())
                .as_deref(),
            Some("prev-r"),
            "a refresh response without refresh_token keeps the one we had"
        );
        assert_eq!(
            t.issued_at,
            UNIX_EPOCH + Duration::from_millis(1_767_225_600_000),
            "issued_at is epoch milliseconds as a string"
        );
        assert_eq!(
            t.org_and_user_id(),
            Some(("00D5g000004XXXXEAA".into(), "0055g00000AbCdEAAZ".into())),
            "org and user ids come from the identity URL"
        );
    }

    #[test]
    fn rotated_refresh_token_replaces_the_old_one() {
        let t = parse_token_body(
            &body("a", Some("new-r")),
            Some(SecretString::from("old-r")),
            UNIX_EPOCH,
        )
        .expect("parses");
        assert_eq!(
            t.refresh_token
                .map(|r| r.expose_secret().to_string())
                .as_deref(),
            Some("new-r"),
            "rotation: the newly issued refresh token wins"
        );
    }

    #[test]
    fn insecure_instance_url_is_rejected() {
        let mut v: serde_json::Value = serde_json::from_slice(&body("a", None)).expect("json");
        v["instance_url"] = "http://acme.my.salesforce.com".into();
        let err = parse_token_body(&serde_json::to_vec(&v).expect("json"), None, UNIX_EPOCH)
            .expect_err("plain http to a remote host must be refused");
        assert!(
            matches!(err, Error::InvalidHost { .. }),
            "typed host error, got {err:?}"
        );
    }

    #[test]
    fn garbage_body_gives_decode_error_without_body() {
        let secret = runtime_secret("g");
        let err = parse_token_body(
            format!("{{\"access_token\":\"{secret}\"").as_bytes(),
            None,
            UNIX_EPOCH,
        )
        .expect_err("truncated JSON must fail");
        let shown = format!("{err:?} {err}");
        assert!(
            !shown.contains(&secret),
            "a token response body never lands in an error: {shown}"
        );
    }

    #[test]
    fn debug_redacts_tokens() {
        let access = runtime_secret("acc");
        let refresh = runtime_secret("ref");
        let t = parse_token_body(&body(&access, Some(&refresh)), None, UNIX_EPOCH).expect("parses");
        let shown = format!("{t:?}");
        assert!(
            !shown.contains(&access),
            "access token must not appear in Debug: {shown}"
        );
        assert!(
            !shown.contains(&refresh),
            "refresh token must not appear in Debug: {shown}"
        );
        assert!(
            shown.contains("REDACTED"),
            "Debug says the secret was redacted: {shown}"
        );
    }

    #[test]
    fn memory_store_round_trip() {
        let store = MemoryStore::new();
        assert!(
            store.load().expect("memory load").is_none(),
            "a new store is empty"
        );
        let t = parse_token_body(&body("a", Some("r")), None, UNIX_EPOCH).expect("parses");
        store.save(&t).expect("memory save");
        let back = store
            .load()
            .expect("memory load")
            .expect("saved tokens come back");
        assert_eq!(back.instance_url, t.instance_url, "same session comes back");
        store.clear().expect("memory clear");
        assert!(
            store.load().expect("memory load").is_none(),
            "clear forgets the tokens"
        );
    }

    #[test]
    fn keyring_store_round_trip_on_the_mock_keychain() {
        keyring::set_default_credential_builder(keyring::mock::default_credential_builder());
        let store = KeyringStore::with_service("callpop-test", "profile-a").expect("mock entry");
        assert!(
            store.load().expect("load").is_none(),
            "an empty keychain entry is no session"
        );
        let access = runtime_secret("k");
        let t = parse_token_body(&body(&access, Some("r")), None, UNIX_EPOCH).expect("parses");
        store.save(&t).expect("save to the keychain");
        let back = store.load().expect("load").expect("saved tokens come back");
        assert_eq!(
            back.access_token.expose_secret(),
            access,
            "access token round-trips"
        );
        assert_eq!(
            back.refresh_token
                .map(|r| r.expose_secret().to_string())
                .as_deref(),
            Some("r"),
            "refresh token round-trips"
        );
        assert_eq!(
            back.issued_at, t.issued_at,
            "issue time round-trips to the millisecond"
        );
        assert_eq!(back.id_url, t.id_url, "identity URL round-trips");
        assert!(
            !format!("{store:?}").contains(&access),
            "the store's Debug shows no token"
        );
        store.clear().expect("clear");
        assert!(
            store.load().expect("load").is_none(),
            "clear forgets the entry"
        );
        store.clear().expect("clearing twice is not an error");
    }
}
