//! The configuration glue every cloud builder repeats, written once; each
//! builder keeps its own keys, environment variables and messages:
//!
//! - [`Env`]: a template value, or else its environment variable (the
//!   access sections' `ALICLOUD_REGION`, `UCLOUD_PUBLIC_KEY`, …); an empty
//!   value counts as unset.
//! - [`Template`]: the template decoded section by section (kiln-sdk's
//!   `SectionDecoder`: the keys nobody knows reported once), then the
//!   communicator's keys (kiln-ssh), every error collected and located.
//! - [`check_keypair_name`]: `ssh_keypair_name` needs the key pair's
//!   private key.
//! - [`env_of`] and [`overlay`]: a fake environment and templates, for the
//!   builders' config tests.
//!
//! Pure: the environment comes in as a lookup function ([`process_env`]
//! reads the process's); holds nothing.

use kiln_sdk::config::{ConfigError, ConfigErrors, RawConfig, SectionDecoder};
use kiln_sdk::{PrepareContext, Secret};
use kiln_ssh::CommunicatorConfig;
use serde::de::DeserializeOwned;

/// `s` unless it is empty.
pub fn nonempty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// The process environment's variable `name`: what a builder's `prepare`
/// reads (its tests pass their own lookup).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Template values with their environment variables: a key's value is the
/// template's unless empty, else the variable's unless empty.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    /// The environment `lookup` reads.
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Env { lookup }
    }

    /// The variable `name`, unless unset or empty.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.is_empty())
    }

    /// The template's `value`, else the variable `name`.
    pub fn or_var(&self, value: &Option<String>, name: &str) -> Option<String> {
        nonempty(value.clone()).or_else(|| self.var(name))
    }

    /// The template's secret `value`, else the variable `name`.
    pub fn secret_or_var(
        &self,
        value: &Option<Secret<String>>,
        name: &str,
    ) -> Option<Secret<String>> {
        value
            .clone()
            .filter(|s| !s.expose().is_empty())
            .or_else(|| self.var(name).map(Secret::new))
    }

    /// The template's `value` of `key`, else the variable `name`; when
    /// neither is set, `message` is reported at `key` and the value is
    /// empty.
    pub fn required(
        &self,
        key: &str,
        value: &Option<String>,
        name: &str,
        message: &str,
        errors: &mut ConfigErrors,
    ) -> String {
        let v = self.or_var(value, name).unwrap_or_default();
        if v.is_empty() {
            errors.push(ConfigError::at(key, message));
        }
        v
    }
}

/// Every key a builder takes: its `sections`' (kiln-sdk's
/// `struct_fields` of each raw section) and the communicator's.
pub fn builder_keys(sections: &[&'static [&'static str]]) -> Vec<&'static str> {
    let mut all = sections.concat();
    all.extend(kiln_ssh::field_names());
    all
}

/// A builder's template being decoded: section by section, each getting
/// only its own keys (so each reports its own type errors), the first
/// section asked also the keys no section knows (reported once, with a
/// suggestion from every key); then the communicator. Collects every error
/// in [`Template::errors`] and reports them all at once.
pub struct Template<'a> {
    raw: &'a RawConfig,
    cx: &'a PrepareContext,
    keys: Vec<&'static str>,
    asked: bool,
    failed: bool,
    /// Every problem found so far.
    pub errors: ConfigErrors,
}

impl<'a> Template<'a> {
    /// The template `raw`, interpolated with `cx`; `keys` is every key
    /// the builder takes ([`builder_keys`]).
    pub fn new(raw: &'a RawConfig, cx: &'a PrepareContext, keys: Vec<&'static str>) -> Self {
        Template {
            raw,
            cx,
            keys,
            asked: false,
            failed: false,
            errors: ConfigErrors::new(),
        }
    }

    /// Decodes section `T`, its problems added to the errors; `T`'s
    /// default when it cannot be decoded at all (and
    /// [`Template::communicator`] then stops).
    pub fn section<T: DeserializeOwned + Default>(&mut self) -> T {
        let unknown = !std::mem::replace(&mut self.asked, true);
        let d = SectionDecoder::new(self.raw, &self.cx.interpolation, &self.keys, &[]);
        let section = d.section(unknown, &mut self.errors);
        self.failed |= d.failed();
        section
    }

    /// The communicator's settings (`none` when they are wrong, their
    /// errors added), or, when a section could not be decoded at all so
    /// that nothing more can be checked, every error found so far.
    pub fn communicator(&mut self) -> Result<CommunicatorConfig, ConfigErrors> {
        let communicator = match kiln_ssh::prepare(self.raw, self.cx) {
            Ok(c) => c,
            Err(e) => {
                self.errors.0.extend(e.0);
                CommunicatorConfig::None
            }
        };
        if self.failed {
            return Err(std::mem::take(&mut self.errors).locate(self.raw));
        }
        Ok(communicator)
    }

    /// `config` when nothing was wrong, else every error, located in the
    /// template.
    pub fn finish<C>(self, config: C) -> Result<C, ConfigErrors> {
        let raw = self.raw;
        self.errors.into_result(config).map_err(|e| e.locate(raw))
    }
}

/// Whether `ssh_keypair_name` (`keypair_name`) names a key pair kiln could
/// not log in with: the SSH communicator has neither its private key
/// (`ssh_private_key_file`) nor the agent (`ssh_agent_auth`).
pub fn keypair_lacks_private_key(
    keypair_name: Option<&str>,
    communicator: &CommunicatorConfig,
) -> bool {
    match communicator {
        CommunicatorConfig::Ssh(c) => {
            keypair_name.is_some() && c.credentials.private_key.is_none() && !c.credentials.agent
        }
        CommunicatorConfig::None => false,
    }
}

/// Reports, at `ssh_private_key_file`, an `ssh_keypair_name` kiln could not
/// log in with ([`keypair_lacks_private_key`]).
pub fn check_keypair_name(
    keypair_name: Option<&str>,
    communicator: &CommunicatorConfig,
    errors: &mut ConfigErrors,
) {
    if keypair_lacks_private_key(keypair_name, communicator) {
        errors.push(ConfigError::at(
            "ssh_private_key_file",
            "`ssh_keypair_name` needs `ssh_private_key_file` or `ssh_agent_auth`: kiln cannot log in with a key pair whose private key it does not have",
        ));
    }
}

/// An environment of `vars` (name and value), for a builder's tests in
/// place of [`process_env`].
pub fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// The template of `base`'s keys with `extra`'s set over them (a `null`
/// one removes the key), for a builder's tests.
pub fn overlay(base: serde_json::Value, extra: serde_json::Value) -> RawConfig {
    let mut v = base;
    if let (Some(v), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in extra {
            if x.is_null() {
                v.remove(k);
            } else {
                v.insert(k.clone(), x.clone());
            }
        }
    }
    RawConfig::from_value(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct RawAccess {
        region: Option<String>,
        secret_key: Option<Secret<String>>,
    }

    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct RawImage {
        image_name: Option<String>,
    }

    fn keys() -> Vec<&'static str> {
        builder_keys(&[
            kiln_sdk::config::struct_fields::<RawAccess>(),
            kiln_sdk::config::struct_fields::<RawImage>(),
        ])
    }

    #[test]
    fn a_template_value_wins_over_its_variable_and_empty_is_unset() {
        let lookup = env_of(&[("X_REGION", "cn-north-1"), ("X_KEY", "sk"), ("X_EMPTY", "")]);
        let env = Env::new(&lookup);
        assert_eq!(
            env.or_var(&Some("r".into()), "X_REGION").as_deref(),
            Some("r")
        );
        assert_eq!(
            env.or_var(&Some("".into()), "X_REGION").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(env.or_var(&None, "X_EMPTY"), None);
        assert_eq!(env.var("X_UNSET"), None);
        let key = env.secret_or_var(&Some(Secret::new(String::new())), "X_KEY");
        assert_eq!(key.unwrap().expose(), "sk");
        let mut errors = ConfigErrors::new();
        let region = env.required(
            "region",
            &None,
            "X_UNSET",
            "a `region` is needed",
            &mut errors,
        );
        assert_eq!(region, "");
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].path.as_deref(), Some("region"));
        assert!(errors.0[0].to_string().contains("a `region` is needed"));
    }

    #[test]
    fn sections_get_their_keys_and_unknown_ones_are_reported_once() {
        let raw = overlay(
            json!({"region": "r", "image_name": "img", "ssh_username": "root"}),
            json!({"colour": "blue", "image_name": null}),
        );
        let cx = kiln_test::prepare_cx("x");
        let mut t = Template::new(&raw, &cx, keys());
        let access: RawAccess = t.section();
        let image: RawImage = t.section();
        assert_eq!(access.region.as_deref(), Some("r"));
        assert_eq!(image.image_name, None);
        let communicator = t.communicator().unwrap();
        assert!(matches!(communicator, CommunicatorConfig::Ssh(_)));
        let errors = t.finish(()).unwrap_err();
        assert_eq!(errors.0.len(), 1, "{errors}");
        assert!(errors.0[0].to_string().contains("colour"), "{errors}");
        let raw = overlay(json!({"region": "r", "ssh_username": "root"}), json!({}));
        let mut t = Template::new(&raw, &cx, keys());
        let _: RawAccess = t.section();
        t.communicator().unwrap();
        assert!(t.finish(1).is_ok());
    }

    #[test]
    fn a_section_that_cannot_be_decoded_stops_after_the_communicator() {
        let raw = overlay(json!({"region": ["not", "a", "string"]}), json!({}));
        let cx = kiln_test::prepare_cx("x");
        let mut t = Template::new(&raw, &cx, keys());
        let _: RawAccess = t.section();
        let errors = t.communicator().unwrap_err();
        assert!(
            errors.0.iter().any(|e| e.to_string().contains("region")),
            "{errors}"
        );
    }

    #[test]
    fn a_key_pair_needs_its_private_key_or_the_agent() {
        let cx = kiln_test::prepare_cx("x");
        let ssh = |extra: serde_json::Value| {
            kiln_ssh::prepare(&overlay(json!({"ssh_username": "root"}), extra), &cx).unwrap()
        };
        let mut errors = ConfigErrors::new();
        check_keypair_name(Some("mine"), &ssh(json!({})), &mut errors);
        assert_eq!(errors.0.len(), 1);
        assert_eq!(errors.0[0].path.as_deref(), Some("ssh_private_key_file"));
        let agent = ssh(json!({"ssh_agent_auth": true}));
        assert!(!keypair_lacks_private_key(Some("mine"), &agent));
        assert!(!keypair_lacks_private_key(None, &ssh(json!({}))));
        assert!(!keypair_lacks_private_key(
            Some("mine"),
            &CommunicatorConfig::None
        ));
    }
}
