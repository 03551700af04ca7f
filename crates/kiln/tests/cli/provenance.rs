//! The `provenance` post-processor and `kiln verify-attestation`, end to
//! end: a `file` build (JSON and HCL2 templates) with a sensitive variable
//! signs its artifact, the manifest names the attestation, the statement
//! carries the artifact's digest and no sensitive value, and
//! `verify-attestation` accepts it — and refuses a changed artifact and a
//! wrong key, saying which check failed.

use kiln_provenance::dsse::Envelope;

use crate::support::*;

/// The SHA-256 of `hello world\n`, the artifact's content.
const DIGEST: &str = "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447";

/// The sensitive value: it must appear nowhere.
const SECRET: &str = "s3cr3t-t0ken-do-not-leak";

/// A test key of kiln-provenance's fixtures.
fn key(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../kiln-provenance/tests/keys")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const JSON: &str = r#"{
  "variables": {"greeting": "hello", "token": ""},
  "sensitive-variables": ["token"],
  "builders": [{"type": "file", "content": "{{user `greeting`}} world\n", "target": "out/image.txt"}],
  "post-processors": [[
    {"type": "provenance", "signing_key_file": "key.pem"},
    {"type": "manifest", "output": "manifest.json"}
  ]]
}
"#;

const HCL: &str = r#"variable "greeting" {
  default = "hello"
}

variable "token" {
  type      = string
  sensitive = true
}

source "file" "img" {
  content = "${var.greeting} world\n"
  target  = "out/image.txt"
}

build {
  sources = ["source.file.img"]

  post-processors {
    post-processor "provenance" {
      signing_key_env = "KILN_TEST_SIGNING_KEY"
    }
    post-processor "manifest" {
      output = "manifest.json"
    }
  }
}
"#;

const ATTESTATION: &str = "out/image.txt.intoto.jsonl";

/// Builds `template` in `d` with the sensitive `token` set on the command
/// line and the ed25519 key in the environment.
fn build(d: &TestDir, template: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "build",
        "-var",
        concat!("token=", "s3cr3t-t0ken-do-not-leak"),
    ];
    args.extend_from_slice(extra);
    args.push(template);
    let mut c = d.kiln(&args);
    c.env("KILN_TEST_SIGNING_KEY", key("ed25519.pem"));
    run(c)
}

/// Checks what one successful build wrote; returns the statement.
fn check_outputs(d: &TestDir, r: &Run, build_name: &str) -> serde_json::Value {
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(!all.contains(SECRET), "{all}");
    assert!(
        all.contains("Provenance written to `out/image.txt.intoto.jsonl`"),
        "{all}"
    );

    let manifest = d.read("manifest.json");
    assert!(!manifest.contains(SECRET), "{manifest}");
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let text = d.read(ATTESTATION);
    assert_eq!(
        m["builds"][0]["kiln"]["attachments"],
        serde_json::json!([{"kind": "provenance", "name": ATTESTATION, "size": text.len()}]),
        "{manifest}"
    );

    assert_eq!(text.lines().count(), 1, "{text}");
    let envelope: Envelope = serde_json::from_str(&text).unwrap();
    assert_eq!(envelope.payload_type, "application/vnd.in-toto+json");
    let payload = String::from_utf8(envelope.payload_bytes().unwrap()).unwrap();
    assert!(
        !text.contains(SECRET) && !payload.contains(SECRET),
        "{payload}"
    );
    let s: serde_json::Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(s["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(s["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(
        s["subject"],
        serde_json::json!([{"name": "image.txt", "digest": {"sha256": DIGEST}}])
    );
    let params = &s["predicate"]["buildDefinition"]["externalParameters"];
    assert_eq!(params["build"], build_name);
    assert_eq!(params["builderType"], "file");
    let variables = params["variables"].as_array().unwrap();
    assert!(
        variables.contains(&serde_json::json!({"name": "token", "sensitive": true})),
        "{variables:?}"
    );
    assert!(
        variables.contains(&serde_json::json!({"name": "greeting", "value": "hello"})),
        "{variables:?}"
    );
    let files = params["template"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(
        s["predicate"]["runDetails"]["builder"]["version"]["kiln"],
        env!("CARGO_PKG_VERSION")
    );
    s
}

fn verify(d: &TestDir, public: &str, artifact: Option<&str>) -> Run {
    let mut args = vec!["verify-attestation", "-key", public, ATTESTATION];
    args.extend(artifact);
    kiln(d, &args)
}

#[test]
fn json_template_signs_with_a_key_file_and_verifies() {
    let d = dir();
    d.write("t.json", JSON);
    d.write("key.pem", &key("p256.pem"));
    d.write("key.pub.pem", &key("p256.pub.pem"));
    d.write("other.pub.pem", &key("other-ed25519.pub.pem"));
    let r = build(&d, "t.json", &[]);
    let s = check_outputs(&d, &r, "file");
    // The template's digest.
    use sha2::Digest;
    let t_digest = hex::encode(sha2::Sha256::digest(d.read("t.json")));
    assert_eq!(
        s["predicate"]["buildDefinition"]["externalParameters"]["template"]["files"][0]["digest"]
            ["sha256"],
        t_digest
    );

    let r = verify(&d, "key.pub.pem", Some("out/image.txt"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(
            "attestation `out/image.txt.intoto.jsonl` verified: signed by the ecdsa-p256 key `"
        ),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(&format!(
            "`out/image.txt` matches the subject `image.txt` (sha256:{DIGEST})"
        )),
        "{}",
        r.stdout
    );
    // The signature alone.
    let r = verify(&d, "key.pub.pem", None);
    assert_eq!(r.code, 0, "{}", r.stderr);

    // A wrong key.
    let r = verify(&d, "other.pub.pem", Some("out/image.txt"));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.starts_with(
            "error: signature check failed: no signature of the envelope verifies with the ed25519 key `"
        ),
        "{}",
        r.stderr
    );
    // A private key where the public key goes: refused, and not shown.
    let r = verify(&d, "key.pem", None);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(
            "error: invalid public key: this is a private key; verification needs the public key"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(key("p256.pem").lines().nth(1).unwrap()));

    // A changed artifact.
    d.write("out/image.txt", "hello world!\n");
    let r = verify(&d, "key.pub.pem", Some("out/image.txt"));
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .starts_with("error: artifact check failed: `out/image.txt` (sha256 "),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("matches no subject of the attestation"),
        "{}",
        r.stderr
    );

    // A changed attestation.
    let text = d.read(ATTESTATION);
    let mut env: Envelope = serde_json::from_str(&text).unwrap();
    // One base64 character changed: another payload, still base64.
    let mut chars: Vec<char> = env.payload.chars().collect();
    chars[40] = if chars[40] == 'A' { 'B' } else { 'A' };
    env.payload = chars.into_iter().collect();
    d.write("tampered.jsonl", &serde_json::to_string(&env).unwrap());
    let r = kiln(
        &d,
        &[
            "verify-attestation",
            "-key",
            "key.pub.pem",
            "tampered.jsonl",
        ],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("error: signature check failed: "),
        "{}",
        r.stderr
    );
}

#[test]
fn hcl2_template_signs_with_a_key_from_the_environment_and_refuses_to_overwrite() {
    let d = dir();
    d.write("t.pkr.hcl", HCL);
    d.write("key.pub.pem", &key("ed25519.pub.pem"));
    let r = build(&d, "t.pkr.hcl", &[]);
    check_outputs(&d, &r, "img");
    let r = verify(&d, "key.pub.pem", Some("out/image.txt"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("signed by the ed25519 key"),
        "{}",
        r.stdout
    );

    // Again, without -force: the builder's own output is gone, the
    // attestation is not, and is kept.
    std::fs::remove_file(d.path().join("out/image.txt")).unwrap();
    let before = d.read(ATTESTATION);
    let r = build(&d, "t.pkr.hcl", &[]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr
            .contains("the attestation `out/image.txt.intoto.jsonl` already exists"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("run with -force to replace it"),
        "{}",
        r.stderr
    );
    assert_eq!(d.read(ATTESTATION), before);
    // With -force it is replaced.
    let r = build(&d, "t.pkr.hcl", &["-force"]);
    check_outputs(&d, &r, "img");

    // No key: every problem at once, at validate time.
    d.write(
        "bad.pkr.hcl",
        &HCL.replace(
            "signing_key_env = \"KILN_TEST_SIGNING_KEY\"",
            "signing_key_file = \"missing.pem\"\n      output = \"{{ .Oops\"",
        ),
    );
    let r = kiln(&d, &["validate", "bad.pkr.hcl"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stderr.contains("bad key file `missing.pem`"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("template syntax error"), "{}", r.stderr);
}

#[test]
fn verify_attestation_usage_errors() {
    let d = dir();
    let r = kiln(&d, &["verify-attestation", "a.jsonl"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("error: `-key` is required"),
        "{}",
        r.stderr
    );
    let r = kiln(&d, &["verify-attestation", "-key", "k.pem"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("error: an ATTESTATION file is required"),
        "{}",
        r.stderr
    );
    let r = kiln(&d, &["verify-attestation", "-key", "k.pem", "a.jsonl"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("error: cannot read the public key `k.pem`: "),
        "{}",
        r.stderr
    );
    let r = kiln(&d, &["verify-attestation", "-h"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.starts_with("Usage: kiln verify-attestation -key"),
        "{}",
        r.stdout
    );
    let r = kiln(&d, &["help"]);
    assert!(
        r.stdout
            .contains("    verify-attestation verify a provenance attestation"),
        "{}",
        r.stdout
    );
}
