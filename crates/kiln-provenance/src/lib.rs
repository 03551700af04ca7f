//! kiln-provenance: signed build provenance for kiln's images.
//!
//! The `provenance` post-processor ([`ProvenanceFactory`]) writes, for the
//! artifact it receives, an in-toto Statement v1 with a SLSA v1 provenance
//! predicate ([`statement`]), signed with the user's key ([`keys`]: ed25519,
//! ECDSA P-256 or RSA, PEM) in a DSSE envelope ([`dsse`]).
//! [`verify()`] is what `kiln verify-attestation` runs: it checks the
//! signature with a public key, then that an artifact (a file, or an image
//! id) is one of the statement's subjects. The formats are the in-toto
//! tooling's, so `securesystemslib` and `in-toto` verify kiln's envelopes.

pub mod dsse;
pub mod keys;
pub mod post_processor;
pub mod statement;
pub mod verify;

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

pub use post_processor::ProvenanceFactory;
pub use verify::{verify, ArtifactRef, Verified, VerifyError};

/// The SHA-256 of a file in lowercase hex, streamed; stops with an
/// `Interrupted` error when `cancel` fires.
pub fn sha256_file(path: &Path, cancel: Option<&CancellationToken>) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        if cancel.is_some_and(|c| c.is_cancelled()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "cancelled",
            ));
        }
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(hex::encode(hasher.finalize()))
}
