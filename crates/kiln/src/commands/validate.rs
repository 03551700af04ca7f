//! `kiln validate`: parse the template and prepare every component, as a
//! build would, without running anything. Exit 0 when valid, 1 when not.
//! As Packer's, it does not read an HCL2 template's data sources (no HTTP
//! request, no cloud API call) unless `-evaluate-datasources` is given:
//! their configuration is checked, and what they would produce is unknown.

use kiln_core::ui::Level;

use super::common;
use crate::cli::{Flag, Kind};

pub const USAGE: &str = "Usage: kiln validate [options] TEMPLATE

  Checks the template is valid by parsing the template and also
  checking the configuration with the various builders, provisioners, etc.

  If it is not valid, the errors will be shown and the command will exit
  with a non-zero exit status. If it is valid, it will exit with a zero
  exit status.

Options:

  -syntax-only           Only check syntax. Do not verify config of the template.
  -evaluate-datasources  Evaluate data sources during validation (HCL2 only, may incur costs).
  -except=foo,bar,baz    Validate all builds other than these.
  -only=foo,bar,baz      Validate only these builds.
  -machine-readable      Produce machine-readable output.
  -var 'key=value'       Variable for templates, can be used multiple times.
  -var-file=path         JSON file containing user variables.
";

pub const FLAGS: &[Flag] = &[
    Flag::new("syntax-only", Kind::Bool),
    Flag::new("evaluate-datasources", Kind::Bool),
    Flag::new("machine-readable", Kind::Bool),
    Flag::new("var", Kind::Repeated),
    Flag::new("var-file", Kind::Repeated),
    Flag::new("only", Kind::Repeated),
    Flag::new("except", Kind::Repeated),
];

/// Runs `kiln validate`.
pub fn run(args: Vec<String>, machine_readable: bool) -> u8 {
    let common::Invocation {
        flags: p,
        template: path,
        output,
        redactor,
    } = match common::start(&args, FLAGS, USAGE, machine_readable) {
        Ok(i) => i,
        Err(code) => return code,
    };
    if p.flag("syntax-only").unwrap_or(false) {
        let inputs = match common::variable_inputs(&p) {
            Ok(i) => i,
            Err(e) => {
                common::print_errors(&output, &kiln_sdk::config::ConfigError::new(e).into());
                return 1;
            }
        };
        return match common::check_syntax(&path, &inputs, &redactor) {
            Ok(_) => {
                output.line(
                    Level::Say,
                    "Syntax-only check passed. Everything looks okay.",
                );
                0
            }
            Err(errors) => {
                common::print_errors(&output, &errors);
                1
            }
        };
    }
    let read_data = p.flag("evaluate-datasources").unwrap_or(false);
    let common::Loaded {
        plan,
        table,
        errors,
    } = match common::load_plan_reading(&path, &p, read_data) {
        Ok(x) => x,
        Err(errors) => {
            common::print_errors(&output, &errors);
            return 1;
        }
    };
    for v in plan.variables.sensitive_values() {
        redactor.add(v);
    }
    match common::prepare_all(
        &plan,
        &table,
        &kiln_core::Options::default(),
        &redactor,
        errors,
    ) {
        Ok(builds) => {
            for w in plan
                .warnings
                .iter()
                .chain(builds.iter().flat_map(|b| b.warnings.iter()))
            {
                output.line(Level::Say, &format!("Warning: {w}"));
            }
            output.line(Level::Say, "The configuration is valid.");
            0
        }
        Err(errors) => {
            common::print_errors(&output, &errors);
            1
        }
    }
}
