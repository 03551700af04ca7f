//! `env_var_format`: the Go `fmt.Sprintf` pattern that turns each
//! environment variable into shell text for `{{.Vars}}` (`"%s='%s' "` by
//! default). Parsed once in `prepare` into literal pieces and two
//! placeholders, so a bad pattern is a config error rather than garbage in a
//! shell command. Holds no resources; nothing to clean up.

/// One piece of a parsed format.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// Text copied as it is (`%%` already folded to `%`).
    Literal(String),
    /// The variable's name.
    Name,
    /// The variable's value.
    Value,
}

/// A parsed `env_var_format`: literal text around exactly two `%s`
/// placeholders, the first for the name and the second for the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvVarFormat {
    pieces: Vec<Piece>,
}

impl EnvVarFormat {
    /// Parses a Go format string. `%s` and `%v` are placeholders, `%%` is a
    /// literal `%`; any other verb, or a count of placeholders other than
    /// two, is an error (Go would print `%!d(string=…)` or `%!(EXTRA …)`
    /// into the command instead).
    pub(crate) fn parse(format: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut placeholders = 0usize;
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                literal.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => literal.push('%'),
                Some('s') | Some('v') => {
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(if placeholders == 0 {
                        Piece::Name
                    } else {
                        Piece::Value
                    });
                    placeholders += 1;
                }
                Some(other) => {
                    return Err(format!(
                        "unsupported verb `%{other}` in `{format}`; use `%s` for the name and `%s` for the value"
                    ))
                }
                None => {
                    return Err(format!(
                        "`{format}` ends with a lone `%`; write `%%` for a literal percent sign"
                    ))
                }
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        if placeholders != 2 {
            return Err(format!(
                "`{format}` has {placeholders} `%s` placeholder(s); it needs exactly two, the name then the value (like `%s='%s' `)"
            ));
        }
        Ok(EnvVarFormat { pieces })
    }

    /// Formats one variable, as `fmt.Sprintf(format, name, value)` would.
    pub(crate) fn format(&self, name: &str, value: &str) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Name => out.push_str(name),
                Piece::Value => out.push_str(value),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_sprintf() {
        let f = EnvVarFormat::parse("%s='%s' ").unwrap();
        assert_eq!(f.format("A", "b c"), "A='b c' ");
        let f = EnvVarFormat::parse("export %v=\"%s\"; echo 100%%;").unwrap();
        assert_eq!(f.format("A", "b"), "export A=\"b\"; echo 100%;");
        let f = EnvVarFormat::parse("set %s=%s && ").unwrap();
        assert_eq!(f.format("A", "b"), "set A=b && ");
    }

    #[test]
    fn rejects_bad_patterns() {
        assert!(EnvVarFormat::parse("%s").unwrap_err().contains("1 `%s`"));
        assert!(EnvVarFormat::parse("%s=%s %s")
            .unwrap_err()
            .contains("3 `%s`"));
        assert!(EnvVarFormat::parse("%s=%d")
            .unwrap_err()
            .contains("unsupported verb `%d`"));
        assert!(EnvVarFormat::parse("%s=%s%")
            .unwrap_err()
            .contains("lone `%`"));
    }
}
