//! The network and ports section: user-mode networking with the
//! communicator's port forwarded from `host_port_min`..`host_port_max`
//! (2222–4444; none with `skip_nat_mapping`), or a bridge (`net_bridge`).
//! Pure; holds nothing.

use std::ops::RangeInclusive;

use kiln_sdk::config::ConfigErrors;

use super::check::range;
use super::raw::Fields;

/// Networking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// QEMU user networking with the communicator port forwarded.
    User {
        /// False with `skip_nat_mapping`.
        forward: bool,
    },
    /// `net_bridge`.
    Bridge(String),
}

/// User networking or the bridge: nothing to get wrong.
pub(super) fn kind(f: &Fields) -> Network {
    if f.net_bridge.is_empty() {
        Network::User {
            forward: !f.skip_nat_mapping,
        }
    } else {
        Network::Bridge(f.net_bridge.clone())
    }
}

/// Validates the host ports the communicator's port may be forwarded from.
pub(super) fn prepare(f: &Fields, errors: &mut ConfigErrors) -> RangeInclusive<u16> {
    range(
        errors,
        ("host_port_min", "host_port_max"),
        (f.host_port_min, f.host_port_max),
        (2222, 4444),
    )
}
