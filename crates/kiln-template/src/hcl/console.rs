//! `kiln console`'s evaluation: a template's variables, locals and data
//! sources evaluated once into a [`ConsoleScope`], one expression a line
//! evaluated in it ([`console_eval`]), and values printed as `packer
//! console` prints them ([`console_repr`]). Holds no state beyond the
//! scope; nothing to clean up.

use hcl::{Map, Value};
use kiln_sdk::config::{ConfigError, ConfigErrors};

use super::eval::{self, Scope};
use super::parser::{self, SourceFile};
use super::HclTemplate;

/// What `kiln console` evaluates expressions in: a template's variables,
/// locals and data sources (evaluated once), and the names of the
/// sensitive values.
#[derive(Clone, Debug, Default)]
pub struct ConsoleScope {
    /// The scope expressions see.
    pub scope: Scope,
    /// Sensitive variables (`var.X`) and locals (`local.X`): a result that
    /// refers to one is shown as `<sensitive>`.
    pub sensitive: Vec<String>,
}

/// Evaluates a template's variables (with the values [`parse_with`]
/// collected), locals and data sources for `kiln console`. With no
/// template, the scope is empty (functions only).
pub fn console_scope(t: Option<&HclTemplate>) -> (ConsoleScope, ConfigErrors) {
    let mut errors = ConfigErrors::new();
    let Some(t) = t else {
        return (
            ConsoleScope {
                scope: Scope {
                    vars: Some(Map::new()),
                    locals: Some(Map::new()),
                    data: Some(Map::new()),
                    path_root: ".".into(),
                    what: "the console",
                    ..Scope::default()
                },
                sensitive: Vec::new(),
            },
            errors,
        );
    };
    let (resolved, evaluated) = super::variables_and_locals(t, &mut errors);
    let mut sensitive: Vec<String> = resolved
        .sensitive
        .iter()
        .map(|v| format!("var.{v}"))
        .collect();
    sensitive.extend(
        evaluated
            .sensitive_locals
            .iter()
            .map(|l| format!("local.{l}")),
    );
    (
        ConsoleScope {
            scope: Scope {
                vars: Some(resolved.values),
                locals: Some(evaluated.locals),
                data: Some(evaluated.data),
                path_root: t.path_root.clone(),
                what: "the console",
                ..Scope::default()
            },
            sensitive,
        },
        errors,
    )
}

/// Parses and evaluates one console line. `Ok(None)` for a blank line; a
/// result derived from a sensitive value comes back as `<sensitive>`.
pub fn console_eval(cs: &ConsoleScope, line: &str) -> Result<Option<String>, ConfigError> {
    let text = line.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let file = SourceFile::new("<console>".into(), &format!("x = {text}\n"));
    let body = parser::parse_file(&file, &format!("x = {text}\n")).map_err(|mut e| {
        // The line is parsed as `x = <line>`: columns move back by four,
        // and an error at the end of input points just past the line.
        let mut first = e.0.remove(0);
        if let Some(l) = first.location.as_mut() {
            l.line = 1;
            l.column = l
                .column
                .saturating_sub(4)
                .clamp(1, text.chars().count() + 1);
        }
        if let Some(rest) = first.message.strip_prefix("invalid HCL: ") {
            first.message = format!("invalid expression: {rest}");
        }
        first
    })?;
    let Some(attr) = body
        .attrs
        .first()
        .filter(|_| body.attrs.len() == 1 && body.blocks.is_empty())
    else {
        return Err(ConfigError::new(format!("`{text}` is not one expression")));
    };
    let mut expr = attr.value.clone();
    expr.location.column = expr.location.column.saturating_sub(4).max(1);
    let v = cs.scope.eval(&expr)?;
    let refs = eval::references(&expr.expr);
    if refs.iter().any(|r| {
        r.attr
            .as_ref()
            .is_some_and(|a| cs.sensitive.contains(&format!("{}.{a}", r.root)))
    }) {
        return Ok(Some(kiln_sdk::ui::REDACTED.to_string()));
    }
    Ok(Some(console_repr(&v)))
}

/// A value as `packer console` prints it (Packer's `PrintableCtyValue`,
/// Terraform 0.11's REPL format): a string bare at the top level and
/// quoted inside, whole numbers as integers, others in Go's `%g`, lists
/// one element a line with a trailing comma, objects sorted by key as
/// `"key" = value`.
pub fn console_repr(v: &Value) -> String {
    console_repr_in(v, false)
}

fn console_repr_in(v: &Value, nested: bool) -> String {
    let indent = |s: String| format!("  {}", s.replace('\n', "\n  "));
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) if nested => go_quote(s),
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => (f as i64).to_string(),
            (None, Some(f)) => go_float(f),
            (None, None) => n.to_string(),
        },
        Value::Array(items) if items.is_empty() => "[]".into(),
        Value::Array(items) => {
            let mut out = String::from("[\n");
            for item in items {
                out.push_str(&indent(console_repr_in(item, true)));
                out.push_str(",\n");
            }
            out.push(']');
            out
        }
        Value::Object(map) if map.is_empty() => "{}".into(),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = String::from("{\n");
            for k in keys {
                let entry = format!("{} = {}", go_quote(k), console_repr_in(&map[k], true));
                out.push_str(&indent(entry));
                out.push('\n');
            }
            out.push('}');
            out
        }
    }
}

/// Go's `%q` of a string (`strconv.Quote`): printable characters as they
/// are, `"` and `\` escaped, control characters as `\n`, `\t`… or `\xNN`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%g` of a float with the shortest precision
/// (`strconv.FormatFloat(f, 'g', -1, 64)`): an exponent below -4 or from
/// 6 up switches to `1.2345675e+06` form.
fn go_float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval_in(cs: &ConsoleScope, expr: &str) -> String {
        console_eval(cs, expr).unwrap().unwrap()
    }

    /// Each expected text is what packer 1.6.6's `packer console` printed
    /// for the same expression.
    #[test]
    fn values_print_as_packer_prints_them() {
        let (cs, errors) = console_scope(None);
        assert!(errors.is_empty());
        for (expr, want) in [
            ("\"a${1 + 1}\"", "a2"),
            ("null", "null"),
            ("true", "true"),
            ("1.5", "1.5"),
            ("4 / 2", "2"),
            ("1234567.5", "1.2345675e+06"),
            ("0.00001", "1e-05"),
            ("[]", "[]"),
            ("{}", "{}"),
            ("[1, \"x\", true]", "[\n  1,\n  \"x\",\n  true,\n]"),
            (
                "{ owner = \"me\", n = 2 }",
                "{\n  \"n\" = 2\n  \"owner\" = \"me\"\n}",
            ),
            (
                "{a = {b = [1]}}",
                "{\n  \"a\" = {\n    \"b\" = [\n      1,\n    ]\n  }\n}",
            ),
            ("[\"q\\\"uote\\n\"]", "[\n  \"q\\\"uote\\n\",\n]"),
        ] {
            assert_eq!(eval_in(&cs, expr), want, "{expr}");
        }
    }

    #[test]
    fn go_quote_escapes_as_go_does() {
        assert_eq!(go_quote("a\"b\\c\td\u{1}é"), "\"a\\\"b\\\\c\\td\\x01é\"");
    }
}
