//! The table of component types a run can use, of all four kinds:
//! builders, provisioners, post-processors and data sources. `kiln-registry`
//! fills it with the built-ins, listed explicitly; plugin discovery
//! (`kiln-plugin`) adds the components of discovered plugins to the same
//! table. The template evaluator reads its data sources from it, and the
//! engine prepares builds from it. It holds factories only: no state, no
//! cleanup.

use crate::{BuilderFactory, DataSourceFactory, PostProcessorFactory, ProvisionerFactory};

/// Component factories by kind; the first factory of a name wins.
#[derive(Default)]
pub struct Registry {
    /// Builder types.
    pub builders: Vec<Box<dyn BuilderFactory>>,
    /// Provisioner types.
    pub provisioners: Vec<Box<dyn ProvisionerFactory>>,
    /// Post-processor types.
    pub post_processors: Vec<Box<dyn PostProcessorFactory>>,
    /// Data source types (HCL2 `data` blocks).
    pub data_sources: Vec<Box<dyn DataSourceFactory>>,
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
    /// The data source type called `name`.
    pub fn data_source(&self, name: &str) -> Option<&dyn DataSourceFactory> {
        self.data_sources
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
    /// Names of the data source types, in table order (built-ins first).
    pub fn data_source_names(&self) -> Vec<&'static str> {
        self.data_sources.iter().map(|f| f.name()).collect()
    }
}

fn sorted(names: impl Iterator<Item = &'static str>) -> Vec<&'static str> {
    let mut v: Vec<_> = names.collect();
    v.sort_unstable();
    v
}
