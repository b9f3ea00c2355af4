//! `callpop`: the desktop shell. It wires the engine, the SIP agent, the local store and the
//! Salesforce client to two windows (the panel and the incoming-call popup), a tray icon, deep
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
mod shell;
mod tray;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
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
