//! What the SIP-driven tests of `callpop-sip`, `callpop-telephony` and the end-to-end window
//! tests share: finding sipp (never skipping when it is missing), free loopback ports, writing a
//! scenario template with its placeholders filled, running sipp once and judging how it ended,
//! and finding the processes a launched app started. A dev-dependency, and a dependency of the
//! benchmark programs.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// Generous: the machine has 2 cores and may run other builds.
pub const WAIT: Duration = Duration::from_secs(30);

/// What to do when sipp is missing.
pub const SIPP_MISSING: &str = "sipp is not installed: run `make deps` (Debian package sip-tester)";

/// Path to sipp, if installed (the benchmarks report its absence as an error).
pub fn find_sipp() -> Option<PathBuf> {
    ["/usr/bin", "/usr/local/bin"]
        .iter()
        .map(|dir| Path::new(dir).join("sipp"))
        .find(|path| path.exists())
}

/// Path to sipp; fails the test (never skips) when it is missing.
pub fn sipp() -> PathBuf {
    find_sipp().unwrap_or_else(|| panic!("{SIPP_MISSING}"))
}

/// A free UDP port on loopback (bound, read, released).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("bind an ephemeral UDP port")
        .port()
}

/// A free TCP port on loopback (bound, read, released).
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral TCP port")
        .port()
}

/// A port free on loopback for both UDP and TCP (for a peer that listens on both, such as
/// kamailio, or sipp over TCP): a free UDP port is not always a free TCP port.
pub fn free_udp_and_tcp_port() -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind an ephemeral UDP port");
        let port = udp.local_addr().expect("its address").port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP found");
}

/// A free even UDP port with the next three free too (sipp's media uses port .. port+3).
pub fn free_media_port() -> u16 {
    for _ in 0..100 {
        let port = free_udp_port() & !1;
        if port > 1024 && (0..4).all(|i| UdpSocket::bind(("127.0.0.1", port + i)).is_ok()) {
            return port;
        }
    }
    panic!("no free media port block found");
}

/// Writes the template `templates/<name>` into `dir` with each `(placeholder, value)` replaced;
/// returns the written file.
pub fn scenario_from(
    templates: &Path,
    dir: &Path,
    name: &str,
    replacements: &[(&str, &str)],
) -> PathBuf {
    let source = templates.join(name);
    let mut text = std::fs::read_to_string(&source)
        .unwrap_or_else(|e| panic!("scenario {} unreadable: {e}", source.display()));
    for (placeholder, value) in replacements {
        text = text.replace(placeholder, value);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write scenario");
    path
}

/// One sipp run: `scenario` once, on `sip_port` with media from `media_port`, as a client of
/// `remote` calling `service` (a server when `remote` is `None`), with `extra` arguments.
/// Killed on drop; its stderr is kept for [`expect_sipp_success`].
pub fn start_sipp(
    scenario: &Path,
    sip_port: u16,
    media_port: u16,
    remote: Option<SocketAddr>,
    service: &str,
    extra: &[&str],
) -> Child {
    let mut command = Command::new(sipp());
    command
        .arg("-sf")
        .arg(scenario)
        .args(["-i", "127.0.0.1", "-p", &sip_port.to_string()])
        .args(["-mi", "127.0.0.1", "-mp", &media_port.to_string()])
        .args(["-m", "1", "-nostdin", "-timeout", "40s", "-timeout_error"])
        .args(["-s", service])
        .args(extra)
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

/// Waits for sipp to finish (at most [`WAIT`]) and asserts it reported success, with its stderr
/// in the failure message.
pub async fn expect_sipp_success(child: Child, what: &str) {
    expect_sipp_success_within(child, what, WAIT).await;
}

/// [`expect_sipp_success`] waiting at most `within`.
pub async fn expect_sipp_success_within(child: Child, what: &str, within: Duration) {
    let output = tokio::time::timeout(within, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("sipp ({what}) did not finish within {within:?}"))
        .expect("wait for sipp");
    assert!(
        output.status.success(),
        "sipp ({what}) must end its scenario successfully; status {:?}, stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The process `pid` and every descendant (Linux `/proc/<pid>/task/*/children`), parents
/// before their children.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let tasks = format!("/proc/{}/task", all[i]);
        if let Ok(entries) = std::fs::read_dir(tasks) {
            for entry in entries.flatten() {
                let children = std::fs::read_to_string(entry.path().join("children"));
                for child in children.unwrap_or_default().split_whitespace() {
                    if let Ok(c) = child.parse() {
                        if !all.contains(&c) {
                            all.push(c);
                        }
                    }
                }
            }
        }
        i += 1;
    }
    all
}
