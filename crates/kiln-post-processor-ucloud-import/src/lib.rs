//! UCloud's `ucloud-import` post-processor for kiln (the plugin's
//! `post-processor/ucloud-import`): the input artifact's disk image (its
//! first file ending in `.<format>`) is uploaded to an existing UFile
//! bucket, imported as a UHost custom image with `ImportCustomImage`,
//! waited for until Available, and the uploaded object deleted unless
//! `skip_clean`. The result is a ucloud image artifact with the plugin's
//! builder id `packer.post-processor.ucloud-import`.
//!
//! [`config`] decodes and validates the keys (the access section is the
//! ucloud-uhost builder's); [`ufile`] is a small UFile client signing
//! UFile's own token; the UHost calls go through kiln-builder-ucloud's
//! signed client under kiln-cloud's retry policy. What the run created is
//! recorded before the call that may fail ([`Created`]); on failure or
//! Ctrl-C it deletes it again, newest first: the half-imported image, then
//! the uploaded object. The bucket is the user's and stays.

pub mod artifact;
pub mod config;
pub mod ufile;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kiln_builder_ucloud::client::{params, Client};
use kiln_builder_ucloud::cloud::Uhost;
use kiln_builder_ucloud::UcloudArtifact;
use kiln_cloud::import::{cancellable, delete_imported, listed_files, with_progress, Failed};
use kiln_cloud::poll::{CheckError, Status};
use kiln_cloud::Poller;
use kiln_sdk::component::{BuildError, KeepInput};
use kiln_sdk::{
    Artifact, ConfigErrors, PostProcessContext, PostProcessed, PostProcessor, PostProcessorFactory,
    PrepareContext, Prepared, RawConfig, Ui,
};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

pub use artifact::{ImportArtifact, BUILDER_ID};
pub use config::Config;

use ufile::Ufile;

/// Registers the `ucloud-import` post-processor type.
pub struct UcloudImportFactory;

impl PostProcessorFactory for UcloudImportFactory {
    fn name(&self) -> &'static str {
        "ucloud-import"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        let config = config::prepare(raw, cx)?;
        Ok(Prepared::new(Box::new(UcloudImport {
            config: Arc::new(config),
        }) as Box<dyn PostProcessor>))
    }
}

/// A prepared ucloud-import.
pub struct UcloudImport {
    config: Arc<Config>,
}

impl UcloudImport {
    /// The validated config.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// What a run created, recorded before the call that may fail, for the
/// cleanup after a failure or Ctrl-C.
#[derive(Default, Debug)]
struct Created {
    /// The uploaded object's key, once its upload started.
    object: Option<String>,
    /// The imported image, once ImportCustomImage answered.
    image: Option<String>,
}

#[derive(Deserialize)]
struct Imported {
    #[serde(rename = "ImageId", default)]
    image_id: String,
}

#[async_trait]
impl PostProcessor for UcloudImport {
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError> {
        let c = &self.config;
        let client = Client::new(&c.access)
            .map_err(|e| BuildError::msg(format!("Failed to connect ucloud client: {e}")))?;
        let uhost = Uhost {
            client: client.clone(),
            since: 0,
            run_tag: String::new(),
        };
        let mut created = Created::default();
        let mut ufile = None;
        let result = self
            .run(
                &cx,
                &client,
                &uhost,
                &mut ufile,
                input.as_ref(),
                &mut created,
            )
            .await;
        match result {
            Ok(image) => {
                let key = format!("{}:{}", c.access.project_id, c.access.region);
                Ok(PostProcessed {
                    artifact: Arc::new(artifact::imported(UcloudArtifact {
                        images: BTreeMap::from([(key, image)]),
                        uhost,
                        generated: BTreeMap::new(),
                    })),
                    keep_input: KeepInput::Default(false),
                })
            }
            Err(failed) => {
                undo(
                    cx.ui,
                    &uhost,
                    ufile.as_ref(),
                    &created,
                    c.wait_image_ready_timeout,
                )
                .await;
                Err(failed.into())
            }
        }
    }
}

impl UcloudImport {
    /// The plugin's flow; the image id.
    async fn run(
        &self,
        cx: &PostProcessContext<'_>,
        client: &Client,
        uhost: &Uhost,
        ufile: &mut Option<Ufile>,
        input: &dyn Artifact,
        created: &mut Created,
    ) -> Result<String, Failed> {
        let c = &self.config;
        let ui = cx.ui;
        let cancel = &cx.cancel;
        let key = kiln_sdk::interpolate::render(&c.key, cx.interpolation)
            .map_err(|e| format!("Error rendering ufile_key_name template: {e}"))?;
        ui.message(&format!("Rendered ufile_key_name as {key}"));
        ui.message("Looking for image in artifact");
        let files = input.files();
        let Some(source) = pick_file(&files, c.format.name()) else {
            return Err(Failed::Error(no_image_file(&files, c.format.name())));
        };
        let shown = source.display().to_string();
        let size = tokio::fs::metadata(&source)
            .await
            .map_err(|e| format!("cannot read `{shown}`: {e}"))?
            .len();
        let bucket = &c.bucket;
        let u = cancellable(
            cancel,
            Ufile::open(client, bucket, c.ufile_endpoint.as_deref()),
        )
        .await??;
        let u = ufile.insert(u);

        ui.say(&format!(
            "Waiting for uploading image file {shown} to UFile: {bucket}/{key}..."
        ));
        created.object = Some(key.clone());
        let progress = Arc::new(AtomicU64::new(0));
        with_progress(
            ui,
            cancel,
            &format!("uploading {key}"),
            size,
            &progress,
            u.put_file(&key, &source, size, &progress),
        )
        .await?
        .map_err(|e| format!("Failed to Upload image file `{shown}` to `{bucket}/{key}`: {e}"))?;
        ui.say(&format!(
            "Image file {shown} has been uploaded to UFile: {bucket}/{key}"
        ));

        let p = params([
            ("ImageName", c.image_name.as_str()),
            ("ImageDescription", c.description.as_str()),
            ("UFileUrl", u.private_url(&key).as_str()),
            ("OsType", c.os_type.as_str()),
            ("OsName", c.os_name.as_str()),
            ("Format", c.format.api()),
            ("Auth", "true"),
        ]);
        let imported: Imported =
            cancellable(cancel, client.call("ImportCustomImage", &p, Some(cancel)))
                .await?
                .map_err(|e| format!("Failed to import image from UFile: {bucket}/{key}, {e}"))?;
        let image = imported.image_id;
        if image.is_empty() {
            return Err(Failed::Error(format!(
                "Failed to import image from UFile: {bucket}/{key}: the reply names no image"
            )));
        }
        created.image = Some(image.clone());

        ui.say(&format!(
            "Waiting for importing image from UFile: {bucket}/{key} ..."
        ));
        wait_available(uhost, &image, c.wait_image_ready_timeout, cancel)
            .await
            .map_err(|f| match f {
                Failed::Error(e) => Failed::Error(format!(
                    "Error on waiting for importing image `{image}` from UFile: {bucket}/{key}, {e}"
                )),
                f => f,
            })?;
        ui.say(&format!(
            "Importing created ucloud image \"{image}\" in region \"{}\" Complete.",
            c.access.region
        ));
        if !c.skip_clean {
            ui.message(&format!("Deleting import source UFile: {bucket}/{key}"));
            if let Err(e) = u.delete(&key).await {
                // The image is made: keep it, and say what is left.
                ui.error(&format!(
                    "cannot delete the import source `{bucket}/{key}` (delete it yourself): {e}"
                ));
            }
        }
        Ok(image)
    }
}

/// The first of `files` whose name ends in `.<format>` (the plugin's rule).
pub fn pick_file(files: &[PathBuf], format: &str) -> Option<PathBuf> {
    let ext = format!(".{format}");
    files
        .iter()
        .find(|f| f.to_string_lossy().ends_with(&ext))
        .cloned()
}

/// The error when the artifact has no `.<format>` file.
fn no_image_file(files: &[PathBuf], format: &str) -> String {
    let listed = listed_files(files);
    format!("No {format} image file found in artifact from builder: {listed}\n  hint: `format` is `{format}`: ucloud-import takes the artifact's first file ending in `.{format}`")
}

/// Waits until `image` is Available; Unavailable is a failure.
async fn wait_available(
    uhost: &Uhost,
    image: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), Failed> {
    let poller = Poller::tracking(timeout, Duration::from_millis(500), Duration::from_secs(12));
    let waited = poller
        .wait(
            &format!("image `{image}` to be imported"),
            cancel,
            || async {
                let Some(i) = uhost.image(image).await? else {
                    return Ok(Status::Pending("not yet listed".into()));
                };
                match i.state.as_str() {
                    "Available" => Ok(Status::Ready(())),
                    "Unavailable" => Err(CheckError::Failed(format!(
                        "Unavailable importing image \"{image}\""
                    ))),
                    s => Ok(Status::Pending(s.to_string())),
                }
            },
        )
        .await;
    match waited {
        Ok(()) => Ok(()),
        Err(kiln_cloud::PollError::Cancelled { .. }) => Err(Failed::Cancelled),
        Err(e) => Err(Failed::Error(e.to_string())),
    }
}

/// Deletes what a failed or cancelled run created, newest first (an image
/// still being imported once its import ended, `timeout` at most); never
/// cancelled itself. What cannot be deleted is said, with its id.
async fn undo(
    ui: &dyn Ui,
    uhost: &Uhost,
    ufile: Option<&Ufile>,
    created: &Created,
    timeout: Duration,
) {
    if let Some(image) = &created.image {
        // UCloud refuses to delete an image still being made: wait for the
        // import to end (however it ends) first.
        let settled =
            Poller::tracking(timeout, Duration::from_millis(500), Duration::from_secs(12))
                .wait(
                    &format!("the import of image `{image}` to end"),
                    &CancellationToken::new(),
                    || async {
                        Ok::<_, CheckError>(match uhost.image(image).await? {
                            Some(i) if i.state == "Making" => Status::Pending(i.state),
                            _ => Status::Ready(()),
                        })
                    },
                )
                .await;
        if let Err(e) = settled {
            ui.error(&format!(
                "cannot wait for the import of image `{image}` to end: {e}"
            ));
        }
        let key = format!("{}:{}", uhost.client.project(), uhost.client.region());
        delete_imported(ui, key, image, |k| uhost.at_key(k)).await;
    }
    if let (Some(key), Some(u)) = (&created.object, ufile) {
        let bucket = u.bucket();
        // An upload cut short keeps its parts stored until it is aborted.
        if let Some(e) = u.abort_unfinished().await {
            ui.error(&format!(
                "cannot abort the upload of `{bucket}/{key}` (abort it yourself, its parts stay stored until then): {e}"
            ));
        }
        ui.say(&format!(
            "Deleting the import source {bucket}/{key} because of cancellation or error..."
        ));
        if let Err(e) = u.delete(key).await {
            ui.error(&format!(
                "cannot delete the import source `{bucket}/{key}` (delete it yourself): {e}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disk_image_is_the_first_file_with_the_formats_extension() {
        let files = |names: &[&str]| names.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert_eq!(
            pick_file(&files(&["a.raw", "disk.qcow2", "b.qcow2"]), "qcow2"),
            Some(PathBuf::from("disk.qcow2"))
        );
        assert_eq!(pick_file(&files(&["imageraw"]), "raw"), None);
        let e = no_image_file(&files(&["notes.txt"]), "vmdk");
        assert!(e.contains("No vmdk image file found"), "{e}");
        assert!(e.contains("its files are `notes.txt`"), "{e}");
        assert!(no_image_file(&[], "raw").contains("it has no files"));
    }
}
