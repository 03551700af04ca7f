//! Command-line flags the way Go's `flag` package (and so Packer) reads
//! them: `-name`, `--name`, `-name=value`, `-name value` for non-boolean
//! flags, `-name=false` for booleans. Unlike Go's, flags may also follow
//! the arguments (`kiln build t.json -force`, which Packer rejects with its
//! usage), as most command-line tools allow; after `--` everything is an
//! argument.

use std::collections::BTreeMap;

/// What a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `-flag` or `-flag=true|false`.
    Bool,
    /// `-flag value` or `-flag=value`; the last one wins.
    Value,
    /// Like `Value`, but every occurrence is kept (`-var`).
    Repeated,
}

/// One flag a command accepts.
pub struct Flag {
    /// Its name, without dashes.
    pub name: &'static str,
    /// What it takes.
    pub kind: Kind,
}

impl Flag {
    /// A flag called `name` taking `kind`.
    pub const fn new(name: &'static str, kind: Kind) -> Flag {
        Flag { name, kind }
    }
}

/// Parsed flags plus the remaining arguments.
#[derive(Debug, Default)]
pub struct Parsed {
    values: BTreeMap<&'static str, Vec<String>>,
    /// Arguments after the flags.
    pub args: Vec<String>,
    /// `-h`/`-help`/`--help` was given.
    pub help: bool,
}

impl Parsed {
    /// A boolean flag's value.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, String> {
        match self.values.get(name).and_then(|v| v.last()) {
            None => Ok(None),
            Some(v) => match v.as_str() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Some(true)),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(Some(false)),
                other => Err(format!(
                    "invalid boolean value `{other}` for flag `-{name}`"
                )),
            },
        }
    }
    /// A boolean flag, false when absent.
    pub fn flag(&self, name: &str) -> Result<bool, String> {
        Ok(self.bool(name)?.unwrap_or(false))
    }
    /// A value flag's last value.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }
    /// Every value of a repeated flag.
    pub fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
    /// Comma-separated lists, merged over every occurrence (`-only=a,b`).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.all(name)
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    }
}

/// Parses `args` against `flags`.
pub fn parse(args: &[String], flags: &[Flag]) -> Result<Parsed, String> {
    let mut out = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            out.args.extend(args[i + 1..].iter().cloned());
            break;
        }
        if !a.starts_with('-') || a == "-" {
            out.args.push(a.clone());
            i += 1;
            continue;
        }
        let body = a.strip_prefix("--").unwrap_or(&a[1..]);
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        if matches!(name, "h" | "help") {
            out.help = true;
            i += 1;
            continue;
        }
        let Some(flag) = flags.iter().find(|f| f.name == name) else {
            let known: Vec<&str> = flags.iter().map(|f| f.name).collect();
            let hint = kiln_sdk::config::did_you_mean(name, known.iter().copied())
                .map(|s| format!(" (did you mean `-{s}`?)"))
                .unwrap_or_default();
            return Err(format!("flag provided but not defined: `-{name}`{hint}"));
        };
        let value = match (flag.kind, inline) {
            (Kind::Bool, Some(v)) => v,
            (Kind::Bool, None) => "true".to_string(),
            (_, Some(v)) => v,
            (_, None) => {
                i += 1;
                args.get(i)
                    .cloned()
                    .ok_or_else(|| format!("flag needs an argument: `-{name}`"))?
            }
        };
        out.values.entry(flag.name).or_default().push(value);
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[Flag] = &[
        Flag::new("var", Kind::Repeated),
        Flag::new("only", Kind::Repeated),
        Flag::new("color", Kind::Bool),
        Flag::new("force", Kind::Bool),
        Flag::new("parallel-builds", Kind::Value),
    ];

    fn p(args: &[&str]) -> Result<Parsed, String> {
        parse(
            &args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            FLAGS,
        )
    }

    #[test]
    fn go_flag_syntax() {
        let r = p(&[
            "-var",
            "a=1",
            "--var=b=2",
            "-only=x,y",
            "-color=false",
            "--force",
            "-parallel-builds",
            "3",
            "t.json",
            "--",
            "-x",
        ])
        .unwrap();
        assert_eq!(r.all("var"), ["a=1", "b=2"]);
        assert_eq!(r.list("only"), ["x", "y"]);
        assert_eq!(r.bool("color").unwrap(), Some(false));
        assert!(r.flag("force").unwrap());
        assert_eq!(r.value("parallel-builds"), Some("3"));
        assert_eq!(r.args, ["t.json", "-x"]);
    }

    #[test]
    fn flags_may_follow_the_template() {
        let r = p(&["t.json", "-force", "-var", "a=1", "-"]).unwrap();
        assert!(r.flag("force").unwrap());
        assert_eq!(r.all("var"), ["a=1"]);
        assert_eq!(r.args, ["t.json", "-"]);
        assert!(p(&["t.json", "-forc"])
            .unwrap_err()
            .contains("did you mean `-force`?"));
    }

    #[test]
    fn unknown_flags_get_a_hint() {
        let e = p(&["-forc"]).unwrap_err();
        assert!(e.contains("did you mean `-force`?"), "{e}");
        assert!(p(&["-var"]).unwrap_err().contains("needs an argument"));
    }
}
