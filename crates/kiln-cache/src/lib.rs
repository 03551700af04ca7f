//! kiln-cache: the on-disk store of `kiln build -incremental` checkpoints.
//!
//! After each provisioner an incremental build saves the machine's state;
//! the next run restores the latest checkpoint whose chain of inputs is
//! unchanged. This crate knows nothing of builders: a checkpoint is a key
//! (a lowercase hex sha256 the caller computes), a directory of files, and
//! a metadata document ([`Meta`]).
//!
//! # Layout
//!
//! ```text
//! <root>/lock                          flock file guarding mutations
//! <root>/checkpoints/<key>/meta.json   the metadata, written last
//! <root>/checkpoints/<key>/<files…>    what the builder saved (nested dirs allowed)
//! <root>/checkpoints/<key>/.use        shared-locked while the entry is read or restored
//! <root>/staging/<uuid>/               a checkpoint being written (or an entry being deleted)
//! <root>/staging/<uuid>.lock           exclusively locked by whoever owns <uuid>/
//! ```
//!
//! A checkpoint is written into a staging directory ([`Cache::begin`]);
//! [`Pending::commit`] records every file's size and sha256 in `meta.json`
//! (written to `meta.json.tmp`, fsynced, renamed), then, under the root
//! lock, renames the staging directory to `checkpoints/<key>`. Readers thus
//! see a whole entry or none. Deleting works the other way round: under the
//! root lock the entry is renamed into `staging/`, and its files are
//! deleted after the lock is released.
//!
//! # Locking
//!
//! Every mutation (commit, remove, prune, clear, and the `last_used` rewrite
//! of [`Cache::get`]) holds an exclusive flock on `<root>/lock`, for short
//! moments: hashing and deleting happen outside it. [`Cache::get`] takes a
//! shared flock on the entry's `.use`, kept by the returned [`Entry`] until
//! it is dropped; `remove`, `prune` and `clear` try an exclusive lock on
//! `.use` without waiting and skip the entry when that fails, so an entry
//! being restored is never deleted under its reader. Each lock opens its own
//! file, so two [`Cache`]s on one root in one process exclude each other as
//! two processes do.
//!
//! Staging directories: each is owned by an exclusive flock on its sibling
//! `<uuid>.lock` (a [`Pending`], or a deletion in progress). `prune` and
//! `clear` delete a staging directory whose lock they can take, that is
//! whose creating process is gone or let it go (the kernel releases a
//! flock when its process dies), and which no reader holds; there is no
//! age limit, so a slow build's checkpoint is never taken from under it.
//!
//! # Verification
//!
//! [`Cache::get`] trusts nothing: `meta.json` must parse, be version
//! [`META_VERSION`] and name the key; the directory must hold exactly the
//! files listed (no file missing, none unlisted, no symlink or special
//! file), each with its recorded size and sha256. A failure is
//! [`CacheError::Corrupt`], which callers treat as a miss; `get` never
//! deletes (`prune` removes entries whose metadata is unusable, and a
//! commit of the same key replaces a corrupt entry). [`Cache::peek`] and
//! [`Cache::list`] check the same but sizes instead of hashes. The files of
//! an entry are read-only for their users: a restore copies them out.
//!
//! Size limits are enforced by [`Cache::prune`], which callers run after a
//! commit; a commit alone never deletes other entries.

mod lock;
mod size;
mod verify;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use lock::{try_exclusive, Hold, RootLock};
use verify::{inspect, Check};

pub use size::{format_size, parse_size};

/// The version of [`Meta`] this crate writes and reads.
pub const META_VERSION: u32 = 1;

/// The size limit when `$KILN_CACHE_MAX_SIZE` is not set: 20 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 20 * 1024 * 1024 * 1024;

/// An entry's metadata document.
const META_FILE: &str = "meta.json";
/// Where the metadata is written before it is renamed into place.
const META_TMP: &str = "meta.json.tmp";
/// The file an entry's readers hold a shared lock on.
const USE_FILE: &str = ".use";
/// How often `get` and `commit` start over when an entry is replaced while
/// they read it.
const ATTEMPTS: usize = 5;

/// Errors of the checkpoint cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// A file operation on the cache itself failed.
    #[error("cannot {op} `{}`: {source}", path.display())]
    Io {
        /// What was being done ("read", "lock", "create the directory"…).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// An entry cannot be used; callers warn and treat it as a miss.
    #[error("checkpoint `{key}` is corrupt: {reason}")]
    Corrupt {
        /// The entry's key.
        key: String,
        /// What failed to check.
        reason: String,
    },
    /// A key that is not a lowercase hex sha256.
    #[error("checkpoint key `{0}` is not a sha256 in lowercase hex (64 characters)")]
    BadKey(String),
    /// A size that [`parse_size`] does not understand; the message quotes
    /// the value and gives the accepted forms.
    #[error("{0}")]
    BadSize(String),
    /// The metadata could not be written.
    #[error("cannot write the metadata `{}`: {source}", path.display())]
    Meta {
        /// The metadata file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A file in a staging directory that the cache cannot record: a
    /// symlink or special file, a name that is not UTF-8, or one of the
    /// cache's own names (`meta.json`, `meta.json.tmp`, `.use`) at the top.
    #[error("cannot save `{}` in a checkpoint: {reason}", path.display())]
    BadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// [`Cache::from_env`] found none of the variables that place the cache.
    #[error("cannot tell where the cache lives: set `KILN_CACHE_DIR`, `XDG_CACHE_HOME` or `HOME`")]
    NoCacheDir,
}

/// Wraps an `io::Error` with what was being done to which path.
pub(crate) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CacheError {
    let path = path.to_path_buf();
    move |source| CacheError::Io { op, path, source }
}

/// The metadata of one checkpoint, `<root>/checkpoints/<key>/meta.json`.
/// `Default` gives empty fields and the epoch for the timestamps, which
/// [`Pending::commit`] reads as "unset".
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    /// [`META_VERSION`] when written by this crate.
    pub version: u32,
    /// The checkpoint's key.
    pub key: String,
    /// The build's name.
    pub build: String,
    /// The builder's type.
    pub builder_type: String,
    /// The template's path as given.
    pub template: String,
    /// How many provisioners the state holds (the 1-based index of the last
    /// one run).
    pub after: usize,
    /// How many provisioners the build has.
    pub count: usize,
    /// The type of provisioner `after`.
    pub provisioner_type: String,
    /// When the checkpoint was saved.
    pub created: DateTime<Utc>,
    /// When it was last restored (or saved).
    pub last_used: DateTime<Utc>,
    /// The build time it took to reach this state.
    pub elapsed_secs: f64,
    /// The builder's restore data (opaque).
    pub data: serde_json::Value,
    /// Bytes kept outside the directory (a docker image), counted in the
    /// entry's size.
    pub external_size: u64,
    /// Every file of the entry, sorted by path.
    pub files: Vec<FileMeta>,
    /// The caller's record of the inputs (opaque), for `-explain`.
    pub inputs: serde_json::Value,
}

impl Meta {
    /// The entry's size: its files plus [`Meta::external_size`].
    pub fn size(&self) -> u64 {
        self.files
            .iter()
            .map(|f| f.size)
            .fold(self.external_size, u64::saturating_add)
    }
}

/// One file of an entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileMeta {
    /// Relative to the entry's directory, components separated by `/`.
    pub path: String,
    /// In bytes.
    pub size: u64,
    /// Lowercase hex.
    pub sha256: String,
}

/// A verified checkpoint returned by [`Cache::get`] (or just saved): its
/// metadata and directory. While it lives it holds a shared lock on the
/// entry's `.use`, so `remove`, `prune` and `clear` leave the entry alone;
/// drop it once the restore is done.
#[derive(Debug)]
pub struct Entry {
    /// The metadata, with `last_used` just updated.
    pub meta: Meta,
    /// `<root>/checkpoints/<key>`.
    pub dir: PathBuf,
    _hold: Hold,
}

/// What [`Pending::commit`] did.
#[derive(Debug)]
pub enum Committed {
    /// The checkpoint is now in the cache (held, like a [`Cache::get`]).
    Saved(Entry),
    /// A valid checkpoint with this key was already there (another process
    /// saved it first); the new one was discarded. Holds the existing
    /// metadata.
    AlreadyThere(Meta),
}

/// One entry as [`Cache::list`] sees it.
// A list holds a few dozen entries; boxing `meta` would only make callers'
// patterns clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Listed {
    /// A readable entry and its size.
    Ok {
        /// Its metadata.
        meta: Meta,
        /// Its files' sizes plus its external size.
        size: u64,
    },
    /// An entry that cannot be used.
    Corrupt {
        /// Its key (the directory's name).
        key: String,
        /// What failed to check.
        reason: String,
        /// The bytes of its directory.
        size: u64,
    },
}

/// An entry (or stale staging directory) that was deleted.
#[derive(Debug)]
pub struct Removed {
    /// The entry's key; `staging/<name>` for a stale staging directory.
    pub key: String,
    /// The bytes it took.
    pub size: u64,
    /// Its metadata; `None` for a corrupt entry or a staging directory.
    pub meta: Option<Meta>,
}

/// Where the cache lives and how big it may grow. Cheap to clone; holds no
/// open files (each operation opens and locks its own).
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    max_size: u64,
}

/// Whether `key` is 64 lowercase hex digits.
fn is_key(key: &str) -> bool {
    key.len() == 64
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn check_key(key: &str) -> Result<(), CacheError> {
    if is_key(key) {
        Ok(())
    } else {
        Err(CacheError::BadKey(key.to_string()))
    }
}

/// Whether something is at `path` (not following a final symlink).
fn exists(path: &Path) -> Result<bool, CacheError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

/// Flushes a directory's entries (a rename into it) to disk, where the
/// platform allows; a failure only weakens durability, so it is ignored.
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Writes `<dir>/meta.json` atomically: `meta.json.tmp`, fsync, rename.
fn write_meta(dir: &Path, meta: &Meta) -> Result<(), CacheError> {
    let tmp = dir.join(META_TMP);
    let path = dir.join(META_FILE);
    let text = serde_json::to_vec_pretty(meta).map_err(|source| CacheError::Meta {
        path: path.clone(),
        source,
    })?;
    let mut file = fs::File::create(&tmp).map_err(io_err("create", &tmp))?;
    file.write_all(&text).map_err(io_err("write", &tmp))?;
    file.sync_all().map_err(io_err("sync", &tmp))?;
    drop(file);
    fs::rename(&tmp, &path).map_err(io_err("rename into place", &path))?;
    sync_dir(dir);
    Ok(())
}

/// Something moved into `staging/` under the root lock, to be deleted once
/// the lock is released; owned through its `<uuid>.lock`.
struct Trash {
    path: PathBuf,
    lock_path: PathBuf,
    _lock: fs::File,
}

impl Trash {
    /// Deletes the moved directory (or file) and its lock file.
    fn delete(self) -> Result<(), CacheError> {
        let result = match fs::symlink_metadata(&self.path) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&self.path),
            Ok(_) => fs::remove_file(&self.path),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("delete", &self.path)(e)),
        }
        let _ = fs::remove_file(&self.lock_path);
        Ok(())
    }
}

/// Deletes every trash item, returning the first failure after trying all.
fn delete_all(trash: Vec<Trash>) -> Result<(), CacheError> {
    let mut first = None;
    for t in trash {
        if let Err(e) = t.delete() {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

/// What [`Cache::take_out`] did with an entry.
enum TakeOut {
    /// A reader holds it; it stays.
    Held,
    /// Moved into staging, to be deleted.
    Trash(Trash),
    /// Moved into staging though a reader holds it (to make room for a
    /// replacement); a later prune deletes it once the reader is done.
    MovedAside,
}

/// What a sweep removes.
#[derive(Debug, Clone, Copy)]
enum Sweep {
    Prune {
        max_size: u64,
        older_than: Option<Duration>,
    },
    All,
}

impl Cache {
    /// Opens (creating) the cache at `root`, size limit `max_size` bytes.
    pub fn open(root: impl Into<PathBuf>, max_size: u64) -> Result<Cache, CacheError> {
        let cache = Cache {
            root: root.into(),
            max_size,
        };
        for dir in [cache.root.clone(), cache.checkpoints(), cache.staging()] {
            fs::create_dir_all(&dir).map_err(io_err("create the directory", &dir))?;
        }
        let lock = cache.lock_path();
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            .map_err(io_err("create the lock file", &lock))?;
        Ok(cache)
    }

    /// From the environment: root = `$KILN_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/kiln` (when absolute, as the XDG spec requires),
    /// else `$HOME/.cache/kiln`; empty variables count as unset. Max size =
    /// `$KILN_CACHE_MAX_SIZE` parsed by [`parse_size`], default
    /// [`DEFAULT_MAX_SIZE`] (20 GiB).
    pub fn from_env() -> Result<Cache, CacheError> {
        let (root, max_size) = Self::settings(|name| std::env::var_os(name))?;
        Cache::open(root, max_size)
    }

    /// [`Cache::from_env`]'s reading of the variables, from `var`.
    fn settings(var: impl Fn(&str) -> Option<OsString>) -> Result<(PathBuf, u64), CacheError> {
        let set = |name: &str| var(name).filter(|v| !v.is_empty());
        let root = if let Some(dir) = set("KILN_CACHE_DIR") {
            PathBuf::from(dir)
        } else if let Some(xdg) = set("XDG_CACHE_HOME").filter(|v| Path::new(v).is_absolute()) {
            PathBuf::from(xdg).join("kiln")
        } else if let Some(home) = set("HOME") {
            PathBuf::from(home).join(".cache").join("kiln")
        } else {
            return Err(CacheError::NoCacheDir);
        };
        let max_size = match set("KILN_CACHE_MAX_SIZE") {
            None => DEFAULT_MAX_SIZE,
            Some(value) => {
                let text = value.to_str().ok_or_else(|| {
                    CacheError::BadSize(format!(
                        "`KILN_CACHE_MAX_SIZE` `{}` is not UTF-8",
                        value.to_string_lossy()
                    ))
                })?;
                parse_size(text).map_err(|e| match e {
                    CacheError::BadSize(msg) => {
                        CacheError::BadSize(format!("`KILN_CACHE_MAX_SIZE`: {msg}"))
                    }
                    other => other,
                })?
            }
        };
        Ok((root, max_size))
    }

    /// The cache's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The size limit in bytes, for [`Cache::prune`].
    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    fn staging(&self) -> PathBuf {
        self.root.join("staging")
    }

    fn lock_path(&self) -> PathBuf {
        self.root.join("lock")
    }

    fn lock(&self) -> Result<RootLock, CacheError> {
        RootLock::acquire(&self.lock_path())
    }

    /// Looks `key` up: `Ok(None)` if absent. Verifies the entry fully (see
    /// the crate documentation) and gives [`CacheError::Corrupt`] when a
    /// check fails, without deleting anything. On success the returned
    /// [`Entry`] holds a shared lock on the entry's `.use` until dropped,
    /// and `last_used` is set to now (rewritten atomically under the root
    /// lock).
    pub fn get(&self, key: &str) -> Result<Option<Entry>, CacheError> {
        check_key(key)?;
        let dir = self.checkpoints().join(key);
        let corrupt = |reason: String| CacheError::Corrupt {
            key: key.to_string(),
            reason,
        };
        for _ in 0..ATTEMPTS {
            let hold = {
                let _lock = self.lock()?;
                match fs::symlink_metadata(&dir) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => return Err(corrupt("it is not a directory".into())),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(io_err("read", &dir)(e)),
                }
                Hold::shared(&dir.join(USE_FILE))?
            };
            // Hashing may take long: outside the root lock, under the hold.
            let verdict = inspect(&dir, key, Check::Hashes);
            let _lock = self.lock()?;
            if !hold.still_at() {
                // Replaced meanwhile (it was corrupt and a commit of the same
                // key moved it aside): look again.
                continue;
            }
            let mut meta = match verdict {
                Ok(Some(meta)) => meta,
                Ok(None) => continue,
                Err(reason) => return Err(corrupt(reason)),
            };
            meta.last_used = Utc::now();
            write_meta(&dir, &meta)?;
            return Ok(Some(Entry {
                meta,
                dir,
                _hold: hold,
            }));
        }
        Err(corrupt(
            "it kept being replaced while it was being read".into(),
        ))
    }

    /// Like [`Cache::get`] without hashing the files (their presence and
    /// sizes are checked), without holding the entry, and without touching
    /// `last_used`: for listing and explaining.
    pub fn peek(&self, key: &str) -> Result<Option<Meta>, CacheError> {
        check_key(key)?;
        inspect(&self.checkpoints().join(key), key, Check::Sizes).map_err(|reason| {
            CacheError::Corrupt {
                key: key.to_string(),
                reason,
            }
        })
    }

    /// A new staging directory to write a checkpoint's files into; see
    /// [`Pending`].
    pub fn begin(&self) -> Result<Pending, CacheError> {
        let staging = self.staging();
        let name = uuid::Uuid::new_v4().to_string();
        let dir = staging.join(&name);
        let lock_path = staging.join(format!("{name}.lock"));
        // Under the root lock, so a sweep never sees the directory before
        // its lock is held.
        let _root = self.lock()?;
        let lock = try_exclusive(&lock_path, true)?.ok_or_else(|| {
            io_err("lock", &lock_path)(io::Error::new(
                io::ErrorKind::WouldBlock,
                "a new staging lock is already held",
            ))
        })?;
        if let Err(e) = fs::create_dir(&dir) {
            let _ = fs::remove_file(&lock_path);
            return Err(io_err("create the directory", &dir)(e));
        }
        Ok(Pending {
            cache: self.clone(),
            dir,
            lock_path,
            lock: Some(lock),
            moved: false,
        })
    }

    /// Every entry, most recently used first; entries that fail to read
    /// (checked as by [`Cache::peek`]) come last as [`Listed::Corrupt`].
    pub fn list(&self) -> Result<Vec<Listed>, CacheError> {
        Ok(self.scan()?.into_iter().map(|(_, l)| l).collect())
    }

    /// [`Cache::list`] with each entry's directory name.
    fn scan(&self) -> Result<Vec<(OsString, Listed)>, CacheError> {
        let dir = self.checkpoints();
        let mut out = Vec::new();
        for item in fs::read_dir(&dir).map_err(io_err("read the directory", &dir))? {
            let item = item.map_err(io_err("read the directory", &dir))?;
            let name = item.file_name();
            let path = item.path();
            let key = name.to_string_lossy().into_owned();
            let verdict = if is_key(&key) {
                inspect(&path, &key, Check::Sizes)
            } else {
                Err("the name is not a checkpoint key".into())
            };
            let listed = match verdict {
                Ok(Some(meta)) => Listed::Ok {
                    size: meta.size(),
                    meta,
                },
                Ok(None) => continue,
                Err(_) if !exists(&path)? => continue,
                Err(reason) => Listed::Corrupt {
                    key,
                    reason,
                    size: verify::dir_size(&path),
                },
            };
            out.push((name, listed));
        }
        out.sort_by(|(_, a), (_, b)| match (a, b) {
            (Listed::Ok { meta: a, .. }, Listed::Ok { meta: b, .. }) => b
                .last_used
                .cmp(&a.last_used)
                .then_with(|| a.key.cmp(&b.key)),
            (Listed::Ok { .. }, Listed::Corrupt { .. }) => std::cmp::Ordering::Less,
            (Listed::Corrupt { .. }, Listed::Ok { .. }) => std::cmp::Ordering::Greater,
            (Listed::Corrupt { key: a, .. }, Listed::Corrupt { key: b, .. }) => a.cmp(b),
        });
        Ok(out)
    }

    /// Removes one entry: `Ok(None)` when it is absent or held by someone's
    /// [`Cache::get`] (then it stays).
    pub fn remove(&self, key: &str) -> Result<Option<Removed>, CacheError> {
        check_key(key)?;
        let dir = self.checkpoints().join(key);
        let lock = self.lock()?;
        if !exists(&dir)? {
            return Ok(None);
        }
        let (size, meta) = match inspect(&dir, key, Check::Sizes) {
            Ok(Some(meta)) => (meta.size(), Some(meta)),
            _ => (verify::dir_size(&dir), None),
        };
        match self.take_out(&dir, false)? {
            TakeOut::Held | TakeOut::MovedAside => Ok(None),
            TakeOut::Trash(trash) => {
                drop(lock);
                trash.delete()?;
                Ok(Some(Removed {
                    key: key.to_string(),
                    size,
                    meta,
                }))
            }
        }
    }

    /// Removes least-recently-used entries until the total size is at most
    /// `max_size`, and entries whose `last_used` is older than `older_than`
    /// when given. Corrupt entries (as [`Cache::peek`] sees them) and stale
    /// staging directories (whose owner is gone: see the crate
    /// documentation) go too. Entries held in use are skipped (and still
    /// count toward the total). Returns what was removed.
    pub fn prune(
        &self,
        max_size: u64,
        older_than: Option<Duration>,
    ) -> Result<Vec<Removed>, CacheError> {
        self.sweep(Sweep::Prune {
            max_size,
            older_than,
        })
    }

    /// Removes every entry and stale staging directory not held in use.
    pub fn clear(&self) -> Result<Vec<Removed>, CacheError> {
        self.sweep(Sweep::All)
    }

    fn sweep(&self, mode: Sweep) -> Result<Vec<Removed>, CacheError> {
        let lock = self.lock()?;
        let mut removed = Vec::new();
        let mut trash = Vec::new();
        self.sweep_staging(&mut removed, &mut trash)?;
        let cutoff = match mode {
            Sweep::Prune {
                older_than: Some(age),
                ..
            } => chrono::Duration::from_std(age)
                .ok()
                .and_then(|age| Utc::now().checked_sub_signed(age)),
            _ => None,
        };
        let mut take = |name: &OsStr, key: String, size: u64, meta: Option<Meta>| match self
            .take_out(&self.checkpoints().join(name), false)?
        {
            TakeOut::Trash(t) => {
                trash.push(t);
                removed.push(Removed { key, size, meta });
                Ok::<bool, CacheError>(true)
            }
            TakeOut::Held | TakeOut::MovedAside => Ok(false),
        };
        let mut total = 0u64;
        let mut candidates = Vec::new();
        for (name, listed) in self.scan()? {
            match listed {
                Listed::Corrupt { key, size, .. } => {
                    if !take(&name, key, size, None)? {
                        total = total.saturating_add(size);
                    }
                }
                Listed::Ok { meta, size } => {
                    let old = cutoff.is_some_and(|c| meta.last_used < c);
                    if matches!(mode, Sweep::All) || old {
                        if !take(&name, meta.key.clone(), size, Some(meta))? {
                            total = total.saturating_add(size);
                        }
                    } else {
                        total = total.saturating_add(size);
                        candidates.push((name, meta, size));
                    }
                }
            }
        }
        if let Sweep::Prune { max_size, .. } = mode {
            candidates.sort_by(|a, b| {
                a.1.last_used
                    .cmp(&b.1.last_used)
                    .then_with(|| a.1.key.cmp(&b.1.key))
            });
            for (name, meta, size) in candidates {
                if total <= max_size {
                    break;
                }
                if take(&name, meta.key.clone(), size, Some(meta))? {
                    total -= size;
                }
            }
        }
        drop(lock);
        delete_all(trash)?;
        Ok(removed)
    }

    /// Finds staging directories whose owner is gone and no reader holds,
    /// claims them for deletion, and removes lock files left alone. Runs
    /// under the root lock.
    fn sweep_staging(
        &self,
        removed: &mut Vec<Removed>,
        trash: &mut Vec<Trash>,
    ) -> Result<(), CacheError> {
        let staging = self.staging();
        let mut items = Vec::new();
        for item in fs::read_dir(&staging).map_err(io_err("read the directory", &staging))? {
            let item = item.map_err(io_err("read the directory", &staging))?;
            items.push(item.file_name());
        }
        for name in items {
            let path = staging.join(&name);
            let Ok(kind) = fs::symlink_metadata(&path) else {
                continue;
            };
            let text = name.to_string_lossy();
            if kind.is_file() {
                // A lock file whose directory is gone: remove it once no
                // one holds it.
                if let Some(dir) = text.strip_suffix(".lock") {
                    if !exists(&staging.join(dir))? && try_exclusive(&path, false)?.is_some() {
                        let _ = fs::remove_file(&path);
                    }
                }
                continue;
            }
            if !kind.is_dir() {
                continue;
            }
            let lock_path = staging.join(format!("{text}.lock"));
            let Some(lock) = try_exclusive(&lock_path, true)? else {
                continue; // a live Pending or deletion
            };
            let use_path = path.join(USE_FILE);
            if exists(&use_path)? && try_exclusive(&use_path, false)?.is_none() {
                continue; // moved aside while a reader holds it
            }
            removed.push(Removed {
                key: format!("staging/{text}"),
                size: verify::dir_size(&path),
                meta: None,
            });
            trash.push(Trash {
                path,
                lock_path,
                _lock: lock,
            });
        }
        Ok(())
    }

    /// Moves the entry at `dir` into staging, under the root lock (which
    /// the caller holds). Unless `force`, an entry a reader holds stays.
    fn take_out(&self, dir: &Path, force: bool) -> Result<TakeOut, CacheError> {
        let is_dir = fs::symlink_metadata(dir)
            .map_err(io_err("read", dir))?
            .is_dir();
        let use_lock = if is_dir {
            try_exclusive(&dir.join(USE_FILE), true)?
        } else {
            None
        };
        let held = is_dir && use_lock.is_none();
        if held && !force {
            return Ok(TakeOut::Held);
        }
        let name = uuid::Uuid::new_v4().to_string();
        let dest = self.staging().join(&name);
        let lock_path = self.staging().join(format!("{name}.lock"));
        let lock = if held {
            None
        } else {
            Some(try_exclusive(&lock_path, true)?.ok_or_else(|| {
                io_err("lock", &lock_path)(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "a new staging lock is already held",
                ))
            })?)
        };
        if let Err(e) = fs::rename(dir, &dest) {
            if lock.is_some() {
                let _ = fs::remove_file(&lock_path);
            }
            return Err(io_err("move aside", dir)(e));
        }
        sync_dir(&self.checkpoints());
        drop(use_lock);
        Ok(match lock {
            Some(lock) => TakeOut::Trash(Trash {
                path: dest,
                lock_path,
                _lock: lock,
            }),
            None => TakeOut::MovedAside,
        })
    }
}

/// A checkpoint being written: a fresh `<root>/staging/<uuid>/` to fill
/// with the builder's files, then [`Pending::commit`]. Dropped without a
/// commit (or after a failed one), it deletes the staging directory; if the
/// process dies first, a later prune does.
#[derive(Debug)]
pub struct Pending {
    cache: Cache,
    dir: PathBuf,
    lock_path: PathBuf,
    lock: Option<fs::File>,
    /// The directory was renamed into `checkpoints/`.
    moved: bool,
}

impl Pending {
    /// The staging directory to write the checkpoint's files into. At its
    /// top, `meta.json`, `meta.json.tmp` and `.use` are the cache's own
    /// names; only regular files and directories may be put there.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records every regular file under [`Pending::dir`] (relative paths
    /// with `/`, sorted) with its size and sha256 in `meta.files`
    /// (replacing what the caller put there), sets `meta.version` and
    /// `meta.key`, and `created`/`last_used` to now when they are unset
    /// (the epoch, as `Meta::default()` has them); writes `meta.json`
    /// atomically, then under the root lock renames the staging directory
    /// to `checkpoints/<key>`.
    ///
    /// If a valid entry with this key is already there (another process
    /// saved the same checkpoint first), gives [`Committed::AlreadyThere`]
    /// and deletes the staging directory; a corrupt one is replaced.
    pub fn commit(mut self, key: &str, mut meta: Meta) -> Result<Committed, CacheError> {
        check_key(key)?;
        for name in [META_FILE, META_TMP, USE_FILE] {
            let path = self.dir.join(name);
            if exists(&path)? {
                return Err(CacheError::BadFile {
                    path,
                    reason: "the name is the cache's own".into(),
                });
            }
        }
        let found = verify::walk(&self.dir).map_err(|e| match e {
            verify::WalkError::Io(path, source) => CacheError::Io {
                op: "read",
                path,
                source,
            },
            verify::WalkError::NotUtf8(path) => CacheError::BadFile {
                path,
                reason: "the name is not UTF-8".into(),
            },
            verify::WalkError::NotRegular(path) => CacheError::BadFile {
                path,
                reason: "only regular files and directories can be saved".into(),
            },
        })?;
        meta.files = Vec::with_capacity(found.len());
        for f in found {
            let (sha256, size) = verify::sha256_file(&f.path).map_err(io_err("read", &f.path))?;
            meta.files.push(FileMeta {
                path: f.rel,
                size,
                sha256,
            });
        }
        meta.version = META_VERSION;
        meta.key = key.to_string();
        let now = Utc::now();
        let unset = DateTime::<Utc>::default();
        if meta.created == unset {
            meta.created = now;
        }
        if meta.last_used == unset {
            meta.last_used = now;
        }
        write_meta(&self.dir, &meta)?;

        let cache = self.cache.clone();
        let dest = cache.checkpoints().join(key);
        for _ in 0..ATTEMPTS {
            let lock = cache.lock()?;
            if !exists(&dest)? {
                return self.move_in(meta, &dest, lock);
            }
            let is_dir = fs::symlink_metadata(&dest)
                .map_err(io_err("read", &dest))?
                .is_dir();
            let hold = if is_dir {
                Some(Hold::shared(&dest.join(USE_FILE))?)
            } else {
                None
            };
            drop(lock);
            // Hashing the existing entry may take long: outside the lock.
            let verdict = if is_dir {
                inspect(&dest, key, Check::Hashes)
            } else {
                Err("it is not a directory".into())
            };
            let lock = cache.lock()?;
            if hold.as_ref().is_some_and(|h| !h.still_at()) {
                continue;
            }
            match verdict {
                Ok(Some(existing)) => return Ok(Committed::AlreadyThere(existing)),
                Ok(None) => continue,
                Err(_) => {
                    drop(hold);
                    let old = cache.take_out(&dest, true)?;
                    let committed = self.move_in(meta, &dest, lock)?;
                    if let TakeOut::Trash(t) = old {
                        t.delete()?;
                    }
                    return Ok(committed);
                }
            }
        }
        Err(CacheError::Corrupt {
            key: key.to_string(),
            reason: "it kept being replaced while this one was being saved".into(),
        })
    }

    /// Renames the staging directory to `dest` under `lock` and holds it.
    fn move_in(
        &mut self,
        meta: Meta,
        dest: &Path,
        lock: RootLock,
    ) -> Result<Committed, CacheError> {
        fs::rename(&self.dir, dest).map_err(io_err("move the checkpoint into place", dest))?;
        self.moved = true;
        sync_dir(&self.cache.checkpoints());
        let hold = Hold::shared(&dest.join(USE_FILE))?;
        drop(lock);
        Ok(Committed::Saved(Entry {
            meta,
            dir: dest.to_path_buf(),
            _hold: hold,
        }))
    }
}

impl Drop for Pending {
    /// Deletes the staging directory unless it was committed, then its lock
    /// file, then lets the lock go (in that order, so a sweep never claims
    /// a directory still being deleted).
    fn drop(&mut self) {
        if !self.moved {
            let _ = fs::remove_dir_all(&self.dir);
        }
        let _ = fs::remove_file(&self.lock_path);
        self.lock.take();
    }
}

#[cfg(test)]
mod tests;
