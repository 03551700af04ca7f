//! What a Packer user's first templates hit (issue 14, item 12), each
//! checked against packer 1.6.6 run side by side: the name HCL2 builds give
//! their components (`PACKER_BUILD_NAME`, `{{build_name}}`, the manifest's
//! `name`, hence artifact file names), local files a component names that
//! do not exist (reported by `validate`, as Packer does), and `kiln fix`,
//! whose verdict and error locations follow `packer fix`.

use std::path::Path;

use kiln_test::require_packer;

use crate::support::*;

/// Runs `args` through kiln and packer 1.6.6, each in its own copy of
/// `files`; returns both runs and their directories.
fn both(files: &[(&str, &str)], args: &[&str]) -> (Run, Run, TestDir, TestDir) {
    require_packer();
    let (kd, pd) = (dir(), dir());
    for (name, text) in files {
        kd.write(name, text);
        pd.write(name, text);
    }
    let k = run(kd.kiln(args));
    let p = run(pd.packer(args).unwrap());
    (k, p, kd, pd)
}

/// The provisioners' output lines (`    build: …`), in order.
fn messages(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("    "))
        .map(String::from)
        .collect()
}

/// `name` of each entry of a manifest.
fn manifest_names(path: &Path) -> Vec<String> {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    m["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect()
}

/// The files under `out/`, sorted.
fn out_files(d: &TestDir) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

const NAMED_BUILD: &str = r#"source "file" "motd" {
  content = "hello"
  target  = "out/motd.txt"
}

build {
  name    = "web"
  sources = ["source.file.motd"]

  provisioner "shell-local" {
    inline = ["echo env=$PACKER_BUILD_NAME tmpl={{build_name}} build=${build.name} source=${source.name}"]
  }

  post-processor "shell-local" {
    inline = ["echo pp env=$PACKER_BUILD_NAME tmpl={{build_name}}"]
  }
  post-processor "compress" {
    output = "out/{{build_name}}.tar.gz"
  }
  post-processor "manifest" {
    output = "out/manifest.json"
  }
}
"#;

#[test]
fn hcl2_components_see_the_source_name_as_build_name() {
    // Today's Packer, hcl2template/types.source.go: `builderVariables()`
    // gives builders, provisioners and post-processors
    // `packer_build_name = source.Name` (the source block's label), while
    // `build.name` is the build block's name (types.packer_config.go,
    // `unknownBuildValues["name"] = build.Name`) and the UI prefix is
    // `CoreBuild.Name()`, `web.file.motd` (packer/build.go). packer 1.6.6
    // does the same; both are run here.
    let args = ["build", "-color=false", "t.pkr.hcl"];
    let (k, p, kd, pd) = both(&[("t.pkr.hcl", NAMED_BUILD)], &args);
    assert_eq!(k.code, 0, "kiln: {}{}", k.stdout, k.stderr);
    assert_eq!(p.code, 0, "packer: {}{}", p.stdout, p.stderr);
    assert_eq!(messages(&k.stdout), messages(&p.stdout));
    assert_eq!(
        messages(&k.stdout),
        [
            "    web.file.motd: env=motd tmpl=motd build=web source=motd",
            "    web.file.motd (shell-local): pp env=motd tmpl=motd",
        ]
    );
    assert!(
        k.stdout.contains("Build 'web.file.motd' finished"),
        "{}",
        k.stdout
    );
    assert_eq!(out_files(&kd), out_files(&pd));
    assert_eq!(out_files(&kd), ["manifest.json", "motd.tar.gz", "motd.txt"]);
    let names = manifest_names(&kd.path().join("out/manifest.json"));
    assert_eq!(names, manifest_names(&pd.path().join("out/manifest.json")));
    assert_eq!(names, ["motd"]);
}

const NAMED_JSON: &str = r#"{
  "builders": [{"type": "file", "name": "motd", "content": "hello", "target": "out/motd.txt"}],
  "provisioners": [{"type": "shell-local", "inline": ["echo env=$PACKER_BUILD_NAME"]}],
  "post-processors": [
    {"type": "compress", "output": "out/{{build_name}}.tar.gz"},
    {"type": "manifest", "output": "out/manifest.json"}
  ]
}
"#;

#[test]
fn an_upgraded_template_names_artifacts_as_the_json_one_did() {
    // kiln's `hcl2_upgrade` output, built by kiln, against the JSON
    // original built by packer 1.6.6: the same file names and manifest.
    require_packer();
    let (kd, pd) = (dir(), dir());
    kd.write("t.json", NAMED_JSON);
    pd.write("t.json", NAMED_JSON);
    let u = kiln(&kd, &["hcl2_upgrade", "-output-file=t.pkr.hcl", "t.json"]);
    assert_eq!(u.code, 0, "{}", u.stderr);
    let k = kiln(&kd, &["build", "-color=false", "t.pkr.hcl"]);
    let p = run(pd.packer(&["build", "-color=false", "t.json"]).unwrap());
    assert_eq!(
        (k.code, p.code),
        (0, 0),
        "{}{}\n{}{}",
        k.stdout,
        k.stderr,
        p.stdout,
        p.stderr
    );
    assert_eq!(out_files(&kd), out_files(&pd));
    assert_eq!(
        manifest_names(&kd.path().join("out/manifest.json")),
        manifest_names(&pd.path().join("out/manifest.json"))
    );
    assert!(k.stdout.contains("    file.motd: env=motd"), "{}", k.stdout);
}

/// A template with one component naming a file that does not exist, the
/// key that names it, and the path.
struct Missing {
    name: &'static str,
    template: &'static str,
    key: &'static str,
    path: &'static str,
}

const FILE_BUILDER: &str = r#"{"type": "file", "content": "x", "target": "out.txt"}"#;
const NULL_BUILDER: &str = r#"{"type": "null", "communicator": "none"}"#;
const QEMU: &str =
    r#""type": "qemu", "iso_url": "ok.iso", "iso_checksum": "none", "communicator": "none""#;

fn missing_cases() -> Vec<Missing> {
    let t = |builder: &str, rest: &str| -> &'static str {
        Box::leak(format!("{{\n  \"builders\": [{builder}]{rest}\n}}\n").into_boxed_str())
    };
    let qemu = |extra: &str| t(&format!("{{{QEMU}, {extra}}}"), "");
    vec![
        Missing {
            name: "shell-local provisioner script",
            template: t(
                FILE_BUILDER,
                ",\n  \"provisioners\": [{\"type\": \"shell-local\",\n    \"script\": \"missing.sh\"}]",
            ),
            key: "script",
            path: "missing.sh",
        },
        Missing {
            name: "shell-local provisioner scripts",
            template: t(
                FILE_BUILDER,
                ",\n  \"provisioners\": [{\"type\": \"shell-local\",\n    \"scripts\": [\"ok.sh\", \"missing.sh\"]}]",
            ),
            key: "scripts[1]",
            path: "missing.sh",
        },
        Missing {
            name: "shell-local post-processor script",
            template: t(
                FILE_BUILDER,
                ",\n  \"post-processors\": [{\"type\": \"shell-local\",\n    \"script\": \"missing.sh\"}]",
            ),
            key: "script",
            path: "missing.sh",
        },
        Missing {
            name: "shell-local post-processor scripts",
            template: t(
                FILE_BUILDER,
                ",\n  \"post-processors\": [{\"type\": \"shell-local\",\n    \"scripts\": [\"missing.sh\"]}]",
            ),
            key: "scripts[0]",
            path: "missing.sh",
        },
        Missing {
            name: "shell scripts",
            template: t(
                NULL_BUILDER,
                ",\n  \"provisioners\": [{\"type\": \"shell\",\n    \"scripts\": [\"missing.sh\"]}]",
            ),
            key: "scripts[0]",
            path: "missing.sh",
        },
        Missing {
            name: "file sources",
            template: t(
                NULL_BUILDER,
                ",\n  \"provisioners\": [{\"type\": \"file\", \"destination\": \"/tmp/x\",\n    \"sources\": [\"ok.sh\", \"missing.txt\"]}]",
            ),
            key: "sources[1]",
            path: "missing.txt",
        },
        Missing {
            name: "qemu floppy_files",
            template: qemu("\n    \"floppy_files\": [\"missing.cfg\"]"),
            key: "floppy_files[0]",
            path: "missing.cfg",
        },
        Missing {
            name: "qemu floppy_dirs",
            template: qemu("\n    \"floppy_dirs\": [\"missing-dir\"]"),
            key: "floppy_dirs[0]",
            path: "missing-dir",
        },
        Missing {
            name: "qemu cd_files",
            template: qemu("\n    \"cd_files\": [\"missing.cfg\"]"),
            key: "cd_files[0]",
            path: "missing.cfg",
        },
        Missing {
            name: "qemu iso_checksum file",
            template: t(
                r#"{"type": "qemu", "iso_url": "ok.iso", "communicator": "none",
    "iso_checksum": "file:missing.sums"}"#,
                "",
            ),
            key: "iso_checksum",
            path: "missing.sums",
        },
        Missing {
            name: "qemu ssh_private_key_file",
            template: t(
                r#"{"type": "qemu", "iso_url": "ok.iso", "iso_checksum": "none", "ssh_username": "u",
    "ssh_private_key_file": "missing.key"}"#,
                "",
            ),
            key: "ssh_private_key_file",
            path: "missing.key",
        },
    ]
}

/// 1-based (line, column) of the first `"key"` in `text` (for `key[i]`, of
/// the `i`-th element's value).
fn position_of(text: &str, key: &str, path: &str) -> (usize, usize) {
    let base = key.split('[').next().unwrap();
    let start = text.find(&format!("\"{base}\"")).unwrap();
    let at = if key.contains('[') {
        start + text[start..].find(&format!("\"{path}\"")).unwrap()
    } else {
        start
    };
    let line = text[..at].matches('\n').count() + 1;
    let column = at - text[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

#[test]
fn missing_local_files_fail_validate_as_in_packer() {
    // packer 1.6.6 reports each at validate: `Bad script 'missing.sh'`,
    // `Bad source 'x'`, `Bad Floppy disk file 'x'`, `Bad CD disk file`,
    // `ssh_private_key_file is invalid`, `no checksum found in: …`.
    for m in missing_cases() {
        let files = [
            ("t.json", m.template),
            ("ok.sh", "#!/bin/sh\necho ok\n"),
            ("ok.iso", "iso"),
        ];
        let (k, p, _, _) = both(&files, &["validate", "t.json"]);
        assert_eq!(
            p.code, 1,
            "{}: packer accepts it\n{}{}",
            m.name, p.stdout, p.stderr
        );
        assert_eq!(k.code, 1, "{}: kiln accepts it\n{}", m.name, k.stdout);
        let (line, column) = position_of(m.template, m.key, m.path);
        assert!(
            k.stderr.contains(&format!("`{}`", m.path))
                && k.stderr.contains(&format!("`{}`:", m.key))
                && k.stderr.contains(&format!("--> t.json:{line}:{column}")),
            "{}: want `{}` at `{}` (t.json:{line}:{column}):\n{}",
            m.name,
            m.path,
            m.key,
            k.stderr
        );
        // Once the file is there, both accept the template.
        let mut files = files.to_vec();
        let content = if m.path.ends_with(".sums") {
            "0000000000000000000000000000000000000000000000000000000000000000  ok.iso\n"
        } else if m.path.ends_with(".key") {
            ""
        } else {
            "x\n"
        };
        if m.path.ends_with("-dir") {
            files.push((Box::leak(format!("{}/f", m.path).into_boxed_str()), "x"));
        } else if !m.path.ends_with(".key") {
            files.push((m.path, content));
        }
        if m.path.ends_with(".key") {
            continue;
        }
        let (k, p, _, _) = both(&files, &["validate", "t.json"]);
        assert_eq!(
            (k.code, p.code),
            (0, 0),
            "{}: with the file\nkiln: {}\npacker: {}{}",
            m.name,
            k.stderr,
            p.stdout,
            p.stderr
        );
    }
}

const HCL_MISSING_SCRIPT: &str = r#"source "file" "f" {
  content = "x"
  target  = "out.txt"
}

build {
  sources = ["source.file.f"]

  provisioner "shell-local" {
    script = "missing.sh"
  }
}
"#;

#[test]
fn hcl2_shell_local_missing_script_fails_validate_as_in_packer() {
    let (k, p, _, _) = both(
        &[("t.pkr.hcl", HCL_MISSING_SCRIPT)],
        &["validate", "t.pkr.hcl"],
    );
    assert_eq!(p.code, 1, "{}{}", p.stdout, p.stderr);
    assert!(
        format!("{}{}", p.stdout, p.stderr).contains("Bad script 'missing.sh'"),
        "{}{}",
        p.stdout,
        p.stderr
    );
    assert_eq!(k.code, 1, "{}", k.stdout);
    assert!(
        k.stderr
            .contains("`script`: bad script `missing.sh`: no such file or directory")
            && k.stderr.contains("--> t.pkr.hcl:10:5"),
        "{}",
        k.stderr
    );
}

#[test]
fn fix_exits_as_packer_fix_does_on_every_fixer_fixture() {
    // `packer fix` validates the fixed template by default, but only as
    // `template.Parse` and `Template.Validate` do (command/fix.go): the
    // structure and build references, never the components' settings, so
    // a `virtualbox` or `docker` template with settings kiln's builders
    // reject still exits 0.
    require_packer();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kiln-fix/tests/fixtures");
    let mut dirs: Vec<_> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    let mut accepted = 0;
    for d in dirs {
        let input = std::fs::read_to_string(d.join("input.json")).unwrap();
        let (k, p, _, _) = both(&[("old.json", &input)], &["fix", "old.json"]);
        assert_eq!(
            k.code,
            p.code,
            "{}: kiln {} / packer {}\nkiln: {}\npacker: {}{}",
            d.display(),
            k.code,
            p.code,
            k.stderr,
            p.stdout,
            p.stderr
        );
        if k.code == 0 {
            accepted += 1;
            assert_eq!(k.stdout.trim_end(), p.stdout.trim_end(), "{}", d.display());
        }
    }
    assert!(accepted >= 10, "only {accepted} fixtures are accepted");
}

const OLD_DOCKER: &str = r#"{
  "builders": [{
    "type": "docker", "image": "ubuntu:18.04", "commit": true,
    "login_email": "me@example.com", "ssh_pty": true,
    "run_command": ["-d", "-i", "-t", "--memory", "1g", "--cpus", "2", "--entrypoint=/bin/sh", "--", "{{.Image}}"]
  }],
  "provisioners": [{"type": "shell", "inline": ["echo hi"], "only": ["dockr"]}],
  "post-processors": [{"type": "manifest", "filename": "manifest.json"}]
}
"#;

#[test]
fn fix_errors_point_into_the_fixed_text() {
    // Packer rejects the fixed template (`only` names no build); kiln says
    // where in the fixed text it printed, which is longer than the input.
    let (k, p, _, _) = both(&[("old.json", OLD_DOCKER)], &["fix", "old.json"]);
    assert_eq!(
        (k.code, p.code),
        (1, 1),
        "{}\n{}{}",
        k.stderr,
        p.stdout,
        p.stderr
    );
    // Packer prints its error after the template, on stdout.
    let packer_fixed = p.stdout.split("\nError! ").next().unwrap();
    assert_eq!(k.stdout.trim_end(), packer_fixed.trim_end());
    let fixed: Vec<&str> = k.stdout.lines().collect();
    let only = fixed.iter().position(|l| l.contains("\"only\"")).unwrap();
    let block = fixed[..only].iter().rposition(|l| l.trim() == "{").unwrap() + 1;
    assert!(
        block > OLD_DOCKER.lines().count(),
        "the fixed text is longer"
    );
    let col = fixed[block - 1].find('{').unwrap() + 1;
    assert!(
        k.stderr
            .contains(&format!("--> old.json (fixed):{block}:{col}"))
            && k.stderr.contains("`only` names build `dockr`")
            && k.stderr.contains(&format!("{block}| {}", fixed[block - 1])),
        "{}",
        k.stderr
    );
    // Without the bad reference, the old docker template is fixed and
    // accepted by both, `ssh_pty` and `run_command` options included.
    let good = OLD_DOCKER.replace(r#", "only": ["dockr"]"#, "");
    let (k, p, _, _) = both(&[("old.json", &good)], &["fix", "old.json"]);
    assert_eq!(
        (k.code, p.code),
        (0, 0),
        "{}\n{}{}",
        k.stderr,
        p.stdout,
        p.stderr
    );
    assert_eq!(k.stdout, p.stdout);
    let d = dir();
    d.write("new.json", &k.stdout);
    let v = kiln(&d, &["validate", "new.json"]);
    assert_eq!(v.code, 0, "{}", v.stderr);
}
