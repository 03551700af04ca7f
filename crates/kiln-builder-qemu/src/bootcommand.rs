//! Packer's boot command language: literal text plus special keys
//! (`<enter>`, `<f5>`, `<leftShiftOn>`…) and waits (`<wait>`, `<wait5>`,
//! `<wait1m30s>`), parsed into [`Action`]s whose keys are QEMU qcodes, ready
//! to be sent through QMP `input-send-event`. Pure; holds no resources.

use std::time::Duration;

use kiln_sdk::duration::parse_go_duration;

/// One thing to do while typing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Press and release a key, holding shift if `shift`.
    Tap {
        /// The qcode.
        key: &'static str,
        /// Hold shift around it.
        shift: bool,
    },
    /// Press and hold (`<leftShiftOn>`).
    Down(&'static str),
    /// Release (`<leftShiftOff>`).
    Up(&'static str),
    /// Wait.
    Wait(Duration),
}

/// Why a boot command cannot be typed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BootCommandError {
    /// A character with no key on a US keyboard.
    #[error("cannot type `{0}` in `boot_command`: only ASCII characters have keys")]
    Untypeable(char),
    /// A malformed wait.
    #[error("invalid wait `<{0}>` in `boot_command`: {1}")]
    Wait(String, String),
}

fn special(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "bs" => "backspace",
        "del" => "delete",
        "enter" | "return" => "ret",
        "esc" => "esc",
        "tab" => "tab",
        "up" => "up",
        "down" => "down",
        "left" => "left",
        "right" => "right",
        "spacebar" => "spc",
        "insert" => "insert",
        "home" => "home",
        "end" => "end",
        "pageup" => "pgup",
        "pagedown" => "pgdn",
        "menu" => "menu",
        "leftalt" => "alt",
        "rightalt" => "alt_r",
        "leftctrl" => "ctrl",
        "rightctrl" => "ctrl_r",
        "leftshift" => "shift",
        "rightshift" => "shift_r",
        "leftsuper" => "meta_l",
        "rightsuper" => "meta_r",
        "f1" => "f1",
        "f2" => "f2",
        "f3" => "f3",
        "f4" => "f4",
        "f5" => "f5",
        "f6" => "f6",
        "f7" => "f7",
        "f8" => "f8",
        "f9" => "f9",
        "f10" => "f10",
        "f11" => "f11",
        "f12" => "f12",
        _ => return None,
    })
}

/// The qcode for a character and whether shift is needed.
pub fn char_key(c: char) -> Option<(&'static str, bool)> {
    const LOWER: [&str; 26] = [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r",
        "s", "t", "u", "v", "w", "x", "y", "z",
    ];
    const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    Some(match c {
        'a'..='z' => (LOWER[(c as u8 - b'a') as usize], false),
        'A'..='Z' => (LOWER[(c as u8 - b'A') as usize], true),
        '0'..='9' => (DIGITS[(c as u8 - b'0') as usize], false),
        ' ' => ("spc", false),
        '\n' => ("ret", false),
        '\t' => ("tab", false),
        '-' => ("minus", false),
        '=' => ("equal", false),
        '[' => ("bracket_left", false),
        ']' => ("bracket_right", false),
        ';' => ("semicolon", false),
        '\'' => ("apostrophe", false),
        '`' => ("grave_accent", false),
        '\\' => ("backslash", false),
        ',' => ("comma", false),
        '.' => ("dot", false),
        '/' => ("slash", false),
        '!' => ("1", true),
        '@' => ("2", true),
        '#' => ("3", true),
        '$' => ("4", true),
        '%' => ("5", true),
        '^' => ("6", true),
        '&' => ("7", true),
        '*' => ("8", true),
        '(' => ("9", true),
        ')' => ("0", true),
        '_' => ("minus", true),
        '+' => ("equal", true),
        '{' => ("bracket_left", true),
        '}' => ("bracket_right", true),
        ':' => ("semicolon", true),
        '"' => ("apostrophe", true),
        '~' => ("grave_accent", true),
        '|' => ("backslash", true),
        '<' => ("comma", true),
        '>' => ("dot", true),
        '?' => ("slash", true),
        _ => return None,
    })
}

fn parse_special(inner: &str) -> Result<Option<Vec<Action>>, BootCommandError> {
    let lower = inner.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("wait") {
        let d = if rest.is_empty() {
            Duration::from_secs(1)
        } else if rest.chars().all(|c| c.is_ascii_digit()) {
            Duration::from_secs(
                rest.parse()
                    .map_err(|e| BootCommandError::Wait(inner.into(), format!("{e}")))?,
            )
        } else {
            parse_go_duration(rest).map_err(|e| BootCommandError::Wait(inner.into(), e))?
        };
        return Ok(Some(vec![Action::Wait(d)]));
    }
    if let Some(k) = special(inner) {
        return Ok(Some(vec![Action::Tap {
            key: k,
            shift: false,
        }]));
    }
    for (suffix, down) in [("on", true), ("off", false)] {
        if let Some(base) = lower.strip_suffix(suffix) {
            if let Some(k) = special(base) {
                return Ok(Some(vec![if down {
                    Action::Down(k)
                } else {
                    Action::Up(k)
                }]));
            }
            if base.chars().count() == 1 {
                if let Some((k, _)) = base.chars().next().and_then(char_key) {
                    return Ok(Some(vec![if down {
                        Action::Down(k)
                    } else {
                        Action::Up(k)
                    }]));
                }
            }
        }
    }
    Ok(None)
}

/// Parses a rendered boot command.
pub fn parse(input: &str) -> Result<Vec<Action>, BootCommandError> {
    let mut out = Vec::new();
    let mut rest = input;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            if let Some(end) = rest.find('>') {
                let inner = &rest[1..end];
                if !inner.is_empty() && !inner.contains('<') {
                    if let Some(actions) = parse_special(inner)? {
                        out.extend(actions);
                        rest = &rest[end + 1..];
                        continue;
                    }
                }
            }
        }
        let (key, shift) = char_key(c).ok_or(BootCommandError::Untypeable(c))?;
        out.push(Action::Tap { key, shift });
        rest = &rest[c.len_utf8()..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tap(key: &'static str, shift: bool) -> Action {
        Action::Tap { key, shift }
    }

    #[test]
    fn parses_text_specials_and_waits() {
        assert_eq!(
            parse("aB<enter><wait5><wait><wait1m><leftShiftOn>x<leftShiftOff>").unwrap(),
            vec![
                tap("a", false),
                tap("b", true),
                tap("ret", false),
                Action::Wait(Duration::from_secs(5)),
                Action::Wait(Duration::from_secs(1)),
                Action::Wait(Duration::from_secs(60)),
                Action::Down("shift"),
                tap("x", false),
                Action::Up("shift"),
            ]
        );
    }

    #[test]
    fn unknown_brackets_are_literal() {
        assert_eq!(
            parse("<x>").unwrap(),
            vec![tap("comma", true), tap("x", false), tap("dot", true)]
        );
        assert_eq!(
            parse("a<").unwrap(),
            vec![tap("a", false), tap("comma", true)]
        );
    }

    #[test]
    fn rejects_non_ascii() {
        assert_eq!(parse("é"), Err(BootCommandError::Untypeable('é')));
    }

    #[test]
    fn case_insensitive_specials() {
        assert_eq!(
            parse("<F10><pageUp><Return>").unwrap(),
            vec![tap("f10", false), tap("pgup", false), tap("ret", false)]
        );
    }
}
