//! The network section (part of Packer's `RunConfig`): where the
//! instance runs and who may reach it: `availability_zone`, `subnet_id` or
//! `subnet_filter`, `vpc_id` or `vpc_filter`, `security_group_id(s)` or
//! `security_group_filter`, `temporary_security_group_source_cidrs`,
//! `associate_public_ip_address`. Pure; holds nothing.

use std::collections::BTreeMap;

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::nonempty;
use super::raw::{one_block, RawFilter};

/// The network keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawNetwork {
    pub(super) associate_public_ip_address: bool,
    pub(super) availability_zone: Option<String>,
    pub(super) subnet_id: Option<String>,
    pub(super) vpc_id: Option<String>,
    #[serde(deserialize_with = "one_block")]
    pub(super) subnet_filter: Option<RawSubnetFilter>,
    pub(super) security_group_id: Option<String>,
    pub(super) security_group_ids: Vec<String>,
    pub(super) temporary_security_group_source_cidrs: Vec<String>,
    #[serde(deserialize_with = "one_block")]
    pub(super) vpc_filter: Option<RawFilter>,
    #[serde(deserialize_with = "one_block")]
    pub(super) security_group_filter: Option<RawFilter>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawSubnetFilter {
    pub(super) filters: BTreeMap<String, String>,
    pub(super) most_free: bool,
    pub(super) random: bool,
}

/// `subnet_filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetFilter {
    /// `filters`.
    pub filters: BTreeMap<String, String>,
    /// `most_free`: the subnet with the most free addresses.
    pub most_free: bool,
    /// `random`: any of them.
    pub random: bool,
}

/// The network keys, validated.
pub(super) struct Network {
    pub(super) associate_public_ip_address: bool,
    pub(super) availability_zone: Option<String>,
    pub(super) subnet_id: Option<String>,
    pub(super) vpc_id: Option<String>,
    pub(super) subnet_filter: Option<SubnetFilter>,
    pub(super) security_group_ids: Vec<String>,
    pub(super) temporary_sg_cidrs: Vec<String>,
    pub(super) vpc_filter: Option<BTreeMap<String, String>>,
    pub(super) security_group_filter: Option<BTreeMap<String, String>>,
}

/// Validates the network keys.
pub(super) fn prepare(r: &RawNetwork, errors: &mut ConfigErrors) -> Network {
    if r.subnet_filter.is_some() && nonempty(r.subnet_id.clone()).is_some() {
        errors.push(ConfigError::at(
            "subnet_filter",
            "only one of `subnet_id` and `subnet_filter` may be given",
        ));
    }
    let subnet_filter = r.subnet_filter.as_ref().map(|f| {
        if f.filters.is_empty() {
            errors.push(ConfigError::at(
                "subnet_filter.filters",
                "`subnet_filter` needs `filters`",
            ));
        }
        SubnetFilter {
            filters: f.filters.clone(),
            most_free: f.most_free,
            random: f.random,
        }
    });
    let mut security_group_ids = r.security_group_ids.clone();
    if let Some(id) = nonempty(r.security_group_id.clone()) {
        if !security_group_ids.contains(&id) {
            security_group_ids.insert(0, id);
        }
    }
    let temporary_sg_cidrs = if r.temporary_security_group_source_cidrs.is_empty() {
        vec!["0.0.0.0/0".to_string()]
    } else {
        r.temporary_security_group_source_cidrs.clone()
    };
    for (i, c) in temporary_sg_cidrs.iter().enumerate() {
        if !is_cidr(c) {
            errors.push(ConfigError::at(
                format!("temporary_security_group_source_cidrs[{i}]"),
                format!("`{c}` is not a CIDR block like `10.0.0.0/8`"),
            ));
        }
    }
    let filter = |f: &Option<RawFilter>| {
        f.as_ref()
            .map(|f| f.filters.clone())
            .filter(|f| !f.is_empty())
    };
    Network {
        associate_public_ip_address: r.associate_public_ip_address,
        availability_zone: nonempty(r.availability_zone.clone()),
        subnet_id: nonempty(r.subnet_id.clone()),
        vpc_id: nonempty(r.vpc_id.clone()),
        subnet_filter,
        security_group_ids,
        temporary_sg_cidrs,
        vpc_filter: filter(&r.vpc_filter),
        security_group_filter: filter(&r.security_group_filter),
    }
}

fn is_cidr(s: &str) -> bool {
    let Some((addr, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => bits <= 32,
        Ok(std::net::IpAddr::V6(_)) => bits <= 128,
        Err(_) => false,
    }
}
