//! Before/after pairs for every fixer, checked against kiln and against
//! `packer fix` (Packer 1.6.6; skipped without it, except under
//! scripts/test.sh and in CI, where its absence fails).
//!
//! `tests/fixtures/<name>/input.json` is a legacy template and
//! `expected.json` is exactly what `packer fix -validate=false` printed for
//! it. Every fixer has a directory named after it; `pipeline-*` directories
//! cover the whole run and the output format. `tests/errors/*.json` are
//! templates that Packer refuses (or crashes on) and kiln must reject.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(dir("fixtures"))
        .expect("tests/fixtures exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn error_files() -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir("errors"))
        .expect("tests/errors exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn kiln(input: &Path) -> Result<String, kiln_fix::FixError> {
    let template: Value = serde_json::from_str(&read(input)).expect("input is JSON");
    kiln_fix::fix(template).map(|v| kiln_fix::to_packer_json(&v))
}

/// Whether the oracle is here. Its absence skips the comparison on a
/// developer machine and fails it under scripts/test.sh and in CI
/// (`kiln_test::packer_required`).
fn packer_available() -> bool {
    kiln_test::packer_or_skip("the comparison of `kiln fix` with Packer").is_some()
}

/// Runs Packer in a scratch directory (a crash leaves `crash.log` in the
/// working directory) without its update check.
fn packer(args: &[&str]) -> Output {
    let scratch = std::env::temp_dir().join(format!(
        "kiln-fix-packer-{}-{}",
        std::process::id(),
        args.join("_")
            .replace(['/', ' '], "_")
            .chars()
            .rev()
            .take(60)
            .collect::<String>()
    ));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let out = Command::new(kiln_test::require_packer())
        .args(args)
        .current_dir(&scratch)
        .env("CHECKPOINT_DISABLE", "1")
        .env("PACKER_LOG", "")
        .output()
        .expect("packer runs");
    let _ = std::fs::remove_dir_all(&scratch);
    out
}

fn packer_fix(input: &Path) -> Output {
    packer(&[
        "fix",
        "-validate=false",
        input.to_str().expect("utf-8 path"),
    ])
}

#[test]
fn every_fixer_has_a_fixture() {
    let dirs: Vec<String> = fixture_dirs()
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for name in kiln_fix::fixer_names() {
        assert!(
            dirs.iter().any(|d| d == name),
            "no fixture for fixer `{name}`"
        );
    }
    for d in &dirs {
        assert!(
            d.starts_with("pipeline-") || kiln_fix::fixer(d).is_some(),
            "fixture `{d}` names no fixer"
        );
    }
}

#[test]
fn kiln_produces_the_expected_output() {
    let mut failures = Vec::new();
    for d in fixture_dirs() {
        let expected = read(&d.join("expected.json"));
        match kiln(&d.join("input.json")) {
            Ok(got) if got == expected => {}
            Ok(got) => failures.push(format!(
                "{}:\n--- expected\n{expected}\n--- kiln\n{got}",
                d.display()
            )),
            Err(e) => failures.push(format!("{}: {e}", d.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn packer_agrees_with_the_fixtures() {
    if !packer_available() {
        return;
    }
    let mut failures = Vec::new();
    for d in fixture_dirs() {
        let expected = read(&d.join("expected.json"));
        let out = packer_fix(&d.join("input.json"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || stdout != expected {
            failures.push(format!(
                "{}: packer exited {:?}\n--- expected\n{expected}\n--- packer\n{stdout}{}",
                d.display(),
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn kiln_rejects_what_packer_rejects() {
    let oracle = packer_available();
    for f in error_files() {
        let result = match serde_json::from_str::<Value>(&read(&f)) {
            Ok(template) => kiln_fix::fix(template),
            Err(e) => panic!("{}: not JSON: {e}", f.display()),
        };
        let err = result.expect_err(&format!("{}: kiln accepted it", f.display()));
        let msg = err.to_string();
        assert!(
            msg.chars().next().is_some_and(|c| c.is_lowercase()),
            "{}: error `{msg}` should start lowercase",
            f.display()
        );
        if oracle {
            let out = packer_fix(&f);
            assert!(
                !out.status.success(),
                "{}: packer accepted it:\n{}",
                f.display(),
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

#[test]
fn synopses_match_packer_help() {
    if !packer_available() {
        return;
    }
    let out = packer(&["fix", "-h"]);
    let help = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<(String, String)> = help
        .lines()
        .skip_while(|l| !l.starts_with("Fixes that are run"))
        .skip(1)
        .take_while(|l| !l.starts_with("Options:"))
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            // "  %-27s%s": the name, padded to 27 columns, then the synopsis.
            let l = &l[2..];
            let (name, synopsis) = if l.len() > 27 && l.is_char_boundary(27) {
                l.split_at(27)
            } else {
                (l, "")
            };
            (name.trim_end().to_owned(), synopsis.to_owned())
        })
        .collect();
    let ours: Vec<(String, String)> = kiln_fix::FIXERS
        .iter()
        .map(|f| (f.name.to_owned(), f.synopsis.to_owned()))
        .collect();
    assert_eq!(ours, listed);
}
