//! Decoding the alicloud-ecs keys, section by section: each section's raw
//! struct gets only its own keys, so each reports its own type errors;
//! keys no section (nor the communicator) knows are reported once, with a
//! suggestion from every section's keys. Pure; holds nothing.

use kiln_cloud::config::{builder_keys, Template};
use kiln_sdk::config::struct_fields;

use super::access::RawAccess;
use super::disks::RawDisks;
use super::image::RawImage;
use super::internet::RawInternet;
use super::network::RawNetwork;
use super::run::RawRun;
use super::source::RawSource;

/// Every section's keys as the template writes them.
pub(super) struct Raws {
    pub(super) access: RawAccess,
    pub(super) source: RawSource,
    pub(super) run: RawRun,
    pub(super) internet: RawInternet,
    pub(super) network: RawNetwork,
    pub(super) disks: RawDisks,
    pub(super) image: RawImage,
}

/// Every section's keys and the communicator's.
pub(super) fn all_keys() -> Vec<&'static str> {
    builder_keys(&[
        struct_fields::<RawAccess>(),
        struct_fields::<RawSource>(),
        struct_fields::<RawRun>(),
        struct_fields::<RawInternet>(),
        struct_fields::<RawNetwork>(),
        struct_fields::<RawDisks>(),
        struct_fields::<RawImage>(),
    ])
}

/// Decodes every section of `t` (whose keys are [`all_keys`]), the
/// access section first (it also gets the unknown keys), collecting every
/// error; `t.communicator()` then says whether any section could not be
/// decoded.
pub(super) fn decode(t: &mut Template<'_>) -> Raws {
    Raws {
        access: t.section(),
        source: t.section(),
        run: t.section(),
        internet: t.section(),
        network: t.section(),
        disks: t.section(),
        image: t.section(),
    }
}
