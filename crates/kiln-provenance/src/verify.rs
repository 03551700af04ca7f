//! Verification of an attestation, as `kiln verify-attestation` does it:
//! first the envelope's signature with the given public key, then the
//! statement, then — when an artifact is given — that the artifact is one of
//! the statement's subjects (a local file by its SHA-256, an image by its
//! id).

use std::path::PathBuf;

use serde_json::Value;

use crate::dsse::{DsseError, Envelope, IN_TOTO_PAYLOAD_TYPE};
use crate::keys::{KeyError, KeyType, PublicKey};
use crate::statement::{sha256_of_id, Subject, IMAGE_ID_DIGEST, STATEMENT_TYPE};

/// The artifact an attestation is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArtifactRef {
    /// A local file: its SHA-256 must be a subject's.
    File(PathBuf),
    /// An image id (`sha256:…` for Docker, `us-east-1:ami-…` for AWS).
    ImageId(String),
}

/// What a successful verification established.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The id of the key that verified the signature.
    pub keyid: String,
    /// Its type.
    pub key_type: KeyType,
    /// The statement's predicate type.
    pub predicate_type: String,
    /// Every subject of the statement.
    pub subjects: Vec<Subject>,
    /// The subject the artifact matched, when one was given.
    pub matched: Option<Subject>,
    /// The whole statement.
    pub statement: Value,
}

/// Why an attestation did not verify. Each message says which check
/// failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The public key cannot be used.
    #[error("invalid public key: {0}")]
    Key(#[from] KeyError),
    /// The attestation is no DSSE envelope.
    #[error("the attestation is not a DSSE envelope: {0}")]
    NotEnvelope(String),
    /// No signature verifies.
    #[error("signature check failed: {0}")]
    Signature(DsseError),
    /// The signed payload is not an in-toto statement.
    #[error("the signed payload is not an in-toto statement: {0}")]
    Statement(String),
    /// The artifact cannot be read.
    #[error("cannot read the artifact `{}`: {source}", path.display())]
    ReadArtifact {
        /// The artifact.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The artifact is no subject.
    #[error(
        "artifact check failed: `{artifact}` ({what}) matches no subject of the attestation \
         (subjects: {subjects})"
    )]
    Mismatch {
        /// The artifact as given.
        artifact: String,
        /// What was compared (`sha256 …`, `image id`).
        what: String,
        /// The subjects, for the message.
        subjects: String,
    },
}

/// The envelopes of an attestation file: one JSON object, or JSON Lines
/// (`.intoto.jsonl`) with one envelope per line.
fn envelopes(attestation: &[u8]) -> Result<Vec<Envelope>, VerifyError> {
    if let Ok(e) = serde_json::from_slice::<Envelope>(attestation) {
        return Ok(vec![e]);
    }
    let text = std::str::from_utf8(attestation)
        .map_err(|_| VerifyError::NotEnvelope("it is not UTF-8 text".into()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let e = serde_json::from_str::<Envelope>(line)
            .map_err(|e| VerifyError::NotEnvelope(format!("line {}: {e}", i + 1)))?;
        out.push(e);
    }
    if out.is_empty() {
        return Err(VerifyError::NotEnvelope("it is empty".into()));
    }
    Ok(out)
}

/// Verifies `attestation` (a DSSE envelope, or JSON Lines of them) with
/// `public_key_pem`, and, when given, that `artifact` is one of its
/// subjects. With several envelopes, the first that passes every check
/// wins; otherwise the first envelope's error is returned.
pub fn verify(
    attestation: &[u8],
    public_key_pem: &[u8],
    artifact: Option<ArtifactRef>,
) -> Result<Verified, VerifyError> {
    let key = PublicKey::from_pem(public_key_pem)?;
    let envelopes = envelopes(attestation)?;
    // The file's digest, computed once.
    let artifact = match artifact {
        None => None,
        Some(ArtifactRef::File(path)) => {
            let hex =
                crate::sha256_file(&path, None).map_err(|source| VerifyError::ReadArtifact {
                    path: path.clone(),
                    source,
                })?;
            Some((ArtifactRef::File(path), Some(hex)))
        }
        Some(id) => Some((id, None)),
    };
    let mut first_error = None;
    for envelope in &envelopes {
        match verify_one(envelope, &key, artifact.as_ref()) {
            Ok(v) => return Ok(v),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| VerifyError::NotEnvelope("it is empty".into())))
}

fn verify_one(
    envelope: &Envelope,
    key: &PublicKey,
    artifact: Option<&(ArtifactRef, Option<String>)>,
) -> Result<Verified, VerifyError> {
    let payload = envelope.verify(key).map_err(VerifyError::Signature)?;
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(VerifyError::Statement(format!(
            "its payload type is `{}`, not `{IN_TOTO_PAYLOAD_TYPE}`",
            envelope.payload_type
        )));
    }
    let statement: Value =
        serde_json::from_slice(&payload).map_err(|e| VerifyError::Statement(e.to_string()))?;
    let kind = statement["_type"].as_str().unwrap_or_default();
    if kind != STATEMENT_TYPE && kind != "https://in-toto.io/Statement/v0.1" {
        return Err(VerifyError::Statement(format!(
            "its `_type` is `{kind}`, not `{STATEMENT_TYPE}`"
        )));
    }
    let subjects: Vec<Subject> = serde_json::from_value(statement["subject"].clone())
        .map_err(|e| VerifyError::Statement(format!("`subject`: {e}")))?;
    if subjects.is_empty() {
        return Err(VerifyError::Statement("it has no subject".into()));
    }
    let matched = match artifact {
        None => None,
        Some((a, digest)) => Some(match_subject(a, digest.as_deref(), &subjects)?),
    };
    Ok(Verified {
        keyid: key.keyid(),
        key_type: key.key_type(),
        predicate_type: statement["predicateType"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        subjects,
        matched,
        statement,
    })
}

/// Whether the image id `given` names the subject id `subject`: the same
/// id, or one of its comma-separated parts (`us-east-1:ami-1`), or such a
/// part without its region (`ami-1`).
fn same_image(given: &str, subject: &str) -> bool {
    given == subject
        || subject
            .split(',')
            .any(|part| part == given || part.split_once(':').is_some_and(|(_, id)| id == given))
}

fn match_subject(
    artifact: &ArtifactRef,
    sha256: Option<&str>,
    subjects: &[Subject],
) -> Result<Subject, VerifyError> {
    let found = match artifact {
        ArtifactRef::File(_) => {
            let hex = sha256.unwrap_or_default();
            subjects.iter().find(|s| {
                s.digest
                    .get("sha256")
                    .is_some_and(|d| d.eq_ignore_ascii_case(hex))
            })
        }
        ArtifactRef::ImageId(id) => {
            let hex = sha256_of_id(id);
            subjects.iter().find(|s| {
                s.digest
                    .get(IMAGE_ID_DIGEST)
                    .is_some_and(|d| same_image(id, d))
                    || hex.is_some_and(|h| {
                        s.digest
                            .get("sha256")
                            .is_some_and(|d| d.eq_ignore_ascii_case(h))
                    })
            })
        }
    };
    if let Some(s) = found {
        return Ok(s.clone());
    }
    let (name, what) = match artifact {
        ArtifactRef::File(p) => (
            p.display().to_string(),
            format!("sha256 {}", sha256.unwrap_or_default()),
        ),
        ArtifactRef::ImageId(id) => (id.clone(), "not a file; compared as an image id".into()),
    };
    Err(VerifyError::Mismatch {
        artifact: name,
        what,
        subjects: subjects
            .iter()
            .map(describe_subject)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// `name (algo:digest)`, for messages.
pub fn describe_subject(s: &Subject) -> String {
    let digests: Vec<String> = s.digest.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("`{}` ({})", s.name, digests.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsse;
    use crate::keys::testing::*;
    use crate::keys::SigningKey;
    use serde_json::json;

    fn attestation(key: &str, subjects: &[Subject]) -> Vec<u8> {
        let key = SigningKey::from_pem(key.as_bytes()).unwrap();
        let statement = json!({
            "_type": STATEMENT_TYPE,
            "subject": subjects,
            "predicateType": crate::statement::PREDICATE_TYPE,
            "predicate": {}
        });
        let payload = serde_json::to_vec(&statement).unwrap();
        let env = dsse::sign(IN_TOTO_PAYLOAD_TYPE, &payload, &key).unwrap();
        let mut out = serde_json::to_vec(&env).unwrap();
        out.push(b'\n');
        out
    }

    #[test]
    fn a_file_artifact_round_trips_for_every_key_type_and_fails_when_changed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("disk.img");
        std::fs::write(&file, "hello").unwrap();
        let hex = crate::sha256_file(&file, None).unwrap();
        assert_eq!(
            hex,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        for (private, public) in [(ED25519, ED25519_PUB), (P256, P256_PUB), (RSA, RSA_PUB)] {
            let att = attestation(private, &[Subject::file("disk.img", &hex)]);
            let v = verify(
                &att,
                public.as_bytes(),
                Some(ArtifactRef::File(file.clone())),
            )
            .unwrap();
            assert_eq!(v.matched.unwrap().name, "disk.img");
            assert_eq!(v.predicate_type, crate::statement::PREDICATE_TYPE);
            // No artifact: the signature alone.
            verify(&att, public.as_bytes(), None).unwrap();

            // A wrong key.
            let e = verify(&att, OTHER_ED25519_PUB.as_bytes(), None)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("signature check failed: "), "{e}");

            // A changed payload (the statement edited, signature kept).
            let mut env: Envelope = serde_json::from_slice(&att).unwrap();
            let text = String::from_utf8(env.payload_bytes().unwrap()).unwrap();
            use base64::Engine;
            env.payload = base64::engine::general_purpose::STANDARD
                .encode(text.replace(&hex, &"0".repeat(64)));
            let changed = serde_json::to_vec(&env).unwrap();
            let e = verify(&changed, public.as_bytes(), None)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("signature check failed: "), "{e}");
        }

        // A changed artifact.
        let att = attestation(ED25519, &[Subject::file("disk.img", &hex)]);
        std::fs::write(&file, "hellO").unwrap();
        let e = verify(
            &att,
            ED25519_PUB.as_bytes(),
            Some(ArtifactRef::File(file.clone())),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("artifact check failed: `"), "{e}");
        assert!(
            e.contains(&format!(
                "matches no subject of the attestation (subjects: `disk.img` (sha256:{hex}))"
            )),
            "{e}"
        );
        // A missing artifact file is reported as such by the command; here
        // reading it fails.
        let e = verify(
            &att,
            ED25519_PUB.as_bytes(),
            Some(ArtifactRef::File(dir.path().join("nope"))),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("cannot read the artifact `"), "{e}");
    }

    #[test]
    fn image_ids_match_by_digest_or_id() {
        let hex = "b".repeat(64);
        let docker = format!("sha256:{hex}");
        let att = attestation(
            P256,
            &[
                Subject::image(&docker),
                Subject::image("us-east-1:ami-1,eu-west-1:ami-2"),
            ],
        );
        let ok = |id: &str| {
            verify(
                &att,
                P256_PUB.as_bytes(),
                Some(ArtifactRef::ImageId(id.into())),
            )
        };
        assert_eq!(ok(&docker).unwrap().matched.unwrap().name, docker);
        for id in [
            "us-east-1:ami-1,eu-west-1:ami-2",
            "eu-west-1:ami-2",
            "ami-1",
        ] {
            assert_eq!(
                ok(id).unwrap().matched.unwrap().name,
                "us-east-1:ami-1,eu-west-1:ami-2"
            );
        }
        let e = ok("ami-3").unwrap_err().to_string();
        assert!(
            e.starts_with("artifact check failed: `ami-3` (not a file; compared as an image id)"),
            "{e}"
        );
        assert!(ok(&format!("sha256:{}", "c".repeat(64))).is_err());
    }

    #[test]
    fn not_envelopes_and_not_statements_are_named() {
        let e = verify(b"", ED25519_PUB.as_bytes(), None)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "the attestation is not a DSSE envelope: it is empty");
        let e = verify(b"{\"a\": 1}\n", ED25519_PUB.as_bytes(), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("the attestation is not a DSSE envelope: line 1: "),
            "{e}"
        );
        let key = SigningKey::from_pem(ED25519.as_bytes()).unwrap();
        let env = dsse::sign(IN_TOTO_PAYLOAD_TYPE, b"{\"_type\": \"x\"}", &key).unwrap();
        let e = verify(
            &serde_json::to_vec(&env).unwrap(),
            ED25519_PUB.as_bytes(),
            None,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "the signed payload is not an in-toto statement: its `_type` is `x`, not `https://in-toto.io/Statement/v1`"
        );
        let e = verify(b"{}", b"nonsense", None).unwrap_err().to_string();
        assert!(
            e.starts_with("invalid public key: the key is not PEM"),
            "{e}"
        );
    }
}
