//! The `artifice` post-processor: replaces the build's artifact with local
//! files chosen by glob patterns, typically files a provisioner downloaded
//! from the machine. As in Packer 1.6.6, patterns that match nothing add
//! nothing, and the input artifact is kept unless `keep_input_artifact` says
//! otherwise.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use kiln_sdk::artifact::FileArtifact;
use kiln_sdk::component::{BuildError, KeepInput};
use kiln_sdk::config::{self, ConfigError, DecodeOptions};
use kiln_sdk::{
    Artifact, ConfigErrors, PostProcessContext, PostProcessed, PostProcessor, PostProcessorFactory,
    PrepareContext, Prepared, RawConfig,
};
use serde::Deserialize;

use crate::common::{self, Error};

/// The builder id of the artifact this post-processor produces.
pub const BUILDER_ID: &str = "packer.post-processor.artifice";

/// The `artifice` block of a template.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {
    /// Paths or glob patterns (`*`, `?`, `[a-z]`) of the new artifact's
    /// files, relative to the working directory. Required.
    #[serde(default)]
    pub files: Vec<String>,
}

/// Declares the `artifice` post-processor.
pub struct ArtificeFactory;

impl PostProcessorFactory for ArtificeFactory {
    fn name(&self) -> &'static str {
        "artifice"
    }

    fn prepare(
        &self,
        raw: &RawConfig,
        cx: &PrepareContext,
    ) -> Result<Prepared<Box<dyn PostProcessor>>, ConfigErrors> {
        let decoded = config::decode::<Config>(
            raw,
            &DecodeOptions {
                interpolate: Some(&cx.interpolation),
                ..Default::default()
            },
        );
        let mut errors = ConfigErrors::new();
        if let Ok(config) = &decoded {
            if config.files.is_empty() {
                errors.push(
                    ConfigError::at("files", "no files specified")
                        .with_hint("list the paths or glob patterns of the new artifact's files"),
                );
            }
            for (i, pattern) in config.files.iter().enumerate() {
                if let Err(e) = glob::Pattern::new(&go_pattern(pattern)) {
                    errors.push(ConfigError::at(
                        format!("files[{i}]"),
                        format!("invalid glob pattern `{pattern}`: {}", e.msg),
                    ));
                }
            }
        }
        let config = common::finish(decoded, errors, raw)?;
        Ok(Prepared::new(Box::new(Artifice {
            patterns: config.files,
        })))
    }
}

/// A prepared `artifice` post-processor.
#[derive(Debug)]
pub struct Artifice {
    patterns: Vec<String>,
}

#[async_trait]
impl PostProcessor for Artifice {
    async fn post_process(
        &self,
        cx: PostProcessContext<'_>,
        input: Arc<dyn Artifact>,
    ) -> Result<PostProcessed, BuildError> {
        let discarded = input.files();
        if !discarded.is_empty() {
            cx.ui.say(&format!(
                "Discarding files from artifact: {}",
                common::join_paths(&discarded)
            ));
        }
        let patterns = self.patterns.clone();
        let files = common::blocking(move || expand(&patterns)).await?;
        let list = common::join_paths(&files);
        cx.ui.say(&format!("Using these artifact files: {list}"));
        Ok(PostProcessed {
            artifact: Arc::new(FileArtifact {
                builder_id: BUILDER_ID.to_string(),
                id: String::new(),
                description: format!("Created artifact from files: {list}"),
                files,
            }),
            keep_input: KeepInput::Default(true),
        })
    }
}

/// Rewrites a pattern in Go's `filepath.Match` syntax for the `glob` crate:
/// `[^…]` negates a class (the crate spells it `[!…]`), `\c` matches `c`
/// literally (on Unix; on Windows `\` separates paths, as in Go), and `**`
/// is just `*` (Go has no recursive wildcard).
fn go_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' if cfg!(unix) => match chars.next() {
                Some(lit @ ('*' | '?' | '[' | ']')) if !in_class => {
                    out.push('[');
                    out.push(lit);
                    out.push(']');
                }
                Some(lit) => out.push(lit),
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('!');
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '*' if !in_class => {
                out.push('*');
                while chars.peek() == Some(&'*') {
                    chars.next();
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Expands each pattern like Go's `filepath.Glob` (sorted matches; no match
/// is not an error) and checks that every match can be inspected.
fn expand(patterns: &[String]) -> Result<Vec<PathBuf>, Error> {
    let options = glob::MatchOptions::new();
    let mut files = Vec::new();
    for pattern in patterns {
        let matches = glob::glob_with(&go_pattern(pattern), options)
            .map_err(|e| Error::Msg(format!("invalid glob pattern `{pattern}`: {}", e.msg)))?;
        // Like Go, unreadable directories are skipped silently.
        for path in matches.flatten() {
            std::fs::metadata(&path).map_err(Error::io("inspect", &path))?;
            files.push(path);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::testing::*;
    use kiln_sdk::ui::RecordingUi;
    use serde_json::json;
    use std::fs;

    fn prepare(v: serde_json::Value) -> Result<Box<dyn PostProcessor>, ConfigErrors> {
        ArtificeFactory
            .prepare(&raw(v), &prepare_cx())
            .map(|p| p.component)
    }

    #[tokio::test]
    async fn replaces_the_artifact_with_globbed_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for name in ["a2.txt", "a1.txt", ".a3.txt", "b.txt"] {
            fs::write(d.join(name), "x").unwrap();
        }
        let pp = prepare(json!({"files": [
            format!("{}/*a*.txt", d.display()),
            format!("{}/missing.txt", d.display()),
            format!("{}/b.txt", d.display()),
        ]}))
        .unwrap();
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        let input = file_artifact(vec![PathBuf::from("out.txt")]);
        let r = pp
            .post_process(pp_cx(&ui, &interp, "web"), input)
            .await
            .unwrap();
        let expected: Vec<PathBuf> = [".a3.txt", "a1.txt", "a2.txt", "b.txt"]
            .iter()
            .map(|n| d.join(n))
            .collect();
        let list = common::join_paths(&expected);
        assert_eq!(r.keep_input, KeepInput::Default(true));
        assert_eq!(r.artifact.builder_id(), BUILDER_ID);
        assert_eq!(r.artifact.id(), "");
        assert_eq!(r.artifact.files(), expected);
        assert_eq!(
            r.artifact.describe(),
            format!("Created artifact from files: {list}")
        );
        assert_eq!(
            ui.lines(),
            [
                "say: Discarding files from artifact: out.txt".to_string(),
                format!("say: Using these artifact files: {list}"),
            ]
        );
    }

    #[test]
    fn go_pattern_syntax() {
        assert_eq!(go_pattern("[^a]*.txt"), "[!a]*.txt");
        assert_eq!(go_pattern("**/*.json"), "*/*.json");
        assert_eq!(go_pattern("a[*]b"), "a[*]b");
        #[cfg(unix)]
        assert_eq!(go_pattern("x\\*y\\z"), "x[*]yz");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for name in ["a.txt", "b.txt", "sub/c.txt", "sub/deeper/d.txt"] {
            let p = d.join(name);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, "x").unwrap();
        }
        let found = |p: &str| {
            expand(&[format!("{}/{p}", d.display())])
                .unwrap()
                .into_iter()
                .map(|f| f.strip_prefix(d).unwrap().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(found("[^a]*.txt"), ["b.txt"]);
        assert_eq!(found("**/*.txt"), ["sub/c.txt"]);
        assert_eq!(found("?.txt"), ["a.txt", "b.txt"]);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn an_unreadable_match_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/nonexistent/kiln", dir.path().join("dangling.lnk")).unwrap();
        let pp = prepare(json!({"files": [format!("{}/*.lnk", dir.path().display())]})).unwrap();
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        let err = pp
            .post_process(pp_cx(&ui, &interp, "web"), file_artifact(vec![]))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("cannot inspect `"), "{err}");
        assert!(err.contains("dangling.lnk"), "{err}");
    }

    #[tokio::test]
    async fn says_nothing_about_discarding_an_empty_artifact() {
        let pp = prepare(json!({"files": ["/nonexistent/kiln/*"]})).unwrap();
        let ui = RecordingUi::default();
        let interp = run_interpolation();
        let r = pp
            .post_process(pp_cx(&ui, &interp, "web"), file_artifact(vec![]))
            .await
            .unwrap();
        assert!(r.artifact.files().is_empty());
        assert_eq!(ui.lines(), ["say: Using these artifact files: "]);
    }

    #[test]
    fn files_are_interpolated_and_required() {
        let _ = prepare(json!({"files": "{{user `dir`}}/x"})).unwrap();
        let errs = prepare(json!({})).err().unwrap();
        assert_eq!(errs.0.len(), 1);
        assert!(
            errs.to_string().starts_with("`files`: no files specified"),
            "{errs}"
        );
        let errs = prepare(json!({"files": ["ok", "bad[", "{{ nosuch }}"], "keep": true}))
            .err()
            .unwrap();
        let text = errs.to_string();
        assert!(text.contains("`files[2]`: error rendering"), "{text}");
        assert!(text.contains("unknown configuration key `keep`"), "{text}");
        // Decoding failed on the template, so the pattern is not checked yet.
        let errs = prepare(json!({"files": ["ok", "bad["]})).err().unwrap();
        assert!(
            errs.to_string()
                .contains("`files[1]`: invalid glob pattern `bad[`"),
            "{errs}"
        );
    }
}
