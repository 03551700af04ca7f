//! Signing and verification keys read from PEM: ed25519 (PKCS#8), ECDSA
//! P-256 (PKCS#8 or SEC1 `EC PRIVATE KEY`) and RSA (PKCS#1 or PKCS#8) private
//! keys, and their public keys (SPKI `PUBLIC KEY`, or PKCS#1
//! `RSA PUBLIC KEY`).
//!
//! The signature schemes and key ids are securesystemslib's, so that the
//! in-toto tooling verifies kiln's envelopes as they are:
//!
//! | key | scheme | signature |
//! | --- | --- | --- |
//! | ed25519 | `ed25519` | the 64-byte signature |
//! | ECDSA P-256 | `ecdsa-sha2-nistp256` | ECDSA over SHA-256, DER-encoded |
//! | RSA | `rsassa-pss-sha256` | RSASSA-PSS, SHA-256, MGF1-SHA-256, 32-byte salt |
//!
//! The key id is securesystemslib's default: the SHA-256 of the canonical
//! JSON `{"keytype":…,"keyval":{"public":…},"scheme":…}`, where the public
//! value is the raw key in hex for ed25519 and the SPKI PEM otherwise.
//!
//! The private key's bytes never reach an error message, a `Debug` output or
//! a log: errors name the problem only, and the decoded key material is
//! zeroed when dropped.

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
use pkcs8::der::pem::LineEnding;
use pkcs8::ObjectIdentifier;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer, Verifier};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// `id-Ed25519` (RFC 8410).
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
/// `id-ecPublicKey` (RFC 5480).
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `secp256r1` / P-256.
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// `rsaEncryption` (PKCS#1).
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The key types kiln signs with, for messages.
pub const SUPPORTED: &str = "ed25519, ecdsa-p256 or rsa";

/// Why a key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No PEM block.
    #[error("the key is not PEM (expected a `-----BEGIN … KEY-----` block)")]
    NotPem,
    /// A PEM block that cannot be decoded.
    #[error("the key's PEM block cannot be decoded: {0}")]
    BadPem(String),
    /// An encrypted private key.
    #[error("the private key is encrypted; kiln needs it unencrypted")]
    Encrypted,
    /// A kind of key kiln does not sign or verify with.
    #[error("unsupported key: {0} (supported: {SUPPORTED})")]
    Unsupported(String),
    /// A public key where a private key is needed, or the reverse.
    #[error("{0}")]
    WrongKind(&'static str),
    /// A key of a supported type whose contents are invalid.
    #[error("invalid {what} key: {reason}")]
    Invalid {
        /// `ed25519`, `ecdsa-p256`, `rsa`.
        what: &'static str,
        /// The decoder's message (it never quotes the key).
        reason: String,
    },
    /// Signing failed.
    #[error("cannot sign with the {0} key: {1}")]
    Sign(&'static str, String),
}

impl KeyError {
    /// A hint for the user, when there is a usual fix.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            KeyError::Encrypted => {
                Some("decrypt a copy with `openssl pkey -in KEY.pem -out PLAIN.pem`")
            }
            KeyError::Unsupported(s) if s.contains("OpenSSH") => {
                Some("convert it to PKCS#8 with `ssh-keygen -p -m PKCS8 -f KEY`")
            }
            _ => None,
        }
    }
}

/// The type of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// Ed25519.
    Ed25519,
    /// ECDSA on the NIST P-256 curve.
    EcdsaP256,
    /// RSA.
    Rsa,
}

impl KeyType {
    /// securesystemslib's `keytype`.
    pub fn keytype(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ed25519",
            KeyType::EcdsaP256 => "ecdsa",
            KeyType::Rsa => "rsa",
        }
    }

    /// securesystemslib's `scheme`: the signature algorithm.
    pub fn scheme(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ed25519",
            KeyType::EcdsaP256 => "ecdsa-sha2-nistp256",
            KeyType::Rsa => "rsassa-pss-sha256",
        }
    }

    /// The name kiln's messages use.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "ed25519",
            KeyType::EcdsaP256 => "ecdsa-p256",
            KeyType::Rsa => "rsa",
        }
    }
}

/// A private key to sign with.
pub enum SigningKey {
    /// Ed25519.
    Ed25519(ed25519_dalek::SigningKey),
    /// ECDSA P-256.
    EcdsaP256(p256::ecdsa::SigningKey),
    /// RSA, signing with RSASSA-PSS and SHA-256.
    Rsa(Box<rsa::pss::SigningKey<Sha256>>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        write!(f, "SigningKey({}, keyid {})", self.key_type().name(), {
            self.public_key().keyid()
        })
    }
}

/// A public key to verify with.
#[derive(Clone)]
pub enum PublicKey {
    /// Ed25519.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// ECDSA P-256.
    EcdsaP256(p256::ecdsa::VerifyingKey),
    /// RSA.
    Rsa(Box<rsa::RsaPublicKey>),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PublicKey({}, keyid {})",
            self.key_type().name(),
            self.keyid()
        )
    }
}

/// The first PEM block of `text` (text before it, such as OpenSSL's
/// explanatory lines, is skipped): its label and its decoded bytes.
fn pem_block(text: &[u8]) -> Result<(String, Zeroizing<Vec<u8>>), KeyError> {
    let start = find(text, b"-----BEGIN ").ok_or(KeyError::NotPem)?;
    let rest = &text[start..];
    if find(rest, b"Proc-Type: 4,ENCRYPTED").is_some() {
        return Err(KeyError::Encrypted);
    }
    // The block ends with the line `-----END LABEL-----`.
    let end = find(rest, b"-----END ")
        .and_then(|e| find(&rest[e + 9..], b"-----").map(|d| e + 9 + d + 5))
        .ok_or_else(|| KeyError::BadPem("no `-----END` line".into()))?;
    let block = &rest[..end];
    let (label, bytes) =
        pkcs8::der::pem::decode_vec(block).map_err(|e| KeyError::BadPem(e.to_string()))?;
    Ok((label.to_string(), Zeroizing::new(bytes)))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(what: &'static str) -> impl FnOnce(String) -> KeyError {
    move |reason| KeyError::Invalid { what, reason }
}

/// Refuses an EC key whose algorithm parameters name a curve other than
/// P-256 (PKCS#8 private keys and SubjectPublicKeyInfo alike).
fn require_p256(algorithm: &spki::AlgorithmIdentifierRef<'_>) -> Result<(), KeyError> {
    let curve = algorithm
        .parameters_oid()
        .map_err(|e| invalid("ecdsa-p256")(e.to_string()))?;
    require_curve(curve)
}

/// Refuses every curve but P-256, naming the one found.
fn require_curve(curve: ObjectIdentifier) -> Result<(), KeyError> {
    if curve == OID_P256 {
        Ok(())
    } else {
        Err(KeyError::Unsupported(format!(
            "an ECDSA key on {}",
            curve_name(curve)
        )))
    }
}

fn curve_name(oid: ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.3.132.0.34" => "the P-384 curve".into(),
        "1.3.132.0.35" => "the P-521 curve".into(),
        "1.3.132.0.10" => "the secp256k1 curve".into(),
        other => format!("the curve `{other}`"),
    }
}

fn algorithm_name(oid: ObjectIdentifier) -> String {
    match oid.to_string().as_str() {
        "1.3.101.113" => "an ed448 key".into(),
        "1.3.101.110" | "1.3.101.111" => "an X25519/X448 key (not a signing key)".into(),
        "1.2.840.10040.4.1" => "a DSA key".into(),
        "1.2.840.113549.1.1.10" => "an RSASSA-PSS-only key".into(),
        other => format!("a key of algorithm `{other}`"),
    }
}

impl SigningKey {
    /// Reads a private key from PEM text.
    pub fn from_pem(pem: &[u8]) -> Result<SigningKey, KeyError> {
        let (label, der) = pem_block(pem)?;
        match label.as_str() {
            "PRIVATE KEY" => Self::from_pkcs8(&der),
            "EC PRIVATE KEY" => {
                let info = sec1::EcPrivateKey::try_from(der.as_slice())
                    .map_err(|e| invalid("ecdsa-p256")(e.to_string()))?;
                if let Some(curve) = info.parameters.and_then(|p| p.named_curve()) {
                    require_curve(curve)?;
                }
                let secret = p256::SecretKey::from_sec1_der(&der)
                    .map_err(|e| invalid("ecdsa-p256")(e.to_string()))?;
                Ok(SigningKey::EcdsaP256(secret.into()))
            }
            "RSA PRIVATE KEY" => {
                let key = rsa::RsaPrivateKey::from_pkcs1_der(&der)
                    .map_err(|e| invalid("rsa")(e.to_string()))?;
                Ok(Self::rsa(key))
            }
            "ENCRYPTED PRIVATE KEY" => Err(KeyError::Encrypted),
            "OPENSSH PRIVATE KEY" => Err(KeyError::Unsupported("an OpenSSH private key".into())),
            "PUBLIC KEY" | "RSA PUBLIC KEY" => Err(KeyError::WrongKind(
                "this is a public key; signing needs the private key",
            )),
            other => Err(KeyError::Unsupported(format!("a PEM `{other}` block"))),
        }
    }

    fn from_pkcs8(der: &[u8]) -> Result<SigningKey, KeyError> {
        let info =
            pkcs8::PrivateKeyInfoRef::try_from(der).map_err(|e| KeyError::BadPem(e.to_string()))?;
        let oid = info.algorithm.oid;
        if oid == OID_ED25519 {
            let key = ed25519_dalek::SigningKey::from_pkcs8_der(der)
                .map_err(|e| invalid("ed25519")(e.to_string()))?;
            Ok(SigningKey::Ed25519(key))
        } else if oid == OID_EC {
            require_p256(&info.algorithm)?;
            let key = p256::ecdsa::SigningKey::from_pkcs8_der(der)
                .map_err(|e| invalid("ecdsa-p256")(e.to_string()))?;
            Ok(SigningKey::EcdsaP256(key))
        } else if oid == OID_RSA {
            let key = rsa::RsaPrivateKey::from_pkcs8_der(der)
                .map_err(|e| invalid("rsa")(e.to_string()))?;
            Ok(Self::rsa(key))
        } else {
            Err(KeyError::Unsupported(algorithm_name(oid)))
        }
    }

    fn rsa(key: rsa::RsaPrivateKey) -> SigningKey {
        SigningKey::Rsa(Box::new(rsa::pss::SigningKey::<Sha256>::new(key)))
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        match self {
            SigningKey::Ed25519(_) => KeyType::Ed25519,
            SigningKey::EcdsaP256(_) => KeyType::EcdsaP256,
            SigningKey::Rsa(_) => KeyType::Rsa,
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        match self {
            SigningKey::Ed25519(k) => PublicKey::Ed25519(k.verifying_key()),
            SigningKey::EcdsaP256(k) => PublicKey::EcdsaP256(*k.verifying_key()),
            SigningKey::Rsa(k) => {
                let public: &rsa::RsaPrivateKey = k.as_ref().as_ref();
                PublicKey::Rsa(Box::new(public.to_public_key()))
            }
        }
    }

    /// Signs `message` with the key's scheme (see the module documentation).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match self {
            SigningKey::Ed25519(k) => Ok(k.sign(message).to_bytes().to_vec()),
            SigningKey::EcdsaP256(k) => {
                let sig: p256::ecdsa::Signature = k
                    .try_sign(message)
                    .map_err(|e| KeyError::Sign("ecdsa-p256", e.to_string()))?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            SigningKey::Rsa(k) => {
                let sig = k
                    .try_sign_with_rng(&mut rand::rng(), message)
                    .map_err(|e| KeyError::Sign("rsa", e.to_string()))?;
                Ok(sig.to_vec())
            }
        }
    }
}

impl PublicKey {
    /// Reads a public key from PEM text: SPKI (`PUBLIC KEY`), or PKCS#1
    /// (`RSA PUBLIC KEY`).
    pub fn from_pem(pem: &[u8]) -> Result<PublicKey, KeyError> {
        let (label, der) = pem_block(pem)?;
        match label.as_str() {
            "PUBLIC KEY" => {
                let info = spki::SubjectPublicKeyInfoRef::try_from(der.as_slice())
                    .map_err(|e| KeyError::BadPem(e.to_string()))?;
                let oid = info.algorithm.oid;
                if oid == OID_ED25519 {
                    let key = ed25519_dalek::VerifyingKey::from_public_key_der(&der)
                        .map_err(|e| invalid("ed25519")(e.to_string()))?;
                    Ok(PublicKey::Ed25519(key))
                } else if oid == OID_EC {
                    require_p256(&info.algorithm)?;
                    let key = p256::ecdsa::VerifyingKey::from_public_key_der(&der)
                        .map_err(|e| invalid("ecdsa-p256")(e.to_string()))?;
                    Ok(PublicKey::EcdsaP256(key))
                } else if oid == OID_RSA {
                    let key = rsa::RsaPublicKey::from_public_key_der(&der)
                        .map_err(|e| invalid("rsa")(e.to_string()))?;
                    Ok(PublicKey::Rsa(Box::new(key)))
                } else {
                    Err(KeyError::Unsupported(algorithm_name(oid)))
                }
            }
            "RSA PUBLIC KEY" => {
                let key = rsa::RsaPublicKey::from_pkcs1_der(&der)
                    .map_err(|e| invalid("rsa")(e.to_string()))?;
                Ok(PublicKey::Rsa(Box::new(key)))
            }
            l if l.contains("PRIVATE KEY") => Err(KeyError::WrongKind(
                "this is a private key; verification needs the public key \
                 (`openssl pkey -in KEY.pem -pubout`)",
            )),
            other => Err(KeyError::Unsupported(format!("a PEM `{other}` block"))),
        }
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        match self {
            PublicKey::Ed25519(_) => KeyType::Ed25519,
            PublicKey::EcdsaP256(_) => KeyType::EcdsaP256,
            PublicKey::Rsa(_) => KeyType::Rsa,
        }
    }

    /// The key as SPKI PEM, with `\n` line endings (as OpenSSL and Python's
    /// `cryptography` write it).
    pub fn to_pem(&self) -> String {
        let pem = match self {
            PublicKey::Ed25519(k) => k.to_public_key_pem(LineEnding::LF),
            PublicKey::EcdsaP256(k) => k.to_public_key_pem(LineEnding::LF),
            PublicKey::Rsa(k) => k.to_public_key_pem(LineEnding::LF),
        };
        // Encoding a valid key cannot fail.
        pem.unwrap_or_default()
    }

    /// securesystemslib's `keyval.public`.
    fn keyval_public(&self) -> String {
        match self {
            PublicKey::Ed25519(k) => hex::encode(k.as_bytes()),
            _ => self.to_pem(),
        }
    }

    /// The key id securesystemslib computes for this key (see the module
    /// documentation).
    pub fn keyid(&self) -> String {
        let t = self.key_type();
        // Canonical JSON (securesystemslib's `encode_canonical`): sorted
        // keys, no spaces, only `\` and `"` escaped (neither occurs in hex
        // or PEM).
        let canonical = format!(
            r#"{{"keytype":"{}","keyval":{{"public":"{}"}},"scheme":"{}"}}"#,
            t.keytype(),
            self.keyval_public(),
            t.scheme()
        );
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }

    /// Whether `signature` is this key's signature of `message`. ECDSA
    /// signatures are accepted DER-encoded or as the fixed 64-byte `r‖s`;
    /// RSA-PSS signatures with any salt length.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            PublicKey::Ed25519(k) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| k.verify_strict(message, &s).is_ok()),
            PublicKey::EcdsaP256(k) => {
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .or_else(|_| p256::ecdsa::Signature::from_slice(signature));
                sig.is_ok_and(|s| k.verify(message, &s).is_ok())
            }
            PublicKey::Rsa(k) => {
                let v = rsa::pss::VerifyingKey::<Sha256>::new_with_auto_salt_len((**k).clone());
                rsa::pss::Signature::try_from(signature)
                    .is_ok_and(|s| v.verify(message, &s).is_ok())
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Fixed test keys, made with OpenSSL 3 (`openssl genpkey`), one per
    //! format kiln reads.

    /// ed25519, PKCS#8.
    pub const ED25519: &str = include_str!("../tests/keys/ed25519.pem");
    /// Its public key.
    pub const ED25519_PUB: &str = include_str!("../tests/keys/ed25519.pub.pem");
    /// ECDSA P-256, PKCS#8.
    pub const P256: &str = include_str!("../tests/keys/p256.pem");
    /// The same key, SEC1.
    pub const P256_SEC1: &str = include_str!("../tests/keys/p256.sec1.pem");
    /// Its public key.
    pub const P256_PUB: &str = include_str!("../tests/keys/p256.pub.pem");
    /// RSA 2048, PKCS#8.
    pub const RSA: &str = include_str!("../tests/keys/rsa.pem");
    /// The same key, PKCS#1.
    pub const RSA_PKCS1: &str = include_str!("../tests/keys/rsa.pkcs1.pem");
    /// Its public key.
    pub const RSA_PUB: &str = include_str!("../tests/keys/rsa.pub.pem");
    /// Another ed25519 key.
    pub const OTHER_ED25519_PUB: &str = include_str!("../tests/keys/other-ed25519.pub.pem");
    /// ECDSA P-384 (unsupported).
    pub const P384: &str = include_str!("../tests/keys/p384.pem");
    /// An encrypted PKCS#8 key.
    pub const ENCRYPTED: &str = include_str!("../tests/keys/encrypted.pem");
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn every_format_signs_and_verifies() {
        for (private, public, t) in [
            (ED25519, ED25519_PUB, KeyType::Ed25519),
            (P256, P256_PUB, KeyType::EcdsaP256),
            (P256_SEC1, P256_PUB, KeyType::EcdsaP256),
            (RSA, RSA_PUB, KeyType::Rsa),
            (RSA_PKCS1, RSA_PUB, KeyType::Rsa),
        ] {
            let key = SigningKey::from_pem(private.as_bytes()).unwrap();
            assert_eq!(key.key_type(), t);
            let public = PublicKey::from_pem(public.as_bytes()).unwrap();
            assert_eq!(key.public_key().keyid(), public.keyid());
            assert_eq!(key.public_key().to_pem(), public.to_pem());
            let sig = key.sign(b"message").unwrap();
            assert!(public.verify(b"message", &sig), "{t:?}");
            assert!(!public.verify(b"messagf", &sig), "{t:?}");
            let mut bad = sig.clone();
            bad[10] ^= 1;
            assert!(!public.verify(b"message", &bad), "{t:?}");
        }
    }

    #[test]
    fn the_public_pem_is_byte_for_byte_openssls() {
        for (private, public) in [(ED25519, ED25519_PUB), (P256, P256_PUB), (RSA, RSA_PUB)] {
            let key = SigningKey::from_pem(private.as_bytes()).unwrap();
            assert_eq!(key.public_key().to_pem(), public);
        }
    }

    #[test]
    fn a_wrong_key_does_not_verify() {
        let key = SigningKey::from_pem(ED25519.as_bytes()).unwrap();
        let sig = key.sign(b"m").unwrap();
        for other in [OTHER_ED25519_PUB, P256_PUB, RSA_PUB] {
            let other = PublicKey::from_pem(other.as_bytes()).unwrap();
            assert!(!other.verify(b"m", &sig));
        }
    }

    #[test]
    fn the_ed25519_keyid_is_securesystemslibs() {
        // securesystemslib: compute_default_keyid("ed25519", "ed25519",
        // {"public": raw.hex()}), checked by hand with Python.
        let public = PublicKey::from_pem(ED25519_PUB.as_bytes()).unwrap();
        let PublicKey::Ed25519(k) = &public else {
            panic!("not ed25519")
        };
        let canonical = format!(
            r#"{{"keytype":"ed25519","keyval":{{"public":"{}"}},"scheme":"ed25519"}}"#,
            hex::encode(k.as_bytes())
        );
        assert_eq!(
            public.keyid(),
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
    }

    #[test]
    fn bad_keys_are_named_without_their_contents() {
        let err = |pem: &str| SigningKey::from_pem(pem.as_bytes()).unwrap_err();
        assert!(matches!(err(ENCRYPTED), KeyError::Encrypted));
        assert!(err(ENCRYPTED).hint().unwrap().contains("openssl pkey"));
        let e = err(P384).to_string();
        assert_eq!(
            e,
            "unsupported key: an ECDSA key on the P-384 curve (supported: ed25519, ecdsa-p256 or rsa)"
        );
        assert!(matches!(err("hello"), KeyError::NotPem));
        assert!(matches!(err(ED25519_PUB), KeyError::WrongKind(_)));
        let openssh =
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        assert!(err(openssh).hint().unwrap().contains("ssh-keygen"));
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n";
        assert!(matches!(err(legacy), KeyError::Encrypted));
        // A truncated key: the message names the problem, not the bytes.
        let first = RSA.lines().nth(1).unwrap();
        let truncated =
            format!("-----BEGIN PRIVATE KEY-----\n{first}\n-----END PRIVATE KEY-----\n");
        let e = err(&truncated);
        let text = format!("{e:?} {e}");
        assert!(!text.contains(&first[8..40]), "{text}");
        assert!(text.contains("PEM block cannot be decoded"), "{text}");
        let p = PublicKey::from_pem(ED25519.as_bytes()).unwrap_err();
        assert!(p.to_string().contains("needs the public key"), "{p}");
        let debug = format!("{:?}", SigningKey::from_pem(ED25519.as_bytes()).unwrap());
        assert!(debug.starts_with("SigningKey(ed25519, keyid "), "{debug}");
    }

    #[test]
    fn text_around_the_block_is_ignored() {
        let noisy = format!("a key:\n{ED25519}\ntrailing words\n");
        let key = SigningKey::from_pem(noisy.as_bytes()).unwrap();
        assert_eq!(key.key_type(), KeyType::Ed25519);
    }
}
