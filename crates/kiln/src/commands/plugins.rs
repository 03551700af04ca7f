//! `kiln plugins installed | install --path BINARY SOURCE | remove SOURCE
//! [VERSION] | required TEMPLATE`, and what every template command shares
//! about plugins: reading a template's `required_plugins`, building the
//! registry of built-ins plus discovered plugin components, and resolving
//! the data source types of a template's `data` blocks to plugins.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use kiln_core::Registry;
use kiln_plugin::discover::{self, Required};
use kiln_plugin::protocol::Kind;
use kiln_sdk::config::ConfigErrors;
use kiln_sdk::DataSourceFactory;
use kiln_template::hcl::types_data::{DataSourceResolver, DataSources, DATA_TYPES};
use kiln_template::hcl::types_packer::{self, RequiredPlugin};

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

/// Reads a template's `required_plugins`.
pub fn requirements(template: &Path) -> Requirements {
    let mut r = Requirements::default();
    if !kiln_template::hcl::is_hcl_path(template) {
        return r;
    }
    let (t, parse_errors) = kiln_template::hcl::parse(template);
    r.parse_errors = parse_errors;
    r.sensitive_inputs = t.inputs.sensitive_inputs.clone();
    types_packer::check_duplicates(&t.required_plugins, &mut r.errors);
    for p in t.required_plugins {
        if p.builtin().is_some() {
            r.builtin.push(p);
        } else {
            r.external.push(Required {
                name: p.name,
                source: p.source,
                version: p.version,
                location: Some(p.location),
            });
        }
    }
    r
}

/// The `required_plugins` entries to discover (not built in), and the
/// errors about them outside the parse phase.
pub fn required(template: &Path) -> (Vec<Required>, ConfigErrors) {
    let r = requirements(template);
    (r.external, r.errors)
}

/// What plugin discovery found for a template, and the errors about its
/// required plugins.
type Discovered = Arc<(Vec<discover::Found>, ConfigErrors)>;

/// The plugins `template` (in `template_dir`) can use, discovered once per
/// process: evaluating its `data` blocks and building its registry share
/// one discovery, so each plugin's `describe` runs once.
fn discovered(template: &Path, template_dir: &Path) -> Discovered {
    static CACHE: Mutex<Vec<((PathBuf, PathBuf), Discovered)>> = Mutex::new(Vec::new());
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let key = (canonical(template), canonical(template_dir));
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, d)) = cache.iter().find(|(k, _)| *k == key) {
        return d.clone();
    }
    let (req, mut errors) = required(template);
    let dirs = discover::plugin_dirs(Some(template_dir));
    let (found, e) = discover::discover(&dirs, &req);
    errors.0.extend(e.0);
    let d: Discovered = Arc::new((found, errors));
    cache.push((key, d.clone()));
    d
}

/// The built-ins plus every discovered plugin component (built-ins win a
/// name clash), and the errors about required plugins.
pub fn registry(template: &Path, template_dir: &Path) -> (Registry, ConfigErrors) {
    let mut registry = kiln_registry::builtin();
    let d = discovered(template, template_dir);
    let (found, errors) = (&d.0, d.1.clone());
    let b = registry.builder_names();
    let p = registry.provisioner_names();
    let pp = registry.post_processor_names();
    let taken = |k: Kind, n: &str| match k {
        Kind::Builder => b.contains(&n),
        Kind::Provisioner => p.contains(&n),
        Kind::PostProcessor => pp.contains(&n),
        Kind::DataSource => DATA_TYPES.contains(&n),
    };
    let f = discover::factories(found, &taken);
    registry.builders.extend(f.builders);
    registry.provisioners.extend(f.provisioners);
    registry.post_processors.extend(f.post_processors);
    (registry, errors)
}

/// The data sources of the plugins a template can use, for evaluating its
/// `data` blocks. Discovery (which runs each plugin's `describe`) happens
/// once, and only when the template uses a data source type kiln does not
/// read itself, and is shared with [`registry`], which reports the
/// problems with `required_plugins`.
struct PluginDataSources {
    template: PathBuf,
    template_dir: PathBuf,
    factories: OnceLock<Vec<Box<dyn DataSourceFactory>>>,
}

impl PluginDataSources {
    fn factories(&self) -> &[Box<dyn DataSourceFactory>] {
        self.factories.get_or_init(|| {
            let d = discovered(&self.template, &self.template_dir);
            let taken = |k: Kind, n: &str| k != Kind::DataSource || DATA_TYPES.contains(&n);
            discover::factories(&d.0, &taken).data_sources
        })
    }
}

impl DataSourceResolver for PluginDataSources {
    fn factory(&self, ty: &str) -> Option<&dyn DataSourceFactory> {
        self.factories()
            .iter()
            .find(|f| f.name() == ty)
            .map(|f| f.as_ref())
    }
    fn types(&self) -> Vec<String> {
        self.factories()
            .iter()
            .map(|f| f.name().to_string())
            .collect()
    }
}

/// What evaluates the `data` blocks of `template` (in `template_dir`):
/// the built-in types, then the data sources of discovered plugins.
pub fn data_sources(template: &Path, template_dir: &Path) -> DataSources {
    DataSources::new(PluginDataSources {
        template: template.to_path_buf(),
        template_dir: template_dir.to_path_buf(),
        factories: OnceLock::new(),
    })
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
