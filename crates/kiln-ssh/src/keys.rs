//! Temporary key pairs (`temporary_key_pair_type`): generated in
//! memory for builders that inject a public key into the machine. The
//! private key never touches the disk unless `-debug` asks for it
//! ([`TemporaryKeyPair::write_debug_copy`], mode 0600). Holds no
//! resources; the debug copy is the user's to delete.

use std::path::Path;

use russh::keys::ssh_key::LineEnding;
use russh::keys::{Algorithm, PrivateKey};

use crate::config::KeyPairType;

/// A generated key pair.
pub struct TemporaryKeyPair {
    /// The private key, for authentication.
    pub private: PrivateKey,
    /// The private key in OpenSSH format (`SSHPrivateKey`).
    pub private_openssh: kiln_sdk::Secret<String>,
    /// The `authorized_keys` line (`SSHPublicKey`).
    pub public_openssh: String,
}

/// Why a key pair could not be made.
#[derive(Debug, thiserror::Error)]
pub enum KeyPairError {
    /// Generation or encoding failed.
    #[error("cannot generate a temporary {kind} key pair: {message}")]
    Generate {
        /// `ed25519` or `rsa`.
        kind: &'static str,
        /// Why.
        message: String,
    },
    /// The debug copy could not be written.
    #[error("cannot write the private key to `{path}`: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl TemporaryKeyPair {
    /// Generates a key pair of `kind`; its private key is registered with
    /// `redactor`.
    pub fn generate(
        kind: KeyPairType,
        comment: &str,
        redactor: Option<&kiln_sdk::ui::Redactor>,
    ) -> Result<Self, KeyPairError> {
        let (name, algo) = match kind {
            KeyPairType::Ed25519 => ("ed25519", Algorithm::Ed25519),
            KeyPairType::Rsa(_) => ("rsa", Algorithm::Rsa { hash: None }),
        };
        let err = |m: String| KeyPairError::Generate {
            kind: name,
            message: m,
        };
        let mut private = match kind {
            KeyPairType::Rsa(bits) => {
                let k = russh::keys::ssh_key::private::RsaKeypair::random(
                    &mut rand::rng(),
                    bits as usize,
                )
                .map_err(|e| err(e.to_string()))?;
                PrivateKey::from(k)
            }
            KeyPairType::Ed25519 => {
                PrivateKey::random(&mut rand::rng(), algo).map_err(|e| err(e.to_string()))?
            }
        };
        private.set_comment(comment);
        let pem = private
            .to_openssh(LineEnding::LF)
            .map_err(|e| err(e.to_string()))?
            .to_string();
        if let Some(r) = redactor {
            crate::config::register_key_material(r, &pem);
        }
        let public_openssh = private
            .public_key()
            .to_openssh()
            .map_err(|e| err(e.to_string()))?;
        Ok(TemporaryKeyPair {
            private,
            private_openssh: kiln_sdk::Secret::new(pem),
            public_openssh,
        })
    }

    /// Writes the private key to `path`, mode 0600 (for `-debug`).
    pub fn write_debug_copy(&self, path: &Path) -> Result<(), KeyPairError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let w = |source| KeyPairError::Write {
            path: path.display().to_string(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(w)?;
        f.write_all(self.private_openssh.expose().as_bytes())
            .map_err(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_ed25519_and_redacts_it() {
        let r = kiln_sdk::ui::Redactor::new();
        let k = TemporaryKeyPair::generate(KeyPairType::Ed25519, "kiln", Some(&r)).unwrap();
        assert!(
            k.public_openssh.starts_with("ssh-ed25519 "),
            "{}",
            k.public_openssh
        );
        let pem = k.private_openssh.expose();
        assert!(pem.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
        assert_eq!(r.redact(pem).trim(), "<sensitive>");
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k");
        k.write_debug_copy(&p).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}
