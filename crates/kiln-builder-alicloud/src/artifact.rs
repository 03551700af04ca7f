//! The alicloud-ecs artifact (Packer's alicloud `Artifact`): the images
//! made, by region. Id `region:image-id[,…]` sorted, builder id
//! `alibaba.alicloud`, Packer's "Alicloud images were created:" text.
//! `destroy` deletes every image (shared ones too) and its snapshots in
//! every region, through kiln-cloud's generic [`destroy_images`]; what is
//! gone already is no error. Stores ids and the client; nothing is held
//! open.

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use kiln_cloud::steps::image::destroy_images;
use kiln_sdk::artifact::{Artifact, ArtifactError};

use crate::cloud::Ecs;

/// Packer's builder id for alicloud-ecs.
pub const BUILDER_ID: &str = "alibaba.alicloud";

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

#[async_trait]
impl Artifact for AlicloudArtifact {
    fn builder_id(&self) -> &str {
        BUILDER_ID
    }
    fn id(&self) -> String {
        self.images
            .iter()
            .map(|(r, i)| format!("{r}:{i}"))
            .collect::<Vec<_>>()
            .join(",")
    }
    fn files(&self) -> Vec<PathBuf> {
        Vec::new()
    }
    fn describe(&self) -> String {
        let lines: Vec<String> = self
            .images
            .iter()
            .map(|(r, i)| format!("{r}: {i}"))
            .collect();
        format!("Alicloud images were created:\n\n{}", lines.join("\n"))
    }
    fn state(&self, key: &str) -> Option<serde_json::Value> {
        match key {
            "generated_data" if !self.generated.is_empty() => {
                Some(serde_json::json!(self.generated))
            }
            "atlas.artifact.metadata" => Some(serde_json::json!(self
                .images
                .iter()
                .map(|(r, i)| (format!("region.{r}"), i.clone()))
                .collect::<BTreeMap<_, _>>())),
            _ => None,
        }
    }
    async fn destroy(&self) -> Result<(), ArtifactError> {
        destroy_images(&self.images, |region| self.ecs.for_region(region))
            .await
            .map_err(|e| ArtifactError {
                id: self.id(),
                message: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{AccessKey, Client, Product};

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
