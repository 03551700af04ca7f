//! What several commands share: the variable and filter flags, loading a
//! template into a plan, choosing the output mode, and printing
//! configuration errors with their source line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_core::ui::{Level, Output, OutputMode};
use kiln_sdk::config::ConfigErrors;
use kiln_sdk::interpolate::Context;
use kiln_sdk::ui::Redactor;
use kiln_template::{BuildPlan, Filters, Template, VariableInputs};

use crate::cli::Parsed;

/// A parsed command line for a command that takes one template.
pub struct Invocation {
    /// The flags.
    pub flags: Parsed,
    /// The template path.
    pub template: PathBuf,
    /// Where output goes.
    pub output: Arc<Output>,
    /// The secrets every line is scrubbed of.
    pub redactor: Redactor,
}

/// Prints a usage error and returns the exit code.
pub fn usage_error(message: &str, usage: &str) -> u8 {
    eprintln!("error: {message}\n");
    eprint!("{usage}");
    1
}

/// Parses a template command's arguments: flags, `-h`, the TEMPLATE
/// argument and the output mode. `Err` carries the exit code to return
/// (0 after `-h`).
pub fn start(
    args: &[String],
    flags: &[crate::cli::Flag],
    usage: &str,
    machine_readable: bool,
) -> Result<Invocation, u8> {
    let parsed = crate::cli::parse(args, flags).map_err(|e| usage_error(&e, usage))?;
    if parsed.help {
        print!("{usage}");
        return Err(0);
    }
    let template = template_arg(&parsed, usage)?;
    let redactor = Redactor::new();
    let output =
        output(&parsed, machine_readable, redactor.clone()).map_err(|e| usage_error(&e, usage))?;
    Ok(Invocation {
        flags: parsed,
        template,
        output,
        redactor,
    })
}

/// Reads `-var` and `-var-file`.
pub fn variable_inputs(p: &Parsed) -> Result<VariableInputs, String> {
    let mut vars = Vec::new();
    for v in p.all("var") {
        match v.split_once('=') {
            Some((k, val)) if !k.is_empty() => vars.push((k.to_string(), val.to_string())),
            _ => {
                return Err(format!(
                    "invalid value `{v}` for flag `-var`: expected `key=value`"
                ))
            }
        }
    }
    Ok(VariableInputs {
        var_files: p.all("var-file").iter().map(PathBuf::from).collect(),
        vars,
    })
}

/// Reads `-only` and `-except`.
pub fn filters(p: &Parsed) -> Filters {
    Filters {
        only: p.list("only"),
        except: p.list("except"),
    }
}

/// The single TEMPLATE argument, or a usage error.
pub fn template_arg(p: &Parsed, usage: &str) -> Result<PathBuf, u8> {
    match p.args.as_slice() {
        [one] => Ok(PathBuf::from(one)),
        [] => {
            eprintln!("error: a template file is required\n");
            eprint!("{usage}");
            Err(1)
        }
        more => {
            eprintln!(
                "error: expected one template, found {} arguments: {}\n",
                more.len(),
                more.join(" ")
            );
            eprint!("{usage}");
            Err(1)
        }
    }
}

/// Every template path kind is read now (JSON, `.pkr.hcl`, `.pkr.json`,
/// directories); kept so that commands have one place to refuse a kind.
pub fn check_template_kind(_path: &Path) -> Result<(), String> {
    Ok(())
}

/// True when `path` is an HCL2 template: a `.pkr.hcl` or `.pkr.json` file,
/// or a directory.
pub fn is_hcl2(path: &Path) -> bool {
    kiln_template::hcl::is_hcl_path(path)
}

/// An empty legacy template standing for an HCL2 one, for the commands
/// that only need the plan.
fn hcl2_placeholder(path: &Path) -> Template {
    Template {
        path: path.to_string_lossy().into(),
        dir: path.to_path_buf(),
        description: None,
        min_packer_version: None,
        min_packer_version_location: None,
        variables: Vec::new(),
        sensitive_variables: Vec::new(),
        builders: Vec::new(),
        provisioners: Vec::new(),
        error_cleanup_provisioner: None,
        post_processors: Vec::new(),
    }
}

/// Loads a template file (for HCL2: parses every file, without
/// evaluating).
pub fn load_template(path: &Path) -> Result<Template, ConfigErrors> {
    if let Err(e) = check_template_kind(path) {
        return Err(kiln_sdk::config::ConfigError::new(e).into());
    }
    if is_hcl2(path) {
        let (_, errors) = kiln_template::hcl::parse(path);
        return errors.into_result(hcl2_placeholder(path));
    }
    kiln_template::load(path)
}

/// Loads a template and makes its plan. Unless the file cannot be read or
/// is not JSON, the plan comes back together with every problem found, so
/// the caller can prepare components and report all errors at once.
pub fn load_plan(
    path: &Path,
    p: &Parsed,
) -> Result<(Template, BuildPlan, ConfigErrors), ConfigErrors> {
    let inputs = variable_inputs(p)
        .map_err(|e| ConfigErrors::from(kiln_sdk::config::ConfigError::new(e)))?;
    if let Err(e) = check_template_kind(path) {
        return Err(kiln_sdk::config::ConfigError::new(e).into());
    }
    if is_hcl2(path) {
        let (mut t, mut errors) = kiln_template::hcl::parse(path);
        t.data_sources = crate::commands::plugins::data_sources(path, &t.dir);
        let (plan, e) = kiln_template::hcl::plan_hcl(&t, &inputs, &filters(p), Context::default());
        errors.0.extend(e.0);
        return Ok((hcl2_placeholder(path), plan, errors));
    }
    let (template, mut errors) = kiln_template::legacy::load_partial(path)?;
    let (plan, plan_errors) =
        kiln_template::plan_partial(&template, &inputs, &filters(p), Context::default());
    errors.0.extend(plan_errors.0);
    Ok((template, plan, errors))
}

/// Prepares every build of `plan`, adding prepare errors to `errors`.
/// Returns the builds only when there is no error at all.
pub fn prepare_all(
    plan: &BuildPlan,
    options: &kiln_core::Options,
    redactor: &Redactor,
    mut errors: ConfigErrors,
) -> Result<Vec<kiln_core::PreparedBuild>, ConfigErrors> {
    let (registry, plugin_errors) = crate::commands::plugins::registry(
        std::path::Path::new(&*plan.template_path),
        &plan.template_dir,
    );
    errors.0.splice(0..0, plugin_errors.0);
    match kiln_core::prepare(plan, &registry, options, redactor) {
        Ok(builds) => errors.into_result(builds),
        Err(e) => {
            errors.0.extend(e.0);
            Err(errors)
        }
    }
}

/// The output for `build`/`validate`/`inspect`.
pub fn output(
    p: &Parsed,
    machine_readable: bool,
    redactor: Redactor,
) -> Result<Arc<Output>, String> {
    let machine = machine_readable || p.flag("machine-readable").unwrap_or(false);
    let events = p.value("events");
    let mode = match (machine, events) {
        (true, Some(_)) => {
            return Err("`-machine-readable` and `-events` cannot be used together".into())
        }
        (false, Some("json")) => OutputMode::JsonEvents,
        (false, Some(other)) => return Err(format!("`-events` must be `json`, found `{other}`")),
        (true, None) => OutputMode::MachineReadable,
        (false, None) => OutputMode::Human {
            color: p.bool("color")?.unwrap_or(true)
                && std::env::var_os("PACKER_NO_COLOR").is_none()
                && std::env::var_os("NO_COLOR").is_none(),
            timestamp: p.flag("timestamp-ui")?,
        },
    };
    Ok(Output::stdio(mode, redactor))
}

/// Renders configuration errors with their source lines, rustc-style.
pub fn render_errors(errors: &ConfigErrors) -> String {
    let mut files: HashMap<String, Option<Vec<String>>> = HashMap::new();
    let mut out = String::new();
    let n = errors.0.len();
    out.push_str(&format!(
        "Error: {} {} found in the configuration:\n",
        n,
        if n == 1 {
            "problem was"
        } else {
            "problems were"
        }
    ));
    for e in &errors.0 {
        out.push('\n');
        let msg = match &e.path {
            Some(p) => format!("`{p}`: {}", e.message),
            None => e.message.clone(),
        };
        out.push_str(&format!("error: {msg}\n"));
        if let Some(loc) = &e.location {
            out.push_str(&format!("  --> {loc}\n"));
            let lines = files.entry(loc.file.to_string()).or_insert_with(|| {
                std::fs::read_to_string(&*loc.file)
                    .ok()
                    .map(|s| s.lines().map(String::from).collect())
            });
            if let Some(line) = lines
                .as_ref()
                .and_then(|l| l.get(loc.line.saturating_sub(1)))
            {
                let num = loc.line.to_string();
                let pad = " ".repeat(num.len());
                // Show at most 120 characters, keeping the column in view.
                let chars: Vec<char> = line.chars().collect();
                let col = loc.column.saturating_sub(1).min(chars.len());
                let start = if chars.len() <= 120 {
                    0
                } else {
                    col.saturating_sub(60)
                };
                let end = (start + 120).min(chars.len());
                let shown: String = chars[start..end].iter().collect();
                let lead = if start > 0 { "…" } else { "" };
                let tail = if end < chars.len() { "…" } else { "" };
                let caret = " ".repeat(col - start + lead.chars().count());
                out.push_str(&format!(
                    "   {pad}|\n   {num}| {lead}{shown}{tail}\n   {pad}| {caret}^\n"
                ));
            }
        }
        if let Some(h) = &e.hint {
            out.push_str(&format!("  hint: {h}\n"));
        }
    }
    out
}

/// Prints configuration errors through the output (stderr in human mode).
pub fn print_errors(output: &Output, errors: &ConfigErrors) {
    match output.mode() {
        OutputMode::Human { .. } => eprint!("{}", output.redactor().redact(&render_errors(errors))),
        _ => {
            for e in &errors.0 {
                output.line(Level::Error, &e.to_string());
            }
        }
    }
}

/// A multi-threaded runtime sized for this machine.
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}
