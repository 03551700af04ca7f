//! The `chef-client` provisioner (Packer 1.6.6's `provisioner/chef-client`):
//! installs Chef (unless `skip_install`), creates a staging directory on
//! the guest, uploads `encrypted_data_bag_secret_path`
//! (`encrypted_data_bag_secret`) and `validation_key_path`
//! (`validation.pem`), writes `client.rb` (from `config_template` or
//! Packer's default) and `first-boot.json` (`json` plus `run_list`), runs
//! `chef-client` against `server_url` through `execute_command`, then
//! removes the node and the client from the Chef server with `knife`
//! (through `knife_command`, with a `knife.rb` it writes), whether Chef
//! succeeded or not. The node is named `node_name`, or
//! `packer-<time-ordered uuid>`.
//!
//! Cleanup: the Chef server's node and client (`knife node delete`,
//! `knife client delete`) unless `skip_clean_node` / `skip_clean_client`;
//! the staging directory, after a successful run, unless
//! `skip_clean_staging_directory`.

use kiln_sdk::communicator::Communicator;
use kiln_sdk::interpolate::{self, Context};
use kiln_sdk::{
    ConfigError, ConfigErrors, PrepareContext, Prepared, ProvisionContext, Provisioner,
    ProvisionerFactory, RawConfig,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::chef::{self, ChefOs, Flavour, Install};
use crate::elevated::Elevated;
use crate::guest_commands::GuestCommands;
use crate::provisioner::{self, non_empty_or};
use crate::staging::{self, Guest, Kind, SEE_OUTPUT};

/// Packer's default `client.rb` template.
pub const DEFAULT_CONFIG_TEMPLATE: &str = r#"
log_level        :info
log_location     STDOUT
chef_server_url  "{{.ServerUrl}}"
client_key       "{{.ClientKey}}"
chef_license     "{{.ChefLicense}}"
{{if ne .EncryptedDataBagSecretPath ""}}
encrypted_data_bag_secret "{{.EncryptedDataBagSecretPath}}"
{{end}}
{{if ne .ValidationClientName ""}}
validation_client_name "{{.ValidationClientName}}"
{{else}}
validation_client_name "chef-validator"
{{end}}
{{if ne .ValidationKeyPath ""}}
validation_key "{{.ValidationKeyPath}}"
{{end}}
node_name "{{.NodeName}}"
{{if ne .ChefEnvironment ""}}
environment "{{.ChefEnvironment}}"
{{end}}
{{if ne .PolicyGroup ""}}
policy_group "{{.PolicyGroup}}"
{{end}}
{{if ne .PolicyName ""}}
policy_name "{{.PolicyName}}"
{{end}}
{{if ne .SslVerifyMode ""}}
ssl_verify_mode :{{.SslVerifyMode}}
{{end}}
{{if ne .TrustedCertsDir ""}}
trusted_certs_dir "{{.TrustedCertsDir}}"
{{end}}
"#;

/// Packer's `knife.rb` template, for the node and client clean-up.
pub const DEFAULT_KNIFE_TEMPLATE: &str = r#"
log_level        :info
log_location     STDOUT
chef_server_url  "{{.ServerUrl}}"
client_key       "{{.ClientKey}}"
node_name "{{.NodeName}}"
{{if ne .SslVerifyMode ""}}
ssl_verify_mode :{{.SslVerifyMode}}
{{end}}
{{if ne .TrustedCertsDir ""}}
trusted_certs_dir "{{.TrustedCertsDir}}"
{{end}}
"#;

const RUN_TIME_KEYS: [&str; 3] = ["execute_command", "install_command", "knife_command"];

/// Declares the `chef-client` provisioner.
pub struct ChefClientProvisionerFactory;

/// The keys of a `chef-client` block: every key Packer 1.6.6 takes.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Fields {
    json: Map<String, Value>,
    chef_environment: String,
    chef_license: String,
    client_key: String,
    config_template: String,
    elevated_user: String,
    elevated_password: String,
    encrypted_data_bag_secret_path: String,
    execute_command: String,
    guest_os_type: String,
    install_command: String,
    knife_command: String,
    node_name: String,
    policy_group: String,
    policy_name: String,
    prevent_sudo: bool,
    run_list: Vec<String>,
    server_url: String,
    skip_clean_client: bool,
    skip_clean_node: bool,
    skip_clean_staging_directory: bool,
    skip_install: bool,
    ssl_verify_mode: String,
    trusted_certs_dir: String,
    staging_directory: String,
    validation_client_name: String,
    validation_key_path: String,
    version: String,
}

/// A prepared `chef-client` provisioner.
#[derive(Debug, Clone)]
struct ChefClient {
    commands: GuestCommands,
    json: Map<String, Value>,
    chef_environment: String,
    chef_license: String,
    /// Empty means `<staging>/client.pem`.
    client_key: String,
    config_template: String,
    elevated: Elevated,
    encrypted_data_bag_secret_path: String,
    execute_command: String,
    install_command: String,
    knife_command: String,
    node_name: String,
    policy_group: String,
    policy_name: String,
    sudo: bool,
    run_list: Vec<String>,
    server_url: String,
    skip_clean_client: bool,
    skip_clean_node: bool,
    skip_clean_staging_directory: bool,
    skip_install: bool,
    ssl_verify_mode: String,
    trusted_certs_dir: String,
    staging_dir: String,
    validation_client_name: String,
    validation_key_path: String,
    version: String,
}

impl ProvisionerFactory for ChefClientProvisionerFactory {
    fn name(&self) -> &'static str {
        "chef-client"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Provisioner>>, ConfigErrors> {
        let (f, mut errors) = kiln_sdk::config::decode_prepared::<Fields>(raw, cx, &RUN_TIME_KEYS)?;
        let os = provisioner::guest_os_type(&f.guest_os_type, &mut errors);
        let table = ChefOs::new(Flavour::Client, os);
        for (key, value) in [
            ("execute_command", &f.execute_command),
            ("install_command", &f.install_command),
            ("knife_command", &f.knife_command),
        ] {
            chef::check_syntax(key, value, &mut errors);
        }
        chef::check_config_template(&f.config_template, &mut errors);
        if f.server_url.is_empty() {
            errors.push(ConfigError::at("server_url", "`server_url` must be set"));
        }
        chef::check_path(
            "encrypted_data_bag_secret_path",
            "encrypted data bag secret",
            &f.encrypted_data_bag_secret_path,
            Kind::File,
            &mut errors,
        );
        if f.policy_name.is_empty() != f.policy_group.is_empty() {
            let key = if f.policy_name.is_empty() {
                "policy_group"
            } else {
                "policy_name"
            };
            errors.push(ConfigError::at(
                key,
                "if either `policy_name` or `policy_group` are set, they must both be set",
            ));
        }
        let json = chef::process_json(f.json, &cx.interpolation, &mut errors);
        if !errors.is_empty() {
            return Err(errors.locate(raw));
        }

        if !f.elevated_password.is_empty() {
            cx.redactor.add(f.elevated_password.clone());
        }
        let install_command = non_empty_or(f.install_command, table.install_command);
        Ok(Prepared::new(Box::new(ChefClient {
            commands: GuestCommands::new(os, !f.prevent_sudo),
            json,
            chef_environment: f.chef_environment,
            chef_license: chef::chef_license(
                f.chef_license,
                f.skip_install,
                &install_command,
                &table,
            ),
            client_key: f.client_key,
            config_template: f.config_template,
            elevated: Elevated {
                user: f.elevated_user,
                password: f.elevated_password,
            },
            encrypted_data_bag_secret_path: f.encrypted_data_bag_secret_path,
            execute_command: non_empty_or(f.execute_command, &table.execute_command),
            install_command,
            knife_command: non_empty_or(f.knife_command, table.knife_command),
            node_name: f.node_name,
            policy_group: f.policy_group,
            policy_name: f.policy_name,
            sudo: !f.prevent_sudo,
            run_list: f.run_list,
            server_url: f.server_url,
            skip_clean_client: f.skip_clean_client,
            skip_clean_node: f.skip_clean_node,
            skip_clean_staging_directory: f.skip_clean_staging_directory,
            skip_install: f.skip_install,
            ssl_verify_mode: f.ssl_verify_mode,
            trusted_certs_dir: f.trusted_certs_dir,
            staging_dir: non_empty_or(f.staging_directory, &table.staging_dir),
            validation_client_name: f.validation_client_name,
            validation_key_path: f.validation_key_path,
            version: f.version,
        })))
    }
}

impl ChefClient {
    /// Packer's `uploadFile`: says `Uploading <local>...` and uploads it.
    async fn upload_file(
        &self,
        guest: &Guest<'_>,
        remote: &str,
        local: &str,
    ) -> Result<(), String> {
        guest.ui.message(&format!("Uploading {local}..."));
        guest.upload_file(remote, local).await
    }

    /// Packer's `knifeExec`: `knife <args> -y -c <knife.rb>` through
    /// `knife_command`.
    async fn knife(
        &self,
        guest: &Guest<'_>,
        ctx: &Context,
        knife_config: &str,
        args: &[&str],
    ) -> Result<(), String> {
        let data = ctx.with_data([
            ("Sudo", Value::Bool(self.sudo)),
            ("Flags", Value::String(format!("-y -c {knife_config}"))),
            ("Args", Value::String(args.join(" "))),
        ]);
        let command = interpolate::render(&self.knife_command, &data)
            .map_err(|e| format!("`knife_command`: {e}"))?;
        if guest.run(&command).await?.code() != 0 {
            return Err(format!("{SEE_OUTPUT}\n\nCommand: {command}"));
        }
        Ok(())
    }

    /// The knife config, then `knife node delete` and `knife client
    /// delete`, each unless skipped.
    async fn clean_server(
        &self,
        guest: &Guest<'_>,
        ctx: &Context,
        data: &Map<String, Value>,
    ) -> Result<(), String> {
        guest.ui.message("Creating configuration file 'knife.rb'");
        let knife_config = staging::join_clean(&self.staging_dir, "knife.rb");
        let knife_data = Map::from_iter(
            [
                "NodeName",
                "ServerUrl",
                "ClientKey",
                "SslVerifyMode",
                "TrustedCertsDir",
            ]
            .iter()
            .map(|k| (k.to_string(), data[*k].clone())),
        );
        match chef::render_config("", DEFAULT_KNIFE_TEMPLATE, ctx, knife_data) {
            Ok(text) => guest.upload_bytes(&knife_config, text.as_bytes()).await,
            Err(e) => Err(e),
        }
        .map_err(|e| format!("Error creating knife config on node: {e}"))?;
        let node = data["NodeName"].as_str().unwrap_or_default();
        if !self.skip_clean_node {
            guest.ui.say("Cleaning up chef node...");
            self.knife(guest, ctx, &knife_config, &["node", "delete", node])
                .await
                .map_err(|e| format!("Error cleaning up chef node: Failed to cleanup node: {e}"))?;
        }
        if !self.skip_clean_client {
            guest.ui.say("Cleaning up chef client...");
            self.knife(guest, ctx, &knife_config, &["client", "delete", node])
                .await
                .map_err(|e| {
                    format!("Error cleaning up chef client: Failed to cleanup client: {e}")
                })?;
        }
        Ok(())
    }

    async fn run(&self, cx: &ProvisionContext<'_>, comm: &dyn Communicator) -> Result<(), String> {
        let guest = Guest {
            comm,
            ui: cx.ui,
            commands: self.commands,
        };
        let ctx = cx.interpolation;
        let node_name = if self.node_name.is_empty() {
            format!("packer-{}", staging::time_ordered_uuid())
        } else {
            self.node_name.clone()
        };
        let install = (!self.skip_install).then_some(Install {
            command: &self.install_command,
            sudo: self.sudo,
            version: &self.version,
            show_command: true,
        });
        chef::install_and_stage(&guest, ctx, install, &self.staging_dir).await?;
        let client_key = if self.client_key.is_empty() {
            format!("{}/client.pem", self.staging_dir)
        } else {
            self.client_key.clone()
        };

        let mut secret = String::new();
        if !self.encrypted_data_bag_secret_path.is_empty() {
            secret = format!("{}/encrypted_data_bag_secret", self.staging_dir);
            self.upload_file(&guest, &secret, &self.encrypted_data_bag_secret_path)
                .await
                .map_err(|e| format!("Error uploading encrypted data bag secret: {e}"))?;
        }
        let mut validation_key = String::new();
        if !self.validation_key_path.is_empty() {
            let local = staging::expand_user(&self.validation_key_path)
                .map_err(|e| format!("Error while expanding a tilde in the validation key: {e}"))?;
            validation_key = format!("{}/validation.pem", self.staging_dir);
            self.upload_file(&guest, &validation_key, &local)
                .await
                .map_err(|e| format!("Error copying validation key: {e}"))?;
        }

        let data = Map::from_iter([
            ("NodeName".to_string(), node_name.clone().into()),
            ("ServerUrl".to_string(), self.server_url.clone().into()),
            ("ClientKey".to_string(), client_key.into()),
            ("ChefLicense".to_string(), self.chef_license.clone().into()),
            ("ValidationKeyPath".to_string(), validation_key.into()),
            (
                "ValidationClientName".to_string(),
                self.validation_client_name.clone().into(),
            ),
            (
                "ChefEnvironment".to_string(),
                self.chef_environment.clone().into(),
            ),
            ("PolicyGroup".to_string(), self.policy_group.clone().into()),
            ("PolicyName".to_string(), self.policy_name.clone().into()),
            (
                "SslVerifyMode".to_string(),
                self.ssl_verify_mode.clone().into(),
            ),
            (
                "TrustedCertsDir".to_string(),
                self.trusted_certs_dir.clone().into(),
            ),
            ("EncryptedDataBagSecretPath".to_string(), secret.into()),
        ]);
        let (config_path, json_path) = chef::write_files(
            &guest,
            ctx,
            &self.staging_dir,
            ("client.rb", "first-boot.json"),
            (&self.config_template, DEFAULT_CONFIG_TEMPLATE, data.clone()),
            (&self.json, &self.run_list),
        )
        .await?;

        let generated = provisioner::generated_context(cx);
        let executed = chef::execute_chef(
            &guest,
            ctx,
            &self.execute_command,
            (&config_path, &json_path),
            self.sudo,
            Some((&self.elevated, &generated)),
        )
        .await;

        // The node and client are removed from the server whether Chef
        // succeeded or not.
        if !(self.skip_clean_node && self.skip_clean_client) {
            self.clean_server(&guest, ctx, &data).await?;
        }
        executed.map_err(|e| format!("Error executing Chef: {e}"))?;

        if !self.skip_clean_staging_directory {
            cx.ui
                .message(&format!("Removing directory: {}", self.staging_dir));
            // Packer ignores the exit status here.
            guest
                .run(&self.commands.remove_dir(&self.staging_dir))
                .await
                .map_err(|e| format!("Error removing {}: {e}", self.staging_dir))?;
        }
        Ok(())
    }
}

provisioner::provision_by_run!(ChefClient);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{errors, failure, prepare, provision, FakeGuest};
    use serde_json::json;

    #[test]
    fn requires_a_server_url() {
        assert_eq!(
            errors(&ChefClientProvisionerFactory, json!({})),
            ["`server_url`: `server_url` must be set"]
        );
        assert!(errors(
            &ChefClientProvisionerFactory,
            json!({"server_url": "https://c"})
        )
        .is_empty());
    }

    #[test]
    fn reports_every_error_at_once() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().display().to_string();
        let e = errors(
            &ChefClientProvisionerFactory,
            json!({
                "config_template": "/nonexistent/client.rb",
                "encrypted_data_bag_secret_path": dir,
                "policy_name": "web",
                "knife_command": "{{ nope",
                "json": {"a": 1},
                "run_lists": []
            }),
        );
        assert_eq!(e.len(), 6, "{e:#?}");
        assert_eq!(
            e[0],
            "`run_lists`: unknown configuration key `run_lists`\n  hint: did you mean `run_list`?"
        );
        assert!(e[1].starts_with("`knife_command`: "), "{}", e[1]);
        assert_eq!(
            e[2..],
            [
                "`config_template`: bad config template path `/nonexistent/client.rb`: no such file or directory".to_string(),
                "`server_url`: `server_url` must be set".to_string(),
                format!("`encrypted_data_bag_secret_path`: bad encrypted data bag secret `{dir}`: is a directory"),
                "`policy_name`: if either `policy_name` or `policy_group` are set, they must both be set".to_string(),
            ]
        );
        let e = errors(
            &ChefClientProvisionerFactory,
            json!({"server_url": "https://c", "policy_group": "prod"}),
        );
        assert_eq!(
            e,
            ["`policy_group`: if either `policy_name` or `policy_group` are set, they must both be set"]
        );
    }

    #[tokio::test]
    async fn runs_chef_client_then_cleans_the_node_the_client_and_the_staging_directory() {
        let d = tempfile::tempdir().unwrap();
        let key = d.path().join("validator.pem");
        std::fs::write(&key, "KEY\n").unwrap();
        let key = key.display().to_string();
        let p = prepare(
            &ChefClientProvisionerFactory,
            json!({
                "server_url": "https://chef.example.com/organizations/o",
                "node_name": "node-{{user `env`}}",
                "validation_key_path": key,
                "validation_client_name": "o-validator",
                "chef_environment": "prod",
                "ssl_verify_mode": "verify_none",
                "trusted_certs_dir": "/etc/chef/trusted",
                "run_list": ["role[web]"],
                "json": {"b": true, "a": [1.5]},
                "version": "17"
            }),
        );
        let guest = FakeGuest::default();
        let ui = provision(p.as_ref(), &guest).await.unwrap();
        let s = "/tmp/packer-chef-client";
        assert_eq!(
            guest.log(),
            [
                "run: curl -L https://omnitruck.chef.io/install.sh | sudo bash -s -- -v 17"
                    .to_string(),
                format!("run: sudo mkdir -p '{s}'"),
                format!("run: sudo chmod 0777 '{s}'"),
                format!("upload: {s}/validation.pem"),
                format!("upload: {s}/client.rb"),
                format!("upload: {s}/first-boot.json"),
                format!("run: sudo chef-client --no-color -c {s}/client.rb -j {s}/first-boot.json"),
                format!("upload: {s}/knife.rb"),
                format!("run: sudo knife node delete node-production -y -c {s}/knife.rb"),
                format!("run: sudo knife client delete node-production -y -c {s}/knife.rb"),
                format!("run: sudo rm -rf '{s}'"),
            ]
        );
        assert_eq!(guest.file(&format!("{s}/validation.pem")), "KEY\n");
        assert_eq!(
            guest.file(&format!("{s}/client.rb")),
            format!(
                "\nlog_level        :info\nlog_location     STDOUT\nchef_server_url  \"https://chef.example.com/organizations/o\"\nclient_key       \"{s}/client.pem\"\nchef_license     \"accept-silent\"\n\n\nvalidation_client_name \"o-validator\"\n\n\nvalidation_key \"{s}/validation.pem\"\n\nnode_name \"node-production\"\n\nenvironment \"prod\"\n\n\n\n\nssl_verify_mode :verify_none\n\n\ntrusted_certs_dir \"/etc/chef/trusted\"\n\n"
            )
        );
        assert_eq!(
            guest.file(&format!("{s}/knife.rb")),
            format!(
                "\nlog_level        :info\nlog_location     STDOUT\nchef_server_url  \"https://chef.example.com/organizations/o\"\nclient_key       \"{s}/client.pem\"\nnode_name \"node-production\"\n\nssl_verify_mode :verify_none\n\n\ntrusted_certs_dir \"/etc/chef/trusted\"\n\n"
            )
        );
        assert_eq!(
            guest.file(&format!("{s}/first-boot.json")),
            "{\n  \"a\": [\n    1.5\n  ],\n  \"b\": true,\n  \"run_list\": [\n    \"role[web]\"\n  ]\n}"
        );
        assert_eq!(
            ui,
            [
                "message: Installing Chef...".to_string(),
                "message: curl -L https://omnitruck.chef.io/install.sh | sudo bash -s -- -v 17".into(),
                format!("message: Creating directory: {s}"),
                format!("message: Uploading {key}..."),
                "message: Creating configuration file 'client.rb'".into(),
                "message: Creating JSON attribute file".into(),
                format!("message: Executing Chef: sudo chef-client --no-color -c {s}/client.rb -j {s}/first-boot.json"),
                "message: Creating configuration file 'knife.rb'".into(),
                "say: Cleaning up chef node...".into(),
                "say: Cleaning up chef client...".into(),
                format!("message: Removing directory: {s}"),
            ]
        );
    }

    #[tokio::test]
    async fn a_random_node_name_and_the_skips() {
        let p = prepare(
            &ChefClientProvisionerFactory,
            json!({
                "server_url": "https://c",
                "skip_install": true,
                "prevent_sudo": true,
                "skip_clean_node": true,
                "skip_clean_staging_directory": true,
                "client_key": "/etc/chef/client.pem",
                "policy_name": "web", "policy_group": "prod"
            }),
        );
        let guest = FakeGuest::default();
        provision(p.as_ref(), &guest).await.unwrap();
        let log = guest.log();
        assert_eq!(log.len(), 7, "{log:#?}");
        let client = guest.file("/tmp/packer-chef-client/client.rb");
        let node = client
            .lines()
            .find_map(|l| l.strip_prefix("node_name \"packer-"))
            .and_then(|l| l.strip_suffix('"'))
            .unwrap_or_else(|| panic!("no generated node name in {client}"));
        assert_eq!(node.len(), 36, "{node}");
        assert!(client.contains("client_key       \"/etc/chef/client.pem\""));
        assert!(client.contains("chef_license     \"\"\n"), "{client}");
        assert!(client.contains("validation_client_name \"chef-validator\""));
        assert!(client.contains("\npolicy_group \"prod\"\n\n\npolicy_name \"web\"\n"));
        assert_eq!(
            log[6],
            format!(
                "run: knife client delete packer-{node} -y -c /tmp/packer-chef-client/knife.rb"
            )
        );
    }

    #[tokio::test]
    async fn a_failing_chef_still_cleans_the_server_but_not_the_staging_directory() {
        let p = prepare(
            &ChefClientProvisionerFactory,
            json!({"server_url": "https://c", "node_name": "n", "skip_install": true}),
        );
        let guest = FakeGuest::exiting_with("chef-client --no-color", 1);
        assert_eq!(
            failure(p.as_ref(), &guest).await,
            "Error executing Chef: Non-zero exit status: 1"
        );
        let log = guest.log();
        assert!(
            log.iter().any(|l| l.contains("knife node delete n")),
            "{log:#?}"
        );
        assert!(
            log.iter().any(|l| l.contains("knife client delete n")),
            "{log:#?}"
        );
        assert!(!log.iter().any(|l| l.contains("rm -rf")), "{log:#?}");

        let guest = FakeGuest::exiting_with("knife node", 100);
        assert_eq!(
            failure(p.as_ref(), &guest).await,
            "Error cleaning up chef node: Failed to cleanup node: Non-zero exit status. See output above for more info.\n\nCommand: sudo knife node delete n -y -c /tmp/packer-chef-client/knife.rb"
        );
        // The staging directory's removal ignores the exit status.
        let guest = FakeGuest::exiting_with("rm -rf", 1);
        assert!(provision(p.as_ref(), &guest).await.is_ok());
        let p = prepare(
            &ChefClientProvisionerFactory,
            json!({"server_url": "https://c", "skip_install": true, "validation_key_path": "/nonexistent/v.pem"}),
        );
        assert_eq!(
            failure(p.as_ref(), &FakeGuest::default()).await,
            "Error copying validation key: open /nonexistent/v.pem: no such file or directory"
        );
    }
}
