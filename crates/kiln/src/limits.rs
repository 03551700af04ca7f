//! Process limits kiln adjusts for itself at start: the soft limit on open
//! files is raised to the hard limit, since many parallel builds (each with
//! sockets, pipes and log files) exhaust the common default of 1,024 long
//! before the machine would. Nothing here is undone: the limit dies with the
//! process, and child processes inherit the raised soft limit, as they would
//! from a shell's `ulimit -n`.

/// Open files a build may hold at once, counted generously: the
/// communicator's connection, a provisioner's pipes, a post-processor's
/// input and output files, the manifest lock.
const FILES_PER_BUILD: u64 = 16;

/// Files kiln holds whatever it builds: the runtime, stdio, the template.
const FILES_BASE: u64 = 64;

/// The open-files limit after [`raise_open_files`]: soft and hard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The limit in force (the soft limit).
    pub soft: u64,
    /// The ceiling an unprivileged process may raise it to.
    pub hard: u64,
}

/// Raises the soft limit on open files to the hard limit; returns the
/// limits in force afterwards, or `None` where they cannot be read.
pub fn raise_open_files() -> Option<OpenFiles> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the call's duration.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit; raising the soft limit up to
        // the hard limit needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    // `rlim_t` is `u64` on Linux but not on every Unix.
    #[allow(clippy::unnecessary_cast)]
    Some(OpenFiles {
        soft: lim.rlim_cur as u64,
        hard: lim.rlim_max as u64,
    })
}

/// A warning when `builds` builds running at once may need more open files
/// than `limit` allows, with what to do about it.
pub fn open_files_warning(limit: OpenFiles, builds: usize) -> Option<String> {
    let need = FILES_BASE + FILES_PER_BUILD * builds as u64;
    if need <= limit.soft {
        return None;
    }
    let fit = (limit.soft.saturating_sub(FILES_BASE) / FILES_PER_BUILD).max(1);
    Some(format!(
        "{builds} builds run at once may need about {need} open files, but this process may \
         open at most {} (`ulimit -n`, hard limit {}); builds may fail with \"Too many open \
         files\". Raise the hard limit (`ulimit -Hn`, or `LimitNOFILE=` for a service), or run \
         fewer at once with `-parallel-builds={fit}`",
        limit.soft, limit.hard
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_reaches_the_hard_limit() {
        let l = raise_open_files().expect("getrlimit works on Linux");
        assert_eq!(l.soft, l.hard);
    }

    #[test]
    fn a_warning_only_when_the_builds_may_not_fit() {
        let l = OpenFiles {
            soft: 1024,
            hard: 1024,
        };
        assert_eq!(open_files_warning(l, 10), None);
        let w = open_files_warning(l, 1000).unwrap();
        assert!(w.contains("1000 builds"), "{w}");
        assert!(w.contains("-parallel-builds=60"), "{w}");
        assert!(w.contains("at most 1024"), "{w}");
    }
}
