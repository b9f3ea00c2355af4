//! Phone numbers: normalisation to E.164 (with the `phonenumber` crate, a port of Google's
//! libphonenumber), internal-extension recognition, the search terms that find a record however its
//! number was typed, and the post-filter that ranks what a lenient search index returns.
//!
//! Salesforce stores phone values as entered and its search matches digit strings (punctuation is
//! ignored) while a country code or a national trunk prefix changes the digits. So a caller is
//! searched in every form people store (`search_terms`) and the results are filtered on the national
//! significant number (`rank_matches`).

use std::fmt;
use std::str::FromStr;

use phonenumber::{country, metadata::DATABASE, Mode, PhoneNumber};
use serde::{Deserialize, Serialize};

use crate::record::Match;

/// The longest raw caller ID accepted, in `char`s (SIP user parts and tel URIs included).
pub const MAX_RAW_CHARS: usize = 256;
/// At most this many search terms are returned by [`search_terms`].
pub const MAX_SEARCH_TERMS: usize = 6;
/// A national number shorter than this is compared exactly, never as a suffix.
const MIN_SUFFIX_DIGITS: usize = 6;

/// Why a caller ID or dialled string could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// The input holds no digit at all (`anonymous`, `Unavailable`, an empty string).
    #[error("no digits in caller id {raw:?}")]
    NoDigits {
        /// The input, cleaned of control characters and cut to a sane length.
        raw: String,
    },
    /// The input is longer than [`MAX_RAW_CHARS`].
    #[error("caller id is {len} characters long, more than the {max} accepted")]
    TooLong {
        /// Its length in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A region code that is not an ISO 3166-1 alpha-2 code known to libphonenumber.
    #[error("unknown region code {code:?}")]
    UnknownRegion {
        /// The code as given.
        code: String,
    },
    /// An internal-extension pattern with characters other than digits and `x`.
    #[error("invalid internal-extension pattern {pattern:?}: only digits and x are allowed")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
    },
}

/// A region (ISO 3166-1 alpha-2, as libphonenumber knows it): `JP`, `FR`, `KR`, `US` …
/// Serialised as its two-letter code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region {
    id: country::Id,
    code: [u8; 2],
}

impl Region {
    /// The United States (the default region of [`crate::Behaviour`]).
    pub const US: Region = Region {
        id: country::Id::US,
        code: *b"US",
    };

    /// Parses a two-letter region code (case-insensitive).
    pub fn parse(code: &str) -> Result<Self, PhoneError> {
        let upper = code.trim().to_ascii_uppercase();
        let unknown = || PhoneError::UnknownRegion {
            code: crate::text::clean_line(code, 16),
        };
        let bytes: [u8; 2] = upper.as_bytes().try_into().map_err(|_| unknown())?;
        let id = country::Id::from_str(&upper).map_err(|_| unknown())?;
        Ok(Region { id, code: bytes })
    }

    /// The two-letter code, e.g. `JP`.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters pass `parse`, so this never falls back.
        std::str::from_utf8(&self.code).unwrap_or("ZZ")
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Region({})", self.as_str())
    }
}

impl TryFrom<String> for Region {
    type Error = PhoneError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Region::parse(&value)
    }
}

impl From<Region> for String {
    fn from(value: Region) -> Self {
        value.as_str().to_owned()
    }
}

impl FromStr for Region {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::parse(s)
    }
}

/// A caller ID or dialled string after normalisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Normalized {
    /// The input, cleaned of control characters (kept for display and for the log).
    pub raw: String,
    /// Every digit of the number part, ASCII, in order (full-width digits converted, extension
    /// excluded): what an internal extension or an unparseable number is searched by.
    pub digits: String,
    /// `+<country code><national number>` when libphonenumber recognises a valid number.
    pub e164: Option<String>,
    /// The country calling code (`81`, `33`, `1` …) when `e164` is known.
    pub country_code: Option<u16>,
    /// The national significant number (no country code, no trunk prefix) when `e164` is known.
    pub national_number: Option<String>,
    /// The number's own region (`JP` for `+81…`), when `e164` is known.
    pub region: Option<Region>,
    /// The extension (`;ext=12`, ` x12`), if any.
    pub extension: Option<String>,
}

impl Normalized {
    /// E.164 without the `+`: `81312345678`.
    pub fn e164_digits(&self) -> Option<&str> {
        self.e164.as_deref().map(|e| e.trim_start_matches('+'))
    }

    /// True for the North American Numbering Plan (country code 1).
    pub fn is_nanp(&self) -> bool {
        self.country_code == Some(1)
    }
}

/// The rule that tells an internal extension from an outside number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InternalRule {
    /// A number of at most this many digits (and no `+`) is internal. Default 4; `None` turns the
    /// threshold off so that only `patterns` decide.
    pub max_digits: Option<usize>,
    /// Patterns of digits and `x` (any digit), e.g. `1xxx`, `2xx`: a number with exactly that many
    /// digits that fits one of them is internal.
    pub patterns: Vec<String>,
}

impl Default for InternalRule {
    fn default() -> Self {
        Self {
            max_digits: Some(4),
            patterns: Vec::new(),
        }
    }
}

impl InternalRule {
    /// Checks that every pattern holds only digits and `x`/`X`.
    pub fn validate(&self) -> Result<(), PhoneError> {
        for pattern in &self.patterns {
            let ok = !pattern.is_empty()
                && pattern
                    .chars()
                    .all(|c| c.is_ascii_digit() || c.eq_ignore_ascii_case(&'x'));
            if !ok {
                return Err(PhoneError::InvalidPattern {
                    pattern: crate::text::clean_line(pattern, 64),
                });
            }
        }
        Ok(())
    }
}

/// Full-width forms (U+FF01..U+FF5E) become their ASCII twins; the ideographic space a space.
fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        // Dashes people paste from word processors.
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}' => '-',
        _ => c,
    }
}

/// The number part and an extension found in URI parameters, after URI stripping.
struct Stripped {
    number: String,
    extension: Option<String>,
    /// A global `phone-context=+NN` parameter of a tel/SIP URI: the country of a local number.
    context_code: Option<u16>,
}

/// Folds widths, drops control characters, strips a display name, angle brackets and a
/// `sip:`/`sips:`/`tel:` URI down to its user part, and reads an `ext=` parameter.
fn strip(raw: &str) -> Stripped {
    let folded: String = raw
        .chars()
        .map(fold_width)
        .filter(|c| !c.is_control())
        .collect();
    let mut s = folded.trim();
    // `"Alice" <sip:+33…@pbx>`: keep what is inside the angle brackets.
    if let (Some(open), Some(close)) = (s.find('<'), s.rfind('>')) {
        if open < close {
            s = s[open + 1..close].trim();
        }
    }
    let lower = s.to_ascii_lowercase();
    let mut is_uri = false;
    for scheme in ["sips:", "sip:", "tel:"] {
        if lower.starts_with(scheme) {
            s = &s[scheme.len()..];
            is_uri = true;
            break;
        }
    }
    if is_uri {
        // SIP: the user part ends at `@`; tel: has no host.
        if let Some(at) = s.find('@') {
            s = &s[..at];
        }
    }
    let decoded = percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned();
    let mut parts = decoded.split(';');
    let number = parts.next().unwrap_or_default().trim().to_owned();
    let mut extension = None;
    let mut context_code = None;
    for param in parts {
        if let Some((key, value)) = param.split_once('=') {
            if key.trim().eq_ignore_ascii_case("phone-context") {
                let value = value.trim();
                if let Some(code) = value.strip_prefix('+') {
                    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
                    context_code = digits.parse::<u16>().ok().filter(|c| (1..=999).contains(c));
                }
            }
            if key.trim().eq_ignore_ascii_case("ext") {
                let digits: String = value.chars().filter(char::is_ascii_digit).collect();
                if !digits.is_empty() {
                    extension = Some(digits);
                }
            }
        }
    }
    Stripped {
        number,
        extension,
        context_code,
    }
}

/// The main region of a country calling code (`81` → JP, `1` → US).
fn region_for_code(code: u16) -> Option<Region> {
    let metadata = DATABASE.by_code(&code)?;
    let main = metadata
        .iter()
        .find(|m| m.is_main_country_for_code())
        .or_else(|| metadata.first())?;
    Region::parse(main.id()).ok()
}

/// Splits a trailing textual extension (`x12`, `ext. 12`, `#12`) off a number typed by hand.
fn split_text_extension(number: &str) -> (&str, Option<String>) {
    let lower = number.to_ascii_lowercase();
    for marker in ["extension", "ext.", "ext", "x", "#"] {
        if let Some(pos) = lower.rfind(marker) {
            let tail = &number[pos + marker.len()..];
            let tail_digits: String = tail.chars().filter(char::is_ascii_digit).collect();
            let tail_ok = tail
                .chars()
                .all(|c| c.is_ascii_digit() || c == ' ' || c == '.' || c == ':');
            let head = &number[..pos];
            if tail_ok && !tail_digits.is_empty() && head.chars().any(|c| c.is_ascii_digit()) {
                return (head, Some(tail_digits));
            }
        }
    }
    (number, None)
}

/// Normalises a caller ID or a dialled string.
///
/// Accepts `+81312345678`, `0312345678`, `sip:+33123456789@pbx;user=phone`,
/// `tel:+1-415-555-0100;ext=12`, `415.555.0100`, full-width digits, `"Name" <sip:…>`. A local
/// number in a URI with `phone-context=+NN` is read in that country instead of `default_region`.
/// A number libphonenumber does not recognise as valid (an internal extension `1234`, a short
/// code) is still `Ok`, with `e164 = None` and its `digits`. Errors: no digit at all, or an input
/// longer than [`MAX_RAW_CHARS`].
pub fn normalize(raw: &str, default_region: Region) -> Result<Normalized, PhoneError> {
    let len = raw.chars().count();
    if len > MAX_RAW_CHARS {
        return Err(PhoneError::TooLong {
            len,
            max: MAX_RAW_CHARS,
        });
    }
    let clean_raw = crate::text::clean_line(raw, MAX_RAW_CHARS);
    let stripped = strip(raw);
    let (number, text_extension) = split_text_extension(&stripped.number);
    let extension = stripped.extension.or(text_extension);
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return Err(PhoneError::NoDigits { raw: clean_raw });
    }
    let mut normalized = Normalized {
        raw: clean_raw,
        digits,
        e164: None,
        country_code: None,
        national_number: None,
        region: None,
        extension,
    };
    // libphonenumber reads only a leading `+` specially; keep it and the digits.
    let plus = number.trim_start().starts_with('+');
    let parse_input = if plus {
        format!("+{}", normalized.digits)
    } else {
        normalized.digits.clone()
    };
    // With a `+` the country comes from the number itself. Passing the default region as well
    // makes phonenumber 0.3 strip that region's trunk prefix from a foreign number (with US as
    // default, `+33 1 23 45 67 89` loses its `1`), so the region is given only without a `+`.
    // A local number in a tel/SIP URI with `phone-context=+81` belongs to that country.
    let local_region = stripped
        .context_code
        .and_then(region_for_code)
        .unwrap_or(default_region);
    let region_hint = (!plus).then_some(local_region.id);
    if let Ok(parsed) = phonenumber::parse(region_hint, &parse_input) {
        if parsed.is_valid() {
            fill_from(&mut normalized, &parsed);
        }
    }
    Ok(normalized)
}

fn fill_from(normalized: &mut Normalized, parsed: &PhoneNumber) {
    let code = parsed.code().value();
    let national = parsed.national().to_string();
    normalized.e164 = Some(parsed.format().mode(Mode::E164).to_string());
    normalized.country_code = Some(code);
    normalized.national_number = Some(national);
    normalized.region = parsed
        .country()
        .id()
        .and_then(|id| Region::parse(id.as_ref()).ok());
}

/// The national trunk prefix of a region (`0` in JP, FR, KR, GB; none for NANP, whose
/// libphonenumber prefix `1` is the country code itself).
fn trunk_prefix(normalized: &Normalized) -> Option<&'static str> {
    if normalized.is_nanp() {
        return None;
    }
    let region = normalized.region?;
    DATABASE
        .by_id(region.as_str())
        .and_then(|meta| meta.national_prefix())
}

/// True when `raw` is an internal extension under `rule`: no `+`, only digits (separators
/// allowed), and either at most `rule.max_digits` digits or a fit with one of `rule.patterns`.
pub fn is_internal(raw: &str, rule: &InternalRule) -> bool {
    if raw.chars().count() > MAX_RAW_CHARS {
        return false;
    }
    let stripped = strip(raw);
    let number = stripped.number.trim();
    if number.starts_with('+') {
        return false;
    }
    if !number
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '*'))
    {
        return false;
    }
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return false;
    }
    let fits_pattern = rule.patterns.iter().any(|pattern| {
        pattern.chars().count() == digits.len()
            && pattern
                .chars()
                .zip(digits.chars())
                .all(|(p, d)| p.eq_ignore_ascii_case(&'x') || p == d)
    });
    fits_pattern || rule.max_digits.is_some_and(|max| digits.len() <= max)
}

/// The digit strings to search phone fields with, most specific first, deduplicated, at most
/// [`MAX_SEARCH_TERMS`]:
/// the national significant number (`312345678`), with the trunk prefix (`0312345678`), the E.164
/// digits (`81312345678`), international with the `(0)` trunk kept (`810312345678`), and the
/// digits as received. For NANP the national number is the 10 digits and E.164 adds the `1`.
/// A number without E.164 (an extension, a short code) is searched by its digits only.
pub fn search_terms(normalized: &Normalized) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    let mut push = |term: String| {
        if !term.is_empty() && !terms.contains(&term) && terms.len() < MAX_SEARCH_TERMS {
            terms.push(term);
        }
    };
    if let (Some(national), Some(e164), Some(code)) = (
        normalized.national_number.as_deref(),
        normalized.e164_digits(),
        normalized.country_code,
    ) {
        push(national.to_owned());
        if let Some(trunk) = trunk_prefix(normalized) {
            push(format!("{trunk}{national}"));
        }
        push(e164.to_owned());
        if let Some(trunk) = trunk_prefix(normalized) {
            push(format!("{code}{trunk}{national}"));
        }
    }
    push(normalized.digits.clone());
    terms
}

/// Digits of a stored phone value, extension dropped.
fn stored_digits(value: &str) -> String {
    let stripped = strip(value);
    let (number, _) = split_text_extension(&stripped.number);
    number.chars().filter(char::is_ascii_digit).collect()
}

/// How well one stored phone value fits the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fit {
    /// Same E.164 number.
    Exact,
    /// The stored digits end with the caller's national significant number.
    Suffix,
}

fn fit(caller: &Normalized, stored: &str) -> Option<Fit> {
    let digits = stored_digits(stored);
    if digits.is_empty() {
        return None;
    }
    let Some(national) = caller.national_number.as_deref() else {
        // No E.164 for the caller: only identical digit strings count.
        return (digits == caller.digits).then_some(Fit::Exact);
    };
    let region = caller.region;
    let stored_norm = region.and_then(|r| normalize(stored, r).ok());
    if let Some(stored_e164) = stored_norm.as_ref().and_then(|n| n.e164.as_deref()) {
        if Some(stored_e164) == caller.e164.as_deref() {
            return Some(Fit::Exact);
        }
        // A valid number of another country is never the caller, whatever its digits end with.
        if stored_norm.as_ref().and_then(|n| n.country_code) != caller.country_code {
            return None;
        }
    }
    if national.len() < MIN_SUFFIX_DIGITS {
        return (digits == national).then_some(Fit::Exact);
    }
    digits.ends_with(national).then_some(Fit::Suffix)
}

/// The best fit of any phone field of a record.
fn best_fit(caller: &Normalized, record: &Match) -> Option<Fit> {
    record.phones.values().filter_map(|v| fit(caller, v)).min()
}

/// True when one of the record's phone fields is the caller's number exactly (same E.164).
pub fn is_exact(caller: &Normalized, record: &Match) -> bool {
    best_fit(caller, record) == Some(Fit::Exact)
}

/// Keeps only the records with a phone field whose digits end with the caller's national
/// significant number (this removes the false positives of a lenient index), exact E.164 matches
/// first, then by `object_priority` (the layout's object order; objects not listed come last), then
/// in the order given.
pub fn rank_matches(
    caller: &Normalized,
    records: Vec<Match>,
    object_priority: &[String],
) -> Vec<Match> {
    let mut kept: Vec<(Fit, usize, usize, Match)> = records
        .into_iter()
        .enumerate()
        .filter_map(|(index, record)| {
            let fit = best_fit(caller, &record)?;
            let priority = object_priority
                .iter()
                .position(|o| o.eq_ignore_ascii_case(&record.record.sobject))
                .unwrap_or(usize::MAX);
            Some((fit, priority, index, record))
        })
        .collect();
    kept.sort_by_key(|(fit, priority, index, _)| (*fit, *priority, *index));
    kept.into_iter().map(|(_, _, _, record)| record).collect()
}

/// The number as an agent reads it: national format when the number belongs to the agent's
/// region (`03-1234-5678`), international otherwise (`+33 1 23 45 67 89`); an extension is shown as
/// ` ext. 12`. A number without E.164 (an extension, a short code) is shown as its digits, so a
/// `sip:201@pbx` caller reads `201`.
pub fn format_for_display(normalized: &Normalized, agent_region: Region) -> String {
    let Some(e164) = normalized.e164.as_deref() else {
        return normalized.digits.clone();
    };
    let Ok(parsed) = phonenumber::parse(None, e164) else {
        return e164.to_owned();
    };
    let mode = if normalized.region == Some(agent_region) {
        Mode::National
    } else {
        Mode::International
    };
    let mut shown = parsed.format().mode(mode).to_string();
    if let Some(ext) = &normalized.extension {
        shown.push_str(" ext. ");
        shown.push_str(ext);
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RecordRef;

    fn region(code: &str) -> Region {
        Region::parse(code).expect("test regions are valid ISO codes")
    }

    fn norm(raw: &str, default_region: &str) -> Normalized {
        normalize(raw, region(default_region)).expect("test numbers have digits")
    }

    #[test]
    fn normalizes_every_caller_id_shape() {
        let cases = [
            ("+81312345678", "JP", "+81312345678", None),
            ("0312345678", "JP", "+81312345678", None),
            ("０３－１２３４－５６７８", "JP", "+81312345678", None),
            (
                "sip:+33123456789@pbx.example;user=phone",
                "JP",
                "+33123456789",
                None,
            ),
            (
                "\"Alice\" <sips:+33123456789@pbx.example>",
                "US",
                "+33123456789",
                None,
            ),
            (
                "tel:+1-415-555-0100;ext=12",
                "JP",
                "+14155550100",
                Some("12"),
            ),
            ("415.555.0100", "US", "+14155550100", None),
            ("(415) 555-0100 x 7", "US", "+14155550100", Some("7")),
            ("02-312-3456", "KR", "+8223123456", None),
            (
                "tel:03-1234-5678;phone-context=+81",
                "US",
                "+81312345678",
                None,
            ),
            (
                "sip:0612345678;phone-context=+33@pbx",
                "JP",
                "+33612345678",
                None,
            ),
        ];
        for (raw, default_region, e164, ext) in cases {
            let n = norm(raw, default_region);
            assert_eq!(
                n.e164.as_deref(),
                Some(e164),
                "{raw:?} in {default_region} is {e164}"
            );
            assert_eq!(
                n.extension.as_deref(),
                ext,
                "{raw:?} carries extension {ext:?}"
            );
        }
    }

    #[test]
    fn normalize_keeps_region_and_national_number() {
        let n = norm("0312345678", "JP");
        assert_eq!(n.country_code, Some(81), "a JP number has country code 81");
        assert_eq!(
            n.national_number.as_deref(),
            Some("312345678"),
            "the trunk 0 is not part of the NSN"
        );
        assert_eq!(
            n.region,
            Some(region("JP")),
            "the number's own region is JP"
        );
    }

    #[test]
    fn short_numbers_are_kept_without_e164() {
        let n = norm("1234", "JP");
        assert_eq!(n.e164, None, "an extension is not a valid public number");
        assert_eq!(n.digits, "1234", "its digits are kept for the search");
    }

    #[test]
    fn bad_input_gets_typed_errors() {
        assert!(
            matches!(
                normalize("anonymous", region("JP")),
                Err(PhoneError::NoDigits { .. })
            ),
            "a withheld caller id has no digits"
        );
        assert!(
            matches!(
                normalize(&"9".repeat(10_000), region("JP")),
                Err(PhoneError::TooLong { .. })
            ),
            "a 10 kB caller id is refused, not parsed"
        );
        assert!(
            matches!(Region::parse("XX1"), Err(PhoneError::UnknownRegion { .. })),
            "a three-letter code is not a region"
        );
    }

    #[test]
    fn region_round_trips_through_serde() {
        let json = serde_json::to_string(&region("fr")).expect("a region serialises");
        assert_eq!(json, "\"FR\"", "regions serialise as upper-case codes");
        let back: Region = serde_json::from_str(&json).expect("and parse back");
        assert_eq!(back, region("FR"), "the round trip keeps the region");
        assert!(
            serde_json::from_str::<Region>("\"QQ\"").is_err(),
            "an unknown code is refused"
        );
    }

    #[test]
    fn internal_rule_threshold_and_patterns() {
        let default_rule = InternalRule::default();
        assert!(
            is_internal("1234", &default_rule),
            "4 digits are internal by default"
        );
        assert!(
            is_internal("sip:201@pbx", &default_rule),
            "a SIP extension is internal"
        );
        assert!(
            !is_internal("12345", &default_rule),
            "5 digits are outside by default"
        );
        assert!(
            !is_internal("+1234", &default_rule),
            "a leading + is never internal"
        );
        assert!(
            !is_internal("anonymous", &default_rule),
            "no digits is not internal"
        );

        let patterns = InternalRule {
            max_digits: None,
            patterns: vec!["1xxx".into(), "2xx".into()],
        };
        assert!(is_internal("1999", &patterns), "1xxx matches 1999");
        assert!(is_internal("205", &patterns), "2xx matches 205");
        assert!(!is_internal("3999", &patterns), "no pattern starts with 3");
        assert!(
            !is_internal("2055", &patterns),
            "2xx needs exactly three digits"
        );
        assert!(
            patterns.validate().is_ok(),
            "digit and x patterns are valid"
        );
        let bad = InternalRule {
            max_digits: None,
            patterns: vec!["1?xx".into()],
        };
        assert!(bad.validate().is_err(), "a ? is not a pattern character");
    }

    #[test]
    fn search_terms_for_japan_france_and_nanp() {
        assert_eq!(
            search_terms(&norm("+81312345678", "US")),
            ["312345678", "0312345678", "81312345678", "810312345678"],
            "JP: national, with trunk 0, E.164, international with (0)"
        );
        assert_eq!(
            search_terms(&norm("+33612345678", "JP")),
            ["612345678", "0612345678", "33612345678", "330612345678"],
            "FR: the brief's 330612345678 form is present"
        );
        assert_eq!(
            search_terms(&norm("(415) 555-0100", "US")),
            ["4155550100", "14155550100"],
            "NANP has no trunk prefix: the 10 digits and the E.164 digits"
        );
        assert_eq!(
            search_terms(&norm("1234", "JP")),
            ["1234"],
            "an extension is searched as is"
        );
    }

    #[test]
    fn search_terms_include_unusual_received_digits() {
        let terms = search_terms(&norm("+44 (0)20 7946 0018", "GB"));
        assert!(terms.len() <= MAX_SEARCH_TERMS, "never more than the cap");
        assert!(
            terms.contains(&"2079460018".to_owned()),
            "the NSN is searched: {terms:?}"
        );
        assert!(
            terms.contains(&"020794600180".to_owned())
                || terms.contains(&"4402079460018".to_owned()),
            "the digits as received are searched too: {terms:?}"
        );
    }

    fn record(sobject: &str, id: &str, phone: &str) -> Match {
        Match {
            record: RecordRef::new(sobject, id),
            name: format!("{sobject} {id}"),
            phones: [("Phone".to_owned(), phone.to_owned())]
                .into_iter()
                .collect(),
            fields: Default::default(),
        }
    }

    #[test]
    fn rank_matches_filters_false_positives_and_orders() {
        let caller = norm("+81312345678", "JP");
        let records = vec![
            record("Lead", "00Q1", "03-1234-5678"),
            record("Contact", "0031", "+81 3-1234-5678"),
            record("Account", "0011", "(03) 9999-5678"),
            record("Contact", "0032", "+1 415 555 0100"),
            record("Account", "0012", "03 1234 5678"),
        ];
        let priority = [
            "Account".to_owned(),
            "Contact".to_owned(),
            "Lead".to_owned(),
        ];
        let ranked = rank_matches(&caller, records, &priority);
        let ids: Vec<&str> = ranked.iter().map(|m| m.record.id.as_str()).collect();
        assert_eq!(
            ids,
            ["0012", "0031", "00Q1"],
            "false positives go; all remaining are exact so layout priority orders them"
        );
    }

    #[test]
    fn exact_matches_rank_before_suffix_matches() {
        let caller = norm("+81312345678", "JP");
        // A record typed with a stray leading digit fits only by suffix.
        let records = vec![
            record("Account", "0011", "9-0312345678"),
            record("Lead", "00Q1", "0312345678"),
        ];
        let ranked = rank_matches(&caller, records, &["Account".to_owned(), "Lead".to_owned()]);
        assert_eq!(
            ranked[0].record.id, "00Q1",
            "an exact E.164 equal ranks first, before priority"
        );
        assert!(is_exact(&caller, &ranked[0]), "the first one is exact");
        assert_eq!(ranked.len(), 2, "the suffix fit is kept");
    }

    #[test]
    fn display_is_national_at_home_and_international_abroad() {
        let tokyo = norm("+81312345678", "JP");
        assert_eq!(
            format_for_display(&tokyo, region("JP")),
            "03-1234-5678",
            "national for a JP agent"
        );
        assert_eq!(
            format_for_display(&tokyo, region("FR")),
            "+81 3-1234-5678",
            "international for a FR agent"
        );
        let ext = norm("tel:+1-415-555-0100;ext=12", "US");
        assert_eq!(
            format_for_display(&ext, region("US")),
            "(415) 555-0100 ext. 12",
            "extension shown"
        );
        let short = norm("sip:1234@pbx.example", "JP");
        assert_eq!(
            format_for_display(&short, region("JP")),
            "1234",
            "no E.164: shown as its digits"
        );
    }

    #[test]
    fn normalize_never_panics_on_odd_input() {
        let fragments = [
            "",
            "+",
            "++",
            "0",
            "00",
            "sip:",
            "tel:",
            "@",
            ";ext=",
            ";ext=x",
            "<",
            ">",
            "\"",
            "%",
            "%2",
            "%2B",
            "x",
            "#",
            "ext.",
            "\u{0}",
            "\u{202E}",
            "０",
            "＋",
            "1234567890123456789012345",
            "-",
            " ",
            "(0)",
            "日本",
            "👍",
            "sip:@",
            "tel:;",
            ";",
            "=",
        ];
        let jp = region("JP");
        for a in fragments {
            for b in fragments {
                for c in ["", "81312345678", "1"] {
                    let input = format!("{a}{c}{b}");
                    match normalize(&input, jp) {
                        Ok(n) => {
                            assert!(
                                !n.digits.is_empty()
                                    && n.digits.chars().all(|d| d.is_ascii_digit()),
                                "{input:?}: digits are ASCII digits"
                            );
                            assert!(
                                n.e164.as_deref().is_none_or(|e| e.starts_with('+')),
                                "{input:?}: E.164 starts with +"
                            );
                            assert!(
                                search_terms(&n).len() <= MAX_SEARCH_TERMS,
                                "{input:?}: terms capped"
                            );
                        }
                        Err(PhoneError::NoDigits { .. } | PhoneError::TooLong { .. }) => {}
                        Err(other) => panic!("{input:?}: unexpected error {other:?}"),
                    }
                    let _ = is_internal(&input, &InternalRule::default());
                }
            }
        }
    }
}
