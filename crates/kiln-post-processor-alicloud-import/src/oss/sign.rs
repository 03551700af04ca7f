//! OSS's header signature, version 1: the string to sign (method,
//! `Content-MD5`, `Content-Type`, `Date`, the `x-oss-*` headers in lower
//! case sorted by name, and the canonical resource `/<bucket>/<key>` with
//! its sub-resources such as `?partNumber=1&uploadId=…` sorted by name)
//! and `Authorization: OSS <AccessKeyId>:<base64 HMAC-SHA1>`. Pure; holds
//! nothing.

use kiln_cloud::sign::hmac_sha1_base64;

/// The query parameters that are part of the signed resource (OSS's
/// sub-resources; others, such as `prefix`, are not signed).
const SUB_RESOURCES: &[&str] = &[
    "acl",
    "uploads",
    "location",
    "cors",
    "logging",
    "website",
    "referer",
    "lifecycle",
    "delete",
    "append",
    "tagging",
    "objectMeta",
    "uploadId",
    "partNumber",
    "security-token",
    "position",
    "bucketInfo",
    "comp",
    "symlink",
    "restore",
    "stat",
    "versions",
    "versioning",
    "versionId",
    "policy",
    "encryption",
];

/// The string to sign of a request: `method`, `content_md5`,
/// `content_type` and `date` as sent, `headers` (the `x-oss-*` ones are
/// signed), the `bucket` and `key` (empty bucket: the service, `/`) and
/// the decoded query parameters `query`.
#[allow(clippy::too_many_arguments)]
pub fn string_to_sign(
    method: &str,
    content_md5: &str,
    content_type: &str,
    date: &str,
    headers: &[(String, String)],
    bucket: &str,
    key: &str,
    query: &[(String, String)],
) -> String {
    let mut oss: Vec<(String, &str)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim()))
        .filter(|(k, _)| k.starts_with("x-oss-"))
        .collect();
    oss.sort();
    let mut resource = if bucket.is_empty() {
        "/".to_string()
    } else {
        format!("/{bucket}/{key}")
    };
    let mut sub: Vec<&(String, String)> = query
        .iter()
        .filter(|(k, _)| SUB_RESOURCES.contains(&k.as_str()))
        .collect();
    sub.sort();
    if !sub.is_empty() {
        resource.push('?');
        resource.push_str(
            &sub.iter()
                .map(|(k, v)| {
                    if v.is_empty() {
                        k.clone()
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect::<Vec<_>>()
                .join("&"),
        );
    }
    let oss: String = oss.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    format!("{method}\n{content_md5}\n{content_type}\n{date}\n{oss}{resource}")
}

/// The `Authorization` header of `string_to_sign` signed with the
/// AccessKey `id` and `secret`.
pub fn authorization(id: &str, secret: &str, string_to_sign: &str) -> String {
    let sig = hmac_sha1_base64(secret.as_bytes(), string_to_sign.as_bytes());
    format!("OSS {id}:{sig}")
}
