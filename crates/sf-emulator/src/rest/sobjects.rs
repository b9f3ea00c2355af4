//! sObject rows (`/sobjects/{Type}[/{Id}]`, describe) and sObject Collections
//! (`/composite/sobjects`), plus seed loading.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::attributes;
use crate::error::{Error, Result};
use crate::schema::{self, Write};
use crate::store::Data;
use crate::{ids, Shared};

/// Most records one collection request may carry.
pub const COLLECTION_MAX: usize = 200;

/// Now as Salesforce prints datetimes: `2026-03-01T10:15:00.000+0000`.
pub fn now_datetime() -> String {
    chrono::DateTime::<chrono::Utc>::from(SystemTime::now())
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

/// Parses a JSON request body, mapping failures to `JSON_PARSER_ERROR`.
pub(crate) fn parse_json(body: &[u8]) -> Result<Value> {
    serde_json::from_slice(body).map_err(|e| Error::JsonParser {
        message: format!("Unexpected character or end of input: {e}"),
    })
}

fn parse_object(body: &[u8]) -> Result<Map<String, Value>> {
    match parse_json(body)? {
        Value::Object(m) => Ok(m),
        other => Err(Error::JsonParser {
            message: format!(
                "Cannot deserialize instance of an sObject from {} token",
                if other.is_array() {
                    "START_ARRAY"
                } else {
                    "a scalar"
                }
            ),
        }),
    }
}

fn sobject_in_url(name: &str) -> Result<&'static str> {
    schema::canonical_sobject(name).ok_or(Error::NotFound)
}

/// Stores a record without validation: defaults, `Name`, owner and timestamps filled in.
pub(crate) fn insert_unchecked(
    data: &mut Data,
    sobject: &'static str,
    mut fields: Map<String, Value>,
    searchable_at: Option<Instant>,
) -> String {
    fields.remove("attributes");
    fields.remove("Id");
    let id = data.allocate_id(sobject);
    finish_new(sobject, &mut fields, &id);
    data.put(sobject, fields, searchable_at);
    id
}

fn finish_new(sobject: &str, fields: &mut Map<String, Value>, id: &str) {
    let now = now_datetime();
    fields.insert("Id".into(), Value::String(id.to_owned()));
    fields.insert("CreatedDate".into(), Value::String(now.clone()));
    fields.insert("LastModifiedDate".into(), Value::String(now));
    schema::complete(sobject, fields, &ids::user_id());
}

/// Validates and stores a new record; returns its Id.
pub(crate) fn create_record(
    data: &mut Data,
    sobject: &'static str,
    body: &Map<String, Value>,
    searchable_at: Option<Instant>,
) -> Result<String> {
    let mut fields = {
        let lookup = |id: &str| data.type_of(id);
        schema::validate(sobject, Write::Create, body, None, &lookup)?
    };
    let id = data.allocate_id(sobject);
    finish_new(sobject, &mut fields, &id);
    data.put(sobject, fields, searchable_at);
    Ok(id)
}

/// Validates and applies an update.
pub(crate) fn update_record(
    data: &mut Data,
    sobject: &'static str,
    id: &str,
    body: &Map<String, Value>,
) -> Result<()> {
    let existing = data.get(sobject, id).ok_or(Error::NotFound)?.fields.clone();
    let changes = {
        let lookup = |id: &str| data.type_of(id);
        schema::validate(sobject, Write::Update, body, Some(&existing), &lookup)?
    };
    let updated = data.update(sobject, id, |fields| {
        fields.extend(changes);
        fields.insert("LastModifiedDate".into(), Value::String(now_datetime()));
        schema::complete(sobject, fields, &ids::user_id());
    });
    if updated {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// Loads the deterministic seed: Ids in order, `account_key` resolved to `AccountId`.
pub(crate) fn load_seed(data: &mut Data, _now: Instant) {
    let mut keys: HashMap<String, String> = HashMap::new();
    for record in crate::seed::dataset() {
        let Some(sobject) = schema::canonical_sobject(record.sobject) else {
            tracing::warn!(
                sobject = record.sobject,
                "seed record of an unmodelled type skipped"
            );
            continue;
        };
        let mut fields = record.fields;
        if let Some(account) = record.account_key.as_ref().and_then(|k| keys.get(k)) {
            fields.insert("AccountId".into(), Value::String(account.clone()));
        }
        let id = insert_unchecked(data, sobject, fields, None);
        keys.insert(record.key, id);
    }
}

fn record_json(version: &str, sobject: &str, fields: &Map<String, Value>) -> Value {
    let id = fields.get("Id").and_then(Value::as_str).unwrap_or_default();
    let mut out = Map::new();
    out.insert("attributes".into(), attributes(version, sobject, id));
    out.extend(fields.clone());
    Value::Object(out)
}

fn created(version: &str, sobject: &str, id: &str) -> Response {
    (
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/services/data/{version}/sobjects/{sobject}/{id}"),
        )],
        Json(json!({"id": id, "success": true, "errors": []})),
    )
        .into_response()
}

fn searchable_at(shared: &Shared) -> Option<Instant> {
    (!shared.search_index_lag.is_zero()).then(|| Instant::now() + shared.search_index_lag)
}

/// `POST /sobjects/{Type}` → 201 `{"id","success":true,"errors":[]}`.
pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    Path((version, sobject)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response> {
    let sobject = sobject_in_url(&sobject)?;
    let fields = parse_object(&body)?;
    let lag = searchable_at(&shared);
    let id = create_record(&mut shared.lock().data, sobject, &fields, lag)?;
    tracing::debug!(sobject, %id, "record created");
    Ok(created(&version, sobject, &id))
}

/// `GET /sobjects/{Type}/{Id}[?fields=a,b]`.
pub(crate) async fn read(
    State(shared): State<Arc<Shared>>,
    Path((version, sobject, id)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let params = crate::server::query_params(raw.as_deref());
    let sobject = sobject_in_url(&sobject)?;
    let id = ids::normalize(&id).ok_or(Error::NotFound)?;
    let fields = shared
        .lock()
        .data
        .get(sobject, &id)
        .ok_or(Error::NotFound)?
        .fields
        .clone();
    let fields = match params.get("fields").filter(|f| !f.trim().is_empty()) {
        None => fields,
        Some(list) => {
            let mut picked = Map::new();
            for name in list.split(',').map(str::trim) {
                let field = schema::field(sobject, name)
                    .ok_or_else(|| Error::no_such_column(name, sobject))?;
                picked.insert(
                    field.name.into(),
                    fields.get(field.name).cloned().unwrap_or(Value::Null),
                );
            }
            picked.insert("Id".into(), Value::String(id.clone()));
            picked
        }
    };
    Ok(Json(record_json(&version, sobject, &fields)).into_response())
}

/// `PATCH /sobjects/{Type}/{Id}` → 204.
pub(crate) async fn update(
    State(shared): State<Arc<Shared>>,
    Path((_version, sobject, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response> {
    let sobject = sobject_in_url(&sobject)?;
    let id = ids::normalize(&id).ok_or(Error::NotFound)?;
    let fields = parse_object(&body)?;
    update_record(&mut shared.lock().data, sobject, &id, &fields)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /sobjects/{Type}/{Id}` → 204.
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    Path((_version, sobject, id)): Path<(String, String, String)>,
) -> Result<Response> {
    let sobject = sobject_in_url(&sobject)?;
    let id = ids::normalize(&id).ok_or(Error::NotFound)?;
    if shared.lock().data.remove(sobject, &id) {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Error::NotFound)
    }
}

/// `GET /sobjects/{Type}/describe` (fields with name, type, label and write flags).
pub(crate) async fn describe(
    Path((_version, sobject)): Path<(String, String)>,
) -> Result<Response> {
    let sobject = sobject_in_url(&sobject)?;
    Ok(Json(schema::describe(sobject).ok_or(Error::NotFound)?).into_response())
}

/// `GET /sobjects`: the modelled types (describeGlobal).
pub(crate) async fn describe_global(Path(version): Path<String>) -> Json<Value> {
    let sobjects: Vec<Value> = schema::SOBJECTS
        .iter()
        .map(|t| {
            let base = format!("/services/data/{version}/sobjects/{t}");
            json!({
                "name": t, "label": t, "keyPrefix": ids::key_prefix(t),
                "createable": true, "updateable": true, "deletable": true, "queryable": true,
                "searchable": *t != "Task", "custom": false,
                "urls": {"sobject": base, "describe": format!("{base}/describe"), "rowTemplate": format!("{base}/{{ID}}")},
            })
        })
        .collect();
    Json(json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects}))
}

/// The parts of a collection request.
fn collection_body(body: &[u8]) -> Result<(bool, Vec<Value>)> {
    let body = parse_object(body)?;
    let all_or_none = body
        .get("allOrNone")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let records = match body.get("records") {
        Some(Value::Array(records)) => records.clone(),
        _ => {
            return Err(Error::JsonParser {
                message: "records: a JSON array of sObjects is required".into(),
            });
        }
    };
    if records.len() > COLLECTION_MAX {
        return Err(Error::ExceededIdLimit {
            max: COLLECTION_MAX,
        });
    }
    Ok((all_or_none, records))
}

fn record_type(record: &Map<String, Value>) -> Result<&'static str> {
    let name = record
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    schema::canonical_sobject(name).ok_or_else(|| Error::InvalidType {
        sobject: name.to_owned(),
    })
}

/// Runs one operation per record, results in input order. With `all_or_none` the operations run
/// on a copy of the data, committed only when every one succeeded; without it each record stands
/// alone (an operation changes nothing when it fails), so the data is changed in place: a copy
/// of the whole org per request would cost more with every record the org holds.
fn run_collection(
    data: &mut Data,
    all_or_none: bool,
    records: &[Value],
    op: impl Fn(&mut Data, &Map<String, Value>) -> Result<String>,
) -> Vec<Value> {
    let run = |work: &mut Data| -> Vec<Result<String>> {
        records
            .iter()
            .map(|r| match r {
                Value::Object(m) => op(work, m),
                _ => Err(Error::JsonParser {
                    message: "each record must be a JSON object".into(),
                }),
            })
            .collect()
    };
    let (outcomes, rolled_back) = if all_or_none {
        let mut work = data.clone();
        let outcomes = run(&mut work);
        let failed = outcomes.iter().any(Result::is_err);
        if !failed {
            *data = work;
        }
        (outcomes, failed)
    } else {
        (run(data), false)
    };
    outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(_) if rolled_back => {
                json!({"success": false, "errors": [Error::RolledBack.collection_json()]})
            }
            Ok(id) => json!({"id": id, "success": true, "errors": []}),
            Err(e) => json!({"success": false, "errors": [e.collection_json()]}),
        })
        .collect()
}

/// `POST /composite/sobjects` → 200 with one result per record, in order.
pub(crate) async fn collection_create(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Response> {
    let (all_or_none, records) = collection_body(&body)?;
    let lag = searchable_at(&shared);
    let results = run_collection(
        &mut shared.lock().data,
        all_or_none,
        &records,
        |data, record| {
            if record.keys().any(|k| k.eq_ignore_ascii_case("Id")) {
                return Err(Error::InvalidField {
                    message: "The Id field should not be specified in the sobject data.".into(),
                    field: None,
                });
            }
            create_record(data, record_type(record)?, record, lag)
        },
    );
    Ok(Json(Value::Array(results)).into_response())
}

/// `PATCH /composite/sobjects` → 200 with one result per record (each carries its `Id`).
pub(crate) async fn collection_update(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Response> {
    let (all_or_none, records) = collection_body(&body)?;
    let results = run_collection(
        &mut shared.lock().data,
        all_or_none,
        &records,
        |data, record| {
            let sobject = record_type(record)?;
            let raw = record
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("Id"))
                .and_then(|(_, v)| v.as_str())
                .unwrap_or_default();
            let id = ids::normalize(raw).ok_or_else(|| Error::MalformedId {
                field: "Id".into(),
                label: "Record ID".into(),
                value: raw.into(),
            })?;
            if data.get(sobject, &id).is_none() {
                return Err(Error::InvalidCrossReferenceKey { field: "Id".into() });
            }
            let body: Map<String, Value> = record
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("Id"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            update_record(data, sobject, &id, &body)?;
            Ok(id)
        },
    );
    Ok(Json(Value::Array(results)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(subject: &str, call_type: &str) -> Value {
        json!({"attributes": {"type": "Task"}, "Subject": subject, "CallType": call_type})
    }

    #[test]
    fn all_or_none_rolls_back_every_record() {
        let mut data = Data::default();
        let records = vec![task("ok", "Inbound"), task("bad", "Sideways")];
        let results = run_collection(&mut data, true, &records, |d, r| {
            create_record(d, record_type(r)?, r, None)
        });
        assert_eq!(
            data.count("Task"),
            0,
            "nothing is committed when one record fails under allOrNone"
        );
        assert_eq!(
            results[0]["errors"][0]["statusCode"], "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "the good record reports the rollback"
        );
        assert_eq!(
            results[1]["errors"][0]["statusCode"], "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "the bad one reports its own error"
        );
    }

    #[test]
    fn partial_success_without_all_or_none() {
        let mut data = Data::default();
        let records = vec![
            task("ok", "Inbound"),
            task("bad", "Sideways"),
            json!({"Subject": "no type"}),
        ];
        let results = run_collection(&mut data, false, &records, |d, r| {
            create_record(d, record_type(r)?, r, None)
        });
        assert_eq!(data.count("Task"), 1, "the valid record is saved");
        assert_eq!(results[0]["success"], true, "first succeeds");
        assert!(
            results[0]["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("00T")),
            "Task Ids start 00T"
        );
        assert_eq!(results[1]["success"], false, "second fails");
        assert_eq!(
            results[2]["errors"][0]["statusCode"], "INVALID_TYPE",
            "records need attributes.type"
        );
    }

    #[test]
    fn oversized_collection_is_refused() {
        let records: Vec<Value> = (0..=COLLECTION_MAX)
            .map(|i| task(&i.to_string(), "Inbound"))
            .collect();
        let body = serde_json::to_vec(&json!({"records": records})).unwrap();
        let err = collection_body(&body).unwrap_err();
        assert_eq!(
            err.error_code(),
            "EXCEEDED_ID_LIMIT",
            "more than 200 records is a request error"
        );
    }

    #[test]
    fn update_recomputes_name_and_keeps_other_fields() {
        let mut data = Data::default();
        let body = json!({"FirstName": "Ada", "LastName": "Lovelace", "Phone": "(415) 555-0100"});
        let id = create_record(&mut data, "Contact", body.as_object().unwrap(), None).unwrap();
        update_record(
            &mut data,
            "Contact",
            &id,
            json!({"LastName": "Byron"}).as_object().unwrap(),
        )
        .unwrap();
        let stored = &data.get("Contact", &id).unwrap().fields;
        assert_eq!(stored["Name"], "Ada Byron", "Name follows the new LastName");
        assert_eq!(
            stored["Phone"], "(415) 555-0100",
            "untouched fields stay as typed"
        );
    }
}
