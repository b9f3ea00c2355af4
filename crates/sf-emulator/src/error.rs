//! The crate's one error type: every way a REST request can be refused, with the HTTP status,
//! the Salesforce `errorCode` and the message that Salesforce documents for it.

use axum::http::StatusCode;
use serde_json::{json, Value};

/// A REST request the emulator refuses, as Salesforce would.
///
/// `Display` is the `message` of the Salesforce error body; [`Error::error_code`] is its `errorCode`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Missing, unknown, revoked or expired Bearer token (401).
    #[error("Session expired or invalid")]
    InvalidSession,
    /// The org's daily API allocation is used up (403).
    #[error("TotalRequests Limit exceeded.")]
    RequestLimitExceeded,
    /// Unknown URL, API version or record Id (404).
    #[error("The requested resource does not exist")]
    NotFound,
    /// Injected fault: an internal server error (500).
    #[error("An unexpected error occurred. Please include this ErrorId if you contact support: {error_id}")]
    UnknownException {
        /// A made-up ErrorId, as Salesforce prints one.
        error_id: String,
    },
    /// Injected fault: the server is unavailable (503).
    #[error("Server temporarily unavailable. Please try again later.")]
    ServerUnavailable,
    /// SOQL or SOSL that does not parse (400).
    #[error("{message}")]
    MalformedQuery {
        /// What is wrong with the query.
        message: String,
    },
    /// An unknown field in a query, search or record body, or an `Id` in a create body (400).
    #[error("{message}")]
    InvalidField {
        /// The Salesforce message.
        message: String,
        /// The offending field, when there is one.
        field: Option<String>,
    },
    /// An unknown sObject type (400).
    #[error("sObject type '{sobject}' is not supported.")]
    InvalidType {
        /// The type that was asked for.
        sobject: String,
    },
    /// Required fields left out of a create (400).
    #[error("Required fields are missing: [{}]", fields.join(", "))]
    RequiredFieldMissing {
        /// The missing fields.
        fields: Vec<String>,
    },
    /// A read-only or create-only field written (400).
    #[error("Unable to create/update fields: {field}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.")]
    InvalidFieldForInsertUpdate {
        /// The field.
        field: String,
    },
    /// A string longer than the field allows (400).
    #[error("{label}: data value too large: {value} (max length={max})")]
    StringTooLong {
        /// API name of the field.
        field: String,
        /// UI label of the field.
        label: String,
        /// The value (truncated for the message).
        value: String,
        /// The field's length.
        max: usize,
    },
    /// A value outside a restricted picklist (400).
    #[error("{label}: bad value for restricted picklist field: {value}")]
    RestrictedPicklist {
        /// API name of the field.
        field: String,
        /// UI label of the field.
        label: String,
        /// The rejected value.
        value: String,
    },
    /// A value that is not an Id where an Id belongs (400).
    #[error("{label}: id value of incorrect type: {value}")]
    MalformedId {
        /// API name of the field (or `Id` for a URL).
        field: String,
        /// UI label of the field.
        label: String,
        /// The rejected value.
        value: String,
    },
    /// A lookup to a record of a type the field does not allow, or a Lead `WhoId` with a `WhatId` (400).
    #[error("{message}")]
    FieldIntegrity {
        /// The Salesforce message.
        message: String,
        /// The offending field.
        field: String,
    },
    /// A lookup to a record that does not exist (400).
    #[error("invalid cross reference id")]
    InvalidCrossReferenceKey {
        /// The offending field.
        field: String,
    },
    /// An email field without a plausible address (400).
    #[error("{label}: invalid email address: {value}")]
    InvalidEmailAddress {
        /// API name of the field.
        field: String,
        /// UI label of the field.
        label: String,
        /// The rejected value.
        value: String,
    },
    /// A body that is not the JSON expected, or a value of the wrong JSON type (400).
    #[error("{message}")]
    JsonParser {
        /// What could not be read.
        message: String,
    },
    /// A collection request larger than 200 records (400).
    #[error("record limit reached. cannot submit more than {max} records into this call")]
    ExceededIdLimit {
        /// The limit (200).
        max: usize,
    },
    /// A sibling failed in an allOrNone collection, so this record was not saved (collections only).
    #[error("Record rolled back because not all records were valid and the request was using AllOrNone header")]
    RolledBack,
    /// A `nextRecordsUrl` locator that does not exist (400).
    #[error("invalid query locator")]
    InvalidQueryLocator {
        /// The locator as requested.
        locator: String,
    },
    /// The verb is not served on this URL (405).
    #[error("HTTP Method '{method}' not allowed. Allowed are {allowed}")]
    MethodNotAllowed {
        /// The verb used.
        method: String,
        /// The verbs the URL serves.
        allowed: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The Salesforce `errorCode` (REST) or `statusCode` (collections).
    pub fn error_code(&self) -> &'static str {
        match self {
            Error::InvalidSession => "INVALID_SESSION_ID",
            Error::RequestLimitExceeded => "REQUEST_LIMIT_EXCEEDED",
            Error::NotFound => "NOT_FOUND",
            Error::UnknownException { .. } => "UNKNOWN_EXCEPTION",
            Error::ServerUnavailable => "SERVER_UNAVAILABLE",
            Error::MalformedQuery { .. } => "MALFORMED_QUERY",
            Error::InvalidField { .. } => "INVALID_FIELD",
            Error::InvalidType { .. } => "INVALID_TYPE",
            Error::RequiredFieldMissing { .. } => "REQUIRED_FIELD_MISSING",
            Error::InvalidFieldForInsertUpdate { .. } => "INVALID_FIELD_FOR_INSERT_UPDATE",
            Error::StringTooLong { .. } => "STRING_TOO_LONG",
            Error::RestrictedPicklist { .. } => "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            Error::MalformedId { .. } => "MALFORMED_ID",
            Error::FieldIntegrity { .. } => "FIELD_INTEGRITY_EXCEPTION",
            Error::InvalidCrossReferenceKey { .. } => "INVALID_CROSS_REFERENCE_KEY",
            Error::InvalidEmailAddress { .. } => "INVALID_EMAIL_ADDRESS",
            Error::JsonParser { .. } => "JSON_PARSER_ERROR",
            Error::ExceededIdLimit { .. } => "EXCEEDED_ID_LIMIT",
            Error::RolledBack => "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            Error::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            Error::InvalidQueryLocator { .. } => "INVALID_QUERY_LOCATOR",
        }
    }

    /// The HTTP status Salesforce answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::InvalidSession => StatusCode::UNAUTHORIZED,
            Error::RequestLimitExceeded => StatusCode::FORBIDDEN,
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::UnknownException { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Error::ServerUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The fields the error is about, for errors that name fields.
    pub fn fields(&self) -> Option<Vec<String>> {
        match self {
            Error::InvalidField { field, .. } => Some(field.iter().cloned().collect()),
            Error::RequiredFieldMissing { fields } => Some(fields.clone()),
            Error::InvalidFieldForInsertUpdate { field }
            | Error::StringTooLong { field, .. }
            | Error::RestrictedPicklist { field, .. }
            | Error::MalformedId { field, .. }
            | Error::FieldIntegrity { field, .. }
            | Error::InvalidCrossReferenceKey { field }
            | Error::InvalidEmailAddress { field, .. } => Some(vec![field.clone()]),
            Error::RolledBack => Some(Vec::new()),
            _ => None,
        }
    }

    /// One element of a REST error array: `{"message","errorCode"[,"fields"]}`.
    pub fn rest_json(&self) -> Value {
        let mut v = json!({ "message": self.to_string(), "errorCode": self.error_code() });
        if let Some(fields) = self.fields() {
            v["fields"] = json!(fields);
        }
        v
    }

    /// One element of an sObject Collections `errors` array: `{"statusCode","message","fields"}`.
    pub fn collection_json(&self) -> Value {
        json!({
            "statusCode": self.error_code(),
            "message": self.to_string(),
            "fields": self.fields().unwrap_or_default(),
        })
    }

    /// An unknown column, worded as Salesforce words it in queries and searches.
    pub fn no_such_column(field: &str, sobject: &str) -> Error {
        Error::InvalidField {
            message: format!(
                "No such column '{field}' on entity '{sobject}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
            ),
            field: None,
        }
    }

    /// An unknown field in a record body.
    pub fn no_such_field(field: &str, sobject: &str) -> Error {
        Error::InvalidField {
            message: format!("No such column '{field}' on sobject of type {sobject}"),
            field: Some(field.to_owned()),
        }
    }
}

impl axum::response::IntoResponse for Error {
    fn into_response(self) -> axum::response::Response {
        (self.status(), axum::Json(json!([self.rest_json()]))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_error_has_documented_body_without_fields() {
        let v = Error::InvalidSession.rest_json();
        assert_eq!(
            v,
            json!({"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}),
            "the 401 body is documented exactly and carries no fields key"
        );
        assert_eq!(
            Error::InvalidSession.status(),
            StatusCode::UNAUTHORIZED,
            "session errors are 401"
        );
    }

    #[test]
    fn collection_errors_use_status_code_key() {
        let e = Error::RequiredFieldMissing {
            fields: vec!["LastName".into()],
        };
        let v = e.collection_json();
        assert_eq!(
            v["statusCode"], "REQUIRED_FIELD_MISSING",
            "collections name the code statusCode"
        );
        assert!(
            v.get("errorCode").is_none(),
            "collections never use errorCode"
        );
        assert_eq!(
            v["message"], "Required fields are missing: [LastName]",
            "message lists the fields"
        );
    }
}
