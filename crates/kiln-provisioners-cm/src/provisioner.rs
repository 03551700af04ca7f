//! What the four provisioners share around Packer's `Prepare` and
//! `Provision`: reading
//! `guest_os_type`, Packer's empty-means-default, the context of the
//! builder's generated data (for `elevated_password`), and running a
//! provisioner until the build is cancelled. Holds nothing, cleans
//! nothing.

use std::future::Future;

use kiln_sdk::component::BuildError;
use kiln_sdk::interpolate::Context;
use kiln_sdk::{ConfigError, ConfigErrors, ProvisionContext};
use serde_json::Value;

use crate::guest_commands::GuestOsType;

/// `guest_os_type`; an unknown one is recorded (Packer's `Invalid
/// guest_os_type: "x"`) and taken as `unix` so the other checks still run.
pub(crate) fn guest_os_type(value: &str, errors: &mut ConfigErrors) -> GuestOsType {
    GuestOsType::parse(value).unwrap_or_else(|bad| {
        errors.push(
            ConfigError::at("guest_os_type", format!("invalid guest_os_type `{bad}`"))
                .with_hint("`unix` or `windows`"),
        );
        GuestOsType::Unix
    })
}

/// `value`, or `default` when it is empty (Packer's defaulting).
pub(crate) fn non_empty_or(value: String, default: &str) -> String {
    if value.is_empty() {
        default.to_string()
    } else {
        value
    }
}

/// The interpolation context with the builder's generated data, which
/// `elevated_password` is rendered with.
pub(crate) fn generated_context(cx: &ProvisionContext<'_>) -> Context {
    cx.interpolation.with_data(
        cx.generated
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone()))),
    )
}

/// Runs `run` until it ends or the build is cancelled.
pub(crate) async fn until_cancelled(
    cx: &ProvisionContext<'_>,
    run: impl Future<Output = Result<(), String>>,
) -> Result<(), BuildError> {
    tokio::select! {
        r = run => r.map_err(BuildError::msg),
        _ = cx.cancel.cancelled() => Err(BuildError::Cancelled),
    }
}

/// Implements `Provisioner` for a prepared provisioner `$t` with an
/// `async fn run(&self, &ProvisionContext, &dyn Communicator) ->
/// Result<(), String>`: runs it until the build is cancelled.
macro_rules! provision_by_run {
    ($t:ty) => {
        #[async_trait::async_trait]
        impl kiln_sdk::Provisioner for $t {
            async fn provision(
                &self,
                cx: kiln_sdk::ProvisionContext<'_>,
                comm: &dyn kiln_sdk::communicator::Communicator,
            ) -> Result<(), kiln_sdk::component::BuildError> {
                $crate::provisioner::until_cancelled(&cx, self.run(&cx, comm)).await
            }
        }
    };
}
pub(crate) use provision_by_run;
