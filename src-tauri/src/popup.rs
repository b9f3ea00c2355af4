//! The incoming-call popup window's life. A webview costs a WebKit web process (about 75 MiB),
//! so the popup exists only around calls: it is created when a call rings, hidden when the
//! popup is no longer wanted, and destroyed after [`LINGER`] without a new call (back-to-back
//! calls reuse it). When the popup loads it asks for the state like the panel does (the
//! `snapshot` command), so a late window shows the ringing call all the same.
//!
//! [`Slot`] is the decision as plain values; [`show`] and [`hide`] apply it to the window.

use std::time::Duration;

use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

use crate::backend::lock;
use crate::shell::{tune_webview, Shell, POPUP};

/// How long a hidden popup is kept for the next call before its web process is let go.
pub const LINGER: Duration = Duration::from_secs(30);

/// Where the popup window is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Window {
    /// No window (at start, and after it was destroyed).
    #[default]
    Absent,
    /// Built (shown or hidden).
    Alive,
    /// Asked to be destroyed; its label is taken until the destroyed event.
    Dying,
}

/// What to do to the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Build it, shown.
    Create,
    /// Show the existing one.
    Show,
    /// Hide it, and come back after [`LINGER`] with this generation.
    Hide { generation: u64 },
    /// Destroy it.
    Destroy,
    /// Nothing now.
    Nothing,
}

/// The popup's state: whether a call wants it, and its window's life. Every show or hide is a
/// new generation, so a linger that outlived a newer call does nothing.
#[derive(Debug, Default)]
pub struct Slot {
    window: Window,
    wanted: bool,
    generation: u64,
}

impl Slot {
    /// A call wants the popup.
    pub fn show(&mut self) -> Step {
        self.wanted = true;
        self.generation += 1;
        match self.window {
            Window::Absent => {
                self.window = Window::Alive;
                Step::Create
            }
            Window::Alive => Step::Show,
            // Built again once the old one is gone (see `destroyed`).
            Window::Dying => Step::Nothing,
        }
    }

    /// No call wants it any more (or the agent closed it).
    pub fn hide(&mut self) -> Step {
        self.wanted = false;
        self.generation += 1;
        match self.window {
            Window::Alive => Step::Hide {
                generation: self.generation,
            },
            Window::Absent | Window::Dying => Step::Nothing,
        }
    }

    /// [`LINGER`] after the hide of `generation`.
    pub fn linger_over(&mut self, generation: u64) -> Step {
        if generation == self.generation && !self.wanted && self.window == Window::Alive {
            self.window = Window::Dying;
            Step::Destroy
        } else {
            Step::Nothing
        }
    }

    /// The window is gone (destroyed by us, or building it failed).
    pub fn destroyed(&mut self) -> Step {
        self.window = Window::Absent;
        if self.wanted {
            self.window = Window::Alive;
            Step::Create
        } else {
            Step::Nothing
        }
    }
}

/// A call wants the popup: shown, built first if need be.
pub fn show(app: &AppHandle) {
    let step = slot_step(app, Slot::show);
    apply(app, step);
}

/// The popup is not wanted: hidden now, destroyed after [`LINGER`] unless a call comes.
pub fn hide(app: &AppHandle) {
    let step = slot_step(app, Slot::hide);
    apply(app, step);
}

/// The popup window was destroyed.
pub fn destroyed(app: &AppHandle) {
    let step = slot_step(app, Slot::destroyed);
    apply(app, step);
}

fn slot_step(app: &AppHandle, f: impl FnOnce(&mut Slot) -> Step) -> Step {
    app.try_state::<Shell>()
        .map_or(Step::Nothing, |shell| f(&mut lock(&shell.popup)))
}

fn apply(app: &AppHandle, step: Step) {
    let window = || app.get_webview_window(POPUP);
    match step {
        Step::Create => {
            if let Err(err) = build(app) {
                tracing::warn!(%err, "the incoming-call popup could not be shown");
                // Not built: back to absent, and not built again for this call.
                if let Some(shell) = app.try_state::<Shell>() {
                    let mut slot = lock(&shell.popup);
                    slot.wanted = false;
                    slot.destroyed();
                }
            }
        }
        Step::Show => {
            if let Some(popup) = window() {
                let _ = popup.show();
                let _ = popup.set_always_on_top(true);
            }
        }
        Step::Hide { generation } => {
            if let Some(popup) = window() {
                let _ = popup.hide();
            }
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                tokio::time::sleep(LINGER).await;
                let step = slot_step(&app, |slot| slot.linger_over(generation));
                apply(&app, step);
            });
        }
        Step::Destroy => match window() {
            Some(popup) => {
                if let Err(err) = popup.destroy() {
                    tracing::warn!(%err, "the hidden popup could not be destroyed");
                }
            }
            None => destroyed(app),
        },
        Step::Nothing => {}
    }
}

fn build(app: &AppHandle) -> tauri::Result<WebviewWindow> {
    let title = app.try_state::<Shell>().map_or_else(
        || "Callpop".to_owned(),
        |shell| format!("{} — Callpop", shell.backend.text().incoming_call),
    );
    let popup = WebviewWindowBuilder::new(app, POPUP, WebviewUrl::App("index.html#popup".into()))
        .title(title)
        .inner_size(360.0, 280.0)
        .resizable(false)
        .always_on_top(true)
        .skip_taskbar(true)
        .focused(false)
        .build()?;
    tune_webview(&popup);
    Ok(popup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_call_builds_the_popup_and_the_next_reuses_it() {
        let mut slot = Slot::default();
        assert_eq!(slot.show(), Step::Create, "no window at start");
        let Step::Hide { generation } = slot.hide() else {
            panic!("an alive popup is hidden");
        };
        assert_eq!(slot.show(), Step::Show, "the hidden popup is shown again");
        assert_eq!(
            slot.linger_over(generation),
            Step::Nothing,
            "a linger from before the new call destroys nothing"
        );
    }

    #[test]
    fn a_popup_hidden_for_the_linger_is_destroyed_and_built_again_later() {
        let mut slot = Slot::default();
        slot.show();
        let Step::Hide { generation } = slot.hide() else {
            panic!("hidden");
        };
        assert_eq!(slot.linger_over(generation), Step::Destroy);
        assert_eq!(slot.linger_over(generation), Step::Nothing, "only once");
        assert_eq!(slot.destroyed(), Step::Nothing, "nobody wants it");
        assert_eq!(slot.show(), Step::Create, "the next call builds a new one");
    }

    #[test]
    fn a_call_ringing_while_the_old_popup_dies_gets_a_new_one_once_it_is_gone() {
        let mut slot = Slot::default();
        slot.show();
        let Step::Hide { generation } = slot.hide() else {
            panic!("hidden");
        };
        assert_eq!(slot.linger_over(generation), Step::Destroy);
        assert_eq!(
            slot.show(),
            Step::Nothing,
            "the label is still taken: not built now, not shown on a dying window"
        );
        assert_eq!(
            slot.destroyed(),
            Step::Create,
            "built as soon as it is gone"
        );
        assert_eq!(slot.show(), Step::Show);
    }

    #[test]
    fn hiding_with_no_window_does_nothing() {
        let mut slot = Slot::default();
        assert_eq!(slot.hide(), Step::Nothing);
        assert_eq!(slot.linger_over(slot.generation), Step::Nothing);
    }
}
