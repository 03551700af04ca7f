//! `kiln_template::json::parse` never panics, positions are 1-based, and it
//! agrees with `serde_json` on every document both accept or reject, apart
//! from the documented differences (see `fuzz/README.md`).
#![no_main]

use kiln_template::json::{self, Node, Pos, Spanned};
use libfuzzer_sys::fuzz_target;

/// The character at a 1-based line and column (columns on the first line
/// count from after a byte order mark).
fn char_at(src: &str, line: usize, column: usize) -> Option<char> {
    let text = src.split('\n').nth(line.checked_sub(1)?)?;
    let text = if line == 1 {
        text.strip_prefix('\u{feff}').unwrap_or(text)
    } else {
        text
    };
    text.chars().nth(column.checked_sub(1)?)
}

/// Every value's and key's position is that of its first character.
fn check_positions(src: &str, v: &Spanned) {
    let first = char_at(src, v.pos.line, v.pos.column);
    let ok = match &v.node {
        Node::Null => first == Some('n'),
        Node::Bool(b) => first == Some(if *b { 't' } else { 'f' }),
        Node::Number(_) => first.is_some_and(|c| c == '-' || c.is_ascii_digit()),
        Node::String(_) => first == Some('"'),
        Node::Array(_) => first == Some('['),
        Node::Object(_) => first == Some('{'),
    };
    assert!(ok, "{:?} at {:?} starts with {first:?}", v.node, v.pos);
    match &v.node {
        Node::Array(items) => items.iter().for_each(|i| check_positions(src, i)),
        Node::Object(entries) => {
            for (_, kpos, item) in entries {
                assert_eq!(
                    char_at(src, kpos.line, kpos.column),
                    Some('"'),
                    "key at {kpos:?}"
                );
                check_positions(src, item);
            }
        }
        _ => {}
    }
}

/// True when a string holds a `\uXXXX` escape of a UTF-16 surrogate that
/// is not part of a valid pair.
fn has_lone_surrogate(src: &str) -> bool {
    let b = src.as_bytes();
    let hex = |i: usize| {
        src.get(i..i + 4)
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        if b.get(i + 1) != Some(&b'u') {
            i += 2;
            continue;
        }
        match hex(i + 2) {
            Some(0xD800..=0xDBFF) => {
                let lo = (b.get(i + 6) == Some(&b'\\') && b.get(i + 7) == Some(&b'u'))
                    .then(|| hex(i + 8))
                    .flatten();
                if matches!(lo, Some(0xDC00..=0xDFFF)) {
                    i += 12;
                } else {
                    return true;
                }
            }
            Some(0xDC00..=0xDFFF) => return true,
            _ => i += 2,
        }
    }
    false
}

/// Where serde_json and Go's `encoding/json` (which the parser follows)
/// disagree: serde_json stops at 128 levels, rejects lone surrogate escapes
/// (Go turns them into U+FFFD) and a byte order mark (Packer tolerates it).
fn known_difference(src: &str, serde_err: &serde_json::Error) -> bool {
    src.starts_with('\u{feff}')
        || serde_err.to_string().contains("recursion limit exceeded")
        || has_lone_surrogate(src)
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let ours = json::parse(src);
    let theirs = serde_json::from_str::<serde_json::Value>(src);
    match (&ours, &theirs) {
        (Ok(v), Ok(expected)) => {
            check_positions(src, v);
            assert_eq!(&v.to_value(), expected, "input: {src:?}");
        }
        (Ok(v), Err(e)) => {
            check_positions(src, v);
            assert!(
                known_difference(src, e),
                "parse accepted what serde_json rejects ({e}): {src:?}"
            );
        }
        (Err(e), Ok(_)) => panic!("parse rejected valid JSON ({e}): {src:?}"),
        (Err(e), Err(_)) => {
            let lines = src.split('\n').count();
            assert!(e.pos != Pos::default() && e.pos.line <= lines, "{e:?}");
        }
    }
});
