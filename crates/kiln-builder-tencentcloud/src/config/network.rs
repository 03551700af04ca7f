//! The network section (the network half of Packer's
//! `TencentCloudRunConfig`): the VPC (`vpc_id`, or a temporary one named
//! `vpc_name` with `cidr_block`), the subnet (`subnet_id`, or a temporary
//! one named `subnet_name` with `subnet_cidr_block`, which Packer spells
//! `subnect_cidr_block`: both are taken), the security group
//! (`security_group_id`, or a temporary one named `security_group_name`)
//! and `vpc_ip` (accepted, unused, as in Packer 1.6.6). Pure; holds
//! nothing.

use kiln_sdk::config::{ConfigError, ConfigErrors};
use serde::Deserialize;

use super::nonempty;
use super::run::is_resource_id;

/// The VPC's address block when `cidr_block` is unset (Packer's).
pub const DEFAULT_VPC_CIDR: &str = "10.0.0.0/16";
/// The subnet's address block when `subnet_cidr_block` is unset
/// (Packer's).
pub const DEFAULT_SUBNET_CIDR: &str = "10.0.8.0/24";

/// The network keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawNetwork {
    pub(super) vpc_id: Option<String>,
    pub(super) vpc_name: Option<String>,
    pub(super) vpc_ip: Option<String>,
    pub(super) cidr_block: Option<String>,
    pub(super) subnet_id: Option<String>,
    pub(super) subnet_name: Option<String>,
    pub(super) subnet_cidr_block: Option<String>,
    pub(super) subnect_cidr_block: Option<String>,
    pub(super) security_group_id: Option<String>,
    pub(super) security_group_name: Option<String>,
}

/// The VPC the instance goes in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vpc {
    /// `vpc_id`.
    Existing(String),
    /// A temporary VPC (`vpc_name`, `cidr_block`).
    Create {
        /// `vpc_name` (`packer_<id>` by default).
        name: Option<String>,
        /// `cidr_block`.
        cidr_block: String,
    },
}

/// The subnet the instance goes in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subnet {
    /// `subnet_id`.
    Existing(String),
    /// A temporary subnet in `zone` (`subnet_name`, `subnet_cidr_block`).
    Create {
        /// `subnet_name` (`packer_<id>` by default).
        name: Option<String>,
        /// `subnet_cidr_block` / `subnect_cidr_block`.
        cidr_block: String,
    },
}

pub use kiln_cloud::steps::network::SecurityGroup;

/// The network keys, validated.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The VPC.
    pub vpc: Vpc,
    /// The subnet.
    pub subnet: Subnet,
    /// The security group.
    pub security_group: SecurityGroup,
    /// `vpc_ip`.
    pub vpc_ip: Option<String>,
}

/// Validates the network keys.
pub(super) fn prepare(r: &RawNetwork, errors: &mut ConfigErrors) -> NetworkConfig {
    let vpc_id = nonempty(r.vpc_id.clone());
    let subnet_id = nonempty(r.subnet_id.clone());
    let cidr = nonempty(r.cidr_block.clone());
    let subnet_cidr = match (
        nonempty(r.subnet_cidr_block.clone()),
        nonempty(r.subnect_cidr_block.clone()),
    ) {
        (Some(a), Some(b)) if a != b => {
            errors.push(ConfigError::at(
                "subnet_cidr_block",
                format!("`subnet_cidr_block` (`{a}`) and its old spelling `subnect_cidr_block` (`{b}`) differ: give one"),
            ));
            Some(a)
        }
        (a, b) => a.or(b),
    };
    if (vpc_id.is_some() || cidr.is_some()) && subnet_id.is_none() && subnet_cidr.is_none() {
        errors.push(ConfigError::at(
            "subnet_cidr_block",
            "if vpc cidr_block is specified, then subnet_cidr_block must also be specified.",
        ));
    }
    if vpc_id.is_none() && subnet_id.is_some() {
        errors.push(ConfigError::at(
            "subnet_id",
            "can't set subnet_id without set vpc_id",
        ));
    }
    for (key, kind, id) in [
        ("vpc_id", "vpc", &vpc_id),
        ("subnet_id", "subnet", &subnet_id),
        (
            "security_group_id",
            "sg",
            &nonempty(r.security_group_id.clone()),
        ),
    ] {
        if let Some(id) = id {
            if !is_resource_id(kind, id) {
                errors.push(ConfigError::at(
                    key,
                    format!("`{id}` is not a {kind} id (`{kind}-` and 8 characters)"),
                ));
            }
        }
    }
    let vpc = match vpc_id {
        Some(id) => Vpc::Existing(id),
        None => Vpc::Create {
            name: nonempty(r.vpc_name.clone()),
            cidr_block: cidr.unwrap_or_else(|| DEFAULT_VPC_CIDR.into()),
        },
    };
    let subnet = match subnet_id {
        Some(id) => Subnet::Existing(id),
        None => Subnet::Create {
            name: nonempty(r.subnet_name.clone()),
            cidr_block: subnet_cidr.unwrap_or_else(|| DEFAULT_SUBNET_CIDR.into()),
        },
    };
    let security_group = SecurityGroup::from_keys(
        nonempty(r.security_group_id.clone()),
        nonempty(r.security_group_name.clone()),
    );
    NetworkConfig {
        vpc,
        subnet,
        security_group,
        vpc_ip: nonempty(r.vpc_ip.clone()),
    }
}
