//! What the agent pasted or clicked → what is dialed.
//!
//! Accepts a number in any format (`+81 3-1234-5678`, `(415) 555-0100`, full-width digits, an
//! extension `1234`) and the links a browser hands over: `tel:` (RFC 3966), `callto:` (with or
//! without `//`) and `sip:`/`sips:` (a number in the user part is dialed as a number; a named
//! user is dialed as the SIP URI). Anything else is a [`DialError`] whose text is a sentence for
//! the agent; nothing is dialed.

use cti::{format_for_display, is_internal, normalize, Behaviour, PhoneError};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::DialTarget;

/// Longest input looked at (a pasted number or a link); longer is refused.
const MAX_INPUT_CHARS: usize = 512;

/// Why a dial string or link cannot be dialed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, thiserror::Error)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum DialError {
    /// Nothing was given.
    #[error("There is no number to dial.")]
    Empty,
    /// The input is too long to be a number or a phone link.
    #[error("That text is {len} characters long, too long to be a phone number.")]
    TooLong {
        /// Its length in characters.
        len: usize,
    },
    /// A link of a kind Callpop does not dial (`http:`, `javascript:` …).
    #[error("Callpop dials tel:, callto: and sip: links, not {scheme}: links.")]
    UnsupportedLink {
        /// The link's scheme, lower case.
        scheme: String,
    },
    /// The input holds no usable phone number.
    #[error("\u{201c}{input}\u{201d} is not a phone number.")]
    NotANumber {
        /// The input, cleaned and shortened for display.
        input: String,
    },
}

impl From<PhoneError> for DialError {
    fn from(err: PhoneError) -> Self {
        match err {
            PhoneError::TooLong { len, .. } => DialError::TooLong { len },
            PhoneError::NoDigits { raw } => DialError::NotANumber { input: raw },
            other => DialError::NotANumber {
                input: other.to_string(),
            },
        }
    }
}

/// The schemes we dial.
const SCHEMES: [&str; 4] = ["tel", "callto", "sip", "sips"];

/// Splits `scheme:rest` when `input` starts with a URI scheme (RFC 3986: a letter, then letters,
/// digits, `+`, `-`, `.`), lower-casing the scheme.
fn split_scheme(input: &str) -> Option<(String, &str)> {
    let (scheme, rest) = input.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let valid = first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| (scheme.to_ascii_lowercase(), rest))
}

/// True when `s` looks like a phone number: digits (any script's, for full-width), `+`, visual
/// separators (RFC 3966 `-`, `.`, `(`, `)`) and spaces.
fn is_phone_text(s: &str) -> bool {
    s.chars().any(|c| c.is_numeric())
        && s.chars().all(|c| {
            c.is_numeric() || c.is_whitespace() || matches!(c, '+' | '-' | '.' | '(' | ')' | '/')
        })
}

/// A shortened, single-line copy of `s` for an error message.
fn shown(s: &str) -> String {
    let line: String = s.chars().filter(|c| !c.is_control()).take(60).collect();
    line.trim().to_owned()
}

/// Parses what the agent pasted or clicked into the number to dial, under the agent's region and
/// internal-extension rule (`behaviour.default_region`, `behaviour.internal_rule`).
pub fn dial_target(input: &str, behaviour: &Behaviour) -> Result<DialTarget, DialError> {
    let len = input.chars().count();
    if len > MAX_INPUT_CHARS {
        return Err(DialError::TooLong { len });
    }
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(DialError::Empty);
    }
    let not_a_number = || DialError::NotANumber {
        input: shown(trimmed),
    };
    let number_text = match split_scheme(trimmed) {
        // `+1 (415) 555-0100` has no scheme; a single letter before `:` would be a drive, not a
        // scheme, and neither is dialed as a link.
        Some((scheme, rest)) if scheme.len() > 1 => {
            if !SCHEMES.contains(&scheme.as_str()) {
                return Err(DialError::UnsupportedLink { scheme });
            }
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let decoded = percent_decode_str(rest).decode_utf8_lossy().into_owned();
            let decoded = decoded.trim();
            if scheme.starts_with("sip") {
                // sip:user[:password]@host[;params][?headers]
                let (user, host) = decoded.split_once('@').unwrap_or((decoded, ""));
                let user_number = user.split(';').next().unwrap_or("");
                if is_phone_text(user_number) {
                    user_number.to_owned()
                } else if !user.is_empty()
                    && !host.is_empty()
                    && !decoded.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    let uri = format!("{scheme}:{decoded}");
                    return Ok(DialTarget {
                        input: trimmed.to_owned(),
                        display: decoded.to_owned(),
                        number: uri,
                        internal: false,
                    });
                } else {
                    return Err(not_a_number());
                }
            } else {
                // tel:+1-415-555-0100;ext=12;phone-context=… — the number is before the first `;`.
                let (number, params) = decoded.split_once(';').unwrap_or((decoded, ""));
                if !is_phone_text(number) {
                    return Err(not_a_number());
                }
                let ext = params
                    .split(';')
                    .find_map(|p| p.strip_prefix("ext="))
                    .filter(|e| !e.is_empty() && e.chars().all(|c| c.is_ascii_digit()));
                match ext {
                    Some(ext) => format!("{number};ext={ext}"),
                    None => number.to_owned(),
                }
            }
        }
        _ => trimmed.to_owned(),
    };
    let normalized = normalize(&number_text, behaviour.default_region)?;
    if is_internal(&number_text, &behaviour.internal_rule) {
        return Ok(DialTarget {
            input: trimmed.to_owned(),
            number: normalized.digits.clone(),
            display: normalized.digits,
            internal: true,
        });
    }
    let display = format_for_display(&normalized, behaviour.default_region);
    let number = match (&normalized.e164, &normalized.extension) {
        (Some(e164), Some(ext)) => format!("{e164};ext={ext}"),
        (Some(e164), None) => e164.clone(),
        // Not a number libphonenumber knows (a short code, a PBX prefix): dial the digits as
        // given; the agent sees them before confirming.
        (None, _) => normalized.digits.clone(),
    };
    Ok(DialTarget {
        input: trimmed.to_owned(),
        number,
        display,
        internal: false,
    })
}

#[cfg(test)]
mod tests {
    use cti::Region;

    use super::*;

    fn behaviour(region: &str) -> Behaviour {
        Behaviour {
            default_region: Region::parse(region).expect("a known region"),
            ..Behaviour::default()
        }
    }

    fn dial(input: &str, region: &str) -> DialTarget {
        dial_target(input, &behaviour(region))
            .unwrap_or_else(|e| panic!("{input:?} should be dialable: {e}"))
    }

    #[test]
    fn pasted_numbers_in_local_formats_become_e164() {
        for (input, region, want) in [
            ("+81 3-1234-5678", "US", "+81312345678"),
            ("03-1234-5678", "JP", "+81312345678"),
            ("(415) 555-0100", "US", "+14155550100"),
            ("01 23 45 67 89", "FR", "+33123456789"),
            ("02-312-3456", "KR", "+8223123456"),
            ("０３－１２３４－５６７８", "JP", "+81312345678"),
        ] {
            let target = dial(input, region);
            assert_eq!(
                target.number, want,
                "{input:?} in {region} dials the E.164 form"
            );
            assert!(!target.internal, "{input:?} is an outside number");
            assert!(
                !target.display.is_empty(),
                "{input:?} has a display form for the agent"
            );
        }
    }

    #[test]
    fn phone_links_dial_their_number() {
        for (input, want) in [
            ("tel:+1-415-555-0100", "+14155550100"),
            ("TEL:+1.415.555.0100", "+14155550100"),
            ("tel:%2B33-1-23-45-67-89", "+33123456789"),
            ("callto://+81312345678", "+81312345678"),
            ("callto:+82-2-312-3456", "+8223123456"),
            ("sip:+33123456789@pbx.example;user=phone", "+33123456789"),
        ] {
            assert_eq!(
                dial(input, "US").number,
                want,
                "the link {input:?} dials its number"
            );
        }
    }

    #[test]
    fn a_tel_extension_is_kept() {
        let target = dial("tel:+1-415-555-0100;ext=12", "US");
        assert_eq!(
            target.number, "+14155550100;ext=12",
            "the extension parameter is dialed too"
        );
    }

    #[test]
    fn a_named_sip_user_is_dialed_as_the_uri() {
        let target = dial("sip:alice@pbx.example.com", "US");
        assert_eq!(
            target.number, "sip:alice@pbx.example.com",
            "a SIP URI with a name is dialed as is"
        );
        assert!(!target.internal, "a SIP URI is not an extension");
    }

    #[test]
    fn short_numbers_are_internal_extensions() {
        let target = dial("1234", "US");
        assert!(target.internal, "four digits are an extension by default");
        assert_eq!(
            target.number, "1234",
            "an extension is dialed as its digits"
        );
        let target = dial("tel:201", "JP");
        assert!(target.internal, "a tel: link to an extension is internal");
    }

    #[test]
    fn malformed_input_is_a_clear_error_and_dials_nothing() {
        let b = behaviour("US");
        for (input, want) in [
            ("", DialError::Empty),
            ("   ", DialError::Empty),
            (
                "javascript:alert(1)",
                DialError::UnsupportedLink {
                    scheme: "javascript".into(),
                },
            ),
            (
                "https://example.com/call",
                DialError::UnsupportedLink {
                    scheme: "https".into(),
                },
            ),
        ] {
            assert_eq!(
                dial_target(input, &b),
                Err(want),
                "{input:?} is refused with a typed error"
            );
        }
        for input in [
            "tel:",
            "tel:abc",
            "callto://",
            "sip:",
            "sip:@host",
            "hello",
            "tel:+1 415<script>",
        ] {
            let err = dial_target(input, &b).expect_err("not a number");
            assert!(
                matches!(err, DialError::NotANumber { .. }),
                "{input:?} is not a number, got {err:?}"
            );
            assert!(
                err.to_string().ends_with("is not a phone number."),
                "the message is a sentence for the agent: {err}"
            );
        }
        let long = "1".repeat(MAX_INPUT_CHARS + 1);
        assert!(
            matches!(dial_target(&long, &b), Err(DialError::TooLong { .. })),
            "an over-long paste is refused before parsing"
        );
    }
}
