//! `kiln plugins installed | install --path BINARY SOURCE | remove SOURCE
//! [VERSION] | required TEMPLATE`, and what every template command shares
//! about plugins: a template's `required_plugins`, taken from the one parse
//! the command makes, and the one table of components it runs with (the
//! built-ins of `kiln-registry`, to which `kiln-plugin` adds the components
//! of the plugins it discovers).

use std::path::Path;

use kiln_plugin::discover::{self, Required};
use kiln_plugin::protocol::Kind;
use kiln_sdk::config::ConfigErrors;
use kiln_sdk::Registry;
use kiln_template::hcl::types_packer::{self, RequiredPlugin};
use kiln_template::hcl::HclTemplate;

/// `kiln plugins -h`.
pub const USAGE: &str = "Usage: kiln plugins <subcommand> [options] [args]

  Manage kiln's plugins and Packer's plugins.

Subcommands:
    installed                       list every plugin kiln finds, with its components
    install --path BINARY SOURCE    install a plugin binary as SOURCE (HOST/ORG/NAME)
    remove SOURCE [VERSION]         remove an installed plugin (every version, or one)
    required TEMPLATE               list a template's required plugins and what satisfies them

Plugins are searched in KILN_PLUGIN_PATH, the template's directory, the
default directory (KILN_PLUGIN_DIR, else $XDG_DATA_HOME/kiln/plugins, else
~/.local/share/kiln/plugins), PACKER_PLUGIN_PATH and ~/.packer.d/plugins.
";

/// A template's `required_plugins` entries (HCL2 only; JSON templates have
/// none), split into those kiln's built-in components satisfy and those to
/// discover or install.
#[derive(Default)]
pub struct Requirements {
    /// Satisfied by kiln itself (`types_packer::BUILTIN_PLUGINS`).
    pub builtin: Vec<RequiredPlugin>,
    /// To find among the installed plugins (or install with `kiln init`).
    pub external: Vec<Required>,
    /// What Packer's parse phase reports about the template (malformed
    /// entries among it): `init` and `plugins required` show it, while
    /// `validate` and `build` have it from their own parse.
    pub parse_errors: ConfigErrors,
    /// A plugin required twice (Packer's `PluginRequirements`).
    pub errors: ConfigErrors,
    /// The values given to the template's sensitive variables, to mask in
    /// `parse_errors` ([`super::common::render_parse_errors`]).
    pub sensitive_inputs: Vec<String>,
}

impl Requirements {
    /// The `required_plugins` of a parsed template (its parse errors are
    /// the caller's).
    pub fn of(t: &HclTemplate) -> Requirements {
        let mut r = Requirements {
            sensitive_inputs: t.inputs.sensitive_inputs.clone(),
            ..Requirements::default()
        };
        types_packer::check_duplicates(&t.required_plugins, &mut r.errors);
        for p in &t.required_plugins {
            if p.builtin().is_some() {
                r.builtin.push(p.clone());
            } else {
                r.external.push(Required {
                    name: p.name.clone(),
                    source: p.source.clone(),
                    version: p.version.clone(),
                    location: Some(p.location.clone()),
                });
            }
        }
        r
    }
}

/// Parses a template for its `required_plugins`: the one parse of `init`
/// and `plugins required`, which need nothing else from it.
pub fn requirements(template: &Path) -> Requirements {
    if !kiln_template::hcl::is_hcl_path(template) {
        return Requirements::default();
    }
    let (t, parse_errors) = kiln_template::hcl::parse(template);
    Requirements {
        parse_errors,
        ..Requirements::of(&t)
    }
}

/// The one table of components a template runs with: the built-ins, then
/// the components of the plugins discovered for `template_dir` (built-ins
/// win a name clash), with the errors about the `required` plugins.
/// Discovery runs each plugin's `describe` once.
pub fn table(required: &[Required], template_dir: &Path) -> (Registry, ConfigErrors) {
    let mut table = kiln_registry::builtin();
    let (found, errors) = discover::discover(&discover::plugin_dirs(Some(template_dir)), required);
    discover::register(&mut table, &found);
    (table, errors)
}

/// [`table`] for a parsed HCL2 template, whose `required_plugins` come
/// from that parse: the errors about them (a plugin required twice, one
/// not installed) come first.
pub fn hcl_table(t: &HclTemplate) -> (Registry, ConfigErrors) {
    let Requirements {
        external,
        mut errors,
        ..
    } = Requirements::of(t);
    let (table, e) = table(&external, &t.dir);
    errors.0.extend(e.0);
    (table, errors)
}

fn describe(f: &discover::Found) -> String {
    let mut parts = Vec::new();
    for kind in [
        Kind::Builder,
        Kind::Provisioner,
        Kind::PostProcessor,
        Kind::DataSource,
    ] {
        let names: Vec<&str> = f
            .components
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, n)| n.as_str())
            .collect();
        if !names.is_empty() {
            parts.push(format!("{}: {}", kind.as_str(), names.join(", ")));
        }
    }
    let flavor = match f.flavor {
        discover::Flavor::Kiln => "kiln plugin",
        discover::Flavor::PackerSingle(_) => "Packer 1.6 plugin",
        discover::Flavor::PackerSdk => "Packer SDK plugin",
    };
    let version = f
        .version
        .as_deref()
        .map(|v| format!(" v{v}"))
        .unwrap_or_default();
    let mut s = format!("{}\n    {flavor}{version}", f.path.display());
    if let Some(src) = &f.source {
        s.push_str(&format!(", source {src}"));
    }
    for p in parts {
        s.push_str(&format!("\n    {p}"));
    }
    if let Some(problem) = &f.problem {
        s.push_str(&format!("\n    unusable: {problem}"));
    }
    s
}

/// Runs `kiln plugins …`.
pub fn run(args: Vec<String>) -> u8 {
    let Some(sub) = args.first().map(String::as_str) else {
        eprint!("{USAGE}");
        return 1;
    };
    let rest = &args[1..];
    match sub {
        "-h" | "-help" | "--help" => {
            print!("{USAGE}");
            0
        }
        "installed" => {
            let (found, _) = discover::discover(&discover::plugin_dirs(None), &[]);
            for f in &found {
                println!("{}", describe(f));
            }
            0
        }
        "install" => {
            let flags = [crate::cli::Flag::new("path", crate::cli::Kind::Value)];
            let p = match crate::cli::parse(rest, &flags) {
                Ok(p) => p,
                Err(e) => return super::common::usage_error(&e, USAGE),
            };
            let (Some(path), [source]) = (p.value("path"), p.args.as_slice()) else {
                return super::common::usage_error(
                    "`kiln plugins install` needs `--path BINARY` and one SOURCE (installing from the network is not supported; use `kiln init` with a mirror)",
                    USAGE,
                );
            };
            let Some(dest) = kiln_plugin::install::install_dir() else {
                eprintln!("error: no plugin directory: set KILN_PLUGIN_PATH or HOME");
                return 1;
            };
            match kiln_plugin::install::install_path(Path::new(path), source, &dest) {
                Ok(p) => {
                    println!("Installed plugin {source} at {}", p.display());
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    1
                }
            }
        }
        "remove" => {
            let (source, version) = match rest {
                [s] => (s, None),
                [s, v] => (s, Some(v.as_str())),
                _ => {
                    return super::common::usage_error(
                        "`kiln plugins remove` needs SOURCE [VERSION]",
                        USAGE,
                    )
                }
            };
            let Some(dest) = kiln_plugin::install::install_dir() else {
                eprintln!("error: no plugin directory: set KILN_PLUGIN_PATH or HOME");
                return 1;
            };
            match kiln_plugin::install::remove(&dest, source, version) {
                Ok(removed) => {
                    for p in removed {
                        println!("Removed {}", p.display());
                    }
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    1
                }
            }
        }
        "required" => {
            let [template] = rest else {
                return super::common::usage_error(
                    "`kiln plugins required` needs one TEMPLATE",
                    USAGE,
                );
            };
            let path = Path::new(template);
            let Requirements {
                builtin,
                external: req,
                mut parse_errors,
                errors,
                sensitive_inputs,
            } = requirements(path);
            parse_errors.0.extend(errors.0);
            if !parse_errors.is_empty() {
                eprint!(
                    "{}",
                    super::common::render_parse_errors(&parse_errors, &sensitive_inputs)
                );
                return 1;
            }
            for b in &builtin {
                println!("{} {} ({}): built into kiln", b.name, b.source, b.version);
            }
            let dir = template_dir(path);
            let (found, _) = discover::discover(&discover::plugin_dirs(Some(&dir)), &[]);
            let mut missing = false;
            for r in &req {
                let constraint = if r.version.is_empty() {
                    "any version".to_string()
                } else {
                    r.version.clone()
                };
                match discover::candidates(&found, r).first() {
                    Some(f) => println!(
                        "{} {} ({constraint}): v{} at {}",
                        r.name,
                        r.source,
                        f.version.clone().unwrap_or_default(),
                        f.path.display()
                    ),
                    None => {
                        missing = true;
                        println!("{} {} ({constraint}): not installed", r.name, r.source)
                    }
                }
            }
            u8::from(missing)
        }
        other => {
            let subs = ["installed", "install", "remove", "required"];
            let hint = kiln_sdk::config::did_you_mean(other, subs)
                .map(|c| format!("\n  hint: did you mean `kiln plugins {c}`?"))
                .unwrap_or_default();
            eprintln!("error: unknown subcommand `{other}`{hint}\n");
            eprint!("{USAGE}");
            1
        }
    }
}

/// The directory of a template path (a directory template is its own).
pub fn template_dir(path: &Path) -> std::path::PathBuf {
    let p = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let p = if p.as_os_str().is_empty() {
        Path::new(".").to_path_buf()
    } else {
        p
    };
    std::path::absolute(&p).unwrap_or(p)
}

#[cfg(test)]
mod tests {
    /// Every built-in builder belongs to Packer's core (`file`, `null`) or
    /// to a plugin listed in `BUILTIN_PLUGINS`, so a template requiring
    /// that plugin is satisfied by kiln: a new builder family must add its
    /// plugin there.
    #[test]
    fn every_builtin_builder_family_is_a_builtin_plugin() {
        const PACKER_CORE: &[&str] = &["file", "null"];
        let plugins = kiln_template::hcl::types_packer::BUILTIN_PLUGINS;
        for name in kiln_registry::builtin().builder_names() {
            let family = name.split('-').next().unwrap_or(name);
            assert!(
                PACKER_CORE.contains(&family) || plugins.contains(&family),
                "builder `{name}`: add `{family}` to BUILTIN_PLUGINS"
            );
        }
    }
}
