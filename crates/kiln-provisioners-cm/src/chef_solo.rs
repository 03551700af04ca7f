//! The `chef-solo` provisioner (Packer 1.6.6's `provisioner/chef-solo`):
//! installs Chef (unless `skip_install`), creates a staging directory on
//! the guest, uploads each of `cookbook_paths` (`cookbooks-N/`),
//! `roles_path` (`roles/`), `data_bags_path` (`data_bags/`),
//! `encrypted_data_bag_secret_path` (`encrypted_data_bag_secret`) and
//! `environments_path` (`environments/`), writes `solo.rb` (from
//! `config_template` or Packer's default) and `node.json` (`json` plus
//! `run_list`), then runs `chef-solo` through `execute_command`.
//!
//! Cleanup: none, as in Packer: the staging directory stays on the guest
//! (chef-solo has no cleaning option).

use kiln_sdk::communicator::Communicator;
use kiln_sdk::{
    ConfigErrors, PrepareContext, Prepared, ProvisionContext, Provisioner, ProvisionerFactory,
    RawConfig,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::chef::{self, ChefOs, Flavour, Install};
use crate::guest_commands::GuestCommands;
use crate::provisioner::{self, non_empty_or};
use crate::staging::{Guest, Kind, SEE_OUTPUT};

/// Packer's default `solo.rb` template.
pub const DEFAULT_CONFIG_TEMPLATE: &str = "\nchef_license \t\t\"{{.ChefLicense}}\"\ncookbook_path \t[{{.CookbookPaths}}]\n{{if .HasRolesPath}}\nrole_path\t\t\"{{.RolesPath}}\"\n{{end}}\n{{if .HasDataBagsPath}}\ndata_bag_path\t\"{{.DataBagsPath}}\"\n{{end}}\n{{if .HasEncryptedDataBagSecretPath}}\nencrypted_data_bag_secret \"{{.EncryptedDataBagSecretPath}}\"\n{{end}}\n{{if .HasEnvironmentsPath}}\nenvironment_path \"{{.EnvironmentsPath}}\"\nenvironment \"{{.ChefEnvironment}}\"\n{{end}}\n";

const RUN_TIME_KEYS: [&str; 2] = ["execute_command", "install_command"];

/// Declares the `chef-solo` provisioner.
pub struct ChefSoloProvisionerFactory;

/// The keys of a `chef-solo` block: every key Packer 1.6.6 takes.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Fields {
    chef_environment: String,
    chef_license: String,
    config_template: String,
    cookbook_paths: Vec<String>,
    roles_path: String,
    data_bags_path: String,
    encrypted_data_bag_secret_path: String,
    environments_path: String,
    execute_command: String,
    install_command: String,
    remote_cookbook_paths: Vec<String>,
    json: Map<String, Value>,
    prevent_sudo: bool,
    run_list: Vec<String>,
    skip_install: bool,
    staging_directory: String,
    guest_os_type: String,
    version: String,
}

/// A prepared `chef-solo` provisioner.
#[derive(Debug, Clone)]
struct ChefSolo {
    commands: GuestCommands,
    chef_environment: String,
    chef_license: String,
    config_template: String,
    cookbook_paths: Vec<String>,
    roles_path: String,
    data_bags_path: String,
    encrypted_data_bag_secret_path: String,
    environments_path: String,
    execute_command: String,
    install_command: String,
    remote_cookbook_paths: Vec<String>,
    json: Map<String, Value>,
    sudo: bool,
    run_list: Vec<String>,
    skip_install: bool,
    staging_dir: String,
    version: String,
}

impl ProvisionerFactory for ChefSoloProvisionerFactory {
    fn name(&self) -> &'static str {
        "chef-solo"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Provisioner>>, ConfigErrors> {
        let (f, mut errors) = kiln_sdk::config::decode_prepared::<Fields>(raw, cx, &RUN_TIME_KEYS)?;
        let os = provisioner::guest_os_type(&f.guest_os_type, &mut errors);
        let table = ChefOs::new(Flavour::Solo, os);
        chef::check_syntax("execute_command", &f.execute_command, &mut errors);
        chef::check_syntax("install_command", &f.install_command, &mut errors);
        chef::check_config_template(&f.config_template, &mut errors);
        for (i, path) in f.cookbook_paths.iter().enumerate() {
            chef::check_path(
                &format!("cookbook_paths[{i}]"),
                "cookbook path",
                path,
                Kind::Dir,
                &mut errors,
            );
        }
        chef::check_path(
            "roles_path",
            "roles path",
            &f.roles_path,
            Kind::Dir,
            &mut errors,
        );
        chef::check_path(
            "data_bags_path",
            "data bags path",
            &f.data_bags_path,
            Kind::Dir,
            &mut errors,
        );
        chef::check_path(
            "encrypted_data_bag_secret_path",
            "encrypted data bag secret",
            &f.encrypted_data_bag_secret_path,
            Kind::File,
            &mut errors,
        );
        chef::check_path(
            "environments_path",
            "environments path",
            &f.environments_path,
            Kind::Dir,
            &mut errors,
        );
        let json = chef::process_json(f.json, &cx.interpolation, &mut errors);
        if !errors.is_empty() {
            return Err(errors.locate(raw));
        }

        let install_command = non_empty_or(f.install_command, table.install_command);
        Ok(Prepared::new(Box::new(ChefSolo {
            commands: GuestCommands::new(os, !f.prevent_sudo),
            chef_environment: f.chef_environment,
            chef_license: chef::chef_license(
                f.chef_license,
                f.skip_install,
                &install_command,
                &table,
            ),
            config_template: f.config_template,
            cookbook_paths: f.cookbook_paths,
            roles_path: f.roles_path,
            data_bags_path: f.data_bags_path,
            encrypted_data_bag_secret_path: f.encrypted_data_bag_secret_path,
            environments_path: f.environments_path,
            execute_command: non_empty_or(f.execute_command, &table.execute_command),
            install_command,
            remote_cookbook_paths: f.remote_cookbook_paths,
            json,
            sudo: !f.prevent_sudo,
            run_list: f.run_list,
            skip_install: f.skip_install,
            staging_dir: non_empty_or(f.staging_directory, &table.staging_dir),
            version: f.version,
        })))
    }
}

/// The `solo.rb` data: Packer's `ConfigTemplate`.
fn config_data(
    cookbook_paths: &[String],
    roles: &str,
    data_bags: &str,
    secret: &str,
    environments: &str,
    chef_environment: &str,
    chef_license: &str,
) -> Map<String, Value> {
    let quoted: Vec<String> = cookbook_paths.iter().map(|p| format!("\"{p}\"")).collect();
    Map::from_iter([
        ("CookbookPaths".to_string(), quoted.join(",").into()),
        ("RolesPath".to_string(), roles.into()),
        ("DataBagsPath".to_string(), data_bags.into()),
        ("EncryptedDataBagSecretPath".to_string(), secret.into()),
        ("EnvironmentsPath".to_string(), environments.into()),
        ("HasRolesPath".to_string(), (!roles.is_empty()).into()),
        (
            "HasDataBagsPath".to_string(),
            (!data_bags.is_empty()).into(),
        ),
        (
            "HasEncryptedDataBagSecretPath".to_string(),
            (!secret.is_empty()).into(),
        ),
        (
            "HasEnvironmentsPath".to_string(),
            (!environments.is_empty()).into(),
        ),
        ("ChefEnvironment".to_string(), chef_environment.into()),
        ("ChefLicense".to_string(), chef_license.into()),
    ])
}

impl ChefSolo {
    /// Uploads the directory `local` to `<staging>/<name>` when set;
    /// returns the remote path (empty when unset).
    async fn upload_optional_dir(
        &self,
        guest: &Guest<'_>,
        local: &str,
        name: &str,
        what: &str,
    ) -> Result<String, String> {
        guest
            .upload_optional_dir(&self.staging_dir, (local, name), what, false, SEE_OUTPUT)
            .await
    }

    async fn run(&self, cx: &ProvisionContext<'_>, comm: &dyn Communicator) -> Result<(), String> {
        let guest = Guest {
            comm,
            ui: cx.ui,
            commands: self.commands,
        };
        let ctx = cx.interpolation;
        cx.ui.say("Provisioning with chef-solo");
        let install = (!self.skip_install).then_some(Install {
            command: &self.install_command,
            sudo: self.sudo,
            version: &self.version,
            show_command: false,
        });
        chef::install_and_stage(&guest, ctx, install, &self.staging_dir).await?;

        let mut cookbook_paths = self.remote_cookbook_paths.clone();
        for (i, path) in self.cookbook_paths.iter().enumerate() {
            let target = format!("{}/cookbooks-{i}", self.staging_dir);
            guest
                .upload_directory(&target, path, SEE_OUTPUT)
                .await
                .map_err(|e| format!("Error uploading cookbooks: {e}"))?;
            cookbook_paths.push(target);
        }
        let roles = self
            .upload_optional_dir(&guest, &self.roles_path, "roles", "roles")
            .await?;
        let data_bags = self
            .upload_optional_dir(&guest, &self.data_bags_path, "data_bags", "data bags")
            .await?;
        let mut secret = String::new();
        if !self.encrypted_data_bag_secret_path.is_empty() {
            secret = format!("{}/encrypted_data_bag_secret", self.staging_dir);
            guest
                .upload_file(&secret, &self.encrypted_data_bag_secret_path)
                .await
                .map_err(|e| format!("Error uploading encrypted data bag secret: {e}"))?;
        }
        let environments = self
            .upload_optional_dir(
                &guest,
                &self.environments_path,
                "environments",
                "environments",
            )
            .await?;

        let (config_path, json_path) = chef::write_files(
            &guest,
            ctx,
            &self.staging_dir,
            ("solo.rb", "node.json"),
            (
                &self.config_template,
                DEFAULT_CONFIG_TEMPLATE,
                config_data(
                    &cookbook_paths,
                    &roles,
                    &data_bags,
                    &secret,
                    &environments,
                    &self.chef_environment,
                    &self.chef_license,
                ),
            ),
            (&self.json, &self.run_list),
        )
        .await?;

        chef::execute_chef(
            &guest,
            ctx,
            &self.execute_command,
            (&config_path, &json_path),
            self.sudo,
            None,
        )
        .await
        .map_err(|e| format!("Error executing Chef: {e}"))
    }
}

provisioner::provision_by_run!(ChefSolo);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{errors, failure, prepare, provision, FakeGuest};
    use serde_json::json;

    fn files() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for dir in ["cookbooks", "roles", "data_bags", "environments"] {
            std::fs::create_dir_all(d.path().join(dir)).unwrap();
        }
        std::fs::write(d.path().join("secret"), "s3\n").unwrap();
        std::fs::write(
            d.path().join("solo.rb.tpl"),
            "cookbook_path [{{.CookbookPaths}}] # {{user `env`}} {{.ChefLicense}}\n",
        )
        .unwrap();
        d
    }

    fn at(d: &tempfile::TempDir, rel: &str) -> String {
        d.path().join(rel).display().to_string()
    }

    #[test]
    fn an_empty_config_is_valid() {
        assert!(errors(&ChefSoloProvisionerFactory, json!({})).is_empty());
    }

    #[test]
    fn reports_every_error_at_once() {
        let d = files();
        let e = errors(
            &ChefSoloProvisionerFactory,
            json!({
                "config_template": at(&d, "roles"),
                "cookbook_paths": [at(&d, "cookbooks"), "/nonexistent/cb", at(&d, "secret")],
                "roles_path": "/nonexistent/roles",
                "data_bags_path": at(&d, "secret"),
                "encrypted_data_bag_secret_path": at(&d, "roles"),
                "environments_path": "/nonexistent/env",
                "execute_command": "{{ if }}",
                "install_command": "{{ .X",
                "guest_os_type": "vms",
                "skip_clean": true
            }),
        );
        let expected = [
            "`skip_clean`: unknown configuration key `skip_clean`\n  hint: did you mean `skip_install`?".to_string(),
            "`guest_os_type`: invalid guest_os_type `vms`\n  hint: `unix` or `windows`".to_string(),
            e[2].clone(),
            e[3].clone(),
            format!(
                "`config_template`: config template path must be a file; `{}` is a directory",
                at(&d, "roles")
            ),
            "`cookbook_paths[1]`: bad cookbook path `/nonexistent/cb`: no such file or directory"
                .to_string(),
            format!(
                "`cookbook_paths[2]`: bad cookbook path `{}`: not a directory",
                at(&d, "secret")
            ),
            "`roles_path`: bad roles path `/nonexistent/roles`: no such file or directory"
                .to_string(),
            format!(
                "`data_bags_path`: bad data bags path `{}`: not a directory",
                at(&d, "secret")
            ),
            format!(
                "`encrypted_data_bag_secret_path`: bad encrypted data bag secret `{}`: is a directory",
                at(&d, "roles")
            ),
            "`environments_path`: bad environments path `/nonexistent/env`: no such file or directory"
                .to_string(),
        ];
        assert_eq!(e, expected);
        assert!(e[2].starts_with("`execute_command`: "), "{}", e[2]);
        assert!(e[3].starts_with("`install_command`: "), "{}", e[3]);
        let e = errors(
            &ChefSoloProvisionerFactory,
            json!({"config_template": "/nonexistent/solo.rb"}),
        );
        assert_eq!(
            e,
            ["`config_template`: bad config template path `/nonexistent/solo.rb`: no such file or directory"]
        );
    }

    #[tokio::test]
    async fn installs_stages_writes_solo_rb_and_node_json_and_runs_chef_solo() {
        let d = files();
        let p = prepare(
            &ChefSoloProvisionerFactory,
            json!({
                "cookbook_paths": [at(&d, "cookbooks"), at(&d, "cookbooks/")],
                "remote_cookbook_paths": ["/srv/cookbooks"],
                "roles_path": at(&d, "roles"),
                "data_bags_path": at(&d, "data_bags"),
                "encrypted_data_bag_secret_path": at(&d, "secret"),
                "environments_path": at(&d, "environments"),
                "chef_environment": "staging",
                "version": "17.10.3",
                "run_list": ["recipe[base]"],
                "json": {"app": {"env": "{{user `env`}}", "port": 8080}}
            }),
        );
        let guest = FakeGuest::default();
        let ui = provision(p.as_ref(), &guest).await.unwrap();
        let s = "/tmp/packer-chef-solo";
        assert_eq!(
            guest.log(),
            [
                "run: curl -L https://omnitruck.chef.io/install.sh | sudo bash -s -- -v 17.10.3"
                    .to_string(),
                format!("run: sudo mkdir -p '{s}'"),
                format!("run: sudo chmod 0777 '{s}'"),
                format!("run: sudo mkdir -p '{s}/cookbooks-0'"),
                format!("run: sudo chmod 0777 '{s}/cookbooks-0'"),
                format!("upload_dir: {s}/cookbooks-0 <- {}/", at(&d, "cookbooks")),
                format!("run: sudo mkdir -p '{s}/cookbooks-1'"),
                format!("run: sudo chmod 0777 '{s}/cookbooks-1'"),
                format!("upload_dir: {s}/cookbooks-1 <- {}/", at(&d, "cookbooks")),
                format!("run: sudo mkdir -p '{s}/roles'"),
                format!("run: sudo chmod 0777 '{s}/roles'"),
                format!("upload_dir: {s}/roles <- {}/", at(&d, "roles")),
                format!("run: sudo mkdir -p '{s}/data_bags'"),
                format!("run: sudo chmod 0777 '{s}/data_bags'"),
                format!("upload_dir: {s}/data_bags <- {}/", at(&d, "data_bags")),
                format!("upload: {s}/encrypted_data_bag_secret"),
                format!("run: sudo mkdir -p '{s}/environments'"),
                format!("run: sudo chmod 0777 '{s}/environments'"),
                format!(
                    "upload_dir: {s}/environments <- {}/",
                    at(&d, "environments")
                ),
                format!("upload: {s}/solo.rb"),
                format!("upload: {s}/node.json"),
                format!("run: sudo chef-solo --no-color -c {s}/solo.rb -j {s}/node.json"),
            ]
        );
        assert_eq!(
            guest.file(&format!("{s}/solo.rb")),
            format!(
                "\nchef_license \t\t\"accept-silent\"\ncookbook_path \t[\"/srv/cookbooks\",\"{s}/cookbooks-0\",\"{s}/cookbooks-1\"]\n\nrole_path\t\t\"{s}/roles\"\n\n\ndata_bag_path\t\"{s}/data_bags\"\n\n\nencrypted_data_bag_secret \"{s}/encrypted_data_bag_secret\"\n\n\nenvironment_path \"{s}/environments\"\nenvironment \"staging\"\n\n"
            )
        );
        assert_eq!(
            guest.file(&format!("{s}/node.json")),
            "{\n  \"app\": {\n    \"env\": \"production\",\n    \"port\": 8080\n  },\n  \"run_list\": [\n    \"recipe[base]\"\n  ]\n}"
        );
        assert_eq!(
            guest.file(&format!("{s}/encrypted_data_bag_secret")),
            "s3\n"
        );
        assert_eq!(
            ui,
            [
                "say: Provisioning with chef-solo".to_string(),
                "message: Installing Chef...".into(),
                format!("message: Creating directory: {s}"),
                format!("message: Creating directory: {s}/cookbooks-0"),
                format!("message: Creating directory: {s}/cookbooks-1"),
                format!("message: Creating directory: {s}/roles"),
                format!("message: Creating directory: {s}/data_bags"),
                format!("message: Creating directory: {s}/environments"),
                "message: Creating configuration file 'solo.rb'".into(),
                "message: Creating JSON attribute file".into(),
                format!(
                    "message: Executing Chef: sudo chef-solo --no-color -c {s}/solo.rb -j {s}/node.json"
                ),
            ]
        );
    }

    #[tokio::test]
    async fn skip_install_a_config_template_and_prevent_sudo() {
        let d = files();
        let p = prepare(
            &ChefSoloProvisionerFactory,
            json!({
                "skip_install": true,
                "prevent_sudo": true,
                "staging_directory": "/var/chef/",
                "config_template": at(&d, "solo.rb.tpl"),
                "execute_command": "{{if .Sudo}}sudo {{end}}/opt/chef-solo -c {{.ConfigPath}} -j {{.JsonPath}} # {{user `env`}}"
            }),
        );
        let guest = FakeGuest::default();
        provision(p.as_ref(), &guest).await.unwrap();
        assert_eq!(
            guest.log(),
            [
                "run: mkdir -p '/var/chef/'",
                "run: chmod 0777 '/var/chef/'",
                "upload: /var/chef/solo.rb",
                "upload: /var/chef/node.json",
                "run: /opt/chef-solo -c /var/chef/solo.rb -j /var/chef/node.json # production",
            ]
        );
        // No license without the default install.
        assert_eq!(
            guest.file("/var/chef/solo.rb"),
            "cookbook_path [] # production \n"
        );
        assert_eq!(guest.file("/var/chef/node.json"), "{}");
    }

    #[tokio::test]
    async fn failures_read_as_packers() {
        let p = prepare(&ChefSoloProvisionerFactory, json!({}));
        for (needle, code, want) in [
            ("curl", 3, "Error installing Chef: Install script exited with non-zero exit status 3"),
            ("mkdir", 1, "Error creating staging directory: Non-zero exit status. See output above for more info."),
            ("chef-solo --no-color", 1, "Error executing Chef: Non-zero exit status: 1"),
        ] {
            let guest = FakeGuest::exiting_with(needle, code);
            assert_eq!(failure(p.as_ref(), &guest).await, want);
        }
    }
}
