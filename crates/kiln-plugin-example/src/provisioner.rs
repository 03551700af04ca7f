//! The `example-exec` provisioner: runs one command over the build's
//! communicator, streams its output to the UI, and fails on a non-zero
//! exit. Holds nothing; nothing to clean up.

use async_trait::async_trait;
use kiln_sdk::communicator::{CommandOutput, Communicator, RemoteCommand};
use kiln_sdk::component::{BuildError, ProvisionContext};
use kiln_sdk::config::{decode, ConfigError, ConfigErrors, RawConfig};
use kiln_sdk::{PrepareContext, Prepared, Provisioner, ProvisionerFactory};
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    command: String,
}

/// Registers `example-exec`.
pub struct ExecFactory;

impl ProvisionerFactory for ExecFactory {
    fn name(&self) -> &'static str {
        "example-exec"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Provisioner>>, ConfigErrors> {
        let c: Config = decode(raw, &crate::decode_options(cx))?;
        if c.command.is_empty() {
            return Err(
                ConfigErrors::from(ConfigError::at("command", "`command` must be set")).locate(raw),
            );
        }
        Ok(Prepared::new(Box::new(Exec { command: c.command })))
    }
}

struct Exec {
    command: String,
}

#[async_trait]
impl Provisioner for Exec {
    async fn provision(
        &self,
        cx: ProvisionContext<'_>,
        communicator: &dyn Communicator,
    ) -> Result<(), BuildError> {
        cx.ui
            .say(&format!("Running `{}` over the communicator", self.command));
        let ui = cx.ui;
        let out = |l: &str| ui.message(l);
        let err = |l: &str| ui.error(l);
        let cmd = RemoteCommand {
            command: self.command.clone(),
        };
        let run = communicator.start(
            &cmd,
            CommandOutput {
                stdout: &out,
                stderr: &err,
            },
        );
        let status = tokio::select! {
            s = run => s.map_err(BuildError::msg)?,
            _ = cx.cancel.cancelled() => return Err(BuildError::Cancelled),
        };
        if status.code() != 0 {
            return Err(BuildError::msg(format!(
                "command `{}` failed: {status}",
                self.command
            )));
        }
        Ok(())
    }
}
