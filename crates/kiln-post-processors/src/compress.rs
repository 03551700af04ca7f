//! The `compress` post-processor: packs the artifact's files into one
//! archive (`tar` or `zip`) and/or compresses them (gzip, lz4, xz, bgzf,
//! zstd), choosing the format from the output's extensions as Packer 1.6.6
//! does.
//!
//! Everything is streamed. The archive is written to a temporary file in the
//! output's directory and renamed over the output only once complete, so an
//! existing output is replaced (as in Packer) but never left half-written.

mod bgzf;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::artifact::FileArtifact;
use kiln_sdk::component::{BuildError, KeepInput};
use kiln_sdk::config::ConfigError;
use kiln_sdk::{
    Artifact, ConfigErrors, PostProcessContext, PostProcessed, PostProcessor, PostProcessorFactory,
    PrepareContext, Prepared, RawConfig,
};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::common::{self, Error, BUF_SIZE};

/// The builder id of the artifact this post-processor produces.
pub const BUILDER_ID: &str = "packer.post-processor.compress";

/// The output when `output` is not set. It has no extension, so it is a
/// gzip-compressed tar archive (Packer's default).
pub const DEFAULT_OUTPUT: &str = "packer_{{.BuildName}}_{{.BuilderType}}";

/// The `compress` block of a template.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {
    /// The archive to write; a template with `{{.BuildName}}` and
    /// `{{.BuilderType}}`, rendered at run time.
    #[serde(default)]
    pub output: String,
    /// The format (`tar.gz`, `zip`…), used instead of the output's
    /// extensions.
    #[serde(default)]
    pub format: String,
    /// 1 (fastest) to 9 (smallest); -1 or 0 mean the default (6). Above 9
    /// means 9, except for zstd, which accepts up to 22.
    #[serde(default)]
    pub compression_level: Option<i64>,
}

/// Whether the files are first put into an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archive {
    /// No archive: the single input file is compressed as it is.
    None,
    /// A GNU tar archive.
    Tar,
    /// A zip archive (deflate inside; no outer compression).
    Zip,
}

/// The compression applied to the archive or single file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// None (`.tar`, `.zip`).
    None,
    /// gzip (`.gz`, `.tgz`, and anything unrecognised).
    Gzip,
    /// LZ4 frame format (`.lz4`).
    Lz4,
    /// Blocked gzip (`.bgzf`).
    Bgzf,
    /// xz (`.xz`).
    Xz,
    /// Zstandard (`.zst`); a kiln addition.
    Zstd,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::None => "no compression",
            Algorithm::Gzip => "gzip",
            Algorithm::Lz4 => "lz4",
            Algorithm::Bgzf => "bgzf",
            Algorithm::Xz => "xz",
            Algorithm::Zstd => "zstd",
        }
    }
}

/// What to write: an archive, a compression, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// The archive.
    pub archive: Archive,
    /// The compression.
    pub algorithm: Algorithm,
}

/// The extensions accepted in `format`, for messages.
const KNOWN_FORMATS: &str =
    "tar, zip, gz, tar.gz, tgz, lz4, tar.lz4, xz, tar.xz, bgzf, tar.bgzf, zst, tar.zst";

/// The lowercase extensions in `name`: every match of Packer's
/// `\.([a-z0-9]+)`, in order.
fn extensions(name: &str) -> Vec<&str> {
    let bytes = name.as_bytes();
    let is_ext = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'.' && i + 1 < bytes.len() && is_ext(bytes[i + 1]) {
            let start = i + 1;
            let mut end = start;
            while end < bytes.len() && is_ext(bytes[end]) {
                end += 1;
            }
            out.push(&name[start..end]);
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

fn algorithm_for(ext: &str) -> Option<Algorithm> {
    Some(match ext {
        "gz" => Algorithm::Gzip,
        "lz4" => Algorithm::Lz4,
        "bgzf" => Algorithm::Bgzf,
        "xz" => Algorithm::Xz,
        "zst" => Algorithm::Zstd,
        _ => return None,
    })
}

/// Packer's `detectFromFilename`, on `name` (the output, with `.format`
/// appended when `format` is set). The flag says whether the last extension
/// was recognised; when it was not, the result is Packer's fallback, a
/// gzip-compressed tar archive.
pub fn detect(name: &str) -> (Format, bool) {
    const FALLBACK: Format = Format {
        archive: Archive::Tar,
        algorithm: Algorithm::Gzip,
    };
    let exts = extensions(name);
    let Some(&last) = exts.last() else {
        return (FALLBACK, true);
    };
    let before = exts.len().checked_sub(2).map(|i| exts[i]);
    let archive = if before == Some("tar") {
        Archive::Tar
    } else {
        Archive::None
    };
    match last {
        "tar" => (
            Format {
                archive: Archive::Tar,
                algorithm: Algorithm::None,
            },
            true,
        ),
        "zip" => (
            Format {
                archive: Archive::Zip,
                algorithm: Algorithm::None,
            },
            true,
        ),
        // Packer does not know `.tgz` and falls back to the same thing.
        "tgz" => (FALLBACK, true),
        other => match algorithm_for(other) {
            Some(algorithm) => (Format { archive, algorithm }, true),
            None => (FALLBACK, false),
        },
    }
}

/// The name detection runs on: the output, plus `.format` when set.
fn detection_name(output: &str, format: &str) -> String {
    if format.is_empty() {
        output.to_string()
    } else {
        format!("{output}.{format}")
    }
}

/// The effective compression level for `algorithm`, from Packer's rules:
/// unset, 0 and -1 mean the default; above the maximum means the maximum.
fn effective_level(level: Option<i64>, algorithm: Algorithm) -> u32 {
    let (default, max) = match algorithm {
        Algorithm::Zstd => (3, 22),
        _ => (6, 9),
    };
    match level {
        None | Some(0) | Some(-1) => default,
        Some(n) => n.clamp(1, max) as u32,
    }
}

/// Declares the `compress` post-processor.
pub struct CompressFactory;

impl PostProcessorFactory for CompressFactory {
    fn name(&self) -> &'static str {
        "compress"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        let (decoded, mut errors) = common::decode_with_output::<Config>(raw, cx, &["output"]);
        let mut warnings = Vec::new();
        if let Ok(config) = &decoded {
            if !config.format.is_empty() && !detect(&format!(".{}", config.format)).1 {
                errors.push(
                    ConfigError::at("format", format!("unknown format `{}`", config.format))
                        .with_hint(format!("supported: {KNOWN_FORMATS}")),
                );
            }
            if let Some(level) = config.compression_level {
                if level < -1 {
                    errors.push(ConfigError::at(
                        "compression_level",
                        format!("expected a level from -1 to 9, found `{level}`"),
                    ));
                }
            }
            if config.format.is_empty() && !config.output.is_empty() {
                // Best effort: the final name may depend on generated data.
                let ctx = cx.interpolation.with_data([
                    ("BuildName", serde_json::Value::from(cx.build_name.as_str())),
                    (
                        "BuilderType",
                        serde_json::Value::from(cx.builder_type.as_str()),
                    ),
                ]);
                if let Ok(name) = kiln_sdk::interpolate::render(&config.output, &ctx) {
                    if !detect(&name).1 {
                        warnings.push(format!(
                            "the extension of `output` `{name}` is not a known archive or \
                             compression format; a gzip-compressed tar archive will be written \
                             (supported: {KNOWN_FORMATS})"
                        ));
                    }
                }
            }
        }
        let config = common::finish(decoded, errors, raw)?;
        let output = if config.output.is_empty() {
            DEFAULT_OUTPUT.to_string()
        } else {
            config.output
        };
        let mut prepared = Prepared::new(Box::new(Compress {
            output,
            format: config.format,
            level: config.compression_level,
        }) as Box<dyn PostProcessor>);
        prepared.warnings = warnings;
        Ok(prepared)
    }
}

/// A prepared `compress` post-processor.
#[derive(Debug)]
pub struct Compress {
    output: String,
    format: String,
    level: Option<i64>,
}

#[async_trait]
impl PostProcessor for Compress {
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError> {
        let ctx = common::run_context(
            cx.interpolation,
            &[
                ("BuildName", cx.build_name),
                ("BuilderType", cx.builder_type),
            ],
        );
        let target = common::render("output", &self.output, &ctx)?;
        let (format, _) = detect(&detection_name(&target, &self.format));
        let level = effective_level(self.level, format.algorithm);
        let files = input.files();

        if format.archive == Archive::None && files.len() != 1 {
            return Err(Error::Msg(format!(
                "without `tar` or `zip` in the output name, compress takes exactly 1 input file; found {}: {}",
                files.len(),
                files
                    .iter()
                    .map(|f| format!("`{}`", f.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into());
        }

        let algorithm = format.algorithm.name();
        if format.algorithm != Algorithm::None {
            cx.ui
                .say(&format!("Using {algorithm} compression for {target}"));
        }
        match format.archive {
            Archive::Tar => cx.ui.say(&format!("Tarring {target} with {algorithm}")),
            Archive::Zip => cx.ui.say(&format!("Zipping {target}")),
            Archive::None => cx.ui.say(&format!(
                "Archiving {} with {algorithm}",
                files[0].display()
            )),
        }

        let target_path = PathBuf::from(&target);
        let cancel = cx.cancel.clone();
        {
            let target_path = target_path.clone();
            common::blocking(move || write_archive(&files, &target_path, format, level, &cancel))
                .await?;
        }
        cx.ui.say(&format!("Archive {target} completed"));

        Ok(PostProcessed {
            artifact: Arc::new(FileArtifact {
                builder_id: BUILDER_ID.to_string(),
                id: String::new(),
                description: format!("compressed artifacts in: {target}"),
                files: vec![target_path],
            }),
            keep_input: KeepInput::Default(false),
        })
    }
}

/// A compression stream over `W`.
enum Compressor<W: Write> {
    Plain(W),
    Gzip(flate2::write::GzEncoder<W>),
    Lz4(lz4_flex::frame::FrameEncoder<W>),
    Bgzf(bgzf::BgzfWriter<W>),
    Xz(Box<lzma_rust2::XzWriter<W>>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Compressor<W> {
    fn new(inner: W, algorithm: Algorithm, level: u32) -> io::Result<Self> {
        Ok(match algorithm {
            Algorithm::None => Compressor::Plain(inner),
            Algorithm::Gzip => Compressor::Gzip(flate2::write::GzEncoder::new(
                inner,
                flate2::Compression::new(level),
            )),
            // lz4_flex has no high-compression mode: the level is unused.
            Algorithm::Lz4 => Compressor::Lz4(lz4_flex::frame::FrameEncoder::new(inner)),
            Algorithm::Bgzf => Compressor::Bgzf(bgzf::BgzfWriter::new(inner, level)),
            Algorithm::Xz => Compressor::Xz(Box::new(lzma_rust2::XzWriter::new(
                inner,
                lzma_rust2::XzOptions::with_preset(level),
            )?)),
            Algorithm::Zstd => {
                Compressor::Zstd(zstd::stream::write::Encoder::new(inner, level as i32)?)
            }
        })
    }

    /// Ends the stream and returns the inner writer.
    fn finish(self) -> io::Result<W> {
        match self {
            Compressor::Plain(w) => Ok(w),
            Compressor::Gzip(e) => e.finish(),
            Compressor::Lz4(e) => e.finish().map_err(io::Error::from),
            Compressor::Bgzf(e) => e.finish(),
            Compressor::Xz(e) => e.finish(),
            Compressor::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Plain(w) => w.write(buf),
            Compressor::Gzip(e) => e.write(buf),
            Compressor::Lz4(e) => e.write(buf),
            Compressor::Bgzf(e) => e.write(buf),
            Compressor::Xz(e) => e.write(buf),
            Compressor::Zstd(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::Plain(w) => w.flush(),
            Compressor::Gzip(e) => e.flush(),
            Compressor::Lz4(e) => e.flush(),
            Compressor::Bgzf(e) => e.flush(),
            Compressor::Xz(e) => e.flush(),
            Compressor::Zstd(e) => e.flush(),
        }
    }
}

/// Writes the archive to a temporary file beside `target`, then renames it
/// over `target`.
fn write_archive(
    files: &[PathBuf],
    target: &Path,
    format: Format,
    level: u32,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    common::create_parent(target)?;
    // Like Go's `os.Create`: mode 0666 before the umask.
    let tmp = common::temp_file_beside(target, 0o666)?;
    {
        let out = BufWriter::with_capacity(BUF_SIZE, tmp.as_file());
        match format.archive {
            Archive::Zip => {
                let out = write_zip(files, out, target, level, cancel)?;
                finish_buffer(out, target)?;
            }
            Archive::Tar => {
                let sink = Compressor::new(out, format.algorithm, level)
                    .map_err(Error::io("start compressing", target))?;
                let sink = write_tar(files, sink, target, cancel)?;
                let out = sink.finish().map_err(Error::io("write", target))?;
                finish_buffer(out, target)?;
            }
            Archive::None => {
                let mut sink = Compressor::new(out, format.algorithm, level)
                    .map_err(Error::io("start compressing", target))?;
                let src = &files[0];
                let mut file = File::open(src).map_err(Error::io("open", src))?;
                common::copy_cancellable(&mut file, src, &mut sink, target, cancel)?;
                let out = sink.finish().map_err(Error::io("write", target))?;
                finish_buffer(out, target)?;
            }
        }
    }
    common::persist(tmp, target)
}

fn finish_buffer(out: BufWriter<&File>, target: &Path) -> Result<(), Error> {
    out.into_inner()
        .map_err(|e| Error::io("write", target)(e.into_error()))?;
    Ok(())
}

/// A reader that counts bytes, stops when cancelled and keeps its own read
/// error apart from the archive writer's errors.
struct TrackedRead<'a, R> {
    inner: R,
    cancel: &'a CancellationToken,
    read: u64,
    error: Option<io::Error>,
}

impl<R: Read> Read for TrackedRead<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.is_cancelled() {
            return Err(io::Error::other("cancelled"));
        }
        match self.inner.read(buf) {
            Ok(n) => {
                self.read += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let kind = e.kind();
                self.error = Some(e);
                Err(io::Error::new(kind, "read failed"))
            }
        }
    }
}

/// User and group names by id, looked up once each (Go's `FileInfoHeader`
/// fills them in the same way).
#[derive(Default)]
struct Owners {
    users: HashMap<u32, Option<String>>,
    groups: HashMap<u32, Option<String>>,
}

impl Owners {
    #[cfg(unix)]
    fn user(&mut self, uid: u32) -> Option<String> {
        self.users
            .entry(uid)
            .or_insert_with(|| {
                nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
            .clone()
    }

    #[cfg(unix)]
    fn group(&mut self, gid: u32) -> Option<String> {
        self.groups
            .entry(gid)
            .or_insert_with(|| {
                nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
                    .ok()
                    .flatten()
                    .map(|g| g.name)
            })
            .clone()
    }
}

/// Writes a GNU tar archive like Packer's: each file under its base name,
/// with its mode, owner and size, and a zero modification time.
fn write_tar<W: Write>(
    files: &[PathBuf],
    out: W,
    target: &Path,
    cancel: &CancellationToken,
) -> Result<W, Error> {
    let mut builder = tar::Builder::new(out);
    #[cfg_attr(not(unix), allow(unused_mut, unused_variables))]
    let mut owners = Owners::default();
    for path in files {
        let file = File::open(path).map_err(Error::io("open", path))?;
        let meta = file.metadata().map_err(Error::io("inspect", path))?;
        if !meta.is_file() {
            return Err(Error::Msg(format!(
                "cannot archive `{}`: it is not a regular file",
                path.display()
            )));
        }
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(meta.len());
        header.set_mtime(0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            header.set_mode(meta.mode() & 0o7777);
            header.set_uid(u64::from(meta.uid()));
            header.set_gid(u64::from(meta.gid()));
            if let Some(name) = owners.user(meta.uid()) {
                let _ = header.set_username(&name);
            }
            if let Some(name) = owners.group(meta.gid()) {
                let _ = header.set_groupname(&name);
            }
        }
        #[cfg(not(unix))]
        header.set_mode(if meta.permissions().readonly() {
            0o444
        } else {
            0o644
        });
        let _ = header.set_device_major(0);
        let _ = header.set_device_minor(0);

        let name = path
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| path.clone());
        let mut reader = TrackedRead {
            inner: file.take(meta.len()),
            cancel,
            read: 0,
            error: None,
        };
        // Short names go in the header itself, with the checksum formatted
        // as Go writes it (`%06o\0 `), so the bytes match Packer's; longer
        // ones need a GNU long-name entry, which the tar crate writes.
        let written = if header.set_path(&name).is_ok() {
            set_go_checksum(&mut header);
            builder.append(&header, &mut reader)
        } else {
            builder.append_data(&mut header, &name, &mut reader)
        };
        if let Err(e) = written {
            if let Some(read_error) = reader.error {
                return Err(Error::io("read", path)(read_error));
            }
            if cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            return Err(Error::io("write", target)(e));
        }
        if reader.read != meta.len() {
            return Err(Error::Msg(format!(
                "`{}` shrank while it was being archived",
                path.display()
            )));
        }
    }
    builder.into_inner().map_err(Error::io("write", target))
}

/// Sets the header checksum the way Go's `archive/tar` formats it: six
/// octal digits, a NUL and a space.
fn set_go_checksum(header: &mut tar::Header) {
    let bytes = header.as_mut_bytes();
    bytes[148..156].fill(b' ');
    let sum: u32 = bytes.iter().map(|&b| u32::from(b)).sum();
    bytes[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// Writes a zip archive like Packer's: each file under its path as given
/// (with `/` separators), deflated.
fn write_zip<'f>(
    files: &[PathBuf],
    out: BufWriter<&'f File>,
    target: &Path,
    level: u32,
    cancel: &CancellationToken,
) -> Result<BufWriter<&'f File>, Error> {
    let zip_err =
        |e: zip::result::ZipError| Error::Msg(format!("cannot write `{}`: {e}", target.display()));
    let mut zip = zip::ZipWriter::new(out);
    for path in files {
        let mut file = File::open(path).map_err(Error::io("open", path))?;
        let size = file.metadata().map_err(Error::io("inspect", path))?.len();
        let name = path
            .to_string_lossy()
            .replace(std::path::MAIN_SEPARATOR, "/");
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(i64::from(level)))
            .last_modified_time(zip::DateTime::default())
            .large_file(size >= u64::from(u32::MAX));
        zip.start_file(name, options).map_err(zip_err)?;
        common::copy_cancellable(&mut file, path, &mut zip, target, cancel)?;
    }
    zip.finish().map_err(zip_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::*;
    use kiln_sdk::ui::RecordingUi;
    use serde_json::json;
    use std::fs;

    fn prepare(v: serde_json::Value) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        CompressFactory.prepare(&raw(v), &prepare_cx())
    }

    fn fmt(archive: Archive, algorithm: Algorithm) -> Format {
        Format { archive, algorithm }
    }

    #[test]
    fn detects_like_packer() {
        use Algorithm as A;
        use Archive as R;
        let cases = [
            (
                "packer_{{.BuildName}}_{{.BuilderType}}",
                fmt(R::Tar, A::Gzip),
                true,
            ),
            ("out", fmt(R::Tar, A::Gzip), true),
            ("a/b.tar.gz", fmt(R::Tar, A::Gzip), true),
            ("b.tgz", fmt(R::Tar, A::Gzip), true),
            ("b.zip", fmt(R::Zip, A::None), true),
            ("b.tar.zip", fmt(R::Zip, A::None), true),
            ("b.tar", fmt(R::Tar, A::None), true),
            ("b.gz", fmt(R::None, A::Gzip), true),
            ("b.img.gz", fmt(R::None, A::Gzip), true),
            ("b.lz4", fmt(R::None, A::Lz4), true),
            ("b.tar.lz4", fmt(R::Tar, A::Lz4), true),
            ("b.tar.xz", fmt(R::Tar, A::Xz), true),
            ("b.bgzf", fmt(R::None, A::Bgzf), true),
            ("b.zst", fmt(R::None, A::Zstd), true),
            ("b.tar.zst", fmt(R::Tar, A::Zstd), true),
            ("b.qcow2", fmt(R::Tar, A::Gzip), false),
            ("b.tar.foo", fmt(R::Tar, A::Gzip), false),
            ("B.ZIP", fmt(R::Tar, A::Gzip), true),
            ("v1.2/out", fmt(R::Tar, A::Gzip), false),
        ];
        for (name, want, known) in cases {
            assert_eq!(detect(name), (want, known), "{name}");
        }
        assert_eq!(detection_name("g", "zip"), "g.zip");
        assert_eq!(extensions("a.b.C.d1"), ["b", "d1"]);
    }

    #[test]
    fn levels_follow_packers_rules() {
        assert_eq!(effective_level(None, Algorithm::Gzip), 6);
        assert_eq!(effective_level(Some(0), Algorithm::Gzip), 6);
        assert_eq!(effective_level(Some(-1), Algorithm::Gzip), 6);
        assert_eq!(effective_level(Some(1), Algorithm::Gzip), 1);
        assert_eq!(effective_level(Some(42), Algorithm::Gzip), 9);
        assert_eq!(effective_level(None, Algorithm::Zstd), 3);
        assert_eq!(effective_level(Some(19), Algorithm::Zstd), 19);
        assert_eq!(effective_level(Some(99), Algorithm::Zstd), 22);
    }

    #[test]
    fn prepare_reports_every_error_and_warns_about_unknown_extensions() {
        let errs = prepare(json!({"output": "{{ .X", "format": "rar", "compression_level": -5}))
            .err()
            .unwrap();
        let text = errs.to_string();
        assert_eq!(errs.0.len(), 3, "{text}");
        assert!(text.contains("`output`: template syntax error"), "{text}");
        assert!(text.contains("`format`: unknown format `rar`"), "{text}");
        assert!(
            text.contains("`compression_level`: expected a level from -1 to 9, found `-5`"),
            "{text}"
        );

        let p = prepare(json!({"output": "{{user `dir`}}/{{.BuildName}}.qcow2"})).unwrap();
        assert_eq!(p.warnings.len(), 1);
        assert!(
            p.warnings[0].contains("`/srv/web.qcow2`"),
            "{:?}",
            p.warnings
        );
        assert!(prepare(json!({})).unwrap().warnings.is_empty());
        assert!(prepare(json!({"output": "x.qcow2", "format": ".tar.gz"}))
            .unwrap()
            .warnings
            .is_empty());
    }

    struct Fixture {
        dir: tempfile::TempDir,
        files: Vec<PathBuf>,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("in/a.txt");
        let b = dir.path().join("in/b.bin");
        fs::create_dir_all(a.parent().unwrap()).unwrap();
        fs::write(&a, "hello").unwrap();
        let big: Vec<u8> = (0..(2 * BUF_SIZE + 5))
            .map(|i| (i * 7 % 256) as u8)
            .collect();
        fs::write(&b, big).unwrap();
        Fixture {
            dir,
            files: vec![a, b],
        }
    }

    async fn run(
        config: serde_json::Value,
        files: Vec<PathBuf>,
    ) -> (Result<PostProcessed, BuildError>, Vec<String>) {
        let pp = prepare(config).unwrap().component;
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        let r = pp
            .post_process(pp_cx(&ui, &interp, "web"), file_artifact(files))
            .await;
        (r, ui.lines())
    }

    fn untar(bytes: &[u8]) -> Vec<(String, Vec<u8>, u32, u64)> {
        let mut ar = tar::Archive::new(bytes);
        ar.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let name = e.path().unwrap().to_string_lossy().into_owned();
                let mode = e.header().mode().unwrap();
                let mtime = e.header().mtime().unwrap();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (name, data, mode, mtime)
            })
            .collect()
    }

    fn decompress(path: &Path) -> Vec<u8> {
        let f = File::open(path).unwrap();
        let name = path.to_string_lossy();
        let mut out = Vec::new();
        if name.ends_with(".lz4") {
            lz4_flex::frame::FrameDecoder::new(f)
                .read_to_end(&mut out)
                .unwrap();
        } else if name.ends_with(".zst") {
            zstd::stream::read::Decoder::new(f)
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
        } else if name.ends_with(".xz") {
            lzma_rust2::XzReader::new(f, false)
                .read_to_end(&mut out)
                .unwrap();
        } else if name.ends_with(".tar") {
            File::open(path).unwrap().read_to_end(&mut out).unwrap();
        } else {
            flate2::read::MultiGzDecoder::new(f)
                .read_to_end(&mut out)
                .unwrap();
        }
        out
    }

    #[tokio::test]
    async fn tars_with_every_compression() {
        let fx = fixture();
        let a = fs::read(&fx.files[0]).unwrap();
        let b = fs::read(&fx.files[1]).unwrap();
        for ext in [
            "tar", "tar.gz", "tgz", "tar.lz4", "tar.xz", "tar.bgzf", "tar.zst",
        ] {
            let out = fx.dir.path().join(format!("out/{{{{.BuildName}}}}.{ext}"));
            let (r, lines) = run(json!({"output": out.to_str().unwrap()}), fx.files.clone()).await;
            let r = r.unwrap();
            let target = fx.dir.path().join(format!("out/web.{ext}"));
            assert_eq!(r.keep_input, KeepInput::Default(false));
            assert_eq!(r.artifact.builder_id(), BUILDER_ID);
            assert_eq!(r.artifact.id(), "");
            assert_eq!(r.artifact.files(), vec![target.clone()]);
            assert_eq!(
                r.artifact.describe(),
                format!("compressed artifacts in: {}", target.display())
            );
            let name = target.display();
            assert_eq!(
                lines.last().unwrap(),
                &format!("say: Archive {name} completed")
            );
            let named = if ext == "tgz" {
                fx.dir.path().join("x.tar.gz")
            } else {
                target.clone()
            };
            if ext == "tgz" {
                fs::copy(&target, &named).unwrap();
            }
            let entries = untar(&decompress(&named));
            assert_eq!(entries.len(), 2, "{ext}");
            assert_eq!(entries[0].0, "a.txt");
            assert_eq!(entries[0].1, a);
            assert_eq!(entries[0].3, 0, "mtime is zeroed as in Packer");
            assert_eq!(entries[1].0, "b.bin");
            assert_eq!(entries[1].1, b);
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                let mode = fs::metadata(&fx.files[0]).unwrap().mode() & 0o7777;
                assert_eq!(entries[0].2, mode);
            }
            // Nothing is left behind but the archive.
            let leftovers: Vec<_> = fs::read_dir(target.parent().unwrap())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.'))
                .collect();
            assert!(leftovers.is_empty(), "{leftovers:?}");
        }
    }

    #[tokio::test]
    async fn says_what_packer_says() {
        let fx = fixture();
        let out = fx.dir.path().join("o.tar");
        let (_, lines) = run(json!({"output": out.to_str().unwrap()}), fx.files.clone()).await;
        let o = out.display();
        assert_eq!(
            lines,
            [
                format!("say: Tarring {o} with no compression"),
                format!("say: Archive {o} completed")
            ]
        );
        let out = fx.dir.path().join("o.tar.gz");
        let (_, lines) = run(json!({"output": out.to_str().unwrap()}), fx.files.clone()).await;
        let o = out.display();
        assert_eq!(
            lines,
            [
                format!("say: Using gzip compression for {o}"),
                format!("say: Tarring {o} with gzip"),
                format!("say: Archive {o} completed")
            ]
        );
    }

    #[tokio::test]
    async fn compresses_a_single_file() {
        let fx = fixture();
        let b = fs::read(&fx.files[1]).unwrap();
        for ext in ["gz", "lz4", "xz", "bgzf", "zst"] {
            let out = fx.dir.path().join(format!("single.{ext}"));
            let (r, lines) = run(
                json!({"output": out.to_str().unwrap()}),
                vec![fx.files[1].clone()],
            )
            .await;
            r.unwrap();
            assert!(
                lines.contains(&format!(
                    "say: Archiving {} with {}",
                    fx.files[1].display(),
                    match ext {
                        "gz" => "gzip",
                        "zst" => "zstd",
                        other => other,
                    }
                )),
                "{lines:?}"
            );
            assert_eq!(decompress(&out), b, "{ext}");
        }
    }

    #[tokio::test]
    async fn single_file_formats_refuse_several_files() {
        let fx = fixture();
        let out = fx.dir.path().join("x.gz");
        let (r, lines) = run(json!({"output": out.to_str().unwrap()}), fx.files.clone()).await;
        let err = r.err().unwrap().to_string();
        assert!(err.contains("exactly 1 input file; found 2"), "{err}");
        assert!(err.contains("a.txt`, `"), "{err}");
        assert!(lines.is_empty());
        assert!(!out.exists());
    }

    #[tokio::test]
    async fn zips_under_the_given_paths() {
        let fx = fixture();
        let out = fx.dir.path().join("g");
        let (r, lines) = run(
            json!({"output": out.to_str().unwrap(), "format": "zip", "compression_level": 9}),
            fx.files.clone(),
        )
        .await;
        r.unwrap();
        assert_eq!(lines[0], format!("say: Zipping {}", out.display()));
        let mut zip = zip::ZipArchive::new(File::open(&out).unwrap()).unwrap();
        assert_eq!(zip.len(), 2);
        for (i, path) in fx.files.iter().enumerate() {
            let mut entry = zip.by_index(i).unwrap();
            assert_eq!(entry.name().unwrap(), path.to_string_lossy());
            assert_eq!(entry.compression(), zip::CompressionMethod::Deflated);
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            assert_eq!(data, fs::read(path).unwrap());
        }
    }

    #[tokio::test]
    async fn replaces_an_existing_output_atomically() {
        let fx = fixture();
        let out = fx.dir.path().join("o.tar");
        fs::write(&out, "previous").unwrap();
        let (r, _) = run(
            json!({"output": out.to_str().unwrap()}),
            vec![fx.files[0].clone()],
        )
        .await;
        r.unwrap();
        assert_eq!(untar(&fs::read(&out).unwrap())[0].0, "a.txt");

        // A failure leaves the previous output as it was.
        fs::write(&out, "previous").unwrap();
        let missing = fx.dir.path().join("missing");
        let (r, _) = run(
            json!({"output": out.to_str().unwrap()}),
            vec![fx.files[0].clone(), missing],
        )
        .await;
        let err = r.err().unwrap().to_string();
        assert!(
            err.starts_with("cannot open `") && err.contains("missing"),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&out).unwrap(), "previous");
        let names: Vec<_> = fs::read_dir(fx.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    }

    #[test]
    fn cancellation_stops_the_archive_and_leaves_nothing() {
        let fx = fixture();
        let target = fx.dir.path().join("c.tar.gz");
        let cancel = CancellationToken::new();
        cancel.cancel();
        let r = write_archive(
            &fx.files,
            &target,
            fmt(Archive::Tar, Algorithm::Gzip),
            6,
            &cancel,
        );
        assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
        let r = write_archive(
            &fx.files[..1],
            &target,
            fmt(Archive::None, Algorithm::Gzip),
            6,
            &cancel,
        );
        assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
        assert_eq!(fs::read_dir(fx.dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn long_names_use_gnu_long_name_entries() {
        let dir = tempfile::tempdir().unwrap();
        let name = "n".repeat(150);
        let f = dir.path().join(&name);
        fs::write(&f, "data").unwrap();
        let bytes = write_tar(
            std::slice::from_ref(&f),
            Vec::new(),
            &f,
            &CancellationToken::new(),
        )
        .unwrap();
        let entries = untar(&bytes);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].0, name);
        assert_eq!(entries[0].1, b"data");
    }

    #[cfg(unix)]
    #[test]
    fn tar_headers_match_go_archive_tar() {
        // The header bytes Packer 1.6.6 (Go's archive/tar, GNU format) wrote
        // for a 5-byte file `out.txt`, mode 0600, owned by root.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("out.txt");
        fs::write(&f, "hello").unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
        let bytes = write_tar(
            std::slice::from_ref(&f),
            Vec::new(),
            &f,
            &CancellationToken::new(),
        )
        .unwrap();
        assert_eq!(bytes.len(), 2048);
        let h = &bytes[..512];
        assert_eq!(&h[..8], b"out.txt\0");
        assert_eq!(&h[100..108], b"0000600\0");
        assert_eq!(&h[124..136], b"00000000005\0");
        assert_eq!(&h[136..148], b"00000000000\0");
        assert_eq!(h[156], b'0');
        assert_eq!(&h[257..265], b"ustar  \0");
        assert_eq!(&h[329..337], b"0000000\0");
        assert_eq!(&h[337..345], b"0000000\0");
        // The checksum as Go formats it: `%06o\0 `.
        assert_eq!(&h[154..156], b"\0 ");
        let mut blank = h.to_vec();
        blank[148..156].fill(b' ');
        let sum: u32 = blank.iter().map(|&b| u32::from(b)).sum();
        assert_eq!(&h[148..154], format!("{sum:06o}").as_bytes());
        // Running as root, as Packer's sample did, every byte is the same.
        if nix::unistd::Uid::effective().is_root() && nix::unistd::Gid::effective().as_raw() == 0 {
            assert_eq!(&h[148..156], b"012310\0 ");
        }
        assert_eq!(&bytes[512..517], b"hello");
    }
}
