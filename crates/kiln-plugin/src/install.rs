//! Installing plugins: `kiln init` from a local mirror directory or a
//! `file://` mirror (checked against the release's `SHA256SUMS`), and
//! `kiln plugins install --path` / `remove`. Writes the installed layout
//! `<dir>/<source>/<binary>` plus `<binary>_SHA256SUM`, through a temporary
//! file renamed into place, so a failed install leaves nothing behind.
//!
//! A mirror holds, for each source, `<mirror>/<source>/` with release
//! files as published: the binaries (`kiln-plugin-NAME_vX.Y.Z_<os>_<arch>`
//! or `packer-plugin-NAME_vX.Y.Z_x5.0_<os>_<arch>`) and
//! `<prefix>-NAME_vX.Y.Z_SHA256SUMS` (lines of `<sha256>  <file>`).

use std::path::{Path, PathBuf};

use crate::discover::{os_arch, parse_installed_name, sha256_file, InstalledName, Required};
use crate::host::PluginBinary;
use crate::version;

/// Why an install failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A file could not be read or written.
    #[error("{what} `{path}`: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Anything else, already worded.
    #[error("{0}")]
    Other(String),
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> InstallError + 'a {
    move |source| InstallError::Io {
        what,
        path: path.display().to_string(),
        source,
    }
}

/// Where installs go: the first `KILN_PLUGIN_PATH` entry, else the default
/// directory.
pub fn install_dir() -> Option<PathBuf> {
    std::env::var_os("KILN_PLUGIN_PATH")
        .and_then(|p| std::env::split_paths(&p).find(|p| !p.as_os_str().is_empty()))
        .or_else(crate::discover::default_dir)
}

/// Turns `file:///x` or `/x` into a directory path.
pub fn mirror_path(mirror: &str) -> Result<PathBuf, InstallError> {
    if let Some(p) = mirror.strip_prefix("file://") {
        return Ok(PathBuf::from(p));
    }
    if mirror.contains("://") {
        return Err(InstallError::Other(format!(
            "mirror `{mirror}` is not supported: kiln installs from a local directory or a `file://` URL"
        )));
    }
    Ok(PathBuf::from(mirror))
}

/// The outcome of installing one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Newly installed at this path.
    Installed(PathBuf, String),
    /// A fitting version was already installed at this path.
    AlreadyInstalled(PathBuf, String),
}

/// The plugin's name from a source (`github.com/org/packer-plugin-x` → `x`).
pub fn source_name(source: &str) -> String {
    let last = source
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(source);
    last.trim_start_matches("packer-plugin-")
        .trim_start_matches("kiln-plugin-")
        .to_string()
}

fn releases(dir: &Path, name: &str) -> Vec<(InstalledName, PathBuf)> {
    let (os, arch) = os_arch();
    let mut v: Vec<(InstalledName, PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let file = e.file_name().to_string_lossy().into_owned();
                    let n = parse_installed_name(&file)?;
                    (n.name == name && n.os == os && n.arch == arch).then(|| (n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort_by_key(|(n, _)| std::cmp::Reverse(version::parse(&n.version)));
    v
}

/// Installs `req` from `mirror` into `dest` (unless a fitting version is
/// installed there and `upgrade` is false).
pub fn install_from_mirror(
    mirror: &Path,
    req: &Required,
    dest: &Path,
    upgrade: bool,
) -> Result<Outcome, InstallError> {
    let name = source_name(&req.source);
    let fits = |v: &str| version::satisfies(v, &req.version).map_err(InstallError::Other);
    let target_dir = dest.join(&req.source);
    if !upgrade {
        for (n, p) in releases(&target_dir, &name) {
            if fits(&n.version)? && crate::discover::check_sidecar(&p).is_ok() {
                return Ok(Outcome::AlreadyInstalled(p, n.version));
            }
        }
    }
    let src_dir = mirror.join(&req.source);
    let all = releases(&src_dir, &name);
    let mut chosen = None;
    for (n, p) in &all {
        if fits(&n.version)? {
            chosen = Some((n.clone(), p.clone()));
            break;
        }
    }
    let Some((n, bin)) = chosen else {
        let (os, arch) = os_arch();
        let have: Vec<String> = all.iter().map(|(n, _)| n.version.clone()).collect();
        return Err(InstallError::Other(format!(
            "no release of `{}` in `{}` fits `{}` for {os}/{arch}{}",
            req.source,
            src_dir.display(),
            if req.version.is_empty() {
                "any version"
            } else {
                &req.version
            },
            if have.is_empty() {
                String::new()
            } else {
                format!(" (found: {})", have.join(", "))
            }
        )));
    };
    let file = bin
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = if n.kiln {
        "kiln-plugin"
    } else {
        "packer-plugin"
    };
    let sums_path = src_dir.join(format!("{prefix}-{}_v{}_SHA256SUMS", n.name, n.version));
    let sums = std::fs::read_to_string(&sums_path)
        .map_err(io("cannot read the checksums file", &sums_path))?;
    let want = sums
        .lines()
        .filter_map(|l| l.split_once(char::is_whitespace))
        .find(|(_, f)| {
            let f = f.trim().trim_start_matches('*');
            f == file || f == format!("{file}.zip")
        })
        .map(|(h, _)| h.trim().to_lowercase())
        .ok_or_else(|| {
            InstallError::Other(format!(
                "`{}` has no checksum for `{file}`; refusing to install it",
                sums_path.display()
            ))
        })?;
    let have = sha256_file(&bin).map_err(io("cannot read", &bin))?;
    if have != want {
        return Err(InstallError::Other(format!(
            "checksum mismatch for `{}`: `{}` says {want}, the file's SHA-256 is {have}; refusing to install it",
            bin.display(),
            sums_path.display()
        )));
    }
    let installed = place(&bin, &target_dir, &file, &have)?;
    if n.kiln {
        verify_kiln(&installed, &n.version)?;
    }
    Ok(Outcome::Installed(installed, n.version))
}

fn place(bin: &Path, dir: &Path, file: &str, sha: &str) -> Result<PathBuf, InstallError> {
    std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    let target = dir.join(file);
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(io("cannot create a temporary file in", dir))?;
    std::fs::copy(bin, tmp.path()).map_err(io("cannot copy", bin))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(io("cannot make executable", tmp.path()))?;
    }
    // Check what was written, then move it into place.
    let written = sha256_file(tmp.path()).map_err(io("cannot read", tmp.path()))?;
    if written != sha {
        return Err(InstallError::Other(format!(
            "`{}` changed while it was being copied; try again",
            bin.display()
        )));
    }
    let side = dir.join(format!("{file}_SHA256SUM"));
    tmp.persist(&target).map_err(|e| InstallError::Io {
        what: "cannot write",
        path: target.display().to_string(),
        source: e.error,
    })?;
    std::fs::write(&side, format!("{sha}\n")).map_err(io("cannot write", &side))?;
    Ok(target)
}

fn verify_kiln(path: &Path, version: &str) -> Result<(), InstallError> {
    let bin = PluginBinary {
        path: path.to_path_buf(),
        name: path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let d = bin
        .describe()
        .map_err(|e| InstallError::Other(e.to_string()));
    let d = match d {
        Ok(d) => d,
        Err(e) => {
            remove_binary(path);
            return Err(e);
        }
    };
    if version::parse(&d.version) != version::parse(version) {
        remove_binary(path);
        return Err(InstallError::Other(format!(
            "`{}` is named version {version} but describes itself as version {}; not installed",
            path.display(),
            d.version
        )));
    }
    Ok(())
}

fn remove_binary(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(format!("{}_SHA256SUM", path.display()));
}

/// `kiln plugins install --path BINARY SOURCE`: asks the binary what it is
/// (`describe`) and installs it under `dest`.
pub fn install_path(bin: &Path, source: &str, dest: &Path) -> Result<PathBuf, InstallError> {
    if source.split('/').filter(|s| !s.is_empty()).count() < 3 {
        return Err(InstallError::Other(format!(
            "`{source}` is not a plugin source: expected `HOST/ORG/NAME`, such as `github.com/acme/example`"
        )));
    }
    let out = std::process::Command::new(bin)
        .arg("describe")
        .env(crate::protocol::MAGIC_ENV, crate::protocol::MAGIC_VALUE)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(io("cannot run", bin))?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|_| {
        InstallError::Other(format!(
            "`{}` is not a plugin: `{} describe` did not print a description",
            bin.display(),
            bin.display()
        ))
    })?;
    let version = v["version"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('v')
        .to_string();
    if version::parse(&version).is_none() {
        return Err(InstallError::Other(format!(
            "`{}` describes itself with version `{version}`, which is not a version",
            bin.display()
        )));
    }
    let name = source_name(source);
    let (os, arch) = os_arch();
    let file = if v.get("protocol_min").is_some() {
        format!("kiln-plugin-{name}_v{version}_{os}_{arch}")
    } else {
        let api = v["api_version"].as_str().unwrap_or("x5.0");
        format!("packer-plugin-{name}_v{version}_{api}_{os}_{arch}")
    };
    let sha = sha256_file(bin).map_err(io("cannot read", bin))?;
    place(bin, &dest.join(source), &file, &sha)
}

/// `kiln plugins remove SOURCE [VERSION]`: removes the installed binaries
/// of `source` (all versions, or one) and their checksum files.
pub fn remove(dest: &Path, source: &str, only: Option<&str>) -> Result<Vec<PathBuf>, InstallError> {
    let dir = dest.join(source);
    let name = source_name(source);
    let mut removed = Vec::new();
    for (n, p) in releases(&dir, &name) {
        if only.is_some_and(|v| version::parse(v) != version::parse(&n.version)) {
            continue;
        }
        std::fs::remove_file(&p).map_err(io("cannot remove", &p))?;
        let _ = std::fs::remove_file(format!("{}_SHA256SUM", p.display()));
        removed.push(p);
    }
    if removed.is_empty() {
        return Err(InstallError::Other(format!(
            "no installed plugin `{source}`{} in `{}`",
            only.map(|v| format!(" version {v}")).unwrap_or_default(),
            dest.display()
        )));
    }
    Ok(removed)
}
