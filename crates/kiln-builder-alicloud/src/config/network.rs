//! The network section (Packer's VPC, vSwitch and security group keys):
//! `vpc_id` or a new VPC (`vpc_name`, `vpc_cidr_block`), `vswitch_id` or a
//! new vSwitch (`vswitch_name`, `cidr_block`), `security_group_id` or a
//! new group (`security_group_name`). Pure; holds nothing.

use kiln_sdk::config::ConfigErrors;
use serde::Deserialize;

use super::checks::check_cidr;
use super::nonempty;

/// Packer's CIDR block of a vSwitch it creates.
pub const DEFAULT_VSWITCH_CIDR: &str = "172.16.0.0/24";

/// The network keys as the template writes them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawNetwork {
    pub(super) vpc_id: Option<String>,
    pub(super) vpc_name: Option<String>,
    pub(super) vpc_cidr_block: Option<String>,
    pub(super) vswitch_id: Option<String>,
    pub(super) vswitch_name: Option<String>,
    pub(super) cidr_block: Option<String>,
    pub(super) security_group_id: Option<String>,
    pub(super) security_group_name: Option<String>,
}

/// The VPC the instance runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vpc {
    /// `vpc_id`: an existing VPC.
    Existing(String),
    /// A temporary VPC, made and deleted by the build.
    Create {
        /// `vpc_name`.
        name: Option<String>,
        /// `vpc_cidr_block`; `None` leaves it to the API.
        cidr_block: Option<String>,
    },
}

/// The vSwitch the instance is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VSwitch {
    /// `vswitch_id`: an existing vSwitch.
    Existing(String),
    /// A temporary vSwitch in the VPC, made and deleted by the build.
    Create {
        /// `vswitch_name`.
        name: Option<String>,
        /// `cidr_block`, else [`DEFAULT_VSWITCH_CIDR`].
        cidr_block: String,
    },
}

pub use kiln_cloud::steps::network::SecurityGroup;

/// The network keys, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// The VPC.
    pub vpc: Vpc,
    /// The vSwitch.
    pub vswitch: VSwitch,
    /// The security group.
    pub security_group: SecurityGroup,
}

impl Network {
    /// Whether the template names a VPC or vSwitch (Packer's
    /// `isVpcSpecified`).
    pub fn vpc_specified(&self) -> bool {
        matches!(self.vpc, Vpc::Existing(_)) || matches!(self.vswitch, VSwitch::Existing(_))
    }
}

/// Validates the network keys.
pub(super) fn prepare(r: &RawNetwork, errors: &mut ConfigErrors) -> Network {
    let vpc_cidr = nonempty(r.vpc_cidr_block.clone());
    let vswitch_cidr = nonempty(r.cidr_block.clone());
    for (key, value) in [("vpc_cidr_block", &vpc_cidr), ("cidr_block", &vswitch_cidr)] {
        if let Some(v) = value {
            check_cidr(key, v, errors);
        }
    }
    Network {
        vpc: match nonempty(r.vpc_id.clone()) {
            Some(id) => Vpc::Existing(id),
            None => Vpc::Create {
                name: nonempty(r.vpc_name.clone()),
                cidr_block: vpc_cidr,
            },
        },
        vswitch: match nonempty(r.vswitch_id.clone()) {
            Some(id) => VSwitch::Existing(id),
            None => VSwitch::Create {
                name: nonempty(r.vswitch_name.clone()),
                cidr_block: vswitch_cidr.unwrap_or_else(|| DEFAULT_VSWITCH_CIDR.to_string()),
            },
        },
        security_group: SecurityGroup::from_keys(
            nonempty(r.security_group_id.clone()),
            nonempty(r.security_group_name.clone()),
        ),
    }
}
