//! The amazon-ebs artifact (Packer's `awscommon.Artifact`): the AMIs made,
//! by region. Id `region:ami-id[,region:ami-id…]` sorted, builder id
//! `mitchellh.amazonebs`, Packer's "AMIs were created:" text. `destroy`
//! deregisters every AMI and deletes its snapshots in every region (run
//! when a post-processor discards its input), through kiln-cloud's
//! generic [`destroy_images`]; what is gone already is no error. It
//! stores ids and the SDK configuration; nothing is held open.

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use kiln_cloud::steps::image::{destroy_image, destroy_images};
use kiln_sdk::artifact::{Artifact, ArtifactError};

use crate::client;
use crate::cloud::image::Ec2Images;

/// Packer's builder id for amazon-ebs.
pub const BUILDER_ID: &str = "mitchellh.amazonebs";

/// See the module docs.
#[derive(Clone)]
pub struct AmiArtifact {
    /// AMI ids by region.
    pub amis: BTreeMap<String, String>,
    /// Credentials and endpoint, for `destroy`.
    pub sdk: aws_config::SdkConfig,
    /// Generated data, for `generated_data` state.
    pub generated: BTreeMap<String, String>,
}

impl std::fmt::Debug for AmiArtifact {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmiArtifact")
            .field("amis", &self.amis)
            .finish_non_exhaustive()
    }
}

/// Deregisters `images` in the region of `ec2` and deletes their
/// snapshots (Packer's `DestroyAMIs`, through kiln-cloud's
/// [`destroy_image`]). Missing images are not an error.
pub async fn destroy_amis(ec2: &client::Ec2, images: &[String]) -> Result<(), String> {
    let api = Ec2Images::unshared(ec2.clone());
    for id in images {
        destroy_image(&api, id).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[async_trait]
impl Artifact for AmiArtifact {
    fn builder_id(&self) -> &str {
        BUILDER_ID
    }
    fn id(&self) -> String {
        self.amis
            .iter()
            .map(|(r, a)| format!("{r}:{a}"))
            .collect::<Vec<_>>()
            .join(",")
    }
    fn files(&self) -> Vec<PathBuf> {
        Vec::new()
    }
    fn describe(&self) -> String {
        let lines: Vec<String> = self.amis.iter().map(|(r, a)| format!("{r}: {a}")).collect();
        format!("AMIs were created:\n{}\n", lines.join("\n"))
    }
    fn state(&self, key: &str) -> Option<serde_json::Value> {
        match key {
            "generated_data" if !self.generated.is_empty() => {
                Some(serde_json::json!(self.generated))
            }
            "atlas.artifact.metadata" => Some(serde_json::json!(self
                .amis
                .iter()
                .map(|(r, a)| (format!("region.{r}"), a.clone()))
                .collect::<BTreeMap<_, _>>())),
            _ => None,
        }
    }
    async fn destroy(&self) -> Result<(), ArtifactError> {
        destroy_images(&self.amis, |region| {
            Ec2Images::unshared(client::ec2_for(&self.sdk, region))
        })
        .await
        .map_err(|e| ArtifactError {
            id: self.id(),
            message: e.to_string(),
        })
    }
}
