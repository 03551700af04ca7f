//! The docs stay true to the registry: every built-in component has a page
//! under docs/ that docs/README.md links, and every option a page lists in
//! its option tables (a table whose header starts with `key` and has a
//! `meaning`, `default` or `notes` column) is a key the component's config
//! accepts: preparing the component with that key alone never reports it as
//! an unknown configuration key.

use std::path::{Path, PathBuf};

use kiln_sdk::config::{ConfigErrors, RawConfig};
use kiln_sdk::PrepareContext;

/// Keys kiln's core takes off every block before its component sees it.
const CORE_KEYS: &[&str] = &[
    "type",
    "name",
    "only",
    "except",
    "override",
    "pause_before",
    "max_retries",
    "timeout",
    "keep_input_artifact",
];

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

fn cx(builder_type: &str) -> PrepareContext {
    PrepareContext {
        build_name: "docs".into(),
        builder_type: builder_type.into(),
        interpolation: Default::default(),
        redactor: Default::default(),
        debug: false,
        force: false,
        on_error: Default::default(),
        template_dir: ".".into(),
    }
}

/// The option keys a page documents: the backticked identifiers in the
/// first cell of each row of its option tables (`a.b` counts as `a`).
fn documented_keys(page: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut in_options = false;
    for line in page.lines() {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
        if !line.trim_start().starts_with('|') {
            in_options = false;
            continue;
        }
        let first = cells[0].trim();
        if first == "key" {
            let header = line.to_lowercase();
            in_options = ["meaning", "default", "notes"]
                .iter()
                .any(|w| header.contains(w));
            continue;
        }
        if !in_options || first.starts_with("---") {
            continue;
        }
        // Parenthesised text names nested keys or values (`source_ami_filter
        // (`filters`, `owners`)`), not the component's own keys.
        let mut depth = 0usize;
        let first: String = first
            .chars()
            .filter(|c| {
                match c {
                    '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    _ => return depth == 0,
                }
                false
            })
            .collect();
        for (i, part) in first.split('`').enumerate() {
            if i % 2 == 0 {
                continue;
            }
            let key = part.split(['.', '[', ' ', '=']).next().unwrap_or("");
            let is_ident = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if is_ident && !CORE_KEYS.contains(&key) && !keys.iter().any(|k| k == key) {
                keys.push(key.to_string());
            }
        }
    }
    keys
}

fn unknown_key(errors: &ConfigErrors, key: &str) -> bool {
    let needle = format!("unknown configuration key `{key}`");
    errors.0.iter().any(|e| e.message.contains(&needle))
}

/// Checks one component's page; returns the problems found.
fn check_page(
    kind: &str,
    name: &str,
    readme: &str,
    prepare: &dyn Fn(&RawConfig) -> Option<ConfigErrors>,
) -> Vec<String> {
    let rel = format!("{kind}/{name}.md");
    let mut problems = Vec::new();
    let Ok(page) = std::fs::read_to_string(docs().join(&rel)) else {
        return vec![format!("{kind} `{name}` has no page docs/{rel}")];
    };
    if !readme.contains(&format!("({rel})")) {
        problems.push(format!("docs/README.md does not link docs/{rel}"));
    }
    for key in documented_keys(&page) {
        let raw = RawConfig::from_value(serde_json::json!({ key.clone(): "x" }));
        if prepare(&raw).is_some_and(|e| unknown_key(&e, &key)) {
            problems.push(format!(
                "docs/{rel} documents `{key}`, which {kind} `{name}` does not accept"
            ));
        }
    }
    problems
}

#[test]
fn every_component_has_a_true_page() {
    let readme = std::fs::read_to_string(docs().join("README.md")).expect("docs/README.md");
    let r = kiln_registry::builtin();
    let mut problems = Vec::new();
    for b in &r.builders {
        problems.extend(check_page("builders", b.name(), &readme, &|raw| {
            b.prepare(raw, &cx(b.name())).err()
        }));
    }
    for p in &r.provisioners {
        problems.extend(check_page("provisioners", p.name(), &readme, &|raw| {
            p.prepare(raw, &cx("null")).err()
        }));
    }
    for p in &r.post_processors {
        problems.extend(check_page("post-processors", p.name(), &readme, &|raw| {
            p.prepare(raw, &cx("null")).err()
        }));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_page_naming_an_unknown_key_is_caught() {
    let readme = "(provisioners/sleep.md)";
    let page_keys = documented_keys("| key | type | default | meaning |\n| --- | --- | --- | --- |\n| `duration`, `bogus_key` | string | | x |\n");
    assert_eq!(page_keys, ["duration", "bogus_key"]);
    let r = kiln_registry::builtin();
    let sleep = r.provisioner("sleep").unwrap();
    let raw = RawConfig::from_value(serde_json::json!({"bogus_key": "x"}));
    let errors = sleep.prepare(&raw, &cx("null")).err().expect("an error");
    assert!(unknown_key(&errors, "bogus_key"), "{errors}");
    // And the real page passes.
    assert!(check_page("provisioners", "sleep", readme, &|raw| sleep
        .prepare(raw, &cx("null"))
        .err())
    .is_empty());
}
