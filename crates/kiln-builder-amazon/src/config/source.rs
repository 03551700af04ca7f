//! The source section (part of Packer's `RunConfig`): `source_ami` or
//! `source_ami_filter` (which must name `owners`), and `instance_type` or
//! `spot_instance_types`. Pure; holds nothing.

use std::collections::BTreeMap;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::nonempty;
use super::raw::one_block;

/// The source keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawSource {
    pub(super) source_ami: Option<String>,
    #[serde(deserialize_with = "one_block")]
    pub(super) source_ami_filter: Option<RawAmiFilter>,
    pub(super) instance_type: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawAmiFilter {
    pub(super) filters: BTreeMap<String, String>,
    pub(super) owners: Vec<String>,
    pub(super) most_recent: bool,
}

/// Where the source AMI comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAmi {
    /// `source_ami`.
    pub id: Option<String>,
    /// `source_ami_filter.filters`.
    pub filters: BTreeMap<String, String>,
    /// `source_ami_filter.owners`.
    pub owners: Vec<String>,
    /// `source_ami_filter.most_recent`.
    pub most_recent: bool,
}

/// Validates the source image and the instance type, which
/// `spot_instance_types` (the spot section's) may replace; returns the
/// source and `instance_type`.
pub(super) fn prepare(
    r: &RawSource,
    spot_instance_types: &[String],
    errors: &mut ConfigErrors,
) -> (SourceAmi, String) {
    let source = SourceAmi {
        id: nonempty(r.source_ami.clone()),
        filters: r
            .source_ami_filter
            .as_ref()
            .map(|f| f.filters.clone())
            .unwrap_or_default(),
        owners: r
            .source_ami_filter
            .as_ref()
            .map(|f| f.owners.clone())
            .unwrap_or_default(),
        most_recent: r.source_ami_filter.as_ref().is_some_and(|f| f.most_recent),
    };
    if source.id.is_none() && r.source_ami_filter.is_none() {
        errors.push(ConfigError::at(
            "source_ami",
            "a `source_ami` or `source_ami_filter` must be specified",
        ));
    }
    if let Some(f) = &r.source_ami_filter {
        if f.owners.is_empty() {
            errors.push(
                ConfigError::at(
                    "source_ami_filter.owners",
                    "for security reasons, `source_ami_filter` needs `owners`",
                )
                .with_hint("name the account ids or aliases (`amazon`, `self`) that may own the source image"),
            );
        }
    }
    let instance_type = r.instance_type.clone().unwrap_or_default();
    match (instance_type.is_empty(), spot_instance_types.is_empty()) {
        (true, true) => errors.push(ConfigError::at(
            "instance_type",
            "an `instance_type` must be specified",
        )),
        (false, false) => errors.push(ConfigError::at(
            "spot_instance_types",
            "either `instance_type` or `spot_instance_types` must be specified, not both",
        )),
        _ => {}
    }

    (source, instance_type)
}
