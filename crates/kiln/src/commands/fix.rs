//! `kiln fix`: rewrite an old legacy JSON template the way `packer fix`
//! does and print it on stdout; with `-validate=true` (the default) the
//! fixed template's structure is then checked, as `packer fix` checks it.

use super::common;
use crate::cli::{self, Flag, Kind};

pub const USAGE: &str = "Usage: kiln fix [options] TEMPLATE

  Reads the JSON template and attempts to fix known backwards
  incompatibilities. The fixed template will be outputted to standard out.

  If the template cannot be fixed due to an error, the command will exit
  with a non-zero exit status. Error messages will appear on standard error.

Options:

  -validate=true      If true (default), validates the fixed template.
";

pub const FLAGS: &[Flag] = &[Flag::new("validate", Kind::Bool)];

/// Runs `kiln fix`.
pub fn run(args: Vec<String>) -> u8 {
    let p = match cli::parse(&args, FLAGS) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}\n");
            eprint!("{USAGE}");
            return 1;
        }
    };
    if p.help {
        print!("{USAGE}");
        println!("\nFixes that are run (in order):\n");
        for f in kiln_fix::FIXERS {
            println!("  {:<27}{}", f.name, f.synopsis);
        }
        return 0;
    }
    let path = match common::template_arg(&p, USAGE) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let src = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read template `{}`: {e}", path.display());
            return 1;
        }
    };
    let value: serde_json::Value = match kiln_template::json::parse(&src) {
        Ok(v) => v.to_value(),
        Err(e) => {
            eprintln!(
                "error: {}:{}:{}: invalid JSON: {}",
                path.display(),
                e.pos.line,
                e.pos.column,
                e.kind
            );
            return 1;
        }
    };
    let fixed = match kiln_fix::fix(value) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let text = kiln_fix::to_packer_json(&fixed);
    print!("{text}");

    if p.bool("validate").ok().flatten().unwrap_or(true) {
        // As `packer fix`: the fixed text is parsed and its structure
        // checked (Packer's `template.Parse` and `Template.Validate`); the
        // components' settings are `kiln validate`'s business. Errors are
        // located in the fixed text, the one printed above.
        let name = format!("{} (fixed)", path.display());
        let dir = std::fs::canonicalize(&path)
            .ok()
            .and_then(|p| p.parent().map(|d| d.to_path_buf()))
            .unwrap_or_else(|| ".".into());
        let errors = match kiln_template::legacy::parse(&text, name.as_str().into(), dir) {
            Ok(t) => {
                let names: Vec<String> = t.builders.iter().map(|b| b.name.clone()).collect();
                kiln_template::plan::check_build_references(&t, &names)
            }
            Err(errors) => errors,
        };
        if !errors.is_empty() {
            eprintln!(
                "Error! Fixed template fails to validate \
                 (the locations are in the fixed template printed on standard output).\n"
            );
            eprint!(
                "{}",
                common::render_errors_in(&errors, Some((&name, &text)))
            );
            return 1;
        }
    }
    0
}
