//! Issue 5's figures, from the release desktop binary (`callpop`, built beside this one by
//! `make bench`) on a virtual screen (Xvfb, started here when there is no `$DISPLAY`), against the
//! emulator in a process of its own (so its data is not counted as the app's):
//! - cold start to ready: from spawning the app to its `READY` line, which it prints once the
//!   panel window has loaded and asked for its first state, with the SIP agent bound (without a
//!   registrar an agent is reachable as soon as it listens);
//! - resident memory at idle, 5 s after ready: the app with its WebKit processes (web content,
//!   network), as RSS summed over the process tree (shared pages counted once per process, so it
//!   overstates) and as PSS (shared pages split between the processes sharing them).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::AsyncBufReadExt;

use crate::engine::EmulatorProcess;
use crate::report::Line;

/// Cold starts measured (a fresh data dir each); the figure is their median.
const STARTS: usize = 5;

fn sibling(name: &str) -> Result<PathBuf> {
    Ok(std::env::current_exe()?
        .parent()
        .ok_or_else(|| anyhow!("the benchmark binary has no folder"))?
        .join(name))
}

/// An X display for the app: `$DISPLAY` when set, else an Xvfb of our own (killed on drop).
struct Display {
    name: String,
    _xvfb: Option<tokio::process::Child>,
}

impl Display {
    async fn get() -> Result<Self> {
        if let Ok(name) = std::env::var("DISPLAY") {
            if !name.is_empty() {
                return Ok(Self { name, _xvfb: None });
            }
        }
        let number = 90 + std::process::id() % 100;
        let name = format!(":{number}");
        let xvfb = tokio::process::Command::new("Xvfb")
            .args([
                name.as_str(),
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting Xvfb (make deps installs it)")?;
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            if Instant::now() > deadline {
                bail!("Xvfb did not open display {name}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self {
            name,
            _xvfb: Some(xvfb),
        })
    }
}

/// The `field` line (`Rss:`, `Pss:` …) of `/proc/<pid>/smaps_rollup`, in MiB.
fn rollup_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// One launch: time to `READY`, and (when `measure_memory`) RSS and PSS of the tree at idle.
async fn launch(
    exe: &PathBuf,
    display: &str,
    emu: &EmulatorProcess,
    measure_memory: bool,
) -> Result<(Duration, f64, f64)> {
    let data = tempfile::tempdir()?;
    // The app's log, for the error when it does not get ready.
    let log = tempfile::NamedTempFile::new()?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(exe)
        .arg("--data-dir")
        .arg(data.path())
        .arg("--emulator-url")
        .arg(emu.login_url.as_str())
        .args(["--sip-port", "0"])
        .env("DISPLAY", display)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(log.reopen()?)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {} (make bench builds it)", exe.display()))?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await? {
            if line.starts_with("READY ") {
                return Ok::<_, anyhow::Error>(started.elapsed());
            }
        }
        bail!("the app exited before it was ready")
    })
    .await
    .context("the app was not ready within 60 s")
    .and_then(|ready| ready)
    .with_context(|| {
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "the app's last log lines:\n{}",
            lines[lines.len().saturating_sub(15)..].join("\n")
        )
    })?;
    let (mut rss, mut pss) = (0.0, 0.0);
    if measure_memory {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let pid = child.id().ok_or_else(|| anyhow!("the app exited"))?;
        for p in test_support::process_tree(pid) {
            rss += rollup_mib(p, "Rss:");
            pss += rollup_mib(p, "Pss:");
        }
    }
    child.kill().await.ok();
    Ok((ready, rss, pss))
}

/// Cold start to ready (median of [`STARTS`]) and idle memory of the app with its webview.
pub async fn run() -> Result<Vec<Line>> {
    let exe = sibling("callpop")?;
    let display = Display::get().await?;
    // The app signs in through the authorize page, as a browser would; the emulator approves.
    let emu = EmulatorProcess::start(&["--auto-approve"]).await?;
    let mut starts = Vec::with_capacity(STARTS);
    let (mut rss, mut pss) = (0.0, 0.0);
    for i in 0..STARTS {
        let (ready, r, p) = launch(&exe, &display.name, &emu, i == STARTS - 1).await?;
        starts.push(ready);
        if i == STARTS - 1 {
            (rss, pss) = (r, p);
        }
    }
    starts.sort();
    let median = starts[STARTS / 2];
    Ok(vec![
        Line::at_most(
            "app.cold_start_to_ready",
            median.as_secs_f64() * 1000.0,
            "ms",
            1000.0,
        ),
        Line::at_most("app.rss_idle", rss, "MiB", 120.0),
        Line::at_most("app.pss_idle", pss, "MiB", 120.0),
    ])
}
