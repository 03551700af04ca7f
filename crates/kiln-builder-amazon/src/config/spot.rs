//! The spot section (part of Packer's `RunConfig`): `spot_price` (`auto`
//! or a maximum price), `spot_instance_types`, `spot_tags` and
//! `block_duration_minutes`, and the rules that tie them to
//! `shutdown_behavior`, `ena_support` and `sriov_support`. Pure; holds
//! nothing.

use std::collections::BTreeMap;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::raw::check_tags;
use super::run::ShutdownBehavior;

/// The spot keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawSpot {
    pub(super) spot_price: Option<String>,
    pub(super) spot_instance_types: Vec<String>,
    pub(super) spot_tags: BTreeMap<String, String>,
    pub(super) block_duration_minutes: i64,
}

/// `spot_price`: on-demand or a spot instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Market {
    /// No `spot_price`: an on-demand instance.
    OnDemand,
    /// `spot_price: auto`: a spot instance at the current price.
    SpotAuto,
    /// `spot_price: "0.05"`: a spot instance with this maximum price.
    SpotMax(String),
}

/// Validates the spot keys; `shutdown_behavior` is the run section's,
/// `modified` whether the image options ask for `ena_support` or
/// `sriov_support` (which modify the instance).
pub(super) fn prepare(
    r: &RawSpot,
    shutdown_behavior: ShutdownBehavior,
    modified: bool,
    errors: &mut ConfigErrors,
) -> Market {
    // Packer: an empty price or `0` means on demand.
    let market = match r.spot_price.as_deref().unwrap_or("") {
        "" | "0" => Market::OnDemand,
        "auto" => Market::SpotAuto,
        p => {
            if p.parse::<f64>().map_or(true, |v| v <= 0.0) {
                errors.push(ConfigError::at(
                    "spot_price",
                    format!(
                        "`spot_price` must be `auto` or a positive price like `0.05`, found `{p}`"
                    ),
                ));
            }
            Market::SpotMax(p.to_string())
        }
    };
    if market != Market::OnDemand && shutdown_behavior == ShutdownBehavior::Terminate {
        errors.push(ConfigError::at(
            "shutdown_behavior",
            "`shutdown_behavior: terminate` cannot be combined with `spot_price`",
        ));
    }
    if market == Market::OnDemand {
        if !r.spot_instance_types.is_empty() {
            errors.push(ConfigError::at(
                "spot_instance_types",
                "`spot_instance_types` needs `spot_price`: they choose the type of a spot instance",
            ).with_hint("set `spot_price` to `auto` or a maximum price, or give `instance_type`"));
        }
        if !r.spot_tags.is_empty() {
            errors.push(ConfigError::at(
                "spot_tags",
                "`spot_tags` should not be set when not requesting a spot instance (`spot_price`)",
            ));
        }
    } else if modified {
        errors.push(ConfigError::at(
            "spot_price",
            "spot instances do not support modification, which `ena_support` and `sriov_support` need",
        ).with_hint("use a source AMI that already has SR-IOV or ENA enabled"));
    }
    for (i, t) in r.spot_instance_types.iter().enumerate() {
        if t.is_empty() {
            errors.push(ConfigError::at(
                format!("spot_instance_types[{i}]"),
                "an instance type must not be empty",
            ));
        }
    }
    if r.block_duration_minutes % 60 != 0 || !(0..=360).contains(&r.block_duration_minutes) {
        errors.push(ConfigError::at(
            "block_duration_minutes",
            format!(
                "`block_duration_minutes` must be a multiple of 60 up to 360, found `{}`",
                r.block_duration_minutes
            ),
        ));
    }
    check_tags("spot_tags", &r.spot_tags, errors);
    market
}
