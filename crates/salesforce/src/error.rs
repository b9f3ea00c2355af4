//! The crate's one error type and its classification into what a caller does next.

use std::time::Duration;

use serde::Deserialize;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One entry of Salesforce's REST error array (`[{"message","errorCode","fields"}]`).
///
/// Inside sObject Collections results the code is named `statusCode`; both spellings land in
/// [`ApiError::code`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    /// Human-readable message from Salesforce.
    #[serde(default)]
    pub message: String,
    /// `errorCode` (REST) or `statusCode` (collections), e.g. `INVALID_SESSION_ID`.
    #[serde(rename = "errorCode", alias = "statusCode", default)]
    pub code: String,
    /// Fields the error is about, when Salesforce names them.
    #[serde(default)]
    pub fields: Vec<String>,
}

/// Everything that can go wrong talking to Salesforce. No variant ever carries a token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Salesforce REST answered an error status with its error array.
    #[error("Salesforce answered {status}: {}", summary(errors))]
    Api {
        /// HTTP status.
        status: u16,
        /// The error array, in Salesforce's order.
        errors: Vec<ApiError>,
        /// `Retry-After` from the response, when present.
        retry_after: Option<Duration>,
    },
    /// An OAuth endpoint answered `{"error","error_description"}`.
    #[error("OAuth error {error}: {}", description.as_deref().unwrap_or(""))]
    OAuth {
        /// The `error` code, e.g. `invalid_grant`.
        error: String,
        /// The `error_description`, when given.
        description: Option<String>,
    },
    /// The request did not complete within the configured timeout.
    #[error("request timed out: {what}")]
    Timeout {
        /// What was being done (method and path, never a query string).
        what: String,
    },
    /// The connection failed, was refused or was reset.
    #[error("connection failed: {message}")]
    Connection {
        /// Transport error text (without URL).
        message: String,
    },
    /// A response body did not decode as expected.
    #[error("could not decode {what}: {message}")]
    Decode {
        /// Which response was being decoded.
        what: &'static str,
        /// Decoder message.
        message: String,
        /// The first bytes of the raw body, for the log (never set for token responses).
        body: String,
    },
    /// An unexpected HTTP status without a Salesforce error array.
    #[error("unexpected HTTP status {status} from {what}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Which endpoint answered.
        what: &'static str,
        /// The first bytes of the body, for the log (never set for token responses).
        body: String,
    },
    /// A login host or instance URL was rejected.
    #[error("invalid Salesforce host {url}: {reason}")]
    InvalidHost {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A caller-supplied value is not acceptable.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// Which input.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// More records than one sObject Collections request may carry; nothing was sent.
    #[error("{count} records exceed the sObject Collections limit of {max}")]
    TooManyRecords {
        /// Records given.
        count: usize,
        /// The limit (200).
        max: usize,
    },
    /// The OAuth redirect carried a `state` other than the one sent.
    #[error("OAuth state mismatch on the redirect")]
    StateMismatch,
    /// The browser redirect carried an OAuth `error` (e.g. `access_denied`).
    #[error("authorization refused: {error}")]
    AuthorizationDenied {
        /// The `error` parameter of the redirect.
        error: String,
        /// The `error_description` parameter, when given.
        description: Option<String>,
    },
    /// The loopback redirect was not received in time.
    #[error("no OAuth redirect within {after:?}")]
    LoginTimeout {
        /// The configured login timeout.
        after: Duration,
    },
    /// The loopback redirect listener failed (bind, accept, malformed callback).
    #[error("loopback listener: {message}")]
    Listener {
        /// What went wrong.
        message: String,
    },
    /// The injected browser opener failed.
    #[error("could not open the browser: {message}")]
    Browser {
        /// Opener's message.
        message: String,
    },
    /// There is no session: sign in first.
    #[error("not signed in")]
    NotSignedIn,
    /// The refresh token was rejected; only a new login clears this state.
    #[error("Salesforce session ended: sign in again")]
    ReconnectNeeded,
    /// The token store failed.
    #[error("token store: {message}")]
    Store {
        /// Store's message.
        message: String,
    },
    /// The org offers no API version at or above the configured floor.
    #[error("no API version at or above v{floor} (newest offered: {newest:?})")]
    NoSupportedVersion {
        /// The configured floor.
        floor: String,
        /// The newest version the org offered, if any.
        newest: Option<String>,
    },
}

fn summary(errors: &[ApiError]) -> String {
    errors
        .iter()
        .map(|e| format!("{} ({})", e.code, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a caller should do about an [`Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorClass {
    /// Try again later; `after` is a back-off hint.
    Retryable {
        /// Suggested wait before the next attempt.
        after: Option<Duration>,
    },
    /// The user must sign in again.
    ReconnectNeeded,
    /// Retrying the same request will fail the same way.
    Permanent {
        /// Fields named by Salesforce (validation errors), possibly empty.
        fields: Vec<String>,
    },
}

/// Back-off hint for server-side trouble (5xx, unavailable).
pub const SERVER_BACKOFF: Duration = Duration::from_secs(5);
/// Back-off hint for record lock contention.
pub const LOCK_BACKOFF: Duration = Duration::from_secs(1);
/// Back-off hint for transport failures (timeout, reset).
pub const TRANSPORT_BACKOFF: Duration = Duration::from_secs(2);
/// Back-off hint when the org's daily API allocation is used up (rolling 24 h window).
pub const LIMIT_BACKOFF: Duration = Duration::from_secs(15 * 60);

impl Error {
    /// The first Salesforce error code, when this is an [`Error::Api`].
    pub fn api_code(&self) -> Option<&str> {
        match self {
            Error::Api { errors, .. } => errors.first().map(|e| e.code.as_str()),
            _ => None,
        }
    }

    /// Decide whether to retry, reconnect or give up.
    pub fn classify(&self) -> ErrorClass {
        match self {
            Error::Api {
                status,
                errors,
                retry_after,
            } => classify_api(*status, errors, *retry_after),
            Error::OAuth { error, .. } if error == "invalid_grant" => ErrorClass::ReconnectNeeded,
            Error::ReconnectNeeded | Error::NotSignedIn => ErrorClass::ReconnectNeeded,
            Error::Timeout { .. } | Error::Connection { .. } => ErrorClass::Retryable {
                after: Some(TRANSPORT_BACKOFF),
            },
            Error::Status { status, .. } if *status >= 500 => ErrorClass::Retryable {
                after: Some(SERVER_BACKOFF),
            },
            _ => ErrorClass::Permanent { fields: Vec::new() },
        }
    }
}

fn classify_api(status: u16, errors: &[ApiError], retry_after: Option<Duration>) -> ErrorClass {
    let has = |code: &str| errors.iter().any(|e| e.code == code);
    if has("INVALID_SESSION_ID") {
        ErrorClass::ReconnectNeeded
    } else if has("REQUEST_LIMIT_EXCEEDED") {
        ErrorClass::Retryable {
            after: Some(retry_after.unwrap_or(LIMIT_BACKOFF)),
        }
    } else if has("UNABLE_TO_LOCK_ROW") {
        ErrorClass::Retryable {
            after: Some(retry_after.unwrap_or(LOCK_BACKOFF)),
        }
    } else if status >= 500 || has("SERVER_UNAVAILABLE") {
        ErrorClass::Retryable {
            after: Some(retry_after.unwrap_or(SERVER_BACKOFF)),
        }
    } else {
        let mut fields: Vec<String> = errors.iter().flat_map(|e| e.fields.clone()).collect();
        fields.dedup();
        ErrorClass::Permanent { fields }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str, fields: &[&str]) -> Error {
        Error::Api {
            status,
            errors: vec![ApiError {
                message: "m".into(),
                code: code.into(),
                fields: fields.iter().map(|f| f.to_string()).collect(),
            }],
            retry_after: None,
        }
    }

    #[test]
    fn session_and_grant_errors_need_reconnect() {
        assert_eq!(
            api(401, "INVALID_SESSION_ID", &[]).classify(),
            ErrorClass::ReconnectNeeded,
            "a session error that survived the transparent refresh means sign in again"
        );
        let grant = Error::OAuth {
            error: "invalid_grant".into(),
            description: Some("expired access/refresh token".into()),
        };
        assert_eq!(
            grant.classify(),
            ErrorClass::ReconnectNeeded,
            "invalid_grant on refresh means the refresh token is dead"
        );
    }

    #[test]
    fn transient_errors_are_retryable_with_a_hint() {
        for (status, code) in [
            (403, "REQUEST_LIMIT_EXCEEDED"),
            (503, "SERVER_UNAVAILABLE"),
            (500, "UNKNOWN_EXCEPTION"),
            (400, "UNABLE_TO_LOCK_ROW"),
        ] {
            let class = api(status, code, &[]).classify();
            assert!(
                matches!(class, ErrorClass::Retryable { after: Some(_) }),
                "{code} is transient and must carry a back-off hint, got {class:?}"
            );
        }
        let timeout = Error::Timeout {
            what: "GET /x".into(),
        };
        assert!(
            matches!(timeout.classify(), ErrorClass::Retryable { .. }),
            "timeouts are retryable"
        );
        let reset = Error::Connection {
            message: "connection reset".into(),
        };
        assert!(
            matches!(reset.classify(), ErrorClass::Retryable { .. }),
            "connection resets are retryable"
        );
    }

    #[test]
    fn limit_exceeded_waits_long_unless_told_otherwise() {
        assert_eq!(
            api(403, "REQUEST_LIMIT_EXCEEDED", &[]).classify(),
            ErrorClass::Retryable {
                after: Some(LIMIT_BACKOFF)
            },
            "the daily allocation frees slowly: never hammer"
        );
        let told = Error::Api {
            status: 503,
            errors: vec![],
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(
            told.classify(),
            ErrorClass::Retryable {
                after: Some(Duration::from_secs(7))
            },
            "Retry-After from the server wins over the default hint"
        );
    }

    #[test]
    fn validation_errors_are_permanent_and_name_fields() {
        let class = api(400, "REQUIRED_FIELD_MISSING", &["LastName", "Company"]).classify();
        assert_eq!(
            class,
            ErrorClass::Permanent {
                fields: vec!["LastName".into(), "Company".into()]
            },
            "validation failures are not retried and the fields are reported"
        );
    }

    #[test]
    fn collection_errors_accept_status_code_spelling() {
        let e: ApiError = serde_json::from_str(
            r#"{"statusCode":"MALFORMED_ID","message":"bad id","fields":["WhoId"]}"#,
        )
        .expect("collections error entries must parse");
        assert_eq!(
            e.code, "MALFORMED_ID",
            "collections use statusCode instead of errorCode"
        );
    }
}
