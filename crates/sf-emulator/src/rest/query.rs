//! SOQL `GET /query?q=` and the field resolution and projection shared with search:
//! plain fields, and `Rel.Field` relationship fields (`Account.Name`, `Who.Name`, `Owner.Name`).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::attributes;
use crate::error::{Error, Result};
use crate::schema::{self, Kind};
use crate::soql::{self, Condition, QueryError};
use crate::store::Data;
use crate::{ids, Shared};

impl From<QueryError> for Error {
    fn from(e: QueryError) -> Self {
        Error::MalformedQuery { message: e.message }
    }
}

/// A field named in a query, checked against the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldRef {
    /// A field of the queried type (canonical name).
    Plain(&'static str),
    /// `Rel.Field` through the lookup `via` (e.g. `AccountId`).
    Related {
        /// Relationship name (`Account`, `Who`, `Owner`).
        rel: String,
        /// The lookup field (`AccountId`).
        via: &'static str,
        /// The field on the related record (canonical where known).
        field: String,
    },
}

/// Resolves a field name (case-insensitive) on `sobject`, or `INVALID_FIELD`.
pub fn resolve(sobject: &str, name: &str) -> Result<FieldRef> {
    if let Some((rel, rest)) = name.split_once('.') {
        let lookup = schema::fields(sobject)
            .unwrap_or_default()
            .iter()
            .find(|f| {
                matches!(f.kind, Kind::Reference(_))
                    && f.name.len() > 2
                    && f.name[..f.name.len() - 2].eq_ignore_ascii_case(rel)
            })
            .ok_or_else(|| Error::no_such_column(name, sobject))?;
        let Kind::Reference(targets) = lookup.kind else {
            return Err(Error::no_such_column(name, sobject));
        };
        let rel_name = lookup.name[..lookup.name.len() - 2].to_owned();
        let field = match targets {
            [single] if *single != "User" => schema::field(single, rest).map(|f| f.name.to_owned()),
            _ => ["Id", "Name"]
                .iter()
                .find(|f| f.eq_ignore_ascii_case(rest))
                .map(|f| (*f).to_owned()),
        }
        .ok_or_else(|| Error::no_such_column(name, sobject))?;
        return Ok(FieldRef::Related {
            rel: rel_name,
            via: lookup.name,
            field,
        });
    }
    schema::field(sobject, name)
        .map(|f| FieldRef::Plain(f.name))
        .ok_or_else(|| Error::no_such_column(name, sobject))
}

/// Checks every field a condition mentions.
pub fn check_condition(sobject: &str, condition: &Condition) -> Result<()> {
    condition
        .fields()
        .into_iter()
        .try_for_each(|f| resolve(sobject, f).map(|_| ()))
}

/// The related record's fields for `via`, as a map (with `Name` for Users).
fn related(data: &Data, id: &str) -> Option<(&'static str, Map<String, Value>)> {
    if id == ids::user_id() {
        let mut m = Map::new();
        m.insert("Id".into(), json!(id));
        m.insert("Name".into(), json!("Demo Agent"));
        return Some(("User", m));
    }
    let t = data.type_of(id)?;
    Some((t, data.get(t, id)?.fields.clone()))
}

/// The record with relationship objects added (`Account: {...}`), so that conditions and
/// ordering on `Account.Name` work. Only the relationships named in `refs` are added.
pub fn expand(
    data: &Data,
    version: &str,
    record: &Map<String, Value>,
    refs: &[FieldRef],
) -> Map<String, Value> {
    let mut out = record.clone();
    for r in refs {
        let FieldRef::Related { rel, via, field } = r else {
            continue;
        };
        let id = record.get(*via).and_then(Value::as_str);
        let entry = out.entry(rel.clone()).or_insert(Value::Null);
        let Some((t, fields)) = id.and_then(|id| related(data, id)) else {
            *entry = Value::Null;
            continue;
        };
        if entry.is_null() {
            *entry = json!({"attributes": attributes(version, t, fields.get("Id").and_then(Value::as_str).unwrap_or_default())});
        }
        entry[field.as_str()] = fields.get(field.as_str()).cloned().unwrap_or(Value::Null);
    }
    out
}

/// The response row: `attributes` plus the requested fields (relationship objects nested).
pub fn project(
    version: &str,
    sobject: &str,
    record: &Map<String, Value>,
    refs: &[FieldRef],
    always_id: bool,
) -> Value {
    let id = record.get("Id").and_then(Value::as_str).unwrap_or_default();
    let mut out = Map::new();
    out.insert("attributes".into(), attributes(version, sobject, id));
    if always_id {
        out.insert("Id".into(), json!(id));
    }
    for r in refs {
        match r {
            FieldRef::Plain(name) => {
                out.insert(
                    (*name).into(),
                    record.get(*name).cloned().unwrap_or(Value::Null),
                );
            }
            FieldRef::Related { rel, .. } => {
                out.insert(
                    rel.clone(),
                    record.get(rel.as_str()).cloned().unwrap_or(Value::Null),
                );
            }
        }
    }
    Value::Object(out)
}

/// Runs a parsed SOQL query against the data; every matching row, projected.
pub fn run(data: &Data, version: &str, q: &soql::SoqlQuery) -> Result<Vec<Value>> {
    let sobject = schema::canonical_sobject(&q.from).ok_or_else(|| Error::InvalidType {
        sobject: q.from.clone(),
    })?;
    let refs = q
        .fields
        .iter()
        .map(|f| resolve(sobject, f))
        .collect::<Result<Vec<_>>>()?;
    let mut all_refs = refs.clone();
    if let Some(filter) = &q.filter {
        check_condition(sobject, filter)?;
        for f in filter.fields() {
            all_refs.push(resolve(sobject, f)?);
        }
    }
    for o in &q.order_by {
        all_refs.push(resolve(sobject, &o.field)?);
    }
    let keep = |r: &Map<String, Value>| q.filter.as_ref().is_none_or(|c| c.eval(r));
    let related = all_refs
        .iter()
        .any(|r| matches!(r, FieldRef::Related { .. }));
    // Relationship objects are added only when a field needs them, and rows are copied only
    // once they pass the filter.
    let mut rows: Vec<Map<String, Value>> = if related {
        data.all(sobject)
            .map(|r| expand(data, version, &r.fields, &all_refs))
            .filter(|r| keep(r))
            .collect()
    } else {
        data.all(sobject)
            .filter(|r| keep(&r.fields))
            .map(|r| r.fields.clone())
            .collect()
    };
    soql::sort_records(&mut rows, &q.order_by);
    Ok(rows
        .iter()
        .skip(q.offset.unwrap_or(0))
        .take(q.limit.unwrap_or(usize::MAX))
        .map(|r| project(version, sobject, r, &refs, false))
        .collect())
}

/// Default and bounds of the page size (`Sforce-Query-Options: batchSize=N`).
pub const BATCH_DEFAULT: usize = 2000;
const BATCH_MIN: usize = 200;

/// The batch size asked for in `Sforce-Query-Options`, clamped to 200..=2000.
pub fn batch_size(headers: &HeaderMap) -> usize {
    headers
        .get("Sforce-Query-Options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .find_map(|p| p.trim().strip_prefix("batchSize="))
        })
        .and_then(|n| n.trim().parse::<usize>().ok())
        .map_or(BATCH_DEFAULT, |n| n.clamp(BATCH_MIN, BATCH_DEFAULT))
}

/// One page of a result: `{"totalSize","done","records"[,"nextRecordsUrl"]}`.
pub fn page(version: &str, locator: &str, rows: &[Value], offset: usize, batch: usize) -> Value {
    let end = (offset + batch).min(rows.len());
    let mut body = json!({
        "totalSize": rows.len(),
        "done": end >= rows.len(),
        "records": rows.get(offset..end).unwrap_or_default(),
    });
    if end < rows.len() {
        body["nextRecordsUrl"] = json!(format!("/services/data/{version}/query/{locator}-{end}"));
    }
    body
}

/// `GET /query?q=<SOQL>`.
pub(crate) async fn query(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response> {
    let params = crate::server::query_params(raw.as_deref());
    let q = params.get("q").ok_or_else(|| Error::MalformedQuery {
        message: "A query string (q) is required".into(),
    })?;
    let parsed = soql::parse_soql(q)?;
    let batch = batch_size(&headers);
    let mut state = shared.lock();
    let rows = run(&state.data, &version, &parsed)?;
    let locator = if rows.len() > batch {
        let n = state.cursors.len() as u64 + 1;
        let locator = ids::generate("01g", n);
        state.cursors.insert(locator.clone(), (rows.clone(), batch));
        locator
    } else {
        String::new()
    };
    Ok(Json(page(&version, &locator, &rows, 0, batch)).into_response())
}

/// `GET /query/{locator}-{offset}`: the next page of an earlier query.
pub(crate) async fn query_more(
    State(shared): State<Arc<Shared>>,
    Path((version, locator)): Path<(String, String)>,
) -> Result<Response> {
    let invalid = || Error::InvalidQueryLocator {
        locator: locator.clone(),
    };
    let (id, offset) = locator.rsplit_once('-').ok_or_else(invalid)?;
    let offset: usize = offset.parse().map_err(|_| invalid())?;
    let state = shared.lock();
    let (rows, batch) = state.cursors.get(id).ok_or_else(invalid)?;
    if offset > rows.len() {
        return Err(invalid());
    }
    Ok(Json(page(&version, id, rows, offset, *batch)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::sobjects::create_record;

    fn data() -> (Data, String, String) {
        let mut d = Data::default();
        let acc = create_record(
            &mut d,
            "Account",
            json!({"Name": "Acme"}).as_object().unwrap(),
            None,
        )
        .unwrap();
        let c = create_record(
            &mut d,
            "Contact",
            json!({"LastName": "O'Brien", "FirstName": "Pat", "AccountId": acc})
                .as_object()
                .unwrap(),
            None,
        )
        .unwrap();
        (d, acc, c)
    }

    #[test]
    fn resolves_plain_and_relationship_fields() {
        assert_eq!(
            resolve("Contact", "phone").unwrap(),
            FieldRef::Plain("Phone"),
            "names are case-insensitive"
        );
        assert!(
            matches!(
                resolve("Contact", "Account.Name").unwrap(),
                FieldRef::Related {
                    via: "AccountId",
                    ..
                }
            ),
            "Account.Name goes through AccountId"
        );
        assert!(
            matches!(
                resolve("Task", "Who.Name").unwrap(),
                FieldRef::Related { via: "WhoId", .. }
            ),
            "polymorphic Who has Name"
        );
        assert_eq!(
            resolve("Contact", "Nope").unwrap_err().error_code(),
            "INVALID_FIELD",
            "unknown columns are INVALID_FIELD"
        );
        assert_eq!(
            resolve("Contact", "Account.Nope").unwrap_err().error_code(),
            "INVALID_FIELD",
            "unknown related columns too"
        );
    }

    #[test]
    fn query_with_escaped_literal_and_relationship() {
        let (d, acc, c) = data();
        let q = soql::parse_soql(&format!(
            "SELECT Id, Name, Account.Name FROM Contact WHERE LastName = '{}'",
            soql::escape_string_literal("O'Brien")
        ))
        .unwrap();
        let out = run(&d, "v64.0", &q).unwrap();
        assert_eq!(out.len(), 1, "the escaped quote matches the stored name");
        assert_eq!(out[0]["Id"], json!(c), "the contact is returned");
        assert_eq!(
            out[0]["Account"]["Name"], "Acme",
            "relationship field nested under Account"
        );
        assert_eq!(
            out[0]["Account"]["attributes"]["url"],
            json!(format!("/services/data/v64.0/sobjects/Account/{acc}")),
            "nested attributes url"
        );
        assert!(
            out[0].get("Phone").is_none(),
            "fields not requested are not returned"
        );
    }

    #[test]
    fn pages_link_to_the_next_one() {
        let rows: Vec<Value> = (0..450).map(|i| json!({"n": i})).collect();
        let first = page("v64.0", "01gX", &rows, 0, 200);
        assert_eq!(
            (first["totalSize"].as_u64(), first["done"].as_bool()),
            (Some(450), Some(false)),
            "totalSize counts every row"
        );
        assert_eq!(
            first["nextRecordsUrl"], "/services/data/v64.0/query/01gX-200",
            "locator-offset URL"
        );
        let last = page("v64.0", "01gX", &rows, 400, 200);
        assert_eq!(
            last["records"].as_array().unwrap().len(),
            50,
            "the last page holds the rest"
        );
        assert!(
            last.get("nextRecordsUrl").is_none() && last["done"] == true,
            "and ends the result"
        );
        let mut h = HeaderMap::new();
        h.insert("Sforce-Query-Options", "batchSize=50".parse().unwrap());
        assert_eq!(
            batch_size(&h),
            200,
            "batch sizes below 200 are raised to 200"
        );
    }

    #[test]
    fn unknown_type_and_field_are_typed_errors() {
        let (d, _, _) = data();
        let q = soql::parse_soql("SELECT Id FROM Widget").unwrap();
        assert_eq!(
            run(&d, "v64.0", &q).unwrap_err().error_code(),
            "INVALID_TYPE",
            "unknown sObject"
        );
        let q = soql::parse_soql("SELECT Id FROM Contact WHERE Bogus = 'x'").unwrap();
        assert_eq!(
            run(&d, "v64.0", &q).unwrap_err().error_code(),
            "INVALID_FIELD",
            "unknown filter field"
        );
    }
}
