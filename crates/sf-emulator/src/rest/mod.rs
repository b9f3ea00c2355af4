//! The REST API under `/services/data/`: version check, Bearer auth, the daily API counter,
//! injected faults and latency (one middleware), then the resource handlers.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::error::Error;
use crate::faults::{Effect, Fault, HANG};
use crate::server::{ConnReset, OriginalPath};
use crate::{oauth, ApiCall, Shared};

pub(crate) mod composite;
pub(crate) mod query;
pub(crate) mod search;
pub(crate) mod sobjects;

/// API versions served, oldest first, with their release labels.
pub const VERSIONS: &[(&str, &str)] = &[
    ("58.0", "Summer '23"),
    ("59.0", "Winter '24"),
    ("60.0", "Spring '24"),
    ("61.0", "Summer '24"),
    ("62.0", "Winter '25"),
    ("63.0", "Spring '25"),
    ("64.0", "Summer '25"),
    ("65.0", "Winter '26"),
    ("66.0", "Spring '26"),
];

/// Whether `segment` (`v64.0`) names a served version.
pub fn served_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .is_some_and(|v| VERSIONS.iter().any(|(n, _)| *n == v))
}

pub(crate) fn routes(shared: Arc<Shared>) -> Router {
    let v = "/services/data/{version}";
    resources_router()
        .route("/services/data", get(versions))
        .route(&format!("{v}/composite"), post(composite::composite))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(shared.clone(), layer))
        .with_state(shared)
}

/// The resources a composite subrequest may address (no middleware: the composite request
/// as a whole was authorized and counted once).
pub(crate) fn resources_router() -> Router<Arc<Shared>> {
    let v = "/services/data/{version}";
    Router::new()
        .route(v, get(resources))
        .route(&format!("{v}/limits"), get(limits))
        .route(&format!("{v}/search"), get(search::sosl))
        .route(
            &format!("{v}/parameterizedSearch"),
            get(search::parameterized_get).post(search::parameterized_post),
        )
        .route(&format!("{v}/query"), get(query::query))
        .route(&format!("{v}/query/{{locator}}"), get(query::query_more))
        .route(&format!("{v}/sobjects"), get(sobjects::describe_global))
        .route(&format!("{v}/sobjects/{{sobject}}"), post(sobjects::create))
        .route(
            &format!("{v}/sobjects/{{sobject}}/describe"),
            get(sobjects::describe),
        )
        .route(
            &format!("{v}/sobjects/{{sobject}}/{{id}}"),
            get(sobjects::read)
                .patch(sobjects::update)
                .delete(sobjects::delete),
        )
        .route(
            &format!("{v}/composite/sobjects"),
            post(sobjects::collection_create).patch(sobjects::collection_update),
        )
}

/// 404 `NOT_FOUND` with Salesforce's error array.
pub(crate) async fn not_found() -> Response {
    Error::NotFound.into_response()
}

/// 405 `METHOD_NOT_ALLOWED`, naming the verbs the resource serves.
async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let after_version: Vec<&str> = uri
        .path()
        .trim_start_matches("/services/data/")
        .split('/')
        .skip(1)
        .collect();
    let allowed = match after_version.as_slice() {
        ["sobjects", _] => "GET,HEAD,POST",
        ["sobjects", _, "describe"] => "GET,HEAD",
        ["sobjects", _, _] => "GET,PATCH,HEAD,DELETE",
        ["composite", "sobjects"] => "DELETE,GET,PATCH,POST",
        ["composite"] => "POST",
        ["parameterizedSearch"] => "GET,HEAD,POST",
        _ => "GET,HEAD",
    };
    Error::MethodNotAllowed {
        method: method.to_string(),
        allowed: allowed.into(),
    }
    .into_response()
}

async fn versions() -> Json<Value> {
    Json(
        VERSIONS
            .iter()
            .map(|(v, label)| json!({"label": label, "url": format!("/services/data/v{v}"), "version": v}))
            .collect(),
    )
}

async fn resources(axum::extract::Path(version): axum::extract::Path<String>) -> Json<Value> {
    let base = format!("/services/data/{version}");
    Json(json!({
        "sobjects": format!("{base}/sobjects"),
        "search": format!("{base}/search"),
        "parameterizedSearch": format!("{base}/parameterizedSearch"),
        "query": format!("{base}/query"),
        "composite": format!("{base}/composite"),
        "limits": format!("{base}/limits"),
    }))
}

async fn limits(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let usage = shared.lock().usage;
    Json(usage.document())
}

/// What the gate decided before the handler runs.
enum Gate {
    /// Answer with this error; `counted` says whether the request used an API call.
    Refuse(Error, bool),
    /// Apply this fault (the request was counted).
    Fault(Fault),
    /// Run the handler (counted).
    Pass,
}

fn gate(shared: &Shared, req: &Request) -> Gate {
    let path = req.uri().path();
    let version = path
        .trim_start_matches("/services/data/")
        .split('/')
        .next()
        .unwrap_or_default();
    if !served_version(version) {
        return Gate::Refuse(Error::NotFound, false);
    }
    if !oauth::authorized(shared, req.headers()) {
        return Gate::Refuse(Error::InvalidSession, false);
    }
    let mut state = shared.lock();
    if let Err(refused) = state.usage.count() {
        return Gate::Refuse(refused, false);
    }
    match state.faults.pop_front() {
        Some(fault) => Gate::Fault(fault),
        None => Gate::Pass,
    }
}

/// Latency, version, auth, counting, faults, `Sforce-Limit-Info` and the call log.
async fn layer(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req
        .extensions()
        .get::<OriginalPath>()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.0.clone());
    let query = req.uri().query().map(str::to_owned);
    let latency = shared.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let log = |status: u16, counted: bool| {
        tracing::debug!(%method, %path, status, counted, "rest request");
        shared.lock().log_call(ApiCall {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            status,
            counted,
        });
    };
    if req.uri().path() == "/services/data" {
        let response = next.run(req).await;
        log(response.status().as_u16(), false);
        return response;
    }
    let (mut response, counted) = match gate(&shared, &req) {
        Gate::Refuse(error, counted) => (error.into_response(), counted),
        Gate::Pass => (next.run(req).await, true),
        Gate::Fault(fault) => match fault.effect() {
            Effect::Answer(error) => (error.into_response(), true),
            Effect::Hang => {
                log(0, true);
                tokio::time::sleep(HANG).await;
                return Error::ServerUnavailable.into_response();
            }
            Effect::Reset => {
                log(0, true);
                if let Some(reset) = req.extensions().get::<ConnReset>() {
                    reset.0.notify_one();
                }
                // The connection task drops this request with its socket.
                return std::future::pending::<Response>().await;
            }
        },
    };
    let header = shared.lock().usage.header();
    if let Ok(value) = HeaderValue::from_str(&header) {
        response.headers_mut().insert("Sforce-Limit-Info", value);
    }
    log(response.status().as_u16(), counted);
    response
}

/// The attributes object of a record in responses.
pub(crate) fn attributes(version: &str, sobject: &str, id: &str) -> Value {
    json!({"type": sobject, "url": format!("/services/data/{version}/sobjects/{sobject}/{id}")})
}
