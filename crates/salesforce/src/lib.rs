//! Callpop's Salesforce client: OAuth 2.0 (PKCE through the system browser, refresh, revoke,
//! device flow) and the REST calls the softphone needs (version discovery, phone and name
//! search, record create/update, sObject Collections, Task lookup by `CallObject`, limits).
//!
//! Contract:
//! - Every endpoint is a pure `prepare_*` (builds an [`http::Request`]) and `parse_*` (turns
//!   status, headers and body into a typed value or [`Error`]); the client adds the bearer
//!   token, sends once, and parses. Time is passed in where a decision depends on it.
//! - OAuth happens on the [`LoginHost`]; every REST call goes to the token response's
//!   `instance_url`.
//! - Tokens are persisted only through a [`TokenStore`]; no token ever appears in a log line,
//!   an error or `Debug` output.
//! - On `INVALID_SESSION_ID` the client refreshes once and retries once; a refresh answered
//!   `invalid_grant` leaves it in the reconnect-needed state until a new login.
#![deny(missing_docs)]

pub mod client;
pub mod error;
pub mod escape;
pub mod host;
pub mod legacy;
pub mod oauth;
pub mod rest;
pub mod tokens;
pub mod usage;

pub use client::{Client, ClientConfig, PendingLogin};
pub use error::{ApiError, Error, ErrorClass, Result};
pub use host::LoginHost;
pub use oauth::{DeviceCode, DevicePoll};
pub use rest::{
    ApiBase, ApiVersion, SaveResult, SearchIn, SearchObject, SearchRecord, SearchSpec, UserInfo,
};
pub use tokens::{KeyringStore, MemoryStore, TokenStore, Tokens};
pub use usage::ApiUsage;
