//! `pp-vagrant-override`: in `vagrant` post-processors, the provider keys
//! `aws`, `digitalocean`, `virtualbox` and `vmware` move into a new
//! `override` object (which replaces any existing `override`).

use serde_json::Value;

use crate::decode::{fix_post_processors, Object};
use crate::FixError;

pub(crate) const NAME: &str = "pp-vagrant-override";
pub(crate) const SYNOPSIS: &str = "Fixes provider-specific overrides for Vagrant post-processor";

const PROVIDERS: [&str; 4] = ["aws", "digitalocean", "virtualbox", "vmware"];

pub(crate) fn fix(template: Value) -> Result<Value, FixError> {
    fix_post_processors(NAME, template, |pp, _| {
        if pp.get("type").and_then(Value::as_str) != Some("vagrant") {
            return Ok(());
        }
        let mut overrides = Object::new();
        for name in PROVIDERS {
            if let Some(v) = pp.shift_remove(name) {
                overrides.insert(name.into(), v);
            }
        }
        if !overrides.is_empty() {
            pp.insert("override".into(), Value::Object(overrides));
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn moves_provider_keys() {
        let out = super::fix(json!({"post-processors": [
            {"type": "vagrant", "aws": {"a": 1}, "vmware": null, "override": {"x": 1}},
            [{"type": "vagrant", "virtualbox": 2}, "compress"],
            {"type": "vagrant", "output": "o"},
            "vagrant"
        ]}))
        .unwrap();
        assert_eq!(
            out,
            json!({"post-processors": [
                {"type": "vagrant", "override": {"aws": {"a": 1}, "vmware": null}},
                [{"type": "vagrant", "override": {"virtualbox": 2}}, "compress"],
                {"type": "vagrant", "output": "o"},
                "vagrant"
            ]})
        );
    }

    #[test]
    fn leaves_templates_without_post_processors() {
        assert_eq!(super::fix(json!({"a": 1})).unwrap(), json!({"a": 1}));
        assert!(super::fix(json!({"post-processors": "x"})).is_err());
    }
}
