//! Callpop's local state in SQLite: settings, call history, the match cache, the SMS day map and
//! the durable outbox of Task writes.
//!
//! # Contract
//!
//! - **Durable when acknowledged.** Every write is one SQLite transaction that has committed
//!   before the function returns. The database runs in WAL mode with `synchronous=FULL`, so a
//!   committed transaction survives a process kill (`kill -9`) *and* a power loss: when
//!   [`Outbox::enqueue`] returns, the Task write is on disk. (`synchronous=NORMAL` would survive
//!   a process kill but could lose the last transactions on power loss, which would break the
//!   meaning of "queued".)
//! - **No clock inside.** Every function that needs the time takes it as a value (`now`); none
//!   reads the system clock, so tests drive time by hand.
//! - **No secrets.** OAuth tokens and SIP passwords live in the OS keychain (the `salesforce`
//!   crate's token store), never in this database.
//! - **Typed errors, no panics.** Bad input, a corrupt stored value or a full disk come back as an
//!   [`Error`] variant; the earlier data stays intact.
//! - **Concurrency.** A [`Store`] owns one writing SQLite connection behind a [`Mutex`] (and, for
//!   a file, two read-only ones that WAL lets read beside a commit): it is `Send` and `Sync`,
//!   callers share it through an `Arc`, and writes run one at a time (each is a short
//!   transaction). Another process opening the same file waits up to [`BUSY_TIMEOUT`].
//! - **Migrations only add.** Each table's file holds its migration SQL; [`Store::open`] applies
//!   them in order with `rusqlite_migration` (the schema version is SQLite's `user_version`).
//!
//! One file per table: [`settings`], [`calls`], [`match_cache`], [`sms_days`], [`outbox`].
#![deny(missing_docs)]

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use rusqlite_migration::{Migrations, M};

pub mod calls;
pub mod match_cache;
pub mod outbox;
pub mod settings;
pub mod sms_days;

pub use calls::{CallDirection, CallRecord, CallWrite, Calls, LogState};
pub use match_cache::{CachedMatch, MatchCache, PinSource, PinnedRecord, DEFAULT_MATCH_TTL};
pub use outbox::{
    backoff, NewOutboxItem, Outbox, OutboxId, OutboxItem, OutboxState, OutboxStats, WriteKind,
    WriteOutcome, MAX_BATCH,
};
pub use settings::Settings;
pub use sms_days::{SmsDay, SmsDays};

/// How long a write waits for another connection's lock before giving up with [`Error::Busy`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The migrations, in order. Append only: never edit or reorder an applied migration.
const MIGRATIONS: &[M<'static>] = &[
    M::up(settings::MIGRATION),
    M::up(calls::MIGRATION),
    M::up(match_cache::MIGRATION),
    M::up(sms_days::MIGRATION),
    M::up(outbox::MIGRATION),
];

/// The schema version a freshly opened store is at (the number of migrations).
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The disk (or the database's size limit) is full; the transaction was rolled back and the
    /// earlier data is intact.
    #[error("the database or the disk is full; nothing was written")]
    Full,
    /// Another connection held the database lock for longer than the busy timeout.
    #[error("the database stayed locked by another connection")]
    Busy,
    /// Any other SQLite error.
    #[error("sqlite: {source}")]
    Sqlite {
        /// The error reported by SQLite.
        #[source]
        source: rusqlite::Error,
    },
    /// The database file is damaged or is not an SQLite database (move it aside and start a
    /// new one; the outbox rows in it may still be recoverable by hand).
    #[error("the database file is damaged: {reason}")]
    DatabaseCorrupt {
        /// What SQLite reported.
        reason: String,
    },
    /// The schema could not be brought to the current version.
    #[error("migrating the database schema: {source}")]
    Migration {
        /// The error reported by the migration library.
        #[source]
        source: rusqlite_migration::Error,
    },
    /// The database was written by a newer Callpop (its schema is ahead of this build).
    #[error("the database schema is newer than this build understands")]
    SchemaTooNew,
    /// A stored value could not be decoded; the caller keeps its defaults.
    #[error("stored value {key:?} in {table} is corrupt: {reason}")]
    Corrupt {
        /// The table holding the value.
        table: &'static str,
        /// The key (or row id) of the value.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A value could not be encoded as JSON for storage.
    #[error("encoding {key:?} as JSON: {source}")]
    Encode {
        /// The key (or what was being encoded).
        key: String,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
    /// The row to change does not exist.
    #[error("no row {key:?} in {table}")]
    NotFound {
        /// The table searched.
        table: &'static str,
        /// The key looked for.
        key: String,
    },
    /// The row to insert already exists.
    #[error("row {key:?} already exists in {table}")]
    AlreadyExists {
        /// The table written to.
        table: &'static str,
        /// The key of the existing row.
        key: String,
    },
    /// An argument is out of range or malformed.
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// The argument's name.
        what: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// An outbox row is not in a state that allows this transition; nothing was changed.
    #[error("outbox row {id} is {from}, cannot move it to {to}")]
    InvalidTransition {
        /// The row.
        id: OutboxId,
        /// Its current state's name.
        from: &'static str,
        /// The state asked for.
        to: &'static str,
    },
    /// A create for this CallObject is already in the outbox; nothing was written.
    #[error("a create for CallObject {call_object:?} is already queued as row {existing}")]
    DuplicateCreate {
        /// The CallObject.
        call_object: String,
        /// The row that already holds the create.
        existing: OutboxId,
    },
    /// An update names no target record and no create for its CallObject is in the outbox.
    #[error("update for CallObject {call_object:?} has no target record and no queued create")]
    UpdateWithoutTarget {
        /// The CallObject.
        call_object: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether the same call may succeed later with nothing changed: the database locked by
    /// another connection, the disk full, an I/O or other SQLite failure. Not for errors in
    /// what was asked (a missing row, a bad argument, a duplicate) nor for a damaged file.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Full | Error::Busy | Error::Sqlite { .. })
    }
}

impl From<rusqlite::Error> for Error {
    fn from(source: rusqlite::Error) -> Self {
        match source.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => Error::Full,
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => Error::Busy,
            Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => {
                Error::DatabaseCorrupt {
                    reason: source.to_string(),
                }
            }
            _ => Error::Sqlite { source },
        }
    }
}

impl From<rusqlite_migration::Error> for Error {
    fn from(source: rusqlite_migration::Error) -> Self {
        use rusqlite_migration::{Error as E, MigrationDefinitionError as D};
        match source {
            E::MigrationDefinition(D::DatabaseTooFarAhead) => Error::SchemaTooNew,
            E::RusqliteError { err, .. } => Error::from(err),
            source => Error::Migration { source },
        }
    }
}

/// Callpop's local database. Cheap operations, one at a time; share it behind an `Arc`.
///
/// Reach each table through its view: [`Store::settings`], [`Store::calls`],
/// [`Store::match_cache`], [`Store::sms_days`], [`Store::outbox`].
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    /// Read-only connections for queries that only read (file databases only): with WAL a
    /// reader never waits behind the writer's commit and its disk sync, so a popup's
    /// match-cache read is not delayed by an outbox write. There are [`READERS`] of them, so
    /// that a long read (the flusher decoding a batch of 200 writes) does not hold up a short
    /// one (the match-cache read of a ringing call).
    readers: Vec<Mutex<Connection>>,
}

/// How many read-only connections a file database has.
const READERS: usize = 2;

impl Store {
    /// Opens (creating if needed) the database file at `path`, applies the pragmas (WAL,
    /// `synchronous=FULL`, busy timeout, foreign keys) and brings the schema to
    /// [`SCHEMA_VERSION`].
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let mut store = Store::prepare(conn)?;
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            reader.busy_timeout(BUSY_TIMEOUT)?;
            store.readers.push(Mutex::new(reader));
        }
        tracing::debug!(path = %path.display(), "store opened");
        Ok(store)
    }

    /// Opens a private in-memory database (for tests and for running without a profile
    /// directory). Its contents vanish with the `Store`.
    pub fn open_in_memory() -> Result<Store> {
        Store::prepare(Connection::open_in_memory()?)
    }

    fn prepare(mut conn: Connection) -> Result<Store> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // In-memory databases answer "memory": WAL applies to files only.
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
        tracing::trace!(journal_mode = %mode, "journal mode set");
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        Migrations::from_slice(MIGRATIONS).to_latest(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
            readers: Vec::new(),
        })
    }

    /// The schema version of the open database (SQLite's `user_version`).
    pub fn schema_version(&self) -> Result<usize> {
        let v: i64 = self
            .conn()
            .query_row("PRAGMA user_version", [], |row| row.get(0))?;
        usize::try_from(v).map_err(|_| Error::Corrupt {
            table: "sqlite_master",
            key: "user_version".into(),
            reason: format!("negative schema version {v}"),
        })
    }

    /// Runs SQLite's `PRAGMA integrity_check`; `Ok(())` when the file is sound, otherwise the
    /// problems SQLite reports as [`Error::DatabaseCorrupt`].
    pub fn integrity_check(&self) -> Result<()> {
        let conn = self.conn();
        let mut stmt = conn.prepare("PRAGMA integrity_check")?;
        let lines = stmt
            .query_map([], |row| row.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if lines == ["ok"] {
            Ok(())
        } else {
            Err(Error::DatabaseCorrupt {
                reason: lines.join("; "),
            })
        }
    }

    /// Settings, softphone layouts and behaviour, as JSON documents by key.
    pub fn settings(&self) -> Settings<'_> {
        Settings::new(self)
    }

    /// Call history.
    pub fn calls(&self) -> Calls<'_> {
        Calls::new(self)
    }

    /// The number → matched records cache, with [`DEFAULT_MATCH_TTL`] (see
    /// [`MatchCache::with_ttl`]).
    pub fn match_cache(&self) -> MatchCache<'_> {
        MatchCache::new(self)
    }

    /// The (number, local day) → SMS Task map.
    pub fn sms_days(&self) -> SmsDays<'_> {
        SmsDays::new(self)
    }

    /// The durable queue of Task writes.
    pub fn outbox(&self) -> Outbox<'_> {
        Outbox::new(self)
    }

    /// The connection. A panic while it was held cannot leave a half-done write behind (SQLite
    /// rolls back an unfinished transaction), so a poisoned lock is safe to take over.
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connection for a query that only reads: a free read-only one when there is one (each
    /// sees every committed write), else the first to come free; the writer for in-memory
    /// databases.
    pub(crate) fn read_conn(&self) -> MutexGuard<'_, Connection> {
        for reader in &self.readers {
            match reader.try_lock() {
                Ok(guard) => return guard,
                Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        match self.readers.first() {
            Some(reader) => reader.lock().unwrap_or_else(PoisonError::into_inner),
            None => self.conn(),
        }
    }
}

/// Unix milliseconds of `t`, the form times are stored in.
pub(crate) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The time stored as unix milliseconds `ms`, or [`Error::Corrupt`] naming `table` and `key`.
pub(crate) fn from_ms(ms: i64, table: &'static str, key: &str) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| Error::Corrupt {
        table,
        key: key.to_owned(),
        reason: format!("time {ms} ms is out of range"),
    })
}

/// Encodes `value` as JSON text for storage.
pub(crate) fn encode<T: serde::Serialize + ?Sized>(value: &T, key: &str) -> Result<String> {
    serde_json::to_string(value).map_err(|source| Error::Encode {
        key: key.to_owned(),
        source,
    })
}

/// Decodes stored JSON text, or [`Error::Corrupt`] naming `table` and `key`.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    text: &str,
    table: &'static str,
    key: &str,
) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt {
        table,
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Store>();
        // The engine wraps store errors in anyhow and sends them across tasks.
        fn check_error<E: std::error::Error + Send + Sync + 'static>() {}
        check_error::<Error>();
    }

    #[test]
    fn a_long_read_does_not_hold_up_a_ringing_calls_cache_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = std::sync::Arc::new(Store::open(dir.path().join("db.sqlite3")).expect("open"));
        let now = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2027, 1, 31, 10, 0, 0)
            .single()
            .expect("time");
        store
            .match_cache()
            .put("+14155550100", &serde_json::json!([{"name": "A"}]), now)
            .expect("put");
        // The flusher reading a batch holds a reader for a while.
        let long_read = store.read_conn();
        let (tx, rx) = std::sync::mpsc::channel();
        let other = store.clone();
        std::thread::spawn(move || {
            let found = other.match_cache().lookup("+14155550100", now);
            let _ = tx.send(found.map(|c| c.is_some()));
        });
        let answered = rx.recv_timeout(std::time::Duration::from_secs(5));
        drop(long_read);
        assert!(
            matches!(answered, Ok(Ok(true))),
            "the cache read goes through another reader at once: {answered:?}"
        );
    }

    #[test]
    fn migrations_are_valid() {
        let result = Migrations::from_slice(MIGRATIONS).validate();
        assert!(
            result.is_ok(),
            "every migration must apply cleanly on an empty database: {result:?}"
        );
    }

    #[test]
    fn open_applies_pragmas_and_schema() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path().join("callpop.db")).expect("open");
        let conn = store.conn();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("journal_mode");
        assert_eq!(mode, "wal", "a file database must run in WAL mode");
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .expect("synchronous");
        assert_eq!(
            sync, 2,
            "synchronous must be FULL (2) so queued means durable"
        );
        let fk: i64 = conn
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .expect("foreign_keys");
        assert_eq!(fk, 1, "foreign keys must be enforced");
        drop(conn);
        assert_eq!(
            store.schema_version().expect("version"),
            SCHEMA_VERSION,
            "a new database must be at the latest schema version"
        );
        assert!(
            store.integrity_check().is_ok(),
            "a fresh database must pass integrity_check"
        );
    }

    #[test]
    fn old_database_is_migrated_and_keeps_its_data() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("old.db");
        {
            // A database written by a build that knew only the first migration (settings).
            let mut conn = Connection::open(&path).expect("open raw");
            Migrations::from_slice(&MIGRATIONS[..1])
                .to_latest(&mut conn)
                .expect("old schema");
            conn.execute(
                "INSERT INTO settings (key, value, updated_at) VALUES ('behaviour', '{\"auto_save\":true}', 1)",
                [],
            )
            .expect("old row");
        }
        let store = Store::open(&path).expect("open migrates");
        assert_eq!(
            store.schema_version().expect("version"),
            SCHEMA_VERSION,
            "opening an old file must bring it to the latest schema"
        );
        let kept: Option<serde_json::Value> =
            store.settings().get("behaviour").expect("read old row");
        assert_eq!(
            kept,
            Some(serde_json::json!({"auto_save": true})),
            "rows written before the migration must survive it"
        );
        let stats = store.outbox().stats().expect("new table usable");
        assert_eq!(
            stats,
            OutboxStats::default(),
            "tables added by the migration must exist and start empty"
        );
    }

    #[test]
    fn garbage_file_is_a_typed_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("garbage.db");
        std::fs::write(&path, vec![0x5a_u8; 8192]).expect("write garbage");
        let err = Store::open(&path).expect_err("garbage is not a database");
        assert!(
            matches!(err, Error::DatabaseCorrupt { .. }),
            "a file that is not SQLite must give DatabaseCorrupt, got {err:?}"
        );
    }

    #[test]
    fn newer_database_is_a_typed_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("new.db");
        drop(Store::open(&path).expect("create"));
        {
            let conn = Connection::open(&path).expect("open raw");
            conn.pragma_update(None, "user_version", SCHEMA_VERSION as i64 + 1)
                .expect("bump version");
        }
        let err = Store::open(&path).expect_err("a newer schema must be refused");
        assert!(
            matches!(err, Error::SchemaTooNew),
            "a database from a newer build must give SchemaTooNew, got {err:?}"
        );
    }
}
