//! The machine's processes, read from `/proc`: finding what a test
//! started (to check that nothing is left running) and killing a process
//! with everything it spawned. Stores nothing.

use std::process::Command;

/// Processes whose command line contains `marker` (zombies excluded).
pub fn processes_matching(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let state = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // Zombies (state Z) are dead; a container's init may not reap them.
        let zombie = state
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'));
        if cmd.contains(marker) && !zombie {
            found.push(cmd);
        }
    }
    found
}

/// Kills `pid` and all its descendants with SIGKILL.
pub fn kill_tree(pid: u32) {
    let mut children: std::collections::HashMap<u32, Vec<u32>> = Default::default();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            if let Some((_, rest)) = stat.rsplit_once(')') {
                if let Some(pp) = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
                    children.entry(pp).or_default().push(p);
                }
            }
        }
    }
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        if let Some(c) = children.get(&all[i]) {
            all.extend(c);
        }
        i += 1;
    }
    for p in all {
        let _ = Command::new("kill").args(["-9", &p.to_string()]).output();
    }
}
