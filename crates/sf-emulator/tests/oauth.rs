//! OAuth over real HTTP: web-server flow with PKCE through the approve page, refresh, revoke,
//! userinfo and the identity URL, the device flow, and the login host's 404 for REST paths.

mod common;

use base64::Engine;
use callpop_sf_emulator::{Config, Emulator};
use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

const REDIRECT: &str = "http://localhost:1717/OauthRedirect";

fn pkce() -> (String, String) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let verifier = format!("verifier-{nanos}-{}", "x".repeat(40));
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn authorize_url(emu: &Emulator, challenge: &str, state: &str, scope: &str) -> String {
    let mut url = emu.login_url().join("/services/oauth2/authorize").unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", emu.client_id())
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("state", state)
        .append_pair("scope", scope);
    url.to_string()
}

/// The hidden inputs of the approve page's form, unescaped.
fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    };
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|chunk| {
            let name = chunk.split("name=\"").nth(1)?.split('"').next()?;
            let value = chunk.split("value=\"").nth(1)?.split('"').next()?;
            Some((unescape(name), unescape(value)))
        })
        .collect()
}

/// Runs the approve page and returns the redirect's query pairs.
async fn approve(
    emu: &Emulator,
    challenge: &str,
    state: &str,
    decision: &str,
) -> Vec<(String, String)> {
    let http = client();
    let page = http
        .get(authorize_url(emu, challenge, state, "api refresh_token id"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "the approve page is shown");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(">Allow</button>"),
        "the page has an Allow button"
    );
    let mut form = hidden_inputs(&html);
    assert!(
        form.iter()
            .any(|(k, v)| k == "code_challenge" && v == challenge),
        "the challenge is carried in a hidden field"
    );
    form.push(("decision".into(), decision.into()));
    let resp = http
        .post(emu.login_url().join("/services/oauth2/authorize").unwrap())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302, "the decision redirects to the app");
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(REDIRECT),
        "redirects only to the registered loopback URI: {location}"
    );
    url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

async fn exchange(emu: &Emulator, code: &str, verifier: &str) -> reqwest::Response {
    client()
        .post(emu.login_url().join("/services/oauth2/token").unwrap())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", emu.client_id()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn code_flow_with_pkce_then_rest_call() {
    let emu = start_empty().await;
    let (verifier, challenge) = pkce();
    let pairs = approve(&emu, &challenge, "st<ate>&1", "allow").await;
    assert_eq!(
        get(&pairs, "state"),
        Some("st<ate>&1"),
        "state comes back unchanged"
    );
    let code = get(&pairs, "code")
        .expect("the redirect carries a code")
        .to_owned();

    let resp = exchange(&emu, &code, &verifier).await;
    assert_eq!(resp.status(), 200, "a correct verifier gets tokens");
    assert_eq!(
        resp.headers()["cache-control"],
        "no-store",
        "token responses are not cached"
    );
    let body: Value = resp.json().await.unwrap();
    assert_shape(&fixture("token_response.json"), &body, "token");
    assert!(
        body.get("expires_in").is_none(),
        "Salesforce sends no expires_in"
    );
    assert!(
        body["issued_at"].as_str().unwrap().parse::<u64>().is_ok(),
        "issued_at is epoch millis as a string"
    );
    assert_eq!(
        body["instance_url"].as_str().unwrap(),
        emu.instance_url().as_str().trim_end_matches('/'),
        "instance_url is the emulator's instance"
    );

    let token = body["access_token"].as_str().unwrap();
    let limits = client()
        .get(rest_url(&emu, "limits"))
        .headers(bearer(token))
        .send()
        .await
        .unwrap();
    assert_eq!(
        limits.status(),
        200,
        "the issued access token works on REST"
    );

    let again = exchange(&emu, &code, &verifier).await;
    assert_eq!(again.status(), 400, "codes are single-use");
    let err: Value = again.json().await.unwrap();
    assert_shape(&fixture("oauth_error.json"), &err, "code reuse");
    assert_eq!(err["error"], "invalid_grant", "reuse is invalid_grant");
    emu.shutdown().await;
}

#[tokio::test]
async fn wrong_verifier_and_denial_and_bad_redirect() {
    let emu = start_empty().await;
    let (_, challenge) = pkce();
    let pairs = approve(&emu, &challenge, "s1", "allow").await;
    let resp = exchange(
        &emu,
        get(&pairs, "code").unwrap(),
        "not-the-verifier-at-all-not-the-verifier-at-all",
    )
    .await;
    assert_eq!(resp.status(), 400, "a wrong verifier is refused");
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_grant",
        "PKCE mismatch is invalid_grant"
    );

    let pairs = approve(&emu, &challenge, "s2", "deny").await;
    assert_eq!(
        get(&pairs, "error"),
        Some("access_denied"),
        "Deny redirects with access_denied"
    );
    assert_eq!(get(&pairs, "state"), Some("s2"), "and the state");
    assert!(get(&pairs, "code").is_none(), "and no code");

    let mut url = emu.login_url().join("/services/oauth2/authorize").unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", emu.client_id())
        .append_pair("redirect_uri", "https://evil.example/cb")
        .append_pair("code_challenge", &challenge);
    let resp = client().get(url).send().await.unwrap();
    assert_eq!(
        resp.status(),
        400,
        "an unregistered redirect URI gets an error page"
    );
    assert!(
        resp.headers().get("location").is_none(),
        "never a redirect to an unvalidated URI"
    );

    let mut url = emu.login_url().join("/services/oauth2/authorize").unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "someone-else")
        .append_pair("redirect_uri", REDIRECT);
    let resp = client().get(url).send().await.unwrap();
    assert_eq!(resp.status(), 400, "an unknown client gets an error page");
    assert!(
        resp.text().await.unwrap().contains("invalid_client_id"),
        "naming the error"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn auto_approve_redirects_at_once() {
    let emu = start(Config {
        seed: false,
        auto_approve: true,
        ..Config::default()
    })
    .await;
    let (verifier, challenge) = pkce();
    let resp = client()
        .get(authorize_url(&emu, &challenge, "s", "api"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302, "auto-approve redirects on GET");
    let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let body: Value = exchange(&emu, &code, &verifier).await.json().await.unwrap();
    assert!(body["access_token"].is_string(), "tokens issued");
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token without the refresh_token scope"
    );
    emu.shutdown().await;
}

async fn refresh(emu: &Emulator, rt: &str) -> reqwest::Response {
    client()
        .post(emu.instance_url().join("/services/oauth2/token").unwrap())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", emu.client_id()),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn expiry_refresh_and_revoke() {
    let emu = start_empty().await;
    let tokens = emu.mint_tokens();
    let http = client();
    let limits = |t: String| {
        http.get(rest_url(&emu, "limits"))
            .headers(bearer(&t))
            .send()
    };
    assert_eq!(
        limits(tokens.access_token.clone()).await.unwrap().status(),
        200,
        "minted token works"
    );

    emu.expire_access_tokens();
    let resp = limits(tokens.access_token.clone()).await.unwrap();
    assert_eq!(resp.status(), 401, "expired tokens are refused");
    assert_shape(
        &fixture("error_session.json"),
        &resp.json().await.unwrap(),
        "401 body",
    );

    let resp = refresh(&emu, &tokens.refresh_token).await;
    assert_eq!(
        resp.status(),
        200,
        "refresh tokens survive access-token expiry"
    );
    let body: Value = resp.json().await.unwrap();
    assert!(
        body.get("refresh_token").is_none(),
        "refresh does not rotate the refresh token"
    );
    let fresh = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        limits(fresh.clone()).await.unwrap().status(),
        200,
        "the refreshed token works"
    );

    let revoke = http
        .post(emu.login_url().join("/services/oauth2/revoke").unwrap())
        .form(&[("token", tokens.refresh_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200, "revoke answers 200");
    assert_eq!(
        limits(fresh).await.unwrap().status(),
        401,
        "revoking a refresh token ends its access tokens"
    );
    let resp = refresh(&emu, &tokens.refresh_token).await;
    assert_eq!(resp.status(), 400, "a revoked refresh token is refused");
    let err: Value = resp.json().await.unwrap();
    assert_eq!(
        err["error_description"], "expired access/refresh token",
        "documented description"
    );

    let other = emu.mint_tokens();
    emu.revoke_refresh_tokens();
    assert_eq!(
        refresh(&emu, &other.refresh_token).await.status(),
        400,
        "revoke_refresh_tokens kills every refresh token"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn userinfo_and_identity_url() {
    let emu = start_empty().await;
    let tokens = emu.mint_tokens();
    let http = client();
    let info: Value = http
        .get(emu.login_url().join("/services/oauth2/userinfo").unwrap())
        .headers(bearer(&tokens.access_token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in [
        "user_id",
        "organization_id",
        "preferred_username",
        "email",
        "name",
        "zoneinfo",
        "locale",
        "urls",
    ] {
        assert!(!info[key].is_null(), "userinfo has {key}");
    }
    assert!(
        info["user_id"].as_str().unwrap().starts_with("005"),
        "user ids start 005"
    );
    let id: Value = http
        .get(tokens.id_url.clone())
        .headers(bearer(&tokens.access_token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        id["id"].as_str(),
        Some(tokens.id_url.as_str()),
        "the identity document names itself"
    );
    assert_eq!(
        id["user_id"], info["user_id"],
        "same user in both documents"
    );
    let anon = http
        .get(emu.login_url().join("/services/oauth2/userinfo").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401, "userinfo needs a token");
    emu.shutdown().await;
}

#[tokio::test]
async fn device_flow_pending_slow_down_then_tokens() {
    let emu = start_empty().await;
    let http = client();
    let token_url = emu.login_url().join("/services/oauth2/token").unwrap();
    let start: Value = http
        .post(token_url.clone())
        .form(&[
            ("response_type", "device_code"),
            ("client_id", emu.client_id()),
            ("scope", "api refresh_token"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for key in ["device_code", "user_code", "verification_uri", "interval"] {
        assert!(!start[key].is_null(), "device code response has {key}");
    }
    let poll = || {
        http.post(token_url.clone())
            .form(&[
                ("grant_type", "device"),
                ("client_id", emu.client_id()),
                ("code", start["device_code"].as_str().unwrap()),
            ])
            .send()
    };
    let first: Value = poll().await.unwrap().json().await.unwrap();
    assert_eq!(first["error"], "authorization_pending", "not approved yet");
    let second: Value = poll().await.unwrap().json().await.unwrap();
    assert_eq!(
        second["error"], "slow_down",
        "polled faster than the interval"
    );

    let page = http
        .post(start["verification_uri"].as_str().unwrap())
        .form(&[("user_code", start["user_code"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status(),
        200,
        "the user approves on the verification page"
    );
    let resp = poll().await.unwrap();
    assert_eq!(resp.status(), 200, "approved devices get tokens");
    let body: Value = resp.json().await.unwrap();
    assert_shape(&fixture("token_response.json"), &body, "device token");
    emu.shutdown().await;
}

#[tokio::test]
async fn token_endpoint_errors_and_login_host_has_no_rest() {
    let emu = start_empty().await;
    let http = client();
    let token_url = emu.login_url().join("/services/oauth2/token").unwrap();
    let resp = http
        .post(token_url.clone())
        .form(&[("grant_type", "password"), ("client_id", emu.client_id())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type",
        "only the modelled grants"
    );
    let resp = http
        .post(token_url)
        .form(&[("grant_type", "refresh_token"), ("client_id", "nobody")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.json::<Value>().await.unwrap()["error"],
        "invalid_client_id",
        "unknown client"
    );
    let tokens = emu.mint_tokens();
    let resp = http
        .get(format!("{}services/data/v64.0/limits", emu.login_url()))
        .headers(bearer(&tokens.access_token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "the login host serves no REST");
    assert_eq!(
        resp.json::<Value>().await.unwrap()[0]["errorCode"],
        "NOT_FOUND",
        "with Salesforce's error array"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn access_tokens_expire_after_ttl() {
    let emu = start(Config {
        seed: false,
        access_token_ttl: std::time::Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    let tokens = emu.mint_tokens();
    let http = client();
    let status = http
        .get(rest_url(&emu, "limits"))
        .headers(bearer(&tokens.access_token))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200, "valid within the ttl");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let resp = http
        .get(rest_url(&emu, "limits"))
        .headers(bearer(&tokens.access_token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "INVALID_SESSION_ID after the ttl");
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        fixture("error_session.json"),
        "documented body"
    );
    let revoke = http
        .get(format!(
            "{}services/oauth2/revoke?token={}",
            emu.login_url(),
            tokens.refresh_token
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200, "GET revoke is accepted too");
    let logged = emu
        .calls()
        .into_iter()
        .find(|c| c.path.ends_with("/revoke"))
        .expect("revoke is logged");
    assert!(
        !logged
            .query
            .unwrap_or_default()
            .contains(&tokens.refresh_token),
        "tokens never reach the call log"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn tokens_debug_output_is_redacted() {
    let emu = start_empty().await;
    let tokens = emu.mint_tokens();
    let shown = format!("{tokens:?}");
    assert!(
        !shown.contains(&tokens.access_token),
        "Debug never prints the access token"
    );
    assert!(
        !shown.contains(&tokens.refresh_token),
        "nor the refresh token"
    );
    assert!(shown.contains("[redacted]"), "it says they are redacted");
    emu.shutdown().await;
}
