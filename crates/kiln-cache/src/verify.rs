//! Reading an entry back and checking it against its metadata: what `get`
//! (with hashes), `peek` and `list` (sizes only) and `commit` (to decide
//! whether an existing entry may be kept) run. Also the walk that records a
//! staging directory's files.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{Meta, META_FILE, META_TMP, META_VERSION, USE_FILE};

/// How far [`inspect`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// The metadata, and every listed file's presence and size.
    Sizes,
    /// And every listed file's sha256.
    Hashes,
}

/// A regular file found under a directory.
#[derive(Debug)]
pub(crate) struct Found {
    /// Relative, with `/` between components.
    pub(crate) rel: String,
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
}

/// Why a walk failed.
#[derive(Debug)]
pub(crate) enum WalkError {
    Io(PathBuf, io::Error),
    NotUtf8(PathBuf),
    NotRegular(PathBuf),
}

impl WalkError {
    fn reason(&self, dir: &Path) -> String {
        let rel = |p: &Path| p.strip_prefix(dir).unwrap_or(p).display().to_string();
        match self {
            WalkError::Io(p, e) => format!("cannot read `{}`: {e}", p.display()),
            WalkError::NotUtf8(p) => format!("the name of `{}` is not UTF-8", rel(p)),
            WalkError::NotRegular(p) => format!("`{}` is not a regular file or directory", rel(p)),
        }
    }
}

/// Every regular file under `dir`, sorted by relative path, leaving out the
/// cache's own files at the top (`meta.json`, `meta.json.tmp`, `.use`).
/// Symlinks and other special files are errors: the cache records and
/// verifies only regular files, so it refuses what it could not restore.
pub(crate) fn walk(dir: &Path) -> Result<Vec<Found>, WalkError> {
    let mut out = Vec::new();
    walk_into(dir, "", &mut out)?;
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

fn walk_into(dir: &Path, prefix: &str, out: &mut Vec<Found>) -> Result<(), WalkError> {
    let entries = fs::read_dir(dir).map_err(|e| WalkError::Io(dir.to_path_buf(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| WalkError::Io(dir.to_path_buf(), e))?;
        let path = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| WalkError::NotUtf8(path.clone()))?;
        if prefix.is_empty() && is_reserved(&name) {
            continue;
        }
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let meta = fs::symlink_metadata(&path).map_err(|e| WalkError::Io(path.clone(), e))?;
        if meta.is_dir() {
            walk_into(&path, &rel, out)?;
        } else if meta.is_file() {
            out.push(Found {
                rel,
                path,
                size: meta.len(),
            });
        } else {
            return Err(WalkError::NotRegular(path));
        }
    }
    Ok(())
}

/// Whether `name`, at the top of an entry, is one of the cache's own files.
pub(crate) fn is_reserved(name: &str) -> bool {
    name == META_FILE || name == META_TMP || name == USE_FILE
}

/// The bytes of the regular files under `path` (or of `path` itself),
/// counting what can be read: for entries that cannot be trusted.
pub(crate) fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    if !meta.is_dir() {
        return 0;
    }
    let Ok(entries) = fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| dir_size(&e.path()))
        .fold(0u64, u64::saturating_add)
}

/// The sha256 of a file in lowercase hex, and how many bytes it hashed.
pub(crate) fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// Whether a recorded path is a plain relative path that stays inside the
/// entry and is not one of the cache's own files.
fn path_is_sound(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.contains('\0')
        && !is_reserved(rel)
        && rel
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Reads the entry at `dir` and checks it is the checkpoint `key`:
/// `Ok(None)` when there is nothing at `dir`, `Err(reason)` when the entry
/// cannot be used. Checks, in order: `dir` is a directory; `meta.json`
/// exists, parses, is version [`META_VERSION`] and names `key`; its file
/// paths are sound and distinct; the directory holds exactly the listed
/// files, each with its recorded size; and with [`Check::Hashes`], each
/// file's sha256.
pub(crate) fn inspect(dir: &Path, key: &str, check: Check) -> Result<Option<Meta>, String> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err("it is not a directory".into()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read `{}`: {e}", dir.display())),
    }
    let meta_path = dir.join(META_FILE);
    let text = match fs::read(&meta_path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err("no metadata: the checkpoint was not finished".into())
        }
        Err(e) => return Err(format!("cannot read `{}`: {e}", meta_path.display())),
    };
    let meta: Meta = serde_json::from_slice(&text)
        .map_err(|e| format!("the metadata `{}` does not parse: {e}", meta_path.display()))?;
    if meta.version != META_VERSION {
        return Err(format!(
            "the metadata is version {}, this kiln reads version {META_VERSION}",
            meta.version
        ));
    }
    if meta.key != key {
        return Err(format!("the metadata is for the checkpoint `{}`", meta.key));
    }
    let mut listed = BTreeSet::new();
    for file in &meta.files {
        if !path_is_sound(&file.path) {
            return Err(format!(
                "the metadata lists the unsound path `{}`",
                file.path
            ));
        }
        if !listed.insert(file.path.as_str()) {
            return Err(format!("the metadata lists `{}` twice", file.path));
        }
    }
    let found = walk(dir).map_err(|e| e.reason(dir))?;
    let mut present = BTreeMap::new();
    for f in &found {
        if !listed.contains(f.rel.as_str()) {
            return Err(format!("the file `{}` is not in the metadata", f.rel));
        }
        present.insert(f.rel.as_str(), f.size);
    }
    for file in &meta.files {
        if !present.contains_key(file.path.as_str()) {
            return Err(format!("the file `{}` is missing", file.path));
        }
    }
    for file in &meta.files {
        let path = dir.join(&file.path);
        let size = present.get(file.path.as_str()).copied().unwrap_or(0);
        if size != file.size {
            return Err(format!(
                "the file `{}` has {size} bytes, the metadata says {}",
                file.path, file.size
            ));
        }
        if check == Check::Hashes {
            let (sha, _) =
                sha256_file(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            if sha != file.sha256 {
                return Err(format!(
                    "the file `{}` does not match its recorded sha256 (it changed after it was saved)",
                    file.path
                ));
            }
        }
    }
    Ok(Some(meta))
}
