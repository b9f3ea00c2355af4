//! The match cache: E.164 number → the records Salesforce search returned for it, so that a
//! repeat caller pops without a round trip; plus the record the agent picked or created for that
//! number (the *pin*).
//!
//! The pin outlives the TTL and wins over search results: a record the agent has just created is
//! not found by Salesforce search for minutes while its index catches up, so without the pin the
//! next call from that number would offer to create a duplicate.
//!
//! Freshness is judged against a `now` the caller passes in, with the TTL of the view
//! ([`DEFAULT_MATCH_TTL`] unless set with [`MatchCache::with_ttl`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::{decode, encode, from_ms, to_ms, Error, Result, Store};

/// Migration 3: the match cache.
pub(crate) const MIGRATION: &str = "
CREATE TABLE match_cache (
    number        TEXT PRIMARY KEY NOT NULL,  -- E.164
    records       TEXT,                       -- JSON search results, NULL once invalidated
    fetched_at    INTEGER,                    -- unix ms, with records
    pinned_record TEXT,                       -- JSON, the agent's pick or creation
    pinned_source TEXT,                       -- picked | created
    pinned_at     INTEGER
) STRICT;
";

const TABLE: &str = "match_cache";

/// How long search results stay fresh unless the view is given another TTL.
pub const DEFAULT_MATCH_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// How the pinned record came to be chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinSource {
    /// The agent picked it among the matches (or by searching).
    Picked,
    /// The agent created it for this number (no match).
    Created,
}

impl PinSource {
    fn as_str(self) -> &'static str {
        match self {
            PinSource::Picked => "picked",
            PinSource::Created => "created",
        }
    }
}

/// The record pinned to a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PinnedRecord {
    /// The record (JSON, as the engine shaped it).
    pub record: serde_json::Value,
    /// Picked or created.
    pub source: PinSource,
    /// When it was pinned.
    pub pinned_at: DateTime<Utc>,
}

/// What the cache knows about a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedMatch {
    /// The last search results, if any (possibly stale: see `fresh`).
    pub records: Option<serde_json::Value>,
    /// When `records` were fetched.
    pub fetched_at: Option<DateTime<Utc>>,
    /// The agent's pinned record, which wins over `records` whatever their age.
    pub pinned: Option<PinnedRecord>,
    /// Whether `records` are within the TTL at the `now` given to the lookup.
    pub fresh: bool,
}

/// The match cache (from [`Store::match_cache`]).
#[derive(Debug, Clone, Copy)]
pub struct MatchCache<'a> {
    store: &'a Store,
    ttl: Duration,
}

impl<'a> MatchCache<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        MatchCache {
            store,
            ttl: DEFAULT_MATCH_TTL,
        }
    }

    /// The same view with another TTL for search results.
    pub fn with_ttl(self, ttl: Duration) -> Self {
        MatchCache { ttl, ..self }
    }

    /// Stores the search results for `number`, fetched at `now` (the pin, if any, stays).
    pub fn put(&self, number: &str, records: &serde_json::Value, now: DateTime<Utc>) -> Result<()> {
        check_number(number)?;
        let text = encode(records, number)?;
        self.store
            .conn()
            .prepare_cached(
                "INSERT INTO match_cache (number, records, fetched_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (number) DO UPDATE SET records = excluded.records,
                    fetched_at = excluded.fetched_at",
            )?
            .execute(params![number, text, to_ms(now)])?;
        Ok(())
    }

    /// [`MatchCache::put`] for several numbers in one transaction (one disk sync), in order (a
    /// later entry for the same number wins). All or nothing.
    pub fn put_many<'i>(
        &self,
        entries: impl IntoIterator<Item = (&'i str, &'i serde_json::Value, DateTime<Utc>)>,
    ) -> Result<()> {
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO match_cache (number, records, fetched_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (number) DO UPDATE SET records = excluded.records,
                    fetched_at = excluded.fetched_at",
            )?;
            for (number, records, now) in entries {
                check_number(number)?;
                let text = encode(records, number)?;
                stmt.execute(params![number, text, to_ms(now)])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Pins the record the agent picked or created for `number`; it replaces any earlier pin.
    pub fn pin(
        &self,
        number: &str,
        record: &serde_json::Value,
        source: PinSource,
        now: DateTime<Utc>,
    ) -> Result<()> {
        check_number(number)?;
        let text = encode(record, number)?;
        self.store
            .conn()
            .prepare_cached(
                "INSERT INTO match_cache (number, pinned_record, pinned_source, pinned_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (number) DO UPDATE SET pinned_record = excluded.pinned_record,
                    pinned_source = excluded.pinned_source, pinned_at = excluded.pinned_at",
            )?
            .execute(params![number, text, source.as_str(), to_ms(now)])?;
        tracing::debug!(number, source = source.as_str(), "record pinned");
        Ok(())
    }

    /// Drops the search results for `number` (the next call searches again); the pin stays.
    pub fn invalidate(&self, number: &str) -> Result<()> {
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        tx.prepare_cached(
            "UPDATE match_cache SET records = NULL, fetched_at = NULL WHERE number = ?1",
        )?
        .execute([number])?;
        tx.prepare_cached("DELETE FROM match_cache WHERE number = ?1 AND pinned_record IS NULL")?
            .execute([number])?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets everything about `number`, pin included; returns whether there was anything.
    pub fn forget(&self, number: &str) -> Result<bool> {
        let n = self
            .store
            .conn()
            .prepare_cached("DELETE FROM match_cache WHERE number = ?1")?
            .execute([number])?;
        Ok(n > 0)
    }

    /// Forgets every number, pins included (the records belong to an org no longer signed in
    /// to); returns how many numbers there were.
    pub fn clear(&self) -> Result<usize> {
        Ok(self
            .store
            .conn()
            .prepare_cached("DELETE FROM match_cache")?
            .execute([])?)
    }

    /// What the cache knows about `number` at `now`; `None` when nothing.
    pub fn lookup(&self, number: &str, now: DateTime<Utc>) -> Result<Option<CachedMatch>> {
        type Raw = (
            Option<String>,
            Option<i64>,
            Option<String>,
            Option<String>,
            Option<i64>,
        );
        let raw: Option<Raw> = self
            .store
            .read_conn()
            .prepare_cached(
                "SELECT records, fetched_at, pinned_record, pinned_source, pinned_at
                 FROM match_cache WHERE number = ?1",
            )?
            .query_row([number], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        let Some((records, fetched_at, pinned_record, pinned_source, pinned_at)) = raw else {
            return Ok(None);
        };
        let records: Option<serde_json::Value> = records
            .map(|text| decode(&text, TABLE, number))
            .transpose()?;
        let fetched_at = fetched_at
            .map(|ms| from_ms(ms, TABLE, number))
            .transpose()?;
        let pinned = match (pinned_record, pinned_source, pinned_at) {
            (Some(text), Some(source), Some(at)) => Some(PinnedRecord {
                record: decode(&text, TABLE, number)?,
                source: match source.as_str() {
                    "picked" => PinSource::Picked,
                    "created" => PinSource::Created,
                    other => {
                        return Err(Error::Corrupt {
                            table: TABLE,
                            key: number.to_owned(),
                            reason: format!("unknown pin source {other:?}"),
                        })
                    }
                },
                pinned_at: from_ms(at, TABLE, number)?,
            }),
            _ => None,
        };
        let fresh = match (&records, fetched_at) {
            (Some(_), Some(at)) => is_fresh(at, now, self.ttl),
            _ => false,
        };
        Ok(Some(CachedMatch {
            records,
            fetched_at,
            pinned,
            fresh,
        }))
    }

    /// Removes search results that have expired at `now` (rows with a pin keep the pin);
    /// returns how many numbers lost their results.
    pub fn prune_expired(&self, now: DateTime<Utc>) -> Result<usize> {
        let cutoff = to_ms(now) - ttl_ms(self.ttl);
        let mut conn = self.store.conn();
        let tx = conn.transaction()?;
        let cleared = tx
            .prepare_cached(
                "UPDATE match_cache SET records = NULL, fetched_at = NULL
                 WHERE fetched_at IS NOT NULL AND fetched_at <= ?1",
            )?
            .execute([cutoff])?;
        tx.prepare_cached(
            "DELETE FROM match_cache WHERE records IS NULL AND pinned_record IS NULL",
        )?
        .execute([])?;
        tx.commit()?;
        if cleared > 0 {
            tracing::debug!(cleared, "expired matches pruned");
        }
        Ok(cleared)
    }
}

/// Whether results fetched at `fetched_at` are still fresh at `now` (strictly younger than the
/// TTL). A fetch time in the future (clock moved back) counts as fresh.
fn is_fresh(fetched_at: DateTime<Utc>, now: DateTime<Utc>, ttl: Duration) -> bool {
    to_ms(now) - to_ms(fetched_at) < ttl_ms(ttl)
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2)
}

fn check_number(number: &str) -> Result<()> {
    if number.is_empty() {
        return Err(Error::InvalidArgument {
            what: "number",
            reason: "the number must not be empty".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    const NUMBER: &str = "+81312345678";

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn results_are_fresh_within_ttl_then_stale() {
        let store = Store::open_in_memory().expect("open");
        let cache = store.match_cache().with_ttl(Duration::from_secs(60));
        assert_eq!(
            cache.lookup(NUMBER, t(0)).expect("lookup"),
            None,
            "empty cache"
        );
        let records = json!([{"Id": "003A"}, {"Id": "00QB"}]);
        cache.put(NUMBER, &records, t(0)).expect("put");
        let hit = cache.lookup(NUMBER, t(59)).expect("lookup").expect("hit");
        assert!(hit.fresh, "59 s old results are within a 60 s TTL");
        assert_eq!(hit.records, Some(records.clone()), "results round-trip");
        assert_eq!(hit.fetched_at, Some(t(0)), "fetch time is kept");
        let stale = cache.lookup(NUMBER, t(60)).expect("lookup").expect("hit");
        assert!(!stale.fresh, "results as old as the TTL are stale");
        assert_eq!(
            stale.records,
            Some(records),
            "stale results are still returned"
        );
    }

    #[test]
    fn put_many_stores_each_number_the_later_entry_winning_and_keeps_pins() {
        let store = Store::open_in_memory().expect("open");
        let cache = store.match_cache().with_ttl(Duration::from_secs(60));
        let pin = json!({"Id": "003PIN"});
        cache
            .pin(NUMBER, &pin, PinSource::Picked, t(0))
            .expect("pin");
        let (a, b, c) = (json!([{"Id": "003A"}]), json!([{"Id": "003B"}]), json!([]));
        cache
            .put_many([
                (NUMBER, &a, t(1)),
                ("+33123456789", &c, t(1)),
                (NUMBER, &b, t(2)),
            ])
            .expect("put_many");
        let hit = cache.lookup(NUMBER, t(3)).expect("lookup").expect("hit");
        assert_eq!(hit.records, Some(b), "the later entry for a number wins");
        assert_eq!(hit.fetched_at, Some(t(2)));
        assert_eq!(hit.pinned.map(|p| p.record), Some(pin), "the pin stays");
        assert_eq!(
            cache
                .lookup("+33123456789", t(3))
                .expect("lookup")
                .and_then(|h| h.records),
            Some(c),
            "every number of the batch is stored"
        );
        let err = cache
            .put_many([("+15551234567", &a, t(4)), ("", &a, t(4))])
            .expect_err("an empty number is refused");
        assert!(matches!(err, Error::InvalidArgument { .. }), "got {err:?}");
        assert_eq!(
            cache.lookup("+15551234567", t(4)).expect("lookup"),
            None,
            "all or nothing: the batch with a bad entry stored none"
        );
    }

    #[test]
    fn pin_outlives_ttl_and_invalidate() {
        let store = Store::open_in_memory().expect("open");
        let cache = store.match_cache().with_ttl(Duration::from_secs(60));
        cache.put(NUMBER, &json!([]), t(0)).expect("put");
        let created = json!({"Id": "003NEW", "Name": "New Contact"});
        cache
            .pin(NUMBER, &created, PinSource::Created, t(10))
            .expect("pin");
        cache.invalidate(NUMBER).expect("invalidate");
        let hit = cache
            .lookup(NUMBER, t(100_000))
            .expect("lookup")
            .expect("the pin keeps the row");
        assert_eq!(hit.records, None, "invalidate drops the search results");
        assert!(!hit.fresh, "no results means nothing fresh");
        assert_eq!(
            hit.pinned,
            Some(PinnedRecord {
                record: created,
                source: PinSource::Created,
                pinned_at: t(10),
            }),
            "the created record stays pinned long after the TTL"
        );
        let picked = json!({"Id": "003OTHER"});
        cache
            .pin(NUMBER, &picked, PinSource::Picked, t(20))
            .expect("repin");
        let hit = cache.lookup(NUMBER, t(21)).expect("lookup").expect("hit");
        assert_eq!(
            hit.pinned.map(|p| (p.record, p.source)),
            Some((picked, PinSource::Picked)),
            "a later pin replaces the earlier one"
        );
        assert!(
            cache.forget(NUMBER).expect("forget"),
            "forget reports a row"
        );
        assert_eq!(
            cache.lookup(NUMBER, t(22)).expect("lookup"),
            None,
            "forgotten"
        );
    }

    #[test]
    fn invalidate_without_pin_removes_the_row() {
        let store = Store::open_in_memory().expect("open");
        let cache = store.match_cache();
        cache
            .put(NUMBER, &json!([{"Id": "003A"}]), t(0))
            .expect("put");
        cache.invalidate(NUMBER).expect("invalidate");
        assert_eq!(
            cache.lookup(NUMBER, t(1)).expect("lookup"),
            None,
            "with no pin, invalidating leaves nothing to return"
        );
    }

    #[test]
    fn prune_drops_expired_results_but_keeps_pins() {
        let store = Store::open_in_memory().expect("open");
        let cache = store.match_cache().with_ttl(Duration::from_secs(60));
        cache.put("+1", &json!([1]), t(0)).expect("old");
        cache.put("+2", &json!([2]), t(50)).expect("young");
        cache.put("+3", &json!([3]), t(0)).expect("old pinned");
        cache
            .pin("+3", &json!({"Id": "x"}), PinSource::Picked, t(0))
            .expect("pin");
        let pruned = cache.prune_expired(t(70)).expect("prune");
        assert_eq!(pruned, 2, "the two results older than the TTL are cleared");
        assert_eq!(cache.lookup("+1", t(70)).expect("lookup"), None, "+1 gone");
        assert!(
            cache
                .lookup("+2", t(70))
                .expect("lookup")
                .expect("+2")
                .fresh,
            "young results survive pruning"
        );
        let three = cache.lookup("+3", t(70)).expect("lookup").expect("+3");
        assert!(
            three.records.is_none() && three.pinned.is_some(),
            "a pinned number loses its results but keeps its pin"
        );
    }

    #[test]
    fn empty_number_is_rejected() {
        let store = Store::open_in_memory().expect("open");
        let err = store
            .match_cache()
            .put("", &json!([]), t(0))
            .expect_err("empty number");
        assert!(
            matches!(err, Error::InvalidArgument { what: "number", .. }),
            "an empty number is an InvalidArgument, got {err:?}"
        );
    }
}
