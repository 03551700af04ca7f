//! Errors of cloud API calls, for people: what was called (the API action),
//! where (the service and its endpoint), what happened (the service's
//! error code and message, a refused or reset connection, no answer in
//! time, an HTTP page that is not an API reply) and what to check. Each
//! cloud adapts its SDK's errors into a [`Fault`] (the failure, its class
//! and an optional hint); the [`Api`](crate::Api) that made the call adds
//! the action, the endpoint, the attempts and the time spent, making an
//! [`ApiError`].

use std::fmt;
use std::time::Duration;

/// How a failed call may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// A failure that the same call may not meet again: a 5xx, a reset,
    /// refused or timed-out connection, an unreadable reply.
    Transient,
    /// The service asked the caller to slow down (throttling, HTTP 429).
    Throttled,
    /// The call itself is wrong (a client error): retrying cannot help.
    Permanent,
}

impl ErrorClass {
    /// Whether the retry policy retries this class.
    pub fn retryable(self) -> bool {
        !matches!(self, ErrorClass::Permanent)
    }
}

/// What can say which [`ErrorClass`] it is.
pub trait Classify {
    /// The class of this error.
    fn class(&self) -> ErrorClass;
}

/// What went wrong in one attempt, independent of the cloud's SDK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The service answered with an error it names.
    Service {
        /// The error code (`InvalidGroup.Duplicate`, `Throttling`, ...).
        code: String,
        /// The service's message.
        message: String,
        /// The HTTP status, when known.
        status: Option<u16>,
    },
    /// An HTTP answer that is not an API error reply: a wrong endpoint, a
    /// proxy's error page.
    Http {
        /// The HTTP status.
        status: u16,
        /// The start of the body, one line.
        body: String,
    },
    /// Nothing listens at the endpoint.
    Refused,
    /// The connection was reset or closed before the reply was complete.
    Reset,
    /// No connection within the connect timeout.
    ConnectTimeout,
    /// Connected, but no complete reply within the read timeout.
    ReadTimeout,
    /// The endpoint's host name does not resolve.
    Dns(String),
    /// The TLS handshake failed (a certificate not trusted, ...).
    Tls(String),
    /// Anything else: the cause, as text.
    Other(String),
}

/// One failed attempt: what went wrong, its class and, when the cloud
/// knows one, a hint on what to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What went wrong.
    pub failure: Failure,
    /// Whether to retry.
    pub class: ErrorClass,
    /// What to check, when the cloud knows better than the generic hint.
    pub hint: Option<String>,
}

impl Fault {
    /// A fault with the generic hint.
    pub fn new(failure: Failure, class: ErrorClass) -> Fault {
        Fault {
            failure,
            class,
            hint: None,
        }
    }

    /// The service's error code, if it named one.
    pub fn code(&self) -> Option<&str> {
        match &self.failure {
            Failure::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the service's error code is one of `codes`.
    pub fn is(&self, codes: &[&str]) -> bool {
        self.code().is_some_and(|c| codes.contains(&c))
    }
}

impl Classify for Fault {
    fn class(&self) -> ErrorClass {
        self.class
    }
}

/// What fails inside one attempt of a call (the `find` of
/// [`crate::Api::create`]): a [`Fault`], or a whole call's [`ApiError`]
/// when the lookup is made of the cloud's own (retried) calls, whose last
/// fault counts.
pub trait IntoFault {
    /// The fault.
    fn into_fault(self) -> Fault;
}

impl IntoFault for Fault {
    fn into_fault(self) -> Fault {
        self
    }
}

impl IntoFault for ApiError {
    fn into_fault(self) -> Fault {
        self.fault
    }
}

/// A failed API call, after the retry policy gave up or met a permanent
/// error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The service (`EC2`, `IAM`, ...).
    pub service: String,
    /// The API action (`CreateSecurityGroup`).
    pub action: String,
    /// Where: the endpoint URL, or the region when the SDK picks it.
    pub endpoint: String,
    /// The template setting that names the endpoint, for the hint
    /// (`custom_endpoint_ec2`).
    pub setting: Option<String>,
    /// The last attempt's fault.
    pub fault: Fault,
    /// How many attempts were made.
    pub attempts: u32,
    /// How long the call took, all attempts included.
    pub elapsed: Duration,
}

impl ApiError {
    /// The service's error code, if it named one.
    pub fn code(&self) -> Option<&str> {
        self.fault.code()
    }

    /// Whether the service's error code is one of `codes`.
    pub fn is(&self, codes: &[&str]) -> bool {
        self.fault.is(codes)
    }

    fn retried(&self) -> String {
        if self.attempts > 1 {
            format!(
                " (gave up after {} attempts in {})",
                self.attempts,
                human(self.elapsed)
            )
        } else {
            String::new()
        }
    }

    fn setting_hint(&self) -> String {
        match &self.setting {
            Some(s) => format!(" (`{s}`)"),
            None => String::new(),
        }
    }

    /// The generic hint for this failure.
    fn default_hint(&self) -> Option<String> {
        let at = &self.endpoint;
        let setting = self.setting_hint();
        let service = &self.service;
        Some(match &self.fault.failure {
            Failure::Service { .. } | Failure::Other(_) => return None,
            Failure::Http { .. } => format!(
                "check that `{at}`{setting} is an endpoint of the {service} API: this reply is not an API reply"
            ),
            Failure::Refused => format!(
                "check that the endpoint{setting} is right and that the service listens there"
            ),
            Failure::Reset | Failure::ConnectTimeout | Failure::ReadTimeout => format!(
                "check the endpoint{setting}, the network and any proxy between kiln and `{at}`"
            ),
            Failure::Dns(_) => format!("check the host name of the endpoint{setting} and DNS"),
            Failure::Tls(_) => format!(
                "check that `{at}` presents a certificate this machine trusts{setting}"
            ),
        })
    }
}

impl Classify for ApiError {
    fn class(&self) -> ErrorClass {
        self.fault.class
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (service, action, at) = (&self.service, &self.action, &self.endpoint);
        match &self.fault.failure {
            // The service's own words, as they always were.
            Failure::Service { code, message, .. } => write!(f, "{code}: {message}")?,
            Failure::Http { status, body } => {
                write!(f, "{service} `{action}` at `{at}` answered HTTP {status}")?;
                if !body.is_empty() {
                    write!(f, " ({body})")?;
                }
            }
            Failure::Refused => write!(
                f,
                "cannot connect to {service} at `{at}` for `{action}`: connection refused"
            )?,
            Failure::Reset => write!(
                f,
                "the connection to {service} at `{at}` was closed during `{action}` before a reply"
            )?,
            Failure::ConnectTimeout => write!(
                f,
                "cannot connect to {service} at `{at}` for `{action}`: the connection timed out"
            )?,
            Failure::ReadTimeout => {
                write!(f, "{service} at `{at}` did not answer `{action}` in time")?
            }
            Failure::Dns(e) => write!(
                f,
                "cannot resolve the {service} endpoint `{at}` for `{action}`: {e}"
            )?,
            Failure::Tls(e) => write!(
                f,
                "TLS handshake with {service} at `{at}` failed for `{action}`: {e}"
            )?,
            Failure::Other(e) => write!(f, "{service} `{action}` at `{at}` failed: {e}")?,
        }
        f.write_str(&self.retried())?;
        if let Some(h) = self.fault.hint.clone().or_else(|| self.default_hint()) {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// `d` for people: `850ms`, `12s`, `3m20s`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    if s < 60 {
        return format!("{s}s");
    }
    if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{}m{}s", s / 60, s % 60)
    }
}

/// A successful reply's JSON body of type `T`: `what` names the reply in
/// the error (`the reply`, `` the reply to `DescribeImages` ``), and a body
/// that does not parse is a transient fault (a proxy's page, a cut-off
/// reply) whose message shows its first line.
pub fn json_reply<T: serde::de::DeserializeOwned>(
    what: &str,
    body: &[u8],
    class: ErrorClass,
) -> Result<T, Fault> {
    serde_json::from_slice(body).map_err(|e| {
        Fault::new(
            Failure::Other(format!(
                "{what} is not the expected JSON ({e}): {}",
                snippet(&String::from_utf8_lossy(body), 100)
            )),
            class,
        )
    })
}

/// [`json_reply`] for services that answer some calls with an empty body
/// (`204 No Content`): that is JSON `null`.
pub fn json_or_empty_reply(body: &[u8]) -> Result<serde_json::Value, Fault> {
    if body.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    json_reply("the reply", body, ErrorClass::Transient)
}

/// The first line of `body`, at most `max` characters, for an error
/// message (an HTML page's title or first text, not all of it).
pub fn snippet(body: &str, max: usize) -> String {
    let text = match (body.find("<title>"), body.find("</title>")) {
        (Some(a), Some(b)) if a + 7 <= b => &body[a + 7..b],
        _ => body,
    };
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    let mut out: String = line.chars().take(max).collect();
    if line.chars().count() > max {
        out.push('…');
    }
    out
}

/// The [`Fault`] of a request that got no (complete) reply, from the HTTP
/// client's error `e` (whether it `timeout` and whether it failed to
/// `connect`, as the client says): refused, reset, timed out, DNS, TLS.
/// Only `e`'s causes are told, never `e` itself, whose text carries the
/// URL (and with it a query string's credentials).
pub fn transport_fault(
    e: &(dyn std::error::Error + 'static),
    timeout: bool,
    connect: bool,
) -> Fault {
    let mut parts = Vec::new();
    let mut io_kind = None;
    let mut source = e.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        if let (None, Some(io)) = (io_kind, s.downcast_ref::<std::io::Error>()) {
            io_kind = Some(io.kind());
        }
        source = s.source();
    }
    if parts.is_empty() {
        parts.push("request failed".into());
    }
    let text = parts.join(": ");
    let failure = if timeout {
        if connect {
            Failure::ConnectTimeout
        } else {
            Failure::ReadTimeout
        }
    } else if let Some(kind) = io_kind {
        use std::io::ErrorKind::*;
        match kind {
            ConnectionRefused => Failure::Refused,
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => Failure::Reset,
            TimedOut => Failure::ReadTimeout,
            _ if connect => Failure::Other(text),
            _ => Failure::Reset,
        }
    } else if text.contains("dns error") || text.contains("failed to lookup address") {
        Failure::Dns(text)
    } else if text.contains("certificate") || text.contains("tls") || text.contains("TLS") {
        Failure::Tls(text)
    } else if connect {
        Failure::Other(text)
    } else {
        // The connection closed before the reply was complete.
        Failure::Reset
    };
    let class = match &failure {
        Failure::Other(_) => ErrorClass::Transient,
        f => crate::retry::classify_failure(f),
    };
    Fault::new(failure, class)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(failure: Failure, attempts: u32) -> ApiError {
        ApiError {
            service: "EC2".into(),
            action: "DescribeImages".into(),
            endpoint: "http://127.0.0.1:1".into(),
            setting: Some("custom_endpoint_ec2".into()),
            fault: Fault::new(failure, ErrorClass::Transient),
            attempts,
            elapsed: Duration::from_millis(4200),
        }
    }

    #[test]
    fn a_refused_connection_says_what_where_and_what_to_check() {
        let e = error(Failure::Refused, 4).to_string();
        assert_eq!(
            e,
            "cannot connect to EC2 at `http://127.0.0.1:1` for `DescribeImages`: connection refused (gave up after 4 attempts in 4s)\n  hint: check that the endpoint (`custom_endpoint_ec2`) is right and that the service listens there"
        );
    }

    #[test]
    fn an_html_page_is_named_by_its_title() {
        let body = "<html><head><title>404 Not Found</title></head><body>...</body></html>";
        let e = error(
            Failure::Http {
                status: 404,
                body: snippet(body, 80),
            },
            1,
        )
        .to_string();
        assert!(
            e.starts_with("EC2 `DescribeImages` at `http://127.0.0.1:1` answered HTTP 404 (404 Not Found)\n  hint: check that `http://127.0.0.1:1` (`custom_endpoint_ec2`) is an endpoint of the EC2 API"),
            "{e}"
        );
        assert!(
            !e.contains("ServiceError") && !e.contains("unhandled"),
            "{e}"
        );
    }

    #[test]
    fn service_errors_keep_the_services_words_and_a_cloud_hint() {
        let mut e = error(
            Failure::Service {
                code: "AuthFailure".into(),
                message: "bad key".into(),
                status: Some(401),
            },
            1,
        );
        assert_eq!(e.to_string(), "AuthFailure: bad key");
        e.fault.hint = Some("check the keys".into());
        assert_eq!(
            e.to_string(),
            "AuthFailure: bad key\n  hint: check the keys"
        );
        assert!(e.is(&["AuthFailure"]) && !e.is(&["Throttling"]));
    }

    #[test]
    fn durations_and_snippets_read_well() {
        assert_eq!(human(Duration::from_millis(850)), "850ms");
        assert_eq!(human(Duration::from_secs(200)), "3m20s");
        assert_eq!(human(Duration::from_secs(120)), "2m");
        assert_eq!(snippet("\n\n  first line  \nsecond", 5), "first…");
    }
}

/// Faults and failed calls for the crate's unit tests: one builder each.
#[cfg(test)]
pub(crate) mod testing {
    use std::time::Duration;

    use super::{ApiError, ErrorClass, Failure, Fault};

    /// A fault of `class`: `Throttling: Rate exceeded`, a reset
    /// connection, `InvalidParameterValue: no`.
    pub(crate) fn fault(class: ErrorClass) -> Fault {
        let failure = match class {
            ErrorClass::Throttled => Failure::Service {
                code: "Throttling".into(),
                message: "Rate exceeded".into(),
                status: Some(400),
            },
            ErrorClass::Transient => Failure::Reset,
            ErrorClass::Permanent => Failure::Service {
                code: "InvalidParameterValue".into(),
                message: "no".into(),
                status: Some(400),
            },
        };
        Fault::new(failure, class)
    }

    /// `fault` as the error of a call to `action` of the fake service
    /// (`Fake` at `http://fake.invalid`) after `attempts`.
    pub(crate) fn api_error(action: &str, fault: Fault, attempts: u32) -> ApiError {
        ApiError {
            service: "Fake".into(),
            action: action.into(),
            endpoint: "http://fake.invalid".into(),
            setting: None,
            fault,
            attempts,
            elapsed: Duration::ZERO,
        }
    }
}
