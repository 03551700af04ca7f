//! Packer keys kiln recognises but does not act on: some are an error
//! until kiln implements them (each with what to do instead), some are
//! accepted and have no effect here (`skip_metadata_api_check`,
//! `decode_authorization_messages`; `session_manager_port`, whose
//! `ssh_interface` fails the build before any API call). Pure; holds
//! nothing.

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;
use serde_json::Value;

/// The keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawUnsupported {
    pub(super) spot_price_auto_product: Option<Value>,
    pub(super) vault_aws_engine: Option<Value>,
    pub(super) mfa_code: Option<Value>,
    pub(super) windows_password_timeout: Option<Value>,
    pub(super) ami_product_codes: Option<Value>,
    // Accepted; no effect.
    pub(super) skip_metadata_api_check: bool,
    pub(super) decode_authorization_messages: bool,
    pub(super) session_manager_port: Option<u16>,
}

/// Reports each key set that kiln does not implement yet.
pub(super) fn prepare(r: &RawUnsupported, errors: &mut ConfigErrors) {
    let not_supported = [
        (
            "spot_price_auto_product",
            &r.spot_price_auto_product,
            "it is deprecated in Packer too",
        ),
        (
            "vault_aws_engine",
            &r.vault_aws_engine,
            "export the credentials into the environment",
        ),
        ("mfa_code", &r.mfa_code, "use a profile or `assume_role`"),
        (
            "windows_password_timeout",
            &r.windows_password_timeout,
            "the winrm communicator is not supported",
        ),
        (
            "ami_product_codes",
            &r.ami_product_codes,
            "set product codes with the AWS CLI after the build",
        ),
    ];
    for (key, value, hint) in not_supported {
        if value.is_some() {
            errors.push(
                ConfigError::at(key, format!("`{key}` is not supported by kiln yet"))
                    .with_hint(hint),
            );
        }
    }
}
