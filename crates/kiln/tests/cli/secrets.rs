//! Sensitive values never reach what kiln prints: not through an error that
//! quotes the rejected value, not through the source line an error shows,
//! not line by line, and not upper-cased or base64-encoded by the template.

use crate::support::*;

const TEMPLATE: &str = r#"
variable "pin" {
  type      = number
  sensitive = true
}
variable "token" {
  type      = string
  sensitive = true
}
source "null" "a" { communicator = "none" }
build { sources = ["source.null.a"] }
"#;

#[test]
fn a_rejected_sensitive_value_is_not_quoted() {
    let d = dir();
    d.write("t.pkr.hcl", TEMPLATE);
    let r = kiln(
        &d,
        &[
            "validate",
            "-var",
            "pin=notanumber99",
            "-var",
            "token=x",
            "t.pkr.hcl",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(!r.stderr.contains("notanumber99"), "{}", r.stderr);
    assert!(r.stderr.contains("found `<sensitive>`"), "{}", r.stderr);
    // Given, even if invalid: not also reported as "not set".
    assert!(!r.stderr.contains("is not set"), "{}", r.stderr);
}

#[test]
fn a_var_file_line_is_shown_masked() {
    let d = dir();
    d.write("t.pkr.hcl", TEMPLATE);
    d.write(
        "v.pkrvars.hcl",
        "token = \"tok-0123456789abcdef\"\npin = \"notanumber99\"\n",
    );
    let r = kiln(&d, &["validate", "-var-file=v.pkrvars.hcl", "t.pkr.hcl"]);
    assert_eq!(r.code, 1);
    for secret in ["notanumber99", "tok-0123456789abcdef"] {
        assert!(!r.stderr.contains(secret), "{}", r.stderr);
    }
    assert!(
        r.stderr.contains("2| pin = \"<sensitive>\""),
        "{}",
        r.stderr
    );
}

#[test]
fn the_caret_points_at_the_right_column_after_masking() {
    let d = dir();
    // The secret stands before the bad key on the same line: once it is
    // masked (shorter than itself), the caret must move with the text.
    d.write(
        "t.json",
        concat!(
            r#"{"variables": {"token": "tok-0123456789abcdef"}, "sensitive-variables": ["token"],"#,
            "\n",
            r#" "builders": [{"type": "null", "ssh_password": "tok-0123456789abcdef", "communicator": "nonee"}]}"#,
        ),
    );
    let r = kiln(&d, &["validate", "t.json"]);
    assert_eq!(r.code, 1);
    assert!(!r.stderr.contains("tok-0123456789abcdef"), "{}", r.stderr);
    let lines: Vec<&str> = r.stderr.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.contains(r#""ssh_password": "<sensitive>", "communicator""#))
        .unwrap_or_else(|| panic!("no masked source line in:\n{}", r.stderr));
    let caret = lines[i + 1].find('^').expect("a caret line");
    assert!(
        lines[i][caret..].starts_with("\"communicator\""),
        "the caret must point at `communicator`:\n{}",
        r.stderr
    );
}

#[test]
fn transformed_and_multi_line_secrets_are_masked() {
    let d = dir();
    let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAMwAAAAtzc2gtZWQyNTUxOQAAACD4\n-----END OPENSSH PRIVATE KEY-----";
    d.write("key.pem", key);
    d.write(
        "t.pkr.hcl",
        r#"
variable "token" {
  type      = string
  sensitive = true
  default   = "s3cr3t-Token-99"
}
local "key" {
  expression = file("key.pem")
  sensitive  = true
}
source "null" "a" { communicator = "none" }
build {
  sources = ["source.null.a"]
  provisioner "shell-local" {
    inline = [
      "echo upper=${upper(var.token)}",
      "echo b64=${base64encode(var.token)}",
      "printf '%s\\n' '${local.key}'",
    ]
  }
}
"#,
    );
    let r = kiln(&d, &["build", "-color=false", "t.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    for leaked in [
        "S3CR3T-TOKEN-99",
        "czNjcjN0LVRva2VuLTk5",
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
        "AAAAMwAAAAtzc2gtZWQyNTUxOQAAACD4",
    ] {
        assert!(!all.contains(leaked), "`{leaked}` leaked:\n{all}");
    }
    assert!(all.contains("upper=<sensitive>"), "{all}");
    assert!(all.contains("b64=<sensitive>"), "{all}");
}

#[test]
fn shell_local_variables_are_not_in_the_command_line_ps_shows() {
    let d = dir();
    // The script counts the processes whose command line holds the value
    // (the `[2]` keeps grep from matching itself) and prints what it sees
    // in its environment.
    d.write(
        "t.json",
        r#"{"builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [{"type": "shell-local",
              "environment_vars": ["TOKEN=tok-ps-visible-42"],
              "inline": ["echo in-ps=$(ps -eo args | grep -c tok-ps-visible-4[2])", "echo seen=$TOKEN"]}]}"#,
    );
    let k = kiln(&d, &["build", "-color=false", "t.json"]);
    assert_eq!(k.code, 0, "{}{}", k.stdout, k.stderr);
    assert!(k.stdout.contains("seen=tok-ps-visible-42"), "{}", k.stdout);
    assert!(k.stdout.contains("in-ps=0"), "{}", k.stdout);
    // Packer 1.6.6 passes them in `/bin/sh -c` arguments, where ps shows them.
    let p = run(d.packer(&["build", "-color=false", "t.json"]).unwrap());
    assert_eq!(p.code, 0, "{}{}", p.stdout, p.stderr);
    assert!(p.stdout.contains("seen=tok-ps-visible-42"), "{}", p.stdout);
    assert!(p.stdout.contains("in-ps=1"), "{}", p.stdout);
}

#[test]
fn manifest_custom_data_masks_sensitive_values() {
    let d = dir();
    d.write(
        "t.json",
        r#"{"variables": {"token": "tok-manifest-0042", "region": "eu-west-1"},
            "sensitive-variables": ["token"],
            "builders": [{"type": "null", "communicator": "none"}],
            "post-processors": [{"type": "manifest", "output": "m.json",
              "custom_data": {"auth": "Bearer {{user `token`}}", "region": "{{user `region`}}"}}]}"#,
    );
    let r = kiln(&d, &["build", "-color=false", "t.json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let m: serde_json::Value = serde_json::from_str(&d.read("m.json")).unwrap();
    let data = &m["builds"][0]["custom_data"];
    assert_eq!(data["auth"], "Bearer <sensitive>");
    assert_eq!(data["region"], "eu-west-1");
    assert!(!d.read("m.json").contains("tok-manifest-0042"));
}

#[test]
fn an_element_of_a_sensitive_list_is_masked() {
    let d = dir();
    d.write(
        "t.pkr.hcl",
        r#"
variable "pins" {
  type      = list(number)
  sensitive = true
}
source "null" "a" { communicator = "none" }
build { sources = ["source.null.a"] }
"#,
    );
    // Not the whole value as JSON (`[3,"hunter2x"]`) on the source line.
    d.write("v.pkrvars.hcl", "pins = [3, \"hunter2x\"]\n");
    let r = kiln(&d, &["validate", "-var-file=v.pkrvars.hcl", "t.pkr.hcl"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("hunter2x"), "{}", r.stderr);
    assert!(r.stderr.contains("found `<sensitive>`"), "{}", r.stderr);
}

#[test]
fn the_elements_of_a_sensitive_list_printed_one_by_one_are_masked() {
    let d = dir();
    d.write(
        "t.pkr.hcl",
        r#"
variable "keys" {
  type      = list(string)
  sensitive = true
  default   = ["el-secret-one", "el-secret-two"]
}
local "more" {
  expression = ["loc-secret-three"]
  sensitive  = true
}
source "null" "a" { communicator = "none" }
build {
  sources = ["source.null.a"]
  provisioner "shell-local" {
    inline = ["printf '%s\\n' ${join(" ", concat(var.keys, local.more))}"]
  }
}
"#,
    );
    let r = kiln(&d, &["build", "-color=false", "t.pkr.hcl"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    for leaked in ["el-secret-one", "el-secret-two", "loc-secret-three"] {
        assert!(!all.contains(leaked), "`{leaked}` leaked:\n{all}");
    }
}

#[test]
fn an_unreadable_pkr_var_of_a_sensitive_variable_is_masked() {
    let d = dir();
    d.write(
        "t.pkr.hcl",
        r#"
variable "keys" {
  type      = list(string)
  sensitive = true
}
source "null" "a" { communicator = "none" }
build { sources = ["source.null.a"] }
"#,
    );
    let mut c = d.kiln(&["validate", "t.pkr.hcl"]);
    c.env("PKR_VAR_keys", "[\"pkr-secret-77\"");
    let r = run(c);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(!r.stderr.contains("pkr-secret-77"), "{}", r.stderr);
    assert!(r.stderr.contains("from `PKR_VAR_keys`"), "{}", r.stderr);
    // Given, even if unreadable: not also reported as "not set".
    assert!(!r.stderr.contains("is not set"), "{}", r.stderr);
}

#[test]
fn console_init_and_plugins_required_mask_a_rejected_secret() {
    let d = dir();
    d.write("t.pkr.hcl", TEMPLATE);
    // Auto var files are read beside a directory template.
    d.write("x.auto.pkrvars.hcl", "pin = \"notanumber99\"\n");
    for args in [
        &["console", "."][..],
        &["init", "."],
        &["plugins", "required", "."],
    ] {
        let r = kiln(&d, args);
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("notanumber99"), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("1| pin = \"<sensitive>\""),
            "{args:?}: {}",
            r.stderr
        );
    }
}
