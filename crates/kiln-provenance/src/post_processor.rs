//! The `provenance` post-processor: writes, for the artifact it receives, a
//! signed attestation — an in-toto statement with a SLSA v1 provenance
//! predicate in a DSSE envelope, one JSON line (`.intoto.jsonl`) — attaches
//! it to the build (the manifest names it) and passes the artifact on
//! unchanged.
//!
//! The key is read when the post-processor runs, from `signing_key_file`
//! or from the environment variable `signing_key_env` names; it is never
//! printed. The attestation goes to `output`, by default next to the
//! artifact's first file (`<file>.intoto.jsonl`), or `<build
//! name>.intoto.jsonl` in the current directory for an artifact without
//! files. An existing file is only replaced with `-force`; the file is
//! written to a temporary file and renamed, so it is whole or absent.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use kiln_sdk::component::{BuildError, KeepInput};
use kiln_sdk::config::{check_local_path, ConfigError, DecodeOptions};
use kiln_sdk::interpolate;
use kiln_sdk::{
    Artifact, ConfigErrors, PostProcessContext, PostProcessed, PostProcessor, PostProcessorFactory,
    PrepareContext, Prepared, RawConfig,
};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::dsse::{self, IN_TOTO_PAYLOAD_TYPE};
use crate::keys::SigningKey;
use crate::statement::{self, Facts, Subject};

/// The attachment kind the manifest lists the attestation under.
pub const ATTACHMENT_KIND: &str = "provenance";

/// The file name suffix of an attestation.
pub const SUFFIX: &str = ".intoto.jsonl";

/// The `provenance` block of a template.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {
    /// A PEM file with the private key (ed25519, ECDSA P-256 or RSA).
    #[serde(default)]
    pub signing_key_file: String,
    /// The environment variable holding the PEM private key.
    #[serde(default)]
    pub signing_key_env: String,
    /// Where to write the attestation; a template rendered at run time
    /// (`{{.BuildName}}`, `{{.BuilderType}}`).
    #[serde(default)]
    pub output: String,
}

/// Where the key comes from.
#[derive(Debug, Clone)]
enum KeySource {
    File(PathBuf),
    Env(String),
}

/// Declares the `provenance` post-processor.
pub struct ProvenanceFactory;

impl PostProcessorFactory for ProvenanceFactory {
    fn name(&self) -> &'static str {
        "provenance"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        let decoded = kiln_sdk::config::decode::<Config>(
            raw,
            &DecodeOptions {
                interpolate: Some(&cx.interpolation),
                skip_interpolation: &["output"],
                ..Default::default()
            },
        );
        let mut errors = ConfigErrors::new();
        if let Some(output) = raw.values.get("output").and_then(|v| v.as_str()) {
            if let Err(e) = interpolate::check_syntax(output) {
                errors.push(ConfigError::at("output", e.to_string()));
            }
        }
        // The key settings are checked even when decoding failed, so that
        // every problem is reported at once.
        let setting = |key: &str, pick: fn(&Config) -> &String| match &decoded {
            Ok(c) => pick(c).clone(),
            Err(_) => raw
                .values
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
        };
        let file = setting("signing_key_file", |c| &c.signing_key_file);
        let env = setting("signing_key_env", |c| &c.signing_key_env);
        let mut source = None;
        match (file.is_empty(), env.is_empty()) {
            (true, true) => errors.push(
                ConfigError::new("one of `signing_key_file` or `signing_key_env` is required")
                    .with_hint(
                        "generate a key with `openssl genpkey -algorithm ed25519 -out key.pem`",
                    ),
            ),
            (false, false) => errors.push(ConfigError::at(
                "signing_key_env",
                "`signing_key_file` and `signing_key_env` cannot both be set",
            )),
            (false, true) => match check_local_path("signing_key_file", "key file", &file) {
                Some(e) => errors.push(e),
                None => source = Some(KeySource::File(file.into())),
            },
            (true, false) => {
                if env.contains(['=', '\0']) {
                    errors.push(ConfigError::at(
                        "signing_key_env",
                        format!("`{env}` is not an environment variable name"),
                    ));
                } else {
                    source = Some(KeySource::Env(env));
                }
            }
        }
        let errors = errors.locate(raw);
        let config = match decoded {
            Ok(c) => errors.into_result(c)?,
            Err(mut e) => {
                e.0.extend(errors.0);
                return Err(e);
            }
        };
        let Some(source) = source else {
            // Unreachable: every path without a source pushed an error.
            return Err(ConfigError::new("no signing key").into());
        };
        Ok(Prepared::new(Box::new(Provenance {
            source,
            output: config.output,
        })))
    }
}

/// A prepared `provenance` post-processor.
#[derive(Debug)]
pub struct Provenance {
    source: KeySource,
    output: String,
}

/// Why the post-processor failed.
#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("cannot read the signing key `{}`: {source}", path.display())]
    ReadKey {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the environment variable `{0}` (`signing_key_env`) is not set")]
    KeyEnvMissing(String),
    #[error("signing key {origin}: {source}{}", source.hint().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    Key {
        origin: String,
        #[source]
        source: crate::keys::KeyError,
    },
    #[error("cannot hash `{}`: {source}", path.display())]
    Hash {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the artifact has neither files nor an id: there is nothing to attest")]
    NothingToAttest,
    #[error("`output`: {0}")]
    Output(String),
    #[error("the attestation `{}` already exists\n  hint: run with -force to replace it, or set `output`", path.display())]
    Exists { path: PathBuf },
    #[error("cannot write the attestation `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the post-processor was cancelled")]
    Cancelled,
}

impl From<Error> for BuildError {
    fn from(e: Error) -> Self {
        match e {
            Error::Cancelled => BuildError::Cancelled,
            other => BuildError::Failed(other.to_string()),
        }
    }
}

impl Provenance {
    /// Reads and parses the key. The PEM text is zeroed once parsed.
    fn key(&self) -> Result<SigningKey, Error> {
        let (pem, origin) = match &self.source {
            KeySource::File(path) => {
                let pem = std::fs::read(path).map_err(|source| Error::ReadKey {
                    path: path.clone(),
                    source,
                })?;
                (pem, format!("`{}`", path.display()))
            }
            KeySource::Env(name) => {
                let value = std::env::var_os(name)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| Error::KeyEnvMissing(name.clone()))?;
                (
                    value.into_encoded_bytes(),
                    format!("from the environment variable `{name}`"),
                )
            }
        };
        let pem = zeroize::Zeroizing::new(pem);
        SigningKey::from_pem(&pem).map_err(|source| Error::Key { origin, source })
    }

    /// Where the attestation goes for `artifact`.
    fn output_path(
        &self,
        cx: &PostProcessContext<'_>,
        artifact: &dyn Artifact,
    ) -> Result<PathBuf, Error> {
        if !self.output.is_empty() {
            let ctx = cx.interpolation.with_data([
                ("BuildName", serde_json::Value::from(cx.build_name)),
                ("BuilderType", serde_json::Value::from(cx.builder_type)),
            ]);
            let rendered = interpolate::render(&self.output, &ctx)
                .map_err(|e| Error::Output(e.to_string()))?;
            return Ok(PathBuf::from(rendered));
        }
        Ok(default_output(&artifact.files(), cx.build_name))
    }
}

/// The default `output`: next to the first file, or named after the build
/// in the current directory.
pub fn default_output(files: &[PathBuf], build_name: &str) -> PathBuf {
    match files.first() {
        Some(f) => {
            let mut s = f.clone().into_os_string();
            s.push(SUFFIX);
            PathBuf::from(s)
        }
        None => PathBuf::from(format!("{build_name}{SUFFIX}")),
    }
}

/// The subjects of an artifact: its files with their SHA-256, or else its
/// id (see [`crate::statement`]).
fn subjects(
    files: &[PathBuf],
    id: &str,
    cancel: &CancellationToken,
) -> Result<Vec<Subject>, Error> {
    if files.is_empty() {
        if id.is_empty() {
            return Err(Error::NothingToAttest);
        }
        return Ok(vec![Subject::image(id)]);
    }
    let mut out = Vec::with_capacity(files.len());
    for path in files {
        let hex = crate::sha256_file(path, Some(cancel)).map_err(|source| {
            if cancel.is_cancelled() {
                Error::Cancelled
            } else {
                Error::Hash {
                    path: path.clone(),
                    source,
                }
            }
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        out.push(Subject::file(name, hex));
    }
    Ok(out)
}

/// Writes `data` to `path` through a temporary file in the same
/// directory; without `force`, fails if `path` exists (also when it
/// appeared meanwhile).
fn write_atomically(path: &Path, data: &[u8], force: bool) -> Result<(), Error> {
    use std::io::Write;
    let write_err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    if !force && std::fs::symlink_metadata(path).is_ok() {
        return Err(Error::Exists {
            path: path.to_path_buf(),
        });
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(write_err)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "attestation".into());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(write_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(write_err)?;
    }
    tmp.write_all(data).map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    let persisted = if force {
        tmp.persist(path).map(|_| ())
    } else {
        tmp.persist_noclobber(path).map(|_| ())
    };
    persisted.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            Error::Exists {
                path: path.to_path_buf(),
            }
        } else {
            write_err(e.error)
        }
    })
}

#[async_trait]
impl PostProcessor for Provenance {
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError> {
        let key = self.key()?;
        let output = self.output_path(&cx, input.as_ref())?;
        if !cx.options.force && std::fs::symlink_metadata(&output).is_ok() {
            return Err(Error::Exists { path: output }.into());
        }
        cx.ui.say(&format!(
            "Signing provenance for `{}` with the {} key `{}`",
            if input.files().is_empty() {
                input.id()
            } else {
                input
                    .files()
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join("`, `")
            },
            key.key_type().name(),
            key.public_key().keyid()
        ));

        let files = input.files();
        let id = input.id();
        let cancel = cx.cancel.clone();
        let subjects = tokio::task::spawn_blocking(move || subjects(&files, &id, &cancel))
            .await
            .map_err(|e| BuildError::msg(format!("internal error: hashing failed: {e}")))??;

        let source_image = cx.record.source_image();
        let artifact_id = input.id();
        let facts = Facts {
            build_name: cx.build_name,
            builder_type: cx.builder_type,
            artifact_id: &artifact_id,
            artifact_builder_id: input.builder_id(),
            run: cx.record.run(),
            source_image: source_image.as_deref(),
            invocation_id: cx.run_uuid,
            started: cx.record.started(),
            finished: SystemTime::now(),
        };
        let statement = statement::statement(&facts, &subjects);
        let payload = serde_json::to_vec(&statement)
            .map_err(|e| BuildError::msg(format!("cannot encode the statement: {e}")))?;
        let envelope = dsse::sign(IN_TOTO_PAYLOAD_TYPE, &payload, &key)
            .map_err(|e| BuildError::msg(format!("signing the provenance failed: {e}")))?;
        let mut line = serde_json::to_vec(&envelope)
            .map_err(|e| BuildError::msg(format!("cannot encode the envelope: {e}")))?;
        line.push(b'\n');

        let force = cx.options.force;
        let target = output.clone();
        tokio::task::spawn_blocking(move || write_atomically(&target, &line, force))
            .await
            .map_err(|e| BuildError::msg(format!("internal error: writing failed: {e}")))??;
        cx.record.attach(ATTACHMENT_KIND, output.clone());
        cx.ui
            .say(&format!("Provenance written to `{}`", output.display()));

        // The attestation describes the artifact: it goes on unchanged.
        Ok(PostProcessed {
            artifact: input,
            keep_input: KeepInput::Force(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::testing::*;
    use crate::verify::{verify, ArtifactRef};
    use kiln_sdk::artifact::FileArtifact;
    use kiln_sdk::record::{RunInfo, TemplateFile, VariableInfo};
    use kiln_sdk::ui::RecordingUi;
    use kiln_sdk::BuildRecord;
    use serde_json::json;

    fn prepare(v: serde_json::Value) -> Result<Box<dyn PostProcessor>, ConfigErrors> {
        let cx = kiln_test::build_cx("web", "file");
        ProvenanceFactory
            .prepare(&RawConfig::from_value(v), &cx)
            .map(|p| p.component)
    }

    fn cx<'a>(
        ui: &'a RecordingUi,
        interpolation: &'a interpolate::Context,
        record: &'a BuildRecord,
        force: bool,
    ) -> PostProcessContext<'a> {
        PostProcessContext {
            ui,
            cancel: CancellationToken::new(),
            build_name: "web",
            builder_type: "file",
            run_uuid: "5e1c6a8e-0000-4000-8000-000000000001",
            interpolation,
            record,
            builder: None,
            options: kiln_sdk::component::BuildOptions {
                force,
                ..Default::default()
            },
        }
    }

    fn record() -> BuildRecord {
        BuildRecord::new(Arc::new(RunInfo {
            template_files: vec![TemplateFile {
                path: "t.json".into(),
                sha256: "ab".repeat(32),
            }],
            variables: vec![
                VariableInfo {
                    name: "user".into(),
                    value: Some("admin".into()),
                },
                VariableInfo {
                    name: "password".into(),
                    value: None,
                },
            ],
            kiln_version: "0.1.0".into(),
        }))
    }

    #[test]
    fn prepare_needs_exactly_one_key_and_reports_every_error() {
        let errs = prepare(json!({"output": "{{ .Oops"})).err().unwrap();
        let text = errs.to_string();
        assert_eq!(errs.0.len(), 2, "{text}");
        assert!(text.contains("`output`: template syntax error"), "{text}");
        assert!(
            text.contains("one of `signing_key_file` or `signing_key_env` is required"),
            "{text}"
        );
        let errs = prepare(json!({"signing_key_file": "k.pem", "signing_key_env": "K"}))
            .err()
            .unwrap()
            .to_string();
        assert!(
            errs.contains("`signing_key_file` and `signing_key_env` cannot both be set"),
            "{errs}"
        );
        let errs = prepare(json!({"signing_key_file": "/nonexistent/k.pem", "sign_key": 1}))
            .err()
            .unwrap();
        let text = errs.to_string();
        assert_eq!(errs.0.len(), 2, "{text}");
        assert!(
            text.contains("bad key file `/nonexistent/k.pem`: no such file or directory"),
            "{text}"
        );
        assert!(text.contains("sign_key"), "{text}");
        prepare(json!({"signing_key_env": "KILN_KEY"})).unwrap();
    }

    #[tokio::test]
    async fn signs_a_file_artifact_next_to_it_and_attaches_it() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        std::fs::write(&key, P256).unwrap();
        let image = dir.path().join("disk.img");
        std::fs::write(&image, "hello").unwrap();
        let pp = prepare(json!({"signing_key_file": key.to_str().unwrap()})).unwrap();
        let ui = RecordingUi::default();
        let interp = kiln_test::build_cx("web", "file").interpolation;
        let rec = record();
        let input: Arc<dyn Artifact> = Arc::new(FileArtifact {
            builder_id: "packer.file".into(),
            id: "File".into(),
            files: vec![image.clone()],
            description: "Stored file".into(),
        });
        let r = pp
            .post_process(cx(&ui, &interp, &rec, false), input.clone())
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&r.artifact, &input));
        assert_eq!(r.keep_input, KeepInput::Force(true));
        let out = dir.path().join("disk.img.intoto.jsonl");
        let attachments = rec.attachments();
        assert_eq!(attachments.len(), 1);
        assert_eq!(attachments[0].kind, "provenance");
        assert_eq!(attachments[0].path, out);
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(text.ends_with("}\n") && text.lines().count() == 1, "{text}");
        assert!(!text.contains("BEGIN"), "{text}");
        let lines = ui.lines().join("\n");
        assert!(!lines.contains(P256.lines().nth(1).unwrap()), "{lines}");

        let v = verify(
            text.as_bytes(),
            P256_PUB.as_bytes(),
            Some(ArtifactRef::File(image.clone())),
        )
        .unwrap();
        let s = &v.statement;
        assert_eq!(
            s["subject"],
            json!([{"name": "disk.img", "digest": {"sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}}])
        );
        let params = &s["predicate"]["buildDefinition"]["externalParameters"];
        assert_eq!(
            params["variables"],
            json!([{"name": "user", "value": "admin"}, {"name": "password", "sensitive": true}])
        );
        assert_eq!(params["build"], "web");
        assert_eq!(params["builderType"], "file");
        assert_eq!(
            s["predicate"]["runDetails"]["metadata"]["invocationId"],
            "5e1c6a8e-0000-4000-8000-000000000001"
        );

        // Again: refused without -force, replaced with it.
        let e = pp
            .post_process(cx(&ui, &interp, &rec, false), input.clone())
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with("the attestation `"), "{e}");
        assert!(e.contains("already exists\n  hint: run with -force"), "{e}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
        std::fs::write(&image, "changed").unwrap();
        pp.post_process(cx(&ui, &interp, &rec, true), input)
            .await
            .unwrap();
        assert_ne!(std::fs::read_to_string(&out).unwrap(), text);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[tokio::test]
    async fn an_image_artifact_is_named_by_its_id_and_output_is_rendered() {
        let dir = tempfile::tempdir().unwrap();
        let var = "KILN_PROVENANCE_TEST_KEY_IMAGE";
        // The variable is unique to this test.
        std::env::set_var(var, ED25519);
        let out = format!(
            "{}/{{{{.BuildName}}}}-{{{{.BuilderType}}}}.att",
            dir.path().display()
        );
        let pp = prepare(json!({"signing_key_env": var, "output": out})).unwrap();
        let ui = RecordingUi::default();
        let interp = kiln_test::build_cx("web", "file").interpolation;
        let rec = record();
        rec.set_source_image("ubuntu:24.04");
        let hex = "e".repeat(64);
        let input: Arc<dyn Artifact> = Arc::new(FileArtifact {
            builder_id: "packer.docker".into(),
            id: format!("sha256:{hex}"),
            files: vec![],
            description: "Imported Docker image".into(),
        });
        pp.post_process(cx(&ui, &interp, &rec, false), input)
            .await
            .unwrap();
        let text = std::fs::read(dir.path().join("web-file.att")).unwrap();
        let v = verify(
            &text,
            ED25519_PUB.as_bytes(),
            Some(ArtifactRef::ImageId(format!("sha256:{hex}"))),
        )
        .unwrap();
        assert_eq!(v.matched.unwrap().digest["sha256"], hex);
        assert_eq!(
            v.statement["predicate"]["buildDefinition"]["resolvedDependencies"][1],
            json!({"name": "ubuntu:24.04"})
        );
    }

    #[tokio::test]
    async fn key_problems_are_clear_and_keep_the_key_secret() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("a.img");
        std::fs::write(&image, "x").unwrap();
        let input: Arc<dyn Artifact> = Arc::new(FileArtifact {
            builder_id: "packer.file".into(),
            id: "File".into(),
            files: vec![image],
            description: String::new(),
        });
        let ui = RecordingUi::default();
        let interp = kiln_test::build_cx("web", "file").interpolation;
        let rec = record();
        let run = |pp: Box<dyn PostProcessor>| {
            let input = input.clone();
            let (ui, interp, rec) = (&ui, &interp, &rec);
            async move {
                pp.post_process(cx(ui, interp, rec, false), input)
                    .await
                    .err()
                    .unwrap()
                    .to_string()
            }
        };
        let enc = dir.path().join("enc.pem");
        std::fs::write(&enc, ENCRYPTED).unwrap();
        let e = run(prepare(json!({"signing_key_file": enc.to_str().unwrap()})).unwrap()).await;
        assert!(
            e.contains("the private key is encrypted; kiln needs it unencrypted\n  hint: decrypt"),
            "{e}"
        );
        let e =
            run(prepare(json!({"signing_key_env": "KILN_PROVENANCE_UNSET_VAR"})).unwrap()).await;
        assert_eq!(
            e,
            "the environment variable `KILN_PROVENANCE_UNSET_VAR` (`signing_key_env`) is not set"
        );
        let p384 = dir.path().join("p384.pem");
        std::fs::write(&p384, P384).unwrap();
        let e = run(prepare(json!({"signing_key_file": p384.to_str().unwrap()})).unwrap()).await;
        assert!(
            e.contains("unsupported key: an ECDSA key on the P-384 curve"),
            "{e}"
        );
        assert!(!e.contains(P384.lines().nth(1).unwrap()), "{e}");
        assert!(rec.attachments().is_empty());
    }

    #[test]
    fn the_default_output_is_beside_the_first_file() {
        assert_eq!(
            default_output(&["out/disk.qcow2".into(), "b".into()], "web"),
            PathBuf::from("out/disk.qcow2.intoto.jsonl")
        );
        assert_eq!(
            default_output(&[], "web"),
            PathBuf::from("web.intoto.jsonl")
        );
    }
}
