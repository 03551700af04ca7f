//! `StepAMIRegionCopy` (Packer's): kiln-cloud's generic
//! [`StepCopyImage`] with amazon's targets: every region of `ami_regions`
//! (encrypted with `region_kms_key_ids` when `encrypt_boot` is set) and,
//! with `encrypt_boot`, an encrypted copy in the build region that
//! replaces the unencrypted original. The copies start at once and their
//! waits overlap; each is recorded as soon as EC2 returns its id. On
//! failure or Ctrl-C the cleanup deregisters the copies and deletes their
//! snapshots (the EC2 calls are in [`crate::cloud::image`]).

use std::sync::Arc;

use kiln_cloud::steps::image::{CopyTarget, StepCopyImage};

use crate::client;
use crate::cloud::image::Ec2Copy;
use crate::config::Config;

/// The regions to copy to, and each copy's request.
fn targets(c: &Config) -> Vec<CopyTarget<Ec2Copy>> {
    let encrypt = c.encrypt_boot == Some(true);
    let build = &c.access.region;
    let mut regions = c.ami_regions.clone();
    if encrypt {
        regions.push(build.clone());
    }
    regions
        .into_iter()
        .map(|region| {
            let kms_key_id = if !encrypt {
                None
            } else if region == *build {
                c.kms_key_id.clone()
            } else {
                c.region_kms_key_ids.get(&region).cloned()
            };
            CopyTarget {
                request: Ec2Copy {
                    name: c.ami_name.clone(),
                    description: c.ami_description.clone(),
                    kms_key_id,
                    encrypted: encrypt,
                },
                region,
            }
        })
        .collect()
}

/// The region copy step of `config`.
pub fn step(config: Arc<Config>) -> StepCopyImage<Ec2Copy> {
    StepCopyImage::new(
        "StepAMIRegionCopy",
        targets(&config),
        client::poller(config.polling),
    )
}
