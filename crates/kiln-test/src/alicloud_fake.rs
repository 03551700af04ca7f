//! The FAKE Alibaba Cloud API (`fakes/alicloud/alicloud_fake.py`) for the
//! alicloud tests, as moto is for amazon-ebs: [`AlicloudFake`] starts it on
//! free loopback ports (plain HTTP and HTTPS with a CA it generates), waits
//! until it listens, and kills it when dropped (the fake also exits when
//! its stdin, a pipe the guard holds, closes, so a test killed outright
//! does not leave it running). It exposes the endpoints, the CA
//! certificate, the access key it accepts, [`AlicloudFake::resources`]
//! (everything it holds, for leak checks), [`AlicloudFake::requests`] (the
//! request log) and the time scale of its delays.
//!
//! The fake runs on the Python of the venv scripts/install-deps.sh makes
//! (which also holds Alibaba's SDKs for the fidelity scenario); a missing
//! venv is a failure, never a skip.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The access key id the fake accepts.
pub const ACCESS_KEY: &str = "LTAIfakeaccesskey";

/// `fakes/alicloud` in the repository.
pub fn fake_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fakes/alicloud")
}

/// The venv scripts/install-deps.sh creates (`KILN_ALICLOUD_VENV`, or
/// `~/.cache/kiln/alicloud-venv`). Panics when it is missing: the alicloud
/// tests never skip.
pub fn venv() -> PathBuf {
    let v = std::env::var_os("KILN_ALICLOUD_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/kiln/alicloud-venv")
        });
    assert!(
        v.join("bin/python").exists(),
        "the Alibaba Cloud venv is not installed in `{}`: run scripts/install-deps.sh",
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
    /// The address EIPs and public IPs get (point it at a test sshd).
    pub public_ip: String,
    /// The private address instances get (default `172.16.0.x`).
    pub private_ip: Option<String>,
    /// Also serve HTTPS.
    pub https: bool,
    /// Start without the RAM role `AliyunECSImageImportDefaultRole`
    /// (`--no-import-role`).
    pub no_import_role: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            time_scale: 0.01,
            public_ip: "127.0.0.1".into(),
            private_ip: None,
            https: true,
            no_import_role: false,
        }
    }
}

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    /// `ecs`, `vpc`, `oss`, `ram`, `sts` or `location`.
    pub service: String,
    /// The action (`CreateInstance`; for OSS `PutObject`, ...).
    pub action: String,
    /// The request's region (for Location: the region asked about).
    pub region: String,
    /// HTTP status of the answer.
    pub status: u16,
    /// Alibaba's error code when it failed.
    pub code: Option<String>,
    /// The resource ids it named or made (`InstanceId`, `ImageId`, ...).
    pub ids: BTreeMap<String, String>,
    /// `v1`, `acs3` or `oss`.
    pub signature: String,
    /// The Host header.
    pub host: String,
}

/// A running fake; killed on drop.
pub struct AlicloudFake {
    child: Child,
    _stdin: Option<ChildStdin>,
    dir: tempfile::TempDir,
    http_port: u16,
    https_port: Option<u16>,
    ca: Option<PathBuf>,
    secret: String,
}

impl AlicloudFake {
    /// The fake with [`Options::default`].
    pub fn start() -> AlicloudFake {
        Self::start_with(&Options::default())
    }

    /// The fake with `opts`, once it listens.
    pub fn start_with(opts: &Options) -> AlicloudFake {
        let py = python();
        let dir = tempfile::Builder::new()
            .prefix("kiln-alicloud-fake-")
            .tempdir()
            .expect("create the fake's directory");
        let secret = format!("kiln-fake-secret-{}", std::process::id());
        let port_file = dir.path().join("ports.json");
        let mut c = Command::new(py);
        c.arg(fake_dir().join("alicloud_fake.py"))
            .args(["--http-port", "0", "--exit-on-stdin-eof"])
            .args(["--https-port", if opts.https { "0" } else { "-1" }])
            .arg("--state-dir")
            .arg(dir.path().join("tls"))
            .arg("--port-file")
            .arg(&port_file)
            .args(["--time-scale", &opts.time_scale.to_string()])
            .args(["--public-ip", &opts.public_ip]);
        if let Some(ip) = &opts.private_ip {
            c.args(["--private-ip", ip]);
        }
        if opts.no_import_role {
            c.arg("--no-import-role");
        }
        // The key goes through the environment, never the command line.
        c.env("ALICLOUD_FAKE_KEYS", format!("{ACCESS_KEY}:{secret}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(dir.path().join("stderr")).expect("create the fake's log"),
            );
        let mut child = c.spawn().expect("start the fake Alibaba Cloud API");
        let stdin = child.stdin.take();
        let deadline = Instant::now() + Duration::from_secs(60);
        let ports: Value = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                if let Ok(v) = serde_json::from_str(&text) {
                    break v;
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the fake Alibaba Cloud API exited ({status}): {}",
                    std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the fake Alibaba Cloud API did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let port = |k: &str| ports[k].as_u64().map(|p| p as u16);
        AlicloudFake {
            http_port: port("http").expect("the fake's HTTP port"),
            https_port: port("https"),
            ca: ports["ca"].as_str().map(PathBuf::from),
            child,
            _stdin: stdin,
            dir,
            secret,
        }
    }

    /// `http://127.0.0.1:<port>`: every service (the Host header or the
    /// `Version` picks ECS, VPC, RAM; OSS is path-style there).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// `127.0.0.1:<port>`, for SDKs that take a host and a scheme.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.http_port)
    }

    /// `https://127.0.0.1:<port>` when HTTPS is on.
    pub fn https_endpoint(&self) -> Option<String> {
        self.https_port.map(|p| format!("https://127.0.0.1:{p}"))
    }

    /// The CA certificate (PEM) that signed the HTTPS certificate, whose
    /// SANs are Alibaba's endpoint host names and 127.0.0.1.
    pub fn ca_cert(&self) -> Option<&Path> {
        self.ca.as_deref()
    }

    /// The access key id it accepts.
    pub fn access_key(&self) -> &str {
        ACCESS_KEY
    }

    /// The secret of [`AlicloudFake::access_key`].
    pub fn secret_key(&self) -> &str {
        &self.secret
    }

    /// What the fake wrote on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// Everything it holds, by kind (`instance`, `image`, `snapshot`,
    /// `vpc`, `vswitch`, `security_group`, `key_pair`, `eip`, `bucket`,
    /// `object`, `multipart`, `role`, `task`, `disk`), each a list of
    /// objects with `RegionId` and state; the built-in public images are
    /// left out.
    pub fn resources(&self) -> Value {
        self.admin("GET", "/_fake/resources", "")
    }

    /// Ids of every resource of `kind` it holds.
    pub fn ids(&self, kind: &str) -> Vec<String> {
        let key = match kind {
            "instance" => "InstanceId",
            "image" => "ImageId",
            "snapshot" => "SnapshotId",
            "vpc" => "VpcId",
            "vswitch" => "VSwitchId",
            "security_group" => "SecurityGroupId",
            "key_pair" => "KeyPairName",
            "eip" => "AllocationId",
            "disk" => "DiskId",
            "bucket" => "Name",
            "role" => "RoleName",
            "task" => "TaskId",
            _ => "Key",
        };
        self.resources()[kind]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r[key].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The request log as the fake keeps it (with each request's
    /// parameters, secrets masked), oldest first.
    pub fn request_log(&self) -> Value {
        self.admin("GET", "/_fake/requests", "")
    }

    /// The request log normalised by `fidelity/normalize_actions.py`, as
    /// packer 1.6.6's recorded sequences are: one `service Action region`
    /// line per call (` -> Code` when it failed), polls collapsed.
    pub fn normalized_actions(&self) -> Vec<String> {
        let file = tempfile::NamedTempFile::new().expect("a temporary file for the log");
        std::fs::write(file.path(), self.request_log().to_string()).expect("write the log");
        let out = Command::new(python())
            .arg(fake_dir().join("fidelity/normalize_actions.py"))
            .arg(file.path())
            .output()
            .expect("run normalize_actions.py");
        assert!(
            out.status.success(),
            "normalize_actions.py failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<ApiRequest> {
        parse_requests(&self.admin("GET", "/_fake/requests", ""))
    }

    /// Sets the multiplier of the fake's delays.
    pub fn set_time_scale(&self, scale: f64) {
        let v = self.admin(
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

    /// The fake's settings (`time_scale`, `public_ip`, `private_ip`).
    pub fn config(&self) -> Value {
        self.admin("GET", "/_fake/config", "")
    }

    /// Forgets every resource and request.
    pub fn reset(&self) {
        self.admin("POST", "/_fake/reset", "");
    }

    /// An sshd playing the instance's cloud-init: its
    /// `AuthorizedKeysCommand` asks the fake for the public keys of the
    /// key pairs attached to running instances, so a temporary key pair a
    /// build creates is what lets it in.
    pub fn sshd(&self) -> crate::sshd::Sshd {
        crate::sshd::Sshd::start_with(&format!(
            "AuthorizedKeysCommand /usr/bin/python3 {} authorized-keys {}\nAuthorizedKeysCommandUser root",
            fake_dir().join("alicloud_fake.py").display(),
            self.endpoint()
        ))
    }

    /// One admin request over plain HTTP; the JSON answer.
    fn admin(&self, method: &str, path: &str, body: &str) -> Value {
        let text = http(self.http_port, method, path, body)
            .unwrap_or_else(|e| panic!("{method} `{path}` on the fake: {e}\n{}", self.log()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} `{path}` on the fake: bad JSON ({e}): {text}"))
    }
}

impl Drop for AlicloudFake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 exchange with `127.0.0.1:port`; the body when the
/// status is 200.
fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(std::io::Error::other(format!("status `{status}`: {rest}")));
    }
    Ok(rest.to_string())
}

/// A recorded action sequence of packer 1.6.6, `fidelity/<name>` (as
/// [`AlicloudFake::normalized_actions`] gives them; `#` lines left out).
pub fn recorded_actions(name: &str) -> Vec<String> {
    let path = fake_dir().join("fidelity").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read `{}`: {e}", path.display()))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(String::from)
        .collect()
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
                    region: s(r, "region"),
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
                    signature: s(r, "signature"),
                    host: s(r, "host"),
                })
                .collect()
        })
        .unwrap_or_default()
}
