//! Settings, softphone layouts and behaviour: one JSON document per key, with the time it was
//! last written.
//!
//! Secrets never go here: OAuth tokens and SIP passwords live in the OS keychain. A value that
//! no longer decodes into the caller's type is an [`Error::Corrupt`] naming the key, so the
//! caller keeps its defaults and can tell the user which setting was lost.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{decode, encode, from_ms, to_ms, Error, Result, Store};

/// Migration 1: the settings table.
pub(crate) const MIGRATION: &str = "
CREATE TABLE settings (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,            -- JSON document
    updated_at INTEGER NOT NULL          -- unix ms
) STRICT;
";

const TABLE: &str = "settings";

/// The settings table (from [`Store::settings`]).
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    store: &'a Store,
}

impl<'a> Settings<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Settings { store }
    }

    /// The document stored under `key` decoded as `T`; `None` when the key was never written,
    /// [`Error::Corrupt`] (naming the key) when the stored JSON does not decode as `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        Ok(self.get_with_time(key)?.map(|(value, _)| value))
    }

    /// Like [`Settings::get`], with the time the value was last written.
    pub fn get_with_time<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<(T, DateTime<Utc>)>> {
        let row: Option<(String, i64)> = self
            .store
            .read_conn()
            .prepare_cached("SELECT value, updated_at FROM settings WHERE key = ?1")?
            .query_row([key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match row {
            None => Ok(None),
            Some((text, at)) => {
                let value = decode(&text, TABLE, key)?;
                Ok(Some((value, from_ms(at, TABLE, key)?)))
            }
        }
    }

    /// Stores `value` under `key` (replacing any earlier document), committed on return.
    pub fn put<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if key.is_empty() {
            return Err(Error::InvalidArgument {
                what: "key",
                reason: "a settings key must not be empty".into(),
            });
        }
        let text = encode(value, key)?;
        self.store
            .conn()
            .prepare_cached(
                "INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )?
            .execute(params![key, text, to_ms(now)])?;
        tracing::debug!(key, "setting stored");
        Ok(())
    }

    /// Removes `key`; returns whether it existed.
    pub fn remove(&self, key: &str) -> Result<bool> {
        let n = self
            .store
            .conn()
            .prepare_cached("DELETE FROM settings WHERE key = ?1")?
            .execute([key])?;
        Ok(n > 0)
    }

    /// Every stored key, sorted.
    pub fn keys(&self) -> Result<Vec<String>> {
        let conn = self.store.read_conn();
        let mut stmt = conn.prepare_cached("SELECT key FROM settings ORDER BY key")?;
        let keys = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Behaviour {
        auto_save: bool,
        ignore_internal: bool,
    }

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn put_then_get_round_trips_and_replaces() {
        let store = Store::open_in_memory().expect("open");
        let s = store.settings();
        assert_eq!(
            s.get::<Behaviour>("behaviour").expect("get"),
            None,
            "an unwritten key must read as None"
        );
        let first = Behaviour {
            auto_save: true,
            ignore_internal: false,
        };
        s.put("behaviour", &first, t(0)).expect("put");
        let second = Behaviour {
            auto_save: false,
            ignore_internal: true,
        };
        s.put("behaviour", &second, t(5)).expect("put again");
        let (read, at) = s
            .get_with_time::<Behaviour>("behaviour")
            .expect("get")
            .expect("present");
        assert_eq!(read, second, "the last put must win");
        assert_eq!(at, t(5), "updated_at must be the time of the last put");
        assert_eq!(
            s.keys().expect("keys"),
            ["behaviour"],
            "one key stored once"
        );
        assert!(
            s.remove("behaviour").expect("remove"),
            "remove reports the key existed"
        );
        assert_eq!(
            s.get::<Behaviour>("behaviour").expect("get"),
            None,
            "a removed key must read as None"
        );
    }

    #[test]
    fn value_of_another_shape_is_a_corrupt_error_naming_the_key() {
        let store = Store::open_in_memory().expect("open");
        store
            .settings()
            .put(
                "layout.inbound",
                &serde_json::json!({"width": "wide"}),
                t(0),
            )
            .expect("put");
        #[derive(Debug, Deserialize)]
        struct Layout {
            #[allow(dead_code)]
            width: u32,
        }
        let err = store
            .settings()
            .get::<Layout>("layout.inbound")
            .expect_err("a wrong shape must not decode");
        assert!(
            matches!(&err, Error::Corrupt { table: "settings", key, .. } if key == "layout.inbound"),
            "the error must name the table and key, got {err:?}"
        );
    }

    #[test]
    fn invalid_json_text_is_a_corrupt_error() {
        let store = Store::open_in_memory().expect("open");
        store
            .conn()
            .execute(
                "INSERT INTO settings (key, value, updated_at) VALUES ('x', '{not json', 0)",
                [],
            )
            .expect("raw insert");
        let err = store
            .settings()
            .get::<serde_json::Value>("x")
            .expect_err("broken JSON must not decode");
        assert!(
            matches!(&err, Error::Corrupt { key, .. } if key == "x"),
            "broken JSON must be Corrupt naming the key, got {err:?}"
        );
    }

    #[test]
    fn empty_key_is_rejected() {
        let store = Store::open_in_memory().expect("open");
        let err = store
            .settings()
            .put("", &1, t(0))
            .expect_err("an empty key must be refused");
        assert!(
            matches!(err, Error::InvalidArgument { what: "key", .. }),
            "an empty key is an InvalidArgument, got {err:?}"
        );
    }
}
