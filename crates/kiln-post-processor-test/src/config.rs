//! The `test` post-processor's configuration: the checks (a `checks` list in
//! JSON, one `check { … }` block each in HCL2, or the top-level shorthand
//! for a single check), the JUnit report path and the default per-check
//! timeout. `prepare` is pure apart from checking that scripts exist, and
//! reports every problem at once.

use std::time::Duration;

use kiln_sdk::config::{check_local_path, decode_prepared, ConfigError, ConfigErrors, RawConfig};
use kiln_sdk::duration::parse_go_duration;
use kiln_sdk::interpolate;
use kiln_sdk::shell_env::is_key_value;
use kiln_sdk::PrepareContext;
use regex::Regex;
use serde::Deserialize;

/// The default time one check may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// Where scripts go on the machine by default.
pub const DEFAULT_REMOTE_FOLDER: &str = "/tmp";
/// The interpreter line of `inline` checks by default (as the `shell`
/// provisioner's).
pub const DEFAULT_SHEBANG: &str = "/bin/sh -e";

/// The keys of one check, as the template writes them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawCheck {
    /// The check's name in reports.
    pub name: String,
    /// Commands, run as one script.
    pub inline: Option<Vec<String>>,
    /// A local script.
    pub script: String,
    /// Local scripts, run in order; the check fails at the first failure.
    pub scripts: Vec<String>,
    /// The exit codes that pass (default `[0]`).
    pub expect_exit_codes: Option<Vec<i32>>,
    /// A regular expression that stdout must match.
    pub expect_output: String,
    /// How long the check may run (`30s`).
    pub timeout: String,
    /// `KEY=value` pairs set for the check.
    pub environment_vars: Vec<String>,
}

/// The keys of the post-processor, as the template writes them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Fields {
    /// The checks (JSON); HCL2's `check` blocks arrive under `check`.
    #[serde(alias = "check")]
    pub checks: Vec<RawCheck>,
    /// Shorthand for a single check: its commands.
    pub inline: Option<Vec<String>>,
    /// Shorthand for a single check: its script.
    pub script: String,
    /// Shorthand for a single check: its scripts.
    pub scripts: Vec<String>,
    /// Shorthand for a single check: its environment; with `checks`, added
    /// to every check's.
    pub environment_vars: Vec<String>,
    /// Shorthand for a single check: its exit codes.
    pub expect_exit_codes: Option<Vec<i32>>,
    /// Shorthand for a single check: its output pattern.
    pub expect_output: String,
    /// Where to write the JUnit XML report; `{{.BuildName}}` and
    /// `{{.BuilderType}}` are rendered at run time.
    pub junit_output: String,
    /// The default timeout of each check (`5m`).
    pub timeout: String,
    /// The remote directory scripts are written to (`/tmp`).
    pub remote_folder: String,
    /// The interpreter line of `inline` checks (`/bin/sh -e`).
    pub inline_shebang: String,
}

/// What a check runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Commands, written to one script.
    Inline(Vec<String>),
    /// Local script files, run one after the other.
    Scripts(Vec<String>),
}

/// A validated check.
#[derive(Debug, Clone)]
pub struct Check {
    /// Its name in reports.
    pub name: String,
    /// What it runs.
    pub source: Source,
    /// Exit codes that pass.
    pub expect_exit_codes: Vec<i32>,
    /// What stdout must match.
    pub expect_output: Option<Regex>,
    /// How long it may take.
    pub timeout: Duration,
    /// Its environment, `KEY=value`.
    pub environment_vars: Vec<String>,
}

impl Check {
    /// The command as the user wrote it, for messages: the `inline` lines
    /// joined by `; `, or the script paths.
    pub fn command(&self) -> String {
        match &self.source {
            Source::Inline(lines) => lines.join("; "),
            Source::Scripts(s) => s.join(", "),
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The checks, in order.
    pub checks: Vec<Check>,
    /// The JUnit report path template, if any.
    pub junit_output: Option<String>,
    /// The remote directory for scripts.
    pub remote_folder: String,
    /// The interpreter line of `inline` checks.
    pub inline_shebang: String,
}

/// Decodes and validates `raw`.
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Config, ConfigErrors> {
    let (f, mut errors) = decode_prepared::<Fields>(raw, cx, &["junit_output"])?;
    let list_key = if raw.values.contains_key("check") {
        "check"
    } else {
        "checks"
    };
    let default_timeout = if f.timeout.is_empty() {
        DEFAULT_TIMEOUT
    } else {
        match parse_go_duration(&f.timeout) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                errors.push(ConfigError::at("timeout", "`timeout` must be positive"));
                DEFAULT_TIMEOUT
            }
            Err(e) => {
                errors.push(ConfigError::at("timeout", format!("`timeout`: {e}")));
                DEFAULT_TIMEOUT
            }
        }
    };
    let shorthand = RawCheck {
        name: String::new(),
        inline: f.inline.clone(),
        script: f.script.clone(),
        scripts: f.scripts.clone(),
        expect_exit_codes: f.expect_exit_codes.clone(),
        expect_output: f.expect_output.clone(),
        timeout: String::new(),
        environment_vars: Vec::new(),
    };
    let has_shorthand = shorthand.inline.is_some()
        || !shorthand.script.is_empty()
        || !shorthand.scripts.is_empty()
        || shorthand.expect_exit_codes.is_some()
        || !shorthand.expect_output.is_empty();
    let mut checks = Vec::new();
    if has_shorthand && !f.checks.is_empty() {
        errors.push(ConfigError::new(format!(
            "use either `{list_key}` or the top-level `inline`/`script`/`scripts` of a single check, not both"
        )));
    } else if has_shorthand {
        checks.extend(check(&shorthand, "", &f, default_timeout, &mut errors).map(|c| (0, c)));
    } else if f.checks.is_empty() {
        errors.push(
            ConfigError::new("at least one check is needed").with_hint(
                "add a `check { inline = [\"…\"] }` block (HCL2) or `\"checks\": [{\"inline\": [\"…\"]}]` (JSON)",
            ),
        );
    }
    for (i, c) in f.checks.iter().enumerate() {
        let prefix = format!("{list_key}[{i}].");
        checks.extend(check(c, &prefix, &f, default_timeout, &mut errors).map(|c| (i, c)));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, c) in &checks {
        if !seen.insert(c.name.clone()) {
            errors.push(ConfigError::at(
                format!("{list_key}[{i}].name"),
                format!("two checks are named `{}`: names must be unique", c.name),
            ));
        }
    }
    for (i, v) in f.environment_vars.iter().enumerate() {
        if !is_key_value(v) {
            errors.push(ConfigError::at(
                format!("environment_vars[{i}]"),
                format!("environment variable not in format 'key=value': `{v}`"),
            ));
        }
    }
    if !f.junit_output.is_empty() {
        if let Err(e) = interpolate::check_syntax(&f.junit_output) {
            errors.push(ConfigError::at("junit_output", e.to_string()));
        }
    }
    let config = Config {
        checks: checks.into_iter().map(|(_, c)| c).collect(),
        junit_output: (!f.junit_output.is_empty()).then(|| f.junit_output.clone()),
        remote_folder: if f.remote_folder.is_empty() {
            DEFAULT_REMOTE_FOLDER.to_string()
        } else {
            f.remote_folder.trim_end_matches('/').to_string()
        },
        inline_shebang: if f.inline_shebang.is_empty() {
            DEFAULT_SHEBANG.to_string()
        } else {
            f.inline_shebang.clone()
        },
    };
    errors.locate(raw).into_result(config)
}

/// Validates one check; `prefix` is its key path (`checks[0].`), empty for
/// the shorthand.
fn check(
    c: &RawCheck,
    prefix: &str,
    top: &Fields,
    default_timeout: Duration,
    errors: &mut ConfigErrors,
) -> Option<Check> {
    let at = |key: &str| format!("{prefix}{key}");
    let before = errors.0.len();
    let given = [
        c.inline.is_some(),
        !c.script.is_empty(),
        !c.scripts.is_empty(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let where_ = if prefix.is_empty() {
        "the check".to_string()
    } else {
        format!("`{}`", prefix.trim_end_matches('.'))
    };
    match given {
        0 => errors.push(ConfigError::new(format!(
            "{where_} needs one of `inline`, `script` or `scripts`"
        ))),
        1 => {}
        _ => errors.push(ConfigError::new(format!(
            "{where_} may have only one of `inline`, `script` or `scripts`"
        ))),
    }
    if matches!(&c.inline, Some(l) if l.is_empty()) {
        errors.push(ConfigError::at(at("inline"), "`inline` is empty"));
    }
    if !c.script.is_empty() {
        errors.extend_opt(check_local_path(at("script"), "script", &c.script));
    }
    for (i, s) in c.scripts.iter().enumerate() {
        errors.extend_opt(check_local_path(at(&format!("scripts[{i}]")), "script", s));
    }
    let expect_output = if c.expect_output.is_empty() {
        None
    } else {
        match Regex::new(&c.expect_output) {
            Ok(r) => Some(r),
            Err(e) => {
                errors.push(ConfigError::at(
                    at("expect_output"),
                    format!("`expect_output` is not a valid regular expression: {e}"),
                ));
                None
            }
        }
    };
    let timeout = if c.timeout.is_empty() {
        default_timeout
    } else {
        match parse_go_duration(&c.timeout) {
            Ok(d) if !d.is_zero() => d,
            Ok(_) => {
                errors.push(ConfigError::at(at("timeout"), "`timeout` must be positive"));
                default_timeout
            }
            Err(e) => {
                errors.push(ConfigError::at(at("timeout"), format!("`timeout`: {e}")));
                default_timeout
            }
        }
    };
    for (i, v) in c.environment_vars.iter().enumerate() {
        if !is_key_value(v) {
            errors.push(ConfigError::at(
                at(&format!("environment_vars[{i}]")),
                format!("environment variable not in format 'key=value': `{v}`"),
            ));
        }
    }
    let expect_exit_codes = c.expect_exit_codes.clone().unwrap_or_else(|| vec![0]);
    if expect_exit_codes.is_empty() {
        errors.push(ConfigError::at(
            at("expect_exit_codes"),
            "`expect_exit_codes` is empty: no check could pass",
        ));
    }
    if errors.0.len() != before {
        return None;
    }
    let source = match &c.inline {
        Some(lines) => Source::Inline(lines.clone()),
        None if !c.script.is_empty() => Source::Scripts(vec![c.script.clone()]),
        None => Source::Scripts(c.scripts.clone()),
    };
    let name = if !c.name.is_empty() {
        c.name.clone()
    } else {
        match &source {
            Source::Inline(l) => l.join("; "),
            Source::Scripts(s) => s.join(", "),
        }
    };
    let mut environment_vars = top.environment_vars.clone();
    environment_vars.extend(c.environment_vars.iter().cloned());
    Some(Check {
        name,
        source,
        expect_exit_codes,
        expect_output,
        timeout,
        environment_vars,
    })
}

/// [`ConfigErrors::push`] for an optional error.
trait PushOpt {
    fn extend_opt(&mut self, e: Option<ConfigError>);
}

impl PushOpt for ConfigErrors {
    fn extend_opt(&mut self, e: Option<ConfigError>) {
        if let Some(e) = e {
            self.push(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prep(v: serde_json::Value) -> Result<Config, String> {
        prepare(
            &RawConfig::from_value(v),
            &kiln_test::build_cx("web", "docker"),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn checks_decode_from_json_and_hcl2_blocks() {
        let c = prep(json!({"checks": [
            {"name": "os", "inline": ["test -f /etc/os-release"], "expect_exit_codes": [0, 3],
             "expect_output": "^ok$", "timeout": "30s", "environment_vars": ["A=b"]},
            {"inline": ["true"]}
        ], "environment_vars": ["ALL=1"], "timeout": "1m", "junit_output": "out/{{.BuildName}}.xml"}))
        .unwrap();
        assert_eq!(c.checks.len(), 2);
        assert_eq!(c.checks[0].name, "os");
        assert_eq!(c.checks[0].expect_exit_codes, [0, 3]);
        assert_eq!(c.checks[0].timeout, Duration::from_secs(30));
        assert_eq!(c.checks[0].environment_vars, ["ALL=1", "A=b"]);
        assert!(c.checks[0].expect_output.as_ref().unwrap().is_match("ok"));
        // Defaults: the name is the command, the timeout the top-level one.
        assert_eq!(c.checks[1].name, "true");
        assert_eq!(c.checks[1].expect_exit_codes, [0]);
        assert_eq!(c.checks[1].timeout, Duration::from_secs(60));
        assert_eq!(c.junit_output.as_deref(), Some("out/{{.BuildName}}.xml"));
        // HCL2's blocks arrive as a `check` list.
        let c = prep(json!({"check": [{"name": "a", "inline": ["true"]}]})).unwrap();
        assert_eq!(c.checks[0].name, "a");
        assert_eq!(c.checks[0].timeout, DEFAULT_TIMEOUT);
        // The shorthand.
        let c = prep(json!({"inline": ["echo hi"], "expect_output": "hi"})).unwrap();
        assert_eq!(c.checks[0].source, Source::Inline(vec!["echo hi".into()]));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let e = prep(json!({"checks": [
            {"inline": ["a"], "script": "x.sh"},
            {"name": "n"},
            {"name": "r", "inline": ["a"], "expect_output": "(", "timeout": "5q",
             "environment_vars": ["NOPE"], "expect_exit_codes": []},
            {"name": "s", "scripts": ["/nonexistent/a.sh"]},
            {"name": "r", "inline": ["b"]},
            {"name": "x", "inline": ["b"], "bogus": 1}
        ], "timeout": "-"}))
        .unwrap_err();
        // An unknown nested key is a decode error.
        assert!(e.contains("bogus"), "{e}");
        let e = prep(json!({"checks": [
            {"inline": ["a"], "script": "x.sh"},
            {"name": "n"},
            {"name": "r", "inline": ["a"], "expect_output": "(", "timeout": "5q",
             "environment_vars": ["NOPE"], "expect_exit_codes": []},
            {"name": "s", "scripts": ["/nonexistent/a.sh"]},
            {"name": "d", "inline": ["b"]},
            {"name": "d", "inline": ["c"]}
        ], "timeout": "-"}))
        .unwrap_err();
        for want in [
            "`checks[0]` may have only one of `inline`, `script` or `scripts`",
            "`checks[1]` needs one of `inline`, `script` or `scripts`",
            "not a valid regular expression",
            "checks[2].timeout",
            "not in format 'key=value': `NOPE`",
            "`expect_exit_codes` is empty",
            "bad script `/nonexistent/a.sh`",
            "`checks[5].name`: two checks are named `d`",
            "`timeout`",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
        let e = prep(json!({})).unwrap_err();
        assert!(e.contains("at least one check is needed"), "{e}");
        let e = prep(json!({"inline": ["a"], "checks": [{"inline": ["b"]}]})).unwrap_err();
        assert!(e.contains("not both"), "{e}");
        let e = prep(json!({"inline": ["a"], "junit_output": "{{ nope"})).unwrap_err();
        assert!(e.contains("junit_output"), "{e}");
    }
}
