//! The FAKE Tencent Cloud API (`fakes/tencentcloud/tencentcloud_fake.py`)
//! for the tencentcloud tests, as moto is for amazon-ebs:
//! [`TencentcloudFake`] starts it on free loopback ports (plain HTTP and
//! HTTPS with a CA it generates) through
//! [`crate::fake_server::FakeServer`], and exposes the endpoint, the CA,
//! the SecretId/SecretKey it accepts, [`TencentcloudFake::resources`]
//! (everything it holds, for leak checks), [`TencentcloudFake::requests`]
//! (the request log, in the alicloud fake's shape), the fault hook
//! [`TencentcloudFake::fail`] and its time scale.
//!
//! The fake runs on the Python of the venv scripts/install-deps.sh makes
//! (which also holds tencentcloud-sdk-python for the fidelity scenario); a
//! missing venv is a failure, never a skip.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::alicloud_fake::ApiRequest;
use crate::fake_server::FakeServer;

/// The SecretId the fake accepts.
pub const SECRET_ID: &str = "AKIDkilnfakesecretid";

/// `fakes/tencentcloud` in the repository.
pub fn fake_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fakes/tencentcloud")
}

/// The venv scripts/install-deps.sh creates (`KILN_TENCENTCLOUD_VENV`, or
/// `~/.cache/kiln/tencentcloud-venv`). Panics when it is missing: the
/// tencentcloud tests never skip.
pub fn venv() -> PathBuf {
    let v = std::env::var_os("KILN_TENCENTCLOUD_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").expect("HOME"))
                .join(".cache/kiln/tencentcloud-venv")
        });
    assert!(
        v.join("bin/python").exists(),
        "the Tencent Cloud venv is not installed in `{}`: run scripts/install-deps.sh",
        v.display()
    );
    v
}

/// The venv's Python.
pub fn python() -> PathBuf {
    venv().join("bin/python")
}

/// How to start the fake.
#[derive(Debug, Clone)]
pub struct Options {
    /// Multiplies the fake's realistic delays (0.01: a 60 s image takes
    /// 0.6 s).
    pub time_scale: f64,
    /// The public address instances get (point it at a test sshd).
    pub public_ip: String,
    /// The private address instances get (default: from their subnet).
    pub private_ip: Option<String>,
    /// Also serve HTTPS.
    pub https: bool,
    /// A security token the key then needs (`X-TC-Token`), as temporary
    /// credentials do.
    pub token: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            time_scale: 0.01,
            public_ip: "127.0.0.1".into(),
            private_ip: None,
            https: true,
            token: None,
        }
    }
}

/// A running fake; killed on drop.
pub struct TencentcloudFake {
    server: FakeServer,
    secret: String,
}

impl TencentcloudFake {
    /// The fake with [`Options::default`].
    pub fn start() -> TencentcloudFake {
        Self::start_with(&Options::default())
    }

    /// The fake with `opts`, once it listens.
    pub fn start_with(opts: &Options) -> TencentcloudFake {
        let secret = format!("kiln-tc-fake-secret-{}", std::process::id());
        let mut args = vec![
            "--https-port".to_string(),
            if opts.https { "0" } else { "-1" }.to_string(),
            "--time-scale".to_string(),
            opts.time_scale.to_string(),
            "--public-ip".to_string(),
            opts.public_ip.clone(),
        ];
        if let Some(ip) = &opts.private_ip {
            args.extend(["--private-ip".to_string(), ip.clone()]);
        }
        let keys = format!(
            "{SECRET_ID}:{secret}:{}",
            opts.token.as_deref().unwrap_or("")
        );
        // The key goes through the environment, never the command line.
        let server = FakeServer::start(
            "fake Tencent Cloud API",
            &python(),
            &fake_dir().join("tencentcloud_fake.py"),
            &args,
            &[("TENCENTCLOUD_FAKE_KEYS", keys)],
        );
        TencentcloudFake { server, secret }
    }

    /// `http://127.0.0.1:<port>`: CVM and VPC (the credential scope of the
    /// signature picks the service when the Host header does not).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.http_port())
    }

    /// `127.0.0.1:<port>`, for SDKs that take a host and a scheme.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.server.http_port())
    }

    /// `https://127.0.0.1:<port>` when HTTPS is on.
    pub fn https_endpoint(&self) -> Option<String> {
        self.server
            .https_port()
            .map(|p| format!("https://127.0.0.1:{p}"))
    }

    /// The CA certificate (PEM) that signed the HTTPS certificate, whose
    /// SANs are Tencent's endpoint host names and 127.0.0.1.
    pub fn ca_cert(&self) -> Option<PathBuf> {
        self.server.ca_cert()
    }

    /// The SecretId it accepts.
    pub fn secret_id(&self) -> &str {
        SECRET_ID
    }

    /// The SecretKey of [`TencentcloudFake::secret_id`].
    pub fn secret_key(&self) -> &str {
        &self.secret
    }

    /// What the fake wrote on stderr so far.
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// Everything it holds, by kind (`instance`, `image`, `vpc`, `subnet`,
    /// `security_group`, `key_pair`), each a list of objects with `Region`
    /// and state; the built-in public images are left out.
    pub fn resources(&self) -> Value {
        self.server.admin("GET", "/_fake/resources", "")
    }

    /// The rows of one kind of [`TencentcloudFake::resources`].
    pub fn rows(&self, kind: &str) -> Vec<Value> {
        self.resources()[kind]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The request log as the fake keeps it (with each request's
    /// parameters, passwords masked), oldest first.
    pub fn request_log(&self) -> Value {
        self.server.admin("GET", "/_fake/requests", "")
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<ApiRequest> {
        crate::alicloud_fake::parse_requests(&self.request_log())
    }

    /// The request log as packer 1.6.6's recorded sequence is kept
    /// (fakes/alicloud/fidelity/normalize_actions.py: `service Action
    /// region[ -> Code]`, polls collapsed), with the answers a client
    /// retries by design (see [`RETRIED_CODES`]) left out, as their count
    /// depends on timing.
    pub fn normalized_actions(&self) -> Vec<String> {
        let file = tempfile::NamedTempFile::new().expect("a temporary file for the log");
        std::fs::write(file.path(), self.request_log().to_string()).expect("write the log");
        let out = std::process::Command::new(python())
            .arg(crate::alicloud_fake::fake_dir().join("fidelity/normalize_actions.py"))
            .arg(file.path())
            .output()
            .expect("run normalize_actions.py");
        assert!(
            out.status.success(),
            "normalize_actions.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        without_retried(String::from_utf8_lossy(&out.stdout).lines())
    }

    /// Makes the next `times` calls of `action` answer Tencent's error
    /// `code` (`RequestLimitExceeded`, ...), HTTP 200 as Tencent answers.
    pub fn fail(&self, action: &str, code: &str, times: u32) {
        self.server.admin(
            "POST",
            "/_fake/faults",
            &serde_json::json!({ "action": action, "code": code, "count": times }).to_string(),
        );
    }

    /// How many injected faults on `action` fired.
    pub fn faults_fired(&self, action: &str) -> u64 {
        self.server
            .admin("GET", "/_fake/faults", "")
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|f| f["action"] == action)
                    .filter_map(|f| f["fired"].as_u64())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Sets the multiplier of the fake's delays.
    pub fn set_time_scale(&self, scale: f64) {
        let v = self.server.admin(
            "POST",
            "/_fake/config",
            &serde_json::json!({ "time_scale": scale }).to_string(),
        );
        assert_eq!(
            v["time_scale"].as_f64(),
            Some(scale),
            "the fake did not take time scale {scale}: {v}"
        );
    }

    /// The fake's settings (`time_scale`, `public_ip`, `private_ip`,
    /// `secret_ids`).
    pub fn config(&self) -> Value {
        self.server.admin("GET", "/_fake/config", "")
    }

    /// Forgets every resource, request and fault.
    pub fn reset(&self) {
        self.server.admin("POST", "/_fake/reset", "");
    }

    /// An sshd playing the instance's cloud-init: its
    /// `AuthorizedKeysCommand` asks the fake for the public keys of the key
    /// pairs bound to running instances, so a temporary key pair a build
    /// creates is what lets it in.
    pub fn sshd(&self) -> crate::sshd::Sshd {
        crate::sshd::Sshd::start_with(&format!(
            "AuthorizedKeysCommand /usr/bin/python3 {} authorized-keys {}\nAuthorizedKeysCommandUser root",
            fake_dir().join("tencentcloud_fake.py").display(),
            self.endpoint()
        ))
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
    let path = fake_dir().join("fidelity").join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read `{}`: {e}", path.display()));
    without_retried(
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty()),
    )
}
