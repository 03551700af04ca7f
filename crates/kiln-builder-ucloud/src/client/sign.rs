//! UCloud's API signature: the SHA1 (hex) of every parameter's
//! `key + value`, keys sorted, then the private key (the Go SDK's
//! `auth.Credential.CreateSign`, the Python SDK's `verify_ac`). Pure.

use std::collections::BTreeMap;

use sha1::{Digest, Sha1};

/// The signature of `params` (`PublicKey` among them, `Signature` not).
pub fn signature(params: &BTreeMap<String, String>, private_key: &str) -> String {
    let mut h = Sha1::new();
    for (k, v) in params {
        h.update(k.as_bytes());
        h.update(v.as_bytes());
    }
    h.update(private_key.as_bytes());
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors of ucloud-sdk-python3's `ucloud/core/auth/_cfg.py`
    /// doctests (`verify_ac` and `Credential.verify_ac`).
    #[test]
    fn the_sdks_own_vectors() {
        let p = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            signature(&p(&[("foo", "bar")]), "my_private_key"),
            "634edc1bb957c0d65e5ab5494cf3b7784fbc87af"
        );
        assert_eq!(
            signature(
                &p(&[("foo", "bar"), ("PublicKey", "my_public_key")]),
                "my_private_key"
            ),
            "d4411ab30953fb0bbcb1e7313081f05e4e91a394"
        );
    }
}
