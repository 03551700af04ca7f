//! `virtualbox-rename`: `virtualbox` builders become `virtualbox-iso`, and a
//! provisioner `override` for `virtualbox` is renamed to `virtualbox-iso`.
//!
//! This fixer decodes the template weakly, as Packer does: a non-list
//! `provisioners` value is lifted into a one-element list (`"provisioners":
//! "x"` comes out as `["x"]`), and a provisioner or override given as a list
//! of objects is merged into one object when it is rewritten. `builders`
//! and `provisioners` are only written back when they are non-empty.

use serde_json::Value;

use crate::decode::{field_key, rename, root, weak_list, weak_object, DecodeFailure};
use crate::FixError;

pub(crate) const NAME: &str = "virtualbox-rename";
pub(crate) const SYNOPSIS: &str = r#"Updates "virtualbox" builders to "virtualbox-iso""#;

fn failure(f: DecodeFailure) -> FixError {
    FixError::WrongType {
        fixer: NAME,
        path: f.path,
        expected: "an object",
        got: f.got,
    }
}

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    let mut root = root(template)?;

    // `Builders []map[string]interface{}`, weakly.
    let builders_key = field_key(&root, "Builders");
    let mut builders = Vec::new();
    if let Some(key) = &builders_key {
        for (i, raw) in weak_list(root.get(key))
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            builders.push(weak_object(raw, &format!("{key}[{i}]")).map_err(failure)?);
        }
    }
    for builder in builders.iter_mut().flatten() {
        if builder.get("type").and_then(Value::as_str) == Some("virtualbox") {
            builder.insert("type".into(), "virtualbox-iso".into());
        }
    }

    // `Provisioners []interface{}`, weakly.
    let prov_key = field_key(&root, "Provisioners");
    let mut provisioners = prov_key
        .as_ref()
        .and_then(|key| weak_list(root.get(key)))
        .unwrap_or_default();
    for (i, raw) in provisioners.iter_mut().enumerate() {
        let path = format!("{}[{i}]", prov_key.as_deref().unwrap_or("provisioners"));
        // Provisioners that are not maps are ignored.
        let Ok(Some(mut provisioner)) = weak_object(raw, &path) else {
            continue;
        };
        let Some(raw_override) = provisioner.get("override") else {
            continue;
        };
        let Some(mut overrides) =
            weak_object(raw_override, &format!("{path}.override")).map_err(failure)?
        else {
            continue;
        };
        if rename(&mut overrides, "virtualbox", "virtualbox-iso") {
            provisioner.insert("override".into(), Value::Object(overrides));
            *raw = Value::Object(provisioner);
        }
    }

    if !builders.is_empty() {
        let list = builders
            .into_iter()
            .map(|b| b.map_or(Value::Null, Value::Object))
            .collect();
        root.insert("builders".into(), Value::Array(list));
    }
    if !provisioners.is_empty() {
        root.insert("provisioners".into(), Value::Array(provisioners));
    }
    Ok(Value::Object(root))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn renames_builders_and_overrides() {
        let out = super::fix(json!({
            "builders": [{"type": "virtualbox"}, {"type": "vmware"}],
            "provisioners": [
                {"type": "shell", "override": {"virtualbox": {"a": 1}}},
                [{"override": [{"virtualbox": 1}, {"x": 2}]}, {"b": 2}],
                {"type": "shell", "override": null},
                "x"
            ]
        }))
        .unwrap();
        assert_eq!(
            out,
            json!({
                "builders": [{"type": "virtualbox-iso"}, {"type": "vmware"}],
                "provisioners": [
                    {"type": "shell", "override": {"virtualbox-iso": {"a": 1}}},
                    {"override": {"virtualbox-iso": 1, "x": 2}, "b": 2},
                    {"type": "shell", "override": null},
                    "x"
                ]
            })
        );
    }

    #[test]
    fn lifts_scalar_provisioners() {
        assert_eq!(
            super::fix(json!({"provisioners": "foo"})).unwrap(),
            json!({"provisioners": ["foo"]})
        );
        assert_eq!(
            super::fix(json!({"provisioners": {}})).unwrap(),
            json!({"provisioners": {}})
        );
    }

    #[test]
    fn rejects_scalar_overrides() {
        let err = super::fix(json!({"provisioners": [{"override": "x"}]})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "fixer `virtualbox-rename`: `provisioners[0].override` must be an object, got a string"
        );
    }
}
