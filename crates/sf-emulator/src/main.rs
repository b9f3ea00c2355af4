//! `sf-emulator`: runs the loopback Salesforce until SIGINT/SIGTERM. Prints one JSON line on
//! stdout once listening (`login_url`, `instance_url`, `client_id`); logs go to stderr.

use std::net::SocketAddr;
use std::time::Duration;

use callpop_sf_emulator::{Config, Emulator, PhoneMatch};
use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Match {
    Exact,
    Suffix,
}

/// A loopback Salesforce (OAuth + REST subset) for tests, benchmarks and the demo.
#[derive(Debug, Parser)]
#[command(name = "sf-emulator", version)]
struct Args {
    /// Port of the instance listener (REST, OAuth, control API); 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    instance_port: u16,
    /// Port of the login host (OAuth only); 0 picks a free port.
    #[arg(long, default_value_t = 0)]
    login_port: u16,
    /// Start with no records instead of the deterministic seed data.
    #[arg(long)]
    no_seed: bool,
    /// Delay added to every REST and OAuth response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Approve authorization requests at once instead of showing the approve page.
    #[arg(long)]
    auto_approve: bool,
    /// How phone searches compare numbers.
    #[arg(long, value_enum, default_value_t = Match::Exact)]
    phone_match: Match,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, default_value_t = 7200)]
    token_ttl_secs: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = Config {
        login_addr: SocketAddr::from(([127, 0, 0, 1], args.login_port)),
        instance_addr: SocketAddr::from(([127, 0, 0, 1], args.instance_port)),
        seed: !args.no_seed,
        latency: Duration::from_millis(args.latency_ms),
        auto_approve: args.auto_approve,
        phone_match: match args.phone_match {
            Match::Exact => PhoneMatch::Exact,
            Match::Suffix => PhoneMatch::Suffix,
        },
        access_token_ttl: Duration::from_secs(args.token_ttl_secs),
        ..Config::default()
    };
    let emulator = Emulator::start(config).await?;
    let ready = serde_json::json!({
        "login_url": emulator.login_url().as_str().trim_end_matches('/'),
        "instance_url": emulator.instance_url().as_str().trim_end_matches('/'),
        "client_id": emulator.client_id(),
    });
    println!("{ready}");
    wait_for_signal().await;
    tracing::info!("shutting down");
    emulator.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
