//! Decoding the alicloud-ecs keys, section by section: each section's raw
//! struct gets only its own keys, so each reports its own type errors;
//! keys no section (nor the communicator) knows are reported once, with a
//! suggestion from every section's keys. Pure; holds nothing.

use kiln_sdk::config::{struct_fields, ConfigErrors, RawConfig, SectionDecoder};
use kiln_sdk::PrepareContext;

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
    [
        struct_fields::<RawAccess>(),
        struct_fields::<RawSource>(),
        struct_fields::<RawRun>(),
        struct_fields::<RawInternet>(),
        struct_fields::<RawNetwork>(),
        struct_fields::<RawDisks>(),
        struct_fields::<RawImage>(),
        kiln_ssh::field_names(),
    ]
    .concat()
}

/// Decodes every section (interpolating with `cx`), collecting every
/// error into `errors`; `None` when any section could not be decoded.
pub(super) fn decode(
    raw: &RawConfig,
    cx: &PrepareContext,
    errors: &mut ConfigErrors,
) -> Option<Raws> {
    let all = all_keys();
    let d = SectionDecoder::new(raw, &cx.interpolation, &all, &[]);
    // The first section also gets the unknown keys, to report them once.
    let raws = Raws {
        access: d.section(true, errors),
        source: d.section(false, errors),
        run: d.section(false, errors),
        internet: d.section(false, errors),
        network: d.section(false, errors),
        disks: d.section(false, errors),
        image: d.section(false, errors),
    };
    (!d.failed()).then_some(raws)
}
