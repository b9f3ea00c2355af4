//! Salesforce record Ids: key prefixes, the 15→18 character checksum suffix, and a deterministic
//! generator (the same sequence of creates always yields the same Ids).

/// Alphabet of the checksum suffix: index = 5-bit mask of upper-case letters in a 5-char group.
const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
/// Digits of the generator's counter, in ASCII order so that generated Ids sort by creation.
const COUNTER_ALPHABET: &[u8; 62] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The org's fixed 18-character Id.
pub fn org_id() -> String {
    to_18("00D5g000004KcPQ").expect("a well-formed constant 15-char Id")
}

/// The demo user's fixed 18-character Id.
pub fn user_id() -> String {
    to_18("0055g00000KcAgT").expect("a well-formed constant 15-char Id")
}

/// The key prefix (first three characters) of an sObject type this emulator models.
pub fn key_prefix(sobject: &str) -> Option<&'static str> {
    Some(match sobject {
        "Account" => "001",
        "Contact" => "003",
        "Lead" => "00Q",
        "Task" => "00T",
        "Opportunity" => "006",
        "Case" => "500",
        "User" => "005",
        _ => return None,
    })
}

/// The sObject type that owns a key prefix.
pub fn sobject_for_prefix(prefix: &str) -> Option<&'static str> {
    Some(match prefix {
        "001" => "Account",
        "003" => "Contact",
        "00Q" => "Lead",
        "00T" => "Task",
        "006" => "Opportunity",
        "500" => "Case",
        "005" => "User",
        _ => return None,
    })
}

/// The three-character checksum Salesforce appends to a 15-character Id.
///
/// Returns `None` unless `id15` is exactly 15 ASCII alphanumerics.
pub fn checksum(id15: &str) -> Option<String> {
    let bytes = id15.as_bytes();
    if bytes.len() != 15 || !bytes.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let suffix = bytes
        .chunks(5)
        .map(|group| {
            let mask = group
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_uppercase())
                .fold(0usize, |m, (j, _)| m | (1 << j));
            SUFFIX_ALPHABET[mask] as char
        })
        .collect();
    Some(suffix)
}

/// A 15-character Id with its checksum appended.
pub fn to_18(id15: &str) -> Option<String> {
    checksum(id15).map(|c| format!("{id15}{c}"))
}

/// Normalizes an Id from a request: a 15-char Id gets its suffix, an 18-char Id is checked and
/// returned with the case of its first 15 characters (the suffix is case-insensitive).
/// Anything else is not an Id.
pub fn normalize(id: &str) -> Option<String> {
    match id.len() {
        15 => to_18(id),
        18 => {
            let (head, tail) = id.split_at(15);
            let expected = checksum(head)?;
            expected
                .eq_ignore_ascii_case(tail)
                .then(|| format!("{head}{expected}"))
        }
        _ => None,
    }
}

/// Generates the `n`-th Id of a type: prefix, a fixed pod part and a base-62 counter, 18 chars.
pub fn generate(prefix: &str, n: u64) -> String {
    let mut digits = [b'0'; 7];
    let mut rest = n;
    for slot in digits.iter_mut().rev() {
        *slot = COUNTER_ALPHABET[(rest % 62) as usize];
        rest /= 62;
    }
    let counter = std::str::from_utf8(&digits).expect("alphabet is ASCII");
    let id15 = format!("{prefix}5g000{counter}");
    to_18(&id15).expect("generated Ids are 15 alphanumerics")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_known_ids() {
        // 001 5g 00000AbCdE: groups "0015g" (none upper) → A, "00000" → A, "AbCdE" bits 0,2,4 → 21 → V.
        assert_eq!(
            checksum("0015g00000AbCdE").as_deref(),
            Some("AAV"),
            "mask 0b10101 indexes V"
        );
        assert_eq!(
            checksum("00000000000000A").as_deref(),
            Some("AAQ"),
            "only bit 4 of group 3 → 16 → Q"
        );
        assert_eq!(
            checksum("AAAAAAAAAAAAAAA").as_deref(),
            Some("555"),
            "all upper → 31 → 5"
        );
    }

    #[test]
    fn checksum_rejects_bad_input() {
        assert_eq!(checksum("short"), None, "15 characters are required");
        assert_eq!(
            checksum("0015g00000AbC-E"),
            None,
            "punctuation is not part of an Id"
        );
    }

    #[test]
    fn normalize_accepts_15_and_18_and_case_insensitive_suffix() {
        let id18 = to_18("0035g00000XyZaB").unwrap();
        assert_eq!(
            normalize("0035g00000XyZaB").as_deref(),
            Some(id18.as_str()),
            "15 → 18"
        );
        assert_eq!(normalize(&id18).as_deref(), Some(id18.as_str()), "18 stays");
        let lower_suffix = format!("{}{}", &id18[..15], id18[15..].to_ascii_lowercase());
        assert_eq!(
            normalize(&lower_suffix).as_deref(),
            Some(id18.as_str()),
            "suffix case is ignored"
        );
        let wrong = format!("{}ZZZ", &id18[..15]);
        if wrong != id18 {
            assert_eq!(normalize(&wrong), None, "a wrong suffix is not an Id");
        }
        assert_eq!(normalize("not-an-id"), None, "garbage is not an Id");
    }

    #[test]
    fn generated_ids_are_valid_ordered_and_prefixed() {
        let a = generate("00T", 1);
        let b = generate("00T", 62);
        assert_eq!(a.len(), 18, "generated Ids are 18 characters");
        assert!(a.starts_with("00T"), "the key prefix comes first");
        assert_eq!(
            normalize(&a).as_deref(),
            Some(a.as_str()),
            "the checksum is right"
        );
        assert!(a < b, "later Ids sort after earlier ones");
    }

    #[test]
    fn fixed_org_and_user_ids_have_real_prefixes() {
        assert!(
            org_id().starts_with("00D") && org_id().len() == 18,
            "org Ids start 00D"
        );
        assert!(
            user_id().starts_with("005") && user_id().len() == 18,
            "user Ids start 005"
        );
    }
}
