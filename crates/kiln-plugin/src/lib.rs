//! kiln-plugin: kiln's own versioned plugin protocol (host side and the
//! plugin-author side), plugin discovery and installation.
//!
//! - [`protocol`]: the wire format (newline-delimited JSON over the
//!   plugin's stdin/stdout, requests with ids in both directions), the
//!   handshake and version negotiation. Documented for authors in any
//!   language in `docs/plugins/protocol.md`.
//! - [`serve`]: the Rust SDK. A plugin's `main` is
//!   `kiln_plugin::serve(Components { builders: vec![…], … })`, with
//!   components written against kiln-sdk's traits like built-in ones.
//! - [`host`]: the factories that run a plugin's components for the engine.
//! - [`discover`]: finding kiln plugins and Packer plugins in the plugin
//!   directories and registering their components.
//! - [`install`]: `kiln init` and `kiln plugins install|remove`.

pub mod discover;
mod go;
pub mod host;
pub mod install;
pub mod peer;
pub mod protocol;
pub mod proxy;
pub mod serve;
pub mod version;

pub use serve::{serve, Components};
