//! `kiln build`: prepare every build, run them in parallel, print Packer's
//! summary. Ctrl-C (SIGINT/SIGTERM) cancels every build and waits for their
//! cleanup; the exit code is 1 when any build failed or was cancelled.

use std::str::FromStr;

use kiln_core::ui::Level;
use kiln_sdk::step::OnError;
use tokio_util::sync::CancellationToken;

use super::common;
use crate::cli::{Flag, Kind};

pub const USAGE: &str = "Usage: kiln build [options] TEMPLATE

  Will execute multiple builds in parallel as defined in the template.
  The various artifacts created by the template will be outputted.

Options:

  -color=false                  Disable color output. (Default: color)
  -debug                        Debug mode enabled for builds.
  -except=foo,bar,baz           Run all builds and post-processors other than these (glob patterns).
  -only=foo,bar,baz             Build only the specified builds (glob patterns).
  -force                        Force a build to continue if artifacts exist, deletes existing artifacts.
  -incremental                  Save a checkpoint of the machine after each provisioner and start from the latest unchanged one (see `kiln cache`).
  -resume                       Continue a failed build after its last successful provisioner (the same as -incremental).
  -explain                      With -incremental: print, for each provisioner, whether its checkpoint is reused and which input changed.
  -machine-readable             Produce machine-readable output.
  -events=json                  Print one JSON event per line instead of the human log.
  -on-error=[cleanup|abort|ask|run-cleanup-provisioner] If the build fails do: clean up (default), abort, ask, or run-cleanup-provisioner.
  -parallel-builds=1            Number of builds to run in parallel. 1 disables parallelization. 0 means no limit (Default: 0)
  -timestamp-ui                 Enable prefixing of each ui output with an RFC3339 timestamp.
  -var 'key=value'              Variable for templates, can be used multiple times.
  -var-file=path                JSON file containing user variables, can be used multiple times.
";

pub const FLAGS: &[Flag] = &[
    Flag::new("color", Kind::Bool),
    Flag::new("debug", Kind::Bool),
    Flag::new("force", Kind::Bool),
    Flag::new("incremental", Kind::Bool),
    Flag::new("resume", Kind::Bool),
    Flag::new("explain", Kind::Bool),
    Flag::new("machine-readable", Kind::Bool),
    Flag::new("timestamp-ui", Kind::Bool),
    Flag::new("on-error", Kind::Value),
    Flag::new("parallel-builds", Kind::Value),
    Flag::new("events", Kind::Value),
    Flag::new("var", Kind::Repeated),
    Flag::new("var-file", Kind::Repeated),
    Flag::new("only", Kind::Repeated),
    Flag::new("except", Kind::Repeated),
];

fn usage_error(e: &str) -> u8 {
    common::usage_error(e, USAGE)
}

/// The run's facts for provenance: the template's files (a directory's
/// `.pkr.hcl` and `.pkr.json` files, sorted) and the `-var-file`s, each with
/// its SHA-256, and the variables with sensitive values left out. A file
/// that cannot be read now (it was read a moment ago) is left out.
fn run_info(
    path: &std::path::Path,
    p: &crate::cli::Parsed,
    variables: &kiln_template::plan::Variables,
) -> kiln_sdk::record::RunInfo {
    use sha2::Digest;
    let mut files = Vec::new();
    if path.is_dir() {
        let mut found: Vec<_> = std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|f| common::is_hcl2(f))
            .collect();
        found.sort();
        files.extend(found);
    } else {
        files.push(path.to_path_buf());
    }
    files.extend(p.all("var-file").iter().map(std::path::PathBuf::from));
    let template_files = files
        .into_iter()
        .filter_map(|path| {
            let bytes = std::fs::read(&path).ok()?;
            Some(kiln_sdk::record::TemplateFile {
                sha256: hex::encode(sha2::Sha256::digest(&bytes)),
                path,
            })
        })
        .collect();
    let variables = variables
        .values
        .iter()
        .map(|(name, value)| kiln_sdk::record::VariableInfo {
            name: name.clone(),
            value: (!variables.sensitive.contains(name)).then(|| value.clone()),
        })
        .collect();
    kiln_sdk::record::RunInfo {
        template_files,
        variables,
        kiln_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Runs `kiln build`.
pub fn run(args: Vec<String>, machine_readable: bool) -> u8 {
    let common::Invocation {
        flags: p,
        template: path,
        output,
        redactor,
    } = match common::start(&args, FLAGS, USAGE, machine_readable) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let on_error = match p.value("on-error").map(OnError::from_str).transpose() {
        Ok(o) => o.unwrap_or_default(),
        Err(e) => return usage_error(&e),
    };
    let parallel_builds = match p
        .value("parallel-builds")
        .map(|v| v.parse::<usize>())
        .transpose()
    {
        Ok(n) => n.unwrap_or(0),
        Err(_) => {
            return usage_error(&format!(
                "`-parallel-builds` must be a non-negative number, found `{}`",
                p.value("parallel-builds").unwrap_or_default()
            ))
        }
    };
    let (debug, force) = match (p.flag("debug"), p.flag("force")) {
        (Ok(d), Ok(f)) => (d, f),
        (Err(e), _) | (_, Err(e)) => return usage_error(&e),
    };
    let (incremental, explain) = match (p.flag("incremental"), p.flag("resume"), p.flag("explain"))
    {
        (Ok(i), Ok(r), Ok(e)) => (i || r || e, e),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return usage_error(&e),
    };
    let common::Loaded {
        plan,
        table,
        errors,
    } = match common::load_plan(&path, &p) {
        Ok(x) => x,
        Err(errors) => {
            common::print_errors(&output, &errors);
            return 1;
        }
    };
    for v in plan.variables.sensitive_values() {
        redactor.add(v);
    }

    let run_uuid = std::env::var("PACKER_RUN_UUID")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // Child processes (shell-local scripts) see the run id, as with Packer.
    std::env::set_var("PACKER_RUN_UUID", &run_uuid);

    let options = kiln_core::Options {
        debug,
        force,
        on_error,
        parallel_builds,
        run_uuid,
        run_info: std::sync::Arc::new(run_info(&path, &p, &plan.variables)),
        incremental: None,
        incremental_all: false,
    };
    // The cache opens when the flag or a build of the template asks for it.
    let wanted = incremental || plan.builds.iter().any(|b| b.incremental);
    let options = match wanted.then(|| super::cache::incremental(&table, &path, explain)) {
        None => options,
        Some(Ok(inc)) => kiln_core::Options {
            incremental: Some(std::sync::Arc::new(inc)),
            incremental_all: incremental,
            ..options
        },
        Some(Err(e)) => {
            output.line(Level::Error, &format!("error: {e}"));
            return 1;
        }
    };
    let builds = match common::prepare_all(&plan, &table, &options, &redactor, errors) {
        Ok(b) => b,
        Err(errors) => {
            common::print_errors(&output, &errors);
            return 1;
        }
    };
    for w in &plan.warnings {
        output.line(Level::Say, &format!("Warning: {w}"));
    }
    let at_once = match parallel_builds {
        0 => builds.len(),
        n => n.min(builds.len()),
    };
    if let Some(w) = crate::limits::raise_open_files()
        .and_then(|l| crate::limits::open_files_warning(l, at_once))
    {
        output.line(Level::Say, &format!("Warning: {w}"));
    }

    let rt = match common::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let summary = rt.block_on(async {
        let cancel = CancellationToken::new();
        let signals = tokio::spawn(watch_signals(cancel.clone(), output.clone()));
        let summary = kiln_core::run(builds, output.clone(), options, cancel).await;
        signals.abort();
        summary
    });
    // Do not wait for stray blocking reads (a pending `ask`).
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    summary.exit_code() as u8
}

async fn watch_signals(cancel: CancellationToken, output: std::sync::Arc<kiln_core::ui::Output>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    let mut seen = 0;
    loop {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        seen += 1;
        if seen == 1 {
            output.line(
                Level::Error,
                "Interrupt received. Cancelling builds and cleaning up...",
            );
            cancel.cancel();
        } else {
            output.line(
                Level::Error,
                "Cleanup is in progress; please wait for it to finish so nothing is left behind.",
            );
        }
    }
}
