//! The retry policy for cloud API calls and the [`Api`] that applies it.
//!
//! kiln's policy governs, not the SDK's: clouds' SDKs are configured not to
//! retry (an SDK's process-wide retry quota would otherwise run dry under
//! load and leave later calls one attempt), and every call goes through
//! [`Api::call`]. The policy retries throttling, 5xx replies, refused,
//! reset and timed-out connections; never a client error; at most
//! [`RetryPolicy::max_attempts`] attempts within
//! [`RetryPolicy::max_elapsed`], sleeping an exponential backoff with full
//! jitter between them. Each [`Api`] (one service endpoint) lets at most
//! [`MAX_IN_FLIGHT`] requests be in flight at once, shared by every build of
//! the process, so a thousand builds do not open a thousand connections.
//!
//! A retry after a lost reply may find that the first attempt did act:
//! [`Api::create`] adopts what an earlier attempt created ("already
//! exists" on a retry, or found by the caller's lookup), and
//! [`Api::delete`] takes "not found" on a retry as done.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{ApiError, ErrorClass, Failure, Fault, IntoFault};

/// Each cloud's throttling error codes, in one place: a reply with one of
/// these codes is [`ErrorClass::Throttled`]. A code ending in `*` stands
/// for every code with that prefix (the clouds add sub-codes over time).
/// HTTP 429 is throttling everywhere, whatever the code (it is all
/// OpenStack says). Each cloud's entry names the source it was checked
/// against.
pub const THROTTLING_CODES: &[(&str, &[&str])] = &[
    // aws-sdk-go-v2 `aws/retry/standard.go` (`DefaultThrottleErrorCodes`),
    // exactly.
    (
        "aws",
        &[
            "Throttling",
            "ThrottlingException",
            "ThrottledException",
            "RequestThrottledException",
            "TooManyRequestsException",
            "ProvisionedThroughputExceededException",
            "TransactionInProgressException",
            "RequestLimitExceeded",
            "BandwidthLimitExceeded",
            "LimitExceededException",
            "RequestThrottled",
            "SlowDown",
            "PriorRequestNotComplete",
            "EC2ThrottledException",
        ],
    ),
    // aliyun/terraform-provider-alicloud `alicloud/errors.go` (`NeedRetry`):
    // every code matching `^Throttling` (`Throttling`, `Throttling.User`,
    // `Throttling.Api`, …) and `Rejected.Throttling`; its
    // `ServiceUnavailable` is in [`TRANSIENT_CODES`].
    (
        "alicloud",
        &["Throttling", "Throttling.*", "Rejected.Throttling"],
    ),
    // hashicorp/packer-plugin-tencentcloud `builder/tencentcloud/cvm/common.go`
    // (`Retry`): any code containing `RequestLimitExceeded`, which the SDK
    // spells `RequestLimitExceeded` and `RequestLimitExceeded.<reason>`
    // (`.UinLimitExceeded`, `.IPLimitExceeded`,
    // `.GlobalRegionUinLimitExceeded`, tencentcloud-sdk-go's `errors.go`).
    (
        "tencentcloud",
        &["RequestLimitExceeded", "RequestLimitExceeded.*"],
    ),
    // UCloudDoc-Team/api `summary/public.md`: RetCode 153 "API 请求被限流"
    // (the request was rate limited). Its 150 "service unavailable, retry
    // later" is transient ([`CLOUD_TRANSIENT_CODES`]).
    ("ucloud", &["153"]),
    // Huawei Cloud's API gateway: `APIGW.0308` "the request is throttled"
    // (support.huaweicloud.com devg-apisign/api-sign-errorcode, as
    // open-telemetry-collector-contrib's `receiver/huaweicloudlogsreceiver`
    // retries it); ECS's own `Common.0024` "exceeds flow over limit".
    ("huaweicloud", &["APIGW.0308", "Common.0024"]),
    // gophercloud/utils `client/client.go` (`RetryBackoffFunc`): OpenStack
    // has no error codes; gophercloud backs off on HTTP 429 only (named
    // here for adapters that pass the status as the code). A 413 is not
    // throttling: Nova and Cinder answer it for an exceeded quota or an
    // over-large request, which no retry mends.
    ("openstack", &["429"]),
];

/// Codes of one cloud that say the service failed, not the request:
/// transient there (besides [`TRANSIENT_CODES`] and any HTTP 5xx).
pub const CLOUD_TRANSIENT_CODES: &[(&str, &[&str])] = &[
    // UCloudDoc-Team/api `summary/public.md`: RetCode 150 "the service is
    // unavailable, retry later"; ucloud-sdk-go's `ucloud/error/server_error.go`
    // (`Retryable`) also retries every RetCode from 2000 (not listed: a
    // range, which the UCloud adapter checks itself).
    ("ucloud", &["150"]),
];

/// Codes that say the service failed, not the request: transient in
/// every cloud (besides any HTTP 5xx).
pub const TRANSIENT_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "Unavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    "ServiceUnavailableTemporary",
    "InternalError.UnknownError",
];

/// The throttling codes of `cloud`.
pub fn throttling_codes(cloud: &str) -> &'static [&'static str] {
    codes_of(THROTTLING_CODES, cloud)
}

/// `cloud`'s entry in `table`.
fn codes_of(
    table: &'static [(&str, &'static [&'static str])],
    cloud: &str,
) -> &'static [&'static str] {
    table
        .iter()
        .find(|(c, _)| *c == cloud)
        .map(|(_, codes)| *codes)
        .unwrap_or(&[])
}

/// Whether `code` is one of `patterns` (a pattern ending in `*` matches
/// every code with that prefix).
fn matches_any(patterns: &[&str], code: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => code.starts_with(prefix),
        None => *p == code,
    })
}

/// The class of a service error reply of `cloud` with `code` and HTTP
/// `status`.
pub fn classify_reply(cloud: &str, code: Option<&str>, status: Option<u16>) -> ErrorClass {
    if status == Some(429) || code.is_some_and(|c| matches_any(throttling_codes(cloud), c)) {
        return ErrorClass::Throttled;
    }
    if status.is_some_and(|s| s >= 500)
        || code.is_some_and(|c| {
            TRANSIENT_CODES.contains(&c) || matches_any(codes_of(CLOUD_TRANSIENT_CODES, cloud), c)
        })
    {
        return ErrorClass::Transient;
    }
    ErrorClass::Permanent
}

/// The class of a failure that is not a service reply: every connection
/// failure is transient but TLS.
pub fn classify_failure(f: &Failure) -> ErrorClass {
    match f {
        Failure::Refused
        | Failure::Reset
        | Failure::ConnectTimeout
        | Failure::ReadTimeout
        | Failure::Dns(_) => ErrorClass::Transient,
        Failure::Tls(_) | Failure::Other(_) => ErrorClass::Permanent,
        Failure::Http { status, .. } => classify_reply("", None, Some(*status)),
        Failure::Service { status, .. } => classify_reply("", None, *status),
    }
}

/// How calls are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (at least 1).
    pub max_attempts: u32,
    /// No new attempt starts after this long since the first.
    pub max_elapsed: Duration,
    /// The backoff's first ceiling; it doubles with every retry.
    pub base_delay: Duration,
    /// The backoff's largest ceiling.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 10 attempts within 5 minutes, backoff from 200 ms up to 20 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            max_elapsed: Duration::from_secs(300),
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The backoff ceiling before retry `n` (1 for the first retry);
    /// throttling starts higher, as the service asked to slow down.
    pub fn ceiling(&self, n: u32, class: ErrorClass) -> Duration {
        let base = match class {
            ErrorClass::Throttled => self.base_delay * 5,
            _ => self.base_delay,
        };
        let factor = 1u32 << n.saturating_sub(1).min(16);
        base.saturating_mul(factor).min(self.max_delay)
    }

    /// The sleep before retry `n`: full jitter, anywhere from zero to the
    /// ceiling.
    pub fn backoff(&self, n: u32, class: ErrorClass) -> Duration {
        let ceiling = self.ceiling(n, class);
        ceiling.mul_f64(rand::random_range(0.0..=1.0))
    }
}

/// How long one request may take: to connect, and for the whole attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting (TCP and TLS).
    pub connect: Duration,
    /// One attempt, from sending to the complete reply.
    pub read: Duration,
}

impl Timeouts {
    /// 10 s to connect, 60 s for a reply; `KILN_CLOUD_CONNECT_TIMEOUT` and
    /// `KILN_CLOUD_READ_TIMEOUT` (seconds, fractions allowed) override them.
    pub fn from_env() -> Timeouts {
        let secs = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(Duration::from_secs_f64)
                .unwrap_or(Duration::from_secs(default))
        };
        Timeouts {
            connect: secs("KILN_CLOUD_CONNECT_TIMEOUT", 10),
            read: secs("KILN_CLOUD_READ_TIMEOUT", 60),
        }
    }
}

/// The most requests in flight to one endpoint, all builds of the process
/// together.
pub const MAX_IN_FLIGHT: usize = 64;

/// Which attempt of a call this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt(pub u32);

impl Attempt {
    /// Whether an earlier attempt was made (and may have acted, its reply
    /// lost).
    pub fn is_retry(self) -> bool {
        self.0 > 1
    }
}

/// One service endpoint: names it for messages, applies the retry policy
/// and bounds the requests in flight. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

struct Inner {
    service: String,
    endpoint: String,
    setting: Option<String>,
    policy: RetryPolicy,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("service", &self.inner.service)
            .field("endpoint", &self.inner.endpoint)
            .field("policy", &self.inner.policy)
            .finish()
    }
}

/// The semaphore of `endpoint`, shared by the whole process.
fn permits(endpoint: &str) -> Arc<Semaphore> {
    static ALL: OnceLock<Mutex<HashMap<String, Arc<Semaphore>>>> = OnceLock::new();
    ALL.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(endpoint.to_string())
        .or_insert_with(|| Arc::new(Semaphore::new(MAX_IN_FLIGHT)))
        .clone()
}

impl Api {
    /// The API of `service` at `endpoint` (a URL, or a description such as
    /// `region us-east-1`), whose template setting is `setting`.
    pub fn new(service: &str, endpoint: &str, setting: Option<&str>, policy: RetryPolicy) -> Api {
        Api {
            inner: Arc::new(Inner {
                service: service.to_string(),
                endpoint: endpoint.to_string(),
                setting: setting.map(str::to_string),
                policy,
                permits: permits(endpoint),
            }),
        }
    }

    /// The retry policy.
    pub fn policy(&self) -> RetryPolicy {
        self.inner.policy
    }

    /// The endpoint, as messages name it.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    fn error(&self, action: &str, fault: Fault, attempts: u32, started: Instant) -> ApiError {
        ApiError {
            service: self.inner.service.clone(),
            action: action.to_string(),
            endpoint: self.inner.endpoint.clone(),
            setting: self.inner.setting.clone(),
            fault,
            attempts,
            elapsed: started.elapsed(),
        }
    }

    /// Calls `attempt` until it succeeds, fails permanently, or the policy
    /// gives up. Sleeping between attempts stops when `cancel` fires (the
    /// last fault is returned then).
    pub async fn call<T, F, Fut>(
        &self,
        action: &str,
        cancel: Option<&CancellationToken>,
        mut attempt: F,
    ) -> Result<T, ApiError>
    where
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, Fault>>,
    {
        let policy = self.inner.policy;
        let started = Instant::now();
        let mut n = 1;
        loop {
            let result = {
                // The semaphore is never closed; a closed one would mean
                // no bound, not no call.
                let _permit = self.inner.permits.acquire().await.ok();
                attempt(Attempt(n)).await
            };
            let fault = match result {
                Ok(v) => return Ok(v),
                Err(f) => f,
            };
            let delay = policy.backoff(n, fault.class);
            let out_of_time = started.elapsed() + delay >= policy.max_elapsed;
            if !fault.class.retryable() || n >= policy.max_attempts.max(1) || out_of_time {
                return Err(self.error(action, fault, n, started));
            }
            match cancel {
                Some(c) => tokio::select! {
                    _ = c.cancelled() => return Err(self.error(action, fault, n, started)),
                    _ = tokio::time::sleep(delay) => {}
                },
                None => tokio::time::sleep(delay).await,
            }
            n += 1;
        }
    }

    /// A create call that stays right when a reply is lost: on a retry,
    /// `find` is asked first when `look_first` (the earlier attempt may
    /// have created the thing though its reply never came), and an error
    /// with one of `duplicate` codes on a retry adopts what `find` finds.
    /// A duplicate on the first attempt is the caller's error, as it is.
    /// `find` answers a [`Fault`], or an [`ApiError`] when it is made of
    /// the cloud's own (retried) calls: its last fault counts.
    #[allow(clippy::too_many_arguments)]
    pub async fn create<T, C, CFut, L, LFut, E>(
        &self,
        action: &str,
        cancel: Option<&CancellationToken>,
        duplicate: &[&str],
        look_first: bool,
        mut create: C,
        mut find: L,
    ) -> Result<T, ApiError>
    where
        C: FnMut() -> CFut,
        CFut: Future<Output = Result<T, Fault>>,
        L: FnMut() -> LFut,
        LFut: Future<Output = Result<Option<T>, E>>,
        E: IntoFault,
    {
        self.call(action, cancel, |attempt| {
            let retry = attempt.is_retry();
            // Futures do nothing until awaited: these cost nothing unused.
            let mut find = || {
                let found = find();
                async move { found.await.map_err(IntoFault::into_fault) }
            };
            let first = (retry && look_first).then(&mut find);
            let after = retry.then(&mut find);
            let created = create();
            async move {
                if let Some(found) = first {
                    if let Some(v) = found.await? {
                        return Ok(v);
                    }
                }
                match (created.await, after) {
                    (Err(fault), Some(found)) if fault.is(duplicate) => match found.await? {
                        Some(v) => Ok(v),
                        None => Err(fault),
                    },
                    (other, _) => other,
                }
            }
        })
        .await
    }

    /// A delete call that stays right when a reply is lost: an error with
    /// one of `not_found` codes on a retry means the earlier attempt
    /// deleted it. On the first attempt it is the caller's to judge.
    pub async fn delete<T, D, DFut>(
        &self,
        action: &str,
        cancel: Option<&CancellationToken>,
        not_found: &[&str],
        mut delete: D,
    ) -> Result<Option<T>, ApiError>
    where
        D: FnMut() -> DFut,
        DFut: Future<Output = Result<T, Fault>>,
    {
        self.call(action, cancel, |attempt| {
            let deleted = delete();
            async move {
                match deleted.await {
                    Ok(v) => Ok(Some(v)),
                    Err(f) if attempt.is_retry() && f.is(not_found) => Ok(None),
                    Err(f) => Err(f),
                }
            }
        })
        .await
    }
}

/// The outcome of a delete whose resource may be gone before its first
/// attempt too (another build's cleanup, an earlier try): an error with
/// one of `not_found` codes, on any attempt, means deleted.
// The error is the one every API call returns by value; boxing it here
// alone would only make callers unbox it.
#[allow(clippy::result_large_err)]
pub fn deleted<T>(result: Result<T, ApiError>, not_found: &[&str]) -> Result<(), ApiError> {
    match result {
        Err(e) if e.is(not_found) => Ok(()),
        r => r.map(drop),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::testing::fault;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn duplicate() -> Fault {
        Fault::new(
            Failure::Service {
                code: "InvalidGroup.Duplicate".into(),
                message: "exists".into(),
                status: Some(400),
            },
            ErrorClass::Permanent,
        )
    }

    fn api(max_attempts: u32) -> Api {
        Api::new(
            "EC2",
            "http://test.invalid",
            Some("custom_endpoint_ec2"),
            RetryPolicy {
                max_attempts,
                ..RetryPolicy::default()
            },
        )
    }

    #[test]
    fn replies_are_classified_by_each_clouds_table() {
        assert_eq!(
            classify_reply("aws", Some("RequestLimitExceeded"), Some(503)),
            ErrorClass::Throttled
        );
        assert_eq!(
            classify_reply("aws", Some("EC2ThrottledException"), Some(400)),
            ErrorClass::Throttled
        );
        assert_eq!(
            classify_reply("alicloud", Some("Throttling.User"), Some(400)),
            ErrorClass::Throttled
        );
        assert_eq!(
            classify_reply("openstack", None, Some(429)),
            ErrorClass::Throttled
        );
        assert_eq!(
            classify_reply("openstack", Some("413"), Some(413)),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify_reply("aws", Some("InternalError"), Some(500)),
            ErrorClass::Transient
        );
        assert_eq!(
            classify_reply("aws", None, Some(503)),
            ErrorClass::Transient
        );
        assert_eq!(
            classify_reply("aws", Some("InvalidAMIID.NotFound"), Some(400)),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify_reply("aws", None, Some(404)),
            ErrorClass::Permanent
        );
        assert_eq!(classify_failure(&Failure::Refused), ErrorClass::Transient);
        assert_eq!(
            classify_failure(&Failure::Tls("bad certificate".into())),
            ErrorClass::Permanent
        );
    }

    #[test]
    fn each_clouds_throttling_codes_and_their_sub_codes_are_throttled() {
        let throttled = [
            ("alicloud", "Throttling"),
            ("alicloud", "Throttling.User"),
            ("alicloud", "Throttling.Api"),
            ("alicloud", "Throttling.Concurrent"),
            ("alicloud", "Rejected.Throttling"),
            ("tencentcloud", "RequestLimitExceeded"),
            ("tencentcloud", "RequestLimitExceeded.IPLimitExceeded"),
            ("tencentcloud", "RequestLimitExceeded.UinLimitExceeded"),
            ("ucloud", "153"),
            ("huaweicloud", "APIGW.0308"),
            ("huaweicloud", "Common.0024"),
            ("openstack", "429"),
        ];
        for (cloud, code) in throttled {
            assert_eq!(
                classify_reply(cloud, Some(code), Some(400)),
                ErrorClass::Throttled,
                "{cloud} {code}"
            );
        }
        let not_throttled = [
            // A prefix only matches where the table says so.
            ("alicloud", "ThrottlingX"),
            ("alicloud", "Forbidden.Throttling"),
            ("tencentcloud", "LimitExceeded"),
            ("ucloud", "171"),
            ("huaweicloud", "APIGW.0301"),
            // Another cloud's code is not this one's.
            ("aws", "Throttling.User"),
            ("ucloud", "RequestLimitExceeded"),
        ];
        for (cloud, code) in not_throttled {
            assert_ne!(
                classify_reply(cloud, Some(code), Some(400)),
                ErrorClass::Throttled,
                "{cloud} {code}"
            );
        }
        // UCloud's "service unavailable" is transient there, and only there.
        assert_eq!(
            classify_reply("ucloud", Some("150"), Some(200)),
            ErrorClass::Transient
        );
        assert_eq!(
            classify_reply("huaweicloud", Some("150"), Some(400)),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify_reply("alicloud", Some("ServiceUnavailable"), Some(503)),
            ErrorClass::Transient
        );
        // Every cloud the toolkit knows has an entry.
        for cloud in [
            "aws",
            "alicloud",
            "tencentcloud",
            "ucloud",
            "huaweicloud",
            "openstack",
        ] {
            assert!(!throttling_codes(cloud).is_empty(), "{cloud}");
        }
    }

    #[test]
    fn backoff_grows_to_its_bound_with_full_jitter() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.ceiling(1, ErrorClass::Transient),
            Duration::from_millis(200)
        );
        assert_eq!(
            p.ceiling(3, ErrorClass::Transient),
            Duration::from_millis(800)
        );
        assert_eq!(p.ceiling(1, ErrorClass::Throttled), Duration::from_secs(1));
        assert_eq!(
            p.ceiling(30, ErrorClass::Transient),
            Duration::from_secs(20)
        );
        for n in 1..12 {
            let d = p.backoff(n, ErrorClass::Transient);
            assert!(d <= p.ceiling(n, ErrorClass::Transient), "{d:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn transient_and_throttled_faults_are_retried_client_errors_are_not() {
        let n = AtomicU32::new(0);
        let r = api(10)
            .call("DescribeImages", None, |a| {
                n.fetch_add(1, Ordering::SeqCst);
                async move {
                    match a.0 {
                        1 => Err(fault(ErrorClass::Throttled)),
                        2 => Err(fault(ErrorClass::Transient)),
                        _ => Ok(a.0),
                    }
                }
            })
            .await;
        assert_eq!(r, Ok(3));

        let n = AtomicU32::new(0);
        let e = api(10)
            .call("DescribeImages", None, |_| {
                n.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(fault(ErrorClass::Permanent)) }
            })
            .await
            .unwrap_err();
        assert_eq!(n.load(Ordering::SeqCst), 1);
        assert_eq!(e.attempts, 1);
        assert_eq!(e.to_string(), "InvalidParameterValue: no");
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_and_time_are_bounded() {
        let n = AtomicU32::new(0);
        let e = api(4)
            .call("DescribeImages", None, |_| {
                n.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(fault(ErrorClass::Transient)) }
            })
            .await
            .unwrap_err();
        assert_eq!(n.load(Ordering::SeqCst), 4);
        assert_eq!(e.attempts, 4);
        assert!(e.to_string().contains("gave up after 4 attempts"), "{e}");

        // Each attempt takes a minute: the third would start after the
        // policy's two minutes.
        let policy = RetryPolicy {
            max_attempts: 100,
            max_elapsed: Duration::from_secs(120),
            ..RetryPolicy::default()
        };
        let a = Api::new("EC2", "http://slow.invalid", None, policy);
        let started = Instant::now();
        let e = a
            .call("DescribeImages", None, |_| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Err::<(), _>(fault(ErrorClass::Transient))
            })
            .await
            .unwrap_err();
        assert_eq!(e.attempts, 2);
        assert!(started.elapsed() < Duration::from_secs(121));
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_stops_the_retries() {
        let cancel = CancellationToken::new();
        cancel.cancel();
        let n = AtomicU32::new(0);
        let e = api(10)
            .call("DescribeImages", Some(&cancel), |_| {
                n.fetch_add(1, Ordering::SeqCst);
                async { Err::<(), _>(fault(ErrorClass::Throttled)) }
            })
            .await
            .unwrap_err();
        assert_eq!(n.load(Ordering::SeqCst), 1);
        assert_eq!(e.code(), Some("Throttling"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_duplicate_after_a_lost_reply_adopts_the_first_attempts_resource() {
        // The first attempt created the group and its reply was lost.
        let made = Mutex::new(Vec::<String>::new());
        let r = api(5)
            .create(
                "CreateSecurityGroup",
                None,
                &["InvalidGroup.Duplicate"],
                false,
                || async {
                    let mut m = made.lock().unwrap();
                    if m.is_empty() {
                        m.push("sg-1".into());
                        return Err(fault(ErrorClass::Transient));
                    }
                    Err(duplicate())
                },
                || async { Ok::<_, Fault>(made.lock().unwrap().first().cloned()) },
            )
            .await;
        assert_eq!(r, Ok("sg-1".to_string()));
        assert_eq!(made.lock().unwrap().len(), 1);

        // On the first attempt a duplicate is the caller's error.
        let e = api(5)
            .create(
                "CreateSecurityGroup",
                None,
                &["InvalidGroup.Duplicate"],
                false,
                || async { Err::<String, _>(duplicate()) },
                || async { Ok::<_, Fault>(Some("sg-other".to_string())) },
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("InvalidGroup.Duplicate"));
    }

    #[tokio::test(start_paused = true)]
    async fn looking_first_on_a_retry_does_not_create_twice() {
        // CreateImage has no client token and an image of that name is
        // found before the retry.
        let created = AtomicU32::new(0);
        let r = api(5)
            .create(
                "CreateImage",
                None,
                &["InvalidAMIName.Duplicate"],
                true,
                || async {
                    created.fetch_add(1, Ordering::SeqCst);
                    Err::<String, _>(fault(ErrorClass::Transient))
                },
                || async { Ok::<_, Fault>(Some("ami-1".to_string())) },
            )
            .await;
        assert_eq!(r, Ok("ami-1".to_string()));
        assert_eq!(created.load(Ordering::SeqCst), 1);

        // A lookup made of the cloud's own calls fails with their error:
        // its last fault is the attempt's.
        let lost = api(5)
            .call("DescribeImages", None, |_| async {
                Err::<(), _>(fault(ErrorClass::Permanent))
            })
            .await
            .unwrap_err();
        let e = api(5)
            .create(
                "CreateImage",
                None,
                &[],
                true,
                || async { Err::<String, _>(fault(ErrorClass::Transient)) },
                || {
                    let lost = lost.clone();
                    async move { Err::<Option<String>, _>(lost) }
                },
            )
            .await
            .unwrap_err();
        assert_eq!((e.action.as_str(), &e.fault), ("CreateImage", &lost.fault));
    }

    #[tokio::test(start_paused = true)]
    async fn not_found_on_a_delete_retry_is_done() {
        let not_found = || {
            Fault::new(
                Failure::Service {
                    code: "InvalidKeyPair.NotFound".into(),
                    message: "gone".into(),
                    status: Some(400),
                },
                ErrorClass::Permanent,
            )
        };
        let n = AtomicU32::new(0);
        let r = api(5)
            .delete("DeleteKeyPair", None, &["InvalidKeyPair.NotFound"], || {
                let first = n.fetch_add(1, Ordering::SeqCst) == 0;
                async move {
                    if first {
                        Err::<(), _>(fault(ErrorClass::Transient))
                    } else {
                        Err(not_found())
                    }
                }
            })
            .await;
        assert_eq!(r, Ok(None));
        let e = api(5)
            .delete(
                "DeleteKeyPair",
                None,
                &["InvalidKeyPair.NotFound"],
                || async { Err::<(), _>(not_found()) },
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("InvalidKeyPair.NotFound"));
        // Gone before the first attempt too is deleted; other errors stay.
        let codes = &["InvalidKeyPair.NotFound"];
        assert_eq!(deleted(Err::<(), _>(e.clone()), codes), Ok(()));
        assert_eq!(deleted(Ok(Some(1)), codes), Ok(()));
        assert_eq!(deleted(Err::<(), _>(e.clone()), &["Other"]), Err(e));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_in_flight_to_one_endpoint_are_bounded() {
        let a = Api::new(
            "EC2",
            "http://bounded.invalid",
            None,
            RetryPolicy::default(),
        );
        let now = Arc::new(AtomicU32::new(0));
        let peak = Arc::new(AtomicU32::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..200 {
            let (a, now, peak) = (a.clone(), now.clone(), peak.clone());
            tasks.spawn(async move {
                a.call("DescribeImages", None, |_| {
                    let (now, peak) = (now.clone(), peak.clone());
                    async move {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(n, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        now.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, Fault>(())
                    }
                })
                .await
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), MAX_IN_FLIGHT as u32);
    }
}
