//! The `ansible` provisioner's configuration, as Packer 1.6.6 reads it
//! (plus today's `ansible_proxy_key_type`): a pure `prepare` that applies
//! Packer's defaults and reports every problem at once. Like Packer it
//! asks `ansible-playbook --version` unless `skip_version_check`, so a
//! machine without Ansible fails at validate, not midway through a build.

use std::path::PathBuf;

use kiln_sdk::config::{check_local_path, decode_prepared};
use kiln_sdk::interpolate;
use kiln_sdk::{ConfigError, ConfigErrors, PrepareContext, RawConfig};
use serde::Deserialize;

/// Keys rendered at provision time, with the builder's generated data.
pub(crate) const RUN_TIME_KEYS: [&str; 3] = [
    "extra_arguments",
    "ansible_env_vars",
    "inventory_file_template",
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Fields {
    command: String,
    extra_arguments: Vec<String>,
    ansible_env_vars: Vec<String>,
    playbook_file: String,
    ansible_ssh_extra_args: Vec<String>,
    groups: Vec<String>,
    empty_groups: Vec<String>,
    host_alias: String,
    user: String,
    local_port: i64,
    ssh_host_key_file: String,
    ssh_authorized_key_file: String,
    ansible_proxy_key_type: String,
    /// Accepted and ignored: kiln serves SFTP itself.
    #[allow(dead_code)]
    sftp_command: String,
    skip_version_check: bool,
    use_sftp: bool,
    inventory_directory: String,
    inventory_file_template: String,
    inventory_file: String,
    keep_inventory_file: bool,
    galaxy_file: String,
    galaxy_command: String,
    galaxy_force_install: bool,
    roles_path: String,
    collections_path: String,
    use_proxy: Option<bool>,
}

/// The key type of the proxy's one-time user key (`ansible_proxy_key_type`):
/// ED25519 unless set (Packer's is RSA 2048, which takes far longer to
/// make; the key only ever passes between kiln and the local Ansible).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProxyKeyType {
    Rsa,
    Ed25519,
}

/// How Ansible reaches the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Connection {
    /// Through kiln's SSH proxy (`use_proxy` unset or true).
    Proxy,
    /// Straight to the machine's SSH (`use_proxy: false`), falling back to
    /// the proxy when the machine has no address or no SSH.
    Direct,
}

/// A prepared `ansible` provisioner's settings.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub command: String,
    /// Not yet rendered: they may use the builder's generated data.
    pub extra_arguments: Vec<String>,
    /// Not yet rendered, as `extra_arguments`; Packer's additions
    /// (`ANSIBLE_HOST_KEY_CHECKING`, `ANSIBLE_SCP_IF_SSH`) come last.
    pub ansible_env_vars: Vec<String>,
    pub playbook_file: PathBuf,
    pub ansible_ssh_extra_args: Vec<String>,
    pub groups: Vec<String>,
    pub empty_groups: Vec<String>,
    pub host_alias: String,
    pub user: String,
    /// The user was not configured (Packer then uses the communicator's
    /// user when connecting straight to the machine).
    pub user_was_empty: bool,
    /// 0: a port the system picks.
    pub local_port: u16,
    pub ssh_host_key_file: Option<PathBuf>,
    pub ssh_authorized_key_file: Option<PathBuf>,
    pub proxy_key_type: ProxyKeyType,
    pub inventory_directory: Option<PathBuf>,
    /// Not yet rendered.
    pub inventory_file_template: Option<String>,
    pub inventory_file: Option<String>,
    pub keep_inventory_file: bool,
    pub galaxy_file: Option<PathBuf>,
    pub galaxy_command: String,
    pub galaxy_force_install: bool,
    pub roles_path: Option<String>,
    pub collections_path: Option<String>,
    pub connection: Connection,
    /// Ansible's major version (1 picks Packer's old inventory format);
    /// `None` with `skip_version_check`.
    pub ansible_major_version: Option<u32>,
    pub build_name: String,
    pub builder_type: String,
}

/// The version in `ansible-playbook --version`'s output, as Packer's
/// `\w (\d+\.\d+[.\d+]*)` finds it.
pub(crate) fn parse_version(out: &str) -> Option<String> {
    let b = out.as_bytes();
    for i in 1..b.len() {
        if b[i] != b' ' || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
            continue;
        }
        let rest = &out[i + 1..];
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
            .unwrap_or(rest.len());
        let v = &rest[..end];
        let mut parts = v.splitn(3, '.');
        let (Some(major), Some(minor)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !major.is_empty()
            && major.bytes().all(|c| c.is_ascii_digit())
            && minor.bytes().next().is_some_and(|c| c.is_ascii_digit())
        {
            return Some(v.trim_end_matches(['.', '+']).to_string());
        }
    }
    None
}

fn ansible_major_version(command: &str) -> Result<u32, ConfigError> {
    let out = std::process::Command::new(command)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            ConfigError::at(
                "command",
                format!("cannot run `{command} --version`: {e}"),
            )
            .with_hint("install Ansible (Debian: `apt-get install ansible-core`), set `command`, or set `skip_version_check` if the build installs it")
        })?;
    if !out.status.success() {
        return Err(ConfigError::at(
            "command",
            format!(
                "`{command} --version` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let version = parse_version(&text).ok_or_else(|| {
        ConfigError::at(
            "command",
            format!(
                "cannot find the version of `{command}` in its output: `{}`",
                text.trim()
            ),
        )
    })?;
    version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| {
            ConfigError::at(
                "command",
                format!("cannot read the major version of `{version}`"),
            )
        })
}

/// The name of the user running kiln (Packer's `user.Current()`).
fn current_user() -> Option<String> {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .filter(|u| !u.is_empty())
}

/// Checks a local file the configuration names (Packer's
/// `validateFileConfig`): it must exist and not be a directory.
fn check_file(key: &str, path: &str, errors: &mut ConfigErrors) -> Option<PathBuf> {
    if let Some(e) = check_local_path(key, key_what(key), path) {
        errors.push(e);
        return None;
    }
    if std::path::Path::new(path).is_dir() {
        errors.push(ConfigError::at(
            key,
            format!("`{path}` is a directory; `{key}` must name a file"),
        ));
        return None;
    }
    Some(PathBuf::from(path))
}

fn key_what(key: &str) -> &'static str {
    match key {
        "playbook_file" => "playbook",
        "galaxy_file" => "galaxy file",
        "ssh_authorized_key_file" => "authorized key file",
        "ssh_host_key_file" => "host key file",
        _ => "file",
    }
}

pub(crate) fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Config, ConfigErrors> {
    let (f, mut errors) = decode_prepared::<Fields>(raw, cx, &RUN_TIME_KEYS)?;
    for (key, vals) in [
        ("extra_arguments", f.extra_arguments.clone()),
        ("ansible_env_vars", f.ansible_env_vars.clone()),
        (
            "inventory_file_template",
            vec![f.inventory_file_template.clone()],
        ),
    ] {
        for v in vals {
            if let Err(e) = interpolate::check_syntax(&v) {
                errors.push(ConfigError::at(key, e.to_string()));
            }
        }
    }
    let command = if f.command.is_empty() {
        "ansible-playbook".to_string()
    } else {
        f.command.clone()
    };
    let playbook_file = if f.playbook_file.is_empty() {
        errors.push(
            ConfigError::at("playbook_file", "`playbook_file` must be specified")
                .with_hint("the playbook ansible-playbook runs against the machine"),
        );
        None
    } else {
        check_file("playbook_file", &f.playbook_file, &mut errors)
    };
    let galaxy_file = (!f.galaxy_file.is_empty())
        .then(|| check_file("galaxy_file", &f.galaxy_file, &mut errors))
        .flatten();
    let ssh_authorized_key_file = (!f.ssh_authorized_key_file.is_empty())
        .then(|| {
            check_file(
                "ssh_authorized_key_file",
                &f.ssh_authorized_key_file,
                &mut errors,
            )
        })
        .flatten();
    let ssh_host_key_file = (!f.ssh_host_key_file.is_empty())
        .then(|| check_file("ssh_host_key_file", &f.ssh_host_key_file, &mut errors))
        .flatten();
    let mut ansible_env_vars = f.ansible_env_vars.clone();
    if f.ssh_host_key_file.is_empty() {
        ansible_env_vars.push("ANSIBLE_HOST_KEY_CHECKING=False".into());
    }
    if !f.use_sftp {
        ansible_env_vars.push("ANSIBLE_SCP_IF_SSH=True".into());
    }
    let local_port = match u16::try_from(f.local_port) {
        Ok(p) => p,
        Err(_) => {
            errors.push(ConfigError::at(
                "local_port",
                format!("`{}` is not a valid port (0 to 65535)", f.local_port),
            ));
            0
        }
    };
    let inventory_directory = if f.inventory_directory.is_empty() {
        None
    } else {
        let p = PathBuf::from(&f.inventory_directory);
        if let Some(e) = check_local_path(
            "inventory_directory",
            "inventory directory",
            &f.inventory_directory,
        ) {
            errors.push(e);
        } else if !p.is_dir() {
            errors.push(ConfigError::at(
                "inventory_directory",
                format!("`{}` must be a directory", f.inventory_directory),
            ));
        }
        Some(p)
    };
    let proxy_key_type = match f.ansible_proxy_key_type.as_str() {
        "RSA" | "rsa" => ProxyKeyType::Rsa,
        "" | "ED25519" | "ed25519" => ProxyKeyType::Ed25519,
        other => {
            errors.push(
                ConfigError::at(
                    "ansible_proxy_key_type",
                    format!("unknown key type `{other}`"),
                )
                .with_hint("use `RSA` or `ED25519`"),
            );
            ProxyKeyType::Ed25519
        }
    };
    let ansible_major_version = if f.skip_version_check {
        None
    } else {
        match ansible_major_version(&command) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.push(e);
                None
            }
        }
    };
    let (user, user_was_empty) = if f.user.is_empty() {
        match current_user() {
            Some(u) => (u, true),
            None => {
                errors.push(ConfigError::at(
                    "user",
                    "cannot tell which user runs kiln; set `user`",
                ));
                (String::new(), true)
            }
        }
    } else {
        (f.user.clone(), false)
    };
    if !errors.is_empty() {
        return Err(errors.locate(raw));
    }
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok(Config {
        command,
        extra_arguments: f.extra_arguments,
        ansible_env_vars,
        playbook_file: playbook_file.unwrap_or_default(),
        ansible_ssh_extra_args: f.ansible_ssh_extra_args,
        groups: f.groups,
        empty_groups: f.empty_groups,
        host_alias: if f.host_alias.is_empty() {
            "default".into()
        } else {
            f.host_alias
        },
        user,
        user_was_empty,
        local_port,
        ssh_host_key_file,
        ssh_authorized_key_file,
        proxy_key_type,
        inventory_directory,
        inventory_file_template: non_empty(&f.inventory_file_template),
        inventory_file: non_empty(&f.inventory_file),
        keep_inventory_file: f.keep_inventory_file,
        galaxy_file,
        galaxy_command: if f.galaxy_command.is_empty() {
            "ansible-galaxy".into()
        } else {
            f.galaxy_command
        },
        galaxy_force_install: f.galaxy_force_install,
        roles_path: non_empty(&f.roles_path),
        collections_path: non_empty(&f.collections_path),
        connection: if f.use_proxy == Some(false) {
            Connection::Direct
        } else {
            Connection::Proxy
        },
        ansible_major_version,
        build_name: cx.build_name.clone(),
        builder_type: cx.builder_type.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> PrepareContext {
        kiln_test::prepare_cx("null")
    }

    fn prep(v: serde_json::Value) -> Result<Config, ConfigErrors> {
        prepare(&RawConfig::from_value(v), &cx())
    }

    fn playbook() -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), "- hosts: all\n").unwrap();
        f
    }

    #[test]
    fn finds_the_version_as_packer_does() {
        assert_eq!(
            parse_version("ansible-playbook [core 2.14.18]\n  config file = None\n").as_deref(),
            Some("2.14.18")
        );
        assert_eq!(
            parse_version("ansible-playbook 2.9.6\n").as_deref(),
            Some("2.9.6")
        );
        assert_eq!(parse_version("no version here"), None);
    }

    #[test]
    fn applies_packer_defaults() {
        let pb = playbook();
        let c = prep(serde_json::json!({
            "playbook_file": pb.path(),
            "skip_version_check": true,
        }))
        .unwrap();
        assert_eq!(c.command, "ansible-playbook");
        assert_eq!(c.galaxy_command, "ansible-galaxy");
        assert_eq!(c.host_alias, "default");
        assert_eq!(c.connection, Connection::Proxy);
        assert_eq!(c.local_port, 0);
        assert!(c.user_was_empty);
        assert!(!c.user.is_empty());
        assert_eq!(
            c.ansible_env_vars,
            ["ANSIBLE_HOST_KEY_CHECKING=False", "ANSIBLE_SCP_IF_SSH=True"]
        );
        // kiln's default; Packer's is RSA (`ansible_proxy_key_type: RSA`).
        assert_eq!(c.proxy_key_type, ProxyKeyType::Ed25519);
    }

    #[test]
    fn reports_every_problem_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let err = prep(serde_json::json!({
            "galaxy_file": "/nonexistent/requirements.yml",
            "ssh_authorized_key_file": dir.path(),
            "inventory_directory": "/nonexistent/inventory",
            "local_port": 70000,
            "ansible_proxy_key_type": "DSA",
            "command": "/nonexistent/ansible-playbook",
            "extra_arguments": ["{{ .Unclosed"],
        }))
        .unwrap_err()
        .to_string();
        for want in [
            "`playbook_file` must be specified",
            "bad galaxy file `/nonexistent/requirements.yml`",
            "must name a file",
            "bad inventory directory `/nonexistent/inventory`",
            "`70000` is not a valid port",
            "unknown key type `DSA`",
            "cannot run `/nonexistent/ansible-playbook --version`",
            "extra_arguments",
        ] {
            assert!(err.contains(want), "missing {want:?} in:\n{err}");
        }
    }

    #[test]
    fn run_time_keys_wait_for_generated_data() {
        let pb = playbook();
        let c = prep(serde_json::json!({
            "playbook_file": pb.path(),
            "skip_version_check": true,
            "extra_arguments": ["-e", "host={{ .Host }}"],
            "ansible_env_vars": ["A={{ .Port }}"],
            "use_sftp": true,
            "ssh_host_key_file": pb.path(),
            "use_proxy": false,
            "user": "deploy",
        }))
        .unwrap();
        assert_eq!(c.extra_arguments, ["-e", "host={{ .Host }}"]);
        assert_eq!(c.ansible_env_vars, ["A={{ .Port }}"]);
        assert_eq!(c.connection, Connection::Direct);
        assert_eq!(c.user, "deploy");
        assert!(!c.user_was_empty);
    }
}
