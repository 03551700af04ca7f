//! `kiln cache list | prune | clear`: the checkpoints that `kiln build
//! -incremental` saves, in KILN_CACHE_DIR (default ~/.cache/kiln), and what
//! `build` shares with this command: the run's [`Incremental`] settings.
//! Removing a checkpoint also removes what it kept outside the cache (a
//! docker checkpoint's image), through its builder's cleaner.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use kiln_cache::{format_size, parse_size, Cache, Listed, Removed};
use kiln_core::checkpoints::{clean_external, short, Incremental};
use kiln_sdk::checkpoint::CheckpointCleaner;
use kiln_sdk::Registry;

/// `kiln cache -h`.
pub const USAGE: &str = "Usage: kiln cache <subcommand> [options]

  Manage the checkpoints that `kiln build -incremental` saves.

Subcommands:
    list                            list the checkpoints, most recently used first
    prune [-max-size=SIZE] [-older-than=DURATION]
                                    remove least recently used checkpoints until the cache
                                    is under SIZE (default: KILN_CACHE_MAX_SIZE, else 20GiB),
                                    and those unused for DURATION (`72h`, `30m`)
    clear                           remove every checkpoint

The cache is KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln, else ~/.cache/kiln.
Checkpoints a running build restores from are kept.
";

/// Each builder type's checkpoint cleaner.
pub fn cleaners(table: &Registry) -> BTreeMap<String, Arc<dyn CheckpointCleaner>> {
    table
        .builder_names()
        .into_iter()
        .filter_map(|n| {
            table
                .builder(n)
                .and_then(|f| f.checkpoint_cleaner())
                .map(|c| (n.to_string(), c))
        })
        .collect()
}

/// The run's `-incremental` settings.
pub fn incremental(
    table: &Registry,
    template: &Path,
    explain: bool,
) -> Result<Incremental, String> {
    let cache = Cache::from_env().map_err(|e| format!("cannot open the checkpoint cache: {e}"))?;
    Ok(Incremental {
        cache: Arc::new(cache),
        explain,
        template: template.display().to_string(),
        cleaners: cleaners(table),
    })
}

fn ago(t: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (chrono::Utc::now() - t).num_seconds().max(0) as u64;
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

fn report(removed: &[Removed], cleaners: &BTreeMap<String, Arc<dyn CheckpointCleaner>>) -> u8 {
    let rt = match super::common::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let errors = rt.block_on(clean_external(cleaners, removed));
    let total: u64 = removed.iter().map(|r| r.size).sum();
    println!(
        "Removed {} checkpoint(s), {}",
        removed.len(),
        format_size(total)
    );
    for e in &errors {
        eprintln!("error: {e}");
    }
    u8::from(!errors.is_empty())
}

/// Runs `kiln cache`.
pub fn run(args: Vec<String>) -> u8 {
    let Some(sub) = args.first().map(String::as_str) else {
        eprint!("{USAGE}");
        return 1;
    };
    let rest = &args[1..];
    if matches!(sub, "-h" | "-help" | "--help") {
        print!("{USAGE}");
        return 0;
    }
    let cache = match Cache::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot open the checkpoint cache: {e}");
            return 1;
        }
    };
    let table = kiln_registry::builtin();
    match sub {
        "list" => {
            if !rest.is_empty() {
                return super::common::usage_error("`kiln cache list` takes no arguments", USAGE);
            }
            let list = match cache.list() {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("error: {e}");
                    return 1;
                }
            };
            if list.is_empty() {
                println!("No checkpoints in {}", cache.root().display());
                return 0;
            }
            println!(
                "{:<12}  {:<24}  {:<22}  {:>9}  {:>9}  TEMPLATE",
                "KEY", "BUILD", "AFTER", "SIZE", "USED"
            );
            let mut total = 0;
            for l in &list {
                match l {
                    Listed::Ok { meta, size } => {
                        total += size;
                        println!(
                            "{:<12}  {:<24}  {:<22}  {:>9}  {:>9}  {}",
                            short(&meta.key),
                            meta.build,
                            format!("{}/{} {}", meta.after, meta.count, meta.provisioner_type),
                            format_size(*size),
                            ago(meta.last_used),
                            meta.template
                        );
                    }
                    Listed::Corrupt { key, reason, size } => {
                        total += size;
                        println!(
                            "{:<12}  corrupt: {reason} (`kiln cache prune` removes it)",
                            short(key)
                        );
                    }
                }
            }
            println!(
                "{} checkpoint(s), {} of {} in {}",
                list.len(),
                format_size(total),
                format_size(cache.max_size()),
                cache.root().display()
            );
            0
        }
        "prune" => {
            let flags = [
                crate::cli::Flag::new("max-size", crate::cli::Kind::Value),
                crate::cli::Flag::new("older-than", crate::cli::Kind::Value),
            ];
            let p = match crate::cli::parse(rest, &flags) {
                Ok(p) => p,
                Err(e) => return super::common::usage_error(&e, USAGE),
            };
            if !p.args.is_empty() {
                return super::common::usage_error("`kiln cache prune` takes only flags", USAGE);
            }
            let max = match p.value("max-size").map(parse_size).transpose() {
                Ok(m) => m.unwrap_or(cache.max_size()),
                Err(e) => return super::common::usage_error(&e.to_string(), USAGE),
            };
            let older = match p
                .value("older-than")
                .map(kiln_sdk::duration::parse_go_duration)
                .transpose()
            {
                Ok(d) => d,
                Err(e) => return super::common::usage_error(&format!("`-older-than`: {e}"), USAGE),
            };
            match cache.prune(max, older) {
                Ok(removed) => report(&removed, &cleaners(&table)),
                Err(e) => {
                    eprintln!("error: {e}");
                    1
                }
            }
        }
        "clear" => {
            if !rest.is_empty() {
                return super::common::usage_error("`kiln cache clear` takes no arguments", USAGE);
            }
            match cache.clear() {
                Ok(removed) => report(&removed, &cleaners(&table)),
                Err(e) => {
                    eprintln!("error: {e}");
                    1
                }
            }
        }
        other => super::common::usage_error(
            &format!("unknown subcommand `{other}`; the subcommands are: list, prune, clear"),
            USAGE,
        ),
    }
}
