//! What the SIP-driven tests of `callpop-sip`, `callpop-telephony` and the end-to-end window
//! tests share: finding sipp (never skipping when it is missing), free loopback ports, writing a
//! scenario template with its placeholders filled, running sipp once and judging how it ended,
//! finding the processes a launched app started, and the tests' log set-up. A dev-dependency, and a dependency of the
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

/// Sends the process's `tracing` output to the running test's output (which nextest prints only
/// when the test fails), filtered by `RUST_LOG` or else by `default` (`None`: nothing unless
/// `RUST_LOG` is set). The first call in a test binary sets it up; later ones do nothing.
pub fn test_logs(default: Option<&str>) {
    let filter = match (
        tracing_subscriber::EnvFilter::try_from_default_env(),
        default,
    ) {
        (Ok(filter), _) => filter,
        (Err(_), Some(default)) => tracing_subscriber::EnvFilter::new(default),
        (Err(_), None) => return,
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init()
        .ok();
}

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

/// Where the ports handed to peers (sipp, kamailio, the app's SIP port) come from: below the
/// kernel's ephemeral range (32768–60999 on Linux), so that no socket bound to port 0 by a test
/// running beside us (a user agent, its RTP, an HTTP client) can take a port between our check
/// and the peer's own bind. Each process starts at its own place in the range (by its pid) and
/// walks on from there, so tests running side by side seldom even try the same port.
const PEER_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// The first of the next `width` ports of [`PEER_PORTS`] this process tries. Each port is
/// tried once per walk, so a port handed out (and its block) is never offered again by this
/// process while the peer it went to is still starting.
fn claim_peer_ports(width: u16) -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static WALKED: AtomicU32 = AtomicU32::new(0);
    let span = u32::from(PEER_PORTS.end - PEER_PORTS.start);
    let start = std::process::id().wrapping_mul(997) % span;
    let step = WALKED.fetch_add(u32::from(width), Ordering::Relaxed);
    let offset = u16::try_from((start + step) % span).expect("within the span");
    PEER_PORTS.start + offset
}

/// The first block of `width` ports of [`PEER_PORTS`], starting at an even port when `even`,
/// that `free` accepts (given its first port); the test sockets are released again.
fn peer_ports(what: &str, width: u16, even: bool, free: impl Fn(u16) -> bool) -> u16 {
    let claim = width + u16::from(even);
    (PEER_PORTS.start..PEER_PORTS.end)
        .step_by(usize::from(claim))
        .map(|_| claim_peer_ports(claim))
        .map(|first| if even { first + first % 2 } else { first })
        .filter(|&first| first + width <= PEER_PORTS.end)
        .find(|&first| free(first))
        .unwrap_or_else(|| panic!("no {what} free on loopback in {PEER_PORTS:?}"))
}

fn udp_free(port: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", port)).is_ok()
}

fn tcp_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A free UDP port on loopback for a peer to bind (see [`PEER_PORTS`]).
pub fn free_udp_port() -> u16 {
    peer_ports("UDP port", 1, false, udp_free)
}

/// A free TCP port on loopback for a peer to listen on (see [`PEER_PORTS`]).
pub fn free_tcp_port() -> u16 {
    peer_ports("TCP port", 1, false, tcp_free)
}

/// A port free on loopback for both UDP and TCP (for a peer that listens on both, such as
/// kamailio, or sipp over TCP).
pub fn free_udp_and_tcp_port() -> u16 {
    peer_ports("UDP and TCP port", 1, false, |port| {
        udp_free(port) && tcp_free(port)
    })
}

/// A free even UDP port with the next three free too (sipp's media uses port .. port+3).
pub fn free_media_port() -> u16 {
    peer_ports("media port block", 4, true, |first| {
        (first..first + 4).all(udp_free)
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ports_are_free_distinct_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| free_udp_and_tcp_port()).collect();
        for &port in &ports {
            assert!(
                PEER_PORTS.contains(&port),
                "{port} is outside {PEER_PORTS:?}"
            );
            UdpSocket::bind(("127.0.0.1", port)).expect("the UDP port is free");
            TcpListener::bind(("127.0.0.1", port)).expect("the TCP port is free");
        }
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            ports.len(),
            "one process never hands out a port twice in a row"
        );
        let media = free_media_port();
        assert_eq!(media % 2, 0, "RTP's port is even");
        for port in media..media + 4 {
            UdpSocket::bind(("127.0.0.1", port)).expect("the media block is free");
        }
        // What is handed out next lies outside the block (sipp may not have bound it yet).
        let next_media = free_media_port();
        let next = free_udp_port();
        for port in [next_media, next_media + 3, next] {
            assert!(
                !(media..media + 4).contains(&port),
                "{port} overlaps the media block at {media}"
            );
        }
    }
}
