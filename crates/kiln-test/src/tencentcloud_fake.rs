//! The FAKE Tencent Cloud API (`fakes/tencentcloud/tencentcloud_fake.py`)
//! for the tencentcloud tests, as moto is for amazon-ebs:
//! [`TencentcloudFake`] starts it on free loopback ports (plain HTTP and
//! HTTPS with a CA it generates) through
//! [`crate::fake_server::FakeServer`], which it dereferences to (the
//! endpoint, the CA, `resources` for leak checks, the request log, its time
//! scale, an sshd playing the instance), and adds the SecretId/SecretKey it
//! accepts, [`TencentcloudFake::requests`] (the request log, in the
//! alicloud fake's shape) and the fault hook [`TencentcloudFake::fail`].
//!
//! The fake runs on the Python of the venv scripts/install-deps.sh makes
//! (which also holds tencentcloud-sdk-python for the fidelity scenario); a
//! missing venv is a failure, never a skip.

use crate::alicloud_fake::ApiRequest;

/// How to start the fake.
pub use crate::fake_server::Options;

crate::fake_server::fake_cloud!(
    TencentcloudFake,
    "tencentcloud",
    "KILN_TENCENTCLOUD_VENV",
    "Tencent Cloud"
);

/// The SecretId the fake accepts.
pub const SECRET_ID: &str = "AKIDkilnfakesecretid";

impl TencentcloudFake {
    /// The fake with `opts`, once it listens.
    pub fn start_with(opts: &Options) -> TencentcloudFake {
        let secret = format!("kiln-tc-fake-secret-{}", std::process::id());
        let args = opts.args();
        let keys = format!(
            "{SECRET_ID}:{secret}:{}",
            opts.token.as_deref().unwrap_or("")
        );
        // The key goes through the environment, never the command line.
        let server = CLOUD.start(&args, &[("TENCENTCLOUD_FAKE_KEYS", keys)]);
        TencentcloudFake { server, secret }
    }

    /// The SecretId it accepts.
    pub fn secret_id(&self) -> &str {
        SECRET_ID
    }

    /// The SecretKey of [`TencentcloudFake::secret_id`].
    pub fn secret_key(&self) -> &str {
        &self.secret
    }

    /// The request log, oldest first, in the alicloud fake's shape.
    pub fn requests(&self) -> Vec<ApiRequest> {
        crate::alicloud_fake::parse_requests(&self.request_log())
    }

    /// The request log as packer 1.6.6's recorded sequence is kept
    /// ([`crate::fake_server::FakeServer::normalized_actions`]), with the
    /// answers a client retries by design (see [`RETRIED_CODES`]) left out,
    /// as their count depends on timing.
    pub fn normalized_actions(&self) -> Vec<String> {
        without_retried(self.server.normalized_actions().iter().map(String::as_str))
    }

    /// Makes the next `times` calls of `action` answer Tencent's error
    /// `code` (`RequestLimitExceeded`, ...), HTTP 200 as Tencent answers.
    pub fn fail(&self, action: &str, code: &str, times: u32) {
        self.server
            .inject_fault(action, times, serde_json::json!({ "code": code }));
    }
}

/// Error codes a client retries by design (a dependency still going away,
/// an operation still running, throttling): how many of them a build meets
/// depends on timing, so action sequences are compared without them.
pub const RETRIED_CODES: &[&str] = &[
    "ResourceInUse",
    "OperationDenied.InstanceOperationInProgress",
    "RequestLimitExceeded",
];

/// `lines` without the answers of [`RETRIED_CODES`], repeats collapsed
/// again.
pub fn without_retried<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in lines {
        let retried = line
            .split_once(" -> ")
            .is_some_and(|(_, code)| RETRIED_CODES.contains(&code.trim()));
        if retried || out.last().is_some_and(|l| l == line) {
            continue;
        }
        out.push(line.to_string());
    }
    out
}

/// A recorded action sequence of packer 1.6.6, `fidelity/<name>` (`#`
/// lines left out).
pub fn recorded_actions(name: &str) -> Vec<String> {
    without_retried(CLOUD.recorded_actions(name).iter().map(String::as_str))
}
