//! Helpers shared by the post-processors: the error type, cancellable
//! streaming, run-time template rendering and atomic file creation.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use kiln_sdk::component::BuildError;
use kiln_sdk::config::{ConfigError, ConfigErrors, RawConfig};
use kiln_sdk::interpolate::{self, Context, Generated};
use tokio_util::sync::CancellationToken;

/// The size of the buffer used to stream files.
pub(crate) const BUF_SIZE: usize = 256 * 1024;

/// Why a post-processor's run failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A file system call failed; `action` says what was tried on `path`.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The run was cancelled (Ctrl-C).
    #[error("the post-processor was cancelled")]
    Cancelled,
    /// Anything else, already worded for the user.
    #[error("{0}")]
    Msg(String),
}

impl Error {
    /// An [`Error::Io`] maker for `map_err`.
    pub(crate) fn io<'p>(
        action: &'static str,
        path: &'p Path,
    ) -> impl FnOnce(io::Error) -> Error + 'p {
        move |source| Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<Error> for BuildError {
    fn from(e: Error) -> Self {
        match e {
            Error::Cancelled => BuildError::Cancelled,
            other => BuildError::Failed(other.to_string()),
        }
    }
}

/// Runs blocking file work on tokio's blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, Error>
where
    F: FnOnce() -> Result<T, Error> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Msg(format!("internal error: a file task failed: {e}")))?
}

/// Reads `reader` (the file `src`) to its end in chunks, handing each chunk
/// to `sink`; stops with [`Error::Cancelled`] as soon as `cancel` fires.
pub(crate) fn stream_chunks(
    reader: &mut dyn Read,
    src: &Path,
    cancel: &CancellationToken,
    mut sink: impl FnMut(&[u8]) -> Result<(), Error>,
) -> Result<u64, Error> {
    let mut buf = vec![0u8; BUF_SIZE];
    let mut total = 0u64;
    loop {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("read", src)(e)),
        };
        sink(&buf[..n])?;
        total += n as u64;
    }
}

/// Copies `reader` (the file `src`) into `writer` (which writes `dst`),
/// checking `cancel` between chunks.
pub(crate) fn copy_cancellable(
    reader: &mut dyn Read,
    src: &Path,
    writer: &mut dyn Write,
    dst: &Path,
    cancel: &CancellationToken,
) -> Result<u64, Error> {
    stream_chunks(reader, src, cancel, |chunk| {
        writer.write_all(chunk).map_err(Error::io("write", dst))
    })
}

/// The context for a post-processor's own templates at run time: the
/// interpolation context of the run, with the builder's generated data and
/// `extra` reachable as `{{.Key}}` (Packer sets `ctx.Data` the same way).
pub(crate) fn run_context(base: &Context, extra: &[(&str, &str)]) -> Context {
    let mut entries: Vec<(String, serde_json::Value)> = Vec::new();
    if let Generated::Known(map) = &base.generated {
        for (k, v) in map.iter() {
            entries.push((k.clone(), serde_json::Value::String(v.clone())));
        }
    }
    for (k, v) in extra {
        entries.push((k.to_string(), serde_json::Value::String(v.to_string())));
    }
    base.with_data(entries)
}

/// Renders a run-time template (`output`…), naming the key in the error.
pub(crate) fn render(key: &str, template: &str, ctx: &Context) -> Result<String, Error> {
    interpolate::render(template, ctx).map_err(|e| Error::Msg(format!("`{key}`: {e}")))
}

/// Checks the syntax of a template that is rendered at run time, recording
/// a problem under `path`.
/// Decodes a post-processor's config with the `skip` keys left for run
/// time (they hold per-build placeholders such as `{{.BuildName}}`), and
/// checks the syntax of its `output` template now. Returns the decode result
/// and the errors found so far; [`finish`] merges them.
pub(crate) fn decode_with_output<T: serde::de::DeserializeOwned>(
    raw: &RawConfig,
    cx: &kiln_sdk::PrepareContext,
    skip: &[&str],
) -> (Result<T, ConfigErrors>, ConfigErrors) {
    let decoded = kiln_sdk::config::decode::<T>(
        raw,
        &kiln_sdk::config::DecodeOptions {
            interpolate: Some(&cx.interpolation),
            skip_interpolation: skip,
            ..Default::default()
        },
    );
    let mut errors = ConfigErrors::new();
    if let Some(output) = raw_str(raw, "output") {
        check_template("output", output, &mut errors);
    }
    (decoded, errors)
}

pub(crate) fn check_template(path: &str, template: &str, errors: &mut ConfigErrors) {
    if let Err(e) = interpolate::check_syntax(template) {
        errors.push(ConfigError::at(path, e.to_string()));
    }
}

/// The string value of a top-level key as the template wrote it, before
/// decoding: template checks run on it even when decoding fails, so that
/// every problem is reported at once.
pub(crate) fn raw_str<'a>(raw: &'a RawConfig, key: &str) -> Option<&'a str> {
    raw.values.get(key).and_then(|v| v.as_str())
}

/// Combines the result of [`kiln_sdk::config::decode`] with the errors found
/// by the component's own checks, locating the latter.
pub(crate) fn finish<T>(
    decoded: Result<T, ConfigErrors>,
    extra: ConfigErrors,
    raw: &RawConfig,
) -> Result<T, ConfigErrors> {
    let extra = extra.locate(raw);
    match decoded {
        Ok(v) => extra.into_result(v),
        Err(mut e) => {
            e.0.extend(extra.0);
            Err(e)
        }
    }
}

/// The directory a relative or absolute file path lives in (`.` for a bare
/// file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates the directory of `path` (mode 0755 before the umask, like Go's
/// `os.MkdirAll(dir, 0755)`).
pub(crate) fn create_parent(path: &Path) -> Result<(), Error> {
    let dir = parent_dir(path);
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o755);
    builder
        .create(dir)
        .map_err(Error::io("create the directory", dir))
}

/// Creates a temporary file next to `target`, to be renamed over it once
/// complete. On Unix it is created with `mode` minus the umask, as Go's
/// `os.OpenFile` would create the target; it is deleted if dropped before
/// being persisted.
#[cfg_attr(not(unix), allow(unused_variables))]
pub(crate) fn temp_file_beside(target: &Path, mode: u32) -> Result<tempfile::NamedTempFile, Error> {
    let dir = parent_dir(target);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kiln".to_string());
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    builder
        .tempfile_in(dir)
        .map_err(Error::io("create a temporary file in", dir))
}

/// Moves a finished temporary file over `target`, after flushing it to disk.
pub(crate) fn persist(tmp: tempfile::NamedTempFile, target: &Path) -> Result<(), Error> {
    tmp.as_file()
        .sync_all()
        .map_err(Error::io("flush", tmp.path()))?;
    tmp.persist(target).map_err(|e| Error::Io {
        action: "replace",
        path: target.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// Paths joined by `, `, as Packer prints file lists.
pub(crate) fn join_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
pub(crate) mod testing {
    //! Contexts and artifacts for the unit tests.

    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::sync::Arc;

    use kiln_sdk::artifact::FileArtifact;
    use kiln_sdk::interpolate::{Context, Generated};
    use kiln_sdk::ui::RecordingUi;
    use kiln_sdk::{Artifact, PostProcessContext, PrepareContext, RawConfig};
    use tokio_util::sync::CancellationToken;

    /// A prepare context for build `web` of builder type `file`, with the
    /// user variable `dir` set to `/srv`.
    pub fn prepare_cx() -> PrepareContext {
        PrepareContext {
            interpolation: interpolation(),
            template_dir: PathBuf::from("/tmp"),
            ..kiln_test::build_cx("web", "file")
        }
    }

    /// The interpolation context matching [`prepare_cx`].
    pub fn interpolation() -> Context {
        Context {
            user_variables: Arc::new(BTreeMap::from([("dir".to_string(), "/srv".to_string())])),
            ..kiln_test::build_cx("web", "file").interpolation
        }
    }

    /// The run-time interpolation context, with generated data known.
    pub fn run_interpolation() -> Context {
        let mut c = interpolation();
        c.generated = Generated::Known(Arc::new(BTreeMap::from([(
            "ID".to_string(),
            "i-123".to_string(),
        )])));
        c
    }

    /// A raw config from JSON.
    pub fn raw(v: serde_json::Value) -> RawConfig {
        RawConfig::from_value(v)
    }

    /// The record every test build shares (these tests read none of it).
    static RECORD: std::sync::LazyLock<kiln_sdk::BuildRecord> =
        std::sync::LazyLock::new(Default::default);

    /// A post-process context for build `web` of type `file`.
    pub fn pp_cx<'a>(
        ui: &'a RecordingUi,
        interpolation: &'a Context,
        build_name: &'a str,
    ) -> PostProcessContext<'a> {
        PostProcessContext {
            ui,
            cancel: CancellationToken::new(),
            build_name,
            builder_type: "file",
            run_uuid: "5e1c6a8e-0000-4000-8000-000000000001",
            interpolation,
            record: &RECORD,
            builder: None,
            options: Default::default(),
        }
    }

    /// A file artifact as the file builder makes it.
    pub fn file_artifact(files: Vec<PathBuf>) -> Arc<dyn Artifact> {
        Arc::new(FileArtifact {
            builder_id: "packer.file".into(),
            id: "File".into(),
            description: "Stored file".into(),
            files,
        })
    }
}
