//! The FAKE UCloud API (`fakes/ucloud/ucloud_fake.py`) for the ucloud
//! tests, as moto is for amazon-ebs: [`UcloudFake`] starts it on a free
//! loopback port, waits until it listens, and kills it when dropped (the
//! fake also exits when its stdin, a pipe the guard holds, closes, so a
//! test killed outright does not leave it running; kiln-test's
//! [`FakeServer`] does this). It exposes the
//! endpoint (`base_url`), the key pair it accepts, [`UcloudFake::resources`]
//! (everything it holds, for leak checks), [`UcloudFake::requests`] (the
//! request log), the fault hook [`UcloudFake::fail`] and the seeding of
//! custom images for paging tests.
//!
//! The fake runs on the Python of the venv scripts/install-deps.sh makes
//! (which also holds UCloud's SDKs for the fidelity scenario); a missing
//! venv is a failure, never a skip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::fake_server::FakeServer;

/// The public key the fake accepts.
pub const PUBLIC_KEY: &str = "ucloudfakepublickey";
/// The project builds run in (the fake's default).
pub const PROJECT: &str = "org-kiln";
/// The second project, for copies across projects.
pub const OTHER_PROJECT: &str = "org-copy";

/// `fakes/ucloud` in the repository.
pub fn fake_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fakes/ucloud")
}

/// The venv scripts/install-deps.sh creates (`KILN_UCLOUD_VENV`, or
/// `~/.cache/kiln/ucloud-venv`). Panics when it is missing: the ucloud
/// tests never skip.
pub fn venv() -> PathBuf {
    let v = std::env::var_os("KILN_UCLOUD_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/kiln/ucloud-venv")
        });
    assert!(
        v.join("bin/python").exists(),
        "the UCloud venv is not installed in `{}`: run scripts/install-deps.sh",
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
    /// The address EIPs get (point it at a test sshd).
    pub public_ip: String,
    /// The private address UHosts get (default `10.9.x.y`).
    pub private_ip: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            time_scale: 0.01,
            public_ip: "127.0.0.1".into(),
            private_ip: None,
        }
    }
}

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    /// `uhost`, `vpc`, `unet`, `uaccount` or `ufile`.
    pub service: String,
    /// The action (`CreateUHostInstance`; for UFile objects `PutFile`,
    /// `HeadFile`, `DeleteFile`).
    pub action: String,
    /// The request's `Region`.
    pub region: String,
    /// The request's `ProjectId`.
    pub project: String,
    /// UCloud's RetCode (0: success).
    pub code: i64,
    /// The resource ids it named or made (`UHostId`, `ImageId`, ...).
    pub ids: BTreeMap<String, String>,
    /// Its parameters (`Password` masked).
    pub params: BTreeMap<String, String>,
}

/// A running fake; killed on drop.
pub struct UcloudFake {
    server: FakeServer,
    private_key: String,
}

impl UcloudFake {
    /// The fake with [`Options::default`].
    pub fn start() -> UcloudFake {
        Self::start_with(&Options::default())
    }

    /// The fake with `opts`, once it listens.
    pub fn start_with(opts: &Options) -> UcloudFake {
        let private_key = format!("kiln-fake-private-{}", std::process::id());
        let mut args = vec![
            "--time-scale".to_string(),
            opts.time_scale.to_string(),
            "--public-ip".to_string(),
            opts.public_ip.clone(),
        ];
        if let Some(ip) = &opts.private_ip {
            args.extend(["--private-ip".to_string(), ip.clone()]);
        }
        // The key goes through the environment, never the command line.
        let server = FakeServer::start(
            "fake UCloud API",
            &python(),
            &fake_dir().join("ucloud_fake.py"),
            &args,
            &[("UCLOUD_FAKE_KEYS", format!("{PUBLIC_KEY}:{private_key}"))],
        );
        UcloudFake {
            server,
            private_key,
        }
    }

    /// `http://127.0.0.1:<port>`: every service (`base_url`); UFile objects
    /// path style below it.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.http_port())
    }

    /// The public key it accepts.
    pub fn public_key(&self) -> &str {
        PUBLIC_KEY
    }

    /// The private key of [`UcloudFake::public_key`].
    pub fn private_key(&self) -> &str {
        &self.private_key
    }

    /// What the fake wrote on stderr so far.
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// Everything it holds, by kind (`uhost`, `image`, `eip`, `vpc`,
    /// `subnet`, `firewall`, `bucket`, `object`); the base images left out.
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

    /// The actions called, oldest first (`CreateUHostInstance`, ...), with
    /// ` -> <RetCode>` for the calls that failed.
    pub fn actions(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .map(|r| match r.code {
                0 => r.action,
                c => format!("{} -> {c}", r.action),
            })
            .collect()
    }

    /// Makes the next `times` calls of `action` answer RetCode `code`.
    pub fn fail(&self, action: &str, code: i64, times: u32) {
        self.server.admin(
            "POST",
            "/_fake/fail",
            &serde_json::json!({"action": action, "code": code, "times": times}).to_string(),
        );
    }

    /// Makes `count` Available custom images named `<prefix>-NNN` in
    /// `project` and `region`; their ids.
    pub fn seed_images(
        &self,
        project: &str,
        region: &str,
        count: usize,
        prefix: &str,
    ) -> Vec<String> {
        let body = serde_json::json!({
            "project": project, "region": region, "count": count, "prefix": prefix
        });
        let v = self
            .server
            .admin("POST", "/_fake/seed_images", &body.to_string());
        v["ImageIds"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sets the multiplier of the fake's delays.
    pub fn set_time_scale(&self, scale: f64) {
        let v = self.server.admin(
            "POST",
            "/_fake/config",
            &serde_json::json!({ "time_scale": scale }).to_string(),
        );
        assert_eq!(v["time_scale"].as_f64(), Some(scale), "{v}");
    }

    /// Forgets every resource and request.
    pub fn reset(&self) {
        self.server.admin("POST", "/_fake/reset", "");
    }
}

/// The fake's `/_fake/requests` JSON as [`ApiRequest`]s.
pub fn parse_requests(v: &Value) -> Vec<ApiRequest> {
    let s = |r: &Value, k: &str| r[k].as_str().unwrap_or("").to_string();
    let map = |r: &Value| -> BTreeMap<String, String> {
        r.as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|r| ApiRequest {
                    service: s(r, "service"),
                    action: s(r, "action"),
                    region: s(r, "region"),
                    project: s(r, "project"),
                    code: r["code"].as_i64().unwrap_or(0),
                    ids: map(&r["ids"]),
                    params: map(&r["params"]),
                })
                .collect()
        })
        .unwrap_or_default()
}
