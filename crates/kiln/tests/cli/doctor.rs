//! `kiln doctor`: what it finds on this machine (CI installs QEMU and runs
//! a Docker engine), and what it says when things are missing.

use crate::support::*;

#[test]
fn doctor_finds_this_machine_s_builders() {
    let d = dir();
    let r = kiln(&d, &["doctor"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for want in [
        "ok       docker       Docker engine",
        "  qemu         qemu-system-x86_64 and qemu-img",
    ] {
        assert!(
            r.stdout.contains(want),
            "missing `{want}` in:\n{}",
            r.stdout
        );
    }
}

#[test]
fn doctor_names_the_package_for_what_is_missing() {
    let d = dir();
    let mut c = d.kiln(&["doctor"]);
    c.env("PATH", "/nonexistent")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock");
    let r = run(c);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    for want in [
        "missing  qemu         `qemu-system-x86_64` and `qemu-img` not found on PATH",
        "fix: apt-get install qemu-system-x86 qemu-utils",
        "missing  docker       the Docker engine at `unix:///nonexistent/docker.sock` does not answer",
        "fix: apt-get install xorriso",
    ] {
        assert!(r.stdout.contains(want), "missing `{want}` in:\n{}", r.stdout);
    }
}
