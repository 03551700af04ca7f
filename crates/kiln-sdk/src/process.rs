//! Guards that keep kiln's own child processes from inheriting a script
//! file that is still open for writing. Linux refuses to execute such a file
//! (`Text file busy`, ETXTBSY), and with many builds in one process a fork
//! for one build can happen while another build writes its script. Hold
//! [`spawning`] around every `Command::spawn`, and [`writing_executable`]
//! from creating a file that will be executed until it is closed.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static FORK_LOCK: RwLock<()> = RwLock::new(());

/// Held while spawning a child process (many may spawn at once).
pub fn spawning() -> RwLockReadGuard<'static, ()> {
    FORK_LOCK.read().unwrap_or_else(|e| e.into_inner())
}

/// Held while a to-be-executed file is open for writing (no spawn happens
/// meanwhile). Keep the section short: create, write, close.
pub fn writing_executable() -> RwLockWriteGuard<'static, ()> {
    FORK_LOCK.write().unwrap_or_else(|e| e.into_inner())
}
