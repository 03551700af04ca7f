//! Packer's `alicloud-import` post-processor for kiln: the input
//! artifact's disk image (its first `.raw` or `.vhd` file, as Packer picks
//! it, else its first `.qcow2`) is uploaded to an OSS bucket (created when
//! missing), imported as an ECS custom image with ImportImage (the import
//! RAM role made ready when ECS says it is missing), waited for until
//! available, and the uploaded object deleted unless `skip_clean`. The
//! result is an alicloud image artifact with Packer's builder id
//! `packer.post-processor.alicloud-import`.
//!
//! [`config`] decodes and validates the keys (the access section is the
//! alicloud-ecs builder's); [`oss`] is a small signed OSS client; [`role`]
//! makes the import role ready; the ECS and RAM calls go through
//! kiln-builder-alicloud's signed RPC client under kiln-cloud's retry
//! policy. The image and the uploaded object carry kiln's run tags (and
//! the image the template's `tags`). What the post-processor created is
//! recorded before the call that may fail ([`Created`]); on failure or
//! Ctrl-C it deletes it again: the half-imported image (and its
//! snapshots), the uploaded object or the unfinished multipart upload, and
//! the bucket when it made it. The import role stays, as in Packer.

pub mod artifact;
pub mod config;
pub mod oss;
pub mod role;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kiln_builder_alicloud::client::{self as ecs_client, Client, Params, Product};
use kiln_builder_alicloud::cloud::image::ALL_STATUSES;
use kiln_builder_alicloud::cloud::{items, text, Ecs};
use kiln_builder_alicloud::AlicloudArtifact;
use kiln_cloud::import::{cancellable, delete_imported, listed_files, with_progress, Failed};
use kiln_cloud::poll::{CheckError, Status};
use kiln_cloud::{ApiError, Poller, RetryPolicy, Timeouts};
use kiln_sdk::component::{BuildError, KeepInput};
use kiln_sdk::{
    Artifact, ConfigErrors, PostProcessContext, PostProcessed, PostProcessor, PostProcessorFactory,
    PrepareContext, Prepared, RawConfig, Ui,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use artifact::{ImportArtifact, BUILDER_ID};
pub use config::Config;

use config::{ExistingImage, Format, SourceObject};
use oss::{Multipart, Oss, UploadPlan};

/// How long an import may take (Packer's `ALICLOUD_DEFAULT_LONG_TIMEOUT`).
const IMPORT_TIMEOUT: Duration = Duration::from_secs(3600);
/// How long ECS may keep saying the import role is missing once it was
/// made ready (RAM changes take a while to reach ECS).
const ROLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Registers the `alicloud-import` post-processor type.
pub struct AlicloudImportFactory;

impl PostProcessorFactory for AlicloudImportFactory {
    fn name(&self) -> &'static str {
        "alicloud-import"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        let p = config::prepare(raw, cx)?;
        let mut prepared = Prepared::new(Box::new(AlicloudImport {
            config: Arc::new(p.config),
        }) as Box<dyn PostProcessor>);
        prepared.warnings = p.warnings;
        Ok(prepared)
    }
}

/// A prepared alicloud-import.
pub struct AlicloudImport {
    config: Arc<Config>,
}

impl AlicloudImport {
    /// The validated config.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// What a run created, recorded before the call that may fail, for the
/// cleanup after a failure or Ctrl-C.
#[derive(Default, Debug)]
struct Created {
    /// The bucket, when this run made it.
    bucket: Option<String>,
    /// The uploaded object (`bucket`, `key`), once its upload started.
    object: Option<(String, String)>,
    /// An unfinished multipart upload.
    multipart: Option<Multipart>,
    /// The imported image, once ImportImage answered.
    image: Option<String>,
}

/// The clients of one run.
struct Clients {
    ecs: Ecs,
    oss: Oss,
    ram: Client,
}

#[async_trait]
impl PostProcessor for AlicloudImport {
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError> {
        let c = &self.config;
        let clients = self.clients().await.map_err(BuildError::msg)?;
        let mut created = Created::default();
        let run_tags = kiln_sdk::run_tags::RunTags::new(cx.run_uuid, cx.build_name).tags();
        let result = self
            .run(&cx, &clients, input.as_ref(), &run_tags, &mut created)
            .await;
        match result {
            Ok(image) => {
                let images = BTreeMap::from([(c.access.region.clone(), image)]);
                Ok(PostProcessed {
                    artifact: Arc::new(artifact::imported(AlicloudArtifact {
                        images,
                        ecs: clients.ecs.clone(),
                        generated: BTreeMap::new(),
                    })),
                    keep_input: KeepInput::Default(false),
                })
            }
            Err(failed) => {
                undo(cx.ui, &clients, &created).await;
                Err(failed.into())
            }
        }
    }
}

impl AlicloudImport {
    /// The ECS, OSS and RAM clients of the config, all with the same
    /// credentials (`ram_role_name`'s from the metadata service too).
    async fn clients(&self) -> Result<Clients, String> {
        let c = &self.config;
        let key = ecs_client::resolve_access_key(&c.access)
            .await
            .map_err(|e| e.to_string())?;
        let ecs = Client::ecs_with(&c.access, key.clone()).map_err(|e| e.to_string())?;
        let ram = Client::new(
            Product::Ram,
            &c.access.region,
            key.clone(),
            c.custom_endpoint_ram.as_deref(),
            RetryPolicy::default(),
            Timeouts::from_env(),
        )
        .map_err(|e| e.to_string())?;
        let oss = Oss::new(&c.access.region, key, c.custom_endpoint_oss.as_deref())?;
        Ok(Clients {
            ecs: Ecs {
                client: ecs,
                instance_type: String::new(),
                force_stop: false,
            },
            oss,
            ram,
        })
    }

    /// Packer's flow; the image id.
    async fn run(
        &self,
        cx: &PostProcessContext<'_>,
        clients: &Clients,
        input: &dyn Artifact,
        run_tags: &[(String, String)],
        created: &mut Created,
    ) -> Result<String, Failed> {
        let c = &self.config;
        let ui = cx.ui;
        let cancel = &cx.cancel;
        let Some(image_name) = c.image_name.clone() else {
            return Err(Failed::Error(
                "`image_name` is not set: alicloud-import needs the name of the image to import\n  hint: set `image_name` in the post-processor".into(),
            ));
        };
        let key = object_key(c, cx)?;
        ui.say(&format!("Rendered oss_key_name as {key}"));
        ui.say("Looking for RAW or VHD in artifact");
        let files = input.files();
        let Some(source) = pick_file(&files) else {
            return Err(Failed::Error(no_image_file(&files)));
        };
        let format = c
            .format
            .or_else(|| Format::of_file(&source.to_string_lossy()));
        let shown = source.display().to_string();
        let size = oss::file_size(&source)
            .await
            .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
        let bucket = &c.bucket;
        let endpoint = clients.oss.bucket_url(bucket);
        let region = &c.access.region;

        let existing = cancellable(
            cancel,
            clients.ecs.describe_images(
                Params::new()
                    .set("ImageName", &image_name)
                    .set("ImageOwnerAlias", "self"),
            ),
        )
        .await?
        .map_err(|e| format!("cannot look for images named `{image_name}` in `{region}`: {e}"))?;
        let existing: Vec<String> = existing
            .iter()
            .map(|i| text(i, "ImageId").to_string())
            .collect();
        if !existing.is_empty() && c.existing_image == ExistingImage::Fail {
            return Err(Failed::Error(format!(
                "an image named `{image_name}` exists already in `{region}` (`{}`)\n  hint: delete it, or set `image_force_delete` to true",
                existing.join("`, `")
            )));
        }

        let found = cancellable(cancel, clients.oss.find_bucket(bucket))
            .await?
            .map_err(|e| format!("cannot query or create the bucket `{bucket}`: {e}"))?;
        match found {
            Some(b) if !b.region.is_empty() && b.region != *region => {
                return Err(Failed::Error(format!(
                    "the bucket `{bucket}` is in `{}`, not in `region` `{region}`: ECS imports only from a bucket in the image's region\n  hint: use a bucket in `{region}`, or set `region` to `{}`",
                    b.region, b.region
                )));
            }
            Some(_) => {}
            None => {
                created.bucket = Some(bucket.clone());
                cancellable(cancel, clients.oss.create_bucket(bucket))
                    .await?
                    .map_err(|e| format!("cannot query or create the bucket `{bucket}`: {e}"))?;
                // kiln's run tags, so that what a killed run left can be
                // found (taken off again once the import succeeds).
                if !run_tags.is_empty() {
                    cancellable(cancel, clients.oss.tag_bucket(bucket, run_tags))
                        .await?
                        .map_err(|e| format!("cannot tag the bucket `{bucket}`: {e}"))?;
                }
            }
        }

        ui.say(&format!(
            "Waiting for uploading file {shown} to {endpoint}/{key}..."
        ));
        created.object = Some((bucket.clone(), key.clone()));
        let progress = Arc::new(AtomicU64::new(0));
        let upload = clients.oss.upload(
            bucket,
            &key,
            &source,
            size,
            run_tags,
            UploadPlan::for_size(size),
            &progress,
            &mut created.multipart,
        );
        with_progress(
            ui,
            cancel,
            &format!("uploading {key}"),
            size,
            &progress,
            upload,
        )
        .await?
        .map_err(|e| format!("cannot upload `{shown}` to `{endpoint}/{key}`: {e}"))?;
        ui.say(&format!("Image file {shown} has been uploaded to OSS"));

        if c.existing_image == ExistingImage::Delete {
            for id in &existing {
                cancellable(
                    cancel,
                    clients.ecs.delete(
                        "DeleteImage",
                        &Params::new().set("ImageId", id),
                        &["InvalidImageId.NotFound"],
                    ),
                )
                .await?
                .map_err(|e| format!("cannot delete the image `{id}` named `{image_name}`: {e}"))?;
            }
        }

        let mut tags: BTreeMap<String, String> = c.tags.clone();
        tags.extend(run_tags.iter().cloned());
        let params = import_params(c, &image_name, &key, format, &tags);
        let import = || {
            let params = params.clone();
            let image_name = image_name.clone();
            async move {
                clients
                    .ecs
                    .client
                    .create::<Value, _, _>(
                        "ImportImage",
                        &params,
                        &["InvalidImageName.Duplicated"],
                        false,
                        || find_image(&clients.ecs, &image_name),
                    )
                    .await
            }
        };
        let failed_import = |e: &dyn std::fmt::Display| {
            format!("cannot start the import from `{endpoint}/{key}`: {e}")
        };
        let reply = match cancellable(cancel, import()).await? {
            Ok(r) => r,
            Err(e) if e.is(&["NoSetRoletoECSServiceAcount"]) => {
                ui.say("initialize ram role for importing image");
                cancellable(cancel, role::prepare_import_role(&clients.ram))
                    .await?
                    .map_err(|e| {
                        failed_import(&format!(
                            "cannot make the RAM role `{}` ready: {e}",
                            role::ROLE
                        ))
                    })?;
                let poller = Poller::new(ROLE_TIMEOUT, Duration::from_secs(5));
                let waited = poller
                    .wait(
                        &format!("ECS to accept the RAM role `{}`", role::ROLE),
                        cancel,
                        || async {
                            match import().await {
                                Ok(r) => Ok(Status::Ready(r)),
                                Err(e) if e.is(&["NoSetRoletoECSServiceAcount"]) => {
                                    Ok(Status::Pending("not yet allowed to read OSS".into()))
                                }
                                Err(e) => Err(CheckError::Api(e)),
                            }
                        },
                    )
                    .await;
                match waited {
                    Ok(r) => r,
                    Err(kiln_cloud::PollError::Cancelled { .. }) => return Err(Failed::Cancelled),
                    Err(e) => return Err(Failed::Error(failed_import(&e))),
                }
            }
            Err(e) => return Err(Failed::Error(failed_import(&e))),
        };
        let image = text(&reply, "ImageId").to_string();
        if image.is_empty() {
            return Err(Failed::Error(failed_import(&format!(
                "the ImportImage reply names no image: {reply}"
            ))));
        }
        created.image = Some(image.clone());

        ui.say(&format!(
            "Waiting for importing {endpoint}/{key} to alicloud..."
        ));
        wait_available(&clients.ecs, &image, cancel).await?;
        ui.say(&format!(
            "Importing created alicloud image ID {image} in region {region} Finished."
        ));
        release(ui, clients, &image, run_tags).await;
        if let (Some(made), false) = (&created.bucket, run_tags.is_empty()) {
            if let Err(e) = clients.oss.delete_bucket_tags(made).await {
                ui.error(&format!(
                    "cannot remove the run tags from the bucket `{made}` (`kiln cleanup -run` of this run would find it): {e}"
                ));
            }
        }
        match c.source_object {
            SourceObject::Delete => {
                ui.message(&format!("Deleting import source {endpoint}/{bucket}/{key}"));
                if let Err(e) = clients.oss.delete_object(bucket, &key).await {
                    // The image is made: keep it, and say what is left.
                    ui.error(&format!(
                        "cannot delete the import source `{endpoint}/{key}` (delete it yourself): {e}"
                    ));
                }
            }
            SourceObject::Keep if !run_tags.is_empty() => {
                if let Err(e) = clients.oss.delete_object_tags(bucket, &key).await {
                    ui.error(&format!(
                        "cannot remove the run tags from the import source `{endpoint}/{key}` (`kiln cleanup -run` of this run would delete it): {e}"
                    ));
                }
            }
            SourceObject::Keep => {}
        }
        Ok(image)
    }
}

/// Takes the run tags off the imported image, as the alicloud-ecs builder
/// does for its images once a build succeeds, so that a `kiln cleanup` of
/// the run leaves the artifact alone. A failure is reported, not fatal.
async fn release(ui: &dyn Ui, clients: &Clients, image: &str, run_tags: &[(String, String)]) {
    let keys: Vec<&str> = run_tags.iter().map(|(k, _)| k.as_str()).collect();
    if keys.is_empty() {
        return;
    }
    let params = Params::new()
        .set("ResourceType", "image")
        .list("ResourceId", &[image])
        .list("TagKey", &keys);
    if let Err(e) = clients.ecs.call("UntagResources", &params).await {
        ui.error(&format!(
            "cannot remove the run tags from the image `{image}` (`kiln cleanup -run` of this run would delete it): {e}"
        ));
    }
}

/// The ImportImage parameters (the client adds `RegionId`).
fn import_params(
    c: &Config,
    name: &str,
    key: &str,
    format: Option<Format>,
    tags: &BTreeMap<String, String>,
) -> Params {
    Params::new()
        .set("ImageName", name)
        .opt("Description", c.description.clone())
        .opt("Architecture", c.architecture.map(|a| a.api()))
        .opt("OSType", c.os_type.map(|o| o.api()))
        .opt("Platform", c.platform.clone())
        .set("DiskDeviceMapping.1.OSSBucket", &c.bucket)
        .set("DiskDeviceMapping.1.OSSObject", key)
        .opt("DiskDeviceMapping.1.Format", format.map(|f| f.api()))
        .opt(
            "DiskDeviceMapping.1.DiskImageSize",
            c.system_size.map(|s| s.to_string()),
        )
        .tags("Tag", tags)
}

/// The object key: `oss_key_name` rendered with the build's generated
/// data, or Packer's `Packer_<nanoseconds>`.
fn object_key(c: &Config, cx: &PostProcessContext<'_>) -> Result<String, Failed> {
    let key = kiln_sdk::interpolate::render(&c.object_key, cx.interpolation)
        .map_err(|e| format!("cannot render `oss_key_name`: {e}"))?;
    if key.is_empty() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        return Ok(format!("Packer_{nanos}"));
    }
    Ok(key)
}

/// The disk image among `files`: the first whose name ends in `vhd` or
/// `raw` (Packer's rule), else the first `.qcow2` (kiln's addition).
pub fn pick_file(files: &[PathBuf]) -> Option<PathBuf> {
    let ends = |f: &PathBuf, ext: &str| f.to_string_lossy().ends_with(ext);
    files
        .iter()
        .find(|f| ends(f, "vhd") || ends(f, "raw"))
        .or_else(|| files.iter().find(|f| ends(f, ".qcow2")))
        .cloned()
}

/// The error when the artifact has no disk image.
fn no_image_file(files: &[PathBuf]) -> String {
    let listed = listed_files(files);
    format!("no vhd or raw file found in the artifact from the builder: {listed}\n  hint: alicloud-import takes a `.raw`, `.vhd` or `.qcow2` disk image (a qemu build's output, or `artifice`)")
}

/// The image named `name`, for adopting it after a lost ImportImage reply.
async fn find_image(ecs: &Ecs, name: &str) -> Result<Option<Value>, ApiError> {
    let found = ecs
        .describe_images(
            Params::new()
                .set("ImageName", name)
                .set("ImageOwnerAlias", "self"),
        )
        .await?;
    Ok(found
        .first()
        .map(|i| serde_json::json!({"ImageId": text(i, "ImageId")})))
}

/// Waits until `image` is available.
async fn wait_available(ecs: &Ecs, image: &str, cancel: &CancellationToken) -> Result<(), Failed> {
    let poller = Poller::tracking(
        IMPORT_TIMEOUT,
        Duration::from_millis(500),
        Duration::from_secs(15),
    );
    let waited = poller
        .wait(
            &format!("image `{image}` to be imported"),
            cancel,
            || async {
                let found = ecs
                    .call(
                        "DescribeImages",
                        &Params::new()
                            .set("ImageId", image)
                            .set("Status", ALL_STATUSES),
                    )
                    .await?;
                let Some(i) = items(&found, "Images", "Image").first() else {
                    return Ok(Status::Pending("not yet listed".into()));
                };
                match text(i, "Status") {
                    "Available" => Ok(Status::Ready(())),
                    s @ ("CreateFailed" | "UnAvailable") => {
                        Err(CheckError::Failed(format!("the import ended `{s}`")))
                    }
                    s => {
                        let progress = text(i, "Progress");
                        Ok(Status::Pending(if progress.is_empty() {
                            s.to_string()
                        } else {
                            format!("{s} ({progress})")
                        }))
                    }
                }
            },
        )
        .await;
    match waited {
        Ok(()) => Ok(()),
        Err(kiln_cloud::PollError::Cancelled { .. }) => Err(Failed::Cancelled),
        Err(e) => Err(Failed::Error(format!(
            "import of image `{image}` failed: {e}"
        ))),
    }
}

/// Deletes what a failed or cancelled run created, newest first; never
/// cancelled itself. What cannot be deleted is said, with its id.
async fn undo(ui: &dyn Ui, clients: &Clients, created: &Created) {
    if let Some(image) = &created.image {
        let region = clients.ecs.region().to_string();
        delete_imported(ui, region, image, |r| clients.ecs.for_region(r)).await;
    }
    if let Some(m) = &created.multipart {
        if let Err(e) = clients.oss.abort_multipart(m).await {
            ui.error(&format!(
                "cannot abort the upload `{}` of `{}/{}` (abort it yourself): {e}",
                m.upload_id, m.bucket, m.key
            ));
        }
    }
    if let Some((bucket, key)) = &created.object {
        ui.say(&format!(
            "Deleting the import source {bucket}/{key} because of cancellation or error..."
        ));
        if let Err(e) = clients.oss.delete_object(bucket, key).await {
            ui.error(&format!(
                "cannot delete the import source `{bucket}/{key}` (delete it yourself): {e}"
            ));
        }
    }
    if let Some(bucket) = &created.bucket {
        ui.say(&format!(
            "Deleting the bucket {bucket} because of cancellation or error..."
        ));
        if let Err(e) = clients.oss.delete_bucket(bucket).await {
            ui.error(&format!(
                "cannot delete the bucket `{bucket}` (delete it yourself): {e}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disk_image_is_picked_as_packer_picks_it() {
        let files = |names: &[&str]| names.iter().map(PathBuf::from).collect::<Vec<_>>();
        // The first name ending in `vhd` or `raw` (no dot needed, as Packer).
        assert_eq!(
            pick_file(&files(&["a.qcow2", "disk.vhd", "b.raw"])),
            Some(PathBuf::from("disk.vhd"))
        );
        assert_eq!(
            pick_file(&files(&["notes.txt", "imageraw"])),
            Some(PathBuf::from("imageraw"))
        );
        // Else the first qcow2 (kiln's addition).
        assert_eq!(
            pick_file(&files(&["notes.txt", "disk.qcow2"])),
            Some(PathBuf::from("disk.qcow2"))
        );
        assert_eq!(pick_file(&files(&["notes.txt", "disk.img"])), None);
        let e = no_image_file(&files(&["notes.txt"]));
        assert!(e.contains("its files are `notes.txt`"), "{e}");
        assert!(no_image_file(&[]).contains("it has no files"));
    }

    #[test]
    fn ram_is_one_global_endpoint() {
        assert_eq!(
            kiln_builder_alicloud::client::host(Product::Ram, "cn-beijing"),
            "ram.aliyuncs.com"
        );
        assert_eq!(
            kiln_builder_alicloud::client::endpoint(Product::Ram, "eu-central-1", None),
            "https://ram.aliyuncs.com"
        );
    }
}
