//! Shared helpers for the adapter's sipp tests: finding sipp, free ports, scenario templates,
//! and waiting for engine events.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use callpop_telephony::SipTelephony;
use engine::TelephonyEvent;
use tokio::process::{Child, Command};
use tokio::sync::mpsc::Receiver;

/// Generous: the machine has 2 cores and runs other builds.
pub const WAIT: Duration = Duration::from_secs(30);

/// Path to sipp; fails the test (never skips) when it is missing.
pub fn sipp() -> PathBuf {
    ["/usr/bin", "/usr/local/bin"]
        .iter()
        .map(|dir| Path::new(dir).join("sipp"))
        .find(|path| path.exists())
        .unwrap_or_else(|| {
            panic!("sipp is not installed: run `make deps` (Debian package sip-tester)")
        })
}

/// A free UDP port on loopback (bound, read, released).
pub fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// A free even port with the next three free too (sipp's media uses port, +1, +2, +3).
pub fn free_media_port() -> u16 {
    for _ in 0..100 {
        let port = free_port() & !1;
        if port > 1024 && (0..4).all(|i| UdpSocket::bind(("127.0.0.1", port + i)).is_ok()) {
            return port;
        }
    }
    panic!("no free media port block found");
}

/// Writes `tests/scenarios/<name>` into `dir`, replacing each `(placeholder, value)`.
pub fn scenario(dir: &Path, name: &str, replacements: &[(&str, &str)]) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name);
    let mut text = std::fs::read_to_string(&source).expect("scenario file exists");
    for (placeholder, value) in replacements {
        text = text.replace(placeholder, value);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write scenario");
    path
}

/// Starts sipp on a free port with `scenario`, one call to service `2001`, talking to `remote`
/// (None for a server on `port`). Killed on drop.
pub fn start_sipp(scenario: &Path, port: u16, remote: Option<SocketAddr>) -> Child {
    let mut command = Command::new(sipp());
    command
        .arg("-sf")
        .arg(scenario)
        .args(["-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-mi", "127.0.0.1", "-mp", &free_media_port().to_string()])
        .args(["-m", "1", "-nostdin", "-timeout", "40s", "-timeout_error"])
        .args(["-s", "2001"])
        .current_dir(scenario.parent().expect("scenario dir"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(remote) = remote {
        command.arg(remote.to_string());
    }
    command.spawn().expect("spawn sipp")
}

/// Waits for sipp to finish and asserts it reported success.
pub async fn expect_sipp_success(child: Child, what: &str) {
    let output = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("sipp ({what}) did not finish within {WAIT:?}"))
        .expect("wait for sipp");
    assert!(
        output.status.success(),
        "sipp ({what}) must end its scenario successfully; status {:?}, stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An adapter on 127.0.0.1 (free port) for user `2001` at `domain`, not registering.
pub async fn phone(domain: &str) -> SipTelephony {
    let config = sip::Config::new("127.0.0.1:0".parse().unwrap(), "2001", domain);
    SipTelephony::start(config, false)
        .await
        .expect("the adapter starts")
}

/// The next engine event, failing after [`WAIT`].
pub async fn next(events: &mut Receiver<TelephonyEvent>, what: &str) -> TelephonyEvent {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .unwrap_or_else(|_| panic!("no event within {WAIT:?} while waiting for {what}"))
        .unwrap_or_else(|| panic!("the event stream ended while waiting for {what}"))
}
