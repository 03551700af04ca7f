//! The file builder's configuration: `target`, and exactly one of
//! `content` or `source` (an empty `content` makes an empty file, as in
//! Packer).

use std::path::PathBuf;

use kiln_sdk::config::{decode_lenient, ConfigError, ConfigErrors, DecodeOptions, RawConfig};
use kiln_sdk::PrepareContext;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    target: Option<String>,
}

/// Where the file's bytes come from.
#[derive(Debug, Clone)]
pub enum Content {
    /// Literal text.
    Inline(String),
    /// A local file to copy.
    Source(PathBuf),
}

/// The validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// What to write.
    pub content: Content,
    /// Where.
    pub target: PathBuf,
}

/// Decodes and validates; collects every error.
pub fn prepare(raw: &RawConfig, cx: &PrepareContext) -> Result<Config, ConfigErrors> {
    let (r, mut errors) = decode_lenient::<RawFile>(
        raw,
        &DecodeOptions {
            interpolate: Some(&cx.interpolation),
            ..Default::default()
        },
    );
    let Some(r) = r else {
        return Err(errors);
    };
    let target = match r.target.filter(|t| !t.is_empty()) {
        Some(t) => PathBuf::from(t),
        None => {
            errors.push(ConfigError::new(
                "`target` is required: the path of the file to write",
            ));
            PathBuf::new()
        }
    };
    let content = match (r.content, r.source.filter(|s| !s.is_empty())) {
        (Some(_), Some(_)) => {
            errors.push(ConfigError::at(
                "source",
                "only one of `content` or `source` may be set",
            ));
            Content::Inline(String::new())
        }
        (None, Some(s)) => Content::Source(PathBuf::from(s)),
        (c, None) => Content::Inline(c.unwrap_or_default()),
    };
    errors.into_result(Config { content, target })
}
