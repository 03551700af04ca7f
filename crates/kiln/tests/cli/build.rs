//! `kiln build`: what users see, artifacts on disk, manifests under
//! concurrency, `-on-error` modes, filters and secrets.

use std::process::Stdio;

use crate::support::*;

fn build(d: &TestDir, args: &[&str]) -> Run {
    let mut a = vec!["build", "-color=false", "-parallel-builds=1"];
    a.extend_from_slice(args);
    kiln(d, &a)
}

#[test]
fn null_builds_with_shell_local_and_manifest() {
    let d = dir();
    let t = copy_fixture(&d, "valid/null-shell-local.json");
    let r = build(&d, &[&t]);
    insta::assert_snapshot!(r.snapshot(d.path()));
    assert_eq!(r.code, 0);
    let m: serde_json::Value = serde_json::from_str(&d.read("manifest.json")).unwrap();
    let builds = m["builds"].as_array().unwrap();
    assert_eq!(builds.len(), 2);
    assert!(
        builds[0].get("build_time").is_none(),
        "strip_time omits build_time, as Packer does"
    );
    assert_eq!(builds[0]["builder_type"], "null");
    assert_eq!(builds[0]["files"], serde_json::Value::Null);
    assert_eq!(m["last_run_uuid"], builds[0]["packer_run_uuid"]);
}

#[test]
fn file_builder_with_checksums() {
    let d = dir();
    let t = copy_fixture(&d, "valid/file-checksum.json");
    let r = build(&d, &[&t]);
    insta::assert_snapshot!(r.snapshot(d.path()));
    assert_eq!(d.read("hello.txt"), "hello world\n");
    // Independently known digests of "hello world\n".
    assert!(d
        .read("file.md5")
        .starts_with("6f5902ac237024bdd0c176cb93063dc4\t"));
    assert!(d
        .read("file.sha1")
        .starts_with("22596363b3de40b06f981fb85d82312e8c0ed511\t"));
    assert!(d
        .read("file.sha256")
        .starts_with("a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447\t"));
    let m: serde_json::Value = serde_json::from_str(&d.read("manifest.json")).unwrap();
    // The manifest follows the checksum post-processor, so it records the
    // checksum artifact, as Packer does.
    assert_eq!(m["builds"][0]["builder_type"], "file");
    let files: Vec<&str> = m["builds"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(files.contains(&"file.sha256"), "{files:?}");
}

#[test]
fn output_is_never_overwritten_without_force() {
    let d = dir();
    let t = copy_fixture(&d, "valid/file-checksum.json");
    d.write("hello.txt", "precious\n");
    let r = build(&d, &[&t]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("target `hello.txt` already exists; use `-force` to overwrite it"),
        "{}",
        r.stderr
    );
    assert_eq!(
        d.read("hello.txt"),
        "precious\n",
        "a failed build must not touch existing output"
    );
    let r = build(&d, &["-force", &t]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(d.read("hello.txt"), "hello world\n");
}

#[test]
fn variables_var_file_and_var_and_sensitive_values() {
    let d = dir();
    let t = copy_fixture(&d, "valid/variables.json");
    d.write(
        "vars.json",
        r#"{"region": "us-east-2", "name": "from-file"}"#,
    );
    // -var beats -var-file whatever their order on the command line.
    let r = build(
        &d,
        &["-var", "region=ap-south-1", "-var-file=vars.json", &t],
    );
    insta::assert_snapshot!(r.snapshot(d.path()));
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("image=from-file-image region=ap-south-1"));
    for args in [
        vec!["-machine-readable"],
        vec!["-events=json"],
        vec!["-timestamp-ui"],
    ] {
        let mut a = vec!["build"];
        a.extend(args.iter().copied());
        a.push(&t);
        let r = kiln(&d, &a);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert!(
            !all.contains("p4ssw0rd-not-shown"),
            "{args:?} leaked a sensitive variable:\n{all}"
        );
        assert!(all.contains("<sensitive>"), "{args:?}");
    }
}

#[test]
fn filters_only_except_and_override() {
    let d = dir();
    let t = copy_fixture(&d, "valid/only-except-override.json");
    let r = build(&d, &["-only=web,d*", &t]);
    insta::assert_snapshot!(r.snapshot(d.path()));
    assert_eq!(r.code, 0);
    let all: serde_json::Value = serde_json::from_str(&d.read("all.json")).unwrap();
    assert_eq!(all["builds"].as_array().unwrap().len(), 3);
    let web: serde_json::Value = serde_json::from_str(&d.read("web-only.json")).unwrap();
    assert_eq!(web["builds"].as_array().unwrap().len(), 1);
    assert!(d.read("doc.sha256").contains("doc.txt"));

    let d = dir();
    let t = copy_fixture(&d, "valid/only-except-override.json");
    let r = build(&d, &["-except=doc", &t]);
    assert_eq!(r.code, 0);
    assert!(!d.path().join("doc.txt").exists());
    assert!(!r.stdout.contains("doc:"), "{}", r.stdout);

    let r = build(&d, &["-only=nothing-matches", &t]);
    assert!(
        r.stdout.contains(
            "Warning: `-only=nothing-matches` matches no build; the builds are: web, db, doc"
        ),
        "{}",
        r.stdout
    );
}

#[test]
fn failing_provisioner_runs_the_error_cleanup_provisioner() {
    let d = dir();
    let t = copy_fixture(&d, "valid/error-cleanup.json");
    let r = build(&d, &[&t]);
    insta::assert_snapshot!(r.snapshot(d.path()));
    assert_eq!(r.code, 1);
    assert!(d.path().join("cleanup-ran").exists());
    assert!(!r.stdout.contains("never runs"));
}

#[test]
fn on_error_abort_skips_cleanup_and_run_cleanup_provisioner_does_not() {
    let d = dir();
    let t = copy_fixture(&d, "valid/error-cleanup.json");
    let r = build(&d, &["-on-error=abort", &t]);
    assert_eq!(r.code, 1);
    assert!(
        !d.path().join("cleanup-ran").exists(),
        "abort must not run the cleanup provisioner"
    );

    let r = build(&d, &["-on-error=run-cleanup-provisioner", &t]);
    assert_eq!(r.code, 1);
    assert!(d.path().join("cleanup-ran").exists());

    let r = build(&d, &["-on-error=sometimes", &t]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("`-on-error` must be one of"),
        "{}",
        r.stderr
    );
}

#[test]
fn on_error_ask_retries_the_failed_step() {
    let d = dir();
    let t = d.write(
        "t.json",
        r#"{"builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [{"type": "shell-local", "inline": ["if [ -f once ]; then echo retried; else touch once; exit 1; fi"]}]}"#,
    );
    let mut c = d.kiln(&[
        "build",
        "-color=false",
        "-on-error=ask",
        t.to_str().unwrap(),
    ]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"r\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("[c] Clean up and exit, [a] abort without cleanup, or [r] retry step"),
        "{stdout}"
    );
    assert!(stderr.contains("Step \"StepProvision\" failed"), "{stderr}");
    assert!(stdout.contains("    null: retried"), "{stdout}");
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
}

#[test]
fn pause_before_and_max_retries() {
    let d = dir();
    let t = copy_fixture(&d, "valid/pause-retry.json");
    let r = build(&d, &[&t]);
    insta::assert_snapshot!(r.snapshot(d.path()));
    assert_eq!(r.code, 0);
}

#[test]
fn provisioner_timeout_stops_it() {
    let d = dir();
    let t = d.write(
        "t.json",
        r#"{"builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [{"type": "shell-local", "timeout": "300ms", "inline": ["sleep 30"]}]}"#,
    );
    let started = std::time::Instant::now();
    let r = build(&d, &[t.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("provisioner `shell-local` timed out after 300ms"),
        "{}",
        r.stderr
    );
    assert!(
        started.elapsed().as_secs() < 20,
        "the timed-out script must be stopped"
    );
}

#[test]
fn machine_readable_output() {
    let d = dir();
    let t = copy_fixture(&d, "valid/null-shell-local.json");
    let r = kiln(
        &d,
        &["build", "-machine-readable", "-parallel-builds=1", &t],
    );
    insta::assert_snapshot!(r.snapshot(d.path()));
    for line in r.stdout.lines() {
        let fields: Vec<&str> = line.splitn(4, ',').collect();
        assert!(fields.len() >= 3, "not a machine-readable line: {line}");
        assert!(fields[0].parse::<u64>().is_ok(), "bad timestamp in {line}");
    }
}

#[test]
fn json_events() {
    let d = dir();
    let t = copy_fixture(&d, "valid/null-shell-local.json");
    let r = kiln(&d, &["build", "-events=json", &t]);
    assert_eq!(r.code, 0);
    let events: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let finished: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "build_finished")
        .map(|e| e["build"].as_str().unwrap())
        .collect();
    assert_eq!(finished.len(), 2);
    assert!(events
        .iter()
        .any(|e| e["type"] == "step" && e["step"] == "StepProvision"));
    assert_eq!(events.last().unwrap()["type"], "run_finished");
    assert_eq!(events.last().unwrap()["exit_code"], 0);
}

#[test]
fn json_events_for_configuration_errors() {
    let d = dir();
    d.write(
        "t.json",
        "{\"builders\": [{\"type\": \"null\",\n  \"comunicator\": \"none\"}]}",
    );
    let r = kiln(&d, &["build", "-events=json", "t.json"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr, "");
    let events: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Every error, as in the human log: the misspelt key, and the
    // `ssh_username` the default communicator then lacks.
    assert_eq!(events.len(), 3, "{}", r.stdout);
    let e = &events[0];
    assert_eq!(e["type"], "config_error");
    assert_eq!(e["line"], 2);
    assert_eq!(e["column"], 3);
    assert!(e["file"].as_str().unwrap().ends_with("t.json"), "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("comunicator"),
        "{e}"
    );
    assert_eq!(e["hint"], "did you mean `communicator`?");
    assert_eq!(events[1]["type"], "config_error");
    assert_eq!(events[2]["type"], "run_finished");
    assert_eq!(events[2]["exit_code"], 1);
}

fn many_null_builds(n: usize, manifest: &str) -> String {
    let builders: Vec<String> = (0..n)
        .map(|i| format!(r#"{{"type": "null", "name": "b{i}", "communicator": "none"}}"#))
        .collect();
    format!(
        r#"{{"builders": [{}], "provisioners": [{{"type": "shell-local", "inline": ["echo hi"]}}],
            "post-processors": [{{"type": "manifest", "output": "{manifest}"}}]}}"#,
        builders.join(",")
    )
}

#[test]
fn manifest_keeps_every_entry_under_parallel_builds_and_processes() {
    let d = dir();
    let t = d.write("many.json", &many_null_builds(20, "manifest.json"));
    // Four kiln processes, each with 20 parallel builds, on one manifest.
    let children: Vec<_> = (0..4)
        .map(|_| {
            let mut c = d.kiln(&[
                "build",
                "-color=false",
                "-parallel-builds=0",
                t.to_str().unwrap(),
            ]);
            c.stdout(Stdio::null()).stderr(Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let m: serde_json::Value = serde_json::from_str(&d.read("manifest.json")).unwrap();
    let builds = m["builds"].as_array().unwrap();
    assert_eq!(
        builds.len(),
        80,
        "every entry of every build of every process"
    );
    let mut uuids: Vec<&str> = builds
        .iter()
        .map(|b| b["packer_run_uuid"].as_str().unwrap())
        .collect();
    uuids.sort();
    uuids.dedup();
    assert_eq!(uuids.len(), 4, "one run uuid per process");
}

#[test]
fn usage_errors_and_help() {
    let d = dir();
    let r = kiln(&d, &["build"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("a template file is required"));
    let r = kiln(&d, &["build", "-forse", "x.json"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("flag provided but not defined: `-forse` (did you mean `-force`?)"),
        "{}",
        r.stderr
    );
    let r = kiln(&d, &["buidl"]);
    assert_eq!(r.code, 127);
    assert!(r.stderr.contains("did you mean `kiln build`?"));
    for cmd in ["build", "validate", "inspect", "fix", "version"] {
        let r = kiln(&d, &[cmd, "--help"]);
        assert_eq!(r.code, 0, "{cmd}");
        assert!(
            r.stdout.starts_with(&format!("Usage: kiln {cmd}")),
            "{cmd}: {}",
            r.stdout
        );
    }
    let r = kiln(&d, &["build", "-h"]);
    insta::assert_snapshot!(r.stdout);
    let r = kiln(&d, &["version"]);
    assert!(r.stdout.starts_with("kiln v"));
    let r = kiln(&d, &["-machine-readable", "version"]);
    assert!(r.stdout.lines().next().unwrap().contains(",,version,"));
}

#[test]
fn hcl2_templates_are_refused_clearly() {
    let d = dir();
    let t = d.write("a.pkr.hcl", "source \"null\" \"x\" {}\n");
    let r = kiln(&d, &["build", t.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is an HCL2 template"), "{}", r.stderr);
}

#[test]
fn a_failed_post_processor_skips_its_chain_but_not_the_next() {
    let d = dir();
    let t = d.write(
        "t.json",
        r#"{"builders": [{"type": "file", "content": "app\n", "target": "app.txt"}],
            "post-processors": [
              [{"type": "shell-local", "name": "broken", "inline": ["echo failing", "exit 1"]}, "manifest"],
              {"type": "manifest", "output": "second.json", "strip_time": true}
            ]}"#,
    );
    let r = build(&d, &[t.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    // As Packer 1.6.6: the named post-processor is announced with its type,
    // its output is targeted at `build (type)`, the failed chain stops, the
    // next chain runs and the builder's file is kept.
    assert!(
        r.stdout
            .contains("==> file: Running post-processor: broken (type shell-local)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("    file (shell-local): failing"),
        "{}",
        r.stdout
    );
    assert!(
        !d.path().join("packer-manifest.json").exists(),
        "the rest of the failed chain must not run"
    );
    assert!(
        d.path().join("second.json").exists(),
        "the next chain must still run"
    );
    assert_eq!(d.read("app.txt"), "app\n");
    assert!(r.stderr.contains("Post-processor failed"), "{}", r.stderr);
}

#[test]
fn except_names_a_post_processor_and_drops_the_rest_of_its_chain() {
    let d = dir();
    let t = d.write(
        "t.json",
        r#"{"builders": [{"type": "null", "communicator": "none"}],
            "post-processors": [
              [{"type": "manifest", "name": "first", "output": "a.json"}, {"type": "manifest", "output": "b.json"}],
              {"type": "manifest", "output": "c.json"}
            ]}"#,
    );
    let r = build(&d, &["-except=first", t.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!d.path().join("a.json").exists());
    assert!(!d.path().join("b.json").exists());
    assert!(d.path().join("c.json").exists());
}

#[test]
fn time_functions_use_the_run_start_time() {
    let d = dir();
    let t = d.write(
        "t.json",
        r#"{"builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [
              {"type": "shell-local", "inline": ["echo a={{isotime `05`}}"]},
              {"type": "sleep", "duration": "1100ms"},
              {"type": "shell-local", "inline": ["echo b={{isotime `05`}}"]}
            ]}"#,
    );
    let r = build(&d, &[t.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let a = r.stdout.split("a=").nth(1).unwrap()[..2].to_string();
    let b = r.stdout.split("b=").nth(1).unwrap()[..2].to_string();
    assert_eq!(a, b, "isotime must be fixed for the run, as in Packer");
}

/// Runs `kiln build` under `prlimit --nofile=SOFT:HARD`.
fn build_with_nofile(d: &TestDir, nofile: &str, template: &str) -> Run {
    let kiln = d.kiln(&["build", "-color=false", template]);
    let mut c = std::process::Command::new("prlimit");
    c.arg(format!("--nofile={nofile}"))
        .arg("--")
        .arg(kiln.get_program())
        .args(kiln.get_args())
        .current_dir(d.path());
    for (k, v) in kiln.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    run(c)
}

#[test]
fn the_open_files_soft_limit_is_raised_to_the_hard_limit() {
    let d = dir();
    d.write(
        "t.json",
        r#"{"builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [{"type": "shell-local", "inline": ["echo nofile=$(ulimit -n)"]}]}"#,
    );
    let r = build_with_nofile(&d, "256:4096", "t.json");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("nofile=4096"), "{}", r.stdout);
    assert!(!r.stdout.contains("open files"), "{}", r.stdout);
}

#[test]
fn too_low_a_hard_limit_for_the_builds_is_said() {
    let d = dir();
    let builders: Vec<String> = (0..12)
        .map(|i| format!(r#"{{"type": "null", "name": "b{i}", "communicator": "none"}}"#))
        .collect();
    d.write(
        "t.json",
        &format!(r#"{{"builders": [{}]}}"#, builders.join(",")),
    );
    let r = build_with_nofile(&d, "128:128", "t.json");
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("Warning: 12 builds run at once may need about 256 open files, but this process may open at most 128"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("-parallel-builds=4"), "{}", r.stdout);
}

#[test]
fn help_with_a_command_shows_that_command_s_help() {
    let d = dir();
    let r = kiln(&d, &["help", "build"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with("Usage: kiln build [options] TEMPLATE"),
        "{}",
        r.stdout
    );
    let r = kiln(&d, &["help", "validate"]);
    assert!(r.stdout.starts_with("Usage: kiln validate"), "{}", r.stdout);
    // `help` alone, and with a word that is no command, lists the commands.
    for args in [&["help"][..], &["help", "nosuch"][..]] {
        let r = kiln(&d, args);
        assert_eq!(r.code, 0);
        assert!(r.stdout.contains("Available commands are:"), "{}", r.stdout);
    }
}

#[test]
fn colours_are_off_in_a_pipe_unless_forced() {
    let d = dir();
    d.write(
        "t.json",
        r#"{"builders": [{"type": "null", "communicator": "none"}]}"#,
    );
    let r = kiln(&d, &["build", "t.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains('\x1b'), "{:?}", r.stdout);
    let mut c = d.kiln(&["build", "t.json"]);
    c.env("CLICOLOR_FORCE", "1");
    let r = run(c);
    assert!(r.stdout.contains("\x1b[1;32m"), "{:?}", r.stdout);
}

#[test]
fn flags_may_follow_the_template_and_stdin_is_refused_clearly() {
    let d = dir();
    d.write(
        "t.json",
        r#"{"variables": {"greeting": "hi"},
            "builders": [{"type": "file", "content": "{{user `greeting`}}", "target": "out.txt"}]}"#,
    );
    let r = kiln(
        &d,
        &["build", "-color=false", "t.json", "-var", "greeting=hello"],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(d.read("out.txt"), "hello");
    // Without -force the existing target stops the build; after the
    // template, -force is read as a flag, not as a second template.
    let r = kiln(&d, &["build", "-color=false", "t.json", "-force"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    let r = kiln(&d, &["build", "-"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("error: kiln cannot read a template from stdin (`-`)"),
        "{}",
        r.stderr
    );
}

#[test]
fn an_undeclared_var_in_a_json_template_is_a_warning() {
    let d = dir();
    d.write(
        "t.json",
        r#"{"variables": {"region": "x"}, "builders": [{"type": "null", "communicator": "none"}]}"#,
    );
    let r = kiln(&d, &["validate", "-var", "regoin=eu", "t.json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "Warning: `-var regoin=…` sets a variable the template does not declare (did you mean `region`?)\nThe configuration is valid.\n"
    );
}
