//! The suite-wide secret check: after every `kiln` run a test makes
//! through [`crate::run`] or [`crate::run_with_input`], the values its
//! templates, var files, `-var` flags and `PKR_VAR_*` environment give to
//! **sensitive** variables must appear nowhere in what the run printed
//! (stdout, stderr, events) or in the manifests and logs it wrote.
//!
//! Which variables are sensitive is read from the test directory as kiln
//! would read it: a legacy JSON template's `sensitive-variables`, an HCL2
//! `variable` block's `sensitive = true`. Values shorter than
//! [`MIN_LEN`] characters are not checked (they would match by chance),
//! nor are the names of the test directory's files (kiln shows a file
//! name as it is, even one that contains a password).
//! Runs of packer are not checked: packer 1.6.6 prints some secrets (see
//! docs/compatibility.md). Stores nothing; nothing to clean up.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// Shorter values are not searched for.
pub const MIN_LEN: usize = 6;

/// How deep below the test directory templates and outputs are looked for.
const MAX_DEPTH: usize = 3;

/// Files larger than this are not read (disk images, ISOs).
const MAX_FILE: u64 = 4 << 20;

/// Panics when a value given to a sensitive variable of `c`'s run appears
/// in `stdout`, `stderr` or a manifest or log the run wrote after
/// `started`. Does nothing for commands that are not kiln.
pub fn check_run(c: &Command, stdout: &str, stderr: &str, started: SystemTime) {
    let is_kiln = Path::new(c.get_program())
        .file_name()
        .is_some_and(|n| n == "kiln");
    let Some(dir) = c.get_current_dir() else {
        return;
    };
    if !is_kiln {
        return;
    }
    let values = sensitive_values(c, dir);
    if values.is_empty() {
        return;
    }
    let mut places: Vec<(String, String)> = vec![
        ("stdout".into(), stdout.to_string()),
        ("stderr".into(), stderr.to_string()),
    ];
    for f in files(dir, 0) {
        let written = std::fs::metadata(&f)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= started);
        if written && is_output(&f) {
            if let Ok(text) = std::fs::read_to_string(&f) {
                places.push((f.display().to_string(), text));
            }
        }
    }
    // File names are shown as they are (a template named after the
    // password it uses stays readable): they are not searched.
    let mut names: Vec<String> = files(dir, 0)
        .iter()
        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for (_, text) in places.iter_mut() {
        for n in &names {
            if text.contains(n.as_str()) {
                *text = text.replace(n.as_str(), "[FILE]");
            }
        }
    }
    for v in &values {
        for (what, text) in &places {
            assert!(
                !leaks(text, v),
                "a sensitive value (`{}…`) appears in {what} of `{c:?}`:\n{text}",
                v.chars().take(3).collect::<String>()
            );
        }
    }
}

/// True when `secret` appears in `text` as kiln's redactor would mask it:
/// anywhere, or for a secret that looks like a word (up to 24 ASCII
/// letters, such as the password `freebsd`) only as a whole token, since
/// kiln leaves `freebsdports` alone by design.
pub fn leaks(text: &str, secret: &str) -> bool {
    let word = secret.len() <= 24 && secret.bytes().all(|b| b.is_ascii_alphabetic());
    if !word {
        return text.contains(secret);
    }
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = text.as_bytes();
    text.match_indices(secret).any(|(start, m)| {
        let end = start + m.len();
        let before = start.checked_sub(1).map(|i| bytes[i]);
        !before.is_some_and(is_word) && !bytes.get(end).copied().is_some_and(is_word)
    })
}

/// The values given to sensitive variables in `dir`'s templates and var
/// files, and by `c`'s `-var` flags and `PKR_VAR_*` environment.
pub fn sensitive_values(c: &Command, dir: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut by_name: Vec<(String, String)> = Vec::new();
    let all = files(dir, 0);
    for f in &all {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        if name.ends_with(".json") {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                json_template(&v, &mut names, &mut by_name);
            }
        } else if name.ends_with(".pkr.hcl") || name.ends_with(".pkrvars.hcl") {
            if let Ok(body) = hcl::from_str::<hcl::Body>(&text) {
                hcl_file(&body, &mut names, &mut by_name);
            }
        }
    }
    let args: Vec<String> = c
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    for (i, a) in args.iter().enumerate() {
        let pair = match a.trim_start_matches('-') {
            "var" => args.get(i + 1).cloned(),
            s => s.strip_prefix("var=").map(String::from),
        };
        if let Some((k, v)) = pair.as_deref().and_then(|p| p.split_once('=')) {
            by_name.push((k.to_string(), v.to_string()));
        }
    }
    for (k, v) in c.get_envs() {
        if let (Some(name), Some(v)) = (k.to_string_lossy().strip_prefix("PKR_VAR_"), v) {
            by_name.push((name.to_string(), v.to_string_lossy().into_owned()));
        }
    }
    by_name
        .into_iter()
        .filter(|(k, v)| names.contains(k) && v.chars().count() >= MIN_LEN)
        .map(|(_, v)| v)
        .collect()
}

/// A legacy template's sensitive names and its variables' defaults, or a
/// JSON var file's values.
fn json_template(
    v: &serde_json::Value,
    names: &mut BTreeSet<String>,
    by_name: &mut Vec<(String, String)>,
) {
    let Some(obj) = v.as_object() else {
        return;
    };
    if let Some(list) = obj.get("sensitive-variables").and_then(|s| s.as_array()) {
        names.extend(list.iter().filter_map(|n| n.as_str().map(String::from)));
    }
    let vars = match obj.get("variables").and_then(|v| v.as_object()) {
        Some(vars) => vars,
        // A var file: name to value.
        None if !obj.contains_key("builders") => obj,
        None => return,
    };
    for (k, val) in vars {
        if let Some(s) = val.as_str() {
            by_name.push((k.clone(), s.to_string()));
        }
    }
}

/// An HCL2 file's sensitive `variable` blocks and their defaults, or a var
/// file's values.
fn hcl_file(body: &hcl::Body, names: &mut BTreeSet<String>, by_name: &mut Vec<(String, String)>) {
    for block in body.blocks() {
        if block.identifier() != "variable" {
            continue;
        }
        let Some(label) = block.labels().first() else {
            continue;
        };
        let name = label.as_str().to_string();
        let mut sensitive = false;
        for attr in block.body().attributes() {
            match (attr.key(), attr.expr()) {
                ("sensitive", hcl::Expression::Bool(true)) => sensitive = true,
                ("default", e) => leaves(e, &name, by_name),
                _ => {}
            }
        }
        if sensitive {
            names.insert(name);
        }
    }
    for attr in body.attributes() {
        leaves(attr.expr(), attr.key(), by_name);
    }
}

/// Every string leaf of `e` (a string, or one inside a list or object),
/// recorded under `name`.
fn leaves(e: &hcl::Expression, name: &str, by_name: &mut Vec<(String, String)>) {
    match e {
        hcl::Expression::String(s) => by_name.push((name.to_string(), s.clone())),
        hcl::Expression::Array(items) => items.iter().for_each(|i| leaves(i, name, by_name)),
        hcl::Expression::Object(o) => o.values().for_each(|i| leaves(i, name, by_name)),
        _ => {}
    }
}

/// What kiln writes that must not hold a secret: manifests, logs and
/// event files.
fn is_output(f: &Path) -> bool {
    let name = f.file_name().unwrap_or_default().to_string_lossy();
    name.contains("manifest") || name.ends_with(".log") || name.ends_with(".jsonl")
}

/// The files below `dir` (to [`MAX_DEPTH`]), small enough to read.
fn files(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() && depth < MAX_DEPTH => out.extend(files(&p, depth + 1)),
            Ok(t) if t.is_file() && e.metadata().is_ok_and(|m| m.len() <= MAX_FILE) => out.push(p),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_values_of_sensitive_variables_only() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("t.json"),
            r#"{"variables": {"pw": "json-secret-1", "open": "not-secret-1"},
                "sensitive-variables": ["pw"], "builders": []}"#,
        )
        .unwrap();
        std::fs::write(
            d.path().join("t.pkr.hcl"),
            "variable \"token\" {\n  default   = \"hcl-secret-2\"\n  sensitive = true\n}\nvariable \"name\" { default = \"not-secret-2\" }\nvariable \"short\" {\n  default = \"abc\"\n  sensitive = true\n}\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("x.auto.pkrvars.hcl"),
            "token = \"hcl-secret-3\"\n",
        )
        .unwrap();
        let mut c = Command::new("kiln");
        c.args(["build", "-var", "pw=flag-secret-4", "-var=name=flag-open-4"])
            .env("PKR_VAR_token", "env-secret-5")
            .current_dir(d.path());
        let got: Vec<String> = sensitive_values(&c, d.path()).into_iter().collect();
        assert_eq!(
            got,
            [
                "env-secret-5",
                "flag-secret-4",
                "hcl-secret-2",
                "hcl-secret-3",
                "json-secret-1"
            ]
        );
    }

    #[test]
    fn word_secrets_leak_only_as_whole_tokens() {
        assert!(leaks("pw=freebsd", "freebsd"));
        assert!(!leaks("freebsdports freebsdx", "freebsd"));
        assert!(leaks("t=xZq7xK2pL9y", "Zq7xK2pL9"));
    }

    #[test]
    fn a_leak_in_output_or_manifest_is_caught() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("t.json"),
            r#"{"variables": {"pw": "json-secret-1"}, "sensitive-variables": ["pw"], "builders": []}"#,
        )
        .unwrap();
        let mut c = Command::new("/usr/bin/kiln");
        c.arg("build").current_dir(d.path());
        let started = SystemTime::now() - std::time::Duration::from_secs(1);
        check_run(&c, "all masked: <sensitive>", "", started);
        let leak = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_run(&c, "pw is json-secret-1", "", started)
        }));
        assert!(leak.is_err(), "a leak on stdout passed");
        std::fs::write(
            d.path().join("manifest.json"),
            "{\"pw\": \"json-secret-1\"}",
        )
        .unwrap();
        let leak = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check_run(&c, "", "", started)
        }));
        assert!(leak.is_err(), "a leak in the manifest passed");
        // packer's runs are not checked.
        let mut p = Command::new("/usr/bin/packer");
        p.arg("build").current_dir(d.path());
        check_run(&p, "json-secret-1", "", started);
    }
}
