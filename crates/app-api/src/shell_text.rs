//! The few words the shell shows outside the web UI (the tray, the OS notification, a window
//! title), in the UI's four languages. The web UI has its own strings (`ui/src/locales`); these
//! are the ones the OS draws.

/// The shell's words in one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShellText {
    /// The tray's status line: the phone cannot take calls.
    pub status_offline: &'static str,
    /// The tray's status line: calls work, Salesforce does not.
    pub status_salesforce_disconnected: &'static str,
    /// The tray's status line: everything works.
    pub status_registered: &'static str,
    /// Tray: show the panel.
    pub show_panel: &'static str,
    /// Tray: the call history.
    pub history: &'static str,
    /// Tray: the settings.
    pub settings: &'static str,
    /// Tray: quit.
    pub quit: &'static str,
    /// Tray (demo): the submenu of demo calls.
    pub demo_call_from: &'static str,
    /// Tray (demo): the submenu of demo SMS.
    pub demo_sms_from: &'static str,
    /// The OS notification's title for a ringing call, and the popup window's title.
    pub incoming_call: &'static str,
}

const EN: ShellText = ShellText {
    status_offline: "Callpop: offline (phone not registered)",
    status_salesforce_disconnected: "Callpop: Salesforce disconnected",
    status_registered: "Callpop: registered",
    show_panel: "Show panel",
    history: "History",
    settings: "Settings",
    quit: "Quit Callpop",
    demo_call_from: "Demo call from…",
    demo_sms_from: "Demo SMS from…",
    incoming_call: "Incoming call",
};

const JA: ShellText = ShellText {
    status_offline: "Callpop: オフライン（電話が登録されていません）",
    status_salesforce_disconnected: "Callpop: Salesforce との接続が切れています",
    status_registered: "Callpop: 登録済み",
    show_panel: "パネルを表示",
    history: "履歴",
    settings: "設定",
    quit: "Callpop を終了",
    demo_call_from: "デモ着信の発信元…",
    demo_sms_from: "デモ SMS の送信元…",
    incoming_call: "着信",
};

const FR: ShellText = ShellText {
    status_offline: "Callpop : hors ligne (téléphone non enregistré)",
    status_salesforce_disconnected: "Callpop : Salesforce déconnecté",
    status_registered: "Callpop : enregistré",
    show_panel: "Afficher le panneau",
    history: "Historique",
    settings: "Réglages",
    quit: "Quitter Callpop",
    demo_call_from: "Appel de démonstration depuis…",
    demo_sms_from: "SMS de démonstration depuis…",
    incoming_call: "Appel entrant",
};

const KO: ShellText = ShellText {
    status_offline: "Callpop: 오프라인(전화가 등록되지 않음)",
    status_salesforce_disconnected: "Callpop: Salesforce 연결 끊김",
    status_registered: "Callpop: 등록됨",
    show_panel: "패널 보기",
    history: "기록",
    settings: "설정",
    quit: "Callpop 종료",
    demo_call_from: "데모 전화 발신지…",
    demo_sms_from: "데모 SMS 발신지…",
    incoming_call: "수신 전화",
};

/// The shell's words in `language` (`en`, `ja`, `fr`, `ko`, as
/// [`crate::LanguageChoice::effective`] gives it); English for anything else.
pub fn shell_text(language: &str) -> &'static ShellText {
    match language {
        "ja" => &JA,
        "fr" => &FR,
        "ko" => &KO,
        _ => &EN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(t: &ShellText) -> [&'static str; 10] {
        [
            t.status_offline,
            t.status_salesforce_disconnected,
            t.status_registered,
            t.show_panel,
            t.history,
            t.settings,
            t.quit,
            t.demo_call_from,
            t.demo_sms_from,
            t.incoming_call,
        ]
    }

    #[test]
    fn every_language_words_every_string_itself() {
        let english = words(shell_text("en"));
        for language in ["ja", "fr", "ko"] {
            for (word, en) in words(shell_text(language)).iter().zip(english) {
                assert!(!word.trim().is_empty(), "{language}: an empty string");
                assert_ne!(*word, en, "{language} copies the English {en:?}");
            }
        }
        assert_eq!(shell_text("de"), shell_text("en"), "others get English");
    }
}
