//! Sharing: one `Store` behind an `Arc` across threads, and two `Store`s (as two processes
//! would) on the same file. Every enqueue lands exactly once and none fails with `Busy`.

use std::sync::Arc;

use callpop_store::{NewOutboxItem, Store, WriteKind};
use chrono::DateTime;

fn item(n: usize) -> NewOutboxItem {
    NewOutboxItem {
        kind: WriteKind::Create,
        sobject: "Task".into(),
        call_object: format!("call-{n}"),
        target_id: None,
        payload: serde_json::json!({ "n": n }),
    }
}

fn at(n: usize) -> DateTime<chrono::Utc> {
    DateTime::from_timestamp_millis(1_800_000_000_000 + n as i64).expect("time")
}

const THREADS: usize = 4;
const PER_THREAD: usize = 50;

fn assert_all_landed(store: &Store) {
    let stats = store.outbox().stats().expect("stats");
    assert_eq!(
        stats.pending,
        (THREADS * PER_THREAD) as u64,
        "every enqueue from every thread must be stored once"
    );
    for n in 0..THREADS * PER_THREAD {
        let rows = store
            .outbox()
            .by_call_object(&format!("call-{n}"))
            .expect("read");
        assert_eq!(rows.len(), 1, "item {n} must be stored exactly once");
    }
}

#[test]
fn threads_share_one_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(Store::open(dir.path().join("callpop.db")).expect("open"));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let n = t * PER_THREAD + i;
                    store.outbox().enqueue(&item(n), at(n)).expect("enqueue");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    assert_all_landed(&store);
}

#[test]
fn two_stores_on_one_file_wait_for_each_other() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("callpop.db");
    drop(Store::open(&path).expect("create"));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                // Each thread its own connection, as separate processes would have.
                let store = Store::open(&path).expect("open");
                for i in 0..PER_THREAD {
                    let n = t * PER_THREAD + i;
                    store
                        .outbox()
                        .enqueue(&item(n), at(n))
                        .expect("enqueue must wait for the other connection, not fail");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    assert_all_landed(&Store::open(&path).expect("reopen"));
}
