//! Ctrl-C: every build is cancelled, cleanup runs, nothing kiln started is
//! left running, and the exit code is 1 with Packer's message.

use std::process::Stdio;
use std::time::{Duration, Instant};

use kiln_test::procs::processes_matching;

use crate::support::*;

#[test]
fn sigint_cancels_every_build_and_leaves_nothing_running() {
    let d = dir();
    let marker = format!("{}.123", std::process::id() % 1000 + 7000);
    let t = d.write(
        "slow.json",
        &format!(
            r#"{{"builders": [{{"type": "null", "name": "a", "communicator": "none"}},
                             {{"type": "null", "name": "b", "communicator": "none"}},
                             {{"type": "file", "name": "c", "content": "x", "target": "c.txt"}}],
                "provisioners": [{{"type": "shell-local", "inline": ["echo started", "sleep {marker}"]}}]}}"#
        ),
    );
    let mut c = d.kiln(&["build", "-color=false", t.to_str().unwrap()]);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let pid = child.id() as i32;
    let started = Instant::now();
    while processes_matching(&format!("sleep {marker}")).len() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the builds never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    nix_kill(pid, 2);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Cleanly cancelled builds after being interrupted."),
        "{stdout}"
    );
    assert!(stderr.contains("Interrupt received"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "cancellation must be prompt"
    );
    assert!(
        processes_matching(&format!("sleep {marker}")).is_empty(),
        "a provisioner process survived Ctrl-C"
    );
    assert!(
        !d.path().join("c.txt").exists(),
        "the failed file build must not leave its target behind"
    );
}

fn nix_kill(pid: i32, sig: i32) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_cancelled_provisioner_gets_to_run_its_own_cleanup() {
    let d = dir();
    let t = d.write(
        "trap.json",
        r#"{"builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [{"type": "shell-local", "inline": [
              "trap 'sleep 0.5; echo cleaned > trap-ran; exit 1' TERM",
              "touch started",
              "while true; do sleep 0.1; done"
            ]}]}"#,
    );
    let mut c = d.kiln(&["build", "-color=false", t.to_str().unwrap()]);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let started = Instant::now();
    while !d.path().join("started").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the script never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    nix_kill(child.id() as i32, 15);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        d.path().join("trap-ran").exists(),
        "the script's TERM handler must be allowed to finish"
    );
}
