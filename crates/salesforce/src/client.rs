//! The client: one injected HTTP send (reqwest, no redirects, a timeout on every request),
//! the session (tokens, API version, reconnect state) and the endpoint methods.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{header, HeaderValue, Request};
use oauth2::{
    AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    Scope,
};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{watch, Mutex};
use tracing::Instrument;
use url::Url;

use crate::error::{Error, Result};
use crate::host::LoginHost;
use crate::oauth::{
    bind_loopback, map_reqwest, map_token_error, oauth_client, parse_device_code,
    parse_device_poll, parse_revoke, prepare_device_code, prepare_device_poll, prepare_revoke,
    tokens_from_oauth, wait_for_code, DeviceCode, DevicePoll, OAuthClient,
};
use crate::rest::{
    self, ApiBase, ApiVersion, Limit, QueryResult, Response, SaveResult, SearchIn, SearchRecord,
    SearchSpec, UserInfo,
};
use crate::tokens::{TokenStore, Tokens};
use crate::usage::{parse_api_usage, ApiUsage};

/// Everything the client needs to know, with documented defaults.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Where OAuth happens.
    pub login_host: LoginHost,
    /// Consumer key of the External Client App / Connected App.
    pub client_id: String,
    /// Scopes requested (default `api refresh_token id`).
    pub scopes: Vec<String>,
    /// Fixed loopback port for orgs that register an exact callback URL (default: random).
    pub redirect_port: Option<u16>,
    /// How long to wait for the browser redirect (default 5 minutes).
    pub login_timeout: Duration,
    /// Timeout of every HTTP request (default 20 s).
    pub request_timeout: Duration,
    /// Lowest acceptable API version (default v58.0).
    pub version_floor: ApiVersion,
    /// Objects and fields searched (default Contact, Lead, Account).
    pub search: SearchSpec,
}

impl ClientConfig {
    /// A configuration with the defaults above.
    pub fn new(login_host: LoginHost, client_id: impl Into<String>) -> Self {
        Self {
            login_host,
            client_id: client_id.into(),
            scopes: vec!["api".into(), "refresh_token".into(), "id".into()],
            redirect_port: None,
            login_timeout: Duration::from_secs(300),
            request_timeout: Duration::from_secs(20),
            version_floor: ApiVersion::DEFAULT_FLOOR,
            search: SearchSpec::default(),
        }
    }
}

#[derive(Default)]
struct Session {
    tokens: Option<Tokens>,
    version: Option<ApiVersion>,
    reconnect_needed: bool,
}

/// Where sign-ins, refreshes and revocations go: the login host and its OAuth endpoints.
struct Login {
    url: Url,
    oauth: OAuthClient,
}

struct Inner {
    config: ClientConfig,
    /// Replaced by [`Client::switch_login_host`].
    login: std::sync::RwLock<Arc<Login>>,
    http: reqwest::Client,
    store: Arc<dyn TokenStore>,
    session: Mutex<Session>,
    usage: watch::Sender<Option<ApiUsage>>,
}

/// The Salesforce client. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("login_url", &self.login().url.as_str())
            .field("client_id", &self.inner.config.client_id)
            .finish_non_exhaustive()
    }
}

/// A login waiting for the browser: open [`PendingLogin::authorize_url`], then
/// [`PendingLogin::finish`].
pub struct PendingLogin {
    /// The URL to open in the system browser.
    pub authorize_url: Url,
    /// The redirect URI named in it (`http://localhost:<port>/callback`).
    pub redirect_uri: String,
    listener: TcpListener,
    state: CsrfToken,
    verifier: PkceCodeVerifier,
    client: Client,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl PendingLogin {
    /// Wait for the redirect, exchange the code (with the PKCE verifier), save the tokens.
    pub async fn finish(self) -> Result<Tokens> {
        let inner = &self.client.inner;
        let code = wait_for_code(
            &self.listener,
            self.state.secret(),
            inner.config.login_timeout,
        )
        .await?;
        drop(self.listener);
        let redirect =
            RedirectUrl::new(self.redirect_uri.clone()).map_err(|e| Error::InvalidInput {
                what: "redirect URI",
                reason: e.to_string(),
            })?;
        let login = self.client.login();
        let resp = login
            .oauth
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(self.verifier)
            .set_redirect_uri(Cow::Owned(redirect))
            .request_async(&inner.http)
            .instrument(tracing::debug_span!(
                "sf_oauth",
                grant = "authorization_code"
            ))
            .await
            .map_err(map_token_error)?;
        let tokens = tokens_from_oauth(resp, None, SystemTime::now())?;
        self.client.install(tokens.clone()).await?;
        tracing::info!(instance = %tokens.instance_url, "signed in to Salesforce");
        Ok(tokens)
    }
}

fn is_invalid_session(resp: &Response) -> bool {
    resp.status == http::StatusCode::UNAUTHORIZED
        && matches!(rest::check_status("x", resp), Err(ref e) if e.api_code() == Some("INVALID_SESSION_ID") || e.api_code().is_none())
}

impl Client {
    /// A client for `config`, with the session (if any) loaded from `store`.
    pub fn new(config: ClientConfig, store: Arc<dyn TokenStore>) -> Result<Self> {
        let login_url = config.login_host.url()?;
        let oauth = oauth_client(&login_url, &config.client_id)?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .build()
            .map_err(|e| map_reqwest(e, "HTTP client setup"))?;
        let tokens = store.load()?;
        let (usage, _) = watch::channel(None);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                login: std::sync::RwLock::new(Arc::new(Login {
                    url: login_url,
                    oauth,
                })),
                http,
                store,
                session: Mutex::new(Session {
                    tokens,
                    ..Session::default()
                }),
                usage,
            }),
        })
    }

    /// The validated login host URL.
    pub fn login_url(&self) -> Url {
        self.login().url.clone()
    }

    fn login(&self) -> Arc<Login> {
        self.inner
            .login
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Signs in through another login host from now on (production, sandbox, My Domain): the
    /// session of the previous one belongs to another org, so it is ended first (its refresh
    /// token revoked where it was issued, the stored tokens cleared). Nothing changes when the
    /// host is the one in use. A revocation that fails is logged; the local session is gone
    /// either way.
    pub async fn switch_login_host(&self, host: &LoginHost) -> Result<()> {
        let url = host.url()?;
        if url == self.login_url() {
            return Ok(());
        }
        let oauth = oauth_client(&url, &self.inner.config.client_id)?;
        if let Err(e) = self.disconnect().await {
            tracing::warn!(error = %e, "the previous login host's session was not revoked");
        }
        *self
            .inner
            .login
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(Login { url, oauth });
        tracing::info!(login = %self.login_url(), "login host changed");
        Ok(())
    }

    /// The instance URL of the session (where records live and pops go), when signed in.
    pub async fn instance_url(&self) -> Option<Url> {
        let s = self.inner.session.lock().await;
        s.tokens.as_ref().map(|t| t.instance_url.clone())
    }

    async fn install(&self, tokens: Tokens) -> Result<()> {
        self.inner.store.save(&tokens)?;
        let mut s = self.inner.session.lock().await;
        *s = Session {
            tokens: Some(tokens),
            version: None,
            reconnect_needed: false,
        };
        Ok(())
    }

    // ---- login ---------------------------------------------------------------------------

    /// Step one of the browser login: bind the loopback listener and build the authorize URL
    /// (PKCE S256, random state).
    pub async fn begin_login(&self) -> Result<PendingLogin> {
        let listener = bind_loopback(self.inner.config.redirect_port).await?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::Listener {
                message: e.to_string(),
            })?
            .port();
        let redirect_uri = format!("http://localhost:{port}/callback");
        let redirect = RedirectUrl::new(redirect_uri.clone()).map_err(|e| Error::InvalidInput {
            what: "redirect URI",
            reason: e.to_string(),
        })?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let login = self.login();
        let (authorize_url, state) = login
            .oauth
            .authorize_url(CsrfToken::new_random)
            .add_scopes(self.inner.config.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Owned(redirect))
            .url();
        tracing::debug!(port, "loopback listener ready for the OAuth redirect");
        Ok(PendingLogin {
            authorize_url,
            redirect_uri,
            listener,
            state,
            verifier,
            client: self.clone(),
        })
    }

    /// The whole browser login: `open` shows the authorize URL (the system browser in the app).
    pub async fn pkce_login(&self, open: impl FnOnce(&Url) -> Result<()>) -> Result<Tokens> {
        let pending = self.begin_login().await?;
        open(&pending.authorize_url)?;
        pending.finish().await
    }

    /// The device flow (Salesforce dialect; secondary path): `show` tells the user the code.
    pub async fn device_login(&self, show: impl FnOnce(&DeviceCode)) -> Result<Tokens> {
        let inner = &self.inner;
        let login = self.login();
        let req = prepare_device_code(&login.url, &inner.config.client_id, &inner.config.scopes)?;
        let device = parse_device_code(&self.send(req, None).await?)?;
        show(&device);
        let deadline = tokio::time::Instant::now() + inner.config.login_timeout;
        let mut interval = device.interval;
        loop {
            tokio::time::sleep(interval).await;
            if tokio::time::Instant::now() > deadline {
                return Err(Error::LoginTimeout {
                    after: inner.config.login_timeout,
                });
            }
            let req = prepare_device_poll(&login.url, &inner.config.client_id, &device)?;
            match parse_device_poll(&self.send(req, None).await?, SystemTime::now())? {
                DevicePoll::Pending => {}
                DevicePoll::SlowDown => interval += Duration::from_secs(5),
                DevicePoll::Done(tokens) => {
                    self.install((*tokens).clone()).await?;
                    return Ok(*tokens);
                }
            }
        }
    }

    /// LEGACY: SOAP `login()` with username and password + security token (see
    /// [`crate::legacy`]). No refresh token: an expired session needs a new login.
    pub async fn legacy_soap_login(
        &self,
        username: &str,
        password: &SecretString,
    ) -> Result<Tokens> {
        let login = self.login();
        let login = &login.url;
        let req = crate::legacy::prepare_soap_login(
            login,
            crate::legacy::LAST_SOAP_LOGIN_VERSION,
            username,
            password,
        )?;
        let resp = self.send(req, None).await?;
        let tokens = crate::legacy::parse_soap_login(login, &resp, SystemTime::now())?;
        self.install(tokens.clone()).await?;
        tracing::warn!("signed in with the legacy SOAP login(): no refresh token");
        Ok(tokens)
    }

    /// Revoke the refresh token (or the access token without one) and forget the session.
    /// The local session is cleared even when the revoke call fails.
    pub async fn disconnect(&self) -> Result<()> {
        let tokens = {
            let mut s = self.inner.session.lock().await;
            let t = s.tokens.take();
            *s = Session::default();
            t
        };
        self.inner.store.clear()?;
        let Some(tokens) = tokens else { return Ok(()) };
        let token = tokens
            .refresh_token
            .as_ref()
            .unwrap_or(&tokens.access_token);
        let req = prepare_revoke(&self.login().url, token)?;
        parse_revoke(&self.send(req, None).await?)
    }

    /// Whether a refresh was refused and only a new login helps.
    pub async fn needs_reconnect(&self) -> bool {
        self.inner.session.lock().await.reconnect_needed
    }

    /// Whether there is a session to use.
    pub async fn is_signed_in(&self) -> bool {
        let s = self.inner.session.lock().await;
        s.tokens.is_some() && !s.reconnect_needed
    }

    // ---- usage ---------------------------------------------------------------------------

    /// The latest `api-usage` Salesforce reported, if any yet.
    pub fn api_usage(&self) -> Option<ApiUsage> {
        *self.inner.usage.borrow()
    }

    /// A receiver that sees every new `api-usage` figure.
    pub fn watch_api_usage(&self) -> watch::Receiver<Option<ApiUsage>> {
        self.inner.usage.subscribe()
    }

    // ---- send ----------------------------------------------------------------------------

    /// The one HTTP send. Adds the bearer token (marked sensitive), records the usage header,
    /// logs method, path and status (never the query string or a header).
    async fn send(
        &self,
        mut req: Request<Vec<u8>>,
        token: Option<&SecretString>,
    ) -> Result<Response> {
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let span =
            tracing::debug_span!("sf_request", %method, %path, status = tracing::field::Empty);
        let what = format!("{method} {path}");
        async {
            if let Some(t) = token {
                let mut v = HeaderValue::from_str(&format!("Bearer {}", t.expose_secret()))
                    .map_err(|_| Error::InvalidInput {
                        what: "access token",
                        reason: "not a valid header value".into(),
                    })?;
                v.set_sensitive(true);
                req.headers_mut().insert(header::AUTHORIZATION, v);
            }
            let rq = reqwest::Request::try_from(req).map_err(|e| map_reqwest(e, &what))?;
            let r = self.inner.http.execute(rq).await.map_err(|e| {
                let err = map_reqwest(e, &what);
                tracing::debug!(error = %err, "request failed");
                err
            })?;
            let status = r.status();
            let headers = r.headers().clone();
            let body = r.bytes().await.map_err(|e| map_reqwest(e, &what))?.to_vec();
            tracing::Span::current().record("status", status.as_u16());
            if let Some(u) = parse_api_usage(&headers) {
                self.inner.usage.send_replace(Some(u));
            }
            tracing::debug!(status = status.as_u16(), bytes = body.len(), "response");
            Ok(Response {
                status,
                headers,
                body,
            })
        }
        .instrument(span)
        .await
    }

    async fn current(&self) -> Result<Tokens> {
        let s = self.inner.session.lock().await;
        if s.reconnect_needed {
            return Err(Error::ReconnectNeeded);
        }
        s.tokens.clone().ok_or(Error::NotSignedIn)
    }

    /// Refresh after `failed` was refused. Concurrent callers share one refresh.
    async fn refresh_after(&self, failed: &Tokens) -> Result<Tokens> {
        let mut s = self.inner.session.lock().await;
        if s.reconnect_needed {
            return Err(Error::ReconnectNeeded);
        }
        let current = s.tokens.clone().ok_or(Error::NotSignedIn)?;
        if current.access_token.expose_secret() != failed.access_token.expose_secret() {
            return Ok(current);
        }
        let Some(refresh) = current.refresh_token.clone() else {
            s.reconnect_needed = true;
            return Err(Error::ReconnectNeeded);
        };
        let login = self.login();
        let result = login
            .oauth
            .exchange_refresh_token(&RefreshToken::new(refresh.expose_secret().to_string()))
            .request_async(&self.inner.http)
            .instrument(tracing::debug_span!("sf_oauth", grant = "refresh_token"))
            .await;
        match result {
            Ok(resp) => {
                let tokens = tokens_from_oauth(resp, Some(refresh), SystemTime::now())?;
                self.inner.store.save(&tokens)?;
                s.tokens = Some(tokens.clone());
                tracing::info!("Salesforce access token refreshed");
                Ok(tokens)
            }
            Err(e) => match map_token_error(e) {
                Error::OAuth { error, .. } if error == "invalid_grant" => {
                    tracing::warn!("refresh token refused: sign-in needed");
                    s.reconnect_needed = true;
                    s.tokens = None;
                    self.inner.store.clear()?;
                    Err(Error::ReconnectNeeded)
                }
                other => Err(other),
            },
        }
    }

    /// Force a refresh of the access token now.
    pub async fn refresh(&self) -> Result<()> {
        let t = self.current().await?;
        self.refresh_after(&t).await.map(|_| ())
    }

    /// The negotiated API version (discovered once per session).
    pub async fn api_version(&self) -> Result<ApiVersion> {
        let tokens = self.current().await?;
        if let Some(v) = self.inner.session.lock().await.version {
            return Ok(v);
        }
        let resp = self
            .send(rest::prepare_versions(&tokens.instance_url)?, None)
            .await?;
        let v = rest::pick_version(
            &rest::parse_versions(&resp)?,
            self.inner.config.version_floor,
        )?;
        self.inner.session.lock().await.version = Some(v);
        tracing::debug!(version = %v, "API version chosen");
        Ok(v)
    }

    /// Prepare, send with the token, parse; on a session error refresh once and retry once.
    async fn call<T>(
        &self,
        prepare: impl Fn(&ApiBase) -> Result<Request<Vec<u8>>>,
        parse: impl Fn(&Response) -> Result<T>,
    ) -> Result<T> {
        let version = self.api_version().await?;
        let tokens = self.current().await?;
        let base = ApiBase {
            instance_url: tokens.instance_url.clone(),
            version,
        };
        let resp = self
            .send(prepare(&base)?, Some(&tokens.access_token))
            .await?;
        if !is_invalid_session(&resp) {
            return parse(&resp);
        }
        tracing::debug!("session refused: refreshing once");
        let tokens = self.refresh_after(&tokens).await?;
        let base = ApiBase {
            instance_url: tokens.instance_url.clone(),
            version,
        };
        let resp = self
            .send(prepare(&base)?, Some(&tokens.access_token))
            .await?;
        parse(&resp)
    }

    // ---- endpoints -----------------------------------------------------------------------

    /// Who is signed in.
    pub async fn userinfo(&self) -> Result<UserInfo> {
        self.call(
            |b| rest::prepare_userinfo(&b.instance_url),
            rest::parse_userinfo,
        )
        .await
    }

    /// Search phone fields for any of `terms` (each escaped, ORed).
    pub async fn search_phone(&self, terms: &[impl AsRef<str>]) -> Result<Vec<SearchRecord>> {
        let spec = &self.inner.config.search;
        self.call(
            |b| rest::prepare_search(b, spec, terms, SearchIn::Phone),
            rest::parse_search,
        )
        .await
    }

    /// Search name fields (the agent's manual contact/lead picker).
    pub async fn search_name(&self, terms: &[impl AsRef<str>]) -> Result<Vec<SearchRecord>> {
        let spec = &self.inner.config.search;
        self.call(
            |b| rest::prepare_search(b, spec, terms, SearchIn::Name),
            rest::parse_search,
        )
        .await
    }

    /// Create one record.
    pub async fn create(&self, sobject: &str, record: &impl Serialize) -> Result<SaveResult> {
        self.call(
            |b| rest::prepare_create(b, sobject, record),
            rest::parse_create,
        )
        .await
    }

    /// Create up to 200 records in one sObject Collections call (`allOrNone:false`).
    pub async fn create_many<R: Serialize>(
        &self,
        records: &[(&str, R)],
    ) -> Result<Vec<SaveResult>> {
        if records.len() > rest::COLLECTION_MAX {
            return Err(Error::TooManyRecords {
                count: records.len(),
                max: rest::COLLECTION_MAX,
            });
        }
        self.call(
            |b| rest::prepare_create_collection(b, records),
            rest::parse_create_collection,
        )
        .await
    }

    /// Update fields of one record.
    pub async fn update(&self, sobject: &str, id: &str, fields: &impl Serialize) -> Result<()> {
        self.call(
            |b| rest::prepare_update(b, sobject, id, fields),
            rest::parse_update,
        )
        .await
    }

    /// Run a SOQL query (first page).
    pub async fn query(&self, soql: &str) -> Result<QueryResult> {
        self.call(|b| rest::prepare_query(b, soql), rest::parse_query)
            .await
    }

    /// Tasks whose `CallObject` equals `call_object` (for idempotent call logging).
    pub async fn find_tasks_by_call_object(&self, call_object: &str) -> Result<Vec<SearchRecord>> {
        let soql = rest::soql_task_by_call_object(call_object);
        Ok(self.query(&soql).await?.records)
    }

    /// The org's limits (`DailyApiRequests`, …).
    pub async fn limits(&self) -> Result<BTreeMap<String, Limit>> {
        self.call(rest::prepare_limits, rest::parse_limits).await
    }
}
