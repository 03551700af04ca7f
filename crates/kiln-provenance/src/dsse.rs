//! DSSE envelopes (Dead Simple Signing Envelope, v1.0): the payload is
//! signed over its pre-authentication encoding (PAE), so its type is signed
//! too, and travels base64-encoded beside the signatures.
//!
//! ```json
//! {"payload": "<base64>", "payloadType": "application/vnd.in-toto+json",
//!  "signatures": [{"keyid": "<hex>", "sig": "<base64>"}]}
//! ```

use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::keys::{KeyError, PublicKey, SigningKey};

/// The payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The payload, base64-encoded (standard alphabet, padded).
    pub payload: String,
    /// What the payload is (a media type).
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// Its signatures.
    pub signatures: Vec<Signature>,
}

/// One signature of an [`Envelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The signing key's id (a hint: verification does not trust it).
    #[serde(default)]
    pub keyid: String,
    /// The signature of the PAE, base64-encoded.
    pub sig: String,
}

/// Why an envelope did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DsseError {
    /// The payload is not base64.
    #[error("the envelope's payload is not base64")]
    PayloadEncoding,
    /// No signature verifies with the key.
    #[error(
        "no signature of the envelope verifies with the {key_type} key `{keyid}` \
         ({count} signature(s), key ids: {keyids})"
    )]
    NoValidSignature {
        /// The key's type.
        key_type: &'static str,
        /// The key's id.
        keyid: String,
        /// How many signatures the envelope has.
        count: usize,
        /// Their key ids.
        keyids: String,
    },
}

/// The pre-authentication encoding of DSSE v1:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII
/// decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Signs `payload` of type `payload_type` with `key`.
pub fn sign(payload_type: &str, payload: &[u8], key: &SigningKey) -> Result<Envelope, KeyError> {
    let sig = key.sign(&pae(payload_type, payload))?;
    Ok(Envelope {
        payload: STANDARD.encode(payload),
        payload_type: payload_type.to_string(),
        signatures: vec![Signature {
            keyid: key.public_key().keyid(),
            sig: STANDARD.encode(sig),
        }],
    })
}

/// Base64, standard or URL-safe alphabet (DSSE verifiers accept both).
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s).or_else(|_| URL_SAFE.decode(s)).ok()
}

impl Envelope {
    /// The decoded payload, unverified.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, DsseError> {
        decode_base64(&self.payload).ok_or(DsseError::PayloadEncoding)
    }

    /// Checks that a signature of the envelope verifies with `key`; returns
    /// the payload. Key ids are hints only: every signature is tried.
    pub fn verify(&self, key: &PublicKey) -> Result<Vec<u8>, DsseError> {
        let payload = self.payload_bytes()?;
        let message = pae(&self.payload_type, &payload);
        let ok = self
            .signatures
            .iter()
            .any(|s| decode_base64(&s.sig).is_some_and(|sig| key.verify(&message, &sig)));
        if ok {
            return Ok(payload);
        }
        let keyids: Vec<String> = self
            .signatures
            .iter()
            .map(|s| {
                if s.keyid.is_empty() {
                    "(none)".to_string()
                } else {
                    format!("`{}`", s.keyid)
                }
            })
            .collect();
        Err(DsseError::NoValidSignature {
            key_type: key.key_type().name(),
            keyid: key.keyid(),
            count: self.signatures.len(),
            keyids: if keyids.is_empty() {
                "none".to_string()
            } else {
                keyids.join(", ")
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::testing::*;

    #[test]
    fn pae_is_the_specs_test_vector() {
        // DSSE v1.0 protocol.md, "Test Vectors".
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
        // Lengths are in bytes, not characters.
        assert_eq!(pae("t", "é".as_bytes()), "DSSEv1 1 t 2 é".as_bytes());
    }

    #[test]
    fn round_trip_and_tampering_for_every_key_type() {
        for (private, public) in [(ED25519, ED25519_PUB), (P256, P256_PUB), (RSA, RSA_PUB)] {
            let key = SigningKey::from_pem(private.as_bytes()).unwrap();
            let public = PublicKey::from_pem(public.as_bytes()).unwrap();
            let env = sign(IN_TOTO_PAYLOAD_TYPE, b"{\"a\":1}", &key).unwrap();
            assert_eq!(env.signatures[0].keyid, public.keyid());
            let json = serde_json::to_string(&env).unwrap();
            let back: Envelope = serde_json::from_str(&json).unwrap();
            assert_eq!(back.verify(&public).unwrap(), b"{\"a\":1}");

            // A changed payload.
            let mut changed = env.clone();
            changed.payload = STANDARD.encode(b"{\"a\":2}");
            assert!(matches!(
                changed.verify(&public),
                Err(DsseError::NoValidSignature { .. })
            ));
            // A changed payload type: it is signed too.
            let mut changed = env.clone();
            changed.payload_type = "application/json".into();
            assert!(changed.verify(&public).is_err());
            // No signatures.
            let mut changed = env.clone();
            changed.signatures.clear();
            let e = changed.verify(&public).unwrap_err().to_string();
            assert!(e.contains("(0 signature(s), key ids: none)"), "{e}");
            // A wrong key.
            let other = PublicKey::from_pem(OTHER_ED25519_PUB.as_bytes()).unwrap();
            let e = env.verify(&other).unwrap_err().to_string();
            assert!(
                e.starts_with("no signature of the envelope verifies with the ed25519 key"),
                "{e}"
            );
        }
    }

    #[test]
    fn url_safe_base64_is_accepted() {
        let key = SigningKey::from_pem(ED25519.as_bytes()).unwrap();
        let mut env = sign(IN_TOTO_PAYLOAD_TYPE, &[0xfb, 0xff, 0xfe], &key).unwrap();
        env.payload = URL_SAFE.encode([0xfb, 0xff, 0xfe]);
        assert!(env.payload.contains(['-', '_']));
        env.verify(&key.public_key()).unwrap();
        env.payload = "***".into();
        assert_eq!(
            env.verify(&key.public_key()),
            Err(DsseError::PayloadEncoding)
        );
    }
}
