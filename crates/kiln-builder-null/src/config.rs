//! The null builder's configuration: only the communicator (Packer's
//! `communicator.Config`), decoded with kiln-ssh's shared decoder, plus
//! Packer's null-builder rules: with SSH, a host, a user and exactly one
//! authentication method are required. Holds no resources; nothing to
//! clean up.

use kiln_sdk::config::{ConfigError, ConfigErrors, RawConfig};
use kiln_sdk::PrepareContext;
use kiln_ssh::{decode_with_communicator, CommunicatorConfig};
use serde::Deserialize;

/// The null builder has no keys of its own.
#[derive(Deserialize, Default)]
struct NullFields {}

/// The validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The communicator.
    pub communicator: CommunicatorConfig,
}

/// Decodes and validates; collects every error.
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Config, ConfigErrors> {
    let (NullFields {}, communicator) = decode_with_communicator::<NullFields>(raw, cx, &[])?;
    let mut errors = ConfigErrors::new();
    if let CommunicatorConfig::Ssh(c) = &communicator {
        if c.host.is_empty() {
            errors.push(ConfigError::at(
                "ssh_host",
                "a host must be specified (`ssh_host`), please reference your communicator documentation",
            ));
        }
        let creds = &c.credentials;
        let methods = [
            creds.agent,
            creds.password.is_some(),
            creds.private_key.is_some(),
        ];
        match methods.iter().filter(|m| **m).count() {
            0 => errors.push(ConfigError::new(
                "one authentication method must be specified (`ssh_password`, `ssh_private_key_file` or `ssh_agent_auth`), please reference your communicator documentation",
            )),
            1 => {}
            _ => errors.push(ConfigError::new(
                "only one of `ssh_agent_auth`, `ssh_password`, and `ssh_private_key_file` must be specified",
            )),
        }
    }
    if errors.is_empty() {
        Ok(Config { communicator })
    } else {
        Err(errors.locate(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_test::prepare_cx;
    use serde_json::json;

    fn errs(v: serde_json::Value) -> String {
        match prepare(&RawConfig::from_value(v), &prepare_cx("null")) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn ssh_needs_host_user_and_one_method() {
        let e = errs(json!({}));
        assert!(e.contains("an `ssh_username` must be specified"), "{e}");
        let e = errs(json!({"ssh_username": "u"}));
        assert!(e.contains("a host must be specified"), "{e}");
        assert!(
            e.contains("one authentication method must be specified"),
            "{e}"
        );
        let e = errs(
            json!({"ssh_host": "h", "ssh_username": "u", "ssh_password": "p", "ssh_agent_auth": true}),
        );
        assert!(e.contains("only one of"), "{e}");
        assert_eq!(
            errs(json!({"ssh_host": "h", "ssh_username": "u", "ssh_password": "p"})),
            ""
        );
        assert_eq!(errs(json!({"communicator": "none"})), "");
        assert!(errs(json!({"communicator": "none", "bogus": 1}))
            .contains("unknown configuration key `bogus`"));
    }
}
