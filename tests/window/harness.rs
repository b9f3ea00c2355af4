//! The window-test harness: a private X display (Xvfb), a private D-Bus session bus (the
//! single-instance plugin and the deep-link forwarding use it), `tauri-driver` in front of
//! WebKitWebDriver, the in-process Salesforce emulator, sipp as the far end, and the desktop
//! app launched through WebDriver. Every child process is started in a process group of its own
//! and that group is killed on drop. A missing peer fails the test with what to install.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use fantoccini::elements::Element;
use fantoccini::error::NewSessionError;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use sf_emulator::Emulator;

/// How long a test waits for something the window should show (a loaded 2-core machine:
/// WebKit takes seconds to start).
pub const WAIT: Duration = Duration::from_secs(45);

/// The longest any helper process may live: past it `timeout` kills its group.
pub const LIFETIME: Duration = Duration::from_secs(600);

/// Where the tests write their screenshots (`target/screenshots/`).
pub fn screenshot_dir() -> PathBuf {
    target_dir().join("screenshots")
}

/// The cargo target directory: `CARGO_TARGET_DIR`, or the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
    }
}

/// The desktop app's debug binary; fails telling how to build it when it is absent.
pub fn app_binary() -> PathBuf {
    let path = target_dir().join("debug/callpop");
    assert!(
        path.exists(),
        "the desktop app is not built at {}: run `cargo build -p callpop-desktop` \
         (after `cd ui && npm ci && npm run build`), as `make test` does",
        path.display()
    );
    path
}

/// A program from PATH, `~/.cargo/bin` or `/usr/bin`; fails telling to run `make deps`.
fn program(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    dirs.push(PathBuf::from("/usr/bin"));
    dirs.into_iter()
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not installed: run `make deps`"))
}

/// A child process in a process group of its own; the whole group is killed on drop.
pub struct Proc {
    what: &'static str,
    child: Child,
    /// Set once killed and reaped: the group id may be reused after that.
    reaped: bool,
}

impl Proc {
    /// Spawns `program` with `args` under coreutils `timeout`, which kills the whole group
    /// after [`LIFETIME`] even when the test process itself was killed (a nextest time-out
    /// skips `Drop`).
    pub fn spawn_bounded(
        what: &'static str,
        program: &Path,
        configure: impl FnOnce(&mut Command),
    ) -> anyhow::Result<Proc> {
        let mut command = Command::new("timeout");
        command
            .args(["-s", "KILL", &format!("{}s", LIFETIME.as_secs())])
            .arg(program);
        configure(&mut command);
        Self::spawn_group(what, &mut command)
    }

    fn spawn_group(what: &'static str, command: &mut Command) -> anyhow::Result<Proc> {
        let child = command
            .process_group(0)
            .spawn()
            .with_context(|| format!("start {what}"))?;
        Ok(Proc {
            what,
            child,
            reaped: false,
        })
    }

    /// Waits (polling) up to `within` for it to exit; its exit status, `None` on time-out.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// Its process id.
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The environment of each process under it whose command name is `comm` (as the kernel
    /// has it, truncated to 15 bytes: `WebKitWebProces` for the web processes).
    pub fn environments_of(&self, comm: &str) -> Vec<Vec<String>> {
        processes_named(self.child.id(), comm)
            .into_iter()
            .map(|pid| {
                let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                environ
                    .split(|b| *b == 0)
                    .filter(|v| !v.is_empty())
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .collect()
            })
            .collect()
    }

    /// Its standard error so far (when piped), for failure messages; only after it exited.
    pub fn stderr_text(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Proc {
    /// Kills its process group (tauri-driver's WebKitWebDriver and the app it launched go
    /// with it) and reaps it.
    pub fn kill(&mut self) {
        if self.reaped {
            return;
        }
        self.reaped = true;
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the first line a child prints on stdout, failing after `within`.
fn first_line(proc: &mut Proc, within: Duration) -> anyhow::Result<String> {
    let out = proc
        .child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("{}: stdout is not piped", proc.what))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(within)
        .map_err(|_| anyhow!("{} printed nothing within {within:?}", proc.what))?;
    if line.trim().is_empty() {
        let status = proc.wait_exit(Duration::from_secs(2));
        let stderr = proc.stderr_text();
        bail!(
            "{} exited ({status:?}) before printing its address: {stderr}",
            proc.what
        );
    }
    Ok(line.trim().to_owned())
}

/// Waits until something listens on TCP `port` of loopback.
fn wait_listening(port: u16, within: Duration, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("{what} is not listening on {addr} after {within:?}")
}

/// tauri-driver in front of WebKitWebDriver, on free ports.
struct Driver {
    url: String,
    /// Where its (and its children's) standard error goes.
    log: PathBuf,
    proc: Proc,
}

impl Driver {
    fn start(display: &str, bus: &str, home: &Path) -> anyhow::Result<Driver> {
        let port = free_tcp_port();
        let native_port = free_tcp_port();
        // What tauri-driver, WebKitWebDriver and the apps they launch print goes to a file,
        // quoted when a session fails to open.
        let log = home.join(format!("driver-{port}.log"));
        let file = std::fs::File::create(&log).context("create the driver's log")?;
        let proc = Proc::spawn_bounded("tauri-driver", &program("tauri-driver"), |c| {
            c.args(["--port", &port.to_string()])
                .args(["--native-port", &native_port.to_string()])
                .arg("--native-driver")
                .arg(program("WebKitWebDriver"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(file);
            apply_env(c, display, bus, home);
            // WebKitWebDriver's screenshot waits forever for a composited frame under Xvfb
            // when the app has turned GPU compositing off (its default, see
            // `src-tauri/src/main.rs`): the apps the driver launches keep it on.
            // The same goes for the DMA-BUF renderer. `launch_plain` runs the app with its
            // own defaults.
            c.env("WEBKIT_DISABLE_COMPOSITING_MODE", "0")
                .env("WEBKIT_DISABLE_DMABUF_RENDERER", "0");
        })?;
        wait_listening(port, Duration::from_secs(30), "tauri-driver")?;
        wait_listening(native_port, Duration::from_secs(30), "WebKitWebDriver")?;
        Ok(Driver {
            url: format!("http://127.0.0.1:{port}"),
            log,
            proc,
        })
    }

    /// The last lines it, WebKitWebDriver and the apps printed on standard error.
    fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

/// The last 40 lines of the log at `path`.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// The display, the bus and the WebDriver server one test uses.
pub struct Desktop {
    // Killed in field order: the driver (and the apps it launched) first, the display last;
    // the XDG dirs go last. Behind a lock only to be restarted by `launch`.
    driver: std::sync::Mutex<Driver>,
    display: String,
    bus: String,
    _bus: Proc,
    _xvfb: Proc,
    _home: tempfile::TempDir,
}

impl Desktop {
    fn driver(&self) -> std::sync::MutexGuard<'_, Driver> {
        self.driver
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Why a session did not open, with what the driver printed.
    fn session_error(&self, error: NewSessionError) -> anyhow::Error {
        anyhow::Error::new(error).context(format!(
            "open a WebDriver session on the app; the driver printed:\n{}",
            self.driver().log_tail()
        ))
    }

    /// Starts Xvfb on a free display, a session bus and tauri-driver on free ports.
    pub fn start() -> anyhow::Result<Desktop> {
        let home = tempfile::tempdir()?;
        for sub in ["config", "data", "cache", "runtime"] {
            std::fs::create_dir_all(home.path().join(sub))?;
        }
        std::fs::set_permissions(
            home.path().join("runtime"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )?;
        // Xvfb picks a free display number and writes it on the fd given (here stdout).
        let mut xvfb = Proc::spawn_bounded("Xvfb", &program("Xvfb"), |c| {
            c.args(["-displayfd", "1", "-screen", "0", "1280x1024x24"])
                .args(["-nolisten", "tcp", "-noreset"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
        })?;
        let display = format!(":{}", first_line(&mut xvfb, Duration::from_secs(20))?);

        let runtime = home.path().join("runtime");
        let mut bus_proc = Proc::spawn_bounded("dbus-daemon", &program("dbus-daemon"), |c| {
            c.args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
                .env("XDG_RUNTIME_DIR", runtime)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
        })?;
        let bus = first_line(&mut bus_proc, Duration::from_secs(20))?;

        let driver = Driver::start(&display, &bus, home.path())?;
        Ok(Desktop {
            driver: std::sync::Mutex::new(driver),
            display,
            bus,
            _bus: bus_proc,
            _xvfb: xvfb,
            _home: home,
        })
    }

    /// Launches the app with `args` as an agent would, outside WebDriver (so with its own
    /// rendering defaults), on this display; returns once it printed `READY`.
    pub fn launch_plain(&self, args: &[String]) -> anyhow::Result<Proc> {
        let mut app = Proc::spawn_bounded("the app", &app_binary(), |c| {
            c.args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            apply_env(c, &self.display, &self.bus, self._home.path());
        })?;
        let line = first_line(&mut app, WAIT)?;
        anyhow::ensure!(line.starts_with("READY "), "the app printed {line:?}");
        Ok(app)
    }

    /// Starts the app with `args` on this display and bus as the OS does for a clicked link,
    /// outside WebDriver, and waits up to `within` for it to exit; its exit status and what it
    /// printed on stdout (a second instance hands its links over and prints nothing).
    pub fn launch_again(
        &self,
        args: &[String],
        within: Duration,
    ) -> anyhow::Result<(std::process::ExitStatus, String)> {
        let mut app = Proc::spawn_bounded("the second launch", &app_binary(), |c| {
            c.args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            apply_env(c, &self.display, &self.bus, self._home.path());
        })?;
        let Some(status) = app.wait_exit(within) else {
            bail!("the second launch still runs after {within:?}: it did not hand over and exit");
        };
        let mut out = String::new();
        if let Some(mut stdout) = app.child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        anyhow::ensure!(
            status.success(),
            "the second launch failed ({status}): {}",
            app.stderr_text()
        );
        Ok((status, out))
    }

    /// A PNG of the whole screen, as X has it (what is on the glass, whoever painted it),
    /// saved as `target/screenshots/<name>.png`, with the mean and the standard deviation of
    /// the brightness (0 to 1) of the `width`×`height` area at the top left.
    pub fn screen(&self, name: &str, width: u32, height: u32) -> anyhow::Result<(f64, f64)> {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        let status = Command::new(program("import"))
            .args(["-window", "root"])
            .arg(&path)
            .env("DISPLAY", &self.display)
            .status()
            .context("run ImageMagick's import")?;
        anyhow::ensure!(status.success(), "import failed: {status}");
        let out = Command::new(program("convert"))
            .arg(&path)
            .args([
                "-crop",
                &format!("{width}x{height}+0+0"),
                "-colorspace",
                "Gray",
            ])
            .args(["-format", "%[fx:mean] %[fx:standard_deviation]", "info:"])
            .output()
            .context("run ImageMagick's convert")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut numbers = text.split_whitespace().map(str::parse::<f64>);
        match (numbers.next(), numbers.next()) {
            (Some(Ok(mean)), Some(Ok(sd))) => Ok((mean, sd)),
            _ => bail!("convert printed {text:?}"),
        }
    }

    /// Opens a WebDriver session that launches the app with `args`; waits for its panel.
    ///
    /// When the request for the session is lost in transport (tauri-driver drops the
    /// connection when WebKitWebDriver does: seen once in CI, with no app started), the
    /// driver is restarted and the session asked for once more, saying so on stderr. Any
    /// answer from the driver, a refusal included, fails the test as it is.
    pub async fn launch(&self, args: &[String]) -> anyhow::Result<App> {
        let capabilities = json!({
            "tauri:options": { "application": app_binary(), "args": args },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let url = self.driver().url.clone();
        let client = match open_session(&url, capabilities.clone()).await? {
            Ok(client) => client,
            Err(NewSessionError::FailedC(lost)) => {
                let url = {
                    let mut driver = self.driver();
                    eprintln!(
                        "the session request was lost ({lost}); restarting the driver, \
                         which printed:\n{}",
                        driver.log_tail()
                    );
                    *driver = Driver::start(&self.display, &self.bus, self._home.path())?;
                    driver.url.clone()
                };
                open_session(&url, capabilities)
                    .await?
                    .map_err(|e| self.session_error(e))?
            }
            Err(e) => return Err(self.session_error(e)),
        };
        let (log, driver_pid) = {
            let driver = self.driver();
            (driver.log.clone(), driver.proc.pid())
        };
        let app = App {
            client,
            log,
            driver_pid,
        };
        app.find("#nav-panel")
            .await
            .context("the panel window shows its navigation")?;
        Ok(app)
    }
}

/// Asks the driver at `url` for a session; fails only when it does not answer within [`WAIT`].
async fn open_session(
    url: &str,
    capabilities: serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<Result<Client, NewSessionError>> {
    tokio::time::timeout(
        WAIT,
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(url),
    )
    .await
    .map_err(|_| anyhow!("the app's WebDriver session did not open within {WAIT:?}"))
}

/// The environment every process of the desktop gets: the display, the bus, private XDG dirs.
fn apply_env(command: &mut Command, display: &str, bus: &str, home: &Path) {
    command
        .env("DISPLAY", display)
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("XDG_RUNTIME_DIR", home.join("runtime"))
        .env("GTK_A11Y", "none")
        .env("NO_AT_BRIDGE", "1")
        .env_remove("WAYLAND_DISPLAY");
}

/// The app under WebDriver.
pub struct App {
    /// The WebDriver session.
    pub client: Client,
    /// The driver's log, where the app's own log lines go too.
    log: PathBuf,
    /// The driver, whose descendants the app's processes are.
    driver_pid: u32,
}

impl App {
    /// Waits for the element `css` in the current window.
    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        let found = self
            .client
            .wait()
            .at_most(WAIT)
            .every(Duration::from_millis(200))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => Ok(element),
            Err(e) => {
                let shown = self.notices().await;
                Err(anyhow::Error::new(e).context(format!(
                    "no element `{css}` within {WAIT:?}; the window's notices: {shown:?}; \
                     the app's log ends:\n{}",
                    log_tail(&self.log)
                )))
            }
        }
    }

    /// The texts of the notices (errors, infos) the current window shows.
    async fn notices(&self) -> Vec<String> {
        let Ok(elements) = self.client.find_all(Locator::Css(".notice")).await else {
            return Vec::new();
        };
        let mut texts = Vec::new();
        for element in elements {
            texts.push(element.text().await.unwrap_or_default());
        }
        texts
    }

    /// Waits for `css` and clicks it.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.find(css)
            .await?
            .click()
            .await
            .with_context(|| format!("click `{css}`"))
    }

    /// Waits until `css`'s text satisfies `pred`; returns the text.
    pub async fn text_until(
        &self,
        css: &str,
        what: &str,
        pred: impl Fn(&str) -> bool,
    ) -> anyhow::Result<String> {
        let deadline = Instant::now() + WAIT;
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                if let Ok(text) = element.text().await {
                    if pred(&text) {
                        return Ok(text);
                    }
                    last = text;
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        bail!("`{css}` never showed {what} within {WAIT:?}; last text {last:?}")
    }

    /// Switches to the window whose URL ends with `#popup` (the incoming-call popup), waiting
    /// for it to exist.
    pub async fn switch_to_popup(&self) -> anyhow::Result<()> {
        self.switch_to(|url| url.fragment() == Some("popup"), "the popup window")
            .await
    }

    /// Switches to the panel window (URL without the `#popup` fragment).
    pub async fn switch_to_panel(&self) -> anyhow::Result<()> {
        self.switch_to(|url| url.fragment() != Some("popup"), "the panel window")
            .await
    }

    async fn switch_to(&self, want: impl Fn(&url::Url) -> bool, what: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            for handle in self.client.windows().await.unwrap_or_default() {
                if self.client.switch_to_window(handle).await.is_err() {
                    continue;
                }
                if let Ok(url) = self.client.current_url().await {
                    if want(&url) {
                        return Ok(());
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        bail!("{what} did not appear within {WAIT:?}")
    }

    /// Saves a PNG screenshot of the current window as `target/screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        // Let fonts and layout settle after the last change.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let png = self
            .client
            .screenshot()
            .await
            .context("take a screenshot")?;
        anyhow::ensure!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "the screenshot of {name} is not a PNG"
        );
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Ends the WebDriver session, which closes the app.
    ///
    /// Returns once the app's process has exited too: until then it holds its global shortcuts
    /// on the display, and the next app launched there could not register them.
    pub async fn close(self) -> anyhow::Result<()> {
        tokio::time::timeout(WAIT, self.client.close())
            .await
            .map_err(|_| anyhow!("closing the session took longer than {WAIT:?}"))?
            .context("close the WebDriver session")?;
        let deadline = Instant::now() + WAIT;
        while running_apps(self.driver_pid) > 0 {
            if Instant::now() > deadline {
                bail!("the app still runs {WAIT:?} after its session closed");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

/// The process `root` and those under it whose command name is `comm`, as the kernel has it.
fn processes_named(root: u32, comm: &str) -> Vec<u32> {
    test_support::process_tree(root)
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|name| name.trim_end() == comm)
        })
        .collect()
}

/// How many app processes (not yet exited) run under the driver `driver_pid`.
fn running_apps(driver_pid: u32) -> usize {
    processes_named(driver_pid, "callpop")
        .into_iter()
        .filter(|pid| {
            // `pid (comm) S …`: an exited process waiting to be reaped is `Z`, and holds nothing.
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next());
            !matches!(state, Some('Z' | 'X') | None)
        })
        .count()
}

/// The emulator the app talks to: seeded, auto-approving the OAuth login (no browser).
pub async fn emulator() -> anyhow::Result<Emulator> {
    let config = sf_emulator::Config {
        auto_approve: true,
        ..sf_emulator::Config::default()
    };
    Ok(Emulator::start(config).await?)
}

pub use test_support::{free_media_port, free_tcp_port, free_udp_port};

/// Path to sipp; fails the test (never skips) when it is missing.
pub fn sipp() -> PathBuf {
    let path = program("sipp");
    assert!(
        path.exists(),
        "sipp is missing: run `make deps` (sip-tester)"
    );
    path
}

/// Writes `window/scenarios/<name>` into `dir` with each `(placeholder, value)` replaced.
pub fn scenario(dir: &Path, name: &str, replacements: &[(&str, &str)]) -> PathBuf {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("window/scenarios");
    test_support::scenario_from(&templates, dir, name, replacements)
}

/// sipp running `scenario` once: a client towards `remote` calling `service`, or a server
/// (no `remote`) on `sip_port`; its stderr piped for the failure message.
pub fn start_sipp(
    scenario: &Path,
    sip_port: u16,
    remote: Option<SocketAddr>,
    service: &str,
) -> anyhow::Result<Proc> {
    Proc::spawn_bounded("sipp", &sipp(), |command| {
        command
            .arg("-sf")
            .arg(scenario)
            .args(["-i", "127.0.0.1", "-p", &sip_port.to_string()])
            .args(["-mi", "127.0.0.1", "-mp", &free_media_port().to_string()])
            .args(["-m", "1", "-nostdin", "-timeout", "90s", "-timeout_error"])
            .args(["-s", service])
            .current_dir(scenario.parent().expect("scenario dir"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(remote) = remote {
            command.arg(remote.to_string());
        }
    })
}

/// Waits for sipp to end and fails unless its scenario succeeded.
pub async fn expect_sipp_success(mut sipp: Proc, what: &str) -> anyhow::Result<()> {
    let status = tokio::task::spawn_blocking(move || {
        let status = sipp.wait_exit(WAIT);
        (status, sipp.stderr_text())
    })
    .await?;
    match status {
        (Some(status), _) if status.success() => Ok(()),
        (status, stderr) => bail!("sipp ({what}) did not succeed: {status:?}; stderr: {stderr}"),
    }
}

/// Polls `check` (a synchronous look at the emulator) until it returns `Some`, up to `WAIT`.
pub async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> anyhow::Result<T> {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Some(found) = check() {
            return Ok(found);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    bail!("{what} did not happen within {WAIT:?}")
}
