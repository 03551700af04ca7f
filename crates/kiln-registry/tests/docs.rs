//! The docs and the configs stay true to the registry. Every built-in
//! component, of all four kinds, has a name, a page under docs/ that
//! docs/README.md links, and a config that rejects unknown keys: a minimal
//! valid config is accepted, and the same config with one unknown key is a
//! config error naming that key. Every option a page lists in its option
//! tables (a table whose header starts with `key` and has a `meaning`,
//! `default` or `notes` column) is a key the component's config accepts:
//! preparing the component with that key alone never reports it as an
//! unknown configuration key.

use std::path::{Path, PathBuf};

use kiln_sdk::config::{ConfigErrors, RawConfig};
use kiln_test::{data_source_cx, prepare_cx};

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

/// Whether `errors` reject `key` as a key the component does not know:
/// `unknown configuration key` (decoded configs) or `unsupported
/// argument` (HCL2 data source blocks).
fn unknown_key(errors: &ConfigErrors, key: &str) -> bool {
    let needles = [
        format!("unknown configuration key `{key}`"),
        format!("unsupported argument `{key}`"),
    ];
    errors
        .0
        .iter()
        .any(|e| needles.iter().any(|n| e.message.contains(n)))
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
            b.prepare(raw, &prepare_cx(b.name())).err()
        }));
    }
    for p in &r.provisioners {
        problems.extend(check_page("provisioners", p.name(), &readme, &|raw| {
            p.prepare(raw, &prepare_cx("null")).err()
        }));
    }
    for p in &r.post_processors {
        problems.extend(check_page("post-processors", p.name(), &readme, &|raw| {
            p.prepare(raw, &prepare_cx("null")).err()
        }));
    }
    for d in &r.data_sources {
        problems.extend(check_page("data-sources", d.name(), &readme, &|raw| {
            d.prepare(raw, &data_source_cx(&format!("data.{}.docs", d.name())))
                .err()
        }));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The key no component has.
const UNKNOWN_KEY: &str = "kiln_unknown_key_xyz";

/// A minimal valid config of each built-in component, by kind and name.
/// A component missing here fails [`every_component_rejects_unknown_keys`]:
/// add its minimal config.
fn minimal_config(kind: &str, name: &str) -> Option<serde_json::Value> {
    use serde_json::json;
    Some(match (kind, name) {
        ("builders", "amazon-ebs") => json!({
            "region": "us-east-1",
            "source_ami": "ami-12345678",
            "instance_type": "t3.micro",
            "ami_name": "kiln-registry-test",
            "access_key": "AKIAEXAMPLE",
            "secret_key": "secret-key-value",
            "communicator": "none",
        }),
        ("builders", "alicloud-ecs") => json!({
            "region": "cn-beijing",
            "source_image": "centos_7_9_x64_20G_alibase_20200000.vhd",
            "instance_type": "ecs.n1.tiny",
            "image_name": "kiln-registry-test",
            "access_key": "LTAIEXAMPLE",
            "secret_key": "secret-key-value",
            "communicator": "none",
        }),
        ("builders", "huaweicloud-ecs") => json!({
            "region": "cn-north-4",
            "project_id": "0b0ff3a5fa804c0e8f1d7e5b2a9c4d61",
            "flavor": "s6.small.1",
            "source_image": "8ce4a1b6-0d5a-4f49-b8ee-1d4b1b1c0001",
            "image_name": "kiln-registry-test",
            "access_key": "HWEXAMPLE",
            "secret_key": "secret-key-value",
            "communicator": "none",
        }),
        ("builders", "openstack") => json!({
            "identity_endpoint": "http://127.0.0.1:5000/v3",
            "username": "kiln",
            "password": "secret-password-value",
            "tenant_name": "kiln",
            "domain_name": "Default",
            "flavor": "m1.tiny",
            "source_image_name": "tiny",
            "image_name": "kiln-registry-test",
            "communicator": "none",
        }),
        ("builders", "tencentcloud-cvm") => json!({
            "secret_id": "AKIDEXAMPLE",
            "secret_key": "secret-key-value",
            "region": "ap-guangzhou",
            "zone": "ap-guangzhou-3",
            "instance_type": "S5.MEDIUM2",
            "source_image_id": "img-pi0ii46r",
            "image_name": "kiln-registry-test",
            "communicator": "none",
        }),
        ("builders", "ucloud-uhost") => json!({
            "public_key": "ucloud-public-key",
            "private_key": "ucloud-private-key",
            "project_id": "org-kiln",
            "region": "cn-bj2",
            "availability_zone": "cn-bj2-02",
            "source_image_id": "uimage-centos79",
            "instance_type": "n-basic-2",
            "image_name": "kiln-registry-test",
            "communicator": "none",
        }),
        ("builders", "docker") => json!({ "image": "alpine", "discard": true }),
        ("builders", "file") => json!({ "target": "out.txt", "content": "x" }),
        ("builders", "null") => json!({ "communicator": "none" }),
        ("builders", "qemu") => json!({
            "iso_url": "a.iso",
            "iso_checksum": "none",
            "communicator": "none",
        }),
        ("provisioners", "ansible") => {
            json!({ "playbook_file": "Cargo.toml", "skip_version_check": true })
        }
        ("provisioners", "ansible-local") => json!({ "playbook_file": "Cargo.toml" }),
        ("provisioners", "breakpoint") => json!({}),
        ("provisioners", "chef-client") => json!({ "server_url": "https://chef.example.com" }),
        ("provisioners", "chef-solo" | "puppet-server") => json!({}),
        ("provisioners", "puppet-masterless") => json!({ "manifest_file": "Cargo.toml" }),
        ("provisioners", "file") => json!({ "source": "Cargo.toml", "destination": "/tmp/x" }),
        ("provisioners", "shell" | "shell-local") => json!({ "inline": ["true"] }),
        ("provisioners", "sbom") => json!({ "output_spdx": "sbom.spdx.json" }),
        ("provisioners", "sleep") => json!({ "duration": "1s" }),
        ("post-processors", "alicloud-import") => json!({
            "region": "cn-beijing",
            "access_key": "LTAIEXAMPLE",
            "secret_key": "secret-key-value",
            "oss_bucket_name": "kiln-registry-test",
            "image_name": "kiln-registry-test",
        }),
        ("post-processors", "ucloud-import") => json!({
            "public_key": "ucloud-public-key",
            "private_key": "ucloud-private-key",
            "project_id": "org-kiln",
            "region": "cn-bj2",
            "ufile_bucket_name": "kiln-registry-test",
            "image_name": "kiln-registry-test",
            "image_os_type": "CentOS",
            "image_os_name": "CentOS 7.9 64位",
            "format": "raw",
        }),
        ("post-processors", "artifice") => json!({ "files": ["out.txt"] }),
        ("post-processors", "provenance") => json!({ "signing_key_env": "KILN_SIGNING_KEY" }),
        ("post-processors", "checksum" | "manifest" | "docker-push") => json!({}),
        ("post-processors", "compress") => json!({ "output": "out.tar.gz" }),
        ("post-processors", "docker-import" | "docker-tag") => json!({ "repository": "kiln/test" }),
        ("post-processors", "docker-save") => json!({ "path": "image.tar" }),
        ("post-processors", "shell-local") => json!({ "inline": ["true"] }),
        ("post-processors", "test") => json!({ "inline": ["true"] }),
        ("data-sources", "null") => json!({ "input": "x" }),
        ("data-sources", "http") => json!({ "url": "https://example.com/" }),
        _ => return None,
    })
}

/// Checks one component: a name, its minimal config accepted, and the
/// same config with [`UNKNOWN_KEY`] rejected with an error naming the key.
fn check_unknown_key(
    kind: &str,
    name: &str,
    prepare: &dyn Fn(&RawConfig) -> Result<(), ConfigErrors>,
) -> Option<String> {
    if name.is_empty() {
        return Some(format!("a component of kind {kind} has an empty name"));
    }
    let Some(config) = minimal_config(kind, name) else {
        return Some(format!(
            "{kind} `{name}`: give it a minimal valid config in `minimal_config`"
        ));
    };
    if let Err(e) = prepare(&RawConfig::from_value(config.clone())) {
        return Some(format!(
            "{kind} `{name}`: its minimal config is rejected:\n{e}"
        ));
    }
    let mut with_unknown = config;
    with_unknown[UNKNOWN_KEY] = serde_json::Value::from("x");
    match prepare(&RawConfig::from_value(with_unknown)) {
        Ok(()) => Some(format!(
            "{kind} `{name}` accepts the unknown key `{UNKNOWN_KEY}`"
        )),
        Err(e) if unknown_key(&e, UNKNOWN_KEY) => None,
        Err(e) => Some(format!(
            "{kind} `{name}` rejects `{UNKNOWN_KEY}` without naming it as unknown:\n{e}"
        )),
    }
}

/// Walks the whole table, all four kinds.
#[test]
fn every_component_rejects_unknown_keys() {
    let r = kiln_registry::builtin();
    let mut problems = Vec::new();
    for b in &r.builders {
        problems.extend(check_unknown_key("builders", b.name(), &|raw| {
            b.prepare(raw, &prepare_cx(b.name())).map(|_| ())
        }));
    }
    for p in &r.provisioners {
        problems.extend(check_unknown_key("provisioners", p.name(), &|raw| {
            p.prepare(raw, &prepare_cx("null")).map(|_| ())
        }));
    }
    for p in &r.post_processors {
        problems.extend(check_unknown_key("post-processors", p.name(), &|raw| {
            p.prepare(raw, &prepare_cx("null")).map(|_| ())
        }));
    }
    for d in &r.data_sources {
        problems.extend(check_unknown_key("data-sources", d.name(), &|raw| {
            d.prepare(raw, &data_source_cx(&format!("data.{}.docs", d.name())))
                .map(|_| ())
        }));
    }
    let kinds = [
        r.builders.len(),
        r.provisioners.len(),
        r.post_processors.len(),
        r.data_sources.len(),
    ];
    assert!(kinds.iter().all(|n| *n > 0), "an empty kind: {kinds:?}");
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
    let errors = sleep
        .prepare(&raw, &prepare_cx("null"))
        .err()
        .expect("an error");
    assert!(unknown_key(&errors, "bogus_key"), "{errors}");
    // And the real page passes.
    assert!(check_page("provisioners", "sleep", readme, &|raw| sleep
        .prepare(raw, &prepare_cx("null"))
        .err())
    .is_empty());
}
