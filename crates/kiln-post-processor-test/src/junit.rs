//! Renders check results as JUnit XML, the report format CI systems read:
//! one `<testsuite>` per build, one `<testcase>` per check, a `<failure>`
//! with the reason and the output for each failed check, and the output in
//! `<system-out>` / `<system-err>`. Text is escaped, and characters XML 1.0
//! cannot hold (terminal escapes, other control characters) are dropped.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use crate::run::{CheckResult, Outcome, Stream};

/// The report of one build's checks.
pub struct Suite<'a> {
    /// The build's name.
    pub build_name: &'a str,
    /// When the checks started.
    pub started: SystemTime,
    /// The results, in order.
    pub results: &'a [CheckResult],
    /// Why the checks could not run at all (the machine did not boot).
    pub error: Option<&'a str>,
}

/// Escapes text for an XML attribute or element.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

fn secs(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// The XML document.
pub fn render(suite: &Suite<'_>) -> String {
    let tests = suite.results.len() + usize::from(suite.error.is_some());
    let failures = suite.results.iter().filter(|r| !r.passed()).count();
    let errors = usize::from(suite.error.is_some());
    let time: Duration = suite.results.iter().map(|r| r.duration).sum();
    let timestamp = chrono::DateTime::<chrono::Utc>::from(suite.started)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let name = escape(suite.build_name);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"kiln\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{}\">",
        secs(time)
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{name}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" time=\"{}\" timestamp=\"{timestamp}\">",
        secs(time)
    );
    if let Some(e) = suite.error {
        let _ = writeln!(
            x,
            "    <testcase name=\"boot\" classname=\"{name}\" time=\"0.000\">"
        );
        let _ = writeln!(
            x,
            "      <error message=\"{}\" type=\"boot\"></error>",
            escape(e)
        );
        x.push_str("    </testcase>\n");
    }
    for r in suite.results {
        let _ = write!(
            x,
            "    <testcase name=\"{}\" classname=\"{name}\" time=\"{}\"",
            escape(&r.name),
            secs(r.duration)
        );
        let stdout = r.stream(Stream::Stdout);
        let stderr = r.stream(Stream::Stderr);
        if r.passed() && stdout.is_empty() && stderr.is_empty() {
            x.push_str("/>\n");
            continue;
        }
        x.push_str(">\n");
        if let Outcome::Failed(why) = &r.outcome {
            let message = format!("command `{}` {why}", r.command);
            let output: Vec<&str> = r.output.iter().map(|(_, l)| l.as_str()).collect();
            let _ = writeln!(
                x,
                "      <failure message=\"{}\" type=\"failure\">{}</failure>",
                escape(&message),
                escape(&output.join("\n"))
            );
        }
        if !stdout.is_empty() {
            let _ = writeln!(x, "      <system-out>{}</system-out>", escape(&stdout));
        }
        if !stderr.is_empty() {
            let _ = writeln!(x, "      <system-err>{}</system-err>", escape(&stderr));
        }
        x.push_str("    </testcase>\n");
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, outcome: Outcome, output: &[(Stream, &str)]) -> CheckResult {
        CheckResult {
            name: name.into(),
            command: "exit 3".into(),
            outcome,
            exit_code: Some(3),
            duration: Duration::from_millis(1500),
            output: output.iter().map(|(s, l)| (*s, l.to_string())).collect(),
        }
    }

    #[test]
    fn renders_suites_cases_and_failures_escaped() {
        let results = [
            result("ok", Outcome::Passed, &[]),
            result(
                "a <b> & \"c\"",
                Outcome::Failed("exited 3 (expected 0)".into()),
                &[
                    (Stream::Stdout, "out \u{1b}[31mred\u{1b}[0m"),
                    (Stream::Stderr, "err & <x>"),
                ],
            ),
        ];
        let xml = render(&Suite {
            build_name: "docker.web",
            started: std::time::UNIX_EPOCH,
            results: &results,
            error: None,
        });
        let want = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="kiln" tests="2" failures="1" errors="0" time="3.000">
  <testsuite name="docker.web" tests="2" failures="1" errors="0" skipped="0" time="3.000" timestamp="1970-01-01T00:00:00">
    <testcase name="ok" classname="docker.web" time="1.500"/>
    <testcase name="a &lt;b&gt; &amp; &quot;c&quot;" classname="docker.web" time="1.500">
      <failure message="command `exit 3` exited 3 (expected 0)" type="failure">out [31mred[0m
err &amp; &lt;x&gt;</failure>
      <system-out>out [31mred[0m</system-out>
      <system-err>err &amp; &lt;x&gt;</system-err>
    </testcase>
  </testsuite>
</testsuites>
"#;
        assert_eq!(xml, want);
    }

    #[test]
    fn a_machine_that_did_not_boot_is_an_error_case() {
        let xml = render(&Suite {
            build_name: "b",
            started: std::time::UNIX_EPOCH,
            results: &[],
            error: Some("ssh timed out"),
        });
        assert!(
            xml.contains("tests=\"1\" failures=\"0\" errors=\"1\""),
            "{xml}"
        );
        assert!(
            xml.contains("<error message=\"ssh timed out\" type=\"boot\">"),
            "{xml}"
        );
    }
}
