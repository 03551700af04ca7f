//! What several commands share: the variable and filter flags, loading a
//! template into a plan, choosing the output mode, and printing
//! configuration errors with their source line.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_core::ui::{Level, Output, OutputMode};
use kiln_sdk::config::ConfigErrors;
use kiln_sdk::interpolate::Context;
use kiln_sdk::ui::Redactor;
use kiln_template::hcl::types_data::DataSources;
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
    protect_file_names(&redactor, &template, &parsed);
    let output =
        output(&parsed, machine_readable, redactor.clone()).map_err(|e| usage_error(&e, usage))?;
    Ok(Invocation {
        flags: parsed,
        template,
        output,
        redactor,
    })
}

/// Tells the redactor the names of the files kiln prints itself (the
/// template, the files of a template directory, the var files), so that a
/// secret which happens to be part of one (a password `freebsd` and
/// `freebsd-14.pkr.hcl`) does not mangle the locations kiln shows.
fn protect_file_names(redactor: &Redactor, template: &Path, p: &Parsed) {
    redactor.protect(template.to_string_lossy());
    if let Ok(entries) = std::fs::read_dir(template) {
        for e in entries.flatten() {
            redactor.protect(e.path().to_string_lossy());
        }
    }
    for f in p.all("var-file") {
        redactor.protect(f.to_string());
    }
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
        [stdin] if stdin == "-" => {
            eprintln!(
                "error: kiln cannot read a template from stdin (`-`): save it to a file and pass \
                 its path (`template.json`, `template.pkr.hcl`, or a directory)\n"
            );
            eprint!("{usage}");
            Err(1)
        }
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

/// Loads a legacy JSON template (`inspect` and `hcl2_upgrade` read HCL2
/// templates their own way).
pub fn load_template(path: &Path) -> Result<Template, ConfigErrors> {
    if let Err(e) = check_template_kind(path) {
        return Err(kiln_sdk::config::ConfigError::new(e).into());
    }
    kiln_template::load(path)
}

/// `validate -syntax-only`: reads a template without evaluating it. An
/// HCL2 template's parse phase also collects the values `PKR_VAR_*`, its
/// auto var files and `inputs` (`-var`, `-var-file`) give its variables,
/// as Packer's does. The values given to sensitive variables go to
/// `redactor`, so the errors printed do not show them.
pub fn check_syntax(
    path: &Path,
    inputs: &VariableInputs,
    redactor: &Redactor,
) -> Result<(), ConfigErrors> {
    if is_hcl2(path) {
        let (t, errors) = kiln_template::hcl::parse_with(path, inputs);
        for v in &t.inputs.sensitive_inputs {
            redactor.add(v.clone());
        }
        return errors.into_result(());
    }
    load_template(path).map(|_| ())
}

/// A template's plan, the table of components to prepare it with, and
/// every problem found so far.
pub struct Loaded {
    /// The builds to prepare.
    pub plan: BuildPlan,
    /// The built-ins and the components of the plugins discovered for the
    /// template; its data sources have been read.
    pub table: Arc<kiln_core::Registry>,
    /// The problems found: with required plugins, then the template's.
    pub errors: ConfigErrors,
}

/// Loads a template and makes its plan. Unless the file cannot be read or
/// is not JSON, the plan comes back together with every problem found, so
/// the caller can prepare components and report all errors at once.
pub fn load_plan(path: &Path, p: &Parsed) -> Result<Loaded, ConfigErrors> {
    load_plan_reading(path, p, true)
}

/// [`load_plan`]; with `read_data` false (`validate` without
/// `-evaluate-datasources`), an HCL2 template's data sources are checked
/// but not read, and their outputs are unknown. The template is parsed
/// once: its `required_plugins` come from that parse.
pub fn load_plan_reading(path: &Path, p: &Parsed, read_data: bool) -> Result<Loaded, ConfigErrors> {
    let inputs = variable_inputs(p)
        .map_err(|e| ConfigErrors::from(kiln_sdk::config::ConfigError::new(e)))?;
    if let Err(e) = check_template_kind(path) {
        return Err(kiln_sdk::config::ConfigError::new(e).into());
    }
    if is_hcl2(path) {
        let (mut t, parse_errors) = kiln_template::hcl::parse_with(path, &inputs);
        let (table, mut errors) = crate::commands::plugins::hcl_table(&t);
        errors.0.extend(parse_errors.0);
        let table = Arc::new(table);
        t.data_sources = DataSources::new(table.clone());
        if !read_data {
            t.data_sources = t.data_sources.without_execution();
        }
        let (plan, e) = kiln_template::hcl::plan_hcl(&t, &filters(p), Context::default());
        errors.0.extend(e.0);
        return Ok(Loaded {
            plan,
            table,
            errors,
        });
    }
    let (template, template_errors) = kiln_template::legacy::load_partial(path)?;
    let (plan, plan_errors) =
        kiln_template::plan_partial(&template, &inputs, &filters(p), Context::default());
    let (table, mut errors) = crate::commands::plugins::table(&[], &plan.template_dir);
    errors.0.extend(template_errors.0);
    errors.0.extend(plan_errors.0);
    Ok(Loaded {
        plan,
        table: Arc::new(table),
        errors,
    })
}

/// Prepares every build of `plan` with the components of `table`, adding
/// prepare errors to `errors`. Returns the builds only when there is no
/// error at all.
pub fn prepare_all(
    plan: &BuildPlan,
    table: &kiln_core::Registry,
    options: &kiln_core::Options,
    redactor: &Redactor,
    mut errors: ConfigErrors,
) -> Result<Vec<kiln_core::PreparedBuild>, ConfigErrors> {
    match kiln_core::prepare(plan, table, options, redactor) {
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
            color: use_color(
                p.bool("color")?,
                |k| std::env::var(k).ok().filter(|v| !v.is_empty()),
                std::io::stdout().is_terminal(),
            ),
            timestamp: p.flag("timestamp-ui")?,
        },
    };
    Ok(Output::stdio(mode, redactor))
}

/// Whether human output is coloured. `-color=false`, `NO_COLOR` and
/// `PACKER_NO_COLOR` turn colours off; otherwise an explicit `-color=true`
/// or `CLICOLOR_FORCE` (not `0`) turns them on, and without either they
/// follow stdout: on for a terminal, off for a pipe or a file. `var` gives an environment
/// variable's value when it is set and not empty.
fn use_color(
    flag: Option<bool>,
    var: impl Fn(&str) -> Option<String>,
    stdout_is_terminal: bool,
) -> bool {
    if flag == Some(false) || var("NO_COLOR").is_some() || var("PACKER_NO_COLOR").is_some() {
        return false;
    }
    let forced = flag == Some(true) || var("CLICOLOR_FORCE").is_some_and(|v| v != "0");
    forced || stdout_is_terminal
}

/// Renders configuration errors with their source lines, rustc-style.
pub fn render_errors(errors: &ConfigErrors) -> String {
    render_errors_in(errors, None)
}

/// Like [`render_errors`] for the errors of an HCL2 template's parse
/// phase, with `sensitive_inputs` (the parsed template's
/// `inputs.sensitive_inputs`: the values given to its sensitive variables)
/// masked, so a rejected secret does not show in a source line.
pub fn render_parse_errors(errors: &ConfigErrors, sensitive_inputs: &[String]) -> String {
    let redactor = Redactor::new();
    for v in sensitive_inputs {
        redactor.add(v.clone());
    }
    render_errors_redacted(errors, None, &redactor)
}

/// Like [`render_errors`]; `text` is `(file name, contents)` of a template
/// that is not on disk (the template `kiln fix` printed), whose lines are
/// shown for errors located in it.
pub fn render_errors_in(errors: &ConfigErrors, text: Option<(&str, &str)>) -> String {
    render_errors_redacted(errors, text, &Redactor::new())
}

/// Like [`render_errors_in`], with `redactor`'s secrets masked in the
/// messages, hints and source lines; the caret is placed by the masked
/// line, so it still points at the right column.
pub fn render_errors_redacted(
    errors: &ConfigErrors,
    text: Option<(&str, &str)>,
    redactor: &Redactor,
) -> String {
    let n = errors.0.len();
    format!(
        "Error: {} {} found in the configuration:\n\n{}",
        n,
        if n == 1 {
            "problem was"
        } else {
            "problems were"
        },
        render_error_list(errors, text, redactor)
    )
}

/// The errors of [`render_errors_redacted`] without its heading, one
/// after another with a blank line between them: each message, its
/// location with the source line and a caret, and its hint.
pub fn render_error_list(
    errors: &ConfigErrors,
    text: Option<(&str, &str)>,
    redactor: &Redactor,
) -> String {
    let clean = |s: &str| escape_controls(&redactor.redact(s));
    let mut files: HashMap<String, Option<Vec<String>>> = HashMap::new();
    if let Some((name, text)) = text {
        files.insert(
            name.to_string(),
            Some(text.lines().map(String::from).collect()),
        );
    }
    let mut out = String::new();
    for (i, e) in errors.0.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let msg = match &e.path {
            Some(p) => format!("`{p}`: {}", e.message),
            None => e.message.clone(),
        };
        out.push_str(&format!("error: {}\n", clean(&msg)));
        if let Some(loc) = &e.location {
            out.push_str(&format!("  --> {}\n", clean(&loc.to_string())));
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
                let shown = clean(&chars[start..end].iter().collect::<String>());
                let before = clean(&chars[start..col].iter().collect::<String>());
                let lead = if start > 0 { "…" } else { "" };
                let tail = if end < chars.len() { "…" } else { "" };
                let caret = " ".repeat(before.chars().count() + lead.chars().count());
                out.push_str(&format!(
                    "   {pad}|\n   {num}| {lead}{shown}{tail}\n   {pad}| {caret}^\n"
                ));
            }
        }
        if let Some(h) = &e.hint {
            out.push_str(&format!("  hint: {}\n", clean(h)));
        }
    }
    out
}

/// `s` with its control characters but newlines and tabs escaped
/// (`\u{1b}`), so that a raw byte in a template cannot drive the terminal
/// (clear the screen, hide text, move the cursor) when kiln echoes it.
fn escape_controls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Prints configuration errors through the output (stderr in human mode;
/// with `-events=json`, one `config_error` event each, then `run_finished`
/// with exit code 1, since nothing runs after them).
pub fn print_errors(output: &Output, errors: &ConfigErrors) {
    match output.mode() {
        OutputMode::Human { .. } => {
            eprint!(
                "{}",
                render_errors_redacted(errors, None, output.redactor())
            )
        }
        OutputMode::JsonEvents => {
            for e in &errors.0 {
                let loc = e.location.as_ref();
                output.event(serde_json::json!({
                    "type": "config_error",
                    "message": e.message,
                    "path": e.path,
                    "file": loc.map(|l| l.file.to_string()),
                    "line": loc.map(|l| l.line),
                    "column": loc.map(|l| l.column),
                    "hint": e.hint,
                }));
            }
            output.event(serde_json::json!({
                "type": "run_finished", "cancelled": false, "failed": 0, "builds": 0, "exit_code": 1,
            }));
        }
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

#[cfg(test)]
mod tests {
    use super::use_color;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            super::escape_controls("a\x1b[2Jb\rc\u{7f}\td\ne"),
            "a\\u{1b}[2Jb\\rc\\u{7f}\td\ne"
        );
    }

    #[test]
    fn colours_follow_the_terminal_unless_told() {
        assert!(use_color(None, env(&[]), true));
        assert!(!use_color(None, env(&[]), false));
        assert!(!use_color(Some(false), env(&[]), true));
        assert!(use_color(Some(true), env(&[]), false));
        assert!(!use_color(None, env(&[("NO_COLOR", "1")]), true));
        assert!(!use_color(None, env(&[("PACKER_NO_COLOR", "1")]), true));
        assert!(use_color(None, env(&[("CLICOLOR_FORCE", "1")]), false));
        assert!(!use_color(None, env(&[("CLICOLOR_FORCE", "0")]), false));
        // NO_COLOR wins over CLICOLOR_FORCE, as in anstream and no-color.org.
        assert!(!use_color(
            None,
            env(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]),
            false
        ));
    }
}
