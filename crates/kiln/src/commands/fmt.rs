//! `kiln fmt`: rewrite HCL2 files (`*.pkr.hcl`, `*.pkrvars.hcl`) in the
//! canonical layout, as `packer fmt` does. Each file is formatted by
//! [`kiln_fix::format`]; a file is only written when its text
//! changes, in place, through a temporary file renamed over it (so an
//! interrupted run leaves either the old or the new file).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use kiln_fix::format;
use kiln_sdk::config::ConfigErrors;

use super::common;
use crate::cli::{Flag, Kind};

pub const USAGE: &str = "Usage: kiln fmt [options] [TEMPLATE...]

  Rewrites all HCL2 configuration files (*.pkr.hcl, *.pkrvars.hcl) to a
  canonical format. Both configuration files and variable files are
  formatted. Non-HCL2 files are ignored. A TEMPLATE may be a file or a
  directory (the current directory when none is given). If TEMPLATE is `-`,
  the input is read from stdin and the result written to stdout.

Options:

  -check        Check if the input is formatted. Exit status will be 0 if
                all input is properly formatted and 3 otherwise.
  -diff         Display diffs of formatting changes.
  -write=false  Don't write to source files (always false when using -check
                or reading from stdin).
  -recursive    Also process files in subdirectories. By default, only the
                given directory (or current directory) is processed.
";

pub const FLAGS: &[Flag] = &[
    Flag::new("check", Kind::Bool),
    Flag::new("diff", Kind::Bool),
    Flag::new("write", Kind::Bool),
    Flag::new("recursive", Kind::Bool),
];

/// Whether formatted files are written, listed or printed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Rewrite changed files and list them.
    Write,
    /// List the files that are not formatted (`-check`).
    Check,
    /// Print the formatted text (`-write=false`).
    Print,
}

fn is_hcl_file(p: &Path) -> bool {
    let s = p.to_string_lossy();
    s.ends_with(".pkr.hcl") || s.ends_with(".pkrvars.hcl")
}

fn collect(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read directory `{}`: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if recursive {
                collect(&p, recursive, out)?;
            }
        } else if is_hcl_file(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Runs `kiln fmt`.
pub fn run(args: Vec<String>) -> u8 {
    let parsed = match crate::cli::parse(&args, FLAGS) {
        Ok(p) => p,
        Err(e) => return common::usage_error(&e, USAGE),
    };
    if parsed.help {
        print!("{USAGE}");
        return 0;
    }
    let flag = |n: &str| parsed.bool(n).map(|v| v.unwrap_or(false));
    let (check, diff, recursive) = match (flag("check"), flag("diff"), flag("recursive")) {
        (Ok(c), Ok(d), Ok(r)) => (c, d, r),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return common::usage_error(&e, USAGE),
    };
    let write = match parsed.bool("write") {
        Ok(w) => w.unwrap_or(true),
        Err(e) => return common::usage_error(&e, USAGE),
    };
    let mode = if check {
        Mode::Check
    } else if write {
        Mode::Write
    } else {
        Mode::Print
    };

    if parsed.args.iter().any(|a| a == "-") {
        if parsed.args.len() > 1 {
            return common::usage_error("`-` (stdin) cannot be combined with other paths", USAGE);
        }
        let mut src = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut src) {
            eprintln!("error: cannot read standard input: {e}");
            return 1;
        }
        return match format::format("<stdin>", &src) {
            Ok(out) => {
                if diff && out != src {
                    print!("{}", format::unified_diff("<stdin>", &src, &out));
                }
                if mode == Mode::Check {
                    return if out == src { 0 } else { 3 };
                }
                if !diff {
                    print!("{out}");
                }
                0
            }
            Err(e) => {
                eprint!("{}", common::render_errors(&ConfigErrors::from(e)));
                1
            }
        };
    }

    let targets: Vec<PathBuf> = if parsed.args.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        parsed.args.iter().map(PathBuf::from).collect()
    };
    let mut files = Vec::new();
    for t in &targets {
        if t.is_dir() {
            if let Err(e) = collect(t, recursive, &mut files) {
                eprintln!("error: {e}");
                return 1;
            }
        } else if t.exists() {
            if !is_hcl_file(t) {
                eprintln!(
                    "error: `{}` is not an HCL2 file; `fmt` formats `*.pkr.hcl` and `*.pkrvars.hcl`",
                    t.display()
                );
                return 1;
            }
            files.push(t.clone());
        } else {
            eprintln!("error: `{}`: no such file or directory", t.display());
            return 1;
        }
    }

    let mut errors = ConfigErrors::new();
    let mut unformatted = false;
    let mut failed = false;
    let mut stdout = std::io::stdout();
    for f in &files {
        let name = f.to_string_lossy().into_owned();
        let src = match std::fs::read_to_string(f) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: cannot read `{name}`: {e}");
                failed = true;
                continue;
            }
        };
        let out = match format::format(&name, &src) {
            Ok(o) => o,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let changed = out != src;
        match mode {
            Mode::Check => {
                if changed {
                    unformatted = true;
                    let _ = writeln!(stdout, "{name}");
                }
            }
            Mode::Write => {
                if changed {
                    if let Err(e) = write_atomically(f, &out) {
                        eprintln!("error: cannot write `{name}`: {e}");
                        failed = true;
                        continue;
                    }
                    let _ = writeln!(stdout, "{name}");
                }
            }
            Mode::Print => {
                if !diff {
                    let _ = write!(stdout, "{out}");
                }
            }
        }
        if diff && changed {
            let _ = write!(stdout, "{}", format::unified_diff(&name, &src, &out));
        }
    }
    if !errors.is_empty() {
        eprint!("{}", common::render_errors(&errors));
        return 1;
    }
    if failed {
        1
    } else if unformatted {
        3
    } else {
        0
    }
}

/// Writes `text` to `path` through a temporary file in the same directory,
/// keeping the file's permissions.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.kiln-fmt-{}", std::process::id()));
    let result = (|| {
        std::fs::write(&tmp, text)?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
