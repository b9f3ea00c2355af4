//! Text hygiene for values that come from the network or from agents: caller display names, notes,
//! record names. Values are carried as data, never interpreted: control characters are removed and
//! lengths are bounded on `char` boundaries.

/// The longest display string (caller name, record name) kept for the popup, in `char`s.
pub const MAX_DISPLAY_CHARS: usize = 200;

/// Removes control characters (C0, DEL, C1; a line break or tab becomes a space), collapses runs
/// of whitespace, trims, and keeps at most `max_chars` characters (an ellipsis marks a cut).
pub fn clean_line(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 4));
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            // Line breaks and tabs separate words; other control characters vanish.
            if c.is_whitespace() {
                pending_space = !out.is_empty();
            }
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    truncate_chars(&out, max_chars)
}

/// Removes control characters except line feeds and tabs, normalises `\r\n` and `\r` to `\n`,
/// and keeps at most `max_chars` characters.
pub fn clean_multiline(s: &str, max_chars: usize) -> String {
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    let kept: String = s
        .chars()
        .filter(|&c| c == '\n' || c == '\t' || !c.is_control())
        .collect();
    truncate_chars(kept.trim_end(), max_chars)
}

/// Keeps at most `max_chars` characters of `s`, cutting on a `char` boundary. When a cut happens
/// the last kept character is `…`, so the result still has at most `max_chars` characters.
pub fn truncate_chars(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        return s.to_owned();
    }
    if max_chars == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max_chars - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_line_removes_controls_and_keeps_markup_as_text() {
        let hostile = "<img src=x onerror=alert(1)>\u{0007}\u{001b}[31m\r\nBob";
        let cleaned = clean_line(hostile, MAX_DISPLAY_CHARS);
        assert_eq!(
            cleaned, "<img src=x onerror=alert(1)>[31m Bob",
            "markup is data and stays verbatim; control characters go, a line break becomes a space"
        );
    }

    #[test]
    fn clean_line_bounds_huge_names_on_char_boundaries() {
        let huge = "日本".repeat(5_000);
        let cleaned = clean_line(&huge, MAX_DISPLAY_CHARS);
        assert_eq!(
            cleaned.chars().count(),
            MAX_DISPLAY_CHARS,
            "a 10 kB name is cut to the display limit"
        );
        assert!(cleaned.ends_with('…'), "a cut is marked with an ellipsis");
    }

    #[test]
    fn truncate_keeps_short_strings_untouched() {
        assert_eq!(
            truncate_chars("abc", 3),
            "abc",
            "a string at the limit is not cut"
        );
        assert_eq!(
            truncate_chars("abcd", 3),
            "ab…",
            "one char over the limit is cut"
        );
        assert_eq!(
            truncate_chars("abcd", 0),
            "",
            "a zero limit gives an empty string"
        );
    }

    #[test]
    fn clean_multiline_keeps_line_feeds_only() {
        let notes = "line one\r\nline two\u{0000}\rline three\n\n";
        assert_eq!(
            clean_multiline(notes, 1_000),
            "line one\nline two\nline three",
            "CRLF and CR become LF, NUL is removed, trailing blank lines are trimmed"
        );
    }
}
