//! The SOQL subset the emulator answers at `GET …/query/?q=`, and the `WHERE` conditions that SOSL
//! `RETURNING` clauses share with it.
//!
//! Grammar (keywords case-insensitive):
//!
//! ```text
//! SELECT field [, field]* FROM object
//!   [WHERE condition] [ORDER BY field [ASC|DESC] [, …]] [LIMIT n] [OFFSET n]
//! condition := NOT operand | operand (AND operand)* | operand (OR operand)*
//! operand   := '(' condition ')' | field op literal | field [NOT] IN '(' literal [, literal]* ')'
//! op        := = | != | <> | < | <= | > | >= | LIKE
//! literal   := 'string' | number | TRUE | FALSE | NULL | YYYY-MM-DD[Thh:mm:ss[.sss](Z|±hh:mm)]
//! ```
//!
//! As in Salesforce, `AND` and `OR` cannot be mixed without parentheses, and string literals escape
//! `'` as `\'` and `\` as `\\` (also `\"`, `\n`, `\r`, `\t`, `\b`, `\f`, their upper-case forms and
//! `\uXXXX`; `\%` and `\_` stay escaped
//! so that `LIKE` reads them as literal characters). Anything outside the subset is a
//! [`QueryError`] that names what is not supported; the server answers it with
//! `400 MALFORMED_QUERY`. Field names are not checked here (the server knows the schemas).
//!
//! Evaluation follows Salesforce: field names and string comparisons are case-insensitive, a
//! missing field is null, `= null` tests for null, `LIKE` uses `%` and `_`, and a 15-character Id
//! equals the 18-character form of the same Id.

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Map, Value};

/// A query the emulator cannot parse; the server maps it to `400 MALFORMED_QUERY`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryError {
    /// What is wrong, in Salesforce's style (`ERROR at Row:1:Column:20\nunexpected token: OR`).
    pub message: String,
}

impl QueryError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for QueryError {}

/// A literal value on the right of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// A quoted string, unescaped (except `\%` and `\_`, kept for `LIKE`).
    String(String),
    /// A number.
    Number(f64),
    /// `TRUE` or `FALSE`.
    Bool(bool),
    /// `NULL`.
    Null,
    /// An unquoted date (`2026-03-01`) or datetime (`2026-03-01T10:15:00Z`), as written.
    Date(String),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `LIKE` (case-insensitive, `%` any run, `_` one character)
    Like,
}

/// A `WHERE` condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// `field op value`
    Compare {
        /// The field name as written (may be a relationship path such as `Account.Name`).
        field: String,
        /// The operator.
        op: CompareOp,
        /// The right-hand value.
        value: Literal,
    },
    /// `field IN (…)` or `field NOT IN (…)`
    In {
        /// The field name as written.
        field: String,
        /// The listed values.
        values: Vec<Literal>,
        /// `NOT IN`
        negated: bool,
    },
    /// Both hold.
    And(Box<Condition>, Box<Condition>),
    /// Either holds.
    Or(Box<Condition>, Box<Condition>),
    /// The inner condition does not hold.
    Not(Box<Condition>),
}

/// One `ORDER BY` key.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderBy {
    /// The field name as written.
    pub field: String,
    /// `DESC` (nulls last); otherwise ascending (nulls first), Salesforce's defaults.
    pub descending: bool,
}

/// A parsed `SELECT`.
#[derive(Clone, Debug, PartialEq)]
pub struct SoqlQuery {
    /// Selected fields, as written, in order.
    pub fields: Vec<String>,
    /// The object queried, as written.
    pub from: String,
    /// The `WHERE` condition.
    pub filter: Option<Condition>,
    /// `ORDER BY` keys, most significant first.
    pub order_by: Vec<OrderBy>,
    /// `LIMIT n`
    pub limit: Option<usize>,
    /// `OFFSET n`
    pub offset: Option<usize>,
}

/// Parses a SOQL query of the supported subset.
pub fn parse_soql(input: &str) -> Result<SoqlQuery, QueryError> {
    let mut p = Parser::new(input, 0)?;
    p.expect_keyword("SELECT")?;
    let fields = p.field_list()?;
    p.expect_keyword("FROM")?;
    let from = p.ident("an object name")?;
    let filter = if p.eat_keyword("WHERE") {
        Some(p.condition()?)
    } else {
        None
    };
    let order_by = p.order_by_clause()?;
    let limit = if p.eat_keyword("LIMIT") {
        Some(p.count()?)
    } else {
        None
    };
    let offset = if p.eat_keyword("OFFSET") {
        Some(p.count()?)
    } else {
        None
    };
    p.expect_end()?;
    Ok(SoqlQuery {
        fields,
        from,
        filter,
        order_by,
        limit,
        offset,
    })
}

/// Escapes `s` for use inside a single-quoted SOQL string literal: `\` becomes `\\` and `'`
/// becomes `\'`.
pub fn escape_string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if c == '\\' || c == '\'' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Condition {
    /// Whether `record` satisfies the condition. Field names are looked up case-insensitively;
    /// a dotted name (`Account.Name`) walks nested objects; a missing field is null.
    pub fn eval(&self, record: &Map<String, Value>) -> bool {
        match self {
            Condition::Compare { field, op, value } => {
                compare(field_value(record, field), *op, value)
            }
            Condition::In {
                field,
                values,
                negated,
            } => {
                let v = field_value(record, field);
                let found = values.iter().any(|lit| compare(v, CompareOp::Eq, lit));
                found != *negated
            }
            Condition::And(a, b) => a.eval(record) && b.eval(record),
            Condition::Or(a, b) => a.eval(record) || b.eval(record),
            Condition::Not(inner) => !inner.eval(record),
        }
    }

    /// Every field name the condition mentions, as written, in order of appearance (repeats
    /// included), so the server can reject unknown fields with `INVALID_FIELD`.
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Condition::Compare { field, .. } | Condition::In { field, .. } => out.push(field),
            Condition::And(a, b) | Condition::Or(a, b) => {
                a.collect_fields(out);
                b.collect_fields(out);
            }
            Condition::Not(inner) => inner.collect_fields(out),
        }
    }
}

/// Sorts records by `order_by` with Salesforce's defaults: ascending puts nulls first,
/// descending puts them last; strings compare case-insensitively. The sort is stable.
pub fn sort_records(records: &mut [Map<String, Value>], order_by: &[OrderBy]) {
    if order_by.is_empty() {
        return;
    }
    records.sort_by(|a, b| {
        for key in order_by {
            let ord = order_values(field_value(a, &key.field), field_value(b, &key.field));
            let ord = if key.descending { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
}

/// The value of `field` in `record` (case-insensitive names, dotted paths into nested objects).
pub fn field_value<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    let mut current = record;
    let mut parts = field.split('.').peekable();
    while let Some(part) = parts.next() {
        let value = current.get(part).or_else(|| {
            current
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(part))
                .map(|(_, v)| v)
        })?;
        if parts.peek().is_none() {
            return Some(value);
        }
        current = value.as_object()?;
    }
    None
}

fn is_null(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}

/// Total order used by `ORDER BY`: null < bool < number < string, each compared naturally.
fn order_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    fn rank(v: Option<&Value>) -> u8 {
        match v {
            None | Some(Value::Null) => 0,
            Some(Value::Bool(_)) => 1,
            Some(Value::Number(_)) => 2,
            Some(Value::String(_)) => 3,
            Some(_) => 4,
        }
    }
    match (a, b) {
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.partial_cmp(&y).unwrap_or(Ordering::Equal)
        }
        (Some(Value::String(x)), Some(Value::String(y))) => x.to_lowercase().cmp(&y.to_lowercase()),
        _ => rank(a).cmp(&rank(b)),
    }
}

fn compare(value: Option<&Value>, op: CompareOp, lit: &Literal) -> bool {
    if let Literal::Null = lit {
        return match op {
            CompareOp::Eq => is_null(value),
            CompareOp::Ne => !is_null(value),
            _ => false,
        };
    }
    let Some(value) = value.filter(|v| !v.is_null()) else {
        // A null field is unequal to every non-null literal and not ordered against it.
        return op == CompareOp::Ne;
    };
    if op == CompareOp::Like {
        return match (value, lit) {
            (Value::String(s), Literal::String(pattern)) => like(s, pattern),
            _ => false,
        };
    }
    let ord = match (value, lit) {
        (Value::String(s), Literal::String(l)) => {
            if ids_equal(s, l) {
                Some(Ordering::Equal)
            } else {
                Some(s.to_lowercase().cmp(&unescape_like(l).to_lowercase()))
            }
        }
        (Value::String(s), Literal::Date(d)) => {
            // A date literal compares with the date part of a datetime value.
            let s = if d.len() == 10 {
                s.get(..10).unwrap_or(s)
            } else {
                s
            };
            Some(s.cmp(d.as_str()))
        }
        (Value::String(s), Literal::Number(n)) => {
            s.trim().parse::<f64>().ok().and_then(|x| x.partial_cmp(n))
        }
        (Value::Number(x), Literal::Number(n)) => x.as_f64().and_then(|x| x.partial_cmp(n)),
        (Value::Bool(b), Literal::Bool(l)) => Some(b.cmp(l)),
        _ => None,
    };
    let Some(ord) = ord else {
        return op == CompareOp::Ne;
    };
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Like => false,
    }
}

/// A 15-character (case-sensitive) Id equals the 18-character Id that starts with it.
fn ids_equal(a: &str, b: &str) -> bool {
    let (short, long) = match (a.len(), b.len()) {
        (15, 18) => (a, b),
        (18, 15) => (b, a),
        _ => return false,
    };
    short.chars().all(|c| c.is_ascii_alphanumeric())
        && long.chars().all(|c| c.is_ascii_alphanumeric())
        && long.starts_with(short)
}

/// Drops the backslash of `\%` and `\_` (they only mean something in `LIKE`).
fn unescape_like(s: &str) -> String {
    s.replace("\\%", "%").replace("\\_", "_")
}

/// One element of a `LIKE` pattern.
#[derive(Clone, Copy, PartialEq)]
enum LikePart {
    AnyRun,
    AnyOne,
    Char(char),
}

/// Case-insensitive `LIKE`: `%` matches any run, `_` one character, `\%`/`\_` themselves.
fn like(value: &str, pattern: &str) -> bool {
    let mut parts = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => parts.push(LikePart::AnyRun),
            '_' => parts.push(LikePart::AnyOne),
            '\\' => match chars.next() {
                Some(next) => parts.extend(next.to_lowercase().map(LikePart::Char)),
                None => parts.push(LikePart::Char('\\')),
            },
            _ => parts.extend(c.to_lowercase().map(LikePart::Char)),
        }
    }
    let text: Vec<char> = value.chars().flat_map(char::to_lowercase).collect();
    // Dynamic programming over (pattern prefix, text prefix); `row[j]`: parts so far match text[..j].
    let mut row = vec![false; text.len() + 1];
    row[0] = true;
    for part in parts {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            next[j] = match part {
                LikePart::AnyRun => row[j] || (j > 0 && next[j - 1]),
                LikePart::AnyOne => j > 0 && row[j - 1],
                LikePart::Char(c) => j > 0 && row[j - 1] && text[j - 1] == c,
            };
        }
        row = next;
    }
    row[text.len()]
}

// ---------------------------------------------------------------------------------------------
// Lexer and parser (shared with `search.rs` for SOSL `RETURNING` clauses)

/// A token of SOQL (and of the SOSL text after the search term).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Ident(String),
    Str(String),
    Number(f64),
    Date(String),
    Op(CompareOp),
    Comma,
    LParen,
    RParen,
    Eof,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) | Tok::Date(s) => write!(f, "{s}"),
            Tok::Str(s) => write!(f, "'{}'", escape_string_literal(s)),
            Tok::Number(n) => write!(f, "{n}"),
            Tok::Op(op) => f.write_str(match op {
                CompareOp::Eq => "=",
                CompareOp::Ne => "!=",
                CompareOp::Lt => "<",
                CompareOp::Le => "<=",
                CompareOp::Gt => ">",
                CompareOp::Ge => ">=",
                CompareOp::Like => "LIKE",
            }),
            Tok::Comma => f.write_str(","),
            Tok::LParen => f.write_str("("),
            Tok::RParen => f.write_str(")"),
            Tok::Eof => f.write_str("<EOF>"),
        }
    }
}

/// An error located at byte offset `at` of `input`, in Salesforce's
/// `ERROR at Row:r:Column:c` style (1-based, columns counted in characters).
pub(crate) fn error_at(input: &str, at: usize, what: &str) -> QueryError {
    let at = at.min(input.len());
    let before = input.get(..at).unwrap_or(input);
    let row = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    QueryError::new(format!("ERROR at Row:{row}:Column:{column}\n{what}"))
}

fn lex(input: &str, start: usize) -> Result<Vec<(Tok, usize)>, QueryError> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = start;
    while i < input.len() {
        let Some(c) = input.get(i..).and_then(|s| s.chars().next()) else {
            break;
        };
        let at = i;
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let simple = match c {
            ',' => Some((Tok::Comma, 1)),
            '(' => Some((Tok::LParen, 1)),
            ')' => Some((Tok::RParen, 1)),
            '=' => Some((Tok::Op(CompareOp::Eq), 1)),
            '!' if bytes.get(i + 1) == Some(&b'=') => Some((Tok::Op(CompareOp::Ne), 2)),
            '<' if bytes.get(i + 1) == Some(&b'>') => Some((Tok::Op(CompareOp::Ne), 2)),
            '<' if bytes.get(i + 1) == Some(&b'=') => Some((Tok::Op(CompareOp::Le), 2)),
            '<' => Some((Tok::Op(CompareOp::Lt), 1)),
            '>' if bytes.get(i + 1) == Some(&b'=') => Some((Tok::Op(CompareOp::Ge), 2)),
            '>' => Some((Tok::Op(CompareOp::Gt), 1)),
            _ => None,
        };
        if let Some((tok, len)) = simple {
            out.push((tok, at));
            i += len;
            continue;
        }
        if c == '\'' {
            let (s, end) = lex_string(input, i)?;
            out.push((Tok::Str(s), at));
            i = end;
            continue;
        }
        let next_is_digit = bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        if c.is_ascii_digit() || ((c == '-' || c == '+') && next_is_digit) {
            let (tok, end) = lex_number_or_date(input, i)?;
            out.push((tok, at));
            i = end;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let end = input[i..]
                .char_indices()
                .find(|&(_, ch)| !(ch.is_alphanumeric() || ch == '_' || ch == '.'))
                .map_or(input.len(), |(k, _)| i + k);
            out.push((Tok::Ident(input[i..end].to_string()), at));
            i = end;
            continue;
        }
        if c == ':' {
            return Err(error_at(
                input,
                at,
                "bind variables (:name) are only valid in Apex, not in the REST API",
            ));
        }
        return Err(error_at(input, at, &format!("unexpected character: '{c}'")));
    }
    out.push((Tok::Eof, input.len()));
    Ok(out)
}

/// Reads a quoted string starting at the `'` at byte `start`; returns it unescaped and the byte
/// offset after the closing quote.
fn lex_string(input: &str, start: usize) -> Result<(String, usize), QueryError> {
    let mut out = String::new();
    let mut chars = input[start + 1..].char_indices();
    while let Some((k, c)) = chars.next() {
        match c {
            '\'' => return Ok((out, start + 1 + k + 1)),
            '\\' => match chars.next() {
                Some((_, '\'')) => out.push('\''),
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, 'n' | 'N')) => out.push('\n'),
                Some((_, 'r' | 'R')) => out.push('\r'),
                Some((_, 't' | 'T')) => out.push('\t'),
                Some((_, 'b' | 'B')) => out.push('\u{8}'),
                Some((_, 'f' | 'F')) => out.push('\u{c}'),
                Some((j, 'u')) => {
                    let hex: String = chars.by_ref().take(4).map(|(_, h)| h).collect();
                    let decoded = (hex.len() == 4)
                        .then(|| u32::from_str_radix(&hex, 16).ok())
                        .flatten()
                        .and_then(char::from_u32);
                    match decoded {
                        Some(c) => out.push(c),
                        None => {
                            return Err(error_at(
                                input,
                                start + 1 + j,
                                "Invalid string literal: \\u needs four hex digits",
                            ))
                        }
                    }
                }
                Some((_, e @ ('%' | '_'))) => {
                    out.push('\\');
                    out.push(e);
                }
                Some((j, e)) => {
                    return Err(error_at(
                        input,
                        start + 1 + j,
                        &format!("Invalid string literal: illegal escape sequence '\\{e}'"),
                    ))
                }
                None => break,
            },
            _ => out.push(c),
        }
    }
    Err(error_at(
        input,
        start,
        "Invalid string literal: missing closing quote",
    ))
}

fn lex_number_or_date(input: &str, start: usize) -> Result<(Tok, usize), QueryError> {
    let rest = &input[start..];
    let is_date = rest.len() >= 5
        && rest.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && rest.as_bytes()[4] == b'-';
    if is_date {
        let end = rest
            .char_indices()
            .find(|&(_, c)| !(c.is_ascii_digit() || matches!(c, '-' | '+' | ':' | '.' | 'T' | 'Z')))
            .map_or(rest.len(), |(k, _)| k);
        let text = &rest[..end];
        if !valid_date_literal(text) {
            return Err(error_at(
                input,
                start,
                &format!("value of filter criterion is not a valid date or dateTime: {text}"),
            ));
        }
        return Ok((Tok::Date(text.to_string()), start + end));
    }
    let end = rest
        .char_indices()
        .skip(1)
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.'))
        .map_or(rest.len(), |(k, _)| k);
    let text = &rest[..end];
    text.parse::<f64>()
        .map(|n| (Tok::Number(n), start + end))
        .map_err(|_| error_at(input, start, &format!("invalid number: {text}")))
}

/// `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ss[.s+](Z|±hh:mm|±hhmm)`.
fn valid_date_literal(s: &str) -> bool {
    fn digits(s: &str) -> bool {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
    }
    let b = s.as_bytes();
    let date_ok = s.len() >= 10
        && digits(&s[..4])
        && b[4] == b'-'
        && digits(&s[5..7])
        && b[7] == b'-'
        && digits(&s[8..10]);
    if !date_ok {
        return false;
    }
    if s.len() == 10 {
        return true;
    }
    let Some(time) = s[10..].strip_prefix('T') else {
        return false;
    };
    if time.len() < 9 || !digits(&time[..2]) || &time[2..3] != ":" || !digits(&time[3..5]) {
        return false;
    }
    if &time[5..6] != ":" || !digits(&time[6..8]) {
        return false;
    }
    let mut zone = &time[8..];
    if let Some(frac) = zone.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        zone = &frac[n..];
    }
    if zone == "Z" {
        return true;
    }
    let Some(offset) = zone.strip_prefix('+').or_else(|| zone.strip_prefix('-')) else {
        return false;
    };
    let offset = offset.replace(':', "");
    offset.len() == 4 && digits(&offset)
}

/// Recursive-descent parser over [`Tok`]s.
pub(crate) struct Parser<'a> {
    input: &'a str,
    tokens: Vec<(Tok, usize)>,
    pos: usize,
}

impl<'a> Parser<'a> {
    /// Lexes `input` from byte offset `start` (error positions stay relative to all of `input`).
    pub(crate) fn new(input: &'a str, start: usize) -> Result<Self, QueryError> {
        Ok(Self {
            input,
            tokens: lex(input, start)?,
            pos: 0,
        })
    }

    pub(crate) fn peek(&self) -> &Tok {
        self.tokens.get(self.pos).map_or(&Tok::Eof, |(t, _)| t)
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        self.tokens
            .get(self.pos + ahead)
            .map_or(&Tok::Eof, |(t, _)| t)
    }

    fn offset(&self) -> usize {
        self.tokens
            .get(self.pos)
            .map_or(self.input.len(), |(_, at)| *at)
    }

    /// An error at the current token.
    pub(crate) fn error(&self, what: &str) -> QueryError {
        error_at(self.input, self.offset(), what)
    }

    /// `unexpected token: X` at the current token.
    pub(crate) fn unexpected(&self) -> QueryError {
        self.error(&format!("unexpected token: {}", self.peek()))
    }

    pub(crate) fn is_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    pub(crate) fn eat_keyword(&mut self, kw: &str) -> bool {
        let hit = self.is_keyword(kw);
        if hit {
            self.pos += 1;
        }
        hit
    }

    pub(crate) fn expect_keyword(&mut self, kw: &str) -> Result<(), QueryError> {
        if self.eat_keyword(kw) {
            Ok(())
        } else {
            Err(self.error(&format!(
                "unexpected token: {} (expected {kw})",
                self.peek()
            )))
        }
    }

    pub(crate) fn eat(&mut self, tok: &Tok) -> bool {
        let hit = self.peek() == tok;
        if hit {
            self.pos += 1;
        }
        hit
    }

    pub(crate) fn expect(&mut self, tok: &Tok) -> Result<(), QueryError> {
        if self.eat(tok) {
            Ok(())
        } else {
            Err(self.error(&format!(
                "unexpected token: {} (expected {tok})",
                self.peek()
            )))
        }
    }

    pub(crate) fn expect_end(&self) -> Result<(), QueryError> {
        if *self.peek() == Tok::Eof {
            return Ok(());
        }
        for (kw, what) in [
            ("GROUP", "GROUP BY"),
            ("HAVING", "HAVING"),
            ("WITH", "WITH"),
            ("FOR", "FOR VIEW/UPDATE/REFERENCE"),
            ("USING", "USING SCOPE"),
        ] {
            if self.is_keyword(kw) {
                return Err(self.error(&format!("{what} is not supported by the emulator")));
            }
        }
        Err(self.unexpected())
    }

    /// A plain identifier (object or field name); `what` names it in the error.
    pub(crate) fn ident(&mut self, what: &str) -> Result<String, QueryError> {
        match self.peek().clone() {
            Tok::Ident(s) if !is_reserved(&s) => {
                self.pos += 1;
                Ok(s)
            }
            other => Err(self.error(&format!("unexpected token: {other} (expected {what})"))),
        }
    }

    /// `field [, field]*`; functions, subqueries and `TYPEOF` are rejected clearly.
    pub(crate) fn field_list(&mut self) -> Result<Vec<String>, QueryError> {
        let mut fields = Vec::new();
        loop {
            if *self.peek() == Tok::LParen {
                return Err(self.error("subqueries are not supported by the emulator"));
            }
            if self.is_keyword("TYPEOF") {
                return Err(self.error("TYPEOF is not supported by the emulator"));
            }
            if matches!(self.peek(), Tok::Ident(_)) && *self.peek_at(1) == Tok::LParen {
                return Err(self.error(&format!(
                    "functions such as {}() are not supported by the emulator",
                    self.peek()
                )));
            }
            fields.push(self.ident("a field name")?);
            if !self.eat(&Tok::Comma) {
                return Ok(fields);
            }
        }
    }

    /// A non-negative integer (for `LIMIT` and `OFFSET`).
    pub(crate) fn count(&mut self) -> Result<usize, QueryError> {
        match *self.peek() {
            Tok::Number(n) if n >= 0.0 && n.fract() == 0.0 && n <= u32::MAX as f64 => {
                self.pos += 1;
                Ok(n as usize)
            }
            _ => Err(self.error(&format!(
                "unexpected token: {} (expected a non-negative integer)",
                self.peek()
            ))),
        }
    }

    /// `[ORDER BY key [, key]*]`
    pub(crate) fn order_by_clause(&mut self) -> Result<Vec<OrderBy>, QueryError> {
        if !self.eat_keyword("ORDER") {
            return Ok(Vec::new());
        }
        self.expect_keyword("BY")?;
        let mut keys = Vec::new();
        loop {
            let field = self.ident("a field name")?;
            let descending = if self.eat_keyword("DESC") {
                true
            } else {
                self.eat_keyword("ASC");
                false
            };
            if self.is_keyword("NULLS") {
                return Err(self.error("NULLS FIRST/LAST is not supported by the emulator"));
            }
            keys.push(OrderBy { field, descending });
            if !self.eat(&Tok::Comma) {
                return Ok(keys);
            }
        }
    }

    /// `NOT operand | operand (AND operand)* | operand (OR operand)*`
    pub(crate) fn condition(&mut self) -> Result<Condition, QueryError> {
        if self.eat_keyword("NOT") {
            let inner = self.operand()?;
            return Ok(Condition::Not(Box::new(inner)));
        }
        let mut cond = self.operand()?;
        let joiner = if self.is_keyword("AND") {
            "AND"
        } else if self.is_keyword("OR") {
            "OR"
        } else {
            return Ok(cond);
        };
        while self.eat_keyword(joiner) {
            let rhs = self.operand()?;
            cond = if joiner == "AND" {
                Condition::And(Box::new(cond), Box::new(rhs))
            } else {
                Condition::Or(Box::new(cond), Box::new(rhs))
            };
        }
        if self.is_keyword("AND") || self.is_keyword("OR") {
            // Salesforce requires parentheses when AND and OR are mixed.
            return Err(self.unexpected());
        }
        Ok(cond)
    }

    fn operand(&mut self) -> Result<Condition, QueryError> {
        if self.eat(&Tok::LParen) {
            let inner = self.condition()?;
            self.expect(&Tok::RParen)?;
            return Ok(inner);
        }
        let field = self.ident("a field name")?;
        if *self.peek() == Tok::LParen {
            return Err(self.error(&format!(
                "functions such as {field}() are not supported by the emulator"
            )));
        }
        let negated_in = self.is_keyword("NOT")
            && matches!(self.peek_at(1), Tok::Ident(s) if s.eq_ignore_ascii_case("IN"));
        if negated_in || self.is_keyword("IN") {
            self.pos += if negated_in { 2 } else { 1 };
            return self.in_list(field, negated_in);
        }
        for kw in ["INCLUDES", "EXCLUDES"] {
            if self.is_keyword(kw) {
                return Err(self.error(&format!("{kw} is not supported by the emulator")));
            }
        }
        let op = if self.eat_keyword("LIKE") {
            CompareOp::Like
        } else {
            match self.peek() {
                Tok::Op(op) => {
                    let op = *op;
                    self.pos += 1;
                    op
                }
                _ => {
                    return Err(self.error(&format!(
                        "unexpected token: {} (expected a comparison operator)",
                        self.peek()
                    )))
                }
            }
        };
        let value = self.literal()?;
        if op == CompareOp::Like && !matches!(value, Literal::String(_)) {
            return Err(self.error("LIKE needs a quoted string pattern"));
        }
        Ok(Condition::Compare { field, op, value })
    }

    fn in_list(&mut self, field: String, negated: bool) -> Result<Condition, QueryError> {
        self.expect(&Tok::LParen)?;
        if self.is_keyword("SELECT") {
            return Err(self.error("semi-join subqueries are not supported by the emulator"));
        }
        let mut values = Vec::new();
        loop {
            values.push(self.literal()?);
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        self.expect(&Tok::RParen)?;
        Ok(Condition::In {
            field,
            values,
            negated,
        })
    }

    fn literal(&mut self) -> Result<Literal, QueryError> {
        let lit = match self.peek() {
            Tok::Str(s) => Literal::String(s.clone()),
            Tok::Number(n) => Literal::Number(*n),
            Tok::Date(d) => Literal::Date(d.clone()),
            Tok::Ident(s) if s.eq_ignore_ascii_case("TRUE") => Literal::Bool(true),
            Tok::Ident(s) if s.eq_ignore_ascii_case("FALSE") => Literal::Bool(false),
            Tok::Ident(s) if s.eq_ignore_ascii_case("NULL") => Literal::Null,
            Tok::Ident(s) => {
                return Err(self.error(&format!(
                    "date literals and other unquoted values such as {s} are not supported by \
                     the emulator; quote strings with '"
                )))
            }
            _ => {
                return Err(self.error(&format!(
                    "unexpected token: {} (expected a value)",
                    self.peek()
                )))
            }
        };
        self.pos += 1;
        Ok(lit)
    }
}

/// Keywords that cannot be field or object names.
fn is_reserved(s: &str) -> bool {
    const RESERVED: [&str; 20] = [
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "ORDER",
        "BY",
        "LIMIT",
        "OFFSET",
        "ASC",
        "DESC",
        "NULL",
        "TRUE",
        "FALSE",
        "GROUP",
        "HAVING",
        "RETURNING",
    ];
    RESERVED.iter().any(|k| k.eq_ignore_ascii_case(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            other => panic!("test record must be an object, got {other}"),
        }
    }

    fn cond(where_clause: &str) -> Condition {
        let q = parse_soql(&format!("SELECT Id FROM Contact WHERE {where_clause}"))
            .unwrap_or_else(|e| panic!("{where_clause} should parse: {e}"));
        q.filter.expect("a WHERE clause was given")
    }

    #[test]
    fn parses_task_lookup_by_call_object() {
        let q = parse_soql("SELECT Id, Subject FROM Task WHERE CallObject = 'abc-123'")
            .expect("the client's idempotency query is in the subset");
        assert_eq!(
            q.fields,
            ["Id", "Subject"],
            "fields keep their order and case"
        );
        assert_eq!(q.from, "Task", "object name as written");
        assert_eq!(
            q.filter,
            Some(Condition::Compare {
                field: "CallObject".into(),
                op: CompareOp::Eq,
                value: Literal::String("abc-123".into()),
            }),
            "one equality condition"
        );
        assert_eq!(q.limit, None, "no LIMIT given");
    }

    #[test]
    fn parses_all_clauses_case_insensitively() {
        let q = parse_soql(
            "select Id, Name, Account.Name from Contact where LastName like 'Yam%' \
             order by LastName desc, FirstName limit 20 offset 5",
        )
        .expect("lower-case keywords are valid SOQL");
        assert_eq!(
            q.fields,
            ["Id", "Name", "Account.Name"],
            "relationship field kept"
        );
        assert_eq!(
            q.order_by,
            [
                OrderBy {
                    field: "LastName".into(),
                    descending: true
                },
                OrderBy {
                    field: "FirstName".into(),
                    descending: false
                },
            ],
            "two ORDER BY keys, the second ascending by default"
        );
        assert_eq!(
            (q.limit, q.offset),
            (Some(20), Some(5)),
            "LIMIT and OFFSET read"
        );
    }

    #[test]
    fn string_escapes_are_decoded() {
        let c = cond(r"LastName = 'O\'Brien \\ Sons'");
        assert_eq!(
            c,
            Condition::Compare {
                field: "LastName".into(),
                op: CompareOp::Eq,
                value: Literal::String(r"O'Brien \ Sons".into()),
            },
            r"\' is a quote and \\ a backslash"
        );
    }

    #[test]
    fn escape_string_literal_round_trips() {
        let raw = r"O'Brien \ 'Sons'";
        let q = parse_soql(&format!(
            "SELECT Id FROM Contact WHERE LastName = '{}'",
            escape_string_literal(raw)
        ))
        .expect("an escaped literal always parses");
        let Some(Condition::Compare { value, .. }) = q.filter else {
            panic!("expected a comparison");
        };
        assert_eq!(
            value,
            Literal::String(raw.into()),
            "escaping then parsing gives the original"
        );
    }

    #[test]
    fn documented_escape_sequences() {
        let c = cond(r#"Description = 'a\nb\Tc\u00e9\"'"#);
        assert_eq!(
            c,
            Condition::Compare {
                field: "Description".into(),
                op: CompareOp::Eq,
                value: Literal::String("a\nb\tcé\"".into()),
            },
            "newline, upper-case tab, a unicode escape and a double quote decode"
        );
        let err = parse_soql(r"SELECT Id FROM Contact WHERE Name = '\u00'")
            .expect_err("a short unicode escape is invalid");
        assert!(
            err.message.contains("hex"),
            "the error explains the escape: {err}"
        );
    }

    #[test]
    fn mixing_and_or_without_parentheses_is_malformed() {
        let err = parse_soql("SELECT Id FROM Contact WHERE A = 'x' AND B = 'y' OR C = 'z'")
            .expect_err("Salesforce requires parentheses when mixing AND and OR");
        assert!(
            err.message.contains("unexpected token: OR"),
            "the error names the offending token: {err}"
        );
        assert!(
            err.message.contains("Row:1:Column:50"),
            "the error gives the column of OR: {err}"
        );
        let ok = cond("A = 'x' AND (B = 'y' OR C = 'z')");
        assert!(
            matches!(ok, Condition::And(_, _)),
            "parenthesized mix is fine: {ok:?}"
        );
    }

    #[test]
    fn malformed_queries_give_errors_not_panics() {
        let cases = [
            "",
            "SELECT",
            "SELECT FROM Contact",
            "SELECT Id Contact",
            "SELECT Id FROM",
            "SELECT Id FROM Contact WHERE",
            "SELECT Id FROM Contact WHERE Name = 'unterminated",
            "SELECT Id FROM Contact WHERE Name = 'bad \\q escape'",
            "SELECT Id FROM Contact WHERE Name 'x'",
            "SELECT Id FROM Contact WHERE (Name = 'x'",
            "SELECT Id FROM Contact LIMIT -1",
            "SELECT Id FROM Contact LIMIT 1.5",
            "SELECT Id FROM Contact LIMIT 5 garbage",
            "SELECT COUNT() FROM Contact",
            "SELECT Id, (SELECT Id FROM Contacts) FROM Account",
            "SELECT Id FROM Contact WHERE Id IN (SELECT WhoId FROM Task)",
            "SELECT Id FROM Contact WHERE Name = :name",
            "SELECT Id FROM Contact WHERE CreatedDate = TODAY",
            "SELECT Id FROM Contact WHERE CreatedDate > 2026-13",
            "SELECT Id FROM Contact WHERE Name LIKE 5",
            "SELECT Id FROM Contact GROUP BY Name",
            "SELECT Id FROM Contact ORDER BY Name NULLS LAST",
            "SELECT Id FROM Contact WHERE Name = 'x' AND NOT Phone = null",
            "SELECT Id FROM Contact WHERE Name # 'x'",
        ];
        for q in cases {
            let err = parse_soql(q).expect_err(q);
            assert!(
                err.message.starts_with("ERROR at Row:"),
                "every error is located ({q:?} gave {err})"
            );
        }
    }

    #[test]
    fn unsupported_features_are_named() {
        let err = parse_soql("SELECT COUNT() FROM Contact").expect_err("aggregates unsupported");
        assert!(
            err.message.contains("COUNT()"),
            "message names the function: {err}"
        );
        let err = parse_soql("SELECT Id FROM Contact GROUP BY Name").expect_err("no GROUP BY");
        assert!(
            err.message.contains("GROUP BY"),
            "message names the clause: {err}"
        );
    }

    #[test]
    fn literals_of_each_kind() {
        let q = parse_soql(
            "SELECT Id FROM Task WHERE (CallDurationInSeconds >= -1.5 AND IsClosed = TRUE \
             AND WhatId = null AND ActivityDate < 2026-03-01 \
             AND CreatedDate > 2026-03-01T10:15:00.000+00:00)",
        )
        .expect("numbers, booleans, null, dates and datetimes parse");
        let fields = q.filter.as_ref().map(Condition::fields).unwrap_or_default();
        assert_eq!(
            fields,
            [
                "CallDurationInSeconds",
                "IsClosed",
                "WhatId",
                "ActivityDate",
                "CreatedDate"
            ],
            "fields() lists every field in order"
        );
    }

    #[test]
    fn eval_equality_is_case_insensitive_and_follows_fields_case_insensitively() {
        let r = record(json!({"LastName": "Yamada", "Phone": null}));
        assert!(
            cond("lastname = 'YAMADA'").eval(&r),
            "SOQL string equality ignores case"
        );
        assert!(!cond("LastName = 'Tanaka'").eval(&r), "different value");
        assert!(
            cond("LastName != 'Tanaka'").eval(&r),
            "!= holds for a different value"
        );
        assert!(cond("Phone = null").eval(&r), "an explicit null is null");
        assert!(cond("Email = null").eval(&r), "a missing field is null");
        assert!(
            !cond("Email = 'x@example.com'").eval(&r),
            "null equals no string"
        );
        assert!(
            cond("Email != 'x@example.com'").eval(&r),
            "null differs from every string"
        );
    }

    #[test]
    fn eval_and_or_not_and_in() {
        let r = record(json!({"Status": "Open", "IsConverted": false, "Country": "JP"}));
        assert!(
            cond("Status = 'Open' AND IsConverted = false").eval(&r),
            "both hold"
        );
        assert!(
            cond("Status = 'Closed' OR Country = 'JP'").eval(&r),
            "one holds"
        );
        assert!(cond("NOT Status = 'Closed'").eval(&r), "negation");
        assert!(
            cond("Country IN ('FR', 'JP')").eval(&r),
            "value in the list"
        );
        assert!(
            !cond("Country NOT IN ('FR', 'JP')").eval(&r),
            "NOT IN negates"
        );
        assert!(
            cond("(Status = 'Open' OR Status = 'New') AND (NOT IsConverted = true)").eval(&r),
            "nested groups"
        );
    }

    #[test]
    fn eval_like_patterns() {
        let r = record(json!({"Phone": "(415) 555-0100", "Name": "100%_real"}));
        assert!(cond("Phone LIKE '%555%0100'").eval(&r), "% spans any run");
        assert!(
            cond("Phone LIKE '(415) 555-01__'").eval(&r),
            "_ is one character"
        );
        assert!(
            !cond("Phone LIKE '555%'").eval(&r),
            "the pattern is anchored"
        );
        assert!(
            cond("Name LIKE '100\\%\\_REAL'").eval(&r),
            "escaped % and _ are literal, case ignored"
        );
        assert!(
            !cond("Name LIKE '100\\%x%'").eval(&r),
            "escaped % does not act as a wildcard"
        );
    }

    #[test]
    fn eval_numbers_dates_relationships_and_ids() {
        let r = record(json!({
            "CallDurationInSeconds": 95,
            "ActivityDate": "2026-03-01",
            "CreatedDate": "2026-03-01T10:15:00.000+0000",
            "Account": {"Name": "Acme"},
            "Id": "0035g00000XyZaBAAV"
        }));
        assert!(
            cond("CallDurationInSeconds > 60").eval(&r),
            "numeric comparison"
        );
        assert!(
            !cond("CallDurationInSeconds < 60").eval(&r),
            "numeric comparison"
        );
        assert!(cond("ActivityDate = 2026-03-01").eval(&r), "date equality");
        assert!(
            cond("CreatedDate >= 2026-03-01").eval(&r),
            "date vs datetime uses the date part"
        );
        assert!(cond("Account.Name = 'acme'").eval(&r), "relationship path");
        assert!(
            cond("Id = '0035g00000XyZaB'").eval(&r),
            "15-char Id equals its 18-char form"
        );
        assert!(
            !cond("Id = '0035g00000XyZab'").eval(&r),
            "15-char Ids are case-sensitive"
        );
    }

    #[test]
    fn sort_records_orders_with_salesforce_null_defaults() {
        let mut rows: Vec<Map<String, Value>> =
            [json!({"N": "b"}), json!({"N": null}), json!({"N": "A"})]
                .into_iter()
                .map(record)
                .collect();
        sort_records(
            &mut rows,
            &[OrderBy {
                field: "N".into(),
                descending: false,
            }],
        );
        let names: Vec<_> = rows.iter().map(|r| r["N"].clone()).collect();
        assert_eq!(
            names,
            [json!(null), json!("A"), json!("b")],
            "ASC: nulls first, case ignored"
        );
        sort_records(
            &mut rows,
            &[OrderBy {
                field: "N".into(),
                descending: true,
            }],
        );
        let names: Vec<_> = rows.iter().map(|r| r["N"].clone()).collect();
        assert_eq!(
            names,
            [json!("b"), json!("A"), json!(null)],
            "DESC: nulls last"
        );
    }
}
