//! Packer's Go plugins, registered through kiln-plugin-go's factories.
//! The bridge's factory is made only when a template uses the component
//! (in `prepare`), so discovering and listing Packer plugins never starts
//! one. Holds only how to start the plugin.

use std::path::PathBuf;

#[cfg(not(feature = "go"))]
use kiln_sdk::config::{ConfigErrors, RawConfig};

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

/// One line per kind: with the bridge, the kind's factory from
/// kiln-plugin-go prepares it; without, preparing reports the missing
/// bridge.
macro_rules! go_factory {
    ($factory:ident => $component:ident, $make:ident, $kind:literal) => {
        crate::impl_factory!(GoComponent, $factory => $component, |self, raw, cx| {
            #[cfg(feature = "go")]
            return kiln_plugin_go::$make(self.name, self.cmd()).prepare(raw, cx);
            #[cfg(not(feature = "go"))]
            {
                let _ = cx;
                self.unsupported(raw, $kind)
            }
        });
    };
}

go_factory!(BuilderFactory => Builder, builder_factory, "builder");
go_factory!(ProvisionerFactory => Provisioner, provisioner_factory, "provisioner");
go_factory!(PostProcessorFactory => PostProcessor, post_processor_factory, "post-processor");
