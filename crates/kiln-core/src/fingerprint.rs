//! The inputs of a provisioner, as a checkpoint key sees them: its type,
//! its configuration as rendered with the run's variables (generated data
//! such as `{{ build `Host` }}` stays a placeholder, so a new port or
//! address does not change it), and the content of every local file or
//! directory it reads. Only digests are kept: a key and the inputs recorded
//! for `-explain` never hold a value in clear.

use std::collections::BTreeMap;
use std::path::Path;

use kiln_sdk::checkpoint::Effects;
use kiln_sdk::config::RawConfig;
use kiln_sdk::interpolate::{self, Context, Generated};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The keys whose values name local files or directories a provisioner
/// reads (shell's `script`, file's `source`, ansible's `playbook_file`,
/// `roles_path`, puppet's `manifest_file`, chef's `cookbook_paths`…).
pub const LOCAL_INPUT_KEYS: &[&str] = &[
    "script",
    "scripts",
    "source",
    "sources",
    "playbook_file",
    "playbook_files",
    "playbook_dir",
    "playbook_paths",
    "role_paths",
    "roles_path",
    "collections_path",
    "galaxy_file",
    "inventory_file",
    "inventory_directory",
    "group_vars",
    "host_vars",
    "manifest_file",
    "manifest_dir",
    "module_paths",
    "hiera_config_path",
    "cookbook_paths",
    "data_bags_path",
    "encrypted_data_bag_secret_path",
    "environments_path",
    "roles_path",
    "json_file",
    "config_template",
    "execute_command_file",
];

/// What a provisioner's checkpoint key is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvisionerInputs {
    /// Its type.
    pub provisioner_type: String,
    /// Whose state it changes.
    pub effects: Effects,
    /// The digest of its rendered configuration.
    pub config: String,
    /// Each local file or directory it reads, as written in the template,
    /// with the digest of its content (`missing` when absent).
    pub files: BTreeMap<String, String>,
}

impl ProvisionerInputs {
    /// Reads `raw`'s inputs: renders it with `interpolation` (generated
    /// data left as placeholders) and hashes the local files it names.
    /// Relative paths resolve against the working directory, as the
    /// provisioners resolve them.
    pub fn read(
        provisioner_type: &str,
        effects: Effects,
        raw: &RawConfig,
        interpolation: &Context,
    ) -> ProvisionerInputs {
        let mut cx = interpolation.clone();
        cx.generated = Generated::Placeholder;
        let rendered = render_value(&Value::Object(raw.values.clone()), &cx);
        let mut files = BTreeMap::new();
        let downloads = provisioner_type == "file"
            && rendered.get("direction").and_then(Value::as_str) == Some("download");
        if let Value::Object(map) = &rendered {
            for (key, value) in map {
                if !LOCAL_INPUT_KEYS.contains(&key.as_str())
                    || (downloads && key.starts_with("source"))
                {
                    continue;
                }
                for path in strings(value) {
                    files.insert(path.clone(), digest_path(Path::new(&path)));
                }
            }
        }
        ProvisionerInputs {
            provisioner_type: provisioner_type.to_string(),
            effects,
            config: sha256_hex(canonical(&rendered).as_bytes()),
            files,
        }
    }

    /// The digest of everything above: the link this provisioner adds to
    /// the checkpoint chain.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.provisioner_type.as_bytes());
        h.update([0]);
        h.update(self.config.as_bytes());
        for (path, d) in &self.files {
            h.update([0]);
            h.update(path.as_bytes());
            h.update([0]);
            h.update(d.as_bytes());
        }
        hex::encode(h.finalize())
    }

    /// The record kept in a checkpoint's metadata for `-explain`.
    pub fn to_json(&self) -> Value {
        json!({"type": self.provisioner_type, "config": self.config, "files": self.files})
    }
}

/// The first link of the chain: the builder type and what shapes the
/// machine before any provisioner.
pub fn builder_link(builder_type: &str, inputs: &Value) -> String {
    let mut h = Sha256::new();
    h.update(b"kiln-checkpoint-v1\0");
    h.update(builder_type.as_bytes());
    h.update([0]);
    h.update(canonical(inputs).as_bytes());
    hex::encode(h.finalize())
}

/// The next link: `previous` followed by a provisioner's digest.
pub fn chain(previous: &str, provisioner: &ProvisionerInputs) -> String {
    let mut h = Sha256::new();
    h.update(previous.as_bytes());
    h.update([0]);
    h.update(provisioner.digest().as_bytes());
    hex::encode(h.finalize())
}

/// The builder's inputs as `-explain` keeps them: each top-level field's
/// digest (values are never stored).
pub fn builder_fields(inputs: &Value) -> Value {
    match inputs {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        Value::String(sha256_hex(canonical(v).as_bytes())),
                    )
                })
                .collect::<Map<_, _>>(),
        ),
        other => json!({"": sha256_hex(canonical(other).as_bytes())}),
    }
}

/// Lowercase hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// JSON with object keys sorted, so that equal values hash equally.
pub fn canonical(v: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(v).to_string()
}

fn render_value(v: &Value, cx: &Context) -> Value {
    match v {
        // A string that does not render (a function kiln cannot run
        // before the build) counts as written.
        Value::String(s) => Value::String(interpolate::render(s, cx).unwrap_or_else(|_| s.clone())),
        Value::Array(a) => Value::Array(a.iter().map(|x| render_value(x, cx)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), render_value(x, cx)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) if !s.is_empty() => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// The digest of a file's content, or of a directory's tree (relative
/// paths, file contents and symlink targets, in order); `missing` when
/// nothing is there, `unreadable: …` when it cannot be read.
pub fn digest_path(path: &Path) -> String {
    let mut h = Sha256::new();
    match hash_into(&mut h, path, Path::new("")) {
        Ok(true) => hex::encode(h.finalize()),
        Ok(false) => "missing".to_string(),
        Err(e) => format!("unreadable: {e}"),
    }
}

fn hash_into(h: &mut Sha256, path: &Path, rel: &Path) -> std::io::Result<bool> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let name = rel.to_string_lossy();
    if meta.file_type().is_symlink() {
        // A link the provisioner follows: hash what it points at, under the
        // link's own name.
        if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
            return hash_dir(h, path, rel);
        }
        h.update(b"L");
        h.update(name.as_bytes());
        h.update([0]);
        let target = std::fs::read_link(path)?;
        h.update(target.to_string_lossy().as_bytes());
        h.update([0]);
        if let Ok(bytes) = std::fs::read(path) {
            h.update(Sha256::digest(&bytes));
        }
        return Ok(true);
    }
    if meta.is_dir() {
        return hash_dir(h, path, rel);
    }
    h.update(b"F");
    h.update(name.as_bytes());
    h.update([0]);
    let mut file = std::fs::File::open(path)?;
    let mut inner = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match std::io::Read::read(&mut file, &mut buf)? {
            0 => break,
            n => inner.update(&buf[..n]),
        }
    }
    h.update(inner.finalize());
    Ok(true)
}

fn hash_dir(h: &mut Sha256, path: &Path, rel: &Path) -> std::io::Result<bool> {
    h.update(b"D");
    h.update(rel.to_string_lossy().as_bytes());
    h.update([0]);
    let mut names: Vec<_> = std::fs::read_dir(path)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for n in names {
        hash_into(h, &path.join(&n), &rel.join(&n))?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(v: Value) -> RawConfig {
        match v {
            Value::Object(values) => RawConfig {
                values,
                ..RawConfig::default()
            },
            _ => unreachable!("test configs are objects"),
        }
    }

    fn cx() -> Context {
        Context {
            user_variables: std::sync::Arc::new(BTreeMap::from([("greeting".into(), "hi".into())])),
            ..Context::default()
        }
    }

    #[test]
    fn config_digest_follows_the_rendered_values_not_the_key_order() {
        let a = ProvisionerInputs::read(
            "shell",
            Effects::Machine,
            &raw(json!({"inline": ["echo {{user `greeting`}}"], "skip_clean": true})),
            &cx(),
        );
        let b = ProvisionerInputs::read(
            "shell",
            Effects::Machine,
            &raw(json!({"skip_clean": true, "inline": ["echo hi"]})),
            &cx(),
        );
        assert_eq!(a.config, b.config);
        let c = ProvisionerInputs::read(
            "shell",
            Effects::Machine,
            &raw(json!({"skip_clean": true, "inline": ["echo ho"]})),
            &cx(),
        );
        assert_ne!(a.digest(), c.digest());
    }

    #[test]
    fn generated_data_stays_a_placeholder() {
        let a = ProvisionerInputs::read(
            "shell",
            Effects::Machine,
            &raw(json!({"inline": ["echo {{ build `Host` }}"]})),
            &cx(),
        );
        let b = ProvisionerInputs::read(
            "shell",
            Effects::Machine,
            &raw(json!({"inline": ["echo {{ build `Host` }}"]})),
            &cx(),
        );
        assert_eq!(a, b);
        assert_ne!(
            a.config,
            sha256_hex(canonical(&json!({"inline": ["echo "]})).as_bytes())
        );
    }

    #[test]
    fn local_files_count_by_content_and_downloads_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("setup.sh");
        std::fs::write(&script, "echo one").unwrap();
        let roles = dir.path().join("roles");
        std::fs::create_dir_all(roles.join("web")).unwrap();
        std::fs::write(roles.join("web/main.yml"), "- x").unwrap();
        let config = raw(json!({
            "script": script.to_str().unwrap(),
            "roles_path": roles.to_str().unwrap(),
        }));
        let before = ProvisionerInputs::read("ansible", Effects::Machine, &config, &cx());
        std::fs::write(&script, "echo two").unwrap();
        let script_changed = ProvisionerInputs::read("ansible", Effects::Machine, &config, &cx());
        assert_eq!(before.config, script_changed.config);
        assert_ne!(before.digest(), script_changed.digest());
        assert_ne!(
            before.files[script.to_str().unwrap()],
            script_changed.files[script.to_str().unwrap()]
        );
        std::fs::write(roles.join("web/main.yml"), "- y").unwrap();
        let role_changed = ProvisionerInputs::read("ansible", Effects::Machine, &config, &cx());
        assert_ne!(
            script_changed.files[roles.to_str().unwrap()],
            role_changed.files[roles.to_str().unwrap()]
        );

        let download = ProvisionerInputs::read(
            "file",
            Effects::Machine,
            &raw(json!({"source": "/etc/hostname", "destination": "out", "direction": "download"})),
            &cx(),
        );
        assert!(download.files.is_empty());
        let missing = ProvisionerInputs::read(
            "shell",
            Effects::Machine,
            &raw(json!({"scripts": ["/nonexistent/a.sh"]})),
            &cx(),
        );
        assert_eq!(missing.files["/nonexistent/a.sh"], "missing");
    }

    #[test]
    fn the_chain_depends_on_every_earlier_link() {
        let p = |s: &str| {
            ProvisionerInputs::read(
                "shell",
                Effects::Machine,
                &raw(json!({"inline": [s]})),
                &cx(),
            )
        };
        let base = builder_link("docker", &json!({"image_id": "sha256:1"}));
        let other = builder_link("docker", &json!({"image_id": "sha256:2"}));
        assert_ne!(chain(&base, &p("a")), chain(&other, &p("a")));
        assert_ne!(
            chain(&chain(&base, &p("a")), &p("b")),
            chain(&chain(&base, &p("x")), &p("b"))
        );
        assert_eq!(
            builder_link("docker", &json!({"a": 1, "b": 2})),
            builder_link("docker", &json!({"b": 2, "a": 1}))
        );
    }
}
