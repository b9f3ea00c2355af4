//! Test support for `tests/kill9.rs`: writes to an outbox as fast as it can and prints every
//! acknowledgement on stdout (flushed) the moment the store returns, so that a test can SIGKILL
//! it at any instant and check that everything acknowledged is on disk.
//!
//! Usage: `store-crash-probe DB_PATH (enqueue|cycle) START COUNT`
//!
//! - `enqueue`: queues creates `probe-START` … one by one; prints `ack ID N` after each.
//! - `cycle`: in batches of 10, queues (`ack ID N`), marks the batch in flight
//!   (`inflight ID…`), then marks each done (`done ID`): one by one in even batches, all in one
//!   `record_outcomes` transaction in odd ones.
//!
//! Times are synthetic (derived from N): the store never needs the real clock.

use std::io::Write;
use std::process::ExitCode;

use callpop_store::{NewOutboxItem, OutboxId, Store, WriteKind, WriteOutcome};
use chrono::{DateTime, Utc};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("store-crash-probe: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, mode, start, count] = args.as_slice() else {
        return Err("usage: store-crash-probe DB_PATH (enqueue|cycle) START COUNT".into());
    };
    let start: u64 = start.parse()?;
    let count: u64 = count.parse()?;
    let store = Store::open(path)?;
    let mut out = std::io::stdout().lock();
    match mode.as_str() {
        "enqueue" => {
            for n in start..start + count {
                let id = store.outbox().enqueue(&item(n), at(n))?;
                writeln!(out, "ack {id} {n}")?;
                out.flush()?;
            }
        }
        "cycle" => {
            let mut n = start;
            while n < start + count {
                let mut batch: Vec<OutboxId> = Vec::new();
                for _ in 0..10 {
                    let id = store.outbox().enqueue(&item(n), at(n))?;
                    writeln!(out, "ack {id} {n}")?;
                    out.flush()?;
                    batch.push(id);
                    n += 1;
                }
                store.outbox().mark_in_flight(&batch, at(n))?;
                let list: Vec<String> = batch.iter().map(ToString::to_string).collect();
                writeln!(out, "inflight {}", list.join(" "))?;
                out.flush()?;
                if (n / 10) % 2 == 0 {
                    for id in batch {
                        store.outbox().mark_done(id, &sf_id(id), at(n))?;
                        writeln!(out, "done {id}")?;
                        out.flush()?;
                    }
                } else {
                    let outcomes: Vec<_> = batch
                        .iter()
                        .map(|&id| (id, WriteOutcome::Done { sf_id: sf_id(id) }))
                        .collect();
                    store.outbox().record_outcomes(&outcomes, at(n))?;
                    for id in batch {
                        writeln!(out, "done {id}")?;
                    }
                    out.flush()?;
                }
            }
        }
        other => return Err(format!("unknown mode {other:?}").into()),
    }
    Ok(())
}

fn item(n: u64) -> NewOutboxItem {
    NewOutboxItem {
        kind: WriteKind::Create,
        sobject: "Task".into(),
        call_object: format!("probe-{n}"),
        target_id: None,
        payload: serde_json::json!({ "n": n, "Subject": format!("Call {n}") }),
    }
}

/// A record id shaped like a Task id.
fn sf_id(id: OutboxId) -> String {
    format!("00T{:012}", id.0)
}

/// A synthetic, increasing time for item `n`.
fn at(n: u64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_800_000_000_000 + n as i64).unwrap_or_default()
}
