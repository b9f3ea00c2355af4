//! SOSL (`GET …/search/?q=`) and the search-term expressions shared with `parameterizedSearch`.
//!
//! Supported SOSL:
//!
//! ```text
//! FIND {terms} [IN ALL|NAME|EMAIL|PHONE|SIDEBAR FIELDS]
//!   [RETURNING Object[(field [, field]* [WHERE condition] [ORDER BY …] [LIMIT n])] [, …]]
//!   [LIMIT n]
//! ```
//!
//! Search terms: words, `"quoted phrases"`, `OR`, `AND`, `AND NOT`, parentheses, a trailing `*`
//! wildcard, and words side by side (an implicit `AND`). `AND` binds tighter than `OR`. The
//! reserved characters `? & | ! { } [ ] ( ) ^ ~ * : \ " ' + -` must be escaped with a backslash
//! when meant literally (`\+1 \(415\) 555\-0100`); an unescaped one is a [`QueryError`], as is
//! anything outside this subset (the server answers `400 MALFORMED_QUERY`).
//! As documented for SOSL, a search query longer than 4,000 characters has its operators dropped
//! (all terms OR-ed) and one longer than 10,000 characters finds nothing.
//!
//! Matching (see [`TermExpr::matches`]): phone fields compare digits under the [`PhoneMatch`]
//! mode; names, emails and other text compare tokens (split at spaces and punctuation,
//! case-insensitive, Unicode-aware) by prefix. Japanese, Chinese and Korean text, usually written
//! without spaces, also matches as a substring, including across first and last name in either
//! order, so `山田太郎` finds FirstName `太郎`, LastName `山田`.

use crate::phone::{digits, stored_matches, stored_starts_with, PhoneMatch};
use crate::soql::{error_at, Condition, OrderBy, Parser, QueryError, Tok};

/// Which fields a search looks in (`IN … FIELDS`, or `in` of `parameterizedSearch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchGroup {
    /// `ALL FIELDS` (the default): every searchable field.
    All,
    /// `NAME FIELDS`: Name, FirstName, LastName, Company and the like.
    Name,
    /// `EMAIL FIELDS`
    Email,
    /// `PHONE FIELDS`: the phone-typed fields.
    Phone,
    /// `SIDEBAR FIELDS`: names, phones and emails (the Classic sidebar search).
    Sidebar,
}

/// One search term.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    /// The term with escapes removed (`\-` → `-`), without quotes or wildcard.
    pub text: String,
    /// Written as a `"quoted phrase"`: its words must appear together and whole.
    pub phrase: bool,
    /// Written with a trailing `*`.
    pub wildcard: bool,
    /// Its digits when it can match a phone field (no letters), worked out once for the whole
    /// search rather than once per record.
    phone_digits: Option<String>,
}

/// A search-term expression.
#[derive(Clone, Debug, PartialEq)]
pub enum TermExpr {
    /// A single term.
    Term(Term),
    /// Both hold (explicit `AND`, or two terms side by side).
    And(Box<TermExpr>, Box<TermExpr>),
    /// Either holds.
    Or(Box<TermExpr>, Box<TermExpr>),
    /// The first holds and the second does not (`AND NOT`).
    AndNot(Box<TermExpr>, Box<TermExpr>),
}

/// The searchable values of one record, sorted by kind; the server builds it from its schema.
#[derive(Clone, Debug, Default)]
pub struct SearchableFields<'a> {
    /// Values of phone-typed fields, as stored.
    pub phones: Vec<&'a str>,
    /// Values of name fields (Name, FirstName, LastName, Company …).
    pub names: Vec<&'a str>,
    /// Values of email fields.
    pub emails: Vec<&'a str>,
    /// Other searchable text (Title, Subject …), searched only with [`SearchGroup::All`].
    pub other_text: Vec<&'a str>,
}

/// One `RETURNING` object with its options.
#[derive(Clone, Debug, PartialEq)]
pub struct Returning {
    /// The object name as written.
    pub sobject: String,
    /// Fields as written, in order; empty when no list was given (Salesforce returns the Id).
    pub fields: Vec<String>,
    /// The object's `WHERE` condition.
    pub filter: Option<Condition>,
    /// The object's `ORDER BY` keys.
    pub order_by: Vec<OrderBy>,
    /// The object's `LIMIT`.
    pub limit: Option<usize>,
}

/// A parsed SOSL `FIND`.
#[derive(Clone, Debug, PartialEq)]
pub struct SoslQuery {
    /// What to look for.
    pub terms: TermExpr,
    /// Where to look (`IN … FIELDS`; [`SearchGroup::All`] when absent).
    pub group: SearchGroup,
    /// The objects to return, in order; empty when there is no `RETURNING` clause.
    pub returning: Vec<Returning>,
    /// The overall `LIMIT`.
    pub limit: Option<usize>,
}

/// Parses a SOSL `FIND {…}` statement of the supported subset.
pub fn parse_sosl(input: &str) -> Result<SoslQuery, QueryError> {
    let find_at = input.len() - input.trim_start().len();
    let rest = &input[find_at..];
    let has_find = rest
        .get(..4)
        .is_some_and(|k| k.eq_ignore_ascii_case("FIND"))
        && !rest[4..].starts_with(|c: char| c.is_alphanumeric() || c == '_');
    if !has_find {
        return Err(error_at(input, find_at, "SOSL must start with FIND"));
    }
    let after_find = find_at + 4;
    let open = after_find + (input[after_find..].len() - input[after_find..].trim_start().len());
    match input[open..].chars().next() {
        Some('{') => {}
        Some('\'') => return Err(error_at(
            input,
            open,
            "the REST API takes the search term in braces: FIND {term} (quotes are Apex syntax)",
        )),
        _ => return Err(error_at(input, open, "expected { after FIND")),
    }
    let close = closing_brace(input, open + 1)
        .ok_or_else(|| error_at(input, open, "missing closing } after the search term"))?;
    let terms = parse_terms_in(input, open + 1, close)?;

    let mut p = Parser::new(input, close + 1)?;
    let group = if p.eat_keyword("IN") {
        let at = p.error("");
        let name = p.ident("a search group")?;
        let group = parse_group(&name)
            .map_err(|e| QueryError::new(format!("{}{}", at.message, e.message)))?;
        p.expect_keyword("FIELDS")?;
        group
    } else {
        SearchGroup::All
    };
    let mut returning = Vec::new();
    if p.eat_keyword("RETURNING") {
        loop {
            returning.push(returning_item(&mut p)?);
            if !p.eat(&Tok::Comma) {
                break;
            }
        }
    }
    for kw in ["WITH", "UPDATE", "OFFSET"] {
        if p.is_keyword(kw) {
            return Err(p.error(&format!("{kw} is not supported by the emulator")));
        }
    }
    let limit = if p.eat_keyword("LIMIT") {
        Some(p.count()?)
    } else {
        None
    };
    for kw in ["WITH", "UPDATE"] {
        if p.is_keyword(kw) {
            return Err(p.error(&format!("{kw} is not supported by the emulator")));
        }
    }
    p.expect_end()?;
    Ok(SoslQuery {
        terms,
        group,
        returning,
        limit,
    })
}

/// `Object[(fields [WHERE …] [ORDER BY …] [LIMIT n])]`
fn returning_item(p: &mut Parser<'_>) -> Result<Returning, QueryError> {
    let sobject = p.ident("an object name")?;
    let mut item = Returning {
        sobject,
        fields: Vec::new(),
        filter: None,
        order_by: Vec::new(),
        limit: None,
    };
    if !p.eat(&Tok::LParen) {
        return Ok(item);
    }
    item.fields = p.field_list()?;
    if p.eat_keyword("WHERE") {
        item.filter = Some(p.condition()?);
    }
    item.order_by = p.order_by_clause()?;
    if p.eat_keyword("LIMIT") {
        item.limit = Some(p.count()?);
    }
    for kw in ["OFFSET", "USING", "WITH"] {
        if p.is_keyword(kw) {
            return Err(p.error(&format!(
                "{kw} inside RETURNING is not supported by the emulator"
            )));
        }
    }
    p.expect(&Tok::RParen)?;
    Ok(item)
}

/// The byte offset of the first unescaped `}` at or after `from`.
fn closing_brace(input: &str, from: usize) -> Option<usize> {
    let mut chars = input[from..].char_indices();
    while let Some((k, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '}' => return Some(from + k),
            _ => {}
        }
    }
    None
}

/// Parses a search-term expression (the `q` of `parameterizedSearch`, or the inside of SOSL's
/// braces).
pub fn parse_terms(q: &str) -> Result<TermExpr, QueryError> {
    parse_terms_in(q, 0, q.len())
}

/// Parses a search group name: `ALL`, `NAME`, `EMAIL`, `PHONE` or `SIDEBAR`, any case.
pub fn parse_group(s: &str) -> Result<SearchGroup, QueryError> {
    let group = match s.trim().to_ascii_uppercase().as_str() {
        "ALL" => SearchGroup::All,
        "NAME" => SearchGroup::Name,
        "EMAIL" => SearchGroup::Email,
        "PHONE" => SearchGroup::Phone,
        "SIDEBAR" => SearchGroup::Sidebar,
        _ => {
            return Err(QueryError::new(format!(
                "invalid search group '{s}': expected ALL, NAME, EMAIL, PHONE or SIDEBAR"
            )))
        }
    };
    Ok(group)
}

/// A token of a search-term expression, with its byte offset.
#[derive(Clone, Debug, PartialEq)]
enum TermTok {
    Term(Term),
    And,
    Or,
    Not,
    Open,
    Close,
}

/// Characters that must be escaped to be taken literally in a search term.
const RESERVED: &str = "?&|!{}[]()^~*:\\\"'+-";

fn lex_terms(input: &str, start: usize, end: usize) -> Result<Vec<(TermTok, usize)>, QueryError> {
    let mut out = Vec::new();
    let text = &input[start..end];
    let mut chars = text.char_indices().peekable();
    // The word being read: its text, its start offset, whether any character was escaped.
    let mut word: Option<(String, usize, bool)> = None;

    fn finish(
        out: &mut Vec<(TermTok, usize)>,
        word: &mut Option<(String, usize, bool)>,
        wildcard: bool,
    ) {
        if let Some((w, at, escaped)) = word.take() {
            let tok = match w.to_ascii_uppercase().as_str() {
                "AND" if !escaped && !wildcard => TermTok::And,
                "OR" if !escaped && !wildcard => TermTok::Or,
                "NOT" if !escaped && !wildcard => TermTok::Not,
                _ => TermTok::Term(Term::new(w, false, wildcard)),
            };
            out.push((tok, at));
        }
    }

    while let Some((k, c)) = chars.next() {
        let at = start + k;
        match c {
            _ if c.is_whitespace() => finish(&mut out, &mut word, false),
            '\\' => {
                let Some((_, e)) = chars.next() else {
                    return Err(error_at(input, at, "a search term cannot end with \\"));
                };
                let w = word.get_or_insert_with(|| (String::new(), at, true));
                w.0.push(e);
                w.2 = true;
            }
            '(' => {
                finish(&mut out, &mut word, false);
                out.push((TermTok::Open, at));
            }
            ')' => {
                finish(&mut out, &mut word, false);
                out.push((TermTok::Close, at));
            }
            '"' => {
                finish(&mut out, &mut word, false);
                let mut phrase = String::new();
                let mut closed = false;
                while let Some((_, pc)) = chars.next() {
                    match pc {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, e)) => phrase.push(e),
                            None => break,
                        },
                        _ => phrase.push(pc),
                    }
                }
                if !closed {
                    return Err(error_at(input, at, "missing closing \" in the search term"));
                }
                if phrase.trim().is_empty() {
                    return Err(error_at(input, at, "a quoted phrase cannot be empty"));
                }
                out.push((TermTok::Term(Term::new(phrase, true, false)), at));
            }
            '*' => {
                let at_end = chars
                    .peek()
                    .is_none_or(|&(_, n)| n.is_whitespace() || n == ')');
                if word.is_none() {
                    return Err(error_at(
                        input,
                        at,
                        "a wildcard * needs characters before it",
                    ));
                }
                if !at_end {
                    return Err(error_at(
                        input,
                        at,
                        "the emulator supports the * wildcard only at the end of a term",
                    ));
                }
                finish(&mut out, &mut word, true);
            }
            '?' => {
                return Err(error_at(
                    input,
                    at,
                    "the ? wildcard is not supported by the emulator",
                ))
            }
            _ if RESERVED.contains(c) => {
                return Err(error_at(
                    input,
                    at,
                    &format!("reserved character '{c}' in the search term must be escaped with \\"),
                ))
            }
            _ => word
                .get_or_insert_with(|| (String::new(), at, false))
                .0
                .push(c),
        }
    }
    finish(&mut out, &mut word, false);
    Ok(out)
}

fn parse_terms_in(input: &str, start: usize, end: usize) -> Result<TermExpr, QueryError> {
    let tokens = lex_terms(input, start, end)?;
    if tokens.is_empty() {
        return Err(error_at(input, start, "the search term cannot be empty"));
    }
    let mut p = TermParser {
        input,
        tokens,
        pos: 0,
        end,
    };
    let expr = p.or_expr()?;
    if p.pos < p.tokens.len() {
        return Err(p.unexpected());
    }
    let length = input[start..end].chars().count();
    if length > MAX_SEARCH_QUERY_CHARS {
        // Salesforce returns no rows for such a query: a term that matches nothing.
        return Ok(TermExpr::Term(Term::new(String::new(), false, false)));
    }
    if length > MAX_OPERATOR_QUERY_CHARS {
        return Ok(only_or(expr));
    }
    Ok(expr)
}

/// Longest search query that returns rows (Salesforce's SOSL limit, in characters).
pub const MAX_SEARCH_QUERY_CHARS: usize = 10_000;

/// Longest search query whose `AND` / `AND NOT` are honoured; beyond it Salesforce drops the
/// logical operators and the terms are OR-ed.
pub const MAX_OPERATOR_QUERY_CHARS: usize = 4_000;

/// `expr` with every operator replaced by `OR`.
fn only_or(expr: TermExpr) -> TermExpr {
    match expr {
        TermExpr::Term(t) => TermExpr::Term(t),
        TermExpr::And(a, b) | TermExpr::Or(a, b) | TermExpr::AndNot(a, b) => {
            TermExpr::Or(Box::new(only_or(*a)), Box::new(only_or(*b)))
        }
    }
}

/// Recursive descent over [`TermTok`]s: `or := and (OR and)*`,
/// `and := primary ((AND [NOT] | AND NOT | nothing) primary)*`, `primary := term | ( or )`.
struct TermParser<'a> {
    input: &'a str,
    tokens: Vec<(TermTok, usize)>,
    pos: usize,
    end: usize,
}

impl TermParser<'_> {
    fn peek(&self) -> Option<&TermTok> {
        self.tokens.get(self.pos).map(|(t, _)| t)
    }

    fn unexpected(&self) -> QueryError {
        match self.tokens.get(self.pos) {
            Some((tok, at)) => {
                let shown = match tok {
                    TermTok::Term(t) => t.text.clone(),
                    TermTok::And => "AND".into(),
                    TermTok::Or => "OR".into(),
                    TermTok::Not => "NOT".into(),
                    TermTok::Open => "(".into(),
                    TermTok::Close => ")".into(),
                };
                error_at(
                    self.input,
                    *at,
                    &format!("unexpected token in search term: {shown}"),
                )
            }
            None => error_at(self.input, self.end, "unexpected end of the search term"),
        }
    }

    fn or_expr(&mut self) -> Result<TermExpr, QueryError> {
        let mut expr = self.and_expr()?;
        while self.peek() == Some(&TermTok::Or) {
            self.pos += 1;
            let rhs = self.and_expr()?;
            expr = TermExpr::Or(Box::new(expr), Box::new(rhs));
        }
        Ok(expr)
    }

    fn and_expr(&mut self) -> Result<TermExpr, QueryError> {
        let mut expr = self.primary()?;
        loop {
            match self.peek() {
                Some(TermTok::And) => {
                    self.pos += 1;
                    if self.peek() == Some(&TermTok::Not) {
                        self.pos += 1;
                        let rhs = self.primary()?;
                        expr = TermExpr::AndNot(Box::new(expr), Box::new(rhs));
                    } else {
                        let rhs = self.primary()?;
                        expr = TermExpr::And(Box::new(expr), Box::new(rhs));
                    }
                }
                Some(TermTok::Term(_)) | Some(TermTok::Open) => {
                    let rhs = self.primary()?;
                    expr = TermExpr::And(Box::new(expr), Box::new(rhs));
                }
                _ => return Ok(expr),
            }
        }
    }

    fn primary(&mut self) -> Result<TermExpr, QueryError> {
        match self.peek().cloned() {
            Some(TermTok::Term(t)) => {
                self.pos += 1;
                Ok(TermExpr::Term(t))
            }
            Some(TermTok::Open) => {
                self.pos += 1;
                let inner = self.or_expr()?;
                if self.peek() != Some(&TermTok::Close) {
                    return Err(self.unexpected());
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(TermTok::Not) => Err(self.error_here("NOT is only valid as AND NOT")),
            _ => Err(self.unexpected()),
        }
    }

    fn error_here(&self, what: &str) -> QueryError {
        let at = self.tokens.get(self.pos).map_or(self.end, |(_, at)| *at);
        error_at(self.input, at, what)
    }
}

impl TermExpr {
    /// Whether a record with these searchable values satisfies the expression in `group`, phone
    /// fields compared under `mode`.
    pub fn matches(
        &self,
        group: SearchGroup,
        fields: &SearchableFields<'_>,
        mode: PhoneMatch,
    ) -> bool {
        match self {
            TermExpr::Term(term) => term.matches(group, fields, mode),
            TermExpr::And(a, b) => a.matches(group, fields, mode) && b.matches(group, fields, mode),
            TermExpr::Or(a, b) => a.matches(group, fields, mode) || b.matches(group, fields, mode),
            TermExpr::AndNot(a, b) => {
                a.matches(group, fields, mode) && !b.matches(group, fields, mode)
            }
        }
    }

    /// Every term in the expression, left to right.
    pub fn terms(&self) -> Vec<&Term> {
        let mut out = Vec::new();
        self.collect_terms(&mut out);
        out
    }

    fn collect_terms<'a>(&'a self, out: &mut Vec<&'a Term>) {
        match self {
            TermExpr::Term(t) => out.push(t),
            TermExpr::And(a, b) | TermExpr::Or(a, b) | TermExpr::AndNot(a, b) => {
                a.collect_terms(out);
                b.collect_terms(out);
            }
        }
    }
}

impl Term {
    /// A term as written: its text (escapes removed), whether quoted, whether wildcarded.
    pub fn new(text: String, phrase: bool, wildcard: bool) -> Self {
        let phone_digits = (!text.chars().any(char::is_alphabetic)).then(|| digits(&text));
        Term {
            text,
            phrase,
            wildcard,
            phone_digits,
        }
    }

    /// Whether this single term matches one of the record's fields in `group`.
    pub fn matches(
        &self,
        group: SearchGroup,
        fields: &SearchableFields<'_>,
        mode: PhoneMatch,
    ) -> bool {
        use SearchGroup::{All, Email, Name, Phone, Sidebar};
        let in_phones = matches!(group, All | Phone | Sidebar);
        let in_names = matches!(group, All | Name | Sidebar);
        let in_emails = matches!(group, All | Email | Sidebar);
        let in_other = group == All;
        if in_phones && self.matches_phones(&fields.phones, mode) {
            return true;
        }
        if !(in_names || in_emails || in_other) {
            return false;
        }
        let term = tokens(&self.text);
        if term.is_empty() {
            return false;
        }
        let cjk = self.text.chars().any(is_cjk);
        let compact = if cjk { term.concat() } else { String::new() };
        // Every value that contains the CJK term contains its first CJK character (which has no
        // case): a cheap test before building the compact form.
        let anchor = self.text.chars().find(|c| is_cjk(*c));
        let cjk_hit = |value: &str| {
            anchor.is_some_and(|a| value.contains(a)) && compact_of(value).contains(&compact)
        };
        let text_hit = |value: &str| self.token_hit(&term, value) || cjk_hit(value);
        (in_names
            && (fields.names.iter().any(|n| text_hit(n))
                || self.pair_hit(&term, cjk.then_some(compact.as_str()), &fields.names)))
            || (in_emails && fields.emails.iter().any(|e| text_hit(e)))
            || (in_other && fields.other_text.iter().any(|t| text_hit(t)))
    }

    /// Phone fields: digits compared under `mode`; a wildcard term matches stored digits that
    /// start with its digits. Terms with letters are not phone terms.
    fn matches_phones(&self, phones: &[&str], mode: PhoneMatch) -> bool {
        let Some(term) = &self.phone_digits else {
            return false;
        };
        phones.iter().any(|stored| {
            if self.wildcard {
                stored_starts_with(term, stored)
            } else {
                stored_matches(mode, term, stored)
            }
        })
    }

    /// Text: the term's (lower-case) tokens appear consecutively among the value's tokens, each
    /// a prefix of the value's token (whole tokens for a phrase).
    fn token_hit(&self, term: &[String], value: &str) -> bool {
        let whole = self.phrase;
        let mut field = value
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty());
        if let [only] = term {
            return field.any(|f| lower_prefix(f, only, whole));
        }
        let field: Vec<&str> = field.collect();
        field
            .windows(term.len())
            .any(|w| w.iter().zip(term).all(|(f, t)| lower_prefix(f, t, whole)))
    }

    /// A term spanning two name fields, in either order: first and last name written together
    /// (`山田太郎`, given `太郎` and `山田`), or several words across them (`Moreau Hélène`).
    fn pair_hit(&self, term: &[String], cjk_compact: Option<&str>, names: &[&str]) -> bool {
        if let Some(needle) = cjk_compact {
            // Both ends of the needle must occur somewhere before any pair is worth building.
            let ends = [needle.chars().next(), needle.chars().last()];
            let present = |c: Option<char>| {
                c.is_some_and(|c| {
                    names
                        .iter()
                        .any(|n| n.chars().flat_map(char::to_lowercase).any(|x| x == c))
                })
            };
            if !ends.into_iter().all(present) {
                return false;
            }
            let compacts: Vec<String> = names.iter().map(|n| compact_of(n)).collect();
            return compacts.iter().enumerate().any(|(i, a)| {
                compacts
                    .iter()
                    .enumerate()
                    .any(|(j, b)| i != j && spans(a, b, needle))
            });
        }
        if term.len() < 2 {
            return false;
        }
        names.iter().enumerate().any(|(i, a)| {
            names
                .iter()
                .enumerate()
                .any(|(j, b)| i != j && self.token_hit(term, &format!("{a} {b}")))
        })
    }
}

/// Lower-cased tokens of `s`, split at every character that is not a letter or digit.
fn tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `hay`, lower-cased, starts with `needle` (already lower-case); equals it if `whole`.
fn lower_prefix(hay: &str, needle: &str, whole: bool) -> bool {
    let mut h = hay.chars().flat_map(char::to_lowercase);
    needle.chars().all(|n| h.next() == Some(n)) && (!whole || h.next().is_none())
}

/// `s` lower-cased with everything but letters and digits removed.
fn compact_of(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `needle` is the end of `a` followed by the start of `b` (both parts non-empty).
fn spans(a: &str, b: &str, needle: &str) -> bool {
    needle
        .char_indices()
        .skip(1)
        .any(|(k, _)| a.ends_with(&needle[..k]) && b.starts_with(&needle[k..]))
}

/// Characters of scripts written without spaces between words (Japanese, Chinese, Korean names).
fn is_cjk(c: char) -> bool {
    matches!(u32::from(c),
        0x1100..=0x11FF     // Hangul Jamo
        | 0x3040..=0x309F   // Hiragana
        | 0x30A0..=0x30FF   // Katakana
        | 0x3130..=0x318F   // Hangul compatibility Jamo
        | 0x3400..=0x4DBF   // CJK extension A
        | 0x4E00..=0x9FFF   // CJK unified ideographs
        | 0xAC00..=0xD7AF   // Hangul syllables
        | 0xF900..=0xFAFF   // CJK compatibility ideographs
        | 0xFF66..=0xFF9F   // half-width Katakana
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soql::{CompareOp, Literal};

    fn term(text: &str) -> TermExpr {
        TermExpr::Term(Term::new(text.into(), false, false))
    }

    fn phones<'a>(values: &[&'a str]) -> SearchableFields<'a> {
        SearchableFields {
            phones: values.to_vec(),
            ..SearchableFields::default()
        }
    }

    fn names<'a>(values: &[&'a str]) -> SearchableFields<'a> {
        SearchableFields {
            names: values.to_vec(),
            ..SearchableFields::default()
        }
    }

    fn parsed(q: &str) -> TermExpr {
        parse_terms(q).unwrap_or_else(|e| panic!("{q:?} should parse: {e}"))
    }

    #[test]
    fn parses_the_documented_phone_search() {
        let q = parse_sosl(
            "FIND {4155550100} IN PHONE FIELDS \
             RETURNING Contact(Id, Name, Phone, MobilePhone, AccountId, Account.Name), \
             Lead(Id, Name, Phone, MobilePhone, Company, Status WHERE IsConverted = false), \
             Account(Id, Name, Phone) LIMIT 20",
        )
        .expect("the example of the reference doc is in the subset");
        assert_eq!(q.terms, term("4155550100"), "one plain term");
        assert_eq!(q.group, SearchGroup::Phone, "IN PHONE FIELDS");
        assert_eq!(q.limit, Some(20), "overall LIMIT");
        let objects: Vec<_> = q.returning.iter().map(|r| r.sobject.as_str()).collect();
        assert_eq!(
            objects,
            ["Contact", "Lead", "Account"],
            "RETURNING order kept"
        );
        assert_eq!(
            q.returning[0].fields,
            [
                "Id",
                "Name",
                "Phone",
                "MobilePhone",
                "AccountId",
                "Account.Name"
            ],
            "relationship field kept as written"
        );
        assert_eq!(
            q.returning[1].filter,
            Some(Condition::Compare {
                field: "IsConverted".into(),
                op: CompareOp::Eq,
                value: Literal::Bool(false),
            }),
            "per-object WHERE"
        );
        assert_eq!(q.returning[2].filter, None, "Account has no WHERE");
    }

    #[test]
    fn sosl_defaults_and_per_object_options() {
        let q = parse_sosl("find {Yamada}").expect("minimal SOSL");
        assert_eq!(q.group, SearchGroup::All, "ALL FIELDS is the default");
        assert!(q.returning.is_empty(), "no RETURNING clause");
        let q = parse_sosl(
            "FIND {Yamada} IN NAME FIELDS RETURNING Contact, Lead(Id ORDER BY Name DESC LIMIT 3)",
        )
        .expect("object without field list and per-object ORDER BY/LIMIT");
        assert_eq!(q.returning[0].fields, Vec::<String>::new(), "no field list");
        assert_eq!(q.returning[1].limit, Some(3), "per-object LIMIT");
        assert_eq!(
            q.returning[1].order_by,
            [OrderBy {
                field: "Name".into(),
                descending: true
            }],
            "per-object ORDER BY"
        );
    }

    #[test]
    fn escaped_reserved_characters_are_unescaped() {
        let q = parse_sosl(r"FIND {\+1 \(415\) 555\-0100} IN PHONE FIELDS").expect("escaped phone");
        let texts: Vec<_> = q.terms.terms().iter().map(|t| t.text.clone()).collect();
        assert_eq!(
            texts,
            ["+1", "(415)", "555-0100"],
            "escapes removed, words split at spaces"
        );
        let q = parse_sosl(r"FIND {a\}b} RETURNING Contact").expect("escaped closing brace");
        assert_eq!(q.terms, term("a}b"), "an escaped }} does not end the term");
    }

    #[test]
    fn unescaped_reserved_characters_are_malformed() {
        for q in [
            "555-0100",
            "+14155550100",
            "(415",
            "a:b",
            "it's",
            "a&b",
            "x?",
        ] {
            let err = parse_terms(q).expect_err(q);
            assert!(
                err.message.contains("ERROR at Row:1:Column:"),
                "located error for {q:?}: {err}"
            );
        }
        let err = parse_terms("555-0100").expect_err("unescaped hyphen");
        assert!(
            err.message.contains("'-'"),
            "the error names the character: {err}"
        );
    }

    #[test]
    fn malformed_sosl_gives_errors_not_panics() {
        let cases = [
            "",
            "SELECT Id FROM Contact",
            "FIND 'Yamada'",
            "FIND Yamada",
            "FIND {Yamada",
            "FIND {}",
            "FIND {   }",
            "FIND {Yamada} IN WRONG FIELDS",
            "FIND {Yamada} IN PHONE",
            "FIND {Yamada} RETURNING",
            "FIND {Yamada} RETURNING Contact(",
            "FIND {Yamada} RETURNING Contact(Id",
            "FIND {Yamada} RETURNING Contact(Id OFFSET 5)",
            "FIND {Yamada} RETURNING Contact(Id WHERE)",
            "FIND {Yamada} LIMIT x",
            "FIND {Yamada} WITH SNIPPET",
            "FIND {Yamada} garbage",
            "FIND {Yamada OR}",
            "FIND {OR Yamada}",
            "FIND {(Yamada}",
            "FIND {Yamada)}",
            "FIND {NOT Yamada}",
            "FIND {\"unterminated}",
            "FIND {Ya*mada}",
            "FIND {*}",
            "FIND {Yamada\\",
        ];
        for q in cases {
            let err = parse_sosl(q).expect_err(q);
            assert!(
                !err.message.is_empty(),
                "every error says something ({q:?})"
            );
        }
    }

    #[test]
    fn term_operators_and_precedence() {
        let e = parsed("0312345678 OR 312345678 OR 81312345678");
        assert_eq!(e.terms().len(), 3, "three alternatives");
        assert!(matches!(e, TermExpr::Or(_, _)), "OR at the top: {e:?}");
        let e = parsed("a OR b AND c");
        assert_eq!(
            e,
            TermExpr::Or(
                Box::new(term("a")),
                Box::new(TermExpr::And(Box::new(term("b")), Box::new(term("c"))))
            ),
            "AND binds tighter than OR"
        );
        let e = parsed("taro yamada");
        assert_eq!(
            e,
            TermExpr::And(Box::new(term("taro")), Box::new(term("yamada"))),
            "words side by side are AND-ed"
        );
        let e = parsed("(a OR b) AND NOT c");
        assert!(matches!(e, TermExpr::AndNot(_, _)), "AND NOT: {e:?}");
        let e = parsed("\"Acme Corp\" OR acme*");
        let terms = e.terms();
        assert!(terms[0].phrase && !terms[0].wildcard, "first is a phrase");
        assert!(
            terms[1].wildcard && terms[1].text == "acme",
            "second is a wildcard without *"
        );
        assert_eq!(parsed("\\OR"), term("OR"), "an escaped OR is a plain word");
        assert!(parse_terms("OR").is_err(), "a bare operator is not a term");
    }

    #[test]
    fn exact_phone_matching_in_phone_group() {
        let rec = phones(&["(415) 555-0100", ""]);
        let m = |q: &str| parsed(q).matches(SearchGroup::Phone, &rec, PhoneMatch::Exact);
        assert!(m("4155550100"), "same digits");
        assert!(!m("14155550100"), "leading 1 differs in exact mode");
        assert!(m("14155550100 OR 4155550100"), "one alternative suffices");
        assert!(m("415555*"), "wildcard is a digit prefix");
        assert!(!m("Tanaka"), "no digits, no phone match");
    }

    #[test]
    fn suffix_phone_matching_finds_international_forms() {
        let rec = phones(&["+81 3-1234-5678"]);
        let exact =
            parsed("0312345678 OR 312345678").matches(SearchGroup::Phone, &rec, PhoneMatch::Exact);
        let suffix =
            parsed("0312345678 OR 312345678").matches(SearchGroup::Phone, &rec, PhoneMatch::Suffix);
        assert!(!exact, "exact mode: neither form equals 81312345678");
        assert!(suffix, "suffix mode: 312345678 ends the stored digits");
    }

    #[test]
    fn groups_limit_where_terms_look() {
        let rec = SearchableFields {
            phones: vec!["03-1234-5678"],
            names: vec!["山田 太郎"],
            emails: vec!["taro.yamada@example.co.jp"],
            other_text: vec!["営業部長"],
        };
        let m = |q: &str, g| parsed(q).matches(g, &rec, PhoneMatch::Exact);
        assert!(m("0312345678", SearchGroup::Phone), "phone in PHONE");
        assert!(!m("0312345678", SearchGroup::Name), "a phone is not a name");
        assert!(m("0312345678", SearchGroup::All), "ALL includes phones");
        assert!(
            m("taro.yamada@example.co.jp", SearchGroup::Email),
            "whole email address"
        );
        assert!(
            !m("taro.yamada@example.co.jp", SearchGroup::Phone),
            "email not in PHONE"
        );
        assert!(m("営業", SearchGroup::All), "other text in ALL");
        assert!(
            !m("営業", SearchGroup::Sidebar),
            "other text not in SIDEBAR"
        );
        assert!(m("山田", SearchGroup::Name), "last name token");
    }

    #[test]
    fn name_matching_prefix_case_and_unicode() {
        let rec = names(&["Hélène Moreau", "Hélène", "Moreau"]);
        let m = |q: &str| parsed(q).matches(SearchGroup::Name, &rec, PhoneMatch::Exact);
        assert!(m("hélène"), "case-insensitive with accents");
        assert!(m("HÉLÈNE MOREAU"), "upper-case accented letters fold");
        assert!(m("Mor"), "token prefix");
        assert!(!m("oreau"), "not an infix of a Latin token");
        assert!(m("\"Hélène Moreau\""), "phrase of whole tokens");
        assert!(!m("\"Hélène Mor\""), "a phrase needs whole tokens");
        assert!(m("Moreau AND NOT Dupont"), "AND NOT excludes only a match");
        assert!(
            !m("Moreau AND NOT Hélène"),
            "AND NOT with a matching second term"
        );
    }

    #[test]
    fn japanese_and_korean_names_without_spaces() {
        let jp = names(&["太郎 山田", "太郎", "山田"]);
        let m = |q: &str, rec: &SearchableFields<'_>| {
            parsed(q).matches(SearchGroup::Name, rec, PhoneMatch::Exact)
        };
        assert!(m("山田太郎", &jp), "family name then given name, no space");
        assert!(m("太郎山田", &jp), "given name then family name, no space");
        assert!(m("山田", &jp), "family name alone");
        assert!(!m("山田花子", &jp), "a different given name");
        let kr = names(&["민준 김", "민준", "김"]);
        assert!(m("김민준", &kr), "Korean full name without space");
        let kana = names(&["ヤマダ タロウ"]);
        assert!(m("ヤマダタロウ", &kana), "katakana reading without space");
    }

    #[test]
    fn a_phrase_may_span_last_and_first_name() {
        let rec = names(&["Hélène Moreau", "Hélène", "Moreau"]);
        let hit = parsed("\"Moreau Hélène\"").matches(SearchGroup::Name, &rec, PhoneMatch::Exact);
        assert!(
            hit,
            "last name then first name, as a phrase, via the LastName+FirstName pair"
        );
    }

    /// The searchable values of a seed record as the server builds them (`Name` computed).
    fn seed_fields(r: &crate::seed::SeedRecord) -> (String, Vec<String>, Vec<String>) {
        let get = |f: &str| {
            r.fields
                .get(f)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        let mut names: Vec<String> = ["FirstName", "LastName", "Company"]
            .into_iter()
            .filter_map(get)
            .collect();
        let full = match r.sobject {
            "Account" => get("Name").unwrap_or_default(),
            _ => format!(
                "{} {}",
                get("FirstName").unwrap_or_default(),
                get("LastName").unwrap_or_default()
            ),
        };
        names.push(full.clone());
        let phones = [
            "Phone",
            "MobilePhone",
            "HomePhone",
            "OtherPhone",
            "AssistantPhone",
            "Fax",
        ]
        .into_iter()
        .filter_map(get)
        .collect();
        (full, names, phones)
    }

    #[test]
    fn every_known_caller_is_found_by_name_and_by_phone() {
        let data = crate::seed::dataset();
        let found = |expr: &TermExpr, group, mode, caller: &crate::seed::KnownCaller| {
            data.iter().any(|r| {
                let (full, names, phones) = seed_fields(r);
                let fields = SearchableFields {
                    phones: phones.iter().map(String::as_str).collect(),
                    names: names.iter().map(String::as_str).collect(),
                    ..SearchableFields::default()
                };
                r.sobject == caller.sobject
                    && full == caller.name
                    && expr.matches(group, &fields, mode)
            })
        };
        for k in crate::seed::known_callers() {
            // The name as a CJK user types it (family name first, no space) or as written.
            let typed = if k.name.chars().any(is_cjk) {
                k.name.rsplit(' ').collect::<String>()
            } else {
                k.name.to_string()
            };
            let by_name = parsed(&typed);
            assert!(
                found(&by_name, SearchGroup::Name, PhoneMatch::Exact, &k),
                "{typed} finds {}",
                k.name
            );

            // The alternatives a client sends: full E.164 digits, national number with and
            // without the trunk 0.
            let e164 = digits(k.e164);
            let cc_len = match k.region {
                "US" => 1,
                _ => 2,
            };
            let nsn = &e164[cc_len..];
            let alternatives = parsed(&format!("{e164} OR {nsn} OR 0{nsn}"));
            assert!(
                found(&alternatives, SearchGroup::Phone, PhoneMatch::Suffix, &k),
                "suffix mode finds {} stored as {}",
                k.name,
                k.stored_as
            );
            let exact = found(&alternatives, SearchGroup::Phone, PhoneMatch::Exact, &k);
            // Only a number typed with the "(0)" trunk in an international form has digits equal
            // to none of the alternatives.
            assert_eq!(
                exact,
                !k.stored_as.contains("(0)"),
                "exact mode and {}",
                k.stored_as
            );
        }
    }

    #[test]
    fn truncated_queries_never_panic() {
        let sosl = "FIND {\\+81 \\(3\\) OR \"山田 太郎\" OR Yam* AND NOT x} IN PHONE FIELDS \
                    RETURNING Contact(Id, Account.Name WHERE (A = 'O\\'B' OR B != null) \
                    ORDER BY Name DESC LIMIT 5), Lead LIMIT 20";
        let soql = "SELECT Id, Name FROM Task WHERE (D >= 2026-03-01T10:15:00.000+00:00 AND \
                    N IN ('a', 'é', -1.5)) ORDER BY Name LIMIT 10 OFFSET 2";
        assert!(parse_sosl(sosl).is_ok(), "the full SOSL parses");
        assert!(
            crate::soql::parse_soql(soql).is_ok(),
            "the full SOQL parses"
        );
        for (i, _) in sosl.char_indices() {
            let _ = parse_sosl(&sosl[..i]);
            let _ = parse_terms(&sosl[..i]);
        }
        for (i, _) in soql.char_indices() {
            let _ = crate::soql::parse_soql(&soql[..i]);
        }
    }

    #[test]
    fn very_long_queries_follow_the_documented_limits() {
        let rec = names(&["Hélène Moreau"]);
        let filler = "x".repeat(4_000);
        let long = format!("Moreau AND {filler}");
        let e = parsed(&long);
        assert!(
            matches!(e, TermExpr::Or(_, _)),
            "past 4,000 characters AND becomes OR"
        );
        assert!(
            e.matches(SearchGroup::Name, &rec, PhoneMatch::Exact),
            "OR-ed, the first term alone finds the record"
        );
        assert!(
            !parsed("Moreau AND zzz").matches(SearchGroup::Name, &rec, PhoneMatch::Exact),
            "a short query keeps AND"
        );
        let huge = format!("Moreau OR {}", "y".repeat(10_000));
        assert!(
            !parsed(&huge).matches(SearchGroup::Name, &rec, PhoneMatch::Exact),
            "past 10,000 characters no rows are returned"
        );
    }

    #[test]
    fn parse_group_accepts_any_case() {
        assert_eq!(parse_group("phone"), Ok(SearchGroup::Phone), "lower case");
        assert_eq!(
            parse_group("SIDEBAR"),
            Ok(SearchGroup::Sidebar),
            "upper case"
        );
        assert!(parse_group("PHONES").is_err(), "unknown group rejected");
    }
}
