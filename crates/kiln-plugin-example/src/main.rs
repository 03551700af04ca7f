//! kiln-plugin-example: an example kiln plugin. Its components are written
//! exactly like built-in ones, against kiln-sdk's traits; `main` only hands
//! them to `kiln_plugin::serve`. It serves:
//! - builder `example-dir`: "builds" a directory on this machine, with a
//!   local communicator so that provisioners (`shell`, `file`, …) run
//!   commands and copy files there;
//! - provisioner `example-exec`: runs a command over the build's
//!   communicator, streaming its output;
//! - post-processor `example-sha256`: writes a `.sha256` file next to each
//!   file of the artifact;
//! - data source `example-file`: reads a file while an HCL2 template is
//!   evaluated (`data "example-file" "NAME" { path = "…" }`).

mod builder;
mod communicator;
mod data_source;
mod post_processor;
mod provisioner;

use std::process::ExitCode;

use kiln_sdk::config::DecodeOptions;
use kiln_sdk::PrepareContext;

/// How every component here decodes its config: string values are
/// interpolated with the template's context first (JSON templates).
fn decode_options(cx: &PrepareContext) -> DecodeOptions<'_> {
    DecodeOptions {
        interpolate: Some(&cx.interpolation),
        ..Default::default()
    }
}

fn main() -> ExitCode {
    kiln_plugin::serve(kiln_plugin::Components {
        version: env!("CARGO_PKG_VERSION"),
        builders: vec![Box::new(builder::DirBuilderFactory)],
        provisioners: vec![Box::new(provisioner::ExecFactory)],
        post_processors: vec![Box::new(post_processor::Sha256Factory)],
        data_sources: vec![Box::new(data_source::FileDataSourceFactory)],
    })
}
