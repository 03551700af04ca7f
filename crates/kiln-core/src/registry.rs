//! The table of component types a run can use: the built-ins (listed
//! explicitly by `kiln-registry`) plus, later, plugin components registered
//! behind the same traits.

use kiln_sdk::{BuilderFactory, PostProcessorFactory, ProvisionerFactory};

/// Component factories by kind.
#[derive(Default)]
pub struct Registry {
    /// Builder types.
    pub builders: Vec<Box<dyn BuilderFactory>>,
    /// Provisioner types.
    pub provisioners: Vec<Box<dyn ProvisionerFactory>>,
    /// Post-processor types.
    pub post_processors: Vec<Box<dyn PostProcessorFactory>>,
}

impl Registry {
    /// The builder type called `name`.
    pub fn builder(&self, name: &str) -> Option<&dyn BuilderFactory> {
        self.builders
            .iter()
            .find(|f| f.name() == name)
            .map(|b| b.as_ref())
    }
    /// The provisioner type called `name`.
    pub fn provisioner(&self, name: &str) -> Option<&dyn ProvisionerFactory> {
        self.provisioners
            .iter()
            .find(|f| f.name() == name)
            .map(|b| b.as_ref())
    }
    /// The post-processor type called `name`.
    pub fn post_processor(&self, name: &str) -> Option<&dyn PostProcessorFactory> {
        self.post_processors
            .iter()
            .find(|f| f.name() == name)
            .map(|b| b.as_ref())
    }
    /// Sorted names of the builder types.
    pub fn builder_names(&self) -> Vec<&'static str> {
        sorted(self.builders.iter().map(|f| f.name()))
    }
    /// Sorted names of the provisioner types.
    pub fn provisioner_names(&self) -> Vec<&'static str> {
        sorted(self.provisioners.iter().map(|f| f.name()))
    }
    /// Sorted names of the post-processor types.
    pub fn post_processor_names(&self) -> Vec<&'static str> {
        sorted(self.post_processors.iter().map(|f| f.name()))
    }
}

fn sorted(names: impl Iterator<Item = &'static str>) -> Vec<&'static str> {
    let mut v: Vec<_> = names.collect();
    v.sort_unstable();
    v
}
