//! kiln's attestations checked by an independent verifier: securesystemslib
//! (the in-toto project's signing library) verifies envelopes kiln signed
//! with ed25519, ECDSA P-256 and RSA keys made by OpenSSL for the test, and
//! rejects tampered ones and wrong keys; kiln verifies envelopes
//! securesystemslib signed.
//!
//! The verifier lives in a venv made by `scripts/install-deps.sh`
//! (`$KILN_ATTEST_VENV`, default `~/.cache/kiln/attest-venv`); without it
//! the test fails, saying so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use base64::Engine;
use kiln_provenance::dsse::{self, Envelope, IN_TOTO_PAYLOAD_TYPE};
use kiln_provenance::keys::SigningKey;
use kiln_provenance::statement::{self, Facts, Subject};
use kiln_provenance::{verify, ArtifactRef};
use kiln_sdk::record::{RunInfo, TemplateFile, VariableInfo};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/securesystemslib_dsse.py"
);

fn python() -> PathBuf {
    kiln_test::venv(
        "KILN_ATTEST_VENV",
        "attest-venv",
        &["bin/python"],
        "securesystemslib, cryptography",
    )
    .join("bin/python")
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("cannot run a command");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn openssl(dir: &Path, args: &[&str]) {
    let (ok, text) = run(Command::new("openssl").args(args).current_dir(dir));
    assert!(ok, "openssl {args:?}: {text}");
}

/// Fresh keys, one per type and private-key format: (name, private key,
/// public key).
fn keys(dir: &Path) -> Vec<(&'static str, PathBuf, PathBuf)> {
    openssl(
        dir,
        &["genpkey", "-algorithm", "ed25519", "-out", "ed25519.pem"],
    );
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "p256.sec1.pem",
        ],
    );
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "p256.pem",
        ],
    );
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:3072",
            "-out",
            "rsa.pem",
        ],
    );
    openssl(
        dir,
        &[
            "rsa",
            "-in",
            "rsa.pem",
            "-traditional",
            "-out",
            "rsa.pkcs1.pem",
        ],
    );
    let mut out = Vec::new();
    for (name, file, public_of) in [
        ("ed25519", "ed25519.pem", "ed25519.pem"),
        ("ecdsa-p256 (SEC1)", "p256.sec1.pem", "p256.sec1.pem"),
        ("ecdsa-p256 (PKCS#8)", "p256.pem", "p256.pem"),
        ("rsa (PKCS#8)", "rsa.pem", "rsa.pem"),
        ("rsa (PKCS#1)", "rsa.pkcs1.pem", "rsa.pem"),
    ] {
        let public = format!("{file}.pub");
        openssl(dir, &["pkey", "-in", public_of, "-pubout", "-out", &public]);
        out.push((name, dir.join(file), dir.join(public)));
    }
    out
}

fn attestation(key: &SigningKey, artifact_sha256: &str) -> String {
    let run = RunInfo {
        template_files: vec![TemplateFile {
            path: "t.pkr.hcl".into(),
            sha256: "0".repeat(64),
        }],
        variables: vec![VariableInfo {
            name: "token".into(),
            value: None,
        }],
        kiln_version: "0.1.0".into(),
    };
    let facts = Facts {
        build_name: "web",
        builder_type: "file",
        artifact_id: "File",
        artifact_builder_id: "packer.file",
        run: &run,
        source_image: None,
        invocation_id: "5e1c6a8e-0000-4000-8000-000000000001",
        started: SystemTime::now(),
        finished: SystemTime::now(),
    };
    let s = statement::statement(&facts, &[Subject::file("disk.img", artifact_sha256)]);
    let env = dsse::sign(IN_TOTO_PAYLOAD_TYPE, &serde_json::to_vec(&s).unwrap(), key).unwrap();
    serde_json::to_string(&env).unwrap() + "\n"
}

fn python_verify(att: &Path, public: &Path, sha256: Option<&str>) -> (bool, String) {
    let mut c = Command::new(python());
    c.arg(SCRIPT).arg("verify").arg(att).arg(public);
    if let Some(d) = sha256 {
        c.arg(d);
    }
    run(&mut c)
}

#[test]
fn securesystemslib_verifies_kilns_envelopes_and_rejects_tampering() {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let artifact = dir.path().join("disk.img");
    std::fs::write(&artifact, "image bytes").unwrap();
    let digest = kiln_provenance::sha256_file(&artifact, None).unwrap();
    let keys = keys(dir.path());
    for (name, private, public) in &keys {
        let key = SigningKey::from_pem(&std::fs::read(private).unwrap()).unwrap();
        let att = dir.path().join("a.intoto.jsonl");
        let text = attestation(&key, &digest);
        std::fs::write(&att, &text).unwrap();

        // Accepted, under the key id securesystemslib computes for the key.
        let (ok, out) = python_verify(&att, public, Some(&digest));
        assert!(ok, "{name}: {out}");
        assert_eq!(
            out.trim(),
            format!("ok {}", key.public_key().keyid()),
            "{name}"
        );

        // A changed statement.
        let mut env: Envelope = serde_json::from_str(&text).unwrap();
        let payload = String::from_utf8(env.payload_bytes().unwrap()).unwrap();
        env.payload = base64::engine::general_purpose::STANDARD
            .encode(payload.replace(&digest, &"1".repeat(64)));
        std::fs::write(&att, serde_json::to_string(&env).unwrap()).unwrap();
        let (ok, out) = python_verify(&att, public, None);
        assert!(!ok, "{name}: a changed payload was accepted: {out}");
        assert!(out.contains("verification failed"), "{name}: {out}");

        // A changed signature.
        let mut env: Envelope = serde_json::from_str(&text).unwrap();
        let mut sig = base64::engine::general_purpose::STANDARD
            .decode(&env.signatures[0].sig)
            .unwrap();
        let last = sig.len() - 1;
        sig[last] ^= 0x40;
        env.signatures[0].sig = base64::engine::general_purpose::STANDARD.encode(sig);
        std::fs::write(&att, serde_json::to_string(&env).unwrap()).unwrap();
        let (ok, out) = python_verify(&att, public, None);
        assert!(!ok, "{name}: a changed signature was accepted: {out}");

        // A wrong key (the ed25519 key for the others, and the reverse).
        std::fs::write(&att, &text).unwrap();
        let other = if *name == "ed25519" {
            &keys[2].2
        } else {
            &keys[0].2
        };
        let (ok, out) = python_verify(&att, other, None);
        assert!(!ok, "{name}: a wrong key was accepted: {out}");

        // A subject that does not match.
        let (ok, out) = python_verify(&att, public, Some(&"2".repeat(64)));
        assert!(!ok, "{name}: {out}");

        // The other way: securesystemslib signs, kiln verifies.
        let statement = dir.path().join("statement.json");
        std::fs::write(
            &statement,
            serde_json::to_vec(&serde_json::json!({
                "_type": statement::STATEMENT_TYPE,
                "subject": [{"name": "disk.img", "digest": {"sha256": digest}}],
                "predicateType": statement::PREDICATE_TYPE,
                "predicate": {}
            }))
            .unwrap(),
        )
        .unwrap();
        let (ok, out) = run(Command::new(&python)
            .arg(SCRIPT)
            .arg("sign")
            .arg(private)
            .arg(&statement));
        assert!(ok, "{name}: {out}");
        let public_pem = std::fs::read(public).unwrap();
        let v = verify(
            out.as_bytes(),
            &public_pem,
            Some(ArtifactRef::File(artifact.clone())),
        )
        .unwrap_or_else(|e| panic!("{name}: kiln rejects securesystemslib's envelope: {e}"));
        assert_eq!(v.keyid, key.public_key().keyid(), "{name}");
    }
}
