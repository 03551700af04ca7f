//! The `packer { required_version = "…", required_plugins { … } }` block:
//! the version constraint is checked against the Packer version kiln is
//! compatible with; required plugins that kiln has built in are accepted
//! with a warning, the others are left to plugin discovery (kiln-plugin),
//! which resolves them against the installed plugins.

use hcl::Value;
use kiln_sdk::config::{ConfigErrors, Location};

use super::eval::{self, at, located};
use super::parser::BlockAst;

/// Plugins whose components kiln has built in: a `required_plugins` entry
/// naming one of them is satisfied.
pub const BUILTIN_PLUGINS: &[&str] = &["docker", "qemu"];

/// Checks a version against a constraint such as `>= 1.7.0, < 2.0` (the
/// operators `=`, `!=`, `>`, `>=`, `<`, `<=` and `~>`).
pub fn satisfies(version: &str, constraint: &str) -> Result<bool, String> {
    let v = parse_version(version).ok_or_else(|| format!("invalid version `{version}`"))?;
    for part in constraint.split(',') {
        let part = part.trim();
        if part.is_empty() {
            return Err(format!("invalid version constraint `{constraint}`"));
        }
        let (op, rest) = ["~>", ">=", "<=", "!=", ">", "<", "="]
            .iter()
            .find_map(|op| part.strip_prefix(op).map(|r| (*op, r.trim())))
            .unwrap_or(("=", part));
        let want =
            parse_version(rest).ok_or_else(|| format!("invalid version constraint `{part}`"))?;
        let segments = rest.trim_start_matches('v').split('.').count();
        let ok = match op {
            "=" => v == want,
            "!=" => v != want,
            ">" => v > want,
            ">=" => v >= want,
            "<" => v < want,
            "<=" => v <= want,
            _ => {
                // `~> 1.2.3` allows 1.2.x (>= 1.2.3); `~> 1.2` allows 1.x.
                let keep = segments.saturating_sub(1).max(1);
                v >= want && v[..keep] == want[..keep]
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn parse_version(s: &str) -> Option<Vec<u64>> {
    let core = s.trim().trim_start_matches('v').split(['-', '+']).next()?;
    let mut parts: Vec<u64> = core
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    parts.resize(3, 0);
    Some(parts)
}

/// Decodes and checks a `packer` block, returning warnings.
pub fn check_packer_block(block: &BlockAst, errors: &mut ConfigErrors) -> Vec<String> {
    let mut warnings = Vec::new();
    block.body.check_schema(
        "the `packer` block",
        &["required_version"],
        &["required_plugins"],
        errors,
    );
    if let Some(a) = block.body.attr("required_version") {
        match eval::eval_constant(&a.value, "the `packer` block") {
            Ok(Value::String(c)) => {
                let have = kiln_sdk::PACKER_COMPAT_VERSION;
                match satisfies(have, &c) {
                    Ok(true) => {}
                    Ok(false) => errors.push(
                        at(
                            &a.value,
                            format!("this template requires Packer `{c}`; kiln is compatible with Packer {have}"),
                        )
                        .with_hint("relax `required_version`, or use a Packer release that satisfies it"),
                    ),
                    Err(e) => errors.push(at(&a.value, e)),
                }
            }
            Ok(v) => errors.push(at(
                &a.value,
                format!(
                    "`required_version` must be a string, found {}",
                    eval::kind(&v)
                ),
            )),
            Err(e) => errors.push(e),
        }
    }
    for rp in block.body.blocks_of("required_plugins") {
        for plugin in &rp.body.attrs {
            let source = match eval::eval_constant(&plugin.value, "`required_plugins`") {
                Ok(Value::Object(o)) => o.get("source").map(eval::display).unwrap_or_default(),
                Ok(Value::String(s)) => s,
                Ok(_) => String::new(),
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let short = source
                .rsplit('/')
                .next()
                .unwrap_or(&plugin.name)
                .trim_start_matches("packer-plugin-");
            if BUILTIN_PLUGINS.contains(&plugin.name.as_str()) || BUILTIN_PLUGINS.contains(&short) {
                warnings.push(format!(
                    "{}: plugin `{}` is built into kiln; its `required_plugins` entry is not needed",
                    plugin.key_location, plugin.name
                ));
            }
            // Any other entry is resolved against the installed plugins by
            // the binary (kiln-plugin's discovery), which reports missing
            // ones with this entry's location.
        }
        for b in &rp.body.blocks {
            errors.push(located(
                &b.location,
                format!("unexpected block `{}` in `required_plugins`", b.ident),
            ));
        }
    }
    warnings
}

/// Where the `packer` block was, for messages about duplicates.
pub fn location(block: &BlockAst) -> &Location {
    &block.location
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints() {
        let cases = [
            ("1.6.6", ">= 1.6.0", true),
            ("1.6.6", ">= 1.7.0", false),
            ("1.6.6", ">= 1.5, < 2.0", true),
            ("1.6.6", "~> 1.6.0", true),
            ("1.6.6", "~> 1.5.0", false),
            ("1.6.6", "~> 1.2", true),
            ("1.6.6", "!= 1.6.6", false),
            ("1.6.6", "1.6.6", true),
            ("1.6.6", "= v1.6.6", true),
        ];
        for (v, c, want) in cases {
            assert_eq!(satisfies(v, c), Ok(want), "{v} {c}");
        }
        assert!(satisfies("1.6.6", ">= x").is_err());
        assert!(satisfies("1.6.6", "").is_err());
    }
}
