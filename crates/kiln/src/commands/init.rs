//! `kiln init [-upgrade] [-mirror DIR|file://DIR] TEMPLATE`: installs the
//! plugins a template's `required_plugins` asks for, from a local mirror
//! (there is no download from the network), checking each binary against
//! its release's SHA256SUMS. Plugins whose components kiln has built in
//! (`types_packer::BUILTIN_PLUGINS`) are satisfied by kiln itself.

use kiln_plugin::install::{self, Outcome};

/// `kiln init -h`.
pub const USAGE: &str = "Usage: kiln init [options] TEMPLATE

  Install the plugins the template's `packer { required_plugins { … } }`
  block asks for, from a local mirror, into the plugin directory (the first
  entry of KILN_PLUGIN_PATH, else the default plugin directory). Each
  binary is checked against its release's SHA256SUMS file.

Options:
  -mirror=DIR       the mirror: a directory or a file:// URL holding
                    SOURCE/RELEASE-FILES (default: KILN_PLUGIN_MIRROR)
  -upgrade          install the newest fitting version even when one is
                    already installed
";

pub const FLAGS: &[crate::cli::Flag] = &[
    crate::cli::Flag::new("mirror", crate::cli::Kind::Value),
    crate::cli::Flag::new("upgrade", crate::cli::Kind::Bool),
];

/// Runs `kiln init`.
pub fn run(args: Vec<String>) -> u8 {
    let p = match crate::cli::parse(&args, FLAGS) {
        Ok(p) => p,
        Err(e) => return super::common::usage_error(&e, USAGE),
    };
    if p.help {
        print!("{USAGE}");
        return 0;
    }
    let template = match super::common::template_arg(&p, USAGE) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let upgrade = match p.flag("upgrade") {
        Ok(u) => u,
        Err(e) => return super::common::usage_error(&e, USAGE),
    };
    if !template.exists() {
        eprintln!(
            "error: cannot read template `{}`: no such file or directory",
            template.display()
        );
        return 1;
    }
    // As `packer init`, read the whole template first (its parse phase),
    // then the plugins it requires.
    let super::plugins::Requirements {
        builtin,
        external: req,
        mut parse_errors,
        errors,
        sensitive_inputs,
    } = super::plugins::requirements(&template);
    parse_errors.0.extend(errors.0);
    if !parse_errors.is_empty() {
        eprint!(
            "{}",
            super::common::render_parse_errors(&parse_errors, &sensitive_inputs)
        );
        return 1;
    }
    for b in &builtin {
        println!(
            "Plugin {} ({} {}) is built into kiln: nothing to install",
            b.source, b.name, b.version
        );
    }
    if req.is_empty() {
        if builtin.is_empty() {
            println!("No plugins requirement found, make sure you reference a Packer config containing a packer.required_plugins block. See https://www.packer.io/docs/templates/hcl_templates/blocks/packer for more info.");
        }
        return 0;
    }
    let mirror = p.value("mirror").map(String::from).or_else(|| {
        std::env::var("KILN_PLUGIN_MIRROR")
            .ok()
            .filter(|m| !m.is_empty())
    });
    let Some(mirror) = mirror else {
        eprintln!("error: kiln cannot download plugins from the network; give a local mirror with `-mirror=DIR` (or `file://DIR`), or set KILN_PLUGIN_MIRROR");
        return 1;
    };
    let mirror = match install::mirror_path(&mirror) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let Some(dest) = install::install_dir() else {
        eprintln!("error: no plugin directory: set KILN_PLUGIN_PATH or HOME");
        return 1;
    };
    let mut failed = false;
    for r in &req {
        match install::install_from_mirror(&mirror, r, &dest, upgrade) {
            Ok(Outcome::Installed(path, v)) => {
                println!(
                    "Installed plugin {} v{v} in \"{}\"",
                    r.source,
                    path.display()
                )
            }
            Ok(Outcome::AlreadyInstalled(path, v)) => println!(
                "Plugin {} v{v} is already installed in \"{}\"",
                r.source,
                path.display()
            ),
            Err(e) => {
                failed = true;
                let at = r
                    .location
                    .as_ref()
                    .map(|l| format!("{l}: "))
                    .unwrap_or_default();
                eprintln!(
                    "error: {at}cannot install plugin `{}` (`{}`): {e}",
                    r.name, r.source
                );
            }
        }
    }
    u8::from(failed)
}
