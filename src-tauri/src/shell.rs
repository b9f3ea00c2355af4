//! The Tauri application: windows, event forwarding, deep links, shortcuts, notifications.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use app_api::{
    popup_window, AgentAction, Failure, PopupWindow, ShortcutName, SipFailure, SipState, SipStatus,
};
use engine::{CallPhase, Direction, Input, UiEvent};
use sip::device;
use tauri::{AppHandle, Emitter, Manager, WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_deep_link::DeepLinkExt;
use tauri_plugin_global_shortcut::{GlobalShortcutExt, Shortcut, ShortcutState};
use tauri_plugin_notification::NotificationExt;
use tauri_plugin_opener::OpenerExt;

use crate::backend::{self, lock, Backend};
use crate::cli::Args;
use crate::demo::DemoCaller;
use crate::popup;
use crate::tray;

/// Window labels (the capability files name them).
pub const MAIN: &str = "main";
/// The incoming-call popup window.
pub const POPUP: &str = "popup";

/// Event names of the contract.
pub mod events {
    /// [`engine::UiEvent`].
    pub const UI_EVENT: &str = "ui-event";
    /// [`app_api::SipStatus`].
    pub const SIP_STATUS: &str = "sip-status";
    /// [`app_api::DialTarget`].
    pub const DIAL_REQUEST: &str = "dial-request";
    /// A view name from the tray.
    pub const NAVIGATE: &str = "navigate";
}

/// What the commands reach: the backend plus the shell's own bits.
pub struct Shell {
    /// The running parts.
    pub backend: Arc<Backend>,
    /// The demo caller (demo mode only).
    pub demo: Option<Arc<DemoCaller>>,
    /// Set once `READY` was printed.
    pub ready: AtomicBool,
    /// The region to ring from once ready (`--demo-call`).
    pub demo_call: Option<String>,
    /// Links opened before the panel was ready (Callpop launched by a clicked link), handed
    /// over once it is.
    pub pending_links: Mutex<Vec<String>>,
    /// The incoming-call popup window's life.
    pub popup: Mutex<popup::Slot>,
}

/// The app's SIP status in the contract's shape. Without a registrar (the demo, or a PBX that
/// sends calls to our address) a bound agent is reachable: it is shown as registered with
/// `expires` 0.
pub fn sip_status(status: &telephony::SipStatus, registrar: bool) -> SipStatus {
    let state = match &status.state {
        telephony::RegistrationState::Unregistered if !registrar => {
            SipState::Registered { expires: 0 }
        }
        telephony::RegistrationState::Unregistered => SipState::Unregistered,
        telephony::RegistrationState::Registering => SipState::Registering,
        telephony::RegistrationState::Registered { expires } => {
            SipState::Registered { expires: *expires }
        }
        telephony::RegistrationState::Failed { reason, kind } => SipState::Failed {
            reason: reason.clone(),
            kind: sip_failure(*kind),
        },
    };
    SipStatus {
        state,
        local_addr: Some(status.local_addr.to_string()),
    }
}

/// The contract's word for a registration failure's kind.
fn sip_failure(kind: sip::FailureKind) -> SipFailure {
    use sip::FailureKind as K;
    match kind {
        K::UnknownHost => SipFailure::UnknownHost,
        K::Unreachable => SipFailure::Unreachable,
        K::Certificate => SipFailure::Certificate,
        K::CertificateUntrusted => SipFailure::CertificateUntrusted,
        K::CertificateName => SipFailure::CertificateName,
        K::CertificateExpired => SipFailure::CertificateExpired,
        K::CertificateNotYetValid => SipFailure::CertificateNotYetValid,
        K::CaFile => SipFailure::CaFile,
        K::Credentials => SipFailure::Credentials,
        K::UnknownUser => SipFailure::UnknownUser,
        K::ServerError => SipFailure::ServerError,
        K::Other => SipFailure::Other,
    }
}

impl Shell {
    /// Whether the SIP account names a registrar.
    pub fn has_registrar(&self) -> bool {
        !self.backend.emulated
            && lock(&self.backend.sip_account)
                .registrar
                .as_deref()
                .is_some_and(|r| !r.is_empty())
    }

    /// The current SIP status.
    pub fn sip(&self) -> SipStatus {
        let status = self.backend.telephony.status().borrow().clone();
        sip_status(&status, self.has_registrar())
    }

    /// Gives the engine an agent action.
    pub async fn act(&self, action: AgentAction) -> Result<(), Failure> {
        self.backend
            .engine
            .send(Input::Agent(action))
            .await
            .map_err(|_| Failure::EngineStopped)
    }

    /// Prints `READY sip=<addr>` once (the panel asked for its state and the agent listens),
    /// then rings the `--demo-call` region.
    pub fn mark_ready(&self, app: &AppHandle) {
        let links = {
            let mut pending = lock(&self.pending_links);
            if self.ready.swap(true, Ordering::SeqCst) {
                return;
            }
            std::mem::take(&mut *pending)
        };
        for link in links {
            open_link(app, &link);
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "READY sip={}", self.backend.telephony.local_addr());
        let _ = out.flush();
        if let (Some(demo), Some(region)) = (&self.demo, &self.demo_call) {
            let demo = demo.clone();
            let region = region.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(err) = demo.call(&region).await {
                    tracing::warn!(%err, region, "demo call failed");
                }
            });
        }
    }
}

/// Shows and focuses the panel.
pub fn show_main(app: &AppHandle) {
    if let Some(w) = app.get_webview_window(MAIN) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}

/// Handles a `tel:`/`callto:`/`sip:` link: a `dial-request` for the UI to confirm, or a clear
/// message when it cannot be dialed (nothing is dialed either way).
pub fn open_link(app: &AppHandle, link: &str) {
    let Some(shell) = app.try_state::<Shell>() else {
        return;
    };
    show_main(app);
    {
        let mut pending = lock(&shell.pending_links);
        if !shell.ready.load(Ordering::SeqCst) {
            // Launched with the link: the panel is not listening yet; it gets it once ready.
            pending.push(link.to_owned());
            return;
        }
    }
    let behaviour = lock(&shell.backend.settings).behaviour.clone();
    match app_api::dial_target(link, &behaviour) {
        Ok(target) => {
            tracing::info!(number = %target.number, "dial request from a link");
            let _ = app.emit_to(MAIN, events::DIAL_REQUEST, &target);
        }
        Err(err) => {
            tracing::info!(%err, "link refused");
            let _ = app.emit(
                events::UI_EVENT,
                &UiEvent::ActionFailed {
                    call_id: None,
                    action: engine::FailedAction::Dial,
                    message: err.to_string(),
                },
            );
        }
    }
}

/// (Re)registers the answer and hang-up shortcuts from the settings. A shortcut the OS refuses
/// is reported in the log and skipped.
pub fn register_shortcuts(app: &AppHandle, shortcuts: &app_api::Shortcuts) -> Result<(), Failure> {
    let gs = app.global_shortcut();
    let _ = gs.unregister_all();
    let mut problems = Vec::new();
    for (name, accel) in [
        (ShortcutName::Answer, &shortcuts.answer),
        (ShortcutName::HangUp, &shortcuts.hang_up),
    ] {
        if accel.trim().is_empty() {
            continue;
        }
        let refused = match accel.parse::<Shortcut>() {
            Ok(shortcut) => gs.register(shortcut).err().map(|err| {
                tracing::warn!(%err, accel, "shortcut not registered");
                err.to_string()
            }),
            Err(err) => Some(err.to_string()),
        };
        if let Some(detail) = refused {
            problems.push(Failure::Shortcut {
                shortcut: name,
                accel: accel.clone(),
                detail,
            });
        }
    }
    match problems.len() {
        0 => Ok(()),
        1 => Err(problems.remove(0)),
        _ => Err(Failure::Several { failures: problems }),
    }
}

fn on_shortcut(app: &AppHandle, shortcut: &Shortcut) {
    let Some(shell) = app.try_state::<Shell>() else {
        return;
    };
    let shortcuts = lock(&shell.backend.settings).shortcuts.clone();
    let is = |accel: &str| accel.parse::<Shortcut>().ok().as_ref() == Some(shortcut);
    let action = {
        let replay = lock(&shell.backend.replay);
        if is(&shortcuts.answer) {
            replay
                .ringing_inbound()
                .map(|id| AgentAction::Answer { call_id: id.into() })
        } else if is(&shortcuts.hang_up) {
            replay
                .active()
                .map(|id| AgentAction::HangUp { call_id: id.into() })
        } else {
            None
        }
    };
    if let Some(action) = action {
        let sender = shell.backend.engine.clone();
        tauri::async_runtime::spawn(async move {
            let _ = sender.send(Input::Agent(action)).await;
        });
    }
}

/// What happens around each engine event before the UI gets it: the popup window, the browser
/// pop, the ringing notification, the tray.
fn on_engine_event(app: &AppHandle, event: &UiEvent) {
    let Some(shell) = app.try_state::<Shell>() else {
        return;
    };
    let window_move = {
        let mut replay = lock(&shell.backend.replay);
        replay.apply(event);
        popup_window(event, &replay)
    };
    match window_move {
        Some(PopupWindow::Show) => popup::show(app),
        Some(PopupWindow::Hide) => popup::hide(app),
        None => {}
    }
    match event {
        UiEvent::Pop {
            url, new_window, ..
        } => {
            // On Linux the default browser decides between a tab and a window (xdg-open has no
            // such option); `new_window` is honoured where the platform lets us choose.
            tracing::info!(%url, new_window, "screen pop");
            if let Err(err) = app.opener().open_url(url.as_str(), None::<&str>) {
                tracing::warn!(%err, "the browser could not be opened");
            }
        }
        UiEvent::CallState {
            call_id,
            phase:
                CallPhase::Ringing {
                    direction: Direction::Inbound,
                    caller,
                },
        } => {
            // Device lookup and stream start take a moment: not on the events' way to the UI.
            let (ring_app, ringing) = (app.clone(), call_id.clone());
            tauri::async_runtime::spawn_blocking(move || ring(&ring_app, &ringing));
            let who = caller.name.clone().unwrap_or_else(|| caller.number.clone());
            if let Err(err) = app
                .notification()
                .builder()
                .title(shell.backend.text().incoming_call)
                .body(format!("{who} ({})", caller.number))
                .show()
            {
                tracing::debug!(%err, "no OS notification");
            }
        }
        // Answered, declined, given up or ended: the ringing stops.
        UiEvent::CallState { call_id, .. } => {
            let mut ringer = lock(&shell.backend.ringer);
            if ringer
                .as_ref()
                .is_some_and(|(ringing, _)| ringing == call_id)
            {
                *ringer = None;
            }
        }
        UiEvent::Connection { .. } => tray::refresh(app),
        _ => {}
    }
}

/// Rings the ringer device (the chosen one, else the speaker's choice, else the default) for
/// the call while it is still ringing, when the computer has one; without a sound card the
/// popup and the notification are all there is.
fn ring(app: &AppHandle, call_id: &str) {
    let Some(shell) = app.try_state::<Shell>() else {
        return;
    };
    let chosen = {
        let audio = lock(&shell.backend.audio);
        audio.ringer.clone().or_else(|| audio.output.clone())
    };
    let Some(name) = device::resolve(chosen.as_deref(), device::Direction::Output) else {
        return;
    };
    let ringer = match device::Ringer::start(&name) {
        Ok(ringer) => ringer,
        Err(err) => {
            tracing::warn!(%err, "the ringer could not play");
            return;
        }
    };
    // Answered or ended meanwhile: the event that stopped the ringing has passed already.
    let mut slot = lock(&shell.backend.ringer);
    if lock(&shell.backend.replay).ringing_inbound() == Some(call_id) {
        *slot = Some((call_id.to_owned(), ringer));
    }
}

fn create_main_window(app: &AppHandle, layout: &app_api::Layout) -> tauri::Result<()> {
    let main = WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App("index.html".into()))
        .title("Callpop")
        .inner_size(
            f64::from(layout.panel.width),
            f64::from(layout.panel.height),
        )
        .min_inner_size(320.0, 400.0)
        .visible(false)
        .build()?;
    tune_webview(&main);
    main.show()
}

/// Our windows show a small panel of forms, loaded once: WebKit's browser-sized caches (pages
/// kept for going back, a large memory cache) buy them nothing. (GPU compositing is turned off
/// before GTK starts, see `main.rs`.)
pub fn tune_webview(window: &tauri::WebviewWindow) {
    #[cfg(target_os = "linux")]
    if let Err(err) = window.with_webview(|webview| {
        use webkit2gtk::{CacheModel, WebContextExt, WebViewExt};
        if let Some(context) = webview.inner().context() {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
    }) {
        tracing::debug!(%err, "webview settings");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}

/// Closing the panel hides it: Callpop keeps taking calls from the tray (its menu's Quit ends
/// it, and launching Callpop again shows the panel). Closing the popup dismisses it for this
/// call; the call still rings in the panel.
fn on_window_event(window: &tauri::Window, event: &tauri::WindowEvent) {
    match (window.label(), event) {
        (MAIN, tauri::WindowEvent::CloseRequested { api, .. }) => {
            api.prevent_close();
            let _ = window.hide();
        }
        (POPUP, tauri::WindowEvent::CloseRequested { api, .. }) => {
            api.prevent_close();
            popup::hide(window.app_handle());
        }
        (POPUP, tauri::WindowEvent::Destroyed) => popup::destroyed(window.app_handle()),
        _ => {}
    }
}

/// The D-Bus name a single instance holds on Linux (and the name its lock goes by elsewhere):
/// Callpop's identifier in a real run; in an emulated run, only with `--instance-id`, under a
/// name of its own, so that tests and benchmarks can run instances side by side and a demo
/// never hands its links to the agent's real Callpop.
fn instance_name(args: &Args) -> Option<String> {
    match (&args.instance_id, args.emulated()) {
        (_, false) => Some(IDENTIFIER.to_owned()),
        (Some(id), true) => Some(format!("{IDENTIFIER}.run_{id}")),
        (None, true) => None,
    }
}

/// Callpop's identifier (`tauri.conf.json`).
const IDENTIFIER: &str = "app.callpop.desktop";

/// A second launch's command line, handed over by the single-instance plugin: its links are
/// opened here (each confirmed before it dials, a malformed one refused with a message), and
/// the panel comes to the front.
fn on_second_launch(app: &AppHandle, argv: &[String]) {
    match <Args as clap::Parser>::try_parse_from(argv) {
        Ok(args) if !args.links.is_empty() => {
            for link in &args.links {
                open_link(app, link);
            }
        }
        Ok(_) => show_main(app),
        Err(err) => {
            tracing::warn!(err = %err.kind(), "a second launch's arguments are not Callpop's");
            show_main(app);
        }
    }
}

/// What `run` starts after the Tauri app is built and before it runs, for its setup hook.
struct Started {
    ui: tokio::sync::mpsc::Receiver<UiEvent>,
    links: Vec<String>,
}

/// Builds and runs the app (returns when the agent quits).
///
/// The order matters for a second launch (a clicked `tel:` link while Callpop runs): building
/// the Tauri app runs the single-instance plugin, which hands the link to the running instance
/// and exits, before anything here opens the database or binds the SIP port.
pub fn run(args: Args) -> anyhow::Result<()> {
    let emulated = args.emulated();
    let mut builder = tauri::Builder::default();
    if let Some(name) = instance_name(&args) {
        builder = builder.plugin(
            tauri_plugin_single_instance::Builder::new()
                .dbus_id(name)
                .callback(|app, argv, _cwd| on_second_launch(app, &argv))
                .build(),
        );
    }
    let started: Arc<Mutex<Option<Started>>> = Arc::new(Mutex::new(None));
    let for_setup = started.clone();
    let app = builder
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_denylist(&[POPUP])
                .build(),
        )
        .plugin(
            tauri_plugin_global_shortcut::Builder::new()
                .with_handler(|app, shortcut, event| {
                    if event.state == ShortcutState::Pressed {
                        on_shortcut(app, shortcut);
                    }
                })
                .build(),
        )
        .on_window_event(on_window_event)
        .invoke_handler(crate::commands::handler())
        .setup(move |app| {
            let Started { ui, links } = lock(&for_setup)
                .take()
                .context("the backend was not started before the app ran")?;
            setup(app.handle(), emulated, ui, &links)?;
            Ok(())
        })
        .build(tauri::generate_context!())
        .context("building the Tauri app")?;

    // This is the instance that runs: start what is behind the windows.
    let (backend, ui) = tauri::async_runtime::block_on(backend::start(&args))?;
    let demo = match (&backend.emulator, args.demo) {
        (Some(_), true) | (None, true) => Some(Arc::new(tauri::async_runtime::block_on(
            DemoCaller::new(backend.telephony.local_addr()),
        )?)),
        _ => None,
    };
    app.manage(Shell {
        backend: Arc::new(backend),
        demo,
        ready: AtomicBool::new(false),
        demo_call: args.demo_call.clone(),
        pending_links: Mutex::new(Vec::new()),
        popup: Mutex::new(popup::Slot::default()),
    });
    *lock(&started) = Some(Started {
        ui,
        links: args.links.clone(),
    });
    app.run(|_app, _event| {});
    Ok(())
}

/// The setup hook: the panel, the tray, the shortcuts, the link handlers and the event
/// forwarding, with the backend already managed.
fn setup(
    handle: &AppHandle,
    emulated: bool,
    mut ui: tokio::sync::mpsc::Receiver<UiEvent>,
    links: &[String],
) -> anyhow::Result<()> {
    let shell = handle.state::<Shell>();
    let layout = lock(&shell.backend.layout).clone();
    let shortcuts = lock(&shell.backend.settings).shortcuts.clone();
    let mut sip_watch = shell.backend.telephony.status();
    create_main_window(handle, &layout)?;
    tray::create(handle)?;
    if let Err(err) = register_shortcuts(handle, &shortcuts) {
        tracing::warn!(%err, "global shortcuts");
    }
    if !emulated {
        if let Err(err) = handle.deep_link().register_all() {
            tracing::warn!(%err, "tel:/callto:/sip: handlers not registered");
        }
    }
    // The OS's open-url events (macOS); on Linux and Windows links come as arguments.
    let links_handle = handle.clone();
    handle.deep_link().on_open_url(move |event| {
        for url in event.urls() {
            open_link(&links_handle, url.as_str());
        }
    });
    for link in links {
        open_link(handle, link);
    }
    // Engine events → the windows.
    let events_handle = handle.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(event) = ui.recv().await {
            on_engine_event(&events_handle, &event);
            let _ = events_handle.emit(events::UI_EVENT, &event);
        }
        tracing::info!("engine events ended");
    });
    // SIP status → the windows and the tray.
    let sip_handle = handle.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            if let Some(shell) = sip_handle.try_state::<Shell>() {
                let _ = sip_handle.emit(events::SIP_STATUS, &shell.sip());
            }
            tray::refresh(&sip_handle);
            if sip_watch.changed().await.is_err() {
                break;
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[test]
    fn a_real_run_is_one_instance_under_the_apps_identifier() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).expect("the config parses");
        assert_eq!(
            config["identifier"], IDENTIFIER,
            "the lock is named after the configured identifier"
        );
        let real = Args::try_parse_from(["callpop", "tel:+14155550100"]).expect("args");
        assert_eq!(instance_name(&real).as_deref(), Some(IDENTIFIER));
        let demo = Args::try_parse_from(["callpop", "--demo"]).expect("args");
        assert_eq!(
            instance_name(&demo),
            None,
            "demos and tests run side by side"
        );
        let named =
            Args::try_parse_from(["callpop", "--demo", "--instance-id", "t1"]).expect("args");
        assert_eq!(
            instance_name(&named).as_deref(),
            Some("app.callpop.desktop.run_t1"),
            "a named emulated run never takes the real app's name"
        );
    }

    fn status(state: telephony::RegistrationState) -> telephony::SipStatus {
        telephony::SipStatus {
            state,
            local_addr: "127.0.0.1:5070".parse().expect("an address"),
        }
    }

    #[test]
    fn without_a_registrar_a_listening_agent_is_reachable() {
        let s = sip_status(&status(telephony::RegistrationState::Unregistered), false);
        assert_eq!(
            s.state,
            SipState::Registered { expires: 0 },
            "calls reach the agent's address directly"
        );
        assert_eq!(
            s.local_addr.as_deref(),
            Some("127.0.0.1:5070"),
            "the bound address is shown"
        );
        let s = sip_status(&status(telephony::RegistrationState::Unregistered), true);
        assert_eq!(
            s.state,
            SipState::Unregistered,
            "with a registrar, unregistered means unreachable"
        );
    }

    #[test]
    fn registration_states_map_one_to_one() {
        let s = sip_status(
            &status(telephony::RegistrationState::Failed {
                reason: "403 Forbidden".into(),
                kind: sip::FailureKind::Credentials,
            }),
            true,
        );
        assert_eq!(
            s.state,
            SipState::Failed {
                reason: "403 Forbidden".into(),
                kind: SipFailure::Credentials,
            },
            "the reason and its kind are kept for the agent"
        );
        let s = sip_status(
            &status(telephony::RegistrationState::Registered { expires: 300 }),
            true,
        );
        assert_eq!(
            s.state,
            SipState::Registered { expires: 300 },
            "expires is kept"
        );
    }
}
