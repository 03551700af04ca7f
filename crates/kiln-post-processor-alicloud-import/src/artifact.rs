//! The alicloud-import artifact: the imported image, as kiln-builder-alicloud's
//! [`AlicloudArtifact`] (Packer's post-processor returns the alicloud-ecs
//! builder's artifact type) with the post-processor's own builder id
//! `packer.post-processor.alicloud-import` (kiln-cloud's
//! [`kiln_cloud::import::ImportArtifact`]). Id `region:image-id`, text
//! "Alicloud images were created: …"; `destroy` deletes the image and its
//! snapshots. Stores ids and the client; nothing is held open.

use kiln_builder_alicloud::AlicloudArtifact;

/// Packer's builder id for this post-processor's artifacts.
pub const BUILDER_ID: &str = "packer.post-processor.alicloud-import";

/// See the module docs.
pub type ImportArtifact = kiln_cloud::import::ImportArtifact<AlicloudArtifact>;

/// The artifact of the imported `image`.
pub fn imported(image: AlicloudArtifact) -> ImportArtifact {
    ImportArtifact::new(BUILDER_ID, image)
}
