//! The client's failures as kiln-cloud [`Fault`]s: an error reply
//! (`{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`, which
//! Tencent sends with HTTP 200) with its class from kiln-cloud's table
//! (the `tencentcloud` throttling codes, `InternalError`, 5xx transient,
//! the rest permanent) and a hint naming the action, the endpoint and what
//! to check; a reply that is not an API reply. No message carries the
//! secret key or the token. Pure; holds nothing.

use kiln_cloud::error::snippet;
use kiln_cloud::retry::{classify_failure, classify_reply};
use kiln_cloud::{ErrorClass, Failure, Fault};
use serde_json::Value;

/// Codes that say the credentials are wrong.
const AUTH_CODES: &[&str] = &[
    "AuthFailure.SignatureFailure",
    "AuthFailure.SecretIdNotFound",
    "AuthFailure.InvalidSecretId",
    "AuthFailure.SignatureExpire",
    "AuthFailure.TokenFailure",
    "AuthFailure.InvalidAuthorization",
];

/// Codes whose error says "retry": an operation still running on the
/// instance (kiln's calls retry them as transient).
pub const BUSY_CODES: &[&str] = &["OperationDenied.InstanceOperationInProgress"];

/// The [`Fault`] of `reply`'s error (`Response.Error`) to `action` at
/// `called` (`cvm `RunInstances` at … (region …)`), if it has one.
pub(super) fn error_fault(reply: &Value, called: &str) -> Option<Fault> {
    let response = &reply["Response"];
    let error = response.get("Error")?;
    let code = error["Code"].as_str().unwrap_or("UnknownError").to_string();
    let mut message = error["Message"]
        .as_str()
        .unwrap_or("(no message)")
        .to_string();
    if let Some(id) = response["RequestId"].as_str() {
        message = format!("{message} (request ID `{id}`)");
    }
    let mut class = classify_reply("tencentcloud", Some(&code), Some(200));
    if BUSY_CODES.contains(&code.as_str()) {
        class = ErrorClass::Transient;
    }
    let check = if AUTH_CODES.contains(&code.as_str()) {
        "check `secret_id` and `secret_key` (or `TENCENTCLOUD_SECRET_ID` and `TENCENTCLOUD_SECRET_KEY`), `security_token` for temporary credentials, and the clock"
    } else if class == ErrorClass::Throttled {
        "the API is throttling this account; fewer parallel builds help"
    } else {
        "check the template's values for this call"
    };
    let mut f = Fault::new(
        Failure::Service {
            code,
            message,
            status: Some(200),
        },
        class,
    );
    f.hint = Some(format!("{called} failed: {check}"));
    Some(f)
}

/// The [`Fault`] of a reply with a status other than 2xx, or a 2xx whose
/// body is not JSON.
pub(super) fn http_fault(status: u16, body: &[u8]) -> Fault {
    let failure = Failure::Http {
        status,
        body: snippet(&String::from_utf8_lossy(body), 100),
    };
    let class = if (200..300).contains(&status) {
        ErrorClass::Transient
    } else {
        classify_failure(&failure)
    };
    Fault::new(failure, class)
}

/// The [`Fault`] of a request that got no (complete) reply (kiln-cloud's
/// [`kiln_cloud::error::transport_fault`]).
pub fn transport_fault(e: &reqwest::Error) -> Fault {
    kiln_cloud::error::transport_fault(e, e.is_timeout(), e.is_connect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tencents_errors_are_classified() {
        let reply = |code: &str| serde_json::json!({"Response": {"Error": {"Code": code, "Message": "m"}, "RequestId": "r-1"}});
        let f = error_fault(&reply("RequestLimitExceeded"), "cvm `X`").unwrap();
        assert_eq!(f.class, ErrorClass::Throttled);
        let f = error_fault(&reply("RequestLimitExceeded.UinLimitExceeded"), "cvm `X`").unwrap();
        assert_eq!(f.class, ErrorClass::Throttled);
        let f = error_fault(&reply("InternalError"), "cvm `X`").unwrap();
        assert_eq!(f.class, ErrorClass::Transient);
        let f = error_fault(&reply("OperationDenied.InstanceOperationInProgress"), "x").unwrap();
        assert_eq!(f.class, ErrorClass::Transient);
        let f = error_fault(&reply("AuthFailure.SignatureFailure"), "cvm `X`").unwrap();
        assert_eq!(f.class, ErrorClass::Permanent);
        assert!(f.hint.unwrap().contains("TENCENTCLOUD_SECRET_ID"));
        assert!(
            format!("{:?}", f.failure).contains("r-1"),
            "{:?}",
            f.failure
        );
        assert!(error_fault(&serde_json::json!({"Response": {"RequestId": "r"}}), "x").is_none());
        assert_eq!(http_fault(502, b"bad gateway").class, ErrorClass::Transient);
        assert_eq!(http_fault(404, b"no").class, ErrorClass::Permanent);
    }
}
