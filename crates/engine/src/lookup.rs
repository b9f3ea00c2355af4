//! Who is calling: the match cache first (a pinned record wins, fresh results need no request),
//! then one Salesforce phone search with `cti`'s search terms, ranked by `cti`, cached.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use cti::{CallType, CallTypeLayout, Layout, Match, Normalized, RecordRef};
use salesforce::{Client, ErrorClass, SearchRecord};
use serde::{Deserialize, Serialize};
use store::{CachedMatch, Store};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::connection::Connection;
use crate::events::SfTrouble;

/// Where the matches of a lookup came from, or why there are none to trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum LookupStatus {
    /// The record the agent picked or created for this number (no request made).
    Pinned,
    /// Fresh results from the match cache (no request made).
    Cache,
    /// A Salesforce search just now.
    Salesforce,
    /// The search failed or took too long; the popup shows the caller only.
    Failed {
        /// What kind of trouble, for a sentence in the agent's language.
        kind: SfTrouble,
        /// The error in the stack's words (English), for the detail.
        reason: String,
    },
    /// The caller's number is withheld or unusable: there is nothing to search for.
    NoNumber,
    /// There is no usable Salesforce session (sign in first, or again).
    NotConnected,
}

impl LookupStatus {
    /// True when the matches can be trusted (the pop may follow).
    pub fn is_ok(&self) -> bool {
        matches!(
            self,
            LookupStatus::Pinned | LookupStatus::Cache | LookupStatus::Salesforce
        )
    }
}

/// The outcome of a lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    /// The ranked matches (empty when the lookup failed).
    pub matches: Vec<Match>,
    /// Where they came from.
    pub status: LookupStatus,
}

/// The match-cache key of a number: E.164 when known, else its digits.
pub fn cache_key(caller: &Normalized) -> String {
    caller.e164.clone().unwrap_or_else(|| caller.digits.clone())
}

/// Turns Salesforce search rows into `cti` matches: `Name` as the name, the layout's phone
/// fields of the object as phones, every other returned field (except `attributes` and `Id`) as
/// a display field. Rows of objects the layout does not show keep the standard phone fields.
pub fn matches_from_search(records: &[SearchRecord], layout: &CallTypeLayout) -> Vec<Match> {
    records
        .iter()
        .map(|r| {
            let phone_fields: Vec<String> = match layout.object(&r.sobject) {
                Some(spec) => spec.all_phone_fields(),
                None => cti::layout::standard_phone_fields(&r.sobject)
                    .iter()
                    .map(|f| (*f).to_owned())
                    .collect(),
            };
            let mut phones = BTreeMap::new();
            let mut fields = BTreeMap::new();
            for (key, value) in &r.fields {
                if key == "attributes" || key == "Id" {
                    continue;
                }
                match value {
                    serde_json::Value::String(s) if phone_fields.iter().any(|p| p == key) => {
                        phones.insert(key.clone(), s.clone());
                    }
                    other => {
                        fields.insert(key.clone(), other.clone());
                    }
                }
            }
            let name = r
                .fields
                .get("Name")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            Match {
                record: RecordRef::new(r.sobject.clone(), r.id.clone()),
                name,
                phones,
                fields,
            }
        })
        .collect()
}

/// Search results for the match cache.
#[derive(Debug)]
pub(crate) struct CachePut {
    key: String,
    matches: serde_json::Value,
    at: DateTime<Utc>,
}

/// The sending side of the match-cache writer; cheap to clone.
pub(crate) type CacheWrites = mpsc::UnboundedSender<CachePut>;

/// Starts the match-cache writer: it takes every put waiting and commits them in one
/// transaction, off the runtime's workers, so that under a burst of calls the cache keeps up
/// with the searches (one disk sync per batch, not per call) and the next call from a number
/// finds its results. It ends when every sender is gone, after its last batch.
pub(crate) fn spawn_cache_writer(store: Arc<Store>) -> (CacheWrites, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<CachePut>();
    let task = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            let store = store.clone();
            let written = tokio::task::spawn_blocking(move || {
                store
                    .match_cache()
                    .put_many(batch.iter().map(|p| (p.key.as_str(), &p.matches, p.at)))
            })
            .await;
            match written {
                Ok(Ok(())) => {}
                // The cache only saves a search: a lost put costs one request later.
                Ok(Err(e)) => tracing::warn!(error = %e, "could not cache the matches"),
                Err(e) => tracing::error!(error = %e, "match-cache writer failed"),
            }
        }
    });
    (tx, task)
}

/// The lookup a cache row answers without a request: its pinned record, else its results
/// while fresh; `None` when Salesforce must be searched (an unreadable row included, logged).
pub(crate) fn from_cache(cached: CachedMatch) -> Option<Lookup> {
    if let Some(pinned) = cached.pinned {
        match serde_json::from_value::<Match>(pinned.record) {
            Ok(m) => {
                return Some(Lookup {
                    matches: vec![m],
                    status: LookupStatus::Pinned,
                })
            }
            Err(e) => tracing::warn!(error = %e, "pinned record unreadable; searching"),
        }
    }
    if let (true, Some(records)) = (cached.fresh, cached.records) {
        match serde_json::from_value::<Vec<Match>>(records) {
            Ok(matches) => {
                return Some(Lookup {
                    matches,
                    status: LookupStatus::Cache,
                })
            }
            Err(e) => tracing::warn!(error = %e, "cached matches unreadable; searching"),
        }
    }
    None
}

/// Looks up `caller` for a call of `call_type` at `now` (`prefetched`: the cache row, when the
/// caller has just read it with the same `ttl`):
/// 1. a pinned record for the number wins (no request);
/// 2. cached results younger than `ttl` are used (no request);
/// 3. otherwise one phone search with [`cti::search_terms`], bounded by `timeout`, ranked with
///    [`cti::rank_matches`] in the layout's object order and handed to the cache writer.
///
/// Never fails: a store or Salesforce problem comes back as [`LookupStatus::Failed`] or
/// [`LookupStatus::NotConnected`] with no matches, so the popup can still show the caller.
/// What a search learns of the Salesforce connection is reported to `connection`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn lookup(
    store: &Arc<Store>,
    cache: &CacheWrites,
    client: &Client,
    layout: &Layout,
    call_type: CallType,
    caller: &Normalized,
    now: DateTime<Utc>,
    ttl: Duration,
    timeout: Duration,
    prefetched: Option<Option<CachedMatch>>,
    connection: &Connection,
) -> Lookup {
    let key = cache_key(caller);
    let cached = match prefetched {
        Some(cached) => Ok(cached),
        None => store.match_cache().with_ttl(ttl).lookup(&key, now),
    };
    match cached {
        Ok(Some(cached)) => {
            if let Some(found) = from_cache(cached) {
                return found;
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "match cache unreadable; searching"),
    }
    let terms = cti::search_terms(caller);
    // The lookup's own deadline is one more Salesforce timeout: it reaches the status line and
    // the popup the way the client's own timeouts do.
    let searched = tokio::time::timeout(timeout, client.search_phone(&terms))
        .await
        .unwrap_or_else(|_| {
            Err(salesforce::Error::Timeout {
                what: format!("phone search (no answer within {timeout:?})"),
            })
        });
    // What the search says about the connection reaches the status line too.
    connection
        .observe(crate::connection::learned(&searched, now), now)
        .await;
    let found = match searched {
        Err(e) => {
            let status = match e.classify() {
                ErrorClass::ReconnectNeeded => LookupStatus::NotConnected,
                _ => LookupStatus::Failed {
                    kind: SfTrouble::of(&e),
                    reason: e.to_string(),
                },
            };
            tracing::info!(error = %e, "phone search failed");
            return Lookup {
                matches: Vec::new(),
                status,
            };
        }
        Ok(found) => found,
    };
    let rules = layout.for_call(call_type);
    let matches = cti::rank_matches(
        caller,
        matches_from_search(&found, rules),
        &rules.object_names(),
    );
    // The cache write (a durable SQLite commit) is not on the popup's path: the matches go
    // back to the caller at once and the writer commits them beside it.
    match serde_json::to_value(&matches) {
        Ok(value) => {
            let put = CachePut {
                key,
                matches: value,
                at: now,
            };
            if cache.send(put).is_err() {
                tracing::debug!("match-cache writer gone; matches not cached");
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not encode the matches"),
    }
    Lookup {
        matches,
        status: LookupStatus::Salesforce,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(sobject: &str, id: &str, fields: serde_json::Value) -> SearchRecord {
        SearchRecord {
            sobject: sobject.into(),
            id: id.into(),
            fields: fields.as_object().cloned().expect("object"),
        }
    }

    #[test]
    fn search_rows_become_matches_with_phones_split_out() {
        let layout = CallTypeLayout::default_for(CallType::Inbound);
        let rows = vec![row(
            "Contact",
            "003000000000001AAA",
            serde_json::json!({
                "attributes": {"type": "Contact"},
                "Id": "003000000000001AAA",
                "Name": "Hanako Yamada",
                "Phone": "03-1234-5678",
                "MobilePhone": null,
                "Account": {"Name": "Yamada Shoji"}
            }),
        )];
        let matches = matches_from_search(&rows, &layout);
        assert_eq!(matches.len(), 1, "one row gives one match");
        let m = &matches[0];
        assert_eq!(
            m.record,
            RecordRef::new("Contact", "003000000000001AAA"),
            "the record reference comes from the row's type and Id"
        );
        assert_eq!(m.name, "Hanako Yamada", "Name is the display name");
        assert_eq!(
            m.phones.get("Phone").map(String::as_str),
            Some("03-1234-5678"),
            "a string phone field is a phone"
        );
        assert!(
            !m.fields.contains_key("attributes") && !m.fields.contains_key("Id"),
            "attributes and Id are not display fields"
        );
        assert_eq!(
            m.fields.get("Account"),
            Some(&serde_json::json!({"Name": "Yamada Shoji"})),
            "relationship fields are kept for display"
        );
        assert!(
            !m.phones.contains_key("MobilePhone"),
            "a null phone is not a phone"
        );
    }

    #[test]
    fn cache_key_prefers_e164() {
        let n = cti::normalize("03-1234-5678", cti::Region::parse("JP").expect("JP"))
            .expect("normalizes");
        assert_eq!(
            cache_key(&n),
            "+81312345678",
            "a valid number is cached by E.164"
        );
        let ext = cti::normalize("1234", cti::Region::US).expect("extension");
        assert_eq!(
            cache_key(&ext),
            "1234",
            "an extension is cached by its digits"
        );
    }
}
