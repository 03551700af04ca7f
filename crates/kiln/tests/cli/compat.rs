//! The compatibility suite: each fixture goes through Debian's packer 1.6.6
//! and through kiln, each in its own directory, and what a user would compare
//! must agree: validate verdicts, inspect output, the files a build leaves,
//! the manifests (times and uuids aside) and the provisioners' output lines.

use std::collections::BTreeMap;
use std::path::Path;

use kiln_test::{normalized_manifest, require_packer};

use crate::support::*;

/// Extra command-line arguments some fixtures need.
fn args_for(fixture: &str) -> Vec<&'static str> {
    match fixture {
        "valid/variables.json" => vec!["-var", "region=ap-south-1"],
        _ => vec![],
    }
}

const BINARY_SUFFIXES: &[&str] = &[".gz", ".tgz", ".zip", ".lz4", ".zst", ".tar"];

/// Every file left in `dir` (but the template), with its contents for text
/// files and manifests normalised.
fn files(dir: &Path, template: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == template || e.path().is_dir() {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        let binary = |n: &str| BINARY_SUFFIXES.iter().any(|s| n.ends_with(s));
        let content = if binary(&name) {
            "<binary>".to_string()
        } else if text.contains("\"last_run_uuid\"") {
            // Compressed bytes legitimately differ (headers, mtimes): ignore their sizes.
            let mut m = normalized_manifest(&e.path());
            for b in m["builds"].as_array_mut().into_iter().flatten() {
                for f in b["files"].as_array_mut().into_iter().flatten() {
                    if binary(f["name"].as_str().unwrap_or("")) {
                        f["size"] = serde_json::json!(0);
                    }
                }
            }
            serde_json::to_string_pretty(&m).unwrap()
        } else {
            // Checksums of compressed files differ for the same reason.
            text.lines()
                .map(|l| match l.split_once('\t') {
                    Some((_, file)) if binary(file) => format!("[HASH]\t{file}"),
                    _ => l.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        out.insert(name, content);
    }
    out
}

/// The provisioners' output lines (`    build: …`), sorted, since parallel
/// builds interleave.
fn message_lines(stdout: &str) -> Vec<String> {
    let mut v: Vec<String> = stdout
        .lines()
        .filter(|l| l.starts_with("    "))
        .map(String::from)
        .collect();
    v.sort();
    v
}

#[test]
fn validate_verdicts_agree() {
    require_packer();
    for f in fixtures("valid").into_iter().chain(fixtures("invalid")) {
        let (kd, pd) = (dir(), dir());
        let (kt, pt) = (copy_fixture(&kd, &f), copy_fixture(&pd, &f));
        let mut args = vec!["validate"];
        args.extend(args_for(&f));
        args.extend(["-var", "zone=z"]);
        let mut kargs = args.clone();
        kargs.push(&kt);
        let mut pargs = args.clone();
        pargs.push(&pt);
        let k = kiln(&kd, &kargs);
        let p = run(pd.packer(&pargs).unwrap());
        assert_eq!(
            k.code, p.code,
            "{f}: kiln and packer disagree on validity\nkiln: {}\npacker: {}{}",
            k.stderr, p.stdout, p.stderr
        );
    }
}

#[test]
fn inspect_output_agrees() {
    require_packer();
    for f in fixtures("valid") {
        let (kd, pd) = (dir(), dir());
        let (kt, pt) = (copy_fixture(&kd, &f), copy_fixture(&pd, &f));
        for machine in [false, true] {
            let mut args = vec!["inspect"];
            if machine {
                args.push("-machine-readable");
            }
            let k = kiln(&kd, &[args.clone(), vec![kt.as_str()]].concat());
            let p = run(pd
                .packer(&[args.clone(), vec![pt.as_str()]].concat())
                .unwrap());
            assert_eq!(k.code, p.code, "{f}");
            assert_eq!(
                normalize(&k.stdout, kd.path()),
                normalize(&p.stdout, pd.path()),
                "{f} (machine-readable: {machine})"
            );
        }
    }
}

#[test]
fn builds_agree() {
    require_packer();
    for f in fixtures("valid") {
        let (kd, pd) = (dir(), dir());
        let (kt, pt) = (copy_fixture(&kd, &f), copy_fixture(&pd, &f));
        let mut args = vec!["build", "-color=false", "-parallel-builds=1"];
        args.extend(args_for(&f));
        let k = kiln(&kd, &[args.clone(), vec![kt.as_str()]].concat());
        let p = run(pd
            .packer(&[args.clone(), vec![pt.as_str()]].concat())
            .unwrap());
        assert_eq!(
            k.code, p.code,
            "{f}: exit codes differ\nkiln:\n{}{}\npacker:\n{}{}",
            k.stdout, k.stderr, p.stdout, p.stderr
        );
        assert_eq!(
            files(kd.path(), &kt),
            files(pd.path(), &pt),
            "{f}: the builds left different files"
        );
        assert_eq!(
            message_lines(&k.stdout),
            message_lines(&p.stdout),
            "{f}: provisioner output differs"
        );
    }
}

/// Packer 1.6.6's parser accepts a template without builders (`validate
/// -syntax-only` and `inspect` pass); its `Template.Validate` (`validate`,
/// `fix`) says `at least one builder must be defined`. Its parser rejects
/// `"keep_input_artifact": "true"` at every command. kiln agrees, command by
/// command.
#[test]
fn parse_and_validate_phases_agree_on_builders_and_keep_input_artifact() {
    require_packer();
    let templates = [
        (r#"{"variables": {"a": "b"}}"#, [0, 1, 0, 1]),
        (r#"{"builders": []}"#, [0, 1, 0, 1]),
        (r#"{"builders": null}"#, [0, 1, 0, 1]),
        (
            r#"{"builders": [{"type": "file", "content": "x", "target": "x.txt"}],
  "post-processors": [{"type": "compress", "output": "x.tar.gz", "keep_input_artifact": "true"}]}"#,
            [1, 1, 1, 1],
        ),
    ];
    let commands: [&[&str]; 4] = [
        &["validate", "-syntax-only"],
        &["validate"],
        &["inspect"],
        &["fix"],
    ];
    for (template, expected) in templates {
        for (command, want) in commands.iter().zip(expected) {
            let (kd, pd) = (dir(), dir());
            kd.write("t.json", template);
            pd.write("t.json", template);
            let mut args = command.to_vec();
            args.push("t.json");
            let k = kiln(&kd, &args);
            let p = run(pd.packer(&args).unwrap());
            assert_eq!(
                (k.code, p.code),
                (want, want),
                "{template}: {command:?}\nkiln: {}{}\npacker: {}{}",
                k.stdout,
                k.stderr,
                p.stdout,
                p.stderr
            );
            if template.contains("keep_input_artifact") {
                assert!(
                    k.stderr
                        .contains("`keep_input_artifact`: expected a boolean, found a string")
                        && k.stderr.contains("hint: write `true` without quotes"),
                    "{}",
                    k.stderr
                );
            } else if want == 1 {
                assert!(
                    k.stderr.contains("at least one builder must be defined"),
                    "{command:?}: {}",
                    k.stderr
                );
            }
        }
    }
}
