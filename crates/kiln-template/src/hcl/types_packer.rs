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

/// Checks a version against a constraint such as `>= 1.7.0, < 2.0`
/// (kiln-sdk's parser); unlike a plugin's, `required_version` may not be
/// empty.
pub fn satisfies(version: &str, constraint: &str) -> Result<bool, String> {
    if constraint.trim().is_empty() {
        return Err(format!("invalid version constraint `{constraint}`"));
    }
    kiln_sdk::version::satisfies(version, constraint)
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
