//! Everything behind the windows, started before them: the store, the Salesforce client (and in
//! demo mode the embedded emulator it signs in to), the SIP agent and the engine.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use app_api::{
    AppSettings, AudioChoice, Layout, Replay, SalesforceSettings, SfEnvironment, SipAccount,
};
use engine::{Engine, EngineConfig, EngineDeps, EngineHandle, Input, SystemClock, UiEvent};
use salesforce::{Client, ClientConfig, KeyringStore, LoginHost, MemoryStore, TokenStore};
use sf_emulator::Emulator;
use sip::audio::{SinkConfig, SourceConfig};
use sip::device;
use store::Store;
use telephony::SipTelephony;
use tokio::sync::mpsc;

use crate::cli::Args;

/// Settings keys in the store.
pub mod keys {
    /// [`app_api::AppSettings`].
    pub const SETTINGS: &str = "desktop.settings";
    /// The softphone layout, as its JSON file.
    pub const LAYOUT: &str = "desktop.layout";
    /// [`app_api::SalesforceSettings`].
    pub const SALESFORCE: &str = "desktop.salesforce";
    /// [`app_api::SipAccount`].
    pub const SIP_ACCOUNT: &str = "desktop.sip_account";
    /// [`app_api::AudioChoice`].
    pub const AUDIO: &str = "desktop.audio";
    /// The instance URL of the last sign-in (where pops go).
    pub const INSTANCE_URL: &str = "desktop.instance_url";
}

/// The keychain service the SIP password is kept under.
pub const SIP_KEYRING_SERVICE: &str = "callpop-sip";

/// The consumer key used when none is set (the emulator's default; a real org needs its own).
pub const DEFAULT_CLIENT_ID: &str = "callpop-desktop";

/// The running parts.
pub struct Backend {
    /// Whether this is the demo (or an external emulator).
    pub emulated: bool,
    /// The embedded emulator (demo mode only).
    pub emulator: Option<Arc<Emulator>>,
    /// The database.
    pub store: Arc<Store>,
    /// The Salesforce client the engine uses.
    pub client: Client,
    /// The SIP agent.
    pub telephony: Arc<SipTelephony>,
    /// The SIP port asked for on the command line (`--sip-port`).
    pub sip_port: Option<u16>,
    /// An emulated run's SIP domain (`--sip-domain`); `None` in a real run.
    pub demo_sip_domain: Option<String>,
    /// Counts SIP account changes: a change waiting for the calls to end gives way to a newer
    /// one.
    pub sip_generation: std::sync::atomic::AtomicU64,
    /// The engine's input.
    pub engine: mpsc::Sender<Input>,
    /// Keeps the engine's tasks.
    pub _engine: EngineHandle,
    /// The agent's settings.
    pub settings: Mutex<AppSettings>,
    /// The softphone layout.
    pub layout: Mutex<Layout>,
    /// The Salesforce connection settings.
    pub salesforce: Mutex<SalesforceSettings>,
    /// The SIP account.
    pub sip_account: Mutex<SipAccount>,
    /// The SIP password given in an emulated run (never written anywhere).
    pub demo_sip_password: Mutex<Option<String>>,
    /// The audio choice.
    pub audio: Mutex<AudioChoice>,
    /// The microphone meter of the settings, while it runs.
    pub mic_meter: Mutex<Option<device::LevelMeter>>,
    /// The ring tone playing, and for which call.
    pub ringer: Mutex<Option<(String, device::Ringer)>>,
    /// What is replayed to a window that (re)loads.
    pub replay: Mutex<Replay>,
    /// Holds the demo's temp data dir for the life of the process.
    pub _temp_dir: Option<tempfile::TempDir>,
}

/// Reads a stored setting, or its default when absent or unreadable (logged: the previous
/// settings stay in force, the broken value is not used).
fn stored<T: serde::de::DeserializeOwned + Default>(store: &Store, key: &str) -> T {
    match store.settings().get::<T>(key) {
        Ok(Some(v)) => v,
        Ok(None) => T::default(),
        Err(err) => {
            tracing::warn!(key, %err, "stored setting unreadable; using the default");
            T::default()
        }
    }
}

/// The login host of a settings environment.
pub fn login_host(env: &SfEnvironment) -> anyhow::Result<LoginHost> {
    Ok(match env {
        SfEnvironment::Production => LoginHost::Production,
        SfEnvironment::Sandbox => LoginHost::Sandbox,
        SfEnvironment::MyDomain { url } => LoginHost::MyDomain(
            url::Url::parse(url).with_context(|| format!("My Domain URL {url:?}"))?,
        ),
    })
}

fn data_dir(args: &Args) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    if let Some(dir) = &args.data_dir {
        return Ok((dir.clone(), None));
    }
    if args.emulated() {
        let temp = tempfile::Builder::new()
            .prefix("callpop-demo-")
            .tempdir()
            .context("creating the demo's data dir")?;
        return Ok((temp.path().to_path_buf(), Some(temp)));
    }
    let dirs = directories::ProjectDirs::from("app", "Callpop", "Callpop")
        .context("no home directory to keep Callpop's data in")?;
    Ok((dirs.data_dir().to_path_buf(), None))
}

/// Signs in to an emulator started with auto-approve: the PKCE flow, with an HTTP client
/// following the authorize redirect in place of the browser.
async fn emulator_sign_in(client: &Client) -> anyhow::Result<salesforce::Tokens> {
    let pending = client.begin_login().await?;
    let url = pending.authorize_url.clone();
    let browser = tokio::spawn(async move {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()?;
        http.get(url).send().await?.error_for_status()?;
        Ok::<_, reqwest::Error>(())
    });
    let tokens = tokio::time::timeout(std::time::Duration::from_secs(10), pending.finish())
        .await
        .context("the emulator did not redirect back (start it with --auto-approve)")??;
    browser
        .await
        .context("the sign-in request task")?
        .context("following the authorize redirect")?;
    Ok(tokens)
}

/// The SIP agent's config from the account (or, in an emulated run, the demo's: `agent` at
/// `emulated`, the `--sip-domain`, no registrar), and whether it registers.
fn sip_config(
    emulated: Option<&str>,
    sip_port: Option<u16>,
    account: &SipAccount,
    password: Option<String>,
) -> (sip::Config, bool) {
    if let Some(domain) = emulated {
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), sip_port.unwrap_or(0));
        return (sip::Config::new(addr, "agent", domain), false);
    }
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), sip_port.unwrap_or(5060));
    let user = if account.user.is_empty() {
        "agent".to_owned()
    } else {
        account.user.clone()
    };
    let domain = account
        .registrar
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| account.domain.clone());
    let mut config = sip::Config::new(addr, user, domain);
    config.password = password.map(sip::Password::new);
    config.transport = match account.transport {
        app_api::Transport::Udp => sip::Transport::Udp,
        app_api::Transport::Tcp => sip::Transport::Tcp,
        app_api::Transport::Tls => sip::Transport::Tls,
    };
    config.tls_ca_file = tls_ca_file(account).map(std::path::PathBuf::from);
    // Checked when saved; a stored value that no longer parses (edited by hand) leaves the
    // system's resolver in charge rather than stopping the phone.
    config.dns_server = dns_server(account).unwrap_or_else(|given| {
        tracing::warn!(%given, "stored DNS server is not an IP address; using the system's");
        None
    });
    config.busy_policy = match account.busy_policy {
        app_api::BusyPolicy::RingWaiting => sip::BusyPolicy::RingWaiting,
        app_api::BusyPolicy::Reject486 => sip::BusyPolicy::Reject486,
    };
    let register = account.registrar.as_deref().is_some_and(|r| !r.is_empty());
    (config, register)
}

/// The domain of an emulated run's agent: `--sip-domain`, else the loopback address.
fn demo_sip_domain(args: &Args) -> String {
    args.sip_domain
        .clone()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| "127.0.0.1".to_owned())
}

/// The account's CA certificate file, when it uses TLS and names one.
pub fn tls_ca_file(account: &SipAccount) -> Option<&str> {
    account
        .tls_ca_file
        .as_deref()
        .map(str::trim)
        .filter(|f| account.transport == app_api::Transport::Tls && !f.is_empty())
}

/// The account's DNS server: `10.0.0.2` (port 53), `10.0.0.2:5353`, `2001:db8::53` or
/// `[2001:db8::53]:5353`; none when the field is empty. A name is refused (it would need a
/// DNS server to be found); the error is what was given.
pub fn dns_server(account: &SipAccount) -> Result<Option<SocketAddr>, String> {
    let Some(given) = account
        .dns_server
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    if let Ok(addr) = given.parse::<SocketAddr>() {
        return Ok(Some(addr));
    }
    given
        .parse::<IpAddr>()
        .map(|ip| Some(SocketAddr::new(ip, 53)))
        .map_err(|_| given.to_owned())
}

/// The call audio for the agent's choice: the chosen microphone and speaker while connected,
/// else the computer's default ones, else (no sound card) silence sent and what is heard
/// discarded.
pub fn call_audio(choice: &AudioChoice) -> (SourceConfig, SinkConfig) {
    let input = device::resolve(choice.input.as_deref(), device::Direction::Input);
    let output = device::resolve(choice.output.as_deref(), device::Direction::Output);
    (
        input.map_or(SourceConfig::Silence, SourceConfig::Device),
        output.map_or(SinkConfig::Discard, SinkConfig::Device),
    )
}

fn sip_password(account: &SipAccount) -> Option<String> {
    if !account.has_password {
        return None;
    }
    let entry = keyring::Entry::new(
        SIP_KEYRING_SERVICE,
        &format!("{}@{}", account.user, account.domain),
    )
    .ok()?;
    match entry.get_password() {
        Ok(p) => Some(p),
        Err(err) => {
            tracing::warn!(%err, "SIP password not readable from the keychain");
            None
        }
    }
}

/// Starts everything. Returns the backend and the engine's UI events.
pub async fn start(args: &Args) -> anyhow::Result<(Backend, mpsc::Receiver<UiEvent>)> {
    let (dir, temp_dir) = data_dir(args)?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let db = dir.join("callpop.sqlite3");
    let store = Arc::new(Store::open(&db).with_context(|| format!("opening {}", db.display()))?);

    let mut settings: AppSettings = stored(&store, keys::SETTINGS);
    if let Ok(region) = cti::Region::parse(&settings.region) {
        settings.behaviour.default_region = region;
    }
    let layout = match store.settings().get::<String>(keys::LAYOUT) {
        Ok(Some(text)) => cti::layout::import(&text).unwrap_or_else(|err| {
            tracing::warn!(%err, "stored layout unreadable; using the default");
            Layout::default()
        }),
        _ => Layout::default(),
    };
    let account: SipAccount = match store.settings().get::<SipAccount>(keys::SIP_ACCOUNT) {
        Ok(Some(a)) => a,
        _ => SipAccount {
            user: String::new(),
            domain: String::new(),
            registrar: None,
            transport: app_api::Transport::Udp,
            tls_ca_file: None,
            dns_server: None,
            busy_policy: app_api::BusyPolicy::RingWaiting,
            has_password: false,
        },
    };
    let audio: AudioChoice = stored(&store, keys::AUDIO);

    // Salesforce: the embedded emulator, an external one, or the configured org.
    let mut emulator = None;
    let (sf_settings, login, token_store): (SalesforceSettings, LoginHost, Arc<dyn TokenStore>) =
        if args.emulated() {
            let login_url = match &args.emulator_url {
                Some(url) => url.clone(),
                None => {
                    let config = sf_emulator::Config {
                        auto_approve: true,
                        ..sf_emulator::Config::default()
                    };
                    let emu = Emulator::start(config)
                        .await
                        .context("starting the embedded Salesforce emulator")?;
                    tracing::info!(login = %emu.login_url(), instance = %emu.instance_url(), "emulator started");
                    let url = emu.login_url();
                    emulator = Some(Arc::new(emu));
                    url
                }
            };
            let sf = SalesforceSettings {
                environment: SfEnvironment::MyDomain {
                    url: login_url.to_string(),
                },
                client_id: DEFAULT_CLIENT_ID.to_owned(),
                username: None,
            };
            (
                sf,
                LoginHost::Custom(login_url),
                Arc::new(MemoryStore::new()),
            )
        } else {
            let sf: SalesforceSettings = match store.settings().get(keys::SALESFORCE) {
                Ok(Some(s)) => s,
                _ => SalesforceSettings {
                    environment: SfEnvironment::Production,
                    client_id: DEFAULT_CLIENT_ID.to_owned(),
                    username: None,
                },
            };
            let login = login_host(&sf.environment)?;
            let keyring = KeyringStore::new("default").context("opening the OS keychain")?;
            (sf, login, Arc::new(keyring))
        };
    let client = Client::new(
        ClientConfig::new(login, sf_settings.client_id.clone()),
        token_store,
    )
    .context("setting up the Salesforce client")?;
    let mut sf_settings = sf_settings;
    let instance_url = if args.emulated() {
        let tokens = emulator_sign_in(&client)
            .await
            .context("signing in to the emulator")?;
        if let Ok(me) = client.userinfo().await {
            sf_settings.username = Some(me.username);
        }
        tokens.instance_url
    } else {
        match store.settings().get::<String>(keys::INSTANCE_URL) {
            Ok(Some(u)) => url::Url::parse(&u).unwrap_or_else(|_| client.login_url()),
            _ => client.login_url(),
        }
    };

    // The SIP agent.
    let password = if args.emulated() {
        None
    } else {
        sip_password(&account)
    };
    let demo_domain = args.emulated().then(|| demo_sip_domain(args));
    let (mut sip_config, register) =
        sip_config(demo_domain.as_deref(), args.sip_port, &account, password);
    (sip_config.source, sip_config.sink) = call_audio(&audio);
    let telephony = Arc::new(
        SipTelephony::start(sip_config, register)
            .await
            .context("starting the SIP agent")?,
    );
    tracing::info!(sip = %telephony.local_addr(), register, "SIP agent listening");

    // The engine.
    let mut config = EngineConfig::new(instance_url);
    config.layout = layout.clone();
    config.behaviour = settings.behaviour.clone();
    let (handle, ui) = Engine::start(
        config,
        EngineDeps {
            store: store.clone(),
            client: client.clone(),
            clock: Arc::new(SystemClock),
            telephony: telephony.clone(),
        },
    )
    .context("starting the engine")?;

    Ok((
        Backend {
            emulated: args.emulated(),
            emulator,
            store,
            client,
            telephony,
            sip_port: args.sip_port,
            demo_sip_domain: demo_domain,
            sip_generation: std::sync::atomic::AtomicU64::new(0),
            engine: handle.sender(),
            _engine: handle,
            settings: Mutex::new(settings),
            layout: Mutex::new(layout),
            salesforce: Mutex::new(sf_settings),
            sip_account: Mutex::new(account),
            demo_sip_password: Mutex::new(None),
            audio: Mutex::new(audio),
            mic_meter: Mutex::new(None),
            ringer: Mutex::new(None),
            replay: Mutex::new(Replay::default()),
            _temp_dir: temp_dir,
        },
        ui,
    ))
}

/// The OS locale (`LC_ALL`, else `LANG`), for the "system" language choice.
pub fn os_locale() -> Option<String> {
    std::env::var("LC_ALL")
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(|| std::env::var("LANG").ok())
}

impl Backend {
    /// The language the agent sees (`en`, `ja`, `fr`, `ko`): the setting, else the OS locale.
    pub fn language(&self) -> &'static str {
        let choice = lock(&self.settings).language;
        choice.effective(os_locale().as_deref())
    }

    /// The shell's own words (tray, notification, window title) in [`Backend::language`].
    pub fn text(&self) -> &'static app_api::ShellText {
        app_api::shell_text(self.language())
    }

    /// The SIP agent's config for the saved account (password from the keychain, audio from
    /// the agent's choice) and whether it registers.
    fn sip_config_now(&self) -> (sip::Config, bool) {
        let account = lock(&self.sip_account).clone();
        let password = if self.emulated {
            None
        } else {
            sip_password(&account)
        };
        let (mut config, register) = sip_config(
            self.demo_sip_domain.as_deref(),
            self.sip_port,
            &account,
            password,
        );
        (config.source, config.sink) = call_audio(&lock(&self.audio));
        (config, register)
    }

    /// Puts the saved SIP account in force: the agent restarts on it (unregistering the old
    /// binding first). While calls are up the change waits, checked every second, until they
    /// are over; a newer change replaces a waiting one. An emulated run keeps its loopback
    /// agent (the demo caller rings its address): the account is kept for a real run.
    pub async fn apply_sip_account(self: &Arc<Self>) -> anyhow::Result<()> {
        if self.emulated {
            return Ok(());
        }
        use std::sync::atomic::Ordering;
        let generation = self.sip_generation.fetch_add(1, Ordering::SeqCst) + 1;
        let (config, register) = self.sip_config_now();
        match self.telephony.reconfigure(config, register).await {
            Err(telephony::Error::CallInProgress { calls }) => {
                tracing::info!(
                    calls,
                    "SIP account saved; it applies when the calls are over"
                );
                let backend = self.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        if backend.sip_generation.load(Ordering::SeqCst) != generation {
                            return;
                        }
                        let (config, register) = backend.sip_config_now();
                        match backend.telephony.reconfigure(config, register).await {
                            Err(telephony::Error::CallInProgress { .. }) => continue,
                            Err(err) => {
                                tracing::warn!(%err, "the new SIP account could not start");
                                return;
                            }
                            Ok(()) => return,
                        }
                    }
                });
                Ok(())
            }
            other => other.context("restarting the SIP agent on the new account"),
        }
    }
}

/// Locks a mutex, taking the data even if a holder panicked.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(transport: app_api::Transport, file: Option<&str>) -> SipAccount {
        SipAccount {
            user: "1001".into(),
            domain: "pbx.example.com".into(),
            registrar: None,
            transport,
            tls_ca_file: file.map(str::to_owned),
            dns_server: None,
            busy_policy: app_api::BusyPolicy::RingWaiting,
            has_password: false,
        }
    }

    fn with_dns(given: &str) -> SipAccount {
        SipAccount {
            dns_server: Some(given.to_owned()),
            ..account(app_api::Transport::Udp, None)
        }
    }

    #[test]
    fn the_ca_file_is_used_with_tls_only_and_a_blank_one_is_none() {
        assert_eq!(
            tls_ca_file(&account(app_api::Transport::Tls, Some(" /etc/pbx/ca.pem "))),
            Some("/etc/pbx/ca.pem"),
            "TLS with a file: the file, trimmed"
        );
        assert_eq!(
            tls_ca_file(&account(app_api::Transport::Tls, Some("  "))),
            None,
            "a blank field: the system's CAs only"
        );
        assert_eq!(
            tls_ca_file(&account(app_api::Transport::Udp, Some("/etc/pbx/ca.pem"))),
            None,
            "a file left from TLS is not read for UDP (nor checked when saving)"
        );
    }

    #[test]
    fn the_dns_server_is_an_ip_address_with_port_53_unless_one_is_given() {
        let addr = |s: &str| Some(s.parse::<SocketAddr>().expect("test address"));
        assert_eq!(
            dns_server(&with_dns(" 10.0.0.2 ")),
            Ok(addr("10.0.0.2:53")),
            "IPv4, port 53"
        );
        assert_eq!(
            dns_server(&with_dns("10.0.0.2:5353")),
            Ok(addr("10.0.0.2:5353")),
            "a port"
        );
        assert_eq!(
            dns_server(&with_dns("2001:db8::53")),
            Ok(addr("[2001:db8::53]:53")),
            "IPv6"
        );
        assert_eq!(
            dns_server(&with_dns("[2001:db8::53]:5353")),
            Ok(addr("[2001:db8::53]:5353")),
            "IPv6 with a port"
        );
        assert_eq!(
            dns_server(&with_dns("   ")),
            Ok(None),
            "blank: the system's resolver"
        );
        assert_eq!(
            dns_server(&account(app_api::Transport::Udp, None)),
            Ok(None),
            "none"
        );
        for bad in [
            "dns.example.com",
            "10.0.0.2:dns",
            "10.0.0.256",
            "10.0.0.2:70000",
        ] {
            assert_eq!(
                dns_server(&with_dns(bad)),
                Err(bad.to_owned()),
                "{bad} is refused"
            );
        }
    }

    #[test]
    fn the_agent_asks_the_accounts_dns_server_and_a_bad_stored_one_falls_back() {
        let mut account = with_dns("10.0.0.2:5353");
        account.registrar = Some("pbx.example.com".into());
        let (config, _) = sip_config(None, None, &account, None);
        assert_eq!(
            config.dns_server,
            Some("10.0.0.2:5353".parse().expect("addr"))
        );
        account.dns_server = Some("not-an-ip".into());
        let (config, register) = sip_config(None, None, &account, None);
        assert_eq!(
            config.dns_server, None,
            "the system's resolver, not a failed start"
        );
        assert!(register, "the phone still registers");
    }
}
