//! The `checksum` post-processor: computes checksums of the artifact's files
//! and appends them, one `<hex>\t<file name>` line per file, to a checksum
//! file per checksum type, as Packer 1.6.6 does.
//!
//! Files are streamed (each read once for all checksum types) and each line
//! is appended with a single write, so builds sharing a checksum file do not
//! interleave partial lines.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::artifact::FileArtifact;
use kiln_sdk::component::{BuildError, KeepInput};
use kiln_sdk::config::{did_you_mean, ConfigError};
use kiln_sdk::{
    Artifact, ConfigErrors, PostProcessContext, PostProcessed, PostProcessor, PostProcessorFactory,
    PrepareContext, Prepared, RawConfig,
};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::common::{self, Error};

/// The builder id of the artifact this post-processor produces.
pub const BUILDER_ID: &str = "packer.post-processor.checksum";

/// The checksum file name when `output` is not set.
pub const DEFAULT_OUTPUT: &str =
    "packer_{{.BuildName}}_{{.BuilderType}}_{{.ChecksumType}}.checksum";

/// The `checksum` block of a template.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {
    /// The checksum types to compute (default `["md5"]`).
    #[serde(default)]
    pub checksum_types: Option<Vec<String>>,
    /// The checksum file; a template with `{{.BuildName}}`,
    /// `{{.BuilderType}}` and `{{.ChecksumType}}`, rendered at run time.
    #[serde(default)]
    pub output: String,
}

/// A supported checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumType {
    /// MD5.
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl ChecksumType {
    /// Every type, in Packer's order.
    pub const ALL: [ChecksumType; 6] = [
        ChecksumType::Md5,
        ChecksumType::Sha1,
        ChecksumType::Sha224,
        ChecksumType::Sha256,
        ChecksumType::Sha384,
        ChecksumType::Sha512,
    ];

    /// The name used in templates and in `{{.ChecksumType}}`.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumType::Md5 => "md5",
            ChecksumType::Sha1 => "sha1",
            ChecksumType::Sha224 => "sha224",
            ChecksumType::Sha256 => "sha256",
            ChecksumType::Sha384 => "sha384",
            ChecksumType::Sha512 => "sha512",
        }
    }

    /// The type named `name` (case-sensitive, as in Packer).
    pub fn parse(name: &str) -> Option<ChecksumType> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    fn hasher(self) -> Hasher {
        use sha2::Digest;
        match self {
            ChecksumType::Md5 => Hasher::Md5(md5::Md5::new()),
            ChecksumType::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            ChecksumType::Sha224 => Hasher::Sha224(sha2::Sha224::new()),
            ChecksumType::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            ChecksumType::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            ChecksumType::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }
}

/// A running hash of one [`ChecksumType`].
enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn update(&mut self, data: &[u8]) {
        use sha2::Digest;
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha224(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha384(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest in lowercase hex (Go's `%x`).
    fn finish_hex(self) -> String {
        use sha2::Digest;
        match self {
            Hasher::Md5(h) => hex::encode(h.finalize()),
            Hasher::Sha1(h) => hex::encode(h.finalize()),
            Hasher::Sha224(h) => hex::encode(h.finalize()),
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha384(h) => hex::encode(h.finalize()),
            Hasher::Sha512(h) => hex::encode(h.finalize()),
        }
    }
}

/// Declares the `checksum` post-processor.
pub struct ChecksumFactory;

impl PostProcessorFactory for ChecksumFactory {
    fn name(&self) -> &'static str {
        "checksum"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        let (decoded, mut errors) = common::decode_with_output::<Config>(raw, cx, &["output"]);
        let mut types = Vec::new();
        if let Ok(config) = &decoded {
            let names = config
                .checksum_types
                .clone()
                .unwrap_or_else(|| vec!["md5".to_string()]);
            for (i, name) in names.iter().enumerate() {
                match ChecksumType::parse(name) {
                    Some(t) => types.push(t),
                    None => errors.push(unknown_type(i, name)),
                }
            }
        }
        let config = common::finish(decoded, errors, raw)?;
        let output = if config.output.is_empty() {
            DEFAULT_OUTPUT.to_string()
        } else {
            config.output
        };
        Ok(Prepared::new(Box::new(Checksum { types, output })))
    }
}

fn unknown_type(index: usize, name: &str) -> ConfigError {
    let names = ChecksumType::ALL.map(ChecksumType::name);
    let lower = name.to_lowercase();
    let suggestion = names
        .iter()
        .find(|n| **n == lower)
        .copied()
        .or_else(|| did_you_mean(&lower, names));
    let hint = match suggestion {
        Some(s) => format!("did you mean `{s}`? (supported: {})", names.join(", ")),
        None => format!("supported: {}", names.join(", ")),
    };
    ConfigError::at(
        format!("checksum_types[{index}]"),
        format!("unknown checksum type `{name}`"),
    )
    .with_hint(hint)
}

/// A prepared `checksum` post-processor.
#[derive(Debug)]
pub struct Checksum {
    types: Vec<ChecksumType>,
    output: String,
}

#[async_trait]
impl PostProcessor for Checksum {
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError> {
        let inputs = input.files();
        let mut outputs = Vec::with_capacity(self.types.len());
        for t in &self.types {
            let ctx = common::run_context(
                cx.interpolation,
                &[
                    ("BuildName", cx.build_name),
                    ("BuilderType", cx.builder_type),
                    ("ChecksumType", t.name()),
                ],
            );
            outputs.push(PathBuf::from(common::render("output", &self.output, &ctx)?));
        }

        let types = self.types.clone();
        let cancel = cx.cancel.clone();
        let files = inputs.clone();
        let created =
            common::blocking(move || write_checksums(&files, &types, &outputs, &cancel)).await?;

        let mut files = inputs;
        files.extend(created);
        let description = format!(
            "Created artifact from files: {}",
            common::join_paths(&files)
        );
        Ok(PostProcessed {
            artifact: Arc::new(FileArtifact {
                builder_id: BUILDER_ID.to_string(),
                id: String::new(),
                files,
                description,
            }),
            // The new artifact lists the input's files: deleting them would
            // destroy what was just checksummed.
            keep_input: KeepInput::Force(true),
        })
    }
}

/// Hashes every file once for all `types`, then appends the lines to each
/// type's checksum file. Returns the checksum files that did not exist
/// before (Packer lists only those in the new artifact).
fn write_checksums(
    files: &[PathBuf],
    types: &[ChecksumType],
    outputs: &[PathBuf],
    cancel: &CancellationToken,
) -> Result<Vec<PathBuf>, Error> {
    let mut digests: Vec<Vec<String>> = Vec::with_capacity(files.len());
    for path in files {
        let mut file = File::open(path).map_err(Error::io("open", path))?;
        let mut hashers: Vec<Hasher> = types.iter().map(|t| t.hasher()).collect();
        common::stream_chunks(&mut file, path, cancel, |chunk| {
            for h in &mut hashers {
                h.update(chunk);
            }
            Ok(())
        })?;
        digests.push(hashers.into_iter().map(Hasher::finish_hex).collect());
    }

    let mut created = Vec::new();
    for (ti, out) in outputs.iter().enumerate() {
        if files.is_empty() {
            break;
        }
        if fs::metadata(out).is_err() && !created.contains(out) {
            created.push(out.clone());
        }
        common::create_parent(out)?;
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o644);
        let mut w = options.open(out).map_err(Error::io("open", out))?;
        for (fi, path) in files.iter().enumerate() {
            let line = format!("{}\t{}\n", digests[fi][ti], base_name(path));
            w.write_all(line.as_bytes())
                .map_err(Error::io("write", out))?;
        }
    }
    Ok(created)
}

/// Go's `filepath.Base`, as Packer writes it in checksum lines.
fn base_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::*;
    use kiln_sdk::ui::RecordingUi;
    use serde_json::json;

    fn prepare(v: serde_json::Value) -> Result<Box<dyn PostProcessor>, ConfigErrors> {
        ChecksumFactory
            .prepare(&raw(v), &prepare_cx())
            .map(|p| p.component)
    }

    const HELLO: [(&str, &str); 6] = [
        ("md5", "5d41402abc4b2a76b9719d911017c592"),
        ("sha1", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
        ("sha224", "ea09ae9cc6768c50fcee903ed054556e5bfc8347907f12598aa24193"),
        ("sha256", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
        ("sha384", "59e1748777448c69de6b800d7a33bbfb9ff1b463e44354c3553bcdb9c666fa90125a3c79f90397bdf5f6a13de828684f"),
        ("sha512", "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043"),
    ];

    #[tokio::test]
    async fn writes_every_type_like_packer() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("sub/a.txt");
        fs::create_dir_all(a.parent().unwrap()).unwrap();
        fs::write(&a, "hello").unwrap();
        let b = dir.path().join("b.txt");
        fs::write(&b, "").unwrap();
        let out = format!(
            "{}/sums/{{{{.BuildName}}}}_{{{{.BuilderType}}}}.{{{{.ChecksumType}}}}",
            dir.path().display()
        );
        let pp = prepare(json!({
            "checksum_types": ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"],
            "output": out
        }))
        .unwrap();
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        let r = pp
            .post_process(
                pp_cx(&ui, &interp, "web"),
                file_artifact(vec![a.clone(), b.clone()]),
            )
            .await
            .unwrap();
        assert_eq!(r.keep_input, KeepInput::Force(true));
        assert!(ui.lines().is_empty());
        let mut expected_files = vec![a.clone(), b.clone()];
        for (name, hash) in HELLO {
            let sums = dir.path().join(format!("sums/web_file.{name}"));
            let text = fs::read_to_string(&sums).unwrap();
            let empty = ChecksumType::parse(name).unwrap().hasher().finish_hex();
            assert_eq!(text, format!("{hash}\ta.txt\n{empty}\tb.txt\n"));
            expected_files.push(sums);
        }
        let art = r.artifact;
        assert_eq!(art.builder_id(), BUILDER_ID);
        assert_eq!(art.id(), "");
        assert_eq!(art.files(), expected_files);
        assert_eq!(
            art.describe(),
            format!(
                "Created artifact from files: {}",
                common::join_paths(&expected_files)
            )
        );
    }

    #[tokio::test]
    async fn appends_and_lists_only_new_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        fs::write(&a, "hello").unwrap();
        let out = dir.path().join("sums.txt");
        // Both types go to the same file, which exists already.
        fs::write(&out, "old\n").unwrap();
        let pp =
            prepare(json!({"checksum_types": ["md5", "sha1"], "output": out.to_str().unwrap()}))
                .unwrap();
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        let r = pp
            .post_process(pp_cx(&ui, &interp, "web"), file_artifact(vec![a.clone()]))
            .await
            .unwrap();
        assert_eq!(r.artifact.files(), vec![a]);
        assert_eq!(
            fs::read_to_string(&out).unwrap(),
            format!("old\n{}\ta.txt\n{}\ta.txt\n", HELLO[0].1, HELLO[1].1)
        );
    }

    #[tokio::test]
    async fn defaults_to_md5_and_packers_file_name() {
        let pp = ChecksumFactory
            .prepare(&raw(json!({})), &prepare_cx())
            .unwrap();
        assert!(pp.warnings.is_empty());
        // Run in a directory of our own: the default output is relative.
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        fs::write(&a, "hello").unwrap();
        let c = Checksum {
            types: vec![ChecksumType::Md5],
            output: format!("{}/{DEFAULT_OUTPUT}", dir.path().display()),
        };
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        c.post_process(pp_cx(&ui, &interp, "web"), file_artifact(vec![a]))
            .await
            .unwrap();
        let sums = dir.path().join("packer_web_file_md5.checksum");
        assert_eq!(
            fs::read_to_string(sums).unwrap(),
            format!("{}\ta.txt\n", HELLO[0].1)
        );
    }

    #[test]
    fn prepare_defaults_and_single_string() {
        let _ = prepare(json!({"checksum_types": "sha256"})).unwrap();
        let _ = prepare(json!({"checksum_types": null})).unwrap();
    }

    #[test]
    fn prepare_reports_every_bad_type_and_template() {
        let errs = prepare(json!({
            "checksum_types": ["md4", "SHA1", "sha256"],
            "output": "{{ .Oops"
        }))
        .err()
        .unwrap();
        let text = errs.to_string();
        assert_eq!(errs.0.len(), 3, "{text}");
        assert!(text.contains("`output`: template syntax error"), "{text}");
        assert!(
            text.contains("`checksum_types[0]`: unknown checksum type `md4`"),
            "{text}"
        );
        assert!(
            text.contains("`checksum_types[1]`: unknown checksum type `SHA1`"),
            "{text}"
        );
        assert!(text.contains("did you mean `sha1`?"), "{text}");
        assert!(
            text.contains("supported: md5, sha1, sha224, sha256, sha384, sha512"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_missing_input_file_is_an_error_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sums.txt");
        let pp = prepare(json!({"output": out.to_str().unwrap()})).unwrap();
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        let missing = dir.path().join("missing.img");
        let err = pp
            .post_process(pp_cx(&ui, &interp, "web"), file_artifact(vec![missing]))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("cannot open `"), "{err}");
        assert!(err.contains("missing.img"), "{err}");
        assert!(!out.exists());
    }

    #[tokio::test]
    async fn cancellation_stops_hashing() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.txt");
        fs::write(&a, "hello").unwrap();
        let cancel = CancellationToken::new();
        cancel.cancel();
        let r = write_checksums(&[a], &[ChecksumType::Md5], &[dir.path().join("s")], &cancel);
        assert!(matches!(r, Err(Error::Cancelled)));
    }

    #[test]
    fn streams_large_files_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("big.bin");
        let data: Vec<u8> = (0..(3 * common::BUF_SIZE + 17))
            .map(|i| (i % 251) as u8)
            .collect();
        fs::write(&a, &data).unwrap();
        let out = dir.path().join("s");
        write_checksums(
            &[a],
            &[ChecksumType::Sha256],
            std::slice::from_ref(&out),
            &CancellationToken::new(),
        )
        .unwrap();
        use sha2::Digest;
        let expected = hex::encode(sha2::Sha256::digest(&data));
        assert_eq!(
            fs::read_to_string(out).unwrap(),
            format!("{expected}\tbig.bin\n")
        );
    }
}
