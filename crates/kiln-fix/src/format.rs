//! The canonical layout of HCL2 files, as `packer fmt` (HashiCorp's
//! `hclwrite.Format`) writes them. The source is split into HCL tokens
//! (template interpolations included) and only the whitespace between
//! them changes:
//! - indentation: two spaces per level of brackets still open, by
//!   hclwrite's indent stack;
//! - spacing: hclwrite's `spaceAfterToken` rules, so `a=1+2` becomes
//!   `a = 1 + 2`, `[ 1,2 ]` becomes `[1, 2]`, `f( x )` becomes `f(x)`,
//!   `{a=1}` becomes `{ a = 1 }`, `- 1` after an operator becomes `-1`
//!   and `"${ var.x }"` becomes `"${var.x}"`;
//! - alignment: the `=` of consecutive one-line arguments, and the
//!   trailing comments of consecutive lines, line up;
//! - no trailing whitespace, no leading or trailing blank lines, one final
//!   newline.
//!
//! Comments, blank lines, the text of strings and heredocs are kept. The
//! result is stable: formatting it again changes nothing. The file is
//! parsed first, so invalid HCL is an error with its location instead of
//! a reformatted mess.

use kiln_sdk::config::{ConfigError, Location};

/// HCL token types, as `hclsyntax` names them (only the distinctions the
/// spacing rules make).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum T {
    Newline,
    Comment,
    OBrace,
    CBrace,
    OBrack,
    CBrack,
    OParen,
    CParen,
    TemplateInterp,
    TemplateControl,
    TemplateSeqEnd,
    OQuote,
    CQuote,
    QuotedLit,
    OHeredoc,
    CHeredoc,
    StringLit,
    Equal,
    Comma,
    Colon,
    DoubleColon,
    Question,
    Dot,
    Ellipsis,
    Ident,
    Number,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Bang,
    EqualOp,
    NotEqual,
    Lt,
    Lte,
    Gt,
    Gte,
    And,
    Or,
    FatArrow,
    Other,
}

#[derive(Clone, Debug)]
struct Tok {
    t: T,
    text: String,
    /// A `#` or `//` comment (one that ends its line).
    line_comment: bool,
    /// Spaces written before the token (indentation for a line's first).
    spaces: usize,
}

/// Splits HCL source into tokens, templates included.
struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    i: usize,
    out: Vec<Tok>,
}

impl<'a> Lexer<'a> {
    fn push(&mut self, t: T, end: usize) {
        self.push_text(t, self.src[self.i..end].to_string());
        self.i = end;
    }

    fn push_text(&mut self, t: T, text: String) {
        self.out.push(Tok {
            t,
            text,
            line_comment: false,
            spaces: 0,
        });
    }

    fn peek(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }

    /// Expression tokens until the end of input or, inside an
    /// interpolation (`interp`), until its closing `}`.
    fn normal(&mut self, interp: bool) {
        let mut depth = 0usize;
        while self.i < self.b.len() {
            let c = self.b[self.i];
            match c {
                b' ' | b'\t' | b'\r' => self.i += 1,
                b'\n' => self.push(T::Newline, self.i + 1),
                b'#' => self.line_comment(),
                b'/' if self.peek(1) == Some(b'/') => self.line_comment(),
                b'/' if self.peek(1) == Some(b'*') => {
                    let end = self.src[self.i + 2..]
                        .find("*/")
                        .map_or(self.b.len(), |e| self.i + 2 + e + 2);
                    self.push(T::Comment, end);
                }
                b'~' if interp && depth == 0 && self.peek(1) == Some(b'}') => {
                    self.push(T::TemplateSeqEnd, self.i + 2);
                    return;
                }
                b'{' => {
                    depth += 1;
                    self.push(T::OBrace, self.i + 1);
                }
                b'}' => {
                    if interp && depth == 0 {
                        self.push(T::TemplateSeqEnd, self.i + 1);
                        return;
                    }
                    depth = depth.saturating_sub(1);
                    self.push(T::CBrace, self.i + 1);
                }
                b'[' => self.push(T::OBrack, self.i + 1),
                b']' => self.push(T::CBrack, self.i + 1),
                b'(' => self.push(T::OParen, self.i + 1),
                b')' => self.push(T::CParen, self.i + 1),
                b',' => self.push(T::Comma, self.i + 1),
                b'?' => self.push(T::Question, self.i + 1),
                b':' if self.peek(1) == Some(b':') => self.push(T::DoubleColon, self.i + 2),
                b':' => self.push(T::Colon, self.i + 1),
                b'.' if self.src[self.i..].starts_with("...") => self.push(T::Ellipsis, self.i + 3),
                b'.' => self.push(T::Dot, self.i + 1),
                b'=' if self.peek(1) == Some(b'=') => self.push(T::EqualOp, self.i + 2),
                b'=' if self.peek(1) == Some(b'>') => self.push(T::FatArrow, self.i + 2),
                b'=' => self.push(T::Equal, self.i + 1),
                b'!' if self.peek(1) == Some(b'=') => self.push(T::NotEqual, self.i + 2),
                b'!' => self.push(T::Bang, self.i + 1),
                b'<' if heredoc_marker(&self.src[self.i..]).is_some() => self.heredoc(),
                b'<' if self.peek(1) == Some(b'=') => self.push(T::Lte, self.i + 2),
                b'<' => self.push(T::Lt, self.i + 1),
                b'>' if self.peek(1) == Some(b'=') => self.push(T::Gte, self.i + 2),
                b'>' => self.push(T::Gt, self.i + 1),
                b'&' if self.peek(1) == Some(b'&') => self.push(T::And, self.i + 2),
                b'|' if self.peek(1) == Some(b'|') => self.push(T::Or, self.i + 2),
                b'+' => self.push(T::Plus, self.i + 1),
                b'-' => self.push(T::Minus, self.i + 1),
                b'*' => self.push(T::Star, self.i + 1),
                b'/' => self.push(T::Slash, self.i + 1),
                b'%' => self.push(T::Percent, self.i + 1),
                b'"' => {
                    self.push(T::OQuote, self.i + 1);
                    self.template(None);
                }
                b'0'..=b'9' => {
                    let mut j = self.i;
                    let digits = |j: &mut usize| {
                        while self.b.get(*j).is_some_and(u8::is_ascii_digit) {
                            *j += 1;
                        }
                    };
                    digits(&mut j);
                    if self.b.get(j) == Some(&b'.')
                        && self.b.get(j + 1).is_some_and(u8::is_ascii_digit)
                    {
                        j += 1;
                        digits(&mut j);
                    }
                    if matches!(self.b.get(j), Some(b'e' | b'E')) {
                        let mut k = j + 1;
                        if matches!(self.b.get(k), Some(b'+' | b'-')) {
                            k += 1;
                        }
                        if self.b.get(k).is_some_and(u8::is_ascii_digit) {
                            j = k;
                            digits(&mut j);
                        }
                    }
                    self.push(T::Number, j);
                }
                c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                    let mut j = self.i;
                    while self.b.get(j).is_some_and(|&c| {
                        c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c >= 0x80
                    }) {
                        j += 1;
                    }
                    self.push(T::Ident, j);
                }
                _ => {
                    let n = self.src[self.i..].chars().next().map_or(1, char::len_utf8);
                    self.push(T::Other, self.i + n);
                }
            }
        }
    }

    /// A `#` or `//` comment, without its newline or trailing spaces.
    fn line_comment(&mut self) {
        let end = self.src[self.i..]
            .find('\n')
            .map_or(self.b.len(), |e| self.i + e);
        let text = self.src[self.i..end].trim_end().to_string();
        self.push_text(T::Comment, text);
        if let Some(t) = self.out.last_mut() {
            t.line_comment = true;
        }
        self.i = end;
    }

    /// `${ … }` or `%{ … }` (the `~` strip marker included) at the
    /// current position, through its closing `}`.
    fn interpolation(&mut self) {
        let t = if self.b[self.i] == b'$' {
            T::TemplateInterp
        } else {
            T::TemplateControl
        };
        let len = if self.peek(2) == Some(b'~') { 3 } else { 2 };
        self.push(t, self.i + len);
        self.normal(true);
    }

    /// Template text from `start` to the current position, if any.
    fn flush(&mut self, t: T, start: usize) {
        if start < self.i {
            let text = self.src[start..self.i].to_string();
            self.push_text(t, text);
        }
    }

    /// The template of a quoted string (`marker` is `None`) up to its
    /// closing quote, or of a heredoc up to its closing marker line.
    fn template(&mut self, marker: Option<&str>) {
        let lit = if marker.is_some() {
            T::StringLit
        } else {
            T::QuotedLit
        };
        let mut start = self.i;
        let mut line_start = true;
        loop {
            if let (Some(m), true) = (marker, line_start) {
                let end = self.src[self.i..]
                    .find('\n')
                    .map_or(self.b.len(), |e| self.i + e);
                if self.src[self.i..end].trim() == m {
                    self.flush(lit, start);
                    let closing = self.src[self.i..end].trim_end().to_string();
                    self.push_text(T::CHeredoc, closing);
                    self.i = end;
                    return;
                }
            }
            line_start = false;
            let Some(&c) = self.b.get(self.i) else {
                self.flush(lit, start);
                return;
            };
            match c {
                b'"' if marker.is_none() => {
                    self.flush(lit, start);
                    self.push(T::CQuote, self.i + 1);
                    return;
                }
                // An unterminated quoted string (the parser rejects it).
                b'\n' if marker.is_none() => {
                    self.flush(lit, start);
                    return;
                }
                b'\\' if marker.is_none() => {
                    self.i += 2.min(self.b.len() - self.i);
                }
                // `$${` and `%%{` are escapes, not interpolations.
                b'$' | b'%' if self.peek(1) == Some(c) && self.peek(2) == Some(b'{') => {
                    self.i += 3;
                }
                b'$' | b'%' if self.peek(1) == Some(b'{') => {
                    self.flush(lit, start);
                    self.interpolation();
                    start = self.i;
                }
                b'\n' => {
                    self.i += 1;
                    line_start = true;
                }
                _ => {
                    self.i += self.src[self.i..].chars().next().map_or(1, char::len_utf8);
                }
            }
        }
    }

    /// `<<EOT` or `<<-EOT` with its newline, the body, the closing line.
    fn heredoc(&mut self) {
        let marker = heredoc_marker(&self.src[self.i..]).unwrap_or_default();
        let nl = self.src[self.i..]
            .find('\n')
            .map_or(self.b.len(), |e| self.i + e + 1);
        let open = self.src[self.i..nl].trim_end().to_string() + "\n";
        self.push_text(T::OHeredoc, open);
        self.i = nl;
        self.template(Some(&marker));
    }
}

fn heredoc_marker(s: &str) -> Option<String> {
    let rest = s.strip_prefix("<<")?;
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let line = rest.split('\n').next()?.trim_end_matches('\r');
    let ok = !line.is_empty()
        && line
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && rest.len() > line.len();
    ok.then(|| line.to_string())
}

fn lex(src: &str) -> Vec<Tok> {
    let mut lx = Lexer {
        src,
        b: src.as_bytes(),
        i: 0,
        out: Vec::new(),
    };
    lx.normal(false);
    lx.out
}

/// hclwrite's `tokenBracketChange`.
fn bracket(t: T) -> i64 {
    match t {
        T::OBrace | T::OBrack | T::OParen | T::TemplateInterp | T::TemplateControl => 1,
        T::CBrace | T::CBrack | T::CParen | T::TemplateSeqEnd => -1,
        _ => 0,
    }
}

/// hclwrite's `spaceAfterToken`: whether `subject` (preceded by
/// `before`, `None` at the start of a cell) is followed by a space.
fn space_after(subject: &Tok, before: Option<&Tok>, after: &Tok) -> bool {
    use T::*;
    let (s, a) = (subject.t, after.t);
    let b = before.map(|t| t.t);
    if s == Ident && a == OParen {
        // No space between a function's name and its arguments.
        return false;
    }
    if (s == Ident && a == DoubleColon) || (s == DoubleColon && a == Ident) {
        return false;
    }
    if s == Dot || a == Dot {
        return false;
    }
    if a == Comma || a == Ellipsis {
        return false;
    }
    if s == Comma {
        return true;
    }
    if matches!(s, QuotedLit | StringLit | OQuote | OHeredoc)
        || matches!(a, QuotedLit | StringLit | CQuote | CHeredoc)
    {
        // Template text is kept as written.
        return false;
    }
    if s == Ident && subject.text == "in" && b == Some(Ident) {
        // `[for x in [foo]: x]`: `in` is the keyword, not a reference.
        return true;
    }
    if a == OBrack && (s == Ident || s == Number || bracket(s) < 0) {
        return false;
    }
    if s == Bang {
        return false;
    }
    if s == Minus {
        // A negation (after nothing, an opener, a separator or an
        // operator) keeps its operand; a subtraction is spaced.
        return !matches!(
            b,
            None | Some(
                OParen
                    | OBrace
                    | OBrack
                    | Equal
                    | Colon
                    | Comma
                    | Question
                    | Plus
                    | Star
                    | Slash
                    | Percent
                    | Minus
                    | EqualOp
                    | NotEqual
                    | Gt
                    | Gte
                    | Lt
                    | Lte
                    | And
                    | Or
                    | Bang
            )
        );
    }
    if s == OBrace || a == CBrace {
        // Braces are spaced inside (`{ a = 1 }`), except `{}`.
        return !(s == OBrace && a == CBrace);
    }
    if matches!(s, TemplateInterp | TemplateControl) && a == OBrace {
        return true;
    }
    if s == CBrace && a == TemplateSeqEnd {
        return true;
    }
    if s == TemplateSeqEnd && matches!(a, TemplateInterp | TemplateControl) {
        return false;
    }
    if bracket(s) > 0 || bracket(a) < 0 {
        return false;
    }
    true
}

/// One line: hclwrite's `lead`, `assign` (from the argument's `=`) and
/// `comment` cells, and whether a newline ends it.
struct Line {
    lead: Vec<Tok>,
    assign: Vec<Tok>,
    comment: Option<Tok>,
    newline: bool,
}

fn columns(toks: &[Tok]) -> usize {
    toks.iter().map(|t| t.spaces + t.text.chars().count()).sum()
}

/// Formats `src` canonically; `name` is used in the error for invalid HCL.
pub fn format(name: &str, src: &str) -> Result<String, ConfigError> {
    if let Err(e) = hcl::edit::parser::parse_body(src) {
        let loc = e.location();
        let mut ce = ConfigError::new(format!("invalid HCL: {}", e.message()));
        ce.location = Some(Location {
            file: name.into(),
            line: loc.line(),
            column: loc.column(),
        });
        ce.hint = Some("fix the syntax error; `fmt` only formats valid files".into());
        return Err(ce);
    }

    // Lines, split into cells.
    let mut lines: Vec<Line> = Vec::new();
    let mut cur: Vec<Tok> = Vec::new();
    let finish = |toks: Vec<Tok>, newline: bool, lines: &mut Vec<Line>| {
        let mut lead = toks;
        let comment = if lead.len() > 1 && lead.last().is_some_and(|t| t.line_comment) {
            lead.pop()
        } else {
            None
        };
        let mut assign = Vec::new();
        if let Some(i) = lead
            .iter()
            .skip(1)
            .position(|t| t.t == T::Equal)
            .map(|i| i + 1)
        {
            // Only a whole expression after the `=` makes an argument
            // line; an opened bracket continues on the next lines.
            if lead[i..].iter().map(|t| bracket(t.t)).sum::<i64>() == 0 {
                assign = lead.split_off(i);
            }
        }
        lines.push(Line {
            lead,
            assign,
            comment,
            newline,
        });
    };
    for t in lex(src) {
        if t.t == T::Newline {
            finish(std::mem::take(&mut cur), true, &mut lines);
        } else {
            cur.push(t);
        }
    }
    if !cur.is_empty() {
        finish(cur, false, &mut lines);
    }

    // Indentation (hclwrite's `formatIndent`): a line opening brackets
    // pushes their count; one closing them pops levels until all closed.
    let mut indents: Vec<i64> = Vec::new();
    for line in &mut lines {
        if line.lead.is_empty() {
            continue;
        }
        let mut net = 0;
        for t in &line.lead {
            net += bracket(t.t);
            if t.t == T::OHeredoc {
                break;
            }
        }
        net += line.assign.iter().map(|t| bracket(t.t)).sum::<i64>();
        if net < 0 {
            let mut closed = -net;
            while closed > 0 {
                let Some(last) = indents.last_mut() else {
                    break;
                };
                if closed >= *last {
                    closed -= *last;
                    indents.pop();
                } else {
                    *last -= closed;
                    closed = 0;
                }
            }
        }
        line.lead[0].spaces = 2 * indents.len();
        if net > 0 {
            indents.push(net);
        }
    }

    // Spaces between the tokens of each cell.
    let space_cell = |cell: &mut Vec<Tok>| {
        for i in 0..cell.len().saturating_sub(1) {
            let space = space_after(&cell[i], i.checked_sub(1).map(|j| &cell[j]), &cell[i + 1]);
            cell[i + 1].spaces = usize::from(space);
        }
    };
    for line in &mut lines {
        space_cell(&mut line.lead);
        space_cell(&mut line.assign);
        if let Some(first) = line.assign.first_mut() {
            first.spaces = 1;
        }
    }

    // Alignment (hclwrite's `formatCells`): the `=` of consecutive
    // argument lines, then the comments of consecutive commented lines.
    let mut i = 0;
    while i < lines.len() {
        if lines[i].assign.is_empty() {
            i += 1;
            continue;
        }
        let start = i;
        while i < lines.len() && !lines[i].assign.is_empty() {
            i += 1;
        }
        let max = lines[start..i]
            .iter()
            .map(|l| columns(&l.lead))
            .max()
            .unwrap_or(0);
        for l in &mut lines[start..i] {
            let pad = max - columns(&l.lead) + 1;
            l.assign[0].spaces = pad;
        }
    }
    let mut i = 0;
    while i < lines.len() {
        if lines[i].comment.is_none() {
            i += 1;
            continue;
        }
        let start = i;
        while i < lines.len() && lines[i].comment.is_some() {
            i += 1;
        }
        let width = |l: &Line| columns(&l.lead) + columns(&l.assign);
        let max = lines[start..i].iter().map(width).max().unwrap_or(0);
        for l in &mut lines[start..i] {
            let pad = max - width(l) + 1;
            if let Some(c) = &mut l.comment {
                c.spaces = pad;
            }
        }
    }

    let mut out = String::new();
    for l in &lines {
        for t in l.lead.iter().chain(&l.assign).chain(&l.comment) {
            out.push_str(&" ".repeat(t.spaces));
            out.push_str(&t.text);
        }
        if l.newline {
            out.push('\n');
        }
    }
    let trimmed = out.trim_end_matches('\n');
    let leading = trimmed.trim_start_matches('\n');
    if leading.is_empty() {
        return Ok(String::new());
    }
    Ok(format!("{leading}\n"))
}

/// A unified diff from `old` to `new` for `fmt -diff`, with `name` in the
/// headers (`old/NAME`, `new/NAME`, as Packer prints them).
pub fn unified_diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("old/{name}"), &format!("new/{name}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::format;

    /// Formats `src`, checks the result is stable, and returns it.
    fn fmt(src: &str) -> String {
        let once = format("t.pkr.hcl", src).unwrap();
        assert_eq!(
            format("t.pkr.hcl", &once).unwrap(),
            once,
            "not idempotent: {src:?}"
        );
        once
    }

    #[test]
    fn indents_aligns_and_spaces() {
        let src = "source \"null\" \"x\"{\ncommunicator=\"none\"\n    ssh_username = \"u\" # who\n  tags = {\n  a=1\n   bbb = [1,2 , 3]\n  }\n}\n\n\nbuild {\n  sources=[\"source.null.x\"]\n}\n\n";
        let want = "source \"null\" \"x\" {\n  communicator = \"none\"\n  ssh_username = \"u\" # who\n  tags = {\n    a   = 1\n    bbb = [1, 2, 3]\n  }\n}\n\n\nbuild {\n  sources = [\"source.null.x\"]\n}\n";
        assert_eq!(fmt(src), want);
    }

    /// Before and after pairs, as `packer fmt` (hclwrite) writes them.
    #[test]
    fn expressions_are_spaced_as_hclwrite_spaces_them() {
        for (before, after) in [
            ("a=1+2\n", "a = 1 + 2\n"),
            ("a = [ 1,2 ]\n", "a = [1, 2]\n"),
            ("a = f( x )\n", "a = f(x)\n"),
            ("a = f (x, y ,z)\n", "a = f(x, y, z)\n"),
            ("a = {a=1}\n", "a = { a = 1 }\n"),
            ("a = {}\n", "a = {}\n"),
            ("a = { }\n", "a = {}\n"),
            ("a = []\n", "a = []\n"),
            ("a = {\"k\"=\"v\",b=2}\n", "a = { \"k\" = \"v\", b = 2 }\n"),
            ("a = var . x . y\n", "a = var.x.y\n"),
            ("a = local.list [ 0 ]\n", "a = local.list[0]\n"),
            ("a = f(x)[0]\n", "a = f(x)[0]\n"),
            ("a = var.l[*].id\n", "a = var.l[*].id\n"),
            ("a = var.l.*.id\n", "a = var.l.*.id\n"),
            ("a = -1\n", "a = -1\n"),
            ("a = - 1\n", "a = -1\n"),
            ("a = 2 -1\n", "a = 2 - 1\n"),
            ("a = 2*-1\n", "a = 2 * -1\n"),
            ("a = [-1,- 2]\n", "a = [-1, -2]\n"),
            ("a = f(- 1)\n", "a = f(-1)\n"),
            ("a = ! var.b\n", "a = !var.b\n"),
            (
                "a = !var.b&&var.c||var.d\n",
                "a = !var.b && var.c || var.d\n",
            ),
            ("a = x==1?\"y\":\"n\"\n", "a = x == 1 ? \"y\" : \"n\"\n"),
            (
                "a = x>=1 && x<=2 && x!=3\n",
                "a = x >= 1 && x <= 2 && x != 3\n",
            ),
            ("a = 10%3/1\n", "a = 10 % 3 / 1\n"),
            ("a = f(var.l...)\n", "a = f(var.l...)\n"),
            ("a = f(var.l ...)\n", "a = f(var.l...)\n"),
            (
                "a = [for x in xs: upper(x)]\n",
                "a = [for x in xs : upper(x)]\n",
            ),
            ("a = [for x in [1,2]: x]\n", "a = [for x in [1, 2] : x]\n"),
            (
                "a = {for k,v in m:k=>v if v!=\"\"}\n",
                "a = { for k, v in m : k => v if v != \"\" }\n",
            ),
            ("a = (1+2)*3\n", "a = (1 + 2) * 3\n"),
            ("a = 1.5e3+0.25\n", "a = 1.5e3 + 0.25\n"),
            // Template text stays; interpolations are tightened.
            (
                "a = \"x  =  ${ var.y }  z\"\n",
                "a = \"x  =  ${var.y}  z\"\n",
            ),
            ("a = \"${ a }${ b }\"\n", "a = \"${a}${b}\"\n"),
            ("a = \"${~ a ~}\"\n", "a = \"${~a~}\"\n"),
            ("a = \"${ {a=1} }\"\n", "a = \"${ { a = 1 } }\"\n"),
            (
                "a = \"%{ if x }y%{ endif }\"\n",
                "a = \"%{if x}y%{endif}\"\n",
            ),
            ("a = \"$${ x } %%{ y }\"\n", "a = \"$${ x } %%{ y }\"\n"),
            ("a = \"say \\\"${ x }\\\"\"\n", "a = \"say \\\"${x}\\\"\"\n"),
            ("a = \"${ f( \"}\" ) }\"\n", "a = \"${f(\"}\")}\"\n"),
            ("a = \"\"\n", "a = \"\"\n"),
            // Block headers.
            (
                "source   \"null\"   \"x\"{\n}\n",
                "source \"null\" \"x\" {\n}\n",
            ),
            ("locals{}\n", "locals {}\n"),
            ("build { name = \"b\" }\n", "build { name = \"b\" }\n"),
        ] {
            assert_eq!(fmt(before), after, "{before:?}");
        }
    }

    #[test]
    fn arguments_and_trailing_comments_align() {
        let src = "locals {\n  a = 1 # one\n  bbb = 22 # two\n  cc = [ 1 ] // three\n\n  d = 4 # alone\n  long_name = {\n    x=1\n    yy=2\n  }\n  e = 5\n}\n";
        let want = "locals {\n  a   = 1   # one\n  bbb = 22  # two\n  cc  = [1] // three\n\n  d = 4 # alone\n  long_name = {\n    x  = 1\n    yy = 2\n  }\n  e = 5\n}\n";
        assert_eq!(fmt(src), want);
    }

    #[test]
    fn multi_line_expressions_indent_by_open_brackets() {
        let src =
            "a = [\n{\nb = 1\n},\n{\nc = f(\n1,\n2,\n)\n},\n]\nx = merge(local.a, {\ny = 1\n})\n";
        let want = "a = [\n  {\n    b = 1\n  },\n  {\n    c = f(\n      1,\n      2,\n    )\n  },\n]\nx = merge(local.a, {\n  y = 1\n})\n";
        assert_eq!(fmt(src), want);
        // hclwrite's indent stack: a line that closes and opens keeps the
        // inner level.
        let src = "a = [\n{\nb = 1\n}, {\nc = 2\n}\n]\n";
        let want = "a = [\n  {\n    b = 1\n    }, {\n    c = 2\n  }\n]\n";
        assert_eq!(fmt(src), want);
    }

    #[test]
    fn keeps_strings_heredocs_and_comments() {
        let src = "locals {\n  # a comment\n  s = \"a  =  ${ var.x }  b\"\n  h = <<-EOT\n      keep   this ${ var.y }\n      and  $${ this }\n    EOT\n  /* block\n     comment */\n  f = upper( \"x\" )\n  o = { for k, v in var.m : k => v if v != \"\" }\n    // indented comment   \n}\n";
        let got = fmt(src);
        assert!(got.contains("  s = \"a  =  ${var.x}  b\"\n"), "{got}");
        assert!(
            got.contains(
                "  h = <<-EOT\n      keep   this ${var.y}\n      and  $${ this }\n    EOT\n"
            ),
            "{got}"
        );
        assert!(got.contains("  f = upper(\"x\")\n"), "{got}");
        assert!(
            got.contains("  o = { for k, v in var.m : k => v if v != \"\" }\n"),
            "{got}"
        );
        assert!(got.contains("  /* block\n     comment */\n"), "{got}");
        assert!(got.contains("\n  # a comment\n"), "{got}");
        assert!(got.contains("\n  // indented comment\n}"), "{got}");
        // A heredoc whose body looks like HCL is left alone.
        let src = "a = <<EOT\n  x=1\n  }{[\nEOT\nb=2\n";
        assert_eq!(fmt(src), "a = <<EOT\n  x=1\n  }{[\nEOT\nb = 2\n");
    }

    #[test]
    fn blank_lines_and_line_ends() {
        assert_eq!(
            fmt("\n\n\na=1   \r\n\r\n\r\nb=2\n\n\n"),
            "a = 1\n\n\nb = 2\n"
        );
        assert_eq!(fmt("a = 1"), "a = 1\n");
        assert_eq!(fmt(""), "");
        assert_eq!(fmt("# only\n"), "# only\n");
    }

    /// A varied file, formatted by the real `packer fmt` (Debian's packer
    /// 1.6.6, which scripts/install-deps.sh installs) and by kiln: the
    /// results are the same. The sample avoids what is known to differ
    /// (`!`, trailing spaces in comments, blank lines at the ends).
    #[test]
    fn matches_packer_fmt() {
        const SAMPLE: &str = r#"# top comment
variable "x"{
  type=list( string )
  default=["a" ,"b"]   # trailing
  description = <<-EOT
    Some ${ var.y } text
      indented
    EOT
}

source "docker" "d" {
image="alpine" // c1
commit=true /* c2 */
changes = [
"ENV A=1",
  "ENV B=2" , # after comma
]
  dynamic "tag" {
for_each = var.tags
content {
key=tag.key
value = tag.value
}
  }
}
/* multi
   line */
build {
  sources = ["source.docker.d"]
  provisioner "shell" {
    inline = [ "echo ${ build.ID }" , "echo $${HOME}" ]
    environment_vars = concat(
      ["A=${var.x[0]}"],
      [for v in var.list : "B=${ v }"],
    )
    pause_before="10s"
  }
  post-processor "manifest" {}
}
locals {
  a=1+2
  b = [ 1,2 ]
  c = f( x )
  d = {a=1}
  e = - 1
  f2 = 2*-1
  h = x==1?"y":"n"
  i = [for x in xs: upper(x)]
  j = {for k,v in m:k=>v if v!=""}
  k = "x  =  ${ var.y }  z"
  l = "%{ if x }y%{ endif }"
  m = "${~ a ~}"
  n = "${ {a=1} }"
  o = local.list [ 0 ]
  p = f(var.l ...)
  q = 1 # one
  rrr = 22 # two
  s = [ 1 ] // three
  t = <<EOT
  keep ${ var.x }
EOT
  u = [for x in [1,2]: x]
  nn = -var.a
  mm = var.a-1
  oo = (var.a)-1
  pp = var.l[*].id
  qq = var.m["k"]
  r = [ ]
  ss = { }
  tt = true&&false
  uu = var.a<var.b
  v = 1.5e-3*2
  w = try(var.a,null)
  xx = var.cond ? [] : [1]
  y = { "a b" = 1, c : 2 }
  z = "a" == "b"
}
x = [
{
b = 1
}, {
c = 2
}
]
"#;
        let packer = std::process::Command::new("packer").arg("version").output();
        assert!(
            packer.is_ok_and(|o| o.status.success()),
            "packer is not installed: run scripts/install-deps.sh"
        );
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("t.pkr.hcl");
        std::fs::write(&file, SAMPLE).unwrap();
        let out = std::process::Command::new("packer")
            .arg("fmt")
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs = std::fs::read_to_string(&file).unwrap();
        assert_ne!(theirs, SAMPLE, "packer changed nothing");
        assert_eq!(fmt(SAMPLE), theirs);
    }

    #[test]
    fn invalid_hcl_is_a_located_error() {
        let e = format("t.pkr.hcl", "a = [\n").unwrap_err();
        assert!(e.to_string().starts_with("t.pkr.hcl:"), "{e}");
    }
}
