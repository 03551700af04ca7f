//! The `manifest` post-processor: appends one entry per build to a JSON
//! manifest (`packer-manifest.json`), in Packer 1.6.6's format.
//!
//! Unlike Packer, the read-modify-write of the file is serialised with an
//! exclusive advisory lock on a sidecar `<output>.lock` file and the new
//! manifest replaces the old one with an atomic rename, so builds running at
//! the same time — in this process or in other processes — never lose each
//! other's entries and a reader never sees a half-written file. A manifest
//! that cannot be parsed is reported and left untouched.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use kiln_sdk::component::{BuildError, KeepInput};
use kiln_sdk::{
    Artifact, ConfigErrors, PostProcessContext, PostProcessed, PostProcessor, PostProcessorFactory,
    PrepareContext, Prepared, RawConfig, Ui,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::common::{self, Error};

/// Where the manifest goes when `output` is not set.
pub const DEFAULT_OUTPUT: &str = "packer-manifest.json";

/// After this long waiting for the lock, the user is told why nothing
/// happens.
const LOCK_NOTICE_AFTER: Duration = Duration::from_secs(10);

/// The `manifest` block of a template.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {
    /// The manifest file (default `packer-manifest.json`); a template,
    /// rendered when the post-processor runs.
    #[serde(default)]
    pub output: String,
    /// Record only the file names of the artifact's files, not their paths.
    #[serde(default)]
    pub strip_path: bool,
    /// Leave `build_time` out of the entry.
    #[serde(default)]
    pub strip_time: bool,
    /// Extra data for the entry; each value is a template rendered when the
    /// post-processor runs, with the builder's generated data available.
    #[serde(default)]
    pub custom_data: Option<BTreeMap<String, String>>,
}

/// Declares the `manifest` post-processor.
pub struct ManifestFactory;

impl PostProcessorFactory for ManifestFactory {
    fn name(&self) -> &'static str {
        "manifest"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        let (decoded, mut errors) =
            common::decode_with_output::<Config>(raw, cx, &["output", "custom_data"]);
        if let Some(Value::Object(data)) = raw.values.get("custom_data") {
            for (key, value) in data {
                if let Some(s) = value.as_str() {
                    common::check_template(&format!("custom_data.{key}"), s, &mut errors);
                }
            }
        }
        let config = common::finish(decoded, errors, raw)?;
        Ok(Prepared::new(Box::new(Manifest {
            config,
            force: cx.force,
            redactor: cx.redactor.clone(),
        })))
    }
}

/// A prepared `manifest` post-processor.
#[derive(Debug)]
pub struct Manifest {
    config: Config,
    /// `-force`: start a new manifest when the file was written by an
    /// earlier run.
    force: bool,
    /// The run's secrets: `custom_data` values are written with them
    /// masked (Packer writes them in clear).
    redactor: kiln_sdk::ui::Redactor,
}

/// One build's entry in the manifest, with Packer's field names and order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestBuild {
    /// The build's name.
    pub name: String,
    /// The builder's type.
    pub builder_type: String,
    /// Unix seconds; left out when zero (`strip_time`), as Go's `omitempty`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub build_time: i64,
    /// The artifact's files; `null` when it has none.
    pub files: Option<Vec<ManifestFile>>,
    /// The artifact's id.
    pub artifact_id: String,
    /// The id of the run that wrote the entry.
    pub packer_run_uuid: String,
    /// `custom_data`, rendered; `null` when not configured.
    pub custom_data: Option<BTreeMap<String, String>>,
    /// kiln's additions: files attached to the artifact (SBOMs,
    /// attestations, test reports) and the image tests' outcome. Left out
    /// when there are none, so a plain build writes Packer's entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kiln: Option<KilnEntry>,
}

/// The `kiln` part of a [`ManifestBuild`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KilnEntry {
    /// The attached files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<ManifestAttachment>,
    /// The image tests' outcome, when tests ran before this manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests: Option<ManifestTests>,
}

/// One attached file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestAttachment {
    /// What it is (`sbom-spdx`, `provenance`, `test-report`…).
    pub kind: String,
    /// Its path (its file name with `strip_path`).
    pub name: String,
    /// Its size in bytes; 0 when it cannot be read.
    pub size: i64,
}

/// The image tests' outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestTests {
    /// `passed` or `failed`.
    pub status: String,
    /// Checks that passed.
    pub passed: usize,
    /// Checks that failed.
    pub failed: usize,
}

/// One file of a [`ManifestBuild`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// The path as the artifact gives it, or its file name (`strip_path`).
    pub name: String,
    /// Its size in bytes; 0 when it cannot be read.
    pub size: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl Manifest {
    /// A file's name as the manifest records it, and its size (0 when it
    /// cannot be read).
    async fn name_and_size(&self, path: &Path) -> (String, i64) {
        let size = tokio::fs::metadata(path)
            .await
            .map(|m| m.len() as i64)
            .unwrap_or(0);
        let name = if self.config.strip_path {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.to_string_lossy().into_owned())
        } else {
            path.to_string_lossy().into_owned()
        };
        (name, size)
    }
}

#[async_trait]
impl PostProcessor for Manifest {
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError> {
        let interp = common::run_context(cx.interpolation, &[]);
        let output = if self.config.output.is_empty() {
            DEFAULT_OUTPUT.to_string()
        } else {
            common::render("output", &self.config.output, &interp)?
        };
        let custom_data = match &self.config.custom_data {
            None => None,
            Some(map) => {
                let mut rendered = BTreeMap::new();
                for (key, value) in map {
                    let v = common::render(&format!("custom_data.{key}"), value, &interp)?;
                    rendered.insert(key.clone(), self.redactor.redact(&v).into_owned());
                }
                Some(rendered)
            }
        };

        let mut files = Vec::new();
        for path in input.files() {
            let (name, size) = self.name_and_size(&path).await;
            files.push(ManifestFile { name, size });
        }
        let mut attachments = Vec::new();
        for a in cx.record.attachments() {
            let (name, size) = self.name_and_size(&a.path).await;
            attachments.push(ManifestAttachment {
                kind: a.kind,
                name,
                size,
            });
        }
        let tests = cx.record.tests().map(|t| ManifestTests {
            status: if t.failed == 0 { "passed" } else { "failed" }.into(),
            passed: t.passed,
            failed: t.failed,
        });
        let kiln = (!attachments.is_empty() || tests.is_some())
            .then_some(KilnEntry { attachments, tests });

        let build_time = if self.config.strip_time {
            0
        } else {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        };
        let entry = ManifestBuild {
            name: cx.build_name.to_string(),
            builder_type: cx.builder_type.to_string(),
            build_time,
            files: (!files.is_empty()).then_some(files),
            artifact_id: input.id(),
            packer_run_uuid: cx.run_uuid.to_string(),
            custom_data,
            kiln,
        };

        append_build(
            Path::new(&output),
            &entry,
            cx.run_uuid,
            self.force,
            &cx.cancel,
            cx.ui,
        )
        .await?;

        // The manifest records the artifact: it must never cause its deletion.
        Ok(PostProcessed {
            artifact: input,
            keep_input: KeepInput::Force(true),
        })
    }
}

/// Appends `build` to the manifest at `path`, holding the manifest's lock
/// for the whole read-modify-write. With `force`, a manifest last written by
/// another run is started afresh (Packer's `-force` behaviour).
pub(crate) async fn append_build(
    path: &Path,
    build: &ManifestBuild,
    run_uuid: &str,
    force: bool,
    cancel: &CancellationToken,
    ui: &dyn Ui,
) -> Result<(), Error> {
    let entry = serde_json::to_value(build)
        .map_err(|e| Error::Msg(format!("cannot encode the manifest entry: {e}")))?;
    let target = resolve_symlinks(path)?;
    // Group commit: the builds of this process queue their entries on the
    // manifest's in-process queue; whoever holds the writer lock writes every
    // pending entry in one read-modify-write, so 100 parallel builds cost a
    // few rewrites, not 100. The file lock only arbitrates between processes.
    let queue = local_queue(&target);
    let (tx, rx) = tokio::sync::oneshot::channel();
    queue
        .pending
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((entry, tx));
    // `biased`: a lock that is free is taken even when the build is being
    // cancelled, so a cancelled build's artifact is still recorded.
    let writer = tokio::select! {
        biased;
        g = queue.writer.clone().lock_owned() => g,
        _ = cancel.cancelled() => return Err(Error::Cancelled),
    };
    let batch = std::mem::take(&mut *queue.pending.lock().unwrap_or_else(|e| e.into_inner()));
    if !batch.is_empty() {
        let (entries, senders): (Vec<Value>, Vec<_>) = batch.into_iter().unzip();
        let result = match LockFile::acquire(&lock_path_for(&target), cancel, ui).await {
            Err(e) => Err(e),
            Ok(lock) => {
                let run_uuid = run_uuid.to_string();
                let target = target.clone();
                // The locks move into the task so that they are held until
                // the write is done even if this future is dropped.
                common::blocking(move || {
                    let result = rewrite(&target, entries, &run_uuid, force);
                    drop(lock);
                    drop(writer);
                    result
                })
                .await
            }
        };
        let outcome = result.map_err(|e| e.to_string());
        for tx in senders {
            let _ = tx.send(outcome.clone());
        }
    }
    match rx.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => Err(Error::Msg(message)),
        Err(_) => Err(Error::Msg(format!(
            "the write of `{}` was abandoned",
            target.display()
        ))),
    }
}

/// `<target>.lock`, the sidecar file whose lock guards the manifest.
fn lock_path_for(target: &Path) -> PathBuf {
    let mut s = target.as_os_str().to_os_string();
    s.push(".lock");
    PathBuf::from(s)
}

/// Follows `path` through symbolic links, so that the rename replaces the
/// file the link points to (as writing through the link would) instead of
/// the link itself.
fn resolve_symlinks(path: &Path) -> Result<PathBuf, Error> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = fs::read_link(&current)
                    .map_err(Error::io("read the symbolic link", &current))?;
                current = if target.is_absolute() {
                    target
                } else {
                    common::parent_dir(&current).join(target)
                };
            }
            _ => return Ok(current),
        }
    }
    Err(Error::Msg(format!(
        "cannot resolve `{}`: too many levels of symbolic links",
        path.display()
    )))
}

/// Where the outcome of writing one queued entry is sent.
type WriteResult = tokio::sync::oneshot::Sender<Result<(), String>>;

/// Entries waiting to be written to one manifest by this process, and the
/// lock its writer holds.
#[derive(Default)]
struct LocalQueue {
    pending: std::sync::Mutex<Vec<(Value, WriteResult)>>,
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// The in-process queue for one manifest path.
fn local_queue(path: &Path) -> std::sync::Arc<LocalQueue> {
    static QUEUES: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<PathBuf, std::sync::Arc<LocalQueue>>>,
    > = std::sync::LazyLock::new(Default::default);
    let mut map = QUEUES.lock().unwrap_or_else(|e| e.into_inner());
    map.entry(path.to_path_buf()).or_default().clone()
}

/// An exclusive advisory lock (`flock`) on the sidecar lock file. Dropping
/// it removes the file (while still holding the lock) and releases the lock.
struct LockFile {
    path: PathBuf,
    file: Option<File>,
}

impl LockFile {
    /// Waits for the lock on `path`, creating the file if needed. Polls so
    /// that cancellation is noticed; says once why it waits when that takes
    /// long.
    async fn acquire(path: &Path, cancel: &CancellationToken, ui: &dyn Ui) -> Result<Self, Error> {
        let started = Instant::now();
        let mut told = false;
        let mut delay = Duration::from_millis(1);
        loop {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(Error::io("open the lock file", path))?;
            loop {
                match fs4::FileExt::try_lock(&file) {
                    Ok(()) => break,
                    Err(fs4::TryLockError::WouldBlock) => {
                        if !told && started.elapsed() >= LOCK_NOTICE_AFTER {
                            ui.message(&format!(
                                "waiting for another build to release the lock on `{}`",
                                path.display()
                            ));
                            told = true;
                        }
                        tokio::select! {
                            _ = cancel.cancelled() => return Err(Error::Cancelled),
                            _ = tokio::time::sleep(delay) => {}
                        }
                        delay = (delay * 2).min(Duration::from_millis(50));
                    }
                    Err(fs4::TryLockError::Error(e)) => return Err(Error::io("lock", path)(e)),
                }
            }
            // The previous holder may have removed the file between our open
            // and our lock; then we hold a lock nobody else will see: retry.
            if is_still_at(&file, path)? {
                return Ok(LockFile {
                    path: path.to_path_buf(),
                    file: Some(file),
                });
            }
        }
    }
}

#[cfg(unix)]
fn is_still_at(file: &File, path: &Path) -> Result<bool, Error> {
    use std::os::unix::fs::MetadataExt;
    let held = file.metadata().map_err(Error::io("inspect", path))?;
    match fs::metadata(path) {
        Ok(now) => Ok(held.dev() == now.dev() && held.ino() == now.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("inspect", path)(e)),
    }
}

#[cfg(not(unix))]
fn is_still_at(_file: &File, _path: &Path) -> Result<bool, Error> {
    Ok(true)
}

impl Drop for LockFile {
    fn drop(&mut self) {
        // Removing the file while holding the lock is safe on Unix: waiters
        // notice the change in `is_still_at` and retry. Elsewhere an open
        // file cannot always be removed, so it is left in place.
        #[cfg(unix)]
        let _ = fs::remove_file(&self.path);
        drop(self.file.take());
    }
}

/// Reads the manifest (if any), appends `entry` and atomically replaces the
/// file. Runs with the lock held.
fn rewrite(target: &Path, entries: Vec<Value>, run_uuid: &str, force: bool) -> Result<(), Error> {
    let existing = match fs::read(target) {
        Ok(bytes) => Some(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("read the manifest", target)(e)),
    };
    let (mut builds, last_run_uuid) = match &existing {
        Some(bytes) if !bytes.is_empty() => parse_manifest(bytes, target)?,
        _ => (Vec::new(), String::new()),
    };
    if force && last_run_uuid != run_uuid {
        builds.clear();
    }
    builds.extend(entries);

    #[derive(Serialize)]
    struct ManifestOut<'a> {
        builds: &'a [Value],
        last_run_uuid: &'a str,
    }
    let text = to_go_json(&ManifestOut {
        builds: &builds,
        last_run_uuid: run_uuid,
    })
    .map_err(|e| Error::Msg(format!("cannot encode the manifest: {e}")))?;

    // Packer writes the manifest with mode 0664 (before the umask).
    let mut tmp = common::temp_file_beside(target, 0o664)?;
    if existing.is_some() {
        // Keep the mode of the file being replaced, as an in-place write would.
        if let Ok(meta) = fs::metadata(target) {
            tmp.as_file()
                .set_permissions(meta.permissions())
                .map_err(Error::io("set the permissions of", tmp.path()))?;
        }
    }
    tmp.write_all(text.as_bytes())
        .map_err(Error::io("write", tmp.path()))?;
    common::persist(tmp, target)
}

/// Parses an existing manifest into its entries (kept as they are, so that
/// fields kiln does not know survive) and its `last_run_uuid`. Anything Go's
/// decoder would reject for Packer's manifest structure is an error.
fn parse_manifest(bytes: &[u8], path: &Path) -> Result<(Vec<Value>, String), Error> {
    let corrupt = |detail: String| {
        Error::Msg(format!(
            "cannot parse the existing manifest `{}`: {detail}; it was left untouched: fix or remove it",
            path.display()
        ))
    };
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    let Value::Object(mut top) = doc else {
        return Err(corrupt("expected a JSON object".into()));
    };
    let builds = match top.remove("builds") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(corrupt("`builds` must be a list".into())),
    };
    for (i, build) in builds.iter().enumerate() {
        check_build(build).map_err(|m| corrupt(format!("`builds[{i}]`{m}")))?;
    }
    let last = match top.remove("last_run_uuid") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(_) => return Err(corrupt("`last_run_uuid` must be a string".into())),
    };
    Ok((builds, last))
}

/// Checks one entry against Packer's `Artifact` structure; the error text
/// continues a path (`.files[0].size: must be an integer`).
fn check_build(build: &Value) -> Result<(), String> {
    let Value::Object(map) = build else {
        return Err(": must be an object".into());
    };
    let string_or_null = |v: &Value| matches!(v, Value::String(_) | Value::Null);
    let int_or_null = |v: &Value| v.is_i64() || v.is_null();
    for key in ["name", "builder_type", "artifact_id", "packer_run_uuid"] {
        if let Some(v) = map.get(key) {
            if !string_or_null(v) {
                return Err(format!(".{key}: must be a string"));
            }
        }
    }
    if let Some(v) = map.get("build_time") {
        if !int_or_null(v) {
            return Err(".build_time: must be an integer".into());
        }
    }
    match map.get("files") {
        None | Some(Value::Null) => {}
        Some(Value::Array(files)) => {
            for (i, f) in files.iter().enumerate() {
                let Value::Object(f) = f else {
                    return Err(format!(".files[{i}]: must be an object"));
                };
                if f.get("name").is_some_and(|v| !string_or_null(v)) {
                    return Err(format!(".files[{i}].name: must be a string"));
                }
                if f.get("size").is_some_and(|v| !int_or_null(v)) {
                    return Err(format!(".files[{i}].size: must be an integer"));
                }
            }
        }
        Some(_) => return Err(".files: must be a list".into()),
    }
    match map.get("custom_data") {
        None | Some(Value::Null) => {}
        Some(Value::Object(data)) => {
            for (k, v) in data {
                if !string_or_null(v) {
                    return Err(format!(".custom_data.{k}: must be a string"));
                }
            }
        }
        Some(_) => return Err(".custom_data: must be an object".into()),
    }
    Ok(())
}

/// Serialises like Go's `json.MarshalIndent(v, "", "  ")`: two-space
/// indentation, `<`, `>`, `&`, U+2028 and U+2029 escaped as `\u003c`…, and
/// `\u0008` / `\u000c` for backspace and form feed. No trailing newline.
pub(crate) fn to_go_json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter::new());
    value.serialize(&mut ser)?;
    // The formatter only ever writes valid UTF-8.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A pretty formatter with Go's string escaping.
struct GoFormatter<'a> {
    pretty: serde_json::ser::PrettyFormatter<'a>,
}

impl GoFormatter<'_> {
    fn new() -> Self {
        GoFormatter {
            pretty: serde_json::ser::PrettyFormatter::with_indent(b"  "),
        }
    }
}

impl serde_json::ser::Formatter for GoFormatter<'_> {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.pretty.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_object_value(w)
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escaped = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[start..i])?;
            w.write_all(escaped.as_bytes())?;
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> io::Result<()> {
        use serde_json::ser::CharEscape;
        let s: String = match escape {
            CharEscape::Quote => "\\\"".into(),
            CharEscape::ReverseSolidus => "\\\\".into(),
            CharEscape::Solidus => "/".into(),
            CharEscape::LineFeed => "\\n".into(),
            CharEscape::CarriageReturn => "\\r".into(),
            CharEscape::Tab => "\\t".into(),
            CharEscape::Backspace => "\\u0008".into(),
            CharEscape::FormFeed => "\\u000c".into(),
            CharEscape::AsciiControl(b) => format!("\\u{b:04x}"),
        };
        w.write_all(s.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::*;
    use kiln_sdk::ui::RecordingUi;
    use serde_json::json;

    fn prepare(v: Value) -> Result<Box<dyn PostProcessor>, ConfigErrors> {
        ManifestFactory
            .prepare(&raw(v), &prepare_cx())
            .map(|p| p.component)
    }

    fn read(path: &Path) -> Value {
        serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn writes_packers_format_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.json");
        let pp = prepare(json!({
            "output": out.to_str().unwrap(),
            "strip_time": true,
            "custom_data": {"z": "1", "a": "x\u{8}\u{c}\u{2028}<{{ user `dir` }}"}
        }))
        .unwrap();
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        let input = file_artifact(vec![PathBuf::from("sub/missing.txt")]);
        let r = pp
            .post_process(pp_cx(&ui, &interp, "web"), input.clone())
            .await
            .unwrap();
        assert_eq!(r.keep_input, KeepInput::Force(true));
        assert!(Arc::ptr_eq(&r.artifact, &input));
        assert!(ui.lines().is_empty(), "{:?}", ui.lines());
        let expected = r#"{
  "builds": [
    {
      "name": "web",
      "builder_type": "file",
      "files": [
        {
          "name": "sub/missing.txt",
          "size": 0
        }
      ],
      "artifact_id": "File",
      "packer_run_uuid": "5e1c6a8e-0000-4000-8000-000000000001",
      "custom_data": {
        "a": "x\u0008\u000c\u2028\u003c/srv",
        "z": "1"
      }
    }
  ],
  "last_run_uuid": "5e1c6a8e-0000-4000-8000-000000000001"
}"#;
        assert_eq!(fs::read_to_string(&out).unwrap(), expected);
        assert!(!lock_path_for(&out).exists(), "the lock file is removed");
        #[cfg(unix)]
        {
            // A new manifest gets mode 0664 minus the umask, as Packer's.
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            let reference = dir.path().join("reference");
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o664)
                .open(&reference)
                .unwrap();
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&out), mode(&reference));
        }
    }

    #[tokio::test]
    async fn records_sizes_time_stripped_paths_and_generated_data() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.json");
        let file = dir.path().join("disk.img");
        fs::write(&file, b"hello").unwrap();
        let pp = prepare(json!({
            "output": out.to_str().unwrap(),
            "strip_path": true,
            "custom_data": {"id": "{{ build `ID` }}/{{.ID}}", "name": "{{build_name}}"}
        }))
        .unwrap();
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        pp.post_process(pp_cx(&ui, &interp, "web"), file_artifact(vec![file]))
            .await
            .unwrap();
        let doc = read(&out);
        let b = &doc["builds"][0];
        assert_eq!(b["files"], json!([{"name": "disk.img", "size": 5}]));
        assert_eq!(
            b["custom_data"],
            json!({"id": "i-123/i-123", "name": "web"})
        );
        let t = b["build_time"].as_i64().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((now - t).abs() < 60, "{t} vs {now}");
    }

    #[tokio::test]
    async fn attachments_and_image_tests_are_recorded_under_kiln() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.json");
        let sbom = dir.path().join("web.spdx.json");
        fs::write(&sbom, b"{}").unwrap();
        let pp = prepare(json!({"output": out.to_str().unwrap(), "strip_path": true})).unwrap();
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        let record = kiln_sdk::BuildRecord::default();
        record.attach("sbom-spdx", sbom.clone());
        record.add_tests(&kiln_sdk::record::TestSummary {
            passed: 2,
            failed: 1,
        });
        let cx = PostProcessContext {
            record: &record,
            ..pp_cx(&ui, &interp, "web")
        };
        pp.post_process(cx, file_artifact(vec![])).await.unwrap();
        let doc = read(&out);
        assert_eq!(
            doc["builds"][0]["kiln"],
            json!({
                "attachments": [{"kind": "sbom-spdx", "name": "web.spdx.json", "size": 2}],
                "tests": {"status": "failed", "passed": 2, "failed": 1}
            })
        );
    }

    #[tokio::test]
    async fn no_files_and_no_custom_data_are_null() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.json");
        let pp = prepare(json!({"output": out.to_str().unwrap()})).unwrap();
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        pp.post_process(pp_cx(&ui, &interp, "web"), file_artifact(vec![]))
            .await
            .unwrap();
        let doc = read(&out);
        assert_eq!(doc["builds"][0]["files"], Value::Null);
        assert_eq!(doc["builds"][0]["custom_data"], Value::Null);
    }

    #[tokio::test]
    async fn output_is_a_template_rendered_at_run_time() {
        let dir = tempfile::tempdir().unwrap();
        let template = format!(
            "{}/{{{{build_name}}}}-{{{{ build `ID` }}}}.json",
            dir.path().display()
        );
        let pp = prepare(json!({ "output": template })).unwrap();
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        pp.post_process(pp_cx(&ui, &interp, "web"), file_artifact(vec![]))
            .await
            .unwrap();
        assert!(dir.path().join("web-i-123.json").exists());
    }

    #[tokio::test]
    async fn appends_and_keeps_unknown_fields_of_existing_entries() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.json");
        fs::write(
            &out,
            r#"{"builds":[{"name":"old","extra":{"k":[1,2]},"build_time":7}],"last_run_uuid":"earlier"}"#,
        )
        .unwrap();
        let pp = prepare(json!({"output": out.to_str().unwrap()})).unwrap();
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        pp.post_process(pp_cx(&ui, &interp, "web"), file_artifact(vec![]))
            .await
            .unwrap();
        let doc = read(&out);
        assert_eq!(
            doc["builds"][0],
            json!({"name":"old","extra":{"k":[1,2]},"build_time":7})
        );
        assert_eq!(doc["builds"][1]["name"], "web");
        assert_eq!(doc["last_run_uuid"], "5e1c6a8e-0000-4000-8000-000000000001");
    }

    #[tokio::test]
    async fn force_starts_afresh_only_for_another_run() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.json");
        let uuid = "5e1c6a8e-0000-4000-8000-000000000001";
        let build = |name: &str| ManifestBuild {
            name: name.into(),
            builder_type: "file".into(),
            build_time: 0,
            files: None,
            artifact_id: String::new(),
            packer_run_uuid: uuid.into(),
            custom_data: None,
            kiln: None,
        };
        let ui = RecordingUi::default();
        let cancel = CancellationToken::new();
        fs::write(
            &out,
            r#"{"builds":[{"name":"old"}],"last_run_uuid":"earlier"}"#,
        )
        .unwrap();
        append_build(&out, &build("a"), uuid, true, &cancel, &ui)
            .await
            .unwrap();
        append_build(&out, &build("b"), uuid, true, &cancel, &ui)
            .await
            .unwrap();
        let names: Vec<_> = read(&out)["builds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[tokio::test]
    async fn a_corrupt_manifest_is_an_error_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        for (content, needle) in [
            ("{\"builds\": [", "EOF"),
            ("{\"builds\": \"x\"}", "`builds` must be a list"),
            ("[1]", "expected a JSON object"),
            (
                "{\"builds\": [{\"files\": [{\"size\": \"big\"}]}]}",
                "`builds[0]`.files[0].size: must be an integer",
            ),
            ("  ", "EOF"),
        ] {
            let out = dir.path().join("bad.json");
            fs::write(&out, content).unwrap();
            let pp = prepare(json!({"output": out.to_str().unwrap()})).unwrap();
            let err = pp
                .post_process(pp_cx(&ui, &interp, "web"), file_artifact(vec![]))
                .await
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains("cannot parse the existing manifest"), "{err}");
            assert!(err.contains(needle), "{err}");
            assert!(err.contains("bad.json"), "{err}");
            assert_eq!(fs::read_to_string(&out).unwrap(), content);
            assert!(!lock_path_for(&out).exists());
        }
    }

    #[tokio::test]
    async fn a_missing_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("nope/m.json");
        let pp = prepare(json!({"output": out.to_str().unwrap()})).unwrap();
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        let err = pp
            .post_process(pp_cx(&ui, &interp, "web"), file_artifact(vec![]))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("cannot open the lock file"), "{err}");
        assert!(err.contains("nope/m.json.lock"), "{err}");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn writes_through_a_symlink_and_keeps_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        let link = dir.path().join("link.json");
        fs::write(&real, "").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("real.json", &link).unwrap();
        let pp = prepare(json!({"output": link.to_str().unwrap()})).unwrap();
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        pp.post_process(pp_cx(&ui, &interp, "web"), file_artifact(vec![]))
            .await
            .unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(read(&real)["builds"][0]["name"], "web");
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[test]
    fn prepare_collects_every_error() {
        let errs = prepare(json!({
            "output": "{{ .Broken",
            "custom_data": {"a": "{{ if }}"},
            "strip_paths": true,
            "strip_time": "sometimes"
        }))
        .err()
        .unwrap();
        let text = errs.to_string();
        assert!(
            text.contains("unknown configuration key `strip_paths`"),
            "{text}"
        );
        assert!(text.contains("did you mean `strip_path`?"), "{text}");
        assert!(text.contains("`strip_time`"), "{text}");
        assert!(text.contains("`output`: template syntax error"), "{text}");
        assert!(
            text.contains("`custom_data.a`: template syntax error"),
            "{text}"
        );
        assert_eq!(errs.0.len(), 4, "{text}");
    }

    fn entry(name: String) -> ManifestBuild {
        ManifestBuild {
            name,
            builder_type: "file".into(),
            build_time: 1,
            files: Some(vec![ManifestFile {
                name: "f".into(),
                size: 1,
            }]),
            artifact_id: "File".into(),
            packer_run_uuid: "u".into(),
            custom_data: None,
            kiln: None,
        }
    }

    async fn append_many(path: PathBuf, prefix: String, count: usize) {
        let mut tasks = Vec::new();
        for i in 0..count {
            let path = path.clone();
            let name = format!("{prefix}-{i}");
            tasks.push(tokio::spawn(async move {
                let ui = RecordingUi::default();
                append_build(
                    &path,
                    &entry(name),
                    "u",
                    false,
                    &CancellationToken::new(),
                    &ui,
                )
                .await
                .unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }

    fn names_in(path: &Path) -> Vec<String> {
        let doc = read(path);
        let mut names: Vec<String> = doc["builds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn fifty_concurrent_tasks_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.json");
        append_many(out.clone(), "t".into(), 50).await;
        let mut expected: Vec<String> = (0..50).map(|i| format!("t-{i}")).collect();
        expected.sort();
        assert_eq!(names_in(&out), expected);
        assert!(!lock_path_for(&out).exists());
    }

    const CHILD_ENV: &str = "KILN_PP_MANIFEST_CHILD";

    /// Run by `concurrent_processes_lose_nothing` in child processes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "helper: run as a child process by `concurrent_processes_lose_nothing`"]
    async fn child_appender() {
        let Ok(spec) = std::env::var(CHILD_ENV) else {
            return;
        };
        let (path, prefix) = spec.split_once('|').unwrap();
        append_many(PathBuf::from(path), prefix.to_string(), 10).await;
    }

    #[test]
    fn concurrent_processes_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.json");
        let exe = std::env::current_exe().unwrap();
        let children: Vec<_> = (0..6)
            .map(|i| {
                std::process::Command::new(&exe)
                    .args([
                        "--exact",
                        "manifest::tests::child_appender",
                        "--ignored",
                        "--quiet",
                    ])
                    .env(CHILD_ENV, format!("{}|p{i}", out.display()))
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        // This process writes at the same time.
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(append_many(out.clone(), "parent".into(), 10));
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        let mut expected: Vec<String> = (0..6)
            .flat_map(|p| (0..10).map(move |i| format!("p{p}-{i}")))
            .chain((0..10).map(|i| format!("parent-{i}")))
            .collect();
        expected.sort();
        assert_eq!(names_in(&out), expected);
        assert!(!lock_path_for(&out).exists());
    }

    #[tokio::test]
    async fn waiting_for_the_lock_can_be_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("m.json.lock");
        let ui = RecordingUi::default();
        let held = LockFile::acquire(&lock, &CancellationToken::new(), &ui)
            .await
            .unwrap();
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            c2.cancel();
        });
        let r = LockFile::acquire(&lock, &cancel, &ui).await;
        assert!(matches!(r, Err(Error::Cancelled)));
        drop(held);
        assert!(!lock.exists());
    }
}
