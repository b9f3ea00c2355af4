//! Caller identity from SIP headers: P-Asserted-Identity, then Remote-Party-ID, then From.
//! The display name is data only: control characters are removed and it is never reinterpreted.

/// Longest display name kept, in characters; the rest is cut.
pub const MAX_DISPLAY_NAME: usize = 128;
/// Longest URI accepted, in bytes.
pub const MAX_URI: usize = 512;

/// One end of a call: a URI and an optional display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// `sip:`, `sips:` or `tel:` URI without header parameters.
    pub uri: String,
    /// The display name as sent (unquoted, control characters removed).
    pub display_name: Option<String>,
}

/// Picks the caller: the first usable P-Asserted-Identity value, else Remote-Party-ID, else From.
pub fn caller(pai: Option<&str>, rpid: Option<&str>, from: &str) -> Option<Party> {
    pai.and_then(first_usable)
        .or_else(|| rpid.and_then(first_usable))
        .or_else(|| parse_name_addr(from))
}

/// The first value of a possibly comma-separated header that parses, preferring a SIP URI to `tel:`.
fn first_usable(header: &str) -> Option<Party> {
    let parties: Vec<Party> = split_values(header).filter_map(parse_name_addr).collect();
    parties
        .iter()
        .find(|p| p.uri.starts_with("sip"))
        .or_else(|| parties.first())
        .cloned()
}

/// Splits a header on commas that are outside quotes and angle brackets.
fn split_values(header: &str) -> impl Iterator<Item = &str> {
    let mut values = Vec::new();
    let (mut in_quotes, mut in_angle, mut escaped, mut start) = (false, false, false, 0);
    for (i, c) in header.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '<' if !in_quotes => in_angle = true,
            '>' if !in_quotes => in_angle = false,
            ',' if !in_quotes && !in_angle => {
                values.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    values.push(&header[start..]);
    values.into_iter()
}

/// Parses `"Name" <uri>;params`, `Name <uri>` or a bare `uri;params`.
pub fn parse_name_addr(value: &str) -> Option<Party> {
    let value = value.trim();
    let (display, uri) = if let Some(open) = find_unquoted(value, '<') {
        let close = value[open..].find('>')? + open;
        (Some(&value[..open]), &value[open + 1..close])
    } else {
        // A bare addr-spec: parameters after ';' belong to the header, not the URI.
        (None, value.split(';').next().unwrap_or_default())
    };
    let uri = uri.trim();
    let scheme_ok = ["sip:", "sips:", "tel:"].iter().any(|s| {
        uri.len() > s.len()
            && uri
                .get(..s.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(s))
    });
    if !scheme_ok
        || uri.len() > MAX_URI
        || uri
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '"')
    {
        return None;
    }
    let display_name = display
        .map(clean_display_name)
        .filter(|name| !name.is_empty());
    Some(Party {
        uri: uri.to_owned(),
        display_name,
    })
}

fn find_unquoted(value: &str, wanted: char) -> Option<usize> {
    let (mut in_quotes, mut escaped) = (false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            c if c == wanted && !in_quotes => return Some(i),
            _ => {}
        }
    }
    None
}

/// Unquotes a display name, resolves `\x` escapes, drops control characters, trims and bounds it.
fn clean_display_name(raw: &str) -> String {
    let raw = raw.trim();
    let inner = raw
        .strip_prefix('"')
        .map(|r| r.strip_suffix('"').unwrap_or(r))
        .unwrap_or(raw);
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if !escaped && c == '\\' {
            escaped = true;
            continue;
        }
        escaped = false;
        if !c.is_control() {
            out.push(c);
        }
    }
    out.trim().chars().take(MAX_DISPLAY_NAME).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pai_wins_over_rpid_and_from() {
        let party = caller(
            Some("\"Asserted\" <sip:+81312345678@pbx.example>, <tel:+81312345678>"),
            Some("\"Rpid\" <sip:200@pbx.example>;party=calling"),
            "\"From\" <sip:100@pbx.example>;tag=abc",
        )
        .expect("a caller is found");
        assert_eq!(
            party.uri, "sip:+81312345678@pbx.example",
            "P-Asserted-Identity comes first"
        );
        assert_eq!(
            party.display_name.as_deref(),
            Some("Asserted"),
            "its display name is used"
        );
    }

    #[test]
    fn rpid_then_from_are_fallbacks() {
        let rpid = caller(
            None,
            Some("\"Rpid\" <sip:200@pbx>;party=calling"),
            "<sip:100@pbx>;tag=1",
        )
        .unwrap();
        assert_eq!(
            rpid.uri, "sip:200@pbx",
            "Remote-Party-ID is used without PAI"
        );
        let from = caller(Some("garbage"), None, "Alice <sip:100@pbx>;tag=1").unwrap();
        assert_eq!(
            from.uri, "sip:100@pbx",
            "an unusable PAI falls back to From"
        );
        assert_eq!(
            from.display_name.as_deref(),
            Some("Alice"),
            "an unquoted display name is kept"
        );
        let bare = caller(None, None, "sip:300@pbx;tag=9").unwrap();
        assert_eq!(
            bare.uri, "sip:300@pbx",
            "a bare URI loses its header parameters"
        );
        assert_eq!(bare.display_name, None, "no display name");
    }

    #[test]
    fn display_name_is_data_only() {
        let party = parse_name_addr("\"<img src=x onerror=alert(1)>\" <sip:evil@pbx>").unwrap();
        assert_eq!(
            party.display_name.as_deref(),
            Some("<img src=x onerror=alert(1)>"),
            "markup is carried verbatim as text, not interpreted or stripped"
        );
        let party = parse_name_addr("\"Bob\r\nX-Injected: yes\" <sip:bob@pbx>").unwrap();
        assert_eq!(
            party.display_name.as_deref(),
            Some("BobX-Injected: yes"),
            "CR/LF are removed"
        );
        let party = parse_name_addr("\"Quote \\\" and, comma\" <sip:q@pbx>").unwrap();
        assert_eq!(
            party.display_name.as_deref(),
            Some("Quote \" and, comma"),
            "escapes resolve"
        );
        let long = format!("\"{}\" <sip:l@pbx>", "長".repeat(1000));
        let party = parse_name_addr(&long).unwrap();
        assert_eq!(
            party.display_name.unwrap().chars().count(),
            MAX_DISPLAY_NAME,
            "length is bounded"
        );
    }

    #[test]
    fn cjk_display_names_survive() {
        let party = parse_name_addr("\"山田 太郎\" <sip:yamada@pbx>").unwrap();
        assert_eq!(
            party.display_name.as_deref(),
            Some("山田 太郎"),
            "Japanese intact"
        );
        let party = parse_name_addr("김민준 <sip:kim@pbx>").unwrap();
        assert_eq!(
            party.display_name.as_deref(),
            Some("김민준"),
            "Korean intact"
        );
    }

    #[test]
    fn bad_uris_are_refused() {
        for bad in [
            "<http://x>",
            "\"a\" <sip:>",
            "<sip:a b@pbx>",
            "\"unterminated <sip:a@pbx",
            "",
        ] {
            assert_eq!(
                parse_name_addr(bad),
                None,
                "{bad:?} is not a usable identity"
            );
        }
    }

    #[test]
    fn multibyte_text_where_the_scheme_would_be_is_refused_not_a_panic() {
        // Found by the fuzz target: byte 4 falls inside a multi-byte character.
        for value in [
            ".\u{FFFD}\u{FFFD}",
            "sip\u{e9}x",
            "<t\u{e9}l:1>",
            "\u{1F600}:x",
        ] {
            assert_eq!(
                parse_name_addr(value),
                None,
                "{value:?} has no sip:, sips: or tel: scheme"
            );
        }
    }
}
