//! The real-world template corpus (`tests/corpus/`, see its README.md):
//! every template listed in `index.tsv` goes through kiln's
//! `validate -syntax-only`, `validate` and `inspect`, and each exit code
//! must be the one the index records. The index records Packer's verdicts:
//! packer 1.6.6's for legacy JSON templates, which this test also runs and
//! checks against the index (so a wrong row is caught), and today's
//! Packer's for HCL2, established from its source (the row's reason says
//! why). No run may panic, hang (killed after 10 s) or be slow: a kiln run
//! may use at most a second of CPU ([`CPU_LIMIT`], measured from
//! `/proc`, so that a loaded machine does not make it fail), and the test
//! fails above [`SLOW_LIMIT`] of wall time too.
//!
//! A deliberate difference (kiln does not copy a Packer bug) is listed in
//! `differences.tsv` with kiln's exit code and the reason; it is printed,
//! not failed, and a listed difference that no longer differs fails (the
//! line must go).
//!
//! Templates run four at a time; every mismatch is reported at once.
//! `KILN_CORPUS_FILTER=substring` runs only the matching templates.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kiln_test::require_packer;

use crate::support::*;

/// A run still going after this long is killed and reported as a hang.
const HANG_LIMIT: Duration = Duration::from_secs(10);
/// A kiln run slower than this fails the test (the goal is under a second).
const SLOW_LIMIT: Duration = Duration::from_secs(5);
/// A kiln run that uses more CPU than this (user and system) fails the test.
const CPU_LIMIT: Duration = Duration::from_secs(1);
/// Runs slower than this are listed as slow, without failing.
const SLOW_NOTE: Duration = Duration::from_secs(1);
/// Templates checked at the same time.
const WORKERS: usize = 4;
/// The three commands, in the order of the index's verdict columns.
const COMMANDS: [&[&str]; 3] = [&["validate", "-syntax-only"], &["validate"], &["inspect"]];
/// The index's names for the three commands.
const COLUMNS: [&str; 3] = ["syntax_only", "validate", "inspect"];

/// The corpus directory.
fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// One row of `index.tsv`.
#[derive(Debug, Clone)]
struct Entry {
    /// Path under `tests/corpus/`: a file, or a directory of HCL2 files.
    path: String,
    /// `json` or `hcl2`.
    format: String,
    /// Expected exit codes of `validate -syntax-only`, `validate`, `inspect`.
    expected: [i32; 3],
    /// The real-world template it follows.
    follows: String,
    /// Why the verdicts are what they are.
    reason: String,
}

/// Reads `index.tsv`: `#` lines are comments, the first other line is the
/// header.
fn index() -> Vec<Entry> {
    let text = std::fs::read_to_string(corpus_dir().join("index.tsv")).expect("read index.tsv");
    let mut rows = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty());
    let (_, header) = rows.next().expect("index.tsv has a header");
    assert_eq!(
        header, "path\tformat\tsyntax_only\tvalidate\tinspect\tfollows\treason",
        "index.tsv header"
    );
    rows.map(|(n, line)| {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            f.len(),
            7,
            "index.tsv:{}: want 7 tab-separated fields",
            n + 1
        );
        let code = |s: &str| {
            s.parse::<i32>()
                .unwrap_or_else(|_| panic!("index.tsv:{}: bad exit code `{s}`", n + 1))
        };
        Entry {
            path: f[0].to_string(),
            format: f[1].to_string(),
            expected: [code(f[2]), code(f[3]), code(f[4])],
            follows: f[5].to_string(),
            reason: f[6].to_string(),
        }
    })
    .collect()
}

/// A deliberate difference: kiln's exit code for one command of one
/// template, and why (`differences.tsv`: path, command, kiln, reason).
#[derive(Debug, Clone)]
struct Difference {
    path: String,
    command: String,
    kiln: i32,
    reason: String,
}

/// Reads `differences.tsv` (same conventions as `index.tsv`); `command` is
/// a column name of the index: `syntax_only`, `validate` or `inspect`.
fn differences() -> Vec<Difference> {
    let text = std::fs::read_to_string(corpus_dir().join("differences.tsv"))
        .expect("read differences.tsv");
    let mut rows = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty());
    let (_, header) = rows.next().expect("differences.tsv has a header");
    assert_eq!(
        header, "path\tcommand\tkiln\treason",
        "differences.tsv header"
    );
    rows.map(|(n, line)| {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 4, "differences.tsv:{}: want 4 fields", n + 1);
        assert!(
            COLUMNS.contains(&f[1]),
            "differences.tsv:{}: command `{}` is not one of {COLUMNS:?}",
            n + 1,
            f[1]
        );
        Difference {
            path: f[0].to_string(),
            command: f[1].to_string(),
            kiln: f[2]
                .parse()
                .unwrap_or_else(|_| panic!("differences.tsv:{}: bad exit code", n + 1)),
            reason: f[3].to_string(),
        }
    })
    .collect()
}

/// Copies a file or a directory tree.
fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap().flatten() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}

/// Copies the template into `d` and returns the argument that names it:
/// a file directly under `json/` or `hcl2/` is copied alone; a directory
/// is copied whole and named `.`; a file inside a directory
/// (`json/bento-debian/template.json`) comes with its directory.
fn stage(e: &Entry, d: &TestDir) -> String {
    let src = corpus_dir().join(&e.path);
    let parts: Vec<&str> = e.path.split('/').collect();
    if src.is_dir() {
        copy_tree(&src, d.path());
        ".".to_string()
    } else if parts.len() == 2 {
        copy_tree(&src, &d.path().join(parts[1]));
        parts[1].to_string()
    } else {
        copy_tree(&corpus_dir().join(parts[0]).join(parts[1]), d.path());
        parts[2..].join("/")
    }
}

/// What one command did.
#[derive(Debug, Clone)]
struct Outcome {
    code: i32,
    /// stderr then stdout (packer 1.6.6 prints its errors on stdout).
    output: String,
    elapsed: Duration,
    /// CPU time used (user and system), as last seen before it exited.
    cpu: Duration,
    hung: bool,
}

/// The CPU time (user and system) `pid` has used so far, from
/// `/proc/PID/stat` (zero once it is gone). Its fields 14 and 15 count
/// USER_HZ ticks, which Linux fixes at 100 per second for `/proc`.
fn cpu_time(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // The command name (field 2) may hold spaces: count after its `)`.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// Runs `c` with its output in files under `out`, killing it after
/// [`HANG_LIMIT`].
fn run_timed(mut c: Command, out: &Path, tag: &str) -> Outcome {
    let (o, e) = (
        out.join(format!("{tag}.out")),
        out.join(format!("{tag}.err")),
    );
    c.stdout(Stdio::from(File::create(&o).unwrap()))
        .stderr(Stdio::from(File::create(&e).unwrap()));
    let start = Instant::now();
    let mut child = c.spawn().unwrap_or_else(|err| panic!("spawn {c:?}: {err}"));
    let mut cpu = Duration::ZERO;
    let (status, hung) = loop {
        cpu = cpu.max(cpu_time(child.id()));
        if let Some(s) = child.try_wait().unwrap() {
            break (Some(s), false);
        }
        if start.elapsed() > HANG_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let stdout = std::fs::read_to_string(&o).unwrap_or_default();
    let stderr = std::fs::read_to_string(&e).unwrap_or_default();
    Outcome {
        code: status.and_then(|s| s.code()).unwrap_or(-1),
        output: format!("{stderr}{stdout}"),
        elapsed,
        cpu,
        hung,
    }
}

/// kiln's (and for JSON packer's) outcomes for the three commands.
struct Checked {
    entry: Entry,
    kiln: Vec<Outcome>,
    packer: Option<Vec<Outcome>>,
}

fn check(e: &Entry) -> Checked {
    let out = tempfile::tempdir().unwrap();
    let kd = dir();
    let karg = stage(e, &kd);
    let kiln: Vec<Outcome> = COMMANDS
        .iter()
        .enumerate()
        .map(|(i, cmd)| {
            let args: Vec<&str> = cmd.iter().copied().chain([karg.as_str()]).collect();
            run_timed(kd.kiln(&args), out.path(), &format!("kiln{i}"))
        })
        .collect();
    let packer = (e.format == "json").then(|| {
        let pd = dir();
        let parg = stage(e, &pd);
        COMMANDS
            .iter()
            .enumerate()
            .map(|(i, cmd)| {
                let args: Vec<&str> = cmd.iter().copied().chain([parg.as_str()]).collect();
                run_timed(pd.packer(&args).unwrap(), out.path(), &format!("packer{i}"))
            })
            .collect()
    });
    Checked {
        entry: e.clone(),
        kiln,
        packer,
    }
}

/// The first lines of a command's output, indented, for the report.
fn head(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .take(4)
        .map(|l| format!("        {}", l.chars().take(160).collect::<String>()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn command_name(i: usize) -> String {
    COMMANDS[i].join(" ")
}

#[test]
fn corpus_verdicts_match_the_index() {
    require_packer();
    let filter = std::env::var("KILN_CORPUS_FILTER").unwrap_or_default();
    let entries: Vec<Entry> = index()
        .into_iter()
        .filter(|e| e.path.contains(&filter))
        .collect();
    assert!(!entries.is_empty(), "no template matches `{filter}`");

    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(e) = entries.get(i) else { break };
                let c = check(e);
                results.lock().unwrap().push(c);
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| a.entry.path.cmp(&b.entry.path));

    let known = differences();
    let mut problems = Vec::new();
    let mut accepted = Vec::new();
    let mut timings = Vec::new();
    for r in &results {
        let e = &r.entry;
        for (i, k) in r.kiln.iter().enumerate() {
            timings.push((k.elapsed, format!("{} ({})", e.path, command_name(i))));
            let p = r.packer.as_ref().map(|p| &p[i]);
            let pcode = p.map_or("-".to_string(), |p| p.code.to_string());
            let mut what = Vec::new();
            if k.hung {
                what.push(format!("kiln hung (killed after {HANG_LIMIT:?})"));
            }
            if k.code == 101 || k.output.contains("panicked") {
                what.push("kiln panicked".to_string());
            }
            if k.elapsed > SLOW_LIMIT && !k.hung {
                what.push(format!("kiln took {:?}", k.elapsed));
            }
            if k.cpu > CPU_LIMIT {
                what.push(format!("kiln used {:?} of CPU", k.cpu));
            }
            let listed = known
                .iter()
                .find(|d| d.path == e.path && d.command == COLUMNS[i]);
            match listed {
                Some(_) if k.code == e.expected[i] => what.push(
                    "kiln now agrees with Packer: remove the line from differences.tsv".to_string(),
                ),
                Some(d) if d.kiln == k.code => accepted.push(format!(
                    "{} `{}`: Packer {}, kiln {} ({})",
                    e.path,
                    command_name(i),
                    e.expected[i],
                    k.code,
                    d.reason
                )),
                Some(d) => what.push(format!(
                    "differences.tsv lists kiln {} here, but kiln gives {}",
                    d.kiln, k.code
                )),
                None if k.code != e.expected[i] => {
                    what.push("kiln disagrees with the index".to_string())
                }
                None => {}
            }
            if let Some(p) = p {
                if p.hung {
                    what.push("packer hung".to_string());
                } else if p.code != e.expected[i] {
                    what.push(
                        "packer 1.6.6 disagrees with the index: the row is wrong".to_string(),
                    );
                }
            }
            if !what.is_empty() {
                let mut report = format!(
                    "{} [{}] `{}`: {}\n    expected {}, kiln {}, packer {}\n    reason: {}\n    kiln output:\n{}",
                    e.path,
                    e.format,
                    command_name(i),
                    what.join("; "),
                    e.expected[i],
                    k.code,
                    pcode,
                    e.reason,
                    head(&k.output)
                );
                if let Some(p) = p.filter(|p| p.code != e.expected[i]) {
                    report.push_str(&format!("\n    packer output:\n{}", head(&p.output)));
                }
                problems.push(report);
            }
        }
    }

    timings.sort_by_key(|t| std::cmp::Reverse(t.0));
    let slow = timings.iter().filter(|t| t.0 > SLOW_NOTE).count();
    eprintln!(
        "corpus: {} templates, {} kiln runs, {slow} over {SLOW_NOTE:?}; the slowest, and every run over {SLOW_NOTE:?}:",
        results.len(),
        timings.len()
    );
    for (d, name) in timings
        .iter()
        .enumerate()
        .filter(|(i, t)| *i < 5 || t.0 > SLOW_NOTE)
        .map(|(_, t)| t)
    {
        eprintln!("    {d:>10.3?}  {name}");
    }
    if !accepted.is_empty() {
        eprintln!("deliberate differences (differences.tsv):");
        for a in &accepted {
            eprintln!("    {a}");
        }
    }

    assert!(
        problems.is_empty(),
        "{} of {} runs differ from the corpus index:\n\n{}\n",
        problems.len(),
        timings.len(),
        problems.join("\n\n")
    );
}

/// Every template on disk is in the index once, every row names a
/// template that exists, follows a real-world template and gives a reason,
/// and every HCL2 file says which template it follows.
#[test]
fn corpus_index_is_complete() {
    let entries = index();
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for e in &entries {
        if !seen.insert(e.path.clone()) {
            problems.push(format!("{}: listed twice", e.path));
        }
        let p = corpus_dir().join(&e.path);
        if !p.exists() {
            problems.push(format!("{}: no such template", e.path));
        }
        if !["json", "hcl2"].contains(&e.format.as_str()) {
            problems.push(format!("{}: format `{}`", e.path, e.format));
        }
        if e.follows.trim().is_empty() || e.reason.trim().is_empty() {
            problems.push(format!("{}: empty follows or reason", e.path));
        }
        if e.expected.iter().any(|c| ![0, 1].contains(c)) {
            problems.push(format!("{}: exit codes are 0 or 1", e.path));
        }
        let hcl_files: Vec<PathBuf> = if p.is_dir() {
            std::fs::read_dir(&p)
                .unwrap()
                .flatten()
                .map(|f| f.path())
                .filter(|f| f.to_string_lossy().ends_with(".pkr.hcl"))
                .collect()
        } else if e.path.ends_with(".pkr.hcl") {
            vec![p.clone()]
        } else {
            vec![]
        };
        for f in hcl_files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            if !text.starts_with("# Follows ") {
                problems.push(format!(
                    "{}: no `# Follows …` comment at the top",
                    f.display()
                ));
            }
        }
    }
    // Every top-level entry of json/ and hcl2/ is a template (or a template's directory).
    for sub in ["json", "hcl2"] {
        for f in std::fs::read_dir(corpus_dir().join(sub)).unwrap().flatten() {
            let name = format!("{sub}/{}", f.file_name().to_string_lossy());
            if !entries
                .iter()
                .any(|e| e.path == name || e.path.starts_with(&format!("{name}/")))
            {
                problems.push(format!("{name}: not in index.tsv"));
            }
        }
    }
    for d in differences() {
        if !entries.iter().any(|e| e.path == d.path) {
            problems.push(format!("differences.tsv: {} is not in index.tsv", d.path));
        }
        if d.reason.trim().is_empty() {
            problems.push(format!("differences.tsv: {} has no reason", d.path));
        }
    }
    let json = entries.iter().filter(|e| e.format == "json").count();
    assert!(
        entries.len() >= 150 && json > 0 && json < entries.len(),
        "the corpus holds {} templates ({json} JSON)",
        entries.len()
    );
    assert!(
        problems.is_empty(),
        "corpus index:\n{}",
        problems.join("\n")
    );
}

/// [`cpu_time`] sees the CPU a running process has used.
#[test]
fn cpu_time_counts_what_a_busy_process_used() {
    let mut busy = Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut seen = Duration::ZERO;
    while seen < Duration::from_millis(200) && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
        seen = cpu_time(busy.id());
    }
    let _ = busy.kill();
    let _ = busy.wait();
    assert!(seen >= Duration::from_millis(200), "saw {seen:?}");
    assert!(
        seen <= start.elapsed() + Duration::from_millis(20),
        "saw {seen:?}"
    );
}
