//! `kill -9` of the engine's process mid-flush, restarted on the same database: every Task
//! reaches Salesforce exactly once.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use callpop_e2e::{db_path, emulator, tasks_for};
use sf_emulator::Emulator;

struct Probe {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

fn spawn(emu: &Emulator, db: &std::path::Path) -> Probe {
    let tokens = emu.mint_tokens();
    let mut child = Command::new(env!("CARGO_BIN_EXE_engine-probe"))
        .arg(emu.login_url().as_str())
        .arg(emu.client_id())
        .arg(db)
        .env("PROBE_ACCESS_TOKEN", &tokens.access_token)
        .env("PROBE_REFRESH_TOKEN", &tokens.refresh_token)
        .env("PROBE_INSTANCE_URL", tokens.instance_url.as_str())
        .env("PROBE_ID_URL", tokens.id_url.as_str())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the probe starts");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Probe {
        child,
        stdin,
        lines,
    }
}

impl Probe {
    fn call(&mut self, id: &str, number: &str) {
        writeln!(self.stdin, "call {id} {number}").expect("write to the probe");
        self.stdin.flush().expect("flush");
    }

    /// Reads the probe's lines for `within`, recording queued call objects.
    fn read(&self, within: Duration, queued: &mut BTreeSet<String>) {
        let deadline = Instant::now() + within;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(id) = line.strip_prefix("queued ") {
                        queued.insert(id.to_owned());
                    }
                }
                Err(_) => break,
            }
        }
    }

    fn kill9(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

/// Killed runs: at least this many, and more (up to the maximum) until a kill lands mid-write.
const MIN_KILLED_RUNS: usize = 3;
const MAX_KILLED_RUNS: usize = 10;
const CALLS_PER_RUN: usize = 15;
/// How long after a run's first queued log it is killed, round by round.
const KILL_AFTER_MS: [u64; 5] = [150, 400, 250, 50, 600];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_flush_then_restart_writes_every_task_exactly_once() {
    let emu = Arc::new(
        emulator(|c| c.latency = Duration::from_millis(300))
            .await
            .expect("emulator"),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let db = db_path(dir.path());
    let number = |i: usize| format!("+1415555{:04}", 6000 + i);
    let mut ids: Vec<String> = Vec::new();
    let mut queued = BTreeSet::new();
    let mut killed_in_flight = 0;
    // At least three runs killed at different moments, more until one kill has landed while a
    // write was on the wire (a slow machine can let a kill fall between two flushes), then one
    // run that finishes. Each killed run queues fifteen more calls.
    for round in 0..MAX_KILLED_RUNS {
        if round >= MIN_KILLED_RUNS && killed_in_flight > 0 {
            break;
        }
        ids.extend((0..CALLS_PER_RUN).map(|i| format!("k9-{:03}", round * CALLS_PER_RUN + i)));
        let kill_after = KILL_AFTER_MS[round % KILL_AFTER_MS.len()];
        let emu2 = emu.clone();
        let db2 = db.clone();
        let mut probe = tokio::task::spawn_blocking(move || spawn(&emu2, &db2))
            .await
            .expect("spawn");
        for (i, id) in ids.iter().enumerate() {
            if !queued.contains(id) {
                probe.call(id, &number(i));
            }
        }
        // Wait for this run's first queued log, then kill while its flush is on the wire
        // (every request takes the emulator's latency).
        let before = queued.len();
        let deadline = Instant::now() + Duration::from_secs(20);
        while queued.len() == before && Instant::now() < deadline {
            probe.read(Duration::from_millis(20), &mut queued);
        }
        probe.read(Duration::from_millis(kill_after), &mut queued);
        probe.kill9();
        let store = store::Store::open(&db).expect("the database survives kill -9");
        store.integrity_check().expect("and passes integrity_check");
        if store.outbox().stats().expect("stats").in_flight > 0 {
            killed_in_flight += 1;
        }
    }
    let emu2 = emu.clone();
    let db2 = db.clone();
    let mut probe = tokio::task::spawn_blocking(move || spawn(&emu2, &db2))
        .await
        .expect("spawn");
    for (i, id) in ids.iter().enumerate() {
        if !queued.contains(id) {
            probe.call(id, &number(i));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && !ids.iter().all(|id| tasks_for(&emu, id).len() == 1) {
        probe.read(Duration::from_millis(200), &mut queued);
    }
    probe.read(Duration::from_millis(500), &mut queued);
    probe.kill9();
    let counts: Vec<(String, usize)> = ids
        .iter()
        .map(|id| (id.clone(), tasks_for(&emu, id).len()))
        .filter(|(_, n)| *n != 1)
        .collect();
    assert!(
        counts.is_empty(),
        "every call has exactly one Task after kill -9 and restart; wrong counts: {counts:?}"
    );
    assert!(
        killed_in_flight > 0,
        "at least one kill must land while writes were in flight (otherwise the test proves nothing)"
    );
}
