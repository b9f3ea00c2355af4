//! The call-history writer: one task that applies history writes in the order they were sent,
//! off the event loop (each write is a disk sync; the popup must not wait for one).
//!
//! History is the agent's record of calls, not the log: the Task's durability is the outbox's.
//! The loop and the flusher both send here, so a `Saved` from the flusher can never be
//! overwritten by an older snapshot from the loop.

use std::sync::Arc;

use store::Store;
use tokio::sync::mpsc;

use crate::clock::Clock;

/// One history write (a log state for a call not in the history, e.g. an SMS day's CallObject,
/// is ignored).
pub(crate) type HistoryWrite = store::CallWrite;

/// The sending side; cheap to clone.
pub(crate) type History = mpsc::UnboundedSender<HistoryWrite>;

/// Starts the writer; it ends when every sender is gone.
pub(crate) fn spawn(
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
) -> (History, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<HistoryWrite>();
    let task = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            let (store, now) = (store.clone(), clock.now());
            let done = tokio::task::spawn_blocking(move || apply(&store, batch, now)).await;
            if let Err(e) = done {
                tracing::error!(error = %e, "history writer failed");
            }
        }
    });
    (tx, task)
}

/// Applies a batch in one transaction: under a burst of calls the writer takes everything
/// waiting at once, so it keeps up (one disk sync per batch) and its queue stays short.
fn apply(store: &Store, batch: Vec<HistoryWrite>, now: chrono::DateTime<chrono::Utc>) {
    let writes = batch.len();
    match store.calls().apply(batch, now) {
        Ok(refused) => {
            for (write, e) in refused {
                match (write, e) {
                    (HistoryWrite::LogState { .. }, store::Error::NotFound { .. }) => {}
                    (HistoryWrite::Upsert(record), e) => {
                        tracing::warn!(call_id = %record.call_id, error = %e, "call history not written");
                    }
                    (HistoryWrite::LogState { call_id, .. }, e) => {
                        tracing::warn!(call_id = %call_id, error = %e, "log state not recorded");
                    }
                }
            }
        }
        Err(e) => tracing::warn!(writes, error = %e, "call history not written"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use chrono::TimeZone;
    use store::{CallDirection, CallRecord, LogState};

    fn record(id: &str, at: chrono::DateTime<chrono::Utc>) -> CallRecord {
        CallRecord {
            call_id: id.into(),
            direction: CallDirection::Inbound,
            remote_raw: "+14155550100".into(),
            remote_e164: Some("+14155550100".into()),
            display_name: None,
            started_at: at,
            answered_at: None,
            ended_at: None,
            matches: serde_json::json!([]),
            who_id: None,
            what_id: None,
            notes: String::new(),
            disposition: None,
            log_state: LogState::Pending,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_apply_in_the_order_sent() {
        let at = chrono::Utc
            .with_ymd_and_hms(2027, 1, 31, 10, 0, 0)
            .single()
            .expect("time");
        let store = Arc::new(Store::open_in_memory().expect("store"));
        let (history, task) = spawn(store.clone(), Arc::new(ManualClock::new(at)));
        let mut queued = record("h-1", at);
        queued.log_state = LogState::Queued;
        history
            .send(HistoryWrite::Upsert(Box::new(record("h-1", at))))
            .expect("send");
        history
            .send(HistoryWrite::Upsert(Box::new(queued)))
            .expect("send");
        history
            .send(HistoryWrite::LogState {
                call_id: "h-1".into(),
                state: LogState::Saved {
                    task_id: "00T000000000001AAA".into(),
                },
            })
            .expect("send");
        history
            .send(HistoryWrite::LogState {
                call_id: "sms|2027-01-31".into(),
                state: LogState::Queued,
            })
            .expect("a write for a call not in the history is accepted");
        drop(history);
        task.await.expect("writer ends when the senders are gone");
        let stored = store.calls().by_id("h-1").expect("read").expect("row");
        assert_eq!(
            stored.log_state,
            LogState::Saved {
                task_id: "00T000000000001AAA".into()
            },
            "the flusher's Saved, sent last, must not be overwritten by the earlier snapshot"
        );
    }
}
