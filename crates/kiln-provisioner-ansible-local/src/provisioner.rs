//! Running `ansible-local` (Packer 1.6.6's `Provision`): the staging
//! directory is made (or filled from `playbook_dir`), the playbooks,
//! the galaxy file, the inventory (given, or generated: `127.0.0.1`,
//! under each of `inventory_groups`), `group_vars`, `host_vars`,
//! `role_paths` and `playbook_paths` are uploaded into it through the
//! communicator, `ansible-galaxy install` runs when there is a galaxy
//! file, then `ansible-playbook -c local` for each playbook, from the
//! staging directory.
//!
//! Cleanup: with `clean_staging_directory`, the staging directory is
//! removed after the playbooks ran, as in Packer, and also when a step
//! failed or the run was cancelled after it was made (Packer leaves it
//! then). Without it, the staging directory stays on the machine, as in
//! Packer. Nothing is written locally: the generated inventory is
//! uploaded from memory.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::communicator::{shell_quote, Communicator, ExitStatus, FileMeta};
use kiln_sdk::component::BuildError;
use kiln_sdk::{generated, ProvisionContext, Provisioner, Ui};

use crate::config::{Config, Playbooks};
use crate::paths;

/// What Packer's `generatedData["PackerHTTPAddr"]` holds for a builder
/// without an HTTP server.
pub const HTTP_ADDR_NOT_IMPLEMENTED: &str = "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER";

/// The prefix of the generated inventory's name (Packer's temporary file,
/// uploaded under its base name).
const INVENTORY_PREFIX: &str = "packer-provisioner-ansible-local";

/// How long removing the staging directory after a failure may take: the
/// machine may be gone.
const FAILURE_CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The generated inventory: `127.0.0.1` alone, or under each group.
pub fn inventory_content(groups: &[String]) -> String {
    if groups.is_empty() {
        return "127.0.0.1".to_string();
    }
    groups
        .iter()
        .map(|g| format!("[{g}]\n127.0.0.1\n"))
        .collect()
}

/// A name like Go's `ioutil.TempFile(prefix)` gives:
/// `packer-provisioner-ansible-local` and a random number.
fn generated_inventory_name() -> String {
    let n = uuid::Uuid::new_v4().as_u128() as u32;
    format!("{INVENTORY_PREFIX}{n}")
}

/// The playbook's path on the machine.
fn remote_playbook(staging: &str, playbook: &Playbooks, dir: Option<&str>) -> Vec<String> {
    match playbook {
        Playbooks::File(f) => vec![paths::join(&[staging, &paths::base(f)])],
        Playbooks::Files(files) => files
            .iter()
            .map(|f| {
                let rel = dir.and_then(|d| paths::inside(f, d)).unwrap_or(f);
                paths::join(&[staging, rel])
            })
            .collect(),
    }
}

impl Config {
    /// ` --extra-vars "packer_build_name=… packer_builder_type=…
    /// packer_http_addr=… -o IdentitiesOnly=yes" ` and the user's
    /// `extra_arguments`, exactly as Packer 1.6.6 builds it (the `-o
    /// IdentitiesOnly=yes` inside the quotes included).
    pub fn extra_args(&self, http_addr: &str) -> String {
        let mut args = format!(
            " --extra-vars \"packer_build_name={} packer_builder_type={} packer_http_addr={http_addr} -o IdentitiesOnly=yes\" ",
            self.build_name, self.builder_type
        );
        args.push_str(&self.extra_arguments.join(" "));
        args
    }

    /// The command that runs one playbook.
    pub fn playbook_command(&self, playbook: &str, extra_args: &str, inventory: &str) -> String {
        format!(
            "cd {} && {} {playbook}{extra_args} -c local -i {inventory}",
            self.staging_directory, self.command
        )
    }

    /// The command that installs the galaxy file's roles into
    /// `<staging>/roles`.
    pub fn galaxy_install_command(&self, galaxy_file: &str) -> String {
        let staging = &self.staging_directory;
        format!(
            "cd {staging} && {} install -r {} -p {}",
            self.galaxy_command,
            paths::join(&[staging, &paths::base(galaxy_file)]),
            paths::join(&[staging, "roles"])
        )
    }

    /// Every playbook's path on the machine, in run order.
    pub fn remote_playbooks(&self) -> Vec<String> {
        remote_playbook(
            &self.staging_directory,
            &self.playbooks,
            self.playbook_dir_abs.as_deref(),
        )
    }
}

/// A prepared `ansible-local` provisioner.
#[derive(Debug)]
pub struct AnsibleLocal {
    pub(crate) config: Config,
}

fn fail(message: impl std::fmt::Display) -> BuildError {
    BuildError::msg(message)
}

/// Runs `command`, stdout as messages and stderr as errors (Packer's
/// `RunWithUi`).
async fn run_with_ui(
    comm: &dyn Communicator,
    ui: &dyn Ui,
    command: &str,
) -> Result<ExitStatus, String> {
    kiln_sdk::communicator::run_with_ui(comm, ui, command)
        .await
        .map_err(|e| format!("cannot run `{command}`: {e}"))
}

/// Packer's `createDir`: `Creating directory: <dir>`, then `mkdir -p`.
async fn create_dir(comm: &dyn Communicator, ui: &dyn Ui, dir: &str) -> Result<(), String> {
    ui.message(&format!("Creating directory: {dir}"));
    match run_with_ui(comm, ui, &format!("mkdir -p {}", shell_quote(dir))).await? {
        ExitStatus::Code(0) => Ok(()),
        _ => Err("Non-zero exit status. See output above for more information.".into()),
    }
}

/// Packer's `removeDir`: `Removing directory: <dir>`, then `rm -rf`.
async fn remove_dir(comm: &dyn Communicator, ui: &dyn Ui, dir: &str) -> Result<(), String> {
    ui.message(&format!("Removing directory: {dir}"));
    match run_with_ui(comm, ui, &format!("rm -rf {}", shell_quote(dir))).await? {
        ExitStatus::Code(0) => Ok(()),
        _ => Err("Non-zero exit status. See output above for more information.".into()),
    }
}

/// Packer's `uploadDir`: makes `dst`, then uploads the contents of `src`
/// into it.
async fn upload_dir(
    comm: &dyn Communicator,
    ui: &dyn Ui,
    dst: &str,
    src: &str,
) -> Result<(), String> {
    create_dir(comm, ui, dst).await?;
    let src = if src.ends_with('/') {
        src.to_string()
    } else {
        format!("{src}/")
    };
    comm.upload_dir(dst, Path::new(&src), &[])
        .await
        .map_err(|e| format!("cannot upload directory `{src}` to `{dst}`: {e}"))
}

/// Packer's `uploadFile`: streams the local file `src` to `dst`. As in
/// Packer, which passes no file info, the remote file gets the
/// communicator's default mode, not the local one.
async fn upload_file(comm: &dyn Communicator, dst: &str, src: &str) -> Result<(), String> {
    let mut f = tokio::fs::File::open(src)
        .await
        .map_err(|e| format!("cannot open `{src}`: {e}"))?;
    let meta = f
        .metadata()
        .await
        .map_err(|e| format!("cannot read `{src}`: {e}"))?;
    let meta = FileMeta {
        size: Some(meta.len()),
        ..FileMeta::default()
    };
    comm.upload(dst, &mut f, meta)
        .await
        .map_err(|e| format!("cannot upload `{src}` to `{dst}`: {e}"))
}

impl AnsibleLocal {
    /// Everything Packer's `Provision` does, in its order. Sets
    /// `staging_made` once the staging directory may exist.
    async fn run(
        &self,
        cx: &ProvisionContext<'_>,
        comm: &dyn Communicator,
        staging_made: &AtomicBool,
    ) -> Result<(), BuildError> {
        let c = &self.config;
        let ui = cx.ui;
        let staging = c.staging_directory.as_str();
        ui.say("Provisioning with Ansible...");

        staging_made.store(true, Ordering::SeqCst);
        if let Some(dir) = &c.playbook_dir {
            ui.message("Uploading Playbook directory to Ansible staging directory...");
            upload_dir(comm, ui, staging, dir)
                .await
                .map_err(|e| fail(format!("Error uploading playbook_dir directory: {e}")))?;
        } else {
            ui.message("Creating Ansible staging directory...");
            create_dir(comm, ui, staging)
                .await
                .map_err(|e| fail(format!("Error creating staging directory: {e}")))?;
        }

        match &c.playbooks {
            Playbooks::File(src) => {
                ui.message("Uploading main Playbook file...");
                let dst = paths::join(&[staging, &paths::base(src)]);
                upload_file(comm, &dst, src)
                    .await
                    .map_err(|e| fail(format!("Error uploading main playbook: {e}")))?;
            }
            Playbooks::Files(files) => {
                for file in files {
                    let in_playbook_dir = c
                        .playbook_dir_abs
                        .as_deref()
                        .and_then(|d| paths::inside(file, d))
                        .is_some();
                    if in_playbook_dir {
                        continue;
                    }
                    ui.message(&format!("Uploading playbook file: {file}"));
                    let remote_dir = paths::join(&[staging, &paths::dir(file)]);
                    create_dir(comm, ui, &remote_dir).await.map_err(|e| {
                        fail(format!("Error uploading playbook file: {file} [{e}]"))
                    })?;
                    let dst = paths::join(&[staging, file]);
                    upload_file(comm, &dst, file)
                        .await
                        .map_err(|e| fail(format!("Error uploading playbook: {file} [{e}]")))?;
                }
            }
        }

        if let Some(src) = &c.galaxy_file {
            ui.message("Uploading galaxy file...");
            let dst = paths::join(&[staging, &paths::base(src)]);
            upload_file(comm, &dst, src)
                .await
                .map_err(|e| fail(format!("Error uploading galaxy file: {e}")))?;
        }

        ui.message("Uploading inventory file...");
        let inventory = match &c.inventory_file {
            Some(src) => {
                let dst = paths::join(&[staging, &paths::base(src)]);
                upload_file(comm, &dst, src)
                    .await
                    .map_err(|e| fail(format!("Error uploading inventory file: {e}")))?;
                dst
            }
            None => {
                let dst = paths::join(&[staging, &generated_inventory_name()]);
                let content = inventory_content(&c.inventory_groups);
                let meta = FileMeta {
                    size: Some(content.len() as u64),
                    ..FileMeta::default()
                };
                comm.upload(&dst, &mut content.as_bytes(), meta)
                    .await
                    .map_err(|e| {
                        fail(format!(
                            "Error uploading inventory file: cannot upload the generated inventory to `{dst}`: {e}"
                        ))
                    })?;
                dst
            }
        };

        for (src, name, what) in [
            (&c.group_vars, "group_vars", "group_vars"),
            (&c.host_vars, "host_vars", "host_vars"),
        ] {
            if let Some(src) = src {
                ui.message(&format!("Uploading {what} directory..."));
                let dst = paths::join(&[staging, name]);
                upload_dir(comm, ui, &dst, src)
                    .await
                    .map_err(|e| fail(format!("Error uploading {what} directory: {e}")))?;
            }
        }

        if !c.role_paths.is_empty() {
            ui.message("Uploading role directories...");
            for src in &c.role_paths {
                let dst = paths::join(&[staging, "roles", &paths::base(src)]);
                upload_dir(comm, ui, &dst, src)
                    .await
                    .map_err(|e| fail(format!("Error uploading roles: {e}")))?;
            }
        }

        if !c.playbook_paths.is_empty() {
            ui.message("Uploading additional Playbooks...");
            let playbook_dir = paths::join(&[staging, "playbooks"]);
            create_dir(comm, ui, &playbook_dir)
                .await
                .map_err(|e| fail(format!("Error creating playbooks directory: {e}")))?;
            for src in &c.playbook_paths {
                let dst = paths::join(&[&playbook_dir, &paths::base(src)]);
                upload_dir(comm, ui, &dst, src)
                    .await
                    .map_err(|e| fail(format!("Error uploading playbooks: {e}")))?;
            }
        }

        self.execute(cx, comm, &inventory)
            .await
            .map_err(|e| fail(format!("Error executing Ansible: {e}")))?;

        if c.clean_staging_directory {
            ui.message("Removing staging directory...");
            remove_dir(comm, ui, staging)
                .await
                .map_err(|e| fail(format!("Error removing staging directory: {e}")))?;
            staging_made.store(false, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Packer's `executeAnsible`: galaxy, then each playbook.
    async fn execute(
        &self,
        cx: &ProvisionContext<'_>,
        comm: &dyn Communicator,
        inventory: &str,
    ) -> Result<(), String> {
        let c = &self.config;
        let ui = cx.ui;
        let http_addr = cx
            .generated
            .get(generated::PACKER_HTTP_ADDR)
            .map_or(HTTP_ADDR_NOT_IMPLEMENTED, String::as_str);
        let extra_args = c.extra_args(http_addr);

        if let Some(galaxy_file) = &c.galaxy_file {
            let command = c.galaxy_install_command(galaxy_file);
            ui.message(&format!("Executing Ansible Galaxy: {command}"));
            let status = run_with_ui(comm, ui, &command)
                .await
                .map_err(|e| format!("Error executing Ansible Galaxy: {e}"))?;
            if status != ExitStatus::Code(0) {
                return Err(format!(
                    "Error executing Ansible Galaxy: Non-zero exit status: {}",
                    status.code()
                ));
            }
        }

        for playbook in c.remote_playbooks() {
            let command = c.playbook_command(&playbook, &extra_args, inventory);
            ui.message(&format!("Executing Ansible: {command}"));
            match run_with_ui(comm, ui, &command).await? {
                ExitStatus::Code(0) => {}
                ExitStatus::Code(127) => {
                    return Err(format!(
                        "{} could not be found. Verify that it is available on the\nPATH after connecting to the machine.",
                        c.command
                    ))
                }
                s => return Err(format!("Non-zero exit status: {}", s.code())),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Provisioner for AnsibleLocal {
    async fn provision(
        &self,
        cx: ProvisionContext<'_>,
        comm: &dyn Communicator,
    ) -> Result<(), BuildError> {
        let staging_made = AtomicBool::new(false);
        let result = tokio::select! {
            r = self.run(&cx, comm, &staging_made) => r,
            _ = cx.cancel.cancelled() => Err(BuildError::Cancelled),
        };
        if result.is_err()
            && self.config.clean_staging_directory
            && staging_made.load(Ordering::SeqCst)
        {
            cx.ui.message("Removing staging directory...");
            let removed = tokio::time::timeout(
                FAILURE_CLEANUP_TIMEOUT,
                remove_dir(comm, cx.ui, &self.config.staging_directory),
            )
            .await
            .unwrap_or_else(|_| Err(format!("timed out after {FAILURE_CLEANUP_TIMEOUT:?}")));
            if let Err(e) = removed {
                cx.ui
                    .error(&format!("Error removing staging directory: {e}"));
            }
        }
        result
    }
}

#[cfg(test)]
mod tests;
