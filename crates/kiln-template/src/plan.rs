//! From a parsed template plus the command line's variables and filters to
//! a typed [`BuildPlan`]: one [`PlannedBuild`] per selected builder, with the
//! provisioners and post-processor chains that apply to it (`only`,
//! `except` and `override` already applied). HCL2 templates will produce the
//! same plan.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use globset::{Glob, GlobMatcher};
use kiln_sdk::config::{did_you_mean, ConfigError, ConfigErrors, Location, RawConfig};
use kiln_sdk::interpolate::{self, Context};

use crate::legacy::{PostProcessorBlock, ProvisionerBlock, Template};

/// Variables given on the command line.
#[derive(Clone, Debug, Default)]
pub struct VariableInputs {
    /// `-var-file` paths, in order.
    pub var_files: Vec<PathBuf>,
    /// `-var k=v` pairs, in order.
    pub vars: Vec<(String, String)>,
}

/// The final values of the user variables.
#[derive(Clone, Debug, Default)]
pub struct Variables {
    /// Name to value.
    pub values: BTreeMap<String, String>,
    /// Names marked sensitive.
    pub sensitive: Vec<String>,
    /// The values given to sensitive variables as given, valid or not
    /// (HCL2), so that an error about a rejected value cannot show it, and
    /// each string, number and bool inside a sensitive variable or local.
    pub sensitive_inputs: Vec<String>,
}

impl Variables {
    /// The values of sensitive variables (to register with the redactor),
    /// and every value given to one.
    pub fn sensitive_values(&self) -> impl Iterator<Item = &str> {
        self.sensitive
            .iter()
            .filter_map(|n| self.values.get(n))
            .chain(&self.sensitive_inputs)
            .map(String::as_str)
    }
}

/// `-only` and `-except`: glob patterns over build names.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    /// Build only these.
    pub only: Vec<String>,
    /// Build all but these (also skips named post-processors).
    pub except: Vec<String>,
}

/// A provisioner as it applies to one build.
#[derive(Clone, Debug)]
pub struct PlannedProvisioner {
    /// Its type.
    pub provisioner_type: String,
    /// Its config, with the build's `override` merged in.
    pub raw: RawConfig,
    /// `pause_before`.
    pub pause_before: Option<Duration>,
    /// `max_retries`.
    pub max_retries: u32,
    /// `timeout`.
    pub timeout: Option<Duration>,
}

/// A post-processor as it applies to one build.
#[derive(Clone, Debug)]
pub struct PlannedPostProcessor {
    /// Its type.
    pub post_processor_type: String,
    /// Its name (`name`, else the type).
    pub name: String,
    /// `keep_input_artifact`, when set.
    pub keep_input_artifact: Option<bool>,
    /// Its config.
    pub raw: RawConfig,
}

/// One build: a builder and what runs around it.
#[derive(Clone, Debug)]
pub struct PlannedBuild {
    /// The build name: what the UI, `-only`/`-except` and the artifact
    /// summary show (`web.file.motd` for an HCL2 build named `web`).
    pub name: String,
    /// The name the components see (Packer's `packer_build_name`):
    /// `PACKER_BUILD_NAME`, `{{build_name}}`, the manifest's `name`. The
    /// build name for JSON templates; for HCL2, the name of the `source`
    /// block (`motd`), as today's Packer sets it.
    pub packer_build_name: String,
    /// The builder type.
    pub builder_type: String,
    /// The builder's config.
    pub builder: RawConfig,
    /// Provisioners, in order.
    pub provisioners: Vec<PlannedProvisioner>,
    /// The `error-cleanup-provisioner`.
    pub error_cleanup_provisioner: Option<PlannedProvisioner>,
    /// Post-processor chains (empty chains removed).
    pub post_processors: Vec<Vec<PlannedPostProcessor>>,
    /// Checkpoints after each provisioner (kiln's own: a JSON builder's
    /// `incremental`, an HCL2 `build` block's `incremental`), as with
    /// `kiln build -incremental`.
    pub incremental: bool,
}

/// Everything a run needs, typed.
#[derive(Clone, Debug)]
pub struct BuildPlan {
    /// The template file.
    pub template_path: Arc<str>,
    /// Its directory.
    pub template_dir: PathBuf,
    /// The variables.
    pub variables: Variables,
    /// The base interpolation context (user variables, template dir, run time).
    pub interpolation: Context,
    /// The selected builds, in template order.
    pub builds: Vec<PlannedBuild>,
    /// Non-fatal remarks (a filter that matched nothing…).
    pub warnings: Vec<String>,
}

/// Compares dotted versions (`1.6.6` < `1.10.0`); pre-release tags are
/// ignored.
pub fn version_less(a: &str, b: &str) -> bool {
    let parse = |s: &str| -> Vec<u64> {
        s.trim_start_matches('v')
            .split(['-', '+'])
            .next()
            .unwrap_or("")
            .split('.')
            .map(|p| p.parse().unwrap_or(0))
            .collect()
    };
    let (mut x, mut y) = (parse(a), parse(b));
    let n = x.len().max(y.len());
    x.resize(n, 0);
    y.resize(n, 0);
    x < y
}

/// What rendering the variables until they are stable may spend, in bytes
/// (see [`interpolate::render_within`]).
const RESOLVE_WORK: usize = 64 << 20;

fn read_var_file(path: &Path, errors: &mut ConfigErrors) -> Vec<(String, String)> {
    let display: Arc<str> = path.to_string_lossy().into();
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            errors.push(ConfigError::new(format!(
                "cannot read variable file `{display}`: {e}"
            )));
            return Vec::new();
        }
    };
    let root = match crate::json::parse(&src) {
        Ok(r) => r,
        Err(e) => {
            let mut ce = ConfigError::new(format!("invalid JSON in variable file: {}", e.kind));
            ce.location = Some(Location {
                file: display,
                line: e.pos.line,
                column: e.pos.column,
            });
            errors.push(ce);
            return Vec::new();
        }
    };
    let crate::json::Node::Object(entries) = &root.node else {
        let mut ce = ConfigError::new(format!(
            "variable file `{display}` must hold a JSON object, found {}",
            root.kind()
        ));
        ce.location = Some(Location {
            file: display,
            line: root.pos.line,
            column: root.pos.column,
        });
        errors.push(ce);
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, kpos, v) in entries {
        match &v.node {
            crate::json::Node::String(s) => out.push((k.clone(), s.clone())),
            _ => {
                let mut ce = ConfigError::new(format!(
                    "variable `{k}`: expected a string value, found {}",
                    v.kind()
                ));
                ce.location = Some(Location {
                    file: display.clone(),
                    line: kpos.line,
                    column: kpos.column,
                });
                errors.push(ce);
            }
        }
    }
    out
}

/// Resolves variables as Packer 1.6.6 does: defaults (rendered, with `env`
/// allowed, referring to each other), then every `-var-file` in order, then
/// `-var`, which always wins over a var file whatever the order on the
/// command line.
pub fn resolve_variables(
    t: &Template,
    inputs: &VariableInputs,
    base: &Context,
) -> Result<Variables, ConfigErrors> {
    let mut errors = ConfigErrors::new();
    let mut set: BTreeMap<String, String> = BTreeMap::new();
    for f in &inputs.var_files {
        for (k, v) in read_var_file(f, &mut errors) {
            set.insert(k, v);
        }
    }
    for (k, v) in &inputs.vars {
        set.insert(k.clone(), v.clone());
    }

    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for v in &t.variables {
        match (&v.default, set.get(&v.name)) {
            (_, Some(given)) => {
                values.insert(v.name.clone(), given.clone());
            }
            (Some(d), None) => {
                values.insert(v.name.clone(), d.clone());
            }
            (None, None) => {
                let mut e = ConfigError::new(format!("required variable `{}` is not set", v.name))
                    .with_hint(format!(
                        "pass it with `-var '{}=…'` or in a `-var-file`",
                        v.name
                    ));
                e.location = Some(v.location.clone());
                errors.push(e);
            }
        }
    }
    for (k, v) in &set {
        values.entry(k.clone()).or_insert_with(|| v.clone());
    }

    // Values may refer to each other (`{{user `a`}}`); render until stable,
    // within one work budget so that values that keep growing stop.
    let mut ctx = base.clone();
    ctx.enable_env = true;
    let mut work = RESOLVE_WORK;
    for _ in 0..100 {
        ctx.user_variables = Arc::new(values.clone());
        let mut changed = false;
        for v in values.values_mut() {
            if !v.contains("{{") {
                continue;
            }
            if let Ok(r) = interpolate::render_within(v, &ctx, &mut work) {
                if r != *v {
                    *v = r;
                    changed = true;
                }
            }
        }
        if !changed || work == 0 {
            break;
        }
    }
    ctx.user_variables = Arc::new(values.clone());
    for var in &t.variables {
        if let Some(v) = values.get(&var.name) {
            let message = if work == 0 && v.contains("{{") {
                // Left half rendered: say so rather than use it.
                Some(format!(
                    "variable `{}`: the variables take too much work to render (more than {} MiB); does one refer to itself?",
                    var.name,
                    RESOLVE_WORK >> 20
                ))
            } else {
                interpolate::render(v, &ctx)
                    .err()
                    .map(|e| format!("variable `{}`: {e}", var.name))
            };
            if let Some(message) = message {
                let mut ce = ConfigError::new(message);
                ce.location = Some(var.location.clone());
                errors.push(ce);
            }
        }
    }
    errors.into_result(Variables {
        sensitive_inputs: Vec::new(),
        values,
        sensitive: t.sensitive_variables.clone(),
    })
}

/// The builds `-only` and `-except` select, in both template languages:
/// their glob patterns, compiled once.
#[derive(Default)]
pub(crate) struct BuildSelection {
    only: Vec<(String, GlobMatcher)>,
    except: Vec<(String, GlobMatcher)>,
}

impl BuildSelection {
    /// Compiles the patterns of `filters`; an invalid one is an error.
    pub(crate) fn new(filters: &Filters, errors: &mut ConfigErrors) -> BuildSelection {
        let matchers = |patterns: &[String], errors: &mut ConfigErrors, flag: &str| {
            patterns
                .iter()
                .filter(|p| !p.is_empty())
                .filter_map(|p| match Glob::new(p) {
                    Ok(g) => Some((p.clone(), g.compile_matcher())),
                    Err(e) => {
                        errors.push(ConfigError::new(format!(
                            "`-{flag}`: invalid pattern `{p}`: {e}"
                        )));
                        None
                    }
                })
                .collect()
        };
        BuildSelection {
            only: matchers(&filters.only, errors, "only"),
            except: matchers(&filters.except, errors, "except"),
        }
    }

    /// Whether the build named `name` runs.
    pub(crate) fn selects(&self, name: &str) -> bool {
        (self.only.is_empty() || self.only.iter().any(|(_, m)| m.is_match(name)))
            && !self.except.iter().any(|(_, m)| m.is_match(name))
    }

    /// A warning for each pattern that matches none of `builds` (nor, for
    /// `-except`, one of the `post_processors` by name).
    pub(crate) fn warn_unmatched(
        &self,
        builds: &[String],
        post_processors: &[String],
        warnings: &mut Vec<String>,
    ) {
        for (pat, m) in &self.only {
            if !builds.iter().any(|n| m.is_match(n)) {
                warnings.push(format!(
                    "`-only={pat}` matches no build; the builds are: {}",
                    builds.join(", ")
                ));
            }
        }
        for (pat, m) in &self.except {
            if !builds.iter().any(|n| m.is_match(n)) && !post_processors.iter().any(|n| n == pat) {
                warnings.push(format!(
                    "`-except={pat}` matches no build or post-processor; the builds are: {}",
                    builds.join(", ")
                ));
            }
        }
    }
}

/// The hint for `name`, which is not one of `known`: `did you mean `x`?`
/// when one is close, else `otherwise` followed by the known names.
pub(crate) fn suggest(name: &str, known: &[String], otherwise: &str) -> String {
    match did_you_mean(name, known.iter().map(String::as_str)) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!(
            "{otherwise}{}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn check_names(
    what: &str,
    key: &str,
    names: &[String],
    builds: &[String],
    location: Option<Location>,
    errors: &mut ConfigErrors,
) {
    for n in names {
        if !builds.contains(n) {
            let mut e = ConfigError::new(format!(
                "{what}: `{key}` names build `{n}`, which does not exist"
            ));
            e.hint = Some(suggest(n, builds, "the builds are: "));
            e.location = location.clone();
            errors.push(e);
        }
    }
}

fn applies(only: &[String], except: &[String], build: &str) -> bool {
    (only.is_empty() || only.iter().any(|o| o == build)) && !except.iter().any(|e| e == build)
}

fn plan_provisioner(p: &ProvisionerBlock, build: &str) -> PlannedProvisioner {
    let mut raw = p.raw.clone();
    if let Some(ov) = p.overrides.get(build) {
        for (k, v) in ov {
            raw.values.insert(k.clone(), v.clone());
        }
    }
    PlannedProvisioner {
        provisioner_type: p.provisioner_type.clone(),
        raw,
        pause_before: p.pause_before,
        max_retries: p.max_retries,
        timeout: p.timeout,
    }
}

fn pp_name(pp: &PostProcessorBlock) -> String {
    pp.name
        .clone()
        .unwrap_or_else(|| pp.post_processor_type.clone())
}

/// The checks of Packer 1.6.6's `Template.Validate`: at least one builder,
/// and every `only`, `except` and `override` of the provisioners and
/// post-processors names one of `names`, the builds. `kiln fix` runs only
/// these (as `packer fix` does); [`plan`] runs them with the names rendered.
/// Packer's parser accepts a template without builders (`validate
/// -syntax-only` and `inspect` pass); these checks do not.
pub fn check_build_references(t: &Template, names: &[String]) -> ConfigErrors {
    let mut errors = ConfigErrors::new();
    if t.builders.is_empty() {
        let (message, location) = match &t.builders_location {
            Some(l) => ("`builders` is empty", l.clone()),
            None => (
                "the template has no `builders`",
                Location {
                    file: t.path.clone(),
                    line: 1,
                    column: 1,
                },
            ),
        };
        let mut e = ConfigError::new(format!("{message}: at least one builder must be defined"));
        e.location = Some(location);
        errors.push(e);
    }
    for (what, p) in t
        .provisioners
        .iter()
        .map(|p| (format!("provisioner {}", p.index), p))
        .chain(
            t.error_cleanup_provisioner
                .iter()
                .map(|p| ("error-cleanup-provisioner".to_string(), p)),
        )
    {
        check_names(
            &what,
            "only",
            &p.only,
            names,
            p.raw.location.clone(),
            &mut errors,
        );
        check_names(
            &what,
            "except",
            &p.except,
            names,
            p.raw.location.clone(),
            &mut errors,
        );
        for build in p.overrides.keys() {
            check_names(
                &what,
                "override",
                std::slice::from_ref(build),
                names,
                p.raw.location.clone(),
                &mut errors,
            );
        }
    }
    for (i, chain) in t.post_processors.iter().enumerate() {
        for pp in chain {
            let what = format!("post-processor {}", i + 1);
            check_names(
                &what,
                "only",
                &pp.only,
                names,
                pp.raw.location.clone(),
                &mut errors,
            );
            check_names(
                &what,
                "except",
                &pp.except,
                names,
                pp.raw.location.clone(),
                &mut errors,
            );
        }
    }
    errors
}

/// Makes the plan: resolves variables, names builds, applies filters,
/// `only`/`except` and `override`. Checks `min_packer_version`.
pub fn plan(
    t: &Template,
    inputs: &VariableInputs,
    filters: &Filters,
    base: Context,
) -> Result<BuildPlan, ConfigErrors> {
    let (plan, errors) = plan_partial(t, inputs, filters, base);
    errors.into_result(plan)
}

/// Like [`plan`], but always returns the plan it could make, with the
/// errors found on the way, so components can still be prepared and every
/// problem reported at once.
pub fn plan_partial(
    t: &Template,
    inputs: &VariableInputs,
    filters: &Filters,
    base: Context,
) -> (BuildPlan, ConfigErrors) {
    let mut errors = ConfigErrors::new();
    if let Some(min) = &t.min_packer_version {
        if version_less(kiln_sdk::PACKER_COMPAT_VERSION, min) {
            let mut e = ConfigError::new(format!(
                "this template requires Packer version `{min}` or higher; kiln is compatible with Packer {}",
                kiln_sdk::PACKER_COMPAT_VERSION
            ));
            e.location = t.min_packer_version_location.clone();
            errors.push(e);
        }
    }
    let mut base = base;
    base.template_dir = Some(t.dir.to_string_lossy().into_owned());
    let variables = match resolve_variables(t, inputs, &base) {
        Ok(v) => v,
        Err(e) => {
            errors.0.extend(e.0);
            Variables::default()
        }
    };
    base.user_variables = Arc::new(variables.values.clone());

    // Build names may use user variables.
    let names: Vec<String> = t
        .builders
        .iter()
        .map(|b| interpolate::render(&b.name, &base).unwrap_or_else(|_| b.name.clone()))
        .collect();

    errors.0.extend(check_build_references(t, &names).0);

    let selection = BuildSelection::new(filters, &mut errors);
    let mut warnings = t.warnings.clone();
    // Packer 1.6.6 silently accepts a `-var` that the template does not
    // declare (a typo then goes unnoticed); kiln accepts it too, and says so.
    for (k, _) in &inputs.vars {
        if !t.variables.iter().any(|v| &v.name == k) {
            let hint =
                kiln_sdk::config::did_you_mean(k, t.variables.iter().map(|v| v.name.as_str()))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
            warnings.push(format!(
                "`-var {k}=…` sets a variable the template does not declare{hint}"
            ));
        }
    }
    let known_pp: Vec<String> = t.post_processors.iter().flatten().map(pp_name).collect();
    selection.warn_unmatched(&names, &known_pp, &mut warnings);

    let mut builds = Vec::new();
    for (b, name) in t.builders.iter().zip(&names) {
        if !selection.selects(name) {
            continue;
        }
        let provisioners = t
            .provisioners
            .iter()
            .filter(|p| applies(&p.only, &p.except, name))
            .map(|p| plan_provisioner(p, name))
            .collect();
        let error_cleanup_provisioner = t
            .error_cleanup_provisioner
            .as_ref()
            .filter(|p| applies(&p.only, &p.except, name))
            .map(|p| plan_provisioner(p, name));
        let mut post_processors = Vec::new();
        for chain in &t.post_processors {
            let mut planned = Vec::new();
            for pp in chain {
                let pname = pp_name(pp);
                // A skipped element is left out of its sequence; the rest
                // still runs, as in Packer 1.6.6.
                if !applies(&pp.only, &pp.except, name) {
                    continue;
                }
                // `-except=<post-processor name>` drops it and the rest of
                // its chain; names match exactly, as in Packer 1.6.6.
                if filters.except.contains(&pname) {
                    break;
                }
                planned.push(PlannedPostProcessor {
                    post_processor_type: pp.post_processor_type.clone(),
                    name: pname,
                    keep_input_artifact: pp.keep_input_artifact,
                    raw: pp.raw.clone(),
                });
            }
            if !planned.is_empty() {
                post_processors.push(planned);
            }
        }
        builds.push(PlannedBuild {
            name: name.clone(),
            packer_build_name: name.clone(),
            builder_type: b.builder_type.clone(),
            builder: b.raw.clone(),
            provisioners,
            error_cleanup_provisioner,
            post_processors,
            incremental: b.incremental,
        });
    }

    let plan = BuildPlan {
        template_path: t.path.clone(),
        template_dir: t.dir.clone(),
        variables,
        interpolation: base,
        builds,
        warnings,
    };
    (plan, errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::legacy::parse;

    fn t(src: &str) -> Template {
        parse(src, "t.json".into(), PathBuf::from("/tmp")).unwrap()
    }

    #[test]
    fn no_builders_parses_but_fails_the_build_checks() {
        // Packer 1.6.6: `validate -syntax-only` and `inspect` pass; its
        // `Template.Validate` (validate, build, fix) says `at least one
        // builder must be defined`.
        for (src, message, at) in [
            (
                r#"{"variables": {"a": "b"}}"#,
                "the template has no `builders`: at least one builder must be defined",
                (1, 1),
            ),
            (
                "{\n  \"builders\": []\n}",
                "`builders` is empty: at least one builder must be defined",
                (2, 15),
            ),
            (
                r#"{"builders": null}"#,
                "`builders` is empty: at least one builder must be defined",
                (1, 14),
            ),
        ] {
            let tpl = t(src);
            let errors = check_build_references(&tpl, &[]);
            assert_eq!(errors.0.len(), 1, "{errors}");
            assert_eq!(errors.0[0].message, message);
            let l = errors.0[0].location.as_ref().unwrap();
            assert_eq!((&*l.file, l.line, l.column), ("t.json", at.0, at.1));
            let (_, errors) = plan_partial(
                &tpl,
                &VariableInputs::default(),
                &Filters::default(),
                Context::default(),
            );
            assert!(errors.to_string().contains(message), "{errors}");
        }
    }

    #[test]
    fn var_beats_var_file_whatever_the_order() {
        let dir = tempfile::tempdir().unwrap();
        let vf = dir.path().join("v.json");
        std::fs::write(&vf, r#"{"a": "file", "b": "file"}"#).unwrap();
        let tpl = t(
            r#"{"variables": {"a": "d", "b": "d", "c": "{{user `a`}}-c"}, "builders": [{"type": "null"}]}"#,
        );
        let inputs = VariableInputs {
            var_files: vec![vf],
            vars: vec![("a".into(), "cli".into())],
        };
        let v = resolve_variables(&tpl, &inputs, &Context::default()).unwrap();
        assert_eq!(v.values["a"], "cli");
        assert_eq!(v.values["b"], "file");
        assert_eq!(v.values["c"], "cli-c");
    }

    #[test]
    fn self_referencing_variables_stop_growing() {
        // Each round doubles `a`; every value is rendered again while any
        // changes, up to 100 rounds.
        let mut vars = String::new();
        for i in 0..20 {
            vars.push_str(&format!(
                r#""v{i}": "{{{{range 9000}}}}{{{{len `abc`}}}}{{{{end}}}}{{{{user `a`}}}}", "#
            ));
        }
        let tpl = t(&format!(
            r#"{{"variables": {{{vars}"a": "x{{{{user `a`}}}}{{{{user `a`}}}}"}}, "builders": [{{"type": "null"}}]}}"#
        ));
        let start = std::time::Instant::now();
        let r = resolve_variables(&tpl, &VariableInputs::default(), &Context::default());
        assert!(start.elapsed() < std::time::Duration::from_secs(30));
        let e = r.unwrap_err();
        assert!(
            e.to_string()
                .contains("variable `a`: the variables take too much work"),
            "{e}"
        );
        assert!(e.0.iter().all(|e| e.location.is_some()), "{e}");
        // Values that need no more work than that are all rendered.
        let tpl = t(
            r#"{"variables": {"a": "{{user `b`}}{{user `b`}}", "b": "{{user `c`}}{{user `c`}}", "c": "x"}, "builders": [{"type": "null"}]}"#,
        );
        let v = resolve_variables(&tpl, &VariableInputs::default(), &Context::default()).unwrap();
        assert_eq!(v.values["a"], "xxxx");
    }

    #[test]
    fn required_variables_are_reported() {
        let tpl = t(r#"{"variables": {"r": null}, "builders": [{"type": "null"}]}"#);
        let e =
            resolve_variables(&tpl, &VariableInputs::default(), &Context::default()).unwrap_err();
        assert!(e.to_string().contains("required variable `r` is not set"));
    }

    #[test]
    fn filters_only_except_and_overrides() {
        let tpl = t(
            r#"{"builders": [{"type": "null", "name": "a"}, {"type": "null", "name": "b"}, {"type": "file", "name": "c"}],
            "provisioners": [{"type": "shell-local", "inline": ["x"], "only": ["a", "b"], "override": {"b": {"inline": ["y"]}}}],
            "post-processors": [[{"type": "checksum", "except": ["b"]}, "manifest"], {"type": "compress", "name": "zip"}]}"#,
        );
        let p = plan(
            &tpl,
            &VariableInputs::default(),
            &Filters {
                only: vec!["[ab]".into()],
                except: vec!["zip".into()],
            },
            Context::default(),
        )
        .unwrap();
        assert_eq!(
            p.builds.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            p.builds[1].provisioners[0].raw.values["inline"],
            serde_json::json!(["y"])
        );
        assert_eq!(p.builds[0].post_processors.len(), 1);
        assert_eq!(p.builds[0].post_processors[0].len(), 2);
        // `b` skips the checksum but keeps the rest of the chain.
        assert_eq!(p.builds[1].post_processors.len(), 1);
        assert_eq!(
            p.builds[1].post_processors[0][0].post_processor_type,
            "manifest"
        );
    }

    #[test]
    fn one_selection_and_one_hint_for_both_languages() {
        let mut errors = ConfigErrors::new();
        let sel = BuildSelection::new(
            &Filters {
                only: vec!["a*".into(), "[".into()],
                except: vec!["ab".into(), "manifest".into()],
            },
            &mut errors,
        );
        assert_eq!(errors.0.len(), 1);
        assert!(errors.0[0]
            .message
            .starts_with("`-only`: invalid pattern `[`"));
        assert!(sel.selects("ac") && !sel.selects("ab") && !sel.selects("b"));
        let mut warnings = Vec::new();
        sel.warn_unmatched(
            &["ab".into(), "b".into()],
            &["manifest".into()],
            &mut warnings,
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        sel.warn_unmatched(&["b".into()], &[], &mut warnings);
        assert_eq!(
            warnings,
            [
                "`-only=a*` matches no build; the builds are: b",
                "`-except=ab` matches no build or post-processor; the builds are: b",
                "`-except=manifest` matches no build or post-processor; the builds are: b",
            ]
        );
        let known = ["docker.one".to_string(), "null.two".to_string()];
        assert_eq!(
            suggest("docker.on", &known, "the builds are: "),
            "did you mean `docker.one`?"
        );
        assert_eq!(
            suggest("x", &known, "the builds are: "),
            "the builds are: `docker.one`, `null.two`"
        );
    }

    #[test]
    fn unknown_build_in_only_is_an_error_and_bad_filter_warns() {
        let tpl = t(
            r#"{"builders": [{"type": "null"}], "provisioners": [{"type": "shell-local", "only": ["nul"]}]}"#,
        );
        let e = plan(
            &tpl,
            &VariableInputs::default(),
            &Filters::default(),
            Context::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("names build `nul`, which does not exist\n  hint: did you mean `null`?"),
            "{e}"
        );
        let tpl = t(r#"{"builders": [{"type": "null"}]}"#);
        let p = plan(
            &tpl,
            &VariableInputs::default(),
            &Filters {
                only: vec!["zzz".into()],
                except: vec![],
            },
            Context::default(),
        )
        .unwrap();
        assert!(p.builds.is_empty());
        assert!(p.warnings[0].contains("matches no build"));
    }

    #[test]
    fn an_undeclared_var_is_accepted_with_a_warning() {
        let tpl = t(r#"{"variables": {"region": "x"}, "builders": [{"type": "null"}]}"#);
        let p = plan(
            &tpl,
            &VariableInputs {
                var_files: vec![],
                vars: vec![
                    ("regoin".into(), "eu".into()),
                    ("region".into(), "us".into()),
                ],
            },
            &Filters::default(),
            Context::default(),
        )
        .unwrap();
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        assert_eq!(
            p.warnings[0],
            "`-var regoin=…` sets a variable the template does not declare (did you mean `region`?)"
        );
    }

    #[test]
    fn min_packer_version_error_has_a_location() {
        let tpl = t("{\"builders\": [{\"type\": \"null\"}],\n \"min_packer_version\": \"1.50.\"}");
        let e = plan(
            &tpl,
            &VariableInputs::default(),
            &Filters::default(),
            Context::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.json:2:24: this template requires"),
            "{e}"
        );
    }

    #[test]
    fn var_file_that_is_not_an_object_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let vf = dir.path().join("v.json");
        std::fs::write(&vf, "\n  [\"a\"]").unwrap();
        let tpl = t(r#"{"builders": [{"type": "null"}]}"#);
        let inputs = VariableInputs {
            var_files: vec![vf],
            vars: vec![],
        };
        let e = resolve_variables(&tpl, &inputs, &Context::default()).unwrap_err();
        assert!(
            e.0[0]
                .location
                .as_ref()
                .is_some_and(|l| l.line == 2 && l.column == 3),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains("must hold a JSON object, found an array"),
            "{e}"
        );
    }

    #[test]
    fn min_version() {
        assert!(version_less("1.6.6", "1.10.0"));
        assert!(!version_less("1.6.6", "1.6.6"));
        assert!(!version_less("1.6.6", "v1.2"));
        let tpl = t(r#"{"min_packer_version": "9.0.0", "builders": [{"type": "null"}]}"#);
        assert!(plan(
            &tpl,
            &VariableInputs::default(),
            &Filters::default(),
            Context::default()
        )
        .is_err());
    }
}
