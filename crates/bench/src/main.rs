//! `callpop-bench`: measures and prints Callpop's performance figures, one line each:
//! `BENCH <name> <value> <unit> target <op> <value>`. Build in release mode (`make bench`).
//! It exits non-zero only when a benchmark cannot run, never because a target was missed: the
//! figures are for people to read, and a missed target is marked on stderr.

mod report;
mod salesforce;

use anyhow::Result;

#[tokio::main]
async fn main() -> Result<()> {
    let mut lines = Vec::new();
    lines.extend(salesforce::run().await?);
    for line in &lines {
        println!("{}", line.render());
        if !line.met() {
            eprintln!("missed target: {}", line.name);
        }
    }
    Ok(())
}
