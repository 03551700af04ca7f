//! The shell-local engine shared by the provisioner and the post-processor:
//! renders the inline commands into a temporary script, gathers the
//! Packer variables, `environment_vars` and `env` (into the child's
//! environment with the default `execute_command`, into `{{.Vars}}` with a
//! user's), renders `execute_command` for each script and runs it locally (see
//! [`crate::process`]), checking its exit code against `valid_exit_codes`.
//!
//! Cleanup: the temporary inline script is deleted when the run ends,
//! however it ends (success, failure, cancellation, or the future being
//! dropped), through its [`TempPath`] guard; a cancelled script's whole
//! process group is killed.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use kiln_sdk::component::BuildError;
use kiln_sdk::interpolate;
use kiln_sdk::shell_env::ValueForm;
use kiln_sdk::Ui;
use tempfile::TempPath;
use tokio_util::sync::CancellationToken;

use crate::config::{Settings, Source, VarsIn};
use crate::process::{self, Finished, Spawn};

/// What one run can use, whichever component runs it.
pub(crate) struct Run<'a> {
    pub ui: &'a dyn Ui,
    pub cancel: &'a CancellationToken,
    /// User variables, build name, template dir…
    pub interpolation: &'a interpolate::Context,
    /// The builder's generated data: `{{.Key}}`, `{{ build `Key` }}`, and
    /// the `PACKER_HTTP_*` variables.
    pub generated: &'a BTreeMap<String, String>,
    /// `PACKER_BUILD_NAME`.
    pub build_name: &'a str,
    /// `PACKER_BUILDER_TYPE`.
    pub builder_type: &'a str,
    /// Extra variables for the child's real environment (not `{{.Vars}}`).
    pub process_env: Vec<(String, String)>,
}

/// One script to run: as the user sees it, and as `{{.Script}}` gets it.
struct Script {
    shown: String,
    path: PathBuf,
}

/// Go's `runtime.GOOS` for this machine, the names `only_on` uses.
pub(crate) fn current_os() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    }
}

/// Runs every script of `settings` in order; stops at the first failure.
pub(crate) async fn run(settings: &Settings, run: Run<'_>) -> Result<(), BuildError> {
    if !settings.only_on.is_empty() && !settings.only_on.iter().any(|os| os == current_os()) {
        run.ui.say("Skipping shell-local due to runtime OS");
        return Ok(());
    }

    let ctx = run.interpolation.with_generated(run.generated);

    // Dropping `_inline_script` deletes the temporary file.
    let (scripts, _inline_script) = match &settings.source {
        Source::Scripts(paths) => (
            resolve_scripts(paths, settings.use_linux_pathing).await?,
            None,
        ),
        Source::Inline(lines) => {
            let temp = write_inline_script(settings, lines, &ctx)?;
            let script = Script {
                shown: temp.display().to_string(),
                path: temp.to_path_buf(),
            };
            (vec![script], Some(temp))
        }
    };

    let (vars_arg, mut env) = match settings.vars_in {
        VarsIn::Command => (
            script_vars(settings, &run, &ctx, ValueForm::QuotedForVars)?
                .iter()
                .map(|(k, v)| settings.env_var_format.format(k, v))
                .collect::<String>(),
            Vec::new(),
        ),
        VarsIn::Environment => (
            String::new(),
            script_vars(settings, &run, &ctx, ValueForm::Raw)?
                .into_iter()
                .collect(),
        ),
    };
    env.extend(run.process_env.iter().cloned());

    for script in &scripts {
        let argv = render_execute_command(settings, &ctx, &vars_arg, &script.path)?;
        if run.cancel.is_cancelled() {
            return Err(BuildError::Cancelled);
        }
        run.ui
            .say(&format!("Running local shell script: {}", script.shown));
        let finished = process::run(
            Spawn {
                argv: &argv,
                env: &env,
                kill_grace: settings.kill_grace,
            },
            run.ui,
            run.cancel,
        )
        .await
        .map_err(|e| {
            BuildError::msg(format!(
                "cannot run `{}` for script `{}`: {e}",
                argv[0], script.shown
            ))
        })?;
        match finished {
            Finished::Cancelled => return Err(BuildError::Cancelled),
            Finished::Exited(code) if settings.valid_exit_codes.contains(&code) => {}
            Finished::Exited(code) => {
                return Err(BuildError::msg(exit_code_error(
                    code,
                    &settings.valid_exit_codes,
                )))
            }
        }
    }
    Ok(())
}

/// Packer's exact text (its missing space included), so logs compare.
fn exit_code_error(code: i32, allowed: &[i32]) -> String {
    let allowed: Vec<String> = allowed.iter().map(i32::to_string).collect();
    format!(
        "Script exited with non-zero exit status: {code}.Allowed exit codes are: [{}]",
        allowed.join(" ")
    )
}

/// Checks that each script exists and computes the path `{{.Script}}`
/// gets: absolute, or the WSL `/mnt/<drive>/…` form with `use_linux_pathing`.
async fn resolve_scripts(paths: &[String], linux_pathing: bool) -> Result<Vec<Script>, BuildError> {
    for p in paths {
        tokio::fs::metadata(p)
            .await
            .map_err(|e| BuildError::msg(format!("bad script `{p}`: {e}")))?;
    }
    let mut scripts = Vec::with_capacity(paths.len());
    for p in paths {
        let abs = std::path::absolute(p)
            .map(|abs| clean(&abs))
            .map_err(|e| BuildError::msg(format!("cannot make script path `{p}` absolute: {e}")))?;
        scripts.push(if linux_pathing {
            let converted = wsl_path(&abs.to_string_lossy())?;
            Script {
                shown: converted.clone(),
                path: PathBuf::from(converted),
            }
        } else {
            Script {
                shown: p.clone(),
                path: abs,
            }
        });
    }
    Ok(scripts)
}

/// Removes `.` and resolves `..` lexically, like Go's `filepath.Clean`
/// (which `filepath.Abs` applies).
fn clean(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else if !out.has_root() {
                    out.push(c);
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// `C:\path\to\file` becomes `/mnt/c/path/to/file` (Packer's
/// `ConvertToLinuxPath`).
fn wsl_path(windows_abs: &str) -> Result<String, BuildError> {
    let slashed = windows_abs.replace('\\', "/");
    match slashed.split_once(":/") {
        Some((drive, rest)) => Ok(format!("/mnt/{}/{rest}", drive.to_lowercase())),
        None => Err(BuildError::msg(format!(
            "`use_linux_pathing` cannot convert `{slashed}`: expected an absolute Windows path starting with a drive like `C:/`"
        ))),
    }
}

/// Writes the shebang and the rendered inline commands, one per line, to
/// `packer-shell…[.ext]` in the temporary directory, mode 0700.
fn write_inline_script(
    settings: &Settings,
    lines: &[String],
    ctx: &interpolate::Context,
) -> Result<TempPath, BuildError> {
    let mut body = format!("#!{}\n", settings.inline_shebang);
    for (i, line) in lines.iter().enumerate() {
        let rendered = interpolate::render(line, ctx)
            .map_err(|e| BuildError::msg(format!("`inline[{i}]`: {e}")))?;
        body.push_str(&rendered);
        body.push('\n');
    }

    let suffix = settings
        .tempfile_extension
        .as_ref()
        .map(|ext| format!(".{ext}"))
        .unwrap_or_default();
    // No child may be forked while the script is open for writing, or it
    // would inherit the descriptor and the script could not be executed.
    let _no_fork = kiln_sdk::process::writing_executable();
    let mut file = tempfile::Builder::new()
        .prefix("packer-shell")
        .suffix(&suffix)
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempfile()
        .map_err(|e| {
            BuildError::msg(format!(
                "cannot create a temporary script in `{}`: {e}",
                std::env::temp_dir().display()
            ))
        })?;
    file.write_all(body.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|e| {
            BuildError::msg(format!(
                "cannot write the temporary script `{}`: {e}",
                file.path().display()
            ))
        })?;
    // Closes the file: a script still open for writing cannot be executed
    // (ETXTBSY). The returned guard deletes it on drop.
    Ok(file.into_temp_path())
}

/// The script's variables: Packer's, then the `PACKER_HTTP_*` ones the
/// builder generated, then `environment_vars`, then `env` (later entries
/// win), sorted by name. For `{{.Vars}}` each is formatted with
/// `env_var_format` (single quotes escaped for the default `'%s'`).
fn script_vars(
    settings: &Settings,
    run: &Run<'_>,
    ctx: &interpolate::Context,
    form: ValueForm,
) -> Result<BTreeMap<String, String>, BuildError> {
    let mut vars =
        kiln_sdk::shell_env::packer_vars(run.build_name, run.builder_type, run.generated);
    kiln_sdk::shell_env::render_into_as(
        &mut vars,
        &settings.environment_vars,
        &settings.env,
        ctx,
        form,
    )?;
    Ok(vars)
}

/// Renders each `execute_command` element with `{{.Vars}}`, `{{.Script}}`
/// and `{{.Command}}` (both the script's path) plus the generated data.
fn render_execute_command(
    settings: &Settings,
    ctx: &interpolate::Context,
    vars: &str,
    script: &Path,
) -> Result<Vec<String>, BuildError> {
    let path = serde_json::Value::String(script.to_string_lossy().into_owned());
    let ctx = ctx.with_data([
        ("Vars", serde_json::Value::String(vars.to_string())),
        ("Script", path.clone()),
        ("Command", path),
    ]);
    settings
        .execute_command
        .iter()
        .enumerate()
        .map(|(i, part)| {
            interpolate::render(part, &ctx)
                .map_err(|e| BuildError::msg(format!("`execute_command[{i}]`: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_error_matches_packer() {
        assert_eq!(
            exit_code_error(3, &[0]),
            "Script exited with non-zero exit status: 3.Allowed exit codes are: [0]"
        );
        assert_eq!(
            exit_code_error(2, &[1, 3]),
            "Script exited with non-zero exit status: 2.Allowed exit codes are: [1 3]"
        );
    }

    #[test]
    fn converts_windows_paths_for_wsl() {
        assert_eq!(
            wsl_path("C:\\Users\\me\\s.sh").unwrap(),
            "/mnt/c/Users/me/s.sh"
        );
        assert_eq!(wsl_path("D:/x/y.sh").unwrap(), "/mnt/d/x/y.sh");
        assert!(wsl_path("/tmp/s.sh")
            .unwrap_err()
            .to_string()
            .contains("`/tmp/s.sh`"));
    }

    #[test]
    fn cleans_paths_like_go() {
        assert_eq!(clean(Path::new("/a/b/../c/./d.sh")), Path::new("/a/c/d.sh"));
        assert_eq!(clean(Path::new("/../x")), Path::new("/x"));
    }

    #[test]
    fn current_os_uses_go_names() {
        assert!(crate::config::SUPPORTED_OS.contains(&current_os()));
    }
}
