//! The tray icon: status (registered / offline / Salesforce disconnected) and quick actions
//! (show the panel, history, settings, the demo's calls and SMS, quit).

use app_api::{ShellText, SipState, SipStatus};
use engine::ConnectionState;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager};

use crate::backend::lock;
use crate::demo::REGIONS;
use crate::shell::{events, show_main, Shell};

const TRAY: &str = "callpop";

/// The menu's items with words, kept to update their text (the status as it changes, all of
/// them when the language does).
struct Items {
    status: MenuItem<tauri::Wry>,
    show: MenuItem<tauri::Wry>,
    history: MenuItem<tauri::Wry>,
    settings: MenuItem<tauri::Wry>,
    quit: MenuItem<tauri::Wry>,
    demo: Option<(Submenu<tauri::Wry>, Submenu<tauri::Wry>)>,
}
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
                ConnectionState::Offline { .. }
                | ConnectionState::ReconnectNeeded
                | ConnectionState::NotSignedIn,
            ) => TrayStatus::SalesforceDisconnected,
            (SipState::Registered { .. }, _) => TrayStatus::Registered,
        }
    }

    /// The line shown in the menu and the tooltip, in `text`'s language.
    pub fn text(self, text: &ShellText) -> &'static str {
        match self {
            TrayStatus::Offline => text.status_offline,
            TrayStatus::SalesforceDisconnected => text.status_salesforce_disconnected,
            TrayStatus::Registered => text.status_registered,
        }
    }
}

/// Creates the tray icon and its menu.
pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let demo = app
        .try_state::<Shell>()
        .is_some_and(|shell| shell.demo.is_some());
    let text = app
        .try_state::<Shell>()
        .map_or_else(|| app_api::shell_text("en"), |shell| shell.backend.text());
    let status = MenuItem::with_id(app, STATUS_ITEM, "Callpop", false, None::<&str>)?;
    let show = MenuItem::with_id(app, "show", text.show_panel, true, None::<&str>)?;
    let history = MenuItem::with_id(app, "history", text.history, true, None::<&str>)?;
    let settings = MenuItem::with_id(app, "settings", text.settings, true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", text.quit, true, None::<&str>)?;
    let mut demo_menus = None;
    let sep1 = PredefinedMenuItem::separator(app)?;
    let sep2 = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&status, &sep1, &show, &history, &settings])?;
    if demo {
        let calls = Submenu::with_id(app, "demo-calls", text.demo_call_from, true)?;
        let sms = Submenu::with_id(app, "demo-sms", text.demo_sms_from, true)?;
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
        demo_menus = Some((calls, sms));
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
    app.manage(Items {
        status,
        show,
        history,
        settings,
        quit,
        demo: demo_menus,
    });
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

/// Updates the status line and tooltip, and the menu's words in the agent's language.
pub fn refresh(app: &AppHandle) {
    let Some(shell) = app.try_state::<Shell>() else {
        return;
    };
    let text = shell.backend.text();
    let connection = lock(&shell.backend.replay).connection();
    let status = TrayStatus::of(&shell.sip(), &connection);
    if let Some(tray) = app.tray_by_id(TRAY) {
        let _ = tray.set_tooltip(Some(status.text(text)));
    }
    if let Some(items) = app.try_state::<Items>() {
        let _ = items.status.set_text(status.text(text));
        let _ = items.show.set_text(text.show_panel);
        let _ = items.history.set_text(text.history);
        let _ = items.settings.set_text(text.settings);
        let _ = items.quit.set_text(text.quit);
        if let Some((calls, sms)) = &items.demo {
            let _ = calls.set_text(text.demo_call_from);
            let _ = sms.set_text(text.demo_sms_from);
        }
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
            TrayStatus::of(&registered, &ConnectionState::NotSignedIn),
            TrayStatus::SalesforceDisconnected,
            "calls work, nobody signed in to Salesforce"
        );
        assert_eq!(
            TrayStatus::of(
                &sip(SipState::Failed {
                    reason: "408 Request Timeout".into(),
                    kind: app_api::SipFailure::Unreachable,
                }),
                &ConnectionState::Connected
            ),
            TrayStatus::Offline,
            "no phone is worse than no Salesforce"
        );
        assert_eq!(
            TrayStatus::of(&registered, &ConnectionState::Unknown),
            TrayStatus::Registered,
            "the start-up check not answered yet is not a failure"
        );
    }

    #[test]
    fn the_status_line_is_in_the_agents_language() {
        assert_eq!(
            TrayStatus::Offline.text(app_api::shell_text("ja")),
            "Callpop: オフライン（電話が登録されていません）"
        );
        assert_eq!(
            TrayStatus::SalesforceDisconnected.text(app_api::shell_text("fr")),
            "Callpop : Salesforce déconnecté"
        );
        assert_eq!(
            TrayStatus::Registered.text(app_api::shell_text("en")),
            "Callpop: registered"
        );
    }
}
