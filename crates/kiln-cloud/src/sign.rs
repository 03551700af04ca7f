//! The percent-encoding every cloud's request signature and object URL
//! uses, written once: RFC 3986's unreserved characters (`A-Z a-z 0-9 -
//! _ . ~`) kept and every other byte of the UTF-8 as `%XX` in upper case
//! ([`percent_encode`]; a space is `%20`), a path encoded segment by
//! segment ([`encode_path`]) and `%XX` escapes decoded
//! ([`percent_decode`]). Alibaba's POP and OSS, Huawei's SDK-HMAC-SHA256
//! and UCloud's UFile all encode alike. Also the keyed hashes the
//! signatures are made of: HMAC-SHA1 in base64 (Alibaba's POP and OSS,
//! UFile), HMAC-SHA256 and SHA-256 in hex (Tencent's TC3, Huawei's
//! SDK-HMAC-SHA256). Pure; holds nothing.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Percent-encodes `s`: `A-Z a-z 0-9 - _ . ~` stay, every other byte of
/// its UTF-8 is `%XX` (so a space is `%20`, `*` is `%2A`, `/` is `%2F`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `path` with each `/`-separated segment [`percent_encode`]d (the `/`s
/// kept): an object key in a URL.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/")
}

/// `s` with its `%XX` escapes decoded (`%2F` to `/`); a malformed escape
/// stays as it is, and bytes that are not UTF-8 become `�`.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The HMAC-SHA1 of `data` keyed with `key`, in base64.
pub fn hmac_sha1_base64(key: &[u8], data: &[u8]) -> String {
    let mut mac =
        <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The HMAC-SHA256 of `data` keyed with `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The SHA-256 of `data`, in lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_characters_stay_and_the_rest_is_escaped() {
        assert_eq!(percent_encode("a-Z_0.~"), "a-Z_0.~");
        assert_eq!(percent_encode("a b*c/d+é"), "a%20b%2Ac%2Fd%2B%C3%A9");
        assert_eq!(encode_path("a b/c+d.raw"), "a%20b/c%2Bd.raw");
    }

    #[test]
    fn escapes_decode_and_malformed_ones_stay() {
        assert_eq!(percent_decode("a%20b%2Fc%C3%A9"), "a b/cé");
        assert_eq!(percent_decode("100%zz"), "100%zz");
        assert_eq!(percent_decode("%é1"), "%é1");
        assert_eq!(percent_decode(&percent_encode("x y/é")), "x y/é");
    }

    #[test]
    fn the_hashes_are_rfc_2202_4231_and_fips_180s() {
        // RFC 2202's HMAC-SHA1 test case 2, RFC 4231's HMAC-SHA256 case 2.
        let (key, data) = (
            b"Jefe".as_slice(),
            b"what do ya want for nothing?".as_slice(),
        );
        assert_eq!(hmac_sha1_base64(key, data), "7/zfauXrL6LSdBbV8YTfnCWafHk=");
        assert_eq!(
            hex::encode(hmac_sha256(key, data)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
