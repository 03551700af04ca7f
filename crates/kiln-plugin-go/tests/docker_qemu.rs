//! Packer's docker and qemu builders through the bridge. docker: packer's
//! builder with kiln's shell provisioner over packer's docker communicator,
//! and kiln's docker builder with packer's shell provisioner over kiln's
//! docker communicator, on a busybox base image made with `docker import`
//! (kiln-docker-test). qemu: a full boot under TCG costs minutes, so these
//! tests check that the plugin prepares, reports its config errors, and
//! fails a run clearly (a missing ISO) with its cleanup done.

mod common;

use common::*;
use serde_json::json;

#[test]
fn packers_docker_builder_runs_kilns_shell_provisioner() {
    let _lock = kiln_docker_test::shared();
    let image = kiln_docker_test::base_image();
    let d = tempfile::tempdir().unwrap();
    let before = kiln_docker_test::docker_ok(&["ps", "-aq"]);
    let out = build(
        d.path(),
        &json!({
            "builders": [{"type": "go-docker", "image": image, "pull": false, "discard": true,
                          "run_command": ["-d", "-i", "-t", "--entrypoint=/bin/sh", "--", "{{.Image}}"]}],
            "provisioners": [{"type": "shell", "inline": ["echo hello-from-kiln-in-$(cat /etc/hostname | cut -c1-3)-container", "uname -s"]}]
        }),
    );
    assert_eq!(out.summary.exit_code(), 0, "{}", out.text());
    let text = out.text();
    assert!(text.contains("go-docker: hello-from-kiln-in-"), "{text}");
    assert!(text.contains("go-docker: Linux"), "{text}");
    // packer's own cleanup removed its container.
    assert_eq!(kiln_docker_test::docker_ok(&["ps", "-aq"]), before);
}

#[test]
fn kilns_docker_builder_runs_packers_shell_provisioner() {
    let _lock = kiln_docker_test::shared();
    let image = kiln_docker_test::base_image();
    let d = tempfile::tempdir().unwrap();
    let out = build(
        d.path(),
        &json!({
            "builders": [{"type": "docker", "image": image, "pull": false, "discard": true}],
            "provisioners": [{"type": "go-shell", "inline": ["echo go-shell-in-docker > /tmp/x", "cat /tmp/x"]}]
        }),
    );
    assert_eq!(out.summary.exit_code(), 0, "{}", out.text());
    assert!(
        out.text().contains("docker: go-shell-in-docker"),
        "{}",
        out.text()
    );
}

#[test]
fn packers_qemu_builder_prepares_and_reports_config_errors() {
    let d = tempfile::tempdir().unwrap();
    let err = prepare(
        &registry(),
        d.path(),
        &json!({"builders": [{"type": "go-qemu", "disk_size": "nonsense"}]}),
    )
    .err()
    .expect("config errors");
    assert!(err.contains("builder `go-qemu`"), "{err}");
    assert!(err.contains("iso_url") || err.contains("iso_urls"), "{err}");
    // A valid config prepares.
    prepare(
        &registry(),
        d.path(),
        &json!({"builders": [{"type": "go-qemu", "iso_url": "file:///nonexistent/x.iso", "iso_checksum": "none",
                              "communicator": "none", "output_directory": d.path().join("out").display().to_string()}]}),
    )
    .unwrap();
}

#[test]
fn packers_qemu_builder_fails_clearly_and_cleans_up() {
    let d = tempfile::tempdir().unwrap();
    // Packer's download step makes its cache (`./packer_cache` by
    // default, here the crate directory): the plugin inherits this
    // process's environment, so point it into the temp dir. Only this
    // test runs a qemu build.
    let cache = d.path().join("packer_cache");
    std::env::set_var("PACKER_CACHE_DIR", &cache);
    let out_dir = d.path().join("out");
    let out = build(
        d.path(),
        &json!({"builders": [{"type": "go-qemu", "iso_url": format!("file://{}/missing.iso", d.path().display()),
                              "iso_checksum": "none", "communicator": "none", "headless": true,
                              "output_directory": out_dir.display().to_string()}]}),
    );
    assert_eq!(out.summary.exit_code(), 1, "{}", out.text());
    let e = out.error().unwrap();
    assert!(e.contains("missing.iso"), "{e}");
    assert!(
        !out_dir.exists(),
        "packer's cleanup removed the output directory"
    );
    assert!(cache.is_dir(), "packer made its cache in PACKER_CACHE_DIR");
    assert!(
        !std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("packer_cache")
            .exists(),
        "packer's cache went to PACKER_CACHE_DIR, not the crate directory"
    );
}
