//! `kiln verify-attestation -key PUBLIC.pem ATTESTATION [ARTIFACT]`:
//! checks an attestation the `provenance` post-processor wrote — its
//! signature with the public key, then, when ARTIFACT is given, that the
//! artifact is one of its subjects. The work is in
//! [`kiln_provenance::verify`]; this file reads the files and reports.

use std::path::{Path, PathBuf};

use kiln_provenance::verify::describe_subject;
use kiln_provenance::{verify, ArtifactRef};

use super::common;
use crate::cli::{Flag, Kind};

pub const USAGE: &str = "Usage: kiln verify-attestation -key PUBLIC.pem ATTESTATION [ARTIFACT]

  Verifies an attestation written by the provenance post-processor (a DSSE
  envelope holding an in-toto statement with SLSA provenance, one per line
  of a .intoto.jsonl file): its signature with the public key (ed25519,
  ECDSA P-256 or RSA, PEM), then, when ARTIFACT is given, that the artifact
  is one of the statement's subjects. ARTIFACT is a local file, compared by
  its SHA-256, or else an image id (a Docker `sha256:...` id, an AMI id).

  Exits 0 when every check passes; otherwise exits 1 and says which check
  failed.

Options:

  -key=PUBLIC.pem  The public key to verify the signature with. Required.
";

pub const FLAGS: &[Flag] = &[Flag::new("key", Kind::Value)];

/// Runs `kiln verify-attestation`.
pub fn run(args: Vec<String>) -> u8 {
    let p = match crate::cli::parse(&args, FLAGS) {
        Ok(p) => p,
        Err(e) => return common::usage_error(&e, USAGE),
    };
    if p.help {
        print!("{USAGE}");
        return 0;
    }
    let Some(key) = p.value("key").filter(|k| !k.is_empty()) else {
        return common::usage_error("`-key` is required: the public key (PEM)", USAGE);
    };
    let (attestation, artifact) = match p.args.as_slice() {
        [a] => (a, None),
        [a, b] => (a, Some(b)),
        [] => return common::usage_error("an ATTESTATION file is required", USAGE),
        _ => {
            return common::usage_error(
                "too many arguments: expected ATTESTATION and at most one ARTIFACT",
                USAGE,
            )
        }
    };
    let read = |path: &str, what: &str| {
        std::fs::read(path).map_err(|e| format!("cannot read the {what} `{path}`: {e}"))
    };
    let (key_pem, envelope) = match (read(key, "public key"), read(attestation, "attestation")) {
        (Ok(k), Ok(a)) => (k, a),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    // A path that names a file is compared by digest; anything else is an
    // image id.
    let artifact_ref = artifact.map(|a| {
        if Path::new(a).is_file() {
            ArtifactRef::File(PathBuf::from(a))
        } else {
            ArtifactRef::ImageId(a.clone())
        }
    });
    match verify(&envelope, &key_pem, artifact_ref) {
        Ok(v) => {
            let subject = match (&v.matched, artifact) {
                (Some(s), Some(a)) => {
                    format!("; `{a}` matches the subject {}", describe_subject(s))
                }
                _ => format!(
                    "; subjects: {}",
                    v.subjects
                        .iter()
                        .map(describe_subject)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            println!(
                "attestation `{attestation}` verified: signed by the {} key `{}`{subject}",
                v.key_type.name(),
                v.keyid
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            if let kiln_provenance::VerifyError::Key(k) = &e {
                if let Some(h) = k.hint() {
                    eprintln!("  hint: {h}");
                }
            }
            1
        }
    }
}
