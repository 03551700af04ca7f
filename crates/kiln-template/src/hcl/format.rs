//! The canonical layout of HCL2 files, as `packer fmt` (HashiCorp's
//! `hclwrite.Format`) writes them: two-space indentation by nesting, one
//! space around `=` and before `{`, the `=` of consecutive one-line
//! arguments aligned, no trailing whitespace, one final newline. Comments,
//! blank lines, string contents and heredocs are kept as written. The
//! result is stable: formatting it again changes nothing.
//!
//! The file is parsed first, so invalid HCL is an error with its location
//! instead of a reformatted mess.

use kiln_sdk::config::{ConfigError, Location};

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Newline,
    Comment,
    Open,
    Close,
    Equals,
    Comma,
    /// Words, numbers, strings, heredocs, operators: kept as written.
    Other,
}

#[derive(Clone, Debug)]
struct Tok {
    kind: Kind,
    text: String,
    space_before: bool,
}

fn lex(src: &str) -> Vec<Tok> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut space = false;
    let push = |out: &mut Vec<Tok>, kind: Kind, text: &str, space: &mut bool| {
        out.push(Tok {
            kind,
            text: text.to_string(),
            space_before: *space,
        });
        *space = false;
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\r' => {
                space = true;
                i += 1;
            }
            b'\n' => {
                push(&mut out, Kind::Newline, "\n", &mut space);
                i += 1;
            }
            b'#' => {
                let end = src[i..].find('\n').map_or(b.len(), |e| i + e);
                push(&mut out, Kind::Comment, src[i..end].trim_end(), &mut space);
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                let end = src[i..].find('\n').map_or(b.len(), |e| i + e);
                push(&mut out, Kind::Comment, src[i..end].trim_end(), &mut space);
                i = end;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = src[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
                push(&mut out, Kind::Comment, &src[i..end], &mut space);
                i = end;
            }
            b'{' | b'[' | b'(' => {
                push(&mut out, Kind::Open, &src[i..i + 1], &mut space);
                i += 1;
            }
            b'}' | b']' | b')' => {
                push(&mut out, Kind::Close, &src[i..i + 1], &mut space);
                i += 1;
            }
            b',' => {
                push(&mut out, Kind::Comma, ",", &mut space);
                i += 1;
            }
            b'=' if !matches!(b.get(i + 1), Some(b'=') | Some(b'>')) => {
                push(&mut out, Kind::Equals, "=", &mut space);
                i += 1;
            }
            b'"' => {
                let end = string_end(src, i);
                push(&mut out, Kind::Other, &src[i..end], &mut space);
                i = end;
            }
            b'<' if src[i..].starts_with("<<") && heredoc_marker(&src[i..]).is_some() => {
                let end = heredoc_end(src, i);
                push(&mut out, Kind::Other, &src[i..end], &mut space);
                i = end;
            }
            _ => {
                // A run of word characters, or one operator (two for `==`, …).
                let start = i;
                if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
                    while i < b.len()
                        && (b[i].is_ascii_alphanumeric()
                            || matches!(b[i], b'_' | b'-' | b'.')
                            || b[i] >= 0x80)
                    {
                        i += 1;
                    }
                } else {
                    let two = src.get(i..i + 2).unwrap_or("");
                    i += if matches!(two, "==" | "!=" | "<=" | ">=" | "&&" | "||" | "=>") {
                        2
                    } else if src[i..].starts_with("...") {
                        3
                    } else {
                        src[i..].chars().next().map_or(1, char::len_utf8)
                    };
                }
                push(&mut out, Kind::Other, &src[start..i], &mut space);
            }
        }
    }
    out
}

/// The end of a quoted string starting at `start` (its `"`), skipping
/// escapes and `${ … }` / `%{ … }` sequences, which may hold strings.
fn string_end(src: &str, start: usize) -> usize {
    let b = src.as_bytes();
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' => return i,
            b'$' | b'%' if b.get(i + 1) == Some(&b'{') => {
                if b.get(i.wrapping_sub(1)) == Some(&b[i]) {
                    i += 2;
                    continue;
                }
                i = interp_end(src, i + 2);
            }
            _ => i += 1,
        }
    }
    b.len()
}

fn interp_end(src: &str, mut i: usize) -> usize {
    let b = src.as_bytes();
    let mut depth = 1;
    while i < b.len() {
        match b[i] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            b'"' => {
                i = string_end(src, i);
                continue;
            }
            b'\n' => return i,
            _ => {}
        }
        i += 1;
    }
    b.len()
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

/// A heredoc runs to the line that holds only its marker (indented for
/// `<<-`); the token ends before that line's newline.
fn heredoc_end(src: &str, start: usize) -> usize {
    let Some(marker) = heredoc_marker(&src[start..]) else {
        return start + 2;
    };
    let mut pos = src[start..].find('\n').map_or(src.len(), |e| start + e + 1);
    while pos < src.len() {
        let end = src[pos..].find('\n').map_or(src.len(), |e| pos + e);
        if src[pos..end].trim() == marker {
            return end;
        }
        pos = end + 1;
    }
    src.len()
}

struct Line {
    depth: usize,
    toks: Vec<Tok>,
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
    let toks = lex(src);
    let mut lines: Vec<Line> = Vec::new();
    let mut depth: usize = 0;
    let mut cur: Vec<Tok> = Vec::new();
    let mut line_depth = 0;
    for t in toks {
        if t.kind == Kind::Newline {
            lines.push(Line {
                depth: line_depth,
                toks: std::mem::take(&mut cur),
            });
            continue;
        }
        if cur.is_empty() {
            line_depth = if t.kind == Kind::Close {
                depth.saturating_sub(1)
            } else {
                depth
            };
        }
        match t.kind {
            Kind::Open => depth += 1,
            Kind::Close => depth = depth.saturating_sub(1),
            _ => {}
        }
        cur.push(t);
    }
    if !cur.is_empty() {
        lines.push(Line {
            depth: line_depth,
            toks: cur,
        });
    }

    // Render each line's tokens, then align runs of one-line arguments.
    let rendered: Vec<(usize, String, Option<usize>)> = lines
        .iter()
        .map(|l| {
            let (text, eq) = render(&l.toks);
            let alignable = eq.is_some() && balanced(&l.toks);
            (l.depth, text, if alignable { eq } else { None })
        })
        .collect();
    let mut out = String::new();
    let mut i = 0;
    while i < rendered.len() {
        if rendered[i].2.is_none() {
            push_line(&mut out, rendered[i].0, &rendered[i].1);
            i += 1;
            continue;
        }
        let start = i;
        while i < rendered.len() && rendered[i].2.is_some() && rendered[i].0 == rendered[start].0 {
            i += 1;
        }
        let width = rendered[start..i]
            .iter()
            .map(|r| r.1[..r.2.unwrap_or(0)].chars().count())
            .max()
            .unwrap_or(0);
        for (d, text, eq) in &rendered[start..i] {
            let eq = eq.unwrap_or(0);
            let key = &text[..eq];
            let pad = width - key.chars().count();
            push_line(
                &mut out,
                *d,
                &format!("{key}{}{}", " ".repeat(pad), &text[eq..]),
            );
        }
    }
    let trimmed = out.trim_end_matches('\n');
    let leading = trimmed.trim_start_matches('\n');
    if leading.is_empty() {
        return Ok(String::new());
    }
    Ok(format!("{leading}\n"))
}

fn push_line(out: &mut String, depth: usize, text: &str) {
    if !text.is_empty() {
        out.push_str(&"  ".repeat(depth));
        out.push_str(text);
    }
    out.push('\n');
}

fn balanced(toks: &[Tok]) -> bool {
    let mut d: i64 = 0;
    for t in toks {
        match t.kind {
            Kind::Open => d += 1,
            Kind::Close => d -= 1,
            _ => {}
        }
    }
    d == 0
}

/// A line's text, and the byte offset of its argument `=` (the second
/// token, after the key) when it is `key = …`.
fn render(toks: &[Tok]) -> (String, Option<usize>) {
    let mut s = String::new();
    let mut eq = None;
    for (i, t) in toks.iter().enumerate() {
        if i > 0 {
            let prev = &toks[i - 1];
            let space = match (&prev.kind, &t.kind) {
                (_, Kind::Equals) | (Kind::Equals, _) => true,
                (Kind::Open, _) if prev.text == "{" => t.kind != Kind::Close || t.space_before,
                (_, Kind::Close) if t.text == "}" => prev.kind != Kind::Open || t.space_before,
                (Kind::Other, Kind::Open) if t.text == "{" => true,
                (Kind::Close, Kind::Open) if t.text == "{" => true,
                (_, Kind::Comment) => true,
                (_, Kind::Comma) => false,
                (Kind::Comma, _) => true,
                (Kind::Open, _) | (_, Kind::Close) => false,
                _ => t.space_before,
            };
            if space {
                s.push(' ');
            }
        }
        if i == 1 && t.kind == Kind::Equals && toks[0].kind == Kind::Other {
            eq = Some(s.len() - 1);
        }
        s.push_str(&t.text);
    }
    (s, eq)
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

    #[test]
    fn indents_aligns_and_spaces() {
        let src = "source \"null\" \"x\"{\ncommunicator=\"none\"\n    ssh_username = \"u\" # who\n  tags = {\n  a=1\n   bbb = [1,2 , 3]\n  }\n}\n\n\nbuild {\n  sources=[\"source.null.x\"]\n}\n\n";
        let want = "source \"null\" \"x\" {\n  communicator = \"none\"\n  ssh_username = \"u\" # who\n  tags = {\n    a   = 1\n    bbb = [1, 2, 3]\n  }\n}\n\n\nbuild {\n  sources = [\"source.null.x\"]\n}\n";
        let got = format("t.pkr.hcl", src).unwrap();
        assert_eq!(got, want);
        assert_eq!(format("t.pkr.hcl", &got).unwrap(), got, "idempotent");
    }

    #[test]
    fn keeps_strings_heredocs_and_comments() {
        let src = "locals {\n  # a comment\n  s = \"a  =  ${ var.x }  b\"\n  h = <<-EOT\n      keep   this\n    EOT\n  /* block\n     comment */\n  f = upper( \"x\" )\n  o = { for k, v in var.m : k => v if v != \"\" }\n}\n";
        let got = format("t.pkr.hcl", src).unwrap();
        assert!(got.contains("  s = \"a  =  ${ var.x }  b\"\n"), "{got}");
        assert!(got.contains("      keep   this\n    EOT\n"), "{got}");
        assert!(got.contains("  f = upper(\"x\")\n"), "{got}");
        assert!(
            got.contains("  o = { for k, v in var.m : k => v if v != \"\" }\n"),
            "{got}"
        );
        assert!(got.contains("  /* block\n     comment */\n"), "{got}");
        assert_eq!(format("t.pkr.hcl", &got).unwrap(), got, "idempotent");
    }

    #[test]
    fn invalid_hcl_is_a_located_error() {
        let e = format("t.pkr.hcl", "a = [\n").unwrap_err();
        assert!(e.to_string().starts_with("t.pkr.hcl:"), "{e}");
    }
}
