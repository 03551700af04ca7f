//! Parity with Packer on what real-world templates use (issue 14): JSON
//! templates checked against packer 1.6.6 run side by side (duplicate
//! keys, undeclared `sensitive-variables`, amazon-ebs without a region or
//! with `ami_virtualization_type`, `ssh_wait_timeout`); newer keys checked
//! against today's Packer source (`ssh_interface = "session_manager"`,
//! shell-local `env`, `jsonencode`'s escapes); and masking, which kiln
//! does by whole values where Packer masks every substring.

use std::time::{Duration, Instant};

use kiln_test::require_packer;

use crate::support::*;

/// Runs `args` through kiln and packer 1.6.6, each in its own copy of
/// `files`, and returns both runs.
fn both(files: &[(&str, &str)], args: &[&str]) -> (Run, Run) {
    require_packer();
    let (kd, pd) = (dir(), dir());
    for (name, text) in files {
        kd.write(name, text);
        pd.write(name, text);
    }
    let k = run(aws_free(kd.kiln(args), &kd));
    let p = run(aws_free(pd.packer(args).unwrap(), &pd));
    (k, p)
}

/// No AWS configuration from the machine: no region, no credentials, no
/// shared files (HOME is the test directory), no instance metadata.
fn aws_free(mut c: std::process::Command, d: &TestDir) -> std::process::Command {
    for v in [
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ] {
        c.env_remove(v);
    }
    c.env("HOME", d.path())
        .env("AWS_EC2_METADATA_DISABLED", "true");
    c
}

const DUPLICATE_KEY: &str = r#"{
  "variables": {"a": "1"},
  "builders": [
    {
      "type": "null",
      "communicator": "none",
      "communicator": "none"
    }
  ]
}
"#;

#[test]
fn duplicate_keys_are_rejected_as_by_packer() {
    // packer 1.6.6: `Failed to parse template: template has duplicate
    // field: communicator`, exit 1, for validate, -syntax-only and inspect.
    for args in [
        &["validate", "dup.json"][..],
        &["validate", "-syntax-only", "dup.json"],
        &["inspect", "dup.json"],
    ] {
        let (k, p) = both(&[("dup.json", DUPLICATE_KEY)], args);
        assert_eq!(p.code, 1, "packer {args:?}: {}{}", p.stdout, p.stderr);
        assert!(
            p.stdout
                .contains("template has duplicate field: communicator")
                || p.stderr
                    .contains("template has duplicate field: communicator"),
            "{}{}",
            p.stdout,
            p.stderr
        );
        assert_eq!(k.code, 1, "kiln {args:?}: {}{}", k.stdout, k.stderr);
        assert!(
            k.stderr.contains(
                "error: duplicate key `communicator`: it is already set at line 6, column 7"
            ),
            "{}",
            k.stderr
        );
        assert!(k.stderr.contains("dup.json:7:7"), "{}", k.stderr);
    }
    // Var files keep the last value, in both.
    let files = [
        (
            "t.json",
            r#"{"variables": {"a": ""}, "builders": [{"type": "null", "communicator": "none"}]}"#,
        ),
        ("vars.json", r#"{"a": "1", "a": "2"}"#),
    ];
    let (k, p) = both(&files, &["validate", "-var-file=vars.json", "t.json"]);
    assert_eq!((k.code, p.code), (0, 0), "{}{}", k.stderr, p.stderr);
}

#[test]
fn undeclared_sensitive_variables_are_accepted_with_a_warning() {
    let t = r#"{
  "variables": {"password": "p"},
  "sensitive-variables": ["password", "pasword"],
  "builders": [{"type": "null", "communicator": "none"}]
}
"#;
    let (k, p) = both(&[("t.json", t)], &["validate", "t.json"]);
    assert_eq!(p.code, 0, "{}{}", p.stdout, p.stderr);
    assert_eq!(k.code, 0, "{}", k.stderr);
    assert!(
        k.stdout.contains(
            "Warning: t.json:3:26: `sensitive-variables` names `pasword`, which is not declared in `variables`; it is ignored (did you mean `password`?)"
        ),
        "{}",
        k.stdout
    );
}

/// amazon-ebs with no region anywhere, and `ami_virtualization_type`. The
/// endpoint is a closed loopback port: any API call would fail with a
/// connection error, not with the message checked.
const EBS_NO_REGION: &str = r#"{
  "builders": [{
    "type": "amazon-ebs",
    "custom_endpoint_ec2": "http://127.0.0.1:9",
    "access_key": "AKIDKILNTEST",
    "secret_key": "kiln-test-secret",
    "source_ami": "ami-0b45e1",
    "instance_type": "t3.micro",
    "ssh_username": "admin",
    "ami_name": "kiln parity {{timestamp}}",
    "ami_virtualization_type": "hvm"
  }]
}
"#;

#[test]
fn amazon_ebs_without_a_region_validates_as_in_packer_and_fails_at_build() {
    let (k, p) = both(&[("t.json", EBS_NO_REGION)], &["validate", "t.json"]);
    assert_eq!(p.code, 0, "{}{}", p.stdout, p.stderr);
    assert_eq!(k.code, 0, "{}", k.stderr);

    let d = dir();
    d.write("t.json", EBS_NO_REGION);
    let start = Instant::now();
    let r = run(aws_free(d.kiln(&["build", "-color=false", "t.json"]), &d));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("Build 'amazon-ebs' errored after")
            && all.contains("no AWS region: set `region` in the template, or `AWS_REGION`"),
        "{all}"
    );
    assert!(!all.contains("127.0.0.1:9"), "an API call was made: {all}");
    assert!(start.elapsed() < Duration::from_secs(10), "{all}");
}

#[test]
fn session_manager_validates_as_in_packer_and_fails_before_any_api_call() {
    let t = EBS_NO_REGION
        .replace(
            "\"type\": \"amazon-ebs\",",
            "\"type\": \"amazon-ebs\", \"region\": \"us-east-1\",",
        )
        .replace(
            "\"ami_virtualization_type\": \"hvm\"",
            "\"ssh_interface\": \"session_manager\", \"session_manager_port\": 8123",
        );
    // Without an instance profile both refuse it.
    let (k, p) = both(&[("t.json", &t)], &["validate", "t.json"]);
    assert_eq!(
        (k.code, p.code),
        (1, 1),
        "{}\n{}{}",
        k.stderr,
        p.stdout,
        p.stderr
    );
    assert!(
        k.stderr.contains("no `iam_instance_profile` defined"),
        "{}",
        k.stderr
    );
    let t = t.replace(
        "\"ssh_interface\"",
        "\"iam_instance_profile\": \"ssm-core\", \"ssh_interface\"",
    );
    let (k, p) = both(&[("t.json", &t)], &["validate", "t.json"]);
    assert_eq!(p.code, 0, "{}{}", p.stdout, p.stderr);
    assert_eq!(k.code, 0, "{}", k.stderr);

    let d = dir();
    d.write("t.json", &t);
    let r = run(aws_free(d.kiln(&["build", "-color=false", "t.json"]), &d));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("`ssh_interface = \"session_manager\"` is not supported by kiln yet"),
        "{all}"
    );
    assert!(!all.contains("127.0.0.1:9"), "an API call was made: {all}");
}

#[test]
fn ssh_wait_timeout_is_accepted_and_wins_over_ssh_timeout() {
    // Nothing listens on port 1: the build waits for SSH until the timeout.
    let t = r#"{
  "builders": [{
    "type": "null",
    "communicator": "ssh",
    "ssh_host": "127.0.0.1",
    "ssh_port": 1,
    "ssh_username": "u",
    "ssh_password": "p",
    "ssh_timeout": "1h",
    "ssh_wait_timeout": "2s"
  }]
}
"#;
    let (k, p) = both(&[("t.json", t)], &["validate", "t.json"]);
    assert_eq!((k.code, p.code), (0, 0), "{}\n{}", k.stderr, p.stderr);
    let bad = t.replace("\"2s\"", "\"soon\"");
    let (k, p) = both(&[("t.json", &bad)], &["validate", "t.json"]);
    assert_eq!((k.code, p.code), (1, 1), "{}\n{}", k.stderr, p.stderr);
    assert!(k.stderr.contains("`ssh_wait_timeout`"), "{}", k.stderr);

    let d = dir();
    d.write("t.json", t);
    let start = Instant::now();
    let r = kiln(&d, &["build", "-color=false", "t.json"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "ssh_timeout (1h) was used: {}",
        r.stdout
    );
    assert!(
        r.stderr.contains("timeout waiting for SSH") && r.stderr.contains("in 2s"),
        "{}",
        r.stderr
    );
}

/// The communicator's durations are decoded whatever the communicator is
/// (docker's own, `none`), as packer 1.6.6's decoding does: a bad one is a
/// `validate` error in both.
#[test]
fn ssh_durations_are_type_checked_with_every_communicator() {
    for builder in [
        r#"{"type": "docker", "image": "debian:bookworm", "commit": true, "ssh_wait_timeout": "soon"}"#,
        r#"{"type": "docker", "image": "debian:bookworm", "commit": true, "ssh_timeout": "soon"}"#,
        r#"{"type": "null", "communicator": "none", "ssh_wait_timeout": "soon"}"#,
        r#"{"type": "null", "communicator": "none", "pause_before_connecting": "soon"}"#,
        r#"{"type": "null", "communicator": "none", "ssh_keep_alive_interval": "soon"}"#,
        r#"{"type": "null", "communicator": "none", "ssh_read_write_timeout": "soon"}"#,
    ] {
        let t = format!(r#"{{"builders": [{builder}]}}"#);
        let (k, p) = both(&[("t.json", &t)], &["validate", "t.json"]);
        assert_eq!(
            (k.code, p.code),
            (1, 1),
            "{builder}\n{}\n{}",
            k.stderr,
            p.stdout
        );
        assert!(
            k.stderr.contains("expected a duration") && k.stderr.contains("t.json:1:"),
            "{builder}\n{}",
            k.stderr
        );
    }
}

#[test]
fn shell_local_env_sets_variables_after_environment_vars() {
    // Today's Packer: packer-plugin-sdk shell-local/run.go applies `env`
    // after `environment_vars`; packer 1.6.6 does not know the key.
    let d = dir();
    d.write(
        "t.pkr.hcl",
        r#"
variable "who" {
  default = "kiln"
}
source "null" "n" {
  communicator = "none"
}
build {
  sources = ["source.null.n"]
  provisioner "shell-local" {
    environment_vars = ["A=from-list", "B=kept"]
    env = {
      A = "from-map"
      C = "it's ${var.who}"
      D = build.PackerRunUUID
    }
    inline = ["echo \"prov A=$A B=$B C=$C D=$${#D}\""]
  }
  post-processor "shell-local" {
    env    = { E = "pp-${source.name}" }
    inline = ["echo \"pp E=$E\""]
  }
}
"#,
    );
    let r = kiln(&d, &["validate", "t.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = kiln(&d, &["build", "-color=false", "t.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("prov A=from-map B=kept C=it's kiln D=36"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("pp E=pp-n"), "{}", r.stdout);

    // A JSON template may use it too (a kiln extension over 1.6.6).
    d.write(
        "t.json",
        r#"{"builders": [{"type": "null", "communicator": "none"}],
  "provisioners": [{"type": "shell-local", "env": {"X": "{{build_name}}"}, "inline": ["echo X=$X"]}]}"#,
    );
    let r = kiln(&d, &["build", "-color=false", "t.json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("X=null"), "{}", r.stdout);
}

#[test]
fn jsonencode_escapes_html_characters_as_packer_does() {
    // cty's jsonencode is Go's json.Marshal: `<`, `>` and `&` come out as
    // \u003c, \u003e and \u0026.
    let d = dir();
    d.write(
        "t.pkr.hcl",
        r#"
locals {
  doc = jsonencode({ cmd = "a < b && c > d" })
}
source "null" "n" {
  communicator = "none"
}
build {
  sources = ["source.null.n"]
  provisioner "shell-local" {
    inline = ["cat <<'EOF'\n${local.doc}\nEOF"]
  }
}
"#,
    );
    let r = kiln(&d, &["build", "-color=false", "t.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains(r#"{"cmd":"a \u003c b \u0026\u0026 c \u003e d"}"#),
        "{}",
        r.stdout
    );
}

#[test]
fn a_sensitive_word_is_masked_as_a_value_not_inside_file_names_or_words() {
    // The template's file name contains the password `freebsd`; its
    // locations must stay readable. A long random token is masked even
    // inside a URL and a longer word.
    let d = dir();
    let name = "freebsd-14-aarch64.pkr.hcl";
    let template = r#"
variable "ssh_password" {
  type      = string
  default   = "freebsd"
  sensitive = true
}
variable "token" {
  type      = string
  default   = "Zq7xK2pL9mW4vT8r"
  sensitive = true
}
source "null" "n" {
  communicator = "none"
}
build {
  sources = ["source.null.n"]
  provisioner "shell-local" {
    inline = [
      "echo pw=${var.ssh_password}",
      "echo ${var.ssh_password}",
      "echo freebsdports ${var.ssh_password}x",
      "echo https://bot:${var.token}@example.com/?t=x${var.token}y",
      "echo Authorization: Basic ${base64encode("bot:${var.token}")} ${var.token}",
    ]
  }
}
"#;
    d.write(name, template);
    let r = kiln(&d, &["build", "-color=false", name]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for want in [
        "n: pw=<sensitive>\n",
        "n: <sensitive>\n",
        "n: freebsdports freebsdx\n",
        "n: https://bot:<sensitive>@example.com/?t=x<sensitive>y\n",
    ] {
        assert!(
            r.stdout.contains(want),
            "missing {want:?} in:\n{}",
            r.stdout
        );
    }
    assert!(!r.stdout.contains("Zq7xK2pL9mW4vT8r"), "{}", r.stdout);

    // An error in the same file: its location names the file unmasked,
    // and the value in the source line shown is masked.
    d.write(
        name,
        &template.replace(
            "communicator = \"none\"",
            "communicator = \"none\"\n  bogus = \"freebsd\"",
        ),
    );
    let r = kiln(&d, &["validate", name]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("freebsd-14-aarch64.pkr.hcl:"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("<sensitive>-14"), "{}", r.stderr);
    assert!(r.stderr.contains("bogus = \"<sensitive>\""), "{}", r.stderr);

    // The files a build writes and kiln names are printed whole, while the
    // value itself stays masked in the same lines' neighbours.
    let d = dir();
    d.write(
        "t.pkr.hcl",
        r#"
variable "ssh_password" {
  type      = string
  default   = "freebsd"
  sensitive = true
}
source "file" "image" {
  content = "pw=${var.ssh_password}"
  target  = "out/freebsd-14.txt"
}
build {
  sources = ["source.file.image"]
  post-processor "compress" {
    output = "out/freebsd-14.tar.gz"
  }
}
"#,
    );
    let r = kiln(&d, &["build", "-color=false", "t.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for want in [
        "(compress): Using gzip compression for out/freebsd-14.tar.gz\n",
        "(compress): Archive out/freebsd-14.tar.gz completed\n",
        "--> file.image: compressed artifacts in: out/freebsd-14.tar.gz\n",
    ] {
        assert!(
            r.stdout.contains(want),
            "missing {want:?} in:\n{}",
            r.stdout
        );
    }
    assert!(!r.stdout.contains("<sensitive>-14"), "{}", r.stdout);
}
