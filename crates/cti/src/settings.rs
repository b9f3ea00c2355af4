//! The agent's behaviour settings: one typed struct with documented defaults, read from JSON with
//! errors that name the line, column and field path. Same contract as layouts: [`import`] returns
//! complete, validated settings or an error, and the caller keeps its settings on error.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::layout::CallType;
use crate::phone::{InternalRule, Region};

/// The largest settings file accepted, in bytes.
pub const MAX_SETTINGS_BYTES: usize = 256 * 1024;
/// The longest wrap-up (auto-save delay) accepted: one hour.
pub const MAX_WRAP_UP_SECONDS: u32 = 3600;

/// Why a settings file was refused. The caller's current settings stay in force.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// Not JSON of the expected shape.
    #[error("settings file, line {line} column {column}, at `{path}`: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The field path.
        path: String,
        /// What the parser said.
        message: String,
    },
    /// Parses, but a value cannot work.
    #[error("settings file, at `{path}`: {message}")]
    Invalid {
        /// The field path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// Larger than [`MAX_SETTINGS_BYTES`].
    #[error("settings file is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// The languages Callpop writes Task subjects in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Language {
    /// English (default).
    #[default]
    En,
    /// Japanese.
    Ja,
    /// French.
    Fr,
    /// Korean.
    Ko,
}

impl Language {
    /// All supported languages.
    pub const ALL: [Language; 4] = [Language::En, Language::Ja, Language::Fr, Language::Ko];
}

/// Subject templates of one language. `{number}` is replaced by the number as the agent reads it,
/// `{name}` by the matched record's name (or the number when there is none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SubjectTemplates {
    /// Answered inbound call.
    pub inbound: String,
    /// Outbound call.
    pub outbound: String,
    /// Internal call.
    pub internal: String,
    /// Inbound call that was not answered.
    pub missed: String,
    /// SMS conversation of a day.
    pub sms: String,
}

impl SubjectTemplates {
    /// The built-in templates of a language.
    pub fn default_for(language: Language) -> Self {
        let [inbound, outbound, internal, missed, sms] = match language {
            Language::En => [
                "Inbound call from {number}",
                "Outbound call to {number}",
                "Internal call with {number}",
                "Missed call from {number}",
                "SMS with {number}",
            ],
            Language::Ja => [
                "着信: {number}",
                "発信: {number}",
                "内線通話: {number}",
                "不在着信: {number}",
                "SMS: {number}",
            ],
            Language::Fr => [
                "Appel entrant de {number}",
                "Appel sortant vers {number}",
                "Appel interne avec {number}",
                "Appel manqué de {number}",
                "SMS avec {number}",
            ],
            Language::Ko => [
                "수신 전화: {number}",
                "발신 전화: {number}",
                "내선 통화: {number}",
                "부재중 전화: {number}",
                "SMS: {number}",
            ],
        };
        Self {
            inbound: inbound.into(),
            outbound: outbound.into(),
            internal: internal.into(),
            missed: missed.into(),
            sms: sms.into(),
        }
    }

    /// The template for a call (missed wins for an unanswered inbound call).
    pub fn for_call(&self, call_type: CallType, answered: bool) -> &str {
        match call_type {
            CallType::Inbound if !answered => &self.missed,
            CallType::Inbound => &self.inbound,
            CallType::Outbound => &self.outbound,
            CallType::Internal => &self.internal,
        }
    }

    fn all(&self) -> [(&'static str, &str); 5] {
        [
            ("inbound", &self.inbound),
            ("outbound", &self.outbound),
            ("internal", &self.internal),
            ("missed", &self.missed),
            ("sms", &self.sms),
        ]
    }
}

/// Fills a subject template: `{number}` and `{name}`; `{{` and `}}` are literal braces.
pub fn render_subject(template: &str, number: &str, name: Option<&str>) -> String {
    template
        .replace("{{", "\u{0}")
        .replace("}}", "\u{1}")
        .replace("{number}", number)
        .replace("{name}", name.unwrap_or(number))
        .replace('\u{0}', "{")
        .replace('\u{1}', "}")
}

fn check_template(path: &str, template: &str) -> Result<(), SettingsError> {
    let bad = |message: String| SettingsError::Invalid {
        path: path.to_owned(),
        message,
    };
    if template.trim().is_empty() {
        return Err(bad("a subject template cannot be empty".into()));
    }
    if template.chars().count() > 255 {
        return Err(bad("a subject template is at most 255 characters".into()));
    }
    let stripped = template
        .replace("{{", "")
        .replace("}}", "")
        .replace("{number}", "")
        .replace("{name}", "");
    if stripped.contains('{') || stripped.contains('}') {
        return Err(bad(
            "unknown placeholder: only {number} and {name} are replaced ({{ and }} for braces)"
                .into(),
        ));
    }
    Ok(())
}

/// How Callpop behaves for this agent. Every field has a documented default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Behaviour {
    /// Write the call's Task when wrap-up ends without waiting for the agent to press save
    /// (default `true`). When `false`, the agent saves or discards each call log.
    pub auto_save_call_logs: bool,
    /// Wrap-up after hang-up, in seconds, before an auto-saved log is written (default 60; 0
    /// writes it at hang-up). The agent's own save ends wrap-up early.
    pub wrap_up_seconds: u32,
    /// Log an answered queue call against the agent who answered it (default `true`); otherwise
    /// the Task's owner is left to Salesforce's default (the API user).
    pub log_queue_calls_to_answering_agent: bool,
    /// Log SMS as Tasks, one per number per agent's local day (default `true`).
    pub auto_save_sms: bool,
    /// The agent may search by name and pick a Contact or Lead not among the matches
    /// (default `true`).
    pub editable_who: bool,
    /// Internal calls are neither popped nor logged (default `false`).
    pub ignore_internal_calls: bool,
    /// Objects the agent may relate a call to (`WhatId`), default Account, Opportunity, Case.
    pub related_to_objects: Vec<String>,
    /// A `Search` pop also opens Salesforce Classic's search page
    /// ([`crate::pop::classic_search_url`]) besides the popup's chooser (default `false`: that
    /// URL is undocumented and may stop working).
    pub classic_search_pop: bool,
    /// Region used for numbers without a country code (default `US`).
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub default_region: Region,
    /// How internal extensions are recognised (default: at most 4 digits).
    pub internal_rule: InternalRule,
    /// The agent's IANA time zone, for `ActivityDate` and SMS days (default `UTC`).
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub time_zone: Tz,
    /// Language of Task subjects (default `en`).
    pub language: Language,
    /// Subject templates per language; missing languages use the built-in ones.
    pub subject_templates: BTreeMap<Language, SubjectTemplates>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            auto_save_call_logs: true,
            wrap_up_seconds: 60,
            log_queue_calls_to_answering_agent: true,
            auto_save_sms: true,
            editable_who: true,
            ignore_internal_calls: false,
            related_to_objects: vec!["Account".into(), "Opportunity".into(), "Case".into()],
            classic_search_pop: false,
            default_region: Region::US,
            internal_rule: InternalRule::default(),
            time_zone: Tz::UTC,
            language: Language::En,
            subject_templates: Language::ALL
                .into_iter()
                .map(|l| (l, SubjectTemplates::default_for(l)))
                .collect(),
        }
    }
}

impl Behaviour {
    /// The subject templates in the agent's language.
    pub fn subjects(&self) -> SubjectTemplates {
        self.subject_templates
            .get(&self.language)
            .cloned()
            .unwrap_or_else(|| SubjectTemplates::default_for(self.language))
    }

    /// True when `sobject` may be a Task's `WhatId` for this agent.
    pub fn may_relate_to(&self, sobject: &str) -> bool {
        self.related_to_objects.iter().any(|o| o == sobject)
    }

    /// Checks the settings' meaning; the error names the field path.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.wrap_up_seconds > MAX_WRAP_UP_SECONDS {
            return Err(SettingsError::Invalid {
                path: "wrap_up_seconds".into(),
                message: format!("at most {MAX_WRAP_UP_SECONDS} seconds"),
            });
        }
        for (i, object) in self.related_to_objects.iter().enumerate() {
            let ok = object
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
                && object
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok || ["Contact", "Lead"].contains(&object.as_str()) {
                return Err(SettingsError::Invalid {
                    path: format!("related_to_objects[{i}]"),
                    message: format!(
                        "{:?} cannot be a WhatId object (an API name, not Contact or Lead)",
                        crate::text::clean_line(object, 60)
                    ),
                });
            }
        }
        self.internal_rule
            .validate()
            .map_err(|err| SettingsError::Invalid {
                path: "internal_rule.patterns".into(),
                message: err.to_string(),
            })?;
        for (language, templates) in &self.subject_templates {
            let language = serde_json::to_value(language)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            for (name, template) in templates.all() {
                check_template(&format!("subject_templates.{language}.{name}"), template)?;
            }
        }
        Ok(())
    }
}

/// Reads a settings file. Missing fields take their defaults. Contract: complete, validated
/// settings or an error; on error the caller keeps its settings.
pub fn import(json: &str) -> Result<Behaviour, SettingsError> {
    let behaviour: Behaviour =
        crate::json::parse(json, MAX_SETTINGS_BYTES).map_err(|err| match err {
            crate::json::JsonError::TooLarge { len, max } => SettingsError::TooLarge { len, max },
            crate::json::JsonError::Syntax {
                line,
                column,
                path,
                message,
            } => SettingsError::Syntax {
                line,
                column,
                path,
                message,
            },
        })?;
    behaviour.validate()?;
    Ok(behaviour)
}

/// Writes settings as pretty JSON that [`import`] reads back to equal settings.
pub fn export(behaviour: &Behaviour) -> String {
    serde_json::to_string_pretty(behaviour).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let b = Behaviour::default();
        assert!(b.auto_save_call_logs, "call logs auto-save by default");
        assert_eq!(b.wrap_up_seconds, 60, "a 60 s wrap-up timer by default");
        assert!(
            !b.ignore_internal_calls,
            "internal calls are logged by default"
        );
        assert_eq!(
            b.related_to_objects,
            ["Account", "Opportunity", "Case"],
            "WhatId objects by default"
        );
        assert_eq!(b.time_zone, Tz::UTC, "UTC until the agent sets a zone");
        assert!(
            !b.classic_search_pop,
            "the undocumented Classic search page is opt-in"
        );
        assert!(b.validate().is_ok(), "the defaults are valid");
    }

    #[test]
    fn round_trip_and_partial_files() {
        let b = Behaviour {
            time_zone: chrono_tz::Asia::Tokyo,
            language: Language::Ja,
            default_region: Region::parse("JP").expect("JP is a region"),
            ..Behaviour::default()
        };
        assert_eq!(
            import(&export(&b)),
            Ok(b),
            "exported settings import back unchanged"
        );
        let partial = import(r#"{"time_zone": "Europe/Paris", "language": "fr"}"#)
            .expect("a partial file is valid");
        assert_eq!(
            partial.time_zone,
            chrono_tz::Europe::Paris,
            "the IANA zone is read"
        );
        assert!(
            partial.auto_save_sms,
            "fields not given keep their defaults"
        );
        assert_eq!(
            render_subject(
                partial.subjects().for_call(CallType::Inbound, true),
                "01 23 45 67 89",
                None
            ),
            "Appel entrant de 01 23 45 67 89",
            "the French template is used"
        );
    }

    #[test]
    fn broken_settings_name_line_and_field() {
        let json = "{\n  \"time_zone\": \"Mars/Olympus\"\n}";
        match import(json) {
            Err(SettingsError::Syntax { line, path, .. }) => {
                assert_eq!(line, 2, "the bad zone is on line 2");
                assert_eq!(path, "time_zone", "the field is named");
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
        let bad_template = r#"{"subject_templates": {"en": {"inbound": "Call {caller}", "outbound": "o", "internal": "i", "missed": "m", "sms": "s"}}}"#;
        assert!(
            matches!(import(bad_template), Err(SettingsError::Invalid { ref path, .. }) if path == "subject_templates.en.inbound"),
            "an unknown placeholder is named"
        );
        assert!(
            matches!(import(r#"{"related_to_objects": ["Lead"]}"#), Err(SettingsError::Invalid { ref path, .. }) if path == "related_to_objects[0]"),
            "a Lead cannot be a WhatId"
        );
        assert!(
            matches!(
                import(r#"{"wrap_up_seconds": 99999}"#),
                Err(SettingsError::Invalid { .. })
            ),
            "an absurd wrap-up is refused"
        );
    }

    #[test]
    fn subjects_render_placeholders_and_braces() {
        assert_eq!(
            render_subject("{name} ({number}) {{x}}", "03-1234-5678", Some("Sato")),
            "Sato (03-1234-5678) {x}",
            "both placeholders are replaced and doubled braces are literal"
        );
        assert_eq!(
            render_subject("{name}", "+1 415", None),
            "+1 415",
            "without a name the number stands in"
        );
        let ja = SubjectTemplates::default_for(Language::Ja);
        assert_eq!(
            ja.for_call(CallType::Inbound, false),
            "不在着信: {number}",
            "unanswered inbound is missed"
        );
    }
}
