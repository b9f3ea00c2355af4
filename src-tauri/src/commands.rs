//! The Tauri commands of the contract. Each forwards to the engine, the store, the Salesforce
//! client or `app-api`; errors come back as one sentence for the agent.

use app_api::{
    AgentAction, AppSettings, AudioChoice, AudioDevices, ConnectionCheck, DialTarget, Failure,
    HistoryRow, Layout, Match, SalesforceSettings, SfEnvironment, SipAccount, SmsItem, SmsThread,
    Snapshot,
};
use chrono::Utc;
use engine::Input;
use sip::device;
use tauri::{AppHandle, Emitter, Manager, State};
use tauri_plugin_opener::OpenerExt;

use crate::backend::{self, keys, lock};
use crate::shell::{self, Shell};

type Reply<T> = Result<T, Failure>;

/// The handler of every command (listed once; `build.rs` lists the same names for the ACL).
pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        snapshot,
        act,
        dial_preview,
        dial,
        search_records,
        history,
        retry_log,
        sms_threads,
        sms_messages,
        send_sms,
        settings,
        save_settings,
        layout,
        save_layout,
        import_layout,
        export_layout,
        salesforce,
        sf_sign_in,
        sf_check,
        sf_disconnect,
        sip_account,
        save_sip_account,
        audio_devices,
        save_audio,
        test_tone,
        mic_monitor,
    ]
}

fn stored_fail(err: store::Error) -> Failure {
    Failure::NotStored {
        detail: err.to_string(),
    }
}

#[tauri::command]
fn snapshot(shell: State<'_, Shell>, window: tauri::Window) -> Snapshot {
    let (calls, connection, api_usage) = {
        let replay = lock(&shell.backend.replay);
        (replay.events(), replay.connection(), replay.api_usage())
    };
    let settings = lock(&shell.backend.settings).clone();
    let os_locale = backend::os_locale();
    let snapshot = Snapshot {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        demo: shell.demo.is_some(),
        sip: shell.sip(),
        connection,
        api_usage,
        calls,
        language: settings.language.effective(os_locale.as_deref()).to_owned(),
        theme: settings.theme,
    };
    if window.label() == shell::MAIN {
        shell.mark_ready(window.app_handle());
    }
    snapshot
}

#[tauri::command]
async fn act(shell: State<'_, Shell>, action: AgentAction) -> Reply<()> {
    shell.act(action).await
}

#[tauri::command]
fn dial_preview(shell: State<'_, Shell>, input: String) -> Reply<DialTarget> {
    let behaviour = lock(&shell.backend.settings).behaviour.clone();
    app_api::dial_target(&input, &behaviour).map_err(Failure::from)
}

#[tauri::command]
async fn dial(shell: State<'_, Shell>, number: String) -> Reply<()> {
    shell.act(AgentAction::Dial { number }).await
}

#[tauri::command]
async fn search_records(shell: State<'_, Shell>, query: String) -> Reply<Vec<Match>> {
    let query = query.trim().to_owned();
    if query.chars().count() < 2 {
        return Err(Failure::NameTooShort);
    }
    let records = shell
        .backend
        .client
        .search_name(&[query])
        .await
        .map_err(|e| Failure::SearchFailed {
            detail: e.to_string(),
        })?;
    let layout = lock(&shell.backend.layout).inbound.clone();
    Ok(engine::matches_from_search(&records, &layout))
}

#[tauri::command]
fn history(shell: State<'_, Shell>, limit: u32) -> Reply<Vec<HistoryRow>> {
    let region = lock(&shell.backend.settings).behaviour.default_region;
    let calls = shell
        .backend
        .store
        .calls()
        .recent(limit.min(1000) as usize)
        .map_err(|e| Failure::HistoryUnreadable {
            detail: e.to_string(),
        })?;
    Ok(calls
        .iter()
        .map(|c| app_api::history_row(c, region))
        .collect())
}

#[tauri::command]
async fn retry_log(shell: State<'_, Shell>, call_object: String) -> Reply<()> {
    shell.act(AgentAction::RetryLog { call_object }).await
}

/// Threads listed at most, and days of one thread shown at most.
const SMS_THREADS: usize = 200;
const SMS_DAYS: usize = 90;

fn sms_history_fail(err: store::Error) -> Failure {
    Failure::SmsHistoryUnreadable {
        detail: err.to_string(),
    }
}

#[tauri::command]
fn sms_threads(shell: State<'_, Shell>) -> Reply<Vec<SmsThread>> {
    let store = &shell.backend.store;
    let now = Utc::now();
    let latest = store
        .sms_days()
        .latest_per_number(SMS_THREADS)
        .map_err(sms_history_fail)?;
    Ok(latest
        .iter()
        .filter_map(|day| {
            let cached = store.match_cache().lookup(&day.number, now).ok().flatten();
            app_api::sms_thread(day, app_api::cached_record(cached.as_ref()))
        })
        .collect())
}

#[tauri::command]
fn sms_messages(shell: State<'_, Shell>, number: String) -> Reply<Vec<SmsItem>> {
    let days = shell
        .backend
        .store
        .sms_days()
        .of_number(&number, SMS_DAYS)
        .map_err(sms_history_fail)?;
    Ok(app_api::sms_items(&days))
}

#[tauri::command]
async fn send_sms(shell: State<'_, Shell>, to: String, text: String) -> Reply<()> {
    if text.trim().is_empty() {
        return Err(Failure::EmptyMessage);
    }
    shell.act(AgentAction::SendSms { to, text }).await
}

#[tauri::command]
fn settings(shell: State<'_, Shell>) -> AppSettings {
    lock(&shell.backend.settings).clone()
}

#[tauri::command]
fn save_settings(
    app: AppHandle,
    shell: State<'_, Shell>,
    mut settings: AppSettings,
) -> Reply<AppSettings> {
    let region = cti::Region::parse(&settings.region).map_err(|_| Failure::BadRegion {
        region: settings.region.clone(),
    })?;
    settings.region = region.as_str().to_owned();
    settings.behaviour.default_region = region;
    settings
        .behaviour
        .internal_rule
        .validate()
        .map_err(|e| Failure::BadInternalNumbers {
            detail: e.to_string(),
        })?;
    shell
        .backend
        .store
        .settings()
        .put(keys::SETTINGS, &settings, Utc::now())
        .map_err(stored_fail)?;
    let shortcuts = settings.shortcuts.clone();
    *lock(&shell.backend.settings) = settings.clone();
    // The tray's words follow a language change.
    crate::tray::refresh(&app);
    shell::register_shortcuts(&app, &shortcuts)?;
    Ok(settings)
}

#[tauri::command]
fn layout(shell: State<'_, Shell>) -> Layout {
    lock(&shell.backend.layout).clone()
}

fn keep_layout(shell: &Shell, layout: Layout) -> Reply<Layout> {
    layout.validate().map_err(|e| Failure::LayoutNotSaved {
        detail: e.to_string(),
    })?;
    shell
        .backend
        .store
        .settings()
        .put(keys::LAYOUT, &cti::layout::export(&layout), Utc::now())
        .map_err(stored_fail)?;
    *lock(&shell.backend.layout) = layout.clone();
    Ok(layout)
}

#[tauri::command]
fn save_layout(shell: State<'_, Shell>, layout: Layout) -> Reply<Layout> {
    keep_layout(&shell, layout)
}

#[tauri::command]
fn import_layout(shell: State<'_, Shell>, text: String) -> Reply<Layout> {
    let layout = cti::layout::import(&text).map_err(|e| Failure::LayoutNotImported {
        detail: e.to_string(),
    })?;
    keep_layout(&shell, layout)
}

#[tauri::command]
fn export_layout(shell: State<'_, Shell>) -> String {
    cti::layout::export(&lock(&shell.backend.layout))
}

#[tauri::command]
fn salesforce(shell: State<'_, Shell>) -> SalesforceSettings {
    lock(&shell.backend.salesforce).clone()
}

#[tauri::command]
async fn sf_sign_in(
    app: AppHandle,
    shell: State<'_, Shell>,
    environment: SfEnvironment,
) -> Reply<()> {
    let wanted = backend::login_host(&environment).map_err(|e| Failure::BadLoginServer {
        detail: format!("{e:#}"),
    })?;
    if !shell.backend.emulated {
        // Another org's login server: the client signs in there from now on (the previous
        // session is revoked and forgotten), and the choice is kept for the next start.
        shell
            .backend
            .client
            .switch_login_host(&wanted)
            .await
            .map_err(|e| Failure::BadLoginServer {
                detail: e.to_string(),
            })?;
        let mut sf = lock(&shell.backend.salesforce).clone();
        if sf.environment != environment {
            sf.environment = environment;
            sf.username = None;
            shell
                .backend
                .store
                .settings()
                .put(keys::SALESFORCE, &sf, Utc::now())
                .map_err(stored_fail)?;
            *lock(&shell.backend.salesforce) = sf;
        }
    }
    let opener = app.clone();
    let tokens = shell
        .backend
        .client
        .pkce_login(move |url| {
            opener
                .opener()
                .open_url(url.as_str(), None::<&str>)
                .map_err(|e| salesforce::Error::Browser {
                    message: e.to_string(),
                })
        })
        .await
        .map_err(|e| Failure::SignInFailed {
            detail: e.to_string(),
        })?;
    let _ = shell.backend.store.settings().put(
        keys::INSTANCE_URL,
        &tokens.instance_url.to_string(),
        Utc::now(),
    );
    let username = shell
        .backend
        .client
        .userinfo()
        .await
        .ok()
        .map(|u| u.username);
    {
        let mut sf = lock(&shell.backend.salesforce);
        sf.username = username;
        let _ = shell
            .backend
            .store
            .settings()
            .put(keys::SALESFORCE, &*sf, Utc::now());
    }
    shell
        .backend
        .engine
        .send(Input::SignedIn)
        .await
        .map_err(|_| Failure::EngineStopped)
}

#[tauri::command]
async fn sf_check(shell: State<'_, Shell>) -> Reply<ConnectionCheck> {
    let client = &shell.backend.client;
    let mut problems = Vec::new();
    let mut username = None;
    if !client.is_signed_in().await {
        problems.push(Failure::NotSignedIn);
    } else if client.needs_reconnect().await {
        problems.push(Failure::SessionEnded);
    } else {
        match client.userinfo().await {
            Ok(me) => username = Some(me.username),
            Err(e) => problems.push(Failure::UserUnknown {
                detail: e.to_string(),
            }),
        }
        if let Err(e) = client.api_version().await {
            problems.push(Failure::RestUnreachable {
                detail: e.to_string(),
            });
        }
    }
    // The status line follows what the check found (the engine asks again on its own; a
    // stopped engine does not make the check fail).
    let _ = shell.backend.engine.send(Input::CheckSession).await;
    let instance_url = shell
        .backend
        .store
        .settings()
        .get::<String>(keys::INSTANCE_URL)
        .ok()
        .flatten();
    Ok(ConnectionCheck {
        ok: problems.is_empty(),
        problems,
        username,
        instance_url,
        api_usage: client.api_usage().map(|u| app_api::ApiUsage {
            used: u.used,
            max: u.max,
        }),
    })
}

#[tauri::command]
async fn sf_disconnect(shell: State<'_, Shell>) -> Reply<()> {
    shell
        .backend
        .client
        .disconnect()
        .await
        .map_err(|e| Failure::DisconnectFailed {
            detail: e.to_string(),
        })?;
    lock(&shell.backend.salesforce).username = None;
    shell
        .backend
        .engine
        .send(Input::CheckSession)
        .await
        .map_err(|_| Failure::EngineStopped)
}

#[tauri::command]
fn sip_account(shell: State<'_, Shell>) -> SipAccount {
    lock(&shell.backend.sip_account).clone()
}

#[tauri::command]
async fn save_sip_account(
    shell: State<'_, Shell>,
    mut account: SipAccount,
    password: Option<String>,
) -> Reply<SipAccount> {
    if account.user.trim().is_empty() || account.domain.trim().is_empty() {
        return Err(Failure::SipAccountIncomplete);
    }
    if let Some(file) = backend::tls_ca_file(&account) {
        sip::check_ca_file(std::path::Path::new(file)).map_err(|e| Failure::BadCaFile {
            detail: e.to_string(),
        })?;
    }
    backend::dns_server(&account).map_err(|given| Failure::BadDnsServer { given })?;
    let previous = lock(&shell.backend.sip_account).clone();
    account.has_password =
        previous.has_password && previous.user == account.user && previous.domain == account.domain;
    if let Some(password) = password.filter(|p| !p.is_empty()) {
        if shell.backend.emulated {
            // Never written anywhere in a demo: kept for this run only.
            *lock(&shell.backend.demo_sip_password) = Some(password);
        } else {
            keyring::Entry::new(
                backend::SIP_KEYRING_SERVICE,
                &format!("{}@{}", account.user, account.domain),
            )
            .and_then(|entry| entry.set_password(&password))
            .map_err(|e| Failure::KeychainFailed {
                detail: e.to_string(),
            })?;
        }
        account.has_password = true;
    }
    shell
        .backend
        .store
        .settings()
        .put(keys::SIP_ACCOUNT, &account, Utc::now())
        .map_err(stored_fail)?;
    *lock(&shell.backend.sip_account) = account.clone();
    shell
        .backend
        .apply_sip_account()
        .await
        .map_err(|e| Failure::SipRestartFailed {
            detail: format!("{e:#}"),
        })?;
    Ok(account)
}

// Lists or opens sound devices (ALSA can take a moment): off the main thread.
#[tauri::command(async)]
fn audio_devices(shell: State<'_, Shell>) -> AudioDevices {
    AudioDevices {
        inputs: device::input_devices(),
        outputs: device::output_devices(),
        choice: lock(&shell.backend.audio).clone(),
    }
}

// Lists or opens sound devices (ALSA can take a moment): off the main thread.
#[tauri::command(async)]
fn save_audio(shell: State<'_, Shell>, choice: AudioChoice) -> Reply<AudioDevices> {
    shell
        .backend
        .store
        .settings()
        .put(keys::AUDIO, &choice, Utc::now())
        .map_err(stored_fail)?;
    let (source, sink) = backend::call_audio(&choice);
    if let Some(ua) = shell.backend.telephony.user_agent() {
        ua.set_audio(source, sink);
    }
    *lock(&shell.backend.audio) = choice;
    Ok(audio_devices(shell))
}

/// How long the settings' test tone plays.
const TEST_TONE: std::time::Duration = std::time::Duration::from_secs(1);

#[tauri::command]
async fn test_tone(shell: State<'_, Shell>, output: Option<String>) -> Reply<()> {
    let chosen = output.or_else(|| lock(&shell.backend.audio).output.clone());
    let name =
        device::resolve(chosen.as_deref(), device::Direction::Output).ok_or(Failure::NoSpeaker)?;
    tauri::async_runtime::spawn_blocking(move || device::play_tone(&name, 440.0, TEST_TONE))
        .await
        .map_err(|e| Failure::ToneFailed {
            detail: e.to_string(),
        })?
        .map_err(|e| Failure::ToneFailed {
            detail: e.to_string(),
        })
}

// Lists or opens sound devices (ALSA can take a moment): off the main thread.
#[tauri::command(async)]
fn mic_monitor(app: AppHandle, shell: State<'_, Shell>, on: bool) -> Reply<()> {
    // Stop a running meter first (a second "on" restarts it on the current choice).
    drop(lock(&shell.backend.mic_meter).take());
    if !on {
        return Ok(());
    }
    let chosen = lock(&shell.backend.audio).input.clone();
    let name = device::resolve(chosen.as_deref(), device::Direction::Input)
        .ok_or(Failure::NoMicrophone)?;
    let meter = device::LevelMeter::start(&name, move |level| {
        let _ = app.emit("mic-level", level);
    })
    .map_err(|e| Failure::MicFailed {
        detail: e.to_string(),
    })?;
    *lock(&shell.backend.mic_meter) = Some(meter);
    Ok(())
}
