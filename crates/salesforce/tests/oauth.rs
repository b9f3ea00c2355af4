//! OAuth against the emulator over real HTTP: PKCE login, refresh, invalid_grant, revoke,
//! userinfo, state mismatch.

mod common;

use std::time::Duration;

use callpop_salesforce::{Error, ErrorClass, LoginHost, TokenStore};
use common::{client, emulator, play_browser, play_browser_deciding, sign_in, token_calls};
use secrecy::ExposeSecret;

#[tokio::test]
async fn pkce_login_saves_tokens_and_userinfo_answers() {
    let emu = emulator(false).await;
    let (client, store) = client(&emu, Duration::from_secs(10));
    assert!(
        !client.is_signed_in().await,
        "a fresh client has no session"
    );
    let tokens = sign_in(&client).await;
    assert_eq!(
        tokens.instance_url,
        emu.instance_url(),
        "REST goes to the instance URL from the token response"
    );
    assert!(
        tokens.refresh_token.is_some(),
        "the refresh_token scope yields a refresh token"
    );
    let saved = store
        .load()
        .expect("store loads")
        .expect("tokens were saved");
    assert_eq!(
        saved.access_token.expose_secret(),
        tokens.access_token.expose_secret(),
        "the store holds the session the login returned"
    );
    let me = client.userinfo().await.expect("userinfo answers");
    assert!(
        me.user_id.starts_with("005"),
        "user ids have the 005 prefix: {me:?}"
    );
    assert!(
        me.organization_id.starts_with("00D"),
        "org ids have the 00D prefix: {me:?}"
    );
    assert!(
        !me.username.is_empty() && !me.time_zone.is_empty(),
        "username and time zone are filled: {me:?}"
    );
    let (org, user) = tokens
        .org_and_user_id()
        .expect("identity URL has org and user");
    assert_eq!(
        (org, user),
        (me.organization_id.clone(), me.user_id.clone()),
        "identity URL agrees with userinfo"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn state_mismatch_is_an_error() {
    let emu = emulator(true).await;
    let (client, store) = client(&emu, Duration::from_secs(10));
    let pending = client.begin_login().await.expect("login starts");
    let browser = tokio::spawn(play_browser(pending.authorize_url.clone(), |mut u| {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "state" {
                    "forged".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
        u
    }));
    let err = pending
        .finish()
        .await
        .expect_err("a forged state must not sign in");
    assert!(
        matches!(err, Error::StateMismatch),
        "typed state error: {err:?}"
    );
    let (_, page) = browser.await.expect("browser task");
    assert!(
        page.contains("failed"),
        "the browser is shown an error page: {page}"
    );
    assert!(
        store.load().expect("store").is_none(),
        "nothing is saved after a failed login"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn expired_access_token_is_refreshed_once_transparently() {
    let emu = emulator(true).await;
    let (client, store) = client(&emu, Duration::from_secs(10));
    let first = sign_in(&client).await;
    client.api_version().await.expect("version discovery");
    emu.expire_access_tokens();
    let before = token_calls(&emu);
    let me = client
        .userinfo()
        .await
        .expect("the call succeeds after a transparent refresh");
    assert!(!me.user_id.is_empty(), "userinfo answered");
    assert_eq!(token_calls(&emu) - before, 1, "exactly one refresh request");
    let saved = store.load().expect("store").expect("still signed in");
    assert_ne!(
        saved.access_token.expose_secret(),
        first.access_token.expose_secret(),
        "the store has the new access token"
    );
    assert_eq!(
        saved
            .refresh_token
            .as_ref()
            .map(|r| r.expose_secret().to_string()),
        first
            .refresh_token
            .as_ref()
            .map(|r| r.expose_secret().to_string()),
        "the one refresh token is reused"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn invalid_grant_needs_reconnect_without_loops() {
    let emu = emulator(true).await;
    let (client, store) = client(&emu, Duration::from_secs(10));
    sign_in(&client).await;
    client.api_version().await.expect("version discovery");
    emu.expire_access_tokens();
    emu.revoke_refresh_tokens();
    let before = token_calls(&emu);
    let err = client
        .userinfo()
        .await
        .expect_err("a dead refresh token cannot continue");
    assert!(
        matches!(err, Error::ReconnectNeeded),
        "typed reconnect error: {err:?}"
    );
    assert_eq!(
        err.classify(),
        ErrorClass::ReconnectNeeded,
        "classified as reconnect"
    );
    assert_eq!(
        token_calls(&emu) - before,
        1,
        "one refresh attempt, no loop"
    );
    let calls_before = emu.calls().len();
    for _ in 0..3 {
        let again = client.userinfo().await.expect_err("stays disconnected");
        assert!(
            matches!(again, Error::ReconnectNeeded),
            "state persists until a new login: {again:?}"
        );
    }
    assert_eq!(
        emu.calls().len(),
        calls_before,
        "no request is sent while reconnect is needed"
    );
    assert!(
        client.needs_reconnect().await,
        "the client reports the state"
    );
    assert!(
        store.load().expect("store").is_none(),
        "dead tokens are forgotten"
    );
    sign_in(&client).await;
    assert!(
        !client.needs_reconnect().await,
        "a new login clears the state"
    );
    client
        .userinfo()
        .await
        .expect("calls work again after the new login");
    emu.shutdown().await;
}

#[tokio::test]
async fn disconnect_revokes_and_forgets() {
    let emu = emulator(true).await;
    let (client, store) = client(&emu, Duration::from_secs(10));
    let tokens = sign_in(&client).await;
    client.disconnect().await.expect("revoke succeeds");
    assert!(
        emu.calls()
            .iter()
            .any(|c| c.path == "/services/oauth2/revoke" && c.method == "POST" && c.status == 200),
        "POST /services/oauth2/revoke answered 200: {:?}",
        emu.calls()
    );
    assert!(
        store.load().expect("store").is_none(),
        "tokens are cleared from the store"
    );
    assert!(
        matches!(client.userinfo().await, Err(Error::NotSignedIn)),
        "no session after disconnect"
    );
    // The revoked refresh token no longer works: a second client restoring it must reconnect.
    let (other, other_store) = common::client(&emu, Duration::from_secs(10));
    drop(other);
    other_store.save(&tokens).expect("memory save");
    let restored = callpop_salesforce::Client::new(
        callpop_salesforce::ClientConfig::new(
            callpop_salesforce::LoginHost::Custom(emu.login_url()),
            emu.client_id(),
        ),
        other_store.clone(),
    )
    .expect("client");
    restored
        .refresh()
        .await
        .expect_err("a revoked refresh token is refused");
    assert!(
        restored.needs_reconnect().await,
        "refused refresh after revoke means reconnect"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn denied_consent_is_reported_and_shows_an_error_page() {
    let emu = emulator(false).await;
    let (client, store) = client(&emu, Duration::from_secs(10));
    let pending = client.begin_login().await.expect("login starts");
    let browser = tokio::spawn(play_browser_deciding(
        pending.authorize_url.clone(),
        "deny",
        |u| u,
    ));
    let err = pending
        .finish()
        .await
        .expect_err("a denied consent does not sign in");
    assert!(
        matches!(err, Error::AuthorizationDenied { ref error, .. } if error == "access_denied"),
        "typed denial: {err:?}"
    );
    let (_, page) = browser.await.expect("browser task");
    assert!(
        page.contains("not completed"),
        "the browser is shown the denial page: {page}"
    );
    assert!(store.load().expect("store").is_none(), "nothing saved");
    emu.shutdown().await;
}

#[tokio::test]
async fn device_flow_signs_in_after_approval() {
    let emu = emulator(false).await;
    let (client, store) = client(&emu, Duration::from_secs(10));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let device_client = client.clone();
    let login = tokio::spawn(async move {
        device_client
            .device_login(move |dc| {
                let _ = tx.send((dc.user_code.clone(), dc.verification_uri.clone()));
            })
            .await
    });
    let (user_code, verification_uri) = rx.await.expect("the user is shown a code");
    assert!(!user_code.is_empty(), "a user code to type");
    let http = reqwest::Client::new();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("user_code", user_code.as_str()), ("decision", "allow")])
        .finish();
    let approved = http
        .post(verification_uri.as_str())
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await
        .expect("verification page answers");
    assert!(
        approved.status().is_success(),
        "the device is approved: {}",
        approved.status()
    );
    let tokens = login
        .await
        .expect("join")
        .expect("device login completes after approval");
    assert_eq!(
        tokens.instance_url,
        emu.instance_url(),
        "device tokens name the instance"
    );
    assert!(
        store.load().expect("store").is_some(),
        "device tokens are saved"
    );
    client.userinfo().await.expect("the device session works");
    emu.shutdown().await;
}

#[tokio::test]
async fn concurrent_calls_share_one_refresh() {
    let emu = emulator(true).await;
    let (client, _store) = client(&emu, Duration::from_secs(10));
    sign_in(&client).await;
    client.api_version().await.expect("version discovery");
    emu.expire_access_tokens();
    let before = token_calls(&emu);
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(async move { c.find_tasks_by_call_object("concurrent").await })
        })
        .collect();
    for call in calls {
        call.await
            .expect("join")
            .expect("every call succeeds after the refresh");
    }
    assert_eq!(
        token_calls(&emu) - before,
        1,
        "five callers hitting an expired session trigger a single refresh"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn fixed_redirect_port_is_used() {
    let emu = emulator(true).await;
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("probe bind");
    let port = free.local_addr().expect("addr").port();
    drop(free);
    let store = std::sync::Arc::new(callpop_salesforce::MemoryStore::new());
    let mut config = callpop_salesforce::ClientConfig::new(
        callpop_salesforce::LoginHost::Custom(emu.login_url()),
        emu.client_id(),
    );
    config.redirect_port = Some(port);
    let client = callpop_salesforce::Client::new(config, store).expect("client");
    let pending = client
        .begin_login()
        .await
        .expect("login starts on the fixed port");
    assert_eq!(
        pending.redirect_uri,
        format!("http://localhost:{port}/callback"),
        "orgs that register an exact callback URL get exactly that port"
    );
    let browser = tokio::spawn(play_browser(pending.authorize_url.clone(), |u| u));
    pending
        .finish()
        .await
        .expect("login completes on the fixed port");
    browser.await.expect("browser task");
    emu.shutdown().await;
}

#[tokio::test]
async fn redirects_are_never_followed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A server that answers every request with a redirect to a port nobody listens on.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/elsewhere\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await;
        }
    });
    let base = format!("http://{addr}");
    let body = serde_json::json!({
        "access_token": format!("00D!{}", std::process::id()),
        "instance_url": base,
        "id": format!("{base}/id/00D000000000001AAA/005000000000001AAA"),
    });
    let tokens = callpop_salesforce::tokens::parse_token_body(
        &serde_json::to_vec(&body).expect("json"),
        None,
        std::time::SystemTime::now(),
    )
    .expect("tokens");
    let store = std::sync::Arc::new(callpop_salesforce::MemoryStore::new());
    store.save(&tokens).expect("save");
    let url = url::Url::parse(&base).expect("url");
    let client = callpop_salesforce::Client::new(
        callpop_salesforce::ClientConfig::new(callpop_salesforce::LoginHost::Custom(url), "cid"),
        store,
    )
    .expect("client");
    let err = client
        .api_version()
        .await
        .expect_err("a redirect is not an answer");
    assert!(
        matches!(err, Error::Status { status: 302, .. }),
        "the 302 is reported as is, not followed to the dead port: {err:?}"
    );
    server.abort();
}

#[tokio::test]
async fn switching_the_login_host_ends_the_old_session_and_signs_in_to_the_new_org() {
    let (org_a, org_b) = (emulator(true).await, emulator(true).await);
    let (client, store) = client(&org_a, Duration::from_secs(10));
    sign_in(&client).await;
    assert_eq!(
        client.instance_url().await,
        Some(org_a.instance_url()),
        "signed in to the first org"
    );

    client
        .switch_login_host(&LoginHost::Custom(org_a.login_url()))
        .await
        .expect("the same host");
    assert!(
        client.is_signed_in().await,
        "switching to the host in use changes nothing"
    );

    client
        .switch_login_host(&LoginHost::Custom(org_b.login_url()))
        .await
        .expect("another host");
    assert_eq!(client.login_url(), org_b.login_url(), "the new login host");
    assert!(
        org_a
            .calls()
            .iter()
            .any(|c| c.path == "/services/oauth2/revoke" && c.status == 200),
        "the first org's token is revoked where it was issued: {:?}",
        org_a.calls()
    );
    assert!(!client.is_signed_in().await, "the old session is gone");
    assert!(store.load().expect("store").is_none(), "and not stored");
    assert_eq!(
        client.instance_url().await,
        None,
        "no instance until signed in"
    );

    sign_in(&client).await;
    let before = org_b.calls().len();
    client.userinfo().await.expect("the new org answers");
    assert!(
        org_b.calls().len() > before,
        "requests go to the new org: {:?}",
        org_b.calls()
    );
    assert_eq!(
        client.instance_url().await,
        Some(org_b.instance_url()),
        "pops go to the new org's instance"
    );
    org_a.shutdown().await;
    org_b.shutdown().await;
}
