//! What `puppet-masterless` and `puppet-server` share, as in Packer 1.6.6
//! where each has a copy: the per-`guest_os_type` table (staging
//! directory, how facts become variables, how module paths are joined),
//! the facts every run gets (`packer_build_name`, `packer_builder_type`),
//! rendering `extra_arguments` and `execute_command`, and Puppet's exit
//! codes (0 and 2 succeed, `--detailed-exitcodes`); and [`Puppet`], the
//! prepared keys both keep, with the run both end with (render, elevate,
//! run `execute_command`, remove the staging directory when
//! `clean_staging_directory`). Holds nothing itself.

use std::collections::BTreeMap;

use kiln_sdk::communicator::Communicator;
use kiln_sdk::interpolate::{self, Context};
use kiln_sdk::{ConfigError, ConfigErrors, PrepareContext, ProvisionContext};
use serde_json::{Map, Value};

use crate::elevated::Elevated;
use crate::guest_commands::{host_system_root, GuestCommands, GuestOsType};
use crate::provisioner::{generated_context, non_empty_or};
use crate::staging::Guest;

/// The keys both Puppet provisioners take, as decoded (`staging_dir` is
/// `staging_directory` in puppet-masterless).
pub(crate) struct Keys {
    pub(crate) clean_staging_directory: bool,
    pub(crate) execute_command: String,
    pub(crate) extra_arguments: Vec<String>,
    pub(crate) facter: BTreeMap<String, String>,
    pub(crate) ignore_exit_codes: bool,
    pub(crate) prevent_sudo: bool,
    pub(crate) puppet_bin_dir: String,
    pub(crate) staging_dir: String,
    pub(crate) working_directory: String,
    pub(crate) elevated_user: String,
    pub(crate) elevated_password: String,
}

/// The [`Keys`] of a provisioner's decoded `Fields` `$f`, whose staging
/// key is `$staging`.
macro_rules! keys {
    ($f:ident, $staging:ident) => {
        $crate::puppet::Keys {
            clean_staging_directory: $f.clean_staging_directory,
            execute_command: $f.execute_command,
            extra_arguments: $f.extra_arguments,
            facter: $f.facter,
            ignore_exit_codes: $f.ignore_exit_codes,
            prevent_sudo: $f.prevent_sudo,
            puppet_bin_dir: $f.puppet_bin_dir,
            staging_dir: $f.$staging,
            working_directory: $f.working_directory,
            elevated_user: $f.elevated_user,
            elevated_password: $f.elevated_password,
        }
    };
}
pub(crate) use keys;

/// What both Puppet provisioners keep after `prepare`, defaults applied.
#[derive(Debug, Clone)]
pub(crate) struct Puppet {
    commands: GuestCommands,
    os: PuppetOs,
    clean_staging_directory: bool,
    execute_command: String,
    extra_arguments: Vec<String>,
    /// The user's facts plus `packer_build_name` and `packer_builder_type`.
    facter: BTreeMap<String, String>,
    ignore_exit_codes: bool,
    sudo: bool,
    puppet_bin_dir: String,
    pub(crate) staging_dir: String,
    working_dir: String,
    elevated: Elevated,
}

impl Puppet {
    /// Applies Packer's defaults for `os`: the staging directory
    /// `dir_name` in the OS's temporary directory, the working directory
    /// (the staging one) and `execute_command` (`commands`: the unix and
    /// the windows default). Redacts `elevated_password`.
    pub(crate) fn new(
        cx: &PrepareContext,
        os: GuestOsType,
        dir_name: &str,
        commands: [&str; 2],
        keys: Keys,
    ) -> Puppet {
        if !keys.elevated_password.is_empty() {
            cx.redactor.add(keys.elevated_password.clone());
        }
        let table = PuppetOs::new(os, dir_name);
        let staging_dir = non_empty_or(keys.staging_dir, &table.staging_dir);
        let working_dir = non_empty_or(keys.working_directory, &staging_dir);
        let default_command = match os {
            GuestOsType::Unix => commands[0],
            GuestOsType::Windows => commands[1],
        };
        Puppet {
            commands: GuestCommands::new(os, !keys.prevent_sudo),
            os: table,
            clean_staging_directory: keys.clean_staging_directory,
            execute_command: non_empty_or(keys.execute_command, default_command),
            extra_arguments: keys.extra_arguments,
            facter: facts(keys.facter, &cx.build_name, &cx.builder_type),
            ignore_exit_codes: keys.ignore_exit_codes,
            sudo: !keys.prevent_sudo,
            puppet_bin_dir: keys.puppet_bin_dir,
            staging_dir,
            working_dir,
            elevated: Elevated {
                user: keys.elevated_user,
                password: keys.elevated_password,
            },
        }
    }

    /// The guest of one run.
    pub(crate) fn guest<'a>(
        &self,
        cx: &'a ProvisionContext<'_>,
        comm: &'a dyn Communicator,
    ) -> Guest<'a> {
        Guest {
            comm,
            ui: cx.ui,
            commands: self.commands,
        }
    }

    /// The start of both runs: says so and creates the staging directory
    /// (`mkdir_failure`: what a failing `mkdir` reads as).
    pub(crate) async fn create_staging_dir(
        &self,
        guest: &Guest<'_>,
        mkdir_failure: &str,
    ) -> Result<(), String> {
        guest.ui.say("Provisioning with Puppet...");
        guest.ui.message("Creating Puppet staging directory...");
        guest
            .create_dir(&self.staging_dir, mkdir_failure)
            .await
            .map_err(|e| format!("Error creating staging directory: {e}"))
    }

    /// What joins module paths on the guest OS (`:` or `;`).
    pub(crate) fn module_path_joiner(&self) -> &'static str {
        self.os.module_path_joiner
    }

    /// The `execute_command` data both have (`Debug`, `FacterVars`,
    /// `PuppetBinDir`, `Sudo`, `WorkingDir`) plus the provisioner's own.
    pub(crate) fn data<const N: usize>(&self, own: [(&str, Value); N]) -> Map<String, Value> {
        let mut data = Map::from_iter([
            ("Debug".to_string(), Value::Bool(false)),
            (
                "FacterVars".to_string(),
                self.os.facter_vars(&self.facter).into(),
            ),
            (
                "PuppetBinDir".to_string(),
                self.puppet_bin_dir.clone().into(),
            ),
            ("Sudo".to_string(), Value::Bool(self.sudo)),
            ("WorkingDir".to_string(), self.working_dir.clone().into()),
        ]);
        data.extend(own.into_iter().map(|(k, v)| (k.to_string(), v)));
        data
    }

    /// The end of both runs: renders `execute_command` with `data`, wraps
    /// it for an elevated user, says `Running Puppet: <command>`, runs it,
    /// checks the exit code and removes the staging directory when
    /// `clean_staging_directory`. `start_failure` prefixes a failure to
    /// start the command (puppet-server returns it as it is).
    pub(crate) async fn execute(
        &self,
        guest: &Guest<'_>,
        cx: &ProvisionContext<'_>,
        data: Map<String, Value>,
        start_failure: Option<&str>,
    ) -> Result<(), String> {
        let command = render_command(
            cx.interpolation,
            data,
            &self.extra_arguments,
            &self.execute_command,
        )?;
        let command = self
            .elevated
            .wrap(guest, command, &generated_context(cx))
            .await?;

        guest.ui.message(&format!("Running Puppet: {command}"));
        let status = guest.run(&command).await.map_err(|e| match start_failure {
            Some(prefix) => format!("{prefix}: {e}"),
            None => e,
        })?;
        check_exit(status.code(), self.ignore_exit_codes)?;

        if self.clean_staging_directory {
            guest
                .remove_dir(&self.staging_dir)
                .await
                .map_err(|e| format!("Error removing staging directory: {e}"))?;
        }
        Ok(())
    }
}

/// How facts and module paths are written on one guest OS.
#[derive(Debug, Clone)]
pub(crate) struct PuppetOs {
    /// The default `staging_directory` / `staging_dir`.
    staging_dir: String,
    /// `FACTER_%s='%s'` on unix, `SET "FACTER_%s=%s"` on windows.
    facter_format: &'static str,
    facter_joiner: &'static str,
    /// `:` on unix, `;` on windows.
    module_path_joiner: &'static str,
}

impl PuppetOs {
    /// The table entry of `os` for the provisioner whose staging directory
    /// is named `dir_name` (`packer-puppet-masterless`).
    pub(crate) fn new(os: GuestOsType, dir_name: &str) -> PuppetOs {
        match os {
            GuestOsType::Unix => PuppetOs {
                staging_dir: format!("/tmp/{dir_name}"),
                facter_format: "FACTER_%s='%s'",
                facter_joiner: " ",
                module_path_joiner: ":",
            },
            GuestOsType::Windows => PuppetOs {
                staging_dir: format!("{}/Temp/{dir_name}", host_system_root()),
                facter_format: "SET \"FACTER_%s=%s\"",
                facter_joiner: " & ",
                module_path_joiner: ";",
            },
        }
    }

    /// `{{.FacterVars}}`: every fact in the OS's format, joined. Sorted by
    /// name (Packer's order is Go's random map order).
    pub(crate) fn facter_vars(&self, facter: &BTreeMap<String, String>) -> String {
        facter
            .iter()
            .map(|(k, v)| self.facter_format.replacen("%s", k, 1).replacen("%s", v, 1))
            .collect::<Vec<_>>()
            .join(self.facter_joiner)
    }
}

/// The user's facts plus the two Packer always sets (which win).
pub(crate) fn facts(
    facter: BTreeMap<String, String>,
    build_name: &str,
    builder_type: &str,
) -> BTreeMap<String, String> {
    let mut facter = facter;
    facter.insert("packer_build_name".into(), build_name.into());
    facter.insert("packer_builder_type".into(), builder_type.into());
    facter
}

/// Checks the template syntax of the keys rendered at run time.
pub(crate) fn check_run_time_syntax(
    execute_command: &str,
    extra_arguments: &[String],
    errors: &mut ConfigErrors,
) {
    if let Err(e) = interpolate::check_syntax(execute_command) {
        errors.push(ConfigError::at("execute_command", e.to_string()));
    }
    for (i, a) in extra_arguments.iter().enumerate() {
        if let Err(e) = interpolate::check_syntax(a) {
            errors.push(ConfigError::at(
                format!("extra_arguments[{i}]"),
                e.to_string(),
            ));
        }
    }
}

/// Renders `extra_arguments` (joined by spaces) and then `execute_command`
/// with the execute template's `data`, as Packer does: the arguments see
/// the data with an empty `ExtraArguments`, the command sees them.
pub(crate) fn render_command(
    ctx: &Context,
    mut data: serde_json::Map<String, serde_json::Value>,
    extra_arguments: &[String],
    execute_command: &str,
) -> Result<String, String> {
    data.insert("ExtraArguments".into(), "".into());
    let with = |data: &serde_json::Map<String, serde_json::Value>| {
        ctx.with_data(data.iter().map(|(k, v)| (k.clone(), v.clone())))
    };
    let extra = interpolate::render(&extra_arguments.join(" "), &with(&data))
        .map_err(|e| format!("`extra_arguments`: {e}"))?;
    data.insert("ExtraArguments".into(), extra.into());
    interpolate::render(execute_command, &with(&data))
        .map_err(|e| format!("`execute_command`: {e}"))
}

/// Puppet's `--detailed-exitcodes`: 0 (no changes) and 2 (changes)
/// succeed, unless `ignore_exit_codes` accepts every code.
pub(crate) fn check_exit(code: i32, ignore_exit_codes: bool) -> Result<(), String> {
    if code != 0 && code != 2 && !ignore_exit_codes {
        return Err(format!("Puppet exited with a non-zero exit status: {code}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_formatted_per_os() {
        let f = facts(
            BTreeMap::from([
                ("role".into(), "web".into()),
                ("packer_build_name".into(), "x".into()),
            ]),
            "b",
            "docker",
        );
        assert_eq!(
            PuppetOs::new(GuestOsType::Unix, "d").facter_vars(&f),
            "FACTER_packer_build_name='b' FACTER_packer_builder_type='docker' FACTER_role='web'"
        );
        assert_eq!(
            PuppetOs::new(GuestOsType::Windows, "d").facter_vars(&f),
            "SET \"FACTER_packer_build_name=b\" & SET \"FACTER_packer_builder_type=docker\" & SET \"FACTER_role=web\""
        );
    }

    #[test]
    fn exit_codes_follow_detailed_exitcodes() {
        assert!(check_exit(0, false).is_ok());
        assert!(check_exit(2, false).is_ok());
        assert_eq!(
            check_exit(4, false).unwrap_err(),
            "Puppet exited with a non-zero exit status: 4"
        );
        assert!(check_exit(6, true).is_ok());
    }

    #[test]
    fn extra_arguments_see_the_data_and_the_command_sees_them() {
        let mut data = serde_json::Map::new();
        data.insert("WorkingDir".into(), "/w".into());
        let cmd = render_command(
            &Context::default(),
            data,
            &[
                "--a={{.WorkingDir}}".into(),
                "--b=[{{.ExtraArguments}}]".into(),
            ],
            "run {{.ExtraArguments}} in {{.WorkingDir}}",
        )
        .unwrap();
        assert_eq!(cmd, "run --a=/w --b=[] in /w");
    }
}
