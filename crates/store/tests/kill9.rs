//! kill -9 at a random instant: every write the store acknowledged is on disk exactly once, the
//! file is sound, and writes left in flight are reported as of unknown outcome.
//!
//! The probe (`src/bin/store-crash-probe.rs`) writes as fast as it can and prints each
//! acknowledgement; this test SIGKILLs it (`Child::kill` sends SIGKILL on Unix) after a random
//! number of acknowledgements plus a random sub-millisecond delay, several times on the same
//! file, and checks the file after each kill.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use callpop_store::{OutboxId, OutboxState, Store};
use chrono::DateTime;

const PROBE: &str = env!("CARGO_BIN_EXE_store-crash-probe");

/// What the probe acknowledged, accumulated over every run on one file.
#[derive(Default)]
struct Acks {
    /// Acknowledged enqueues: row id → item number.
    queued: BTreeMap<i64, u64>,
    /// Rows acknowledged as marked in flight.
    in_flight: BTreeSet<i64>,
    /// Rows acknowledged as marked done.
    done: BTreeSet<i64>,
}

impl Acks {
    fn take(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("ack") => {
                let id = words.next().and_then(|w| w.parse().ok()).expect("ack id");
                let n = words.next().and_then(|w| w.parse().ok()).expect("ack n");
                self.queued.insert(id, n);
            }
            Some("inflight") => self
                .in_flight
                .extend(words.map(|w| w.parse::<i64>().expect("inflight id"))),
            Some("done") => {
                self.done
                    .insert(words.next().and_then(|w| w.parse().ok()).expect("done id"));
            }
            _ => panic!("unexpected probe output {line:?}"),
        }
    }
}

/// A small deterministic generator (xorshift64*), seeded per test run and printed on failure.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    nanos | 1
}

/// Runs the probe on `path` and SIGKILLs it after `kill_after` acknowledgements plus
/// `delay_us`; every line it printed (before or after we read it) counts as acknowledged.
fn run_and_kill(
    path: &Path,
    mode: &str,
    start: u64,
    kill_after: u64,
    delay_us: u64,
    acks: &mut Acks,
) {
    let mut child = Command::new(PROBE)
        .arg(path)
        .arg(mode)
        .arg(start.to_string())
        .arg("100000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the probe");
    let stdout = child.stdout.take().expect("probe stdout");
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = 0;
    while seen < kill_after {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => {
                acks.take(&line);
                seen += 1;
            }
            Err(e) => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("probe output");
                panic!(
                    "the probe stopped acknowledging ({e}): {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    std::thread::sleep(Duration::from_micros(delay_us));
    child.kill().expect("SIGKILL the probe");
    let status = child.wait().expect("reap the probe");
    assert!(
        !status.success(),
        "the probe must have died from the signal, not finished: {status:?}"
    );
    reader.join().expect("reader thread");
    // Lines written before the kill but not yet read are acknowledgements too.
    for line in rx.try_iter() {
        acks.take(&line);
    }
}

/// Reopens the file and checks it against everything acknowledged so far.
fn check(path: &Path, acks: &Acks, context: &str) {
    let store = Store::open(path).unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
    store
        .integrity_check()
        .unwrap_or_else(|e| panic!("{context}: integrity_check failed: {e}"));
    let outbox = store.outbox();
    for (&id, &n) in &acks.queued {
        let rows = outbox
            .by_call_object(&format!("probe-{n}"))
            .unwrap_or_else(|e| panic!("{context}: read probe-{n}: {e}"));
        assert_eq!(
            rows.len(),
            1,
            "{context}: acknowledged item {n} must be present exactly once"
        );
        assert_eq!(
            rows[0].id,
            OutboxId(id),
            "{context}: item {n} must keep the id it was acknowledged with"
        );
        assert_eq!(
            rows[0].payload["n"],
            serde_json::json!(n),
            "{context}: item {n} must keep its payload"
        );
    }
    let stats = outbox.stats().expect("stats");
    let total = stats.pending + stats.in_flight + stats.done + stats.failed;
    assert!(
        total >= acks.queued.len() as u64,
        "{context}: {total} rows cannot hold {} acknowledged items",
        acks.queued.len()
    );
    let far_future = DateTime::<chrono::Utc>::MAX_UTC;
    let unknown: BTreeSet<i64> = outbox
        .unknown_outcome(far_future)
        .expect("unknown outcome")
        .iter()
        .map(|item| item.id.0)
        .collect();
    assert_eq!(
        unknown.len() as u64,
        stats.in_flight,
        "{context}: every in-flight row must be reported as of unknown outcome"
    );
    for &id in &acks.done {
        let item = outbox.by_id(OutboxId(id)).expect("read").expect("done row");
        assert!(
            matches!(item.state, OutboxState::Done { .. }),
            "{context}: row {id} was acknowledged done, found {:?}",
            item.state
        );
    }
    for &id in acks.in_flight.difference(&acks.done) {
        let item = outbox.by_id(OutboxId(id)).expect("read").expect("row");
        assert!(
            matches!(item.state, OutboxState::InFlight { .. } | OutboxState::Done { .. }),
            "{context}: row {id} was acknowledged in flight and must not be pending again, found {:?}",
            item.state
        );
        if matches!(item.state, OutboxState::InFlight { .. }) {
            assert!(
                unknown.contains(&id),
                "{context}: row {id} left in flight must be reported by unknown_outcome"
            );
        }
    }
}

fn kill_repeatedly(mode: &str, runs: u64) {
    let seed = seed();
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("callpop.db");
    let mut acks = Acks::default();
    for run in 0..runs {
        let kill_after = 1 + rng.below(120);
        let delay_us = rng.below(2_000);
        let start = run * 100_000;
        run_and_kill(&path, mode, start, kill_after, delay_us, &mut acks);
        let context = format!(
            "mode {mode}, seed {seed}, run {run} (killed after {kill_after} lines + {delay_us} µs)"
        );
        check(&path, &acks, &context);
    }
    assert!(
        !acks.queued.is_empty(),
        "the probe must have acknowledged something for the test to mean anything"
    );
}

#[test]
fn kill9_during_enqueue_loses_nothing_acknowledged() {
    kill_repeatedly("enqueue", 12);
}

#[test]
fn kill9_during_in_flight_and_done_batches_loses_nothing_acknowledged() {
    kill_repeatedly("cycle", 12);
}
