//! TC3-HMAC-SHA256, Tencent Cloud API 3.0's request signature: the
//! canonical request (method, `/`, empty query, the signed `content-type`
//! and `host` headers, the body's SHA-256), the string to sign
//! (`TC3-HMAC-SHA256`, the timestamp, the credential scope
//! `<date>/<service>/tc3_request`, the canonical request's SHA-256) and
//! the signature (HMAC-SHA256 under a key derived from `TC3<secret>`,
//! the date, the service and `tc3_request`). Checked against the vector
//! tencentcloud-sdk-python computed (shared/reference/cloud-signing).
//! The hashes are kiln-cloud's ([`kiln_cloud::sign`]). Pure; holds nothing.

use kiln_cloud::sign::hmac_sha256 as hmac;
/// The SHA-256 of `data`, in lowercase hex.
pub use kiln_cloud::sign::sha256_hex;

/// The content type every call is sent with (JSON bodies, as the SDKs).
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// The canonical request of a POST of `body` to `host`.
pub fn canonical_request(host: &str, body: &[u8]) -> String {
    format!(
        "POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{host}\n\ncontent-type;host\n{}",
        sha256_hex(body)
    )
}

/// The string to sign of `canonical` at `timestamp` (seconds) for
/// `service` on `date` (`YYYY-MM-DD`, UTC).
pub fn string_to_sign(timestamp: i64, date: &str, service: &str, canonical: &str) -> String {
    format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n{}",
        sha256_hex(canonical.as_bytes())
    )
}

/// The signature of `string_to_sign` with `secret`, `date` and `service`.
pub fn signature(secret: &str, date: &str, service: &str, string_to_sign: &str) -> String {
    let k = hmac(format!("TC3{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, service.as_bytes());
    let k = hmac(&k, b"tc3_request");
    hex::encode(hmac(&k, string_to_sign.as_bytes()))
}

/// The `Authorization` header of a signed request.
pub fn authorization(secret_id: &str, date: &str, service: &str, signature: &str) -> String {
    format!(
        "TC3-HMAC-SHA256 Credential={secret_id}/{date}/{service}/tc3_request, SignedHeaders=content-type;host, Signature={signature}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdks_vector_signs_the_same() {
        // shared/reference/cloud-signing/sigvectors.json `tencent_tc3`,
        // computed by tencentcloud-sdk-python's `Sign.sign_tc3`.
        let canonical = "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\ncontent-type;host\n"
            .to_string()
            + &sha256_hex(br#"{"Limit":1}"#);
        assert_eq!(
            canonical,
            canonical_request("cvm.tencentcloudapi.com", br#"{"Limit":1}"#)
        );
        let sts = string_to_sign(1767225600, "2026-01-01", "cvm", &canonical);
        assert_eq!(
            sts,
            "TC3-HMAC-SHA256\n1767225600\n2026-01-01/cvm/tc3_request\n58076df0bb269bb147c8fabebb63e99cdb9c41724cf52f04ecb1b64b4ecc73ba"
        );
        assert_eq!(
            signature("SK", "2026-01-01", "cvm", &sts),
            "1a26e6bc2ae58320c4ecc53905a0472af26f3f7333be8c824c91517685763c80"
        );
        assert_eq!(
            authorization("AKID", "2026-01-01", "cvm", "abc"),
            "TC3-HMAC-SHA256 Credential=AKID/2026-01-01/cvm/tc3_request, SignedHeaders=content-type;host, Signature=abc"
        );
    }
}
