//! The flusher: a tokio task that sends the outbox to Salesforce.
//!
//! Due rows (at most [`store::MAX_BATCH`]) are marked in flight *before* sending; creates go as
//! one sObject Collections request (`allOrNone: false`), updates as one PATCH each. Per-record
//! results become done / failed (permanent refusals, the UI is told why) / retry (with
//! [`store::backoff`]). `REQUEST_LIMIT_EXCEEDED` holds all sending until its back-off has passed;
//! `ReconnectNeeded` holds until a new login (the UI is told once). Rows left in flight (by a
//! crash, a timeout or a reset) have an unknown outcome: before anything else is sent, Salesforce
//! is asked for their Tasks by `CallObject`; found → done with that Id, not found → pending.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use salesforce::{ApiError, Client, ErrorClass, SaveResult};
use store::{LogState, OutboxItem, Store, WriteKind, WriteOutcome};
use tokio::sync::{mpsc, Notify};

use crate::clock::Clock;
use crate::connection::Connection;
use crate::events::{ConnectionState, LogStatus, UiEvent};
use crate::history::{History, HistoryWrite};
use crate::queue::off_loop;

/// Most CallObjects asked about in one SOQL `IN (…)` query.
const RESOLVE_CHUNK: usize = 100;

/// How the flusher paces itself.
#[derive(Debug, Clone)]
pub struct FlushConfig {
    /// Rows per batch, 1..=200 (default 200).
    pub batch: usize,
    /// Wake at least this often when nothing is known to be due (default 30 s of clock time).
    pub poll: Duration,
    /// Wait after a transport failure (timeout, reset) before asking Salesforce what became of
    /// the writes (default 2 s of clock time).
    pub transport_backoff: Duration,
    /// After being woken by a new write, wait this long (real time) before reading what is
    /// due, so that writes decided close together go in one request (default 250 ms): fewer API
    /// calls against the org's daily limit, and less work while calls ring.
    pub linger: Duration,
}

impl Default for FlushConfig {
    fn default() -> Self {
        Self {
            batch: store::MAX_BATCH,
            poll: Duration::from_secs(30),
            transport_backoff: salesforce::error::TRANSPORT_BACKOFF,
            linger: Duration::from_millis(250),
        }
    }
}

/// Why sending stopped for now.
#[derive(Debug, Clone, PartialEq)]
enum Hold {
    /// Nothing is sent before this time.
    Until(DateTime<Utc>),
    /// Nothing is sent before a new login.
    Reconnect,
}

/// What became of one request.
enum Sent {
    /// Outcomes per row (possibly some rows still unknown).
    Outcomes(Vec<(OutboxItem, WriteOutcome)>),
    /// The request as a whole failed; the rows are handled by `apply_request_error`.
    Error(salesforce::Error),
}

/// The flusher's state; run with [`Flusher::run`].
pub(crate) struct Flusher {
    pub store: Arc<Store>,
    pub client: Client,
    pub clock: Arc<dyn Clock>,
    pub wake: Arc<Notify>,
    pub signed_in: Arc<Notify>,
    pub ui: mpsc::Sender<UiEvent>,
    pub history: History,
    pub config: FlushConfig,
    hold: Option<Hold>,
    resolve_needed: bool,
    next_wake: Option<DateTime<Utc>>,
    connection: Arc<Connection>,
}

impl Flusher {
    pub(crate) fn new(
        store: Arc<Store>,
        client: Client,
        clock: Arc<dyn Clock>,
        wake: Arc<Notify>,
        signed_in: Arc<Notify>,
        ui: mpsc::Sender<UiEvent>,
        history: History,
        config: FlushConfig,
        connection: Arc<Connection>,
    ) -> Self {
        Self {
            store,
            client,
            clock,
            wake,
            signed_in,
            ui,
            history,
            config,
            hold: None,
            // At start-up every in-flight row was left by the previous run.
            resolve_needed: true,
            next_wake: None,
            connection,
        }
    }

    /// Runs until the task is aborted (safe at any await: the outbox is durable and rows left
    /// in flight are resolved at the next start).
    pub(crate) async fn run(mut self) {
        loop {
            let now = self.clock.now();
            match self.hold.clone() {
                Some(Hold::Reconnect) => {
                    if self.client.is_signed_in().await {
                        tracing::info!("signed in again: sending resumes");
                        self.hold = None;
                        self.resolve_needed = true;
                    } else {
                        let poll = self.deadline(now, None);
                        tokio::select! {
                            _ = self.signed_in.notified() => {}
                            _ = self.clock.sleep_until(poll) => {}
                        }
                    }
                    continue;
                }
                Some(Hold::Until(until)) if now < until => {
                    self.clock.sleep_until(until).await;
                    continue;
                }
                Some(Hold::Until(_)) => self.hold = None,
                None => {}
            }
            if self.resolve_needed {
                match self.resolve_unknown(now).await {
                    Ok(()) => self.resolve_needed = false,
                    Err(e) => {
                        tracing::info!(error = %e, "could not resolve writes of unknown outcome");
                        self.hold_for(&e, now, None).await;
                    }
                }
                continue;
            }
            // Reading up to a batch of rows (and decoding their payloads) is work for the
            // blocking pool, not for a runtime worker a popup may be waiting on.
            let batch = self.config.batch;
            let due = match off_loop(&self.store, move |store| store.outbox().due(now, batch)).await
            {
                Ok(due) => due,
                Err(e) => {
                    tracing::error!(error = %e, "reading the outbox failed");
                    self.hold = Some(Hold::Until(now + to_chrono(self.config.poll)));
                    continue;
                }
            };
            if due.is_empty() {
                let deadline = self.deadline(now, self.next_wake.filter(|t| *t > now));
                let woken = tokio::select! {
                    _ = self.wake.notified() => true,
                    _ = self.clock.sleep_until(deadline) => false,
                };
                if woken && !self.config.linger.is_zero() {
                    tokio::time::sleep(self.config.linger).await;
                }
                if self.next_wake.is_some_and(|t| t <= self.clock.now()) {
                    self.next_wake = None;
                }
                continue;
            }
            self.send(due, now).await;
        }
    }

    /// The next time to look again: `at` or the poll interval, whichever is sooner.
    fn deadline(&self, now: DateTime<Utc>, at: Option<DateTime<Utc>>) -> DateTime<Utc> {
        let poll = now + to_chrono(self.config.poll);
        at.map_or(poll, |t| t.min(poll))
    }

    fn schedule(&mut self, at: DateTime<Utc>) {
        self.next_wake = Some(self.next_wake.map_or(at, |t| t.min(at)));
    }

    async fn emit(&self, event: UiEvent) {
        if self.ui.send(event).await.is_err() {
            tracing::debug!("UI receiver gone; event dropped");
        }
    }

    async fn set_connection(&mut self, state: ConnectionState) {
        self.connection.set(state).await;
    }

    /// Sets the hold a failed request calls for and tells the UI.
    async fn hold_for(
        &mut self,
        error: &salesforce::Error,
        now: DateTime<Utc>,
        first: Option<&OutboxItem>,
    ) {
        match error.classify() {
            ErrorClass::ReconnectNeeded => {
                self.hold = Some(Hold::Reconnect);
                self.set_connection(crate::connection::signed_out(error))
                    .await;
            }
            ErrorClass::Retryable { after } => {
                let wait = match first {
                    Some(row) => store::backoff(row.id, row.attempts + 1, after),
                    None => after.unwrap_or(self.config.transport_backoff),
                };
                let until = now + to_chrono(wait);
                self.hold = Some(Hold::Until(until));
                let state = if error.api_code() == Some("REQUEST_LIMIT_EXCEEDED") {
                    ConnectionState::LimitExceeded { until }
                } else {
                    ConnectionState::offline(error)
                };
                self.set_connection(state).await;
            }
            ErrorClass::Permanent { .. } => {
                let until = now + to_chrono(self.config.poll);
                self.hold = Some(Hold::Until(until));
                self.set_connection(ConnectionState::offline(error)).await;
            }
        }
    }

    /// Asks Salesforce about every in-flight row (no request of ours is running, so each one's
    /// outcome is unknown): creates by `CallObject`, found → done, not found → pending; updates
    /// are idempotent and simply go back to pending.
    async fn resolve_unknown(&mut self, now: DateTime<Utc>) -> Result<(), salesforce::Error> {
        let unknown = match off_loop(&self.store, move |store| {
            store.outbox().unknown_outcome(now)
        })
        .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::error!(error = %e, "listing in-flight writes failed");
                return Ok(());
            }
        };
        if unknown.is_empty() {
            return Ok(());
        }
        tracing::info!(count = unknown.len(), "resolving writes of unknown outcome");
        let (creates, updates): (Vec<_>, Vec<_>) = unknown
            .into_iter()
            .partition(|r| r.kind == WriteKind::Create);
        for row in updates {
            self.resolve_row(&row, None, now).await;
        }
        for chunk in creates.chunks(RESOLVE_CHUNK) {
            let soql = soql_tasks_by_call_objects(chunk.iter().map(|r| r.call_object.as_str()));
            let found = self.client.query(&soql).await?;
            let ids: HashMap<String, String> = found
                .records
                .into_iter()
                .filter_map(|r| {
                    let co = r.fields.get("CallObject")?.as_str()?.to_owned();
                    Some((co, r.id))
                })
                .collect();
            for row in chunk {
                self.resolve_row(row, ids.get(&row.call_object).map(String::as_str), now)
                    .await;
            }
        }
        self.set_connection(ConnectionState::Connected).await;
        Ok(())
    }

    async fn resolve_row(&mut self, row: &OutboxItem, found: Option<&str>, now: DateTime<Utc>) {
        let (id, sf_id) = (row.id, found.map(str::to_owned));
        let resolved = off_loop(&self.store, move |store| {
            store.outbox().resolve_unknown(id, sf_id.as_deref(), now)
        })
        .await;
        if let Err(e) = resolved {
            tracing::error!(id = %row.id, error = %e, "recording a resolved write failed");
            return;
        }
        if let Some(sf_id) = found {
            self.log_state(
                &row.call_object,
                LogStatus::Saved {
                    task_id: sf_id.to_owned(),
                },
            )
            .await;
        }
    }

    /// Sends one batch and records what became of each row.
    async fn send(&mut self, due: Vec<OutboxItem>, now: DateTime<Utc>) {
        let ids: Vec<_> = due.iter().map(|r| r.id).collect();
        let marked = {
            let ids = ids.clone();
            off_loop(&self.store, move |store| {
                store.outbox().mark_in_flight(&ids, now)
            })
            .await
        };
        if let Err(e) = marked {
            tracing::error!(error = %e, "marking writes in flight failed");
            self.hold = Some(Hold::Until(now + to_chrono(self.config.poll)));
            return;
        }
        let (creates, updates): (Vec<_>, Vec<_>) =
            due.into_iter().partition(|r| r.kind == WriteKind::Create);
        if !creates.is_empty() {
            match self.send_creates(&creates).await {
                Sent::Outcomes(outcomes) => self.record(outcomes, now).await,
                Sent::Error(e) => self.request_failed(&creates, &e, now, true).await,
            }
        }
        let mut rest = updates.into_iter();
        while let Some(row) = rest.next() {
            if self.hold.is_some() {
                // Sending stopped: the rest go back to pending untouched.
                let rows: Vec<_> = std::iter::once(row).chain(rest.by_ref()).collect();
                let outcomes = rows
                    .into_iter()
                    .map(|r| {
                        let outcome = WriteOutcome::Retry {
                            next_attempt_at: now,
                            error: "not sent: sending is on hold".into(),
                        };
                        (r, outcome)
                    })
                    .collect();
                self.record(outcomes, now).await;
                break;
            }
            let Some(target) = row.target_id.clone() else {
                continue;
            };
            match self
                .client
                .update(&row.sobject, &target, &row.payload)
                .await
            {
                Ok(()) => {
                    let outcome = WriteOutcome::Done { sf_id: target };
                    self.record(vec![(row, outcome)], now).await;
                }
                Err(e) => self.request_failed(&[row], &e, now, false).await,
            }
        }
    }

    async fn send_creates(&self, rows: &[OutboxItem]) -> Sent {
        let records: Vec<(&str, &serde_json::Value)> = rows
            .iter()
            .map(|r| (r.sobject.as_str(), &r.payload))
            .collect();
        match self.client.create_many(&records).await {
            Ok(results) if results.len() == rows.len() => Sent::Outcomes(
                rows.iter()
                    .cloned()
                    .zip(results)
                    .map(|(row, result)| {
                        let outcome = save_outcome(&row, &result, self.clock.now());
                        (row, outcome)
                    })
                    .collect(),
            ),
            Ok(results) => Sent::Error(salesforce::Error::Decode {
                what: "sObject Collections results",
                message: format!("{} results for {} records", results.len(), rows.len()),
                body: String::new(),
            }),
            Err(e) => Sent::Error(e),
        }
    }

    /// A whole request failed: decide for its rows and set the hold.
    async fn request_failed(
        &mut self,
        rows: &[OutboxItem],
        error: &salesforce::Error,
        now: DateTime<Utc>,
        creates: bool,
    ) {
        tracing::info!(error = %error, rows = rows.len(), "write request failed");
        let unknown = matches!(
            error,
            salesforce::Error::Timeout { .. }
                | salesforce::Error::Connection { .. }
                | salesforce::Error::Decode { .. }
        );
        if creates && unknown {
            // The creates may have been written: leave them in flight and ask by CallObject
            // before sending anything again.
            self.resolve_needed = true;
            self.hold_for(error, now, rows.first()).await;
            return;
        }
        let outcomes = rows
            .iter()
            .map(|row| {
                let outcome = match error.classify() {
                    ErrorClass::Retryable { after } => WriteOutcome::Retry {
                        next_attempt_at: now
                            + to_chrono(store::backoff(row.id, row.attempts + 1, after)),
                        error: error.to_string(),
                    },
                    ErrorClass::ReconnectNeeded => WriteOutcome::Retry {
                        next_attempt_at: now,
                        error: error.to_string(),
                    },
                    ErrorClass::Permanent { .. } => WriteOutcome::Failed {
                        code: error.api_code().unwrap_or("REQUEST_FAILED").to_owned(),
                        message: error.to_string(),
                        permanent: true,
                    },
                };
                (row.clone(), outcome)
            })
            .collect();
        self.record(outcomes, now).await;
        match error.classify() {
            ErrorClass::ReconnectNeeded => self.hold_for(error, now, None).await,
            ErrorClass::Retryable { .. } if error.api_code() == Some("REQUEST_LIMIT_EXCEEDED") => {
                self.hold_for(error, now, rows.first()).await
            }
            ErrorClass::Retryable { .. } => {
                self.set_connection(ConnectionState::offline(error)).await
            }
            ErrorClass::Permanent { .. } => {}
        }
    }

    /// Records per-row outcomes in one transaction and tells the UI.
    async fn record(&mut self, outcomes: Vec<(OutboxItem, WriteOutcome)>, now: DateTime<Utc>) {
        let pairs: Vec<_> = outcomes.iter().map(|(r, o)| (r.id, o.clone())).collect();
        if let Err(e) = off_loop(&self.store, move |store| {
            store.outbox().record_outcomes(&pairs, now)
        })
        .await
        {
            tracing::error!(error = %e, "recording write outcomes failed");
            return;
        }
        let mut any_done = false;
        for (row, outcome) in outcomes {
            match outcome {
                WriteOutcome::Done { sf_id } => {
                    any_done = true;
                    self.log_state(&row.call_object, LogStatus::Saved { task_id: sf_id })
                        .await;
                }
                WriteOutcome::Failed { message, .. } => {
                    self.log_state(&row.call_object, LogStatus::Failed { reason: message })
                        .await;
                }
                WriteOutcome::Retry {
                    next_attempt_at, ..
                } => self.schedule(next_attempt_at),
            }
        }
        if any_done {
            self.set_connection(ConnectionState::Connected).await;
        }
    }

    async fn log_state(&mut self, call_object: &str, state: LogStatus) {
        let stored = match &state {
            LogStatus::Saved { task_id } => Some(LogState::Saved {
                task_id: task_id.clone(),
            }),
            LogStatus::Failed { reason } => Some(LogState::Failed {
                reason: reason.clone(),
            }),
            LogStatus::Queued => None,
        };
        if let Some(state) = stored {
            let write = HistoryWrite::LogState {
                call_id: call_object.to_owned(),
                state,
            };
            if self.history.send(write).is_err() {
                tracing::warn!("history writer gone; log state not recorded");
            }
        }
        self.emit(UiEvent::LogState {
            call_object: call_object.to_owned(),
            state,
        })
        .await;
    }
}

/// What one record's result of a collection means for its row.
fn save_outcome(row: &OutboxItem, result: &SaveResult, now: DateTime<Utc>) -> WriteOutcome {
    if result.success {
        if let Some(id) = &result.id {
            return WriteOutcome::Done { sf_id: id.clone() };
        }
    }
    let first = result.errors.first().cloned().unwrap_or(ApiError {
        message: "Salesforce reported no success and no error".into(),
        code: "UNKNOWN".into(),
        fields: Vec::new(),
    });
    let as_error = salesforce::Error::Api {
        status: 400,
        errors: result.errors.clone(),
        retry_after: None,
    };
    match as_error.classify() {
        ErrorClass::Retryable { after } => WriteOutcome::Retry {
            next_attempt_at: now + to_chrono(store::backoff(row.id, row.attempts + 1, after)),
            error: format!("{}: {}", first.code, first.message),
        },
        ErrorClass::ReconnectNeeded => WriteOutcome::Retry {
            next_attempt_at: now,
            error: format!("{}: {}", first.code, first.message),
        },
        ErrorClass::Permanent { .. } => WriteOutcome::Failed {
            code: first.code,
            message: first.message,
            permanent: true,
        },
    }
}

/// `SELECT Id, CallObject FROM Task WHERE CallObject IN ('…', …)`, each value escaped.
pub fn soql_tasks_by_call_objects<'a>(call_objects: impl Iterator<Item = &'a str>) -> String {
    let list: Vec<String> = call_objects
        .map(|c| format!("'{}'", salesforce::escape::escape_soql_literal(c)))
        .collect();
    format!(
        "SELECT Id, CallObject FROM Task WHERE CallObject IN ({})",
        list.join(", ")
    )
}

/// A std duration as a chrono one (saturating).
pub(crate) fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use store::{OutboxId, OutboxState};

    fn row(id: i64, attempts: u32) -> OutboxItem {
        let t = Utc
            .with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
            .single()
            .expect("time");
        OutboxItem {
            id: OutboxId(id),
            kind: WriteKind::Create,
            sobject: "Task".into(),
            call_object: format!("call-{id}"),
            target_id: None,
            payload: serde_json::json!({}),
            state: OutboxState::Pending,
            attempts,
            next_attempt_at: t,
            last_error: None,
            created_at: t,
            updated_at: t,
        }
    }

    fn failed(code: &str) -> SaveResult {
        SaveResult {
            id: None,
            success: false,
            errors: vec![ApiError {
                message: format!("{code} message"),
                code: code.into(),
                fields: vec!["Subject".into()],
            }],
        }
    }

    #[test]
    fn success_is_done_with_the_id() {
        let now = Utc::now();
        let ok = SaveResult {
            id: Some("00T000000000001AAA".into()),
            success: true,
            errors: vec![],
        };
        assert_eq!(
            save_outcome(&row(1, 0), &ok, now),
            WriteOutcome::Done {
                sf_id: "00T000000000001AAA".into()
            },
            "a successful record is done with the Id Salesforce gave"
        );
    }

    #[test]
    fn validation_error_is_a_permanent_failure_with_the_reason() {
        let now = Utc::now();
        let outcome = save_outcome(
            &row(1, 0),
            &failed("FIELD_CUSTOM_VALIDATION_EXCEPTION"),
            now,
        );
        assert_eq!(
            outcome,
            WriteOutcome::Failed {
                code: "FIELD_CUSTOM_VALIDATION_EXCEPTION".into(),
                message: "FIELD_CUSTOM_VALIDATION_EXCEPTION message".into(),
                permanent: true,
            },
            "a validation rule refusal cannot succeed by resending"
        );
    }

    #[test]
    fn lock_contention_is_retried_after_the_backoff() {
        let now = Utc::now();
        let r = row(7, 2);
        let outcome = save_outcome(&r, &failed("UNABLE_TO_LOCK_ROW"), now);
        let expected = now
            + to_chrono(store::backoff(
                r.id,
                3,
                Some(salesforce::error::LOCK_BACKOFF),
            ));
        match outcome {
            WriteOutcome::Retry {
                next_attempt_at, ..
            } => assert_eq!(
                next_attempt_at, expected,
                "a locked row is retried after the store's backoff for this attempt"
            ),
            other => panic!("UNABLE_TO_LOCK_ROW must be retried, got {other:?}"),
        }
    }

    #[test]
    fn resolve_query_escapes_every_call_object() {
        let soql = soql_tasks_by_call_objects(["a", "o'brien"].into_iter());
        assert_eq!(
            soql, "SELECT Id, CallObject FROM Task WHERE CallObject IN ('a', 'o\\'brien')",
            "each CallObject is quoted and escaped so a quote cannot end the literal"
        );
    }
}
