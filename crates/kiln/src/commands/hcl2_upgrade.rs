//! `kiln hcl2_upgrade`: write a legacy JSON template as an HCL2 template
//! (`TEMPLATE.pkr.hcl` unless `-output-file` says otherwise), as `packer
//! hcl2_upgrade` does. The translation is
//! [`kiln_fix::upgrade`]; this command reads, checks that the
//! output parses, and writes. It refuses to overwrite nothing but the output
//! file; on failure no output file is left.

use std::path::PathBuf;

use kiln_template::hcl;

use super::common;
use crate::cli::{Flag, Kind};

pub const USAGE: &str = "Usage: kiln hcl2_upgrade [options] TEMPLATE

  Will transform your JSON template into an HCL2 configuration.

Options:

  -output-file=path    Set output file name. By default this will be the
                       TEMPLATE name with \".pkr.hcl\" appended to it. To be a
                       valid Packer HCL template, it must have the suffix
                       \".pkr.hcl\"
  -with-annotations    Accepted for compatibility; kiln writes no annotations.
";

pub const FLAGS: &[Flag] = &[
    Flag::new("output-file", Kind::Value),
    Flag::new("with-annotations", Kind::Bool),
];

/// Runs `kiln hcl2_upgrade`.
pub fn run(args: Vec<String>) -> u8 {
    let parsed = match crate::cli::parse(&args, FLAGS) {
        Ok(p) => p,
        Err(e) => return common::usage_error(&e, USAGE),
    };
    if parsed.help {
        print!("{USAGE}");
        return 0;
    }
    if let Err(e) = parsed.bool("with-annotations") {
        return common::usage_error(&e, USAGE);
    }
    let path = match common::template_arg(&parsed, USAGE) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if common::is_hcl2(&path) {
        eprintln!(
            "error: `{}` is already an HCL2 template; `hcl2_upgrade` reads JSON templates",
            path.display()
        );
        return 1;
    }
    let t = match common::load_template(&path) {
        Ok(t) => t,
        Err(errors) => {
            eprint!("{}", common::render_errors(&errors));
            return 1;
        }
    };
    let out_path = parsed
        .value("output-file")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("{}.pkr.hcl", path.display())));
    let text = kiln_fix::upgrade::upgrade(&t);
    // The output must at least parse; anything else is a kiln bug.
    let sf = hcl::parser::SourceFile::new(out_path.to_string_lossy().into(), &text);
    if let Err(e) = hcl::parser::parse_file(&sf, &text) {
        eprintln!("error: the upgraded template does not parse (a kiln bug): {e}");
        return 1;
    }
    if let Err(e) = std::fs::write(&out_path, &text) {
        eprintln!("error: cannot write `{}`: {e}", out_path.display());
        return 1;
    }
    println!("Successfully created {}", out_path.display());
    0
}
