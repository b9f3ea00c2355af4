//! Shared helpers for the adapter's sipp tests: finding sipp, free ports, scenario templates,
//! and waiting for engine events.
#![allow(dead_code, unused_imports)] // each test binary uses a part of it

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use callpop_telephony::SipTelephony;
use engine::TelephonyEvent;
use tokio::process::Child;
use tokio::sync::mpsc::Receiver;

pub use test_support::{
    expect_sipp_success, free_media_port, free_udp_port as free_port, sipp, WAIT,
};

/// Writes `tests/scenarios/<name>` into `dir`, replacing each `(placeholder, value)`.
pub fn scenario(dir: &Path, name: &str, replacements: &[(&str, &str)]) -> PathBuf {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    test_support::scenario_from(&templates, dir, name, replacements)
}

/// Starts sipp on `port` with `scenario`, one call to service `2001`, talking to `remote`
/// (None for a server on `port`). Killed on drop.
pub fn start_sipp(scenario: &Path, port: u16, remote: Option<SocketAddr>) -> Child {
    test_support::start_sipp(scenario, port, free_media_port(), remote, "2001", &[])
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
