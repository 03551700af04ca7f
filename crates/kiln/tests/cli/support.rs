//! Shared helpers for the CLI tests.

use std::path::PathBuf;

pub use kiln_test::{normalize, run, Run, TestDir};

/// A fresh test directory for the kiln binary under test.
pub fn dir() -> TestDir {
    TestDir::new(env!("CARGO_BIN_EXE_kiln"))
}

/// The path of a fixture template.
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Copies a fixture into the test directory under its file name and
/// returns that name.
pub fn copy_fixture(d: &TestDir, rel: &str) -> String {
    let name = PathBuf::from(rel)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    std::fs::copy(fixture(rel), d.path().join(&name)).unwrap();
    name
}

/// Runs kiln in `d` and returns the run.
pub fn kiln(d: &TestDir, args: &[&str]) -> Run {
    run(d.kiln(args))
}

/// Every fixture file under `sub` (`valid` or `invalid`), sorted.
pub fn fixtures(sub: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixture(sub))
        .unwrap()
        .map(|e| format!("{sub}/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|n| n.ends_with(".json"))
        .collect();
    v.sort();
    v
}

/// Presses Ctrl-C on a running kiln (SIGINT to `child`), waits for it to
/// exit and returns its exit code and its stdout and stderr together.
pub fn interrupt(child: std::process::Child) -> (Option<i32>, String) {
    let status = std::process::Command::new("kill")
        .args(["-2", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -2 failed");
    let out = child.wait_with_output().expect("wait for kiln");
    let all = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), all)
}

/// Ctrl-C when each step of a build starts, one build per step: runs
/// `build(n)` for n = 1, 2, … (it returns its test directory, or whatever
/// the checks need, and its run; it must pass
/// `KILN_TEST_SIGNAL_AT_STEP=n` to kiln, whose step runner then sends
/// itself SIGINT as its n-th step starts) until a build completes before
/// reaching its n-th step. Each interrupted build must exit 1 with
/// "Cleanly cancelled builds after being interrupted."; then
/// `check("SIGINT at step n (Step…)", &dir, &run)` checks what it left. The
/// completing build is handed to `completed`. Returns the interrupted
/// steps in order, each one asserted distinct: every step was interrupted
/// once.
pub fn ctrl_c_at_every_step<D>(
    max: usize,
    mut build: impl FnMut(usize) -> (D, Run),
    mut check: impl FnMut(&str, &D, &Run),
    completed: impl FnOnce(&D, &Run),
) -> Vec<String> {
    let mut interrupted: Vec<String> = Vec::new();
    for n in 1..=max {
        let (d, r) = build(n);
        let Some(step) = r
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("kiln test hook: SIGINT at step "))
        else {
            // More steps asked for than the build has: it completed.
            completed(&d, &r);
            let distinct: std::collections::BTreeSet<&String> = interrupted.iter().collect();
            assert_eq!(distinct.len(), interrupted.len(), "{interrupted:?}");
            return interrupted;
        };
        let context = format!("SIGINT at step {n} ({step})");
        assert_eq!(r.code, 1, "{context}\n{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stdout
                .contains("Cleanly cancelled builds after being interrupted."),
            "{context}\n{}",
            r.stdout
        );
        check(&context, &d, &r);
        interrupted.push(step.to_string());
    }
    panic!("the build still had steps after {max}: {interrupted:?}");
}
