//! OAuth pieces: the `oauth2` crate configured for Salesforce, the loopback redirect listener
//! (RFC 8252) and the Salesforce dialect of the device flow as prepare/parse pairs.

use std::time::{Duration, SystemTime};

use http::{header, Method, Request};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, ClientId, EndpointNotSet, EndpointSet, ExtraTokenFields, HttpClientError,
    RequestTokenError, StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use crate::error::{Error, Result};
use crate::rest::Response;
use crate::tokens::{parse_token_body, tokens_from_parts, Tokens};

/// The Salesforce fields of a token response beyond RFC 6749.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SalesforceTokenFields {
    /// Where REST calls go.
    pub instance_url: String,
    /// Identity URL.
    pub id: String,
    /// Epoch milliseconds, as a string.
    #[serde(default)]
    pub issued_at: Option<String>,
}
impl ExtraTokenFields for SalesforceTokenFields {}

/// The token response as the `oauth2` crate parses it.
pub type SalesforceTokenResponse = StandardTokenResponse<SalesforceTokenFields, BasicTokenType>;

/// The `oauth2` client with authorize and token endpoints set. Revocation is our own
/// [`prepare_revoke`] / [`parse_revoke`]: `oauth2` insists on an https revocation URL, which the
/// loopback emulator does not have.
pub type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    SalesforceTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

fn endpoint(login: &Url, path: &str) -> Result<Url> {
    login.join(path).map_err(|e| Error::InvalidInput {
        what: "login URL",
        reason: e.to_string(),
    })
}

/// The `oauth2` client for a login host (public client: `client_id` goes in the form body).
pub fn oauth_client(login: &Url, client_id: &str) -> Result<OAuthClient> {
    Ok(oauth2::Client::new(ClientId::new(client_id.to_string()))
        .set_auth_uri(AuthUrl::from_url(endpoint(
            login,
            "/services/oauth2/authorize",
        )?))
        .set_token_uri(TokenUrl::from_url(endpoint(
            login,
            "/services/oauth2/token",
        )?)))
}

/// [`Tokens`] from an `oauth2` token response.
pub fn tokens_from_oauth(
    resp: SalesforceTokenResponse,
    previous_refresh: Option<SecretString>,
    now: SystemTime,
) -> Result<Tokens> {
    let extra = resp.extra_fields();
    tokens_from_parts(
        resp.access_token().secret().clone(),
        resp.refresh_token().map(|r| r.secret().clone()),
        &extra.instance_url,
        &extra.id,
        extra.issued_at.as_deref(),
        previous_refresh,
        now,
    )
}

/// Map an `oauth2` request error to ours. A body that failed to parse is not kept (it may hold
/// a token).
pub fn map_token_error<T>(e: RequestTokenError<HttpClientError<reqwest::Error>, T>) -> Error
where
    T: oauth2::ErrorResponse + Serialize + 'static,
{
    match e {
        RequestTokenError::ServerResponse(err) => {
            let v = serde_json::to_value(&err).unwrap_or_default();
            Error::OAuth {
                error: v["error"].as_str().unwrap_or("unknown").to_string(),
                description: v["error_description"].as_str().map(str::to_string),
            }
        }
        RequestTokenError::Request(HttpClientError::Reqwest(re)) => {
            map_reqwest(*re, "OAuth token endpoint")
        }
        RequestTokenError::Request(other) => Error::Connection {
            message: other.to_string(),
        },
        RequestTokenError::Parse(err, _body) => Error::Decode {
            what: "OAuth response",
            message: err.to_string(),
            body: String::new(),
        },
        RequestTokenError::Other(msg) => Error::Status {
            status: 0,
            what: "OAuth endpoint",
            body: msg,
        },
    }
}

/// Map a transport error (the URL is stripped: it may carry a query string).
pub fn map_reqwest(e: reqwest::Error, what: &str) -> Error {
    let e = e.without_url();
    if e.is_timeout() {
        Error::Timeout {
            what: what.to_string(),
        }
    } else if e.is_decode() || e.is_body() {
        Error::Decode {
            what: "response body",
            message: error_chain(&e),
            body: String::new(),
        }
    } else {
        Error::Connection {
            message: error_chain(&e),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

// ---- loopback redirect listener ----------------------------------------------------------

/// What one request to the loopback listener meant.
#[derive(Debug)]
pub enum Callback {
    /// The authorization code (state already checked).
    Code(String),
    /// Not our callback path (e.g. `/favicon.ico`): answer 404 and keep waiting.
    Other,
    /// The redirect ended the login with an error.
    Failed(Error),
}

/// Interpret the request target of a browser request (`/callback?code=…&state=…`).
pub fn parse_callback(target: &str, expected_state: &str) -> Callback {
    let Ok(url) = Url::parse("http://localhost/").and_then(|b| b.join(target)) else {
        return Callback::Other;
    };
    if url.path() != "/callback" {
        return Callback::Other;
    }
    let get = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    if let Some(error) = get("error") {
        return Callback::Failed(Error::AuthorizationDenied {
            error,
            description: get("error_description"),
        });
    }
    if get("state").as_deref() != Some(expected_state) {
        return Callback::Failed(Error::StateMismatch);
    }
    match get("code") {
        Some(code) if !code.is_empty() => Callback::Code(code),
        _ => Callback::Failed(Error::Listener {
            message: "callback without code".into(),
        }),
    }
}

const PAGE_OK: &str =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Callpop</title></head>\
<body style=\"font-family:sans-serif\"><h1>Signed in to Salesforce</h1>\
<p>You can close this tab and return to Callpop.</p></body></html>";
const PAGE_DENIED: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Callpop</title></head>\
<body style=\"font-family:sans-serif\"><h1>Sign-in was not completed</h1>\
<p>Salesforce did not grant access. You can close this tab and try again from Callpop.</p></body></html>";
const PAGE_ERROR: &str = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Callpop</title></head>\
<body style=\"font-family:sans-serif\"><h1>Sign-in failed</h1>\
<p>The answer from Salesforce could not be used. You can close this tab and try again from Callpop.</p></body></html>";

async fn answer(stream: &mut TcpStream, status: &str, page: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        page.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(page.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Read a request head (up to 16 KiB) and return its target.
async fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let line = head.lines().next()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?;
    let target = parts.next()?;
    (method == "GET").then(|| target.to_string())
}

/// Bind the loopback listener: `127.0.0.1:port`, port 0 for a random one.
pub async fn bind_loopback(port: Option<u16>) -> Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port.unwrap_or(0)))
        .await
        .map_err(|e| Error::Listener {
            message: format!("bind 127.0.0.1:{}: {e}", port.unwrap_or(0)),
        })
}

/// Serve the loopback listener until the callback arrives or `timeout` passes.
pub async fn wait_for_code(
    listener: &TcpListener,
    expected_state: &str,
    timeout: Duration,
) -> Result<String> {
    let serve = async {
        loop {
            let (mut stream, _) = listener.accept().await.map_err(|e| Error::Listener {
                message: format!("accept: {e}"),
            })?;
            let Some(target) = read_target(&mut stream).await else {
                answer(&mut stream, "400 Bad Request", PAGE_ERROR).await;
                continue;
            };
            match parse_callback(&target, expected_state) {
                Callback::Code(code) => {
                    answer(&mut stream, "200 OK", PAGE_OK).await;
                    return Ok(code);
                }
                Callback::Other => answer(&mut stream, "404 Not Found", PAGE_ERROR).await,
                Callback::Failed(err @ Error::AuthorizationDenied { .. }) => {
                    answer(&mut stream, "200 OK", PAGE_DENIED).await;
                    return Err(err);
                }
                Callback::Failed(err) => {
                    answer(&mut stream, "400 Bad Request", PAGE_ERROR).await;
                    return Err(err);
                }
            }
        }
    };
    tokio::time::timeout(timeout, serve)
        .await
        .map_err(|_| Error::LoginTimeout { after: timeout })?
}

// ---- device flow (Salesforce dialect) ----------------------------------------------------

/// What the user must do to approve a device login.
#[derive(Debug, Clone)]
pub struct DeviceCode {
    /// Polling secret (never shown).
    pub device_code: SecretString,
    /// Code the user types.
    pub user_code: String,
    /// Where the user types it.
    pub verification_uri: String,
    /// Polling interval.
    pub interval: Duration,
}

/// One poll's outcome.
#[derive(Debug)]
pub enum DevicePoll {
    /// Not approved yet: poll again after the interval.
    Pending,
    /// Polling too fast: lengthen the interval.
    SlowDown,
    /// Approved.
    Done(Box<Tokens>),
}

fn form_request(url: &Url, pairs: &[(&str, &str)]) -> Result<Request<Vec<u8>>> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    Request::builder()
        .method(Method::POST)
        .uri(url.as_str())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(body.into_bytes())
        .map_err(|e| Error::InvalidInput {
            what: "request",
            reason: e.to_string(),
        })
}

/// `POST {login}/services/oauth2/token` with `response_type=device_code`.
pub fn prepare_device_code(
    login: &Url,
    client_id: &str,
    scopes: &[String],
) -> Result<Request<Vec<u8>>> {
    let scope = scopes.join(" ");
    form_request(
        &endpoint(login, "/services/oauth2/token")?,
        &[
            ("response_type", "device_code"),
            ("client_id", client_id),
            ("scope", &scope),
        ],
    )
}

/// An OAuth `{"error","error_description"}` body as [`Error::OAuth`].
pub fn parse_oauth_error(resp: &Response) -> Error {
    #[derive(Deserialize)]
    struct E {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    match serde_json::from_slice::<E>(&resp.body) {
        Ok(e) => Error::OAuth {
            error: e.error,
            description: e.error_description,
        },
        Err(_) => Error::Status {
            status: resp.status.as_u16(),
            what: "OAuth endpoint",
            body: String::new(),
        },
    }
}

/// `POST {login}/services/oauth2/revoke` with `token=<refresh or access token>`.
pub fn prepare_revoke(login: &Url, token: &SecretString) -> Result<Request<Vec<u8>>> {
    form_request(
        &endpoint(login, "/services/oauth2/revoke")?,
        &[("token", token.expose_secret())],
    )
}

/// `200` (empty body) on success; otherwise the OAuth error (`invalid_token`, …).
pub fn parse_revoke(resp: &Response) -> Result<()> {
    if resp.status.is_success() {
        Ok(())
    } else {
        Err(parse_oauth_error(resp))
    }
}

/// `{"device_code","user_code","verification_uri","interval"}`.
pub fn parse_device_code(resp: &Response) -> Result<DeviceCode> {
    if !resp.status.is_success() {
        return Err(parse_oauth_error(resp));
    }
    #[derive(Deserialize)]
    struct Raw {
        device_code: String,
        user_code: String,
        verification_uri: String,
        #[serde(default)]
        interval: Option<u64>,
    }
    let raw: Raw = serde_json::from_slice(&resp.body).map_err(|e| Error::Decode {
        what: "device code response",
        message: e.to_string(),
        body: String::new(),
    })?;
    Ok(DeviceCode {
        device_code: raw.device_code.into(),
        user_code: raw.user_code,
        verification_uri: raw.verification_uri,
        interval: Duration::from_secs(raw.interval.unwrap_or(5).max(1)),
    })
}

/// `POST {login}/services/oauth2/token` with `grant_type=device&code=<device_code>`.
pub fn prepare_device_poll(
    login: &Url,
    client_id: &str,
    device: &DeviceCode,
) -> Result<Request<Vec<u8>>> {
    form_request(
        &endpoint(login, "/services/oauth2/token")?,
        &[
            ("grant_type", "device"),
            ("client_id", client_id),
            ("code", device.device_code.expose_secret()),
        ],
    )
}

/// Pending, slow down, tokens, or the OAuth error that ends the flow.
pub fn parse_device_poll(resp: &Response, now: SystemTime) -> Result<DevicePoll> {
    if resp.status.is_success() {
        return parse_token_body(&resp.body, None, now).map(|t| DevicePoll::Done(Box::new(t)));
    }
    match parse_oauth_error(resp) {
        Error::OAuth { error, .. } if error == "authorization_pending" => Ok(DevicePoll::Pending),
        Error::OAuth { error, .. } if error == "slow_down" => Ok(DevicePoll::SlowDown),
        other => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, StatusCode};

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status: StatusCode::from_u16(status).expect("status"),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn callback_outcomes() {
        assert!(
            matches!(parse_callback("/callback?code=aPrx%3D%3D&state=s1", "s1"), Callback::Code(c) if c == "aPrx=="),
            "code is URL-decoded once"
        );
        assert!(
            matches!(
                parse_callback("/callback?code=x&state=evil", "s1"),
                Callback::Failed(Error::StateMismatch)
            ),
            "a foreign state is an error, not a retry"
        );
        assert!(
            matches!(
                parse_callback("/callback?code=x", "s1"),
                Callback::Failed(Error::StateMismatch)
            ),
            "a missing state is a mismatch"
        );
        assert!(
            matches!(
                parse_callback("/callback?error=access_denied&error_description=end-user+denied&state=s1", "s1"),
                Callback::Failed(Error::AuthorizationDenied { ref error, .. }) if error == "access_denied"
            ),
            "denial is reported with its code"
        );
        assert!(
            matches!(
                parse_callback("/callback?error=access-denied", "s1"),
                Callback::Failed(Error::AuthorizationDenied { .. })
            ),
            "the hyphenated spelling from the docs is accepted too"
        );
        assert!(
            matches!(parse_callback("/favicon.ico", "s1"), Callback::Other),
            "other paths are ignored"
        );
        assert!(
            matches!(
                parse_callback("/callback?state=s1", "s1"),
                Callback::Failed(Error::Listener { .. })
            ),
            "a callback without code fails clearly"
        );
    }

    #[tokio::test]
    async fn listener_answers_browser_and_times_out() {
        let listener = bind_loopback(None).await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let browser = tokio::spawn(async move {
            let mut s = TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            s.write_all(b"GET /callback?code=c1&state=st HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await
                .expect("write");
            let mut page = String::new();
            s.read_to_string(&mut page).await.expect("read");
            page
        });
        let code = wait_for_code(&listener, "st", Duration::from_secs(5))
            .await
            .expect("code arrives");
        assert_eq!(code, "c1", "the code from the redirect");
        let page = browser.await.expect("join");
        assert!(page.starts_with("HTTP/1.1 200"), "browser gets 200: {page}");
        assert!(
            page.contains("close this tab"),
            "browser is told to close the tab"
        );
        let err = wait_for_code(&listener, "st", Duration::from_millis(50))
            .await
            .expect_err("nobody calls back");
        assert!(
            matches!(err, Error::LoginTimeout { .. }),
            "timeout is typed: {err:?}"
        );
    }

    #[test]
    fn device_flow_prepare_and_parse() {
        let login = Url::parse("https://login.salesforce.com").expect("url");
        let req = prepare_device_code(&login, "cid", &["api".into(), "refresh_token".into()])
            .expect("prepare");
        let body = String::from_utf8(req.body().clone()).expect("utf8");
        assert_eq!(
            body, "response_type=device_code&client_id=cid&scope=api+refresh_token",
            "Salesforce dialect"
        );
        assert_eq!(
            req.uri().path(),
            "/services/oauth2/token",
            "device codes come from the token endpoint"
        );
        let dc = parse_device_code(&resp(
            200,
            include_str!("../tests/fixtures/device_code.json"),
        ))
        .expect("parses");
        assert_eq!(
            (dc.user_code.as_str(), dc.interval),
            ("8BZL2D5Y", Duration::from_secs(5)),
            "user code and interval"
        );
        let poll = prepare_device_poll(&login, "cid", &dc).expect("prepare");
        let body = String::from_utf8(poll.body().clone()).expect("utf8");
        assert!(
            body.starts_with("grant_type=device&client_id=cid&code="),
            "grant_type=device with code=: {body}"
        );
        assert!(
            matches!(
                parse_device_poll(
                    &resp(
                        400,
                        include_str!("../tests/fixtures/oauth_authorization_pending.json")
                    ),
                    SystemTime::UNIX_EPOCH
                ),
                Ok(DevicePoll::Pending)
            ),
            "pending keeps polling"
        );
        let err = parse_device_poll(
            &resp(
                400,
                include_str!("../tests/fixtures/oauth_invalid_grant.json"),
            ),
            SystemTime::UNIX_EPOCH,
        )
        .expect_err("invalid_grant ends the flow");
        assert!(
            matches!(err, Error::OAuth { ref error, .. } if error == "invalid_grant"),
            "typed OAuth error: {err:?}"
        );
        assert!(
            !format!("{dc:?}").contains("M0RGQUJD"),
            "device code is redacted in Debug"
        );
    }

    #[test]
    fn authorize_url_has_pkce_state_and_loopback_redirect() {
        let login = Url::parse("https://login.salesforce.com").expect("url");
        let client = oauth_client(&login, "cid").expect("client");
        let (challenge, _verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
        let redirect =
            oauth2::RedirectUrl::new("http://localhost:4321/callback".into()).expect("redirect");
        let (url, state) = client
            .authorize_url(oauth2::CsrfToken::new_random)
            .add_scope(oauth2::Scope::new("api".into()))
            .set_pkce_challenge(challenge)
            .set_redirect_uri(std::borrow::Cow::Owned(redirect))
            .url();
        let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(
            url.path(),
            "/services/oauth2/authorize",
            "authorize endpoint"
        );
        assert_eq!(q["response_type"], "code", "code flow");
        assert_eq!(q["code_challenge_method"], "S256", "S256 PKCE");
        assert_eq!(
            q["redirect_uri"], "http://localhost:4321/callback",
            "loopback named localhost"
        );
        assert_eq!(&q["state"], state.secret(), "state is sent");
    }

    fn runtime_token(tag: &str) -> String {
        let n = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(3);
        format!("00D{tag}!{n:x}{:x}", std::process::id())
    }

    type Fake = std::sync::Arc<std::sync::Mutex<Vec<oauth2::HttpRequest>>>;

    /// An injected HTTP send that records the request and answers `status` with `body`.
    fn fake(
        seen: Fake,
        status: u16,
        body: Vec<u8>,
    ) -> impl Fn(
        oauth2::HttpRequest,
    )
        -> std::future::Ready<Result<oauth2::HttpResponse, HttpClientError<reqwest::Error>>> {
        move |req| {
            seen.lock().expect("lock").push(req);
            std::future::ready(
                http::Response::builder()
                    .status(status)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
                    .map_err(HttpClientError::Http),
            )
        }
    }

    fn form_of(req: &oauth2::HttpRequest) -> std::collections::HashMap<String, String> {
        url::form_urlencoded::parse(req.body())
            .into_owned()
            .collect()
    }

    #[tokio::test]
    async fn code_exchange_sends_verifier_and_parses_salesforce_tokens() {
        let login = Url::parse("https://login.salesforce.com").expect("url");
        let client = oauth_client(&login, "cid").expect("client");
        let access = runtime_token("a");
        let refresh = runtime_token("r");
        let body = serde_json::to_vec(&serde_json::json!({
            "access_token": access, "refresh_token": refresh, "signature": "c2ln",
            "scope": "refresh_token api id", "instance_url": "https://acme.my.salesforce.com",
            "id": "https://login.salesforce.com/id/00D5g000004XXXXEAA/0055g00000AbCdEAAZ",
            "token_type": "Bearer", "issued_at": "1767225600000"
        }))
        .expect("json");
        let seen: Fake = Default::default();
        let redirect =
            oauth2::RedirectUrl::new("http://localhost:4321/callback".into()).expect("redirect");
        let resp = client
            .exchange_code(oauth2::AuthorizationCode::new("the-code".into()))
            .set_pkce_verifier(oauth2::PkceCodeVerifier::new("the-verifier".into()))
            .set_redirect_uri(std::borrow::Cow::Owned(redirect))
            .request_async(&fake(seen.clone(), 200, body))
            .await
            .expect("a Salesforce token response (Bearer, no expires_in) parses");
        let tokens = tokens_from_oauth(resp, None, SystemTime::UNIX_EPOCH).expect("tokens");
        assert_eq!(
            tokens.access_token.expose_secret(),
            access,
            "access token taken"
        );
        assert_eq!(
            tokens.instance_url.as_str(),
            "https://acme.my.salesforce.com/",
            "instance URL taken"
        );
        let reqs = seen.lock().expect("lock");
        assert_eq!(
            reqs[0].uri().path(),
            "/services/oauth2/token",
            "token endpoint on the login host"
        );
        let form = form_of(&reqs[0]);
        assert_eq!(form["grant_type"], "authorization_code", "code grant");
        assert_eq!(form["code"], "the-code", "the code from the redirect");
        assert_eq!(form["code_verifier"], "the-verifier", "PKCE verifier sent");
        assert_eq!(
            form["client_id"], "cid",
            "public client sends client_id in the body"
        );
        assert_eq!(
            form["redirect_uri"], "http://localhost:4321/callback",
            "same redirect URI as authorize"
        );
    }

    #[tokio::test]
    async fn refresh_invalid_grant_maps_to_oauth_error() {
        let login = Url::parse("https://login.salesforce.com").expect("url");
        let client = oauth_client(&login, "cid").expect("client");
        let seen: Fake = Default::default();
        let body = include_bytes!("../tests/fixtures/oauth_invalid_grant.json").to_vec();
        let rt = runtime_token("rt");
        let err = client
            .exchange_refresh_token(&oauth2::RefreshToken::new(rt.clone()))
            .request_async(&fake(seen.clone(), 400, body))
            .await
            .map_err(map_token_error)
            .expect_err("400 invalid_grant");
        assert!(
            matches!(err, Error::OAuth { ref error, ref description } if error == "invalid_grant" && description.as_deref() == Some("expired access/refresh token")),
            "typed OAuth error: {err:?}"
        );
        let form = form_of(&seen.lock().expect("lock")[0]);
        assert_eq!(form["grant_type"], "refresh_token", "refresh grant");
        assert_eq!(form["refresh_token"], rt, "the one refresh token is sent");
        assert!(
            !format!("{err:?}{err}").contains(&rt),
            "the refresh token is not in the error"
        );
    }

    #[test]
    fn revoke_prepare_and_parse() {
        let login = Url::parse("http://127.0.0.1:9999").expect("url");
        let rt = runtime_token("rv");
        let req = prepare_revoke(&login, &SecretString::from(rt.clone())).expect("prepare");
        assert_eq!(req.method(), Method::POST, "revoke is a POST");
        assert_eq!(
            req.uri().path(),
            "/services/oauth2/revoke",
            "revoke endpoint on the login host"
        );
        let form: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(req.body())
                .into_owned()
                .collect();
        assert_eq!(
            form["token"], rt,
            "token= carries the token, in the body not the URL"
        );
        assert!(req.uri().query().is_none(), "no token in the query string");
        parse_revoke(&resp(200, "")).expect("200 with an empty body is success");
        let err = parse_revoke(&resp(
            400,
            r#"{"error":"invalid_token","error_description":"invalid token"}"#,
        ))
        .expect_err("400 is an error");
        assert!(
            matches!(err, Error::OAuth { ref error, .. } if error == "invalid_token"),
            "typed: {err:?}"
        );
    }
}
