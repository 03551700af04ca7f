//! What a person at a terminal sees: the live status view (run under a real
//! pseudo-terminal with `script`), `-debug` pauses and the breakpoint
//! provisioner answered on stdin.

use std::process::{Command, Stdio};

use crate::support::*;

#[test]
fn live_view_on_a_terminal_never_garbles_the_log() {
    let d = dir();
    let t = d.write(
        "t.json",
        r#"{"builders": [{"type": "null", "name": "one", "communicator": "none"},
                         {"type": "null", "name": "two", "communicator": "none"}],
            "provisioners": [{"type": "shell-local", "inline": ["echo first line", "sleep 1.2", "echo second line"]}]}"#,
    );
    let kiln = env!("CARGO_BIN_EXE_kiln");
    let cmd = format!("{kiln} build -color=false {}", t.display());
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .current_dir(d.path())
        .env("CHECKPOINT_DISABLE", "1")
        .env_remove("KILN_NO_LIVE")
        .stdin(Stdio::null())
        .output()
        .expect("run script(1)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = String::from_utf8_lossy(&out.stdout);
    // The status block was drawn (build name, step, elapsed time) ...
    assert!(
        raw.contains("▸ one") && raw.contains("StepProvision"),
        "no live view in:\n{raw}"
    );
    // ... and erased before every log line, so once the cursor moves and
    // erases are applied the log reads exactly as without the live view.
    let screen = emulate(&raw);
    let text = screen.join("\n");
    for expected in [
        "    one: first line",
        "    one: second line",
        "    two: first line",
        "    two: second line",
        "Build 'one' finished",
        "Build 'two' finished",
        "==> Builds finished",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
    assert!(
        !text.contains("▸"),
        "the status block must be gone at the end:\n{text}"
    );
}

/// The rows a terminal shows after `raw`, for the sequences the live view
/// writes: text and newlines, `CSI n F` / `CSI n E` (previous / next line,
/// column 0), `CSI K` at column 0 (clear the row) and `CSI J` (clear the
/// row and all below); other sequences (colours) are ignored.
fn emulate(raw: &str) -> Vec<String> {
    let mut rows = vec![String::new()];
    let mut row = 0usize;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' if chars.peek() == Some(&'[') => {
                chars.next();
                let mut arg = String::new();
                let mut cmd = ' ';
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        cmd = c;
                        break;
                    }
                    arg.push(c);
                }
                let n: usize = arg.parse().unwrap_or(1);
                match cmd {
                    'F' => row = row.saturating_sub(n.max(1)),
                    'E' => row += n.max(1),
                    'K' => rows[row].clear(),
                    'J' => {
                        rows.truncate(row + 1);
                        rows[row].clear();
                    }
                    _ => {}
                }
            }
            '\n' => row += 1,
            '\r' => {}
            c => rows[row].push(c),
        }
        if rows.len() <= row {
            rows.resize(row + 1, String::new());
        }
    }
    rows
}

#[test]
fn debug_pauses_between_steps_and_breakpoint_waits_for_enter() {
    let d = dir();
    let t = d.write(
        "t.json",
        r#"{"builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [{"type": "breakpoint", "note": "look around"}, {"type": "shell-local", "inline": ["echo after"]}]}"#,
    );
    let out = kiln_test::run_with_input(
        d.kiln(&["build", "-color=false", "-debug", t.to_str().unwrap()]),
        &b"\n".repeat(10),
    );
    let stdout = &out.stdout;
    assert_eq!(out.code, 0, "{stdout}\n{}", out.stderr);
    assert!(
        stdout.contains("Pausing after run of step 'StepConnect'. Press enter to continue."),
        "{stdout}"
    );
    assert!(
        stdout.contains("Pausing before the next provisioner . Press enter to continue."),
        "{stdout}"
    );
    assert!(
        stdout.contains("Pausing at breakpoint provisioner with note \"look around\"."),
        "{stdout}"
    );
    assert!(stdout.contains("    null: after"), "{stdout}");

    // Without anyone to answer, the breakpoint fails clearly instead of hanging.
    let r = kiln(&d, &["build", "-color=false", t.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("terminal") || r.stdout.contains("terminal"),
        "{}{}",
        r.stdout,
        r.stderr
    );
}

// ---------------------------------------------------------------------------
// The live view in tmux: each scenario runs at 40, 80 and 200 columns, once
// with the live view and once with `KILN_NO_LIVE=1`, and the pane's lines
// (wrapped lines joined, timings normalised) must be the same: every line,
// none garbled, no status line left.

/// A tmux server of its own (its socket in the test directory) with one
/// detached session whose pane runs a script; the server is killed on drop.
struct Tmux {
    socket: std::path::PathBuf,
}

/// The columns a narrowed pane has in the resize scenario.
const NARROW: u16 = 30;
/// The line the pane's script prints once kiln has exited.
const SENTINEL: &str = "__kiln_exited_";

fn tmux_available() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    // scripts/install-deps.sh installs tmux: its absence fails, never skips.
    assert!(found, "tmux is not installed: run scripts/install-deps.sh");
    found
}

impl Tmux {
    fn start(d: &TestDir, tag: &str, width: u16, script: &std::path::Path) -> Tmux {
        let config = d.write(
            &format!("{tag}.tmux.conf"),
            "set -g history-limit 100000\nset -g status off\nset -g remain-on-exit on\n",
        );
        let t = Tmux {
            socket: d.path().join(format!("{tag}.sock")),
        };
        let (w, cmd) = (width.to_string(), format!("sh {}", script.display()));
        let config = config.to_string_lossy().into_owned();
        t.run(&[
            "-f",
            &config,
            "new-session",
            "-d",
            "-s",
            "k",
            "-x",
            &w,
            "-y",
            "24",
            &cmd,
        ]);
        t
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-u")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The whole history, wrapped lines joined.
    fn history(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-S", "-", "-t", "k"])
    }

    /// The visible screen, rows as they are.
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "k"])
    }

    fn resize(&self, width: u16) {
        self.run(&[
            "resize-window",
            "-t",
            "k",
            "-x",
            &width.to_string(),
            "-y",
            "24",
        ]);
    }

    /// Polls until `done` holds for (history, screen). Not a timing
    /// assertion: the deadline only keeps a broken run from hanging.
    fn wait_until(&self, what: &str, done: impl Fn(&str, &str) -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let (history, screen) = (self.history(), self.screen());
            if done(&history, &screen) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "gave up waiting for {what}; the pane holds:\n{history}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

/// What a run left in the pane.
struct Pane {
    /// The lines before the sentinel, `^C` echoes removed, normalised.
    lines: Vec<String>,
    code: String,
    raw: String,
}

/// One run of `kiln build` in a fresh tmux pane `width` columns wide.
/// `template` gets the path of a file the scripts may wait for; `during`
/// drives the run (waits, keys, resizes, creating that file) while kiln
/// runs.
fn run_in_tmux(
    d: &TestDir,
    tag: &str,
    width: u16,
    live: bool,
    env: &str,
    template: &dyn Fn(&str) -> String,
    during: &dyn Fn(&Tmux, &std::path::Path, bool),
) -> Pane {
    let tag = format!("{tag}-{width}-{}", if live { "live" } else { "plain" });
    let go = d.path().join(format!("{tag}.go"));
    let t = d.write(&format!("{tag}.json"), &template(&go.to_string_lossy()));
    let script = d.write(
        &format!("{tag}.sh"),
        &format!(
            "cd '{dir}'\nexport CHECKPOINT_DISABLE=1\nunset PACKER_LOG PACKER_RUN_UUID KILN_NO_LIVE RUST_BACKTRACE\n{no_live}{env}\
             trap true INT\n'{kiln}' build '{t}'\necho \"{SENTINEL}$?\"\n",
            dir = d.path().display(),
            no_live = if live { "" } else { "export KILN_NO_LIVE=1\n" },
            kiln = env!("CARGO_BIN_EXE_kiln"),
            t = t.display(),
        ),
    );
    let tmux = Tmux::start(d, &tag, width, &script);
    during(&tmux, &go, live);
    tmux.wait_until("kiln to exit", |h, _| h.contains(SENTINEL));
    let raw = tmux.history();
    let mut lines = Vec::new();
    let mut code = String::new();
    for l in raw.lines() {
        if let Some(c) = l.strip_prefix(SENTINEL) {
            code = c.trim().to_string();
            break;
        }
        let l = normalize(&l.replace("^C", ""), d.path());
        lines.push(l.trim_end().to_string());
    }
    Pane { lines, code, raw }
}

/// Which output stream of which build a line belongs to: its order within
/// that stream is fixed, while builds (and a script's stdout and stderr)
/// interleave differently from run to run.
fn stream_of(line: &str, builds: &[String]) -> String {
    for b in builds {
        let mine = [
            format!("==> {b}:"),
            format!("    {b}:"),
            format!("Build '{b}'"),
        ]
        .iter()
        .any(|p| line.starts_with(p.as_str()));
        if mine {
            return if line.contains("ERRLINE") {
                format!("{b} (stderr)")
            } else {
                b.clone()
            };
        }
    }
    "run".into()
}

/// The live run's pane holds exactly the plain run's lines: the same
/// lines, each stream in the same order, and no status line.
fn assert_same_log(live: &Pane, plain: &Pane, builds: &[String], what: &str) {
    let context = format!(
        "{what}\n----- with the live view -----\n{}\n----- with KILN_NO_LIVE=1 -----\n{}",
        live.raw, plain.raw
    );
    assert!(
        !live.raw.contains('▸') && !live.raw.contains("more builds running"),
        "a status line was left behind: {context}"
    );
    assert_eq!(live.code, plain.code, "exit codes differ: {context}");
    let (mut a, mut b) = (live.lines.clone(), plain.lines.clone());
    a.sort();
    b.sort();
    if a != b {
        let missing: Vec<&String> = b.iter().filter(|l| !a.contains(l)).collect();
        let extra: Vec<&String> = a.iter().filter(|l| !b.contains(l)).collect();
        panic!("lines differ; missing with the live view: {missing:#?}\nonly with the live view: {extra:#?}\n{context}");
    }
    let streams = |p: &Pane| {
        let mut m = std::collections::BTreeMap::<String, Vec<String>>::new();
        for l in &p.lines {
            m.entry(stream_of(l, builds)).or_default().push(l.clone());
        }
        m
    };
    assert_eq!(streams(live), streams(plain), "order differs: {context}");
}

/// Runs a scenario at 40, 80 and 200 columns, with and without the live
/// view, and compares the panes. `check_live` looks at the live run's
/// pane too.
fn scenario(
    tag: &str,
    env: &str,
    builds: &[String],
    template: &dyn Fn(&str) -> String,
    during: &dyn Fn(&Tmux, &std::path::Path, bool, u16),
    check_live: &dyn Fn(&Pane),
) {
    if !tmux_available() {
        return;
    }
    let d = dir();
    for width in [40u16, 80, 200] {
        let run = |live| {
            run_in_tmux(&d, tag, width, live, env, template, &|t, go, live| {
                during(t, go, live, width)
            })
        };
        let plain = run(false);
        let live = run(true);
        assert_same_log(&live, &plain, builds, &format!("{tag} at {width} columns"));
        check_live(&live);
    }
}

fn names(n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| format!("b{i}-with-a-long-build-name-that-wraps"))
        .collect()
}

/// A JSON template: one null build per name, the given provisioners.
fn null_builds(builds: &[String], provisioners: &str) -> String {
    let b: Vec<String> = builds
        .iter()
        .map(|n| format!(r#"{{"type": "null", "name": "{n}", "communicator": "none"}}"#))
        .collect();
    format!(
        r#"{{"builders": [{}], "provisioners": [{provisioners}]}}"#,
        b.join(", ")
    )
}

/// Shell lines that wait until `go` exists.
fn wait_for(go: &str) -> String {
    format!(r#""while [ ! -e '{go}' ]; do sleep 0.05; done""#)
}

/// Waits until every build printed `waiting` and, with the live view, the
/// status block shows `visible` on the screen.
fn all_waiting(t: &Tmux, builds: &[String], live: bool, visible: &str) {
    t.wait_until("every build to wait", |history, screen| {
        builds
            .iter()
            .all(|b| history.contains(&format!("    {b}: waiting")))
            && (!live || screen.contains(visible))
    });
}

fn long_line() -> String {
    "long-".repeat(50)
}

#[test]
fn live_view_in_tmux_keeps_every_line_when_all_builds_fail() {
    let builds = names(6);
    let template = |go: &str| {
        null_builds(
            &builds,
            &format!(
                r#"{{"type": "shell-local", "inline": ["echo waiting", "echo ERRLINE one >&2", {},
                    "echo out two", "echo ERRLINE two >&2", "echo {}", "exit 3"]}}"#,
                wait_for(go),
                long_line()
            ),
        )
    };
    scenario(
        "fail",
        "",
        &builds,
        &template,
        &|t, go, live, width| {
            // At 200 columns the provisioner and its index are shown.
            let visible = if width == 200 {
                "shell-local 1/1"
            } else {
                "▸"
            };
            all_waiting(t, &builds, live, visible);
            std::fs::write(go, "").unwrap();
        },
        &|p| {
            assert_eq!(p.code, "1", "{}", p.raw);
            let errored = p
                .lines
                .iter()
                .filter(|l| l.contains("errored after"))
                .count();
            assert_eq!(errored, 6, "{}", p.raw);
            assert!(
                p.lines.iter().any(|l| l.ends_with(": ERRLINE two")),
                "{}",
                p.raw
            );
        },
    );
}

#[test]
fn live_view_in_tmux_keeps_every_line_on_success() {
    let builds = names(2);
    let template = |go: &str| {
        null_builds(
            &builds,
            &format!(
                r#"{{"type": "shell-local", "inline": ["echo first provisioner", "echo ERRLINE first >&2"]}},
                   {{"type": "shell-local", "inline": ["echo waiting", {}, "echo {}"]}},
                   {{"type": "shell-local", "inline": ["echo third provisioner"]}}"#,
                wait_for(go),
                long_line()
            ),
        )
    };
    scenario(
        "success",
        "",
        &builds,
        &template,
        &|t, go, live, width| {
            let visible = if width == 200 {
                "shell-local 2/3"
            } else {
                "▸"
            };
            all_waiting(t, &builds, live, visible);
            std::fs::write(go, "").unwrap();
        },
        &|p| {
            assert_eq!(p.code, "0", "{}", p.raw);
            assert!(
                p.lines.iter().any(|l| l.contains("third provisioner")),
                "{}",
                p.raw
            );
        },
    );
}

#[test]
fn live_view_in_tmux_keeps_every_line_on_ctrl_c() {
    let builds = names(3);
    let template = |_: &str| {
        null_builds(
            &builds,
            r#"{"type": "shell-local", "inline": ["echo waiting", "echo ERRLINE waiting >&2", "sleep 60"]}"#,
        )
    };
    scenario(
        "interrupt",
        "",
        &builds,
        &template,
        &|t, _, live, _| {
            all_waiting(t, &builds, live, "▸");
            t.run(&["send-keys", "-t", "k", "C-c"]);
        },
        &|p| {
            assert!(
                p.lines.iter().any(|l| l.contains("Interrupt received")),
                "{}",
                p.raw
            );
            let errored = p
                .lines
                .iter()
                .filter(|l| l.contains("errored after"))
                .count();
            assert_eq!(errored, 3, "{}", p.raw);
        },
    );
}

#[test]
fn live_view_in_tmux_keeps_every_line_through_resizes() {
    let builds = names(3);
    let template = |go: &str| {
        null_builds(
            &builds,
            &format!(
                r#"{{"type": "shell-local", "inline": ["echo waiting", {}, "echo {}", "echo ERRLINE after >&2"]}}"#,
                wait_for(go),
                long_line()
            ),
        )
    };
    scenario(
        "resize",
        "",
        &builds,
        &template,
        &|t, go, live, width| {
            all_waiting(t, &builds, live, "▸");
            t.resize(NARROW);
            if live {
                // Wait until the block was redrawn for the narrow pane (the
                // ticker redraws it): no status row fills the width, as the
                // rows the terminal rewrapped do.
                t.wait_until("a redraw at the narrow width", |_, screen| {
                    let status: Vec<&str> = screen.lines().filter(|l| l.contains('▸')).collect();
                    !status.is_empty()
                        && status
                            .iter()
                            .all(|l| l.trim_end().chars().count() < usize::from(NARROW))
                });
            }
            t.resize(width + 20);
            std::fs::write(go, "").unwrap();
        },
        &|p| assert_eq!(p.code, "0", "{}", p.raw),
    );
}

/// Output that belongs to no build (a test hook's note, a panic's message)
/// erases the status block first, as build lines do: a cleanup panics in
/// one build while the other is still shown.
#[test]
fn live_view_in_tmux_keeps_every_line_when_a_step_panics() {
    let builds = names(2);
    let template = |go: &str| {
        format!(
            r#"{{"builders": [{}], "provisioners": [
                {{"type": "shell-local", "only": ["{b1}"], "inline": ["echo waiting", {w1}, "echo {long}"]}},
                {{"type": "shell-local", "only": ["{b2}"], "inline": ["echo waiting", {w2}]}}]}}"#,
            builds
                .iter()
                .map(|n| format!(r#"{{"type": "null", "name": "{n}", "communicator": "none"}}"#))
                .collect::<Vec<_>>()
                .join(", "),
            b1 = builds[0],
            b2 = builds[1],
            w1 = wait_for(go),
            w2 = wait_for(&format!("{go}.2")),
            long = long_line(),
        )
    };
    scenario(
        "panic",
        // The first cleanup of the run is the first build's (the second
        // still waits for its file).
        "export KILN_TEST_PANIC_AT_CLEANUP=1\n",
        &builds,
        &template,
        &|t, go, live, _| {
            all_waiting(t, &builds, live, "▸");
            std::fs::write(go, "").unwrap();
            t.wait_until("the panic's message", |history, screen| {
                history.contains("panicked at")
                    && history.contains("moving on")
                    && (!live || screen.contains("▸"))
            });
            std::fs::write(format!("{}.2", go.display()), "").unwrap();
        },
        &|p| {
            assert_eq!(p.code, "0", "{}", p.raw);
            for want in [
                "kiln test hook: panic in cleanup of step `StepProvision`",
                "kiln test hook: a panic in cleanup of step `StepProvision`",
                "internal error: cleanup of step `StepProvision` panicked",
            ] {
                assert!(
                    p.lines.iter().any(|l| l.contains(want)),
                    "{want}\n{}",
                    p.raw
                );
            }
        },
    );
}

#[test]
fn console_on_a_terminal_edits_lines_and_recalls_history() {
    assert!(tmux_available());
    let d = dir();
    d.write(
        "t.pkr.hcl",
        "variable \"name\" { default = \"cli\" }\nlocals {\n  tags = { owner = \"me\", n = 2 }\n}\n",
    );
    let kiln = env!("CARGO_BIN_EXE_kiln");
    let script = d.write(
        "console.sh",
        &format!(
            "cd {}\n{kiln} console t.pkr.hcl\necho {SENTINEL}$?\n",
            d.path().display()
        ),
    );
    let t = Tmux::start(&d, "console", 80, &script);
    let keys = |k: &[&str]| {
        let mut args = vec!["send-keys", "-t", "k"];
        args.extend_from_slice(k);
        t.run(&args);
    };
    t.wait_until("the prompt", |h, _| h.contains("> "));
    keys(&["upper(var.name)", "Enter"]);
    t.wait_until("the first value", |h, _| h.contains("\nCLI\n"));
    keys(&["local.tags", "Enter"]);
    t.wait_until("the map", |h, _| h.contains("  \"owner\" = \"me\"\n}"));
    // Line editing: three characters erased and retyped.
    keys(&["var.nxx", "BSpace", "BSpace", "BSpace", "name", "Enter"]);
    t.wait_until("the edited line's value", |h, _| h.contains("\ncli\n"));
    // History: up three times recalls the first expression.
    keys(&["Up", "Up", "Up", "Enter"]);
    t.wait_until("the recalled value", |h, _| {
        h.matches("\nCLI\n").count() == 2
    });
    // An error is reported and the console goes on.
    keys(&["var.nope", "Enter"]);
    t.wait_until("the error", |h, _| {
        h.contains("undefined variable `var.nope`")
    });
    keys(&["C-d"]);
    t.wait_until("the exit", |h, _| h.contains(&format!("{SENTINEL}1")));
}
