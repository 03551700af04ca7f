//! Runs the provisioner against a communicator whose "machine" is this
//! one: commands run under the real `/bin/sh`, uploads land at their
//! (absolute) destination, and every call is recorded. The staging
//! directory is a temporary directory, and `command` a stand-in for
//! ansible-playbook, so the commands, the uploads, the inventory and the
//! staging layout Packer 1.6.6 produces are checked for real.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kiln_sdk::communicator::{
    CommandOutput, Communicator, CommunicatorError, ExitStatus, FileMeta,
};
use kiln_sdk::interpolate::{Context, Generated};
use kiln_sdk::ui::RecordingUi;
use kiln_sdk::{ProvisionContext, ProvisionerFactory, RawConfig};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::AnsibleLocalProvisionerFactory;

/// One call the provisioner made.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Run(String),
    Upload { dst: String, mode: Option<u32> },
    UploadDir { dst: String, src: String },
}

/// See the module docs.
#[derive(Default)]
struct HostComm {
    calls: Mutex<Vec<Call>>,
}

impl HostComm {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
    fn runs(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Run(c) => Some(c),
                _ => None,
            })
            .collect()
    }
}

fn failed(e: impl std::fmt::Display) -> CommunicatorError {
    CommunicatorError::Failed(e.to_string())
}

fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for e in std::fs::read_dir(src)? {
        let e = e?;
        let to = dst.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &to)?;
        } else {
            std::fs::copy(e.path(), to)?;
        }
    }
    Ok(())
}

#[async_trait]
impl Communicator for HostComm {
    async fn start(
        &self,
        command: &kiln_sdk::communicator::RemoteCommand,
        output: CommandOutput<'_>,
    ) -> Result<ExitStatus, CommunicatorError> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Run(command.command.clone()));
        let mut child = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&command.command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(failed)?;
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
        let (mut out_done, mut err_done) = (false, false);
        while !(out_done && err_done) {
            tokio::select! {
                l = out.next_line(), if !out_done => match l {
                    Ok(Some(l)) => (output.stdout)(&l),
                    _ => out_done = true,
                },
                l = err.next_line(), if !err_done => match l {
                    Ok(Some(l)) => (output.stderr)(&l),
                    _ => err_done = true,
                },
            }
        }
        let status = child.wait().await.map_err(failed)?;
        Ok(ExitStatus::Code(status.code().unwrap_or(-1)))
    }

    async fn upload(
        &self,
        destination: &str,
        source: &mut (dyn AsyncRead + Send + Unpin),
        meta: FileMeta,
    ) -> Result<(), CommunicatorError> {
        self.calls.lock().unwrap().push(Call::Upload {
            dst: destination.to_string(),
            mode: meta.mode,
        });
        let mut f = tokio::fs::File::create(destination).await.map_err(failed)?;
        tokio::io::copy(source, &mut f).await.map_err(failed)?;
        f.flush().await.map_err(failed)
    }

    async fn upload_dir(
        &self,
        destination: &str,
        source: &Path,
        _exclude: &[String],
    ) -> Result<(), CommunicatorError> {
        let src = source.to_string_lossy().into_owned();
        self.calls.lock().unwrap().push(Call::UploadDir {
            dst: destination.to_string(),
            src: src.clone(),
        });
        assert!(src.ends_with('/'), "Packer uploads the contents: {src}");
        copy_tree(source, Path::new(destination)).map_err(failed)
    }

    async fn download(
        &self,
        _: &str,
        _: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(), CommunicatorError> {
        unreachable!("ansible-local downloads nothing")
    }

    async fn download_dir(&self, _: &str, _: &Path, _: &[String]) -> Result<(), CommunicatorError> {
        unreachable!("ansible-local downloads nothing")
    }
}

/// A local project (`local/`) and a "machine" (`machine/`) in one
/// temporary directory.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let fx = Fixture { dir };
        for (f, body) in [
            ("local/site.yml", "- hosts: all\n"),
            ("local/play/main.yml", "- hosts: all\n"),
            ("local/play/templates/motd.j2", "{{ motd }}\n"),
            ("local/outside/extra.yml", "- hosts: all\n"),
            ("local/gv/all.yml", "motd: hi\n"),
            ("local/hv/127.0.0.1.yml", "port: 80\n"),
            ("local/roles/web/tasks/main.yml", "- debug: msg=web\n"),
            ("local/books/more/x.yml", "- hosts: all\n"),
            ("local/requirements.yml", "[]\n"),
            ("local/hosts.ini", "[web]\n127.0.0.1\n"),
        ] {
            let p = fx.dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
        std::fs::create_dir_all(fx.dir.path().join("machine")).unwrap();
        fx
    }
    fn local(&self, rel: &str) -> String {
        self.dir
            .path()
            .join("local")
            .join(rel)
            .display()
            .to_string()
    }
    fn staging(&self) -> String {
        self.dir.path().join("machine/stage").display().to_string()
    }
    /// Every file under the staging directory, relative, sorted.
    fn tree(&self) -> Vec<String> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(root, &p, out);
                } else {
                    out.push(p.strip_prefix(root).unwrap().display().to_string());
                }
            }
        }
        let mut out = Vec::new();
        let root = PathBuf::from(self.staging());
        if root.exists() {
            walk(&root, &root, &mut out);
        }
        out.sort();
        out
    }
}

struct Outcome {
    result: Result<(), String>,
    ui: Vec<String>,
    comm: HostComm,
}

async fn provision_with(
    config: serde_json::Value,
    generated: BTreeMap<String, String>,
    cancel: CancellationToken,
) -> Outcome {
    let cx = kiln_test::build_cx("web", "docker");
    let p = AnsibleLocalProvisionerFactory
        .prepare(&RawConfig::from_value(config), &cx)
        .unwrap_or_else(|e| panic!("{e}"))
        .component;
    let ui = RecordingUi::default();
    let comm = HostComm::default();
    let generated = Arc::new(generated);
    let interpolation = Context {
        generated: Generated::Known(generated.clone()),
        ..Default::default()
    };
    let result = p
        .provision(
            ProvisionContext {
                ui: &ui,
                cancel,
                interpolation: &interpolation,
                generated: &generated,
                debug: false,
                record: &Default::default(),
            },
            &comm,
        )
        .await
        .map_err(|e| e.to_string());
    Outcome {
        result,
        ui: ui.lines(),
        comm,
    }
}

/// The run's error, `""` when it succeeded.
fn error_of(o: &Outcome) -> &str {
    o.result.as_ref().err().map_or("", String::as_str)
}

async fn provision(config: serde_json::Value) -> Outcome {
    provision_with(config, BTreeMap::new(), CancellationToken::new()).await
}

/// The generated inventory's name in the staging directory.
fn inventory_name(tree: &[String]) -> String {
    let names: Vec<&String> = tree
        .iter()
        .filter(|f| f.starts_with("packer-provisioner-ansible-local"))
        .collect();
    assert_eq!(names.len(), 1, "{tree:?}");
    let digits = &names[0]["packer-provisioner-ansible-local".len()..];
    assert!(
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()),
        "{tree:?}"
    );
    names[0].clone()
}

const EXTRA: &str = " --extra-vars \"packer_build_name=web packer_builder_type=docker packer_http_addr=ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER -o IdentitiesOnly=yes\" ";

#[tokio::test]
async fn one_playbook_file_with_the_defaults() {
    let fx = Fixture::new();
    let stage = fx.staging();
    // `echo` stands in for ansible-playbook: it shows the arguments.
    let o = provision(json!({
        "playbook_file": fx.local("site.yml"),
        "staging_directory": stage,
        "command": "echo",
    }))
    .await;
    assert_eq!(o.result, Ok(()));
    let tree = fx.tree();
    let inventory = inventory_name(&tree);
    assert_eq!(tree, [inventory.clone(), "site.yml".to_string()]);
    assert_eq!(
        std::fs::read_to_string(format!("{stage}/{inventory}")).unwrap(),
        "127.0.0.1"
    );
    let command =
        format!("cd {stage} && echo {stage}/site.yml{EXTRA} -c local -i {stage}/{inventory}");
    assert_eq!(
        o.comm.calls(),
        [
            Call::Run(format!("mkdir -p {stage}")),
            Call::Upload {
                dst: format!("{stage}/site.yml"),
                mode: None
            },
            Call::Upload {
                dst: format!("{stage}/{inventory}"),
                mode: None
            },
            Call::Run(command.clone()),
        ]
    );
    // `--extra-vars "…"` is one argument to the shell; `-c local -i …`
    // follow (Packer's `-o IdentitiesOnly=yes` sits inside the quotes).
    let echoed = format!(
        "{stage}/site.yml --extra-vars packer_build_name=web packer_builder_type=docker packer_http_addr=ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER -o IdentitiesOnly=yes -c local -i {stage}/{inventory}"
    );
    assert_eq!(
        o.ui,
        [
            "say: Provisioning with Ansible...".to_string(),
            "message: Creating Ansible staging directory...".into(),
            format!("message: Creating directory: {stage}"),
            "message: Uploading main Playbook file...".into(),
            "message: Uploading inventory file...".into(),
            format!("message: Executing Ansible: {command}"),
            format!("message: {echoed}"),
        ]
    );
}

#[tokio::test]
async fn every_key_lays_out_the_staging_directory_as_packer_does() {
    let fx = Fixture::new();
    let stage = fx.staging();
    let outside = fx.local("outside/extra.yml");
    let o = provision_with(
        json!({
            "playbook_dir": fx.local("play"),
            "playbook_files": [fx.local("play/main.yml"), outside],
            "group_vars": fx.local("gv"),
            "host_vars": fx.local("hv"),
            "role_paths": [fx.local("roles/web/")],
            "playbook_paths": [fx.local("books")],
            "galaxy_file": fx.local("requirements.yml"),
            "galaxy_command": "echo galaxy",
            "inventory_groups": ["web", "db"],
            "extra_arguments": ["--tags", "'a b'"],
            "staging_directory": stage,
            "command": "echo play",
        }),
        BTreeMap::from([("PackerHTTPAddr".to_string(), "10.0.2.2:8080".to_string())]),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(o.result, Ok(()));
    let tree = fx.tree();
    let inventory = inventory_name(&tree);
    let outside_rel = outside.trim_start_matches('/');
    let mut want = vec![
        "group_vars/all.yml".to_string(),
        "host_vars/127.0.0.1.yml".into(),
        "main.yml".into(),
        format!("{outside_rel}"),
        inventory.clone(),
        "playbooks/books/more/x.yml".into(),
        "requirements.yml".into(),
        "roles/web/tasks/main.yml".into(),
        "templates/motd.j2".into(),
    ];
    want.sort();
    assert_eq!(tree, want);
    assert_eq!(
        std::fs::read_to_string(format!("{stage}/{inventory}")).unwrap(),
        "[web]\n127.0.0.1\n[db]\n127.0.0.1\n"
    );
    let extra = " --extra-vars \"packer_build_name=web packer_builder_type=docker packer_http_addr=10.0.2.2:8080 -o IdentitiesOnly=yes\" --tags 'a b'";
    let inv = format!("{stage}/{inventory}");
    assert_eq!(
        o.comm.runs(),
        [
            format!("mkdir -p {stage}"),
            format!("mkdir -p {stage}{}", crate::paths::dir(&outside)),
            format!("mkdir -p {stage}/group_vars"),
            format!("mkdir -p {stage}/host_vars"),
            format!("mkdir -p {stage}/roles/web"),
            format!("mkdir -p {stage}/playbooks"),
            format!("mkdir -p {stage}/playbooks/books"),
            format!(
                "cd {stage} && echo galaxy install -r {stage}/requirements.yml -p {stage}/roles"
            ),
            // The playbook inside `playbook_dir` runs from where that
            // directory's upload put it; the other from its absolute path.
            format!("cd {stage} && echo play {stage}/main.yml{extra} -c local -i {inv}"),
            format!("cd {stage} && echo play {stage}{outside}{extra} -c local -i {inv}"),
        ]
    );
    let dirs: Vec<Call> = o
        .comm
        .calls()
        .into_iter()
        .filter(|c| matches!(c, Call::UploadDir { .. }))
        .collect();
    assert_eq!(
        dirs,
        [
            Call::UploadDir {
                dst: stage.clone(),
                src: format!("{}/", fx.local("play"))
            },
            Call::UploadDir {
                dst: format!("{stage}/group_vars"),
                src: format!("{}/", fx.local("gv"))
            },
            Call::UploadDir {
                dst: format!("{stage}/host_vars"),
                src: format!("{}/", fx.local("hv"))
            },
            Call::UploadDir {
                dst: format!("{stage}/roles/web"),
                src: fx.local("roles/web/")
            },
            Call::UploadDir {
                dst: format!("{stage}/playbooks/books"),
                src: format!("{}/", fx.local("books"))
            },
        ]
    );
    let messages: Vec<&str> =
        o.ui.iter()
            .filter_map(|l| l.strip_prefix("message: "))
            .filter(|l| {
                l.starts_with("Uploading")
                    || l.starts_with("Executing")
                    || l.starts_with("Creating Ansible")
            })
            .collect();
    assert_eq!(
        messages,
        [
            "Uploading Playbook directory to Ansible staging directory...".to_string(),
            format!("Uploading playbook file: {outside}"),
            "Uploading galaxy file...".into(),
            "Uploading inventory file...".into(),
            "Uploading group_vars directory...".into(),
            "Uploading host_vars directory...".into(),
            "Uploading role directories...".into(),
            "Uploading additional Playbooks...".into(),
            format!("Executing Ansible Galaxy: cd {stage} && echo galaxy install -r {stage}/requirements.yml -p {stage}/roles"),
            format!("Executing Ansible: cd {stage} && echo play {stage}/main.yml{extra} -c local -i {inv}"),
            format!("Executing Ansible: cd {stage} && echo play {stage}{outside}{extra} -c local -i {inv}"),
        ]
    );
}

#[tokio::test]
async fn a_given_inventory_is_uploaded_under_its_name() {
    let fx = Fixture::new();
    let stage = fx.staging();
    let o = provision(json!({
        "playbook_file": fx.local("site.yml"),
        "inventory_file": fx.local("hosts.ini"),
        "inventory_groups": ["ignored"],
        "staging_directory": format!("{stage}/"),
        "command": "true",
    }))
    .await;
    assert_eq!(o.result, Ok(()));
    assert_eq!(fx.tree(), ["hosts.ini", "site.yml"]);
    assert_eq!(
        std::fs::read_to_string(format!("{stage}/hosts.ini")).unwrap(),
        "[web]\n127.0.0.1\n"
    );
    // `cd` takes `staging_directory` as written; joined paths are clean.
    assert_eq!(
        o.comm.runs().last().unwrap(),
        &format!("cd {stage}/ && true {stage}/site.yml{EXTRA} -c local -i {stage}/hosts.ini")
    );
}

#[tokio::test]
async fn clean_staging_directory_removes_it_after_the_run() {
    let fx = Fixture::new();
    let stage = fx.staging();
    let o = provision(json!({
        "playbook_file": fx.local("site.yml"),
        "staging_directory": stage,
        "clean_staging_directory": true,
        "command": "true",
    }))
    .await;
    assert_eq!(o.result, Ok(()));
    assert!(!Path::new(&stage).exists(), "the staging directory is left");
    assert_eq!(o.comm.runs().last().unwrap(), &format!("rm -rf {stage}"));
    assert_eq!(
        o.ui[o.ui.len() - 2..],
        [
            "message: Removing staging directory...".to_string(),
            format!("message: Removing directory: {stage}")
        ]
    );
}

#[tokio::test]
async fn a_failing_playbook_fails_with_packers_message() {
    for (command, clean, want) in [
        ("false", false, "Error executing Ansible: Non-zero exit status: 1"),
        (
            "no-such-ansible-playbook",
            false,
            "Error executing Ansible: no-such-ansible-playbook could not be found. Verify that it is available on the\nPATH after connecting to the machine.",
        ),
        ("echo oops >&2; false", true, "Error executing Ansible: Non-zero exit status: 1"),
    ] {
        let fx = Fixture::new();
        let stage = fx.staging();
        let o = provision(json!({
            "playbook_file": fx.local("site.yml"),
            "staging_directory": stage,
            "clean_staging_directory": clean,
            "command": command,
        }))
        .await;
        assert_eq!(error_of(&o), want, "{command}");
        // With `clean_staging_directory`, kiln removes it after a failure
        // too (Packer leaves it); without, it stays, as in Packer.
        assert_eq!(Path::new(&stage).exists(), !clean, "{command}");
        if clean {
            assert!(o.ui.contains(&"error: oops".to_string()), "{:?}", o.ui);
            assert_eq!(o.comm.runs().last().unwrap(), &format!("rm -rf {stage}"));
        }
    }
}

#[tokio::test]
async fn a_failing_galaxy_install_stops_before_the_playbook() {
    let fx = Fixture::new();
    let o = provision(json!({
        "playbook_file": fx.local("site.yml"),
        "galaxy_file": fx.local("requirements.yml"),
        "galaxy_command": "exit 3; ",
        "staging_directory": fx.staging(),
        "command": "true",
    }))
    .await;
    assert_eq!(
        error_of(&o),
        ("Error executing Ansible: Error executing Ansible Galaxy: Non-zero exit status: 3")
    );
    assert!(
        !o.comm.runs().iter().any(|c| c.contains(" true ")),
        "{:?}",
        o.comm.runs()
    );
}

#[tokio::test]
async fn a_staging_directory_that_cannot_be_made_is_an_error() {
    let fx = Fixture::new();
    let blocker = fx.dir.path().join("machine/file");
    std::fs::write(&blocker, "").unwrap();
    let o = provision(json!({
        "playbook_file": fx.local("site.yml"),
        "staging_directory": blocker.join("stage").display().to_string(),
    }))
    .await;
    assert_eq!(error_of(&o), "Error creating staging directory: Non-zero exit status. See output above for more information."
    );
    assert!(
        o.ui.iter().any(|l| l.starts_with("error: mkdir")),
        "{:?}",
        o.ui
    );
}

#[tokio::test]
async fn cancelling_stops_the_playbook_and_cleans_up() {
    let fx = Fixture::new();
    let stage = fx.staging();
    let cancel = CancellationToken::new();
    let later = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        later.cancel();
    });
    let started = std::time::Instant::now();
    let o = provision_with(
        json!({
            "playbook_file": fx.local("site.yml"),
            "staging_directory": stage,
            "clean_staging_directory": true,
            "command": "sleep 30; true",
        }),
        BTreeMap::new(),
        cancel,
    )
    .await;
    assert_eq!(error_of(&o), "build was cancelled");
    assert!(started.elapsed().as_secs() < 10);
    assert!(!Path::new(&stage).exists(), "the staging directory is left");
}

#[test]
fn the_generated_inventory_lists_localhost_under_each_group() {
    assert_eq!(super::inventory_content(&[]), "127.0.0.1");
    assert_eq!(
        super::inventory_content(&["a".into(), "b".into()]),
        "[a]\n127.0.0.1\n[b]\n127.0.0.1\n"
    );
}
