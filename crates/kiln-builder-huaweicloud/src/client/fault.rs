//! The client's failures as kiln-cloud [`Fault`]s: an error reply in any
//! of the shapes Huawei's services write (the gateway's `{"error_code",
//! "error_msg"}`, `{"errorCode", "errorMsg"}`, VPC's `{"code",
//! "message"}`, ECS's and IMS's `{"error": {"code", "message"}}`; read as
//! huaweicloudsdkcore's `exception_handler` reads them) with its class
//! from kiln-cloud's table (`huaweicloud` throttling codes, HTTP 429, 5xx
//! transient, other 4xx permanent) and a hint for bad credentials. A
//! reply without a code keeps its HTTP status. Pure; holds nothing.

use kiln_cloud::error::snippet;
use kiln_cloud::retry::{classify_failure, classify_reply};
use kiln_cloud::{Failure, Fault};
use serde_json::Value;

/// The gateway's codes for credentials it rejects.
pub const AUTH_CODES: &[&str] = &["APIGW.0301", "APIGW.0303", "APIGW.0305"];

/// The code and message of an error body, as the SDK finds them.
pub fn code_and_message(v: &Value) -> Option<(String, String)> {
    let obj = v.as_object()?;
    let text = |x: &Value| match x {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    for (c, m) in [
        ("error_code", "error_msg"),
        ("errorCode", "errorMsg"),
        ("code", "message"),
    ] {
        if let (Some(code), Some(message)) = (obj.get(c).and_then(text), obj.get(m).and_then(text))
        {
            return Some((code, message));
        }
    }
    obj.values()
        .filter(|x| x.is_object())
        .find_map(code_and_message)
}

/// The [`Fault`] of an error reply with `status` and `body`.
pub fn reply_fault(status: u16, body: &[u8], request_id: Option<&str>) -> Fault {
    let text = String::from_utf8_lossy(body);
    let Some((code, mut message)) = serde_json::from_slice::<Value>(body)
        .ok()
        .as_ref()
        .and_then(code_and_message)
    else {
        let failure = Failure::Http {
            status,
            body: snippet(&text, 100),
        };
        let class = classify_failure(&failure);
        return Fault::new(failure, class);
    };
    if let Some(id) = request_id {
        message = format!("{message} (request id `{id}`)");
    }
    let class = classify_reply("huaweicloud", Some(&code), Some(status));
    let mut fault = Fault::new(
        Failure::Service {
            code: code.clone(),
            message,
            status: Some(status),
        },
        class,
    );
    if AUTH_CODES.contains(&code.as_str()) || status == 401 {
        fault.hint = Some(
            "check `access_key` and `secret_key` (or `HW_ACCESS_KEY` and `HW_SECRET_KEY`) and that the machine's clock is right"
                .into(),
        );
    }
    fault
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_cloud::ErrorClass;

    #[test]
    fn every_shape_of_error_body_gives_its_code() {
        for (body, code) in [
            (
                r#"{"error_code":"APIGW.0308","error_msg":"throttled","request_id":"r"}"#,
                "APIGW.0308",
            ),
            (
                r#"{"error":{"code":"Ecs.0114","message":"gone"}}"#,
                "Ecs.0114",
            ),
            (r#"{"code":"VPC.0101","message":"no vpc"}"#, "VPC.0101"),
            (r#"{"itemNotFound":{"code":404,"message":"no"}}"#, "404"),
        ] {
            let f = reply_fault(404, body.as_bytes(), None);
            assert_eq!(f.code(), Some(code), "{body}");
        }
    }

    #[test]
    fn throttling_and_5xx_are_retried_and_bad_keys_hinted() {
        let b = br#"{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}"#;
        assert_eq!(reply_fault(429, b, None).class, ErrorClass::Throttled);
        let b = br#"{"error":{"code":"Ecs.0000","message":"internal"}}"#;
        assert_eq!(reply_fault(500, b, None).class, ErrorClass::Transient);
        let b = br#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information"}"#;
        let f = reply_fault(401, b, Some("abc"));
        assert_eq!(f.class, ErrorClass::Permanent);
        assert!(f.hint.unwrap().contains("HW_SECRET_KEY"));
        let f = reply_fault(502, b"<html>bad gateway</html>", None);
        assert!(matches!(f.failure, Failure::Http { status: 502, .. }));
    }
}
