//! The docker builder's configuration: Packer 1.6.6's keys, decoded and
//! validated into a typed [`Config`] (an [`Output`] enum instead of the
//! `commit`/`export_path`/`discard` trio, a [`Pull`] policy, a parsed
//! [`RunSpec`]). It touches no daemon or network; its only I/O is reading
//! the seccomp profile files `run_command` names (`--security-opt
//! seccomp=FILE`, read at validate as the `docker` CLI reads them before
//! it creates the container). Stores only the config; nothing to clean up.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kiln_sdk::config::{
    decode_lenient, did_you_mean, ConfigError, ConfigErrors, DecodeOptions, RawConfig,
};
use kiln_sdk::{interpolate, PrepareContext, Secret};
use serde::Deserialize;

use crate::run_command::{self, RunSpec};

/// Packer's default `run_command`.
pub const DEFAULT_RUN_COMMAND: [&str; 6] =
    ["-d", "-i", "-t", "--entrypoint=/bin/sh", "--", "{{.Image}}"];

/// Packer's default `container_dir`.
pub const DEFAULT_CONTAINER_DIR: &str = "/packer-files";

/// The Dockerfile instructions the engine accepts in a commit's `changes`.
pub const CHANGE_INSTRUCTIONS: [&str; 11] = [
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "HEALTHCHECK",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// The keys of Packer's docker builder; the communicator's `ssh_*` keys
/// are accepted too (Packer decodes them for every builder) and only
/// type-checked, since the container is reached through the engine.
#[derive(Deserialize, Default)]
struct RawDocker {
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    changes: Vec<String>,
    #[serde(default)]
    commit: bool,
    #[serde(default)]
    container_dir: Option<String>,
    #[serde(default)]
    discard: bool,
    #[serde(default)]
    exec_user: Option<String>,
    #[serde(default)]
    export_path: Option<String>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    privileged: bool,
    #[serde(default)]
    pull: Option<bool>,
    #[serde(default)]
    run_command: Option<Vec<String>>,
    #[serde(default)]
    volumes: BTreeMap<String, String>,
    #[serde(default)]
    fix_upload_owner: Option<bool>,
    #[serde(default)]
    windows_container: bool,
    #[serde(default)]
    login: bool,
    #[serde(default)]
    login_password: Option<Secret<String>>,
    #[serde(default)]
    login_server: Option<String>,
    #[serde(default)]
    login_username: Option<String>,
    #[serde(default)]
    ecr_login: bool,
    #[serde(default)]
    aws_access_key: Option<String>,
    #[serde(default)]
    aws_secret_key: Option<Secret<String>>,
    #[serde(default)]
    aws_token: Option<Secret<String>>,
    #[serde(default)]
    aws_profile: Option<String>,
    #[serde(default)]
    cap_add: Vec<String>,
    #[serde(default)]
    cap_drop: Vec<String>,
    #[serde(default)]
    tmpfs: Vec<String>,
    #[serde(default)]
    device: Vec<String>,
    #[serde(default)]
    platform: Option<String>,
    #[serde(default)]
    communicator: Option<String>,
}

/// What becomes of the container once provisioned (Packer's `commit`,
/// `export_path` and `discard`: exactly one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Commit it to a new image.
    Commit {
        /// `author`.
        author: Option<String>,
        /// `message`.
        message: Option<String>,
        /// `changes`: Dockerfile instructions applied at commit.
        changes: Vec<String>,
    },
    /// Export its file system to a tar file.
    Export {
        /// `export_path`.
        path: PathBuf,
    },
    /// Throw it away.
    Discard,
}

/// Whether to pull `image` first (Packer's `pull`, default true).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pull {
    /// Pull unless the image is already local.
    IfMissing,
    /// Never pull: the image must be local.
    Never,
}

/// Who owns uploaded files (Packer's `fix_upload_owner`, default true).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadOwner {
    /// The container's user (`chown -R` after each upload when it is not
    /// root).
    ContainerUser,
    /// Root, as the archive leaves them.
    Root,
}

/// How provisioners reach the container (`communicator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Communicator {
    /// The engine's exec and archive APIs (Packer's `docker`, the default).
    Docker,
    /// None: the container is committed or exported as it ran
    /// (`communicator: none`); provisioners that need a communicator fail.
    None,
}

/// Registry credentials for the pull (`login*`).
#[derive(Debug, Clone)]
pub enum Login {
    /// No login.
    Anonymous,
    /// `login: true`.
    Credentials {
        /// `login_server`.
        server: Option<String>,
        /// `login_username`.
        username: Option<String>,
        /// `login_password`.
        password: Option<Secret<String>>,
    },
}

/// The validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// `image`.
    pub image: String,
    /// `pull`.
    pub pull: Pull,
    /// `commit` / `export_path` / `discard`.
    pub output: Output,
    /// `run_command`, parsed, with `privileged`, `cap_add`, `cap_drop`,
    /// `volumes`, `tmpfs`, `device` and `platform` merged in.
    pub run: RunSpec,
    /// The extra flags and the rendered `run_command`, for the "Run
    /// command" line Packer prints.
    pub run_display: Vec<String>,
    /// `container_dir`: where the host's temporary directory is mounted.
    pub container_dir: String,
    /// `fix_upload_owner`.
    pub upload_owner: UploadOwner,
    /// `exec_user`.
    pub exec_user: Option<String>,
    /// `communicator`.
    pub communicator: Communicator,
    /// `login*`.
    pub login: Login,
}

/// Decodes and validates; collects every error.
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Config, ConfigErrors> {
    let (r, mut errors) = decode_lenient::<RawDocker>(
        raw,
        &DecodeOptions {
            interpolate: Some(&cx.interpolation),
            skip_interpolation: &["run_command"],
            extra_fields: kiln_ssh::field_names(),
        },
    );
    let Some(r) = r else {
        return Err(errors);
    };
    // `ssh_pty`, `ssh_timeout`… are accepted and type-checked (their
    // secrets registered), as Packer 1.6.6 does with the docker communicator.
    if matches!(
        r.communicator.as_deref(),
        None | Some("") | Some("docker") | Some("none")
    ) {
        let mut ssh_keys = raw.clone();
        ssh_keys
            .values
            .insert("communicator".into(), serde_json::Value::from("none"));
        if let Err(e) = kiln_ssh::prepare(&ssh_keys, cx) {
            errors.0.extend(e.0);
        }
    }
    for secret in [&r.login_password, &r.aws_secret_key, &r.aws_token]
        .into_iter()
        .flatten()
    {
        cx.redactor.add(secret.expose().clone());
    }

    let image = r.image.clone().unwrap_or_default();
    if image.is_empty() {
        errors.push(ConfigError::at(
            "image",
            "`image` is required: the base image of the container",
        ));
    }

    let export = r.export_path.clone().filter(|p| !p.is_empty());
    let chosen = [r.commit, export.is_some(), r.discard]
        .iter()
        .filter(|b| **b)
        .count();
    let output = if chosen > 1 {
        errors.push(ConfigError::new(
            "only one of `commit`, `discard` and `export_path` may be set",
        ));
        Output::Discard
    } else if r.commit {
        Output::Commit {
            author: r.author.clone().filter(|s| !s.is_empty()),
            message: r.message.clone().filter(|s| !s.is_empty()),
            changes: r.changes.clone(),
        }
    } else if let Some(p) = export {
        Output::Export {
            path: PathBuf::from(p),
        }
    } else if r.discard {
        Output::Discard
    } else {
        errors.push(
            ConfigError::new("no instructions given for handling the artifact")
                .with_hint("set one of `commit`, `discard` or `export_path`"),
        );
        Output::Discard
    };
    if !matches!(output, Output::Commit { .. }) && !r.changes.is_empty() && chosen == 1 {
        errors.push(ConfigError::at(
            "changes",
            "`changes` only applies when `commit` is true",
        ));
    }
    for (i, change) in r.changes.iter().enumerate() {
        if let Err(e) = check_change(change) {
            errors.push(e.at_index(i));
        }
    }

    if r.windows_container {
        errors.push(ConfigError::at(
            "windows_container",
            "windows containers are not supported by kiln",
        ));
    }
    if r.ecr_login {
        let mut e = ConfigError::at(
            "ecr_login",
            "`ecr_login` is not available: kiln has no AWS client and builds offline",
        )
        .with_hint("log in with `login`, `login_server`, `login_username` and `login_password`");
        if r.login_server.as_deref().unwrap_or("").is_empty() {
            e.message.push_str("; it would also need `login_server`");
        }
        errors.push(e);
    }
    let communicator = match r.communicator.as_deref() {
        None | Some("") | Some("docker") => Communicator::Docker,
        Some("none") => Communicator::None,
        Some(other) => {
            errors.push(
                ConfigError::at(
                    "communicator",
                    format!("the `{other}` communicator is not supported by the docker builder"),
                )
                .with_hint("use `docker` (the default: the container is reached through the docker engine) or `none`"),
            );
            Communicator::Docker
        }
    };

    // `run_command` is rendered here, with `{{.Image}}` known.
    let run_args: Vec<String> = match &r.run_command {
        Some(v) if !v.is_empty() => v.clone(),
        _ => DEFAULT_RUN_COMMAND.iter().map(|s| s.to_string()).collect(),
    };
    let ictx = cx
        .interpolation
        .with_data([("Image", serde_json::Value::String(image.clone()))]);
    let mut rendered = Vec::with_capacity(run_args.len());
    for (i, a) in run_args.iter().enumerate() {
        match interpolate::render(a, &ictx) {
            Ok(s) => rendered.push(s),
            Err(e) => errors.push(ConfigError::at(format!("run_command[{i}]"), e.to_string())),
        }
    }
    let mut run_display = Vec::new();
    for d in &r.device {
        run_display.extend(["--device".to_string(), d.clone()]);
    }
    for c in &r.cap_add {
        run_display.extend(["--cap-add".to_string(), c.clone()]);
    }
    for c in &r.cap_drop {
        run_display.extend(["--cap-drop".to_string(), c.clone()]);
    }
    if r.privileged {
        run_display.push("--privileged".to_string());
    }
    for t in &r.tmpfs {
        run_display.extend(["--tmpfs".to_string(), t.clone()]);
    }
    for (host, container) in &r.volumes {
        run_display.extend(["-v".to_string(), format!("{host}:{container}")]);
    }
    run_display.extend(rendered.iter().cloned());
    let mut run = if rendered.len() == run_args.len() {
        match run_command::parse(&rendered)
            .and_then(load_seccomp_profiles)
            .map(absolute_bind_sources)
        {
            Ok(s) => s,
            Err(e) => {
                errors.push(ConfigError::at("run_command", e));
                RunSpec::default()
            }
        }
    } else {
        RunSpec::default()
    };
    run.privileged |= r.privileged;
    run.cap_add.extend(r.cap_add.iter().cloned());
    run.cap_drop.extend(r.cap_drop.iter().cloned());
    run.tmpfs.extend(r.tmpfs.iter().cloned());
    run.devices.extend(r.device.iter().cloned());
    for (host, container) in &r.volumes {
        if host.is_empty() || container.is_empty() {
            errors.push(ConfigError::at(
                format!("volumes.{host}"),
                "a volume needs a host path and a container path",
            ));
        }
        run.binds.push(format!("{host}:{container}"));
    }
    if let Some(p) = r.platform.clone().filter(|p| !p.is_empty()) {
        run.platform = Some(p);
    }

    let container_dir = r
        .container_dir
        .clone()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| DEFAULT_CONTAINER_DIR.to_string());
    if !container_dir.starts_with('/') {
        errors.push(ConfigError::at(
            "container_dir",
            format!("`container_dir` must be an absolute path, found `{container_dir}`"),
        ));
    }

    let login = if r.login {
        Login::Credentials {
            server: r.login_server.clone().filter(|s| !s.is_empty()),
            username: r.login_username.clone().filter(|s| !s.is_empty()),
            password: r.login_password.clone(),
        }
    } else {
        Login::Anonymous
    };
    let _ = (&r.aws_access_key, &r.aws_profile);

    errors.into_result(Config {
        image,
        pull: if r.pull.unwrap_or(true) {
            Pull::IfMissing
        } else {
            Pull::Never
        },
        output,
        run,
        run_display,
        container_dir,
        upload_owner: if r.fix_upload_owner.unwrap_or(true) {
            UploadOwner::ContainerUser
        } else {
            UploadOwner::Root
        },
        exec_user: r.exec_user.filter(|u| !u.is_empty()),
        communicator,
        login,
    })
}

/// Replaces `--security-opt seccomp=FILE` by the profile's JSON, as the
/// `docker` CLI does before it creates the container; `unconfined` and
/// `builtin` stay as they are.
fn load_seccomp_profiles(mut spec: RunSpec) -> Result<RunSpec, String> {
    for opt in spec.host.security_opt.iter_mut().flatten() {
        let Some(path) = opt
            .strip_prefix("seccomp=")
            .or_else(|| opt.strip_prefix("seccomp:"))
        else {
            continue;
        };
        if path == "unconfined" || path == "builtin" {
            continue;
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!("cannot read the seccomp profile `{path}` of `--security-opt`: {e}")
        })?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("the seccomp profile `{path}` is not JSON: {e}"))?;
        *opt = format!("seccomp={json}");
    }
    Ok(spec)
}

/// `-v ./dir:/ctr`: a host path starting with `.` is made absolute from the
/// current directory, as the `docker` CLI does (the engine takes only
/// absolute paths and volume names).
fn absolute_bind_sources(mut spec: RunSpec) -> RunSpec {
    for bind in &mut spec.binds {
        if let Some((host, rest)) = bind.split_once(':') {
            if host.starts_with('.') {
                if let Ok(abs) = std::path::absolute(host) {
                    *bind = format!("{}:{rest}", abs.display());
                }
            }
        }
    }
    spec
}

/// A problem with one `changes` entry, before its index is known.
struct ChangeError(String, Option<String>);

impl ChangeError {
    fn at_index(self, i: usize) -> ConfigError {
        let e = ConfigError::at(format!("changes[{i}]"), self.0);
        match self.1 {
            Some(h) => e.with_hint(h),
            None => e,
        }
    }
}

/// Checks that a `changes` entry is a Dockerfile instruction the engine
/// applies at commit.
fn check_change(change: &str) -> Result<(), ChangeError> {
    let trimmed = change.trim();
    let keyword = trimmed.split_whitespace().next().unwrap_or("");
    if keyword.is_empty() {
        return Err(ChangeError("empty change".into(), None));
    }
    let upper = keyword.to_ascii_uppercase();
    if !CHANGE_INSTRUCTIONS.contains(&upper.as_str()) {
        let hint = did_you_mean(&upper, CHANGE_INSTRUCTIONS)
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| format!("supported: {}", CHANGE_INSTRUCTIONS.join(", ")));
        return Err(ChangeError(
            format!("`{keyword}` cannot be applied at commit"),
            Some(hint),
        ));
    }
    if trimmed.len() == keyword.len() {
        return Err(ChangeError(format!("`{keyword}` needs an argument"), None));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_test::prepare_cx;
    use serde_json::json;

    fn prep(v: serde_json::Value) -> Result<Config, ConfigErrors> {
        prepare(&RawConfig::from_value(v), &prepare_cx("docker"))
    }

    #[test]
    fn defaults_follow_packer() {
        let c = prep(json!({"image": "busybox", "commit": true})).unwrap();
        assert_eq!(c.pull, Pull::IfMissing);
        assert_eq!(c.container_dir, "/packer-files");
        assert_eq!(c.upload_owner, UploadOwner::ContainerUser);
        assert_eq!(c.run.image, "busybox");
        assert_eq!(c.run.entrypoint, Some(vec!["/bin/sh".into()]));
        assert!(c.run.tty && c.run.interactive);
        assert!(matches!(c.output, Output::Commit { .. }));
    }

    #[test]
    fn collects_every_error() {
        let e = prep(json!({
            "commit": true, "discard": true,
            "changes": ["FROM x", "CMD"],
            "ecr_login": true,
            "run_command": ["--memory=1g", "--env-file=vars.env", "{{.Image}}"],
            "container_dir": "rel"
        }))
        .unwrap_err()
        .to_string();
        for needle in [
            "`image` is required",
            "only one of `commit`, `discard` and `export_path`",
            "`changes[0]`: `FROM` cannot be applied at commit",
            "`changes[1]`: `CMD` needs an argument",
            "`ecr_login` is not available",
            "the `docker run` option `--env-file` is not mapped onto the engine API by kiln yet",
            "`container_dir` must be an absolute path, found `rel`",
        ] {
            assert!(e.contains(needle), "missing {needle:?} in:\n{e}");
        }
    }

    #[test]
    fn no_output_is_an_error() {
        let e = prep(json!({"image": "x"})).unwrap_err().to_string();
        assert!(
            e.contains("no instructions given for handling the artifact"),
            "{e}"
        );
    }

    #[test]
    fn merges_container_options_and_registers_secrets() {
        let c = prepare_cx("docker");
        let cfg = prepare(
            &RawConfig::from_value(json!({
                "image": "x", "export_path": "out.tar", "pull": false,
                "privileged": true, "cap_add": ["NET_ADMIN"], "volumes": {"/h": "/c"},
                "platform": "linux/amd64", "login": true, "login_password": "hunter2",
                "run_command": ["-d", "-l", "k=v", "{{.Image}}", "sleep", "9"]
            })),
            &c,
        )
        .unwrap();
        assert_eq!(cfg.pull, Pull::Never);
        assert!(cfg.run.privileged);
        assert_eq!(cfg.run.binds, ["/h:/c"]);
        assert_eq!(cfg.run.cmd, ["sleep", "9"]);
        assert_eq!(cfg.run.platform.as_deref(), Some("linux/amd64"));
        assert_eq!(c.redactor.redact("pw hunter2"), "pw <sensitive>");
        assert!(matches!(cfg.output, Output::Export { .. }));
    }

    #[test]
    fn communicator_keys_are_accepted_as_packer_does() {
        // Packer 1.6.6's docker builder embeds the communicator config, so
        // `packer validate` accepts `ssh_pty` and the other `ssh_*` keys.
        let c = prepare_cx("docker");
        prepare(
            &RawConfig::from_value(json!({
                "image": "x", "commit": true, "ssh_pty": true,
                "ssh_timeout": "5m", "ssh_password": "s3cret-pw"
            })),
            &c,
        )
        .unwrap();
        assert_eq!(c.redactor.redact("pw s3cret-pw"), "pw <sensitive>");
        let e = prep(json!({"image": "x", "commit": true, "ssh_pty": "maybe", "ssh_bogus": 1}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`ssh_pty`"), "{e}");
        assert!(e.contains("unknown configuration key `ssh_bogus`"), "{e}");
    }

    #[test]
    fn communicator_none_is_accepted_and_ssh_is_not() {
        let c = prep(json!({"image": "x", "commit": true, "communicator": "none"})).unwrap();
        assert_eq!(c.communicator, Communicator::None);
        let c = prep(json!({"image": "x", "commit": true})).unwrap();
        assert_eq!(c.communicator, Communicator::Docker);
        let e = prep(json!({"image": "x", "commit": true, "communicator": "ssh"}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("the `ssh` communicator is not supported by the docker builder"),
            "{e}"
        );
    }

    #[test]
    fn relative_bind_sources_become_absolute() {
        let c = prep(json!({"image": "x", "discard": true,
            "run_command": ["-v", "./data:/data:ro", "-v", "named:/v", "{{.Image}}"]}))
        .unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            c.run.binds,
            [
                format!("{}:/data:ro", cwd.join("data").display()),
                "named:/v".into()
            ]
        );
    }

    #[test]
    fn seccomp_profiles_are_read_at_validate() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("profile.json");
        std::fs::write(&profile, "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n").unwrap();
        let opt = format!("seccomp={}", profile.display());
        let c = prep(json!({"image": "x", "discard": true,
            "run_command": ["--security-opt", opt, "-d", "{{.Image}}"]}))
        .unwrap();
        assert_eq!(
            c.run.host.security_opt,
            Some(vec![
                r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#.to_string()
            ])
        );
        let e = prep(json!({"image": "x", "discard": true,
            "run_command": ["--security-opt=seccomp=/nonexistent/p.json", "{{.Image}}"]}))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("cannot read the seccomp profile `/nonexistent/p.json`"),
            "{e}"
        );
    }
}
