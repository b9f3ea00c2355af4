//! `GET /search?q=<SOSL>` and `parameterizedSearch` (GET and POST), both answering
//! `{"searchRecords":[…]}`. Records created within `search_index_lag` are not found yet.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::query::{check_condition, expand, project, resolve, FieldRef};
use crate::error::{Error, Result};
use crate::phone::PhoneMatch;
use crate::schema::{self, Kind};
use crate::search::{self, SearchGroup, SearchableFields, TermExpr};
use crate::soql::{self, Condition, OrderBy};
use crate::store::{Data, Stored};
use crate::Shared;

/// Most rows one search returns.
pub const MAX_ROWS: usize = 2000;
/// Types searched when the request names none.
const DEFAULT_TYPES: &[&str] = &["Account", "Contact", "Lead", "Opportunity", "Case"];

/// One object to return, resolved against the schema.
#[derive(Debug)]
pub struct Spec {
    /// The type.
    pub sobject: &'static str,
    /// Fields to return.
    pub fields: Vec<FieldRef>,
    /// Its `WHERE`.
    pub filter: Option<Condition>,
    /// Its `ORDER BY`.
    pub order_by: Vec<OrderBy>,
    /// Its `LIMIT`.
    pub limit: Option<usize>,
}

/// Builds a [`Spec`], checking the type and every field.
pub fn spec(
    sobject: &str,
    fields: &[String],
    filter: Option<Condition>,
    order_by: Vec<OrderBy>,
    limit: Option<usize>,
) -> Result<Spec> {
    let t = schema::canonical_sobject(sobject).ok_or_else(|| Error::InvalidType {
        sobject: sobject.to_owned(),
    })?;
    let fields = fields
        .iter()
        .filter(|f| !f.eq_ignore_ascii_case("Id"))
        .map(|f| resolve(t, f))
        .collect::<Result<Vec<_>>>()?;
    if let Some(c) = &filter {
        check_condition(t, c)?;
    }
    for o in &order_by {
        resolve(t, &o.field)?;
    }
    Ok(Spec {
        sobject: t,
        fields,
        filter,
        order_by,
        limit,
    })
}

/// Which fields of a type feed which part of [`SearchableFields`]; computed once per type.
struct Layout {
    names: Vec<&'static str>,
    other: Vec<&'static str>,
}

impl Layout {
    fn of(sobject: &str) -> Layout {
        let names = schema::name_fields(sobject);
        let other = schema::fields(sobject)
            .unwrap_or_default()
            .iter()
            .filter(|f| matches!(f.kind, Kind::Text(_)) && !names.contains(&f.name))
            .map(|f| f.name)
            .collect();
        Layout { names, other }
    }

    /// The record's values that a search in `group` looks at (the others are left empty: a
    /// phone search, the popup's, reads only the record's phone index).
    fn searchable<'a>(&self, stored: &'a Stored, group: SearchGroup) -> SearchableFields<'a> {
        let r = &stored.fields;
        use SearchGroup::{All, Email, Name, Phone, Sidebar};
        let text = |wanted: bool, names: &[&str]| -> Vec<&'a str> {
            if !wanted {
                return Vec::new();
            }
            names
                .iter()
                .filter_map(|n| r.get(*n).and_then(Value::as_str))
                .filter(|s| !s.is_empty())
                .collect()
        };
        SearchableFields {
            phones: if matches!(group, All | Phone | Sidebar) {
                stored.phones().collect()
            } else {
                Vec::new()
            },
            names: text(matches!(group, All | Name | Sidebar), &self.names),
            emails: text(matches!(group, All | Email | Sidebar), &["Email"]),
            other_text: text(group == All, &self.other),
        }
    }
}

/// Runs a search: each spec in order, each record at most once, overall limit applied.
pub fn run(
    data: &Data,
    version: &str,
    now: Instant,
    terms: &TermExpr,
    group: SearchGroup,
    mode: PhoneMatch,
    specs: &[Spec],
    overall_limit: Option<usize>,
) -> Value {
    let overall = overall_limit.unwrap_or(MAX_ROWS).min(MAX_ROWS);
    let mut out = Vec::new();
    for s in specs {
        let mut refs = s.fields.clone();
        if let Some(c) = &s.filter {
            refs.extend(
                c.fields()
                    .into_iter()
                    .filter_map(|f| resolve(s.sobject, f).ok()),
            );
        }
        refs.extend(
            s.order_by
                .iter()
                .filter_map(|o| resolve(s.sobject, &o.field).ok()),
        );
        let layout = Layout::of(s.sobject);
        let mut rows: Vec<Map<String, Value>> = data
            .all(s.sobject)
            .filter(|r| r.searchable_at.is_none_or(|t| t <= now))
            .filter(|r| terms.matches(group, &layout.searchable(r, group), mode))
            .map(|r| expand(data, version, &r.fields, &refs))
            .filter(|r| s.filter.as_ref().is_none_or(|c| c.eval(r)))
            .collect();
        soql::sort_records(&mut rows, &s.order_by);
        let take = s
            .limit
            .unwrap_or(MAX_ROWS)
            .min(overall.saturating_sub(out.len()));
        out.extend(
            rows.iter()
                .take(take)
                .map(|r| project(version, s.sobject, r, &s.fields, true)),
        );
    }
    json!({ "searchRecords": out })
}

fn default_specs() -> Vec<Spec> {
    DEFAULT_TYPES
        .iter()
        .map(|t| Spec {
            sobject: schema::canonical_sobject(t).unwrap_or("Account"),
            fields: Vec::new(),
            filter: None,
            order_by: Vec::new(),
            limit: None,
        })
        .collect()
}

fn respond(
    shared: &Shared,
    version: &str,
    terms: &TermExpr,
    group: SearchGroup,
    specs: &[Spec],
    overall: Option<usize>,
) -> Response {
    let state = shared.lock();
    let body = run(
        &state.data,
        version,
        Instant::now(),
        terms,
        group,
        state.phone_match,
        specs,
        overall,
    );
    Json(body).into_response()
}

/// `GET /search?q=FIND {…} …`.
pub(crate) async fn sosl(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let params = pairs(raw.as_deref());
    let q = first(&params, "q").ok_or_else(|| Error::MalformedQuery {
        message: "A search string (q) is required".into(),
    })?;
    let parsed = search::parse_sosl(q)?;
    let specs = if parsed.returning.is_empty() {
        default_specs()
    } else {
        parsed
            .returning
            .into_iter()
            .map(|r| spec(&r.sobject, &r.fields, r.filter, r.order_by, r.limit))
            .collect::<Result<Vec<_>>>()?
    };
    Ok(respond(
        &shared,
        &version,
        &parsed.terms,
        parsed.group,
        &specs,
        parsed.limit,
    ))
}

fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn first<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn number(s: Option<&str>, what: &str) -> Result<Option<usize>> {
    s.map(|v| {
        v.trim()
            .parse::<usize>()
            .map_err(|_| Error::MalformedQuery {
                message: format!("{what} must be a whole number: {v}"),
            })
    })
    .transpose()
}

fn split_fields(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A `where` of parameterizedSearch, parsed as the WHERE clause of a SOQL statement.
fn where_clause(sobject: &str, text: &str) -> Result<Option<Condition>> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    Ok(soql::parse_soql(&format!("SELECT Id FROM {sobject} WHERE {text}"))?.filter)
}

/// `GET /parameterizedSearch?q=…&in=…&sobject=Contact&Contact.fields=…&Contact.limit=…`.
pub(crate) async fn parameterized_get(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
    let params = pairs(raw.as_deref());
    let q = first(&params, "q").ok_or_else(|| Error::MalformedQuery {
        message: "A search string (q) is required".into(),
    })?;
    let terms = search::parse_terms(q)?;
    let group = first(&params, "in")
        .map(search::parse_group)
        .transpose()?
        .unwrap_or(SearchGroup::All);
    let default_fields = first(&params, "fields")
        .map(split_fields)
        .unwrap_or_default();
    let default_limit = number(first(&params, "defaultLimit"), "defaultLimit")?;
    let overall = number(first(&params, "overallLimit"), "overallLimit")?;
    let names: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "sobject")
        .map(|(_, v)| v.as_str())
        .collect();
    let specs = if names.is_empty() {
        default_specs()
    } else {
        names
            .iter()
            .map(|name| {
                let fields = first(&params, &format!("{name}.fields"))
                    .map(split_fields)
                    .unwrap_or_else(|| default_fields.clone());
                let limit =
                    number(first(&params, &format!("{name}.limit")), "limit")?.or(default_limit);
                let filter = where_clause(
                    name,
                    first(&params, &format!("{name}.where")).unwrap_or_default(),
                )?;
                spec(name, &fields, filter, Vec::new(), limit)
            })
            .collect::<Result<Vec<_>>>()?
    };
    Ok(respond(&shared, &version, &terms, group, &specs, overall))
}

/// `POST /parameterizedSearch` with a JSON body.
pub(crate) async fn parameterized_post(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    body: Bytes,
) -> Result<Response> {
    let body = super::sobjects::parse_json(&body)?;
    let q = body
        .get("q")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::MalformedQuery {
            message: "A search string (q) is required".into(),
        })?;
    let terms = search::parse_terms(q)?;
    let group = body
        .get("in")
        .and_then(Value::as_str)
        .map(search::parse_group)
        .transpose()?
        .unwrap_or(SearchGroup::All);
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let as_limit = |v: Option<&Value>| v.and_then(Value::as_u64).map(|n| n as usize);
    let default_fields = strings(body.get("fields"));
    let default_limit = as_limit(body.get("defaultLimit"));
    let overall = as_limit(body.get("overallLimit"));
    let specs = match body.get("sobjects").and_then(Value::as_array) {
        None => default_specs(),
        Some(list) => list
            .iter()
            .map(|o| {
                let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
                let fields = if o.get("fields").is_some() {
                    strings(o.get("fields"))
                } else {
                    default_fields.clone()
                };
                let filter = where_clause(
                    name,
                    o.get("where").and_then(Value::as_str).unwrap_or_default(),
                )?;
                spec(
                    name,
                    &fields,
                    filter,
                    Vec::new(),
                    as_limit(o.get("limit")).or(default_limit),
                )
            })
            .collect::<Result<Vec<_>>>()?,
    };
    Ok(respond(&shared, &version, &terms, group, &specs, overall))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::sobjects::create_record;
    use std::time::Duration;

    fn data() -> Data {
        let mut d = Data::default();
        let acc = create_record(
            &mut d,
            "Account",
            json!({"Name": "Acme", "Phone": "03-1234-5678"})
                .as_object()
                .unwrap(),
            None,
        )
        .unwrap();
        for body in [
            json!({"LastName": "Lovelace", "FirstName": "Ada", "Phone": "(415) 555-0100", "AccountId": acc}),
            json!({"LastName": "山田", "FirstName": "太郎", "MobilePhone": "+81 90 1234 5678"}),
        ] {
            create_record(&mut d, "Contact", body.as_object().unwrap(), None).unwrap();
        }
        d
    }

    fn sosl(d: &Data, q: &str, mode: PhoneMatch, now: Instant) -> Result<Value> {
        let p = search::parse_sosl(q)?;
        let specs = p
            .returning
            .into_iter()
            .map(|r| spec(&r.sobject, &r.fields, r.filter, r.order_by, r.limit))
            .collect::<Result<Vec<_>>>()?;
        Ok(run(
            d, "v64.0", now, &p.terms, p.group, mode, &specs, p.limit,
        ))
    }

    #[test]
    fn phone_search_exact_and_suffix() {
        let d = data();
        let now = Instant::now();
        let q =
            "FIND {4155550100} IN PHONE FIELDS RETURNING Contact(Id, Name, Phone, Account.Name)";
        let out = sosl(&d, q, PhoneMatch::Exact, now).unwrap();
        assert_eq!(
            out["searchRecords"].as_array().unwrap().len(),
            1,
            "digits equal (415) 555-0100"
        );
        assert_eq!(
            out["searchRecords"][0]["Account"]["Name"], "Acme",
            "relationship field returned"
        );
        let q = "FIND {09012345678 OR 9012345678} IN PHONE FIELDS RETURNING Contact(Name)";
        let out = sosl(&d, q, PhoneMatch::Exact, now).unwrap();
        assert_eq!(
            out["searchRecords"].as_array().unwrap().len(),
            0,
            "national forms do not equal +81 90 … exactly"
        );
        let out = sosl(&d, q, PhoneMatch::Suffix, now).unwrap();
        assert_eq!(
            out["searchRecords"].as_array().unwrap().len(),
            1,
            "suffix mode finds it, once despite two terms"
        );
        assert!(
            out["searchRecords"][0].get("MobilePhone").is_none(),
            "fields not requested are not returned"
        );
    }

    #[test]
    fn unknown_field_and_type_in_returning() {
        let d = data();
        let err = sosl(
            &d,
            "FIND {x} RETURNING Contact(Bogus)",
            PhoneMatch::Exact,
            Instant::now(),
        )
        .unwrap_err();
        assert_eq!(
            err.error_code(),
            "INVALID_FIELD",
            "unknown field in RETURNING"
        );
        let err = sosl(
            &d,
            "FIND {x} RETURNING Widget(Id)",
            PhoneMatch::Exact,
            Instant::now(),
        )
        .unwrap_err();
        assert_eq!(
            err.error_code(),
            "INVALID_TYPE",
            "unknown object in RETURNING"
        );
    }

    #[test]
    fn lagging_records_are_not_found_until_indexed() {
        let mut d = Data::default();
        let now = Instant::now();
        let later = now + Duration::from_secs(5);
        create_record(
            &mut d,
            "Lead",
            json!({"LastName": "New", "Company": "Co", "Phone": "0612345678"})
                .as_object()
                .unwrap(),
            Some(later),
        )
        .unwrap();
        let q = "FIND {0612345678} IN PHONE FIELDS RETURNING Lead(Id)";
        assert_eq!(
            sosl(&d, q, PhoneMatch::Exact, now).unwrap()["searchRecords"]
                .as_array()
                .unwrap()
                .len(),
            0,
            "not yet indexed"
        );
        assert_eq!(
            sosl(&d, q, PhoneMatch::Exact, later).unwrap()["searchRecords"]
                .as_array()
                .unwrap()
                .len(),
            1,
            "indexed after the lag"
        );
    }
}
