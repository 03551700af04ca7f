//! `kiln console`: evaluate HCL2 expressions against a template's
//! variables, locals and data sources, one per line, from a terminal or
//! from piped input (`echo 'upper(var.x)' | kiln console t.pkr.hcl`).
//! REPL commands: `help`, `variables`, `exit`. Holds no state beyond the
//! evaluated scope; nothing to clean up.

use std::io::{BufRead, IsTerminal, Write};

use kiln_sdk::config::ConfigErrors;
use kiln_template::hcl;
use kiln_template::hcl::types_data::DataSources;

use super::common;
use crate::cli::{Flag, Kind};

pub const USAGE: &str = "Usage: kiln console [options] [TEMPLATE]

  Creates a console for testing HCL2 expressions against a template's
  variables, locals and data sources. Expressions are read one per line
  from standard input, so they can also be piped in. With no TEMPLATE,
  only functions and constants are available.

Options:

  -var 'key=value'       Variable for templates, can be used multiple times.
  -var-file=path         JSON or HCL2 file containing user variables.
  -config-type=hcl2      Accepted for compatibility; kiln's console is HCL2.

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
        if ct != "hcl2" {
            return common::usage_error(
                &format!("`-config-type={ct}`: kiln's console evaluates HCL2 expressions only"),
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
    let parsed_template = match &template {
        Some(p) if !common::is_hcl2(p) => {
            eprintln!(
                "error: `{}` is a JSON template; kiln's console evaluates HCL2 templates (`.pkr.hcl`, `.pkr.json` or a directory)\n  hint: convert it with `kiln hcl2_upgrade {}`",
                p.display(),
                p.display()
            );
            return 1;
        }
        Some(p) => {
            let (mut t, errors) = hcl::parse_with(p, &inputs);
            if !errors.is_empty() {
                eprint!(
                    "{}",
                    common::render_parse_errors(&errors, &t.inputs.sensitive_inputs)
                );
                return 1;
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
        return 1;
    }
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut out = std::io::stdout();
    let mut failed = false;
    let mut lines = stdin.lock().lines();
    loop {
        if interactive {
            let _ = write!(out, "> ");
            let _ = out.flush();
        }
        let line = match lines.next() {
            Some(Ok(l)) => l,
            Some(Err(e)) => {
                eprintln!("error: cannot read standard input: {e}");
                return 1;
            }
            None => break,
        };
        match line.trim() {
            "exit" => break,
            "help" => {
                let _ = write!(out, "{HELP}");
                continue;
            }
            "variables" => {
                let _ = write!(out, "{}", variables(&cs));
                continue;
            }
            _ => {}
        }
        match hcl::console_eval(&cs, &line) {
            Ok(Some(v)) => {
                let _ = writeln!(out, "{v}");
            }
            Ok(None) => {}
            Err(e) => {
                failed = true;
                eprint!("{}", common::render_errors(&ConfigErrors::from(e)));
            }
        }
    }
    u8::from(failed)
}

/// `> variables`: every variable and local with its value, sensitive ones
/// hidden.
fn variables(cs: &hcl::ConsoleScope) -> String {
    let mut s = String::from("> input-variables:\n\n");
    for (prefix, map) in [("var", &cs.scope.vars), ("local", &cs.scope.locals)] {
        if prefix == "local" {
            s.push_str("\n> local-variables:\n\n");
        }
        for (k, v) in map.iter().flatten() {
            let shown = if cs.sensitive.contains(&format!("{prefix}.{k}")) {
                kiln_sdk::ui::REDACTED.to_string()
            } else {
                hcl::hcl_repr(v)
            };
            s.push_str(&format!("{prefix}.{k}: {shown}\n"));
        }
    }
    s
}
