//! Helpers shared by the integration tests: start an emulator, talk to it over real HTTP.
#![allow(dead_code)]

use std::path::PathBuf;

use callpop_sf_emulator::{Config, Emulator};
use reqwest::header::{HeaderMap, AUTHORIZATION};
use serde_json::Value;

/// API version the tests use.
pub const V: &str = "v64.0";

/// Starts an emulator with `config`.
pub async fn start(config: Config) -> Emulator {
    Emulator::start(config)
        .await
        .expect("the emulator binds loopback ports")
}

/// Starts an emulator without seed data.
pub async fn start_empty() -> Emulator {
    start(Config {
        seed: false,
        ..Config::default()
    })
    .await
}

/// A client that never follows redirects (OAuth redirects are inspected, not followed).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("reqwest client builds")
}

/// `{instance}/services/data/v64.0/{path}`.
pub fn rest_url(emu: &Emulator, path: &str) -> String {
    format!("{}services/data/{V}/{path}", emu.instance_url())
}

/// Bearer header.
pub fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        AUTHORIZATION,
        format!("Bearer {token}")
            .parse()
            .expect("tokens are header-safe"),
    );
    h
}

/// The `api-usage=used/max` header as a pair.
pub fn usage(resp: &reqwest::Response) -> Option<(u64, u64)> {
    let v = resp.headers().get("Sforce-Limit-Info")?.to_str().ok()?;
    let (used, max) = v.strip_prefix("api-usage=")?.split_once('/')?;
    Some((used.parse().ok()?, max.parse().ok()?))
}

/// A golden fixture from `tests/fixtures/`.
pub fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {} readable: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("fixture {} is JSON: {e}", path.display()))
}

/// Asserts that `actual` has the shape of `expected`: the same keys in every object (no more,
/// no fewer), every array element shaped like the fixture's first element, the same JSON type
/// for every scalar (`null` in a fixture stands for "any value": null, a scalar or a nested record).
pub fn assert_shape(expected: &Value, actual: &Value, at: &str) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            let mut ek: Vec<&String> = e.keys().collect();
            let mut ak: Vec<&String> = a.keys().collect();
            ek.sort();
            ak.sort();
            assert_eq!(ek, ak, "keys at {at} must match the documented shape");
            for (k, ev) in e {
                assert_shape(ev, &a[k], &format!("{at}.{k}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let Some(first) = e.first() {
                for (i, av) in a.iter().enumerate() {
                    assert_shape(first, av, &format!("{at}[{i}]"));
                }
            }
        }
        (Value::Null, _) => {}
        (e, a) => assert_eq!(
            std::mem::discriminant(e),
            std::mem::discriminant(a),
            "{at}: expected a value like {e}, got {a}"
        ),
    }
}
