//! The SMS day map: (E.164 number, the agent's local date) → the Task that logs that day's
//! messages, the message log itself (JSON) and whether a write is pending.
//!
//! One Task per number per local day: the first message of the day creates it, later ones update
//! it. The local date is computed by the caller (in the agent's time zone) and stored as
//! `YYYY-MM-DD`.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::outbox::{enqueue_on, NewOutboxItem, OutboxId};
use crate::{decode, encode, from_ms, to_ms, Error, Result, Store};

/// Migration 4: the SMS day map.
pub(crate) const MIGRATION: &str = "
CREATE TABLE sms_days (
    number     TEXT NOT NULL,              -- E.164
    day        TEXT NOT NULL,              -- YYYY-MM-DD, the agent's local date
    task_id    TEXT,                       -- once Salesforce created the Task
    messages   TEXT NOT NULL,              -- JSON message log
    pending    INTEGER NOT NULL,           -- 1 while a write is waiting
    updated_at INTEGER NOT NULL,           -- unix ms
    PRIMARY KEY (number, day)
) STRICT;
CREATE INDEX sms_days_pending ON sms_days (pending) WHERE pending = 1;
";

const TABLE: &str = "sms_days";
const DAY_FORMAT: &str = "%Y-%m-%d";

/// One number's SMS on one local day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmsDay {
    /// The remote number, E.164.
    pub number: String,
    /// The agent's local date.
    pub day: NaiveDate,
    /// The Task logging this day, once known.
    pub task_id: Option<String>,
    /// The day's messages (JSON, as the engine shaped them).
    pub messages: serde_json::Value,
    /// Whether a write to Salesforce is waiting.
    pub pending: bool,
    /// When the row was last written (set by the store).
    pub updated_at: DateTime<Utc>,
}

/// The SMS day map (from [`Store::sms_days`]).
#[derive(Debug, Clone, Copy)]
pub struct SmsDays<'a> {
    store: &'a Store,
}

impl<'a> SmsDays<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        SmsDays { store }
    }

    /// The row for `number` on `day`, if any.
    pub fn get(&self, number: &str, day: NaiveDate) -> Result<Option<SmsDay>> {
        get_on(&self.store.read_conn(), number, day)
    }

    /// Logs one message of `number` on `day` in one transaction (one disk sync): reads the
    /// day's row, lets `compose` turn it into the new row and the Task write for the outbox,
    /// stores both. All or nothing: when the Task write is refused, or the disk cannot take it
    /// ([`Error::is_transient`]), the day's row is left as it was, so the same message may be
    /// given again. The row's `updated_at` is set to `now`, and the write is due at `now`.
    pub fn log_message(
        &self,
        number: &str,
        day: NaiveDate,
        now: DateTime<Utc>,
        compose: impl FnOnce(Option<SmsDay>) -> (SmsDay, NewOutboxItem),
    ) -> Result<OutboxId> {
        let mut conn = self.store.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing = get_on(&tx, number, day)?;
        let (row, item) = compose(existing);
        if row.number != number || row.day != day {
            return Err(Error::InvalidArgument {
                what: "day",
                reason: format!(
                    "composed the row of {} for {}",
                    key(&row.number, row.day),
                    key(number, day)
                ),
            });
        }
        let messages = encode(&row.messages, &key(number, day))?;
        tx.prepare_cached(
            "INSERT INTO sms_days (number, day, task_id, messages, pending, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (number, day) DO UPDATE SET task_id = excluded.task_id,
                 messages = excluded.messages, pending = excluded.pending,
                 updated_at = excluded.updated_at",
        )?
        .execute(params![
            number,
            day_text(day),
            row.task_id,
            messages,
            row.pending,
            to_ms(now)
        ])?;
        let id = enqueue_on(&tx, &item, now)?;
        tx.commit()?;
        Ok(id)
    }

    /// Inserts a new day; [`Error::AlreadyExists`] when that (number, day) is already there.
    /// `updated_at` is set to `now`.
    pub fn insert(&self, day: &SmsDay, now: DateTime<Utc>) -> Result<()> {
        if day.number.is_empty() {
            return Err(Error::InvalidArgument {
                what: "number",
                reason: "the number must not be empty".into(),
            });
        }
        let messages = encode(&day.messages, &key(&day.number, day.day))?;
        let n = self
            .store
            .conn()
            .prepare_cached(
                "INSERT INTO sms_days (number, day, task_id, messages, pending, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                day.number,
                day_text(day.day),
                day.task_id,
                messages,
                day.pending,
                to_ms(now)
            ])?;
        if n == 0 {
            return Err(Error::AlreadyExists {
                table: TABLE,
                key: key(&day.number, day.day),
            });
        }
        Ok(())
    }

    /// Replaces the task id, messages and pending flag of an existing day; [`Error::NotFound`]
    /// when it is not there. `updated_at` is set to `now`.
    pub fn update(&self, day: &SmsDay, now: DateTime<Utc>) -> Result<()> {
        let messages = encode(&day.messages, &key(&day.number, day.day))?;
        let n = self
            .store
            .conn()
            .prepare_cached(
                "UPDATE sms_days SET task_id = ?3, messages = ?4, pending = ?5, updated_at = ?6
                 WHERE number = ?1 AND day = ?2",
            )?
            .execute(params![
                day.number,
                day_text(day.day),
                day.task_id,
                messages,
                day.pending,
                to_ms(now)
            ])?;
        if n == 0 {
            return Err(Error::NotFound {
                table: TABLE,
                key: key(&day.number, day.day),
            });
        }
        Ok(())
    }

    /// Days with a pending write, oldest update first, at most `limit`.
    pub fn pending(&self, limit: usize) -> Result<Vec<SmsDay>> {
        self.select(
            "WHERE d.pending = 1 ORDER BY d.updated_at, d.number, d.day LIMIT ?1",
            params![i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    /// Each number's latest day, the most recently written first, at most `limit` (the SMS
    /// threads).
    pub fn latest_per_number(&self, limit: usize) -> Result<Vec<SmsDay>> {
        self.select(
            "WHERE d.day = (SELECT max(day) FROM sms_days l WHERE l.number = d.number)
             ORDER BY d.updated_at DESC, d.number LIMIT ?1",
            params![i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    /// The last `limit` days of `number`, oldest first (one thread's messages).
    pub fn of_number(&self, number: &str, limit: usize) -> Result<Vec<SmsDay>> {
        let mut days = self.select(
            "WHERE d.number = ?1 ORDER BY d.day DESC LIMIT ?2",
            params![number, i64::try_from(limit).unwrap_or(i64::MAX)],
        )?;
        days.reverse();
        Ok(days)
    }

    fn select(&self, tail: &str, params: impl rusqlite::Params) -> Result<Vec<SmsDay>> {
        let conn = self.store.read_conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT number, day, task_id, messages, pending, updated_at FROM sms_days d {tail}"
        ))?;
        let raws = stmt
            .query_map(params, RawDay::read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(RawDay::into_day).collect()
    }
}

/// The row for `number` on `day` through `conn` (a connection or a transaction).
fn get_on(conn: &Connection, number: &str, day: NaiveDate) -> Result<Option<SmsDay>> {
    let mut stmt = conn.prepare_cached(
        "SELECT number, day, task_id, messages, pending, updated_at FROM sms_days
         WHERE number = ?1 AND day = ?2",
    )?;
    let raw = stmt
        .query_row(params![number, day_text(day)], RawDay::read)
        .optional()?;
    raw.map(RawDay::into_day).transpose()
}

fn day_text(day: NaiveDate) -> String {
    day.format(DAY_FORMAT).to_string()
}

fn key(number: &str, day: NaiveDate) -> String {
    format!("{number} {}", day_text(day))
}

struct RawDay {
    number: String,
    day: String,
    task_id: Option<String>,
    messages: String,
    pending: bool,
    updated_at: i64,
}

impl RawDay {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawDay {
            number: r.get(0)?,
            day: r.get(1)?,
            task_id: r.get(2)?,
            messages: r.get(3)?,
            pending: r.get(4)?,
            updated_at: r.get(5)?,
        })
    }

    fn into_day(self) -> Result<SmsDay> {
        let key = format!("{} {}", self.number, self.day);
        let day = NaiveDate::parse_from_str(&self.day, DAY_FORMAT).map_err(|e| Error::Corrupt {
            table: TABLE,
            key: key.clone(),
            reason: format!("day is not YYYY-MM-DD: {e}"),
        })?;
        Ok(SmsDay {
            day,
            task_id: self.task_id,
            messages: decode(&self.messages, TABLE, &key)?,
            pending: self.pending,
            updated_at: from_ms(self.updated_at, TABLE, &key)?,
            number: self.number,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn threads_are_each_numbers_latest_day_and_a_thread_is_its_days_in_order() {
        let store = Store::open_in_memory().unwrap();
        let at = |h: u32| Utc.with_ymd_and_hms(2027, 1, 31, h, 0, 0).unwrap();
        let d = |day: u32| NaiveDate::from_ymd_opt(2027, 1, day).unwrap();
        let row = |number: &str, day: NaiveDate, text: &str| SmsDay {
            number: number.into(),
            day,
            task_id: None,
            messages: json!([{ "text": text }]),
            pending: true,
            updated_at: at(0),
        };
        let days = store.sms_days();
        days.insert(&row("+81312345678", d(29), "old"), at(1))
            .unwrap();
        days.insert(&row("+33123456789", d(30), "bonjour"), at(2))
            .unwrap();
        days.insert(&row("+81312345678", d(31), "new"), at(3))
            .unwrap();
        let threads = days.latest_per_number(10).unwrap();
        let heads: Vec<_> = threads.iter().map(|t| (t.number.as_str(), t.day)).collect();
        assert_eq!(
            heads,
            [("+81312345678", d(31)), ("+33123456789", d(30))],
            "one row per number, its latest day, the most recent first"
        );
        assert_eq!(
            days.latest_per_number(1).unwrap().len(),
            1,
            "the limit holds"
        );
        let thread: Vec<_> = days
            .of_number("+81312345678", 10)
            .unwrap()
            .iter()
            .map(|t| t.day)
            .collect();
        assert_eq!(thread, [d(29), d(31)], "oldest first");
        assert_eq!(
            days.of_number("+81312345678", 1).unwrap()[0].day,
            d(31),
            "the limit keeps the latest days"
        );
        assert!(days.of_number("+10000000000", 10).unwrap().is_empty());
    }

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn day(number: &str, d: NaiveDate) -> SmsDay {
        SmsDay {
            number: number.into(),
            day: d,
            task_id: None,
            messages: json!([{"dir": "in", "text": "hello"}]),
            pending: true,
            updated_at: t(0),
        }
    }

    /// The composer the engine plays: append `text` to the day's messages; the first message
    /// of the day creates the Task, later ones update it.
    fn append(
        number: &'static str,
        d: NaiveDate,
        text: &'static str,
    ) -> impl FnOnce(Option<SmsDay>) -> (SmsDay, NewOutboxItem) {
        move |existing| {
            let mut messages = existing
                .as_ref()
                .and_then(|e| e.messages.as_array().cloned())
                .unwrap_or_default();
            messages.push(json!({ "text": text }));
            let kind = match existing {
                Some(_) => crate::WriteKind::Update,
                None => crate::WriteKind::Create,
            };
            let item = NewOutboxItem {
                kind,
                sobject: "Task".into(),
                call_object: format!("sms-{number}-{d}"),
                target_id: None,
                payload: json!({ "Description": messages.len().to_string() }),
            };
            let row = SmsDay {
                number: number.into(),
                day: d,
                task_id: None,
                messages: serde_json::Value::Array(messages),
                pending: true,
                updated_at: t(0),
            };
            (row, item)
        }
    }

    #[test]
    fn log_message_writes_the_day_and_its_task_write_together() {
        let store = Store::open_in_memory().expect("open");
        let d = date(2027, 4, 1);
        store
            .sms_days()
            .log_message(
                "+821012345678",
                d,
                t(1),
                append("+821012345678", d, "안녕하세요"),
            )
            .expect("first message");
        store
            .sms_days()
            .log_message(
                "+821012345678",
                d,
                t(2),
                append("+821012345678", d, "또 봐요"),
            )
            .expect("second message");
        let row = store
            .sms_days()
            .get("+821012345678", d)
            .expect("get")
            .expect("the day is there");
        assert_eq!(
            row.messages,
            json!([{ "text": "안녕하세요" }, { "text": "또 봐요" }]),
            "the second message was appended to the first, text intact"
        );
        assert_eq!(
            row.updated_at,
            t(2),
            "updated_at is the last message's time"
        );
        let writes = store
            .outbox()
            .by_call_object(&format!("sms-+821012345678-{d}"))
            .expect("outbox");
        let kinds: Vec<_> = writes.iter().map(|w| w.kind).collect();
        assert_eq!(
            kinds,
            [crate::WriteKind::Create, crate::WriteKind::Update],
            "one create, then one update, queued with the day"
        );
    }

    #[test]
    fn a_refused_task_write_leaves_the_day_as_it_was() {
        let store = Store::open_in_memory().expect("open");
        let d = date(2027, 4, 2);
        let before = day("+33612345678", d);
        store.sms_days().insert(&before, t(0)).expect("insert");
        // The day exists but its create was never queued: the update has no target and is
        // refused, and the appended message must not be in the row either.
        let err = store
            .sms_days()
            .log_message("+33612345678", d, t(5), append("+33612345678", d, "lost?"))
            .expect_err("an update with no create is refused");
        assert!(
            matches!(err, Error::UpdateWithoutTarget { .. }),
            "refused as UpdateWithoutTarget, got {err:?}"
        );
        assert_eq!(
            store.sms_days().get("+33612345678", d).expect("get"),
            Some(before),
            "the day's row is unchanged"
        );
    }

    #[test]
    fn log_message_refuses_a_row_for_another_day() {
        let store = Store::open_in_memory().expect("open");
        let (d, other) = (date(2027, 4, 3), date(2027, 4, 4));
        let err = store
            .sms_days()
            .log_message("+15551234567", d, t(0), append("+15551234567", other, "hi"))
            .expect_err("the composer answered for another day");
        assert!(
            matches!(err, Error::InvalidArgument { what: "day", .. }),
            "got {err:?}"
        );
        assert_eq!(
            store.sms_days().get("+15551234567", other).expect("get"),
            None
        );
        assert!(store
            .outbox()
            .by_call_object(&format!("sms-+15551234567-{other}"))
            .expect("outbox")
            .is_empty());
    }

    #[test]
    fn insert_get_update_round_trip() {
        let store = Store::open_in_memory().expect("open");
        let days = store.sms_days();
        let d = date(2027, 1, 31);
        let mut row = day("+33612345678", d);
        days.insert(&row, t(0)).expect("insert");
        assert_eq!(
            days.get("+33612345678", d).expect("get"),
            Some(row.clone()),
            "an inserted day reads back unchanged"
        );
        row.task_id = Some("00T1".into());
        row.messages = json!([{"dir": "in", "text": "hello"}, {"dir": "out", "text": "hi"}]);
        row.pending = false;
        days.update(&row, t(30)).expect("update");
        let read = days.get("+33612345678", d).expect("get").expect("present");
        row.updated_at = t(30);
        assert_eq!(read, row, "an update replaces task id, messages and flag");
        assert_eq!(
            days.get("+33612345678", date(2027, 2, 1)).expect("get"),
            None,
            "the next local day is a different row"
        );
    }

    #[test]
    fn insert_twice_and_update_missing_are_typed_errors() {
        let store = Store::open_in_memory().expect("open");
        let days = store.sms_days();
        let row = day("+1", date(2027, 3, 1));
        days.insert(&row, t(0)).expect("insert");
        let err = days.insert(&row, t(1)).expect_err("duplicate");
        assert!(
            matches!(
                err,
                Error::AlreadyExists {
                    table: "sms_days",
                    ..
                }
            ),
            "a second insert for the same day is AlreadyExists, got {err:?}"
        );
        let err = days
            .update(&day("+2", date(2027, 3, 1)), t(1))
            .expect_err("missing");
        assert!(
            matches!(
                err,
                Error::NotFound {
                    table: "sms_days",
                    ..
                }
            ),
            "updating an absent day is NotFound, got {err:?}"
        );
    }

    #[test]
    fn pending_lists_only_pending_days_oldest_first() {
        let store = Store::open_in_memory().expect("open");
        let days = store.sms_days();
        days.insert(&day("+1", date(2027, 3, 1)), t(20)).expect("a");
        days.insert(&day("+2", date(2027, 3, 1)), t(10)).expect("b");
        let mut done = day("+3", date(2027, 3, 1));
        done.pending = false;
        days.insert(&done, t(0)).expect("c");
        let numbers: Vec<_> = days
            .pending(10)
            .expect("pending")
            .into_iter()
            .map(|d| d.number)
            .collect();
        assert_eq!(
            numbers,
            ["+2", "+1"],
            "pending days only, oldest update first"
        );
    }
}
