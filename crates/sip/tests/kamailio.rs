//! A real registrar and proxy: kamailio, started by the test on loopback with a minimal config
//! (in-memory location table, record-route, stateful relay, no authentication). We register
//! through it; sipp then calls our address of record through it; we receive, answer, and the
//! BYE routed back through kamailio closes the call.
//!
//! Over TLS (kamailio's `tls` module, package `kamailio-tls-modules`) with a CA and a server
//! certificate for 127.0.0.1 that the test makes (`rcgen`): we register over TLS trusting that
//! CA, sipp calls over UDP, kamailio relays the call to us over our TLS connection, and our BYE
//! goes back through it; without the CA trusted the registration fails, saying why, and sipp's
//! call finds nobody.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use callpop_sip::{CloseReason, Event, FailureKind, Password, Transport};
use common::*;
use tokio::process::{Child, Command};

/// Path to kamailio; fails the test (never skips) when it is missing.
fn kamailio() -> PathBuf {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join("kamailio"))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("kamailio is not installed: run `make deps`"))
}

/// kamailio's TLS listener: its port and the files of its certificate and key.
struct TlsListener {
    port: u16,
    certificate: PathBuf,
    private_key: PathBuf,
}

/// The config: UDP and TCP on `port`; no `alias` for 127.0.0.1 (every loopback port would then
/// count as kamailio and in-dialog requests would loop until 483). With `tls`, a TLS listener
/// too (TLS 1.2 or 1.3: kamailio's default is TLS 1.0 only, which rustls does not speak),
/// clients not asked for a certificate.
fn config(port: u16, tls: Option<&TlsListener>) -> String {
    let tls = tls.map_or(String::new(), |tls| {
        format!(
            r#"enable_tls=yes
listen=tls:127.0.0.1:{}
loadmodule "tls.so"
modparam("tls", "certificate", "{}")
modparam("tls", "private_key", "{}")
modparam("tls", "tls_method", "TLSv1.2+")
"#,
            tls.port,
            tls.certificate.display(),
            tls.private_key.display()
        )
    });
    format!(
        r#"#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
listen=udp:127.0.0.1:{port}
listen=tcp:127.0.0.1:{port}
{tls}
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"

modparam("usrloc", "db_mode", 0)
modparam("rr", "enable_full_lr", 1)

request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (has_totag()) {{
        if (loose_route()) {{
            t_relay();
            exit;
        }}
        if (is_method("ACK")) {{
            if (t_check_trans()) {{
                t_relay();
            }}
            exit;
        }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    if (is_method("REGISTER")) {{
        save("location");
        exit;
    }}
    record_route();
    if (!lookup("location")) {{
        sl_send_reply("404", "Not Found");
        exit;
    }}
    t_relay();
}}
"#
    )
}

/// A running kamailio: its main process and its workers, in a process group of their own.
struct Kamailio {
    main: Child,
}

impl Kamailio {
    /// The exit status if kamailio has already stopped.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.main.try_wait().ok().flatten()
    }

    /// Kills the whole process group. Killing the main process only (`kill_on_drop`) left the
    /// workers running, still listening and holding their connections.
    fn stop(&mut self) {
        if let Some(pid) = self.main.id() {
            let _ = std::process::Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{pid}")])
                .status();
        }
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts kamailio on `port` (and `tls`) with its config, runtime files and log
/// (`kamailio.log`) in `dir`; stopped on drop.
fn start_kamailio(dir: &Path, port: u16, tls: Option<&TlsListener>) -> Kamailio {
    let cfg = dir.join("kamailio.cfg");
    std::fs::write(&cfg, config(port, tls)).expect("write kamailio.cfg");
    let log = std::fs::File::create(dir.join("kamailio.log")).expect("kamailio.log");
    let run = dir.join("run");
    std::fs::create_dir_all(&run).expect("runtime dir");
    Command::new(kamailio())
        .arg("-f")
        .arg(&cfg)
        .args(["-DD", "-E", "-m", "32", "-M", "8"])
        .arg("-Y")
        .arg(&run)
        .arg("-P")
        .arg(dir.join("kamailio.pid"))
        .arg("-w")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .map(|main| Kamailio { main })
        .expect("spawn kamailio")
}

/// kamailio's log so far, for a failure message.
fn kamailio_log(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("kamailio.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Fails the test (never skips) when kamailio's TLS module is not installed.
fn require_tls_module() {
    let mut dirs = vec![
        PathBuf::from("/usr/lib/kamailio/modules"),
        PathBuf::from("/usr/local/lib64/kamailio/modules"),
    ];
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        dirs.extend(entries.flatten().map(|e| e.path().join("kamailio/modules")));
    }
    assert!(
        dirs.iter().any(|dir| dir.join("tls.so").exists()),
        "kamailio's TLS module is not installed: run `make deps` (Debian package kamailio-tls-modules)"
    );
}

/// A test CA, and a certificate for 127.0.0.1 and localhost signed by it, as kamailio's
/// certificate and key files; returns the listener and the CA's PEM file.
fn test_pki(dir: &Path, port: u16) -> (TlsListener, PathBuf) {
    require_tls_module();
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Callpop test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key"))
        .expect("self-signed CA");
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .expect("server params");
    server
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().expect("server key");
    let cert = server.signed_by(&key, &ca).expect("server certificate");
    let listener = TlsListener {
        port,
        certificate: dir.join("server.pem"),
        private_key: dir.join("server.key"),
    };
    std::fs::write(&listener.certificate, cert.pem()).expect("write server.pem");
    std::fs::write(&listener.private_key, key.serialize_pem()).expect("write server.key");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).expect("write ca.pem");
    (listener, ca_file)
}

/// Waits until kamailio accepts TCP connections on `port` (its TCP or TLS listener), so that
/// the first REGISTER meets it; fails after [`WAIT`] with kamailio's log.
async fn wait_listening(dir: &Path, port: u16) {
    wait_tcp_listening(port, || {
        format!(
            "kamailio never listened on TCP port {port}; its log:\n{}",
            kamailio_log(dir)
        )
    })
    .await;
}

/// kamailio with UDP on one port and TLS on another, its certificate signed by a test CA (all
/// files in `dir`), listening: the UDP port, the TLS port, the TLS files, the CA file, kamailio.
async fn kamailio_with_tls(dir: &Path) -> (u16, u16, TlsListener, PathBuf, Kamailio) {
    let (port, tls_port) = (free_udp_and_tcp_port(), free_tcp_port());
    let (listener, ca_file) = test_pki(dir, tls_port);
    let proxy = start_kamailio(dir, port, Some(&listener));
    wait_listening(dir, tls_port).await;
    (port, tls_port, listener, ca_file, proxy)
}

/// Our agent, to register for 120 s over TLS with `127.0.0.1:tls_port`, trusting `ca_file`
/// besides the system's CA certificates.
async fn tls_agent(
    tls_port: u16,
    ca_file: Option<PathBuf>,
) -> (
    callpop_sip::UserAgent,
    tokio::sync::mpsc::UnboundedReceiver<Event>,
) {
    agent(&format!("127.0.0.1:{tls_port}"), |c| {
        c.user = "callpop".into();
        c.register_expires = 120;
        c.transport = Transport::Tls;
        c.tls_ca_file = ca_file;
        // See the UDP test: a credential makes rsipstack name the user in the REGISTER's To.
        c.password = Some(Password::new(format!("unused-{}", std::process::id())));
    })
    .await
}

/// sipp calls our address of record over UDP through the proxy on `proxy_port`, playing
/// `scenario_name` (one of the `uac_via_proxy*` scenarios).
fn sipp_calls_through(dir: &Path, proxy_port: u16, scenario_name: &str) -> Child {
    let scenario = scenario(dir, scenario_name, &[]);
    let proxy: SocketAddr = format!("127.0.0.1:{proxy_port}")
        .parse()
        .expect("proxy address");
    start_sipp(&scenario, free_port(), free_media_port(), Some(proxy), &[])
}

/// Waits for the call relayed to us (`what` names it in a failure), answers it and waits until
/// it is established; returns its id and its caller.
async fn answer_relayed_call(
    ua: &callpop_sip::UserAgent,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    what: &str,
) -> (String, callpop_sip::identity::Party) {
    let (call_id, from) = wait_for(events, what, |e| match e {
        Event::IncomingCall { call_id, from, .. } => Some((call_id.clone(), from.clone())),
        _ => None,
    })
    .await;
    ua.answer(&call_id).await.expect("answer the relayed call");
    wait_established(events, &call_id).await;
    (call_id, from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_through_kamailio_then_receive_a_call_routed_by_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    // kamailio listens on UDP and TCP on this port.
    let port = free_udp_and_tcp_port();
    let mut proxy = start_kamailio(dir.path(), port, None);
    let registrar = format!("127.0.0.1:{port}");
    let (ua, mut events) = agent(&registrar, |c| {
        c.user = "callpop".into();
        c.register_expires = 120;
        // kamailio asks for no authentication here, but rsipstack 0.7.14 names the user in the
        // REGISTER's To only when it has a credential: without one the AOR has no user part and
        // the call below would not be found. The value is made at run time and never checked.
        c.password = Some(Password::new(format!("unused-{}", std::process::id())));
    })
    .await;
    // kamailio may need a moment to bind: a failed registration is retried with back-off.
    ua.register().expect("registration starts");
    let expires = wait_for(&mut events, "Registered", |e| match e {
        Event::Registered { expires } => Some(*expires),
        _ => None,
    })
    .await;
    assert!(
        expires > 0 && expires <= 120,
        "kamailio granted a lifetime within what we asked: {expires}"
    );
    if let Some(status) = proxy.exited() {
        panic!("kamailio exited early: {status}");
    }

    let sipp = sipp_calls_through(dir.path(), port, "uac_via_proxy.xml");
    let (call_id, from) =
        answer_relayed_call(&ua, &mut events, "IncomingCall through kamailio").await;
    assert!(
        from.uri.starts_with("sip:+14155550100@"),
        "the caller is sipp's From, relayed unchanged: {}",
        from.uri
    );
    let reason = wait_closed(&mut events, &call_id).await;
    assert_eq!(
        reason,
        CloseReason::RemoteHangup,
        "the BYE routed back through kamailio closes the call"
    );
    expect_sipp_success(sipp, "uac_via_proxy").await;
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_over_tcp_then_receive_a_call_kamailio_sends_over_tcp() {
    let dir = tempfile::tempdir().expect("temp dir");
    // kamailio listens on UDP and TCP on this port.
    let port = free_udp_and_tcp_port();
    let mut proxy = start_kamailio(dir.path(), port, None);
    wait_listening(dir.path(), port).await;
    let (ua, mut events) = agent(&format!("127.0.0.1:{port}"), |c| {
        c.user = "callpop".into();
        c.transport = Transport::Tcp;
        c.password = Some(Password::new(format!("unused-{}", std::process::id())));
    })
    .await;
    ua.register().expect("registration starts");
    wait_for(&mut events, "Registered over TCP", |e| match e {
        Event::Registered { .. } => Some(()),
        Event::RegistrationFailed { reason, .. } => panic!(
            "registration over TCP failed: {reason}; kamailio's log:\n{}",
            kamailio_log(dir.path())
        ),
        _ => None,
    })
    .await;
    // Our binding says `;transport=tcp`: the call reaches us over TCP, not over UDP.
    let sipp = sipp_calls_through(dir.path(), port, "uac_via_proxy.xml");
    let (call_id, _) = answer_relayed_call(&ua, &mut events, "IncomingCall over TCP").await;
    let reason = wait_closed(&mut events, &call_id).await;
    assert_eq!(
        reason,
        CloseReason::RemoteHangup,
        "sipp's BYE came through kamailio"
    );
    expect_sipp_success(sipp, "uac_via_proxy (to a TCP binding)").await;
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_over_tls_then_receive_a_call_relayed_over_that_connection() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (port, tls_port, _listener, ca_file, mut proxy) = kamailio_with_tls(dir.path()).await;
    let (ua, mut events) = tls_agent(tls_port, Some(ca_file)).await;
    ua.register().expect("registration starts");
    let expires = wait_for(&mut events, "Registered over TLS", |e| match e {
        Event::Registered { expires } => Some(*expires),
        Event::RegistrationFailed { reason, .. } => panic!(
            "registration over TLS failed: {reason}; kamailio's log:\n{}",
            kamailio_log(dir.path())
        ),
        _ => None,
    })
    .await;
    assert!(
        expires > 0 && expires <= 120,
        "kamailio granted a lifetime within what we asked: {expires}"
    );

    // sipp calls over UDP; kamailio finds our TLS binding and relays the INVITE (and the ACK)
    // over the connection we registered on: we listen on no TLS port it could open another to.
    let sipp = sipp_calls_through(dir.path(), port, "uac_via_proxy_callee_hangs_up.xml");
    let (call_id, from) = answer_relayed_call(&ua, &mut events, "IncomingCall over TLS").await;
    assert!(
        from.uri.starts_with("sip:+14155550100@"),
        "the caller is sipp's From, relayed unchanged: {}",
        from.uri
    );
    // Our BYE follows the Record-Route set: to kamailio's TLS side, on the same connection.
    ua.hangup(&call_id).await.expect("BYE over TLS");
    let reason = wait_closed(&mut events, &call_id).await;
    assert_eq!(reason, CloseReason::LocalHangup, "we hung up");
    expect_sipp_success(
        sipp,
        "uac_via_proxy_callee_hangs_up (ACK in, BYE out over TLS)",
    )
    .await;
    if let Some(status) = proxy.exited() {
        panic!("kamailio exited early: {status}");
    }
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_methods_relayed_over_our_tls_connection_get_501_and_it_carries_the_call_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (port, tls_port, _listener, ca_file, mut proxy) = kamailio_with_tls(dir.path()).await;
    let (ua, mut events) = tls_agent(tls_port, Some(ca_file)).await;
    ua.register().expect("registration starts");
    wait_for(&mut events, "Registered over TLS", |e| match e {
        Event::Registered { .. } => Some(()),
        Event::RegistrationFailed { reason, .. } => panic!(
            "registration over TLS failed: {reason}; kamailio's log:\n{}",
            kamailio_log(dir.path())
        ),
        _ => None,
    })
    .await;
    // kamailio relays sipp's FOOBAR (out of the dialog, then inside it) over the TLS connection
    // we registered on: each gets our 501 and the connection, with the call, stays up.
    let sipp = sipp_calls_through(dir.path(), port, "uac_unknown_method_via_proxy.xml");
    let (call_id, _) = answer_relayed_call(&ua, &mut events, "IncomingCall over TLS").await;
    let reason = wait_closed(&mut events, &call_id).await;
    assert_eq!(
        reason,
        CloseReason::RemoteHangup,
        "sipp's BYE came over the connection that carried the FOOBARs"
    );
    expect_sipp_success(
        sipp,
        "uac_unknown_method_via_proxy (501 twice over TLS, BYE answered 200)",
    )
    .await;
    // We listen on no TLS port: had the first FOOBAR closed our connection, kamailio could not
    // have relayed the INVITE before we registered again, nor the BYE on the old dialog's flow.
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_registration_with_an_untrusted_certificate_fails_saying_why_and_no_call_reaches_us() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (port, tls_port, _listener, _ca_file, mut proxy) = kamailio_with_tls(dir.path()).await;
    // The system's CA certificates only: the test CA is not among them.
    let (ua, mut events) = tls_agent(tls_port, None).await;
    ua.register().expect("registration starts");
    let (reason, kind) = wait_for(&mut events, "RegistrationFailed", |e| match e {
        Event::RegistrationFailed { reason, kind } => Some((reason.clone(), *kind)),
        Event::Registered { .. } => panic!("registered although kamailio's CA is not trusted"),
        _ => None,
    })
    .await;
    assert_eq!(kind, FailureKind::CertificateUntrusted, "{reason}");
    assert_eq!(
        reason,
        format!(
            "TLS to 127.0.0.1:{tls_port}: its certificate is not signed by a trusted CA (for a \
             private CA, set the CA certificate file)"
        ),
        "the status the UI shows names the address and the certificate problem"
    );

    let sipp = sipp_calls_through(dir.path(), port, "uac_via_proxy_not_found.xml");
    expect_sipp_success(
        sipp,
        "uac_via_proxy_not_found (kamailio has no binding: 404)",
    )
    .await;
    while let Ok(event) = events.try_recv() {
        assert!(
            !matches!(event, Event::IncomingCall { .. } | Event::Registered { .. }),
            "no binding was made, so no call can reach us: {event:?}"
        );
    }
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_registration_is_renewed_on_a_new_connection_when_the_registrar_restarts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (port, tls_port, listener, ca_file, mut proxy) = kamailio_with_tls(dir.path()).await;
    // The refresh is 90 s away: only the closed connection can make us register again.
    let (ua, mut events) = tls_agent(tls_port, Some(ca_file)).await;
    ua.register().expect("registration starts");
    wait_for(&mut events, "Registered over TLS", |e| {
        matches!(e, Event::Registered { .. }).then_some(())
    })
    .await;

    // The registrar goes away with its bindings and its end of our connection, and comes back.
    proxy.stop();
    let _ = proxy.main.wait().await;
    let mut proxy = start_kamailio(dir.path(), port, Some(&listener));
    wait_listening(dir.path(), tls_port).await;
    wait_for(&mut events, "Registered again on a new connection", |e| {
        matches!(e, Event::Registered { .. }).then_some(())
    })
    .await;

    let sipp = sipp_calls_through(dir.path(), port, "uac_via_proxy.xml");
    let (call_id, _) =
        answer_relayed_call(&ua, &mut events, "IncomingCall on the new connection").await;
    let reason = wait_closed(&mut events, &call_id).await;
    assert_eq!(
        reason,
        CloseReason::RemoteHangup,
        "sipp's BYE came over TLS"
    );
    expect_sipp_success(sipp, "uac_via_proxy after the registrar restarted").await;
    proxy.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_registration_with_an_unusable_ca_file_fails_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_port, tls_port, listener, _ca_file, proxy) = kamailio_with_tls(dir.path()).await;
    // The server's key where the CA's certificate should be: no CERTIFICATE block.
    let wrong_file = listener.private_key.clone();
    assert!(
        callpop_sip::check_ca_file(&wrong_file).is_err(),
        "the settings can tell before saving"
    );
    let (ua, mut events) = tls_agent(tls_port, Some(wrong_file)).await;
    ua.register().expect("registration starts");
    let (reason, kind) = wait_for(&mut events, "RegistrationFailed", |e| match e {
        Event::RegistrationFailed { reason, kind } => Some((reason.clone(), *kind)),
        Event::Registered { .. } => panic!("registered without the CA file"),
        _ => None,
    })
    .await;
    assert_eq!(kind, FailureKind::CaFile, "{reason}");
    assert!(
        reason.contains("server.key") && reason.contains("no CERTIFICATE block"),
        "the status names the file and what is wrong with it: {reason}"
    );
    drop(proxy);
}
