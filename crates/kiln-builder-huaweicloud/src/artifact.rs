//! The huaweicloud-ecs artifact: the image made, with the plugin's builder
//! ID (`huawei.huaweicloud`), id (the image id) and description; `destroy`
//! deletes it (Glance's delete; gone already is fine). All of it is
//! kiln-cloud's [`kiln_cloud::artifact`], in the plugin's wording
//! ([`STYLE`]). Holds the client.

use std::collections::BTreeMap;

use kiln_cloud::artifact::Style;

use crate::cloud::Hw;

/// The plugin's builder ID.
pub const BUILDER_ID: &str = "huawei.huaweicloud";

/// How the artifact reads: as the plugin writes it (the image ids, no
/// metadata).
const STYLE: Style = Style::image_id(BUILDER_ID);

/// See the module docs.
#[derive(Debug)]
pub struct HuaweiArtifact {
    /// The image, by region.
    pub images: BTreeMap<String, String>,
    /// The client of the build's region.
    pub hw: Hw,
    /// Generated data, secrets left out.
    pub generated: BTreeMap<String, String>,
}

kiln_cloud::impl_region_images_artifact!(HuaweiArtifact, STYLE, |a, _region| a.hw.clone());
