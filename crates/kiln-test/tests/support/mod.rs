//! What the fidelity tests of the FAKE cloud APIs (tests/*_fake.rs) do
//! alike: run a vendor SDK's scenario and check it passed, run a
//! `fidelity/packer_*.sh` script (packer 1.6.6 against the fake) and read
//! what it left in its output directory, send a raw HTTP request, and look
//! through the resources JSON a fake dumps. It holds nothing; each run's
//! output directory is a temporary directory removed on drop.

#![allow(dead_code)] // each test file uses its own part

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Runs an SDK scenario; panics with its output and the fake's log unless
/// it exited 0 and `passed` holds for its stdout, which it returns.
pub fn run_scenario(
    mut c: Command,
    passed: impl Fn(&str) -> bool,
    fake_log: impl Fn() -> String,
) -> String {
    let out = c.output().expect("run the SDK scenario");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && passed(&stdout),
        "the SDK scenario failed:\n{stdout}\n{}\nfake: {}",
        String::from_utf8_lossy(&out.stderr),
        fake_log()
    );
    stdout
}

/// What a `fidelity/packer_*.sh` run left: `packer.out`, `actions.txt`,
/// `resources.json`, `requests.json`, `fake.err`, … in its output
/// directory.
pub struct PackerRun {
    dir: tempfile::TempDir,
}

impl PackerRun {
    /// Runs `script OUTDIR args…` with `packer`; panics with its output,
    /// packer's and the fake's unless it succeeded.
    pub fn run(script: &Path, packer: &Path, args: &[&str]) -> PackerRun {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(script)
            .arg(dir.path())
            .args(args)
            .env("KILN_TEST_PACKER", packer)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
        let run = PackerRun { dir };
        assert!(
            out.status.success(),
            "the packer run failed: {}\n{}\n--- packer ---\n{}\n--- fake ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            run.read("packer.out"),
            run.read("fake.err")
        );
        run
    }

    /// A file of the output directory (empty when missing).
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// The resources the fake held at the end (`resources.json`).
    pub fn resources(&self) -> Value {
        serde_json::from_str(&self.read("resources.json")).expect("resources.json")
    }

    /// The fake's request log (`requests.json`).
    pub fn requests(&self) -> Value {
        serde_json::from_str(&self.read("requests.json")).expect("requests.json")
    }
}

/// Sends `request` (a whole HTTP/1.1 request) to `host_port`; the head and
/// body of the answer.
pub fn raw_http(host_port: &str, request: &str) -> (String, String) {
    let mut s = std::net::TcpStream::connect(host_port).expect("connect to the fake");
    s.write_all(request.as_bytes()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    (head.to_string(), body.to_string())
}

/// The kinds of a resources JSON that hold anything, but `skip`, with
/// their rows.
pub fn held(res: &Value, skip: &[&str]) -> Vec<String> {
    res.as_object()
        .expect("resources is an object")
        .iter()
        .filter(|(k, v)| !skip.contains(&k.as_str()) && !v.as_array().unwrap().is_empty())
        .map(|(k, v)| format!("{k}: {v}"))
        .collect()
}

/// The `key` of every row of `kind` in a resources JSON.
pub fn ids(res: &Value, kind: &str, key: &str) -> BTreeSet<String> {
    res[kind]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[key].as_str().unwrap().to_string())
        .collect()
}
