//! Escaping for SOSL search terms and SOQL string literals.

/// Characters SOSL reserves inside a search term; each is escaped with a backslash.
pub const SOSL_RESERVED: &[char] = &[
    '?', '&', '|', '!', '{', '}', '[', ']', '(', ')', '^', '~', '*', ':', '\\', '"', '\'', '+', '-',
];

/// Escape one SOSL search term: every reserved character gets a backslash in front.
pub fn escape_sosl(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 8);
    for c in term.chars() {
        if SOSL_RESERVED.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Join alternative search terms with `OR`, each escaped and trimmed; empty terms are dropped.
/// Returns `None` when no term is left.
pub fn sosl_or(terms: &[impl AsRef<str>]) -> Option<String> {
    let parts: Vec<String> = terms
        .iter()
        .map(|t| t.as_ref().trim())
        .filter(|t| !t.is_empty())
        .map(escape_sosl)
        .collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join(" OR "))
    }
}

/// Escape a value for use inside a SOQL single-quoted string literal (without the quotes).
pub fn escape_soql_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reserved_sosl_char_is_escaped() {
        let all: String = SOSL_RESERVED.iter().collect();
        let escaped = escape_sosl(&all);
        let expected: String = SOSL_RESERVED.iter().flat_map(|c| ['\\', *c]).collect();
        assert_eq!(
            escaped, expected,
            "each of the 19 reserved characters gets one backslash"
        );
        assert_eq!(
            escape_sosl("+1 (415) 555-0100"),
            r"\+1 \(415\) 555\-0100",
            "the SOSL guide's own example"
        );
        assert_eq!(
            escape_sosl("0312345678"),
            "0312345678",
            "digits pass unchanged"
        );
    }

    #[test]
    fn or_joins_escaped_terms_and_drops_blanks() {
        assert_eq!(
            sosl_or(&["4155550100", " ", "+14155550100"]).as_deref(),
            Some(r"4155550100 OR \+14155550100"),
            "terms are ORed after escaping; blank terms vanish"
        );
        assert_eq!(sosl_or(&["", "  "]), None, "nothing to search for");
        assert_eq!(
            sosl_or(&["a OR b"]).as_deref(),
            Some("a OR b"),
            "a term's words are not operators we add, but OR inside a term stays text"
        );
    }

    #[test]
    fn soql_literal_escapes_quote_and_backslash() {
        assert_eq!(escape_soql_literal(r"it's"), r"it\'s", "quote is escaped");
        assert_eq!(escape_soql_literal(r"a\b"), r"a\\b", "backslash is doubled");
        assert_eq!(
            escape_soql_literal(r"x\' OR Id != '"),
            r"x\\\' OR Id != \'",
            "an injection attempt stays inside the literal"
        );
        assert_eq!(
            escape_soql_literal("l1\nl2"),
            r"l1\nl2",
            "newline is escaped"
        );
    }
}
