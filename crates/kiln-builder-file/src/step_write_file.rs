//! Writes the target file (from `content` or by copying `source`),
//! refusing to overwrite an existing file unless `-force`. Records the path
//! in `FileState::created` before writing; if the build then fails, cleanup
//! removes that file so no partial output is left behind.

use async_trait::async_trait;
use kiln_sdk::step::{Step, StepAction, StepContext, StepError};

use crate::config::{Config, Content};
use crate::FileState;

/// See the module docs.
pub struct StepWriteFile {
    config: Config,
    force: bool,
}

impl StepWriteFile {
    /// A write step for `config`.
    pub fn new(config: Config, force: bool) -> Self {
        StepWriteFile { config, force }
    }
}

#[async_trait]
impl Step<FileState> for StepWriteFile {
    fn name(&self) -> &'static str {
        "StepWriteFile"
    }

    async fn run(
        &mut self,
        cx: &StepContext<'_>,
        state: &mut FileState,
    ) -> Result<StepAction, StepError> {
        let target = &self.config.target;
        let shown = target.display();
        if !self.force && tokio::fs::symlink_metadata(target).await.is_ok() {
            return Err(StepError::msg(format!(
                "target `{shown}` already exists; use `-force` to overwrite it"
            )));
        }
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                StepError::msg(format!(
                    "cannot create directory `{}`: {e}",
                    parent.display()
                ))
            })?;
        }
        state.created = Some(target.clone());
        match &self.config.content {
            Content::Inline(text) => {
                let mut opts = tokio::fs::OpenOptions::new();
                opts.write(true).create(true).truncate(true).mode(0o600);
                let mut f = opts
                    .open(target)
                    .await
                    .map_err(|e| StepError::msg(format!("cannot create `{shown}`: {e}")))?;
                // A tokio file finishes its writes in the background: without
                // `flush` the manifest could record the size before they land.
                let written = async {
                    tokio::io::AsyncWriteExt::write_all(&mut f, text.as_bytes()).await?;
                    tokio::io::AsyncWriteExt::flush(&mut f).await
                };
                written
                    .await
                    .map_err(|e| StepError::msg(format!("cannot write `{shown}`: {e}")))?;
            }
            Content::Source(src) => {
                cx.ui.say(&format!("Copying {} to {shown}", src.display()));
                tokio::fs::copy(src, target).await.map_err(|e| {
                    StepError::msg(format!("cannot copy `{}` to `{shown}`: {e}", src.display()))
                })?;
            }
        }
        Ok(StepAction::Continue)
    }

    async fn cleanup(&mut self, cx: &StepContext<'_>, state: &mut FileState) {
        if !cx.failed {
            return;
        }
        if let Some(p) = state.created.take() {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => cx
                    .ui
                    .error(&format!("cannot remove `{}`: {e}", p.display())),
            }
        }
    }
}
