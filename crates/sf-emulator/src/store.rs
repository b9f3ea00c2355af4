//! The in-memory org: records per sObject type, keyed by 18-char Id, plus the Id counter.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Map, Value};

use crate::ids;
use crate::schema;

/// One stored record.
#[derive(Clone, Debug)]
pub struct Stored {
    /// Every field of the type (null when unset), including `Id`.
    pub fields: Map<String, Value>,
    /// Search finds the record only from this moment on (`None`: at once).
    pub searchable_at: Option<Instant>,
    /// The record's non-empty phone values, as typed: the phone search's index (Salesforce
    /// searches an index too), so that a search does not look up every phone field of every
    /// record. [`Data`] keeps it in step with `fields`.
    phones: Vec<String>,
}

impl Stored {
    fn new(sobject: &str, fields: Map<String, Value>, searchable_at: Option<Instant>) -> Self {
        let mut stored = Stored {
            fields,
            searchable_at,
            phones: Vec::new(),
        };
        stored.index(sobject);
        stored
    }

    fn index(&mut self, sobject: &str) {
        self.phones = schema::phone_fields(sobject)
            .into_iter()
            .filter_map(|f| self.fields.get(f).and_then(Value::as_str))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect();
    }

    /// The record's non-empty phone field values, as typed.
    pub fn phones(&self) -> impl Iterator<Item = &str> {
        self.phones.iter().map(String::as_str)
    }
}

/// All records of the org.
#[derive(Clone, Debug, Default)]
pub struct Data {
    records: BTreeMap<&'static str, BTreeMap<String, Stored>>,
    next_id: u64,
}

impl Data {
    /// Allocates the next Id for `sobject` (modelled types only).
    pub fn allocate_id(&mut self, sobject: &str) -> String {
        self.next_id += 1;
        ids::generate(ids::key_prefix(sobject).unwrap_or("000"), self.next_id)
    }

    /// Stores a record that already has every field, including its `Id`.
    pub fn put(
        &mut self,
        sobject: &'static str,
        fields: Map<String, Value>,
        searchable_at: Option<Instant>,
    ) {
        let id = fields
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.records
            .entry(sobject)
            .or_default()
            .insert(id, Stored::new(sobject, fields, searchable_at));
    }

    /// The type of the record with this 18-char Id, if it exists.
    pub fn type_of(&self, id: &str) -> Option<&'static str> {
        let t = ids::sobject_for_prefix(id.get(..3)?)?;
        let t = schema::canonical_sobject(t)?;
        self.records.get(t)?.contains_key(id).then_some(t)
    }

    /// A record by type and 18-char Id.
    pub fn get(&self, sobject: &str, id: &str) -> Option<&Stored> {
        self.records.get(sobject)?.get(id)
    }

    /// Changes the fields of a record by type and 18-char Id; whether it exists.
    pub fn update(
        &mut self,
        sobject: &str,
        id: &str,
        change: impl FnOnce(&mut Map<String, Value>),
    ) -> bool {
        let Some(stored) = self.records.get_mut(sobject).and_then(|m| m.get_mut(id)) else {
            return false;
        };
        change(&mut stored.fields);
        stored.index(sobject);
        true
    }

    /// Removes a record; whether it existed.
    pub fn remove(&mut self, sobject: &str, id: &str) -> bool {
        self.records
            .get_mut(sobject)
            .and_then(|m| m.remove(id))
            .is_some()
    }

    /// Every record of a type, oldest first.
    pub fn all(&self, sobject: &str) -> impl Iterator<Item = &Stored> {
        self.records
            .get(sobject)
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// Number of records of a type.
    pub fn count(&self, sobject: &str) -> usize {
        self.records.get(sobject).map_or(0, BTreeMap::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_type_of_and_remove() {
        let mut data = Data::default();
        let id = data.allocate_id("Contact");
        let mut fields = Map::new();
        fields.insert("Id".into(), Value::String(id.clone()));
        data.put("Contact", fields, None);
        assert_eq!(
            data.type_of(&id),
            Some("Contact"),
            "the record is found by Id"
        );
        assert!(data.get("Contact", &id).is_some(), "and by type + Id");
        assert_eq!(data.count("Contact"), 1, "one record stored");
        assert_eq!(data.get("Contact", &id).unwrap().phones().count(), 0);
        assert!(data.update("Contact", &id, |f| {
            f.insert("MobilePhone".into(), Value::String("090-1234-5678".into()));
        }));
        assert_eq!(
            data.get("Contact", &id)
                .unwrap()
                .phones()
                .collect::<Vec<_>>(),
            ["090-1234-5678"],
            "the phone index follows an update"
        );
        assert!(!data.update("Contact", "003000000000000AAA", |_| {}));
        assert!(data.remove("Contact", &id), "removal reports success");
        assert_eq!(data.type_of(&id), None, "gone after removal");
    }
}
