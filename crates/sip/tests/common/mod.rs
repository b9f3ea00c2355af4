//! Shared helpers for the sipp tests: finding sipp, free ports, scenario templates, waiting for
//! events, and measuring a tone in a recording.
#![allow(dead_code, unused_imports)] // each test binary uses a part of it

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use callpop_sip::{CloseReason, Config, Event, UserAgent};
use tokio::process::Child;
use tokio::sync::mpsc::UnboundedReceiver;

pub use test_support::{
    expect_sipp_success, free_media_port, free_tcp_port, free_udp_and_tcp_port,
    free_udp_port as free_port, sipp, WAIT,
};

/// Writes `tests/scenarios/<name>` into `dir`, replacing each `(placeholder, value)`.
pub fn scenario(dir: &Path, name: &str, replacements: &[(&str, &str)]) -> PathBuf {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    test_support::scenario_from(&templates, dir, name, replacements)
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port`; fails after [`WAIT`]
/// saying `what_failed()` (who never listened, and what tells why).
pub async fn wait_tcp_listening(port: u16, what_failed: impl Fn() -> String) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(tokio::time::Instant::now() < deadline, "{}", what_failed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// sipp plays the scenario `name` (as written, no replacements) against our agent `ua`, from a
/// free SIP port and free media ports.
pub fn sipp_against(ua: &UserAgent, dir: &Path, name: &str) -> Child {
    let scenario = scenario(dir, name, &[]);
    start_sipp(
        &scenario,
        free_port(),
        free_media_port(),
        Some(ua.local_addr()),
        &[],
    )
}

/// Starts sipp on `sip_port` with `scenario`, one call to service `callpop`, talking to `remote`
/// (None for a server).
pub fn start_sipp(
    scenario: &Path,
    sip_port: u16,
    media_port: u16,
    remote: Option<SocketAddr>,
    extra: &[&str],
) -> Child {
    test_support::start_sipp(scenario, sip_port, media_port, remote, "callpop", extra)
}

/// A user agent on 127.0.0.1, free port, for user `alice` at `domain`. Logs go to the test's
/// output when `RUST_LOG` is set (e.g. `RUST_LOG=callpop_sip=debug,rsipstack=debug`).
pub async fn agent(
    domain: &str,
    adjust: impl FnOnce(&mut Config),
) -> (UserAgent, UnboundedReceiver<Event>) {
    test_support::test_logs(None);
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), "alice", domain);
    adjust(&mut config);
    UserAgent::start(config).await.expect("user agent starts")
}

/// Receives events until one matches `pick`, returning what it returns; fails after [`WAIT`].
pub async fn wait_for<T>(
    events: &mut UnboundedReceiver<Event>,
    what: &str,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(event)) => {
                if let Some(found) = pick(&event) {
                    return found;
                }
                seen.push(event);
            }
            Ok(None) => panic!("event stream ended while waiting for {what}; seen {seen:?}"),
            Err(_) => panic!("no {what} within {WAIT:?}; seen {seen:?}"),
        }
    }
}

/// Waits for an incoming call (`what` names it in the failure); returns its Call-ID.
pub async fn wait_incoming(events: &mut UnboundedReceiver<Event>, what: &str) -> String {
    wait_for(events, what, |e| match e {
        Event::IncomingCall { call_id, .. } => Some(call_id.clone()),
        _ => None,
    })
    .await
}

/// Waits for `call_id` to be established.
pub async fn wait_established(events: &mut UnboundedReceiver<Event>, call_id: &str) {
    wait_for(events, "Established", |e| {
        matches!(e, Event::Established { call_id: id } if id == call_id).then_some(())
    })
    .await
}

/// Waits for `call_id` to close; returns why it closed.
pub async fn wait_closed(events: &mut UnboundedReceiver<Event>, call_id: &str) -> CloseReason {
    events_until_closed(events, call_id).await.0
}

/// Waits for `call_id` to close; returns why it closed and every event seen until then
/// (the `Closed` event last).
pub async fn events_until_closed(
    events: &mut UnboundedReceiver<Event>,
    call_id: &str,
) -> (CloseReason, Vec<Event>) {
    let mut seen = Vec::new();
    let reason = wait_for(events, "Closed", |e| {
        seen.push(e.clone());
        match e {
            Event::Closed {
                call_id: id,
                reason,
            } if id == call_id => Some(reason.clone()),
            _ => None,
        }
    })
    .await;
    (reason, seen)
}

/// Relative power of `frequency` in `samples` (8 kHz) by the Goertzel algorithm, normalised by
/// the total power: about 1 for a pure tone at that frequency, near 0 for other tones or silence.
pub fn tone_ratio(samples: &[i16], frequency: f64) -> f64 {
    let n = samples.len() as f64;
    if samples.is_empty() {
        return 0.0;
    }
    let k = (n * frequency / 8000.0).round();
    let coefficient = 2.0 * (std::f64::consts::TAU * k / n).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut total = 0.0f64;
    for &sample in samples {
        let x = f64::from(sample);
        total += x * x;
        let s0 = x + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
    if total == 0.0 {
        0.0
    } else {
        power / (total * n / 2.0)
    }
}

/// A pcap (Ethernet/IPv4/UDP/RTP) of `seconds` of a PCMU sine tone, 20 ms per packet, for sipp's
/// `play_pcap_audio`.
pub fn write_tone_pcap(path: &Path, frequency: f64, seconds: u32) {
    let mut out = Vec::new();
    // Global header: magic, version 2.4, zone, sigfigs, snaplen, linktype 1 (Ethernet).
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let packets = seconds * 50;
    let mut phase = 0.0f64;
    let step = std::f64::consts::TAU * frequency / 8000.0;
    for i in 0..packets {
        let mut rtp = vec![0x80u8, if i == 0 { 0x80 } else { 0x00 }];
        rtp.extend_from_slice(&(i as u16).to_be_bytes());
        rtp.extend_from_slice(&(i * 160).to_be_bytes());
        rtp.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        for _ in 0..160 {
            let sample = (phase.sin() * 12000.0) as i16;
            phase = (phase + step) % std::f64::consts::TAU;
            rtp.push(callpop_sip::g711::ulaw_encode(sample));
        }
        let udp_len = 8 + rtp.len();
        let ip_len = 20 + udp_len;
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        let checksum = ip_checksum(&ip);
        ip[10..12].copy_from_slice(&checksum.to_be_bytes());
        frame.extend_from_slice(&ip);
        frame.extend_from_slice(&6000u16.to_be_bytes());
        frame.extend_from_slice(&6002u16.to_be_bytes());
        frame.extend_from_slice(&(udp_len as u16).to_be_bytes());
        frame.extend_from_slice(&0u16.to_be_bytes());
        frame.extend_from_slice(&rtp);
        let micros = u64::from(i) * 20_000;
        out.extend_from_slice(&((micros / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    std::fs::write(path, out).expect("write pcap");
}

fn ip_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], pair[1]])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Reads a WAV recording's samples.
pub fn read_wav(path: &Path) -> Vec<i16> {
    hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("recording {path:?} must be a finished WAV: {e}"))
        .into_samples::<i16>()
        .collect::<Result<_, _>>()
        .expect("WAV samples")
}
