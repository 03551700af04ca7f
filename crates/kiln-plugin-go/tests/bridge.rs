//! Packer 1.6.6's own components (`packer plugin packer-KIND-NAME`) driven
//! through the bridge in real builds that mix them with kiln's components,
//! without SSH or docker: the null and file builders, the shell-local
//! provisioner, the checksum and compress post-processors; both handshake
//! generations; a plugin crashing mid-build; protocol mismatches; config
//! errors reported by a plugin.

mod common;

use std::path::Path;

use common::*;
use kiln_plugin_go::{builder_factory, provisioner_factory, ComponentKind, GoPluginCommand};
use kiln_test::procs::processes_matching;
use serde_json::json;

fn p(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[test]
fn go_null_builder_runs_kiln_and_go_provisioners_through_the_hook() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let out = build(
        dir,
        &json!({
            "builders": [{"type": "go-null", "communicator": "none"}],
            "provisioners": [
                {"type": "shell-local", "inline": [
                    format!("echo from kiln > {}", p(dir, "kiln.txt")),
                    "echo provisioned-by-kiln"]},
                {"type": "go-shell-local", "inline": [
                    format!("echo \"from go {{{{build_name}}}}\" > {}", p(dir, "go.txt")),
                    "echo provisioned-by-go"]}
            ]
        }),
    );
    assert_eq!(out.summary.exit_code(), 0, "{}", out.text());
    assert_eq!(
        std::fs::read_to_string(dir.join("kiln.txt")).unwrap(),
        "from kiln\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("go.txt")).unwrap(),
        "from go go-null\n"
    );
    let text = out.text();
    assert!(text.contains("go-null: provisioned-by-kiln"), "{text}");
    assert!(text.contains("go-null: provisioned-by-go"), "{text}");
    let artifacts = &out.summary.builds[0].artifacts;
    assert_eq!(artifacts.len(), 1);
    assert_eq!(artifacts[0].builder_id(), "fnoeding.null");
    assert!(
        artifacts[0].describe().contains("null builder"),
        "{}",
        artifacts[0].describe()
    );
    assert!(
        text.contains("Did not export anything. This is the null builder"),
        "{text}"
    );
}

fn sha256_hex(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn go_file_builder_with_go_checksum_and_compress_post_processors() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let out = build(
        dir,
        &json!({
            "builders": [{"type": "go-file", "content": "hello from packer's file builder\n",
                          "target": p(dir, "out.txt")}],
            "post-processors": [
                {"type": "go-checksum", "checksum_types": ["sha256", "md5"],
                 "output": format!("{}/out.{{{{.ChecksumType}}}}.checksum", dir.display())},
                {"type": "go-compress", "output": p(dir, "out.tar.gz")}
            ]
        }),
    );
    assert_eq!(out.summary.exit_code(), 0, "{}", out.text());
    let target = dir.join("out.txt");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "hello from packer's file builder\n"
    );
    let sums = std::fs::read_to_string(dir.join("out.sha256.checksum")).unwrap();
    assert!(sums.contains(&sha256_hex(&target)), "{sums}");
    assert!(dir.join("out.md5.checksum").exists());
    // compress made a real gzip'd tar holding the file.
    let list = std::process::Command::new("tar")
        .args(["-tzf"])
        .arg(dir.join("out.tar.gz"))
        .output()
        .unwrap();
    assert!(list.status.success());
    assert!(String::from_utf8_lossy(&list.stdout).contains("out.txt"));
    // The artifacts come from the plugins: the file builder's, then each
    // post-processor's (kept because the post-processors insist).
    let ids: Vec<_> = out.summary.builds[0]
        .artifacts
        .iter()
        .map(|a| a.builder_id().to_string())
        .collect();
    assert!(
        ids.contains(&"packer.post-processor.checksum".to_string()),
        "{ids:?}"
    );
    assert!(
        ids.contains(&"packer.post-processor.compress".to_string()),
        "{ids:?}"
    );
}

#[test]
fn kiln_file_builder_through_go_compress_then_kiln_checksum() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let out = build(
        dir,
        &json!({
            "builders": [{"type": "file", "content": "kiln content\n", "target": p(dir, "k.txt")}],
            "post-processors": [[
                {"type": "go-compress", "output": p(dir, "k.tar.gz")},
                {"type": "checksum", "checksum_types": ["sha256"], "output": p(dir, "k.sha256")}
            ]]
        }),
    );
    assert_eq!(out.summary.exit_code(), 0, "{}", out.text());
    // kiln's checksum saw the Go artifact's files.
    let sums = std::fs::read_to_string(dir.join("k.sha256")).unwrap();
    assert!(sums.contains(&sha256_hex(&dir.join("k.tar.gz"))), "{sums}");
    assert!(sums.contains("k.tar.gz"), "{sums}");
}

/// A fake for the handshake only: it runs packer's real null builder and
/// rewrites its `5|unix|path` line into the SDK's `5|0|unix|path`.
fn sdk_generation_wrapper(dir: &Path) -> std::path::PathBuf {
    let script = dir.join("packer-builder-sdknull");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n{PACKER} plugin packer-builder-null | {{ IFS= read -r line; echo \"5|0|${{line#5|}}\"; exec cat >/dev/null; }}\n"
        ),
    )
    .unwrap();
    make_executable(&script);
    script
}

fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn both_handshake_generations_connect() {
    use kiln_plugin_go::plugin::{Handshake, PluginConn};
    require_packer();
    let d = tempfile::tempdir().unwrap();
    let wrapper = sdk_generation_wrapper(d.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let legacy = PluginConn::start(&packer(ComponentKind::Builder, "null"))
            .await
            .unwrap();
        assert_eq!(legacy.handshake, Handshake::Legacy);
        let sdk = PluginConn::start(&GoPluginCommand::single(&wrapper))
            .await
            .unwrap();
        assert_eq!(sdk.handshake, Handshake::Sdk { minor: "0".into() });
        for conn in [&legacy, &sdk] {
            // A real call over each: the null builder's prepare with a bad
            // config reports the problem, through the connection.
            let reply = conn
                .call(
                    "Builder.Prepare",
                    kiln_plugin_go::msgpack::Value::map([(
                        "Configs",
                        kiln_plugin_go::msgpack::Value::Array(vec![
                            kiln_plugin_go::msgpack::Value::map([(
                                "communicator",
                                kiln_plugin_go::msgpack::Value::str("none"),
                            )]),
                        ]),
                    )]),
                )
                .await
                .unwrap();
            assert!(reply.get("Error").is_some_and(|e| e.is_nil()), "{reply:?}");
        }
    });
}

#[test]
fn sdk_generation_plugin_runs_a_build() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let wrapper = sdk_generation_wrapper(dir);
    let mut r = registry();
    r.builders.push(builder_factory(
        "sdk-null",
        GoPluginCommand::single(&wrapper),
    ));
    let builds = prepare(
        &r,
        dir,
        &json!({
            "builders": [{"type": "sdk-null", "communicator": "none"}],
            "provisioners": [{"type": "shell-local", "inline": [format!("touch {}", p(dir, "ran"))]}]
        }),
    )
    .unwrap();
    let out = run(builds);
    assert_eq!(out.summary.exit_code(), 0, "{}", out.text());
    assert!(dir.join("ran").exists());
}

fn fake_plugin(dir: &Path, name: &str, body: &str) -> GoPluginCommand {
    let script = dir.join(name);
    std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
    make_executable(&script);
    GoPluginCommand::single(script)
}

#[test]
fn protocol_mismatches_are_actionable_config_errors() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let mut r = kiln_registry::builtin();
    // Fakes: no real peer prints these lines.
    r.builders.push(builder_factory(
        "old",
        fake_plugin(
            dir,
            "packer-builder-old",
            "echo '4|unix|/tmp/nope'; sleep 5",
        ),
    ));
    r.builders.push(builder_factory(
        "newer",
        fake_plugin(
            dir,
            "packer-builder-newer",
            "echo '5|1|unix|/tmp/nope'; sleep 5",
        ),
    ));
    r.builders.push(builder_factory(
        "notaplugin",
        fake_plugin(dir, "notaplugin", "echo 'Usage: notaplugin [options]'"),
    ));
    r.builders.push(builder_factory(
        "dies",
        fake_plugin(
            dir,
            "packer-builder-dies",
            "echo 'panic: something broke' >&2; exit 3",
        ),
    ));
    r.builders.push(builder_factory(
        "missing",
        GoPluginCommand::single(dir.join("packer-builder-missing")),
    ));
    let err = prepare(
        &r,
        dir,
        &json!({"builders": [
            {"type": "old"}, {"type": "newer"}, {"type": "notaplugin"}, {"type": "dies"}, {"type": "missing"}
        ]}),
    )
    .err()
    .expect("every builder fails");
    for want in [
        "plugin `packer-builder-old` is not compatible with kiln: it speaks Packer plugin API version `4`",
        "needs Packer plugin API version `5.1`",
        "it printed `Usage: notaplugin [options]` where a Packer plugin handshake",
        "plugin `packer-builder-dies` exited unexpectedly before printing its handshake (exit status 3); its last output was:\npanic: something broke",
        "cannot start plugin `packer-builder-missing`",
    ] {
        assert!(err.contains(want), "missing `{want}` in:\n{err}");
    }
    // Each error points at its builder in the template.
    assert!(err.contains("template.json:"), "{err}");
}

#[test]
fn plugin_config_errors_are_all_reported_at_once() {
    let d = tempfile::tempdir().unwrap();
    let err = prepare(
        &registry(),
        d.path(),
        &json!({
            "builders": [{"type": "go-null", "communicator": "none", "bogus_key": 1}],
            "provisioners": [{"type": "go-shell-local"}],
            "post-processors": [{"type": "go-checksum", "checksum_types": ["nope"]}]
        }),
    )
    .err()
    .expect("config errors");
    assert!(
        err.contains("builder `go-null`: unknown configuration key: '\"bogus_key\"'")
            || err.contains("bogus_key"),
        "{err}"
    );
    assert!(err.contains("provisioner `go-shell-local`"), "{err}");
    assert!(err.contains("post-processor `go-checksum`"), "{err}");
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn plugin_crash_mid_build_is_reported_and_cleanup_runs() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    // The provisioner's script finds its own plugin process among its
    // ancestors and kills it with SIGKILL.
    let kill_plugin = "p=$$; while [ \"$p\" -gt 1 ]; do if tr '\\0' ' ' < /proc/$p/cmdline | grep -q packer-provisioner-shell-local; then kill -9 $p; break; fi; p=$(awk '{print $4}' /proc/$p/stat); done; sleep 2";
    let out = build(
        dir,
        &json!({
            "builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [{"type": "go-shell-local", "inline": [kill_plugin]}],
            "error-cleanup-provisioner": {"type": "shell-local", "inline": [format!("touch {}", p(dir, "cleaned"))]}
        }),
    );
    assert_eq!(out.summary.exit_code(), 1, "{}", out.text());
    let e = out.error().expect("the build failed");
    assert!(
        e.contains("plugin `packer-provisioner-shell-local` exited unexpectedly during `Provisioner.Provision` (killed by signal 9)"),
        "{e}"
    );
    assert!(
        dir.join("cleaned").exists(),
        "the error-cleanup-provisioner ran:\n{}",
        out.text()
    );
}

#[test]
fn go_provisioner_failure_is_the_components_own_message() {
    let d = tempfile::tempdir().unwrap();
    let out = build(
        d.path(),
        &json!({
            "builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [{"type": "go-shell-local", "inline": ["exit 7"]}]
        }),
    );
    assert_eq!(out.summary.exit_code(), 1);
    let e = out.error().unwrap();
    assert!(e.contains("non-zero exit status: 7"), "{e}");
}

#[test]
fn plugins_exit_when_their_component_is_dropped() {
    let d = tempfile::tempdir().unwrap();
    let marker = "packer-post-processor-compress";
    let before = processes_matching(marker).len();
    let r = registry();
    let builds = prepare(
        &r,
        d.path(),
        &json!({
            "builders": [{"type": "null", "communicator": "none"}],
            "post-processors": [{"type": "go-compress", "output": p(d.path(), "x.tar.gz")}]
        }),
    )
    .unwrap();
    assert!(processes_matching(marker).len() > before);
    drop(builds);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while processes_matching(marker).len() > before && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        processes_matching(marker).len(),
        before,
        "the plugin process is gone"
    );
}

#[test]
fn provisioner_factory_names_are_registered() {
    let f = provisioner_factory("go-shell", packer(ComponentKind::Provisioner, "shell"));
    assert_eq!(f.name(), "go-shell");
}
