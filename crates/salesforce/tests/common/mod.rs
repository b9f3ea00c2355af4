//! Shared test helpers: an emulator, a client on it, and a scripted "browser".
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use callpop_salesforce::{Client, ClientConfig, LoginHost, MemoryStore, TokenStore, Tokens};
use sf_emulator::{Config, Emulator};
use url::Url;

/// Start an emulator with seed data.
pub async fn emulator(auto_approve: bool) -> Emulator {
    Emulator::start(Config {
        auto_approve,
        ..Default::default()
    })
    .await
    .expect("the emulator starts on loopback")
}

/// A client configured for `emu`, with its own memory store.
pub fn client(emu: &Emulator, timeout: Duration) -> (Client, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let mut config = ClientConfig::new(LoginHost::Custom(emu.login_url()), emu.client_id());
    config.request_timeout = timeout;
    config.login_timeout = Duration::from_secs(20);
    let client = Client::new(config, store.clone() as Arc<dyn TokenStore>).expect("client builds");
    (client, store)
}

/// Undo the HTML escaping of an attribute value.
fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The attributes of one tag (`name="v"` or `name='v'`).
fn attrs(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tag;
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq]
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let after = &rest[eq + 1..];
        let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            rest = after;
            continue;
        };
        let body = &after[1..];
        let end = body.find(quote).unwrap_or(body.len());
        out.push((name, unescape(&body[..end])));
        rest = &body[(end + 1).min(body.len())..];
    }
    out
}

/// The form's action and its named inputs (hidden fields and the submit button).
pub fn parse_form(html: &str) -> (String, Vec<(String, String)>) {
    let lower = html.to_ascii_lowercase();
    let form_at = lower.find("<form").expect("the authorize page has a form");
    let form_end = form_at + lower[form_at..].find('>').expect("form tag closes");
    let action = attrs(&html[form_at..form_end])
        .into_iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let mut fields = Vec::new();
    let mut at = form_end;
    while let Some(i) = lower[at..]
        .find("<input")
        .or_else(|| lower[at..].find("<button"))
    {
        let start = at + i;
        let end = start + lower[start..].find('>').expect("tag closes");
        let a = attrs(&html[start..end]);
        let get = |k: &str| a.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if let Some(name) = get("name") {
            let kind = get("type").unwrap_or_default().to_ascii_lowercase();
            // Take hidden/text inputs, and the "Allow" submit (not a Deny one).
            let value = get("value").unwrap_or_default();
            let is_submit = kind == "submit" || lower[start..].starts_with("<button");
            let wanted = !is_submit || !value.to_ascii_lowercase().contains("deny");
            if wanted && !fields.iter().any(|(n, _): &(String, String)| *n == name) {
                fields.push((name, value));
            }
        }
        at = end;
    }
    (action, fields)
}

fn location(resp: &reqwest::Response, base: &Url) -> Url {
    let loc = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .expect("a redirect carries Location")
        .to_str()
        .expect("Location is ASCII");
    base.join(loc).expect("Location is a URL")
}

/// Play the browser: open the authorize URL, approve the form (when shown), and follow the
/// redirect to the loopback listener. Returns the redirect URL and the page the listener served.
/// `tamper` may rewrite the redirect URL before the browser follows it.
pub async fn play_browser(authorize: Url, tamper: impl FnOnce(Url) -> Url) -> (Url, String) {
    play_browser_deciding(authorize, "allow", tamper).await
}

/// [`play_browser`] with the user's decision on the approve page (`allow` or `deny`).
pub async fn play_browser_deciding(
    authorize: Url,
    decision: &str,
    tamper: impl FnOnce(Url) -> Url,
) -> (Url, String) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("browser client");
    println!("browser: GET {}", authorize.path());
    let r = http
        .get(authorize.clone())
        .send()
        .await
        .expect("authorize page answers");
    let redirect = if r.status().is_redirection() {
        location(&r, &authorize)
    } else {
        assert!(
            r.status().is_success(),
            "authorize page is served, got {}",
            r.status()
        );
        let html = r.text().await.expect("authorize page body");
        let (action, mut fields) = parse_form(&html);
        for (name, value) in fields.iter_mut() {
            if name == "decision" {
                *value = decision.to_string();
            }
        }
        let action = authorize.join(&action).expect("form action resolves");
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&fields)
            .finish();
        println!(
            "browser: POST {} (Allow, {} fields)",
            action.path(),
            fields.len()
        );
        let r = http
            .post(action.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .expect("approve form posts");
        assert!(
            r.status().is_redirection(),
            "approve answers a redirect, got {}",
            r.status()
        );
        location(&r, &action)
    };
    let redirect = tamper(redirect);
    println!(
        "browser: GET {}{}",
        redirect.host_str().unwrap_or(""),
        redirect.path()
    );
    let page = http
        .get(redirect.clone())
        .send()
        .await
        .expect("loopback listener answers")
        .text()
        .await
        .expect("listener page");
    (redirect, page)
}

/// Sign `client` in through the real PKCE flow, the browser played by an HTTP client.
pub async fn sign_in(client: &Client) -> Tokens {
    let pending = client.begin_login().await.expect("login starts");
    let browser = tokio::spawn(play_browser(pending.authorize_url.clone(), |u| u));
    let tokens = pending.finish().await.expect("login completes");
    let (_, page) = browser.await.expect("browser task");
    assert!(
        page.contains("close this tab"),
        "the browser is told to close the tab: {page}"
    );
    tokens
}

/// Count the calls to the token endpoint.
pub fn token_calls(emu: &Emulator) -> usize {
    emu.calls()
        .iter()
        .filter(|c| c.path == "/services/oauth2/token")
        .count()
}
