//! A real registrar and proxy: kamailio, started by the test on loopback with a minimal config
//! (in-memory location table, record-route, stateful relay, no authentication). We register
//! through it; sipp then calls our address of record through it; we receive, answer, and the
//! BYE routed back through kamailio closes the call.

mod common;

use std::path::Path;
use std::process::Stdio;

use callpop_sip::{CloseReason, Event, Password};
use common::*;
use tokio::process::{Child, Command};

/// Path to kamailio; fails the test (never skips) when it is missing.
fn kamailio() -> std::path::PathBuf {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin"]
        .iter()
        .map(|dir| Path::new(dir).join("kamailio"))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("kamailio is not installed: run `make deps`"))
}

/// The config: no `alias` for 127.0.0.1 (every loopback port would then count as kamailio and
/// in-dialog requests would loop until 483).
fn config(port: u16) -> String {
    format!(
        r#"#!KAMAILIO
debug=2
log_stderror=yes
children=1
auto_aliases=no
listen=udp:127.0.0.1:{port}

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

/// Starts kamailio on `port` with its config and runtime files in `dir`; stopped on drop.
fn start_kamailio(dir: &Path, port: u16) -> Kamailio {
    let cfg = dir.join("kamailio.cfg");
    std::fs::write(&cfg, config(port)).expect("write kamailio.cfg");
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
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map(|main| Kamailio { main })
        .expect("spawn kamailio")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_through_kamailio_then_receive_a_call_routed_by_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let mut proxy = start_kamailio(dir.path(), port);
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

    let scenario = scenario(dir.path(), "uac_via_proxy.xml", &[]);
    let sipp = start_sipp(
        &scenario,
        free_port(),
        free_media_port(),
        Some(registrar.parse().expect("proxy address")),
        &[],
    );
    let (call_id, from) = wait_for(&mut events, "IncomingCall through kamailio", |e| match e {
        Event::IncomingCall { call_id, from, .. } => Some((call_id.clone(), from.clone())),
        _ => None,
    })
    .await;
    assert!(
        from.uri.starts_with("sip:+14155550100@"),
        "the caller is sipp's From, relayed unchanged: {}",
        from.uri
    );
    ua.answer(&call_id).await.expect("answer the relayed call");
    wait_established(&mut events, &call_id).await;
    let reason = wait_for(&mut events, "Closed by sipp's BYE", |e| match e {
        Event::Closed {
            call_id: id,
            reason,
        } if *id == call_id => Some(reason.clone()),
        _ => None,
    })
    .await;
    assert_eq!(
        reason,
        CloseReason::RemoteHangup,
        "the BYE routed back through kamailio closes the call"
    );
    expect_sipp_success(sipp, "uac_via_proxy").await;
    proxy.stop();
}
