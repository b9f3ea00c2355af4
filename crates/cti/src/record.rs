//! Salesforce records as the core sees them: a reference (`RecordRef`) and a search hit (`Match`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A reference to one Salesforce record: its object API name and its Id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RecordRef {
    /// Object API name, e.g. `Contact`, `Lead`, `Account`.
    pub sobject: String,
    /// The record Id (15 or 18 characters).
    pub id: String,
}

impl RecordRef {
    /// Builds a reference from an object name and an Id.
    pub fn new(sobject: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            sobject: sobject.into(),
            id: id.into(),
        }
    }

    /// True when the record is a Lead: by object name, or by the Lead key prefix `00Q`.
    pub fn is_lead(&self) -> bool {
        self.sobject.eq_ignore_ascii_case("Lead") || self.id.starts_with("00Q")
    }
}

/// One record returned by a phone search, with the field values the client fetched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Match {
    /// Which record this is.
    pub record: RecordRef,
    /// The record's display name (`Name`), as Salesforce returned it.
    pub name: String,
    /// Phone fields of the record: API name → value as stored (`Phone` → `(415) 555-0100`).
    #[serde(default)]
    pub phones: BTreeMap<String, String>,
    /// Other field values fetched for display: API name → value.
    #[serde(default)]
    pub fields: BTreeMap<String, serde_json::Value>,
}
