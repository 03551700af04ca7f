//! Plugin discovery: which directories kiln searches, in which order, how
//! it recognises kiln plugins and Packer plugins there, and the component
//! factories it registers for them. Reads directories and runs each kiln
//! or SDK-era Packer plugin's `describe`; starts nothing else (components
//! start their processes when prepared). [`register`] adds what it finds
//! to the one table of components ([`Registry`]). Stores nothing between
//! runs.
//!
//! Directories, first match wins for a component name:
//! 1. each entry of `KILN_PLUGIN_PATH` (`:`-separated);
//! 2. the template's directory;
//! 3. the default directory, `$KILN_PLUGIN_DIR`, else
//!    `$XDG_DATA_HOME/kiln/plugins`, else `~/.local/share/kiln/plugins`
//!    (where `kiln init` and `kiln plugins install` put plugins);
//! 4. Packer's: each entry of `PACKER_PLUGIN_PATH`, then
//!    `~/.packer.d/plugins`.
//!
//! In each directory: `kiln-plugin-NAME` (a kiln plugin; its `describe`
//! names its components), `packer-builder-NAME`, `packer-provisioner-NAME`
//! and `packer-post-processor-NAME` (Packer 1.6.6 single-component
//! plugins, component `NAME`), and, anywhere below it, the installed
//! layouts `<source>/kiln-plugin-NAME_vX.Y.Z_<os>_<arch>` and
//! `<source>/packer-plugin-NAME_vX.Y.Z_x5.0_<os>_<arch>`, each with its
//! `_SHA256SUM` file (checked).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kiln_sdk::config::{ConfigError, ConfigErrors, RawConfig};
use kiln_sdk::ui::Ui;
use kiln_sdk::{
    BuilderFactory, DataSourceFactory, PostProcessorFactory, ProvisionerFactory, Registry,
};
use serde::Deserialize;
use sha2::Digest;

use crate::host::{PluginBinary, PluginComponent};
use crate::protocol::{self, Kind, PROTOCOL_MAX, PROTOCOL_MIN};
use kiln_sdk::version;

/// Packer's name for a plugin's unnamed component.
pub const PACKER_DEFAULT_NAME: &str = "-packer-default-plugin-name-";

/// Where a plugin directory comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `KILN_PLUGIN_PATH`.
    KilnPluginPath,
    /// The template's directory.
    TemplateDir,
    /// kiln's default directory.
    Default,
    /// `PACKER_PLUGIN_PATH` or `~/.packer.d/plugins`.
    Packer,
}

/// One directory to search.
#[derive(Debug, Clone)]
pub struct PluginDir {
    /// The directory.
    pub path: PathBuf,
    /// Why it is searched.
    pub origin: Origin,
}

/// kiln's default plugin directory.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("KILN_PLUGIN_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d).join("kiln/plugins"));
    }
    std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .map(|h| PathBuf::from(h).join(".local/share/kiln/plugins"))
}

/// The directories to search, in precedence order.
pub fn plugin_dirs(template_dir: Option<&Path>) -> Vec<PluginDir> {
    let mut v = Vec::new();
    let split = |var: &str| -> Vec<PathBuf> {
        std::env::var_os(var)
            .map(|p| {
                std::env::split_paths(&p)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    for p in split("KILN_PLUGIN_PATH") {
        v.push(PluginDir {
            path: p,
            origin: Origin::KilnPluginPath,
        });
    }
    if let Some(t) = template_dir {
        v.push(PluginDir {
            path: t.to_path_buf(),
            origin: Origin::TemplateDir,
        });
    }
    if let Some(d) = default_dir() {
        v.push(PluginDir {
            path: d,
            origin: Origin::Default,
        });
    }
    for p in split("PACKER_PLUGIN_PATH") {
        v.push(PluginDir {
            path: p,
            origin: Origin::Packer,
        });
    }
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        v.push(PluginDir {
            path: PathBuf::from(h).join(".packer.d/plugins"),
            origin: Origin::Packer,
        });
    }
    // The same directory twice (template dir = a KILN_PLUGIN_PATH entry)
    // is searched once.
    let mut seen = Vec::new();
    v.retain(|d| {
        let key = std::fs::canonicalize(&d.path).unwrap_or_else(|_| d.path.clone());
        if seen.contains(&key) {
            false
        } else {
            seen.push(key);
            true
        }
    });
    v
}

/// What kind of plugin a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flavor {
    /// A kiln plugin.
    Kiln,
    /// A Packer 1.6.6 single-component binary serving one component.
    PackerSingle(Kind),
    /// An SDK-era multi-component Packer plugin (`start builder TYPE`).
    PackerSdk,
}

/// A plugin found on disk.
#[derive(Debug, Clone)]
pub struct Found {
    /// The executable.
    pub path: PathBuf,
    /// Its kind.
    pub flavor: Flavor,
    /// The plugin's short name.
    pub name: String,
    /// For installed plugins: the source (`github.com/org/name`).
    pub source: Option<String>,
    /// For installed plugins: the version from the file name (`1.2.3`).
    pub version: Option<String>,
    /// The directory it was found in.
    pub dir: PathBuf,
    /// Why the directory was searched.
    pub origin: Origin,
    /// Its components, by kind, as registered.
    pub components: Vec<(Kind, String)>,
    /// Why it cannot be used (bad checksum, failed `describe`, protocol
    /// mismatch); its components then fail with this message when used.
    pub problem: Option<String>,
}

impl Found {
    /// A short label: `name vX.Y.Z` or the file name.
    pub fn label(&self) -> String {
        match &self.version {
            Some(v) => format!("{} v{v}", self.name),
            None => self.file_name(),
        }
    }
    /// The executable's file name.
    pub fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// True for a regular file with an execute bit.
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Go's name for this machine's OS and architecture (`linux`, `amd64`).
pub fn os_arch() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    (std::env::consts::OS, arch)
}

/// The parts of an installed plugin's file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledName {
    /// kiln or Packer.
    pub kiln: bool,
    /// The plugin's name.
    pub name: String,
    /// Its version, without `v`.
    pub version: String,
    /// For Packer: the API version (`x5.0`).
    pub api: Option<String>,
    /// OS.
    pub os: String,
    /// Architecture.
    pub arch: String,
}

/// Parses `kiln-plugin-NAME_vX.Y.Z_<os>_<arch>` or
/// `packer-plugin-NAME_vX.Y.Z_x5.0_<os>_<arch>`.
pub fn parse_installed_name(file: &str) -> Option<InstalledName> {
    let (kiln, rest) = if let Some(r) = file.strip_prefix("kiln-plugin-") {
        (true, r)
    } else {
        (false, file.strip_prefix("packer-plugin-")?)
    };
    let parts: Vec<&str> = rest.split('_').collect();
    let (name, ver, api, os, arch) = match (kiln, parts.as_slice()) {
        (true, [n, v, o, a]) => (n, v, None, o, a),
        (false, [n, v, x, o, a]) => (n, v, Some(x.to_string()), o, a),
        _ => return None,
    };
    let version = ver.strip_prefix('v')?;
    version::parse(version)?;
    if name.is_empty() || api.as_deref().is_some_and(|x| !x.starts_with('x')) {
        return None;
    }
    Some(InstalledName {
        kiln,
        name: name.to_string(),
        version: version.to_string(),
        api,
        os: os.to_string(),
        arch: arch.to_string(),
    })
}

/// The hex SHA-256 of a file.
pub fn sha256_file(p: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(p)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Checks an installed binary against its `_SHA256SUM` file.
pub fn check_sidecar(bin: &Path) -> Result<(), String> {
    let side = PathBuf::from(format!("{}_SHA256SUM", bin.display()));
    let want = std::fs::read_to_string(&side)
        .map_err(|e| format!("cannot read its checksum file `{}`: {e}", side.display()))?;
    let want: String = want
        .trim()
        .chars()
        .take(64)
        .collect::<String>()
        .to_lowercase();
    let have = sha256_file(bin).map_err(|e| format!("cannot read it: {e}"))?;
    if want != have {
        return Err(format!(
            "its SHA-256 is {have}, but `{}` says {want}: the file was changed or damaged; reinstall it",
            side.display()
        ));
    }
    Ok(())
}

/// Packer's `describe` answer.
#[derive(Debug, Deserialize, Default)]
pub struct PackerDescription {
    /// The plugin's version.
    #[serde(default)]
    pub version: String,
    /// `x5.0`.
    #[serde(default)]
    pub api_version: String,
    /// Builder types.
    #[serde(default)]
    pub builders: Vec<String>,
    /// Provisioner types.
    #[serde(default)]
    pub provisioners: Vec<String>,
    /// Post-processor types.
    #[serde(default)]
    pub post_processors: Vec<String>,
    /// Data source types.
    #[serde(default)]
    pub datasources: Vec<String>,
}

/// Runs a Packer SDK plugin's `describe`.
pub fn packer_describe(bin: &Path) -> Result<PackerDescription, String> {
    let out = std::process::Command::new(bin)
        .arg("describe")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{} describe`: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "`describe` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("its `describe` output is not JSON: {e}"))
}

/// Packer's component name: `NAME-TYPE`, or `NAME` for the default one.
pub fn packer_component_name(plugin: &str, component: &str) -> String {
    if component == PACKER_DEFAULT_NAME {
        plugin.to_string()
    } else {
        format!("{plugin}-{component}")
    }
}

fn describe_kiln(found: &mut Found) {
    let bin = PluginBinary {
        path: found.path.clone(),
        name: found.file_name(),
    };
    match bin.describe() {
        Ok(d) => {
            if protocol::negotiate(
                (PROTOCOL_MIN, PROTOCOL_MAX),
                (d.protocol_min, d.protocol_max),
            )
            .is_none()
            {
                found.problem = Some(protocol::incompatibility(
                    &found.file_name(),
                    (d.protocol_min, d.protocol_max),
                ));
            }
            if let Some(v) = &found.version {
                if version::parse(v) != version::parse(&d.version) {
                    found.problem.get_or_insert(format!(
                        "its file name says version {v}, but it describes itself as version {}",
                        d.version
                    ));
                }
            } else if !d.version.is_empty() {
                found.version = Some(d.version.clone());
            }
            for (k, list) in [
                (Kind::Builder, &d.builders),
                (Kind::Provisioner, &d.provisioners),
                (Kind::PostProcessor, &d.post_processors),
                (Kind::DataSource, &d.data_sources),
            ] {
                found.components.extend(list.iter().map(|n| (k, n.clone())));
            }
        }
        Err(e) => found.problem = Some(e.to_string()),
    }
}

fn describe_packer_sdk(found: &mut Found, api: &str) {
    match packer_describe(&found.path) {
        Ok(d) => {
            if let Some(v) = &found.version {
                if version::parse(v) != version::parse(&d.version) {
                    found.problem = Some(format!(
                        "its file name says version {v}, but it describes itself as version {}",
                        d.version
                    ));
                }
            }
            if !d.api_version.is_empty() && d.api_version != api {
                found.problem.get_or_insert(format!(
                    "its file name says plugin API {api}, but it describes itself as {}",
                    d.api_version
                ));
            }
            if !api.starts_with("x5.") {
                found.problem.get_or_insert(format!(
                    "it speaks Packer plugin API {api}; kiln speaks x5.x"
                ));
            }
            for (k, list) in [
                (Kind::Builder, &d.builders),
                (Kind::Provisioner, &d.provisioners),
                (Kind::PostProcessor, &d.post_processors),
                (Kind::DataSource, &d.datasources),
            ] {
                found.components.extend(
                    list.iter()
                        .map(|c| (k, packer_component_name(&found.name, c))),
                );
            }
        }
        Err(e) => found.problem = Some(e),
    }
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > 16 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, depth + 1, out);
        } else if depth > 0 {
            out.push(p);
        }
    }
}

/// Scans one directory.
pub fn scan_dir(d: &PluginDir) -> Vec<Found> {
    let mut out = Vec::new();
    let base = |path: PathBuf, flavor: Flavor, name: &str| Found {
        path,
        flavor,
        name: name.to_string(),
        source: None,
        version: None,
        dir: d.path.clone(),
        origin: d.origin,
        components: Vec::new(),
        problem: None,
    };
    // Single binaries at the top level.
    if let Ok(rd) = std::fs::read_dir(&d.path) {
        let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for p in files {
            let Some(file) = p.file_name().map(|f| f.to_string_lossy().into_owned()) else {
                continue;
            };
            if !is_executable(&p) || file.contains('_') && parse_installed_name(&file).is_some() {
                continue;
            }
            if let Some(name) = file.strip_prefix("kiln-plugin-") {
                let mut f = base(p.clone(), Flavor::Kiln, name);
                describe_kiln(&mut f);
                out.push(f);
                continue;
            }
            for (prefix, kind) in [
                ("packer-builder-", Kind::Builder),
                ("packer-provisioner-", Kind::Provisioner),
                ("packer-post-processor-", Kind::PostProcessor),
            ] {
                if let Some(name) = file.strip_prefix(prefix) {
                    if !name.is_empty() {
                        let mut f = base(p.clone(), Flavor::PackerSingle(kind), name);
                        f.components.push((kind, name.to_string()));
                        out.push(f);
                    }
                }
            }
        }
    }
    // The installed layout (not under the template's directory, which may
    // be large and holds no installed plugins).
    let (os, arch) = os_arch();
    let mut files = Vec::new();
    if d.origin != Origin::TemplateDir {
        walk(&d.path, 0, &mut files);
    }
    for p in files {
        let Some(file) = p.file_name().map(|f| f.to_string_lossy().into_owned()) else {
            continue;
        };
        if file.ends_with("_SHA256SUM") || file.ends_with("_SHA256SUMS") {
            continue;
        }
        let Some(n) = parse_installed_name(&file) else {
            continue;
        };
        if n.os != os || n.arch != arch || !is_executable(&p) {
            continue;
        }
        let source = p
            .parent()
            .and_then(|parent| parent.strip_prefix(&d.path).ok())
            .map(|s| s.to_string_lossy().into_owned());
        let flavor = if n.kiln {
            Flavor::Kiln
        } else {
            Flavor::PackerSdk
        };
        let mut f = base(p.clone(), flavor, &n.name);
        f.source = source;
        f.version = Some(n.version.clone());
        match check_sidecar(&p) {
            Err(e) => f.problem = Some(e),
            Ok(()) if n.kiln => describe_kiln(&mut f),
            Ok(()) => describe_packer_sdk(&mut f, n.api.as_deref().unwrap_or_default()),
        }
        out.push(f);
    }
    out
}

/// One `required_plugins` entry.
#[derive(Debug, Clone)]
pub struct Required {
    /// The local name (the attribute name).
    pub name: String,
    /// `github.com/org/name`.
    pub source: String,
    /// The version constraint (empty: any).
    pub version: String,
    /// Where the entry is written.
    pub location: Option<kiln_sdk::config::Location>,
}

/// The installed plugins that `req` accepts, best (highest) first.
pub fn candidates<'a>(found: &'a [Found], req: &Required) -> Vec<&'a Found> {
    let mut v: Vec<&Found> = found
        .iter()
        .filter(|f| f.source.as_deref() == Some(req.source.as_str()) && f.problem.is_none())
        .filter(|f| {
            f.version
                .as_deref()
                .is_some_and(|v| version::satisfies(v, &req.version).unwrap_or(false))
        })
        .collect();
    v.sort_by_key(|f| std::cmp::Reverse(f.version.as_deref().and_then(version::parse)));
    v
}

/// Everything found in `dirs`, with required plugins resolved: for each
/// installed source only one version is kept (the highest that meets the
/// template's constraint, else the highest). Errors for required plugins
/// that are not installed.
pub fn discover(dirs: &[PluginDir], required: &[Required]) -> (Vec<Found>, ConfigErrors) {
    let mut all: Vec<Found> = dirs.iter().flat_map(scan_dir).collect();
    let mut errors = ConfigErrors::new();
    let mut chosen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for req in required {
        if let Err(e) = version::satisfies("0.0.0", &req.version) {
            let mut ce = ConfigError::new(e);
            ce.location = req.location.clone();
            errors.push(ce);
            continue;
        }
        match candidates(&all, req).first() {
            Some(f) => {
                chosen.insert(req.source.clone(), f.path.clone());
            }
            None => {
                let installed: Vec<String> = all
                    .iter()
                    .filter(|f| f.source.as_deref() == Some(req.source.as_str()))
                    .map(|f| match &f.problem {
                        Some(p) => format!("{} ({p})", f.version.clone().unwrap_or_default()),
                        None => f.version.clone().unwrap_or_default(),
                    })
                    .collect();
                let constraint = if req.version.is_empty() {
                    String::new()
                } else {
                    format!(" `{}`", req.version)
                };
                let mut ce = ConfigError::new(format!(
                    "plugin `{}` (`{}`{constraint}) is required, but {}",
                    req.name,
                    req.source,
                    if installed.is_empty() {
                        "it is not installed".to_string()
                    } else {
                        format!("the installed versions do not fit: {}", installed.join(", "))
                    }
                ))
                .with_hint("run `kiln init TEMPLATE` to install it, or `kiln plugins install --path BINARY SOURCE`");
                ce.location = req.location.clone();
                errors.push(ce);
            }
        }
    }
    // Keep one version per source: the one a `required_plugins` entry
    // chose, else the highest usable one.
    let mut best: BTreeMap<String, PathBuf> = chosen;
    let mut usable: Vec<&Found> = all
        .iter()
        .filter(|f| f.source.is_some() && f.problem.is_none())
        .collect();
    usable.sort_by_key(|f| std::cmp::Reverse(f.version.as_deref().and_then(version::parse)));
    for f in usable {
        if let Some(s) = &f.source {
            best.entry(s.clone()).or_insert_with(|| f.path.clone());
        }
    }
    all.retain(|f| match &f.source {
        Some(s) => best.get(s).is_none_or(|p| p == &f.path),
        None => true,
    });
    (all, errors)
}

/// The component factories of discovered plugins, by kind.
#[derive(Default)]
struct Factories {
    builders: Vec<Box<dyn BuilderFactory>>,
    provisioners: Vec<Box<dyn ProvisionerFactory>>,
    post_processors: Vec<Box<dyn PostProcessorFactory>>,
    data_sources: Vec<Box<dyn DataSourceFactory>>,
}

impl Factories {
    /// Registers `f` as a component of `kind`.
    fn add<F>(&mut self, kind: Kind, f: F)
    where
        F: BuilderFactory + ProvisionerFactory + PostProcessorFactory + DataSourceFactory + 'static,
    {
        match kind {
            Kind::Builder => self.builders.push(Box::new(f)),
            Kind::Provisioner => self.provisioners.push(Box::new(f)),
            Kind::PostProcessor => self.post_processors.push(Box::new(f)),
            Kind::DataSource => self.data_sources.push(Box::new(f)),
        }
    }
}

/// Adds a factory for every component of `found` to `table` (the one
/// table of components, built-ins first), first plugin first: a name the
/// table already has for that kind (a built-in) and a name an earlier
/// plugin registered are skipped. The data sources of kiln plugins write
/// their UI lines to stderr (see [`register_with_ui`]).
pub fn register(table: &mut Registry, found: &[Found]) {
    add_to(table, found, None)
}

/// [`register`], with the data sources of kiln plugins showing the UI
/// lines they send during `execute` on `data_source_ui`.
pub fn register_with_ui(table: &mut Registry, found: &[Found], data_source_ui: Arc<dyn Ui>) {
    add_to(table, found, Some(data_source_ui))
}

fn add_to(table: &mut Registry, found: &[Found], data_source_ui: Option<Arc<dyn Ui>>) {
    let f = {
        let taken = |k: Kind, n: &str| match k {
            Kind::Builder => table.builder(n).is_some(),
            Kind::Provisioner => table.provisioner(n).is_some(),
            Kind::PostProcessor => table.post_processor(n).is_some(),
            Kind::DataSource => table.data_source(n).is_some(),
        };
        make_factories(found, &taken, data_source_ui)
    };
    table.builders.extend(f.builders);
    table.provisioners.extend(f.provisioners);
    table.post_processors.extend(f.post_processors);
    table.data_sources.extend(f.data_sources);
}

fn make_factories(
    found: &[Found],
    taken: &dyn Fn(Kind, &str) -> bool,
    data_source_ui: Option<Arc<dyn Ui>>,
) -> Factories {
    let mut out = Factories::default();
    let mut seen: Vec<(Kind, String)> = Vec::new();
    for f in found {
        for (kind, name) in &f.components {
            if taken(*kind, name) || seen.contains(&(*kind, name.clone())) {
                continue;
            }
            seen.push((*kind, name.clone()));
            let plugin = PluginBinary {
                path: f.path.clone(),
                name: f.file_name(),
            };
            if let Some(problem) = &f.problem {
                let b = Broken {
                    name: leak(name),
                    message: format!(
                        "{} `{name}` comes from plugin `{}`, which cannot be used: {problem}",
                        kind.as_str(),
                        f.path.display()
                    ),
                };
                out.add(*kind, b);
                continue;
            }
            match (&f.flavor, kind) {
                (Flavor::Kiln, kind) => {
                    let c = PluginComponent::new(name, plugin);
                    match &data_source_ui {
                        Some(ui) => out.add(*kind, c.with_ui(ui.clone())),
                        None => out.add(*kind, c),
                    }
                }
                (_, Kind::DataSource) => out.data_sources.push(Box::new(Broken {
                    name: leak(name),
                    message: format!(
                        "data source `{name}` comes from Packer plugin `{}`, and kiln does not run \
                         the data sources of Packer plugins",
                        f.path.display()
                    ),
                })),
                (flavor, kind) => {
                    let args = match flavor {
                        Flavor::PackerSdk => {
                            let component = f
                                .components
                                .iter()
                                .find(|(k, n)| k == kind && n == name)
                                .map(|(_, n)| {
                                    n.strip_prefix(&format!("{}-", f.name))
                                        .map(String::from)
                                        .unwrap_or_else(|| PACKER_DEFAULT_NAME.to_string())
                                })
                                .unwrap_or_default();
                            let k = match kind {
                                Kind::Builder => "builder",
                                Kind::Provisioner => "provisioner",
                                _ => "post-processor",
                            };
                            vec!["start".to_string(), k.to_string(), component]
                        }
                        _ => Vec::new(),
                    };
                    let go = crate::go::GoComponent {
                        name: leak(name),
                        command: (f.path.clone(), args),
                    };
                    match kind {
                        Kind::Builder => out.builders.push(Box::new(go)),
                        Kind::Provisioner => out.provisioners.push(Box::new(go)),
                        _ => out.post_processors.push(Box::new(go)),
                    }
                }
            }
        }
    }
    out
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// A component of a plugin that cannot be used: preparing it reports why.
struct Broken {
    name: &'static str,
    message: String,
}

impl Broken {
    fn fail<T>(&self, raw: &RawConfig) -> Result<T, ConfigErrors> {
        let mut e = ConfigError::new(self.message.clone());
        e.location = raw.location.clone();
        Err(e.into())
    }
}

crate::impl_factory!(Broken, BuilderFactory => Builder, |self, raw, _| self.fail(raw));
crate::impl_factory!(Broken, ProvisionerFactory => Provisioner, |self, raw, _| self.fail(raw));
crate::impl_factory!(Broken, PostProcessorFactory => PostProcessor, |self, raw, _| self.fail(raw));
crate::impl_factory!(Broken, DataSourceFactory => DataSource, |self, raw, _| self.fail(raw));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_names() {
        let n = parse_installed_name("packer-plugin-amazon_v1.2.3_x5.0_linux_amd64").unwrap();
        assert_eq!(
            (n.name.as_str(), n.version.as_str(), n.api.as_deref()),
            ("amazon", "1.2.3", Some("x5.0"))
        );
        assert!(!n.kiln);
        let n = parse_installed_name("kiln-plugin-example_v0.1.0_linux_amd64").unwrap();
        assert!(n.kiln);
        assert_eq!(n.version, "0.1.0");
        assert!(parse_installed_name("packer-plugin-amazon").is_none());
        assert!(parse_installed_name("kiln-plugin-x_1.0_linux_amd64").is_none());
        assert!(parse_installed_name("packer-plugin-a_v1.0.0_linux_amd64").is_none());
    }

    #[test]
    fn packer_names() {
        assert_eq!(packer_component_name("amazon", "ebs"), "amazon-ebs");
        assert_eq!(
            packer_component_name("amazon", PACKER_DEFAULT_NAME),
            "amazon"
        );
    }
}
