//! `galaxy-command`: in `ansible-local` provisioners, a string
//! `galaxycommand` becomes `galaxy_command`; when `galaxy_command` is
//! already set, `galaxycommand` is dropped. The provisioners are decoded
//! weakly, so a non-list `provisioners` becomes a one-element list.

use serde_json::Value;

use crate::decode::{field_key, rename, root, strict_object, weak_list};
use crate::FixError;

pub(crate) const NAME: &str = "galaxy-command";
pub(crate) const SYNOPSIS: &str =
    r#"Replaces "galaxycommand" in ansible-local provisioner configs with "galaxy_command""#;

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    let mut root = root(template)?;
    let mut provisioners = field_key(&root, "Provisioners")
        .and_then(|k| weak_list(root.get(&k)))
        .unwrap_or_default();
    for raw in provisioners.iter_mut() {
        let Ok(Some(mut p)) = strict_object(raw) else {
            continue;
        };
        if p.get("type").and_then(Value::as_str) != Some("ansible-local") {
            continue;
        }
        if p.contains_key("galaxy_command") {
            p.shift_remove("galaxycommand");
        } else if p.get("galaxycommand").is_some_and(Value::is_string) {
            rename(&mut p, "galaxycommand", "galaxy_command");
        } else {
            continue;
        }
        *raw = Value::Object(p);
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
    fn renames_galaxycommand() {
        let out = super::fix(json!({"provisioners": [
            {"type": "ansible-local", "galaxycommand": "g"},
            {"type": "ansible-local", "galaxycommand": "g", "galaxy_command": "h"},
            {"type": "ansible-local", "galaxycommand": 1},
            {"type": "ansible", "galaxycommand": "g"}
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"provisioners": [
                {"type": "ansible-local", "galaxy_command": "g"},
                {"type": "ansible-local", "galaxy_command": "h"},
                {"type": "ansible-local", "galaxycommand": 1},
                {"type": "ansible", "galaxycommand": "g"}
            ]})
        );
    }
}
