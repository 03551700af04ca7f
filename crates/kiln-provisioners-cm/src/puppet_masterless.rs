//! The `puppet-masterless` provisioner (Packer 1.6.6's
//! `provisioner/puppet-masterless`): creates a staging directory on the
//! guest, uploads the hiera config (`hiera.yaml`), the `manifest_dir`
//! (`manifests/`), each of `module_paths` (`module-N/`) and the
//! `manifest_file` (a file into `manifests/`, or a directory as
//! `manifests/`), then runs `puppet apply` through `execute_command`,
//! rendered at run time with `{{.WorkingDir}}`, `{{.FacterVars}}`,
//! `{{.Sudo}}`, `{{.PuppetBinDir}}`, `{{.ModulePath}}`,
//! `{{.HieraConfigPath}}`, `{{.ManifestDir}}`, `{{.ExtraArguments}}` and
//! `{{.ManifestFile}}`. Exit codes 0 and 2 succeed.
//!
//! Cleanup: with `clean_staging_directory`, the staging directory is
//! removed after a successful run (as in Packer, a failed run leaves it
//! for inspection). Nothing is kept locally.

use std::collections::BTreeMap;

use kiln_sdk::communicator::Communicator;
use kiln_sdk::{
    ConfigError, ConfigErrors, PrepareContext, Prepared, ProvisionContext, Provisioner,
    ProvisionerFactory, RawConfig,
};
use serde::Deserialize;

use crate::provisioner;
use crate::puppet::{self, Puppet};
use crate::staging::{self, Guest, Kind, NON_ZERO};

/// Packer's unix `execute_command`.
pub const UNIX_EXECUTE_COMMAND: &str = concat!(
    "cd {{.WorkingDir}} && ",
    r#"{{if ne .FacterVars ""}}{{.FacterVars}} {{end}}"#,
    "{{if .Sudo}}sudo -E {{end}}",
    r#"{{if ne .PuppetBinDir ""}}{{.PuppetBinDir}}/{{end}}"#,
    "puppet apply --detailed-exitcodes ",
    "{{if .Debug}}--debug {{end}}",
    r#"{{if ne .ModulePath ""}}--modulepath='{{.ModulePath}}' {{end}}"#,
    r#"{{if ne .HieraConfigPath ""}}--hiera_config='{{.HieraConfigPath}}' {{end}}"#,
    r#"{{if ne .ManifestDir ""}}--manifestdir='{{.ManifestDir}}' {{end}}"#,
    r#"{{if ne .ExtraArguments ""}}{{.ExtraArguments}} {{end}}"#,
    "{{.ManifestFile}}"
);

/// Packer's windows `execute_command`.
pub const WINDOWS_EXECUTE_COMMAND: &str = concat!(
    "cd {{.WorkingDir}} && ",
    r#"{{if ne .FacterVars ""}}{{.FacterVars}} && {{end}}"#,
    r#"{{if ne .PuppetBinDir ""}}{{.PuppetBinDir}}/{{end}}"#,
    "puppet apply --detailed-exitcodes ",
    "{{if .Debug}}--debug {{end}}",
    r#"{{if ne .ModulePath ""}}--modulepath='{{.ModulePath}}' {{end}}"#,
    r#"{{if ne .HieraConfigPath ""}}--hiera_config='{{.HieraConfigPath}}' {{end}}"#,
    r#"{{if ne .ManifestDir ""}}--manifestdir='{{.ManifestDir}}' {{end}}"#,
    r#"{{if ne .ExtraArguments ""}}{{.ExtraArguments}} {{end}}"#,
    "{{.ManifestFile}}"
);

const RUN_TIME_KEYS: [&str; 2] = ["execute_command", "extra_arguments"];

/// Declares the `puppet-masterless` provisioner.
pub struct PuppetMasterlessProvisionerFactory;

/// The keys of a `puppet-masterless` block: every key Packer 1.6.6 takes.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Fields {
    clean_staging_directory: bool,
    guest_os_type: String,
    execute_command: String,
    extra_arguments: Vec<String>,
    facter: BTreeMap<String, String>,
    hiera_config_path: String,
    ignore_exit_codes: bool,
    module_paths: Vec<String>,
    manifest_file: String,
    manifest_dir: String,
    prevent_sudo: bool,
    puppet_bin_dir: String,
    staging_directory: String,
    working_directory: String,
    elevated_user: String,
    elevated_password: String,
}

/// A prepared `puppet-masterless` provisioner.
#[derive(Debug, Clone)]
struct PuppetMasterless {
    puppet: Puppet,
    hiera_config_path: String,
    module_paths: Vec<String>,
    manifest_file: String,
    manifest_dir: String,
}

impl ProvisionerFactory for PuppetMasterlessProvisionerFactory {
    fn name(&self) -> &'static str {
        "puppet-masterless"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Provisioner>>, ConfigErrors> {
        let (f, mut errors) = kiln_sdk::config::decode_prepared::<Fields>(raw, cx, &RUN_TIME_KEYS)?;
        let os = provisioner::guest_os_type(&f.guest_os_type, &mut errors);
        puppet::check_run_time_syntax(&f.execute_command, &f.extra_arguments, &mut errors);

        if !f.hiera_config_path.is_empty() {
            match staging::stat(&f.hiera_config_path) {
                Err(why) => errors.push(ConfigError::at(
                    "hiera_config_path",
                    format!("bad hiera config `{}`: {why}", f.hiera_config_path),
                )),
                Ok(Kind::Dir) => errors.push(ConfigError::at(
                    "hiera_config_path",
                    format!(
                        "must point to a file; `{}` is a directory",
                        f.hiera_config_path
                    ),
                )),
                Ok(Kind::File) => {}
            }
        }
        if !f.manifest_dir.is_empty() {
            match staging::stat(&f.manifest_dir) {
                Err(why) => errors.push(ConfigError::at(
                    "manifest_dir",
                    format!("bad manifest directory `{}`: {why}", f.manifest_dir),
                )),
                Ok(Kind::File) => errors.push(ConfigError::at(
                    "manifest_dir",
                    format!("must point to a directory; `{}` is a file", f.manifest_dir),
                )),
                Ok(Kind::Dir) => {}
            }
        }
        if f.manifest_file.is_empty() {
            errors.push(ConfigError::at(
                "manifest_file",
                "a `manifest_file` must be specified",
            ));
        } else if let Err(why) = staging::stat(&f.manifest_file) {
            errors.push(ConfigError::at(
                "manifest_file",
                format!("bad manifest file `{}`: {why}", f.manifest_file),
            ));
        }
        for (i, path) in f.module_paths.iter().enumerate() {
            match staging::stat(path) {
                Err(why) => errors.push(ConfigError::at(
                    format!("module_paths[{i}]"),
                    format!("bad module path `{path}`: {why}"),
                )),
                Ok(Kind::File) => errors.push(ConfigError::at(
                    format!("module_paths[{i}]"),
                    format!("must point to a directory; `{path}` is a file"),
                )),
                Ok(Kind::Dir) => {}
            }
        }
        if !errors.is_empty() {
            return Err(errors.locate(raw));
        }

        let puppet = Puppet::new(
            cx,
            os,
            "packer-puppet-masterless",
            [UNIX_EXECUTE_COMMAND, WINDOWS_EXECUTE_COMMAND],
            puppet::keys!(f, staging_directory),
        );
        Ok(Prepared::new(Box::new(PuppetMasterless {
            puppet,
            hiera_config_path: f.hiera_config_path,
            module_paths: f.module_paths,
            manifest_file: f.manifest_file,
            manifest_dir: f.manifest_dir,
        })))
    }
}

impl PuppetMasterless {
    /// Packer's `uploadManifests`: `manifest_file` into
    /// `<staging>/manifests`; returns the remote manifest path.
    async fn upload_manifests(&self, guest: &Guest<'_>) -> Result<String, String> {
        guest.ui.message("Uploading manifests...");
        let remote_manifests = format!("{}/manifests", self.puppet.staging_dir);
        guest
            .create_dir(&remote_manifests, NON_ZERO)
            .await
            .map_err(|e| format!("Error creating manifests directory: {e}"))?;
        let kind = staging::stat(&self.manifest_file).map_err(|why| {
            format!(
                "Error inspecting manifest file: stat {}: {why}",
                self.manifest_file
            )
        })?;
        if kind == Kind::Dir {
            guest.ui.message(&format!(
                "Uploading manifest directory from: {}",
                self.manifest_file
            ));
            guest
                .upload_directory(&remote_manifests, &self.manifest_file, NON_ZERO)
                .await
                .map_err(|e| format!("Error uploading manifest dir: {e}"))?;
            return Ok(remote_manifests);
        }
        guest.ui.message(&format!(
            "Uploading manifest file from: {}",
            self.manifest_file
        ));
        let name = std::path::Path::new(&self.manifest_file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let remote = format!("{remote_manifests}/{name}");
        guest.upload_file(&remote, &self.manifest_file).await?;
        Ok(remote)
    }

    async fn run(&self, cx: &ProvisionContext<'_>, comm: &dyn Communicator) -> Result<(), String> {
        let guest = self.puppet.guest(cx, comm);
        self.puppet.create_staging_dir(&guest, NON_ZERO).await?;

        let mut remote_hiera = String::new();
        if !self.hiera_config_path.is_empty() {
            cx.ui.message("Uploading hiera configuration...");
            let path = format!("{}/hiera.yaml", self.puppet.staging_dir);
            guest
                .upload_file(&path, &self.hiera_config_path)
                .await
                .map_err(|e| format!("Error uploading hiera config: {e}"))?;
            remote_hiera = path;
        }

        let mut remote_manifest_dir = String::new();
        if !self.manifest_dir.is_empty() {
            cx.ui.message(&format!(
                "Uploading manifest directory from: {}",
                self.manifest_dir
            ));
            remote_manifest_dir = format!("{}/manifests", self.puppet.staging_dir);
            guest
                .upload_directory(&remote_manifest_dir, &self.manifest_dir, NON_ZERO)
                .await
                .map_err(|e| format!("Error uploading manifest dir: {e}"))?;
        }

        let mut module_paths = Vec::new();
        for (i, path) in self.module_paths.iter().enumerate() {
            cx.ui
                .message(&format!("Uploading local modules from: {path}"));
            let target = format!("{}/module-{i}", self.puppet.staging_dir);
            guest
                .upload_directory(&target, path, NON_ZERO)
                .await
                .map_err(|e| format!("Error uploading modules: {e}"))?;
            module_paths.push(target);
        }

        let remote_manifest_file = self
            .upload_manifests(&guest)
            .await
            .map_err(|e| format!("Error uploading manifests: {e}"))?;

        let joiner = self.puppet.module_path_joiner();
        let data = self.puppet.data([
            ("HieraConfigPath", remote_hiera.into()),
            ("ManifestDir", remote_manifest_dir.into()),
            ("ManifestFile", remote_manifest_file.into()),
            ("ModulePath", module_paths.join(joiner).into()),
            ("ModulePathJoiner", joiner.into()),
        ]);
        self.puppet
            .execute(&guest, cx, data, Some("Got an error starting command"))
            .await
    }
}

provisioner::provision_by_run!(PuppetMasterless);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{errors, failure, prepare, provision, FakeGuest};
    use serde_json::json;

    fn files() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("site.pp"), "notify { 'hi': }\n").unwrap();
        std::fs::write(d.path().join("hiera.yaml"), "---\nversion: 5\n").unwrap();
        std::fs::create_dir_all(d.path().join("modules/m/manifests")).unwrap();
        std::fs::write(d.path().join("modules/m/manifests/init.pp"), "class m {}\n").unwrap();
        d
    }

    fn at(d: &tempfile::TempDir, rel: &str) -> String {
        d.path().join(rel).display().to_string()
    }

    #[test]
    fn requires_a_manifest_file() {
        let e = errors(&PuppetMasterlessProvisionerFactory, json!({}));
        assert_eq!(e, ["`manifest_file`: a `manifest_file` must be specified"]);
    }

    #[test]
    fn reports_every_error_at_once() {
        let d = files();
        let e = errors(
            &PuppetMasterlessProvisionerFactory,
            json!({
                "guest_os_type": "BeOS",
                "hiera_config_path": "/nonexistent/hiera.yaml",
                "manifest_dir": at(&d, "site.pp"),
                "manifest_file": "/nonexistent/site.pp",
                "module_paths": ["/nonexistent/modules", at(&d, "site.pp")],
                "execute_command": "{{ .Broken",
                "extra_arguments": ["ok", "{{ .Unclosed"],
                "bogus": true
            }),
        );
        let site = at(&d, "site.pp");
        assert_eq!(
            e,
            [
                "`bogus`: unknown configuration key `bogus`".to_string(),
                "`guest_os_type`: invalid guest_os_type `beos`\n  hint: `unix` or `windows`".to_string(),
                e[2].clone(),
                e[3].clone(),
                "`hiera_config_path`: bad hiera config `/nonexistent/hiera.yaml`: no such file or directory".to_string(),
                format!("`manifest_dir`: must point to a directory; `{site}` is a file"),
                "`manifest_file`: bad manifest file `/nonexistent/site.pp`: no such file or directory".to_string(),
                "`module_paths[0]`: bad module path `/nonexistent/modules`: no such file or directory".to_string(),
                format!("`module_paths[1]`: must point to a directory; `{site}` is a file"),
            ]
        );
        assert!(e[2].starts_with("`execute_command`: "), "{}", e[2]);
        assert!(e[3].starts_with("`extra_arguments[1]`: "), "{}", e[3]);
        let e = errors(
            &PuppetMasterlessProvisionerFactory,
            json!({"manifest_file": at(&d, "site.pp"), "hiera_config_path": at(&d, "modules")}),
        );
        assert_eq!(
            e,
            [format!(
                "`hiera_config_path`: must point to a file; `{}` is a directory",
                at(&d, "modules")
            )]
        );
    }

    #[tokio::test]
    async fn stages_everything_and_runs_puppet_apply_with_packers_defaults() {
        let d = files();
        let p = prepare(
            &PuppetMasterlessProvisionerFactory,
            json!({
                "manifest_file": at(&d, "site.pp"),
                "module_paths": [at(&d, "modules"), at(&d, "modules/")],
                "hiera_config_path": at(&d, "hiera.yaml"),
                "facter": {"role": "web", "n": 3},
                "extra_arguments": ["--verbose", "--environment={{user `env`}}", "--wd={{.WorkingDir}}"],
                "clean_staging_directory": true
            }),
        );
        let guest = FakeGuest::default();
        let ui = provision(p.as_ref(), &guest).await.unwrap();
        let s = "/tmp/packer-puppet-masterless";
        let command = format!(
            "cd {s} && FACTER_n='3' FACTER_packer_build_name='web' FACTER_packer_builder_type='docker' FACTER_role='web' sudo -E puppet apply --detailed-exitcodes --modulepath='{s}/module-0:{s}/module-1' --hiera_config='{s}/hiera.yaml' --verbose --environment=production --wd={s} {s}/manifests/site.pp"
        );
        assert_eq!(
            guest.log(),
            [
                format!("run: sudo mkdir -p '{s}'"),
                format!("run: sudo chmod 0777 '{s}'"),
                format!("upload: {s}/hiera.yaml"),
                format!("run: sudo mkdir -p '{s}/module-0'"),
                format!("run: sudo chmod 0777 '{s}/module-0'"),
                format!("upload_dir: {s}/module-0 <- {}/", at(&d, "modules")),
                format!("run: sudo mkdir -p '{s}/module-1'"),
                format!("run: sudo chmod 0777 '{s}/module-1'"),
                format!("upload_dir: {s}/module-1 <- {}/", at(&d, "modules")),
                format!("run: sudo mkdir -p '{s}/manifests'"),
                format!("run: sudo chmod 0777 '{s}/manifests'"),
                format!("upload: {s}/manifests/site.pp"),
                format!("run: {command}"),
                format!("run: sudo rm -rf '{s}'"),
            ]
        );
        assert_eq!(
            guest.file(&format!("{s}/manifests/site.pp")),
            "notify { 'hi': }\n"
        );
        assert_eq!(guest.file(&format!("{s}/hiera.yaml")), "---\nversion: 5\n");
        assert_eq!(
            ui,
            [
                "say: Provisioning with Puppet...".to_string(),
                "message: Creating Puppet staging directory...".into(),
                format!("message: Creating directory: {s}"),
                "message: Uploading hiera configuration...".into(),
                format!(
                    "message: Uploading local modules from: {}",
                    at(&d, "modules")
                ),
                format!("message: Creating directory: {s}/module-0"),
                format!(
                    "message: Uploading local modules from: {}",
                    at(&d, "modules/")
                ),
                format!("message: Creating directory: {s}/module-1"),
                "message: Uploading manifests...".into(),
                format!("message: Creating directory: {s}/manifests"),
                format!(
                    "message: Uploading manifest file from: {}",
                    at(&d, "site.pp")
                ),
                format!("message: Running Puppet: {command}"),
            ]
        );
    }

    #[tokio::test]
    async fn a_manifest_directory_prevent_sudo_and_a_custom_command() {
        let d = files();
        let p = prepare(
            &PuppetMasterlessProvisionerFactory,
            json!({
                "manifest_file": at(&d, "modules/m/manifests"),
                "manifest_dir": at(&d, "modules"),
                "prevent_sudo": true,
                "puppet_bin_dir": "/opt/puppetlabs/bin",
                "staging_directory": "/var/stage",
                "working_directory": "/srv",
                "execute_command": "{{.PuppetBinDir}}/puppet apply {{.ManifestDir}} {{.ManifestFile}} {{if .Sudo}}sudo{{end}} {{.ModulePathJoiner}} in {{.WorkingDir}}"
            }),
        );
        let guest = FakeGuest::default();
        provision(p.as_ref(), &guest).await.unwrap();
        assert_eq!(
            guest.log(),
            [
                "run: mkdir -p '/var/stage'",
                "run: chmod 0777 '/var/stage'",
                "run: mkdir -p '/var/stage/manifests'",
                "run: chmod 0777 '/var/stage/manifests'",
                &format!("upload_dir: /var/stage/manifests <- {}/", at(&d, "modules")),
                "run: mkdir -p '/var/stage/manifests'",
                "run: chmod 0777 '/var/stage/manifests'",
                "run: mkdir -p '/var/stage/manifests'",
                "run: chmod 0777 '/var/stage/manifests'",
                &format!(
                    "upload_dir: /var/stage/manifests <- {}/",
                    at(&d, "modules/m/manifests")
                ),
                "run: /opt/puppetlabs/bin/puppet apply /var/stage/manifests /var/stage/manifests  : in /srv",
            ]
        );
    }

    #[tokio::test]
    async fn exit_codes_and_failures_read_as_packers() {
        let d = files();
        let config = json!({"manifest_file": at(&d, "site.pp")});
        for (code, ignore, want) in [
            (2, false, None),
            (
                1,
                false,
                Some("Puppet exited with a non-zero exit status: 1"),
            ),
            (6, true, None),
        ] {
            let mut config = config.clone();
            config["ignore_exit_codes"] = ignore.into();
            let p = prepare(&PuppetMasterlessProvisionerFactory, config);
            let guest = FakeGuest::exiting_with("puppet apply", code);
            let r = provision(p.as_ref(), &guest).await;
            assert_eq!(r.err().map(|e| e.to_string()).as_deref(), want);
        }
        let p = prepare(&PuppetMasterlessProvisionerFactory, config.clone());
        let guest = FakeGuest::exiting_with("mkdir", 1);
        assert_eq!(
            failure(p.as_ref(), &guest).await,
            "Error creating staging directory: Non-zero exit status."
        );
        let guest = FakeGuest::exiting_with("chmod", 1);
        assert_eq!(
            failure(p.as_ref(), &guest).await,
            "Error creating staging directory: Non-zero exit status. See output above for more info."
        );
    }

    #[tokio::test]
    async fn windows_guests_get_packers_windows_command() {
        let d = files();
        let p = prepare(
            &PuppetMasterlessProvisionerFactory,
            json!({"manifest_file": at(&d, "site.pp"), "guest_os_type": "windows", "staging_directory": "C:/Temp/p p"}),
        );
        let guest = FakeGuest::default();
        provision(p.as_ref(), &guest).await.unwrap();
        let log = guest.log();
        assert_eq!(log[0], "run: powershell.exe -Command \"New-Item -ItemType directory -Force -ErrorAction SilentlyContinue -Path C:/Temp/p` p\"");
        assert_eq!(log[1], "run: echo 'skipping chmod 0777 C:/Temp/p` p'");
        assert_eq!(
            log.last().unwrap(),
            "run: cd C:/Temp/p p && SET \"FACTER_packer_build_name=web\" & SET \"FACTER_packer_builder_type=docker\" && puppet apply --detailed-exitcodes C:/Temp/p p/manifests/site.pp"
        );
    }

    #[tokio::test]
    async fn an_elevated_user_runs_through_the_uploaded_wrapper() {
        let d = files();
        let p = prepare(
            &PuppetMasterlessProvisionerFactory,
            json!({"manifest_file": at(&d, "site.pp"), "guest_os_type": "windows",
                   "elevated_user": "Administrator", "elevated_password": "{{ build `Password` }}"}),
        );
        let guest = FakeGuest::default();
        provision(p.as_ref(), &guest).await.unwrap();
        let log = guest.log();
        let upload = log
            .iter()
            .find(|l| l.starts_with("upload: C:/Windows/Temp/packer-elevated-shell-"))
            .expect("the wrapper is uploaded");
        let path = upload.trim_start_matches("upload: ");
        assert_eq!(
            log.last().unwrap(),
            &format!("run: powershell -executionpolicy bypass -file \"{path}\"")
        );
        let script = guest.file(path);
        assert!(
            script.contains("<UserId>Administrator</UserId>"),
            "{script}"
        );
        assert!(script.contains("$password = \"s3cret`$\""), "{script}");
        assert!(
            script.contains("puppet apply --detailed-exitcodes"),
            "{script}"
        );
    }
}
