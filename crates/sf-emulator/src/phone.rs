//! Phone-number matching for `IN PHONE FIELDS` searches.
//!
//! Salesforce stores phone values exactly as typed (`(415) 555-0100`, `+81 3-1234-5678`,
//! `０３－１２３４－５６７８`). Whether its search index normalizes them is not documented, so the
//! emulator offers two behaviours (see [`PhoneMatch`]): strict digit equality (the default, what
//! the documented example shows) and a lenient suffix match. Both compare digits only; spaces and
//! punctuation on either side are ignored.

use serde::{Deserialize, Serialize};

/// How a search term is compared with a stored phone value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PhoneMatch {
    /// The term's digits equal the stored value's digits: `4155550100` finds `(415) 555-0100`,
    /// `14155550100` does not.
    #[default]
    Exact,
    /// The stored digits equal the term's digits, or end with them when the term has at least
    /// [`MIN_SUFFIX_DIGITS`] digits: `312345678` finds `+81 3-1234-5678`.
    Suffix,
}

/// The fewest digits a term needs before [`PhoneMatch::Suffix`] matches on a suffix; shorter
/// terms must match exactly, so that `0100` does not find every number ending in 0100.
pub const MIN_SUFFIX_DIGITS: usize = 7;

/// The digits of `s`, in order, as ASCII. ASCII digits and full-width digits (`０`–`９`, as typed
/// with a Japanese input method) are kept; everything else (spaces, `+`, `-`, `(`, `.`, letters)
/// is dropped.
pub fn digits(s: &str) -> String {
    s.chars().filter_map(ascii_digit).collect()
}

/// The ASCII digit for an ASCII or full-width digit character.
fn ascii_digit(c: char) -> Option<char> {
    match c {
        '0'..='9' => Some(c),
        '０'..='９' => char::from_u32(u32::from(c) - u32::from('０') + u32::from('0')),
        _ => None,
    }
}

/// Whether the search `term` finds the stored phone value `stored` under `mode`.
///
/// A term without digits never matches a phone field, and neither does an empty stored value.
pub fn phone_matches(mode: PhoneMatch, term: &str, stored: &str) -> bool {
    stored_matches(mode, &digits(term), stored)
}

/// [`phone_matches`] for a term already reduced to its [`digits`]: lets a caller that compares
/// one term with many stored values normalize the term once. `stored` is taken as typed and is
/// not copied.
pub fn stored_matches(mode: PhoneMatch, term_digits: &str, stored: &str) -> bool {
    if term_digits.is_empty() {
        return false;
    }
    match mode {
        PhoneMatch::Exact => stored_digits(stored).eq(term_digits.chars()),
        PhoneMatch::Suffix => {
            // Walk both from the end: the term must be a suffix of the stored digits.
            let mut rest = stored.chars().rev().filter_map(ascii_digit);
            let is_suffix = term_digits.chars().rev().all(|t| rest.next() == Some(t));
            is_suffix && (term_digits.len() >= MIN_SUFFIX_DIGITS || rest.next().is_none())
        }
    }
}

/// Whether the stored value's digits start with `term_digits` (a `415555*` wildcard search).
pub fn stored_starts_with(term_digits: &str, stored: &str) -> bool {
    let mut all = stored_digits(stored);
    !term_digits.is_empty() && term_digits.chars().all(|t| all.next() == Some(t))
}

/// [`phone_matches`] on values that are both digits only (see [`digits`]).
pub fn digits_match(mode: PhoneMatch, term_digits: &str, stored_digits: &str) -> bool {
    stored_matches(mode, term_digits, stored_digits)
}

fn stored_digits(stored: &str) -> impl Iterator<Item = char> + '_ {
    stored.chars().filter_map(ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_drops_punctuation_and_keeps_order() {
        assert_eq!(
            digits("+1 (415) 555-0100"),
            "14155550100",
            "plus, spaces, parentheses and hyphens are not digits"
        );
        assert_eq!(
            digits("+33 (0)6 12 34 56 78"),
            "330612345678",
            "the (0) trunk digit is a digit and stays"
        );
        assert_eq!(digits("415.555.0100"), "4155550100", "dots are dropped");
        assert_eq!(digits("ext. abc"), "", "letters are dropped");
    }

    #[test]
    fn digits_converts_full_width_digits_to_ascii() {
        assert_eq!(
            digits("０３－１２３４－５６７８"),
            "0312345678",
            "full-width digits are digits; the full-width hyphen is not"
        );
    }

    #[test]
    fn exact_ignores_formatting_on_both_sides() {
        assert!(
            phone_matches(PhoneMatch::Exact, "4155550100", "(415) 555-0100"),
            "same digits, different punctuation"
        );
        assert!(
            phone_matches(PhoneMatch::Exact, "415-555-0100", "415.555.0100"),
            "punctuation in the term is ignored too"
        );
        assert!(
            phone_matches(PhoneMatch::Exact, "0312345678", "03-1234-5678"),
            "Japanese national format with hyphens"
        );
        assert!(
            phone_matches(PhoneMatch::Exact, "0312345678", "０３－１２３４－５６７８"),
            "full-width stored value has the same digits"
        );
    }

    #[test]
    fn exact_rejects_other_digit_strings() {
        assert!(
            !phone_matches(PhoneMatch::Exact, "14155550100", "(415) 555-0100"),
            "a leading country code makes the digits differ"
        );
        assert!(
            !phone_matches(PhoneMatch::Exact, "0312345678", "+81 3-1234-5678"),
            "the stored value carries the country code and no trunk 0"
        );
        assert!(
            !phone_matches(PhoneMatch::Exact, "5550100", "(415) 555-0100"),
            "exact mode never matches on a suffix"
        );
    }

    #[test]
    fn suffix_matches_trailing_digits_of_seven_or_more() {
        assert!(
            phone_matches(PhoneMatch::Suffix, "312345678", "+81 3-1234-5678"),
            "the national significant number is a suffix of the international form"
        );
        assert!(
            phone_matches(PhoneMatch::Suffix, "5550100", "(415) 555-0100"),
            "seven digits are enough for a suffix match"
        );
        assert!(
            phone_matches(PhoneMatch::Suffix, "4155550100", "415.555.0100"),
            "equal digits match in suffix mode too"
        );
    }

    #[test]
    fn suffix_rejects_short_terms_and_non_suffixes() {
        assert!(
            !phone_matches(PhoneMatch::Suffix, "550100", "(415) 555-0100"),
            "six digits are too few for a suffix match"
        );
        assert!(
            phone_matches(PhoneMatch::Suffix, "0100", "0100"),
            "a short term still matches when equal"
        );
        assert!(
            !phone_matches(PhoneMatch::Suffix, "14155550100", "(415) 555-0100"),
            "a term longer than the stored digits is not a suffix"
        );
        assert!(
            !phone_matches(PhoneMatch::Suffix, "4155550199", "(415) 555-0100"),
            "different trailing digits"
        );
    }

    #[test]
    fn stored_helpers_agree_with_phone_matches() {
        let stored = [
            "(415) 555-0100",
            "+81 3-1234-5678",
            "０３－１２３４－５６７８",
            "",
            "0100",
        ];
        let terms = [
            "4155550100",
            "14155550100",
            "312345678",
            "0312345678",
            "5550100",
            "0100",
            "",
        ];
        for mode in [PhoneMatch::Exact, PhoneMatch::Suffix] {
            for s in stored {
                for t in terms {
                    let via_strings = {
                        let (td, sd) = (digits(t), digits(s));
                        !td.is_empty()
                            && (td == sd
                                || (mode == PhoneMatch::Suffix
                                    && td.len() >= MIN_SUFFIX_DIGITS
                                    && sd.ends_with(&td)))
                    };
                    assert_eq!(
                        phone_matches(mode, t, s),
                        via_strings,
                        "the streaming comparison equals the definition for {t:?} vs {s:?} ({mode:?})"
                    );
                }
            }
        }
        assert!(
            stored_starts_with("415555", "(415) 555-0100"),
            "digit prefix across punctuation"
        );
        assert!(
            !stored_starts_with("4156", "(415) 555-0100"),
            "different fourth digit"
        );
        assert!(
            !stored_starts_with("", "(415) 555-0100"),
            "an empty prefix is no search"
        );
    }

    #[test]
    fn empty_digits_never_match() {
        for mode in [PhoneMatch::Exact, PhoneMatch::Suffix] {
            assert!(
                !phone_matches(mode, "Tanaka", "Tanaka"),
                "a term without digits is not a phone term ({mode:?})"
            );
            assert!(
                !phone_matches(mode, "4155550100", ""),
                "an empty stored value matches nothing ({mode:?})"
            );
        }
    }

    #[test]
    fn phone_match_serializes_lowercase() {
        assert_eq!(
            serde_json::to_string(&PhoneMatch::Suffix).ok().as_deref(),
            Some("\"suffix\""),
            "the control API uses lowercase mode names"
        );
        assert_eq!(
            serde_json::from_str::<PhoneMatch>("\"exact\"").ok(),
            Some(PhoneMatch::Exact),
            "lowercase names deserialize"
        );
        assert_eq!(
            PhoneMatch::default(),
            PhoneMatch::Exact,
            "exact is the documented default"
        );
    }
}
