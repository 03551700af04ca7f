//! A FAKE cloud API server run from the repository's `fakes/` (a Python
//! script): [`FakeServer`] starts it with `--http-port 0 --https-port …
//! --port-file … --state-dir … --exit-on-stdin-eof`, waits until it has
//! written its ports, answers what every fake answers alike (its endpoints,
//! its CA, the admin calls `/_fake/…` over plain HTTP: resources, the
//! request log, config, reset, the fault hook) and kills it when dropped
//! (the fake also exits when its stdin, a pipe the guard holds, closes, so
//! a test killed outright does not leave it running). [`FakeCloud`] names
//! one fake: its folder, its script and the venv it runs on. The clouds'
//! guards (`alicloud_fake`, `huaweicloud_fake`, …) wrap a [`FakeServer`]
//! and dereference to it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// One fake of `fakes/`: where it lives, and the venv
/// scripts/install-deps.sh makes for it (which also holds the cloud's SDKs
/// for its fidelity scenario).
#[derive(Debug, Clone, Copy)]
pub struct FakeCloud {
    /// Its folder in `fakes/` (`alicloud`); the script is
    /// `<folder>_fake.py`.
    pub dir: &'static str,
    /// The variable that names its venv (`KILN_ALICLOUD_VENV`); the
    /// default is `~/.cache/kiln/<folder>-venv`.
    pub venv_var: &'static str,
    /// How messages name it (`Alibaba Cloud`).
    pub label: &'static str,
}

impl FakeCloud {
    /// `fakes/<folder>` in the repository.
    pub fn fake_dir(&self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fakes")
            .join(self.dir)
    }

    /// The fake's script.
    pub fn script(&self) -> PathBuf {
        self.fake_dir().join(format!("{}_fake.py", self.dir))
    }

    /// The venv (`$<venv_var>`, or `~/.cache/kiln/<folder>-venv`). Panics
    /// when it is missing: the fakes' tests never skip.
    pub fn venv(&self) -> PathBuf {
        let v = std::env::var_os(self.venv_var)
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var("HOME").expect("HOME"))
                    .join(format!(".cache/kiln/{}-venv", self.dir))
            });
        assert!(
            v.join("bin/python").exists(),
            "the {} venv is not installed in `{}`: run scripts/install-deps.sh",
            self.label,
            v.display()
        );
        v
    }

    /// The venv's Python.
    pub fn python(&self) -> PathBuf {
        self.venv().join("bin/python")
    }

    /// Starts the fake on the venv's Python with `args` (after the common
    /// ones) and `env` (secrets go there, never on the command line).
    pub fn start(&self, args: &[String], env: &[(&str, String)]) -> FakeServer {
        FakeServer::start(
            &format!("fake {} API", self.label),
            &self.python(),
            &self.script(),
            args,
            env,
        )
    }

    /// A recorded action sequence of packer 1.6.6, `fidelity/<name>`, `#`
    /// and blank lines left out.
    pub fn recorded_actions(&self, name: &str) -> Vec<String> {
        let path = self.fake_dir().join("fidelity").join(name);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read `{}`: {e}", path.display()))
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(String::from)
            .collect()
    }
}

/// Declares what every fake's module has: its [`FakeCloud`] as `CLOUD`,
/// the functions `fake_dir`, `venv` (panics when it is missing: the fakes'
/// tests never skip) and `python`, and its guard `$guard` (a
/// [`FakeServer`] and the secret of the key the fake accepts), which
/// dereferences to the [`FakeServer`] and `start`s with `$default` (the
/// [`Options::default`] unless given); the module adds `start_with`.
macro_rules! fake_cloud {
    ($guard:ident, $dir:literal, $venv_var:literal, $label:literal) => {
        $crate::fake_server::fake_cloud!(
            $guard,
            $dir,
            $venv_var,
            $label,
            $crate::fake_server::Options::default()
        );
    };
    ($guard:ident, $dir:literal, $venv_var:literal, $label:literal, $default:expr) => {
        #[doc = concat!("A running fake ", $label, " API; killed on drop.")]
        pub struct $guard {
            server: $crate::fake_server::FakeServer,
            secret: String,
        }

        impl std::ops::Deref for $guard {
            type Target = $crate::fake_server::FakeServer;

            fn deref(&self) -> &$crate::fake_server::FakeServer {
                &self.server
            }
        }

        impl $guard {
            /// The fake with its default options, once it listens.
            pub fn start() -> $guard {
                Self::start_with(&$default)
            }
        }

        const CLOUD: $crate::fake_server::FakeCloud = $crate::fake_server::FakeCloud {
            dir: $dir,
            venv_var: $venv_var,
            label: $label,
        };

        #[doc = concat!("`fakes/", $dir, "` in the repository.")]
        pub fn fake_dir() -> std::path::PathBuf {
            CLOUD.fake_dir()
        }

        #[doc = concat!(
                    "The venv scripts/install-deps.sh creates (`", $venv_var, "`, or\n",
                    "`~/.cache/kiln/", $dir, "-venv`). Panics when it is missing: the ", $dir,
                    "\ntests never skip."
                )]
        pub fn venv() -> std::path::PathBuf {
            CLOUD.venv()
        }

        /// The venv's Python.
        pub fn python() -> std::path::PathBuf {
            CLOUD.python()
        }
    };
}
pub(crate) use fake_cloud;

/// How to start a fake (each reads the fields it has a use for).
#[derive(Debug, Clone)]
pub struct Options {
    /// Multiplies the fake's realistic delays (0.01: a 60 s image takes
    /// 0.6 s).
    pub time_scale: f64,
    /// The public address instances and EIPs get (point it at a test
    /// sshd).
    pub public_ip: String,
    /// The private address instances get (default: the fake's own, from
    /// the subnet).
    pub private_ip: Option<String>,
    /// Also serve HTTPS (the UCloud guard's `start` turns it off: UCloud's
    /// API is plain HTTP).
    pub https: bool,
    /// Alibaba Cloud: start without the RAM role
    /// `AliyunECSImageImportDefaultRole` (`--no-import-role`).
    pub no_import_role: bool,
    /// Tencent Cloud: a security token the key then needs (`X-TC-Token`),
    /// as temporary credentials do.
    pub token: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            time_scale: 0.01,
            public_ip: "127.0.0.1".into(),
            private_ip: None,
            https: true,
            no_import_role: false,
            token: None,
        }
    }
}

impl Options {
    /// The options every fake takes after the common ones: `--https-port
    /// 0` (or `-1` without `https`), `--time-scale`, `--public-ip` and,
    /// when given, `--private-ip`.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--https-port".to_string(),
            if self.https { "0" } else { "-1" }.to_string(),
            "--time-scale".to_string(),
            self.time_scale.to_string(),
            "--public-ip".to_string(),
            self.public_ip.clone(),
        ];
        if let Some(ip) = &self.private_ip {
            args.extend(["--private-ip".to_string(), ip.clone()]);
        }
        args
    }
}

/// A running fake; killed on drop.
pub struct FakeServer {
    name: String,
    python: PathBuf,
    script: PathBuf,
    child: Child,
    _stdin: Option<ChildStdin>,
    dir: tempfile::TempDir,
    ports: Value,
}

impl FakeServer {
    /// Starts `python script args…` with `env` (secrets go there, never on
    /// the command line) once it listens; `name` names it in panics.
    pub fn start(
        name: &str,
        python: &Path,
        script: &Path,
        args: &[String],
        env: &[(&str, String)],
    ) -> FakeServer {
        let dir = tempfile::Builder::new()
            .prefix("kiln-fake-")
            .tempdir()
            .expect("create the fake's directory");
        let port_file = dir.path().join("ports.json");
        let mut c = Command::new(python);
        c.arg(script)
            .args(["--http-port", "0", "--exit-on-stdin-eof"])
            .arg("--state-dir")
            .arg(dir.path().join("tls"))
            .arg("--port-file")
            .arg(&port_file)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(dir.path().join("stderr")).expect("create the fake's log"),
            );
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c
            .spawn()
            .unwrap_or_else(|e| panic!("start the {name}: {e}"));
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
                    "the {name} exited ({status}): {}",
                    std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "the {name} did not start");
            std::thread::sleep(Duration::from_millis(50));
        };
        FakeServer {
            name: name.to_string(),
            python: python.to_path_buf(),
            script: script.to_path_buf(),
            child,
            _stdin: stdin,
            dir,
            ports,
        }
    }

    /// Its plain-HTTP port.
    pub fn http_port(&self) -> u16 {
        self.ports["http"].as_u64().expect("the fake's HTTP port") as u16
    }

    /// Its HTTPS port, when it serves HTTPS.
    pub fn https_port(&self) -> Option<u16> {
        self.ports["https"].as_u64().map(|p| p as u16)
    }

    /// `http://127.0.0.1:<port>`: every service of the fake.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port())
    }

    /// `127.0.0.1:<port>`, for SDKs that take a host and a scheme.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.http_port())
    }

    /// `https://127.0.0.1:<port>` when HTTPS is on.
    pub fn https_endpoint(&self) -> Option<String> {
        self.https_port().map(|p| format!("https://127.0.0.1:{p}"))
    }

    /// The CA certificate (PEM) that signed its HTTPS certificate, whose
    /// SANs are the cloud's endpoint host names and 127.0.0.1.
    pub fn ca_cert(&self) -> Option<PathBuf> {
        self.ports["ca"].as_str().map(PathBuf::from)
    }

    /// What the fake wrote on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// One admin request over plain HTTP; the JSON answer (panics unless
    /// 200).
    pub fn admin(&self, method: &str, path: &str, body: &str) -> Value {
        let text = http(self.http_port(), method, path, body).unwrap_or_else(|e| {
            panic!(
                "{method} `{path}` on the {}: {e}\n{}",
                self.name,
                self.log()
            )
        });
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} `{path}` on the fake: bad JSON ({e}): {text}"))
    }

    /// Everything it holds, by kind, each a list of objects (the built-in
    /// public images left out).
    pub fn resources(&self) -> Value {
        self.admin("GET", "/_fake/resources", "")
    }

    /// The rows of one kind of [`FakeServer::resources`].
    pub fn rows(&self, kind: &str) -> Vec<Value> {
        self.resources()[kind]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The request log as the fake keeps it (with each request's
    /// parameters, secrets masked), oldest first.
    pub fn request_log(&self) -> Value {
        self.admin("GET", "/_fake/requests", "")
    }

    /// The request log normalised by
    /// `fakes/alicloud/fidelity/normalize_actions.py`, as packer 1.6.6's
    /// recorded sequences are: one `service Action region` line per call
    /// (` -> Code` when it failed), polls collapsed.
    pub fn normalized_actions(&self) -> Vec<String> {
        let file = tempfile::NamedTempFile::new().expect("a temporary file for the log");
        std::fs::write(file.path(), self.request_log().to_string()).expect("write the log");
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fakes/alicloud/fidelity/normalize_actions.py");
        let out = Command::new(&self.python)
            .arg(script)
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

    /// The fake's settings (`time_scale`, `public_ip`, `private_ip`, the
    /// key ids it accepts, …).
    pub fn config(&self) -> Value {
        self.admin("GET", "/_fake/config", "")
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

    /// Forgets every resource, request and fault.
    pub fn reset(&self) {
        self.admin("POST", "/_fake/reset", "");
    }

    /// The fault hook: the next `times` calls of `action` fail as `answer`
    /// (an object of the fake's own fields: `code`, `status`, …) says.
    pub fn inject_fault(&self, action: &str, times: u32, answer: Value) {
        let mut fault = answer;
        fault["action"] = action.into();
        fault["count"] = times.into();
        self.admin("POST", "/_fake/faults", &fault.to_string());
    }

    /// How many faults injected on `action` fired.
    pub fn faults_fired(&self, action: &str) -> u64 {
        self.admin("GET", "/_fake/faults", "")
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|f| f["action"] == action)
                    .filter_map(|f| f["fired"].as_u64())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// An sshd playing the instance's cloud-init: its
    /// `AuthorizedKeysCommand` asks the fake for the public keys of the key
    /// pairs of running instances, so a temporary key pair a build creates
    /// is what lets it in.
    pub fn sshd(&self) -> crate::sshd::Sshd {
        crate::sshd::Sshd::start_with(&format!(
            "AuthorizedKeysCommand /usr/bin/python3 {} authorized-keys {}\nAuthorizedKeysCommandUser root",
            self.script.display(),
            self.endpoint()
        ))
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The entries of a fake's request log (`/_fake/requests`), each read by
/// `entry`.
pub fn log_entries<T>(log: &Value, entry: impl Fn(&Value) -> T) -> Vec<T> {
    log.as_array()
        .map(|a| a.iter().map(entry).collect())
        .unwrap_or_default()
}

/// The string `key` of a JSON object (empty when it has none).
pub fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or("").to_string()
}

/// The string fields of a JSON object, in its order (the ids and
/// parameters of a request log entry); empty for anything else.
pub fn string_fields(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// A minimal HTTP/1.1 exchange with `127.0.0.1:port`; the body when the
/// status is 200.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let raw = String::from_utf8_lossy(&raw);
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        return Err(std::io::Error::other(format!("status `{status}`: {rest}")));
    }
    Ok(rest.to_string())
}
