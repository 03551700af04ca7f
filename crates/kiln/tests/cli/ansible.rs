//! The `ansible` provisioner through the `kiln` binary with Debian's real
//! ansible-core, against packer 1.6.6 on the same templates:
//!
//! - a docker build (guest `kiln-test/cm:bookworm`, python3 inside):
//!   Ansible reaches the container through kiln's SSH proxy and the docker
//!   communicator, with each of its file transfers (legacy `scp -O`, the
//!   SFTP that OpenSSH 9's `scp` speaks, `use_sftp`); packer 1.6.6 only
//!   works with `scp -O` there (its proxy runs `sftp-server` in the
//!   guest, which has none). The files left in the committed images, the
//!   file fetched back and the fact read by a later shell provisioner
//!   must be the same;
//! - the tests' sshd on this machine, through the proxy and with
//!   `use_proxy: false`, compared with packer 1.6.6 by the files left;
//! - a failing task fails the build with the task's message, and the
//!   container is removed.

use std::path::Path;

use kiln_test::sshd::{self, Sshd};
use serde_json::json;

use crate::docker::{docker_ok, serial, Guard};
use crate::support::*;

fn fixture_dir() -> String {
    fixture("ansible").display().to_string()
}

/// The ansible provisioner block shared by both tools.
fn ansible(
    playbook: &str,
    fetch_dir: &Path,
    env: &[&str],
    extra: serde_json::Value,
) -> serde_json::Value {
    let mut env: Vec<String> = env.iter().map(|s| s.to_string()).collect();
    env.push(format!(
        "ANSIBLE_COLLECTIONS_PATH={}/collections",
        fixture_dir()
    ));
    env.push("ANSIBLE_NOCOLOR=1".into());
    let mut p = json!({
        "type": "ansible",
        "playbook_file": format!("{}/{playbook}", fixture_dir()),
        "extra_arguments": ["-e", format!("fetch_dir={}", fetch_dir.display())],
        "ansible_env_vars": env,
    });
    if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
        p.extend(extra.clone());
    }
    p
}

/// Runs `build t.json` in `d` with `tool` (`packer` or `kiln`).
fn build_with(tool: &str, d: &TestDir) -> Run {
    let args = ["build", "-color=false", "t.json"];
    if tool == "packer" {
        run(d.packer(&args).unwrap())
    } else {
        kiln(d, &args)
    }
}

/// packer 1.6.6's proxy offers only an `ssh-rsa` (SHA-1) host key and
/// accepts only `ssh-rsa` user-key signatures, both of which OpenSSH 9
/// refuses by default: its runs need them allowed again. kiln's need nothing.
const PACKER_SSH_RSA: &str =
    "ANSIBLE_SSH_ARGS=-o HostKeyAlgorithms=+ssh-rsa -o PubkeyAcceptedKeyTypes=+ssh-rsa";

/// The old SCP protocol: packer 1.6.6's proxy serves it itself, but for
/// SFTP (which OpenSSH 9's `scp` speaks) it runs `/usr/lib/sftp-server` on
/// the machine, which is not there (Debian's is under /usr/lib/openssh,
/// the container has none).
const LEGACY_SCP: &str = "ANSIBLE_SCP_EXTRA_ARGS=-O";

/// What `root` holds on a machine: each file's name, mode and contents.
const LIST: &str = r#"cd "$0" && for f in *; do echo "== $f $(stat -c %a "$f")"; cat "$f"; done"#;

fn image_files(image: &str) -> String {
    // docker_ok trims the last newline.
    docker_ok(&[
        "run",
        "--rm",
        "--entrypoint",
        "/bin/sh",
        image,
        "-c",
        LIST,
        "/opt/kiln",
    ]) + "\n"
}

fn local_files(root: &Path) -> String {
    let o = std::process::Command::new("sh")
        .args(["-c", LIST])
        .arg(root)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const FILES: &str = "\
== app.conf 644
greeting = hello from ansible
os_family = Debian
builder = BUILDER
build = BUILD
== collection.txt 600
collection role kiln.tools.marker
== fact 644
23
== payload.txt 640
payload for the machine
== role.txt 644
role ran for default
";

fn docker_template(g: &Guard, tag: &str, ansible: serde_json::Value) -> String {
    json!({
        "builders": [{
            "type": "docker", "image": kiln_docker_test::cm_image(), "pull": false, "commit": true,
            "run_command": serde_json::from_str::<serde_json::Value>(&g.run_command()).unwrap(),
        }],
        "provisioners": [
            ansible,
            {"type": "shell", "inline": ["echo \"fact=$(cat /opt/kiln/fact)\""]}
        ],
        "post-processors": [{"type": "docker-tag", "repository": format!("kiln-cli-test/ansible-{tag}"), "tags": ["t"]}]
    })
    .to_string()
}

#[test]
fn ansible_through_the_docker_communicator_leaves_what_packer_1_6_6_leaves() {
    kiln_test::require_packer();
    let _serial = serial();
    let mut g = Guard::new("ansible-docker");
    let want = FILES
        .replace("BUILDER", "docker")
        .replace("BUILD", "docker");
    // (tag, tool, ansible env, extra keys)
    let runs: [(&str, &str, &[&str], serde_json::Value); 4] = [
        ("packer", "packer", &[LEGACY_SCP, PACKER_SSH_RSA], json!({})),
        ("kiln-scp", "kiln", &[LEGACY_SCP], json!({})),
        ("kiln-scp-sftp", "kiln", &[], json!({})),
        ("kiln-sftp", "kiln", &[], json!({"use_sftp": true})),
    ];
    let mut fetched = Vec::new();
    for (tag, tool, env, extra) in runs {
        let d = dir();
        let fetch = d.path().join("fetched");
        let t = docker_template(&g, tag, ansible("playbook.yml", &fetch, env, extra));
        d.write("t.json", &t);
        g.images.push(format!("kiln-cli-test/ansible-{tag}:t"));
        let r = build_with(tool, &d);
        assert_eq!(r.code, 0, "{tag}:\n{}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("fact=23"), "{tag}:\n{}", r.stdout);
        assert!(
            r.stdout.contains("Executing Ansible: ansible-playbook"),
            "{tag}:\n{}",
            r.stdout
        );
        assert_eq!(
            image_files(&format!("kiln-cli-test/ansible-{tag}:t")),
            want,
            "{tag}"
        );
        fetched.push(std::fs::read_to_string(fetch.join("app.conf")).unwrap());
        assert!(
            g.containers().is_empty(),
            "{tag}: the build container is left"
        );
    }
    assert!(fetched.iter().all(|f| f == &fetched[0]), "{fetched:?}");
    assert!(fetched[0].contains("greeting = hello from ansible"));
}

#[test]
fn a_failing_task_fails_the_build_with_its_message_and_the_container_goes() {
    let _serial = serial();
    let g = Guard::new("ansible-fail");
    let d = dir();
    let t = json!({
        "builders": [{
            "type": "docker", "image": kiln_docker_test::cm_image(), "pull": false, "discard": true,
            "run_command": serde_json::from_str::<serde_json::Value>(&g.run_command()).unwrap(),
        }],
        "provisioners": [ansible("fail.yml", &d.path().join("f"), &[], json!({}))]
    });
    d.write("t.json", &t.to_string());
    // kiln's temporary files (the key, the inventory) go here, to be
    // counted afterwards.
    let tmp = d.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mut c = d.kiln(&["build", "-color=false", "t.json"]);
    c.env("TMPDIR", &tmp);
    let r = run(c);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ansible-key") || n.starts_with("packer-provisioner-ansible"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(
        r.stdout.contains(&format!(
            "ansible_ssh_private_key_file={}/ansible-key",
            tmp.display()
        )),
        "the key file is not under TMPDIR, so the check above proves nothing:\n{}",
        r.stdout
    );
    let all = both(&r);
    assert!(
        all.contains("kiln-test: the second task failed on purpose"),
        "{all}"
    );
    assert!(
        all.contains("Error executing Ansible: Non-zero exit status: exit status 2"),
        "{all}"
    );
    assert!(g.containers().is_empty(), "the build container is left");
}

/// The null builder on the tests' sshd, Ansible through the proxy and
/// straight to the sshd (`use_proxy: false`), against packer 1.6.6 through
/// its proxy: the same files in each run's own directory.
#[test]
fn ansible_over_ssh_through_the_proxy_and_straight_matches_packer_1_6_6() {
    kiln_test::require_packer();
    let s = Sshd::start();
    let builder = json!({
        "type": "null", "ssh_host": "127.0.0.1", "ssh_port": s.port,
        "ssh_username": sshd::current_user(),
        "ssh_private_key_file": s.path("id_ed25519"), "ssh_timeout": "20s"
    });
    let user = sshd::current_user();
    for (tag, tool, env, extra) in [
        (
            "packer",
            "packer",
            &[LEGACY_SCP, PACKER_SSH_RSA][..],
            json!({}),
        ),
        ("kiln-proxy", "kiln", &[], json!({})),
        ("kiln-straight", "kiln", &[], json!({"use_proxy": false})),
    ] {
        let d = dir();
        let root = d.path().join("machine");
        // galaxy_file: a role from a local tarball, installed into roles_path.
        let tarball = d.path().join("role.tar.gz");
        let st = std::process::Command::new("tar")
            .arg("czf")
            .arg(&tarball)
            .arg("-C")
            .arg(fixture("ansible"))
            .arg("galaxy_role")
            .status()
            .unwrap();
        assert!(st.success());
        let roles = d.path().join("roles");
        d.write(
            "requirements.yml",
            &format!(
                "roles:\n  - src: file://{}\n    name: kiln_galaxy_role\n",
                tarball.display()
            ),
        );
        let mut env = env.to_vec();
        let roles_env = format!("ANSIBLE_ROLES_PATH={}", roles.display());
        env.push(&roles_env);
        let mut a = ansible("playbook.yml", &d.path().join("fetched"), &env, extra);
        a["extra_arguments"].as_array_mut().unwrap().extend([
            json!("-e"),
            json!(format!("kiln_root={}", root.display())),
            json!("-e"),
            json!("galaxy_role=1"),
        ]);
        a["user"] = json!(user);
        a["galaxy_file"] = json!(d.path().join("requirements.yml"));
        a["roles_path"] = json!(roles);
        let t = json!({
            "builders": [builder],
            "provisioners": [a, {"type": "shell", "inline": [format!("echo \"fact=$(cat {}/fact)\"", root.display())]}]
        });
        d.write("t.json", &t.to_string());
        let r = build_with(tool, &d);
        assert_eq!(r.code, 0, "{tag}:\n{}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("fact=23"), "{tag}:\n{}", r.stdout);
        assert!(
            r.stdout.contains("Executing Ansible Galaxy"),
            "{tag}:\n{}",
            r.stdout
        );
        assert_eq!(
            local_files(&root),
            FILES
                .replace("BUILDER", "null")
                .replace("BUILD", "null")
                .replace(
                    "== payload.txt",
                    "== galaxy.txt 644\nrole installed by ansible-galaxy\n== payload.txt"
                ),
            "{tag}"
        );
        if tag == "kiln-straight" {
            assert!(
                r.stdout.contains("Not using Proxy adapter for Ansible run"),
                "{}",
                r.stdout
            );
            assert!(
                !r.stdout.contains("Setting up proxy adapter"),
                "{}",
                r.stdout
            );
        }
    }
}

/// Ctrl-C while a task runs: kiln stops ansible-playbook and everything it
/// started (its ssh processes through the proxy's port among them), shuts
/// the proxy, deletes its temporary files and removes the container.
#[test]
fn ctrl_c_during_a_playbook_stops_ansible_and_cleans_up() {
    let _serial = serial();
    let g = Guard::new("ansible-ctrl-c");
    let d = dir();
    let tmp = d.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let started = d.path().join("started");
    let port = sshd::free_port();
    let mut a = ansible(
        "sleep.yml",
        &d.path().join("f"),
        &[],
        json!({"local_port": port}),
    );
    a["extra_arguments"]
        .as_array_mut()
        .unwrap()
        .extend([json!("-e"), json!(format!("started={}", started.display()))]);
    let t = json!({
        "builders": [{
            "type": "docker", "image": kiln_docker_test::cm_image(), "pull": false, "discard": true,
            "run_command": serde_json::from_str::<serde_json::Value>(&g.run_command()).unwrap(),
        }],
        "provisioners": [a]
    });
    d.write("t.json", &t.to_string());
    let mut c = d.kiln(&["build", "-color=false", "t.json"]);
    c.env("TMPDIR", &tmp);
    // Ansible's ssh runs with `-o Port=<the proxy's port>`: once one does,
    // the sleeping task is under way through the proxy.
    let port_flag = format!("Port={port}");
    let (child, ()) = spawn_until(
        c,
        "the playbook",
        || {
            (started.exists() && !kiln_test::procs::processes_matching(&port_flag).is_empty())
                .then_some(())
        },
        String::new,
    );
    let all = interrupt_cleanly(child);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let left: Vec<String> = kiln_test::procs::processes_matching(&port_flag)
            .into_iter()
            .chain(kiln_test::procs::processes_matching(
                &tmp.display().to_string(),
            ))
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running after Ctrl-C: {left:?}\n{all}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let files: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("ansible-key") || n.starts_with("packer-provisioner-ansible"))
        .collect();
    assert!(files.is_empty(), "left behind: {files:?}");
    assert!(
        g.containers().is_empty(),
        "the build container is left:\n{all}"
    );
}
