//! Packer 1.6.6 Go plugins found by `kiln build` itself: single-component
//! plugins named `packer-builder-NAME` / `packer-provisioner-NAME` /
//! `packer-post-processor-NAME` in the template's directory, as Packer
//! 1.6.6 finds them. Each is a wrapper that execs Debian's packer serving
//! one of its built-in components (`packer plugin packer-builder-null`), so
//! the components are real Go plugins speaking Packer's RPC. They mix with
//! kiln's built-ins in one build, and packer runs the same template with
//! the same plugins to compare.

use std::path::Path;
use std::process::Command;

use crate::support::{dir, run, Run, TestDir};

/// Writes `packer-KIND-NAME` into `d`: a wrapper serving packer's own
/// `packer-KIND-BUILTIN`.
fn go_plugin(d: &TestDir, kind: &str, name: &str, builtin: &str) {
    let p = d.path().join(format!("packer-{kind}-{name}"));
    std::fs::write(
        &p,
        format!("#!/bin/sh\nexec /usr/bin/packer plugin packer-{kind}-{builtin}\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `kiln build` (or packer) in `d`, with plugin lookups confined to it.
fn build(d: &TestDir, program: Option<&Path>) -> Run {
    let mut c = match program {
        Some(p) => {
            let mut c = Command::new(p);
            c.current_dir(d.path())
                .args(["build", "-color=false", "t.json"]);
            c
        }
        None => d.kiln(&["build", "-color=false", "t.json"]),
    };
    c.env("HOME", d.path())
        .env("CHECKPOINT_DISABLE", "1")
        .env_remove("KILN_PLUGIN_PATH")
        .env_remove("KILN_PLUGIN_DIR")
        .env_remove("XDG_DATA_HOME")
        .env_remove("PACKER_PLUGIN_PATH");
    run(c)
}

#[test]
fn go_plugins_in_the_template_dir_mix_with_builtins_like_in_packer() {
    let d = dir();
    go_plugin(&d, "builder", "gofile", "file");
    go_plugin(&d, "provisioner", "golocal", "shell-local");
    go_plugin(&d, "post-processor", "gosum", "checksum");
    d.write(
        "t.json",
        r#"{
  "builders": [{"type": "gofile", "name": "img", "target": "img.txt", "content": "payload"}],
  "provisioners": [
    {"type": "golocal", "inline": ["echo go-side {{build_name}}"]},
    {"type": "shell-local", "inline": ["echo kiln-side"]}
  ],
  "post-processors": [[
    {"type": "gosum", "checksum_types": ["sha256"], "output": "{{.BuildName}}.{{.ChecksumType}}"},
    {"type": "manifest", "output": "manifest.json"}
  ]]
}"#,
    );
    let r = build(&d, None);
    assert_eq!(r.code, 0, "{r:?}");
    for line in [
        "==> img: Running local shell script:",
        "    img: go-side img",
        "    img: kiln-side",
        "==> img: Running post-processor: gosum",
        "Build 'img' finished after",
    ] {
        assert!(
            r.stdout.contains(line),
            "missing {line:?} in:\n{}",
            r.stdout
        );
    }
    assert_eq!(d.read("img.txt"), "payload");
    // sha256("payload")
    let sum = "239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5";
    assert!(
        d.read("img.sha256").starts_with(sum),
        "{}",
        d.read("img.sha256")
    );
    let manifest = d.read("manifest.json");
    assert!(
        manifest.contains("\"builder_type\": \"gofile\""),
        "{manifest}"
    );

    // packer 1.6.6 runs the same template with the same plugins and says
    // the same lines.
    std::fs::remove_file(d.path().join("manifest.json")).unwrap();
    let p = build(&d, Some(Path::new("/usr/bin/packer")));
    assert_eq!(p.code, 0, "{p:?}");
    for line in ["    img: go-side img", "    img: kiln-side"] {
        assert!(
            p.stdout.contains(line),
            "packer: missing {line:?} in:\n{}",
            p.stdout
        );
    }
    assert!(d.read("img.sha256").starts_with(sum));
}

#[test]
fn a_go_builder_plugin_with_a_bad_config_is_reported_before_any_build() {
    let d = dir();
    go_plugin(&d, "builder", "gonull", "null");
    d.write(
        "t.json",
        r#"{"builders": [{"type": "gonull", "communicator": "ssh"}]}"#,
    );
    let r = build(&d, None);
    assert_eq!(r.code, 1, "{r:?}");
    let p = build(&d, Some(Path::new("/usr/bin/packer")));
    assert_eq!(p.code, 1, "{p:?}");
    // packer's null builder lists four errors for the ssh communicator
    // without a host, user or key; kiln reports each at the builder.
    assert!(
        r.stderr
            .contains("4 problems were found in the configuration"),
        "{}",
        r.stderr
    );
    for item in [
        "An ssh_username must be specified",
        "a Host must be specified",
        "a Username must be specified",
        "one authentication method must be specified",
    ] {
        assert!(
            r.stderr.contains(item),
            "kiln: missing {item:?} in:\n{}",
            r.stderr
        );
        assert!(
            p.stdout.contains(item),
            "packer: missing {item:?} in:\n{}",
            p.stdout
        );
    }
    assert!(r.stderr.contains("--> t.json:1:15"), "{}", r.stderr);
    // Labelled once, with packer's note kept under its item.
    assert!(
        r.stderr.contains(
            "error: build `gonull`: builder `gonull`: An ssh_username must be specified \
             Note: some builders used to default ssh_username to \"root\"."
        ),
        "{}",
        r.stderr
    );
}
