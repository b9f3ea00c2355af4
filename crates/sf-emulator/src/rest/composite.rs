//! `POST /composite`: up to 25 subrequests run in order against the same resources, later ones
//! referring to earlier results with `@{referenceId.path}`; one API call in all. With
//! `allOrNone`, a failure rolls every change back and every other subrequest reports 400
//! `PROCESSING_HALTED`. The rollback restores the data as it was before the first subrequest
//! (writes that other clients made meanwhile are lost too; fine for a test double).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{Method, Request};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::error::{Error, Result};
use crate::Shared;

/// Most subrequests in one composite request.
pub const MAX_SUBREQUESTS: usize = 25;

fn halted(message: &str) -> Value {
    json!([{"errorCode": "PROCESSING_HALTED", "message": message}])
}

/// Resolves `name.path[0].Field` in the results so far.
pub fn lookup<'a>(results: &'a HashMap<String, Value>, reference: &str) -> Option<&'a Value> {
    let mut parts = reference.split('.');
    let mut current = results.get(parts.next()?)?;
    for part in parts {
        let (key, index) = match part.split_once('[') {
            Some((k, rest)) => (k, Some(rest.trim_end_matches(']').parse::<usize>().ok()?)),
            None => (part, None),
        };
        current = current.get(key)?;
        if let Some(i) = index {
            current = current.get(i)?;
        }
    }
    Some(current)
}

/// Replaces every `@{ref}` in `text`; `Err(ref)` names the first that has no value.
pub fn substitute(text: &str, results: &HashMap<String, Value>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("@{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let reference = &after[..end];
        match lookup(results, reference) {
            Some(Value::String(s)) => out.push_str(s),
            Some(v @ (Value::Number(_) | Value::Bool(_))) => out.push_str(&v.to_string()),
            _ => return Err(reference.to_owned()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Substitutes references inside every string of a JSON body.
fn substitute_json(value: &Value, results: &HashMap<String, Value>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => Value::String(substitute(s, results)?),
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| substitute_json(v, results))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), substitute_json(v, results)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// `POST /composite`.
pub(crate) async fn composite(
    State(shared): State<Arc<Shared>>,
    Path(_version): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let body = super::sobjects::parse_json(&body)?;
    let all_or_none = body
        .get("allOrNone")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let subs = body
        .get("compositeRequest")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::JsonParser {
            message: "compositeRequest: a JSON array of subrequests is required".into(),
        })?;
    if subs.len() > MAX_SUBREQUESTS {
        return Err(Error::JsonParser {
            message: format!("compositeRequest may hold at most {MAX_SUBREQUESTS} subrequests"),
        });
    }
    let snapshot = all_or_none.then(|| shared.lock().data.clone());
    let router = super::resources_router().with_state(shared.clone());
    let mut results: HashMap<String, Value> = HashMap::new();
    let mut responses: Vec<Value> = Vec::new();
    let mut failed = false;
    for sub in subs {
        let reference = sub
            .get("referenceId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if failed && all_or_none {
            responses.push(json!({"body": halted("The transaction was rolled back since another operation in the same transaction failed."), "httpHeaders": {}, "httpStatusCode": 400, "referenceId": reference}));
            continue;
        }
        let method = sub
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("GET")
            .to_ascii_uppercase();
        let url = sub.get("url").and_then(Value::as_str).unwrap_or_default();
        let prepared = substitute(url, &results).and_then(|u| {
            let body = sub
                .get("body")
                .map(|b| substitute_json(b, &results))
                .transpose()?;
            Ok((u, body))
        });
        let (url, sub_body) = match prepared {
            Ok(p) => p,
            Err(missing) => {
                failed = true;
                let message = format!("Invalid reference specified. No value for {missing} found in {reference}. Provided referenceId ids must be a valid reference to a previous subrequest.");
                responses.push(json!({"body": halted(&message), "httpHeaders": {}, "httpStatusCode": 400, "referenceId": reference}));
                continue;
            }
        };
        let (status, headers, value) = if !url.starts_with("/services/data/v") {
            failed = true;
            (
                400,
                json!({}),
                json!([{"errorCode": "INVALID_URL", "message": format!("The URL must start with /services/data/vXX.X/: {url}")}]),
            )
        } else {
            let request = Request::builder()
                .method(Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET))
                .uri(url.trim_end_matches('/'))
                .header("content-type", "application/json")
                .body(Body::from(
                    sub_body.map(|b| b.to_string()).unwrap_or_default(),
                ))
                .map_err(|e| Error::JsonParser {
                    message: format!("bad subrequest: {e}"),
                })?;
            let response = match router.clone().oneshot(request).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            if status >= 400 {
                failed = true;
            }
            (
                status,
                location.map_or(json!({}), |l| json!({"Location": l})),
                value,
            )
        };
        if status < 400 {
            results.insert(reference.clone(), value.clone());
        }
        responses.push(json!({"body": value, "httpHeaders": headers, "httpStatusCode": status, "referenceId": reference}));
    }
    if let (true, Some(snapshot)) = (failed, snapshot) {
        shared.lock().data = snapshot;
        for r in &mut responses {
            if r["httpStatusCode"].as_u64().is_some_and(|s| s < 400) {
                *r = json!({"body": halted("The transaction was rolled back since another operation in the same transaction failed."), "httpHeaders": {}, "httpStatusCode": 400, "referenceId": r["referenceId"]});
            }
        }
    }
    Ok(Json(json!({"compositeResponse": responses})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_resolve_paths_and_indexes() {
        let mut results = HashMap::new();
        results.insert("newLead".to_owned(), json!({"id": "00Q000000000001AAA"}));
        results.insert(
            "q".to_owned(),
            json!({"records": [{"Id": "003000000000001AAA"}]}),
        );
        assert_eq!(
            substitute("@{newLead.id}", &results).unwrap(),
            "00Q000000000001AAA",
            "plain path"
        );
        assert_eq!(
            substitute("/x/@{q.records[0].Id}/y", &results).unwrap(),
            "/x/003000000000001AAA/y",
            "indexed path inside text"
        );
        assert_eq!(
            substitute("@{missing.id}", &results),
            Err("missing.id".to_owned()),
            "unknown references are reported"
        );
        assert_eq!(
            substitute("no refs", &results).unwrap(),
            "no refs",
            "text without references is unchanged"
        );
    }
}
