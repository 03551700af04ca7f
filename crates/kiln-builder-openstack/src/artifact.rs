//! The openstack artifact: the image made, with Packer's builder ID
//! (`mitchellh.openstack`), id (the image id) and description ("An image
//! was created: …"); `destroy` deletes it (Glance's delete; gone already
//! is fine). All of it is kiln-cloud's [`kiln_cloud::artifact`], in
//! Packer's wording ([`STYLE`]). Holds the client.

use std::collections::BTreeMap;

use kiln_cloud::artifact::Style;

use crate::cloud::Os;

/// Packer's builder ID.
pub const BUILDER_ID: &str = "mitchellh.openstack";

/// How the artifact reads: as Packer writes it (the image id, no
/// metadata).
const STYLE: Style = Style::image_id(BUILDER_ID);

/// See the module docs.
#[derive(Debug)]
pub struct OpenstackArtifact {
    /// The image, by region (one).
    pub images: BTreeMap<String, String>,
    /// The client.
    pub os: Os,
    /// Generated data, secrets left out.
    pub generated: BTreeMap<String, String>,
}

kiln_cloud::impl_region_images_artifact!(OpenstackArtifact, STYLE, |a, _region| a.os.clone());
