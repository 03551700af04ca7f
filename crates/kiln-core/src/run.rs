//! Runs prepared builds concurrently on one async runtime, bounded by
//! `-parallel-builds`, then prints Packer's closing summary. Each build:
//! the builder runs (firing the provision hook), then each post-processor
//! chain runs on its artifact with Packer's keep/destroy rules.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_sdk::artifact::Artifact;
use kiln_sdk::component::{BuildContext, BuildError, KeepInput, PostProcessContext};
use kiln_sdk::duration::format_human;
use kiln_sdk::ui::Ui;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::checkpoints::BuildCheckpoints;
use crate::fingerprint::ProvisionerInputs;
use crate::hook::ProvisionHook;
use crate::prepare::{Options, PreparedBuild, PreparedPostProcessor};
use crate::ui::{BuildUi, Level, Output};

/// How one build ended.
pub struct BuildResult {
    /// The build name.
    pub name: String,
    /// Its artifacts, in Packer's order.
    pub artifacts: Vec<Arc<dyn Artifact>>,
    /// Its error, if it failed.
    pub error: Option<String>,
    /// How long it took.
    pub duration: Duration,
}

/// How the run ended.
pub struct RunSummary {
    /// Results in template order.
    pub builds: Vec<BuildResult>,
    /// The run was interrupted.
    pub cancelled: bool,
}

impl RunSummary {
    /// Packer's exit code: 0 when every build succeeded, else 1.
    pub fn exit_code(&self) -> i32 {
        if self.cancelled || self.builds.iter().any(|b| b.error.is_some()) {
            1
        } else {
            0
        }
    }
}

/// What post-processing needs to know about its build.
struct PostProcessing<'a> {
    name: &'a str,
    builder_type: &'a str,
    chains: &'a [Vec<PreparedPostProcessor>],
    interpolation: &'a kiln_sdk::interpolate::Context,
    record: &'a kiln_sdk::BuildRecord,
    builder: &'a dyn kiln_sdk::Builder,
}

/// Runs the post-processor chains. Returns the build's artifacts and, if
/// post-processing failed or was cancelled, why. A cancelled build whose
/// builder made an artifact still reports it (with whatever the chains made
/// before the cancel): what exists is either cleaned up by its step or
/// reported, never neither. A post-processor that finishes within the
/// cancel grace (the manifest) still records its result.
async fn post_process(
    build: &PostProcessing<'_>,
    ui: &BuildUi,
    builder_artifact: Arc<dyn Artifact>,
    options: &Options,
    cancel: &CancellationToken,
) -> (Vec<Arc<dyn Artifact>>, Option<String>) {
    let mut artifacts: Vec<Arc<dyn Artifact>> = Vec::new();
    let mut keep_original = build.chains.is_empty();
    let mut errors = Vec::new();
    let mut cancelled = false;

    'chains: for chain in build.chains {
        let mut prior = builder_artifact.clone();
        for (i, pp) in chain.iter().enumerate() {
            let PreparedPostProcessor {
                post_processor_type,
                post_processor,
                keep_input_artifact,
                name: pp_name,
            } = pp;
            if pp_name == post_processor_type {
                ui.say(&format!("Running post-processor: {post_processor_type}"));
            } else {
                ui.say(&format!(
                    "Running post-processor: {pp_name} (type {post_processor_type})"
                ));
            }
            // Packer targets post-processor output at `build (type)`.
            let pp_ui = ui.retarget(&format!("{} ({post_processor_type})", build.name));
            ui.output().event(json!({"type": "post_processor", "build": build.name, "post_processor": post_processor_type}));
            let cx = PostProcessContext {
                ui: &pp_ui,
                cancel: cancel.clone(),
                // Packer's `packer_build_name` (the manifest's `name`), which
                // for HCL2 is the source's name, not the UI's build name.
                build_name: build
                    .interpolation
                    .build_name
                    .as_deref()
                    .unwrap_or(build.name),
                builder_type: build.builder_type,
                run_uuid: &options.run_uuid,
                interpolation: build.interpolation,
                record: build.record,
                builder: Some(build.builder),
                options: kiln_sdk::component::BuildOptions {
                    on_error: options.on_error,
                    debug: options.debug,
                    force: options.force,
                },
            };
            let run = post_processor.post_process(cx, prior.clone());
            tokio::pin!(run);
            let result = tokio::select! {
                r = &mut run => r,
                _ = cancel.cancelled() => {
                    // Let it stop and clean up by itself first; what it
                    // finishes in that time counts.
                    tokio::time::timeout(kiln_sdk::step::CANCEL_GRACE, &mut run)
                        .await
                        .unwrap_or(Err(BuildError::Cancelled))
                }
            };
            let out = match result {
                Ok(o) => o,
                Err(BuildError::Cancelled) => {
                    cancelled = true;
                    if !Arc::ptr_eq(&prior, &builder_artifact) {
                        artifacts.push(prior);
                    }
                    break 'chains;
                }
                Err(e) => {
                    // As Packer: the rest of this chain is skipped, the next
                    // chains still run, and the build is reported failed.
                    errors.push(format!("Post-processor failed: {e}"));
                    continue 'chains;
                }
            };
            let keep = match (out.keep_input, keep_input_artifact) {
                (KeepInput::Force(true), Some(false)) => true,
                (_, Some(user)) => *user,
                (KeepInput::Default(k) | KeepInput::Force(k), None) => k,
            };
            if i == 0 {
                if keep {
                    keep_original = true;
                }
            } else if keep {
                artifacts.push(prior.clone());
            } else if let Err(e) = prior.destroy().await {
                errors.push(format!("Failed cleaning up prior artifact: {e}"));
            }
            prior = out.artifact;
        }
        artifacts.push(prior);
    }

    if cancelled {
        artifacts.insert(0, builder_artifact);
        return (artifacts, Some("build was cancelled".into()));
    }
    if keep_original {
        artifacts.insert(0, builder_artifact);
    } else if let Err(e) = builder_artifact.destroy().await {
        errors.push(format!("Failed cleaning up original artifact: {e}"));
    }
    // Soft failures (failed image tests) keep the artifacts: their chains
    // ran to the end, so a manifest recorded them.
    let soft = build.record.failures();
    if errors.is_empty() && soft.is_empty() {
        (artifacts, None)
    } else if errors.is_empty() {
        (artifacts, Some(soft.join("\n")))
    } else {
        errors.extend(soft);
        // As Packer: a failed post-processor's build reports no artifacts.
        (Vec::new(), Some(errors.join("\n")))
    }
}

async fn run_build(
    build: PreparedBuild,
    output: Arc<Output>,
    index: usize,
    options: Arc<Options>,
    cancel: CancellationToken,
) -> BuildResult {
    let ui = Arc::new(BuildUi::new(output.clone(), &build.name, index));
    let started = Instant::now();
    output.event(
        json!({"type": "build_started", "build": build.name, "builder_type": build.builder_type}),
    );
    output.status(&build.name, Some("starting"));
    for w in &build.warnings {
        ui.say(&format!("Warning: {w}"));
    }

    let PreparedBuild {
        name,
        builder_type,
        builder,
        provisioners,
        error_cleanup_provisioner,
        post_processors,
        interpolation,
        incremental,
        ..
    } = build;
    let record = Arc::new(kiln_sdk::BuildRecord::new(options.run_info.clone()));
    let wanted = incremental || options.incremental_all;
    let checkpoints = options.incremental.as_ref().filter(|_| wanted).map(|inc| {
        let inputs = provisioners
            .iter()
            .map(|p| {
                ProvisionerInputs::read(
                    &p.provisioner_type,
                    p.provisioner.effects(),
                    &p.raw,
                    &interpolation,
                )
            })
            .collect();
        Arc::new(BuildCheckpoints::new(
            inc.clone(),
            &name,
            &builder_type,
            inputs,
        ))
    });
    // The hook owns the provisioners for the build's lifetime.
    let hook = Arc::new(ProvisionHook {
        checkpoints: checkpoints.clone(),
        record: record.clone(),
        provisioners,
        error_cleanup_provisioner,
        interpolation: interpolation.clone(),
        debug: options.debug,
        retry_delay: Duration::from_secs(1),
    });
    let result = builder
        .run(BuildContext {
            ui: ui.clone() as Arc<dyn Ui>,
            hook,
            cancel: cancel.clone(),
            on_error: options.on_error,
            debug: options.debug,
            force: options.force,
            run_uuid: &options.run_uuid,
            record: record.clone(),
            checkpoints: checkpoints.map(|c| c as Arc<dyn kiln_sdk::checkpoint::Checkpoints>),
        })
        .await;

    let (artifacts, outcome) = match result {
        Err(e) => (Vec::new(), Err(e.to_string())),
        Ok(None) => (Vec::new(), Ok(())),
        Ok(Some(artifact)) => {
            let pp = PostProcessing {
                name: &name,
                builder_type: &builder_type,
                chains: &post_processors,
                interpolation: &interpolation,
                record: &record,
                builder: builder.as_ref(),
            };
            match post_process(&pp, &ui, artifact, &options, &cancel).await {
                (artifacts, None) => (artifacts, Ok(())),
                (artifacts, Some(e)) => (artifacts, Err(e)),
            }
        }
    };
    let duration = started.elapsed();
    output.status(&name, None);
    match outcome {
        Ok(()) => {
            ui.plain(
                Level::Say,
                &format!("Build '{name}' finished after {}.", format_human(duration)),
            );
            output.event(json!({
                "type": "build_finished", "build": name, "duration_seconds": duration.as_secs_f64(),
                "artifacts": artifacts.iter().map(|a| json!({"builder_id": a.builder_id(), "id": a.id(), "description": a.describe(), "files": a.files()})).collect::<Vec<_>>(),
            }));
            BuildResult {
                name,
                artifacts,
                error: None,
                duration,
            }
        }
        Err(e) => {
            ui.plain(
                Level::Error,
                &format!(
                    "Build '{name}' errored after {}: {e}",
                    format_human(duration)
                ),
            );
            output.event(json!({"type": "build_failed", "build": name, "duration_seconds": duration.as_secs_f64(), "error": e}));
            BuildResult {
                name,
                // Only a cancel during post-processing leaves artifacts here.
                artifacts,
                error: Some(e),
                duration,
            }
        }
    }
}

/// Runs every build and prints the summary.
pub async fn run(
    builds: Vec<PreparedBuild>,
    output: Arc<Output>,
    options: Options,
    cancel: CancellationToken,
) -> RunSummary {
    let started = Instant::now();
    let options = Arc::new(options);
    let limit = if options.debug {
        1
    } else if options.parallel_builds == 0 {
        tokio::sync::Semaphore::MAX_PERMITS
    } else {
        options.parallel_builds
    };
    let semaphore = Arc::new(tokio::sync::Semaphore::new(limit));

    if matches!(
        output.mode(),
        crate::ui::OutputMode::Human { color: true, .. }
    ) {
        for (i, b) in builds.iter().enumerate() {
            BuildUi::new(output.clone(), &b.name, i).plain(
                Level::Say,
                &format!("{}: output will be in this color.", b.name),
            );
        }
        output.line(Level::Say, "");
    }

    let ticker = output.has_live_view().then(|| {
        let o = output.clone();
        tokio::spawn(async move {
            let mut t = tokio::time::interval(Duration::from_millis(500));
            loop {
                t.tick().await;
                o.tick();
            }
        })
    });

    let names: Vec<String> = builds.iter().map(|b| b.name.clone()).collect();
    let mut set = tokio::task::JoinSet::new();
    let mut results: Vec<Option<BuildResult>> = names.iter().map(|_| None).collect();
    for (i, build) in builds.into_iter().enumerate() {
        // Permits are taken in template order, so `-parallel-builds=1` runs
        // the builds in the order the template lists them.
        let permit = tokio::select! {
            p = semaphore.clone().acquire_owned() => p.ok(),
            _ = cancel.cancelled() => None,
        };
        let Some(permit) = permit.filter(|_| !cancel.is_cancelled()) else {
            results[i] = Some(BuildResult {
                name: build.name.clone(),
                artifacts: Vec::new(),
                error: Some("build was cancelled".into()),
                duration: Duration::ZERO,
            });
            continue;
        };
        let (out, opts, c) = (output.clone(), options.clone(), cancel.child_token());
        set.spawn(async move {
            let _permit = permit;
            (i, run_build(build, out, i, opts, c).await)
        });
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, r)) => results[i] = Some(r),
            Err(e) => output.line(
                Level::Error,
                &format!("a build task failed unexpectedly: {e}"),
            ),
        }
    }
    if let Some(t) = ticker {
        t.abort();
    }
    let builds: Vec<BuildResult> = results
        .into_iter()
        .zip(names)
        .map(|(r, name)| {
            r.unwrap_or(BuildResult {
                name,
                artifacts: Vec::new(),
                error: Some("the build task panicked".into()),
                duration: Duration::ZERO,
            })
        })
        .collect();

    output.line(
        Level::Say,
        &format!(
            "\n==> Wait completed after {}",
            format_human(started.elapsed())
        ),
    );
    let cancelled = cancel.is_cancelled();
    let failed: Vec<&BuildResult> = builds.iter().filter(|b| b.error.is_some()).collect();
    if !failed.is_empty() {
        output.machine("", "error-count", &[&failed.len().to_string()]);
        output.line(
            Level::Error,
            "\n==> Some builds didn't complete successfully and had errors:",
        );
        for b in &failed {
            let e = b.error.as_deref().unwrap_or_default();
            output.machine(&b.name, "error", &[e]);
            output.line(Level::Error, &format!("--> {}: {e}", b.name));
        }
    }
    if builds.iter().any(|b| !b.artifacts.is_empty()) {
        output.line(
            Level::Say,
            "\n==> Builds finished. The artifacts of successful builds are:",
        );
        for b in &builds {
            if b.artifacts.is_empty() {
                continue;
            }
            output.machine(&b.name, "artifact-count", &[&b.artifacts.len().to_string()]);
            for (i, a) in b.artifacts.iter().enumerate() {
                let idx = i.to_string();
                output.machine(&b.name, "artifact", &[&idx, "builder-id", a.builder_id()]);
                output.machine(&b.name, "artifact", &[&idx, "id", &a.id()]);
                output.machine(&b.name, "artifact", &[&idx, "string", &a.describe()]);
                let files = a.files();
                output.machine(
                    &b.name,
                    "artifact",
                    &[&idx, "files-count", &files.len().to_string()],
                );
                for (j, f) in files.iter().enumerate() {
                    output.machine(
                        &b.name,
                        "artifact",
                        &[&idx, "file", &j.to_string(), &f.to_string_lossy()],
                    );
                }
                output.machine(&b.name, "artifact", &[&idx, "end"]);
                output.line(Level::Say, &format!("--> {}: {}", b.name, a.describe()));
            }
        }
    } else {
        output.line(
            Level::Say,
            "\n==> Builds finished but no artifacts were created.",
        );
    }
    if cancelled {
        output.line(
            Level::Say,
            "Cleanly cancelled builds after being interrupted.",
        );
    }
    let failed = failed.len();
    let summary = RunSummary { builds, cancelled };
    output.event(json!({"type": "run_finished", "cancelled": cancelled, "failed": failed, "builds": summary.builds.len(), "exit_code": summary.exit_code()}));
    summary
}
