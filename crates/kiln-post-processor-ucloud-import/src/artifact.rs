//! The ucloud-import artifact: the imported image, as kiln-builder-ucloud's
//! [`UcloudArtifact`] (the plugin's post-processor returns the builder's
//! artifact type) with the post-processor's own builder id
//! `packer.post-processor.ucloud-import` (kiln-cloud's
//! [`kiln_cloud::import::ImportArtifact`]). Id `project:region:image-id`,
//! text "UCloud images were created: …"; `destroy` deletes the image.
//! Stores ids and the client; nothing is held open.

use kiln_builder_ucloud::UcloudArtifact;

/// The plugin's builder id for this post-processor's artifacts.
pub const BUILDER_ID: &str = "packer.post-processor.ucloud-import";

/// See the module docs.
pub type ImportArtifact = kiln_cloud::import::ImportArtifact<UcloudArtifact>;

/// The artifact of the imported `image`.
pub fn imported(image: UcloudArtifact) -> ImportArtifact {
    ImportArtifact::new(BUILDER_ID, image)
}
