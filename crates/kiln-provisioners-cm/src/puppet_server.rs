//! The `puppet-server` provisioner (Packer 1.6.6's
//! `provisioner/puppet-server`): creates a staging directory on the guest,
//! uploads `client_cert_path` (`certs/`) and `client_private_key_path`
//! (`private_keys/`) when given, then runs `puppet agent --onetime
//! --no-daemonize` against `puppet_server` through `execute_command`,
//! rendered at run time with `{{.WorkingDir}}`, `{{.FacterVars}}`,
//! `{{.Sudo}}`, `{{.PuppetBinDir}}`, `{{.PuppetServer}}`,
//! `{{.PuppetNode}}`, `{{.ClientCertPath}}`, `{{.ClientPrivateKeyPath}}`
//! and `{{.ExtraArguments}}`. Exit codes 0 and 2 succeed.
//!
//! Cleanup: with `clean_staging_directory`, the staging directory (with
//! the uploaded certificates and keys) is removed after a successful run.

use std::collections::BTreeMap;

use kiln_sdk::communicator::Communicator;
use kiln_sdk::{
    ConfigError, ConfigErrors, PrepareContext, Prepared, ProvisionContext, Provisioner,
    ProvisionerFactory, RawConfig,
};
use serde::Deserialize;

use crate::provisioner;
use crate::puppet::{self, Puppet};
use crate::staging::{self, Kind, SEE_OUTPUT};

/// Packer's unix `execute_command`.
pub const UNIX_EXECUTE_COMMAND: &str = concat!(
    "cd {{.WorkingDir}} && ",
    r#"{{if ne .FacterVars ""}}{{.FacterVars}} {{end}}"#,
    "{{if .Sudo}}sudo -E {{end}}",
    r#"{{if ne .PuppetBinDir ""}}{{.PuppetBinDir}}/{{end}}"#,
    "puppet agent --onetime --no-daemonize --detailed-exitcodes ",
    "{{if .Debug}}--debug {{end}}",
    r#"{{if ne .PuppetServer ""}}--server='{{.PuppetServer}}' {{end}}"#,
    r#"{{if ne .PuppetNode ""}}--certname='{{.PuppetNode}}' {{end}}"#,
    r#"{{if ne .ClientCertPath ""}}--certdir='{{.ClientCertPath}}' {{end}}"#,
    r#"{{if ne .ClientPrivateKeyPath ""}}--privatekeydir='{{.ClientPrivateKeyPath}}' {{end}}"#,
    r#"{{if ne .ExtraArguments ""}}{{.ExtraArguments}} {{end}}"#
);

/// Packer's windows `execute_command`.
pub const WINDOWS_EXECUTE_COMMAND: &str = concat!(
    "cd {{.WorkingDir}} && ",
    r#"{{if ne .FacterVars ""}}{{.FacterVars}} && {{end}}"#,
    r#"{{if ne .PuppetBinDir ""}}{{.PuppetBinDir}}/{{end}}"#,
    "puppet agent --onetime --no-daemonize --detailed-exitcodes ",
    "{{if .Debug}}--debug {{end}}",
    r#"{{if ne .PuppetServer ""}}--server='{{.PuppetServer}}' {{end}}"#,
    r#"{{if ne .PuppetNode ""}}--certname='{{.PuppetNode}}' {{end}}"#,
    r#"{{if ne .ClientCertPath ""}}--certdir='{{.ClientCertPath}}' {{end}}"#,
    r#"{{if ne .ClientPrivateKeyPath ""}}--privatekeydir='{{.ClientPrivateKeyPath}}' {{end}}"#,
    r#"{{if ne .ExtraArguments ""}}{{.ExtraArguments}} {{end}}"#
);

const RUN_TIME_KEYS: [&str; 2] = ["execute_command", "extra_arguments"];

/// Declares the `puppet-server` provisioner.
pub struct PuppetServerProvisionerFactory;

/// The keys of a `puppet-server` block: every key Packer 1.6.6 takes
/// (its staging key is `staging_dir`, not `staging_directory`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Fields {
    clean_staging_directory: bool,
    client_cert_path: String,
    client_private_key_path: String,
    execute_command: String,
    extra_arguments: Vec<String>,
    facter: BTreeMap<String, String>,
    guest_os_type: String,
    ignore_exit_codes: bool,
    prevent_sudo: bool,
    puppet_bin_dir: String,
    puppet_node: String,
    puppet_server: String,
    staging_dir: String,
    working_directory: String,
    elevated_user: String,
    elevated_password: String,
}

/// A prepared `puppet-server` provisioner.
#[derive(Debug, Clone)]
struct PuppetServer {
    puppet: Puppet,
    client_cert_path: String,
    client_private_key_path: String,
    puppet_node: String,
    puppet_server: String,
}

/// Checks a local directory key (`what` names it in the message).
fn check_dir(key: &str, what: &str, path: &str, errors: &mut ConfigErrors) {
    if path.is_empty() {
        return;
    }
    match staging::stat(path) {
        Err(why) => errors.push(ConfigError::at(key, format!("bad {what} `{path}`: {why}"))),
        Ok(Kind::File) => errors.push(ConfigError::at(
            key,
            format!("must point to a directory; `{path}` is a file"),
        )),
        Ok(Kind::Dir) => {}
    }
}

impl ProvisionerFactory for PuppetServerProvisionerFactory {
    fn name(&self) -> &'static str {
        "puppet-server"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Provisioner>>, ConfigErrors> {
        let (f, mut errors) = kiln_sdk::config::decode_prepared::<Fields>(raw, cx, &RUN_TIME_KEYS)?;
        let os = provisioner::guest_os_type(&f.guest_os_type, &mut errors);
        puppet::check_run_time_syntax(&f.execute_command, &f.extra_arguments, &mut errors);
        check_dir(
            "client_cert_path",
            "client cert directory",
            &f.client_cert_path,
            &mut errors,
        );
        check_dir(
            "client_private_key_path",
            "client private key directory",
            &f.client_private_key_path,
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(errors.locate(raw));
        }

        let puppet = Puppet::new(
            cx,
            os,
            "packer-puppet-server",
            [UNIX_EXECUTE_COMMAND, WINDOWS_EXECUTE_COMMAND],
            puppet::keys!(f, staging_dir),
        );
        Ok(Prepared::new(Box::new(PuppetServer {
            puppet,
            client_cert_path: f.client_cert_path,
            client_private_key_path: f.client_private_key_path,
            puppet_node: f.puppet_node,
            puppet_server: f.puppet_server,
        })))
    }
}

impl PuppetServer {
    async fn run(&self, cx: &ProvisionContext<'_>, comm: &dyn Communicator) -> Result<(), String> {
        let guest = self.puppet.guest(cx, comm);
        self.puppet.create_staging_dir(&guest, SEE_OUTPUT).await?;

        let staging = &self.puppet.staging_dir;
        let remote_cert_path = guest
            .upload_optional_dir(
                staging,
                (&self.client_cert_path, "certs"),
                "client cert",
                true,
                SEE_OUTPUT,
            )
            .await?;
        let remote_key_path = guest
            .upload_optional_dir(
                staging,
                (&self.client_private_key_path, "private_keys"),
                "client private keys",
                true,
                SEE_OUTPUT,
            )
            .await?;

        let data = self.puppet.data([
            ("ClientCertPath", remote_cert_path.into()),
            ("ClientPrivateKeyPath", remote_key_path.into()),
            ("PuppetNode", self.puppet_node.clone().into()),
            ("PuppetServer", self.puppet_server.clone().into()),
        ]);
        // Packer returns a failure to start the command as it is, unwrapped.
        self.puppet.execute(&guest, cx, data, None).await
    }
}

provisioner::provision_by_run!(PuppetServer);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{errors, prepare, provision, FakeGuest};
    use serde_json::json;

    #[test]
    fn an_empty_config_is_valid() {
        assert!(errors(&PuppetServerProvisionerFactory, json!({})).is_empty());
    }

    #[test]
    fn reports_every_error_at_once() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("cert.pem");
        std::fs::write(&file, "x").unwrap();
        let file = file.display().to_string();
        let e = errors(
            &PuppetServerProvisionerFactory,
            json!({
                "client_cert_path": "/nonexistent/certs",
                "client_private_key_path": file,
                "guest_os_type": "plan9",
                "staging_directory": "/x"
            }),
        );
        assert_eq!(
            e,
            [
                "`staging_directory`: unknown configuration key `staging_directory`\n  hint: did you mean `staging_dir`?".to_string(),
                "`guest_os_type`: invalid guest_os_type `plan9`\n  hint: `unix` or `windows`".to_string(),
                "`client_cert_path`: bad client cert directory `/nonexistent/certs`: no such file or directory".to_string(),
                format!("`client_private_key_path`: must point to a directory; `{file}` is a file"),
            ]
        );
    }

    #[tokio::test]
    async fn runs_puppet_agent_with_packers_defaults() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().display().to_string();
        let p = prepare(
            &PuppetServerProvisionerFactory,
            json!({
                "puppet_server": "puppet.example.com",
                "puppet_node": "node-{{user `env`}}",
                "client_cert_path": dir,
                "client_private_key_path": dir,
                "facter": {"tier": "db"},
                "extra_arguments": ["--environment {{user `env`}}"],
                "clean_staging_directory": true
            }),
        );
        let guest = FakeGuest::default();
        let ui = provision(p.as_ref(), &guest).await.unwrap();
        let s = "/tmp/packer-puppet-server";
        let command = format!(
            "cd {s} && FACTER_packer_build_name='web' FACTER_packer_builder_type='docker' FACTER_tier='db' sudo -E puppet agent --onetime --no-daemonize --detailed-exitcodes --server='puppet.example.com' --certname='node-production' --certdir='{s}/certs' --privatekeydir='{s}/private_keys' --environment production "
        );
        assert_eq!(
            guest.log(),
            [
                format!("run: sudo mkdir -p '{s}'"),
                format!("run: sudo chmod 0777 '{s}'"),
                format!("run: sudo mkdir -p '{s}/certs'"),
                format!("run: sudo chmod 0777 '{s}/certs'"),
                format!("upload_dir: {s}/certs <- {dir}/"),
                format!("run: sudo mkdir -p '{s}/private_keys'"),
                format!("run: sudo chmod 0777 '{s}/private_keys'"),
                format!("upload_dir: {s}/private_keys <- {dir}/"),
                format!("run: {command}"),
                format!("run: sudo rm -rf '{s}'"),
            ]
        );
        assert_eq!(
            ui,
            [
                "say: Provisioning with Puppet...".to_string(),
                "message: Creating Puppet staging directory...".into(),
                format!("message: Creating directory: {s}"),
                format!("message: Uploading client cert from: {dir}"),
                format!("message: Creating directory: {s}/certs"),
                format!("message: Uploading client private keys from: {dir}"),
                format!("message: Creating directory: {s}/private_keys"),
                format!("message: Running Puppet: {command}"),
            ]
        );
    }

    #[tokio::test]
    async fn minimal_run_and_failures() {
        let p = prepare(
            &PuppetServerProvisionerFactory,
            json!({"prevent_sudo": true, "staging_dir": "/st", "puppet_bin_dir": "/opt/pl/bin"}),
        );
        let guest = FakeGuest::default();
        provision(p.as_ref(), &guest).await.unwrap();
        assert_eq!(
            guest.log(),
            [
                "run: mkdir -p '/st'",
                "run: chmod 0777 '/st'",
                "run: cd /st && FACTER_packer_build_name='web' FACTER_packer_builder_type='docker' /opt/pl/bin/puppet agent --onetime --no-daemonize --detailed-exitcodes ",
            ]
        );
        let guest = FakeGuest::exiting_with("mkdir", 1);
        assert_eq!(
            provision(p.as_ref(), &guest).await.unwrap_err().to_string(),
            "Error creating staging directory: Non-zero exit status. See output above for more info."
        );
        let guest = FakeGuest::exiting_with("puppet agent", 4);
        assert_eq!(
            provision(p.as_ref(), &guest).await.unwrap_err().to_string(),
            "Puppet exited with a non-zero exit status: 4"
        );
        let p = prepare(
            &PuppetServerProvisionerFactory,
            json!({"clean_staging_directory": true}),
        );
        let guest = FakeGuest::exiting_with("rm -rf", 1);
        assert_eq!(
            provision(p.as_ref(), &guest).await.unwrap_err().to_string(),
            "Error removing staging directory: Non-zero exit status."
        );
    }
}
