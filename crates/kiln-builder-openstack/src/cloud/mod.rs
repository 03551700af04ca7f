//! OpenStack's side of kiln-cloud's generic steps: [`Os`] (the client of
//! the build's project and region) implements `KeyPairApi` (Nova key
//! pairs, `key_pair`), `InstanceApi` (Nova servers, `instance`) and
//! `ImageApi` (Nova's `createImage` and Glance, `image`), each in Packer's
//! openstack wording. Holds the client only; nothing to clean up.

pub mod image;
pub mod instance;
pub mod key_pair;

use serde_json::Value;

use crate::client::Client;

/// The client of the build's project and region, and the settings its
/// calls need.
#[derive(Clone, Debug)]
pub struct Os {
    /// The client.
    pub client: Client,
    /// `force_delete`: servers are deleted with `forceDelete`.
    pub force_delete: bool,
}

/// `v[k]` as a string (`""` when absent).
pub fn text(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or("").to_string()
}

/// Whether `metadata` (a server's metadata, an image's properties)
/// carries every one of `tags`.
pub fn carries(metadata: &Value, tags: &[(String, String)]) -> bool {
    !tags.is_empty() && tags.iter().all(|(k, v)| metadata[k].as_str() == Some(v))
}
