//! Decoding the amazon-ebs keys, section by section: each section's raw
//! struct gets only its own keys, so each reports its own type errors;
//! keys no section (nor the communicator) knows are reported once, with a
//! suggestion from every section's keys. Pure; holds nothing.

use kiln_sdk::config::{struct_fields, ConfigErrors, RawConfig, SectionDecoder};
use kiln_sdk::PrepareContext;

use super::access::RawAccess;
use super::block_devices::RawBlockDevices;
use super::iam::RawIam;
use super::image::RawImage;
use super::image_options::RawImageOptions;
use super::metadata::RawMetadataSection;
use super::network::RawNetwork;
use super::polling::RawPollingSection;
use super::run::RawRun;
use super::source::RawSource;
use super::spot::RawSpot;
use super::unsupported::RawUnsupported;

/// Keys whose strings are rendered at run time, when the source AMI and
/// region are known (`{{ .SourceAMIName }}`, `{{ .BuildRegion }}`).
const RUN_TIME_KEYS: &[&str] = &[
    "tags",
    "run_tags",
    "run_volume_tags",
    "snapshot_tags",
    "spot_tags",
];

/// Every section's keys as the template writes them.
pub(super) struct Raws {
    pub(super) unsupported: RawUnsupported,
    pub(super) access: RawAccess,
    pub(super) polling: RawPollingSection,
    pub(super) source: RawSource,
    pub(super) image: RawImage,
    pub(super) options: RawImageOptions,
    pub(super) block_devices: RawBlockDevices,
    pub(super) network: RawNetwork,
    pub(super) run: RawRun,
    pub(super) spot: RawSpot,
    pub(super) metadata: RawMetadataSection,
    pub(super) iam: RawIam,
}

/// Decodes every section (interpolating with `cx`), collecting every
/// error into `errors`; `None` when any section could not be decoded.
pub(super) fn decode(
    raw: &RawConfig,
    cx: &PrepareContext,
    errors: &mut ConfigErrors,
) -> Option<Raws> {
    let all: Vec<&str> = [
        struct_fields::<RawUnsupported>(),
        struct_fields::<RawAccess>(),
        struct_fields::<RawPollingSection>(),
        struct_fields::<RawSource>(),
        struct_fields::<RawImage>(),
        struct_fields::<RawImageOptions>(),
        struct_fields::<RawBlockDevices>(),
        struct_fields::<RawNetwork>(),
        struct_fields::<RawRun>(),
        struct_fields::<RawSpot>(),
        struct_fields::<RawMetadataSection>(),
        struct_fields::<RawIam>(),
        kiln_ssh::field_names(),
    ]
    .concat();
    let d = SectionDecoder::new(raw, &cx.interpolation, &all, RUN_TIME_KEYS);
    // The first section also gets the unknown keys, to report them once.
    let raws = Raws {
        unsupported: d.section(true, errors),
        access: d.section(false, errors),
        polling: d.section(false, errors),
        source: d.section(false, errors),
        image: d.section(false, errors),
        options: d.section(false, errors),
        block_devices: d.section(false, errors),
        network: d.section(false, errors),
        run: d.section(false, errors),
        spot: d.section(false, errors),
        metadata: d.section(false, errors),
        iam: d.section(false, errors),
    };
    (!d.failed()).then_some(raws)
}
