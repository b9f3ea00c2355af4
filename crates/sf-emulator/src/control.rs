//! The control API under `/__emulator/` for out-of-process users (jsforce test, demo, benches).
//! Control requests are not counted, not delayed, not faulted and not logged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::Error;
use crate::phone::PhoneMatch;
use crate::rest::sobjects;
use crate::{oauth, schema, Fault, Shared};

pub(crate) fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/__emulator/reset", post(reset_http))
        .route("/__emulator/tokens", post(tokens))
        .route("/__emulator/expire-tokens", post(expire_tokens))
        .route(
            "/__emulator/revoke-refresh-tokens",
            post(revoke_refresh_tokens),
        )
        .route("/__emulator/faults", post(faults))
        .route("/__emulator/latency", put(latency))
        .route("/__emulator/phone-match", put(phone_match))
        .route("/__emulator/api-limit", put(api_limit))
        .route("/__emulator/calls", get(calls).delete(clear_calls))
        .route("/__emulator/records/{sobject}", get(records).post(insert))
        .with_state(shared)
}

/// Drops data, counters, faults and the call log; reloads the seed if asked. Tokens stay valid.
pub(crate) fn reset(shared: &Shared, seed: bool) {
    let mut state = shared.lock();
    state.data = crate::store::Data::default();
    if seed {
        sobjects::load_seed(&mut state.data, Instant::now());
    }
    state.usage.used = 0;
    state.faults.clear();
    state.calls.clear();
    state.cursors.clear();
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": message}))).into_response()
}

fn body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("bad control request body: {e}"))
}

#[derive(Deserialize)]
struct ResetBody {
    #[serde(default = "yes")]
    seed: bool,
}
fn yes() -> bool {
    true
}

async fn reset_http(State(shared): State<Arc<Shared>>, bytes: axum::body::Bytes) -> Response {
    let seed = if bytes.is_empty() {
        true
    } else {
        match body::<ResetBody>(&bytes) {
            Ok(b) => b.seed,
            Err(e) => return bad_request(e),
        }
    };
    reset(&shared, seed);
    StatusCode::NO_CONTENT.into_response()
}

async fn tokens(State(shared): State<Arc<Shared>>) -> Response {
    Json(oauth::mint_tokens(&shared)).into_response()
}

async fn expire_tokens(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().sessions.expire_all_access();
    StatusCode::NO_CONTENT
}

async fn revoke_refresh_tokens(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().sessions.revoke_all_refresh();
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct FaultBody {
    fault: Fault,
    #[serde(default = "one")]
    count: u32,
}
fn one() -> u32 {
    1
}

async fn faults(State(shared): State<Arc<Shared>>, bytes: axum::body::Bytes) -> Response {
    match body::<FaultBody>(&bytes) {
        Ok(b) => {
            shared
                .lock()
                .faults
                .extend(std::iter::repeat_n(b.fault, b.count as usize));
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad_request(e),
    }
}

#[derive(Deserialize)]
struct LatencyBody {
    ms: u64,
}

async fn latency(State(shared): State<Arc<Shared>>, bytes: axum::body::Bytes) -> Response {
    match body::<LatencyBody>(&bytes) {
        Ok(b) => {
            shared.lock().latency = Duration::from_millis(b.ms);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad_request(e),
    }
}

#[derive(Deserialize)]
struct PhoneMatchBody {
    mode: PhoneMatch,
}

async fn phone_match(State(shared): State<Arc<Shared>>, bytes: axum::body::Bytes) -> Response {
    match body::<PhoneMatchBody>(&bytes) {
        Ok(b) => {
            shared.lock().phone_match = b.mode;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad_request(e),
    }
}

#[derive(Deserialize)]
struct LimitBody {
    max: u64,
}

async fn api_limit(State(shared): State<Arc<Shared>>, bytes: axum::body::Bytes) -> Response {
    match body::<LimitBody>(&bytes) {
        Ok(b) => {
            shared.lock().usage.max = b.max;
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => bad_request(e),
    }
}

async fn calls(State(shared): State<Arc<Shared>>) -> Response {
    let calls: Vec<crate::ApiCall> = shared.lock().calls.iter().cloned().collect();
    Json(calls).into_response()
}

async fn clear_calls(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.lock().calls.clear();
    StatusCode::NO_CONTENT
}

async fn records(State(shared): State<Arc<Shared>>, Path(sobject): Path<String>) -> Response {
    let Some(sobject) = schema::canonical_sobject(&sobject) else {
        return Error::InvalidType { sobject }.into_response();
    };
    let list: Vec<Value> = shared
        .lock()
        .data
        .all(sobject)
        .map(|r| Value::Object(r.fields.clone()))
        .collect();
    Json(list).into_response()
}

async fn insert(
    State(shared): State<Arc<Shared>>,
    Path(sobject): Path<String>,
    bytes: axum::body::Bytes,
) -> Response {
    let Some(sobject) = schema::canonical_sobject(&sobject) else {
        return Error::InvalidType { sobject }.into_response();
    };
    let fields = match body::<serde_json::Map<String, Value>>(&bytes) {
        Ok(f) => f,
        Err(e) => return bad_request(e),
    };
    let id = sobjects::insert_unchecked(&mut shared.lock().data, sobject, fields, None);
    (StatusCode::CREATED, Json(json!({"id": id}))).into_response()
}
