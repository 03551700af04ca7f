//! `kiln console`: evaluate HCL2 expressions against a template's
//! variables, locals and data sources, or (Packer's JSON mode) Go
//! templates against a legacy JSON template's user variables, one a line,
//! from a terminal (line editing and history through rustyline) or from
//! piped input (`echo 'upper(var.x)' | kiln console t.pkr.hcl`). Values
//! print as Packer prints them. REPL commands: `help`, `variables`,
//! `exit`. Holds no state beyond the evaluated scope and the session's
//! history (kept in memory only: expressions may hold secrets); nothing to
//! clean up.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use kiln_sdk::config::ConfigErrors;
use kiln_sdk::interpolate::{self, Context};
use kiln_template::hcl;
use kiln_template::hcl::types_data::DataSources;
use kiln_template::plan::{VariableInputs, Variables};

use super::common;
use crate::cli::{Flag, Kind};

pub const USAGE: &str = "Usage: kiln console [options] [TEMPLATE]

  Creates a console for testing HCL2 expressions against a template's
  variables, locals and data sources, or, for a legacy JSON template, Go
  template interpolations against its user variables. Lines are read one
  at a time, with line editing and history on a terminal, or piped in.
  With no TEMPLATE, only functions and constants are available.

Options:

  -var 'key=value'       Variable for templates, can be used multiple times.
  -var-file=path         JSON or HCL2 file containing user variables.
  -config-type=hcl2      Without a TEMPLATE: HCL2 expressions (the default), or
                         `json` for Packer's JSON mode (Go templates).

Commands:

  help       Shows this help.
  variables  Lists the variables and locals with their values.
  exit       Leaves the console.
";

const HELP: &str = "The kiln console evaluates HCL2 expressions, for example:

  > upper(var.name)
  > local.tags[\"owner\"]
  > cidrsubnet(\"10.0.0.0/16\", 8, 2)

Commands: `help`, `variables`, `exit`.
";

const HELP_JSON: &str = "kiln console, JSON mode: renders Packer's Go templates with a legacy JSON
template's user variables, for example:

  > {{user `name`}}
  > {{upper (user `name`)}}
  > {{timestamp}}

`build_name`, `build_type` and `env` are not available here, as in Packer.
Commands: `help`, `variables` (the user variables and their values), `exit`.
";

pub const FLAGS: &[Flag] = &[
    Flag::new("var", Kind::Repeated),
    Flag::new("var-file", Kind::Repeated),
    Flag::new("config-type", Kind::Value),
];

/// Runs `kiln console`.
pub fn run(args: Vec<String>) -> u8 {
    let parsed = match crate::cli::parse(&args, FLAGS) {
        Ok(p) => p,
        Err(e) => return common::usage_error(&e, USAGE),
    };
    if parsed.help {
        print!("{USAGE}");
        return 0;
    }
    if let Some(ct) = parsed.value("config-type") {
        if ct != "hcl2" && ct != "json" {
            return common::usage_error(
                &format!("`-config-type={ct}`: expected `hcl2` or `json`"),
                USAGE,
            );
        }
    }
    let inputs = match common::variable_inputs(&parsed) {
        Ok(i) => i,
        Err(e) => return common::usage_error(&e, USAGE),
    };
    let template = match parsed.args.as_slice() {
        [] => None,
        [one] => Some(std::path::PathBuf::from(one)),
        more => {
            return common::usage_error(
                &format!("expected at most one template, found {}", more.len()),
                USAGE,
            )
        }
    };
    let json_mode = match (&template, parsed.value("config-type")) {
        (Some(p), _) => !common::is_hcl2(p),
        (None, Some("json")) => true,
        (None, _) => false,
    };
    let evaluator = if json_mode {
        match json_evaluator(template.as_deref(), &inputs) {
            Ok(e) => e,
            Err(code) => return code,
        }
    } else {
        match hcl_evaluator(template.as_deref(), &inputs) {
            Ok(e) => e,
            Err(code) => return code,
        }
    };
    if std::io::stdin().is_terminal() {
        interactive(&evaluator)
    } else {
        piped(&evaluator)
    }
}

/// What the console evaluates lines against: an HCL2 scope, or a legacy
/// JSON template's interpolation context (Packer's "JSON mode").
enum Evaluator {
    Hcl(Box<hcl::ConsoleScope>),
    Json {
        ctx: Box<Context>,
        variables: Variables,
    },
}

/// What one line of input gives.
enum Reply {
    /// Nothing to print (an empty line).
    Nothing,
    /// A value, or the text of `help` or `variables`.
    Text(String),
    /// An error, rendered.
    Error(String),
    /// `exit`.
    Exit,
}

impl Evaluator {
    fn eval(&self, line: &str) -> Reply {
        let json = matches!(self, Evaluator::Json { .. });
        match line.trim() {
            "" => return Reply::Nothing,
            "exit" => return Reply::Exit,
            "help" if json => return Reply::Text(HELP_JSON.trim_end().to_string()),
            "help" => return Reply::Text(HELP.trim_end().to_string()),
            "variables" => return Reply::Text(self.variables()),
            _ => {}
        }
        match self {
            Evaluator::Hcl(cs) => match hcl::console_eval(cs, line) {
                Ok(Some(v)) => Reply::Text(v),
                Ok(None) => Reply::Nothing,
                Err(e) => Reply::Error(common::render_error_list(
                    &ConfigErrors::from(e),
                    Some(("<console>", line.trim())),
                    &kiln_sdk::ui::Redactor::new(),
                )),
            },
            Evaluator::Json { ctx, variables } => {
                let redactor = kiln_sdk::ui::Redactor::new();
                for v in variables.sensitive_values() {
                    redactor.add(v.to_string());
                }
                match interpolate::render(line, ctx) {
                    Ok(v) => Reply::Text(redactor.redact(&v).into_owned()),
                    Err(e) => Reply::Error(format!(
                        "error: interpolation error: {}\n  hint: the console renders one Go template a line, for example {{{{user `name`}}}}\n",
                        redactor.redact(&e.to_string())
                    )),
                }
            }
        }
    }

    /// `variables`: each variable (and, in HCL2, local) with its value,
    /// sorted, sensitive ones hidden; in Packer's layout for each mode.
    fn variables(&self) -> String {
        match self {
            Evaluator::Hcl(cs) => hcl_variables(cs),
            Evaluator::Json { variables, .. } => {
                let mut s = String::new();
                for (k, v) in &variables.values {
                    let shown = if variables.sensitive.contains(k) {
                        kiln_sdk::ui::REDACTED
                    } else {
                        v.as_str()
                    };
                    s.push_str(&format!("\n{k}: {shown},"));
                }
                s
            }
        }
    }
}

/// The HCL2 console's scope: the template's variables, locals and data
/// sources (none without a template), or the exit code of its errors.
fn hcl_evaluator(template: Option<&Path>, inputs: &VariableInputs) -> Result<Evaluator, u8> {
    let parsed_template = match template {
        Some(p) => {
            let (mut t, errors) = hcl::parse_with(p, inputs);
            if !errors.is_empty() {
                eprint!(
                    "{}",
                    common::render_parse_errors(&errors, &t.inputs.sensitive_inputs)
                );
                return Err(1);
            }
            let (table, _) = crate::commands::plugins::hcl_table(&t);
            t.data_sources = DataSources::new(std::sync::Arc::new(table));
            Some(t)
        }
        None => None,
    };
    let (cs, errors) = hcl::console_scope(parsed_template.as_ref());
    if !errors.is_empty() {
        eprint!("{}", common::render_errors(&errors));
        return Err(1);
    }
    Ok(Evaluator::Hcl(Box::new(cs)))
}

/// The JSON console's context: a legacy template's user variables (its
/// defaults, `-var-file`, `-var`) and `template_dir`, as Packer 1.6.6's
/// `packer console template.json` sees them; `build_name`, `build_type`
/// and `env` are not available there, as in Packer.
fn json_evaluator(template: Option<&Path>, inputs: &VariableInputs) -> Result<Evaluator, u8> {
    let t = match template {
        Some(p) => match common::load_template(p) {
            Ok(t) => t,
            Err(errors) => {
                eprint!("{}", common::render_errors(&errors));
                return Err(1);
            }
        },
        None => kiln_template::legacy::parse(
            r#"{"builders": [{"type": "null", "communicator": "none"}]}"#,
            "<console>".into(),
            std::env::current_dir().unwrap_or_default(),
        )
        .map_err(|errors| {
            eprint!("{}", common::render_errors(&errors));
            1u8
        })?,
    };
    let mut ctx = Context {
        template_dir: Some(t.dir.to_string_lossy().into_owned()),
        ..Context::default()
    };
    let variables = match kiln_template::plan::resolve_variables(&t, inputs, &ctx) {
        Ok(v) => v,
        Err(errors) => {
            eprint!("{}", common::render_errors(&errors));
            return Err(1);
        }
    };
    ctx.user_variables = std::sync::Arc::new(variables.values.clone());
    Ok(Evaluator::Json {
        ctx: Box::new(ctx),
        variables,
    })
}

/// A terminal: line editing and history (rustyline), Packer's `> `
/// prompt; Ctrl-C or Ctrl-D leaves, as `exit` does. An error is printed
/// and the console goes on; the exit code is 1 if any line failed.
fn interactive(evaluator: &Evaluator) -> u8 {
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot start the console's line editor: {e}");
            return 1;
        }
    };
    let mut failed = false;
    loop {
        let line = match editor.readline("> ") {
            Ok(l) => l,
            Err(
                rustyline::error::ReadlineError::Interrupted | rustyline::error::ReadlineError::Eof,
            ) => break,
            Err(e) => {
                eprintln!("error: cannot read the terminal: {e}");
                return 1;
            }
        };
        if !line.trim().is_empty() {
            let _ = editor.add_history_entry(line.as_str());
        }
        if !answer(evaluator, &line, &mut failed) {
            break;
        }
    }
    u8::from(failed)
}

/// Piped input: one line at a time, each result printed (Packer prints
/// only the last one: a documented difference), errors to stderr; the exit
/// code is 1 if any line failed.
fn piped(evaluator: &Evaluator) -> u8 {
    let mut failed = false;
    for line in std::io::stdin().lock().lines() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: cannot read standard input: {e}");
                return 1;
            }
        };
        if !answer(evaluator, &line, &mut failed) {
            break;
        }
    }
    u8::from(failed)
}

/// Evaluates `line` and prints what it gives; false on `exit`.
fn answer(evaluator: &Evaluator, line: &str, failed: &mut bool) -> bool {
    let mut out = std::io::stdout();
    match evaluator.eval(line) {
        Reply::Nothing => {}
        Reply::Text(t) => {
            let _ = writeln!(out, "{t}");
            let _ = out.flush();
        }
        Reply::Error(e) => {
            *failed = true;
            eprint!("{e}");
        }
        Reply::Exit => return false,
    }
    true
}

/// `> variables` in HCL2 mode: every variable and local with its value as
/// Packer prints it (`var.name: "value"`), sensitive ones hidden.
fn hcl_variables(cs: &hcl::ConsoleScope) -> String {
    let mut s = String::from("> input-variables:\n\n");
    for (prefix, map) in [("var", &cs.scope.vars), ("local", &cs.scope.locals)] {
        if prefix == "local" {
            s.push_str("\n> local-variables:\n\n");
        }
        let mut entries: Vec<_> = map.iter().flatten().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in entries {
            let shown = if cs.sensitive.contains(&format!("{prefix}.{k}")) {
                kiln_sdk::ui::REDACTED.to_string()
            } else {
                hcl::console_repr(v)
            };
            s.push_str(&format!("{prefix}.{k}: {}\n", hcl::go_quote(&shown)));
        }
    }
    s.trim_end().to_string()
}
