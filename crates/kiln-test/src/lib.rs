//! Test support for kiln's integration tests.
//!
//! [`TestDir`] is a temporary working directory with helpers to write
//! fixtures and run the `kiln` binary (or Debian's `packer`, for the
//! compatibility suite) inside it. [`normalize`] replaces what changes
//! from run to run (durations, timestamps, temp paths, uuids) with stable
//! placeholders so outputs can be snapshotted and compared.
//! [`fault_proxy`] puts a fault-injecting HTTP proxy between kiln and a
//! cloud endpoint. [`sshd`] runs a private OpenSSH server on loopback for
//! the SSH tests; [`http`] a one-shot HTTP server; [`comm`] runs commands
//! through a communicator and collects their output; [`live_ui`] records
//! what a component shows on the UI, activity and progress included;
//! [`procs`] finds and kills processes. [`prepare_cx`],
//! [`build_cx`] and [`data_source_cx`] are the contexts component tests
//! prepare with; [`provision_locally`] runs a provisioner without a
//! machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub mod alicloud_fake;
pub mod comm;
mod components;
pub mod events;
pub mod fake_server;
pub mod fault_proxy;
pub mod http;
pub mod huaweicloud_fake;
pub mod live_ui;
pub mod moto;
pub mod openstack;
pub mod procs;
pub mod secrets;
pub mod sshd;
pub mod tencentcloud_fake;
pub mod ucloud_fake;

pub use components::{build_cx, data_source_cx, prepare_cx, provision_locally};

/// A temporary working directory for one test.
pub struct TestDir {
    dir: tempfile::TempDir,
    kiln: PathBuf,
}

/// What a command did.
#[derive(Debug, Clone)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Exit code, stdout and stderr, normalised, in one string for a
    /// snapshot.
    pub fn snapshot(&self, dir: &Path) -> String {
        format!(
            "exit code: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            self.code,
            normalize(&self.stdout, dir),
            normalize(&self.stderr, dir)
        )
    }
}

impl TestDir {
    /// A new directory; `kiln` is the binary under test
    /// (`env!("CARGO_BIN_EXE_kiln")`).
    pub fn new(kiln: &str) -> TestDir {
        TestDir {
            dir: tempfile::Builder::new()
                .prefix("kiln-test-")
                .tempdir()
                .expect("create a temp dir"),
            kiln: PathBuf::from(kiln),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating parent directories) and returns its path.
    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create fixture directory");
        }
        std::fs::write(&p, content).expect("write fixture");
        p
    }

    /// Reads a file of the directory.
    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name))
            .unwrap_or_else(|e| panic!("read {name}: {e}"))
    }

    /// A `kiln` command running in the directory with a quiet, stable
    /// environment.
    pub fn kiln(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.kiln);
        c.args(args).current_dir(self.dir.path());
        quiet_env(&mut c);
        c
    }

    /// A `packer` command (Debian's 1.6.6) in the directory, or `None` when
    /// packer is not installed.
    pub fn packer(&self, args: &[&str]) -> Option<Command> {
        let packer = packer_path()?;
        let mut c = Command::new(packer);
        c.args(args).current_dir(self.dir.path());
        quiet_env(&mut c);
        Some(c)
    }
}

fn quiet_env(c: &mut Command) {
    c.env("CHECKPOINT_DISABLE", "1")
        .env("KILN_NO_LIVE", "1")
        .env_remove("PACKER_RUN_UUID")
        .env_remove("PACKER_LOG")
        .env(
            "PACKER_CACHE_DIR",
            std::env::temp_dir().join("kiln-test-packer-cache"),
        )
        .stdin(Stdio::null());
}

/// Where Debian's packer is, if installed.
pub fn packer_path() -> Option<PathBuf> {
    let p = PathBuf::from(
        std::env::var_os("KILN_TEST_PACKER").unwrap_or_else(|| "/usr/bin/packer".into()),
    );
    p.exists().then_some(p)
}

/// True when a missing packer must fail the tests that compare with it
/// rather than let them skip: `KILN_REQUIRE_PACKER` is set to anything but
/// `0` (scripts/test.sh sets it), or `CI` is `true` or `1`. CI installs
/// packer, so a skip there would hide a broken install.
pub fn packer_required() -> bool {
    required_by(|name| std::env::var(name).ok())
}

/// [`packer_required`] over an environment lookup.
fn required_by(env: impl Fn(&str) -> Option<String>) -> bool {
    let require = env("KILN_REQUIRE_PACKER").is_some_and(|v| !v.is_empty() && v != "0");
    let ci =
        env("CI").is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"));
    require || ci
}

/// Debian's packer, for a comparison a developer machine without it may
/// skip (saying so on stderr). Panics instead when [`packer_required`].
pub fn packer_or_skip(what: &str) -> Option<PathBuf> {
    match packer_path() {
        Some(p) => Some(p),
        None if packer_required() => panic!(
            "Debian's packer 1.6.6 is required for {what} (KILN_REQUIRE_PACKER or CI is set) but is not installed: run ./scripts/install-deps.sh"
        ),
        None => {
            eprintln!("packer is not installed: skipping {what}");
            None
        }
    }
}

/// Debian's packer for the compatibility suite, which never skips: panics
/// when it is missing.
pub fn require_packer() -> PathBuf {
    match packer_path() {
        Some(p) => p,
        None => panic!("Debian's packer 1.6.6 is required for the compatibility suite: run ./scripts/install-deps.sh"),
    }
}

/// Runs a command to completion. A run that asked for `-events=json` has
/// every line of its output checked against the events schema.
pub fn run(mut c: Command) -> Run {
    let started = std::time::SystemTime::now();
    let out = c.output().unwrap_or_else(|e| panic!("run {c:?}: {e}"));
    finish(&c, out, started)
}

/// Like [`run`], with `input` written to the command's stdin (which is
/// then closed): answers to prompts and pauses, or lines for `console`.
pub fn run_with_input(mut c: Command, input: &[u8]) -> Run {
    use std::io::Write;
    let started = std::time::SystemTime::now();
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap_or_else(|e| panic!("run {c:?}: {e}"));
    // A command that exits without reading its input closes the pipe:
    // what it printed still tells the test what happened.
    let _ = child.stdin.take().expect("piped stdin").write_all(input);
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for {c:?}: {e}"));
    finish(&c, out, started)
}

/// The [`Run`] of `c` that ended with `out`; checks its events when it
/// asked for `-events=json`, and that no sensitive value leaked
/// ([`secrets::check_run`]).
fn finish(c: &Command, out: std::process::Output, started: std::time::SystemTime) -> Run {
    let r = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    if asks_for_json_events(c) {
        events::check(&r.stdout);
    }
    secrets::check_run(c, &r.stdout, &r.stderr, started);
    r
}

/// True when `c`'s arguments include `-events=json` (any spelling).
pub fn asks_for_json_events(c: &Command) -> bool {
    let args: Vec<String> = c
        .get_args()
        .map(|a| a.to_string_lossy().trim_start_matches('-').to_string())
        .collect();
    args.iter().enumerate().any(|(i, a)| {
        a == "events=json" || (a == "events" && args.get(i + 1).is_some_and(|v| v == "json"))
    })
}

/// Replaces what varies between runs with placeholders:
/// durations (`16 milliseconds 531 microseconds` → `[DURATION]`), unix
/// timestamps at the start of machine-readable lines (`[TS]`), RFC 3339
/// times (`[TIME]`), temp script paths (`[SCRIPT]`), uuids (`[UUID]`) and
/// the test directory (`[DIR]`).
pub fn normalize(text: &str, dir: &Path) -> String {
    let mut s = text.to_string();
    if let Ok(canon) = std::fs::canonicalize(dir) {
        s = s.replace(&*canon.to_string_lossy(), "[DIR]");
    }
    s = s.replace(&*dir.to_string_lossy(), "[DIR]");
    let lines: Vec<String> = s
        .lines()
        .map(|l| {
            let l = replace_durations(l);
            let l = replace_leading_ts(&l);
            let l = replace_pattern(&l, is_uuid_at, 36, "[UUID]");
            let l = replace_pattern(&l, is_rfc3339_at, 20, "[TIME]");
            replace_script_paths(&l)
        })
        .collect();
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    out
}

fn replace_durations(s: &str) -> String {
    const UNITS: &[&str] = &[
        "week",
        "day",
        "hour",
        "minute",
        "second",
        "millisecond",
        "microsecond",
    ];
    let words: Vec<&str> = s.split(' ').collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let is_pair = |j: usize| {
            j + 1 < words.len()
                && words[j].chars().all(|c| c.is_ascii_digit())
                && !words[j].is_empty()
                && UNITS.iter().any(|u| {
                    let w = words[j + 1].trim_end_matches(['.', ':', ',']);
                    w == *u
                        || w == format!("{u}s")
                        || w.trim_end_matches(|c: char| !c.is_alphabetic()) == format!("{u}s")
                })
        };
        if is_pair(i) {
            let mut j = i;
            let mut last = String::new();
            while is_pair(j) {
                last = words[j + 1].to_string();
                j += 2;
            }
            let tail: String = last.chars().skip_while(|c| c.is_alphabetic()).collect();
            out.push(format!("[DURATION]{tail}"));
            i = j;
        } else {
            out.push(words[i].to_string());
            i += 1;
        }
    }
    out.join(" ")
}

fn replace_leading_ts(l: &str) -> String {
    match l.split_once(',') {
        Some((ts, rest)) if ts.len() >= 9 && ts.chars().all(|c| c.is_ascii_digit()) => {
            format!("[TS],{rest}")
        }
        _ => l.to_string(),
    }
}

fn is_uuid_at(b: &[u8]) -> bool {
    b.len() >= 36
        && b[..36].iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_rfc3339_at(b: &[u8]) -> bool {
    let pat = b"dddd-dd-ddTdd:dd:ddZ";
    b.len() >= pat.len()
        && pat.iter().zip(b).all(|(p, c)| match p {
            b'd' => c.is_ascii_digit(),
            _ => p == c,
        })
}

fn replace_pattern(l: &str, at: fn(&[u8]) -> bool, len: usize, with: &str) -> String {
    let b = l.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if l.is_char_boundary(i) && at(&b[i..]) {
            out.push_str(with);
            i += len;
        } else {
            let ch = l[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8().max(1);
        }
    }
    out
}

fn replace_script_paths(l: &str) -> String {
    let mut out = l.to_string();
    for prefix in ["/tmp/packer-shell", "/tmp/kiln-shell"] {
        while let Some(i) = out.find(prefix) {
            let rest = &out[i + prefix.len()..];
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '`' || c == ',' || c == ':')
                .unwrap_or(rest.len());
            out = format!("{}[SCRIPT]{}", &out[..i], &rest[end..]);
        }
    }
    out
}

/// Parses a manifest file and strips what varies (times, uuids), for
/// comparing kiln's manifest with packer's.
pub fn normalized_manifest(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read manifest {}: {e}", path.display()));
    let mut v: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("manifest {} is not JSON: {e}", path.display()));
    if let Some(builds) = v.get_mut("builds").and_then(|b| b.as_array_mut()) {
        for b in builds.iter_mut() {
            if let Some(o) = b.as_object_mut() {
                o.insert("build_time".into(), serde_json::json!(0));
                o.insert("packer_run_uuid".into(), serde_json::json!("[UUID]"));
            }
        }
        builds.sort_by_key(|b| b["name"].as_str().unwrap_or("").to_string());
    }
    if let Some(o) = v.as_object_mut() {
        o.insert("last_run_uuid".into(), serde_json::json!("[UUID]"));
    }
    v
}

/// A venv that `scripts/install-deps.sh` makes from PyPI: `$ENV_VAR` when
/// set, else `~/.cache/kiln/NAME`. Panics (the test fails, never skips)
/// when any of `programs` (relative to the venv, `bin/python`) is missing,
/// saying what the venv holds (`what`) and how to make it.
pub fn venv(env_var: &str, name: &str, programs: &[&str], what: &str) -> PathBuf {
    let v = std::env::var_os(env_var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/kiln")
                .join(name)
        });
    for p in programs {
        assert!(
            v.join(p).is_file(),
            "the venv `{}` has no `{p}` ({what}): run scripts/install-deps.sh or set {env_var}",
            v.display()
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_what_varies() {
        let dir = Path::new("/nonexistent/dir");
        let text = "Build 'a' finished after 16 milliseconds 531 microseconds.\n1795384151,,ui,say,==> a: Running local shell script: /tmp/packer-shell1424766891\nid 518d58bf-db7b-ac6c-2ac6-7c3b705c7721 at 2026-11-22T21:53:07Z in /nonexistent/dir/x\n";
        assert_eq!(
            normalize(text, dir),
            "Build 'a' finished after [DURATION].\n[TS],,ui,say,==> a: Running local shell script: [SCRIPT]\nid [UUID] at [TIME] in [DIR]/x\n"
        );
        assert_eq!(
            normalize("after 1 second 2 milliseconds", dir),
            "after [DURATION]"
        );
    }

    #[test]
    fn packer_is_required_under_the_test_script_and_in_ci() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(!required_by(env(&[])));
        assert!(required_by(env(&[("KILN_REQUIRE_PACKER", "1")])));
        assert!(!required_by(env(&[("KILN_REQUIRE_PACKER", "0")])));
        assert!(required_by(env(&[("CI", "true")])));
        assert!(required_by(env(&[("CI", "1")])));
        assert!(!required_by(env(&[("CI", "false")])));
    }
}
