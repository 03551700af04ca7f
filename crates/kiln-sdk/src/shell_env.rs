//! The environment variables of Packer's shell provisioners
//! (packer-plugin-sdk `shell.Provisioner`: `environment_vars`, a list of
//! `KEY=value`, and `env`, a map applied after it so it wins), shared by
//! the remote `shell` provisioner and `shell-local`: the prepare-time check
//! of `env` and the run-time rendering of both, after the variables Packer
//! always sets, into one name-to-value map.

use std::collections::BTreeMap;

use crate::component::BuildError;
use crate::generated;
use crate::interpolate;
use crate::{ConfigError, ConfigErrors};

/// The generated-data keys of the HTTP server, the variable each becomes,
/// and the value a builder without an HTTP server reports.
const HTTP_VARS: [(&str, &str, &str); 3] = [
    (
        generated::PACKER_HTTP_ADDR,
        "PACKER_HTTP_ADDR",
        "ERR_HTTP_ADDR_NOT_IMPLEMENTED_BY_BUILDER",
    ),
    (
        generated::PACKER_HTTP_IP,
        "PACKER_HTTP_IP",
        "ERR_HTTP_IP_NOT_IMPLEMENTED_BY_BUILDER",
    ),
    (
        generated::PACKER_HTTP_PORT,
        "PACKER_HTTP_PORT",
        "ERR_HTTP_PORT_NOT_IMPLEMENTED_BY_BUILDER",
    ),
];

/// The variables Packer always sets: `PACKER_BUILD_NAME`,
/// `PACKER_BUILDER_TYPE`, and the `PACKER_HTTP_*` ones when the builder
/// runs an HTTP server (its `generated` data says so).
pub fn packer_vars(
    build_name: &str,
    builder_type: &str,
    generated: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    vars.insert("PACKER_BUILD_NAME".into(), build_name.into());
    vars.insert("PACKER_BUILDER_TYPE".into(), builder_type.into());
    for (key, var, not_implemented) in HTTP_VARS {
        if let Some(v) = generated.get(key) {
            if v != not_implemented {
                vars.insert(var.into(), v.clone());
            }
        }
    }
    vars
}

/// Whether `var` is `KEY=value` with a non-empty key.
pub fn is_key_value(var: &str) -> bool {
    matches!(var.split_once('='), Some((key, _)) if !key.is_empty())
}

/// Checks the template syntax of every `env` value (they are rendered at
/// run time), reporting each as `env.KEY`.
pub fn check_env(env: &BTreeMap<String, String>, errors: &mut ConfigErrors) {
    for (key, value) in env {
        if let Err(e) = interpolate::check_syntax(value) {
            errors.push(ConfigError::at(format!("env.{key}"), e.to_string()));
        }
    }
}

/// How [`render_into_as`] stores values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueForm {
    /// Single quotes escaped for the default `'%s'` quoting of
    /// `env_var_format`, as Packer does for `{{.Vars}}`.
    QuotedForVars,
    /// As rendered, for a process environment.
    Raw,
}

/// Renders `environment_vars`, then `env`, into `vars` (a later entry
/// replaces an earlier one of the same name, so `env` wins), with each
/// single quote in a value escaped for the default `'%s'` quoting of
/// `env_var_format`, as Packer does.
pub fn render_into(
    vars: &mut BTreeMap<String, String>,
    environment_vars: &[String],
    env: &BTreeMap<String, String>,
    ctx: &interpolate::Context,
) -> Result<(), BuildError> {
    render_into_as(vars, environment_vars, env, ctx, ValueForm::QuotedForVars)
}

/// [`render_into`], with the values stored in `form`.
pub fn render_into_as(
    vars: &mut BTreeMap<String, String>,
    environment_vars: &[String],
    env: &BTreeMap<String, String>,
    ctx: &interpolate::Context,
    form: ValueForm,
) -> Result<(), BuildError> {
    let store = |v: &str| match form {
        ValueForm::QuotedForVars => escape_single_quotes(v),
        ValueForm::Raw => v.to_string(),
    };
    for (i, raw) in environment_vars.iter().enumerate() {
        let rendered = interpolate::render(raw, ctx)
            .map_err(|e| BuildError::msg(format!("`environment_vars[{i}]`: {e}")))?;
        let Some((key, value)) = rendered.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(BuildError::msg(format!(
                "`environment_vars[{i}]`: expected `KEY=value`, found `{rendered}`"
            )));
        };
        vars.insert(key.to_string(), store(value));
    }
    for (key, raw) in env {
        let value = interpolate::render(raw, ctx)
            .map_err(|e| BuildError::msg(format!("`env.{key}`: {e}")))?;
        vars.insert(key.clone(), store(&value));
    }
    Ok(())
}

fn escape_single_quotes(value: &str) -> String {
    value.replace('\'', r#"'"'"'"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_wins_over_environment_vars() {
        let mut vars = BTreeMap::new();
        let env = BTreeMap::from([
            ("A".to_string(), "from env".to_string()),
            ("Q".to_string(), "it's".to_string()),
        ]);
        render_into(
            &mut vars,
            &["A=from list".into(), "B=x=y".into()],
            &env,
            &interpolate::Context::default(),
        )
        .unwrap();
        assert_eq!(vars["A"], "from env");
        assert_eq!(vars["B"], "x=y");
        assert_eq!(vars["Q"], r#"it'"'"'s"#);
        let e = render_into(
            &mut vars,
            &["=a".into()],
            &BTreeMap::new(),
            &Default::default(),
        );
        assert!(e.unwrap_err().to_string().contains("`environment_vars[0]`"));
    }

    #[test]
    fn checks_env_syntax_per_key() {
        let mut errors = ConfigErrors::default();
        check_env(
            &BTreeMap::from([("K".to_string(), "{{ nope".to_string())]),
            &mut errors,
        );
        assert!(errors.to_string().contains("`env.K`"), "{errors}");
        assert!(is_key_value("a=") && !is_key_value("=a") && !is_key_value("a"));
    }
}
