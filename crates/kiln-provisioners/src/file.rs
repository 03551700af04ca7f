//! The `file` provisioner (Packer 1.6.6's `provisioner/file`): uploads
//! `source`/`sources` (files or directories, with Packer's trailing-slash
//! rules) or inline `content` to `destination`, or downloads from the
//! machine with `direction: download`. Transfers stream through the
//! communicator. Cleanup: the local temporary file holding `content` is
//! deleted on drop; nothing is left on the remote side to undo.

use std::path::Path;

use async_trait::async_trait;
use kiln_sdk::communicator::{Communicator, FileMeta};
use kiln_sdk::component::BuildError;
use kiln_sdk::config::decode_prepared;
use kiln_sdk::{
    ConfigError, ConfigErrors, PrepareContext, Prepared, ProvisionContext, Provisioner,
    ProvisionerFactory, RawConfig,
};
use serde::Deserialize;

/// Declares the `file` provisioner.
pub struct FileProvisionerFactory;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Fields {
    source: String,
    sources: Vec<String>,
    content: Option<String>,
    destination: String,
    direction: String,
    generated: bool,
}

/// Which way files go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Upload,
    Download,
}

/// What is uploaded.
#[derive(Debug, Clone)]
enum Payload {
    Sources(Vec<String>),
    Content(String),
}

#[derive(Debug, Clone)]
struct FileProv {
    payload: Payload,
    destination: String,
    direction: Direction,
}

impl ProvisionerFactory for FileProvisionerFactory {
    fn name(&self) -> &'static str {
        "file"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn Provisioner>>, ConfigErrors> {
        let (f, mut errors) = decode_prepared::<Fields>(raw, cx, &[])?;
        let direction = match f.direction.as_str() {
            "" | "upload" => Direction::Upload,
            "download" => Direction::Download,
            other => {
                errors.push(ConfigError::at(
                    "direction",
                    format!("direction must be one of: `download`, `upload`; found `{other}`"),
                ));
                Direction::Upload
            }
        };
        let mut sources = f.sources.clone();
        if !f.source.is_empty() {
            sources.insert(0, f.source.clone());
        }
        let payload = match (&f.content, sources.is_empty()) {
            (Some(_), false) => {
                errors.push(ConfigError::new(
                    "`source`, `sources` and `content` cannot be combined",
                ));
                Payload::Sources(sources)
            }
            (Some(c), true) => {
                if direction == Direction::Download {
                    errors.push(ConfigError::at(
                        "content",
                        "`content` cannot be used with `direction: download`",
                    ));
                }
                Payload::Content(c.clone())
            }
            (None, true) => {
                errors.push(ConfigError::new(
                    "source, sources or content must be specified",
                ));
                Payload::Sources(vec![])
            }
            (None, false) => {
                if direction == Direction::Upload && !f.generated {
                    for (i, s) in sources.iter().enumerate() {
                        // `source` comes first when both are set.
                        let key = match (f.source.is_empty(), i) {
                            (false, 0) => "source".to_string(),
                            (false, i) => format!("sources[{}]", i - 1),
                            (true, i) => format!("sources[{i}]"),
                        };
                        if let Some(e) = kiln_sdk::config::check_local_path(key, "source", s) {
                            errors.push(e);
                        }
                    }
                }
                Payload::Sources(sources)
            }
        };
        if f.destination.is_empty() {
            errors.push(ConfigError::at(
                "destination",
                "destination must be specified",
            ));
        }
        if errors.is_empty() {
            Ok(Prepared::new(Box::new(FileProv {
                payload,
                destination: f.destination,
                direction,
            })))
        } else {
            Err(errors.locate(raw))
        }
    }
}

fn fail(e: impl std::fmt::Display) -> BuildError {
    BuildError::msg(e)
}

async fn upload_one(
    cx: &ProvisionContext<'_>,
    comm: &dyn Communicator,
    src: &str,
    dst: &str,
) -> Result<(), BuildError> {
    cx.ui.say(&format!("Uploading {src} => {dst}"));
    let meta = tokio::fs::metadata(src)
        .await
        .map_err(|e| fail(format!("cannot read source `{src}`: {e}")))?;
    if meta.is_dir() {
        return comm
            .upload_dir(dst, Path::new(src), &[])
            .await
            .map_err(|e| fail(format!("cannot upload directory `{src}` to `{dst}`: {e}")));
    }
    let dst = if dst.ends_with('/') {
        let base = Path::new(src)
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("{dst}{base}")
    } else {
        dst.to_string()
    };
    let mut f = tokio::fs::File::open(src)
        .await
        .map_err(|e| fail(format!("cannot open source `{src}`: {e}")))?;
    let mut f = kiln_sdk::ui::ProgressReader::new(&mut f, cx.ui, "upload", meta.len());
    comm.upload(&dst, &mut f, FileMeta::from_metadata(&meta))
        .await
        .map_err(|e| fail(format!("cannot upload `{src}` to `{dst}`: {e}")))
}

#[async_trait]
impl Provisioner for FileProv {
    /// A download changes only this machine's files.
    fn effects(&self) -> kiln_sdk::checkpoint::Effects {
        match self.direction {
            Direction::Download => kiln_sdk::checkpoint::Effects::Outside,
            Direction::Upload => kiln_sdk::checkpoint::Effects::Machine,
        }
    }

    async fn provision(
        &self,
        cx: ProvisionContext<'_>,
        comm: &dyn Communicator,
    ) -> Result<(), BuildError> {
        let work = async {
            match (&self.payload, self.direction) {
                (Payload::Content(c), _) => {
                    let tmp = tempfile::Builder::new()
                        .prefix("packer-file")
                        .tempfile()
                        .map_err(|e| fail(format!("cannot create a temporary file: {e}")))?;
                    std::fs::write(tmp.path(), c).map_err(|e| {
                        fail(format!("cannot write `{}`: {e}", tmp.path().display()))
                    })?;
                    let p = tmp.path().display().to_string();
                    upload_one(&cx, comm, &p, &self.destination).await
                }
                (Payload::Sources(srcs), Direction::Upload) => {
                    for s in srcs {
                        upload_one(&cx, comm, s, &self.destination).await?;
                    }
                    Ok(())
                }
                (Payload::Sources(srcs), Direction::Download) => {
                    for src in srcs {
                        let mut dst = self.destination.clone();
                        cx.ui.say(&format!("Downloading {src} => {dst}"));
                        let dir = if !dst.ends_with('/') {
                            Path::new(&dst)
                                .parent()
                                .map(|p| p.to_path_buf())
                                .unwrap_or_default()
                        } else {
                            let d = Path::new(&dst).to_path_buf();
                            if !src.ends_with('/') && !src.ends_with('*') {
                                let base = Path::new(src)
                                    .file_name()
                                    .map(|b| b.to_string_lossy().into_owned())
                                    .unwrap_or_default();
                                dst = format!("{dst}{base}");
                            }
                            d
                        };
                        if !dir.as_os_str().is_empty() {
                            tokio::fs::create_dir_all(&dir).await.map_err(|e| {
                                fail(format!("cannot create `{}`: {e}", dir.display()))
                            })?;
                        }
                        if src.ends_with('/') {
                            comm.download_dir(src, Path::new(&dst), &[])
                                .await
                                .map_err(|e| fail(format!("Download failed: {e}")))?;
                            continue;
                        }
                        let mut f = tokio::fs::File::create(&dst)
                            .await
                            .map_err(|e| fail(format!("cannot create `{dst}`: {e}")))?;
                        if let Err(e) = comm.download(src, &mut f).await {
                            cx.ui.error(&format!("Download failed: {e}"));
                            return Err(fail(format!("Download failed: {e}")));
                        }
                    }
                    Ok(())
                }
            }
        };
        tokio::select! {
            r = work => r,
            _ = cx.cancel.cancelled() => Err(BuildError::Cancelled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_test::build_cx;
    use serde_json::json;

    fn errs(v: serde_json::Value) -> String {
        match FileProvisionerFactory.prepare(&RawConfig::from_value(v), &build_cx("web", "null")) {
            Ok(_) => String::new(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn validates_like_packer() {
        let e = errs(json!({}));
        assert!(
            e.contains("source, sources or content must be specified"),
            "{e}"
        );
        assert!(e.contains("destination must be specified"), "{e}");
        assert!(errs(json!({"source": "/nonexistent", "destination": "/x"}))
            .contains("bad source `/nonexistent`"));
        assert_eq!(
            errs(json!({"source": "/nonexistent", "destination": "/x", "generated": true})),
            ""
        );
        assert!(
            errs(json!({"content": "x", "destination": "/x", "direction": "sideways"}))
                .contains("`sideways`")
        );
        assert_eq!(
            errs(json!({"source": "/nonexistent", "destination": "/x", "direction": "download"})),
            ""
        );
    }
}
