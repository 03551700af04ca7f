//! What a component's unit tests need from kiln's core: the contexts
//! kiln prepares components with, and running a provisioner the way a
//! build does but with no machine behind it. Nothing is stored.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiln_sdk::communicator::NoCommunicator;
use kiln_sdk::component::BuildError;
use kiln_sdk::interpolate::{Context, Generated};
use kiln_sdk::{PrepareContext, ProvisionContext, Provisioner, Ui};
use tokio_util::sync::CancellationToken;

/// The [`PrepareContext`] a component's config tests prepare
/// with: build named after `builder_type`, no variables, a fresh
/// redactor, no `-debug`/`-force`, `-on-error=cleanup`, template dir `.`.
pub fn prepare_cx(builder_type: &str) -> PrepareContext {
    PrepareContext {
        build_name: builder_type.into(),
        builder_type: builder_type.into(),
        interpolation: Default::default(),
        redactor: Default::default(),
        debug: false,
        force: false,
        on_error: Default::default(),
        template_dir: ".".into(),
    }
}

/// The context kiln gives the components of build `build_name` of type
/// `builder_type`: [`prepare_cx`] with the build's name, and its name and
/// type also in the interpolation context (`{{ build_name }}`,
/// `{{ build_type }}`).
pub fn build_cx(build_name: &str, builder_type: &str) -> PrepareContext {
    PrepareContext {
        build_name: build_name.into(),
        interpolation: Context {
            build_name: Some(build_name.into()),
            build_type: Some(builder_type.into()),
            ..Default::default()
        },
        ..prepare_cx(builder_type)
    }
}

/// The context template evaluation gives the block `data.TYPE.NAME`
/// (`reference`): the reference as the build's name, no builder type.
pub fn data_source_cx(reference: &str) -> PrepareContext {
    PrepareContext {
        build_name: reference.into(),
        ..prepare_cx("")
    }
}

/// Runs provisioner `p` as a build named `web` does once its builder has
/// produced `generated` (`{{ build `Host` }}`…), with no communicator
/// (for provisioners that run on the local machine or not at all).
pub async fn provision_locally(
    p: &dyn Provisioner,
    ui: &dyn Ui,
    cancel: CancellationToken,
    generated: BTreeMap<String, String>,
) -> Result<(), BuildError> {
    let generated = Arc::new(generated);
    let interpolation = Context {
        build_name: Some("web".into()),
        generated: Generated::Known(generated.clone()),
        ..Default::default()
    };
    p.provision(
        ProvisionContext {
            ui,
            cancel,
            interpolation: &interpolation,
            generated: &generated,
            debug: false,
            record: &Default::default(),
        },
        &NoCommunicator,
    )
    .await
}
