//! amazon-ebs's side of kiln-cloud's image steps
//! ([`kiln_cloud::steps::image`]): [`Ec2Images`] implements `ImageApi`
//! with EC2's calls in one region (`CreateImage`, adopting an AMI of the
//! same name after a lost reply since it takes no client token; `CopyImage`
//! with a client token; `DescribeImages` while waiting through the
//! process's shared batched lookups, [`crate::lookup`], and directly
//! otherwise; `DeregisterImage`, `DeleteSnapshot`, `ModifyImageAttribute`,
//! `EnableImageDeprecation`, `ModifySnapshotAttribute`, `CreateTags`), each
//! retried by kiln's policy, with Packer's amazon wording; [`AmazonState`]
//! records the AMIs and snapshots by region. Holds nothing and creates
//! nothing itself; the generic steps' cleanups deregister what they made.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_ec2::operation::create_image::builders::CreateImageFluentBuilder;
use aws_sdk_ec2::operation::create_image::CreateImageOutput;
use aws_sdk_ec2::types::{
    AttributeValue, CreateVolumePermission, CreateVolumePermissionModifications, Filter, Image,
    LaunchPermission, LaunchPermissionModifications, PermissionGroup,
};
use aws_smithy_types::DateTime;
use kiln_cloud::steps::image::{
    CopyTarget, ImageApi, ImageChange, ImagePhase, ImageStatus, ImageWording, NewImage, Sharing,
    Text,
};
use kiln_cloud::ApiError;
use kiln_sdk::step::StepError;
use kiln_sdk::Ui;
use tokio_util::sync::CancellationToken;

use crate::client::{self, Ec2};
use crate::lookup::{self, Lookups};
use crate::{tags, AmazonState};

/// Packer's amazon wording for the image steps.
const WORDING: ImageWording = ImageWording {
    noun: "AMI",
    cloud: "EC2",
    created: &[Text::Message("AMI: {id}")],
    waiting: &[Text::Say("Waiting for AMI to become ready...")],
    deleting_created: &[Text::Say(
        "Deregistering the AMI and deleting associated snapshots because of cancellation, or error...",
    )],
    delete_created_failed: "Error deregistering AMI, may still be around: {error}",
    find_failed: "Error looking for the AMI `{name}` this build may have made, it may still be around: {error}",
    copying: &[Text::Say("Copying/Encrypting AMI ({id}) to other regions...")],
    copying_to: &[Text::Message("Copying to: {region}")],
    waiting_copies: &[Text::Message("Waiting for all copies to complete...")],
    copy_wait_failed: "error waiting for AMI ({id}) in region ({region}): {error}",
    replacing: &[Text::Say(
        "Deregistering the unencrypted intermediary AMI and deleting its snapshots...",
    )],
    deleting_copies: &[Text::Say(
        "Deregistering the copied AMIs and deleting their snapshots because of cancellation, or error...",
    )],
    delete_copy_failed: "Error deregistering AMI in {region}, may still be around: {error}",
    modifying: &[Text::Say("Modifying attributes on AMI ({id})...")],
    modifying_snapshot: &[Text::Say("Modifying attributes on snapshot ({id})...")],
    share_snapshot_failed: "error modifying create volume permissions on `{id}`: {error}",
    tagging: &[Text::Say("Adding tags to AMI ({id})...")],
    tagging_snapshot: &[Text::Message("Tagging snapshot: {id}")],
    image_tags: &[Text::Say("Creating AMI tags")],
    snapshot_tags: &[Text::Say("Creating snapshot tags")],
    tag: "Adding tag: \"{key}\": \"{value}\"",
    tag_image_failed: "error adding tags to AMI ({id}): {error}",
    tag_snapshots_failed: "error adding tags to snapshots in {region}: {error}",
    run_tags_failed: "error adding the run tags to {id}: {error}",
    describe_failed: "error describing AMIs: {error}",
    delete_failed: "error deregistering AMI `{id}`: {error}",
    delete_snapshot_failed: "error deleting snapshot `{snapshot}` of AMI `{id}`: {error}",
};

/// EC2's image calls in one region: its client and its lookups.
#[derive(Clone)]
pub struct Ec2Images {
    ec2: Ec2,
    lookups: Arc<Lookups>,
}

impl Ec2Images {
    /// The image calls through `ec2`, waiting through `lookups` (the
    /// region's shared ones).
    pub fn new(ec2: Ec2, lookups: Arc<Lookups>) -> Self {
        Ec2Images { ec2, lookups }
    }

    /// The image calls through `ec2` with lookups of their own, for calls
    /// that do not wait (deleting an artifact's AMIs).
    pub fn unshared(ec2: Ec2) -> Self {
        let lookups = Arc::new(Lookups::new(ec2.clone()));
        Ec2Images { ec2, lookups }
    }
}

/// One `CopyImage` into a region, less the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ec2Copy {
    /// `ami_name`.
    pub name: String,
    /// `ami_description`.
    pub description: Option<String>,
    /// The KMS key of the encrypted copy (`kms_key_id` in the build
    /// region, `region_kms_key_ids` elsewhere).
    pub kms_key_id: Option<String>,
    /// `encrypt_boot`.
    pub encrypted: bool,
}

/// One of EC2's own image attributes, set after the AMI is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ec2Attribute {
    /// `ami_description` (the copies get it too).
    Description(String),
    /// `imds_support`.
    ImdsSupport(String),
    /// `deprecate_at`, in seconds since the epoch.
    DeprecateAt(i64),
}

fn modify_failed(what: &str, id: &str, e: &ApiError) -> StepError {
    StepError::msg(format!("error modifying {what} on `{id}`: {e}"))
}

fn unknown(e: &ApiError, prefix: &str) -> bool {
    e.code().is_some_and(|c| c.starts_with(prefix))
}

#[async_trait]
impl ImageApi for Ec2Images {
    type Create = CreateImageFluentBuilder;
    type Copy = Ec2Copy;
    type Attribute = Ec2Attribute;
    type Image = Image;

    async fn create(
        &self,
        image: &NewImage<CreateImageFluentBuilder>,
        _cancel: &CancellationToken,
    ) -> Result<String, StepError> {
        // CreateImage has no client token: before a retry (the reply of
        // the last attempt may be lost), and on a duplicate name after
        // one, the AMI of this name is looked up and adopted.
        let lookups = self.lookups.clone();
        let find = || {
            let lookups = lookups.clone();
            let name = image.name.clone();
            async move {
                Ok::<_, ApiError>(
                    lookups
                        .own_image_named(&name)
                        .await?
                        .map(|id| CreateImageOutput::builder().image_id(id).build()),
                )
            }
        };
        let resp = self
            .ec2
            .create(
                image.request.clone(),
                |r| r.send(),
                &["InvalidAMIName.Duplicate"],
                true,
                find,
            )
            .await
            .map_err(|e| StepError::msg(format!("error creating AMI: {e}")))?;
        resp.image_id()
            .map(str::to_string)
            .ok_or_else(|| StepError::msg("error creating AMI: EC2 returned no image id"))
    }

    async fn find_created(
        &self,
        name: &str,
        run_tags: &[(String, String)],
    ) -> Result<Option<String>, ApiError> {
        let filters = std::iter::once(Filter::builder().name("name").values(name).build())
            .chain(
                run_tags
                    .iter()
                    .map(|(k, v)| Filter::builder().name(format!("tag:{k}")).values(v).build()),
            )
            .collect();
        let resp = self
            .ec2
            .send(
                self.ec2
                    .describe_images()
                    .owners("self")
                    .set_filters(Some(filters)),
                |r| r.send(),
            )
            .await?;
        Ok(resp
            .images()
            .iter()
            .find_map(|i| i.image_id())
            .map(str::to_string))
    }

    async fn copy(
        &self,
        source_region: &str,
        source: &str,
        target: &CopyTarget<Ec2Copy>,
        _cancel: &CancellationToken,
    ) -> Result<String, StepError> {
        let c = &target.request;
        let mut req = self
            .ec2
            .copy_image()
            .source_region(source_region)
            .source_image_id(source)
            .name(&c.name)
            .set_description(c.description.clone())
            .set_kms_key_id(c.kms_key_id.clone())
            // The same token on every retry: a copy whose reply was lost
            // is not made twice.
            .client_token(uuid::Uuid::new_v4().to_string());
        if c.encrypted {
            req = req.encrypted(true);
        }
        let resp = self.ec2.send(req, |r| r.send()).await.map_err(|e| {
            StepError::msg(format!(
                "error copying AMI ({source}) to region ({}): {e}",
                target.region
            ))
        })?;
        Ok(resp.image_id().unwrap_or_default().to_string())
    }

    async fn describe(&self, id: &str) -> Result<Option<Image>, ApiError> {
        match self
            .ec2
            .send(self.ec2.describe_images().image_ids(id), |r| r.send())
            .await
        {
            Ok(r) => Ok(r
                .images()
                .iter()
                .find(|i| i.image_id() == Some(id))
                .cloned()),
            Err(e) if unknown(&e, "InvalidAMIID") => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn describe_for_wait(&self, id: &str) -> Result<Option<Image>, ApiError> {
        self.lookups.image(id).await
    }

    fn status(&self, image: &Image) -> ImageStatus {
        let state = image.state().map(|s| s.as_str());
        let phase = match state {
            Some("available") => ImagePhase::Available,
            Some("failed" | "error" | "invalid" | "deregistered") => ImagePhase::Failed,
            _ => ImagePhase::Pending,
        };
        ImageStatus {
            phase,
            state: state.unwrap_or("unknown").to_string(),
            reason: image
                .state_reason()
                .and_then(|r| r.message())
                .map(str::to_string),
        }
    }

    fn snapshots(&self, image: &Image) -> Vec<String> {
        crate::step_create_ami::snapshots(image)
    }

    async fn delete_image(&self, id: &str) -> Result<(), ApiError> {
        match self
            .ec2
            .send(self.ec2.deregister_image().image_id(id), |r| r.send())
            .await
        {
            Err(e) if !unknown(&e, "InvalidAMIID") => Err(e),
            _ => Ok(()),
        }
    }

    async fn delete_snapshot(&self, id: &str) -> Result<(), ApiError> {
        match self
            .ec2
            .send(self.ec2.delete_snapshot().snapshot_id(id), |r| r.send())
            .await
        {
            Err(e) if !unknown(&e, "InvalidSnapshot") => Err(e),
            _ => Ok(()),
        }
    }

    async fn modify_image(
        &self,
        id: &str,
        change: &ImageChange<Ec2Attribute>,
        ui: &dyn Ui,
    ) -> Result<(), StepError> {
        let ec2 = &self.ec2;
        let modify = ec2.modify_image_attribute().image_id(id);
        match change {
            ImageChange::Attribute(Ec2Attribute::Description(d)) => {
                ui.message("Modifying: description");
                ec2.send(
                    modify.description(AttributeValue::builder().value(d).build()),
                    |r| r.send(),
                )
                .await
                .map_err(|e| modify_failed("description", id, &e))?;
            }
            ImageChange::Share(s) => {
                let mut add = Vec::new();
                if !s.groups.is_empty() {
                    ui.message("Modifying: groups");
                    for g in &s.groups {
                        add.push(
                            LaunchPermission::builder()
                                .group(PermissionGroup::from(g.as_str()))
                                .build(),
                        );
                    }
                }
                if !s.accounts.is_empty() {
                    ui.message("Modifying: users");
                    for u in &s.accounts {
                        add.push(LaunchPermission::builder().user_id(u).build());
                    }
                }
                ec2.send(
                    modify.launch_permission(
                        LaunchPermissionModifications::builder()
                            .set_add(Some(add))
                            .build(),
                    ),
                    |r| r.send(),
                )
                .await
                .map_err(|e| modify_failed("launch permissions", id, &e))?;
            }
            ImageChange::Attribute(Ec2Attribute::ImdsSupport(v)) => {
                ui.message("Modifying: imds_support");
                ec2.send(
                    modify.imds_support(AttributeValue::builder().value(v).build()),
                    |r| r.send(),
                )
                .await
                .map_err(|e| modify_failed("imds_support", id, &e))?;
            }
            ImageChange::Attribute(Ec2Attribute::DeprecateAt(t)) => {
                ui.message("Modifying: deprecate_at");
                ec2.send(
                    ec2.enable_image_deprecation()
                        .image_id(id)
                        .deprecate_at(DateTime::from_secs(*t)),
                    |r| r.send(),
                )
                .await
                .map_err(|e| modify_failed("deprecate_at", id, &e))?;
            }
        }
        Ok(())
    }

    async fn share_snapshot(&self, id: &str, sharing: &Sharing) -> Result<(), ApiError> {
        let groups = sharing.groups.iter().map(|g| {
            CreateVolumePermission::builder()
                .group(PermissionGroup::from(g.as_str()))
                .build()
        });
        let users = sharing
            .accounts
            .iter()
            .map(|u| CreateVolumePermission::builder().user_id(u).build());
        let add = groups.chain(users).collect();
        self.ec2
            .send(
                self.ec2
                    .modify_snapshot_attribute()
                    .snapshot_id(id)
                    .create_volume_permission(
                        CreateVolumePermissionModifications::builder()
                            .set_add(Some(add))
                            .build(),
                    ),
                |r| r.send(),
            )
            .await
            .map(drop)
    }

    async fn tag(&self, ids: &[String], pairs: &[(String, String)]) -> Result<(), ApiError> {
        self.ec2
            .send(
                self.ec2
                    .create_tags()
                    .set_resources(Some(ids.to_vec()))
                    .set_tags(Some(tags::ec2_tags(pairs))),
                |r| r.send(),
            )
            .await
            .map(drop)
    }

    fn wording(&self) -> &ImageWording {
        &WORDING
    }
}

kiln_cloud::impl_image_state!(AmazonState, Ec2Images, images: amis, snapshots: snapshots, {
    fn build_region(&self) -> String {
        self.region.clone()
    }
    fn image_api(&self, region: &str) -> Ec2Images {
        if region == self.region {
            return Ec2Images::new(self.ec2.clone(), self.lookups.clone());
        }
        Ec2Images::new(
            client::ec2_for(&self.sdk, region),
            lookup::shared(&self.sdk, &self.access, region),
        )
    }
    fn run_tags(&self) -> &[(String, String)] {
        &self.run_tags
    }
});
