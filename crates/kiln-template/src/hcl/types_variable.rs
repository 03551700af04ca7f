//! `variable "name" { … }` and `variables { name = default }` blocks, and
//! the values they end up with. Precedence, last wins: `default` <
//! `PKR_VAR_name` < `*.auto.pkrvars.hcl` (lexical order) < each
//! `-var-file` in order (`.pkrvars.hcl` or JSON) < `-var`. The given
//! values are read and converted to the declared type in the parse phase
//! ([`collect_inputs`]), as Packer's; defaults, unset required variables
//! and every `validation` rule come later ([`resolve`]).

use std::path::Path;
use std::sync::Arc;

use hcl::{Map, Value};
use kiln_sdk::config::{ConfigError, ConfigErrors, Location};

use super::eval::{self, at, located, Scope};
use super::parser::{self, hint_for, BlockAst, BodyAst, Expr, SourceFile};
use super::types_constraint::{convert, parse_type, Type};
use crate::plan::VariableInputs;

/// One `validation` rule.
#[derive(Clone, Debug)]
pub struct Validation {
    /// Must be true for the value to be accepted.
    pub condition: Expr,
    /// What to say when it is not.
    pub error_message: Expr,
}

/// A declared input variable.
#[derive(Clone, Debug)]
pub struct VariableDecl {
    /// Its name.
    pub name: String,
    /// Where it is declared.
    pub location: Location,
    /// `type` (`any` when not given).
    pub ty: Type,
    /// `default`, unevaluated.
    pub default: Option<Expr>,
    /// `description`.
    pub description: Option<String>,
    /// `sensitive`.
    pub sensitive: bool,
    /// `nullable` (default true): when false, `null` means "use the default".
    pub nullable: bool,
    /// `validation` blocks.
    pub validations: Vec<Validation>,
}

const VARIABLE_ATTRS: &[&str] = &["type", "default", "description", "sensitive", "nullable"];

fn valid_name(name: &str) -> bool {
    let mut c = name.chars();
    c.next().is_some_and(|f| f.is_alphabetic() || f == '_')
        && c.all(|ch| ch.is_alphanumeric() || ch == '_' || ch == '-')
}

fn const_bool(body: &BodyAst, key: &str, default: bool, errors: &mut ConfigErrors) -> bool {
    let Some(a) = body.attr(key) else {
        return default;
    };
    match eval::eval_constant(&a.value, "a variable declaration") {
        Ok(Value::Bool(b)) => b,
        Ok(Value::String(s)) if s == "true" || s == "false" => s == "true",
        Ok(v) => {
            errors.push(at(
                &a.value,
                format!("`{key}` must be a bool, found {}", eval::kind(&v)),
            ));
            default
        }
        Err(e) => {
            errors.push(e);
            default
        }
    }
}

/// Packer reads a variable's `type` as an exact type (hashicorp/packer
/// hcl2template/types.variables.go uses hcl's `typeexpr.Type`), so `any`
/// and `optional(…)` attributes are errors there: what is inexact in `ty`,
/// with a hint.
fn inexact(ty: &Type) -> Option<(&'static str, &'static str)> {
    match ty {
        Type::Any => Some((
            "`any`",
            "Packer wants an exact type: leave `type` out to accept any value, or name it (`string`, `list(string)`, …)",
        )),
        Type::List(t) | Type::Set(t) | Type::Map(t) => inexact(t),
        Type::Tuple(ts) => ts.iter().find_map(inexact),
        Type::Object(attrs) => attrs.iter().find_map(|a| {
            if a.optional {
                Some((
                    "`optional(…)`",
                    "Packer wants an exact type: make the attribute required and give it in the `default`",
                ))
            } else {
                inexact(&a.ty)
            }
        }),
        Type::String | Type::Number | Type::Bool => None,
    }
}

/// Decodes a `variable "name"` block.
pub fn decode_variable(block: &BlockAst, errors: &mut ConfigErrors) -> Option<VariableDecl> {
    let [name] = block.labels.as_slice() else {
        errors.push(located(
            &block.location,
            format!(
                "a `variable` block takes one label, the variable's name; found {}",
                block.labels.len()
            ),
        ));
        return None;
    };
    if !valid_name(name) {
        errors.push(located(
            &block.location,
            format!("invalid variable name `{name}`"),
        ));
        return None;
    }
    block.body.check_schema(
        &format!("variable `{name}`"),
        VARIABLE_ATTRS,
        &["validation"],
        errors,
    );
    let ty = match block.body.attr("type") {
        Some(a) => {
            match parse_type(&a.value.expr) {
                Ok(t) => {
                    if let Some((what, hint)) = inexact(&t) {
                        errors.push(
                        at(&a.value, format!("variable `{name}`: {what} cannot be used in a variable's `type`"))
                            .with_hint(hint),
                    );
                    }
                    t
                }
                Err(e) => {
                    errors.push(at(&a.value, format!("variable `{name}`: {e}")));
                    Type::Any
                }
            }
        }
        None => Type::Any,
    };
    let description = block.body.attr("description").and_then(|a| {
        match eval::eval_constant(&a.value, "a variable declaration") {
            Ok(v) => Some(eval::display(&v)),
            Err(e) => {
                errors.push(e);
                None
            }
        }
    });
    let mut validations = Vec::new();
    for v in block.body.blocks_of("validation") {
        v.body.check_schema(
            "a `validation` block",
            &["condition", "error_message"],
            &[],
            errors,
        );
        match (v.body.attr("condition"), v.body.attr("error_message")) {
            (Some(c), Some(m)) => {
                check_validation(name, &c.value, &m.value, errors);
                validations.push(Validation {
                    condition: c.value.clone(),
                    error_message: m.value.clone(),
                })
            }
            (c, _) => errors.push(located(
                &v.location,
                format!(
                    "variable `{name}`: a `validation` block needs `{}`",
                    if c.is_none() {
                        "condition"
                    } else {
                        "error_message"
                    }
                ),
            )),
        }
    }
    Some(VariableDecl {
        name: name.clone(),
        location: block.location.clone(),
        ty,
        default: block.body.attr("default").map(|a| a.value.clone()),
        description,
        sensitive: const_bool(&block.body, "sensitive", false, errors),
        nullable: const_bool(&block.body, "nullable", true, errors),
        validations,
    })
}

/// What Packer checks of a `validation` block when it decodes it
/// (hashicorp/packer hcl2template/types.variables.go
/// `decodeVariableValidationBlock`): the condition refers to the variable
/// itself and to no other, and a literal `error_message` is at least one
/// sentence ([`looks_like_sentences`]).
fn check_validation(name: &str, condition: &Expr, message: &Expr, errors: &mut ConfigErrors) {
    let refs = eval::references(&condition.expr);
    let var_refs: Vec<_> = refs.iter().filter(|r| r.root == "var").collect();
    if let Some(other) = var_refs.iter().find(|r| r.attr.as_deref() != Some(name)) {
        // `var["x"]` or `lookup(var, …)` use `var` as a whole.
        let shown = match other.attr.as_deref() {
            Some(a) => format!("var.{a}"),
            None => "var".to_string(),
        };
        errors.push(
            at(
                condition,
                format!("the `validation` of variable `{name}` refers to `{shown}`"),
            )
            .with_hint(format!(
                "a validation can only use the variable itself, `var.{name}`"
            )),
        );
    } else if var_refs.is_empty() {
        errors.push(
            at(
                condition,
                format!(
                    "the `validation` condition of variable `{name}` does not use `var.{name}`"
                ),
            )
            .with_hint("the condition tests the value given to the variable"),
        );
    }
    if eval::references(&message.expr).is_empty() {
        if let Ok(Value::String(m)) = eval::eval_constant(message, "a validation message") {
            if !looks_like_sentences(&m) {
                errors.push(
                    at(message, format!("the `error_message` of variable `{name}` is not a sentence"))
                        .with_hint("Packer wants at least one full sentence: an uppercase first letter (when it starts with a letter) and a final `.`, `?` or `!`"),
                );
            }
        }
    }
}

/// Packer's `looksLikeSentences` (hashicorp/packer
/// hcl2template/types.variables.go): trimmed, the text is not empty, its
/// first character is an uppercase letter or not a letter at all, and it
/// ends with `.`, `?` or `!`.
fn looks_like_sentences(s: &str) -> bool {
    let s = s.trim();
    let (Some(first), Some(last)) = (s.chars().next(), s.chars().last()) else {
        return false;
    };
    if first.is_alphabetic() && !first.is_uppercase() {
        return false;
    }
    matches!(last, '.' | '?' | '!')
}

/// Decodes a `variables { a = 1 }` block: each attribute declares an
/// untyped variable with that default.
pub fn decode_variables_block(block: &BlockAst, errors: &mut ConfigErrors) -> Vec<VariableDecl> {
    for b in &block.body.blocks {
        errors.push(located(
            &b.location,
            format!("unexpected block `{}` in a `variables` block", b.ident),
        ));
    }
    block
        .body
        .attrs
        .iter()
        .map(|a| VariableDecl {
            name: a.name.clone(),
            location: a.key_location.clone(),
            ty: Type::Any,
            default: Some(a.value.clone()),
            description: None,
            sensitive: false,
            nullable: true,
            validations: Vec::new(),
        })
        .collect()
}

/// The final variable values.
#[derive(Clone, Debug, Default)]
pub struct ResolvedVariables {
    /// Name to value.
    pub values: Map<String, Value>,
    /// The names of sensitive variables.
    pub sensitive: Vec<String>,
    /// Non-fatal remarks (undeclared names in var files…).
    pub warnings: Vec<String>,
    /// The values given to sensitive variables, as given, valid or not:
    /// they are masked even in errors about them.
    pub sensitive_inputs: Vec<String>,
}

/// `message` with every occurrence of each of the `secrets` masked, the
/// longest first (so a secret containing another is masked whole).
fn mask_values(message: &str, secrets: &[String]) -> String {
    let mut secrets: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.iter().fold(message.to_string(), |m, s| {
        m.replace(s.as_str(), kiln_sdk::ui::REDACTED)
    })
}

/// What to hide of a sensitive value: the value as a whole (as
/// [`eval::display`] shows it), then each string inside a list, map or
/// object, since messages and outputs may show an element alone (`a number is
/// required at `[0]``, a list printed one element a line).
pub fn sensitive_texts(value: &Value) -> Vec<String> {
    fn leaves(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Null => {}
            Value::Array(items) => items.iter().for_each(|i| leaves(i, out)),
            Value::Object(map) => map.values().for_each(|i| leaves(i, out)),
            // Numbers and bools inside a collection (a port, `true`) are
            // not masked on their own: masking every `22` or `1` in the
            // output would hide more than it protects.
            Value::String(_) => out.push(eval::display(v)),
            _ => {}
        }
    }
    let mut out = vec![eval::display(value)];
    if matches!(value, Value::Array(_) | Value::Object(_)) {
        leaves(value, &mut out);
    }
    out.retain(|s| !s.is_empty());
    out.dedup();
    out
}

/// Where a value was set, for messages.
#[derive(Clone, Debug)]
struct Setting {
    value: Value,
    from: String,
    location: Option<Location>,
}

/// Reads a value given as text (`-var`, `PKR_VAR_`): taken literally for
/// primitive and `any` types, parsed as an HCL expression otherwise.
fn value_from_text(text: &str, ty: &Type) -> Result<Value, String> {
    if ty.is_primitive() || *ty == Type::Any {
        return Ok(Value::String(text.to_string()));
    }
    let src = format!("v = {text}\n");
    let file = SourceFile::new("<value>".into(), &src);
    let body = parser::parse_file(&file, &src).map_err(|e| {
        format!(
            "cannot parse `{text}` as a value of type `{ty}`: {}",
            e.0.first().map(|e| e.message.as_str()).unwrap_or("")
        )
    })?;
    let a = body
        .attr("v")
        .ok_or_else(|| format!("cannot parse `{text}` as a value of type `{ty}`"))?;
    eval::eval_constant(&a.value, "a command-line value").map_err(|e| e.message)
}

/// Reads the assignments of a `.pkrvars.hcl` file (or JSON object file).
pub fn read_var_file(
    path: &Path,
    errors: &mut ConfigErrors,
) -> Vec<(String, Value, Option<Location>)> {
    let display: Arc<str> = path.to_string_lossy().into();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(ConfigError::new(format!(
                "cannot read variable file `{display}`: {e}"
            )));
            return Vec::new();
        }
    };
    if display.ends_with(".json") {
        return match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(o)) => o
                .iter()
                .map(|(k, v)| (k.clone(), eval::from_json(v), None))
                .collect(),
            Ok(other) => {
                errors.push(ConfigError::new(format!(
                    "variable file `{display}` must hold a JSON object, found {}",
                    match other {
                        serde_json::Value::Array(_) => "an array",
                        serde_json::Value::String(_) => "a string",
                        _ => "a scalar",
                    }
                )));
                Vec::new()
            }
            Err(e) => {
                let mut ce = ConfigError::new(format!("invalid JSON in variable file: {e}"));
                ce.location = Some(Location {
                    file: display,
                    line: e.line().max(1),
                    column: e.column().max(1),
                });
                errors.push(ce);
                Vec::new()
            }
        };
    }
    let file = SourceFile::new(display.clone(), &text);
    let body = match parser::parse_file(&file, &text) {
        Ok(b) => b,
        Err(e) => {
            errors.0.extend(e.0);
            return Vec::new();
        }
    };
    for b in &body.blocks {
        let mut e = located(
            &b.location,
            format!(
                "a variable file can only assign values; found a `{}` block",
                b.ident
            ),
        );
        if b.ident == "variable" {
            e = e.with_hint(
                "declare variables in the template, and set them here with `name = value`",
            );
        }
        errors.push(e);
    }
    body.attrs
        .iter()
        .filter_map(|a| match eval::eval_constant(&a.value, "a variable file") {
            Ok(v) => Some((a.name.clone(), v, Some(a.value.location.clone()))),
            Err(e) => {
                errors.push(e);
                None
            }
        })
        .collect()
}

/// A declaration's default, evaluated where `env` is allowed and other
/// variables are not, and converted to the declared type; `None` when it
/// has none.
fn default_value(d: &VariableDecl, path_root: &str) -> Option<Result<Value, ConfigError>> {
    let e = d.default.as_ref()?;
    let scope = Scope {
        allow_env: true,
        path_root: path_root.to_string(),
        what: "a variable default",
        ..Scope::default()
    };
    let evaluated = scope.eval(e).map_err(|mut err| {
        if err.message.starts_with("call to unknown function") {
            err.hint = Some(
                "a variable default can only call `env`; compute the value in a `locals` block"
                    .into(),
            );
        }
        err
    });
    Some(evaluated.and_then(|v| {
        convert(&v, &d.ty).map_err(|msg| {
            at(
                e,
                format!("invalid default for variable `{}`: {msg}", d.name),
            )
            .with_hint(format!(
                "the default must fit the variable's type, `{}`",
                d.ty
            ))
        })
    }))
}

/// Reports the defaults that cannot be evaluated or do not fit their
/// variable's type. Packer checks them when it parses the template
/// (hashicorp/packer hcl2template/types.variables.go
/// `decodeVariableBlock`), so `validate -syntax-only` reports them.
pub fn check_defaults(decls: &[VariableDecl], path_root: &str, errors: &mut ConfigErrors) {
    for d in decls {
        if let Some(Err(e)) = default_value(d, path_root) {
            errors.push(e);
        }
    }
}

/// The values given to the declared variables from outside the template,
/// collected and converted to each variable's type in the parse phase, as
/// Packer's `Parse` does (hashicorp/packer hcl2template/parser.go calls
/// `collectInputVariableValues` in hcl2template/types.variables.go with
/// `os.Environ()`, the auto var files then each `-var-file`, and the
/// `-var` values), so `validate -syntax-only` and `inspect` report a bad
/// one too. [`resolve`] adds defaults and validation rules later, without
/// reading or reporting any of this again.
#[derive(Clone, Debug, Default)]
pub struct InputValues {
    /// Variable name to the last value given to it, with where it came from.
    settings: std::collections::HashMap<String, Setting>,
    /// Variables given a value that was rejected: not reported as "not
    /// set" on top of that.
    rejected: std::collections::HashSet<String>,
    /// Non-fatal remarks (undeclared names in var files).
    pub warnings: Vec<String>,
    /// The values given to sensitive variables, as given, valid or not.
    pub sensitive_inputs: Vec<String>,
}

/// Reports a value given as text (`PKR_VAR_`, `-var`) that cannot be read
/// as a value of `d`'s type: `prefix: msg`, `msg` (which may quote `text`)
/// masked when `d` is sensitive, `text` kept as a secret for the redactor,
/// and `d` marked rejected, so it is not also reported as not set.
fn reject_text(
    out: &mut InputValues,
    d: &VariableDecl,
    text: &str,
    prefix: String,
    msg: String,
    errors: &mut ConfigErrors,
) {
    out.rejected.insert(d.name.clone());
    let msg = if d.sensitive {
        out.sensitive_inputs.push(text.to_string());
        mask_values(&msg, &[text.to_string()])
    } else {
        msg
    };
    errors.push(ConfigError::new(format!("{prefix}: {msg}")));
}

/// Collects the values of `decls` given by `PKR_VAR_name`, then the
/// `*.auto.pkrvars.hcl` files found beside the template (`auto_files`, in
/// lexical order), then each `-var-file` in order, then `-var`: the last
/// one wins. Every problem (a file that cannot be read, a `variable` block
/// in a var file, a value that does not fit its type, an undefined `-var`)
/// goes to `errors`.
pub fn collect_inputs(
    decls: &[VariableDecl],
    auto_files: &[std::path::PathBuf],
    inputs: &VariableInputs,
    errors: &mut ConfigErrors,
) -> InputValues {
    let mut out = InputValues::default();
    let find = |name: &str| decls.iter().find(|d| d.name == name);
    let names: Vec<&str> = decls.iter().map(|d| d.name.as_str()).collect();
    let set = |out: &mut InputValues,
               d: &VariableDecl,
               value: Value,
               from: String,
               location: Option<Location>,
               errors: &mut ConfigErrors| {
        if d.sensitive {
            // The given value is a secret even when it is not a valid one:
            // messages never quote it, and the redactor masks it in the
            // source lines errors show.
            out.sensitive_inputs.extend(sensitive_texts(&value));
        }
        match convert(&value, &d.ty) {
            Ok(v) => {
                out.settings.insert(
                    d.name.clone(),
                    Setting {
                        value: v,
                        from,
                        location,
                    },
                );
            }
            Err(msg) => {
                out.rejected.insert(d.name.clone());
                let msg = if d.sensitive {
                    mask_values(&msg, &sensitive_texts(&value))
                } else {
                    msg
                };
                let mut e = ConfigError::new(format!(
                    "invalid value for variable `{}` from {from}: {msg}",
                    d.name
                ));
                e.location = location.or_else(|| Some(d.location.clone()));
                errors.push(e);
            }
        }
    };

    // 1. PKR_VAR_name.
    for d in decls {
        if let Ok(text) = std::env::var(format!("PKR_VAR_{}", d.name)) {
            match value_from_text(&text, &d.ty) {
                Ok(v) => set(
                    &mut out,
                    d,
                    v,
                    format!("`PKR_VAR_{}`", d.name),
                    None,
                    errors,
                ),
                Err(msg) => reject_text(
                    &mut out,
                    d,
                    &text,
                    format!("variable `{}` from `PKR_VAR_{}`", d.name, d.name),
                    msg,
                    errors,
                ),
            }
        }
    }

    // 2. Auto var files, then each -var-file in order. Packer tells a
    // var file's format by its extension, and rejects any other.
    for path in auto_files.iter().chain(&inputs.var_files) {
        let shown = path.to_string_lossy();
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("hcl" | "json")
        ) {
            errors.push(
                ConfigError::new(format!("cannot tell the format of variable file `{shown}`"))
                    .with_hint(
                    "a variable file's name ends in `.hcl` (such as `vars.pkrvars.hcl`) or `.json`",
                ),
            );
            continue;
        }
        for (name, value, location) in read_var_file(path, errors) {
            match find(&name) {
                Some(d) => set(&mut out, d, value, format!("`{shown}`"), location, errors),
                None => out.warnings.push(format!(
                    "{}variable `{name}` is set in `{shown}` but not declared{}",
                    location
                        .as_ref()
                        .map(|l| format!("{l}: "))
                        .unwrap_or_default(),
                    hint_for(&name, names.iter().copied())
                        .map(|h| format!("; {h}"))
                        .unwrap_or_default(),
                )),
            }
        }
    }

    // 3. -var, always last.
    for (name, text) in &inputs.vars {
        match find(name) {
            Some(d) => match value_from_text(text, &d.ty) {
                Ok(v) => set(&mut out, d, v, "`-var`".into(), None, errors),
                Err(msg) => reject_text(&mut out, d, text, format!("`-var {name}=…`"), msg, errors),
            },
            None => {
                let mut e = ConfigError::new(format!("`-var`: undefined variable `{name}`"));
                e.hint = hint_for(name, names.iter().copied())
                    .or_else(|| Some(format!("declare it with a `variable \"{name}\"` block")));
                errors.push(e);
            }
        }
    }
    out
}

/// Resolves every declared variable's value: the value `given` by
/// [`collect_inputs`] in the parse phase, else its default; then runs the
/// `validation` rules and reports required variables left unset.
pub fn resolve(
    decls: &[VariableDecl],
    given: &InputValues,
    path_root: &str,
    errors: &mut ConfigErrors,
) -> ResolvedVariables {
    let mut out = ResolvedVariables {
        warnings: given.warnings.clone(),
        sensitive_inputs: given.sensitive_inputs.clone(),
        ..ResolvedVariables::default()
    };
    let mut settings: Vec<Option<Setting>> = Vec::with_capacity(decls.len());
    for d in decls {
        // A default that cannot be evaluated or does not fit the type was
        // reported by `check_defaults` in the parse phase: the variable is
        // then left unset (and not reported as required).
        let default = match default_value(d, path_root) {
            Some(Ok(v)) => Some(Setting {
                value: v,
                from: "its default".into(),
                location: d.default.as_ref().map(|e| e.location.clone()),
            }),
            _ => None,
        };
        settings.push(match given.settings.get(&d.name) {
            // `nullable = false`: null means "use the default".
            Some(s) if s.value.is_null() && !d.nullable => Some(Setting {
                value: default.map(|s| s.value).unwrap_or(Value::Null),
                ..s.clone()
            }),
            Some(s) => Some(s.clone()),
            None => default,
        });
    }

    for (i, d) in decls.iter().enumerate() {
        match &settings[i] {
            Some(s) => {
                out.values.insert(d.name.clone(), s.value.clone());
            }
            None => {
                if d.default.is_none() && !given.rejected.contains(&d.name) {
                    let mut e =
                        ConfigError::new(format!("required variable `{}` is not set", d.name))
                            .with_hint(format!(
                                "pass it with `-var '{}=…'`, a `-var-file`, or `PKR_VAR_{}`",
                                d.name, d.name
                            ));
                    e.location = Some(d.location.clone());
                    errors.push(e);
                }
                out.values.insert(d.name.clone(), Value::Null);
            }
        }
        if d.sensitive {
            out.sensitive.push(d.name.clone());
        }
    }

    // Validation rules see the variable itself.
    for (i, d) in decls.iter().enumerate() {
        let Some(s) = &settings[i] else { continue };
        for v in &d.validations {
            let mut only = Map::new();
            only.insert(d.name.clone(), s.value.clone());
            let scope = Scope {
                vars: Some(only),
                path_root: path_root.to_string(),
                what: "a validation rule",
                ..Scope::default()
            };
            match scope.eval(&v.condition) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => {
                    let msg = scope
                        .eval(&v.error_message)
                        .map(|m| eval::display(&m))
                        .unwrap_or_else(|e| e.message);
                    let mut e =
                        ConfigError::new(format!("invalid value for variable `{}`: {msg}", d.name))
                            .with_hint(format!(
                                "the value comes from {}{}; the rule is at {}",
                                s.from,
                                s.location
                                    .as_ref()
                                    .map(|l| format!(" ({l})"))
                                    .unwrap_or_default(),
                                v.condition.location
                            ));
                    e.location = Some(v.condition.location.clone());
                    errors.push(e);
                }
                Ok(other) => errors.push(at(
                    &v.condition,
                    format!(
                        "a validation `condition` must be a bool, found {}",
                        eval::kind(&other)
                    ),
                )),
                Err(e) => errors.push(e),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decls(src: &str) -> Vec<VariableDecl> {
        let f = SourceFile::new("t.pkr.hcl".into(), src);
        let body = parser::parse_file(&f, src).unwrap();
        let mut errors = ConfigErrors::new();
        let mut out = Vec::new();
        for b in &body.blocks {
            match b.ident.as_str() {
                "variable" => out.extend(decode_variable(b, &mut errors)),
                "variables" => out.extend(decode_variables_block(b, &mut errors)),
                _ => {}
            }
        }
        assert!(errors.is_empty(), "{errors}");
        out
    }

    #[test]
    fn precedence_default_var_file_then_var() {
        let d = decls(
            "variable \"a\" { default = \"d\" }\nvariable \"b\" { default = \"d\" }\nvariable \"n\" { type = number }\nvariables { c = \"d\" }\n",
        );
        let dir = tempfile::tempdir().unwrap();
        let auto = dir.path().join("x.auto.pkrvars.hcl");
        std::fs::write(&auto, "a = \"auto\"\nb = \"auto\"\nc = \"auto\"\n").unwrap();
        let vf = dir.path().join("v.pkrvars.hcl");
        std::fs::write(&vf, "b = \"file\"\nn = \"5\"\nundeclared = 1\n").unwrap();
        let jf = dir.path().join("v.json");
        std::fs::write(&jf, r#"{"c": "json"}"#).unwrap();
        let inputs = VariableInputs {
            var_files: vec![vf, jf],
            vars: vec![("a".into(), "cli".into())],
        };
        let mut errors = ConfigErrors::new();
        let given = collect_inputs(&d, &[auto], &inputs, &mut errors);
        let r = resolve(&d, &given, "/", &mut errors);
        assert!(errors.is_empty(), "{errors}");
        assert_eq!(r.values["a"], Value::from("cli"));
        assert_eq!(r.values["b"], Value::from("file"));
        assert_eq!(r.values["c"], Value::from("json"));
        assert_eq!(r.values["n"], Value::from(5));
        assert!(
            r.warnings[0].contains("variable `undeclared` is set in"),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn required_undeclared_and_validation_errors() {
        let d = decls(
            r#"
variable "r" {}
variable "size" {
  type    = number
  default = 3
  validation {
    condition     = var.size > 5
    error_message = "Size must be above 5."
  }
}
variable "l" {
  type = list(string)
  nullable = false
  default = ["x"]
}
"#,
        );
        let inputs = VariableInputs {
            var_files: vec![],
            vars: vec![
                ("sise".into(), "1".into()),
                ("l".into(), "[\"a\", 1]".into()),
            ],
        };
        let mut errors = ConfigErrors::new();
        let given = collect_inputs(&d, &[], &inputs, &mut errors);
        let r = resolve(&d, &given, "/", &mut errors);
        let text = errors.to_string();
        assert!(
            text.contains("`-var`: undefined variable `sise`\n  hint: did you mean `size`?"),
            "{text}"
        );
        assert!(text.contains("required variable `r` is not set"), "{text}");
        assert!(
            text.contains(
                "t.pkr.hcl:7:21: invalid value for variable `size`: Size must be above 5."
            ),
            "{text}"
        );
        assert_eq!(eval::to_json(&r.values["l"]), serde_json::json!(["a", "1"]));
    }

    // hashicorp/packer hcl2template/types.variables.go
    // `decodeVariableValidationBlock`.
    #[test]
    fn validation_blocks_are_checked_when_decoded() {
        let src = r#"
variable "a" {
  validation {
    condition     = var.b != ""
    error_message = "The value is set."
  }
}
variable "c" {
  validation {
    condition     = true
    error_message = "The value is set."
  }
}
variable "d" {
  validation {
    condition     = var.d != ""
    error_message = "the value must be set"
  }
}
variable "e" {
  validation {
    condition     = length(var.e) > 1
    error_message = "Is it long enough?"
  }
}
"#;
        let f = SourceFile::new("t.pkr.hcl".into(), src);
        let body = parser::parse_file(&f, src).unwrap();
        let mut errors = ConfigErrors::new();
        for b in &body.blocks {
            decode_variable(b, &mut errors);
        }
        let text = errors.to_string();
        assert!(
            text.contains("t.pkr.hcl:4:21: the `validation` of variable `a` refers to `var.b`"),
            "{text}"
        );
        assert!(
            text.contains(
                "t.pkr.hcl:10:21: the `validation` condition of variable `c` does not use `var.c`"
            ),
            "{text}"
        );
        assert!(
            text.contains("t.pkr.hcl:17:21: the `error_message` of variable `d` is not a sentence"),
            "{text}"
        );
        assert_eq!(errors.0.len(), 3, "{text}");
    }

    #[test]
    fn defaults_cannot_use_variables_but_can_use_env() {
        let src = "variable \"a\" { default = var.b }\nvariable \"b\" { default = \"x\" }\n";
        let d = decls(src);
        let mut errors = ConfigErrors::new();
        check_defaults(&d, "/", &mut errors);
        assert!(
            errors
                .to_string()
                .contains("`var.b` cannot be used in a variable default"),
            "{errors}"
        );
        // `resolve` leaves it unset, without reporting it again.
        let mut errors = ConfigErrors::new();
        let r = resolve(&d, &InputValues::default(), "/", &mut errors);
        assert!(errors.is_empty(), "{errors}");
        assert_eq!(r.values["a"], Value::Null);
        for (ty, want) in [
            ("any", "`any` cannot be used"),
            (
                "list(object({ a = optional(string) }))",
                "`optional(…)` cannot be used",
            ),
        ] {
            let src = format!("variable \"x\" {{\n  type = {ty}\n}}\n");
            let f = SourceFile::new("t.pkr.hcl".into(), &src);
            let body = parser::parse_file(&f, &src).unwrap();
            let mut errors = ConfigErrors::new();
            decode_variable(&body.blocks[0], &mut errors);
            assert!(
                errors
                    .to_string()
                    .contains(&format!("t.pkr.hcl:2:10: variable `x`: {want}")),
                "{errors}"
            );
        }
        let d = decls("variable \"n\" {\n  type    = number\n  default = \"many\"\n}\n");
        let mut errors = ConfigErrors::new();
        check_defaults(&d, "/", &mut errors);
        assert!(
            errors.to_string().contains(
                "t.pkr.hcl:3:13: invalid default for variable `n`: a number is required, found `many`"
            ),
            "{errors}"
        );
        // Only `env`: Packer evaluates defaults with `env` alone.
        let d = decls("variable \"t\" { default = formatdate(\"YYYY\", timestamp()) }\n");
        let mut errors = ConfigErrors::new();
        check_defaults(&d, "/", &mut errors);
        assert!(
            errors
                .to_string()
                .contains("call to unknown function `formatdate`")
                && errors
                    .to_string()
                    .contains("compute the value in a `locals` block"),
            "{errors}"
        );
        let d = decls("variable \"h\" { default = env(\"KILN_SURELY_UNSET_VAR\") }\n");
        let mut errors = ConfigErrors::new();
        let r = resolve(&d, &InputValues::default(), "/", &mut errors);
        assert!(errors.is_empty(), "{errors}");
        assert_eq!(r.values["h"], Value::from(""));
    }

    #[test]
    fn sensitive_collection_elements_are_masked_in_errors() {
        let d = decls("variable \"l\" {\n  type      = list(number)\n  sensitive = true\n}\n");
        let inputs = VariableInputs {
            var_files: vec![],
            vars: vec![("l".into(), "[\"hunter2\", 3]".into())],
        };
        let mut errors = ConfigErrors::new();
        let given = collect_inputs(&d, &[], &inputs, &mut errors);
        let text = errors.to_string();
        assert!(text.contains("invalid value for variable `l`"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            given.sensitive_inputs.iter().any(|s| s == "hunter2"),
            "{:?}",
            given.sensitive_inputs
        );
        // Numbers and bools inside a collection are not masked on their own.
        assert!(!given.sensitive_inputs.iter().any(|s| s == "3"));
        let v = Value::Array(vec![
            Value::from("a"),
            Value::Object([("k".to_string(), Value::from(true))].into_iter().collect()),
            Value::Null,
        ]);
        assert_eq!(sensitive_texts(&v), ["[\"a\",{\"k\":true},null]", "a"]);
    }

    #[test]
    fn unreadable_pkr_var_of_a_sensitive_variable_is_masked_and_rejected() {
        let d = decls(
            "variable \"kiln_ut_pkr_secret\" {\n  type      = list(string)\n  sensitive = true\n}\n",
        );
        std::env::set_var("PKR_VAR_kiln_ut_pkr_secret", "[\"hunter2\"");
        let mut errors = ConfigErrors::new();
        let given = collect_inputs(&d, &[], &VariableInputs::default(), &mut errors);
        std::env::remove_var("PKR_VAR_kiln_ut_pkr_secret");
        resolve(&d, &given, "/", &mut errors);
        let text = errors.to_string();
        assert!(
            text.contains(
                "variable `kiln_ut_pkr_secret` from `PKR_VAR_kiln_ut_pkr_secret`: cannot parse"
            ),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("is not set"), "{text}");
        assert_eq!(errors.0.len(), 1, "{text}");
        assert_eq!(given.sensitive_inputs, ["[\"hunter2\""]);
    }

    // hashicorp/packer hcl2template/types.variables.go `looksLikeSentences`.
    #[test]
    fn error_messages_are_checked_as_packer_does() {
        for ok in ["`x` must be set.", "1 or more.", "Too short!", "  Is it? "] {
            assert!(looks_like_sentences(ok), "{ok}");
        }
        for bad in ["lowercase start.", "No period", "", "   "] {
            assert!(!looks_like_sentences(bad), "{bad}");
        }
        let src = "variable \"a\" {\n  validation {\n    condition     = var[\"a\"] != \"\"\n    error_message = \"Too short!\"\n  }\n}\n";
        let f = SourceFile::new("t.pkr.hcl".into(), src);
        let body = parser::parse_file(&f, src).unwrap();
        let mut errors = ConfigErrors::new();
        decode_variable(&body.blocks[0], &mut errors);
        let text = errors.to_string();
        assert!(
            text.contains("t.pkr.hcl:3:21: the `validation` of variable `a` refers to `var`\n"),
            "{text}"
        );
        assert_eq!(errors.0.len(), 1, "{text}");
    }
}
