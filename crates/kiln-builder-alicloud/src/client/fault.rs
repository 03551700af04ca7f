//! The client's failures as kiln-cloud [`Fault`]s: an error reply of the
//! RPC API (`{"RequestId","HostId","Code","Message","Recommend"}`) with its
//! class from kiln-cloud's table (throttling codes, 5xx transient, other
//! 4xx permanent) and a hint naming the action, the endpoint and what to
//! check; a reply that is not an API reply; a request that got no reply.
//! No message carries the request's URL (it holds the security token).
//! Pure; holds nothing.

use kiln_cloud::error::snippet;
use kiln_cloud::retry::{classify_failure, classify_reply};
use kiln_cloud::{ErrorClass, Failure, Fault};
use serde::Deserialize;

use super::Client;

/// An error reply of the RPC API.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ErrorReply {
    request_id: Option<String>,
    host_id: Option<String>,
    code: Option<String>,
    message: Option<String>,
    recommend: Option<String>,
}

/// Codes that say the credentials are wrong.
const AUTH_CODES: &[&str] = &[
    "InvalidAccessKeyId.NotFound",
    "InvalidAccessKeyId.Inactive",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidSecurityToken.Expired",
    "InvalidSecurityToken.Malformed",
    "InvalidSecurityToken.MismatchWithAccessKey",
    "Forbidden.AccessKeyDisabled",
];

/// The [`Fault`] of an error reply with `status` and `body` to `action`
/// of `client`: the service's code and message (with its request ID)
/// when it gave them, else the HTTP status and the body's first line.
pub(super) fn reply_fault(client: &Client, action: &str, status: u16, body: &[u8]) -> Fault {
    let text = String::from_utf8_lossy(body);
    let reply: Option<ErrorReply> = serde_json::from_slice(body).ok();
    let Some((reply, code)) = reply.and_then(|r| {
        let code = r.code.clone().filter(|c| !c.is_empty())?;
        Some((r, code))
    }) else {
        let failure = Failure::Http {
            status,
            body: snippet(&text, 100),
        };
        let class = classify_failure(&failure);
        return Fault::new(failure, class);
    };
    let mut message = reply.message.unwrap_or_else(|| "(no message)".into());
    let ids: Vec<String> = [("request", &reply.request_id), ("host", &reply.host_id)]
        .iter()
        .filter_map(|(what, id)| id.as_ref().map(|id| format!("{what} ID `{id}`")))
        .collect();
    if !ids.is_empty() {
        message = format!("{message} ({})", ids.join(", "));
    }
    let class = classify_reply("alicloud", Some(&code), Some(status));
    let service = client.product.service();
    let at = client.api.endpoint();
    let called = format!(
        "{service} `{action}` at `{at}` (region `{}`)",
        client.region
    );
    let check = if AUTH_CODES.contains(&code.as_str()) {
        "check `access_key` and `secret_key` (or `ALICLOUD_ACCESS_KEY` and `ALICLOUD_SECRET_KEY`), and `security_token` for STS credentials".to_string()
    } else if class == ErrorClass::Throttled {
        "the API is throttling this account; fewer parallel builds help".to_string()
    } else if let Some(r) = reply.recommend.filter(|r| !r.is_empty()) {
        format!("see {r}")
    } else {
        "check the template's values for this call".to_string()
    };
    let mut f = Fault::new(
        Failure::Service {
            code,
            message,
            status: Some(status),
        },
        class,
    );
    f.hint = Some(format!("{called} failed: {check}"));
    f
}

/// The [`Fault`] of a request that got no (complete) reply; never with
/// the URL, which carries the security token (kiln-cloud's
/// [`kiln_cloud::error::transport_fault`]).
pub fn transport_fault(e: &reqwest::Error) -> Fault {
    kiln_cloud::error::transport_fault(e, e.is_timeout(), e.is_connect())
}
