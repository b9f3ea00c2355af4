//! The sObject types the emulator models, their fields, and the write rules Salesforce applies
//! (types, lengths, restricted picklists, lookups, required fields, create-only fields).
//!
//! Pure functions of plain values: record lookups are passed in as a closure.

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::ids;

/// What a field holds, as far as validation cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The record Id.
    Id,
    /// Text of at most this many characters.
    Text(usize),
    /// A phone number (text, 40).
    Phone,
    /// An email address (text, 80).
    Email,
    /// A picklist; `restricted` refuses values outside `values`.
    Picklist {
        /// Allowed values.
        values: &'static [&'static str],
        /// Whether other values are refused.
        restricted: bool,
    },
    /// A lookup to one of these types.
    Reference(&'static [&'static str]),
    /// A whole number.
    Int,
    /// `YYYY-MM-DD`.
    Date,
    /// An ISO-8601 datetime.
    DateTime,
    /// `true` / `false`.
    Bool,
}

/// One field of an sObject type.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// API name.
    pub name: &'static str,
    /// UI label (used in error messages).
    pub label: &'static str,
    /// Value kind.
    pub kind: Kind,
    /// Can be set on create.
    pub createable: bool,
    /// Can be set on update.
    pub updateable: bool,
    /// Must be present on create.
    pub required: bool,
}

const fn f(name: &'static str, label: &'static str, kind: Kind) -> Field {
    Field {
        name,
        label,
        kind,
        createable: true,
        updateable: true,
        required: false,
    }
}
const fn ro(name: &'static str, label: &'static str, kind: Kind) -> Field {
    Field {
        name,
        label,
        kind,
        createable: false,
        updateable: false,
        required: false,
    }
}
const fn req(name: &'static str, label: &'static str, kind: Kind) -> Field {
    Field {
        name,
        label,
        kind,
        createable: true,
        updateable: true,
        required: true,
    }
}

const USER: &[&str] = &["User"];
const ACCOUNT: &[&str] = &["Account"];
const CONTACT: &[&str] = &["Contact"];
const WHO: &[&str] = &["Contact", "Lead"];
const WHAT: &[&str] = &["Account", "Opportunity", "Case"];

const ACCOUNT_FIELDS: &[Field] = &[
    ro("Id", "Account ID", Kind::Id),
    req("Name", "Account Name", Kind::Text(255)),
    f("Phone", "Account Phone", Kind::Phone),
    f("Fax", "Account Fax", Kind::Phone),
    f("BillingCountry", "Billing Country", Kind::Text(80)),
    f(
        "Type",
        "Account Type",
        Kind::Picklist {
            values: &[
                "Prospect",
                "Customer - Direct",
                "Customer - Channel",
                "Partner",
                "Other",
            ],
            restricted: false,
        },
    ),
    f("OwnerId", "Owner ID", Kind::Reference(USER)),
    ro("CreatedDate", "Created Date", Kind::DateTime),
    ro("LastModifiedDate", "Last Modified Date", Kind::DateTime),
];

const CONTACT_FIELDS: &[Field] = &[
    ro("Id", "Contact ID", Kind::Id),
    f("FirstName", "First Name", Kind::Text(40)),
    req("LastName", "Last Name", Kind::Text(80)),
    ro("Name", "Full Name", Kind::Text(121)),
    f("Phone", "Business Phone", Kind::Phone),
    f("MobilePhone", "Mobile Phone", Kind::Phone),
    f("HomePhone", "Home Phone", Kind::Phone),
    f("OtherPhone", "Other Phone", Kind::Phone),
    f("AssistantPhone", "Asst. Phone", Kind::Phone),
    f("Fax", "Business Fax", Kind::Phone),
    f("Email", "Email", Kind::Email),
    f("AccountId", "Account ID", Kind::Reference(ACCOUNT)),
    f("Title", "Title", Kind::Text(128)),
    f("MailingCountry", "Mailing Country", Kind::Text(80)),
    f("OwnerId", "Owner ID", Kind::Reference(USER)),
    ro("CreatedDate", "Created Date", Kind::DateTime),
    ro("LastModifiedDate", "Last Modified Date", Kind::DateTime),
];

const LEAD_FIELDS: &[Field] = &[
    ro("Id", "Lead ID", Kind::Id),
    f("FirstName", "First Name", Kind::Text(40)),
    req("LastName", "Last Name", Kind::Text(80)),
    ro("Name", "Full Name", Kind::Text(121)),
    req("Company", "Company", Kind::Text(255)),
    f("Phone", "Phone", Kind::Phone),
    f("MobilePhone", "Mobile Phone", Kind::Phone),
    f("Fax", "Fax", Kind::Phone),
    f("Email", "Email", Kind::Email),
    f(
        "Status",
        "Lead Status",
        Kind::Picklist {
            values: &[
                "Open - Not Contacted",
                "Working - Contacted",
                "Closed - Converted",
                "Closed - Not Converted",
            ],
            restricted: false,
        },
    ),
    ro("IsConverted", "Converted", Kind::Bool),
    f("Country", "Country", Kind::Text(80)),
    f("OwnerId", "Owner ID", Kind::Reference(USER)),
    ro("CreatedDate", "Created Date", Kind::DateTime),
    ro("LastModifiedDate", "Last Modified Date", Kind::DateTime),
];

const TASK_FIELDS: &[Field] = &[
    ro("Id", "Activity ID", Kind::Id),
    f("Subject", "Subject", Kind::Text(255)),
    f("Description", "Description", Kind::Text(32000)),
    f(
        "Status",
        "Status",
        Kind::Picklist {
            values: &[
                "Not Started",
                "In Progress",
                "Completed",
                "Waiting on someone else",
                "Deferred",
            ],
            restricted: false,
        },
    ),
    f(
        "Priority",
        "Priority",
        Kind::Picklist {
            values: &["High", "Normal", "Low"],
            restricted: false,
        },
    ),
    f("ActivityDate", "Due Date Only", Kind::Date),
    f("OwnerId", "Assigned To ID", Kind::Reference(USER)),
    f("WhoId", "Name ID", Kind::Reference(WHO)),
    f("WhatId", "Related To ID", Kind::Reference(WHAT)),
    Field {
        name: "TaskSubtype",
        label: "Task Subtype",
        kind: Kind::Picklist {
            values: &["Task", "Email", "ListEmail", "Call", "LinkedIn"],
            restricted: true,
        },
        createable: true,
        updateable: false,
        required: false,
    },
    f(
        "CallType",
        "Call Type",
        Kind::Picklist {
            values: &["Inbound", "Internal", "Outbound"],
            restricted: true,
        },
    ),
    f("CallDurationInSeconds", "Call Duration", Kind::Int),
    f("CallObject", "Call Object Identifier", Kind::Text(255)),
    f("CallDisposition", "Call Result", Kind::Text(255)),
    ro("IsClosed", "Closed", Kind::Bool),
    ro("CreatedDate", "Created Date", Kind::DateTime),
    ro("LastModifiedDate", "Last Modified Date", Kind::DateTime),
];

const OPPORTUNITY_FIELDS: &[Field] = &[
    ro("Id", "Opportunity ID", Kind::Id),
    req("Name", "Name", Kind::Text(120)),
    f("AccountId", "Account ID", Kind::Reference(ACCOUNT)),
    req(
        "StageName",
        "Stage",
        Kind::Picklist {
            values: &["Prospecting", "Qualification", "Closed Won", "Closed Lost"],
            restricted: false,
        },
    ),
    req("CloseDate", "Close Date", Kind::Date),
    f("OwnerId", "Owner ID", Kind::Reference(USER)),
    ro("CreatedDate", "Created Date", Kind::DateTime),
    ro("LastModifiedDate", "Last Modified Date", Kind::DateTime),
];

const CASE_FIELDS: &[Field] = &[
    ro("Id", "Case ID", Kind::Id),
    f("Subject", "Subject", Kind::Text(255)),
    f("ContactId", "Contact ID", Kind::Reference(CONTACT)),
    f("AccountId", "Account ID", Kind::Reference(ACCOUNT)),
    f(
        "Status",
        "Status",
        Kind::Picklist {
            values: &["New", "Working", "Escalated", "Closed"],
            restricted: false,
        },
    ),
    f("OwnerId", "Owner ID", Kind::Reference(USER)),
    ro("CreatedDate", "Created Date", Kind::DateTime),
    ro("LastModifiedDate", "Last Modified Date", Kind::DateTime),
];

/// The sObject types the emulator stores, in the order they are listed.
pub const SOBJECTS: &[&str] = &["Account", "Contact", "Lead", "Task", "Opportunity", "Case"];

/// The fields of a modelled type; `None` for any other type.
pub fn fields(sobject: &str) -> Option<&'static [Field]> {
    Some(match sobject {
        "Account" => ACCOUNT_FIELDS,
        "Contact" => CONTACT_FIELDS,
        "Lead" => LEAD_FIELDS,
        "Task" => TASK_FIELDS,
        "Opportunity" => OPPORTUNITY_FIELDS,
        "Case" => CASE_FIELDS,
        _ => return None,
    })
}

/// The modelled type whose name equals `name` ignoring ASCII case (Salesforce names are case-insensitive).
pub fn canonical_sobject(name: &str) -> Option<&'static str> {
    SOBJECTS
        .iter()
        .copied()
        .find(|s| s.eq_ignore_ascii_case(name))
}

/// A field of `sobject` by case-insensitive name.
pub fn field(sobject: &str, name: &str) -> Option<&'static Field> {
    fields(sobject)?
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(name))
}

/// The fields a phone search looks at on `sobject`.
pub fn phone_fields(sobject: &str) -> Vec<&'static str> {
    fields(sobject)
        .unwrap_or_default()
        .iter()
        .filter(|f| f.kind == Kind::Phone)
        .map(|f| f.name)
        .collect()
}

/// The fields a name search looks at on `sobject`.
pub fn name_fields(sobject: &str) -> Vec<&'static str> {
    ["Name", "FirstName", "LastName", "Company"]
        .into_iter()
        .filter(|n| field(sobject, n).is_some())
        .collect()
}

/// Whether a write creates a record or updates one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// `POST` — create-only fields allowed, required fields checked, defaults applied.
    Create,
    /// `PATCH` — only updateable fields.
    Update,
}

/// Checks a record body against the rules for `sobject` and returns the values to store
/// (Ids normalized to 18 characters, canonical field names).
///
/// `lookup` answers the type of an existing record by its 18-char Id. `existing` is the stored
/// record for an update (for cross-field rules such as Lead `WhoId` + `WhatId`).
pub fn validate(
    sobject: &str,
    write: Write,
    body: &Map<String, Value>,
    existing: Option<&Map<String, Value>>,
    lookup: &dyn Fn(&str) -> Option<&'static str>,
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for (key, value) in body {
        if key == "attributes" {
            continue;
        }
        if key.eq_ignore_ascii_case("Id") {
            return Err(Error::InvalidField {
                message: "The Id field should not be specified in the sobject data.".into(),
                field: None,
            });
        }
        let Some(field) = field(sobject, key) else {
            return Err(Error::no_such_field(key, sobject));
        };
        let allowed = match write {
            Write::Create => field.createable,
            Write::Update => field.updateable,
        };
        if !allowed {
            return Err(Error::InvalidFieldForInsertUpdate {
                field: field.name.into(),
            });
        }
        let value = check_value(field, value, lookup)?;
        out.insert(field.name.into(), value);
    }
    if write == Write::Create {
        let missing: Vec<String> = fields(sobject)
            .unwrap_or_default()
            .iter()
            .filter(|f| f.required && out.get(f.name).is_none_or(Value::is_null))
            .map(|f| f.name.to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(Error::RequiredFieldMissing { fields: missing });
        }
    }
    if sobject == "Task" {
        let merged = |k: &str| {
            out.get(k)
                .or_else(|| existing.and_then(|e| e.get(k)))
                .filter(|v| !v.is_null())
        };
        if let (Some(who), Some(what)) = (merged("WhoId"), merged("WhatId")) {
            if who.as_str().and_then(lookup) == Some("Lead") {
                return Err(Error::FieldIntegrity {
                    message: format!(
                        "Related To ID: id value of incorrect type: {}",
                        what.as_str().unwrap_or_default()
                    ),
                    field: "WhatId".into(),
                });
            }
        }
    }
    Ok(out)
}

fn check_value(
    field: &Field,
    value: &Value,
    lookup: &dyn Fn(&str) -> Option<&'static str>,
) -> Result<Value> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let not_a = |what: &str| {
        Error::JsonParser {
        message: format!(
            "Cannot deserialize instance of {what} from {} value {value} or request may be missing a required field",
            json_token(value)
        ),
    }
    };
    match field.kind {
        Kind::Id | Kind::DateTime => Ok(value.clone()),
        Kind::Text(max) => text(field, value, max, &not_a),
        Kind::Phone => text(field, value, 40, &not_a),
        Kind::Email => {
            let v = text(field, value, 80, &not_a)?;
            let s = v.as_str().unwrap_or_default();
            let plausible = s
                .split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'));
            if !s.is_empty() && !plausible {
                return Err(Error::InvalidEmailAddress {
                    field: field.name.into(),
                    label: field.label.into(),
                    value: s.into(),
                });
            }
            Ok(v)
        }
        Kind::Picklist { values, restricted } => {
            let s = value.as_str().ok_or_else(|| not_a("picklist"))?;
            if restricted && !values.contains(&s) {
                return Err(Error::RestrictedPicklist {
                    field: field.name.into(),
                    label: field.label.into(),
                    value: s.into(),
                });
            }
            Ok(value.clone())
        }
        Kind::Int => {
            if value.is_i64() || value.is_u64() {
                Ok(value.clone())
            } else {
                Err(not_a("int"))
            }
        }
        Kind::Bool => value
            .is_boolean()
            .then(|| value.clone())
            .ok_or_else(|| not_a("boolean")),
        Kind::Date => {
            let s = value.as_str().ok_or_else(|| not_a("date"))?;
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| not_a("date"))?;
            Ok(value.clone())
        }
        Kind::Reference(targets) => {
            let s = value.as_str().ok_or_else(|| not_a("reference"))?;
            if s.is_empty() {
                return Ok(Value::Null);
            }
            let malformed = || Error::MalformedId {
                field: field.name.into(),
                label: field.label.into(),
                value: s.into(),
            };
            let id = ids::normalize(s).ok_or_else(malformed)?;
            let prefix_type = ids::sobject_for_prefix(&id[..3]);
            if targets == USER {
                return if id == ids::user_id() {
                    Ok(Value::String(id))
                } else if prefix_type == Some("User") {
                    Err(Error::InvalidCrossReferenceKey {
                        field: field.name.into(),
                    })
                } else {
                    Err(Error::FieldIntegrity {
                        message: format!("{}: id value of incorrect type: {s}", field.label),
                        field: field.name.into(),
                    })
                };
            }
            match (prefix_type, lookup(&id)) {
                (_, Some(t)) if targets.contains(&t) => Ok(Value::String(id)),
                (Some(t), _) if !targets.contains(&t) => Err(Error::FieldIntegrity {
                    message: format!("{}: id value of incorrect type: {s}", field.label),
                    field: field.name.into(),
                }),
                (None, _) => Err(malformed()),
                _ => Err(Error::InvalidCrossReferenceKey {
                    field: field.name.into(),
                }),
            }
        }
    }
}

fn text(field: &Field, value: &Value, max: usize, not_a: &dyn Fn(&str) -> Error) -> Result<Value> {
    let s = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return Err(not_a("String")),
    };
    let len = s.chars().count();
    if len > max {
        let shown: String = s.chars().take(40).collect();
        return Err(Error::StringTooLong {
            field: field.name.into(),
            label: field.label.into(),
            value: shown,
            max,
        });
    }
    Ok(Value::String(s))
}

fn json_token(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "VALUE_STRING",
        Value::Number(n) if n.is_f64() => "VALUE_NUMBER_FLOAT",
        Value::Number(_) => "VALUE_NUMBER_INT",
        Value::Bool(true) => "VALUE_TRUE",
        Value::Bool(false) => "VALUE_FALSE",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
        Value::Null => "VALUE_NULL",
    }
}

/// Applies the defaults Salesforce fills in on create and the computed fields
/// (`Name` from first and last name, Task `IsClosed`).
pub fn complete(sobject: &str, record: &mut Map<String, Value>, owner: &str) {
    for field in fields(sobject).unwrap_or_default() {
        record.entry(field.name).or_insert(Value::Null);
    }
    if record.get("OwnerId").is_some_and(Value::is_null) {
        record.insert("OwnerId".into(), Value::String(owner.into()));
    }
    if sobject == "Task" {
        for (k, d) in [("Status", "Not Started"), ("Priority", "Normal")] {
            if record.get(k).is_some_and(Value::is_null) {
                record.insert(k.into(), Value::String(d.into()));
            }
        }
        let closed = record.get("Status").and_then(Value::as_str) == Some("Completed");
        record.insert("IsClosed".into(), Value::Bool(closed));
    }
    if sobject == "Lead" && record.get("IsConverted").is_some_and(Value::is_null) {
        record.insert("IsConverted".into(), Value::Bool(false));
    }
    if sobject == "Lead" && record.get("Status").is_some_and(Value::is_null) {
        record.insert(
            "Status".into(),
            Value::String("Open - Not Contacted".into()),
        );
    }
    if matches!(sobject, "Contact" | "Lead") {
        let part = |k: &str| {
            record
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        let name = [part("FirstName"), part("LastName")]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        record.insert("Name".into(), Value::String(name));
    }
}

/// A minimal describe result for a modelled type.
pub fn describe(sobject: &str) -> Option<Value> {
    let fields: Vec<Value> = fields(sobject)?
        .iter()
        .map(|f| {
            let (ty, length) = match f.kind {
                Kind::Id => ("id", 18),
                Kind::Text(n) if n > 255 => ("textarea", n),
                Kind::Text(n) => ("string", n),
                Kind::Phone => ("phone", 40),
                Kind::Email => ("email", 80),
                Kind::Picklist { .. } => ("picklist", 255),
                Kind::Reference(_) => ("reference", 18),
                Kind::Int => ("int", 0),
                Kind::Date => ("date", 0),
                Kind::DateTime => ("datetime", 0),
                Kind::Bool => ("boolean", 0),
            };
            let mut v = serde_json::json!({
                "name": f.name, "label": f.label, "type": ty, "length": length,
                "createable": f.createable, "updateable": f.updateable, "nillable": !f.required,
            });
            if let Kind::Picklist { values, restricted } = f.kind {
                v["restrictedPicklist"] = Value::Bool(restricted);
                v["picklistValues"] = values
                    .iter()
                    .map(|p| serde_json::json!({"value": p, "label": p, "active": true}))
                    .collect();
            }
            if let Kind::Reference(to) = f.kind {
                v["referenceTo"] = serde_json::json!(to);
            }
            v
        })
        .collect();
    Some(serde_json::json!({
        "name": sobject,
        "label": sobject,
        "keyPrefix": ids::key_prefix(sobject),
        "createable": true, "updateable": true, "deletable": true, "queryable": true, "searchable": sobject != "Task",
        "fields": fields,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("test bodies are objects")
    }

    fn contact_id() -> String {
        ids::generate("003", 7)
    }
    fn lead_id() -> String {
        ids::generate("00Q", 8)
    }
    fn account_id() -> String {
        ids::generate("001", 9)
    }

    fn lookup(id: &str) -> Option<&'static str> {
        [
            (contact_id(), "Contact"),
            (lead_id(), "Lead"),
            (account_id(), "Account"),
        ]
        .into_iter()
        .find(|(i, _)| i == id)
        .map(|(_, t)| t)
    }

    #[test]
    fn task_call_type_is_a_restricted_picklist() {
        let err = validate(
            "Task",
            Write::Create,
            &obj(json!({"CallType": "Sideways"})),
            None,
            &lookup,
        )
        .unwrap_err();
        assert_eq!(
            err.error_code(),
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "CallType only takes Inbound/Internal/Outbound"
        );
        assert_eq!(
            err.fields(),
            Some(vec!["CallType".to_string()]),
            "the error names the field"
        );
        assert!(
            validate(
                "Task",
                Write::Create,
                &obj(json!({"CallType": "Inbound"})),
                None,
                &lookup
            )
            .is_ok(),
            "Inbound is allowed"
        );
    }

    #[test]
    fn task_subtype_is_create_only() {
        assert!(
            validate(
                "Task",
                Write::Create,
                &obj(json!({"TaskSubtype": "Call"})),
                None,
                &lookup
            )
            .is_ok(),
            "settable on create"
        );
        let err = validate(
            "Task",
            Write::Update,
            &obj(json!({"TaskSubtype": "Call"})),
            None,
            &lookup,
        )
        .unwrap_err();
        assert_eq!(
            err.error_code(),
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            "TaskSubtype is not updateable"
        );
    }

    #[test]
    fn who_id_must_be_an_existing_contact_or_lead() {
        let ok = validate(
            "Task",
            Write::Create,
            &obj(json!({"WhoId": contact_id()})),
            None,
            &lookup,
        )
        .unwrap();
        assert_eq!(ok["WhoId"], json!(contact_id()), "a Contact WhoId is kept");
        let short = &contact_id()[..15];
        let ok = validate(
            "Task",
            Write::Create,
            &obj(json!({"WhoId": short})),
            None,
            &lookup,
        )
        .unwrap();
        assert_eq!(
            ok["WhoId"],
            json!(contact_id()),
            "a 15-char Id is stored as its 18-char form"
        );
        let err = validate(
            "Task",
            Write::Create,
            &obj(json!({"WhoId": account_id()})),
            None,
            &lookup,
        )
        .unwrap_err();
        assert_eq!(
            err.error_code(),
            "FIELD_INTEGRITY_EXCEPTION",
            "an Account is not a Who"
        );
        let missing = ids::generate("003", 99_999);
        let err = validate(
            "Task",
            Write::Create,
            &obj(json!({"WhoId": missing})),
            None,
            &lookup,
        )
        .unwrap_err();
        assert_eq!(
            err.error_code(),
            "INVALID_CROSS_REFERENCE_KEY",
            "a Contact Id that does not exist"
        );
        let err = validate(
            "Task",
            Write::Create,
            &obj(json!({"WhoId": "not-an-id"})),
            None,
            &lookup,
        )
        .unwrap_err();
        assert_eq!(err.error_code(), "MALFORMED_ID", "garbage is not an Id");
    }

    #[test]
    fn lead_who_id_refuses_a_what_id() {
        let body = obj(json!({"WhoId": lead_id(), "WhatId": account_id()}));
        let err = validate("Task", Write::Create, &body, None, &lookup).unwrap_err();
        assert_eq!(
            err.error_code(),
            "FIELD_INTEGRITY_EXCEPTION",
            "Leads cannot be related to other records"
        );
        let body = obj(json!({"WhoId": contact_id(), "WhatId": account_id()}));
        assert!(
            validate("Task", Write::Create, &body, None, &lookup).is_ok(),
            "Contacts can"
        );
        let existing = obj(json!({"WhoId": lead_id()}));
        let err = validate(
            "Task",
            Write::Update,
            &obj(json!({"WhatId": account_id()})),
            Some(&existing),
            &lookup,
        )
        .unwrap_err();
        assert_eq!(
            err.error_code(),
            "FIELD_INTEGRITY_EXCEPTION",
            "the rule also holds when the Lead was set earlier"
        );
    }

    #[test]
    fn lengths_types_and_unknown_fields() {
        let err = validate(
            "Task",
            Write::Create,
            &obj(json!({"Subject": "x".repeat(256)})),
            None,
            &lookup,
        )
        .unwrap_err();
        assert_eq!(err.error_code(), "STRING_TOO_LONG", "Subject is 255 chars");
        assert!(
            validate(
                "Task",
                Write::Create,
                &obj(json!({"Description": "é".repeat(32000)})),
                None,
                &lookup
            )
            .is_ok(),
            "32000 chars, not bytes"
        );
        let err = validate(
            "Task",
            Write::Create,
            &obj(json!({"Description": "x".repeat(32001)})),
            None,
            &lookup,
        )
        .unwrap_err();
        assert_eq!(
            err.error_code(),
            "STRING_TOO_LONG",
            "Description is 32000 chars"
        );
        let err = validate(
            "Task",
            Write::Create,
            &obj(json!({"CallDurationInSeconds": 1.5})),
            None,
            &lookup,
        )
        .unwrap_err();
        assert_eq!(
            err.error_code(),
            "JSON_PARSER_ERROR",
            "durations are whole numbers"
        );
        let err = validate(
            "Task",
            Write::Create,
            &obj(json!({"ActivityDate": "03/02/2026"})),
            None,
            &lookup,
        )
        .unwrap_err();
        assert_eq!(
            err.error_code(),
            "JSON_PARSER_ERROR",
            "dates are YYYY-MM-DD"
        );
        let err = validate(
            "Task",
            Write::Create,
            &obj(json!({"Foo": 1})),
            None,
            &lookup,
        )
        .unwrap_err();
        assert_eq!(
            err.error_code(),
            "INVALID_FIELD",
            "unknown fields are refused"
        );
        let err = validate(
            "Task",
            Write::Create,
            &obj(json!({"Id": contact_id()})),
            None,
            &lookup,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "The Id field should not be specified in the sobject data.",
            "documented text"
        );
    }

    #[test]
    fn required_fields_per_type() {
        let err = validate(
            "Contact",
            Write::Create,
            &obj(json!({"FirstName": "Ada"})),
            None,
            &lookup,
        )
        .unwrap_err();
        assert_eq!(
            err.fields(),
            Some(vec!["LastName".to_string()]),
            "Contact needs LastName"
        );
        let err = validate(
            "Lead",
            Write::Create,
            &obj(json!({"LastName": "X"})),
            None,
            &lookup,
        )
        .unwrap_err();
        assert_eq!(
            err.fields(),
            Some(vec!["Company".to_string()]),
            "Lead needs Company"
        );
        let err = validate("Account", Write::Create, &obj(json!({})), None, &lookup).unwrap_err();
        assert_eq!(
            err.error_code(),
            "REQUIRED_FIELD_MISSING",
            "Account needs Name"
        );
        assert!(
            validate(
                "Contact",
                Write::Update,
                &obj(json!({"FirstName": "A"})),
                None,
                &lookup
            )
            .is_ok(),
            "updates need no required fields"
        );
    }

    #[test]
    fn complete_applies_task_defaults_and_names() {
        let mut task = Map::new();
        complete("Task", &mut task, "005x");
        assert_eq!(task["Status"], "Not Started", "Status default");
        assert_eq!(task["Priority"], "Normal", "Priority default");
        assert_eq!(task["OwnerId"], "005x", "owner is the calling user");
        assert_eq!(task["IsClosed"], false, "not started is open");
        let mut c = obj(json!({"FirstName": "太郎", "LastName": "山田"}));
        complete("Contact", &mut c, "005x");
        assert_eq!(c["Name"], "太郎 山田", "Name is first then last");
    }
}
