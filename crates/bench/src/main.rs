//! `callpop-bench`: measures and prints Callpop's performance figures, one line each:
//! `BENCH <name> <value> <unit> target <op> <value>`. Build in release mode (`make bench`).
//! It exits non-zero only when a benchmark cannot run, never because a target was missed: the
//! figures are for people to read, and a missed target is marked on stderr.
//!
//! The engine's memory is measured in a child process (`callpop-bench --engine-memory`) so that
//! nothing else this program allocates is counted.

mod app;
mod engine;
mod report;
mod salesforce;
mod sip;

use anyhow::{bail, Context, Result};

fn print(lines: &[report::Line]) {
    for line in lines {
        println!("{}", line.render());
        if !line.met() {
            eprintln!("missed target: {}", line.name);
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    match std::env::args().nth(1).as_deref() {
        Some("--engine-memory") => {
            print(&engine::memory_probe().await?);
            return Ok(());
        }
        // The engine's popup and log rows alone (ringing → popup, requests per log).
        Some("--pops") => {
            print(&engine::pops().await?);
            return Ok(());
        }
        // The desktop app's rows alone.
        Some("--app") => {
            print(&app::run().await?);
            return Ok(());
        }
        _ => {}
    }
    print(&salesforce::run().await?);
    print(&engine::pops().await?);
    print(&engine::backlog().await?);
    print(&sip::run().await?);
    print(&app::run().await?);
    let child = std::process::Command::new(std::env::current_exe()?)
        .arg("--engine-memory")
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running the engine memory probe")?;
    if !child.status.success() {
        bail!("the engine memory probe failed: {}", child.status);
    }
    print!("{}", String::from_utf8_lossy(&child.stdout));
    Ok(())
}
