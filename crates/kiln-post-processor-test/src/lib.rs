//! The `test` post-processor: boots a fresh machine from the artifact it
//! receives (through the build's own builder, [`kiln_sdk::Builder::boot`]:
//! a container from a docker image, a VM on a throwaway overlay of a qemu
//! disk, an instance from an AMI), runs checks on it through the build's
//! communicator, then lets the builder stop and remove that machine.
//!
//! Each check is `inline` commands or scripts with expected exit codes, an
//! optional regular expression on stdout, a timeout and environment
//! variables. Results go to the UI (with `test_result` machine-readable
//! records and `-events=json` events), to a JUnit XML report
//! (`junit_output`, attached to the artifact as `test-report`) and to the
//! build record. A failing check fails the build *softly*: the chain goes on
//! (a later `manifest` records the failure), the artifact is kept, and the
//! build then ends in error with the check's name, command and output.
//!
//! Cleanup: the builder's boot removes the machine on success, failure and
//! Ctrl-C; the scripts written to it go with it (and are removed after each
//! check anyway). The JUnit report is an output and is kept.

pub mod config;
pub mod junit;
pub mod run;
mod ui;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use kiln_sdk::component::{BuildContext, BuildError, KeepInput};
use kiln_sdk::record::{BuildRecord, TestSummary};
use kiln_sdk::{
    Artifact, ConfigErrors, PostProcessContext, PostProcessed, PostProcessor, PostProcessorFactory,
    PrepareContext, Prepared, RawConfig,
};

pub use config::Config;
use run::TestHook;

/// The builder types whose artifacts can be booted again.
pub const BOOTABLE_BUILDERS: &str = "amazon-ebs, docker, qemu";

/// Declares the `test` post-processor.
pub struct TestPostProcessorFactory;

impl PostProcessorFactory for TestPostProcessorFactory {
    fn name(&self) -> &'static str {
        "test"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        let config = config::prepare(raw, cx)?;
        Ok(Prepared::new(Box::new(TestPostProcessor { config })))
    }
}

/// A prepared `test` post-processor.
pub struct TestPostProcessor {
    config: Config,
}

impl TestPostProcessor {
    /// The post-processor for `config`.
    pub fn new(config: Config) -> Self {
        TestPostProcessor { config }
    }
}

#[async_trait]
impl PostProcessor for TestPostProcessor {
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError> {
        let Some(builder) = cx.builder else {
            return Err(BuildError::msg(
                "the `test` post-processor needs the build's builder to boot the artifact, and there is none here",
            ));
        };
        let started = SystemTime::now();
        let hook = Arc::new(TestHook::new(
            self.config.clone(),
            cx.build_name,
            cx.builder_type,
        ));
        cx.ui.say(&format!(
            "Booting a machine from artifact `{}` to run {} check(s)...",
            input.id(),
            self.config.checks.len()
        ));
        let (forward, mut rx) = ui::ForwardUi::new();
        let forward = Arc::new(forward);
        // The boot's record is its own: the build's facts are unchanged
        // by a test machine.
        let record = Arc::new(BuildRecord::new(Arc::new(cx.record.run().clone())));
        let bcx = BuildContext {
            ui: forward.clone(),
            hook: hook.clone(),
            cancel: cx.cancel.clone(),
            on_error: cx.options.on_error,
            debug: cx.options.debug,
            force: cx.options.force,
            run_uuid: cx.run_uuid,
            record,
            checkpoints: None,
        };
        let boot = builder.boot(bcx, input.clone());
        tokio::pin!(boot);
        let booted = loop {
            tokio::select! {
                r = &mut boot => break r,
                Some(m) = rx.recv() => ui::deliver(cx.ui, m).await,
            }
        };
        drop(forward);
        while let Ok(m) = rx.try_recv() {
            ui::deliver(cx.ui, m).await;
        }
        let boot_error = match booted {
            Ok(true) => None,
            Ok(false) => {
                return Err(BuildError::msg(format!(
                    "the `{}` builder cannot boot its artifacts, so the `test` post-processor cannot run on them (it supports the {BOOTABLE_BUILDERS} builders, first in a post-processor chain)",
                    cx.builder_type
                )))
            }
            Err(BuildError::Cancelled) => return Err(BuildError::Cancelled),
            Err(e) => Some(e.to_string()),
        };
        let results = hook.results();
        let boot_error = match boot_error {
            None if !hook.ran() => Some(
                "the machine booted, but its communicator was never reached (is `communicator` `none`?)"
                    .to_string(),
            ),
            e => e,
        };
        let passed = results.iter().filter(|r| r.passed()).count();
        let failed = self.config.checks.len() - passed;
        if let Some(template) = &self.config.junit_output {
            let path = junit_path(template, &cx)?;
            let xml = junit::render(&junit::Suite {
                build_name: cx.build_name,
                started,
                results: &results,
                error: boot_error.as_deref(),
            });
            write_report(&path, &xml)?;
            cx.ui
                .message(&format!("JUnit report written to {}", path.display()));
            cx.record.attach("test-report", path);
        }
        cx.record.add_tests(&TestSummary { passed, failed });
        cx.ui
            .machine("test_summary", &[&passed.to_string(), &failed.to_string()]);
        if let Some(e) = &boot_error {
            let m = format!(
                "image tests could not run on artifact `{}`: {e}",
                input.id()
            );
            cx.ui.error(&m);
            cx.record.fail(m);
        }
        for r in &results {
            if let Some(m) = r.failure_message() {
                cx.record.fail(m);
            }
        }
        if failed == 0 {
            cx.ui.say(&format!("All {passed} image test(s) passed"));
        } else {
            cx.ui.error(&format!(
                "Image tests: {passed} passed, {failed} failed; the artifact is kept"
            ));
        }
        Ok(PostProcessed {
            artifact: input,
            keep_input: KeepInput::Force(true),
        })
    }
}

/// `junit_output` rendered for this build.
fn junit_path(template: &str, cx: &PostProcessContext<'_>) -> Result<PathBuf, BuildError> {
    let ctx = cx.interpolation.with_data([
        ("BuildName", serde_json::json!(cx.build_name)),
        ("BuilderType", serde_json::json!(cx.builder_type)),
    ]);
    kiln_sdk::interpolate::render(template, &ctx)
        .map(PathBuf::from)
        .map_err(|e| BuildError::msg(format!("`junit_output`: {e}")))
}

/// Writes the report, creating its directory.
fn write_report(path: &std::path::Path, xml: &str) -> Result<(), BuildError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            BuildError::msg(format!(
                "cannot create the directory `{}`: {e}",
                dir.display()
            ))
        })?;
    }
    std::fs::write(path, xml).map_err(|e| {
        BuildError::msg(format!(
            "cannot write the JUnit report `{}`: {e}",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests;
