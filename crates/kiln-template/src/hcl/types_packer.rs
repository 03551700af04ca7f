//! The `packer { required_version = "…" required_plugins { … } }` blocks,
//! checked in the parse phase as today's Packer checks them
//! (hashicorp/packer hcl2template/parser.go `sniffCoreVersionRequirements`,
//! types.required_plugins.go, addrs/plugin.go), so `validate -syntax-only`
//! already rejects what Packer's does. Several `packer` blocks, in one file
//! or across a directory, are merged: every `required_version` must hold
//! and the `required_plugins` entries add up; only a plugin name required
//! twice is an error ([`check_duplicates`], Packer's `PluginRequirements`).
//! `required_version` is checked against [`kiln_sdk::PACKER_HCL2_VERSION`],
//! the Packer release whose HCL2 language kiln implements.

use hcl::Value;
use kiln_sdk::config::{ConfigErrors, Location};

use super::eval::{self, at, located};
use super::parser::{Attr, BlockAst};

/// The Packer plugins whose components kiln has built in: a
/// `required_plugins` entry with one of their sources is satisfied by kiln
/// itself (`kiln init` installs nothing for it). A new builder family adds
/// its plugin here; a test in the `kiln` crate checks every built-in
/// builder's family is listed.
pub const BUILTIN_PLUGINS: &[&str] = &[
    "alicloud",
    "amazon",
    "docker",
    "huaweicloud",
    "openstack",
    "qemu",
    "tencentcloud",
    "ucloud",
];

/// Where each of [`BUILTIN_PLUGINS`] is published: HashiCorp's own
/// `github.com/hashicorp/NAME`, but for the vendors' plugins.
const PLUGIN_SOURCES: &[(&str, &str)] = &[
    ("huaweicloud", "github.com/huaweicloud/huaweicloud"),
    ("ucloud", "github.com/ucloud/ucloud"),
];

/// The built-in plugin (an entry of [`BUILTIN_PLUGINS`]) a source names,
/// if any: only the plugin's own source (`github.com/hashicorp/NAME`, or
/// the vendor's), not a fork.
pub fn builtin_plugin(source: &str) -> Option<&'static str> {
    BUILTIN_PLUGINS.iter().copied().find(|name| {
        match PLUGIN_SOURCES.iter().find(|(n, _)| n == name) {
            Some((_, own)) => source == *own,
            None => source.strip_prefix("github.com/hashicorp/") == Some(*name),
        }
    })
}

/// A well-formed `required_plugins` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequiredPlugin {
    /// The local name, on the left of `=`.
    pub name: String,
    /// `source` (`HOST/NAMESPACE/NAME`).
    pub source: String,
    /// `version`, a constraint.
    pub version: String,
    /// Where the entry is written.
    pub location: Location,
}

impl RequiredPlugin {
    /// The built-in plugin that satisfies this entry, if kiln has it.
    pub fn builtin(&self) -> Option<&'static str> {
        builtin_plugin(&self.source)
    }
}

/// Checks every `packer` block of a template, reporting what Packer's parse
/// phase reports, and returns the well-formed `required_plugins` entries.
pub fn check_packer_blocks(blocks: &[BlockAst], errors: &mut ConfigErrors) -> Vec<RequiredPlugin> {
    let mut plugins = Vec::new();
    for block in blocks {
        if let Some(label) = block.labels.first() {
            errors.push(located(
                &block.location,
                format!("the `packer` block takes no label, found `{label}`"),
            ));
        }
        let before = errors.0.len();
        block.body.check_schema(
            "the `packer` block",
            &["required_version"],
            &["required_plugins"],
            errors,
        );
        for e in &mut errors.0[before..] {
            e.hint.get_or_insert_with(|| {
                "the `packer` block takes `required_version = \"…\"` and `required_plugins { … }`"
                    .into()
            });
        }
        if let Some(a) = block.body.attr("required_version") {
            check_required_version(a, errors);
        }
        for rp in block.body.blocks_of("required_plugins") {
            for b in &rp.body.blocks {
                errors.push(
                    located(
                        &b.location,
                        format!("unexpected block `{}` in `required_plugins`", b.ident),
                    )
                    .with_hint("write each plugin as `NAME = { source = \"…\", version = \"…\" }`"),
                );
            }
            plugins.extend(
                rp.body
                    .attrs
                    .iter()
                    .filter_map(|a| required_plugin(a, errors)),
            );
        }
    }
    plugins
}

/// `required_version`: a constant, valid constraint that the Packer release
/// kiln implements meets.
fn check_required_version(a: &Attr, errors: &mut ConfigErrors) {
    let c = match eval::eval_constant(&a.value, "the `packer` block") {
        Ok(Value::String(c)) => c,
        Ok(v) => {
            errors.push(at(
                &a.value,
                format!(
                    "`required_version` must be a string, found {}",
                    eval::kind(&v)
                ),
            ));
            return;
        }
        Err(e) => {
            errors.push(e);
            return;
        }
    };
    let have = kiln_sdk::PACKER_HCL2_VERSION;
    match constraint(&c).and_then(|()| kiln_sdk::version::satisfies(have, &c)) {
        Ok(true) => {}
        Ok(false) => errors.push(
            at(
                &a.value,
                format!(
                    "this template requires Packer `{c}`; kiln implements the HCL2 language of Packer {have}"
                ),
            )
            .with_hint("relax `required_version` if the template does not need a newer Packer"),
        ),
        Err(e) => errors.push(at(&a.value, format!("`required_version`: {e}")).with_hint(
            "a constraint is comma-separated conditions such as `>= 1.7.0, < 2.0.0`",
        )),
    }
}

/// Checks a constraint's syntax; unlike a plugin's discovery, the template
/// may not leave it empty.
fn constraint(c: &str) -> Result<(), String> {
    if c.trim().is_empty() {
        return Err("the version constraint is empty".into());
    }
    kiln_sdk::version::constraint_versions(c).map(drop)
}

/// One `NAME = { source = "…", version = "…" }` entry, checked as Packer's
/// `decodeRequiredPluginsBlock` does; every problem is reported.
fn required_plugin(a: &Attr, errors: &mut ConfigErrors) -> Option<RequiredPlugin> {
    let name = &a.name;
    let mut ok = true;
    if let Err(e) = plugin_part(name) {
        ok = false;
        let mut err = located(
            &a.key_location,
            format!("invalid plugin name `{name}`: {e}"),
        );
        if plugin_part(&name.to_lowercase()).is_ok() {
            err = err.with_hint(format!("write it `{}`", name.to_lowercase()));
        }
        errors.push(err);
    }
    let example = |version: &str| {
        format!("write it as `{name} = {{ source = \"github.com/hashicorp/{name}\", version = \"{version}\" }}`")
    };
    let fields = match eval::eval_constant(&a.value, "`required_plugins`") {
        Ok(Value::Object(o)) => o,
        Ok(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
            let shown = eval::display(&v);
            let version = if constraint(&shown).is_ok() {
                shown.as_str()
            } else {
                ">= 1.0.0"
            };
            errors.push(
                located(
                    &a.key_location,
                    format!("`{name} = \"{shown}\"`: a required plugin is an object with a `source` and a `version`"),
                )
                .with_hint(example(version)),
            );
            return None;
        }
        Ok(v) => {
            errors.push(
                at(
                    &a.value,
                    format!(
                        "required plugin `{name}` must be an object, found {}",
                        eval::kind(&v)
                    ),
                )
                .with_hint(example(">= 1.0.0")),
            );
            return None;
        }
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let mut string = |key: &str, hint: String| match fields.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => {
            errors.push(at(
                &a.value,
                format!(
                    "`{key}` of required plugin `{name}` must be a string, found {}",
                    eval::kind(v)
                ),
            ));
            None
        }
        None => {
            errors.push(
                at(&a.value, format!("required plugin `{name}` has no `{key}`")).with_hint(hint),
            );
            None
        }
    };
    let version = string(
        "version",
        "give a version constraint, such as `version = \">= 1.2.0, < 2.0.0\"`".into(),
    );
    let source = string(
        "source",
        format!("give where it comes from, such as `source = \"github.com/hashicorp/{name}\"`"),
    );
    for key in fields.keys().filter(|k| *k != "source" && *k != "version") {
        ok = false;
        errors.push(
            at(
                &a.value,
                format!("unsupported key `{key}` in required plugin `{name}`"),
            )
            .with_hint("a `required_plugins` entry takes `source` and `version`"),
        );
    }
    if let Some(v) = &version {
        if let Err(e) = plugin_constraint(v) {
            ok = false;
            errors.push(
                at(
                    &a.value,
                    format!("required plugin `{name}`: invalid version constraint `{v}`: {e}"),
                )
                .with_hint("use released versions, such as `version = \">= 1.2.0, < 2.0.0\"`"),
            );
        }
    }
    if let Some(s) = &source {
        if let Err((e, hint)) = plugin_source(s) {
            ok = false;
            let mut err = at(
                &a.value,
                format!("required plugin `{name}`: invalid source `{s}`: {e}"),
            );
            err.hint = Some(hint);
            errors.push(err);
        }
    }
    Some(RequiredPlugin {
        name: name.clone(),
        source: source?,
        version: version?,
        location: a.key_location.clone(),
    })
    .filter(|_| ok)
}

/// A plugin's version constraint: valid, and naming no pre-release (Packer
/// only installs releases: "Unsupported prerelease for constraint").
fn plugin_constraint(c: &str) -> Result<(), String> {
    constraint(c)?;
    for v in kiln_sdk::version::constraint_versions(c)? {
        if kiln_sdk::version::prerelease(v).is_some() {
            return Err(format!(
                "`{v}` is a pre-release, and only released plugin versions can be required"
            ));
        }
    }
    Ok(())
}

/// A plugin name, or the last part of a source: letters, digits and
/// dashes, as a DNS label (Packer's `addrs.ParsePluginPart`).
fn plugin_part(s: &str) -> Result<(), &'static str> {
    if s.is_empty() {
        Err("it is empty")
    } else if s.contains('.') {
        Err("dots are not allowed")
    } else if s.contains("--") {
        Err("it cannot have two dashes in a row")
    } else if s.starts_with('-') || s.ends_with('-') {
        Err("it cannot start or end with a dash")
    } else if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        Err("only lowercase letters, digits and dashes are allowed")
    } else {
        Ok(())
    }
}

/// A plugin source, as Packer's `addrs.ParsePluginSourceString` checks it:
/// `HOST/NAMESPACE/NAME` (at least two `/`, at most 16 parts), with no
/// scheme, query or fragment, and a name without the `packer-` prefix.
/// On error, the reason and a hint.
fn plugin_source(s: &str) -> Result<(), (String, String)> {
    let shape = "a source is `HOST/NAMESPACE/NAME`, such as `github.com/hashicorp/amazon`";
    let suggest =
        |fixed: String| format!("did you mean `{fixed}`? (a source is `HOST/NAMESPACE/NAME`)");
    let parts: Vec<&str> = s.split('/').collect();
    let last = parts.last().copied().unwrap_or_default();
    let reason = if s.contains("://") {
        Some("it cannot have a scheme (`https://`)")
    } else if s.contains('?') || s.contains('#') {
        Some("it cannot have a query (`?`) or a fragment (`#`)")
    } else if s.starts_with('/') || s.ends_with('/') || parts.iter().any(|p| p.is_empty()) {
        Some("its parts cannot be empty")
    } else if parts.len() < 3 {
        Some("it needs a host and a path of at least two parts")
    } else if parts.len() > 16 {
        Some("it has more than 16 parts")
    } else {
        None
    };
    if let Some(reason) = reason {
        let hint = match parts.as_slice() {
            [name] if plugin_part(name).is_ok() => suggest(format!("github.com/hashicorp/{name}")),
            [org, name] if plugin_part(name).is_ok() && !org.contains('.') => {
                suggest(format!("github.com/{org}/{name}"))
            }
            _ => shape.to_string(),
        };
        return Err((reason.to_string(), hint));
    }
    if let Some(short) = last.strip_prefix("packer-") {
        let short = short.strip_prefix("plugin-").unwrap_or(short);
        let fixed = format!("{}/{short}", parts[..parts.len() - 1].join("/"));
        return Err((
            "the name cannot start with `packer-`".into(),
            suggest(fixed),
        ));
    }
    plugin_part(last).map_err(|e| (format!("its name `{last}`: {e}"), shape.to_string()))
}

/// Packer's `PluginRequirements`: a plugin name required twice, in one
/// `packer` block or across blocks and files, is an error (reported by
/// `validate`, `build` and `init`, not `validate -syntax-only`).
pub fn check_duplicates(plugins: &[RequiredPlugin], errors: &mut ConfigErrors) {
    for (i, first) in super::duplicates(plugins, |p| &p.name) {
        let p = &plugins[i];
        errors.push(
            located(
                &p.location,
                format!("plugin `{}` is required twice", p.name),
            )
            .with_hint(format!(
                "it is already required at {}; each name in `required_plugins` can be given once",
                plugins[first].location
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hcl::parser::{parse_file, SourceFile};

    fn check(src: &str) -> (Vec<RequiredPlugin>, String) {
        let f = SourceFile::new("t.pkr.hcl".into(), src);
        let body = parse_file(&f, src).unwrap();
        let mut errors = ConfigErrors::new();
        let p = check_packer_blocks(&body.blocks, &mut errors);
        (p, errors.to_string())
    }

    #[test]
    fn required_version_is_checked_against_the_hcl2_release() {
        for ok in [">= 1.7.0", "~> 1.16", ">= 1.5, < 2.0", "= 1.16.1"] {
            let (_, e) = check(&format!("packer {{\n  required_version = \"{ok}\"\n}}\n"));
            assert!(e.is_empty(), "{ok}: {e}");
        }
        let (_, e) = check("packer {\n  required_version = \">= 1.17.0\"\n}\n");
        assert!(
            e.contains("t.pkr.hcl:2:22: this template requires Packer `>= 1.17.0`; kiln implements the HCL2 language of Packer 1.16.1"),
            "{e}"
        );
        let (_, e) = check("packer {\n  required_version = \">= x\"\n}\n");
        assert!(
            e.contains("`required_version`: invalid version constraint `>= x`"),
            "{e}"
        );
        let (_, e) = check("packer {\n  required_version = \"\"\n}\n");
        assert!(e.contains("the version constraint is empty"), "{e}");
    }

    // hashicorp/packer hcl2template/parser.go: `packerBlockSchema` has only
    // `required_version` and `required_plugins`.
    #[test]
    fn unknown_keys_of_the_packer_block() {
        let (_, e) = check("packer {\n  version = \">= 1.7.0\"\n}\n");
        assert!(
            e.contains("t.pkr.hcl:2:3: unsupported argument `version` in the `packer` block"),
            "{e}"
        );
        assert!(e.contains("hint: "), "{e}");
    }

    // hashicorp/packer hcl2template/types.required_plugins.go and
    // addrs/plugin.go.
    #[test]
    fn required_plugins_entries() {
        let (p, e) = check(
            r#"packer {
  required_plugins {
    amazon = { source = "github.com/hashicorp/amazon", version = ">= 1.2.0" }
    acme   = { source = "example.com/acme/thing", version = "~> 0.1" }
  }
}
"#,
        );
        assert!(e.is_empty(), "{e}");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].builtin(), Some("amazon"));
        assert_eq!(p[1].builtin(), None);

        for (entry, want) in [
            (r#"amazon = ">= 1.0""#, "`amazon = \">= 1.0\"`: a required plugin is an object with a `source` and a `version`"),
            (r#"amazon = { source = "amazon", version = ">= 1.0" }"#, "invalid source `amazon`: it needs a host and a path of at least two parts\n  hint: did you mean `github.com/hashicorp/amazon`?"),
            (r#"amazon = { source = "hashicorp/amazon", version = ">= 1.0" }"#, "invalid source `hashicorp/amazon`: it needs a host and a path of at least two parts\n  hint: did you mean `github.com/hashicorp/amazon`?"),
            (r#"amazon = { source = "https://github.com/hashicorp/amazon", version = ">= 1.0" }"#, "it cannot have a scheme"),
            (r#"amazon = { source = "github.com/hashicorp/packer-plugin-amazon", version = ">= 1.0" }"#, "did you mean `github.com/hashicorp/amazon`?"),
            (r#"amazon = { source = "github.com/hashicorp/amazon", version = ">= 1.0.0-dev" }"#, "invalid version constraint `>= 1.0.0-dev`: `1.0.0-dev` is a pre-release"),
            (r#"amazon = { source = "github.com/hashicorp/amazon", version = "one" }"#, "invalid version constraint `one`"),
            (r#"amazon = { source = "github.com/hashicorp/amazon" }"#, "required plugin `amazon` has no `version`"),
            (r#"amazon = { version = ">= 1.0" }"#, "required plugin `amazon` has no `source`"),
            (r#"amazon = { source = "github.com/hashicorp/amazon", version = ">= 1.0", sha = "x" }"#, "unsupported key `sha` in required plugin `amazon`"),
            (r#"Amazon = { source = "github.com/hashicorp/amazon", version = ">= 1.0" }"#, "invalid plugin name `Amazon`"),
        ] {
            let (p, e) = check(&format!("packer {{\n  required_plugins {{\n    {entry}\n  }}\n}}\n"));
            assert!(p.is_empty(), "{entry}");
            assert!(e.contains(want), "{entry}: {e}");
            assert!(e.contains("t.pkr.hcl:3:"), "{entry}: {e}");
        }
    }

    #[test]
    fn several_blocks_merge_and_a_plugin_required_twice_is_an_error() {
        let (p, e) = check(
            r#"packer {
  required_version = ">= 1.7.0"
}
packer {
  required_version = "< 2.0.0"
  required_plugins {
    docker = { source = "github.com/hashicorp/docker", version = ">= 1.0.0" }
  }
}
packer {
  required_plugins {
    docker = { source = "github.com/hashicorp/docker", version = ">= 1.1.0" }
  }
}
"#,
        );
        assert!(e.is_empty(), "{e}");
        let mut errors = ConfigErrors::new();
        check_duplicates(&p, &mut errors);
        let e = errors.to_string();
        assert!(
            e.contains("t.pkr.hcl:12:5: plugin `docker` is required twice\n  hint: it is already required at t.pkr.hcl:7:5"),
            "{e}"
        );
        // The same setting twice in one block is an HCL error.
        let src =
            "packer {\n  required_version = \">= 1.0.0\"\n  required_version = \">= 1.1.0\"\n}\n";
        let e = parse_file(&SourceFile::new("t.pkr.hcl".into(), src), src).unwrap_err();
        assert!(
            e.to_string().contains("t.pkr.hcl:3:3: invalid HCL")
                && e.to_string().contains("redefined attribute"),
            "{e}"
        );
    }

    #[test]
    fn builtin_plugins_are_hashicorps_own() {
        assert_eq!(builtin_plugin("github.com/hashicorp/qemu"), Some("qemu"));
        assert_eq!(builtin_plugin("github.com/someone/qemu"), None);
        assert_eq!(builtin_plugin("github.com/hashicorp/vsphere"), None);
        assert_eq!(
            builtin_plugin("github.com/hashicorp/tencentcloud"),
            Some("tencentcloud")
        );
        assert_eq!(builtin_plugin("github.com/ucloud/ucloud"), Some("ucloud"));
        assert_eq!(builtin_plugin("github.com/hashicorp/ucloud"), None);
        assert_eq!(
            builtin_plugin("github.com/huaweicloud/huaweicloud"),
            Some("huaweicloud")
        );
    }
}
