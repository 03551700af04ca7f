//! What `chef-solo` and `chef-client` share, as in Packer 1.6.6 where each
//! has a copy: the per-`guest_os_type` table (`execute_command`,
//! `install_command`, `knife_command`, staging directory), the
//! `chef_license` default, the prepare-time checks of local paths and of
//! the run-time templates, installing Chef (`install_command` with
//! `{{.Sudo}}` and `{{.Version}}`) and creating the staging directory,
//! writing the config file (`config_template` or the default) and the
//! JSON attributes, and running Chef (`execute_command`
//! with `{{.ConfigPath}}`, `{{.JsonPath}}` and `{{.Sudo}}`). Holds nothing.

use kiln_sdk::interpolate::{self, Context};
use kiln_sdk::{ConfigError, ConfigErrors};
use serde_json::{Map, Value};

use crate::elevated::Elevated;
use crate::guest_commands::GuestOsType;
use crate::staging::{self, Guest, Kind, SEE_OUTPUT};

/// Packer's unix `install_command` (Chef's omnitruck installer).
pub const UNIX_INSTALL_COMMAND: &str = "curl -L https://omnitruck.chef.io/install.sh | {{if .Sudo}}sudo {{end}}bash -s --{{if .Version}} -v {{.Version}}{{end}}";

/// Packer's windows `install_command`.
pub const WINDOWS_INSTALL_COMMAND: &str = "powershell.exe -Command \". { iwr -useb https://omnitruck.chef.io/install.ps1 } | iex; Install-Project{{if .Version}} -version {{.Version}}{{end}}\"";

/// Which of the two Chef provisioners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    Solo,
    Client,
}

impl Flavour {
    fn name(self) -> &'static str {
        match self {
            Flavour::Solo => "chef-solo",
            Flavour::Client => "chef-client",
        }
    }
}

/// The defaults of one provisioner on one guest OS.
#[derive(Debug, Clone)]
pub(crate) struct ChefOs {
    pub(crate) execute_command: String,
    pub(crate) install_command: &'static str,
    /// chef-client's `knife_command`.
    pub(crate) knife_command: &'static str,
    pub(crate) staging_dir: String,
}

impl ChefOs {
    /// Packer's table entry for `flavour` on `os`.
    pub(crate) fn new(flavour: Flavour, os: GuestOsType) -> ChefOs {
        let name = flavour.name();
        match os {
            GuestOsType::Unix => ChefOs {
                execute_command: format!(
                    "{{{{if .Sudo}}}}sudo {{{{end}}}}{name} --no-color -c {{{{.ConfigPath}}}} -j {{{{.JsonPath}}}}"
                ),
                install_command: UNIX_INSTALL_COMMAND,
                knife_command: "{{if .Sudo}}sudo {{end}}knife {{.Args}} {{.Flags}}",
                staging_dir: format!("/tmp/packer-{name}"),
            },
            GuestOsType::Windows => ChefOs {
                execute_command: format!(
                    "c:/opscode/chef/bin/{name}.bat --no-color -c {{{{.ConfigPath}}}} -j {{{{.JsonPath}}}}"
                ),
                install_command: WINDOWS_INSTALL_COMMAND,
                knife_command: "c:/opscode/chef/bin/knife.bat {{.Args}} {{.Flags}}",
                staging_dir: format!("C:/Windows/Temp/packer-{name}"),
            },
        }
    }
}

/// Packer's `chef_license` default: `accept-silent` when Chef is
/// installed with the default `install_command` and no license is given.
pub(crate) fn chef_license(
    license: String,
    skip_install: bool,
    install_command: &str,
    os: &ChefOs,
) -> String {
    if !skip_install && install_command == os.install_command && license.is_empty() {
        "accept-silent".to_string()
    } else {
        license
    }
}

/// Checks the template syntax of a key rendered at run time.
pub(crate) fn check_syntax(key: &str, value: &str, errors: &mut ConfigErrors) {
    if let Err(e) = interpolate::check_syntax(value) {
        errors.push(ConfigError::at(key, e.to_string()));
    }
}

/// Checks `config_template`: a readable file.
pub(crate) fn check_config_template(path: &str, errors: &mut ConfigErrors) {
    if path.is_empty() {
        return;
    }
    match staging::stat(path) {
        Err(why) => errors.push(ConfigError::at(
            "config_template",
            format!("bad config template path `{path}`: {why}"),
        )),
        Ok(Kind::Dir) => errors.push(ConfigError::at(
            "config_template",
            format!("config template path must be a file; `{path}` is a directory"),
        )),
        Ok(Kind::File) => {}
    }
}

/// Checks a local path that must be a directory (`what`: `cookbook
/// path`, `roles path`…) or, with `file`, a file.
pub(crate) fn check_path(key: &str, what: &str, path: &str, want: Kind, errors: &mut ConfigErrors) {
    if path.is_empty() {
        return;
    }
    let why = match (staging::stat(path), want) {
        (Err(why), _) => why,
        (Ok(Kind::File), Kind::Dir) => "not a directory".to_string(),
        (Ok(Kind::Dir), Kind::File) => "is a directory".to_string(),
        _ => return,
    };
    errors.push(ConfigError::at(key, format!("bad {what} `{path}`: {why}")));
}

/// Packer's `processJsonUserVars` at prepare time; a failure is recorded.
pub(crate) fn process_json(
    json: Map<String, Value>,
    ctx: &Context,
    errors: &mut ConfigErrors,
) -> Map<String, Value> {
    crate::chef_json::process_user_vars(&json, ctx).unwrap_or_else(|e| {
        errors.push(ConfigError::at(
            "json",
            format!("error processing user variables in JSON: {e}"),
        ));
        json
    })
}

/// Packer's `installChef`: says `Installing Chef...`, renders
/// `install_command` (shown too when `show_command`, as chef-client does)
/// and runs it.
pub(crate) async fn install_chef(
    guest: &Guest<'_>,
    ctx: &Context,
    install_command: &str,
    sudo: bool,
    version: &str,
    show_command: bool,
) -> Result<(), String> {
    guest.ui.message("Installing Chef...");
    let ctx = ctx.with_data([
        ("Sudo", Value::Bool(sudo)),
        ("Version", Value::String(version.to_string())),
    ]);
    let command = interpolate::render(install_command, &ctx)
        .map_err(|e| format!("`install_command`: {e}"))?;
    if show_command {
        guest.ui.message(&command);
    }
    let status = guest.run(&command).await?;
    if status.code() != 0 {
        return Err(format!(
            "Install script exited with non-zero exit status {}",
            status.code()
        ));
    }
    Ok(())
}

/// The config file's text: `config_template` (read now) or `default`,
/// rendered with `data`.
pub(crate) fn render_config(
    config_template: &str,
    default: &str,
    ctx: &Context,
    data: Map<String, Value>,
) -> Result<String, String> {
    let template = if config_template.is_empty() {
        default.to_string()
    } else {
        std::fs::read_to_string(config_template)
            .map_err(|e| format!("open {config_template}: {}", staging::reason(&e)))?
    };
    interpolate::render(&template, &ctx.with_data(data)).map_err(|e| e.to_string())
}

/// The start of both runs: installs Chef unless `skip_install`, then
/// creates the staging directory.
pub(crate) async fn install_and_stage(
    guest: &Guest<'_>,
    ctx: &Context,
    install: Option<Install<'_>>,
    staging_dir: &str,
) -> Result<(), String> {
    if let Some(i) = install {
        install_chef(guest, ctx, i.command, i.sudo, i.version, i.show_command)
            .await
            .map_err(|e| format!("Error installing Chef: {e}"))?;
    }
    guest
        .create_dir(staging_dir, SEE_OUTPUT)
        .await
        .map_err(|e| format!("Error creating staging directory: {e}"))
}

/// How Chef is installed (see [`install_chef`]).
pub(crate) struct Install<'a> {
    pub(crate) command: &'a str,
    pub(crate) sudo: bool,
    pub(crate) version: &'a str,
    pub(crate) show_command: bool,
}

/// Writes the two files Chef runs with into `staging_dir`: the config
/// file `names.0` (`config_template` or `default`, rendered with `data`)
/// and the JSON attributes `names.1` (`json` plus `run_list`). Returns
/// their remote paths.
pub(crate) async fn write_files(
    guest: &Guest<'_>,
    ctx: &Context,
    staging_dir: &str,
    names: (&str, &str),
    config: (&str, &str, Map<String, Value>),
    json: (&Map<String, Value>, &[String]),
) -> Result<(String, String), String> {
    let (config_name, json_name) = names;
    let (config_template, default, data) = config;
    guest
        .ui
        .message(&format!("Creating configuration file '{config_name}'"));
    let config_path = staging::join_clean(staging_dir, config_name);
    match render_config(config_template, default, ctx, data) {
        Ok(text) => guest.upload_bytes(&config_path, text.as_bytes()).await,
        Err(e) => Err(e),
    }
    .map_err(|e| format!("Error creating Chef config file: {e}"))?;

    guest.ui.message("Creating JSON attribute file");
    let json_path = staging::join_clean(staging_dir, json_name);
    let node = crate::chef_json::node_file(json.0, json.1);
    guest
        .upload_bytes(&json_path, node.as_bytes())
        .await
        .map_err(|e| format!("Error creating JSON attributes: {e}"))?;
    Ok((config_path, json_path))
}

/// Packer's `executeChef`: renders `execute_command`, wraps it for an
/// elevated user (chef-client), says `Executing Chef: <command>` and runs
/// it.
pub(crate) async fn execute_chef(
    guest: &Guest<'_>,
    ctx: &Context,
    execute_command: &str,
    paths: (&str, &str),
    sudo: bool,
    elevated: Option<(&Elevated, &Context)>,
) -> Result<(), String> {
    let (config_path, json_path) = paths;
    let data = ctx.with_data([
        ("ConfigPath", Value::String(config_path.to_string())),
        ("JsonPath", Value::String(json_path.to_string())),
        ("Sudo", Value::Bool(sudo)),
    ]);
    let mut command = interpolate::render(execute_command, &data)
        .map_err(|e| format!("`execute_command`: {e}"))?;
    if let Some((elevated, generated)) = elevated {
        command = elevated.wrap(guest, command, generated).await?;
    }
    guest.ui.message(&format!("Executing Chef: {command}"));
    let status = guest.run(&command).await?;
    if status.code() != 0 {
        return Err(format!("Non-zero exit status: {}", status.code()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_packers() {
        let solo = ChefOs::new(Flavour::Solo, GuestOsType::Unix);
        assert_eq!(
            solo.execute_command,
            "{{if .Sudo}}sudo {{end}}chef-solo --no-color -c {{.ConfigPath}} -j {{.JsonPath}}"
        );
        assert_eq!(solo.staging_dir, "/tmp/packer-chef-solo");
        let client = ChefOs::new(Flavour::Client, GuestOsType::Windows);
        assert_eq!(
            client.execute_command,
            "c:/opscode/chef/bin/chef-client.bat --no-color -c {{.ConfigPath}} -j {{.JsonPath}}"
        );
        assert_eq!(client.staging_dir, "C:/Windows/Temp/packer-chef-client");
        assert_eq!(
            client.knife_command,
            "c:/opscode/chef/bin/knife.bat {{.Args}} {{.Flags}}"
        );
    }

    #[test]
    fn the_license_is_accepted_only_for_the_default_install() {
        let os = ChefOs::new(Flavour::Solo, GuestOsType::Unix);
        let lic = |l: &str, skip: bool, cmd: &str| chef_license(l.into(), skip, cmd, &os);
        assert_eq!(lic("", false, UNIX_INSTALL_COMMAND), "accept-silent");
        assert_eq!(lic("accept", false, UNIX_INSTALL_COMMAND), "accept");
        assert_eq!(lic("", true, UNIX_INSTALL_COMMAND), "");
        assert_eq!(lic("", false, "apt-get install chef"), "");
    }

    #[test]
    fn install_commands_render_like_packers() {
        let ctx = Context::default();
        let r = |sudo: bool, version: &str| {
            interpolate::render(
                UNIX_INSTALL_COMMAND,
                &ctx.with_data([
                    ("Sudo", Value::Bool(sudo)),
                    ("Version", Value::String(version.into())),
                ]),
            )
            .unwrap()
        };
        assert_eq!(
            r(true, ""),
            "curl -L https://omnitruck.chef.io/install.sh | sudo bash -s --"
        );
        assert_eq!(
            r(false, "17.10.3"),
            "curl -L https://omnitruck.chef.io/install.sh | bash -s -- -v 17.10.3"
        );
    }
}
