//! The `shell` provisioner (Packer 1.6.6's `provisioner/shell`): uploads
//! each script (or the `inline` commands as one script) to `remote_path`
//! and runs it through `execute_command`, rendered at run time with
//! `{{.Vars}}`, `{{.Path}}` and `{{.EnvVarFile}}`. Upload and run are one
//! retryable unit bounded by `start_retry_timeout`, so a machine that is
//! rebooting is waited for.
//!
//! Cleanup: the uploaded script and env-var file are removed after each
//! run, and also when a script fails or is cancelled midway (kiln removes
//! them where Packer leaves them behind), unless `skip_clean`. The local
//! temporary file holding `inline` commands is deleted on drop.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kiln_sdk::communicator::{
    CommandOutput, Communicator, CommunicatorError, ExitStatus, FileMeta, Preload, RemoteCommand,
};
use kiln_sdk::component::BuildError;
use kiln_sdk::config::decode_prepared;
use kiln_sdk::duration::{format_go, parse_go_duration};
use kiln_sdk::interpolate;
use kiln_sdk::{
    ConfigError, ConfigErrors, PrepareContext, Prepared, ProvisionContext, Provisioner,
    ProvisionerFactory, RawConfig, Ui,
};
use serde::Deserialize;

/// Packer's default `execute_command`.
pub const DEFAULT_EXECUTE_COMMAND: &str = "chmod +x {{.Path}}; {{.Vars}} {{.Path}}";
/// The default with `use_env_var_file`.
pub const DEFAULT_EXECUTE_COMMAND_ENV_FILE: &str =
    "chmod +x {{.Path}}; . {{.EnvVarFile}} && {{.Path}}";

const RUN_TIME_KEYS: [&str; 4] = ["execute_command", "inline", "environment_vars", "env"];

/// Declares the `shell` provisioner.
pub struct ShellProvisionerFactory;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Fields {
    inline: Option<Vec<String>>,
    script: String,
    scripts: Vec<String>,
    environment_vars: Vec<String>,
    /// Today's Packer (packer-plugin-sdk `shell.Provisioner.Env`): a map,
    /// applied after `environment_vars`, so it wins. Not in Packer 1.6.6.
    env: BTreeMap<String, String>,
    env_var_format: String,
    execute_command: String,
    inline_shebang: String,
    remote_folder: String,
    remote_file: String,
    remote_path: String,
    skip_clean: bool,
    expect_disconnect: bool,
    valid_exit_codes: Vec<i32>,
    start_retry_timeout: String,
    pause_after: String,
    binary: bool,
    use_env_var_file: bool,
}

/// What to run.
#[derive(Debug, Clone)]
enum Source {
    Inline(Vec<String>),
    Scripts(Vec<String>),
}

/// A prepared `shell` provisioner.
#[derive(Debug, Clone)]
struct Shell {
    source: Source,
    environment_vars: Vec<String>,
    /// `env`: name to value, values not yet interpolated.
    env: BTreeMap<String, String>,
    env_var_format: String,
    execute_command: String,
    inline_shebang: String,
    remote_path: String,
    env_var_file: Option<String>,
    skip_clean: bool,
    expect_disconnect: bool,
    valid_exit_codes: Vec<i32>,
    start_retry_timeout: Duration,
    pause_after: Duration,
    binary: bool,
    build_name: String,
    builder_type: String,
}

fn random_suffix() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32 % 9999
}

impl ProvisionerFactory for ShellProvisionerFactory {
    fn name(&self) -> &'static str {
        "shell"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Provisioner>>, ConfigErrors> {
        let (f, mut errors) = decode_prepared::<Fields>(raw, cx, &RUN_TIME_KEYS)?;
        let inline = f.inline.clone().unwrap_or_default();
        let given = [
            !inline.is_empty(),
            !f.script.is_empty(),
            !f.scripts.is_empty(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given == 0 {
            errors.push(ConfigError::new(
                "either a script file or inline script must be specified (`inline`, `script` or `scripts`)",
            ));
        } else if given > 1 {
            errors.push(ConfigError::new(
                "only one of `inline`, `script` or `scripts` can be specified",
            ));
        }
        let scripts = if !f.script.is_empty() {
            vec![f.script.clone()]
        } else {
            f.scripts.clone()
        };
        kiln_sdk::config::check_scripts(&f.script, &f.scripts, &mut errors);
        kiln_sdk::shell_env::check_env(&f.env, &mut errors);
        for (i, v) in f.environment_vars.iter().enumerate() {
            if !v.contains("{{") && !kiln_sdk::shell_env::is_key_value(v) {
                errors.push(ConfigError::at(
                    format!("environment_vars[{i}]"),
                    format!("environment variable not in format 'key=value': `{v}`"),
                ));
            }
        }
        for (key, vals) in [
            ("execute_command", vec![f.execute_command.clone()]),
            ("inline", inline.clone()),
            ("environment_vars", f.environment_vars.clone()),
        ] {
            for v in vals {
                if let Err(e) = interpolate::check_syntax(&v) {
                    errors.push(ConfigError::at(key, e.to_string()));
                }
            }
        }
        let mut dur = |key: &str, v: &str, default: Duration| {
            if v.is_empty() {
                return default;
            }
            parse_go_duration(v).unwrap_or_else(|e| {
                errors.push(ConfigError::at(key, e));
                default
            })
        };
        let start_retry_timeout = dur(
            "start_retry_timeout",
            &f.start_retry_timeout,
            Duration::from_secs(300),
        );
        let pause_after = dur("pause_after", &f.pause_after, Duration::ZERO);
        let env_var_format = if !f.env_var_format.is_empty() {
            if f.env_var_format.matches("%s").count() != 2 {
                errors.push(ConfigError::at(
                    "env_var_format",
                    format!(
                        "`{}` needs exactly two `%s`, the name then the value",
                        f.env_var_format
                    ),
                ));
            }
            f.env_var_format.clone()
        } else if f.use_env_var_file {
            "export %s='%s'\n".to_string()
        } else {
            "%s='%s' ".to_string()
        };
        let remote_folder = if f.remote_folder.is_empty() {
            "/tmp".to_string()
        } else {
            f.remote_folder.clone()
        };
        let remote_file = if f.remote_file.is_empty() {
            format!("script_{}.sh", random_suffix())
        } else {
            f.remote_file.clone()
        };
        let remote_path = if f.remote_path.is_empty() {
            format!("{}/{remote_file}", remote_folder.trim_end_matches('/'))
        } else {
            f.remote_path.clone()
        };
        let execute_command = match (f.execute_command.is_empty(), f.use_env_var_file) {
            (false, _) => f.execute_command.clone(),
            (true, false) => DEFAULT_EXECUTE_COMMAND.to_string(),
            (true, true) => DEFAULT_EXECUTE_COMMAND_ENV_FILE.to_string(),
        };
        let shell = Shell {
            source: if inline.is_empty() {
                Source::Scripts(scripts)
            } else {
                Source::Inline(inline)
            },
            environment_vars: f.environment_vars,
            env: f.env,
            env_var_format,
            execute_command,
            inline_shebang: if f.inline_shebang.is_empty() {
                "/bin/sh -e".into()
            } else {
                f.inline_shebang
            },
            env_var_file: f.use_env_var_file.then(|| {
                format!(
                    "{}/varfile_{}.sh",
                    remote_folder.trim_end_matches('/'),
                    random_suffix()
                )
            }),
            remote_path,
            skip_clean: f.skip_clean,
            expect_disconnect: f.expect_disconnect,
            valid_exit_codes: if f.valid_exit_codes.is_empty() {
                vec![0]
            } else {
                f.valid_exit_codes
            },
            start_retry_timeout,
            pause_after,
            binary: f.binary,
            build_name: cx.build_name.clone(),
            builder_type: cx.builder_type.clone(),
        };
        if errors.is_empty() {
            Ok(Prepared::new(Box::new(shell)))
        } else {
            Err(errors.locate(raw))
        }
    }
}

/// Runs `command`, showing stdout as messages and stderr as errors.
pub(crate) async fn run_with_ui(
    comm: &dyn Communicator,
    ui: &dyn Ui,
    command: &str,
) -> Result<ExitStatus, BuildError> {
    kiln_sdk::communicator::run_with_ui(comm, ui, command)
        .await
        .map_err(|e| BuildError::msg(format!("cannot run `{command}`: {e}")))
}

/// Retries `f` until it succeeds or `timeout` passes (Packer's
/// `retryable`), with a short backoff, stopping on cancellation.
async fn retryable<T, F, Fut>(
    timeout: Duration,
    cancel: &tokio_util::sync::CancellationToken,
    mut f: F,
) -> Result<T, BuildError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, BuildError>>,
{
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(50);
    loop {
        let r = tokio::select! {
            r = f() => r,
            _ = cancel.cancelled() => return Err(BuildError::Cancelled),
        };
        match r {
            Ok(v) => return Ok(v),
            Err(BuildError::Cancelled) => return Err(BuildError::Cancelled),
            Err(e) if Instant::now() + delay >= deadline => {
                return Err(BuildError::msg(format!(
                    "retry timeout exceeded (`start_retry_timeout` {}): {e}",
                    format_go(timeout)
                )))
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = cancel.cancelled() => return Err(BuildError::Cancelled),
        }
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

fn format_env(format: &str, k: &str, v: &str) -> String {
    let once = format.replacen("%s", k, 1);
    once.replacen("%s", v, 1).replace("%%", "%")
}

/// `command` followed, in the same POSIX `sh` invocation, by the removal
/// of `path`, keeping `command`'s exit status. The command runs in a
/// subshell of its own, so an `exit` in it still reaches the removal; the
/// newline before `)` ends a trailing comment.
fn remove_after(command: &str, path: &str) -> String {
    format!(
        " (\n{command}\n); __kiln_status=$?; rm -f {}; exit $__kiln_status",
        kiln_sdk::communicator::shell_quote(path)
    )
}

/// `body` with every CRLF line ending turned into LF (Packer's shell
/// provisioner does this unless `binary` is set).
fn strip_crlf(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    for (i, b) in body.iter().enumerate() {
        if *b == b'\r' && body.get(i + 1) == Some(&b'\n') {
            continue;
        }
        out.push(*b);
    }
    out
}

/// Removes `path` on the remote side, retrying through reboots.
async fn cleanup_remote(
    comm: &dyn Communicator,
    ui: &dyn Ui,
    path: &str,
    timeout: Duration,
) -> Result<(), BuildError> {
    let cancel = tokio_util::sync::CancellationToken::new();
    let cmd = format!("rm -f {}", kiln_sdk::communicator::shell_quote(path));
    retryable(timeout, &cancel, || async {
        match run_with_ui(comm, ui, &cmd).await? {
            ExitStatus::Code(0) => Ok(()),
            s => Err(BuildError::msg(format!("`{cmd}` ended with {s}"))),
        }
    })
    .await
    .map_err(|e| BuildError::msg(format!("Error removing temporary script at {path}: {e}")))
}

impl Shell {
    fn vars(
        &self,
        ctx: &interpolate::Context,
        generated: &BTreeMap<String, String>,
    ) -> Result<String, BuildError> {
        let mut vars =
            kiln_sdk::shell_env::packer_vars(&self.build_name, &self.builder_type, generated);
        kiln_sdk::shell_env::render_into(&mut vars, &self.environment_vars, &self.env, ctx)?;
        Ok(vars
            .iter()
            .map(|(k, v)| format_env(&self.env_var_format, k, v))
            .collect())
    }

    async fn run_all(
        &self,
        cx: &ProvisionContext<'_>,
        comm: &dyn Communicator,
        uploaded: &Mutex<Vec<String>>,
    ) -> Result<(), BuildError> {
        let ctx = cx.interpolation.with_generated(cx.generated);
        let _inline_guard;
        let scripts: Vec<String> = match &self.source {
            Source::Scripts(s) => s.clone(),
            Source::Inline(lines) => {
                let mut body = format!("#!{}\n", self.inline_shebang);
                for (i, l) in lines.iter().enumerate() {
                    body.push_str(
                        &interpolate::render(l, &ctx)
                            .map_err(|e| BuildError::msg(format!("`inline[{i}]`: {e}")))?,
                    );
                    body.push('\n');
                }
                let tmp = tempfile::Builder::new()
                    .prefix("packer-shell")
                    .tempfile()
                    .map_err(|e| {
                        BuildError::msg(format!("cannot create a temporary script: {e}"))
                    })?;
                std::fs::write(tmp.path(), body).map_err(|e| {
                    BuildError::msg(format!(
                        "cannot write the temporary script `{}`: {e}",
                        tmp.path().display()
                    ))
                })?;
                let p = tmp.path().display().to_string();
                _inline_guard = tmp.into_temp_path();
                vec![p]
            }
        };
        let vars = self.vars(&ctx, cx.generated)?;
        if let Some(env_file) = &self.env_var_file {
            uploaded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(env_file.clone());
            let content = vars.clone();
            retryable(self.start_retry_timeout, &cx.cancel, || async {
                comm.upload(
                    env_file,
                    &mut content.as_bytes(),
                    FileMeta {
                        size: Some(content.len() as u64),
                        ..Default::default()
                    },
                )
                .await
                .map_err(|e| BuildError::msg(format!("Error uploading envVarFile: {e}")))
            })
            .await?;
        }
        let exec_ctx = ctx.with_data([
            ("Vars", serde_json::Value::String(vars.clone())),
            ("Path", serde_json::Value::String(self.remote_path.clone())),
            (
                "EnvVarFile",
                serde_json::Value::String(self.env_var_file.clone().unwrap_or_default()),
            ),
        ]);
        let command = interpolate::render(&self.execute_command, &exec_ctx)
            .map_err(|e| BuildError::msg(format!("`execute_command`: {e}")))?;

        // Where every command runs under a POSIX `sh` (docker), the script
        // is removed by the same call that runs it: on docker each command
        // is a whole exec. Over SSH, Packer's separate `rm -f` is kept.
        let removed_in_run = comm.runs_posix_sh() && !self.skip_clean;
        let run_command = if removed_in_run {
            remove_after(&command, &self.remote_path)
        } else {
            command.clone()
        };
        for script in &scripts {
            cx.ui
                .say(&format!("Provisioning with shell script: {script}"));
            let meta = std::fs::metadata(script).map_err(|e| {
                BuildError::msg(format!("Error opening shell script: `{script}`: {e}"))
            })?;
            uploaded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(self.remote_path.clone());
            let status = retryable(self.start_retry_timeout, &cx.cancel, || async {
                // Packer uploads, then runs `chmod 0755` as a command of its
                // own. Every communicator applies the mode with the upload
                // (SFTP setstat, the SCP header, the docker tar header, the
                // preload wrapper), so kiln saves that round trip.
                if self.binary {
                    let mut meta = FileMeta::from_metadata(&meta);
                    meta.mode = Some(0o755);
                    let mut f = tokio::fs::File::open(script).await.map_err(|e| {
                        BuildError::msg(format!("Error opening shell script: `{script}`: {e}"))
                    })?;
                    comm.upload(&self.remote_path, &mut f, meta)
                        .await
                        .map_err(|e| BuildError::msg(format!("Error uploading script: {e}")))?;
                    return run_with_ui(comm, cx.ui, &run_command).await;
                }
                // Scripts are small: read them on this thread (a blocking
                // pool thread would cost more than the read), convert CRLF
                // in memory, and send the script with the command that
                // runs it (one round trip).
                let body = std::fs::read(script).map_err(|e| {
                    BuildError::msg(format!("Error opening shell script: `{script}`: {e}"))
                })?;
                let body = strip_crlf(&body);
                let preload = Preload {
                    destination: &self.remote_path,
                    content: &body,
                    mode: 0o755,
                };
                let out = |l: &str| cx.ui.message(l);
                let err = |l: &str| cx.ui.error(l);
                let output = CommandOutput {
                    stdout: &out,
                    stderr: &err,
                };
                let command = RemoteCommand {
                    command: run_command.clone(),
                };
                comm.upload_and_start(preload, &command, output)
                    .await
                    .map_err(|e| match e {
                        e @ CommunicatorError::Preload { .. } => {
                            BuildError::msg(format!("Error uploading script: {e}"))
                        }
                        e => BuildError::msg(format!("cannot run `{run_command}`: {e}")),
                    })
            })
            .await?;
            let disconnected = status == ExitStatus::Disconnected;
            match status {
                ExitStatus::Disconnected if !self.expect_disconnect && !self.valid_exit_codes.contains(&ExitStatus::DISCONNECT_CODE) => {
                    return Err(BuildError::msg(
                        "Script disconnected unexpectedly. If you expected your script to disconnect, i.e. from a restart, you can try adding `\"expect_disconnect\": true` or `\"valid_exit_codes\": [0, 2300218]` to the shell provisioner parameters.",
                    ))
                }
                ExitStatus::Disconnected => {}
                s if !self.valid_exit_codes.contains(&s.code()) => {
                    let allowed: Vec<String> =
                        self.valid_exit_codes.iter().map(i32::to_string).collect();
                    return Err(BuildError::msg(format!(
                        "Script exited with non-zero exit status: {}.Allowed exit codes are: [{}]",
                        s.code(),
                        allowed.join(" ")
                    )));
                }
                _ => {}
            }
            if !self.skip_clean {
                if !removed_in_run || disconnected {
                    cleanup_remote(comm, cx.ui, &self.remote_path, self.start_retry_timeout)
                        .await?;
                }
                uploaded
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|p| p != &self.remote_path);
            }
        }
        if let Some(env_file) = &self.env_var_file {
            if !self.skip_clean {
                cleanup_remote(comm, cx.ui, env_file, self.start_retry_timeout).await?;
                uploaded.lock().unwrap_or_else(|e| e.into_inner()).clear();
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Provisioner for Shell {
    async fn provision(
        &self,
        cx: ProvisionContext<'_>,
        comm: &dyn Communicator,
    ) -> Result<(), BuildError> {
        let uploaded = Mutex::new(Vec::new());
        let result = self.run_all(&cx, comm, &uploaded).await;
        if result.is_err() && !self.skip_clean {
            // Remove what a failed or cancelled run left, with a short
            // bound: the machine may be gone.
            let left: Vec<String> = uploaded.lock().unwrap_or_else(|e| e.into_inner()).clone();
            for path in left {
                if let Err(e) = cleanup_remote(comm, cx.ui, &path, Duration::from_secs(10)).await {
                    cx.ui.error(&e.to_string());
                }
            }
        }
        result?;
        if !self.pause_after.is_zero() {
            cx.ui.say(&format!(
                "Pausing {} after this provisioner...",
                format_go(self.pause_after)
            ));
            tokio::select! {
                _ = tokio::time::sleep(self.pause_after) => {}
                _ = cx.cancel.cancelled() => return Err(BuildError::Cancelled),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_test::build_cx;
    use serde_json::json;

    fn errs(v: serde_json::Value) -> String {
        match ShellProvisionerFactory.prepare(&RawConfig::from_value(v), &build_cx("web", "null")) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn validates_like_packer() {
        assert!(errs(json!({})).contains("either a script file or inline script"));
        assert!(errs(json!({"inline": ["a"], "script": "x"})).contains("only one of"));
        assert!(errs(json!({"script": "/nonexistent.sh"})).contains("bad script `/nonexistent.sh`"));
        assert!(
            errs(json!({"inline": ["a"], "environment_vars": ["NOPE"]})).contains("not in format")
        );
        assert!(errs(json!({"inline": ["a"], "start_retry_timeout": "5q"}))
            .contains("`start_retry_timeout`"));
        assert_eq!(
            errs(json!({"inline": ["a"], "valid_exit_codes": [0, 2300218]})),
            ""
        );
    }

    /// The wrapped command runs under a real `sh` (the docker
    /// communicator's `/bin/sh -c "(…)"`): the script is gone afterwards,
    /// whatever the command's status, an `exit` or a trailing comment.
    #[test]
    fn remove_after_keeps_the_status_and_removes_the_script() {
        let dir = tempfile::tempdir().unwrap();
        for (command, want) in [
            ("true", 0),
            ("exit 7", 7),
            ("false # a trailing comment", 1),
            ("sh -c 'kill -TERM $$'", 143),
        ] {
            let script = dir.path().join("script it.sh");
            std::fs::write(&script, "#!/bin/sh\n").unwrap();
            let line = remove_after(command, &script.display().to_string());
            let status = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("({line})"))
                .status()
                .unwrap();
            assert_eq!(status.code(), Some(want), "{line}");
            assert!(!script.exists(), "the script is left after `{command}`");
        }
    }

    #[test]
    fn formats_env_vars() {
        assert_eq!(format_env("%s='%s' ", "A", "b"), "A='b' ");
        assert_eq!(format_env("export %s='%s'\n", "A", "b"), "export A='b'\n");
    }
}
