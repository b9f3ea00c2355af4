//! The tray icon: status (registered / offline / Salesforce disconnected) and quick actions
//! (show the panel, history, settings, the demo's calls and SMS, quit).

use app_api::{SipState, SipStatus};
use engine::ConnectionState;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager};

use crate::backend::lock;
use crate::demo::REGIONS;
use crate::shell::{events, show_main, Shell};

const TRAY: &str = "callpop";

/// The menu's status line, kept to update its text.
struct StatusItem(MenuItem<tauri::Wry>);
const STATUS_ITEM: &str = "status";

/// What the tray shows, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayStatus {
    /// The SIP agent cannot take calls.
    Offline,
    /// Calls work but Salesforce does not (logs wait in the outbox).
    SalesforceDisconnected,
    /// Everything works.
    Registered,
}

impl TrayStatus {
    /// From the SIP status and the Salesforce connection.
    pub fn of(sip: &SipStatus, connection: &ConnectionState) -> Self {
        match (&sip.state, connection) {
            (SipState::Unregistered | SipState::Registering | SipState::Failed { .. }, _) => {
                TrayStatus::Offline
            }
            (
                SipState::Registered { .. },
                ConnectionState::Offline { .. } | ConnectionState::ReconnectNeeded,
            ) => TrayStatus::SalesforceDisconnected,
            (SipState::Registered { .. }, _) => TrayStatus::Registered,
        }
    }

    /// The line shown in the menu and the tooltip.
    pub fn text(self) -> &'static str {
        match self {
            TrayStatus::Offline => "Callpop: offline (phone not registered)",
            TrayStatus::SalesforceDisconnected => "Callpop: Salesforce disconnected",
            TrayStatus::Registered => "Callpop: registered",
        }
    }
}

/// Creates the tray icon and its menu.
pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let demo = app
        .try_state::<Shell>()
        .is_some_and(|shell| shell.demo.is_some());
    let status = MenuItem::with_id(app, STATUS_ITEM, "Callpop", false, None::<&str>)?;
    let show = MenuItem::with_id(app, "show", "Show panel", true, None::<&str>)?;
    let history = MenuItem::with_id(app, "history", "History", true, None::<&str>)?;
    let settings = MenuItem::with_id(app, "settings", "Settings", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit Callpop", true, None::<&str>)?;
    let sep1 = PredefinedMenuItem::separator(app)?;
    let sep2 = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&status, &sep1, &show, &history, &settings])?;
    if demo {
        let calls = Submenu::with_id(app, "demo-calls", "Demo call from…", true)?;
        let sms = Submenu::with_id(app, "demo-sms", "Demo SMS from…", true)?;
        for region in REGIONS {
            calls.append(&MenuItem::with_id(
                app,
                format!("demo-call-{region}"),
                region,
                true,
                None::<&str>,
            )?)?;
            sms.append(&MenuItem::with_id(
                app,
                format!("demo-sms-{region}"),
                region,
                true,
                None::<&str>,
            )?)?;
        }
        menu.append(&PredefinedMenuItem::separator(app)?)?;
        menu.append(&calls)?;
        menu.append(&sms)?;
    }
    menu.append(&sep2)?;
    menu.append(&quit)?;
    let mut builder = TrayIconBuilder::with_id(TRAY)
        .tooltip("Callpop")
        .menu(&menu)
        .on_menu_event(|app, event| on_menu(app, event.id.as_ref()));
    if let Some(icon) = app.default_window_icon() {
        builder = builder.icon(icon.clone());
    }
    builder.build(app)?;
    app.manage(StatusItem(status));
    Ok(())
}

fn on_menu(app: &AppHandle, id: &str) {
    match id {
        "show" => show_main(app),
        "history" | "settings" => {
            show_main(app);
            let _ = app.emit_to(crate::shell::MAIN, events::NAVIGATE, id);
        }
        "quit" => app.exit(0),
        _ => {
            let Some(shell) = app.try_state::<Shell>() else {
                return;
            };
            let Some(demo) = shell.demo.clone() else {
                return;
            };
            if let Some(region) = id.strip_prefix("demo-call-") {
                let region = region.to_owned();
                tauri::async_runtime::spawn(async move {
                    if let Err(err) = demo.call(&region).await {
                        tracing::warn!(%err, region, "demo call failed");
                    }
                });
            } else if let Some(region) = id.strip_prefix("demo-sms-") {
                let region = region.to_owned();
                tauri::async_runtime::spawn(async move {
                    if let Err(err) = demo.sms(&region).await {
                        tracing::warn!(%err, region, "demo SMS failed");
                    }
                });
            }
        }
    }
}

/// Updates the status line and tooltip.
pub fn refresh(app: &AppHandle) {
    let Some(shell) = app.try_state::<Shell>() else {
        return;
    };
    let connection = lock(&shell.backend.replay).connection();
    let status = TrayStatus::of(&shell.sip(), &connection);
    if let Some(tray) = app.tray_by_id(TRAY) {
        let _ = tray.set_tooltip(Some(status.text()));
    }
    if let Some(item) = app.try_state::<StatusItem>() {
        let _ = item.0.set_text(status.text());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(state: SipState) -> SipStatus {
        SipStatus {
            state,
            local_addr: Some("127.0.0.1:5060".into()),
        }
    }

    #[test]
    fn the_tray_shows_the_worst_of_phone_and_salesforce() {
        let registered = sip(SipState::Registered { expires: 300 });
        assert_eq!(
            TrayStatus::of(&registered, &ConnectionState::Connected),
            TrayStatus::Registered,
            "both up"
        );
        assert_eq!(
            TrayStatus::of(&registered, &ConnectionState::ReconnectNeeded),
            TrayStatus::SalesforceDisconnected,
            "calls work, Salesforce needs a sign-in"
        );
        assert_eq!(
            TrayStatus::of(
                &sip(SipState::Failed {
                    reason: "timeout".into()
                }),
                &ConnectionState::Connected
            ),
            TrayStatus::Offline,
            "no phone is worse than no Salesforce"
        );
        assert_eq!(
            TrayStatus::of(&registered, &ConnectionState::Unknown),
            TrayStatus::Registered,
            "nothing sent yet is not a failure"
        );
    }
}
