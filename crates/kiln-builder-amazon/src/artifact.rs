//! The amazon-ebs artifact (Packer's `awscommon.Artifact`): the AMIs made,
//! by region. Id `region:ami-id[,region:ami-id…]` sorted, builder id
//! `mitchellh.amazonebs`, Packer's "AMIs were created:" text. `destroy`
//! deregisters every AMI and deletes its snapshots (run when a
//! post-processor discards its input). It stores ids and the SDK
//! configuration; nothing is held open.

use std::collections::BTreeMap;
use std::path::PathBuf;

use async_trait::async_trait;
use kiln_sdk::artifact::{Artifact, ArtifactError};

use crate::client;

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
/// snapshots (Packer's `DestroyAMIs`). Missing images are not an error.
pub async fn destroy_amis(ec2: &client::Ec2, images: &[String]) -> Result<(), String> {
    if images.is_empty() {
        return Ok(());
    }
    let resp = ec2
        .send(
            ec2.describe_images().set_image_ids(Some(images.to_vec())),
            |r| r.send(),
        )
        .await;
    let found = match resp {
        Ok(r) => r.images.unwrap_or_default(),
        Err(e) if e.code().is_some_and(|c| c.starts_with("InvalidAMIID")) => Vec::new(),
        Err(e) => return Err(format!("error describing AMIs: {}", e)),
    };
    for image in found {
        let id = image.image_id().unwrap_or_default().to_string();
        if let Err(e) = ec2
            .send(ec2.deregister_image().image_id(&id), |r| r.send())
            .await
        {
            if !e.code().is_some_and(|c| c.starts_with("InvalidAMIID")) {
                return Err(format!("error deregistering AMI `{id}`: {}", e));
            }
        }
        for bdm in image.block_device_mappings() {
            let Some(snap) = bdm.ebs().and_then(|e| e.snapshot_id()) else {
                continue;
            };
            if let Err(e) = ec2
                .send(ec2.delete_snapshot().snapshot_id(snap), |r| r.send())
                .await
            {
                if !e.code().is_some_and(|c| c.starts_with("InvalidSnapshot")) {
                    return Err(format!(
                        "error deleting snapshot `{snap}` of AMI `{id}`: {}",
                        e
                    ));
                }
            }
        }
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
        let mut errors = Vec::new();
        for (region, ami) in &self.amis {
            let ec2 = client::ec2_for(&self.sdk, region);
            if let Err(e) = destroy_amis(&ec2, std::slice::from_ref(ami)).await {
                errors.push(format!("{region}: {e}"));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ArtifactError {
                id: self.id(),
                message: errors.join("; "),
            })
        }
    }
}
