//! `callpop`: the desktop shell. It wires the engine, the SIP agent, the local store and the
//! Salesforce client to two windows (the panel, and the incoming-call popup around calls), a tray icon, deep
//! links, global shortcuts and OS notifications. Every command forwards to a crate; decisions
//! live in the crates (`app-api`, `engine`, `cti`), never here.
//!
//! `callpop --demo` runs against an embedded Salesforce emulator with a demo caller (see
//! `demo.rs`); `READY sip=<addr>` is printed on stdout once the panel has loaded and the SIP
//! agent listens.
#![windows_subsystem = "windows"]

mod backend;
mod cli;
mod commands;
mod demo;
mod popup;
mod shell;
mod tray;

use clap::Parser;

/// What is logged unless `RUST_LOG` says otherwise: our own `info`, and only warnings from the
/// SIP stack, which logs every SIP message whole at `info` (digest `Authorization` headers, SMS
/// text, callers' numbers): none of that belongs in a log file.
const DEFAULT_LOG: &str = "info,rsipstack=warn";

/// WebKitGTK's switch for GPU compositing, read by its web processes when they start. Our
/// windows are a small panel of forms, which the CPU paints in well under a frame; GPU
/// compositing costs each web process a GL context and its buffers (about 60 MiB of a 170 MiB
/// web process, measured with `callpop-bench --app`). Set to `0` in the environment to keep it.
const WEBKIT_COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// JavaScriptCore's switch for its JIT compilers, read by every process that runs JavaScript.
/// Our UI is a few small forms that the interpreter runs fast enough (cold start is no slower);
/// without the JIT the web process saves about 10 MiB (measured with `callpop-bench --app`),
/// and the windows that show callers' names and SMS text run no generated machine code.
/// Set to `1` in the environment to keep it.
const JSC_JIT: &str = "JSC_useJIT";

/// WebKitGTK's switch for handing web-process frames to this process as DMA-BUFs. Without GPU
/// compositing there are none to hand over, yet the renderer sets up GBM and EGL in this
/// process: about 4 MiB (measured with `callpop-bench --app`). Set to `0` to keep it.
const WEBKIT_DMABUF: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";

/// What the environment gets unless it already says otherwise.
const WEBKIT_DEFAULTS: [(&str, &str); 3] = [
    (WEBKIT_COMPOSITING, "1"),
    (WEBKIT_DMABUF, "1"),
    (JSC_JIT, "0"),
];

fn main() -> std::process::ExitCode {
    for (name, value) in WEBKIT_DEFAULTS {
        if std::env::var_os(name).is_none() {
            // First thing, before any thread exists and before GTK starts its web processes.
            std::env::set_var(name, value);
        }
    }
    let args = cli::Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG)),
        )
        .init();
    match shell::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("callpop: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_default_log_keeps_whole_sip_messages_out() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_env_filter(tracing_subscriber::EnvFilter::new(super::DEFAULT_LOG))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                target: "rsipstack::transport::udp",
                raw_message = "REGISTER sip:pbx SIP/2.0\r\nAuthorization: Digest response=\"6629fae49393a05397450978507c4ef1\"",
                "udp send"
            );
            tracing::warn!(target: "rsipstack::transport::udp", "stack warning");
            tracing::info!(target: "callpop::shell", "panel ready");
        });
        let log = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
        assert!(
            !log.contains("Authorization") && !log.contains("udp send"),
            "the SIP stack's whole messages are not logged: {log}"
        );
        assert!(log.contains("stack warning"), "its warnings are: {log}");
        assert!(log.contains("panel ready"), "our own info lines are: {log}");
    }
}
