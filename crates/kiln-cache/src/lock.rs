//! The flocks the cache takes: the exclusive root lock around every
//! mutation, the shared `.use` hold of an entry being read or restored, and
//! the exclusive locks that mark a staging directory as owned.
//!
//! Each lock opens its own `File`, so two [`Cache`](crate::Cache)s on one
//! root in one process exclude each other as two processes would (a flock
//! belongs to an open file description). Dropping a lock closes its file,
//! which releases it; the kernel releases it too when the process dies.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use crate::{io_err, CacheError};

/// Opens (creating it if `create`) a file to lock; the file's content is
/// never touched.
fn open(path: &Path, create: bool) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .open(path)
}

/// The exclusive lock on `<root>/lock`, held for the duration of one
/// mutation and released on drop.
pub(crate) struct RootLock {
    _file: File,
}

impl RootLock {
    /// Waits for and takes the root lock.
    pub(crate) fn acquire(path: &Path) -> Result<RootLock, CacheError> {
        let file = open(path, true).map_err(io_err("open the lock file", path))?;
        fs4::FileExt::lock(&file).map_err(io_err("lock", path))?;
        Ok(RootLock { _file: file })
    }
}

/// Takes an exclusive lock on `path` without waiting: `Ok(None)` when
/// someone else holds a lock on it, or when it does not exist and `create`
/// is false.
pub(crate) fn try_exclusive(path: &Path, create: bool) -> Result<Option<File>, CacheError> {
    let file = match open(path, create) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound && !create => return Ok(None),
        Err(e) => return Err(io_err("open the lock file", path)(e)),
    };
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => Ok(Some(file)),
        Err(fs4::TryLockError::WouldBlock) => Ok(None),
        Err(fs4::TryLockError::Error(e)) => Err(io_err("lock", path)(e)),
    }
}

/// A shared lock on an entry's `.use` file: while one is held, `remove`,
/// `prune` and `clear` leave the entry alone. Released on drop.
#[derive(Debug)]
pub(crate) struct Hold {
    file: File,
    path: PathBuf,
}

impl Hold {
    /// Takes a shared lock on `path`, creating the file. Waits only for an
    /// exclusive holder, and those hold it only under the root lock, for
    /// moments.
    pub(crate) fn shared(path: &Path) -> Result<Hold, CacheError> {
        let file = open(path, true).map_err(io_err("open the lock file", path))?;
        fs4::FileExt::lock_shared(&file).map_err(io_err("lock", path))?;
        Ok(Hold {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Whether the file locked is still the one at its path: false once
    /// the entry was moved aside (and maybe replaced) meanwhile.
    pub(crate) fn still_at(&self) -> bool {
        same_file(&self.file, &self.path)
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_locks_exclude_each_other_within_a_process() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        let first = try_exclusive(&path, true).unwrap();
        assert!(first.is_some());
        assert!(try_exclusive(&path, true).unwrap().is_none());
        drop(first);
        assert!(try_exclusive(&path, true).unwrap().is_some());
        assert!(try_exclusive(&dir.path().join("absent"), false)
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_hold_blocks_exclusive_and_notices_being_moved() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".use");
        let hold = Hold::shared(&path).unwrap();
        let second = Hold::shared(&path).unwrap();
        assert!(try_exclusive(&path, false).unwrap().is_none());
        drop(second);
        assert!(try_exclusive(&path, false).unwrap().is_none());
        assert!(hold.still_at());
        std::fs::rename(&path, dir.path().join("moved")).unwrap();
        std::fs::write(&path, "").unwrap();
        assert!(!hold.still_at());
        drop(hold);
        assert!(try_exclusive(&dir.path().join("moved"), false)
            .unwrap()
            .is_some());
    }
}
