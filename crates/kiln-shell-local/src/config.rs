//! The shell-local configuration shared by the provisioner and the
//! post-processor: decoding, Packer 1.6.6's defaults and every validation
//! rule, collected into one [`ConfigErrors`]. Its only I/O is checking that
//! the `script`/`scripts` files exist, as Packer does at validate. Holds no
//! resources; nothing to clean up.

use std::time::Duration;

use kiln_sdk::config::decode_prepared;
use kiln_sdk::interpolate;
use kiln_sdk::shell_env::is_key_value;
use kiln_sdk::{ConfigError, ConfigErrors, PrepareContext, RawConfig};
use serde::Deserialize;

use crate::envfmt::EnvVarFormat;

/// `execute_command` when none is given: the script path runs directly, so
/// `script`/`scripts` files must be executable, as in Packer.
pub const DEFAULT_EXECUTE_COMMAND: [&str; 3] = ["/bin/sh", "-c", "{{.Vars}} {{.Script}}"];

/// `inline_shebang` when none is given.
pub const DEFAULT_INLINE_SHEBANG: &str = "/bin/sh -e";

/// `env_var_format` when none is given.
pub const DEFAULT_ENV_VAR_FORMAT: &str = "%s='%s' ";

/// The operating system names `only_on` accepts (Go's `GOOS` values).
pub const SUPPORTED_OS: [&str; 6] = [
    "darwin", "freebsd", "linux", "openbsd", "solaris", "windows",
];

/// How long a cancelled script gets between SIGTERM and SIGKILL.
pub(crate) const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(5);

/// Keys rendered at run time instead of at decode time: they may use the
/// builder's generated data (`{{.PackerHTTPAddr}}`) and, for
/// `execute_command`, `{{.Vars}}`, `{{.Script}}` and `{{.Command}}`.
const RUN_TIME_KEYS: [&str; 5] = [
    "execute_command",
    "inline",
    "command",
    "environment_vars",
    "env",
];

/// The keys exactly as a template writes them (Packer's names).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Fields {
    command: String,
    inline: Option<Vec<String>>,
    script: String,
    scripts: Vec<String>,
    environment_vars: Vec<String>,
    /// Today's Packer (packer-plugin-sdk `shell.Provisioner.Env`): a map,
    /// applied after `environment_vars`, so it wins. Not in Packer 1.6.6.
    env: std::collections::BTreeMap<String, String>,
    env_var_format: String,
    execute_command: Vec<String>,
    inline_shebang: String,
    only_on: Vec<String>,
    use_linux_pathing: bool,
    valid_exit_codes: Vec<i32>,
    tempfile_extension: String,
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// Commands written to one temporary script (`inline`, or `command`).
    Inline(Vec<String>),
    /// Script files run as they are (`script`, or `scripts`), paths as given.
    Scripts(Vec<String>),
}

/// Which component the config is for; they differ in one backwards
/// compatibility rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    /// `provisioners: [{"type": "shell-local"}]`.
    Provisioner,
    /// `post-processors: [{"type": "shell-local"}]`: a one-element
    /// `execute_command` (the pre-1.3 string form) gets `sh -c` in front.
    PostProcessor,
}

/// Where a script's variables are passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarsIn {
    /// The child process's environment; `{{.Vars}}` renders empty.
    Environment,
    /// `{{.Vars}}` in the user's `execute_command`.
    Command,
}

/// A validated shell-local configuration with every default applied.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub source: Source,
    /// `KEY=value` strings, not yet interpolated.
    pub environment_vars: Vec<String>,
    /// `env`: name to value, values not yet interpolated.
    pub env: std::collections::BTreeMap<String, String>,
    pub env_var_format: EnvVarFormat,
    /// argv, not yet interpolated.
    pub execute_command: Vec<String>,
    /// Where the script's variables go: with the default `execute_command`,
    /// into the child's environment (and `{{.Vars}}` is empty), so that
    /// `ps` does not show them in `/bin/sh -c` arguments as Packer's does;
    /// with a user's `execute_command`, into `{{.Vars}}` as in Packer.
    pub vars_in: VarsIn,
    pub inline_shebang: String,
    pub only_on: Vec<String>,
    pub use_linux_pathing: bool,
    pub valid_exit_codes: Vec<i32>,
    /// Without the leading dot.
    pub tempfile_extension: Option<String>,
    /// From the prepare context; `PACKER_BUILD_NAME`.
    pub build_name: String,
    /// From the prepare context; `PACKER_BUILDER_TYPE`.
    pub builder_type: String,
    /// SIGTERM-to-SIGKILL grace period on cancellation.
    pub kill_grace: Duration,
}

/// Decodes and validates a shell-local block, reporting every problem.
pub(crate) fn prepare(
    raw: &RawConfig,
    cx: &PrepareContext,
    variant: Variant,
) -> Result<Settings, ConfigErrors> {
    let (fields, mut errors) = decode_prepared::<Fields>(raw, cx, &RUN_TIME_KEYS)?;

    let source = choose_source(&fields, &mut errors);
    // Packer 1.6.6 checks the script files at validate (`Bad script`).
    if let Some(Source::Scripts(_)) = &source {
        kiln_sdk::config::check_scripts(&fields.script, &fields.scripts, &mut errors);
    }

    check_syntax(
        &mut errors,
        "command",
        std::slice::from_ref(&fields.command),
        false,
    );
    if let Some(inline) = &fields.inline {
        check_syntax(&mut errors, "inline", inline, true);
    }
    check_syntax(
        &mut errors,
        "execute_command",
        &fields.execute_command,
        true,
    );
    check_syntax(
        &mut errors,
        "environment_vars",
        &fields.environment_vars,
        true,
    );

    kiln_sdk::shell_env::check_env(&fields.env, &mut errors);
    for (i, var) in fields.environment_vars.iter().enumerate() {
        // A templated entry may only become `KEY=value` once rendered; it is
        // checked again at run time.
        if !var.contains("{{") && !is_key_value(var) {
            errors.push(ConfigError::at(
                format!("environment_vars[{i}]"),
                format!("expected `KEY=value`, found `{var}`"),
            ));
        }
    }

    for (i, os) in fields.only_on.iter().enumerate() {
        if !SUPPORTED_OS.contains(&os.as_str()) {
            errors.push(ConfigError::at(
                format!("only_on[{i}]"),
                format!(
                    "unknown operating system `{os}`; expected one of {}",
                    SUPPORTED_OS.map(|s| format!("`{s}`")).join(", ")
                ),
            ));
        }
    }

    if fields.use_linux_pathing && matches!(source, Some(Source::Inline(_))) {
        errors.push(ConfigError::at(
            if fields.command.is_empty() {
                "inline"
            } else {
                "command"
            },
            "`use_linux_pathing` cannot be combined with `inline` or `command` \
             (the Windows Subsystem for Linux cannot run kiln's temporary files); \
             use `script` or `scripts`",
        ));
    }

    let env_var_format = if fields.env_var_format.is_empty() {
        EnvVarFormat::parse(DEFAULT_ENV_VAR_FORMAT).ok()
    } else {
        match EnvVarFormat::parse(&fields.env_var_format) {
            Ok(f) => Some(f),
            Err(e) => {
                errors.push(ConfigError::at("env_var_format", e));
                None
            }
        }
    };

    let vars_in = if fields.execute_command.is_empty() {
        VarsIn::Environment
    } else {
        VarsIn::Command
    };
    let mut execute_command = if fields.execute_command.is_empty() {
        DEFAULT_EXECUTE_COMMAND.map(String::from).to_vec()
    } else {
        fields.execute_command
    };
    if variant == Variant::PostProcessor && execute_command.len() == 1 {
        execute_command.splice(0..0, ["sh".to_string(), "-c".to_string()]);
    }

    let valid_exit_codes = if fields.valid_exit_codes.is_empty() {
        vec![0]
    } else {
        fields.valid_exit_codes
    };

    let inline_shebang = if fields.inline_shebang.is_empty() {
        DEFAULT_INLINE_SHEBANG.to_string()
    } else {
        fields.inline_shebang
    };

    let tempfile_extension = fields
        .tempfile_extension
        .strip_prefix('.')
        .unwrap_or(&fields.tempfile_extension)
        .to_string();
    if tempfile_extension.contains('/') {
        errors.push(ConfigError::at(
            "tempfile_extension",
            format!("`{tempfile_extension}` is not a file extension: it contains `/`"),
        ));
    }

    match (source, env_var_format) {
        (Some(source), Some(env_var_format)) if errors.is_empty() => Ok(Settings {
            source,
            environment_vars: fields.environment_vars,
            env: fields.env,
            env_var_format,
            execute_command,
            vars_in,
            inline_shebang,
            only_on: fields.only_on,
            use_linux_pathing: fields.use_linux_pathing,
            valid_exit_codes,
            tempfile_extension: (!tempfile_extension.is_empty()).then_some(tempfile_extension),
            build_name: cx.build_name.clone(),
            builder_type: cx.builder_type.clone(),
            kill_grace: DEFAULT_KILL_GRACE,
        }),
        _ => Err(errors.locate(raw)),
    }
}

/// Applies Packer's "exactly one of" rules for `command`, `inline`,
/// `script` and `scripts`. `inline: []` counts as set when another option is
/// (Packer rejects that combination too) but not as something to run.
fn choose_source(f: &Fields, errors: &mut ConfigErrors) -> Option<Source> {
    let inline_given = f.inline.is_some();
    let inline = f.inline.as_deref().unwrap_or_default();
    let given: Vec<&str> = [
        ("command", !f.command.is_empty()),
        ("inline", inline_given),
        ("script", !f.script.is_empty()),
        ("scripts", !f.scripts.is_empty()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();

    if f.command.is_empty() && inline.is_empty() && f.script.is_empty() && f.scripts.is_empty() {
        let e = ConfigError::new("one of `command`, `inline`, `script` or `scripts` is required");
        errors.push(match given.first() {
            Some(k) => ConfigError::at(*k, format!("`{k}` is empty; {}", e.message)),
            None => e,
        });
        return None;
    }
    // `command` plus an empty `inline` is accepted by Packer.
    let conflicting = given.len() > 1 && !(given == ["command", "inline"] && inline.is_empty());
    if conflicting {
        errors.push(ConfigError::at(
            given[1],
            format!(
                "only one of `command`, `inline`, `script` or `scripts` may be set, found {}",
                given
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        ));
        return None;
    }
    Some(if !f.command.is_empty() {
        Source::Inline(vec![f.command.clone()])
    } else if !inline.is_empty() {
        Source::Inline(inline.to_vec())
    } else if !f.script.is_empty() {
        Source::Scripts(vec![f.script.clone()])
    } else {
        Source::Scripts(f.scripts.clone())
    })
}

/// Reports template syntax errors in keys whose rendering waits until run
/// time, so `kiln validate` still catches them.
fn check_syntax(errors: &mut ConfigErrors, key: &str, values: &[String], list: bool) {
    for (i, value) in values.iter().enumerate() {
        if let Err(e) = interpolate::check_syntax(value) {
            let path = if list {
                format!("{key}[{i}]")
            } else {
                key.to_string()
            };
            errors.push(ConfigError::at(path, e.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_test::build_cx;
    use serde_json::json;
    fn prep(v: serde_json::Value) -> Result<Settings, ConfigErrors> {
        prepare(
            &RawConfig::from_value(v),
            &build_cx("web", "null"),
            Variant::Provisioner,
        )
    }

    fn errs(v: serde_json::Value) -> String {
        prep(v).unwrap_err().to_string()
    }

    #[test]
    fn applies_packer_defaults() {
        let s = prep(json!({"inline": ["echo {{build_name}}"]})).unwrap();
        assert_eq!(s.source, Source::Inline(vec!["echo {{build_name}}".into()]));
        assert_eq!(s.execute_command, DEFAULT_EXECUTE_COMMAND.map(String::from));
        assert_eq!(s.inline_shebang, "/bin/sh -e");
        assert_eq!(s.valid_exit_codes, vec![0]);
        assert_eq!(s.env_var_format.format("K", "v"), "K='v' ");
        assert_eq!(s.tempfile_extension, None);
        assert_eq!(
            (s.build_name.as_str(), s.builder_type.as_str()),
            ("web", "null")
        );
    }

    /// Two empty script files in a temporary directory.
    fn two_scripts() -> (tempfile::TempDir, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let [a, b] = ["a.sh", "b.sh"].map(|n| {
            let p = dir.path().join(n);
            std::fs::write(&p, "").unwrap();
            p.display().to_string()
        });
        (dir, a, b)
    }

    #[test]
    fn command_and_script_become_sources() {
        let (_dir, a, b) = two_scripts();
        let s = prep(json!({"command": "echo hi"})).unwrap();
        assert_eq!(s.source, Source::Inline(vec!["echo hi".into()]));
        let s = prep(json!({"script": a, "tempfile_extension": ".sh"})).unwrap();
        assert_eq!(s.source, Source::Scripts(vec![a.clone()]));
        assert_eq!(s.tempfile_extension.as_deref(), Some("sh"));
        let s = prep(json!({"scripts": [a, b], "valid_exit_codes": [0, "3"]})).unwrap();
        assert_eq!(s.source, Source::Scripts(vec![a.clone(), b.clone()]));
        assert_eq!(s.valid_exit_codes, vec![0, 3]);
        // Packer accepts `command` with an empty `inline`.
        assert!(prep(json!({"command": "x", "inline": []})).is_ok());
    }

    #[test]
    fn missing_scripts_are_reported_at_validate_like_packer() {
        // packer 1.6.6 `validate`: "Bad script 'missing.sh': stat missing.sh:
        // no such file or directory", for `script` and each of `scripts`.
        let (_dir, a, _) = two_scripts();
        let text = errs(json!({"script": "/nonexistent/one.sh"}));
        assert!(
            text.contains("`script`: bad script `/nonexistent/one.sh`: no such file or directory"),
            "{text}"
        );
        let text = errs(json!({"scripts": [a, "/nonexistent/two.sh"]}));
        assert!(
            text.contains("`scripts[1]`: bad script `/nonexistent/two.sh`"),
            "{text}"
        );
        assert!(!text.contains("scripts[0]"), "{text}");
    }

    #[test]
    fn requires_exactly_one_source() {
        let text = errs(json!({}));
        assert!(
            text.contains("one of `command`, `inline`, `script` or `scripts` is required"),
            "{text}"
        );
        let text = errs(json!({"inline": []}));
        assert!(text.contains("`inline`: `inline` is empty"), "{text}");
        let text = errs(json!({"inline": ["a"], "script": "s.sh"}));
        assert!(
            text.contains("only one of `command`, `inline`, `script` or `scripts` may be set, found `inline` and `script`"),
            "{text}"
        );
        let text = errs(json!({"scripts": ["a"], "inline": []}));
        assert!(text.contains("found `inline` and `scripts`"), "{text}");
    }

    #[test]
    fn collects_every_error() {
        let text = errs(json!({
            "inline": ["a", "{{ user `x` "],
            "environment_vars": ["=a", "b", "C=ok", "{{user `x`}}"],
            "only_on": ["linux", "plan9"],
            "env_var_format": "%s",
            "execute_command": ["sh", "-c", "{{.Vars"],
        }));
        for want in [
            "`inline[1]`: template syntax error",
            "`environment_vars[0]`: expected `KEY=value`, found `=a`",
            "`environment_vars[1]`: expected `KEY=value`, found `b`",
            "`only_on[1]`: unknown operating system `plan9`",
            "`env_var_format`: `%s` has 1 `%s` placeholder(s)",
            "`execute_command[2]`: template syntax error",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
        assert!(!text.contains("C=ok"), "{text}");
        assert!(!text.contains("environment_vars[3]"), "{text}");
    }

    #[test]
    fn decode_errors_are_reported() {
        let text = errs(json!({"inline": ["a"], "valid_exit_codes": ["x"], "inlin": 1}));
        assert!(
            text.contains("`valid_exit_codes[0]`: expected an integer"),
            "{text}"
        );
        assert!(text.contains("did you mean `inline`?"), "{text}");
        // `env` arrived after Packer 1.6.6; today's Packer has it
        // (packer-plugin-sdk shell.Provisioner.Env), and so does kiln.
        let s = prep(json!({"inline": ["a"], "env": {"A": "b", "B": "{{ build `ID` }}"}})).unwrap();
        assert_eq!(s.env["A"], "b");
        assert_eq!(s.env["B"], "{{ build `ID` }}");
        assert!(errs(json!({"inline": ["a"], "env": {"A": "{{ nope"}})).contains("`env.A`"));
        assert!(errs(json!({"inline": ["a"], "env": ["A=b"]})).contains("`env`"));
    }

    #[test]
    fn linux_pathing_needs_scripts() {
        let text = errs(json!({"inline": ["a"], "use_linux_pathing": true}));
        assert!(
            text.contains("`use_linux_pathing` cannot be combined"),
            "{text}"
        );
        let (_dir, a, _) = two_scripts();
        assert!(prep(json!({"script": a, "use_linux_pathing": true})).is_ok());
    }

    #[test]
    fn run_time_keys_are_not_rendered_while_preparing() {
        let s = prep(json!({
            "inline": ["echo {{.PackerHTTPAddr}}"],
            "environment_vars": ["A={{ build `ID` }}"],
            "execute_command": ["sh", "-c", "{{.Vars}} {{.Script}}"],
            "inline_shebang": "/bin/{{build_type}}",
        }))
        .unwrap();
        assert_eq!(
            s.source,
            Source::Inline(vec!["echo {{.PackerHTTPAddr}}".into()])
        );
        assert_eq!(s.environment_vars, vec!["A={{ build `ID` }}".to_string()]);
        assert_eq!(s.execute_command[2], "{{.Vars}} {{.Script}}");
        assert_eq!(s.inline_shebang, "/bin/null");
    }

    #[test]
    fn post_processor_wraps_a_single_execute_command() {
        let raw =
            RawConfig::from_value(json!({"inline": ["a"], "execute_command": "echo {{.Script}}"}));
        let s = prepare(&raw, &build_cx("web", "null"), Variant::PostProcessor).unwrap();
        assert_eq!(s.execute_command, vec!["sh", "-c", "echo {{.Script}}"]);
        let s = prepare(&raw, &build_cx("web", "null"), Variant::Provisioner).unwrap();
        assert_eq!(s.execute_command, vec!["echo {{.Script}}"]);
    }
}
