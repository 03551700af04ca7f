//! The ucloud-uhost artifact (the plugin's `Artifact`): the images made,
//! by `<project>:<region>`. Id `project:region:image-id[,…]` sorted,
//! builder id `ucloud.uhost`, the plugin's "UCloud images were created:"
//! text. `destroy` deletes every image; what is gone already is no error.
//! All of it is kiln-cloud's [`kiln_cloud::artifact`], in the plugin's
//! wording ([`STYLE`]). Stores ids and the client; nothing is held open.

use std::collections::BTreeMap;

use kiln_cloud::artifact::{IdForm, Listing, Metadata, Style};

use crate::cloud::Uhost;

/// The plugin's builder id.
pub const BUILDER_ID: &str = "ucloud.uhost";

/// How the artifact reads: as the plugin writes it (a line `project:
/// region: image` each).
const STYLE: Style = Style {
    builder_id: BUILDER_ID,
    id: IdForm::RegionImage,
    text: "UCloud images were created:\n\n{}",
    listing: Listing::ProjectRegionImage,
    metadata: Metadata::Images,
};

/// The images a build made.
#[derive(Clone, Debug)]
pub struct UcloudArtifact {
    /// Image ids by `<project>:<region>`.
    pub images: BTreeMap<String, String>,
    /// The client (any project and region: each image's is used).
    pub uhost: Uhost,
    /// The build's generated data (no secrets).
    pub generated: BTreeMap<String, String>,
}

kiln_cloud::impl_region_images_artifact!(UcloudArtifact, STYLE, |a, key| a.uhost.at_key(key));
