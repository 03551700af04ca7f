//! The internet section (the public-network half of Packer's
//! `RunConfig`): how the instance is reached and billed for traffic:
//! `internet_charge_type`, `internet_max_bandwidth_out`,
//! `associate_public_ip_address`, `ssh_private_ip` and
//! `security_enhancement_strategy`. Pure; holds nothing.

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::checks::choice;
use super::nonempty;

/// The internet keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawInternet {
    pub(super) internet_charge_type: Option<String>,
    pub(super) internet_max_bandwidth_out: Option<i64>,
    pub(super) associate_public_ip_address: bool,
    pub(super) ssh_private_ip: bool,
    pub(super) security_enhancement_strategy: Option<String>,
}

/// `internet_charge_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InternetChargeType {
    /// `PayByBandwidth` (the API's default).
    PayByBandwidth,
    /// `PayByTraffic`.
    PayByTraffic,
}

impl InternetChargeType {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InternetChargeType::PayByBandwidth => "PayByBandwidth",
            InternetChargeType::PayByTraffic => "PayByTraffic",
        }
    }
}

/// `security_enhancement_strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityEnhancement {
    /// `Active`: the security agent is installed (public images only).
    Active,
    /// `Deactive`: it is not.
    Deactive,
}

impl SecurityEnhancement {
    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityEnhancement::Active => "Active",
            SecurityEnhancement::Deactive => "Deactive",
        }
    }
}

/// The internet keys, validated.
pub(super) struct Internet {
    pub(super) charge_type: Option<InternetChargeType>,
    pub(super) max_bandwidth_out: Option<u32>,
    pub(super) associate_public_ip_address: bool,
    pub(super) ssh_private_ip: bool,
    pub(super) security_enhancement_strategy: Option<SecurityEnhancement>,
}

/// Validates the internet keys.
pub(super) fn prepare(r: &RawInternet, errors: &mut ConfigErrors) -> Internet {
    let charge = [
        ("PayByBandwidth", InternetChargeType::PayByBandwidth),
        ("PayByTraffic", InternetChargeType::PayByTraffic),
    ];
    let charge_type = nonempty(r.internet_charge_type.clone())
        .and_then(|v| choice("internet_charge_type", &v, &charge, errors));
    let strategies = [
        ("Active", SecurityEnhancement::Active),
        ("Deactive", SecurityEnhancement::Deactive),
    ];
    let security_enhancement_strategy = nonempty(r.security_enhancement_strategy.clone())
        .and_then(|v| choice("security_enhancement_strategy", &v, &strategies, errors));
    let max_bandwidth_out = match r.internet_max_bandwidth_out {
        Some(n) if n < 0 || n > i64::from(u32::MAX) => {
            errors.push(ConfigError::at(
                "internet_max_bandwidth_out",
                format!("`internet_max_bandwidth_out` must be a bandwidth in Mbit/s (0 or more), found `{n}`"),
            ));
            None
        }
        Some(n) => u32::try_from(n).ok(),
        None => None,
    };
    Internet {
        charge_type,
        max_bandwidth_out,
        associate_public_ip_address: r.associate_public_ip_address,
        ssh_private_ip: r.ssh_private_ip,
        security_enhancement_strategy,
    }
}
