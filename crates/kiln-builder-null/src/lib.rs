//! The `null` builder (Packer's `builder/null`): it creates nothing, runs
//! the provisioners over the configured communicator, and returns an
//! artifact that exports nothing. With `communicator: none` only local
//! provisioners (`shell-local`) can do anything; with `ssh` (the default)
//! it provisions an existing host. Its state holds the connection, which
//! `StepConnect`'s cleanup closes.

mod artifact;
mod config;
mod step_connect;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::communicator::{Communicator, NoCommunicator};
use kiln_sdk::component::{BuildContext, BuildError, GeneratedData};
use kiln_sdk::config::{ConfigErrors, RawConfig};
use kiln_sdk::generated;
use kiln_sdk::step::Runner;
use kiln_sdk::steps::{HasCommunicator, StepProvision};
use kiln_sdk::{Artifact, Builder, BuilderFactory, PrepareContext, Prepared};

pub use artifact::NullArtifact;
pub use config::Config;

/// Packer's builder id for the null builder.
pub const BUILDER_ID: &str = "fnoeding.null";

/// Registers the `null` builder type.
pub struct NullBuilderFactory;

impl BuilderFactory for NullBuilderFactory {
    fn name(&self) -> &'static str {
        "null"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Builder>>, ConfigErrors> {
        let config = config::prepare(raw, cx)?;
        let mut p = Prepared::new(Box::new(NullBuilder { config }) as Box<dyn Builder>);
        p.generated = kiln_ssh::GENERATED_DATA_KEYS
            .iter()
            .map(|k| k.to_string())
            .collect();
        Ok(p)
    }
}

/// A prepared null builder.
pub struct NullBuilder {
    config: Config,
}

/// The null builder's step state.
pub struct NullState {
    /// The connected communicator (set by `StepConnect`).
    pub communicator: Option<Arc<dyn Communicator>>,
    /// Generated data for provisioners.
    pub generated: BTreeMap<String, String>,
}

impl HasCommunicator for NullState {
    fn communicator(&self) -> Arc<dyn Communicator> {
        self.communicator
            .clone()
            .unwrap_or_else(|| Arc::new(NoCommunicator))
    }
    fn generated(&self) -> GeneratedData {
        Arc::new(self.generated.clone())
    }
}

#[async_trait]
impl Builder for NullBuilder {
    async fn run(&self, cx: BuildContext<'_>) -> Result<Option<Arc<dyn Artifact>>, BuildError> {
        let mut generated = BTreeMap::from([
            (
                generated::CONN_TYPE.to_string(),
                self.config.communicator.kind().to_string(),
            ),
            (
                generated::PACKER_RUN_UUID.to_string(),
                cx.run_uuid.to_string(),
            ),
        ]);
        if let kiln_ssh::CommunicatorConfig::Ssh(c) = &self.config.communicator {
            let creds = &c.credentials;
            generated.extend([
                (generated::HOST.to_string(), c.host.clone()),
                (generated::PORT.to_string(), c.port.to_string()),
                (generated::USER.to_string(), creds.username.clone()),
                (
                    generated::PASSWORD.to_string(),
                    creds
                        .password
                        .as_ref()
                        .map(|p| p.expose().clone())
                        .unwrap_or_default(),
                ),
                (generated::SSH_PUBLIC_KEY.to_string(), String::new()),
                (
                    generated::SSH_PRIVATE_KEY.to_string(),
                    creds
                        .private_key
                        .as_ref()
                        .map(|k| k.pem.expose().clone())
                        .unwrap_or_default(),
                ),
            ]);
        }
        let mut state = NullState {
            communicator: None,
            generated,
        };
        let runner = Runner::new(vec![
            Box::new(step_connect::StepConnect::new(&self.config.communicator)),
            Box::new(StepProvision::new(cx.hook.clone(), cx.on_error)),
        ])
        .on_error(cx.on_error)
        .debug(cx.debug);
        runner.run(cx.ui.as_ref(), &cx.cancel, &mut state).await?;
        Ok(Some(Arc::new(NullArtifact)))
    }
}
