//! The image family of the generic cloud steps: make the image, copy it,
//! share it, tag it, and destroy it again.
//!
//! - [`ImageApi`]: the cloud's image calls in one region (create, copy,
//!   describe, delete an image and its snapshots, modify, share, tag) and
//!   the cloud's wording ([`ImageWording`]). The client for another region
//!   comes from the builder's state ([`ImageState::image_api`]).
//! - [`ImageState`]: the images made, by region, and their snapshots, as
//!   the builder's state records them.
//! - [`StepCreateImage`] (amazon's `StepCreateAMI`, alicloud's
//!   `stepCreateAlicloudImage`): creates the image from the stopped
//!   instance (the request comes from the builder's [`ImagePlan`]), records
//!   its id as soon as the cloud returns it, waits until it is available
//!   and records its snapshots (tagging them with the run tags). It stores
//!   the name it asked for before the create call and the id after it; on
//!   failure or cancellation its cleanup deletes the image and its
//!   snapshots (found by name and run tags when the create's reply never
//!   came).
//! - [`StepCopyImage`] (amazon's `StepAMIRegionCopy`, alicloud's
//!   `stepRegionCopyAlicloudImage`): copies the image to every target
//!   region at once, each copy recorded as soon as the cloud returns its id
//!   and tagged with the run tags, the waits overlapped; a copy into the
//!   build region (an encrypted copy) replaces the original. It stores the
//!   copies; on failure or cancellation its cleanup deletes them and their
//!   snapshots.
//! - [`StepShareImage`] (amazon's `StepModifyAMIAttributes`, alicloud's
//!   `stepShareAlicloudImage`): in every region, applies the image changes
//!   (sharing with accounts and groups, the cloud's own attributes) and
//!   shares the snapshots. It changes only images this build made, which
//!   the steps above delete on failure: no cleanup.
//! - [`StepTagImage`] (amazon's `StepCreateTags`): tags the image and its
//!   snapshots in every region with the tags the builder's [`TagPlan`]
//!   renders for that region. No cleanup, likewise.
//! - [`destroy_image`], [`destroy_images`]: delete an image and its
//!   snapshots, and every image of an artifact in every region (the
//!   artifact's `destroy`); what is gone already is not an error, so
//!   destroying twice is fine.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};
use kiln_sdk::Ui;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use super::Text;
use super::{fill, show, wait_error};
use crate::{ApiError, CheckError, Poller, Status};

/// Where an image is in its life, as the steps need to know it; each cloud
/// maps its own states onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImagePhase {
    /// Being made or copied (`pending`, `Creating`, `queued`).
    Pending,
    /// Ready to use (`available`, `Available`, `active`).
    Available,
    /// It can no longer become available (`failed`, `error`,
    /// `deregistered`).
    Failed,
}

/// What one look at an image says about its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageStatus {
    /// Its phase.
    pub phase: ImagePhase,
    /// The cloud's own word for its state, for messages.
    pub state: String,
    /// Why it is in that state, when the cloud says.
    pub reason: Option<String>,
}

impl ImageStatus {
    /// An image in `phase`, in the cloud's words `state`, with no reason
    /// given.
    pub fn new(phase: ImagePhase, state: impl Into<String>) -> ImageStatus {
        ImageStatus {
            phase,
            state: state.into(),
            reason: None,
        }
    }
}

/// Who an image or a snapshot is shared with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sharing {
    /// Account ids (`ami_users`, alicloud's `image_share_account`).
    pub accounts: Vec<String>,
    /// Groups (`ami_groups`: `all` makes it public).
    pub groups: Vec<String>,
}

impl Sharing {
    /// Whether it shares with nobody.
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.groups.is_empty()
    }
}

/// One change to an image, in the order the builder lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageChange<A> {
    /// Let these accounts and groups launch it.
    Share(Sharing),
    /// One of the cloud's own attributes (EC2's description,
    /// `imds_support`, `deprecate_at`).
    Attribute(A),
}

/// The image to create: the name it will have (for finding it again when
/// the create's reply is lost) and the cloud's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewImage<R> {
    /// The image's name.
    pub name: String,
    /// The cloud's create request.
    pub request: R,
}

/// One region to copy the image to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyTarget<C> {
    /// The region. The build region itself means an (encrypted) copy that
    /// replaces the original.
    pub region: String,
    /// The cloud's copy request for it (name, description, key).
    pub request: C,
}

/// The tags for an image and its snapshots in one region, rendered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageTags {
    /// The image's tags.
    pub image: Vec<(String, String)>,
    /// Its snapshots' tags.
    pub snapshots: Vec<(String, String)>,
}

/// What the image steps say, in each cloud's words (Packer's, for each
/// cloud's builder). Besides `{id}` and `{region}`, errors have
/// `{error}`, the tag line `{key}` and `{value}`, and the created and
/// waiting lines the image's `{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageWording {
    /// The cloud's name for an image, in waits' messages (`AMI`, `image`).
    pub noun: &'static str,
    /// The cloud's name, for "unknown to …" (`EC2`).
    pub cloud: &'static str,
    /// Once the create call returned the id.
    pub created: &'static [Text],
    /// Before waiting until it is available.
    pub waiting: &'static [Text],
    /// Cleanup, before deleting the image the create step made.
    pub deleting_created: &'static [Text],
    /// The UI error when that fails.
    pub delete_created_failed: &'static str,
    /// The UI error when the image a lost create reply made cannot be
    /// looked up (`{name}` is its name).
    pub find_failed: &'static str,
    /// Before the copies (`{id}` is the source).
    pub copying: &'static [Text],
    /// For each target region.
    pub copying_to: &'static [Text],
    /// Once every copy started.
    pub waiting_copies: &'static [Text],
    /// A copy's wait failed.
    pub copy_wait_failed: &'static str,
    /// Before deleting the original that a copy in the build region
    /// replaces.
    pub replacing: &'static [Text],
    /// Cleanup, before deleting the copies.
    pub deleting_copies: &'static [Text],
    /// The UI error when deleting a copy fails.
    pub delete_copy_failed: &'static str,
    /// Before changing an image's attributes.
    pub modifying: &'static [Text],
    /// Before sharing a snapshot.
    pub modifying_snapshot: &'static [Text],
    /// Sharing a snapshot failed.
    pub share_snapshot_failed: &'static str,
    /// Before tagging an image in a region.
    pub tagging: &'static [Text],
    /// For each of its snapshots.
    pub tagging_snapshot: &'static [Text],
    /// Before the image's tags.
    pub image_tags: &'static [Text],
    /// Before the snapshots' tags.
    pub snapshot_tags: &'static [Text],
    /// Each tag, as a detail line.
    pub tag: &'static str,
    /// Tagging the image failed.
    pub tag_image_failed: &'static str,
    /// Tagging the snapshots failed.
    pub tag_snapshots_failed: &'static str,
    /// Adding the run tags failed (`{id}` lists the resources).
    pub run_tags_failed: &'static str,
    /// Looking at an image to delete it failed.
    pub describe_failed: &'static str,
    /// Deleting an image failed.
    pub delete_failed: &'static str,
    /// Deleting a snapshot failed (`{snapshot}` is its id, `{id}` the
    /// image's).
    pub delete_snapshot_failed: &'static str,
}

impl ImageWording {
    /// Plain wording, for a cloud that has no Packer wording of its own.
    pub const GENERIC: ImageWording = ImageWording {
        noun: "image",
        cloud: "the cloud",
        created: &[Text::Message("Image ID: {id}")],
        waiting: &[Text::Say("Waiting for image ({id}) to become available...")],
        deleting_created: &[Text::Say(
            "Deleting the image and related snapshots because of cancellation or error...",
        )],
        delete_created_failed: "Error deleting image, it may still be around: {error}",
        find_failed: "Error looking for the image `{name}` this build may have made, it may still be around: {error}",
        copying: &[Text::Say("Copying image {id} to other regions...")],
        copying_to: &[Text::Message("Copying to: {region}")],
        waiting_copies: &[Text::Message("Waiting for all copies to complete...")],
        copy_wait_failed: "error waiting for image ({id}) in region ({region}): {error}",
        replacing: &[Text::Say(
            "Deleting the intermediary image and its snapshots...",
        )],
        deleting_copies: &[Text::Say(
            "Deleting the copied images and their snapshots because of cancellation or error...",
        )],
        delete_copy_failed: "Error deleting image in {region}, it may still be around: {error}",
        modifying: &[Text::Say("Modifying attributes on image ({id})...")],
        modifying_snapshot: &[Text::Say("Modifying attributes on snapshot ({id})...")],
        share_snapshot_failed: "error sharing snapshot `{id}`: {error}",
        tagging: &[Text::Say("Adding tags to image ({id})...")],
        tagging_snapshot: &[Text::Message("Tagging snapshot: {id}")],
        image_tags: &[Text::Say("Creating image tags")],
        snapshot_tags: &[Text::Say("Creating snapshot tags")],
        tag: "Adding tag: \"{key}\": \"{value}\"",
        tag_image_failed: "error adding tags to image ({id}): {error}",
        tag_snapshots_failed: "error adding tags to snapshots in {region}: {error}",
        run_tags_failed: "error adding the run tags to {id}: {error}",
        describe_failed: "error describing image `{id}`: {error}",
        delete_failed: "error deleting image `{id}`: {error}",
        delete_snapshot_failed: "error deleting snapshot `{snapshot}` of image `{id}`: {error}",
    };
}

/// The cloud's image calls in one region, implemented by each builder on
/// its client wrapper: every call retried by [`crate::Api`]'s policy, the
/// create idempotent (a client token, or a look by name before a retry)
/// and tagging what it creates with the run tags.
#[async_trait]
pub trait ImageApi: Clone + Send + Sync + 'static {
    /// The cloud's create request (EC2's `CreateImage` with its block
    /// devices and tags), built by the builder's [`ImagePlan`].
    type Create: Send + Sync;
    /// The cloud's copy request for one region, less the source.
    type Copy: Clone + Send + Sync + 'static;
    /// The cloud's own image attributes ([`ImageChange::Attribute`]).
    type Attribute: Send + Sync;
    /// The cloud's description of an image.
    type Image: Send + Sync + 'static;

    /// Creates the image and returns its id. The error is the step's, in
    /// the cloud's words (`error creating AMI: …`).
    async fn create(
        &self,
        image: &NewImage<Self::Create>,
        cancel: &CancellationToken,
    ) -> Result<String, StepError>;

    /// The image named `name` that carries `run_tags` (made by this build),
    /// if any: cleanup's way to the image of a create whose reply never
    /// came.
    async fn find_created(
        &self,
        name: &str,
        run_tags: &[(String, String)],
    ) -> Result<Option<String>, ApiError>;

    /// Starts copying image `source` of `source_region` into this client's
    /// region (`target`'s) and returns the copy's id. The error is the
    /// step's, in the cloud's words.
    async fn copy(
        &self,
        source_region: &str,
        source: &str,
        target: &CopyTarget<Self::Copy>,
        cancel: &CancellationToken,
    ) -> Result<String, StepError>;

    /// One look at image `id`; `None` when the cloud does not know it.
    async fn describe(&self, id: &str) -> Result<Option<Self::Image>, ApiError>;

    /// One look at image `id` while waiting for it; by default
    /// [`ImageApi::describe`] (a builder may batch these across builds).
    async fn describe_for_wait(&self, id: &str) -> Result<Option<Self::Image>, ApiError> {
        self.describe(id).await
    }

    /// Where `image` is in its life.
    fn status(&self, image: &Self::Image) -> ImageStatus;

    /// The snapshots `image` is made of; by default none (a cloud whose
    /// images own their snapshots, as CVM's, UCloud's and IMS's).
    fn snapshots(&self, _image: &Self::Image) -> Vec<String> {
        Vec::new()
    }

    /// Deletes (deregisters) image `id`; one the cloud does not know is
    /// deleted already (not an error).
    async fn delete_image(&self, id: &str) -> Result<(), ApiError>;

    /// Deletes snapshot `id`; one the cloud does not know is deleted
    /// already. By default nothing: there are none apart from the images
    /// ([`ImageApi::snapshots`]).
    async fn delete_snapshot(&self, _id: &str) -> Result<(), ApiError> {
        Ok(())
    }

    /// Applies `change` to image `id`, saying the cloud's detail lines on
    /// `ui`. The error is the step's, in the cloud's words. By default
    /// nothing, for a cloud whose builder offers no image attributes or
    /// sharing (its config has none to ask for).
    async fn modify_image(
        &self,
        _id: &str,
        _change: &ImageChange<Self::Attribute>,
        _ui: &dyn Ui,
    ) -> Result<(), StepError> {
        Ok(())
    }

    /// Shares snapshot `id`. By default nothing: a cloud without separate
    /// snapshots, or one that shares them with the image.
    async fn share_snapshot(&self, _id: &str, _sharing: &Sharing) -> Result<(), ApiError> {
        Ok(())
    }

    /// Tags the resources `ids` with `tags`.
    async fn tag(&self, ids: &[String], tags: &[(String, String)]) -> Result<(), ApiError>;

    /// What the steps say.
    fn wording(&self) -> &ImageWording {
        &ImageWording::GENERIC
    }
}

/// The image steps' view of the builder's state.
pub trait ImageState: Send {
    /// The cloud's image calls.
    type Api: ImageApi;
    /// The build region.
    fn build_region(&self) -> String;
    /// The client for the image calls in `region` (cheap: a clone of the
    /// builder's client, or one for another region).
    fn image_api(&self, region: &str) -> Self::Api;
    /// The run tags every resource the build makes carries.
    fn run_tags(&self) -> &[(String, String)];
    /// The images made so far, by region.
    fn images(&self) -> BTreeMap<String, String>;
    /// Records image `id` in `region`.
    fn record_image(&mut self, region: &str, id: &str);
    /// The snapshots of the image in `region`; by default none (a cloud
    /// whose images own their snapshots, [`ImageApi::snapshots`]).
    fn snapshots(&self, _region: &str) -> Vec<String> {
        Vec::new()
    }
    /// Records the snapshots of the image in `region`; by default
    /// nothing (see [`ImageState::snapshots`]).
    fn record_snapshots(&mut self, _region: &str, _snapshots: Vec<String>) {}
    /// Forgets the image in `region` and its snapshots (deleted).
    fn forget_image(&mut self, region: &str);
}

/// The builder's half of creating the image.
pub trait ImagePlan<S: ImageState>: Send + Sync {
    /// The create request, from the builder's config and `state`; says
    /// what the cloud's builder says before creating. Fails before
    /// anything is created.
    fn request(
        &self,
        ui: &dyn Ui,
        state: &S,
    ) -> Result<NewImage<<S::Api as ImageApi>::Create>, StepError>;
}

/// The builder's half of tagging the image.
pub trait TagPlan<S: ImageState>: Send + Sync {
    /// Whether there are no tags at all (the step then says nothing).
    fn is_empty(&self) -> bool;
    /// The tags of the image in `region` and of its snapshots, rendered.
    fn render(&self, state: &S, region: &str) -> Result<ImageTags, StepError>;
}

/// Waits until image `id` is available and returns its description. A
/// failed image ends the wait with the cloud's state and reason.
pub async fn wait_available<A: ImageApi>(
    api: &A,
    poller: &Poller,
    id: &str,
    cancel: &CancellationToken,
) -> Result<A::Image, StepError> {
    let w = api.wording();
    let (noun, cloud) = (w.noun, w.cloud);
    poller
        .wait(
            &format!("{noun} ({id}) to become ready"),
            cancel,
            || async move {
                let Some(image) = api.describe_for_wait(id).await? else {
                    return Ok(Status::Pending(format!("unknown to {cloud}")));
                };
                let s = api.status(&image);
                match s.phase {
                    ImagePhase::Available => Ok(Status::Ready(image)),
                    ImagePhase::Pending => Ok(Status::Pending(s.state)),
                    ImagePhase::Failed => Err(CheckError::Failed(format!(
                        "the {noun} is `{}`: {}",
                        s.state,
                        s.reason.as_deref().unwrap_or("no reason given")
                    ))),
                }
            },
        )
        .await
        .map_err(wait_error)
}

/// Tags `ids` with `run_tags` (what came without them: a copy, an image's
/// snapshots). Nothing to do without run tags or ids.
pub async fn tag_run<A: ImageApi>(
    api: &A,
    ids: &[String],
    run_tags: &[(String, String)],
) -> Result<(), StepError> {
    if run_tags.is_empty() || ids.is_empty() {
        return Ok(());
    }
    api.tag(ids, run_tags).await.map_err(|e| {
        StepError::msg(fill(
            api.wording().run_tags_failed,
            &[("id", &ids.join(", ")), ("error", &e.to_string())],
        ))
    })
}

/// Why an image could not be destroyed: the cloud's words for what was
/// being done, and the call's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DestroyError {
    /// What failed, in the cloud's words, the error included.
    pub message: String,
    /// The failed call.
    pub error: ApiError,
}

/// Deletes image `id` and its snapshots. An image or snapshot the cloud
/// does not know is gone already: destroying twice is fine.
pub async fn destroy_image<A: ImageApi>(api: &A, id: &str) -> Result<(), DestroyError> {
    let w = api.wording();
    let failed = |template: &str, snapshot: &str, error: ApiError| DestroyError {
        message: fill(
            template,
            &[
                ("id", id),
                ("snapshot", snapshot),
                ("error", &error.to_string()),
            ],
        ),
        error,
    };
    let image = match api.describe(id).await {
        Ok(Some(image)) => image,
        Ok(None) => return Ok(()),
        Err(e) => return Err(failed(w.describe_failed, "", e)),
    };
    api.delete_image(id)
        .await
        .map_err(|e| failed(w.delete_failed, "", e))?;
    for snapshot in api.snapshots(&image) {
        api.delete_snapshot(&snapshot)
            .await
            .map_err(|e| failed(w.delete_snapshot_failed, &snapshot, e))?;
    }
    Ok(())
}

/// The regions whose images could not be destroyed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestroyErrors(pub Vec<(String, DestroyError)>);

impl fmt::Display for DestroyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all: Vec<String> = self.0.iter().map(|(r, e)| format!("{r}: {e}")).collect();
        f.write_str(&all.join("; "))
    }
}

impl std::error::Error for DestroyErrors {}

/// Destroys every image of `images` (by region) with the client
/// `api_for` gives for its region (the artifact's `destroy`): every region
/// is tried, and every failure reported.
pub async fn destroy_images<A, F>(
    images: &BTreeMap<String, String>,
    api_for: F,
) -> Result<(), DestroyErrors>
where
    A: ImageApi,
    F: Fn(&str) -> A,
{
    let mut errors = Vec::new();
    for (region, id) in images {
        if let Err(e) = destroy_image(&api_for(region), id).await {
            errors.push((region.clone(), e));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DestroyErrors(errors))
    }
}

// ---------------------------------------------------------------------------
// Create

/// Creates the image: see the module docs.
pub struct StepCreateImage<P> {
    name: &'static str,
    plan: P,
    poller: Poller,
    /// The name asked for, once the create call was made.
    attempted: Option<String>,
    /// The image's id, once the create call returned it.
    created: Option<String>,
}

impl<P> StepCreateImage<P> {
    /// A step named `name` (Packer's step name) creating by `plan` and
    /// waiting as `poller` says.
    pub fn new(name: &'static str, plan: P, poller: Poller) -> Self {
        StepCreateImage {
            name,
            plan,
            poller,
            attempted: None,
            created: None,
        }
    }
}

#[async_trait]
impl<S, P> Step<S> for StepCreateImage<P>
where
    S: ImageState,
    P: ImagePlan<S>,
{
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(&mut self, cx: &StepContext<'_>, state: &mut S) -> Result<StepAction, StepError> {
        let region = state.build_region();
        let api = state.image_api(&region);
        let new = self.plan.request(cx.ui, state)?;
        // Before the call: a create that made the image but whose reply
        // was lost leaves cleanup the name to find it by.
        self.attempted = Some(new.name.clone());
        let id = api.create(&new, &cx.cancel).await?;
        self.created = Some(id.clone());
        state.record_image(&region, &id);
        let w = api.wording();
        let values = [
            ("id", id.as_str()),
            ("region", &region),
            ("name", &new.name),
        ];
        show(w.created, cx.ui, &values);
        show(w.waiting, cx.ui, &values);
        let image = wait_available(&api, &self.poller, &id, &cx.cancel).await?;
        let snapshots = api.snapshots(&image);
        state.record_snapshots(&region, snapshots.clone());
        tag_run(&api, &snapshots, state.run_tags()).await?;
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut S) {
        let created = self.created.take();
        let attempted = self.attempted.take();
        if !cx.failed {
            return;
        }
        let region = state.build_region();
        let api = state.image_api(&region);
        let w = api.wording();
        let id = match (created, attempted) {
            (Some(id), _) => id,
            // Without run tags, this build's image cannot be told from
            // another's of the same name: leave it.
            (None, Some(name)) if !state.run_tags().is_empty() => {
                match api.find_created(&name, state.run_tags()).await {
                    Ok(Some(id)) => id,
                    Ok(None) => return,
                    Err(e) => {
                        cx.ui.error(&fill(
                            w.find_failed,
                            &[("name", &name), ("error", &e.to_string())],
                        ));
                        return;
                    }
                }
            }
            _ => return,
        };
        show(
            w.deleting_created,
            cx.ui,
            &[("id", &id), ("region", &region)],
        );
        if let Err(e) = destroy_image(&api, &id).await {
            cx.ui.error(&fill(
                w.delete_created_failed,
                &[("id", &id), ("error", &e.to_string())],
            ));
        }
        state.forget_image(&region);
    }
}

// ---------------------------------------------------------------------------
// Copy

/// Copies the image to other regions: see the module docs.
pub struct StepCopyImage<C> {
    name: &'static str,
    targets: Vec<CopyTarget<C>>,
    poller: Poller,
    /// The copies started, by region, recorded before their waits.
    copies: Vec<(String, String)>,
}

impl<C> StepCopyImage<C> {
    /// A step named `name` copying to `targets`, each wait as `poller`
    /// says.
    pub fn new(name: &'static str, targets: Vec<CopyTarget<C>>, poller: Poller) -> Self {
        StepCopyImage {
            name,
            targets,
            poller,
            copies: Vec::new(),
        }
    }
}

/// What a copy reports while it runs.
enum Event {
    /// The copy call returned the copy's id.
    Started(String, String),
    /// The copy is available; its snapshots.
    Done(String, Vec<String>),
}

/// One copy: started, recorded, tagged with the run tags, waited for.
/// The error is the step's message.
async fn copy_one<A: ImageApi>(
    api: A,
    source: (String, String),
    target: CopyTarget<A::Copy>,
    poller: Poller,
    run_tags: Vec<(String, String)>,
    events: mpsc::UnboundedSender<Event>,
    cancel: CancellationToken,
) -> Result<(), String> {
    let (source_region, source_id) = source;
    let id = api
        .copy(&source_region, &source_id, &target, &cancel)
        .await
        .map_err(|e| e.to_string())?;
    let region = target.region;
    let _ = events.send(Event::Started(region.clone(), id.clone()));
    tag_run(&api, std::slice::from_ref(&id), &run_tags)
        .await
        .map_err(|e| e.to_string())?;
    let image = wait_available(&api, &poller, &id, &cancel)
        .await
        .map_err(|e| {
            fill(
                api.wording().copy_wait_failed,
                &[("id", &id), ("region", &region), ("error", &e.to_string())],
            )
        })?;
    let snapshots = api.snapshots(&image);
    tag_run(&api, &snapshots, &run_tags)
        .await
        .map_err(|e| e.to_string())?;
    let _ = events.send(Event::Done(region, snapshots));
    Ok(())
}

impl<C> StepCopyImage<C> {
    fn take<S: ImageState>(&mut self, state: &mut S, event: Event) {
        match event {
            Event::Started(region, id) => self.copies.push((region, id)),
            Event::Done(region, snapshots) => state.record_snapshots(&region, snapshots),
        }
    }
}

#[async_trait]
impl<S, C> Step<S> for StepCopyImage<C>
where
    S: ImageState,
    S::Api: ImageApi<Copy = C>,
    C: Clone + Send + Sync + 'static,
{
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(&mut self, cx: &StepContext<'_>, state: &mut S) -> Result<StepAction, StepError> {
        if self.targets.is_empty() {
            return Ok(StepAction::Continue);
        }
        let build = state.build_region();
        let home = state.image_api(&build);
        let w = home.wording();
        let Some(source) = state.images().get(&build).cloned() else {
            return Err(StepError::msg(format!("there is no {} to copy", w.noun)));
        };
        show(w.copying, cx.ui, &[("id", &source), ("region", &build)]);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut tasks = tokio::task::JoinSet::new();
        for target in &self.targets {
            show(
                w.copying_to,
                cx.ui,
                &[("id", &source), ("region", &target.region)],
            );
            tasks.spawn(copy_one(
                state.image_api(&target.region),
                (build.clone(), source.clone()),
                target.clone(),
                self.poller.clone(),
                state.run_tags().to_vec(),
                tx.clone(),
                cx.cancel.clone(),
            ));
        }
        drop(tx);
        show(
            w.waiting_copies,
            cx.ui,
            &[("id", &source), ("region", &build)],
        );
        let mut errors = Vec::new();
        loop {
            tokio::select! {
                Some(event) = rx.recv() => self.take(state, event),
                r = tasks.join_next() => match r {
                    None => break,
                    Some(Ok(Ok(()))) => {}
                    Some(Ok(Err(e))) => errors.push(e),
                    Some(Err(e)) => errors.push(format!("a copy task failed: {e}")),
                },
            }
        }
        while let Ok(event) = rx.try_recv() {
            self.take(state, event);
        }
        if cx.cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        if !errors.is_empty() {
            return Err(StepError::msg(errors.join("\n")));
        }
        if self.targets.iter().any(|t| t.region == build) {
            // The copy in the build region replaces the original.
            let Some((_, copy)) = self.copies.iter().find(|(r, _)| *r == build) else {
                return Err(StepError::msg(format!(
                    "the copy of the {} in region `{build}` is missing",
                    w.noun
                )));
            };
            show(w.replacing, cx.ui, &[("id", &source), ("region", &build)]);
            destroy_image(&home, &source)
                .await
                .map_err(StepError::msg)?;
            state.record_image(&build, copy);
        }
        for (region, id) in &self.copies {
            state.record_image(region, id);
        }
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut S) {
        let copies = std::mem::take(&mut self.copies);
        if !cx.failed || copies.is_empty() {
            return;
        }
        let build = state.build_region();
        let w = state.image_api(&build).wording().clone();
        show(w.deleting_copies, cx.ui, &[("region", &build)]);
        for (region, id) in copies {
            if let Err(e) = destroy_image(&state.image_api(&region), &id).await {
                cx.ui.error(&fill(
                    w.delete_copy_failed,
                    &[("id", &id), ("region", &region), ("error", &e.to_string())],
                ));
            }
            if region != build {
                state.forget_image(&region);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Share

/// Shares the image and applies its attributes: see the module docs.
pub struct StepShareImage<A> {
    name: &'static str,
    changes: Vec<ImageChange<A>>,
    snapshots: Sharing,
}

impl<A> StepShareImage<A> {
    /// A step named `name` applying `changes` to the image in every region
    /// and sharing its snapshots as `snapshots` says.
    pub fn new(name: &'static str, changes: Vec<ImageChange<A>>, snapshots: Sharing) -> Self {
        StepShareImage {
            name,
            changes,
            snapshots,
        }
    }
}

#[async_trait]
impl<S, A> Step<S> for StepShareImage<A>
where
    S: ImageState,
    S::Api: ImageApi<Attribute = A>,
    A: Send + Sync,
{
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(&mut self, cx: &StepContext<'_>, state: &mut S) -> Result<StepAction, StepError> {
        if self.changes.is_empty() && self.snapshots.is_empty() {
            return Ok(StepAction::Continue);
        }
        for (region, id) in state.images() {
            let api = state.image_api(&region);
            let w = api.wording();
            if !self.changes.is_empty() {
                show(w.modifying, cx.ui, &[("id", &id), ("region", &region)]);
            }
            for change in &self.changes {
                api.modify_image(&id, change, cx.ui).await?;
            }
            if self.snapshots.is_empty() {
                continue;
            }
            for snapshot in state.snapshots(&region) {
                show(
                    w.modifying_snapshot,
                    cx.ui,
                    &[("id", &snapshot), ("region", &region)],
                );
                api.share_snapshot(&snapshot, &self.snapshots)
                    .await
                    .map_err(|e| {
                        StepError::msg(fill(
                            w.share_snapshot_failed,
                            &[("id", &snapshot), ("error", &e.to_string())],
                        ))
                    })?;
            }
        }
        Ok(StepAction::Continue)
    }
}

// ---------------------------------------------------------------------------
// Tags

/// Tags the image and its snapshots: see the module docs.
pub struct StepTagImage<P> {
    name: &'static str,
    plan: P,
}

impl<P> StepTagImage<P> {
    /// A step named `name` tagging as `plan` renders.
    pub fn new(name: &'static str, plan: P) -> Self {
        StepTagImage { name, plan }
    }
}

fn report(ui: &dyn Ui, template: &str, tags: &[(String, String)]) {
    for (k, v) in tags {
        ui.message(&fill(template, &[("key", k), ("value", v)]));
    }
}

#[async_trait]
impl<S, P> Step<S> for StepTagImage<P>
where
    S: ImageState,
    P: TagPlan<S>,
{
    fn name(&self) -> &'static str {
        self.name
    }

    async fn run(&mut self, cx: &StepContext<'_>, state: &mut S) -> Result<StepAction, StepError> {
        if self.plan.is_empty() {
            return Ok(StepAction::Continue);
        }
        for (region, id) in state.images() {
            let api = state.image_api(&region);
            let w = api.wording();
            show(w.tagging, cx.ui, &[("id", &id), ("region", &region)]);
            let snapshots = state.snapshots(&region);
            for s in &snapshots {
                show(w.tagging_snapshot, cx.ui, &[("id", s), ("region", &region)]);
            }
            let tags = self.plan.render(state, &region)?;
            let failed = |template: &str, e: ApiError| {
                StepError::msg(fill(
                    template,
                    &[("id", &id), ("region", &region), ("error", &e.to_string())],
                ))
            };
            if !tags.image.is_empty() {
                show(w.image_tags, cx.ui, &[("id", &id), ("region", &region)]);
                report(cx.ui, w.tag, &tags.image);
                api.tag(std::slice::from_ref(&id), &tags.image)
                    .await
                    .map_err(|e| failed(w.tag_image_failed, e))?;
            }
            if !tags.snapshots.is_empty() && !snapshots.is_empty() {
                show(w.snapshot_tags, cx.ui, &[("id", &id), ("region", &region)]);
                report(cx.ui, w.tag, &tags.snapshots);
                api.tag(&snapshots, &tags.snapshots)
                    .await
                    .map_err(|e| failed(w.tag_snapshots_failed, e))?;
            }
        }
        Ok(StepAction::Continue)
    }
}

#[cfg(test)]
// The fake cloud's guard is dropped by hand before each await.
#[allow(clippy::await_holding_lock)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use kiln_sdk::ui::RecordingUi;

    use super::*;
    use crate::steps::testing::{context, service_error, FakeCalls, ALWAYS};

    /// An image in the fake cloud.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct FakeImage {
        id: String,
        region: String,
        name: String,
        state: String,
        snapshots: Vec<String>,
        tags: Vec<(String, String)>,
        shared: Sharing,
        attributes: Vec<String>,
        copy: bool,
        polls: u32,
    }

    /// A snapshot in the fake cloud.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    struct FakeSnapshot {
        tags: Vec<(String, String)>,
        shared: Sharing,
    }

    /// The fake cloud: every region's images and snapshots, the calls made,
    /// and how it misbehaves.
    #[derive(Default)]
    struct Cloud {
        next: u32,
        images: BTreeMap<String, FakeImage>,
        snapshots: BTreeMap<String, FakeSnapshot>,
        /// The calls; fault point `delete {id}` fails deleting image `id`.
        calls: FakeCalls,
        /// The create call makes the image, then fails (a lost reply).
        create_then_fail: bool,
        /// Copy calls into this region fail.
        fail_copy_to: Option<String>,
        /// Images in this region end up `failed`.
        fail_in: Option<String>,
        /// Images never become available.
        never_ready: bool,
        /// Copies become available only once this many exist and each
        /// was looked at: waits one after another would never end.
        together: Option<usize>,
    }

    impl Cloud {
        fn new_image(&mut self, region: &str, name: &str, copy: bool) -> String {
            self.next += 1;
            let (id, snap) = (format!("img-{}", self.next), format!("snap-{}", self.next));
            self.snapshots.insert(snap.clone(), FakeSnapshot::default());
            self.images.insert(
                id.clone(),
                FakeImage {
                    id: id.clone(),
                    region: region.into(),
                    name: name.into(),
                    state: "pending".into(),
                    snapshots: vec![snap],
                    tags: Vec::new(),
                    shared: Sharing::default(),
                    attributes: Vec::new(),
                    copy,
                    polls: 0,
                },
            );
            id
        }
    }

    #[derive(Clone)]
    struct Fake {
        region: String,
        cloud: Arc<Mutex<Cloud>>,
    }

    impl Fake {
        fn cloud(&self) -> std::sync::MutexGuard<'_, Cloud> {
            self.cloud.lock().unwrap()
        }
        fn call(&self, c: String) {
            self.cloud().calls.record(c);
        }
    }

    /// The fake's create request: the tags.
    struct FakeCreate {
        tags: Vec<(String, String)>,
    }

    #[async_trait]
    impl ImageApi for Fake {
        type Create = FakeCreate;
        type Copy = String;
        type Attribute = String;
        type Image = FakeImage;

        async fn create(
            &self,
            image: &NewImage<FakeCreate>,
            _cancel: &CancellationToken,
        ) -> Result<String, StepError> {
            self.call(format!("create {}", image.name));
            let mut c = self.cloud();
            let id = c.new_image(&self.region, &image.name, false);
            c.images.get_mut(&id).unwrap().tags = image.request.tags.clone();
            if c.create_then_fail {
                return Err(StepError::msg("error creating image: the reply was lost"));
            }
            Ok(id)
        }

        async fn find_created(
            &self,
            name: &str,
            run_tags: &[(String, String)],
        ) -> Result<Option<String>, ApiError> {
            self.call(format!("find {name}"));
            Ok(self
                .cloud()
                .images
                .values()
                .find(|i| {
                    i.region == self.region
                        && i.name == name
                        && run_tags.iter().all(|t| i.tags.contains(t))
                })
                .map(|i| i.id.clone()))
        }

        async fn copy(
            &self,
            source_region: &str,
            source: &str,
            target: &CopyTarget<String>,
            _cancel: &CancellationToken,
        ) -> Result<String, StepError> {
            self.call(format!("copy {source_region}/{source} to {}", self.region));
            let mut c = self.cloud();
            if c.fail_copy_to.as_deref() == Some(self.region.as_str()) {
                return Err(StepError::msg(format!(
                    "error copying image to region ({}): no",
                    self.region
                )));
            }
            assert_eq!(target.region, self.region);
            Ok(c.new_image(&self.region, &target.request, true))
        }

        async fn describe(&self, id: &str) -> Result<Option<FakeImage>, ApiError> {
            Ok(self
                .cloud()
                .images
                .get(id)
                .filter(|i| i.region == self.region)
                .cloned())
        }

        async fn describe_for_wait(&self, id: &str) -> Result<Option<FakeImage>, ApiError> {
            let mut c = self.cloud();
            let fail = c.fail_in.as_deref() == Some(self.region.as_str());
            let (never, together) = (c.never_ready, c.together);
            let Some(image) = c.images.get_mut(id).filter(|i| i.region == self.region) else {
                return Ok(None);
            };
            image.polls += 1;
            if fail {
                image.state = "failed".into();
            } else if !never && image.polls >= 2 && !image.copy {
                image.state = "available".into();
            }
            if let (Some(n), true) = (together, image.copy) {
                let copies: Vec<_> = c.images.values().filter(|i| i.copy).collect();
                if !never && copies.len() == n && copies.iter().all(|i| i.polls >= 1) {
                    c.images.get_mut(id).unwrap().state = "available".into();
                }
            } else if !never && !fail && image.copy {
                image.state = "available".into();
            }
            Ok(c.images.get(id).cloned())
        }

        fn status(&self, image: &FakeImage) -> ImageStatus {
            let phase = match image.state.as_str() {
                "available" => ImagePhase::Available,
                "failed" => ImagePhase::Failed,
                _ => ImagePhase::Pending,
            };
            ImageStatus {
                phase,
                state: image.state.clone(),
                reason: (phase == ImagePhase::Failed).then(|| "out of disk".to_string()),
            }
        }

        fn snapshots(&self, image: &FakeImage) -> Vec<String> {
            image.snapshots.clone()
        }

        async fn delete_image(&self, id: &str) -> Result<(), ApiError> {
            self.call(format!("delete {id}"));
            let mut c = self.cloud();
            c.calls.fault(&format!("delete {id}"))?;
            c.images.remove(id);
            Ok(())
        }

        async fn delete_snapshot(&self, id: &str) -> Result<(), ApiError> {
            self.call(format!("delete {id}"));
            self.cloud().snapshots.remove(id);
            Ok(())
        }

        async fn modify_image(
            &self,
            id: &str,
            change: &ImageChange<String>,
            ui: &dyn Ui,
        ) -> Result<(), StepError> {
            let mut c = self.cloud();
            let image = c.images.get_mut(id).unwrap();
            match change {
                ImageChange::Share(s) => {
                    ui.message("Modifying: sharing");
                    image.shared = s.clone();
                }
                ImageChange::Attribute(a) => {
                    ui.message(&format!("Modifying: {a}"));
                    image.attributes.push(a.clone());
                }
            }
            Ok(())
        }

        async fn share_snapshot(&self, id: &str, sharing: &Sharing) -> Result<(), ApiError> {
            self.cloud().snapshots.get_mut(id).unwrap().shared = sharing.clone();
            Ok(())
        }

        async fn tag(&self, ids: &[String], tags: &[(String, String)]) -> Result<(), ApiError> {
            self.call(format!("tag {}", ids.join(",")));
            let mut c = self.cloud();
            for id in ids {
                if let Some(i) = c.images.get_mut(id) {
                    i.tags.extend(tags.iter().cloned());
                } else if let Some(s) = c.snapshots.get_mut(id) {
                    s.tags.extend(tags.iter().cloned());
                } else {
                    return Err(service_error("CreateTags", "NotFound"));
                }
            }
            Ok(())
        }
    }

    /// The builder's state over the fake cloud, building in `home`.
    struct State {
        cloud: Arc<Mutex<Cloud>>,
        images: BTreeMap<String, String>,
        snapshots: BTreeMap<String, Vec<String>>,
        run_tags: Vec<(String, String)>,
    }

    impl State {
        fn new(cloud: Cloud) -> State {
            State {
                cloud: Arc::new(Mutex::new(cloud)),
                images: BTreeMap::new(),
                snapshots: BTreeMap::new(),
                run_tags: vec![("kiln:run".into(), "r1".into())],
            }
        }
        fn cloud(&self) -> std::sync::MutexGuard<'_, Cloud> {
            self.cloud.lock().unwrap()
        }
        fn ids(&self) -> Vec<String> {
            self.cloud().images.keys().cloned().collect()
        }
    }

    impl ImageState for State {
        type Api = Fake;
        fn build_region(&self) -> String {
            "home".into()
        }
        fn image_api(&self, region: &str) -> Fake {
            Fake {
                region: region.into(),
                cloud: self.cloud.clone(),
            }
        }
        fn run_tags(&self) -> &[(String, String)] {
            &self.run_tags
        }
        fn images(&self) -> BTreeMap<String, String> {
            self.images.clone()
        }
        fn record_image(&mut self, region: &str, id: &str) {
            self.images.insert(region.into(), id.into());
        }
        fn snapshots(&self, region: &str) -> Vec<String> {
            self.snapshots.get(region).cloned().unwrap_or_default()
        }
        fn record_snapshots(&mut self, region: &str, snapshots: Vec<String>) {
            self.snapshots.insert(region.into(), snapshots);
        }
        fn forget_image(&mut self, region: &str) {
            self.images.remove(region);
            self.snapshots.remove(region);
        }
    }

    struct Plan;

    impl ImagePlan<State> for Plan {
        fn request(&self, ui: &dyn Ui, state: &State) -> Result<NewImage<FakeCreate>, StepError> {
            ui.say("Creating image: built");
            Ok(NewImage {
                name: "built".into(),
                request: FakeCreate {
                    tags: state.run_tags.clone(),
                },
            })
        }
    }

    fn poller() -> Poller {
        Poller::new(Duration::from_secs(60), Duration::from_secs(1))
    }

    fn create_step() -> StepCreateImage<Plan> {
        StepCreateImage::new("StepCreateImage", Plan, poller())
    }

    fn failed(ui: &RecordingUi) -> StepContext<'_> {
        StepContext {
            failed: true,
            ..context(ui, &CancellationToken::new())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn create_records_the_image_waits_and_run_tags_its_snapshots() {
        let (ui, mut state) = (RecordingUi::default(), State::new(Cloud::default()));
        let mut step = create_step();
        let r = step
            .run(&context(&ui, &CancellationToken::new()), &mut state)
            .await;
        assert_eq!(r.unwrap(), StepAction::Continue);
        assert_eq!(state.images["home"], "img-1");
        assert_eq!(state.snapshots["home"], ["snap-1"]);
        let c = state.cloud();
        assert_eq!(c.images["img-1"].state, "available");
        assert_eq!(c.snapshots["snap-1"].tags, state.run_tags);
        assert_eq!(c.calls.calls(), ["create built", "tag snap-1"]);
        drop(c);
        assert_eq!(
            ui.lines(),
            [
                "say: Creating image: built",
                "message: Image ID: img-1",
                "say: Waiting for image (img-1) to become available...",
            ]
        );
        // A build that went on and succeeded keeps its image.
        step.cleanup(&context(&ui, &CancellationToken::new()), &mut state)
            .await;
        assert_eq!(state.ids(), ["img-1"]);
        assert_eq!(ui.lines().len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_create_that_fails_after_creating_is_still_cleaned_up() {
        let mut cloud = Cloud {
            create_then_fail: true,
            ..Cloud::default()
        };
        // Another run's image of the same name is not this build's.
        let other = cloud.new_image("home", "built", false);
        let (ui, mut state) = (RecordingUi::default(), State::new(cloud));
        let mut step = create_step();
        let e = step
            .run(&context(&ui, &CancellationToken::new()), &mut state)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "error creating image: the reply was lost");
        assert!(state.images.is_empty());
        step.cleanup(&failed(&ui), &mut state).await;
        assert_eq!(state.ids(), std::slice::from_ref(&other));
        assert_eq!(state.cloud().snapshots.len(), 1);
        assert_eq!(
            ui.lines().last().unwrap(),
            "say: Deleting the image and related snapshots because of cancellation or error..."
        );
        // Cleaning up again does nothing.
        let calls = state.cloud().calls.calls().len();
        step.cleanup(&failed(&ui), &mut state).await;
        assert_eq!(state.cloud().calls.calls().len(), calls);
    }

    #[tokio::test(start_paused = true)]
    async fn without_run_tags_a_lost_create_is_not_guessed_at() {
        let cloud = Cloud {
            create_then_fail: true,
            ..Cloud::default()
        };
        let (ui, mut state) = (RecordingUi::default(), State::new(cloud));
        state.run_tags.clear();
        let mut step = create_step();
        assert!(step
            .run(&context(&ui, &CancellationToken::new()), &mut state)
            .await
            .is_err());
        step.cleanup(&failed(&ui), &mut state).await;
        assert_eq!(state.ids(), ["img-1"]);
        assert!(!state
            .cloud()
            .calls
            .calls()
            .iter()
            .any(|c| c.starts_with("find")));
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_while_waiting_the_image_is_deleted() {
        let cloud = Cloud {
            never_ready: true,
            ..Cloud::default()
        };
        let (ui, mut state) = (RecordingUi::default(), State::new(cloud));
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            c.cancel();
        });
        let mut step = create_step();
        let r = step.run(&context(&ui, &cancel), &mut state).await;
        assert!(matches!(r, Err(StepError::Cancelled)), "{r:?}");
        // Recorded before the wait.
        assert_eq!(state.images["home"], "img-1");
        step.cleanup(&failed(&ui), &mut state).await;
        assert!(state.ids().is_empty());
        assert!(state.cloud().snapshots.is_empty());
        assert!(state.images.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_image_ends_the_wait_with_its_state_and_reason() {
        let cloud = Cloud {
            fail_in: Some("home".into()),
            ..Cloud::default()
        };
        let (ui, mut state) = (RecordingUi::default(), State::new(cloud));
        let e = create_step()
            .run(&context(&ui, &CancellationToken::new()), &mut state)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "error waiting for image (img-1) to become ready: the image is `failed`: out of disk"
        );
    }

    fn copy_step(regions: &[&str]) -> StepCopyImage<String> {
        let targets = regions
            .iter()
            .map(|r| CopyTarget {
                region: r.to_string(),
                request: format!("built-{r}"),
            })
            .collect();
        StepCopyImage::new("StepCopyImage", targets, poller())
    }

    /// A state whose build region has image `img-1` (available).
    fn built(cloud: Cloud) -> State {
        let mut state = State::new(cloud);
        let id = state.cloud().new_image("home", "built", false);
        state.cloud().images.get_mut(&id).unwrap().state = "available".into();
        state.record_image("home", &id);
        state.record_snapshots("home", vec!["snap-1".into()]);
        state
    }

    #[tokio::test(start_paused = true)]
    async fn copies_start_at_once_and_their_waits_overlap() {
        // Each copy becomes available only once all three were looked at:
        // waiting for one copy after another would time out.
        let mut state = built(Cloud {
            together: Some(3),
            ..Cloud::default()
        });
        let ui = RecordingUi::default();
        let mut step = copy_step(&["a", "b", "c"]);
        let r = step
            .run(&context(&ui, &CancellationToken::new()), &mut state)
            .await;
        assert_eq!(r.unwrap(), StepAction::Continue);
        assert_eq!(state.images.len(), 4);
        for region in ["a", "b", "c"] {
            let id = state.images[region].clone();
            let c = state.cloud();
            let image = &c.images[&id];
            assert_eq!(
                (image.region.as_str(), image.state.as_str()),
                (region, "available")
            );
            // The copy and its snapshots carry the run tags.
            assert_eq!(image.tags, state.run_tags);
            assert_eq!(state.snapshots[region], image.snapshots);
            assert_eq!(c.snapshots[&image.snapshots[0]].tags, state.run_tags);
        }
        assert_eq!(state.images["home"], "img-1");
        assert_eq!(
            ui.lines(),
            [
                "say: Copying image img-1 to other regions...",
                "message: Copying to: a",
                "message: Copying to: b",
                "message: Copying to: c",
                "message: Waiting for all copies to complete...",
            ]
        );
        // Success: cleanup leaves the copies.
        step.cleanup(&context(&ui, &CancellationToken::new()), &mut state)
            .await;
        assert_eq!(state.ids().len(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn one_copy_failing_deletes_the_others() {
        let mut state = built(Cloud {
            fail_copy_to: Some("b".into()),
            ..Cloud::default()
        });
        let ui = RecordingUi::default();
        let mut step = copy_step(&["a", "b", "c"]);
        let e = step
            .run(&context(&ui, &CancellationToken::new()), &mut state)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "error copying image to region (b): no");
        // The copies that were made are recorded by the step only.
        assert_eq!(state.images.keys().collect::<Vec<_>>(), ["home"]);
        assert_eq!(state.ids().len(), 3);
        step.cleanup(&failed(&ui), &mut state).await;
        assert_eq!(state.ids(), ["img-1"]);
        assert_eq!(
            state.cloud().snapshots.keys().collect::<Vec<_>>(),
            ["snap-1"]
        );
        assert_eq!(state.images.keys().collect::<Vec<_>>(), ["home"]);
        assert!(!state.snapshots.contains_key("a"), "{:?}", state.snapshots);
        assert!(ui.lines().contains(
            &"say: Deleting the copied images and their snapshots because of cancellation or error..."
                .to_string()
        ));
        // Again: nothing more.
        let calls = state.cloud().calls.calls().len();
        step.cleanup(&failed(&ui), &mut state).await;
        assert_eq!(state.cloud().calls.calls().len(), calls);
    }

    #[tokio::test(start_paused = true)]
    async fn a_copy_whose_wait_fails_says_where_and_is_deleted() {
        let mut state = built(Cloud {
            fail_in: Some("c".into()),
            ..Cloud::default()
        });
        let ui = RecordingUi::default();
        let mut step = copy_step(&["a", "c"]);
        let e = step
            .run(&context(&ui, &CancellationToken::new()), &mut state)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "error waiting for image (img-3) in region (c): error waiting for image (img-3) to become ready: the image is `failed`: out of disk"
        );
        step.cleanup(&failed(&ui), &mut state).await;
        assert_eq!(state.ids(), ["img-1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_while_copies_wait_they_are_deleted() {
        let mut state = built(Cloud {
            never_ready: true,
            ..Cloud::default()
        });
        let ui = RecordingUi::default();
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            c.cancel();
        });
        let mut step = copy_step(&["a", "b"]);
        let r = step.run(&context(&ui, &cancel), &mut state).await;
        assert!(matches!(r, Err(StepError::Cancelled)), "{r:?}");
        assert_eq!(state.ids().len(), 3);
        step.cleanup(&failed(&ui), &mut state).await;
        assert_eq!(state.ids(), ["img-1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_copy_into_the_build_region_replaces_the_original() {
        let mut state = built(Cloud::default());
        let ui = RecordingUi::default();
        let mut step = copy_step(&["a", "home"]);
        step.run(&context(&ui, &CancellationToken::new()), &mut state)
            .await
            .unwrap();
        let home = state.images["home"].clone();
        assert_ne!(home, "img-1");
        assert!(!state.ids().contains(&"img-1".to_string()));
        assert!(!state.cloud().snapshots.contains_key("snap-1"));
        assert_eq!(state.cloud().images[&home].region, "home");
        assert_eq!(
            ui.lines().last().unwrap(),
            "say: Deleting the intermediary image and its snapshots..."
        );
        let e = copy_step(&["a"])
            .run(
                &context(&ui, &CancellationToken::new()),
                &mut State::new(Cloud::default()),
            )
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "there is no image to copy");
    }

    #[tokio::test(start_paused = true)]
    async fn share_changes_every_regions_image_and_shares_snapshots() {
        let mut state = built(Cloud::default());
        let id = state.cloud().new_image("a", "built", true);
        state.record_image("a", &id);
        state.record_snapshots("a", vec!["snap-2".into()]);
        let ui = RecordingUi::default();
        let sharing = Sharing {
            accounts: vec!["123".into()],
            groups: vec!["all".into()],
        };
        let mut step = StepShareImage::new(
            "StepShareImage",
            vec![
                ImageChange::Attribute("description".to_string()),
                ImageChange::Share(sharing.clone()),
            ],
            Sharing {
                accounts: vec!["456".into()],
                groups: Vec::new(),
            },
        );
        step.run(&context(&ui, &CancellationToken::new()), &mut state)
            .await
            .unwrap();
        let c = state.cloud();
        for (image, snap) in [("img-1", "snap-1"), ("img-2", "snap-2")] {
            assert_eq!(c.images[image].shared, sharing);
            assert_eq!(c.images[image].attributes, ["description"]);
            assert_eq!(c.snapshots[snap].shared.accounts, ["456"]);
        }
        drop(c);
        assert_eq!(
            ui.lines(),
            [
                "say: Modifying attributes on image (img-2)...",
                "message: Modifying: description",
                "message: Modifying: sharing",
                "say: Modifying attributes on snapshot (snap-2)...",
                "say: Modifying attributes on image (img-1)...",
                "message: Modifying: description",
                "message: Modifying: sharing",
                "say: Modifying attributes on snapshot (snap-1)...",
            ]
        );
        // Nothing to change: nothing said or done.
        let ui = RecordingUi::default();
        StepShareImage::<String>::new("StepShareImage", Vec::new(), Sharing::default())
            .run(&context(&ui, &CancellationToken::new()), &mut state)
            .await
            .unwrap();
        assert!(ui.lines().is_empty());
    }

    struct Tags(Vec<(String, String)>);

    impl TagPlan<State> for Tags {
        fn is_empty(&self) -> bool {
            self.0.is_empty()
        }
        fn render(&self, _: &State, region: &str) -> Result<ImageTags, StepError> {
            let mut image = self.0.clone();
            image.push(("Region".into(), region.into()));
            let mut snapshots = image.clone();
            snapshots.push(("Kind".into(), "snapshot".into()));
            Ok(ImageTags { image, snapshots })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn tags_go_on_every_regions_image_and_snapshots() {
        let mut state = built(Cloud::default());
        let ui = RecordingUi::default();
        StepTagImage::new("StepTagImage", Tags(vec![("Name".into(), "x".into())]))
            .run(&context(&ui, &CancellationToken::new()), &mut state)
            .await
            .unwrap();
        let name = ("Name".to_string(), "x".to_string());
        let region = ("Region".to_string(), "home".to_string());
        let kind = ("Kind".to_string(), "snapshot".to_string());
        assert_eq!(
            state.cloud().images["img-1"].tags,
            [name.clone(), region.clone()]
        );
        assert_eq!(state.cloud().snapshots["snap-1"].tags, [name, region, kind]);
        assert_eq!(
            ui.lines(),
            [
                "say: Adding tags to image (img-1)...",
                "message: Tagging snapshot: snap-1",
                "say: Creating image tags",
                "message: Adding tag: \"Name\": \"x\"",
                "message: Adding tag: \"Region\": \"home\"",
                "say: Creating snapshot tags",
                "message: Adding tag: \"Name\": \"x\"",
                "message: Adding tag: \"Region\": \"home\"",
                "message: Adding tag: \"Kind\": \"snapshot\"",
            ]
        );
        // A failed tag call says which image.
        state.cloud().images.remove("img-1");
        let e = StepTagImage::new("StepTagImage", Tags(vec![("Name".into(), "x".into())]))
            .run(&context(&ui, &CancellationToken::new()), &mut state)
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "error adding tags to image (img-1): NotFound: CreateTags failed"
        );
        // No tags: nothing said or done.
        let ui = RecordingUi::default();
        StepTagImage::new("StepTagImage", Tags(Vec::new()))
            .run(&context(&ui, &CancellationToken::new()), &mut state)
            .await
            .unwrap();
        assert!(ui.lines().is_empty());
    }

    #[test]
    fn wording_fills_its_placeholders_once() {
        assert_eq!(
            fill(
                "error {id} in {region}: {error} {other}",
                &[("id", "{region}"), ("region", "r"), ("error", "e {id}")],
            ),
            "error {region} in r: e {id} {other}"
        );
        assert_eq!(fill("{unclosed", &[("unclosed", "x")]), "{unclosed");
    }

    #[tokio::test(start_paused = true)]
    async fn destroying_an_artifact_twice_is_fine_and_failures_name_the_region() {
        let mut state = built(Cloud::default());
        let id = state.cloud().new_image("a", "built", true);
        state.record_image("a", &id);
        let api = |region: &str| state.image_api(region);
        destroy_images(&state.images, api).await.unwrap();
        assert!(state.ids().is_empty());
        assert!(state.cloud().snapshots.is_empty());
        destroy_images(&state.images, api).await.unwrap();

        let mut state = built(Cloud::default());
        let id = state.cloud().new_image("a", "built", true);
        state.record_image("a", &id);
        let error = service_error("DeleteImage", "InternalError");
        state
            .cloud()
            .calls
            .fail(&format!("delete {id}"), ALWAYS, error);
        let api = |region: &str| state.image_api(region);
        let e = destroy_images(&state.images, api).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "a: error deleting image `img-2`: InternalError: DeleteImage failed"
        );
        // The other region's image went all the same.
        assert_eq!(state.ids(), ["img-2"]);
    }
}
