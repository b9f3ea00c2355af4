//! REST endpoints as pure `prepare_*` / `parse_*` pairs. `prepare_*` builds an
//! [`http::Request`] without the `Authorization` header (the client adds it at send time);
//! `parse_*` turns `(status, headers, body)` into a typed value or [`Error`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use http::{header, HeaderMap, Method, Request, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use crate::error::{ApiError, Error, Result};
use crate::escape::{escape_soql_literal, sosl_or};

/// Most records one sObject Collections request may carry.
pub const COLLECTION_MAX: usize = 200;

/// A REST API version such as `58.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// Major number (58).
    pub major: u32,
    /// Minor number (0).
    pub minor: u32,
}

impl ApiVersion {
    /// The default floor: v58.0.
    pub const DEFAULT_FLOOR: ApiVersion = ApiVersion {
        major: 58,
        minor: 0,
    };

    /// Parse `"58.0"` (a leading `v` is accepted).
    pub fn parse(s: &str) -> Result<Self> {
        let t = s.trim().trim_start_matches('v');
        let (maj, min) = t.split_once('.').unwrap_or((t, "0"));
        match (maj.parse(), min.parse()) {
            (Ok(major), Ok(minor)) => Ok(ApiVersion { major, minor }),
            _ => Err(Error::InvalidInput {
                what: "API version",
                reason: format!("{s:?} is not like 58.0"),
            }),
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Where versioned REST calls go: `{instance_url}/services/data/v{version}/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiBase {
    /// The session's instance URL.
    pub instance_url: Url,
    /// The negotiated version.
    pub version: ApiVersion,
}

impl ApiBase {
    /// URL of `rest` under the versioned base, e.g. `sobjects/Task`.
    pub fn url(&self, rest: &str) -> Result<Url> {
        let path = format!("/services/data/v{}/{}", self.version, rest);
        self.instance_url
            .join(&path)
            .map_err(|e| Error::InvalidInput {
                what: "REST path",
                reason: e.to_string(),
            })
    }
}

/// Response pieces every `parse_*` takes.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Vec<u8>,
}

fn build(method: Method, url: &Url, body: Option<Vec<u8>>) -> Result<Request<Vec<u8>>> {
    let mut b = Request::builder()
        .method(method)
        .uri(url.as_str())
        .header(header::ACCEPT, "application/json");
    if body.is_some() {
        b = b.header(header::CONTENT_TYPE, "application/json");
    }
    b.body(body.unwrap_or_default())
        .map_err(|e| Error::InvalidInput {
            what: "request",
            reason: e.to_string(),
        })
}

fn json_body(value: &impl Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::InvalidInput {
        what: "record",
        reason: e.to_string(),
    })
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    s.chars().take(512).collect()
}

fn decode<T: for<'de> Deserialize<'de>>(what: &'static str, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::Decode {
        what,
        message: e.to_string(),
        body: snippet(body),
    })
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Turn a non-success status into [`Error::Api`] (Salesforce error array) or
/// [`Error::Status`] (anything else).
pub fn check_status(what: &'static str, resp: &Response) -> Result<()> {
    if resp.status.is_success() {
        return Ok(());
    }
    let retry_after = retry_after(&resp.headers);
    match serde_json::from_slice::<Vec<ApiError>>(&resp.body) {
        Ok(errors) if !errors.is_empty() => Err(Error::Api {
            status: resp.status.as_u16(),
            errors,
            retry_after,
        }),
        _ => match serde_json::from_slice::<ApiError>(&resp.body) {
            Ok(one) if !one.code.is_empty() => Err(Error::Api {
                status: resp.status.as_u16(),
                errors: vec![one],
                retry_after,
            }),
            _ if resp.status.is_server_error() => Err(Error::Api {
                status: resp.status.as_u16(),
                errors: Vec::new(),
                retry_after,
            }),
            _ => Err(Error::Status {
                status: resp.status.as_u16(),
                what,
                body: snippet(&resp.body),
            }),
        },
    }
}

/// Reject anything but an sObject API name (`Task`, `My_Object__c`) before it goes into a path.
pub fn check_sobject_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 80
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            what: "sObject name",
            reason: format!("{name:?} is not an API name"),
        })
    }
}

/// Reject anything but a 15- or 18-character record Id before it goes into a path.
pub fn check_record_id(id: &str) -> Result<()> {
    if (id.len() == 15 || id.len() == 18) && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            what: "record Id",
            reason: format!("{id:?} is not a 15/18-character Id"),
        })
    }
}

// ---- versions ----------------------------------------------------------------------------

/// One entry of `GET /services/data/`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VersionEntry {
    /// Release name, e.g. `Spring '26`.
    #[serde(default)]
    pub label: String,
    /// Path of the version's resources.
    #[serde(default)]
    pub url: String,
    /// Version number, e.g. `66.0`.
    pub version: String,
}

/// `GET {instance}/services/data/` (no auth needed).
pub fn prepare_versions(instance_url: &Url) -> Result<Request<Vec<u8>>> {
    let url = instance_url
        .join("/services/data/")
        .map_err(|e| Error::InvalidInput {
            what: "instance URL",
            reason: e.to_string(),
        })?;
    build(Method::GET, &url, None)
}

/// The versions the org offers, in the server's order.
pub fn parse_versions(resp: &Response) -> Result<Vec<ApiVersion>> {
    check_status("versions", resp)?;
    let entries: Vec<VersionEntry> = decode("versions", &resp.body)?;
    entries
        .iter()
        .map(|e| ApiVersion::parse(&e.version))
        .collect()
}

/// The highest offered version at or above `floor`.
pub fn pick_version(offered: &[ApiVersion], floor: ApiVersion) -> Result<ApiVersion> {
    offered
        .iter()
        .copied()
        .filter(|v| *v >= floor)
        .max()
        .ok_or_else(|| Error::NoSupportedVersion {
            floor: floor.to_string(),
            newest: offered.iter().max().map(ToString::to_string),
        })
}

// ---- search ------------------------------------------------------------------------------

/// One object to search and the fields to return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchObject {
    /// sObject API name.
    pub name: String,
    /// Fields to return (`Account.Name` style relationships allowed).
    pub fields: Vec<String>,
}

impl SearchObject {
    /// Build from string slices.
    pub fn new(name: &str, fields: &[&str]) -> Self {
        Self {
            name: name.into(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
        }
    }
}

/// Which objects and fields a search covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchSpec {
    /// Objects in the order given to Salesforce.
    pub objects: Vec<SearchObject>,
    /// `overallLimit`.
    pub overall_limit: u32,
}

impl Default for SearchSpec {
    /// Contact(Id, Name, Phone, MobilePhone, AccountId, Account.Name),
    /// Lead(Id, Name, Phone, MobilePhone, Company), Account(Id, Name, Phone); 50 rows.
    fn default() -> Self {
        Self {
            objects: vec![
                SearchObject::new(
                    "Contact",
                    &[
                        "Id",
                        "Name",
                        "Phone",
                        "MobilePhone",
                        "AccountId",
                        "Account.Name",
                    ],
                ),
                SearchObject::new("Lead", &["Id", "Name", "Phone", "MobilePhone", "Company"]),
                SearchObject::new("Account", &["Id", "Name", "Phone"]),
            ],
            overall_limit: 50,
        }
    }
}

/// The search group (`in`) of a parameterized search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchIn {
    /// `PHONE`: phone-typed fields.
    Phone,
    /// `NAME`: name fields.
    Name,
}

impl SearchIn {
    fn as_str(self) -> &'static str {
        match self {
            SearchIn::Phone => "PHONE",
            SearchIn::Name => "NAME",
        }
    }
}

/// `POST …/parameterizedSearch/` for alternative `terms`, each escaped and ORed.
pub fn prepare_search(
    base: &ApiBase,
    spec: &SearchSpec,
    terms: &[impl AsRef<str>],
    group: SearchIn,
) -> Result<Request<Vec<u8>>> {
    let q = sosl_or(terms).ok_or_else(|| Error::InvalidInput {
        what: "search terms",
        reason: "no non-empty term".into(),
    })?;
    if spec.objects.is_empty() {
        return Err(Error::InvalidInput {
            what: "search spec",
            reason: "no object to search".into(),
        });
    }
    for o in &spec.objects {
        check_sobject_name(&o.name)?;
    }
    let body = serde_json::json!({
        "q": q,
        "in": group.as_str(),
        "sobjects": spec.objects.iter().map(|o| serde_json::json!({"name": o.name, "fields": o.fields})).collect::<Vec<_>>(),
        "fields": ["Id"],
        "overallLimit": spec.overall_limit,
    });
    build(
        Method::POST,
        &base.url("parameterizedSearch/")?,
        Some(json_body(&body)?),
    )
}

/// A found (or queried) record: its type, Id and the other fields as returned.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchRecord {
    /// sObject type from `attributes.type`.
    pub sobject: String,
    /// Record Id.
    pub id: String,
    /// The other fields (without `attributes` and `Id`).
    pub fields: Map<String, Value>,
}

fn record_from_value(v: Value) -> Result<SearchRecord> {
    let Value::Object(mut map) = v else {
        return Err(Error::Decode {
            what: "record",
            message: "record is not an object".into(),
            body: String::new(),
        });
    };
    let sobject = map
        .remove("attributes")
        .and_then(|a| a.get("type").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    let id = match map.remove("Id") {
        Some(Value::String(s)) => s,
        _ => {
            return Err(Error::Decode {
                what: "record",
                message: format!("{sobject} record without Id"),
                body: String::new(),
            })
        }
    };
    Ok(SearchRecord {
        sobject,
        id,
        fields: map,
    })
}

/// `{"searchRecords":[…]}` (or the bare array of old versions).
pub fn parse_search(resp: &Response) -> Result<Vec<SearchRecord>> {
    check_status("search", resp)?;
    let v: Value = decode("search", &resp.body)?;
    let rows = match v {
        Value::Array(a) => a,
        Value::Object(mut m) => match m.remove("searchRecords") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        },
        _ => {
            return Err(Error::Decode {
                what: "search",
                message: "neither an object nor an array".into(),
                body: snippet(&resp.body),
            })
        }
    };
    rows.into_iter().map(record_from_value).collect()
}

// ---- create / update ---------------------------------------------------------------------

/// Outcome of one create (or one record of a collection).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SaveResult {
    /// The new record's Id (absent on failure).
    #[serde(default)]
    pub id: Option<String>,
    /// Whether the record was saved.
    pub success: bool,
    /// Errors for this record (`statusCode` in collections).
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

/// `POST …/sobjects/{sobject}` with `record` as the JSON body.
pub fn prepare_create(
    base: &ApiBase,
    sobject: &str,
    record: &impl Serialize,
) -> Result<Request<Vec<u8>>> {
    check_sobject_name(sobject)?;
    build(
        Method::POST,
        &base.url(&format!("sobjects/{sobject}"))?,
        Some(json_body(record)?),
    )
}

/// `201 {"id","success","errors"}`.
pub fn parse_create(resp: &Response) -> Result<SaveResult> {
    check_status("create", resp)?;
    decode("create", &resp.body)
}

/// `POST …/composite/sobjects` with `allOrNone:false`. More than [`COLLECTION_MAX`] records is
/// [`Error::TooManyRecords`]; an empty list is [`Error::InvalidInput`].
pub fn prepare_create_collection<R: Serialize>(
    base: &ApiBase,
    records: &[(&str, R)],
) -> Result<Request<Vec<u8>>> {
    if records.len() > COLLECTION_MAX {
        return Err(Error::TooManyRecords {
            count: records.len(),
            max: COLLECTION_MAX,
        });
    }
    if records.is_empty() {
        return Err(Error::InvalidInput {
            what: "records",
            reason: "nothing to create".into(),
        });
    }
    let mut out = Vec::with_capacity(records.len());
    for (sobject, record) in records {
        check_sobject_name(sobject)?;
        let mut v = serde_json::to_value(record).map_err(|e| Error::InvalidInput {
            what: "record",
            reason: e.to_string(),
        })?;
        let Value::Object(map) = &mut v else {
            return Err(Error::InvalidInput {
                what: "record",
                reason: "a record must serialize to a JSON object".into(),
            });
        };
        map.insert("attributes".into(), serde_json::json!({ "type": sobject }));
        out.push(v);
    }
    let body = serde_json::json!({ "allOrNone": false, "records": out });
    build(
        Method::POST,
        &base.url("composite/sobjects")?,
        Some(json_body(&body)?),
    )
}

/// `200 [SaveResult…]`, one per input record in order.
pub fn parse_create_collection(resp: &Response) -> Result<Vec<SaveResult>> {
    check_status("composite/sobjects", resp)?;
    decode("composite/sobjects", &resp.body)
}

/// `PATCH …/sobjects/{sobject}/{id}` with `fields`.
pub fn prepare_update(
    base: &ApiBase,
    sobject: &str,
    id: &str,
    fields: &impl Serialize,
) -> Result<Request<Vec<u8>>> {
    check_sobject_name(sobject)?;
    check_record_id(id)?;
    build(
        Method::PATCH,
        &base.url(&format!("sobjects/{sobject}/{id}"))?,
        Some(json_body(fields)?),
    )
}

/// `204 No Content`.
pub fn parse_update(resp: &Response) -> Result<()> {
    check_status("update", resp)
}

// ---- query -------------------------------------------------------------------------------

/// Fields read back when looking a Task up by `CallObject`.
pub const TASK_LOOKUP_FIELDS: &[&str] = &[
    "Id",
    "Subject",
    "Status",
    "CallType",
    "CallDurationInSeconds",
    "CallObject",
    "WhoId",
];

/// `SELECT Id, … FROM Task WHERE CallObject = '<escaped>'`.
pub fn soql_task_by_call_object(call_object: &str) -> String {
    format!(
        "SELECT {} FROM Task WHERE CallObject = '{}'",
        TASK_LOOKUP_FIELDS.join(", "),
        escape_soql_literal(call_object)
    )
}

/// `GET …/query/?q=<soql>` (URL-encoded).
pub fn prepare_query(base: &ApiBase, soql: &str) -> Result<Request<Vec<u8>>> {
    let mut url = base.url("query/")?;
    url.query_pairs_mut().append_pair("q", soql);
    build(Method::GET, &url, None)
}

/// A page of query results.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// Total rows matching.
    pub total_size: u64,
    /// Whether this is the last page.
    pub done: bool,
    /// The rows of this page.
    pub records: Vec<SearchRecord>,
    /// Path of the next page, when `done` is false.
    pub next_records_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawQuery {
    total_size: u64,
    done: bool,
    #[serde(default)]
    records: Vec<Value>,
    #[serde(default)]
    next_records_url: Option<String>,
}

/// `{"totalSize","done","records":[…]}`.
pub fn parse_query(resp: &Response) -> Result<QueryResult> {
    check_status("query", resp)?;
    let raw: RawQuery = decode("query", &resp.body)?;
    Ok(QueryResult {
        total_size: raw.total_size,
        done: raw.done,
        records: raw
            .records
            .into_iter()
            .map(record_from_value)
            .collect::<Result<_>>()?,
        next_records_url: raw.next_records_url,
    })
}

// ---- limits ------------------------------------------------------------------------------

/// One entry of `/limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Limit {
    /// The allocation.
    #[serde(rename = "Max")]
    pub max: i64,
    /// What is left.
    #[serde(rename = "Remaining")]
    pub remaining: i64,
}

/// `GET …/limits`.
pub fn prepare_limits(base: &ApiBase) -> Result<Request<Vec<u8>>> {
    build(Method::GET, &base.url("limits")?, None)
}

/// Limits by name (`DailyApiRequests`, …); entries not shaped `{Max, Remaining}` are skipped.
pub fn parse_limits(resp: &Response) -> Result<BTreeMap<String, Limit>> {
    check_status("limits", resp)?;
    let raw: BTreeMap<String, Value> = decode("limits", &resp.body)?;
    Ok(raw
        .into_iter()
        .filter_map(|(k, v)| serde_json::from_value::<Limit>(v).ok().map(|l| (k, l)))
        .collect())
}

// ---- userinfo ----------------------------------------------------------------------------

/// Who signed in (from `/services/oauth2/userinfo`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserInfo {
    /// User Id (`005…`).
    pub user_id: String,
    /// Org Id (`00D…`).
    pub organization_id: String,
    /// Login name.
    #[serde(rename = "preferred_username", default)]
    pub username: String,
    /// E-mail address.
    #[serde(default)]
    pub email: String,
    /// Display name.
    #[serde(rename = "name", default)]
    pub display_name: String,
    /// IANA time zone, e.g. `Asia/Tokyo`.
    #[serde(rename = "zoneinfo", default)]
    pub time_zone: String,
    /// Locale, e.g. `ja_JP`.
    #[serde(default)]
    pub locale: String,
}

/// `GET {instance}/services/oauth2/userinfo`.
pub fn prepare_userinfo(instance_url: &Url) -> Result<Request<Vec<u8>>> {
    let url = instance_url
        .join("/services/oauth2/userinfo")
        .map_err(|e| Error::InvalidInput {
            what: "instance URL",
            reason: e.to_string(),
        })?;
    build(Method::GET, &url, None)
}

/// The userinfo claims we use; others are ignored.
pub fn parse_userinfo(resp: &Response) -> Result<UserInfo> {
    check_status("userinfo", resp)?;
    decode("userinfo", &resp.body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn base() -> ApiBase {
        ApiBase {
            instance_url: Url::parse("https://acme.my.salesforce.com").expect("url"),
            version: ApiVersion {
                major: 66,
                minor: 0,
            },
        }
    }

    fn resp(status: u16, body: &str) -> Response {
        Response {
            status: StatusCode::from_u16(status).expect("status"),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn body_json(req: &Request<Vec<u8>>) -> Value {
        serde_json::from_slice(req.body()).expect("request body is JSON")
    }

    #[test]
    fn versions_pick_highest_at_or_above_floor() {
        let offered = parse_versions(&resp(200, include_str!("../tests/fixtures/versions.json")))
            .expect("versions fixture parses");
        assert_eq!(offered.len(), 4, "all four entries are read");
        assert_eq!(
            pick_version(&offered, ApiVersion::DEFAULT_FLOOR).expect("66 >= 58"),
            ApiVersion {
                major: 66,
                minor: 0
            },
            "the newest offered version wins"
        );
        let err = pick_version(
            &offered,
            ApiVersion {
                major: 70,
                minor: 0,
            },
        )
        .expect_err("nothing at or above 70");
        assert!(
            matches!(err, Error::NoSupportedVersion { ref newest, .. } if newest.as_deref() == Some("66.0")),
            "the error names the newest offered version: {err:?}"
        );
        let req = prepare_versions(&base().instance_url).expect("prepare");
        assert_eq!(
            req.uri().to_string(),
            "https://acme.my.salesforce.com/services/data/",
            "versions live under /services/data/"
        );
        assert_eq!(
            ApiVersion::parse("v58.0").expect("parses"),
            ApiVersion::DEFAULT_FLOOR,
            "leading v accepted"
        );
        assert!(
            ApiVersion::parse("fifty").is_err(),
            "garbage is a typed error"
        );
    }

    #[test]
    fn phone_search_request_shape() {
        let req = prepare_search(
            &base(),
            &SearchSpec::default(),
            &["0312345678", "+81312345678"],
            SearchIn::Phone,
        )
        .expect("prepare search");
        assert_eq!(req.method(), Method::POST, "parameterized search is a POST");
        assert_eq!(
            req.uri().path(),
            "/services/data/v66.0/parameterizedSearch/",
            "versioned parameterizedSearch path"
        );
        let b = body_json(&req);
        assert_eq!(
            b["q"], r"0312345678 OR \+81312345678",
            "terms ORed and escaped"
        );
        assert_eq!(b["in"], "PHONE", "phone fields group");
        let names: Vec<&str> = b["sobjects"]
            .as_array()
            .expect("array")
            .iter()
            .map(|o| o["name"].as_str().expect("name"))
            .collect();
        assert_eq!(
            names,
            ["Contact", "Lead", "Account"],
            "default objects in order"
        );
        assert_eq!(
            b["sobjects"][0]["fields"].as_array().expect("fields").len(),
            6,
            "Contact returns Id, Name, Phone, MobilePhone, AccountId, Account.Name"
        );
        assert!(
            req.headers().get(header::AUTHORIZATION).is_none(),
            "prepare never adds the token"
        );
    }

    #[test]
    fn name_search_and_bad_terms() {
        let req = prepare_search(
            &base(),
            &SearchSpec::default(),
            &["O'Brien"],
            SearchIn::Name,
        )
        .expect("prepare");
        assert_eq!(body_json(&req)["in"], "NAME", "name group");
        assert_eq!(
            body_json(&req)["q"],
            r"O\'Brien",
            "quote escaped in a name term"
        );
        let empty: [&str; 1] = [" "];
        assert!(
            matches!(
                prepare_search(&base(), &SearchSpec::default(), &empty, SearchIn::Name),
                Err(Error::InvalidInput { .. })
            ),
            "blank terms are rejected before sending"
        );
        let mut spec = SearchSpec::default();
        spec.objects[0].name = "Contact/../x".into();
        assert!(
            prepare_search(&base(), &spec, &["1"], SearchIn::Phone).is_err(),
            "an object name that is not an API name is rejected"
        );
    }

    #[test]
    fn search_response_both_shapes() {
        let rows = parse_search(&resp(
            200,
            include_str!("../tests/fixtures/search_phone.json"),
        ))
        .expect("parses");
        assert_eq!(rows.len(), 2, "two records in the fixture");
        assert_eq!(rows[0].sobject, "Contact", "type from attributes");
        assert_eq!(rows[0].id, "0035g00000XyZaBAAV", "Id lifted out");
        assert_eq!(
            rows[0].fields["Account"]["Name"], "Acme",
            "relationship fields kept"
        );
        assert!(
            !rows[0].fields.contains_key("attributes"),
            "attributes removed from fields"
        );
        let old = parse_search(&resp(
            200,
            include_str!("../tests/fixtures/search_bare_array.json"),
        ))
        .expect("parses");
        assert_eq!(
            old[0].sobject, "Account",
            "bare-array responses of old versions are accepted"
        );
        assert!(
            parse_search(&resp(200, "{\"searchRecords\":[{\"Name\":\"x\"}]}")).is_err(),
            "a record without Id is a decode error"
        );
    }

    #[test]
    fn create_request_and_response() {
        let task = serde_json::json!({"Subject": "Call", "CallType": "Inbound"});
        let req = prepare_create(&base(), "Task", &task).expect("prepare");
        assert_eq!(
            req.uri().path(),
            "/services/data/v66.0/sobjects/Task",
            "create path"
        );
        assert_eq!(
            req.headers().get(header::CONTENT_TYPE),
            Some(&HeaderValue::from_static("application/json")),
            "JSON body is labelled"
        );
        let r = parse_create(&resp(
            201,
            include_str!("../tests/fixtures/create_201.json"),
        ))
        .expect("parses");
        assert!(
            r.success && r.id.as_deref() == Some("00T5g00000K1LmNEAV"),
            "201 gives the new Id: {r:?}"
        );
        let err = parse_create(&resp(
            400,
            include_str!("../tests/fixtures/error_required_field.json"),
        ))
        .expect_err("400");
        assert_eq!(
            err.api_code(),
            Some("REQUIRED_FIELD_MISSING"),
            "error array is carried: {err:?}"
        );
    }

    #[test]
    fn collection_limits_and_results() {
        let rec = serde_json::json!({"Subject": "Call"});
        let two_hundred: Vec<(&str, Value)> = (0..200).map(|_| ("Task", rec.clone())).collect();
        let req = prepare_create_collection(&base(), &two_hundred).expect("200 is allowed");
        let b = body_json(&req);
        assert_eq!(b["allOrNone"], false, "partial success is wanted");
        assert_eq!(
            b["records"].as_array().expect("records").len(),
            200,
            "all records in one request"
        );
        assert_eq!(
            b["records"][0]["attributes"]["type"], "Task",
            "each record names its type"
        );
        let mut too_many = two_hundred.clone();
        too_many.push(("Task", rec.clone()));
        assert!(
            matches!(
                prepare_create_collection(&base(), &too_many),
                Err(Error::TooManyRecords {
                    count: 201,
                    max: 200
                })
            ),
            "201 records are refused before sending"
        );
        assert!(
            prepare_create_collection(&base(), &[("Task", 5)]).is_err(),
            "a record must be an object"
        );
        let results = parse_create_collection(&resp(
            200,
            include_str!("../tests/fixtures/collection_mixed.json"),
        ))
        .expect("parses");
        assert!(results[0].success, "first record saved");
        assert!(
            !results[1].success && results[1].id.is_none(),
            "second failed without id"
        );
        assert_eq!(
            results[1].errors[0].code, "MALFORMED_ID",
            "statusCode read as the code"
        );
        assert_eq!(results[1].errors[0].fields, ["WhoId"], "fields named");
    }

    #[test]
    fn update_request_and_response() {
        let req = prepare_update(
            &base(),
            "Task",
            "00T5g00000K1LmNEAV",
            &serde_json::json!({"Status": "Completed"}),
        )
        .expect("prepare");
        assert_eq!(req.method(), Method::PATCH, "update is PATCH");
        assert_eq!(
            req.uri().path(),
            "/services/data/v66.0/sobjects/Task/00T5g00000K1LmNEAV",
            "update path"
        );
        parse_update(&resp(204, "")).expect("204 is success");
        assert!(
            prepare_update(&base(), "Task", "../../x", &serde_json::json!({})).is_err(),
            "an Id that is not an Id never reaches the path"
        );
    }

    #[test]
    fn call_object_query_is_escaped_and_encoded() {
        let soql = soql_task_by_call_object(r"pbx-'1'\x");
        assert!(
            soql.ends_with(r"WHERE CallObject = 'pbx-\'1\'\\x'"),
            "quote and backslash escaped inside the literal: {soql}"
        );
        let req = prepare_query(&base(), &soql).expect("prepare");
        assert_eq!(
            req.uri().path(),
            "/services/data/v66.0/query/",
            "query path"
        );
        let url = Url::parse(&req.uri().to_string()).expect("url");
        let q: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            q,
            [("q".to_string(), soql.clone())],
            "the SOQL round-trips through URL encoding"
        );
        let raw = req.uri().query().expect("query string");
        assert!(
            !raw.contains('\'') && !raw.contains('\\') && !raw.contains(' '),
            "reserved characters are percent-encoded: {raw}"
        );
        let res = parse_query(&resp(
            200,
            include_str!("../tests/fixtures/query_task.json"),
        ))
        .expect("parses");
        assert_eq!((res.total_size, res.done), (1, true), "sizes read");
        assert_eq!(
            res.records[0].fields["CallObject"], "pbx-2026-03-02-7f3c2a9e",
            "fields kept"
        );
    }

    #[test]
    fn limits_and_userinfo() {
        let limits = parse_limits(&resp(200, include_str!("../tests/fixtures/limits.json")))
            .expect("parses");
        assert_eq!(
            limits["DailyApiRequests"],
            Limit {
                max: 15000,
                remaining: 14998
            },
            "nested per-app keys ignored"
        );
        assert!(
            !limits.contains_key("Odd"),
            "entries of another shape are skipped, not fatal"
        );
        assert_eq!(
            prepare_limits(&base()).expect("prepare").uri().path(),
            "/services/data/v66.0/limits",
            "limits path"
        );
        let u = parse_userinfo(&resp(200, include_str!("../tests/fixtures/userinfo.json")))
            .expect("parses");
        assert_eq!(
            (
                u.user_id.as_str(),
                u.organization_id.as_str(),
                u.username.as_str(),
                u.time_zone.as_str(),
                u.locale.as_str()
            ),
            (
                "0055g00000AbCdEAAZ",
                "00D5g000004XXXXEAA",
                "agent@acme.example",
                "Asia/Tokyo",
                "ja_JP"
            ),
            "claims mapped to our names"
        );
        assert_eq!(u.display_name, "Aiko Tanaka", "name is the display name");
        assert_eq!(
            prepare_userinfo(&base().instance_url)
                .expect("prepare")
                .uri()
                .path(),
            "/services/oauth2/userinfo",
            "userinfo is on the instance"
        );
    }

    #[test]
    fn error_statuses() {
        let e = check_status(
            "x",
            &resp(
                401,
                include_str!("../tests/fixtures/error_invalid_session.json"),
            ),
        )
        .expect_err("401");
        assert_eq!(
            e.api_code(),
            Some("INVALID_SESSION_ID"),
            "session error recognised"
        );
        let mut r = resp(
            403,
            include_str!("../tests/fixtures/error_limit_exceeded.json"),
        );
        r.headers
            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        assert!(
            matches!(check_status("x", &r), Err(Error::Api { retry_after: Some(d), .. }) if d == Duration::from_secs(30)),
            "Retry-After is kept"
        );
        assert!(
            matches!(
                check_status("x", &resp(502, "<html>bad gateway</html>")),
                Err(Error::Api { status: 502, .. })
            ),
            "a 5xx without JSON is still an Api error so it classifies retryable"
        );
        assert!(
            matches!(
                check_status("x", &resp(404, "nope")),
                Err(Error::Status { status: 404, .. })
            ),
            "other non-JSON errors keep their status"
        );
    }
}
