//! A FAKE cloud API server run from the repository's `fakes/` (a Python
//! script): [`FakeServer`] starts it with `--http-port 0 --https-port 0
//! --port-file … --state-dir … --exit-on-stdin-eof`, waits until it has
//! written its ports, answers admin calls (`/_fake/…`) over plain HTTP, and
//! kills it when dropped (the fake also exits when its stdin, a pipe the
//! guard holds, closes, so a test killed outright does not leave it
//! running). The clouds' guards (`huaweicloud_fake`, …) wrap it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running fake; killed on drop.
pub struct FakeServer {
    name: String,
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

    /// The CA certificate (PEM) of its HTTPS certificate.
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
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
