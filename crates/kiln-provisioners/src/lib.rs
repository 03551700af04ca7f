//! kiln-provisioners: the built-in provisioners. Local ones need no
//! communicator: `sleep`, `breakpoint`, and `shell-local` (from
//! `kiln-shell-local`); `shell` and `file` work on the machine through the
//! build's communicator. [`factories`] hands them to the registry. Each
//! module documents what it cleans up.

mod breakpoint;
mod file;
mod shell;
mod sleep;

pub use breakpoint::BreakpointProvisionerFactory;
pub use file::FileProvisionerFactory;
pub use kiln_shell_local::ShellLocalProvisionerFactory;
pub use shell::ShellProvisionerFactory;
pub use sleep::SleepProvisionerFactory;

/// Every provisioner of this crate.
pub fn factories() -> Vec<Box<dyn kiln_sdk::ProvisionerFactory>> {
    vec![
        Box::new(SleepProvisionerFactory),
        Box::new(BreakpointProvisionerFactory),
        Box::new(ShellLocalProvisionerFactory),
        Box::new(ShellProvisionerFactory),
        Box::new(FileProvisionerFactory),
    ]
}

#[cfg(test)]
mod tests {
    //! Helpers shared by the provisioners' tests.

    use kiln_sdk::communicator::NoCommunicator;
    use kiln_sdk::component::{BuildError, GeneratedData};
    use kiln_sdk::interpolate::Context;
    use kiln_sdk::{PrepareContext, ProvisionContext, Provisioner, Ui};
    use tokio_util::sync::CancellationToken;

    /// A prepare context for build `web` of type `null`.
    pub(crate) fn prepare_cx() -> PrepareContext {
        PrepareContext {
            build_name: "web".into(),
            builder_type: "null".into(),
            interpolation: Context {
                build_name: Some("web".into()),
                build_type: Some("null".into()),
                ..Default::default()
            },
            redactor: Default::default(),
            debug: false,
            force: false,
            on_error: Default::default(),
            template_dir: ".".into(),
        }
    }

    /// Runs `p` with no communicator and no generated data.
    pub(crate) async fn provision(
        p: &dyn Provisioner,
        ui: &dyn Ui,
        cancel: CancellationToken,
    ) -> Result<(), BuildError> {
        let interpolation = Context::default();
        let generated = GeneratedData::default();
        p.provision(
            ProvisionContext {
                ui,
                cancel,
                interpolation: &interpolation,
                generated: &generated,
                debug: false,
            },
            &NoCommunicator,
        )
        .await
    }

    #[test]
    fn factories_cover_the_local_provisioners() {
        let names: Vec<_> = super::factories().iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            ["sleep", "breakpoint", "shell-local", "shell", "file"]
        );
    }
}
