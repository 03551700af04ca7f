//! The alicloud-ecs artifact (Packer's alicloud `Artifact`): the images
//! made, by region. Id `region:image-id[,…]` sorted, builder id
//! `alibaba.alicloud`, Packer's "Alicloud images were created:" text.
//! `destroy` deletes every image (shared ones too) and its snapshots in
//! every region; what is gone already is no error. All of it is
//! kiln-cloud's [`kiln_cloud::artifact`], in Packer's alicloud wording
//! ([`STYLE`]). Stores ids and the client; nothing is held open.

use std::collections::BTreeMap;

use kiln_cloud::artifact::Style;

use crate::cloud::Ecs;

/// Packer's builder id for alicloud-ecs.
pub const BUILDER_ID: &str = "alibaba.alicloud";

/// How the artifact reads: as Packer's alicloud builder writes it.
const STYLE: Style = Style::by_region(BUILDER_ID, "Alicloud images were created:\n\n{}");

/// See the module docs.
#[derive(Clone, Debug)]
pub struct AlicloudArtifact {
    /// Image ids by region.
    pub images: BTreeMap<String, String>,
    /// The build region's client, for `destroy`.
    pub ecs: Ecs,
    /// Generated data, for `generated_data` state.
    pub generated: BTreeMap<String, String>,
}

kiln_cloud::impl_region_images_artifact!(AlicloudArtifact, STYLE, |a, region| a
    .ecs
    .for_region(region));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{AccessKey, Client, Product};
    use kiln_sdk::Artifact;

    #[test]
    fn id_and_text_are_packers() {
        let key = AccessKey {
            id: "ak".into(),
            secret: kiln_sdk::Secret::new("sk".to_string()),
            security_token: None,
        };
        let client = Client::new(
            Product::Ecs,
            "cn-beijing",
            key,
            None,
            kiln_cloud::RetryPolicy::default(),
            kiln_cloud::Timeouts::from_env(),
        )
        .unwrap();
        let a = AlicloudArtifact {
            images: BTreeMap::from([
                ("cn-shanghai".to_string(), "m-2".to_string()),
                ("cn-beijing".to_string(), "m-1".to_string()),
            ]),
            ecs: Ecs {
                client,
                instance_type: "ecs.n1.tiny".into(),
                force_stop: false,
            },
            generated: BTreeMap::new(),
        };
        assert_eq!(a.builder_id(), "alibaba.alicloud");
        assert_eq!(a.id(), "cn-beijing:m-1,cn-shanghai:m-2");
        assert_eq!(
            a.describe(),
            "Alicloud images were created:\n\ncn-beijing: m-1\ncn-shanghai: m-2"
        );
        assert_eq!(
            a.state("atlas.artifact.metadata").unwrap(),
            serde_json::json!({"region.cn-beijing": "m-1", "region.cn-shanghai": "m-2"})
        );
        assert!(a.state("generated_data").is_none());
        assert!(a.files().is_empty());
    }
}
