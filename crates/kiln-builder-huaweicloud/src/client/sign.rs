//! SDK-HMAC-SHA256, the AK/SK signature of Huawei Cloud's API gateway, as
//! huaweicloudsdkcore's `Signer` computes it: the canonical request
//! (method, the path's segments encoded with a trailing `/`, the sorted
//! encoded query, the signed headers lower-cased and trimmed, their names,
//! the payload's SHA-256), hashed into `SDK-HMAC-SHA256\n<X-Sdk-Date>\n<hash>`
//! and signed with the secret key. The encoding and hashes are
//! kiln-cloud's ([`kiln_cloud::sign`]). Pure; holds nothing.

use kiln_cloud::sign::{hmac_sha256, percent_decode, percent_encode, sha256_hex};

/// The algorithm's name, the first word of the `Authorization` header.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// The canonical URI of `path`: each segment decoded then encoded (as the
/// SDK's `quote(s, safe='~')`), with a trailing `/`.
pub fn canonical_uri(path: &str) -> String {
    let p = percent_decode(path)
        .split('/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/");
    if p.ends_with('/') {
        p
    } else {
        p + "/"
    }
}

/// The canonical query of `pairs`: each key and value encoded, sorted.
pub fn canonical_query(pairs: &[(String, String)]) -> String {
    let mut v: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    v.sort();
    v.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The string to sign of a request. `headers` are the signed headers,
/// names lower-case, in any order; `date` is `X-Sdk-Date`
/// (`20260101T000000Z`).
pub fn string_to_sign(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    body: &[u8],
    date: &str,
) -> String {
    let payload = sha256_hex(body);
    string_to_sign_with(method, path, query, headers, &payload, date)
}

/// [`string_to_sign`] of a request whose `X-Sdk-Content-Sha256` is
/// `UNSIGNED-PAYLOAD` (a body that is not JSON).
pub fn string_to_sign_unsigned(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    date: &str,
) -> String {
    string_to_sign_with(method, path, query, headers, "UNSIGNED-PAYLOAD", date)
}

fn string_to_sign_with(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    payload: &str,
    date: &str,
) -> String {
    let mut h: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    h.sort();
    let canonical_headers: String = h.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let names: Vec<&str> = h.iter().map(|(k, _)| k.as_str()).collect();
    let canonical = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        canonical_uri(path),
        canonical_query(query),
        canonical_headers,
        names.join(";"),
        payload,
    );
    format!("{ALGORITHM}\n{date}\n{}", sha256_hex(canonical.as_bytes()))
}

/// The `Authorization` header of a request signed with `access_key` and
/// `secret` over `headers` (see [`string_to_sign`]).
pub fn authorization(
    access_key: &str,
    secret: &str,
    headers: &[(String, String)],
    sts: &str,
) -> String {
    let signature = hex::encode(hmac_sha256(secret.as_bytes(), sts.as_bytes()));
    let mut names: Vec<String> = headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect();
    names.sort();
    format!(
        "{ALGORITHM} Access={access_key}, SignedHeaders={}, Signature={signature}",
        names.join(";")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `huawei_sdk_hmac_sha256` of shared/reference/cloud-signing,
    /// computed by huaweicloudsdkcore's own `Signer`.
    #[test]
    fn the_sdks_vector_signs_alike() {
        let headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("X-Sdk-Date".to_string(), "20260101T000000Z".to_string()),
            (
                "Host".to_string(),
                "ecs.cn-north-4.myhuaweicloud.com".to_string(),
            ),
        ];
        let sts = string_to_sign(
            "GET",
            "/v1/proj123/cloudservers/detail",
            &[("limit".into(), "1".into())],
            &headers,
            b"",
            "20260101T000000Z",
        );
        assert_eq!(
            authorization("AK", "SK", &headers, &sts),
            "SDK-HMAC-SHA256 Access=AK, SignedHeaders=content-type;host;x-sdk-date, Signature=871e61c8d7a86fcfcf3704dc74c70e7d82a077116c222e179ebd8ccef27a61d4"
        );
    }

    #[test]
    fn paths_and_queries_are_encoded_as_the_sdk_does() {
        assert_eq!(
            canonical_uri("/v2.1/p/os-keypairs/a%20b"),
            "/v2.1/p/os-keypairs/a%20b/"
        );
        assert_eq!(canonical_uri("/v2/cloudimages/"), "/v2/cloudimages/");
        assert_eq!(
            canonical_query(&[
                ("name".into(), "Ubuntu 22.04".into()),
                ("__imagetype".into(), "gold".into())
            ]),
            "__imagetype=gold&name=Ubuntu%2022.04"
        );
    }
}
