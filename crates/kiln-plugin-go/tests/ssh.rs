//! Go components and kiln's mixed over SSH to a real OpenSSH server on
//! loopback (see `kiln_test::sshd`): packer's shell and file
//! provisioners over kiln's SSH communicator (served to the plugin), and
//! kiln's shell and file provisioners over packer's own SSH communicator
//! (served by the null builder plugin through the hook).

mod common;

use common::*;
use kiln_test::sshd::{self, Sshd};
use serde_json::json;

fn ssh_settings(s: &Sshd) -> serde_json::Map<String, serde_json::Value> {
    json!({
        "ssh_host": "127.0.0.1",
        "ssh_port": s.port,
        "ssh_username": sshd::current_user(),
        "ssh_private_key_file": s.path("id_ed25519").display().to_string(),
        "ssh_timeout": "20s"
    })
    .as_object()
    .unwrap()
    .clone()
}

#[test]
fn go_shell_and_file_provisioners_over_kilns_ssh_communicator() {
    let s = Sshd::start();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(
        dir.join("payload.txt"),
        "uploaded by packer's file provisioner\n",
    )
    .unwrap();
    let mut builder = ssh_settings(&s);
    builder.insert("type".into(), json!("null"));
    let remote = dir.join("remote");
    let out = build(
        dir,
        &json!({
            "builders": [builder],
            "provisioners": [
                {"type": "go-shell", "inline": [
                    format!("mkdir -p {}", remote.display()),
                    format!("echo \"hello from go shell on $(hostname)\" > {}/shell.txt", remote.display()),
                    "echo stdout-line; echo stderr-line >&2"]},
                {"type": "go-file", "source": dir.join("payload.txt").display().to_string(),
                 "destination": format!("{}/payload.txt", remote.display())},
                {"type": "go-shell", "inline": [format!("cat {}/payload.txt", remote.display())]}
            ]
        }),
    );
    assert_eq!(out.summary.exit_code(), 0, "{}", out.text());
    let text = out.text();
    assert!(std::fs::read_to_string(remote.join("shell.txt"))
        .unwrap()
        .starts_with("hello from go shell on "));
    assert_eq!(
        std::fs::read_to_string(remote.join("payload.txt")).unwrap(),
        "uploaded by packer's file provisioner\n"
    );
    assert!(text.contains("null: stdout-line"), "{text}");
    assert!(text.contains("null: stderr-line"), "{text}");
    assert!(
        text.contains("null: uploaded by packer's file provisioner"),
        "{text}"
    );
}

#[test]
fn go_shell_exit_status_travels_back_through_gob() {
    let s = Sshd::start();
    let d = tempfile::tempdir().unwrap();
    let mut builder = ssh_settings(&s);
    builder.insert("type".into(), json!("null"));
    let out = build(
        d.path(),
        &json!({
            "builders": [builder],
            "provisioners": [{"type": "go-shell", "inline": ["exit 3"]}]
        }),
    );
    assert_eq!(out.summary.exit_code(), 1);
    let e = out.error().unwrap();
    assert!(e.contains("non-zero exit status: 3"), "{e}");
}

#[test]
fn go_shell_output_beyond_a_stream_window_does_not_stall() {
    // ~650 KB of stdout, more than a yamux stream's 256 KiB window: packer
    // reads a command's output only once `Communicator.Start` has replied,
    // so the served `Start` must reply when the command starts, not when
    // it ends. A watchdog fails the test instead of hanging it.
    let s = Sshd::start();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().to_path_buf();
    let mut builder = ssh_settings(&s);
    builder.insert("type".into(), json!("null"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let out = build(
            &dir,
            &json!({
                "builders": [builder],
                "provisioners": [{"type": "go-shell", "inline": [
                    "seq 1 8000 | sed 's/$/ padding-padding-padding-padding-padding-padding-padding/'",
                    "echo after-the-flood"]}]
            }),
        );
        let _ = tx.send(out);
    });
    let out = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the build finished within 120 s");
    assert_eq!(out.summary.exit_code(), 0, "{}", out.text());
    let text = out.text();
    assert!(
        text.contains("null: 8000 padding-padding-padding"),
        "the last line arrived"
    );
    assert!(
        text.contains("null: after-the-flood"),
        "the next command ran"
    );
}

#[test]
fn kiln_provisioners_over_packers_ssh_communicator() {
    let s = Sshd::start();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(dir.join("up.txt"), "uploaded by kiln's file provisioner\n").unwrap();
    let remote = dir.join("remote");
    std::fs::create_dir(&remote).unwrap();
    let mut builder = ssh_settings(&s);
    builder.insert("type".into(), json!("go-null"));
    let out = build(
        dir,
        &json!({
            "builders": [builder],
            "provisioners": [
                {"type": "shell", "inline": [
                    format!("echo from-kiln-shell > {}/shell.txt", remote.display()),
                    "echo out-line; echo err-line >&2"]},
                {"type": "file", "source": dir.join("up.txt").display().to_string(),
                 "destination": format!("{}/up.txt", remote.display())},
                {"type": "file", "direction": "download",
                 "source": format!("{}/shell.txt", remote.display()),
                 "destination": dir.join("downloaded.txt").display().to_string()}
            ]
        }),
    );
    assert_eq!(out.summary.exit_code(), 0, "{}", out.text());
    let text = out.text();
    assert_eq!(
        std::fs::read_to_string(remote.join("shell.txt")).unwrap(),
        "from-kiln-shell\n"
    );
    assert_eq!(
        std::fs::read_to_string(remote.join("up.txt")).unwrap(),
        "uploaded by kiln's file provisioner\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("downloaded.txt")).unwrap(),
        "from-kiln-shell\n"
    );
    assert!(text.contains("go-null: out-line"), "{text}");
    assert!(text.contains("go-null: err-line"), "{text}");
    assert_eq!(
        out.summary.builds[0].artifacts[0].builder_id(),
        "fnoeding.null"
    );
}
