//! What a person at a terminal sees: the live status view (run under a real
//! pseudo-terminal with `script`), `-debug` pauses and the breakpoint
//! provisioner answered on stdin.

use std::io::Write;
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
    // ... and erased before every log line, so once the erase sequences are
    // applied the log reads exactly as without the live view.
    let mut screen: Vec<String> = Vec::new();
    for chunk in raw.split('\n') {
        let mut line = chunk.trim_end_matches('\r').to_string();
        while let Some(i) = line.find("\x1b[") {
            let rest = &line[i + 2..];
            let end = rest
                .find(|c: char| c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            let (arg, cmd) = (&rest[..end], rest[end..].chars().next());
            if cmd == Some('F') {
                let n: usize = arg.parse().unwrap_or(1);
                for _ in 0..n {
                    screen.pop();
                }
            }
            line = format!("{}{}", &line[..i], rest.get(end + 1..).unwrap_or(""));
        }
        screen.push(line);
    }
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

#[test]
fn debug_pauses_between_steps_and_breakpoint_waits_for_enter() {
    let d = dir();
    let t = d.write(
        "t.json",
        r#"{"builders": [{"type": "null", "communicator": "none"}],
            "provisioners": [{"type": "breakpoint", "note": "look around"}, {"type": "shell-local", "inline": ["echo after"]}]}"#,
    );
    let mut c = d.kiln(&["build", "-color=false", "-debug", t.to_str().unwrap()]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&b"\n".repeat(10))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
