//! Packer's Go plugins, registered through kiln-plugin-go's factories.
//! The bridge's factory is made only when a template uses the component
//! (in `prepare`), so discovering and listing Packer plugins never starts
//! one. Holds only how to start the plugin.

use std::path::PathBuf;

use kiln_sdk::config::{ConfigErrors, RawConfig};
use kiln_sdk::{
    Builder, BuilderFactory, PostProcessor, PostProcessorFactory, PrepareContext, Prepared,
    Provisioner, ProvisionerFactory,
};

/// One component of a Packer plugin: its registered name and how to start
/// it (the executable and its arguments).
pub struct GoComponent {
    /// The name templates use.
    pub name: &'static str,
    /// The executable and its arguments.
    pub command: (PathBuf, Vec<String>),
}

impl GoComponent {
    #[cfg(feature = "go")]
    fn cmd(&self) -> kiln_plugin_go::GoPluginCommand {
        kiln_plugin_go::GoPluginCommand {
            program: self.command.0.clone(),
            args: self.command.1.clone(),
        }
    }

    #[cfg(not(feature = "go"))]
    fn unsupported<T>(&self, raw: &RawConfig, kind: &str) -> Result<T, ConfigErrors> {
        let mut e = kiln_sdk::config::ConfigError::new(format!(
            "{kind} `{}` comes from the Packer plugin `{}`, but this kiln was built without the Go plugin bridge",
            self.name,
            self.command.0.display()
        ));
        e.location = raw.location.clone();
        Err(e.into())
    }
}

impl BuilderFactory for GoComponent {
    fn name(&self) -> &'static str {
        self.name
    }
    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Builder>>, ConfigErrors> {
        #[cfg(feature = "go")]
        return kiln_plugin_go::builder_factory(self.name, self.cmd()).prepare(raw, cx);
        #[cfg(not(feature = "go"))]
        {
            let _ = cx;
            self.unsupported(raw, "builder")
        }
    }
}

impl ProvisionerFactory for GoComponent {
    fn name(&self) -> &'static str {
        self.name
    }
    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Provisioner>>, ConfigErrors> {
        #[cfg(feature = "go")]
        return kiln_plugin_go::provisioner_factory(self.name, self.cmd()).prepare(raw, cx);
        #[cfg(not(feature = "go"))]
        {
            let _ = cx;
            self.unsupported(raw, "provisioner")
        }
    }
}

impl PostProcessorFactory for GoComponent {
    fn name(&self) -> &'static str {
        self.name
    }
    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        #[cfg(feature = "go")]
        return kiln_plugin_go::post_processor_factory(self.name, self.cmd()).prepare(raw, cx);
        #[cfg(not(feature = "go"))]
        {
            let _ = cx;
            self.unsupported(raw, "post-processor")
        }
    }
}
