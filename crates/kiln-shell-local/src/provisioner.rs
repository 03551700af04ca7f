//! The `shell-local` provisioner: runs the configured scripts on the local
//! machine during the provision hook, with the builder's generated data
//! available. It ignores the build's communicator. Cleanup is the engine's:
//! temporary scripts are deleted and cancelled scripts are killed.

use async_trait::async_trait;
use kiln_sdk::communicator::Communicator;
use kiln_sdk::component::BuildError;
use kiln_sdk::{
    ConfigErrors, PrepareContext, Prepared, ProvisionContext, Provisioner, ProvisionerFactory,
    RawConfig,
};

use crate::config::{self, Settings, Variant};
use crate::engine;

/// Declares the `shell-local` provisioner.
pub struct ShellLocalProvisionerFactory;

impl ProvisionerFactory for ShellLocalProvisionerFactory {
    fn name(&self) -> &'static str {
        "shell-local"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Provisioner>>, ConfigErrors> {
        let settings = config::prepare(raw, cx, Variant::Provisioner)?;
        Ok(Prepared::new(Box::new(ShellLocalProvisioner { settings })))
    }
}

/// A prepared `shell-local` provisioner.
struct ShellLocalProvisioner {
    settings: Settings,
}

#[async_trait]
impl Provisioner for ShellLocalProvisioner {
    /// It runs on this machine, not in the build's.
    fn effects(&self) -> kiln_sdk::checkpoint::Effects {
        kiln_sdk::checkpoint::Effects::Outside
    }

    async fn provision(
        &self,
        cx: ProvisionContext<'_>,
        _communicator: &dyn Communicator,
    ) -> Result<(), BuildError> {
        engine::run(
            &self.settings,
            engine::Run {
                ui: cx.ui,
                cancel: &cx.cancel,
                interpolation: cx.interpolation,
                generated: cx.generated,
                build_name: &self.settings.build_name,
                builder_type: &self.settings.builder_type,
                process_env: Vec::new(),
            },
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use kiln_sdk::ui::RecordingUi;
    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use kiln_test::{build_cx, provision_locally};

    fn prepare(v: serde_json::Value) -> ShellLocalProvisioner {
        let settings = config::prepare(
            &RawConfig::from_value(v),
            &build_cx("web", "null"),
            Variant::Provisioner,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        ShellLocalProvisioner { settings }
    }

    async fn provision(p: &ShellLocalProvisioner, ui: &RecordingUi) -> Result<(), BuildError> {
        provision_locally(p, ui, CancellationToken::new(), BTreeMap::new()).await
    }

    /// The temporary script named by "Running local shell script: …".
    fn script_paths(ui: &RecordingUi) -> Vec<PathBuf> {
        ui.lines()
            .iter()
            .filter_map(|l| l.strip_prefix("say: Running local shell script: "))
            .map(PathBuf::from)
            .collect()
    }

    fn messages(ui: &RecordingUi) -> Vec<String> {
        ui.lines()
            .iter()
            .filter_map(|l| l.strip_prefix("message: "))
            .map(str::to_string)
            .collect()
    }

    fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[tokio::test]
    async fn runs_inline_commands_from_a_temporary_script() {
        let p =
            prepare(json!({"inline": ["echo hi {{build_name}}", "echo oops >&2", "cat \"$0\""]}));
        let ui = RecordingUi::default();
        provision(&p, &ui).await.unwrap();
        let scripts = script_paths(&ui);
        assert_eq!(scripts.len(), 1);
        let name = scripts[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_string();
        assert!(name.starts_with("packer-shell"), "{name}");
        assert_eq!(scripts[0].parent(), Some(std::env::temp_dir().as_path()));
        assert!(!scripts[0].exists(), "the temporary script was left behind");
        assert_eq!(
            messages(&ui),
            [
                "hi web",
                "#!/bin/sh -e",
                "echo hi web",
                "echo oops >&2",
                "cat \"$0\""
            ]
        );
        assert!(
            ui.lines().contains(&"error: oops".to_string()),
            "{:?}",
            ui.lines()
        );
    }

    #[tokio::test]
    async fn passes_packer_variables_through_vars() {
        let p = prepare(json!({
            "command": "echo \"$PACKER_BUILD_NAME/$PACKER_BUILDER_TYPE|$FOO|$QUOTE|$HTTP|${PACKER_HTTP_ADDR-unset}|${PACKER_HTTP_IP-unset}|$ID\"",
            "environment_vars": ["FOO=bar baz", "QUOTE=it's \"x\"", "HTTP={{.PackerHTTPIP}}", "ID={{ build `ID` }}"],
        }));
        let ui = RecordingUi::default();
        let generated = BTreeMap::from([
            ("PackerHTTPAddr".to_string(), "10.0.2.2:8080".to_string()),
            (
                "PackerHTTPIP".to_string(),
                "ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER".to_string(),
            ),
            ("ID".to_string(), "i-123".to_string()),
        ]);
        provision_locally(&p, &ui, CancellationToken::new(), generated)
            .await
            .unwrap();
        assert_eq!(
            messages(&ui),
            ["web/null|bar baz|it's \"x\"|ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER|10.0.2.2:8080|unset|i-123"]
        );
    }

    #[tokio::test]
    async fn renders_execute_command_at_run_time() {
        let p = prepare(json!({
            "inline": ["exit 0"],
            "environment_vars": ["B=2", "A=1"],
            "env_var_format": "%s=%s ",
            "execute_command": ["/bin/sh", "-c", "echo \"{{.Vars}}\"; echo {{.Script}} {{.Command}}"],
        }));
        let ui = RecordingUi::default();
        provision(&p, &ui).await.unwrap();
        let script = script_paths(&ui)[0].display().to_string();
        assert_eq!(
            messages(&ui),
            [
                "A=1 B=2 PACKER_BUILDER_TYPE=null PACKER_BUILD_NAME=web".to_string(),
                format!("{script} {script}"),
            ]
        );
    }

    #[tokio::test]
    async fn fails_on_a_disallowed_exit_code_and_still_cleans_up() {
        let p = prepare(json!({"inline": ["echo before", "exit 3", "echo after"]}));
        let ui = RecordingUi::default();
        let err = provision(&p, &ui).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "Script exited with non-zero exit status: 3.Allowed exit codes are: [0]"
        );
        assert_eq!(messages(&ui), ["before"]);
        assert!(!script_paths(&ui)[0].exists());

        let p = prepare(json!({"inline": ["exit 3"], "valid_exit_codes": [0, 3]}));
        provision(&p, &RecordingUi::default()).await.unwrap();

        // `/bin/sh -e` stops at the first failing command.
        let p = prepare(json!({"inline": ["false", "echo after"]}));
        let ui = RecordingUi::default();
        assert!(provision(&p, &ui)
            .await
            .unwrap_err()
            .to_string()
            .contains("status: 1."));
        assert!(messages(&ui).is_empty());
    }

    #[tokio::test]
    async fn runs_scripts_in_order_and_stops_at_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_script(dir.path(), "a.sh", "#!/bin/sh\necho \"a $0 $FOO\"\n");
        let b = write_script(dir.path(), "b.sh", "#!/bin/sh\necho b\nexit 4\n");
        let c = write_script(dir.path(), "c.sh", "#!/bin/sh\necho c\n");
        let p = prepare(json!({"scripts": [a, b, c], "environment_vars": ["FOO=x"]}));
        let ui = RecordingUi::default();
        let err = provision(&p, &ui).await.unwrap_err();
        assert!(err.to_string().contains("status: 4."), "{err}");
        assert_eq!(script_paths(&ui), [a.clone(), b]);
        assert_eq!(
            messages(&ui),
            [format!("a {} x", a.display()), "b".to_string()]
        );
        assert!(a.exists(), "user scripts are never deleted");
    }

    #[tokio::test]
    async fn shows_relative_scripts_as_given_and_runs_them_by_absolute_path() {
        let dir = tempfile::tempdir().unwrap();
        let abs = write_script(dir.path(), "rel.sh", "#!/bin/sh\necho \"$0\"\n");
        // A path relative to the working directory, as templates write them.
        let cwd = std::env::current_dir().unwrap();
        let ups = "../".repeat(cwd.components().count() - 1);
        let relative = format!("{ups}{}", abs.display().to_string().trim_start_matches('/'));
        let p = prepare(json!({"script": relative}));
        let ui = RecordingUi::default();
        provision(&p, &ui).await.unwrap();
        assert!(ui
            .lines()
            .contains(&format!("say: Running local shell script: {relative}")));
        assert_eq!(messages(&ui), [abs.display().to_string()]);
    }

    #[tokio::test]
    async fn missing_scripts_fail_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_script(dir.path(), "a.sh", "#!/bin/sh\necho a\n");
        let missing = write_script(dir.path(), "missing.sh", "#!/bin/sh\n");
        let p = prepare(json!({"scripts": [a, missing]}));
        // Validate saw it; it is gone by the time the build runs.
        std::fs::remove_file(&missing).unwrap();
        let ui = RecordingUi::default();
        let err = provision(&p, &ui).await.unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("bad script `{}`: ", missing.display())),
            "{err}"
        );
        assert!(ui.lines().is_empty(), "{:?}", ui.lines());
    }

    #[tokio::test]
    async fn honours_shebang_and_extension() {
        let p = prepare(json!({
            "inline": ["echo \"$0\"", "false", "echo still running"],
            "inline_shebang": "/bin/sh",
            "tempfile_extension": ".sh",
        }));
        let ui = RecordingUi::default();
        provision(&p, &ui).await.unwrap();
        let script = &script_paths(&ui)[0];
        assert_eq!(script.extension().unwrap(), "sh");
        assert_eq!(
            messages(&ui),
            [script.display().to_string(), "still running".to_string()]
        );
        assert!(!script.exists());
    }

    #[tokio::test]
    async fn skips_other_operating_systems() {
        let other = if crate::engine::current_os() == "windows" {
            "linux"
        } else {
            "windows"
        };
        let p = prepare(json!({"inline": ["echo ran"], "only_on": [other]}));
        let ui = RecordingUi::default();
        provision(&p, &ui).await.unwrap();
        assert_eq!(ui.lines(), ["say: Skipping shell-local due to runtime OS"]);

        let p = prepare(
            json!({"inline": ["echo ran"], "only_on": [other, crate::engine::current_os()]}),
        );
        let ui = RecordingUi::default();
        provision(&p, &ui).await.unwrap();
        assert_eq!(messages(&ui), ["ran"]);
    }

    fn process_is_gone(pid: &str) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            // A zombie waiting for a reaper is dead too.
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        }
    }

    #[tokio::test]
    async fn cancellation_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("pids");
        let p = prepare(json!({"inline": [
            format!("echo $$ > {}", pids.display()),
            format!("sh -c 'sleep 100' & echo $! >> {}", pids.display()),
            format!("sleep 100 & echo $! >> {}", pids.display()),
            "echo started",
            "wait",
            "echo never",
        ]}));
        let ui = RecordingUi::default();
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        let started = Instant::now();
        let (result, ()) =
            tokio::join!(provision_locally(&p, &ui, cancel, BTreeMap::new()), async {
                // Wait until the script has started its children.
                while !messages(&ui).contains(&"started".to_string()) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                c.cancel();
            });
        assert!(matches!(result, Err(BuildError::Cancelled)), "{result:?}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "took {:?}",
            started.elapsed()
        );
        assert!(!messages(&ui).contains(&"never".to_string()));
        assert!(
            !script_paths(&ui)[0].exists(),
            "the temporary script was left behind"
        );
        let pids = std::fs::read_to_string(&pids).unwrap();
        let pids: Vec<&str> = pids.split_whitespace().collect();
        assert_eq!(pids.len(), 3, "{pids:?}");
        let deadline = Instant::now() + Duration::from_secs(2);
        while !pids.iter().all(|p| process_is_gone(p)) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for pid in pids {
            assert!(
                process_is_gone(pid),
                "process {pid} survived the cancellation"
            );
        }
    }

    #[tokio::test]
    async fn a_cancelled_build_runs_nothing() {
        let p = prepare(json!({"inline": ["echo ran"]}));
        let ui = RecordingUi::default();
        let cancel = CancellationToken::new();
        cancel.cancel();
        let r = provision_locally(&p, &ui, cancel, BTreeMap::new()).await;
        assert!(matches!(r, Err(BuildError::Cancelled)), "{r:?}");
        assert!(messages(&ui).is_empty());
    }

    #[tokio::test]
    async fn run_time_interpolation_errors_name_the_key() {
        let p = prepare(json!({"inline": ["echo {{.NotGenerated}}"]}));
        let err = provision(&p, &RecordingUi::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("`inline[0]`: "), "{err}");
        let p = prepare(json!({"inline": ["true"], "environment_vars": ["{{ `novalue` }}"]}));
        let err = provision(&p, &RecordingUi::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`environment_vars[0]`: expected `KEY=value`, found `novalue`"),
            "{err}"
        );
    }
}
