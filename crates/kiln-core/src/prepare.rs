//! Prepares every component of every build before anything runs, the way
//! Packer's prepare phase does, but reporting *all* errors of all builds at
//! once, each with its location, and naming each problem once even when
//! several builds share the provisioner that has it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kiln_sdk::config::{did_you_mean, ConfigError, ConfigErrors, Location, RawConfig};
use kiln_sdk::interpolate::Context;
use kiln_sdk::step::OnError;
use kiln_sdk::ui::Redactor;
use kiln_sdk::{Builder, PostProcessor, PrepareContext, Provisioner};
use kiln_template::BuildPlan;

use crate::registry::Registry;

/// Run-wide options from the command line.
#[derive(Clone, Debug)]
pub struct Options {
    /// `-debug`.
    pub debug: bool,
    /// `-force`.
    pub force: bool,
    /// `-on-error`.
    pub on_error: OnError,
    /// `-parallel-builds` (0 = unlimited).
    pub parallel_builds: usize,
    /// This run's id (`PACKER_RUN_UUID`).
    pub run_uuid: String,
    /// The run's facts every build's record starts from.
    pub run_info: std::sync::Arc<kiln_sdk::record::RunInfo>,
    /// `-incremental` (with `-resume` and `-explain`): checkpoints after
    /// each provisioner, restored on the next run.
    pub incremental: Option<Arc<crate::checkpoints::Incremental>>,
    /// Whether every build uses `incremental` (the command-line flag) or
    /// only those whose template asks for it.
    pub incremental_all: bool,
}

impl std::fmt::Debug for crate::checkpoints::Incremental {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incremental")
            .field("cache", &self.cache.root())
            .field("explain", &self.explain)
            .finish()
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            debug: false,
            force: false,
            on_error: OnError::Cleanup,
            parallel_builds: 0,
            run_uuid: String::new(),
            run_info: Default::default(),
            incremental: None,
            incremental_all: false,
        }
    }
}

/// A provisioner ready to run, with its wrappers' settings.
pub struct PreparedProvisioner {
    /// Its type.
    pub provisioner_type: String,
    /// The component.
    pub provisioner: Box<dyn Provisioner>,
    /// `pause_before`.
    pub pause_before: Option<Duration>,
    /// `max_retries`.
    pub max_retries: u32,
    /// `timeout`.
    pub timeout: Option<Duration>,
    /// Its config as the template gives it, for checkpoint keys.
    pub raw: RawConfig,
}

/// A post-processor ready to run.
pub struct PreparedPostProcessor {
    /// Its type.
    pub post_processor_type: String,
    /// Its name.
    pub name: String,
    /// `keep_input_artifact`, when set.
    pub keep_input_artifact: Option<bool>,
    /// The component.
    pub post_processor: Box<dyn PostProcessor>,
}

/// One build, every component prepared.
pub struct PreparedBuild {
    /// The build name.
    pub name: String,
    /// The builder type.
    pub builder_type: String,
    /// The builder.
    pub builder: Box<dyn Builder>,
    /// The provisioners.
    pub provisioners: Vec<PreparedProvisioner>,
    /// The `error-cleanup-provisioner`.
    pub error_cleanup_provisioner: Option<PreparedProvisioner>,
    /// The post-processor chains.
    pub post_processors: Vec<Vec<PreparedPostProcessor>>,
    /// The build's interpolation context.
    pub interpolation: Context,
    /// Warnings from prepare.
    pub warnings: Vec<String>,
    /// The template asks for checkpoints for this build.
    pub incremental: bool,
}

struct Collector {
    // (component label, error) -> builds that have it, in order of discovery.
    problems: Vec<(String, ConfigError, Vec<String>)>,
}

impl Collector {
    fn add(&mut self, build: &str, component: &str, errors: ConfigErrors, raw: &RawConfig) {
        for e in errors.locate(raw).0 {
            match self
                .problems
                .iter_mut()
                .find(|(c, x, _)| c == component && *x == e)
            {
                Some((_, _, builds)) => builds.push(build.to_string()),
                None => self
                    .problems
                    .push((component.to_string(), e, vec![build.to_string()])),
            }
        }
    }

    fn into_errors(self) -> ConfigErrors {
        ConfigErrors(
            self.problems
                .into_iter()
                .map(|(component, mut e, builds)| {
                    let builds = builds
                        .iter()
                        .map(|b| format!("`{b}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let noun = if builds.contains(',') {
                        "builds"
                    } else {
                        "build"
                    };
                    // The key path reads best after the component it belongs
                    // to, unless the message already quotes it.
                    let path = match e.path.take() {
                        Some(p) if !e.message.contains(&format!("`{p}`")) => format!("`{p}`: "),
                        _ => String::new(),
                    };
                    e.message = format!("{noun} {builds}: {component}: {path}{}", e.message);
                    e
                })
                .collect(),
        )
    }
}

fn unknown(
    kind: &str,
    name: &str,
    known: &[&'static str],
    location: Option<Location>,
) -> ConfigErrors {
    let mut e = ConfigError::new(format!("unknown {kind} type `{name}`"));
    e.hint = Some(match did_you_mean(name, known.iter().copied()) {
        Some(s) => format!(
            "did you mean `{s}`? the known {kind} types are: {}",
            known.join(", ")
        ),
        None => format!("the known {kind} types are: {}", known.join(", ")),
    });
    e.location = location;
    e.into()
}

/// Prepares every build of `plan`. Secrets that components register go to
/// `redactor`.
pub fn prepare(
    plan: &BuildPlan,
    registry: &Registry,
    options: &Options,
    redactor: &Redactor,
) -> Result<Vec<PreparedBuild>, ConfigErrors> {
    let mut col = Collector {
        problems: Vec::new(),
    };
    let mut builds = Vec::new();
    let user_vars: Arc<BTreeMap<String, String>> = Arc::new(plan.variables.values.clone());

    for b in &plan.builds {
        let mut interp = plan.interpolation.clone();
        interp.user_variables = user_vars.clone();
        // Components see Packer's `packer_build_name`; the UI keeps `name`.
        interp.build_name = Some(b.packer_build_name.clone());
        interp.build_type = Some(b.builder_type.clone());
        let cx = PrepareContext {
            build_name: b.packer_build_name.clone(),
            builder_type: b.builder_type.clone(),
            interpolation: interp.clone(),
            redactor: redactor.clone(),
            debug: options.debug,
            force: options.force,
            on_error: options.on_error,
            template_dir: plan.template_dir.clone(),
        };
        let mut warnings = Vec::new();

        let builder = match registry.builder(&b.builder_type) {
            None => {
                let label = format!("builder `{}`", b.builder_type);
                col.add(
                    &b.name,
                    &label,
                    unknown(
                        "builder",
                        &b.builder_type,
                        &registry.builder_names(),
                        b.builder.location.clone(),
                    ),
                    &b.builder,
                );
                None
            }
            Some(f) => match f.prepare(&b.builder, &cx) {
                Ok(p) => {
                    warnings.extend(p.warnings);
                    Some(p.component)
                }
                Err(e) => {
                    col.add(
                        &b.name,
                        &format!("builder `{}`", b.builder_type),
                        e,
                        &b.builder,
                    );
                    None
                }
            },
        };

        let mut prep_prov = |p: &kiln_template::plan::PlannedProvisioner,
                             col: &mut Collector|
         -> Option<PreparedProvisioner> {
            let label = format!("provisioner `{}`", p.provisioner_type);
            let Some(f) = registry.provisioner(&p.provisioner_type) else {
                col.add(
                    &b.name,
                    &label,
                    unknown(
                        "provisioner",
                        &p.provisioner_type,
                        &registry.provisioner_names(),
                        p.raw.location.clone(),
                    ),
                    &p.raw,
                );
                return None;
            };
            match f.prepare(&p.raw, &cx) {
                Ok(prepared) => {
                    warnings.extend(prepared.warnings);
                    Some(PreparedProvisioner {
                        provisioner_type: p.provisioner_type.clone(),
                        provisioner: prepared.component,
                        pause_before: p.pause_before,
                        max_retries: p.max_retries,
                        timeout: p.timeout,
                        raw: p.raw.clone(),
                    })
                }
                Err(e) => {
                    col.add(&b.name, &label, e, &p.raw);
                    None
                }
            }
        };
        let provisioners: Vec<_> = b
            .provisioners
            .iter()
            .map(|p| prep_prov(p, &mut col))
            .collect();
        let cleanup = b
            .error_cleanup_provisioner
            .as_ref()
            .map(|p| prep_prov(p, &mut col));

        let mut chains = Vec::new();
        for chain in &b.post_processors {
            let mut prepared_chain = Vec::new();
            for pp in chain {
                let label = format!("post-processor `{}`", pp.post_processor_type);
                let Some(f) = registry.post_processor(&pp.post_processor_type) else {
                    col.add(
                        &b.name,
                        &label,
                        unknown(
                            "post-processor",
                            &pp.post_processor_type,
                            &registry.post_processor_names(),
                            pp.raw.location.clone(),
                        ),
                        &pp.raw,
                    );
                    continue;
                };
                match f.prepare(&pp.raw, &cx) {
                    Ok(p) => {
                        warnings.extend(p.warnings);
                        prepared_chain.push(PreparedPostProcessor {
                            post_processor_type: pp.post_processor_type.clone(),
                            name: pp.name.clone(),
                            keep_input_artifact: pp.keep_input_artifact,
                            post_processor: p.component,
                        });
                    }
                    Err(e) => col.add(&b.name, &label, e, &pp.raw),
                }
            }
            chains.push(prepared_chain);
        }

        if let Some(builder) = builder {
            if provisioners.iter().all(Option::is_some)
                && cleanup.as_ref().is_none_or(Option::is_some)
            {
                builds.push(PreparedBuild {
                    name: b.name.clone(),
                    builder_type: b.builder_type.clone(),
                    builder,
                    provisioners: provisioners.into_iter().flatten().collect(),
                    error_cleanup_provisioner: cleanup.flatten(),
                    post_processors: chains,
                    interpolation: interp,
                    warnings,
                    incremental: b.incremental,
                });
            }
        }
    }
    let errors = col.into_errors();
    errors.into_result(builds)
}
