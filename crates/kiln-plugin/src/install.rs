//! Installing plugins: `kiln init` from a local mirror directory or a
//! `file://` mirror (checked against the release's `SHA256SUMS`), and
//! `kiln plugins install --path` / `remove`. Writes the installed layout
//! `<dir>/<source>/<binary>` plus `<binary>_SHA256SUM`, through a temporary
//! file renamed into place, so a failed install leaves nothing behind.
//!
//! A mirror holds, for each source, `<mirror>/<source>/` with release
//! files as published: the binaries (`kiln-plugin-NAME_vX.Y.Z_<os>_<arch>`
//! or `packer-plugin-NAME_vX.Y.Z_x5.0_<os>_<arch>`), or those binaries
//! zipped as Packer's releases are (`…_<os>_<arch>.zip`, holding the binary
//! under the same name without `.zip`), and
//! `<prefix>-NAME_vX.Y.Z_SHA256SUMS` (lines of `<sha256>  <file>`, the
//! checksum of the file as published: the zip for a zip). The zip is
//! checked before anything is extracted; the extracted binary gets its own
//! `_SHA256SUM` file.

use std::path::{Path, PathBuf};

use crate::discover::{os_arch, parse_installed_name, sha256_file, InstalledName, Required};
use crate::host::PluginBinary;
use kiln_sdk::version;

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

/// The binaries of plugin `name` for this machine in `dir`, highest
/// version first. With `zips`, release archives (`….zip`) count too; for
/// one version a bare binary comes before its zip.
fn releases_in(dir: &Path, name: &str, zips: bool) -> Vec<(InstalledName, PathBuf)> {
    let (os, arch) = os_arch();
    let mut v: Vec<(InstalledName, PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let file = e.file_name().to_string_lossy().into_owned();
                    let bare = match file.strip_suffix(".zip") {
                        Some(b) if zips => b,
                        Some(_) => return None,
                        None => &file,
                    };
                    let n = parse_installed_name(bare)?;
                    (n.name == name && n.os == os && n.arch == arch).then(|| (n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort_by_key(|(n, p)| {
        (
            std::cmp::Reverse(version::parse(&n.version)),
            p.extension().is_some_and(|x| x == "zip"),
        )
    });
    v
}

/// Installed binaries of plugin `name` in `dir`, highest version first.
fn releases(dir: &Path, name: &str) -> Vec<(InstalledName, PathBuf)> {
    releases_in(dir, name, false)
}

/// Extracts the plugin binary `file` from the release archive `zip` into a
/// temporary file in `dir`. Packer's archives hold the binary under its
/// own name; an archive whose only file is a binary of this plugin is
/// accepted too.
fn extract_zip(
    zip: &Path,
    file: &str,
    prefix: &str,
    dir: &Path,
) -> Result<tempfile::NamedTempFile, InstallError> {
    let bad = |e: zip::result::ZipError| {
        InstallError::Other(format!(
            "`{}` is not a readable zip archive: {e}",
            zip.display()
        ))
    };
    let f = std::fs::File::open(zip).map_err(io("cannot open", zip))?;
    let mut archive = zip::ZipArchive::new(f).map_err(bad)?;
    let mut names: Vec<(usize, String)> = Vec::new();
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(bad)?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().map_err(bad)?.into_owned();
        names.push((i, name));
    }
    let base = |n: &str| n.rsplit('/').next().unwrap_or(n).to_string();
    let index = names
        .iter()
        .find(|(_, n)| base(n) == file)
        .or_else(|| match names.as_slice() {
            [only] if base(&only.1).starts_with(prefix) => Some(only),
            _ => None,
        })
        .map(|(i, _)| *i)
        .ok_or_else(|| {
            InstallError::Other(format!(
                "`{}` does not hold the plugin binary `{file}` (it holds: {})",
                zip.display(),
                if names.is_empty() {
                    "nothing".to_string()
                } else {
                    names
                        .iter()
                        .map(|(_, n)| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ))
        })?;
    std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(io("cannot create a temporary file in", dir))?;
    let mut entry = archive.by_index(index).map_err(bad)?;
    std::io::copy(&mut entry, tmp.as_file_mut()).map_err(|e| {
        InstallError::Other(format!(
            "cannot extract `{file}` from `{}`: {e}",
            zip.display()
        ))
    })?;
    Ok(tmp)
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
    let all = releases_in(&src_dir, &name, true);
    let mut chosen = None;
    for (n, p) in &all {
        if fits(&n.version)? {
            chosen = Some((n.clone(), p.clone()));
            break;
        }
    }
    let Some((n, published)) = chosen else {
        let (os, arch) = os_arch();
        let mut have: Vec<String> = all.iter().map(|(n, _)| n.version.clone()).collect();
        have.dedup();
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
    let published_name = published
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let zipped = published_name.ends_with(".zip");
    let file = published_name
        .strip_suffix(".zip")
        .unwrap_or(&published_name)
        .to_string();
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
        .find(|(_, f)| f.trim().trim_start_matches('*') == published_name)
        .map(|(h, _)| h.trim().to_lowercase())
        .ok_or_else(|| {
            InstallError::Other(format!(
                "`{}` has no checksum for `{published_name}`; refusing to install it",
                sums_path.display()
            ))
        })?;
    let have = sha256_file(&published).map_err(io("cannot read", &published))?;
    if have != want {
        return Err(InstallError::Other(format!(
            "checksum mismatch for `{}`: `{}` says {want}, the file's SHA-256 is {have}; refusing to install it",
            published.display(),
            sums_path.display()
        )));
    }
    let installed = if zipped {
        let tmp = extract_zip(
            &published,
            &file,
            &format!("{prefix}-{}", n.name),
            &target_dir,
        )?;
        let sha = sha256_file(tmp.path()).map_err(io("cannot read", tmp.path()))?;
        place(tmp.path(), &target_dir, &file, &sha)?
    } else {
        place(&published, &target_dir, &file, &have)?
    };
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

#[cfg(test)]
mod tests {
    //! Installing from mirrors of zipped releases, as Packer publishes them.

    use super::*;
    use std::io::Write;

    const SCRIPT: &[u8] = b"#!/bin/sh\necho thing\n";

    fn req(version: &str) -> Required {
        Required {
            name: "thing".into(),
            source: "github.com/acme/thing".into(),
            version: version.into(),
            location: None,
        }
    }

    /// A mirror with `packer-plugin-thing` v1.2.0 as a zip holding
    /// `entry` (SCRIPT), and a SHA256SUMS file listing the zip.
    fn zip_mirror(root: &Path, entry: Option<&str>) -> (PathBuf, String) {
        let (os, arch) = os_arch();
        let src = root.join("mirror/github.com/acme/thing");
        std::fs::create_dir_all(&src).unwrap();
        let bin = format!("packer-plugin-thing_v1.2.0_x5.0_{os}_{arch}");
        let zip_path = src.join(format!("{bin}.zip"));
        let mut w = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o755);
        w.start_file(entry.unwrap_or(&bin), options).unwrap();
        w.write_all(SCRIPT).unwrap();
        w.finish().unwrap();
        let sum = sha256_file(&zip_path).unwrap();
        std::fs::write(
            src.join("packer-plugin-thing_v1.2.0_SHA256SUMS"),
            format!("{sum}  {bin}.zip\n"),
        )
        .unwrap();
        (root.join("mirror"), bin)
    }

    #[test]
    fn installs_the_binary_of_a_zipped_release_after_checking_the_zip() {
        let d = tempfile::tempdir().unwrap();
        let (mirror, bin) = zip_mirror(d.path(), None);
        let dest = d.path().join("plugins");
        let out = install_from_mirror(&mirror, &req(">= 1.0"), &dest, false).unwrap();
        let installed = dest.join("github.com/acme/thing").join(&bin);
        assert_eq!(out, Outcome::Installed(installed.clone(), "1.2.0".into()));
        assert_eq!(std::fs::read(&installed).unwrap(), SCRIPT);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&installed).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        // The sidecar holds the binary's checksum (not the zip's).
        crate::discover::check_sidecar(&installed).unwrap();
        // No leftovers: the binary and its checksum file only.
        let mut names: Vec<String> = std::fs::read_dir(installed.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [bin.clone(), format!("{bin}_SHA256SUM")]);
        // Installed already: nothing to do.
        let again = install_from_mirror(&mirror, &req(">= 1.0"), &dest, false).unwrap();
        assert_eq!(again, Outcome::AlreadyInstalled(installed, "1.2.0".into()));
    }

    #[test]
    fn a_damaged_zip_is_refused_before_extraction() {
        let d = tempfile::tempdir().unwrap();
        let (mirror, bin) = zip_mirror(d.path(), None);
        let zip_path = mirror.join(format!("github.com/acme/thing/{bin}.zip"));
        std::fs::OpenOptions::new()
            .append(true)
            .open(&zip_path)
            .unwrap()
            .write_all(b"tampered")
            .unwrap();
        let dest = d.path().join("plugins");
        let e = install_from_mirror(&mirror, &req(""), &dest, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("checksum mismatch for `{}`", zip_path.display())),
            "{e}"
        );
        assert!(e.ends_with("refusing to install it"), "{e}");
        assert!(!dest.join("github.com/acme/thing").join(&bin).exists());
    }

    #[test]
    fn a_zip_without_the_binary_or_an_unlisted_zip_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let (mirror, bin) = zip_mirror(d.path(), Some("docs/README.md"));
        let dest = d.path().join("plugins");
        let e = install_from_mirror(&mirror, &req(""), &dest, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!(
                "does not hold the plugin binary `{bin}` (it holds: `docs/README.md`)"
            )),
            "{e}"
        );
        assert!(!dest.join("github.com/acme/thing").join(&bin).exists());

        // A checksum for the bare binary does not vouch for the zip.
        let d = tempfile::tempdir().unwrap();
        let (mirror, bin) = zip_mirror(d.path(), None);
        let sums = mirror.join("github.com/acme/thing/packer-plugin-thing_v1.2.0_SHA256SUMS");
        std::fs::write(&sums, format!("{}  {bin}\n", "0".repeat(64))).unwrap();
        let e = install_from_mirror(&mirror, &req(""), &dest, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("has no checksum for `{bin}.zip`")),
            "{e}"
        );
    }
}
