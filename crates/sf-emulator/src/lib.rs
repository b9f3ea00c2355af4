//! A faithful loopback Salesforce for tests, benchmarks and the demo.
//!
//! Contract: [`Emulator::start`] binds two plain-HTTP listeners on loopback, a *login host*
//! (OAuth only) and an *instance* (OAuth, REST under `/services/data/vNN.0/` for v58.0–v66.0, and
//! the control API under `/__emulator/`). Responses use Salesforce's documented JSON shapes,
//! status codes, error bodies (`[{"message","errorCode"}]`, `statusCode` inside collections) and
//! the `Sforce-Limit-Info` header. Data lives in memory; the seed data is deterministic. Tokens are
//! random and never logged. Faults, latency, the API limit and the phone-matching mode can be
//! changed at run time from Rust or over HTTP.
#![deny(missing_docs)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

mod control;
pub mod error;
pub mod faults;
pub mod ids;
pub mod limits;
mod oauth;
pub mod phone;
mod rest;
pub mod schema;
pub mod search;
pub mod seed;
mod server;
pub mod sessions;
pub mod soql;
pub mod store;

pub use error::{Error, Result};
pub use faults::Fault;
pub use phone::PhoneMatch;

/// How the emulator is set up. Every field has a documented default.
#[derive(Clone, Debug)]
pub struct Config {
    /// Address of the OAuth "login host" (default `127.0.0.1:0`, a random port).
    pub login_addr: SocketAddr,
    /// Address of the org's instance: REST, OAuth and the control API (default `127.0.0.1:0`).
    pub instance_addr: SocketAddr,
    /// Load the deterministic seed data (default `true`).
    pub seed: bool,
    /// Lifetime of access tokens (default 2 h); an expired token gets 401 `INVALID_SESSION_ID`.
    pub access_token_ttl: Duration,
    /// Daily API request allocation (default 15 000).
    pub daily_api_limit: u64,
    /// How phone searches compare numbers (default [`PhoneMatch::Exact`]).
    pub phone_match: PhoneMatch,
    /// `/authorize` redirects at once instead of showing the approve page (default `false`).
    pub auto_approve: bool,
    /// Added to every REST and OAuth response (default 0).
    pub latency: Duration,
    /// Records created through the API are found by search only this long after creation (default 0).
    pub search_index_lag: Duration,
    /// The connected app's consumer key (default `callpop-desktop`; a public client: PKCE, no secret).
    pub client_id: String,
}

impl Default for Config {
    fn default() -> Self {
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        Config {
            login_addr: loopback,
            instance_addr: loopback,
            seed: true,
            access_token_ttl: Duration::from_secs(2 * 60 * 60),
            daily_api_limit: 15_000,
            phone_match: PhoneMatch::Exact,
            auto_approve: false,
            latency: Duration::ZERO,
            search_index_lag: Duration::ZERO,
            client_id: "callpop-desktop".to_owned(),
        }
    }
}

/// A signed-in session, as the token endpoint would return it.
#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    /// Bearer token for REST calls.
    pub access_token: String,
    /// Refresh token for `grant_type=refresh_token`.
    pub refresh_token: String,
    /// The instance URL to send REST calls to.
    pub instance_url: Url,
    /// The identity URL (`/id/<orgId>/<userId>` on the login host).
    pub id_url: Url,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("instance_url", &self.instance_url.as_str())
            .field("id_url", &self.id_url.as_str())
            .finish()
    }
}

/// One request the emulator answered (REST and OAuth; control requests are not logged).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiCall {
    /// HTTP method.
    pub method: String,
    /// Path as requested.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Status answered (0 when the connection was reset or the request hung).
    pub status: u16,
    /// Whether it counted against the daily API limit.
    pub counted: bool,
}

/// How many requests the call log keeps (the oldest are dropped first).
pub const CALL_LOG_MAX: usize = 100_000;

/// Mutable state behind one lock.
pub(crate) struct State {
    pub data: store::Data,
    pub sessions: sessions::Sessions,
    pub usage: limits::Usage,
    pub faults: VecDeque<Fault>,
    pub latency: Duration,
    pub phone_match: PhoneMatch,
    pub calls: VecDeque<ApiCall>,
    /// Query locators (`01g…`) → every row of that query result, for `nextRecordsUrl`.
    pub cursors: std::collections::HashMap<String, (Vec<Value>, usize)>,
}

/// What every handler shares.
pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub client_id: String,
    pub token_ttl: Duration,
    pub auto_approve: bool,
    pub search_index_lag: Duration,
    pub login_url: Url,
    pub instance_url: Url,
    pub signing_key: Vec<u8>,
}

impl State {
    /// Appends to the call log, dropping the oldest entry when it is full.
    pub fn log_call(&mut self, call: ApiCall) {
        if self.calls.len() >= CALL_LOG_MAX {
            self.calls.pop_front();
        }
        self.calls.push_back(call);
    }
}

impl Shared {
    /// The state, even if a panicking thread poisoned the lock.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running emulator. Dropping it without [`Emulator::shutdown`] leaves the listeners running
/// until the runtime ends.
pub struct Emulator {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Emulator {
    /// Binds both listeners, loads the seed data if asked, and starts serving.
    #[tracing::instrument(skip_all)]
    pub async fn start(config: Config) -> std::io::Result<Emulator> {
        let login = tokio::net::TcpListener::bind(config.login_addr).await?;
        let instance = tokio::net::TcpListener::bind(config.instance_addr).await?;
        let url_of = |l: &tokio::net::TcpListener| -> std::io::Result<Url> {
            let addr = l.local_addr()?;
            Url::parse(&format!("http://{addr}")).map_err(|e| std::io::Error::other(e.to_string()))
        };
        let login_url = url_of(&login)?;
        let instance_url = url_of(&instance)?;
        let (stop, shutdown) = watch::channel(false);
        let mut state = State {
            data: store::Data::default(),
            sessions: sessions::Sessions::default(),
            usage: limits::Usage::new(config.daily_api_limit),
            faults: VecDeque::new(),
            latency: config.latency,
            phone_match: config.phone_match,
            calls: VecDeque::new(),
            cursors: Default::default(),
        };
        if config.seed {
            rest::sobjects::load_seed(&mut state.data, Instant::now());
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            client_id: config.client_id,
            token_ttl: config.access_token_ttl,
            auto_approve: config.auto_approve,
            search_index_lag: config.search_index_lag,
            login_url,
            instance_url,
            signing_key: sessions::random_token(32).into_bytes(),
        });
        let tasks = vec![
            tokio::spawn(server::serve(
                login,
                server::login_router(shared.clone()),
                shutdown.clone(),
            )),
            tokio::spawn(server::serve(
                instance,
                server::instance_router(shared.clone()),
                shutdown,
            )),
        ];
        tracing::info!(login_url = %shared.login_url, instance_url = %shared.instance_url, "sf-emulator listening");
        Ok(Emulator {
            shared,
            stop,
            tasks,
        })
    }

    /// The login host, `http://127.0.0.1:<login port>`.
    pub fn login_url(&self) -> Url {
        self.shared.login_url.clone()
    }

    /// The instance, `http://127.0.0.1:<instance port>`.
    pub fn instance_url(&self) -> Url {
        self.shared.instance_url.clone()
    }

    /// The connected app's consumer key.
    pub fn client_id(&self) -> &str {
        &self.shared.client_id
    }

    /// A session as if the demo user had signed in with scope `api id refresh_token`.
    pub fn mint_tokens(&self) -> Tokens {
        oauth::mint_tokens(&self.shared)
    }

    /// Every current access token now answers 401 `INVALID_SESSION_ID`; refresh tokens stay valid.
    pub fn expire_access_tokens(&self) {
        self.shared.lock().sessions.expire_all_access();
    }

    /// Every refresh token now answers 400 `invalid_grant`.
    pub fn revoke_refresh_tokens(&self) {
        self.shared.lock().sessions.revoke_all_refresh();
    }

    /// The next `count` counted REST requests fail with `fault`.
    pub fn inject_fault(&self, fault: Fault, count: u32) {
        self.shared
            .lock()
            .faults
            .extend(std::iter::repeat_n(fault, count as usize));
    }

    /// Delay added to every REST and OAuth response.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }

    /// How phone searches compare numbers.
    pub fn set_phone_match(&self, mode: PhoneMatch) {
        self.shared.lock().phone_match = mode;
    }

    /// The daily API allocation.
    pub fn set_daily_api_limit(&self, max: u64) {
        self.shared.lock().usage.max = max;
    }

    /// `(used, max)` of the daily API allocation.
    pub fn api_usage(&self) -> (u64, u64) {
        let s = self.shared.lock();
        (s.usage.used, s.usage.max)
    }

    /// The requests answered since start or [`Emulator::clear_calls`], in order (the newest
    /// [`CALL_LOG_MAX`] of them, so that long benchmark runs do not grow without bound).
    pub fn calls(&self) -> Vec<ApiCall> {
        self.shared.lock().calls.iter().cloned().collect()
    }

    /// Forgets the request log.
    pub fn clear_calls(&self) {
        self.shared.lock().calls.clear();
    }

    /// The stored records of a type with all fields including `Id` (empty for unknown types).
    pub fn records(&self, sobject: &str) -> Vec<Value> {
        let Some(sobject) = schema::canonical_sobject(sobject) else {
            return Vec::new();
        };
        self.shared
            .lock()
            .data
            .all(sobject)
            .map(|r| Value::Object(r.fields.clone()))
            .collect()
    }

    /// Stores a record without validation (defaults and `Name` are filled in); returns its 18-char Id.
    /// Unknown types and non-object `fields` store nothing and return an empty string.
    pub fn insert_record(&self, sobject: &str, fields: Value) -> String {
        let (Some(sobject), Value::Object(fields)) = (schema::canonical_sobject(sobject), fields)
        else {
            return String::new();
        };
        let mut state = self.shared.lock();
        rest::sobjects::insert_unchecked(&mut state.data, sobject, fields, None)
    }

    /// Drops all data, counters, faults and the call log, and reloads the seed if asked.
    /// Tokens already issued stay valid.
    pub fn reset(&self, seed: bool) {
        control::reset(&self.shared, seed);
    }

    /// Stops both listeners and ends open connections (including hung requests).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
