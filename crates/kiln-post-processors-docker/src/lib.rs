//! kiln-post-processors-docker: Packer 1.6.6's docker post-processors,
//! through the Docker engine API (bollard, `DOCKER_HOST` honoured).
//!
//! - [`import`] (`docker-import`): an exported tar becomes an image.
//! - [`tag`] (`docker-tag`): tags the image under `repository`.
//! - [`save`] (`docker-save`): writes the image to a tar file.
//! - [`push`] (`docker-push`): pushes the image and its tags.
//!
//! Each module has a typed config, a factory whose `prepare` only decodes
//! and validates, and a post-processor whose `post_process` does the work.
//! They hold no resources between calls; what each creates is described,
//! with its cleanup, in its module docs.

pub mod import;
pub mod push;
pub mod save;
pub mod tag;

use kiln_builder_docker::{BUILDER_ID, BUILDER_ID_IMPORT};
use kiln_sdk::component::BuildError;
use kiln_sdk::config::{ConfigError, ConfigErrors, DecodeOptions, RawConfig};
use kiln_sdk::{PostProcessorFactory, PrepareContext};

/// The factories of every post-processor in this crate, for the registry.
pub fn factories() -> Vec<Box<dyn PostProcessorFactory>> {
    vec![
        Box::new(import::DockerImportFactory),
        Box::new(tag::DockerTagFactory),
        Box::new(save::DockerSaveFactory),
        Box::new(push::DockerPushFactory),
    ]
}

/// Builder id of `docker-tag` artifacts.
pub const TAG_BUILDER_ID: &str = "packer.post-processor.docker-tag";
/// Builder id of `docker-save` (unused: it returns its input, as Packer).
pub const SAVE_BUILDER_ID: &str = "packer.post-processor.docker-save";
/// Builder id of `docker-push` (unused: it returns an import artifact).
pub const PUSH_BUILDER_ID: &str = "packer.post-processor.docker-push";

/// Artifacts that name an image in the engine.
pub(crate) const IMAGE_IDS: [&str; 2] = [BUILDER_ID_IMPORT, TAG_BUILDER_ID];
/// Artifacts that are an exported tar (docker builder, artifice).
pub(crate) const TAR_IDS: [&str; 2] = [BUILDER_ID, "packer.post-processor.artifice"];

/// Decodes with interpolation, then returns the decode errors together
/// with `check`'s.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    raw: &RawConfig,
    cx: &PrepareContext,
    check: impl FnOnce(&T, &mut ConfigErrors),
) -> Result<T, ConfigErrors> {
    let config: T = kiln_sdk::config::decode(
        raw,
        &DecodeOptions {
            interpolate: Some(&cx.interpolation),
            ..Default::default()
        },
    )?;
    let mut errors = ConfigErrors::new();
    check(&config, &mut errors);
    errors.locate(raw).into_result(config)
}

/// A required, non-empty string key.
pub(crate) fn require(value: &str, key: &str, what: &str, errors: &mut ConfigErrors) {
    if value.is_empty() {
        errors.push(ConfigError::at(key, format!("`{key}` is required: {what}")));
    }
}

/// A key Packer 1.6.6 needs only when the post-processor runs
/// (`docker-tag`'s `repository`, `docker-save`'s `path`): `validate`
/// accepts the template without it, as Packer's does, with a warning, and
/// [`Deferred::check`] fails the run before anything is done.
#[derive(Debug, Clone)]
pub(crate) struct Deferred {
    /// The post-processor's type.
    pp: &'static str,
    /// The key.
    key: &'static str,
    /// What the key is for.
    what: &'static str,
    /// Where the post-processor's block starts, when known.
    location: Option<kiln_sdk::config::Location>,
}

impl Deferred {
    /// Records that `key` of `pp`'s block at `raw` is unset when `value`
    /// is empty, adding `validate`'s warning to `warnings`.
    pub(crate) fn unless_set(
        value: &str,
        pp: &'static str,
        key: &'static str,
        what: &'static str,
        raw: &RawConfig,
        warnings: &mut Vec<String>,
    ) -> Option<Deferred> {
        if !value.is_empty() {
            return None;
        }
        let d = Deferred {
            pp,
            key,
            what,
            location: raw.location.clone(),
        };
        warnings.push(format!(
            "{}`{pp}`: `{key}` is not set ({what}); the post-processor will fail when it runs",
            d.at()
        ));
        Some(d)
    }

    fn at(&self) -> String {
        self.location
            .as_ref()
            .map(|l| format!("{l}: "))
            .unwrap_or_default()
    }

    /// The run-time error when the key is unset.
    pub(crate) fn check(missing: &Option<Deferred>) -> Result<(), BuildError> {
        match missing {
            None => Ok(()),
            Some(d) => Err(BuildError::msg(format!(
                "{}`{}`: `{}` is required: {}\n  hint: set `{}` in the post-processor",
                d.at(),
                d.pp,
                d.key,
                d.what,
                d.key
            ))),
        }
    }
}

/// The error for an input artifact this post-processor cannot use.
pub(crate) fn wrong_input(pp: &str, found: &str, accepted: &[&str]) -> BuildError {
    BuildError::msg(format!(
        "`{pp}` cannot use an artifact of type `{found}`; it accepts {}",
        accepted
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn factory_names_are_packer_type_names() {
        let names: Vec<_> = super::factories().iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            ["docker-import", "docker-tag", "docker-save", "docker-push"]
        );
    }
}
