//! Plugins in real builds: the example Rust plugin
//! (`crates/kiln-plugin-example`) and the Python plugin
//! (`crates/kiln-plugin/tests/fixtures/kiln-plugin-py`), their data
//! sources in HCL2 templates, discovery precedence, version and capability
//! mismatches, crashes, cancellation, `kiln init` from a `file://` mirror
//! (plain binaries and zip archives) and the `kiln plugins` subcommands.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{dir, run, Run, TestDir};

/// The example plugin binary, built next to `kiln` (built on demand when a
/// filtered `cargo test` did not build it).
fn example_plugin() -> PathBuf {
    let p = Path::new(env!("CARGO_BIN_EXE_kiln")).with_file_name("kiln-plugin-example");
    if !p.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "-p", "kiln-plugin-example"])
            .status()
            .expect("run cargo build");
        assert!(ok.success(), "cannot build kiln-plugin-example");
    }
    p
}

fn python_plugin() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kiln-plugin/tests/fixtures/kiln-plugin-py")
}

/// Copies the Python plugin into `dir` as `name`, applying `edits`.
fn install_python(dir: &Path, name: &str, edits: &[(&str, &str)]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut text = std::fs::read_to_string(python_plugin()).unwrap();
    for (a, b) in edits {
        assert!(text.contains(a), "{a}");
        text = text.replace(a, b);
    }
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn install_example(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(example_plugin(), dir.join("kiln-plugin-example")).unwrap();
}

/// A kiln command with a plugin environment confined to the test dir.
fn kiln_env(d: &TestDir, plugin_path: &str, args: &[&str]) -> Command {
    let mut c = d.kiln(args);
    c.env("KILN_PLUGIN_PATH", plugin_path)
        .env("HOME", d.path())
        .env_remove("XDG_DATA_HOME")
        .env_remove("KILN_PLUGIN_DIR")
        .env_remove("PACKER_PLUGIN_PATH");
    c
}

fn kiln_p(d: &TestDir, args: &[&str]) -> Run {
    let pp = d.path().join("plugins");
    run(kiln_env(d, &pp.to_string_lossy(), args))
}

#[test]
fn plugin_builder_runs_builtin_provisioners_and_plugin_components() {
    let d = dir();
    install_example(&d.path().join("plugins"));
    install_python(&d.path().join("plugins"), "kiln-plugin-py", &[]);
    d.write(
        "t.json",
        r#"{
  "builders": [{"type": "example-dir", "output_dir": "out"}],
  "provisioners": [
    {"type": "shell-local", "inline": ["echo local-side"]},
    {"type": "shell", "inline": ["echo remote-side > made.txt", "echo in $(basename $(pwd))"]},
    {"type": "example-exec", "command": "echo exec-side; ls"},
    {"type": "py-hello", "message": "hi", "command": "echo py-remote && test -f made.txt"}
  ],
  "post-processors": ["example-sha256"]
}"#,
    );
    let r = kiln_p(&d, &["build", "t.json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("Creating directory out..."),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("local-side"), "{}", r.stdout);
    assert!(r.stdout.contains("in out"), "{}", r.stdout);
    assert!(r.stdout.contains("exec-side"), "{}", r.stdout);
    assert!(r.stdout.contains("made.txt"), "{}", r.stdout);
    assert!(r.stdout.contains("py-hello (v0.3.0): hi"), "{}", r.stdout);
    assert!(r.stdout.contains("remote: py-remote"), "{}", r.stdout);
    assert!(
        r.stdout.contains("Wrote 1 checksum file(s)"),
        "{}",
        r.stdout
    );
    assert_eq!(d.read("out/made.txt"), "remote-side\n");
    assert!(d.read("out/made.txt.sha256").ends_with("  made.txt\n"));
}

#[test]
fn builtin_builder_with_plugin_provisioner_and_post_processors() {
    let d = dir();
    install_example(&d.path().join("plugins"));
    install_python(&d.path().join("plugins"), "kiln-plugin-py", &[]);
    d.write(
        "t.json",
        r#"{
  "builders": [{"type": "file", "target": "img.txt", "content": "payload"}],
  "provisioners": [{"type": "py-hello", "message": "streamed"}],
  "post-processors": [["example-sha256", {"type": "py-list", "output": "list.txt"}]]
}"#,
    );
    let r = kiln_p(&d, &["build", "t.json"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("file: py-hello (v0.3.0): streamed"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("py-list: listed 1 file(s) of sha256"),
        "{}",
        r.stdout
    );
    assert!(d.read("img.txt.sha256").contains("  img.txt"));
    assert!(d.read("list.txt").trim().ends_with("img.txt.sha256"));
}

#[test]
fn config_errors_and_unknown_types_are_reported_with_hints() {
    let d = dir();
    install_python(&d.path().join("plugins"), "kiln-plugin-py", &[]);
    d.write(
        "t.json",
        r#"{
  "builders": [{"type": "null", "communicator": "none"}],
  "provisioners": [
    {"type": "py-hello", "mesage": "typo"},
    {"type": "py-helo"}
  ]
}"#,
    );
    let r = kiln_p(&d, &["validate", "t.json"]);
    insta::assert_snapshot!("plugin_config_errors", r.snapshot(d.path()));
}

#[test]
fn plugin_crash_mid_build_is_reported_and_cleanup_runs() {
    let d = dir();
    install_python(&d.path().join("plugins"), "kiln-plugin-py", &[]);
    d.write(
        "t.json",
        r#"{
  "builders": [{"type": "null", "communicator": "none"}],
  "provisioners": [{"type": "py-hello", "message": "about to crash", "crash": true}],
  "error-cleanup-provisioner": {"type": "shell-local", "inline": ["touch cleaned-up"]}
}"#,
    );
    let r = kiln_p(&d, &["build", "t.json"]);
    assert_ne!(r.code, 0, "{r:?}");
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("plugin `kiln-plugin-py` exited unexpectedly (exit status: 3)"),
        "{all}"
    );
    assert!(all.contains("py-hello: crashing on purpose"), "{all}");
    assert!(d.path().join("cleaned-up").exists(), "{all}");
}

#[test]
fn newer_plugin_protocol_is_refused_with_an_actionable_message() {
    let d = dir();
    install_python(
        &d.path().join("plugins"),
        "kiln-plugin-future",
        &[("PROTOCOL = (1, 1)", "PROTOCOL = (2, 3)")],
    );
    d.write(
        "t.json",
        r#"{"builders": [{"type": "null", "communicator": "none"}],
  "provisioners": [{"type": "py-hello"}]}"#,
    );
    let r = kiln_p(&d, &["validate", "t.json"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("speaks kiln plugin protocol versions 2 to 3, but kiln")
            && r.stderr.contains("speaks version 1: upgrade kiln"),
        "{}",
        r.stderr
    );
}

#[test]
fn discovery_precedence_plugin_path_then_template_dir() {
    let d = dir();
    install_python(
        &d.path().join("a"),
        "kiln-plugin-py",
        &[("VERSION = \"0.3.0\"", "VERSION = \"0.5.0\"")],
    );
    install_python(&d.path().join("b"), "kiln-plugin-py", &[]);
    // The template's directory holds a third copy.
    install_python(
        d.path(),
        "kiln-plugin-py",
        &[("VERSION = \"0.3.0\"", "VERSION = \"0.9.0\"")],
    );
    d.write(
        "t.json",
        r#"{"builders": [{"type": "null", "communicator": "none"}],
  "provisioners": [{"type": "py-hello", "message": "which"}]}"#,
    );
    let path = format!(
        "{}:{}",
        d.path().join("a").display(),
        d.path().join("b").display()
    );
    let r = run(kiln_env(&d, &path, &["build", "t.json"]));
    assert!(r.stdout.contains("py-hello (v0.5.0): which"), "{r:?}");
    let r = run(kiln_env(
        &d,
        &d.path().join("b").to_string_lossy(),
        &["build", "t.json"],
    ));
    assert!(r.stdout.contains("py-hello (v0.3.0): which"), "{r:?}");
    let r = run(kiln_env(&d, "", &["build", "t.json"]));
    assert!(r.stdout.contains("py-hello (v0.9.0): which"), "{r:?}");
}

#[test]
fn ctrl_c_reaches_the_plugin_and_it_cleans_up() {
    let d = dir();
    install_example(&d.path().join("plugins"));
    d.write(
        "t.json",
        r#"{"builders": [{"type": "example-dir", "output_dir": "out", "wait": "60s"}]}"#,
    );
    let log = std::fs::File::create(d.path().join("log.txt")).unwrap();
    let mut c = kiln_env(
        &d,
        &d.path().join("plugins").to_string_lossy(),
        &["build", "t.json"],
    );
    c.stdout(log.try_clone().unwrap()).stderr(log);
    let mut child = c.spawn().unwrap();
    let start = Instant::now();
    while !std::fs::read_to_string(d.path().join("log.txt"))
        .unwrap()
        .contains("Waiting 60s")
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the plugin never started waiting"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(d.path().join("out").exists());
    unsafe_kill(child.id() as i32);
    let status = child.wait().unwrap();
    let out = std::fs::read_to_string(d.path().join("log.txt")).unwrap();
    assert!(!status.success(), "{out}");
    assert!(start.elapsed() < Duration::from_secs(50), "{out}");
    assert!(out.contains("Wait cancelled"), "{out}");
    assert!(out.contains("Deleting directory out..."), "{out}");
    assert!(!d.path().join("out").exists(), "{out}");
}

fn unsafe_kill(pid: i32) {
    let ok = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
}

fn sha256(p: &Path) -> String {
    let out = Command::new("sha256sum").arg(p).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A mirror with the example plugin as release v0.1.0 of
/// `example.com/acme/example`; `corrupt` damages the binary after its
/// checksum was recorded.
fn mirror(d: &TestDir, corrupt: bool) -> PathBuf {
    let m = d.path().join("mirror/example.com/acme/example");
    std::fs::create_dir_all(&m).unwrap();
    let (os, arch) = kiln_plugin::discover::os_arch();
    let file = format!("kiln-plugin-example_v0.1.0_{os}_{arch}");
    std::fs::copy(example_plugin(), m.join(&file)).unwrap();
    let sum = sha256(&m.join(&file));
    std::fs::write(
        m.join("kiln-plugin-example_v0.1.0_SHA256SUMS"),
        format!("{sum}  {file}\n"),
    )
    .unwrap();
    if corrupt {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(m.join(&file))
            .unwrap();
        f.write_all(b"tampered").unwrap();
    }
    d.path().join("mirror")
}

const REQUIRING: &str = r#"packer {
  required_plugins {
    example = {
      source  = "example.com/acme/example"
      version = ">= 0.1.0, < 1.0"
    }
  }
}

source "example-dir" "x" {
  output_dir = "out"
}

build {
  sources = ["source.example-dir.x"]
}
"#;

#[test]
fn init_installs_from_a_file_mirror_and_plugins_subcommands_work() {
    let d = dir();
    d.write("t.pkr.hcl", REQUIRING);
    let m = mirror(&d, false);
    let url = format!("-mirror=file://{}", m.display());

    let r = kiln_p(&d, &["validate", "t.pkr.hcl"]);
    insta::assert_snapshot!("plugins_validate_missing", r.snapshot(d.path()));
    let r = kiln_p(&d, &["plugins", "required", "t.pkr.hcl"]);
    insta::assert_snapshot!("plugins_required_missing", r.snapshot(d.path()));

    let r = kiln_p(&d, &["init", &url, "t.pkr.hcl"]);
    insta::assert_snapshot!("plugins_init", r.snapshot(d.path()));
    let r = kiln_p(&d, &["init", &url, "t.pkr.hcl"]);
    insta::assert_snapshot!("plugins_init_again", r.snapshot(d.path()));

    let r = kiln_p(&d, &["plugins", "installed"]);
    insta::assert_snapshot!("plugins_installed", r.snapshot(d.path()));
    let r = kiln_p(&d, &["plugins", "required", "t.pkr.hcl"]);
    insta::assert_snapshot!("plugins_required", r.snapshot(d.path()));

    let r = kiln_p(&d, &["build", "t.pkr.hcl"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Creating directory out..."), "{r:?}");

    // A changed binary is no longer used.
    let (os, arch) = kiln_plugin::discover::os_arch();
    let installed = d.path().join(format!(
        "plugins/example.com/acme/example/kiln-plugin-example_v0.1.0_{os}_{arch}"
    ));
    let original = std::fs::read(&installed).unwrap();
    std::fs::write(&installed, b"#!/bin/sh\necho tampered\n").unwrap();
    let r = kiln_p(&d, &["validate", "t.pkr.hcl"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("the installed versions do not fit: 0.1.0 (its SHA-256 is"),
        "{}",
        r.stderr
    );
    std::fs::write(&installed, original).unwrap();

    let r = kiln_p(&d, &["plugins", "remove", "example.com/acme/example"]);
    insta::assert_snapshot!("plugins_remove", r.snapshot(d.path()));
    assert!(!installed.exists());

    // `install --path` installs the binary under a source.
    let r = kiln_p(
        &d,
        &[
            "plugins",
            "install",
            "--path",
            &example_plugin().to_string_lossy(),
            "example.com/acme/example",
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(installed.exists());
    assert!(PathBuf::from(format!("{}_SHA256SUM", installed.display())).exists());
}

#[test]
fn init_refuses_a_bad_checksum() {
    let d = dir();
    d.write("t.pkr.hcl", REQUIRING);
    let m = mirror(&d, true);
    let r = kiln_p(
        &d,
        &[
            "init",
            &format!("-mirror=file://{}", m.display()),
            "t.pkr.hcl",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("checksum mismatch for"), "{}", r.stderr);
    assert!(r.stderr.contains("refusing to install it"), "{}", r.stderr);
    assert!(
        !d.path().join("plugins/example.com").exists()
            || std::fs::read_dir(d.path().join("plugins/example.com/acme/example"))
                .unwrap()
                .next()
                .is_none()
    );
}

#[test]
fn plugins_usage_errors() {
    let d = dir();
    let r = kiln_p(&d, &["plugins", "instaled"]);
    insta::assert_snapshot!("plugins_unknown_subcommand", r.snapshot(d.path()));
    let r = kiln_p(&d, &["init", "t.pkr.hcl"]);
    assert_eq!(r.code, 1);
}

/// An HCL2 template whose local uses the output of a plugin data source,
/// printed by a shell-local provisioner.
const RUST_DATA: &str = r#"data "example-file" "motd" {
  path      = "${path.root}/motd.txt"
  max_lines = 1
}

locals {
  first = data.example-file.motd.lines[0]
}

source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]

  provisioner "shell-local" {
    inline = ["echo 'first line: ${local.first}; ${data.example-file.motd.line_count} lines; sha256 ${data.example-file.motd.sha256}'"]
  }
}
"#;

#[test]
fn rust_plugin_data_source_feeds_a_local_used_in_a_build() {
    let d = dir();
    install_example(&d.path().join("plugins"));
    d.write("motd.txt", "welcome to kiln\nsecond line\nthird line\n");
    d.write("t.pkr.hcl", RUST_DATA);
    let r = kiln_p(&d, &["build", "-color=false", "t.pkr.hcl"]);
    assert_eq!(r.code, 0, "{r:?}");
    insta::assert_snapshot!("plugin_data_source_rust", r.snapshot(d.path()));
    assert!(
        r.stdout.contains(&format!(
            "first line: welcome to kiln; 3 lines; sha256 {}",
            sha256(&d.path().join("motd.txt"))
        )),
        "{}",
        r.stdout
    );
    // A file that cannot be read fails `execute`, at the `data` block;
    // `validate` executes data sources only when asked to, as Packer does.
    std::fs::remove_file(d.path().join("motd.txt")).unwrap();
    let r = kiln_p(&d, &["validate", "t.pkr.hcl"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = kiln_p(&d, &["validate", "-evaluate-datasources", "t.pkr.hcl"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains("error: data.example-file.motd: cannot read `./motd.txt`: No such file")
            && r.stderr.contains("--> t.pkr.hcl:1:1"),
        "{}",
        r.stderr
    );
}

const PY_DATA: &str = r#"variable "who" {
  default = "kiln"
}

locals {
  name = upper(var.who)
}

data "py-greeting" "g" {
  name = local.name
  tags = ["fast", "compatible"]
}

locals {
  message = "${data.py-greeting.g.greeting} (${data.py-greeting.g.tag_count} tags: ${join(",", data.py-greeting.g.tags)}; py plugin v${data.py-greeting.g.plugin_version})"
}

source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]

  provisioner "shell-local" {
    inline = ["echo '${local.message}'"]
  }
}
"#;

#[test]
fn python_plugin_data_source_feeds_a_local_used_in_a_build() {
    let d = dir();
    install_python(&d.path().join("plugins"), "kiln-plugin-py", &[]);
    d.write("t.pkr.hcl", PY_DATA);
    let r = kiln_p(
        &d,
        &["build", "-color=false", "-var", "who=world", "t.pkr.hcl"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    insta::assert_snapshot!("plugin_data_source_python", r.snapshot(d.path()));
    assert!(
        r.stdout
            .contains("hello, WORLD! (2 tags: fast,compatible; py plugin v0.3.0)"),
        "{}",
        r.stdout
    );
    // `console` evaluates the same data source.
    let mut c = kiln_env(
        &d,
        &d.path().join("plugins").to_string_lossy(),
        &["console", "t.pkr.hcl"],
    );
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        b"data.py-greeting.g.greeting\n",
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("hello, KILN!"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_build_with_plugin_data_sources_describes_each_plugin_once() {
    let d = dir();
    let log = d.path().join("describes.log");
    let edit = format!(
        "    if args[:1] == [\"describe\"]:\n        open({:?}, \"a\").write(\"describe\\n\")\n",
        log.display().to_string()
    );
    install_python(
        &d.path().join("plugins"),
        "kiln-plugin-py",
        &[("    if args[:1] == [\"describe\"]:\n", edit.as_str())],
    );
    d.write("t.pkr.hcl", PY_DATA);
    let r = kiln_p(
        &d,
        &["build", "-color=false", "-var", "who=world", "t.pkr.hcl"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    // The data sources (evaluated first) and the registry share one
    // discovery.
    let describes = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(describes.lines().count(), 1, "{describes}");
}

#[test]
fn bad_data_source_configs_are_all_reported_at_their_keys() {
    let d = dir();
    install_example(&d.path().join("plugins"));
    install_python(&d.path().join("plugins"), "kiln-plugin-py", &[]);
    d.write(
        "t.pkr.hcl",
        r#"data "example-file" "bad" {
  pth       = "motd.txt"
  max_lines = 0
}

data "py-greeting" "bad" {
  nme   = "x"
  shout = "loud"
  tags  = ["ok", 3]
}

data "py-greting" "typo" {
}

locals {
  uses = data.example-file.bad.content
}

source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]
}
"#,
    );
    let r = kiln_p(&d, &["validate", "t.pkr.hcl"]);
    assert_eq!(r.code, 1, "{r:?}");
    insta::assert_snapshot!("plugin_data_source_config_errors", r.snapshot(d.path()));
}

#[test]
fn a_plugin_without_the_data_source_capability_still_serves_the_rest() {
    let d = dir();
    // An older plugin: it lists a data source but does not offer the
    // `data-source` capability in its handshake.
    install_python(
        &d.path().join("plugins"),
        "kiln-plugin-py",
        &[(
            r#"CAPABILITIES = ["communicator", "data-source"]"#,
            r#"CAPABILITIES = ["communicator"]"#,
        )],
    );
    d.write("t.pkr.hcl", PY_DATA);
    let r = kiln_p(&d, &["validate", "t.pkr.hcl"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains(
            "error: data source `py-greeting`: plugin `kiln-plugin-py` lists it, but does not \
             serve data sources (its handshake does not offer the `data-source` capability of \
             kiln plugin protocol 1)"
        ) && r.stderr.contains("--> t.pkr.hcl:9:1")
            && r.stderr.contains("hint: upgrade the plugin"),
        "{}",
        r.stderr
    );
    // Its provisioner works as before.
    d.write(
        "p.pkr.hcl",
        r#"source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]

  provisioner "py-hello" {
    message = "still here"
  }
}
"#,
    );
    let r = kiln_p(&d, &["build", "p.pkr.hcl"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("py-hello (v0.3.0): still here"), "{r:?}");
}

/// A mirror with the example plugin as release v0.1.0 of
/// `example.com/acme/example`, published as Packer publishes releases: a
/// zip of the binary, and SHA256SUMS over the zip.
fn zip_mirror(d: &TestDir) -> PathBuf {
    let m = d.path().join("mirror/example.com/acme/example");
    std::fs::create_dir_all(&m).unwrap();
    let (os, arch) = kiln_plugin::discover::os_arch();
    let file = format!("kiln-plugin-example_v0.1.0_{os}_{arch}");
    let zip = m.join(format!("{file}.zip"));
    let ok = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\n\
             with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n    \
             z.write(sys.argv[2], sys.argv[3])",
        ])
        .arg(&zip)
        .arg(example_plugin())
        .arg(&file)
        .status()
        .unwrap();
    assert!(ok.success(), "cannot make the zip");
    std::fs::write(
        m.join("kiln-plugin-example_v0.1.0_SHA256SUMS"),
        format!("{}  {file}.zip\n", sha256(&zip)),
    )
    .unwrap();
    d.path().join("mirror")
}

#[test]
fn init_installs_from_a_mirror_of_zip_archives() {
    let d = dir();
    d.write("t.pkr.hcl", REQUIRING);
    let m = zip_mirror(&d);
    let url = format!("-mirror=file://{}", m.display());
    let r = kiln_p(&d, &["init", &url, "t.pkr.hcl"]);
    assert_eq!(r.code, 0, "{r:?}");
    let (os, arch) = kiln_plugin::discover::os_arch();
    let installed = d.path().join(format!(
        "plugins/example.com/acme/example/kiln-plugin-example_v0.1.0_{os}_{arch}"
    ));
    assert!(
        r.stdout.contains(&format!(
            "Installed plugin example.com/acme/example v0.1.0 in \"{}\"",
            installed.display()
        )),
        "{r:?}"
    );
    // The binary itself was extracted, with its own checksum file.
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(example_plugin()).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(format!("{}_SHA256SUM", installed.display()))
            .unwrap()
            .trim(),
        sha256(&example_plugin())
    );
    let r = kiln_p(&d, &["build", "t.pkr.hcl"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Creating directory out..."), "{r:?}");

    // A damaged zip is refused, before anything is extracted.
    let r = kiln_p(&d, &["plugins", "remove", "example.com/acme/example"]);
    assert_eq!(r.code, 0, "{r:?}");
    let zip = m.join(format!(
        "example.com/acme/example/kiln-plugin-example_v0.1.0_{os}_{arch}.zip"
    ));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&zip)
        .map(|mut f| std::io::Write::write_all(&mut f, b"tampered"))
        .unwrap()
        .unwrap();
    let r = kiln_p(&d, &["init", &url, "t.pkr.hcl"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr
            .contains(&format!("checksum mismatch for `{}`", zip.display())),
        "{}",
        r.stderr
    );
    assert!(!installed.exists());
}

#[test]
fn a_plugin_data_source_cannot_print_sensitive_values() {
    let d = dir();
    install_python(&d.path().join("plugins"), "kiln-plugin-py", &[]);
    d.write(
        "t.pkr.hcl",
        r#"variable "token" {
  default   = "s3cr3t-t0ken"
  sensitive = true
}

locals {
  derived = "pre-${var.token}"
}

data "py-greeting" "g" {
  name = "kiln"
  say  = "using ${var.token} and ${local.derived}"
}

source "null" "x" {
  communicator = "none"
}

build {
  sources = ["source.null.x"]

  provisioner "shell-local" {
    inline = ["echo '${data.py-greeting.g.greeting}'"]
  }
}
"#,
    );
    let r = kiln_p(&d, &["build", "-color=false", "t.pkr.hcl"]);
    assert_eq!(r.code, 0, "{r:?}");
    let all = format!("{}{}", r.stdout, r.stderr);
    // The data source's line arrives, scrubbed of the sensitive variable
    // and of the local derived from it.
    assert!(
        all.contains("data.py-greeting: py-greeting: using <sensitive> and <sensitive>"),
        "{all}"
    );
    assert!(!all.contains("s3cr3t-t0ken"), "{all}");
    assert!(r.stdout.contains("hello, kiln!"), "{all}");
}
