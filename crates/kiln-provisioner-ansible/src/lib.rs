//! kiln-provisioner-ansible: Packer's `ansible` provisioner. It runs
//! `ansible-playbook` on the machine running kiln against the machine
//! being built. By default Ansible connects to an SSH proxy on loopback
//! ([`proxy`]) that serves its commands and file transfers over the
//! build's own communicator, so it works with SSH, docker and any other
//! communicator; `use_proxy: false` connects it straight to the machine's
//! SSH with the communicator's key.
//!
//! Cleanup: the generated inventory file (unless `keep_inventory_file`),
//! the one-time private key file and the proxy (its listener and
//! connections) are gone when `provision` returns, on success, failure
//! and cancellation alike; cancellation also stops `ansible-playbook` and
//! everything it started (its process group).

mod config;
mod proxy;
mod remote;
mod scp;
mod sftp;
#[cfg(test)]
mod test_support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use std::time::Duration;

use async_trait::async_trait;
use kiln_sdk::communicator::Communicator;
use kiln_sdk::component::BuildError;
use kiln_sdk::generated;
use kiln_sdk::interpolate;
use kiln_sdk::{
    ConfigErrors, PrepareContext, Prepared, ProvisionContext, Provisioner, ProvisionerFactory,
    RawConfig, Ui,
};
use kiln_shell_local::process::{self, Finished, Spawn};

use crate::config::{Config, Connection, ProxyKeyType};

/// Packer's inventory line for Ansible 2 and later.
const INVENTORY_V2: &str =
    "{{ .HostAlias }} ansible_host={{ .Host }} ansible_user={{ .User }} ansible_port={{ .Port }}\n";
/// Packer's inventory line for Ansible 1.
const INVENTORY_V1: &str = "{{ .HostAlias }} ansible_ssh_host={{ .Host }} ansible_ssh_user={{ .User }} ansible_ssh_port={{ .Port }}\n";
/// The generated-data value of builders without an HTTP server.
const HTTP_ADDR_NOT_IMPLEMENTED: &str = "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER";
/// How long `ansible-playbook` gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// Declares the `ansible` provisioner.
pub struct AnsibleProvisionerFactory;

impl ProvisionerFactory for AnsibleProvisionerFactory {
    fn name(&self) -> &'static str {
        "ansible"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Provisioner>>, ConfigErrors> {
        let config = config::prepare(raw, cx)?;
        Ok(Prepared::new(Box::new(Ansible { config })))
    }
}

/// A prepared `ansible` provisioner.
struct Ansible {
    config: Config,
}

/// Where Ansible connects, for the inventory line.
struct Target {
    host: String,
    port: String,
    user: String,
}

/// Writes a private key for Ansible (mode 0600); the file is deleted when
/// the returned path is dropped.
fn write_key_file(pem: &str) -> Result<tempfile::TempPath, BuildError> {
    let mut f = tempfile::Builder::new()
        .prefix("ansible-key")
        .tempfile()
        .map_err(|e| {
            BuildError::msg(format!("cannot create a private key file for Ansible: {e}"))
        })?;
    // tempfile creates it 0600.
    f.write_all(pem.as_bytes())
        .and_then(|_| f.flush())
        .map_err(|e| {
            BuildError::msg(format!(
                "cannot write the private key file for Ansible: {e}"
            ))
        })?;
    Ok(f.into_temp_path())
}

/// Go's `%q` for a plain string: double quotes, backslash escapes.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `name` appears in any argument (Packer's `checkArg`).
fn has_arg(name: &str, args: &[String]) -> bool {
    args.iter().any(|a| a.contains(name))
}

impl Ansible {
    /// The proxy's listener: `local_port` and the nine after it, or a port
    /// the system picks.
    async fn listen(&self, ui: &dyn Ui) -> Result<tokio::net::TcpListener, BuildError> {
        let first = self.config.local_port;
        let ports: Vec<u16> = if first == 0 {
            vec![0]
        } else {
            (0..10).filter_map(|i| first.checked_add(i)).collect()
        };
        for port in ports {
            match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                Ok(l) => return Ok(l),
                Err(e) => ui.say(&format!("cannot listen on 127.0.0.1:{port}: {e}")),
            }
        }
        Err(BuildError::msg(format!(
            "cannot set up the SSH proxy: no free port among the ten from `local_port` {first}"
        )))
    }

    /// Renders the inventory line and writes the inventory file.
    fn write_inventory(
        &self,
        ctx: &interpolate::Context,
        target: &Target,
        conn_type: &str,
        connection: Connection,
    ) -> Result<tempfile::TempPath, BuildError> {
        let c = &self.config;
        let template = match &c.inventory_file_template {
            Some(t) => t.as_str(),
            None if connection == Connection::Direct && conn_type == "winrm" => {
                "{{ .HostAlias}} ansible_host={{ .Host }} ansible_connection=winrm ansible_winrm_transport=basic ansible_shell_type=powershell ansible_user={{ .User}} ansible_port={{ .Port }}\n"
            }
            None if c.ansible_major_version.is_some_and(|v| v < 2) => INVENTORY_V1,
            None => INVENTORY_V2,
        };
        let data = ctx.with_data([
            ("HostAlias", serde_json::Value::String(c.host_alias.clone())),
            ("Host", serde_json::Value::String(target.host.clone())),
            ("Port", serde_json::Value::String(target.port.clone())),
            ("User", serde_json::Value::String(target.user.clone())),
        ]);
        let host = interpolate::render(template, &data).map_err(|e| {
            BuildError::msg(format!(
                "cannot make the inventory from `inventory_file_template`: {e}"
            ))
        })?;
        let mut body = host.clone();
        for g in &c.groups {
            body.push_str(&format!("[{g}]\n{host}"));
        }
        for g in &c.empty_groups {
            body.push_str(&format!("[{g}]\n"));
        }
        let dir = c
            .inventory_directory
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let mut f = tempfile::Builder::new()
            .prefix("packer-provisioner-ansible")
            .tempfile_in(&dir)
            .map_err(|e| {
                BuildError::msg(format!(
                    "cannot create the inventory file in `{}`: {e}",
                    dir.display()
                ))
            })?;
        f.write_all(body.as_bytes())
            .and_then(|_| f.flush())
            .map_err(|e| BuildError::msg(format!("cannot write the inventory file: {e}")))?;
        Ok(f.into_temp_path())
    }

    /// `ansible-galaxy` for the roles and collections of `galaxy_file`,
    /// as Packer decides which to install.
    async fn galaxy(
        &self,
        galaxy_file: &Path,
        cx: &ProvisionContext<'_>,
    ) -> Result<(), BuildError> {
        let c = &self.config;
        let text = std::fs::read_to_string(galaxy_file).map_err(|e| {
            BuildError::msg(format!(
                "cannot read `galaxy_file` `{}`: {e}",
                galaxy_file.display()
            ))
        })?;
        let starts = |kw: &str| text.lines().any(|l| l.starts_with(kw));
        let (has_roles, has_collections) = (starts("roles:"), starts("collections:"));
        let file = galaxy_file.display().to_string();
        let mut runs = Vec::new();
        if has_roles || !has_collections {
            let mut args = vec!["install".to_string(), "-r".into(), file.clone()];
            if c.galaxy_force_install {
                args.push("-f".into());
            }
            if let Some(p) = &c.roles_path {
                args.extend(["-p".into(), p.clone()]);
            }
            runs.push(args);
        }
        if has_collections {
            let mut args = vec![
                "collection".to_string(),
                "install".into(),
                "-r".into(),
                file.clone(),
            ];
            if c.galaxy_force_install {
                args.push("-f".into());
            }
            if let Some(p) = &c.collections_path {
                args.extend(["-p".into(), p.clone()]);
            }
            runs.push(args);
        }
        for args in runs {
            cx.ui.message("Executing Ansible Galaxy");
            let mut argv = vec![c.galaxy_command.clone()];
            argv.extend(args);
            let finished = process::run(
                Spawn {
                    argv: &argv,
                    env: &[],
                    kill_grace: KILL_GRACE,
                },
                cx.ui,
                &cx.cancel,
            )
            .await
            .map_err(|e| BuildError::msg(format!("cannot run `{}`: {e}", c.galaxy_command)))?;
            match finished {
                Finished::Exited(0) => {}
                Finished::Exited(code) => {
                    return Err(BuildError::msg(format!(
                        "Error executing Ansible Galaxy: Non-zero exit status: exit status {code}"
                    )))
                }
                Finished::Cancelled => return Err(BuildError::Cancelled),
            }
        }
        Ok(())
    }

    /// Packer's `createCmdArgs`: the arguments and the added environment.
    fn command_args(
        &self,
        generated: &BTreeMap<String, String>,
        extra_arguments: &[String],
        inventory: &str,
        key_file: Option<&Path>,
        connection: Connection,
    ) -> Vec<String> {
        let c = &self.config;
        let conn_type = generated
            .get(generated::CONN_TYPE)
            .map(String::as_str)
            .unwrap_or_default();
        let mut args = Vec::new();
        if !c.build_name.is_empty() {
            args.extend([
                "-e".to_string(),
                format!("packer_build_name={}", go_quote(&c.build_name)),
            ]);
        }
        args.extend([
            "-e".to_string(),
            format!("packer_builder_type={}", c.builder_type),
        ]);
        if let Some(addr) = generated
            .get(generated::PACKER_HTTP_ADDR)
            .filter(|a| *a != HTTP_ADDR_NOT_IMPLEMENTED)
        {
            args.extend(["-e".to_string(), format!("packer_http_addr={addr}")]);
        }
        if conn_type == "ssh" && key_file.is_some() {
            let extra = if c.ansible_ssh_extra_args.is_empty() {
                "-o IdentitiesOnly=yes".to_string()
            } else {
                c.ansible_ssh_extra_args.concat()
            };
            args.extend(["--ssh-extra-args".to_string(), format!("'{extra}'")]);
        }
        args.extend(extra_arguments.iter().cloned());
        if !has_arg("ansible_password", &args)
            && connection == Connection::Direct
            && conn_type == "winrm"
        {
            let pw = generated
                .get(generated::PASSWORD)
                .cloned()
                .unwrap_or_default();
            args.extend(["-e".to_string(), format!("ansible_password={pw}")]);
        }
        if let Some(k) = key_file {
            if !has_arg("ansible_password", &args) {
                args.extend([
                    "-e".to_string(),
                    format!("ansible_ssh_private_key_file={}", k.display()),
                ]);
            }
        }
        if has_arg("ansible_password", &args)
            && conn_type == "ssh"
            && !has_arg("ansible_host_key_checking", &args)
            && !has_arg("ANSIBLE_HOST_KEY_CHECKING", &c.ansible_env_vars)
        {
            args.extend(["-e".to_string(), "ansible_host_key_checking=False".into()]);
        }
        let playbook = std::path::absolute(&c.playbook_file).unwrap_or(c.playbook_file.clone());
        args.extend([
            "-i".to_string(),
            inventory.to_string(),
            playbook.display().to_string(),
        ]);
        args
    }

    /// Generates the proxy's user key (or reads `ssh_authorized_key_file`)
    /// and its host key, starts it, and returns it with the private key
    /// file Ansible should use.
    async fn start_proxy(
        &self,
        ui: &dyn Ui,
        remote: remote::Remote,
    ) -> Result<(proxy::Proxy, u16, Option<tempfile::TempPath>), BuildError> {
        use kiln_ssh::config::KeyPairType;
        let c = &self.config;
        ui.message("Setting up proxy adapter for Ansible....");
        let (user_key, key_file) = match &c.ssh_authorized_key_file {
            Some(path) => {
                let key = russh::keys::load_public_key(path).map_err(|e| {
                    BuildError::msg(format!(
                        "cannot read the public key in `ssh_authorized_key_file` `{}`: {e}",
                        path.display()
                    ))
                })?;
                (key, None)
            }
            None => {
                let kind = match c.proxy_key_type {
                    ProxyKeyType::Rsa => KeyPairType::Rsa(2048),
                    ProxyKeyType::Ed25519 => KeyPairType::Ed25519,
                };
                let pair = kiln_ssh::TemporaryKeyPair::generate(kind, "kiln-ansible-proxy", None)
                    .map_err(|e| BuildError::msg(e.to_string()))?;
                let file = write_key_file(pair.private_openssh.expose())?;
                (pair.private.public_key().clone(), Some(file))
            }
        };
        let host_key = match &c.ssh_host_key_file {
            Some(path) => russh::keys::load_secret_key(path, None).map_err(|e| {
                BuildError::msg(format!(
                    "cannot read the private key in `ssh_host_key_file` `{}`: {e}",
                    path.display()
                ))
            })?,
            None => {
                kiln_ssh::TemporaryKeyPair::generate(
                    KeyPairType::Ed25519,
                    "kiln-ansible-host",
                    None,
                )
                .map_err(|e| BuildError::msg(e.to_string()))?
                .private
            }
        };
        let listener = self.listen(ui).await?;
        let port = listener
            .local_addr()
            .map_err(|e| BuildError::msg(format!("cannot read the SSH proxy's address: {e}")))?
            .port();
        let proxy = proxy::Proxy::start(
            listener,
            host_key,
            proxy::Access {
                user: c.user.clone(),
                key: user_key,
            },
            remote,
        );
        Ok((proxy, port, key_file))
    }
}

/// Renders each of `values` with the run-time context.
fn render_all(
    key: &str,
    values: &[String],
    ctx: &interpolate::Context,
) -> Result<Vec<String>, BuildError> {
    values
        .iter()
        .map(|v| {
            interpolate::render(v, ctx)
                .map_err(|e| BuildError::msg(format!("cannot interpolate `{key}`: {e}")))
        })
        .collect()
}

#[async_trait]
impl Provisioner for Ansible {
    async fn provision(
        &self,
        cx: ProvisionContext<'_>,
        comm: &dyn Communicator,
    ) -> Result<(), BuildError> {
        let c = &self.config;
        let ui = cx.ui;
        ui.say("Provisioning with Ansible...");
        let generated: &BTreeMap<String, String> = cx.generated;
        let ctx = cx.interpolation.with_generated(generated);
        let env_vars = render_all("ansible_env_vars", &c.ansible_env_vars, &ctx)?;
        let extra_arguments = render_all("extra_arguments", &c.extra_arguments, &ctx)?;
        let get = |k: &str| generated.get(k).cloned().unwrap_or_default();
        let conn_type = get(generated::CONN_TYPE);

        let mut connection = c.connection;
        if connection == Connection::Direct {
            if get(generated::HOST).is_empty() {
                ui.error("Warning: use_proxy is false, but instance does not have an IP address to give to Ansible. Falling back to use localhost proxy.");
                connection = Connection::Proxy;
            }
            if conn_type != "ssh" && conn_type != "winrm" {
                ui.error("Warning: use_proxy is false, but communicator is neither ssh nor winrm, so without the proxy ansible will not function. Falling back to localhost proxy.");
                connection = Connection::Proxy;
            }
        }

        let (remote, jobs) = remote::Remote::channel();
        let (_proxy, target, key_file) = match connection {
            Connection::Proxy => {
                let (proxy, port, key) = self.start_proxy(ui, remote).await?;
                let target = Target {
                    host: "127.0.0.1".into(),
                    port: port.to_string(),
                    user: c.user.clone(),
                };
                (Some(proxy), target, key)
            }
            Connection::Direct => {
                drop(remote);
                let mut key = None;
                if conn_type == "ssh" {
                    ui.message("Not using Proxy adapter for Ansible run:\n\tUsing ssh keys from Packer communicator...");
                    let pem = get(generated::SSH_PRIVATE_KEY);
                    if !pem.is_empty() {
                        key = Some(write_key_file(&pem)?);
                    }
                } else {
                    ui.message("Not using Proxy adapter for Ansible run:\n\tUsing WinRM Password from Packer communicator...");
                }
                let user = if c.user_was_empty && conn_type == "ssh" {
                    get(generated::USER)
                } else {
                    c.user.clone()
                };
                let target = Target {
                    host: get(generated::HOST),
                    port: get(generated::PORT),
                    user,
                };
                (None, target, key)
            }
        };

        let mut _inventory_guard = None;
        let inventory = match &c.inventory_file {
            Some(f) => f.clone(),
            None => {
                let path = self.write_inventory(&ctx, &target, &conn_type, connection)?;
                let shown = path.display().to_string();
                if c.keep_inventory_file {
                    path.keep().map_err(|e| {
                        BuildError::msg(format!("cannot keep the inventory file: {e}"))
                    })?;
                } else {
                    _inventory_guard = Some(path);
                }
                shown
            }
        };

        let executor = remote::Executor { comm, ui };
        let work = async {
            if let Some(g) = &c.galaxy_file {
                self.galaxy(g, &cx).await?;
            }
            let mut args = self.command_args(
                generated,
                &extra_arguments,
                &inventory,
                key_file.as_deref(),
                connection,
            );
            // `user` differs from the communicator's when connecting
            // straight; the inventory carries it.
            let mut argv = vec![c.command.clone()];
            argv.append(&mut args);
            let mut shown = argv.join(" ");
            for secret in [get(generated::WINRM_PASSWORD), get(generated::PASSWORD)] {
                if !secret.is_empty() && has_arg("ansible_password", &argv) {
                    shown = shown.replace(&secret, "*****");
                }
            }
            ui.say(&format!("Executing Ansible: {shown}"));
            let env: Vec<(String, String)> = env_vars
                .iter()
                .filter_map(|v| {
                    v.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                })
                .collect();
            let finished = process::run(
                Spawn {
                    argv: &argv,
                    env: &env,
                    kill_grace: KILL_GRACE,
                },
                ui,
                &cx.cancel,
            )
            .await
            .map_err(|e| BuildError::msg(format!("cannot run `{}`: {e}", c.command)))?;
            match finished {
                Finished::Exited(0) => Ok(()),
                Finished::Exited(code) => Err(BuildError::msg(format!(
                    "Error executing Ansible: Non-zero exit status: exit status {code}"
                ))),
                Finished::Cancelled => Err(BuildError::Cancelled),
            }
        };
        tokio::pin!(work);
        // Without the proxy nothing sends jobs and the executor ends at once.
        tokio::select! {
            r = &mut work => r,
            () = executor.run(jobs) => work.await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ansible(v: serde_json::Value) -> Ansible {
        let cx = kiln_test::build_cx("web", "docker");
        Ansible {
            config: config::prepare(&RawConfig::from_value(v), &cx).unwrap(),
        }
    }

    fn playbook() -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), "- hosts: all\n").unwrap();
        f
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
    }

    #[test]
    fn builds_packer_s_command_line() {
        let pb = playbook();
        let a = ansible(serde_json::json!({
            "playbook_file": pb.path(),
            "skip_version_check": true,
            "extra_arguments": ["-v"],
        }));
        let generated = BTreeMap::from([
            ("ConnType".to_string(), "ssh".to_string()),
            ("PackerHTTPAddr".to_string(), "10.0.2.2:8080".to_string()),
        ]);
        let key = write_key_file("k").unwrap();
        let args = a.command_args(
            &generated,
            &["-v".into()],
            "/tmp/inv",
            Some(&key),
            Connection::Proxy,
        );
        let want = [
            "-e".to_string(),
            "packer_build_name=\"web\"".into(),
            "-e".into(),
            "packer_builder_type=docker".into(),
            "-e".into(),
            "packer_http_addr=10.0.2.2:8080".into(),
            "--ssh-extra-args".into(),
            "'-o IdentitiesOnly=yes'".into(),
            "-v".into(),
            "-e".into(),
            format!(
                "ansible_ssh_private_key_file={}",
                key.to_path_buf().display()
            ),
            "-i".into(),
            "/tmp/inv".into(),
            pb.path().display().to_string(),
        ];
        assert_eq!(args, want);
        // Docker: no ssh extra args, no http address when not implemented.
        let generated = BTreeMap::from([
            ("ConnType".to_string(), "docker".to_string()),
            (
                "PackerHTTPAddr".to_string(),
                HTTP_ADDR_NOT_IMPLEMENTED.to_string(),
            ),
        ]);
        let args = a.command_args(&generated, &[], "/tmp/inv", None, Connection::Proxy);
        assert_eq!(args[..4], want[..4]);
        assert_eq!(
            args[4..],
            ["-i", "/tmp/inv", &pb.path().display().to_string()]
        );
    }

    #[test]
    fn writes_the_inventory_with_groups() {
        let pb = playbook();
        let dir = tempfile::tempdir().unwrap();
        let a = ansible(serde_json::json!({
            "playbook_file": pb.path(),
            "skip_version_check": true,
            "groups": ["web", "db"],
            "empty_groups": ["spare"],
            "host_alias": "box",
            "inventory_directory": dir.path(),
        }));
        let target = Target {
            host: "127.0.0.1".into(),
            port: "2222".into(),
            user: "deploy".into(),
        };
        let path = a
            .write_inventory(&Default::default(), &target, "ssh", Connection::Proxy)
            .unwrap();
        assert!(path.starts_with(dir.path()));
        let line = "box ansible_host=127.0.0.1 ansible_user=deploy ansible_port=2222\n";
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{line}[web]\n{line}[db]\n{line}[spare]\n")
        );
    }
}
