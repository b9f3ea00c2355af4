//! The shell's own data transfer objects: command arguments and results, event payloads.

use chrono::{DateTime, Utc};
use cti::{Behaviour, Match};
use engine::{ConnectionState, Direction, LogStatus, UiEvent};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// The org's API usage from `Sforce-Limit-Info` (`api-usage=used/max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ApiUsage {
    /// Requests used in the rolling 24 hours.
    pub used: u64,
    /// The org's allocation.
    pub max: u64,
}

/// Where the SIP agent's registration stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SipState {
    /// Not registered (no registrar configured, or unregistered).
    Unregistered,
    /// A REGISTER is under way.
    Registering,
    /// Registered for `expires` seconds (or listening, with no registrar: `expires` 0).
    Registered {
        /// The binding's lifetime in seconds as the registrar granted it.
        expires: u32,
    },
    /// Registration failed.
    Failed {
        /// Why, in the SIP stack's words (shown as the detail).
        reason: String,
        /// What went wrong, which the UI says in the agent's language.
        kind: SipFailure,
    },
}

/// What kind of trouble the registration met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum SipFailure {
    /// The PBX's domain is not in DNS.
    UnknownHost,
    /// No connection, or the registrar never answered.
    Unreachable,
    /// The TLS handshake failed, or the PBX's certificate was refused for another reason.
    Certificate,
    /// The PBX's certificate is not signed by a trusted CA.
    CertificateUntrusted,
    /// The PBX's certificate is not issued for its name or address.
    CertificateName,
    /// The PBX's certificate has expired.
    CertificateExpired,
    /// The PBX's certificate is not valid yet.
    CertificateNotYetValid,
    /// The account's CA certificate file cannot be used.
    CaFile,
    /// The registrar refused the user name or password.
    Credentials,
    /// The registrar does not know this user.
    UnknownUser,
    /// The registrar is failing or overloaded.
    ServerError,
    /// Anything else.
    Other,
}

/// The SIP agent's status (the `sip-status` event): `{ state: "registered", expires, local_addr }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SipStatus {
    /// The registration state (its tag is the `state` field).
    #[serde(flatten)]
    pub state: SipState,
    /// The local SIP address (`127.0.0.1:5060`) once listening.
    pub local_addr: Option<String>,
}

/// The UI's theme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    /// Follow the OS (default).
    #[default]
    System,
    /// Light.
    Light,
    /// Dark.
    Dark,
}

/// The UI's language as the agent chose it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum LanguageChoice {
    /// The OS locale when it is one of the four, else English (default).
    #[default]
    System,
    /// English.
    En,
    /// Japanese.
    Ja,
    /// French.
    Fr,
    /// Korean.
    Ko,
}

impl LanguageChoice {
    /// The effective language code (`en`, `ja`, `fr`, `ko`): the choice, or for `System` the
    /// first two letters of `os_locale` (`ja-JP`, `fr_FR.UTF-8`) when supported, else `en`.
    pub fn effective(self, os_locale: Option<&str>) -> &'static str {
        match self {
            LanguageChoice::En => "en",
            LanguageChoice::Ja => "ja",
            LanguageChoice::Fr => "fr",
            LanguageChoice::Ko => "ko",
            LanguageChoice::System => {
                let lang = os_locale
                    .unwrap_or("")
                    .get(..2)
                    .unwrap_or("")
                    .to_ascii_lowercase();
                match lang.as_str() {
                    "ja" => "ja",
                    "fr" => "fr",
                    "ko" => "ko",
                    _ => "en",
                }
            }
        }
    }
}

/// What the UI shows at start (and after a reload): the state to replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct Snapshot {
    /// The app's version.
    pub version: String,
    /// True in demo mode (embedded emulator, demo caller).
    pub demo: bool,
    /// The SIP agent's status.
    pub sip: SipStatus,
    /// The Salesforce connection.
    pub connection: ConnectionState,
    /// The last API usage reported, if any.
    pub api_usage: Option<ApiUsage>,
    /// The latest `CallState`, `Popup` and `LogState` of each live call, in order, to replay.
    pub calls: Vec<UiEvent>,
    /// The effective language: `en`, `ja`, `fr` or `ko`.
    pub language: String,
    /// The theme.
    pub theme: Theme,
}

/// A number to dial, as parsed from what the agent pasted or clicked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct DialTarget {
    /// What was given.
    pub input: String,
    /// What is dialed: E.164, an internal extension's digits, or a SIP URI.
    pub number: String,
    /// The number formatted for the agent.
    pub display: String,
    /// True for an internal extension.
    pub internal: bool,
}

/// One call in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct HistoryRow {
    /// The call.
    pub call_id: String,
    /// Its Task's CallObject.
    pub call_object: String,
    /// Which way.
    pub direction: Direction,
    /// The remote number as the agent reads it.
    pub number: String,
    /// The caller's display name, when known (untrusted text).
    pub display_name: Option<String>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it lasted once answered, in seconds.
    pub duration_s: Option<u32>,
    /// The record the call was logged against.
    pub record: Option<Match>,
    /// The call result.
    pub disposition: Option<String>,
    /// Its log's state.
    pub log: Option<LogStatus>,
}

/// One SMS conversation (by number).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
pub struct SmsThread {
    /// The other party's number.
    pub number: String,
    /// Their name, when known.
    pub display_name: Option<String>,
    /// The last message's text.
    pub last_text: String,
    /// When it was sent or received.
    pub last_at: DateTime<Utc>,
    /// The record the number matched.
    pub record: Option<Match>,
}

/// One SMS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SmsItem {
    /// Received (`Inbound`) or sent (`Outbound`).
    pub direction: Direction,
    /// The text.
    pub text: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Global shortcuts, as accelerator strings (`CommandOrControl+Shift+A`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct Shortcuts {
    /// Answer the ringing call.
    pub answer: String,
    /// Hang up the current call.
    pub hang_up: String,
}

impl Default for Shortcuts {
    fn default() -> Self {
        Self {
            answer: "CommandOrControl+Shift+A".into(),
            hang_up: "CommandOrControl+Shift+H".into(),
        }
    }
}

/// The agent's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(default)]
pub struct AppSettings {
    /// How the engine behaves.
    pub behaviour: Behaviour,
    /// The region for numbers without a country code (`JP`, `FR`, `KR`, `US` …).
    pub region: String,
    /// The UI language.
    pub language: LanguageChoice,
    /// The theme.
    pub theme: Theme,
    /// Global shortcuts.
    pub shortcuts: Shortcuts,
}

impl Default for AppSettings {
    fn default() -> Self {
        let behaviour = Behaviour::default();
        Self {
            region: behaviour.default_region.as_str().to_owned(),
            behaviour,
            language: LanguageChoice::default(),
            theme: Theme::default(),
            shortcuts: Shortcuts::default(),
        }
    }
}

/// Which Salesforce login host to sign in through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SfEnvironment {
    /// `https://login.salesforce.com`.
    Production,
    /// `https://test.salesforce.com`.
    Sandbox,
    /// The org's My Domain (`https://<name>.my.salesforce.com`).
    MyDomain {
        /// Its URL.
        url: String,
    },
}

/// The Salesforce connection settings (no secret: tokens stay in the OS keychain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SalesforceSettings {
    /// The login host.
    pub environment: SfEnvironment,
    /// The External Client App's consumer key.
    pub client_id: String,
    /// The signed-in user, when signed in.
    pub username: Option<String>,
}

/// The outcome of a connection check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ConnectionCheck {
    /// True when every check passed.
    pub ok: bool,
    /// What is wrong.
    pub problems: Vec<crate::Failure>,
    /// The signed-in user.
    pub username: Option<String>,
    /// The org's instance.
    pub instance_url: Option<String>,
    /// The org's API usage.
    pub api_usage: Option<ApiUsage>,
}

/// SIP transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// UDP (default).
    #[default]
    Udp,
    /// TCP.
    Tcp,
    /// TLS: the PBX's certificate is verified (the system's CA certificates, plus
    /// `SipAccount::tls_ca_file`).
    Tls,
}

/// What happens to a second call while the agent is on one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum BusyPolicy {
    /// It rings as a waiting call (default).
    #[default]
    RingWaiting,
    /// It is refused with 486 Busy Here.
    Reject486,
}

/// The SIP account (the password is kept in the OS keychain, never here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SipAccount {
    /// The SIP user (the agent's extension or user name).
    pub user: String,
    /// The SIP domain.
    pub domain: String,
    /// The registrar (`host[:port]`), when it is not the domain; none for no registration.
    pub registrar: Option<String>,
    /// The transport.
    pub transport: Transport,
    /// With TLS, a PEM file of CA certificates trusted besides the system's (a PBX with a private
    /// CA); none: the system's only. Absent from accounts saved before TLS.
    #[serde(default)]
    pub tls_ca_file: Option<String>,
    /// The DNS server the PBX's name is looked up at (an IP address, with a port when not 53),
    /// for a PBX known only to a DNS server the system does not ask; none: the system's
    /// resolver. Absent from accounts saved before it existed.
    #[serde(default)]
    pub dns_server: Option<String>,
    /// Busy handling.
    pub busy_policy: BusyPolicy,
    /// True when a password is stored in the keychain.
    pub has_password: bool,
}

/// The audio devices chosen (none: the system default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AudioChoice {
    /// Microphone.
    pub input: Option<String>,
    /// Speaker or headset.
    pub output: Option<String>,
    /// Where the ring tone plays.
    pub ringer: Option<String>,
}

/// The audio devices available and the agent's choice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct AudioDevices {
    /// Input device names.
    pub inputs: Vec<String>,
    /// Output device names.
    pub outputs: Vec<String>,
    /// The choice.
    pub choice: AudioChoice,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_status_json_has_the_state_tag_beside_local_addr() {
        let status = SipStatus {
            state: SipState::Registered { expires: 3600 },
            local_addr: Some("127.0.0.1:5060".into()),
        };
        let json = serde_json::to_value(&status).expect("serialize");
        assert_eq!(
            json,
            serde_json::json!({"state": "registered", "expires": 3600, "local_addr": "127.0.0.1:5060"}),
            "the contract's shape: the state tag flattened beside local_addr"
        );
        let back: SipStatus = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, status, "round trip");
    }

    #[test]
    fn environment_and_policies_use_the_contract_names() {
        let env = serde_json::to_value(SfEnvironment::MyDomain {
            url: "https://acme.my.salesforce.com".into(),
        })
        .expect("serialize");
        assert_eq!(
            env,
            serde_json::json!({"kind": "my_domain", "url": "https://acme.my.salesforce.com"}),
            "my_domain carries its url"
        );
        assert_eq!(
            serde_json::to_value(BusyPolicy::Reject486).expect("serialize"),
            "reject486",
            "the contract spells it reject486"
        );
        assert_eq!(
            serde_json::to_value(Transport::Tcp).expect("serialize"),
            "tcp",
            "transports are lower case"
        );
        assert_eq!(
            serde_json::to_value(Transport::Tls).expect("serialize"),
            "tls",
            "TLS too"
        );
    }

    #[test]
    fn an_account_saved_before_tls_loads_without_a_ca_file() {
        let account: SipAccount = serde_json::from_str(
            r#"{"user":"1001","domain":"pbx.example.com","registrar":null,"transport":"udp","busy_policy":"ring_waiting","has_password":false}"#,
        )
        .expect("the stored shape of an earlier version");
        assert_eq!(
            account.tls_ca_file, None,
            "no CA file: the system's CAs only"
        );
        assert_eq!(account.dns_server, None, "no DNS server: the system's");
    }

    #[test]
    fn settings_missing_parts_take_the_defaults() {
        let settings: AppSettings =
            serde_json::from_str(r#"{"theme":"dark"}"#).expect("a partial settings object");
        assert_eq!(settings.theme, Theme::Dark, "the given part is kept");
        assert_eq!(
            settings.shortcuts,
            Shortcuts::default(),
            "a missing part takes its default"
        );
        assert_eq!(settings.region, "US", "the default region is Behaviour's");
    }

    #[test]
    fn system_language_follows_the_os_locale_when_supported() {
        assert_eq!(
            LanguageChoice::System.effective(Some("ja_JP.UTF-8")),
            "ja",
            "a POSIX locale's language is used"
        );
        assert_eq!(
            LanguageChoice::System.effective(Some("ko-KR")),
            "ko",
            "BCP 47 tags work too"
        );
        assert_eq!(
            LanguageChoice::System.effective(Some("de_DE")),
            "en",
            "an unsupported locale falls back to English"
        );
        assert_eq!(
            LanguageChoice::System.effective(None),
            "en",
            "no locale: English"
        );
        assert_eq!(
            LanguageChoice::Fr.effective(Some("ja_JP")),
            "fr",
            "an explicit choice beats the OS"
        );
    }

    #[test]
    fn a_layout_round_trips_through_the_json_the_ui_edits() {
        let mut layout = cti::Layout::default();
        layout.panel.width = 420;
        let json = serde_json::to_string(&layout).expect("serialize");
        let back: cti::Layout = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back, layout, "save_layout gets back what layout gave");
        let err = serde_json::from_str::<cti::Layout>(r#"{"inbound":{}}"#)
            .expect_err("a partial layout is refused");
        assert!(
            err.to_string().contains("missing field"),
            "the error names what is missing: {err}"
        );
    }
}
