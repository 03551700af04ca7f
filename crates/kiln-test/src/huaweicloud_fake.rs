//! The FAKE Huawei Cloud API (`fakes/huaweicloud/huaweicloud_fake.py`) for
//! the huaweicloud tests, as moto is for amazon-ebs: [`HuaweicloudFake`]
//! starts it on free loopback ports (plain HTTP and HTTPS with a CA it
//! generates) through [`crate::fake_server::FakeServer`], and exposes the
//! endpoint, the CA, the access key and secret it accepts, the project,
//! [`HuaweicloudFake::resources`] (everything it holds, for leak checks),
//! [`HuaweicloudFake::requests`] (the request log), the fault hook
//! [`HuaweicloudFake::fail`] and an sshd that plays the server's cloud-init.
//!
//! The fake runs on the Python of the venv scripts/install-deps.sh makes
//! (which also holds Huawei's SDKs for the fidelity scenario); a missing
//! venv is a failure, never a skip.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::fake_server::FakeServer;

/// The access key id the fake accepts.
pub const ACCESS_KEY: &str = "HWFAKEKILNACCESSKEY1";
/// The project builds run in.
pub const PROJECT_ID: &str = "0b0ff3a5fa804c0e8f1d7e5b2a9c4d61";
/// The region of requests to `127.0.0.1` (the fake's default).
pub const REGION: &str = "cn-north-4";

/// `fakes/huaweicloud` in the repository.
pub fn fake_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fakes/huaweicloud")
}

/// The venv scripts/install-deps.sh creates (`KILN_HUAWEICLOUD_VENV`, or
/// `~/.cache/kiln/huaweicloud-venv`). Panics when it is missing: the
/// huaweicloud tests never skip.
pub fn venv() -> PathBuf {
    let v = std::env::var_os("KILN_HUAWEICLOUD_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/kiln/huaweicloud-venv")
        });
    assert!(
        v.join("bin/python").exists(),
        "the Huawei Cloud venv is not installed in `{}`: run scripts/install-deps.sh",
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
    /// Multiplies the fake's realistic delays (0.01: a 120 s image takes
    /// 1.2 s).
    pub time_scale: f64,
    /// The address EIPs get (point it at a test sshd).
    pub public_ip: String,
    /// The private address servers get (default: from their subnet).
    pub private_ip: Option<String>,
    /// Also serve HTTPS.
    pub https: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            time_scale: 0.01,
            public_ip: "127.0.0.1".into(),
            private_ip: None,
            https: true,
        }
    }
}

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    /// `ecs`, `ims`, `vpc` or `eip`.
    pub service: String,
    /// The operation, named as Huawei's SDKs name it
    /// (`CreatePostPaidServers`).
    pub action: String,
    /// HTTP status of the answer.
    pub status: u16,
    /// Huawei's error code when it failed.
    pub code: Option<String>,
    /// The id the call named (its last path argument) or made (`job_id`,
    /// `id`).
    pub ids: Vec<(String, String)>,
}

/// A running fake; killed on drop.
pub struct HuaweicloudFake {
    server: FakeServer,
    secret: String,
}

impl HuaweicloudFake {
    /// The fake with [`Options::default`].
    pub fn start() -> HuaweicloudFake {
        Self::start_with(&Options::default())
    }

    /// The fake with `opts`, once it listens.
    pub fn start_with(opts: &Options) -> HuaweicloudFake {
        let secret = format!("kiln-hw-fake-secret-{}", std::process::id());
        let mut args = vec![
            "--https-port".to_string(),
            if opts.https { "0" } else { "-1" }.to_string(),
            "--time-scale".into(),
            opts.time_scale.to_string(),
            "--public-ip".into(),
            opts.public_ip.clone(),
            "--region".into(),
            REGION.into(),
            "--project-id".into(),
            PROJECT_ID.into(),
        ];
        if let Some(ip) = &opts.private_ip {
            args.extend(["--private-ip".to_string(), ip.clone()]);
        }
        let server = FakeServer::start(
            "fake Huawei Cloud API",
            &python(),
            &fake_dir().join("huaweicloud_fake.py"),
            &args,
            &[("HUAWEICLOUD_FAKE_KEYS", format!("{ACCESS_KEY}:{secret}"))],
        );
        HuaweicloudFake { server, secret }
    }

    /// `http://127.0.0.1:<port>`: every service (ECS, IMS, VPC and EIP
    /// paths do not overlap).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.http_port())
    }

    /// `https://127.0.0.1:<port>` when HTTPS is on.
    pub fn https_endpoint(&self) -> Option<String> {
        self.server
            .https_port()
            .map(|p| format!("https://127.0.0.1:{p}"))
    }

    /// The CA certificate (PEM) that signed the HTTPS certificate.
    pub fn ca_cert(&self) -> Option<PathBuf> {
        self.server.ca_cert()
    }

    /// The access key id it accepts.
    pub fn access_key(&self) -> &str {
        ACCESS_KEY
    }

    /// The secret of [`HuaweicloudFake::access_key`].
    pub fn secret_key(&self) -> &str {
        &self.secret
    }

    /// What the fake wrote on stderr so far.
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// Everything it holds, by kind (`server`, `image`, `vpc`, `subnet`,
    /// `security_group`, `security_group_rule`, `keypair`, `eip`), each a
    /// list of objects with `region` and `tags`; public images and jobs
    /// are left out.
    pub fn resources(&self) -> Value {
        self.server.admin("GET", "/_fake/resources", "")
    }

    /// The rows of `kind` it holds.
    pub fn rows(&self, kind: &str) -> Vec<Value> {
        self.resources()[kind]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<ApiRequest> {
        parse_requests(&self.server.admin("GET", "/_fake/requests", ""))
    }

    /// The operations it answered, oldest first (`Op` or `Op -> Code`).
    pub fn actions(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .map(|r| match r.code {
                Some(c) => format!("{} -> {c}", r.action),
                None => r.action,
            })
            .collect()
    }

    /// The next `times` calls of `action` fail with `status` and `code`
    /// (the gateway's body for `APIGW.*` codes, the service's otherwise).
    pub fn fail(&self, action: &str, status: u16, code: &str, times: u32) {
        self.server.admin(
            "POST",
            "/_fake/faults",
            &serde_json::json!({"action": action, "status": status, "code": code, "count": times})
                .to_string(),
        );
    }

    /// How often injected faults fired, by operation.
    pub fn faults_fired(&self, action: &str) -> u64 {
        self.server
            .admin("GET", "/_fake/faults", "")
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|f| f["action"] == action)
                    .map(|f| f["fired"].as_u64().unwrap_or(0))
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
        assert_eq!(v["time_scale"].as_f64(), Some(scale), "time scale: {v}");
    }

    /// Forgets every resource, request and fault.
    pub fn reset(&self) {
        self.server.admin("POST", "/_fake/reset", "");
    }

    /// An sshd playing the server's cloud-init: its
    /// `AuthorizedKeysCommand` asks the fake for the public keys of the key
    /// pairs of ACTIVE servers, so the temporary key pair a build creates
    /// is what lets it in.
    pub fn sshd(&self) -> crate::sshd::Sshd {
        crate::sshd::Sshd::start_with(&format!(
            "AuthorizedKeysCommand /usr/bin/python3 {} authorized-keys {}\nAuthorizedKeysCommandUser root",
            fake_dir().join("huaweicloud_fake.py").display(),
            self.endpoint()
        ))
    }
}

/// The fake's `/_fake/requests` JSON as [`ApiRequest`]s.
pub fn parse_requests(v: &Value) -> Vec<ApiRequest> {
    let s = |r: &Value, k: &str| r[k].as_str().unwrap_or("").to_string();
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|r| ApiRequest {
                    service: s(r, "service"),
                    action: s(r, "action"),
                    status: r["status"].as_u64().unwrap_or(0) as u16,
                    code: r["code"].as_str().map(String::from),
                    ids: r["ids"]
                        .as_object()
                        .map(|o| {
                            o.iter()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}
