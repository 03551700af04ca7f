//! The `test` post-processor through the `kiln` binary: docker (a
//! container from the committed busybox image: passing and failing checks,
//! `expect_output`, a timeout, JUnit, the manifest, `-events=json`, HCL2,
//! Ctrl-C) and qemu (a real VM booted from the built disk through an
//! overlay, under TCG: one passing and one failing check; the disk is
//! unchanged and no qemu is left). Each test removes what it made.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::docker::{docker_ok, serial, Guard};
use crate::support::*;

/// Checks `path` is well-formed XML with Python's parser and returns
/// `tests failures errors` of its first testsuite and the failure messages.
fn junit_summary(path: &Path) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, xml.etree.ElementTree as E\n\
             s = E.parse(sys.argv[1]).getroot().find('testsuite')\n\
             print(s.get('tests'), s.get('failures'), s.get('errors'))\n\
             for c in s.iter('testcase'):\n\
             \x20   f = c.find('failure')\n\
             \x20   print(c.get('name'), '->', 'passed' if f is None else f.get('message'))\n",
        )
        .arg(path)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{} is not valid XML: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The committed image of the manifest's last build, and its `kiln` entry.
fn manifest_entry(path: &Path) -> (String, serde_json::Value) {
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let b = m["builds"].as_array().unwrap().last().unwrap().clone();
    (
        b["artifact_id"].as_str().unwrap().to_string(),
        b["kiln"].clone(),
    )
}

#[test]
fn docker_failing_check_fails_the_build_and_keeps_the_image() {
    let _serial = serial();
    let mut g = Guard::new("imgtest-fail");
    let d = dir();
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{{"type": "docker", "image": "{}", "commit": true,
                 "run_command": {}}}],
                "post-processors": [[
                  {{"type": "test", "junit_output": "reports/{{{{.BuildName}}}}.xml", "checks": [
                    {{"name": "has busybox", "inline": ["ls /bin/busybox"], "expect_output": "^/bin/busybox$"}},
                    {{"name": "env", "inline": ["echo \"$GREETING\""], "environment_vars": ["GREETING=hi there"],
                      "expect_output": "hi there"}},
                    {{"name": "broken", "inline": ["echo it is broken", "exit 1"]}},
                    {{"name": "wrong output", "inline": ["echo nope"], "expect_output": "^yes$"}},
                    {{"name": "slow", "inline": ["sleep 30"], "timeout": "1s"}}
                  ]}},
                  {{"type": "manifest", "output": "m.json"}}
                ]]}}"#,
            kiln_docker_test::base_image(),
            g.run_command()
        ),
    );
    let r = kiln(&d, &["build", "-color=false", t.to_str().unwrap()]);
    let all = both(&r);
    assert_eq!(r.code, 1, "{all}");
    for want in [
        "Test `has busybox` passed",
        "Test `env` passed",
        "image test `broken` failed: command `echo it is broken; exit 1` exited 1 (expected 0); its output:\n    it is broken",
        "image test `wrong output` failed: command `echo nope` exited 0, but its stdout does not match `^yes$`",
        "image test `slow` failed: command `sleep 30` timed out after 1s",
        "Image tests: 2 passed, 3 failed; the artifact is kept",
    ] {
        assert!(all.contains(want), "missing {want:?} in:\n{all}");
    }
    let (image, kiln_entry) = manifest_entry(&d.path().join("m.json"));
    g.images.push(image.clone());
    assert_eq!(kiln_entry["tests"]["status"], "failed", "{kiln_entry}");
    assert_eq!(kiln_entry["tests"]["passed"], 2, "{kiln_entry}");
    assert_eq!(kiln_entry["tests"]["failed"], 3, "{kiln_entry}");
    assert_eq!(kiln_entry["attachments"][0]["kind"], "test-report");
    // The image is kept.
    assert_eq!(
        docker_ok(&["image", "inspect", "-f", "{{.Id}}", &image]),
        image
    );
    let report = junit_summary(&d.path().join("reports/docker.xml"));
    assert!(report.starts_with("5 3 0\n"), "{report}");
    assert!(
        report.contains("broken -> command `echo it is broken; exit 1` exited 1 (expected 0)"),
        "{report}"
    );
    assert!(report.contains("has busybox -> passed"), "{report}");
    assert!(g.containers().is_empty(), "the test container was left");
}

#[test]
fn docker_hcl2_checks_pass_with_events_and_machine_readable_output() {
    let _serial = serial();
    let mut g = Guard::new("imgtest-hcl");
    let d = dir();
    let t = d.write(
        "t.pkr.hcl",
        &format!(
            r#"source "docker" "img" {{
  image       = "{}"
  commit      = true
  run_command = {}
}}
build {{
  sources = ["source.docker.img"]
  post-processors {{
    post-processor "test" {{
      check {{
        name          = "os"
        inline        = ["cat /proc/version"]
        expect_output = "Linux"
      }}
      check {{
        name              = "exit codes"
        inline            = ["exit 3"]
        expect_exit_codes = [0, 3]
      }}
    }}
    post-processor "manifest" {{
      output = "m.json"
    }}
  }}
}}
"#,
            kiln_docker_test::base_image(),
            g.run_command()
        ),
    );
    let r = kiln(&d, &["build", "-events=json", t.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", both(&r));
    let results: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["type"] == "test_result")
        .collect();
    assert_eq!(results.len(), 2, "{}", r.stdout);
    assert_eq!(results[0]["name"], "os");
    assert_eq!(results[0]["status"], "passed");
    assert_eq!(results[1]["exit_code"], 3);
    let (image, kiln_entry) = manifest_entry(&d.path().join("m.json"));
    g.images.push(image);
    assert_eq!(kiln_entry["tests"]["status"], "passed", "{kiln_entry}");
    assert!(g.containers().is_empty(), "the test container was left");

    // `-machine-readable`: one `test_result` record per check.
    let r = kiln(
        &d,
        &["build", "-machine-readable", "-force", t.to_str().unwrap()],
    );
    assert_eq!(r.code, 0, "{}", both(&r));
    let (image, _) = manifest_entry(&d.path().join("m.json"));
    g.images.push(image);
    let records: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.contains(",test_result,"))
        .collect();
    assert_eq!(records.len(), 2, "{}", r.stdout);
    assert!(
        records[0].contains(",test_result,os,passed,0,"),
        "{records:?}"
    );
    assert!(
        records[1].contains(",test_result,exit codes,passed,3,"),
        "{records:?}"
    );
    assert!(g.containers().is_empty(), "the test container was left");
}

#[test]
fn docker_ctrl_c_during_a_check_removes_the_test_container() {
    let _serial = serial();
    let mut g = Guard::new("imgtest-sigint");
    let d = dir();
    let t = d.write(
        "t.json",
        &format!(
            r#"{{"builders": [{{"type": "docker", "image": "{}", "commit": true,
                 "run_command": {}}}],
                "post-processors": [[{{"type": "test", "inline": ["sleep 600"]}},
                                     {{"type": "manifest", "output": "m.json"}}]]}}"#,
            kiln_docker_test::base_image(),
            g.run_command()
        ),
    );
    let mut c = d.kiln(&["build", "-color=false", t.to_str().unwrap()]);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let started = Instant::now();
    'wait: loop {
        for id in g.containers() {
            let top = Command::new("docker").args(["top", &id]).output().unwrap();
            if String::from_utf8_lossy(&top.stdout).contains("sleep 600") {
                break 'wait;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the check never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, all) = interrupt(child);
    assert_eq!(code, Some(1), "{all}");
    assert!(all.contains("Killing the container"), "{all}");
    assert!(g.containers().is_empty(), "Ctrl-C left the test container");
    // The committed image is reported, and removed here.
    if let Ok(m) = std::fs::read_to_string(d.path().join("m.json")) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&m) {
            if let Some(id) = v["builds"][0]["artifact_id"].as_str() {
                g.images.push(id.to_string());
            }
        }
    }
    for line in all.lines() {
        if let Some(id) = line.split("Image ID: ").nth(1) {
            g.images.push(id.trim().to_string());
        }
    }
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A qemu build from the base disk image with an `sbom` provisioner (its
/// documents list what dpkg-query lists on the VM), then the `test`
/// post-processor:
/// a VM booted from the output disk through an overlay runs one passing
/// and one failing check over SSH. The disk is the same before and after
/// the tests, and no qemu process or overlay is left.
#[test]
fn qemu_checks_run_on_the_built_disk_without_changing_it() {
    let base = crate::qemu::base_image();
    let d = dir();
    let out = d.path().join("out");
    let key = base.join("id_ed25519");
    let disk = out.join("vm.qcow2");
    let before = d.path().join("before.sha256");
    d.write(
        "t.json",
        &serde_json::json!({
            "builders": [{
                "type": "qemu", "iso_url": base.join("disk-boot.qcow2"), "iso_checksum": "none",
                "disk_image": true, "headless": true, "output_directory": out, "vm_name": "vm.qcow2",
                "disk_size": "3G", "memory": 512,
                "ssh_username": "root", "ssh_private_key_file": key, "ssh_timeout": "6m",
                "shutdown_command": "poweroff", "shutdown_timeout": "3m"
            }],
            "provisioners": [
                {"type": "shell", "inline": [
                    "echo built > /root/marker", "sync",
                    "dpkg-query -W -f='PKG ${Package} ${Version} ${Architecture}\\n'"
                ]},
                {"type": "sbom", "output_spdx": d.path().join("vm.spdx.json"), "output_cyclonedx": d.path().join("vm.cdx.json")}
            ],
            "post-processors": [
                [{"type": "shell-local", "inline": [format!("sha256sum {} | cut -d' ' -f1 > {}", disk.display(), before.display())]}],
                [
                    {"type": "test", "junit_output": "junit.xml", "timeout": "2m", "checks": [
                        {"name": "marker", "inline": ["cat /root/marker", "echo probe > /root/probe"], "expect_output": "^built$"},
                        {"name": "fails", "inline": ["echo about to fail", "exit 3"]}
                    ]},
                    {"type": "manifest", "output": "m.json"}
                ]
            ]
        })
        .to_string(),
    );
    let r = kiln(&d, &["build", "-color=false", "t.json"]);
    let all = both(&r);
    assert_eq!(r.code, 1, "{all}");
    assert!(all.contains("Test `marker` passed"), "{all}");
    assert!(
        all.contains("image test `fails` failed: command `echo about to fail; exit 3` exited 3 (expected 0); its output:\n    about to fail"),
        "{all}"
    );
    assert!(all.contains("(the image is not modified)"), "{all}");
    // The checks wrote to the overlay only.
    let want = std::fs::read_to_string(&before).unwrap();
    assert_eq!(sha256(&disk), want.trim(), "the test changed the disk");
    // The SBOMs of the VM list the packages dpkg-query listed on it.
    let mut real: Vec<String> = r
        .stdout
        .lines()
        .filter_map(|l| l.split_once("qemu: PKG ").map(|(_, p)| p.to_string()))
        .collect();
    real.sort();
    assert!(real.len() > 50, "{}", r.stdout);
    let (spdx, cdx) = (d.path().join("vm.spdx.json"), d.path().join("vm.cdx.json"));
    crate::sbom::validate(&spdx, &cdx);
    assert_eq!(
        crate::sbom::spdx_packages(&crate::sbom::read_json(&spdx)),
        real
    );
    assert_eq!(
        crate::sbom::cyclonedx_packages(&crate::sbom::read_json(&cdx)),
        real
    );
    let (_, kiln_entry) = manifest_entry(&d.path().join("m.json"));
    assert_eq!(kiln_entry["tests"]["status"], "failed", "{kiln_entry}");
    assert_eq!(kiln_entry["tests"]["passed"], 1);
    let report = junit_summary(&d.path().join("junit.xml"));
    assert!(report.starts_with("2 1 0\n"), "{report}");
    // No qemu and no temporary directory of this build are left.
    let temp_dirs: Vec<&str> = r
        .stdout
        .split(|c: char| c.is_whitespace() || c == ',' || c == ':')
        .filter(|w| w.contains("/kiln-qemu-"))
        .map(|w| {
            let i = w.find("/kiln-qemu-").unwrap();
            let end = w[i + 1..].find('/').map(|e| i + 1 + e).unwrap_or(w.len());
            &w[..end]
        })
        .collect();
    assert!(!temp_dirs.is_empty(), "{}", r.stdout);
    for t in &temp_dirs {
        assert!(!Path::new(t).exists(), "`{t}` was left");
    }
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        for t in &temp_dirs {
            assert!(
                !cmdline.contains(t),
                "a process is left: {}",
                cmdline.replace('\0', " ")
            );
        }
    }
}

/// A named `test` post-processor follows Packer 1.6.6's `-except` and
/// `only` rules: `-except=smoke` drops it and the rest of its chain (its
/// failing check does not run, the build succeeds, no manifest), and `only`
/// naming another build skips it alone for this one (the manifest runs).
#[test]
fn docker_test_post_processor_honours_except_and_only() {
    let _serial = serial();
    let mut g = Guard::new("imgtest-except");
    for (tag, only, args) in [
        ("except", "", &["-except=smoke"][..]),
        ("only", r#", "only": ["elsewhere"]"#, &[][..]),
    ] {
        let d = dir();
        let t = d.write(
            "t.json",
            &format!(
                r#"{{"builders": [{{"type": "docker", "image": "{}", "commit": true, "run_command": {}}},
                                  {{"type": "docker", "name": "elsewhere", "image": "{}", "discard": true, "run_command": {}}}],
                    "post-processors": [[
                      {{"type": "test", "name": "smoke", "checks": [{{"name": "broken", "inline": ["exit 1"]}}]{only}}},
                      {{"type": "manifest", "output": "m.json"}}
                    ]]}}"#,
                kiln_docker_test::base_image(),
                g.run_command(),
                kiln_docker_test::base_image(),
                g.run_command()
            ),
        );
        let mut a = vec!["build", "-color=false", "-only=docker"];
        a.extend_from_slice(args);
        a.push(t.to_str().unwrap());
        let r = kiln(&d, &a);
        let all = both(&r);
        assert_eq!(r.code, 0, "{tag}: {all}");
        assert!(!all.contains("Testing: broken"), "{tag}: {all}");
        let image = r
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("--> docker: Imported Docker image: "))
            .unwrap_or_else(|| panic!("{tag}: no image in:\n{all}"))
            .trim()
            .to_string();
        g.images.push(image.clone());
        if tag == "except" {
            assert!(!d.path().join("m.json").exists(), "{tag}");
        } else {
            let (id, kiln_entry) = manifest_entry(&d.path().join("m.json"));
            assert_eq!(id, image);
            assert!(kiln_entry.is_null(), "{tag}: {kiln_entry}");
        }
        assert!(g.containers().is_empty(), "{tag}: a container was left");
    }
}
