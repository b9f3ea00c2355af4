//! OAuth 2.0 as Salesforce serves it: web-server flow with PKCE (approve page), refresh,
//! the Salesforce device flow, revoke, UserInfo and the identity URL.
//!
//! Tokens are never logged. Errors on the token endpoint are `400 {"error","error_description"}`
//! with `Cache-Control: no-store`; authorize errors before the redirect URI is validated are
//! pages, never redirects.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use url::Url;

use crate::server::query_params;
use crate::sessions::{self, Code, Device};
use crate::{ids, ApiCall, Shared, Tokens};

type Params = HashMap<String, String>;

/// A form-encoded body as parameters, whatever the Content-Type says (first value wins).
fn form(body: &[u8]) -> Params {
    let mut params = Params::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        params
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
    params
}

/// Latency and the call log for OAuth endpoints (never counted against the API limit).
pub(crate) async fn layer(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req
        .extensions()
        .get::<crate::server::OriginalPath>()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.0.clone());
    let query = req.uri().query().map(redact_query);
    let latency = shared.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = next.run(req).await;
    tracing::debug!(%method, %path, status = response.status().as_u16(), "oauth request");
    shared.lock().log_call(ApiCall {
        method,
        path,
        query,
        status: response.status().as_u16(),
        counted: false,
    });
    response
}

/// Parameters whose values are secrets and never appear in the call log.
const SECRET_PARAMS: &[&str] = &[
    "token",
    "code",
    "refresh_token",
    "code_verifier",
    "access_token",
    "device_code",
];

/// The query string with secret values replaced by `[redacted]`.
pub fn redact_query(query: &str) -> String {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            let v = if SECRET_PARAMS.contains(&k.as_ref()) {
                "[redacted]".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn org_id15() -> String {
    ids::org_id()[..15].to_owned()
}

fn now_millis() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn id_url(shared: &Shared) -> Url {
    shared
        .login_url
        .join(&format!("/id/{}/{}", ids::org_id(), ids::user_id()))
        .expect("a path joins onto a base URL")
}

/// The documented token response shape (no `expires_in`).
fn token_response(
    shared: &Shared,
    access_token: &str,
    refresh_token: Option<&str>,
    scope: &str,
) -> Response {
    let id = id_url(shared).to_string();
    let issued_at = now_millis().to_string();
    let mut mac =
        Hmac::<Sha256>::new_from_slice(&shared.signing_key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(issued_at.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let mut body = json!({
        "access_token": access_token,
        "signature": signature,
        "scope": scope,
        "instance_url": shared.instance_url.as_str().trim_end_matches('/'),
        "id": id,
        "token_type": "Bearer",
        "issued_at": issued_at,
    });
    if let Some(rt) = refresh_token {
        body["refresh_token"] = json!(rt);
    }
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// A session for the demo user, scope `api id refresh_token`.
pub(crate) fn mint_tokens(shared: &Shared) -> Tokens {
    let issued =
        shared
            .lock()
            .sessions
            .issue(&org_id15(), "api id refresh_token", true, Instant::now());
    Tokens {
        access_token: issued.access_token,
        refresh_token: issued.refresh_token.unwrap_or_default(),
        instance_url: shared.instance_url.clone(),
        id_url: id_url(shared),
    }
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body><h1>{}</h1>{}</body></html>",
        html_escape(title),
        html_escape(title),
        body_html
    );
    (status, Html(html)).into_response()
}

fn error_page(error: &str, description: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Remote Access Authorization Error",
        &format!(
            "<p>There was a problem in setting up your remote access.</p><p id=\"error\">error={}</p><p id=\"error_description\">error_description={}</p>",
            html_escape(error),
            html_escape(description)
        ),
    )
}

/// Whether a redirect URI is a loopback HTTP URI (RFC 8252: any port, any path).
pub fn is_loopback_redirect(uri: &str) -> bool {
    let Ok(url) = Url::parse(uri) else {
        return false;
    };
    url.scheme() == "http"
        && url.fragment().is_none()
        && matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
}

/// The outcome of checking an authorize request.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthorizeCheck {
    /// Valid: show the approve page (or approve at once).
    Ok,
    /// The client or redirect URI cannot be trusted: show an error page.
    Page {
        /// OAuth error code.
        error: &'static str,
        /// Description.
        description: &'static str,
    },
    /// The redirect URI is trusted but the request is bad: redirect with the error.
    Redirect {
        /// OAuth error code.
        error: &'static str,
        /// Description.
        description: &'static str,
    },
}

/// Checks the parameters of `/services/oauth2/authorize` for the public client `client_id`.
pub fn check_authorize(params: &Params, client_id: &str) -> AuthorizeCheck {
    let p = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    if p("client_id") != client_id {
        return AuthorizeCheck::Page {
            error: "invalid_client_id",
            description: "client identifier invalid",
        };
    }
    if !is_loopback_redirect(p("redirect_uri")) {
        return AuthorizeCheck::Page {
            error: "redirect_uri_mismatch",
            description: "redirect_uri must match configuration",
        };
    }
    if p("response_type") != "code" {
        return AuthorizeCheck::Redirect {
            error: "unsupported_response_type",
            description: "response type not supported",
        };
    }
    if p("code_challenge").is_empty() {
        return AuthorizeCheck::Redirect {
            error: "invalid_request",
            description: "missing required code challenge",
        };
    }
    if !p("code_challenge_method").is_empty() && p("code_challenge_method") != "S256" {
        return AuthorizeCheck::Redirect {
            error: "invalid_request",
            description: "invalid code challenge method",
        };
    }
    let challenge = p("code_challenge");
    let well_formed = challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return AuthorizeCheck::Redirect {
            error: "invalid_request",
            description: "invalid code challenge",
        };
    }
    AuthorizeCheck::Ok
}

fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return error_page(
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        );
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

fn approve(shared: &Shared, params: &Params) -> Response {
    let p = |k: &str| params.get(k).cloned().unwrap_or_default();
    let scope = if p("scope").trim().is_empty() {
        "api id refresh_token".to_owned()
    } else {
        p("scope")
    };
    let code = format!("aPrx{}", sessions::random_token(48));
    shared.lock().sessions.codes.insert(
        code.clone(),
        Code {
            challenge: p("code_challenge"),
            redirect_uri: p("redirect_uri"),
            scope,
            issued: Instant::now(),
        },
    );
    let state = p("state");
    let mut pairs = vec![("code", code.as_str())];
    if !state.is_empty() {
        pairs.push(("state", state.as_str()));
    }
    redirect_with(&p("redirect_uri"), &pairs)
}

/// The error response for a bad authorize request, `None` when it is good.
fn refusal(shared: &Shared, params: &Params) -> Option<Response> {
    match check_authorize(params, &shared.client_id) {
        AuthorizeCheck::Ok => None,
        AuthorizeCheck::Page { error, description } => Some(error_page(error, description)),
        AuthorizeCheck::Redirect { error, description } => {
            let state = params.get("state").cloned().unwrap_or_default();
            let mut pairs = vec![("error", error), ("error_description", description)];
            if !state.is_empty() {
                pairs.push(("state", state.as_str()));
            }
            Some(redirect_with(
                params.get("redirect_uri").map_or("", String::as_str),
                &pairs,
            ))
        }
    }
}

/// `GET /services/oauth2/authorize`: the approve page (or an immediate redirect with auto-approve).
pub(crate) async fn authorize_page(
    State(shared): State<Arc<Shared>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = crate::server::query_params(raw.as_deref());
    if let Some(response) = refusal(&shared, &params) {
        return response;
    }
    if shared.auto_approve {
        return approve(&shared, &params);
    }
    let mut hidden = String::new();
    let mut keys: Vec<&String> = params.keys().filter(|k| k.as_str() != "decision").collect();
    keys.sort();
    for k in keys {
        hidden.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            html_escape(k),
            html_escape(&params[k])
        ));
    }
    let scope = params
        .get("scope")
        .map_or("api id refresh_token", String::as_str);
    page(
        StatusCode::OK,
        "Allow Access?",
        &format!(
            "<p>{app} is asking to access your Salesforce data (scope: {scope}).</p>\
             <form method=\"post\" action=\"/services/oauth2/authorize\">{hidden}\
             <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button> \
             <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
            app = html_escape(&shared.client_id),
            scope = html_escape(scope),
        ),
    )
}

/// `POST /services/oauth2/authorize`: the user's decision from the approve page.
pub(crate) async fn authorize_decision(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let params = form(&body);
    if let Some(response) = refusal(&shared, &params) {
        return response;
    }
    if params.get("decision").map(String::as_str) == Some("allow") {
        return approve(&shared, &params);
    }
    let state = params.get("state").cloned().unwrap_or_default();
    let mut pairs = vec![
        ("error", "access_denied"),
        ("error_description", "end-user denied authorization"),
    ];
    if !state.is_empty() {
        pairs.push(("state", state.as_str()));
    }
    redirect_with(
        params.get("redirect_uri").map_or("", String::as_str),
        &pairs,
    )
}

/// base64url(sha256(verifier)), no padding.
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `POST /services/oauth2/token`.
pub(crate) async fn token(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let params = form(&body);
    let p = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    if p("response_type") == "device_code" {
        return device_start(&shared, &params);
    }
    if p("client_id") != shared.client_id {
        return oauth_error("invalid_client_id", "client identifier invalid");
    }
    match p("grant_type") {
        "authorization_code" => code_grant(&shared, &params),
        "refresh_token" => {
            let now = Instant::now();
            match shared
                .lock()
                .sessions
                .refresh(&org_id15(), p("refresh_token"), now)
            {
                Some((at, scope)) => token_response(&shared, &at, None, &scope),
                None => oauth_error("invalid_grant", "expired access/refresh token"),
            }
        }
        "device" => device_poll(&shared, p("code")),
        "" => oauth_error("invalid_request", "grant type not specified"),
        _ => oauth_error("unsupported_grant_type", "grant type not supported"),
    }
}

fn code_grant(shared: &Shared, params: &Params) -> Response {
    let p = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    // The code is consumed by the first attempt, successful or not.
    let Some(code) = shared.lock().sessions.codes.remove(p("code")) else {
        return oauth_error("invalid_grant", "authentication failure");
    };
    if code.issued.elapsed() > sessions::CODE_TTL {
        return oauth_error("invalid_grant", "expired authorization code");
    }
    if code.redirect_uri != p("redirect_uri") {
        return oauth_error("invalid_grant", "redirect_uri must match configuration");
    }
    if p("code_verifier").is_empty() {
        return oauth_error("invalid_grant", "invalid code verifier");
    }
    if s256(p("code_verifier")) != code.challenge {
        return oauth_error("invalid_grant", "invalid code verifier");
    }
    let with_refresh = sessions::wants_refresh(&code.scope);
    let issued =
        shared
            .lock()
            .sessions
            .issue(&org_id15(), &code.scope, with_refresh, Instant::now());
    token_response(
        shared,
        &issued.access_token,
        issued.refresh_token.as_deref(),
        &code.scope,
    )
}

fn device_start(shared: &Shared, params: &Params) -> Response {
    if params.get("client_id").map(String::as_str) != Some(shared.client_id.as_str()) {
        return oauth_error("invalid_client_id", "client identifier invalid");
    }
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ23456789";
    let raw = sessions::random_token(8).into_bytes();
    let user_code: String = raw
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    let device_code = sessions::random_token(32);
    let scope = params
        .get("scope")
        .cloned()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "api id refresh_token".into());
    shared.lock().sessions.devices.insert(
        device_code.clone(),
        Device {
            user_code: user_code.clone(),
            scope,
            issued: Instant::now(),
            last_poll: None,
            approved: false,
        },
    );
    let verification_uri = shared
        .login_url
        .join("/setup/connect")
        .expect("a path joins onto a base URL");
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verification_uri.as_str(),
            "interval": sessions::DEVICE_INTERVAL_SECS,
        })),
    )
        .into_response()
}

fn device_poll(shared: &Shared, code: &str) -> Response {
    let now = Instant::now();
    let mut state = shared.lock();
    let Some(device) = state.sessions.devices.get_mut(code) else {
        return oauth_error("invalid_grant", "invalid device code");
    };
    if now.saturating_duration_since(device.issued) > sessions::DEVICE_CODE_TTL {
        state.sessions.devices.remove(code);
        return oauth_error("invalid_grant", "expired device code");
    }
    if device.approved {
        let scope = device.scope.clone();
        state.sessions.devices.remove(code);
        let issued =
            state
                .sessions
                .issue(&org_id15(), &scope, sessions::wants_refresh(&scope), now);
        drop(state);
        return token_response(
            shared,
            &issued.access_token,
            issued.refresh_token.as_deref(),
            &scope,
        );
    }
    let too_soon = device.last_poll.is_some_and(|t| {
        now.saturating_duration_since(t).as_secs() < sessions::DEVICE_INTERVAL_SECS
    });
    device.last_poll = Some(now);
    if too_soon {
        oauth_error("slow_down", "polling too frequently")
    } else {
        oauth_error("authorization_pending", "authorization pending")
    }
}

/// `GET /setup/connect`: the device-flow verification page.
pub(crate) async fn device_page(RawQuery(raw): RawQuery) -> Response {
    let params = query_params(raw.as_deref());
    let code = params.get("user_code").map_or("", String::as_str);
    page(
        StatusCode::OK,
        "Connect Your Device",
        &format!(
            "<form method=\"post\" action=\"/setup/connect\"><label>Code <input name=\"user_code\" value=\"{}\"></label>\
             <button type=\"submit\" name=\"decision\" value=\"allow\">Connect</button></form>",
            html_escape(code)
        ),
    )
}

/// `POST /setup/connect`: the user approves the device whose user code they typed.
pub(crate) async fn device_approve(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let params = form(&body);
    let typed: String = params
        .get("user_code")
        .map_or("", String::as_str)
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_uppercase();
    let mut state = shared.lock();
    match state
        .sessions
        .devices
        .values_mut()
        .find(|d| !typed.is_empty() && d.user_code == typed)
    {
        Some(device) => {
            device.approved = true;
            page(
                StatusCode::OK,
                "Device Connected",
                "<p>You can return to your device.</p>",
            )
        }
        None => page(
            StatusCode::BAD_REQUEST,
            "Invalid Code",
            "<p>The code is invalid or has expired.</p>",
        ),
    }
}

/// `POST /services/oauth2/revoke` (`token=`): 200 with an empty body, 400 `invalid_token` if unknown.
pub(crate) async fn revoke(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let params = form(&body);
    revoke_token(&shared, params.get("token").map_or("", String::as_str))
}

/// `GET /services/oauth2/revoke?token=`.
pub(crate) async fn revoke_get(
    State(shared): State<Arc<Shared>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = crate::server::query_params(raw.as_deref());
    revoke_token(&shared, params.get("token").map_or("", String::as_str))
}

fn revoke_token(shared: &Shared, token: &str) -> Response {
    if shared.lock().sessions.revoke(token) {
        StatusCode::OK.into_response()
    } else {
        oauth_error("invalid_token", "invalid token")
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("OAuth "))
        .map(str::trim)
}

/// Whether the request carries a live access token.
pub(crate) fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    bearer(headers).is_some_and(|t| {
        shared
            .lock()
            .sessions
            .access_valid(t, shared.token_ttl, Instant::now())
    })
}

fn user_document(shared: &Shared) -> Value {
    let base = shared.instance_url.as_str().trim_end_matches('/');
    let urls = json!({
        "enterprise": format!("{base}/services/Soap/c/{{version}}/{}", &ids::org_id()[..15]),
        "partner": format!("{base}/services/Soap/u/{{version}}/{}", &ids::org_id()[..15]),
        "rest": format!("{base}/services/data/v{{version}}/"),
        "sobjects": format!("{base}/services/data/v{{version}}/sobjects/"),
        "search": format!("{base}/services/data/v{{version}}/search/"),
        "query": format!("{base}/services/data/v{{version}}/query/"),
        "profile": format!("{base}/{}", ids::user_id()),
    });
    json!({
        "user_id": ids::user_id(),
        "organization_id": ids::org_id(),
        "preferred_username": "agent@callpop-demo.example",
        "email": "agent@callpop-demo.example",
        "email_verified": true,
        "name": "Demo Agent",
        "given_name": "Demo",
        "family_name": "Agent",
        "nickname": "agent",
        "zoneinfo": "Asia/Tokyo",
        "locale": "en_US",
        "language": "en_US",
        "user_type": "STANDARD",
        "active": true,
        "utcOffset": 32_400_000,
        "updated_at": "2026-01-05T09:00:00Z",
        "urls": urls,
    })
}

fn session_error() -> Response {
    crate::error::Error::InvalidSession.into_response()
}

/// `GET|POST /services/oauth2/userinfo` (Bearer).
pub(crate) async fn userinfo(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !authorized(&shared, &headers) {
        return session_error();
    }
    let mut doc = user_document(&shared);
    doc["sub"] = json!(id_url(&shared).as_str());
    Json(doc).into_response()
}

/// `GET /id/{org}/{user}` (Bearer): the identity document.
pub(crate) async fn identity(
    State(shared): State<Arc<Shared>>,
    axum::extract::Path((org, user)): axum::extract::Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&shared, &headers) {
        return session_error();
    }
    let same = |a: &str, b: &str| ids::normalize(a).as_deref() == Some(b);
    if !same(&org, &ids::org_id()) || !same(&user, &ids::user_id()) {
        return crate::error::Error::NotFound.into_response();
    }
    let u = user_document(&shared);
    Json(json!({
        "id": id_url(&shared).as_str(),
        "asserted_user": true,
        "user_id": u["user_id"],
        "organization_id": u["organization_id"],
        "username": u["preferred_username"],
        "nick_name": u["nickname"],
        "display_name": u["name"],
        "email": u["email"],
        "first_name": u["given_name"],
        "last_name": u["family_name"],
        "timezone": u["zoneinfo"],
        "active": true,
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": u["utcOffset"],
        "urls": u["urls"],
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn good() -> Vec<(&'static str, &'static str)> {
        vec![
            ("response_type", "code"),
            ("client_id", "app"),
            ("redirect_uri", "http://localhost:1717/OauthRedirect"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
            ("state", "xyz"),
        ]
    }

    #[test]
    fn s256_matches_rfc7636_example() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "RFC 7636 appendix B gives this verifier/challenge pair"
        );
    }

    #[test]
    fn loopback_redirects_any_port_only() {
        assert!(
            is_loopback_redirect("http://localhost:1717/OauthRedirect"),
            "localhost with a port"
        );
        assert!(
            is_loopback_redirect("http://127.0.0.1:53123/cb"),
            "127.0.0.1 with any port"
        );
        assert!(
            !is_loopback_redirect("https://evil.example/cb"),
            "remote hosts are refused"
        );
        assert!(
            !is_loopback_redirect("http://localhost.evil.example/cb"),
            "look-alike hosts are refused"
        );
        assert!(!is_loopback_redirect("not a url"), "garbage is refused");
    }

    #[test]
    fn authorize_checks_order_client_then_redirect_then_pkce() {
        assert_eq!(
            check_authorize(&params(&good()), "app"),
            AuthorizeCheck::Ok,
            "a complete request passes"
        );
        let mut bad_client = good();
        bad_client[1].1 = "other";
        assert!(
            matches!(
                check_authorize(&params(&bad_client), "app"),
                AuthorizeCheck::Page {
                    error: "invalid_client_id",
                    ..
                }
            ),
            "unknown client: page"
        );
        let mut bad_redirect = good();
        bad_redirect[2].1 = "https://evil.example/";
        assert!(
            matches!(
                check_authorize(&params(&bad_redirect), "app"),
                AuthorizeCheck::Page { .. }
            ),
            "never redirect to an unvalidated URI"
        );
        let no_pkce: Vec<_> = good()
            .into_iter()
            .filter(|(k, _)| *k != "code_challenge")
            .collect();
        assert!(
            matches!(
                check_authorize(&params(&no_pkce), "app"),
                AuthorizeCheck::Redirect {
                    error: "invalid_request",
                    ..
                }
            ),
            "PKCE is required"
        );
    }

    #[test]
    fn secrets_are_redacted_from_logged_queries() {
        let q = redact_query("token=abc123&state=s1&code=xyz");
        assert!(
            !q.contains("abc123") && !q.contains("xyz"),
            "secret values are gone: {q}"
        );
        assert!(
            q.contains("state=s1"),
            "other parameters stay for debugging: {q}"
        );
    }

    #[test]
    fn html_escape_covers_markup_characters() {
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;",
            "all five are escaped"
        );
    }
}
