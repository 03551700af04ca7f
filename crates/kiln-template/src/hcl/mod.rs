//! HCL2 templates (`.pkr.hcl` files and directories of them), after
//! Packer's `hcl2template`: one file per block type (`types_variable`,
//! `types_locals`, `types_source`, `types_build`, `types_packer`), a spanned
//! parser ([`parser`]) and an evaluator ([`eval`], with the function
//! library of the `kiln-hcl-functions` crate and [`types_constraint`]
//! conversions).
//!
//! [`load_hcl`] produces the same [`BuildPlan`] as the JSON path, so HCL2
//! builds run through the same engine. As in Packer, [`parse_with`] also
//! collects the values `PKR_VAR_`, auto var files, `-var-file` and `-var`
//! give the variables. Evaluation is staged: variables (those values, else
//! defaults), then locals in dependency order, then each build's sources,
//! provisioners and post-processors, with `source.*` and `build.*` known
//! there. Every problem is collected with its `file:line:column`.

pub mod console;
pub mod eval;
pub mod json_syntax;
pub mod parser;
pub mod prepare;
pub mod references;
pub mod types_build;
pub mod types_constraint;
pub mod types_data;
pub mod types_locals;
pub mod types_packer;
pub mod types_source;
pub mod types_variable;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hcl::{Map, Value};
use kiln_sdk::config::{did_you_mean, ConfigError, ConfigErrors, Location};
use kiln_sdk::duration::parse_go_duration;
use kiln_sdk::interpolate::Context;

use crate::plan::{
    suggest, BuildPlan, BuildSelection, Filters, PlannedBuild, PlannedPostProcessor,
    PlannedProvisioner, VariableInputs, Variables,
};
use eval::{located, Scope};
use parser::{hint_for, BlockAst, SourceFile};
use types_build::{
    BuildBlock, PostProcessorDecl, ProvisionerDecl, POST_PROCESSOR_META, PROVISIONER_META,
};
use types_locals::LocalDecl;
use types_source::SourceBlock;
use types_variable::VariableDecl;

/// The top-level blocks of an HCL2 template.
pub const TOP_LEVEL_BLOCKS: &[&str] = &[
    "packer",
    "variable",
    "variables",
    "locals",
    "local",
    "source",
    "build",
    "data",
    "communicator",
    "hcp_packer_registry",
];

/// True when `path` should be read as HCL2: a `.pkr.hcl` or `.pkr.json`
/// file, or a directory.
pub fn is_hcl_path(path: &Path) -> bool {
    let s = path.to_string_lossy();
    s.ends_with(".pkr.hcl") || s.ends_with(".pkr.json") || path.is_dir()
}

/// A parsed (not yet evaluated) HCL2 template: every file's blocks.
#[derive(Clone, Debug, Default)]
pub struct HclTemplate {
    /// The path the user gave.
    pub path: Arc<str>,
    /// The template directory, absolute.
    pub dir: PathBuf,
    /// `path.root`: the directory as the user named it.
    pub path_root: String,
    /// The `.pkr.hcl` then `.pkr.json` files read, in order.
    pub files: Vec<PathBuf>,
    /// The `*.auto.pkrvars.hcl` files found, in lexical order.
    pub auto_var_files: Vec<PathBuf>,
    /// `variable` and `variables` declarations.
    pub variables: Vec<VariableDecl>,
    /// `locals` and `local` declarations.
    pub locals: Vec<LocalDecl>,
    /// `data` blocks.
    pub data: Vec<types_data::DataDecl>,
    /// The data source types the `data` blocks can use (the caller's table
    /// of components: built-ins and plugins); [`parse`] leaves it empty,
    /// the caller sets it before evaluating.
    pub data_sources: types_data::DataSources,
    /// `source` blocks.
    pub sources: Vec<SourceBlock>,
    /// `build` blocks (unparsed: their `sources` may use variables).
    pub build_blocks: Vec<BlockAst>,
    /// `packer` blocks.
    pub packer_blocks: Vec<BlockAst>,
    /// The well-formed `required_plugins` entries of every `packer` block.
    pub required_plugins: Vec<types_packer::RequiredPlugin>,
    /// The values given to the variables by `PKR_VAR_*`, the auto var
    /// files, `-var-file` and `-var`, collected by [`parse_with`].
    pub inputs: types_variable::InputValues,
    /// Non-fatal remarks.
    pub warnings: Vec<String>,
    /// False when a file could not be read or parsed (so missing blocks
    /// are not reported on top of the syntax error).
    pub complete: bool,
}

fn list_dir(dir: &Path, suffix: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().ends_with(suffix))
        })
        .collect();
    v.sort();
    Ok(v)
}

/// [`parse_with`] with no `-var` or `-var-file` (`inspect`, `init`):
/// `PKR_VAR_*` and the auto var files are still read, as Packer's.
pub fn parse(path: &Path) -> (HclTemplate, ConfigErrors) {
    parse_with(path, &VariableInputs::default())
}

/// Reads and parses a `.pkr.hcl` file or every `*.pkr.hcl` file of a
/// directory, then collects the values `PKR_VAR_*`, the auto var files and
/// `inputs` give to its variables. Returns what could be parsed and every
/// problem found: what Packer's parse phase (`validate -syntax-only`)
/// reports.
pub fn parse_with(path: &Path, inputs: &VariableInputs) -> (HclTemplate, ConfigErrors) {
    let mut errors = ConfigErrors::new();
    let mut t = HclTemplate {
        path: path.to_string_lossy().into(),
        complete: true,
        ..HclTemplate::default()
    };
    let (dir, files) = if path.is_dir() {
        let files = match list_dir(path, ".pkr.hcl") {
            Ok(f) => f,
            Err(e) => {
                errors.push(ConfigError::new(format!(
                    "cannot read directory `{}`: {e}",
                    path.display()
                )));
                return (t, errors);
            }
        };
        let mut files = files;
        files.extend(list_dir(path, ".pkr.json").unwrap_or_default());
        if files.is_empty() {
            errors.push(
                ConfigError::new(format!(
                    "directory `{}` holds no `.pkr.hcl` or `.pkr.json` file",
                    path.display()
                ))
                .with_hint("an HCL2 template directory holds `*.pkr.hcl` (or `*.pkr.json`) files"),
            );
        }
        t.auto_var_files = list_dir(path, ".auto.pkrvars.hcl").unwrap_or_default();
        t.auto_var_files
            .extend(list_dir(path, ".auto.pkrvars.json").unwrap_or_default());
        (path.to_path_buf(), files)
    } else {
        let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
        (parent, vec![path.to_path_buf()])
    };
    t.path_root = if dir.as_os_str().is_empty() {
        ".".into()
    } else {
        dir.to_string_lossy().into_owned()
    };
    t.dir = std::path::absolute(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &dir
    })
    .unwrap_or_else(|_| dir.clone());
    t.files = files.clone();

    for f in &files {
        let display: Arc<str> = f.to_string_lossy().into();
        let text = match std::fs::read_to_string(f) {
            Ok(s) => s,
            Err(e) => {
                errors.push(ConfigError::new(format!(
                    "cannot read template `{display}`: {e}"
                )));
                t.complete = false;
                continue;
            }
        };
        let sf = SourceFile::new(display, &text);
        let parsed = if f.to_string_lossy().ends_with(".json") {
            json_syntax::parse_file(&sf, &text)
        } else {
            parser::parse_file(&sf, &text)
        };
        let body = match parsed {
            Ok(b) => b,
            Err(e) => {
                errors.0.extend(e.0);
                t.complete = false;
                continue;
            }
        };
        for a in &body.attrs {
            errors.push(
                located(
                    &a.key_location,
                    format!("unexpected argument `{}` at the top level", a.name),
                )
                .with_hint("top-level arguments go in a `variables` or `locals` block"),
            );
        }
        for b in &body.blocks {
            match b.ident.as_str() {
                "variable" => t
                    .variables
                    .extend(types_variable::decode_variable(b, &mut errors)),
                "variables" => t
                    .variables
                    .extend(types_variable::decode_variables_block(b, &mut errors)),
                "locals" => t.locals.extend(types_locals::decode_locals(b, &mut errors)),
                "local" => t.locals.extend(types_locals::decode_local(b, &mut errors)),
                // Duplicates are reported when the template is evaluated
                // (`validate`, not `-syntax-only`): Packer's `parseConfig`.
                "source" => t
                    .sources
                    .extend(types_source::decode_source(b, &mut errors)),
                "communicator" => check_communicator(b, &mut t.warnings, &mut errors),
                "build" => t.build_blocks.push(b.clone()),
                // Several `packer` blocks are merged (types_packer).
                "packer" => t.packer_blocks.push(b.clone()),
                "data" => t.data.extend(types_data::decode_data(b, &mut errors)),
                "hcp_packer_registry" => t.warnings.push(format!(
                    "{}: `hcp_packer_registry` is ignored: kiln does not publish to HCP Packer",
                    b.location
                )),
                other => {
                    let mut e = located(&b.location, format!("unsupported block type `{other}`"));
                    e.hint = hint_for(other, TOP_LEVEL_BLOCKS.iter().copied());
                    errors.push(e);
                }
            }
        }
    }
    // What Packer's parse phase checks beyond syntax (hcl2template/parser.go
    // `Parse`), so `validate -syntax-only` reports it too.
    t.required_plugins = types_packer::check_packer_blocks(&t.packer_blocks, &mut errors);
    let e = &mut errors;
    drop_duplicates(
        &mut t.variables,
        |v| v.name.clone(),
        |v| &v.location,
        "variable",
        e,
    );
    types_variable::check_defaults(&t.variables, &t.path_root, e);
    drop_duplicates(
        &mut t.data,
        |d| d.reference(),
        |d| &d.location,
        "data source",
        e,
    );
    drop_duplicates(
        &mut t.locals,
        |l| l.name.clone(),
        |l| &l.location,
        "local",
        e,
    );
    // The given values, as Packer's `Parse` ends: here, not when the plan
    // is made, so each problem is reported once, by every command.
    t.inputs = types_variable::collect_inputs(&t.variables, &t.auto_var_files, inputs, e);
    (t, errors)
}

/// Each item whose key an earlier item already has, with that earlier
/// item: `(duplicate, first)` indices, in order. Linear in the items (a
/// template may have tens of thousands of locals).
pub(crate) fn duplicates<'a, T, K: std::hash::Hash + Eq>(
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> Vec<(usize, usize)> {
    let mut seen: std::collections::HashMap<K, usize> = Default::default();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match seen.entry(key(item)) {
            std::collections::hash_map::Entry::Occupied(first) => out.push((i, *first.get())),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
        }
    }
    out
}

/// Reports each declaration whose name an earlier one already has, and
/// keeps only the first.
fn drop_duplicates<T>(
    items: &mut Vec<T>,
    key: impl Fn(&T) -> String,
    location: impl Fn(&T) -> &Location,
    what: &str,
    errors: &mut ConfigErrors,
) {
    let dups = duplicates(items, &key);
    for &(i, first) in &dups {
        errors.push(
            located(
                location(&items[i]),
                format!("duplicate {what} `{}`", key(&items[i])),
            )
            .with_hint(format!(
                "it is already declared at {}",
                location(&items[first])
            )),
        );
    }
    let drop: std::collections::HashSet<usize> = dups.into_iter().map(|(i, _)| i).collect();
    let mut index = 0;
    items.retain(|_| {
        index += 1;
        !drop.contains(&(index - 1))
    });
}

/// A top-level `communicator "TYPE" "NAME" { … }` block. Packer 1.16
/// accepts it (its `configSchema` in `hcl2template/parser.go` has the block,
/// with two labels) and then ignores it: `parseConfig` decodes only
/// `source` and `build` blocks, and no source can refer to one. kiln does
/// the same, with a warning, since its settings take no effect.
fn check_communicator(b: &BlockAst, warnings: &mut Vec<String>, errors: &mut ConfigErrors) {
    match b.labels.as_slice() {
        [ty, name] => warnings.push(format!(
            "{}: the `communicator \"{ty}\" \"{name}\"` block is ignored, as in Packer; \
             set `communicator` and its `ssh_*`/`winrm_*` arguments in each `source` block",
            b.location
        )),
        labels => errors.push(
            located(
                &b.location,
                format!(
                    "a `communicator` block takes two labels, its type and a name; found {}",
                    labels.len()
                ),
            )
            .with_hint("write `communicator \"ssh\" \"name\" { … }`"),
        ),
    }
}

/// Loads an HCL2 template and makes its plan, as [`crate::plan_partial`]
/// does for JSON: the plan comes back with every problem found.
pub fn load_hcl(
    path: &Path,
    inputs: &VariableInputs,
    filters: &Filters,
) -> (BuildPlan, ConfigErrors) {
    let (t, mut errors) = parse_with(path, inputs);
    let (plan, e) = plan_hcl(&t, filters, Context::default());
    errors.0.extend(e.0);
    (plan, errors)
}

/// A template's variables resolved (with the values [`parse_with`]
/// collected) and its locals and data sources evaluated over them: what
/// `plan_hcl`, `inspect` and the console all start from.
pub(crate) fn variables_and_locals(
    t: &HclTemplate,
    errors: &mut ConfigErrors,
) -> (types_variable::ResolvedVariables, types_locals::Evaluated) {
    let resolved = types_variable::resolve(&t.variables, &t.inputs, &t.path_root, errors);
    let evaluated = types_locals::evaluate_all_with(
        &t.locals,
        &t.data,
        &t.data_sources,
        &resolved.values,
        &resolved.sensitive,
        &t.path_root,
        errors,
    );
    (resolved, evaluated)
}

/// Evaluates a parsed template into a [`BuildPlan`], with the variable
/// values [`parse_with`] collected.
pub fn plan_hcl(t: &HclTemplate, filters: &Filters, base: Context) -> (BuildPlan, ConfigErrors) {
    let mut errors = ConfigErrors::new();
    let (resolved, evaluated) = variables_and_locals(t, &mut errors);
    plan_evaluated(t, filters, base, &resolved, &evaluated, errors)
}

/// [`plan_hcl`] over variables and locals already evaluated (with the
/// `errors` that found), so that `inspect` evaluates them, and reads its
/// data sources, once.
fn plan_evaluated(
    t: &HclTemplate,
    filters: &Filters,
    base: Context,
    resolved: &types_variable::ResolvedVariables,
    evaluated: &types_locals::Evaluated,
    mut errors: ConfigErrors,
) -> (BuildPlan, ConfigErrors) {
    let mut warnings = t.warnings.clone();
    warnings.extend(resolved.warnings.iter().cloned());
    let locals = evaluated.locals.clone();
    warnings.extend(evaluated.warnings.iter().cloned());

    let mut values: std::collections::BTreeMap<String, String> = resolved
        .values
        .iter()
        .map(|(k, v)| (k.clone(), eval::display(v)))
        .collect();
    let mut sensitive = resolved.sensitive.clone();
    // The redactor hides each element of a sensitive list, map or object
    // too, not only the whole value as JSON: output may show one alone.
    let mut sensitive_inputs = resolved.sensitive_inputs.clone();
    for name in &resolved.sensitive {
        if let Some(v) = resolved.values.get(name) {
            sensitive_inputs.extend(types_variable::sensitive_texts(v));
        }
    }
    // Sensitive locals (declared, or derived from a sensitive variable) are
    // redacted like sensitive variables: the redactor hides their values.
    for name in &evaluated.sensitive_locals {
        if evaluated.unknown.contains(&format!("local.{name}")) {
            // `validate` without reading data sources: no value to hide.
            continue;
        }
        if let Some(v) = locals.get(name) {
            values.insert(format!("local.{name}"), eval::display(v));
            sensitive.push(format!("local.{name}"));
            sensitive_inputs.extend(types_variable::sensitive_texts(v));
        }
    }

    let scope = Scope {
        vars: Some(resolved.values.clone()),
        locals: Some(locals.clone()),
        data: Some(evaluated.data.clone()),
        path_root: t.path_root.clone(),
        what: "a `build` block",
        unknown: evaluated.unknown.iter().cloned().collect(),
        ..Scope::default()
    };
    check_duplicate_sources(&t.sources, &mut errors);
    let builds: Vec<BuildBlock> = t
        .build_blocks
        .iter()
        .map(|b| types_build::decode_build(b, &scope, &mut errors, &mut warnings))
        .collect();
    if builds.is_empty() && t.complete && !t.files.is_empty() {
        errors.push(
            ConfigError::new(format!(
                "`{}` is an HCL2 template with no `build` block; there is nothing to build",
                t.path
            ))
            .with_hint("add `build { sources = [\"source.TYPE.NAME\"] }`"),
        );
    }

    let mut base = base;
    base.template_dir = Some(t.dir.to_string_lossy().into_owned());
    base.packer_version = kiln_sdk::PACKER_HCL2_VERSION;
    base.user_variables = Arc::new(values.clone());

    let selection = BuildSelection::new(filters, &mut errors);
    let mut all_names = Vec::new();
    let mut all_pp_names = Vec::new();
    let mut planned = Vec::new();
    for b in &builds {
        plan_build(
            t,
            b,
            &scope,
            filters,
            &selection,
            &mut planned,
            &mut all_names,
            &mut all_pp_names,
            &mut errors,
            &mut warnings,
        );
    }
    selection.warn_unmatched(&all_names, &all_pp_names, &mut warnings);
    let plan = BuildPlan {
        template_path: t.path.clone(),
        template_dir: t.dir.clone(),
        variables: Variables {
            values,
            sensitive,
            sensitive_inputs,
        },
        interpolation: base,
        builds: planned,
        warnings,
    };
    (plan, errors)
}

/// Two `source` blocks with the same type and name: an error of the
/// evaluation phase (`validate`), not of `-syntax-only`, as in Packer
/// (`parseConfig` in `hcl2template/parser.go`, called by `Initialize`).
fn check_duplicate_sources(sources: &[SourceBlock], errors: &mut ConfigErrors) {
    for (i, first) in duplicates(sources, |s| (&s.source_type, &s.name)) {
        errors.push(
            located(
                &sources[i].location,
                format!("duplicate source `source.{}`", sources[i].reference()),
            )
            .with_hint(format!(
                "it is already declared at {}; each source needs a name of its own per builder type",
                sources[first].location
            )),
        );
    }
}

/// `only` or `except` of a provisioner or post-processor: any expression
/// that evaluates to a list of strings, or null (none). The names are
/// compared with `TYPE.NAME` as they are, as Packer's `OnlyExcept.Skip`.
fn string_list(
    e: &parser::Expr,
    scope: &Scope,
    key: &str,
    errors: &mut ConfigErrors,
) -> Vec<String> {
    if let Some(name) = scope.unknown_ref(e) {
        errors.push(Scope::unknown_error(e, key, &name));
        return Vec::new();
    }
    let not_a_list = |found: &str| {
        eval::at(
            e,
            format!("`{key}` must be a list of strings, found {found}"),
        )
        .with_hint(format!("write `{key} = [\"TYPE.NAME\"]`"))
    };
    match scope.eval(e) {
        Ok(Value::Null) => Vec::new(),
        Ok(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                other => {
                    errors.push(not_a_list(&format!(
                        "an element that is {}",
                        eval::kind(other)
                    )));
                    None
                }
            })
            .collect(),
        Ok(v) => {
            errors.push(not_a_list(eval::kind(&v)));
            Vec::new()
        }
        Err(err) => {
            errors.push(err);
            Vec::new()
        }
    }
}

/// A name in `only`/`except` that is not a source of the build matches
/// nothing: Packer skips it silently; kiln warns.
fn check_known(
    names: &[String],
    key: &str,
    known: &[String],
    e: &parser::Expr,
    warnings: &mut Vec<String>,
) {
    if known.is_empty() {
        // The build's sources are already reported as unknown.
        return;
    }
    for n in names {
        if known.contains(n) {
            continue;
        }
        // `source.T.N`, `sources.T.N`: the bare `T.N` is a source.
        let bare = n.split_once('.').map(|(_, rest)| rest);
        let hint = match bare {
            Some(bare) if known.iter().any(|k| k == bare) => {
                format!("write `{bare}`: `{key}` names sources as `TYPE.NAME`, without a prefix")
            }
            _ => suggest(n, known, "the sources of this build are "),
        };
        warnings.push(format!(
            "{}: `{key}` names `{n}`, which is not a source of this build, so it matches nothing; {hint}",
            e.location
        ));
    }
}

fn applies(only: &[String], except: &[String], source: &str) -> bool {
    (only.is_empty() || only.iter().any(|o| o == source)) && !except.iter().any(|e| e == source)
}

fn duration_of(
    body: &parser::BodyAst,
    key: &str,
    scope: &Scope,
    errors: &mut ConfigErrors,
) -> Option<std::time::Duration> {
    let a = body.attr(key)?;
    match scope.eval(&a.value) {
        Ok(Value::String(s)) => match parse_go_duration(&s) {
            Ok(d) => Some(d),
            Err(e) => {
                errors.push(eval::at(
                    &a.value,
                    format!("`{key}`: invalid duration `{s}`: {e}"),
                ));
                None
            }
        },
        Ok(v) => {
            errors.push(eval::at(
                &a.value,
                format!(
                    "`{key}` must be a duration string such as `30s`, found {}",
                    eval::kind(&v)
                ),
            ));
            None
        }
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

fn plan_provisioner(
    p: &ProvisionerDecl,
    source_name: &str,
    scope: &Scope,
    errors: &mut ConfigErrors,
) -> PlannedProvisioner {
    let mut raw = types_source::body_to_raw(&p.body, scope, &p.location, PROVISIONER_META, errors);
    if let Some(a) = p.body.attr("override") {
        match scope.eval(&a.value) {
            Ok(Value::Object(o)) => {
                let full = format!("source.{source_name}");
                for (k, v) in o.iter() {
                    if k == source_name || *k == full {
                        if let Value::Object(fields) = v {
                            for (fk, fv) in fields {
                                raw.values.insert(fk.clone(), eval::to_json(fv));
                            }
                        } else {
                            errors.push(eval::at(
                                &a.value,
                                format!("`override.{k}` must be an object"),
                            ));
                        }
                    }
                }
            }
            Ok(v) => errors.push(eval::at(
                &a.value,
                format!(
                    "`override` must be an object keyed by source name, found {}",
                    eval::kind(&v)
                ),
            )),
            Err(e) => errors.push(e),
        }
    }
    let max_retries = match p.body.attr("max_retries") {
        Some(a) => match scope.eval(&a.value) {
            Ok(v) => match types_constraint::convert(&v, &types_constraint::Type::Number) {
                Ok(Value::Number(n)) if n.as_u64().is_some() => {
                    n.as_u64().unwrap_or(0).min(u32::MAX as u64) as u32
                }
                _ => {
                    errors.push(eval::at(&a.value, "`max_retries` must be a whole number"));
                    0
                }
            },
            Err(e) => {
                errors.push(e);
                0
            }
        },
        None => 0,
    };
    PlannedProvisioner {
        provisioner_type: p.provisioner_type.clone(),
        raw,
        pause_before: duration_of(&p.body, "pause_before", scope, errors),
        max_retries,
        timeout: duration_of(&p.body, "timeout", scope, errors),
    }
}

/// The `only` and `except` of a provisioner or post-processor (Packer's
/// `OnlyExcept`: both set is an error; see
/// `hcl2template/types.build.provisioners.go`).
fn only_except(
    body: &parser::BodyAst,
    scope: &Scope,
    known: &[String],
    errors: &mut ConfigErrors,
    warnings: &mut Vec<String>,
) -> (Vec<String>, Vec<String>) {
    let mut get = |key: &str| -> Vec<String> {
        match body.attr(key) {
            Some(a) => {
                let l = string_list(&a.value, scope, key, errors);
                check_known(&l, key, known, &a.value, warnings);
                l
            }
            None => Vec::new(),
        }
    };
    let (only, except) = (get("only"), get("except"));
    if !only.is_empty() && !except.is_empty() {
        if let Some(a) = body.attr("except") {
            errors.push(
                located(
                    &a.key_location,
                    "only one of `only` and `except` may be set",
                )
                .with_hint("keep `only` (the sources to run on) or `except` (the sources to skip)"),
            );
        }
    }
    (only, except)
}

#[allow(clippy::too_many_arguments)]
fn plan_build(
    t: &HclTemplate,
    b: &BuildBlock,
    scope: &Scope,
    filters: &Filters,
    selection: &BuildSelection,
    planned: &mut Vec<PlannedBuild>,
    all_names: &mut Vec<String>,
    all_pp_names: &mut Vec<String>,
    errors: &mut ConfigErrors,
    warnings: &mut Vec<String>,
) {
    let build_name = b.name.as_ref().and_then(|e| match scope.eval(e) {
        Ok(v) => Some(eval::display(&v)),
        Err(err) => {
            errors.push(err);
            None
        }
    });
    let incremental = b.incremental.as_ref().is_some_and(|e| match scope.eval(e) {
        Ok(Value::Bool(v)) => v,
        Ok(v) => {
            errors.push(eval::at(
                e,
                format!("`incremental` must be a bool, found {}", eval::kind(&v)),
            ));
            false
        }
        Err(err) => {
            errors.push(err);
            false
        }
    });
    // Resolve the sources first: provisioners' `only`/`except` name them.
    struct Resolved<'a> {
        source: &'a SourceBlock,
        name: String,
        extra: Option<&'a parser::BodyAst>,
    }
    let mut resolved = Vec::new();
    for r in &b.sources {
        let Some(source) = t
            .sources
            .iter()
            .find(|s| s.source_type == r.source_type && s.name == r.name)
        else {
            let want = format!("source.{}.{}", r.source_type, r.name);
            let known: Vec<String> = t
                .sources
                .iter()
                .map(|s| format!("source.{}", s.reference()))
                .collect();
            let mut e = located(&r.location, format!("unknown source `{want}`"));
            e.hint = did_you_mean(&want, known.iter().map(String::as_str))
                .map(|s| format!("did you mean `{s}`?"))
                .or_else(|| {
                    Some(format!(
                        "declare it with `source \"{}\" \"{}\" {{ … }}`",
                        r.source_type, r.name
                    ))
                });
            errors.push(e);
            continue;
        };
        let mut name = source.name.clone();
        if let Some(body) = &r.body {
            if let Some(a) = body.attr("name") {
                match scope.eval(&a.value) {
                    Ok(v) => name = eval::display(&v),
                    Err(e) => errors.push(e),
                }
            }
            for a in &body.attrs {
                if a.name != "name" {
                    if let Some(prev) = source.body.attr(&a.name) {
                        errors.push(
                            located(&a.key_location, format!("`{}` is already set in `source.{}`", a.name, source.reference()))
                                .with_hint(format!("a nested `source` block can add fields but not redefine them; it is set at {}", prev.key_location)),
                        );
                    }
                }
            }
        }
        resolved.push(Resolved {
            source,
            name,
            extra: r.body.as_ref(),
        });
    }
    let known: Vec<String> = resolved
        .iter()
        .map(|r| format!("{}.{}", r.source.source_type, r.name))
        .collect();

    // Check meta-arguments once per block (not once per source).
    let pscope = Scope {
        build: Some(build_name.clone().unwrap_or_default()),
        what: "a provisioner",
        ..scope.clone()
    };
    let mut prov_filters = Vec::new();
    for p in b
        .provisioners
        .iter()
        .chain(b.error_cleanup_provisioner.iter())
    {
        prov_filters.push(only_except(&p.body, &pscope, &known, errors, warnings));
    }
    let mut pp_filters: Vec<Vec<(Vec<String>, Vec<String>)>> = Vec::new();
    for chain in &b.post_processors {
        pp_filters.push(
            chain
                .iter()
                .map(|pp| only_except(&pp.body, &pscope, &known, errors, warnings))
                .collect(),
        );
    }

    for (r, source_name) in resolved.iter().zip(&known) {
        let full_name = match &build_name {
            Some(bn) if !bn.is_empty() => format!("{bn}.{source_name}"),
            _ => source_name.clone(),
        };
        all_names.push(full_name.clone());
        if !selection.selects(&full_name) {
            continue;
        }
        let sscope = Scope {
            source: Some((r.name.clone(), r.source.source_type.clone())),
            what: "a `source` block",
            ..scope.clone()
        };
        let mut builder =
            types_source::body_to_raw(&r.source.body, &sscope, &r.source.location, &[], errors);
        if let Some(extra) = r.extra {
            let more =
                types_source::body_to_raw(extra, &sscope, &r.source.location, &["name"], errors);
            let mut spans = (*builder.spans).clone();
            for (k, v) in more.values {
                builder.values.entry(k).or_insert(v);
            }
            for (k, l) in more.spans.iter() {
                spans.entry(k.clone()).or_insert_with(|| l.clone());
            }
            builder.spans = Arc::new(spans);
        }
        let cscope = Scope {
            source: Some((r.name.clone(), r.source.source_type.clone())),
            build: Some(build_name.clone().unwrap_or_default()),
            what: "a provisioner",
            ..scope.clone()
        };
        let mut provisioners = Vec::new();
        for (p, (o, e)) in b.provisioners.iter().zip(&prov_filters) {
            if applies(o, e, source_name) {
                provisioners.push(plan_provisioner(p, source_name, &cscope, errors));
            }
        }
        let error_cleanup_provisioner = b.error_cleanup_provisioner.as_ref().and_then(|p| {
            let (o, e) = prov_filters.last()?;
            applies(o, e, source_name).then(|| plan_provisioner(p, source_name, &cscope, errors))
        });
        let ppscope = Scope {
            what: "a post-processor",
            ..cscope.clone()
        };
        let mut post_processors = Vec::new();
        for (chain, chain_filters) in b.post_processors.iter().zip(&pp_filters) {
            let mut out = Vec::new();
            for (pp, (o, e)) in chain.iter().zip(chain_filters) {
                let name = pp_name(pp, &ppscope, errors);
                all_pp_names.push(name.clone());
                if !applies(o, e, source_name) {
                    continue;
                }
                if filters.except.contains(&name) {
                    break;
                }
                out.push(plan_post_processor(pp, name, &ppscope, errors));
            }
            if !out.is_empty() {
                post_processors.push(out);
            }
        }
        planned.push(PlannedBuild {
            name: full_name,
            // Packer: `builderVariables()` in hcl2template/types.source.go
            // sets `packer_build_name` to the source block's own name.
            packer_build_name: r.source.name.clone(),
            builder_type: r.source.source_type.clone(),
            builder,
            provisioners,
            error_cleanup_provisioner,
            post_processors,
            incremental,
        });
    }
}

fn pp_name(pp: &PostProcessorDecl, scope: &Scope, errors: &mut ConfigErrors) -> String {
    match pp.body.attr("name") {
        Some(a) => match scope.eval(&a.value) {
            Ok(v) => eval::display(&v),
            Err(e) => {
                errors.push(e);
                pp.post_processor_type.clone()
            }
        },
        None => pp.post_processor_type.clone(),
    }
}

fn plan_post_processor(
    pp: &PostProcessorDecl,
    name: String,
    scope: &Scope,
    errors: &mut ConfigErrors,
) -> PlannedPostProcessor {
    let keep_input_artifact =
        pp.body
            .attr("keep_input_artifact")
            .and_then(|a| match scope.eval(&a.value) {
                Ok(Value::Bool(b)) => Some(b),
                Ok(v) => {
                    errors.push(eval::at(
                        &a.value,
                        format!(
                            "`keep_input_artifact` must be a bool, found {}",
                            eval::kind(&v)
                        ),
                    ));
                    None
                }
                Err(e) => {
                    errors.push(e);
                    None
                }
            });
    PlannedPostProcessor {
        post_processor_type: pp.post_processor_type.clone(),
        name,
        keep_input_artifact,
        raw: types_source::body_to_raw(&pp.body, scope, &pp.location, POST_PROCESSOR_META, errors),
    }
}

/// One build for `kiln inspect`: its name, builder type, provisioner types
/// and post-processor chains (types).
pub type InspectedBuild = (String, String, Vec<String>, Vec<Vec<String>>);

/// A summary of a template for `kiln inspect`: variables (with their
/// resolved values), locals, sources and builds.
#[derive(Clone, Debug, Default)]
pub struct Inspection {
    /// `(name, value, sensitive)` for each variable, sorted.
    pub variables: Vec<(String, String, bool)>,
    /// `(name, value, sensitive)` for each local, sorted.
    pub locals: Vec<(String, String, bool)>,
    /// Build names with their builder type, provisioner and post-processor types.
    pub builds: Vec<InspectedBuild>,
    /// `source.TYPE.NAME` of every source.
    pub sources: Vec<String>,
}

/// Summarises a template for `kiln inspect`, evaluating what it can, with
/// the variable values [`parse_with`] collected.
pub fn inspect(t: &HclTemplate) -> (Inspection, ConfigErrors) {
    let mut errs = ConfigErrors::new();
    let (resolved, evaluated) = variables_and_locals(t, &mut errs);
    let (plan, errors) = plan_evaluated(
        t,
        &Filters::default(),
        Context::default(),
        &resolved,
        &evaluated,
        errs,
    );
    let locals = &evaluated.locals;
    let mut variables: Vec<(String, String, bool)> = t
        .variables
        .iter()
        .map(|v| {
            let value = resolved
                .values
                .get(&v.name)
                .map(hcl_repr)
                .unwrap_or_default();
            (v.name.clone(), value, v.sensitive)
        })
        .collect();
    variables.sort();
    let mut local_list: Vec<(String, String, bool)> = t
        .locals
        .iter()
        .map(|l| {
            (
                l.name.clone(),
                locals.get(&l.name).map(hcl_repr).unwrap_or_default(),
                evaluated.sensitive_locals.contains(&l.name),
            )
        })
        .collect();
    local_list.sort();
    let builds = plan
        .builds
        .iter()
        .map(|b| {
            (
                b.name.clone(),
                b.builder_type.clone(),
                b.provisioners
                    .iter()
                    .map(|p| p.provisioner_type.clone())
                    .collect(),
                b.post_processors
                    .iter()
                    .map(|c| c.iter().map(|p| p.post_processor_type.clone()).collect())
                    .collect(),
            )
        })
        .collect();
    let sources = t
        .sources
        .iter()
        .map(|s| format!("source.{}", s.reference()))
        .collect();
    (
        Inspection {
            variables,
            locals: local_list,
            builds,
            sources,
        },
        errors,
    )
}

/// A value as HCL would print it (`"x"`, `5`, `["a"]`).
pub fn hcl_repr(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        _ => eval::to_json(v).to_string(),
    }
}

/// Used by tests and `inspect`: the variable map type.
pub type ValueMap = Map<String, Value>;

pub use console::{console_eval, console_repr, console_scope, go_quote, ConsoleScope};
