//! Checkpoints of a build's machine (`kiln build -incremental`): the
//! contracts between the core, which keeps the cache and decides what to
//! reuse, and a builder, which knows how to save its running machine and
//! how to start one again from a saved state.
//!
//! The flow, for a builder that supports checkpoints:
//! 1. once it knows what shapes its machine (the source image by digest or
//!    ID, disk and hardware settings, boot configuration), and before it
//!    starts the machine, the builder calls [`Checkpoints::plan`] with
//!    those inputs; the core answers with the latest valid checkpoint whose
//!    chain of inputs is unchanged, or `None`;
//! 2. the builder starts its machine from that checkpoint (or from scratch),
//!    then [`Checkpoints::attach`]es a [`MachineSaver`] before it fires the
//!    provision hook;
//! 3. the hook skips the provisioners the checkpoint already holds (those
//!    whose effects are outside the machine run again), runs the rest, and
//!    after each one asks the saver for a new checkpoint;
//! 4. the builder captures its artifact as in a plain build.
//!
//! What a checkpoint keeps outside the cache directory (a docker image, an
//! AMI) is removed through the builder factory's [`CheckpointCleaner`] when
//! the cache is pruned.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::component::BuildError;
use crate::ui::Ui;

/// A checkpoint the builder is to start its machine from.
#[derive(Debug, Clone)]
pub struct Restore {
    /// How many provisioners the checkpoint holds (it was saved after the
    /// `after`-th one, counting from 1).
    pub after: usize,
    /// What the builder's [`MachineSaver::save`] returned as
    /// [`Saved::data`].
    pub data: serde_json::Value,
    /// The checkpoint's directory in the cache, with the files the saver
    /// wrote, already verified. Read-only: copy what must change.
    pub dir: PathBuf,
}

/// What a [`MachineSaver`] made.
#[derive(Debug, Clone, Default)]
pub struct Saved {
    /// What the builder needs to start a machine from this checkpoint (a
    /// docker image ID, the names of files in the checkpoint's directory).
    /// Stored in the checkpoint's metadata; never holds secrets.
    pub data: serde_json::Value,
    /// Bytes kept outside the checkpoint's directory (a docker image's
    /// size), counted against the cache's size limit.
    pub external_size: u64,
}

/// Saves a builder's running machine as a checkpoint. The builder attaches
/// one once its machine is up.
#[async_trait]
pub trait MachineSaver: Send + Sync {
    /// Saves the machine as it is now. `dir` is an empty directory of the
    /// cache: what the saver writes there is part of the checkpoint. The
    /// machine must go on running afterwards, as it was.
    async fn save(
        &self,
        ui: &dyn Ui,
        dir: &Path,
        cancel: &CancellationToken,
    ) -> Result<Saved, BuildError>;
}

/// The build's checkpoints, as the core offers them to a builder
/// ([`BuildContext::checkpoints`](crate::BuildContext::checkpoints), set
/// only for `-incremental` builds).
#[async_trait]
pub trait Checkpoints: Send + Sync {
    /// Finds the checkpoint to start from, given `inputs`: a JSON object of
    /// everything that shapes the machine before its provisioners run
    /// (never names of the result, never secrets in clear). Prints what is
    /// reused and why; `None` means start from scratch. A checkpoint
    /// returned here is held for the build's life: nothing prunes it.
    async fn plan(&self, ui: &dyn Ui, inputs: serde_json::Value) -> Option<Restore>;

    /// Gives the hook the way to save the running machine after each
    /// provisioner. Call it once the machine is up, before the hook fires.
    fn attach(&self, saver: Arc<dyn MachineSaver>);
}

/// Checks and removes what checkpoints keep outside the cache directory,
/// for one builder type (its factory's
/// [`checkpoint_cleaner`](crate::BuilderFactory::checkpoint_cleaner)).
#[async_trait]
pub trait CheckpointCleaner: Send + Sync {
    /// Whether what `data` names still exists (a checkpoint whose docker
    /// image was removed by hand is not restored).
    async fn exists(&self, data: &serde_json::Value) -> Result<bool, String>;
    /// Removes what `data` names; removing what is already gone succeeds.
    async fn remove(&self, data: &serde_json::Value) -> Result<(), String>;
}

/// Whose state a provisioner changes: a checkpoint holds only the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effects {
    /// The machine's (`shell`, `file`, `ansible`…): checkpoints are saved
    /// after it, and a restored checkpoint stands for it.
    Machine,
    /// Only outside the machine (`shell-local`, `breakpoint`, `sleep`): no
    /// checkpoint after it, and it runs again every time.
    Outside,
}
