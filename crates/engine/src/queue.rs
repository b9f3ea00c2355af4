//! The outbox writer: one task that commits Task writes to the outbox in the order the event
//! loop sends them, off the loop. Each commit is a disk sync (the outbox survives `kill -9`), and
//! a ringing call must never wait behind the previous call's sync: the loop hands the write over
//! and goes on to the next event at once.
//!
//! The UI hears `Queued` only once the write is on disk; the flusher is woken after each commit.
//! A write the disk cannot take yet (the database locked by another connection, the disk full)
//! is never dropped: the agent sees it `Failed` with the reason, and the writer tries again with
//! a growing pause, the writes behind it waiting in order, until it is on disk and `Queued`. Only
//! a write that can never be stored (an update of a log that was never queued) stays `Failed`.
//!
//! An SMS goes the same way: its day's row and the day's Task write are committed together.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use store::{LogState, NewOutboxItem, Store};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use crate::events::{LogStatus, UiEvent};
use crate::history::{History, HistoryWrite};
use crate::sms::SmsJob;

/// The first pause before a write the disk could not take is tried again; it doubles up to
/// [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// One write for the outbox.
#[derive(Debug)]
pub(crate) struct QueueWrite {
    /// The write.
    pub write: Write,
    /// When the loop decided it.
    pub now: DateTime<Utc>,
}

/// What to commit.
#[derive(Debug)]
pub(crate) enum Write {
    /// A Task write (a call log, or a change to one).
    Task(NewOutboxItem),
    /// An SMS: its day's row and the day's Task write.
    Sms(Box<SmsJob>),
}

impl QueueWrite {
    /// A Task write decided at `now`.
    pub fn task(item: NewOutboxItem, now: DateTime<Utc>) -> Self {
        QueueWrite {
            write: Write::Task(item),
            now,
        }
    }

    /// The CallObject the agent and the history know the write by.
    pub fn call_object(&self) -> &str {
        match &self.write {
            Write::Task(item) => &item.call_object,
            Write::Sms(job) => &job.call_object,
        }
    }

    fn as_task(&self) -> Option<(&NewOutboxItem, DateTime<Utc>)> {
        match &self.write {
            Write::Task(item) => Some((item, self.now)),
            Write::Sms(_) => None,
        }
    }
}

/// The sending side; cheap to clone.
pub(crate) type Queue = mpsc::UnboundedSender<QueueWrite>;

/// What became of one write.
enum Outcome {
    /// On disk (or already there: a repeated create of the same CallObject).
    Queued,
    /// Not stored yet, for this reason; it will be tried again.
    Waiting(String),
    /// It can never be stored.
    Refused(store::Error),
}

/// Starts the writer; it ends once every sender is gone and every write it was given is
/// committed (or refused).
pub(crate) fn spawn(
    store: Arc<Store>,
    ui: mpsc::Sender<UiEvent>,
    history: History,
    wake: Arc<Notify>,
) -> (Queue, JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<QueueWrite>();
    let task = tokio::spawn(async move {
        let mut pending = Vec::new();
        // The CallObjects the agent was told are waiting (told once, until they are on disk).
        let mut told = HashSet::new();
        let mut pause = RETRY_FIRST;
        loop {
            if pending.is_empty() {
                match rx.recv().await {
                    Some(first) => pending.push(first),
                    None => break,
                }
            }
            while let Ok(more) = rx.try_recv() {
                pending.push(more);
            }
            let batch = std::mem::take(&mut pending);
            let committed = match off_loop(&store, move |store| Ok(commit(store, batch))).await {
                Ok(committed) => committed,
                Err(e) => {
                    tracing::error!(error = %e, "outbox writer stopped by the runtime");
                    break;
                }
            };
            for done in committed.done {
                told.remove(&done.call_object);
                let stored = matches!(done.outcome, Outcome::Queued)
                    .then_some(done.sms_number)
                    .flatten();
                report(&ui, &history, &wake, done.call_object, done.outcome).await;
                if let Some(number) = stored {
                    let _ = ui.send(UiEvent::SmsStored { number }).await;
                }
            }
            match committed.stuck {
                None => pause = RETRY_FIRST,
                Some((e, rest)) => {
                    for write in &rest {
                        let call_object = write.call_object();
                        if told.insert(call_object.to_owned()) {
                            let waiting = Outcome::Waiting(e.to_string());
                            report(&ui, &history, &wake, call_object.to_owned(), waiting).await;
                        }
                    }
                    pending = rest;
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RETRY_MAX);
                }
            }
        }
    });
    (tx, task)
}

/// A write [`commit`] is done with.
struct Done {
    /// Its CallObject.
    call_object: String,
    /// The SMS history's number, for an SMS.
    sms_number: Option<String>,
    /// On disk, or refused for good.
    outcome: Outcome,
}

/// What [`commit`] did with a batch.
struct Committed {
    /// The writes it is done with, in order.
    done: Vec<Done>,
    /// When the disk could not take a write yet: why, and that write with the ones behind it,
    /// none of them written, to try again.
    stuck: Option<(store::Error, Vec<QueueWrite>)>,
}

/// Commits the writes in order: each run of Task writes in one transaction (one disk sync), each
/// SMS in one transaction of its own (its day's row and its Task write together).
fn commit(store: &Store, batch: Vec<QueueWrite>) -> Committed {
    let mut rest = VecDeque::from(batch);
    let mut done = Vec::new();
    while let Some(first) = rest.front() {
        let results = match &first.write {
            Write::Task(_) => {
                let run = rest.iter().take_while(|w| w.as_task().is_some()).count();
                store
                    .outbox()
                    .enqueue_many(rest.iter().take(run).filter_map(QueueWrite::as_task))
            }
            Write::Sms(job) => match job.log(store, first.now) {
                Err(e) if e.is_transient() => Err(e),
                result => Ok(vec![result]),
            },
        };
        let results = match results {
            Ok(results) => results,
            Err(e) => {
                return Committed {
                    done,
                    stuck: Some((e, rest.into())),
                }
            }
        };
        for (write, result) in rest.drain(..results.len()).zip(results) {
            let outcome = match result {
                Ok(_) | Err(store::Error::DuplicateCreate { .. }) => Outcome::Queued,
                Err(e) => Outcome::Refused(e),
            };
            done.push(Done {
                call_object: write.call_object().to_owned(),
                sms_number: match &write.write {
                    Write::Sms(job) => Some(job.key.clone()),
                    Write::Task(_) => None,
                },
                outcome,
            });
        }
    }
    Committed { done, stuck: None }
}

/// Tells the UI and the history what became of a write; wakes the flusher for a queued one.
async fn report(
    ui: &mpsc::Sender<UiEvent>,
    history: &History,
    wake: &Notify,
    call_object: String,
    outcome: Outcome,
) {
    let failed = |reason: String| {
        (
            LogStatus::Failed {
                reason: reason.clone(),
            },
            LogState::Failed { reason },
        )
    };
    let (state, recorded) = match &outcome {
        Outcome::Queued => (LogStatus::Queued, LogState::Queued),
        Outcome::Waiting(e) => {
            tracing::warn!(call_object = %call_object, error = %e, "write not on disk yet; trying again");
            failed(format!(
                "not saved on this computer yet ({e}); trying again"
            ))
        }
        Outcome::Refused(e) => {
            tracing::error!(call_object = %call_object, error = %e, "write not queued");
            failed(format!("not queued: {e}"))
        }
    };
    // The loop recorded the call as queued before it handed the write over, so this lands
    // after that; and before the flusher's Saved, which can only follow the wake below.
    let _ = history.send(HistoryWrite::LogState {
        call_id: call_object.clone(),
        state: recorded,
    });
    if matches!(outcome, Outcome::Queued) {
        wake.notify_one();
    }
    if ui
        .send(UiEvent::LogState { call_object, state })
        .await
        .is_err()
    {
        tracing::debug!("UI receiver gone; log state dropped");
    }
}

/// Runs a store call on the blocking pool, so that a disk sync never holds up one of the
/// runtime's few worker threads (the event loop, the lookups and the HTTP client share them).
pub(crate) async fn off_loop<T, F>(store: &Arc<Store>, f: F) -> store::Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> store::Result<T> + Send + 'static,
{
    let store = store.clone();
    match tokio::task::spawn_blocking(move || f(&store)).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only when the runtime shuts down before the call started: nothing was written.
        Err(_) => Err(store::Error::Busy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use store::WriteKind;

    fn create(call_object: &str) -> NewOutboxItem {
        NewOutboxItem {
            kind: WriteKind::Create,
            sobject: "Task".into(),
            call_object: call_object.into(),
            target_id: None,
            payload: serde_json::json!({ "Subject": "Call" }),
        }
    }

    #[tokio::test]
    async fn writes_are_committed_in_order_then_reported_queued() {
        let store = Arc::new(Store::open_in_memory().expect("in-memory store"));
        let (ui_tx, mut ui_rx) = mpsc::channel(16);
        let wake = Arc::new(Notify::new());
        let (history, _history_rx) = mpsc::unbounded_channel();
        let (queue, task) = spawn(store.clone(), ui_tx, history, wake.clone());
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        for co in ["a", "b", "a"] {
            queue
                .send(QueueWrite::task(create(co), now))
                .expect("writer running");
        }
        drop(queue);
        task.await.expect("writer ends when its senders are gone");
        let mut seen = Vec::new();
        while let Ok(UiEvent::LogState { call_object, state }) = ui_rx.try_recv() {
            seen.push((call_object, state));
        }
        assert_eq!(
            seen,
            [
                ("a".into(), LogStatus::Queued),
                ("b".into(), LogStatus::Queued),
                ("a".into(), LogStatus::Queued),
            ],
            "every write reported once, in order; a repeated create is already queued"
        );
        let stats = store.outbox().stats().expect("stats");
        assert_eq!(stats.pending, 2, "the repeated create was not stored twice");
    }

    #[tokio::test]
    async fn a_refused_write_is_reported_failed_with_the_reason() {
        let store = Arc::new(Store::open_in_memory().expect("in-memory store"));
        let (ui_tx, mut ui_rx) = mpsc::channel(16);
        let (history, mut history_rx) = mpsc::unbounded_channel();
        let (queue, task) = spawn(store, ui_tx, history, Arc::new(Notify::new()));
        let mut item = create("orphan");
        item.kind = WriteKind::Update;
        queue
            .send(QueueWrite::task(item, Utc::now()))
            .expect("writer running");
        drop(queue);
        task.await.expect("writer ends");
        match ui_rx.try_recv() {
            Ok(UiEvent::LogState {
                state: LogStatus::Failed { reason },
                ..
            }) => assert!(
                reason.starts_with("not queued"),
                "the agent is told why: {reason}"
            ),
            other => panic!("an update without its create must fail visibly, got {other:?}"),
        }
        assert!(
            matches!(
                history_rx.try_recv(),
                Ok(HistoryWrite::LogState {
                    state: LogState::Failed { .. },
                    ..
                })
            ),
            "the call history says failed too"
        );
    }

    /// A store on disk whose inserts into `table` fail, as on a failing disk, until the
    /// returned second connection runs `DROP TRIGGER trouble`.
    fn troubled_store(table: &str) -> (tempfile::TempDir, Arc<Store>, rusqlite::Connection) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("callpop.db");
        let store = Arc::new(Store::open(&path).expect("store"));
        let other = rusqlite::Connection::open(&path).expect("second connection");
        other
            .execute_batch(&format!(
                "CREATE TRIGGER trouble BEFORE INSERT ON {table}
                 BEGIN SELECT RAISE(ABORT, 'disk trouble'); END;"
            ))
            .expect("trigger");
        (dir, store, other)
    }

    #[tokio::test]
    async fn a_write_the_disk_cannot_take_yet_is_kept_and_tried_again_in_order() {
        let (_dir, store, other) = troubled_store("outbox");
        let (ui_tx, mut ui_rx) = mpsc::channel(16);
        let (history, mut history_rx) = mpsc::unbounded_channel();
        let (queue, task) = spawn(store.clone(), ui_tx, history, Arc::new(Notify::new()));
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        for co in ["a", "b"] {
            queue
                .send(QueueWrite::task(create(co), now))
                .expect("writer running");
        }
        match ui_rx.recv().await {
            Some(UiEvent::LogState {
                call_object,
                state: LogStatus::Failed { reason },
            }) => {
                assert_eq!(call_object, "a", "the first write is the one waiting");
                assert!(
                    reason.contains("trying again"),
                    "the agent is told: {reason}"
                );
            }
            other => panic!("the agent must see the write is not on disk yet, got {other:?}"),
        }
        assert_eq!(store.outbox().stats().expect("stats").pending, 0);
        other
            .execute_batch("DROP TRIGGER trouble")
            .expect("the disk is fine again");
        drop(queue);
        task.await.expect("writer ends once everything is on disk");
        let mut seen = Vec::new();
        while let Ok(UiEvent::LogState { call_object, state }) = ui_rx.try_recv() {
            if state == LogStatus::Queued {
                seen.push(call_object);
            }
        }
        assert_eq!(seen, ["a", "b"], "both written, in the order given");
        let stats = store.outbox().stats().expect("stats");
        assert_eq!(stats.pending, 2, "nothing lost, nothing twice");
        let mut last = std::collections::HashMap::new();
        while let Ok(HistoryWrite::LogState { call_id, state }) = history_rx.try_recv() {
            last.insert(call_id, state);
        }
        assert_eq!(
            last.get("a"),
            Some(&LogState::Queued),
            "history ends queued"
        );
    }

    fn sms(text: &str, at: DateTime<Utc>) -> QueueWrite {
        let number = cti::normalize("+82 10-1234-5678", cti::Region::parse("KR").expect("KR"))
            .expect("a mobile number");
        let behaviour = cti::Behaviour::default();
        let key = number.e164.clone().expect("E.164");
        let (call_object, day) = cti::task::sms_day_key(&key, at, behaviour.time_zone);
        QueueWrite {
            write: Write::Sms(Box::new(SmsJob {
                key,
                day,
                call_object,
                number,
                who: None,
                message: cti::task::SmsMessage {
                    at,
                    direction: cti::task::Direction::Incoming,
                    text: text.into(),
                },
                owner_id: None,
                behaviour,
            })),
            now: at,
        }
    }

    #[tokio::test]
    async fn an_sms_the_disk_cannot_take_yet_is_kept_and_logged_in_order_with_its_day() {
        let (_dir, store, other) = troubled_store("sms_days");
        let (ui_tx, mut ui_rx) = mpsc::channel(16);
        let (history, _history_rx) = mpsc::unbounded_channel();
        let (queue, task) = spawn(store.clone(), ui_tx, history, Arc::new(Notify::new()));
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap();
        queue.send(sms("안녕하세요", at)).expect("writer running");
        queue
            .send(sms("다시 연락 주세요", at + chrono::Duration::minutes(1)))
            .expect("writer running");
        match ui_rx.recv().await {
            Some(UiEvent::LogState {
                state: LogStatus::Failed { reason },
                ..
            }) => assert!(
                reason.contains("trying again"),
                "the agent is told: {reason}"
            ),
            other => panic!("the agent must see the SMS is not on disk yet, got {other:?}"),
        }
        assert_eq!(store.outbox().stats().expect("stats").pending, 0);
        other
            .execute_batch("DROP TRIGGER trouble")
            .expect("the disk is fine again");
        drop(queue);
        task.await.expect("writer ends once everything is on disk");
        let mut stored = Vec::new();
        while let Ok(event) = ui_rx.try_recv() {
            if let UiEvent::SmsStored { number } = event {
                stored.push(number);
            }
        }
        assert_eq!(
            stored,
            ["+821012345678", "+821012345678"],
            "the UI hears of each SMS once it is on disk, never before"
        );
        let days = store.sms_days().latest_per_number(10).expect("threads");
        assert_eq!(days.len(), 1, "one day for the number");
        let texts: Vec<String> =
            serde_json::from_value::<Vec<cti::task::SmsMessage>>(days[0].messages.clone())
                .expect("messages")
                .into_iter()
                .map(|m| m.text)
                .collect();
        assert_eq!(
            texts,
            ["안녕하세요", "다시 연락 주세요"],
            "both messages kept, in order, text intact"
        );
        let writes = store
            .outbox()
            .by_call_object(&days_call_object(&days[0]))
            .expect("outbox");
        let kinds: Vec<_> = writes.iter().map(|w| w.kind).collect();
        assert_eq!(
            kinds,
            [WriteKind::Create, WriteKind::Update],
            "the day's Task is created once, then updated"
        );
    }

    fn days_call_object(day: &store::SmsDay) -> String {
        format!("{}|{}", day.number, day.day)
    }
}
