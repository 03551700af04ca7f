//! `ram_role_name` credentials, as Packer (through Alibaba's Go SDK) gets
//! them: the ECS metadata service of the instance kiln runs on
//! (`http://100.100.100.200`, or `KILN_ALICLOUD_METADATA_ENDPOINT`)
//! answers `GET /latest/meta-data/ram/security-credentials/<role>` with
//! an STS AccessKey and token of the role attached to the instance. Read
//! once, when the build starts (the token lasts an hour or more; a longer
//! build fails with `InvalidSecurityToken.Expired`). Holds nothing.

use std::time::Duration;

use kiln_sdk::Secret;
use serde::Deserialize;

use super::{AccessKey, ClientError};

/// The metadata service's answer.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Credentials {
    #[serde(default)]
    code: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    access_key_secret: String,
    #[serde(default)]
    security_token: String,
}

/// The STS AccessKey of RAM role `role` from the metadata service at
/// `endpoint` (a URL).
pub async fn ram_role_key(endpoint: &str, role: &str) -> Result<AccessKey, ClientError> {
    let fail = |message: String| ClientError::RamRole {
        role: role.to_string(),
        endpoint: endpoint.to_string(),
        message,
    };
    let url = format!(
        "{}/latest/meta-data/ram/security-credentials/{}",
        endpoint.trim_end_matches('/'),
        super::percent_encode(role)
    );
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| fail(e.without_url().to_string()))?;
    let reply = http
        .get(&url)
        .send()
        .await
        .map_err(|e| fail(format!("no answer: {}", e.without_url())))?;
    let status = reply.status();
    let body = reply
        .bytes()
        .await
        .map_err(|e| fail(format!("no answer: {}", e.without_url())))?;
    if status.as_u16() == 404 {
        return Err(fail(
            "the instance has no such role attached (HTTP 404)".into(),
        ));
    }
    if !status.is_success() {
        return Err(fail(format!("HTTP {status}")));
    }
    let c: Credentials = serde_json::from_slice(&body)
        .map_err(|e| fail(format!("the answer is not the expected JSON ({e})")))?;
    if c.code != "Success" || c.access_key_id.is_empty() || c.access_key_secret.is_empty() {
        return Err(fail(format!(
            "the answer holds no credentials (code `{}`)",
            c.code
        )));
    }
    Ok(AccessKey {
        id: c.access_key_id,
        secret: Secret::new(c.access_key_secret),
        security_token: (!c.security_token.is_empty()).then(|| Secret::new(c.security_token)),
    })
}
