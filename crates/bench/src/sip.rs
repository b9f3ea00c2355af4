//! SIP figures, all on loopback against `SipTelephony` (the engine's phone):
//!
//! - `sip.invite_to_ringing.p50/p99`: our own raw-UDP INVITE sender stamps the send; the figure
//!   ends when `TelephonyEvent::Ringing` comes out of the adapter (200 calls after 20 warm-up
//!   calls, one at a time; each declined and its 603 ACKed).
//! - `sip.cpu_per_call`: sipp places N calls that we answer, with RTP both ways (our silence out,
//!   sipp's `-rtp_echo` back) for 10 s; this process's utime+stime over that window, divided by N,
//!   as a percentage of one core. Everything in this process counts (the adapter, the agent, the
//!   media tasks, the bench's own event loop).
//! - `sip.flood.*`: one call up (our raw client, RTP both ways at 50 packets/s), then sipp sends
//!   200 INVITEs/s for 10 s with the agent set to refuse calls while busy (486). The active call's
//!   received packets per second during the flood, the refused INVITEs counted from sipp's
//!   statistics, and the resident memory growth from before the flood to after it (call ended,
//!   2 s to settle).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use engine::{Telephony, TelephonyCommand, TelephonyEvent};
use telephony::SipTelephony;
use tokio::net::UdpSocket;
use tokio::sync::mpsc::Receiver;

use crate::report::{Line, Samples};

const WAIT: Duration = Duration::from_secs(30);
const CALLS_SCENARIO: &str = include_str!("../../telephony/tests/scenarios/uac_call.xml");
const FLOOD_SCENARIO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="INVITE refused while busy">
  <send><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:flood@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: sip:flood@[local_ip]:[local_port]
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000

]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="503" optional="true" next="ack"/>
  <recv response="486"/>
  <label id="ack"/>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:flood@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
</scenario>
"#;

/// Runs the SIP benchmarks.
pub async fn run() -> Result<Vec<Line>> {
    let mut lines = invite_to_ringing().await?;
    lines.extend(cpu_per_call().await?);
    lines.extend(flood().await?);
    Ok(lines)
}

async fn phone(busy: sip::BusyPolicy) -> Result<(SipTelephony, Receiver<TelephonyEvent>)> {
    let mut config = sip::Config::new("127.0.0.1:0".parse()?, "2001", "127.0.0.1");
    config.busy_policy = busy;
    let phone = SipTelephony::start(config, false).await?;
    let events = phone.events()?;
    Ok((phone, events))
}

async fn next_event(
    events: &mut Receiver<TelephonyEvent>,
    what: &str,
    mut pick: impl FnMut(&TelephonyEvent) -> bool,
) -> Result<TelephonyEvent> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(event)) if pick(&event) => return Ok(event),
            Ok(Some(_)) => {}
            Ok(None) => bail!("telephony events ended while waiting for {what}"),
            Err(_) => bail!("no {what} within {WAIT:?}"),
        }
    }
}

// ---- a raw SIP client (for precise timestamps and the flood's active call) -------------------

struct RawCall {
    call_id: String,
    branch: String,
    tag: String,
    local: SocketAddr,
    remote: SocketAddr,
}

impl RawCall {
    fn new(n: u64, local: SocketAddr, remote: SocketAddr) -> Self {
        Self {
            call_id: format!("bench-{n}-{}", std::process::id()),
            branch: format!("z9hG4bKbench{n}"),
            tag: format!("t{n}"),
            local,
            remote,
        }
    }

    fn invite(&self, rtp_port: u16) -> String {
        let sdp = format!(
            "v=0\r\no=bench 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        );
        format!(
            "INVITE sip:2001@{r} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch={b};rport\r\nFrom: <sip:+14155550100@{l}>;tag={t}\r\nTo: <sip:2001@{r}>\r\nCall-ID: {c}\r\nCSeq: 1 INVITE\r\nContact: <sip:bench@{l}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{sdp}",
            r = self.remote,
            l = self.local,
            b = self.branch,
            t = self.tag,
            c = self.call_id,
            len = sdp.len()
        )
    }

    /// ACK of a final response (`to` is its To header value, with the tag); a 2xx ACK is a new
    /// transaction.
    fn ack(&self, to: &str, success: bool) -> String {
        let branch = if success {
            format!("{}ack", self.branch)
        } else {
            self.branch.clone()
        };
        format!(
            "ACK sip:2001@{r} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch={branch};rport\r\nFrom: <sip:+14155550100@{l}>;tag={t}\r\nTo: {to}\r\nCall-ID: {c}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            r = self.remote,
            l = self.local,
            t = self.tag,
            c = self.call_id,
        )
    }

    fn bye(&self, to: &str) -> String {
        format!(
            "BYE sip:2001@{r} SIP/2.0\r\nVia: SIP/2.0/UDP {l};branch={b}bye;rport\r\nFrom: <sip:+14155550100@{l}>;tag={t}\r\nTo: {to}\r\nCall-ID: {c}\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            r = self.remote,
            l = self.local,
            b = self.branch,
            t = self.tag,
            c = self.call_id,
        )
    }
}

/// A response's status code, header value by name (long or compact form), and body.
struct Response {
    code: u16,
    text: String,
}

impl Response {
    fn parse(bytes: &[u8]) -> Option<Self> {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let code = text.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()?;
        Some(Self { code, text })
    }

    fn header(&self, names: &[&str]) -> Option<&str> {
        let head = self.text.split("\r\n\r\n").next()?;
        head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            names
                .iter()
                .any(|n| name.trim().eq_ignore_ascii_case(n))
                .then(|| value.trim())
        })
    }

    fn body(&self) -> &str {
        self.text.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }

    fn cseq_method(&self) -> Option<&str> {
        self.header(&["CSeq"])?.split_whitespace().nth(1)
    }
}

/// Waits on `socket` for a final response to `method` of `call`.
async fn final_response(socket: &UdpSocket, call: &RawCall, method: &str) -> Result<Response> {
    let mut buf = vec![0u8; 65536];
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (n, _) = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf))
            .await
            .map_err(|_| anyhow!("no final response to {method} within {WAIT:?}"))??;
        let Some(resp) = Response::parse(&buf[..n]) else {
            continue;
        };
        if resp.code >= 200
            && resp.header(&["Call-ID", "i"]) == Some(call.call_id.as_str())
            && resp.cseq_method() == Some(method)
        {
            return Ok(resp);
        }
    }
}

// ---- INVITE → Ringing -----------------------------------------------------------------------

async fn invite_to_ringing() -> Result<Vec<Line>> {
    let (phone, mut events) = phone(sip::BusyPolicy::Reject486).await?;
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let local = socket.local_addr()?;
    let remote = phone.local_addr();
    let mut samples = Samples::default();
    for n in 0..220u64 {
        let call = RawCall::new(n, local, remote);
        let invite = call.invite(9);
        let sent = Instant::now();
        socket.send_to(invite.as_bytes(), remote).await?;
        next_event(
            &mut events,
            "Ringing",
            |e| matches!(e, TelephonyEvent::Ringing { call_id, .. } if *call_id == call.call_id),
        )
        .await?;
        if n >= 20 {
            samples.push(sent.elapsed());
        }
        phone.command(TelephonyCommand::Decline {
            call_id: call.call_id.clone(),
        })?;
        let resp = final_response(&socket, &call, "INVITE").await?;
        let to = resp
            .header(&["To", "t"])
            .ok_or_else(|| anyhow!("final response without To"))?
            .to_owned();
        socket
            .send_to(call.ack(&to, false).as_bytes(), remote)
            .await?;
        next_event(
            &mut events,
            "Ended",
            |e| matches!(e, TelephonyEvent::Ended { call_id, .. } if *call_id == call.call_id),
        )
        .await?;
    }
    Ok(vec![
        Line::at_most(
            "sip.invite_to_ringing.p50",
            samples.percentile_ms(50.0),
            "ms",
            5.0,
        ),
        Line::at_most(
            "sip.invite_to_ringing.p99",
            samples.percentile_ms(99.0),
            "ms",
            20.0,
        ),
    ])
}

// ---- CPU per call ---------------------------------------------------------------------------

fn sipp() -> Result<std::path::PathBuf> {
    test_support::find_sipp().ok_or_else(|| anyhow!(test_support::SIPP_MISSING))
}

/// utime + stime of this process, in seconds (`/proc/self/stat`, USER_HZ = 100 on Linux).
fn cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("unexpected /proc/self/stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command name: state is field 3, utime 14 and stime 15 (1-based, whole line).
    let utime: u64 = fields.get(11).context("utime")?.parse()?;
    let stime: u64 = fields.get(12).context("stime")?.parse()?;
    Ok((utime + stime) as f64 / 100.0)
}

/// Resident memory of this process in MiB (`/proc/self/status`, VmRSS).
fn rss_mib() -> Result<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .context("VmRSS")?
        .parse()?;
    Ok(kib / 1024.0)
}

fn spawn_sipp(
    dir: &Path,
    name: &str,
    text: &str,
    remote: SocketAddr,
    extra: &[&str],
) -> Result<tokio::process::Child> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    let media = (test_support::free_udp_port() & !1).max(20000);
    Ok(tokio::process::Command::new(sipp()?)
        .arg("-sf")
        .arg(&path)
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &test_support::free_udp_port().to_string(),
        ])
        .args(["-mi", "127.0.0.1", "-mp", &media.to_string()])
        .args(["-nostdin", "-timeout", "120s", "-s", "2001"])
        .args(extra)
        .arg(remote.to_string())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?)
}

async fn cpu_per_call() -> Result<Vec<Line>> {
    const CALLS: usize = 10;
    let (phone, mut events) = phone(sip::BusyPolicy::RingWaiting).await?;
    let dir = tempfile::tempdir()?;
    let scenario = CALLS_SCENARIO
        .replace("@CALLER@", "+14155550100")
        .replace("@NAME@", "bench")
        .replace("@TALK_MS@", "10000");
    let calls = CALLS.to_string();
    let child = spawn_sipp(
        dir.path(),
        "calls.xml",
        &scenario,
        phone.local_addr(),
        &["-m", &calls, "-l", &calls, "-r", &calls, "-rtp_echo"],
    )?;
    let mut answered = 0;
    let mut start: Option<(Instant, f64)> = None;
    while answered < CALLS {
        match next_event(&mut events, "Ringing or Answered", |e| {
            matches!(
                e,
                TelephonyEvent::Ringing { .. } | TelephonyEvent::Answered { .. }
            )
        })
        .await?
        {
            TelephonyEvent::Ringing { call_id, .. } => {
                phone.command(TelephonyCommand::Answer { call_id })?
            }
            _ => {
                answered += 1;
                if answered == 1 {
                    start = Some((Instant::now(), cpu_seconds()?));
                }
            }
        }
    }
    let (wall_start, cpu_start) = start.context("no call answered")?;
    let mut ended = 0;
    let mut first_end: Option<(Instant, f64)> = None;
    while ended < CALLS {
        next_event(&mut events, "Ended", |e| {
            matches!(e, TelephonyEvent::Ended { .. })
        })
        .await?;
        ended += 1;
        if ended == 1 {
            first_end = Some((Instant::now(), cpu_seconds()?));
        }
    }
    // The window in which all calls were up with RTP both ways: last answer → first end.
    let (wall_end, cpu_end) = first_end.context("no call ended")?;
    let output = child.wait_with_output().await?;
    if !output.status.success() {
        bail!(
            "sipp (cpu calls) failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let wall = (wall_end - wall_start).as_secs_f64();
    let percent = (cpu_end - cpu_start) / wall / CALLS as f64 * 100.0;
    Ok(vec![Line::at_most("sip.cpu_per_call", percent, "%", 2.0)])
}

// ---- INVITE flood while a call is up --------------------------------------------------------

async fn flood() -> Result<Vec<Line>> {
    let (phone, mut events) = phone(sip::BusyPolicy::Reject486).await?;
    let rss_before = rss_mib()?;
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let rtp = Arc::new(UdpSocket::bind("127.0.0.1:0").await?);
    let remote = phone.local_addr();
    let call = RawCall::new(1_000_000, socket.local_addr()?, remote);
    socket
        .send_to(call.invite(rtp.local_addr()?.port()).as_bytes(), remote)
        .await?;
    let call_id = call.call_id.clone();
    next_event(
        &mut events,
        "Ringing",
        |e| matches!(e, TelephonyEvent::Ringing { call_id: c, .. } if *c == call_id),
    )
    .await?;
    phone.command(TelephonyCommand::Answer {
        call_id: call_id.clone(),
    })?;
    let ok = final_response(&socket, &call, "INVITE").await?;
    if ok.code != 200 {
        bail!("the active call was not answered: {}", ok.code);
    }
    let to = ok
        .header(&["To", "t"])
        .context("200 without To")?
        .to_owned();
    let their_rtp: SocketAddr = {
        let port = ok
            .body()
            .lines()
            .find_map(|l| l.strip_prefix("m=audio "))
            .and_then(|l| l.split_whitespace().next())
            .context("answer without m=audio")?;
        format!("127.0.0.1:{port}").parse()?
    };
    socket
        .send_to(call.ack(&to, true).as_bytes(), remote)
        .await?;

    // RTP both ways: we send 50 packets/s of PCMU silence and count what arrives.
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let rtp_rx = rtp.clone();
    let receiver = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while rtp_rx.recv_from(&mut buf).await.is_ok() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let rtp_tx = rtp.clone();
    let sender = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for seq in 0u32.. {
            tick.tick().await;
            let mut packet = vec![0x80, 0x00];
            packet.extend_from_slice(&(seq as u16).to_be_bytes());
            packet.extend_from_slice(&(seq * 160).to_be_bytes());
            packet.extend_from_slice(&0x0bad_cafeu32.to_be_bytes());
            packet.extend(std::iter::repeat_n(0xffu8, 160));
            let _ = rtp_tx.send_to(&packet, their_rtp).await;
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;

    let dir = tempfile::tempdir()?;
    let stats = dir.path().join("flood.csv");
    let stats_arg = stats.to_string_lossy().into_owned();
    let child = spawn_sipp(
        dir.path(),
        "flood.xml",
        FLOOD_SCENARIO,
        remote,
        &[
            "-r",
            "200",
            "-m",
            "2000",
            "-l",
            "4000",
            "-trace_stat",
            "-stf",
            &stats_arg,
            "-fd",
            "1",
        ],
    )?;
    let before = received.load(Ordering::Relaxed);
    let flood_start = Instant::now();
    let output = child.wait_with_output().await?;
    let flood_secs = flood_start.elapsed().as_secs_f64();
    let packets = received.load(Ordering::Relaxed) - before;
    let refused = successful_calls(&stats).unwrap_or(0);
    if !output.status.success() && refused == 0 {
        bail!(
            "sipp (flood) failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    socket.send_to(call.bye(&to).as_bytes(), remote).await?;
    next_event(
        &mut events,
        "Ended",
        |e| matches!(e, TelephonyEvent::Ended { call_id: c, .. } if *c == call_id),
    )
    .await?;
    sender.abort();
    receiver.abort();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let growth = rss_mib()? - rss_before;
    drop(phone);
    Ok(vec![
        Line::at_least(
            "sip.flood.active_call_packets_per_s",
            packets as f64 / flood_secs,
            "packets/s",
            45.0,
        ),
        Line::at_least("sip.flood.refused", refused as f64, "INVITEs", 1900.0),
        // Negative when the allocator returned more than the flood took.
        Line::at_most("sip.flood.rss_growth", growth, "MiB", 10.0),
    ])
}

/// sipp's final `SuccessfulCall(C)` count from its `-trace_stat` CSV (one row per `-fd` period).
fn successful_calls(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(';').collect();
    let column = header.iter().position(|h| *h == "SuccessfulCall(C)")?;
    let last = lines.rfind(|l| !l.trim().is_empty())?;
    last.split(';').nth(column)?.trim().parse().ok()
}
