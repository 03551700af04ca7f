//! `kiln build` with the null builder and the SSH communicator against a
//! real OpenSSH server on loopback (started per test, see
//! `kiln_test::sshd`): the shell and file provisioners, failure cleanup,
//! a reboot between provisioners, Ctrl-C, secrets, and the same templates
//! through packer 1.6.6 compared by the files they leave on the target.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use kiln_test::procs::processes_matching;
use kiln_test::sshd::{self, Sshd};

use crate::support::*;

fn build(d: &TestDir, args: &[&str]) -> Run {
    let mut a = vec!["build", "-color=false", "-parallel-builds=1"];
    a.extend_from_slice(args);
    kiln(d, &a)
}

/// A null+ssh builder block for `s`, logging in as root with a key.
fn builder(s: &Sshd, extra: &str) -> String {
    format!(
        r#"{{"type": "null", "ssh_host": "127.0.0.1", "ssh_port": {}, "ssh_username": "{}",
            "ssh_private_key_file": "{}", "ssh_timeout": "20s"{extra}}}"#,
        s.port,
        sshd::current_user(),
        s.path("id_ed25519").display()
    )
}

/// Normalises what varies between runs: the sshd dir and port.
fn norm(text: &str, s: &Sshd, d: &TestDir) -> String {
    let t = text
        .replace(&s.dir.path().display().to_string(), "[SSHD]")
        .replace(&format!(":{}", s.port), ":[PORT]");
    normalize(&t, d.path())
}

/// Every file under `root` with its contents, for comparing targets.
fn tree(root: &Path) -> Vec<(String, String, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    fn rec(root: &Path, dir: &Path, out: &mut Vec<(String, String, u32)>) {
        let mut es: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        es.sort_by_key(|e| e.file_name());
        for e in es {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let m = std::fs::metadata(&p).unwrap();
            if m.is_dir() {
                out.push((rel + "/", String::new(), m.permissions().mode() & 0o777));
                rec(root, &p, out);
            } else {
                out.push((
                    rel,
                    std::fs::read_to_string(&p).unwrap_or_default(),
                    m.permissions().mode() & 0o777,
                ));
            }
        }
    }
    rec(root, root, &mut out);
    out
}

/// The template of the compatibility test: shell (inline, script, env
/// vars, execute_command) and file (file, dir with and without trailing
/// slash, download), writing under `target`.
fn provisioning_template(s: &Sshd, target: &Path, src: &Path, extra: &str) -> String {
    let t = target.display();
    let src = src.display();
    format!(
        r#"{{"builders": [{b}],
  "provisioners": [
    {{"type": "shell", "inline": ["echo hello $GREETING", "echo to-stderr >&2", "echo \"$PACKER_BUILD_NAME $GREETING\" > {t}/shell.txt"],
      "environment_vars": ["GREETING=it's kiln"]}},
    {{"type": "shell", "script": "{src}/script.sh", "execute_command": "chmod +x {{{{.Path}}}}; {{{{.Vars}}}} sh {{{{.Path}}}} arg1", "environment_vars": ["TARGET={t}"]}},
    {{"type": "file", "source": "{src}/app/a.txt", "destination": "{t}/single.txt"}},
    {{"type": "file", "source": "{src}/app/a.txt", "destination": "{t}/into/"}},
    {{"type": "file", "source": "{src}/app", "destination": "{t}/nested"}},
    {{"type": "file", "source": "{src}/app/", "destination": "{t}/contents"}},
    {{"type": "file", "source": "{t}/shell.txt", "destination": "{t}/downloaded/", "direction": "download"}}
  ]}}"#,
        b = builder(s, extra)
    )
}

fn source_tree(root: &Path) {
    std::fs::create_dir_all(root.join("app/sub")).unwrap();
    std::fs::write(root.join("app/a.txt"), "a\n").unwrap();
    std::fs::write(root.join("app/sub/b.txt"), "b\n").unwrap();
    std::fs::write(
        root.join("script.sh"),
        "#!/bin/sh\r\necho \"script $1 $GREETING\" > \"$TARGET/script.txt\"\r\n",
    )
    .unwrap();
}

fn target_dirs(target: &Path) {
    for d in ["into", "nested", "contents"] {
        std::fs::create_dir_all(target.join(d)).unwrap();
    }
}

#[test]
fn null_ssh_runs_shell_and_file_provisioners() {
    let s = Sshd::start();
    let d = dir();
    let (src, target) = (d.path().join("src"), d.path().join("target"));
    source_tree(&src);
    target_dirs(&target);
    let t = d.write("t.json", &provisioning_template(&s, &target, &src, ""));
    let r = build(&d, &[t.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    insta::assert_snapshot!(format!(
        "exit code: {}\n----- stdout -----\n{}----- stderr -----\n{}",
        r.code,
        norm(&r.stdout, &s, &d),
        norm(&r.stderr, &s, &d)
    ));
    assert_eq!(d.read("target/shell.txt"), "null it's kiln\n");
    assert_eq!(d.read("target/script.txt"), "script arg1 \n");
    assert_eq!(d.read("target/nested/app/sub/b.txt"), "b\n");
    assert_eq!(d.read("target/contents/sub/b.txt"), "b\n");
    assert_eq!(d.read("target/into/a.txt"), "a\n");
    assert_eq!(d.read("target/downloaded/shell.txt"), "null it's kiln\n");
}

#[test]
fn connection_errors_are_clear() {
    let mut s = Sshd::start();
    let d = dir();
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}], "provisioners": [{{"type": "shell", "inline": ["true"]}}]}}"#,
            // A key set twice is an error (as in Packer); the deprecated
            // `ssh_wait_timeout` wins over the template's `ssh_timeout`.
            builder(&s, r#", "ssh_wait_timeout": "1s""#)
        ),
    );
    s.stop();
    let r = build(&d, &[t.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("timeout waiting for SSH"), "{}", r.stderr);
    assert!(r.stderr.contains("Connection refused"), "{}", r.stderr);
}

#[test]
fn a_failing_script_removes_its_remote_files() {
    let s = Sshd::start();
    let d = dir();
    let remote = s.path("remote-script.sh");
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}], "provisioners": [
                {{"type": "shell", "inline": ["echo running", "exit 7"], "remote_path": "{}", "use_env_var_file": true, "remote_folder": "{}"}}]}}"#,
            builder(&s, ""),
            remote.display(),
            s.dir.path().display()
        ),
    );
    let r = build(&d, &[t.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("Script exited with non-zero exit status: 7.Allowed exit codes are: [0]"),
        "{}",
        r.stderr
    );
    assert!(!remote.exists(), "the remote script was left behind");
    let varfiles: Vec<_> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("varfile_"))
        .collect();
    assert!(varfiles.is_empty(), "the env var file was left behind");

    // With skip_clean the script stays, as in Packer.
    let t = d.write(
        "t2.json",
        &format!(
            r#"{{"builders": [{}], "provisioners": [
                {{"type": "shell", "inline": ["exit 7"], "remote_path": "{}", "skip_clean": true}}]}}"#,
            builder(&s, ""),
            remote.display()
        ),
    );
    assert_eq!(build(&d, &[t.to_str().unwrap()]).code, 1);
    assert!(remote.exists());
}

#[test]
fn a_script_path_that_cannot_be_written_is_an_upload_error() {
    let s = Sshd::start();
    let d = dir();
    let remote = s.path("no/such/dir/script.sh");
    let ran = s.path("ran");
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}], "provisioners": [
                {{"type": "shell", "inline": ["touch {}"], "remote_path": "{}", "start_retry_timeout": "1s"}}]}}"#,
            builder(&s, ""),
            ran.display(),
            remote.display()
        ),
    );
    let r = build(&d, &[t.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let want = format!(
        "Error uploading script: cannot write remote file `{}`: ",
        remote.display()
    );
    assert!(r.stderr.contains(&want), "{}", r.stderr);
    // The login shell's own reason (bash here; dash says "nonexistent").
    assert!(
        r.stderr.contains("No such file or directory") || r.stderr.contains("nonexistent"),
        "{}",
        r.stderr
    );
    assert!(!ran.exists(), "the script ran although it was not written");
}

#[test]
fn a_reboot_between_provisioners_is_waited_for() {
    let mut s = Sshd::start();
    let d = dir();
    let marker = d.path().join("rebooting");
    let after = d.path().join("after.txt");
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}], "provisioners": [
                {{"type": "shell", "inline": ["touch {m}", "sleep 60"], "expect_disconnect": true}},
                {{"type": "shell", "inline": ["echo after-reboot > {a}"], "start_retry_timeout": "30s"}}]}}"#,
            builder(&s, ""),
            m = marker.display(),
            a = after.display()
        ),
    );
    let mut c = d.kiln(&["build", "-color=false", t.to_str().unwrap()]);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let started = Instant::now();
    while !marker.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the first script never ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The "reboot": every session dies, sshd is down for a second.
    s.stop();
    std::thread::sleep(Duration::from_secs(1));
    s.restart();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(d.read("after.txt"), "after-reboot\n");
}

#[test]
fn ctrl_c_stops_the_remote_command_and_cleans_up() {
    let s = Sshd::start();
    let d = dir();
    let remote = s.path("long.sh");
    let marker = format!("sleep 7{}.25", std::process::id() % 1000);
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{}], "provisioners": [
                {{"type": "shell", "inline": ["echo started", "{marker}"], "remote_path": "{}"}}]}}"#,
            builder(&s, ""),
            remote.display()
        ),
    );
    let mut c = d.kiln(&["build", "-color=false", t.to_str().unwrap()]);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let started = Instant::now();
    while processes_matching(&marker).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the remote command never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Cleanly cancelled builds after being interrupted."),
        "{stdout}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        processes_matching(&marker).is_empty(),
        "the remote command survived Ctrl-C"
    );
    assert!(!remote.exists(), "the remote script was left behind");
}

#[test]
fn secrets_never_appear_in_any_output() {
    sshd::ensure_password_user();
    let s = Sshd::start();
    let d = dir();
    let key = std::fs::read_to_string(s.path("id_rsa")).unwrap();
    let key_lines: Vec<&str> = key
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .collect();
    assert!(key_lines.len() > 5);
    // Key auth for the build, the password both as a template value and in
    // generated data; the provisioner prints all of them.
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{{"type": "null", "name": "pw", "ssh_host": "127.0.0.1", "ssh_port": {port},
                 "ssh_username": "{user}", "ssh_password": "{pw}", "ssh_timeout": "20s"}},
                {{"type": "null", "name": "key", "ssh_host": "127.0.0.1", "ssh_port": {port},
                 "ssh_username": "root", "ssh_private_key_file": "{key}", "ssh_timeout": "20s"}}],
              "provisioners": [{{"type": "shell", "inline": [
                  "echo password={{{{ build `Password` }}}}", "echo '{{{{ build `SSHPrivateKey` }}}}'",
                  "cat {key} || true", "echo done"]}}]}}"#,
            port = s.port,
            user = sshd::PASSWORD_USER,
            pw = sshd::PASSWORD,
            key = s.path("id_rsa").display()
        ),
    );
    std::fs::set_permissions(
        s.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(
        s.path("id_rsa"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let mut all = String::new();
    for mode in [&[][..], &["-machine-readable"][..], &["-events=json"][..]] {
        let mut args = mode.to_vec();
        args.push(t.to_str().unwrap());
        let r = build(&d, &args);
        assert_eq!(r.code, 0, "{mode:?}\n{}\n{}", r.stdout, r.stderr);
        assert!(r.stdout.contains("done"), "{mode:?}: {}", r.stdout);
        all.push_str(&r.stdout);
        all.push_str(&r.stderr);
    }
    assert!(!all.contains(sshd::PASSWORD), "the password leaked");
    for l in key_lines {
        assert!(!all.contains(l), "a line of the private key leaked: {l}");
    }
    assert!(all.contains("password=<sensitive>"), "{all}");
}

#[test]
fn packer_and_kiln_leave_the_same_files_on_the_target() {
    kiln_test::require_packer();
    let s = Sshd::start();
    let mut trees = Vec::new();
    for tool in ["kiln", "packer"] {
        let d = dir();
        let (src, target) = (d.path().join("src"), d.path().join("target"));
        source_tree(&src);
        target_dirs(&target);
        let t = d.write("t.json", &provisioning_template(&s, &target, &src, ""));
        let args = ["build", "-color=false", t.to_str().unwrap()];
        let r = match tool {
            "kiln" => kiln(&d, &args),
            _ => run(d.packer(&args).unwrap()),
        };
        assert_eq!(r.code, 0, "{tool}:\n{}\n{}", r.stdout, r.stderr);
        let lines: Vec<String> = norm(&r.stdout, &s, &d)
            .lines()
            .filter(|l| {
                l.starts_with("    ") || l.contains("Uploading") || l.contains("Provisioning with")
            })
            .map(String::from)
            .collect();
        trees.push((tree(&target), lines));
    }
    assert_eq!(
        trees[0].0, trees[1].0,
        "the targets differ (left kiln, right packer)"
    );
    assert_eq!(
        trees[0].1, trees[1].1,
        "the provisioners' output differs (left kiln, right packer)"
    );
}

/// With `SSH_AUTH_SOCK` set, sessions get the local agent forwarded (as
/// Packer does unless `ssh_disable_agent_forwarding`): a remote `ssh-add -l`
/// lists the local agent's key.
#[test]
fn forwards_the_local_agent_unless_disabled() {
    let s = Sshd::start_with("AllowAgentForwarding yes");
    let agent = sshd::Agent::start(&[&s.path("id_rsa")]);
    let fp = std::process::Command::new("ssh-keygen")
        .arg("-lf")
        .arg(s.path("id_rsa.pub"))
        .output()
        .unwrap();
    let fp = String::from_utf8_lossy(&fp.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(fp.starts_with("SHA256:"), "{fp}");
    let d = dir();
    for (extra, forwarded) in [
        ("", true),
        (r#", "ssh_disable_agent_forwarding": true"#, false),
    ] {
        let t = d.write(
            "t.json",
            &format!(
                r#"{{"builders": [{}], "provisioners": [
                    {{"type": "shell", "inline": ["echo sock=${{SSH_AUTH_SOCK:-none}}", "ssh-add -l || echo no-agent"]}}]}}"#,
                builder(&s, extra)
            ),
        );
        let mut c = d.kiln(&["build", "-color=false", t.to_str().unwrap()]);
        c.env("SSH_AUTH_SOCK", &agent.sock);
        let r = run(c);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        assert_eq!(r.stdout.contains(&fp), forwarded, "{extra}: {}", r.stdout);
        assert_eq!(r.stdout.contains("sock=none"), !forwarded, "{}", r.stdout);
        if !forwarded {
            assert!(r.stdout.contains("no-agent"), "{}", r.stdout);
        }
    }
}

/// The shell and file options the other tests do not reach, end to end over
/// SSH: `scripts`, `env_var_format`, `remote_folder`/`remote_file`,
/// `valid_exit_codes`, `pause_after`, `skip_clean`, `inline_shebang`,
/// `use_env_var_file`, `binary`, and the file provisioner's `content`,
/// `sources` and `generated`.
#[test]
fn shell_and_file_options_work_over_ssh() {
    let s = Sshd::start();
    let d = dir();
    let t = d.path().join("target");
    let src = d.path().join("src");
    std::fs::create_dir_all(t.join("multi")).unwrap();
    std::fs::create_dir_all(src.join("sub")).unwrap();
    let remote = s.path("remote");
    std::fs::create_dir_all(&remote).unwrap();
    let (tt, ss, rr) = (t.display(), src.display(), remote.display());
    std::fs::write(src.join("a.sh"), format!("echo \"a $X\" > {tt}/a.txt\n")).unwrap();
    std::fs::write(src.join("b.sh"), "echo b; exit 3\n").unwrap();
    std::fs::write(
        src.join("bin.sh"),
        format!("cat \"$0\" > {tt}/bin.out #\r\n"),
    )
    .unwrap();
    std::fs::write(src.join("one.txt"), "one\n").unwrap();
    std::fs::write(src.join("sub/two.txt"), "two\n").unwrap();
    let tpl = format!(
        r#"{{"builders": [{b}], "provisioners": [
  {{"type": "shell", "scripts": ["{ss}/a.sh", "{ss}/b.sh"], "environment_vars": ["X=1"],
    "env_var_format": "export %s='%s'; ", "remote_folder": "{rr}", "remote_file": "kiln-custom.sh",
    "valid_exit_codes": [0, 3], "pause_after": "1s", "skip_clean": true}},
  {{"type": "shell", "inline": ["[ -n \"$BASH_VERSION\" ] && echo bash > {tt}/shebang.txt"], "inline_shebang": "/bin/bash -e"}},
  {{"type": "shell", "inline": ["printf '%s' \"$Y\" > {tt}/envfile.txt"], "environment_vars": ["Y=from a file"], "use_env_var_file": true}},
  {{"type": "shell", "script": "{ss}/bin.sh", "binary": true}},
  {{"type": "file", "content": "made by kiln\n", "destination": "{tt}/content.txt"}},
  {{"type": "file", "sources": ["{ss}/one.txt", "{ss}/sub"], "destination": "{tt}/multi/"}},
  {{"type": "shell-local", "inline": ["echo generated > {ss}/gen.txt"]}},
  {{"type": "file", "source": "{ss}/gen.txt", "destination": "{tt}/gen.txt", "generated": true}}
]}}"#,
        b = builder(&s, "")
    );
    let f = d.write("t.json", &tpl);
    let started = Instant::now();
    let r = build(&d, &[f.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(started.elapsed() >= Duration::from_secs(1), "pause_after");
    assert_eq!(d.read("target/a.txt"), "a 1\n");
    // skip_clean keeps the last script at remote_folder/remote_file.
    assert_eq!(
        std::fs::read_to_string(remote.join("kiln-custom.sh")).unwrap(),
        "echo b; exit 3\n"
    );
    assert_eq!(d.read("target/shebang.txt"), "bash\n");
    assert_eq!(d.read("target/envfile.txt"), "from a file");
    // binary: uploaded as is, CRLF kept.
    assert!(
        d.read("target/bin.out").ends_with("#\r\n"),
        "{:?}",
        d.read("target/bin.out")
    );
    assert_eq!(d.read("target/content.txt"), "made by kiln\n");
    assert_eq!(d.read("target/multi/one.txt"), "one\n");
    assert_eq!(d.read("target/multi/sub/two.txt"), "two\n");
    assert_eq!(d.read("target/gen.txt"), "generated\n");
}

/// The shell provisioner's `env` map (today's Packer: packer-plugin-sdk
/// `shell.Provisioner.Env`, flattened after `environment_vars` by
/// hashicorp/packer provisioner/shell/provisioner.go, so it wins) reaches
/// the remote command, through `{{.Vars}}` and through the env var file.
#[test]
fn shell_env_reaches_the_remote_command_and_wins() {
    let s = Sshd::start();
    let d = dir();
    let t = d.path().join("target");
    std::fs::create_dir_all(&t).unwrap();
    let tt = t.display();
    let tpl = format!(
        r#"source "null" "box" {{
  ssh_host             = "127.0.0.1"
  ssh_port             = {port}
  ssh_username         = "{user}"
  ssh_private_key_file = "{key}"
  ssh_timeout          = "20s"
}}

build {{
  sources = ["source.null.box"]

  provisioner "shell" {{
    environment_vars = ["A=from the list", "C=list only"]
    env = {{
      A = "from env"
      Q = "it's ${{build.PackerRunUUID != "" ? "quoted" : "?"}}"
    }}
    inline = ["printf '%s|%s|%s' \"$A\" \"$C\" \"$Q\" > {tt}/vars.txt"]
  }}

  provisioner "shell" {{
    environment_vars = ["A=from the list"]
    env              = {{ A = "from env, in a file" }}
    use_env_var_file = true
    inline           = ["printf '%s' \"$A\" > {tt}/file.txt"]
  }}
}}
"#,
        port = s.port,
        user = sshd::current_user(),
        key = s.path("id_ed25519").display()
    );
    let f = d.write("t.pkr.hcl", &tpl);
    let r = build(&d, &[f.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(d.read("target/vars.txt"), "from env|list only|it's quoted");
    assert_eq!(d.read("target/file.txt"), "from env, in a file");
}
