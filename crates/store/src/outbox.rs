//! The outbox: the durable queue of Task writes, and the state of each write.
//!
//! Every Task write goes through here. The engine's flusher owns the loop; this file owns the
//! rows and their transitions, each one SQLite transaction committed before the call returns:
//!
//! ```text
//! enqueue ─▶ Pending ──mark_in_flight──▶ InFlight ──mark_done──────▶ Done { sf_id }
//!              ▲  ▲                        │  │ └──mark_failed/give_up─▶ Failed { … }
//!              │  └──────mark_retry────────┘  │                           │
//!              │  (crash or timeout: unknown_outcome → resolve_unknown)   │
//!              └──────────────────────────retry_failed────────────────────┘
//! ```
//!
//! # Never written twice
//!
//! - Each Task has a **CallObject** (the call's unique id; for an SMS day Task a key the engine
//!   builds, such as `sms:+336…:2027-01-31`). At most one *create* per CallObject can ever be
//!   queued: a second [`Outbox::enqueue`] of a create with the same CallObject writes nothing and
//!   returns [`Error::DuplicateCreate`] with the existing row's id (the engine can treat it as
//!   already queued). This holds across restarts and after the create is done.
//! - [`Outbox::mark_in_flight`] is called *before* sending. A row still InFlight after a crash or
//!   a timeout has an unknown outcome: [`Outbox::unknown_outcome`] lists them, the engine asks
//!   Salesforce for the Task by CallObject, and [`Outbox::resolve_unknown`] records the answer
//!   (found → Done, not found → Pending). Updates are idempotent (same fields, same values), so
//!   resolving them as not found and resending is safe.
//!
//! # Order
//!
//! Rows with the same CallObject are sent in the order they were queued: [`Outbox::due`] returns
//! a row only when no earlier row of its CallObject is Pending or InFlight. An update needs its
//! target record id: given at enqueue, or taken from its CallObject's create when that create is
//! Done (at enqueue, or automatically when the create is marked done). An update whose create
//! failed waits with it; [`Outbox::retry_failed`] on the create releases both.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};

use crate::{decode, encode, from_ms, to_ms, Error, Result, Store};

/// Migration 5: the outbox.
pub(crate) const MIGRATION: &str = "
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,  -- queue order
    kind            TEXT NOT NULL,        -- create | update
    sobject         TEXT NOT NULL,        -- e.g. Task
    call_object     TEXT NOT NULL,        -- the Task's CallObject: idempotency and order key
    target_id       TEXT,                 -- record to update; a create's own id once done
    payload         TEXT NOT NULL,        -- JSON fields
    state           TEXT NOT NULL,        -- pending | in_flight | done | failed
    sf_id           TEXT,                 -- with done
    fail_code       TEXT,                 -- with failed
    fail_message    TEXT,                 -- with failed
    fail_permanent  INTEGER,              -- with failed
    in_flight_since INTEGER,              -- with in_flight, unix ms
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,     -- unix ms
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX outbox_one_create ON outbox (call_object) WHERE kind = 'create';
CREATE INDEX outbox_order ON outbox (call_object, id);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
";

const TABLE: &str = "outbox";
const COLUMNS: &str = "id, kind, sobject, call_object, target_id, payload, state, sf_id, fail_code,
    fail_message, fail_permanent, in_flight_since, attempts, next_attempt_at, last_error,
    created_at, updated_at";

/// The most rows one [`Outbox::due`] returns: an sObject Collections request takes up to 200.
pub const MAX_BATCH: usize = 200;

/// The first retry waits about this long (before jitter).
const BACKOFF_BASE: Duration = Duration::from_secs(2);
/// No computed retry waits longer than this.
const BACKOFF_CAP: Duration = Duration::from_secs(15 * 60);
/// A server's hint (e.g. `Retry-After`) is honoured up to this long.
const HINT_CAP: Duration = Duration::from_secs(60 * 60);

/// An outbox row's id; ids grow with queue order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OutboxId(pub i64);

impl std::fmt::Display for OutboxId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What the write does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteKind {
    /// Creates the record (at most one per CallObject).
    Create,
    /// Updates an existing record.
    Update,
}

impl WriteKind {
    fn as_str(self) -> &'static str {
        match self {
            WriteKind::Create => "create",
            WriteKind::Update => "update",
        }
    }
}

/// Where a write stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting to be sent (at or after `next_attempt_at`).
    Pending,
    /// Handed to the sender; the outcome is not known yet.
    InFlight {
        /// Which attempt this is (1 for the first send).
        attempt: u32,
        /// When it was handed over.
        since: DateTime<Utc>,
    },
    /// Salesforce accepted it.
    Done {
        /// The record's id.
        sf_id: String,
    },
    /// Salesforce refused it, or the engine gave up; waits for the agent's retry.
    Failed {
        /// The error code (e.g. `FIELD_CUSTOM_VALIDATION_EXCEPTION`).
        code: String,
        /// The error message.
        message: String,
        /// Whether resending as is cannot succeed.
        permanent: bool,
    },
}

/// A write to queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewOutboxItem {
    /// Create or update.
    pub kind: WriteKind,
    /// The sObject type, e.g. `Task`.
    pub sobject: String,
    /// The Task's CallObject (idempotency and order key).
    pub call_object: String,
    /// For an update: the record to update, if known (otherwise taken from the create).
    /// Must be `None` for a create.
    pub target_id: Option<String>,
    /// The fields to write.
    pub payload: serde_json::Value,
}

/// A queued write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxItem {
    /// Its id (queue order).
    pub id: OutboxId,
    /// Create or update.
    pub kind: WriteKind,
    /// The sObject type.
    pub sobject: String,
    /// The Task's CallObject.
    pub call_object: String,
    /// The record to update; for a create, its own id once done.
    pub target_id: Option<String>,
    /// The fields to write.
    pub payload: serde_json::Value,
    /// Where it stands.
    pub state: OutboxState,
    /// How many times it was handed to the sender since queued (or since the last retry_failed).
    pub attempts: u32,
    /// Not to be sent before this.
    pub next_attempt_at: DateTime<Utc>,
    /// The last error seen, for the agent and the logs.
    pub last_error: Option<String>,
    /// When queued.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// Row counts by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxStats {
    /// Waiting to be sent.
    pub pending: u64,
    /// Sent, outcome not known.
    pub in_flight: u64,
    /// Failed, waiting for the agent.
    pub failed: u64,
    /// Done (until pruned).
    pub done: u64,
}

/// What Salesforce answered for one write of a batch (see [`Outbox::record_outcomes`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum WriteOutcome {
    /// Accepted as this record.
    Done {
        /// The record's id.
        sf_id: String,
    },
    /// A retryable error: send again at or after `next_attempt_at`.
    Retry {
        /// When to try again (see [`backoff`]).
        next_attempt_at: DateTime<Utc>,
        /// The error, for the logs and the agent.
        error: String,
    },
    /// Refused, or given up on: waits for the agent's retry.
    Failed {
        /// The error code.
        code: String,
        /// The error message.
        message: String,
        /// Whether resending as is cannot succeed.
        permanent: bool,
    },
}

/// The outbox (from [`Store::outbox`]).
#[derive(Debug, Clone, Copy)]
pub struct Outbox<'a> {
    store: &'a Store,
}

impl<'a> Outbox<'a> {
    pub(crate) fn new(store: &'a Store) -> Self {
        Outbox { store }
    }

    /// Runs `f` in one IMMEDIATE transaction (the write lock is taken at once) and commits.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.store.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Queues a write, due at `now`. When this returns `Ok`, the row is committed to disk.
    ///
    /// Errors: [`Error::DuplicateCreate`] for a second create of a CallObject,
    /// [`Error::UpdateWithoutTarget`] for an update with no target and no create of its
    /// CallObject in the outbox, [`Error::InvalidArgument`] for empty names or a create with a
    /// target, [`Error::Full`] when the disk is full.
    pub fn enqueue(&self, item: &NewOutboxItem, now: DateTime<Utc>) -> Result<OutboxId> {
        self.write(|tx| enqueue_on(tx, item, now))
    }

    /// Queues several writes, each due at its own time, in one transaction (one disk sync for
    /// all), in order; each gets its own outcome, as [`Outbox::enqueue`] would give it. `Err`
    /// when a write hits an error that may pass ([`Error::is_transient`]: a locked database, a
    /// full disk): then nothing was written, and the same list may be given again.
    pub fn enqueue_many<'i>(
        &self,
        items: impl IntoIterator<Item = (&'i NewOutboxItem, DateTime<Utc>)>,
    ) -> Result<Vec<Result<OutboxId>>> {
        self.write(|tx| {
            let mut outcomes = Vec::new();
            for (item, now) in items {
                match enqueue_on(tx, item, now) {
                    Err(e) if e.is_transient() => return Err(e),
                    outcome => outcomes.push(outcome),
                }
            }
            Ok(outcomes)
        })
    }

    /// Pending rows due at `now` (next_attempt_at ≤ now), oldest first, at most `limit`
    /// (1..=[`MAX_BATCH`]). A row is left out while an earlier row of its CallObject is Pending or
    /// InFlight, and an update while its target is unknown; so a batch holds at most one row per
    /// CallObject.
    pub fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<OutboxItem>> {
        if limit == 0 || limit > MAX_BATCH {
            return Err(Error::InvalidArgument {
                what: "limit",
                reason: format!("must be 1..={MAX_BATCH}, got {limit}"),
            });
        }
        self.select(
            "WHERE o.state = 'pending' AND o.next_attempt_at <= ?1
               AND (o.kind = 'create' OR o.target_id IS NOT NULL)
               AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.call_object = o.call_object
                               AND p.id < o.id AND p.state IN ('pending', 'in_flight'))
             ORDER BY o.id LIMIT ?2",
            params![to_ms(now), limit as i64],
        )
    }

    /// Moves Pending rows to InFlight and counts an attempt; call it *before* sending. All or
    /// nothing: if any id is not Pending, nothing changes and [`Error::InvalidTransition`] (or
    /// [`Error::NotFound`]) names it.
    pub fn mark_in_flight(&self, ids: &[OutboxId], now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| {
            for &id in ids {
                require(tx, id, &["pending"], "in_flight")?;
                tx.prepare_cached(
                    "UPDATE outbox SET state = 'in_flight', attempts = attempts + 1,
                        in_flight_since = ?2, updated_at = ?2 WHERE id = ?1",
                )?
                .execute(params![id.0, to_ms(now)])?;
            }
            Ok(())
        })?;
        tracing::debug!(count = ids.len(), "writes in flight");
        Ok(())
    }

    /// Records that Salesforce accepted an InFlight row as record `sf_id`. For a create, the
    /// updates queued behind it get `sf_id` as their target.
    pub fn mark_done(&self, id: OutboxId, sf_id: &str, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| done_tx(tx, id, sf_id, now))
    }

    /// Puts an InFlight row back to Pending after a retryable error, not to be sent before
    /// `next_attempt_at` (see [`backoff`]).
    pub fn mark_retry(
        &self,
        id: OutboxId,
        next_attempt_at: DateTime<Utc>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| retry_tx(tx, id, next_attempt_at, error, now))
    }

    /// Records a permanent refusal (resending as is cannot succeed) of a Pending or InFlight
    /// row. The agent can still retry it ([`Outbox::retry_failed`]), e.g. after fixing the data.
    pub fn mark_failed(
        &self,
        id: OutboxId,
        code: &str,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| fail_tx(tx, id, code, message, true, now))
    }

    /// Gives up on a Pending or InFlight row that could succeed later (e.g. too many retryable
    /// errors): Failed with `permanent: false`, waiting for the agent's retry.
    pub fn give_up(
        &self,
        id: OutboxId,
        code: &str,
        message: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| fail_tx(tx, id, code, message, false, now))
    }

    /// Records the per-record results of one batch (an sObject Collections response) in one
    /// transaction, so a batch of 200 costs one disk sync instead of 200. Each outcome follows
    /// the rules of [`Outbox::mark_done`], [`Outbox::mark_retry`], [`Outbox::mark_failed`] and
    /// [`Outbox::give_up`]; all or nothing: if one transition is invalid, none is recorded.
    pub fn record_outcomes(
        &self,
        outcomes: &[(OutboxId, WriteOutcome)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| {
            for (id, outcome) in outcomes {
                match outcome {
                    WriteOutcome::Done { sf_id } => done_tx(tx, *id, sf_id, now)?,
                    WriteOutcome::Retry {
                        next_attempt_at,
                        error,
                    } => retry_tx(tx, *id, *next_attempt_at, error, now)?,
                    WriteOutcome::Failed {
                        code,
                        message,
                        permanent,
                    } => fail_tx(tx, *id, code, message, *permanent, now)?,
                }
            }
            Ok(())
        })
    }

    /// InFlight rows handed over at or before `in_flight_before`, oldest first: their outcome is
    /// unknown. At start-up pass `DateTime::<Utc>::MAX_UTC` (every InFlight row was left by the
    /// previous run, whatever the clock says now); while running pass `now - request timeout`.
    pub fn unknown_outcome(&self, in_flight_before: DateTime<Utc>) -> Result<Vec<OutboxItem>> {
        self.select(
            "WHERE o.state = 'in_flight' AND o.in_flight_since <= ?1 ORDER BY o.id",
            params![to_ms(in_flight_before)],
        )
    }

    /// Records what Salesforce said about an InFlight row of unknown outcome: found as
    /// `found_sf_id` → Done (as [`Outbox::mark_done`]); not found → Pending, due at `now`.
    pub fn resolve_unknown(
        &self,
        id: OutboxId,
        found_sf_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.write(|tx| {
            let to = if found_sf_id.is_some() {
                "done"
            } else {
                "pending"
            };
            require(tx, id, &["in_flight"], to)?;
            match found_sf_id {
                Some(sf_id) => set_done(tx, id, sf_id, now),
                None => {
                    tx.prepare_cached(
                        "UPDATE outbox SET state = 'pending', in_flight_since = NULL,
                            next_attempt_at = ?2, updated_at = ?2 WHERE id = ?1",
                    )?
                    .execute(params![id.0, to_ms(now)])?;
                    Ok(())
                }
            }
        })?;
        tracing::info!(id = %id, found = found_sf_id.is_some(), "unknown outcome resolved");
        Ok(())
    }

    /// The agent's retry button: a Failed row goes back to Pending, due at `now`, with its
    /// attempt count reset (so backoff starts small again).
    pub fn retry_failed(&self, id: OutboxId, now: DateTime<Utc>) -> Result<()> {
        self.write(|tx| {
            require(tx, id, &["failed"], "pending")?;
            tx.prepare_cached(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?2,
                    fail_code = NULL, fail_message = NULL, fail_permanent = NULL, updated_at = ?2
                 WHERE id = ?1",
            )?
            .execute(params![id.0, to_ms(now)])?;
            Ok(())
        })?;
        tracing::info!(id = %id, "failed write queued again");
        Ok(())
    }

    /// The row with this id, if any.
    pub fn by_id(&self, id: OutboxId) -> Result<Option<OutboxItem>> {
        Ok(self
            .select("WHERE o.id = ?1", params![id.0])?
            .into_iter()
            .next())
    }

    /// Every row of a CallObject, in queue order.
    pub fn by_call_object(&self, call_object: &str) -> Result<Vec<OutboxItem>> {
        self.select(
            "WHERE o.call_object = ?1 ORDER BY o.id",
            params![call_object],
        )
    }

    /// Failed rows, oldest first, at most `limit` (for the agent's list of unsent logs).
    pub fn failed(&self, limit: usize) -> Result<Vec<OutboxItem>> {
        self.select(
            "WHERE o.state = 'failed' ORDER BY o.id LIMIT ?1",
            params![i64::try_from(limit).unwrap_or(i64::MAX)],
        )
    }

    /// Row counts by state.
    pub fn stats(&self) -> Result<OutboxStats> {
        let conn = self.store.read_conn();
        let mut stmt = conn.prepare_cached("SELECT state, count(*) FROM outbox GROUP BY state")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut stats = OutboxStats::default();
        for (state, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match state.as_str() {
                "pending" => stats.pending = n,
                "in_flight" => stats.in_flight = n,
                "failed" => stats.failed = n,
                "done" => stats.done = n,
                other => {
                    return Err(Error::Corrupt {
                        table: TABLE,
                        key: "state".into(),
                        reason: format!("unknown state {other:?}"),
                    })
                }
            }
        }
        Ok(stats)
    }

    /// Deletes Done rows last changed before `done_before` (e.g. now minus 30 days); returns how
    /// many. A pruned create no longer blocks a new create of its CallObject, so keep done rows
    /// longer than any call can still be re-logged.
    pub fn prune_done(&self, done_before: DateTime<Utc>) -> Result<usize> {
        let n = self.write(|tx| {
            Ok(tx
                .prepare_cached("DELETE FROM outbox WHERE state = 'done' AND updated_at < ?1")?
                .execute([to_ms(done_before)])?)
        })?;
        if n > 0 {
            tracing::debug!(pruned = n, "done writes pruned");
        }
        Ok(n)
    }

    fn select(&self, tail: &str, params: impl rusqlite::Params) -> Result<Vec<OutboxItem>> {
        let conn = self.store.read_conn();
        let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM outbox o {tail}"))?;
        let raws = stmt
            .query_map(params, RawItem::read)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(RawItem::into_item).collect()
    }
}

/// Checks that row `id` is in one of the states `from`, else the typed error for moving to `to`.
fn require(tx: &Transaction<'_>, id: OutboxId, from: &[&str], to: &'static str) -> Result<()> {
    let state: Option<String> = tx
        .prepare_cached("SELECT state FROM outbox WHERE id = ?1")?
        .query_row([id.0], |r| r.get(0))
        .optional()?;
    match state {
        None => Err(Error::NotFound {
            table: TABLE,
            key: id.to_string(),
        }),
        Some(s) if from.contains(&s.as_str()) => Ok(()),
        Some(s) => Err(Error::InvalidTransition {
            id,
            from: state_name(&s),
            to,
        }),
    }
}

fn done_tx(tx: &Transaction<'_>, id: OutboxId, sf_id: &str, now: DateTime<Utc>) -> Result<()> {
    require(tx, id, &["in_flight"], "done")?;
    set_done(tx, id, sf_id, now)?;
    tracing::debug!(id = %id, sf_id, "write done");
    Ok(())
}

fn retry_tx(
    tx: &Transaction<'_>,
    id: OutboxId,
    next_attempt_at: DateTime<Utc>,
    error: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    require(tx, id, &["in_flight"], "pending")?;
    tx.prepare_cached(
        "UPDATE outbox SET state = 'pending', in_flight_since = NULL, next_attempt_at = ?2,
            last_error = ?3, updated_at = ?4 WHERE id = ?1",
    )?
    .execute(params![id.0, to_ms(next_attempt_at), error, to_ms(now)])?;
    tracing::debug!(id = %id, error, "write will be retried");
    Ok(())
}

fn fail_tx(
    tx: &Transaction<'_>,
    id: OutboxId,
    code: &str,
    message: &str,
    permanent: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    require(tx, id, &["pending", "in_flight"], "failed")?;
    tx.prepare_cached(
        "UPDATE outbox SET state = 'failed', in_flight_since = NULL, fail_code = ?2,
            fail_message = ?3, fail_permanent = ?4, last_error = ?5, updated_at = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        id.0,
        code,
        message,
        permanent,
        format!("{code}: {message}"),
        to_ms(now)
    ])?;
    tracing::warn!(id = %id, code, permanent, "write failed");
    Ok(())
}

fn state_name(s: &str) -> &'static str {
    match s {
        "pending" => "pending",
        "in_flight" => "in_flight",
        "done" => "done",
        "failed" => "failed",
        _ => "unknown",
    }
}

fn set_done(tx: &Transaction<'_>, id: OutboxId, sf_id: &str, now: DateTime<Utc>) -> Result<()> {
    if sf_id.is_empty() {
        return Err(Error::InvalidArgument {
            what: "sf_id",
            reason: "a done write needs the record id".into(),
        });
    }
    let (kind, call_object): (String, String) = tx
        .prepare_cached("SELECT kind, call_object FROM outbox WHERE id = ?1")?
        .query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
    tx.prepare_cached(
        "UPDATE outbox SET state = 'done', sf_id = ?2, target_id = coalesce(target_id, ?2),
            in_flight_since = NULL, last_error = NULL, updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![id.0, sf_id, to_ms(now)])?;
    if kind == "create" {
        let n = tx
            .prepare_cached(
                "UPDATE outbox SET target_id = ?2, updated_at = ?3
                 WHERE call_object = ?1 AND kind = 'update' AND target_id IS NULL",
            )?
            .execute(params![call_object, sf_id, to_ms(now)])?;
        if n > 0 {
            tracing::debug!(call_object = %call_object, updates = n, "updates got their target");
        }
    }
    Ok(())
}

/// How long to wait before attempt `attempt + 1` of row `id`, after `attempt` failed attempts.
///
/// Exponential from 2 s, doubling per attempt, capped at 15 min; then "equal jitter": the wait
/// is between half and all of that, chosen deterministically from the row id and attempt, so
/// rows that failed together (an outage) do not all come back at the same instant, and tests
/// can predict it. A server's `hint` (such as `Retry-After`, honoured up to one hour) is a
/// floor: the wait is never shorter than the hint.
pub fn backoff(id: OutboxId, attempt: u32, hint: Option<Duration>) -> Duration {
    let doublings = attempt.saturating_sub(1).min(30);
    let full = BACKOFF_BASE
        .saturating_mul(1u32 << doublings)
        .min(BACKOFF_CAP);
    let full_ms = full.as_millis() as u64;
    let half_ms = full_ms / 2;
    let seed = (id.0 as u64) ^ (u64::from(attempt) << 48);
    let jitter_ms = if half_ms == 0 {
        0
    } else {
        splitmix64(seed) % (half_ms + 1)
    };
    let wait = Duration::from_millis(half_ms + jitter_ms);
    match hint {
        Some(h) => wait.max(h.min(HINT_CAP)),
        None => wait,
    }
}

/// A well-mixed 64-bit hash (SplitMix64's finalizer) for deterministic jitter.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct RawItem {
    id: i64,
    kind: String,
    sobject: String,
    call_object: String,
    target_id: Option<String>,
    payload: String,
    state: String,
    sf_id: Option<String>,
    fail_code: Option<String>,
    fail_message: Option<String>,
    fail_permanent: Option<bool>,
    in_flight_since: Option<i64>,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl RawItem {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawItem {
            id: r.get(0)?,
            kind: r.get(1)?,
            sobject: r.get(2)?,
            call_object: r.get(3)?,
            target_id: r.get(4)?,
            payload: r.get(5)?,
            state: r.get(6)?,
            sf_id: r.get(7)?,
            fail_code: r.get(8)?,
            fail_message: r.get(9)?,
            fail_permanent: r.get(10)?,
            in_flight_since: r.get(11)?,
            attempts: r.get(12)?,
            next_attempt_at: r.get(13)?,
            last_error: r.get(14)?,
            created_at: r.get(15)?,
            updated_at: r.get(16)?,
        })
    }

    fn into_item(self) -> Result<OutboxItem> {
        let key = self.id.to_string();
        let corrupt = |reason: String| Error::Corrupt {
            table: TABLE,
            key: key.clone(),
            reason,
        };
        let attempts = u32::try_from(self.attempts)
            .map_err(|_| corrupt(format!("attempts {} out of range", self.attempts)))?;
        let kind = match self.kind.as_str() {
            "create" => WriteKind::Create,
            "update" => WriteKind::Update,
            other => return Err(corrupt(format!("unknown kind {other:?}"))),
        };
        let state = match self.state.as_str() {
            "pending" => OutboxState::Pending,
            "in_flight" => OutboxState::InFlight {
                attempt: attempts,
                since: from_ms(
                    self.in_flight_since
                        .ok_or_else(|| corrupt("in flight without a time".into()))?,
                    TABLE,
                    &key,
                )?,
            },
            "done" => OutboxState::Done {
                sf_id: self
                    .sf_id
                    .ok_or_else(|| corrupt("done without a record id".into()))?,
            },
            "failed" => OutboxState::Failed {
                code: self.fail_code.unwrap_or_default(),
                message: self.fail_message.unwrap_or_default(),
                permanent: self.fail_permanent.unwrap_or(true),
            },
            other => return Err(corrupt(format!("unknown state {other:?}"))),
        };
        Ok(OutboxItem {
            id: OutboxId(self.id),
            kind,
            sobject: self.sobject,
            payload: decode(&self.payload, TABLE, &key)?,
            call_object: self.call_object,
            target_id: self.target_id,
            state,
            attempts,
            next_attempt_at: from_ms(self.next_attempt_at, TABLE, &key)?,
            last_error: self.last_error,
            created_at: from_ms(self.created_at, TABLE, &key)?,
            updated_at: from_ms(self.updated_at, TABLE, &key)?,
        })
    }
}

/// [`Outbox::enqueue`] inside the transaction `tx`.
pub(crate) fn enqueue_on(
    tx: &Transaction<'_>,
    item: &NewOutboxItem,
    now: DateTime<Utc>,
) -> Result<OutboxId> {
    if item.sobject.is_empty() || item.call_object.is_empty() {
        return Err(Error::InvalidArgument {
            what: "item",
            reason: "sobject and call_object must not be empty".into(),
        });
    }
    if item.kind == WriteKind::Create && item.target_id.is_some() {
        return Err(Error::InvalidArgument {
            what: "target_id",
            reason: "a create has no target record".into(),
        });
    }
    let payload = encode(&item.payload, &item.call_object)?;
    let create: Option<(i64, String, Option<String>)> = tx
        .prepare_cached(
            "SELECT id, state, sf_id FROM outbox WHERE call_object = ?1 AND kind = 'create'",
        )?
        .query_row([&item.call_object], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let target = match (item.kind, &create) {
        (WriteKind::Create, Some((existing, _, _))) => {
            return Err(Error::DuplicateCreate {
                call_object: item.call_object.clone(),
                existing: OutboxId(*existing),
            })
        }
        (WriteKind::Create, None) => None,
        (WriteKind::Update, _) if item.target_id.is_some() => item.target_id.clone(),
        (WriteKind::Update, Some((_, state, sf_id))) if state == "done" => sf_id.clone(),
        (WriteKind::Update, Some(_)) => None,
        (WriteKind::Update, None) => {
            return Err(Error::UpdateWithoutTarget {
                call_object: item.call_object.clone(),
            })
        }
    };
    tx.prepare_cached(
        "INSERT INTO outbox (kind, sobject, call_object, target_id, payload, state,
            attempts, next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6, ?6)",
    )?
    .execute(params![
        item.kind.as_str(),
        item.sobject,
        item.call_object,
        target,
        payload,
        to_ms(now)
    ])?;
    let id = OutboxId(tx.last_insert_rowid());
    tracing::debug!(id = %id, kind = item.kind.as_str(), call_object = %item.call_object, "write queued");
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    fn create(call_object: &str) -> NewOutboxItem {
        NewOutboxItem {
            kind: WriteKind::Create,
            sobject: "Task".into(),
            call_object: call_object.into(),
            target_id: None,
            payload: json!({"Subject": "Call", "CallObject": call_object, "TaskSubtype": "Call"}),
        }
    }

    fn update(call_object: &str, target: Option<&str>) -> NewOutboxItem {
        NewOutboxItem {
            kind: WriteKind::Update,
            sobject: "Task".into(),
            call_object: call_object.into(),
            target_id: target.map(Into::into),
            payload: json!({"Description": "edited notes"}),
        }
    }

    fn ids(items: &[OutboxItem]) -> Vec<OutboxId> {
        items.iter().map(|i| i.id).collect()
    }

    #[test]
    fn enqueue_then_due_oldest_first_respecting_next_attempt() {
        let store = Store::open_in_memory().expect("open");
        let ob = store.outbox();
        let a = ob.enqueue(&create("call-a"), t(0)).expect("a");
        let b = ob.enqueue(&create("call-b"), t(1)).expect("b");
        assert!(a < b, "ids grow with queue order");
        assert_eq!(
            ids(&ob.due(t(0), 200).expect("due")),
            [a],
            "b is not due before t(1)"
        );
        assert_eq!(
            ids(&ob.due(t(5), 200).expect("due")),
            [a, b],
            "oldest first"
        );
        assert_eq!(
            ids(&ob.due(t(5), 1).expect("due")),
            [a],
            "the limit caps the batch"
        );
        let item = ob.by_id(a).expect("by id").expect("present");
        assert_eq!(item.state, OutboxState::Pending, "a new row is pending");
        assert_eq!(
            item.payload,
            create("call-a").payload,
            "payload round-trips"
        );
        assert_eq!(item.attempts, 0, "no attempt yet");
        assert_eq!(item.created_at, t(0), "created at the enqueue time");
    }

    #[test]
    fn enqueue_many_gives_each_write_its_outcome_in_one_transaction() {
        let store = Store::open_in_memory().expect("open");
        let ob = store.outbox();
        let items = [
            (create("call-a"), t(0)),
            (create("call-a"), t(1)),
            (update("call-a", None), t(2)),
            (update("call-z", None), t(3)),
        ];
        let outcomes = ob
            .enqueue_many(items.iter().map(|(item, at)| (item, *at)))
            .expect("one transaction");
        assert_eq!(outcomes.len(), 4, "one outcome per write");
        let a = *outcomes[0].as_ref().expect("the create is queued");
        assert!(
            matches!(&outcomes[1], Err(Error::DuplicateCreate { existing, .. }) if *existing == a),
            "the repeated create points at the first: {:?}",
            outcomes[1]
        );
        let edit = *outcomes[2]
            .as_ref()
            .expect("an update after its create in the same batch");
        assert!(
            matches!(outcomes[3], Err(Error::UpdateWithoutTarget { .. })),
            "an update with no create is refused alone: {:?}",
            outcomes[3]
        );
        assert_eq!(ids(&ob.due(t(9), 200).expect("due")), [a], "the edit waits");
        let row = ob.by_id(edit).expect("by id").expect("present");
        assert_eq!(row.created_at, t(2), "each write keeps its own time");
    }

    #[test]
    fn enqueue_many_writes_nothing_when_the_disk_cannot_take_it() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("callpop.db");
        let store = Store::open(&path).expect("open");
        let other = rusqlite::Connection::open(&path).expect("second connection");
        other
            .execute_batch(
                "CREATE TRIGGER trouble BEFORE INSERT ON outbox WHEN NEW.call_object = 'call-b'
                 BEGIN SELECT RAISE(ABORT, 'disk trouble'); END;",
            )
            .expect("trigger");
        let items = [create("call-a"), create("call-b")];
        let err = store
            .outbox()
            .enqueue_many(items.iter().map(|item| (item, t(0))))
            .expect_err("the second write fails");
        assert!(err.is_transient(), "an SQLite failure may pass: {err:?}");
        assert_eq!(
            store.outbox().stats().expect("stats").pending,
            0,
            "the first write was rolled back with the batch"
        );
        other.execute_batch("DROP TRIGGER trouble").expect("drop");
        let outcomes = store
            .outbox()
            .enqueue_many(items.iter().map(|item| (item, t(1))))
            .expect("the same batch again");
        assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
        assert_eq!(store.outbox().stats().expect("stats").pending, 2);
    }

    #[test]
    fn due_limit_must_be_within_a_collection() {
        let store = Store::open_in_memory().expect("open");
        for limit in [0, MAX_BATCH + 1] {
            let err = store.outbox().due(t(0), limit).expect_err("bad limit");
            assert!(
                matches!(err, Error::InvalidArgument { what: "limit", .. }),
                "limit {limit} must be refused, got {err:?}"
            );
        }
    }

    #[test]
    fn second_create_of_a_call_object_is_refused_even_after_done() {
        let store = Store::open_in_memory().expect("open");
        let ob = store.outbox();
        let first = ob.enqueue(&create("call-a"), t(0)).expect("first");
        let err = ob.enqueue(&create("call-a"), t(1)).expect_err("dup");
        assert!(
            matches!(&err, Error::DuplicateCreate { existing, .. } if *existing == first),
            "a second create must name the existing row, got {err:?}"
        );
        ob.mark_in_flight(&[first], t(2)).expect("in flight");
        ob.mark_done(first, "00T000000000001", t(3)).expect("done");
        let err = ob
            .enqueue(&create("call-a"), t(4))
            .expect_err("dup after done");
        assert!(
            matches!(err, Error::DuplicateCreate { .. }),
            "a done create still blocks a second one, got {err:?}"
        );
        assert_eq!(
            ob.stats().expect("stats").done,
            1,
            "only one row was written"
        );
    }

    #[test]
    fn update_waits_for_its_create_and_gets_its_id() {
        let store = Store::open_in_memory().expect("open");
        let ob = store.outbox();
        let c = ob.enqueue(&create("call-a"), t(0)).expect("create");
        let u = ob.enqueue(&update("call-a", None), t(0)).expect("update");
        let other = ob.enqueue(&create("call-b"), t(0)).expect("other");
        assert_eq!(
            ids(&ob.due(t(1), 200).expect("due")),
            [c, other],
            "the update is held while its create is pending"
        );
        ob.mark_in_flight(&[c, other], t(1)).expect("in flight");
        assert_eq!(
            ob.due(t(2), 200).expect("due"),
            vec![],
            "the update is held while its create is in flight"
        );
        ob.mark_done(c, "00TCREATED", t(3)).expect("done");
        let due = ob.due(t(3), 200).expect("due");
        assert_eq!(
            ids(&due),
            [u],
            "the update is released once the create is done"
        );
        assert_eq!(
            due[0].target_id.as_deref(),
            Some("00TCREATED"),
            "the update targets the created record"
        );
        let later = ob
            .enqueue(&update("call-a", None), t(4))
            .expect("later update");
        assert_eq!(
            ob.by_id(later)
                .expect("read")
                .expect("row")
                .target_id
                .as_deref(),
            Some("00TCREATED"),
            "an update queued after the create is done gets its target at once"
        );
    }

    #[test]
    fn updates_of_one_call_object_go_one_at_a_time_in_order() {
        let store = Store::open_in_memory().expect("open");
        let ob = store.outbox();
        let u1 = ob
            .enqueue(&update("old-call", Some("00TOLD")), t(0))
            .expect("u1");
        let u2 = ob
            .enqueue(&update("old-call", Some("00TOLD")), t(0))
            .expect("u2");
        assert_eq!(
            ids(&ob.due(t(0), 200).expect("due")),
            [u1],
            "u2 waits for u1"
        );
        ob.mark_in_flight(&[u1], t(0)).expect("in flight");
        ob.mark_retry(u1, t(60), "UNABLE_TO_LOCK_ROW", t(1))
            .expect("retry");
        assert_eq!(
            ob.due(t(30), 200).expect("due"),
            vec![],
            "u1 backs off and u2 must not overtake it"
        );
        assert_eq!(
            ids(&ob.due(t(60), 200).expect("due")),
            [u1],
            "u1 comes back first"
        );
        ob.mark_in_flight(&[u1], t(60)).expect("in flight");
        ob.mark_done(u1, "00TOLD", t(61)).expect("done");
        assert_eq!(ids(&ob.due(t(61), 200).expect("due")), [u2], "then u2");
    }

    #[test]
    fn update_without_target_or_create_is_refused() {
        let store = Store::open_in_memory().expect("open");
        let err = store
            .outbox()
            .enqueue(&update("nowhere", None), t(0))
            .expect_err("no target");
        assert!(
            matches!(err, Error::UpdateWithoutTarget { .. }),
            "an update that can never get a target is refused, got {err:?}"
        );
        let mut bad = create("x");
        bad.target_id = Some("00T".into());
        let err = store
            .outbox()
            .enqueue(&bad, t(0))
            .expect_err("create with target");
        assert!(
            matches!(
                err,
                Error::InvalidArgument {
                    what: "target_id",
                    ..
                }
            ),
            "a create with a target is refused, got {err:?}"
        );
        assert_eq!(
            store.outbox().stats().expect("stats"),
            OutboxStats::default(),
            "refused items leave no row"
        );
    }

    #[test]
    fn in_flight_counts_attempts_and_is_all_or_nothing() {
        let store = Store::open_in_memory().expect("open");
        let ob = store.outbox();
        let a = ob.enqueue(&create("a"), t(0)).expect("a");
        let b = ob.enqueue(&create("b"), t(0)).expect("b");
        ob.mark_in_flight(&[a], t(1)).expect("a in flight");
        let err = ob
            .mark_in_flight(&[b, a], t(2))
            .expect_err("a is not pending");
        assert!(
            matches!(err, Error::InvalidTransition { id, from: "in_flight", to: "in_flight" } if id == a),
            "moving an in-flight row again is an invalid transition, got {err:?}"
        );
        assert_eq!(
            ob.by_id(b).expect("read").expect("b").state,
            OutboxState::Pending,
            "the failed batch must not have moved b"
        );
        assert_eq!(
            ob.by_id(a).expect("read").expect("a").state,
            OutboxState::InFlight {
                attempt: 1,
                since: t(1)
            },
            "a is in its first attempt since t(1)"
        );
        let err = ob
            .mark_in_flight(&[OutboxId(999)], t(2))
            .expect_err("missing");
        assert!(
            matches!(err, Error::NotFound { .. }),
            "unknown id is NotFound, got {err:?}"
        );
        let err = ob.mark_done(b, "00T", t(2)).expect_err("b not sent");
        assert!(
            matches!(
                err,
                Error::InvalidTransition {
                    from: "pending",
                    to: "done",
                    ..
                }
            ),
            "a row that was never sent cannot be done, got {err:?}"
        );
    }

    #[test]
    fn failure_retry_button_and_stats() {
        let store = Store::open_in_memory().expect("open");
        let ob = store.outbox();
        let a = ob.enqueue(&create("a"), t(0)).expect("a");
        let b = ob.enqueue(&create("b"), t(0)).expect("b");
        let c = ob.enqueue(&create("c"), t(0)).expect("c");
        ob.mark_in_flight(&[a, b, c], t(1)).expect("in flight");
        ob.mark_failed(
            a,
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "Subject required",
            t(2),
        )
        .expect("failed");
        ob.give_up(b, "SERVER_UNAVAILABLE", "too many attempts", t(2))
            .expect("gave up");
        assert_eq!(
            ob.stats().expect("stats"),
            OutboxStats {
                pending: 0,
                in_flight: 1,
                failed: 2,
                done: 0
            },
            "two failed, one still in flight"
        );
        let failed = ob.failed(10).expect("failed list");
        assert_eq!(ids(&failed), [a, b], "failed rows oldest first");
        assert_eq!(
            failed[0].state,
            OutboxState::Failed {
                code: "FIELD_CUSTOM_VALIDATION_EXCEPTION".into(),
                message: "Subject required".into(),
                permanent: true
            },
            "mark_failed is permanent"
        );
        assert!(
            matches!(
                failed[1].state,
                OutboxState::Failed {
                    permanent: false,
                    ..
                }
            ),
            "give_up is not permanent"
        );
        assert!(
            ob.due(t(10), 200).expect("due").is_empty(),
            "failed rows are never due by themselves"
        );
        ob.retry_failed(a, t(20)).expect("retry button");
        let due = ob.due(t(20), 200).expect("due");
        assert_eq!(ids(&due), [a], "the retried row is due at once");
        assert_eq!(
            due[0].attempts, 0,
            "the retry button resets the attempt count"
        );
        let err = ob.retry_failed(c, t(20)).expect_err("c is in flight");
        assert!(
            matches!(err, Error::InvalidTransition { .. }),
            "only failed rows can be retried by the agent, got {err:?}"
        );
    }

    #[test]
    fn batch_outcomes_are_recorded_together_or_not_at_all() {
        let store = Store::open_in_memory().expect("open");
        let ob = store.outbox();
        let a = ob.enqueue(&create("a"), t(0)).expect("a");
        let b = ob.enqueue(&create("b"), t(0)).expect("b");
        let c = ob.enqueue(&create("c"), t(0)).expect("c");
        let pending = ob.enqueue(&create("d"), t(0)).expect("d");
        ob.mark_in_flight(&[a, b, c], t(1)).expect("in flight");
        let outcomes = vec![
            (
                a,
                WriteOutcome::Done {
                    sf_id: "00TA".into(),
                },
            ),
            (
                b,
                WriteOutcome::Retry {
                    next_attempt_at: t(60),
                    error: "UNABLE_TO_LOCK_ROW".into(),
                },
            ),
            (
                c,
                WriteOutcome::Failed {
                    code: "INVALID_FIELD".into(),
                    message: "No such column".into(),
                    permanent: true,
                },
            ),
        ];
        let mut bad = outcomes.clone();
        bad.push((
            pending,
            WriteOutcome::Done {
                sf_id: "00TD".into(),
            },
        ));
        let err = ob
            .record_outcomes(&bad, t(2))
            .expect_err("d was never sent");
        assert!(
            matches!(err, Error::InvalidTransition { id, .. } if id == pending),
            "the invalid outcome is named, got {err:?}"
        );
        assert_eq!(
            ob.stats().expect("stats").in_flight,
            3,
            "a refused batch must leave every row as it was"
        );
        ob.record_outcomes(&outcomes, t(2)).expect("record");
        let state = |id| ob.by_id(id).expect("read").expect("row").state;
        assert_eq!(
            state(a),
            OutboxState::Done {
                sf_id: "00TA".into()
            },
            "a done"
        );
        assert_eq!(state(b), OutboxState::Pending, "b back to pending");
        assert!(
            matches!(
                state(c),
                OutboxState::Failed {
                    permanent: true,
                    ..
                }
            ),
            "c failed for good"
        );
        let b_row = ob.by_id(b).expect("read").expect("b");
        assert_eq!(b_row.next_attempt_at, t(60), "b waits for its backoff");
        assert_eq!(
            b_row.last_error.as_deref(),
            Some("UNABLE_TO_LOCK_ROW"),
            "b keeps the error"
        );
    }

    #[test]
    fn unknown_outcome_is_resolved_by_lookup() {
        let store = Store::open_in_memory().expect("open");
        let ob = store.outbox();
        let a = ob.enqueue(&create("a"), t(0)).expect("a");
        let b = ob.enqueue(&create("b"), t(0)).expect("b");
        let ua = ob.enqueue(&update("a", None), t(0)).expect("update of a");
        ob.mark_in_flight(&[a], t(10)).expect("a");
        ob.mark_in_flight(&[b], t(20)).expect("b");
        assert_eq!(
            ids(&ob.unknown_outcome(t(15)).expect("unknown")),
            [a],
            "only rows in flight since before the cutoff"
        );
        assert_eq!(
            ids(&ob.unknown_outcome(t(30)).expect("unknown")),
            [a, b],
            "at start-up every in-flight row is unknown"
        );
        ob.resolve_unknown(a, Some("00TFOUND"), t(31))
            .expect("found");
        ob.resolve_unknown(b, None, t(31)).expect("not found");
        assert_eq!(
            ob.by_id(a).expect("read").expect("a").state,
            OutboxState::Done {
                sf_id: "00TFOUND".into()
            },
            "found by CallObject means done, never resent"
        );
        let due = ob.due(t(31), 200).expect("due");
        assert_eq!(
            ids(&due),
            [b, ua],
            "b is sent again; a's update is released"
        );
        assert_eq!(
            due[1].target_id.as_deref(),
            Some("00TFOUND"),
            "the update targets the record found"
        );
        assert!(
            ob.unknown_outcome(t(40)).expect("unknown").is_empty(),
            "none left"
        );
    }

    #[test]
    fn prune_removes_only_old_done_rows() {
        let store = Store::open_in_memory().expect("open");
        let ob = store.outbox();
        let a = ob.enqueue(&create("a"), t(0)).expect("a");
        let b = ob.enqueue(&create("b"), t(0)).expect("b");
        let c = ob.enqueue(&create("c"), t(0)).expect("c");
        ob.mark_in_flight(&[a, b], t(1)).expect("in flight");
        ob.mark_done(a, "00TA", t(2)).expect("a done");
        ob.mark_done(b, "00TB", t(100)).expect("b done");
        assert_eq!(
            ob.prune_done(t(50)).expect("prune"),
            1,
            "only a is old and done"
        );
        assert_eq!(ob.by_id(a).expect("read"), None, "a is gone");
        assert!(
            ob.by_id(b).expect("read").is_some(),
            "b is too young to prune"
        );
        assert!(
            ob.by_id(c).expect("read").is_some(),
            "pending rows are never pruned"
        );
    }

    #[test]
    fn enqueued_rows_survive_reopening_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("callpop.db");
        let id = {
            let store = Store::open(&path).expect("open");
            store.outbox().enqueue(&create("a"), t(0)).expect("enqueue")
        };
        let store = Store::open(&path).expect("reopen");
        let items = store.outbox().by_call_object("a").expect("read");
        assert_eq!(
            ids(&items),
            [id],
            "the acknowledged row is there after reopening"
        );
    }

    #[test]
    fn full_database_is_a_typed_error_and_keeps_earlier_rows() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path().join("full.db")).expect("open");
        let pages: i64 = store
            .conn()
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .expect("page_count");
        store
            .conn()
            .pragma_update(None, "max_page_count", pages + 8)
            .expect("limit size");
        let filler = "x".repeat(2000);
        let mut acked = Vec::new();
        let err = loop {
            let mut item = create(&format!("call-{}", acked.len()));
            item.payload = json!({"Description": filler, "n": acked.len()});
            match store.outbox().enqueue(&item, t(0)) {
                Ok(id) => acked.push(id),
                Err(e) => break e,
            }
            assert!(
                acked.len() < 1000,
                "a few pages must fill up long before 1000 rows"
            );
        };
        assert!(
            matches!(err, Error::Full),
            "a full database is Error::Full, got {err:?}"
        );
        assert!(!acked.is_empty(), "some rows fit before the limit");
        let stats = store.outbox().stats().expect("reads still work");
        assert_eq!(
            stats.pending,
            acked.len() as u64,
            "every acknowledged row is kept and the refused one left nothing"
        );
        for (n, id) in acked.iter().enumerate() {
            let item = store.outbox().by_id(*id).expect("read").expect("row");
            assert_eq!(item.payload["n"], json!(n), "row {n} is intact");
        }
        assert!(
            store.integrity_check().is_ok(),
            "the file stays sound when full"
        );
        store
            .conn()
            .pragma_update(None, "max_page_count", pages + 1000)
            .expect("free space");
        let mut again = create("after-full");
        again.payload = json!({"Description": filler});
        assert!(
            store.outbox().enqueue(&again, t(1)).is_ok(),
            "once space is freed, the same store accepts writes again"
        );
    }

    /// Random operations (seeded, reproducible) against the rules the flusher relies on.
    #[test]
    fn random_operations_keep_order_and_once_only_rules() {
        let store = Store::open_in_memory().expect("open");
        let ob = store.outbox();
        let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move |n: u64| {
            rng = splitmix64(rng);
            rng % n
        };
        let mut creates_acked: std::collections::HashMap<String, OutboxId> = Default::default();
        for step in 0..2_000_i64 {
            let now = t(step);
            let call = format!("call-{}", next(12));
            match next(6) {
                0 | 1 => {
                    let result = ob.enqueue(&create(&call), now);
                    match (result, creates_acked.get(&call)) {
                        (Ok(id), None) => {
                            creates_acked.insert(call, id);
                        }
                        (Err(Error::DuplicateCreate { existing, .. }), Some(&first)) => {
                            assert_eq!(existing, first, "step {step}: names the first create")
                        }
                        (other, known) => {
                            panic!("step {step}: create of {call} ({known:?}) gave {other:?}")
                        }
                    }
                }
                2 => match ob.enqueue(&update(&call, None), now) {
                    Ok(_) => assert!(
                        creates_acked.contains_key(&call),
                        "step {step}: an update without a create must be refused"
                    ),
                    Err(Error::UpdateWithoutTarget { .. }) => assert!(
                        !creates_acked.contains_key(&call),
                        "step {step}: an update behind a create must be accepted"
                    ),
                    Err(e) => panic!("step {step}: update gave {e:?}"),
                },
                _ => {
                    let due = ob.due(now, 1 + next(20) as usize).expect("due");
                    let mut seen = std::collections::HashSet::new();
                    for item in &due {
                        assert!(
                            seen.insert(item.call_object.clone()),
                            "step {step}: one row per CallObject per batch"
                        );
                        if item.kind == WriteKind::Update {
                            assert!(
                                item.target_id.is_some(),
                                "step {step}: a due update knows its target"
                            );
                        }
                        let earlier_open = ob
                            .by_call_object(&item.call_object)
                            .expect("rows")
                            .into_iter()
                            .filter(|r| r.id < item.id)
                            .any(|r| {
                                matches!(
                                    r.state,
                                    OutboxState::Pending | OutboxState::InFlight { .. }
                                )
                            });
                        assert!(
                            !earlier_open,
                            "step {step}: {} overtook an earlier row",
                            item.id
                        );
                    }
                    let ids: Vec<_> = due.iter().map(|i| i.id).collect();
                    ob.mark_in_flight(&ids, now).expect("in flight");
                    let outcomes: Vec<_> = due
                        .iter()
                        .map(|item| {
                            let outcome = match next(4) {
                                0 => WriteOutcome::Retry {
                                    next_attempt_at: now
                                        + chrono::Duration::seconds(next(5) as i64),
                                    error: "UNABLE_TO_LOCK_ROW".into(),
                                },
                                1 if next(10) == 0 => WriteOutcome::Failed {
                                    code: "INVALID_FIELD".into(),
                                    message: "bad".into(),
                                    permanent: true,
                                },
                                _ => WriteOutcome::Done {
                                    sf_id: item
                                        .target_id
                                        .clone()
                                        .unwrap_or_else(|| format!("00T{}", item.id)),
                                },
                            };
                            (item.id, outcome)
                        })
                        .collect();
                    ob.record_outcomes(&outcomes, now).expect("outcomes");
                    if next(20) == 0 {
                        if let Some(failed) = ob.failed(1).expect("failed").first() {
                            ob.retry_failed(failed.id, now).expect("retry button");
                        }
                    }
                }
            }
        }
        let stats = ob.stats().expect("stats");
        assert_eq!(stats.in_flight, 0, "every batch was answered");
        assert!(
            stats.done > 0,
            "the run must have completed some writes to mean anything"
        );
        for (call, id) in &creates_acked {
            let creates: Vec<_> = ob
                .by_call_object(call)
                .expect("rows")
                .into_iter()
                .filter(|r| r.kind == WriteKind::Create)
                .collect();
            assert_eq!(creates.len(), 1, "{call}: exactly one create row");
            assert_eq!(creates[0].id, *id, "{call}: the acknowledged create");
        }
    }

    #[test]
    fn backoff_grows_caps_and_jitters_deterministically() {
        let id = OutboxId(7);
        let mut previous_full = Duration::ZERO;
        for attempt in 1..=12 {
            let full = BACKOFF_BASE
                .saturating_mul(1 << (attempt - 1))
                .min(BACKOFF_CAP);
            let wait = backoff(id, attempt, None);
            assert!(
                wait >= full / 2 && wait <= full,
                "attempt {attempt}: {wait:?} must lie within [{:?}, {full:?}]",
                full / 2
            );
            assert_eq!(wait, backoff(id, attempt, None), "same inputs, same wait");
            assert!(full >= previous_full, "the ceiling never shrinks");
            previous_full = full;
        }
        assert!(
            backoff(id, 40, None) <= BACKOFF_CAP,
            "huge attempt counts stay under the cap"
        );
        let spread: std::collections::HashSet<_> =
            (0..50).map(|i| backoff(OutboxId(i), 5, None)).collect();
        assert!(
            spread.len() > 40,
            "rows failing together must not retry at the same instant ({} distinct)",
            spread.len()
        );
    }

    #[test]
    fn backoff_respects_a_hint_up_to_an_hour() {
        let id = OutboxId(3);
        let hint = Duration::from_secs(120);
        assert_eq!(
            backoff(id, 1, Some(hint)),
            hint,
            "a Retry-After longer than the backoff is honoured"
        );
        assert_eq!(
            backoff(id, 12, Some(Duration::from_secs(1))),
            backoff(id, 12, None),
            "a short hint does not shorten a long backoff"
        );
        assert_eq!(
            backoff(id, 1, Some(Duration::from_secs(86_400))),
            HINT_CAP,
            "an absurd hint is capped at one hour"
        );
    }
}
