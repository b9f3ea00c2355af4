//! A PBX named by domain (RFC 3263): dnsmasq (Debian `dnsmasq-base`) on a free loopback port
//! serves the SRV and A records, sipp is the registrar they point at.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use callpop_sip::{Event, FailureKind, Password, Transport};
use common::*;
use tokio::process::{Child, Command};

/// The zone the test's DNS server answers for (and says NXDOMAIN for any other name in it).
const ZONE: &str = "callpop.test";

fn dnsmasq() -> PathBuf {
    ["/usr/sbin", "/usr/bin", "/sbin"]
        .iter()
        .map(|dir| PathBuf::from(dir).join("dnsmasq"))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("dnsmasq is not installed: run `make deps` (dnsmasq-base)"))
}

/// A DNS server on 127.0.0.1 answering from `records` (dnsmasq options such as
/// `--srv-host=…`) and nothing else; killed on drop.
struct Dns {
    addr: SocketAddr,
    _child: Child,
}

impl Dns {
    async fn start(records: &[String]) -> Dns {
        let port = free_udp_and_tcp_port();
        let mut command = Command::new(dnsmasq());
        command
            .args(["--keep-in-foreground", "--conf-file=/dev/null"])
            .args(["--no-resolv", "--no-hosts", "--no-poll", "--pid-file="])
            .args(["--listen-address=127.0.0.1", "--bind-interfaces"])
            .arg(format!("--port={port}"))
            .arg(format!("--local=/{ZONE}/"))
            .args(records)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if nix_is_root() {
            // As root dnsmasq drops to a user; name one that exists without the `dnsmasq`
            // package (which creates the `dnsmasq` user) installed.
            command.arg("--user=nobody");
        }
        let child = command.spawn().expect("spawn dnsmasq");
        // Listening once it accepts TCP (it binds UDP first).
        wait_tcp_listening(port, || format!("dnsmasq never listened on {port}")).await;
        Dns {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            _child: child,
        }
    }
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|uids| uids.split_whitespace().next() == Some("0"))
        })
        .unwrap_or(false)
}

fn runtime_password() -> String {
    format!("pw-{}-{}", std::process::id(), rand::random::<u32>())
}

/// Registers `alice` at `domain` (resolved through `dns`) against sipp's `uas_registrar.xml` on
/// `sipp_port`, and expects the registrar's 60 s.
async fn registers_through_dns(domain: &str, dns: &Dns, sipp_port: u16) {
    let dir = tempfile::tempdir().expect("temp dir");
    let password = runtime_password();
    let scenario = scenario(
        dir.path(),
        "uas_registrar.xml",
        &[("@PASSWORD@", &password)],
    );
    let sipp = start_sipp(&scenario, sipp_port, free_media_port(), None, &[]);
    let (ua, mut events) = agent(domain, |c| {
        c.password = Some(Password::new(password.clone()));
        c.dns_server = Some(dns.addr);
    })
    .await;
    ua.register().expect("start registering");
    let expires = wait_for(&mut events, "Registered", |e| match e {
        Event::Registered { expires } => Some(*expires),
        Event::RegistrationFailed { reason, .. } => {
            panic!("registration at {domain} must succeed, failed: {reason}")
        }
        _ => None,
    })
    .await;
    assert_eq!(expires, 60, "sipp at port {sipp_port} granted 60 s");
    expect_sipp_success(sipp, "uas_registrar").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pbx_named_by_domain_is_found_through_its_srv_record() {
    let sipp_port = free_port();
    // Priority 10 goes first; the priority 20 record points at a port where nothing listens.
    let dead_port = free_port();
    let dns = Dns::start(&[
        format!("--srv-host=_sip._udp.pbx.{ZONE},edge1.{ZONE},{sipp_port},10,100"),
        format!("--srv-host=_sip._udp.pbx.{ZONE},edge2.{ZONE},{dead_port},20,100"),
        format!("--host-record=edge1.{ZONE},127.0.0.1"),
        format!("--host-record=edge2.{ZONE},127.0.0.1"),
    ])
    .await;
    // No port: the agent asks DNS for `_sip._udp.pbx.callpop.test`.
    registers_through_dns(&format!("pbx.{ZONE}"), &dns, sipp_port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_with_a_port_is_looked_up_by_its_address_record() {
    let sipp_port = free_port();
    // An SRV record that must not be used: a port given skips SRV (RFC 3263 §4.2).
    let dead_port = free_port();
    let dns = Dns::start(&[
        format!("--srv-host=_sip._udp.host.{ZONE},host.{ZONE},{dead_port},10,100"),
        format!("--host-record=host.{ZONE},127.0.0.1"),
    ])
    .await;
    registers_through_dns(&format!("host.{ZONE}:{sipp_port}"), &dns, sipp_port).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_domain_fails_the_registration_quickly_with_the_name() {
    unknown_domain_fails_quickly_with_the_name(Transport::Udp).await;
}

/// Over TCP the name is resolved once, before the connection is opened, and worded the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_domain_over_tcp_fails_the_registration_quickly_with_the_name() {
    unknown_domain_fails_quickly_with_the_name(Transport::Tcp).await;
}

async fn unknown_domain_fails_quickly_with_the_name(transport: Transport) {
    let dns = Dns::start(&[]).await;
    let (ua, mut events) = agent(&format!("nowhere.{ZONE}"), |c| {
        c.dns_server = Some(dns.addr);
        c.transport = transport;
    })
    .await;
    let started = std::time::Instant::now();
    ua.register().expect("start registering");
    let (reason, kind) = wait_for(&mut events, "RegistrationFailed", |e| match e {
        Event::RegistrationFailed { reason, kind } => Some((reason.clone(), *kind)),
        Event::Registered { .. } => panic!("an unknown domain cannot register"),
        _ => None,
    })
    .await;
    assert_eq!(kind, FailureKind::UnknownHost, "{reason}");
    assert!(
        reason.contains("nowhere.callpop.test"),
        "the failure names the domain: {reason}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "an NXDOMAIN fails at once, not after the transaction times out: {:?}",
        started.elapsed()
    );
}
