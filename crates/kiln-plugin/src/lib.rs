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

/// Implements one of kiln-sdk's factory traits (`$factory`, making a
/// `dyn $component`) for `$ty`, whose `name` field is the type name and
/// whose `prepare` is `$body`, with `$self`, `$raw` (the `RawConfig`) and
/// `$cx` (the `PrepareContext`) bound (`_` where unused). The types that
/// serve several kinds (plugin components, Packer components, unusable
/// ones) write each kind in one line with it.
macro_rules! impl_factory {
    (
        $ty:ty, $factory:ident => $component:ident,
        |$self:ident, $raw:pat_param, $cx:pat_param| $body:expr
    ) => {
        impl ::kiln_sdk::$factory for $ty {
            fn name(&self) -> &'static str {
                self.name
            }
            fn prepare(
                &$self,
                $raw: &::kiln_sdk::config::RawConfig,
                $cx: &::kiln_sdk::PrepareContext,
            ) -> ::std::result::Result<
                ::kiln_sdk::Prepared<::std::boxed::Box<dyn ::kiln_sdk::$component>>,
                ::kiln_sdk::config::ConfigErrors,
            > {
                $body
            }
        }
    };
}
pub(crate) use impl_factory;

pub mod discover;
mod go;
pub mod host;
pub mod install;
pub mod peer;
pub mod protocol;
pub mod proxy;
pub mod serve;

pub use serve::{serve, Components};
