//! The tencentcloud-cvm artifact (Packer's tencentcloud `Artifact`): the
//! images made, by region. Id `region:image-id[,…]` sorted, builder id
//! `tencent.cloud`, Packer's "Tencentcloud images(…) were created:" text.
//! `destroy` deletes every image (unshared first) in every region; what is
//! gone already is no error. All of it is kiln-cloud's
//! [`kiln_cloud::artifact`], in Packer's tencentcloud wording ([`STYLE`]).
//! Stores ids and the clients; nothing is held open.

use std::collections::BTreeMap;

use kiln_cloud::artifact::Style;

use crate::cloud::Cvm;

/// Packer's builder id for tencentcloud-cvm.
pub const BUILDER_ID: &str = "tencent.cloud";

/// How the artifact reads: as Packer's tencentcloud builder writes it
/// (the images inside the parentheses).
const STYLE: Style = Style::by_region(BUILDER_ID, "Tencentcloud images({}) were created:\n\n");

/// See the module docs.
#[derive(Clone, Debug)]
pub struct TencentArtifact {
    /// Image ids by region.
    pub images: BTreeMap<String, String>,
    /// The build region's clients, for `destroy`.
    pub cvm: Cvm,
    /// Generated data, for `generated_data` state.
    pub generated: BTreeMap<String, String>,
}

kiln_cloud::impl_region_images_artifact!(TencentArtifact, STYLE, |a, region| a
    .cvm
    .for_region(region));
