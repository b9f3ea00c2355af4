//! Call history: every call with its match, the agent's choices, notes and disposition, and the
//! state of its call log in Salesforce.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};

use crate::{decode, encode, from_ms, to_ms, Error, Result, Store};

/// Migration 2: the calls table.
pub(crate) const MIGRATION: &str = "
CREATE TABLE calls (
    call_id      TEXT PRIMARY KEY NOT NULL,
    direction    TEXT NOT NULL,              -- inbound | outbound | internal
    remote_raw   TEXT NOT NULL,              -- the number as the telephony source gave it
    remote_e164  TEXT,                       -- normalized, when it could be
    display_name TEXT,
    started_at   INTEGER NOT NULL,           -- unix ms
    answered_at  INTEGER,
    ended_at     INTEGER,
    matches      TEXT NOT NULL,              -- JSON: the matched records
    who_id       TEXT,
    what_id      TEXT,
    notes        TEXT NOT NULL DEFAULT '',
    disposition  TEXT,
    log_state    TEXT NOT NULL,              -- pending | queued | saved | failed | discarded | not_logged
    log_task_id  TEXT,                       -- with saved
    log_reason   TEXT,                       -- with failed
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX calls_started ON calls (started_at DESC);
CREATE INDEX calls_e164 ON calls (remote_e164, started_at DESC);
";

const TABLE: &str = "calls";
const COLUMNS: &str = "call_id, direction, remote_raw, remote_e164, display_name, started_at,
    answered_at, ended_at, matches, who_id, what_id, notes, disposition, log_state, log_task_id,
    log_reason";

/// Which way the call went (the Task's CallType, plus internal calls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    /// A call the agent received.
    Inbound,
    /// A call the agent placed.
    Outbound,
    /// A call between extensions.
    Internal,
}

impl CallDirection {
    fn as_str(self) -> &'static str {
        match self {
            CallDirection::Inbound => "inbound",
            CallDirection::Outbound => "outbound",
            CallDirection::Internal => "internal",
        }
    }

    fn parse(s: &str, key: &str) -> Result<Self> {
        match s {
            "inbound" => Ok(CallDirection::Inbound),
            "outbound" => Ok(CallDirection::Outbound),
            "internal" => Ok(CallDirection::Internal),
            other => Err(corrupt(key, format!("unknown direction {other:?}"))),
        }
    }
}

/// Where the call's log stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LogState {
    /// Waiting for the agent (wrap-up) or the auto-save timer.
    Pending,
    /// In the outbox, not yet confirmed by Salesforce.
    Queued,
    /// Written to Salesforce as this Task.
    Saved {
        /// The Task's id.
        task_id: String,
    },
    /// Salesforce refused it for good.
    Failed {
        /// Why, for the agent.
        reason: String,
    },
    /// The agent discarded the log.
    Discarded,
    /// Not to be logged (e.g. an ignored internal call).
    NotLogged,
}

impl LogState {
    fn columns(&self) -> (&'static str, Option<&str>, Option<&str>) {
        match self {
            LogState::Pending => ("pending", None, None),
            LogState::Queued => ("queued", None, None),
            LogState::Saved { task_id } => ("saved", Some(task_id), None),
            LogState::Failed { reason } => ("failed", None, Some(reason)),
            LogState::Discarded => ("discarded", None, None),
            LogState::NotLogged => ("not_logged", None, None),
        }
    }

    fn from_columns(
        state: &str,
        task_id: Option<String>,
        reason: Option<String>,
        key: &str,
    ) -> Result<Self> {
        Ok(match state {
            "pending" => LogState::Pending,
            "queued" => LogState::Queued,
            "saved" => LogState::Saved {
                task_id: task_id.ok_or_else(|| corrupt(key, "saved without a task id".into()))?,
            },
            "failed" => LogState::Failed {
                reason: reason.unwrap_or_default(),
            },
            "discarded" => LogState::Discarded,
            "not_logged" => LogState::NotLogged,
            other => return Err(corrupt(key, format!("unknown log state {other:?}"))),
        })
    }
}

/// One call in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// The call's unique id (also the Task's CallObject).
    pub call_id: String,
    /// Inbound, outbound or internal.
    pub direction: CallDirection,
    /// The remote number as received or dialed.
    pub remote_raw: String,
    /// The remote number in E.164, when it could be normalized.
    pub remote_e164: Option<String>,
    /// The caller's display name from the telephony source.
    pub display_name: Option<String>,
    /// When the call started ringing or was dialed.
    pub started_at: DateTime<Utc>,
    /// When it was answered.
    pub answered_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// The records matched for the number (JSON, as the engine shaped them).
    pub matches: serde_json::Value,
    /// The chosen person (Contact or Lead id): the Task's WhoId.
    pub who_id: Option<String>,
    /// The chosen related record: the Task's WhatId.
    pub what_id: Option<String>,
    /// The agent's notes.
    pub notes: String,
    /// The call disposition.
    pub disposition: Option<String>,
    /// Where the call log stands.
    pub log_state: LogState,
}

/// One change to the history, for [`Calls::apply`].
#[derive(Debug, Clone, PartialEq)]
pub enum CallWrite {
    /// Insert or replace the whole call ([`Calls::upsert`]).
    Upsert(Box<CallRecord>),
    /// Set the log state of a call ([`Calls::set_log_state`]).
    LogState {
        /// The call.
        call_id: String,
        /// Its log state.
        state: LogState,
    },
}

/// The calls table (from [`Store::calls`]).
#[derive(Debug, Clone, Copy)]
pub struct Calls<'a> {
    store: &'a Store,
}

impl<'a> Calls<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Calls { store }
    }

    /// Inserts the call, or replaces every field of the call with the same `call_id`.
    pub fn upsert(&self, call: &CallRecord, now: DateTime<Utc>) -> Result<()> {
        upsert_on(&self.store.conn(), call, now)
    }

    /// Applies `writes` in order in one transaction (one disk sync for all of them, so a busy
    /// writer catches up instead of falling behind). A write that fails on its own (an unknown
    /// call for [`CallWrite::LogState`], an empty id) does not stop the others: it comes back
    /// with its error. `Err` only when the transaction itself fails (a full disk): then none
    /// was applied.
    pub fn apply(
        &self,
        writes: impl IntoIterator<Item = CallWrite>,
        now: DateTime<Utc>,
    ) -> Result<Vec<(CallWrite, Error)>> {
        let mut conn = self.store.conn();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut refused = Vec::new();
        for write in writes {
            let done = match &write {
                CallWrite::Upsert(call) => upsert_on(&tx, call, now),
                CallWrite::LogState { call_id, state } => {
                    set_log_state_on(&tx, call_id, state, now)
                }
            };
            if let Err(e) = done {
                refused.push((write, e));
            }
        }
        tx.commit()?;
        Ok(refused)
    }

    /// The call with this id, if any.
    pub fn by_id(&self, call_id: &str) -> Result<Option<CallRecord>> {
        let conn = self.store.read_conn();
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {COLUMNS} FROM calls WHERE call_id = ?1"))?;
        let raw = stmt.query_row([call_id], RawCall::read).optional()?;
        raw.map(RawCall::into_record).transpose()
    }

    /// The `limit` most recent calls, newest first (by start time).
    pub fn recent(&self, limit: usize) -> Result<Vec<CallRecord>> {
        let conn = self.store.read_conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM calls ORDER BY started_at DESC, call_id DESC LIMIT ?1"
        ))?;
        let raws = stmt
            .query_map([sql_limit(limit)], RawCall::read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(RawCall::into_record).collect()
    }

    /// Sets the call's log state; [`Error::NotFound`] when no such call.
    pub fn set_log_state(&self, call_id: &str, state: &LogState, now: DateTime<Utc>) -> Result<()> {
        set_log_state_on(&self.store.conn(), call_id, state, now)
    }

    /// Deletes calls that started before `started_before` (history retention); returns how
    /// many. Calls whose log is still Pending or Queued are kept, whatever their age.
    pub fn prune_before(&self, started_before: DateTime<Utc>) -> Result<usize> {
        let n = self
            .store
            .conn()
            .prepare_cached(
                "DELETE FROM calls WHERE started_at < ?1 AND log_state NOT IN ('pending', 'queued')",
            )?
            .execute([to_ms(started_before)])?;
        if n > 0 {
            tracing::debug!(pruned = n, "old calls pruned");
        }
        Ok(n)
    }

    /// Calls whose remote number (raw or E.164) contains `fragment`, newest first, at most
    /// `limit`. An empty fragment is an [`Error::InvalidArgument`].
    pub fn search_number(&self, fragment: &str, limit: usize) -> Result<Vec<CallRecord>> {
        let fragment = fragment.trim();
        if fragment.is_empty() {
            return Err(Error::InvalidArgument {
                what: "fragment",
                reason: "a number search needs at least one character".into(),
            });
        }
        let conn = self.store.read_conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM calls
             WHERE instr(remote_raw, ?1) > 0 OR instr(coalesce(remote_e164, ''), ?1) > 0
             ORDER BY started_at DESC, call_id DESC LIMIT ?2"
        ))?;
        let raws = stmt
            .query_map(params![fragment, sql_limit(limit)], RawCall::read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(RawCall::into_record).collect()
    }
}

/// A limit SQLite accepts (it takes i64; `usize::MAX` means no limit).
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn corrupt(key: &str, reason: String) -> Error {
    Error::Corrupt {
        table: TABLE,
        key: key.to_owned(),
        reason,
    }
}

/// A row as SQLite gives it, before decoding (decoding errors are ours, not rusqlite's).
struct RawCall {
    call_id: String,
    direction: String,
    remote_raw: String,
    remote_e164: Option<String>,
    display_name: Option<String>,
    started_at: i64,
    answered_at: Option<i64>,
    ended_at: Option<i64>,
    matches: String,
    who_id: Option<String>,
    what_id: Option<String>,
    notes: String,
    disposition: Option<String>,
    log_state: String,
    log_task_id: Option<String>,
    log_reason: Option<String>,
}

impl RawCall {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawCall {
            call_id: r.get(0)?,
            direction: r.get(1)?,
            remote_raw: r.get(2)?,
            remote_e164: r.get(3)?,
            display_name: r.get(4)?,
            started_at: r.get(5)?,
            answered_at: r.get(6)?,
            ended_at: r.get(7)?,
            matches: r.get(8)?,
            who_id: r.get(9)?,
            what_id: r.get(10)?,
            notes: r.get(11)?,
            disposition: r.get(12)?,
            log_state: r.get(13)?,
            log_task_id: r.get(14)?,
            log_reason: r.get(15)?,
        })
    }

    fn into_record(self) -> Result<CallRecord> {
        let key = self.call_id.as_str();
        Ok(CallRecord {
            direction: CallDirection::parse(&self.direction, key)?,
            remote_raw: self.remote_raw,
            remote_e164: self.remote_e164,
            display_name: self.display_name,
            started_at: from_ms(self.started_at, TABLE, key)?,
            answered_at: self
                .answered_at
                .map(|ms| from_ms(ms, TABLE, key))
                .transpose()?,
            ended_at: self
                .ended_at
                .map(|ms| from_ms(ms, TABLE, key))
                .transpose()?,
            matches: decode(&self.matches, TABLE, key)?,
            who_id: self.who_id,
            what_id: self.what_id,
            notes: self.notes,
            disposition: self.disposition,
            log_state: LogState::from_columns(
                &self.log_state,
                self.log_task_id,
                self.log_reason,
                key,
            )?,
            call_id: self.call_id,
        })
    }
}

/// [`Calls::upsert`] on `conn` (the store's connection or a transaction on it).
fn upsert_on(conn: &Connection, call: &CallRecord, now: DateTime<Utc>) -> Result<()> {
    if call.call_id.is_empty() {
        return Err(Error::InvalidArgument {
            what: "call_id",
            reason: "a call id must not be empty".into(),
        });
    }
    let matches = encode(&call.matches, &call.call_id)?;
    let (state, task_id, reason) = call.log_state.columns();
    conn.prepare_cached(
        "INSERT INTO calls (call_id, direction, remote_raw, remote_e164, display_name,
                started_at, answered_at, ended_at, matches, who_id, what_id, notes, disposition,
                log_state, log_task_id, log_reason, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
             ON CONFLICT (call_id) DO UPDATE SET
                direction = excluded.direction, remote_raw = excluded.remote_raw,
                remote_e164 = excluded.remote_e164, display_name = excluded.display_name,
                started_at = excluded.started_at, answered_at = excluded.answered_at,
                ended_at = excluded.ended_at, matches = excluded.matches,
                who_id = excluded.who_id, what_id = excluded.what_id, notes = excluded.notes,
                disposition = excluded.disposition, log_state = excluded.log_state,
                log_task_id = excluded.log_task_id, log_reason = excluded.log_reason,
                updated_at = excluded.updated_at",
    )?
    .execute(params![
        call.call_id,
        call.direction.as_str(),
        call.remote_raw,
        call.remote_e164,
        call.display_name,
        to_ms(call.started_at),
        call.answered_at.map(to_ms),
        call.ended_at.map(to_ms),
        matches,
        call.who_id,
        call.what_id,
        call.notes,
        call.disposition,
        state,
        task_id,
        reason,
        to_ms(now),
    ])?;
    tracing::debug!(call_id = %call.call_id, log_state = state, "call stored");
    Ok(())
}

/// [`Calls::set_log_state`] on `conn`.
fn set_log_state_on(
    conn: &Connection,
    call_id: &str,
    state: &LogState,
    now: DateTime<Utc>,
) -> Result<()> {
    let (name, task_id, reason) = state.columns();
    let n = conn
        .prepare_cached(
            "UPDATE calls SET log_state = ?2, log_task_id = ?3, log_reason = ?4, updated_at = ?5
             WHERE call_id = ?1",
        )?
        .execute(params![call_id, name, task_id, reason, to_ms(now)])?;
    if n == 0 {
        return Err(Error::NotFound {
            table: TABLE,
            key: call_id.to_owned(),
        });
    }
    tracing::debug!(call_id, log_state = name, "call log state set");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    fn call(id: &str, raw: &str, e164: Option<&str>, start: i64) -> CallRecord {
        CallRecord {
            call_id: id.into(),
            direction: CallDirection::Inbound,
            remote_raw: raw.into(),
            remote_e164: e164.map(Into::into),
            display_name: Some("Sato".into()),
            started_at: t(start),
            answered_at: Some(t(start + 3)),
            ended_at: Some(t(start + 60)),
            matches: json!([{"Id": "003A", "Name": "Sato Hanako"}]),
            who_id: Some("003A".into()),
            what_id: None,
            notes: "asked for a callback".into(),
            disposition: Some("Resolved".into()),
            log_state: LogState::Pending,
        }
    }

    #[test]
    fn apply_writes_in_order_and_returns_only_the_refused_ones() {
        let store = Store::open_in_memory().unwrap();
        let mut later = call("c1", "03-1234-5678", Some("+81312345678"), 0);
        later.notes = "second snapshot".into();
        let refused = store
            .calls()
            .apply(
                [
                    CallWrite::Upsert(Box::new(call("c1", "03-1234-5678", None, 0))),
                    CallWrite::Upsert(Box::new(later)),
                    CallWrite::LogState {
                        call_id: "c1".into(),
                        state: LogState::Saved {
                            task_id: "00T000000000001AAA".into(),
                        },
                    },
                    CallWrite::LogState {
                        call_id: "sms|+81312345678|2027-01-31".into(),
                        state: LogState::Queued,
                    },
                ],
                t(90),
            )
            .unwrap();
        assert_eq!(refused.len(), 1, "only the unknown call: {refused:?}");
        assert!(matches!(
            &refused[0],
            (CallWrite::LogState { call_id, .. }, Error::NotFound { .. }) if call_id.starts_with("sms|")
        ));
        let stored = store.calls().by_id("c1").unwrap().unwrap();
        assert_eq!(stored.notes, "second snapshot", "the later snapshot wins");
        assert_eq!(
            stored.log_state,
            LogState::Saved {
                task_id: "00T000000000001AAA".into()
            },
            "the state set after it applies on top"
        );
    }

    #[test]
    fn upsert_round_trips_and_replaces() {
        let store = Store::open_in_memory().expect("open");
        let calls = store.calls();
        let mut c = call("c1", "03-1234-5678", Some("+81312345678"), 0);
        calls.upsert(&c, t(100)).expect("insert");
        assert_eq!(
            calls.by_id("c1").expect("read"),
            Some(c.clone()),
            "every field must round-trip"
        );
        c.notes = "called back".into();
        c.log_state = LogState::Saved {
            task_id: "00T1".into(),
        };
        calls.upsert(&c, t(200)).expect("update");
        assert_eq!(
            calls.by_id("c1").expect("read"),
            Some(c),
            "a second upsert must replace the fields, not add a row"
        );
        assert_eq!(calls.recent(10).expect("recent").len(), 1, "still one call");
        assert_eq!(
            calls.by_id("nope").expect("read"),
            None,
            "unknown id is None"
        );
    }

    #[test]
    fn recent_is_newest_first_and_limited() {
        let store = Store::open_in_memory().expect("open");
        for (i, start) in [30, 10, 20].into_iter().enumerate() {
            store
                .calls()
                .upsert(&call(&format!("c{i}"), "100", None, start), t(0))
                .expect("insert");
        }
        let ids: Vec<_> = store
            .calls()
            .recent(2)
            .expect("recent")
            .into_iter()
            .map(|c| c.call_id)
            .collect();
        assert_eq!(ids, ["c0", "c2"], "the two latest starts, newest first");
    }

    #[test]
    fn set_log_state_updates_or_reports_missing() {
        let store = Store::open_in_memory().expect("open");
        store
            .calls()
            .upsert(&call("c1", "100", None, 0), t(0))
            .expect("insert");
        for state in [
            LogState::Queued,
            LogState::Failed {
                reason: "FIELD_CUSTOM_VALIDATION_EXCEPTION".into(),
            },
            LogState::Saved {
                task_id: "00T9".into(),
            },
            LogState::Discarded,
            LogState::NotLogged,
        ] {
            store
                .calls()
                .set_log_state("c1", &state, t(1))
                .expect("set");
            let read = store.calls().by_id("c1").expect("read").expect("present");
            assert_eq!(
                read.log_state, state,
                "the state just set must be read back"
            );
        }
        let err = store
            .calls()
            .set_log_state("missing", &LogState::Queued, t(1))
            .expect_err("unknown call");
        assert!(
            matches!(err, Error::NotFound { table: "calls", .. }),
            "setting the state of an unknown call is NotFound, got {err:?}"
        );
    }

    #[test]
    fn search_number_matches_raw_and_e164() {
        let store = Store::open_in_memory().expect("open");
        let calls = store.calls();
        calls
            .upsert(&call("a", "03-1234-5678", Some("+81312345678"), 0), t(0))
            .expect("a");
        calls
            .upsert(&call("b", "0612345678", Some("+33612345678"), 5), t(0))
            .expect("b");
        calls.upsert(&call("c", "201", None, 9), t(0)).expect("c");
        let ids = |frag: &str| -> Vec<String> {
            calls
                .search_number(frag, 10)
                .expect("search")
                .into_iter()
                .map(|c| c.call_id)
                .collect()
        };
        assert_eq!(ids("+81312345678"), ["a"], "an exact E.164 finds its call");
        assert_eq!(
            ids("1234-5678"),
            ["a"],
            "a fragment of the raw form finds the call"
        );
        assert_eq!(
            ids("12345678"),
            ["b", "a"],
            "a digit run in both E.164s finds both, newest first"
        );
        assert_eq!(ids("999"), Vec::<String>::new(), "no call has 999");
        let err = calls.search_number("  ", 10).expect_err("empty fragment");
        assert!(
            matches!(err, Error::InvalidArgument { .. }),
            "an empty search is refused, got {err:?}"
        );
    }

    #[test]
    fn prune_keeps_recent_calls_and_unsent_logs() {
        let store = Store::open_in_memory().expect("open");
        let calls = store.calls();
        let mut old_saved = call("old-saved", "100", None, 0);
        old_saved.log_state = LogState::Saved {
            task_id: "00T1".into(),
        };
        let mut old_queued = call("old-queued", "100", None, 0);
        old_queued.log_state = LogState::Queued;
        calls.upsert(&old_saved, t(0)).expect("a");
        calls.upsert(&old_queued, t(0)).expect("b");
        calls
            .upsert(&call("recent", "100", None, 1000), t(0))
            .expect("c");
        assert_eq!(
            calls.prune_before(t(500)).expect("prune"),
            1,
            "one old, logged call"
        );
        assert_eq!(
            calls.by_id("old-saved").expect("read"),
            None,
            "the saved old call is gone"
        );
        assert!(
            calls.by_id("old-queued").expect("read").is_some(),
            "a call whose log is not yet in Salesforce is never pruned"
        );
        assert!(
            calls.by_id("recent").expect("read").is_some(),
            "recent calls stay"
        );
    }

    #[test]
    fn corrupt_row_is_a_typed_error() {
        let store = Store::open_in_memory().expect("open");
        store
            .calls()
            .upsert(&call("c1", "100", None, 0), t(0))
            .expect("insert");
        store
            .conn()
            .execute("UPDATE calls SET direction = 'sideways'", [])
            .expect("raw update");
        let err = store.calls().by_id("c1").expect_err("bad direction");
        assert!(
            matches!(&err, Error::Corrupt { table: "calls", key, .. } if key == "c1"),
            "an unknown direction is Corrupt naming the call, got {err:?}"
        );
    }
}
