//! The regions EC2 knows, and the check of a region key against them
//! (`region`, `ami_regions`), as Packer validates them unless
//! `skip_region_validation` is set. Pure; holds nothing.

use kiln_sdk::config::{did_you_mean, ConfigError, ConfigErrors};

/// The regions EC2 knows (for `region` / `ami_regions` validation, as in
/// Packer; `skip_region_validation` turns it off).
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// Reports `region` (at `key`) when EC2 does not know it, suggesting the
/// nearest known one; nothing with `skip`.
pub(super) fn check_region(key: &str, region: &str, skip: bool, errors: &mut ConfigErrors) {
    if skip || KNOWN_REGIONS.contains(&region) {
        return;
    }
    let mut e = ConfigError::at(key, format!("unknown region `{region}`"));
    e = match did_you_mean(region, KNOWN_REGIONS.iter().copied()) {
        Some(s) => e.with_hint(format!(
            "did you mean `{s}`? (or set `skip_region_validation`)"
        )),
        None => e.with_hint("set `skip_region_validation` for regions kiln does not know yet"),
    };
    errors.push(e);
}
