//! The client's failures as kiln-cloud [`Fault`]s: an error reply in any
//! of the shapes OpenStack's services write: Nova's and Cinder's
//! `{"itemNotFound": {"message", "code"}}`, Neutron's `{"NeutronError":
//! {"type", "message"}}`, Keystone's `{"error": {"code", "title",
//! "message"}}`, and Glance's `{"message", "code", "title"}` (or plain text,
//! `404 Not Found\n\nNo image found with ID …`, when not asked for JSON). OpenStack has no error codes beyond these names, so the
//! class comes from the HTTP status (kiln-cloud's `openstack` table: 429
//! throttled, 5xx transient, other 4xx permanent), and a 401 carries a
//! hint about the credentials. Pure; holds nothing.

use kiln_cloud::error::snippet;
use kiln_cloud::retry::classify_reply;
use kiln_cloud::{Failure, Fault};
use serde_json::Value;

/// The code (the error's name) and message of an error body.
pub fn code_and_message(v: &Value) -> Option<(String, String)> {
    let obj = v.as_object()?;
    if let Some(e) = obj.get("NeutronError") {
        return Some((
            e["type"].as_str().unwrap_or("NeutronError").to_string(),
            e["message"].as_str().unwrap_or_default().to_string(),
        ));
    }
    if let Some(e) = obj.get("error").filter(|e| e.is_object()) {
        return Some((
            e["title"].as_str().unwrap_or("error").to_string(),
            e["message"].as_str().unwrap_or_default().to_string(),
        ));
    }
    // Glance (webob) when asked for JSON: `{"message": "No image found
    // with ID …<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not
    // Found"}`.
    if let Some(m) = obj.get("message").and_then(Value::as_str) {
        let title = obj.get("title").and_then(Value::as_str).unwrap_or("error");
        let message = m.replace("<br />", " ");
        return Some((
            title.replace(' ', ""),
            message.split_whitespace().collect::<Vec<_>>().join(" "),
        ));
    }
    // Nova and Cinder: one key, the error's name.
    let (name, e) = obj.iter().find(|(_, e)| e.get("message").is_some())?;
    Some((
        name.clone(),
        e["message"].as_str().unwrap_or_default().to_string(),
    ))
}

/// The [`Fault`] of an error reply with `status` and `body`.
pub fn reply_fault(status: u16, body: &[u8]) -> Fault {
    let text = String::from_utf8_lossy(body);
    let (code, message) = match serde_json::from_slice::<Value>(body)
        .ok()
        .as_ref()
        .and_then(code_and_message)
    {
        Some(cm) => cm,
        None => {
            // Glance and the WSGI layers: `404 Not Found\n\n<message>\n\n`.
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('<'))
                .collect();
            let title = lines.first().copied().unwrap_or_default();
            let code = title
                .strip_prefix(&status.to_string())
                .map(|t| t.trim().replace(' ', ""))
                .filter(|t| !t.is_empty());
            match code {
                Some(code) => (
                    code,
                    lines.get(1).map(|m| snippet(m, 300)).unwrap_or_default(),
                ),
                None => {
                    return Fault::new(
                        Failure::Http {
                            status,
                            body: snippet(&text, 100),
                        },
                        classify_reply("openstack", None, Some(status)),
                    )
                }
            }
        }
    };
    let class = classify_reply("openstack", Some(&status.to_string()), Some(status));
    let mut fault = Fault::new(
        Failure::Service {
            code,
            message,
            status: Some(status),
        },
        class,
    );
    if status == 401 {
        fault.hint = Some(
            "check the credentials (`username`/`user_id`, `password`, `token`, or the application credential), `domain_name` or `domain_id`, and `tenant_name` or `tenant_id`".into(),
        );
    }
    fault
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_cloud::ErrorClass;

    #[test]
    fn every_services_error_shape_is_read() {
        let nova = reply_fault(
            404,
            br#"{"itemNotFound": {"code": 404, "message": "Flavor m9 could not be found."}}"#,
        );
        assert_eq!(nova.code(), Some("itemNotFound"));
        assert_eq!(nova.class, ErrorClass::Permanent);
        let neutron = reply_fault(
            404,
            br#"{"NeutronError": {"type": "FloatingIPNotFound", "message": "Floating IP x could not be found", "detail": ""}}"#,
        );
        assert_eq!(neutron.code(), Some("FloatingIPNotFound"));
        let keystone = reply_fault(
            401,
            br#"{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}"#,
        );
        assert_eq!(keystone.code(), Some("Unauthorized"));
        assert!(keystone.hint.as_deref().unwrap().contains("domain_name"));
        let glance = reply_fault(404, b"404 Not Found\n\nNo image found with ID abc\n\n   ");
        assert_eq!(glance.code(), Some("NotFound"));
        assert!(format!("{:?}", glance.failure).contains("No image found with ID abc"));
        // Glance's JSON errors, as it writes them for `Accept: application/json`.
        let glance = reply_fault(
            400,
            br#"{"message": "URI for web-download does not pass filtering: http://x/y<br /><br />\n\n\n", "code": "400 Bad Request", "title": "Bad Request"}"#,
        );
        assert_eq!(glance.code(), Some("BadRequest"));
        assert_eq!(glance.class, ErrorClass::Permanent);
        match &glance.failure {
            Failure::Service { message, .. } => assert_eq!(
                message,
                "URI for web-download does not pass filtering: http://x/y"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            reply_fault(503, b"<html>busy</html>").class,
            ErrorClass::Transient
        );
        assert_eq!(
            reply_fault(429, br#"{"overLimit": {"message": "slow down"}}"#).class,
            ErrorClass::Throttled
        );
    }
}
