//! The one JSON reader of kiln-template: it keeps the line and column of
//! every value and key, so template errors can point at `file:line:column`.
//! Both template formats read their JSON through it: legacy JSON templates
//! and their var files ([`crate::legacy`], [`crate::plan`], `kiln fix`) and
//! HCL2's JSON syntax, `*.pkr.json` ([`crate::hcl::json_syntax`]).
//!
//! It stores a positioned value tree ([`Spanned`]): objects keep their keys
//! in file order, duplicates included, each key and each value with the
//! line and column where it starts. It accepts exactly RFC 8259 JSON (what
//! Go's `encoding/json`, and so HCL's JSON parser, accept), with a nesting
//! limit so hostile input cannot overflow the stack. [`Spanned::get`] keeps
//! the last of duplicate keys, as Go does; [`Spanned::duplicate_keys`] finds
//! them for legacy templates, which reject them as Packer 1.6.6 does (HCL's
//! JSON syntax rejects a repeated attribute, and reads repeated block keys
//! as more blocks).
//!
//! The deliberate choice: the two formats share the grammar, the tree and
//! the positions, and differ in the message layer only. A syntax error is a
//! position and a [`SyntaxErrorKind`]; the kind's `Display` is the wording
//! legacy templates have always printed (snapshot-tested against Packer
//! 1.6.6's), and HCL's JSON syntax words the same kinds after HCL's own
//! diagnostics (`hcl::json_syntax`). Each format's interpretation of the
//! tree (which keys are blocks, what a string means) stays in its module.

use std::cell::Cell;

use serde_json::{Map, Number, Value};

/// 1-based position of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// A JSON value with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned {
    /// Where the value starts.
    pub pos: Pos,
    /// The value.
    pub node: Node,
}

/// The kinds of JSON values, with spanned children.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Spanned>),
    /// An object: entries in order, with the position of each key.
    Object(Vec<(String, Pos, Spanned)>),
}

impl Spanned {
    /// Converts to a plain `serde_json::Value`.
    pub fn to_value(&self) -> Value {
        match &self.node {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::String(s) => Value::String(s.clone()),
            Node::Array(items) => Value::Array(items.iter().map(Spanned::to_value).collect()),
            Node::Object(entries) => {
                let mut m = Map::new();
                for (k, _, v) in entries {
                    m.insert(k.clone(), v.to_value());
                }
                Value::Object(m)
            }
        }
    }

    /// A short name for the kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self.node {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Number(_) => "a number",
            Node::String(_) => "a string",
            Node::Array(_) => "an array",
            Node::Object(_) => "an object",
        }
    }

    /// Looks up a key of an object (the last one wins).
    pub fn get(&self, key: &str) -> Option<&Spanned> {
        match &self.node {
            Node::Object(entries) => entries
                .iter()
                .rev()
                .find(|(k, _, _)| k == key)
                .map(|(_, _, v)| v),
            _ => None,
        }
    }

    /// Every key that repeats a key of the same object, in document order:
    /// the key, where it was first set and where it is set again. Packer
    /// 1.6.6 rejects a template with any (`template has duplicate field`),
    /// at any depth; its var files and `packer fix` keep the last value.
    pub fn duplicate_keys(&self) -> Vec<(&str, Pos, Pos)> {
        let mut out = Vec::new();
        self.find_duplicates(&mut out);
        out
    }

    fn find_duplicates<'a>(&'a self, out: &mut Vec<(&'a str, Pos, Pos)>) {
        match &self.node {
            Node::Array(items) => items.iter().for_each(|i| i.find_duplicates(out)),
            Node::Object(entries) => {
                let mut seen: std::collections::HashMap<&str, Pos> =
                    std::collections::HashMap::new();
                for (k, kpos, v) in entries {
                    match seen.get(k.as_str()) {
                        Some(first) => out.push((k.as_str(), *first, *kpos)),
                        None => {
                            seen.insert(k.as_str(), *kpos);
                        }
                    }
                    v.find_duplicates(out);
                }
            }
            _ => {}
        }
    }

    /// Records the position of this value and every nested key, by path
    /// (`a.b[2]`), into `out`.
    pub fn collect_spans(&self, path: &str, out: &mut Vec<(String, Pos)>) {
        match &self.node {
            Node::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    out.push((p.clone(), item.pos));
                    item.collect_spans(&p, out);
                }
            }
            Node::Object(entries) => {
                for (k, kpos, v) in entries {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    out.push((p.clone(), *kpos));
                    v.collect_spans(&p, out);
                }
            }
            _ => {}
        }
    }
}

/// A syntax error: where, and what kind. How it is worded is up to the
/// format that reads the file (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{pos_line}:{pos_col}: {kind}", pos_line = pos.line, pos_col = pos.column)]
pub struct SyntaxError {
    /// Where.
    pub pos: Pos,
    /// What was expected and what was found.
    pub kind: SyntaxErrorKind,
}

/// What the reader found where a syntax error is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// The end of the file.
    End,
    /// A line break.
    LineBreak,
    /// Any other character.
    Char(char),
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Found::End => f.write_str("the end of the file"),
            Found::LineBreak => f.write_str("a line break"),
            Found::Char(c) => write!(f, "`{c}`"),
        }
    }
}

/// The syntax errors the reader reports. `Display` is the legacy
/// templates' wording.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxErrorKind {
    /// Nothing but whitespace.
    #[error("expected a JSON object, found an empty file")]
    EmptyFile,
    /// Something after the top-level value.
    #[error("expected the end of the file after the top-level value, found {0}")]
    TrailingData(Found),
    /// No value where one must start (a misspelt keyword, a stray character).
    #[error("expected a value, found {0}")]
    ExpectedValue(Found),
    /// `]` right after a `,` in an array.
    #[error("expected a value, found `]` (a trailing comma is not allowed in JSON)")]
    TrailingCommaInArray,
    /// Objects and arrays nested deeper than the limit.
    #[error("values are nested more than {MAX_DEPTH} levels deep")]
    TooDeep,
    /// No string where an object key must start (`}` there is a trailing
    /// comma).
    #[error("expected a string key, found {0}{hint}", hint = if *.0 == Found::Char('}') { " (a trailing comma is not allowed in JSON)" } else { "" })]
    ExpectedKey(Found),
    /// No `:` after an object key.
    #[error("expected `:` after the key `{key}`, found {found}")]
    ExpectedColon {
        /// The key.
        key: String,
        /// What is there instead.
        found: Found,
    },
    /// No `,` or `}` after an object entry.
    #[error("expected `,` or `}}` after an object entry, found {0}")]
    ExpectedCommaOrBrace(Found),
    /// No `,` or `]` after an array item.
    #[error("expected `,` or `]` after an array item, found {0}")]
    ExpectedCommaOrBracket(Found),
    /// A backslash followed by something that is no escape.
    #[error("invalid escape `\\{escape}` in a string", escape = found_bare(*.0))]
    InvalidEscape(Found),
    /// `\u` not followed by four hex digits.
    #[error("expected four hex digits after `\\u`")]
    ExpectedHexDigits,
    /// A raw line break inside a string.
    #[error("unterminated string: a line break must be written `\\n` inside a JSON string")]
    LineBreakInString,
    /// Another raw control character inside a string.
    #[error("control characters must be escaped inside a JSON string")]
    ControlCharacterInString,
    /// The file ends inside a string.
    #[error("unterminated string: expected a closing `\"`, found the end of the file")]
    UnterminatedString,
    /// A number without digits where they must be: after `-`, after `.`,
    /// or in the exponent.
    #[error("expected a digit{after}, found {found}", after = place.after())]
    ExpectedDigit {
        /// Which digits are missing.
        place: DigitPlace,
        /// What is there instead.
        found: Found,
    },
    /// A number too large for a 64-bit float.
    #[error("number `{0}` is out of range")]
    NumberOutOfRange(String),
}

/// Where in a number digits are missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigitPlace {
    /// The integer part.
    Integer,
    /// After the decimal point.
    Fraction,
    /// The exponent.
    Exponent,
}

impl DigitPlace {
    fn after(self) -> &'static str {
        match self {
            DigitPlace::Integer => "",
            DigitPlace::Fraction => " after `.`",
            DigitPlace::Exponent => " in the exponent",
        }
    }
}

/// [`Found`] without its backticks (for `\x` in an invalid escape).
fn found_bare(found: Found) -> String {
    found.to_string().trim_matches('`').to_string()
}

const MAX_DEPTH: usize = 256;

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    i: usize,
    line: usize,
    line_start: usize,
    depth: usize,
    /// The byte offset and column of the last position taken, so that the
    /// columns of a long line are not counted again from its start.
    last_pos: Cell<(usize, usize)>,
}

/// Parses a whole JSON document.
pub fn parse(src: &str) -> Result<Spanned, SyntaxError> {
    let mut p = Parser {
        src,
        bytes: src.as_bytes(),
        i: 0,
        line: 1,
        line_start: 0,
        depth: 0,
        last_pos: Cell::new((0, 1)),
    };
    // A UTF-8 byte order mark is tolerated.
    if src.starts_with('\u{feff}') {
        p.i = 3;
        p.line_start = 3;
    }
    p.ws();
    if p.i >= p.bytes.len() {
        return Err(p.err(SyntaxErrorKind::EmptyFile));
    }
    let v = p.value()?;
    p.ws();
    if p.i < p.bytes.len() {
        return Err(p.err(SyntaxErrorKind::TrailingData(p.found())));
    }
    Ok(v)
}

impl Parser<'_> {
    fn pos(&self) -> Pos {
        let (from, col) = match self.last_pos.get() {
            (at, col) if at >= self.line_start && at <= self.i => (at, col),
            _ => (self.line_start, 1),
        };
        let col = col
            + self
                .src
                .get(from..self.i)
                .map(|s| s.chars().count())
                .unwrap_or(0);
        self.last_pos.set((self.i, col));
        Pos {
            line: self.line,
            column: col,
        }
    }

    fn err(&self, kind: SyntaxErrorKind) -> SyntaxError {
        SyntaxError {
            pos: self.pos(),
            kind,
        }
    }

    fn digit_error(&self, place: DigitPlace) -> SyntaxError {
        self.err(SyntaxErrorKind::ExpectedDigit {
            place,
            found: self.found(),
        })
    }

    fn found(&self) -> Found {
        match self.src.get(self.i..).and_then(|s| s.chars().next()) {
            None => Found::End,
            Some('\n') => Found::LineBreak,
            Some(c) => Found::Char(c),
        }
    }

    fn ws(&mut self) {
        while let Some(&b) = self.bytes.get(self.i) {
            match b {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\n' => {
                    self.i += 1;
                    self.line += 1;
                    self.line_start = self.i;
                }
                _ => break,
            }
        }
    }

    fn value(&mut self) -> Result<Spanned, SyntaxError> {
        let pos = self.pos();
        let node = match self.bytes.get(self.i) {
            Some(b'{') => self.object()?,
            Some(b'[') => self.array()?,
            Some(b'"') => Node::String(self.string()?),
            Some(b't') => self.literal("true", Node::Bool(true))?,
            Some(b'f') => self.literal("false", Node::Bool(false))?,
            Some(b'n') => self.literal("null", Node::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err(self.err(SyntaxErrorKind::ExpectedValue(self.found()))),
        };
        Ok(Spanned { pos, node })
    }

    fn literal(&mut self, word: &str, node: Node) -> Result<Node, SyntaxError> {
        if self.src[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(node)
        } else {
            Err(self.err(SyntaxErrorKind::ExpectedValue(self.found())))
        }
    }

    fn enter(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(SyntaxErrorKind::TooDeep));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Node, SyntaxError> {
        self.enter()?;
        self.i += 1;
        let mut entries = Vec::new();
        self.ws();
        if self.bytes.get(self.i) == Some(&b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(Node::Object(entries));
        }
        loop {
            self.ws();
            if self.bytes.get(self.i) != Some(&b'"') {
                return Err(self.err(SyntaxErrorKind::ExpectedKey(self.found())));
            }
            let kpos = self.pos();
            let key = self.string()?;
            self.ws();
            if self.bytes.get(self.i) != Some(&b':') {
                let found = self.found();
                return Err(self.err(SyntaxErrorKind::ExpectedColon { key, found }));
            }
            self.i += 1;
            self.ws();
            let v = self.value()?;
            entries.push((key, kpos, v));
            self.ws();
            match self.bytes.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(self.err(SyntaxErrorKind::ExpectedCommaOrBrace(self.found()))),
            }
        }
        self.depth -= 1;
        Ok(Node::Object(entries))
    }

    fn array(&mut self) -> Result<Node, SyntaxError> {
        self.enter()?;
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.bytes.get(self.i) == Some(&b']') {
            self.i += 1;
            self.depth -= 1;
            return Ok(Node::Array(items));
        }
        loop {
            self.ws();
            if self.bytes.get(self.i) == Some(&b']') {
                return Err(self.err(SyntaxErrorKind::TrailingCommaInArray));
            }
            items.push(self.value()?);
            self.ws();
            match self.bytes.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(self.err(SyntaxErrorKind::ExpectedCommaOrBracket(self.found()))),
            }
        }
        self.depth -= 1;
        Ok(Node::Array(items))
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.i += 1; // opening quote
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&b) = self.bytes.get(self.i) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            out.push_str(&self.src[start..self.i]);
            match self.bytes.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let esc = self.bytes.get(self.i).copied();
                    self.i += 1;
                    match esc {
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'/') => out.push('/'),
                        Some(b'b') => out.push('\u{8}'),
                        Some(b'f') => out.push('\u{c}'),
                        Some(b'n') => out.push('\n'),
                        Some(b'r') => out.push('\r'),
                        Some(b't') => out.push('\t'),
                        Some(b'u') => {
                            let c = self.unicode_escape()?;
                            out.push(c);
                        }
                        _ => {
                            self.i -= 1;
                            return Err(self.err(SyntaxErrorKind::InvalidEscape(self.found())));
                        }
                    }
                }
                Some(b'\n') => return Err(self.err(SyntaxErrorKind::LineBreakInString)),
                Some(_) => return Err(self.err(SyntaxErrorKind::ControlCharacterInString)),
                None => return Err(self.err(SyntaxErrorKind::UnterminatedString)),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let s = self
            .src
            .get(self.i..self.i + 4)
            .filter(|s| s.bytes().all(|b| b.is_ascii_hexdigit()));
        match s {
            Some(h) => {
                self.i += 4;
                Ok(u32::from_str_radix(h, 16).unwrap_or(0xFFFD))
            }
            None => Err(self.err(SyntaxErrorKind::ExpectedHexDigits)),
        }
    }

    fn unicode_escape(&mut self) -> Result<char, SyntaxError> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) && self.src[self.i..].starts_with("\\u") {
            let save = self.i;
            self.i += 2;
            let lo = self.hex4()?;
            if (0xDC00..0xE000).contains(&lo) {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return Ok(char::from_u32(c).unwrap_or('\u{FFFD}'));
            }
            self.i = save;
        }
        // Lone surrogates become U+FFFD, as in Go.
        Ok(char::from_u32(hi).unwrap_or('\u{FFFD}'))
    }

    fn number(&mut self) -> Result<Node, SyntaxError> {
        let start = self.i;
        let b = |p: &Self| p.bytes.get(p.i).copied();
        if b(self) == Some(b'-') {
            self.i += 1;
        }
        match b(self) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while matches!(b(self), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
            }
            _ => return Err(self.digit_error(DigitPlace::Integer)),
        }
        if b(self) == Some(b'.') {
            self.i += 1;
            if !matches!(b(self), Some(b'0'..=b'9')) {
                return Err(self.digit_error(DigitPlace::Fraction));
            }
            while matches!(b(self), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        if matches!(b(self), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(b(self), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !matches!(b(self), Some(b'0'..=b'9')) {
                return Err(self.digit_error(DigitPlace::Exponent));
            }
            while matches!(b(self), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        let text = &self.src[start..self.i];
        let n: Number = serde_json::from_str(text)
            .or_else(|_| {
                text.parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .ok_or(())
            })
            .map_err(|_| self.err(SyntaxErrorKind::NumberOutOfRange(text.to_string())))?;
        Ok(Node::Number(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_positions() {
        let v = parse("{\n  \"a\": [1, \"x\"],\n  \"b\": {\"c\": null}\n}").unwrap();
        let mut spans = Vec::new();
        v.collect_spans("", &mut spans);
        assert_eq!(spans[0], ("a".to_string(), Pos { line: 2, column: 3 }));
        assert_eq!(
            spans[2],
            (
                "a[1]".to_string(),
                Pos {
                    line: 2,
                    column: 12
                }
            )
        );
        assert_eq!(spans[4], ("b.c".to_string(), Pos { line: 3, column: 9 }));
        assert_eq!(
            v.to_value(),
            serde_json::json!({"a": [1, "x"], "b": {"c": null}})
        );
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse("{\"a\": 1,\n}").unwrap_err();
        assert_eq!(e.pos, Pos { line: 2, column: 1 });
        assert!(e.kind.to_string().contains("trailing comma"), "{e}");
        let e = parse("{\"a\" 1}").unwrap_err();
        assert!(e
            .kind
            .to_string()
            .contains("expected `:` after the key `a`"));
        assert!(parse("").is_err());
        assert!(parse("{} x").is_err());
        assert!(parse(&"[".repeat(10_000)).is_err());
        assert!(parse("\"\\ud800\"").is_ok());
        assert!(parse("-").is_err());
        assert!(parse("1e999").is_err());
    }

    #[test]
    fn long_lines_parse_in_linear_time() {
        // Minified templates are one long line; columns used to be counted
        // from the start of the line for every value.
        let src = format!("[{}0]", "0,".repeat(200_000));
        let start = std::time::Instant::now();
        let v = parse(&src).unwrap();
        assert!(start.elapsed() < std::time::Duration::from_secs(20));
        let Node::Array(items) = &v.node else {
            panic!("not an array")
        };
        assert_eq!(
            items[199_999].pos,
            Pos {
                line: 1,
                column: 400_000
            }
        );
        let e = parse(&format!("{{\"é\": [{}x]}}", "1,".repeat(1000))).unwrap_err();
        assert_eq!(
            e.pos,
            Pos {
                line: 1,
                column: 2008
            }
        );
    }

    #[test]
    fn finds_duplicate_keys_at_any_depth_in_document_order() {
        let v = parse("{\"a\": {\"x\": 1, \"x\": 2},\n \"a\": [{\"y\": 1, \"y\": 1}], \"b\": 1}")
            .unwrap();
        let d = v.duplicate_keys();
        let keys: Vec<&str> = d.iter().map(|(k, _, _)| *k).collect();
        assert_eq!(keys, ["x", "a", "y"]);
        assert_eq!(d[0].1, Pos { line: 1, column: 8 });
        assert_eq!(
            d[0].2,
            Pos {
                line: 1,
                column: 16
            }
        );
        assert_eq!(d[1].2, Pos { line: 2, column: 2 });
        // Keys are compared exactly, and the same key in sibling objects is
        // no duplicate.
        let v = parse("[{\"a\": 1}, {\"a\": 1, \"A\": 2}]").unwrap();
        assert!(v.duplicate_keys().is_empty());
    }

    #[test]
    fn agrees_with_serde_json() {
        for doc in [
            "{\"k\":\"\\u00e9\\n\\ud83d\\ude00\"}",
            "[0.5,-1,1e3,true,false,null]",
            "{\"a\":{\"a\":[]}}",
        ] {
            assert_eq!(
                parse(doc).unwrap().to_value(),
                serde_json::from_str::<Value>(doc).unwrap()
            );
        }
    }
}
